/* test_supervise.c — hpvmd as a supervisor: an hpvmapp killed with -9 is a Crash and nothing
 * else is touched; hpvmd restarted (cleanly or killed) under running guests re-attaches to
 * them and manages them as before; a guest that ends while no hpvmd runs is found Off with
 * its reason; the control socket refuses other users. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hpvmd_test.h"

#define ON HPVM__VM_RUN_STATE__VM_RUN_STATE_ON
#define OFF HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF
#define CRASH HPVM__VM_RUN_STATE__VM_RUN_STATE_CRASH
#define POWER_OFF HPVM__STOP_MODE__STOP_MODE_POWER_OFF

static void start_three(ht_env *e) {
  char msg[1200];
  const char *names[] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(ht_create(e, names[i], 32, "heartbeat", msg, sizeof msg), 0);
    assert_int_equal(ht_start(e, names[i], msg, sizeof msg), 0);
  }
}

static void test_kill9_of_hpvmapp_is_crash_and_others_run_on(void **state) {
  ht_env *e = *state;
  start_three(e);
  int pa, pb, pc;
  assert_int_equal(ht_state(e, "a", &pa, NULL, 0), ON);
  assert_int_equal(ht_state(e, "b", &pb, NULL, 0), ON);
  assert_int_equal(ht_state(e, "c", &pc, NULL, 0), ON);
  assert_int_equal(kill(pb, SIGKILL), 0);
  assert_true(ht_wait_state(e, "b", CRASH, 5000));
  char reason[600];
  ht_state(e, "b", NULL, reason, sizeof reason);
  assert_string_equal(reason, "hpvmapp was killed by signal 9 (Killed)");
  int p2;
  assert_int_equal(ht_state(e, "a", &p2, NULL, 0), ON);
  assert_int_equal(p2, pa);
  assert_int_equal(ht_state(e, "c", &p2, NULL, 0), ON);
  assert_int_equal(p2, pc);
  /* A crashed VM starts again. */
  char msg[1200];
  assert_int_equal(ht_start(e, "b", msg, sizeof msg), 0);
  assert_int_equal(ht_state(e, "b", NULL, NULL, 0), ON);
}

/* Restart hpvmd with signal sig under three running guests: the new one re-attaches. */
static void restart_under_running_guests(ht_env *e, int sig) {
  start_three(e);
  int pa, pb;
  assert_int_equal(ht_state(e, "a", &pa, NULL, 0), ON);
  assert_int_equal(ht_state(e, "b", &pb, NULL, 0), ON);
  ht_hpvmd_stop(e, sig);
  usleep(300000);
  assert_true(ht_pid_alive(pa));   /* guests do not die with hpvmd */
  assert_true(ht_pid_alive(pb));
  ht_hpvmd_start(e);
  assert_true(ht_wait_state(e, "a", ON, 5000));
  int p2;
  assert_int_equal(ht_state(e, "a", &p2, NULL, 0), ON);
  assert_int_equal(p2, pa);
  assert_int_equal(ht_state(e, "b", &p2, NULL, 0), ON);
  assert_int_equal(p2, pb);
  /* Managed as before: stop works, a kill -9 of a re-attached hpvmapp is still a Crash. */
  char msg[1200], reason[600];
  assert_int_equal(ht_stop(e, "a", POWER_OFF, 0, msg, sizeof msg), 0);
  assert_int_equal(ht_state(e, "a", NULL, reason, sizeof reason), OFF);
  usleep(100000);
  assert_false(ht_pid_alive(pa));
  assert_int_equal(kill(pb, SIGKILL), 0);
  assert_true(ht_wait_state(e, "b", CRASH, 5000));
  ht_state(e, "b", NULL, reason, sizeof reason);
  assert_non_null(strstr(reason, "died without saying why"));
  assert_int_equal(ht_state(e, "c", NULL, NULL, 0), ON);
}

static void test_restart_of_hpvmd_reattaches_to_running_guests(void **state) {
  restart_under_running_guests(*state, SIGTERM);
}

