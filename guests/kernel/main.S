// main.S — the kernel proper once a vCPU runs in virtual mode: the boot vCPU's main (console,
// command line, the plan of which vCPU runs which workload, the secondary vCPUs' start), the
// loop every vCPU runs over its workload slots, halting when none has work, the PASS/FAIL
// bookkeeping, and the report of a fatal interruption.
//
// Tickless idle (like Linux NO_HZ): there is no periodic timer tick. A step that waits for a
// time (a heartbeat's next beat, a paced unit, a time= end, a disk timeout) says so with
// wake_at(itc); when a round of steps did no work, halt_wait arms cr.itm for the earliest of
// those deadlines, or masks the timer when there is none, and halts. A busy vCPU polls ar.itc
// and needs no tick; an idle one wakes only when something is due (or an interrupt comes).
//
// Workloads are state machines with three entry points each (tables below): init(slot),
// step(slot) -> 0 waiting / 1 worked / 2 done, and finish() (run once, by the vCPU whose slot
// finished last, before "PASS <name>"). A step does a bounded amount of work (about a
// millisecond), so the workloads a vCPU shares stay responsive. When every workload has passed
// the kernel prints its counters and exits 0; a failure prints "FAIL <name>: <reason>" and
// exits 1 at once.
	.include "kernel.inc"

	.section .rodata
	.align 8
wl_init_tab:	data8 disk_init, memv_init, mems_init, hb_init, idle_init, msum_init
wl_step_tab:	data8 disk_step, memv_step, mems_step, hb_step, idle_step, msum_step
wl_finish_tab:	data8 disk_finish, memv_finish, mems_finish, hb_finish, idle_finish, msum_finish
reasons:	data8 .Lr0, .Lr1, .Lr2, .Lr3
.Lr0:	.asciz "unexpected interruption"
.Lr1:	.asciz "reference outside RAM"
.Lr2:	.asciz "cr.iha differs from thash(cr.ifa)"
.Lr3:	.asciz "reference to a region the kernel does not use"
	.align 8
vecnames:
	data8 0x0000, .Lv00, 0x0400, .Lv04, 0x0800, .Lv08, 0x0c00, .Lv0c, 0x1000, .Lv10
	data8 0x1400, .Lv14, 0x1800, .Lv18, 0x1c00, .Lv1c, 0x2000, .Lv20, 0x2400, .Lv24
	data8 0x2800, .Lv28, 0x2c00, .Lv2c, 0x3000, .Lv30, 0x5000, .Lv50, 0x5100, .Lv51
	data8 0x5200, .Lv52, 0x5300, .Lv53, 0x5400, .Lv54, 0x5500, .Lv55, 0x5600, .Lv56
	data8 0x5700, .Lv57, 0x5900, .Lv59, 0x5a00, .Lv5a, 0x5b00, .Lv5b, 0x5c00, .Lv5c
	data8 0x5d00, .Lv5d, 0x5e00, .Lv5e, 0x5f00, .Lv5f, 0x6000, .Lv60, -1, .Lvxx
.Lv00:	.asciz "VHPT Translation"
.Lv04:	.asciz "Instruction TLB"
.Lv08:	.asciz "Data TLB"
.Lv0c:	.asciz "Alternate Instruction TLB"
.Lv10:	.asciz "Alternate Data TLB"
.Lv14:	.asciz "Data Nested TLB"
.Lv18:	.asciz "Instruction Key Miss"
.Lv1c:	.asciz "Data Key Miss"
.Lv20:	.asciz "Dirty-Bit"
.Lv24:	.asciz "Instruction Access-Bit"
.Lv28:	.asciz "Data Access-Bit"
.Lv2c:	.asciz "Break Instruction"
.Lv30:	.asciz "External Interrupt"
.Lv50:	.asciz "Page Not Present"
.Lv51:	.asciz "Key Permission"
.Lv52:	.asciz "Instruction Access Rights"
.Lv53:	.asciz "Data Access Rights"
.Lv54:	.asciz "General Exception"
.Lv55:	.asciz "Disabled FP-Register"
.Lv56:	.asciz "NaT Consumption"
.Lv57:	.asciz "Speculation"
.Lv59:	.asciz "Debug"
.Lv5a:	.asciz "Unaligned Reference"
.Lv5b:	.asciz "Unsupported Data Reference"
.Lv5c:	.asciz "Floating-point Fault"
.Lv5d:	.asciz "Floating-point Trap"
.Lv5e:	.asciz "Lower-Privilege Transfer Trap"
.Lv5f:	.asciz "Taken Branch Trap"
.Lv60:	.asciz "Single Step Trap"
.Lvxx:	.asciz "reserved vector"

	.data
	.align 8
	.global k_bootinfo, k_boot_itc, k_virt_itc, k_ncpus, k_ram_size, k_ram_top, k_nranges
	.global k_ranges, k_con_base, k_ndisks, k_disks, k_cmdline, k_exit_code
	.global k_con_ack, k_shutdown
