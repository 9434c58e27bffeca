/* exec_fp.c — the executors of the floating-point family (forms in tab_fp.c).
 *
 * Each executor follows its instruction's pseudo-code in the SDM vol. 3: the Disabled
 * FP-Register check (PSR.dfl for f2-f31, PSR.dfh for f32-f127), NaTVal operands giving a
 * NaTVal result (or cleared predicates, or a NaT), then the arithmetic in fp82.c under the
 * status field's controls. Its outcome decides the rest: a Floating-point Exception fault
 * (Invalid, Denormal, Zero-divide with their trap enabled) leaves the target and FPSR
 * untouched; otherwise the result is written, the status field's flags are or'ed in, PSR.mfl
 * or PSR.mfh is set, and an enabled Overflow, Underflow or Inexact becomes a Floating-point
 * Exception trap after the write (c->intr.trap). The ISR.code bits are those the Linux FP
 * handler reads: for faults v/d/z in bits 0/1/2 (the low half of a parallel operation in
 * bits 4/5/6); for traps o/u/i/fpa in bits 11/12/13/14 (the low half in 7/8/9/10).
 *
 * Loads and stores move the memory formats (single, double, double-extended in 16-byte
 * aligned slots, 8-byte integer, 16-byte spill) through the software TLB; each access must
 * be aligned to its slot (ldfe/stfe move 10 bytes of a 16-byte slot, the pairs need the
 * pair's alignment), else Unaligned Data Reference. Speculative loads defer a fault to a
 * NaTVal under the integer loads' policy (ia64_spec_defer, ia64_spec_take_ed); they
 * and advanced loads never touch uncacheable memory. Advanced loads and checks use the ALAT
 * with is_fp set, keyed by f1's physical register (for a pair too); storing a NaTVal is a
 * Register NaT Consumption fault, except by stf.spill. With PSR.be every value is
 * byte-reversed within itself (the pair's two halves keep their addresses). Plain
 * ldfs/ldfd/ldf8 and stfs/stfd/stf8 that hit the software TLB take a short path. */
#include "fp82.h"
#include "internal.h"

/* ---- Registers, FPSR, interruptions ------------------------------------------------------- */

static inline ia64_fr fr_get(ia64_cpu *c, unsigned f) { return *ia64_frp(c, f); }
static inline void fr_put(ia64_cpu *c, unsigned f, ia64_fr v) {
  *ia64_frp(c, f) = v;
  c->psr |= f < 32 ? IA64_PSR_MFL : IA64_PSR_MFH;
}
static inline uint64_t sig_of(ia64_cpu *c, unsigned f) { return ia64_frp(c, f)->sig; }
static inline bool natval(ia64_cpu *c, unsigned f) { return fp82_is_natval(*ia64_frp(c, f)); }

/* The ISR.code of a Disabled FP-Register fault for the registers named: bit 0 when PSR.dfl
 * covers one of them (f2-f31), bit 1 when PSR.dfh does (f32-f127). Linux runs processes with
 * PSR.dfh set until they touch f32-f127, so this is on the common path: no loops. */
static inline unsigned df_half(unsigned r) { return r < 2 ? 0 : r < 32 ? 1 : 2; }
#define FP_ENABLED(c, a, b, d, e, isr)                                                             \
  do {                                                                                             \
    if (UNLIKELY((c)->psr & (IA64_PSR_DFL | IA64_PSR_DFH))) {                                      \
      unsigned dc_ = (df_half(a) | df_half(b) | df_half(d) | df_half(e)) & (unsigned)((c)->psr >> 18) & 3; \
      if (dc_) return ia64_raise(c, IA64_VEC_DISABLED_FP, dc_ | (isr), 0);                         \
    }                                                                                              \
  } while (0)

/* Fault ISR bits of one operation (or half): the highest-priority one. */
static unsigned fault_bits(unsigned f) { return f & FP82_V ? 1 : f & FP82_Z ? 4 : f & FP82_D ? 2 : 0; }
/* Trap ISR bits (scalar or high half; the low half is these >> 4). */
static unsigned trap_bits(const fp82_env *e, unsigned iflags) {
  return (e->traps & FP82_O ? 1u << 11 : 0) | (e->traps & FP82_U ? 1u << 12 : 0) |
         (iflags & FP82_I ? 1u << 13 : 0) | (unsigned)e->fpa << 14;
}

static int fp_fault(ia64_cpu *c, unsigned code) { return ia64_raise(c, IA64_VEC_FP_FAULT, code, 0); }
static int fp_trap(ia64_cpu *c, unsigned code) {
  ia64_raise(c, IA64_VEC_FP_TRAP, code, 0);
  c->intr.trap = true;
  return IA64_FAULTED;
}

static inline void set_flags(ia64_cpu *c, unsigned sf, unsigned flags) {
  if (flags) c->ar[IA64_AR_FPSR] = fp82_fpsr_update(c->ar[IA64_AR_FPSR], sf, flags);
}

/* The end of a scalar operation: fault, or write, flags and maybe a trap. */
static int finish(ia64_cpu *c, unsigned f1, unsigned sf, ia64_fr r, const fp82_env *e) {
  if (UNLIKELY(e->faults)) return fp_fault(c, fault_bits(e->faults));
  fr_put(c, f1, r);
  set_flags(c, sf, e->flags);
  if (UNLIKELY(e->traps)) return fp_trap(c, trap_bits(e, e->traps));
  return IA64_NEXT;
}

