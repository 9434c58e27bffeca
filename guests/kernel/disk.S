// disk.S — the avio_stor driver (docs/platform.md "avio_stor block device") and the
// diskverify workload.
//
// Driver: a 64-entry request ring in kernel memory; a request is written into the entry at
// producer index mod 64, then the producer index is stored to the doorbell (after mf, so the
// device sees the entry). The device writes each entry's status and advances its completion
// index; its interrupt (delivered to vCPU 0, acknowledged in ivt.S) wakes the halted vCPU,
// which then compares the completion index with its producer index.
//
// diskverify: each pass writes `blocks` 4 KiB blocks in batches of 16, flushes, then reads
// them back and verifies them. A block holds a header (magic "HPVMBLK1", sequence number
// pass * blocks + block + 1, block number, pass, checksum) and a payload derived from the
// sequence number; the checksum covers the payload. Options: blocks= (64), passes= (2, or
// no limit when time= is given; 0 = no limit), disk= (index among the VM's disks, 0), time=.
	.include "kernel.inc"

	RING_ENTRIES = 64
	BATCH = 16
	BLOCK = 4096
	OP_READ = 1
	OP_WRITE = 2
	OP_FLUSH = 3
	ST_OK = 1
	BLK_MAGIC = 0x314b4c424d565048	// "HPVMBLK1"
	PAYLOAD_SALT = 0x6a09e667f3bcc908
	DISK_TIMEOUT = 60000000000	// 60 s for a batch (a paused or migrating VM keeps its ar.itc running)

	DV_STATE = SL_S + 0
	DV_PASS = SL_S + 8
	DV_BLOCK = SL_S + 16		// first block of the batch in flight
	DV_N = SL_S + 24		// blocks in the batch
	DV_FIRST = SL_S + 32		// producer index of its first request
	DV_BLOCKS = SL_S + 40
	DV_PASSES = SL_S + 48		// 0: no limit
	DV_SINCE = SL_S + 56		// ar.itc when the batch went out
	S_WRITE = 0
	S_WAIT_WRITE = 1
	S_FLUSH = 2
	S_WAIT_FLUSH = 3
	S_READ = 4
	S_WAIT_READ = 5

	.data
	.align 8
	.global k_disk_vec, k_disk_ack
k_disk_vec:	data8 0		// the disk's interrupt vector (ivt.S)
k_disk_ack:	data8 0		// physical uncacheable address of its status register
k_disk_va:	data8 0		// its registers, region 6
k_disk_index:	data8 0
k_disk_prod:	data8 0		// producer index
k_dv_passes:	data8 0
k_dv_blocks:	data8 0		// blocks verified

	.section .bss.big, "aw", @nobits
	.align 4096
disk_ring:	.skip RING_ENTRIES * 32
	.align 4096
disk_bufs:	.skip BATCH * BLOCK

// disk_select(): pick the disk= (default first) avio_stor device; runs before any vCPU takes
// interrupts from it.
	.global disk_select
ENTRY disk_select, 0, 4, 3
	mov out0 = WL_DISK
	mov out1 = P_DISK
	mov out2 = 0
	;;
	CALL param
	LA r2, k_ndisks
	mov loc2 = r8
	;;
	ld8 loc3 = [r2]
	;;
	cmp.ltu p6, p0 = loc2, loc3
(p6)	br.cond.dptk 1f
	PRINTF "FAIL diskverify: the VM has no avio_stor disk %u (it has %u); give --disk FILE\n", loc2, loc3
	mov out0 = 1
	CALL kexit
1:	LA r2, k_disks
	shladd r3 = loc2, 4, r0
	;;
	shladd r2 = loc2, 3, r2
	;;
	add r2 = r2, r3			// 24 bytes an entry
	;;
	ld8 r8 = [r2], 8		// base
	;;
	ld8 r9 = [r2]			// vector
	movl r10 = REGION6
	movl r11 = PHYS_UC + DEV_STATUS
	;;
	add r10 = r10, r8
	add r11 = r11, r8
	LA r2, k_disk_va
	LA r3, k_disk_ack
	LA r14, k_disk_vec
	LA r15, k_disk_index
	;;
	st8 [r2] = r10
	st8 [r3] = r11
	st8 [r14] = r9
	st8 [r15] = loc2
	RET
