// fault.S — takes the fault argv[1] names, for test_ia64run_fault.c. Each must end the
// process (one line from ia64run, exit 128 + signal); if execution goes on it prints
// "FAIL: survived" and exits 1.
//   r  read of an unmapped address (0x1000)           SIGSEGV
//   w  write to the text segment (read-only)           SIGSEGV
//   x  branch to an unmapped address                   SIGSEGV
//   k  read of a kernel address (region 7)             SIGSEGV
//   z  branch to the stack (not executable)            SIGSEGV
//   o  memory stack overflow (past RLIMIT_STACK)       SIGSEGV
//   m  write to a page mprotect()ed read-only          SIGSEGV
//   u  read of a page after munmap()                   SIGSEGV
//   e  read past the program break                     SIGSEGV
//   q  read of an execute-only mapping                 SIGSEGV
//   b  unaligned ld8                                   SIGBUS
//   i  a bundle with a reserved template               SIGILL
//   p  mov r8=psr (privileged at cpl 3)                SIGILL
//   n  ld8 through a NaT (ld8.s of a bad address)      SIGILL
//   f  break 1 (integer divide by zero)                SIGFPE
//   t  break 0x80000 (debugger breakpoint)             SIGTRAP
//   h  as r, with a SIGSEGV handler installed          SIGSEGV, noted as not run
//   a  tgkill(self, SIGABRT), as abort() does           SIGABRT
	.include "rt.inc"

	.data
	.align 16
word:	data8 0x1122334455667788, 0
act:	data8 0x4000000000000000, 0, 0	// sa_handler (any address), sa_flags, sa_mask

	.text
	.global _start
	.proc _start
_start:
	alloc r2 = ar.pfs, 0, 8, 6, 0
	adds loc0 = 16, sp
	;;
	ld8 loc1 = [loc0], 16		// argc; loc0 = &argv[1]
	;;
	ld8 loc2 = [loc0]
	;;
	ld1 loc3 = [loc2]		// the selector
	;;
	cmp.eq p6, p0 = 0x72, loc3		// 'r'
(p6)	br.cond.sptk.many do_r
	;;
	cmp.eq p6, p0 = 0x77, loc3		// 'w'
(p6)	br.cond.sptk.many do_w
	;;
	cmp.eq p6, p0 = 0x78, loc3		// 'x'
(p6)	br.cond.sptk.many do_x
	;;
	cmp.eq p6, p0 = 0x6b, loc3		// 'k'
(p6)	br.cond.sptk.many do_k
	;;
	cmp.eq p6, p0 = 0x7a, loc3		// 'z'
(p6)	br.cond.sptk.many do_z
	;;
	cmp.eq p6, p0 = 0x6f, loc3		// 'o'
(p6)	br.cond.sptk.many do_o
	;;
	cmp.eq p6, p0 = 0x6d, loc3		// 'm'
(p6)	br.cond.sptk.many do_m
	;;
	cmp.eq p6, p0 = 0x75, loc3		// 'u'
(p6)	br.cond.sptk.many do_u
	;;
	cmp.eq p6, p0 = 0x65, loc3		// 'e'
(p6)	br.cond.sptk.many do_e
	;;
	cmp.eq p6, p0 = 0x71, loc3		// 'q'
(p6)	br.cond.sptk.many do_q
	;;
	cmp.eq p6, p0 = 0x62, loc3		// 'b'
(p6)	br.cond.sptk.many do_b
	;;
	cmp.eq p6, p0 = 0x69, loc3		// 'i'
(p6)	br.cond.sptk.many do_i
	;;
	cmp.eq p6, p0 = 0x70, loc3		// 'p'
(p6)	br.cond.sptk.many do_p
	;;
	cmp.eq p6, p0 = 0x6e, loc3		// 'n'
(p6)	br.cond.sptk.many do_n
	;;
	cmp.eq p6, p0 = 0x66, loc3		// 'f'
(p6)	br.cond.sptk.many do_f
	;;
	cmp.eq p6, p0 = 0x74, loc3		// 't'
(p6)	br.cond.sptk.many do_t
	;;
	cmp.eq p6, p0 = 0x68, loc3		// 'h'
(p6)	br.cond.sptk.many do_h
	;;
	cmp.eq p6, p0 = 0x61, loc3		// 'a'
