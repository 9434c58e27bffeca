/* harness.c — see hpvmd_test.h: temporary directories, a real hpvmd, request helpers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hpvmd_test.h"

uint64_t ht_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

bool ht_pid_alive(int pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  char *s = pid > 0 ? ht_read_file(path) : NULL;
  const char *p = s ? strrchr(s, ')') : NULL;
  bool alive = p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
  free(s);
  return alive;
}

char *ht_read_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *b = malloc(cap);
  size_t r;
  while (b && (r = fread(b + n, 1, cap - n - 1, f)) > 0) {
    n += r;
    if (cap - n < 2) b = realloc(b, cap *= 2);
  }
  fclose(f);
  if (b) b[n] = 0;
  return b;
}

void ht_dump_log(const ht_env *e) {
  char *s = ht_read_file(e->log);
  fprintf(stderr, "---- hpvmd log (%s) ----\n%s---- end ----\n", e->log, s ? s : "(none)\n");
  free(s);
}

void ht_hpvmd_start(ht_env *e) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(e->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) dup2(fd, 2), dup2(fd, 1);
    if (e->hide[0] && (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
                       mount("hpvmd-test-hide", e->hide, "tmpfs", 0, NULL))) {
      perror("hpvmd test harness: cannot hide a directory (private mount namespace)");
      _exit(126);
    }
    const char *argv[20] = {"hpvmd", "--foreground", "--shared", e->shared, "--state-dir", e->state, "--name",
                            e->name[0] ? e->name : "testhost", "--hpvmapp", HPVMAPP};
    int n = 10;
    if (e->listen[0]) argv[n++] = "--listen", argv[n++] = e->listen;
    if (e->lease_timeout[0]) argv[n++] = "--lease-timeout", argv[n++] = e->lease_timeout;
    if (e->gossip_probe_ms[0]) argv[n++] = "--gossip-probe-ms", argv[n++] = e->gossip_probe_ms;
    execv(HPVMD, (char **)argv);
    _exit(127);
  }
  e->hpvmd = pid;
  uint64_t end = ht_ms() + 10000;
  while (ht_ms() < end) {
    int fd;
    char msg[600];
    if (hpvmd_connect(e->sock, &fd, msg, sizeof msg) == 0) {
      close(fd);
      return;
    }
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      e->hpvmd = 0;
      ht_dump_log(e);
      fail_msg("hpvmd exited while starting (status %d)", st);
    }
    usleep(20000);
  }
  ht_dump_log(e);
  fail_msg("hpvmd did not answer on %s within 10 s", e->sock);
}

void ht_hpvmd_stop(ht_env *e, int sig) {
  if (!e->hpvmd) return;
  kill(e->hpvmd, sig);
  int st;
  waitpid(e->hpvmd, &st, 0);
  e->hpvmd = 0;
}

/* Kill every hpvmapp a pidfile names (they outlive hpvmd on purpose). */
static void kill_apps(ht_env *e) {
  char dir[400];
  snprintf(dir, sizeof dir, "%s/vms", e->state);
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char path[1000];
    snprintf(path, sizeof path, "%s/%s/app.pid", dir, de->d_name);
    char *s = ht_read_file(path);
    if (s && atoi(s) > 0) kill(atoi(s), SIGKILL);
    free(s);
  }
  closedir(d);
}

int ht_setup(void **state) {
  ht_env *e = calloc(1, sizeof *e);
  snprintf(e->dir, sizeof e->dir, "/tmp/hpvmd-test-XXXXXX");
  if (!mkdtemp(e->dir)) return -1;
  snprintf(e->shared, sizeof e->shared, "%s/shared", e->dir);
  snprintf(e->state, sizeof e->state, "%s/state", e->dir);
  snprintf(e->sock, sizeof e->sock, "%s/hpvmd.sock", e->state);
  snprintf(e->log, sizeof e->log, "%s/hpvmd.log", e->dir);
  mkdir(e->shared, 0755);
  *state = e;
  ht_hpvmd_start(e);
  return 0;
}

