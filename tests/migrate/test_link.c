/* test_link.c — what `auto` is told about the link (migrate/link.c), window by window as the
 * source sees the destination's ACKs: loopback, where the CPU limits, never yields a link
 * rate, not even on a loaded host where the two sides wait for each other in turn; a
 * 1 Gbit/s link does after three steady link-bound windows; erratic rates (a stall,
 * other load) are not believed; a CPU-bound window drops the rate; compression slower than
 * the link is vetoed; raw probes check it — confirmed, the next probe comes twice as late;
 * refuted, compression is vetoed for 1 s, then 2 s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "internal.h"

#define WIN 50000000ull   /* 50 ms */

/* A window moving `rate` wire bytes/s and `gbps` guest data bytes/s, compressed or raw. */
static double window_starved(mig_link *l, double rate, double gbps, bool lz4, unsigned idle, unsigned blocked,
                             unsigned starved) {
  uint64_t data = (uint64_t)(gbps * 0.05 / VM_FRAME_SIZE);
  mig_link_obs o = {.ns = WIN, .wire = (uint64_t)(rate * 0.05), .data_frames = data, .lz4_frames = lz4 ? data : 0,
                    .idle_permille = idle, .blocked_permille = blocked, .starved_permille = starved};
  return mig_link_update(l, &o);
}

static double window(mig_link *l, double rate, double gbps, bool lz4, unsigned idle, unsigned blocked) {
  return window_starved(l, rate, gbps, lz4, idle, blocked, 0);
}

static void test_loopback_never_yields_a_link(void **s) {
  (void)s;
  mig_link l;
  mig_link_init(&l);
  /* Receivers always busy (decrypting, writing pages); senders often waiting for them. */
  for (unsigned k = 0; k < 100; k++) assert_true(window(&l, 1.1e9, 1.1e9, false, k % 7 == 0 ? 250 : 40, 560) == 0);
  /* A loaded host: the two sides take turns, the receivers waiting for data while the senders
   * wait for a CPU; both look waiting, at a steady rate. */
  for (unsigned k = 0; k < 100; k++) assert_true(window_starved(&l, 200e6, 200e6, false, 400, 500, 400) == 0);
}

static void test_a_slow_link_is_believed_after_three_steady_windows(void **s) {
  (void)s;
  mig_link l;
  mig_link_init(&l);
  assert_true(window(&l, 125e6, 125e6, false, 900, 700) == 0);
  assert_true(window(&l, 122e6, 122e6, false, 950, 800) == 0);
  double link = window(&l, 127e6, 127e6, false, 920, 750);
  assert_true(link > 120e6 && link < 130e6);
  /* A CPU-bound window (the receivers could not keep up): raw again. */
  assert_true(window(&l, 125e6, 125e6, false, 20, 700) == 0);
}

static void test_erratic_rates_are_not_believed(void **s) {
  (void)s;
  mig_link l;
  mig_link_init(&l);
  /* Both sides waiting, but the rate jumps window to window: a stall, not a link. */
  const double rates[] = {430e6, 253e6, 191e6, 306e6, 165e6, 502e6, 226e6, 459e6};
  for (unsigned k = 0; k < 8; k++) assert_true(window(&l, rates[k], rates[k], false, 450, 400) == 0);
}

static void test_compression_is_checked_by_raw_probes(void **s) {
  (void)s;
  mig_link l;
  mig_link_init(&l);
  for (unsigned k = 0; k < 3; k++) window(&l, 125e6, 125e6, false, 900, 700);
  assert_true(l.published > 0);
  /* Compressed windows: 220 MB/s of guest data through the 125 MB/s link. */
  unsigned until_probe = 0;
  while (window(&l, 125e6, 220e6, true, 900, 700) > 0) until_probe++;
  assert_int_equal(until_probe, 7);   /* the 8th compressed window starts the probe */
  assert_true(l.probing);
  /* The probe: raw, 125 MB/s of guest data; the first window is the transition, and one in
   * which nothing was encoded says nothing. */
  assert_true(window(&l, 125e6, 200e6, true, 900, 700) == 0);
  assert_true(window(&l, 125e6, 125e6, false, 900, 900) == 0);
  assert_true(window(&l, 0, 0, false, 1000, 900) == 0);
  assert_true(window(&l, 125e6, 125e6, false, 900, 900) == 0);
  assert_true(window(&l, 125e6, 125e6, false, 900, 900) > 0);   /* confirmed: compress again */
  assert_false(l.probing);
  assert_int_equal(l.stretch, 16);
  assert_int_equal(l.vetoes, 0);
}

