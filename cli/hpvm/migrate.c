/* migrate.c — hpvmmigrate: move a running guest to another host, live (docs/man/hpvmmigrate.md).
 *
 *   hpvmmigrate {-P vm_name | -p vm_number} -h host -o [-s] [-F] [-v] [-q]
 *               [--downtime MS] [--bandwidth MBPS] [--channels N] [--compress auto|lz4|none]
 *               [-x migrate_{init,copy,io_quiesce,frozen}_phase_timeout=S]... [--json]
 *   hpvmmigrate {-P vm_name | -p vm_number} --cancel
 *
 * The request goes to this host's hpvmd (the source), which answers with progress Responses
 * (Response.more) until the final one: the summary or the error. Progress is printed as it
 * comes (at most once a second, every one with -v), a line only when it differs from the
 * last one printed; --json prints only the final figures.
 * Offline migration (without -o) and its options -b, -D, -d go to hpvmd too, which says what
 * it can do.
 *
 * Ctrl-C (SIGINT) or SIGTERM during an online migration cancels it, as --cancel from another
 * terminal does: the signals arrive through a signalfd polled next to hpvmd's connection, the
 * cancel goes to hpvmd on a connection of its own, and hpvmmigrate waits for the migration's
 * final answer as usual (the guest goes on at the source; the error line says it was
 * canceled, exit status 1). A second signal stops the waiting; hpvmd still finishes the
 * cancel. Too late to cancel (the handover has begun): the migration completes and says so.
 *
 * Errors are one line on stderr, "hpvmmigrate: ERROR (<vm>): <what, what to do>", exit status 1
 * (2 for a usage error), as every hpvm command. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "hpvmd_client.h"
#include "rpc.h"

typedef struct mrun {
  cli_run run;                         /* c, argc, argv, json, vm */
  bool verbose, quiet;
  char last_note[600], last_line[400];   /* what progress printed last: nothing is printed twice */
} mrun;

