// mem_ldst.S — integer loads and stores: every size (zero extension), every ldtype on the
// path that returns the value, the hints, both base-update forms with the sign of imm9, the
// NaT of a register increment, st.rel/ld.acq, ld16/st16 through ar.csd, and the spill/fill
// round trip of a NaT through ar.unat. Expected values worked by hand: the pattern at buf
// is little-endian, so byte k of 0x8899aabbccddeeff is (0xff - 0x11 * k).
	.include "check.inc"

// CHECKNAT reg, bit: fail unless the NaT bit of the GR is bit.
	.macro CHECKNAT reg, bit
	tnat.nz p8, p9 = \reg ;;
	CHECKP p8, \bit
	.endm

	.data
	.align 16
buf:	data8 0x8899aabbccddeeff, 0x0123456789abcdef
	.skip 240
mid:	.skip 256			// base-update tests walk around mid
	.balign 512
out:	.skip 64			// 512-aligned: out + 8k is bit k of ar.unat

	.text
	.global _start
	.proc _start
_start:
	movl r5 = buf ;;
	// ---- zero extension, each size, plain and with hints
	ld1 r8 = [r5] ;;
	CHECK r8, 0xff
	ld2.nt1 r8 = [r5] ;;
	CHECK r8, 0xeeff
	ld4.nta r8 = [r5] ;;
	CHECK r8, 0xccddeeff
	ld8 r8 = [r5] ;;
	CHECK r8, 0x8899aabbccddeeff
	adds r6 = 7, r5 ;;
	ld1 r8 = [r6] ;;
	CHECK r8, 0x88
	adds r6 = 6, r5 ;;
	ld2 r8 = [r6] ;;
	CHECK r8, 0x8899
	adds r6 = 4, r5 ;;
	ld4 r8 = [r6] ;;
	CHECK r8, 0x8899aabb
	adds r6 = 8, r5 ;;
	ld8.d2 r8 = [r6] ;;
	CHECK r8, 0x0123456789abcdef
	ld8.d7 r8 = [r6] ;;
	CHECK r8, 0x0123456789abcdef
	// ---- every ldtype on its value path (no advanced load outstanding, mapped memory)
	ld1.s r8 = [r5] ;;
	CHECK r8, 0xff
	CHECKNAT r8, 0
	ld2.a r8 = [r5] ;;
	CHECK r8, 0xeeff
	ld4.sa r8 = [r5] ;;
	CHECK r8, 0xccddeeff
	CHECKNAT r8, 0
	ld8.bias r8 = [r5] ;;
	CHECK r8, 0x8899aabbccddeeff
	ld1.acq r8 = [r5] ;;
	CHECK r8, 0xff
	invala ;;			// drop the entry ld4.sa made for r8
	ld2.c.clr r8 = [r5] ;;		// no ALAT entry for r8: the check reloads
	CHECK r8, 0xeeff
	ld4.c.nc r8 = [r5] ;;
	CHECK r8, 0xccddeeff
	invala ;;			// the reloading ld.c.nc made an entry: drop it
	ld8.c.clr.acq r8 = [r5] ;;
	CHECK r8, 0x8899aabbccddeeff
	invala ;;
	// ---- base update by immediate: the load uses the old base
	movl r20 = mid ;;
	mov r6 = r20 ;;
	st8 [r6] = r5 ;;		// mid holds the address of buf
	ld8 r8 = [r6], 8 ;;
	cmp.eq p6, p7 = r8, r5 ;;
(p7)	break.i 1 ;;
	sub r9 = r6, r20 ;;
	CHECK r9, 8
	ld8 r8 = [r6], -8 ;;		// back to mid
	sub r9 = r6, r20 ;;
	CHECK r9, 0
	ld1 r8 = [r6], 255 ;;		// imm9 edges
	sub r9 = r6, r20 ;;
	CHECK r9, 255
	ld1 r8 = [r6], -256 ;;
	sub r9 = r20, r6 ;;
	CHECK r9, 1
	ld1.s r8 = [r6], 1 ;;		// every type has the imm form
	ld4.a r8 = [r20], 0 ;;
	sub r9 = r6, r20 ;;
	CHECK r9, 0
	invala ;;
	// ---- base update by register, including a negative one and a NaT increment
	mov r6 = r20
	mov r7 = -24 ;;
	ld8 r8 = [r6], r7 ;;
	cmp.eq p6, p7 = r8, r5 ;;
(p7)	break.i 2 ;;
	sub r9 = r20, r6 ;;
	CHECK r9, 24
	mov r7 = 24 ;;
	ld2.bias r8 = [r6], r7 ;;
	sub r9 = r6, r20 ;;
	CHECK r9, 0
	ld8.s r7 = [r0] ;;		// address 0 is not mapped: r7 becomes NaT
	CHECKNAT r7, 1
	ld8 r8 = [r6], r7 ;;		// the load happens, the base becomes NaT
	cmp.eq p6, p7 = r8, r5 ;;
