/* host.c — hpvmhost: the hosts of the cluster (docs/man/hpvmhost.md).
 *
 *   hpvmhost status [--json]                 every host: address, state, uptime, guests, free
 *                                            memory and entitlement, version
 *   hpvmhost init --shared DIR [--name NAME] create the cluster (id and secret) in DIR
 *   hpvmhost join                            this host joins the membership (kept at restarts)
 *   hpvmhost leave [-F]                      this host leaves gracefully (kept at restarts)
 *   hpvmhost maintenance enter HOST [--parallel N] [--policy migrate|stop|leave] [--abort]
 *   hpvmhost maintenance exit HOST [--return]
 *                                            drain HOST (its hpvmd does it) for maintenance, with a
 *                                            progress line per step; back to service
 *   hpvmhost rolling --command CMD [--parallel N] [--timeout S]
 *                                            each host in turn: maintenance enter, CMD here with
 *                                            HPVM_ROLLING_HOST=HOST (its outcome in the command
 *                                            log), maintenance exit, wait until Up
 *
 * status, join and leave ask this host's hpvmd; init writes the shared directory itself (as
 * root, before the first hpvmd starts there: a hpvmd that finds no cluster creates one).
 * Errors are one line on stderr, "hpvmhost: ERROR: ...", exit status 1 (2 for usage). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "hpvmd_client.h"
#include "rpc.h"
#include "storage.h"

typedef cli_run hrun;

static int help(hrun *r, FILE *f, int status) {
  fprintf(f, "usage: %s status [--json]\n"
             "       %s init --shared DIR [--name CLUSTER]\n"
             "       %s join\n"
             "       %s leave [-F]\n"
             "       %s maintenance enter HOST [--parallel N] [--policy migrate|stop|leave] [--abort]\n"
             "       %s maintenance exit HOST [--return]\n"
             "       %s rolling --command CMD [--parallel N] [--timeout S]\n"
             "The hosts of the cluster: their state as the membership sees it (Up, Maintenance,\n"
             "Draining, Suspect, Dead, Left; Unknown for a host this one has no news of),\n"
             "uptime, guests, free memory and CPU entitlement, version. join and leave change\n"
             "this host's membership, and the change outlasts restarts of hpvmd. maintenance\n"
             "enter drains HOST (any host: its hpvmd does it): it takes no new guest, its running\n"
             "guests are live-migrated to other hosts (N at a time), its stopped guests re-homed;\n"
             "it is in Maintenance once it runs no guest. exit returns it to service; --return\n"
             "brings back the guests drains moved away (running ones migrated back live).\n"
             "rolling takes every host in turn (name order) through maintenance enter, CMD run\n"
             "here by /bin/sh with HPVM_ROLLING_HOST=HOST (CMD reaches HOST itself, e.g. ssh),\n"
             "maintenance exit, and waits until HOST is Up (--timeout S, default 600); it stops at\n"
             "the first failure, that host left draining or in maintenance.\n",
          r->c->cmd, r->c->cmd, r->c->cmd, r->c->cmd, r->c->cmd, r->c->cmd, r->c->cmd);
  return status;
}

static int host_call(hrun *r, Hpvm__HostOp op, bool force, Hpvm__Response **resp) {
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__HostRequest h = HPVM__HOST_REQUEST__INIT;
  h.op = op;
  h.force = force;
  req.body_case = HPVM__REQUEST__BODY_HOST;
  req.host = &h;
  return cli_call_status(r, &req, resp);
}

static void fmt_uptime(int64_t started_ms, char *buf, size_t len) {
  if (started_ms <= 0) {
    snprintf(buf, len, "-");
    return;
  }
  int64_t s = (int64_t)time(NULL) - started_ms / 1000;
  if (s < 0) s = 0;
  if (s >= 86400) snprintf(buf, len, "%" PRId64 "d%02" PRId64 "h", s / 86400, s % 86400 / 3600);
  else snprintf(buf, len, "%02" PRId64 ":%02" PRId64 ":%02" PRId64, s / 3600, s % 3600 / 60, s % 60);
}

static void fmt_mib(uint64_t bytes, bool known, char *buf, size_t len) {
  if (!known) snprintf(buf, len, "-");
  else snprintf(buf, len, "%" PRIu64 " MB", bytes >> 20);
}

static void print_table(FILE *f, const Hpvm__HostList *l) {
  if (l->cluster_id && *l->cluster_id) fprintf(f, "Cluster %s (%s)\n", l->cluster_name, l->cluster_id);
  fprintf(f, "%-16s %-22s %-11s %-9s %6s %10s %10s %8s %-8s\n", "Host", "Address", "State", "Uptime", "Guests",
          "Mem total", "Mem free", "Ent free", "Version");
  for (size_t i = 0; i < l->n_hosts; i++) {
    const Hpvm__HostStatus *h = l->hosts[i];
    bool known = h->mem_total != 0;
    bool gone = !strcmp(h->state, "Dead") || !strcmp(h->state, "Left");
    char up[32], tot[32], fr[32], ent[32], guests[16];
    fmt_uptime(known && !gone ? h->started_unix_ms : 0, up, sizeof up);
    fmt_mib(h->mem_total, known, tot, sizeof tot);
    fmt_mib(h->mem_free, known, fr, sizeof fr);
    if (known) snprintf(ent, sizeof ent, "%u%%", h->cpu_ent_free), snprintf(guests, sizeof guests, "%u", h->guests);
    else snprintf(ent, sizeof ent, "-"), snprintf(guests, sizeof guests, "-");
    char name[80];
    snprintf(name, sizeof name, "%s%s", h->name, h->self ? "*" : "");
    fprintf(f, "%-16s %-22s %-11s %-9s %6s %10s %10s %8s %-8s\n", name, *h->address ? h->address : "-", h->state, up,
            guests, tot, fr, ent, *h->version ? h->version : "-");
  }
}

static void json_field(FILE *f, const char *key, const char *v, bool comma) {
  fprintf(f, "\"%s\":", key);
  cli_json_str(f, v ? v : "");
  if (comma) fputc(',', f);
}

static void print_json(FILE *f, const Hpvm__HostList *l) {
  fputc('{', f);
  json_field(f, "cluster_id", l->cluster_id, true);
  json_field(f, "cluster_name", l->cluster_name, true);
  fprintf(f, "\"hosts\":[");
  for (size_t i = 0; i < l->n_hosts; i++) {
    const Hpvm__HostStatus *h = l->hosts[i];
    fprintf(f, "%s{", i ? "," : "");
    json_field(f, "name", h->name, true);
    json_field(f, "address", h->address, true);
    json_field(f, "gossip_address", h->gossip_address, true);
    json_field(f, "state", h->state, true);
    json_field(f, "membership", h->membership, true);
    json_field(f, "liveness", h->liveness, true);
    json_field(f, "version", h->version, true);
    int64_t up = h->started_unix_ms > 0 ? (int64_t)time(NULL) - h->started_unix_ms / 1000 : -1;
    fprintf(f,
            "\"self\":%s,\"incarnation\":%" PRIu64 ",\"started_unix_ms\":%" PRId64 ",\"uptime_s\":%" PRId64
            ",\"guests\":%u,\"mem_total\":%" PRIu64 ",\"mem_free\":%" PRIu64 ",\"cpu_ent_free\":%u}",
            h->self ? "true" : "false", h->incarnation, h->started_unix_ms, up, h->guests, h->mem_total, h->mem_free,
            h->cpu_ent_free);
  }
  fprintf(f, "]}\n");
}

static int cmd_status(hrun *r) {
  Hpvm__Response *resp;
  if (host_call(r, HPVM__HOST_OP__HOST_OP_STATUS, false, &resp)) return 1;
  if (resp->body_case != HPVM__RESPONSE__BODY_HOSTS) {
    r->c->t.free_resp(r->c->t.ctx, resp);
    return cli_fail(r, HPVM_EIO, "hpvmd answered without a host list; run the same hpvm version as the daemon");
  }
  if (r->json) print_json(r->c->out, resp->hosts);
  else print_table(r->c->out, resp->hosts);
  r->c->t.free_resp(r->c->t.ctx, resp);
  return 0;
}

static int cmd_simple(hrun *r, Hpvm__HostOp op, bool force, const char *done) {
  Hpvm__Response *resp;
  if (host_call(r, op, force, &resp)) return 1;
  r->c->t.free_resp(r->c->t.ctx, resp);
  if (r->json) fprintf(r->c->out, "{\"result\":\"ok\"}\n");
  else fprintf(r->c->out, "%s\n", done);
  return 0;
}

static int cmd_init(hrun *r, const char *shared, const char *name) {
  if (!shared) return fprintf(r->c->err, "%s: init needs --shared DIR (the shared storage root)\n", r->c->cmd), 2;
  uint8_t secret[32];
  size_t got = 0;
  while (got < sizeof secret) {
    ssize_t n = getrandom(secret + got, sizeof secret - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return cli_fail(r, HPVM_EIO, "no randomness for the cluster secret: %s", strerror(errno));
    got += (size_t)n;
  }
  sto_options so = {.root = shared, .host = NULL};
  sto_store *s = NULL;
  int rc = sto_open(&so, &s);
  if (!rc) rc = sto_layout_init(s);
  char id[37] = "", old_name[64] = "";
  uint8_t old[32];
  if (!rc && sto_cluster_read(s, id, old_name, sizeof old_name, old) == 0) {
    cli_fail(r, HPVM_EEXIST, "%s already holds cluster %s (%s); one shared directory is one cluster", shared, old_name, id);
    sto_close(s);
    return 1;
  }
  if (!rc) rc = sto_cluster_create(s, name ? name : "hpvm", secret, id);
  if (rc) {
    cli_fail(r, rc, "cannot create the cluster in %s: %s", shared, s ? sto_error(s) : hpvm_strerror(rc));
    sto_close(s);
    return 1;
  }
  sto_close(s);
  if (r->json) {
    fprintf(r->c->out, "{\"cluster_id\":\"%s\",\"cluster_name\":", id);
    cli_json_str(r->c->out, name ? name : "hpvm");
    fprintf(r->c->out, "}\n");
  } else {
    fprintf(r->c->out, "Created cluster %s (%s) in %s; start hpvmd --shared %s on each host\n", name ? name : "hpvm", id,
            shared, shared);
  }
  return 0;
}

typedef struct maint_opts {
  const char *verb, *host, *policy;
  unsigned parallel;
  bool abort, ret;
  char **up;                           /* enter: the hosts this host sees Up (the rolling's) */
  size_t nup;
} maint_opts;

