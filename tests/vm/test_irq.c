/* test_irq.c — interrupts end to end: the ITC timer delivered through the guest's IVT while
 * it sleeps in HALT_LIGHT (guests/timer.S), an IPI from one vCPU to another
 * (guests/ipi.S), and an idle guest costing (almost) no host CPU. */
#include <sys/resource.h>

#include "vm_test.h"

#define MEM (16ull << 20)

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         (double)ru.ru_stime.tv_usec / 1e6;
}

static void test_timer_interrupts_wake_a_halted_guest(void **s) {
  (void)s;
  vm *v = vm_with_guest(MEM, 1, "timer", "", -1);
  assert_int_equal(vm_start(v), 0);
  assert_int_equal(wait_exit(v, 20), 0);
  vm_stats st;
  vm_get_stats(v, &st);
  assert_true(st.halts >= 5);                /* it slept between ticks */
  vm_destroy(v);
}

static void test_ipi_is_delivered_through_the_targets_ivt(void **s) {
  (void)s;
  vm *v = vm_with_guest(MEM, 2, "ipi", "", -1);
  assert_int_equal(vm_start(v), 0);
  assert_int_equal(wait_exit(v, 20), 0xd0);
  vm_destroy(v);
}

static void test_halted_guest_costs_almost_no_host_cpu(void **s) {
  (void)s;
  vm *v = vm_with_guest(32ull << 20, 4, "dirty_stores", "", -1);   /* empty tables: every vCPU halts */
  assert_int_equal(vm_start(v), 0);
  usleep(100000);
  double c0 = cpu_seconds(), t0 = now_s();
  usleep(500000);
  double used = cpu_seconds() - c0, wall = now_s() - t0;
  print_message("4 halted vCPUs: %.2f%% of one host CPU\n", used / wall * 100);
  assert_true(used / wall < 0.05);
  vm_destroy(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_timer_interrupts_wake_a_halted_guest),
    cmocka_unit_test(test_ipi_is_delivered_through_the_targets_ivt),
    cmocka_unit_test(test_halted_guest_costs_almost_no_host_cpu),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
