// ivt.S — the interruption vector table and its handlers.
//
// Handled (everything runs on bank 0 with interruption collection off, touches only memory the
// data TR pins, and returns with rfi):
//   0x0400 Instruction TLB, 0x0800 Data TLB: a region-0 page the VHPT walker did not find:
//          write its short-format entry at thash(ifa) (checked against cr.iha) and insert it
//          with itc; the walker finds it there next time. A reference beyond RAM is fatal.
//   0x1000 Alternate Data TLB: region 6 (walker off) — the device window and the PIB, inserted
//          uncacheable with 4 KiB pages. Anything else is fatal.
//   0x3000 External Interrupt: cr.ivr until spurious; the timer (a deadline halt_wait armed:
//          count it and record the latency), disk completions (ack the device, physically), IPIs,
//          the console's shutdown request (ack it, set k_shutdown).
// Every other vector is fatal: the handler saves the interruption registers, switches to
// bank 1, turns collection back on and prints "FAIL kernel: ..." with vector, iip, isr, ifa,
// then exits 1 (kfatal).
	.include "kernel.inc"

	.macro VEC_FATAL off
	.org ivt + \off
{ .mib
	nop.m 0
	mov r16 = \off
	br.sptk.many ivt_fatal
}
	.endm

	.section .text.ivt, "ax"
	.align 32768
	.global ivt
ivt:
	VEC_FATAL 0x0000		// VHPT Translation: the VHPT is pinned, so never expected

	.org ivt + 0x0400		// Instruction TLB
	mov r16 = cr.ifa
	mov r31 = pr
	mov r29 = 1			// an instruction reference
	mov r28 = 1			// cr.iha is valid
	br.sptk.many tlb_miss_region0
	;;

	.org ivt + 0x0800		// Data TLB
	mov r16 = cr.ifa
	mov r31 = pr
	mov r29 = 0
	mov r28 = 1
	br.sptk.many tlb_miss_region0
	;;

	VEC_FATAL 0x0c00		// Alternate Instruction TLB

	.org ivt + 0x1000		// Alternate Data TLB
	mov r16 = cr.ifa
	mov r31 = pr
	br.sptk.many alt_dtlb_miss
	;;

	VEC_FATAL 0x1400
	VEC_FATAL 0x1800
	VEC_FATAL 0x1c00
	VEC_FATAL 0x2000
	VEC_FATAL 0x2400
	VEC_FATAL 0x2800
	VEC_FATAL 0x2c00		// Break (the SSC break never reaches the guest)

	.org ivt + 0x3000		// External Interrupt
	mov r31 = pr
	mov r30 = ar.k0
	br.sptk.many ext_interrupt
	;;

	VEC_FATAL 0x3400
	VEC_FATAL 0x3800
	VEC_FATAL 0x3c00
	VEC_FATAL 0x4000
	VEC_FATAL 0x4400
	VEC_FATAL 0x4800
	VEC_FATAL 0x4c00
	.org ivt + 0x5000		// Page Not Present: a VHPT entry with p = 0 the walker inserted
	mov r16 = cr.ifa
	mov r31 = pr
	mov r17 = cr.isr
	;;
	extr.u r29 = r17, 32, 1		// isr.x: an instruction reference
	mov r28 = 0			// no cr.iha for this vector
	br.sptk.many tlb_miss_region0
	;;
	.irp off, 0x5100, 0x5200, 0x5300, 0x5400, 0x5500, 0x5600, 0x5700
	VEC_FATAL \off
	.endr
	.irp off, 0x5800, 0x5900, 0x5a00, 0x5b00, 0x5c00, 0x5d00, 0x5e00, 0x5f00
	VEC_FATAL \off
	.endr
	.irp off, 0x6000, 0x6100, 0x6200, 0x6300, 0x6400, 0x6500, 0x6600, 0x6700
	VEC_FATAL \off
	.endr
	.irp off, 0x6800, 0x6900, 0x6a00, 0x6b00, 0x6c00, 0x6d00, 0x6e00, 0x6f00
	VEC_FATAL \off
	.endr
	.irp off, 0x7000, 0x7100, 0x7200, 0x7300, 0x7400, 0x7500, 0x7600, 0x7700
	VEC_FATAL \off
	.endr
	.irp off, 0x7800, 0x7900, 0x7a00, 0x7b00, 0x7c00, 0x7d00, 0x7e00, 0x7f00
	VEC_FATAL \off
	.endr
	.org ivt + 0x8000

	.text
// tlb_miss_region0: r16 = cr.ifa, r31 = saved pr, r29 = 1 for an instruction reference (0 for
// data), r28 = 1 when cr.iha holds the VHPT address (TLB vectors; not Page Not Present).
// An implementation's walker may insert a not-present VHPT entry and raise Page Not Present,
// or raise a TLB miss; either way the page gets its entry and the translation: a stale
// not-present one is purged first.
	.align 32
	.proc tlb_miss_region0
