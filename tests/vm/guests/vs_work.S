// vs_work.S — deterministic per-vCPU work for the save/restore tests (tests/vm/test_vmstate.c).
// Every vCPU maps region 1 (rid 1, 4 KiB pages, no VHPT) one to one onto guest-physical
// memory and turns on data translation with collection: its data TLB misses go through the
// IVT, whose handler inserts the page with itc.d, and the 256 pages of its 1 MiB work area
// overflow the data TC's sets so entries get replaced. The shared page (results, counters) is
// pinned by DTR 0. Each vCPU then runs ITER rounds of: a 64-bit LCG step through the FP unit
// (xma.l), a load, xor and store at an LCG-chosen word of its work area, an advanced load of
// the previous word checked with chk.a.clr, a checksum, and every 64 rounds a recursion of
// LCG-chosen depth that overflows the stacked registers into the RSE backing store. What a
// vCPU computes depends only on its number, whatever the interleaving with other vCPUs.
//
// The command line: 't' in its first two characters also runs the ITC timer every 500 us on
// every vCPU: the External Interrupt handler counts ticks (in an area the tests do not
// compare) and re-arms cr.itm, so interrupts land anywhere in the work. Without it nothing
// reads ar.itc and a run is instruction-for-instruction deterministic (the exact equivalence
// test). 'b' makes each work area 4 MiB: 1024 pages, twice what the data TC holds, so its
// replacement cursor is busy too.
//
// At the end each vCPU stores its checksum and LCG state at SHARED + 64 * cpu and counts
// itself done; the boot vCPU waits for all of them, prints both words of each vCPU in hex on
// the console (one line per vCPU) and exits 0; the others halt.
	.include "../../tests/vm/guests/ssc.inc"

	SHARED = 0x300000       // results, 64 bytes per vCPU; pinned by DTR 0 (a 1 MiB page)
	DONE = SHARED + 0x1000  // vCPUs done (fetchadd)
	NCPUS = SHARED + 0x1008
	TIMER = SHARED + 0x1010
	BIG = SHARED + 0x1018
	ARGS = SHARED + 0x1100
	TICKS = SHARED + 0x80000   // timer ticks, 64 bytes per vCPU: not compared
	WORK = 0x400000         // vCPU n works on [WORK + n MiB, + 1 MiB) (4 MiB with 'b')
	RSE = 0x200000          // vCPU n's register backing store at RSE + n * 64 KiB (physical)
	R1 = 0x2000000000000000
	ITER = 1500000
	TICK_NS = 500000

	.text
	.global _start
_start:
	adds r16 = 28, r28 ;;          // boot information: number of vCPUs
	ld4 r17 = [r16]
	movl r18 = NCPUS ;;
	st8 [r18] = r17
	movl r32 = ARGS
	mov r33 = 64 ;;
	SSC SSC_GET_ARGS
	movl r18 = ARGS ;;
	ld1 r17 = [r18], 1 ;;
	ld1 r18 = [r18]
	mov r20 = 0
	mov r21 = 0 ;;
	cmp.eq p6, p0 = 116, r17       // 't'
	cmp.eq p7, p0 = 116, r18 ;;
(p6)	mov r20 = 1
(p7)	mov r20 = 1
	cmp.eq p6, p0 = 98, r17        // 'b'
	cmp.eq p7, p0 = 98, r18 ;;
(p6)	mov r21 = 1
(p7)	mov r21 = 1
	movl r19 = TIMER ;;
	st8 [r19] = r20, 8 ;;
	st8 [r19] = r21 ;;
	mf ;;
	START_SECONDARIES cpu_start

