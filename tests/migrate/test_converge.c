/* test_converge.c — the convergence policy (migrate/converge.c) as arithmetic: the predicted
 * downtime follows the measured bandwidth and the bytes of data frames, delta frames and
 * headers, pricing a dirty set by how much of it the source has cached (deltas), plus the
 * time one thread takes to encode it; a dirty set
 * under the limit switches over; rounds whose prediction stops shrinking raise the throttle
 * 20/40/60/80/99 % (never with auto-converge off), but a hot set moving from data to deltas
 * is shrinking and never throttled; small rounds do not spoil the bandwidth; only
 * copy_timeout_ms ends the copy phase. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "internal.h"

/* 100 MB/s: a round of 100 MB of data frames in one second, no header bytes. */
static void link_100mbs(mig_conv *c, uint64_t bytes_per_page) {
  uint64_t frames = 100000000 / bytes_per_page;
  mig_round_meas r = {.wire = 100000000, .frames = frames, .data_frames = frames, .data_bytes = 100000000,
                      .ns = 1000000000};
  mig_conv_round(c, &r);
}

static void test_prediction_is_dirty_bytes_on_the_wire_over_bandwidth(void **s) {
  (void)s;
  mig_conv c;
  mig_params p = {.downtime_ms = 50};
  mig_conv_init(&c, &p, 1);
  assert_int_equal(mig_conv_predict(&c, 10, 0), UINT32_MAX);   /* nothing measured yet */
  link_100mbs(&c, 4096);
  assert_true(c.bw > 0.99e8 && c.bw < 1.01e8);
  /* 1000 frames of 4 KiB + one vCPU's state: 4.11 MB at 100 MB/s = 41.1 ms -> 42. */
  assert_int_equal(mig_conv_predict(&c, 1000, 0), 42);
  /* The same 1000 frames, cached at the source: deltas, priced at a guess until measured. */
  assert_true(mig_conv_predict(&c, 1000, 1000) < 5);
  /* A round of deltas of 10 bytes and 4 bytes of headers per frame: measured. */
  mig_round_meas r = {.wire = 14000000, .frames = 1000000, .deltas = 1000000, .delta_bytes = 10000000,
                      .ns = 140000000};
  mig_conv_round(&c, &r);
  assert_true(c.delta_bpp > 9.9 && c.delta_bpp < 10.1);
  assert_true(c.ovh_bpp > 3.9 && c.ovh_bpp < 4.1);
  /* 10000 cached frames: 10000 * 14 bytes + the state: 156 KB at 100 MB/s -> 2 ms. */
  assert_int_equal(mig_conv_predict(&c, 10000, 10000), 2);
  /* Uncached, the same set costs 4 KiB a frame. */
  assert_true(mig_conv_predict(&c, 10000, 0) > 400);
  /* More cached than dirty is clamped. */
  assert_int_equal(mig_conv_predict(&c, 10000, 20000), 2);
}

/* Comparing a frame with its cached version reads 8 KiB: on one thread (the final round) a
 * large cached set takes longer to encode than to send. */
static void test_encoding_time_counts(void **s) {
  (void)s;
  mig_conv c;
  mig_params p = {.downtime_ms = 10};
  mig_conv_init(&c, &p, 1);
  link_100mbs(&c, 4096);
  mig_round_meas r = {.wire = 2000000, .frames = 100000, .deltas = 100000, .delta_bytes = 1000000, .resent = 100000,
                      .encode_ns = 300000000, .ns = 20000000};
  mig_conv_round(&c, &r);
  assert_true(c.encode_ns > 2999 && c.encode_ns < 3001);   /* 3 us a frame */
  /* 10000 cached frames of 20 bytes (10 of delta, 10 of headers) + the state: 2.2 ms on the
   * wire, + 30 ms of encoding. */
  uint32_t ms = mig_conv_predict(&c, 10000, 10000);
  assert_true(ms >= 32 && ms <= 33);
  assert_int_equal(mig_conv_decide(&c, 10000, 10000, 0), MIG_CONV_CONTINUE);
  assert_int_equal(mig_conv_decide(&c, 1000, 1000, 0), MIG_CONV_SWITCHOVER);   /* 3.4 ms */
}