/* One maintenance request, sent with argv (what the command log shows): a progress line per
 * step (Responses with more) on out when progress, then hpvmd's closing message (or the error)
 * in msg. Returns 0 or the error code. */
static int maint_request(hrun *r, const maint_opts *o, char **argv, int argc, bool progress, char *msg,
                         size_t len) {
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__HostRequest h = HPVM__HOST_REQUEST__INIT;
  h.op = !strcmp(o->verb, "enter") ? HPVM__HOST_OP__HOST_OP_MAINTENANCE_ENTER : HPVM__HOST_OP__HOST_OP_MAINTENANCE_EXIT;
  h.host = (char *)o->host;
  h.parallel = o->parallel;
  h.policy = (char *)(o->policy ? o->policy : "");
  h.abort = o->abort;
  h.return_guests = o->ret;
  h.n_up_hosts = o->nup;
  h.up_hosts = o->up;
  req.body_case = HPVM__REQUEST__BODY_HOST;
  req.host = &h;
  req.n_argv = (size_t)argc;
  req.argv = argv;
  int fd;
  int rc = hpvmd_connect(r->c->t.socket_path, &fd, msg, len);
  if (rc) return rc;
  Hpvm__Response *resp = NULL;
  rc = hpvmd_exchange(fd, &req, &resp);
  while (!rc && resp && resp->more) {
    if (progress) fprintf(r->c->out, "%s: %s\n", r->c->cmd, resp->message), fflush(r->c->out);
    hpvmd_response_free(resp);
    resp = NULL;
    ProtobufCMessage *next = NULL;
    rc = wire_recv_msg(fd, &hpvm__response__descriptor, WIRE_RPC_MAX_FRAME, &next, msg, len);
    if (rc == 1) {
      rc = HPVM_EIO;
      snprintf(msg, len, "hpvmd closed the connection before the drain ended (did it stop? see hpvmhost status "
               "and hpvmd's log)");
    }
    if (rc) break;
    resp = (Hpvm__Response *)next;
  }
  close(fd);
  if (!rc && !resp) rc = HPVM_EIO, snprintf(msg, len, "no answer from hpvmd");
  if (!rc) rc = resp->error;
  if (resp && resp->message && (*resp->message || !rc)) snprintf(msg, len, "%s", resp->message);
  else if (rc && rc != HPVM_EIO) snprintf(msg, len, "%s", hpvm_strerror(rc));
  if (resp) hpvmd_response_free(resp);
  return rc;
}

