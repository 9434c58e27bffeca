/* harness.c — see netns_test.h: namespaces and veth links made with ip(8), shaped with tc(8),
 * one hpvmd per namespace, processes found by the namespace they live in, and a cleanup that
 * runs whatever way the test ends. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hpvmd_client.h"
#include "netns_test.h"
#include "storage.h"

#define NETNS_RUN_DIR "/run/netns"
#define PREFIX "hpvmt-"
#define TRANSFER_PORT 7411

/* ---- Small helpers ----------------------------------------------------------------------- */

uint64_t nt_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

char *nt_read_file(const char *path) {
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

bool nt_wait_file(const char *path, const char *needle, int timeout_ms) {
  uint64_t end = nt_ms() + (uint64_t)timeout_ms;
  do {
    char *s = nt_read_file(path);
    bool found = s && strstr(s, needle);
    free(s);
    if (found) return true;
    usleep(10000);
  } while (nt_ms() < end);
  return false;
}

/* Enter namespace ns (a name under /run/netns); for a freshly forked child only. */
static int enter_ns(const char *ns) {
  char path[200];
  snprintf(path, sizeof path, NETNS_RUN_DIR "/%s", ns);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = setns(fd, CLONE_NEWNET);
  close(fd);
  return rc;
}

static void redirect_out(const char *out) {
  int fd = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
  int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (nul >= 0) dup2(nul, 0);
}

int nt_run_in(const char *ns, const char *out, char *const argv[]) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (ns && enter_ns(ns)) _exit(126);
    redirect_out(out);
    execvp(argv[0], argv);
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Split a command line at blanks; "double quotes" group. argv points into buf. */
static int split(char *buf, char **argv, int max) {
  int argc = 0;
  for (char *p = buf; *p && argc < max - 1;) {
    while (*p == ' ') p++;
    if (!*p) break;
    if (*p == '"') {
      argv[argc++] = ++p;
      p = strchr(p, '"');
      if (!p) break;
      *p++ = 0;
    } else {
      argv[argc++] = p;
      p += strcspn(p, " ");
      if (*p) *p++ = 0;
    }
  }
  argv[argc] = NULL;
  return argc;
}

/* Run "ip ..." / "tc ..." (the line's first word); its status, its output in *output when not
 * NULL (free it). */
static int tool(char **output, const char *line) {
  char buf[1024], *argv[64], out[64];
  snprintf(buf, sizeof buf, "%s", line);
  split(buf, argv, 64);
  snprintf(out, sizeof out, "/tmp/hpvmt-%d.tool", (int)getpid());
  unlink(out);
  int st = nt_run_in(NULL, out, argv);
  if (output) *output = nt_read_file(out);
  unlink(out);
  return st;
}

void nt_ip(const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  char cmd[1040], *out = NULL;
  snprintf(cmd, sizeof cmd, "ip %s", line);
  int st = tool(&out, cmd);
  if (st != 0) fail_msg("'%s' exited %d: %s", cmd, st, out ? out : "");
  free(out);
}

/* ---- Processes by namespace ---------------------------------------------------------------- */

static bool ns_id(const char *ns, dev_t *dev, ino_t *ino) {
  char path[200];
  struct stat st;
  snprintf(path, sizeof path, NETNS_RUN_DIR "/%s", ns);
  if (stat(path, &st)) return false;
  *dev = st.st_dev, *ino = st.st_ino;
  return true;
}

/* The process exists and is neither a zombie nor dead. */
static bool pid_alive(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  char *s = pid > 0 ? nt_read_file(path) : NULL;
  const char *p = s ? strrchr(s, ')') : NULL;
  bool alive = p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
  free(s);
  return alive;
}

static bool pid_in_ns(pid_t pid, dev_t dev, ino_t ino) {
  char path[64];
  struct stat st;
  snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
  return stat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

/* Call fn for every live process in namespace ns; stops when fn returns true. */
static void each_pid_in_ns(const char *ns, bool (*fn)(pid_t pid, void *ctx), void *ctx) {
  dev_t dev;
  ino_t ino;
  if (!ns_id(ns, &dev, &ino)) return;
  DIR *d = opendir("/proc");
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    pid_t pid = (pid_t)atoi(de->d_name);
    if (pid <= 0 || pid == getpid() || !pid_in_ns(pid, dev, ino) || !pid_alive(pid)) continue;
    if (fn(pid, ctx)) break;
  }
  closedir(d);
}

static bool kill_one(pid_t pid, void *ctx) {
  int *n = ctx;
  kill(pid, SIGKILL);
  (*n)++;
  return false;
}

/* Kill everything in ns until nothing is left (hpvmd may fork while we look). Our own
 * children are reaped here; orphans are init's. */
static void empty_ns(const char *ns) {
  for (int tries = 0; tries < 200; tries++) {
    int n = 0;
    each_pid_in_ns(ns, kill_one, &n);
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    if (!n) return;
    usleep(10000);
  }
}

static void delete_ns(const char *ns) {
  empty_ns(ns);
  char *argv[] = {"ip", "netns", "delete", (char *)ns, NULL};
  nt_run_in(NULL, NULL, argv);
}

/* A process's parent pid (0 when unknown). */
static pid_t parent_of(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  char *s = nt_read_file(path);
  const char *p = s ? strrchr(s, ')') : NULL;
  int ppid = 0;
  if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1) ppid = 0;
  free(s);
  return (pid_t)ppid;
}

