/* tab_alu.c — the integer ALU family: A-unit arithmetic, logic and compares (SDM vol. 3
 * formats A1-A4, A6-A8; adds/addl/movl are in tab_core.c) and the I-unit integer forms:
 * shifts, extract/deposit, test bit/NaT/feature, sign/zero extension, czx, popcnt, and the
 * moves to and from predicates, branch registers and I-side application registers, with
 * chk.s.i (formats I5, I7, I9-I17, I20-I29, I30).
 *
 * Text. Every template is what ia64-linux-gnu-objdump prints for the encoding. objdump
 * prints only the canonical relations (cmp.lt, never cmp.gt with swapped operands), so one
 * form per encoding suffices, except for three pseudo-ops it picks by operand value:
 * extr/extr.u print as shr/shr.u and dep.z (register form) as shl when pos + len = 64.
 * Those forms spell their mnemonic with a kind (alu_xmn, alu_dzmn) and keep the length in
 * op->imm2 through a kind that prints nothing (alu_len6h), while another prints ",len"
 * only for the full form (alu_xlen, alu_dzlen).
 *
 * Predicates. Compare, tbit, tnat and tf write two predicates by compare type: normal and
 * .unc (a NaT source clears both), .and (NaT or false clears both), .or (true and no NaT sets
 * both), .or.andcm (true and no NaT sets p1 and clears p2). A .unc form also clears both
 * targets when its qualifying predicate is false, so it takes its predicate through the
 * kind `unc` (IA64_OD_QP): the decoder moves it to op->aux and leaves op->qp = p0, and the
 * executor reads it. p1 == p2 is an Illegal Operation.
 *
 * NaT. Results carry the OR of their sources' NaT bits; moves into predicates, branch and
 * application registers from a GR with NaT set raise Register NaT Consumption. Shift counts
 * above 63 from a register shift everything out (shl, shr.u give 0, shr the sign). */
#include <stdio.h>

#include "internal.h"

/* ---- Operand kinds ---------------------------------------------------------------------- */

static int64_t x_p1(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 11, 6); }
static int64_t x_p2(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 32, 27); }
static int64_t x_b1(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 8, 6); }
static int64_t x_b2(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 15, 13); }
static int64_t x_ar3(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 26, 20); }
static int64_t x_qp(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 5, 0); }
/* A3, A8, I13, I27: s (36) and imm7b (19:13). */
static int64_t x_imm8(uint64_t s, uint64_t l) {
  (void)l;
  return ia64_sext(ia64_field(s, 36, 36) << 7 | ia64_field(s, 19, 13), 8);
}
static int64_t x_count2(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 28, 27) + 1; }
static int64_t x_pos6(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 19, 14); }
static int64_t x_len6(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 32, 27) + 1; }
static int64_t x_count6(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 32, 27); }
/* Deposit positions are encoded as 63 - pos. */
static int64_t x_cpos6c(uint64_t s, uint64_t l) { (void)l; return 63 - (int64_t)ia64_field(s, 25, 20); }
static int64_t x_cpos6b(uint64_t s, uint64_t l) { (void)l; return 63 - (int64_t)ia64_field(s, 19, 14); }
static int64_t x_cpos6d(uint64_t s, uint64_t l) { (void)l; return 63 - (int64_t)ia64_field(s, 36, 31); }
static int64_t x_len4(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 30, 27) + 1; }
static int64_t x_imm1(uint64_t s, uint64_t l) { (void)l; return -(int64_t)ia64_field(s, 36, 36); }
static int64_t x_imm5b(uint64_t s, uint64_t l) { (void)l; return 32 + (int64_t)ia64_field(s, 18, 14); }
/* I23: mask17 = s, mask8c, mask7a, 0 — sign-extended, so bit 16 stands for p16..p63. */
static int64_t x_mask17(uint64_t s, uint64_t l) {
  (void)l;
  return ia64_sext(ia64_field(s, 36, 36) << 16 | ia64_field(s, 31, 24) << 8 | ia64_field(s, 12, 6) << 1, 17);
}
/* I24: imm44 = s, imm27a, 16 zeros. */
static int64_t x_imm44(uint64_t s, uint64_t l) {
  (void)l;
  return ia64_sext(ia64_field(s, 36, 36) << 43 | ia64_field(s, 32, 6) << 16, 44);
}
/* I20, M20, M21 (chk.s): target25 = s, imm13c, imm7a, in bundles. */
static int64_t x_tgt25(uint64_t s, uint64_t l) {
  (void)l;
  return ia64_sext(ia64_field(s, 36, 36) << 20 | ia64_field(s, 32, 20) << 7 | ia64_field(s, 12, 6), 21) * 16;
}
/* I21: the tag (a hint only): timm9c, in bundles. */
static int64_t x_tag13(uint64_t s, uint64_t l) { (void)l; return ia64_sext(ia64_field(s, 32, 24), 9) * 16; }
static int64_t x_bret(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 22, 22); }
static int64_t x_bimp(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 23, 23); }
/* extr prints as shr when pos + len = 64; dep.z (I12) as shl when its len = 64 - pos. */
static int64_t x_xshr(uint64_t s, uint64_t l) { return x_pos6(s, l) + x_len6(s, l) == 64; }
static int64_t x_xlen(uint64_t s, uint64_t l) { return x_xshr(s, l) ? 0 : x_len6(s, l); }
static int64_t x_dzshl(uint64_t s, uint64_t l) { return x_cpos6c(s, l) + x_len6(s, l) == 64; }
static int64_t x_dzlen(uint64_t s, uint64_t l) { return x_dzshl(s, l) ? 0 : x_len6(s, l); }

static void p_unc(char *b, size_t n, int64_t v, uint64_t ip) { (void)v, (void)ip; snprintf(b, n, ".unc"); }
static void p_bret(char *b, size_t n, int64_t v, uint64_t ip) { (void)ip; snprintf(b, n, "%s", v ? ".ret" : ""); }
static void p_bimp(char *b, size_t n, int64_t v, uint64_t ip) { (void)ip; snprintf(b, n, "%s", v ? ".imp" : ""); }
static void p_xmn(char *b, size_t n, int64_t v, uint64_t ip) { (void)ip; snprintf(b, n, "%s", v ? "shr" : "extr"); }
static void p_dzmn(char *b, size_t n, int64_t v, uint64_t ip) { (void)ip; snprintf(b, n, "%s", v ? "shl" : "dep.z"); }
static void p_optlen(char *b, size_t n, int64_t v, uint64_t ip) {
  (void)ip;
  if (v) snprintf(b, n, ",%d", (int)v);
  else if (n) b[0] = 0;
}

