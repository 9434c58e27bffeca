// alu_loop — a tight integer loop: add, xor, shladd, sub, xor, counted by br.cloop.
// 6 instructions an iteration, 50 M iterations. The result is checked against the value
// the same recurrence gives in python3 (computed once, pasted as the constant).
	.include "common.inc"
	.text
	.global _start
_start:
	movl r9 = 50000000 - 1
	mov r8 = 0
	mov r10 = 7
	mov r11 = 3
	mov r13 = 0 ;;
	mov ar.lc = r9 ;;
loop:
	{ .mii
	add r8 = r8, r10
	xor r11 = r11, r10
	shladd r12 = r10, 2, r13 ;;
	}
	{ .mib
	sub r10 = r12, r11
	xor r13 = r12, r8
	br.cloop.sptk.few loop ;;
	}
	movl r14 = 0xd057787cb3d6c47b ;;
	cmp.eq p6, p7 = r14, r10 ;;
(p7)	br.cond.dpnt.few bad ;;
	EXIT 0
bad:	EXIT 1
