// ssc_hello.S — a Ski-style program: prints "hello ", its command line (SSC GET_ARGS) and a
// newline with PUTCHAR, then powers off with EXIT 42.
	.include "../../tests/vm/guests/ssc.inc"   // from tests/vm and bench/vm alike
	.text
	.global _start
_start:
	movl r20 = hello ;;
1:	ld1 r32 = [r20], 1 ;;
	cmp.eq p6, p7 = 0, r32
(p6)	br.cond.spnt 2f ;;
	SSC SSC_PUTCHAR
	br 1b ;;
2:	movl r32 = buf
	mov r33 = 256 ;;
	SSC SSC_GET_ARGS
	movl r20 = buf
	mov r21 = r8 ;;
3:	cmp.eq p6, p7 = 0, r21
(p6)	br.cond.spnt 4f ;;
	ld1 r32 = [r20], 1
	adds r21 = -1, r21 ;;
	SSC SSC_PUTCHAR
	br 3b ;;
4:	mov r32 = 10 ;;
	SSC SSC_PUTCHAR
	EXIT 42

	.data
hello:	stringz "hello "
buf:	.skip 256
