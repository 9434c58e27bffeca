// memverify.S — the free memory map, and the memverify workload: fill memory with a pattern
// derived from each word's address and a generation, then keep verifying it and rewriting it
// with the next generation, chunk by chunk (64 KiB, one region-0 page). Any word that does not
// hold what was last written there — a page lost, stale or moved by migration — is reported
// with its address, expected and found values, and the run fails.
//
// value(addr, gen) = addr ^ G(gen), G(gen) = gen * 0x9e3779b97f4a7c15 ^ 0x243f6a8885a308d3.
// The memory is split into contiguous slices, one per participating vCPU. After each chunk
// the vCPU purges its translation (ptc.l), so the next pass misses the TLB again and goes
// through the VHPT walker (or the Data TLB handler that fills the VHPT).
//
// Options: size= (default: all free memory), rate= MiB/s rewritten in all (0: as fast as it
// goes), time= (ends at the first pass boundary after it, at least one full verify pass),
// corrupt=1 (test of the check: flip one bit after the fill; the next pass must FAIL).
	.include "kernel.inc"

	MV_BEGIN = SL_S + 0		// chunk indexes of the slice
	MV_END = SL_S + 8
	MV_CUR = SL_S + 16
	MV_PHASE = SL_S + 24		// 0: first fill, 1: verify and rewrite
	MV_GEN = SL_S + 32		// generation the memory holds
	MV_GCUR = SL_S + 40
	MV_GNEXT = SL_S + 48
	MV_PASSES = SL_S + 56		// completed verify passes
	MV_CORRUPT = SL_S + 64
	MV_RPT = SL_S + 72		// ar.itc of the last progress line
	CHUNK_SHIFT = 16

	.data
	.align 8
	.global k_nseg, k_seg, k_ms_base, k_ms_len
k_nseg:		data8 0
k_seg:		.skip 16 * 8		// free memory above the pinned 16 MiB: base, length
k_mv_size:	data8 0
k_mv_chunks:	data8 0
k_mv_bytes:	data8 0			// bytes verified, all vCPUs
k_ms_base:	data8 0
k_ms_len:	data8 0

// mem_layout(): free segments from the boot memory map; memstress's working set is cut from
// the top, memverify takes size= from the bottom.
	.global mem_layout
ENTRY mem_layout, 0, 10, 4
	LA r2, k_nranges
	LA loc3, k_ranges
	LA loc4, k_seg
	;;
	ld8 loc2 = [r2]
	mov loc5 = 0			// segments
	mov loc6 = 0			// total bytes
	;;
1:	cmp.eq p6, p0 = 0, loc2
(p6)	br.cond.dpnt 2f
	ld8 r8 = [loc3], 8		// base
	;;
	ld8 r9 = [loc3], 8		// length
	movl r10 = FREE_BASE
	movl r11 = VA_LIMIT
	adds loc2 = -1, loc2
	;;
	add r9 = r8, r9			// end
	cmp.ltu p7, p0 = r8, r10
	;;
(p7)	mov r8 = r10
	cmp.ltu p8, p0 = r11, r9
	;;
(p8)	mov r9 = r11
	movl r14 = 0xffff
	;;
	add r8 = r8, r14
	andcm r9 = r9, r14
	;;
	andcm r8 = r8, r14
	;;
	cmp.geu p9, p0 = r8, r9
(p9)	br.cond.dpnt 1b
	sub r9 = r9, r8
	;;
	st8 [loc4] = r8, 8
	add loc6 = loc6, r9
	adds loc5 = 1, loc5
	;;
	st8 [loc4] = r9, 8
	br.sptk.few 1b
	;;
2:	LA r2, k_nseg
	;;
	st8 [r2] = loc5
	// memstress: wss= (default 16 MiB) from the top of the last segment that holds it
	LA r2, k_enabled
	;;
	adds r2 = WL_MEMS * 8, r2
	;;
	ld8 r2 = [r2]
	;;
	cmp.eq p6, p0 = 0, r2
(p6)	br.cond.dpnt .Lmv
	mov out0 = WL_MEMS
	mov out1 = P_WSS
	movl out2 = 16 << 20
	;;
	CALL param
	movl r14 = 0xffff
	;;
	add r8 = r8, r14
	;;
	andcm loc7 = r8, r14
	;;
	cmp.eq p6, p0 = 0, loc7
	;;
(p6)	adds loc7 = 1, r14
	mov loc8 = loc5			// search from the last segment down
	;;