int ht_teardown(void **state) {
  ht_env *e = *state;
  ht_hpvmd_stop(e, SIGTERM);
  kill_apps(e);
  usleep(50000);
  if (!getenv("HPVMD_TEST_KEEP")) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
    if (system(cmd)) { /* a leftover temporary directory is harmless */ }
  }
  free(e);
  return 0;
}

int ht_call(ht_env *e, Hpvm__Request *req, Hpvm__Response **resp) {
  Hpvm__Response *r = NULL;
  hpvmd_call(e->sock, req, &r);
  int err = r ? r->error : HPVM_EIO;
  if (resp) *resp = r;
  else hpvmd_response_free(r);
  return err;
}

static int call_msg(ht_env *e, Hpvm__Request *req, char *msg, size_t len) {
  Hpvm__Response *r;
  int err = ht_call(e, req, &r);
  if (msg && len) snprintf(msg, len, "%s", r && r->message ? r->message : "");
  hpvmd_response_free(r);
  return err;
}

int ht_create(ht_env *e, const char *name, unsigned mem_mib, const char *args, char *msg, size_t msglen) {
  Hpvm__VmConfig c = HPVM__VM_CONFIG__INIT;
  c.name = (char *)name;
  c.memory_bytes = (uint64_t)mem_mib << 20;
  c.vcpus = 1;
  c.kernel = HPVMK;
  c.cmdline = (char *)args;
  Hpvm__VmEntitlement ent = HPVM__VM_ENTITLEMENT__INIT;
  ent.unit = HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT;
  ent.value = 1;
  c.entitlement = &ent;
  Hpvm__CreateVmRequest cr = HPVM__CREATE_VM_REQUEST__INIT;
  cr.config = &c;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_CREATE;
  req.create = &cr;
  return call_msg(e, &req, msg, msglen);
}

int ht_start(ht_env *e, const char *name, char *msg, size_t msglen) {
  Hpvm__StartVmRequest s = HPVM__START_VM_REQUEST__INIT;
  s.name = (char *)name;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_START;
  req.start = &s;
  return call_msg(e, &req, msg, msglen);
}

int ht_stop(ht_env *e, const char *name, int mode, uint32_t timeout_ms, char *msg, size_t msglen) {
  Hpvm__StopVmRequest s = HPVM__STOP_VM_REQUEST__INIT;
  s.name = (char *)name;
  s.mode = mode;
  s.timeout_ms = timeout_ms;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_STOP;
  req.stop = &s;
  return call_msg(e, &req, msg, msglen);
}

int ht_remove(ht_env *e, const char *name, bool force, char *msg, size_t msglen) {
  Hpvm__RemoveVmRequest s = HPVM__REMOVE_VM_REQUEST__INIT;
  s.name = (char *)name;
  s.force = force;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_REMOVE;
  req.remove = &s;
  return call_msg(e, &req, msg, msglen);
}

int ht_state(ht_env *e, const char *name, int *pid, char *reason, size_t reasonlen) {
  Hpvm__StatusRequest s = HPVM__STATUS_REQUEST__INIT;
  s.name = (char *)name;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_STATUS;
  req.status = &s;
  Hpvm__Response *r;
  int err = ht_call(e, &req, &r);
  if (err || r->body_case != HPVM__RESPONSE__BODY_VM) {
    if (reason && reasonlen) snprintf(reason, reasonlen, "%s", r->message);
    hpvmd_response_free(r);
    return err ? err : HPVM_EIO;
  }
  int state = r->vm->state;
  if (pid) *pid = r->vm->pid;
  if (reason && reasonlen) snprintf(reason, reasonlen, "%s", r->vm->reason);
  hpvmd_response_free(r);
  return state;
}

bool ht_wait_state(ht_env *e, const char *name, int state, int timeout_ms) {
  uint64_t end = ht_ms() + (uint64_t)timeout_ms;
  do {
    if (ht_state(e, name, NULL, NULL, 0) == state) return true;
    usleep(20000);
  } while (ht_ms() < end);
  return false;
}
