/* test_live_fault.c — the ownership handoff under faults at the precise points only a hook
 * can hit (HPVM_TEST_FAULT, include/hpvm_testfault.h), two real hpvmd hosts on loopback with
 * a 3 s lease timeout, hpvmk running memverify + heartbeat + diskverify on a shared disk:
 *
 *   fault (point)                                              ends
 *   source hpvmapp dies after STATE_ACK, before the handover   nowhere: the lease is free,
 *     (app-src-acked:exit)                                     hpvmstart on the target works
 *   source hpvmapp dies after the handover, before COMMIT      on the target (the lease says)
 *     (app-src-handed-over:exit)
 *   target hpvmapp dies right after its STATE_ACK              on the source
 *     (app-dst-acked:exit; the source waits at its handoff phase)
 *   source hpvmd dies when asked to hand over, restarted       on the source (aborted, noted)
 *     (hpvmd-src-handoff:exit)
 *   source hpvmd dies after the handover write, restarted      on the target
 *     (hpvmd-src-handed-over:exit)
 *   source host gone in the frozen phase (its hpvmd dies when  on the target, which takes the
 *     asked to hand over and stays dead)                       expired lease over; the source's
 *                                                              frozen hpvmapp stops itself
 *   --cancel held in the quiesce and in the frozen phase       on the source (frozen: the abort
 *     (app-src-quiesce / app-src-frozen:sleep)                 is noted in the lease)
 *
 * Each case ends with the guest on exactly one host (or, when its only copy died before the
 * handover, on none), one hpvmapp at most, the lease naming where it runs, and a graceful stop
 * there with memverify, heartbeat and diskverify PASS and no FAIL on either host. kill -9 of
 * hpvmds during the copy and self-fencing are in test_live_fence.c; the same faults over a
 * veth link and link cuts are tests/netns/test_netns_fault.c. */
#include "live_test.h"

#define VM "fault"
#define WORK "memverify size=16M heartbeat diskverify blocks=32 passes=0"
#define A 0
#define B 1

static int setup(void **state) {
  two *t = two_new();
  for (unsigned i = 0; i < 2; i++) snprintf(t->h[i].lease_timeout, sizeof t->h[i].lease_timeout, "3");
  *state = t;
  return 0;
}

/* ---- Helpers ---------------------------------------------------------------------------------- */

static void start_hosts(two *t, const char *fault_a, const char *fault_b) {
  host_start(t, A, fault_a);
  host_start(t, B, fault_b);
}

static void start_guest(two *t, unsigned where) {
  char msg[1200];
  ht_env *e = &t->h[where];
  size_t mark = console_len(e, VM);
  assert_int_equal(create_vm(&t->h[A], VM, 64ull << 20, 2, WORK, t->disk, msg, sizeof msg), 0);
  int rc = ht_start(e, VM, msg, sizeof msg);
  if (rc) fprintf(stderr, "start on %s: %s\n", e->name, msg);
  assert_int_equal(rc, 0);
  assert_true(console_wait(e, VM, mark, "memverify: cpu", 20000));
}

/* hpvmmigrate -P VM -h <other> -o from host `from` in the background; its output in *file. */
static pid_t migrate_bg(two *t, unsigned from, char *file, size_t len, const char *extra) {
  snprintf(file, len, "%s/migrate-%llu.out", t->dir, (unsigned long long)ht_ms());
  char *argv[] = {"hpvmmigrate", "-P", VM, "-h", t->h[!from].name, "-o", "-v", (char *)extra, NULL};
  return spawn_cmd(&t->h[from], file, argv);
}

/* The guest runs on host `where` only: one hpvmapp, On there under a lease naming it, not On
 * on the other host. Waits up to timeout_ms for it to settle. */
