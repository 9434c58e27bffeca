// console.S — console output for hpvmk: kputc/kputs/kputhex/kputdec and a small kprintf
// (%s %c %d %u %x with an optional zero-padded width for %x), serialized between vCPUs by
// a spinlock so lines stay whole; plus the generic hypercall wrapper and kexit.
//
// Output goes to the console device's TX register through its uncacheable region-6 mapping
// once the kernel runs in virtual mode (k_con_tx set), and through SSC PUTCHAR before that or
// when the VM has no console device. Interruption handlers never print, so the lock cannot
// deadlock against them; the fatal-interruption path (ivt.S) takes it with a bounded spin.
	.include "kernel.inc"

	.data
	.align 8
	.global k_con_tx
k_con_tx:	data8 0		// TX register (virtual, uncacheable), 0 = use SSC PUTCHAR
	.global k_conlock
k_conlock:	data8 0

	.section .rodata
	.align 8
pow10:	data8 10000000000000000000, 1000000000000000000, 100000000000000000
	data8 10000000000000000, 1000000000000000, 100000000000000, 10000000000000
	data8 1000000000000, 100000000000, 10000000000, 1000000000, 100000000
	data8 10000000, 1000000, 100000, 10000, 1000, 100, 10, 1
hexdig:	.ascii "0123456789abcdef"

// ssc(num, a0, a1, a2, a3) -> r8: a hypercall (SSC) with its arguments moved to r32-r35.
ENTRY ssc, 5, 2, 0
	mov r15 = in0
	mov r16 = in1
	mov r17 = in2
	mov r18 = in3
	mov r19 = in4
	;;
	mov r32 = r16
	mov r33 = r17
	mov r34 = r18
	mov r35 = r19
	;;
	break.m SSC_BREAK
	;;
	RET
END ssc

// kexit(code): power the VM off with that exit status; does not return.
ENTRY kexit, 1, 2, 0
	LA r2, k_exit_code
	;;
	st8 [r2] = in0
	SSC SSC_EXIT
1:	br.sptk.few 1b
	;;
END kexit

// kputc(ch)
ENTRY kputc, 1, 2, 0
	LA r2, k_con_tx
	;;
	ld8 r2 = [r2]
	;;
	cmp.eq p6, p7 = 0, r2
	;;
(p7)	st8 [r2] = in0
(p6)	mov r15 = SSC_PUTCHAR
	;;
(p6)	break.m SSC_BREAK
	;;
	RET
END kputc

// kputs(str)
ENTRY kputs, 1, 3, 1
	mov loc2 = in0
	;;
1:	ld1 out0 = [loc2], 1
	;;
	cmp.eq p6, p0 = 0, out0
(p6)	br.cond.dpnt 2f
	CALL kputc
	br.sptk.few 1b
	;;
2:	RET
END kputs

// kputhex(value, width): lower-case hex, at least `width` digits (zero padded), at least one.
ENTRY kputhex, 2, 5, 1
	mov loc2 = 16			// loc2 = digits the value needs
	mov loc3 = in0
	;;
1:	cmp.eq p6, p0 = 1, loc2		// find the most significant non-zero nibble
	shr.u r2 = loc3, 60
(p6)	br.cond.dpnt 2f
	;;
	cmp.ne p7, p0 = 0, r2
(p7)	br.cond.dpnt 2f
	shl loc3 = loc3, 4
	adds loc2 = -1, loc2
	br.sptk.few 1b
	;;
2:	cmp.lt p6, p0 = loc2, in1	// pad to the width (16 at most)
	;;
(p6)	mov loc2 = in1
	;;
	cmp.lt p6, p0 = 16, loc2
	;;
(p6)	mov loc2 = 16
	LA loc4, hexdig
	;;
3:	adds loc2 = -1, loc2
	;;
	shladd r2 = loc2, 2, r0		// shift = 4 * digit index
	;;
	shr.u r3 = in0, r2
	;;
	and r3 = 15, r3
	;;
	add r3 = loc4, r3
	;;
	ld1 out0 = [r3]
	CALL kputc
	cmp.ne p6, p0 = 0, loc2
(p6)	br.cond.dptk 3b
	;;
	RET
END kputhex

// kputdec(value): unsigned decimal, by subtracting powers of ten (no divide on IA-64).
ENTRY kputdec, 1, 6, 1
	mov loc2 = in0			// what is left
	LA loc3, pow10
	mov loc4 = 20			// powers still to go
	mov loc5 = 0			// a digit has been printed
	;;
1:	ld8 r2 = [loc3], 8
	mov out0 = '0'
	;;
2:	cmp.geu p6, p0 = loc2, r2
	;;
(p6)	sub loc2 = loc2, r2
(p6)	adds out0 = 1, out0
(p6)	br.cond.dptk 2b
	;;
	adds loc4 = -1, loc4
	cmp.ne p7, p0 = '0', out0
	;;
(p7)	mov loc5 = 1
	cmp.eq p8, p0 = 0, loc4		// the last digit always prints
	;;
(p8)	mov loc5 = 1
	;;
	cmp.ne p9, p0 = 0, loc5
	;;
(p9)	br.call.sptk.many b0 = kputc
	;;
	cmp.ne p6, p0 = 0, loc4
(p6)	br.cond.dptk 1b
	;;
	RET
END kputdec

