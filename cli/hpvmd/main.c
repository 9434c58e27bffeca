/* main.c — hpvmd, the hpvm host daemon: one per host, on a libuv loop.
 *
 *   hpvmd --shared DIR [--state-dir DIR] [--name HOST] [--listen ADDR:PORT] [--foreground]
 *         [--config FILE] [--group GROUP] [--hpvmapp PATH] [--log stderr|syslog]
 *         [--stop-timeout SECONDS] [--lease-timeout SECONDS] [--gossip ADDR:PORT|off]
 *         [--gossip-probe-ms MS]
 *
 * It serves the control socket STATE/hpvmd.sock (server.c) that every hpvm command talks
 * to, keeps VM configurations in the shared directory DIR (storage.h), runs one hpvmapp per
 * running guest (super.c) and re-attaches to the ones a previous hpvmd left running. A config
 * file of "key = value" lines (the long option names without "--") is the alternative to
 * flags; flags win. Without --foreground it detaches and logs to syslog; the parent returns
 * only once the daemon listens (or with the reason it could not). docs/hpvmd.md is the user
 * guide; dist/hpvmd.service runs it under systemd.
 *
 * Exit status: 0 after SIGTERM/SIGINT (guests keep running), 1 when it cannot start, 2 on a
 * bad option. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "hpvmd_client.h"
#include "internal.h"

#define DEFAULT_CONFIG "/etc/hpvm/hpvmd.conf"

int64_t hd_wall_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

uint64_t hd_mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

const char *hd_state_name(int state) {
  switch (state) {
  case HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF: return "Off";
  case HPVM__VM_RUN_STATE__VM_RUN_STATE_BOOTING: return "On (booting)";
  case HPVM__VM_RUN_STATE__VM_RUN_STATE_ON: return "On";
  case HPVM__VM_RUN_STATE__VM_RUN_STATE_STOPPING: return "Stopping";
  case HPVM__VM_RUN_STATE__VM_RUN_STATE_PAUSED: return "Paused";
  case HPVM__VM_RUN_STATE__VM_RUN_STATE_CRASH: return "Crash";
  case HPVM__VM_RUN_STATE__VM_RUN_STATE_BAD_RECORD: return "Invalid";
  case HPVM__VM_RUN_STATE__VM_RUN_STATE_ELSEWHERE: return "On (another host)";
  case HPVM__VM_RUN_STATE__VM_RUN_STATE_INCOMING: return "Migrating in";
  default: return "?";
  }
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: hpvmd --shared DIR [--state-dir DIR] [--name HOST] [--listen ADDR:PORT] [--foreground]\n"
          "             [--config FILE] [--group GROUP] [--hpvmapp PATH] [--log stderr|syslog]\n"
          "             [--stop-timeout SECONDS] [--lease-timeout SECONDS] [--gossip ADDR:PORT|off]\n"
          "             [--gossip-probe-ms MS]\n"
          "The hpvm host daemon: runs the guests of this host, one hpvmapp process each, and serves\n"
          "the hpvm commands on the Unix socket STATE/hpvmd.sock.\n"
          "  --shared DIR        shared storage root (VM configurations, leases, command log)\n"
          "  --state-dir DIR     this host's own state: control socket, per-VM run directories\n"
          "                      (default %s)\n"
          "  --name HOST         this host's name in the cluster (default: the host name)\n"
          "  --listen ADDR:PORT  where other hosts reach this one (live migration); published in\n"
          "                      the shared directory\n"
          "  --foreground        do not detach; log to stderr\n"
          "  --config FILE       read 'key = value' settings (the option names without --);\n"
          "                      default %s when it exists; options given here win\n"
          "  --group GROUP       members of GROUP may use the control socket (besides root)\n"
          "  --hpvmapp PATH      the per-VM process (default: next to hpvmd, else $PATH)\n"
          "  --log stderr|syslog where the log goes (default: stderr in the foreground)\n"
          "  --stop-timeout S    graceful stop: seconds before power-off (default 30)\n"
          "  --lease-timeout S   a guest's ownership lease expires S seconds after its last renewal\n"
          "                      (default 30; 3 to 600, the same on every host): renewed every S/6,\n"
          "                      the guest stopped here after S*2/3 without a renewal\n"
          "  --gossip ADDR:PORT  cluster membership (UDP and TCP; default: --listen's port + 1;\n"
          "                      off: none); published in the shared directory\n"
          "  --gossip-probe-ms MS membership probe interval (default 1000; the same on every host):\n"
          "                      a failed host is dead for the others after about 6 of them\n",
          HPVMD_DEFAULT_STATE_DIR, DEFAULT_CONFIG);
}

/* ---- Options and config file ------------------------------------------------------------------ */

