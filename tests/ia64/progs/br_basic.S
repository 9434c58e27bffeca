// br_basic — every branch type with its qualifying predicate true and false: IP-relative
// and indirect br.cond, the "br" pseudo-op, br.call/br.ret (IP-relative and through a b
// register), brl.cond/brl.call, brp and the B8 forms that do not branch (clrrrb, cover).
// A branch that must not be taken lands on a FAIL; one that must be taken skips it.
// Expected values are worked by hand from the SDM's br semantics.
	.include "check.inc"
	.text
	.global _start
_start:
	cmp.eq p8, p9 = r0, r0		// p8 = 1, p9 = 0
	mov r20 = 0 ;;

// ---- IP-relative br.cond
(p9)	br.cond.sptk.few bad1 ;;	// false: falls through
(p8)	br.cond.dptk.many ok1 ;;	// true: taken
bad1:	FAIL 1
ok1:	br.sptk.few ok2 ;;		// unconditional pseudo-op
	FAIL 2
ok2:	br ok3 ;;
	FAIL 3
ok3:	(p9) br.cond.spnt.many.clr bad4
	(p8) br.cond.dpnt.few.clr ok4 ;;
bad4:	FAIL 4
ok4:
// ---- backward branch: a loop of 3 by br.cond
	mov r21 = 3 ;;
back:	adds r20 = 1, r20
	adds r21 = -1, r21 ;;
	cmp.ne p10, p0 = r21, r0 ;;
(p10)	br.cond.sptk.few back ;;
	CHECK r20, 3

// ---- indirect br.cond via b registers
	movl r16 = ind_ok1 ;;
	mov b6 = r16
	movl r17 = ind_bad ;;
	mov b7 = r17 ;;
(p9)	br.cond.sptk.few b7 ;;
(p8)	br.cond.sptk.few b6 ;;
ind_bad: FAIL 5
ind_ok1:
	movl r16 = ind_ok2 + 7 ;;	// the low 4 bits of an indirect target are ignored
	mov b3 = r16 ;;
	br.many b3 ;;
	FAIL 6
ind_ok2:

// ---- br.call / br.ret, IP-relative
	mov r8 = 0
	mov b0 = r0 ;;
(p9)	br.call.sptk.many b0 = leaf ;;	// false: no call, b0 untouched
	CHECK r8, 0
	mov r9 = b0 ;;
	CHECK r9, 0
(p8)	br.call.sptk.many b0 = leaf ;;	// true
after_call1:
	CHECK r8, 0x1234
	movl r10 = after_call1 ;;	// b0 = the bundle after the call
	mov r9 = b0 ;;
	cmp.eq p6, p7 = r9, r10 ;;
(p7)	break.i 7
// ---- br.call through a b register, the return through another
	mov r8 = 0
	movl r16 = leaf_b5 ;;
	mov b4 = r16 ;;
(p9)	br.call.dptk.few b5 = b4 ;;	// false: no call
	CHECK r8, 0
(p8)	br.call.dptk.few b5 = b4 ;;
	CHECK r8, 0x5555
// ---- br.ret with a false predicate does not return
	br.call.sptk.many b0 = ret_pred ;;
	CHECK r8, 2

// ---- brl.cond / brl.call
(p9)	brl.cond.sptk.few bad8 ;;
(p8)	brl.cond.sptk.many ok8 ;;
bad8:	FAIL 8
ok8:	brl.sptk.few ok9 ;;
	FAIL 9
ok9:	mov r8 = 0 ;;
(p9)	brl.call.sptk.many b0 = leaf ;;
	CHECK r8, 0
(p8)	brl.call.sptk.many b0 = leaf ;;
	CHECK r8, 0x1234

// ---- hints and B8 forms that do not branch
	brp.sptk ok10, tag10
	brp.loop.imp ok10, tag10
	brp.dptk b6, tag10
	brp.ret.sptk.imp b0, tag10 ;;
ok10:	clrrrb ;;
tag10:	clrrrb.pr ;;
	mov r8 = 0
	mov r22 = 7 ;;
	br.call.sptk.many b0 = covers ;;
	CHECK r8, 7
	CHECK r22, 7
	PASS

// leaf: r8 = 0x1234, return through b0 (no frame of its own)
leaf:	mov r8 = 0x1234
	br.ret.sptk.many b0 ;;
	FAIL 20
// leaf_b5: returns through b5
leaf_b5: mov r8 = 0x5555
	br.ret.sptk.many b5 ;;
	FAIL 21
// ret_pred: a br.ret with a false predicate falls through
ret_pred:
	mov r8 = 1
	cmp.eq p11, p12 = r0, r0 ;;
(p12)	br.ret.sptk.many b0 ;;
	mov r8 = 2
(p11)	br.ret.sptk.many b0 ;;
	FAIL 22
// covers: cover gives an empty frame: alloc after it still works
covers:	alloc r32 = ar.pfs, 0, 2, 0, 0 ;;
	mov r33 = r22 ;;
	cover ;;
	alloc r34 = ar.pfs, 0, 3, 0, 0 ;;
	mov r8 = r22
	br.ret.sptk.many b0 ;;
