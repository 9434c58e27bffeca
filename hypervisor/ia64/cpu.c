/* cpu.c — the interpreter loop, the software TLB and the decode cache.
 *
 * ia64_run() fetches a bundle through the software TLB (execute permission), finds its
 * decoded form in the per-page decode cache (keyed by host page, decoded on first use) and
 * calls each slot's executor when its qualifying predicate is true. Sequential bundles and
 * branches within the current page skip the TLB and cache look-ups.
 *
 * Decoded code stays coherent with memory through write permission: a page that has
 * decoded code is never writable in the software TLB; the first store to it takes the slow
 * path, which drops the decoded page (freed at the next fetch, since the loop may still be
 * executing from it) and then grants write. The same slow path is where the hypervisor's
 * shadow TLB sees first writes for its dirty log. */
#include <stdlib.h>

#include "internal.h"

#define DPAGE_BUNDLES (IA64_PAGE_SIZE / 16)
#define DCACHE_BUCKETS 512

typedef struct dpage {
  const uint8_t *host;         /* host address of the guest page */
  struct dpage *next;
  ia64_dbundle b[DPAGE_BUNDLES];
} dpage;

struct ia64_dcache {
  dpage *bucket[DCACHE_BUCKETS];
  dpage *dead;                 /* dropped pages, freed at the next fetch */
};

static unsigned dc_hash(const uint8_t *host) {
  return (unsigned)(((uintptr_t)host >> IA64_PAGE_SHIFT) * 2654435761u) % DCACHE_BUCKETS;
}

static dpage *dc_find(ia64_dcache *dc, const uint8_t *host) {
  for (dpage *p = dc->bucket[dc_hash(host)]; p; p = p->next)
    if (p->host == host) return p;
  return NULL;
}

static void dc_free_dead(ia64_dcache *dc) {
  while (dc->dead) {
    dpage *p = dc->dead;
    dc->dead = p->next;
    free(p);
  }
}

void ia64_code_invalidate(ia64_cpu *c, const uint8_t *host_page) {
  ia64_dcache *dc = c->dcache;
  for (dpage **pp = &dc->bucket[dc_hash(host_page)]; *pp; pp = &(*pp)->next) {
    if ((*pp)->host != host_page) continue;
    dpage *p = *pp;
    *pp = p->next;
    p->next = dc->dead;
    dc->dead = p;
    c->code_gen++;
    return;
  }
}

/* ---- Lifecycle ------------------------------------------------------------------------------ */

int ia64_cpu_init(ia64_cpu *c, const ia64_mem_ops *mem, void *mem_ctx) {
  memset(c, 0, sizeof *c);
  c->dcache = calloc(1, sizeof *c->dcache);
  if (!c->dcache) return -1;
  c->mem = mem;
  c->mem_ctx = mem_ctx;
  ia64_cpu_reset(c);
  return 0;
}

void ia64_cpu_destroy(ia64_cpu *c) {
  if (!c->dcache) return;
  for (unsigned i = 0; i < DCACHE_BUCKETS; i++)
    while (c->dcache->bucket[i]) {
      dpage *p = c->dcache->bucket[i];
      c->dcache->bucket[i] = p->next;
      free(p);
    }
  dc_free_dead(c->dcache);
  free(c->dcache);
  c->dcache = NULL;
}

void ia64_cpu_reset(ia64_cpu *c) {
  memset(c->gr, 0, sizeof c->gr);
  memset(c->nat, 0, sizeof c->nat);
  for (unsigned f = 0; f < IA64_NFR; f++) c->fr[f] = (ia64_fr){0, 0, 0};
  c->fr[1] = (ia64_fr){1ull << 63, 0xffff, 0};   /* f1 = +1.0 */
  c->pr = 1;
  memset(c->br, 0, sizeof c->br);
  memset(c->ar, 0, sizeof c->ar);
  c->ar[IA64_AR_FPSR] = 0x0009804c0270033full;   /* the Linux default FPSR */
  c->sof = c->sol = c->sor = c->rrb_gr = c->rrb_fr = c->rrb_pr = 0;
  c->bof = 0;
  c->ndirty = 0;
  c->ip = 0;
  c->ri = 0;
  c->psr = 0;
  memset(c->cr, 0, sizeof c->cr);
  memset(c->alat, 0, sizeof c->alat);
  ia64_sys_reset(c);
  ia64_remap_frame(c);
  ia64_stlb_flush(c);
}