END disk_select

// disk_submit(op, sector, buf, len): put a request in the ring (not yet announced).
ENTRY disk_submit, 4, 2, 0
	LA r2, k_disk_prod
	LA r3, disk_ring
	;;
	ld8 r8 = [r2]
	;;
	and r9 = RING_ENTRIES - 1, r8
	adds r10 = 1, r8
	;;
	shl r9 = r9, 5			// 32 bytes an entry
	st8 [r2] = r10
	;;
	add r9 = r9, r3
	;;
	adds r3 = 4, r9
	adds r10 = 8, r9
	adds r11 = 16, r9
	adds r14 = 24, r9
	adds r15 = 28, r9
	;;
	st4 [r9] = in0
	st4 [r3] = r0			// status: pending
	st8 [r10] = in1
	st8 [r11] = in2
	st4 [r14] = in3
	st4 [r15] = r8			// tag
	RET
END disk_submit

// disk_kick(): tell the device about everything submitted.
ENTRY disk_kick, 0, 2, 0
	LA r2, k_disk_prod
	LA r3, k_disk_va
	;;
	ld8 r8 = [r2]
	ld8 r3 = [r3]
	mf
	;;
	adds r3 = STOR_DOORBELL, r3
	;;
	st8 [r3] = r8
	RET
END disk_kick

// disk_pending() -> r8 = requests submitted and not completed yet.
ENTRY disk_pending, 0, 2, 0
	LA r2, k_disk_prod
	LA r3, k_disk_va
	;;
	ld8 r8 = [r2]
	ld8 r3 = [r3]
	;;
	adds r3 = STOR_COMPLETION, r3
	;;
	ld8 r3 = [r3]
	;;
	sub r8 = r8, r3
	;;
	zxt4 r8 = r8			// the indexes are 32 bits wide
	RET
END disk_pending

// dv_word(seq, block, i) -> r8: payload word i of a block.
ENTRY dv_word, 3, 2, 0
	shl r2 = in0, 32
	shl r3 = in1, 12
	movl r8 = PAYLOAD_SALT
	;;
	xor r2 = r2, r3
	;;
	xor r2 = r2, in2
	;;
	xor r8 = r8, r2
	RET
END dv_word

// dv_fill(buf, seq, block, pass): a block's header and payload; checksum over the payload.
ENTRY dv_fill, 4, 8, 3
	mov loc2 = 5			// word index
	adds loc3 = 40, in0		// its address
	mov loc4 = 0			// checksum
	;;
1:	mov out0 = in1
	mov out1 = in2
	mov out2 = loc2
	;;
	CALL dv_word
	shl r2 = loc4, 7
	shr.u r3 = loc4, 57
	adds loc2 = 1, loc2
	;;
	or r2 = r2, r3
	st8 [loc3] = r8, 8
	;;
	xor loc4 = r2, r8
	mov r9 = 512
	;;
	cmp.ne p6, p0 = r9, loc2
(p6)	br.cond.dptk 1b
	;;
	movl r2 = BLK_MAGIC
	adds r3 = 8, in0
	adds r8 = 16, in0
	adds r9 = 24, in0
	adds r10 = 32, in0
	;;
	st8 [in0] = r2
	st8 [r3] = in1
	st8 [r8] = in2
	st8 [r9] = in3
	st8 [r10] = loc4
	RET
END dv_fill

