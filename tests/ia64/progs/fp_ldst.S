// fp_ldst.S — floating-point loads and stores: every memory format (single, double,
// double-extended, 8-byte integer, spill/fill) both ways, the load pairs, all three
// addressing forms with post-increments of either sign, the hints, speculative loads that
// defer to NaTVal, and advanced loads seen by chk.a. Expected values worked by hand: the
// single 1.5 is 0x3fc00000 = (se 0xffff, sig 0xc000000000000000); pi as a double,
// 0x400921fb54442d18, has exponent 1 (se 0x10000) and significand 1.921fb54442d18 << 11;
// as double-extended it is se 0x4000 (0x10000 in the register), sig 0xc90fdaa22168c235.
	.include "fp_check.inc"

	.data
	.align 16
sgl:	data4 0x3fc00000, 0xc0200000	// 1.5, -2.5
	.align 16
dbl:	data8 0x400921fb54442d18	// pi (the pair loads need 16-byte alignment)
	data8 0xc000000000000000	// -2.0
	.align 16
ext:	data8 0xc90fdaa22168c235	// pi, double-extended, 16-byte aligned
	data2 0x4000
	.skip 6
ext2:	data8 0x8000000000000000	// -1.0
	data2 0xbfff
	.skip 6
int8:	data8 0x0123456789abcdef, 0xfedcba9876543210
	.align 16
out:	.skip 128

	.text
	.global _start
	.proc _start
