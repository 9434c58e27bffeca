/* test_ia64run_aspace.c — unit tests of ia64run's address space (cli/ia64run/aspace.c):
 * mapping replaces what was there, unmapping and re-protecting part of a mapping split it
 * and keep the rest's contents, holes are found bottom-up inside one region, and the CPU's
 * TLB misses get the fault Linux's page tables would give. The invariant (sorted, page
 * aligned, inside user regions) is checked after every change. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ia64run.h"

#define P IR_PAGE_SIZE
#define BASE IR_UNMAPPED_BASE
#define RW (IA64_ACC_R | IA64_ACC_W)

static int setup(void **state) {
  *state = calloc(1, sizeof(ir_aspace));
  return *state ? 0 : -1;
}

static int teardown(void **state) {
  ir_as_free(*state);
  free(*state);
  return 0;
}

static void put(ir_aspace *as, uint64_t va, uint8_t v) {
  uint8_t *h = ir_as_host(as, va, 1);
  assert_non_null(h);
  *h = v;
}

static int get(ir_aspace *as, uint64_t va) {
  uint8_t *h = ir_as_host(as, va, 1);
  return h ? *h : -1;
}

static void test_map_gives_zeroed_memory_found_by_address(void **state) {
  ir_aspace *as = *state;
  assert_int_equal(ir_as_map(as, BASE, 3 * P, RW, IR_MAP_MMAP), 0);
  assert_true(ir_as_check(as));
  const ir_region *r = ir_as_find(as, BASE + 2 * P + 5);
  assert_non_null(r);
  assert_true(r->start <= BASE && r->end == BASE + 3 * P);
  assert_int_equal(get(as, BASE + 3 * P - 1), 0);
  assert_null(ir_as_find(as, BASE + 3 * P));
  assert_null(ir_as_find(as, BASE - 1));
}

static void test_map_refuses_unaligned_and_non_user_ranges(void **state) {
  ir_aspace *as = *state;
  assert_int_equal(ir_as_map(as, BASE + 1, P, RW, IR_MAP_MMAP), -EINVAL);
  assert_int_equal(ir_as_map(as, BASE, P + 1, RW, IR_MAP_MMAP), -EINVAL);
  assert_int_equal(ir_as_map(as, 0xa000000000000000ull, P, RW, IR_MAP_MMAP), -EINVAL);  /* region 5 */
  assert_int_equal(ir_as_map(as, BASE + IR_RGN_MAP_LIMIT, P, RW, IR_MAP_MMAP), -EINVAL);  /* unmappable */
  assert_int_equal(ir_as_map(as, BASE + IR_RGN_MAP_LIMIT - P, 2 * P, RW, IR_MAP_MMAP), -EINVAL);
  assert_int_equal(as->n, 0);
}

static void test_map_over_a_mapping_replaces_it(void **state) {
  ir_aspace *as = *state;
  assert_int_equal(ir_as_map(as, BASE, 3 * P, RW, IR_MAP_MMAP), 0);
  put(as, BASE, 1), put(as, BASE + P, 2), put(as, BASE + 2 * P, 3);
  assert_int_equal(ir_as_map(as, BASE + P, P, IA64_ACC_R, IR_MAP_MMAP), 0);
  assert_true(ir_as_check(as));
  assert_int_equal(get(as, BASE), 1);
  assert_int_equal(get(as, BASE + P), 0);          /* new memory */
  assert_int_equal(get(as, BASE + 2 * P), 3);
  assert_int_equal(ir_as_find(as, BASE + P)->perms, IA64_ACC_R);
  assert_int_equal(ir_as_find(as, BASE)->perms, RW);
}