tlb_miss_region0:
	LA r17, k_ram_top
	thash r18 = r16
	mov r19 = cr.iha
	;;
	ld8 r17 = [r17]
	cmp.eq p10, p0 = 1, r28
	movl r20 = PTE_KERNEL
	;;
	cmp.geu p6, p0 = r16, r17
	dep r21 = r0, r16, 0, RR_PS0	// the 64 KiB page, one to one
(p10)	cmp.ne.and p10, p0 = r18, r19
	;;
(p6)	br.cond.spnt .Lwild
(p10)	br.cond.spnt .Liha_bad
	or r21 = r21, r20
	cmp.eq p8, p9 = 1, r29
	mov r22 = ar.k0
	;;
	st8 [r18] = r21			// the VHPT entry the walker will find next time
(p8)	adds r22 = PC_ITLB, r22
(p9)	adds r22 = PC_DTLB, r22
	mov r24 = RR_PS0 << 2
	;;
	ld8 r23 = [r22]
	;;
	adds r23 = 1, r23
	;;
	st8 [r22] = r23
	cmp.eq p11, p0 = 0, r28
	;;
(p11)	ptc.l r16, r24
	;;
(p11)	srlz.i
	;;
(p8)	itc.i r21
	;;
(p9)	itc.d r21
	mov pr = r31, -1
	;;
	rfi
	;;
.Lwild:
	mov r17 = 1			// reason: outside RAM
	br.sptk.many .Lvec
	;;
.Liha_bad:
	mov r17 = 2			// reason: cr.iha is not thash(cr.ifa)
	;;
.Lvec:
	cmp.eq p8, p9 = 1, r29
	cmp.eq p10, p0 = 0, r28
	;;
(p8)	mov r16 = 0x0400
(p9)	mov r16 = 0x0800
	;;
(p10)	mov r16 = 0x5000
	br.sptk.many ivt_fatal_reason
	;;
	.endp tlb_miss_region0

// alt_dtlb_miss: r16 = cr.ifa, r31 = saved pr. Region 6 only, device window or PIB only.
	.align 32
	.proc alt_dtlb_miss
alt_dtlb_miss:
	shr.u r17 = r16, 61
	dep r18 = r0, r16, 61, 3	// the physical address
	mov r22 = 0xf0
	movl r23 = 0xfee
	;;
	cmp.ne p6, p0 = 6, r17
	shr.u r19 = r18, 24
	shr.u r20 = r18, 20
	;;
(p6)	br.cond.spnt .Lnot6
	cmp.eq p7, p0 = r19, r22	// 0xf0xxxxxx: the device window
	cmp.eq p8, p0 = r20, r23	// 0xfeexxxxx: the PIB
	;;
(p7)	br.cond.sptk .Lmap
(p8)	br.cond.sptk .Lmap
	mov r17 = 1
	mov r16 = 0x1000
	br.sptk.many ivt_fatal_reason
	;;
.Lnot6:
	mov r17 = 3			// a region the kernel never uses
	mov r16 = 0x1000
	br.sptk.many ivt_fatal_reason
	;;
.Lmap:
	dep r18 = r0, r18, 0, 12
	movl r21 = PTE_DEVICE
	;;
	or r18 = r18, r21
	mov r22 = ar.k0
	;;
	adds r22 = PC_ALTDTLB, r22
	;;
	ld8 r23 = [r22]
	;;
	adds r23 = 1, r23
	;;
	st8 [r22] = r23
	;;
	itc.d r18
	mov pr = r31, -1
	;;
	rfi
	;;
	.endp alt_dtlb_miss

// ext_interrupt: r31 = saved pr, r30 = per-CPU area. Drain cr.ivr until it says spurious.
	.align 32
	.proc ext_interrupt
ext_interrupt:
.Lirq:
	mov r16 = cr.ivr
	;;
	srlz.d
	LA r19, k_disk_vec
	;;
	ld8 r19 = [r19]
	cmp.eq p6, p0 = VEC_SPURIOUS, r16
	mov r17 = VEC_TIMER
	mov r18 = VEC_IPI
	mov r22 = VEC_CONSOLE
	;;
(p6)	br.cond.spnt .Lirq_out
	cmp.eq p7, p0 = r16, r17
	cmp.eq p8, p0 = r16, r18
	cmp.eq p9, p0 = r16, r19
	cmp.eq p10, p0 = r16, r22
	adds r20 = PC_IRQS, r30
	;;
	ld8 r21 = [r20]
	;;
	adds r21 = 1, r21
	;;
	st8 [r20] = r21
(p7)	br.cond.sptk .Ltimer
(p8)	br.cond.sptk .Lipi
(p9)	br.cond.sptk .Ldisk
(p10)	br.cond.spnt .Lconsole
	adds r20 = PC_OTHERIRQ, r30
	br.sptk.few .Lcount
	;;
