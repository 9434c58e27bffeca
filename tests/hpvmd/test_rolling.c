/* test_rolling.c — hpvmhost rolling (cli/hpvm/host.c) with three real hpvmd on loopback sharing
 * one directory, run through the hpvmhost command as an operator types it on h1:
 *   - three guests running memverify + heartbeat, one per host; rolling with a command that
 *     appends $HPVM_ROLLING_HOST to a file and for h2 restarts its hpvmd (as an upgrade would):
 *     the file lists h1, h2, h3 once each in that order, every host is Up at the end, every
 *     guest still runs (booted once: no stop, no restart), each passes its checks at a graceful
 *     stop, and the command log shows each step;
 *   - a command that fails on h2: the rolling stops there with an error naming h2 and the fix,
 *     h2 stays in Maintenance (its guest runs elsewhere), h3 is untouched (Up, never entered).
 * Gossip runs with a 100 ms probe; waits are generous upper bounds, not timings under test. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "multihost.h"

#define HOSTS MH_HOSTS
#define WORK "memverify size=8M heartbeat"

typedef mh_cluster rl_fixture;

static int setup(void **state) { return mh_setup(state, "rolling", 29000); }
static int teardown(void **state) { return mh_teardown(state); }

/* Boots of vm over every host's console log: the kernel's banner, once per boot. */
static unsigned boots(rl_fixture *f, const char *vm) {
  unsigned n = 0;
  for (int h = 0; h < HOSTS; h++) {
    char *c = mh_console_of(&f->h[h], vm);
    for (const char *p = c; (p = strstr(p, "hpvmk: IA-64 guest kernel:")); p++) n++;
    free(c);
  }
  return n;
}

static char *roll_file(rl_fixture *f, const char *name) {
  static char path[400];
  snprintf(path, sizeof path, "%.250s/%s", f->dir, name);
  return path;
}

/* What rolling refuses, before it touches anything. */
static void refusals(rl_fixture *f) {
  mh_out o = mh_hpvmhost(f, &f->h[0], (char *[]){"hpvmhost", "rolling", NULL});
  assert_int_equal(o.status, 2);
  assert_non_null(strstr(o.text, "rolling needs --command"));
  free(o.text);
  o = mh_hpvmhost(f, &f->h[0], (char *[]){"hpvmhost", "rolling", "--command", "true", "--timeout", "0", NULL});
  assert_int_equal(o.status, 2);
  free(o.text);
  o = mh_hpvmhost(f, &f->h[0], (char *[]){"hpvmhost", "status", "--command", "true", NULL});
  assert_int_equal(o.status, 2);
  free(o.text);
}

/* ---- Tests ----------------------------------------------------------------------------------------- */

static const char *const GUESTS[] = {"r1", "r2", "r3"};