(p7)	break.i 3 ;;
	CHECKNAT r6, 1
	CHECKNAT r8, 0
	// ---- stores of each size, then read back
	movl r21 = out ;;
	movl r7 = 0x1122334455667788 ;;
	st8 [r21] = r0 ;;
	st1 [r21] = r7 ;;
	ld8 r8 = [r21] ;;
	CHECK r8, 0x88
	st2.d1 [r21] = r7 ;;
	ld8 r8 = [r21] ;;
	CHECK r8, 0x7788
	st4.nta [r21] = r7 ;;
	ld8 r8 = [r21] ;;
	CHECK r8, 0x55667788
	st8.d5 [r21] = r7 ;;
	ld8 r8 = [r21] ;;
	CHECK r8, 0x1122334455667788
	adds r6 = 3, r21 ;;
	st1.rel [r6] = r0 ;;
	ld8.acq r8 = [r21] ;;
	CHECK r8, 0x1122334400667788
	adds r6 = 6, r21 ;;
	st2.rel [r6] = r0 ;;
	ld8 r8 = [r21] ;;
	CHECK r8, 0x0000334400667788
	st4.rel [r21] = r0 ;;
	ld8 r8 = [r21] ;;
	CHECK r8, 0x0000334400000000
	st8.rel [r21] = r7 ;;
	ld8 r8 = [r21] ;;
	CHECK r8, 0x1122334455667788
	// ---- store with base update by immediate (the value stored is r2's, the address the old base)
	mov r6 = r21 ;;
	st8 [r6] = r6, 8 ;;
	ld8 r8 = [r21] ;;
	cmp.eq p6, p7 = r8, r21 ;;
(p7)	break.i 4 ;;
	sub r9 = r6, r21 ;;
	CHECK r9, 8
	st4 [r6] = r7, -8 ;;
	sub r9 = r6, r21 ;;
	CHECK r9, 0
	adds r10 = 8, r21 ;;
	ld4 r8 = [r10] ;;
	CHECK r8, 0x55667788
	st2.rel [r6] = r7, -2 ;;	// .rel has the imm form too
	sub r9 = r21, r6 ;;
	CHECK r9, 2
	ld2 r8 = [r21] ;;
	CHECK r8, 0x7788
	mov r6 = r20 ;;			// imm9 edges, walking around mid
	st1 [r6] = r7, 255 ;;
	sub r9 = r6, r20 ;;
	CHECK r9, 255
	st1 [r6] = r7, -256 ;;
	sub r9 = r20, r6 ;;
	CHECK r9, 1
	ld1 r8 = [r20] ;;		// (the first st1 wrote mid, then mid + 255)
	CHECK r8, 0x88
	// ---- ld16/st16: the high half goes through ar.csd
	movl r7 = 0xaaaabbbbccccdddd ;;
	mov.m ar.csd = r7
	movl r8 = 0x1111222233334444 ;;
	st16 [r21] = r8, ar.csd ;;
	ld8 r9 = [r21], 8 ;;
	CHECK r9, 0x1111222233334444
	ld8 r9 = [r21], -8 ;;
	CHECK r9, 0xaaaabbbbccccdddd
	mov.m ar.csd = r0 ;;
	ld16 r10, ar.csd = [r21] ;;
	CHECK r10, 0x1111222233334444
	mov.m r11 = ar.csd ;;
	CHECK r11, 0xaaaabbbbccccdddd
	st16.rel [r21] = r0, ar.csd ;;
	ld16.acq r10, ar.csd = [r21] ;;
	CHECK r10, 0
	// ---- spill/fill: the NaT travels through ar.unat at bit address{8:3}
	mov.m ar.unat = r0 ;;
	ld8.s r4 = [r0] ;;		// r4: NaT
	adds r6 = 16, r21 ;;		// bit 2 of ar.unat
	st8.spill [r6] = r4 ;;
	mov.m r9 = ar.unat ;;
	CHECK r9, 4
	movl r3 = 0x123456789 ;;
	adds r10 = 24, r21 ;;		// bit 3
	st8.spill [r10] = r3, 8 ;;	// a clean register clears its bit (and the base moves)
	mov.m r9 = ar.unat ;;
	CHECK r9, 4
	ld8.fill r12 = [r6] ;;
	CHECKNAT r12, 1
	adds r10 = 24, r21 ;;
	ld8.fill r13 = [r10], 8 ;;
	CHECKNAT r13, 0
	CHECK r13, 0x123456789
	mov r9 = -1 ;;
	mov.m ar.unat = r9 ;;		// every bit set: a fill of a clean spill now comes back NaT
	adds r10 = 24, r21 ;;
	ld8.fill r13 = [r10] ;;
	CHECKNAT r13, 1
	mov.m ar.unat = r0 ;;
	adds r6 = 16, r21 ;;
	ld8.fill r12 = [r6] ;;
	CHECKNAT r12, 0
	PASS
	.endp _start
