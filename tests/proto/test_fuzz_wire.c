/* test_fuzz_wire.c — runs the fuzz target (fuzz_wire.c) on a few thousand mutations of a
 * valid state, so that the gcc build exercises it as well as the clang libFuzzer binary, and
 * under the sanitizer build it is a memory-safety test of every reader. Mutations are seeded
 * (the same inputs every run): bit flips, random bytes, cuts, deletions, duplications,
 * insertions, and length words set to edge values. The test also checks that the inputs
 * reach each depth: refused by the envelope, by protobuf or the CPU checks, and accepted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "state_util.h"

int fuzz_wire_one(const uint8_t *data, size_t size);

#define MUTATIONS 5000

/* The seed: mode byte, then a stream of VM, CPU, GUEST_TLB, DEVICE, TIMERS and END. */
static uint8_t *seed_input(size_t *len) {
  static uint8_t alat_mem[65536];
  test_region reg = {(uintptr_t)alat_mem, 0x4000000000010000ull, sizeof alat_mem};
  wire_addr_map map = region_map(&reg);
  ia64_cpu *c = malloc(sizeof *c);
  assert_int_equal(ia64_cpu_init(c, NULL, NULL), 0);
  uint64_t s = 5;
  random_cpu(c, &s, &reg);

  wire_writer w;
  assert_int_equal(wire_writer_init_mem(&w), 0);
  Hpvm__VmInfo vm = HPVM__VM_INFO__INIT;
  vm.name = "fuzz";
  vm.vcpus = 1;
  assert_int_equal(wire_write_msg(&w, WIRE_SEC_VM, &vm.base), 0);
  assert_int_equal(wire_cpu_save(&w, c, 0, &map), 0);
  Hpvm__TlbEntry e = HPVM__TLB_ENTRY__INIT, *ep = &e;
  e.kind = HPVM__TLB_KIND__TLB_KIND_DTR;
  e.vpn = 0x4000;
  Hpvm__GuestTlb tlb = HPVM__GUEST_TLB__INIT;
  tlb.n_entries = 1, tlb.entries = &ep;
  assert_int_equal(wire_write_msg(&w, WIRE_SEC_GUEST_TLB, &tlb.base), 0);
  Hpvm__DeviceState dev = HPVM__DEVICE_STATE__INIT;
  dev.kind = HPVM__DEVICE_KIND__DEVICE_KIND_CONSOLE;
  dev.id = "console0";
  assert_int_equal(wire_write_msg(&w, WIRE_SEC_DEVICE, &dev.base), 0);
  Hpvm__Timers t = HPVM__TIMERS__INIT;
  t.itc_at_pause = 12345;
  assert_int_equal(wire_write_msg(&w, WIRE_SEC_TIMERS, &t.base), 0);
  assert_int_equal(wire_writer_end(&w), 0);
  size_t n;
  uint8_t *stream = wire_writer_take(&w, &n);
  uint8_t *in = malloc(n + 1);
  in[0] = 0;
  memcpy(in + 1, stream, n);
  free(stream);
  ia64_cpu_destroy(c);
  free(c);
  *len = n + 1;
  return in;
}

/* One mutated copy of the seed (to be freed), in *out_len bytes. */
static uint8_t *mutate(const uint8_t *seed, size_t len, uint64_t *s, size_t *out_len) {
  size_t cap = len * 2 + 64, n = len;
  uint8_t *b = malloc(cap);
  memcpy(b, seed, len);
  b[0] = (uint8_t)rng_below(s, 4);
  if (b[0] & 1) {  /* the target supplies the header: drop ours */
    memmove(b + 1, b + 1 + WIRE_HEADER_LEN, n - 1 - WIRE_HEADER_LEN);
    n -= WIRE_HEADER_LEN;
  }
  static const uint32_t edges[] = {0, 1, 2, 0x7f, 0x80, 0xff, 0xffff, 0x10000, WIRE_SECTION_MAX,
                                   WIRE_SECTION_MAX + 1, 0x7fffffff, 0xffffffff};
  unsigned ops = 1 + rng_below(s, 4);
  for (unsigned k = 0; k < ops && n > 1; k++) {
    size_t at = 1 + rng_below(s, (unsigned)(n - 1));
    switch (rng_below(s, 7)) {
    case 0: b[at] ^= (uint8_t)(1u << rng_below(s, 8)); break;
    case 1: b[at] = (uint8_t)rng_next(s); break;
    case 2: n = at; break;
    case 3: {
      size_t del = 1 + rng_below(s, (unsigned)(n - at < 16 ? n - at : 16));
      memmove(b + at, b + at + del, n - at - del);
      n -= del;
      break;
    }
    case 4: {
      size_t dup = 1 + rng_below(s, 32);
      if (at + dup > n || n + dup > cap) break;
      memmove(b + at + dup, b + at, n - at);
      n += dup;
      break;
    }
    case 5: {
      size_t ins = 1 + rng_below(s, 8);
      if (n + ins > cap) break;
      memmove(b + at + ins, b + at, n - at);
      for (size_t i = 0; i < ins; i++) b[at + i] = (uint8_t)rng_next(s);
      n += ins;
      break;
    }
    default:
      if (at + 4 <= n) {
        uint32_t v = edges[rng_below(s, sizeof edges / sizeof edges[0])];
        for (int i = 0; i < 4; i++) b[at + i] = (uint8_t)(v >> (8 * i));
      }
      break;
    }
  }
  *out_len = n;
  return b;
}

