/* fp82.c — IA-64 floating-point arithmetic in software, on the 82-bit register format.
 *
 * Values are unpacked into a "wide" form: sign, unbiased exponent and a 128-bit significand
 * with its leading one at bit 127, plus a sticky bit. Products of two 64-bit significands
 * are exact in it; a sum is formed exactly in a 256-bit window (the smaller operand's bits
 * beyond the window only matter as a sticky bit, since cancellation of more than one bit
 * needs exponents within one of each other, when nothing is shifted out). Rounding then
 * follows the SDM's fp_ieee_round: an unbounded rounding to the precision first (which
 * decides overflow and tininess, the latter after rounding), then for tiny results a second
 * rounding of the exact value denormalized to the minimum exponent. Trap-enabled overflow
 * and underflow deliver the unbounded result with its exponent wrapped to 17 bits.
 *
 * The exception checks mirror the SDM's *_exception_fault_check functions: unsupported
 * operands and signaling NaNs are Invalid, NaN results propagate the first NaN operand in
 * the architected order (f4, f2, f3 for fma), unnormalized operands raise Denormal. The
 * faults and traps are reported in fp82_env for the executor to deliver.
 *
 * frcpa and frsqrta deliver the SDM's table approximations (8 significand bits in, 10 out:
 * RECIP_TABLE[i] = round(2^11 / (1 + (i + 1/2) / 2^8)) - 2^10 and the like for 1/sqrt).
 * Where the architecture requires software assistance (operands whose quotient or root the
 * Newton-Raphson sequences cannot produce, e.g. a divisor exponent near the top of the
 * range), the IA-64 floating-point software assist handler would compute the IEEE result and
 * clear the predicate; this emulation does exactly that itself, so no FPSWA is needed. */
#include <string.h>

#include "fp82.h"

#define LIKELY_FP(x) __builtin_expect(!!(x), 1)

__extension__ typedef unsigned __int128 u128;
__extension__ typedef __int128 s128;

enum { W_FINITE = 0, W_ZERO, W_INF };

typedef struct wide {
  unsigned sign;
  unsigned kind;      /* W_FINITE, W_ZERO or W_INF */
  int32_t exp;        /* value = sig * 2^(exp - 127) */
  u128 sig;           /* bit 127 set when finite */
  bool sticky;        /* non-zero bits below sig */
} wide;

static const uint16_t recip_table[256] = {
  0x3fc, 0x3f4, 0x3ec, 0x3e4, 0x3dd, 0x3d5, 0x3cd, 0x3c6, 0x3be, 0x3b7, 0x3af, 0x3a8, 0x3a1, 0x399, 0x392, 0x38b,
  0x384, 0x37d, 0x376, 0x36f, 0x368, 0x361, 0x35b, 0x354, 0x34d, 0x346, 0x340, 0x339, 0x333, 0x32c, 0x326, 0x320,
  0x319, 0x313, 0x30d, 0x307, 0x300, 0x2fa, 0x2f4, 0x2ee, 0x2e8, 0x2e2, 0x2dc, 0x2d7, 0x2d1, 0x2cb, 0x2c5, 0x2bf,
  0x2ba, 0x2b4, 0x2af, 0x2a9, 0x2a3, 0x29e, 0x299, 0x293, 0x28e, 0x288, 0x283, 0x27e, 0x279, 0x273, 0x26e, 0x269,
  0x264, 0x25f, 0x25a, 0x255, 0x250, 0x24b, 0x246, 0x241, 0x23c, 0x237, 0x232, 0x22e, 0x229, 0x224, 0x21f, 0x21b,
  0x216, 0x211, 0x20d, 0x208, 0x204, 0x1ff, 0x1fb, 0x1f6, 0x1f2, 0x1ed, 0x1e9, 0x1e5, 0x1e0, 0x1dc, 0x1d8, 0x1d4,
  0x1cf, 0x1cb, 0x1c7, 0x1c3, 0x1bf, 0x1bb, 0x1b6, 0x1b2, 0x1ae, 0x1aa, 0x1a6, 0x1a2, 0x19e, 0x19a, 0x197, 0x193,
  0x18f, 0x18b, 0x187, 0x183, 0x17f, 0x17c, 0x178, 0x174, 0x171, 0x16d, 0x169, 0x166, 0x162, 0x15e, 0x15b, 0x157,
  0x154, 0x150, 0x14d, 0x149, 0x146, 0x142, 0x13f, 0x13b, 0x138, 0x134, 0x131, 0x12e, 0x12a, 0x127, 0x124, 0x120,
  0x11d, 0x11a, 0x117, 0x113, 0x110, 0x10d, 0x10a, 0x107, 0x103, 0x100, 0x0fd, 0x0fa, 0x0f7, 0x0f4, 0x0f1, 0x0ee,
  0x0eb, 0x0e8, 0x0e5, 0x0e2, 0x0df, 0x0dc, 0x0d9, 0x0d6, 0x0d3, 0x0d0, 0x0cd, 0x0ca, 0x0c8, 0x0c5, 0x0c2, 0x0bf,
  0x0bc, 0x0b9, 0x0b7, 0x0b4, 0x0b1, 0x0ae, 0x0ac, 0x0a9, 0x0a6, 0x0a4, 0x0a1, 0x09e, 0x09c, 0x099, 0x096, 0x094,
  0x091, 0x08e, 0x08c, 0x089, 0x087, 0x084, 0x082, 0x07f, 0x07c, 0x07a, 0x077, 0x075, 0x073, 0x070, 0x06e, 0x06b,
  0x069, 0x066, 0x064, 0x061, 0x05f, 0x05d, 0x05a, 0x058, 0x056, 0x053, 0x051, 0x04f, 0x04c, 0x04a, 0x048, 0x045,
  0x043, 0x041, 0x03f, 0x03c, 0x03a, 0x038, 0x036, 0x033, 0x031, 0x02f, 0x02d, 0x02b, 0x029, 0x026, 0x024, 0x022,
  0x020, 0x01e, 0x01c, 0x01a, 0x018, 0x015, 0x013, 0x011, 0x00f, 0x00d, 0x00b, 0x009, 0x007, 0x005, 0x003, 0x001,
};

/* Index: exponent parity, then 7 significand bits. Entries 0..127 (even exponent) are
 * round(2^10 * sqrt(2 / m)) - 2^10, entries 128..255 round(2^10 * 2 / sqrt(m)) - 2^10,
 * m = 1 + (j + 1/2) / 2^7. */
