/* test_live_fence.c — self-fencing and hpvmd deaths during a live migration, two real hpvmd
 * hosts on loopback with a 3 s lease timeout (renewed every 0.5 s, fence at 2 s), hpvmk
 * running memverify + heartbeat + diskverify on a shared disk, faults from HPVM_TEST_FAULT:
 *
 *   - a running guest whose lease cannot be renewed (hpvmd-lease-renew:fail) is powered off
 *     before the lease can expire: when a third host would count it as expired, no hpvmapp
 *     runs it; the lease is left held (not released), and hpvmstart on the other host takes
 *     it over once it expired (the first attempt is refused with how long is left)
 *   - the same for a guest paused in the middle of a migration out, frozen in its handoff
 *     (hpvmd-lease-renew-migrating:fail, app-src-acked:sleep): it is fenced, does not resume,
 *     and the target, holding the acknowledged state, takes the expired lease over and runs it
 *   - the target of a migration, once it adopted the lease, fences the same way
 *   - a guest whose hpvmd is gone (kill -9, not restarted): its hpvmapp powers it off by
 *     itself at the fence deadline hpvmd last gave it, before a third host sees the lease
 *     expire
 *   - kill -9 of the target's hpvmd in the copy phase (held there by app-src-copy:sleep), a
 *     new hpvmd a moment later: it re-attaches to hpvmapp --incoming, adopts the lease at
 *     COMMIT, and the guest runs on the target
 *   - kill -9 of the source's hpvmd in the copy phase, a new hpvmd a moment later: it
 *     completes no migration it did not start, the abort is noted in the lease, the guest
 *     runs on at the source
 *
 * Each ends with every workload PASS at a graceful stop where the guest runs (or, fenced,
 * after a start elsewhere) and no FAIL on either host. */
#include "live_test.h"

#define VM "fence"
#define WORK "memverify size=16M heartbeat diskverify blocks=32 passes=0"
#define A 0
#define B 1

static int setup(void **state) {
  two *t = two_new();
  for (unsigned i = 0; i < 2; i++) snprintf(t->h[i].lease_timeout, sizeof t->h[i].lease_timeout, "3");
  *state = t;
  return 0;
}

static void start_guest(two *t, unsigned where) {
  char msg[1200];
  ht_env *e = &t->h[where];
  size_t mark = console_len(e, VM);
  if (create_vm(&t->h[A], VM, 64ull << 20, 2, WORK, t->disk, msg, sizeof msg) && !strstr(msg, "exist"))
    fail_msg("create: %s", msg);
  int rc = ht_start(e, VM, msg, sizeof msg);
  if (rc) fprintf(stderr, "start on %s: %s\n", e->name, msg);
  assert_int_equal(rc, 0);
  assert_true(console_wait(e, VM, mark, "memverify: cpu", 20000));
}

static void assert_settles_on(two *t, unsigned where, int timeout_ms) {
  uint64_t end = ht_ms() + (uint64_t)timeout_ms;
  unsigned n = 0;
  int st = 0;
  sto_lease l = {0};
  for (;;) {
    n = apps_of(t, VM, NULL);
    st = ht_state(&t->h[where], VM, NULL, NULL, 0);
    if (n == 1 && st == ON && lease_of(t, VM, &l) == 0 && !strcmp(l.owner, t->h[where].name) &&
        ht_state(&t->h[!where], VM, NULL, NULL, 0) != ON)
      return;
    if (ht_ms() > end) break;
    usleep(20000);
  }
  dump(t);
  fail_msg("%s did not settle on %s: %u hpvmapps, state there %d, lease owner '%s'", VM, t->h[where].name, n, st,
           l.owner);
}

static void assert_passes(two *t, unsigned where) {
  ht_env *e = &t->h[where];
  char msg[1200];
  size_t mark = console_len(e, VM);
  assert_true(console_wait(e, VM, mark, "HB ", 5000));
  assert_int_equal(ht_stop(e, VM, HPVM__STOP_MODE__STOP_MODE_GRACEFUL, 30000, msg, sizeof msg), 0);
  assert_true(console_wait(e, VM, mark, "PASS shutdown", 5000));
  char *c = console_of(e, VM);
  assert_non_null(strstr(c + mark, "PASS memverify"));
  assert_non_null(strstr(c + mark, "PASS heartbeat"));
  assert_non_null(strstr(c + mark, "PASS diskverify"));
  free(c);
  for (unsigned h = 0; h < 2; h++) {
    c = console_of(&t->h[h], VM);
    if (strstr(c, "FAIL")) fprintf(stderr, "%s: %s", t->h[h].name, strstr(c, "FAIL"));
    assert_null(strstr(c, "FAIL"));
    free(c);
  }
}