/* pid's hpvmapp command line: true when argv[0] ends in hpvmapp, with the value of --name
 * (vm, "" when absent) and whether --incoming is among the arguments. */
static bool app_cmdline(pid_t pid, char *vm, size_t vmlen, bool *incoming) {
  char path[64], buf[8192];
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  const char *arg0 = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
  if (strcmp(arg0, "hpvmapp")) return false;
  vm[0] = 0;
  *incoming = false;
  for (const char *p = buf; p < buf + n; p += strlen(p) + 1) {
    const char *next = p + strlen(p) + 1;
    if (!strcmp(p, "--incoming")) *incoming = true;
    if (!strcmp(p, "--name") && next < buf + n) snprintf(vm, vmlen, "%s", next);
  }
  return true;
}

/* An hpvmapp, not a task a sanitizer build's hpvmapp clones: LeakSanitizer's tracer at exit
 * is a process of its own sharing its parent's memory, so it shows the same command line. */
static bool is_app(pid_t pid, char *vm, size_t vmlen, bool *incoming) {
  char pvm[256];
  bool pin;
  return app_cmdline(pid, vm, vmlen, incoming) && !app_cmdline(parent_of(pid), pvm, sizeof pvm, &pin);
}

typedef struct app_scan {
  const nt_env *e;
  unsigned host;
  nt_app_fn fn;
  void *ctx;
} app_scan;

static bool scan_one(pid_t pid, void *ctx) {
  app_scan *s = ctx;
  char vm[256];
  bool incoming;
  if (!is_app(pid, vm, sizeof vm, &incoming)) return false;
  nt_app a = {.host = s->host, .pid = pid, .incoming = incoming};
  snprintf(a.vm, sizeof a.vm, "%s", vm);
  return s->fn(&a, s->ctx);
}

void nt_apps(const nt_env *e, nt_app_fn fn, void *ctx) {
  for (unsigned i = 0; i < e->n; i++) {
    app_scan s = {e, i, fn, ctx};
    each_pid_in_ns(e->h[i].ns, scan_one, &s);
  }
}

typedef struct app_find {
  const char *vm;
  pid_t pid;
} app_find;

static bool match_app(pid_t pid, void *ctx) {
  app_find *f = ctx;
  char vm[256];
  bool incoming;
  if (!is_app(pid, vm, sizeof vm, &incoming) || strcmp(vm, f->vm)) return false;
  f->pid = pid;
  return true;
}

pid_t nt_app_pid(const nt_env *e, unsigned i, const char *vm) {
  app_find f = {vm, 0};
  each_pid_in_ns(e->h[i].ns, match_app, &f);
  return f.pid;
}

unsigned nt_runners(const nt_env *e, const char *vm, unsigned *where) {
  unsigned n = 0;
  for (unsigned i = 0; i < e->n; i++)
    if (nt_app_pid(e, i, vm)) {
      n++;
      if (where) *where = i;
    }
  return n;
}

void nt_host_state(nt_env *e, unsigned i, const char *name, char *state, size_t len) {
  state[0] = 0;
  nt_out r = nt_cmd(e, i, "hpvmhost status");
  char *save = NULL;
  for (char *line = r.o ? strtok_r(r.o, "\n", &save) : NULL; r.status == 0 && line; line = strtok_r(NULL, "\n", &save)) {
    char host[64], addr[64], st[32];
    if (sscanf(line, "%63s %63s %31s", host, addr, st) != 3) continue;
    size_t hl = strlen(host);
    if (hl && host[hl - 1] == '*') host[hl - 1] = 0;
    if (!strcmp(host, name)) snprintf(state, len, "%s", st);
  }
  nt_out_free(&r);
}

