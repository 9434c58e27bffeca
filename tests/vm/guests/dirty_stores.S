// dirty_stores.S — random stores for the dirty-log tests. Each vCPU (the boot vCPU starts
// the others) walks its table at TABLES + id * 1 MiB: a count, then one entry per store:
// the physical address, with bit 62 set for a 1-byte store (else 8 bytes) and bit 63 set
// for an uncacheable one. r20 counts the stores done, and the store and the count's
// increment share a bundle, so a paused vCPU's r20 is exactly the number of stores it made.
// At the end each vCPU halts for good.
	.include "../../tests/vm/guests/ssc.inc"   // from tests/vm and bench/vm alike
	TABLES = 0x1000000

	.text
	.global _start
_start:
	START_SECONDARIES work
work:
	CPU_ID r16
	shl r16 = r16, 20
	movl r17 = TABLES ;;
	add r22 = r16, r17 ;;
	ld8 r21 = [r22], 8
	mov r20 = 0 ;;
loop:	cmp.ltu p6, p7 = r20, r21 ;;
(p7)	br.cond.spnt done ;;
	ld8 r23 = [r22], 8 ;;
	tbit.nz p1, p2 = r23, 62 ;;
	dep r23 = 0, r23, 62, 1 ;;
	{ .mmi
(p1)	st1 [r23] = r20
(p2)	st8 [r23] = r20
	adds r20 = 1, r20 ;;
	}
	br loop ;;
done:	SSC SSC_HALT_LIGHT
	br done ;;