static int usage(mrun *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage(mrun *r, const char *fmt, ...) {
  char msg[CLI_WHY];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return cli_usage(&r->run, msg);
}

static const char migrate_help[] =
  "usage: hpvmmigrate {-P vm_name | -p vm_number} -h host -o [-s] [-F] [-v] [-q]\n"
  "                   [--downtime MS] [--bandwidth MBPS] [--channels N] [--compress auto|lz4|none]\n"
  "                   [-x migrate_init_phase_timeout=S] [-x migrate_copy_phase_timeout=S]\n"
  "                   [-x migrate_io_quiesce_phase_timeout=S] [-x migrate_frozen_phase_timeout=S] [--json]\n"
  "       hpvmmigrate {-P vm_name | -p vm_number} -h host [-b] [-D] [-d] [-s] [-F] [-q] [--json]\n"
  "       hpvmmigrate {-P vm_name | -p vm_number} --cancel\n"
  "Moves a virtual machine to another host of the cluster.\n"
  "  -h host          the target: a host of the shared directory, or ADDR:PORT\n"
  "  -o               online: the guest keeps running while it moves (live migration)\n"
  "  -s               check only: the target checks everything and says whether it would accept\n"
  "  -F               force past the target's warnings\n"
  "  -v               every progress report (default: at most one a second)\n"
  "  -q               no progress, only the result\n"
  "  --downtime MS    switch over when the predicted pause is below MS (default 50)\n"
  "  --bandwidth MBPS at most MBPS megabytes per second on the wire (default unlimited)\n"
  "  --channels N     parallel streams, 1 to 16 (default 2)\n"
  "  --compress X     auto (per batch, default), lz4 or none\n"
  "  -x NAME=S        a phase timeout in seconds, 0: the default (init 30, copy none, io_quiesce 10,\n"
  "                   frozen 10); past it the guest goes on here\n"
  "  --cancel         stop this VM's migration in progress (typed on any host); it stays on its\n"
  "                   host (Ctrl-C or SIGTERM to a running hpvmmigrate -o does the same)\n"
  "  --json           only the final figures, as JSON\n"
  "  without -o: offline, a stopped guest's registration moves to the target\n"
  "  -b               (offline) boot it on the target once it is registered there\n"
  "  -D               (offline) delete its registration here instead of leaving it Not Runnable\n"
  "  -d               (offline) it runs here: stop it gracefully first, then migrate it\n"
  "See docs/man/hpvmmigrate.md.\n";

/* ---- Options ----------------------------------------------------------------------------------- */

typedef struct mopts {
  const char *P, *p, *host;
  bool online, check, force, cancel, boot, del, stop;
  uint32_t downtime_ms, channels;
  uint64_t bandwidth_bps;
  int compress;
  uint32_t timeouts[4];   /* init, copy, quiesce, frozen: ms */
} mopts;

static int take_x(mrun *r, mopts *o, const char *kv) {
  static const char *const names[] = {"migrate_init_phase_timeout", "migrate_copy_phase_timeout",
                                      "migrate_io_quiesce_phase_timeout", "migrate_frozen_phase_timeout"};
  const char *eq = strchr(kv, '=');
  for (size_t i = 0; eq && i < 4; i++)
    if (strlen(names[i]) == (size_t)(eq - kv) && !strncmp(kv, names[i], (size_t)(eq - kv))) {
      uint32_t s;
      if (!cli_parse_u32(eq + 1, &s) || s > 86400) return usage(r, "-x %s: give seconds, 0 to 86400", kv);
      o->timeouts[i] = s * 1000;
      return 0;
    }
  return usage(r, "-x %s: give migrate_init_phase_timeout=S, migrate_copy_phase_timeout=S, "
               "migrate_io_quiesce_phase_timeout=S or migrate_frozen_phase_timeout=S", kv);
}

/* A long option with a value (--name V or --name=V); 1 taken, 0 not this one, 2 usage error. */
static int long_value(mrun *r, int argc, char **argv, int *i, const char *name, const char **val) {
  size_t n = strlen(name);
  const char *a = argv[*i];
  if (strncmp(a, name, n) || (a[n] && a[n] != '=')) return 0;
  if (a[n] == '=') *val = a + n + 1;
  else if (*i + 1 < argc) *val = argv[++*i];
  else return usage(r, "%s needs a value (see --help)", name);
  return 1;
}

static int parse(mrun *r, mopts *o, int argc, char **argv) {
  char **rest = calloc((size_t)argc + 1, sizeof *rest);
  if (!rest) return cli_fail(&r->run, HPVM_ENOMEM, "out of memory");
  int nrest = 0, st = 0;
  rest[nrest++] = argv[0];
  for (int i = 1; i < argc && !st; i++) {
    const char *v = NULL;
    int k;
    uint32_t u;
    if (!strcmp(argv[i], "--cancel")) o->cancel = true;
    else if ((k = long_value(r, argc, argv, &i, "--downtime", &v))) {
      if (k == 2) st = 2;
      else if (!cli_parse_u32(v, &u) || !u || u > 600000) st = usage(r, "--downtime %s: give milliseconds, 1 to 600000", v);
      else o->downtime_ms = u;
    } else if ((k = long_value(r, argc, argv, &i, "--bandwidth", &v))) {
      if (k == 2) st = 2;
      else if (!cli_parse_u32(v, &u) || !u) st = usage(r, "--bandwidth %s: give megabytes per second, at least 1", v);
      else o->bandwidth_bps = (uint64_t)u * 1000000u;
    } else if ((k = long_value(r, argc, argv, &i, "--channels", &v))) {
      if (k == 2) st = 2;
      else if (!cli_parse_u32(v, &u) || u < 1 || u > 16) st = usage(r, "--channels %s: give 1 to 16", v);
      else o->channels = u;
    } else if ((k = long_value(r, argc, argv, &i, "--compress", &v))) {
      if (k == 2) st = 2;
      else if (!strcmp(v, "auto")) o->compress = HPVM__MIGRATE_COMPRESS__MIGRATE_COMPRESS_AUTO;
      else if (!strcmp(v, "lz4")) o->compress = HPVM__MIGRATE_COMPRESS__MIGRATE_COMPRESS_LZ4;
      else if (!strcmp(v, "none")) o->compress = HPVM__MIGRATE_COMPRESS__MIGRATE_COMPRESS_NONE;
      else st = usage(r, "--compress %s: give auto, lz4 or none", v);
    } else rest[nrest++] = argv[i];
  }
  cli_optscan s;
  int opt;
  if (!st) cli_optscan_init(&s, nrest, rest, "P:p:h:obDdsFvqx:");
  while (!st && (opt = cli_optscan_next(&s)) != CLI_OPT_END) {
    switch (opt) {
    case CLI_OPT_ERR: st = usage(r, "%s", s.why); break;
    case CLI_OPT_HELP: fputs(migrate_help, r->run.c->out); st = -1; break;
    case CLI_OPT_JSON: r->run.json = true; break;
    case CLI_OPT_ARG: st = usage(r, "unexpected argument %s (see --help)", s.arg); break;
    case 'P': o->P = s.arg; break;
    case 'p': o->p = s.arg; break;
    case 'h': o->host = s.arg; break;
    case 'o': o->online = true; break;
    case 'b': o->boot = true; break;
    case 'D': o->del = true; break;
    case 'd': o->stop = true; break;
    case 's': o->check = true; break;
    case 'F': o->force = true; break;
    case 'v': r->verbose = true; break;
    case 'q': r->quiet = true; break;
    case 'x': st = take_x(r, o, s.arg); break;
    }
  }
  free(rest);
  if (st) return st;
  if (!o->P && !o->p) return usage(r, "no VM; give -P vm_name or -p vm_number (see --help)");
  if (o->P && o->p) return usage(r, "give -P or -p, not both");
  if (o->cancel && (o->host || o->online || o->check))
    return usage(r, "--cancel takes only the VM (-P or -p)");
  if (!o->cancel && !o->host) return usage(r, "no target host; give -h host (see --help)");
  return 0;
}

/* -p N: the name of VM number N. */
static int name_of_number(mrun *r, const char *num, char **name) {
  uint32_t n;
  if (!cli_parse_u32(num, &n)) return usage(r, "-p %s: give a VM number", num);
  Hpvm__ListRequest l = HPVM__LIST_REQUEST__INIT;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_LIST;
  req.list = &l;
  Hpvm__Response *resp = NULL;
  int rc = r->run.c->t.call(r->run.c->t.ctx, &req, &resp);
  int st = 0;
  if (rc || !resp || resp->body_case != HPVM__RESPONSE__BODY_LIST) {
    st = cli_fail(&r->run, rc ? rc : HPVM_EIO, "%s", resp && *resp->message ? resp->message : "no list from hpvmd");
  } else {
    *name = NULL;
    for (size_t i = 0; i < resp->list->n_vms && !*name; i++) {
      const Hpvm__VmConfig *c = resp->list->vms[i]->config;
      if (c && c->vm_number == n) *name = strdup(c->name);
    }
    if (!*name) st = cli_fail(&r->run, HPVM_ENOENT, "no VM number %u; hpvmstatus lists them", n);
  }
  if (resp) r->run.c->t.free_resp(r->run.c->t.ctx, resp);
  return st;
}

/* ---- Output ------------------------------------------------------------------------------------ */

static double mb(uint64_t bytes) {
  return (double)bytes / 1e6;
}

static double percent_sent(const Hpvm__MigrateStats *s) {
  if (!s->mem_bytes) return 0;
  uint64_t done = s->round ? s->mem_bytes : s->round0_done;
  return 100.0 * (double)done / (double)s->mem_bytes;
}

/* A note and a figures line, each only when it differs from the one printed last. */
static void print_progress(mrun *r, const Hpvm__MigrateProgress *p) {
  FILE *f = r->run.c->out;
  if (p->note && *p->note && strcmp(p->note, r->last_note)) {
    fprintf(f, "%s: %s\n", r->run.c->cmd, p->note);
    snprintf(r->last_note, sizeof r->last_note, "%s", p->note);
  }
  fflush(f);   /* a terminal or a log sees each as it comes, before any error line on stderr */
  const Hpvm__MigrateStats *s = p->stats;
  if (!s || !*s->phase || !strcmp(s->phase, "init")) return;
  char line[sizeof r->last_line];
  snprintf(line, sizeof line, "%-8s round %-3u %5.1f %% sent  wire %.1f MB/s  memory %.1f MB/s  dirty %.1f MB/s  "
           "expected downtime %u ms  throttle %u %%", s->phase, s->round, percent_sent(s), s->wire_mbps, s->mem_mbps,
           s->dirty_mbps, s->expected_downtime_ms, s->throttle);
  if (!strcmp(line, r->last_line)) return;
  fprintf(f, "%s: %s\n", r->run.c->cmd, line);
  memcpy(r->last_line, line, sizeof line);
  fflush(f);
}

static double ratio(const Hpvm__MigrateStats *s) {
  return s->wire_bytes ? (double)s->mem_sent / (double)s->wire_bytes : 0;
}

static void print_summary(mrun *r, const Hpvm__MigrateProgress *p) {
  FILE *f = r->run.c->out;
  const Hpvm__MigrateStats *s = p->stats;
  if (p->channels)
    fprintf(f, "%s: VM %s migrated live from host %s to host %s (%s, %u channel%s)\n", r->run.c->cmd, p->vm, p->source,
            p->target, *p->cipher ? p->cipher : "?", p->channels, p->channels == 1 ? "" : "s");
  else fprintf(f, "%s: VM %s migrated live from host %s to host %s\n", r->run.c->cmd, p->vm, p->source, p->target);
  if (!s) {   /* the source's hpvmapp did not see the end: hpvmd says how it ended */
    if (p->note && *p->note) fprintf(f, "  %s\n", p->note);
    return;
  }
  fprintf(f, "  total time %.3f s, downtime %.1f ms, setup %.1f ms\n", (double)s->total_ns / 1e9,
          (double)s->downtime_ns / 1e6, (double)s->setup_ns / 1e6);
  fprintf(f, "  rounds %u; pages zero %" PRIu64 ", raw %" PRIu64 ", compressed %" PRIu64 ", delta %" PRIu64 "\n",
          s->round + 1, s->pages_zero, s->pages_raw, s->pages_lz4, s->pages_delta);
  fprintf(f, "  memory %.1f MB sent of %.1f MB, %.1f MB on the wire (compression ratio %.2f)\n", mb(s->mem_sent),
          mb(s->mem_bytes), mb(s->wire_bytes), ratio(s));
  fprintf(f, "  CPU on the source %.2f s, of which the migration's threads %.2f s\n", s->cpu_s, s->mig_cpu_s);
}

static void json_summary(mrun *r, const Hpvm__MigrateProgress *p, bool check) {
  FILE *f = r->run.c->out;
  const Hpvm__MigrateStats *s = p->stats;
  fprintf(f, "{\"vm\":");
  cli_json_str(f, p->vm);
  fprintf(f, ",\"source\":");
  cli_json_str(f, p->source);
  fprintf(f, ",\"target\":");
  cli_json_str(f, p->target);
  fprintf(f, ",\"id\":");
  cli_json_str(f, p->id);
  fprintf(f, ",\"check_only\":%s,\"cipher\":", check ? "true" : "false");
  cli_json_str(f, p->cipher);
  fprintf(f, ",\"channels\":%u,\"warnings\":[", p->channels);
  for (size_t i = 0; i < p->n_warnings; i++) {
    if (i) fputc(',', f);
    cli_json_str(f, p->warnings[i]);
  }
  fputc(']', f);
  if (s && !check)
    fprintf(f, ",\"total_s\":%.6f,\"downtime_ms\":%.3f,\"setup_ms\":%.3f,\"rounds\":%u,\"pages_zero\":%" PRIu64
               ",\"pages_raw\":%" PRIu64 ",\"pages_compressed\":%" PRIu64 ",\"pages_delta\":%" PRIu64
               ",\"memory_bytes\":%" PRIu64 ",\"memory_sent_bytes\":%" PRIu64 ",\"wire_bytes\":%" PRIu64
               ",\"compression_ratio\":%.4f,\"throttle\":%u,\"cpu_s\":%.3f,\"mig_cpu_s\":%.3f",
            (double)s->total_ns / 1e9, (double)s->downtime_ns / 1e6, (double)s->setup_ns / 1e6, s->round + 1,
            s->pages_zero, s->pages_raw, s->pages_lz4, s->pages_delta, s->mem_bytes, s->mem_sent, s->wire_bytes,
            ratio(s), s->throttle, s->cpu_s, s->mig_cpu_s);
  fprintf(f, "}\n");
}

/* ---- The exchange ------------------------------------------------------------------------------- */

static uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* ---- Ctrl-C: the cancel ------------------------------------------------------------------------- */

typedef struct interrupt {
  int fd;                    /* signalfd for SIGINT and SIGTERM, -1: signals act as before */
  sigset_t old;
  unsigned count;            /* signals received */
  const char *sig;           /* the first one's name */
  bool canceled;             /* hpvmd accepted the cancel */
  char why[600];             /* hpvmd's refusal of the cancel ("too late to cancel: ...") */
} interrupt;

static void interrupt_start(interrupt *in) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  memset(in, 0, sizeof *in);
  sigprocmask(SIG_BLOCK, &set, &in->old);
  in->fd = signalfd(-1, &set, SFD_CLOEXEC);
  if (in->fd < 0) sigprocmask(SIG_SETMASK, &in->old, NULL);
}

