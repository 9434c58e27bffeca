// hello_glibc.S — a stand-in for a static glibc "hello world" (no ia64 C compiler or glibc
// exists here to build the real one). It starts the way glibc's static startup does and
// prints "Hello, world!" the way its stdio would, with the same system calls:
//   _start            as sysdeps/ia64/start.S: frame, ar.fpsr = FPSR_DEFAULT, gp, argc and
//                     argv from sp + 16, ar.bsp saved as the backing store base, then
//                     __libc_start_main(main, argc, argv, init, fini, rtld_fini = r8, stack_end)
//   libc_start_main   environ after argv; the auxiliary vector after environ (_dl_aux_init:
//                     AT_PAGESZ, AT_PHDR, AT_PHNUM, AT_RANDOM, AT_HWCAP, AT_EXECFN);
//                     uname: machine "ia64" and a kernel >= 2.6 (_dl_discover_osversion);
//                     TLS (__libc_setup_tls): PT_TLS from the program headers, the block taken
//                     with brk (sbrk), its image copied, r13 = the thread pointer (TLS
//                     variant I: the 16-byte TCB at tp, the block after it, struct pthread
//                     before it); set_tid_address(&self->tid); main(argc, argv, environ)
//                     through its function descriptor; exit(main's value)
//   main              checks a TLS variable through r13 (@tprel), puts "Hello, " and
//                     "world!\n" into the stdout buffer
//   exit              flushes stdout with writev, exit_group(status)
// Anything unexpected prints "FATAL: ..." on stderr and exits 127, as glibc's startup does.
	.include "linux.inc"

	FPSR_DEFAULT = 0x0009804c0270033f
	PT_TLS = 7
	TCB_SIZE = 16			// dtv pointer + private word, at tp
	PTHREAD_SIZE = 64		// our struct pthread, just below tp
	TID_OFF = 0			// its tid field
	MAX_IOV = 4

// ---- TLS -------------------------------------------------------------------------------
	.section .tdata, "awT", @progbits
	.align 8
tls_counter:
	data8 41
	.section .tbss, "awT", @nobits
	.align 8
tls_zero:
	.skip 8

// ---- Data ------------------------------------------------------------------------------
	.data
	.align 8
	.global __libc_ia64_register_backing_store_base
__libc_ia64_register_backing_store_base: data8 0
environ:	data8 0
dl_pagesz:	data8 0
dl_phdr:	data8 0
dl_phnum:	data8 0
dl_random:	data8 0
dl_hwcap:	data8 -1
dl_execfn:	data8 0
curbrk:		data8 0
main_desc:	data8 main, __gp	// the function descriptor of main
stdout_n:	data8 0			// iovecs used
stdout_iov:	.skip 16 * MAX_IOV
msg_hello:	.ascii "Hello, "
msg_world:	.ascii "world!\n"
msg_fatal:	.ascii "FATAL: "
msg_pagesz:	.asciz "AT_PAGESZ missing from the auxiliary vector"
msg_machine:	.asciz "uname() says this is not ia64"
msg_kernel:	.asciz "kernel too old"
msg_brk:	.asciz "cannot allocate TLS block (brk failed)"
msg_tls:	.asciz "TLS variable has the wrong value"
msg_tid:	.asciz "set_tid_address() did not return the thread id"
msg_iov:	.asciz "stdout buffer full"
	.bss
	.align 8
utsname:	.skip 6 * 65

	.text
// ---- _start ----------------------------------------------------------------------------
	.global _start
	.proc _start
_start:
	alloc r2 = ar.pfs, 0, 0, 7, 0
	movl r3 = FPSR_DEFAULT
	adds out2 = 16, sp		// &argc
	;;
	movl gp = __gp
	ld8 out1 = [out2], 8		// argc; out2 = argv
	;;
	mov r10 = ar.bsp		// base of the register backing store
	mov ar.fpsr = r3
	adds out6 = 16, sp		// stack_end
	movl r11 = __libc_ia64_register_backing_store_base
	;;
	st8 [r11] = r10
	movl out0 = main_desc
	mov out3 = r0			// init
	mov out4 = r0			// fini
	mov out5 = r8			// rtld_fini: r8 from the kernel
	br.call.sptk.many b0 = libc_start_main
	;;
	break 0				// never returns
	.endp _start

