/* fp82.h — IA-64 floating-point arithmetic on the 82-bit register format, in software.
 *
 * Internal to hypervisor/ia64/ (the fp family: tab_fp.c, exec_fp.c; and tests). Everything
 * here is pure: a value in, a value out, with an fp82_env that carries the controls of one
 * FPSR status field in (rounding, precision, exponent range, ftz, which traps are enabled)
 * and the IEEE outcome out (flags raised, faults and traps to deliver, ISR.fpa). The
 * executors turn that outcome into FPSR updates and interruptions; nothing here touches a
 * CPU. The semantics follow the pseudo-code of the Itanium SDM vol. 3 (fp_ieee_round,
 * *_exception_fault_check, fp_ieee_recip, ...): results are rounded once, from the exact
 * value, to the precision and exponent range the instruction and status field select. */
#ifndef HPVM_IA64_FP82_H
#define HPVM_IA64_FP82_H

#include <stdbool.h>
#include <stdint.h>

#include "ia64.h"

/* ---- Register format ------------------------------------------------------------------- */

#define FP82_BIAS 0xffff                /* register exponent bias */
#define FP82_EXP_MAX 0x1ffff            /* infinities, NaNs */
#define FP82_EXP_NATVAL 0x1fffe
#define FP82_EXP_INT 0x1003e            /* 2^63: an integer held in the significand */
#define FP82_INT_BIT (UINT64_C(1) << 63)

static inline ia64_fr fp82_make(unsigned sign, uint32_t exp, uint64_t sig) {
  return (ia64_fr){.sig = sig, .exp = exp, .sign = sign};
}
static inline ia64_fr fp82_natval(void) { return fp82_make(0, FP82_EXP_NATVAL, 0); }
static inline ia64_fr fp82_int(uint64_t v) { return fp82_make(0, FP82_EXP_INT, v); }
/* The "real indefinite" QNaN produced by invalid operations. */
static inline ia64_fr fp82_qnan(void) { return fp82_make(1, FP82_EXP_MAX, UINT64_C(0xc000000000000000)); }

static inline bool fp82_is_natval(ia64_fr f) { return f.sign == 0 && f.exp == FP82_EXP_NATVAL && f.sig == 0; }
static inline bool fp82_is_nan(ia64_fr f) {
  return f.exp == FP82_EXP_MAX && (f.sig >> 63) && (f.sig << 1);
}
static inline bool fp82_is_snan(ia64_fr f) { return f.exp == FP82_EXP_MAX && (f.sig >> 62) == 2 && (f.sig << 2); }
static inline bool fp82_is_qnan(ia64_fr f) { return f.exp == FP82_EXP_MAX && (f.sig >> 62) == 3; }
static inline bool fp82_is_inf(ia64_fr f) { return f.exp == FP82_EXP_MAX && f.sig == FP82_INT_BIT; }
static inline bool fp82_is_zero(ia64_fr f) { return f.exp == 0 && f.sig == 0; }
static inline bool fp82_is_pseudo_zero(ia64_fr f) {
  return f.exp != 0 && f.exp != FP82_EXP_MAX && f.sig == 0 && !fp82_is_natval(f);
}
static inline bool fp82_is_normal(ia64_fr f) { return f.exp != 0 && f.exp != FP82_EXP_MAX && (f.sig >> 63); }
/* Unnormalized: integer bit clear with a finite exponent (pseudo-zeros included), or the
 * double-extended (pseudo-)denormals held with exponent 0. */
static inline bool fp82_is_unorm(ia64_fr f) {
  return (f.exp != 0 && f.exp != FP82_EXP_MAX && !(f.sig >> 63)) || (f.exp == 0 && f.sig != 0);
}
/* Pseudo-NaNs and pseudo-infinities (all-ones exponent, integer bit clear). */
static inline bool fp82_is_unsupported(ia64_fr f) { return f.exp == FP82_EXP_MAX && !(f.sig >> 63); }
static inline bool fp82_is_finite(ia64_fr f) { return f.exp != FP82_EXP_MAX; }
static inline ia64_fr fp82_quiet(ia64_fr f) { f.sig |= UINT64_C(1) << 62; return f; }

