/* test_lease.c — the lease state machine with fake clocks: acquire a free lease, renew, an
 * observer that takes over only after seeing the lease unchanged for its timeout on its own
 * clock (the hosts' clocks deliberately far apart), handover and adopt with a new
 * generation, stale generations refused, the fence deadline before any takeover, the timing
 * check, and host liveness records. */
#include "sto_test.h"

#define HELD HPVM__LEASE_STATE__LEASE_STATE_HELD
#define FREE HPVM__LEASE_STATE__LEASE_STATE_FREE
#define TIMEOUT 10000

typedef struct fixture {
  char *dir;
  fake_clock ca, cb, cc;             /* each host's clocks, unrelated to each other */
  sto_clock ka, kb, kc;
  sto_store *a, *b, *c;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->dir = sto_test_dir();
  f->ca = (fake_clock){5ull * 1000000000u, 1700000000ll * 1000000000};
  f->cb = (fake_clock){987654ull * 1000000000u, 1600000000ll * 1000000000};  /* no clock sync */
  f->cc = (fake_clock){42, 0};
  f->ka = fake_clock_of(&f->ca), f->kb = fake_clock_of(&f->cb), f->kc = fake_clock_of(&f->cc);
  f->a = sto_test_open(f->dir, "hostA", NULL, &f->ka, false);
  f->b = sto_test_open(f->dir, "hostB", NULL, &f->kb, false);
  f->c = sto_test_open(f->dir, "hostC", NULL, &f->kc, false);
  mkdir(sto_test_path(f->dir, "vms/web1"), 0755);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  sto_close(f->a), sto_close(f->b), sto_close(f->c);
  sto_test_rmdir(f->dir);
  free(f);
  return 0;
}

static void advance_all(fixture *f, uint64_t ms) {
  fake_advance_ms(&f->ca, ms), fake_advance_ms(&f->cb, ms), fake_advance_ms(&f->cc, ms);
}

static void test_a_missing_lease_reads_free_and_is_acquired_at_once(void **state) {
  fixture *f = *state;
  sto_lease l;
  assert_int_equal(sto_lease_read(f->a, "web1", &l), 0);
  assert_int_equal(l.state, FREE);
  assert_int_equal(l.record_gen, 0);
  sto_observer obs = {0};
  assert_int_equal(sto_lease_acquire(f->a, "web1", TIMEOUT, 1, &obs, &l), 0);
  assert_int_equal(l.state, HELD);
  assert_string_equal(l.owner, "hostA");
  assert_int_equal(l.lease_generation, 1);
  assert_int_equal(l.renew_mono_ns, f->ca.mono);
  sto_lease r;
  assert_int_equal(sto_lease_read(f->b, "web1", &r), 0);
  assert_string_equal(r.owner, "hostA");
  assert_int_equal(r.timeout_ms, TIMEOUT);
  /* Acquiring what we already hold (same incarnation) keeps the generation. */
  assert_int_equal(sto_lease_acquire(f->a, "web1", TIMEOUT, 1, &obs, &l), 0);
  assert_int_equal(l.lease_generation, 1);
  /* A restarted hpvmd (new incarnation) re-attaching its guest starts a new epoch. */
  assert_int_equal(sto_lease_acquire(f->a, "web1", TIMEOUT, 2, &obs, &l), 0);
  assert_int_equal(l.lease_generation, 2);
  assert_int_equal(sto_lease_acquire(f->a, "nosuchvm", TIMEOUT, 1, &obs, &l), HPVM_ENOENT);
}

static void test_a_renewed_lease_is_never_taken_over(void **state) {
  fixture *f = *state;
  sto_observer obs = {0};
  sto_lease la, lb;
  assert_int_equal(sto_lease_acquire(f->a, "web1", TIMEOUT, 1, &obs, &la), 0);
  sto_observer ob = {0};
  for (int i = 0; i < 20; i++) {
    assert_int_equal(sto_lease_acquire(f->b, "web1", TIMEOUT, 1, &ob, &lb), HPVM_EBUSY);
    assert_non_null(strstr(sto_error(f->b), "web1 is owned by host hostA"));
    advance_all(f, TIMEOUT / 2);  /* half the timeout between renewals */
    assert_int_equal(sto_lease_renew(f->a, "web1", &la), 0);
  }
  assert_string_equal(la.owner, "hostA");
  assert_int_equal(la.lease_generation, 1);
  assert_int_equal(la.renewals, 21);
}

