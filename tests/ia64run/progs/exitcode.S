// exitcode.S — exit_group(argv[1] as a decimal number); with a second argument it uses
// exit instead, so both calls' statuses are checked.
	.include "rt.inc"

	.text
	.global _start
	.proc _start
_start:
	alloc r2 = ar.pfs, 0, 4, 3, 0
	adds loc0 = 16, sp
	;;
	ld8 loc1 = [loc0], 16		// argc; loc0 = argv[1]
	;;
	ld8 out0 = [loc0], 8
	br.call.sptk.many b0 = rt_atoi
	;;
	mov loc2 = r8
	cmp.ltu p6, p7 = 2, loc1	// argc > 2: use exit
	;;
	mov out0 = loc2
(p6)	mov r15 = NR_exit
(p7)	mov r15 = NR_exit_group
	;;
	break.i 0x100000
	;;
	EXIT 99				// not reached
	.endp _start
