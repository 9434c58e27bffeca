/* state_util.h — what the wire tests share: a seeded generator, a CPU filled with random but
 * architecturally possible state, an address map for ALAT entries, and a field-by-field
 * comparison of two CPUs. Header-only (static functions): each test is one executable. */
#ifndef HPVM_TESTS_PROTO_STATE_UTIL_H
#define HPVM_TESTS_PROTO_STATE_UTIL_H

#include <stdint.h>
#include <string.h>

#include "ia64.h"
#include "wire.h"

/* splitmix64: small, seedable, good enough to pick registers and mutations. */
static inline uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static inline unsigned rng_below(uint64_t *s, unsigned n) { return (unsigned)(rng_next(s) % n); }

/* Host memory [host, host + size) seen by the guest at [guest, guest + size). */
typedef struct test_region {
  uint64_t host, guest, size;
} test_region;

static int region_to_guest(void *ctx, uint64_t host, uint64_t *guest) {
  const test_region *r = ctx;
  if (host < r->host || host - r->host >= r->size) return -1;
  *guest = host - r->host + r->guest;
  return 0;
}
static int region_to_host(void *ctx, uint64_t guest, uint64_t *host) {
  const test_region *r = ctx;
  if (guest < r->guest || guest - r->guest >= r->size) return -1;
  *host = guest - r->guest + r->host;
  return 0;
}
static inline wire_addr_map region_map(test_region *r) {
  return (wire_addr_map){region_to_guest, region_to_host, r};
}

/* Random values everywhere the state allows them; ALAT entries point into region r. */
static inline void random_cpu(ia64_cpu *c, uint64_t *s, const test_region *r) {
  for (unsigned i = 1; i < IA64_NGR_PHYS; i++) c->gr[i] = rng_next(s), c->nat[i] = rng_next(s) & 1;
  for (unsigned i = 0; i < 16; i++) c->bank0[i] = rng_next(s), c->bank0_nat[i] = rng_next(s) & 1;
  for (unsigned f = 2; f < IA64_NFR; f++)
    c->fr[f] = (ia64_fr){.sig = rng_next(s), .exp = rng_below(s, 0x20000), .sign = rng_below(s, 2)};
  c->pr = rng_next(s) | 1;
  for (unsigned i = 0; i < IA64_NBR; i++) c->br[i] = rng_next(s);
  for (unsigned i = 0; i < IA64_NAR; i++) c->ar[i] = rng_next(s);
  for (unsigned i = 0; i < IA64_NCR; i++) c->cr[i] = rng_next(s);
  for (unsigned i = 0; i < 8; i++) c->rr[i] = rng_next(s);
  for (unsigned i = 0; i < IA64_NPKR; i++) c->pkr[i] = rng_next(s);
  for (unsigned i = 0; i < IA64_NDBR; i++) c->dbr[i] = rng_next(s), c->ibr[i] = rng_next(s);
  for (unsigned i = 0; i < IA64_NPMC; i++) c->pmc[i] = rng_next(s), c->pmd[i] = rng_next(s);
  c->sof = rng_below(s, IA64_NSTACKED + 1);
  c->sol = rng_below(s, c->sof + 1);
  c->sor = 8 * rng_below(s, c->sof / 8 + 1);
  c->rrb_gr = rng_below(s, 128), c->rrb_fr = rng_below(s, 128), c->rrb_pr = rng_below(s, 64);
  c->bof = rng_below(s, IA64_NSTACKED);
  c->ndirty = rng_below(s, IA64_NSTACKED - c->sof + 1);
  c->ip = rng_next(s) & ~(uint64_t)15, c->ri = rng_below(s, 3), c->psr = rng_next(s);
  c->alat_live = 0;
  for (unsigned i = 0; i < IA64_ALAT_SIZE; i++) {
    c->alat[i] = (ia64_alat_ent){0};
    if (rng_below(s, 2)) continue;
    unsigned size = 1u << rng_below(s, 5);
    c->alat[i] = (ia64_alat_ent){.addr = r->host + (rng_below(s, (unsigned)(r->size / size)) * size),
                                 .size = (uint8_t)size, .reg = (uint8_t)rng_below(s, 128),
                                 .is_fp = (uint8_t)rng_below(s, 2), .valid = 1};
    c->alat_live |= 1u << i;
  }
  c->retired = rng_next(s);
  c->intr = (ia64_intr){.vector = (int)rng_below(s, 0x8000) - 1, .isr = rng_next(s), .ifa = rng_next(s),
                        .iim = rng_next(s), .iip = rng_next(s), .ri = rng_below(s, 3), .trap = rng_below(s, 2)};
  ia64_remap_frame(c);
}

