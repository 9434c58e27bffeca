/* test_converge.c — the convergence policy (migrate/converge.c) as arithmetic: the predicted
 * downtime follows the measured bandwidth and bytes per page (zero and delta frames count as
 * small), a dirty set under the limit switches over, rounds that stop shrinking raise the
 * throttle 20/40/60/80/99 % (never with auto-converge off), and only copy_timeout_ms ends the
 * copy phase. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "internal.h"

/* 100 MB/s: rounds of 100 MB in one second. */
static void link_100mbs(mig_conv *c, uint64_t bytes_per_page) {
  uint64_t frames = 100000000 / bytes_per_page;
  mig_conv_round(c, 1, 100000000, frames, frames, 1000000000);
}

static void test_prediction_is_dirty_bytes_on_the_wire_over_bandwidth(void **s) {
  (void)s;
  mig_conv c;
  mig_params p = {.downtime_ms = 50};
  mig_conv_init(&c, &p, 1);
  assert_int_equal(mig_conv_predict(&c, 10), UINT32_MAX);   /* nothing measured yet */
  link_100mbs(&c, 4096);
  assert_true(c.bw > 0.99e8 && c.bw < 1.01e8);
  /* 1000 frames of 4 KiB + one vCPU's state: 4.11 MB at 100 MB/s = 41.1 ms -> 42. */
  assert_int_equal(mig_conv_predict(&c, 1000), 42);
  /* Rounds whose frames went as deltas (~100 bytes each): the same dirty set costs less. */
  mig_conv_round(&c, 2, 100000000, 1000000, 1000000, 1000000000);
  assert_true(c.bytes_per_page < 2200);
  assert_true(mig_conv_predict(&c, 1000) < 25);
}

static void test_round_0_counts_only_its_data_frames(void **s) {
  (void)s;
  mig_conv c;
  mig_params p = {0};
  mig_conv_init(&c, &p, 2);
  /* 1 GB of frames, 90 % never touched (zero), 100 MB of data on the wire. */
  mig_conv_round(&c, 0, 100000000, 262144, 26214, 1000000000);
  assert_true(c.bytes_per_page > 3800 && c.bytes_per_page < 3900);
  assert_int_equal(c.downtime_ms, 50);   /* 0 means the default */
}

static void test_switches_over_when_the_prediction_is_under_the_limit(void **s) {
  (void)s;
  mig_conv c;
  mig_params p = {.downtime_ms = 10};
  mig_conv_init(&c, &p, 1);
  link_100mbs(&c, 4096);
  assert_int_equal(mig_conv_decide(&c, 100000, 1000), MIG_CONV_CONTINUE);   /* 4 s */
  assert_int_equal(mig_conv_decide(&c, 200, 2000), MIG_CONV_SWITCHOVER);    /* 8.4 ms */
  assert_true(c.predicted_ms <= 10);
  assert_int_equal(mig_conv_decide(&c, 0, 3000), MIG_CONV_SWITCHOVER);
}

static void test_rounds_that_stop_shrinking_raise_the_throttle_step_by_step(void **s) {
  (void)s;
  mig_conv c;
  mig_params p = {.downtime_ms = 10};
  mig_conv_init(&c, &p, 1);
  link_100mbs(&c, 4096);
  const unsigned want[] = {20, 40, 60, 80, 99};
  unsigned step = 0;
  assert_int_equal(mig_conv_decide(&c, 50000, 0), MIG_CONV_CONTINUE);
  /* Shrinking by more than a tenth: no throttle. */
  assert_int_equal(mig_conv_decide(&c, 40000, 0), MIG_CONV_CONTINUE);
  assert_int_equal(mig_conv_decide(&c, 30000, 0), MIG_CONV_CONTINUE);
  /* Stuck: every second decision raises a step, up to 99 %, then it stays. */
  for (unsigned k = 0; k < 14; k++) {
    mig_conv_action a = mig_conv_decide(&c, 30000, 0);
    if (a == MIG_CONV_THROTTLE) {
      assert_true(step < 5);
      assert_int_equal(c.throttle, want[step++]);
    } else {
      assert_int_equal(a, MIG_CONV_CONTINUE);
    }
  }
  assert_int_equal(step, 5);
  assert_int_equal(c.throttle, 99);
  /* Without auto-converge: never. */
  p.no_auto_converge = true;
  mig_conv_init(&c, &p, 1);
  link_100mbs(&c, 4096);
  for (unsigned k = 0; k < 10; k++) assert_int_equal(mig_conv_decide(&c, 30000, 0), MIG_CONV_CONTINUE);
  assert_int_equal(c.throttle, 0);
}

static void test_only_the_copy_timeout_gives_up(void **s) {
  (void)s;
  mig_conv c;
  mig_params p = {.downtime_ms = 10, .copy_timeout_ms = 5000, .no_auto_converge = true};
  mig_conv_init(&c, &p, 1);
  link_100mbs(&c, 4096);
  for (uint64_t ms = 0; ms < 5000; ms += 500) assert_int_equal(mig_conv_decide(&c, 30000, ms), MIG_CONV_CONTINUE);
  assert_int_equal(mig_conv_decide(&c, 30000, 5000), MIG_CONV_TIMEOUT);
  /* A dirty set that fits still switches over, even late. */
  assert_int_equal(mig_conv_decide(&c, 10, 6000), MIG_CONV_SWITCHOVER);
  /* No timeout: never gives up. */
  p.copy_timeout_ms = 0;
  mig_conv_init(&c, &p, 1);
  link_100mbs(&c, 4096);
  assert_int_equal(mig_conv_decide(&c, 30000, 86400000), MIG_CONV_CONTINUE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_prediction_is_dirty_bytes_on_the_wire_over_bandwidth),
      cmocka_unit_test(test_round_0_counts_only_its_data_frames),
      cmocka_unit_test(test_switches_over_when_the_prediction_is_under_the_limit),
      cmocka_unit_test(test_rounds_that_stop_shrinking_raise_the_throttle_step_by_step),
      cmocka_unit_test(test_only_the_copy_timeout_gives_up),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
