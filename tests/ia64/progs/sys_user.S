// sys_user.S — what a user program (cpl 3) may do with the system instructions: the user
// mask through sum, rum and mov psr.um (be, up, ac, mfl, mfh), the cpuid registers, and a
// performance data register while PSR.sp is 0. Expected values worked by hand from the SDM:
// ia64run starts the program as Linux does, with PSR.um = 0 and PSR.sp = 1 (so sum/rum and
// mov psr.um leave PSR.up alone); CPUID[0] holds "hpvm" little-endian
// (0x6d767068), CPUID[3].number (bits 7:0) is 4, CPUID[4].lb (bit 0) is 1; no counter runs,
// so pmd4 reads 0. No memory is touched while PSR.be is set.
	.include "check.inc"

	.text
	.global _start
	.proc _start
_start:
	mov r8 = psr.um ;;
	CHECK r8, 0
	sum 0x3e ;;			// be up ac mfl mfh: up stays 0 (psr.sp)
	mov r8 = psr.um ;;
	CHECK r8, 0x3a
	rum 0x22 ;;			// clear be and mfh
	mov r8 = psr.um ;;
	CHECK r8, 0x18
	mov r9 = 0x6 ;;			// be up: up stays 0
	mov psr.um = r9 ;;
	mov r8 = psr.um ;;
	CHECK r8, 0x2
	mov psr.um = r0 ;;
	mov r8 = psr.um ;;
	CHECK r8, 0

	mov r3 = 0 ;;
	mov r8 = cpuid[r3] ;;
	CHECK r8, 0x6d767068
	mov r3 = 1 ;;
	mov r8 = cpuid[r3] ;;
	CHECK r8, 0
	mov r3 = 3 ;;
	mov r8 = cpuid[r3] ;;
	extr.u r9 = r8, 0, 8 ;;
	CHECK r9, 4
	mov r3 = 4 ;;
	mov r8 = cpuid[r3] ;;
	and r9 = 1, r8 ;;
	CHECK r9, 1
	movl r3 = 0x104 ;;		// only bits 7:0 index: cpuid[4] again
	mov r10 = cpuid[r3] ;;
	cmp.eq p6, p7 = r10, r8 ;;
(p7)	break.i 0x2000 ;;

	mov r3 = 4 ;;
	mov r8 = pmd[r3] ;;
	CHECK r8, 0
	PASS
	.endp _start
