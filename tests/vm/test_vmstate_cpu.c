/* test_vmstate_cpu.c — the CPU system state in saved-state sections (proto/cpustate.c): the
 * guest TLB (every TR and TC entry in its slot, the replacement cursors) round-trips and bad
 * entries are refused before the TLB is touched; the interrupt state beside the registers
 * (in service, pended, halted, the trap's IIPA) and the ITM match travel; ar.itc continues
 * from its saved value on the loading CPU's clock, whatever that clock reads; the ia64_sys
 * flag bits cpustate.c mirrors are the CPU library's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"   /* IA64_SYS_*: cpustate.c mirrors these bits (see below) */
#include "wire.h"

/* ---- Helpers ------------------------------------------------------------------------------ */

static int no_translate(void *ctx, ia64_cpu *cpu, uint64_t va, unsigned access, ia64_xlat *out) {
  (void)ctx, (void)access, (void)out;
  return ia64_raise(cpu, IA64_VEC_DATA_TLB, IA64_ISR_R, va);
}
static const ia64_mem_ops no_mem = {no_translate, NULL};

/* A settable clock and what the timer_arm hook was told. */
typedef struct clock_ctx {
  uint64_t now;
  uint64_t armed_at;
  int arms;
} clock_ctx;
static uint64_t clock_now(void *ctx) { return ((clock_ctx *)ctx)->now; }
static void clock_arm(void *ctx, ia64_cpu *c, uint64_t at) {
  (void)c;
  ((clock_ctx *)ctx)->armed_at = at;
  ((clock_ctx *)ctx)->arms++;
}

static ia64_cpu *cpu_new(clock_ctx *clk) {
  ia64_cpu *c = malloc(sizeof *c);
  assert_non_null(c);
  assert_int_equal(ia64_cpu_init(c, &no_mem, NULL), 0);
  if (clk) {
    c->sys.hooks.clock = clock_now;
    c->sys.hooks.timer_arm = clock_arm;
    c->sys.hook_ctx = clk;
  }
  return c;
}
static void cpu_free(ia64_cpu *c) {
  ia64_cpu_destroy(c);
  free(c);
}