static const uint16_t rsqrt_table[256] = {
  0x1a5, 0x1a0, 0x19a, 0x195, 0x18f, 0x18a, 0x185, 0x180, 0x17a, 0x175, 0x170, 0x16b, 0x166, 0x161, 0x15d, 0x158,
  0x153, 0x14e, 0x14a, 0x145, 0x140, 0x13c, 0x138, 0x133, 0x12f, 0x12a, 0x126, 0x122, 0x11e, 0x11a, 0x115, 0x111,
  0x10d, 0x109, 0x105, 0x101, 0x0fd, 0x0fa, 0x0f6, 0x0f2, 0x0ee, 0x0ea, 0x0e7, 0x0e3, 0x0df, 0x0dc, 0x0d8, 0x0d5,
  0x0d1, 0x0ce, 0x0ca, 0x0c7, 0x0c3, 0x0c0, 0x0bd, 0x0b9, 0x0b6, 0x0b3, 0x0b0, 0x0ad, 0x0a9, 0x0a6, 0x0a3, 0x0a0,
  0x09d, 0x09a, 0x097, 0x094, 0x091, 0x08e, 0x08b, 0x088, 0x085, 0x082, 0x07f, 0x07d, 0x07a, 0x077, 0x074, 0x071,
  0x06f, 0x06c, 0x069, 0x067, 0x064, 0x061, 0x05f, 0x05c, 0x05a, 0x057, 0x054, 0x052, 0x04f, 0x04d, 0x04a, 0x048,
  0x045, 0x043, 0x041, 0x03e, 0x03c, 0x03a, 0x037, 0x035, 0x033, 0x030, 0x02e, 0x02c, 0x029, 0x027, 0x025, 0x023,
  0x020, 0x01e, 0x01c, 0x01a, 0x018, 0x016, 0x014, 0x011, 0x00f, 0x00d, 0x00b, 0x009, 0x007, 0x005, 0x003, 0x001,
  0x3fc, 0x3f4, 0x3ec, 0x3e5, 0x3dd, 0x3d5, 0x3ce, 0x3c7, 0x3bf, 0x3b8, 0x3b1, 0x3aa, 0x3a3, 0x39c, 0x395, 0x38e,
  0x388, 0x381, 0x37a, 0x374, 0x36d, 0x367, 0x361, 0x35a, 0x354, 0x34e, 0x348, 0x342, 0x33c, 0x336, 0x330, 0x32b,
  0x325, 0x31f, 0x31a, 0x314, 0x30f, 0x309, 0x304, 0x2fe, 0x2f9, 0x2f4, 0x2ee, 0x2e9, 0x2e4, 0x2df, 0x2da, 0x2d5,
  0x2d0, 0x2cb, 0x2c6, 0x2c1, 0x2bd, 0x2b8, 0x2b3, 0x2ae, 0x2aa, 0x2a5, 0x2a1, 0x29c, 0x298, 0x293, 0x28f, 0x28a,
  0x286, 0x282, 0x27d, 0x279, 0x275, 0x271, 0x26d, 0x268, 0x264, 0x260, 0x25c, 0x258, 0x254, 0x250, 0x24c, 0x249,
  0x245, 0x241, 0x23d, 0x239, 0x235, 0x232, 0x22e, 0x22a, 0x227, 0x223, 0x220, 0x21c, 0x218, 0x215, 0x211, 0x20e,
  0x20a, 0x207, 0x204, 0x200, 0x1fd, 0x1f9, 0x1f6, 0x1f3, 0x1f0, 0x1ec, 0x1e9, 0x1e6, 0x1e3, 0x1df, 0x1dc, 0x1d9,
  0x1d6, 0x1d3, 0x1d0, 0x1cd, 0x1ca, 0x1c7, 0x1c4, 0x1c1, 0x1be, 0x1bb, 0x1b8, 0x1b5, 0x1b2, 0x1af, 0x1ac, 0x1aa,
};

/* ---- Environment ------------------------------------------------------------------------- */

static void set_range(fp82_env *e, unsigned ebits) {
  int32_t bias = (1 << (ebits - 1)) - 1;
  e->emax = bias;
  e->emin = 1 - bias;
}

void fp82_env_init(fp82_env *e, uint64_t fpsr, unsigned sf, fp82_pc pc) {
  unsigned c = fp82_sf_bits(fpsr, sf);
  unsigned wre = (c >> 1) & 1, spc = (c >> 2) & 3, td = (c >> 6) & 1;
  e->rc = (uint8_t)((c >> 4) & 3);
  e->disabled = (uint8_t)(td ? 0x3f : (fpsr & 0x3f));
  switch (pc) {
  case FP82_PC_S: e->prec = 24; set_range(e, wre ? 17 : 8); break;
  case FP82_PC_D: e->prec = 53; set_range(e, wre ? 17 : 11); break;
  case FP82_PC_NONE: e->prec = 64; set_range(e, 17); break;
  case FP82_PC_SIMD: e->prec = 24; set_range(e, 8); break;
  default: /* pc 01 is reserved; writing it faults, so it can only be seen as extended */
    e->prec = spc == 0 ? 24 : spc == 2 ? 53 : 64;
    set_range(e, wre ? 17 : 15);
    break;
  }
  e->ftz = (uint8_t)((c & 1) && (e->disabled & FP82_U));
  e->flags = e->faults = e->traps = e->fpa = 0;
}

/* Raise a fault-class exception (V, D, Z): flag it, and a fault when its trap is enabled. */
static void raise_fault(fp82_env *e, unsigned what) {
  e->flags |= (uint8_t)what;
  if (!(e->disabled & what)) e->faults |= (uint8_t)what;
}

/* ---- Wide values ------------------------------------------------------------------------- */

static inline int clz128(u128 v) {
  uint64_t hi = (uint64_t)(v >> 64), lo = (uint64_t)v;
  return hi ? __builtin_clzll(hi) : lo ? 64 + __builtin_clzll(lo) : 128;
}

/* Register format (finite, not NaN/NaTVal) to wide, normalizing. Pseudo-zeros are zeros. */
static wide unpack(ia64_fr f) {
  wide w = {.sign = f.sign & 1, .kind = W_FINITE};
  if (f.exp == FP82_EXP_MAX) {
    w.kind = W_INF;
    return w;
  }
  if (f.sig == 0) {
    w.kind = W_ZERO;
    return w;
  }
  /* Exponent 0 with a significand is a double-extended (pseudo-)denormal at 0xc001. */
  int32_t e = (f.exp ? (int32_t)f.exp : 0xc001) - FP82_BIAS;
  int lz = __builtin_clzll(f.sig);
  w.sig = (u128)(f.sig << lz) << 64;
  w.exp = e - lz;
  return w;
}

static wide wide_zero(unsigned sign) { return (wide){.sign = sign, .kind = W_ZERO}; }
static wide wide_inf(unsigned sign) { return (wide){.sign = sign, .kind = W_INF}; }