/* Compressing moves less guest data than the link would raw (LZ4 on a busy CPU is what
 * limits): once the average of 8 windows says so, compression is vetoed for 1 s. A dip of a
 * window or two does not. */
static void test_compression_slower_than_the_link_is_vetoed(void **s) {
  (void)s;
  mig_link l;
  mig_link_init(&l);
  for (unsigned k = 0; k < 3; k++) window(&l, 125e6, 125e6, false, 900, 700);
  assert_true(l.published > 0);
  /* Two dips among good windows: on. */
  assert_true(window(&l, 125e6, 200e6, true, 900, 700) > 0);
  assert_true(window(&l, 60e6, 100e6, true, 600, 100) > 0);
  assert_true(window(&l, 60e6, 100e6, true, 600, 100) > 0);
  for (unsigned k = 0; k < 4; k++) assert_true(window(&l, 125e6, 200e6, true, 900, 700) > 0);
  assert_int_equal(l.vetoes, 0);
  /* LZ4 behind for good: the 8th window's average vetoes it. */
  mig_link_init(&l);
  for (unsigned k = 0; k < 3; k++) window(&l, 125e6, 125e6, false, 900, 700);
  unsigned on = 0;
  while (window(&l, 60e6, 90e6, true, 600, 100) > 0) on++;
  assert_int_equal(on, 7);
  assert_int_equal(l.vetoes, 1);
  for (unsigned k = 0; k < 19; k++) assert_true(window(&l, 125e6, 125e6, false, 900, 700) == 0);
  unsigned back = 0;
  while (window(&l, 125e6, 125e6, false, 900, 700) == 0) back++;
  assert_true(back <= 2);
}

/* A link rate measured wrong (a stall on loopback looked like a 300 MB/s link): compression
 * looks fine window by window, but the probe finds raw far faster: vetoed for 1 s, then 2 s. */
static void test_a_probe_that_finds_raw_faster_vetoes_for_longer_each_time(void **s) {
  (void)s;
  mig_link l;
  mig_link_init(&l);
  for (unsigned k = 0; k < 3; k++) window(&l, 300e6, 300e6, false, 500, 500);
  assert_true(l.published > 0);
  while (window(&l, 250e6, 400e6, true, 500, 500) > 0) {}
  for (unsigned k = 0; k < 4; k++) window(&l, 1000e6, 1000e6, false, 50, 500);
  assert_int_equal(l.vetoes, 1);
  assert_false(l.probing);
  /* Vetoed for 1 s however link-bound the windows look. */
  for (unsigned k = 0; k < 19; k++) assert_true(window(&l, 300e6, 300e6, false, 500, 500) == 0);
  unsigned back = 0;
  while (window(&l, 300e6, 300e6, false, 500, 500) == 0) back++;
  assert_true(back <= 2);
  /* Refuted again: 2 s this time. */
  while (window(&l, 250e6, 400e6, true, 500, 500) > 0) {}
  for (unsigned k = 0; k < 4; k++) window(&l, 1000e6, 1000e6, false, 50, 500);
  assert_int_equal(l.vetoes, 2);
  for (unsigned k = 0; k < 39; k++) assert_true(window(&l, 300e6, 300e6, false, 500, 500) == 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_loopback_never_yields_a_link),
      cmocka_unit_test(test_a_slow_link_is_believed_after_three_steady_windows),
      cmocka_unit_test(test_erratic_rates_are_not_believed),
      cmocka_unit_test(test_compression_is_checked_by_raw_probes),
      cmocka_unit_test(test_compression_slower_than_the_link_is_vetoed),
      cmocka_unit_test(test_a_probe_that_finds_raw_faster_vetoes_for_longer_each_time),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