// ---- libc_start_main(main, argc, argv, init, fini, rtld_fini, stack_end) --------------
	.proc libc_start_main
libc_start_main:
	alloc loc1 = ar.pfs, 7, 4, 3, 0
	mov loc0 = b0
	adds r14 = 1, in1
	;;
	shladd loc2 = r14, 3, in2	// envp = argv + (argc + 1) * 8
	movl r15 = environ
	;;
	st8 [r15] = loc2
	mov r16 = loc2
	;;
1:	ld8 r17 = [r16], 8		// skip the environment to its NULL
	;;
	cmp.ne p6, p0 = r17, r0
(p6)	br.cond.sptk.many 1b
	;;
	mov out0 = r16			// the auxiliary vector follows
	br.call.sptk.many b0 = aux_init
	;;
	movl r14 = dl_pagesz
	;;
	ld8 r15 = [r14]
	movl out0 = msg_pagesz
	;;
	cmp.eq p6, p0 = r15, r0
(p6)	br.call.spnt.many b0 = fatal
	;;
	br.call.sptk.many b0 = check_kernel
	;;
	br.call.sptk.many b0 = setup_tls
	;;
	adds out0 = -PTHREAD_SIZE + TID_OFF, r13
	SYSCALL NR_set_tid_address
	adds r14 = -PTHREAD_SIZE + TID_OFF, r13
	;;
	st4 [r14] = r8
	mov loc3 = r8
	SYSCALL NR_gettid
	movl out0 = msg_tid
	;;
	cmp.ne p6, p0 = r8, loc3
(p6)	br.call.spnt.many b0 = fatal
	;;
	ld8 r14 = [in0], 8		// main's descriptor: entry, gp
	;;
	ld8 gp = [in0]
	mov b6 = r14
	mov out0 = in1
	mov out1 = in2
	mov out2 = loc2
	br.call.sptk.many b0 = b6
	;;
	movl gp = __gp
	mov out0 = r8
	br.call.sptk.many b0 = libc_exit
	;;
	break 0
	.endp libc_start_main

// ---- aux_init(auxv): record the entries glibc's _dl_aux_init needs here ----------------
	.proc aux_init
aux_init:
	alloc r16 = ar.pfs, 1, 0, 0, 0
	movl r20 = dl_pagesz
	movl r21 = dl_phdr
	;;
	movl r22 = dl_phnum
	movl r23 = dl_random
	;;
	movl r24 = dl_hwcap
	movl r25 = dl_execfn
	;;
1:	ld8 r17 = [in0], 8
	;;
	ld8 r18 = [in0], 8
	cmp.eq p6, p0 = AT_NULL, r17
	cmp.eq p7, p0 = AT_PAGESZ, r17
	cmp.eq p8, p0 = AT_PHDR, r17
	cmp.eq p9, p0 = AT_PHNUM, r17
	cmp.eq p10, p0 = AT_RANDOM, r17
	cmp.eq p11, p0 = AT_HWCAP, r17
	cmp.eq p12, p0 = AT_EXECFN, r17
	;;
(p7)	st8 [r20] = r18
(p8)	st8 [r21] = r18
(p9)	st8 [r22] = r18
(p10)	st8 [r23] = r18
(p11)	st8 [r24] = r18
(p12)	st8 [r25] = r18
(p6)	br.ret.sptk.many b0
	br.cond.sptk.many 1b
	;;
	.endp aux_init

// ---- check_kernel(): uname, machine "ia64", release >= 2.6 -----------------------------
	.proc check_kernel
check_kernel:
	alloc loc1 = ar.pfs, 0, 4, 1, 0
	mov loc0 = b0
	movl out0 = utsname
	;;
	SYSCALL NR_uname
	movl r14 = utsname + 4 * 65	// machine
	movl r15 = 0x34366169		// "ia64", little-endian
	;;
	ld4 r16 = [r14], 4
	;;
	ld1 r17 = [r14]			// and its NUL
	movl out0 = msg_machine
	;;
	cmp.ne p6, p0 = r16, r15
	;;
	cmp.ne.or p6, p0 = r17, r0
