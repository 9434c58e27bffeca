/* multihost.c — three hpvmd on loopback for the tests that drive them through hpvmhost
 * (multihost.h). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "multihost.h"

static void env_init(mh_cluster *f, int i, const char *shared, int port, unsigned probe_ms) {
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
  snprintf(e->gossip_probe_ms, sizeof e->gossip_probe_ms, "%u", probe_ms);
}

int mh_setup_probe(void **state, const char *tag, int port_base, unsigned probe_ms) {
  mh_cluster *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/hpvmd-%.20s-XXXXXX", tag);
  if (!mkdtemp(f->dir)) return -1;
  char shared[300];
  snprintf(shared, sizeof shared, "%.250s/shared", f->dir);
  mkdir(shared, 0755);
  int base = port_base + (int)(getpid() % 1500) * 10;   /* --listen P, gossip P + 1 */
  for (int i = 0; i < MH_HOSTS; i++) env_init(f, i, shared, base + i * 2, probe_ms);
  *state = f;
  for (int i = 0; i < MH_HOSTS; i++) ht_hpvmd_start(&f->h[i]);
  return 0;
}

int mh_setup(void **state, const char *tag, int port_base) { return mh_setup_probe(state, tag, port_base, 100); }

int mh_teardown(void **state) {
  mh_cluster *f = *state;
  if (f->restarted > 0) {
    kill(f->restarted, SIGTERM);
    for (int i = 0; i < 200 && kill(f->restarted, 0) == 0; i++) usleep(50000);
  }
  for (int i = 0; i < MH_HOSTS; i++) {
    if (f->h[i].hpvmd) kill(f->h[i].hpvmd, SIGCONT);   /* a test may have left it stopped */
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

void mh_dump_all(mh_cluster *f) {
  for (int i = 0; i < MH_HOSTS; i++) ht_dump_log(&f->h[i]);
}

/* ---- hpvmhost, as a user runs it ----------------------------------------------------------------- */

pid_t mh_hpvmhost_spawn(ht_env *e, const char *file, char *const argv[]) {
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

mh_out mh_hpvmhost_wait(pid_t pid, const char *file) {
  int st;
  waitpid(pid, &st, 0);
  mh_out o = {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), ht_read_file(file)};
  if (!o.text) o.text = strdup("");
  return o;
}

mh_out mh_hpvmhost(mh_cluster *f, ht_env *e, char *const argv[]) {
  char file[400];
  snprintf(file, sizeof file, "%.250s/hpvmhost.out", f->dir);
  mh_out o = mh_hpvmhost_wait(mh_hpvmhost_spawn(e, file, argv), file);
  fprintf(stderr, "--- hpvmhost on %s (status %d):\n%s", e->name, o.status, o.text);
  return o;
}

/* ---- Looking at the cluster ----------------------------------------------------------------------- */

void mh_state_of(ht_env *e, const char *name, char *state, size_t slen) {
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

bool mh_wait_host_state(ht_env *e, const char *name, const char *want) {
  char st[64];
  for (uint64_t end = ht_ms() + MH_WAIT_MS; ht_ms() < end; usleep(50000)) {
    mh_state_of(e, name, st, sizeof st);
    if (!strcmp(st, want)) return true;
  }
  fprintf(stderr, "%s sees host %s as '%s', not '%s'\n", e->name, name, st, want);
  return false;
}

void mh_all_see_all_up(mh_cluster *f) {
  for (int i = 0; i < MH_HOSTS; i++)
    for (int j = 0; j < MH_HOSTS; j++) {
      bool ok = mh_wait_host_state(&f->h[i], f->h[j].name, "Up");
      if (!ok) mh_dump_all(f);
      assert_true(ok);
    }
}

char *mh_console_of(ht_env *e, const char *vm) {
  char path[600];
  snprintf(path, sizeof path, "%s/vms/%s/console.log", e->state, vm);
  char *s = ht_read_file(path);
  return s ? s : strdup("");
}

bool mh_console_wait(ht_env *e, const char *vm, size_t from, const char *needle, int timeout_ms) {
  uint64_t end = ht_ms() + (uint64_t)timeout_ms;
  do {
    char *s = mh_console_of(e, vm);
    bool found = strlen(s) > from && strstr(s + from, needle);
    free(s);
    if (found) return true;
    usleep(20000);
  } while (ht_ms() < end);
  return false;
}

void mh_start_guest(mh_cluster *f, ht_env *e, const char *vm, unsigned mib, const char *args) {
  char msg[1200];
  int rc = ht_create(e, vm, mib, args, msg, sizeof msg);
  if (rc) fprintf(stderr, "create %s: %s\n", vm, msg);
  assert_int_equal(rc, 0);
  rc = ht_start(e, vm, msg, sizeof msg);
  if (rc) fprintf(stderr, "start %s: %s\n", vm, msg), mh_dump_all(f);
  assert_int_equal(rc, 0);
}

/* The host (index) where vm runs: ON there. -1 when none. */
int mh_where(mh_cluster *f, const char *vm) {
  for (int i = 0; i < MH_HOSTS; i++)
    if (ht_state(&f->h[i], vm, NULL, NULL, 0) == HPVM__VM_RUN_STATE__VM_RUN_STATE_ON) return i;
  return -1;
}

bool mh_wait_where(mh_cluster *f, const char *vm, int host) {
  for (uint64_t end = ht_ms() + MH_WAIT_MS; ht_ms() < end; usleep(50000))
    if (mh_where(f, vm) == host) return true;
  return mh_where(f, vm) == host;
}

char *mh_command_log(mh_cluster *f) {
  char path[400];
  snprintf(path, sizeof path, "%s/log/command.log", f->h[0].shared);
  char *s = ht_read_file(path);
  return s ? s : strdup("");
}


void mh_stop_and_check(mh_cluster *f, ht_env *t, const char *vm) {
  char msg[1200];
  assert_int_equal(ht_stop(t, vm, HPVM__STOP_MODE__STOP_MODE_GRACEFUL, 30000, msg, sizeof msg), 0);
  assert_true(mh_console_wait(t, vm, 0, "PASS memverify", 5000));
  assert_true(mh_console_wait(t, vm, 0, "PASS heartbeat", 5000));
  for (int h = 0; h < MH_HOSTS; h++) {
    char *c = mh_console_of(&f->h[h], vm);
    if (strstr(c, "FAIL")) fprintf(stderr, "%s: %s", vm, strstr(c, "FAIL"));
    assert_null(strstr(c, "FAIL"));
    free(c);
  }
}
