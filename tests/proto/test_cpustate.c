/* test_cpustate.c — an IA-64 vCPU to and from its CPU section (proto/cpustate.c): random
 * states round-trip exactly (ALAT entries follow their memory to another host address),
 * impossible states are refused before the CPU is touched, and a load keeps what belongs to
 * the process (memory callbacks, trace hook) while dropping what caches the old memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "state_util.h"

#define BASE UINT64_C(0x4000000000000000)

/* ---- Helpers ------------------------------------------------------------------------------ */

static int no_translate(void *ctx, ia64_cpu *cpu, uint64_t va, unsigned access, ia64_xlat *out) {
  (void)ctx, (void)access, (void)out;
  return ia64_raise(cpu, IA64_VEC_DATA_TLB, IA64_ISR_R, va);
}
static const ia64_mem_ops no_mem = {no_translate, NULL};

static ia64_cpu *cpu_new(const ia64_mem_ops *ops, void *ctx) {
  ia64_cpu *c = malloc(sizeof *c);
  assert_non_null(c);
  assert_int_equal(ia64_cpu_init(c, ops, ctx), 0);
  return c;
}
static void cpu_free(ia64_cpu *c) {
  ia64_cpu_destroy(c);
  free(c);
}

/* A stream holding one CPU section (and END). */
static uint8_t *save_stream(const ia64_cpu *c, uint32_t vcpu, const wire_addr_map *map, size_t *len) {
  wire_writer w;
  assert_int_equal(wire_writer_init_mem(&w), 0);
  assert_int_equal(wire_cpu_save(&w, c, vcpu, map), 0);
  assert_int_equal(wire_writer_end(&w), 0);
  return wire_writer_take(&w, len);
}

/* Load every CPU section of a stream; 0 or the first error, its sentence in msg. */
static int load_stream(const uint8_t *buf, size_t len, ia64_cpu *const *cpus, uint32_t n,
                       const wire_addr_map *map, char *msg, size_t msglen) {
  wire_reader r;
  wire_section s;
  int rc = wire_reader_init_mem(&r, buf, len);
  while (rc == 0 && (rc = wire_reader_next(&r, &s)) == 1) rc = wire_cpu_load(&r, &s, cpus, n, map);
  if (msg) snprintf(msg, msglen, "%s", wire_reader_error(&r));
  wire_reader_free(&r);
  return rc;
}

/* The CPU message of a stream made by save_stream, for a test to edit. */
static Hpvm__Ia64Cpu *unpack_cpu(const uint8_t *buf, size_t len) {
  wire_reader r;
  wire_section s;
  assert_int_equal(wire_reader_init_mem(&r, buf, len), 0);
  assert_int_equal(wire_reader_next(&r, &s), 1);
  ProtobufCMessage *pm;
  assert_int_equal(wire_section_unpack(&r, &s, &hpvm__ia64_cpu__descriptor, &pm), 0);
  wire_reader_free(&r);
  return (Hpvm__Ia64Cpu *)pm;
}

static uint8_t *stream_of_msg(const Hpvm__Ia64Cpu *m, size_t *len) {
  wire_writer w;
  assert_int_equal(wire_writer_init_mem(&w), 0);
  assert_int_equal(wire_write_msg(&w, WIRE_SEC_CPU, &m->base), 0);
  assert_int_equal(wire_writer_end(&w), 0);
  return wire_writer_take(&w, len);
}

static uint8_t alat_mem_a[65536], alat_mem_b[65536];

/* ---- Round trips -------------------------------------------------------------------------- */

