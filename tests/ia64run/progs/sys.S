// sys.S — system calls and their ABI, for test_ia64run_syscall.c: prints one "name=value"
// line per check (errors as the errno the kernel returns in r8 when r10 = -1).
	.include "rt.inc"

	SIGUSR1 = 10
	SIGKILL = 9

	.data
	.align 16
ts1:	data8 0, 0
ts2:	data8 0, 0
sleep:	data8 0, 1000000		// 1 ms
act:	data8 0x4000000000001230, 0x4000000, 0x40	// handler, SA_RESTART, mask
old:	data8 0, 0, 0
set:	data8 1 << (SIGUSR1 - 1)
oset:	data8 -1
rlim:	data8 0, 0
robust:	data8 0, 0, 0
path_root:	.asciz "/"
path_none:	.asciz "/nonexistent-ia64run-test"
path_exe:	.asciz "/proc/self/exe"
	.bss
	.align 16
buf:	.skip 4096

	.text
	.global _start
	.proc _start
_start:
	alloc r2 = ar.pfs, 0, 8, 6, 0
	;;
	// A number no kernel knows, and one ia64run leaves out (rseq).
	mov r15 = 1999
	;;
	break.i 0x100000
	;;
	mov loc0 = r8
	mov loc1 = r10
	;;
	SAY "unknown="
	DEC loc0
	SAY " r10="
	HEX loc1
	NL
	SYSCALL 1357
	mov loc0 = r8
	;;
	SAY "rseq="
	DEC loc0
	NL
	// The frame rules of ia64_syscall_setup: at most 8 outputs, r15 not NaT.
	br.call.sptk.many b0 = nine_outputs
	;;
	mov loc0 = r8
	;;
	SAY "nine_outputs="
	DEC loc0
	NL
	br.call.sptk.many b0 = eight_outputs
	;;
	mov loc0 = r8
	;;
	SAY "eight_outputs="
	DEC loc0
	NL
	movl r9 = 0x1000
	;;
	ld8.s r15 = [r9]		// a NaT syscall number
	;;
	break.i 0x100000
	;;
	mov loc0 = r8
	;;
	SAY "nat_r15="
	DEC loc0
	NL
	movl r9 = 0x1000
	;;
	ld8.s out0 = [r9]		// a NaT fd reads as -1
	movl out1 = buf
	mov out2 = 1
	;;
	SYSCALL NR_write
	mov loc0 = r8
	mov loc1 = out0
	;;
	tnat.nz p6, p7 = out0
	;;
