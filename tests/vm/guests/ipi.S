// ipi.S — an inter-processor interrupt delivered through the target's IVT. The boot vCPU
// starts vCPU 1, which installs its IVT, enables interrupts and halts; the boot vCPU then
// stores vector 0xd0 to vCPU 1's PIB address. vCPU 1's External Interrupt handler reads
// cr.ivr and stores the vector to `got`; the boot vCPU exits with it (208).
	.include "../../tests/vm/guests/ssc.inc"
	.text
	.global _start
_start:
	START_SECONDARIES second
	movl r2 = ready ;;
1:	ld8.acq r3 = [r2] ;;
	cmp.eq p6, p7 = 0, r3
(p6)	br.cond.sptk 1b ;;
	movl r4 = 0x80000000FEE01000
	mov r5 = 0xd0 ;;
	st8 [r4] = r5
	movl r2 = got ;;
2:	ld8.acq r3 = [r2] ;;
	cmp.eq p6, p7 = 0, r3
(p6)	br.cond.sptk 2b ;;
	mov r32 = r3 ;;
	SSC SSC_EXIT

second:	movl r2 = ivt ;;
	mov cr.iva = r2
	mov cr.tpr = r0 ;;
	srlz.d ;;
	ssm 0x6000 ;;
	srlz.d ;;
	movl r2 = ready
	mov r3 = 1 ;;
	st8.rel [r2] = r3 ;;
3:	SSC SSC_HALT_LIGHT
	br 3b ;;

	.align 32768
ivt:	.skip 0x3000
	mov r16 = cr.ivr ;;
	srlz.d
	movl r17 = got ;;
	st8.rel [r17] = r16
	mov cr.eoi = r0 ;;
	srlz.d ;;
	rfi ;;

	.data
	.align 8
ready:	data8 0
got:	data8 0