k_bootinfo:	data8 0
k_boot_itc:	data8 0
k_virt_itc:	data8 0
k_ncpus:	data8 1
k_ram_size:	data8 0
k_ram_top:	data8 0
k_nranges:	data8 0
k_ranges:	.skip 8 * 16
k_con_base:	data8 0
k_ndisks:	data8 0
k_disks:	.skip 8 * 24		// base, vector, capacity in bytes
k_exit_code:	data8 0
k_con_ack:	data8 0			// physical uncacheable address of the console's status register
k_shutdown:	data8 0			// 1: shutdown requested (ivt.S); 2: announced on the console
k_online:	data8 0			// secondary vCPUs in virtual mode
k_go:		data8 0			// the plan is ready: run
k_left:		.skip 8 * NWL		// slots of each workload not yet done
k_wl_left:	data8 0			// workloads not yet passed
k_cmdline:	.skip 1024

	.section .bss.big, "aw", @nobits
	.align VHPT_SIZE
	.global vhpt
vhpt:	.skip VHPT_SIZE
	.align PERCPU_SIZE
	.global percpu_areas
percpu_areas:	.skip PERCPU_SIZE * MAX_CPUS

// bsp_main(): the boot vCPU, in virtual mode for the first time. Does not return.
ENTRY bsp_main, 0, 8, 8
	mov r2 = ar.itc
	LA r3, k_virt_itc
	LA r8, k_con_base
	;;
	st8 [r3] = r2
	ld8 r8 = [r8]
	movl r9 = REGION6 + CON_TX
	;;
	cmp.ne p6, p0 = 0, r8
	add r9 = r9, r8
	LA r10, k_con_tx
	;;
(p6)	st8 [r10] = r9			// from now on the console device prints
	movl r11 = PHYS_UC + DEV_STATUS
	movl r14 = REGION6 + DEV_VECTOR
	;;
	add r11 = r11, r8
	add r14 = r14, r8
	LA r10, k_con_ack
	;;
(p6)	st8 [r10] = r11			// the handler acknowledges there (before the interrupt can come)
	mov r15 = VEC_CONSOLE
	adds r11 = CON_CONTROL - DEV_VECTOR, r14
	mov r9 = CON_CTL_SHUTDOWN
	;;
(p6)	st8 [r14] = r15			// the console interrupts with VEC_CONSOLE ...
	;;
(p6)	st8 [r11] = r9			// ... on a shutdown request (the power button)
	LA r2, k_ncpus
	LA r3, k_ram_size
	;;
	ld8 loc2 = [r2]
	ld8 loc3 = [r3]
	;;
	shr.u loc3 = loc3, 20
	PRINTF "hpvmk: IA-64 guest kernel: %u vCPU(s), %u MiB RAM\n", loc2, loc3
	LA loc4, k_cmdline
	;;
	PRINTF "hpvmk: command line: %s\n", loc4
	LA r2, k_boot_itc
	LA r3, k_virt_itc
	;;
	ld8 loc2 = [r2]
	ld8 loc3 = [r3]
	;;
	sub loc5 = loc3, loc2
	;;
	shr.u loc5 = loc5, 10		// ~microseconds (ns / 1024)
	PRINTF "hpvmk: entered at itc %u, virtual mode at itc %u (%u us of kernel boot)\n", loc2, loc3, loc5
	mov out0 = loc4
	CALL parse_cmdline
	cmp.eq p6, p0 = 0, r8
	mov loc2 = r8
	;;
(p6)	br.cond.dptk 1f
	PRINTF "FAIL kernel: cannot understand the command line at '%s'\n", loc2
	br.sptk.few .Lusage
	;;
1:	mov out0 = WL_GLOBAL
	mov out1 = P_FAULT
	mov out2 = 0
	;;
	CALL param
	cmp.ne p6, p0 = 0, r8
	mov out0 = r8