.Lipi:
	adds r20 = PC_IPIIRQ, r30
	br.sptk.few .Lcount
	;;
.Ldisk:
	// Acknowledge the device (status is write-1-to-clear) through its physical, uncacheable
	// address: a region-6 reference could miss the TLB, and collection is off here.
	LA r17, k_disk_ack
	mov r18 = 1
	;;
	ld8 r17 = [r17]
	rsm psr.dt
	;;
	srlz.d
	;;
	st8 [r17] = r18
	;;
	ssm psr.dt
	;;
	srlz.d
	adds r20 = PC_DISKIRQ, r30
	;;
.Lcount:
	ld8 r21 = [r20]
	;;
	adds r21 = 1, r21
	;;
	st8 [r20] = r21
.Leoi:
	mov cr.eoi = r0
	;;
	srlz.d
	br.sptk.few .Lirq
	;;
.Lconsole:
	// A shutdown request: acknowledge it (physically, as the disk) and note it in k_shutdown
	// for the kernel proper, which ends the workloads and powers off (main.S).
	LA r17, k_con_ack
	;;
	ld8 r17 = [r17]
	rsm psr.dt
	;;
	srlz.d
	;;
	ld8 r18 = [r17]
	;;
	and r18 = DEV_ST_IRQ | DEV_ST_SHUTDOWN, r18
	;;
	st8 [r17] = r18
	;;
	ssm psr.dt
	;;
	srlz.d
	tbit.nz p11, p0 = r18, 2
	LA r19, k_shutdown
	;;
	ld8 r21 = [r19]
	mov r22 = 1
	adds r20 = PC_OTHERIRQ, r30
	;;
(p11)	cmp.eq.unc p12, p0 = 0, r21	// only the first request: the kernel counts 1 -> 2
	;;
(p12)	st8 [r19] = r22
	br.sptk.few .Lcount
	;;
.Ltimer:
	// A deadline halt_wait armed (main.S) was reached. Tickless: nothing re-arms the timer
	// here (a match fires once); the next halt arms the next deadline. Count it and keep the
	// worst and the total latency (itc - itm at entry).
	adds r17 = PC_NEXT_ITM, r30
	adds r18 = PC_TICKS, r30
	mov r19 = ar.itc
	;;
	ld8 r20 = [r17]
	ld8 r21 = [r18]
	adds r24 = PC_MAXLAT, r30
	adds r25 = PC_SUMLAT, r30
	;;
	sub r23 = r19, r20
	ld8 r26 = [r24]
	ld8 r27 = [r25]
	adds r21 = 1, r21
	;;
	cmp.gt p6, p0 = r23, r26
	add r27 = r27, r23
	st8 [r18] = r21
	;;
(p6)	st8 [r24] = r23
	st8 [r25] = r27
	br.sptk.few .Leoi
	;;
.Lirq_out:
	mov pr = r31, -1
	;;
	rfi
	;;
	.endp ext_interrupt

// ivt_fatal: r16 = vector offset; ivt_fatal_reason also takes r17 = reason (kfatal's table).
	.align 32
	.global ivt_fatal
	.proc ivt_fatal
ivt_fatal:
	mov r17 = 0
	;;
ivt_fatal_reason:
	mov r18 = ar.k0
	;;
	adds r19 = PC_PANIC, r18
	;;
	ld8 r20 = [r19]
	;;
	cmp.ne p6, p0 = 0, r20
(p6)	br.cond.spnt .Ltwice
	adds r21 = 1, r17		// reason + 1 marks "printing a fatal interruption"
	adds r19 = PC_F_VEC, r18
	mov r22 = cr.iip
	mov r23 = cr.isr
	;;
	st8 [r19] = r16, PC_F_IIP - PC_F_VEC
	adds r20 = PC_PANIC, r18
	mov r24 = cr.ifa
	;;
	st8 [r20] = r21
	st8 [r19] = r22, PC_F_ISR - PC_F_IIP
	mov r25 = cr.iim
	;;
	st8 [r19] = r23, PC_F_IFA - PC_F_ISR
	mov r26 = cr.ipsr
	;;
	st8 [r19] = r24, PC_F_IIM - PC_F_IFA
	;;
	st8 [r19] = r25, PC_F_IPSR - PC_F_IIM
	;;
	st8 [r19] = r26
	// Back to bank 1 and collection on, so printing can take TLB misses like any kernel code.
	bsw.1
	;;
	ssm psr.ic
	;;
	srlz.d
	;;
	br.call.sptk.many b0 = kfatal
	;;
.Ltwice:
	// A fault while reporting one: leave at once (r32 of whatever frame is current).
	alloc r16 = ar.pfs, 0, 1, 0, 0
	;;
	mov r32 = '!'
	mov r15 = SSC_PUTCHAR
	;;
	break.m SSC_BREAK
	;;
	mov r32 = 1
	mov r15 = SSC_EXIT
	;;
	break.m SSC_BREAK
	;;
	.endp ivt_fatal
