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
             "The hosts of the cluster: their state as the membership sees it (Up, Maintenance,\n"
             "Draining, Suspect, Dead, Left; Unknown for a host this one has no news of),\n"
             "uptime, guests, free memory and CPU entitlement, version. join and leave change\n"
             "this host's membership, and the change outlasts restarts of hpvmd. maintenance\n"
             "enter drains HOST (any host: its hpvmd does it): it takes no new guest, its running\n"
             "guests are live-migrated to other hosts (N at a time), its stopped guests re-homed;\n"
             "it is in Maintenance once it runs no guest. exit returns it to service.\n",
          r->c->cmd, r->c->cmd, r->c->cmd, r->c->cmd, r->c->cmd, r->c->cmd);
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
} maint_opts;

/* maintenance: one request, a progress line per step (Responses with more), the summary. */
static int cmd_maintenance(hrun *r, const maint_opts *o) {
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__HostRequest h = HPVM__HOST_REQUEST__INIT;
  h.op = !strcmp(o->verb, "enter") ? HPVM__HOST_OP__HOST_OP_MAINTENANCE_ENTER : HPVM__HOST_OP__HOST_OP_MAINTENANCE_EXIT;
  h.host = (char *)o->host;
  h.parallel = o->parallel;
  h.policy = (char *)(o->policy ? o->policy : "");
  h.abort = o->abort;
  h.return_guests = o->ret;
  req.body_case = HPVM__REQUEST__BODY_HOST;
  req.host = &h;
  req.n_argv = (size_t)r->argc;
  req.argv = r->argv;
  int fd;
  char msg[600];
  int rc = hpvmd_connect(r->c->t.socket_path, &fd, msg, sizeof msg);
  if (rc) return cli_fail(r, rc, "%s", msg);
  Hpvm__Response *resp = NULL;
  rc = hpvmd_exchange(fd, &req, &resp);
  while (!rc && resp && resp->more) {
    if (!r->json) fprintf(r->c->out, "%s: %s\n", r->c->cmd, resp->message), fflush(r->c->out);
    hpvmd_response_free(resp);
    resp = NULL;
    ProtobufCMessage *next = NULL;
    rc = wire_recv_msg(fd, &hpvm__response__descriptor, WIRE_RPC_MAX_FRAME, &next, msg, sizeof msg);
    if (rc == 1) {
      rc = HPVM_EIO;
      snprintf(msg, sizeof msg, "hpvmd closed the connection before the drain ended (did it stop? see hpvmhost status "
               "and hpvmd's log)");
    }
    if (rc) break;
    resp = (Hpvm__Response *)next;
  }
  close(fd);
  if (!rc && resp) rc = resp->error;
  int st = 0;
  if (rc) st = cli_fail(r, rc, "%s", resp && resp->message && *resp->message ? resp->message : rc == HPVM_EIO ? msg
                                                                                                     : hpvm_strerror(rc));
  else if (r->json) fprintf(r->c->out, "{\"result\":\"ok\",\"message\":"), cli_json_str(r->c->out, resp->message),
                    fprintf(r->c->out, "}\n");
  else fprintf(r->c->out, "%s: %s\n", r->c->cmd, resp->message);
  if (resp) hpvmd_response_free(resp);
  return st;
}

int cli_cmd_host(cli_ctx *c, int argc, char **argv) {
  hrun r = {.c = c, .argc = argc, .argv = argv};
  const char *sub = NULL, *shared = NULL, *name = NULL;
  bool force = false;
  maint_opts mo = {0};
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
  return fprintf(c->err, "%s: unknown subcommand %s (status, init, join, leave, maintenance)\n", c->cmd, sub), 2;
}
