// mem_smc.S — self-modifying code: a function is copied into a writable and executable
// buffer, called, overwritten with another function, flushed (fc.i, sync.i, srlz.i, the
// sequence the SDM prescribes) and called again: the second call must run the new code,
// not the decoded copy of the old one. Also: fc and fc.i on data, mf, mf.a, fwb, srlz.d as
// they appear in real code. Expected values: what the two template functions put in r8.
	.include "check.inc"

	.section .smc, "awx"
	.balign 64
buf:	.skip 64

	.text
	.global _start
	.proc _start
_start:
	movl r20 = buf
	movl r21 = tmpl1 ;;
	br.call.sptk.many b1 = copy ;;
	mov r8 = 0
	mov b6 = r20 ;;
	br.call.sptk.many b0 = b6 ;;
	CHECK r8, 1
	// overwrite with the second function and flush it
	movl r21 = tmpl2 ;;
	br.call.sptk.many b1 = copy ;;
	fc.i r20
	adds r9 = 32, r20 ;;
	fc.i r9 ;;
	sync.i ;;
	srlz.i ;;
	mov r8 = 0
	mov b6 = r20 ;;
	br.call.sptk.many b0 = b6 ;;
	CHECK r8, 2
	// once more, without the flush: the store alone is seen (this CPU's own store)
	movl r21 = tmpl1 ;;
	br.call.sptk.many b1 = copy ;;
	mov b6 = r20 ;;
	br.call.sptk.many b0 = b6 ;;
	CHECK r8, 1
	// ordering and flush instructions on plain data run as no-ops
	movl r9 = tmpl1 ;;
	fc r9 ;;
	mf ;;
	mf.a ;;
	fwb ;;
	srlz.d ;;
	PASS
	.endp _start

// copy: 32 bytes (two bundles) from r21 to r20; clobbers r22-r25.
	.proc copy
copy:
	mov r22 = r21
	mov r23 = r20 ;;
	ld8 r24 = [r22], 8 ;;
	st8 [r23] = r24, 8 ;;
	ld8 r24 = [r22], 8 ;;
	st8 [r23] = r24, 8 ;;
	ld8 r24 = [r22], 8 ;;
	st8 [r23] = r24, 8 ;;
	ld8 r24 = [r22], 8 ;;
	st8 [r23] = r24, 8 ;;
	br.ret.sptk.many b1 ;;
	.endp copy

	.balign 32
	.proc tmpl1
tmpl1:
	{ .mii
	mov r8 = 1
	nop.i 0
	nop.i 0 }
	{ .mib
	nop.m 0
	nop.i 0
	br.ret.sptk.many b0 ;; }
	.endp tmpl1

	.balign 32
	.proc tmpl2
tmpl2:
	{ .mii
	mov r8 = 2
	nop.i 0
	nop.i 0 }
	{ .mib
	nop.m 0
	nop.i 0
	br.ret.sptk.many b0 ;; }
	.endp tmpl2