/* The end of a parallel operation: its two halves' outcomes joined. */
static int finish_pair(ia64_cpu *c, unsigned f1, unsigned sf, uint64_t sig, const fp82_env *h, const fp82_env *l) {
  if (UNLIKELY(h->faults | l->faults)) return fp_fault(c, fault_bits(h->faults) | fault_bits(l->faults) << 4);
  fr_put(c, f1, fp82_int(sig));
  set_flags(c, sf, h->flags | l->flags);
  if (UNLIKELY(h->traps | l->traps)) {
    unsigned code = (h->traps ? trap_bits(h, h->traps | h->flags) : 0) |
                    (l->traps ? trap_bits(l, l->traps | l->flags) >> 4 : 0);
    return fp_trap(c, code);
  }
  return IA64_NEXT;
}

static inline uint64_t fpsr_of(const ia64_cpu *c) { return c->ar[IA64_AR_FPSR]; }
static inline uint32_t hi32(uint64_t v) { return (uint32_t)(v >> 32); }
static inline uint32_t lo32(uint64_t v) { return (uint32_t)v; }
static inline uint64_t pair(uint32_t h, uint32_t l) { return (uint64_t)h << 32 | l; }

/* ---- F1, F2, F3: multiply-add, parallel multiply-add, integer multiply-add, select -------- */

/* op->arg: pc (fp82_pc) | kind << 3 (0 fma, 1 fms, 2 fnma); op->aux: the status field. */
static inline int do_fma(ia64_cpu *c, const ia64_op *op, unsigned f1, unsigned f3, unsigned f4, unsigned f2) {
  FP_ENABLED(c, f1, f2, f3, f4, 0);
  ia64_fr a = fr_get(c, f3), b = fr_get(c, f4), d = fr_get(c, f2);
  if (UNLIKELY(fp82_is_natval(a) || fp82_is_natval(b) || fp82_is_natval(d))) {
    fr_put(c, f1, fp82_natval());
    return IA64_NEXT;
  }
  fp82_env e;
  unsigned sf = op->aux, kind = (unsigned)op->arg >> 3;
  fp82_env_init(&e, fpsr_of(c), sf, (fp82_pc)(op->arg & 7));
  ia64_fr r = fp82_fma(a, b, d, kind == 2, kind == 1, f2 != 0, &e);
  return finish(c, f1, sf, r, &e);
}
int ia64_xf_fma(ia64_cpu *c, const ia64_op *op) { return do_fma(c, op, op->r[0], op->r[1], op->r[2], op->r[3]); }
int ia64_xf_fmpy(ia64_cpu *c, const ia64_op *op) { return do_fma(c, op, op->r[0], op->r[1], op->r[2], 0); }
int ia64_xf_fadd(ia64_cpu *c, const ia64_op *op) { return do_fma(c, op, op->r[0], op->r[1], 1, op->r[2]); }
int ia64_xf_fnorm(ia64_cpu *c, const ia64_op *op) { return do_fma(c, op, op->r[0], op->r[1], 1, 0); }

/* fpma/fpms/fpnma (arg: kind) on the two single-precision halves. */
static inline int do_fpma(ia64_cpu *c, const ia64_op *op, unsigned f1, unsigned f3, unsigned f4, unsigned f2) {
  FP_ENABLED(c, f1, f2, f3, f4, 0);
  if (UNLIKELY(natval(c, f2) || natval(c, f3) || natval(c, f4))) {
    fr_put(c, f1, fp82_natval());
    return IA64_NEXT;
  }
  uint64_t a = sig_of(c, f3), b = sig_of(c, f4), d = sig_of(c, f2);
  unsigned sf = op->aux, kind = (unsigned)op->arg;
  fp82_env h, l;
  fp82_env_init(&h, fpsr_of(c), sf, FP82_PC_SIMD);
  l = h;
  uint32_t rh = fp82_fma_single(hi32(a), hi32(b), hi32(d), kind == 2, kind == 1, f2 != 0, &h);
  uint32_t rl = fp82_fma_single(lo32(a), lo32(b), lo32(d), kind == 2, kind == 1, f2 != 0, &l);
  return finish_pair(c, f1, sf, pair(rh, rl), &h, &l);
}
int ia64_xf_fpma(ia64_cpu *c, const ia64_op *op) { return do_fpma(c, op, op->r[0], op->r[1], op->r[2], op->r[3]); }
int ia64_xf_fpmpy(ia64_cpu *c, const ia64_op *op) { return do_fpma(c, op, op->r[0], op->r[1], op->r[2], 0); }

/* xma.l/.hu/.h (arg 0/2/3): the 128-bit product of the significands plus f2's. */
static inline int do_xma(ia64_cpu *c, const ia64_op *op, unsigned f1, unsigned f3, unsigned f4, unsigned f2) {
  FP_ENABLED(c, f1, f2, f3, f4, 0);
  if (UNLIKELY(natval(c, f2) || natval(c, f3) || natval(c, f4))) {
    fr_put(c, f1, fp82_natval());
    return IA64_NEXT;
  }
  __extension__ typedef unsigned __int128 u128;
  __extension__ typedef __int128 s128;
  uint64_t a = sig_of(c, f3), b = sig_of(c, f4), d = sig_of(c, f2), r;
  switch (op->arg) {
  case 0: r = a * b + d; break;
  case 2: r = (uint64_t)(((u128)a * b + d) >> 64); break;
  default: r = (uint64_t)((u128)((s128)(int64_t)a * (int64_t)b + (int64_t)d) >> 64); break;
  }
  fr_put(c, f1, fp82_int(r));
  return IA64_NEXT;
}
int ia64_xf_xma(ia64_cpu *c, const ia64_op *op) { return do_xma(c, op, op->r[0], op->r[1], op->r[2], op->r[3]); }
int ia64_xf_xmpy(ia64_cpu *c, const ia64_op *op) { return do_xma(c, op, op->r[0], op->r[1], op->r[2], 0); }

/* fselect f1=f3,f4,f2: f3's significand bits where f4 has ones, f2's elsewhere. */
int ia64_xf_fselect(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], f3 = op->r[1], f4 = op->r[2], f2 = op->r[3];
  FP_ENABLED(c, f1, f2, f3, f4, 0);
  if (natval(c, f2) || natval(c, f3) || natval(c, f4)) {
    fr_put(c, f1, fp82_natval());
    return IA64_NEXT;
  }
  uint64_t m = sig_of(c, f4);
  fr_put(c, f1, fp82_int((sig_of(c, f3) & m) | (sig_of(c, f2) & ~m)));
  return IA64_NEXT;
}

/* ---- F4, F5: compare and class (always run: qp in op->aux) ---------------------------------- */

/* When the qualifying predicate is false: .unc forms clear both targets. */
static int unc_false(ia64_cpu *c, unsigned p1, unsigned p2, bool unc) {
  if (!unc) return IA64_NEXT;
  if (p1 == p2) return ia64_illegal_op(c);
  ia64_pwr(c, p1, 0);
  ia64_pwr(c, p2, 0);
  return IA64_NEXT;
}

/* fcmp.rel[.unc].sf p1,p2=f2,f3 (arg: relation | .unc << 2; op->imm: sf). */
int ia64_xf_fcmp(ia64_cpu *c, const ia64_op *op) {
  unsigned p1 = op->r[0], p2 = op->r[1], f2 = op->r[2], f3 = op->r[3];
  if (!ia64_prd(c, op->aux)) return unc_false(c, p1, p2, op->arg & 4);
  if (p1 == p2) return ia64_illegal_op(c);
  FP_ENABLED(c, f2, f3, 0, 0, 0);
  ia64_fr a = fr_get(c, f2), b = fr_get(c, f3);
  if (fp82_is_natval(a) || fp82_is_natval(b)) {
    ia64_pwr(c, p1, 0);
    ia64_pwr(c, p2, 0);
    return IA64_NEXT;
  }
  unsigned sf = (unsigned)op->imm;
  fp82_env e;
  fp82_env_init(&e, fpsr_of(c), sf, FP82_PC_NONE);
  bool r = fp82_compare(a, b, op->arg & 3, &e);
  if (e.faults) return fp_fault(c, fault_bits(e.faults));
  ia64_pwr(c, p1, r);
  ia64_pwr(c, p2, !r);
  set_flags(c, sf, e.flags);
  return IA64_NEXT;
}

/* fclass.m[.unc] p1,p2=f2,fclass9 (arg: .unc). */
int ia64_xf_fclass(ia64_cpu *c, const ia64_op *op) {
  unsigned p1 = op->r[0], p2 = op->r[1], f2 = op->r[2], m = (unsigned)op->imm;
  if (!ia64_prd(c, op->aux)) return unc_false(c, p1, p2, op->arg);
  if (p1 == p2) return ia64_illegal_op(c);
  FP_ENABLED(c, f2, 0, 0, 0, 0);
  ia64_fr f = fr_get(c, f2);
  if (fp82_is_natval(f) && !(m & 0x100)) {
    ia64_pwr(c, p1, 0);
    ia64_pwr(c, p2, 0);
    return IA64_NEXT;
  }
  bool r = fp82_class(f, m);
  ia64_pwr(c, p1, r);
  ia64_pwr(c, p2, !r);
  return IA64_NEXT;
}

/* ---- F6, F7: reciprocal approximations (always run: p2 is cleared when qp is false) ------- */

static int approx_end(ia64_cpu *c, unsigned f1, unsigned p2, unsigned sf, ia64_fr r, unsigned pred, const fp82_env *e) {
  if (e->faults) return fp_fault(c, fault_bits(e->faults));
  fr_put(c, f1, r);
  ia64_pwr(c, p2, pred);
  set_flags(c, sf, e->flags);
  if (UNLIKELY(e->traps)) return fp_trap(c, trap_bits(e, e->traps));
  return IA64_NEXT;
}

int ia64_xf_frcpa(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], p2 = op->r[1], f2 = op->r[2], f3 = op->r[3], sf = (unsigned)op->imm;
  if (!ia64_prd(c, op->aux)) {
    ia64_pwr(c, p2, 0);
    return IA64_NEXT;
  }
  FP_ENABLED(c, f1, f2, f3, 0, 0);
  ia64_fr a = fr_get(c, f2), b = fr_get(c, f3);
  if (fp82_is_natval(a) || fp82_is_natval(b)) {
    fr_put(c, f1, fp82_natval());
    ia64_pwr(c, p2, 0);
    return IA64_NEXT;
  }
  fp82_env e;
  unsigned pred;
  fp82_env_init(&e, fpsr_of(c), sf, FP82_PC_NONE);
  ia64_fr r = fp82_frcpa(a, b, &pred, &e);
  return approx_end(c, f1, p2, sf, r, pred, &e);
}

int ia64_xf_frsqrta(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], p2 = op->r[1], f3 = op->r[2], sf = (unsigned)op->imm;
  if (!ia64_prd(c, op->aux)) {
    ia64_pwr(c, p2, 0);
    return IA64_NEXT;
  }
  FP_ENABLED(c, f1, f3, 0, 0, 0);
  ia64_fr b = fr_get(c, f3);
  if (fp82_is_natval(b)) {
    fr_put(c, f1, fp82_natval());
    ia64_pwr(c, p2, 0);
    return IA64_NEXT;
  }
  fp82_env e;
  unsigned pred;
  fp82_env_init(&e, fpsr_of(c), sf, FP82_PC_NONE);
  ia64_fr r = fp82_frsqrta(b, &pred, &e);
  return approx_end(c, f1, p2, sf, r, pred, &e);
}

static int approx_pair_end(ia64_cpu *c, unsigned f1, unsigned p2, unsigned sf, uint64_t sig, unsigned pred,
                           const fp82_env *h, const fp82_env *l) {
  if (h->faults | l->faults) return fp_fault(c, fault_bits(h->faults) | fault_bits(l->faults) << 4);
  fr_put(c, f1, fp82_int(sig));
  ia64_pwr(c, p2, pred);
  set_flags(c, sf, h->flags | l->flags);
  return IA64_NEXT;
}

int ia64_xf_fprcpa(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], p2 = op->r[1], f2 = op->r[2], f3 = op->r[3], sf = (unsigned)op->imm;
  if (!ia64_prd(c, op->aux)) {
    ia64_pwr(c, p2, 0);
    return IA64_NEXT;
  }
  FP_ENABLED(c, f1, f2, f3, 0, 0);
  if (natval(c, f2) || natval(c, f3)) {
    fr_put(c, f1, fp82_natval());
    ia64_pwr(c, p2, 0);
    return IA64_NEXT;
  }
  uint64_t a = sig_of(c, f2), b = sig_of(c, f3);
  fp82_env h, l;
  unsigned ph, pl;
  fp82_env_init(&h, fpsr_of(c), sf, FP82_PC_SIMD);
  l = h;
  uint32_t rh = fp82_fprcpa_half(hi32(a), hi32(b), &ph, &h);
  uint32_t rl = fp82_fprcpa_half(lo32(a), lo32(b), &pl, &l);
  return approx_pair_end(c, f1, p2, sf, pair(rh, rl), ph && pl, &h, &l);
}

int ia64_xf_fprsqrta(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], p2 = op->r[1], f3 = op->r[2], sf = (unsigned)op->imm;
  if (!ia64_prd(c, op->aux)) {
    ia64_pwr(c, p2, 0);
    return IA64_NEXT;
  }
  FP_ENABLED(c, f1, f3, 0, 0, 0);
  if (natval(c, f3)) {
    fr_put(c, f1, fp82_natval());
    ia64_pwr(c, p2, 0);
    return IA64_NEXT;
  }
  uint64_t b = sig_of(c, f3);
  fp82_env h, l;
  unsigned ph, pl;
  fp82_env_init(&h, fpsr_of(c), sf, FP82_PC_SIMD);
  l = h;
  uint32_t rh = fp82_fprsqrta_half(hi32(b), &ph, &h);
  uint32_t rl = fp82_fprsqrta_half(lo32(b), &pl, &l);
  return approx_pair_end(c, f1, p2, sf, pair(rh, rl), ph && pl, &h, &l);
}

/* ---- F8: min/max and parallel compare ------------------------------------------------------ */

int ia64_xf_fminmax(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], f2 = op->r[1], f3 = op->r[2], sf = op->aux;
  FP_ENABLED(c, f1, f2, f3, 0, 0);
  ia64_fr a = fr_get(c, f2), b = fr_get(c, f3);
  if (fp82_is_natval(a) || fp82_is_natval(b)) {
    fr_put(c, f1, fp82_natval());
    return IA64_NEXT;
  }
  fp82_env e;
  fp82_env_init(&e, fpsr_of(c), sf, FP82_PC_NONE);
  bool pick2 = fp82_minmax(a, b, (unsigned)op->arg, &e);
  return finish(c, f1, sf, pick2 ? a : b, &e);
}

int ia64_xf_fpminmax(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], f2 = op->r[1], f3 = op->r[2], sf = op->aux;
  FP_ENABLED(c, f1, f2, f3, 0, 0);
  if (natval(c, f2) || natval(c, f3)) {
    fr_put(c, f1, fp82_natval());
    return IA64_NEXT;
  }
  uint64_t a = sig_of(c, f2), b = sig_of(c, f3);
  fp82_env h, l;
  fp82_env_init(&h, fpsr_of(c), sf, FP82_PC_SIMD);
  l = h;
  uint32_t rh = fp82_minmax_single(hi32(a), hi32(b), (unsigned)op->arg, &h) ? hi32(a) : hi32(b);
  uint32_t rl = fp82_minmax_single(lo32(a), lo32(b), (unsigned)op->arg, &l) ? lo32(a) : lo32(b);
  return finish_pair(c, f1, sf, pair(rh, rl), &h, &l);
}

/* fpcmp (arg: relation | negated << 2): all ones where the relation holds. */
int ia64_xf_fpcmp(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], f2 = op->r[1], f3 = op->r[2], sf = op->aux;
  FP_ENABLED(c, f1, f2, f3, 0, 0);
  if (natval(c, f2) || natval(c, f3)) {
    fr_put(c, f1, fp82_natval());
    return IA64_NEXT;
  }
  uint64_t a = sig_of(c, f2), b = sig_of(c, f3);
  unsigned rel = op->arg & 3;
  bool neg = op->arg & 4;
  fp82_env h, l;
  fp82_env_init(&h, fpsr_of(c), sf, FP82_PC_SIMD);
  l = h;
  bool rh = fp82_compare_single(hi32(a), hi32(b), rel, &h) ^ neg;
  bool rl = fp82_compare_single(lo32(a), lo32(b), rel, &l) ^ neg;
  return finish_pair(c, f1, sf, pair(rh ? ~0u : 0, rl ? ~0u : 0), &h, &l);
}

/* ---- F9: merges and the other moves of bits -------------------------------------------------- */

/* Reads f2 and f3 for the two-source moves; false (after writing NaTVal) for a NaTVal. */
static inline bool two_sources(ia64_cpu *c, unsigned f1, unsigned f2, unsigned f3, ia64_fr *a, ia64_fr *b) {
  *a = fr_get(c, f2);
  *b = fr_get(c, f3);
  if (fp82_is_natval(*a) || fp82_is_natval(*b)) {
    fr_put(c, f1, fp82_natval());
    return false;
  }
  return true;
}

/* fmerge.s/.ns/.se (arg 0/1/2): sign (and exponent) from f2, the rest from f3. */
int ia64_xf_fmerge(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], f2 = op->r[1], f3 = op->r[2];
  ia64_fr a, b;
  FP_ENABLED(c, f1, f2, f3, 0, 0);
  if (!two_sources(c, f1, f2, f3, &a, &b)) return IA64_NEXT;
  switch (op->arg) {
  case 0: b.sign = a.sign; break;
  case 1: b.sign = !a.sign; break;
  default: b.sign = a.sign, b.exp = a.exp; break;
  }
  fr_put(c, f1, b);
  return IA64_NEXT;
}

/* fpmerge.s/.ns/.se on both halves. */
int ia64_xf_fpmerge(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], f2 = op->r[1], f3 = op->r[2];
  ia64_fr a, b;
  FP_ENABLED(c, f1, f2, f3, 0, 0);
  if (!two_sources(c, f1, f2, f3, &a, &b)) return IA64_NEXT;
  const uint64_t sign = UINT64_C(0x8000000080000000), se = UINT64_C(0xff800000ff800000);
  uint64_t r;
  switch (op->arg) {
  case 0: r = (a.sig & sign) | (b.sig & ~sign); break;
  case 1: r = (~a.sig & sign) | (b.sig & ~sign); break;
  default: r = (a.sig & se) | (b.sig & ~se); break;
  }
  fr_put(c, f1, fp82_int(r));
  return IA64_NEXT;
}

/* fmix.lr/.r/.l (arg 0/1/2): a half of f2 beside a half of f3. */
int ia64_xf_fmix(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], f2 = op->r[1], f3 = op->r[2];
  ia64_fr a, b;
  FP_ENABLED(c, f1, f2, f3, 0, 0);
  if (!two_sources(c, f1, f2, f3, &a, &b)) return IA64_NEXT;
  uint64_t r;
  switch (op->arg) {
  case 0: r = pair(hi32(a.sig), lo32(b.sig)); break;
  case 1: r = pair(lo32(a.sig), lo32(b.sig)); break;
  default: r = pair(hi32(a.sig), hi32(b.sig)); break;
  }
  fr_put(c, f1, fp82_int(r));
  return IA64_NEXT;
}

/* fsxt.r/.l (arg 0/1): the sign of f2's right/left single extended to 32 bits, beside f3's
 * right/left single. */
int ia64_xf_fsxt(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], f2 = op->r[1], f3 = op->r[2];
  ia64_fr a, b;
  FP_ENABLED(c, f1, f2, f3, 0, 0);
  if (!two_sources(c, f1, f2, f3, &a, &b)) return IA64_NEXT;
  uint64_t r = op->arg ? pair(a.sig >> 63 ? ~0u : 0, hi32(b.sig)) : pair((a.sig >> 31) & 1 ? ~0u : 0, lo32(b.sig));
  fr_put(c, f1, fp82_int(r));
  return IA64_NEXT;
}

/* fpack: f2 and f3 in single-precision memory format, side by side. */
int ia64_xf_fpack(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], f2 = op->r[1], f3 = op->r[2];
  ia64_fr a, b;
  FP_ENABLED(c, f1, f2, f3, 0, 0);
  if (!two_sources(c, f1, f2, f3, &a, &b)) return IA64_NEXT;
  fr_put(c, f1, fp82_int(pair(fp82_to_single(a), fp82_to_single(b))));
  return IA64_NEXT;
}

/* fswap/.nl/.nr (arg 0/1/2): f2's left single and f3's right single, swapped; .nl negates the
 * new left one, .nr the new right one. */
int ia64_xf_fswap(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], f2 = op->r[1], f3 = op->r[2];
  ia64_fr a, b;
  FP_ENABLED(c, f1, f2, f3, 0, 0);
  if (!two_sources(c, f1, f2, f3, &a, &b)) return IA64_NEXT;
  uint32_t left = lo32(b.sig), right = hi32(a.sig);
  if (op->arg == 1) left ^= 0x80000000u;
  if (op->arg == 2) right ^= 0x80000000u;
  fr_put(c, f1, fp82_int(pair(left, right)));
  return IA64_NEXT;
}

/* fand/fandcm/for/fxor (arg 0-3) on the significands. */
int ia64_xf_flogic(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], f2 = op->r[1], f3 = op->r[2];
  ia64_fr a, b;
  FP_ENABLED(c, f1, f2, f3, 0, 0);
  if (!two_sources(c, f1, f2, f3, &a, &b)) return IA64_NEXT;
  uint64_t r;
  switch (op->arg) {
  case 0: r = a.sig & b.sig; break;
  case 1: r = a.sig & ~b.sig; break;
  case 2: r = a.sig | b.sig; break;
  default: r = a.sig ^ b.sig; break;
  }
  fr_put(c, f1, fp82_int(r));
  return IA64_NEXT;
}

/* ---- F10, F11: conversions -------------------------------------------------------------------- */

/* fcvt.fx/.fxu[.trunc] (arg: bit 0 unsigned, bit 1 truncate). */
int ia64_xf_fcvt_fx(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], f2 = op->r[1], sf = op->aux;
  FP_ENABLED(c, f1, f2, 0, 0, 0);
  ia64_fr a = fr_get(c, f2);
  if (fp82_is_natval(a)) {
    fr_put(c, f1, fp82_natval());
    return IA64_NEXT;
  }
  fp82_env e;
  fp82_env_init(&e, fpsr_of(c), sf, FP82_PC_NONE);
  uint64_t v = fp82_to_int(a, !(op->arg & 1), op->arg & 2, &e);
  return finish(c, f1, sf, fp82_int(v), &e);
}

int ia64_xf_fpcvt_fx(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], f2 = op->r[1], sf = op->aux;
  FP_ENABLED(c, f1, f2, 0, 0, 0);
  if (natval(c, f2)) {
    fr_put(c, f1, fp82_natval());
    return IA64_NEXT;
  }
  uint64_t a = sig_of(c, f2);
  bool is_signed = !(op->arg & 1), trunc = op->arg & 2;
  fp82_env h, l;
  fp82_env_init(&h, fpsr_of(c), sf, FP82_PC_SIMD);
  l = h;
  uint32_t rh = fp82_to_int_single(hi32(a), is_signed, trunc, &h);
  uint32_t rl = fp82_to_int_single(lo32(a), is_signed, trunc, &l);
  return finish_pair(c, f1, sf, pair(rh, rl), &h, &l);
}

/* fcvt.xf: f2's significand as a signed integer, exactly. */
int ia64_xf_fcvt_xf(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], f2 = op->r[1];
  FP_ENABLED(c, f1, f2, 0, 0, 0);
  ia64_fr a = fr_get(c, f2);
  fr_put(c, f1, fp82_is_natval(a) ? a : fp82_from_int(a.sig));
  return IA64_NEXT;
}

/* ---- F12-F14: status field control ----------------------------------------------------------- */

/* fsetc.sf amask7,omask7: the field's controls become (sf0's & amask7) | omask7. A reserved
 * precision control (01), or traps disabled in sf0 (its td is reserved), is a Reserved
 * Register/Field fault. */
int ia64_xf_fsetc(ia64_cpu *c, const ia64_op *op) {
  unsigned sf = op->aux, shift = 6 + 13 * sf;
  uint64_t fpsr = fpsr_of(c);
  unsigned ctl = ((unsigned)fpsr >> 6 & (unsigned)op->imm & 0x7f) | ((unsigned)op->imm2 & 0x7f);
  if (((ctl >> 2) & 3) == 1 || (sf == 0 && (ctl & 0x40)))
    return ia64_raise(c, IA64_VEC_GENERAL_EXCEPTION, IA64_GE_RESERVED_REG, 0);
  c->ar[IA64_AR_FPSR] = (fpsr & ~((uint64_t)0x7f << shift)) | (uint64_t)ctl << shift;
  return IA64_NEXT;
}

int ia64_xf_fclrf(ia64_cpu *c, const ia64_op *op) {
  c->ar[IA64_AR_FPSR] &= ~((uint64_t)0x3f << (13 + 13 * op->aux));
  return IA64_NEXT;
}

/* fchkf.sf target: branch when the field raised a flag whose trap is enabled or that sf0
 * has not recorded. */
int ia64_xf_fchkf(ia64_cpu *c, const ia64_op *op) {
  uint64_t fpsr = fpsr_of(c);
  unsigned flags = (unsigned)(fpsr >> (13 + 13 * op->aux)) & 0x3f;
  unsigned traps = (unsigned)fpsr & 0x3f, flags0 = (unsigned)(fpsr >> 13) & 0x3f;
  if (!((flags & ~traps) || (flags & ~flags0))) return IA64_NEXT;
  c->ip += (uint64_t)op->imm;
  c->ri = 0;
  return IA64_BRANCHED;
}

/* ---- M6-M12: loads and stores ------------------------------------------------------------------ */

/* A load's type, from its x6. */
enum { LT_SPEC = 1, LT_ADV = 2, LT_CHECK = 4, LT_CLEAR = 8, LT_NC = 16 };
static unsigned ld_type(unsigned x6) {
  if (x6 >= 0x20) return LT_CHECK | ((x6 & 4) ? LT_NC : LT_CLEAR);
  if (x6 == 0x1b) return 0;
  return ((x6 & 4) ? LT_SPEC : 0) | ((x6 & 8) ? LT_ADV : 0);
}
/* Bytes moved and the alignment they need: s 4, d and 8 8, e 10 in a 16-byte slot, fill 16. */
static unsigned fmt_bytes(unsigned x6) {
  if ((x6 & 0x3f) == 0x1b || (x6 & 0x3f) == 0x3b) return 16;
  static const uint8_t n[4] = {10, 8, 4, 8};
  return n[x6 & 3];
}
static unsigned align_of(unsigned bytes) { return bytes == 10 ? 16 : bytes; }

static ia64_fr from_mem(unsigned x6, const uint8_t *m) {
  uint64_t v = 0;
  if ((x6 & 0x3f) == 0x1b) return fp82_from_spill(m);
  switch (x6 & 3) {
  case 0: return fp82_from_ext(m);
  case 1: memcpy(&v, m, 8); return fp82_int(v);
  case 2: memcpy(&v, m, 4); return fp82_from_single((uint32_t)v);
  default: memcpy(&v, m, 8); return fp82_from_double(v);
  }
}

enum { RD_OK = 0, RD_DEFER = 1 };

/* With PSR.be each value is held most significant byte first. */
static void be_swap(const ia64_cpu *c, uint8_t *m, unsigned n) {
  if (LIKELY(!(c->psr & IA64_PSR_BE))) return;
  for (unsigned i = 0; i < n / 2; i++) {
    uint8_t t = m[i];
    m[i] = m[n - 1 - i];
    m[n - 1 - i] = t;
  }
}

/* Read n bytes at va (aligned to asz) into m: RD_OK with *hp the host address (NULL for IO),
 * RD_DEFER, or -1 with the fault raised. Speculative and advanced loads do not read
 * non-speculative (IO) memory. */
static int mem_read(ia64_cpu *c, uint64_t va, unsigned n, unsigned lt, uint8_t *m, uint8_t **hp) {
  ia64_intr saved = c->intr;
  uint8_t *h;
  *hp = NULL;
  int rc = ia64_mem_ptr(c, va, align_of(n), IA64_ACC_R, &h);
  if (LIKELY(rc == 0)) {
    memcpy(m, h, n);
    *hp = h;
    return RD_OK;
  }
  if (rc == IA64_XLAT_IO) {
    if (lt & (LT_SPEC | LT_ADV)) return RD_DEFER;
    for (unsigned o = 0; o < n;) {
      unsigned k = n - o >= 8 ? 8 : n - o;
      uint64_t v;
      if (ia64_io(c, va + o, k, false, &v) < 0) return -1;
      memcpy(m + o, &v, k);
      o += k;
    }
    return RD_OK;
  }
  if (!(lt & LT_SPEC)) return -1;
  return ia64_spec_defer(c, &saved) ? RD_DEFER : -1;
}