/* maintenance: one request, a progress line per step, the summary. */
static int cmd_maintenance(hrun *r, const maint_opts *o) {
  char msg[4200];
  int rc = maint_request(r, o, r->argv, r->argc, !r->json, msg, sizeof msg);
  if (rc) return cli_fail(r, rc, "%s", msg);
  if (r->json) fprintf(r->c->out, "{\"result\":\"ok\",\"message\":"), cli_json_str(r->c->out, msg),
               fprintf(r->c->out, "}\n");
  else fprintf(r->c->out, "%s: %s\n", r->c->cmd, msg);
  return 0;
}

/* ---- rolling: every host in turn through maintenance ------------------------------------------------ */

typedef struct roll_opts {
  const char *command;
  unsigned parallel;                   /* for each drain; 0: hpvmd's default */
  unsigned timeout_s;                  /* for the command, and for the host to come back */
} roll_opts;

#define ROLL_DEFAULT_TIMEOUT_S 600
#define ROLL_POLL_US 200000
#define ROLL_NOTE_AFTER_FAILURE_MS 10000

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* This host's hpvmd's host list, without an error line (the caller retries or says why). */
static int host_list(hrun *r, Hpvm__Response **resp) {
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__HostRequest h = HPVM__HOST_REQUEST__INIT;
  h.op = HPVM__HOST_OP__HOST_OP_STATUS;
  req.body_case = HPVM__REQUEST__BODY_HOST;
  req.host = &h;
  *resp = NULL;
  int rc = r->c->t.call(r->c->t.ctx, &req, resp);
  if (!rc && *resp) rc = (*resp)->error;
  if (!rc && (!*resp || (*resp)->body_case != HPVM__RESPONSE__BODY_HOSTS)) rc = HPVM_EIO;
  if (rc) cli_done(r, *resp), *resp = NULL;
  return rc;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The hosts to roll, in name order: every member that has not left. Refused when one of them
 * is not Up (a rolling starts from a healthy cluster). *names and its strings are malloc'd. */
static int roll_hosts(hrun *r, char ***names, size_t *n) {
  Hpvm__Response *resp;
  int rc = host_list(r, &resp);
  if (rc) return cli_fail(r, rc, "cannot list the hosts: %s; is hpvmd running here?", hpvm_strerror(rc));
  const Hpvm__HostList *l = resp->hosts;
  *names = calloc(l->n_hosts + 1, sizeof **names);
  *n = 0;
  int st = *names ? 0 : cli_fail(r, HPVM_ENOMEM, "out of memory");
  for (size_t i = 0; !st && i < l->n_hosts; i++) {
    const Hpvm__HostStatus *h = l->hosts[i];
    if (!strcmp(h->state, "Left")) continue;
    if (strcmp(h->state, "Up"))
      st = cli_fail(r, HPVM_ESTATE, "host %s is %s; a rolling starts with every host Up (hpvmhost maintenance exit "
                    "%s, or bring it back, or hpvmhost leave on it), then run it again", h->name, h->state, h->name);
    else if (!((*names)[(*n)++] = strdup(h->name))) st = cli_fail(r, HPVM_ENOMEM, "out of memory");
  }
  cli_done(r, resp);
  if (!st && !*n) st = cli_fail(r, HPVM_ENOENT, "no host to roll: hpvmhost status lists none Up");
  if (st) return st;
  qsort(*names, *n, sizeof **names, by_name);
  return 0;
}

/* Run the command with HPVM_ROLLING_HOST=host through /bin/sh, here; its output goes to ours.
 * 0, or the error with why (its exit status, the signal, or the timeout: then it is killed). */
static int run_command(hrun *r, const roll_opts *o, const char *host, char *why, size_t len) {
  fflush(r->c->out);
  fflush(r->c->err);
  pid_t pid = fork();
  if (pid < 0) return snprintf(why, len, "cannot fork: %s", strerror(errno)), HPVM_EIO;
  if (pid == 0) {
    setpgid(0, 0);                     /* its own group: a timeout kills all it started */
    setenv("HPVM_ROLLING_HOST", host, 1);
    execl("/bin/sh", "sh", "-c", o->command, (char *)NULL);
    _exit(127);
  }
  setpgid(pid, pid);
  uint64_t end = mono_ms() + (uint64_t)o->timeout_s * 1000;
  int st;
  for (;;) {
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) return snprintf(why, len, "lost the command: %s", strerror(errno)), HPVM_EIO;
    if (mono_ms() >= end) {
      kill(-pid, SIGKILL);
      waitpid(pid, &st, 0);
      return snprintf(why, len, "the command did not finish within %u s (--timeout); it was killed", o->timeout_s),
             HPVM_ETIMEDOUT;
    }
    usleep(ROLL_POLL_US / 2);
  }
  if (WIFEXITED(st) && !WEXITSTATUS(st)) return 0;
  if (WIFEXITED(st)) snprintf(why, len, "the command exited with status %d", WEXITSTATUS(st));
  else snprintf(why, len, "the command was killed by signal %d", WTERMSIG(st));
  return HPVM_EIO;
}