/* ---- Status fields ----------------------------------------------------------------------- */

/* IEEE exception bits, in the order of FPSR.traps and of a status field's flags. */
enum { FP82_V = 1, FP82_D = 2, FP82_Z = 4, FP82_O = 8, FP82_U = 16, FP82_I = 32 };

/* Precision control of an instruction: .s/.d completers, the status field's pc (fma with
 * no completer), 64-bit/17-bit (fcmp, fcvt, frcpa, ...), or parallel single (fp*). */
typedef enum fp82_pc { FP82_PC_SF, FP82_PC_S, FP82_PC_D, FP82_PC_NONE, FP82_PC_SIMD } fp82_pc;

enum { FP82_RN = 0, FP82_RM = 1, FP82_RP = 2, FP82_RZ = 3 };

typedef struct fp82_env {
  /* in */
  uint8_t rc;        /* FP82_RN .. FP82_RZ */
  uint8_t prec;      /* significand bits: 24, 53 or 64 */
  uint8_t ftz;       /* flush tiny results to zero (sf.ftz with underflow traps disabled) */
  uint8_t disabled;  /* FP82_* whose trap is disabled (FPSR.traps, or all when sf.td) */
  int32_t emax, emin;/* unbiased exponent range of normal results */
  /* out */
  uint8_t flags;     /* FP82_* raised */
  uint8_t faults;    /* V/D/Z raised with the trap enabled: fault, nothing written */
  uint8_t traps;     /* O/U/I raised with the trap enabled: trap after the write */
  uint8_t fpa;       /* the delivered result's magnitude exceeds the exact one (ISR.fpa) */
} fp82_env;

/* Status field sf (0..3) of an FPSR value: its 13 bits (controls in 6:0, flags in 12:7). */
static inline unsigned fp82_sf_bits(uint64_t fpsr, unsigned sf) { return (unsigned)(fpsr >> (6 + 13 * sf)) & 0x1fff; }
void fp82_env_init(fp82_env *e, uint64_t fpsr, unsigned sf, fp82_pc pc);
/* FPSR after the operation: the status field's flags or'ed with e->flags. */
static inline uint64_t fp82_fpsr_update(uint64_t fpsr, unsigned sf, unsigned flags) {
  return fpsr | (uint64_t)(flags & 0x3f) << (13 + 13 * sf);
}

/* ---- Arithmetic --------------------------------------------------------------------------- */

/* f3 * f4 + f2 with one rounding (fma/fms/fnma/fmpy/fadd/fnorm ...). neg_prod negates the
 * product (fnma), neg_add the addend (fms); has_add is false when f2 is f0, in which case
 * the product alone is rounded (so -0 * x keeps its sign). NaTVal operands are the
 * caller's business. */
ia64_fr fp82_fma(ia64_fr f3, ia64_fr f4, ia64_fr f2, bool neg_prod, bool neg_add, bool has_add, fp82_env *e);

/* The same on the single-precision halves of a parallel operation (fpma/fpms/fpnma): the
 * operands are single-precision bit patterns, the result one too (unbounded exponent,
 * wrapped, when an overflow/underflow trap is taken). */
uint32_t fp82_fma_single(uint32_t f3, uint32_t f4, uint32_t f2, bool neg_prod, bool neg_add, bool has_add, fp82_env *e);

/* frcpa/fprcpa/frsqrta/fprsqrta: the result and the predicate (1: the approximation was
 * delivered and the software sequence must run; 0: f1 holds the final answer). */
ia64_fr fp82_frcpa(ia64_fr f2, ia64_fr f3, unsigned *pred, fp82_env *e);
ia64_fr fp82_frsqrta(ia64_fr f3, unsigned *pred, fp82_env *e);
uint32_t fp82_fprcpa_half(uint32_t f2, uint32_t f3, unsigned *pred, fp82_env *e);
uint32_t fp82_fprsqrta_half(uint32_t f3, unsigned *pred, fp82_env *e);
/* The architectural approximations themselves (SDM fp_ieee_recip/fp_ieee_recip_sqrt) for a
 * normalized finite non-zero operand. */
