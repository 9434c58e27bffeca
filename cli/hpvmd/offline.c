/* offline.c — offline migration (hpvmmigrate -P vm -h B without -o): a stopped guest's
 * registration moves to host B, and with -b host B boots it. Both sides are here.
 *
 * The source (the host the command runs on) keeps one hd_offline per request and steps it
 * through explicit states; each arrow is one function below:
 *
 *   request --local checks--> STOPPING   -d and the guest runs here: a graceful stop,
 *      |                         |        watched until it is Off
 *      v                         v
 *   OFFERING   worker thread: connect to B's peer address (its liveness record), the
 *      |       authenticated channel (proto/chan.h), OfflineOffer: the configuration as
 *      |       stored and storage proofs; B checks what a live offer is checked for
 *      +--refused: the client hears B's reason; -s: the checks passed, nothing changes
 *      v
 *   MOVING     loop thread: the guest's lease taken for the move (so a start anywhere
 *      |       meanwhile fails, and one that won first makes the move fail), the
 *      |       configuration re-read at the generation B checked, B runnable, this host Not
 *      |       Runnable ("migrated to B") or unregistered (-D), written by compare-and-swap,
 *      |       the lease released: FREE, as a stopped guest's is
 *      v
 *   COMMITTING worker: OfflineCommit: B writes the migration in the command log; with -b it
 *      |       starts the guest and answers once it runs, or why it did not
 *      v
 *   DONE       the client's answer (and this host's command-log line, hd_answer)
 *
 * A failure before MOVING changes nothing. A failure of the commit leaves the registration
 * moved (the guest is B's to start) and says so. Live migration marks the source the same
 * way through hd_offline_register_move.
 *
 * The target answers each request on the connection it came on (peer.c hands them here):
 * hd_offline_offer (checks, nothing kept) and hd_offline_commit (log; -b: hd_vm_start and a
 * short timer that watches the run until hpvmapp said hello or gave up). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "peer.pb-c.h"

#define OFF_TIMEOUT_MS 10000           /* connect, handshake, each request without a boot */
#define OFF_BOOT_TIMEOUT_MS 60000      /* a commit with -b: the target starts the guest */
#define OFF_POLL_MS 50
#define TOKEN_PREFIX ".hpvm-offline-"

typedef enum off_state {
  OFF_INVALID = 0,
  OFF_STOPPING,
  OFF_OFFERING,
  OFF_MOVING,
  OFF_COMMITTING,
  OFF_DONE,
} off_state;

static const char *off_state_name(off_state s) {
  static const char *const names[] = {"invalid", "stopping", "offering", "moving", "committing", "done"};
  return s <= OFF_DONE ? names[s] : "invalid";
}

struct hd_offline {
  hd_daemon *d;
  off_state state;
  char id[33];
  char vm[STO_NAME_MAX + 1];
  char target[STO_NAME_MAX + 1];
  char address[160];
  bool check_only, force, boot, drop, stop_first;
  hd_client *client;                 /* NULL once it went away: the result is only logged */
  uint64_t req_id;
  char *user, *cmdline;
  Hpvm__VmConfig *cfg;               /* as offered to the target */
  char **tokens;                     /* proof token files: removed at the end */
  size_t ntokens;
  Hpvm__StorageProof **proofs;
  size_t nproofs;
  uv_timer_t *timer;                 /* STOPPING: watching the guest stop */
  uint64_t stop_deadline_ms;
  /* The worker's request and answer. */
  uv_work_t work;
  chan_config cc;
  Hpvm__PeerRequest *req;
  int timeout_ms;
  int rc;
  char msg[1500];
  Hpvm__PeerAnswer *ans;
  hd_offline *next;
};

/* ---- Small pieces ------------------------------------------------------------------------------- */

static uint64_t now_ms(void) {
  return hd_mono_ns() / 1000000u;
}