/* The host is Up in this host's membership, alive and renewing its liveness record. */
static bool host_healthy(hrun *r, const char *host, char *seen, size_t len) {
  Hpvm__Response *resp;
  snprintf(seen, len, "no answer from this host's hpvmd");
  if (host_list(r, &resp)) return false;
  bool ok = false;
  snprintf(seen, len, "not a member");
  for (size_t i = 0; i < resp->hosts->n_hosts; i++) {
    const Hpvm__HostStatus *h = resp->hosts->hosts[i];
    if (strcmp(h->name, host)) continue;
    snprintf(seen, len, "%s (membership %s, liveness %s)", h->state, h->membership, h->liveness);
    ok = !strcmp(h->state, "Up") && !strcmp(h->membership, "alive") && !strcmp(h->liveness, "alive");
  }
  cli_done(r, resp);
  return ok;
}

/* maintenance exit, retried until the deadline: the command may have restarted the host's hpvmd
 * (or this one's), which answers again once it is back. A host that says it is not in
 * maintenance is not retried. */
static int exit_until(hrun *r, const char *host, char **argv, int argc, uint64_t end, char *msg, size_t len) {
  maint_opts x = {.verb = "exit", .host = host};
  for (;;) {
    int rc = maint_request(r, &x, argv, argc, false, msg, len);
    if (!rc || rc == HPVM_ESTATE || mono_ms() >= end) return rc;
    usleep(ROLL_POLL_US);
  }
}

