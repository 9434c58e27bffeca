// hello — the smallest user-mode program: write a line, exit 0.
	.include "linux.inc"
	.text
	.global _start
	.proc _start
_start:
	alloc r2 = ar.pfs, 0, 0, 3, 0
	mov out0 = 1
	movl out1 = msg
	mov out2 = msg_end - msg
	SYSCALL NR_write
	mov out0 = 0
	SYSCALL NR_exit_group
	.endp _start

	.data
msg:	.ascii "Hello from IA-64\n"
msg_end:
