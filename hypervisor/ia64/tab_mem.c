/* tab_mem.c — the integer memory family: loads (M1-M3), stores (M4-M5), ld16/st16, line
 * prefetch (M13-M15), semaphores (M16-M17), speculation and ALAT checks (M20-M23), memory
 * ordering and ALAT management (M24-M27), cache flush (M28) and the M-unit moves to and
 * from application registers (M29-M31). Encodings follow the format tables of the Itanium
 * SDM vol. 3, ch. 4; the text follows ia64-linux-gnu-objdump, quirks included (see the hint
 * completers below).
 *
 * How the pieces fit. Plain loads and stores, the hot ones, get an executor per size and
 * addressing form that only handles a software-TLB hit (a constant-size copy) and passes
 * everything else to the general executors x_ld and x_st. x_ld follows the SDM's ld
 * pseudo-code: speculative loads (ld.s, ld.sa) defer a fault by writing a NaT instead of
 * stopping (deferral policy in ia64_spec_defer(), PSR.ed in ia64_spec_take_ed()); advanced
 * loads (ld.a, ld.sa, and ld.c.nc when it reloads) record the access in the ALAT (alat.c)
 * against the target's physical register, which every store, semaphore and spill clears for
 * the bytes it writes; ld.c reloads only when its entry is gone. Semaphores use the host's
 * atomic builtins on the host pointer, with .acq/.rel as acquire/release orderings, so
 * several vCPUs sharing guest memory see them atomic. With PSR.be every value is read and
 * written most significant byte first (be_order). */
#include <stdio.h>

#include "internal.h"

/* ---- Architectural constants this family uses --------------------------------------------- */

/* cr.dcr: which speculative-load faults hardware defers when PSR.it (and ITLB.ed) are 1. */
#define DCR_DM (1ull << 8)   /* data TLB misses */
#define DCR_DP (1ull << 9)   /* page not present */
#define DCR_DK (1ull << 10)  /* key miss / key permission */
#define DCR_DX (1ull << 11)  /* NaT page consumption */
#define DCR_DR (1ull << 12)  /* access rights */
#define DCR_DA (1ull << 13)  /* access bit */
#define DCR_DD (1ull << 14)  /* data debug */

/* ISR.code of the NaT Consumption vector: bits 7:4 say which kind (ia64_nat_consumption gives
 * the register one); for non-access instructions bits 3:0 say which instruction (as in the
 * Data TLB vectors). */
#define ISR_NA_FC 1
#define ISR_NA_LFETCH 4

/* ---- Operand kinds ------------------------------------------------------------------------- */

/* Besides these, the templates name fields other families define: ar3 and imm8 (mov.m ar),
 * chk_tgt25 (chk.s) from tab_alu.c, tgt25 (chk.a) from tab_br.c, fp_f2 from tab_fp.c.
 * tab_fp.c's loads and stores name the hints and post-increments below. */

/* r3 as a base register that the instruction updates: r0 there is an Illegal Operation. */
static int64_t x_r3u(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 26, 20); }
/* r1 read, not written (chk.a, invala.e): r0 is allowed. */
static int64_t x_r1ro(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 12, 6); }
static int64_t x_f1(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 12, 6); }
/* Access size in bytes from x6 bits 1:0 (slot bits 31:30). */
static int64_t x_sz(uint64_t s, uint64_t l) { (void)l; return (int64_t)1 << ia64_field(s, 31, 30); }
/* fetchadd: 4 or 8 bytes from x6 bit 0. */
static int64_t x_fasz(uint64_t s, uint64_t l) { (void)l; return ia64_field(s, 30, 30) ? 8 : 4; }
static int64_t x_hint(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 29, 28); }
/* Itanium 9500 widened the hints of the no-update loads (bit 19) and of stores and lfetch
 * (bit 12) to 3 bits; objdump prints the new values .d4-.d7. */
static int64_t x_hint3_19(uint64_t s, uint64_t l) {
  (void)l;
  return (int64_t)(ia64_field(s, 19, 19) << 2 | ia64_field(s, 29, 28));
}
static int64_t x_hint3_12(uint64_t s, uint64_t l) {
  (void)l;
  return (int64_t)(ia64_field(s, 12, 12) << 2 | ia64_field(s, 29, 28));
}
/* lfetch.count: count-1 in bits 11:6, the stride in 64-byte lines in bits 17:13. */
static int64_t x_lfcount(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 11, 6) + 1; }
static int64_t x_lfstride(uint64_t s, uint64_t l) { (void)l; return ia64_sext(ia64_field(s, 17, 13), 5) * 64; }
static int64_t x_excl(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 30, 30); }
/* M3 load/M13 lfetch post-increment: s, i, imm7b. */
static int64_t x_imm9b(uint64_t s, uint64_t l) {
  (void)l;
  return ia64_sext(ia64_field(s, 36, 36) << 8 | ia64_field(s, 27, 27) << 7 | ia64_field(s, 19, 13), 9);
}
/* M5 store post-increment: s, i, imm7a. */
static int64_t x_imm9a(uint64_t s, uint64_t l) {
  (void)l;
  return ia64_sext(ia64_field(s, 36, 36) << 8 | ia64_field(s, 27, 27) << 7 | ia64_field(s, 12, 6), 9);
}
/* M17 fetchadd increment: s and i2b select one of +-16, +-8, +-4, +-1. */
static int64_t x_inc3(uint64_t s, uint64_t l) {
  (void)l;
  static const int8_t mag[4] = {16, 8, 4, 1};
  int64_t v = mag[ia64_field(s, 14, 13)];
  return ia64_field(s, 15, 15) ? -v : v;
}

static void p_sz(char *b, size_t n, int64_t v, uint64_t ip) { (void)ip; snprintf(b, n, "%d", (int)v); }
/* The hint completers as objdump spells them: values 2 and 4-7 (and 1 of a store) by number,
 * the others by name; the 2-bit hints of the base-update forms exist only for the values
 * objdump knows (the forms' masks leave the others undecoded). */
static void p_hint(char *b, size_t n, int64_t v, const char *const names[8]) {
  snprintf(b, n, "%s", names[v & 7]);
}
static void p_ldhint(char *b, size_t n, int64_t v, uint64_t ip) {
  static const char *const t[8] = {"", ".nt1", ".d2", ".nta", ".d4", ".d5", ".d6", ".d7"};
  (void)ip;
  p_hint(b, n, v, t);
}
static void p_sthint(char *b, size_t n, int64_t v, uint64_t ip) {
  static const char *const t[8] = {"", ".d1", ".d2", ".nta", ".d4", ".d5", ".d6", ".d7"};
  (void)ip;
  p_hint(b, n, v, t);
}
static void p_lfhint(char *b, size_t n, int64_t v, uint64_t ip) {
  static const char *const t[8] = {"", ".nt1", ".nt2", ".nta", ".d4", ".d5", ".d6", ".d7"};
  (void)ip;
  p_hint(b, n, v, t);
}
static void p_excl(char *b, size_t n, int64_t v, uint64_t ip) { (void)ip; snprintf(b, n, "%s", v ? ".excl" : ""); }

