// state_loop.S — the guest of test_vmstate_equiv. It runs forever; every pass puts into the
// CPU what a saved state has to carry across a save and restore:
//  - a recursion 40 calls deep with 5 locals a level, one of them a NaT on odd levels: the
//    RSE spills to the backing store on the way down and fills on the way up (ndirty, bof,
//    ar.bspstore, ar.rnat and the NaT bits keep moving). Each level stops at a pause
//    (break.m 0x77 in the middle slot of a bundle), where the test may save mid-bundle;
//  - an advanced load whose ALAT entry must live through the recursion, then chk.a: on odd
//    passes a store to the same word after the recursion kills the entry and the recovery
//    code counts it (r24), so a restored CPU whose stores missed its ALAT goes another way;
//  - a modulo-scheduled loop (br.ctop) over rotating GRs and predicates, so rrb.gr, rrb.pr,
//    ar.ec and ar.lc are mid-flight; a counted loop (br.cloop) filling a table;
//  - a short trip to register bank 1 (bsw), so the inactive bank holds live values;
//  - a checksum (r28, stored at DATA + 8) into which every pass's result is rotated, so a
//    wrong value anywhere stays visible to the final comparison.
// Results per pass (for the test's own check): deep returns 1 + ... + 40 + 20 * 1000 = 20820,
// rotsum 0 + 1 + ... + 40 = 820; the table at DATA + 512 starts with their sum.
// The test provides memory: code at 0x4000000000000000, data at +1 MiB (DATA), the backing
// store at +1.5 MiB (ar.bspstore); no stack, no system calls.
	.text
	.global _start

	.proc _start
_start:
	movl r20 = 0x4000000000100000		// DATA: word 0 is the ALAT-watched word
	mov r21 = 0				// pass number
	mov r24 = 0				// chk.a recoveries
	mov r28 = 0 ;;				// running checksum (DATA + 8)
.Lpass:
	ld8.a r22 = [r20]
	tbit.nz p8, p0 = r21, 0
	mov r3 = r21 ;;
	bsw.1 ;;
	mov r16 = r3 ;;				// bank 1's r16; bank 0's stays in the inactive bank
	bsw.0 ;;
	alloc r2 = ar.pfs, 0, 0, 2, 0
	mov out0 = 40
	mov out1 = r20 ;;
	br.call.sptk.many b0 = deep ;;
(p8)	st8 [r20] = r21				// odd pass: the entry dies here, after living
	mov r23 = r8 ;;				// through the recursion
	chk.a.clr r22, .Lrecover ;;
.Lback:
	adds out0 = 64, r20
	mov out1 = 41
	br.call.sptk.many b0 = rotsum ;;
	add r23 = r23, r8
	adds r26 = 512, r20
	mov r27 = 15 ;;
	mov ar.lc = r27 ;;
.Lfill:
	st8 [r26] = r23, 8
	add r23 = r23, r21
	br.cloop.sptk.few .Lfill ;;
	st8 [r26] = r24
	shrp r28 = r28, r28, 59 ;;		// r28: every pass's result, rotated in, so a
	xor r28 = r28, r23			// wrong sum anywhere stays visible forever
	adds r29 = 8, r20 ;;
	st8 [r29] = r28
	adds r21 = 1, r21
	br.cond.sptk.few .Lpass ;;
.Lrecover:
	ld8 r22 = [r20]
	adds r24 = 1, r24
	br.cond.sptk.few .Lback ;;
	.endp _start

	.proc deep
deep:	// r8 = in0 + (in0 - 1) + ... + 1, plus 1000 for each odd level, whose loc2 is a NaT
	// (kept through the spills and fills, in ar.rnat and the RNAT collections); level in0
	// stores in0 at in1 + 64 + 8 * in0
	alloc loc0 = ar.pfs, 2, 3, 2, 0
	mov loc1 = b0
	cmp.eq p6, p7 = 0, in0
	tbit.nz p9, p10 = in0, 0
	shladd r3 = in0, 3, in1 ;;
(p9)	ld8.s loc2 = [r0] ;;			// address 0 is unmapped: deferred, a NaT
(p10)	mov loc2 = in0
{ .mmi
	adds r3 = 64, r3
	break.m 0x77				// a pause: the test may save here, at ri = 1
	nop.i 0 ;;
}
(p6)	mov r8 = 0
(p6)	br.cond.dpnt.few .Lret ;;
	st8 [r3] = in0
	adds out0 = -1, in0
	mov out1 = in1
	br.call.sptk.many b0 = deep ;;
	add r8 = r8, in0
	tnat.nz p11, p0 = loc2 ;;
(p11)	adds r8 = 1000, r8 ;;
.Lret:
	mov ar.pfs = loc0
	mov b0 = loc1 ;;
	br.ret.sptk.many b0 ;;
	.endp deep

	.proc rotsum
rotsum:	// r8 = the sum of in1 words at in0, as a two-stage software-pipelined loop
	alloc r16 = ar.pfs, 2, 6, 0, 8		// sof = sor = 8: r32..r39 rotate
	mov r17 = in0
	adds r18 = -1, in1
	mov r8 = 0 ;;
	mov ar.lc = r18
	mov ar.ec = 2
	mov pr.rot = 0x10000 ;;
.Lloop:
(p16)	ld8 r32 = [r17], 8
(p17)	add r8 = r8, r33
	br.ctop.sptk.few .Lloop ;;
	mov ar.pfs = r16 ;;
	br.ret.sptk.many b0 ;;
	.endp rotsum