/* p1, p2, b1, b2, ar3, imm8 and unc are the SDM's fields, the same in every format that has
 * them: other families may name them too. The rest are this family's. */
const ia64_opnd_kind ia64_opnds_alu[] = {
  {"p1", IA64_OD_REG, IA64_OS_PR, 0, x_p1, NULL},
  {"p2", IA64_OD_REG, IA64_OS_PR, 0, x_p2, NULL},
  {"b1", IA64_OD_REG, IA64_OS_BR, 0, x_b1, NULL},
  {"b2", IA64_OD_REG, IA64_OS_BR, 0, x_b2, NULL},
  {"ar3", IA64_OD_REG, IA64_OS_AR, 0, x_ar3, NULL},
  {"imm8", IA64_OD_IMM, IA64_OS_DEC, 0, x_imm8, NULL},
  {"unc", IA64_OD_QP, IA64_OS_CUSTOM, 0, x_qp, p_unc},          /* ".unc": see the top */
  {"alu_count2", IA64_OD_IMM, IA64_OS_UDEC, 0, x_count2, NULL},
  {"alu_pos6", IA64_OD_IMM, IA64_OS_UDEC, 0, x_pos6, NULL},
  {"alu_len6", IA64_OD_IMM, IA64_OS_UDEC, 0, x_len6, NULL},
  {"alu_len6h", IA64_OD_IMM, IA64_OS_CUSTOM, 0, x_len6, NULL},  /* len6, printed by another */
  {"alu_len6a", IA64_OD_AUX, IA64_OS_UDEC, 0, x_len6, NULL},    /* len6 as a third immediate */
  {"alu_count6", IA64_OD_IMM, IA64_OS_UDEC, 0, x_count6, NULL},
  {"alu_cpos6c", IA64_OD_IMM, IA64_OS_UDEC, 0, x_cpos6c, NULL},
  {"alu_cpos6b", IA64_OD_IMM, IA64_OS_UDEC, 0, x_cpos6b, NULL},
  {"alu_cpos6d", IA64_OD_IMM, IA64_OS_UDEC, 0, x_cpos6d, NULL},
  {"alu_len4", IA64_OD_IMM, IA64_OS_UDEC, 0, x_len4, NULL},
  {"alu_imm1", IA64_OD_IMM, IA64_OS_DEC, 0, x_imm1, NULL},
  {"alu_imm5b", IA64_OD_IMM, IA64_OS_UDEC, 0, x_imm5b, NULL},
  {"alu_mask17", IA64_OD_IMM, IA64_OS_HEX, 0, x_mask17, NULL},
  {"alu_imm44", IA64_OD_IMM, IA64_OS_HEX, 0, x_imm44, NULL},
  {"chk_tgt25", IA64_OD_IMM, IA64_OS_TARGET, 0, x_tgt25, NULL},  /* chk.s: tab_mem.c names it too */
  {"alu_tag13", IA64_OD_PRINT, IA64_OS_TARGET, 0, x_tag13, NULL},
  {"alu_bret", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_bret, p_bret},
  {"alu_bimp", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_bimp, p_bimp},
  {"alu_xmn", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_xshr, p_xmn},
  {"alu_xlen", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_xlen, p_optlen},
  {"alu_dzmn", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_dzshl, p_dzmn},
  {"alu_dzlen", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_dzlen, p_optlen},
  {0},
};

/* ---- Executors: A-unit arithmetic and logic ------------------------------------------------ */

#define R1 op->r[0]
#define NAT2(a, b) (ia64_rnat(c, a) | ia64_rnat(c, b))

/* sub r1=r2,r3[,1] (arg = the extra 1 subtracted) */
static int x_sub(ia64_cpu *c, const ia64_op *op) {
  ia64_wr(c, R1, ia64_rd(c, op->r[1]) - ia64_rd(c, op->r[2]) - (uint64_t)op->arg, NAT2(op->r[1], op->r[2]));
  return IA64_NEXT;
}
static int x_sub_imm(ia64_cpu *c, const ia64_op *op) {
  ia64_wr(c, R1, (uint64_t)op->imm - ia64_rd(c, op->r[1]), ia64_rnat(c, op->r[1]));
  return IA64_NEXT;
}

/* A 32-bit pointer sum: the low 32 bits, with r3's bits 31:30 (the region) at 62:61. */
static inline uint64_t p4(uint64_t sum, uint64_t r3) { return (sum & 0xffffffffu) | (r3 >> 30 & 3) << 61; }

static int x_addp4(ia64_cpu *c, const ia64_op *op) {
  uint64_t b = ia64_rd(c, op->r[2]);
  ia64_wr(c, R1, p4(ia64_rd(c, op->r[1]) + b, b), NAT2(op->r[1], op->r[2]));
  return IA64_NEXT;
}
static int x_addp4_imm(ia64_cpu *c, const ia64_op *op) {
  uint64_t b = ia64_rd(c, op->r[1]);
  ia64_wr(c, R1, p4((uint64_t)op->imm + b, b), ia64_rnat(c, op->r[1]));
  return IA64_NEXT;
}
static int x_shladd(ia64_cpu *c, const ia64_op *op) {
  ia64_wr(c, R1, (ia64_rd(c, op->r[1]) << op->imm) + ia64_rd(c, op->r[2]), NAT2(op->r[1], op->r[2]));
  return IA64_NEXT;
}
static int x_shladdp4(ia64_cpu *c, const ia64_op *op) {
  uint64_t b = ia64_rd(c, op->r[2]);
  ia64_wr(c, R1, p4((ia64_rd(c, op->r[1]) << op->imm) + b, b), NAT2(op->r[1], op->r[2]));
  return IA64_NEXT;
}