char *nt_command_log(const nt_env *e) {
  char path[400];
  snprintf(path, sizeof path, "%.300s/log/command.log", e->shared);
  char *s = nt_read_file(path);
  return s ? s : strdup("");
}

/* Power loss of host i: its link cut, then every process in its namespace (hpvmd, its hpvmapps,
 * commands running there) killed until none is left. Only hpvmd is reaped here (waitpid(-1)
 * would also reap the test's other children, whose status the test may still want). */
void nt_host_crash(nt_env *e, unsigned i) {
  nt_link_down(e, i);
  for (int tries = 0; tries < 200; tries++) {
    int n = 0;
    each_pid_in_ns(e->h[i].ns, kill_one, &n);
    if (!n) break;
    usleep(10000);
  }
  if (e->h[i].hpvmd > 0)
    while (waitpid(e->h[i].hpvmd, NULL, 0) < 0 && errno == EINTR) {
    }
  e->h[i].hpvmd = 0;
}

void nt_app_kill(nt_env *e, unsigned i, const char *vm) {
  pid_t pid = nt_app_pid(e, i, vm);
  if (!pid) fail_msg("%s runs no hpvmapp for %s to kill", e->h[i].name, vm);
  kill(pid, SIGKILL);
  uint64_t end = nt_ms() + 10000;
  while (pid_alive(pid) && nt_ms() < end) usleep(5000);
  if (pid_alive(pid)) fail_msg("hpvmapp %d of %s on %s survived SIGKILL for 10 s", (int)pid, vm, e->h[i].name);
}

/* ---- Cleanup, whatever way the test ends ----------------------------------------------------- */

/* The environments alive in this process. A signal handler can reach nothing else, hence
 * this one piece of file-scope state; it belongs to the test process, not to hpvm. */
static nt_env *live_envs[4];

static void env_register(nt_env *e) {
  for (unsigned k = 0; k < sizeof live_envs / sizeof live_envs[0]; k++)
    if (!live_envs[k]) {
      live_envs[k] = e;
      return;
    }
  fail_msg("more than %zu netns environments at once", sizeof live_envs / sizeof live_envs[0]);
}

static void env_unregister(nt_env *e) {
  for (unsigned k = 0; k < sizeof live_envs / sizeof live_envs[0]; k++)
    if (live_envs[k] == e) live_envs[k] = NULL;
}

static void env_destroy(nt_env *e) {
  for (unsigned i = 0; i < e->n; i++)
    if (e->h[i].hpvmd > 0) kill(e->h[i].hpvmd, SIGKILL);
  for (unsigned i = 0; i < e->n; i++) delete_ns(e->h[i].ns);
  if (e->bridged) delete_ns(e->br_ns);
  for (unsigned i = 0; i < e->n; i++) e->h[i].hpvmd = 0;
  if (e->dir[0]) {
    if (getenv("NETNS_TEST_KEEP")) {
      fprintf(stderr, "netns test: kept %s\n", e->dir);
    } else {
      char *argv[] = {"rm", "-rf", e->dir, NULL};
      nt_run_in(NULL, NULL, argv);
    }
  }
}

static void cleanup_all(void) {
  for (unsigned k = 0; k < sizeof live_envs / sizeof live_envs[0]; k++)
    if (live_envs[k]) {
      nt_env *e = live_envs[k];
      live_envs[k] = NULL;
      env_destroy(e);
    }
}

static void on_fatal_signal(int sig) {
  cleanup_all();
  signal(sig, SIG_DFL);
  raise(sig);
}

static void install_cleanup(void) {
  static bool installed;    /* once per process, as atexit wants */
  if (installed) return;
  installed = true;
  atexit(cleanup_all);
  int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGABRT, SIGQUIT};
  for (unsigned k = 0; k < sizeof sigs / sizeof sigs[0]; k++) signal(sigs[k], on_fatal_signal);
  /* A command's stdin/stdout pipe closed early must not kill the test before cleanup. */
  signal(SIGPIPE, SIG_IGN);
}

static bool any_live_env(void) {
  for (unsigned k = 0; k < sizeof live_envs / sizeof live_envs[0]; k++)
    if (live_envs[k]) return true;
  return false;
}

/* Namespaces hpvmt-<pid>-* whose pid is gone (or is this process while it has no environment:
 * a previous owner of the pid) are leftovers of a killed test: empty and delete them, and
 * their directories. */
static bool stale_owner(const char *name) {
  if (strncmp(name, PREFIX, strlen(PREFIX))) return false;
  pid_t pid = (pid_t)atoi(name + strlen(PREFIX));
  return pid > 0 && (pid == getpid() ? !any_live_env() : !pid_alive(pid));
}