static void test_an_unrenewed_lease_expires_only_after_the_observer_saw_it_unchanged_for_its_timeout(void **state) {
  fixture *f = *state;
  sto_observer obs = {0};
  sto_lease la, lb;
  assert_int_equal(sto_lease_acquire(f->a, "web1", TIMEOUT, 1, &obs, &la), 0);
  /* hostA stops renewing. hostB only starts watching a while later. */
  fake_advance_ms(&f->cb, 60000);
  sto_observer ob = {0};
  assert_int_equal(sto_lease_acquire(f->b, "web1", TIMEOUT, 7, &ob, &lb), HPVM_EBUSY);
  assert_true(ob.seen);
  assert_int_equal(ob.unchanged_ms, 0);
  assert_int_equal(ob.wait_ms, TIMEOUT);
  fake_advance_ms(&f->cb, TIMEOUT - 1);
  assert_int_equal(sto_lease_acquire(f->b, "web1", TIMEOUT, 7, &ob, &lb), HPVM_EBUSY);
  assert_int_equal(ob.wait_ms, 1);
  fake_advance_ms(&f->cb, 1);
  assert_int_equal(sto_lease_acquire(f->b, "web1", TIMEOUT, 7, &ob, &lb), 0);
  assert_string_equal(lb.owner, "hostB");
  assert_string_equal(lb.previous_owner, "hostA");
  assert_int_equal(lb.lease_generation, 2);
  assert_int_equal(lb.owner_incarnation, 7);
  /* The old owner's renewal fails and tells it who has the guest now. */
  assert_int_equal(sto_lease_renew(f->a, "web1", &la), HPVM_EBUSY);
  assert_non_null(strstr(sto_error(f->a), "no longer this host's (held by hostB, generation 2"));
  assert_string_equal(la.owner, "hostB");
}

static void test_a_renewal_seen_by_the_observer_restarts_its_count(void **state) {
  fixture *f = *state;
  sto_observer obs = {0}, ob = {0};
  sto_lease la, lb;
  assert_int_equal(sto_lease_acquire(f->a, "web1", TIMEOUT, 1, &obs, &la), 0);
  assert_int_equal(sto_lease_acquire(f->b, "web1", TIMEOUT, 1, &ob, &lb), HPVM_EBUSY);
  advance_all(f, TIMEOUT - 100);
  assert_int_equal(sto_lease_renew(f->a, "web1", &la), 0);
  advance_all(f, 200);  /* past the first reading + timeout, but it changed in between */
  assert_int_equal(sto_lease_acquire(f->b, "web1", TIMEOUT, 1, &ob, &lb), HPVM_EBUSY);
  assert_int_equal(ob.unchanged_ms, 0);
  advance_all(f, TIMEOUT);
  assert_int_equal(sto_lease_acquire(f->b, "web1", TIMEOUT, 1, &ob, &lb), 0);
}

static void test_two_observers_racing_for_an_expired_lease_cannot_both_win(void **state) {
  fixture *f = *state;
  sto_observer obs = {0}, ob = {0}, oc = {0};
  sto_lease la, lb, lc;
  assert_int_equal(sto_lease_acquire(f->a, "web1", TIMEOUT, 1, &obs, &la), 0);
  assert_int_equal(sto_lease_acquire(f->b, "web1", TIMEOUT, 1, &ob, &lb), HPVM_EBUSY);
  assert_int_equal(sto_lease_acquire(f->c, "web1", TIMEOUT, 1, &oc, &lc), HPVM_EBUSY);
  advance_all(f, TIMEOUT);
  /* Both have seen it expire; B writes first. C's attempt sees a new record and starts over. */
  assert_int_equal(sto_lease_acquire(f->b, "web1", TIMEOUT, 1, &ob, &lb), 0);
  assert_int_equal(sto_lease_acquire(f->c, "web1", TIMEOUT, 1, &oc, &lc), HPVM_EBUSY);
  assert_non_null(strstr(sto_error(f->c), "owned by host hostB"));
  sto_lease now;
  assert_int_equal(sto_lease_read(f->a, "web1", &now), 0);
  assert_string_equal(now.owner, "hostB");
  assert_int_equal(now.lease_generation, 2);
}

static void test_a_released_lease_is_free_for_anyone_at_once(void **state) {
  fixture *f = *state;
  sto_observer obs = {0}, ob = {0};
  sto_lease la, lb;
  assert_int_equal(sto_lease_acquire(f->a, "web1", TIMEOUT, 1, &obs, &la), 0);
  assert_int_equal(sto_lease_release(f->a, "web1", &la), 0);
  assert_int_equal(la.state, FREE);
  assert_int_equal(sto_lease_acquire(f->b, "web1", TIMEOUT, 1, &ob, &lb), 0);
  assert_int_equal(lb.lease_generation, 2);
  assert_string_equal(lb.previous_owner, "hostA");
  /* A's stale copy can neither renew nor release B's lease. */
  assert_int_equal(sto_lease_release(f->a, "web1", &la), HPVM_EBUSY);
  assert_int_equal(sto_lease_renew(f->a, "web1", &la), HPVM_EBUSY);
}