ia64_fr fp82_recip_approx(ia64_fr den);
ia64_fr fp82_rsqrt_approx(ia64_fr root);

/* fcmp relations (the encoded ones; gt/ge/n* are operand or predicate swaps). */
enum { FP82_EQ = 0, FP82_LT = 1, FP82_LE = 2, FP82_UNORD = 3 };
bool fp82_compare(ia64_fr a, ia64_fr b, unsigned rel, fp82_env *e);
bool fp82_compare_single(uint32_t a, uint32_t b, unsigned rel, fp82_env *e);
/* fmin/fmax/famin/famax: true when f2 is selected (else f3). */
enum { FP82_MIN = 0, FP82_MAX = 1, FP82_AMIN = 2, FP82_AMAX = 3 };
bool fp82_minmax(ia64_fr f2, ia64_fr f3, unsigned kind, fp82_env *e);
bool fp82_minmax_single(uint32_t f2, uint32_t f3, unsigned kind, fp82_env *e);
/* fclass: membership of f in the class mask (NaTVal with bit 8 clear is the caller's). */
bool fp82_class(ia64_fr f, unsigned fclass9);

/* fcvt.fx/fxu[.trunc] and the parallel halves: the integer (INTEGER_INDEFINITE on invalid). */
uint64_t fp82_to_int(ia64_fr f, bool is_signed, bool trunc, fp82_env *e);
uint32_t fp82_to_int_single(uint32_t f, bool is_signed, bool trunc, fp82_env *e);
/* fcvt.xf: the significand of f read as a signed 64-bit integer, exactly. */
ia64_fr fp82_from_int(uint64_t v);

/* ---- Memory and integer formats ------------------------------------------------------------ */

ia64_fr fp82_from_single(uint32_t v);
ia64_fr fp82_from_double(uint64_t v);
ia64_fr fp82_from_ext(const uint8_t mem[10]);
ia64_fr fp82_from_spill(const uint8_t mem[16]);
uint32_t fp82_to_single(ia64_fr f);              /* stfs/getf.s/fpack: no rounding, bits moved */
uint64_t fp82_to_double(ia64_fr f);
void fp82_to_ext(ia64_fr f, uint8_t mem[10]);
void fp82_to_spill(ia64_fr f, uint8_t mem[16]);

/* ---- Executors (exec_fp.c) for the forms of tab_fp.c ---------------------------------------- */

struct ia64_op;
#define FP82_EXECUTORS(X)                                                                          \
  X(xf_fma) X(xf_fmpy) X(xf_fadd) X(xf_fnorm) X(xf_fpma) X(xf_fpmpy) X(xf_xma) X(xf_xmpy)          \
  X(xf_fselect) X(xf_fcmp) X(xf_fclass) X(xf_frcpa) X(xf_frsqrta) X(xf_fprcpa) X(xf_fprsqrta)      \
  X(xf_fminmax) X(xf_fpminmax) X(xf_fpcmp) X(xf_fmerge) X(xf_fpmerge) X(xf_fmix) X(xf_fsxt)        \
  X(xf_fpack) X(xf_fswap) X(xf_flogic) X(xf_fcvt_fx) X(xf_fpcvt_fx) X(xf_fcvt_xf) X(xf_fsetc)      \
  X(xf_fclrf) X(xf_fchkf) X(xm_ldf) X(xm_ldf_reg) X(xm_ldf_imm) X(xm_stf) X(xm_stf_imm)            \
  X(xm_ldfp) X(xm_ldfp_inc) X(xm_setf) X(xm_getf)
#define FP82_DECLARE_EXECUTOR(n) int ia64_##n(ia64_cpu *c, const struct ia64_op *op);
FP82_EXECUTORS(FP82_DECLARE_EXECUTOR)
#undef FP82_DECLARE_EXECUTOR

#endif