(p6)	br.call.sptk.many b0 = test_fault
	;;
	LA r2, k_enabled
	;;
	ld8 r3 = [r2], 8
	;;
	ld8 r8 = [r2], 8
	;;
	ld8 r9 = [r2], 8
	or r3 = r3, r8
	;;
	ld8 r10 = [r2], 8
	or r3 = r3, r9
	;;
	ld8 r11 = [r2], 8
	or r3 = r3, r10
	;;
	ld8 r14 = [r2]
	or r3 = r3, r11
	;;
	or r3 = r3, r14
	;;
	cmp.ne p6, p0 = 0, r3
(p6)	br.cond.dptk 2f
	PRINTF "FAIL kernel: no workload on the command line\n"
.Lusage:
	PRINTF "usage: [memverify size=S rate=MB/s] [memstress wss=S rate=MB/s] [heartbeat count=N] [diskverify blocks=N passes=N] [idle] [memsum size=S] [time=SECONDS|MSms]\n"
	mov out0 = 1
	CALL kexit
2:	CALL plan
	CALL start_aps
	LA r2, k_go
	mov r3 = 1
	;;
	st8.rel [r2] = r3
	CALL cpu_loop
END bsp_main

// test_fault(kind): fault=1 loads from region 3, which the kernel never maps (Alternate Data
// TLB, reported as fatal); fault=2 executes a break that is not a hypercall (Break vector).
ENTRY test_fault, 1, 2, 0
	cmp.eq p6, p7 = 1, in0
	movl r2 = 0x6000000000001000
	;;
(p6)	ld8 r3 = [r2]
	;;
(p7)	break.m 0x1234
	;;
	RET
END test_fault

// ap_main(): a secondary vCPU in virtual mode: report online, wait for the plan, run.
ENTRY ap_main, 0, 2, 1
	LA r2, k_online
	;;
	fetchadd8.rel r3 = [r2], 1
	LA r2, k_go
	;;
1:	ld8.acq r3 = [r2]
	;;
	cmp.eq p6, p0 = 0, r3
(p6)	br.cond.dptk 1b
	;;
	CALL cpu_loop
END ap_main

// start_aps(): register the secondaries' entry and wake each with an IPI through the PIB.
ENTRY start_aps, 0, 8, 8
	LA r2, k_ncpus
	;;
	ld8 loc2 = [r2]
	;;
	cmp.geu p6, p0 = 1, loc2
(p6)	br.cond.dpnt .Lone
	mov out0 = SSC_SAL_SET_VECTORS
	mov out1 = 2			// OS boot rendezvous
	LA out2, _start_ap
	mov out3 = 0
	mov out4 = 0
	;;
	CALL ssc
	mov loc3 = 1
	movl loc4 = REGION6 + PIB_BASE
	mov loc5 = VEC_IPI
	;;
1:	shl r2 = loc3, 12		// target id << 12 (eid 0)
	;;
	add r2 = r2, loc4
	;;
	st8 [r2] = loc5
	;;
	mf
	adds loc3 = 1, loc3
	;;
	cmp.ltu p6, p0 = loc3, loc2
(p6)	br.cond.dptk 1b
	;;
	mov loc6 = ar.itc
	movl r2 = 10000000000		// 10 s
	adds loc7 = -1, loc2		// secondaries expected
	;;
	add loc6 = loc6, r2
	LA loc3, k_online
	;;
2:	ld8.acq r2 = [loc3]
	mov r3 = ar.itc
	;;
	cmp.eq p6, p0 = r2, loc7
	cmp.ltu p7, p0 = loc6, r3
(p6)	br.cond.dptk 3f
(p7)	br.cond.dpnt 4f
	hint @pause
	br.sptk.few 2b
	;;
3:	mov loc3 = ar.itc
	;;
	PRINTF "hpvmk: %u vCPUs online at itc %u\n", loc2, loc3
.Lone:
	RET
4:	adds loc3 = 1, r2
	PRINTF "FAIL kernel: only %u of %u vCPUs came online within 10 s\n", loc3, loc2
	mov out0 = 1
	CALL kexit
END start_aps

// participates(wl, cpu, n, both) -> r8: does vCPU `cpu` of `n` run a slot of workload wl?
// The disk and memsum are driven by vCPU 0 (the platform sends device interrupts there), the heartbeat by
// the last vCPU, idle by all; memverify and memstress share all vCPUs, or split them even/odd
// when both run.
ENTRY participates, 4, 2, 0
	mov r8 = 0
	adds r2 = -1, in2
	cmp.eq p6, p0 = WL_DISK, in0
	cmp.eq p7, p0 = WL_HB, in0
	cmp.eq p8, p0 = WL_IDLE, in0
	;;
	cmp.eq.or p6, p0 = WL_MSUM, in0
	;;