/* The command's line in the command log, "hpvmhost rolling command HOST CMD" with its outcome
 * (CMD runs outside hpvmd, so this host's hpvmd writes the line for it). Retried until end: CMD
 * may have restarted this host's hpvmd. A line that cannot be written is said, not fatal: the
 * rolling's own output has the outcome too. */
static void note_command(hrun *r, const roll_opts *o, const char *host, int outcome, const char *why,
                         uint64_t end) {
  char *argv[] = {"hpvmhost", "rolling", "command", (char *)host, (char *)o->command};
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__HostRequest h = HPVM__HOST_REQUEST__INIT;
  h.op = HPVM__HOST_OP__HOST_OP_NOTE;
  h.note_error = outcome;
  h.note = (char *)(outcome ? why : "");
  req.body_case = HPVM__REQUEST__BODY_HOST;
  req.host = &h;
  req.n_argv = sizeof argv / sizeof *argv;
  req.argv = argv;
  for (;;) {
    Hpvm__Response *resp = NULL;
    int rc = r->c->t.call(r->c->t.ctx, &req, &resp);
    bool answered = !rc && resp;       /* an error hpvmd answers (an older one) is not retried */
    if (answered) rc = resp->error;
    cli_done(r, resp);
    if (!rc) return;
    if (answered || mono_ms() >= end) {
      fprintf(r->c->out, "%s: rolling: host %s: the command's line is not in the command log (this host's hpvmd: "
              "%s)\n", r->c->cmd, host, hpvm_strerror(rc));
      return;
    }
    usleep(ROLL_POLL_US);
  }
}

