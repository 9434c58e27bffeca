/* tlb.c — the guest's TLB: translation registers and caches, regions, protection keys, the
 * VHPT walker, and ia64_translate(), which turns a guest address into a guest-physical one
 * the way the architecture does (SDM vol. 2 ch. 4).
 *
 * Each side (instruction, data) has IA64_NTR translation registers and a translation cache
 * of IA64_TC_SETS x IA64_TC_WAYS entries. An entry matches an address by region id (of the
 * region register va{63:61} selects) and virtual page number va{60:ps}: the region number
 * itself is not part of the match. The cache is set-associative, indexed by a hash of the
 * page number at the entry's own page size; a look-up probes one set per page size in use
 * (tc_sizes), so mixed page sizes cost a few more probes, not a scan. Replacement is
 * round-robin within a set; the architecture lets TC entries vanish at any time.
 *
 * A miss walks the VHPT when PTA.ve, rr.ve and PSR.dt (and, for fetches, PSR.ic) allow it:
 * the walker reads the entry at thash(va) through the data TLB only (its own miss is a VHPT
 * Translation fault), compares the long format's tag with ttag(va), and inserts what it
 * found in the TC; an entry it cannot use is a TLB miss fault. The long-format hash is this
 * implementation's: index = hpn ^ rid * 0x9e3779b1, tag = hpn ^ rid << 39, which together
 * identify (rid, hpn) for any VHPT of at least 32 KiB.
 *
 * The software TLB (cpu.c) caches 4 KiB pieces of these translations with the rights
 * ia64_translate() granted, so every change that could make a cached piece wrong drops it:
 * an insert or purge drops the pieces of the range in every region that has the entry's
 * region id (all of them when the range is large), a change of PSR.dt/it/pk, a region or
 * key register write drops everything, and a change of PSR.cpl does when a cached grant
 * depends on the privilege level. */
#include "internal.h"

#define VA_MASK (((uint64_t)1 << 61) - 1)     /* va{60:0}: 61 implemented bits per region */
#define PA_BITS 50                            /* implemented physical address bits */
#define TC_SET_BITS 7
_Static_assert((1u << TC_SET_BITS) == IA64_TC_SETS, "IA64_TC_SETS is 2^TC_SET_BITS");
#define TC_ENTRIES (IA64_TC_SETS * IA64_TC_WAYS)

/* The insert format (itc/itr/VHPT): pte and itir fields. */
#define PTE_P 1ull
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PPN MSK(49, 12)
#define PTE_RSV (1ull << 1 | MSK(51, 50))
#define ITIR_RSV (MSK(1, 0) | MSK(63, 32))
#define PTA_VE 1ull
#define PTA_VF (1ull << 8)
/* Page sizes a translation may have (the same set as rr.ps): 4K..4G. */
#define PAGE_SIZES (1ull << 12 | 1ull << 13 | 1ull << 14 | 1ull << 16 | 1ull << 18 | 1ull << 20 | \
                    1ull << 22 | 1ull << 24 | 1ull << 26 | 1ull << 28 | 1ull << 30 | 1ull << 32)

/* ISR.code of the non-access translations (ISR.na = 1), and of the other faults we raise. */
enum { NA_TPA = 0, NA_PROBE = 2, NA_TAK = 3, NA_PROBE_FAULT = 5 };
#define ISR_NAT_PAGE 0x20
#define ISR_UNIMPL_DATA_ADDR 0x30
#define ISR_UNIMPL_INST_ADDR 0x10

enum { R = IA64_ACC_R, W = IA64_ACC_W, X = IA64_ACC_X };

static inline unsigned pte_ma(uint64_t pte) { return (unsigned)(pte >> 2) & 7; }
static inline unsigned pte_pl(uint64_t pte) { return (unsigned)(pte >> 7) & 3; }
static inline unsigned pte_ar(uint64_t pte) { return (unsigned)(pte >> 9) & 7; }
static inline unsigned itir_ps(uint64_t itir) { return (unsigned)(itir >> 2) & 63; }
static inline uint32_t itir_key(uint64_t itir) { return (uint32_t)(itir >> 8) & 0xffffff; }
static inline uint32_t rr_rid(uint64_t rr) { return (uint32_t)(rr >> 8) & 0xffffff; }
static inline unsigned rr_ps(uint64_t rr) { return (unsigned)(rr >> 2) & 63; }
static inline uint64_t low_mask(unsigned ps) { return ps >= 64 ? ~0ull : ((uint64_t)1 << ps) - 1; }