(p6)	cmp.eq.unc p9, p0 = 0, in1
(p7)	cmp.eq.unc p10, p0 = r2, in1
	;;
	.pred.rel "mutex", p8, p9, p10
(p9)	mov r8 = 1
(p10)	mov r8 = 1
(p8)	mov r8 = 1
(p6)	br.cond.dpnt .Lp_out
(p7)	br.cond.dpnt .Lp_out
(p8)	br.cond.dpnt .Lp_out
	// memverify / memstress
	cmp.eq p6, p0 = 0, in3		// not both: everyone
	cmp.eq p7, p0 = 1, in2		// one vCPU: it runs both
	;;
(p6)	mov r8 = 1
	and r3 = 1, in1
	cmp.eq p8, p9 = WL_MEMV, in0
	;;
(p7)	mov r8 = 1
(p8)	cmp.eq.unc p10, p0 = 0, r3
(p9)	cmp.eq.unc p11, p0 = 1, r3
	;;
	.pred.rel "mutex", p10, p11
(p10)	mov r8 = 1
(p11)	mov r8 = 1
.Lp_out:
	RET
END participates

// plan(): memory layout, the disk, and every vCPU's workload slots.
ENTRY plan, 0, 10, 4
	CALL mem_layout
	LA r2, k_enabled
	;;
	ld8 r3 = [r2]			// WL_DISK
	;;
	cmp.eq p6, p0 = 0, r3
(p6)	br.cond.dptk 1f
	CALL disk_select
1:	LA r2, k_enabled
	LA r3, k_ncpus
	;;
	adds r8 = WL_MEMV * 8, r2
	adds r9 = WL_MEMS * 8, r2
	ld8 loc3 = [r3]			// n
	;;
	ld8 r8 = [r8]
	ld8 r9 = [r9]
	;;
	and loc4 = r8, r9		// both memory workloads
	mov loc2 = 0			// wl
	;;
.Lwl:
	LA r2, k_enabled
	;;
	shladd r2 = loc2, 3, r2
	;;
	ld8 r3 = [r2]
	mov loc5 = 0			// participants so far
	mov loc6 = 0			// cpu
	;;
	cmp.eq p6, p0 = 0, r3
(p6)	br.cond.dpnt .Lwl_next
.Lcpu:
	mov out0 = loc2
	mov out1 = loc6
	mov out2 = loc3
	mov out3 = loc4
	;;
	CALL participates
	cmp.eq p6, p0 = 0, r8
	;;
(p6)	br.cond.dpnt .Lcpu_next
	LA r2, percpu_areas		// add a slot to that vCPU
	shl r3 = loc6, PERCPU_SHIFT
	;;
	add r2 = r2, r3
	;;
	adds r3 = PC_NSLOTS, r2
	;;
	ld8 r8 = [r3]
	;;
	adds r9 = 1, r8
	shl r10 = r8, 9			// * SLOT_SIZE
	;;
	st8 [r3] = r9
	add r10 = r10, r2
	;;
	adds r10 = PC_SLOTS, r10
	;;
	st8 [r10] = loc2		// SL_KIND
	adds r11 = SL_INDEX, r10
	;;
	st8 [r11] = loc5
	adds loc5 = 1, loc5
.Lcpu_next:
	adds loc6 = 1, loc6
	;;
	cmp.ltu p6, p0 = loc6, loc3
(p6)	br.cond.dptk .Lcpu
	// every slot of this workload learns the number of participants
	LA r2, k_left
	LA r3, k_wl_left
	;;
	shladd r2 = loc2, 3, r2
	ld8 r8 = [r3]
	;;
	st8 [r2] = loc5
	adds r8 = 1, r8
	;;
	st8 [r3] = r8
	mov loc6 = 0
	;;
.Lnpart:
	LA r2, percpu_areas
	shl r3 = loc6, PERCPU_SHIFT
	;;
	add r2 = r2, r3
	;;
	adds r3 = PC_NSLOTS, r2
	adds loc7 = PC_SLOTS, r2
	;;
	ld8 loc8 = [r3]
	;;
.Lslot:
	cmp.eq p6, p0 = 0, loc8
