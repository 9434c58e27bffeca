/* live_test.h — what the live migration tests with real hosts share (tests/migrate/
 * test_live_*.c): two hpvmd hosts, hosta and hostb, on one shared directory with their own
 * state directories, listening on loopback; a disk in a directory both see; guests created
 * through hpvmd; their consoles, their hpvmapp processes, their leases; hpvmmigrate run as a
 * user runs it. Header-only (static functions), on top of the tests/hpvmd harness. */
#ifndef HPVM_LIVE_TEST_H
#define HPVM_LIVE_TEST_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hpvmd_test.h"
#include "storage.h"

#define ON HPVM__VM_RUN_STATE__VM_RUN_STATE_ON
#define OFF HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF
#define ELSEWHERE HPVM__VM_RUN_STATE__VM_RUN_STATE_ELSEWHERE
#define INCOMING HPVM__VM_RUN_STATE__VM_RUN_STATE_INCOMING

typedef struct two {
  char dir[256];
  char disks[300];
  char disk[320];
  ht_env h[2];          /* hosta, hostb */
} two;

/* ---- Environment ------------------------------------------------------------------------------ */

static inline int free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(getsockname(s, (struct sockaddr *)&a, &l), 0);
  close(s);
  return ntohs(a.sin_port);
}

static inline void host_init(two *t, unsigned i, const char *shared) {
  ht_env *e = &t->h[i];
  char dir[256];
  memcpy(dir, t->dir, sizeof dir);
  snprintf(e->dir, sizeof e->dir, "%s", dir);
  snprintf(e->shared, sizeof e->shared, "%s", shared);
  snprintf(e->state, sizeof e->state, "%s/state-%c", dir, 'a' + i);
  snprintf(e->sock, sizeof e->sock, "%s/state-%c/hpvmd.sock", dir, 'a' + i);
  snprintf(e->log, sizeof e->log, "%s/hpvmd-%c.log", dir, 'a' + i);
  snprintf(e->name, sizeof e->name, "host%c", 'a' + i);
  snprintf(e->listen, sizeof e->listen, "127.0.0.1:%d", free_port());
}

static inline two *two_new(void) {
  two *t = calloc(1, sizeof *t);
  snprintf(t->dir, sizeof t->dir, "/tmp/hpvm-live-XXXXXX");
  assert_non_null(mkdtemp(t->dir));
  char shared[300];
  snprintf(shared, sizeof shared, "%s/shared", t->dir);
  mkdir(shared, 0755);
  snprintf(t->disks, sizeof t->disks, "%s/disks", t->dir);
  mkdir(t->disks, 0755);
  snprintf(t->disk, sizeof t->disk, "%s/d.img", t->disks);
  int fd = open(t->disk, O_WRONLY | O_CREAT, 0644);
  assert_true(fd >= 0 && ftruncate(fd, 16 << 20) == 0);
  close(fd);
  host_init(t, 0, shared);
  host_init(t, 1, shared);
  return t;
}

static inline void kill_apps(ht_env *e) {
  char dir[400];
  snprintf(dir, sizeof dir, "%s/vms", e->state);
  DIR *d = opendir(dir);
  struct dirent *de;
  while (d && (de = readdir(d))) {
    char path[1000];
    snprintf(path, sizeof path, "%s/%s/app.pid", dir, de->d_name);
    char *s = de->d_name[0] != '.' ? ht_read_file(path) : NULL;
    if (s && atoi(s) > 0) kill(atoi(s), SIGKILL);
    free(s);
  }
  if (d) closedir(d);
}

/* Start host i's hpvmd with HPVM_TEST_FAULT = fault (NULL: none); its hpvmapps inherit it. */
static inline void host_start(two *t, unsigned i, const char *fault) {
  if (fault) setenv("HPVM_TEST_FAULT", fault, 1);
  ht_hpvmd_start(&t->h[i]);
  unsetenv("HPVM_TEST_FAULT");
}

