// args.S — prints the process state ia64run hands over, for test_ia64run_start.c: the
// registers as the kernel leaves them (before anything changes them), argc/argv, the
// environment and the auxiliary vector (every entry in order, then the strings some point to).
	.include "rt.inc"

	.text
	.global _start
	.proc _start
_start:
	mov r20 = r8
	mov r21 = ar.pfs
	mov r22 = ar.bsp
	mov r23 = ar.rsc
	mov r24 = ar.fpsr
	mov r25 = sp
	mov r26 = psr.um
	mov r27 = ar.unat
	mov r28 = ar.lc
	;;
	cover				// the frame joins the dirty registers: bsp grows by sof
	;;
	mov r29 = ar.bsp
	;;
	alloc r2 = ar.pfs, 0, 24, 3, 0
	;;
	mov loc0 = r20
	mov loc1 = r21
	mov loc2 = r22
	mov loc3 = r23
	mov loc4 = r24
	mov loc5 = r25
	mov loc6 = r26
	mov loc7 = r27
	mov loc8 = r28
	mov loc9 = r29
	;;
	SAY "r8="
	DEC loc0
	NL
	SAY "pfs="
	DEC loc1
	NL
	SAY "bsp="
	HEX loc2
	NL
	SAY "sof="
	sub r14 = loc9, loc2
	;;
	shr.u r14 = r14, 3
	;;
	DEC r14
	NL
	SAY "rsc="
	HEX loc3
	NL
	SAY "fpsr="
	HEX loc4
	NL
	SAY "psr.um="
	DEC loc6
	NL
	SAY "unat="
	DEC loc7
	NL
	SAY "lc="
	DEC loc8
	NL
	adds loc10 = 16, loc5		// new_sp: where argc is
	;;
	SAY "argc_at="
	HEX loc10
	NL
	ld8 loc11 = [loc10], 8		// argc; loc10 = argv
	;;
	SAY "argc="
	DEC loc11
	NL
	mov loc12 = 0
	;;
1:	cmp.eq p6, p0 = loc12, loc11
(p6)	br.cond.spnt.few 2f
	;;
	SAY "argv["
	DEC loc12
	SAY "]="
	ld8 loc13 = [loc10], 8
	;;
	PUTS loc13
	NL
	adds loc12 = 1, loc12
	br.cond.sptk.many 1b
	;;
2:	ld8 r14 = [loc10], 8		// argv's NULL
	;;
	cmp.ne p6, p0 = r14, r0
	FAILIF p6, "argv is not NULL-terminated"
3:	ld8 loc13 = [loc10], 8		// the environment
	;;
	cmp.eq p6, p0 = loc13, r0
(p6)	br.cond.spnt.few 4f
	;;
	SAY "env="
	PUTS loc13
	NL
	br.cond.sptk.many 3b
	;;
4:	mov loc14 = r0			// AT_EXECFN
	mov loc15 = r0			// AT_RANDOM
	;;
5:	ld8 loc12 = [loc10], 8		// the auxiliary vector: tag, value
	;;
	ld8 loc13 = [loc10], 8
	;;
	SAY "auxv "
	DEC loc12
	SAY " "
	HEX loc13
	NL
	cmp.eq p6, p0 = AT_EXECFN, loc12
	cmp.eq p7, p0 = AT_RANDOM, loc12
	cmp.eq p8, p0 = AT_NULL, loc12
	;;
(p6)	mov loc14 = loc13
(p7)	mov loc15 = loc13
(p8)	br.cond.spnt.few 6f
	br.cond.sptk.many 5b
	;;
6:	SAY "auxv_end="
	HEX loc10
	NL
	SAY "execfn="
	PUTS loc14
	NL
	mov out0 = loc14
	br.call.sptk.many b0 = rt_strlen
	;;
	add loc16 = r8, loc14
	;;
	adds loc16 = 1, loc16
	;;
	SAY "execfn_end="
	HEX loc16
	NL
	ld1 r14 = [loc15], 15		// AT_RANDOM: 16 readable bytes (not aligned on ia64)
	;;
	ld1 r15 = [loc15]
	;;
	SAY "random_ok=1"
	NL
	SAY "entry="
	movl r14 = _start
	;;
	HEX r14
	NL
	EXIT 0
	.endp _start
