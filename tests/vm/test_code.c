/* test_code.c — writes to code pages drop pre-decoded code: the vCPU's own store
 * (guests/smc.S), another vCPU's store and a device write (guests/smc_cross.S), with the
 * dirty log off and on. */
#include "vm_test.h"

#define MEM (16ull << 20)
#define SPIN 0x100010ull
#define PATCH 0x100020ull

static int run_guest(const char *name, unsigned ncpus, bool logging) {
  vm *v = vm_with_guest(MEM, ncpus, name, "", -1);
  if (logging) assert_int_equal(vm_dirty_log_start(v), 0);
  assert_int_equal(vm_start(v), 0);
  int st = wait_exit(v, 20);
  vm_destroy(v);
  return st;
}

static void test_rewritten_bundle_runs_new_code(void **s) {
  (void)s;
  assert_int_equal(run_guest("smc", 1, false), 57);
}

static void test_rewritten_bundle_runs_new_code_while_logging(void **s) {
  (void)s;
  assert_int_equal(run_guest("smc", 1, true), 57);
}

static void test_store_from_another_vcpu_drops_decoded_code(void **s) {
  (void)s;
  assert_int_equal(run_guest("smc_cross", 2, false), 9);
  assert_int_equal(run_guest("smc_cross", 4, true), 9);
}

static void device_write_case(bool logging) {
  vm *v = vm_with_guest(MEM, 1, "smc_cross", "", -1);
  if (logging) assert_int_equal(vm_dirty_log_start(v), 0);
  assert_int_equal(vm_start(v), 0);
  usleep(50000);                                    /* the vCPU spins on decoded code */
  assert_false(vm_stopped(v));
  uint8_t b[16];
  assert_int_equal(vm_mem_read(v, PATCH, b, 16), 0);
  assert_int_equal(vm_mem_write(v, SPIN, b, 16), 0);
  assert_int_equal(wait_exit(v, 20), 9);
  vm_stats st;
  vm_get_stats(v, &st);
  assert_true(st.code_flushes >= 1);
  vm_destroy(v);
}

static void test_device_write_drops_decoded_code(void **s) {
  (void)s;
  device_write_case(false);
}

static void test_device_write_drops_decoded_code_while_logging(void **s) {
  (void)s;
  device_write_case(true);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rewritten_bundle_runs_new_code),
    cmocka_unit_test(test_rewritten_bundle_runs_new_code_while_logging),
    cmocka_unit_test(test_store_from_another_vcpu_drops_decoded_code),
    cmocka_unit_test(test_device_write_drops_decoded_code),
    cmocka_unit_test(test_device_write_drops_decoded_code_while_logging),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