(p6)	br.cond.dpnt .Lnpart_next
	ld8 r2 = [loc7]
	adds r3 = SL_NPART, loc7
	adds loc8 = -1, loc8
	;;
	cmp.eq p7, p0 = r2, loc2
	;;
(p7)	st8 [r3] = loc5
	adds loc7 = SLOT_SIZE, loc7
	br.sptk.few .Lslot
	;;
.Lnpart_next:
	adds loc6 = 1, loc6
	;;
	cmp.ltu p6, p0 = loc6, loc3
(p6)	br.cond.dptk .Lnpart
.Lwl_next:
	adds loc2 = 1, loc2
	;;
	cmp.ne p7, p0 = NWL, loc2
(p7)	br.cond.dptk .Lwl
	;;
	RET
END plan

// slot_ptr(i) -> r8: this vCPU's slot i.
ENTRY slot_ptr, 1, 2, 0
	shl r2 = in0, 9
	;;
	add r8 = r13, r2
	;;
	adds r8 = PC_SLOTS, r8
	RET
END slot_ptr

// call_wl(table, slot) -> r8: table[slot.kind](slot)
ENTRY call_wl, 2, 2, 1
	ld8 r2 = [in1]
	;;
	shladd r2 = r2, 3, in0
	mov out0 = in1
	;;
	ld8 r2 = [r2]
	;;
	mov b6 = r2
	;;
	br.call.sptk.many b0 = b6
	;;
	RET
END call_wl

// cpu_loop(): start this vCPU's slots, then step them forever; halt while none has work.
ENTRY cpu_loop, 0, 10, 3
	adds r2 = PC_NSLOTS, r13
	;;
	ld8 loc2 = [r2]
	mov loc3 = 0
	;;
1:	cmp.eq p6, p0 = loc3, loc2
(p6)	br.cond.dpnt .Lrun
	mov out0 = loc3
	CALL slot_ptr
	mov loc4 = r8
	mov out0 = r8
	;;
	CALL slot_start
	LA out0, wl_init_tab
	mov out1 = loc4
	;;
	CALL call_wl
	adds loc3 = 1, loc3
	br.sptk.few 1b
	;;
.Lrun:
	LA r2, k_shutdown
	adds r3 = PC_WAKE, r13
	mov r9 = -1
	;;
	ld8 r2 = [r2]
	st8 [r3] = r9			// no deadline yet this round: the steps add theirs (wake_at)
	;;
	cmp.eq p6, p0 = 1, r2
(p6)	br.call.spnt.many b0 = shutdown_note
	;;
	adds r2 = PC_IRQS, r13
	;;
	ld8 loc5 = [r2]			// interrupts so far: one after this wakes the halt below
	mov loc3 = 0			// slot
	mov loc6 = 0			// any work done
	mov loc7 = 0			// slots still running
	;;
.Lstep:
	cmp.eq p6, p0 = loc3, loc2
(p6)	br.cond.dpnt .Lstepped
	mov out0 = loc3
	CALL slot_ptr
	mov loc4 = r8
	adds r2 = SL_DONE, r8
	;;
	ld8 r2 = [r2]
	adds loc3 = 1, loc3
	;;
	cmp.ne p6, p0 = 0, r2
(p6)	br.cond.dptk .Lstep
	adds loc7 = 1, loc7
	LA out0, wl_step_tab
	mov out1 = loc4
	;;
	CALL call_wl
	cmp.eq p6, p0 = 1, r8
	cmp.eq p7, p0 = 2, r8
	;;
	.pred.rel "mutex", p6, p7
(p6)	mov loc6 = 1
(p7)	mov loc6 = 1
(p7)	adds r2 = SL_DONE, loc4
	mov r3 = 1
	mov out0 = loc4
	;;
(p7)	st8 [r2] = r3
(p7)	br.call.sptk.many b0 = slot_done
	;;
	br.sptk.few .Lstep
	;;
.Lstepped:
	cmp.eq p6, p0 = 0, loc6
	;;
(p6)	mov out0 = loc5
(p6)	br.call.sptk.many b0 = halt_wait
	;;
	br.sptk.few .Lrun
	;;
END cpu_loop

// shutdown_note(): the first vCPU to see a new shutdown request says so (k_shutdown 1 -> 2)
// and wakes every other vCPU with an IPI: without a periodic tick a halted vCPU with no
// deadline would otherwise not look at k_shutdown again.
ENTRY shutdown_note, 0, 6, 2
	LA r2, k_shutdown
	mov r3 = 2
	mov ar.ccv = 1
	;;
	cmpxchg8.acq r8 = [r2], r3, ar.ccv
	;;
	cmp.ne p6, p0 = 1, r8