const ia64_opnd_kind ia64_opnds_mem[] = {
  {"m_r3u", IA64_OD_REG, IA64_OS_GR, 1, x_r3u, NULL},
  {"m_r1ro", IA64_OD_REG, IA64_OS_GR, 0, x_r1ro, NULL},
  {"m_f1", IA64_OD_REG, IA64_OS_FR, 0, x_f1, NULL},
  {"m_sz", IA64_OD_AUX, IA64_OS_CUSTOM, 0, x_sz, p_sz},
  {"m_fasz", IA64_OD_AUX, IA64_OS_CUSTOM, 0, x_fasz, p_sz},
  {"m_ldhint", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_hint, p_ldhint},      /* 2-bit forms */
  {"m_sthint", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_hint, p_sthint},
  {"m_ldhint3", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_hint3_19, p_ldhint},  /* 3-bit forms */
  {"m_sthint3", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_hint3_12, p_sthint},
  {"m_lfhint3", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_hint3_12, p_lfhint},
  {"m_lfcount", IA64_OD_PRINT, IA64_OS_UDEC, 0, x_lfcount, NULL},
  {"m_lfstride", IA64_OD_PRINT, IA64_OS_DEC, 0, x_lfstride, NULL},
  {"m_excl", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_excl, p_excl},
  {"m_imm9a", IA64_OD_IMM, IA64_OS_DEC, 0, x_imm9a, NULL},
  {"m_imm9b", IA64_OD_IMM, IA64_OS_DEC, 0, x_imm9b, NULL},
  {"m_inc3", IA64_OD_IMM, IA64_OS_DEC, 0, x_inc3, NULL},
  {0},
};

/* ---- Faults -------------------------------------------------------------------------------- */

/* Does a speculative load defer the fault just raised (SDM vol. 2, 5.5.5)? With PSR.ic = 0
 * everything is deferred (the always-defer model); NaT pages always; otherwise, with PSR.it
 * (and ITLB.ed, taken as 1), unaligned references and whatever cr.dcr asks for. A fault not
 * deferred is raised with ISR.sp: the OS may then set PSR.ed and return to the load (Linux
 * does so for an address it cannot map), which defers it (ia64_spec_take_ed). */
static bool spec_defers(const ia64_cpu *c, int vector) {
  if (!(c->psr & IA64_PSR_IC)) return true;
  uint64_t dcr = c->cr[0];
  bool it = (c->psr & IA64_PSR_IT) != 0;
  switch (vector) {
  case IA64_VEC_NAT_CONSUMPTION: return true;
  case IA64_VEC_UNALIGNED: return it;
  case IA64_VEC_ALT_DATA_TLB: case IA64_VEC_VHPT_TRANSLATION: case IA64_VEC_DATA_TLB:
    return it && (dcr & DCR_DM);
  case IA64_VEC_PAGE_NOT_PRESENT: return it && (dcr & DCR_DP);
  case IA64_VEC_DATA_KEY_MISS: case IA64_VEC_KEY_PERMISSION: return it && (dcr & DCR_DK);
  case IA64_VEC_DATA_ACCESS_RIGHTS: return it && (dcr & DCR_DR);
  case IA64_VEC_DATA_ACCESS_BIT: return it && (dcr & DCR_DA);
  case IA64_VEC_DEBUG: return it && (dcr & DCR_DD);
  default: return false;
  }
}

/* The integer and the FP speculative loads both decide here (declared in internal.h). */
bool ia64_spec_defer(ia64_cpu *c, const ia64_intr *saved) {
  if (spec_defers(c, c->intr.vector)) {
    c->intr = *saved;
    return true;
  }
  c->intr.isr |= IA64_ISR_SP | IA64_ISR_ED;
  return false;
}

/* ---- Memory helpers -------------------------------------------------------------------------- */

/* Read size bytes at an aligned host address, with acquire ordering when asked. */
static inline uint64_t host_read(const uint8_t *h, unsigned size, bool acq) {
  if (acq) {
    switch (size) {
    case 1: return __atomic_load_n(h, __ATOMIC_ACQUIRE);
    case 2: return __atomic_load_n((const uint16_t *)(const void *)h, __ATOMIC_ACQUIRE);
    case 4: return __atomic_load_n((const uint32_t *)(const void *)h, __ATOMIC_ACQUIRE);
    default: return __atomic_load_n((const uint64_t *)(const void *)h, __ATOMIC_ACQUIRE);
    }
  }
  switch (size) {
  case 1: return *h;
  case 2: { uint16_t v; memcpy(&v, h, 2); return v; }
  case 4: { uint32_t v; memcpy(&v, h, 4); return v; }
  default: { uint64_t v; memcpy(&v, h, 8); return v; }
  }
}

static inline void host_write(uint8_t *h, unsigned size, uint64_t v, bool rel) {
  if (rel) {
    switch (size) {
    case 1: __atomic_store_n(h, (uint8_t)v, __ATOMIC_RELEASE); return;
    case 2: __atomic_store_n((uint16_t *)(void *)h, (uint16_t)v, __ATOMIC_RELEASE); return;
    case 4: __atomic_store_n((uint32_t *)(void *)h, (uint32_t)v, __ATOMIC_RELEASE); return;
    default: __atomic_store_n((uint64_t *)(void *)h, v, __ATOMIC_RELEASE); return;
    }
  }
  memcpy(h, &v, size);   /* little-endian host: the low size bytes */
}

/* With PSR.be (the user mask's be bit) data accesses are big-endian. The host is
 * little-endian, so a big-endian access is the little-endian one with the value's bytes
 * reversed: loads swap what they read, stores what they write. */
static inline uint64_t be_order(const ia64_cpu *c, uint64_t v, unsigned size) {
  if (LIKELY(!(c->psr & IA64_PSR_BE))) return v;
  switch (size) {
  case 2: return __builtin_bswap16((uint16_t)v);
  case 4: return __builtin_bswap32((uint32_t)v);
  case 8: return __builtin_bswap64(v);
  default: return v;
  }
}

/* A store of size bytes: through the software TLB, then the ALAT. 0 or -1 (fault raised). */
static inline int store_mem(ia64_cpu *c, uint64_t va, unsigned size, uint64_t v, bool rel) {
  uint8_t *h;
  int rc = ia64_mem_ptr(c, va, size, IA64_ACC_W, &h);
  if (LIKELY(rc == 0)) {
    host_write(h, size, v, rel);
    if (UNLIKELY(c->alat_live)) ia64_alat_store(c, (uintptr_t)h, size);
    return 0;
  }
  if (rc == IA64_XLAT_IO) {
    if (rel) __atomic_thread_fence(__ATOMIC_RELEASE);
    return ia64_io(c, va, size, true, &v);
  }
  return -1;
}

/* ---- Loads --------------------------------------------------------------------------------- */