/* Signals still pending are dropped: the cancel already answered them. */
static void interrupt_end(interrupt *in) {
  if (in->fd < 0) return;
  struct signalfd_siginfo si;
  struct pollfd p = {in->fd, POLLIN, 0};
  while (poll(&p, 1, 0) == 1 && read(in->fd, &si, sizeof si) == (ssize_t)sizeof si) {}
  close(in->fd);
  sigprocmask(SIG_SETMASK, &in->old, NULL);
}

/* hpvmmigrate --cancel for this VM, on a connection of its own; the answer is noted in *in. */
static void send_cancel(mrun *r, interrupt *in, const char *name) {
  Hpvm__MigrateRequest m = HPVM__MIGRATE_REQUEST__INIT;
  m.name = (char *)name;
  m.target = "";
  m.cancel = true;
  char *argv[] = {r->run.argv[0], "-P", (char *)name, "--cancel"};
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_MIGRATE;
  req.migrate = &m;
  req.n_argv = 4;
  req.argv = argv;
  int fd;
  char msg[600];
  Hpvm__Response *resp = NULL;
  int rc = hpvmd_connect(r->run.c->t.socket_path, &fd, msg, sizeof msg);
  if (!rc) {
    rc = hpvmd_exchange(fd, &req, &resp);
    close(fd);
    if (!rc && resp && resp->error) rc = resp->error;
    snprintf(msg, sizeof msg, "%s", resp && resp->message && *resp->message ? resp->message : hpvm_strerror(rc));
  }
  if (resp) hpvmd_response_free(resp);
  in->canceled = rc == 0;
  if (rc) snprintf(in->why, sizeof in->why, "%s", msg);
  FILE *f = r->run.c->out;
  if (!r->run.json) {
    if (rc) fprintf(f, "%s: %s: the cancel was refused: %s\n", r->run.c->cmd, in->sig, msg);
    else fprintf(f, "%s: %s: canceling the migration of VM %s (%s)\n", r->run.c->cmd, in->sig, name, msg);
    fflush(f);
  }
}

