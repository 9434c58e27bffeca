/* tab_mm.c — the multimedia (parallel integer) family: a 64-bit GR seen as 8 bytes, 4
 * halfwords or 2 words, operated on lane by lane.
 *
 *   A9   padd/psub (modulo, .sss .uus .uuu), pavg[.raz], pavgsub, pcmp.eq/.gt
 *   A10  pshladd2, pshradd2
 *   I1   pmpyshr2[.u]          I2  pmpy2, mix, pack, unpack, pmin/pmax, psad1
 *   I3   mux1 @brcst/@mix/@shuf/@alt/@rev      I4  mux2 with its 8-bit selector
 *   I5/I6 pshr2/pshr4[.u] by GR or count5     I7/I8 pshl2/pshl4 by GR or count5
 * The scalar forms that share I5/I7 (shl, shr, shr.u: za = zb = 1) and popcnt belong to
 * tab_alu.c; every mask here holds za/zb, so only the parallel forms are selected.
 *
 * Two reserved encodings have rows of their own so that they print as objdump prints them
 * while executing as Illegal Operation: mux1 with an unnamed mbtype, and pshladd2/pshradd2
 * with count 4.
 *
 * Semantics follow the pseudo-code of the Itanium SDM vol. 3 (lane i of GR r2 is x[i], of
 * GR r3 y[i]). None of these instructions faults on a NaT source: the result's NaT is the OR
 * of the sources' NaTs, and the value is computed all the same.
 *
 * Most lane operations share one always-inline kernel (mm_bin) that the executors call with
 * a constant width and operation, so each executor compiles to straight-line lane code. */
#include "internal.h"

/* ---- Operand kinds ---------------------------------------------------------------------- */

/* pshladd2/pshradd2 count2: ct2d (28:27) + 1 (4 is reserved). */
static int64_t x_cnt2b(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 28, 27) + 1; }
/* pmpyshr2 count2: ct2d (31:30) selects 0, 7, 15 or 16. */
static int64_t x_cnt2c(uint64_t s, uint64_t l) {
  static const int8_t counts[4] = {0, 7, 15, 16};
  (void)l;
  return counts[ia64_field(s, 31, 30)];
}
static int64_t x_mbt4(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 23, 20); }
static int64_t x_mht8(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 27, 20); }
/* pshr immediate count5b (18:14). */
static int64_t x_cnt5(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 18, 14); }
/* pshl immediate: the field holds 31 - count (ccount5c, 24:20). */
static int64_t x_ccnt5(uint64_t s, uint64_t l) { (void)l; return 31 - (int64_t)ia64_field(s, 24, 20); }

const ia64_opnd_kind ia64_opnds_mm[] = {
  {"mm_cnt2b", IA64_OD_IMM, IA64_OS_DEC, 0, x_cnt2b, NULL},
  {"mm_cnt2c", IA64_OD_IMM, IA64_OS_DEC, 0, x_cnt2c, NULL},
  {"mm_mbt4", IA64_OD_IMM, IA64_OS_HEX, 0, x_mbt4, NULL},   /* a reserved mux1 type */
  {"mm_mht8", IA64_OD_IMM, IA64_OS_HEX, 0, x_mht8, NULL},
  {"mm_cnt5", IA64_OD_IMM, IA64_OS_DEC, 0, x_cnt5, NULL},
  {"mm_ccnt5", IA64_OD_IMM, IA64_OS_DEC, 0, x_ccnt5, NULL},
  {0},
};

/* ---- Lane kernel ------------------------------------------------------------------------- */

#define MM_INLINE static inline __attribute__((always_inline))

enum mm_kind {
  MM_ADD, MM_ADD_SSS, MM_ADD_UUS, MM_ADD_UUU,
  MM_SUB, MM_SUB_SSS, MM_SUB_UUS, MM_SUB_UUU,
  MM_AVG, MM_AVG_RAZ, MM_AVGSUB, MM_CMPEQ, MM_CMPGT,
  MM_MIN_U, MM_MAX_U, MM_MIN_S, MM_MAX_S,
  MM_SHLADD, MM_SHRADD, MM_MPYSHR, MM_MPYSHR_U,
};

MM_INLINE uint64_t mm_mask(unsigned w) { return w >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << w) - 1; }

