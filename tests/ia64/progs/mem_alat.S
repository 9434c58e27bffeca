// mem_alat.S — data speculation through the ALAT. Whether a check reloads is made visible
// by overwriting the target register between the advanced load and the check: writing a
// register does not touch the ALAT, so a check that finds its entry leaves the overwritten
// value, and a check whose entry a store removed reloads from memory. Covered: ld.a then a
// store to the same, an overlapping and a disjoint address; ld.c.nc keeps the entry, ld.c.clr
// removes it, a reloading ld.c.nc makes one; chk.a.nc/chk.a.clr; invala and invala.e;
// semaphores, spills and a successful cmpxchg invalidate, a failed one does not; chk.a on r0
// always fails. Expected values worked by hand.
	.include "check.inc"

	.data
	.balign 16
a:	data8 0x1111111111111111
b:	data8 0x2222222222222222
c:	data8 0x3333333333333333

	.text
	.global _start
	.proc _start
_start:
	movl r5 = a
	movl r6 = b
	movl r7 = c ;;
	invala ;;
	// ---- no store in between: ld.c finds the entry and does not reload
	ld8.a r4 = [r5] ;;
	CHECK r4, 0x1111111111111111
	mov r4 = 99 ;;
	ld8.c.nc r4 = [r5] ;;
	CHECK r4, 99
	// ---- a store to another address leaves the entry
	st8 [r6] = r0 ;;
	ld8.c.nc r4 = [r5] ;;
	CHECK r4, 99
	// ---- a store to the same address removes it: the check reloads
	movl r8 = 0x4444444444444444 ;;
	st8 [r5] = r8 ;;
	ld8.c.nc r4 = [r5] ;;
	CHECK r4, 0x4444444444444444
	// ---- the reloading ld.c.nc made a new entry
	mov r4 = 98 ;;
	ld8.c.nc r4 = [r5] ;;
	CHECK r4, 98
	// ---- a one-byte store into the middle of the 8 bytes overlaps
	adds r9 = 5, r5 ;;
	st1 [r9] = r0 ;;
	ld8.c.clr r4 = [r5] ;;
	CHECK r4, 0x4444004444444444
	// ---- ld.c.clr on a hit: no reload, and the entry is gone afterwards
	ld8.a r4 = [r5] ;;
	mov r4 = 97 ;;
	ld8.c.clr r4 = [r5] ;;
	CHECK r4, 97
	ld8.c.clr r4 = [r5] ;;		// miss now: reload
	CHECK r4, 0x4444004444444444
	// ---- a store just past the entry's bytes does not overlap
	ld4.a r4 = [r6] ;;		// b, bytes 0..3
	adds r9 = 4, r6 ;;
	st4 [r9] = r0 ;;
	mov r4 = 96 ;;
	ld4.c.nc r4 = [r6] ;;
	CHECK r4, 96
	// ---- chk.a.nc: no branch while the entry lives, recovery once a store removed it
	ld8.a r10 = [r7] ;;
	chk.a.nc r10, fail1 ;;
	st8 [r7] = r5 ;;
	chk.a.nc r10, recover1 ;;
	break.i 1 ;;			// must not fall through
recover1:
	ld8 r10 = [r7] ;;
	cmp.eq p6, p7 = r10, r5 ;;
(p7)	break.i 2 ;;
	// ---- chk.a.clr on a hit removes the entry
	ld8.a r10 = [r7] ;;
	chk.a.clr r10, fail1 ;;
	chk.a.clr r10, recover2 ;;
	break.i 3 ;;
recover2:
	// ---- invala.e drops one register's entry, invala all of them
	ld8.a r10 = [r7]
	ld8.a r11 = [r6] ;;
	invala.e r10 ;;
	chk.a.nc r11, fail1 ;;
	chk.a.nc r10, recover3 ;;
	break.i 4 ;;
recover3:
	invala ;;
	chk.a.nc r11, recover4 ;;
	break.i 5 ;;
recover4:
	// ---- semaphores invalidate what they write; a failed cmpxchg writes nothing
	ld8.a r10 = [r7] ;;
	mov.m ar.ccv = r0 ;;		// c is not 0: this cmpxchg fails
	cmpxchg8.acq r12 = [r7], r0, ar.ccv ;;
	chk.a.nc r10, fail1 ;;
	mov.m ar.ccv = r12 ;;		// now it succeeds
	cmpxchg8.acq r12 = [r7], r0, ar.ccv ;;
	chk.a.nc r10, recover5 ;;
	break.i 6 ;;
recover5:
	ld8.a r10 = [r7] ;;
	fetchadd8.acq r12 = [r7], 1 ;;
	chk.a.nc r10, recover6 ;;
	break.i 7 ;;
recover6:
	ld8.a r10 = [r7] ;;
	xchg8 r12 = [r7], r0 ;;
	chk.a.nc r10, recover7 ;;
	break.i 8 ;;
recover7:
	ld8.a r10 = [r7] ;;
	st8.spill [r7] = r0 ;;
	chk.a.nc r10, recover8 ;;
	break.i 9 ;;
recover8:
	// ---- a later advanced load to the same register replaces the entry
	ld8.a r10 = [r7] ;;
	ld8.a r10 = [r6] ;;
	st8 [r7] = r0 ;;		// the old address: no effect on the new entry
	chk.a.nc r10, fail1 ;;
	// ---- chk.a on r0 always fails
	chk.a.nc r0, recover9 ;;
	break.i 10 ;;
recover9:
	// ---- entries belong to physical registers: the callee's r32 is the caller's r34
	alloc r2 = ar.pfs, 2, 0, 1, 0 ;;
	ld8.a r32 = [r5] ;;
	br.call.sptk.many b0 = callee ;;
	chk.a.nc r32, fail1 ;;		// the caller's entry is still there
	PASS
fail1:
	break.i 11 ;;
callee:
	alloc r9 = ar.pfs, 1, 0, 0, 0 ;;
	chk.a.nc r32, callee_ok ;;	// no entry for this physical register
	break.i 12 ;;
callee_ok:
	mov ar.pfs = r9 ;;
	br.ret.sptk.many b0 ;;
	.endp _start