static void test_round_0_prices_data_frames_not_its_zero_frames(void **s) {
  (void)s;
  mig_conv c;
  mig_params p = {0};
  mig_conv_init(&c, &p, 2);
  /* 1 GB of frames, 90 % never touched (zero), 100 MB of data and 2 MB of headers. */
  mig_round_meas r = {.wire = 102000000, .frames = 262144, .data_frames = 26214, .data_bytes = 100000000,
                      .ns = 1000000000};
  mig_conv_round(&c, &r);
  assert_true(c.data_bpp > 3800 && c.data_bpp < 3900);
  assert_true(c.ovh_bpp > 7 && c.ovh_bpp < 8);
  assert_int_equal(c.downtime_ms, 50);   /* 0 means the default */
}

static void test_small_rounds_leave_the_bandwidth_alone(void **s) {
  (void)s;
  mig_conv c;
  mig_params p = {0};
  mig_conv_init(&c, &p, 1);
  link_100mbs(&c, 4096);
  /* 40 KB in 20 ms (latency, not bandwidth): 2 MB/s would wreck the prediction. */
  mig_round_meas r = {.wire = 40000, .frames = 10, .data_frames = 10, .data_bytes = 40000, .ns = 20000000};
  mig_conv_round(&c, &r);
  assert_true(c.bw > 0.99e8 && c.bw < 1.01e8);
}

static void test_switches_over_when_the_prediction_is_under_the_limit(void **s) {
  (void)s;
  mig_conv c;
  mig_params p = {.downtime_ms = 10};
  mig_conv_init(&c, &p, 1);
  link_100mbs(&c, 4096);
  assert_int_equal(mig_conv_decide(&c, 100000, 0, 1000), MIG_CONV_CONTINUE);   /* 4 s */
  assert_int_equal(mig_conv_decide(&c, 100, 0, 2000), MIG_CONV_SWITCHOVER);    /* 4.3 ms: under half */
  assert_true(c.predicted_ms <= 5);
  assert_int_equal(mig_conv_decide(&c, 0, 0, 3000), MIG_CONV_SWITCHOVER);
  /* 8.4 ms: under the limit but not under half: another round while they still shrink, the
   * switch once they do not. */
  mig_conv_init(&c, &p, 1);
  link_100mbs(&c, 4096);
  assert_int_equal(mig_conv_decide(&c, 100000, 0, 1000), MIG_CONV_CONTINUE);
  assert_int_equal(mig_conv_decide(&c, 200, 0, 2000), MIG_CONV_CONTINUE);
  assert_int_equal(c.predicted_ms, 9);
  assert_int_equal(mig_conv_decide(&c, 195, 0, 3000), MIG_CONV_SWITCHOVER);
  /* 20000 frames, all cached: deltas (the guess: 256 bytes each) -> 5.3 MB, 52 ms; measured
   * at 10 bytes -> 2.2 ms. */
  mig_conv_init(&c, &p, 1);
  link_100mbs(&c, 4096);
  assert_int_equal(mig_conv_decide(&c, 20000, 20000, 1000), MIG_CONV_CONTINUE);
  mig_round_meas r = {.wire = 10000000, .frames = 1000000, .deltas = 1000000, .delta_bytes = 10000000, .ns = 100000000};
  mig_conv_round(&c, &r);
  assert_int_equal(mig_conv_decide(&c, 20000, 20000, 2000), MIG_CONV_SWITCHOVER);   /* 2.2 ms */
}