/* A signal arrived: the first sends the cancel; 1 when hpvmmigrate must stop waiting. */
static int on_signal(mrun *r, interrupt *in, const char *name) {
  struct signalfd_siginfo si;
  if (read(in->fd, &si, sizeof si) != (ssize_t)sizeof si) return 0;
  if (in->count++ == 0) {
    in->sig = si.ssi_signo == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)";
    send_cancel(r, in, name);
    return 0;
  }
  return 1;
}

#define INTERRUPTED_AGAIN 2

/* The next Response: 0 with *resp, an error (msg says it), or INTERRUPTED_AGAIN (a second
 * signal: stop waiting). A first signal sends the cancel and the waiting goes on. */
static int next_response(mrun *r, interrupt *in, int fd, const char *name, Hpvm__Response **resp, char *msg,
                         size_t len) {
  while (in->fd >= 0) {
    struct pollfd p[2] = {{fd, POLLIN, 0}, {in->fd, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if ((p[1].revents & POLLIN) && on_signal(r, in, name)) return INTERRUPTED_AGAIN;
    if (p[0].revents) break;
  }
  ProtobufCMessage *next = NULL;
  int rc = wire_recv_msg(fd, &hpvm__response__descriptor, WIRE_RPC_MAX_FRAME, &next, msg, len);
  if (rc == 1) {
    rc = HPVM_EIO;
    snprintf(msg, len, "hpvmd closed the connection before the migration ended (did it stop? see hpvmstatus -P %s "
             "and hpvmd's log)", name);
  }
  if (!rc) *resp = (Hpvm__Response *)next;
  return rc;
}

/* Send the request and read Responses until the final one. */
static int run_migrate(mrun *r, const mopts *o, const char *name) {
  Hpvm__MigrateRequest m = HPVM__MIGRATE_REQUEST__INIT;
  m.name = (char *)name;
  m.target = (char *)(o->host ? o->host : "");
  m.online = o->online;
  m.check_only = o->check;
  m.force = o->force;
  m.cancel = o->cancel;
  m.downtime_ms = o->downtime_ms;
  m.bandwidth_bps = o->bandwidth_bps;
  m.channels = o->channels;
  m.compress = o->compress;
  m.init_timeout_ms = o->timeouts[0];
  m.copy_timeout_ms = o->timeouts[1];
  m.quiesce_timeout_ms = o->timeouts[2];
  m.frozen_timeout_ms = o->timeouts[3];
  m.boot_after = o->boot;
  m.delete_source = o->del;
  m.stop_first = o->stop;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_MIGRATE;
  req.migrate = &m;
  req.n_argv = (size_t)r->run.argc;
  req.argv = r->run.argv;
  int fd;
  char msg[600];
  int rc = hpvmd_connect(r->run.c->t.socket_path, &fd, msg, sizeof msg);
  if (rc) return cli_fail(&r->run, rc, "%s", msg);
  interrupt in = {.fd = -1};
  if (o->online && !o->check && !o->cancel) interrupt_start(&in);   /* a signal meanwhile waits in the fd */
  Hpvm__Response *resp = NULL;
  rc = hpvmd_exchange(fd, &req, &resp);
  uint64_t last = 0;
  char last_phase[32] = "";
  bool gave_up = false;
  /* Progress until the final answer (hpvmd_exchange reads the first; the rest follow). */
  while (!rc && resp && resp->more) {
    if (resp->body_case == HPVM__RESPONSE__BODY_MIGRATE && !r->run.json && !r->quiet) {
      const Hpvm__MigrateProgress *p = resp->migrate;
      const char *phase = p->stats ? p->stats->phase : "";
      bool changed = strcmp(phase, last_phase) != 0 || (p->note && *p->note);
      if (r->verbose || changed || now_ms() - last >= 1000) {
        print_progress(r, p);
        last = now_ms();
        snprintf(last_phase, sizeof last_phase, "%s", phase);
      }
    }
    hpvmd_response_free(resp);
    resp = NULL;
    rc = next_response(r, &in, fd, name, &resp, msg, sizeof msg);
    if (rc == INTERRUPTED_AGAIN) {
      gave_up = true;
      rc = 0;
      break;
    }
    if (rc) break;
    if (resp->error) rc = resp->error;
  }
  close(fd);
  interrupt_end(&in);
  int st = 0;
  const char *said = resp && resp->message && *resp->message ? resp->message : rc == HPVM_EIO ? msg : hpvm_strerror(rc);
  if (gave_up) {
    st = cli_fail(&r->run, HPVM_ECANCELED, "%s again: stopped waiting for the migration's end; %s (hpvmstatus -P %s "
                  "shows where the guest runs)", in.sig, in.canceled ? "hpvmd was asked to cancel it" : in.why, name);
  } else if (rc && in.canceled) {
    st = cli_fail(&r->run, rc, "migration canceled (%s): %s", in.sig, said);
  } else if (rc) {
    st = cli_fail(&r->run, rc, "%s", said);
  } else if (o->cancel) {
    if (!r->run.json) fprintf(r->run.c->out, "%s: %s\n", r->run.c->cmd, resp->message);
    else {
      fprintf(r->run.c->out, "{\"canceled\":true,\"vm\":");
      cli_json_str(r->run.c->out, name);
      fprintf(r->run.c->out, "}\n");
    }
  } else if (resp->body_case == HPVM__RESPONSE__BODY_MIGRATE) {
    const Hpvm__MigrateProgress *p = resp->migrate;
    if (r->run.json) json_summary(r, p, o->check);
    else if (o->check) {
      fprintf(r->run.c->out, "%s: VM %s can migrate%s to host %s: %s\n", r->run.c->cmd, name, o->online ? " live" : "",
              p->target, p->note);
      for (size_t i = 0; i < p->n_warnings; i++) fprintf(r->run.c->out, "%s: warning: %s\n", r->run.c->cmd, p->warnings[i]);
    } else if (!o->online) {
      if (!r->quiet) fprintf(r->run.c->out, "%s: %s\n", r->run.c->cmd, p->note);   /* offline: hpvmd says what moved */
    } else if (!r->quiet) print_summary(r, p);
    if (in.count && !r->run.json)   /* the cancel came too late: the guest is the target's */
      fprintf(r->run.c->out, "%s: %s, but the migration had already completed%s%s\n", r->run.c->cmd, in.sig,
              in.why[0] ? ": " : "", in.why);
  }
  hpvmd_response_free(resp);
  return st;
}

int cli_cmd_migrate(cli_ctx *c, int argc, char **argv) {
  mrun r = {.run = {.c = c, .argc = argc, .argv = argv}};
  mopts o;
  memset(&o, 0, sizeof o);
  int st = parse(&r, &o, argc, argv);
  if (st) return st < 0 ? 0 : st;
  char *name = NULL;
  if (o.p && (st = name_of_number(&r, o.p, &name))) return st;
  r.run.vm = name ? name : o.P;
  st = run_migrate(&r, &o, r.run.vm);
  free(name);
  return st;
}
