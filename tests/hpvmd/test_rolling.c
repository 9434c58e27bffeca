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

#include "hpvmd_test.h"

#define HOSTS 3
#define WAIT_MS 20000
#define ON HPVM__VM_RUN_STATE__VM_RUN_STATE_ON
#define WORK "memverify size=8M heartbeat"

typedef struct rl_fixture {
  char dir[256];
  ht_env h[HOSTS];
  pid_t restarted;      /* an hpvmd the rolling's command started (not our child), 0 if none */
} rl_fixture;

static void env_init(rl_fixture *f, int i, const char *shared, int port) {
  ht_env *e = &f->h[i];
  memset(e, 0, sizeof *e);
  snprintf(e->dir, sizeof e->dir, "%s", f->dir);
  snprintf(e->shared, sizeof e->shared, "%s", shared);
  snprintf(e->state, sizeof e->state, "%.250s/state%d", f->dir, i + 1);
  snprintf(e->sock, sizeof e->sock, "%.250s/state%d/hpvmd.sock", f->dir, i + 1);
  snprintf(e->log, sizeof e->log, "%.250s/hpvmd%d.log", f->dir, i + 1);
  snprintf(e->name, sizeof e->name, "h%d", i + 1);
  snprintf(e->listen, sizeof e->listen, "127.0.0.1:%d", port);
  snprintf(e->lease_timeout, sizeof e->lease_timeout, "3");
  snprintf(e->gossip_probe_ms, sizeof e->gossip_probe_ms, "100");
}

static int setup(void **state) {
  rl_fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/hpvmd-rolling-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  char shared[300];
  snprintf(shared, sizeof shared, "%.250s/shared", f->dir);
  mkdir(shared, 0755);
  int base = 29000 + (int)(getpid() % 1500) * 10;   /* --listen P, gossip P + 1 */
  for (int i = 0; i < HOSTS; i++) env_init(f, i, shared, base + i * 2);
  *state = f;
  for (int i = 0; i < HOSTS; i++) ht_hpvmd_start(&f->h[i]);
  return 0;
}

static int teardown(void **state) {
  rl_fixture *f = *state;
  if (f->restarted > 0) {
    kill(f->restarted, SIGTERM);
    for (int i = 0; i < 200 && kill(f->restarted, 0) == 0; i++) usleep(50000);
  }
  for (int i = 0; i < HOSTS; i++) {
    ht_hpvmd_stop(&f->h[i], SIGTERM);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cat %s/vms/*/app.pid 2>/dev/null | xargs -r kill -9 2>/dev/null", f->h[i].state);
    if (system(cmd)) { /* none left */ }
  }
  if (!getenv("HPVMD_TEST_KEEP")) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd)) { /* leftovers in /tmp */ }
  }
  free(f);
  return 0;
}

static void dump_all(rl_fixture *f) {
  for (int i = 0; i < HOSTS; i++) ht_dump_log(&f->h[i]);
}

/* ---- hpvmhost, as a user runs it ----------------------------------------------------------------- */

typedef struct out {
  int status;
  char *text;   /* stdout and stderr */
} out;

static pid_t hpvmhost_spawn(rl_fixture *f, ht_env *e, const char *file, char *const argv[]) {
  (void)f;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
    setenv("HPVMD_SOCKET", e->sock, 1);
    execv(HPVM_BIN "/hpvmhost", argv);
    _exit(127);
  }
  return pid;
}

static out hpvmhost_wait(pid_t pid, const char *file) {
  int st;
  waitpid(pid, &st, 0);
  out o = {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), ht_read_file(file)};
  if (!o.text) o.text = strdup("");
  return o;
}

static out hpvmhost(rl_fixture *f, ht_env *e, char *const argv[]) {
  char file[400];
  snprintf(file, sizeof file, "%.250s/hpvmhost.out", f->dir);
  out o = hpvmhost_wait(hpvmhost_spawn(f, e, file, argv), file);
  fprintf(stderr, "--- hpvmhost on %s (status %d):\n%s", e->name, o.status, o.text);
  return o;
}

/* ---- Looking at the cluster ----------------------------------------------------------------------- */