#define LOGIC(name, expr)                                                                      \
  static int x_##name(ia64_cpu *c, const ia64_op *op) {                                       \
    uint64_t a = ia64_rd(c, op->r[1]), b = ia64_rd(c, op->r[2]);                               \
    ia64_wr(c, R1, expr, NAT2(op->r[1], op->r[2]));                                            \
    return IA64_NEXT;                                                                          \
  }                                                                                            \
  static int x_##name##_imm(ia64_cpu *c, const ia64_op *op) {                                 \
    uint64_t a = (uint64_t)op->imm, b = ia64_rd(c, op->r[1]);                                  \
    ia64_wr(c, R1, expr, ia64_rnat(c, op->r[1]));                                              \
    return IA64_NEXT;                                                                          \
  }
LOGIC(and, a & b)
LOGIC(andcm, a & ~b)
LOGIC(or, a | b)
LOGIC(xor, a ^ b)

/* ---- Executors: writing two predicates by compare type ------------------------------------- */

enum { PT_NONE, PT_UNC, PT_AND, PT_OR, PT_ORANDCM };

/* The predicates are op->r[0] (p1) and op->r[1] (p2); nat: a source was NaT. */
static inline int pred_write(ia64_cpu *c, const ia64_op *op, unsigned type, unsigned nat, unsigned rel) {
  unsigned p1 = op->r[0], p2 = op->r[1];
  if (UNLIKELY(p1 == p2)) return ia64_illegal_op(c);
  switch (type) {
  case PT_AND:
    if (nat || !rel) ia64_pwr(c, p1, 0), ia64_pwr(c, p2, 0);
    break;
  case PT_OR:
    if (!nat && rel) ia64_pwr(c, p1, 1), ia64_pwr(c, p2, 1);
    break;
  case PT_ORANDCM:
    if (!nat && rel) ia64_pwr(c, p1, 1), ia64_pwr(c, p2, 0);
    break;
  default: {
    uint64_t t = !nat && rel, f = !nat && !rel, keep = ~((uint64_t)1 << p1 | (uint64_t)1 << p2);
    c->pr = (c->pr & keep) | t << p1 | f << p2 | 1;
    break;
  }
  }
  return IA64_NEXT;
}

/* A .unc form whose qualifying predicate (op->aux) is false: both targets cleared. */
static int unc_false(ia64_cpu *c, const ia64_op *op) {
  if (op->r[0] == op->r[1]) return ia64_illegal_op(c);
  ia64_pwr(c, op->r[0], 0);
  ia64_pwr(c, op->r[1], 0);
  return IA64_NEXT;
}

/* ---- Executors: compares ----------------------------------------------------------------- */

/* op->arg: the relation of the left operand (r2, imm8 or r0) to r3, and CMP4 for cmp4. */
enum { REL_EQ, REL_NE, REL_LT, REL_LE, REL_GT, REL_GE, REL_LTU, REL_CMP4 = 8 };

static inline unsigned cmp_rel(unsigned how, uint64_t a, uint64_t b) {
  if (how & REL_CMP4) {
    if ((how & 7) == REL_LTU) a = (uint32_t)a, b = (uint32_t)b;
    else a = (uint64_t)(int64_t)(int32_t)a, b = (uint64_t)(int64_t)(int32_t)b;
  }
  switch (how & 7) {
  case REL_EQ: return a == b;
  case REL_NE: return a != b;
  case REL_LT: return (int64_t)a < (int64_t)b;
  case REL_LE: return (int64_t)a <= (int64_t)b;
  case REL_GT: return (int64_t)a > (int64_t)b;
  case REL_GE: return (int64_t)a >= (int64_t)b;
  default: return a < b;
  }
}

/* cmp p1,p2=r2,r3 (op->r[2], op->r[3]) and cmp p1,p2=imm8,r3 / r0,r3 (op->imm, op->r[2]). */
#define CMP_EXEC(type, TYPE)                                                                   \
  static int x_cmp_rr_##type(ia64_cpu *c, const ia64_op *op) {                                \
    unsigned rel = cmp_rel((unsigned)op->arg, ia64_rd(c, op->r[2]), ia64_rd(c, op->r[3]));     \
    return pred_write(c, op, TYPE, NAT2(op->r[2], op->r[3]), rel);                             \
  }                                                                                            \
  static int x_cmp_ir_##type(ia64_cpu *c, const ia64_op *op) {                                \
    unsigned rel = cmp_rel((unsigned)op->arg, (uint64_t)op->imm, ia64_rd(c, op->r[2]));        \
    return pred_write(c, op, TYPE, ia64_rnat(c, op->r[2]), rel);                               \
  }
CMP_EXEC(and, PT_AND)
CMP_EXEC(or, PT_OR)
CMP_EXEC(orandcm, PT_ORANDCM)

/* The normal type, the hottest: one executor per relation, so the relation folds away. */
#define CMP_NONE(name, REL)                                                                   \
  static int x_cmp_rr_##name(ia64_cpu *c, const ia64_op *op) {                                \
    unsigned rel = cmp_rel(REL, ia64_rd(c, op->r[2]), ia64_rd(c, op->r[3]));                  \
    return pred_write(c, op, PT_NONE, NAT2(op->r[2], op->r[3]), rel);                          \
  }                                                                                            \
  static int x_cmp_ir_##name(ia64_cpu *c, const ia64_op *op) {                                \
    unsigned rel = cmp_rel(REL, (uint64_t)op->imm, ia64_rd(c, op->r[2]));                     \
    return pred_write(c, op, PT_NONE, ia64_rnat(c, op->r[2]), rel);                            \
  }
CMP_NONE(eq, REL_EQ)
CMP_NONE(lt, REL_LT)
CMP_NONE(ltu, REL_LTU)
CMP_NONE(eq4, REL_EQ | REL_CMP4)
CMP_NONE(lt4, REL_LT | REL_CMP4)
CMP_NONE(ltu4, REL_LTU | REL_CMP4)

static int x_cmp_rr_unc(ia64_cpu *c, const ia64_op *op) {
  if (!ia64_prd(c, op->aux)) return unc_false(c, op);
  unsigned rel = cmp_rel((unsigned)op->arg, ia64_rd(c, op->r[2]), ia64_rd(c, op->r[3]));
  return pred_write(c, op, PT_UNC, NAT2(op->r[2], op->r[3]), rel);
}
static int x_cmp_ir_unc(ia64_cpu *c, const ia64_op *op) {
  if (!ia64_prd(c, op->aux)) return unc_false(c, op);
  unsigned rel = cmp_rel((unsigned)op->arg, (uint64_t)op->imm, ia64_rd(c, op->r[2]));
  return pred_write(c, op, PT_UNC, ia64_rnat(c, op->r[2]), rel);
}