/* The load proper of f1 (and f2 for a pair: bytes [n, 2n) go there) once the ALAT check, if
 * any, said it must happen. 0 or -1. */
static int load_regs(ia64_cpu *c, unsigned x6, unsigned f1, unsigned f2, uint64_t va, unsigned nat3, unsigned n) {
  unsigned lt = ld_type(x6), p1 = c->frmap[f1];
  unsigned total = f2 ? 2 * n : n;
  uint8_t m[32] = {0}, *h = NULL;
  int st = (lt & LT_SPEC) && (ia64_spec_take_ed(c) | nat3) ? RD_DEFER : mem_read(c, va, total, lt, m, &h);
  if (st < 0) return -1;
  if (lt & (LT_CLEAR | LT_ADV)) ia64_alat_invalidate_reg(c, p1, true);
  if (st == RD_DEFER) {
    ia64_fr v = lt & LT_SPEC ? fp82_natval() : fp82_make(0, 0, 0);
    fr_put(c, f1, v);
    if (f2) fr_put(c, f2, v);
    return 0;
  }
  be_swap(c, m, n);
  fr_put(c, f1, from_mem(x6, m));
  if (f2) {
    be_swap(c, m + n, n);
    fr_put(c, f2, from_mem(x6, m + n));
  }
  if ((lt & (LT_ADV | LT_NC)) && h) ia64_alat_insert(c, p1, true, (uintptr_t)h, total);
  return 0;
}

/* Plain ldfs, ldfd, ldf8 (x6 1-3) that hit the software TLB: true when done. */
static inline bool ldf_fast(ia64_cpu *c, unsigned x6, unsigned f1, unsigned r3) {
  if (x6 - 1 > 2 || ia64_rnat(c, r3) || (c->psr & IA64_PSR_BE)) return false;
  unsigned n = x6 == 2 ? 4 : 8;
  uint8_t *h;
  if (!ia64_stlb_hit(c, ia64_rd(c, r3), n, IA64_ACC_R, &h)) return false;
  uint64_t v = 0;
  if (n == 4) {
    uint32_t w;
    memcpy(&w, h, 4);
    fr_put(c, f1, fp82_from_single(w));
    return true;
  }
  memcpy(&v, h, 8);
  fr_put(c, f1, x6 == 1 ? fp82_int(v) : fp82_from_double(v));
  return true;
}

/* ldf (all types and formats): 0 or -1. */
static int do_ldf(ia64_cpu *c, unsigned x6, unsigned f1, unsigned f2, unsigned r3, unsigned n) {
  unsigned lt = ld_type(x6), nat3 = ia64_rnat(c, r3);
  if (nat3 && !(lt & LT_SPEC)) return ia64_nat_consumption(c, IA64_ISR_R);
  if ((lt & LT_CHECK) && ia64_alat_check(c, c->frmap[f1], true, (lt & LT_CLEAR) != 0)) return 0;
  return load_regs(c, x6, f1, f2, ia64_rd(c, r3), nat3, n);
}

int ia64_xm_ldf(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], r3 = op->r[1], x6 = (unsigned)op->arg;
  FP_ENABLED(c, f1, 0, 0, 0, IA64_ISR_R);
  if (ldf_fast(c, x6, f1, r3)) return IA64_NEXT;
  return do_ldf(c, x6, f1, 0, r3, fmt_bytes(x6)) < 0 ? IA64_FAULTED : IA64_NEXT;
}

int ia64_xm_ldf_reg(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], r3 = op->r[1], r2 = op->r[2], x6 = (unsigned)op->arg;
  FP_ENABLED(c, f1, 0, 0, 0, IA64_ISR_R);
  uint64_t va = ia64_rd(c, r3), inc = ia64_rd(c, r2);
  unsigned nat = ia64_rnat(c, r3) | ia64_rnat(c, r2);
  if (!ldf_fast(c, x6, f1, r3) && do_ldf(c, x6, f1, 0, r3, fmt_bytes(x6)) < 0) return IA64_FAULTED;
  ia64_wr(c, r3, va + inc, nat);
  return IA64_NEXT;
}

int ia64_xm_ldf_imm(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], r3 = op->r[1], x6 = (unsigned)op->arg;
  FP_ENABLED(c, f1, 0, 0, 0, IA64_ISR_R);
  uint64_t va = ia64_rd(c, r3);
  unsigned nat = ia64_rnat(c, r3);
  if (!ldf_fast(c, x6, f1, r3) && do_ldf(c, x6, f1, 0, r3, fmt_bytes(x6)) < 0) return IA64_FAULTED;
  ia64_wr(c, r3, va + (uint64_t)op->imm, nat);
  return IA64_NEXT;
}

/* ldfp: the two targets must be one odd and one even physical register. */
static int do_ldfp(ia64_cpu *c, const ia64_op *op, bool inc) {
  unsigned f1 = op->r[0], f2 = op->r[1], r3 = op->r[2], x6 = (unsigned)op->arg;
  unsigned n = (x6 & 3) == 2 ? 4 : 8;
  if (((c->frmap[f1] ^ c->frmap[f2]) & 1) == 0) return ia64_illegal_op(c);
  FP_ENABLED(c, f1, f2, 0, 0, IA64_ISR_R);
  uint64_t va = ia64_rd(c, r3);
  unsigned nat = ia64_rnat(c, r3);
  if (do_ldf(c, x6, f1, f2, r3, n) < 0) return IA64_FAULTED;
  if (inc) ia64_wr(c, r3, va + 2 * n, nat);
  return IA64_NEXT;
}
int ia64_xm_ldfp(ia64_cpu *c, const ia64_op *op) { return do_ldfp(c, op, false); }
int ia64_xm_ldfp_inc(ia64_cpu *c, const ia64_op *op) { return do_ldfp(c, op, true); }

