// rt.S — a few output helpers the ia64run test programs link with (see rt.inc).
//   rt_puts(s)         write the NUL-terminated string s to stdout
//   rt_put_dec(n)      n in unsigned decimal
//   rt_put_hex(n)      n as 0x followed by 16 hex digits
//   rt_nl()            "\n"
//   rt_strlen(s)       r8 = length
//   rt_atoi(s)         r8 = the decimal number at s (digits only)
//   rt_fail(s)         "FAIL: s\n", exit 1
	.include "linux.inc"

	.bss
rt_buf:	.skip 32

	.text
	.global rt_puts, rt_put_dec, rt_put_hex, rt_nl, rt_strlen, rt_atoi, rt_fail

	.proc rt_strlen
rt_strlen:
	alloc r16 = ar.pfs, 1, 0, 0, 0
	mov r8 = in0
	;;
1:	ld1 r17 = [r8], 1
	;;
	cmp.ne p6, p0 = r17, r0
(p6)	br.cond.sptk.many 1b
	;;
	sub r8 = r8, in0
	;;
	adds r8 = -1, r8
	br.ret.sptk.many b0
	.endp rt_strlen

	.proc rt_puts
rt_puts:
	alloc loc1 = ar.pfs, 1, 2, 3, 0
	mov loc0 = b0
	;;
	mov out0 = in0
	br.call.sptk.many b0 = rt_strlen
	;;
	mov out2 = r8
	mov out0 = 1
	mov out1 = in0
	SYSCALL NR_write
	mov b0 = loc0
	mov ar.pfs = loc1
	br.ret.sptk.many b0
	.endp rt_puts

	.proc rt_nl
rt_nl:
	alloc loc1 = ar.pfs, 0, 2, 3, 0
	mov loc0 = b0
	;;
	movl r14 = rt_buf
	mov r15 = 10
	;;
	st1 [r14] = r15
	mov out0 = 1
	mov out1 = r14
	mov out2 = 1
	SYSCALL NR_write
	mov b0 = loc0
	mov ar.pfs = loc1
	br.ret.sptk.many b0
	.endp rt_nl

// Digits are produced backwards from the end of rt_buf.
	.proc rt_put_dec
rt_put_dec:
	alloc loc1 = ar.pfs, 1, 4, 3, 0
	mov loc0 = b0
	;;
	movl loc2 = rt_buf + 31
	;;
	st1 [loc2] = r0			// the NUL
	mov loc3 = in0
	;;
1:	// loc3 / 10 without a divide: q = (n * 0xcccccccccccccccd) >> 67
	movl r14 = 0xcccccccccccccccd
	;;
	setf.sig f6 = loc3
	setf.sig f7 = r14
	;;
	xmpy.hu f8 = f6, f7
	;;
	getf.sig r15 = f8
	;;
	shr.u r15 = r15, 3		// q
	;;
	shladd r16 = r15, 2, r15	// q * 5
	;;
	shladd r16 = r16, 1, r0		// q * 10
	;;
	sub r17 = loc3, r16		// digit
	mov loc3 = r15
	;;
	adds r17 = 48, r17
	adds loc2 = -1, loc2
	;;
	st1 [loc2] = r17
	cmp.ne p6, p0 = loc3, r0
(p6)	br.cond.sptk.many 1b
	;;
	mov out0 = loc2
	br.call.sptk.many b0 = rt_puts
	;;
	mov b0 = loc0
	mov ar.pfs = loc1
	br.ret.sptk.many b0
	.endp rt_put_dec

	.proc rt_put_hex
rt_put_hex:
	alloc loc1 = ar.pfs, 1, 4, 3, 0
	mov loc0 = b0
	;;
	movl loc2 = rt_buf
	mov r14 = 0x30			// '0'
	mov r15 = 0x78			// 'x'
	;;
	st1 [loc2] = r14, 1
	;;
	st1 [loc2] = r15, 1
	mov loc3 = 16
	;;
1:	extr.u r16 = in0, 60, 4
	shl in0 = in0, 4
	;;
	cmp.ltu p6, p7 = 9, r16
	;;
(p6)	adds r16 = 87, r16		// 'a' - 10
(p7)	adds r16 = 48, r16
	adds loc3 = -1, loc3
	;;
	st1 [loc2] = r16, 1
	cmp.ne p8, p0 = loc3, r0
(p8)	br.cond.sptk.many 1b
	;;
	st1 [loc2] = r0
	movl out0 = rt_buf
	br.call.sptk.many b0 = rt_puts
	;;
	mov b0 = loc0
	mov ar.pfs = loc1
	br.ret.sptk.many b0
	.endp rt_put_hex

	.proc rt_atoi
rt_atoi:
	alloc r16 = ar.pfs, 1, 0, 0, 0
	mov r8 = 0
	;;
1:	ld1 r17 = [in0], 1
	;;
	adds r18 = -48, r17
	;;
	cmp.ltu p6, p0 = 9, r18
(p6)	br.ret.sptk.many b0
	;;
	shladd r19 = r8, 2, r8
	;;
	shladd r8 = r19, 1, r18
	br.cond.sptk.many 1b
	;;
	.endp rt_atoi

	.pushsection .rodata
rt_failmsg: .asciz "FAIL: "
	.popsection
	.proc rt_fail
rt_fail:
	alloc loc1 = ar.pfs, 1, 2, 3, 0
	mov loc0 = b0
	;;
	movl out0 = rt_failmsg
	br.call.sptk.many b0 = rt_puts
	;;
	mov out0 = in0
	br.call.sptk.many b0 = rt_puts
	;;
	br.call.sptk.many b0 = rt_nl
	;;
	mov out0 = 1
	SYSCALL NR_exit_group
	break 0
	.endp rt_fail
