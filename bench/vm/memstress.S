// memstress.S — the benchmark's memory-writing guest. Every vCPU (the boot vCPU starts the
// others) rewrites its own slice of the working set with 8-byte stores, front to back, for
// ever; r20 counts the stores. The host writes the parameters before boot at PARAMS:
// slice base of vCPU 0 (8), slice size in bytes (8, a multiple of 64); vCPU i's slice
// follows vCPU i-1's.
	.include "../../tests/vm/guests/ssc.inc"
	PARAMS = 0x80000

	.text
	.global _start
_start:
	START_SECONDARIES go
go:	CPU_ID r16
	movl r17 = PARAMS ;;
	ld8 r18 = [r17], 8 ;;          // base
	ld8 r19 = [r17] ;;             // slice size
	setf.sig f6 = r16
	setf.sig f7 = r19 ;;
	xma.l f8 = f6, f7, f0 ;;
	getf.sig r16 = f8 ;;
	add r24 = r18, r16 ;;          // this vCPU's slice
	add r23 = r24, r19
	mov r20 = 0 ;;
again:	mov r22 = r24 ;;
loop:	st8 [r22] = r20, 8
	adds r20 = 1, r20 ;;
	st8 [r22] = r20, 8
	adds r20 = 1, r20 ;;
	st8 [r22] = r20, 8
	adds r20 = 1, r20 ;;
	st8 [r22] = r20, 8
	adds r20 = 1, r20 ;;
	cmp.ltu p6, p7 = r22, r23
(p6)	br.cond.sptk loop ;;
	br again ;;
