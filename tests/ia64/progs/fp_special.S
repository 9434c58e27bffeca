// fp_special.S — special values: NaN propagation and quieting, invalid operations and the
// QNaN indefinite, infinities, signed zeros, unnormal operands, NaTVal, and the compares,
// classes, min/max and reciprocal approximations on them. Expected values worked by hand
// from the SDM (fma_exception_fault_check: the NaN of f4, else f2, else f3 propagates;
// fcmp: lt/le signal on QNaN, eq/unord only on SNaN; fmin picks f3 unless f2 < f3; frcpa/
// frsqrta: p2 = 0 with the final answer for zero, infinite and NaN operands).
// Values as (se, sig): 1.0 = (0xffff, 0x8000000000000000), 2.0 = (0x10000, 0x8000..),
// +inf = (0x1ffff, 0x8000..), QNaN indefinite = (0x3ffff, 0xc000..), NaTVal = (0x1fffe, 0).
	.include "fp_check.inc"

	ONE = 0x8000000000000000
	QNAN = 0xc000000000000000
	QA = 0xc000000000001111		// quiet NaN payloads
	QB = 0xc000000000002222
	QC = 0xc000000000003333
	SB = 0x8000000000002222		// a signaling NaN (quieted: QB)
	FPSR0 = 0x0009804c0270033f	// the Linux default: all traps disabled, sf0 flags clear
	FL0 = 13			// sf0 flags (FPSR bits 13..18): v d z o u i
	FLAG_V = 1 << FL0
	FLAG_D = 2 << FL0
	FLAG_Z = 4 << FL0
	FLAG_I = 32 << FL0

	.text
	.global _start
	.proc _start
