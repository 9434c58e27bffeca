// con_tx.S — writes "tx ok\n" through the console device's TX register (device 0 at
// 0xF000_0000, reached uncacheably with address bit 63) and exits 0.
	.include "../../tests/vm/guests/ssc.inc"
	.text
	.global _start
_start:
	movl r2 = 0x80000000F0000020
	movl r20 = text ;;
1:	ld1 r3 = [r20], 1 ;;
	cmp.eq p6, p7 = 0, r3
(p6)	br.cond.spnt 2f ;;
	st8 [r2] = r3
	br 1b ;;
2:	EXIT 0

	.data
text:	stringz "tx ok\n"