/* The hosts other than `host` that are Up in this host's view, for the drain of `host`: its
 * membership may not have heard yet that the host rolled before came back (malloc'd). */
static size_t up_hosts(hrun *r, const char *host, char ***out) {
  *out = NULL;
  Hpvm__Response *resp;
  if (host_list(r, &resp)) return 0;
  const Hpvm__HostList *l = resp->hosts;
  size_t n = 0;
  *out = calloc(l->n_hosts + 1, sizeof **out);
  for (size_t i = 0; *out && i < l->n_hosts; i++)
    if (strcmp(l->hosts[i]->name, host) && !strcmp(l->hosts[i]->state, "Up") && ((*out)[n] = strdup(l->hosts[i]->name)))
      n++;
  cli_done(r, resp);
  return n;
}

/* One host: enter, command, exit, Up. 0, or 1 after the error line naming the host, where it was
 * left and what to do. */
static int roll_one(hrun *r, const roll_opts *o, const char *host, size_t i, size_t n, const char *rest) {
  FILE *out = r->c->out;
  const char *cmd = r->c->cmd;
  char msg[4200];
  /* What the command log shows for the steps (hpvmd logs each request's argv). */
  char *enter_argv[] = {"hpvmhost", "rolling", "maintenance", "enter", (char *)host};
  char *exit_argv[] = {"hpvmhost", "rolling", "maintenance", "exit", (char *)host};
  fprintf(out, "%s: rolling: host %s (%zu of %zu): maintenance enter\n", cmd, host, i + 1, n), fflush(out);
  maint_opts e = {.verb = "enter", .host = host, .parallel = o->parallel};
  e.nup = up_hosts(r, host, &e.up);
  int rc = maint_request(r, &e, enter_argv, 5, true, msg, sizeof msg);
  for (size_t k = 0; k < e.nup; k++) free(e.up[k]);
  free(e.up);
  if (rc)
    return cli_fail(r, rc, "rolling stopped at host %s: its drain did not finish: %s. Host %s stays draining%s%s; "
                    "fix what the drain says (or hpvmhost maintenance enter %s --abort and maintenance exit %s), "
                    "then run hpvmhost rolling again", host, msg, host, *rest ? ", untouched: " : "", rest, host, host);
  fprintf(out, "%s: %s\n", cmd, msg);
  fprintf(out, "%s: rolling: host %s: running the command (HPVM_ROLLING_HOST=%s)\n", cmd, host, host), fflush(out);
  rc = run_command(r, o, host, msg, sizeof msg);
  uint64_t end = mono_ms() + (uint64_t)o->timeout_s * 1000;
  /* After a failure the error line matters more than the log line: a short wait for hpvmd. */
  note_command(r, o, host, rc, msg, rc ? mono_ms() + ROLL_NOTE_AFTER_FAILURE_MS : end);
  if (rc)
    return cli_fail(r, rc, "rolling stopped at host %s: %s. Host %s stays in maintenance (its guests run "
                    "elsewhere)%s%s; fix it, then hpvmhost maintenance exit %s and run hpvmhost rolling again",
                    host, msg, host, *rest ? ", untouched: " : "", rest, host);
  fprintf(out, "%s: rolling: host %s: the command succeeded; maintenance exit\n", cmd, host), fflush(out);
  rc = exit_until(r, host, exit_argv, 5, end, msg, sizeof msg);
  if (rc)
    return cli_fail(r, rc, "rolling stopped at host %s: maintenance exit failed within %u s: %s. Host %s stays in "
                    "maintenance%s%s; once its hpvmd runs, hpvmhost maintenance exit %s, then run hpvmhost rolling "
                    "again", host, o->timeout_s, msg, host, *rest ? ", untouched: " : "", rest, host);
  fprintf(out, "%s: %s\n", cmd, msg), fflush(out);
  char seen[300];
  while (!host_healthy(r, host, seen, sizeof seen)) {
    if (mono_ms() >= end)
      return cli_fail(r, HPVM_ETIMEDOUT, "rolling stopped at host %s: not Up and healthy within %u s (--timeout); "
                      "this host sees it %s%s%s; see hpvmhost status and its hpvmd's log, then run hpvmhost rolling "
                      "again", host, o->timeout_s, seen, *rest ? "; untouched: " : "", rest);
    usleep(ROLL_POLL_US);
  }
  fprintf(out, "%s: rolling: host %s is Up (%zu of %zu done)\n", cmd, host, i + 1, n), fflush(out);
  return 0;
}