static void state_of(ht_env *e, const char *name, char *state, size_t slen) {
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__HostRequest h = HPVM__HOST_REQUEST__INIT;
  h.op = HPVM__HOST_OP__HOST_OP_STATUS;
  req.body_case = HPVM__REQUEST__BODY_HOST;
  req.host = &h;
  Hpvm__Response *r = NULL;
  state[0] = 0;
  if (ht_call(e, &req, &r) == 0 && r->body_case == HPVM__RESPONSE__BODY_HOSTS)
    for (size_t i = 0; i < r->hosts->n_hosts; i++)
      if (!strcmp(r->hosts->hosts[i]->name, name)) snprintf(state, slen, "%s", r->hosts->hosts[i]->state);
  hpvmd_response_free(r);
}

static bool wait_host_state(ht_env *e, const char *name, const char *want) {
  char st[64];
  for (uint64_t end = ht_ms() + WAIT_MS; ht_ms() < end; usleep(50000)) {
    state_of(e, name, st, sizeof st);
    if (!strcmp(st, want)) return true;
  }
  fprintf(stderr, "%s sees host %s as '%s', not '%s'\n", e->name, name, st, want);
  return false;
}

static void all_see_all_up(rl_fixture *f) {
  for (int i = 0; i < HOSTS; i++)
    for (int j = 0; j < HOSTS; j++) {
      bool ok = wait_host_state(&f->h[i], f->h[j].name, "Up");
      if (!ok) dump_all(f);
      assert_true(ok);
    }
}

static char *console_of(ht_env *e, const char *vm) {
  char path[600];
  snprintf(path, sizeof path, "%s/vms/%s/console.log", e->state, vm);
  char *s = ht_read_file(path);
  return s ? s : strdup("");
}

static bool console_wait(ht_env *e, const char *vm, size_t from, const char *needle, int timeout_ms) {
  uint64_t end = ht_ms() + (uint64_t)timeout_ms;
  do {
    char *s = console_of(e, vm);
    bool found = strlen(s) > from && strstr(s + from, needle);
    free(s);
    if (found) return true;
    usleep(20000);
  } while (ht_ms() < end);
  return false;
}

static void start_guest(rl_fixture *f, ht_env *e, const char *vm, unsigned mib, const char *args) {
  char msg[1200];
  int rc = ht_create(e, vm, mib, args, msg, sizeof msg);
  if (rc) fprintf(stderr, "create %s: %s\n", vm, msg);
  assert_int_equal(rc, 0);
  rc = ht_start(e, vm, msg, sizeof msg);
  if (rc) fprintf(stderr, "start %s: %s\n", vm, msg), dump_all(f);
  assert_int_equal(rc, 0);
}

/* The host (index) where vm runs: ON there. -1 when none. */
static int where(rl_fixture *f, const char *vm) {
  for (int i = 0; i < HOSTS; i++)
    if (ht_state(&f->h[i], vm, NULL, NULL, 0) == ON) return i;
  return -1;
}

static char *command_log(rl_fixture *f) {
  char path[400];
  snprintf(path, sizeof path, "%s/log/command.log", f->h[0].shared);
  char *s = ht_read_file(path);
  return s ? s : strdup("");
}