(p6)	br.cond.dpnt 2f
	mov loc2 = ar.itc
	PRINTF "hpvmk: shutdown requested at itc %u: stopping the workloads\n", loc2
	LA r2, k_ncpus
	movl loc4 = REGION6 + PIB_BASE
	mov loc2 = 0			// target vCPU
	;;
	ld8 loc3 = [r2]
	ld8 loc5 = [r13]		// PC_ID: this vCPU, awake already
	mov r9 = VEC_IPI
	;;
1:	cmp.eq p6, p0 = loc2, loc5
	shl r2 = loc2, 12		// target id << 12 (eid 0)
	;;
	add r2 = r2, loc4
	;;
(p6)	br.cond.dpnt 3f
	st8 [r2] = r9
	;;
	mf
3:	adds loc2 = 1, loc2
	;;
	cmp.ltu p7, p0 = loc2, loc3
(p7)	br.cond.dptk 1b
2:	RET
END shutdown_note

// halt_wait(irqs): sleep in HALT_LIGHT until an interrupt, unless one came since the count
// `irqs` was read (interrupts are off across the check and the halt, so none slips between).
// Before halting, arm the timer for this round's earliest deadline (PC_WAKE), or mask it when
// there is none; a deadline already reached (or passed while arming: a match in the past never
// fires) means no halt at all.
ENTRY halt_wait, 1, 2, 1
	rsm psr.i
	;;
	adds r2 = PC_IRQS, r13
	adds r10 = PC_WAKE, r13
	;;
	ld8 r2 = [r2]
	ld8 r10 = [r10]
	mov r11 = VEC_TIMER
	movl r14 = VEC_TIMER | ITV_M
	;;
	cmp.ne p6, p0 = r2, in0		// an interrupt came since: look for work again
	cmp.eq p7, p8 = -1, r10		// no deadline: no timer
	adds r3 = PC_NEXT_ITM, r13
	;;
(p6)	br.cond.dpnt 1f
(p7)	mov cr.itv = r14
(p8)	mov cr.itv = r11
	;;
(p8)	mov cr.itm = r10
(p8)	st8 [r3] = r10			// for the latency the timer handler records
	;;
	srlz.d
	;;
	mov r9 = ar.itc
	adds r3 = PC_HALTS, r13
	;;
(p8)	cmp.geu.unc p6, p0 = r9, r10
	;;
(p6)	br.cond.dpnt 1f
	mov r15 = SSC_HALT_LIGHT
	ld8 r9 = [r3]
	;;
	break.m SSC_BREAK
	adds r9 = 1, r9
	;;
	st8 [r3] = r9
1:	ssm psr.i
	;;
	srlz.d
	RET
END halt_wait

// slot_start(slot): start time, end time from time=, pacing reset.
ENTRY slot_start, 1, 4, 3
	mov loc2 = ar.itc
	ld8 out0 = [in0]		// kind
	mov out1 = P_TIME
	mov out2 = 0
	;;
	CALL param
	adds r2 = SL_START, in0
	adds r3 = SL_END, in0
	adds r9 = SL_DUE, in0
	cmp.ne p6, p0 = 0, r8
	;;
	st8 [r2] = loc2
	st8 [r9] = loc2
(p6)	add r8 = r8, loc2
	;;
	st8 [r3] = r8
	RET
END slot_start

// slot_expired(slot) -> r8 = 1 when the slot's time= has run out, or the VM was asked to shut
// down: each workload then ends at its next clean point (its own time= boundary) and passes.
// A time= not yet run out is a deadline of this vCPU (wake_at).
	.global slot_expired
ENTRY slot_expired, 1, 3, 1
	adds r2 = SL_END, in0
	mov r3 = ar.itc
	mov loc2 = 0
	LA r9, k_shutdown
	;;
	ld8 r2 = [r2]
	ld8 r9 = [r9]
	;;
	cmp.ne p6, p0 = 0, r2
	cmp.ne p8, p0 = 0, r9		// a shutdown request ends every workload's time now
	mov out0 = r2
	;;
(p6)	cmp.leu.unc p7, p9 = r2, r3
	;;
(p7)	mov loc2 = 1
(p9)	br.call.sptk.many b0 = wake_at
	;;
(p8)	mov loc2 = 1
	;;
	mov r8 = loc2
	RET
