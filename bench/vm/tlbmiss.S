// tlbmiss.S — the TLB-miss benchmark's guest: what one data TLB miss costs when a guest
// kernel's handler resolves it (itc.d + rfi), or when the VHPT walker does.
//
// Region 0 maps RAM one to one. [0, 16 MiB) (code, IVT, parameters, results, the VHPT) is
// pinned by instruction and data TR 0, so nothing but the test pages ever misses. The test
// pages are the npages pages of 2^pshift bytes at 16 MiB (rr[0].ps = pshift). In virtual
// mode the guest touches each page once per round, with an 8-byte load of its first word,
// which the host set to the page's address (a wrong translation fails the run):
//   1. a warm-up round: every page misses once and gets its TC entry;
//   2. `rounds` rounds with the pages mapped: the loop's own cost (no miss is expected; the
//      handler's counter says whether one happened);
//   3. `rounds` rounds each starting with ptc.l over the test range (one purge of
//      2^purge_ps bytes, then srlz.d): every touch misses.
// ar.itc (1 GHz guest time) is read around phases 2 and 3; the host's per-miss figure is
// (ticks3 - ticks2) / misses, which includes 1/npages of a purge per miss. The `phases`
// parameter runs phase 2, phase 3 or both after the warm-up (the host also times boots that
// run one of them in host CPU time, which other work on the host disturbs less).
//
// Walker off (pta.ve = rr.ve = 0): every miss is an Alternate Data TLB fault (vector 0x1000:
// where the architecture sends data TLB misses while the walker is disabled), whose handler
// inserts the identity translation of cr.ifa's page with itc.d, counts the miss in memory
// and rfi's back to the load. Walker on (pta.ve = rr.ve = 1): the short-format VHPT holds an
// entry for every test page (written in physical mode before the switch), so every miss is
// resolved by the walker and the handler's counter must stay 0 (the same handler sits at the
// Data TLB vector, 0x0800, for a miss the walker could not resolve).
//
// The host writes the parameters before boot and reads the results after the guest's SSC
// EXIT (0: done; 3: an unexpected interruption, whose vector, iip, ifa, isr are in the
// results; 4: a test page read through its translation did not hold its own address).
	.include "../../tests/vm/guests/ssc.inc"

	PARAMS = 0x80000		// npages, rounds, pshift, walker, purge_ps, phases (8 bytes each)
	RESULTS = 0x80100		// see R_* below
	R_BASE_TICKS = 0		// phase 2 (pages mapped): ar.itc ticks
	R_BASE_MISSES = 8		//   handler calls during it
	R_MISS_TICKS = 16		// phase 3 (purge every round): ar.itc ticks
	R_MISSES = 24			//   handler calls during it
	R_WARM_MISSES = 32		// phase 1: handler calls
	R_BAD_VECTOR = 40		// an unexpected interruption: vector offset, iip, ifa, isr
	R_BAD_IIP = 48
	R_BAD_IFA = 56
	R_BAD_ISR = 64
	COUNTER = 0x80200		// the handler's miss counter
	VHPT = 0x800000			// short-format VHPT, 1 MiB (aligned to its size)
	VHPT_SHIFT = 20
	TEST_BASE = 0x1000000		// the test pages: 16 MiB, above the pinned TR
	PINNED_PS = 24			// TR 0: [0, 16 MiB)
	PTE_CODE = 0x661		// present, WB, accessed, dirty, pl 0, ar RWX
	PTE_DATA = 0x461		// present, WB, accessed, dirty, pl 0, ar RW
	PSR_VIRT = (1 << 13) | (1 << 17) | (1 << 36) | (1 << 44)	// ic, dt, it, bn

// Every vector but the two data TLB ones: record what happened and exit 3.
	.macro VEC_BAD off
	.org ivt + \off
{ .mib
	nop.m 0
	mov r16 = \off
	br.sptk.many bad_vector
}
	.endm

	.section .text.ivt, "ax"
	.align 32768
ivt:
	VEC_BAD 0x0000
	VEC_BAD 0x0400