static void test_the_seed_loads_in_every_mode(void **state) {
  (void)state;
  size_t len;
  uint8_t *seed = seed_input(&len);
  for (uint8_t mode = 0; mode < 4; mode++) {
    seed[0] = mode;
    if (mode & 1) {  /* header supplied by the target */
      uint8_t *cut = malloc(len - WIRE_HEADER_LEN);
      cut[0] = mode;
      memcpy(cut + 1, seed + 1 + WIRE_HEADER_LEN, len - 1 - WIRE_HEADER_LEN);
      assert_int_equal(fuzz_wire_one(cut, len - WIRE_HEADER_LEN), 1);
      free(cut);
    } else {
      assert_int_equal(fuzz_wire_one(seed, len), 1);
    }
  }
  free(seed);
}

static void test_mutated_states_never_crash_and_reach_every_depth(void **state) {
  (void)state;
  size_t len;
  uint8_t *seed = seed_input(&len);
  uint64_t s = 0xf022;
  unsigned refused = 0, loaded = 0, neither = 0;
  for (int i = 0; i < MUTATIONS; i++) {
    size_t n;
    uint8_t *in = mutate(seed, len, &s, &n);
    int rc = fuzz_wire_one(in, n);
    refused += rc < 0;
    loaded += rc > 0;
    neither += rc == 0;
    free(in);
  }
  print_message("%d mutations: %u refused, %u loaded a CPU, %u accepted without one\n", MUTATIONS, refused,
                loaded, neither);
  assert_true(refused > MUTATIONS / 4);
  assert_true(loaded > MUTATIONS / 20);
  free(seed);
}

static void test_cpu_payload_mutations_are_checked_not_trusted(void **state) {
  /* Only the CPU section's payload is touched, CRCs recomputed (mode 2): every input reaches
   * protobuf and the CPU checks, which must refuse or accept, never crash. */
  (void)state;
  size_t len;
  uint8_t *seed = seed_input(&len);
  seed[0] = 2;
  /* Find the CPU section: header, then VM section, then CPU. */
  size_t at = 1 + WIRE_HEADER_LEN;
  uint32_t vm_len = (uint32_t)seed[at + 4] | (uint32_t)seed[at + 5] << 8 | (uint32_t)seed[at + 6] << 16;
  at += 12 + vm_len;
  assert_int_equal(seed[at], WIRE_SEC_CPU);
  uint32_t cpu_len = (uint32_t)seed[at + 4] | (uint32_t)seed[at + 5] << 8 | (uint32_t)seed[at + 6] << 16;
  size_t payload = at + 8;
  uint64_t s = 77;
  unsigned refused = 0, loaded = 0;
  uint8_t *b = malloc(len);
  for (int i = 0; i < MUTATIONS; i++) {
    memcpy(b, seed, len);
    unsigned flips = 1 + rng_below(&s, 3);
    for (unsigned k = 0; k < flips; k++) {
      size_t p = payload + rng_below(&s, cpu_len);
      if (rng_below(&s, 2)) b[p] ^= (uint8_t)(1u << rng_below(&s, 8));
      else b[p] = (uint8_t)rng_next(&s);
    }
    int rc = fuzz_wire_one(b, len);
    refused += rc < 0;
    loaded += rc > 0;
  }
  print_message("%d CPU payload mutations: %u refused, %u loaded\n", MUTATIONS, refused, loaded);
  assert_true(refused > 0);
  assert_true(loaded > 0);
  free(b);
  free(seed);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_the_seed_loads_in_every_mode),
    cmocka_unit_test(test_mutated_states_never_crash_and_reach_every_depth),
    cmocka_unit_test(test_cpu_payload_mutations_are_checked_not_trusted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