_start:
	alloc r2 = ar.pfs, 0, 8, 0, 0 ;;
	SETFPSR FPSR0
	SETFR f32, 0x1ffff, QA
	SETFR f33, 0x1ffff, QB
	SETFR f34, 0x1ffff, QC
	SETFR f35, 0xffff, ONE		// 1.0
	SETFR f36, 0x10000, ONE		// 2.0
	SETFR f37, 0x1ffff, SB
	SETFR f38, 0x1ffff, ONE		// +inf
	SETFR f39, 0x3ffff, ONE		// -inf
	SETFR f41, 0x20000, 0		// -0

	// ---- NaN propagation order: f4, then f2, then f3; no flag for quiet NaNs
	fma.s0 f40 = f32, f33, f34 ;;
	CHECKFR f40, 0x1ffff, QB
	fma.s0 f40 = f32, f35, f34 ;;
	CHECKFR f40, 0x1ffff, QC
	fma.s0 f40 = f32, f35, f35 ;;
	CHECKFR f40, 0x1ffff, QA
	fms.d.s0 f40 = f35, f35, f34 ;;		// the addend's NaN keeps its sign through fms
	CHECKFR f40, 0x1ffff, QC
	fma.s.s0 f40 = f35, f32, f35 ;;		// a NaN result is not narrowed to single
	CHECKFR f40, 0x1ffff, QA
	CHECKFPSR FPSR0
	// a signaling NaN is quieted and raises V
	fma.s0 f40 = f35, f37, f35 ;;
	CHECKFR f40, 0x1ffff, QB
	CHECKFPSR FPSR0 | FLAG_V
	SETFPSR FPSR0

	// ---- invalid operations give the QNaN indefinite and V
	fmpy.s0 f40 = f38, f0 ;;		// inf * 0
	CHECKFR f40, 0x3ffff, QNAN
	fadd.s0 f40 = f38, f39 ;;		// inf + -inf
	CHECKFR f40, 0x3ffff, QNAN
	fms.s0 f40 = f38, f35, f38 ;;		// inf*1 - inf
	CHECKFR f40, 0x3ffff, QNAN
	fnma.s0 f40 = f38, f35, f38 ;;		// -(inf*1) + inf
	CHECKFR f40, 0x3ffff, QNAN
	CHECKFPSR FPSR0 | FLAG_V
	SETFPSR FPSR0
	// ---- infinities: exact, no flags
	fma.s0 f40 = f38, f36, f35 ;;		// inf*2 + 1
	CHECKFR f40, 0x1ffff, ONE
	fnmpy.s0 f40 = f39, f36 ;;		// -(-inf*2)
	CHECKFR f40, 0x1ffff, ONE
	fadd.d.s0 f40 = f39, f35 ;;		// -inf + 1
	CHECKFR f40, 0x3ffff, ONE
	fma.s0 f40 = f35, f36, f39 ;;		// 1*2 - inf
	CHECKFR f40, 0x3ffff, ONE
	CHECKFPSR FPSR0

	// ---- signed zeros (sf0 round to nearest; sf2 set to round down)
	fadd.s0 f40 = f41, f41 ;;		// -0 + -0
	CHECKFR f40, 0x20000, 0
	fadd.s0 f40 = f41, f0 ;;		// with f2 = f0 nothing is added: fnorm of -0
	CHECKFR f40, 0x20000, 0
	mov f47 = f0 ;;				// +0 in a register that is not f0
	fadd.s0 f40 = f41, f47 ;;		// -0 + +0
	CHECKFR f40, 0, 0
	fsetc.s2 0x0f, 0x10 ;;			// sf2 = sf0's controls with rc = 01 (toward -inf)
	fadd.s2 f40 = f41, f47 ;;
	CHECKFR f40, 0x20000, 0
	fsub.s2 f40 = f35, f35 ;;		// 1 - 1 rounding down
	CHECKFR f40, 0x20000, 0
	fsub.s0 f40 = f35, f35 ;;
	CHECKFR f40, 0, 0
	fmpy.s0 f40 = f41, f36 ;;		// -0 * 2: f2 = f0, so no +0 is added
	CHECKFR f40, 0x20000, 0
	fma.s0 f40 = f41, f36, f0 ;;		// the same written out
	CHECKFR f40, 0x20000, 0
	fma.s0 f40 = f41, f36, f41 ;;		// -0*2 + -0
	CHECKFR f40, 0x20000, 0
	fnma.s0 f40 = f0, f36, f0 ;;		// -(0*2) + 0 (f2 = f0: no add) = -0
	CHECKFR f40, 0x20000, 0
	fnorm.s0 f40 = f41 ;;
	CHECKFR f40, 0x20000, 0
	CHECKFPSR 0x0009801c0270033f		// sf2's controls now sf0's with rc 01; no flags

	// ---- unnormal operands: normalized, with the D flag
	SETFPSR FPSR0
	SETFR f42, 0x10003, 0x0000000000000c00	// 0xc00 * 2^(4-63) = 3 * 2^-49
	fnorm.s0 f40 = f42 ;;
	CHECKFR f40, 0xffff - 48, QNAN	// 1.5 * 2^-48
	CHECKFPSR FPSR0 | FLAG_D
	SETFPSR FPSR0
	SETFR f42, 0x1234, 0			// a pseudo-zero: arithmetic treats it as 0
	fma.s0 f40 = f42, f36, f35 ;;
	CHECKFR f40, 0xffff, ONE
	fmpy.s0 f40 = f42, f38 ;;		// pseudo-zero * inf = inf, not invalid
	CHECKFR f40, 0x1ffff, ONE
	CHECKFPSR FPSR0 | FLAG_D

	// ---- NaTVal: from a NaT general register; propagates; getf gives a NaT
	SETFPSR FPSR0
	ld8.s r8 = [r0] ;;			// address 0 is unmapped: deferred, r8 is NaT
	setf.sig f43 = r8 ;;
	CHECKFR f43, 0x1fffe, 0
	fma.s0 f40 = f35, f43, f36 ;;
	CHECKFR f40, 0x1fffe, 0
	fmerge.s f40 = f43, f35 ;;
	CHECKFR f40, 0x1fffe, 0
	xma.l f40 = f35, f35, f43 ;;
	CHECKFR f40, 0x1fffe, 0
	getf.sig r9 = f43 ;;
	tnat.nz p8, p9 = r9 ;;
	CHECKP p8, 1
	cmp.eq p8, p9 = r0, r0 ;;
	fcmp.eq.s0 p8, p9 = f43, f35 ;;		// NaTVal: both targets cleared
	CHECKP p8, 0
	CHECKP p9, 0
	CHECKFPSR FPSR0				// NaTVal sets no flags

	// ---- fcmp: the four relations, the swapped pseudo-ops, .unc, NaN and V
	fcmp.lt.s0 p8, p9 = f35, f36 ;;		// 1 < 2
	CHECKP p8, 1
	CHECKP p9, 0
	fcmp.lt.s0 p8, p9 = f36, f35 ;;
	CHECKP p8, 0
	CHECKP p9, 1
	fcmp.le.s0 p8, p9 = f35, f35 ;;
	CHECKP p8, 1
	fcmp.eq.s0 p8, p9 = f0, f41 ;;		// +0 == -0
	CHECKP p8, 1
	fcmp.gt.s0 p8, p9 = f36, f35 ;;		// 2 > 1 (lt with f2/f3 swapped)
	CHECKP p8, 1
	fcmp.ge.s0 p8, p9 = f35, f36 ;;
	CHECKP p8, 0
	fcmp.neq.s0 p8, p9 = f35, f36 ;;	// eq with p1/p2 swapped
	CHECKP p8, 1
	CHECKP p9, 0
	fcmp.lt.s0 p8, p9 = f39, f38 ;;		// -inf < +inf
	CHECKP p8, 1
	fcmp.unord.s0 p8, p9 = f35, f36 ;;
	CHECKP p8, 0
	CHECKP p9, 1
	fcmp.ord.s0 p8, p9 = f35, f36 ;;
	CHECKP p8, 1
	CHECKFPSR FPSR0
	fcmp.eq.s0 p8, p9 = f32, f35 ;;		// QNaN: unordered, no V for eq
	CHECKP p8, 0
	CHECKP p9, 1
	fcmp.unord.s0 p8, p9 = f35, f32 ;;
	CHECKP p8, 1
	CHECKFPSR FPSR0
	fcmp.le.s1 p8, p9 = f32, f35 ;;		// QNaN: le signals V (in sf1 here)
	CHECKP p8, 0
	CHECKP p9, 1
	CHECKFPSR FPSR0 | (1 << (FL0 + 13))
	SETFPSR FPSR0
	fcmp.eq.s0 p8, p9 = f37, f35 ;;		// SNaN: V even for eq
	CHECKP p8, 0
	CHECKFPSR FPSR0 | FLAG_V
	SETFPSR FPSR0
	cmp.eq p8, p9 = r0, r0 ;;		// p8 = 1, p9 = 0
	cmp.ne p10, p11 = r0, r0 ;;		// p10 = 0