/* Host `where` powered the guest off for want of a renewal, and left its lease held. */
static void assert_fenced(two *t, unsigned where) {
  char reason[1200] = "";
  uint64_t end = ht_ms() + 10000;
  while (ht_ms() < end && !strstr(reason, "self-fencing")) {
    ht_state(&t->h[where], VM, NULL, reason, sizeof reason);
    usleep(20000);
  }
  if (!strstr(reason, "self-fencing")) dump(t);
  assert_non_null(strstr(reason, "powered off before it can expire (self-fencing)"));
}

/* As a third host sees it: by the time the lease counts as expired, nothing runs the guest. */
static void assert_gone_before_expiry(two *t) {
  assert_true(lease_expires(t, VM, 15000));
  assert_int_equal(apps_of(t, VM, NULL), 0);
}

static pid_t migrate_bg(two *t, unsigned from, char *file, size_t len) {
  snprintf(file, len, "%s/migrate-%llu.out", t->dir, (unsigned long long)ht_ms());
  char *argv[] = {"hpvmmigrate", "-P", VM, "-h", t->h[!from].name, "-o", "-v", NULL};
  return spawn_cmd(&t->h[from], file, argv);
}

static out finish_bg(pid_t pid, const char *file) {
  out o = wait_cmd(pid, file);
  printf("hpvmmigrate exited %d:\n%s", o.status, o.text);
  return o;
}

/* ---- Cases ------------------------------------------------------------------------------------ */

static void test_a_guest_whose_lease_cannot_be_renewed_stops_before_it_expires(void **state) {
  two *t = *state;
  host_start(t, A, "hpvmd-lease-renew:fail");
  host_start(t, B, NULL);
  start_guest(t, A);
  assert_fenced(t, A);
  sto_lease l;
  assert_int_equal(lease_of(t, VM, &l), 0);
  assert_int_equal(l.state, HPVM__LEASE_STATE__LEASE_STATE_HELD);   /* not released: it expires */
  assert_string_equal(l.owner, "hosta");
  /* hostb may start it only once the lease expired on its own clock. */
  char msg[1200];
  assert_int_equal(ht_start(&t->h[B], VM, msg, sizeof msg), HPVM_EBUSY);
  assert_non_null(strstr(msg, "counts as expired after 3000 ms"));
  assert_gone_before_expiry(t);
  start_guest(t, B);
  assert_settles_on(t, B, 5000);
  assert_passes(t, B);
}

static void test_a_guest_paused_in_a_migration_fences_and_the_target_takes_it_over(void **state) {
  two *t = *state;
  /* hosta's renewals fail from the start of the migration; its guest is frozen 4 s in the
   * handoff: it is fenced meanwhile and must never resume. */
  host_start(t, A, "hpvmd-lease-renew-migrating:fail,app-src-acked:sleep4000");
  host_start(t, B, NULL);
  start_guest(t, A);
  char file[400];
  pid_t mig = migrate_bg(t, A, file, sizeof file);
  assert_fenced(t, A);
  out o = finish_bg(mig, file);
  assert_int_equal(o.status, 1);
  out_free(&o);
  /* hostb held the acknowledged state; the lease expired: it took it over. */
  assert_settles_on(t, B, 20000);
  char path[600];
  snprintf(path, sizeof path, "%s/vms/%s/app.log", t->h[A].state, VM);
  char *log = ht_read_file(path);
  assert_non_null(log);
  assert_null(strstr(log, "the guest runs on here"));   /* it never resumed at the source */
  free(log);
  assert_passes(t, B);
}