/* Host i's hpvmd has exited (a fault point ended it): reaped. */
static inline bool hpvmd_exited(two *t, unsigned i) {
  int st;
  if (!t->h[i].hpvmd || waitpid(t->h[i].hpvmd, &st, WNOHANG) != t->h[i].hpvmd) return false;
  t->h[i].hpvmd = 0;
  return true;
}

/* cmocka setup: both hosts with hpvmd running (*state is the two). */
static inline int two_setup(void **state) {
  two *t = two_new();
  ht_hpvmd_start(&t->h[0]);
  ht_hpvmd_start(&t->h[1]);
  *state = t;
  return 0;
}

static inline int two_teardown(void **state) {
  two *t = *state;
  for (unsigned i = 0; i < 2; i++) {
    ht_hpvmd_stop(&t->h[i], SIGTERM);
    kill_apps(&t->h[i]);
  }
  usleep(50000);
  if (!getenv("HPVMD_TEST_KEEP")) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    if (system(cmd)) { /* a leftover temporary directory is harmless */ }
  }
  free(t);
  return 0;
}

static inline void dump(two *t) {
  ht_dump_log(&t->h[0]);
  ht_dump_log(&t->h[1]);
}

/* ---- Guests ----------------------------------------------------------------------------------- */

static inline int create_vm(ht_env *e, const char *name, uint64_t mem, unsigned cpus, const char *args, const char *disk,
                     char *msg, size_t len) {
  Hpvm__VmConfig c = HPVM__VM_CONFIG__INIT;
  c.name = (char *)name;
  c.memory_bytes = mem;
  c.vcpus = cpus;
  c.kernel = HPVMK;
  c.cmdline = (char *)args;
  Hpvm__VmEntitlement ent = HPVM__VM_ENTITLEMENT__INIT;
  ent.unit = HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT;
  ent.value = 1;
  c.entitlement = &ent;
  Hpvm__VmStorageDevice dev = HPVM__VM_STORAGE_DEVICE__INIT, *devs[1] = {&dev};
  char spec[400];
  if (disk) {
    snprintf(spec, sizeof spec, "disk:avio_stor:0,2,0:file:%s", disk);
    dev.type = HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_DISK;
    dev.adapter = "avio_stor";
    dev.bus = 0, dev.device = 2, dev.target = 0;
    dev.backing = HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_FILE;
    dev.path = (char *)disk;
    dev.spec = spec;
    c.n_devices = 1;
    c.devices = devs;
  }
  Hpvm__CreateVmRequest cr = HPVM__CREATE_VM_REQUEST__INIT;
  cr.config = &c;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_CREATE;
  req.create = &cr;
  Hpvm__Response *r;
  int err = ht_call(e, &req, &r);
  snprintf(msg, len, "%s", r && r->message ? r->message : "");
  hpvmd_response_free(r);
  return err;
}

static inline char *console_of(ht_env *e, const char *name) {
  char path[600];
  snprintf(path, sizeof path, "%s/vms/%s/console.log", e->state, name);
  char *s = ht_read_file(path);
  return s ? s : strdup("");
}

/* Wait until host e's console of name contains needle after byte `from`. */
static inline bool console_wait(ht_env *e, const char *name, size_t from, const char *needle, int timeout_ms) {
  uint64_t end = ht_ms() + (uint64_t)timeout_ms;
  do {
    char *s = console_of(e, name);
    bool found = strlen(s) > from && strstr(s + from, needle);
    free(s);
    if (found) return true;
    usleep(20000);
  } while (ht_ms() < end);
  return false;
}

static inline size_t console_len(ht_env *e, const char *name) {
  char *s = console_of(e, name);
  size_t n = strlen(s);
  free(s);
  return n;
}