static void test_random_cpus_round_trip_exactly(void **state) {
  (void)state;
  test_region ra = {(uintptr_t)alat_mem_a, BASE + 0x10000, sizeof alat_mem_a};
  test_region rb = {(uintptr_t)alat_mem_b, BASE + 0x10000, sizeof alat_mem_b};
  wire_addr_map ma = region_map(&ra), mb = region_map(&rb);
  uint64_t seed = 42;
  for (int iter = 0; iter < 200; iter++) {
    ia64_cpu *a = cpu_new(&no_mem, NULL), *b = cpu_new(&no_mem, NULL);
    random_cpu(a, &seed, &ra);
    size_t len, len2;
    uint8_t *buf = save_stream(a, 0, &ma, &len);
    char msg[256];
    if (load_stream(buf, len, &b, 1, &mb, msg, sizeof msg) != 0) fail_msg("iteration %d: %s", iter, msg);
    assert_cpu_equal(a, &ra, b, &rb);
    /* Saved again from the other memory, the state is the same bytes. */
    uint8_t *buf2 = save_stream(b, 0, &mb, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    free(buf);
    free(buf2);
    cpu_free(a);
    cpu_free(b);
  }
}

static void test_reset_cpu_round_trips_and_fits_a_few_kilobytes(void **state) {
  (void)state;
  ia64_cpu *a = cpu_new(&no_mem, NULL), *b = cpu_new(&no_mem, NULL);
  test_region r = {0, 0, 0};
  size_t len;
  uint8_t *buf = save_stream(a, 0, NULL, &len);
  assert_int_equal(load_stream(buf, len, &b, 1, NULL, NULL, 0), 0);
  assert_cpu_equal(a, &r, b, &r);
  assert_true(len < 8192);
  free(buf);
  cpu_free(a);
  cpu_free(b);
}

static void test_vcpu_number_selects_the_cpu_and_is_bounded(void **state) {
  (void)state;
  ia64_cpu *src = cpu_new(&no_mem, NULL), *c0 = cpu_new(&no_mem, NULL), *c1 = cpu_new(&no_mem, NULL);
  src->gr[5] = 0x5555;
  ia64_cpu *cpus[2] = {c0, c1};
  size_t len;
  uint8_t *buf = save_stream(src, 1, NULL, &len);
  assert_int_equal(load_stream(buf, len, cpus, 2, NULL, NULL, 0), 0);
  assert_int_equal(c1->gr[5], 0x5555);
  assert_int_equal(c0->gr[5], 0);
  char msg[256];
  assert_int_equal(load_stream(buf, len, cpus, 1, NULL, msg, sizeof msg), HPVM_ECORRUPT);
  assert_non_null(strstr(msg, "vCPU 1, but the VM has 1"));
  ia64_cpu *holes[2] = {c0, NULL};
  assert_int_equal(load_stream(buf, len, holes, 2, NULL, NULL, 0), HPVM_ECORRUPT);
  free(buf);
  cpu_free(src);
  cpu_free(c0);
  cpu_free(c1);
}

/* ---- Impossible states -------------------------------------------------------------------- */

static void m_sof(Hpvm__Ia64Cpu *m) { m->cfm->sof = 97; }
static void m_sol(Hpvm__Ia64Cpu *m) { m->cfm->sof = 10, m->cfm->sol = 11, m->cfm->sor = 0, m->ndirty = 0; }
static void m_sor8(Hpvm__Ia64Cpu *m) { m->cfm->sof = 20, m->cfm->sol = 0, m->cfm->sor = 12, m->ndirty = 0; }
static void m_sor_big(Hpvm__Ia64Cpu *m) { m->cfm->sof = 20, m->cfm->sol = 0, m->cfm->sor = 24, m->ndirty = 0; }
static void m_rrb(Hpvm__Ia64Cpu *m) { m->cfm->rrb_pr = 64; }
static void m_bof(Hpvm__Ia64Cpu *m) { m->bof = 96; }
static void m_ndirty(Hpvm__Ia64Cpu *m) { m->cfm->sof = 10, m->cfm->sol = m->cfm->sor = 0, m->ndirty = 87; }
static void m_ri(Hpvm__Ia64Cpu *m) { m->ri = 3; }
static void m_r0(Hpvm__Ia64Cpu *m) { m->gr[0] = 1; }
static void m_r0nat(Hpvm__Ia64Cpu *m) { m->gr_nat[0] = 1; }
static void m_p0(Hpvm__Ia64Cpu *m) { m->pr &= ~1ull; }
static void m_f0(Hpvm__Ia64Cpu *m) { m->fr[0]->sign = 1; }
static void m_f1(Hpvm__Ia64Cpu *m) { m->fr[1]->exponent = 0xfffe; }
static void m_fexp(Hpvm__Ia64Cpu *m) { m->fr[40]->exponent = 0x20000; }
static void m_short_gr(Hpvm__Ia64Cpu *m) { m->n_gr--; }
static void m_short_fr(Hpvm__Ia64Cpu *m) {
  for (size_t i = 0; i < m->n_fr; i++) protobuf_c_message_free_unpacked(&m->fr[i]->base, NULL);
  m->n_fr = 0;
}
static void m_no_ar(Hpvm__Ia64Cpu *m) { m->n_ar = 0; }
static void m_short_pmd(Hpvm__Ia64Cpu *m) { m->n_pmd = 7; }
static void m_no_cfm(Hpvm__Ia64Cpu *m) {
  protobuf_c_message_free_unpacked(&m->cfm->base, NULL);
  m->cfm = NULL;
}
static void m_alat_index(Hpvm__Ia64Cpu *m) { m->alat[0]->index = 32; }
static void m_alat_dup(Hpvm__Ia64Cpu *m) { m->alat[1]->index = m->alat[0]->index; }
static void m_alat_size(Hpvm__Ia64Cpu *m) { m->alat[0]->size = 0; }
static void m_alat_size17(Hpvm__Ia64Cpu *m) { m->alat[0]->size = 17; }
static void m_alat_reg(Hpvm__Ia64Cpu *m) { m->alat[0]->reg = 128; }
static void m_intr_ri(Hpvm__Ia64Cpu *m) { m->intr->ri = 7; }

static const struct {
  void (*mutate)(Hpvm__Ia64Cpu *);
  const char *says;
} impossible[] = {
  {m_sof, "frame size sof 97 > 96"},
  {m_sol, "frame locals sol 11 > sof 10"},
  {m_sor8, "rotating region sor 12"},
  {m_sor_big, "rotating region sor 24"},
  {m_rrb, "rrb.pr 64 wider than its CFM field"},
  {m_bof, "bof 96 >= 96"},
  {m_ndirty, "ndirty 87 + sof 10 > 96"},
  {m_ri, "slot ri 3 > 2"},
  {m_r0, "r0 is not 0"},
  {m_r0nat, "r0 is not 0"},
  {m_p0, "p0 is not 1"},
  {m_f0, "f0 is not +0.0"},
  {m_f1, "f1 is not +1.0"},
  {m_fexp, "f40: exponent 0x20000 wider than 17 bits"},
  {m_short_gr, "register file gr has 127 entries, this CPU has 128"},
  {m_short_fr, "register file fr has 0 entries"},
  {m_no_ar, "register file ar has 0 entries"},
  {m_short_pmd, "register file pmd has 7 entries"},
  {m_no_cfm, "no frame marker"},
  {m_alat_index, "ALAT entry index 32 >= 32"},
  {m_alat_dup, "given twice"},
  {m_alat_size, "size 0 not in 1..16"},
  {m_alat_size17, "size 17 not in 1..16"},
  {m_alat_reg, "register 128 >= 128"},
  {m_intr_ri, "interruption slot ri 7 > 2"},
};

static void test_impossible_states_are_refused_leaving_the_cpu_unchanged(void **state) {
  (void)state;
  test_region ra = {(uintptr_t)alat_mem_a, BASE, sizeof alat_mem_a};
  wire_addr_map map = region_map(&ra);
  uint64_t seed = 7;
  ia64_cpu *src = cpu_new(&no_mem, NULL);
  random_cpu(src, &seed, &ra);
  size_t len;
  uint8_t *good = save_stream(src, 0, &map, &len);

  ia64_cpu *target = cpu_new(&no_mem, NULL), *before = malloc(sizeof *before);
  random_cpu(target, &seed, &ra);
  memcpy(before, target, sizeof *before);
  for (size_t i = 0; i < sizeof impossible / sizeof impossible[0]; i++) {
    Hpvm__Ia64Cpu *m = unpack_cpu(good, len);
    assert_true(m->n_alat >= 2);
    impossible[i].mutate(m);
    size_t blen;
    uint8_t *bad = stream_of_msg(m, &blen);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    char msg[256];
    int rc = load_stream(bad, blen, &target, 1, &map, msg, sizeof msg);
    if (rc != HPVM_ECORRUPT || !strstr(msg, impossible[i].says))
      fail_msg("case %zu (%s): %d %s", i, impossible[i].says, rc, msg);
    assert_non_null(strstr(msg, "section CPU (type 3) at offset 16: "));
    assert_memory_equal(target, before, sizeof *before);
    free(bad);
  }
  assert_int_equal(load_stream(good, len, &target, 1, &map, NULL, 0), 0);  /* the unedited one loads */
  free(good);
  free(before);
  cpu_free(src);
  cpu_free(target);
}

static void test_wrong_section_type_is_an_invalid_argument(void **state) {
  (void)state;
  ia64_cpu *c = cpu_new(&no_mem, NULL);
  wire_writer w;
  assert_int_equal(wire_writer_init_mem(&w), 0);
  assert_int_equal(wire_write_section(&w, WIRE_SEC_TIMERS, NULL, 0), 0);
  assert_int_equal(wire_writer_end(&w), 0);
  wire_reader r;
  wire_section s;
  assert_int_equal(wire_reader_init_mem(&r, w.buf, w.len), 0);
  assert_int_equal(wire_reader_next(&r, &s), 1);
  assert_int_equal(wire_cpu_load(&r, &s, &c, 1, NULL), HPVM_EINVAL);
  assert_string_equal(wire_reader_error(&r), "section TIMERS (type 6) at offset 16: not a CPU section");
  wire_reader_free(&r);
  wire_writer_free(&w);
  cpu_free(c);
}

/* ---- ALAT and the address map ------------------------------------------------------------- */

static unsigned valid_entries(const ia64_cpu *c) {
  unsigned n = 0;
  for (unsigned i = 0; i < IA64_ALAT_SIZE; i++) n += c->alat[i].valid != 0;
  return n;
}

static void test_alat_entries_travel_only_through_the_address_map(void **state) {
  (void)state;
  test_region ra = {(uintptr_t)alat_mem_a, BASE, sizeof alat_mem_a};
  test_region half = {(uintptr_t)alat_mem_b, BASE, sizeof alat_mem_b / 2};
  wire_addr_map map = region_map(&ra), map_half = region_map(&half);
  uint64_t seed = 99;
  ia64_cpu *src = cpu_new(&no_mem, NULL), *dst = cpu_new(&no_mem, NULL);
  random_cpu(src, &seed, &ra);
  unsigned n = valid_entries(src);
  assert_true(n > 2);
  size_t len;

  /* No map when saving: no entries in the state; nothing stale survives a load. */
  uint8_t *buf = save_stream(src, 0, NULL, &len);
  random_cpu(dst, &seed, &ra);
  assert_int_equal(load_stream(buf, len, &dst, 1, &map, NULL, 0), 0);
  assert_int_equal(valid_entries(dst), 0);
  assert_int_equal(dst->alat_live, 0);
  free(buf);

  /* No map when loading: entries dropped. */
  buf = save_stream(src, 0, &map, &len);
  assert_int_equal(load_stream(buf, len, &dst, 1, NULL, NULL, 0), 0);
  assert_int_equal(valid_entries(dst), 0);

  /* A map that covers only part of the memory: what it cannot place is dropped. */
  assert_int_equal(load_stream(buf, len, &dst, 1, &map_half, NULL, 0), 0);
  unsigned kept = 0, expect = 0;
  for (unsigned i = 0; i < IA64_ALAT_SIZE; i++) {
    const ia64_alat_ent *e = &src->alat[i];
    if (!e->valid || e->addr - ra.host >= half.size) continue;
    expect++;
    assert_true(dst->alat[i].valid);
    assert_int_equal(dst->alat[i].addr - half.host, e->addr - ra.host);
    kept++;
  }
  assert_int_equal(valid_entries(dst), expect);
  assert_true(kept < n);
  free(buf);
  cpu_free(src);
  cpu_free(dst);
}

/* ---- What a load keeps and what it drops -------------------------------------------------- */

static void trace_nothing(void *ctx, ia64_cpu *cpu, uint64_t ip, unsigned slot) {
  (void)ctx, (void)cpu, (void)ip, (void)slot;
}

static void test_load_keeps_memory_callbacks_and_trace_hook(void **state) {
  (void)state;
  int ctx_a, ctx_b;
  ia64_cpu *src = cpu_new(&no_mem, &ctx_a), *dst = cpu_new(&no_mem, &ctx_b);
  dst->trace = trace_nothing;
  dst->trace_ctx = &ctx_b;
  size_t len;
  uint8_t *buf = save_stream(src, 0, NULL, &len);
  assert_int_equal(load_stream(buf, len, &dst, 1, NULL, NULL, 0), 0);
  assert_ptr_equal(dst->mem, &no_mem);
  assert_ptr_equal(dst->mem_ctx, &ctx_b);
  assert_ptr_equal(dst->trace, trace_nothing);
  assert_ptr_equal(dst->trace_ctx, &ctx_b);
  assert_non_null(dst->dcache);
  free(buf);
  cpu_free(src);
  cpu_free(dst);
}

/* Two bundles, from ia64-linux-gnu-as: { .mii adds r8 = 1, r0; break.i 0x100; nop.i 0 ;; }
 * and the same with adds r8 = 2, r0. */
static const uint8_t code_one[16] = {0x01, 0x40, 0x04, 0x00, 0x00, 0x21, 0x00, 0x10,
                                     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00};
static const uint8_t code_two[16] = {0x01, 0x40, 0x08, 0x00, 0x00, 0x21, 0x00, 0x10,
                                     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00};

static int flat_translate(void *ctx, ia64_cpu *cpu, uint64_t va, unsigned access, ia64_xlat *out) {
  uint8_t *page = ctx;
  if (va < BASE || va - BASE >= IA64_PAGE_SIZE) return ia64_raise(cpu, IA64_VEC_DATA_TLB, IA64_ISR_R, va);
  (void)access;
  out->host_page = page;
  out->perms = IA64_ACC_R | IA64_ACC_W | IA64_ACC_X;
  return 0;
}
static const ia64_mem_ops flat_ops = {flat_translate, NULL};

static void test_load_drops_decoded_code_of_the_old_memory(void **state) {
  (void)state;
  uint8_t *page = aligned_alloc(IA64_PAGE_SIZE, IA64_PAGE_SIZE);
  memset(page, 0, IA64_PAGE_SIZE);
  memcpy(page, code_one, 16);
  ia64_cpu *c = cpu_new(&flat_ops, page);
  c->ip = BASE;
  size_t len;
  uint8_t *buf = save_stream(c, 0, NULL, &len);  /* the state before running */
  assert_int_equal(ia64_run(c, 100), IA64_STOP_INTR);
  assert_int_equal(c->intr.vector, IA64_VEC_BREAK);
  assert_int_equal(c->gr[8], 1);
  /* The memory changes behind the CPU's back (as a restore of guest memory does), then the
   * CPU state is restored: the new code runs, not the decoded copy of the old. */
  memcpy(page, code_two, 16);
  assert_int_equal(load_stream(buf, len, &c, 1, NULL, NULL, 0), 0);
  assert_int_equal(c->gr[8], 0);
  assert_int_equal(ia64_run(c, 100), IA64_STOP_INTR);
  assert_int_equal(c->gr[8], 2);
  free(buf);
  cpu_free(c);
  free(page);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_random_cpus_round_trip_exactly),
    cmocka_unit_test(test_reset_cpu_round_trips_and_fits_a_few_kilobytes),
    cmocka_unit_test(test_vcpu_number_selects_the_cpu_and_is_bounded),
    cmocka_unit_test(test_impossible_states_are_refused_leaving_the_cpu_unchanged),
    cmocka_unit_test(test_wrong_section_type_is_an_invalid_argument),
    cmocka_unit_test(test_alat_entries_travel_only_through_the_address_map),
    cmocka_unit_test(test_load_keeps_memory_callbacks_and_trace_hook),
    cmocka_unit_test(test_load_drops_decoded_code_of_the_old_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
