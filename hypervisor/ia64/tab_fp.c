/* tab_fp.c — the floating-point family: every F-unit form (F1-F14: multiply-add and its
 * parallel and integer variants, compares and classes, reciprocal approximations, min/max,
 * merges and the other bit moves, conversions, status-field control) and the M-unit forms
 * that move FP values (M6-M12 loads, stores and load pairs, M18 setf, M19 getf).
 * Encodings follow the format tables of the Itanium SDM vol. 3, ch. 4; the text follows
 * ia64-linux-gnu-objdump, pseudo-ops included: fmpy/fadd/fsub/fnorm/fnmpy/xmpy (f2 = f0 or
 * f4 = f1, which masks can express, so those forms simply have more fixed bits), and mov,
 * fabs, fneg, fnegabs, fpabs, fpneg, fpnegabs, which depend on f2 == f3 and are therefore
 * printed by custom mnemonic kinds (fp_mrg_*) on the one fmerge form. objdump always spells
 * the status field (.s0) and never the fcmp/fclass pseudo-relations (gt, neq, nm...): those
 * assemble to the four encoded relations with operands or targets swapped.
 *
 * Forms that act when their qualifying predicate is false (fcmp.unc, fclass.unc, and
 * frcpa/frsqrta which clear p2) carry the qp_aux kind: the op always runs and reads the
 * predicate from op->aux; their status field then goes to op->imm (fp_sfi), not op->aux.
 * Fields other families define too are named as they do (p1, p2; the M-unit hints and
 * post-increments m_*). The executors are in exec_fp.c, the arithmetic in fp82.c. */
#include <stdio.h>

#include "fp82.h"
#include "internal.h"

/* ---- Operand kinds ------------------------------------------------------------------------- */

static int64_t x_f1(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 12, 6); }
static int64_t x_f2(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 19, 13); }
static int64_t x_f3(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 26, 20); }
static int64_t x_f4(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 33, 27); }
static int64_t x_sf(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 35, 34); }
/* F5: fclass7c (26:20) above fc2 (34:33), which holds the two sign bits. */
static int64_t x_class9(uint64_t s, uint64_t l) {
  (void)l;
  return (int64_t)(ia64_field(s, 26, 20) << 2 | ia64_field(s, 34, 33));
}
/* F12: amask7 in 19:13, omask7 in 26:20. */
static int64_t x_amask(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 19, 13); }
static int64_t x_omask(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 26, 20); }
/* F14: s (36) and imm20a (25:6), a bundle displacement. */
static int64_t x_tgt25(uint64_t s, uint64_t l) {
  (void)l;
  return ia64_sext(ia64_field(s, 36, 36) << 20 | ia64_field(s, 25, 6), 21) * 16;
}
/* fmerge's f2 together with f3 (bits 8+), for the pseudo-op printers; the op gets f2. */
static int64_t x_f2f3(uint64_t s, uint64_t l) { (void)l; return (int64_t)(ia64_field(s, 19, 13) | ia64_field(s, 26, 20) << 8); }

static void p_sf(char *b, size_t n, int64_t v, uint64_t ip) { (void)ip; snprintf(b, n, ".s%d", (int)v); }

/* The fmerge pseudo-ops. f2 == f3 gives mov/fneg (fpneg), else f2 == f0 gives fabs/fnegabs
 * (fpabs, fpnegabs); fpmerge.s has no mov. The operand kinds then drop "f2,". */