/* Exact product of two finite non-zero wides from register values (64-bit significands). */
static wide wide_mul(wide a, wide b) {
  wide r = {.sign = a.sign ^ b.sign, .kind = W_FINITE};
  u128 p = (a.sig >> 64) * (b.sig >> 64);
  if (p >> 127) {
    r.exp = a.exp + b.exp + 1;
  } else {
    p <<= 1;
    r.exp = a.exp + b.exp;
  }
  r.sig = p;
  r.sticky = a.sticky || b.sticky;
  return r;
}

/* 256-bit helpers: hi:lo. */
typedef struct u256 { u128 hi, lo; } u256;

static u256 shr256(u256 v, int n, bool *sticky) {
  if (n <= 0) return v;
  if (n >= 256) {
    *sticky |= (v.hi | v.lo) != 0;
    return (u256){0, 0};
  }
  if (n >= 128) {
    *sticky |= v.lo != 0 || (n > 128 && (v.hi << (256 - n)) != 0);
    return (u256){0, n == 128 ? v.hi : v.hi >> (n - 128)};
  }
  *sticky |= (v.lo << (128 - n)) != 0;
  return (u256){v.hi >> n, (v.lo >> n) | (v.hi << (128 - n))};
}

/* Exact sum of two finite non-zero wides (the sticky of either folds in). */
static wide wide_add(wide a, wide b, unsigned rc) {
  if (a.exp < b.exp || (a.exp == b.exp && a.sig < b.sig)) {
    wide t = a;
    a = b;
    b = t;
  }
  bool sticky = a.sticky;
  u256 x = {a.sig, 0};
  bool bs = b.sticky;
  u256 y = shr256((u256){b.sig, 0}, a.exp - b.exp, &bs);
  if (bs) y.lo |= 1; /* jam: far below any rounding position */
  wide r = {.sign = a.sign, .kind = W_FINITE, .exp = a.exp};
  u256 s;
  if (a.sign == b.sign) {
    s.lo = x.lo + y.lo;
    u128 t = x.hi + y.hi;
    bool carry = t < x.hi;
    s.hi = t + (s.lo < x.lo);
    carry |= s.hi < t;
    if (carry) {                               /* out of the 256-bit window */
      s = shr256(s, 1, &sticky);
      s.hi |= (u128)1 << 127;
      r.exp++;
    }
  } else {
    /* |a| >= |b| by the ordering above (equal exponents compared by significand). */
    s.lo = x.lo - y.lo;
    s.hi = x.hi - y.hi - (x.lo < y.lo);
    if (s.hi == 0 && s.lo == 0 && !sticky) {
      wide z = wide_zero(rc == FP82_RM);
      return z;
    }
  }
  int lz = s.hi ? clz128(s.hi) : 128 + clz128(s.lo);
  if (lz) {
    if (lz >= 128) {
      s.hi = s.lo << (lz - 128);
      s.lo = 0;
    } else {
      s.hi = (s.hi << lz) | (s.lo >> (128 - lz));
      s.lo <<= lz;
    }
    r.exp -= lz;
  }
  r.sig = s.hi;
  r.sticky = sticky || s.lo != 0;
  return r;
}

/* fp_add of the SDM: a (the product) plus b, with the IEEE signed-zero rules. */
static wide add_special(wide a, wide b, unsigned rc) {
  if (a.kind == W_ZERO && b.kind == W_ZERO)
    return wide_zero(a.sign == b.sign ? a.sign : rc == FP82_RM);
  if (a.kind == W_INF) return a;
  if (b.kind == W_INF) return b;
  if (a.kind == W_ZERO) return b;
  if (b.kind == W_ZERO) return a;
  return wide_add(a, b, rc);
}

/* ---- Rounding ------------------------------------------------------------------------------ */

/* Round the top prec bits of sig (the rest, and sticky, below); returns the kept bits and
 * whether they were incremented, and sets *inexact. prec <= 64, so the kept bits and the
 * round bit lie in the high word and the low word only adds to the sticky bit. */
static inline uint64_t round_sig(u128 sig, bool sticky, unsigned prec, unsigned rc, unsigned sign, bool *inc,
                                 bool *inexact) {
  uint64_t hi = (uint64_t)(sig >> 64), lo = (uint64_t)sig;
  uint64_t keep, rest;    /* rest: the dropped bits of hi, left-aligned */
  if (prec == 64) keep = hi, rest = lo, lo = 0;
  else keep = hi >> (64 - prec), rest = hi << prec;
  bool rbit = rest >> 63;
  bool sbit = sticky || (rest << 1) != 0 || lo != 0;
  bool up;
  switch (rc) {
  case FP82_RN: up = rbit && (sbit || (keep & 1)); break;
  case FP82_RM: up = sign && (rbit || sbit); break;
  case FP82_RP: up = !sign && (rbit || sbit); break;
  default: up = false; break;
  }
  *inc = up;
  *inexact = rbit || sbit;
  return keep + up;     /* may reach 2^prec (2^64 wraps to 0 for prec 64: see callers) */
}

static ia64_fr max_or_inf(unsigned sign, const fp82_env *e) {
  bool inf = e->rc == FP82_RN || (e->rc == FP82_RM && sign) || (e->rc == FP82_RP && !sign);
  if (inf) return fp82_make(sign, FP82_EXP_MAX, FP82_INT_BIT);
  uint64_t sig = ~UINT64_C(0) << (64 - e->prec);
  return fp82_make(sign, (uint32_t)(e->emax + FP82_BIAS), sig);
}

/* The register value of an unbounded result: its exponent wrapped to 17 bits (what a trap
 * handler receives on overflow or underflow). */
static ia64_fr wrapped(unsigned sign, int32_t exp, uint64_t sig) {
  return fp82_make(sign, (uint32_t)(exp + FP82_BIAS) & 0x1ffff, sig);
}

static ia64_fr round_tiny(wide x, fp82_env *e, bool inexact1, bool inc1, uint64_t keep1, int32_t exp1);