(p6)	br.call.spnt.many b0 = fatal
	;;
	movl loc2 = utsname + 2 * 65	// release "major.minor..."
	;;
	mov out0 = loc2
	br.call.sptk.many b0 = parse_decimal
	;;
	mov loc3 = r8			// major
	adds out0 = 1, r9		// past the '.'
	br.call.sptk.many b0 = parse_decimal
	;;
	shl r14 = loc3, 16
	movl out0 = msg_kernel
	;;
	add r14 = r14, r8		// major << 16 | minor
	movl r15 = 0x20006		// 2.6
	;;
	cmp.ltu p6, p0 = r14, r15
(p6)	br.call.spnt.many b0 = fatal
	;;
	mov b0 = loc0
	mov ar.pfs = loc1
	br.ret.sptk.many b0
	.endp check_kernel

// parse_decimal(s): r8 = the number at s, r9 = the first non-digit
	.proc parse_decimal
parse_decimal:
	alloc r16 = ar.pfs, 1, 0, 0, 0
	mov r8 = 0
	mov r9 = in0
	;;
1:	ld1 r17 = [r9]
	;;
	adds r18 = -48, r17
	;;
	cmp.ltu p6, p7 = 9, r18		// not a digit?
(p6)	br.ret.sptk.many b0
	;;
	shladd r19 = r8, 2, r8		// n * 5
	adds r9 = 1, r9
	;;
	shladd r8 = r19, 1, r18		// n * 10 + digit
	br.cond.sptk.many 1b
	;;
	.endp parse_decimal

// ---- setup_tls(): the static TLS block and the thread pointer ---------------------------
	.proc setup_tls
setup_tls:
	alloc loc1 = ar.pfs, 0, 8, 1, 0
	mov loc0 = b0
	movl r14 = dl_phdr
	movl r15 = dl_phnum
	;;
	ld8 r16 = [r14]			// program headers
	ld8 r17 = [r15]
	mov loc2 = r0			// PT_TLS found (its header)
	;;
1:	cmp.eq p6, p0 = r17, r0
(p6)	br.cond.spnt.few 2f
	ld4 r18 = [r16]
	;;
	cmp.eq p7, p0 = PT_TLS, r18
	;;
(p7)	mov loc2 = r16
	adds r16 = 56, r16
	adds r17 = -1, r17
	br.cond.sptk.many 1b
	;;
2:	mov loc3 = r0			// filesz
	mov loc4 = r0			// memsz
	mov loc5 = 16			// align (at least the TCB's)
	mov loc6 = r0			// image address
	cmp.eq p6, p0 = loc2, r0
(p6)	br.cond.spnt.few 3f
	adds r14 = 16, loc2		// p_vaddr
	adds r15 = 32, loc2		// p_filesz
	;;
	ld8 loc6 = [r14]
	ld8 loc3 = [r15]
	adds r14 = 40, loc2		// p_memsz
	adds r15 = 48, loc2		// p_align
	;;
	ld8 loc4 = [r14]
	ld8 r16 = [r15]
	;;
	cmp.ltu p7, p0 = loc5, r16
	;;
(p7)	mov loc5 = r16
	;;
3:	// size = PTHREAD_SIZE + align (slack) + TCB (rounded to align) + memsz
	adds r14 = PTHREAD_SIZE, loc5
	adds r15 = -1, loc5
	;;
	add r16 = TCB_SIZE, r15
	andcm r17 = -1, r15		// ~(align - 1)
	;;
	and loc7 = r16, r17		// TCB size rounded up to align: the block's offset
	add r14 = r14, loc4
	;;
	add out0 = r14, loc7
	br.call.sptk.many b0 = sbrk
	;;
	adds r14 = PTHREAD_SIZE, r8
	adds r15 = -1, loc5
	;;
	add r14 = r14, r15
	andcm r16 = -1, r15
	;;
	and r13 = r14, r16		// tp: aligned, struct pthread below it
	;;
	add r17 = r13, loc7		// the TLS block
	;;
4:	cmp.eq p6, p0 = loc3, r0	// copy the initialisation image
(p6)	br.cond.spnt.few 5f
	ld1 r18 = [loc6], 1
	;;
	st1 [r17] = r18, 1
	adds loc3 = -1, loc3
	br.cond.sptk.many 4b
	;;
5:	mov b0 = loc0
	mov ar.pfs = loc1
	br.ret.sptk.many b0
	.endp setup_tls