/* ---- Executors: tbit, tnat, tf (op->arg = 1 for the .nz sense) ----------------------------- */

#define TEST_EXEC(type, TYPE)                                                                  \
  static int x_tbit_##type(ia64_cpu *c, const ia64_op *op) {                                  \
    unsigned bit = (unsigned)(ia64_rd(c, op->r[2]) >> op->imm) & 1;                            \
    return pred_write(c, op, TYPE, ia64_rnat(c, op->r[2]), bit ^ !op->arg);                    \
  }                                                                                            \
  static int x_tnat_##type(ia64_cpu *c, const ia64_op *op) {                                  \
    return pred_write(c, op, TYPE, 0, ia64_rnat(c, op->r[2]) ^ !op->arg);                      \
  }                                                                                            \
  static int x_tf_##type(ia64_cpu *c, const ia64_op *op) {                                    \
    return pred_write(c, op, TYPE, 0, tf_feature(op->imm) ^ !op->arg);                         \
  }

/* tf: processor features 32..63 that this CPU implements (CPUID[4]): none. */
static inline unsigned tf_feature(int64_t f) { (void)f; return 0; }

TEST_EXEC(none, PT_NONE)
TEST_EXEC(and, PT_AND)
TEST_EXEC(or, PT_OR)
TEST_EXEC(orandcm, PT_ORANDCM)

static int x_tbit_unc(ia64_cpu *c, const ia64_op *op) {
  if (!ia64_prd(c, op->aux)) return unc_false(c, op);
  unsigned bit = (unsigned)(ia64_rd(c, op->r[2]) >> op->imm) & 1;
  return pred_write(c, op, PT_UNC, ia64_rnat(c, op->r[2]), bit ^ !op->arg);
}
static int x_tnat_unc(ia64_cpu *c, const ia64_op *op) {
  if (!ia64_prd(c, op->aux)) return unc_false(c, op);
  return pred_write(c, op, PT_UNC, 0, ia64_rnat(c, op->r[2]) ^ !op->arg);
}
static int x_tf_unc(ia64_cpu *c, const ia64_op *op) {
  if (!ia64_prd(c, op->aux)) return unc_false(c, op);
  return pred_write(c, op, PT_UNC, 0, tf_feature(op->imm) ^ !op->arg);
}

/* ---- Executors: shifts, extract, deposit ---------------------------------------------------- */

/* shl r1=r2,r3 */
static int x_shl(ia64_cpu *c, const ia64_op *op) {
  uint64_t n = ia64_rd(c, op->r[2]);
  ia64_wr(c, R1, n > 63 ? 0 : ia64_rd(c, op->r[1]) << n, NAT2(op->r[1], op->r[2]));
  return IA64_NEXT;
}
/* shr r1=r3,r2 (op->r[1] = r3, op->r[2] = r2) */
static int x_shr(ia64_cpu *c, const ia64_op *op) {
  uint64_t n = ia64_rd(c, op->r[2]);
  ia64_wr(c, R1, (uint64_t)((int64_t)ia64_rd(c, op->r[1]) >> (n > 63 ? 63 : n)), NAT2(op->r[1], op->r[2]));
  return IA64_NEXT;
}
static int x_shr_u(ia64_cpu *c, const ia64_op *op) {
  uint64_t n = ia64_rd(c, op->r[2]);
  ia64_wr(c, R1, n > 63 ? 0 : ia64_rd(c, op->r[1]) >> n, NAT2(op->r[1], op->r[2]));
  return IA64_NEXT;
}
/* shrp r1=r2,r3,count6: the low 64 bits of r2:r3 shifted right */
static int x_shrp(ia64_cpu *c, const ia64_op *op) {
  uint64_t hi = ia64_rd(c, op->r[1]), lo = ia64_rd(c, op->r[2]);
  unsigned n = (unsigned)op->imm;
  ia64_wr(c, R1, n ? lo >> n | hi << (64 - n) : lo, NAT2(op->r[1], op->r[2]));
  return IA64_NEXT;
}

/* Bits pos.. of v, len wide (cut at bit 63), right-justified. */
static inline uint64_t field_u(uint64_t v, unsigned pos, unsigned len) {
  v >>= pos;
  return len >= 64 - pos ? v : v & ((UINT64_C(1) << len) - 1);
}
/* extr.u / extr r1=r3,pos6,len6 (imm = pos, imm2 = len) */
static int x_extr_u(ia64_cpu *c, const ia64_op *op) {
  ia64_wr(c, R1, field_u(ia64_rd(c, op->r[1]), (unsigned)op->imm, (unsigned)op->imm2), ia64_rnat(c, op->r[1]));
  return IA64_NEXT;
}
static int x_extr(ia64_cpu *c, const ia64_op *op) {
  unsigned pos = (unsigned)op->imm, len = (unsigned)op->imm2;
  if (len > 64 - pos) len = 64 - pos;
  int64_t v = (int64_t)(ia64_rd(c, op->r[1]) << (64 - pos - len)) >> (64 - len);
  ia64_wr(c, R1, (uint64_t)v, ia64_rnat(c, op->r[1]));
  return IA64_NEXT;
}

/* v's low len bits placed at pos over base (bits beyond 63 dropped). */
static inline uint64_t deposit(uint64_t base, uint64_t v, unsigned pos, unsigned len) {
  uint64_t m = len >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << len) - 1;
  return (base & ~(m << pos)) | (v & m) << pos;
}
/* dep.z r1=r2,pos6,len6 (op->r[1] = r2; imm = pos, imm2 = len) */
static int x_depz(ia64_cpu *c, const ia64_op *op) {
  ia64_wr(c, R1, deposit(0, ia64_rd(c, op->r[1]), (unsigned)op->imm, (unsigned)op->imm2), ia64_rnat(c, op->r[1]));
  return IA64_NEXT;
}
/* dep.z r1=imm8,pos6,len6 and dep r1=imm1,r3,pos6,len6: three immediates, so imm = the
 * value, imm2 = pos, aux = len */