/* fp_ieee_round: the wide x to a register value under e. */
static ia64_fr round_wide(wide x, fp82_env *e) {
  if (x.kind == W_ZERO) return fp82_make(x.sign, 0, 0);
  if (x.kind == W_INF) return fp82_make(x.sign, FP82_EXP_MAX, FP82_INT_BIT);
  unsigned p = e->prec;
  bool inc, inexact;
  uint64_t keep = round_sig(x.sig, x.sticky, p, e->rc, x.sign, &inc, &inexact);
  int32_t exp = x.exp;
  if (p == 64 ? keep == 0 : keep >> p) {        /* carried out of the precision */
    keep = p == 64 ? FP82_INT_BIT : keep >> 1;
    exp++;
  }
  uint64_t sig = keep << (64 - p);
  if (exp > e->emax) {                      /* huge */
    e->flags |= FP82_O;
    if (!(e->disabled & FP82_O)) {
      e->traps |= FP82_O;
      e->fpa = inc;
      if (inexact) e->flags |= FP82_I, e->traps |= FP82_I;
      return wrapped(x.sign, exp, sig);
    }
    ia64_fr r = max_or_inf(x.sign, e);
    e->flags |= FP82_I;
    if (!(e->disabled & FP82_I)) e->traps |= FP82_I, e->fpa = fp82_is_inf(r);
    return r;
  }
  if (exp < e->emin) return round_tiny(x, e, inexact, inc, keep, exp);
  if (inexact) {
    e->flags |= FP82_I;
    if (!(e->disabled & FP82_I)) e->traps |= FP82_I, e->fpa = inc;
  }
  return fp82_make(x.sign, (uint32_t)(exp + FP82_BIAS), sig);
}

/* Tiny results: the second rounding, of x denormalized to the minimum exponent. */
static ia64_fr round_tiny(wide x, fp82_env *e, bool inexact1, bool inc1, uint64_t keep1, int32_t exp1) {
  unsigned p = e->prec;
  if (!(e->disabled & FP82_U)) {            /* trap: the unbounded result, wrapped */
    e->flags |= FP82_U;
    e->traps |= FP82_U;
    e->fpa = inc1;
    if (inexact1) e->flags |= FP82_I, e->traps |= FP82_I;
    return wrapped(x.sign, exp1, keep1 << (64 - p));
  }
  int32_t shift = e->emin - x.exp;
  bool sticky = x.sticky;
  u128 sig;
  if (shift >= 128) {
    sticky |= x.sig != 0;
    sig = 0;
  } else {
    sticky |= (x.sig << (128 - shift)) != 0;
    sig = x.sig >> shift;
  }
  bool inc, inexact;
  uint64_t keep = round_sig(sig, sticky, p, e->rc, x.sign, &inc, &inexact);   /* < 2^prec: sig < 2^127 */
  inexact |= inexact1;
  if (inexact) e->flags |= FP82_I | FP82_U;
  if (e->ftz) {
    e->flags |= FP82_I | FP82_U;
    e->fpa = 0;
    if (!(e->disabled & FP82_I)) e->traps |= FP82_I;
    return fp82_make(x.sign, 0, 0);
  }
  if (inexact && !(e->disabled & FP82_I)) e->traps |= FP82_I, e->fpa = inc;
  uint64_t s64 = keep << (64 - p);
  if (s64 == 0) return fp82_make(x.sign, 0, 0);
  uint32_t exp = (uint32_t)(e->emin + FP82_BIAS);
  /* A double-extended denormal is held canonically with exponent 0. */
  if (e->emin == -16382 && !(s64 >> 63)) exp = 0;
  return fp82_make(x.sign, exp, s64);
}

/* ---- Multiply-add ------------------------------------------------------------------------- */

static bool nonzero(ia64_fr f) { return !fp82_is_zero(f); }

/* fma_exception_fault_check: returns true with *def set when the result is decided
 * (a NaN), or when a fault must be taken. */
static bool fma_check(ia64_fr a, ia64_fr b, ia64_fr c, unsigned psign, unsigned csign, fp82_env *e, ia64_fr *def) {
  *def = fp82_make(0, 0, 0);
  if (fp82_is_unsupported(a) || fp82_is_unsupported(b) || fp82_is_unsupported(c)) {
    raise_fault(e, FP82_V);
    *def = fp82_qnan();
    return true;
  }
  if (fp82_is_nan(a) || fp82_is_nan(b) || fp82_is_nan(c)) {
    if (fp82_is_snan(a) || fp82_is_snan(b) || fp82_is_snan(c)) raise_fault(e, FP82_V);
    *def = fp82_quiet(fp82_is_nan(b) ? b : fp82_is_nan(c) ? c : a);
    return true;
  }
  bool pinf = (fp82_is_inf(a) && nonzero(b)) || (nonzero(a) && fp82_is_inf(b));
  if ((pinf && fp82_is_inf(c) && psign != csign) ||
      (fp82_is_inf(a) && fp82_is_zero(b)) || (fp82_is_zero(a) && fp82_is_inf(b))) {
    raise_fault(e, FP82_V);
    *def = fp82_qnan();
    return true;
  }
  if (fp82_is_unorm(a) || fp82_is_unorm(b) || fp82_is_unorm(c)) {
    raise_fault(e, FP82_D);
    if (e->faults) return true;
  }
  return false;
}

static wide product(ia64_fr a, ia64_fr b, unsigned psign) {
  if (fp82_is_zero(a) || fp82_is_zero(b)) return wide_zero(psign);
  if (fp82_is_inf(a) || fp82_is_inf(b)) return wide_inf(psign);
  wide wa = unpack(a), wb = unpack(b);
  if (wa.kind == W_ZERO || wb.kind == W_ZERO) return wide_zero(psign);  /* pseudo-zeros */
  wide p = wide_mul(wa, wb);
  p.sign = psign;
  return p;
}

/* Normal (finite, integer bit set) or a true zero: no check can fire. */
static inline bool plain(ia64_fr f) { return (f.exp - 1u < FP82_EXP_MAX - 1u && (f.sig >> 63)) || (f.exp | f.sig) == 0; }

/* The common case in a 128-bit window: a and b normal, c normal. The product's 128 bits are
 * exact; the addend's 64 lose bits only when the product is more than 64 binades above it,
 * and the product loses its low bits only when it is below the addend: then a jammed sticky
 * bit is exact enough, except for a subtraction with the product exactly one binade below,
 * where cancellation can bring its last bit into play. That case returns false. */
static bool fma_window(ia64_fr a, ia64_fr b, ia64_fr c, unsigned psign, unsigned csign, wide *out) {
  u128 p = (u128)a.sig * b.sig, x = (u128)c.sig << 64;
  int32_t ep = (int32_t)a.exp + (int32_t)b.exp - 2 * FP82_BIAS + 1, ec = (int32_t)c.exp - FP82_BIAS;
  if (!(p >> 127)) p <<= 1, ep--;
  int32_t d = ep - ec;
  bool sub = psign != csign, sticky = false;
  if (sub && d == -1) return false;
  wide r = {.kind = W_FINITE};
  u128 big = p, small = x;
  unsigned sbig = psign;
  int32_t shift = d;
  if (d < 0 || (d == 0 && x > p)) big = x, small = p, sbig = csign, shift = -d, r.exp = ec;
  else r.exp = ep;
  if (shift >= 128) sticky = small != 0, small = 0;
  else if (shift) sticky = (small << (128 - shift)) != 0, small >>= shift;
  u128 s;
  if (!sub) {
    s = big + small;
    if (s < big) {                       /* carry: 129 bits */
      sticky |= s & 1;
      s = s >> 1 | (u128)1 << 127;
      r.exp++;
    }
  } else {
    s = big - small - sticky;            /* the jammed sticky borrows below the window */
    if (s == 0 && !sticky) {
      *out = wide_zero(2);               /* an exact zero: the caller signs it */
      return true;
    }
    int lz = clz128(s);
    s <<= lz;
    r.exp -= lz;
  }
  r.sig = s;
  r.sticky = sticky;
  r.sign = sbig;
  *out = r;
  return true;
}