static uint64_t rng(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static const unsigned page_sizes[] = {12, 13, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32};

/* An entry ia64_tlb_insert could have made. */
static ia64_tlb_ent random_entry(uint64_t *s) {
  unsigned ps = page_sizes[rng(s) % 12];
  uint64_t vpn = rng(s) & ((1ull << 61) - 1) & ~((1ull << ps) - 1);
  uint64_t pte = (rng(s) & ((1ull << 50) - 1) & ~0xfffull) | 1 | (rng(s) & 0x1e0) | (rng(s) & 0xe00);
  if (rng(s) & 1) pte |= 4ull << 2;             /* UC */
  return (ia64_tlb_ent){.vpn = vpn, .pte = pte, .rid = (uint32_t)(rng(s) & 0xffffff),
                        .itir = (uint32_t)(ps << 2 | (rng(s) & 0xffffff) << 8), .valid = 1};
}

static void random_tlb(ia64_cpu *c, uint64_t *s) {
  ia64_tlb_side *sides[2] = {&c->sys.itlb, &c->sys.dtlb};
  for (unsigned k = 0; k < 2; k++) {
    ia64_tlb_side *t = sides[k];
    memset(t, 0, sizeof *t);
    for (unsigned i = 0; i < IA64_NTR; i++)
      if (rng(s) % 3) t->tr[i] = random_entry(s);
    for (unsigned i = 0; i < IA64_TC_SETS * IA64_TC_WAYS; i++)
      if (rng(s) % 4 == 0) {
        t->tc[i] = random_entry(s);
        t->tc_sizes |= 1ull << ((t->tc[i].itir >> 2) & 63);
      }
    t->tc_victim = (uint32_t)rng(s);
  }
}

/* Field by field: the structs have padding. */
static void assert_entry_equal(const ia64_tlb_ent *x, const ia64_tlb_ent *y) {
  assert_int_equal(x->valid, y->valid);
  if (!x->valid) return;
  assert_int_equal(x->vpn, y->vpn);
  assert_int_equal(x->pte, y->pte);
  assert_int_equal(x->rid, y->rid);
  assert_int_equal(x->itir, y->itir);
}

static void assert_side_equal(const ia64_tlb_side *a, const ia64_tlb_side *b) {
  for (unsigned i = 0; i < IA64_NTR; i++) assert_entry_equal(&a->tr[i], &b->tr[i]);
  for (unsigned i = 0; i < IA64_TC_SETS * IA64_TC_WAYS; i++) assert_entry_equal(&a->tc[i], &b->tc[i]);
  assert_int_equal(a->tc_sizes, b->tc_sizes);
  assert_int_equal(a->tc_victim, b->tc_victim);
}

typedef int (*save_fn)(wire_writer *, ia64_cpu *, uint32_t);
static int save_tlb(wire_writer *w, ia64_cpu *c, uint32_t n) { return wire_tlb_save(w, c, n); }
static int save_timers(wire_writer *w, ia64_cpu *c, uint32_t n) { return wire_timers_save(w, c, n); }
static int save_cpu(wire_writer *w, ia64_cpu *c, uint32_t n) { return wire_cpu_save(w, c, n, NULL); }

/* One section of vCPU n, and END. */
static uint8_t *save1(save_fn f, ia64_cpu *c, uint32_t n, size_t *len) {
  wire_writer w;
  assert_int_equal(wire_writer_init_mem(&w), 0);
  assert_int_equal(f(&w, c, n), 0);
  assert_int_equal(wire_writer_end(&w), 0);
  return wire_writer_take(&w, len);
}

/* Load every section of a stream into cpus; 0 or the first error, its sentence in msg. */
static int load(const uint8_t *buf, size_t len, ia64_cpu **cpus, uint32_t n, char *msg, size_t msglen) {
  wire_reader r;
  wire_section s;
  int rc = wire_reader_init_mem(&r, buf, len);
  while (rc == 0 && (rc = wire_reader_next(&r, &s)) == 1) {
    if (s.type == WIRE_SEC_CPU) rc = wire_cpu_load(&r, &s, cpus, n, NULL);
    else if (s.type == WIRE_SEC_GUEST_TLB) rc = wire_tlb_load(&r, &s, cpus, n);
    else rc = wire_timers_load(&r, &s, cpus, n);
  }
  if (msg) snprintf(msg, msglen, "%s", wire_reader_error(&r));
  wire_reader_free(&r);
  return rc;
}

/* The first section's message, for a test to edit and re-send with stream_of. */
static ProtobufCMessage *unpack1(const uint8_t *buf, size_t len, const ProtobufCMessageDescriptor *d) {
  wire_reader r;
  wire_section s;
  assert_int_equal(wire_reader_init_mem(&r, buf, len), 0);
  assert_int_equal(wire_reader_next(&r, &s), 1);
  ProtobufCMessage *pm;
  assert_int_equal(wire_section_unpack(&r, &s, d, &pm), 0);
  wire_reader_free(&r);
  return pm;
}
static uint8_t *stream_of(uint32_t type, const ProtobufCMessage *m, size_t *len) {
  wire_writer w;
  assert_int_equal(wire_writer_init_mem(&w), 0);
  assert_int_equal(wire_write_msg(&w, type, m), 0);
  assert_int_equal(wire_writer_end(&w), 0);
  return wire_writer_take(&w, len);
}

/* ---- Guest TLB -------------------------------------------------------------------------------- */

static void test_guest_tlb_round_trips_every_entry_in_its_slot(void **state) {
  (void)state;
  uint64_t seed = 7;
  for (int iter = 0; iter < 20; iter++) {
    ia64_cpu *a = cpu_new(NULL), *b = cpu_new(NULL);
    random_tlb(a, &seed);
    random_tlb(b, &seed);                    /* what the load replaces */
    size_t len;
    uint8_t *buf = save1(save_tlb, a, 0, &len);
    char msg[256];
    if (load(buf, len, &b, 1, msg, sizeof msg)) fail_msg("iteration %d: %s", iter, msg);
    assert_side_equal(&a->sys.itlb, &b->sys.itlb);
    assert_side_equal(&a->sys.dtlb, &b->sys.dtlb);
    free(buf);
    cpu_free(a);
    cpu_free(b);
  }
}

static void test_a_full_tlb_fits_one_section(void **state) {
  (void)state;
  uint64_t seed = 99;
  ia64_cpu *a = cpu_new(NULL), *b = cpu_new(NULL);
  ia64_tlb_side *sides[2] = {&a->sys.itlb, &a->sys.dtlb};
  for (unsigned k = 0; k < 2; k++) {
    for (unsigned i = 0; i < IA64_NTR; i++) sides[k]->tr[i] = random_entry(&seed);
    for (unsigned i = 0; i < IA64_TC_SETS * IA64_TC_WAYS; i++) {
      sides[k]->tc[i] = random_entry(&seed);
      sides[k]->tc_sizes |= 1ull << ((sides[k]->tc[i].itir >> 2) & 63);
    }
  }
  size_t len;
  uint8_t *buf = save1(save_tlb, a, 0, &len);
  assert_int_equal(load(buf, len, &b, 1, NULL, 0), 0);
  assert_side_equal(&a->sys.itlb, &b->sys.itlb);
  assert_side_equal(&a->sys.dtlb, &b->sys.dtlb);
  print_message("a full guest TLB (2 x 520 entries): %zu bytes\n", len);
  free(buf);
  cpu_free(a);
  cpu_free(b);
}

typedef struct tlb_mutation {
  void (*edit)(Hpvm__TlbEntry *e, Hpvm__GuestTlb *m);
  const char *says;
} tlb_mutation;

static void m_kind0(Hpvm__TlbEntry *e, Hpvm__GuestTlb *m) { (void)m, e->kind = 0; }
static void m_kind9(Hpvm__TlbEntry *e, Hpvm__GuestTlb *m) { (void)m, e->kind = 9; }
static void m_tr_slot(Hpvm__TlbEntry *e, Hpvm__GuestTlb *m) { (void)m, e->kind = HPVM__TLB_KIND__TLB_KIND_DTR, e->slot = 8; }
static void m_tc_slot(Hpvm__TlbEntry *e, Hpvm__GuestTlb *m) { (void)m, e->kind = HPVM__TLB_KIND__TLB_KIND_ITC, e->slot = 512; }
static void m_ps11(Hpvm__TlbEntry *e, Hpvm__GuestTlb *m) { (void)m, e->itir = 11 << 2, e->vpn = 0; }
static void m_ps15(Hpvm__TlbEntry *e, Hpvm__GuestTlb *m) { (void)m, e->itir = 15 << 2, e->vpn = 0; }
static void m_ps33(Hpvm__TlbEntry *e, Hpvm__GuestTlb *m) { (void)m, e->itir = 33 << 2, e->vpn = 0; }
static void m_ps63(Hpvm__TlbEntry *e, Hpvm__GuestTlb *m) { (void)m, e->itir = 63 << 2, e->vpn = 0; }
static void m_itir_rsv(Hpvm__TlbEntry *e, Hpvm__GuestTlb *m) { (void)m, e->itir |= 1; }
static void m_vpn_align(Hpvm__TlbEntry *e, Hpvm__GuestTlb *m) { (void)m, e->itir = 14 << 2, e->vpn = 0x1000; }
static void m_vpn_region(Hpvm__TlbEntry *e, Hpvm__GuestTlb *m) { (void)m, e->vpn |= 1ull << 61; }
static void m_rid(Hpvm__TlbEntry *e, Hpvm__GuestTlb *m) { (void)m, e->rid = 1u << 24; }
static void m_pte_rsv(Hpvm__TlbEntry *e, Hpvm__GuestTlb *m) { (void)m, e->pte |= 1 | 1ull << 50; }
static void m_pte_ma(Hpvm__TlbEntry *e, Hpvm__GuestTlb *m) { (void)m, e->pte = (e->pte & ~0x1cull) | 1 | 2 << 2; }
static void m_twice(Hpvm__TlbEntry *e, Hpvm__GuestTlb *m) {
  (void)e;
  *m->entries[1] = *m->entries[0];
}
static void m_vcpu(Hpvm__TlbEntry *e, Hpvm__GuestTlb *m) { (void)e, m->vcpu = 1; }

static void test_bad_tlb_entries_are_refused_leaving_the_tlb_unchanged(void **state) {
  (void)state;
  static const tlb_mutation muts[] = {
    {m_kind0, "unknown kind 0"},        {m_kind9, "unknown kind 9"},
    {m_tr_slot, "DTR slot 8"},          {m_tc_slot, "ITC slot 512"},
    {m_ps11, "no valid page size"},     {m_ps15, "no valid page size"},
    {m_ps33, "no valid page size"},     {m_ps63, "no valid page size"},
    {m_itir_rsv, "no valid page size"}, {m_vpn_align, "is not a 2^14-aligned"},
    {m_vpn_region, "within a region"},  {m_rid, "wider than 24 bits"},
    {m_pte_rsv, "reserved fields"},     {m_pte_ma, "reserved fields"},
    {m_twice, "given twice"},           {m_vcpu, "vCPU 1, but the VM has 1"},
  };
  uint64_t seed = 3;
  ia64_cpu *a = cpu_new(NULL), *b = cpu_new(NULL);
  a->sys.itlb.tr[2] = random_entry(&seed);
  a->sys.itlb.tr[5] = random_entry(&seed);
  size_t len;
  uint8_t *good = save1(save_tlb, a, 0, &len);
  random_tlb(b, &seed);
  ia64_tlb_side before[2] = {b->sys.itlb, b->sys.dtlb};
  for (size_t k = 0; k < sizeof muts / sizeof muts[0]; k++) {
    Hpvm__GuestTlb *m = (Hpvm__GuestTlb *)unpack1(good, len, &hpvm__guest_tlb__descriptor);
    assert_int_equal(m->n_entries, 2);
    muts[k].edit(m->entries[0], m);
    size_t blen;
    uint8_t *bad = stream_of(WIRE_SEC_GUEST_TLB, &m->base, &blen);
    char msg[256];
    assert_int_equal(load(bad, blen, &b, 1, msg, sizeof msg), HPVM_ECORRUPT);
    if (!strstr(msg, muts[k].says)) fail_msg("mutation %zu: \"%s\" does not say \"%s\"", k, msg, muts[k].says);
    assert_side_equal(&b->sys.itlb, &before[0]);
    assert_side_equal(&b->sys.dtlb, &before[1]);
    free(bad);
    protobuf_c_message_free_unpacked(&m->base, NULL);
  }
  free(good);
  cpu_free(a);
  cpu_free(b);
}

/* ---- Interrupt state --------------------------------------------------------------------------- */

/* cpustate.c carries these ia64_sys.flags bits under names of its own (the CPU's internal.h
 * is private): the bits must stay where the wire fields say. */
static void test_flag_bits_cpustate_mirrors_are_the_cpu_librarys(void **state) {
  (void)state;
  assert_int_equal(IA64_SYS_HALTED, 1);
  assert_int_equal(IA64_SYS_ITM_ARMED, 2);
  assert_int_equal(IA64_SYS_IIPA, 4);
}

static void test_interrupt_state_round_trips(void **state) {
  (void)state;
  clock_ctx ka = {.now = 1000}, kb = {.now = 5};
  ia64_cpu *a = cpu_new(&ka), *b = cpu_new(&kb);
  a->cr[IA64_CR_IRR0] = 0x8000000000010000ull, a->cr[IA64_CR_IRR0 + 3] = 1ull << 63;
  a->sys.insvc[1] = 1ull << 33, a->sys.insvc[3] = 5;
  a->sys.pend[2] = 0xf0f0;
  a->sys.flags = IA64_SYS_HALTED | IA64_SYS_IIPA | IA64_SYS_STLB_CPL;
  a->sys.iipa = 0x123450;
  b->sys.flags = IA64_SYS_ITM_ARMED;         /* the timers section's bit: kept */
  size_t len;
  uint8_t *buf = save1(save_cpu, a, 0, &len);
  Hpvm__Ia64Cpu *m = (Hpvm__Ia64Cpu *)unpack1(buf, len, &hpvm__ia64_cpu__descriptor);
  assert_true(m->halted);
  assert_true(m->iipa_valid);
  assert_int_equal(m->iipa, 0x123450);
  protobuf_c_message_free_unpacked(&m->base, NULL);
  assert_int_equal(load(buf, len, &b, 1, NULL, 0), 0);
  assert_memory_equal(&b->cr[IA64_CR_IRR0], &a->cr[IA64_CR_IRR0], 4 * sizeof(uint64_t));
  assert_memory_equal(b->sys.insvc, a->sys.insvc, sizeof a->sys.insvc);
  assert_memory_equal(b->sys.pend, a->sys.pend, sizeof a->sys.pend);
  assert_int_equal(b->sys.flags, IA64_SYS_HALTED | IA64_SYS_IIPA | IA64_SYS_ITM_ARMED);
  assert_int_equal(b->sys.iipa, 0x123450);
  /* Derived, not carried: the run loop will look at the pended vectors and the halt. */
  assert_true(b->sys.attn & IA64_ATTN_IRQ);
  assert_true(b->sys.attn & IA64_ATTN_HALT);
  free(buf);
  cpu_free(a);
  cpu_free(b);
}

static void test_a_version_1_0_cpu_section_loads_with_nothing_in_service(void **state) {
  (void)state;
  ia64_cpu *a = cpu_new(NULL), *b = cpu_new(NULL);
  b->sys.insvc[0] = 1ull << 20, b->sys.flags = IA64_SYS_HALTED;
  size_t len;
  uint8_t *buf = save1(save_cpu, a, 0, &len);
  Hpvm__Ia64Cpu *m = (Hpvm__Ia64Cpu *)unpack1(buf, len, &hpvm__ia64_cpu__descriptor);
  m->n_insvc = m->n_pend = 0;                  /* what a 1.0 writer sent */
  m->halted = m->iipa_valid = 0;
  size_t olen;
  uint8_t *old = stream_of(WIRE_SEC_CPU, &m->base, &olen);
  assert_int_equal(load(old, olen, &b, 1, NULL, 0), 0);
  assert_int_equal(b->sys.insvc[0], 0);
  assert_int_equal(b->sys.flags, 0);
  m->n_insvc = 3;
  free(old);
  old = stream_of(WIRE_SEC_CPU, &m->base, &olen);
  char msg[256];
  assert_int_equal(load(old, olen, &b, 1, msg, sizeof msg), HPVM_ECORRUPT);
  assert_non_null(strstr(msg, "3 in service"));
  m->n_insvc = 4;                               /* (protobuf-c frees by n_*: restore it) */
  protobuf_c_message_free_unpacked(&m->base, NULL);
  free(old);
  free(buf);
  cpu_free(a);
  cpu_free(b);
}

/* ---- Time ------------------------------------------------------------------------------------- */

static void test_itc_continues_from_the_saved_value_on_another_clock(void **state) {
  (void)state;
  clock_ctx ka = {.now = 5000000000ull}, kb = {.now = 17};
  ia64_cpu *a = cpu_new(&ka), *b = cpu_new(&kb);
  assert_int_equal(ia64_ar_write(a, IA64_AR_ITC, 0x4000000000ull), 0);
  ka.now += 123;                                   /* time passes on the saving side */
  uint64_t saved = ia64_itc(a);
  assert_int_equal(saved, 0x4000000000ull + 123);
  size_t len;
  uint8_t *buf = save1(save_timers, a, 0, &len);
  ka.now += 1000000;                               /* and after the save: not in the state */
  assert_int_equal(load(buf, len, &b, 1, NULL, 0), 0);
  assert_int_equal(ia64_itc(b), saved);            /* exactly where it was, on b's clock */
  kb.now += 250;
  assert_int_equal(ia64_itc(b), saved + 250);
  /* A loading clock far ahead of the saver's does not make ar.itc jump either. */
  clock_ctx kc = {.now = ~0ull / 2};
  ia64_cpu *c = cpu_new(&kc);
  assert_int_equal(load(buf, len, &c, 1, NULL, 0), 0);
  assert_int_equal(ia64_itc(c), saved);
  /* Without a clock, ar.itc is plain storage and takes the value. */
  ia64_cpu *d = cpu_new(NULL);
  assert_int_equal(load(buf, len, &d, 1, NULL, 0), 0);
  assert_int_equal(ia64_itc(d), saved);
  free(buf);
  cpu_free(a);
  cpu_free(b);
  cpu_free(c);
  cpu_free(d);
}

static void test_an_armed_itm_match_travels_and_is_armed_on_the_new_clock(void **state) {
  (void)state;
  clock_ctx ka = {.now = 1000000}, kb = {.now = 40};
  ia64_cpu *a = cpu_new(&ka), *b = cpu_new(&kb);
  a->cr[IA64_CR_ITV] = 0xef;
  uint64_t itc = ia64_itc(a);
  a->cr[IA64_CR_ITM] = itc + 5000;               /* mov cr.itm, as the guest does it */
  ia64_itm_changed(a);
  assert_true(a->sys.flags & IA64_SYS_ITM_ARMED);
  size_t len;
  wire_writer w;
  assert_int_equal(wire_writer_init_mem(&w), 0);
  assert_int_equal(wire_cpu_save(&w, a, 0, NULL), 0);     /* the CPU first: cr.itm */
  assert_int_equal(wire_timers_save(&w, a, 0), 0);
  assert_int_equal(wire_writer_end(&w), 0);
  uint8_t *buf = wire_writer_take(&w, &len);
  kb.arms = 0;
  assert_int_equal(load(buf, len, &b, 1, NULL, 0), 0);
  assert_true(b->sys.flags & IA64_SYS_ITM_ARMED);
  /* b's clock is 40 where a's ITC was itc: the match is due at 40 + 5000 on b's clock. */
  assert_int_equal(kb.arms, 1);
  assert_int_equal(kb.armed_at, 40 + 5000);
  /* Reaching it pends cr.itv's vector, once. */
  kb.now = 40 + 4999;
  ia64_irr_fold(b);
  assert_int_equal(b->cr[IA64_CR_IRR0 + 3] >> (0xef - 192) & 1, 0);
  kb.now = 40 + 5000;
  ia64_irr_fold(b);
  assert_int_equal(b->cr[IA64_CR_IRR0 + 3] >> (0xef - 192) & 1, 1);
  assert_false(b->sys.flags & IA64_SYS_ITM_ARMED);
  /* A match not armed stays so: no interrupt from a cr.itm in the future. */
  ia64_cpu *c = cpu_new(&kb);
  a->sys.flags &= ~(uint32_t)IA64_SYS_ITM_ARMED;
  free(buf);
  buf = save1(save_timers, a, 0, &len);
  assert_int_equal(load(buf, len, &c, 1, NULL, 0), 0);
  assert_false(c->sys.flags & IA64_SYS_ITM_ARMED);
  assert_int_equal(kb.armed_at, UINT64_MAX);
  free(buf);
  cpu_free(a);
  cpu_free(b);
  cpu_free(c);
}

static void test_an_itc_rate_other_than_1ghz_is_refused(void **state) {
  (void)state;
  clock_ctx k = {.now = 1};
  ia64_cpu *a = cpu_new(&k), *b = cpu_new(&k);
  size_t len;
  uint8_t *buf = save1(save_timers, a, 0, &len);
  Hpvm__Timers *m = (Hpvm__Timers *)unpack1(buf, len, &hpvm__timers__descriptor);
  assert_int_equal(m->itc_hz, 1000000000ull);
  m->itc_hz = 400000000;
  size_t blen;
  uint8_t *bad = stream_of(WIRE_SEC_TIMERS, &m->base, &blen);
  char msg[256];
  assert_int_equal(load(bad, blen, &b, 1, msg, sizeof msg), HPVM_ECORRUPT);
  assert_non_null(strstr(msg, "400000000 Hz"));
  protobuf_c_message_free_unpacked(&m->base, NULL);
  free(bad);
  free(buf);
  cpu_free(a);
  cpu_free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_guest_tlb_round_trips_every_entry_in_its_slot),
    cmocka_unit_test(test_a_full_tlb_fits_one_section),
    cmocka_unit_test(test_bad_tlb_entries_are_refused_leaving_the_tlb_unchanged),
    cmocka_unit_test(test_flag_bits_cpustate_mirrors_are_the_cpu_librarys),
    cmocka_unit_test(test_interrupt_state_round_trips),
    cmocka_unit_test(test_a_version_1_0_cpu_section_loads_with_nothing_in_service),
    cmocka_unit_test(test_itc_continues_from_the_saved_value_on_another_clock),
    cmocka_unit_test(test_an_armed_itm_match_travels_and_is_armed_on_the_new_clock),
    cmocka_unit_test(test_an_itc_rate_other_than_1ghz_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