static int cmd_rolling(hrun *r, const roll_opts *o) {
  char **names = NULL;
  size_t n = 0;
  int st = roll_hosts(r, &names, &n);
  for (size_t i = 0; !st && i < n; i++) {
    char rest[1024] = "";
    size_t off = 0;
    for (size_t j = i + 1; j < n && off < sizeof rest; j++)
      off += (size_t)snprintf(rest + off, sizeof rest - off, "%s%s", j > i + 1 ? ", " : "", names[j]);
    st = roll_one(r, o, names[i], i, n, rest);
  }
  if (!st) fprintf(r->c->out, "%s: rolling: done, all %zu host(s) went through maintenance and are Up\n", r->c->cmd, n);
  for (size_t i = 0; names && i < n; i++) free(names[i]);
  free(names);
  return st;
}

int cli_cmd_host(cli_ctx *c, int argc, char **argv) {
  hrun r = {.c = c, .argc = argc, .argv = argv};
  const char *sub = NULL, *shared = NULL, *name = NULL;
  bool force = false;
  maint_opts mo = {0};
  roll_opts ro = {.timeout_s = ROLL_DEFAULT_TIMEOUT_S};
  bool timeout_given = false;
  const char *extra[2] = {NULL, NULL};
  size_t nextra = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) return help(&r, c->out, 0);
    if (!strcmp(a, "--json")) r.json = true;
    else if (!strcmp(a, "-F")) force = true;
    else if (!strcmp(a, "--abort")) mo.abort = true;
    else if (!strcmp(a, "--return")) mo.ret = true;
    else if (!strcmp(a, "--parallel") || !strcmp(a, "--policy")) {
      if (i + 1 >= argc) return fprintf(c->err, "%s: %s needs a value\n", c->cmd, a), 2;
      const char *v = argv[++i];
      if (a[3] == 'o') mo.policy = v;
      else {
        char *end;
        unsigned long n = strtoul(v, &end, 10);
        if (*end || !n || n > 16) return fprintf(c->err, "%s: --parallel %s: give 1 to 16\n", c->cmd, v), 2;
        mo.parallel = (unsigned)n;
      }
    }
    else if (!strcmp(a, "--command") || !strcmp(a, "--timeout")) {
      if (i + 1 >= argc) return fprintf(c->err, "%s: %s needs a value\n", c->cmd, a), 2;
      const char *v = argv[++i];
      if (a[2] == 'c') ro.command = v;
      else if (!cli_parse_u32(v, &ro.timeout_s) || !ro.timeout_s || ro.timeout_s > 86400)
        return fprintf(c->err, "%s: --timeout %s: give seconds, 1 to 86400\n", c->cmd, v), 2;
      else timeout_given = true;
    }
    else if (!strcmp(a, "--shared") || !strcmp(a, "--name")) {
      if (i + 1 >= argc) return fprintf(c->err, "%s: %s needs a value\n", c->cmd, a), 2;
      *(a[2] == 's' ? &shared : &name) = argv[++i];
    } else if (a[0] == '-') return fprintf(c->err, "%s: unknown option %s (see --help)\n", c->cmd, a), 2;
    else if (!sub) sub = a;
    else if (!strcmp(sub, "maintenance") && nextra < 2) extra[nextra++] = a;
    else return fprintf(c->err, "%s: unexpected argument %s (see --help)\n", c->cmd, a), 2;
  }
  if (!sub) return help(&r, c->err, 2);
  if ((shared || name) && strcmp(sub, "init")) return fprintf(c->err, "%s: --shared and --name go with init\n", c->cmd), 2;
  if (force && strcmp(sub, "leave")) return fprintf(c->err, "%s: -F goes with leave\n", c->cmd), 2;
  bool maint = !strcmp(sub, "maintenance");
  if (!strcmp(sub, "rolling")) {
    if (mo.abort || mo.ret || mo.policy)
      return fprintf(c->err, "%s: --policy, --abort and --return go with maintenance\n", c->cmd), 2;
    if (!ro.command || !*ro.command) return fprintf(c->err, "%s: rolling needs --command \"CMD\"\n", c->cmd), 2;
    if (r.json) return fprintf(c->err, "%s: rolling prints progress lines, not --json\n", c->cmd), 2;
    ro.parallel = mo.parallel;
    return cmd_rolling(&r, &ro);
  }
  if (ro.command || timeout_given) return fprintf(c->err, "%s: --command and --timeout go with rolling\n", c->cmd), 2;
  if ((mo.abort || mo.ret || mo.policy || mo.parallel) && !maint)
    return fprintf(c->err, "%s: --parallel, --policy, --abort and --return go with maintenance\n", c->cmd), 2;
  if (maint) {
    mo.verb = extra[0];
    mo.host = extra[1];
    if (!mo.verb || (strcmp(mo.verb, "enter") && strcmp(mo.verb, "exit")) || !mo.host)
      return fprintf(c->err, "%s: maintenance enter HOST or maintenance exit HOST (see --help)\n", c->cmd), 2;
    bool enter = !strcmp(mo.verb, "enter");
    if (enter && mo.ret) return fprintf(c->err, "%s: --return goes with maintenance exit\n", c->cmd), 2;
    if (!enter && (mo.abort || mo.policy || mo.parallel))
      return fprintf(c->err, "%s: --parallel, --policy and --abort go with maintenance enter\n", c->cmd), 2;
    if (mo.policy && strcmp(mo.policy, "migrate") && strcmp(mo.policy, "stop") && strcmp(mo.policy, "leave"))
      return fprintf(c->err, "%s: --policy %s: give migrate, stop or leave\n", c->cmd, mo.policy), 2;
    return cmd_maintenance(&r, &mo);
  }
  if (!strcmp(sub, "status")) return cmd_status(&r);
  if (!strcmp(sub, "init")) return cmd_init(&r, shared, name);
  if (!strcmp(sub, "join")) return cmd_simple(&r, HPVM__HOST_OP__HOST_OP_JOIN, false, "This host joined the cluster");
  if (!strcmp(sub, "leave")) return cmd_simple(&r, HPVM__HOST_OP__HOST_OP_LEAVE, force, "This host left the cluster");
  return fprintf(c->err, "%s: unknown subcommand %s (status, init, join, leave, maintenance, rolling)\n", c->cmd, sub), 2;
}