static unsigned mf2(int64_t v) { return (unsigned)v & 0x7f; }
static unsigned mf3(int64_t v) { return (unsigned)(v >> 8) & 0x7f; }
static void p_mrg_s(char *b, size_t n, int64_t v, uint64_t ip) {
  (void)ip;
  snprintf(b, n, "%s", mf2(v) == mf3(v) ? "mov" : mf2(v) == 0 ? "fabs" : "fmerge.s");
}
static void p_mrg_ns(char *b, size_t n, int64_t v, uint64_t ip) {
  (void)ip;
  snprintf(b, n, "%s", mf2(v) == mf3(v) ? "fneg" : mf2(v) == 0 ? "fnegabs" : "fmerge.ns");
}
static void p_pmrg_s(char *b, size_t n, int64_t v, uint64_t ip) {
  (void)ip;
  snprintf(b, n, "%s", mf2(v) == 0 ? "fpabs" : "fpmerge.s");
}
static void p_pmrg_ns(char *b, size_t n, int64_t v, uint64_t ip) {
  (void)ip;
  snprintf(b, n, "%s", mf2(v) == mf3(v) ? "fpneg" : mf2(v) == 0 ? "fpnegabs" : "fpmerge.ns");
}
static void p_mf2(char *b, size_t n, int64_t v, uint64_t ip) {
  (void)ip;
  if (mf2(v) == mf3(v) || mf2(v) == 0) snprintf(b, n, "%s", "");
  else snprintf(b, n, "f%u,", mf2(v));
}
static void p_pmf2(char *b, size_t n, int64_t v, uint64_t ip) {
  (void)ip;
  if (mf2(v) == 0) snprintf(b, n, "%s", "");
  else snprintf(b, n, "f%u,", mf2(v));
}

const ia64_opnd_kind ia64_opnds_fp[] = {
  {"fp_f1", IA64_OD_REG, IA64_OS_FR, 1, x_f1, NULL},           /* target: f0/f1 illegal */
  {"fp_f2", IA64_OD_REG, IA64_OS_FR, 0, x_f2, NULL},
  {"fp_f2d", IA64_OD_REG, IA64_OS_FR, 1, x_f2, NULL},          /* ldfp's second target */
  {"fp_f3", IA64_OD_REG, IA64_OS_FR, 0, x_f3, NULL},
  {"fp_f4", IA64_OD_REG, IA64_OS_FR, 0, x_f4, NULL},
  {"fp_sf", IA64_OD_AUX, IA64_OS_CUSTOM, 0, x_sf, p_sf},
  {"fp_sfi", IA64_OD_IMM, IA64_OS_CUSTOM, 0, x_sf, p_sf},      /* with fp_qp, which takes aux */
  {"fp_class9", IA64_OD_IMM, IA64_OS_HEX, 0, x_class9, NULL},
  {"fp_amask", IA64_OD_IMM, IA64_OS_HEX, 0, x_amask, NULL},
  {"fp_omask", IA64_OD_IMM, IA64_OS_HEX, 0, x_omask, NULL},
  {"fp_tgt25", IA64_OD_IMM, IA64_OS_TARGET, 0, x_tgt25, NULL},
  {"fp_mrg_s", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_f2f3, p_mrg_s},
  {"fp_mrg_ns", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_f2f3, p_mrg_ns},
  {"fp_pmrg_s", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_f2f3, p_pmrg_s},
  {"fp_pmrg_ns", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_f2f3, p_pmrg_ns},
  {"fp_mf2", IA64_OD_REG, IA64_OS_CUSTOM, 0, x_f2f3, p_mf2},   /* the op gets f2 (low byte) */
  {"fp_pmf2", IA64_OD_REG, IA64_OS_CUSTOM, 0, x_f2f3, p_pmf2},
  {0},
};

/* ---- Forms -------------------------------------------------------------------------------- */

#define F IA64_UNIT_F
#define M IA64_UNIT_M
#define MAJ(v) ENC(40, 37, v)
#define MAJM MSK(40, 37)
#define XA(v) ENC(36, 36, v)          /* F1-F3 x; also F6/F7 q */
#define XAM MSK(36, 36)
#define XB(v) ENC(33, 33, v)          /* F6-F14 x */
#define XBM MSK(33, 33)
#define FX6(v) ENC(32, 27, v)
#define FX6M MSK(32, 27)
#define F2Z MSK(19, 13)               /* f2 = f0: match 0 */
#define F4ONE ENC(33, 27, 1)          /* f4 = f1 */
#define F4M MSK(33, 27)
#define SFM MSK(35, 34)

/* F8-F13 (major 0/1, x = 0, x6). */
#define FOP(maj, x6) (MAJ(maj) | XB(0) | FX6(x6))
#define FOPM (MAJM | XBM | FX6M)

/* F1: the multiply-add family of major maj, x = xa, its pc (FP82_PC_*) and kind (0 fma,
 * 1 fms, 2 fnma), with the pseudo-ops it has. */