static int x_depz_imm(ia64_cpu *c, const ia64_op *op) {
  ia64_wr(c, R1, deposit(0, (uint64_t)op->imm, (unsigned)op->imm2, op->aux), 0);
  return IA64_NEXT;
}
static int x_dep_imm(ia64_cpu *c, const ia64_op *op) {
  ia64_wr(c, R1, deposit(ia64_rd(c, op->r[1]), (uint64_t)op->imm, (unsigned)op->imm2, op->aux), ia64_rnat(c, op->r[1]));
  return IA64_NEXT;
}
/* dep r1=r2,r3,pos6,len4 */
static int x_dep(ia64_cpu *c, const ia64_op *op) {
  ia64_wr(c, R1, deposit(ia64_rd(c, op->r[2]), ia64_rd(c, op->r[1]), (unsigned)op->imm, (unsigned)op->imm2),
          NAT2(op->r[1], op->r[2]));
  return IA64_NEXT;
}

/* ---- Executors: extension, zero search, population count ------------------------------------ */

/* sxt1/2/4, zxt1/2/4 r1=r3 (arg = bits kept) */
static int x_sxt(ia64_cpu *c, const ia64_op *op) {
  ia64_wr(c, R1, (uint64_t)ia64_sext(ia64_rd(c, op->r[1]), (unsigned)op->arg), ia64_rnat(c, op->r[1]));
  return IA64_NEXT;
}
static int x_zxt(ia64_cpu *c, const ia64_op *op) {
  ia64_wr(c, R1, ia64_rd(c, op->r[1]) & ((UINT64_C(1) << op->arg) - 1), ia64_rnat(c, op->r[1]));
  return IA64_NEXT;
}

/* czx r1=r3: index of the first zero element (arg = element width in bits, negative when
 * searching from the left), or the element count when there is none */
static int x_czx(ia64_cpu *c, const ia64_op *op) {
  uint64_t v = ia64_rd(c, op->r[1]);
  unsigned w = (unsigned)(op->arg < 0 ? -op->arg : op->arg), n = 64 / w, i;
  uint64_t m = (UINT64_C(1) << w) - 1;
  for (i = 0; i < n; i++) {
    unsigned e = op->arg < 0 ? n - 1 - i : i;  /* element number, 0 = least significant */
    if (!(v >> (e * w) & m)) break;
  }
  ia64_wr(c, R1, i, ia64_rnat(c, op->r[1]));
  return IA64_NEXT;
}

static int x_popcnt(ia64_cpu *c, const ia64_op *op) {
  ia64_wr(c, R1, (uint64_t)__builtin_popcountll(ia64_rd(c, op->r[1])), ia64_rnat(c, op->r[1]));
  return IA64_NEXT;
}

/* ---- Executors: moves to and from predicates, branch and application registers ------------- */

/* mov pr=r2,mask17: p1..p63 whose mask bit is set take r2's bits (mask bit 16 = p16..p63) */
static int x_mov_to_pr(ia64_cpu *c, const ia64_op *op) {
  if (UNLIKELY(ia64_rnat(c, op->r[0]))) return ia64_nat_consumption(c, 0);
  uint64_t m = (uint64_t)op->imm;
  c->pr = ((c->pr & ~m) | (ia64_rd(c, op->r[0]) & m)) | 1;
  return IA64_NEXT;
}
/* mov pr.rot=imm44: p16..p63 */
static int x_mov_to_pr_rot(ia64_cpu *c, const ia64_op *op) {
  c->pr = (c->pr & 0xffff) | ((uint64_t)op->imm & ~UINT64_C(0xffff));
  return IA64_NEXT;
}
static int x_mov_from_pr(ia64_cpu *c, const ia64_op *op) {
  ia64_wr(c, R1, c->pr | 1, 0);
  return IA64_NEXT;
}
static int x_mov_from_ip(ia64_cpu *c, const ia64_op *op) {
  ia64_wr(c, R1, c->ip, 0);
  return IA64_NEXT;
}
/* mov b1=r2 (the hints and tag only help prediction) */
static int x_mov_to_br(ia64_cpu *c, const ia64_op *op) {
  if (UNLIKELY(ia64_rnat(c, op->r[1]))) return ia64_nat_consumption(c, 0);
  c->br[op->r[0]] = ia64_rd(c, op->r[1]);
  return IA64_NEXT;
}
static int x_mov_from_br(ia64_cpu *c, const ia64_op *op) {
  ia64_wr(c, R1, c->br[op->r[1]], 0);
  return IA64_NEXT;
}

/* mov.i: the I unit reaches ar.pfs, ar.lc, ar.ec and the ignored ARs 48-63 and 112-127;
 * ia64_ar_get/ia64_ar_put (regs.c) make every check of the AR itself (unit, reserved fields
 * and registers) and give pfs/lc/ec their semantics. An M-unit AR is an Illegal Operation
 * even when the source is NaT, so that check comes first here. */
static inline bool ar_i_unit(unsigned ar) { return (ar >= 48 && ar <= 66) || ar >= 112; }

/* mov.i ar3=r2 */
static int x_mov_to_ar_i(ia64_cpu *c, const ia64_op *op) {
  if (UNLIKELY(!ar_i_unit(op->r[0]))) return ia64_illegal_op(c);
  if (UNLIKELY(ia64_rnat(c, op->r[1]))) return ia64_nat_consumption(c, 0);
  return ia64_ar_put(c, op->r[0], true, ia64_rd(c, op->r[1])) < 0 ? IA64_FAULTED : IA64_NEXT;
}
/* mov.i ar3=imm8 */
static int x_mov_to_ar_i_imm(ia64_cpu *c, const ia64_op *op) {
  return ia64_ar_put(c, op->r[0], true, (uint64_t)op->imm) < 0 ? IA64_FAULTED : IA64_NEXT;
}
/* mov.i r1=ar3 */
static int x_mov_from_ar_i(ia64_cpu *c, const ia64_op *op) {
  uint64_t v;
  if (ia64_ar_get(c, op->r[1], true, &v) < 0) return IA64_FAULTED;
  ia64_wr(c, R1, v, 0);
  return IA64_NEXT;
}

/* chk.s.i r2,target25: a NaT in r2 means the speculation failed: branch to the recovery code */
static int x_chk_s_i(ia64_cpu *c, const ia64_op *op) {
  if (LIKELY(!ia64_rnat(c, op->r[0]))) return IA64_NEXT;
  c->ip += (uint64_t)op->imm;
  c->ri = 0;
  return IA64_BRANCHED;
}

