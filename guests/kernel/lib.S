// lib.S — arithmetic IA-64 has no instruction for (64-bit multiply and divide, by shift and
// add/subtract; they are rare here: pacing, reports), and the command line: tokens are
// workload names (diskverify memverify memstress heartbeat idle memsum) and key=value options that
// belong to the workload named before them (or to all, before the first name). Values are
// decimal with an optional K/M/G suffix (powers of 1024); time= takes seconds or "ms".
	.include "kernel.inc"

	.section .rodata
	.align 8
	.global wl_names
wl_names:	data8 .Lwn_disk, .Lwn_memv, .Lwn_mems, .Lwn_hb, .Lwn_idle, .Lwn_msum, 0
param_names:	data8 .Lpn_size, .Lpn_rate, .Lpn_time, .Lpn_wss, .Lpn_count, .Lpn_blocks
	data8 .Lpn_passes, .Lpn_corrupt, .Lpn_disk, .Lpn_fault, 0
.Lwn_disk:	.asciz "diskverify"
.Lwn_memv:	.asciz "memverify"
.Lwn_mems:	.asciz "memstress"
.Lwn_hb:	.asciz "heartbeat"
.Lwn_idle:	.asciz "idle"
.Lwn_msum:	.asciz "memsum"
.Lpn_size:	.asciz "size"
.Lpn_rate:	.asciz "rate"
.Lpn_time:	.asciz "time"
.Lpn_wss:	.asciz "wss"
.Lpn_count:	.asciz "count"
.Lpn_blocks:	.asciz "blocks"
.Lpn_passes:	.asciz "passes"
.Lpn_corrupt:	.asciz "corrupt"
.Lpn_disk:	.asciz "disk"
.Lpn_fault:	.asciz "fault"

	.data
	.align 8
	.global k_params
k_params:				// [WL_GLOBAL + 1][NPARAM], P_UNSET when not given
	.rept (NWL + 1) * NPARAM
	data8 P_UNSET
	.endr
	.global k_enabled
k_enabled:
	.rept NWL
	data8 0
	.endr

// umul(a, b) -> r8 = a * b (mod 2^64)
ENTRY umul, 2, 2, 0
	mov r8 = 0
	mov r2 = in0
	mov r3 = in1
	;;
1:	cmp.eq p6, p0 = 0, r3
	tbit.nz p7, p0 = r3, 0
	;;
(p6)	br.cond.dpnt 2f
(p7)	add r8 = r8, r2
	shl r2 = r2, 1
	shr.u r3 = r3, 1
	br.sptk.few 1b
	;;
2:	RET
END umul

// udiv(a, b) -> r8 = a / b, r9 = a % b (b = 0 gives ~0, a)
ENTRY udiv, 2, 2, 0
	mov r8 = 0			// quotient
	mov r9 = 0			// remainder
	mov r2 = 63
	cmp.eq p6, p0 = 0, in1
	;;
(p6)	mov r8 = -1
(p6)	mov r9 = in0
(p6)	br.cond.dpnt 3f
	;;
1:	shr.u r3 = in0, r2
	shl r9 = r9, 1
	shl r8 = r8, 1
	;;
	and r3 = 1, r3
	;;
	or r9 = r9, r3
	;;
	cmp.geu p7, p0 = r9, in1
	;;
(p7)	sub r9 = r9, in1
(p7)	or r8 = 1, r8
	cmp.eq p8, p0 = 0, r2
	adds r2 = -1, r2
(p8)	br.cond.dpnt 3f
	br.sptk.few 1b
	;;
3:	RET
END udiv

// lookup(tok, len, table) -> r8 = index of the NUL-terminated name equal to the token, or -1.
ENTRY lookup, 3, 5, 0
	mov loc2 = in2
	mov loc3 = 0			// index
	;;
1:	ld8 r2 = [loc2], 8		// name
	;;
	cmp.eq p6, p0 = 0, r2
(p6)	br.cond.dpnt .Lnotfound
	mov r3 = in0
	mov r9 = in1
	;;
2:	ld1 r10 = [r2], 1
	cmp.eq p7, p0 = 0, r9
	;;
(p7)	br.cond.dpnt 3f			// token used up: a match if the name ends too
	ld1 r11 = [r3], 1
	adds r9 = -1, r9
	;;
	cmp.eq p8, p0 = r10, r11