(p6)	br.cond.sptk.many do_a
	;;
	SAY "FAIL: unknown selector"
	NL
	EXIT 2

do_r:	movl r9 = 0x1000
	;;
	ld8 r8 = [r9]
	br.cond.sptk.many survived
	;;
do_w:	movl r9 = _start
	;;
	st8 [r9] = r0
	br.cond.sptk.many survived
	;;
do_x:	movl r9 = 0x2000000000000000
	;;
	mov b6 = r9
	;;
	br.call.sptk.many b0 = b6
	;;
	br.cond.sptk.many survived
	;;
do_k:	movl r9 = 0xe000000000000000
	;;
	ld8 r8 = [r9]
	br.cond.sptk.many survived
	;;
do_z:	mov b6 = sp
	;;
	br.call.sptk.many b0 = b6
	;;
	br.cond.sptk.many survived
	;;
do_o:	movl r9 = -16384
	;;
	add sp = r9, sp
	;;
	st8 [sp] = r0
	br.cond.sptk.many do_o
	;;
do_m:	mov out0 = r0
	mov out1 = 16384
	mov out2 = PROT_READ | PROT_WRITE
	mov out3 = MAP_PRIVATE | MAP_ANONYMOUS
	mov out4 = -1
	mov out5 = r0
	SYSCALL NR_mmap
	mov loc4 = r8
	mov out0 = r8
	mov out1 = 16384
	mov out2 = PROT_READ
	;;
	SYSCALL NR_mprotect
	cmp.ne p6, p0 = r10, r0
	FAILIF p6, "mprotect failed"
	ld8 r9 = [loc4]			// reading is still allowed
	;;
	st8 [loc4] = r9
	br.cond.sptk.many survived
	;;
do_u:	mov out0 = r0
	mov out1 = 3 * 16384
	mov out2 = PROT_READ | PROT_WRITE
	mov out3 = MAP_PRIVATE | MAP_ANONYMOUS
	mov out4 = -1
	mov out5 = r0
	SYSCALL NR_mmap
	movl r9 = 16384
	;;
	add loc4 = r9, r8
	;;
	mov out0 = loc4
	mov out1 = 16384
	SYSCALL NR_munmap
	ld8 r9 = [loc4]
	br.cond.sptk.many survived
	;;
do_e:	mov out0 = r0
	SYSCALL NR_brk
	mov loc4 = r8
	adds out0 = 8, r8
	;;
	SYSCALL NR_brk			// one page now belongs to the break
	st8 [loc4] = r0
	movl r9 = 16384
	;;
	add r9 = r9, loc4
	;;
	ld8 r8 = [r9]			// the page after it does not
	br.cond.sptk.many survived
	;;
do_q:	mov out0 = r0
	mov out1 = 16384
	mov out2 = PROT_EXEC
	mov out3 = MAP_PRIVATE | MAP_ANONYMOUS
	mov out4 = -1
	mov out5 = r0
	SYSCALL NR_mmap
	mov r9 = r8
	;;
	ld8 r8 = [r9]
	br.cond.sptk.many survived
	;;
do_b:	movl r9 = word + 1
	;;
	ld8 r8 = [r9]
	br.cond.sptk.many survived
	;;
do_i:	br.cond.sptk.many bad_bundle
	;;
do_p:	mov r8 = psr
	;;
	br.cond.sptk.many survived
	;;
do_n:	movl r9 = 0x1000
	;;
	ld8.s r10 = [r9]		// deferred: r10 becomes NaT
	;;
	ld8 r11 = [r10]			// consuming it faults
	br.cond.sptk.many survived
	;;
do_f:	break.i 1
	;;
	br.cond.sptk.many survived
	;;
do_t:	break.i 0x80000
	;;
	br.cond.sptk.many survived
	;;
do_h:	mov out0 = 11			// SIGSEGV
	movl out1 = act
	mov out2 = r0
	mov out3 = 8
	SYSCALL NR_rt_sigaction
	br.cond.sptk.many do_r
	;;
do_a:	SYSCALL NR_getpid
	mov out0 = r8
	mov out1 = r8
	mov out2 = 6			// SIGABRT
	SYSCALL NR_tgkill
	br.cond.sptk.many survived
	;;
survived:
	SAY "FAIL: survived"
	NL
	EXIT 1
	.endp _start

	.align 16
bad_bundle:				// template 0x06 is reserved
	data8 0x0000000000000006, 0
