// start.S — how a vCPU gets from the platform's boot state (physical mode, psr = 0, a 96-register
// frame, r28 = boot information on the boot vCPU) to the kernel's running state: its per-CPU area
// (ar.k0/r13), register backing store and memory stack, the interruption vector table, region
// registers, the short-format VHPT, the two TRs that pin [0, 16 MiB), its timer, and an rfi into
// virtual mode with interruption collection and interrupts on. The boot vCPU first copies what
// it needs out of the boot information block (docs/platform.md "Boot"); secondaries enter at
// _start_ap when the boot vCPU wakes them (SAL_SET_VECTORS + IPI, main.S).
	.include "kernel.inc"

	.section .text.entry, "ax"
	.align 32
	.global _start
	.proc _start
_start:
	mov r2 = ar.itc
	LA r3, k_boot_itc
	;;
	st8 [r3] = r2
	LA r3, k_bootinfo
	;;
	st8 [r3] = r28
	mov r8 = 0
	br.sptk.many cpu_boot
	;;
	.endp _start

	.align 32
	.global _start_ap
	.proc _start_ap
_start_ap:
	mov r2 = cr.lid
	;;
	extr.u r8 = r2, 24, 8		// cr.lid.id: this vCPU's number
	br.sptk.many cpu_boot
	;;
	.endp _start_ap

// cpu_boot: r8 = vCPU number; physical mode, nothing set up yet.
	.align 32
	.proc cpu_boot
cpu_boot:
	LA r2, percpu_areas
	shl r3 = r8, PERCPU_SHIFT
	;;
	add r13 = r2, r3
	;;
	mov ar.k0 = r13
	st8 [r13] = r8			// PC_ID
	adds r2 = PERCPU_RBS, r13
	movl r3 = PERCPU_STACK
	;;
	add r12 = r13, r3
	mov ar.rsc = 0			// enforced lazy: ar.bspstore may be written
	;;
	mov ar.bspstore = r2
	;;
	mov ar.rnat = r0
	;;
	mov ar.rsc = 3			// eager, privilege level 0
	alloc r2 = ar.pfs, 0, 0, 8, 0	// a small frame with outputs for the calls below
	;;
	cmp.ne p6, p0 = 0, r8
(p6)	br.cond.dptk 1f
	CALL boot_info			// the boot vCPU: read the boot information first
1:	CALL cpu_init_phys
	movl r2 = PSR_KERNEL
	LA r3, cpu_virtual
	;;
	mov cr.ipsr = r2
	mov cr.iip = r3
	mov cr.ifs = r0
	;;
	rfi
	;;
	.endp cpu_boot

// First instruction in virtual mode.
	.align 32
	.proc cpu_virtual
cpu_virtual:
	ld8 r2 = [r13]			// PC_ID
	mov r3 = ar.itc
	adds r14 = PC_ONLINE_ITC, r13
	;;
	st8 [r14] = r3
	cmp.eq p6, p7 = 0, r2
	;;
(p6)	br.call.sptk.many b0 = bsp_main	// neither returns
(p7)	br.call.sptk.many b0 = ap_main
	;;
	.endp cpu_virtual

// cpu_init_phys(): this vCPU's translation and interruption state, still in physical mode
// with interruption collection off (itr needs psr.ic = 0).
ENTRY cpu_init_phys, 0, 4, 0
	LA r2, ivt
	;;
	mov cr.iva = r2
	;;
	srlz.i
	;;
	// Region 0: RAM, 64 KiB pages, VHPT walker on. Regions 1-7: 4 KiB pages, walker off
	// (6 is the uncacheable device region, the others must never be touched).
	movl r2 = (RID_BASE << 8) | (RR_PS0 << 2) | 1
	;;
	mov rr[r0] = r2
	mov loc2 = 1
	;;
1:	shl r3 = loc2, 61
	adds r2 = RID_BASE, loc2
	;;
	shl r2 = r2, 8
	;;
	adds r2 = RR_PS6 << 2, r2
	;;
	mov rr[r3] = r2
	adds loc2 = 1, loc2
	;;
	cmp.ne p6, p0 = 8, loc2
(p6)	br.cond.dptk 1b
	;;
	srlz.d
	// The short-format VHPT: PTA.base | size | ve.
	LA r2, vhpt
	;;
	adds r2 = (VHPT_SHIFT << 2) | 1, r2
	;;
	mov cr.pta = r2
	;;
	srlz.d
	// Pin [0, 16 MiB) — kernel, per-CPU areas, VHPT — with instruction and data TR 0.
	mov r2 = PINNED_PS << 2
	movl r3 = PTE_KERNEL
	;;
	mov cr.itir = r2
	mov cr.ifa = r0
	;;
	srlz.d
	;;
	itr.i itr[r0] = r3
	;;
	srlz.i
	;;
	itr.d dtr[r0] = r3
	;;
	srlz.d
	// Interrupt control: no DCR deferral, nothing masked by priority, the timer masked (there
	// is no periodic tick: halt_wait arms it for a deadline, main.S).
	mov cr.dcr = r0
	mov cr.tpr = r0
	movl r2 = VEC_TIMER | ITV_M
	;;
	mov cr.itv = r2
	;;
	srlz.d
	RET
END cpu_init_phys

// boot_info(): copy what the kernel needs out of the boot information block (physical mode:
// the block and the command line lie in RAM above the kernel).
ENTRY boot_info, 0, 8, 8
	LA r2, k_bootinfo
	;;
	ld8 loc2 = [r2]			// the block
	movl r3 = 0x544f4f424d565048	// "HPVMBOOT"
	;;
	ld8 r2 = [loc2]
	;;
	cmp.eq p6, p0 = r2, r3