ia64_fr fp82_fma(ia64_fr a, ia64_fr b, ia64_fr c, bool neg_prod, bool neg_add, bool has_add, fp82_env *e) {
  unsigned psign = (a.sign ^ b.sign ^ neg_prod) & 1, csign = (c.sign ^ neg_add) & 1;
  ia64_fr def;
  if (LIKELY_FP(plain(a) && plain(b) && plain(c))) {
    wide r;
    if (has_add && a.sig && b.sig && c.sig && fma_window(a, b, c, psign, csign, &r)) {
      if (r.kind == W_ZERO) r.sign = e->rc == FP82_RM;
      return round_wide(r, e);
    }
  } else if (fma_check(a, b, c, psign, csign, e, &def)) {
    return def;
  }
  wide r = product(a, b, psign);
  if (has_add) {
    wide wc = unpack(c);
    wc.sign = csign;
    r = add_special(r, wc, e->rc);
  }
  return round_wide(r, e);
}

/* ---- Single-precision halves ---------------------------------------------------------------- */

ia64_fr fp82_from_single(uint32_t v) {
  unsigned sign = v >> 31, exp = (v >> 23) & 0xff;
  uint32_t frac = v & 0x7fffff;
  uint32_t rexp = exp == 0 ? (frac ? FP82_BIAS - 126 : 0) : exp == 0xff ? FP82_EXP_MAX : exp - 127 + FP82_BIAS;
  return fp82_make(sign, rexp, (uint64_t)frac << 40 | (uint64_t)(exp != 0) << 63);
}

uint32_t fp82_to_single(ia64_fr f) {
  uint32_t exp;
  if (f.exp == 0 || !(f.sig >> 63)) exp = 0;
  else if (f.exp == FP82_EXP_MAX) exp = 0xff;
  else exp = ((f.exp >> 16) & 1) << 7 | (f.exp & 0x7f);
  return (uint32_t)(f.sign & 1) << 31 | exp << 23 | (uint32_t)((f.sig << 1) >> 41);
}

/* The single bits of a trap-enabled overflow/underflow result: the wrapped exponent
 * re-biased as is (fr_to_mem4_bias_adjust). */
static uint32_t to_single_adjusted(ia64_fr f) {
  uint32_t exp;
  if (f.exp == 0) exp = 0;
  else if (f.exp == FP82_EXP_MAX) exp = 0xff;
  else exp = (uint32_t)((int32_t)f.exp - FP82_BIAS + 127 - !(f.sig >> 63)) & 0xff;
  return (uint32_t)(f.sign & 1) << 31 | exp << 23 | (uint32_t)((f.sig << 1) >> 41);
}

uint32_t fp82_fma_single(uint32_t a, uint32_t b, uint32_t c, bool neg_prod, bool neg_add, bool has_add, fp82_env *e) {
  ia64_fr r = fp82_fma(fp82_from_single(a), fp82_from_single(b), fp82_from_single(c), neg_prod, neg_add, has_add, e);
  return e->traps & (FP82_O | FP82_U) ? to_single_adjusted(r) : fp82_to_single(r);
}

/* ---- Normalization in register format (fp_normalize) ----------------------------------------- */

static ia64_fr reg_read(ia64_fr f) {
  if (f.exp == 0 && f.sig) f.exp = 0xc001;
  return f;
}

static ia64_fr reg_normalize(ia64_fr f) {
  f = reg_read(f);
  if (f.exp == FP82_EXP_MAX || fp82_is_normal(f) || fp82_is_zero(f) || fp82_is_natval(f)) return f;
  if (f.sig == 0) {
    f.exp = 0;
    return f;
  }
  int lz = __builtin_clzll(f.sig);
  if (f.exp == 1) return f;
  if ((int32_t)f.exp - lz <= 0) {
    f.sig <<= f.exp - 1;
    f.exp = 1;
    return f;
  }
  f.exp -= (uint32_t)lz;
  f.sig <<= lz;
  return f;
}

/* ---- Division and square root for the software-assisted cases -------------------------------- */

static wide wide_div(wide a, wide b) {
  uint64_t A = (uint64_t)(a.sig >> 64), B = (uint64_t)(b.sig >> 64);
  wide r = {.sign = a.sign ^ b.sign, .kind = W_FINITE};
  u128 n;
  if (A >= B) {
    n = (u128)A << 63;
    r.exp = a.exp - b.exp;
  } else {
    n = (u128)A << 64;
    r.exp = a.exp - b.exp - 1;
  }
  u128 q1 = n / B, r1 = n % B;
  u128 n2 = r1 << 64;
  u128 q2 = n2 / B, r2 = n2 % B;
  r.sig = q1 << 64 | q2;
  r.sticky = r2 != 0;
  return r;
}

/* 128x128 -> 256 multiply. */
static u256 mul128(u128 a, u128 b) {
  u128 a0 = (uint64_t)a, a1 = a >> 64, b0 = (uint64_t)b, b1 = b >> 64;
  u128 p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  u128 mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10;
  u256 r;
  r.lo = (mid << 64) | (uint64_t)p00;
  r.hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
  return r;
}

static bool le256(u256 a, u256 b) { return a.hi < b.hi || (a.hi == b.hi && a.lo <= b.lo); }

/* Square root of a finite positive wide from a register value, with a sticky bit. */
static wide wide_sqrt(wide x) {
  uint64_t S = (uint64_t)(x.sig >> 64);       /* value = S * 2^(x.exp - 63) */
  int32_t k = x.exp - 63;
  u128 m = S;
  if (k & 1) {
    m <<= 1;
    k -= 1;
  }
  /* root of m * 2^190: about 2^127.5, computed bit by bit. */
  u256 rad = {m << 62, 0};                    /* m << 190 */
  u128 q = 0;
  for (int i = 127; i >= 0; i--) {
    u128 t = q | ((u128)1 << i);
    if (le256(mul128(t, t), rad)) q = t;
  }
  u256 sq = mul128(q, q);
  wide r = {.sign = 0, .kind = W_FINITE};
  int lz = clz128(q);
  r.sig = q << lz;
  r.exp = k / 2 - 95 + 127 - lz;
  r.sticky = sq.hi != rad.hi || sq.lo != rad.lo;
  return r;
}

