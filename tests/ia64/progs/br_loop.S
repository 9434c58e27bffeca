// br_loop — the loop branches: br.cloop counting with ar.lc; a software-pipelined br.ctop
// loop with rotating registers and stage predicates (and br.cexit); br.wtop/br.wexit with
// ar.ec counting the epilog. Expected values worked by hand from the SDM's br pseudo-code:
// ctop/cexit: LC != 0: LC--, PR[63] = 1, rotate; else EC != 0: EC--, PR[63] = 0, rotate;
// wtop/wexit: PR[qp]: PR[63] = 0, rotate; else EC != 0: EC--, PR[63] = 0, rotate;
// a rotation moves every rrb down by one, so r32 -> r33, p63 -> p16, p16 -> p17.
	.include "check.inc"
	.text
	.global _start
_start:
	alloc r2 = ar.pfs, 0, 16, 0, 8 ;;	// r32..r47, r32..r39 rotate

// ---- br.cloop: LC = 9 runs the body 10 times and leaves LC = 0
	mov r20 = 0
	mov ar.lc = 9 ;;
cl:	adds r20 = 1, r20
	nop.i 0
	br.cloop.sptk.few cl ;;
	CHECK r20, 10
	mov r21 = ar.lc ;;
	CHECK r21, 0
// LC = 0: the body once, not taken
	mov r20 = 0 ;;
cl2:	adds r20 = 1, r20
	nop.i 0
	br.cloop.sptk.few cl2 ;;
	CHECK r20, 1

// ---- br.ctop: 5 iterations (LC = 4) of a 3-stage pipeline (EC = 3)
//   stage 1 (p16): r32 = ++i          stage 2 (p17): r34 = 3 * r33
//   stage 3 (p18): sum += r35
// The body runs 7 times; sum = 3 * (1 + 2 + 3 + 4 + 5) = 45.
	mov ar.lc = 4
	mov ar.ec = 3
	mov pr.rot = 0x110000		// p16 = 1, p20 = 1 (a marker), p17..p63 otherwise 0
	mov r40 = 0			// i (not rotating)
	mov r41 = 0			// sum
	mov r42 = 0 ;;			// trips
ct:
(p16)	adds r40 = 1, r40 ;;
(p16)	mov r32 = r40
(p17)	shladd r34 = r33, 1, r33
(p18)	add r41 = r41, r35
	adds r42 = 1, r42
	nop.i 0
	br.ctop.sptk.few ct ;;
	CHECK r41, 45
	CHECK r42, 7
	mov r21 = ar.lc ;;
	CHECK r21, 0
	mov r21 = ar.ec ;;
	CHECK r21, 0
// Rotation j (1..7) shifted 1, 1, 1, 1, 0, 0, 0 into p16 (LC was 4, 3, 2, 1, then 0):
// p16..p22 hold those of rotations 7..1, p23 the first p16, p27 the p20 marker.
	CHECKP p16, 0
	CHECKP p17, 0
	CHECKP p18, 0
	CHECKP p19, 1
	CHECKP p22, 1
	CHECKP p23, 1
	CHECKP p24, 0
	CHECKP p26, 0
	CHECKP p27, 1
	CHECKP p28, 0
// Clearing the rrbs brings back the physical order: trip t ran with rrb.gr = 1 - t, so
// stage 1 of trip 1 wrote r32 (rotating index 0) = 1, and stage 2 of trip 3 wrote r34 at
// index 2 - 2 = 0 too: 3 * (i of trip 2) = 6. Index 7 last got stage 1 of trip 2 (i = 2)
// overwritten by stage 2 of trip 4 (index 2 - 3 = -1 = 7): 3 * 3 = 9.
	clrrrb ;;
	CHECK r32, 6
	CHECK r39, 9