(p6)	mov loc1 = 12345		// still NaT: wrong
	;;
	SAY "nat_fd="
	DEC loc0
	SAY " out0="
	HEX loc1
	NL

	// Identity.
	SYSCALL NR_getpid
	mov loc0 = r8
	;;
	SYSCALL NR_gettid
	mov loc1 = r8
	;;
	SAY "pid="
	DEC loc0
	SAY " tid="
	DEC loc1
	NL
	SYSCALL NR_getuid
	mov loc0 = r8
	;;
	SYSCALL NR_geteuid
	mov loc1 = r8
	;;
	SYSCALL NR_getgid
	mov loc2 = r8
	;;
	SYSCALL NR_getegid
	mov loc3 = r8
	;;
	SAY "ids="
	DEC loc0
	SAY ","
	DEC loc1
	SAY ","
	DEC loc2
	SAY ","
	DEC loc3
	NL
	movl out0 = buf
	;;
	SYSCALL NR_uname
	SAY "sysname="
	movl loc0 = buf
	;;
	PUTS loc0
	NL
	SAY "machine="
	movl loc0 = buf + 4 * 65
	;;
	PUTS loc0
	NL

	// No terminal: TCGETS says ENOTTY; a closed descriptor says EBADF.
	mov out0 = 1
	mov out1 = 0x5401
	movl out2 = buf
	;;
	SYSCALL NR_ioctl
	mov loc0 = r8
	mov loc1 = r10
	mov out0 = 999
	mov out1 = 0x5401
	movl out2 = buf
	;;
	SYSCALL NR_ioctl
	mov loc2 = r8
	;;
	SAY "ioctl="
	DEC loc0
	SAY " r10="
	HEX loc1
	SAY " closed="
	DEC loc2
	NL

	// Paths.
	movl out0 = buf
	mov out1 = 4096
	;;
	SYSCALL NR_getcwd
	mov loc0 = r8
	;;
	SAY "cwd_len="
	DEC loc0
	SAY " cwd="
	movl loc1 = buf
	;;
	PUTS loc1
	NL
	movl out0 = buf
	mov out1 = 1
	;;
	SYSCALL NR_getcwd
	mov loc0 = r8
	;;
	SAY "cwd_small="
	DEC loc0
	NL
	movl out0 = path_exe
	movl out1 = buf
	mov out2 = 4095
	;;
	SYSCALL NR_readlink
	movl r14 = buf
	;;
	add r14 = r14, r8
	;;
	st1 [r14] = r0
	SAY "exe="
	movl loc1 = buf
	;;
	PUTS loc1
	NL
	movl out0 = path_root
	mov out1 = 0
	;;
	SYSCALL NR_access
	mov loc0 = r8
	movl out0 = path_none
	mov out1 = 0
	;;
	SYSCALL NR_access
	mov loc1 = r8
	;;
	SAY "access="
	DEC loc0
	SAY ","
	DEC loc1
	NL

	// Time.
	mov out0 = 1			// CLOCK_MONOTONIC
	movl out1 = ts1
	;;
	SYSCALL NR_clock_gettime
	movl out0 = sleep
	mov out1 = r0
	;;
	SYSCALL NR_nanosleep
	mov loc2 = r8
	mov out0 = 1
	movl out1 = ts2
	;;
	SYSCALL NR_clock_gettime
	movl r14 = ts1
	movl r15 = ts2
	;;
	ld8 r16 = [r14], 8
	ld8 r17 = [r15], 8
	;;
	ld8 r18 = [r14]
	ld8 r19 = [r15]
	sub r16 = r17, r16		// seconds
	;;
	movl r20 = 1000000000
	sub r19 = r19, r18
	;;
	setf.sig f6 = r16
	setf.sig f7 = r20
	;;
	xmpy.l f8 = f6, f7
	;;
	getf.sig r16 = f8
	;;
	add loc0 = r16, r19		// nanoseconds between the two
	;;
	movl r14 = 1000000
	;;
	cmp.ltu p6, p0 = loc0, r14	// at least the 1 ms slept
	FAILIF p6, "clock_gettime: less than 1 ms passed over nanosleep(1 ms)"
	SAY "nanosleep="
	DEC loc2
	NL
	mov out0 = 999
	movl out1 = ts1
	;;
	SYSCALL NR_clock_gettime
	mov loc0 = r8
	movl out0 = ts1
	mov out1 = r0
	;;
	SYSCALL NR_gettimeofday
	movl r14 = ts1
	;;
	ld8 loc1 = [r14]
	movl r15 = 1600000000
	;;
	cmp.ltu p6, p0 = loc1, r15
	FAILIF p6, "gettimeofday: seconds before 2020"
	SAY "clock_bad="
	DEC loc0
	NL
	movl out0 = buf
	mov out1 = 16
	mov out2 = 0
	;;
	SYSCALL NR_getrandom
	mov loc0 = r8
	;;
	SAY "getrandom="
	DEC loc0
	NL

	// Signals are recorded: what is set reads back.
	mov out0 = SIGUSR1
	movl out1 = act
	mov out2 = r0
	mov out3 = 8
	;;
	SYSCALL NR_rt_sigaction
	mov loc0 = r8
	mov out0 = SIGUSR1
	mov out1 = r0
	movl out2 = old
	mov out3 = 8
	;;
	SYSCALL NR_rt_sigaction
	movl r14 = old
	;;
	ld8 loc1 = [r14], 8
	;;
	ld8 loc2 = [r14], 8
	;;
	ld8 loc3 = [r14]
	;;
	SAY "sigaction="
	DEC loc0
	SAY " old="
	HEX loc1
	SAY ","
	HEX loc2
	SAY ","
	HEX loc3
	NL
	mov out0 = SIGUSR1
	movl out1 = act
	mov out2 = r0
	mov out3 = 4
	;;
	SYSCALL NR_rt_sigaction
	mov loc0 = r8
	mov out0 = SIGKILL
	movl out1 = act
	mov out2 = r0
	mov out3 = 8
	;;
	SYSCALL NR_rt_sigaction
	mov loc1 = r8
	;;
	SAY "sigaction_bad="
	DEC loc0
	SAY ","
	DEC loc1
	NL
	mov out0 = 0			// SIG_BLOCK
	movl out1 = set
	movl out2 = oset
	mov out3 = 8
	;;
	SYSCALL NR_rt_sigprocmask
	mov out0 = 2			// SIG_SETMASK
	mov out1 = r0
	movl out2 = set
	mov out3 = 8
	;;
	SYSCALL NR_rt_sigprocmask	// set = NULL: only reads the mask
	movl r14 = oset
	movl r15 = set
	;;
	ld8 loc0 = [r14]
	ld8 loc1 = [r15]
	;;
	SAY "sigmask="
	HEX loc0
	SAY ","
	HEX loc1
	NL
	mov out0 = 0
	mov out1 = 3			// RLIMIT_STACK
	mov out2 = r0
	movl out3 = rlim
	;;
	SYSCALL NR_prlimit64
	movl r14 = rlim
	;;
	ld8 loc0 = [r14]
	;;
	SAY "stack_rlimit="
	DEC loc0
	NL
	movl out0 = robust
	mov out1 = 24
	;;
	SYSCALL NR_set_robust_list
	mov loc0 = r8
	;;
	SAY "robust="
	DEC loc0
	NL
	SYSCALL NR_getpid
	mov out0 = r8
	adds out1 = 1, r8
	mov out2 = SIGKILL
	;;
	SYSCALL NR_tgkill		// another thread: there is none
	mov loc0 = r8
	;;
	SAY "tgkill_other="
	DEC loc0
	NL
	SAY "sys ok"
	NL
	EXIT 0
	.endp _start

	.proc nine_outputs
nine_outputs:
	alloc loc0 = ar.pfs, 0, 1, 9, 0
	;;
	SYSCALL NR_getpid
	mov ar.pfs = loc0
	br.ret.sptk.many b0
	.endp nine_outputs

	.proc eight_outputs
eight_outputs:
	alloc loc0 = ar.pfs, 0, 1, 8, 0
	;;
	SYSCALL NR_getpid
	cmp.ne p6, p0 = r10, r0		// success: answer 0
	;;
	mov r8 = 0
	;;
(p6)	mov r8 = 1
	;;
	mov ar.pfs = loc0
	br.ret.sptk.many b0
	.endp eight_outputs