(p10)	fcmp.eq.unc.s0 p8, p9 = f35, f35 ;;	// qp false: .unc clears both targets
	CHECKP p8, 0
	CHECKP p9, 0
	cmp.eq p8, p9 = r0, r0 ;;
(p10)	fcmp.eq.s0 p8, p9 = f35, f36 ;;		// qp false without .unc: untouched
	CHECKP p8, 1
	CHECKP p9, 0
	cmp.eq p11, p0 = r0, r0 ;;
(p11)	fcmp.eq.unc.s0 p8, p9 = f35, f36 ;;	// qp true: as without .unc
	CHECKP p8, 0
	CHECKP p9, 1

	// ---- fclass
	fclass.m p8, p9 = f35, @pos|@norm ;;
	CHECKP p8, 1
	fclass.m p8, p9 = f35, @neg|@norm ;;
	CHECKP p8, 0
	CHECKP p9, 1
	fclass.m p8, p9 = f41, @neg|@zero ;;
	CHECKP p8, 1
	fclass.m p8, p9 = f0, @neg|@zero ;;
	CHECKP p8, 0
	fclass.m p8, p9 = f39, @neg|@inf ;;
	CHECKP p8, 1
	fclass.m p8, p9 = f42, @pos|@unorm ;;	// a pseudo-zero classes as unnormal
	CHECKP p8, 1
	fclass.m p8, p9 = f32, @qnan ;;
	CHECKP p8, 1
	fclass.m p8, p9 = f37, @qnan ;;
	CHECKP p8, 0
	fclass.m p8, p9 = f37, @snan ;;
	CHECKP p8, 1
	fclass.nm p8, p9 = f37, @snan ;;	// .nm: m with the targets swapped
	CHECKP p8, 0
	CHECKP p9, 1
	fclass.m p8, p9 = f43, @nat ;;
	CHECKP p8, 1
	fclass.m p8, p9 = f43, @pos|@neg|@zero|@unorm|@norm|@inf|@qnan|@snan ;;	// NaTVal, no @nat: both 0
	CHECKP p8, 0
	CHECKP p9, 0
	fclass.m p8, p9 = f40, 0x1ff ;;
	CHECKP p8, 1