static int peer_answer(hd_daemon *d, chan *ch, int err, const char *message, char **warnings, size_t nwarn) {
  Hpvm__PeerAnswer a = HPVM__PEER_ANSWER__INIT;
  a.error = err;
  a.message = (char *)(message ? message : "");
  a.warnings = warnings;
  a.n_warnings = nwarn;
  a.host = (char *)sto_host(d->sto);
  char msg[600];
  int rc = chan_send(ch, &a.base, NULL, 0, OFF_TIMEOUT_MS, msg, sizeof msg);
  if (rc) hd_log(d, HD_WARN, "offline migration: cannot answer host %s: %s", chan_peer(ch), msg);
  return rc;
}

/* ---- The registration move (also live migration's, after its handoff) -------------------------- */

int hd_offline_register_move(hd_daemon *d, const char *name, const char *to, bool drop_source, uint64_t want_gen,
                             char *why, size_t len) {
  for (int attempt = 0; attempt < 20; attempt++) {
    Hpvm__VmConfig *cfg = NULL;
    int rc = sto_vm_load(d->sto, name, &cfg);
    if (rc) return snprintf(why, len, "%s", sto_error(d->sto)), rc;
    if (want_gen && cfg->config_generation != want_gen) {
      sto_vm_free(cfg);
      return snprintf(why, len, "VM %s was modified since host %s checked it; run hpvmmigrate again", name, to),
             HPVM_EBUSY;
    }
    rc = sto_vm_register_move(cfg, sto_host(d->sto), to, drop_source, hd_wall_ns());
    if (rc) snprintf(why, len, "cannot move the registration of VM %s to host %s: %s", name, to, hpvm_strerror(rc));
    else if ((rc = sto_vm_update(d->sto, cfg))) snprintf(why, len, "%s", sto_error(d->sto));
    sto_vm_free(cfg);
    if (rc != HPVM_EBUSY || want_gen) return rc;
  }
  return snprintf(why, len, "the configuration of VM %s kept changing; run hpvmmigrate again", name), HPVM_EBUSY;
}

/* ---- Source: the record ------------------------------------------------------------------------- */

static void on_timer_closed(uv_handle_t *h) {
  free(h);
}

static void off_free(hd_offline *o) {
  hd_daemon *d = o->d;
  for (hd_offline **p = &d->offlines; *p; p = &(*p)->next)
    if (*p == o) {
      *p = o->next;
      break;
    }
  for (size_t i = 0; i < o->ntokens; i++) unlink(o->tokens[i]), free(o->tokens[i]);
  free(o->tokens);
  for (size_t i = 0; i < o->nproofs; i++) hpvm__storage_proof__free_unpacked(o->proofs[i], NULL);
  free(o->proofs);
  if (o->timer) uv_close((uv_handle_t *)o->timer, on_timer_closed);
  if (o->req) {
    /* Built from borrowed pieces (the config, the proofs): only the shells are ours. */
    if (o->req->body_case == HPVM__PEER_REQUEST__BODY_OFFLINE_OFFER) free(o->req->offline_offer);
    else free(o->req->offline_commit);
    free(o->req);
  }
  if (o->ans) hpvm__peer_answer__free_unpacked(o->ans, NULL);
  sto_vm_free(o->cfg);
  free(o->user);
  free(o->cmdline);
  free(o);
}

/* The end, either way: the client's answer (a MigrateProgress whose note says what
 * happened), this host's command log, the record forgotten. */