static void assert_settles_on(two *t, unsigned where, int timeout_ms) {
  uint64_t end = ht_ms() + (uint64_t)timeout_ms;
  unsigned n = 0;
  int st = 0, other = 0;
  sto_lease l = {0};
  for (;;) {
    n = apps_of(t, VM, NULL);
    st = ht_state(&t->h[where], VM, NULL, NULL, 0);
    other = t->h[!where].hpvmd ? ht_state(&t->h[!where], VM, NULL, NULL, 0) : -1;
    if (n == 1 && st == ON && other != ON && lease_of(t, VM, &l) == 0 && !strcmp(l.owner, t->h[where].name)) return;
    if (ht_ms() > end) break;
    usleep(20000);
  }
  dump(t);
  fail_msg("%s did not settle on %s: %u hpvmapps, state there %d, on the other host %d, lease owner '%s'", VM,
           t->h[where].name, n, st, other, l.owner);
}

/* No hpvmapp runs the guest, and none starts for a while. */
static void assert_runs_nowhere(two *t) {
  uint64_t end = ht_ms() + 10000;
  while (apps_of(t, VM, NULL) && ht_ms() < end) usleep(20000);
  for (int i = 0; i < 25; i++) {
    if (apps_of(t, VM, NULL)) {
      dump(t);
      fail_msg("%s runs again", VM);
    }
    usleep(20000);
  }
}

static bool any_fail(two *t) {
  bool bad = false;
  for (unsigned h = 0; h < 2; h++) {
    char *c = console_of(&t->h[h], VM);
    if (strstr(c, "FAIL")) fprintf(stderr, "%s: %s", t->h[h].name, strstr(c, "FAIL")), bad = true;
    free(c);
  }
  return bad;
}

/* A graceful stop on `where`: every workload passes, nothing failed anywhere. */
static void assert_passes(two *t, unsigned where) {
  ht_env *e = &t->h[where];
  char msg[1200];
  size_t mark = console_len(e, VM);
  assert_true(console_wait(e, VM, mark, "HB ", 5000));   /* it runs: new beats */
  assert_int_equal(ht_stop(e, VM, HPVM__STOP_MODE__STOP_MODE_GRACEFUL, 30000, msg, sizeof msg), 0);
  assert_true(console_wait(e, VM, mark, "PASS shutdown", 5000));
  char *c = console_of(e, VM);
  assert_non_null(strstr(c + mark, "PASS memverify"));
  assert_non_null(strstr(c + mark, "PASS heartbeat"));
  assert_non_null(strstr(c + mark, "PASS diskverify"));
  free(c);
  assert_false(any_fail(t));
}

/* The guest booted once: the console of both hosts together shows one kernel banner. */
static unsigned boots(two *t) {
  unsigned n = 0;
  for (unsigned h = 0; h < 2; h++) {
    char *c = console_of(&t->h[h], VM);
    for (const char *p = c; (p = strstr(p, "hpvmk: IA-64 guest kernel:")); p++) n++;
    free(c);
  }
  return n;
}

static out finish_bg(pid_t pid, const char *file) {
  out o = wait_cmd(pid, file);
  printf("hpvmmigrate exited %d:\n%s", o.status, o.text);
  return o;
}

/* ---- Cases ------------------------------------------------------------------------------------ */

static void test_source_app_dies_after_the_ack_before_the_handover(void **state) {
  two *t = *state;
  start_hosts(t, "app-src-acked:exit", NULL);
  start_guest(t, A);
  out o = migrate_cmd(t, &t->h[A], "-P", VM, "-h", "hostb", "-o", (char *)NULL);
  printf("%s", o.text);
  assert_int_equal(o.status, 1);
  out_free(&o);
  /* The only running copy died before the lease moved: the target discarded what it held,
   * the source's hpvmd released the lease as for any run that ends. */
  assert_runs_nowhere(t);
  sto_lease l;
  assert_int_equal(lease_of(t, VM, &l), 0);
  assert_int_equal(l.state, HPVM__LEASE_STATE__LEASE_STATE_FREE);
  assert_true(ht_wait_state(&t->h[B], VM, OFF, 5000));
  char msg[1200];
  assert_int_equal(ht_state(&t->h[A], VM, NULL, msg, sizeof msg), HPVM__VM_RUN_STATE__VM_RUN_STATE_CRASH);
  /* Either host may start it again: here the target. */
  size_t mark = console_len(&t->h[B], VM);
  assert_int_equal(ht_start(&t->h[B], VM, msg, sizeof msg), 0);
  assert_true(console_wait(&t->h[B], VM, mark, "memverify: cpu", 20000));
  assert_settles_on(t, B, 5000);
  assert_passes(t, B);
  assert_int_equal(boots(t), 2);
}