static void remove_stale(void) {
  DIR *d = opendir(NETNS_RUN_DIR);
  struct dirent *de;
  while (d && (de = readdir(d)))
    if (stale_owner(de->d_name)) {
      fprintf(stderr, "netns test: deleting stale namespace %s\n", de->d_name);
      delete_ns(de->d_name);
    }
  if (d) closedir(d);
  d = opendir("/tmp");
  while (d && (de = readdir(d)))
    if (stale_owner(de->d_name)) {
      char path[300];
      snprintf(path, sizeof path, "/tmp/%s", de->d_name);
      char *argv[] = {"rm", "-rf", path, NULL};
      nt_run_in(NULL, NULL, argv);
    }
  if (d) closedir(d);
}

/* ---- The environment ------------------------------------------------------------------------ */

static void skip_because(const char *why) {
  printf("SKIP: %s\n", why);
  fflush(stdout);
  exit(NT_SKIP);
}

void nt_require_netns(void) {
  if (geteuid() != 0) skip_because("the multi-host tests need root (network namespaces, veth, tc)");
  char *out = NULL;
  if (tool(&out, "ip -V") != 0) skip_because("no ip(8): install iproute2");
  free(out);
  install_cleanup();
  remove_stale();
  if (getenv("NETNS_TEST_FILTER")) cmocka_set_test_filter(getenv("NETNS_TEST_FILTER"));
  char a[64], b[64], line[300];
  snprintf(a, sizeof a, PREFIX "%d-probe0", (int)getpid());
  snprintf(b, sizeof b, PREFIX "%d-probe1", (int)getpid());
  snprintf(line, sizeof line, "ip netns add %s", a);
  int st = tool(&out, line);
  if (st != 0) {
    char why[600];
    snprintf(why, sizeof why, "cannot create a network namespace (%s): %s", line, out ? out : "");
    free(out);
    skip_because(why);
  }
  free(out);
  out = NULL;
  snprintf(line, sizeof line, "ip netns add %s", b);
  st = tool(NULL, line);
  snprintf(line, sizeof line, "ip link add p0 netns %s type veth peer name p1 netns %s", a, b);
  if (!st) st = tool(&out, line);
  delete_ns(a), delete_ns(b);
  if (st != 0) {
    char why[600];
    snprintf(why, sizeof why, "cannot create a veth pair (%s): %s", line, out ? out : "");
    free(out);
    skip_because(why);
  }
  free(out);
}

static void host_init(nt_env *e, unsigned i) {
  nt_host *h = &e->h[i];
  char letter = (char)('a' + i);
  h->index = i;
  snprintf(h->name, sizeof h->name, "host%c", letter);
  snprintf(h->ns, sizeof h->ns, "%s-%c", e->prefix, letter);
  snprintf(h->dev, sizeof h->dev, "eth0");
  snprintf(h->addr, sizeof h->addr, "10.77.0.%u", i + 1);
  snprintf(h->listen, sizeof h->listen, "%s:%d", h->addr, NT_PORT);
  snprintf(h->state, sizeof h->state, "%s/state-%c", e->dir, letter);
  snprintf(h->sock, sizeof h->sock, "%s/hpvmd.sock", h->state);
  snprintf(h->log, sizeof h->log, "%s/hpvmd-%c.log", e->dir, letter);
  mkdir(h->state, 0755);
}