/* ---- Entries and the cache's sets ----------------------------------------------------------- */

static inline bool covers(const ia64_tlb_ent *e, uint32_t rid, uint64_t v) {
  return e->valid && e->rid == rid && (v & ~low_mask(itir_ps(e->itir))) == e->vpn;
}

/* Does e overlap the 2^ps bytes at base (va{60:0})? Two aligned power-of-two ranges overlap
 * when they agree above the larger one's size. */
static inline bool overlaps(const ia64_tlb_ent *e, uint32_t rid, uint64_t base, unsigned ps) {
  if (!e->valid || e->rid != rid) return false;
  unsigned eps = itir_ps(e->itir), m = eps > ps ? eps : ps;
  return ((e->vpn ^ base) & ~low_mask(m)) == 0;
}

static inline ia64_tlb_ent *tc_set(ia64_tlb_side *t, uint32_t rid, uint64_t v, unsigned ps) {
  uint64_t h = ((v >> ps) ^ (uint64_t)rid << 24) * 0x9e3779b97f4a7c15ull;
  return &t->tc[(h >> (64 - TC_SET_BITS)) * IA64_TC_WAYS];
}

static ia64_tlb_ent *find(ia64_tlb_side *t, uint32_t rid, uint64_t va) {
  uint64_t v = va & VA_MASK;
  for (unsigned i = 0; i < IA64_NTR; i++)
    if (covers(&t->tr[i], rid, v)) return &t->tr[i];
  for (uint64_t sizes = t->tc_sizes; sizes; sizes &= sizes - 1) {
    unsigned ps = (unsigned)__builtin_ctzll(sizes);
    ia64_tlb_ent *set = tc_set(t, rid, v, ps);
    for (unsigned w = 0; w < IA64_TC_WAYS; w++)
      if (covers(&set[w], rid, v)) return &set[w];
  }
  return NULL;
}

/* ---- Keeping the software TLB consistent ------------------------------------------------------ */

static void stlb_flush_all(ia64_cpu *c) {
  ia64_stlb_flush(c);
  c->sys.flags &= ~(uint32_t)(IA64_SYS_STLB_CPL | IA64_SYS_STLB_ONCE);
}

/* Drop the software TLB's pieces of the 2^ps bytes at base in every region whose region
 * register holds rid. */
static void stlb_drop(ia64_cpu *c, uint32_t rid, uint64_t base, unsigned ps) {
  uint64_t start = base & VA_MASK & ~low_mask(ps);
  uint64_t pages = ps > IA64_PAGE_SHIFT ? (uint64_t)1 << (ps - IA64_PAGE_SHIFT) : 1;
  for (uint64_t r = 0; r < 8; r++) {
    if (rr_rid(c->rr[r]) != rid) continue;
    if (pages >= IA64_STLB_SIZE) {
      stlb_flush_all(c);
      return;
    }
    for (uint64_t i = 0; i < pages; i++) ia64_stlb_flush_page(c, r << 61 | (start + (i << IA64_PAGE_SHIFT)));
  }
}

static void invalidate(ia64_cpu *c, ia64_tlb_ent *e) {
  e->valid = 0;
  stlb_drop(c, e->rid, e->vpn, itir_ps(e->itir));
}

/* Purge the TC entries of one side overlapping the 2^ps bytes at base. Each page size in use
 * is probed where it can be (the sets of the blocks the range covers) or scanned. */
static void tc_purge(ia64_cpu *c, ia64_tlb_side *t, uint32_t rid, uint64_t base, unsigned ps) {
  base &= VA_MASK;
  for (uint64_t sizes = t->tc_sizes; sizes; sizes &= sizes - 1) {
    unsigned eps = (unsigned)__builtin_ctzll(sizes);
    if (eps + 4 < ps) {          /* many blocks of this size in the range: scan */
      for (unsigned i = 0; i < TC_ENTRIES; i++)
        if (itir_ps(t->tc[i].itir) == eps && overlaps(&t->tc[i], rid, base, ps)) invalidate(c, &t->tc[i]);
      continue;
    }
    uint64_t first = base & ~low_mask(eps > ps ? eps : ps);
    uint64_t blocks = eps >= ps ? 1 : (uint64_t)1 << (ps - eps);
    for (uint64_t k = 0; k < blocks; k++) {
      ia64_tlb_ent *set = tc_set(t, rid, first + (k << eps), eps);
      for (unsigned w = 0; w < IA64_TC_WAYS; w++)
        if (overlaps(&set[w], rid, base, ps)) invalidate(c, &set[w]);
    }
  }
}

