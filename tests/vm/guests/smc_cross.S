// smc_cross.S — code written by someone else while a vCPU runs it. The boot vCPU starts the
// others and spins on the bundle at `spin` (0x100010: "mov r8 = 0; br b7", b7 = spin); vCPU 1
// copies the bundle at `patch` (0x100020: "mov r8 = 9; br b6", b6 = check) over it and halts.
// With one vCPU, the host (a device write) does the copy. The boot vCPU exits with 9 once it
// runs the new bundle; on stale decoded code it spins forever. Both bundles branch through
// branch registers, so they mean the same wherever they lie.
	.include "../../tests/vm/guests/ssc.inc"   // from tests/vm and bench/vm alike
	.text
	.global _start
_start:	br.sptk.many init ;;
spin:	{ .mib
	nop.m 0
	mov r8 = 0
	br.sptk.many b7 ;;
	}
patch:	{ .mib
	nop.m 0
	mov r8 = 9
	br.sptk.many b6 ;;
	}
init:	START_SECONDARIES other
	movl r20 = spin
	movl r21 = check ;;
	mov b7 = r20
	mov b6 = r21 ;;
	br.sptk.many b7 ;;
check:	mov r32 = r8 ;;
	SSC SSC_EXIT
other:	CPU_ID r16
	cmp.eq p6, p7 = 1, r16 ;;
(p7)	br.cond.sptk idle ;;
	movl r20 = patch
	movl r21 = spin ;;
	ld8 r22 = [r20], 8 ;;
	ld8 r23 = [r20] ;;
	st8 [r21] = r22, 8 ;;
	st8 [r21] = r23 ;;
idle:	SSC SSC_HALT_LIGHT
	br idle ;;
