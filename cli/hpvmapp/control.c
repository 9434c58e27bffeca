/* control.c — hpvmapp under hpvmd (see control.h): the supervisor connection, the console
 * pump and the files in the VM's run directory.
 *
 * Two threads besides the VM's own. The control thread polls the supervisor connection (the
 * socketpair from the spawn, later whatever connected to app.sock) and the listening socket;
 * it says hello on every new connection, answers status queries, and does what commands ask
 * (power off, ask the guest to shut down, pause, resume, suspend to a file, console input).
 * A newer connection replaces an older one: a restarted hpvmd must always be able to take
 * over, even from one that hangs. The console pump reads what the guest prints, appends it to console.log and
 * forwards it while a supervisor is there. Sends are serialized by send_lock and time out
 * after a few seconds (and never later than the fence deadline), so a supervisor that stops
 * reading costs the guest its viewers, never its progress, and never keeps a fenced guest's
 * process alive.
 *
 * Nothing here may end the VM because the supervisor went away: hpvmd restarts (or
 * crashes) while guests run, and the next one re-attaches through app.sock — except the
 * lease: hpvmd tells the fence deadline of the guest's lease after each renewal
 * (AppCommand.lease), and when it passes with no newer one the control thread powers the
 * guest off (self-fencing: nobody renews the lease, another host may soon take it over). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "app_migrate.h"
#include "control.h"
#include "control.pb-c.h"
#include "rpc.h"

#define CONSOLE_LOG_ROTATE (1u << 20)
#define SEND_TIMEOUT_S 3
#define CMD_MAX (1u << 20)   /* the largest AppCommand accepted (console input is small) */

struct app_ctl {
  char *name, *run_dir;
  vm *v;
  int listen_fd;
  int wake[2];                 /* finish -> control thread */
  int con_in[2], con_out[2];   /* guest console: [0] read end, [1] write end */
  pthread_t ctl_thread, pump_thread;
  bool ctl_running, pump_running;
  /* The supervisor connection: replaced only by the control thread, under send_lock. */
  pthread_mutex_t send_lock;
  int fd;
  bool restarted;              /* the current connection is not the spawn's socketpair */
  uint64_t send_timeout_ns;    /* SO_SNDTIMEO of fd now (bound_send_timeout) */
  wire_framer in;              /* owned by the control thread */
  atomic_int state;            /* HPVM__VM_RUN_STATE__* */
  atomic_bool poweroff_asked;
  char *suspended_to;          /* hpvmsuspend saved the VM there (control thread; read after its join) */
  app_mig *mig;                /* live migration (migrate.c): its commands go there */
  atomic_uint generation;      /* +1 per supervisor connection: pending requests are re-sent */
  _Atomic uint64_t fence_ns;   /* hpvmd's lease deadline (CLOCK_MONOTONIC); 0: none given */
  char *migrated_to;           /* the guest was handed over to this host (set before power-off) */
  char *exit_note;             /* the reason the exit reports instead of the usual one */
  int64_t started_ns;
  /* Console log, owned by the pump. */
  int log_fd;
  uint64_t log_size;
};

static int64_t wall_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int fail(const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "hpvmapp: ");
  fprintf(stderr, fmt, a, b);
  fprintf(stderr, "\n");
  return -1;
}

/* ---- Options ---------------------------------------------------------------------------------- */

int app_ctl_parse(app_ctl_opts *o, int argc, char **argv, int *i) {
  const char *a = argv[*i];
  if (strcmp(a, "--control-fd") && strcmp(a, "--name") && strcmp(a, "--run-dir")) return 0;
  if (*i + 1 >= argc) return fail("%s needs a value; see hpvmapp --help%s", a, "");
  const char *val = argv[++*i];
  if (!strcmp(a, "--name")) o->name = val;
  else if (!strcmp(a, "--run-dir")) o->run_dir = val;
  else {
    char *end;
    long n = strtol(val, &end, 10);
    struct stat st;
    if (*end || end == val || n < 0 || n > 65535 || fstat((int)n, &st) || !S_ISSOCK(st.st_mode))
      return fail("--control-fd %s: not an open socket%s", val, "");
    o->fd = (int)n;
  }
  return 1;
}