/* The load types (op->arg = type | addressing form << 4), as flag sets. */
enum { LD_PLAIN = 0, LD_S, LD_A, LD_SA, LD_BIAS, LD_ACQ, LD_CCLR, LD_CNC, LD_CCLRACQ, LD_FILL, LD_NTYPES };
enum { UPD_NONE = 0, UPD_REG = 1, UPD_IMM = 2 };
enum {
  LF_SPEC = 1,    /* ld.s, ld.sa: faults may be deferred to a NaT */
  LF_ADV = 2,     /* ld.a, ld.sa: insert into the ALAT */
  LF_CHECK = 4,   /* ld.c: no load while the ALAT entry lives */
  LF_CLEAR = 8,   /* ld.c.clr: the check removes the entry */
  LF_NC = 16,     /* ld.c.nc: a reload inserts a new entry */
  LF_ACQ = 32,    /* acquire ordering */
  LF_FILL = 64,   /* ld8.fill: the NaT comes from ar.unat */
};
static const uint8_t ld_flags[LD_NTYPES] = {
  [LD_PLAIN] = 0, [LD_S] = LF_SPEC, [LD_A] = LF_ADV, [LD_SA] = LF_SPEC | LF_ADV, [LD_BIAS] = 0,
  [LD_ACQ] = LF_ACQ, [LD_CCLR] = LF_CHECK | LF_CLEAR, [LD_CNC] = LF_CHECK | LF_NC,
  [LD_CCLRACQ] = LF_CHECK | LF_CLEAR | LF_ACQ, [LD_FILL] = LF_FILL,
};
#define LDARG(type, upd) ((type) | (upd) << 4)

enum { RD_OK = 0, RD_DEFER = 1 };

/* A speculative load's read: RD_OK, RD_DEFER (NaT the target), or -1 (fault raised, marked
 * ISR.sp/ed so the OS can choose to defer it and retry with PSR.ed set). */
static int read_spec(ia64_cpu *c, uint64_t va, unsigned size, unsigned f, uint64_t *v, uint8_t **hp) {
  ia64_intr saved = c->intr;
  uint8_t *h;
  int rc = ia64_mem_ptr(c, va, size, IA64_ACC_R, &h);
  if (rc == 0) {
    *v = host_read(h, size, f & LF_ACQ);
    *hp = h;
    return RD_OK;
  }
  if (rc == IA64_XLAT_IO) return RD_DEFER;    /* never speculate into non-speculative memory */
  return ia64_spec_defer(c, &saved) ? RD_DEFER : -1;
}

/* A non-speculative load's read. An advanced load from non-speculative (IO) memory does
 * not touch it: it yields 0 and no ALAT entry, so the check fails and the load is redone. */
static int read_plain(ia64_cpu *c, uint64_t va, unsigned size, unsigned f, uint64_t *v, uint8_t **hp) {
  uint8_t *h;
  int rc = ia64_mem_ptr(c, va, size, IA64_ACC_R, &h);
  if (LIKELY(rc == 0)) {
    *v = host_read(h, size, f & LF_ACQ);
    *hp = h;
    return RD_OK;
  }
  if (rc != IA64_XLAT_IO) return -1;
  if (f & LF_ADV) return RD_DEFER;
  if (f & LF_ACQ) __atomic_thread_fence(__ATOMIC_ACQUIRE);
  return ia64_io(c, va, size, false, v) < 0 ? -1 : RD_OK;
}

/* The load proper, once the ALAT said it must happen. */
static int load_to(ia64_cpu *c, unsigned r1, uint64_t va, unsigned nat3, unsigned size, unsigned f) {
  unsigned p1 = c->grmap[r1];
  uint64_t v = 0;
  uint8_t *h = NULL;
  int st;
  if (f & LF_SPEC) st = (ia64_spec_take_ed(c) | nat3) ? RD_DEFER : read_spec(c, va, size, f, &v, &h);
  else st = read_plain(c, va, size, f, &v, &h);
  if (st < 0) return -1;
  if (f & (LF_CLEAR | LF_ADV)) ia64_alat_invalidate_reg(c, p1, false);
  if (st == RD_DEFER) {
    ia64_wr(c, r1, 0, (f & LF_SPEC) != 0);
    return 0;
  }
  unsigned nat = (f & LF_FILL) ? (unsigned)(c->ar[IA64_AR_UNAT] >> ((va >> 3) & 63)) & 1 : 0;
  ia64_wr(c, r1, be_order(c, v, size), nat);
  if ((f & (LF_ADV | LF_NC)) && h) ia64_alat_insert(c, p1, false, (uintptr_t)h, size);
  return 0;
}

/* Every load type in all three addressing forms: the SDM's ld pseudo-code. The plain loads
 * come here only when their fast path below declines. */
static int x_ld(ia64_cpu *c, const ia64_op *op) {
  unsigned f = ld_flags[op->arg & 15], upd = (unsigned)op->arg >> 4;
  unsigned r1 = op->r[0], r3 = op->r[1], size = (f & LF_FILL) ? 8 : op->aux;
  uint64_t inc = (uint64_t)op->imm;
  unsigned incnat = 0;
  if (upd && r1 == r3) return ia64_illegal_op(c);
  if (upd == UPD_REG) inc = ia64_rd(c, op->r[2]), incnat = ia64_rnat(c, op->r[2]);
  uint64_t va = ia64_rd(c, r3);
  unsigned nat3 = ia64_rnat(c, r3);
  if (nat3 && !(f & LF_SPEC)) return ia64_nat_consumption(c, IA64_ISR_R);
  if (!(f & LF_CHECK) || !ia64_alat_check(c, c->grmap[r1], false, (f & LF_CLEAR) != 0))
    if (load_to(c, r1, va, nat3, size, f) < 0) return IA64_FAULTED;
  if (upd) ia64_wr(c, r3, va + inc, nat3 | incnat);
  return IA64_NEXT;
}

/* Plain loads, one executor per size and addressing form. Base-update forms with r1 == r3
 * are an Illegal Operation (x_ld raises it); the increment is read before r1 is written. */
#define LOAD_FORMS(N)                                                                            \
  static int x_ld##N(ia64_cpu *c, const ia64_op *op) {                                           \
    unsigned r3 = op->r[1];                                                                      \
    uint8_t *h;                                                                                  \
    bool hit = ia64_stlb_hit(c, ia64_rd(c, r3), N, IA64_ACC_R, &h);                              \
    if (UNLIKELY(!hit || (ia64_rnat(c, r3) | (c->psr & IA64_PSR_BE)))) return x_ld(c, op);       \
    ia64_wr(c, op->r[0], host_read(h, N, false), 0);                                             \
    return IA64_NEXT;                                                                            \
  }                                                                                              \
  static int x_ld##N##_reg(ia64_cpu *c, const ia64_op *op) {                                     \
    unsigned r1 = op->r[0], r3 = op->r[1], r2 = op->r[2];                                        \
    uint64_t va = ia64_rd(c, r3);                                                                \
    uint8_t *h;                                                                                  \
    bool hit = ia64_stlb_hit(c, va, N, IA64_ACC_R, &h);                                          \
    if (UNLIKELY(!hit || ((r1 == r3) | ia64_rnat(c, r3) | (c->psr & IA64_PSR_BE)))) return x_ld(c, op); \
    uint64_t inc = ia64_rd(c, r2);                                                               \
    unsigned incnat = ia64_rnat(c, r2);                                                          \
    ia64_wr(c, r1, host_read(h, N, false), 0);                                                   \
    ia64_wr(c, r3, va + inc, incnat);                                                            \
    return IA64_NEXT;                                                                            \
  }                                                                                              \
  static int x_ld##N##_imm(ia64_cpu *c, const ia64_op *op) {                                     \
    unsigned r1 = op->r[0], r3 = op->r[1];                                                       \
    uint64_t va = ia64_rd(c, r3);                                                                \
    uint8_t *h;                                                                                  \
    bool hit = ia64_stlb_hit(c, va, N, IA64_ACC_R, &h);                                          \
    if (UNLIKELY(!hit || ((r1 == r3) | ia64_rnat(c, r3) | (c->psr & IA64_PSR_BE)))) return x_ld(c, op); \
    ia64_wr(c, r1, host_read(h, N, false), 0);                                                   \
    ia64_wr(c, r3, va + (uint64_t)op->imm, 0);                                                   \
    return IA64_NEXT;                                                                            \
  }
