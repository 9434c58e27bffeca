// crash.S — executes an illegal instruction (a reserved template) with no interruption
// vector table: the platform must call it a guest crash (exit 134, registers on stderr).
	.include "../../tests/vm/guests/ssc.inc"   // from tests/vm and bench/vm alike
	.text
	.global _start
_start:
	movl r9 = 0x1234567890abcdef ;;
	data8 0xffffffffffffffff, 0xffffffffffffffff