static void tr_purge(ia64_cpu *c, ia64_tlb_side *t, uint32_t rid, uint64_t base, unsigned ps) {
  for (unsigned i = 0; i < IA64_NTR; i++)
    if (overlaps(&t->tr[i], rid, base & VA_MASK, ps)) invalidate(c, &t->tr[i]);
}

/* A new TC entry replaces every TC entry it overlaps (the architecture's alternative to a
 * machine check), and whatever the software TLB still had of its range. */
static ia64_tlb_ent *tc_insert(ia64_cpu *c, ia64_tlb_side *t, uint32_t rid, uint64_t va, uint64_t pte,
                               uint64_t itir) {
  unsigned ps = itir_ps(itir);
  uint64_t vpn = va & VA_MASK & ~low_mask(ps);
  tc_purge(c, t, rid, vpn, ps);
  stlb_drop(c, rid, vpn, ps);
  ia64_tlb_ent *set = tc_set(t, rid, vpn, ps), *e = NULL;
  for (unsigned w = 0; w < IA64_TC_WAYS && !e; w++)
    if (!set[w].valid) e = &set[w];
  if (!e) {
    /* The replaced entry's pieces go too: the software TLB never holds more than the guest
     * TLB, so what the guest sees never depends on it (a VM restored with an empty one, or
     * with pieces the dirty log revoked, continues exactly). */
    e = &set[t->tc_victim++ % IA64_TC_WAYS];
    invalidate(c, e);
  }
  *e = (ia64_tlb_ent){.vpn = vpn, .pte = pte, .rid = rid, .itir = (uint32_t)itir, .valid = 1};
  t->tc_sizes |= 1ull << ps;
  return e;
}

static bool insert_reserved(uint64_t pte, uint64_t itir) {
  if ((itir & ITIR_RSV) || !(PAGE_SIZES >> itir_ps(itir) & 1)) return true;
  if (!(pte & PTE_P)) return false;           /* a not-present entry's other fields are the OS's */
  unsigned ma = pte_ma(pte);
  return (pte & PTE_RSV) || (ma >= 1 && ma <= 3);
}

/* ---- Rights ----------------------------------------------------------------------------------- */

/* What a page with access rights ar and privilege level pl allows at privilege level cpl
 * (SDM vol. 2, table "Page access rights"). ar 7 is execute-only above cpl 0 whatever pl. */
static unsigned ar_rights(unsigned ar, unsigned pl, unsigned cpl) {
  if (ar == 7) return cpl == 0 ? R | X : X;
  if (cpl > pl) return 0;
  switch (ar) {
  case 0: return R;
  case 1: return R | X;
  case 2: return R | W;
  case 3: return R | W | X;
  case 4: return cpl == 0 || cpl < pl ? R | W : R;
  case 5: return cpl == 0 ? R | W | X : R | X;
  default: return cpl != 0 && cpl == pl ? R | W | X : R | W;
  }
}

/* The rights a protection key removes, or -1 when no valid key register holds it. */
static int key_disabled(const ia64_cpu *c, uint32_t key) {
  for (unsigned i = 0; i < IA64_NPKR; i++) {
    uint64_t pkr = c->pkr[i];
    if ((pkr & 1) && itir_key(pkr) == key)
      return (pkr & 8 ? X : 0) | (pkr & 4 ? R : 0) | (pkr & 2 ? W : 0);
  }
  return -1;
}

/* ---- Requests and their faults ------------------------------------------------------------------ */

enum kind { K_ACCESS, K_TPA, K_TAK, K_PROBE, K_PROBE_FAULT };

typedef struct xreq {
  uint64_t va;
  unsigned acc;       /* R, W, X, or R|W (probe.rw.fault); 0 for tpa/tak */
  enum kind kind;
  unsigned pl;        /* privilege level the rights are checked at */
} xreq;