3:	cmp.eq p6, p0 = 0, loc8
(p6)	br.cond.dpnt .Lms_nofit
	adds loc8 = -1, loc8
	LA r2, k_seg
	;;
	shladd r2 = loc8, 4, r2
	;;
	ld8 r8 = [r2], 8
	;;
	ld8 r9 = [r2]
	;;
	cmp.ltu p7, p0 = r9, loc7
(p7)	br.cond.dpnt 3b
	sub r9 = r9, loc7
	;;
	st8 [r2] = r9			// the segment shrinks
	add r8 = r8, r9
	LA r10, k_ms_base
	LA r11, k_ms_len
	sub loc6 = loc6, loc7
	;;
	st8 [r10] = r8
	st8 [r11] = loc7
	br.sptk.few .Lmv
	;;
.Lms_nofit:
	shr.u loc7 = loc7, 20
	shr.u loc6 = loc6, 20
	;;
	PRINTF "FAIL memstress: wss=%u MiB does not fit in the free memory (%u MiB above 16 MiB); give more --memory\n", loc7, loc6
	mov out0 = 1
	CALL kexit
.Lmv:
	LA r2, k_enabled
	;;
	adds r2 = WL_MEMV * 8, r2
	;;
	ld8 r2 = [r2]
	;;
	cmp.eq p6, p0 = 0, r2
(p6)	br.cond.dpnt .Lout
	mov out0 = WL_MEMV
	mov out1 = P_SIZE
	mov out2 = 0
	;;
	CALL param
	movl r14 = 0xffff
	;;
	andcm loc7 = r8, r14
	;;
	cmp.eq p6, p0 = 0, loc7
	;;
(p6)	mov loc7 = loc6
	;;
	cmp.ltu p7, p0 = loc6, loc7
	cmp.eq p8, p0 = 0, loc7
(p7)	br.cond.dpnt .Lmv_big
(p8)	br.cond.dpnt .Lmv_none
	LA r2, k_mv_size
	LA r3, k_mv_chunks
	shr.u r8 = loc7, CHUNK_SHIFT
	;;
	st8 [r2] = loc7
	st8 [r3] = r8
	shr.u loc7 = loc7, 20
	;;
	PRINTF "memverify: %u MiB of free memory, in chunks of 64 KiB\n", loc7
.Lout:
	RET
.Lmv_big:
	shr.u loc7 = loc7, 20
	shr.u loc6 = loc6, 20
	;;
	PRINTF "FAIL memverify: size=%u MiB is more than the free memory (%u MiB above 16 MiB)\n", loc7, loc6
	mov out0 = 1
	CALL kexit
.Lmv_none:
	PRINTF "FAIL memverify: no free memory above 16 MiB; give more --memory\n"
	mov out0 = 1
	CALL kexit
END mem_layout

// chunk_addr(index) -> r8: address of memverify's chunk `index` (segments in order).
ENTRY chunk_addr, 1, 2, 0
	LA r2, k_seg
	mov r3 = in0
	;;
1:	ld8 r8 = [r2], 8
	;;
	ld8 r9 = [r2], 8
	;;
	shr.u r9 = r9, CHUNK_SHIFT
	;;
	cmp.ltu p6, p0 = r3, r9
	;;
(p6)	br.cond.dptk 2f
	sub r3 = r3, r9
	br.sptk.few 1b
	;;
2:	shl r3 = r3, CHUNK_SHIFT
	;;
	add r8 = r8, r3
	RET
END chunk_addr

// mv_pattern(gen) -> r8 = G(gen)
ENTRY mv_pattern, 1, 2, 2
	mov out0 = in0
	movl out1 = 0x9e3779b97f4a7c15
	;;
	CALL umul
	movl r2 = 0x243f6a8885a308d3
	;;
	xor r8 = r8, r2
	RET
END mv_pattern

// mv_fill(addr, g): one chunk of value(addr, g).
ENTRY mv_fill, 2, 2, 0
	mov r2 = in0
	adds r3 = 8, in0
	movl r14 = 1 << CHUNK_SHIFT
	;;
	add r14 = in0, r14
	;;
1:	xor r8 = r2, in1
	xor r9 = r3, in1
	;;
	st8 [r2] = r8, 16
	st8 [r3] = r9, 16
	;;
	cmp.ltu p6, p0 = r2, r14
(p6)	br.cond.sptk 1b
	;;
	RET
END mv_fill

// mv_check(addr, gcur, gnext) -> r8 = 0 when the chunk held value(., gcur) everywhere (and now
// holds value(., gnext)); else r8 = address, r9 = expected, r10 = found of the first bad word.
ENTRY mv_check, 3, 2, 0
	mov r2 = in0
	adds r3 = 8, in0
	movl r14 = 1 << CHUNK_SHIFT
	;;
	add r14 = in0, r14
	;;