// dv_verify(buf, seq, block, pass) -> r8 = 0, or 1 + index of the first word that is wrong
// (0-4 header, 5-511 payload, 512: the checksum does not match the payload), r9 = its value.
ENTRY dv_verify, 4, 8, 3
	ld8 r2 = [in0]
	adds r3 = 8, in0
	movl r10 = BLK_MAGIC
	;;
	ld8 r3 = [r3]
	cmp.ne p6, p0 = r2, r10
	mov r9 = r2
	mov r8 = 1
(p6)	br.cond.dpnt .Lv_out
	;;
	adds r2 = 16, in0
	cmp.ne p6, p0 = r3, in1
	mov r9 = r3
	mov r8 = 2
(p6)	br.cond.dpnt .Lv_out
	;;
	ld8 r2 = [r2]
	adds r3 = 24, in0
	;;
	ld8 r3 = [r3]
	cmp.ne p6, p0 = r2, in2
	mov r9 = r2
	mov r8 = 3
(p6)	br.cond.dpnt .Lv_out
	;;
	cmp.ne p6, p0 = r3, in3
	mov r9 = r3
	mov r8 = 4
(p6)	br.cond.dpnt .Lv_out
	mov loc2 = 5
	adds loc3 = 40, in0
	mov loc4 = 0
	;;
1:	mov out0 = in1
	mov out1 = in2
	mov out2 = loc2
	;;
	CALL dv_word
	ld8 r9 = [loc3], 8
	shl r2 = loc4, 7
	shr.u r3 = loc4, 57
	;;
	or r2 = r2, r3
	cmp.ne p6, p0 = r8, r9
	adds r8 = 1, loc2
	;;
(p6)	br.cond.dpnt .Lv_out
	xor loc4 = r2, r9
	adds loc2 = 1, loc2
	;;
	mov r9 = 512
	;;
	cmp.ne p7, p0 = r9, loc2
(p7)	br.cond.dptk 1b
	;;
	adds r2 = 32, in0
	;;
	ld8 r9 = [r2]
	mov r8 = 0
	;;
	cmp.ne p6, p0 = r9, loc4
	;;
(p6)	mov r8 = 513
.Lv_out:
	RET
END dv_verify

	.global disk_init
ENTRY disk_init, 1, 8, 6
	LA r2, k_disk_va
	LA r3, k_disk_vec
	;;
	ld8 loc2 = [r2]
	ld8 r3 = [r3]
	;;
	adds r2 = DEV_VECTOR, loc2
	adds r8 = STOR_CAPACITY, loc2
	;;
	st8 [r2] = r3			// the vector register (the boot information's value)
	ld8 loc3 = [r8]			// capacity in sectors
	mov out0 = WL_DISK
	mov out1 = P_BLOCKS
	mov out2 = 64
	;;
	CALL param
	mov loc4 = r8
	shl r2 = r8, 3			// 8 sectors a block
	;;
	cmp.ltu p6, p0 = loc3, r2
	cmp.eq p7, p0 = 0, r8
(p6)	br.cond.dpnt .Lsmall
(p7)	br.cond.dpnt .Lsmall
	adds r2 = DV_BLOCKS, in0
	mov out0 = WL_DISK
	mov out1 = P_PASSES
	mov out2 = P_UNSET
	;;
	st8 [r2] = loc4
	CALL param
	mov loc5 = r8
	mov out0 = WL_DISK
	mov out1 = P_TIME
	;;
	CALL param_given
	cmp.eq p6, p0 = P_UNSET, loc5
	;;
(p6)	cmp.eq.unc p7, p8 = 0, r8	// no passes=: 2, or no limit with time=
	;;
(p7)	mov loc5 = 2
(p8)	mov loc5 = 0
	adds r2 = DV_PASSES, in0
	;;
	st8 [r2] = loc5
	// the ring: base then size (the device checks the pair when the size arrives)
	adds r2 = STOR_RING_BASE, loc2
	adds r3 = STOR_RING_SIZE, loc2
	LA r8, disk_ring
	mov r9 = RING_ENTRIES
	;;
	st8 [r2] = r8
	;;
	st8 [r3] = r9
	LA r2, k_disk_index
	LA r3, k_disk_vec
	;;
	ld8 loc6 = [r2]
	ld8 loc7 = [r3]
	shr.u loc3 = loc3, 11		// MiB
	;;
	PRINTF "diskverify: disk %u: %u MiB, %u blocks of 4 KiB, %u passes (0: until time=), vector 0x%x\n", loc6, loc3, loc4, loc5, loc7
	RET