static uint64_t req_isr(const xreq *q) {
  uint64_t isr = (q->acc & R ? IA64_ISR_R : 0) | (q->acc & W ? IA64_ISR_W : 0) | (q->acc & X ? IA64_ISR_X : 0);
  switch (q->kind) {
  case K_TPA: return isr | IA64_ISR_NA | NA_TPA;
  case K_TAK: return isr | IA64_ISR_NA | NA_TAK;
  case K_PROBE: return isr | IA64_ISR_NA | NA_PROBE;
  case K_PROBE_FAULT: return isr | IA64_ISR_NA | NA_PROBE_FAULT;
  default: return isr;
  }
}

static int fault(ia64_cpu *c, const xreq *q, int vector) { return ia64_raise(c, vector, req_isr(q), q->va); }

/* A TLB miss of a data reference while PSR.ic = 0 is a Data Nested TLB fault. */
static int miss(ia64_cpu *c, const xreq *q, int vector) {
  if (!(q->acc & X) && !(c->psr & IA64_PSR_IC)) vector = IA64_VEC_DATA_NESTED_TLB;
  return fault(c, q, vector);
}

/* ---- The VHPT walker ----------------------------------------------------------------------------- */

static uint64_t long_hash(uint64_t hpn, uint32_t rid) { return hpn ^ (uint64_t)rid * 0x9e3779b1u; }

uint64_t ia64_thash(const ia64_cpu *c, uint64_t va) {
  uint64_t pta = c->cr[IA64_CR_PTA], rr = c->rr[va >> 61];
  unsigned size = (unsigned)(pta >> 2) & 63;
  size = size < 15 ? 15 : size > 61 ? 61 : size;
  uint64_t mask = low_mask(size), hpn = (va & VA_MASK) >> rr_ps(rr), off, region;
  if (pta & PTA_VF) {
    off = long_hash(hpn, rr_rid(rr)) << 5;
    region = pta & ~VA_MASK;
  } else {
    off = hpn << 3;
    region = va & ~VA_MASK;
  }
  uint64_t base = pta & VA_MASK & ~low_mask(15);
  return region | (base & ~mask) | (off & mask);
}

uint64_t ia64_ttag(const ia64_cpu *c, uint64_t va) {
  uint64_t rr = c->rr[va >> 61];
  return ((va & VA_MASK) >> rr_ps(rr)) ^ (uint64_t)rr_rid(rr) << 39;
}

static bool walker_enabled(const ia64_cpu *c, uint64_t rr, bool inst) {
  return (c->cr[IA64_CR_PTA] & PTA_VE) && (rr & 1) && (c->psr & IA64_PSR_DT) && (!inst || (c->psr & IA64_PSR_IC));
}

/* Read n words of the VHPT entry at iha, whose data translation is ve. False when the walker
 * may not use that translation (not present, no access bit, a key that forbids reading,
 * not cacheable memory) or the platform has no memory there. */
static bool vhpt_read(ia64_cpu *c, const ia64_tlb_ent *ve, uint64_t iha, unsigned n, uint64_t w[3]) {
  uint64_t pte = ve->pte;
  unsigned ma = pte_ma(pte), ps = itir_ps(ve->itir);
  if (!(pte & PTE_P) || !(pte & PTE_A) || ma != IA64_MA_WB) return false;
  if (c->psr & IA64_PSR_PK) {
    int d = key_disabled(c, itir_key(ve->itir));
    if (d < 0 || (d & R)) return false;
  }
  ia64_intr saved = c->intr;
  ia64_xlat x = {0};
  c->sys.walk_pa = (pte & PTE_PPN & ~low_mask(ps)) | (iha & low_mask(ps));
  c->sys.flags |= IA64_SYS_WALKING;
  int rc = c->mem->translate(c->mem_ctx, c, iha, IA64_ACC_R, &x);
  c->sys.flags &= ~(uint32_t)IA64_SYS_WALKING;
  c->intr = saved;
  if (rc != 0 || !x.host_page) return false;
  memcpy(w, x.host_page + (iha & (IA64_PAGE_SIZE - 1)), 8 * n);
  if (c->cr[IA64_CR_DCR] & 2)                     /* dcr.be: a big-endian VHPT */
    for (unsigned i = 0; i < n; i++) w[i] = __builtin_bswap64(w[i]);
  return true;
}

/* The walk after a TLB miss of q->va: the entry found, inserted in the TC, or NULL after
 * raising VHPT Translation (the VHPT's page has no translation) or the TLB miss fault (no
 * usable entry); tak raises nothing. */