#define FMA_ARG(pc, kind) ((pc) | (kind) << 3)
#define F1(mn, maj, xa, arg) {mn "%fp_sf", F, "%fp_f1=%fp_f3,%fp_f4,%fp_f2", ia64_xf_fma, arg, MAJ(maj) | XA(xa), MAJM | XAM}
#define F1_MPY(mn, maj, xa, arg) {mn "%fp_sf", F, "%fp_f1=%fp_f3,%fp_f4", ia64_xf_fmpy, arg, MAJ(maj) | XA(xa), MAJM | XAM | F2Z}
#define F1_ADD(mn, maj, xa, arg) {mn "%fp_sf", F, "%fp_f1=%fp_f3,%fp_f2", ia64_xf_fadd, arg, MAJ(maj) | XA(xa) | F4ONE, MAJM | XAM | F4M}
#define F1_NORM(mn, maj, xa, arg) {mn "%fp_sf", F, "%fp_f1=%fp_f3", ia64_xf_fnorm, arg, MAJ(maj) | XA(xa) | F4ONE, MAJM | XAM | F4M | F2Z}
#define F1_ALL(s, maj, xa, pc)                                                                     \
  F1("fma" s, maj, xa, FMA_ARG(pc, 0)), F1_MPY("fmpy" s, maj, xa, FMA_ARG(pc, 0)),                \
  F1_ADD("fadd" s, maj, xa, FMA_ARG(pc, 0)), F1_NORM("fnorm" s, maj, xa, FMA_ARG(pc, 0))

/* F8 (x6 0x14-0x17): min/max, scalar (major 0) and parallel (major 1). */
#define F8(mn, maj, x6, ex, arg) {mn "%fp_sf", F, "%fp_f1=%fp_f2,%fp_f3", ex, arg, FOP(maj, x6), FOPM}
/* F9: bit moves, no status field. */
#define F9(mn, maj, x6, ex, arg) {mn, F, "%fp_f1=%fp_f2,%fp_f3", ex, arg, FOP(maj, x6), FOPM}
/* F10: conversions to integer (arg: bit 0 unsigned, bit 1 truncate). */
#define F10(mn, maj, x6, ex) {mn "%fp_sf", F, "%fp_f1=%fp_f2", ex, (x6) & 3, FOP(maj, x6), FOPM}
/* F4 fcmp: ra (33) and rb (36) pick the relation, ta (12) .unc. */
#define FCMP(mn, ra, rb, rel, ta)                                                                  \
  {"fcmp." mn "%qp_aux%fp_sfi", F, "%p1,%p2=%fp_f2,%fp_f3", ia64_xf_fcmp, (rel) | (ta) << 2, \
   MAJ(4) | ENC(33, 33, ra) | ENC(36, 36, rb) | ENC(12, 12, ta), MAJM | MSK(33, 33) | MSK(36, 36) | MSK(12, 12)}

/* M6-M12. The x6 of a load names its format (bits 1:0: e, 8, s, d) and type (bits 3:2: plain,
 * .s, .a, .sa; 0x1b fill; 0x20-0x27 .c.clr/.c.nc); the executors take x6 as their arg. */
#define MX(maj, m, x) (MAJ(maj) | ENC(36, 36, m) | ENC(27, 27, x))
#define MXM (MAJM | MSK(36, 36) | MSK(27, 27))
#define MX6(v) ENC(35, 30, v)
#define MX6M MSK(35, 30)
#define HINT(v) ENC(29, 28, v)
#define HINTM MSK(29, 28)
#define BIT28 ENC(28, 28, 1)
#define BIT28M MSK(28, 28)
/* A load type in its three addressing forms (M6, M7, M8): the update forms know only the
 * 2-bit hints 0, 1 and 3, so each has a hint-0 form and a bit-28 form. */
#define LDF(mn, x6)                                                                                \
  {mn "%m_ldhint3", M, "%fp_f1=[%r3]", ia64_xm_ldf, x6, MX(6, 0, 0) | MX6(x6), MXM | MX6M},          \
  {mn "%m_ldhint", M, "%fp_f1=[%r3],%r2", ia64_xm_ldf_reg, x6, MX(6, 1, 0) | MX6(x6) | HINT(0), MXM | MX6M | HINTM}, \
  {mn "%m_ldhint", M, "%fp_f1=[%r3],%r2", ia64_xm_ldf_reg, x6, MX(6, 1, 0) | MX6(x6) | BIT28, MXM | MX6M | BIT28M}, \
  {mn "%m_ldhint", M, "%fp_f1=[%r3],%m_imm9b", ia64_xm_ldf_imm, x6, MAJ(7) | MX6(x6) | HINT(0), MAJM | MX6M | HINTM}, \
  {mn "%m_ldhint", M, "%fp_f1=[%r3],%m_imm9b", ia64_xm_ldf_imm, x6, MAJ(7) | MX6(x6) | BIT28, MAJM | MX6M | BIT28M}
