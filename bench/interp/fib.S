// fib — call-heavy recursion: fib(32) the naive way, 7 M calls through br.call/br.ret
// with alloc'ed frames; the register stack engine spills and fills as it goes deeper.
	.include "common.inc"
	.text
	.global _start
_start:
	alloc r2 = ar.pfs, 0, 0, 1, 0
	mov out0 = 32
	br.call.sptk.many b0 = fib ;;
	movl r14 = 2178309 ;;
	cmp.eq p6, p7 = r8, r14 ;;
(p7)	br.cond.dpnt.few bad ;;
	EXIT 0
bad:	EXIT 1

	.proc fib
fib:	// r8 = fib(in0)
	alloc loc0 = ar.pfs, 1, 3, 1, 0
	cmp.lt p6, p7 = 1, in0
	mov loc1 = b0 ;;
(p7)	mov r8 = in0
(p7)	br.ret.sptk.many b0 ;;
	adds out0 = -1, in0
	br.call.sptk.many b0 = fib ;;
	mov loc2 = r8
	adds out0 = -2, in0
	br.call.sptk.many b0 = fib ;;
	add r8 = r8, loc2
	mov ar.pfs = loc0
	mov b0 = loc1 ;;
	br.ret.sptk.many b0 ;;
	.endp fib