(p8)	br.cond.dptk 2b
	br.sptk.few 4f
	;;
3:	cmp.eq p9, p0 = 0, r10
	;;
(p9)	mov r8 = loc3
(p9)	br.cond.dpnt .Lfound
4:	adds loc3 = 1, loc3
	br.sptk.few 1b
	;;
.Lnotfound:
	mov r8 = -1
.Lfound:
	RET
END lookup

// is_sep(ch) in predicate form: callers test ch against NUL, space, tab and newline inline.

// parse_value(p, key) -> r8 = value, r9 = pointer past the token, r10 = 0 ok / 1 malformed.
ENTRY parse_value, 2, 6, 2
	mov loc2 = in0
	mov loc3 = 0			// value
	mov loc4 = 0			// digits seen
	;;
1:	ld1 r2 = [loc2]
	;;
	adds r3 = -'0', r2
	;;
	cmp.ltu p6, p0 = 9, r3
(p6)	br.cond.dpnt 2f
	shladd r8 = loc3, 2, loc3	// value * 10 + digit
	adds loc2 = 1, loc2
	adds loc4 = 1, loc4
	;;
	shladd loc3 = r8, 1, r3
	br.sptk.few 1b
	;;
2:	cmp.eq p6, p0 = 0, loc4
(p6)	br.cond.dpnt .Lbad
	cmp.eq p7, p8 = P_TIME, in1
	;;
(p7)	br.cond.dpnt .Ltime
	// sizes and counts: K, M, G
	ld1 r2 = [loc2]
	;;
	or r2 = 0x20, r2		// lower case (digits and separators do not matter here)
	;;
	cmp.eq p6, p0 = 'k', r2
	cmp.eq p7, p0 = 'm', r2
	cmp.eq p8, p0 = 'g', r2
	;;
	.pred.rel "mutex", p6, p7, p8
(p6)	shl loc3 = loc3, 10
(p7)	shl loc3 = loc3, 20
(p8)	shl loc3 = loc3, 30
(p6)	adds loc2 = 1, loc2
(p7)	adds loc2 = 1, loc2
(p8)	adds loc2 = 1, loc2
	br.sptk.few .Lend
	;;
.Ltime:
	// seconds, or "ms"; the value becomes nanoseconds of ar.itc
	ld1 r2 = [loc2]
	adds r3 = 1, loc2
	;;
	ld1 r3 = [r3]
	cmp.eq p6, p0 = 'm', r2
	cmp.eq p9, p0 = 's', r2
	;;
(p6)	cmp.eq.unc p7, p0 = 's', r3
	;;
	.pred.rel "mutex", p7, p9
(p7)	adds loc2 = 2, loc2
(p9)	adds loc2 = 1, loc2
	movl out1 = 1000000000
	;;
(p7)	movl out1 = 1000000
	mov out0 = loc3
	;;
	CALL umul
	mov loc3 = r8
	;;
.Lend:
	ld1 r2 = [loc2]			// the token must end here
	;;
	cmp.eq p6, p0 = 0, r2
	cmp.eq p7, p0 = ' ', r2
	cmp.eq p8, p0 = 9, r2
	cmp.eq p9, p0 = 10, r2
	;;
(p6)	br.cond.dptk .Lok
(p7)	br.cond.dptk .Lok
(p8)	br.cond.dptk .Lok
(p9)	br.cond.dptk .Lok
.Lbad:
	mov r10 = 1
	mov r9 = loc2
	RET
.Lok:
	mov r8 = loc3
	mov r9 = loc2
	mov r10 = 0
	RET
END parse_value

// parse_cmdline(str) -> r8 = 0, or the address of the token that is not understood.
ENTRY parse_cmdline, 1, 8, 3
	mov loc2 = in0			// cursor
	mov loc3 = WL_GLOBAL		// parameter row being filled
	;;
.Ltok:
	ld1 r2 = [loc2]
	;;
	cmp.eq p6, p0 = 0, r2
	cmp.eq p7, p0 = ' ', r2
	cmp.eq p8, p0 = 9, r2
	cmp.eq p9, p0 = 10, r2
	;;
