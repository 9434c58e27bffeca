/* test_lease_observe.c — sto_lease_observe (HA restart's watch of another host's lease) with
 * fake clocks: a lease watched without being taken counts as expired only after the watcher
 * saw it unchanged for its timeout on its own clock, a renewal restarts the count, a free
 * lease is never expired, and an acquire with the same observer then succeeds at once while
 * one with a fresh observer still has to wait. */
#include "sto_test.h"

#define FREE HPVM__LEASE_STATE__LEASE_STATE_FREE
#define TIMEOUT 10000

typedef struct fixture {
  char *dir;
  fake_clock ca, cb;
  sto_clock ka, kb;
  sto_store *a, *b;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->dir = sto_test_dir();
  f->ca = (fake_clock){5ull * 1000000000u, 1700000000ll * 1000000000};
  f->cb = (fake_clock){987654ull * 1000000000u, 1600000000ll * 1000000000};  /* no clock sync */
  f->ka = fake_clock_of(&f->ca), f->kb = fake_clock_of(&f->cb);
  f->a = sto_test_open(f->dir, "hostA", NULL, &f->ka, false);
  f->b = sto_test_open(f->dir, "hostB", NULL, &f->kb, false);
  mkdir(sto_test_path(f->dir, "vms/web1"), 0755);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  sto_close(f->a), sto_close(f->b);
  sto_test_rmdir(f->dir);
  free(f);
  return 0;
}

static void test_a_watched_lease_expires_after_its_timeout_unchanged_and_can_then_be_taken(void **state) {
  fixture *f = *state;
  sto_observer oa = {0}, watch = {0}, fresh = {0};
  sto_lease la, l;
  bool expired = true;
  /* Free: never expired. */
  assert_int_equal(sto_lease_observe(f->b, "web1", TIMEOUT, &watch, &l, &expired), 0);
  assert_int_equal(l.state, FREE);
  assert_false(expired);
  assert_int_equal(sto_lease_acquire(f->a, "web1", TIMEOUT, 1, &oa, &la), 0);
  assert_int_equal(sto_lease_observe(f->b, "web1", TIMEOUT, &watch, &l, &expired), 0);
  assert_string_equal(l.owner, "hostA");
  assert_false(expired);
  /* A renewal just before the timeout restarts the count. */
  fake_advance_ms(&f->ca, TIMEOUT - 1), fake_advance_ms(&f->cb, TIMEOUT - 1);
  assert_int_equal(sto_lease_renew(f->a, "web1", &la), 0);
  fake_advance_ms(&f->cb, 2);
  assert_int_equal(sto_lease_observe(f->b, "web1", TIMEOUT, &watch, &l, &expired), 0);
  assert_false(expired);
  assert_int_equal(watch.unchanged_ms, 0);
  fake_advance_ms(&f->cb, TIMEOUT - 1);
  assert_int_equal(sto_lease_observe(f->b, "web1", TIMEOUT, &watch, &l, &expired), 0);
  assert_false(expired);
  assert_int_equal(watch.wait_ms, 1);
  fake_advance_ms(&f->cb, 1);
  assert_int_equal(sto_lease_observe(f->b, "web1", TIMEOUT, &watch, &l, &expired), 0);
  assert_true(expired);
  /* Watching took nothing: A still holds it and renews. A fresh observer has to wait. */
  assert_int_equal(sto_lease_read(f->a, "web1", &l), 0);
  assert_string_equal(l.owner, "hostA");
  assert_int_equal(sto_lease_acquire(f->b, "web1", TIMEOUT, 1, &fresh, &l), HPVM_EBUSY);
  /* The watcher's observer takes it at once. */
  assert_int_equal(sto_lease_acquire(f->b, "web1", TIMEOUT, 1, &watch, &l), 0);
  assert_string_equal(l.owner, "hostB");
  assert_string_equal(l.previous_owner, "hostA");
  assert_int_equal(sto_lease_renew(f->a, "web1", &la), HPVM_EBUSY);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_a_watched_lease_expires_after_its_timeout_unchanged_and_can_then_be_taken,
                                    setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