cpu_start:
	CPU_ID r8
	movl r2 = ivt ;;
	mov cr.iva = r2
	movl r2 = (1 << 8) | (12 << 2)
	movl r3 = R1 ;;
	mov rr[r3] = r2 ;;
	srlz.d ;;
	movl r2 = R1 + SHARED ;;       // DTR 0: the shared megabyte
	mov cr.ifa = r2
	mov r4 = 20 << 2 ;;
	mov cr.itir = r4
	movl r5 = SHARED | 0x661 ;;    // present, WB, accessed, dirty, pl 0, RWX
	mov r6 = 0 ;;
	itr.d dtr[r6] = r5 ;;
	srlz.d ;;
	// Bank 0 (current until the rfi below) keeps what the interrupt handler needs.
	movl r24 = R1 + TICKS ;;
	shl r9 = r8, 6 ;;
	add r24 = r24, r9
	movl r25 = TICK_NS
	movl r2 = RSE ;;
	shl r9 = r8, 16 ;;
	add r2 = r2, r9 ;;
	mov ar.bspstore = r2 ;;
	movl r2 = TIMER ;;
	ld8 r10 = [r2] ;;
	cmp.ne p8, p9 = 0, r10         // p8: the timer runs
	mov cr.tpr = r0
	mov r2 = 0xe0 ;;
(p8)	mov cr.itv = r2 ;;
	srlz.d ;;
	mov r3 = ar.itc ;;
	add r3 = r3, r25 ;;
(p8)	mov cr.itm = r3 ;;
	srlz.d
	movl r2 = (1 << 13) | (1 << 17) | (1 << 44) ;;   // ic, dt, bn
	mov r3 = 0 ;;
(p8)	mov r3 = 1 << 14 ;;            // i
	or r2 = r2, r3 ;;
	mov cr.ipsr = r2
	movl r3 = work ;;
	mov cr.iip = r3
	mov cr.ifs = r0 ;;
	rfi ;;

// r32 LCG state, r33 work area, r34 checksum, r35 rounds left, r38 previous word, r39 offset
// mask, r41 vCPU
work:	alloc r40 = ar.pfs, 0, 24, 2, 0
	mov r41 = r8
	movl r10 = 6364136223846793005 ;;
	setf.sig f7 = r10
	movl r10 = 1442695040888963407 ;;
	setf.sig f9 = r10
	movl r10 = R1 + BIG ;;
	ld8 r10 = [r10]
	mov r36 = 20 ;;
	cmp.ne p6, p0 = 0, r10 ;;
(p6)	mov r36 = 22 ;;                // log2 of the work area
	mov r39 = 1 ;;
	shl r39 = r39, r36 ;;
	adds r39 = -8, r39             // word offsets within it
	shl r9 = r8, r36
	movl r33 = R1 + WORK ;;
	add r33 = r33, r9
	adds r32 = 1, r8 ;;
	shl r32 = r32, 32 ;;
	movl r10 = 0x12345678 ;;
	xor r32 = r32, r10
	mov r34 = 0
	movl r35 = ITER
	mov r38 = r33 ;;
loop:	setf.sig f6 = r32 ;;
	xma.l f8 = f6, f7, f9 ;;
	getf.sig r32 = f8 ;;
	shr.u r10 = r32, 24 ;;
	and r10 = r10, r39 ;;
	add r11 = r33, r10 ;;
	ld8.a r12 = [r38] ;;
	ld8 r13 = [r11] ;;
	xor r13 = r13, r32 ;;
	st8 [r11] = r13
	shladd r34 = r34, 3, r34 ;;
	add r34 = r34, r13
	chk.a.clr r12, recover ;;
back:	add r34 = r34, r12
	mov r38 = r11
	adds r35 = -1, r35 ;;
	and r14 = 63, r35 ;;
	cmp.eq p6, p0 = 0, r14 ;;
(p6)	and r56 = 15, r32
(p6)	br.call.sptk.many b0 = recurse ;;
(p6)	add r34 = r34, r8
	cmp.ne p7, p0 = 0, r35
(p7)	br.cond.sptk loop ;;

	movl r10 = R1 + SHARED ;;
	shl r9 = r41, 6 ;;
	add r10 = r10, r9 ;;
	st8 [r10] = r34, 8 ;;
	st8 [r10] = r32
	movl r10 = R1 + DONE ;;
	fetchadd4.rel r11 = [r10], 1
	cmp.eq p6, p7 = 0, r41
(p7)	br.cond.sptk idle ;;
	movl r12 = R1 + NCPUS ;;
	ld8 r12 = [r12] ;;
wait:	ld4.acq r11 = [r10] ;;
	cmp.ltu p6, p0 = r11, r12 ;;
