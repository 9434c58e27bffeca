// ldst_loop — streams over 3 MiB: c[i] = a[i] + b[i] with post-incremented ld8/st8,
// 128 passes over 128 Ki words. Checked at the end: c[i] = a[i] + b[i] with a[i] = i and
// b[i] = 2*i (set up by the first loop).
	.include "common.inc"
	N = 131072
	PASSES = 128
	.text
	.global _start
_start:
	movl r20 = arr_a
	movl r21 = arr_b
	movl r22 = arr_c
	movl r9 = N - 1 ;;
	mov ar.lc = r9
	mov r8 = 0
	mov r16 = r20
	mov r17 = r21 ;;
init:
	{ .mmi
	st8 [r16] = r8, 8
	nop.m 0
	add r18 = r8, r8 ;;
	}
	{ .mib
	st8 [r17] = r18, 8
	adds r8 = 1, r8
	br.cloop.sptk.few init ;;
	}
	mov r30 = PASSES ;;
pass:
	mov r16 = r20
	mov r17 = r21
	mov r18 = r22
	mov ar.lc = r9 ;;
inner:
	{ .mmi
	ld8 r24 = [r16], 8
	ld8 r25 = [r17], 8
	nop.i 0 ;;
	}
	{ .mii
	nop.m 0
	add r26 = r24, r25
	nop.i 0 ;;
	}
	{ .mib
	st8 [r18] = r26, 8
	nop.i 0
	br.cloop.sptk.few inner ;;
	}
	adds r30 = -1, r30 ;;
	cmp.lt p6, p0 = r0, r30
(p6)	br.cond.sptk.few pass ;;
	// check: c[i] == 3*i
	mov r18 = r22
	mov r8 = 0
	mov ar.lc = r9 ;;
check:
	ld8 r26 = [r18], 8
	shladd r27 = r8, 1, r8 ;;
	cmp.eq p6, p7 = r26, r27
	adds r8 = 1, r8 ;;
(p7)	br.cond.dpnt.few bad
	br.cloop.sptk.few check ;;
	EXIT 0
bad:	EXIT 1

	.bss
	.align 16
arr_a:	.skip 8 * N
arr_b:	.skip 8 * N
arr_c:	.skip 8 * N
