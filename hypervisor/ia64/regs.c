/* regs.c — register access by logical name: the current frame, rotation and the CFM; the
 * application registers with their architectural semantics.
 *
 * r32..r127 live in a circular file of IA64_NSTACKED physical registers starting at bof;
 * the first sor of them rotate by rrb.gr. f32..f127 rotate by rrb.fr. Predicates are kept
 * in logical order: a change of rrb.pr rotates p16..p63 in place, which makes every
 * predicate read a single shift. grmap/frmap are rebuilt whenever the frame changes.
 *
 * Application registers: c->ar[] is raw storage, except ar.bsp, which is never stored (the
 * RSE computes it from ar.bspstore and the dirty registers, see rse.c). ia64_ar_get/put are
 * what mov to/from ar does (SDM vol. 3 "mov ar"): reserved registers per unit, read-only
 * ar.bsp, ar.bspstore/ar.rnat only in enforced-lazy RSE mode, reserved and ignored fields,
 * kernel registers and ar.itc/ar.ruc privileged (reads too when PSR.si), rsc.pl never more
 * privileged than PSR.cpl. */
#include "internal.h"

/* 32 + k mod 96 for k in 0..191: any run of up to 96 consecutive stacked (or rotating FR)
 * indices, wrapped, is one copy out of these. */
#define W4(b) b, b + 1, b + 2, b + 3
#define W16(b) W4(b), W4(b + 4), W4(b + 8), W4(b + 12)
#define W96(b) W16(b), W16(b + 16), W16(b + 32), W16(b + 48), W16(b + 64), W16(b + 80)
static const uint16_t gr_wrap[2 * IA64_NSTACKED] = {W96(32), W96(32)};
static const uint8_t fr_wrap[2 * 96] = {W96(32), W96(32)};

/* n (<= 96) entries of map: physical stacked indices 32 + (first + i) mod IA64_NSTACKED. */
static inline void map_run(uint16_t *map, unsigned first, unsigned n) {
  memcpy(map, &gr_wrap[first % IA64_NSTACKED], n * sizeof *map);
}

/* Called on every call, return, alloc and loop-branch rotation: a few block copies. */
void ia64_remap_frame(ia64_cpu *c) {
  if (UNLIKELY(c->grmap[31] != 31 || c->frmap[31] != 31)) {
    for (unsigned r = 0; r < 32; r++) c->grmap[r] = (uint16_t)r;
    for (unsigned f = 0; f < 32; f++) c->frmap[f] = (uint8_t)f;
  }
  uint16_t *m = &c->grmap[32];
  unsigned sor = c->sor;
  if (sor) {
    /* logical i < sor names rotating index (i + rrb) mod sor */
    unsigned rot = c->rrb_gr % sor;
    map_run(m, c->bof + rot, sor - rot);
    map_run(m + sor - rot, c->bof, rot);
  }
  map_run(m + sor, c->bof + sor, IA64_NGR - 32 - sor);
  memcpy(&c->frmap[32], &fr_wrap[c->rrb_fr % 96], 96);
}

uint64_t ia64_gr_read(const ia64_cpu *c, unsigned r, bool *nat) {
  if (nat) *nat = ia64_rnat(c, r);
  return ia64_rd(c, r);
}

void ia64_gr_write(ia64_cpu *c, unsigned r, uint64_t v, bool nat) {
  if (r) ia64_wr(c, r, v, nat);
}

ia64_fr ia64_fr_read(const ia64_cpu *c, unsigned f) { return c->fr[c->frmap[f]]; }

void ia64_fr_write(ia64_cpu *c, unsigned f, ia64_fr v) {
  if (f > 1) c->fr[c->frmap[f]] = v;
}

uint64_t ia64_cfm(const ia64_cpu *c) {
  return (uint64_t)c->sof | (uint64_t)c->sol << 7 | (uint64_t)(c->sor / 8) << 14 |
         (uint64_t)c->rrb_gr << 18 | (uint64_t)c->rrb_fr << 25 | (uint64_t)c->rrb_pr << 32;
}

/* Rotate the logical predicates p16..p63 so that they follow a new rrb.pr. */
static void rotate_predicates(ia64_cpu *c, unsigned new_rrb) {
  unsigned d = (new_rrb + 48 - c->rrb_pr) % 48;
  if (!d) return;
  uint64_t rot = c->pr >> 16;                 /* 48 bits, logical p16.. */
  rot = ((rot >> d) | (rot << (48 - d))) & ((1ull << 48) - 1);
  c->pr = (c->pr & 0xffff) | rot << 16;
}

void ia64_set_cfm(ia64_cpu *c, uint64_t cfm) {
  unsigned rrb_pr = (unsigned)ia64_field(cfm, 37, 32);
  rotate_predicates(c, rrb_pr);
  c->sof = (unsigned)ia64_field(cfm, 6, 0);
  c->sol = (unsigned)ia64_field(cfm, 13, 7);
  c->sor = (unsigned)ia64_field(cfm, 17, 14) * 8;
  c->rrb_gr = (unsigned)ia64_field(cfm, 24, 18);
  c->rrb_fr = (unsigned)ia64_field(cfm, 31, 25);
  c->rrb_pr = rrb_pr;
  ia64_remap_frame(c);
}