/* Plain stfs, stfd, stf8 (x6 0x31-0x33) of a non-NaTVal that hit the software TLB. */
static inline bool stf_fast(ia64_cpu *c, unsigned x6, unsigned r3, unsigned f2) {
  if (x6 - 0x31 > 2 || ia64_rnat(c, r3) || (c->psr & IA64_PSR_BE) || UNLIKELY(c->alat_live)) return false;
  const ia64_fr *f = ia64_frp(c, f2);
  unsigned n = x6 == 0x32 ? 4 : 8;
  uint8_t *h;
  if (!ia64_stlb_hit(c, ia64_rd(c, r3), n, IA64_ACC_W, &h) || fp82_is_natval(*f)) return false;
  if (n == 4) {
    uint32_t w = fp82_to_single(*f);
    memcpy(h, &w, 4);
  } else {
    uint64_t v = x6 == 0x31 ? f->sig : fp82_to_double(*f);
    memcpy(h, &v, 8);
  }
  return true;
}

/* stf (arg: x6 0x30-0x33, 0x3b): 0 or -1. */
static int do_stf(ia64_cpu *c, unsigned x6, unsigned r3, unsigned f2) {
  bool spill = x6 == 0x3b;
  if (ia64_rnat(c, r3)) return ia64_nat_consumption(c, IA64_ISR_W);
  ia64_fr v = fr_get(c, f2);
  if (!spill && fp82_is_natval(v)) return ia64_nat_consumption(c, IA64_ISR_W);
  uint8_t m[16] = {0};
  unsigned n = fmt_bytes(x6);
  if (spill) {
    fp82_to_spill(v, m);
  } else {
    switch (x6 & 3) {
    case 0: fp82_to_ext(v, m); break;
    case 1: memcpy(m, &v.sig, 8); break;
    case 2: { uint32_t s = fp82_to_single(v); memcpy(m, &s, 4); break; }
    default: { uint64_t d = fp82_to_double(v); memcpy(m, &d, 8); break; }
    }
  }
  be_swap(c, m, n);
  uint64_t va = ia64_rd(c, r3);
  uint8_t *h;
  int rc = ia64_mem_ptr(c, va, align_of(n), IA64_ACC_W, &h);
  if (LIKELY(rc == 0)) {
    memcpy(h, m, n);
    if (UNLIKELY(c->alat_live)) ia64_alat_store(c, (uintptr_t)h, n);
    return 0;
  }
  if (rc != IA64_XLAT_IO) return -1;
  for (unsigned o = 0; o < n;) {
    unsigned k = n - o >= 8 ? 8 : n - o;
    uint64_t w = 0;
    memcpy(&w, m + o, k);
    if (ia64_io(c, va + o, k, true, &w) < 0) return -1;
    o += k;
  }
  return 0;
}

int ia64_xm_stf(ia64_cpu *c, const ia64_op *op) {
  unsigned r3 = op->r[0], f2 = op->r[1];
  FP_ENABLED(c, f2, 0, 0, 0, IA64_ISR_W);
  if (stf_fast(c, (unsigned)op->arg, r3, f2)) return IA64_NEXT;
  return do_stf(c, (unsigned)op->arg, r3, f2) < 0 ? IA64_FAULTED : IA64_NEXT;
}

int ia64_xm_stf_imm(ia64_cpu *c, const ia64_op *op) {
  unsigned r3 = op->r[0], f2 = op->r[1];
  FP_ENABLED(c, f2, 0, 0, 0, IA64_ISR_W);
  uint64_t va = ia64_rd(c, r3);
  if (!stf_fast(c, (unsigned)op->arg, r3, f2) && do_stf(c, (unsigned)op->arg, r3, f2) < 0) return IA64_FAULTED;
  ia64_wr(c, r3, va + (uint64_t)op->imm, 0);
  return IA64_NEXT;
}

/* ---- M18, M19: setf and getf (arg: 0 sig, 1 exp, 2 s, 3 d) ------------------------------------- */

int ia64_xm_setf(ia64_cpu *c, const ia64_op *op) {
  unsigned f1 = op->r[0], r2 = op->r[1];
  FP_ENABLED(c, f1, 0, 0, 0, 0);
  uint64_t v = ia64_rd(c, r2);
  ia64_fr r;
  if (ia64_rnat(c, r2)) r = fp82_natval();
  else switch (op->arg) {
  case 0: r = fp82_int(v); break;
  case 1: r = fp82_make((unsigned)(v >> 17) & 1, (uint32_t)v & 0x1ffff, FP82_INT_BIT); break;
  case 2: r = fp82_from_single((uint32_t)v); break;
  default: r = fp82_from_double(v); break;
  }
  fr_put(c, f1, r);
  return IA64_NEXT;
}

int ia64_xm_getf(ia64_cpu *c, const ia64_op *op) {
  unsigned r1 = op->r[0], f2 = op->r[1];
  FP_ENABLED(c, f2, 0, 0, 0, 0);
  ia64_fr f = fr_get(c, f2);
  if (fp82_is_natval(f)) {
    ia64_wr(c, r1, 0, 1);
    return IA64_NEXT;
  }
  uint64_t v;
  switch (op->arg) {
  case 0: v = f.sig; break;
  case 1: v = (uint64_t)(f.sign & 1) << 17 | (f.exp & 0x1ffff); break;
  case 2: v = fp82_to_single(f); break;
  default: v = fp82_to_double(f); break;
  }
  ia64_wr(c, r1, v, 0);
  return IA64_NEXT;
}
