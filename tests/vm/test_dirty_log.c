/* test_dirty_log.c — the dirty log is exact and complete: in every round, the harvested
 * bitmap equals the set of frames written since the previous harvest, by vCPU stores
 * (guests/dirty_stores.S: random 1- and 8-byte stores, cacheable and uncacheable, on
 * several vCPUs) and by device writes (vm_mem_write). The reference for vCPU stores comes
 * from each paused vCPU's store counter (r20), which the guest bumps in the store's bundle. */
#include <pthread.h>
#include <stdatomic.h>

#include "vm_test.h"

#define MEM (64ull << 20)
#define TABLES 0x1000000ull
#define AREA_LO (32ull << 20)
#define AREA_HI MEM
#define NSTORES 20000

typedef struct refmap {
  uint64_t *bits;
  size_t words;
} refmap;

static void ref_mark(refmap *r, uint64_t gpa, uint64_t len) {
  for (uint64_t f = gpa >> 12; f <= (gpa + len - 1) >> 12; f++) r->bits[f / 64] |= 1ull << (f % 64);
}

static uint64_t rnd(uint64_t *s) {
  *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
  return *s;
}

/* Random store addresses for vCPU i, written into its table (a device write, before logging). */
static void fill_table(vm *v, unsigned cpu, uint64_t *entries, unsigned n, uint64_t *seed) {
  for (unsigned k = 0; k < n; k++) {
    uint64_t a = AREA_LO + rnd(seed) % (AREA_HI - AREA_LO);
    bool byte = rnd(seed) & 1, uc = (rnd(seed) % 4) == 0;
    if (!byte) a &= ~7ull;
    entries[k] = a | (byte ? 1ull << 62 : 0) | (uc ? 1ull << 63 : 0);
  }
  uint64_t count = n;
  uint64_t base = TABLES + (uint64_t)cpu * (1 << 20);
  assert_int_equal(vm_mem_write(v, base, &count, 8), 0);
  assert_int_equal(vm_mem_write(v, base + 8, entries, (uint64_t)n * 8), 0);
}

static void expect_equal(const uint64_t *got, const refmap *ref, unsigned round) {
  size_t bad = 0;
  for (size_t w = 0; w < ref->words; w++) {
    uint64_t diff = got[w] ^ ref->bits[w];
    for (; diff && bad < 10; diff &= diff - 1, bad++) {
      uint64_t f = w * 64 + (unsigned)__builtin_ctzll(diff);
      print_error("round %u: frame 0x%llx %s\n", round, (unsigned long long)f,
                  (got[w] >> (f % 64)) & 1 ? "harvested but not written" : "written but not harvested");
    }
  }
  assert_int_equal(bad, 0);
}

static void rounds_match_reference(const char *guest, unsigned ncpus, bool device_writes) {
  vm *v = vm_with_guest(MEM, ncpus, guest, "", -1);
  uint64_t seed = 0x9e3779b97f4a7c15ull * (ncpus + 1);
  uint64_t(*entries)[NSTORES] = calloc(ncpus, sizeof *entries);
  for (unsigned i = 0; i < ncpus; i++) fill_table(v, i, entries[i], NSTORES, &seed);
  refmap ref = {calloc(vm_dirty_log_words(v), 8), vm_dirty_log_words(v)};
  uint64_t *got = calloc(ref.words, 8);
  unsigned done[VM_MAX_CPUS] = {0};
  assert_int_equal(vm_dirty_log_start(v), 0);
  assert_int_equal(vm_start(v), 0);
  unsigned round = 0, busy_rounds = 0;
  for (bool finished = false; !finished; round++) {
    usleep((useconds_t)(rnd(&seed) % 2000));
    vm_pause(v);
    memset(ref.bits, 0, ref.words * 8);
    finished = true;
    for (unsigned i = 0; i < ncpus; i++) {
      bool nat;
      unsigned upto = (unsigned)ia64_gr_read(vm_cpu(v, i), 20, &nat);
      assert_true(upto >= done[i] && upto <= NSTORES);
      for (unsigned k = done[i]; k < upto; k++) ref_mark(&ref, entries[i][k] & ~(3ull << 62), 1);
      busy_rounds += upto > done[i];
      done[i] = upto;
      finished &= upto == NSTORES;
    }
    for (unsigned d = 0; device_writes && d < rnd(&seed) % 6; d++) {
      static uint8_t buf[20000];
      uint64_t len = 1 + rnd(&seed) % sizeof buf;
      uint64_t gpa = AREA_LO + rnd(&seed) % (AREA_HI - AREA_LO - len);
      assert_int_equal(vm_mem_write(v, gpa, buf, len), 0);
      ref_mark(&ref, gpa, len);
    }
    assert_int_equal(vm_dirty_log_harvest(v, got), 0);
    vm_resume(v);
    expect_equal(got, &ref, round);
  }
  /* Every vCPU halts now: nothing is written, the next harvest is empty. */
  memset(ref.bits, 0, ref.words * 8);
  usleep(20000);
  assert_int_equal(vm_dirty_log_harvest(v, got), 0);
  expect_equal(got, &ref, round);
  assert_true(busy_rounds >= 2);            /* the rounds did cut through the stores */
  bool virtual_mode = !strcmp(guest, "vmode_stores");
  for (unsigned i = 0; i < ncpus; i++) assert_int_equal((vm_cpu(v, i)->psr >> 17) & 1, virtual_mode);  /* psr.dt */
  vm_dirty_log_stop(v);
  vm_power_off(v, 0);
  assert_int_equal(vm_wait(v), 0);
  vm_destroy(v);
  free(entries), free(ref.bits), free(got);
}

