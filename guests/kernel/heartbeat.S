// heartbeat.S — the heartbeat and idle workloads.
//
// heartbeat prints "HB <seq> <itc>" every 100 ms of ar.itc, woken by the timer interrupt armed
// for the next beat (the vCPU halts in between): an observer sees a pause of the guest as a gap in the sequence of
// times, and a step back of guest time as a smaller itc (which the kernel also fails on).
// Options: count= beats, time=.
//
// idle does nothing: its vCPU halts in HALT_LIGHT with the timer armed only for the end of
// time= (masked without one), so an idle guest costs the host (almost) no CPU. Option: time=.
	.include "kernel.inc"

	HB_SEQ = SL_S + 0
	HB_NEXT = SL_S + 8		// ar.itc of the next beat
	HB_LAST = SL_S + 16		// ar.itc of the last beat
	HB_COUNT = SL_S + 24		// beats to print (0: no limit)
	HB_PERIOD = 100000000

	.data
	.align 8
k_hb_beats:	data8 0
k_hb_maxgap:	data8 0

	.global hb_init
ENTRY hb_init, 1, 2, 3
	mov out0 = WL_HB
	mov out1 = P_COUNT
	mov out2 = 0
	;;
	CALL param
	adds r2 = HB_COUNT, in0
	adds r3 = HB_NEXT, in0
	adds r9 = SL_START, in0
	;;
	st8 [r2] = r8
	ld8 r9 = [r9]
	;;
	st8 [r3] = r9			// the first beat at once
	RET
END hb_init

	.global hb_step
ENTRY hb_step, 1, 8, 4
	mov out0 = in0
	CALL slot_expired
	cmp.ne p6, p0 = 0, r8
(p6)	br.cond.dpnt .Ldone
	adds r2 = HB_NEXT, in0
	adds r3 = HB_LAST, in0
	adds r9 = HB_SEQ, in0
	mov loc2 = ar.itc
	;;
	ld8 r2 = [r2]
	ld8 loc3 = [r3]
	ld8 loc4 = [r9]
	;;
	cmp.ltu p6, p0 = loc2, r2
	mov out0 = r2
(p6)	br.cond.dptk .Lwait
	cmp.ltu p7, p0 = loc2, loc3
(p7)	br.cond.dpnt .Lback
	sub r2 = loc2, loc3
	LA r3, k_hb_maxgap
	cmp.ne p8, p0 = 0, loc4		// no interval before the first beat
	;;
	ld8 r9 = [r3]
	;;
(p8)	cmp.ltu.unc p9, p0 = r9, r2
	;;
(p9)	st8 [r3] = r2
	PRINTF "HB %u %u\n", loc4, loc2
	adds loc4 = 1, loc4
	adds r2 = HB_SEQ, in0
	adds r3 = HB_LAST, in0
	adds r9 = HB_NEXT, in0
	movl r10 = HB_PERIOD
	;;
	st8 [r2] = loc4
	st8 [r3] = loc2
	ld8 r11 = [r9]
	;;
1:	add r11 = r11, r10		// the next 100 ms mark after now (missed ones stay missed)
	;;
	cmp.geu p6, p0 = loc2, r11
(p6)	br.cond.dpnt 1b
	;;
	st8 [r9] = r11
	LA r2, k_hb_beats
	adds r3 = HB_COUNT, in0
	;;
	st8 [r2] = loc4
	ld8 r3 = [r3]
	;;
	cmp.ne p6, p0 = 0, r3
	;;
(p6)	cmp.geu.unc p7, p0 = loc4, r3
(p7)	br.cond.dpnt .Ldone
	mov r8 = 1
	RET
.Lwait:
	CALL wake_at			// out0: the next beat (the timer wakes the halted vCPU then)
	mov r8 = 0
	RET
.Ldone:
	mov r8 = 2
	RET
.Lback:
	PRINTF "FAIL heartbeat: ar.itc stepped back from %u to %u\n", loc3, loc2
	mov out0 = 1
	CALL kexit
END hb_step

	.global hb_finish
ENTRY hb_finish, 0, 4, 3
	LA r2, k_hb_beats
	LA r3, k_hb_maxgap
	;;
	ld8 loc2 = [r2]
	ld8 out0 = [r3]
	mov out1 = 1000000
	;;
	CALL udiv
	mov loc3 = r8
	PRINTF "heartbeat: %u beats, longest interval %u ms\n", loc2, loc3
	RET
END hb_finish

	.global idle_init
ENTRY idle_init, 1, 2, 0
	RET
END idle_init

	.global idle_step
ENTRY idle_step, 1, 2, 1
	mov out0 = in0
	CALL slot_expired
	cmp.ne p6, p7 = 0, r8
	;;
(p6)	mov r8 = 2
(p7)	mov r8 = 0
	RET
END idle_step

	.global idle_finish
ENTRY idle_finish, 0, 6, 3
	LA r2, k_ncpus
	;;
	ld8 loc2 = [r2]
	mov loc3 = 0			// halts
	mov loc4 = 0			// ticks
	mov r9 = 0
	;;
1:	LA r2, percpu_areas
	shl r3 = r9, PERCPU_SHIFT
	;;
	add r2 = r2, r3
	;;
	adds r3 = PC_HALTS, r2
	adds r2 = PC_TICKS, r2
	;;
	ld8 r3 = [r3]
	ld8 r2 = [r2]
	adds r9 = 1, r9
	;;
	add loc3 = loc3, r3
	add loc4 = loc4, r2
	cmp.ltu p6, p0 = r9, loc2
(p6)	br.cond.dptk 1b
	;;
	PRINTF "idle: %u halts in HALT_LIGHT, %u timer interrupts\n", loc3, loc4
	RET
END idle_finish
