// sort — insertion sort of 6000 pseudo-random 64-bit integers (xorshift64), then a
// check that the array is in order: ~9 M compare-and-move steps of loads, stores,
// compares and branches.
	.include "common.inc"
	N = 6000
	.text
	.global _start
_start:
	movl r20 = data
	movl r21 = N
	movl r8 = 0x9e3779b97f4a7c15
	movl r9 = N - 1 ;;
	mov r16 = r20
	mov ar.lc = r9 ;;
fill:	// x ^= x << 13; x ^= x >> 7; x ^= x << 17
	shl r10 = r8, 13 ;;
	xor r8 = r8, r10 ;;
	shr.u r10 = r8, 7 ;;
	xor r8 = r8, r10 ;;
	shl r10 = r8, 17 ;;
	xor r8 = r8, r10 ;;
	st8 [r16] = r8, 8
	br.cloop.sptk.few fill ;;
	mov r22 = 1 ;;
outer:
	shladd r23 = r22, 3, r20 ;;
	ld8 r24 = [r23]
	adds r25 = -8, r23 ;;
inner:
	cmp.ltu p6, p0 = r25, r20
(p6)	br.cond.dpnt.few insert ;;
	ld8 r26 = [r25] ;;
	cmp.gt p7, p8 = r26, r24
(p8)	br.cond.dpnt.few insert ;;
	adds r27 = 8, r25 ;;
	st8 [r27] = r26
	st8 [r25] = r24, -8 ;;
	br.cond.sptk.few inner ;;
insert:
	adds r22 = 1, r22 ;;
	cmp.lt p9, p0 = r22, r21
(p9)	br.cond.sptk.few outer ;;
	// check order
	mov r16 = r20
	movl r9 = N - 2 ;;
	mov ar.lc = r9 ;;
check:
	ld8 r24 = [r16], 8 ;;
	ld8 r26 = [r16] ;;
	cmp.gt p6, p0 = r24, r26
(p6)	br.cond.dpnt.few bad
	br.cloop.sptk.few check ;;
	EXIT 0
bad:	EXIT 1

	.bss
	.align 16
data:	.skip 8 * N