static void test_unmap_in_the_middle_splits_and_keeps_the_rest(void **state) {
  ir_aspace *as = *state;
  assert_int_equal(ir_as_map(as, BASE, 4 * P, RW, IR_MAP_MMAP), 0);
  for (unsigned i = 0; i < 4; i++) put(as, BASE + i * P + 7, (uint8_t)(10 + i));
  assert_int_equal(ir_as_unmap(as, BASE + P, 2 * P), 0);
  assert_true(ir_as_check(as));
  assert_int_equal(as->n, 2);
  assert_int_equal(get(as, BASE + 7), 10);
  assert_int_equal(get(as, BASE + P + 7), -1);
  assert_int_equal(get(as, BASE + 2 * P + 7), -1);
  assert_int_equal(get(as, BASE + 3 * P + 7), 13);
  assert_true(ir_as_is_free(as, BASE + P, 2 * P));
  assert_false(ir_as_is_free(as, BASE + P, 3 * P));
}

static void test_unmap_across_mappings_and_holes(void **state) {
  ir_aspace *as = *state;
  assert_int_equal(ir_as_map(as, BASE, 2 * P, RW, IR_MAP_MMAP), 0);
  assert_int_equal(ir_as_map(as, BASE + 3 * P, 2 * P, IA64_ACC_R, IR_MAP_MMAP), 0);
  put(as, BASE, 5);
  put(as, BASE + 4 * P, 6);
  assert_int_equal(ir_as_unmap(as, BASE + P, 3 * P), 0);   /* tail of one, hole, head of the next */
  assert_true(ir_as_check(as));
  assert_int_equal(get(as, BASE), 5);
  assert_int_equal(get(as, BASE + 4 * P), 6);
  assert_true(ir_as_is_free(as, BASE + P, 3 * P));
}

static void test_protect_splits_the_range_it_changes(void **state) {
  ir_aspace *as = *state;
  assert_int_equal(ir_as_map(as, BASE, 3 * P, RW, IR_MAP_MMAP), 0);
  put(as, BASE + P, 9);
  assert_int_equal(ir_as_protect(as, BASE + P, P, IA64_ACC_X), 0);
  assert_true(ir_as_check(as));
  assert_int_equal(as->n, 3);
  assert_int_equal(ir_as_find(as, BASE)->perms, RW);
  assert_int_equal(ir_as_find(as, BASE + P)->perms, IA64_ACC_X);
  assert_int_equal(ir_as_find(as, BASE + 2 * P)->perms, RW);
  assert_int_equal(get(as, BASE + P), 9);
}

static void test_protect_over_a_hole_changes_nothing(void **state) {
  ir_aspace *as = *state;
  assert_int_equal(ir_as_map(as, BASE, P, RW, IR_MAP_MMAP), 0);
  assert_int_equal(ir_as_map(as, BASE + 2 * P, P, RW, IR_MAP_MMAP), 0);
  assert_int_equal(ir_as_protect(as, BASE, 3 * P, IA64_ACC_R), -ENOMEM);
  assert_int_equal(ir_as_find(as, BASE)->perms, RW);
  assert_int_equal(ir_as_find(as, BASE + 2 * P)->perms, RW);
  assert_int_equal(as->n, 2);
}

static void test_find_free_is_bottom_up_first_fit_in_one_region(void **state) {
  ir_aspace *as = *state;
  assert_int_equal(ir_as_find_free(as, BASE, P), BASE);
  assert_int_equal(ir_as_map(as, BASE, P, RW, IR_MAP_MMAP), 0);
  assert_int_equal(ir_as_map(as, BASE + 2 * P, P, RW, IR_MAP_MMAP), 0);
  assert_int_equal(ir_as_find_free(as, BASE, P), BASE + P);           /* the hole fits */
  assert_int_equal(ir_as_find_free(as, BASE, 2 * P), BASE + 3 * P);   /* it does not */
  assert_int_equal(ir_as_find_free(as, BASE + 5, P), BASE + P);       /* base rounds down */
  uint64_t end = BASE + IR_RGN_MAP_LIMIT;
  assert_int_equal(ir_as_find_free(as, end - 2 * P, 2 * P), end - 2 * P);
  assert_int_equal(ir_as_find_free(as, end - 2 * P, 3 * P), 0);       /* would leave the region */
  assert_int_equal(ir_as_find_free(as, 0xa000000000000000ull, P), 0); /* not a user region */
}