/* ---- Forms ---------------------------------------------------------------------------------- */

#define A IA64_UNIT_A
#define I IA64_UNIT_I
#define MAJ(v) ENC(40, 37, v)
#define MAJM MSK(40, 37)

/* A1-A3: major 8, x2a = 0, ve = 0, x4, x2b */
#define A1(x4, x2b) MAJ(8) | ENC(32, 29, x4) | ENC(28, 27, x2b), MAJM | MSK(35, 27)
#define A2(x4) MAJ(8) | ENC(32, 29, x4), MAJM | MSK(35, 29)
/* A6 (tb = 0), A7 (tb = 1, r0 on the left) and A8 (x2 = 2/3: no tb, bit 36 is imm8's sign) */
#define A6(op, x2, ta, c) MAJ(op) | ENC(35, 34, x2) | ENC(33, 33, ta) | ENC(12, 12, c), MAJM | MSK(36, 33) | MSK(12, 12)
#define A7(op, x2, ta, c) MAJ(op) | ENC(36, 36, 1) | ENC(35, 34, x2) | ENC(33, 33, ta) | ENC(12, 12, c), MAJM | MSK(36, 33) | MSK(12, 12)
#define A8(op, x2, ta, c) MAJ(op) | ENC(35, 34, x2) | ENC(33, 33, ta) | ENC(12, 12, c), MAJM | MSK(35, 33) | MSK(12, 12)
/* I5/I7/I9 (major 7): za, zb, ve = 0, x2a, x2b, x2c */
#define I7(za, zb, x2a, x2b, x2c)                                                              \
  MAJ(7) | ENC(36, 36, za) | ENC(33, 33, zb) | ENC(35, 34, x2a) | ENC(29, 28, x2b) | ENC(31, 30, x2c), MAJM | MSK(36, 28)
/* I16/I17/I30 (major 5, x2 = 0): ta, tb, y (13), c; tf also has bit 19 */
#define I16(ta, tb, y, c) MAJ(5) | ENC(33, 33, ta) | ENC(36, 36, tb) | ENC(13, 13, y) | ENC(12, 12, c), MAJM | MSK(36, 33) | MSK(13, 12)
#define I30(ta, tb, c) MAJ(5) | ENC(33, 33, ta) | ENC(36, 36, tb) | ENC(19, 19, 1) | ENC(13, 13, 1) | ENC(12, 12, c), \
  MAJM | MSK(36, 33) | MSK(19, 19) | MSK(13, 12)
/* I10-I14 (major 5): x2, x, and y at 13 (I11) or 26 (I12/I13) */
#define I5X(x2, x) MAJ(5) | ENC(35, 34, x2) | ENC(33, 33, x), MAJM | MSK(35, 33)
#define I11(y) MAJ(5) | ENC(35, 34, 1) | ENC(13, 13, y), MAJM | MSK(35, 33) | MSK(13, 13)
#define I12(y) MAJ(5) | ENC(35, 34, 1) | ENC(33, 33, 1) | ENC(26, 26, y), MAJM | MSK(35, 33) | MSK(26, 26)
/* Major 0: x3, and x6 for x3 = 0 */
#define I0X3(x3) MAJ(0) | ENC(35, 33, x3), MAJM | MSK(35, 33)
#define I0X6(x6) MAJ(0) | ENC(32, 27, x6), MAJM | MSK(35, 27)
/* I21 mov b1=r2: x3 = 7, x (22) .ret, ih (23) .imp, wh (21:20) 0 sptk / 1 none / 2 dptk */
#define I21(wh) MAJ(0) | ENC(35, 33, 7) | ENC(21, 20, wh), MAJM | MSK(35, 33) | MSK(21, 20)

/* The compares of one width (w = "cmp" or "cmp4"; x2 = 0/1 for registers, 2/3 for imm8;
 * sfx names the width's normal-type executors). */
