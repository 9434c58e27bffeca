// smoke — add, adds, addl, movl: the core forms the decoder starts with.
	.include "check.inc"
	.text
	.global _start
_start:
	mov r8 = 5
	movl r9 = 0x123456789abcdef0 ;;
	add r10 = r8, r9
	adds r11 = -8, r8
	addl r12 = 0x1fffff, r0 ;;
	add r13 = r8, r8, 1 ;;
	CHECK r10, 0x123456789abcdef5
	CHECK r11, -3
	CHECK r12, 0x1fffff
	CHECK r13, 11
	PASS