static ia64_tlb_ent *walk(ia64_cpu *c, const xreq *q, uint64_t rr) {
  bool inst = q->acc == X, quiet = q->kind == K_TAK;
  uint64_t iha = ia64_thash(c, q->va), w[3] = {0, 0, 0};
  ia64_tlb_ent *ve = find(&c->sys.dtlb, rr_rid(c->rr[iha >> 61]), iha);
  if (!ve) {
    if (!quiet) miss(c, q, IA64_VEC_VHPT_TRANSLATION);
    return NULL;
  }
  bool lf = (c->cr[IA64_CR_PTA] & PTA_VF) != 0;
  if (vhpt_read(c, ve, iha, lf ? 3 : 1, w)) {
    /* A short-format entry takes the region's page size and its region id as key. */
    uint64_t itir = lf ? w[1] : (rr & MSK(7, 2)) | (uint64_t)rr_rid(rr) << 8;
    if ((!lf || w[2] == ia64_ttag(c, q->va)) && !insert_reserved(w[0], itir))
      return tc_insert(c, inst ? &c->sys.itlb : &c->sys.dtlb, rr_rid(rr), q->va, w[0], itir);
  }
  if (!quiet) miss(c, q, inst ? IA64_VEC_INST_TLB : IA64_VEC_DATA_TLB);
  return NULL;
}

/* The translation of q->va in the TLB or the VHPT, or NULL after raising the miss fault. */
static ia64_tlb_ent *lookup(ia64_cpu *c, const xreq *q) {
  bool inst = q->acc == X;
  uint64_t rr = c->rr[q->va >> 61];
  ia64_tlb_ent *e = find(inst ? &c->sys.itlb : &c->sys.dtlb, rr_rid(rr), q->va);
  if (LIKELY(e != NULL)) return e;
  if (walker_enabled(c, rr, inst)) return walk(c, q, rr);
  if (q->kind != K_TAK) miss(c, q, inst ? IA64_VEC_ALT_INST_TLB : IA64_VEC_ALT_DATA_TLB);
  return NULL;
}

/* ---- Translation ----------------------------------------------------------------------------------- */

enum { DENIED = 1 };   /* check()'s answer to a non-fault probe the rights refuse */

/* The checks after a translation was found, in the architecture's priority order: Page Not
 * Present, NaT Page Consumption, Key Miss, Key Permission, Access Rights, Dirty Bit, Access
 * Bit. Returns 0 with out filled, DENIED, or -1 with the fault raised. */
static int check(ia64_cpu *c, const xreq *q, const ia64_tlb_ent *e, ia64_pxlat *out) {
  bool inst = q->acc == X;
  uint64_t pte = e->pte;
  unsigned ps = itir_ps(e->itir), ma = pte_ma(pte);
  if (!(pte & PTE_P)) return fault(c, q, IA64_VEC_PAGE_NOT_PRESENT);
  if (ma == IA64_MA_NATPAGE) return ia64_raise(c, IA64_VEC_NAT_CONSUMPTION, ISR_NAT_PAGE | req_isr(q), q->va);
  out->pa = (pte & PTE_PPN & ~low_mask(ps)) | (q->va & low_mask(ps));
  out->ma = ma;
  out->ps = ps;
  out->perms = 0;
  if (q->kind == K_TPA) return 0;
  unsigned disabled = 0;
  if (c->psr & IA64_PSR_PK) {
    int d = key_disabled(c, itir_key(e->itir));
    if (d < 0) return fault(c, q, inst ? IA64_VEC_INST_KEY_MISS : IA64_VEC_DATA_KEY_MISS);
    disabled = (unsigned)d;
  }
  unsigned ar = pte_ar(pte), pl = pte_pl(pte);
  if (q->acc & disabled) return q->kind == K_PROBE ? DENIED : fault(c, q, IA64_VEC_KEY_PERMISSION);
  unsigned rights = ar_rights(ar, pl, q->pl) & ~disabled;
  if ((rights & q->acc) != q->acc)
    return q->kind == K_PROBE ? DENIED : fault(c, q, inst ? IA64_VEC_INST_ACCESS_RIGHTS : IA64_VEC_DATA_ACCESS_RIGHTS);
  if (q->kind == K_PROBE) return 0;
  /* What the software TLB may keep: no write before the dirty bit, nothing before the access
   * bit, so the first such access comes back here and faults. */
  unsigned keep = rights;
  if (!(pte & PTE_D)) keep &= ~(unsigned)W;
  if (!(pte & PTE_A)) keep = 0;
  if (!(c->psr & (inst ? IA64_PSR_IA : IA64_PSR_DA))) {
    if ((q->acc & W) && !(pte & PTE_D)) return fault(c, q, IA64_VEC_DIRTY_BIT);
    if (!(pte & PTE_A)) return fault(c, q, inst ? IA64_VEC_INST_ACCESS_BIT : IA64_VEC_DATA_ACCESS_BIT);
  } else if ((keep & q->acc) != q->acc) {
    keep |= q->acc;                       /* allowed once: dropped when the bit clears */
    c->sys.flags |= IA64_SYS_STLB_ONCE;
  }
  /* Rights of pl 3 pages with ar 0-3 are the same at every cpl; the rest depend on it. */
  if (pl != 3 || ar > 3) c->sys.flags |= IA64_SYS_STLB_CPL;
  out->perms = keep;
  return 0;
}

