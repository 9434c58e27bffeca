// memsum.S — the memsum workload: a checksum of the memory the guest booted with, so a test can
// tell that the guest sees the bytes of a memory image (hpvmapp --mem-image, hpvm -x mem_image=)
// through its own translations. vCPU 0 reads size= bytes (default 16 MiB, rounded up to 64 KiB)
// from the bottom of the free memory (16 MiB: byte 16 MiB of the image), 64 KiB a step, folding
// every 8-byte little-endian word w into s = rotl(s, 1) ^ w (s = 0 first), and prints
// "memsum: N MiB at 0x1000000: checksum %016x". bench/migrate/mkimage --sum computes the same
// from the image file. Run it alone or with heartbeat/idle: memverify and memstress write the
// memory it reads.
	.include "kernel.inc"

	MSUM_CUR = SL_S + 0
	MSUM_END = SL_S + 8
	STEP_BYTES = 65536

	.data
	.align 8
k_msum_base:	data8 0
k_msum_size:	data8 0
k_msum_sum:	data8 0

	.global msum_init
ENTRY msum_init, 1, 6, 3
	mov out0 = WL_MSUM
	mov out1 = P_SIZE
	movl out2 = 16 << 20
	;;
	CALL param
	movl r14 = STEP_BYTES - 1
	LA r2, k_seg			// the first free segment: base, length
	LA r3, k_nseg
	;;
	add r8 = r8, r14
	ld8 loc2 = [r2], 8
	ld8 r3 = [r3]
	;;
	andcm loc3 = r8, r14		// size, whole steps
	ld8 loc4 = [r2]
	cmp.eq p6, p0 = 0, r3
	;;
(p6)	mov loc4 = 0
	;;
	cmp.ltu p7, p0 = loc4, loc3
(p7)	br.cond.dpnt .Lnofit
	add r9 = loc2, loc3
	adds r10 = MSUM_CUR, in0
	adds r11 = MSUM_END, in0
	LA r2, k_msum_base
	LA r3, k_msum_size
	;;
	st8 [r10] = loc2
	st8 [r11] = r9
	st8 [r2] = loc2
	st8 [r3] = loc3
	RET
.Lnofit:
	shr.u loc3 = loc3, 20
	shr.u loc4 = loc4, 20
	PRINTF "FAIL memsum: size=%u MiB does not fit in the free memory (%u MiB from 16 MiB); give more --memory\n", loc3, loc4
	mov out0 = 1
	CALL kexit
END msum_init

	.global msum_step
ENTRY msum_step, 1, 2, 0
	adds r2 = MSUM_CUR, in0
	adds r3 = MSUM_END, in0
	LA r15, k_msum_sum
	;;
	ld8 r10 = [r2]
	ld8 r3 = [r3]
	ld8 r11 = [r15]
	;;
	cmp.geu p6, p0 = r10, r3
	mov r14 = STEP_BYTES / 8
(p6)	br.cond.dpnt .Ldone
	;;
1:	ld8 r9 = [r10], 8
	shrp r11 = r11, r11, 63		// rotl(s, 1)
	adds r14 = -1, r14
	;;
	xor r11 = r11, r9
	cmp.ne p7, p0 = 0, r14
(p7)	br.cond.dptk 1b
	;;
	st8 [r2] = r10
	st8 [r15] = r11
	mov r8 = 1
	RET
.Ldone:
	mov r8 = 2
	RET
END msum_step

	.global msum_finish
ENTRY msum_finish, 0, 5, 4
	LA r2, k_msum_size
	LA r3, k_msum_base
	LA r9, k_msum_sum
	;;
	ld8 loc2 = [r2]
	ld8 loc3 = [r3]
	ld8 loc4 = [r9]
	;;
	shr.u loc2 = loc2, 20
	PRINTF "memsum: %u MiB at 0x%x: checksum %016x\n", loc2, loc3, loc4
	RET
END msum_finish