static void test_a_migration_target_fences_once_it_adopted_the_lease(void **state) {
  two *t = *state;
  host_start(t, A, NULL);
  host_start(t, B, "hpvmd-lease-renew:fail");
  start_guest(t, A);
  out o = migrate_cmd(t, &t->h[A], "-P", VM, "-h", "hostb", "-o", (char *)NULL);
  printf("%s", o.text);
  assert_int_equal(o.status, 0);
  out_free(&o);
  assert_fenced(t, B);
  sto_lease l;
  assert_int_equal(lease_of(t, VM, &l), 0);
  assert_string_equal(l.owner, "hostb");
  assert_gone_before_expiry(t);
}

static void test_a_guest_without_its_hpvmd_stops_itself_before_the_lease_expires(void **state) {
  two *t = *state;
  host_start(t, A, NULL);
  host_start(t, B, NULL);
  start_guest(t, A);
  ht_hpvmd_stop(&t->h[A], SIGKILL);
  assert_gone_before_expiry(t);
  char path[600];
  snprintf(path, sizeof path, "%s/vms/%s/app.log", t->h[A].state, VM);
  char *log = ht_read_file(path);
  assert_non_null(log);
  assert_non_null(strstr(log, "hpvmd did not renew the guest's lease in time"));
  free(log);
  /* The next hpvmd finds how it ended; hostb takes the expired lease over at its start. */
  host_start(t, A, NULL);
  char reason[600] = "";
  assert_true(ht_wait_state(&t->h[A], VM, OFF, 5000));
  ht_state(&t->h[A], VM, NULL, reason, sizeof reason);
  assert_non_null(strstr(reason, "self-fencing"));
  char msg[1200];
  if (ht_start(&t->h[B], VM, msg, sizeof msg)) {   /* hostb's first look at the lease: wait for its expiry */
    assert_non_null(strstr(msg, "counts as expired after 3000 ms"));
    usleep(3100000);
  }
  start_guest(t, B);
  assert_settles_on(t, B, 5000);
  assert_passes(t, B);
}

/* Hold the source at the start of its copy phase (the fault point), then kill -9 hpvmd `who`
 * and start a new one. */
static void kill_hpvmd_in_copy(two *t, unsigned who, out *result) {
  char file[400], reason[600] = "";
  pid_t mig = migrate_bg(t, A, file, sizeof file);
  uint64_t end = ht_ms() + 20000;
  while (ht_ms() < end && !strstr(reason, "copy round 0")) {
    ht_state(&t->h[A], VM, NULL, reason, sizeof reason);
    usleep(10000);
  }
  assert_non_null(strstr(reason, "copy round 0"));
  ht_hpvmd_stop(&t->h[who], SIGKILL);
  usleep(300000);
  host_start(t, who, NULL);
  *result = finish_bg(mig, file);
}

static void test_target_hpvmd_killed_in_the_copy_phase(void **state) {
  two *t = *state;
  host_start(t, A, "app-src-copy:sleep2000");
  host_start(t, B, NULL);
  start_guest(t, A);
  out o;
  kill_hpvmd_in_copy(t, B, &o);
  assert_int_equal(o.status, 0);   /* the new hpvmd adopted the lease for hpvmapp --incoming */
  out_free(&o);
  assert_settles_on(t, B, 10000);
  assert_passes(t, B);
}

static void test_source_hpvmd_killed_in_the_copy_phase(void **state) {
  two *t = *state;
  host_start(t, A, "app-src-copy:sleep2000");
  host_start(t, B, NULL);
  start_guest(t, A);
  out o;
  kill_hpvmd_in_copy(t, A, &o);
  assert_int_equal(o.status, 1);
  out_free(&o);
  assert_settles_on(t, A, 15000);
  sto_lease l;
  assert_int_equal(lease_of(t, VM, &l), 0);
  assert_non_null(strstr(l.note, "migrate-aborted "));
  assert_passes(t, A);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_a_guest_whose_lease_cannot_be_renewed_stops_before_it_expires, setup,
                                    two_teardown),
    cmocka_unit_test_setup_teardown(test_a_guest_paused_in_a_migration_fences_and_the_target_takes_it_over, setup,
                                    two_teardown),
    cmocka_unit_test_setup_teardown(test_a_migration_target_fences_once_it_adopted_the_lease, setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_a_guest_without_its_hpvmd_stops_itself_before_the_lease_expires, setup,
                                    two_teardown),
    cmocka_unit_test_setup_teardown(test_target_hpvmd_killed_in_the_copy_phase, setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_source_hpvmd_killed_in_the_copy_phase, setup, two_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