(p6)	br.cond.sptk more ;;
	mov r42 = 0 ;;
print:	cmp.ltu p6, p0 = r42, r12 ;;
(p6)	br.cond.sptk line ;;
	EXIT 0
line:	movl r10 = R1 + SHARED ;;
	shl r9 = r42, 6 ;;
	add r43 = r10, r9 ;;
	ld8 r56 = [r43], 8
	mov r57 = 32 ;;
	br.call.sptk.many b6 = hex ;;
	ld8 r56 = [r43]
	mov r57 = 10 ;;
	br.call.sptk.many b6 = hex ;;
	adds r42 = 1, r42
	br print ;;
more:
(p9)	br.cond.sptk wait ;;
	SSC SSC_HALT_LIGHT              // the next tick wakes us
	br wait ;;

idle:	movl r2 = 1 << 16 ;;
	mov cr.itv = r2 ;;             // masked: nothing wakes a finished vCPU
	srlz.d ;;
1:	SSC SSC_HALT_LIGHT
	br 1b ;;

// hex(value, char): print value as 16 hex digits, then the character; called through b6.
// PUTCHAR takes its argument in r32, so the value moves to r9 first.
hex:	alloc r34 = ar.pfs, 2, 1, 0, 0
	mov r9 = r32
	mov r11 = r33
	mov r10 = 60 ;;
3:	shr.u r14 = r9, r10 ;;
	and r14 = 15, r14 ;;
	cmp.ltu p6, p7 = 9, r14 ;;
(p6)	adds r32 = 87, r14
(p7)	adds r32 = 48, r14 ;;
	SSC SSC_PUTCHAR
	adds r10 = -4, r10 ;;
	cmp.lt p6, p0 = -1, r10
(p6)	br.cond.sptk 3b ;;
	mov r32 = r11 ;;
	SSC SSC_PUTCHAR
	mov ar.pfs = r34 ;;
	br.ret.sptk.many b6 ;;

recover: ld8 r12 = [r38] ;;
	br back ;;

// r8 = f(depth): 7 at depth 0, else 2 * f(depth - 1) + depth
recurse: alloc r34 = ar.pfs, 1, 5, 1, 0
	mov r35 = b0
	cmp.eq p12, p13 = 0, r32 ;;
(p12)	mov r8 = 7
(p12)	br.cond.spnt 2f ;;
	adds r38 = -1, r32
	br.call.sptk.many b0 = recurse ;;
	shladd r8 = r8, 1, r32 ;;
2:	mov ar.pfs = r34
	mov b0 = r35 ;;
	br.ret.sptk.many b0 ;;

	.macro TLB_MISS
	mov r16 = cr.ifa ;;
	dep r17 = 0, r16, 61, 3 ;;     // guest-physical = va{60:0}
	dep r17 = 0, r17, 0, 12 ;;
	movl r18 = 0x661 ;;
	or r17 = r17, r18 ;;
	itc.d r17 ;;                   // cr.itir: 4 KiB and the region's rid, from the miss
	rfi ;;
	.endm

	.align 32768
ivt:	.skip 0x0800
	TLB_MISS                       // Data TLB (IVA + 0x0800)
	.org ivt + 0x1000
	TLB_MISS                       // Alternate Data TLB (IVA + 0x1000): the VHPT is off
	.org ivt + 0x3000
	mov r16 = cr.ivr               // External Interrupt (IVA + 0x3000): the timer
	mov r20 = pr ;;
	srlz.d
	ld8 r18 = [r24] ;;
	adds r18 = 1, r18 ;;
	st8 [r24] = r18
	mov r19 = ar.itc ;;
4:	add r19 = r19, r25 ;;
	mov cr.itm = r19 ;;
	// ar.itc runs on while the vCPU does not (a host that is busy, a pause, a save): an ITM
	// already behind it would never match, so arm again from now until it is ahead.
	mov r21 = ar.itc ;;
	sub r21 = r19, r21 ;;
	cmp.lt p6, p0 = r21, r0
	mov r19 = ar.itc
(p6)	br.cond.spnt 4b ;;
	mov cr.eoi = r0
	mov pr = r20, -1 ;;
	srlz.d ;;
	rfi ;;