/* A format in its four load types. */
#define LDF_TYPES(f, x6)                                                                           \
  LDF("ldf" f, x6), LDF("ldf" f ".s", (x6) | 4), LDF("ldf" f ".a", (x6) | 8), LDF("ldf" f ".sa", (x6) | 12), \
  LDF("ldf" f ".c.clr", (x6) | 0x20), LDF("ldf" f ".c.nc", (x6) | 0x24)
/* Stores (M9, M10): the update form knows hints 0 and 3. */
#define STF(mn, x6)                                                                                \
  {mn "%m_sthint3", M, "[%r3]=%fp_f2", ia64_xm_stf, x6, MX(6, 0, 0) | MX6(x6), MXM | MX6M},          \
  {mn "%m_sthint", M, "[%r3]=%fp_f2,%m_imm9a", ia64_xm_stf_imm, x6, MAJ(7) | MX6(x6) | HINT(0), MAJM | MX6M | HINTM}, \
  {mn "%m_sthint", M, "[%r3]=%fp_f2,%m_imm9a", ia64_xm_stf_imm, x6, MAJ(7) | MX6(x6) | HINT(3), MAJM | MX6M | HINTM}
/* Load pairs (M11, M12), post-increment by the size of the pair. */
#define LDFP(mn, x6, inc)                                                                          \
  {mn "%m_ldhint", M, "%fp_f1,%fp_f2d=[%r3]", ia64_xm_ldfp, x6, MX(6, 0, 1) | MX6(x6) | HINT(0), MXM | MX6M | HINTM}, \
  {mn "%m_ldhint", M, "%fp_f1,%fp_f2d=[%r3]", ia64_xm_ldfp, x6, MX(6, 0, 1) | MX6(x6) | BIT28, MXM | MX6M | BIT28M}, \
  {mn "%m_ldhint", M, "%fp_f1,%fp_f2d=[%r3]," inc, ia64_xm_ldfp_inc, x6, MX(6, 1, 1) | MX6(x6) | HINT(0), MXM | MX6M | HINTM}, \
  {mn "%m_ldhint", M, "%fp_f1,%fp_f2d=[%r3]," inc, ia64_xm_ldfp_inc, x6, MX(6, 1, 1) | MX6(x6) | BIT28, MXM | MX6M | BIT28M}
#define LDFP_TYPES(f, x6, inc)                                                                     \
  LDFP("ldfp" f, x6, inc), LDFP("ldfp" f ".s", (x6) | 4, inc), LDFP("ldfp" f ".a", (x6) | 8, inc),  \
  LDFP("ldfp" f ".sa", (x6) | 12, inc), LDFP("ldfp" f ".c.clr", (x6) | 0x20, inc),                \
  LDFP("ldfp" f ".c.nc", (x6) | 0x24, inc)