/* ---- Files in the run directory --------------------------------------------------------------- */

/* Write DIR/file atomically (temporary + rename): a reader sees the old or the new text. */
static int write_file(const char *dir, const char *file, const char *text) {
  char tmp[4200], path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, file);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  int rc = wire_write_all(fd, text, strlen(text));
  if (close(fd) || rc || rename(tmp, path)) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

static void unlink_in(const char *dir, const char *file) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  unlink(path);
}

static int open_console_log(app_ctl *c) {
  char path[4200];
  snprintf(path, sizeof path, "%s/console.log", c->run_dir);
  c->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  struct stat st;
  c->log_size = c->log_fd >= 0 && fstat(c->log_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
  return c->log_fd < 0 ? -1 : 0;
}

static void log_console(app_ctl *c, const void *buf, size_t len) {
  if (c->log_fd < 0) return;
  if (c->log_size + len > CONSOLE_LOG_ROTATE) {
    char from[4200], to[4200];
    snprintf(from, sizeof from, "%s/console.log", c->run_dir);
    snprintf(to, sizeof to, "%s/console.log.1", c->run_dir);
    close(c->log_fd);
    rename(from, to);
    if (open_console_log(c)) return;
  }
  if (wire_write_all(c->log_fd, buf, len) == 0) c->log_size += len;
}

/* ---- Talking to the supervisor ---------------------------------------------------------------- */

static uint64_t mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* A send waits SEND_TIMEOUT_S at most, and never past the lease's fence deadline: at the
 * deadline the guest is powered off and the process must end, whatever the supervisor does (a
 * frozen hpvmd reads nothing). Set again only when it moves by 100 ms or more (send_lock held). */
static void bound_send_timeout(app_ctl *c) {
  uint64_t limit = (uint64_t)SEND_TIMEOUT_S * 1000000000u, fence = atomic_load(&c->fence_ns), now = mono_ns();
  if (fence) limit = fence <= now ? 1000000u : fence - now < limit ? fence - now : limit;
  uint64_t cur = c->send_timeout_ns, diff = limit > cur ? limit - cur : cur - limit;
  if (cur && (limit == cur || (diff < 100000000u && limit > 1000000u))) return;
  struct timeval tv = {.tv_sec = (time_t)(limit / 1000000000u), .tv_usec = (suseconds_t)(limit % 1000000000u / 1000u)};
  if (setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0) c->send_timeout_ns = limit;
}

static void send_locked(app_ctl *c, const Hpvm__AppEvent *e) {
  if (c->fd < 0) return;
  bound_send_timeout(c);
  /* A supervisor that does not read within the timeout is treated as gone: shutdown() makes
   * the control thread see the end of the connection and wait for the next one. */
  if (wire_send_msg(c->fd, &e->base, WIRE_RPC_MAX_FRAME)) shutdown(c->fd, SHUT_RDWR);
}

static void send_event(app_ctl *c, const Hpvm__AppEvent *e) {
  pthread_mutex_lock(&c->send_lock);
  send_locked(c, e);
  pthread_mutex_unlock(&c->send_lock);
}

static uint64_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, res = 0;
  if (f) {
    if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
    fclose(f);
  }
  return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void fill_status(app_ctl *c, Hpvm__AppStatus *s) {
  vm_stats st;
  vm_get_stats(c->v, &st);
  s->state = atomic_load(&c->state);
  s->retired = st.retired;
  s->halts = st.halts;
  s->rss_bytes = rss_bytes();
  s->started_ns = c->started_ns;
  vm_sched_usage u;
  if (vm_sched_get_usage(c->v, 0, &u) == 0) s->entitlement = u.entitlement, s->cap = u.cap;
}

static void send_status(app_ctl *c) {
  Hpvm__AppStatus s = HPVM__APP_STATUS__INIT;
  Hpvm__AppEvent e = HPVM__APP_EVENT__INIT;
  fill_status(c, &s);
  e.body_case = HPVM__APP_EVENT__BODY_STATUS;
  e.status = &s;
  send_event(c, &e);
}

static void send_error(app_ctl *c, const char *msg) {
  Hpvm__AppEvent e = HPVM__APP_EVENT__INIT;
  e.body_case = HPVM__APP_EVENT__BODY_ERROR;
  e.error = (char *)msg;
  send_event(c, &e);
}

/* A new supervisor connection (the control thread only): it replaces the current one. */
static void take_connection(app_ctl *c, int fd, bool restarted) {
  pthread_mutex_lock(&c->send_lock);
  if (c->fd >= 0) close(c->fd);
  c->fd = fd;
  c->send_timeout_ns = 0;      /* bound_send_timeout sets it at the first send */
  c->restarted = restarted;
  atomic_fetch_add(&c->generation, 1);
  wire_framer_free(&c->in);
  wire_framer_init(&c->in, WIRE_MAGIC_APP, WIRE_RPC_VERSION, CMD_MAX);
  Hpvm__AppStatus s = HPVM__APP_STATUS__INIT;
  Hpvm__AppHello h = HPVM__APP_HELLO__INIT;
  Hpvm__AppEvent e = HPVM__APP_EVENT__INIT;
  fill_status(c, &s);
  h.name = c->name;
  h.pid = (int32_t)getpid();
  h.status = &s;
  h.restarted_supervisor = restarted;
  e.body_case = HPVM__APP_EVENT__BODY_HELLO;
  e.hello = &h;
  bound_send_timeout(c);
  if (wire_send_preface(fd, WIRE_MAGIC_APP, WIRE_RPC_VERSION)) shutdown(fd, SHUT_RDWR);
  else send_locked(c, &e);
  pthread_mutex_unlock(&c->send_lock);
}

static void drop_connection(app_ctl *c) {
  pthread_mutex_lock(&c->send_lock);
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  pthread_mutex_unlock(&c->send_lock);
  wire_framer_free(&c->in);
}

/* hpvmsuspend: pause, save, power off with 0, as SIGUSR1 with --state-file does, so the guest
 * never runs past the state it was saved in; the exit says where the state is. A save that
 * fails resumes the guest (the pause nests: a guest paused by hpvmd stays paused) and the one
 * reply is the error. A success has no reply: hpvmapp exits and AppExit.suspended_to says it. */
static void suspend_to(app_ctl *c, const char *path) {
  char msg[700], line[900];
  int st = atomic_load(&c->state);
  if (c->suspended_to || (st != HPVM__VM_RUN_STATE__VM_RUN_STATE_ON && st != HPVM__VM_RUN_STATE__VM_RUN_STATE_PAUSED)) {
    send_error(c, "the VM is not running (or is being stopped), so it cannot be suspended");
    return;
  }
  if (!path || path[0] != '/') {
    send_error(c, "cannot suspend: the state file needs an absolute path");
    return;
  }
  vm_pause(c->v);
  if (vm_save_file(c->v, path, msg, sizeof msg) || !(c->suspended_to = strdup(path))) {
    snprintf(line, sizeof line, "cannot suspend: %s; the guest runs on", msg);
    vm_resume(c->v);
    send_error(c, line);
    return;
  }
  fprintf(stderr, "hpvmapp: VM suspended to %s\n", path);
  vm_console_forget_unsent(c->v);   /* the line the guest is in the middle of is in the file */
  vm_power_off(c->v, 0);
}

/* Pause, resume and schedule get exactly one reply each (status or error), in the order of
 * the commands: hpvmd matches replies to its requests first in, first out. */
static void do_command(app_ctl *c, const Hpvm__AppCommand *cmd) {
  switch (cmd->body_case) {
  case HPVM__APP_COMMAND__BODY_STATUS_QUERY:
    send_status(c);
    break;
  case HPVM__APP_COMMAND__BODY_SHUTDOWN:
    if (!cmd->shutdown->graceful) {
      atomic_store(&c->poweroff_asked, true);
      vm_power_off(c->v, cmd->shutdown->status & 0xff);
      break;
    }
    /* The power button (docs/platform.md, console shutdown request): the guest decides when
     * to power off; hpvmd keeps the timeout and powers it off if it has not by then. */
    vm_request_shutdown(c->v);
    atomic_store(&c->state, HPVM__VM_RUN_STATE__VM_RUN_STATE_STOPPING);
    break;
  case HPVM__APP_COMMAND__BODY_CONSOLE_INPUT: {
    /* Non-blocking: input beyond what the pipe holds is dropped, like keys typed into a
     * serial line nobody reads. */
    ssize_t r = write(c->con_in[1], cmd->console_input.data, cmd->console_input.len);
    (void)r;
    break;
  }
  case HPVM__APP_COMMAND__BODY_PAUSE: {
    int st = atomic_load(&c->state);
    if (cmd->pause && st == HPVM__VM_RUN_STATE__VM_RUN_STATE_ON) {
      vm_pause(c->v);
      atomic_store(&c->state, HPVM__VM_RUN_STATE__VM_RUN_STATE_PAUSED);
    } else if (!cmd->pause && st == HPVM__VM_RUN_STATE__VM_RUN_STATE_PAUSED) {
      vm_resume(c->v);
      atomic_store(&c->state, HPVM__VM_RUN_STATE__VM_RUN_STATE_ON);
    } else if (st != (cmd->pause ? HPVM__VM_RUN_STATE__VM_RUN_STATE_PAUSED : HPVM__VM_RUN_STATE__VM_RUN_STATE_ON)) {
      send_error(c, cmd->pause ? "the VM is not running, so it cannot be paused" : "the VM is not paused");
      break;
    }
    send_status(c);
    break;
  }
  case HPVM__APP_COMMAND__BODY_SCHEDULE: {
    char msg[600];
    if (vm_sched_set(c->v, cmd->schedule->entitlement, cmd->schedule->cap, msg, sizeof msg)) send_error(c, msg);
    else send_status(c);
    break;
  }
  case HPVM__APP_COMMAND__BODY_SUSPEND:
    suspend_to(c, cmd->suspend->path);
    break;
  case HPVM__APP_COMMAND__BODY_LEASE:
    atomic_store(&c->fence_ns, cmd->lease->fence_mono_ns);
    break;
  case HPVM__APP_COMMAND__BODY_MIGRATE_OUT:
  case HPVM__APP_COMMAND__BODY_INCOMING:
  case HPVM__APP_COMMAND__BODY_HANDOFF_RESULT:
  case HPVM__APP_COMMAND__BODY_ADOPT_RESULT:
  case HPVM__APP_COMMAND__BODY_MIGRATE_CANCEL:
    if (c->mig) app_mig_command(c->mig, cmd);
    else send_error(c, "this hpvmapp cannot migrate");
    break;
  default:
    send_error(c, "unknown command (a newer hpvmd?)");
  }
}

/* Bytes arrived on the supervisor connection: 0, or -1 when it must be dropped. */
static int read_commands(app_ctl *c) {
  uint8_t buf[16384];
  ssize_t r = read(c->fd, buf, sizeof buf);
  if (r < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
  if (r <= 0 || wire_framer_feed(&c->in, buf, (size_t)r)) return -1;
  const uint8_t *p;
  uint32_t n;
  int rc;
  while ((rc = wire_framer_next(&c->in, &p, &n)) == 1) {
    Hpvm__AppCommand *cmd = hpvm__app_command__unpack(NULL, n, p);
    if (!cmd) return -1;      /* not our protocol: a supervisor we cannot trust */
    do_command(c, cmd);
    hpvm__app_command__free_unpacked(cmd, NULL);
  }
  if (rc < 0) fprintf(stderr, "hpvmapp: dropping the supervisor connection: %s\n", c->in.msg);
  return rc < 0 ? -1 : 0;
}

/* The lease deadline hpvmd gave has passed without a newer one (hpvmd is gone, or cannot
 * write the shared storage and would stop the guest anyway): power it off before another host
 * may take the lease over. -1 (no deadline) or the ms until it, for poll. */
static int fence_check(app_ctl *c) {
  uint64_t fence = atomic_load(&c->fence_ns), now = mono_ns();
  if (!fence) return -1;
  if (now < fence) return (int)((fence - now) / 1000000u) + 1;
  atomic_store(&c->fence_ns, 0);
  const char *why = "powered off: hpvmd did not renew the guest's lease in time (hpvmd gone?), so another host may "
                    "take it over (self-fencing)";
  fprintf(stderr, "hpvmapp: %s\n", why);
  app_ctl_set_exit_note(c, why);
  atomic_store(&c->poweroff_asked, true);
  vm_power_off(c->v, 0);
  /* A supervisor that stopped renewing may also have stopped reading (a frozen hpvmd): cut it
   * off, so no send waits out its timeout and the process ends at once (the exit record in
   * the run directory tells the next hpvmd). Only this thread changes c->fd. */
  if (c->fd >= 0) shutdown(c->fd, SHUT_RDWR);
  return -1;
}

static void *ctl_thread(void *arg) {
  app_ctl *c = arg;
  for (;;) {
    struct pollfd p[3] = {{c->wake[0], POLLIN, 0}, {c->listen_fd, POLLIN, 0}, {c->fd, POLLIN, 0}};
    int n = poll(p, c->fd >= 0 ? 3 : 2, fence_check(c));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    if (p[0].revents) break;
    if (p[1].revents & POLLIN) {
      int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
      if (fd >= 0) {
        fprintf(stderr, "hpvmapp: a new supervisor connected\n");
        take_connection(c, fd, true);
        continue;
      }
    }
    if (c->fd >= 0 && p[2].revents && read_commands(c)) {
      fprintf(stderr, "hpvmapp: supervisor gone; the VM keeps running and waits for hpvmd on app.sock\n");
      drop_connection(c);
    }
  }
  return NULL;
}

static void *pump_thread(void *arg) {
  app_ctl *c = arg;
  uint8_t buf[4096];
  for (;;) {
    ssize_t r = read(c->con_out[0], buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;        /* finish closed the write end: the console is drained */
    log_console(c, buf, (size_t)r);
    Hpvm__AppEvent e = HPVM__APP_EVENT__INIT;
    e.body_case = HPVM__APP_EVENT__BODY_CONSOLE;
    e.console.data = buf;
    e.console.len = (size_t)r;
    send_event(c, &e);
  }
  return NULL;
}

/* ---- Lifecycle -------------------------------------------------------------------------------- */

static void ctl_free(app_ctl *c) {
  int fds[] = {c->listen_fd, c->wake[0], c->wake[1], c->con_in[0], c->con_in[1], c->con_out[0], c->con_out[1],
               c->fd, c->log_fd};
  for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
    if (fds[i] >= 0) close(fds[i]);
  wire_framer_free(&c->in);
  pthread_mutex_destroy(&c->send_lock);
  free(c->name);
  free(c->run_dir);
  free(c->suspended_to);
  free(c->migrated_to);
  free(c->exit_note);
  free(c);
}

int app_ctl_prepare(const app_ctl_opts *o, vm_config *cfg, app_ctl **out) {
  *out = NULL;
  if (o->fd < 0) {
    if (o->name || o->run_dir) return fail("--name and --run-dir go with --control-fd (hpvmd's options)%s%s", "", "");
    return 0;
  }
  if (!o->name || !o->run_dir) return fail("--control-fd needs --name and --run-dir%s%s", "", "");
  app_ctl *c = calloc(1, sizeof *c);
  if (!c) return fail("out of memory%s%s", "", "");
  c->listen_fd = c->wake[0] = c->wake[1] = c->con_in[0] = c->con_in[1] = c->con_out[0] = c->con_out[1] = -1;
  c->log_fd = -1;
  c->fd = -1;
  pthread_mutex_init(&c->send_lock, NULL);
  wire_framer_init(&c->in, WIRE_MAGIC_APP, WIRE_RPC_VERSION, CMD_MAX);
  c->name = strdup(o->name);
  c->run_dir = strdup(o->run_dir);
  atomic_init(&c->state, HPVM__VM_RUN_STATE__VM_RUN_STATE_BOOTING);
  struct stat st;
  if (!c->name || !c->run_dir || stat(o->run_dir, &st) || !S_ISDIR(st.st_mode)) {
    ctl_free(c);
    return fail("--run-dir %s: not a directory%s", o->run_dir, "");
  }
  if (pipe2(c->wake, O_CLOEXEC) || pipe2(c->con_in, O_CLOEXEC) || pipe2(c->con_out, O_CLOEXEC) ||
      fcntl(c->con_in[1], F_SETFL, O_NONBLOCK)) {
    ctl_free(c);
    return fail("cannot create pipes: %s%s", strerror(errno), "");
  }
  if (open_console_log(c)) {
    ctl_free(c);
    return fail("cannot open %s/console.log: %s", o->run_dir, strerror(errno));
  }
  /* The per-VM socket a restarted hpvmd connects to (a stale one from an earlier run that
   * died is replaced: nothing can be listening on it, hpvmd only starts one hpvmapp). */
  struct sockaddr_un a;
  int dirfd;
  c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->listen_fd < 0 || wire_unix_addr(o->run_dir, "app.sock", &a, &dirfd)) {
    ctl_free(c);
    return fail("cannot create the VM's socket in %s: %s", o->run_dir, strerror(errno));
  }
  unlink(a.sun_path);
  mode_t old = umask(0177);
  int rc = bind(c->listen_fd, (struct sockaddr *)&a, sizeof a);
  umask(old);
  if (rc == 0) rc = listen(c->listen_fd, 4);
  int e = errno;
  if (dirfd >= 0) close(dirfd);
  if (rc) {
    ctl_free(c);
    return fail("cannot listen on %s/app.sock: %s", o->run_dir, strerror(e));
  }
  char pid[32];
  snprintf(pid, sizeof pid, "%d\n", (int)getpid());
  unlink_in(c->run_dir, "exit");
  if (write_file(c->run_dir, "app.pid", pid)) {
    ctl_free(c);
    return fail("cannot write %s/app.pid: %s", o->run_dir, strerror(errno));
  }
  c->fd = o->fd;
  cfg->console_in = c->con_in[0];
  cfg->console_out = c->con_out[1];
  *out = c;
  return 0;
}

int app_ctl_start(app_ctl *c, vm *v) {
  if (!c) return 0;
  c->started_ns = wall_ns();
  if (c->ctl_running) {   /* connected before the guest ran (incoming migration) */
    atomic_store(&c->state, HPVM__VM_RUN_STATE__VM_RUN_STATE_ON);
    send_status(c);
    return 0;
  }
  return app_ctl_connect(c, v, HPVM__VM_RUN_STATE__VM_RUN_STATE_ON);
}

int app_ctl_connect(app_ctl *c, vm *v, int state) {
  c->v = v;
  atomic_store(&c->state, state);
  int fd = c->fd;
  c->fd = -1;
  take_connection(c, fd, false);
  if (pthread_create(&c->pump_thread, NULL, pump_thread, c)) return HPVM_ENOMEM;
  c->pump_running = true;
  if (pthread_create(&c->ctl_thread, NULL, ctl_thread, c)) return HPVM_ENOMEM;
  c->ctl_running = true;
  return 0;
}

/* The last "guest crashed" line hpvm_vm wrote to our stderr (the run directory's app.log,
 * where hpvmd sends it), or "" when there is none. */
static void crash_line(const app_ctl *c, char *out, size_t len) {
  char path[4200], line[512];
  snprintf(path, sizeof path, "%s/app.log", c->run_dir);
  out[0] = 0;
  FILE *f = fopen(path, "r");
  if (!f) return;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "hpvm: guest crashed", 19)) {
      line[strcspn(line, "\n")] = 0;
      snprintf(out, len, "%s", line + 6);
    }
  fclose(f);
}