static int set_option(hd_options *o, const char *key, const char *val, char *msg, size_t len) {
  char **slot = NULL;
  if (!strcmp(key, "shared")) slot = &o->shared_dir;
  else if (!strcmp(key, "state-dir")) slot = &o->state_dir;
  else if (!strcmp(key, "name")) slot = &o->host;
  else if (!strcmp(key, "listen")) slot = &o->listen;
  else if (!strcmp(key, "gossip")) slot = &o->gossip;
  else if (!strcmp(key, "gossip-probe-ms")) {
    char *end;
    long ms = strtol(val, &end, 10);
    if (*end || end == val || ms < 20 || ms > 60000) {
      snprintf(msg, len, "gossip-probe-ms %s: give milliseconds, 20 to 60000", val);
      return HPVM_EINVAL;
    }
    o->gossip_probe_ms = (uint32_t)ms;
    return 0;
  }
  else if (!strcmp(key, "group")) slot = &o->group;
  else if (!strcmp(key, "hpvmapp")) slot = &o->hpvmapp;
  else if (!strcmp(key, "log")) {
    if (strcmp(val, "stderr") && strcmp(val, "syslog")) {
      snprintf(msg, len, "log = %s: give stderr or syslog", val);
      return HPVM_EINVAL;
    }
    slot = &o->log;
  } else if (!strcmp(key, "foreground")) {
    if (!strcmp(val, "yes") || !strcmp(val, "true") || !strcmp(val, "1")) o->foreground = true;
    else if (!strcmp(val, "no") || !strcmp(val, "false") || !strcmp(val, "0")) o->foreground = false;
    else {
      snprintf(msg, len, "foreground = %s: give yes or no", val);
      return HPVM_EINVAL;
    }
    return 0;
  } else if (!strcmp(key, "stop-timeout")) {
    char *end;
    long s = strtol(val, &end, 10);
    if (*end || end == val || s < 1 || s > 86400) {
      snprintf(msg, len, "stop-timeout %s: give seconds, 1 to 86400", val);
      return HPVM_EINVAL;
    }
    o->stop_timeout_ms = (uint32_t)s * 1000;
    return 0;
  } else if (!strcmp(key, "lease-timeout")) {
    char *end;
    long s = strtol(val, &end, 10);
    if (*end || end == val || s < 3 || s > 600) {
      snprintf(msg, len, "lease-timeout %s: give seconds, 3 to 600", val);
      return HPVM_EINVAL;
    }
    o->lease_timeout_ms = (uint32_t)s * 1000;
    return 0;
  } else {
    snprintf(msg, len, "unknown setting '%s'; see hpvmd --help", key);
    return HPVM_EINVAL;
  }
  free(*slot);
  *slot = strdup(val);
  return *slot ? 0 : HPVM_ENOMEM;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
  return s;
}

static int read_config(hd_options *o, const char *path, bool must_exist, char *msg, size_t len) {
  FILE *f = fopen(path, "r");
  if (!f) {
    if (!must_exist && errno == ENOENT) return 0;
    snprintf(msg, len, "cannot read the config file %s: %s", path, strerror(errno));
    return HPVM_EIO;
  }
  char line[4400], why[600];
  int lineno = 0, rc = 0;
  while (!rc && fgets(line, sizeof line, f)) {
    lineno++;
    char *s = trim(line);
    if (!*s || *s == '#') continue;
    char *eq = strchr(s, '=');
    if (!eq) {
      snprintf(msg, len, "%s line %d: expected key = value", path, lineno);
      rc = HPVM_EINVAL;
      break;
    }
    *eq = 0;
    if ((rc = set_option(o, trim(s), trim(eq + 1), why, sizeof why))) snprintf(msg, len, "%s line %d: %s", path, lineno, why);
  }
  fclose(f);
  return rc;
}

static void free_options(hd_options *o) {
  char **strs[] = {&o->shared_dir, &o->state_dir, &o->host, &o->listen, &o->group, &o->hpvmapp, &o->log, &o->gossip};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) free(*strs[i]), *strs[i] = NULL;
}