/* Physical addressing: bit 63 selects uncacheable; bits 62:50 are unimplemented. */
static int physical(ia64_cpu *c, const xreq *q, ia64_pxlat *out) {
  uint64_t a = q->va & ~(1ull << 63);
  if (a >> PA_BITS) {
    if (q->acc == X)   /* reported as the optional Unimplemented Instruction Address fault */
      return ia64_raise(c, IA64_VEC_LOWER_PRIV_TRANSFER, ISR_UNIMPL_INST_ADDR | IA64_ISR_X, q->va);
    return ia64_raise(c, IA64_VEC_GENERAL_EXCEPTION, ISR_UNIMPL_DATA_ADDR | req_isr(q), q->va);
  }
  *out = (ia64_pxlat){.pa = a, .perms = R | W | X, .ma = q->va >> 63 ? IA64_MA_UC : IA64_MA_WB, .ps = 0};
  return 0;
}

int ia64_translate(ia64_cpu *c, uint64_t va, unsigned access, ia64_pxlat *out) {
  if (UNLIKELY(c->sys.flags & IA64_SYS_WALKING)) {   /* the walker's own reference */
    *out = (ia64_pxlat){.pa = c->sys.walk_pa, .perms = R, .ma = IA64_MA_WB, .ps = IA64_PAGE_SHIFT};
    return 0;
  }
  xreq q = {.va = va, .acc = access & (R | W | X), .kind = K_ACCESS, .pl = ia64_psr_cpl(c->psr)};
  if (!(c->psr & (q.acc == X ? IA64_PSR_IT : IA64_PSR_DT))) return physical(c, &q, out);
  const ia64_tlb_ent *e = lookup(c, &q);
  if (!e) return -1;
  return check(c, &q, e, out) < 0 ? -1 : 0;
}

/* ---- The translation instructions --------------------------------------------------------------------- */

int ia64_tlb_insert(ia64_cpu *c, bool inst, int tr_slot, uint64_t ifa, uint64_t pte, uint64_t itir) {
  if (insert_reserved(pte, itir) || tr_slot >= IA64_NTR)
    return ia64_raise(c, IA64_VEC_GENERAL_EXCEPTION, IA64_GE_RESERVED_REG, 0);
  ia64_tlb_side *t = inst ? &c->sys.itlb : &c->sys.dtlb;
  uint32_t rid = rr_rid(c->rr[ifa >> 61]);
  if (tr_slot < 0) {
    tc_insert(c, t, rid, ifa, pte, itir);
    return 0;
  }
  unsigned ps = itir_ps(itir);
  uint64_t vpn = ifa & VA_MASK & ~low_mask(ps);
  ia64_tlb_ent *e = &t->tr[tr_slot];
  if (e->valid) invalidate(c, e);
  tc_purge(c, t, rid, vpn, ps);
  stlb_drop(c, rid, vpn, ps);
  *e = (ia64_tlb_ent){.vpn = vpn, .pte = pte, .rid = rid, .itir = (uint32_t)itir, .valid = 1};
  return 0;
}