LOAD_FORMS(1)
LOAD_FORMS(2)
LOAD_FORMS(4)
LOAD_FORMS(8)

/* ld16 r1,ar.csd=[r3] (arg 1: .acq): 16 aligned bytes, the low half to r1. */
static int x_ld16(ia64_cpu *c, const ia64_op *op) {
  unsigned r3 = op->r[1];
  uint8_t *h;
  if (ia64_rnat(c, r3)) return ia64_nat_consumption(c, IA64_ISR_R);
  uint64_t va = ia64_rd(c, r3);
  int rc = ia64_mem_ptr(c, va, 16, IA64_ACC_R, &h);
  if (rc == IA64_XLAT_IO) return ia64_raise(c, IA64_VEC_UNSUPPORTED_DATA_REF, IA64_ISR_R, va);
  if (rc < 0) return IA64_FAULTED;
  uint64_t lo = host_read(h, 8, op->arg != 0), hi = host_read(h + 8, 8, false);
  ia64_wr(c, op->r[0], be_order(c, lo, 8), 0);
  c->ar[IA64_AR_CSD] = be_order(c, hi, 8);
  return IA64_NEXT;
}

/* ---- Stores -------------------------------------------------------------------------------- */

enum { ST_PLAIN = 0, ST_REL = 1, ST_SPILL = 2 };
#define STARG(type, upd) ((type) | (upd) << 4)

/* Every store type, with and without the immediate base update. A spill stores the register
 * whatever its NaT and puts the NaT in ar.unat at bit va{8:3}. The plain stores come here
 * only when their fast path below declines. */
static int x_st(ia64_cpu *c, const ia64_op *op) {
  unsigned type = op->arg & 15, upd = (unsigned)op->arg >> 4;
  unsigned r3 = op->r[0], r2 = op->r[1], size = type == ST_SPILL ? 8 : op->aux;
  unsigned nat2 = ia64_rnat(c, r2);
  if (ia64_rnat(c, r3) || (type != ST_SPILL && nat2)) return ia64_nat_consumption(c, IA64_ISR_W);
  uint64_t va = ia64_rd(c, r3);
  if (store_mem(c, va, size, be_order(c, ia64_rd(c, r2), size), type == ST_REL) < 0) return IA64_FAULTED;
  if (type == ST_SPILL) {
    uint64_t bit = 1ull << ((va >> 3) & 63);
    c->ar[IA64_AR_UNAT] = nat2 ? c->ar[IA64_AR_UNAT] | bit : c->ar[IA64_AR_UNAT] & ~bit;
  }
  if (upd) ia64_wr(c, r3, va + (uint64_t)op->imm, 0);
  return IA64_NEXT;
}

/* Plain stores, one executor per size and addressing form. */
#define STORE_FORMS(N)                                                                           \
  static int x_st##N(ia64_cpu *c, const ia64_op *op) {                                           \
    unsigned r3 = op->r[0], r2 = op->r[1];                                                       \
    uint8_t *h;                                                                                  \
    bool hit = ia64_stlb_hit(c, ia64_rd(c, r3), N, IA64_ACC_W, &h);                              \
    if (UNLIKELY(!hit || (ia64_rnat(c, r3) | ia64_rnat(c, r2) | (c->psr & IA64_PSR_BE) | c->alat_live))) \
      return x_st(c, op);                                                                        \
    host_write(h, N, ia64_rd(c, r2), false);                                                     \
    return IA64_NEXT;                                                                            \
  }                                                                                              \
  static int x_st##N##_imm(ia64_cpu *c, const ia64_op *op) {                                     \
    unsigned r3 = op->r[0], r2 = op->r[1];                                                       \
    uint64_t va = ia64_rd(c, r3);                                                                \
    uint8_t *h;                                                                                  \
    bool hit = ia64_stlb_hit(c, va, N, IA64_ACC_W, &h);                                          \
    if (UNLIKELY(!hit || (ia64_rnat(c, r3) | ia64_rnat(c, r2) | (c->psr & IA64_PSR_BE) | c->alat_live))) \
      return x_st(c, op);                                                                        \
    host_write(h, N, ia64_rd(c, r2), false);                                                     \
    ia64_wr(c, r3, va + (uint64_t)op->imm, 0);                                                   \
    return IA64_NEXT;                                                                            \
  }
STORE_FORMS(1)
STORE_FORMS(2)
STORE_FORMS(4)
STORE_FORMS(8)

/* st16 [r3]=r2,ar.csd (arg 1: .rel). */
static int x_st16(ia64_cpu *c, const ia64_op *op) {
  unsigned r3 = op->r[0], r2 = op->r[1];
  uint8_t *h;
  if (ia64_rnat(c, r3) || ia64_rnat(c, r2)) return ia64_nat_consumption(c, IA64_ISR_W);
  uint64_t va = ia64_rd(c, r3);
  int rc = ia64_mem_ptr(c, va, 16, IA64_ACC_W, &h);
  if (rc == IA64_XLAT_IO) return ia64_raise(c, IA64_VEC_UNSUPPORTED_DATA_REF, IA64_ISR_W, va);
  if (rc < 0) return IA64_FAULTED;
  if (op->arg) __atomic_thread_fence(__ATOMIC_RELEASE);
  host_write(h, 8, be_order(c, ia64_rd(c, r2), 8), false);
  host_write(h + 8, 8, be_order(c, c->ar[IA64_AR_CSD], 8), false);
  if (c->alat_live) ia64_alat_store(c, (uintptr_t)h, 16);
  return IA64_NEXT;
}

/* ---- Semaphores ------------------------------------------------------------------------------ */

/* Host pointer for a semaphore: read and write permission both, write-back memory only.
 * 0 or -1 with the fault raised (ISR.r and ISR.w both set, as for any semaphore access). */
static int sem_ptr(ia64_cpu *c, uint64_t va, unsigned size, uint8_t **h) {
  uint8_t *hr;
  int rc = ia64_mem_ptr(c, va, size, IA64_ACC_W, h);
  if (rc == 0) rc = ia64_mem_ptr(c, va, size, IA64_ACC_R, &hr);
  if (rc == 0) return 0;
  if (rc == IA64_XLAT_IO) return ia64_raise(c, IA64_VEC_UNSUPPORTED_DATA_REF, IA64_ISR_R | IA64_ISR_W, va);
  c->intr.isr |= IA64_ISR_R | IA64_ISR_W;
  return -1;
}

