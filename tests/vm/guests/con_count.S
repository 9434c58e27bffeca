// con_count.S — prints "C <n>\n" for n = 0, 1, 2, ... (n in 16 hex digits) through the console
// device's TX register, one byte at a time with a short spin after each, forever: a guest whose
// console is in the middle of a line nearly all the time. tests/migrate/test_live_console
// migrates it back and forth and finds every line whole, once, on one host's console.log.
	.include "../../tests/vm/guests/ssc.inc"
	SPIN = 20000			// iterations after each byte (about 250 lines a second here)

// PUT: r3 to the TX register (r2), then spin (r8).
	.macro PUT
	st8 [r2] = r3
	movl r8 = SPIN ;;
9:	adds r8 = -1, r8 ;;
	cmp.ne p6, p7 = 0, r8
(p6)	br.cond.sptk.few 9b ;;
	.endm
	.text
	.global _start
_start:
	movl r2 = 0x80000000F0000020	// TX, uncacheable
	movl r20 = hexdig
	mov r4 = 0 ;;			// n
line:
	mov r3 = 67 ;;			// 'C'
	PUT
	mov r3 = 32 ;;			// ' '
	PUT
	mov r5 = 60 ;;			// the next digit's shift: 60, 56, ..., 0
digit:
	shr.u r6 = r4, r5 ;;
	and r6 = 15, r6 ;;
	add r7 = r20, r6 ;;
	ld1 r3 = [r7] ;;
	PUT
	cmp.eq p6, p7 = 0, r5
	adds r5 = -4, r5 ;;
(p7)	br.cond.sptk.few digit ;;
	mov r3 = 10 ;;			// '\n'
	PUT
	adds r4 = 1, r4
	br line ;;

	.data
hexdig:	.ascii "0123456789abcdef"