(p10)	fclass.m.unc p8, p9 = f35, @norm|@pos ;;
	CHECKP p8, 0
	CHECKP p9, 0

	// ---- fmin/fmax/famin/famax: f3 unless the relation holds; NaNs signal V
	fmin.s0 f40 = f35, f36 ;;
	CHECKFR f40, 0xffff, ONE
	fmax.s0 f40 = f35, f36 ;;
	CHECKFR f40, 0x10000, ONE
	SETFR f44, 0x10000, QNAN		// 3.0
	SETFR f45, 0x30000, QNAN		// -3.0
	famin.s0 f40 = f45, f36 ;;		// |-3| vs |2|: 2
	CHECKFR f40, 0x10000, ONE
	famax.s0 f40 = f45, f36 ;;		// -3
	CHECKFR f40, 0x30000, QNAN
	fmin.s0 f40 = f0, f41 ;;		// +0, -0: not less, so f3
	CHECKFR f40, 0x20000, 0
	fmax.s0 f40 = f41, f0 ;;
	CHECKFR f40, 0, 0
	CHECKFPSR FPSR0
	fmin.s0 f40 = f32, f35 ;;		// NaN in f2: f3
	CHECKFR f40, 0xffff, ONE
	fmin.s0 f40 = f35, f32 ;;		// NaN in f3: the NaN
	CHECKFR f40, 0x1ffff, QA
	CHECKFPSR FPSR0 | FLAG_V
	SETFPSR FPSR0

	// ---- frcpa: approximation with p2 = 1, final answers with p2 = 0
	frcpa.s0 f40, p8 = f35, f35 ;;		// 1/1: table entry 0 (0x3fc)
	CHECKFR f40, 0xfffe, 0xff80000000000000
	CHECKP p8, 1
	frcpa.s0 f40, p8 = f35, f44 ;;		// 1/3: index 0x80 -> 0x154, exponent 0x1fffd - 0x10000
	CHECKFR f40, 0xfffd, 0xaa80000000000000
	CHECKP p8, 1
	frcpa.s0 f40, p8 = f45, f36 ;;		// sign of the divisor only: +1/2
	CHECKFR f40, 0xfffd, 0xff80000000000000
	frcpa.s0 f40, p8 = f45, f0 ;;		// x/0: -inf, Z
	CHECKFR f40, 0x3ffff, ONE
	CHECKP p8, 0
	CHECKFPSR FPSR0 | FLAG_Z
	SETFPSR FPSR0
	frcpa.s0 f40, p8 = f0, f0 ;;		// 0/0: indefinite, V
	CHECKFR f40, 0x3ffff, QNAN
	CHECKP p8, 0
	frcpa.s0 f40, p8 = f38, f39 ;;		// inf/inf: indefinite, V
	CHECKFR f40, 0x3ffff, QNAN
	CHECKFPSR FPSR0 | FLAG_V
	SETFPSR FPSR0
	frcpa.s0 f40, p8 = f38, f45 ;;		// inf/-3 = -inf
	CHECKFR f40, 0x3ffff, ONE
	CHECKP p8, 0
	frcpa.s0 f40, p8 = f44, f39 ;;		// 3/-inf = -0
	CHECKFR f40, 0x20000, 0
	frcpa.s0 f40, p8 = f41, f44 ;;		// -0/3 = -0
	CHECKFR f40, 0x20000, 0
	CHECKP p8, 0
	frcpa.s0 f40, p8 = f33, f35 ;;		// NaN/1: the NaN
	CHECKFR f40, 0x1ffff, QB
	CHECKFPSR FPSR0
	cmp.eq p8, p0 = r0, r0
	mov f40 = f35 ;;
(p10)	frcpa.s0 f40, p8 = f35, f36 ;;		// qp false: p2 cleared, f1 kept
	CHECKP p8, 0
	CHECKFR f40, 0xffff, ONE

	// ---- frsqrta
	SETFR f46, 0x10001, ONE			// 4.0: index 0x80 (odd exponent) -> 0x3fc
	frsqrta.s0 f40, p8 = f46 ;;
	CHECKFR f40, 0xfffd, 0xff80000000000000
	CHECKP p8, 1
	frsqrta.s0 f40, p8 = f36 ;;		// 2.0: index 0 -> 0x1a5
	CHECKFR f40, 0xfffe, 0xb4a0000000000000
	CHECKP p8, 1
	frsqrta.s0 f40, p8 = f41 ;;		// -0: -0
	CHECKFR f40, 0x20000, 0
	CHECKP p8, 0
	frsqrta.s0 f40, p8 = f38 ;;		// +inf: +inf
	CHECKFR f40, 0x1ffff, ONE
	CHECKP p8, 0
	CHECKFPSR FPSR0
	frsqrta.s0 f40, p8 = f45 ;;		// -3: indefinite, V
	CHECKFR f40, 0x3ffff, QNAN
	CHECKP p8, 0
	CHECKFPSR FPSR0 | FLAG_V

	// ---- fchkf, fclrf and fsetc
	SETFPSR FPSR0
	fadd.s1 f40 = f35, f32 ;;		// no flag
	fchkf.s1 1f ;;
	br.sptk 2f ;;
1:	FAIL 1
2:	fsetc.s1 0x7f, 0x00 ;;			// sf1 = sf0's controls (td 0, traps all disabled)
	fmpy.s1 f40 = f44, f38 ;;		// 3*inf: no flag
	frcpa.s1 f40, p8 = f35, f44 ;;		// no flag
	fma.s1 f40 = f44, f44, f35 ;;		// exact
	fchkf.s1 3f ;;
	br.sptk 4f ;;
3:	FAIL 2
4:	fadd.s.s1 f40 = f46, f42 ;;		// D (pseudo-zero operand): a flag sf0 does not have
	fchkf.s1 5f ;;
	FAIL 3
5:	fclrf.s1 ;;
	fchkf.s1 6f ;;
	br.sptk 7f ;;
6:	FAIL 4
7:	mov r8 = ar.fpsr ;;
	extr.u r8 = r8, 19, 13 ;;		// sf1 after fsetc.s1 0x7f,0 and fclrf: sf0's controls
	CHECK r8, 0x0c
	PASS
	.endp _start