nt_env *nt_env_new(unsigned n) {
  assert_true(n >= 2 && n <= NT_MAX_HOSTS);
  install_cleanup();
  nt_env *e = calloc(1, sizeof *e);
  assert_non_null(e);
  e->n = n;
  e->bridged = n > 2;
  snprintf(e->prefix, sizeof e->prefix, PREFIX "%d", (int)getpid());
  snprintf(e->dir, sizeof e->dir, "/tmp/%s-XXXXXX", e->prefix);
  if (!mkdtemp(e->dir)) fail_msg("mkdtemp %s: %s", e->dir, strerror(errno));
  snprintf(e->shared, sizeof e->shared, "%s/shared", e->dir);
  mkdir(e->shared, 0755);
  env_register(e);
  for (unsigned i = 0; i < n; i++) {
    host_init(e, i);
    delete_ns(e->h[i].ns);            /* a leftover of an earlier owner of this pid */
    nt_ip("netns add %s", e->h[i].ns);
    nt_ip("-n %s link set lo up", e->h[i].ns);
  }
  if (e->bridged) {
    snprintf(e->br_ns, sizeof e->br_ns, "%s-br", e->prefix);
    delete_ns(e->br_ns);
    nt_ip("netns add %s", e->br_ns);
    nt_ip("-n %s link add br0 type bridge", e->br_ns);
    nt_ip("-n %s link set br0 up", e->br_ns);
    for (unsigned i = 0; i < n; i++) {
      nt_host *h = &e->h[i];
      snprintf(h->peer_ns, sizeof h->peer_ns, "%s", e->br_ns);
      snprintf(h->peer_dev, sizeof h->peer_dev, "port%u", i);
      nt_ip("link add %s netns %s type veth peer name %s netns %s", h->dev, h->ns, h->peer_dev, h->peer_ns);
      nt_ip("-n %s link set %s master br0 up", h->peer_ns, h->peer_dev);
    }
  } else {
    nt_host *a = &e->h[0], *b = &e->h[1];
    snprintf(a->peer_ns, sizeof a->peer_ns, "%s", b->ns);
    snprintf(a->peer_dev, sizeof a->peer_dev, "%s", b->dev);
    snprintf(b->peer_ns, sizeof b->peer_ns, "%s", a->ns);
    snprintf(b->peer_dev, sizeof b->peer_dev, "%s", a->dev);
    nt_ip("link add %s netns %s type veth peer name %s netns %s", a->dev, a->ns, b->dev, b->ns);
  }
  for (unsigned i = 0; i < n; i++) {
    nt_ip("-n %s addr add %s/24 dev %s", e->h[i].ns, e->h[i].addr, e->h[i].dev);
    nt_ip("-n %s link set %s up", e->h[i].ns, e->h[i].dev);
  }
  return e;
}

void nt_env_free(nt_env *e) {
  if (!e) return;
  env_unregister(e);
  env_destroy(e);
  free(e);
}

int nt_setup2(void **state) {
  nt_env *e = nt_env_new(2);
  *state = e;
  nt_hpvmd_start(e, 0);
  nt_hpvmd_start(e, 1);
  return 0;
}

int nt_teardown(void **state) {
  nt_env_free(*state);
  return 0;
}

/* ---- hpvmd ---------------------------------------------------------------------------------- */

void nt_dump_logs(const nt_env *e) {
  for (unsigned i = 0; i < e->n; i++) {
    char *s = nt_read_file(e->h[i].log);
    fprintf(stderr, "---- hpvmd log of %s (%s) ----\n%s---- end ----\n", e->h[i].name, e->h[i].log,
            s ? s : "(none)\n");
    free(s);
  }
}

void nt_hpvmd_start(nt_env *e, unsigned i) {
  nt_host *h = &e->h[i];
  assert_int_equal(h->hpvmd, 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    if (enter_ns(h->ns)) _exit(126);
    redirect_out(h->log);
    char *argv[20] = {"hpvmd", "--foreground", "--shared", e->shared, "--state-dir", h->state, "--name", h->name,
                      "--listen", h->listen, "--hpvmapp", HPVMAPP};
    int argc = 12;
    if (e->lease_timeout[0]) argv[argc++] = "--lease-timeout", argv[argc++] = e->lease_timeout;
    if (e->gossip_probe_ms[0]) argv[argc++] = "--gossip-probe-ms", argv[argc++] = e->gossip_probe_ms;
    argv[argc] = NULL;
    execv(HPVMD, argv);
    _exit(127);
  }
  h->hpvmd = pid;
  uint64_t end = nt_ms() + 10000;
  while (nt_ms() < end) {
    int fd;
    char msg[600];
    if (hpvmd_connect(h->sock, &fd, msg, sizeof msg) == 0) {
      close(fd);
      return;
    }
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      h->hpvmd = 0;
      nt_dump_logs(e);
      fail_msg("hpvmd of %s exited while starting (status %d)", h->name, st);
    }
    usleep(20000);
  }
  nt_dump_logs(e);
  fail_msg("hpvmd of %s did not answer on %s within 10 s", h->name, h->sock);
}

void nt_hpvmd_stop(nt_env *e, unsigned i, int sig) {
  nt_host *h = &e->h[i];
  if (!h->hpvmd) return;
  kill(h->hpvmd, sig);
  while (waitpid(h->hpvmd, NULL, 0) < 0 && errno == EINTR) {
  }
  h->hpvmd = 0;
}

/* ---- Commands in a host ---------------------------------------------------------------------- */

void nt_out_free(nt_out *r) {
  free(r->o);
  free(r->e);
}

static char *slurp(int fd) {
  size_t cap = 4096, n = 0;
  char *b = malloc(cap);
  ssize_t r;
  while ((r = read(fd, b + n, cap - n - 1)) > 0 || (r < 0 && errno == EINTR)) {
    if (r > 0) n += (size_t)r;
    if (cap - n < 2) b = realloc(b, cap *= 2);
  }
  b[n] = 0;
  return b;
}