/* ---- Reciprocal approximations ------------------------------------------------------------------ */

ia64_fr fp82_recip_approx(ia64_fr den) {
  unsigned idx = (unsigned)(den.sig >> 55) & 0xff;
  return fp82_make(den.sign, (uint32_t)(FP82_EXP_MAX - 2 - (int32_t)den.exp),
                   FP82_INT_BIT | (uint64_t)recip_table[idx] << 53);
}

ia64_fr fp82_rsqrt_approx(ia64_fr root) {
  unsigned idx = (root.exp & 1) << 7 | ((unsigned)(root.sig >> 56) & 0x7f);
  int32_t half = ((int32_t)root.exp - FP82_BIAS) >> 1;   /* arithmetic shift: floor */
  return fp82_make(0, (uint32_t)(FP82_BIAS - 1 - half), FP82_INT_BIT | (uint64_t)rsqrt_table[idx] << 53);
}

static bool zeroish(ia64_fr f) { return fp82_is_zero(f) || fp82_is_pseudo_zero(f); }

ia64_fr fp82_frcpa(ia64_fr a, ia64_fr b, unsigned *pred, fp82_env *e) {
  ia64_fr def = fp82_make(0, 0, 0);
  bool have_def = false;
  *pred = 0;
  if (fp82_is_unsupported(a) || fp82_is_unsupported(b)) {
    raise_fault(e, FP82_V);
    def = fp82_qnan(), have_def = true;
  } else if (fp82_is_nan(a) || fp82_is_nan(b)) {
    if (fp82_is_snan(a) || fp82_is_snan(b)) raise_fault(e, FP82_V);
    def = fp82_quiet(fp82_is_nan(a) ? a : b), have_def = true;
  } else if ((fp82_is_inf(a) && fp82_is_inf(b)) || (zeroish(a) && zeroish(b))) {
    raise_fault(e, FP82_V);
    def = fp82_qnan(), have_def = true;
  } else if ((fp82_is_normal(a) || (fp82_is_unorm(a) && !fp82_is_pseudo_zero(a))) && zeroish(b)) {
    raise_fault(e, FP82_Z);
    def = fp82_make(a.sign ^ b.sign, FP82_EXP_MAX, FP82_INT_BIT), have_def = true;
  } else if (fp82_is_unorm(a) || fp82_is_unorm(b)) {
    raise_fault(e, FP82_D);
  }
  if (e->faults) return def;
  if (have_def) return def;
  ia64_fr num = reg_normalize(a), den = reg_normalize(b);
  if (!zeroish(a) && fp82_is_finite(a) && !zeroish(b) && fp82_is_finite(b)) {
    int32_t est = (int32_t)num.exp - (int32_t)den.exp;
    if (fp82_is_unorm(den) || den.exp >= 2 * FP82_BIAS - 2 || est >= FP82_BIAS || est <= 2 - FP82_BIAS ||
        num.exp <= 64) {
      /* Software assistance: the IEEE quotient, and no approximation. */
      return round_wide(wide_div(unpack(a), unpack(b)), e);
    }
  }
  unsigned sign = a.sign ^ b.sign;
  if (fp82_is_inf(num) && fp82_is_finite(den)) return fp82_make(sign, FP82_EXP_MAX, FP82_INT_BIT);
  if (fp82_is_finite(num) && fp82_is_inf(den)) return fp82_make(sign, 0, 0);
  if (fp82_is_zero(num) && fp82_is_finite(den)) return fp82_make(sign, 0, 0);
  *pred = 1;
  return fp82_recip_approx(den);
}

ia64_fr fp82_frsqrta(ia64_fr b, unsigned *pred, fp82_env *e) {
  ia64_fr def = fp82_make(0, 0, 0);
  bool have_def = false;
  *pred = 0;
  if (fp82_is_unsupported(b)) {
    raise_fault(e, FP82_V);
    def = fp82_qnan(), have_def = true;
  } else if (fp82_is_nan(b)) {
    if (fp82_is_snan(b)) raise_fault(e, FP82_V);
    def = fp82_quiet(b), have_def = true;
  } else if (b.sign && !fp82_is_zero(b) && !fp82_is_pseudo_zero(b)) {   /* negative, -inf too */
    raise_fault(e, FP82_V);
    def = fp82_qnan(), have_def = true;
  } else if (fp82_is_unorm(b)) {
    raise_fault(e, FP82_D);
  }
  if (e->faults || have_def) return def;
  ia64_fr n = reg_normalize(b);
  if (!b.sign && !zeroish(b) && fp82_is_finite(b) && n.exp <= 64) {
    /* Software assistance: the IEEE square root, and no approximation. */
    return round_wide(wide_sqrt(unpack(b)), e);
  }
  if (fp82_is_zero(n)) return n;
  if (fp82_is_inf(n)) return n;
  *pred = 1;
  return fp82_rsqrt_approx(n);
}

uint32_t fp82_fprcpa_half(uint32_t av, uint32_t bv, unsigned *pred, fp82_env *e) {
  ia64_fr a = fp82_from_single(av), b = fp82_from_single(bv);
  ia64_fr def = fp82_make(0, 0, 0);
  bool have_def = false, lim_den = false, lim_quot = false;
  *pred = 0;
  if (fp82_is_nan(a) || fp82_is_nan(b)) {
    if (fp82_is_snan(a) || fp82_is_snan(b)) raise_fault(e, FP82_V);
    def = fp82_quiet(fp82_is_nan(a) ? a : b), have_def = true;
  } else if ((fp82_is_inf(a) && fp82_is_inf(b)) || (fp82_is_zero(a) && fp82_is_zero(b))) {
    raise_fault(e, FP82_V);
    def = fp82_qnan(), have_def = true;
  } else if (!fp82_is_inf(a) && !fp82_is_zero(a) && fp82_is_zero(b)) {
    raise_fault(e, FP82_Z);
    def = fp82_make(a.sign ^ b.sign, FP82_EXP_MAX, FP82_INT_BIT), have_def = true;
  } else if (fp82_is_unorm(a) || fp82_is_unorm(b)) {
    raise_fault(e, FP82_D);
  }
  if (!fp82_is_zero(a) && fp82_is_finite(a) && !fp82_is_zero(b) && fp82_is_finite(b)) {
    ia64_fr na = reg_normalize(a), nb = b;
    if (fp82_is_unorm(b)) {            /* its reciprocal is not a single */
      lim_den = true;
      def = fp82_make(b.sign, FP82_EXP_MAX, FP82_INT_BIT);
      nb = reg_normalize(b);
    } else if (b.exp >= FP82_BIAS + 127 - 2) {
      lim_den = true;
      def = fp82_make(b.sign, 0, 0);
    }
    int32_t est = (int32_t)na.exp - (int32_t)nb.exp;
    if (est >= 127 || est <= 2 - 127 || na.exp <= 24 + FP82_BIAS - 127) lim_quot = true;
  }
  if (e->faults) return 0;
  if (have_def || lim_den) return fp82_to_single(def);
  ia64_fr num = reg_normalize(a), den = reg_normalize(b), r;
  unsigned sign = a.sign ^ b.sign;
  if (fp82_is_inf(num) && fp82_is_finite(den)) r = fp82_make(sign, FP82_EXP_MAX, FP82_INT_BIT);
  else if (fp82_is_finite(num) && fp82_is_inf(den)) r = fp82_make(sign, 0, 0);
  else if (fp82_is_zero(num) && fp82_is_finite(den)) r = fp82_make(sign, 0, 0);
  else {
    r = fp82_recip_approx(den);
    *pred = !lim_quot;
  }
  return fp82_to_single(r);
}