// The miss handler (bank 0, collection off): the miss counted in memory, the identity
// translation of cr.ifa's page inserted with itc.d, rfi back to the load. Bank-0 registers set before the
// switch to virtual mode: r24 = ~(page size - 1), r25 = PTE_DATA, r26 = &COUNTER, r27/r28 =
// the test range. A miss outside it is reported as vector `off`.
	.macro MISS_HANDLER off
	.org ivt + \off
	mov r16 = cr.ifa
	mov r31 = pr
	ld8 r18 = [r26]
	;;
	and r17 = r16, r24
	cmp.ltu p6, p0 = r16, r27
	cmp.geu p7, p0 = r16, r28
	adds r18 = 1, r18
	;;
	or r17 = r17, r25
	st8 [r26] = r18			// counted before the insert: no access after itc.d
(p6)	br.cond.spnt .Lwild\@
(p7)	br.cond.spnt .Lwild\@
	;;
	itc.d r17
	mov pr = r31, -1
	;;
	rfi				// serializes: the load is retried with the new entry
	;;
.Lwild\@:
	mov r16 = \off
	br.sptk.many bad_vector
	;;
	.endm

	MISS_HANDLER 0x0800		// Data TLB: a miss the walker did not resolve
	VEC_BAD 0x0c00
	MISS_HANDLER 0x1000		// Alternate Data TLB: every miss while the walker is off

	.irp off, 0x1400, 0x1800, 0x1c00, 0x2000, 0x2400, 0x2800, 0x2c00
	VEC_BAD \off
	.endr
	.irp off, 0x3000, 0x3400, 0x3800, 0x3c00, 0x4000, 0x4400, 0x4800, 0x4c00
	VEC_BAD \off
	.endr
	.irp off, 0x5000, 0x5100, 0x5200, 0x5300, 0x5400, 0x5500, 0x5600, 0x5700
	VEC_BAD \off
	.endr
	.irp off, 0x5800, 0x5900, 0x5a00, 0x5b00, 0x5c00, 0x5d00, 0x5e00, 0x5f00
	VEC_BAD \off
	.endr
	.irp off, 0x6000, 0x6100, 0x6200, 0x6300, 0x6400, 0x6500, 0x6600, 0x6700
	VEC_BAD \off
	.endr
	.irp off, 0x6800, 0x6900, 0x6a00, 0x6b00, 0x6c00, 0x6d00, 0x6e00, 0x6f00
	VEC_BAD \off
	.endr
	.irp off, 0x7000, 0x7100, 0x7200, 0x7300, 0x7400, 0x7500, 0x7600, 0x7700
	VEC_BAD \off
	.endr
	.irp off, 0x7800, 0x7900, 0x7a00, 0x7b00, 0x7c00, 0x7d00, 0x7e00, 0x7f00
	VEC_BAD \off
	.endr
	.org ivt + 0x8000

	.text
// bad_vector: r16 = vector offset. The results are reachable at their physical address in
// either mode (region 0 is one to one).
bad_vector:
	movl r17 = RESULTS + R_BAD_VECTOR
	mov r18 = cr.iip
	mov r19 = cr.ifa
	mov r20 = cr.isr
	;;
	st8 [r17] = r16, 8
	;;
	st8 [r17] = r18, 8
	;;
	st8 [r17] = r19, 8
	;;
	st8 [r17] = r20
	EXIT 3

// wrong_data: a test page did not hold its address (r42 = the next page, r43 = the word).
wrong_data:
	sub r42 = r42, r37
	movl r17 = RESULTS + R_BAD_VECTOR
	;;
	st8 [r17] = r0, 8		// vector 0: a data mismatch
	;;
	st8 [r17] = r43, 8		// the word found (in the iip slot)
	;;
	st8 [r17] = r42			// the address (in the ifa slot)
	EXIT 4

	.global _start