/* Child side of a command in host i: namespace, HPVMD_SOCKET, exec from build/bin. */
static void exec_cmd(nt_env *e, unsigned i, char *line) {
  char *argv[128], path[600];
  split(line, argv, 128);
  if (!argv[0]) _exit(127);
  if (enter_ns(e->h[i].ns)) _exit(126);
  setenv("HPVMD_SOCKET", e->h[i].sock, 1);
  snprintf(path, sizeof path, "%s/%s", HPVM_BIN_DIR, argv[0]);
  execv(path, argv);
  _exit(127);
}

static nt_out run_cmd(nt_env *e, unsigned i, char *line) {
  int po[2], pe[2];
  assert_int_equal(pipe(po), 0);
  assert_int_equal(pipe(pe), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int nul = open("/dev/null", O_RDONLY);
    dup2(nul, 0), dup2(po[1], 1), dup2(pe[1], 2);
    close(po[0]), close(pe[0]);
    exec_cmd(e, i, line);
  }
  close(po[1]), close(pe[1]);
  nt_out r;
  /* stderr is small; read stdout first, then stderr (both pipes drain before exit). */
  r.o = slurp(po[0]);
  r.e = slurp(pe[0]);
  close(po[0]), close(pe[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

nt_out nt_cmd(nt_env *e, unsigned i, const char *fmt, ...) {
  char line[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  return run_cmd(e, i, line);
}

char *nt_ok(nt_env *e, unsigned i, const char *fmt, ...) {
  char line[4096], copy[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  snprintf(copy, sizeof copy, "%s", line);
  nt_out r = run_cmd(e, i, copy);
  if (r.status != 0) {
    nt_dump_logs(e);
    fail_msg("%s: '%s' exited %d: %s%s", e->h[i].name, line, r.status, r.o, r.e);
  }
  free(r.e);
  return r.o;
}

pid_t nt_spawn(nt_env *e, unsigned i, const char *out, const char *fmt, ...) {
  char line[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    redirect_out(out);
    exec_cmd(e, i, line);
  }
  return pid;
}

int nt_wait_child(pid_t pid, int timeout_ms) {
  uint64_t end = nt_ms() + (uint64_t)timeout_ms;
  for (;;) {
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (r < 0 && errno != EINTR) return -1;
    if (nt_ms() >= end) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return -1;
    }
    usleep(5000);
  }
}

/* ---- Links ------------------------------------------------------------------------------------ */

void nt_link_down(nt_env *e, unsigned i) {
  nt_ip("-n %s link set %s down", e->h[i].ns, e->h[i].dev);
}

void nt_link_up(nt_env *e, unsigned i) {
  nt_ip("-n %s link set %s up", e->h[i].ns, e->h[i].dev);
}

/* One end: tbf with a bucket of at least 20 ms of traffic (and never below 32 KiB, so a
 * full-size segment always fits) and up to 100 ms of queue. */
static void shape_end(const char *ns, const char *dev, unsigned rate_kbit) {
  char line[400], *out = NULL;
  if (!rate_kbit) {
    snprintf(line, sizeof line, "tc -n %s qdisc del dev %s root", ns, dev);
    tool(NULL, line);                /* nothing to delete is fine */
    return;
  }
  unsigned burst = rate_kbit / 8 * 20;   /* bytes in 20 ms: kbit/s / 8 = bytes/ms */
  if (burst < 32768) burst = 32768;
  snprintf(line, sizeof line, "tc -n %s qdisc replace dev %s root tbf rate %ukbit burst %u latency 100ms", ns, dev,
           rate_kbit, burst);
  int st = tool(&out, line);
  if (st != 0 && out && strstr(out, "qdisc kind is unknown")) {
    printf("SKIP: the kernel has no tbf qdisc (sch_tbf) to shape links: %s", out);
    free(out);
    skip();
  }
  if (st != 0) fail_msg("'%s' exited %d: %s", line, st, out ? out : "");
  free(out);
}

void nt_link_shape(nt_env *e, unsigned i, unsigned rate_kbit) {
  shape_end(e->h[i].ns, e->h[i].dev, rate_kbit);
  shape_end(e->h[i].peer_ns, e->h[i].peer_dev, rate_kbit);
}

/* Receiver, in host `to`: accept one connection, read to EOF, answer one byte. */
static void transfer_receiver(const nt_host *h, int ready) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(TRANSFER_PORT)};
  inet_pton(AF_INET, h->addr, &a.sin_addr);
  if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 1)) _exit(2);
  if (write(ready, "r", 1) != 1) _exit(2);
  int c = accept(s, NULL, NULL);
  if (c < 0) _exit(2);
  char buf[65536];
  ssize_t r;
  while ((r = read(c, buf, sizeof buf)) > 0) {
  }
  _exit(r == 0 && write(c, "k", 1) == 1 ? 0 : 3);
}