(p6)	br.cond.dpnt .Lall
	.pred.rel "mutex", p7, p8, p9
(p7)	adds loc2 = 1, loc2
(p8)	adds loc2 = 1, loc2
(p9)	adds loc2 = 1, loc2
(p7)	br.cond.dptk .Ltok
(p8)	br.cond.dptk .Ltok
(p9)	br.cond.dptk .Ltok
	mov loc4 = loc2			// token start
	;;
1:	ld1 r2 = [loc2]			// the name ends at '=' or a separator
	;;
	cmp.eq p6, p0 = 0, r2
	cmp.eq p7, p0 = ' ', r2
	cmp.eq p8, p0 = 9, r2
	cmp.eq p9, p0 = 10, r2
	cmp.eq p10, p0 = '=', r2
	;;
(p6)	br.cond.dpnt 2f
(p7)	br.cond.dpnt 2f
(p8)	br.cond.dpnt 2f
(p9)	br.cond.dpnt 2f
(p10)	br.cond.dpnt 2f
	adds loc2 = 1, loc2
	br.sptk.few 1b
	;;
2:	mov out0 = loc4
	sub out1 = loc2, loc4
	cmp.eq p10, p11 = '=', r2
	;;
(p10)	br.cond.dpnt .Lkey
	LA out2, wl_names
	CALL lookup
	cmp.lt p6, p0 = r8, r0
	;;
(p6)	br.cond.dpnt .Lerr
	mov loc3 = r8			// options after this name are its own
	LA r2, k_enabled
	mov r3 = 1
	;;
	shladd r2 = r8, 3, r2
	;;
	st8 [r2] = r3
	br.sptk.few .Ltok
	;;
.Lkey:
	LA out2, param_names
	CALL lookup
	cmp.lt p6, p0 = r8, r0
	;;
(p6)	br.cond.dpnt .Lerr
	mov loc5 = r8			// the key
	adds out0 = 1, loc2
	mov out1 = r8
	;;
	CALL parse_value
	cmp.ne p6, p0 = 0, r10
	;;
(p6)	br.cond.dpnt .Lerr
	mov loc2 = r9
	LA r2, k_params
	shladd r3 = loc3, 3, loc3	// row * NPARAM (10)
	;;
	add r3 = r3, loc3
	;;
	add r3 = r3, loc5
	;;
	shladd r2 = r3, 3, r2
	;;
	st8 [r2] = r8
	br.sptk.few .Ltok
	;;
.Lerr:
	mov r8 = loc4
	RET
.Lall:
	mov r8 = 0
	RET
END parse_cmdline

// param(wl, key, default) -> r8: the workload's own option, else the global one, else default.
ENTRY param, 3, 2, 0
	LA r2, k_params
	shladd r3 = in0, 3, in0		// wl * NPARAM (10)
	movl r9 = WL_GLOBAL * NPARAM
	;;
	add r3 = r3, in0
	;;
	add r3 = r3, in1
	add r9 = r9, in1
	;;
	shladd r3 = r3, 3, r2
	shladd r9 = r9, 3, r2
	;;
	ld8 r8 = [r3]
	ld8 r10 = [r9]
	;;
	cmp.eq p6, p0 = P_UNSET, r8
	;;
(p6)	mov r8 = r10
	;;
	cmp.eq p7, p0 = P_UNSET, r8
	;;
(p7)	mov r8 = in2
	RET
END param

// param_given(wl, key) -> r8 = 1 when the option was given for the workload or globally.
ENTRY param_given, 2, 3, 3
	mov out0 = in0
	mov out1 = in1
	mov out2 = P_UNSET
	;;
	CALL param
	cmp.ne p6, p7 = P_UNSET, r8
	;;
(p6)	mov r8 = 1
(p7)	mov r8 = 0
	RET
END param_given

// atomic_add(ptr, value): *ptr += value, atomically between vCPUs.
	.global atomic_add
ENTRY atomic_add, 2, 2, 0
1:	ld8 r2 = [in0]
	;;
	mov ar.ccv = r2
	add r3 = r2, in1
	;;
	cmpxchg8.acq r8 = [in0], r3, ar.ccv
	;;
	cmp.ne p6, p0 = r8, r2
(p6)	br.cond.dpnt 1b
	;;
	RET
END atomic_add
