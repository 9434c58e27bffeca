/* test_live_interrupt.c — Ctrl-C on hpvmmigrate cancels the live migration it runs. Two real
 * hpvmd hosts on loopback (live_test.h), a guest running memverify + heartbeat + diskverify,
 * hpvmmigrate -o with --bandwidth 2 (MB/s: the copy phase lasts many seconds) run in the
 * background; once hosta's hpvmstatus shows the copy phase, hpvmmigrate gets SIGINT (and, in
 * the second case, SIGTERM):
 *
 *   - hpvmmigrate says it is canceling, waits for the end and exits 1 with one ERROR line
 *     saying the migration was canceled by that signal (not killed by it: exit status 1, not
 *     128 + signal);
 *   - the guest runs on at hosta, its one hpvmapp the one it had, heartbeats go on; hostb
 *     holds nothing of it (not coming in, not on); the lease still names hosta;
 *   - nothing lost: a graceful stop at hosta shows every workload PASS.
 *
 * Without the cancel, SIGINT killed hpvmmigrate and the migration went on to hostb. */
#include "live_test.h"

#define VM "intmig"
#define WORK "memverify size=32M heartbeat diskverify blocks=32 passes=0"

static void start_guest(two *t) {
  char msg[1200];
  ht_env *a = &t->h[0];
  assert_int_equal(create_vm(a, VM, 128ull << 20, 2, WORK, t->disk, msg, sizeof msg), 0);
  assert_int_equal(ht_start(a, VM, msg, sizeof msg), 0);
  assert_true(console_wait(a, VM, 0, "memverify: cpu", 20000));
}

/* hpvmmigrate -o at 2 MB/s in the background, its output in file. */
static pid_t migrate_slowly(two *t, char *file, size_t len) {
  snprintf(file, len, "%s/slow.out", t->dir);
  char *argv[] = {"hpvmmigrate", "-P", VM, "-h", "hostb", "-o", "--bandwidth", "2", NULL};
  return spawn_cmd(&t->h[0], file, argv);
}

/* hosta's hpvmstatus shows the migration in its copy phase. */
static void wait_for_copy(two *t) {
  char reason[600] = "";
  uint64_t end = ht_ms() + 20000;
  while (ht_ms() < end &&
         !(ht_state(&t->h[0], VM, NULL, reason, sizeof reason) == ON && strstr(reason, "migrating to host hostb: copy")))
    usleep(20000);
  if (!strstr(reason, "copy")) dump(t);
  assert_non_null(strstr(reason, "migrating to host hostb: copy"));
}

static void interrupted_by(two *t, int sig, const char *said) {
  start_guest(t);
  int pid = 0;
  assert_int_equal(apps_of(t, VM, &pid), 1);
  char file[400];
  pid_t mig = migrate_slowly(t, file, sizeof file);
  wait_for_copy(t);
  usleep(500000);   /* about 1 MB on the wire: well inside round 0, pages flowing */
  size_t mark = console_len(&t->h[0], VM);
  assert_int_equal(kill(mig, sig), 0);
  out o = wait_cmd(mig, file);
  printf("%s", o.text);
  if (o.status != 1) dump(t);
  assert_int_equal(o.status, 1);   /* not 128 + sig: it handled the signal */
  char want[200];
  snprintf(want, sizeof want, "hpvmmigrate: %s: canceling the migration of VM %s", said, VM);
  assert_non_null(strstr(o.text, want));
  snprintf(want, sizeof want, "hpvmmigrate: ERROR (%s): migration canceled (%s): ", VM, said);
  const char *err = strstr(o.text, want);
  assert_non_null(err);
  assert_non_null(strstr(err, "canceled in the copy phase; the guest goes on here"));
  out_free(&o);

  /* The guest runs on at hosta, nothing at hostb, the lease still hosta's. */
  int now = 0;
  assert_int_equal(ht_state(&t->h[0], VM, &now, NULL, 0), ON);
  assert_int_equal(now, pid);
  uint64_t end = ht_ms() + 5000;
  int st;
  while (((st = ht_state(&t->h[1], VM, NULL, NULL, 0)) == INCOMING || st == ON || apps_of(t, VM, NULL) != 1) &&
         ht_ms() < end)
    usleep(20000);
  assert_true(st != INCOMING && st != ON);
  assert_int_equal(apps_of(t, VM, NULL), 1);
  sto_lease l;
  assert_int_equal(lease_of(t, VM, &l), 0);
  assert_string_equal(l.owner, "hosta");
  assert_true(console_wait(&t->h[0], VM, mark, "HB ", 5000));

  /* Nothing lost: every workload passes at a graceful stop. */
  char msg[1200];
  mark = console_len(&t->h[0], VM);
  assert_int_equal(ht_stop(&t->h[0], VM, HPVM__STOP_MODE__STOP_MODE_GRACEFUL, 30000, msg, sizeof msg), 0);
  assert_true(console_wait(&t->h[0], VM, mark, "PASS shutdown", 5000));
  char *c = console_of(&t->h[0], VM);
  assert_non_null(strstr(c + mark, "PASS memverify"));
  assert_non_null(strstr(c + mark, "PASS heartbeat"));
  assert_non_null(strstr(c + mark, "PASS diskverify"));
  assert_null(strstr(c, "FAIL"));
  free(c);
}

static void test_ctrl_c_cancels_the_migration(void **state) {
  interrupted_by(*state, SIGINT, "interrupted (SIGINT)");
}

static void test_sigterm_cancels_the_migration(void **state) {
  interrupted_by(*state, SIGTERM, "terminated (SIGTERM)");
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_ctrl_c_cancels_the_migration, two_setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_sigterm_cancels_the_migration, two_setup, two_teardown),
  };
  return cmocka_run_group_tests_name("test_live_interrupt", tests, NULL, NULL) ? 1 : 0;
}