/* The semaphore's operands, checked: NaT in r3 (or r2 when it has one) faults. */
static int sem_begin(ia64_cpu *c, const ia64_op *op, bool has_r2, unsigned size, uint8_t **h) {
  if (ia64_rnat(c, op->r[1]) || (has_r2 && ia64_rnat(c, op->r[2])))
    return ia64_nat_consumption(c, IA64_ISR_R | IA64_ISR_W);
  return sem_ptr(c, ia64_rd(c, op->r[1]), size, h);
}

static inline int mo(bool rel) { return rel ? __ATOMIC_RELEASE : __ATOMIC_ACQUIRE; }

/* cmpxchg{1,2,4,8}.{acq,rel} r1=[r3],r2,ar.ccv (arg 1: .rel). The compare is with all 64
 * bits of ar.ccv against the zero-extended memory value, so a ccv wider than the access
 * never matches. Values are compared and swapped in memory order (be_order). */
static int x_cmpxchg(ia64_cpu *c, const ia64_op *op) {
  unsigned size = op->aux;
  uint8_t *h;
  if (sem_begin(c, op, true, size, &h) < 0) return IA64_FAULTED;
  uint64_t ccv = c->ar[IA64_AR_CCV], nv = be_order(c, ia64_rd(c, op->r[2]), size), old;
  bool rel = op->arg != 0, fits = size == 8 || (ccv >> (size * 8)) == 0;
  uint64_t cmp = be_order(c, ccv, size);
  bool ok = false;
  switch (size) {
  case 1: {
    uint8_t e = (uint8_t)cmp;
    if (fits) ok = __atomic_compare_exchange_n(h, &e, (uint8_t)nv, false, mo(rel), __ATOMIC_ACQUIRE);
    else e = __atomic_load_n(h, __ATOMIC_ACQUIRE);
    old = e;
    break;
  }
  case 2: {
    uint16_t *p = (uint16_t *)(void *)h, e = (uint16_t)cmp;
    if (fits) ok = __atomic_compare_exchange_n(p, &e, (uint16_t)nv, false, mo(rel), __ATOMIC_ACQUIRE);
    else e = __atomic_load_n(p, __ATOMIC_ACQUIRE);
    old = e;
    break;
  }
  case 4: {
    uint32_t *p = (uint32_t *)(void *)h, e = (uint32_t)cmp;
    if (fits) ok = __atomic_compare_exchange_n(p, &e, (uint32_t)nv, false, mo(rel), __ATOMIC_ACQUIRE);
    else e = __atomic_load_n(p, __ATOMIC_ACQUIRE);
    old = e;
    break;
  }
  default: {
    uint64_t *p = (uint64_t *)(void *)h, e = cmp;
    ok = __atomic_compare_exchange_n(p, &e, nv, false, mo(rel), __ATOMIC_ACQUIRE);
    old = e;
    break;
  }
  }
  if (ok && c->alat_live) ia64_alat_store(c, (uintptr_t)h, size);
  ia64_wr(c, op->r[0], be_order(c, old, size), 0);
  return IA64_NEXT;
}

/* xchg{1,2,4,8} r1=[r3],r2: always acquire. */
static int x_xchg(ia64_cpu *c, const ia64_op *op) {
  unsigned size = op->aux;
  uint8_t *h;
  if (sem_begin(c, op, true, size, &h) < 0) return IA64_FAULTED;
  uint64_t nv = be_order(c, ia64_rd(c, op->r[2]), size), old;
  switch (size) {
  case 1: old = __atomic_exchange_n(h, (uint8_t)nv, __ATOMIC_ACQUIRE); break;
  case 2: old = __atomic_exchange_n((uint16_t *)(void *)h, (uint16_t)nv, __ATOMIC_ACQUIRE); break;
  case 4: old = __atomic_exchange_n((uint32_t *)(void *)h, (uint32_t)nv, __ATOMIC_ACQUIRE); break;
  default: old = __atomic_exchange_n((uint64_t *)(void *)h, nv, __ATOMIC_ACQUIRE); break;
  }
  if (c->alat_live) ia64_alat_store(c, (uintptr_t)h, size);
  ia64_wr(c, op->r[0], be_order(c, old, size), 0);
  return IA64_NEXT;
}

/* fetchadd on big-endian data: the host cannot add in that order, so compare-and-swap. */
static uint64_t fetchadd_swapped(uint8_t *h, unsigned size, uint64_t inc, int order) {
  if (size == 4) {
    uint32_t *p = (uint32_t *)(void *)h, cur = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(p, &cur, __builtin_bswap32(__builtin_bswap32(cur) + (uint32_t)inc),
                                        false, order, __ATOMIC_RELAXED)) {
    }
    return cur;
  }
  uint64_t *p = (uint64_t *)(void *)h, cur = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(p, &cur, __builtin_bswap64(__builtin_bswap64(cur) + inc), false, order,
                                      __ATOMIC_RELAXED)) {
  }
  return cur;
}

/* fetchadd{4,8}.{acq,rel} r1=[r3],inc3 (arg 1: .rel). */
static int x_fetchadd(ia64_cpu *c, const ia64_op *op) {
  unsigned size = op->aux;
  uint8_t *h;
  if (sem_begin(c, op, false, size, &h) < 0) return IA64_FAULTED;
  uint64_t old, inc = (uint64_t)op->imm;
  if (UNLIKELY(c->psr & IA64_PSR_BE)) old = be_order(c, fetchadd_swapped(h, size, inc, mo(op->arg != 0)), size);
  else if (size == 4) old = __atomic_fetch_add((uint32_t *)(void *)h, (uint32_t)inc, mo(op->arg != 0));
  else old = __atomic_fetch_add((uint64_t *)(void *)h, inc, mo(op->arg != 0));
  if (c->alat_live) ia64_alat_store(c, (uintptr_t)h, size);
  ia64_wr(c, op->r[0], old, 0);
  return IA64_NEXT;
}

/* cmp8xchg16.{acq,rel} r1=[r3],r2,ar.csd,ar.ccv (arg 1: .rel): compare the 8 bytes at r3 with
 * ar.ccv; when equal store r2 and ar.csd as the 16 bytes at r3 & ~8. The 8-byte read and the
 * 16-byte write are one atomic step: a 16-byte compare-and-swap on the host. */