#define CMPS(w, x2r, x2i, R4, sfx)                                                                  \
  {w ".lt", A, "%p1,%p2=%r2,%r3", x_cmp_rr_lt##sfx, REL_LT | R4, A6(0xc, x2r, 0, 0)},           \
  {w ".lt%unc", A, "%p1,%p2=%r2,%r3", x_cmp_rr_unc, REL_LT | R4, A6(0xc, x2r, 0, 1)},        \
  {w ".eq.and", A, "%p1,%p2=%r2,%r3", x_cmp_rr_and, REL_EQ | R4, A6(0xc, x2r, 1, 0)},        \
  {w ".ne.and", A, "%p1,%p2=%r2,%r3", x_cmp_rr_and, REL_NE | R4, A6(0xc, x2r, 1, 1)},        \
  {w ".ltu", A, "%p1,%p2=%r2,%r3", x_cmp_rr_ltu##sfx, REL_LTU | R4, A6(0xd, x2r, 0, 0)},         \
  {w ".ltu%unc", A, "%p1,%p2=%r2,%r3", x_cmp_rr_unc, REL_LTU | R4, A6(0xd, x2r, 0, 1)},      \
  {w ".eq.or", A, "%p1,%p2=%r2,%r3", x_cmp_rr_or, REL_EQ | R4, A6(0xd, x2r, 1, 0)},          \
  {w ".ne.or", A, "%p1,%p2=%r2,%r3", x_cmp_rr_or, REL_NE | R4, A6(0xd, x2r, 1, 1)},          \
  {w ".eq", A, "%p1,%p2=%r2,%r3", x_cmp_rr_eq##sfx, REL_EQ | R4, A6(0xe, x2r, 0, 0)},           \
  {w ".eq%unc", A, "%p1,%p2=%r2,%r3", x_cmp_rr_unc, REL_EQ | R4, A6(0xe, x2r, 0, 1)},        \
  {w ".eq.or.andcm", A, "%p1,%p2=%r2,%r3", x_cmp_rr_orandcm, REL_EQ | R4, A6(0xe, x2r, 1, 0)}, \
  {w ".ne.or.andcm", A, "%p1,%p2=%r2,%r3", x_cmp_rr_orandcm, REL_NE | R4, A6(0xe, x2r, 1, 1)}, \
  {w ".gt.and", A, "%p1,%p2=r0,%r3", x_cmp_ir_and, REL_GT | R4, A7(0xc, x2r, 0, 0)},          \
  {w ".le.and", A, "%p1,%p2=r0,%r3", x_cmp_ir_and, REL_LE | R4, A7(0xc, x2r, 0, 1)},          \
  {w ".ge.and", A, "%p1,%p2=r0,%r3", x_cmp_ir_and, REL_GE | R4, A7(0xc, x2r, 1, 0)},          \
  {w ".lt.and", A, "%p1,%p2=r0,%r3", x_cmp_ir_and, REL_LT | R4, A7(0xc, x2r, 1, 1)},          \
  {w ".gt.or", A, "%p1,%p2=r0,%r3", x_cmp_ir_or, REL_GT | R4, A7(0xd, x2r, 0, 0)},            \
  {w ".le.or", A, "%p1,%p2=r0,%r3", x_cmp_ir_or, REL_LE | R4, A7(0xd, x2r, 0, 1)},            \
  {w ".ge.or", A, "%p1,%p2=r0,%r3", x_cmp_ir_or, REL_GE | R4, A7(0xd, x2r, 1, 0)},            \
  {w ".lt.or", A, "%p1,%p2=r0,%r3", x_cmp_ir_or, REL_LT | R4, A7(0xd, x2r, 1, 1)},            \
  {w ".gt.or.andcm", A, "%p1,%p2=r0,%r3", x_cmp_ir_orandcm, REL_GT | R4, A7(0xe, x2r, 0, 0)}, \
  {w ".le.or.andcm", A, "%p1,%p2=r0,%r3", x_cmp_ir_orandcm, REL_LE | R4, A7(0xe, x2r, 0, 1)}, \
  {w ".ge.or.andcm", A, "%p1,%p2=r0,%r3", x_cmp_ir_orandcm, REL_GE | R4, A7(0xe, x2r, 1, 0)}, \
  {w ".lt.or.andcm", A, "%p1,%p2=r0,%r3", x_cmp_ir_orandcm, REL_LT | R4, A7(0xe, x2r, 1, 1)}, \
  {w ".lt", A, "%p1,%p2=%imm8,%r3", x_cmp_ir_lt##sfx, REL_LT | R4, A8(0xc, x2i, 0, 0)},          \
  {w ".lt%unc", A, "%p1,%p2=%imm8,%r3", x_cmp_ir_unc, REL_LT | R4, A8(0xc, x2i, 0, 1)},       \
  {w ".eq.and", A, "%p1,%p2=%imm8,%r3", x_cmp_ir_and, REL_EQ | R4, A8(0xc, x2i, 1, 0)},       \
  {w ".ne.and", A, "%p1,%p2=%imm8,%r3", x_cmp_ir_and, REL_NE | R4, A8(0xc, x2i, 1, 1)},       \
  {w ".ltu", A, "%p1,%p2=%imm8,%r3", x_cmp_ir_ltu##sfx, REL_LTU | R4, A8(0xd, x2i, 0, 0)},        \
  {w ".ltu%unc", A, "%p1,%p2=%imm8,%r3", x_cmp_ir_unc, REL_LTU | R4, A8(0xd, x2i, 0, 1)},     \
  {w ".eq.or", A, "%p1,%p2=%imm8,%r3", x_cmp_ir_or, REL_EQ | R4, A8(0xd, x2i, 1, 0)},         \
  {w ".ne.or", A, "%p1,%p2=%imm8,%r3", x_cmp_ir_or, REL_NE | R4, A8(0xd, x2i, 1, 1)},         \
  {w ".eq", A, "%p1,%p2=%imm8,%r3", x_cmp_ir_eq##sfx, REL_EQ | R4, A8(0xe, x2i, 0, 0)},          \
  {w ".eq%unc", A, "%p1,%p2=%imm8,%r3", x_cmp_ir_unc, REL_EQ | R4, A8(0xe, x2i, 0, 1)},       \
  {w ".eq.or.andcm", A, "%p1,%p2=%imm8,%r3", x_cmp_ir_orandcm, REL_EQ | R4, A8(0xe, x2i, 1, 0)}, \
  {w ".ne.or.andcm", A, "%p1,%p2=%imm8,%r3", x_cmp_ir_orandcm, REL_NE | R4, A8(0xe, x2i, 1, 1)}

/* tbit, tnat or tf of every type (z = the .z sense's encoding c bit for and/or types). */
#define TESTS(name, opnds, X, ENCF, ...)                                                      \
  {name ".z", I, opnds, X##_none, 0, ENCF(0, 0, __VA_ARGS__ 0)},                              \
  {name ".z%unc", I, opnds, X##_unc, 0, ENCF(0, 0, __VA_ARGS__ 1)},                           \
  {name ".z.and", I, opnds, X##_and, 0, ENCF(0, 1, __VA_ARGS__ 0)},                           \
  {name ".nz.and", I, opnds, X##_and, 1, ENCF(0, 1, __VA_ARGS__ 1)},                          \
  {name ".z.or", I, opnds, X##_or, 0, ENCF(1, 0, __VA_ARGS__ 0)},                             \
  {name ".nz.or", I, opnds, X##_or, 1, ENCF(1, 0, __VA_ARGS__ 1)},                            \
  {name ".z.or.andcm", I, opnds, X##_orandcm, 0, ENCF(1, 1, __VA_ARGS__ 0)},                  \
  {name ".nz.or.andcm", I, opnds, X##_orandcm, 1, ENCF(1, 1, __VA_ARGS__ 1)}

const ia64_insn_desc ia64_tab_alu[] = {
  /* A1: add is in tab_core.c */
  {"sub", A, "%r1=%r2,%r3", x_sub, 0, A1(1, 1)},
  {"sub", A, "%r1=%r2,%r3,1", x_sub, 1, A1(1, 0)},
  {"addp4", A, "%r1=%r2,%r3", x_addp4, 0, A1(2, 0)},
  {"and", A, "%r1=%r2,%r3", x_and, 0, A1(3, 0)},
  {"andcm", A, "%r1=%r2,%r3", x_andcm, 0, A1(3, 1)},
  {"or", A, "%r1=%r2,%r3", x_or, 0, A1(3, 2)},
  {"xor", A, "%r1=%r2,%r3", x_xor, 0, A1(3, 3)},
  /* A2 */
  {"shladd", A, "%r1=%r2,%alu_count2,%r3", x_shladd, 0, A2(4)},
  {"shladdp4", A, "%r1=%r2,%alu_count2,%r3", x_shladdp4, 0, A2(6)},
  /* A3 */
  {"sub", A, "%r1=%imm8,%r3", x_sub_imm, 0, A1(9, 1)},
  {"and", A, "%r1=%imm8,%r3", x_and_imm, 0, A1(0xb, 0)},
  {"andcm", A, "%r1=%imm8,%r3", x_andcm_imm, 0, A1(0xb, 1)},
  {"or", A, "%r1=%imm8,%r3", x_or_imm, 0, A1(0xb, 2)},
  {"xor", A, "%r1=%imm8,%r3", x_xor_imm, 0, A1(0xb, 3)},
  /* A4: adds is in tab_core.c */
  {"addp4", A, "%r1=%imm14,%r3", x_addp4_imm, 0, MAJ(8) | ENC(35, 34, 3), MAJM | MSK(35, 33)},
  /* A6-A8 */
  CMPS("cmp", 0, 2, 0, ),
  CMPS("cmp4", 1, 3, REL_CMP4, 4),

  /* I5, I7: variable shifts; I9: popcnt */
  {"shl", I, "%r1=%r2,%r3", x_shl, 0, I7(1, 1, 0, 0, 1)},
  {"shr", I, "%r1=%r3,%r2", x_shr, 0, I7(1, 1, 0, 2, 0)},
  {"shr.u", I, "%r1=%r3,%r2", x_shr_u, 0, I7(1, 1, 0, 0, 0)},
  {"popcnt", I, "%r1=%r3", x_popcnt, 0, I7(0, 1, 1, 1, 2)},
  /* Itanium 9500 additions: objdump knows them, the CPU modelled here (up to the 9300
   * series) does not, so they are Illegal Operations like any unimplemented opcode. */
  {"mpy4", I, "%r1=%r2,%r3", ia64_x_illegal, 0, I7(1, 0, 0, 1, 3)},
  {"mpyshl4", I, "%r1=%r2,%r3", ia64_x_illegal, 0, I7(1, 0, 0, 3, 3)},
  {"clz", I, "%r1=%r3", ia64_x_illegal, 0, I7(0, 1, 1, 1, 3)},
  /* I10-I15 */
  {"shrp", I, "%r1=%r2,%r3,%alu_count6", x_shrp, 0, I5X(3, 0)},
  {"%alu_xmn.u", I, "%r1=%r3,%alu_pos6%alu_len6h%alu_xlen", x_extr_u, 0, I11(0)},
  {"%alu_xmn", I, "%r1=%r3,%alu_pos6%alu_len6h%alu_xlen", x_extr, 0, I11(1)},
  {"%alu_dzmn", I, "%r1=%r2,%alu_cpos6c%alu_len6h%alu_dzlen", x_depz, 0, I12(0)},
  {"dep.z", I, "%r1=%imm8,%alu_cpos6c,%alu_len6a", x_depz_imm, 0, I12(1)},
  {"dep", I, "%r1=%alu_imm1,%r3,%alu_cpos6b,%alu_len6a", x_dep_imm, 0, I5X(3, 1)},
  {"dep", I, "%r1=%r2,%r3,%alu_cpos6d,%alu_len4", x_dep, 0, MAJ(4), MAJM},
  /* I16, I17, I30 */
  TESTS("tbit", "%p1,%p2=%r3,%alu_pos6", x_tbit, I16, 0,),
  TESTS("tnat", "%p1,%p2=%r3", x_tnat, I16, 1,),
  TESTS("tf", "%p1,%p2=%alu_imm5b", x_tf, I30,),
  /* I20-I28: major 0 */
  {"chk.s.i", I, "%r2,%chk_tgt25", x_chk_s_i, 0, I0X3(1)},
  {"mov", I, "%b1=%r2", x_mov_to_br, 0, MAJ(0) | ENC(35, 33, 7) | ENC(21, 20, 1), MAJM | MSK(35, 33) | MSK(23, 20)},
  {"mov%alu_bret.sptk%alu_bimp", I, "%b1=%r2,%alu_tag13", x_mov_to_br, 0, I21(0)},
  {"mov%alu_bret%alu_bimp", I, "%b1=%r2,%alu_tag13", x_mov_to_br, 0, I21(1)},
  {"mov%alu_bret.dptk%alu_bimp", I, "%b1=%r2,%alu_tag13", x_mov_to_br, 0, I21(2)},
  {"mov", I, "%r1=%b2", x_mov_from_br, 0, I0X6(0x31)},
  {"mov", I, "pr=%r2,%alu_mask17", x_mov_to_pr, 0, I0X3(3)},
  {"mov", I, "pr.rot=%alu_imm44", x_mov_to_pr_rot, 0, I0X3(2)},
  {"mov", I, "%r1=ip", x_mov_from_ip, 0, I0X6(0x30)},
  {"mov", I, "%r1=pr", x_mov_from_pr, 0, I0X6(0x33)},
  {"mov.i", I, "%ar3=%r2", x_mov_to_ar_i, 0, I0X6(0x2a)},
  {"mov.i", I, "%ar3=%imm8", x_mov_to_ar_i_imm, 0, I0X6(0x0a)},
  {"mov.i", I, "%r1=%ar3", x_mov_from_ar_i, 0, I0X6(0x32)},
  {"zxt1", I, "%r1=%r3", x_zxt, 8, I0X6(0x10)},
  {"zxt2", I, "%r1=%r3", x_zxt, 16, I0X6(0x11)},
  {"zxt4", I, "%r1=%r3", x_zxt, 32, I0X6(0x12)},
  {"sxt1", I, "%r1=%r3", x_sxt, 8, I0X6(0x14)},
  {"sxt2", I, "%r1=%r3", x_sxt, 16, I0X6(0x15)},
  {"sxt4", I, "%r1=%r3", x_sxt, 32, I0X6(0x16)},
  {"czx1.l", I, "%r1=%r3", x_czx, -8, I0X6(0x18)},
  {"czx2.l", I, "%r1=%r3", x_czx, -16, I0X6(0x19)},
  {"czx1.r", I, "%r1=%r3", x_czx, 8, I0X6(0x1c)},
  {"czx2.r", I, "%r1=%r3", x_czx, 16, I0X6(0x1d)},
};
IA64_TAB_LEN(alu);