_start:					// physical mode, psr = 0: bank 0 is current
	movl r2 = ivt
	;;
	mov cr.iva = r2
	;;
	srlz.i
	movl r3 = PARAMS
	;;
	ld8 r32 = [r3], 8		// npages
	;;
	ld8 r33 = [r3], 8		// rounds
	;;
	ld8 r34 = [r3], 8		// pshift
	;;
	ld8 r35 = [r3], 8		// walker
	;;
	ld8 r36 = [r3], 8		// purge_ps
	;;
	ld8 r44 = [r3]			// phases: bit 0 = phase 2, bit 1 = phase 3
	// Region 0: rid 1, the test page size, the walker as asked.
	shl r2 = r34, 2
	;;
	dep r2 = r35, r2, 0, 1		// rr.ve
	;;
	adds r2 = 1 << 8, r2
	;;
	mov rr[r0] = r2
	;;
	srlz.d
	movl r2 = VHPT | (VHPT_SHIFT << 2)
	;;
	dep r2 = r35, r2, 0, 1		// pta.ve
	;;
	mov cr.pta = r2
	;;
	srlz.d
	// Pin [0, 16 MiB) with instruction and data TR 0.
	mov r2 = PINNED_PS << 2
	mov r3 = PTE_CODE
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
	// The handler's registers (bank 0, current now).
	mov r2 = 1
	;;
	shl r2 = r2, r34
	movl r27 = TEST_BASE
	;;
	sub r24 = r0, r2		// ~(page size - 1)
	mov r25 = PTE_DATA
	movl r26 = COUNTER
	;;
	setf.sig f6 = r32
	setf.sig f7 = r2
	;;
	xma.l f8 = f6, f7, f0
	;;
	getf.sig r28 = f8
	;;
	add r28 = r28, r27		// end of the test range
	st8 [r26] = r0
	// Walker on: a VHPT entry for every test page, at thash(va).
	cmp.eq p6, p0 = 0, r35
(p6)	br.cond.spnt .Lvirt
	mov r3 = r27
	;;
.Lfill:	thash r4 = r3
	or r5 = r3, r25
	;;
	st8 [r4] = r5
	add r3 = r3, r2
	;;
	cmp.ltu p6, p0 = r3, r28
(p6)	br.cond.sptk .Lfill
	;;
.Lvirt:
	mov r37 = r2			// page size, for the loop (r32+ are not banked)
	movl r2 = PSR_VIRT
	movl r3 = vmain
	;;
	mov cr.ipsr = r2
	mov cr.iip = r3
	mov cr.ifs = r0
	;;
	rfi
	;;

// ROUNDS n, pq: n rounds over the test pages (r32 pages of r37 bytes from TEST_BASE), each
// preceded, when predicate pq is true, by ptc.l over the range and srlz.d. Each load checks
// the word the host wrote at the start of every page, its guest-physical address, so a
// wrong translation cannot pass unnoticed.
	.macro ROUNDS n, pq
	mov r39 = \n
	add r40 = -1, r32
	shl r41 = r36, 2
	movl r38 = TEST_BASE
	;;
.Lround\@:
(\pq)	ptc.l r38, r41
	;;
(\pq)	srlz.d
	mov r42 = r38
	mov ar.lc = r40
	;;
.Ltouch\@:
	ld8 r43 = [r42]
	;;
	cmp.ne p7, p0 = r43, r42
	add r42 = r42, r37
(p7)	br.cond.spnt wrong_data
	;;
	br.cloop.sptk .Ltouch\@
	;;
	adds r39 = -1, r39
	;;
	cmp.ne p6, p0 = 0, r39
(p6)	br.cond.sptk .Lround\@
	;;
	.endm

// Virtual mode, bank 1. r32-r36, r44: the parameters, r37: page size.
vmain:
	movl r14 = RESULTS
	movl r15 = COUNTER
	cmp.ne p8, p9 = r0, r0		// p8 = 0: no purge; p9 = 1: purge
	tbit.z p10, p0 = r44, 0		// skip phase 2
	tbit.z p11, p0 = r44, 1		// skip phase 3
	;;
	ROUNDS 1, p8			// 1. warm-up
	ld8 r2 = [r15]
	;;
	st8 [r15] = r0
	adds r3 = R_WARM_MISSES, r14
	;;
	st8 [r3] = r2
(p10)	br.cond.spnt .Lphase3
	mov r4 = ar.itc
	;;
	ROUNDS r33, p8			// 2. pages mapped
	mov r5 = ar.itc
	;;
	sub r5 = r5, r4
	ld8 r2 = [r15]
	;;
	st8 [r15] = r0
	adds r3 = R_BASE_TICKS, r14
	;;
	st8 [r3] = r5, R_BASE_MISSES - R_BASE_TICKS
	;;
	st8 [r3] = r2
.Lphase3:
(p11)	br.cond.spnt .Ldone
	mov r4 = ar.itc
	;;
	ROUNDS r33, p9			// 3. purge every round
	mov r5 = ar.itc
	;;
	sub r5 = r5, r4
	ld8 r2 = [r15]
	adds r3 = R_MISS_TICKS, r14
	;;
	st8 [r3] = r5, R_MISSES - R_MISS_TICKS
	;;
	st8 [r3] = r2
.Ldone:
	EXIT 0
