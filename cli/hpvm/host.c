/* host.c — hpvmhost: the hosts of the cluster (docs/man/hpvmhost.md).
 *
 *   hpvmhost status [--json]                 every host: address, state, uptime, guests, free
 *                                            memory and entitlement, version
 *   hpvmhost init --shared DIR [--name NAME] create the cluster (id and secret) in DIR
 *   hpvmhost join                            this host joins the membership (kept at restarts)
 *   hpvmhost leave [-F]                      this host leaves gracefully (kept at restarts)
 *
 * status, join and leave ask this host's hpvmd; init writes the shared directory itself (as
 * root, before the first hpvmd starts there: a hpvmd that finds no cluster creates one).
 * Errors are one line on stderr, "hpvmhost: ERROR: ...", exit status 1 (2 for usage). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cli.h"
#include "storage.h"

typedef struct hrun {
  cli_ctx *c;
  int argc;
  char **argv;
  bool json;
} hrun;

static int fail(hrun *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(hrun *r, int code, const char *fmt, ...) {
  char msg[CLI_WHY + 4300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(r->c->err, "%s: ERROR: %s\n", r->c->cmd, msg);
  if (r->json) {
    fprintf(r->c->out, "{\"error\":{\"code\":\"%s\",\"message\":", hpvm_err_name(code));
    cli_json_str(r->c->out, msg);
    fprintf(r->c->out, "}}\n");
  }
  return 1;
}

static int help(hrun *r, FILE *f, int status) {
  fprintf(f, "usage: %s status [--json]\n"
             "       %s init --shared DIR [--name CLUSTER]\n"
             "       %s join\n"
             "       %s leave [-F]\n"
             "The hosts of the cluster: their state as the membership sees it (Up, Maintenance,\n"
             "Draining, Suspect, Dead, Left; Unknown for a host this one has no news of),\n"
             "uptime, guests, free memory and CPU entitlement, version. join and leave change\n"
             "this host's membership, and the change outlasts restarts of hpvmd.\n",
          r->c->cmd, r->c->cmd, r->c->cmd, r->c->cmd);
  return status;
}

static int call(hrun *r, Hpvm__HostOp op, bool force, Hpvm__Response **resp) {
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__HostRequest h = HPVM__HOST_REQUEST__INIT;
  h.op = op;
  h.force = force;
  req.body_case = HPVM__REQUEST__BODY_HOST;
  req.host = &h;
  req.n_argv = (size_t)r->argc;
  req.argv = r->argv;
  *resp = NULL;
  int rc = r->c->t.call(r->c->t.ctx, &req, resp);
  if (!*resp) return fail(r, rc ? rc : HPVM_EIO, "no answer from hpvmd");
  if (!rc) rc = (*resp)->error;
  if (!rc) return 0;
  fail(r, rc, "%s", (*resp)->message && *(*resp)->message ? (*resp)->message : hpvm_strerror(rc));
  r->c->t.free_resp(r->c->t.ctx, *resp);
  *resp = NULL;
  return 1;
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
  if (call(r, HPVM__HOST_OP__HOST_OP_STATUS, false, &resp)) return 1;
  if (resp->body_case != HPVM__RESPONSE__BODY_HOSTS) {
    r->c->t.free_resp(r->c->t.ctx, resp);
    return fail(r, HPVM_EIO, "hpvmd answered without a host list; run the same hpvm version as the daemon");
  }
  if (r->json) print_json(r->c->out, resp->hosts);
  else print_table(r->c->out, resp->hosts);
  r->c->t.free_resp(r->c->t.ctx, resp);
  return 0;
}

static int cmd_simple(hrun *r, Hpvm__HostOp op, bool force, const char *done) {
  Hpvm__Response *resp;
  if (call(r, op, force, &resp)) return 1;
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
    if (n < 0) return fail(r, HPVM_EIO, "no randomness for the cluster secret: %s", strerror(errno));
    got += (size_t)n;
  }
  sto_options so = {.root = shared, .host = NULL};
  sto_store *s = NULL;
  int rc = sto_open(&so, &s);
  if (!rc) rc = sto_layout_init(s);
  char id[37] = "", old_name[64] = "";
  uint8_t old[32];
  if (!rc && sto_cluster_read(s, id, old_name, sizeof old_name, old) == 0) {
    fail(r, HPVM_EEXIST, "%s already holds cluster %s (%s); one shared directory is one cluster", shared, old_name, id);
    sto_close(s);
    return 1;
  }
  if (!rc) rc = sto_cluster_create(s, name ? name : "hpvm", secret, id);
  if (rc) {
    fail(r, rc, "cannot create the cluster in %s: %s", shared, s ? sto_error(s) : hpvm_strerror(rc));
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

int cli_cmd_host(cli_ctx *c, int argc, char **argv) {
  hrun r = {.c = c, .argc = argc, .argv = argv};
  const char *sub = NULL, *shared = NULL, *name = NULL;
  bool force = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) return help(&r, c->out, 0);
    if (!strcmp(a, "--json")) r.json = true;
    else if (!strcmp(a, "-F")) force = true;
    else if (!strcmp(a, "--shared") || !strcmp(a, "--name")) {
      if (i + 1 >= argc) return fprintf(c->err, "%s: %s needs a value\n", c->cmd, a), 2;
      *(a[2] == 's' ? &shared : &name) = argv[++i];
    } else if (a[0] == '-') return fprintf(c->err, "%s: unknown option %s (see --help)\n", c->cmd, a), 2;
    else if (!sub) sub = a;
    else return fprintf(c->err, "%s: unexpected argument %s (see --help)\n", c->cmd, a), 2;
  }
  if (!sub) return help(&r, c->err, 2);
  if ((shared || name) && strcmp(sub, "init")) return fprintf(c->err, "%s: --shared and --name go with init\n", c->cmd), 2;
  if (force && strcmp(sub, "leave")) return fprintf(c->err, "%s: -F goes with leave\n", c->cmd), 2;
  if (!strcmp(sub, "status")) return cmd_status(&r);
  if (!strcmp(sub, "init")) return cmd_init(&r, shared, name);
  if (!strcmp(sub, "join")) return cmd_simple(&r, HPVM__HOST_OP__HOST_OP_JOIN, false, "This host joined the cluster");
  if (!strcmp(sub, "leave")) return cmd_simple(&r, HPVM__HOST_OP__HOST_OP_LEAVE, force, "This host left the cluster");
  return fprintf(c->err, "%s: unknown subcommand %s (status, init, join, leave)\n", c->cmd, sub), 2;
}