MM_INLINE int64_t mm_sat(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* One lane of width w: x, y zero-extended lane values, n the instruction's count. */
MM_INLINE uint64_t mm_lane(enum mm_kind k, unsigned w, uint64_t x, uint64_t y, unsigned n) {
  const int64_t sx = ia64_sext(x, w), sy = ia64_sext(y, w);
  const int64_t smax = (int64_t)(mm_mask(w) >> 1), smin = -smax - 1, umax = (int64_t)mm_mask(w);
  const int64_t ix = (int64_t)x, iy = (int64_t)y;
  int64_t t;
  switch (k) {
  case MM_ADD: return x + y;
  case MM_ADD_SSS: return (uint64_t)mm_sat(sx + sy, smin, smax);
  case MM_ADD_UUS: return (uint64_t)mm_sat(ix + sy, 0, umax);
  case MM_ADD_UUU: return (uint64_t)mm_sat(ix + iy, 0, umax);
  case MM_SUB: return x - y;
  case MM_SUB_SSS: return (uint64_t)mm_sat(sx - sy, smin, smax);
  case MM_SUB_UUS: return (uint64_t)mm_sat(ix - sy, 0, umax);
  case MM_SUB_UUU: return (uint64_t)mm_sat(ix - iy, 0, umax);
  /* The w+1-bit sum (or difference, with the borrow on top) shifted right by one; the
   * normal form ORs the bit shifted out into the result's low bit. */
  case MM_AVG: t = ix + iy; return (uint64_t)((t >> 1) | (t & 1));
  case MM_AVG_RAZ: return (uint64_t)((ix + iy + 1) >> 1);
  case MM_AVGSUB: t = ix - iy; return (uint64_t)((t >> 1) | (t & 1));
  case MM_CMPEQ: return x == y ? (uint64_t)umax : 0;
  case MM_CMPGT: return sx > sy ? (uint64_t)umax : 0;
  case MM_MIN_U: return x < y ? x : y;
  case MM_MAX_U: return x > y ? x : y;
  case MM_MIN_S: return sx < sy ? x : y;
  case MM_MAX_S: return sx > sy ? x : y;
  /* The shifted value saturates first, then the sum does. */
  case MM_SHLADD:
    t = sx * ((int64_t)1 << n);
    if (t > smax || t < smin) return (uint64_t)mm_sat(t, smin, smax);
    return (uint64_t)mm_sat(t + sy, smin, smax);
  case MM_SHRADD: return (uint64_t)mm_sat((sx >> n) + sy, smin, smax);
  case MM_MPYSHR: return (uint64_t)((sx * sy) >> n);
  case MM_MPYSHR_U: return (x * y) >> n;
  }
  return 0;
}

/* r1 = op(r2, r3) lane by lane; op->r = {r1, r2, r3}, op->imm = the count if any. */
MM_INLINE int mm_bin(ia64_cpu *c, const ia64_op *op, unsigned w, enum mm_kind k) {
  const uint64_t a = ia64_rd(c, op->r[1]), b = ia64_rd(c, op->r[2]), m = mm_mask(w);
  const unsigned n = (unsigned)op->imm;
  uint64_t r = 0;
  for (unsigned i = 0; i < 64; i += w) r |= (mm_lane(k, w, a >> i & m, b >> i & m, n) & m) << i;
  ia64_wr(c, op->r[0], r, ia64_rnat(c, op->r[1]) | ia64_rnat(c, op->r[2]));
  return IA64_NEXT;
}

#define MM_BIN(name, w, k) \
  static int name(ia64_cpu *c, const ia64_op *op) { return mm_bin(c, op, w, k); }

MM_BIN(x_padd1, 8, MM_ADD)
MM_BIN(x_padd2, 16, MM_ADD)
MM_BIN(x_padd4, 32, MM_ADD)
MM_BIN(x_padd1_sss, 8, MM_ADD_SSS)
MM_BIN(x_padd2_sss, 16, MM_ADD_SSS)
MM_BIN(x_padd1_uus, 8, MM_ADD_UUS)
MM_BIN(x_padd2_uus, 16, MM_ADD_UUS)
MM_BIN(x_padd1_uuu, 8, MM_ADD_UUU)
MM_BIN(x_padd2_uuu, 16, MM_ADD_UUU)
MM_BIN(x_psub1, 8, MM_SUB)
MM_BIN(x_psub2, 16, MM_SUB)
MM_BIN(x_psub4, 32, MM_SUB)
MM_BIN(x_psub1_sss, 8, MM_SUB_SSS)
MM_BIN(x_psub2_sss, 16, MM_SUB_SSS)
MM_BIN(x_psub1_uus, 8, MM_SUB_UUS)
MM_BIN(x_psub2_uus, 16, MM_SUB_UUS)
MM_BIN(x_psub1_uuu, 8, MM_SUB_UUU)
MM_BIN(x_psub2_uuu, 16, MM_SUB_UUU)
MM_BIN(x_pavg1, 8, MM_AVG)
MM_BIN(x_pavg2, 16, MM_AVG)
MM_BIN(x_pavg1_raz, 8, MM_AVG_RAZ)
MM_BIN(x_pavg2_raz, 16, MM_AVG_RAZ)
MM_BIN(x_pavgsub1, 8, MM_AVGSUB)
MM_BIN(x_pavgsub2, 16, MM_AVGSUB)
MM_BIN(x_pcmp1_eq, 8, MM_CMPEQ)
MM_BIN(x_pcmp2_eq, 16, MM_CMPEQ)
MM_BIN(x_pcmp4_eq, 32, MM_CMPEQ)
MM_BIN(x_pcmp1_gt, 8, MM_CMPGT)
MM_BIN(x_pcmp2_gt, 16, MM_CMPGT)
MM_BIN(x_pcmp4_gt, 32, MM_CMPGT)
MM_BIN(x_pmin1_u, 8, MM_MIN_U)
MM_BIN(x_pmax1_u, 8, MM_MAX_U)
MM_BIN(x_pmin2, 16, MM_MIN_S)
MM_BIN(x_pmax2, 16, MM_MAX_S)
MM_BIN(x_pshladd2, 16, MM_SHLADD)
MM_BIN(x_pshradd2, 16, MM_SHRADD)
MM_BIN(x_pmpyshr2, 16, MM_MPYSHR)
MM_BIN(x_pmpyshr2_u, 16, MM_MPYSHR_U)

/* ---- Rearrangements ------------------------------------------------------------------------ */

/* Lane i (width w) of v. */
MM_INLINE uint64_t mm_get(uint64_t v, unsigned w, unsigned i) { return v >> (i * w) & mm_mask(w); }

/* mix: the left (odd, arg = 1) or right (even, arg = 0) lane of each pair, from r2 in the
 * upper and r3 in the lower half of each result pair. */
MM_INLINE int mm_mix(ia64_cpu *c, const ia64_op *op, unsigned w) {
  const uint64_t x = ia64_rd(c, op->r[1]), y = ia64_rd(c, op->r[2]);
  uint64_t r = 0;
  for (unsigned i = (unsigned)op->arg; i < 64 / w; i += 2)
    r |= mm_get(x, w, i) << ((i | 1) * w) | mm_get(y, w, i) << ((i & ~1u) * w);
  ia64_wr(c, op->r[0], r, ia64_rnat(c, op->r[1]) | ia64_rnat(c, op->r[2]));
  return IA64_NEXT;
}
static int x_mix1(ia64_cpu *c, const ia64_op *op) { return mm_mix(c, op, 8); }
static int x_mix2(ia64_cpu *c, const ia64_op *op) { return mm_mix(c, op, 16); }
static int x_mix4(ia64_cpu *c, const ia64_op *op) { return mm_mix(c, op, 32); }

/* unpack: interleave the high (arg = 1) or low (arg = 0) halves, r2's lane above r3's. */
MM_INLINE int mm_unpack(ia64_cpu *c, const ia64_op *op, unsigned w) {
  const uint64_t x = ia64_rd(c, op->r[1]), y = ia64_rd(c, op->r[2]);
  const unsigned half = 32 / w, base = op->arg ? half : 0;
  uint64_t r = 0;
  for (unsigned i = 0; i < half; i++)
    r |= mm_get(x, w, base + i) << ((2 * i + 1) * w) | mm_get(y, w, base + i) << (2 * i * w);
  ia64_wr(c, op->r[0], r, ia64_rnat(c, op->r[1]) | ia64_rnat(c, op->r[2]));
  return IA64_NEXT;
}
static int x_unpack1(ia64_cpu *c, const ia64_op *op) { return mm_unpack(c, op, 8); }
static int x_unpack2(ia64_cpu *c, const ia64_op *op) { return mm_unpack(c, op, 16); }
static int x_unpack4(ia64_cpu *c, const ia64_op *op) { return mm_unpack(c, op, 32); }

/* pack: signed source lanes of width 2w narrowed to w with saturation into [lo, hi];
 * r2's lanes fill the low half of r1, r3's the high half. */
MM_INLINE int mm_pack(ia64_cpu *c, const ia64_op *op, unsigned w, int64_t lo, int64_t hi) {
  const uint64_t x = ia64_rd(c, op->r[1]), y = ia64_rd(c, op->r[2]);
  const unsigned n = 32 / w;
  uint64_t r = 0;
  for (unsigned i = 0; i < n; i++) {
    r |= ((uint64_t)mm_sat(ia64_sext(mm_get(x, 2 * w, i), 2 * w), lo, hi) & mm_mask(w)) << (i * w);
    r |= ((uint64_t)mm_sat(ia64_sext(mm_get(y, 2 * w, i), 2 * w), lo, hi) & mm_mask(w)) << ((i + n) * w);
  }
  ia64_wr(c, op->r[0], r, ia64_rnat(c, op->r[1]) | ia64_rnat(c, op->r[2]));
  return IA64_NEXT;
}
static int x_pack2_sss(ia64_cpu *c, const ia64_op *op) { return mm_pack(c, op, 8, -128, 127); }
static int x_pack2_uss(ia64_cpu *c, const ia64_op *op) { return mm_pack(c, op, 8, 0, 255); }
static int x_pack4_sss(ia64_cpu *c, const ia64_op *op) { return mm_pack(c, op, 16, -32768, 32767); }

/* pmpy2: signed 16x16 products of lanes arg and arg + 2 (.r: 0 and 2, .l: 1 and 3), as the
 * low and high 32-bit words of r1. */
static int x_pmpy2(ia64_cpu *c, const ia64_op *op) {
  const uint64_t x = ia64_rd(c, op->r[1]), y = ia64_rd(c, op->r[2]);
  const unsigned k = (unsigned)op->arg;
  int64_t p0 = ia64_sext(mm_get(x, 16, k), 16) * ia64_sext(mm_get(y, 16, k), 16);
  int64_t p1 = ia64_sext(mm_get(x, 16, k + 2), 16) * ia64_sext(mm_get(y, 16, k + 2), 16);
  ia64_wr(c, op->r[0], ((uint64_t)p0 & 0xffffffffu) | (uint64_t)p1 << 32,
          ia64_rnat(c, op->r[1]) | ia64_rnat(c, op->r[2]));
  return IA64_NEXT;
}

/* psad1: the sum of the absolute differences of the eight unsigned byte pairs. */
static int x_psad1(ia64_cpu *c, const ia64_op *op) {
  const uint64_t x = ia64_rd(c, op->r[1]), y = ia64_rd(c, op->r[2]);
  uint64_t sum = 0;
  for (unsigned i = 0; i < 8; i++) {
    unsigned a = (unsigned)mm_get(x, 8, i), b = (unsigned)mm_get(y, 8, i);
    sum += a > b ? a - b : b - a;
  }
  ia64_wr(c, op->r[0], sum, ia64_rnat(c, op->r[1]) | ia64_rnat(c, op->r[2]));
  return IA64_NEXT;
}

/* mux1: result byte i = source byte perm[i], one permutation per mbtype (op->arg). */
enum { MUX1_BRCST, MUX1_MIX, MUX1_SHUF, MUX1_ALT, MUX1_REV };
static const uint8_t mux1_perm[5][8] = {
  [MUX1_BRCST] = {0, 0, 0, 0, 0, 0, 0, 0},
  [MUX1_MIX] = {0, 4, 2, 6, 1, 5, 3, 7},
  [MUX1_SHUF] = {0, 4, 1, 5, 2, 6, 3, 7},
  [MUX1_ALT] = {0, 2, 4, 6, 1, 3, 5, 7},
  [MUX1_REV] = {7, 6, 5, 4, 3, 2, 1, 0},
};
static int x_mux1(ia64_cpu *c, const ia64_op *op) {
  const uint64_t x = ia64_rd(c, op->r[1]);
  const uint8_t *perm = mux1_perm[op->arg];
  uint64_t r = 0;
  for (unsigned i = 0; i < 8; i++) r |= mm_get(x, 8, perm[i]) << (8 * i);
  ia64_wr(c, op->r[0], r, ia64_rnat(c, op->r[1]));
  return IA64_NEXT;
}

/* mux2: result halfword i = source halfword mht8{2i+1:2i}. */
static int x_mux2(ia64_cpu *c, const ia64_op *op) {
  const uint64_t x = ia64_rd(c, op->r[1]);
  const unsigned sel = (unsigned)op->imm;
  uint64_t r = 0;
  for (unsigned i = 0; i < 4; i++) r |= mm_get(x, 16, sel >> (2 * i) & 3) << (16 * i);
  ia64_wr(c, op->r[0], r, ia64_rnat(c, op->r[1]));
  return IA64_NEXT;
}

/* ---- Shifts -------------------------------------------------------------------------------- */

/* Shift every lane of v by count, clamped to the lane width (an unsigned 64-bit count:
 * anything above the width is the width). dir: 0 left, 1 right unsigned, 2 right signed. */
MM_INLINE uint64_t mm_shift(uint64_t v, uint64_t count, unsigned w, unsigned dir) {
  const unsigned n = count > w ? w : (unsigned)count;
  const uint64_t m = mm_mask(w);
  uint64_t r = 0;
  for (unsigned i = 0; i < 64; i += w) {
    uint64_t x = v >> i & m, t;
    if (dir == 2) t = (uint64_t)(ia64_sext(x, w) >> (n == w ? w - 1 : n));
    else if (n == w) t = 0;
    else t = dir ? x >> n : x << n;
    r |= (t & m) << i;
  }
  return r;
}

/* By a GR: op->r = {r1, data, count} (pshl r1=r2,r3; pshr r1=r3,r2). */
MM_INLINE int mm_shift_gr(ia64_cpu *c, const ia64_op *op, unsigned w, unsigned dir) {
  ia64_wr(c, op->r[0], mm_shift(ia64_rd(c, op->r[1]), ia64_rd(c, op->r[2]), w, dir),
          ia64_rnat(c, op->r[1]) | ia64_rnat(c, op->r[2]));
  return IA64_NEXT;
}
/* By an immediate: op->r = {r1, data}, op->imm = the count. */
MM_INLINE int mm_shift_imm(ia64_cpu *c, const ia64_op *op, unsigned w, unsigned dir) {
  ia64_wr(c, op->r[0], mm_shift(ia64_rd(c, op->r[1]), (uint64_t)op->imm, w, dir), ia64_rnat(c, op->r[1]));
  return IA64_NEXT;
}

#define MM_SHIFT(name, w, dir)                                                                  \
  static int name(ia64_cpu *c, const ia64_op *op) { return mm_shift_gr(c, op, w, dir); }       \
  static int name##_imm(ia64_cpu *c, const ia64_op *op) { return mm_shift_imm(c, op, w, dir); }

MM_SHIFT(x_pshl2, 16, 0)
MM_SHIFT(x_pshl4, 32, 0)
MM_SHIFT(x_pshr2_u, 16, 1)
MM_SHIFT(x_pshr4_u, 32, 1)
MM_SHIFT(x_pshr2, 16, 2)
MM_SHIFT(x_pshr4, 32, 2)

/* ---- Forms -------------------------------------------------------------------------------- */

#define A IA64_UNIT_A
#define I IA64_UNIT_I

/* A9: op 8, x2a 1, za (36), zb (33), x4 (32:29), x2b (28:27). A10 keeps x2b for the count. */
#define A9_(za, zb, x4, x2b) (ENC(40, 37, 8) | ENC(36, 36, za) | ENC(35, 34, 1) | ENC(33, 33, zb) | \
                             ENC(32, 29, x4) | ENC(28, 27, x2b))