int ia64_raise(ia64_cpu *c, int vector, uint64_t isr, uint64_t ifa) {
  c->intr = (ia64_intr){.vector = vector, .isr = isr, .ifa = ifa};
  return -1;
}

int ia64_x_illegal(ia64_cpu *c, const ia64_op *op) {
  (void)op;
  return ia64_illegal_op(c);
}

int ia64_x_nop(ia64_cpu *c, const ia64_op *op) {
  (void)c;
  (void)op;
  return IA64_NEXT;
}

/* ---- Software TLB ---------------------------------------------------------------------------- */

static void stlb_clear(ia64_stlb_ent *e) { e->tag_r = e->tag_w = e->tag_x = ~(uint64_t)0; }

void ia64_stlb_flush(ia64_cpu *c) {
  for (unsigned i = 0; i < IA64_STLB_SIZE; i++) stlb_clear(&c->stlb[i]);
  c->code_gen++;
}

void ia64_stlb_flush_page(ia64_cpu *c, uint64_t va) {
  stlb_clear(&c->stlb[(va >> IA64_PAGE_SHIFT) & (IA64_STLB_SIZE - 1)]);
  c->code_gen++;
}

static uint64_t isr_for(unsigned acc) {
  return acc == IA64_ACC_W ? IA64_ISR_W : acc == IA64_ACC_X ? IA64_ISR_X : IA64_ISR_R;
}

int ia64_mem_slow(ia64_cpu *c, uint64_t va, unsigned size, unsigned acc, uint8_t **host) {
  if (va & (size - 1)) return ia64_raise(c, IA64_VEC_UNALIGNED, isr_for(acc), va);
  ia64_xlat x = {0};
  int rc = c->mem->translate(c->mem_ctx, c, va, acc, &x);
  if (rc) return rc;
  uint64_t page = va & ~(uint64_t)(IA64_PAGE_SIZE - 1);
  ia64_stlb_ent *e = &c->stlb[(va >> IA64_PAGE_SHIFT) & (IA64_STLB_SIZE - 1)];
  uintptr_t addend = (uintptr_t)x.host_page - (uintptr_t)page;
  if (e->addend != addend || (e->tag_r != page && e->tag_w != page && e->tag_x != page)) stlb_clear(e);
  e->addend = addend;
  if (x.perms & IA64_ACC_R) e->tag_r = page;
  if (x.perms & IA64_ACC_X) e->tag_x = page;
  if (x.perms & IA64_ACC_W) {
    /* A page with decoded code becomes writable only when a store actually comes. */
    if (dc_find(c->dcache, x.host_page)) {
      if (acc == IA64_ACC_W) ia64_code_invalidate(c, x.host_page);
      else x.perms &= ~(unsigned)IA64_ACC_W;
    }
    if (x.perms & IA64_ACC_W) e->tag_w = page;
  }
  *host = x.host_page + (va - page);
  return 0;
}

int ia64_io(ia64_cpu *c, uint64_t va, unsigned size, bool write, uint64_t *val) {
  if (!c->mem->io) return ia64_raise(c, IA64_VEC_UNSUPPORTED_DATA_REF, write ? IA64_ISR_W : IA64_ISR_R, va);
  return c->mem->io(c->mem_ctx, c, va, size, write, val);
}

static int copy_mem(ia64_cpu *c, uint64_t va, uint8_t *buf, size_t len, bool write) {
  while (len) {
    size_t chunk = IA64_PAGE_SIZE - (va & (IA64_PAGE_SIZE - 1));
    if (chunk > len) chunk = len;
    uint8_t *h;
    int rc = ia64_mem_ptr(c, va, 1, write ? IA64_ACC_W : IA64_ACC_R, &h);
    if (rc < 0) return -1;
    if (rc == IA64_XLAT_IO) {
      for (size_t i = 0; i < chunk; i++) {
        uint64_t v = buf[i];
        if (ia64_io(c, va + i, 1, write, &v) < 0) return -1;
        buf[i] = (uint8_t)v;
      }
    } else if (write) {
      memcpy(h, buf, chunk);
    } else {
      memcpy(buf, h, chunk);
    }
    va += chunk, buf += chunk, len -= chunk;
  }
  return 0;
}

