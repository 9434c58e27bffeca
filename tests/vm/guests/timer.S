// timer.S — the ITC timer through the guest's IVT: arms cr.itm 1 ms ahead with cr.itv =
// 0xef, enables interruption collection and interrupts, and sleeps in HALT_LIGHT; each
// External Interrupt reads cr.ivr, counts, re-arms cr.itm and returns with rfi. After 10
// ticks it exits 0 when ar.itc advanced at least 9 ms (1 GHz), else 1.
	.include "../../tests/vm/guests/ssc.inc"
	.text
	.global _start
_start:
	movl r2 = ivt ;;
	mov cr.iva = r2
	mov r3 = 0xef ;;
	mov cr.itv = r3
	mov cr.tpr = r0 ;;
	srlz.d ;;
	mov r20 = 0
	mov r26 = 10
	movl r22 = 1000000 ;;
	mov r21 = ar.itc ;;
	add r23 = r21, r22 ;;
	mov cr.itm = r23 ;;
	ssm 0x6000 ;;
	srlz.d ;;
wait:	SSC SSC_HALT_LIGHT
	cmp.ltu p6, p7 = r20, r26 ;;
(p6)	br.cond.sptk wait ;;
	mov r24 = ar.itc ;;
	sub r24 = r24, r21
	movl r25 = 9000000 ;;
	cmp.ltu p6, p7 = r24, r25 ;;
(p6)	br.cond.spnt quick ;;
	EXIT 0
quick:	EXIT 1

	.align 32768
ivt:	.skip 0x3000
	// External Interrupt vector (IVA + 0x3000)
	mov r16 = cr.ivr ;;
	srlz.d
	adds r20 = 1, r20
	mov r17 = ar.itc ;;
	add r17 = r17, r22 ;;
	mov cr.itm = r17 ;;
	mov cr.eoi = r0 ;;
	srlz.d ;;
	rfi ;;