const ia64_insn_desc ia64_tab_fp[] = {
  /* F1: fma/fms/fnma in the three precisions, and the parallel forms */
  F1_ALL("", 0x8, 0, FP82_PC_SF),
  F1_ALL(".s", 0x8, 1, FP82_PC_S),
  F1_ALL(".d", 0x9, 0, FP82_PC_D),
  F1("fms", 0xa, 0, FMA_ARG(FP82_PC_SF, 1)), F1_ADD("fsub", 0xa, 0, FMA_ARG(FP82_PC_SF, 1)),
  F1("fms.s", 0xa, 1, FMA_ARG(FP82_PC_S, 1)), F1_ADD("fsub.s", 0xa, 1, FMA_ARG(FP82_PC_S, 1)),
  F1("fms.d", 0xb, 0, FMA_ARG(FP82_PC_D, 1)), F1_ADD("fsub.d", 0xb, 0, FMA_ARG(FP82_PC_D, 1)),
  F1("fnma", 0xc, 0, FMA_ARG(FP82_PC_SF, 2)), F1_MPY("fnmpy", 0xc, 0, FMA_ARG(FP82_PC_SF, 2)),
  F1("fnma.s", 0xc, 1, FMA_ARG(FP82_PC_S, 2)), F1_MPY("fnmpy.s", 0xc, 1, FMA_ARG(FP82_PC_S, 2)),
  F1("fnma.d", 0xd, 0, FMA_ARG(FP82_PC_D, 2)), F1_MPY("fnmpy.d", 0xd, 0, FMA_ARG(FP82_PC_D, 2)),
  {"fpma%fp_sf", F, "%fp_f1=%fp_f3,%fp_f4,%fp_f2", ia64_xf_fpma, 0, MAJ(0x9) | XA(1), MAJM | XAM},
  {"fpmpy%fp_sf", F, "%fp_f1=%fp_f3,%fp_f4", ia64_xf_fpmpy, 0, MAJ(0x9) | XA(1), MAJM | XAM | F2Z},
  {"fpms%fp_sf", F, "%fp_f1=%fp_f3,%fp_f4,%fp_f2", ia64_xf_fpma, 1, MAJ(0xb) | XA(1), MAJM | XAM},
  {"fpnma%fp_sf", F, "%fp_f1=%fp_f3,%fp_f4,%fp_f2", ia64_xf_fpma, 2, MAJ(0xd) | XA(1), MAJM | XAM},
  {"fpnmpy%fp_sf", F, "%fp_f1=%fp_f3,%fp_f4", ia64_xf_fpmpy, 2, MAJ(0xd) | XA(1), MAJM | XAM | F2Z},

  /* F2: xma (x2: 0 .l, 2 .hu, 3 .h), xmpy when f2 = f0; F3: fselect */
  {"xma.l", F, "%fp_f1=%fp_f3,%fp_f4,%fp_f2", ia64_xf_xma, 0, MAJ(0xe) | XA(1) | ENC(35, 34, 0), MAJM | XAM | SFM},
  {"xma.hu", F, "%fp_f1=%fp_f3,%fp_f4,%fp_f2", ia64_xf_xma, 2, MAJ(0xe) | XA(1) | ENC(35, 34, 2), MAJM | XAM | SFM},
  {"xma.h", F, "%fp_f1=%fp_f3,%fp_f4,%fp_f2", ia64_xf_xma, 3, MAJ(0xe) | XA(1) | ENC(35, 34, 3), MAJM | XAM | SFM},
  {"xmpy.l", F, "%fp_f1=%fp_f3,%fp_f4", ia64_xf_xmpy, 0, MAJ(0xe) | XA(1) | ENC(35, 34, 0), MAJM | XAM | SFM | F2Z},
  {"xmpy.hu", F, "%fp_f1=%fp_f3,%fp_f4", ia64_xf_xmpy, 2, MAJ(0xe) | XA(1) | ENC(35, 34, 2), MAJM | XAM | SFM | F2Z},
  {"xmpy.h", F, "%fp_f1=%fp_f3,%fp_f4", ia64_xf_xmpy, 3, MAJ(0xe) | XA(1) | ENC(35, 34, 3), MAJM | XAM | SFM | F2Z},
  {"fselect", F, "%fp_f1=%fp_f3,%fp_f4,%fp_f2", ia64_xf_fselect, 0, MAJ(0xe) | XA(0), MAJM | XAM},

  /* F4: fcmp (arg: relation | .unc << 2) */
  FCMP("eq", 0, 0, FP82_EQ, 0), FCMP("lt", 0, 1, FP82_LT, 0), FCMP("le", 1, 0, FP82_LE, 0),
  FCMP("unord", 1, 1, FP82_UNORD, 0),
  FCMP("eq.unc", 0, 0, FP82_EQ, 1), FCMP("lt.unc", 0, 1, FP82_LT, 1), FCMP("le.unc", 1, 0, FP82_LE, 1),
  FCMP("unord.unc", 1, 1, FP82_UNORD, 1),

  /* F5: fclass (arg: .unc) */
  {"fclass.m%qp_aux", F, "%p1,%p2=%fp_f2,%fp_class9", ia64_xf_fclass, 0, MAJ(5) | ENC(12, 12, 0), MAJM | MSK(12, 12)},
  {"fclass.m.unc%qp_aux", F, "%p1,%p2=%fp_f2,%fp_class9", ia64_xf_fclass, 1, MAJ(5) | ENC(12, 12, 1), MAJM | MSK(12, 12)},

  /* F6, F7: reciprocal and reciprocal square root approximations (x = 1, q) */
  {"frcpa%qp_aux%fp_sfi", F, "%fp_f1,%p2=%fp_f2,%fp_f3", ia64_xf_frcpa, 0, MAJ(0) | XB(1) | XA(0), MAJM | XBM | XAM},
  {"frsqrta%qp_aux%fp_sfi", F, "%fp_f1,%p2=%fp_f3", ia64_xf_frsqrta, 0, MAJ(0) | XB(1) | XA(1), MAJM | XBM | XAM},
  {"fprcpa%qp_aux%fp_sfi", F, "%fp_f1,%p2=%fp_f2,%fp_f3", ia64_xf_fprcpa, 0, MAJ(1) | XB(1) | XA(0), MAJM | XBM | XAM},
  {"fprsqrta%qp_aux%fp_sfi", F, "%fp_f1,%p2=%fp_f3", ia64_xf_fprsqrta, 0, MAJ(1) | XB(1) | XA(1), MAJM | XBM | XAM},

  /* F8: min/max and the parallel compares */
  F8("fmin", 0, 0x14, ia64_xf_fminmax, FP82_MIN), F8("fmax", 0, 0x15, ia64_xf_fminmax, FP82_MAX),
  F8("famin", 0, 0x16, ia64_xf_fminmax, FP82_AMIN), F8("famax", 0, 0x17, ia64_xf_fminmax, FP82_AMAX),
  F8("fpmin", 1, 0x14, ia64_xf_fpminmax, FP82_MIN), F8("fpmax", 1, 0x15, ia64_xf_fpminmax, FP82_MAX),
  F8("fpamin", 1, 0x16, ia64_xf_fpminmax, FP82_AMIN), F8("fpamax", 1, 0x17, ia64_xf_fpminmax, FP82_AMAX),
  F8("fpcmp.eq", 1, 0x30, ia64_xf_fpcmp, 0), F8("fpcmp.lt", 1, 0x31, ia64_xf_fpcmp, 1),
  F8("fpcmp.le", 1, 0x32, ia64_xf_fpcmp, 2), F8("fpcmp.unord", 1, 0x33, ia64_xf_fpcmp, 3),
  F8("fpcmp.neq", 1, 0x34, ia64_xf_fpcmp, 4), F8("fpcmp.nlt", 1, 0x35, ia64_xf_fpcmp, 5),
  F8("fpcmp.nle", 1, 0x36, ia64_xf_fpcmp, 6), F8("fpcmp.ord", 1, 0x37, ia64_xf_fpcmp, 7),

  /* F9: merges (with their pseudo-ops), mixes, sign extensions, pack, swaps, logic */
  {"%fp_mrg_s", F, "%fp_f1=%fp_mf2%fp_f3", ia64_xf_fmerge, 0, FOP(0, 0x10), FOPM},
  {"%fp_mrg_ns", F, "%fp_f1=%fp_mf2%fp_f3", ia64_xf_fmerge, 1, FOP(0, 0x11), FOPM},
  F9("fmerge.se", 0, 0x12, ia64_xf_fmerge, 2),
  {"%fp_pmrg_s", F, "%fp_f1=%fp_pmf2%fp_f3", ia64_xf_fpmerge, 0, FOP(1, 0x10), FOPM},
  {"%fp_pmrg_ns", F, "%fp_f1=%fp_mf2%fp_f3", ia64_xf_fpmerge, 1, FOP(1, 0x11), FOPM},
  F9("fpmerge.se", 1, 0x12, ia64_xf_fpmerge, 2),
  F9("fmix.lr", 0, 0x39, ia64_xf_fmix, 0), F9("fmix.r", 0, 0x3a, ia64_xf_fmix, 1),
  F9("fmix.l", 0, 0x3b, ia64_xf_fmix, 2),
  F9("fsxt.r", 0, 0x3c, ia64_xf_fsxt, 0), F9("fsxt.l", 0, 0x3d, ia64_xf_fsxt, 1),
  F9("fpack", 0, 0x28, ia64_xf_fpack, 0),
  F9("fswap", 0, 0x34, ia64_xf_fswap, 0), F9("fswap.nl", 0, 0x35, ia64_xf_fswap, 1),
  F9("fswap.nr", 0, 0x36, ia64_xf_fswap, 2),
  F9("fand", 0, 0x2c, ia64_xf_flogic, 0), F9("fandcm", 0, 0x2d, ia64_xf_flogic, 1),
  F9("for", 0, 0x2e, ia64_xf_flogic, 2), F9("fxor", 0, 0x2f, ia64_xf_flogic, 3),

  /* F10, F11: conversions */
  F10("fcvt.fx", 0, 0x18, ia64_xf_fcvt_fx), F10("fcvt.fxu", 0, 0x19, ia64_xf_fcvt_fx),
  F10("fcvt.fx.trunc", 0, 0x1a, ia64_xf_fcvt_fx), F10("fcvt.fxu.trunc", 0, 0x1b, ia64_xf_fcvt_fx),
  F10("fpcvt.fx", 1, 0x18, ia64_xf_fpcvt_fx), F10("fpcvt.fxu", 1, 0x19, ia64_xf_fpcvt_fx),
  F10("fpcvt.fx.trunc", 1, 0x1a, ia64_xf_fpcvt_fx), F10("fpcvt.fxu.trunc", 1, 0x1b, ia64_xf_fpcvt_fx),
  {"fcvt.xf", F, "%fp_f1=%fp_f2", ia64_xf_fcvt_xf, 0, FOP(0, 0x1c), FOPM},

  /* F12-F14: status field control */
  {"fsetc%fp_sf", F, "%fp_amask,%fp_omask", ia64_xf_fsetc, 0, FOP(0, 0x04), FOPM},
  {"fclrf%fp_sf", F, "", ia64_xf_fclrf, 0, FOP(0, 0x05), FOPM},
  {"fchkf%fp_sf", F, "%fp_tgt25", ia64_xf_fchkf, 0, FOP(0, 0x08), FOPM},

  /* M6-M8: loads */
  LDF_TYPES("e", 0), LDF_TYPES("8", 1), LDF_TYPES("s", 2), LDF_TYPES("d", 3),
  LDF("ldf.fill", 0x1b),
  /* M9, M10: stores */
  STF("stfe", 0x30), STF("stf8", 0x31), STF("stfs", 0x32), STF("stfd", 0x33), STF("stf.spill", 0x3b),
  /* M11, M12: load pairs */
  LDFP_TYPES("8", 1, "16"), LDFP_TYPES("s", 2, "8"), LDFP_TYPES("d", 3, "16"),
  /* M18 setf, M19 getf (x6 0x1c-0x1f: sig, exp, s, d) */
  {"setf.sig", M, "%fp_f1=%r2", ia64_xm_setf, 0, MX(6, 0, 1) | MX6(0x1c), MXM | MX6M},
  {"setf.exp", M, "%fp_f1=%r2", ia64_xm_setf, 1, MX(6, 0, 1) | MX6(0x1d), MXM | MX6M},
  {"setf.s", M, "%fp_f1=%r2", ia64_xm_setf, 2, MX(6, 0, 1) | MX6(0x1e), MXM | MX6M},
  {"setf.d", M, "%fp_f1=%r2", ia64_xm_setf, 3, MX(6, 0, 1) | MX6(0x1f), MXM | MX6M},
  {"getf.sig", M, "%r1=%fp_f2", ia64_xm_getf, 0, MX(4, 0, 1) | MX6(0x1c), MXM | MX6M},
  {"getf.exp", M, "%r1=%fp_f2", ia64_xm_getf, 1, MX(4, 0, 1) | MX6(0x1d), MXM | MX6M},
  {"getf.s", M, "%r1=%fp_f2", ia64_xm_getf, 2, MX(4, 0, 1) | MX6(0x1e), MXM | MX6M},
  {"getf.d", M, "%r1=%fp_f2", ia64_xm_getf, 3, MX(4, 0, 1) | MX6(0x1f), MXM | MX6M},
};
IA64_TAB_LEN(fp);