#if defined(__x86_64__)
__extension__ typedef unsigned __int128 mem_u128;
__attribute__((target("cx16"))) static bool cas16(uint8_t *p16, unsigned half, uint64_t ccv,
                                                  uint64_t lo, uint64_t hi, uint64_t *old) {
  mem_u128 *p = (mem_u128 *)(void *)p16, nv = (mem_u128)hi << 64 | lo;
  for (;;) {
    mem_u128 cur = __sync_val_compare_and_swap(p, (mem_u128)0, (mem_u128)0); /* atomic read */
    uint64_t h = (uint64_t)(cur >> (half * 64));
    *old = h;
    if (h != ccv) return false;
    if (__sync_bool_compare_and_swap(p, cur, nv)) return true;
  }
}
#else
static bool cas16(uint8_t *p16, unsigned half, uint64_t ccv, uint64_t lo, uint64_t hi, uint64_t *old) {
  /* No 16-byte CAS on this host: correct for one vCPU, not atomic against others. */
  uint64_t h;
  memcpy(&h, p16 + half * 8, 8);
  *old = h;
  if (h != ccv) return false;
  memcpy(p16, &lo, 8);
  memcpy(p16 + 8, &hi, 8);
  return true;
}
#endif

static int x_cmp8xchg16(ia64_cpu *c, const ia64_op *op) {
  uint8_t *h;
  if (ia64_rnat(c, op->r[1]) || ia64_rnat(c, op->r[2])) return ia64_nat_consumption(c, IA64_ISR_R | IA64_ISR_W);
  uint64_t va = ia64_rd(c, op->r[1]), old;
  if (va & 7) return ia64_raise(c, IA64_VEC_UNALIGNED, IA64_ISR_R | IA64_ISR_W, va);
  if (sem_ptr(c, va & ~(uint64_t)15, 16, &h) < 0) return IA64_FAULTED;
  if (op->arg) __atomic_thread_fence(__ATOMIC_RELEASE);
  bool ok = cas16(h, (unsigned)(va >> 3) & 1, be_order(c, c->ar[IA64_AR_CCV], 8),
                  be_order(c, ia64_rd(c, op->r[2]), 8), be_order(c, c->ar[IA64_AR_CSD], 8), &old);
  if (!op->arg) __atomic_thread_fence(__ATOMIC_ACQUIRE);
  if (ok && c->alat_live) ia64_alat_store(c, (uintptr_t)h, 16);
  ia64_wr(c, op->r[0], be_order(c, old, 8), 0);
  return IA64_NEXT;
}

/* ---- Line prefetch --------------------------------------------------------------------------- */

/* lfetch[.excl] (arg = addressing form): a hint, it never faults, not even on a NaT address.
 * The base update is all it does here. */
static int x_lfetch(ia64_cpu *c, const ia64_op *op) {
  unsigned r3 = op->r[0];
  if (op->arg == UPD_REG) ia64_wr(c, r3, ia64_rd(c, r3) + ia64_rd(c, op->r[1]), ia64_rnat(c, r3) | ia64_rnat(c, op->r[1]));
  else if (op->arg == UPD_IMM) ia64_wr(c, r3, ia64_rd(c, r3) + (uint64_t)op->imm, ia64_rnat(c, r3));
  return IA64_NEXT;
}

/* lfetch.fault[.excl]: raises the faults a read of the line would, as a non-access
 * reference (ISR.na, code lfetch), then updates the base. With PSR.ed (the OS handler's way
 * to make it go on) it is cancelled instead. */
static int x_lfetch_fault(ia64_cpu *c, const ia64_op *op) {
  unsigned r3 = op->r[0];
  uint8_t *h;
  if (ia64_rnat(c, r3)) return ia64_nat_consumption(c, IA64_ISR_NA | IA64_ISR_R | ISR_NA_LFETCH);
  if (!ia64_spec_take_ed(c) && ia64_mem_ptr(c, ia64_rd(c, r3), 1, IA64_ACC_R, &h) < 0) {
    c->intr.isr |= IA64_ISR_NA | ISR_NA_LFETCH;
    return IA64_FAULTED;
  }
  return x_lfetch(c, op);
}

/* ---- Speculation checks and the ALAT ------------------------------------------------------- */

static inline int take(ia64_cpu *c, const ia64_op *op) {
  c->ip += (uint64_t)op->imm;
  c->ri = 0;
  return IA64_BRANCHED;
}

/* chk.s.m r2,target: recovery when r2 holds a deferred exception. */
static int x_chk_s(ia64_cpu *c, const ia64_op *op) {
  return ia64_rnat(c, op->r[0]) ? take(c, op) : IA64_NEXT;
}

/* chk.s f2,target: recovery when f2 is NaTVal. */
static int x_chk_s_f(ia64_cpu *c, const ia64_op *op) {
  const ia64_fr *f = ia64_frp(c, op->r[0]);
  return f->exp == 0x1fffe && f->sig == 0 && f->sign == 0 ? take(c, op) : IA64_NEXT;
}

/* chk.a.{nc,clr} r1/f1,target (arg 1: .clr, arg 2: FR): recovery unless the ALAT still holds
 * the register's entry; r0, f0 and f1 always fail. */
static int x_chk_a(ia64_cpu *c, const ia64_op *op) {
  bool fp = op->arg & 2, clr = op->arg & 1;
  unsigned r = op->r[0];
  if (fp ? r < 2 : r == 0) return take(c, op);
  return ia64_alat_check(c, fp ? c->frmap[r] : c->grmap[r], fp, clr) ? IA64_NEXT : take(c, op);
}

static int x_invala(ia64_cpu *c, const ia64_op *op) {
  (void)op;
  ia64_alat_invala(c);
  return IA64_NEXT;
}

/* invala.e r1 / invala.e f1 (arg 1: FR). */
static int x_invala_e(ia64_cpu *c, const ia64_op *op) {
  unsigned r = op->r[0];
  if (op->arg) ia64_alat_invalidate_reg(c, c->frmap[r], true);
  else ia64_alat_invalidate_reg(c, c->grmap[r], false);
  return IA64_NEXT;
}

/* ---- Ordering, serialization, cache flush ---------------------------------------------------- */

/* mf, mf.a: order this vCPU's memory accesses against the other vCPUs'. */
static int x_mf(ia64_cpu *c, const ia64_op *op) {
  (void)c;
  (void)op;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  return IA64_NEXT;
}

/* fc, fc.i r3: flush the line, which for us means: drop any decoded code of its page, so a
 * modification made behind the software TLB's back (another vCPU, a device) is seen. A
 * non-access reference: it needs a translation, no particular right. */
static int x_fc(ia64_cpu *c, const ia64_op *op) {
  unsigned r3 = op->r[0];
  uint8_t *h;
  if (ia64_rnat(c, r3)) return ia64_nat_consumption(c, IA64_ISR_NA | IA64_ISR_R | ISR_NA_FC);
  uint64_t va = ia64_rd(c, r3);
  int rc = ia64_mem_ptr(c, va, 1, IA64_ACC_R, &h);
  if (rc < 0) {
    ia64_intr fault = c->intr;
    rc = ia64_mem_ptr(c, va, 1, IA64_ACC_X, &h);
    if (rc < 0) {
      c->intr = fault;
      c->intr.isr |= IA64_ISR_NA | ISR_NA_FC;
      return IA64_FAULTED;
    }
  }
  if (rc == 0) ia64_code_invalidate(c, h - (va & (IA64_PAGE_SIZE - 1)));
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  return IA64_NEXT;
}

/* ---- Application registers (M-unit forms) ---------------------------------------------------- */