static void purge_rid(ia64_cpu *c, unsigned what, uint32_t rid, uint64_t va, unsigned ps) {
  if (what & IA64_PURGE_TC) {
    tc_purge(c, &c->sys.itlb, rid, va, ps);
    tc_purge(c, &c->sys.dtlb, rid, va, ps);
  }
  if (what & IA64_PURGE_ITR) tr_purge(c, &c->sys.itlb, rid, va, ps);
  if (what & IA64_PURGE_DTR) tr_purge(c, &c->sys.dtlb, rid, va, ps);
  /* Every entry removed above dropped its own pieces; the range's go too, whatever held them. */
  stlb_drop(c, rid, va, ps);
}

void ia64_tlb_purge(ia64_cpu *c, unsigned what, uint64_t va, unsigned ps) {
  purge_rid(c, what, rr_rid(c->rr[va >> 61]), va, ps);
}

void ia64_tlb_purge_remote(ia64_cpu *c, uint32_t rid, uint64_t va, unsigned ps) {
  purge_rid(c, IA64_PURGE_TC, rid, va, ps);
}

void ia64_tlb_purge_all_tc(ia64_cpu *c) {
  ia64_tlb_side *sides[2] = {&c->sys.itlb, &c->sys.dtlb};
  for (unsigned s = 0; s < 2; s++) {
    for (unsigned i = 0; i < TC_ENTRIES; i++) sides[s]->tc[i].valid = 0;
    sides[s]->tc_sizes = 0;
  }
  stlb_flush_all(c);
}

int ia64_tlb_tpa(ia64_cpu *c, uint64_t va, uint64_t *pa) {
  xreq q = {.va = va, .acc = 0, .kind = K_TPA, .pl = 0};
  ia64_pxlat out = {0};
  const ia64_tlb_ent *e = lookup(c, &q);
  if (!e || check(c, &q, e, &out) < 0) return -1;
  *pa = out.pa;
  return 0;
}

uint64_t ia64_tlb_tak(ia64_cpu *c, uint64_t va) {
  xreq q = {.va = va, .acc = 0, .kind = K_TAK, .pl = 0};
  const ia64_tlb_ent *e = lookup(c, &q);
  return e && (e->pte & PTE_P) ? (uint64_t)itir_key(e->itir) << 8 : 1;
}

int ia64_tlb_probe(ia64_cpu *c, uint64_t va, unsigned access, unsigned pl, bool fault_form, bool *ok) {
  *ok = true;
  if (!(c->psr & IA64_PSR_DT)) return 0;           /* no translation: everything allowed */
  xreq q = {.va = va, .acc = access & (R | W), .kind = fault_form ? K_PROBE_FAULT : K_PROBE, .pl = pl};
  ia64_pxlat out = {0};
  const ia64_tlb_ent *e = lookup(c, &q);
  if (!e) return -1;
  int rc = check(c, &q, e, &out);
  if (rc < 0) return -1;
  *ok = rc == 0;
  return 0;
}

/* ---- PSR changes and reset ------------------------------------------------------------------------------ */

void ia64_psr_changed(ia64_cpu *c, uint64_t old) {
  uint64_t now = c->psr, diff = old ^ now;
  if ((diff & (IA64_PSR_DT | IA64_PSR_IT | IA64_PSR_PK)) ||
      ((diff & IA64_PSR_CPL) && (c->sys.flags & IA64_SYS_STLB_CPL)) ||
      ((old & ~now & IA64_PSR_SUPPRESS) && (c->sys.flags & IA64_SYS_STLB_ONCE)))
    stlb_flush_all(c);
  if (diff & now & IA64_PSR_I) ia64_attn_set(c, IA64_ATTN_IRQ);
  if (now & IA64_PSR_STEP) ia64_attn_set(c, IA64_ATTN_STEP);
}

void ia64_sys_reset(ia64_cpu *c) {
  ia64_sys_hooks hooks = c->sys.hooks;
  void *ctx = c->sys.hook_ctx;
  memset(&c->sys, 0, sizeof c->sys);
  c->sys.hooks = hooks;
  c->sys.hook_ctx = ctx;
  /* The local interrupt sources come out of reset masked (their m bit, 16). */
  c->cr[IA64_CR_ITV] = c->cr[IA64_CR_PMV] = c->cr[IA64_CR_CMCV] = 1ull << 16;
  c->cr[IA64_CR_LRR0] = c->cr[IA64_CR_LRR1] = 1ull << 16;
  ia64_stlb_flush(c);
}