#define A9(...) A9_(__VA_ARGS__)   /* lets W1/W2/W4 expand to za, zb first */
#define A9M MSK(40, 27)
#define A10(x4) A9(0, 1, x4, 0)
#define A10M MSK(40, 29)
/* I1-I8: op 7, za (36), x2a (35:34), zb (33), ve (32) = 0, x2c (31:30), x2b (29:28).
 * I1 keeps x2c for the count. */
#define I2_(za, zb, x2a, x2b, x2c) (ENC(40, 37, 7) | ENC(36, 36, za) | ENC(35, 34, x2a) | \
                                   ENC(33, 33, zb) | ENC(31, 30, x2c) | ENC(29, 28, x2b))
#define I2(...) I2_(__VA_ARGS__)
#define I2M MSK(40, 28)
#define I1M (MSK(40, 32) | MSK(29, 28))
#define MBT(v) ENC(23, 20, v)
#define MBTM MSK(23, 20)

/* za/zb select the lane width: 1 byte (0,0), 2 bytes (0,1), 4 bytes (1,0). */
#define W1 0, 0
#define W2 0, 1
#define W4 1, 0

const ia64_insn_desc ia64_tab_mm[] = {
  /* A9: parallel add, x2b = saturation (0 modulo, 1 sss, 2 uuu, 3 uus) */
  {"padd1", A, "%r1=%r2,%r3", x_padd1, 0, A9(W1, 0, 0), A9M},
  {"padd2", A, "%r1=%r2,%r3", x_padd2, 0, A9(W2, 0, 0), A9M},
  {"padd4", A, "%r1=%r2,%r3", x_padd4, 0, A9(W4, 0, 0), A9M},
  {"padd1.sss", A, "%r1=%r2,%r3", x_padd1_sss, 0, A9(W1, 0, 1), A9M},
  {"padd2.sss", A, "%r1=%r2,%r3", x_padd2_sss, 0, A9(W2, 0, 1), A9M},
  {"padd1.uuu", A, "%r1=%r2,%r3", x_padd1_uuu, 0, A9(W1, 0, 2), A9M},
  {"padd2.uuu", A, "%r1=%r2,%r3", x_padd2_uuu, 0, A9(W2, 0, 2), A9M},
  {"padd1.uus", A, "%r1=%r2,%r3", x_padd1_uus, 0, A9(W1, 0, 3), A9M},
  {"padd2.uus", A, "%r1=%r2,%r3", x_padd2_uus, 0, A9(W2, 0, 3), A9M},
  /* A9: parallel subtract */
  {"psub1", A, "%r1=%r2,%r3", x_psub1, 0, A9(W1, 1, 0), A9M},
  {"psub2", A, "%r1=%r2,%r3", x_psub2, 0, A9(W2, 1, 0), A9M},
  {"psub4", A, "%r1=%r2,%r3", x_psub4, 0, A9(W4, 1, 0), A9M},
  {"psub1.sss", A, "%r1=%r2,%r3", x_psub1_sss, 0, A9(W1, 1, 1), A9M},
  {"psub2.sss", A, "%r1=%r2,%r3", x_psub2_sss, 0, A9(W2, 1, 1), A9M},
  {"psub1.uuu", A, "%r1=%r2,%r3", x_psub1_uuu, 0, A9(W1, 1, 2), A9M},
  {"psub2.uuu", A, "%r1=%r2,%r3", x_psub2_uuu, 0, A9(W2, 1, 2), A9M},
  {"psub1.uus", A, "%r1=%r2,%r3", x_psub1_uus, 0, A9(W1, 1, 3), A9M},
  {"psub2.uus", A, "%r1=%r2,%r3", x_psub2_uus, 0, A9(W2, 1, 3), A9M},
  /* A9: average, average of the difference, compare */
  {"pavg1", A, "%r1=%r2,%r3", x_pavg1, 0, A9(W1, 2, 2), A9M},
  {"pavg2", A, "%r1=%r2,%r3", x_pavg2, 0, A9(W2, 2, 2), A9M},
  {"pavg1.raz", A, "%r1=%r2,%r3", x_pavg1_raz, 0, A9(W1, 2, 3), A9M},
  {"pavg2.raz", A, "%r1=%r2,%r3", x_pavg2_raz, 0, A9(W2, 2, 3), A9M},
  {"pavgsub1", A, "%r1=%r2,%r3", x_pavgsub1, 0, A9(W1, 3, 2), A9M},
  {"pavgsub2", A, "%r1=%r2,%r3", x_pavgsub2, 0, A9(W2, 3, 2), A9M},
  {"pcmp1.eq", A, "%r1=%r2,%r3", x_pcmp1_eq, 0, A9(W1, 9, 0), A9M},
  {"pcmp2.eq", A, "%r1=%r2,%r3", x_pcmp2_eq, 0, A9(W2, 9, 0), A9M},
  {"pcmp4.eq", A, "%r1=%r2,%r3", x_pcmp4_eq, 0, A9(W4, 9, 0), A9M},
  {"pcmp1.gt", A, "%r1=%r2,%r3", x_pcmp1_gt, 0, A9(W1, 9, 1), A9M},
  {"pcmp2.gt", A, "%r1=%r2,%r3", x_pcmp2_gt, 0, A9(W2, 9, 1), A9M},
  {"pcmp4.gt", A, "%r1=%r2,%r3", x_pcmp4_gt, 0, A9(W4, 9, 1), A9M},
  /* A10: shift and add; count 4 (ct2d = 3) is reserved: objdump prints it, executing it is
   * an Illegal Operation */
  {"pshladd2", A, "%r1=%r2,%mm_cnt2b,%r3", x_pshladd2, 0, A10(4), A10M},
  {"pshradd2", A, "%r1=%r2,%mm_cnt2b,%r3", x_pshradd2, 0, A10(6), A10M},
  {"pshladd2", A, "%r1=%r2,%mm_cnt2b,%r3", ia64_x_illegal, 0, A9(W2, 4, 3), A9M},
  {"pshradd2", A, "%r1=%r2,%mm_cnt2b,%r3", ia64_x_illegal, 0, A9(W2, 6, 3), A9M},
  /* I1: multiply and shift right */
  {"pmpyshr2", I, "%r1=%r2,%r3,%mm_cnt2c", x_pmpyshr2, 0, I2(W2, 0, 3, 0), I1M},
  {"pmpyshr2.u", I, "%r1=%r2,%r3,%mm_cnt2c", x_pmpyshr2_u, 0, I2(W2, 0, 1, 0), I1M},
  /* I2 */
  {"pmpy2.r", I, "%r1=%r2,%r3", x_pmpy2, 0, I2(W2, 2, 1, 3), I2M},
  {"pmpy2.l", I, "%r1=%r2,%r3", x_pmpy2, 1, I2(W2, 2, 3, 3), I2M},
  {"mix1.r", I, "%r1=%r2,%r3", x_mix1, 0, I2(W1, 2, 0, 2), I2M},
  {"mix2.r", I, "%r1=%r2,%r3", x_mix2, 0, I2(W2, 2, 0, 2), I2M},
  {"mix4.r", I, "%r1=%r2,%r3", x_mix4, 0, I2(W4, 2, 0, 2), I2M},
  {"mix1.l", I, "%r1=%r2,%r3", x_mix1, 1, I2(W1, 2, 2, 2), I2M},
  {"mix2.l", I, "%r1=%r2,%r3", x_mix2, 1, I2(W2, 2, 2, 2), I2M},
  {"mix4.l", I, "%r1=%r2,%r3", x_mix4, 1, I2(W4, 2, 2, 2), I2M},
  {"pack2.uss", I, "%r1=%r2,%r3", x_pack2_uss, 0, I2(W2, 2, 0, 0), I2M},
  {"pack2.sss", I, "%r1=%r2,%r3", x_pack2_sss, 0, I2(W2, 2, 2, 0), I2M},
  {"pack4.sss", I, "%r1=%r2,%r3", x_pack4_sss, 0, I2(W4, 2, 2, 0), I2M},
  {"unpack1.h", I, "%r1=%r2,%r3", x_unpack1, 1, I2(W1, 2, 0, 1), I2M},
  {"unpack2.h", I, "%r1=%r2,%r3", x_unpack2, 1, I2(W2, 2, 0, 1), I2M},
  {"unpack4.h", I, "%r1=%r2,%r3", x_unpack4, 1, I2(W4, 2, 0, 1), I2M},
  {"unpack1.l", I, "%r1=%r2,%r3", x_unpack1, 0, I2(W1, 2, 2, 1), I2M},
  {"unpack2.l", I, "%r1=%r2,%r3", x_unpack2, 0, I2(W2, 2, 2, 1), I2M},
  {"unpack4.l", I, "%r1=%r2,%r3", x_unpack4, 0, I2(W4, 2, 2, 1), I2M},
  {"pmin1.u", I, "%r1=%r2,%r3", x_pmin1_u, 0, I2(W1, 2, 1, 0), I2M},
  {"pmax1.u", I, "%r1=%r2,%r3", x_pmax1_u, 0, I2(W1, 2, 1, 1), I2M},
  {"pmin2", I, "%r1=%r2,%r3", x_pmin2, 0, I2(W2, 2, 3, 0), I2M},
  {"pmax2", I, "%r1=%r2,%r3", x_pmax2, 0, I2(W2, 2, 3, 1), I2M},
  {"psad1", I, "%r1=%r2,%r3", x_psad1, 0, I2(W1, 2, 3, 2), I2M},
  /* I3: mux1; an mbtype without a name is reserved (objdump prints it in hex). */
  {"mux1", I, "%r1=%r2,@brcst", x_mux1, MUX1_BRCST, I2(W1, 3, 2, 2) | MBT(0x0), I2M | MBTM},
  {"mux1", I, "%r1=%r2,@mix", x_mux1, MUX1_MIX, I2(W1, 3, 2, 2) | MBT(0x8), I2M | MBTM},
  {"mux1", I, "%r1=%r2,@shuf", x_mux1, MUX1_SHUF, I2(W1, 3, 2, 2) | MBT(0x9), I2M | MBTM},
  {"mux1", I, "%r1=%r2,@alt", x_mux1, MUX1_ALT, I2(W1, 3, 2, 2) | MBT(0xa), I2M | MBTM},
  {"mux1", I, "%r1=%r2,@rev", x_mux1, MUX1_REV, I2(W1, 3, 2, 2) | MBT(0xb), I2M | MBTM},
  {"mux1", I, "%r1=%r2,%mm_mbt4", ia64_x_illegal, 0, I2(W1, 3, 2, 2), I2M},
  /* I4: mux2 */
  {"mux2", I, "%r1=%r2,%mm_mht8", x_mux2, 0, I2(W2, 3, 2, 2), I2M},
  /* I5: shift right by GR r2 (note the operand order), I6: by count5 */
  {"pshr2", I, "%r1=%r3,%r2", x_pshr2, 0, I2(W2, 0, 2, 0), I2M},
  {"pshr4", I, "%r1=%r3,%r2", x_pshr4, 0, I2(W4, 0, 2, 0), I2M},
  {"pshr2.u", I, "%r1=%r3,%r2", x_pshr2_u, 0, I2(W2, 0, 0, 0), I2M},
  {"pshr4.u", I, "%r1=%r3,%r2", x_pshr4_u, 0, I2(W4, 0, 0, 0), I2M},
  {"pshr2", I, "%r1=%r3,%mm_cnt5", x_pshr2_imm, 0, I2(W2, 1, 3, 0), I2M},
  {"pshr4", I, "%r1=%r3,%mm_cnt5", x_pshr4_imm, 0, I2(W4, 1, 3, 0), I2M},
  {"pshr2.u", I, "%r1=%r3,%mm_cnt5", x_pshr2_u_imm, 0, I2(W2, 1, 1, 0), I2M},
  {"pshr4.u", I, "%r1=%r3,%mm_cnt5", x_pshr4_u_imm, 0, I2(W4, 1, 1, 0), I2M},
  /* I7: shift left by GR r3, I8: by count5 */
  {"pshl2", I, "%r1=%r2,%r3", x_pshl2, 0, I2(W2, 0, 0, 1), I2M},
  {"pshl4", I, "%r1=%r2,%r3", x_pshl4, 0, I2(W4, 0, 0, 1), I2M},
  {"pshl2", I, "%r1=%r2,%mm_ccnt5", x_pshl2_imm, 0, I2(W2, 3, 1, 1), I2M},
  {"pshl4", I, "%r1=%r2,%mm_ccnt5", x_pshl4_imm, 0, I2(W4, 3, 1, 1), I2M},
};
IA64_TAB_LEN(mm);