static void test_rolling_takes_every_host_through_maintenance_and_no_guest_stops(void **state) {
  rl_fixture *f = *state;
  refusals(f);
  mh_all_see_all_up(f);
  for (int i = 0; i < HOSTS; i++) mh_start_guest(f, &f->h[i], GUESTS[i], 32, WORK);
  for (int i = 0; i < HOSTS; i++) assert_true(mh_console_wait(&f->h[i], GUESTS[i], 0, "HB ", 20000));
  for (int i = 0; i < HOSTS; i++) assert_int_equal(boots(f, GUESTS[i]), 1);

  /* The command: note the host; for h2 also restart its hpvmd as an upgrade would (the new one
   * is not our child: its pid goes to a file for the teardown). */
  ht_env *h2 = &f->h[1];
  char script[400], newpid[400];
  snprintf(script, sizeof script, "%.250s/upgrade.sh", f->dir);
  snprintf(newpid, sizeof newpid, "%.250s/newpid", f->dir);
  FILE *sf = fopen(script, "w");
  assert_non_null(sf);
  fprintf(sf,
          "echo \"$HPVM_ROLLING_HOST\" >> %s\n"
          "[ \"$HPVM_ROLLING_HOST\" = h2 ] || exit 0\n"
          "kill -TERM %d\n"
          "while [ -e /proc/%d ] && [ \"$(cut -d' ' -f3 /proc/%d/stat)\" != Z ]; do sleep 0.1; done\n"
          "setsid %s --foreground --shared %s --state-dir %s --name h2 --hpvmapp %s --listen %s "
          "--lease-timeout %s --gossip-probe-ms %s >> %s 2>&1 < /dev/null &\n"
          "echo $! > %s\n",
          roll_file(f, "rolled"), (int)h2->hpvmd, (int)h2->hpvmd, (int)h2->hpvmd, HPVMD, h2->shared, h2->state, HPVMAPP,
          h2->listen, h2->lease_timeout, h2->gossip_probe_ms, h2->log, newpid);
  fclose(sf);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "sh %s", script);
  mh_out o = mh_hpvmhost(f, &f->h[0], (char *[]){"hpvmhost", "rolling", "--command", cmd, NULL});
  /* h2's first hpvmd exited; its successor runs. */
  int st;
  assert_int_equal(waitpid(h2->hpvmd, &st, 0), h2->hpvmd);
  h2->hpvmd = 0;
  char *np = ht_read_file(newpid);
  assert_non_null(np);
  f->restarted = (pid_t)atoi(np);
  free(np);
  assert_true(f->restarted > 0 && kill(f->restarted, 0) == 0);
  if (o.status) mh_dump_all(f);
  assert_int_equal(o.status, 0);
  assert_non_null(strstr(o.text, "rolling: host h1 (1 of 3): maintenance enter"));
  assert_non_null(strstr(o.text, "host h2 is in maintenance"));
  assert_non_null(strstr(o.text, "rolling: host h3 is Up (3 of 3 done)"));
  assert_non_null(strstr(o.text, "rolling: done, all 3 host(s) went through maintenance and are Up"));
  free(o.text);

  char *rolled = ht_read_file(roll_file(f, "rolled"));
  assert_non_null(rolled);
  assert_string_equal(rolled, "h1\nh2\nh3\n");
  free(rolled);
  mh_all_see_all_up(f);

  /* Every guest still runs, booted once, and passes its checks at a graceful stop. */
  for (int i = 0; i < HOSTS; i++) {
    int w = mh_where(f, GUESTS[i]);
    assert_true(w >= 0);
    assert_int_equal(boots(f, GUESTS[i]), 1);
    ht_env *t = &f->h[w];
    char *c = mh_console_of(t, GUESTS[i]);
    size_t from = strlen(c);
    free(c);
    assert_true(mh_console_wait(t, GUESTS[i], from, "HB ", 10000));
    mh_stop_and_check(f, t, GUESTS[i]);
  }

  char *log = mh_command_log(f);
  for (int i = 0; i < HOSTS; i++) {
    char line[200];
    snprintf(line, sizeof line, "hpvmhost rolling maintenance enter %s", f->h[i].name);
    assert_non_null(strstr(log, line));
    snprintf(line, sizeof line, "hpvmhost rolling maintenance exit %s", f->h[i].name);
    assert_non_null(strstr(log, line));
    snprintf(line, sizeof line, "maintenance %s: draining", f->h[i].name);
    assert_non_null(strstr(log, line));
  }
  free(log);
}

static void test_a_failing_command_stops_the_rolling_at_that_host(void **state) {
  rl_fixture *f = *state;
  mh_all_see_all_up(f);
  mh_start_guest(f, &f->h[1], "on2", 32, WORK);
  assert_true(mh_console_wait(&f->h[1], "on2", 0, "HB ", 20000));

  char cmd[600];
  snprintf(cmd, sizeof cmd, "echo \"$HPVM_ROLLING_HOST\" >> %s; test \"$HPVM_ROLLING_HOST\" != h2",
           roll_file(f, "rolled"));
  mh_out o = mh_hpvmhost(f, &f->h[0], (char *[]){"hpvmhost", "rolling", "--command", cmd, "--timeout", "60", NULL});
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "rolling: host h1 is Up (1 of 3 done)"));
  assert_non_null(strstr(o.text, "rolling stopped at host h2: the command exited with status 1"));
  assert_non_null(strstr(o.text, "Host h2 stays in maintenance"));
  assert_non_null(strstr(o.text, "untouched: h3"));
  assert_non_null(strstr(o.text, "hpvmhost maintenance exit h2"));
  assert_null(strstr(o.text, "host h3 ("));
  free(o.text);

  char *rolled = ht_read_file(roll_file(f, "rolled"));
  assert_non_null(rolled);
  assert_string_equal(rolled, "h1\nh2\n");
  free(rolled);
  assert_true(mh_wait_host_state(&f->h[0], "h2", "Maintenance"));
  assert_true(mh_wait_host_state(&f->h[2], "h2", "Maintenance"));
  assert_true(mh_wait_host_state(&f->h[0], "h3", "Up"));
  assert_true(mh_wait_host_state(&f->h[0], "h1", "Up"));
  /* h2's guest left it and runs on; h3 was never entered. */
  int w = mh_where(f, "on2");
  assert_true(w == 0 || w == 2);
  assert_int_equal(boots(f, "on2"), 1);
  char *log = mh_command_log(f);
  assert_null(strstr(log, "maintenance enter h3"));
  assert_null(strstr(log, "maintenance h3:"));
  free(log);

  /* The fix the message names brings h2 back. */
  o = mh_hpvmhost(f, &f->h[2], (char *[]){"hpvmhost", "maintenance", "exit", "h2", NULL});
  assert_int_equal(o.status, 0);
  free(o.text);
  assert_true(mh_wait_host_state(&f->h[0], "h2", "Up"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rolling_takes_every_host_through_maintenance_and_no_guest_stops, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_a_failing_command_stops_the_rolling_at_that_host, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