static void test_source_app_dies_after_the_handover_before_commit(void **state) {
  two *t = *state;
  start_hosts(t, "app-src-handed-over:exit", NULL);
  start_guest(t, A);
  out o = migrate_cmd(t, &t->h[A], "-P", VM, "-h", "hostb", "-o", (char *)NULL);
  printf("%s", o.text);
  out_free(&o);
  /* The lease named hostb before COMMIT could go: hostb resumes from the lease. */
  assert_settles_on(t, B, 10000);
  char reason[600];
  assert_true(ht_wait_state(&t->h[A], VM, ELSEWHERE, 5000));
  ht_state(&t->h[A], VM, NULL, reason, sizeof reason);
  assert_string_equal(reason, "migrated to host hostb");
  assert_passes(t, B);
  assert_int_equal(boots(t), 1);
}

static void test_target_app_dies_right_after_its_ack(void **state) {
  two *t = *state;
  /* The source waits a moment at its handoff phase, so the target's end reaches it first. */
  start_hosts(t, "app-src-handoff-phase:sleep300", "app-dst-acked:exit");
  start_guest(t, A);
  out o = migrate_cmd(t, &t->h[A], "-P", VM, "-h", "hostb", "-o", (char *)NULL);
  printf("%s", o.text);
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "went away after it acknowledged the state"));
  out_free(&o);
  assert_settles_on(t, A, 5000);
  /* The abort is in the lease: a target that could not hear the source would have discarded. */
  sto_lease l;
  assert_int_equal(lease_of(t, VM, &l), 0);
  assert_non_null(strstr(l.note, "migrate-aborted "));
  assert_passes(t, A);
  assert_int_equal(boots(t), 1);
}

static void test_source_hpvmd_dies_when_asked_to_hand_over_and_restarts(void **state) {
  two *t = *state;
  start_hosts(t, "hpvmd-src-handoff:exit", NULL);
  start_guest(t, A);
  char file[400];
  pid_t mig = migrate_bg(t, A, file, sizeof file, NULL);
  uint64_t end = ht_ms() + 20000;
  while (!hpvmd_exited(t, A) && ht_ms() < end) usleep(5000);
  assert_int_equal(t->h[A].hpvmd, 0);
  host_start(t, A, NULL);   /* as systemd would; it re-attaches to the frozen hpvmapp */
  out o = finish_bg(mig, file);
  assert_int_equal(o.status, 1);
  out_free(&o);
  /* The new hpvmd completes no migration it did not start: aborted, noted, resumed here. */
  assert_settles_on(t, A, 10000);
  sto_lease l;
  assert_int_equal(lease_of(t, VM, &l), 0);
  assert_non_null(strstr(l.note, "migrate-aborted "));
  assert_true(ht_wait_state(&t->h[B], VM, ELSEWHERE, 5000));
  assert_passes(t, A);
  assert_int_equal(boots(t), 1);
}

static void test_source_hpvmd_dies_after_the_handover_write_and_restarts(void **state) {
  two *t = *state;
  start_hosts(t, "hpvmd-src-handed-over:exit", NULL);
  start_guest(t, A);
  char file[400];
  pid_t mig = migrate_bg(t, A, file, sizeof file, NULL);
  uint64_t end = ht_ms() + 20000;
  while (!hpvmd_exited(t, A) && ht_ms() < end) usleep(5000);
  assert_int_equal(t->h[A].hpvmd, 0);
  host_start(t, A, NULL);
  out o = finish_bg(mig, file);
  out_free(&o);
  /* The lease names hostb: the guest is hostb's, whoever tells it. */
  assert_settles_on(t, B, 10000);
  assert_passes(t, B);
  assert_int_equal(boots(t), 1);
}

