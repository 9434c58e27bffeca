/* test_lease_note.c — a lease renewal that leaves a note for other hosts
 * (sto_lease_renew_note): what a live migration's source writes ("migrate-aborted <id>")
 * before it resumes a guest whose target may hold its complete state. The note is read by
 * any host, survives the owner's later renewals and re-acquisition (an hpvmd restarted on the
 * same host), goes when the lease changes hands, is refused from a host that does not own
 * the lease, and counts as a renewal (an observer's expiry count starts again). */
#include "sto_test.h"

#define HELD HPVM__LEASE_STATE__LEASE_STATE_HELD
#define FREE HPVM__LEASE_STATE__LEASE_STATE_FREE
#define TIMEOUT 10000
#define NOTE "migrate-aborted 0123456789abcdef0123456789abcdef"

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
  f->cb = (fake_clock){987654ull * 1000000000u, 1600000000ll * 1000000000};
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

static void advance_all(fixture *f, uint64_t ms) {
  fake_advance_ms(&f->ca, ms), fake_advance_ms(&f->cb, ms);
}

static void test_another_host_reads_the_note_and_the_owner_keeps_it_across_renewals(void **state) {
  fixture *f = *state;
  sto_observer obs = {0};
  sto_lease la, lb;
  assert_int_equal(sto_lease_acquire(f->a, "web1", TIMEOUT, 1, &obs, &la), 0);
  assert_string_equal(la.note, "");
  uint64_t gen = la.lease_generation, rec = la.record_gen;
  assert_int_equal(sto_lease_renew_note(f->a, "web1", &la, NOTE), 0);
  /* A renewal: same owner and ownership epoch, a new record. */
  assert_string_equal(la.note, NOTE);
  assert_int_equal(la.lease_generation, gen);
  assert_true(la.record_gen > rec);
  assert_int_equal(sto_lease_read(f->b, "web1", &lb), 0);
  assert_int_equal(lb.state, HELD);
  assert_string_equal(lb.owner, "hostA");
  assert_string_equal(lb.note, NOTE);
  /* Plain renewals and a re-acquisition by a restarted owner keep it. */
  assert_int_equal(sto_lease_renew(f->a, "web1", &la), 0);
  assert_int_equal(sto_lease_acquire(f->a, "web1", TIMEOUT, 2, &obs, &la), 0);
  assert_int_equal(sto_lease_read(f->b, "web1", &lb), 0);
  assert_string_equal(lb.note, NOTE);
  /* "" removes it. */
  assert_int_equal(sto_lease_renew_note(f->a, "web1", &la, ""), 0);
  assert_int_equal(sto_lease_read(f->b, "web1", &lb), 0);
  assert_string_equal(lb.note, "");
}

static void test_the_note_goes_when_the_lease_changes_hands(void **state) {
  fixture *f = *state;
  sto_observer obs = {0};
  sto_lease la, lb;
  /* Handover: the target never sees the source's note. */
  assert_int_equal(sto_lease_acquire(f->a, "web1", TIMEOUT, 1, &obs, &la), 0);
  assert_int_equal(sto_lease_renew_note(f->a, "web1", &la, NOTE), 0);
  assert_int_equal(sto_lease_handover(f->a, "web1", &la, "hostB"), 0);
  assert_int_equal(sto_lease_read(f->b, "web1", &lb), 0);
  assert_string_equal(lb.note, "");
  assert_int_equal(sto_lease_adopt(f->b, "web1", la.lease_generation, 1, &lb), 0);
  /* Release. */
  assert_int_equal(sto_lease_renew_note(f->b, "web1", &lb, NOTE), 0);
  assert_int_equal(sto_lease_release(f->b, "web1", &lb), 0);
  assert_int_equal(sto_lease_read(f->a, "web1", &la), 0);
  assert_int_equal(la.state, FREE);
  assert_string_equal(la.note, "");
  /* Takeover of an expired lease. */
  assert_int_equal(sto_lease_acquire(f->a, "web1", TIMEOUT, 1, &obs, &la), 0);
  assert_int_equal(sto_lease_renew_note(f->a, "web1", &la, NOTE), 0);
  sto_observer ob = {0};
  assert_int_equal(sto_lease_acquire(f->b, "web1", TIMEOUT, 1, &ob, &lb), HPVM_EBUSY);
  advance_all(f, TIMEOUT);
  assert_int_equal(sto_lease_acquire(f->b, "web1", TIMEOUT, 1, &ob, &lb), 0);
  assert_string_equal(lb.owner, "hostB");
  assert_string_equal(lb.note, "");
}

static void test_only_the_owner_writes_a_note_and_it_restarts_an_observers_count(void **state) {
  fixture *f = *state;
  sto_observer obs = {0}, ob = {0};
  sto_lease la, lb;
  assert_int_equal(sto_lease_acquire(f->a, "web1", TIMEOUT, 1, &obs, &la), 0);
  assert_int_equal(sto_lease_acquire(f->b, "web1", TIMEOUT, 1, &ob, &lb), HPVM_EBUSY);
  /* A host that does not own it cannot leave a note in its name. */
  sto_lease fake = la;
  strcpy(fake.owner, "hostB");
  assert_int_equal(sto_lease_renew_note(f->b, "web1", &fake, NOTE), HPVM_EBUSY);
  assert_non_null(strstr(sto_error(f->b), "no longer this host's"));
  /* Nearly expired on B's clock; the note is a renewal, so B starts counting again. */
  advance_all(f, TIMEOUT - 1);
  assert_int_equal(sto_lease_renew_note(f->a, "web1", &la, NOTE), 0);
  advance_all(f, 2);
  assert_int_equal(sto_lease_acquire(f->b, "web1", TIMEOUT, 1, &ob, &lb), HPVM_EBUSY);
  assert_string_equal(lb.note, NOTE);
  /* Too long a note is refused and changes nothing. */
  char big[STO_LEASE_NOTE_MAX + 1];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  assert_int_equal(sto_lease_renew_note(f->a, "web1", &la, big), HPVM_EINVAL);
  assert_int_equal(sto_lease_read(f->b, "web1", &lb), 0);
  assert_string_equal(lb.note, NOTE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_another_host_reads_the_note_and_the_owner_keeps_it_across_renewals, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_the_note_goes_when_the_lease_changes_hands, setup, teardown),
    cmocka_unit_test_setup_teardown(test_only_the_owner_writes_a_note_and_it_restarts_an_observers_count, setup,
                                    teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