/* The checks of mov to/from ar live with the AR semantics (regs.c: ia64_ar_get/put). The
 * one this family adds is the NaT of r2, which ranks below the Illegal Operation checks and
 * above the others: an AR the M unit may write is what ia64_ar_put will check first. */
static bool ar_m_writable(const ia64_cpu *c, unsigned ar) {
  static const uint64_t reserved =            /* ARs 0..63 the M unit has no register at */
    0xff00ull | 1ull << 20 | 3ull << 22 | 1ull << 31 | 7ull << 33 | 7ull << 37 | 7ull << 41 |
    3ull << 46;
  if (ar >= 64 || (reserved >> ar) & 1 || ar == IA64_AR_BSP) return false;
  return !((ar == IA64_AR_BSPSTORE || ar == IA64_AR_RNAT) && (c->ar[IA64_AR_RSC] & 3));
}

/* mov.m r1=ar3 */
static int x_mov_from_ar(ia64_cpu *c, const ia64_op *op) {
  uint64_t v;
  if (ia64_ar_get(c, op->r[1], false, &v) < 0) return IA64_FAULTED;
  ia64_wr(c, op->r[0], v, 0);
  return IA64_NEXT;
}

/* mov.m ar3=r2 */
static int x_mov_to_ar(ia64_cpu *c, const ia64_op *op) {
  unsigned ar = op->r[0], r2 = op->r[1];
  if (UNLIKELY(ia64_rnat(c, r2)) && ar_m_writable(c, ar)) return ia64_nat_consumption(c, 0);
  return ia64_ar_put(c, ar, false, ia64_rd(c, r2)) < 0 ? IA64_FAULTED : IA64_NEXT;
}

/* mov.m ar3=imm8 */
static int x_mov_to_ar_imm(ia64_cpu *c, const ia64_op *op) {
  return ia64_ar_put(c, op->r[0], false, (uint64_t)op->imm) < 0 ? IA64_FAULTED : IA64_NEXT;
}

/* ---- Forms ------------------------------------------------------------------------------------ */

#define M IA64_UNIT_M
#define MAJ(v) ENC(40, 37, v)
#define MAJM MSK(40, 37)
/* Loads and stores: major, m (36), x (27), x6 (35:30), hint (29:28). */
#define MX(maj, m, x) (MAJ(maj) | ENC(36, 36, m) | ENC(27, 27, x))
#define MXM (MAJM | MSK(36, 36) | MSK(27, 27))
#define X6(v) ENC(35, 30, v)
#define X6M MSK(35, 30)
#define X6HI(v) ENC(35, 32, v)        /* x6 less its size bits */
#define X6HIM MSK(35, 32)
#define HINT(v) ENC(29, 28, v)
#define HINTM MSK(29, 28)
/* Forms objdump knows only with hints 0, 1 and 3 (hint 2 is data8): two entries. */
#define HINT013(mn, op, ex, arg, match, mask)                                                     \
  {mn, M, op, ex, arg, (match), (mask) | MSK(29, 29)},                                           \
  {mn, M, op, ex, arg, (match) | HINT(3), (mask) | HINTM}
/* Forms objdump knows only with hints 0 and 3. */
#define HINT03(mn, op, ex, arg, match, mask)                                                      \
  {mn, M, op, ex, arg, (match), (mask) | HINTM},                                                 \
  {mn, M, op, ex, arg, (match) | HINT(3), (mask) | HINTM}

/* The three addressing forms of one load type. */
#define LOAD3(mn, ex, ex_reg, ex_imm, a0, a1, a2, x6v, x6m)                                      \
  {mn "%m_ldhint3", M, "%r1=[%r3]", ex, a0, MX(4, 0, 0) | (x6v), MXM | (x6m)},                   \
  HINT013(mn "%m_ldhint", "%r1=[%m_r3u],%r2", ex_reg, a1, MX(4, 1, 0) | (x6v), MXM | (x6m)),    \
  HINT013(mn "%m_ldhint", "%r1=[%m_r3u],%m_imm9b", ex_imm, a2, MAJ(5) | (x6v), MAJM | (x6m))
#define LOAD_PLAIN(N, x6)                                                                         \
  LOAD3("ld%m_sz", x_ld##N, x_ld##N##_reg, x_ld##N##_imm, LDARG(LD_PLAIN, UPD_NONE),               \
        LDARG(LD_PLAIN, UPD_REG), LDARG(LD_PLAIN, UPD_IMM), X6(x6), X6M)
#define LOAD_TYPE(mn, type, x6hi)                                                                 \
  LOAD3(mn, x_ld, x_ld, x_ld, LDARG(type, UPD_NONE), LDARG(type, UPD_REG), LDARG(type, UPD_IMM),  \
        X6HI(x6hi), X6HIM)

#define STORE2(mn, ex, ex_imm, a0, a1, x6v, x6m)                                                  \
  {mn "%m_sthint3", M, "[%r3]=%r2", ex, a0, MX(4, 0, 0) | (x6v), MXM | (x6m)},                   \
  HINT03(mn "%m_sthint", "[%m_r3u]=%r2,%m_imm9a", ex_imm, a1, MAJ(5) | (x6v), MAJM | (x6m))