static void test_growing_next_to_a_mapping_keeps_contents(void **state) {
  ir_aspace *as = *state;
  assert_int_equal(ir_as_map(as, BASE, P, RW, IR_MAP_BRK), 0);
  put(as, BASE + P - 1, 42);
  for (unsigned i = 1; i < 20; i++) {
    assert_int_equal(ir_as_map(as, BASE + i * P, P, RW, IR_MAP_BRK), 0);
    put(as, BASE + (i + 1) * P - 1, (uint8_t)i);
  }
  assert_true(ir_as_check(as));
  assert_int_equal(get(as, BASE + P - 1), 42);
  for (unsigned i = 1; i < 20; i++) assert_int_equal(get(as, BASE + (i + 1) * P - 1), i);
}

/* ---- translate() ----------------------------------------------------------------------------- */

static void test_translate_faults_as_linux_page_tables_would(void **state) {
  ir_aspace *as = *state;
  ia64_cpu *c = calloc(1, sizeof *c);
  assert_non_null(c);
  assert_int_equal(ia64_cpu_init(c, &ir_mem_ops, as), 0);
  as->cpu = c;
  assert_int_equal(ir_as_map(as, BASE, P, IA64_ACC_R, IR_MAP_MMAP), 0);
  ia64_xlat x;
  assert_int_equal(ir_mem_ops.translate(as, c, BASE + 0x1008, IA64_ACC_R, &x), 0);
  assert_ptr_equal(x.host_page, ir_as_host(as, BASE + 0x1000, 1));
  assert_int_equal(x.perms, IA64_ACC_R);
  assert_int_equal(ir_mem_ops.translate(as, c, BASE + 8, IA64_ACC_W, &x), -1);
  assert_int_equal(c->intr.vector, IA64_VEC_DATA_ACCESS_RIGHTS);
  assert_true(c->intr.isr & IA64_ISR_W);
  assert_int_equal(c->intr.ifa, BASE + 8);
  assert_int_equal(ir_mem_ops.translate(as, c, BASE, IA64_ACC_X, &x), -1);
  assert_int_equal(c->intr.vector, IA64_VEC_INST_ACCESS_RIGHTS);
  assert_int_equal(ir_mem_ops.translate(as, c, BASE + P, IA64_ACC_R, &x), -1);
  assert_int_equal(c->intr.vector, IA64_VEC_DATA_TLB);
  assert_true(c->intr.isr & IA64_ISR_R);
  assert_int_equal(ir_mem_ops.translate(as, c, BASE + P, IA64_ACC_X, &x), -1);
  assert_int_equal(c->intr.vector, IA64_VEC_INST_TLB);
  /* A load through the CPU sees the new permission after mprotect-like changes. */
  uint64_t v = 1;
  assert_int_equal(ia64_read_mem(c, BASE, &v, 8), 0);
  assert_int_equal(v, 0);
  assert_int_equal(ir_as_protect(as, BASE, P, 0), 0);
  assert_int_equal(ia64_read_mem(c, BASE, &v, 8), -1);
  assert_int_equal(c->intr.vector, IA64_VEC_DATA_ACCESS_RIGHTS);
  ir_as_free(as);
  ia64_cpu_destroy(c);
  free(c);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
    T(test_map_gives_zeroed_memory_found_by_address),
    T(test_map_refuses_unaligned_and_non_user_ranges),
    T(test_map_over_a_mapping_replaces_it),
    T(test_unmap_in_the_middle_splits_and_keeps_the_rest),
    T(test_unmap_across_mappings_and_holes),
    T(test_protect_splits_the_range_it_changes),
    T(test_protect_over_a_hole_changes_nothing),
    T(test_find_free_is_bottom_up_first_fit_in_one_region),
    T(test_growing_next_to_a_mapping_keeps_contents),
    T(test_translate_faults_as_linux_page_tables_would),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
