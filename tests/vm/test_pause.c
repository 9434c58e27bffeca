/* test_pause.c — pause stops every vCPU (running or halted) at a bundle boundary and resume
 * restarts them; pauses nest; two VMs run side by side in one process. */
#include "vm_test.h"

#define MEM (16ull << 20)

static uint64_t retired(vm *v, unsigned i) { return vm_cpu(v, i)->retired; }

static void test_pause_stops_every_vcpu_and_resume_restarts_them(void **s) {
  (void)s;
  enum { N = 4 };
  vm *v = vm_with_guest(MEM, N, "spin", "", -1);
  assert_int_equal(vm_start(v), 0);
  usleep(50000);
  uint64_t a[N], b[N];
  double worst = 0;
  for (int k = 0; k < 20; k++) {
    double t0 = now_s();
    vm_pause(v);
    double dt = now_s() - t0;
    if (dt > worst) worst = dt;
    for (unsigned i = 0; i < N; i++) a[i] = retired(v, i);
    usleep(2000);
    for (unsigned i = 0; i < N; i++) assert_true(retired(v, i) == a[i]);
    vm_resume(v);
    usleep(5000);
  }
  print_message("worst pause of %d running vCPUs: %.1f us\n", N, worst * 1e6);
  vm_pause(v);
  for (unsigned i = 0; i < N; i++) a[i] = retired(v, i);
  vm_resume(v);
  usleep(50000);
  vm_pause(v);
  for (unsigned i = 0; i < N; i++) b[i] = retired(v, i);
  vm_resume(v);
  for (unsigned i = 0; i < N; i++) assert_true(b[i] > a[i]);
  vm_power_off(v, 0);
  assert_int_equal(vm_wait(v), 0);
  vm_destroy(v);
}

static void test_pauses_nest(void **s) {
  (void)s;
  vm *v = vm_with_guest(MEM, 2, "spin", "", -1);
  assert_int_equal(vm_start(v), 0);
  usleep(20000);
  vm_pause(v);
  vm_pause(v);
  uint64_t a = retired(v, 0);
  vm_resume(v);
  usleep(10000);
  assert_true(retired(v, 0) == a);          /* still paused once */
  vm_resume(v);
  usleep(20000);
  vm_pause(v);
  assert_true(retired(v, 0) > a);
  vm_resume(v);
  vm_destroy(v);
}

static void test_pause_of_halted_vcpus_returns_at_once(void **s) {
  (void)s;
  vm *v = vm_with_guest(32ull << 20, 3, "dirty_stores", "", -1);   /* empty tables: all halt */
  assert_int_equal(vm_start(v), 0);
  usleep(50000);
  vm_stats st;
  vm_get_stats(v, &st);
  assert_true(st.halts >= 3);
  vm_pause(v);
  vm_resume(v);
  vm_destroy(v);
}

static void test_two_vms_run_side_by_side(void **s) {
  (void)s;
  vm *a = vm_with_guest(MEM, 1, "smc", "", -1);
  vm *b = vm_with_guest(MEM, 2, "smc_cross", "", -1);
  assert_int_equal(vm_start(a), 0);
  assert_int_equal(vm_start(b), 0);
  assert_int_equal(wait_exit(a, 20), 57);
  assert_int_equal(wait_exit(b, 20), 9);
  vm_destroy(a);
  vm_destroy(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_pause_stops_every_vcpu_and_resume_restarts_them),
    cmocka_unit_test(test_pauses_nest),
    cmocka_unit_test(test_pause_of_halted_vcpus_returns_at_once),
    cmocka_unit_test(test_two_vms_run_side_by_side),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