.Lsmall:
	shr.u loc3 = loc3, 3
	;;
	PRINTF "FAIL diskverify: blocks=%u does not fit on the disk (%u blocks of 4 KiB)\n", loc4, loc3
	mov out0 = 1
	CALL kexit
END disk_init

// dv_batch(slot, op): submit the next batch of reads or writes (a write batch is filled
// first, a read batch poisoned so stale buffers cannot pass) and ring the doorbell.
ENTRY dv_batch, 2, 10, 4
	adds r2 = DV_BLOCK, in0
	adds r3 = DV_BLOCKS, in0
	adds r8 = DV_PASS, in0
	LA r9, k_disk_prod
	;;
	ld8 loc2 = [r2]			// first block
	ld8 loc3 = [r3]			// blocks
	ld8 loc4 = [r8]			// pass
	ld8 r9 = [r9]
	adds r10 = DV_FIRST, in0
	;;
	st8 [r10] = r9
	sub loc5 = loc3, loc2
	;;
	cmp.ltu p6, p0 = BATCH, loc5
	;;
(p6)	mov loc5 = BATCH		// blocks in this batch
	adds r2 = DV_N, in0
	mov out0 = loc4
	mov out1 = loc3
	;;
	st8 [r2] = loc5
	CALL umul
	add loc6 = r8, loc2		// sequence number of the first block - 1
	mov loc7 = 0			// k
	LA loc8, disk_bufs
	;;
1:	cmp.eq p6, p0 = loc7, loc5
(p6)	br.cond.dpnt 3f
	cmp.eq p7, p0 = OP_WRITE, in1
	mov out0 = loc8
	adds out1 = 1, loc6
	add out2 = loc2, loc7
	mov out3 = loc4
	;;
	add out1 = out1, loc7
(p7)	br.cond.dptk 2f
	movl r2 = 0xdeadbeefdeadbeef	// a read: poison the buffer
	mov r3 = loc8
	mov r8 = 512
	;;
4:	st8 [r3] = r2, 8
	adds r8 = -1, r8
	;;
	cmp.ne p8, p0 = 0, r8
(p8)	br.cond.dptk 4b
	br.sptk.few 5f
	;;
2:	CALL dv_fill
5:	mov out0 = in1
	add r2 = loc2, loc7
	mov out2 = loc8
	mov out3 = BLOCK
	;;
	shl out1 = r2, 3		// sector
	CALL disk_submit
	adds loc7 = 1, loc7
	adds loc8 = BLOCK, loc8
	br.sptk.few 1b
	;;
3:	CALL disk_kick
	adds r2 = DV_SINCE, in0
	mov r3 = ar.itc
	;;
	st8 [r2] = r3
	RET
END dv_batch

// dv_statuses(slot) -> r8 = 0 when every request of the batch completed OK, else the index
// of the first that did not, with r9 = its status.
ENTRY dv_statuses, 1, 2, 0
	adds r2 = DV_FIRST, in0
	LA r3, k_disk_prod
	LA r14, disk_ring
	;;
	ld8 r2 = [r2]
	ld8 r3 = [r3]
	;;
1:	cmp.eq p6, p0 = r2, r3
(p6)	br.cond.dpnt 2f
	and r10 = RING_ENTRIES - 1, r2
	;;
	shl r10 = r10, 5
	;;
	add r10 = r10, r14
	;;
	adds r10 = 4, r10
	;;
	ld4 r9 = [r10]
	;;
	cmp.ne p7, p0 = ST_OK, r9