static void test_source_host_gone_in_the_frozen_phase(void **state) {
  two *t = *state;
  start_hosts(t, "hpvmd-src-handoff:exit", NULL);
  start_guest(t, A);
  char file[400];
  pid_t mig = migrate_bg(t, A, file, sizeof file, NULL);
  uint64_t end = ht_ms() + 20000;
  while (!hpvmd_exited(t, A) && ht_ms() < end) usleep(5000);
  assert_int_equal(t->h[A].hpvmd, 0);
  out o = finish_bg(mig, file);
  out_free(&o);
  /* Nobody renews hosta's lease; hostb, which holds the acknowledged state, takes it over
   * once it expired, and resumes. hosta's frozen hpvmapp cannot note an abort without its
   * hpvmd, so it does not resume: it stops itself. */
  assert_settles_on(t, B, 20000);
  host_start(t, A, NULL);   /* what hosta says afterwards */
  char reason[1200] = "";
  assert_true(ht_wait_state(&t->h[A], VM, ELSEWHERE, 10000));
  assert_passes(t, B);
  assert_int_equal(boots(t), 1);
  char path[600];
  snprintf(path, sizeof path, "%s/vms/%s/app.log", t->h[A].state, VM);
  char *log = ht_read_file(path);
  assert_non_null(log);
  assert_non_null(strstr(log, "its abort could not be noted in the lease"));
  free(log);
  (void)reason;
}

/* Held at the start of a phase by a fault point, the migration is canceled there. */
static void cancel_in(two *t, const char *phase) {
  char file[400], reason[600] = "", want[100];
  snprintf(want, sizeof want, "migrating to host hostb: %s", phase);
  size_t mark = console_len(&t->h[A], VM);
  pid_t mig = migrate_bg(t, A, file, sizeof file, NULL);
  uint64_t end = ht_ms() + 20000;
  while (ht_ms() < end && !(ht_state(&t->h[A], VM, NULL, reason, sizeof reason) == ON && strstr(reason, want)))
    usleep(10000);
  assert_non_null(strstr(reason, want));
  out o = migrate_cmd(t, &t->h[A], "-P", VM, "--cancel", (char *)NULL);
  assert_int_equal(o.status, 0);
  out_free(&o);
  o = finish_bg(mig, file);
  assert_int_equal(o.status, 1);
  char canceled[100];
  snprintf(canceled, sizeof canceled, "canceled in the %s phase", phase);
  assert_non_null(strstr(o.text, canceled));
  out_free(&o);
  assert_settles_on(t, A, 5000);
  assert_true(ht_wait_state(&t->h[B], VM, ELSEWHERE, 5000));
  assert_true(console_wait(&t->h[A], VM, mark, "HB ", 5000));
}

static void test_cancel_in_the_quiesce_and_frozen_phases(void **state) {
  two *t = *state;
  start_hosts(t, "app-src-quiesce:sleep1500,app-src-frozen:sleep1500", NULL);
  start_guest(t, A);
  cancel_in(t, "quiesce");
  sto_lease l;
  assert_int_equal(lease_of(t, VM, &l), 0);
  assert_string_equal(l.note, "");              /* nothing was sent that the target could hold */
  cancel_in(t, "frozen");
  assert_int_equal(lease_of(t, VM, &l), 0);
  assert_non_null(strstr(l.note, "migrate-aborted "));   /* noted before the guest resumed */
  assert_passes(t, A);
  assert_int_equal(boots(t), 1);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_source_app_dies_after_the_ack_before_the_handover, setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_source_app_dies_after_the_handover_before_commit, setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_target_app_dies_right_after_its_ack, setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_source_hpvmd_dies_when_asked_to_hand_over_and_restarts, setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_source_hpvmd_dies_after_the_handover_write_and_restarts, setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_source_host_gone_in_the_frozen_phase, setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_cancel_in_the_quiesce_and_frozen_phases, setup, two_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