#define ASSERT_ARRAY_EQUAL(a, b, field) assert_memory_equal((a)->field, (b)->field, sizeof (a)->field)

/* Everything a CPU's future depends on is equal; ALAT addresses are compared as offsets into
 * each CPU's own memory (ra, rb). */
static inline void assert_cpu_equal(const ia64_cpu *a, const test_region *ra, const ia64_cpu *b,
                                    const test_region *rb) {
  ASSERT_ARRAY_EQUAL(a, b, gr);
  ASSERT_ARRAY_EQUAL(a, b, nat);
  ASSERT_ARRAY_EQUAL(a, b, grmap);
  ASSERT_ARRAY_EQUAL(a, b, bank0);
  ASSERT_ARRAY_EQUAL(a, b, bank0_nat);
  ASSERT_ARRAY_EQUAL(a, b, fr);
  ASSERT_ARRAY_EQUAL(a, b, frmap);
  assert_int_equal(a->pr, b->pr);
  ASSERT_ARRAY_EQUAL(a, b, br);
  ASSERT_ARRAY_EQUAL(a, b, ar);
  assert_int_equal(a->sof, b->sof);
  assert_int_equal(a->sol, b->sol);
  assert_int_equal(a->sor, b->sor);
  assert_int_equal(a->rrb_gr, b->rrb_gr);
  assert_int_equal(a->rrb_fr, b->rrb_fr);
  assert_int_equal(a->rrb_pr, b->rrb_pr);
  assert_int_equal(a->bof, b->bof);
  assert_int_equal(a->ndirty, b->ndirty);
  assert_int_equal(a->ip, b->ip);
  assert_int_equal(a->ri, b->ri);
  assert_int_equal(a->psr, b->psr);
  ASSERT_ARRAY_EQUAL(a, b, cr);
  ASSERT_ARRAY_EQUAL(a, b, rr);
  ASSERT_ARRAY_EQUAL(a, b, pkr);
  ASSERT_ARRAY_EQUAL(a, b, dbr);
  ASSERT_ARRAY_EQUAL(a, b, ibr);
  ASSERT_ARRAY_EQUAL(a, b, pmc);
  ASSERT_ARRAY_EQUAL(a, b, pmd);
  uint32_t va = 0, vb = 0;
  for (unsigned i = 0; i < IA64_ALAT_SIZE; i++) {
    const ia64_alat_ent *x = &a->alat[i], *y = &b->alat[i];
    va |= (uint32_t)(x->valid != 0) << i;
    vb |= (uint32_t)(y->valid != 0) << i;
    if (!x->valid || !y->valid) continue;
    assert_int_equal(x->addr - ra->host, y->addr - rb->host);
    assert_int_equal(x->size, y->size);
    assert_int_equal(x->reg, y->reg);
    assert_int_equal(x->is_fp, y->is_fp);
  }
  assert_int_equal(va, vb);
  assert_int_equal(b->alat_live & vb, vb);  /* every valid entry is live, so stores see it */
  assert_int_equal(a->retired, b->retired);
  assert_int_equal(a->intr.vector, b->intr.vector);
  assert_int_equal(a->intr.isr, b->intr.isr);
  assert_int_equal(a->intr.ifa, b->intr.ifa);
  assert_int_equal(a->intr.iim, b->intr.iim);
  assert_int_equal(a->intr.iip, b->intr.iip);
  assert_int_equal(a->intr.ri, b->intr.ri);
  assert_int_equal(a->intr.trap, b->intr.trap);
}

#endif
