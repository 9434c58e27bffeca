// br_frames — register frames across calls: outputs become the callee's inputs (the same
// registers: a callee writing its input changes the caller's output); locals survive calls
// of every size, among them a 90-register frame that forces the RSE to spill the caller's
// locals and fill them back; nested calls of three sizes; a caller's rotation (rrb.gr,
// rrb.pr) comes back with its frame, and a callee's p16 is the caller's p19 when the caller
// has rotated three times (logical p(16 + i) is physical p(16 + (i + rrb.pr) mod 48)).
// Expected values worked by hand.
	.include "check.inc"
	.text
	.global _start
_start:
	alloc r2 = ar.pfs, 0, 8, 3, 8 ;;	// locals r32..r39 (rotating), outputs r40..r42
	.irp r, 32,33,34,35,36,37,38,39
	mov r\r = \r + 68			// r32..r39 = 100..107
	.endr
	mov r40 = 7
	mov r41 = 9
	mov r42 = 0x10
	br.call.sptk.many b0 = add3 ;;
	CHECK r8, 0x20
	CHECK r40, 0			// add3 cleared its in0
	CHECK r41, 9
	.irp r, 32,33,34,35,36,37,38,39
	CHECK r\r, \r + 68
	.endr

// a 90-register callee: the file (96) cannot hold it with our 8 locals dirty
	br.call.sptk.many b0 = wide ;;
	CHECK r8, 153
	.irp r, 32,33,34,35,36,37,38,39
	CHECK r\r, \r + 68
	.endr

// nested calls a(5) -> b(17) -> c(33)
	mov r40 = 1
	br.call.sptk.many b0 = fa ;;
	CHECK r8, 0x1234
	.irp r, 32,33,34,35,36,37,38,39
	CHECK r\r, \r + 68
	.endr

// rotation across a call: 3 ctop rotations (LC = 2, EC = 1) put rrb.gr at -3 and shift
// 1, 1, 0 into p16: p16 = 0, p17 = 1, p18 = 1, p19 = the old p16 = 0.
	mov pr.rot = 0
	mov ar.lc = 2
	mov ar.ec = 1 ;;
rot:	nop.m 0
	nop.i 0
	br.ctop.sptk.few rot ;;
	CHECK r32, 105			// r32 names rotating index -3 mod 8 = 5
	CHECK r35, 100
	CHECKP p16, 0
	CHECKP p17, 1
	CHECKP p18, 1
	CHECKP p19, 0
	br.call.sptk.many b0 = pset ;;
	CHECK r32, 105
	CHECK r35, 100
	CHECKP p16, 0
	CHECKP p17, 1
	CHECKP p18, 1
	CHECKP p19, 1			// the callee's p16
	clrrrb ;;
	CHECK r32, 100
	PASS

// add3(a, b, c) = a + b + c; clears its in0 (the caller's out0)
add3:	alloc r35 = ar.pfs, 3, 2, 0, 0 ;;
	add r8 = r32, r33 ;;
	add r8 = r8, r34
	mov r32 = 0
	mov r36 = b0 ;;
	mov b0 = r36
	mov ar.pfs = r35 ;;
	br.ret.sptk.many b0 ;;

// wide(): a 90-register frame written all over; returns r32 + r121 = 153
wide:	alloc r2 = ar.pfs, 0, 90, 0, 0 ;;
	.irp r, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99,100,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116,117,118,119,120,121
	mov r\r = \r
	.endr
	;;
	add r8 = r32, r121
	mov ar.pfs = r2 ;;
	br.ret.sptk.many b0 ;;

// fa: 5 registers (in0, pfs, b0, a local, out0); calls fb(in0 + 1)
fa:	alloc r33 = ar.pfs, 1, 3, 1, 0
	mov r34 = b0
	mov r35 = 0x55
	adds r36 = 1, r32 ;;
	br.call.sptk.many b0 = fb ;;
	CHECK r35, 0x55
	CHECK r32, 1
	mov ar.pfs = r33
	mov b0 = r34 ;;
	br.ret.sptk.many b0 ;;
// fb: 17 registers; calls fc(in0 + 1)
fb:	alloc r33 = ar.pfs, 1, 15, 1, 0
	mov r34 = b0
	mov r47 = 0x4747
	adds r48 = 1, r32 ;;
	br.call.sptk.many b0 = fc ;;
	CHECK r47, 0x4747
	CHECK r32, 2
	mov ar.pfs = r33
	mov b0 = r34 ;;
	br.ret.sptk.many b0 ;;
// fc: 33 registers, all locals; returns 0x1234 if its in0 is 3
fc:	alloc r33 = ar.pfs, 1, 32, 0, 0
	mov r64 = 0x6464 ;;
	CHECK r32, 3
	movl r8 = 0x1234
	mov ar.pfs = r33 ;;
	br.ret.sptk.many b0 ;;

// pset: sets its p16
pset:	alloc r32 = ar.pfs, 0, 1, 0, 0 ;;
	cmp.eq p16, p0 = r0, r0
	br.ret.sptk.many b0 ;;
