// daxpy — an FP kernel: y[i] = a*x[i] + y[i] over 1024 doubles (ldfd, fma.d, stfd),
// 2000 passes with a = 0.5 and x = 1.0, so every y[i] ends at exactly 1000.0.
	.include "common.inc"
	N = 1024
	PASSES = 2000
	.text
	.global _start
_start:
	movl r20 = vec_x
	movl r21 = vec_y
	movl r22 = half
	movl r9 = N - 1 ;;
	ldfd f5 = [r22]
	mov r16 = r20
	mov ar.lc = r9 ;;
init:
	stfd [r16] = f1, 8
	br.cloop.sptk.few init ;;
	mov r30 = PASSES ;;
pass:
	mov r16 = r20
	mov r17 = r21
	mov ar.lc = r9 ;;
inner:
	{ .mmf
	ldfd f6 = [r16], 8
	ldfd f7 = [r17]
	nop.f 0 ;;
	}
	{ .mfi
	nop.m 0
	fma.d f8 = f5, f6, f7
	nop.i 0 ;;
	}
	{ .mib
	stfd [r17] = f8, 8
	nop.i 0
	br.cloop.sptk.few inner ;;
	}
	adds r30 = -1, r30 ;;
	cmp.lt p6, p0 = r0, r30
(p6)	br.cond.sptk.few pass ;;
	mov r17 = r21
	movl r27 = 0x408f400000000000	// 1000.0
	mov ar.lc = r9 ;;
check:
	ldfd f8 = [r17], 8 ;;
	getf.d r26 = f8 ;;
	cmp.eq p6, p7 = r26, r27 ;;
(p7)	br.cond.dpnt.few bad
	br.cloop.sptk.few check ;;
	EXIT 0
bad:	EXIT 1

	.data
	.align 8
half:	.double 0.5
	.bss
	.align 16
vec_x:	.skip 8 * N
vec_y:	.skip 8 * N