(p7)	br.cond.dpnt 3f
	adds r2 = 1, r2
	br.sptk.few 1b
	;;
2:	mov r8 = 0
	RET
3:	mov r8 = r2
	RET
END dv_statuses

	.global disk_step
ENTRY disk_step, 1, 10, 7
	adds r2 = DV_STATE, in0
	;;
	ld8 loc2 = [r2]
	;;
	cmp.eq p6, p0 = S_WRITE, loc2
	cmp.eq p7, p0 = S_FLUSH, loc2
	cmp.eq p8, p0 = S_READ, loc2
(p6)	br.cond.dpnt .Lwrite
(p7)	br.cond.dpnt .Lflush
(p8)	br.cond.dpnt .Lread
	// a wait state: done yet?
	CALL disk_pending
	cmp.eq p6, p0 = 0, r8
(p6)	br.cond.dptk .Lcompleted
	adds r2 = DV_SINCE, in0
	mov r3 = ar.itc
	movl r9 = DISK_TIMEOUT
	;;
	ld8 r2 = [r2]
	;;
	sub r3 = r3, r2
	;;
	cmp.ltu p6, p0 = r3, r9
	add out0 = r2, r9		// the timeout is a deadline: the timer wakes a lost wait
(p6)	br.cond.dptk .Ltimed_wait
	mov loc3 = r8
	PRINTF "FAIL diskverify: %u requests still not complete after 60 s\n", loc3
	mov out0 = 1
	CALL kexit
.Lwrite:
	mov out0 = in0
	mov out1 = OP_WRITE
	mov loc3 = S_WAIT_WRITE
	;;
	CALL dv_batch
	br.sptk.few .Lnewstate
	;;
.Lread:
	mov out0 = in0
	mov out1 = OP_READ
	mov loc3 = S_WAIT_READ
	;;
	CALL dv_batch
	br.sptk.few .Lnewstate
	;;
.Lflush:
	LA r2, k_disk_prod
	adds r3 = DV_FIRST, in0
	;;
	ld8 r2 = [r2]
	mov out0 = OP_FLUSH
	mov out1 = 0
	mov out2 = 0
	mov out3 = 0
	;;
	st8 [r3] = r2
	CALL disk_submit
	CALL disk_kick
	adds r2 = DV_SINCE, in0
	mov r3 = ar.itc
	mov loc3 = S_WAIT_FLUSH
	;;
	st8 [r2] = r3
	br.sptk.few .Lnewstate
	;;
.Lcompleted:
	mov out0 = in0
	CALL dv_statuses
	cmp.ne p6, p0 = 0, r8
(p6)	br.cond.dpnt .Lbadstatus
	adds r2 = DV_BLOCK, in0
	adds r3 = DV_N, in0
	adds r9 = DV_BLOCKS, in0
	;;
	ld8 loc4 = [r2]
	ld8 loc5 = [r3]
	ld8 loc6 = [r9]
	cmp.eq p6, p0 = S_WAIT_FLUSH, loc2
	cmp.eq p7, p0 = S_WAIT_READ, loc2
	;;
(p6)	br.cond.dpnt .Lflushed
(p7)	br.cond.dpnt .Lverify
	// writes done
	add loc4 = loc4, loc5
	mov loc3 = S_WRITE
	;;
	st8 [r2] = loc4
	cmp.ltu p6, p0 = loc4, loc6
	;;
(p6)	br.cond.dptk .Lnewstate
	mov loc3 = S_FLUSH
	br.sptk.few .Lnewstate
	;;
.Lflushed:
	st8 [r2] = r0
	mov loc3 = S_READ
	br.sptk.few .Lnewstate
	;;
.Lverify:
	adds r2 = DV_PASS, in0
	;;
	ld8 loc7 = [r2]			// pass
	;;
	mov out0 = loc7
	mov out1 = loc6
	;;
	CALL umul
	add loc8 = r8, loc4		// sequence number - 1 of the batch's first block
	mov loc9 = 0			// k
	LA loc3, disk_bufs
	;;