END slot_expired

// wake_at(itc): this vCPU must look at its slots again by ar.itc = itc; halt_wait arms the
// timer for the earliest such deadline of the round (PC_WAKE).
	.global wake_at
ENTRY wake_at, 1, 2, 0
	adds r2 = PC_WAKE, r13
	;;
	ld8 r3 = [r2]
	;;
	cmp.ltu p6, p0 = in0, r3
	;;
(p6)	st8 [r2] = in0
	RET
END wake_at

// slot_pace_setup(slot, rate_mbps): pacing for a workload that moves `rate` MiB/s in all,
// split evenly between its participants, counted in 64 KiB units.
	.global slot_pace_setup
ENTRY slot_pace_setup, 2, 3, 2
	adds r2 = SL_UNIT_NS, in0
	cmp.eq p6, p0 = 0, in1
	;;
(p6)	st8 [r2] = r0
(p6)	br.cond.dpnt 1f
	adds r3 = SL_NPART, in0
	;;
	ld8 out1 = [r3]
	movl out0 = 62500000		// ns per 64 KiB at 1 MiB/s
	;;
	CALL umul
	mov out0 = r8
	mov out1 = in1
	;;
	CALL udiv
	adds r2 = SL_UNIT_NS, in0
	;;
	st8 [r2] = r8
1:	RET
END slot_pace_setup

// slot_pace(slot) -> r8 = 1 when the next 64 KiB unit may go now (and books it), 0 to wait
// (until the unit is due, but at least PACE_SLACK_NS: wake_at). Credit does not pile up beyond
// 100 ms, so a paced workload never bursts more than that.
	.global slot_pace
ENTRY slot_pace, 1, 2, 1
	adds r2 = SL_UNIT_NS, in0
	adds r3 = SL_DUE, in0
	mov r9 = ar.itc
	;;
	ld8 r2 = [r2]
	ld8 r10 = [r3]
	mov r8 = 1
	movl r11 = 100000000
	;;
	cmp.eq p6, p0 = 0, r2
	sub r11 = r9, r11
(p6)	br.cond.dptk 1f
	cmp.ltu p7, p0 = r9, r10
	;;
(p7)	br.cond.dptk 2f
	cmp.lt p8, p0 = r10, r11	// signed: now - 100 ms is negative early on
	;;
(p8)	mov r10 = r11
	;;
	add r10 = r10, r2
	;;
	st8 [r3] = r10
1:	RET
2:	movl r2 = PACE_SLACK_NS
	;;
	add out0 = r9, r2
	;;
	cmp.ltu p6, p0 = out0, r10
	;;
(p6)	mov out0 = r10
	CALL wake_at
	mov r8 = 0
	RET
END slot_pace

// slot_done(slot): the slot finished; the last of its workload prints the workload's result,
// the last workload ends the run.
ENTRY slot_done, 1, 4, 2
	ld8 loc2 = [in0]		// kind
	LA r2, k_left
	;;
	shladd r2 = loc2, 3, r2
	;;
	fetchadd8.acq r3 = [r2], -1
	;;
	cmp.ne p6, p0 = 1, r3
(p6)	br.cond.dptk 1f
	LA r2, wl_finish_tab
	;;
	shladd r2 = loc2, 3, r2
	;;
	ld8 r2 = [r2]
	;;
	mov b6 = r2
	;;
	br.call.sptk.many b0 = b6
	;;
	LA r2, wl_names
	;;
	shladd r2 = loc2, 3, r2
	;;
	ld8 loc3 = [r2]
	;;
	PRINTF "PASS %s\n", loc3
	LA r2, k_wl_left
	;;
	fetchadd8.acq r3 = [r2], -1
	;;
	cmp.ne p6, p0 = 1, r3
(p6)	br.cond.dptk 1f
	CALL all_done
1:	RET
END slot_done

// all_done(): every workload passed: print each vCPU's counters and power off with 0 (after
// "PASS shutdown" when a shutdown request ended them).
ENTRY all_done, 0, 10, 8
	LA r2, k_ncpus
	;;
	ld8 loc2 = [r2]
	mov loc3 = 0
	;;