(p6)	br.cond.dptk 1f
	PRINTF "FAIL kernel: no boot information block at r28 (0x%x)\n", loc2
	mov out0 = 1
	CALL kexit
1:	adds r2 = BI_VERSION, loc2
	adds r3 = BI_ITCHZ, loc2
	movl r9 = 1000000000
	;;
	ld4 loc3 = [r2]
	ld8 loc4 = [r3]
	;;
	cmp.ne p6, p0 = 1, loc3
	cmp.ne p7, p0 = loc4, r9
	;;
(p6)	br.cond.dpnt .Lversion
(p7)	br.cond.dpnt .Litc
	adds r2 = BI_RAM, loc2
	adds r3 = BI_NCPUS, loc2
	;;
	ld8 r8 = [r2]
	ld4 r9 = [r3]
	LA r10, k_ram_size
	LA r11, k_ncpus
	;;
	st8 [r10] = r8
	cmp.ltu p6, p0 = MAX_CPUS, r9	// more vCPUs than the kernel has areas for: use the first ones
	;;
(p6)	mov r9 = MAX_CPUS
	;;
	st8 [r11] = r9
	// Memory ranges, and the top of RAM the region-0 handlers accept (below VA_LIMIT).
	adds r2 = BI_NRANGES, loc2
	;;
	ld4 loc3 = [r2]
	adds loc4 = BI_RANGES, loc2
	LA loc5, k_ranges
	mov loc6 = 0			// highest end
	;;
	cmp.ltu p6, p0 = 8, loc3
	;;
(p6)	mov loc3 = 8
	LA r2, k_nranges
	;;
	st8 [r2] = loc3
2:	cmp.eq p6, p0 = 0, loc3
(p6)	br.cond.dpnt 3f
	ld8 r8 = [loc4], 8		// base
	;;
	ld8 r9 = [loc4], 8		// length
	st8 [loc5] = r8, 8
	;;
	st8 [loc5] = r9, 8
	add r10 = r8, r9
	adds loc3 = -1, loc3
	;;
	cmp.ltu p7, p0 = loc6, r10
	;;
(p7)	mov loc6 = r10
	br.sptk.few 2b
	;;
3:	movl r2 = VA_LIMIT
	;;
	cmp.ltu p6, p0 = r2, loc6
	;;
(p6)	mov loc6 = r2
	LA r3, k_ram_top
	;;
	st8 [r3] = loc6
	// Devices: the first console; every avio_stor disk (main.S picks one).
	adds r2 = BI_NDEV, loc2
	;;
	ld4 loc3 = [r2]
	adds loc4 = BI_DEVS, loc2
	;;
	cmp.ltu p6, p0 = 32, loc3
	;;
(p6)	mov loc3 = 32
	;;
4:	cmp.eq p6, p0 = 0, loc3
(p6)	br.cond.dpnt 6f
	ld4 r8 = [loc4]			// type
	adds r2 = 4, loc4
	adds r3 = 8, loc4
	adds r9 = 16, loc4
	;;
	ld4 r10 = [r2]			// vector
	ld8 r11 = [r3]			// register base (physical)
	ld8 r14 = [r9]			// size or capacity
	cmp.eq p7, p0 = DEV_CONSOLE, r8
	cmp.eq p8, p0 = DEV_STOR, r8
	;;
(p7)	movl r2 = k_con_base
	;;
(p7)	ld8 r3 = [r2]
	;;
(p7)	cmp.eq.unc p9, p0 = 0, r3
	;;
(p9)	st8 [r2] = r11
(p8)	movl r2 = k_ndisks
	;;
(p8)	ld8 r3 = [r2]
	;;
(p8)	cmp.ltu.unc p10, p0 = 7, r3	// keep the first 8
	;;
(p10)	br.cond.dpnt 5f
(p8)	adds r9 = 1, r3
	LA r15, k_disks
	;;
(p8)	st8 [r2] = r9
(p8)	shladd r15 = r3, 3, r15		// 24 bytes each: base, vector, capacity
(p8)	shladd r3 = r3, 4, r0
	;;
(p8)	add r15 = r15, r3
	;;
(p8)	st8 [r15] = r11, 8
	;;
(p8)	st8 [r15] = r10, 8
	;;
(p8)	st8 [r15] = r14
5:	adds loc4 = BI_DEV_SIZE, loc4
	adds loc3 = -1, loc3
	br.sptk.few 4b
	;;
6:	// The command line, copied into the kernel (at most 1023 bytes).
	adds r2 = BI_CMDLINE, loc2
	adds r3 = BI_CMDLEN, loc2
	;;
	ld8 loc3 = [r2]
	ld4 loc4 = [r3]
	LA loc5, k_cmdline
	mov r2 = 1023
	;;
	cmp.ltu p6, p0 = r2, loc4
	;;
(p6)	mov loc4 = r2
	;;
7:	cmp.eq p6, p0 = 0, loc4
(p6)	br.cond.dpnt 8f
	ld1 r2 = [loc3], 1
	adds loc4 = -1, loc4
	;;
	st1 [loc5] = r2, 1
	br.sptk.few 7b
	;;
8:	st1 [loc5] = r0
	RET
.Lversion:
	PRINTF "FAIL kernel: boot information version %u; hpvmk knows version 1\n", loc3
	mov out0 = 1
	CALL kexit
.Litc:
	PRINTF "FAIL kernel: ar.itc runs at %u Hz; hpvmk counts time at 1 GHz (docs/platform.md)\n", loc4
	mov out0 = 1
	CALL kexit
END boot_info
