// ssc_echo.S — echoes console input (SSC GETCHAR, polling) back with PUTCHAR until a newline,
// then exits 0; exits 3 when GET_TOD or GET_RTC fail.
	.include "../../tests/vm/guests/ssc.inc"   // from tests/vm and bench/vm alike
	.text
	.global _start
_start:
	SSC SSC_CONSOLE_INIT
	movl r32 = tod ;;
	SSC SSC_GET_TOD
	cmp.eq p6, p7 = 0, r8 ;;
(p7)	br.cond.spnt bad ;;
	movl r32 = rtc ;;
	SSC SSC_GET_RTC
	cmp.eq p6, p7 = 0, r8 ;;
(p7)	br.cond.spnt bad ;;
1:	SSC SSC_GETCHAR
	cmp.eq p6, p7 = 0, r8 ;;
(p6)	br.cond.sptk 1b ;;
	mov r32 = r8 ;;
	SSC SSC_PUTCHAR
	cmp.eq p6, p7 = 10, r32 ;;
(p7)	br.cond.sptk 1b ;;
	EXIT 0
bad:	EXIT 3

	.data
	.align 8
tod:	.skip 16
rtc:	.skip 32