/* ---- Application registers ------------------------------------------------------------ */

/* Unit classes of the AR space (SDM vol. 1, table 3-3). */
enum { AR_RESERVED = 0, AR_M = 1, AR_I = 2, AR_IGNORED = 3 /* either unit: reads 0, writes ignored */ };

static unsigned ar_class(unsigned ar) {
  if (ar >= 112 || (ar >= 48 && ar <= 63)) return AR_IGNORED;
  if (ar >= 64) return ar <= IA64_AR_EC ? AR_I : AR_RESERVED;
  if (ar <= 7 || (ar >= 16 && ar <= 19) || ar == 21 || (ar >= 24 && ar <= 30) || ar == 32 ||
      ar == 36 || ar == 40 || ar == 44 || ar == 45)
    return AR_M;
  return AR_RESERVED;
}

/* Fields: writing a 1 to a reserved bit is a Reserved Register/Field fault; ignored bits are
 * dropped on write and read as 0. */
static uint64_t ar_reserved_bits(unsigned ar) {
  switch (ar) {
  case IA64_AR_RSC: return ~0ull << 30 | MSK(15, 5);
  case IA64_AR_PFS: return MSK(61, 58) | MSK(51, 38);
  case IA64_AR_FPSR: return MSK(63, 58);
  default: return 0;
  }
}
static uint64_t ar_ignored_bits(unsigned ar) {
  switch (ar) {
  case IA64_AR_BSPSTORE: return 7;
  case IA64_AR_RNAT: return 1ull << 63;
  case IA64_AR_EC: return ~0ull << 6;
  default: return 0;
  }
}

static bool rse_lazy(const ia64_cpu *c) { return (c->ar[IA64_AR_RSC] & 3) == 0; }

uint64_t ia64_ar_read(ia64_cpu *c, unsigned ar) {
  ar &= 127;
  if (ar == IA64_AR_BSP) return ia64_rse_bsp(c);
  if (ar == IA64_AR_ITC) return ia64_itc_read(c);
  if (ar_class(ar) == AR_IGNORED) return 0;
  return c->ar[ar];
}

int ia64_ar_get(ia64_cpu *c, unsigned ar, bool i_unit, uint64_t *v) {
  unsigned cls = ar_class(ar & 127);
  if (cls == AR_RESERVED || (cls == AR_M && i_unit) || (cls == AR_I && !i_unit)) return ia64_illegal_op(c);
  if ((ar == IA64_AR_BSPSTORE || ar == IA64_AR_RNAT) && !rse_lazy(c)) return ia64_illegal_op(c);
  if ((ar == IA64_AR_ITC || ar == IA64_AR_RUC) && (c->psr >> 23 & 1) /* psr.si */ && ia64_psr_cpl(c->psr) != 0)
    return ia64_raise(c, IA64_VEC_GENERAL_EXCEPTION, IA64_GE_PRIV_REG, 0);
  *v = ia64_ar_read(c, ar);
  return 0;
}

int ia64_ar_put(ia64_cpu *c, unsigned ar, bool i_unit, uint64_t v) {
  unsigned cls = ar_class(ar & 127);
  if (cls == AR_RESERVED || (cls == AR_M && i_unit) || (cls == AR_I && !i_unit)) return ia64_illegal_op(c);
  return ia64_ar_write(c, ar, v);
}

int ia64_ar_write(ia64_cpu *c, unsigned ar, uint64_t v) {
  ar &= 127;
  if (ar_class(ar) == AR_RESERVED || ar == IA64_AR_BSP) return ia64_illegal_op(c);
  if ((ar == IA64_AR_BSPSTORE || ar == IA64_AR_RNAT) && !rse_lazy(c)) return ia64_illegal_op(c);
  if (v & ar_reserved_bits(ar)) return ia64_raise(c, IA64_VEC_GENERAL_EXCEPTION, IA64_GE_RESERVED_REG, 0);
  if ((ar <= 7 || ar == IA64_AR_ITC || ar == IA64_AR_RUC) && ia64_psr_cpl(c->psr) != 0)
    return ia64_raise(c, IA64_VEC_GENERAL_EXCEPTION, IA64_GE_PRIV_REG, 0);
  if (ar_class(ar) == AR_IGNORED) return 0;
  v &= ~ar_ignored_bits(ar);
  switch (ar) {
  case IA64_AR_RSC: {
    unsigned pl = ia64_psr_cpl(c->psr);   /* rsc.pl: never more privileged than PSR.cpl */
    if (ia64_field(v, 3, 2) < pl) v = (v & ~MSK(3, 2)) | (uint64_t)pl << 2;
    break;
  }
  case IA64_AR_BSPSTORE:
    ia64_rse_set_bspstore(c, v);  /* ar.bsp follows; ar.rnat is architecturally undefined */
    return 0;
  case IA64_AR_ITC:
    ia64_itc_write(c, v);         /* moves the guest clock's offset (intr.c) */
    return 0;
  default:
    break;
  }
  c->ar[ar] = v;
  return 0;
}