#define STORE_PLAIN(N, x6)                                                                        \
  STORE2("st%m_sz", x_st##N, x_st##N##_imm, STARG(ST_PLAIN, UPD_NONE), STARG(ST_PLAIN, UPD_IMM), X6(x6), X6M)

#define LFETCH3(mn, ex, x6v, x6m)                                                                 \
  {mn "%m_excl%m_lfhint3", M, "[%r3]", ex, UPD_NONE, MX(6, 0, 0) | (x6v), MXM | (x6m)},                       \
  {mn "%m_excl%m_lfhint3", M, "[%m_r3u],%r2", ex, UPD_REG, MX(6, 1, 0) | (x6v), MXM | (x6m)},    \
  {mn "%m_excl%m_lfhint3", M, "[%m_r3u],%m_imm9b", ex, UPD_IMM, MAJ(7) | (x6v), MAJM | (x6m)}

/* M24 and friends: major 0, x3 (35:33), x4 (30:27), x2 (32:31). */
#define SYS0(x3, x4, x2) (MAJ(0) | ENC(35, 33, x3) | ENC(30, 27, x4) | ENC(32, 31, x2))
#define SYS0M (MAJM | MSK(35, 27))
/* Major 1, x3 = 0, x6 (32:27). */
#define SYS1(x6) (MAJ(1) | ENC(35, 33, 0) | ENC(32, 27, x6))
#define SYS1M (MAJM | MSK(35, 27))

const ia64_insn_desc ia64_tab_mem[] = {
  /* M1/M2/M3: integer loads */
  LOAD_PLAIN(1, 0x00), LOAD_PLAIN(2, 0x01), LOAD_PLAIN(4, 0x02), LOAD_PLAIN(8, 0x03),
  LOAD_TYPE("ld%m_sz.s", LD_S, 0x1),
  LOAD_TYPE("ld%m_sz.a", LD_A, 0x2),
  LOAD_TYPE("ld%m_sz.sa", LD_SA, 0x3),
  LOAD_TYPE("ld%m_sz.bias", LD_BIAS, 0x4),
  LOAD_TYPE("ld%m_sz.acq", LD_ACQ, 0x5),
  LOAD_TYPE("ld%m_sz.c.clr", LD_CCLR, 0x8),
  LOAD_TYPE("ld%m_sz.c.nc", LD_CNC, 0x9),
  LOAD_TYPE("ld%m_sz.c.clr.acq", LD_CCLRACQ, 0xa),
  LOAD3("ld8.fill", x_ld, x_ld, x_ld, LDARG(LD_FILL, UPD_NONE), LDARG(LD_FILL, UPD_REG),
        LDARG(LD_FILL, UPD_IMM), X6(0x1b), X6M),
  /* M4/M5: stores */
  STORE_PLAIN(1, 0x30), STORE_PLAIN(2, 0x31), STORE_PLAIN(4, 0x32), STORE_PLAIN(8, 0x33),
  STORE2("st%m_sz.rel", x_st, x_st, STARG(ST_REL, UPD_NONE), STARG(ST_REL, UPD_IMM), X6HI(0xd), X6HIM),
  STORE2("st8.spill", x_st, x_st, STARG(ST_SPILL, UPD_NONE), STARG(ST_SPILL, UPD_IMM), X6(0x3b), X6M),
  /* ld16/st16 (M1/M4 with x = 1) */
  {"ld16%m_ldhint3", M, "%r1,ar.csd=[%r3]", x_ld16, 0, MX(4, 0, 1) | X6(0x28), MXM | X6M},
  {"ld16.acq%m_ldhint3", M, "%r1,ar.csd=[%r3]", x_ld16, 1, MX(4, 0, 1) | X6(0x2c), MXM | X6M},
  {"st16%m_sthint3", M, "[%r3]=%r2,ar.csd", x_st16, 0, MX(4, 0, 1) | X6(0x30), MXM | X6M},
  {"st16.rel%m_sthint3", M, "[%r3]=%r2,ar.csd", x_st16, 1, MX(4, 0, 1) | X6(0x34), MXM | X6M},
  /* M16/M17: semaphores */
  HINT013("cmpxchg%m_sz.acq%m_ldhint", "%r1=[%r3],%r2,ar.ccv", x_cmpxchg, 0, MX(4, 0, 1) | X6HI(0x0), MXM | X6HIM),
  HINT013("cmpxchg%m_sz.rel%m_ldhint", "%r1=[%r3],%r2,ar.ccv", x_cmpxchg, 1, MX(4, 0, 1) | X6HI(0x1), MXM | X6HIM),
  HINT013("xchg%m_sz%m_ldhint", "%r1=[%r3],%r2", x_xchg, 0, MX(4, 0, 1) | X6HI(0x2), MXM | X6HIM),
  HINT013("fetchadd%m_fasz.acq%m_ldhint", "%r1=[%r3],%m_inc3", x_fetchadd, 0, MX(4, 0, 1) | X6(0x12), MXM | MSK(35, 31)),
  HINT013("fetchadd%m_fasz.rel%m_ldhint", "%r1=[%r3],%m_inc3", x_fetchadd, 1, MX(4, 0, 1) | X6(0x16), MXM | MSK(35, 31)),
  HINT013("cmp8xchg16.acq%m_ldhint", "%r1=[%r3],%r2,ar.csd,ar.ccv", x_cmp8xchg16, 0, MX(4, 0, 1) | X6(0x20), MXM | X6M),
  HINT013("cmp8xchg16.rel%m_ldhint", "%r1=[%r3],%r2,ar.csd,ar.ccv", x_cmp8xchg16, 1, MX(4, 0, 1) | X6(0x24), MXM | X6M),
  /* M13/M14/M15: line prefetch (x6 bit 0 is .excl) */
  LFETCH3("lfetch", x_lfetch, X6(0x2c), MSK(35, 31)),
  LFETCH3("lfetch.fault", x_lfetch_fault, X6(0x2e), MSK(35, 31)),
  {"lfetch.count%m_lfhint3", M, "[%r3],%m_lfcount,%m_lfstride", ia64_x_nop, 0,
   MX(6, 0, 0) | X6(0x2c) | ENC(19, 19, 1), MXM | X6M | MSK(19, 19)},
  /* M20-M23: speculation checks */
  {"chk.s.m", M, "%r2,%chk_tgt25", x_chk_s, 0, MAJ(1) | ENC(35, 33, 1), MAJM | MSK(35, 33)},
  {"chk.s", M, "%fp_f2,%chk_tgt25", x_chk_s_f, 0, MAJ(1) | ENC(35, 33, 3), MAJM | MSK(35, 33)},
  {"chk.a.nc", M, "%m_r1ro,%tgt25", x_chk_a, 0, MAJ(0) | ENC(35, 33, 4), MAJM | MSK(35, 33)},
  {"chk.a.clr", M, "%m_r1ro,%tgt25", x_chk_a, 1, MAJ(0) | ENC(35, 33, 5), MAJM | MSK(35, 33)},
  {"chk.a.nc", M, "%m_f1,%tgt25", x_chk_a, 2, MAJ(0) | ENC(35, 33, 6), MAJM | MSK(35, 33)},
  {"chk.a.clr", M, "%m_f1,%tgt25", x_chk_a, 3, MAJ(0) | ENC(35, 33, 7), MAJM | MSK(35, 33)},
  /* M24-M27: ALAT, ordering, serialization */
  {"invala", M, "", x_invala, 0, SYS0(0, 0, 1), SYS0M},
  {"fwb", M, "", ia64_x_nop, 0, SYS0(0, 0, 2), SYS0M},
  {"mf", M, "", x_mf, 0, SYS0(0, 2, 2), SYS0M},
  {"mf.a", M, "", x_mf, 0, SYS0(0, 3, 2), SYS0M},
  {"srlz.d", M, "", ia64_x_nop, 0, SYS0(0, 0, 3), SYS0M},
  {"srlz.i", M, "", ia64_x_nop, 0, SYS0(0, 1, 3), SYS0M},
  {"sync.i", M, "", x_mf, 0, SYS0(0, 3, 3), SYS0M},
  {"invala.e", M, "%m_r1ro", x_invala_e, 0, SYS0(0, 2, 1), SYS0M},
  {"invala.e", M, "%m_f1", x_invala_e, 1, SYS0(0, 3, 1), SYS0M},
  /* M28: cache flush */
  {"fc", M, "%r3", x_fc, 0, SYS1(0x30), SYS1M | MSK(36, 36)},
  {"fc.i", M, "%r3", x_fc, 0, SYS1(0x30) | ENC(36, 36, 1), SYS1M | MSK(36, 36)},
  /* M29-M31: application registers */
  {"mov.m", M, "%ar3=%r2", x_mov_to_ar, 0, SYS1(0x2a), SYS1M},
  {"mov.m", M, "%ar3=%imm8", x_mov_to_ar_imm, 0, SYS0(0, 8, 2), SYS0M},
  {"mov.m", M, "%r1=%ar3", x_mov_from_ar, 0, SYS1(0x22), SYS1M},
};
IA64_TAB_LEN(mem);