static void off_finish(hd_offline *o, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void off_finish(hd_offline *o, int err, const char *fmt, ...) {
  hd_daemon *d = o->d;
  char text[1600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  o->state = OFF_DONE;
  hd_log(d, err ? HD_WARN : HD_INFO, "offline migration %s of VM %s to host %s: %s", o->id, o->vm, o->target, text);
  Hpvm__MigrateProgress p = HPVM__MIGRATE_PROGRESS__INIT;
  Hpvm__MigrateStats s = HPVM__MIGRATE_STATS__INIT;
  s.phase = err ? "failed" : o->check_only ? "checked" : "done";
  p.id = o->id;
  p.vm = o->vm;
  p.source = (char *)sto_host(d->sto);
  p.target = o->target;
  p.stats = &s;
  p.note = err ? "" : text;
  if (o->ans) {
    p.warnings = o->ans->warnings;
    p.n_warnings = o->ans->n_warnings;
  }
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = o->req_id;
  r.error = err;
  r.message = err ? text : "";
  r.body_case = HPVM__RESPONSE__BODY_MIGRATE;
  r.migrate = &p;
  if (o->client) hd_answer(o->client, &r, o->user, o->cmdline);
  else hd_cmdlog(d, o->user, o->cmdline, err, err ? text : "");
  off_free(o);
}

void hd_offline_forget_client(hd_daemon *d, hd_client *c) {
  for (hd_offline *o = d->offlines; o; o = o->next)
    if (o->client == c) o->client = NULL;
}

/* ---- Source: the storage proofs ----------------------------------------------------------------- */

/* The proofs as messages of the offer (unpacked copies, freed with free_unpacked). */
static int make_proofs(hd_offline *o, char *why, size_t len) {
  hd_proofs ps = {0};
  char token_name[64];
  snprintf(token_name, sizeof token_name, TOKEN_PREFIX "%s", o->id);
  int rc = hd_proofs_make(token_name, o->cfg, &ps, &o->tokens, &o->ntokens, why, len);
  if (!rc && !(o->proofs = calloc(ps.n ? ps.n : 1, sizeof *o->proofs))) rc = HPVM_ENOMEM;
  for (size_t i = 0; !rc && i < ps.n; i++) {
    o->proofs[i] = hpvm__storage_proof__unpack(NULL, ps.packed[i].len, ps.packed[i].data);
    if (o->proofs[i]) o->nproofs++;
    else rc = HPVM_ENOMEM;
  }
  if (rc == HPVM_ENOMEM) snprintf(why, len, "hpvmd is out of memory");
  hd_proofs_free(&ps);
  return rc;
}

/* ---- Source: talking to the target (worker thread) ---------------------------------------------- */

/* One request, one answer, on a connection of its own. */
static void off_work(uv_work_t *w) {
  hd_offline *o = w->data;
  chan *ch = NULL;
  o->rc = hd_peer_open(o->address, OFF_TIMEOUT_MS, &o->cc, o->target, &ch, o->msg, sizeof o->msg);
  if (!o->rc) o->rc = hd_peer_ask(ch, o->req, OFF_TIMEOUT_MS, o->timeout_ms, &o->ans, o->msg, sizeof o->msg);
  if (o->rc == 1) {
    snprintf(o->msg, sizeof o->msg, "host %s closed the connection without an answer", o->target);
    o->rc = HPVM_ETRUNC;
  }
  chan_close(ch);
}

static void after_offer(uv_work_t *w, int status);
static void after_commit(uv_work_t *w, int status);

static int send_request(hd_offline *o, int timeout_ms, uv_after_work_cb after) {
  hd_chan_config(o->d, &o->cc);
  o->cc.timeout_ms = OFF_TIMEOUT_MS;
  o->timeout_ms = timeout_ms;
  o->rc = 0;
  o->msg[0] = 0;
  if (o->ans) hpvm__peer_answer__free_unpacked(o->ans, NULL);
  o->ans = NULL;
  o->work.data = o;
  return uv_queue_work(o->d->loop, &o->work, off_work, after) ? HPVM_ENOMEM : 0;
}

/* ---- Source: the steps -------------------------------------------------------------------------- */

static void offer(hd_offline *o) {
  char why[1200];
  int rc = make_proofs(o, why, sizeof why);
  if (rc) return off_finish(o, rc, "%s", why);
  Hpvm__PeerRequest *r = malloc(sizeof *r);
  Hpvm__OfflineOffer *of = malloc(sizeof *of);
  if (!r || !of) {
    free(r), free(of);
    return off_finish(o, HPVM_ENOMEM, "hpvmd is out of memory");
  }
  hpvm__peer_request__init(r);
  hpvm__offline_offer__init(of);
  of->migration_id = o->id;
  of->config = o->cfg;
  of->source_host = (char *)sto_host(o->d->sto);
  of->check_only = o->check_only;
  of->force = o->force;
  of->proofs = o->proofs;
  of->n_proofs = o->nproofs;
  r->body_case = HPVM__PEER_REQUEST__BODY_OFFLINE_OFFER;
  r->offline_offer = of;
  o->req = r;
  o->state = OFF_OFFERING;
  if (send_request(o, OFF_TIMEOUT_MS, after_offer)) off_finish(o, HPVM_ENOMEM, "hpvmd is out of memory");
}

static void commit(hd_offline *o) {
  free(o->req->offline_offer);
  hpvm__peer_request__init(o->req);
  Hpvm__OfflineCommit *c = malloc(sizeof *c);
  if (!c) {
    o->req->body_case = HPVM__PEER_REQUEST__BODY_OFFLINE_COMMIT;
    o->req->offline_commit = NULL;
    return off_finish(o, HPVM_ENOMEM, "hpvmd is out of memory; VM %s is registered on host %s now", o->vm, o->target);
  }
  hpvm__offline_commit__init(c);
  c->migration_id = o->id;
  c->name = o->vm;
  c->boot = o->boot;
  c->source_deleted = o->drop;
  c->user = o->user;
  c->command = o->cmdline ? o->cmdline : "";
  o->req->body_case = HPVM__PEER_REQUEST__BODY_OFFLINE_COMMIT;
  o->req->offline_commit = c;
  o->state = OFF_COMMITTING;
  if (send_request(o, o->boot ? OFF_BOOT_TIMEOUT_MS : OFF_TIMEOUT_MS, after_commit))
    off_finish(o, HPVM_ENOMEM, "hpvmd is out of memory; VM %s is registered on host %s now", o->vm, o->target);
}

/* MOVING: the registration, under the lease. */
static void move(hd_offline *o) {
  hd_daemon *d = o->d;
  char why[1200];
  o->state = OFF_MOVING;
  sto_observer obs = {0};
  sto_lease l;
  int rc = sto_lease_acquire(d->sto, o->vm, d->o.lease_timeout_ms, hd_incarnation(d), &obs, &l);
  if (rc) return off_finish(o, HPVM_ESTATE, "VM %s was started meanwhile (%s); nothing moved", o->vm, sto_error(d->sto));
  rc = hd_offline_register_move(d, o->vm, o->target, o->drop, o->cfg->config_generation, why, sizeof why);
  if (sto_lease_release(d->sto, o->vm, &l))
    hd_log(d, HD_WARN, "VM %s: cannot release the lease taken for its offline migration: %s", o->vm, sto_error(d->sto));
  if (rc) return off_finish(o, rc, "%s; nothing moved", why);
  hd_log(d, HD_INFO, "VM %s: registration moved to host %s (%s here)", o->vm, o->target,
         o->drop ? "unregistered" : "Not Runnable");
  commit(o);
}

static void after_offer(uv_work_t *w, int status) {
  hd_offline *o = w->data;
  if (status || o->d->stopping) return off_finish(o, HPVM_ECANCELED, "hpvmd is stopping");
  if (o->rc) return off_finish(o, o->rc, "host %s: %s; nothing moved", o->target, o->msg);
  if (o->ans->error) return off_finish(o, o->ans->error, "%s; nothing moved", o->ans->message);
  if (o->check_only)
    return off_finish(o, 0, "host %s can run VM %s%s: checks passed (-s: nothing moved)", o->target, o->vm,
                      o->ans->n_warnings ? ", with warnings forced" : "");
  hd_vm *v = hd_vm_find(o->d, o->vm);
  if (v && hd_vm_running(v)) return off_finish(o, HPVM_ESTATE, "VM %s was started meanwhile; nothing moved", o->vm);
  move(o);
}

static void after_commit(uv_work_t *w, int status) {
  hd_offline *o = w->data;
  const char *here = o->drop ? "unregistered here" : "Off (NR) here";
  if (status || o->d->stopping)
    return off_finish(o, HPVM_ECANCELED, "hpvmd is stopping; VM %s is registered on host %s now", o->vm, o->target);
  if (o->rc)
    return off_finish(o, o->rc, "VM %s is registered on host %s now (%s), but host %s did not confirm: %s%s", o->vm,
                      o->target, here, o->target, o->msg, o->boot ? "; start it there with hpvmstart" : "");
  if (o->ans->error)
    return off_finish(o, o->ans->error, "VM %s is registered on host %s now (%s), but %s", o->vm, o->target, here,
                      o->ans->message);
  off_finish(o, 0, "VM %s migrated offline to host %s (%s)%s", o->vm, o->target, here,
             o->boot ? "; it runs there now" : "");
}

/* STOPPING: watch the graceful stop (hd_cmd_stop's own timeout powers it off). */
static void on_stop_poll(uv_timer_t *t) {
  hd_offline *o = t->data;
  hd_vm *v = hd_vm_find(o->d, o->vm);
  if (v && hd_vm_running(v)) {
    if (now_ms() < o->stop_deadline_ms) return;
    uv_timer_stop(t);
    return off_finish(o, HPVM_ETIMEDOUT, "VM %s did not stop; nothing moved", o->vm);
  }
  uv_timer_stop(t);
  hd_log(o->d, HD_INFO, "VM %s stopped (%s) for its offline migration to host %s", o->vm,
         v && v->reason ? v->reason : "Off", o->target);
  offer(o);
}

static int stop_guest(hd_offline *o, uint32_t timeout_ms) {
  hd_daemon *d = o->d;
  Hpvm__StopVmRequest s = HPVM__STOP_VM_REQUEST__INIT;
  Hpvm__Request r = HPVM__REQUEST__INIT;
  s.name = o->vm;
  s.mode = HPVM__STOP_MODE__STOP_MODE_GRACEFUL;
  s.timeout_ms = timeout_ms;
  s.no_wait = true;            /* watched here instead */
  r.body_case = HPVM__REQUEST__BODY_STOP;
  r.stop = &s;
  hd_req q = {NULL, &r, o->user, NULL, false, NULL};   /* no client: hd_cmd_stop answers nobody */
  hd_cmd_stop(d, &q);
  if (!(o->timer = malloc(sizeof *o->timer))) return HPVM_ENOMEM;
  uv_timer_init(d->loop, o->timer);
  o->timer->data = o;
  uint32_t t = timeout_ms ? timeout_ms : d->o.stop_timeout_ms;
  o->stop_deadline_ms = now_ms() + t + HD_KILL_GRACE_MS + 5000;
  o->state = OFF_STOPPING;
  uv_timer_start(o->timer, on_stop_poll, OFF_POLL_MS, OFF_POLL_MS);
  hd_log(d, HD_INFO, "%s stops VM %s gracefully (-d) to migrate it offline to host %s", o->user, o->vm, o->target);
  return 0;
}

/* The target's peer address from its liveness record. */
static int resolve(hd_offline *o, const char *target, char *why, size_t len) {
  hd_daemon *d = o->d;
  char sub[600];
  if (sto_host_name_check(target, sub, sizeof sub))
    return snprintf(why, len, "-h %s: offline migration names the target by its host name (%s)", target, sub),
           HPVM_EINVAL;
  int rc = hd_peer_resolve(d, target, o->address, sizeof o->address, why, len);
  if (rc) return rc;
  snprintf(o->target, sizeof o->target, "%s", target);
  return 0;
}

/* What must hold here before anything is asked of the target. *stop: -d must stop it first. */
static int local_checks(hd_offline *o, const Hpvm__MigrateRequest *r, bool *stop, char *why, size_t len) {
  hd_daemon *d = o->d;
  const char *name = r->name, *me = sto_host(d->sto);
  hd_vm *v = hd_vm_find(d, name);
  *stop = false;
  sto_lease l;
  if (sto_lease_read(d->sto, name, &l) == 0 && l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD && strcmp(l.owner, me))
    return snprintf(why, len, "VM %s runs on host %s: migrate it from there", name, l.owner), HPVM_ESTATE;
  if (v && v->state == HPVM__VM_RUN_STATE__VM_RUN_STATE_INCOMING)
    return snprintf(why, len, "VM %s is migrating in to this host; wait until it runs here", name), HPVM_ESTATE;
  if (v && hd_vm_running(v)) {
    if (!r->stop_first)
      return snprintf(why, len, "VM %s is %s: migrate it live with -o, or let hpvmmigrate stop it first with -d (a "
                      "graceful stop, then the offline migration)", name, hd_state_name(v->state)), HPVM_ESTATE;
    if (r->check_only)
      return snprintf(why, len, "VM %s is %s: -s checks a stopped guest's migration; stop it first, or check a live "
                      "one with -o -s", name, hd_state_name(v->state)), HPVM_ESTATE;
    *stop = true;
  }
  for (hd_offline *x = d->offlines; x; x = x->next)
    if (!strcmp(x->vm, name) && x != o)
      return snprintf(why, len, "VM %s is already being migrated offline to host %s (%s)", name, x->target,
                      off_state_name(x->state)), HPVM_EBUSY;
  char sub[1200];
  if (sto_vm_runnable_on(o->cfg, me, sub, sizeof sub))
    return snprintf(why, len, "%s; only a host where it is runnable migrates it", sub), HPVM_ESTATE;
  return 0;
}

void hd_migrate_offline(hd_daemon *d, const hd_req *q) {
  const Hpvm__MigrateRequest *r = q->r->migrate;
  char why[1500];
  hd_offline *o = calloc(1, sizeof *o);
  if (!o) return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_ENOMEM, "hpvmd is out of memory");
  o->d = d;
  snprintf(o->vm, sizeof o->vm, "%s", r->name);
  o->check_only = r->check_only;
  o->force = r->force;
  o->boot = r->boot_after;
  o->drop = r->delete_source;
  o->stop_first = r->stop_first;
  o->client = q->c;
  o->req_id = q->r->id;
  o->user = strdup(q->user ? q->user : "hpvmd");
  o->cmdline = q->cmdline ? strdup(q->cmdline) : NULL;
  o->next = d->offlines;
  d->offlines = o;
  int rc = hd_random_hex(o->id, 16);
  if (rc) snprintf(why, sizeof why, "no randomness for a migration id");
  if (!rc && sto_vm_load(d->sto, r->name, &o->cfg)) rc = HPVM_ENOENT, snprintf(why, sizeof why, "%s", sto_error(d->sto));
  bool stop = false;
  if (!rc) rc = local_checks(o, r, &stop, why, sizeof why);
  if (!rc) rc = resolve(o, r->target, why, sizeof why);
  if (rc) {
    snprintf(o->target, sizeof o->target, "%s", r->target ? r->target : "");
    return off_finish(o, rc, "%s", why);
  }
  hd_log(d, HD_INFO, "%s migrates VM %s offline to host %s (%s, migration %s)%s%s%s%s", o->user, o->vm, o->target,
         o->address, o->id, o->check_only ? ", check only" : "", o->boot ? ", boot there" : "",
         o->drop ? ", delete here" : "", stop ? ", stop first" : "");
  if (stop) {
    const char *a = NULL;
    for (size_t i = 0; i < o->cfg->n_attributes; i++)
      if (!strcmp(o->cfg->attributes[i]->key, "graceful_stop_timeout")) a = o->cfg->attributes[i]->value;
    uint32_t secs = a ? (uint32_t)strtoul(a, NULL, 10) : 0;
    if ((rc = stop_guest(o, secs <= 3600 ? secs * 1000u : 0))) off_finish(o, rc, "hpvmd is out of memory");
    return;
  }
  offer(o);
}

/* ---- Target ------------------------------------------------------------------------------------- */

/* What this host must agree to before a stopped guest becomes its: the live offer's checks
 * that apply to a guest that is not running. 0, or an error with why; warnings (refusing
 * without force) in warn. */
static int offline_check(hd_daemon *d, const char *src, const Hpvm__OfflineOffer *o, char warn[2][400], size_t *nwarn,
                         char *why, size_t len) {
  const char *me = sto_host(d->sto);
  const Hpvm__VmConfig *c = o->config;
  char sub[900];
  *nwarn = 0;
  if (!c || !c->name || sto_vm_name_check(c->name, sub, sizeof sub))
    return snprintf(why, len, "the offer names no valid VM"), HPVM_EINVAL;
  if (!strcmp(src, me)) return snprintf(why, len, "host %s is the source itself", me), HPVM_EINVAL;
  hd_vm *v = hd_vm_find(d, c->name);
  if (v && (hd_vm_running(v) || v->state == HPVM__VM_RUN_STATE__VM_RUN_STATE_INCOMING))
    return snprintf(why, len, "a guest named %s is already running on host %s (%s)", c->name, me,
                    hd_state_name(v->state)), HPVM_EEXIST;
  int rc = hd_peer_same_config(d, c, why, len);
  if (rc) return rc;
  sto_lease l;
  if (sto_lease_read(d->sto, c->name, &l) == 0 && l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD)
    return snprintf(why, len, "VM %s is not stopped: host %s holds its lease", c->name, l.owner), HPVM_ESTATE;
  if ((rc = hd_host_check(d, c, sub, sizeof sub))) return snprintf(why, len, "on host %s: %s", me, sub), rc;
  for (size_t i = 0; i < o->n_proofs; i++)
    if ((rc = hd_peer_check_proof(d, src, o->proofs[i], why, len))) return rc;
  if ((rc = hd_peer_check_capacity(d, c, why, len))) return rc;
  unsigned cpus = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
  if (c->vcpus > cpus)
    snprintf(warn[(*nwarn)++], 400, "VM %s has %u vCPUs and host %s only %u cores", c->name, c->vcpus, me, cpus);
  uint64_t avail = hd_mem_available();
  if (avail && c->memory_bytes > avail)
    snprintf(warn[(*nwarn)++], 400, "host %s has %llu MB of memory available now and VM %s has %llu MB", me,
             (unsigned long long)(avail >> 20), c->name, (unsigned long long)(c->memory_bytes >> 20));
  if (*nwarn && !o->force) {
    size_t n = (size_t)snprintf(why, len, "host %s warns: ", me);
    for (size_t i = 0; i < *nwarn && n < len; i++) n += (size_t)snprintf(why + n, len - n, "%s%s", i ? "; " : "", warn[i]);
    if (n < len) snprintf(why + n, len - n, " (hpvmmigrate -F migrates anyway)");
    return HPVM_ESTATE;
  }
  return 0;
}

void hd_offline_offer(hd_daemon *d, chan *ch, const Hpvm__OfflineOffer *o) {
  const char *src = chan_peer(ch);
  char why[1500], warn[2][400], *wp[2] = {warn[0], warn[1]};
  size_t nwarn = 0;
  int rc = offline_check(d, src, o, warn, &nwarn, why, sizeof why);
  hd_log(d, rc ? HD_WARN : HD_INFO, "offline migration %s of VM %s from host %s%s: %s",
         o->migration_id ? o->migration_id : "?", o->config && o->config->name ? o->config->name : "?", src,
         o->check_only ? " (check only)" : "", rc ? why : "checks passed");
  peer_answer(d, ch, rc, rc ? why : "", wp, nwarn);
  chan_close(ch);
}

/* A -b boot in progress: the source waits on ch until the guest runs here or did not start. */
typedef struct off_boot {
  hd_daemon *d;
  chan *ch;
  char vm[STO_NAME_MAX + 1];
  char src[STO_NAME_MAX + 1];
  char *user, *cmdline;
  uv_timer_t timer;
  uint64_t deadline_ms;
} off_boot;

static void boot_closed(uv_handle_t *h) {
  off_boot *b = h->data;
  free(b->user), free(b->cmdline), free(b);
}

static void boot_done(off_boot *b, int err, const char *msg) {
  hd_cmdlog(b->d, b->user, b->cmdline, err, msg);
  peer_answer(b->d, b->ch, err, msg, NULL, 0);
  chan_close(b->ch);
  uv_timer_stop(&b->timer);
  uv_close((uv_handle_t *)&b->timer, boot_closed);
}

static void on_boot_poll(uv_timer_t *t) {
  off_boot *b = t->data;
  hd_vm *v = hd_vm_find(b->d, b->vm);
  char msg[2000];
  if (v && v->state == HPVM__VM_RUN_STATE__VM_RUN_STATE_ON) return boot_done(b, 0, "");
  if (!v || !hd_vm_running(v)) {
    snprintf(msg, sizeof msg, "host %s did not start VM %s: %.1200s", sto_host(b->d->sto), b->vm,
             v && v->reason ? v->reason : "it stopped");
    return boot_done(b, HPVM_EIO, msg);
  }
  if (now_ms() > b->deadline_ms) {
    snprintf(msg, sizeof msg, "host %s: VM %s is still %s; see hpvmstatus there", sto_host(b->d->sto), b->vm,
             hd_state_name(v->state));
    boot_done(b, HPVM_ETIMEDOUT, msg);
  }
}

void hd_offline_commit(hd_daemon *d, chan *ch, const Hpvm__OfflineCommit *c) {
  const char *src = chan_peer(ch), *me = sto_host(d->sto);
  char why[1400], cmd[2400], user[400];
  snprintf(user, sizeof user, "%s@%s", c->user && *c->user ? c->user : "?", src);
  snprintf(cmd, sizeof cmd, "%s (offline migration from host %s%s)", c->command && *c->command ? c->command : "hpvmmigrate",
           src, c->source_deleted ? ", deleted there" : "");
  Hpvm__VmConfig *cfg = NULL;
  int rc = c->name ? sto_vm_load(d->sto, c->name, &cfg) : HPVM_EINVAL;
  if (rc) snprintf(why, sizeof why, "host %s: %s", me, c->name ? sto_error(d->sto) : "the commit names no VM");
  else if ((rc = sto_vm_runnable_on(cfg, me, why, sizeof why)))
    snprintf(why, sizeof why, "host %s: VM %s is not registered runnable here: the move did not happen", me, c->name);
  sto_vm_free(cfg);
  if (!rc) hd_log(d, HD_INFO, "VM %s migrated offline from host %s (migration %s): registered here", c->name, src,
                  c->migration_id ? c->migration_id : "?");
  hd_vm *v = NULL;
  if (!rc && c->boot && (rc = hd_vm_start(d, c->name, &v, why, sizeof why))) {
    char sub[1400];
    snprintf(sub, sizeof sub, "host %s could not start VM %s: %.1200s", me, c->name, why);
    snprintf(why, sizeof why, "%s", sub);
  }
  if (rc || !c->boot) {
    hd_cmdlog(d, user, cmd, rc, rc ? why : "");
    peer_answer(d, ch, rc, rc ? why : "", NULL, 0);
    chan_close(ch);
    return;
  }
  hd_log(d, HD_INFO, "VM %s: booting after its offline migration from host %s, hpvmapp pid %d", c->name, src, (int)v->pid);
  off_boot *b = calloc(1, sizeof *b);
  if (b) b->user = strdup(user), b->cmdline = strdup(cmd);
  if (!b || !b->user || !b->cmdline) {
    if (b) free(b->user), free(b->cmdline), free(b);
    peer_answer(d, ch, 0, "", NULL, 0);   /* it boots; nobody will watch it for the source */
    chan_close(ch);
    return;
  }
  b->d = d;
  b->ch = ch;
  snprintf(b->vm, sizeof b->vm, "%s", c->name);
  snprintf(b->src, sizeof b->src, "%s", src);
  b->deadline_ms = now_ms() + OFF_BOOT_TIMEOUT_MS - 5000;
  uv_timer_init(d->loop, &b->timer);
  b->timer.data = b;
  uv_timer_start(&b->timer, on_boot_poll, OFF_POLL_MS, OFF_POLL_MS);
}