// sbrk(incr): the old break; the kernel's brk() moves it (fatal if it cannot)
	.proc sbrk
sbrk:
	alloc loc1 = ar.pfs, 1, 4, 1, 0
	mov loc0 = b0
	movl loc2 = curbrk
	;;
	ld8 loc3 = [loc2]
	;;
	cmp.ne p6, p0 = loc3, r0
(p6)	br.cond.sptk.few 1f
	mov out0 = r0
	SYSCALL NR_brk			// brk(0): the current break
	mov loc3 = r8
	;;
1:	add out0 = loc3, in0
	SYSCALL NR_brk
	add r14 = loc3, in0
	movl out0 = msg_brk
	;;
	cmp.ne p6, p0 = r8, r14
(p6)	br.call.spnt.many b0 = fatal
	;;
	st8 [loc2] = r8
	mov r8 = loc3
	mov b0 = loc0
	mov ar.pfs = loc1
	br.ret.sptk.many b0
	.endp sbrk

// ---- main(argc, argv, envp) ---------------------------------------------------------------
	.proc main
main:
	alloc loc1 = ar.pfs, 3, 2, 2, 0
	mov loc0 = b0
	movl r14 = @tprel(tls_counter)
	movl r15 = @tprel(tls_zero)
	;;
	add r14 = r14, r13
	add r15 = r15, r13
	;;
	ld8 r16 = [r14]
	ld8 r17 = [r15]
	;;
	adds r16 = 1, r16
	;;
	st8 [r14] = r16
	;;
	ld8 r18 = [r14]
	movl out0 = msg_tls
	;;
	cmp.ne p6, p0 = 42, r18
	;;
	cmp.ne.or p6, p0 = r17, r0
(p6)	br.call.spnt.many b0 = fatal
	;;
	movl out0 = msg_hello
	mov out1 = 7
	br.call.sptk.many b0 = stdout_put
	;;
	movl out0 = msg_world
	mov out1 = 7
	br.call.sptk.many b0 = stdout_put
	;;
	mov r8 = 0
	mov b0 = loc0
	mov ar.pfs = loc1
	br.ret.sptk.many b0
	.endp main

// ---- A tiny stdio: stdout_put(buf, len) queues, libc_exit flushes with writev ----------
	.proc stdout_put
stdout_put:
	alloc loc1 = ar.pfs, 2, 2, 1, 0
	mov loc0 = b0
	movl r14 = stdout_n
	movl r15 = stdout_iov
	;;
	ld8 r16 = [r14]
	movl out0 = msg_iov
	;;
	cmp.leu p6, p0 = MAX_IOV, r16
(p6)	br.call.spnt.many b0 = fatal
	shladd r17 = r16, 4, r15
	adds r16 = 1, r16
	;;
	st8 [r17] = in0, 8
	st8 [r14] = r16
	;;
	st8 [r17] = in1
	mov b0 = loc0
	mov ar.pfs = loc1
	br.ret.sptk.many b0
	.endp stdout_put

	.proc libc_exit
libc_exit:
	alloc loc1 = ar.pfs, 1, 2, 3, 0
	mov loc0 = b0
	movl r14 = stdout_n
	;;
	ld8 out2 = [r14]
	mov out0 = 1
	movl out1 = stdout_iov
	;;
	SYSCALL NR_writev
	mov out0 = in0
	SYSCALL NR_exit_group
	break 0
	.endp libc_exit

// ---- fatal(msg): "FATAL: msg\n" on stderr, exit 127 -----------------------------------
	.proc fatal
fatal:
	alloc loc1 = ar.pfs, 1, 3, 3, 0
	mov loc0 = b0
	mov out0 = 2
	movl out1 = msg_fatal
	mov out2 = 7
	;;
	SYSCALL NR_write
	mov r14 = in0
	mov loc2 = in0
	;;
1:	ld1 r15 = [r14], 1		// strlen
	;;
	cmp.ne p6, p0 = r15, r0
(p6)	br.cond.sptk.many 1b
	;;
	sub r14 = r14, loc2
	mov out0 = 2
	mov out1 = loc2
	;;
	adds out2 = -1, r14
	SYSCALL NR_write
	mov out0 = 127
	SYSCALL NR_exit_group
	break 0
	.endp fatal