1:	cmp.eq p6, p0 = loc9, loc5
(p6)	br.cond.dpnt 2f
	mov out0 = loc3
	add out1 = loc8, loc9
	add out2 = loc4, loc9
	mov out3 = loc7
	;;
	adds out1 = 1, out1
	CALL dv_verify
	cmp.ne p6, p0 = 0, r8
(p6)	br.cond.dpnt .Lcorrupt
	adds loc9 = 1, loc9
	adds loc3 = BLOCK, loc3
	br.sptk.few 1b
	;;
2:	LA out0, k_dv_blocks
	mov out1 = loc5
	;;
	CALL atomic_add
	add loc4 = loc4, loc5
	adds r2 = DV_BLOCK, in0
	mov loc3 = S_READ
	;;
	st8 [r2] = loc4
	cmp.ltu p6, p0 = loc4, loc6
(p6)	br.cond.dptk .Lnewstate
	// a pass done
	adds loc7 = 1, loc7
	adds r2 = DV_PASS, in0
	LA r3, k_dv_passes
	;;
	st8 [r2] = loc7
	st8 [r3] = loc7
	adds r2 = DV_BLOCK, in0
	;;
	st8 [r2] = r0
	PRINTF "diskverify: pass %u: %u blocks written, flushed, read back and verified\n", loc7, loc6
	adds r2 = DV_PASSES, in0
	;;
	ld8 r2 = [r2]
	;;
	cmp.eq p6, p0 = 0, r2
	mov loc3 = S_WRITE
	;;
(p6)	br.cond.dpnt 3f
	cmp.geu p7, p0 = loc7, r2
(p7)	br.cond.dpnt .Ldone
3:	mov out0 = in0
	CALL slot_expired
	cmp.ne p6, p0 = 0, r8
(p6)	br.cond.dpnt .Ldone
.Lnewstate:
	adds r2 = DV_STATE, in0
	mov r8 = 1
	;;
	st8 [r2] = loc3
	RET
.Ltimed_wait:
	CALL wake_at
	mov r8 = 0
	RET
.Ldone:
	mov r8 = 2
	RET
.Lbadstatus:
	mov loc3 = r8
	mov loc4 = r9
	PRINTF "FAIL diskverify: request %u completed with status %u (state %u)\n", loc3, loc4, loc2
	mov out0 = 1
	CALL kexit
.Lcorrupt:
	add loc4 = loc4, loc9
	adds loc5 = -1, r8
	mov loc6 = r9
	;;
	PRINTF "FAIL diskverify: block %u read back wrong in pass %u: word %u is %016x\n", loc4, loc7, loc5, loc6
	mov out0 = 1
	CALL kexit
END disk_step

	.global disk_finish
ENTRY disk_finish, 0, 6, 4
	LA r2, k_dv_passes
	LA r3, k_dv_blocks
	;;
	ld8 loc2 = [r2]
	ld8 loc3 = [r3]
	LA r2, k_ncpus
	;;
	ld8 r8 = [r2]
	mov loc4 = 0			// completion interrupts, all vCPUs
	mov r9 = 0
	;;
1:	LA r2, percpu_areas
	shl r3 = r9, PERCPU_SHIFT
	;;
	add r2 = r2, r3
	;;
	adds r2 = PC_DISKIRQ, r2
	adds r9 = 1, r9
	;;
	ld8 r2 = [r2]
	cmp.ltu p6, p0 = r9, r8
	;;
	add loc4 = loc4, r2
(p6)	br.cond.dptk 1b
	;;
	PRINTF "diskverify: %u passes, %u blocks verified, %u completion interrupts\n", loc2, loc3, loc4
	cmp.ne p6, p0 = 0, loc4
(p6)	br.cond.dptk 2f
	PRINTF "FAIL diskverify: no completion interrupt arrived\n"
	mov out0 = 1
	CALL kexit
2:	RET
END disk_finish