uint32_t fp82_fprsqrta_half(uint32_t bv, unsigned *pred, fp82_env *e) {
  ia64_fr b = fp82_from_single(bv), def = fp82_make(0, 0, 0);
  bool have_def = false, limit = false;
  *pred = 0;
  if (fp82_is_nan(b)) {
    if (fp82_is_snan(b)) raise_fault(e, FP82_V);
    def = fp82_quiet(b), have_def = true;
  } else if (b.sign && !fp82_is_zero(b)) {
    raise_fault(e, FP82_V);
    def = fp82_qnan(), have_def = true;
  } else if (fp82_is_unorm(b)) {
    raise_fault(e, FP82_D);
  }
  if (!b.sign && !fp82_is_zero(b) && fp82_is_finite(b)) limit = reg_normalize(b).exp <= FP82_BIAS - 127 + 24;
  if (e->faults) return 0;
  if (have_def) return fp82_to_single(def);
  ia64_fr n = reg_normalize(b), r;
  if (fp82_is_zero(n)) r = fp82_make(n.sign, FP82_EXP_MAX, FP82_INT_BIT);
  else if (fp82_is_inf(n)) r = fp82_make(0, 0, 0);
  else {
    r = fp82_rsqrt_approx(n);
    *pred = !limit;
  }
  return fp82_to_single(r);
}

/* ---- Compare, min/max, class ---------------------------------------------------------------------- */

/* -1, 0, 1 for ordered non-NaN register values (zeros of either sign equal). */
static int cmp_values(ia64_fr a, ia64_fr b) {
  wide x = unpack(a), y = unpack(b);
  bool xz = x.kind == W_ZERO, yz = y.kind == W_ZERO;
  if (xz && yz) return 0;
  int sx = xz ? 0 : x.sign ? -1 : 1, sy = yz ? 0 : y.sign ? -1 : 1;
  if (sx != sy) return sx < sy ? -1 : 1;
  /* same sign, both non-zero */
  int mag;
  if (x.kind == W_INF || y.kind == W_INF) mag = (x.kind == W_INF) - (y.kind == W_INF);
  else if (x.exp != y.exp) mag = x.exp < y.exp ? -1 : 1;
  else mag = x.sig < y.sig ? -1 : x.sig > y.sig;
  return sx < 0 ? -mag : mag;
}

static bool unordered(ia64_fr a, ia64_fr b) {
  return fp82_is_nan(a) || fp82_is_nan(b) || fp82_is_unsupported(a) || fp82_is_unsupported(b);
}

static bool less_than(ia64_fr a, ia64_fr b) { return !unordered(a, b) && cmp_values(a, b) < 0; }

static bool relation(ia64_fr a, ia64_fr b, unsigned rel) {
  if (unordered(a, b)) return rel == FP82_UNORD;
  int c = cmp_values(a, b);
  switch (rel) {
  case FP82_EQ: return c == 0;
  case FP82_LT: return c < 0;
  case FP82_LE: return c <= 0;
  default: return false;
  }
}

bool fp82_compare(ia64_fr a, ia64_fr b, unsigned rel, fp82_env *e) {
  if (fp82_is_unsupported(a) || fp82_is_unsupported(b)) raise_fault(e, FP82_V);
  else if (fp82_is_nan(a) || fp82_is_nan(b)) {
    if (fp82_is_snan(a) || fp82_is_snan(b) || rel == FP82_LT || rel == FP82_LE) raise_fault(e, FP82_V);
  } else if (fp82_is_unorm(a) || fp82_is_unorm(b)) raise_fault(e, FP82_D);
  return relation(a, b, rel);
}

bool fp82_compare_single(uint32_t av, uint32_t bv, unsigned rel, fp82_env *e) {
  return fp82_compare(fp82_from_single(av), fp82_from_single(bv), rel, e);
}

static ia64_fr fp_abs(ia64_fr f) { f.sign = 0; return f; }

bool fp82_minmax(ia64_fr a, ia64_fr b, unsigned kind, fp82_env *e) {
  if (fp82_is_unsupported(a) || fp82_is_unsupported(b) || fp82_is_nan(a) || fp82_is_nan(b)) raise_fault(e, FP82_V);
  else if (fp82_is_unorm(a) || fp82_is_unorm(b)) raise_fault(e, FP82_D);
  switch (kind) {
  case FP82_MIN: return less_than(a, b);
  case FP82_MAX: return less_than(b, a);
  case FP82_AMIN: return less_than(fp_abs(a), fp_abs(b));
  default: return less_than(fp_abs(b), fp_abs(a));
  }
}

bool fp82_minmax_single(uint32_t av, uint32_t bv, unsigned kind, fp82_env *e) {
  return fp82_minmax(fp82_from_single(av), fp82_from_single(bv), kind, e);
}

bool fp82_class(ia64_fr f, unsigned m) {
  bool sign_ok = ((m & 1) && !f.sign) || ((m & 2) && f.sign);
  bool type_ok = ((m & 4) && fp82_is_zero(f)) || ((m & 8) && fp82_is_unorm(f)) ||
                 ((m & 16) && fp82_is_normal(f)) || ((m & 32) && fp82_is_inf(f));
  return (sign_ok && type_ok) || ((m & 64) && fp82_is_snan(f)) || ((m & 128) && fp82_is_qnan(f)) ||
         ((m & 256) && fp82_is_natval(f));
}

/* ---- Conversions to and from integers ---------------------------------------------------------- */