int ia64_read_mem(ia64_cpu *c, uint64_t va, void *buf, size_t len) { return copy_mem(c, va, buf, len, false); }
int ia64_write_mem(ia64_cpu *c, uint64_t va, const void *buf, size_t len) {
  return copy_mem(c, va, (uint8_t *)(uintptr_t)buf, len, true);
}

/* ---- Fetch and execute ----------------------------------------------------------------------- */

/* The decoded page for the bundle at c->ip, or NULL after raising a fetch fault. */
static dpage *fetch_page(ia64_cpu *c) {
  uint8_t *h;
  int rc = ia64_mem_ptr(c, c->ip, 16, IA64_ACC_X, &h);
  if (rc == IA64_XLAT_IO) {
    ia64_raise(c, IA64_VEC_GENERAL_EXCEPTION, IA64_GE_ILLEGAL_OP | IA64_ISR_X, c->ip);
    return NULL;
  }
  if (rc < 0) return NULL;
  dc_free_dead(c->dcache);
  const uint8_t *host_page = h - (c->ip & (IA64_PAGE_SIZE - 1));
  dpage *p = dc_find(c->dcache, host_page);
  if (p) return p;
  p = calloc(1, sizeof *p);
  if (!p) {
    ia64_raise(c, IA64_VEC_GENERAL_EXCEPTION, IA64_GE_ILLEGAL_OP | IA64_ISR_X, c->ip);
    return NULL;
  }
  p->host = host_page;
  unsigned hb = dc_hash(host_page);
  p->next = c->dcache->bucket[hb];
  c->dcache->bucket[hb] = p;
  /* From now on stores to this page must take the slow path. */
  for (unsigned i = 0; i < IA64_STLB_SIZE; i++) {
    ia64_stlb_ent *e = &c->stlb[i];
    if (e->tag_w != ~(uint64_t)0 && (const uint8_t *)(uintptr_t)(e->tag_w + e->addend) == host_page)
      e->tag_w = ~(uint64_t)0;
  }
  return p;
}

/* An op naming a stacked register outside the current frame is an Illegal Operation. */
static inline bool out_of_frame(const ia64_cpu *c, const ia64_op *op) {
  return op->maxgr >= 32 + c->sof;
}

/* Finishes an executor's non-IA64_NEXT, non-branch result: a fault stops at the slot, a
 * trap after it. Returns the instructions retired in this bundle. */
static unsigned stop_at_slot(ia64_cpu *c, unsigned s, unsigned start, unsigned n) {
  unsigned done;
  c->intr.isr |= (uint64_t)s << 41;  /* ISR.ei: the slot */
  if (c->intr.trap) {                 /* the instruction completed: resume after it */
    done = s - start + 1;
    if (s + 1 < n) c->ri = s + 1;
    else c->ip += 16, c->ri = 0;
  } else {
    done = s - start;
    c->ri = s;
  }
  c->intr.iip = c->ip;
  c->intr.ri = c->ri;
  return done;
}

/* Runs the live slots from start to end-1 of bundle b, unrolled so that each slot's op is
 * at a constant offset. Returns IA64_NEXT when they all ran, IA64_BRANCHED with *last = the
 * branching slot, or IA64_FAULTED with *last = the faulting slot. Stacked registers beyond
 * the frame are looked for only when the bundle names one, or when a slot of it changes the
 * frame (an alloc may shrink it under the slots after it). */