1:	ld8 r8 = [r2]
	ld8 r9 = [r3]
	xor r10 = r2, in1
	xor r11 = r3, in1
	xor r16 = r2, in2
	xor r17 = r3, in2
	;;
	cmp.ne p6, p0 = r8, r10
	cmp.ne p7, p0 = r9, r11
(p6)	br.cond.spnt .Lbad0
(p7)	br.cond.spnt .Lbad1
	;;
	st8 [r2] = r16, 16
	st8 [r3] = r17, 16
	;;
	cmp.ltu p8, p0 = r2, r14
(p8)	br.cond.sptk 1b
	;;
	mov r8 = 0
	RET
.Lbad0:
	mov r9 = r10
	mov r10 = r8
	mov r8 = r2
	RET
.Lbad1:
	mov r10 = r9
	mov r9 = r11
	mov r8 = r3
	RET
END mv_check

	.global memv_init
ENTRY memv_init, 1, 8, 3
	adds r2 = SL_INDEX, in0
	adds r3 = SL_NPART, in0
	LA r8, k_mv_chunks
	;;
	ld8 loc2 = [r2]
	ld8 loc3 = [r3]
	ld8 loc4 = [r8]
	;;
	mov out0 = loc2
	mov out1 = loc4
	;;
	CALL umul
	mov out0 = r8
	mov out1 = loc3
	;;
	CALL udiv
	mov loc5 = r8			// begin
	adds out0 = 1, loc2
	mov out1 = loc4
	;;
	CALL umul
	mov out0 = r8
	mov out1 = loc3
	;;
	CALL udiv
	adds r2 = MV_BEGIN, in0
	adds r3 = MV_END, in0
	adds r9 = MV_CUR, in0
	adds r10 = MV_GEN, in0
	mov r11 = 1
	;;
	st8 [r2] = loc5
	st8 [r3] = r8
	st8 [r9] = loc5
	st8 [r10] = r11
	mov out0 = 1
	;;
	CALL mv_pattern
	adds r2 = MV_GCUR, in0
	mov out0 = 2
	;;
	st8 [r2] = r8
	CALL mv_pattern
	adds r2 = MV_GNEXT, in0
	adds r3 = MV_RPT, in0
	adds r9 = SL_START, in0
	;;
	st8 [r2] = r8
	ld8 r9 = [r9]
	;;
	st8 [r3] = r9
	mov out0 = WL_MEMV
	mov out1 = P_RATE
	mov out2 = 0
	;;
	CALL param
	mov out0 = in0
	mov out1 = r8
	;;
	CALL slot_pace_setup
	mov out0 = WL_MEMV
	mov out1 = P_CORRUPT
	mov out2 = 0
	;;
	CALL param
	cmp.ne p6, p0 = 0, r8
	mov r9 = 1
	adds r2 = MV_CORRUPT, in0
	;;
(p6)	cmp.eq.unc p7, p0 = 0, loc2	// the first slice only
	;;
(p7)	st8 [r2] = r9
	RET
END memv_init

	.global memv_step
ENTRY memv_step, 1, 8, 7
	adds r2 = MV_PHASE, in0
	adds r3 = MV_PASSES, in0
	adds r8 = MV_BEGIN, in0
	adds r9 = MV_END, in0
	;;
	ld8 loc2 = [r2]
	ld8 loc3 = [r3]
	ld8 r8 = [r8]
	ld8 r9 = [r9]
	;;
	cmp.eq p6, p0 = r8, r9		// an empty slice (more vCPUs than chunks)
(p6)	br.cond.dpnt .Ldone
	cmp.eq p7, p0 = 0, loc3
(p7)	br.cond.dptk 1f			// time= counts only after a full verify pass
	mov out0 = in0
	CALL slot_expired
	cmp.ne p6, p0 = 0, r8
(p6)	br.cond.dpnt .Ldone
1:	mov out0 = in0
	CALL slot_pace
	cmp.eq p6, p0 = 0, r8
(p6)	br.cond.dpnt .Lwait
	adds r2 = MV_CUR, in0
	;;
	ld8 out0 = [r2]
	;;
	CALL chunk_addr
	mov loc4 = r8
	adds r2 = MV_GCUR, in0
	adds r3 = MV_GNEXT, in0
	;;
	mov out0 = r8
	ld8 out1 = [r2]
	ld8 out2 = [r3]
	cmp.eq p6, p0 = 0, loc2