static void test_handover_names_the_target_with_a_new_generation_that_it_must_adopt(void **state) {
  fixture *f = *state;
  sto_observer obs = {0}, oc = {0};
  sto_lease la, lb, lc;
  assert_int_equal(sto_lease_acquire(f->a, "web1", TIMEOUT, 1, &obs, &la), 0);
  /* The target cannot adopt before the handover. */
  assert_int_equal(sto_lease_adopt(f->b, "web1", 2, 3, &lb), HPVM_EBUSY);
  assert_non_null(strstr(sto_error(f->b), "do not resume the guest"));
  assert_int_equal(sto_lease_handover(f->a, "web1", &la, "hostB"), 0);
  assert_string_equal(la.owner, "hostB");
  assert_int_equal(la.lease_generation, 2);
  /* The source has nothing left: no renewal, no second handover. */
  sto_lease stale = la;
  stale.lease_generation = 1;
  strcpy(stale.owner, "hostA");
  assert_int_equal(sto_lease_renew(f->a, "web1", &stale), HPVM_EBUSY);
  assert_int_equal(sto_lease_handover(f->a, "web1", &la, "hostC"), HPVM_EBUSY);
  /* The target adopts only the generation it was told. */
  assert_int_equal(sto_lease_adopt(f->b, "web1", 1, 3, &lb), HPVM_EBUSY);
  assert_int_equal(sto_lease_adopt(f->b, "web1", 2, 3, &lb), 0);
  assert_string_equal(lb.owner, "hostB");
  assert_int_equal(lb.owner_incarnation, 3);
  assert_int_equal(lb.renew_mono_ns, f->cb.mono);
  assert_int_equal(sto_lease_renew(f->b, "web1", &lb), 0);
  /* A third host still has to wait for expiry. */
  assert_int_equal(sto_lease_acquire(f->c, "web1", TIMEOUT, 1, &oc, &lc), HPVM_EBUSY);
  assert_int_equal(sto_lease_handover(f->b, "web1", &lb, "hostB"), HPVM_EINVAL);
}

static void test_a_target_that_dies_before_adopting_leaves_a_lease_that_expires(void **state) {
  fixture *f = *state;
  sto_observer obs = {0}, oc = {0};
  sto_lease la, lc;
  assert_int_equal(sto_lease_acquire(f->a, "web1", TIMEOUT, 1, &obs, &la), 0);
  assert_int_equal(sto_lease_handover(f->a, "web1", &la, "hostB"), 0);
  assert_int_equal(sto_lease_acquire(f->c, "web1", TIMEOUT, 1, &oc, &lc), HPVM_EBUSY);
  advance_all(f, TIMEOUT);
  assert_int_equal(sto_lease_acquire(f->c, "web1", TIMEOUT, 1, &oc, &lc), 0);
  assert_int_equal(lc.lease_generation, 3);
  assert_string_equal(lc.previous_owner, "hostB");
  /* The late target cannot adopt any more. */
  sto_lease lb;
  assert_int_equal(sto_lease_adopt(f->b, "web1", 2, 1, &lb), HPVM_EBUSY);
}

static void test_the_owner_fences_before_any_observer_can_take_over(void **state) {
  fixture *f = *state;
  const uint32_t renew = 2000, fence = 8000;
  char why[256];
  assert_int_equal(sto_lease_timing_check(renew, fence, TIMEOUT, why, sizeof why), 0);
  sto_observer obs = {0}, ob = {0};
  sto_lease la, lb;
  assert_int_equal(sto_lease_acquire(f->a, "web1", TIMEOUT, 1, &obs, &la), 0);
  /* B reads it right after the write, the earliest any observer can. */
  assert_int_equal(sto_lease_acquire(f->b, "web1", TIMEOUT, 1, &ob, &lb), HPVM_EBUSY);
  uint64_t deadline = sto_lease_fence_deadline(&la, fence);
  uint64_t a_start = f->ca.mono;
  /* Walk both clocks forward together one millisecond at a time: whenever B may take
   * over, A's clock is past its fence deadline. */
  for (;;) {
    advance_all(f, 1);
    if (sto_lease_acquire(f->b, "web1", TIMEOUT, 1, &ob, &lb) == 0) break;
  }
  assert_true(f->ca.mono >= deadline);
  assert_true(f->ca.mono - a_start >= TIMEOUT * 1000000ull);
  assert_true(f->ca.mono - deadline >= (TIMEOUT - fence) * 1000000ull);
}