static inline __attribute__((always_inline)) int run_bundle(ia64_cpu *c, const ia64_dbundle *b,
                                                            unsigned start, unsigned end,
                                                            const bool traced, unsigned *last) {
  unsigned todo = traced ? (1u << b->nslots) - 1 : b->live;
  if (UNLIKELY(start | (end ^ b->nslots))) todo &= (~0u << start) & ((1u << end) - 1);
  bool check_frame = b->need_sof > c->sof;
#define RUN_SLOT(S)                                                                             \
  if (todo & (1u << (S))) {                                                                     \
    const ia64_op *op = &b->op[S];                                                              \
    if ((c->pr >> op->qp) & 1) {                                                                \
      if (traced) c->trace(c->trace_ctx, c, c->ip, S);                                          \
      int r = UNLIKELY(check_frame && out_of_frame(c, op)) ? ia64_illegal_op(c) : op->exec(c, op); \
      if (UNLIKELY(r != IA64_NEXT)) {                                                           \
        *last = S;                                                                              \
        return r;                                                                               \
      }                                                                                         \
    }                                                                                           \
  }
  RUN_SLOT(0)
  RUN_SLOT(1)
  RUN_SLOT(2)
#undef RUN_SLOT
  return IA64_NEXT;
}

/* The loop: an outer loop per code page (TLB fetch, decode-cache look-up, stop requests)
 * and an inner loop over the bundles of that page. The instruction budget is exact (it may
 * end inside a bundle); a stop request is looked at whenever control leaves the page or a
 * branch is taken, which every loop does. Slots holding nop/hint are skipped through the
 * bundle's live mask but still count as retired. */
static inline __attribute__((always_inline)) ia64_stop run_loop(ia64_cpu *c, uint64_t limit,
                                                                const bool traced) {
  uint64_t retired = c->retired, limit_less3 = limit < 3 ? 0 : limit - 3;
  ia64_stop why;
  for (;;) {
    if (UNLIKELY(c->stop_request)) { why = IA64_STOP_REQUEST; break; }
    if (UNLIKELY(c->sys.attn)) {   /* interrupts, halt, single-stepping (intr.c) */
      c->retired = retired;
      why = ia64_sys_attend(c, limit);
      retired = c->retired;
      if (why != IA64_STOP_INVALID) break;
    }
    dpage *dp = fetch_page(c);
    if (!dp) {
      c->intr.iip = c->ip;
      c->intr.ri = c->ri;
      why = IA64_STOP_INTR;
      break;
    }
    const uint64_t page_va = c->ip & ~(uint64_t)(IA64_PAGE_SIZE - 1);
    const unsigned gen = c->code_gen;
    ia64_dbundle *b = &dp->b[(c->ip >> 4) & (DPAGE_BUNDLES - 1)];
    for (;;) {
      if (UNLIKELY(!b->decoded)) ia64_decode_bundle(b, dp->host + (c->ip & (IA64_PAGE_SIZE - 1)));
      unsigned start = c->ri, n = b->nslots, end = n, s = 0;
      if (UNLIKELY(retired >= limit_less3 && retired + (n - start) > limit)) {  /* budget ends here */
        if (retired >= limit) { why = IA64_STOP_LIMIT; goto out; }
        end = start + (unsigned)(limit - retired);
      }
      int r = run_bundle(c, b, start, end, traced, &s);
      if (LIKELY(r == IA64_NEXT)) {
        retired += end - start;
        if (UNLIKELY(end != n)) { c->ri = end; continue; }
        c->ip += 16;
        c->ri = 0;
        if (UNLIKELY(gen != c->code_gen || (c->ip & (IA64_PAGE_SIZE - 1)) == 0)) break;
        b++;
        continue;
      }
      if (r == IA64_BRANCHED) {
        retired += s - start + 1;
        if (UNLIKELY(c->stop_request || c->sys.attn || gen != c->code_gen ||
                     (c->ip & ~(uint64_t)(IA64_PAGE_SIZE - 1)) != page_va)) break;
        b = &dp->b[(c->ip >> 4) & (DPAGE_BUNDLES - 1)];
        continue;
      }
      retired += stop_at_slot(c, s, start, n);
      why = IA64_STOP_INTR;
      goto out;
    }
  }
out:
  c->retired = retired;
  return why;
}

ia64_stop ia64_run(ia64_cpu *c, uint64_t max_insns) {
  uint64_t limit = max_insns > UINT64_MAX - c->retired ? UINT64_MAX : c->retired + max_insns;
  return c->trace ? run_loop(c, limit, true) : run_loop(c, limit, false);
}
