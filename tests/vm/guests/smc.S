// smc.S — self-modifying code on one vCPU: runs the bundle at `target` (r8 = 5), copies the
// bundle at `patch` (r8 = 7) over it with two 8-byte stores, runs it again and exits with
// 10 * first + second: 57 when the rewritten bundle ran, 55 when stale decoded code did.
	.include "../../tests/vm/guests/ssc.inc"   // from tests/vm and bench/vm alike
	.text
	.global _start
_start:
	mov r9 = 0 ;;
target:	{ .mii
	nop.m 0
	mov r8 = 5
	nop.i 0 ;;
	}
	cmp.eq p6, p7 = 0, r9 ;;
(p7)	br.cond.sptk fin ;;
	mov r10 = r8
	movl r20 = patch
	movl r21 = target ;;
	ld8 r22 = [r20], 8 ;;
	ld8 r23 = [r20] ;;
	st8 [r21] = r22, 8 ;;
	st8 [r21] = r23
	mov r9 = 1
	br target ;;
fin:	shladd r11 = r10, 2, r10 ;;
	add r11 = r11, r11 ;;
	add r32 = r11, r8 ;;
	SSC SSC_EXIT
patch:	{ .mii
	nop.m 0
	mov r8 = 7
	nop.i 0 ;;
	}