1:	LA r2, percpu_areas
	shl r3 = loc3, PERCPU_SHIFT
	;;
	add loc4 = r2, r3
	;;
	adds r2 = PC_TICKS, loc4
	adds r3 = PC_MAXLAT, loc4
	adds r8 = PC_SUMLAT, loc4
	;;
	ld8 loc5 = [r2]
	ld8 loc6 = [r3]
	ld8 out0 = [r8]
	;;
	mov out1 = loc5
	cmp.eq p6, p0 = 0, loc5		// no timer interrupt at all (a busy vCPU): mean 0
	;;
(p6)	mov out1 = 1
	CALL udiv			// mean latency
	mov out0 = loc6
	mov out1 = 1000
	mov loc7 = r8
	;;
	CALL udiv
	mov loc6 = r8			// worst, us
	mov out0 = loc7
	mov out1 = 1000
	;;
	CALL udiv
	mov loc7 = r8			// mean, us
	PRINTF "hpvmk: cpu %u: %u timer interrupts (tickless: deadlines only), latency worst %u us mean %u us\n", loc3, loc5, loc6, loc7
	adds r2 = PC_DTLB, loc4
	adds r3 = PC_ALTDTLB, loc4
	adds r8 = PC_HALTS, loc4
	adds r9 = PC_IRQS, loc4
	;;
	ld8 loc5 = [r2]
	ld8 loc6 = [r3]
	ld8 loc7 = [r8]
	ld8 loc8 = [r9]
	;;
	PRINTF "hpvmk: cpu %u: %u data TLB misses handled (the VHPT walker resolved the others), %u device mappings, %u interrupts, %u halts\n", loc3, loc5, loc6, loc8, loc7
	adds loc3 = 1, loc3
	;;
	cmp.ltu p6, p0 = loc3, loc2
(p6)	br.cond.dptk 1b
	mov loc3 = ar.itc
	;;
	PRINTF "hpvmk: all workloads passed at itc %u\n", loc3
	LA r2, k_shutdown
	;;
	ld8 r2 = [r2]
	;;
	cmp.eq p6, p0 = 0, r2
(p6)	br.cond.dptk 2f
	PRINTF "PASS shutdown\n"
2:	mov out0 = 0
	CALL kexit
END all_done

// kfatal(): report the fatal interruption ivt.S saved in the per-CPU area, exit 1.
	.global kfatal
ENTRY kfatal, 0, 8, 3
	mov loc2 = ar.k0
	CALL con_lock_bounded
	adds r2 = PC_F_VEC, loc2
	adds r3 = PC_PANIC, loc2
	;;
	ld8 loc3 = [r2]			// vector offset
	ld8 loc4 = [r3]			// reason + 1
	LA r2, vecnames
	;;
1:	ld8 r3 = [r2], 8
	;;
	ld8 loc5 = [r2], 8		// its name
	cmp.eq p6, p0 = r3, loc3
	cmp.eq p7, p0 = -1, r3
	;;
(p6)	br.cond.dpnt 2f
(p7)	br.cond.dpnt 2f
	br.sptk.few 1b
	;;
2:	LA r2, reasons
	adds r3 = -1, loc4
	;;
	shladd r2 = r3, 3, r2
	;;
	ld8 loc4 = [r2]
	adds r12 = -96, r12
	;;
	adds r2 = 16, r12
	ld8 r3 = [loc2]			// PC_ID
	;;
	st8 [r2] = loc4, 8
	;;
	st8 [r2] = loc3, 8
	;;
	st8 [r2] = loc5, 8
	;;
	st8 [r2] = r3
	LA out0, .Lfatal1
	adds out1 = 16, r12
	;;
	CALL kvprintf_locked
	adds r2 = PC_F_IIP, loc2
	adds r3 = 16, r12
	;;
	ld8 r8 = [r2], 8
	;;
	st8 [r3] = r8, 8
	ld8 r8 = [r2], 8		// isr
	;;
	st8 [r3] = r8, 8
	ld8 r8 = [r2], 8		// ifa
	;;
	st8 [r3] = r8, 8
	ld8 r8 = [r2], 8		// iim
	;;
	st8 [r3] = r8, 8
	ld8 r8 = [r2], 8		// ipsr
	;;
	st8 [r3] = r8
	LA out0, .Lfatal2
	adds out1 = 16, r12
	;;
	CALL kvprintf_locked
	CALL con_unlock
	mov out0 = 1
	CALL kexit
END kfatal
	.section .rodata.str, "a"
.Lfatal1:	.asciz "FAIL kernel: %s: vector 0x%04x (%s) on cpu %u\n"
.Lfatal2:	.asciz "hpvmk: iip %016x isr %016x ifa %016x iim %x ipsr %016x\n"