static void test_crash_of_hpvmd_reattaches_to_running_guests(void **state) {
  restart_under_running_guests(*state, SIGKILL);
}

static void test_guest_that_ends_while_hpvmd_is_down_is_off_with_its_reason(void **state) {
  ht_env *e = *state;
  char msg[1200], reason[600];
  assert_int_equal(ht_create(e, "brief", 32, "idle time=500ms", msg, sizeof msg), 0);
  assert_int_equal(ht_create(e, "victim", 32, "idle", msg, sizeof msg), 0);
  assert_int_equal(ht_start(e, "brief", msg, sizeof msg), 0);
  assert_int_equal(ht_start(e, "victim", msg, sizeof msg), 0);
  int pv;
  ht_state(e, "victim", &pv, NULL, 0);
  ht_hpvmd_stop(e, SIGKILL);
  kill(pv, SIGKILL);
  sleep(1);
  ht_hpvmd_start(e);
  assert_int_equal(ht_state(e, "brief", NULL, reason, sizeof reason), OFF);
  assert_string_equal(reason, "the guest powered off (exit 0)");
  assert_int_equal(ht_state(e, "victim", NULL, reason, sizeof reason), CRASH);
  assert_non_null(strstr(reason, "died without saying why"));
  /* The Crash outlives another restart. */
  ht_hpvmd_stop(e, SIGTERM);
  ht_hpvmd_start(e);
  assert_int_equal(ht_state(e, "victim", NULL, NULL, 0), CRASH);
}

static void test_control_socket_refuses_other_users(void **state) {
  ht_env *e = *state;
  if (geteuid() != 0) {
    print_message("skipped: needs root to connect as another uid\n");
    skip();
  }
  struct passwd *pw = getpwnam("nobody");
  uid_t uid = pw ? pw->pw_uid : 65534;
  gid_t gid = pw ? pw->pw_gid : 65534;
  struct stat st;
  assert_int_equal(stat(e->sock, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0660);
  /* The directories are searchable, the socket is not writable: the kernel refuses. Then
   * with the socket opened to all, hpvmd itself refuses by SO_PEERCRED. */
  chmod(e->dir, 0755);
  for (int round = 0; round < 2; round++) {
    if (round == 1) assert_int_equal(chmod(e->sock, 0666), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
      close(p[0]);
      if (setgroups(0, NULL) || setgid(gid) || setuid(uid)) _exit(3);
      Hpvm__ListRequest l = HPVM__LIST_REQUEST__INIT;
      Hpvm__Request req = HPVM__REQUEST__INIT;
      req.body_case = HPVM__REQUEST__BODY_LIST;
      req.list = &l;
      Hpvm__Response *r;
      int rc = hpvmd_call(e->sock, &req, &r);
      dprintf(p[1], "%d %s", rc, r->message);
      _exit(0);
    }
    close(p[1]);
    char out[1000] = "";
    ssize_t n = read(p[0], out, sizeof out - 1);
    close(p[0]);
    int status;
    waitpid(pid, &status, 0);
    assert_true(n > 0);
    out[n] = 0;
    print_message("as uid %d: %s\n", (int)uid, out);
    assert_int_equal(atoi(out), HPVM_EPERM);
    if (round == 0) assert_non_null(strstr(out, "no permission to use hpvmd's socket"));
    else assert_non_null(strstr(out, "may not control hpvmd"));
  }
  char *log = ht_read_file(e->log);
  assert_non_null(strstr(log, "refused a control connection"));
  free(log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_kill9_of_hpvmapp_is_crash_and_others_run_on, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_restart_of_hpvmd_reattaches_to_running_guests, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_crash_of_hpvmd_reattaches_to_running_guests, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_guest_that_ends_while_hpvmd_is_down_is_off_with_its_reason, ht_setup,
                                    ht_teardown),
    cmocka_unit_test_setup_teardown(test_control_socket_refuses_other_users, ht_setup, ht_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
