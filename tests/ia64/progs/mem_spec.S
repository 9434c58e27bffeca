// mem_spec.S — control speculation. ia64run runs user code with PSR.ic = 0, where every
// fault of a speculative load is deferred (SDM vol. 2, 5.5.5), as Linux does for user
// programs: ld.s from an unmapped page, from an unaligned address or through a NaT address
// gives a NaT instead of a fault; the NaT propagates; chk.s.m branches to recovery code;
// ld.sa that defers makes no ALAT entry; the base update of a deferred load still happens.
// Expected values worked by hand.
	.include "check.inc"

// CHECKNAT reg, bit: fail unless the NaT bit of the GR is bit.
	.macro CHECKNAT reg, bit
	tnat.nz p8, p9 = \reg ;;
	CHECKP p8, \bit
	.endm

	.data
	.balign 16
v:	data8 0x0123456789abcdef, 0

	.text
	.global _start
	.proc _start
_start:
	movl r5 = v ;;
	// ---- mapped and aligned: a normal value, no NaT, chk.s does not branch
	ld8.s r4 = [r5] ;;
	CHECKNAT r4, 0
	CHECK r4, 0x0123456789abcdef
	chk.s.m r4, fail ;;
	// ---- unmapped: NaT, and chk.s.m goes to recovery, which redoes the work
	mov r6 = 0 ;;
	ld8.s r4 = [r6] ;;
	CHECKNAT r4, 1
	add r7 = r4, r5 ;;		// the NaT propagates
	CHECKNAT r7, 1
	chk.s.m r7, recover1 ;;
	break.i 1 ;;
recover1:
	mov r7 = 42 ;;
	CHECKNAT r7, 0
	CHECK r7, 42
	// ---- an address far from anything mapped, every size
	movl r6 = 0x7000000000000000 ;;
	ld1.s r8 = [r6]
	ld2.s r9 = [r6]
	ld4.s r10 = [r6]
	ld8.s r11 = [r6] ;;
	CHECKNAT r8, 1
	CHECKNAT r9, 1
	CHECKNAT r10, 1
	CHECKNAT r11, 1
	// ---- unaligned: deferred too
	adds r6 = 1, r5 ;;
	ld8.s r4 = [r6] ;;
	CHECKNAT r4, 1
	ld1.s r4 = [r6] ;;		// a byte is never unaligned
	CHECKNAT r4, 0
	CHECK r4, 0xcd
	// ---- a NaT address: ld.s defers without looking at memory
	ld8.s r12 = [r0] ;;		// r12: NaT
	add r13 = r12, r5 ;;		// r13: v, but NaT
	ld8.s r4 = [r13] ;;
	CHECKNAT r4, 1
	// ---- base update of a deferred load: done, with the base's NaT kept
	mov r6 = 0 ;;
	ld8.s r4 = [r6], 16 ;;
	CHECKNAT r4, 1
	CHECKNAT r6, 0
	CHECK r6, 16
	ld8.s r4 = [r13], 8 ;;		// NaT base stays NaT
	CHECKNAT r13, 1
	mov r6 = 0
	mov r7 = 8 ;;
	ld8.s r4 = [r6], r7 ;;
	CHECK r6, 8
	CHECKNAT r6, 0
	// ---- ld.sa that defers: NaT and no ALAT entry, so chk.a fails too
	invala ;;
	mov r6 = 0 ;;
	ld8.sa r4 = [r6] ;;
	CHECKNAT r4, 1
	chk.a.nc r4, recover2 ;;
	break.i 2 ;;
recover2:
	ld8.sa r4 = [r5] ;;		// mapped: entry, no NaT
	CHECKNAT r4, 0
	chk.a.nc r4, fail ;;
	// ---- a NaT consumed by a non-speculative use is caught by the check before it
	ld8.s r4 = [r0] ;;
	chk.s.m r4, recover3 ;;
	ld8 r9 = [r4] ;;		// would fault with NaT Consumption
	break.i 3 ;;
recover3:
	PASS
fail:
	break.i 4 ;;
	.endp _start