/* Boots of vm over every host's console log: the kernel's banner, once per boot. */
static unsigned boots(rl_fixture *f, const char *vm) {
  unsigned n = 0;
  for (int h = 0; h < HOSTS; h++) {
    char *c = console_of(&f->h[h], vm);
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
  out o = hpvmhost(f, &f->h[0], (char *[]){"hpvmhost", "rolling", NULL});
  assert_int_equal(o.status, 2);
  assert_non_null(strstr(o.text, "rolling needs --command"));
  free(o.text);
  o = hpvmhost(f, &f->h[0], (char *[]){"hpvmhost", "rolling", "--command", "true", "--timeout", "0", NULL});
  assert_int_equal(o.status, 2);
  free(o.text);
  o = hpvmhost(f, &f->h[0], (char *[]){"hpvmhost", "status", "--command", "true", NULL});
  assert_int_equal(o.status, 2);
  free(o.text);
}

/* ---- Tests ----------------------------------------------------------------------------------------- */

static const char *const GUESTS[] = {"r1", "r2", "r3"};

static void test_rolling_takes_every_host_through_maintenance_and_no_guest_stops(void **state) {
  rl_fixture *f = *state;
  refusals(f);
  all_see_all_up(f);
  for (int i = 0; i < HOSTS; i++) start_guest(f, &f->h[i], GUESTS[i], 32, WORK);
  for (int i = 0; i < HOSTS; i++) assert_true(console_wait(&f->h[i], GUESTS[i], 0, "HB ", 20000));
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
  out o = hpvmhost(f, &f->h[0], (char *[]){"hpvmhost", "rolling", "--command", cmd, NULL});
  /* h2's first hpvmd exited; its successor runs. */
  int st;
  assert_int_equal(waitpid(h2->hpvmd, &st, 0), h2->hpvmd);
  h2->hpvmd = 0;
  char *np = ht_read_file(newpid);
  assert_non_null(np);
  f->restarted = (pid_t)atoi(np);
  free(np);
  assert_true(f->restarted > 0 && kill(f->restarted, 0) == 0);
  if (o.status) dump_all(f);
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
  all_see_all_up(f);

  /* Every guest still runs, booted once, and passes its checks at a graceful stop. */
  for (int i = 0; i < HOSTS; i++) {
    int w = where(f, GUESTS[i]);
    assert_true(w >= 0);
    assert_int_equal(boots(f, GUESTS[i]), 1);
    ht_env *t = &f->h[w];
    char *c = console_of(t, GUESTS[i]);
    size_t from = strlen(c);
    free(c);
    assert_true(console_wait(t, GUESTS[i], from, "HB ", 10000));
    char msg[1200];
    assert_int_equal(ht_stop(t, GUESTS[i], HPVM__STOP_MODE__STOP_MODE_GRACEFUL, 30000, msg, sizeof msg), 0);
    assert_true(console_wait(t, GUESTS[i], 0, "PASS memverify", 5000));
    assert_true(console_wait(t, GUESTS[i], 0, "PASS heartbeat", 5000));
    for (int h = 0; h < HOSTS; h++) {
      c = console_of(&f->h[h], GUESTS[i]);
      if (strstr(c, "FAIL")) fprintf(stderr, "%s: %s", GUESTS[i], strstr(c, "FAIL"));
      assert_null(strstr(c, "FAIL"));
      free(c);
    }
  }

  char *log = command_log(f);
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
  all_see_all_up(f);
  start_guest(f, &f->h[1], "on2", 32, WORK);
  assert_true(console_wait(&f->h[1], "on2", 0, "HB ", 20000));

  char cmd[600];
  snprintf(cmd, sizeof cmd, "echo \"$HPVM_ROLLING_HOST\" >> %s; test \"$HPVM_ROLLING_HOST\" != h2",
           roll_file(f, "rolled"));
  out o = hpvmhost(f, &f->h[0], (char *[]){"hpvmhost", "rolling", "--command", cmd, "--timeout", "60", NULL});
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
  assert_true(wait_host_state(&f->h[0], "h2", "Maintenance"));
  assert_true(wait_host_state(&f->h[2], "h2", "Maintenance"));
  assert_true(wait_host_state(&f->h[0], "h3", "Up"));
  assert_true(wait_host_state(&f->h[0], "h1", "Up"));
  /* h2's guest left it and runs on; h3 was never entered. */
  int w = where(f, "on2");
  assert_true(w == 0 || w == 2);
  assert_int_equal(boots(f, "on2"), 1);
  char *log = command_log(f);
  assert_null(strstr(log, "maintenance enter h3"));
  assert_null(strstr(log, "maintenance h3:"));
  free(log);

  /* The fix the message names brings h2 back. */
  o = hpvmhost(f, &f->h[2], (char *[]){"hpvmhost", "maintenance", "exit", "h2", NULL});
  assert_int_equal(o.status, 0);
  free(o.text);
  assert_true(wait_host_state(&f->h[0], "h2", "Up"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rolling_takes_every_host_through_maintenance_and_no_guest_stops, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_a_failing_command_stops_the_rolling_at_that_host, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
