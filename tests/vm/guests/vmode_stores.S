// vmode_stores.S — dirty_stores.S in virtual mode through one 256 MiB translation: each vCPU
// maps region 1 (rid 1) to guest-physical 0 with a data translation register of page size
// 2^28 and turns psr.dt on; the table (same layout as dirty_stores.S, bit 63 ignored) is
// read and the stores made through the mapping. The dirty log must still count exactly the
// 4 KiB frames the stores touch.
	.include "../../tests/vm/guests/ssc.inc"
	TABLES = 0x1000000

	.text
	.global _start
_start:
	START_SECONDARIES work
work:	movl r2 = (1 << 8) | (28 << 2)
	movl r3 = 0x2000000000000000 ;;
	mov rr[r3] = r2 ;;
	srlz.d ;;
	mov cr.ifa = r3
	mov r4 = 28 << 2 ;;
	mov cr.itir = r4
	movl r5 = 0x661 ;;             // present, WB, accessed, dirty, pl 0, ar RWX, ppn 0
	mov r6 = 0 ;;
	itr.d dtr[r6] = r5 ;;
	srlz.d ;;
	ssm 0x20000 ;;                 // psr.dt
	srlz.d ;;
	CPU_ID r16
	shl r16 = r16, 20
	movl r17 = TABLES ;;
	add r22 = r16, r17 ;;
	add r22 = r22, r3 ;;           // the table through the mapping too
	ld8 r21 = [r22], 8
	mov r20 = 0 ;;
loop:	cmp.ltu p6, p7 = r20, r21 ;;
(p7)	br.cond.spnt done ;;
	ld8 r23 = [r22], 8 ;;
	tbit.nz p1, p2 = r23, 62 ;;
	dep r23 = 0, r23, 62, 2 ;;
	add r23 = r23, r3 ;;
	{ .mmi
(p1)	st1 [r23] = r20
(p2)	st8 [r23] = r20
	adds r20 = 1, r20 ;;
	}
	br loop ;;
done:	SSC SSC_HALT_LIGHT
	br done ;;