/* Flags, with the config file read first (flags win, so they are applied after it). */
static int parse_args(hd_options *o, int argc, char **argv, char *msg, size_t len) {
  const char *config = NULL;
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--config")) {
      if (i + 1 >= argc) return snprintf(msg, len, "--config needs a file"), HPVM_EINVAL;
      config = argv[i + 1];
    }
  int rc = read_config(o, config ? config : DEFAULT_CONFIG, config != NULL, msg, len);
  if (rc) return rc;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--foreground")) {
      o->foreground = true;
      continue;
    }
    if (strncmp(a, "--", 2)) return snprintf(msg, len, "unexpected argument %s; see hpvmd --help", a), HPVM_EINVAL;
    if (i + 1 >= argc) return snprintf(msg, len, "%s needs a value; see hpvmd --help", a), HPVM_EINVAL;
    const char *val = argv[++i];
    if (!strcmp(a, "--config")) continue;
    char why[600];
    if ((rc = set_option(o, a + 2, val, why, sizeof why))) {
      bool unknown = !strncmp(why, "unknown setting", 15);
      if (unknown) snprintf(msg, len, "unknown option %s; see hpvmd --help", a);
      else snprintf(msg, len, "%s", why);
      return rc;
    }
  }
  if (!o->shared_dir) return snprintf(msg, len, "no shared storage directory; give --shared DIR"), HPVM_EINVAL;
  if (!o->state_dir && !(o->state_dir = strdup(HPVMD_DEFAULT_STATE_DIR))) return HPVM_ENOMEM;
  if (!o->stop_timeout_ms) o->stop_timeout_ms = HD_DEFAULT_STOP_TIMEOUT_MS;
  if (!o->lease_timeout_ms) o->lease_timeout_ms = HD_LEASE_TIMEOUT_MS;
  /* Renew six times per timeout, fence at two thirds: the defaults' 5 s and 20 s of 30 s. */
  o->lease_renew_ms = o->lease_timeout_ms / 6;
  o->lease_fence_ms = o->lease_timeout_ms / 3 * 2;
  if (o->listen) {
    char host[256];
    const char *colon = strrchr(o->listen, ':');
    long port = colon ? strtol(colon + 1, NULL, 10) : 0;
    size_t hl = colon ? (size_t)(colon - o->listen) : 0;
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    if (hl >= sizeof host || port < 1 || port > 65535) hl = 0;
    else memcpy(host, o->listen, hl), host[hl] = 0;
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') memmove(host, host + 1, hl - 2), host[hl - 2] = 0;
    if (!hl || (uv_ip4_addr(host, (int)port, &a4) && uv_ip6_addr(host, (int)port, &a6)))
      return snprintf(msg, len, "--listen %s: give ADDR:PORT, e.g. 10.0.0.5:7410 or [fd00::5]:7410", o->listen),
             HPVM_EINVAL;
  }
  return 0;
}

/* ---- Startup ---------------------------------------------------------------------------------- */

static int mkdir_p(const char *path, mode_t mode) {
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      if (mkdir(buf, 0755) && errno != EEXIST) return -1;
      *p = '/';
    }
  return mkdir(buf, mode) && errno != EEXIST ? -1 : 0;
}

/* One hpvmd per state directory: an exclusive lock on STATE/hpvmd.lock, which holds its pid. */
static int take_lock(hd_daemon *d, char *msg, size_t len) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/hpvmd.lock", d->o.state_dir);
  d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (d->lock_fd < 0) return snprintf(msg, len, "cannot open %.900s: %s", path, strerror(errno)), HPVM_EIO;
  if (flock(d->lock_fd, LOCK_EX | LOCK_NB)) {
    char pid[32] = "?";
    ssize_t n = pread(d->lock_fd, pid, sizeof pid - 1, 0);
    if (n > 0) pid[n] = 0, pid[strcspn(pid, "\n")] = 0;
    snprintf(msg, len, "another hpvmd (pid %s) already runs with state directory %s", pid, d->o.state_dir);
    return HPVM_EBUSY;
  }
  char pid[32];
  int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
  if (ftruncate(d->lock_fd, 0) || pwrite(d->lock_fd, pid, (size_t)n, 0) != n) { /* the lock is what matters */ }
  return 0;
}