// ---- the FRs rotate too (all 96 of f32..f127): stage 1 puts i in f32, stage 2 reads it
// back as f33 one trip later: sum = 1 + 2 + 3 + 4 + 5. Trip t ran with rrb.fr = 1 - t, so
// after clrrrb f32 (index 0) holds trip 1's i and f127 (index 95) trip 2's.
	mov ar.lc = 4
	mov ar.ec = 2
	mov pr.rot = 0x10000
	mov r40 = 0
	mov r41 = 0 ;;
fl:
(p16)	adds r40 = 1, r40 ;;
(p16)	setf.sig f32 = r40
(p17)	getf.sig r43 = f33 ;;
(p17)	add r41 = r41, r43
	nop.i 0
	br.ctop.sptk.few fl ;;
	CHECK r41, 15
	clrrrb ;;
	getf.sig r43 = f32 ;;
	CHECK r43, 1
	getf.sig r43 = f127 ;;
	CHECK r43, 2

// ---- br.cexit: taken when the pipeline is done; the same 5 + 2 trips
	mov ar.lc = 4
	mov ar.ec = 3
	mov r42 = 0 ;;
cx:	adds r42 = 1, r42
	nop.i 0
	br.cexit.spnt.few cx_done ;;
	br.cond.sptk.few cx ;;
cx_done:
	CHECK r42, 7
	mov r21 = ar.ec ;;
	CHECK r21, 0
// LC = 0 and EC = 0: no rotation, not taken for ctop, PR[63] cleared
	mov ar.lc = 0
	mov ar.ec = 0
	mov pr.rot = -0x10000 ;;		// p16..p63 = 1
	mov r32 = 77 ;;
	nop.m 0
	nop.i 0
	br.ctop.sptk.few bad_ct ;;
	CHECKP p63, 0
	CHECKP p16, 1			// no rotation: p63's 0 did not reach p16
	CHECK r32, 77			// and r32 names the same register
	br.cond.sptk.few wt ;;
bad_ct:	FAIL 30

// ---- br.wtop: the qualifying predicate p10 (i < 3) keeps the kernel going, then EC = 2
// gives one epilog trip: i = 1, 2 (p10 = 1), 3 (EC 2 -> 1, taken), 4 (EC 1 -> 0, exit).
wt:	mov ar.ec = 2
	mov r21 = 0 ;;
wtl:	adds r21 = 1, r21 ;;
	mov r32 = r21
	cmp.gt p10, p0 = 3, r21 ;;	// p10 = 3 > i
	nop.m 0
	nop.i 0
(p10)	br.wtop.sptk.few wtl ;;
	CHECK r21, 4
	mov r22 = ar.ec ;;
	CHECK r22, 0
// four rotations: the r32 of trip k is r(32 + 4 - k + 1)... of trip 4 is r33, of trip 1 r36
	CHECK r33, 4
	CHECK r34, 3
	CHECK r36, 1
	clrrrb ;;

// ---- br.wexit: the same trips, taken on the last one
	mov ar.ec = 2
	mov r21 = 0 ;;
wxl:	adds r21 = 1, r21 ;;
	cmp.gt p10, p0 = 3, r21 ;;
	nop.m 0
	nop.i 0
(p10)	br.wexit.spnt.few wx_done ;;
	br.cond.sptk.few wxl ;;
wx_done:
	CHECK r21, 4
	mov r22 = ar.ec ;;
	CHECK r22, 0
// wtop with qp false and EC = 0: not taken, no rotation, PR[63] = 0
	mov r32 = 55
	mov pr.rot = -0x10000
	cmp.eq p10, p0 = r0, r0 ;;		// p10 = 1 ...
	cmp.ne p10, p0 = r0, r0 ;;		// ... then 0
	nop.m 0
	nop.i 0
(p10)	br.wtop.sptk.few bad_wt ;;
	CHECKP p63, 0
	CHECKP p16, 1
	CHECK r32, 55
	clrrrb ;;			// PASS's alloc changes sor: only legal with the rrbs at 0
	PASS
bad_wt:	FAIL 31
