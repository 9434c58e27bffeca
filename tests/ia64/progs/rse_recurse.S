// rse_recurse — unbounded call depth through the register stack engine. rec(n) recurses to
// depth 20,000 with a 6-register frame, keeping 3n and n ^ 0x5a in locals across the call
// and checking they survived; it returns the sum of both over all frames. big(n) recurses to
// depth 3,000 with 40-register frames (36 locals n + 1 .. n + 36), all checked after each
// return. Both far exceed the 96 physical stacked registers, so the RSE spills on the way
// down and fills on the way up. Expected sums from python3:
//   sum(3k + (k ^ 0x5a) for k in 1..20000)          = 0x2fafac40
//   sum((n + 1) + (n + 36) + n for n in 1..3000)      = 0xcfc18c
	.include "check.inc"
	.text
	.global _start
_start:
	alloc r2 = ar.pfs, 0, 4, 1, 0 ;;	// r32..r35 locals, r36 = out0
	mov r32 = 0x111
	mov r33 = 0x222
	mov r34 = 0x333
	mov r35 = 0x444
	mov r36 = 20000
	mov r3 = ar.bsp ;;			// where this frame starts in the backing store
	br.call.sptk.many b0 = rec ;;
	CHECK r8, 0x2fafac40
	mov r36 = 3000
	br.call.sptk.many b0 = big ;;
	CHECK r8, 0xcfc18c
	// the caller's locals came back from the backing store
	CHECK r32, 0x111
	CHECK r33, 0x222
	CHECK r34, 0x333
	CHECK r35, 0x444
	mov r4 = ar.bsp ;;			// and it starts there again
	cmp.eq p6, p7 = r3, r4 ;;
(p7)	break.i 50
	PASS

// rec(n): r32 = n, r33 = ar.pfs, r34 = b0, r35 = 3n, r36 = n ^ 0x5a, r37 = out0
rec:	alloc r33 = ar.pfs, 1, 4, 1, 0
	mov r34 = b0
	cmp.eq p6, p7 = r32, r0 ;;
(p6)	mov r8 = 0
(p6)	br.cond.dpnt.few rec_ret ;;
	shladd r35 = r32, 1, r32
	xor r36 = 0x5a, r32
	adds r37 = -1, r32 ;;
	br.call.sptk.many b0 = rec ;;
	shladd r37 = r32, 1, r32 ;;
	cmp.ne p6, p0 = r37, r35 ;;
(p6)	break.i 40
	xor r37 = 0x5a, r32 ;;
	cmp.ne p6, p0 = r37, r36 ;;
(p6)	break.i 41
	add r8 = r8, r35 ;;
	add r8 = r8, r36
rec_ret:
	mov ar.pfs = r33
	mov b0 = r34 ;;
	br.ret.sptk.many b0 ;;

// big(n): r32 = n, r33..r68 = n + 1 .. n + 36, r69 = ar.pfs, r70 = b0, r71 = out0
big:	alloc r69 = ar.pfs, 1, 38, 1, 0
	mov r70 = b0
	cmp.eq p6, p7 = r32, r0 ;;
(p6)	mov r8 = 0
(p6)	br.cond.dpnt.few big_ret ;;
	.irp r, 33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68
	adds r\r = \r - 32, r32
	.endr
	adds r71 = -1, r32 ;;
	br.call.sptk.many b0 = big ;;
	.irp r, 33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68
	adds r71 = \r - 32, r32 ;;
	cmp.ne p6, p0 = r71, r\r ;;
(p6)	break.i 0x200 + \r
	.endr
	add r8 = r8, r33 ;;
	add r8 = r8, r68 ;;
	add r8 = r8, r32
big_ret:
	mov ar.pfs = r69
	mov b0 = r70 ;;
	br.ret.sptk.many b0 ;;