/* Sender, in host `from`: connect within 2 s, send bytes, half-close, wait for the answer. */
static void transfer_sender(const nt_host *to, size_t bytes) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(TRANSFER_PORT)};
  inet_pton(AF_INET, to->addr, &a.sin_addr);
  if (connect(s, (struct sockaddr *)&a, sizeof a) && errno != EINPROGRESS) _exit(4);
  struct pollfd p = {.fd = s, .events = POLLOUT};
  int err = 0;
  socklen_t len = sizeof err;
  if (poll(&p, 1, 2000) != 1 || getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) || err) _exit(4);
  fcntl(s, F_SETFL, 0);
  static char buf[65536];
  while (bytes) {
    size_t k = bytes < sizeof buf ? bytes : sizeof buf;
    ssize_t w = write(s, buf, k);
    if (w <= 0) _exit(5);
    bytes -= (size_t)w;
  }
  shutdown(s, SHUT_WR);
  char c;
  _exit(read(s, &c, 1) == 1 ? 0 : 6);
}

long nt_transfer(nt_env *e, unsigned from, unsigned to, size_t bytes, int timeout_ms) {
  int ready[2];
  assert_int_equal(pipe(ready), 0);
  pid_t rx = fork();
  assert_true(rx >= 0);
  if (rx == 0) {
    close(ready[0]);
    if (enter_ns(e->h[to].ns)) _exit(126);
    transfer_receiver(&e->h[to], ready[1]);
  }
  close(ready[1]);
  char c;
  ssize_t r = read(ready[0], &c, 1);
  close(ready[0]);
  if (r != 1) {
    nt_wait_child(rx, 1000);
    fail_msg("the transfer receiver in %s did not start", e->h[to].name);
  }
  uint64_t t0 = nt_ms();
  pid_t tx = fork();
  assert_true(tx >= 0);
  if (tx == 0) {
    if (enter_ns(e->h[from].ns)) _exit(126);
    transfer_sender(&e->h[to], bytes);
  }
  int st = nt_wait_child(tx, timeout_ms);
  long ms = (long)(nt_ms() - t0);
  kill(rx, SIGKILL);
  nt_wait_child(rx, 1000);
  return st == 0 ? ms : -1;
}

/* ---- Guests and shared state ------------------------------------------------------------------- */

char *nt_console(const nt_env *e, unsigned i, const char *vm) {
  char path[600];
  snprintf(path, sizeof path, "%s/vms/%s/console.log", e->h[i].state, vm);
  char *s = nt_read_file(path);
  return s ? s : strdup("");
}

int nt_lease(const nt_env *e, const char *vm, char *owner, size_t ownerlen, uint64_t *generation) {
  sto_options o = {.root = e->shared, .host = "netns-test"};
  sto_store *s = NULL;
  int rc = sto_open(&o, &s);
  sto_lease l;
  if (!rc) rc = sto_lease_read(s, vm, &l);
  if (!rc) {
    bool held = l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD;
    if (owner && ownerlen) snprintf(owner, ownerlen, "%s", held ? l.owner : "");
    if (generation) *generation = l.lease_generation;
  }
  sto_close(s);
  return rc;
}

int nt_host_index(const nt_env *e, const char *name) {
  for (unsigned i = 0; i < e->n; i++)
    if (!strcmp(e->h[i].name, name)) return (int)i;
  return -1;
}

/* ---- Guests for migration tests ---------------------------------------------------------------- */

void nt_guest_create(nt_env *e, unsigned i, const char *vm, unsigned mem_mib, unsigned cpus, const char *args,
                     unsigned disk_mib) {
  char disk[600] = "";
  if (disk_mib) {
    char path[400];
    snprintf(path, sizeof path, "%s/%s-disk.img", e->shared, vm);
    free(nt_ok(e, i, "hpvmdevmgmt -S %uM %s", disk_mib, path));
    snprintf(disk, sizeof disk, "-a disk:avio_stor::file:%s", path);
  }
  free(nt_ok(e, i, "hpvmcreate -P %s -c %u -r %uM -K %s -A \"%s\" %s", vm, cpus, mem_mib, HPVMK, args, disk));
}

