// mem_bigendian.S — data accesses with PSR.be = 1 (set from user mode with sum): every
// load, store, semaphore, spill/fill and ld16/st16 reads and writes its value most
// significant byte first. Each step is checked from the other byte order (rum 0x2 clears
// PSR.be again). Expected values worked by hand: a big-endian store of 0x0102...08 puts the
// bytes 01 02 .. 08 in memory, which a little-endian ld8 reads as 0x0807...01.
	.include "check.inc"

	.data
	.balign 16
buf:	data8 0, 0, 0, 0

	.text
	.global _start
	.proc _start
_start:
	movl r5 = buf
	movl r6 = 0x0102030405060708 ;;
	// ---- stores
	sum 0x2 ;;
	st8 [r5] = r6 ;;
	rum 0x2 ;;
	ld8 r8 = [r5] ;;
	CHECK r8, 0x0807060504030201
	ld1 r8 = [r5] ;;
	CHECK r8, 1
	// ---- loads of each size
	sum 0x2 ;;
	ld8 r8 = [r5] ;;
	ld4 r9 = [r5] ;;
	adds r10 = 2, r5 ;;
	ld2 r10 = [r10] ;;
	adds r11 = 7, r5 ;;
	ld1 r11 = [r11] ;;
	rum 0x2 ;;
	CHECK r8, 0x0102030405060708
	CHECK r9, 0x01020304
	CHECK r10, 0x0304
	CHECK r11, 0x08
	sum 0x2 ;;
	movl r7 = 0xaabb ;;
	st2 [r5] = r7, 4 ;;		// with a base update: bytes 0-1
	st4.rel [r5] = r7, -4 ;;	// bytes 4-7: 00 00 aa bb
	rum 0x2 ;;
	ld8 r8 = [r5] ;;
	CHECK r8, 0xbbaa00000403bbaa
	// ---- the generic paths: ld.acq, ld.s, st.rel, spill/fill
	sum 0x2 ;;
	ld4.acq r8 = [r5] ;;
	ld8.s r9 = [r5] ;;
	rum 0x2 ;;
	CHECK r8, 0xaabb0304
	CHECK r9, 0xaabb03040000aabb
	// ---- semaphores compare and add in big-endian order
	sum 0x2 ;;
	st8 [r5] = r0 ;;
	adds r12 = 4, r5 ;;
	mov r13 = 0xff ;;
	st4 [r12] = r13 ;;		// BE 0x000000ff at bytes 4-7
	fetchadd4.acq r8 = [r12], 1 ;;
	rum 0x2 ;;
	CHECK r8, 0xff
	ld8 r9 = [r5] ;;
	CHECK r9, 0x0001000000000000	// bytes 4-7: 00 00 01 00
	sum 0x2 ;;
	mov r13 = 0x100 ;;
	mov.m ar.ccv = r13
	movl r14 = 0x11223344 ;;
	cmpxchg4.rel r8 = [r12], r14, ar.ccv ;;
	rum 0x2 ;;
	CHECK r8, 0x100
	ld4 r9 = [r12] ;;
	CHECK r9, 0x44332211
	sum 0x2 ;;
	movl r14 = 0x5566 ;;
	xchg2 r8 = [r12], r14 ;;
	rum 0x2 ;;
	CHECK r8, 0x1122
	ld4 r9 = [r12] ;;
	CHECK r9, 0x44336655
	sum 0x2 ;;
	fetchadd8.rel r8 = [r5], -1 ;;
	rum 0x2 ;;
	CHECK r8, 0x0000000055663344
	ld8 r9 = [r5] ;;
	CHECK r9, 0x4333665500000000	// BE 0x0000000055663343 read little-endian
	// ---- spill and fill: the value in big-endian order, the NaT in ar.unat as ever
	sum 0x2 ;;
	st8.spill [r5] = r6 ;;
	ld8.fill r8 = [r5] ;;
	rum 0x2 ;;
	CHECK r8, 0x0102030405060708
	ld8 r9 = [r5] ;;
	CHECK r9, 0x0807060504030201
	// ---- ld16/st16 and cmp8xchg16: each 8-byte half in big-endian order
	sum 0x2 ;;
	mov.m ar.csd = r6
	movl r7 = 0x1112131415161718 ;;
	st16 [r5] = r7, ar.csd ;;
	rum 0x2 ;;
	ld8 r8 = [r5], 8 ;;
	CHECK r8, 0x1817161514131211
	ld8 r8 = [r5], -8 ;;
	CHECK r8, 0x0807060504030201
	sum 0x2 ;;
	mov.m ar.csd = r0 ;;
	ld16 r8, ar.csd = [r5] ;;
	mov.m r9 = ar.csd ;;
	mov.m ar.csd = r0
	mov.m ar.ccv = r7 ;;
	cmp8xchg16.acq r10 = [r5], r6, ar.csd, ar.ccv ;;	// equal: stores r6 and 0
	rum 0x2 ;;
	CHECK r8, 0x1112131415161718
	CHECK r9, 0x0102030405060708
	CHECK r10, 0x1112131415161718
	ld8 r8 = [r5], 8 ;;
	CHECK r8, 0x0807060504030201
	ld8 r8 = [r5], -8 ;;
	CHECK r8, 0
	PASS
	.endp _start