/* fp_ieee_rnd_to_int then the range check: the magnitude, or false when out of range. */
static bool rnd_to_int(ia64_fr f, bool is_signed, unsigned bits, unsigned rc, uint64_t *out, fp82_env *e) {
  wide w = unpack(reg_read(f));
  if (w.kind == W_ZERO) {
    *out = 0;
    return true;
  }
  u128 mag;
  bool inc = false, inexact = false;
  if (w.exp >= (int32_t)bits) return false;
  if (w.exp >= 0) {
    int shift = 127 - w.exp;                  /* >= 128 - bits */
    u128 ipart = w.sig >> shift;
    bool rbit = (w.sig >> (shift - 1)) & 1;
    bool sbit = (w.sig & (((u128)1 << (shift - 1)) - 1)) != 0;
    inexact = rbit || sbit;
    switch (rc) {
    case FP82_RN: inc = rbit && (sbit || (ipart & 1)); break;
    case FP82_RM: inc = w.sign && inexact; break;
    case FP82_RP: inc = !w.sign && inexact; break;
    default: break;
    }
    mag = ipart + inc;
  } else {
    bool rbit = w.exp == -1, sbit = w.exp < -1 || (w.sig << 1) != 0;
    inexact = true;
    switch (rc) {
    case FP82_RN: inc = rbit && sbit; break;
    case FP82_RM: inc = w.sign; break;
    case FP82_RP: inc = !w.sign; break;
    default: break;
    }
    mag = inc;
  }
  u128 lim = (u128)1 << (bits - 1);
  if (is_signed ? (w.sign ? mag > lim : mag >= lim) : (w.sign ? mag != 0 : mag >= (lim << 1))) return false;
  if (inexact) {
    e->flags |= FP82_I;
    if (!(e->disabled & FP82_I)) e->traps |= FP82_I, e->fpa = inc;
  }
  *out = w.sign ? (uint64_t)-(uint64_t)mag : (uint64_t)mag;
  return true;
}

static unsigned int_rc(const fp82_env *e, bool trunc) { return trunc ? FP82_RZ : e->rc; }

uint64_t fp82_to_int(ia64_fr f, bool is_signed, bool trunc, fp82_env *e) {
  const uint64_t indefinite = UINT64_C(1) << 63;
  if (fp82_is_unsupported(f) || fp82_is_nan(f)) {
    raise_fault(e, FP82_V);
    return indefinite;
  }
  if (fp82_is_inf(f)) {
    raise_fault(e, FP82_V);
    return indefinite;
  }
  fp82_env probe = *e;                        /* the range check rounds without flags */
  uint64_t v;
  if (!rnd_to_int(f, is_signed, 64, int_rc(e, trunc), &v, &probe)) {
    raise_fault(e, FP82_V);
    return indefinite;
  }
  if (fp82_is_unorm(f)) {
    raise_fault(e, FP82_D);
    if (e->faults) return 0;
  }
  rnd_to_int(f, is_signed, 64, int_rc(e, trunc), &v, e);
  return v;
}

uint32_t fp82_to_int_single(uint32_t bits, bool is_signed, bool trunc, fp82_env *e) {
  ia64_fr f = fp82_from_single(bits);
  if (fp82_is_nan(f) || fp82_is_inf(f)) {
    raise_fault(e, FP82_V);
    return UINT32_C(1) << 31;
  }
  fp82_env probe = *e;
  uint64_t v;
  if (!rnd_to_int(f, is_signed, 32, int_rc(e, trunc), &v, &probe)) {
    raise_fault(e, FP82_V);
    return UINT32_C(1) << 31;
  }
  if (fp82_is_unorm(f)) {
    raise_fault(e, FP82_D);
    if (e->faults) return 0;
  }
  rnd_to_int(f, is_signed, 32, int_rc(e, trunc), &v, e);
  return (uint32_t)v;
}

ia64_fr fp82_from_int(uint64_t v) {
  if (v == 0) return fp82_make(0, 0, 0);
  unsigned sign = (unsigned)(v >> 63);
  uint64_t mag = sign ? -v : v;
  int lz = __builtin_clzll(mag);
  return fp82_make(sign, (uint32_t)(FP82_EXP_INT - lz), mag << lz);
}

/* ---- Memory formats -------------------------------------------------------------------------------- */

ia64_fr fp82_from_double(uint64_t v) {
  unsigned sign = (unsigned)(v >> 63), exp = (unsigned)(v >> 52) & 0x7ff;
  uint64_t frac = v & ((UINT64_C(1) << 52) - 1);
  uint32_t rexp = exp == 0 ? (frac ? FP82_BIAS - 1022 : 0) : exp == 0x7ff ? FP82_EXP_MAX : exp - 1023 + FP82_BIAS;
  return fp82_make(sign, rexp, frac << 11 | (uint64_t)(exp != 0) << 63);
}

uint64_t fp82_to_double(ia64_fr f) {
  uint64_t exp;
  if (f.exp == 0 || !(f.sig >> 63)) exp = 0;
  else if (f.exp == FP82_EXP_MAX) exp = 0x7ff;
  else exp = (uint64_t)((f.exp >> 16) & 1) << 10 | (f.exp & 0x3ff);
  return (uint64_t)(f.sign & 1) << 63 | exp << 52 | (f.sig << 1) >> 12;
}

ia64_fr fp82_from_ext(const uint8_t m[10]) {
  uint64_t sig;
  memcpy(&sig, m, 8);
  unsigned se = (unsigned)m[8] | (unsigned)m[9] << 8;
  unsigned exp = se & 0x7fff;
  uint32_t rexp = exp == 0 ? 0 : exp == 0x7fff ? FP82_EXP_MAX : exp - 16383 + FP82_BIAS;
  return fp82_make(se >> 15, rexp, sig);
}

void fp82_to_ext(ia64_fr f, uint8_t m[10]) {
  unsigned exp;
  if (f.exp == 0) exp = 0;
  else if (f.exp == FP82_EXP_MAX) exp = 0x7fff;
  else exp = ((f.exp >> 16) & 1) << 14 | (f.exp & 0x3fff);
  unsigned se = (f.sign & 1) << 15 | exp;
  memcpy(m, &f.sig, 8);
  m[8] = (uint8_t)se;
  m[9] = (uint8_t)(se >> 8);
}

ia64_fr fp82_from_spill(const uint8_t m[16]) {
  uint64_t sig, hi;
  memcpy(&sig, m, 8);
  memcpy(&hi, m + 8, 8);
  return fp82_make((unsigned)(hi >> 17) & 1, (uint32_t)hi & 0x1ffff, sig);
}

void fp82_to_spill(ia64_fr f, uint8_t m[16]) {
  uint64_t hi = (uint64_t)(f.sign & 1) << 17 | (f.exp & 0x1ffff);
  memcpy(m, &f.sig, 8);
  memcpy(m + 8, &hi, 8);
}