static void test_timing_check_wants_two_renewals_before_the_fence_and_a_margin_before_expiry(void **state) {
  (void)state;
  char why[512];
  assert_int_equal(sto_lease_timing_check(2000, 8000, 10000, why, sizeof why), 0);
  assert_int_equal(sto_lease_timing_check(0, 8000, 10000, why, sizeof why), HPVM_EINVAL);
  assert_int_equal(sto_lease_timing_check(5000, 8000, 10000, why, sizeof why), HPVM_EINVAL);
  assert_non_null(strstr(why, "fewer than two renewals"));
  assert_int_equal(sto_lease_timing_check(2000, 10000, 10000, why, sizeof why), HPVM_EINVAL);
  assert_non_null(strstr(why, "must be at least 1000 ms below the lease timeout"));
  assert_int_equal(sto_lease_timing_check(2000, 9500, 10000, why, sizeof why), HPVM_EINVAL);
  assert_int_equal(sto_lease_timing_check(100, 300, 400, why, sizeof why), 0);  /* fast test settings */
}

static void test_host_liveness_alive_dead_left_and_unknown(void **state) {
  fixture *f = *state;
  sto_liveness la, seen;
  assert_int_equal(sto_liveness_start(f->a, TIMEOUT, "10.0.0.1:7001", &la), 0);
  assert_int_equal(la.incarnation, 1);
  assert_string_equal(la.address, "10.0.0.1:7001");
  sto_observer ob = {0};
  int st;
  assert_int_equal(sto_host_observe(f->b, "hostA", &ob, &seen, &st), 0);
  assert_int_equal(st, STO_HOST_ALIVE);
  assert_int_equal(seen.incarnation, 1);
  for (int i = 0; i < 5; i++) {
    advance_all(f, TIMEOUT - 1);
    assert_int_equal(sto_liveness_renew(f->a, &la), 0);
    assert_int_equal(sto_host_observe(f->b, "hostA", &ob, &seen, &st), 0);
    assert_int_equal(st, STO_HOST_ALIVE);
  }
  advance_all(f, TIMEOUT - 1);
  assert_int_equal(sto_host_observe(f->b, "hostA", &ob, &seen, &st), 0);
  assert_int_equal(st, STO_HOST_ALIVE);
  advance_all(f, 1);
  assert_int_equal(sto_host_observe(f->b, "hostA", &ob, &seen, &st), 0);
  assert_int_equal(st, STO_HOST_DEAD);
  assert_string_equal(sto_host_status_name(st), "dead");
  /* It comes back (a restart: new incarnation) and is alive again. */
  assert_int_equal(sto_liveness_start(f->a, TIMEOUT, "10.0.0.1:7001", &la), 0);
  assert_int_equal(la.incarnation, 2);
  assert_int_equal(sto_host_observe(f->b, "hostA", &ob, &seen, &st), 0);
  assert_int_equal(st, STO_HOST_ALIVE);
  assert_int_equal(sto_liveness_leave(f->a, &la), 0);
  assert_int_equal(sto_host_observe(f->b, "hostA", &ob, &seen, &st), 0);
  assert_int_equal(st, STO_HOST_LEFT);
  sto_observer oc = {0};
  assert_int_equal(sto_host_observe(f->b, "hostZ", &oc, &seen, &st), 0);
  assert_int_equal(st, STO_HOST_UNKNOWN);
}

static void test_a_second_hpvmd_with_the_same_host_name_is_detected(void **state) {
  fixture *f = *state;
  sto_store *twin = sto_test_open(f->dir, "hostA", NULL, &f->ka, false);
  sto_liveness l1, l2;
  assert_int_equal(sto_liveness_start(f->a, TIMEOUT, "", &l1), 0);
  assert_int_equal(sto_liveness_start(twin, TIMEOUT, "", &l2), 0);
  assert_int_equal(sto_liveness_renew(f->a, &l1), HPVM_EBUSY);
  assert_non_null(strstr(sto_error(f->a), "is another hpvmd running with the host name hostA"));
  sto_close(twin);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_a_missing_lease_reads_free_and_is_acquired_at_once, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_renewed_lease_is_never_taken_over, setup, teardown),
    cmocka_unit_test_setup_teardown(test_an_unrenewed_lease_expires_only_after_the_observer_saw_it_unchanged_for_its_timeout, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_renewal_seen_by_the_observer_restarts_its_count, setup, teardown),
    cmocka_unit_test_setup_teardown(test_two_observers_racing_for_an_expired_lease_cannot_both_win, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_released_lease_is_free_for_anyone_at_once, setup, teardown),
    cmocka_unit_test_setup_teardown(test_handover_names_the_target_with_a_new_generation_that_it_must_adopt, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_target_that_dies_before_adopting_leaves_a_lease_that_expires, setup, teardown),
    cmocka_unit_test_setup_teardown(test_the_owner_fences_before_any_observer_can_take_over, setup, teardown),
    cmocka_unit_test_setup_teardown(test_timing_check_wants_two_renewals_before_the_fence_and_a_margin_before_expiry, setup, teardown),
    cmocka_unit_test_setup_teardown(test_host_liveness_alive_dead_left_and_unknown, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_second_hpvmd_with_the_same_host_name_is_detected, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
