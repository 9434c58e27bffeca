// mem_atomic.S — the semaphores: cmpxchg of every size succeeding and failing (the compare
// is against all 64 bits of ar.ccv, the memory value zero-extended), xchg of every size,
// fetchadd4/8 with each allowed increment (and 32-bit wrap-around), and cmp8xchg16 on both
// halves of a 16-byte pair. Expected values worked by hand.
	.include "check.inc"

	.data
	.balign 16
sem:	data8 0, 0
pair:	data8 0, 0

	.text
	.global _start
	.proc _start
_start:
	movl r5 = sem ;;
	// ---- cmpxchg8: success returns the old value and stores r2
	movl r6 = 0x1111222233334444 ;;
	st8 [r5] = r6
	mov.m ar.ccv = r6 ;;
	movl r7 = 0x5555666677778888 ;;
	cmpxchg8.acq r8 = [r5], r7, ar.ccv ;;
	CHECK r8, 0x1111222233334444
	ld8 r9 = [r5] ;;
	CHECK r9, 0x5555666677778888
	// failure: memory no longer equals ar.ccv; it returns memory and stores nothing
	cmpxchg8.rel r8 = [r5], r0, ar.ccv ;;
	CHECK r8, 0x5555666677778888
	ld8 r9 = [r5] ;;
	CHECK r9, 0x5555666677778888
	// ---- cmpxchg1/2/4 compare the zero-extended memory value with all of ar.ccv
	mov r6 = 0x88 ;;
	mov.m ar.ccv = r6 ;;
	mov r7 = 0x42 ;;
	cmpxchg1.acq.nt1 r8 = [r5], r7, ar.ccv ;;	// byte 0 is 0x88: success
	CHECK r8, 0x88
	ld8 r9 = [r5] ;;
	CHECK r9, 0x5555666677778842
	movl r6 = 0x142 ;;				// low byte matches, bit 8 does not
	mov.m ar.ccv = r6 ;;
	cmpxchg1.rel r8 = [r5], r0, ar.ccv ;;
	CHECK r8, 0x42
	ld8 r9 = [r5] ;;
	CHECK r9, 0x5555666677778842
	movl r6 = 0x7777 ;;
	mov.m ar.ccv = r6 ;;
	adds r10 = 2, r5 ;;
	mov r7 = -1 ;;
	cmpxchg2.acq.nta r8 = [r10], r7, ar.ccv ;;
	CHECK r8, 0x7777
	ld8 r9 = [r5] ;;
	CHECK r9, 0x55556666ffff8842
	movl r6 = 0x55556666 ;;
	mov.m ar.ccv = r6 ;;
	adds r10 = 4, r5 ;;
	cmpxchg4.rel r8 = [r10], r0, ar.ccv ;;
	CHECK r8, 0x55556666
	ld8 r9 = [r5] ;;
	CHECK r9, 0x00000000ffff8842
	movl r6 = 0xffffffffffff8842 ;;			// sign-extended is not zero-extended
	mov.m ar.ccv = r6 ;;
	cmpxchg4.acq r8 = [r5], r0, ar.ccv ;;
	CHECK r8, 0xffff8842
	ld8 r9 = [r5] ;;
	CHECK r9, 0x00000000ffff8842
	// ---- xchg: returns the old value, stores all of the size
	movl r6 = 0x0102030405060708 ;;
	xchg1 r8 = [r5], r6 ;;
	CHECK r8, 0x42
	xchg2.nt1 r8 = [r5], r6 ;;
	CHECK r8, 0x8808
	xchg4.nta r8 = [r5], r6 ;;
	CHECK r8, 0xffff0708
	xchg8 r8 = [r5], r0 ;;
	CHECK r8, 0x0000000005060708
	ld8 r9 = [r5] ;;
	CHECK r9, 0
	// ---- fetchadd: every increment, returning the value before
	fetchadd8.acq r8 = [r5], 16 ;;
	CHECK r8, 0
	fetchadd8.rel r8 = [r5], 8 ;;
	CHECK r8, 16
	fetchadd8.acq r8 = [r5], 4 ;;
	CHECK r8, 24
	fetchadd8.acq r8 = [r5], 1 ;;
	CHECK r8, 28
	fetchadd8.rel r8 = [r5], -1 ;;
	CHECK r8, 29
	fetchadd8.acq r8 = [r5], -4 ;;
	CHECK r8, 28
	fetchadd8.acq r8 = [r5], -8 ;;
	CHECK r8, 24
	fetchadd8.acq r8 = [r5], -16 ;;
	CHECK r8, 16
	fetchadd8.acq r8 = [r5], -16 ;;
	CHECK r8, 0
	ld8 r9 = [r5] ;;
	CHECK r9, 0xfffffffffffffff0
	// fetchadd4 works on 32 bits: wraps, leaves the upper word alone, zero-extends
	movl r6 = 0x12345678ffffffff ;;
	st8 [r5] = r6 ;;
	fetchadd4.acq r8 = [r5], 1 ;;
	CHECK r8, 0xffffffff
	ld8 r9 = [r5] ;;
	CHECK r9, 0x1234567800000000
	fetchadd4.rel r8 = [r5], -4 ;;
	CHECK r8, 0
	ld8 r9 = [r5] ;;
	CHECK r9, 0x12345678fffffffc
	adds r10 = 4, r5 ;;
	fetchadd4.acq.nta r8 = [r10], 8 ;;
	CHECK r8, 0x12345678
	ld8 r9 = [r5] ;;
	CHECK r9, 0x12345680fffffffc
	// ---- cmp8xchg16: compares 8 bytes at r3, stores r2 and ar.csd at r3 & ~8
	movl r5 = pair ;;
	movl r6 = 0xaaaa ;;
	st8 [r5] = r6
	mov.m ar.ccv = r6 ;;
	movl r7 = 0x1234 ;;
	movl r11 = 0x5678 ;;
	mov.m ar.csd = r11 ;;
	cmp8xchg16.acq r8 = [r5], r7, ar.csd, ar.ccv ;;	// low half equal: success
	CHECK r8, 0xaaaa
	ld8 r9 = [r5], 8 ;;
	CHECK r9, 0x1234
	ld8 r9 = [r5], -8 ;;
	CHECK r9, 0x5678
	adds r10 = 8, r5 ;;				// compare the high half this time
	movl r6 = 0x5678 ;;
	mov.m ar.ccv = r6 ;;
	mov.m ar.csd = r0 ;;
	cmp8xchg16.rel r8 = [r10], r0, ar.csd, ar.ccv ;;
	CHECK r8, 0x5678
	ld8 r9 = [r5], 8 ;;
	CHECK r9, 0
	ld8 r9 = [r5], -8 ;;
	CHECK r9, 0
	cmp8xchg16.acq r8 = [r10], r7, ar.csd, ar.ccv ;;	// high half is 0 now: failure
	CHECK r8, 0
	ld8 r9 = [r5] ;;
	CHECK r9, 0
	PASS
	.endp _start