(p6)	br.cond.dpnt .Lfill
	CALL mv_check
	cmp.ne p8, p0 = 0, r8
(p8)	br.cond.spnt .Lmismatch
	LA out0, k_mv_bytes
	movl out1 = 1 << CHUNK_SHIFT
	;;
	CALL atomic_add
	br.sptk.few .Lpurge
	;;
.Lfill:
	CALL mv_fill
.Lpurge:
	mov r2 = CHUNK_SHIFT << 2
	;;
	ptc.l loc4, r2			// the next pass must miss the TLB again
	;;
	srlz.d
	adds r2 = MV_CUR, in0
	adds r3 = MV_END, in0
	;;
	ld8 r8 = [r2]
	ld8 r9 = [r3]
	;;
	adds r8 = 1, r8
	;;
	st8 [r2] = r8
	cmp.ne p6, p0 = r8, r9
(p6)	br.cond.dptk .Lworked
	adds r3 = MV_BEGIN, in0		// end of a pass
	;;
	ld8 r3 = [r3]
	;;
	st8 [r2] = r3
	cmp.eq p6, p0 = 0, loc2
(p6)	br.cond.dpnt .Lfilled
	adds loc3 = 1, loc3		// a verify pass done: next generation
	adds r2 = MV_PASSES, in0
	adds r3 = MV_GEN, in0
	adds r8 = MV_GNEXT, in0
	adds r9 = MV_GCUR, in0
	;;
	st8 [r2] = loc3
	ld8 loc5 = [r3]
	ld8 r8 = [r8]
	;;
	adds loc5 = 1, loc5
	st8 [r9] = r8
	;;
	st8 [r3] = loc5
	adds out0 = 1, loc5
	;;
	CALL mv_pattern
	adds r2 = MV_GNEXT, in0
	adds r3 = MV_RPT, in0
	mov r9 = ar.itc
	;;
	st8 [r2] = r8
	ld8 r10 = [r3]
	movl r11 = 1000000000
	;;
	sub r10 = r9, r10
	;;
	cmp.ltu p6, p0 = r10, r11	// progress at most once a second
(p6)	br.cond.dptk .Lworked
	st8 [r3] = r9
	ld8 loc6 = [r13]
	;;
	PRINTF "memverify: cpu %u: pass %u verified\n", loc6, loc3
	br.sptk.few .Lworked
	;;
.Lfilled:
	adds r2 = MV_PHASE, in0
	mov r3 = 1
	adds r9 = MV_CORRUPT, in0
	;;
	st8 [r2] = r3
	ld8 r9 = [r9]
	;;
	cmp.eq p6, p0 = 0, r9
(p6)	br.cond.dptk .Lworked
	// corrupt=1: flip bit 0 of one word in the middle of the slice; the check must see it
	adds r2 = MV_BEGIN, in0
	adds r3 = MV_END, in0
	;;
	ld8 r2 = [r2]
	ld8 r3 = [r3]
	;;
	add r2 = r2, r3
	;;
	shr.u out0 = r2, 1
	;;
	CALL chunk_addr
	adds loc5 = 0x1018, r8
	;;
	ld8 r2 = [loc5]
	;;
	xor r2 = 1, r2
	;;
	st8 [loc5] = r2
	PRINTF "memverify: corrupt=1: flipped bit 0 of the word at %016x (the next pass must catch it)\n", loc5
.Lworked:
	mov r8 = 1
	RET
.Lwait:
	mov r8 = 0
	RET
.Ldone:
	mov r8 = 2
	RET
.Lmismatch:
	mov loc4 = r8
	mov loc5 = r9
	mov loc6 = r10
	ld8 loc7 = [r13]
	adds r2 = MV_GEN, in0
	;;
	ld8 loc2 = [r2]
	;;
	PRINTF "memverify: MISMATCH at %016x: expected %016x, found %016x (cpu %u, generation %u)\n", loc4, loc5, loc6, loc7, loc2
	PRINTF "FAIL memverify: memory at %016x does not hold what was written there\n", loc4
	mov out0 = 1
	CALL kexit
END memv_step

	.global memv_finish
ENTRY memv_finish, 0, 4, 3
	LA r2, k_mv_bytes
	LA r3, k_mv_size
	;;
	ld8 loc2 = [r2]
	ld8 loc3 = [r3]
	;;
	shr.u loc2 = loc2, 20
	shr.u loc3 = loc3, 20
	;;
	PRINTF "memverify: %u MiB verified over %u MiB, no mismatch\n", loc2, loc3
	RET
END memv_finish