int nt_state(nt_env *e, unsigned i, const char *vm) {
  Hpvm__StatusRequest s = HPVM__STATUS_REQUEST__INIT;
  s.name = (char *)vm;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_STATUS;
  req.status = &s;
  Hpvm__Response *r = NULL;
  hpvmd_call(e->h[i].sock, &req, &r);
  int st = !r ? HPVM_EIO : r->error ? r->error : r->body_case != HPVM__RESPONSE__BODY_VM ? HPVM_EIO : (int)r->vm->state;
  hpvmd_response_free(r);
  return st;
}

bool nt_wait_state(nt_env *e, unsigned i, const char *vm, int state, int timeout_ms) {
  uint64_t end = nt_ms() + (uint64_t)timeout_ms;
  do {
    if (nt_state(e, i, vm) == state) return true;
    usleep(20000);
  } while (nt_ms() < end);
  return false;
}

bool nt_console_wait(const nt_env *e, unsigned i, const char *vm, const char *needle, int timeout_ms) {
  char path[600];
  snprintf(path, sizeof path, "%s/vms/%s/console.log", e->h[i].state, vm);
  return nt_wait_file(path, needle, timeout_ms);
}

void nt_guest_start(nt_env *e, unsigned i, const char *vm, const char *needle) {
  free(nt_ok(e, i, "hpvmstart -P %s", vm));
  if (needle && !nt_console_wait(e, i, vm, needle, 120000)) {
    char *c = nt_console(e, i, vm);
    fail_msg("%s: '%s' not on the console of %s within 120 s:\n%s", e->h[i].name, needle, vm, c);
  }
}

static unsigned count_in(const char *s, const char *needle) {
  unsigned n = 0;
  for (const char *p = s; p && (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

/* Host i's whole console history of vm: console.log.1 (rotated) then console.log. */
static char *console_all(const nt_env *e, unsigned i, const char *vm) {
  char path[600];
  snprintf(path, sizeof path, "%s/vms/%s/console.log.1", e->h[i].state, vm);
  char *old = nt_read_file(path), *cur = nt_console(e, i, vm);
  if (!old) return cur;
  size_t a = strlen(old), b = strlen(cur);
  old = realloc(old, a + b + 1);
  memcpy(old + a, cur, b + 1);
  free(cur);
  return old;
}

unsigned nt_guest_boots(const nt_env *e, const char *vm) {
  unsigned n = 0;
  for (unsigned i = 0; i < e->n; i++) {
    char *s = console_all(e, i, vm);
    n += count_in(s, "hpvmk: IA-64 guest kernel:");
    free(s);
  }
  return n;
}

unsigned nt_guest_settled(nt_env *e, const char *vm, int timeout_ms) {
  uint64_t end = nt_ms() + (uint64_t)timeout_ms;
  unsigned runners = 0, where = 0;
  char owner[300] = "";
  for (;;) {
    runners = nt_runners(e, vm, &where);
    if (runners == 1 && nt_lease(e, vm, owner, sizeof owner, NULL) == 0 && !strcmp(owner, e->h[where].name) &&
        nt_state(e, where, vm) == HPVM__VM_RUN_STATE__VM_RUN_STATE_ON)
      return where;
    if (nt_ms() >= end) break;
    usleep(20000);
  }
  nt_dump_logs(e);
  fail_msg("%s did not settle on exactly one host within %d ms: %u hosts run it, the lease names '%s'", vm,
           timeout_ms, runners, owner);
  return 0;
}

char *nt_guest_verify(nt_env *e, unsigned i, const char *vm, const char *workloads) {
  free(nt_ok(e, i, "hpvmstop -P %s -g -t 60", vm));
  if (!nt_wait_state(e, i, vm, HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF, 90000))
    fail_msg("%s did not power off on %s within 90 s of a graceful stop", vm, e->h[i].name);
  for (unsigned k = 0; k < e->n; k++) {
    char *s = console_all(e, k, vm);
    const char *bad = strstr(s, "FAIL");
    if (bad) {
      nt_dump_logs(e);
      fail_msg("the console of %s on %s reports a failure: %.300s\n---- whole log ----\n%s", vm, e->h[k].name, bad, s);
    }
    free(s);
  }
  char *s = nt_console(e, i, vm);
  char words[400], want[200];
  snprintf(words, sizeof words, "%s shutdown", workloads);
  for (char *w = strtok(words, " "); w; w = strtok(NULL, " ")) {
    snprintf(want, sizeof want, "PASS %s\n", w);
    if (!strstr(s, want)) fail_msg("'%s' is not on the console of %s on %s:\n%s", want, vm, e->h[i].name, s);
  }
  return s;
}