/* hpvmapp processes of VM name under this test's directory. */
static inline unsigned apps_of(two *t, const char *name, int *pid) {
  DIR *d = opendir("/proc");
  struct dirent *de;
  unsigned n = 0;
  char rundir[400];
  snprintf(rundir, sizeof rundir, "%s/", t->dir);
  while (d && (de = readdir(d))) {
    if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
    char path[300], buf[8192];
    snprintf(path, sizeof path, "/proc/%s/cmdline", de->d_name);
    int fd = open(path, O_RDONLY);
    ssize_t len = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (len <= 0 || !ht_pid_alive(atoi(de->d_name))) continue;
    buf[len] = 0;
    const char *a0 = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
    if (strcmp(a0, "hpvmapp")) continue;
    bool named = false, ours = false;
    for (char *p = buf; p < buf + len; p += strlen(p) + 1) {
      if (!strcmp(p, "--name") && p + strlen(p) + 1 < buf + len && !strcmp(p + strlen(p) + 1, name)) named = true;
      if (!strncmp(p, rundir, strlen(rundir))) ours = true;
    }
    if (named && ours) {
      n++;
      if (pid) *pid = atoi(de->d_name);
    }
  }
  if (d) closedir(d);
  return n;
}

/* ---- The command -------------------------------------------------------------------------------- */

typedef struct out {
  int status;
  char *text;           /* stdout and stderr */
} out;

static inline pid_t spawn_cmd(ht_env *e, const char *file, char *const argv[]) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
    setenv("HPVMD_SOCKET", e->sock, 1);
    execv(HPVM_BIN "/hpvmmigrate", argv);
    _exit(127);
  }
  return pid;
}

static inline out wait_cmd(pid_t pid, const char *file) {
  int st;
  waitpid(pid, &st, 0);
  out o = {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), ht_read_file(file)};
  if (!o.text) o.text = strdup("");
  return o;
}

/* hpvmmigrate ARGS... on host e (NULL-terminated). */
static inline out migrate_cmd(two *t, ht_env *e, ...) {
  char *argv[32] = {"hpvmmigrate"};
  va_list ap;
  va_start(ap, e);
  for (int i = 1; i < 31 && (argv[i] = va_arg(ap, char *)); i++) {}
  va_end(ap);
  char file[400];
  snprintf(file, sizeof file, "%s/cmd.out", t->dir);
  return wait_cmd(spawn_cmd(e, file, argv), file);
}

static inline void out_free(out *o) {
  free(o->text);
}

/* ---- Leases ------------------------------------------------------------------------------------ */

/* The VM's lease as any host reads it: 0, or the storage error. */
static inline int lease_of(two *t, const char *vm, sto_lease *l) {
  sto_options o = {.root = t->h[0].shared, .host = "observer"};
  sto_store *s = NULL;
  int rc = sto_open(&o, &s);
  if (!rc) rc = sto_lease_read(s, vm, l);
  sto_close(s);
  return rc;
}

/* Watch the lease as a third host would: true once it counts as expired (unchanged for its
 * timeout on this process's clock), false when it changed hands or timeout_ms passed. */
static inline bool lease_expires(two *t, const char *vm, int timeout_ms) {
  sto_options o = {.root = t->h[0].shared, .host = "observer"};
  sto_store *s = NULL;
  assert_int_equal(sto_open(&o, &s), 0);
  sto_observer obs = {0};
  sto_lease first, l;
  assert_int_equal(sto_lease_read(s, vm, &first), 0);
  bool expired = false;
  uint64_t end = ht_ms() + (uint64_t)timeout_ms;
  while (!expired && ht_ms() < end) {
    assert_int_equal(sto_lease_read(s, vm, &l), 0);
    if (l.state != first.state || strcmp(l.owner, first.owner) || l.lease_generation != first.lease_generation) break;
    uint64_t now = ht_ms();
    if (!obs.seen || obs.record_gen != l.record_gen) obs.seen = true, obs.record_gen = l.record_gen, obs.since_ns = now;
    expired = now - obs.since_ns >= l.timeout_ms;
    if (!expired) usleep(20000);
  }
  sto_close(s);
  return expired;
}

#endif