static void exit_reason(const app_ctl *c, int status, char *out, size_t len) {
  char crash[512];
  if (c->migrated_to) snprintf(out, len, "migrated to host %s", c->migrated_to);
  else if (c->exit_note) snprintf(out, len, "%s", c->exit_note);
  else if (c->suspended_to) snprintf(out, len, "suspended to %s (hpvmsuspend)", c->suspended_to);
  else if (atomic_load(&c->poweroff_asked)) snprintf(out, len, "powered off by hpvmd (exit %d)", status);
  else if (status == VM_EXIT_CRASH) {
    crash_line(c, crash, sizeof crash);
    snprintf(out, len, "%s", crash[0] ? crash : "guest crashed (its registers are in app.log)");
  } else if (status > 128 && status < 128 + 65) {
    snprintf(out, len, "hpvmapp stopped by signal %d (%s)", status - 128, strsignal(status - 128));
  } else snprintf(out, len, "the guest powered off (exit %d)", status);
}

void app_ctl_discard(app_ctl *c) {
  if (!c) return;
  unlink_in(c->run_dir, "app.sock");
  unlink_in(c->run_dir, "app.pid");
  ctl_free(c);
}

void app_ctl_finish(app_ctl *c, int status) {
  if (!c) return;
  if (c->ctl_running) {
    ssize_t r = write(c->wake[1], "x", 1);
    (void)r;
    pthread_join(c->ctl_thread, NULL);
  }
  close(c->con_out[1]);
  c->con_out[1] = -1;
  if (c->pump_running) pthread_join(c->pump_thread, NULL);
  char reason[600], text[640];
  exit_reason(c, status, reason, sizeof reason);
  snprintf(text, sizeof text, "%d\n%s\n", status, reason);
  /* exit first, then the message: an hpvmd that dies in between still finds out. */
  write_file(c->run_dir, "exit", text);
  Hpvm__AppExit x = HPVM__APP_EXIT__INIT;
  Hpvm__AppEvent e = HPVM__APP_EVENT__INIT;
  x.status = status;
  x.reason = reason;
  if (c->suspended_to) x.suspended_to = c->suspended_to;
  if (c->migrated_to) x.migrated_to = c->migrated_to;
  e.body_case = HPVM__APP_EVENT__BODY_EXIT;
  e.exit = &x;
  send_event(c, &e);
  unlink_in(c->run_dir, "app.sock");
  unlink_in(c->run_dir, "app.pid");
  ctl_free(c);
}

/* ---- Live migration (migrate.c) ------------------------------------------------------------------ */

void app_ctl_set_mig(app_ctl *c, app_mig *m) {
  if (c) c->mig = m;
}

void app_ctl_send(app_ctl *c, const Hpvm__AppEvent *e) {
  if (c) send_event(c, e);
}

unsigned app_ctl_generation(app_ctl *c) {
  return c ? atomic_load(&c->generation) : 0;
}

void app_ctl_set_state(app_ctl *c, int state) {
  if (c) atomic_store(&c->state, state);
}

void app_ctl_set_migrated(app_ctl *c, const char *host) {
  if (!c) return;
  free(c->migrated_to);
  c->migrated_to = strdup(host);
}

void app_ctl_set_exit_note(app_ctl *c, const char *reason) {
  if (!c) return;
  free(c->exit_note);
  c->exit_note = strdup(reason);
}