static int find_hpvmapp(hd_daemon *d, char *msg, size_t len) {
  if (d->o.hpvmapp) {
    if (access(d->o.hpvmapp, X_OK))
      return snprintf(msg, len, "hpvmapp %s: %s", d->o.hpvmapp, strerror(errno)), HPVM_ENOENT;
    d->hpvmapp = strdup(d->o.hpvmapp);
    return d->hpvmapp ? 0 : HPVM_ENOMEM;
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash && (size_t)(slash - self) + 9 < sizeof self) {
      strcpy(slash + 1, "hpvmapp");
      if (access(self, X_OK) == 0) return (d->hpvmapp = strdup(self)) ? 0 : HPVM_ENOMEM;
    }
  }
  const char *path = getenv("PATH");
  char dir[PATH_MAX];
  for (const char *p = path ? path : ""; *p;) {
    size_t l = strcspn(p, ":");
    if (l && l + 9 < sizeof dir) {
      memcpy(dir, p, l);
      strcpy(dir + l, "/hpvmapp");
      if (access(dir, X_OK) == 0) return (d->hpvmapp = strdup(dir)) ? 0 : HPVM_ENOMEM;
    }
    p += l + (p[l] == ':');
  }
  return snprintf(msg, len, "cannot find hpvmapp next to hpvmd or in $PATH; give --hpvmapp PATH"), HPVM_ENOENT;
}

static void on_tick(uv_timer_t *t) {
  hd_tick(t->data);
  hd_member_tick(t->data);
  hd_ha_tick(t->data);
  hd_incoming_tick(t->data);
}

static void shutdown_daemon(hd_daemon *d, const char *why) {
  if (d->stopping) return;
  d->stopping = true;
  unsigned running = 0;
  for (hd_vm *v = d->vms; v; v = v->next) running += hd_vm_running(v);
  hd_log(d, HD_INFO, "%s: exiting; %u guest(s) keep running and the next hpvmd re-attaches to them", why, running);
  hd_server_stop(d);
  hd_peer_stop(d);
  hd_drain_stop(d);
  hd_fwd_stop(d);
  hd_member_stop(d);
  hd_ha_free(d);
  hd_detach_all(d);
  uv_timer_stop(&d->tick);
  uv_close((uv_handle_t *)&d->tick, NULL);
  uv_close((uv_handle_t *)&d->sig_term, NULL);
  uv_close((uv_handle_t *)&d->sig_int, NULL);
  uv_close((uv_handle_t *)&d->sig_hup, NULL);
  if (d->have_live && !running && sto_liveness_leave(d->sto, &d->live))
    hd_log(d, HD_WARN, "cannot mark this host as left: %s", sto_error(d->sto));
}