static void test_rounds_that_stop_shrinking_raise_the_throttle_step_by_step(void **s) {
  (void)s;
  mig_conv c;
  mig_params p = {.downtime_ms = 10};
  mig_conv_init(&c, &p, 1);
  link_100mbs(&c, 4096);
  const unsigned want[] = {20, 40, 60, 80, 99};
  unsigned step = 0;
  assert_int_equal(mig_conv_decide(&c, 50000, 0, 0), MIG_CONV_CONTINUE);
  /* Shrinking by more than a tenth: no throttle. */
  assert_int_equal(mig_conv_decide(&c, 40000, 0, 0), MIG_CONV_CONTINUE);
  assert_int_equal(mig_conv_decide(&c, 30000, 0, 0), MIG_CONV_CONTINUE);
  /* Stuck: every second decision raises a step, up to 99 %, then it stays. */
  for (unsigned k = 0; k < 14; k++) {
    mig_conv_action a = mig_conv_decide(&c, 30000, 0, 0);
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
  for (unsigned k = 0; k < 10; k++) assert_int_equal(mig_conv_decide(&c, 30000, 0, 0), MIG_CONV_CONTINUE);
  assert_int_equal(c.throttle, 0);
}

/* A dirty set that swings between two sizes (bandwidth and harvest samples vary) is stuck,
 * not shrinking: only a new low by a tenth resets the stall count. */
static void test_a_prediction_swinging_around_a_plateau_is_throttled(void **s) {
  (void)s;
  mig_conv c;
  mig_params p = {.downtime_ms = 10};
  mig_conv_init(&c, &p, 1);
  link_100mbs(&c, 4096);
  unsigned throttles = 0;
  for (unsigned k = 0; k < 12; k++)
    if (mig_conv_decide(&c, k % 2 ? 26000 : 30000, 0, 0) == MIG_CONV_THROTTLE) throttles++;
  assert_true(throttles >= 3);
  assert_true(c.throttle >= 60);
}

/* A working set rewritten faster than the link: the dirty set stays the same size, but once
 * the source holds its frames they go as deltas and the prediction falls: no throttle. */
static void test_a_hot_set_moving_to_deltas_is_shrinking(void **s) {
  (void)s;
  mig_conv c;
  mig_params p = {.downtime_ms = 10};
  mig_conv_init(&c, &p, 1);
  link_100mbs(&c, 2048);
  assert_int_equal(mig_conv_decide(&c, 65536, 0, 0), MIG_CONV_CONTINUE);       /* all data */
  assert_int_equal(mig_conv_decide(&c, 65536, 40000, 0), MIG_CONV_CONTINUE);   /* partly cached */
  assert_int_equal(mig_conv_decide(&c, 65536, 65536, 0), MIG_CONV_CONTINUE);   /* all cached (guess) */
  assert_int_equal(c.throttle, 0);
  mig_round_meas r = {.wire = 1000000, .frames = 65536, .deltas = 65536, .delta_bytes = 655360, .ns = 10000000};
  mig_conv_round(&c, &r);
  assert_int_equal(mig_conv_decide(&c, 300, 300, 0), MIG_CONV_SWITCHOVER);
  assert_int_equal(c.throttle, 0);
}

static void test_only_the_copy_timeout_gives_up(void **s) {
  (void)s;
  mig_conv c;
  mig_params p = {.downtime_ms = 10, .copy_timeout_ms = 5000, .no_auto_converge = true};
  mig_conv_init(&c, &p, 1);
  link_100mbs(&c, 4096);
  for (uint64_t ms = 0; ms < 5000; ms += 500) assert_int_equal(mig_conv_decide(&c, 30000, 0, ms), MIG_CONV_CONTINUE);
  assert_int_equal(mig_conv_decide(&c, 30000, 0, 5000), MIG_CONV_TIMEOUT);
  /* A dirty set that fits still switches over, even late. */
  assert_int_equal(mig_conv_decide(&c, 10, 0, 6000), MIG_CONV_SWITCHOVER);
  /* No timeout: never gives up. */
  p.copy_timeout_ms = 0;
  mig_conv_init(&c, &p, 1);
  link_100mbs(&c, 4096);
  assert_int_equal(mig_conv_decide(&c, 30000, 0, 86400000), MIG_CONV_CONTINUE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_prediction_is_dirty_bytes_on_the_wire_over_bandwidth),
      cmocka_unit_test(test_encoding_time_counts),
      cmocka_unit_test(test_round_0_prices_data_frames_not_its_zero_frames),
      cmocka_unit_test(test_small_rounds_leave_the_bandwidth_alone),
      cmocka_unit_test(test_switches_over_when_the_prediction_is_under_the_limit),
      cmocka_unit_test(test_rounds_that_stop_shrinking_raise_the_throttle_step_by_step),
      cmocka_unit_test(test_a_prediction_swinging_around_a_plateau_is_throttled),
      cmocka_unit_test(test_a_hot_set_moving_to_deltas_is_shrinking),
      cmocka_unit_test(test_only_the_copy_timeout_gives_up),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
