// rse_flush — the backing store image: flushrs writes the dirty registers at ar.bspstore
// upward, 8 bytes each, and when bspstore's bits 8:3 are all 1s it writes ar.rnat there (an
// RNAT collection holding the NaT bits of the 63 registers below it). ar.bsp counts those
// collection slots. A return fills the caller's frame back from that memory, NaT bits too.
// Layout worked by hand: bspstore starts at slot 58 of a 64-slot group, so the caller's 12
// locals r32..r43 go to slots 58..62 (r32..r36), the collection to slot 63, and slots 0..6
// of the next group (r37..r43): bsp = start + 13 * 8. r33 (slot 59) and r39 (slot 2 of the
// next group) are NaT: the collection holds 1 << 59, ar.rnat 1 << 2.
	.include "check.inc"

	.macro CHECKEQ a, b
	cmp.eq p6, p7 = \a, \b ;;
(p7)	break.i 0x1000 + \@
	;;
	.endm
	.macro CHECKNAT reg, bit
	tnat.nz p6, p7 = \reg ;;
	.if \bit
(p7)	break.i 0x1000 + \@
	.else
(p6)	break.i 0x1000 + \@
	.endif
	;;
	.endm

	.text
	.global _start
_start:
	flushrs ;;				// nothing dirty: bspstore = bsp
	mov r3 = ar.bsp ;;
	dep r3 = 0, r3, 0, 9 ;;			// down to a 64-slot group
	adds r3 = 0x1000 + 58 * 8, r3		// slot 58 of a group further up
	mov ar.rsc = 0 ;;			// enforced lazy: bspstore and rnat may be written
	mov ar.bspstore = r3 ;;
	mov ar.rnat = r0 ;;
	mov r4 = ar.bsp ;;
	CHECKEQ r4, r3				// no dirty registers: bsp follows bspstore
	alloc r2 = ar.pfs, 0, 12, 0, 0 ;;
	.irp r, 32,33,34,35,36,37,38,39,40,41,42,43
	mov r\r = \r + 0x100 - 32		// r32..r43 = 0x100..0x10b
	.endr
	mov r9 = -1 ;;
	mov ar.unat = r9 ;;
	st8 [r12] = r0 ;;
	ld8.fill r33 = [r12]			// NaT, value 0
	ld8.fill r39 = [r12] ;;
	br.call.sptk.many b0 = inspect ;;
	// back: the frame came from memory as inspect left it
	mov r4 = ar.bsp
	mov r5 = ar.bspstore ;;
	CHECKEQ r4, r3
	CHECKEQ r5, r3
	CHECK r32, 0x100
	CHECK r35, 0xdead			// rewritten in memory
	CHECK r36, 0x104
	CHECK r37, 0x105
	CHECK r43, 0x10b
	CHECKNAT r32, 0
	CHECKNAT r33, 1				// from the collection word
	CHECKNAT r34, 1				// set in the collection word by inspect
	CHECKNAT r35, 0
	CHECKNAT r38, 0
	CHECKNAT r39, 1				// from ar.rnat (no collection written yet)
	CHECKNAT r40, 0
	PASS

inspect:					// a frame of 0: all 12 of the caller are dirty
	flushrs ;;
	mov r4 = ar.bsp
	mov r5 = ar.bspstore
	adds r6 = 13 * 8, r3 ;;
	CHECKEQ r4, r6
	CHECKEQ r5, r6
	ld8 r7 = [r3] ;;			// slot 58: r32
	CHECK r7, 0x100
	adds r6 = 4 * 8, r3 ;;
	ld8 r7 = [r6] ;;			// slot 62: r36
	CHECK r7, 0x104
	adds r6 = 5 * 8, r3 ;;
	ld8 r7 = [r6] ;;			// slot 63: the collection
	CHECK r7, 0x0800000000000000
	adds r6 = 6 * 8, r3 ;;
	ld8 r7 = [r6] ;;			// slot 0 of the next group: r37
	CHECK r7, 0x105
	adds r6 = 12 * 8, r3 ;;
	ld8 r7 = [r6] ;;			// slot 6: r43
	CHECK r7, 0x10b
	adds r6 = 1 * 8, r3 ;;
	ld8 r7 = [r6] ;;			// r33's image: its value (0)
	CHECK r7, 0
	mov r7 = ar.rnat ;;			// bits of slots 0..6 of this group: only
	extr.u r7 = r7, 0, 7 ;;			// those are defined so far
	CHECK r7, 4				// r39, slot 2
	// rewrite the image: r35 (slot 61) and r34's NaT bit (60) in the collection
	adds r6 = 3 * 8, r3
	movl r7 = 0xdead ;;
	st8 [r6] = r7
	adds r6 = 5 * 8, r3 ;;
	ld8 r7 = [r6] ;;
	dep r7 = -1, r7, 60, 1 ;;
	st8 [r6] = r7
	br.ret.sptk.many b0 ;;