_start:
	alloc r2 = ar.pfs, 0, 8, 0, 0 ;;
	movl r32 = sgl
	movl r33 = dbl
	movl r34 = ext
	movl r35 = int8
	movl r36 = out ;;

	// ---- loads of each format
	ldfs f40 = [r32] ;;
	CHECKFR f40, 0xffff, 0xc000000000000000
	ldfd.nt1 f40 = [r33] ;;
	CHECKFR f40, 0x10000, 0xc90fdaa22168c000
	ldfe.nta f40 = [r34] ;;
	CHECKFR f40, 0x10000, 0xc90fdaa22168c235
	ldf8 f40 = [r35] ;;
	CHECKFR f40, 0x1003e, 0x0123456789abcdef
	ldfs.d2 f40 = [r32] ;;			// the other hints load the same
	CHECKFR f40, 0xffff, 0xc000000000000000

	// ---- post-increment by immediate (both signs) and by register
	mov r37 = r32 ;;
	ldfs f40 = [r37], 4 ;;
	ldfs f41 = [r37], -4 ;;
	CHECKFR f41, 0x30000, 0xa000000000000000	// -2.5
	CHECK r37, sgl
	mov r38 = 16
	mov r37 = r34 ;;
	ldfe f40 = [r37], r38 ;;
	ldfe f41 = [r37], r38 ;;
	CHECKFR f41, 0x2ffff, 0x8000000000000000	// -1.0
	CHECK r37, ext + 32
	mov r37 = r33 ;;
	ldfd.nta f40 = [r37], 8 ;;
	ldfd f41 = [r37] ;;
	CHECKFR f41, 0x30000, 0x8000000000000000	// -2.0

	// ---- load pairs: f1 from the lower address, base += the size of the pair
	mov r37 = r32 ;;
	ldfps f40, f41 = [r37], 8 ;;
	CHECKFR f40, 0xffff, 0xc000000000000000
	CHECKFR f41, 0x30000, 0xa000000000000000
	CHECK r37, sgl + 8
	ldfpd f42, f43 = [r33] ;;
	CHECKFR f42, 0x10000, 0xc90fdaa22168c000
	CHECKFR f43, 0x30000, 0x8000000000000000
	mov r37 = r35 ;;
	ldfp8.nt1 f43, f42 = [r37], 16 ;;	// odd/even either way round
	CHECKFR f43, 0x1003e, 0x0123456789abcdef
	CHECKFR f42, 0x1003e, 0xfedcba9876543210
	CHECK r37, int8 + 16

	// ---- stores of each format, read back as integers
	ldfd f40 = [r33] ;;
	stfs [r36] = f40 ;;			// pi as a single: its bits, not rounded
	ld4 r8 = [r36] ;;
	CHECK r8, 0x40490fda
	stfd [r36] = f40 ;;
	ld8 r8 = [r36] ;;
	CHECK r8, 0x400921fb54442d18
	ldfe f41 = [r34] ;;
	stfe [r36] = f41 ;;
	ld8 r8 = [r36], 8 ;;
	ld2 r9 = [r36], -8 ;;
	CHECK r8, 0xc90fdaa22168c235
	CHECK r9, 0x4000
	stf8.nta [r36] = f41 ;;			// the significand
	ld8 r8 = [r36] ;;
	CHECK r8, 0xc90fdaa22168c235
	mov r37 = r36 ;;
	stfs [r37] = f41, 4 ;;			// post-increment stores
	stfs [r37] = f40, -4 ;;
	CHECK r37, out
	ld8 r8 = [r36] ;;
	CHECK r8, 0x40490fda40490fda
	// register values outside the format keep their low exponent bits
	SETFR f44, 0x10100, 0x8000000000000000	// 2^257
	stfs [r36] = f44 ;;
	ld4 r8 = [r36] ;;
	CHECK r8, 0x40000000			// exponent field (1 << 7) | 0 = 0x80, sig 0
	SETFR f44, 0xffff, 0x4000000000000000	// an unnormal: exponent field 0
	stfd [r36] = f44 ;;
	ld8 r8 = [r36] ;;
	CHECK r8, 0x0008000000000000

	// ---- spill and fill: the whole 82 bits, NaTVal included, round trip
	SETFR f44, 0x2abcd, 0x00000000000abcde	// negative, unnormal
	stf.spill [r36] = f44 ;;
	ld8 r8 = [r36], 8 ;;
	ld8 r9 = [r36], -8 ;;
	CHECK r8, 0x00000000000abcde
	CHECK r9, 0x2abcd
	ldf.fill f45 = [r36] ;;
	CHECKFR f45, 0x2abcd, 0x00000000000abcde
	ld8.s r10 = [r0] ;;			// a NaT, so a NaTVal
	setf.sig f46 = r10 ;;
	adds r37 = 16, r36 ;;
	stf.spill [r37] = f46, 16 ;;		// post-increment
	CHECK r37, out + 32
	adds r37 = 16, r36 ;;
	ldf.fill f47 = [r37], 16 ;;
	CHECKFR f47, 0x1fffe, 0
	CHECK r37, out + 32
	fclass.m p8, p9 = f47, @nat ;;
	CHECKP p8, 1

	// ---- speculative loads defer to NaTVal; non-speculative ones with a good address load
	ldfd.s f40 = [r0] ;;			// unmapped
	CHECKFR f40, 0x1fffe, 0
	ldfs.s f40 = [r32] ;;			// mapped: an ordinary load
	CHECKFR f40, 0xffff, 0xc000000000000000
	ldfps.s f40, f41 = [r0] ;;		// both targets
	CHECKFR f40, 0x1fffe, 0
	CHECKFR f41, 0x1fffe, 0
	mov r37 = r0 ;;
	ldfd.s f40 = [r37], 8 ;;		// the base is still updated
	CHECK r37, 8
	ldfe.sa f40 = [r0] ;;
	CHECKFR f40, 0x1fffe, 0
	chk.s f40, 1f ;;			// NaTVal: recovery taken
	FAIL 1
1:	ldfd.s f40 = [r33] ;;
	chk.s f40, 2f ;;
	br.sptk 3f ;;
2:	FAIL 2
	// ---- advanced loads and their checks
3:	ldfd.a f48 = [r33] ;;
	chk.a.nc f48, 4f ;;			// the entry is there
	br.sptk 5f ;;
4:	FAIL 3
5:	ldfd.c.nc f48 = [r33] ;;		// hit: nothing happens, the entry stays
	chk.a.clr f48, 6f ;;
	br.sptk 7f ;;
6:	FAIL 4
7:	chk.a.nc f48, 8f ;;			// .clr removed it
	FAIL 5
8:	ldfd.a f48 = [r36] ;;
	st8 [r36] = r0 ;;			// a store to the same bytes invalidates it
	chk.a.nc f48, 9f ;;
	FAIL 6
9:	movl r8 = 0x3ff0000000000000 ;;
	st8 [r36] = r8
	ldfd.a f49 = [r36] ;;
	stfd [r36] = f45 ;;			// an FP store invalidates it too
	ldfd.c.clr f49 = [r36] ;;		// miss: reloads
	getf.d r9 = f49 ;;
	CHECK r9, 0x8000000000000157		// the bits f45 stored as a double (unnormal: exponent 0)
	PASS
	.endp _start