static void test_dirty_log_matches_vcpu_stores_every_round_one_vcpu(void **s) {
  (void)s;
  rounds_match_reference("dirty_stores", 1, false);
}

static void test_dirty_log_matches_stores_and_device_writes_every_round_four_vcpus(void **s) {
  (void)s;
  rounds_match_reference("dirty_stores", 4, true);
}

/* A store through a 256 MiB guest translation marks only the 4 KiB frame it touched. */
static void test_dirty_log_counts_4k_frames_through_a_256m_guest_page(void **s) {
  (void)s;
  rounds_match_reference("vmode_stores", 2, true);
}

/* ---- Device writes racing with harvests ------------------------------------------------------ */

typedef struct racer {
  vm *v;
  atomic_uint started;    /* harvests begun */
  atomic_uint finished;   /* harvests returned */
  atomic_bool stop;
  unsigned n;
  struct { uint64_t frame; unsigned r0, r1; } w[20000];
} racer;

static void *device_writer(void *arg) {
  racer *r = arg;
  uint64_t seed = 12345;
  while (!atomic_load(&r->stop) && r->n < 20000) {
    uint64_t f = (AREA_LO >> 12) + rnd(&seed) % ((AREA_HI - AREA_LO) >> 12);
    unsigned r0 = atomic_load(&r->finished);    /* no harvest before r0 can have it ... */
    uint64_t x = f;
    vm_mem_write(r->v, f << 12, &x, 8);
    r->w[r->n].frame = f, r->w[r->n].r0 = r0, r->w[r->n].r1 = atomic_load(&r->started);  /* ... nor after r1 */
    r->n++;
  }
  return NULL;
}

/* A device write racing with harvests is in exactly one harvest: one of those that ran
 * while it was being made (or the next one), never lost. */
static void test_device_writes_racing_harvests_are_each_harvested_once(void **s) {
  (void)s;
  racer *r = calloc(1, sizeof *r);
  r->v = vm_with_guest(MEM, 1, "dirty_stores", "", -1);
  size_t words = vm_dirty_log_words(r->v);
  enum { ROUNDS = 200 };
  uint64_t *h = calloc(ROUNDS + 1, words * 8);
  assert_int_equal(vm_dirty_log_start(r->v), 0);
  pthread_t t;
  pthread_create(&t, NULL, device_writer, r);
  for (unsigned k = 0; k < ROUNDS; k++) {
    usleep(200);
    atomic_fetch_add(&r->started, 1);
    assert_int_equal(vm_dirty_log_harvest(r->v, h + (size_t)k * words), 0);
    atomic_fetch_add(&r->finished, 1);
  }
  atomic_store(&r->stop, true);
  pthread_join(t, NULL);
  assert_int_equal(vm_dirty_log_harvest(r->v, h + (size_t)ROUNDS * words), 0);
  /* Each write must be found in a harvest from r0 to r1 (a frame written twice may be found
   * once for both); and every harvested frame must have a write that allows that harvest. */
  for (unsigned i = 0; i < r->n; i++) {
    bool found = false;
    for (unsigned k = r->w[i].r0; k <= r->w[i].r1 && k <= ROUNDS && !found; k++)
      found = (h[(size_t)k * words + r->w[i].frame / 64] >> (r->w[i].frame % 64)) & 1;
    if (!found) fail_msg("write %u to frame 0x%llx (rounds %u-%u) was never harvested", i,
                         (unsigned long long)r->w[i].frame, r->w[i].r0, r->w[i].r1);
  }
  for (unsigned k = 0; k <= ROUNDS; k++)
    for (size_t w = 0; w < words; w++)
      for (uint64_t b = h[(size_t)k * words + w]; b; b &= b - 1) {
        uint64_t f = w * 64 + (unsigned)__builtin_ctzll(b);
        bool ok = false;
        for (unsigned i = 0; i < r->n && !ok; i++) ok = r->w[i].frame == f && r->w[i].r0 <= k && k <= r->w[i].r1;
        if (!ok) fail_msg("harvest %u has frame 0x%llx that no write explains", k, (unsigned long long)f);
      }
  assert_true(r->n > 100);
  vm_destroy(r->v);
  free(h);
  free(r);
}

/* With logging off nothing is recorded and a harvest is refused. */
static void test_harvest_without_logging_is_refused(void **s) {
  (void)s;
  vm *v = vm_with_guest(MEM, 1, "dirty_stores", "", -1);
  uint64_t *b = calloc(vm_dirty_log_words(v), 8);
  assert_int_equal(vm_dirty_log_harvest(v, b), HPVM_EINVAL);
  assert_int_equal(vm_dirty_log_start(v), 0);
  assert_int_equal(vm_mem_write(v, AREA_LO, "x", 1), 0);
  vm_dirty_log_stop(v);
  assert_false(vm_dirty_logging(v));
  vm_destroy(v);
  free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_dirty_log_matches_vcpu_stores_every_round_one_vcpu),
    cmocka_unit_test(test_dirty_log_matches_stores_and_device_writes_every_round_four_vcpus),
    cmocka_unit_test(test_dirty_log_counts_4k_frames_through_a_256m_guest_page),
    cmocka_unit_test(test_device_writes_racing_harvests_are_each_harvested_once),
    cmocka_unit_test(test_harvest_without_logging_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