static void on_signal(uv_signal_t *s, int signum) {
  hd_daemon *d = s->data;
  if (signum == SIGHUP) {
    hd_log(d, HD_INFO, "SIGHUP: nothing to reload (restart hpvmd to apply new settings; guests keep running)");
    return;
  }
  shutdown_daemon(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Everything up to serving requests; msg says what failed. ready_fd (-1 in the foreground)
 * tells the waiting parent. */
static int start(hd_daemon *d, char *msg, size_t len) {
  if (mkdir_p(d->o.state_dir, 0755))
    return snprintf(msg, len, "cannot create the state directory %s: %s", d->o.state_dir, strerror(errno)), HPVM_EIO;
  char vms[PATH_MAX];
  snprintf(vms, sizeof vms, "%s/vms", d->o.state_dir);
  if (mkdir(vms, 0750) && errno != EEXIST)
    return snprintf(msg, len, "cannot create %.900s: %s", vms, strerror(errno)), HPVM_EIO;
  int rc = take_lock(d, msg, len);
  if (rc) return rc;
  if (d->o.group) {
    struct group gr, *res = NULL;
    char buf[8192];
    if (getgrnam_r(d->o.group, &gr, buf, sizeof buf, &res) || !res)
      return snprintf(msg, len, "no group named %s (--group)", d->o.group), HPVM_ENOENT;
    d->gid = gr.gr_gid;
    d->has_group = true;
  }
  if ((rc = find_hpvmapp(d, msg, len))) return rc;
  sto_options so = {.root = d->o.shared_dir, .host = d->o.host};
  rc = sto_open(&so, &d->sto);
  if (rc) {
    snprintf(msg, len, "%s", d->sto ? sto_error(d->sto) : "out of memory");
    return rc;
  }
  if ((rc = sto_layout_init(d->sto))) return snprintf(msg, len, "%s", sto_error(d->sto)), rc;
  char why[600];
  if ((rc = sto_lease_timing_check(d->o.lease_renew_ms, d->o.lease_fence_ms, d->o.lease_timeout_ms, why, sizeof why)))
    return snprintf(msg, len, "lease timing: %s", why), rc;
  if ((rc = hd_ident_start(d, msg, len))) return rc;
  if ((rc = hd_member_start(d, msg, len))) return rc;   /* the liveness record, then gossip */
  uv_timer_init(d->loop, &d->tick);
  d->tick.data = d;
  uv_signal_init(d->loop, &d->sig_term);
  uv_signal_init(d->loop, &d->sig_int);
  uv_signal_init(d->loop, &d->sig_hup);
  d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
  uv_signal_start(&d->sig_term, on_signal, SIGTERM);
  uv_signal_start(&d->sig_int, on_signal, SIGINT);
  uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
  hd_reattach_all(d);
  if ((rc = hd_server_start(d, msg, len))) return rc;
  if ((rc = hd_peer_start(d, msg, len))) return rc;
  uv_timer_start(&d->tick, on_tick, d->o.lease_renew_ms, d->o.lease_renew_ms);
  hd_log(d, HD_INFO, "hpvmd %s on host %s: shared %s, state %s, control socket %s, hpvmapp %s%s%s", HD_VERSION,
         sto_host(d->sto), d->o.shared_dir, d->o.state_dir, d->socket_path, d->hpvmapp,
         d->o.listen ? ", peer address " : "", d->o.listen ? d->o.listen : "");
  hd_autostart(d);
  return 0;
}

/* Detach: the parent waits on a pipe until the child says it serves (a 0 byte) or why it
 * cannot (a message), and exits accordingly. Returns the write end in the child. */
static int daemonize(void) {
  int p[2];
  if (pipe2(p, O_CLOEXEC)) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid > 0) {
    close(p[1]);
    char buf[1200];
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    if (n == 1 && buf[0] == 0) exit(0);
    if (n > 0) {
      buf[n] = 0;
      fprintf(stderr, "hpvmd: %s\n", buf);
    } else {
      fprintf(stderr, "hpvmd: the daemon died while starting; see the system log\n");
    }
    exit(1);
  }
  close(p[0]);
  setsid();
  if (chdir("/")) { /* stays where it was */ }
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0), dup2(null, 1), dup2(null, 2);
    if (null > 2) close(null);
  }
  return p[1];
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage(stdout), 0;
    if (!strcmp(argv[i], "--version")) return printf("hpvmd %s\n", HD_VERSION), 0;
  }
  hd_daemon daemon = {0};   /* main's own: everything else gets it by pointer */
  hd_daemon *d = &daemon;
  d->lock_fd = -1;
  d->peer_fd = -1;
  char msg[1200];
  if (parse_args(&d->o, argc, argv, msg, sizeof msg)) {
    fprintf(stderr, "hpvmd: %s\n", msg);
    free_options(&d->o);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int ready_fd = -1;
  if (!d->o.foreground) {
    ready_fd = daemonize();
    if (ready_fd < 0) {
      fprintf(stderr, "hpvmd: cannot detach: %s\n", strerror(errno));
      return 1;
    }
  }
  d->use_syslog = d->o.log ? !strcmp(d->o.log, "syslog") : !d->o.foreground;
  if (d->use_syslog) openlog("hpvmd", LOG_PID, LOG_DAEMON);
  d->loop = uv_default_loop();
  d->started_ns = hd_wall_ns();
  int rc = start(d, msg, sizeof msg);
  if (rc) {
    if (ready_fd < 0) {
      fprintf(stderr, "hpvmd: %s\n", msg);
    } else {
      hd_log(d, HD_ERR, "cannot start: %s", msg);
      if (write(ready_fd, msg, strlen(msg)) < 0) { /* the parent reports the death */ }
    }
    sto_close(d->sto);
    free(d->hpvmapp);
    free_options(&d->o);
    return 1;
  }
  if (ready_fd >= 0) {
    char ok = 0;
    if (write(ready_fd, &ok, 1) < 0) { /* parent gone: nothing to tell */ }
    close(ready_fd);
  }
  uv_run(d->loop, UV_RUN_DEFAULT);
  uv_loop_close(d->loop);
  sto_close(d->sto);
  if (d->lock_fd >= 0) close(d->lock_fd);
  free(d->hpvmapp);
  free_options(&d->o);
  return 0;
}
