// memstress.S — the memstress workload: dirty a working set at a given rate, the load a live
// migration has to converge against. One 8-byte store per 4 KiB page dirties the page; the
// pages are walked round-robin over the vCPU's share of the working set, 16 pages per step,
// paced against ar.itc (rate= MiB/s in all, 0 = as fast as it goes). Each vCPU reports its
// rate once a second. Options: wss= (default 16 MiB), rate=, time=.
	.include "kernel.inc"

	MS_BEGIN = SL_S + 0
	MS_END = SL_S + 8
	MS_CUR = SL_S + 16
	MS_PAGES = SL_S + 24		// pages dirtied by this slot
	MS_VAL = SL_S + 32		// value of the next store
	MS_RPT_ITC = SL_S + 40
	MS_RPT_PAGES = SL_S + 48
	STEP_PAGES = 16			// one 64 KiB pacing unit

	.data
	.align 8
k_ms_pages:	data8 0

	.global mems_init
ENTRY mems_init, 1, 8, 3
	adds r2 = SL_INDEX, in0
	adds r3 = SL_NPART, in0
	LA r8, k_ms_len
	;;
	ld8 loc2 = [r2]
	ld8 loc3 = [r3]
	ld8 loc4 = [r8]
	;;
	shr.u loc4 = loc4, 12		// pages in the working set
	;;
	mov out0 = loc2
	mov out1 = loc4
	;;
	CALL umul
	mov out0 = r8
	mov out1 = loc3
	;;
	CALL udiv
	mov loc5 = r8			// first page of this share
	adds out0 = 1, loc2
	mov out1 = loc4
	;;
	CALL umul
	mov out0 = r8
	mov out1 = loc3
	;;
	CALL udiv
	LA r2, k_ms_base
	;;
	ld8 r2 = [r2]
	shl r8 = r8, 12
	shl loc5 = loc5, 12
	;;
	add r8 = r8, r2
	add loc5 = loc5, r2
	adds r3 = MS_BEGIN, in0
	adds r9 = MS_END, in0
	adds r10 = MS_CUR, in0
	adds r11 = SL_START, in0
	adds r14 = MS_RPT_ITC, in0
	;;
	st8 [r3] = loc5
	st8 [r9] = r8
	st8 [r10] = loc5
	ld8 r11 = [r11]
	;;
	st8 [r14] = r11
	mov out0 = WL_MEMS
	mov out1 = P_RATE
	mov out2 = 0
	;;
	CALL param
	mov out0 = in0
	mov out1 = r8
	;;
	CALL slot_pace_setup
	RET
END mems_init

	.global mems_step
ENTRY mems_step, 1, 8, 4
	adds r2 = MS_BEGIN, in0
	adds r3 = MS_END, in0
	;;
	ld8 loc2 = [r2]
	ld8 loc3 = [r3]
	;;
	cmp.eq p6, p0 = loc2, loc3
(p6)	br.cond.dpnt .Ldone
	mov out0 = in0
	CALL slot_expired
	cmp.ne p6, p0 = 0, r8
(p6)	br.cond.dpnt .Ldone
	mov out0 = in0
	CALL slot_pace
	cmp.eq p6, p0 = 0, r8
(p6)	br.cond.dpnt .Lwait
	adds r2 = MS_CUR, in0
	adds r3 = MS_VAL, in0
	mov r9 = STEP_PAGES
	;;
	ld8 r10 = [r2]
	ld8 r11 = [r3]
	;;
1:	st8 [r10] = r11
	adds r9 = -1, r9
	;;
	adds r10 = 4096, r10
	;;
	cmp.geu p7, p0 = r10, loc3	// wrap round the share
	cmp.ne p8, p0 = 0, r9
	;;
(p7)	mov r10 = loc2
(p8)	br.cond.dptk 1b
	;;
	adds r11 = 1, r11
	st8 [r2] = r10
	adds r8 = MS_PAGES, in0
	;;
	st8 [r3] = r11
	ld8 loc4 = [r8]
	;;
	adds loc4 = STEP_PAGES, loc4
	;;
	st8 [r8] = loc4
	// progress once a second: pages per second and MiB/s
	adds r2 = MS_RPT_ITC, in0
	mov loc5 = ar.itc
	movl r9 = 1000000000
	;;
	ld8 r3 = [r2]
	;;
	sub loc6 = loc5, r3		// ns since the last line
	;;
	cmp.ltu p6, p0 = loc6, r9
(p6)	br.cond.dptk .Lworked
	st8 [r2] = loc5
	adds r2 = MS_RPT_PAGES, in0
	;;
	ld8 r3 = [r2]
	st8 [r2] = loc4
	;;
	sub out0 = loc4, r3
	movl out1 = 1000000000
	;;
	CALL umul
	mov out0 = r8
	mov out1 = loc6
	;;
	CALL udiv
	mov loc7 = r8			// pages/s
	ld8 loc2 = [r13]
	;;
	adds loc3 = 128, loc7
	;;
	shr.u loc3 = loc3, 8		// MiB/s, rounded
	PRINTF "memstress: cpu %u: %u pages/s dirtied (%u MiB/s)\n", loc2, loc7, loc3
.Lworked:
	mov r8 = 1
	RET
.Lwait:
	mov r8 = 0
	RET
.Ldone:
	LA out0, k_ms_pages
	adds r2 = MS_PAGES, in0
	;;
	ld8 out1 = [r2]
	;;
	CALL atomic_add
	mov r8 = 2
	RET
END mems_step

	.global mems_finish
ENTRY mems_finish, 0, 4, 3
	LA r2, k_ms_pages
	LA r3, k_ms_len
	;;
	ld8 loc2 = [r2]
	ld8 loc3 = [r3]
	;;
	shr.u loc3 = loc3, 20
	PRINTF "memstress: %u pages dirtied in a working set of %u MiB\n", loc2, loc3
	RET
END mems_finish