// con_lock(): take the console lock; con_unlock() releases it.
ENTRY con_lock, 0, 2, 0
	LA r2, k_conlock
	mov r3 = 1
	;;
1:	ld4.acq r8 = [r2]
	;;
	cmp.ne p6, p0 = 0, r8
(p6)	br.cond.dpnt 1b
	mov ar.ccv = r0
	;;
	cmpxchg4.acq r8 = [r2], r3, ar.ccv
	;;
	cmp.ne p6, p0 = 0, r8
(p6)	br.cond.dpnt 1b
	;;
	RET
END con_lock

ENTRY con_unlock, 0, 2, 0
	LA r2, k_conlock
	;;
	st4.rel [r2] = r0
	RET
END con_unlock

// con_lock_bounded(): take the lock, or give up after a while (a crash path must print even
// when the vCPU it interrupted held the lock).
ENTRY con_lock_bounded, 0, 2, 0
	LA r2, k_conlock
	mov r3 = 1
	movl r9 = 20000000
	;;
1:	adds r9 = -1, r9
	mov ar.ccv = r0
	;;
	cmp.eq p7, p0 = 0, r9
(p7)	br.cond.dpnt 2f
	cmpxchg4.acq r8 = [r2], r3, ar.ccv
	;;
	cmp.ne p6, p0 = 0, r8
(p6)	br.cond.dptk 1b
	;;
2:	RET
END con_lock_bounded

// kprintf(fmt, a1..a6): %s %c %d %u %x %%, `l` ignored, a width for %x ("%016x").
// Arguments are spilled to the memory stack so the conversions can walk them in order.
ENTRY kprintf, 7, 8, 2
	adds r12 = -64, r12
	;;
	adds r2 = 16, r12
	adds r3 = 24, r12
	;;
	st8 [r2] = in1, 16
	st8 [r3] = in2, 16
	;;
	st8 [r2] = in3, 16
	st8 [r3] = in4, 16
	;;
	st8 [r2] = in5
	st8 [r3] = in6
	adds loc3 = 16, r12		// next argument
	mov loc2 = in0			// format
	CALL con_lock
	mov out0 = loc2
	mov out1 = loc3
	CALL kvprintf_locked
	CALL con_unlock
	adds r12 = 64, r12
	RET
END kprintf

// kvprintf_locked(fmt, args): the formatting loop of kprintf, with the console lock held;
// args points at the 8-byte arguments in order.
ENTRY kvprintf_locked, 2, 6, 2
	mov loc2 = in0			// format
	mov loc3 = in1			// arguments
	;;
.Lnext:
	ld1 loc4 = [loc2], 1
	;;
	cmp.eq p6, p0 = 0, loc4
(p6)	br.cond.dpnt .Ldone
	cmp.eq p7, p0 = '%', loc4
(p7)	br.cond.dpnt .Lconv
	mov out0 = loc4
	CALL kputc
	br.sptk.few .Lnext
	;;
.Lconv:
	mov loc5 = 0			// width
	;;
.Lwidth:
	ld1 loc4 = [loc2], 1
	;;
	adds r2 = -'0', loc4
	;;
	cmp.ltu p6, p0 = 9, r2		// not a digit (unsigned compare catches below '0')
(p6)	br.cond.dptk .Lmod
	shladd r3 = loc5, 2, loc5	// width = width * 10 + digit
	;;
	shladd loc5 = r3, 1, r2
	br.sptk.few .Lwidth
	;;
.Lmod:
	cmp.eq p6, p0 = 'l', loc4
(p6)	br.cond.dpnt .Lwidth
	cmp.eq p7, p0 = '%', loc4
(p7)	br.cond.dpnt .Lpercent
	cmp.eq p8, p0 = 0, loc4
(p8)	br.cond.dpnt .Ldone
	ld8 out0 = [loc3], 8		// every other conversion consumes an argument
	;;
	cmp.eq p6, p0 = 's', loc4
	cmp.eq p7, p0 = 'c', loc4
	cmp.eq p8, p0 = 'x', loc4
	cmp.eq p9, p0 = 'u', loc4
	cmp.eq p10, p0 = 'd', loc4
	;;
(p6)	br.cond.dptk .Ls
(p7)	br.cond.dptk .Lc
(p8)	br.cond.dptk .Lx
(p9)	br.cond.dptk .Lu
(p10)	br.cond.dptk .Ld
	mov out0 = '?'
	CALL kputc
	br.sptk.few .Lnext
	;;
.Ls:	cmp.eq p6, p0 = 0, out0
	;;
(p6)	br.cond.dpnt .Lnext
	CALL kputs
	br.sptk.few .Lnext
	;;
.Lc:	CALL kputc
	br.sptk.few .Lnext
	;;
.Lx:	mov out1 = loc5
	CALL kputhex
	br.sptk.few .Lnext
	;;
.Ld:	cmp.le p6, p0 = r0, out0
(p6)	br.cond.dptk .Lu
	sub loc4 = r0, out0
	mov out0 = '-'
	CALL kputc
	mov out0 = loc4
	;;
.Lu:	CALL kputdec
	br.sptk.few .Lnext
	;;
.Lpercent:
	mov out0 = '%'
	CALL kputc
	br.sptk.few .Lnext
	;;
.Ldone:
	RET
END kvprintf_locked
