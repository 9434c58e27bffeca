/* drain.c — hpvmhost maintenance enter / exit: draining this host for maintenance
 * (docs/man/hpvmhost.md "Maintenance", docs/design/cluster.md).
 *
 * Typed on another host, the request comes from that host's hpvmd (hd_drain_peer: the answers
 * go back on its channel); asked here for another host, it goes there (forward: a thread reads
 * the answers, the loop relays them).
 *
 * The host's maintenance state (Up, Draining, Maintenance) is kept in STATE/maintenance (absent:
 * Up), so it outlasts restarts of hpvmd, and gossiped in the membership metadata (member.c reads
 * hd_drain_host_state). While it is not Up the host refuses to start guests and refuses
 * incoming migrations (hd_drain_refuses_guests, checked by super.c and peer.c).
 *
 * enter: the host becomes Draining; its stopped guests are re-homed offline (their registration
 * moves to a target chosen by placement, as hpvmmigrate without -o ends); its running guests are
 * placed (cluster/place.h: Up members other than this host, by free memory and entitlement) and
 * live-migrated N at a time through hd_cmd_migrate, the very handler of hpvmmigrate -o, with no
 * client: a timer watches each guest's migration (v->mig, its note) and streams every change to
 * the waiting hpvmhost as a Response with more set. When the last migration ended the host is in
 * Maintenance if it runs no guest; otherwise it stays Draining and the answer lists the guests
 * still here and why. --abort stops launching migrations (those in flight finish) and the host
 * is Up again. Every step is one line in the command log; the guests moved away are appended to
 * STATE/maintenance-moved ("NAME HOST" lines) for hpvmhost maintenance exit --return.
 *
 * Running guests with -x online_migration=disabled are not placed: they are listed as unmovable
 * (DG_UNMOVABLE) and keep the host Draining, as those no target has room for (DG_UNPLACED).
 *
 * exit: the host is Up. --return brings back the guests of STATE/maintenance-moved: a stopped
 * one at once (its registration moves back here), a running one live, one at a time: its owner
 * (its lease) is asked to migrate it here (migfwd.c, the path of hpvmmigrate -o typed on any
 * host), and its progress is streamed like the drain's. Those that could not come back are
 * listed in the result (an error) and stay in STATE/maintenance-moved for another --return. */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "peer.pb-c.h"
#include "place.h"

#define DRAIN_WATCH_MS 100       /* how often the migrations in flight are looked at */
#define DRAIN_PARALLEL_MAX 16
#define PEER_SEND_MS 10000       /* one answer to the host that forwarded the request */

typedef enum dg_phase {
  DG_WAITING = 1,   /* placed, not started yet */
  DG_MIGRATING,     /* hd_cmd_migrate accepted it: v->mig is set */
  DG_MOVED,
  DG_FAILED,        /* refused or ended without a handover: it runs on here */
  DG_UNPLACED,      /* no target has room */
  DG_UNMOVABLE,     /* -x online_migration=disabled: it does not migrate live */
  DG_SKIPPED,       /* the drain was aborted before its turn, or the policy leaves it */
  DG_STOPPING,      /* --policy stop: powered off, hpvmapp not ended yet */
  DG_STOPPED,
} dg_phase;

typedef struct drain_guest {
  char name[STO_NAME_MAX + 1];
  char target[STO_NAME_MAX + 1];
  uint64_t mem;
  unsigned entitlement;
  dg_phase phase;
  char note[400];              /* the last migration note streamed */
} drain_guest;

typedef enum drain_policy { POLICY_MIGRATE = 1, POLICY_STOP, POLICY_LEAVE } drain_policy;

/* exit --return: a guest the drain moved away that runs on another host. */
typedef struct return_guest {
  char name[STO_NAME_MAX + 1];
  char owner[STO_NAME_MAX + 1];   /* the host that runs it now (its lease) */
  char moved_to[STO_NAME_MAX + 1];  /* where the drain sent it (STATE/maintenance-moved) */
  bool back;
  char note[200];                 /* the last progress streamed */
  char why[600];                  /* not back: why */
} return_guest;

struct hd_drain {
  hd_daemon *d;
  bool loaded;                 /* state read from STATE/maintenance */
  clu_host_state state;
  /* The drain in progress (active). */
  bool active, aborting;
  hd_client *client;
  uint64_t req_id;
  char *user, *cmdline;
  drain_policy policy;
  unsigned parallel;
  drain_guest *g;
  size_t ng;
  uv_timer_t *timer;           /* malloc'd, freed by its close callback */
  unsigned moved, failed, rehomed;
  chan *peer;                  /* the run's asker when another host forwarded the request */
  chan *pending;               /* the asker of the request being handled, when forwarded */
  const Hpvm__HostRequest *asked;   /* the enter request while enter() places (its up_hosts) */
  /* exit --return in progress (returning): the running guests come back one at a time, each
   * migrated by its owner (migfwd.c); the stopped ones came back at once. */
  bool returning;
  return_guest *ret;
  size_t nret, ret_next;
  hd_fwd *ret_fwd;             /* the migration back in flight */
  unsigned ret_stopped;        /* stopped guests whose registration came back */
  char ret_missed[1200];       /* stopped guests not brought back, for the result */
};

/* ---- State ---------------------------------------------------------------------------------- */

static void path_of(hd_daemon *d, const char *leaf, char *buf, size_t len) {
  snprintf(buf, len, "%s/%s", d->o.state_dir, leaf);
}

static hd_drain *drain_of(hd_daemon *d) {
  if (!d->drain) {
    d->drain = calloc(1, sizeof *d->drain);
    if (!d->drain) return NULL;
    d->drain->d = d;
  }
  hd_drain *g = d->drain;
  if (!g->loaded) {
    g->loaded = true;
    g->state = CLU_HOST_UP;
    char p[4200], word[32] = "";
    path_of(d, "maintenance", p, sizeof p);
    FILE *f = fopen(p, "r");
    if (f && fscanf(f, "%31s", word) == 1) g->state = !strcmp(word, "maintenance") ? CLU_HOST_MAINTENANCE : CLU_HOST_DRAINING;
    if (f) fclose(f);
  }
  return g;
}

static const char *state_word(clu_host_state s) {
  return s == CLU_HOST_MAINTENANCE ? "maintenance" : s == CLU_HOST_DRAINING ? "draining" : "up";
}

/* Set, persist and gossip the host's state. 0, or HPVM_EIO with why. */
static int set_state(hd_drain *g, clu_host_state s, char *why, size_t len) {
  hd_daemon *d = g->d;
  char p[4200];
  path_of(d, "maintenance", p, sizeof p);
  if (s == CLU_HOST_UP) {
    if (unlink(p) && errno != ENOENT)
      return snprintf(why, len, "cannot remove %.900s: %s", p, strerror(errno)), HPVM_EIO;
  } else {
    FILE *f = fopen(p, "w");
    if (!f || fprintf(f, "%s\n", state_word(s)) < 0 || fclose(f))
      return snprintf(why, len, "cannot write %.900s: %s", p, strerror(errno)), HPVM_EIO;
  }
  g->state = s;
  hd_member_tick(d);   /* the metadata changed: gossip it now */
  return 0;
}

int hd_drain_host_state(hd_daemon *d) {
  hd_drain *g = drain_of(d);
  return g ? g->state : CLU_HOST_UP;
}

bool hd_drain_refuses_guests(hd_daemon *d, char *why, size_t len) {
  clu_host_state s = hd_drain_host_state(d);
  if (s == CLU_HOST_UP) return false;
  snprintf(why, len, "host %s is %s for maintenance and takes no new guests; hpvmhost maintenance exit %s returns it "
           "to service", sto_host(d->sto), state_word(s), sto_host(d->sto));
  return true;
}

/* ---- Telling the story ---------------------------------------------------------------------- */

/* A line (more) or the result to the host that forwarded the request; the channel is closed
 * after the result, or when the other host is gone (the drain goes on). */
static void peer_send(hd_drain *g, chan **ch, bool more, int err, const char *msg) {
  if (!*ch) return;
  Hpvm__PeerAnswer a = HPVM__PEER_ANSWER__INIT;
  a.host = (char *)sto_host(g->d->sto);
  a.more = more;
  a.error = err;
  a.message = (char *)(msg ? msg : "");
  char why[300];
  int rc = chan_send(*ch, &a.base, NULL, 0, PEER_SEND_MS, why, sizeof why);
  if (rc) hd_log(g->d, HD_WARN, "maintenance: host %s that asked is gone (%s); the drain goes on", chan_peer(*ch), why);
  if (rc || !more) {
    chan_close(*ch);
    *ch = NULL;
  }
}

/* Answer request q: to its client, or to the host that forwarded it. */
static void reply(hd_drain *g, const hd_req *q, Hpvm__Response *r) {
  if (q->c) return hd_answer(q->c, r, q->user, q->cmdline);
  hd_cmdlog(g->d, q->user, q->cmdline, r->error, r->message);
  peer_send(g, &g->pending, false, r->error, r->message);
}

/* The result of the run in progress (a drain, or exit --return): to the waiting client or the
 * command log, and to the host that forwarded the request. */
static void answer_run(hd_drain *g, int err, char *msg) {
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = g->req_id;
  r.error = err;
  r.message = msg;
  if (g->client) hd_answer(g->client, &r, g->user, g->cmdline);
  else hd_cmdlog(g->d, g->user ? g->user : "hpvmd", g->cmdline, err, msg);
  peer_send(g, &g->peer, false, err, msg);
}

static void reply_error(hd_drain *g, const hd_req *q, int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void reply_error(hd_drain *g, const hd_req *q, int err, const char *fmt, ...) {
  char msg[1600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = q->r->id;
  r.error = err;
  r.message = msg;
  reply(g, q, &r);
}

/* One step: a progress Response to the waiting hpvmhost, and a line in the command log. */
static void step(hd_drain *g, bool log, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void step(hd_drain *g, bool log, const char *fmt, ...) {
  char line[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (log) {
    char entry[1400];
    snprintf(entry, sizeof entry, "maintenance %s: %s", sto_host(g->d->sto), line);
    hd_cmdlog(g->d, g->user ? g->user : "hpvmd", entry, 0, NULL);
  }
  if (g->client) {
    Hpvm__Response r = HPVM__RESPONSE__INIT;
    r.id = g->req_id;
    r.more = true;
    r.message = line;
    hd_client_send(g->client, &r.base);
  }
  peer_send(g, &g->peer, true, 0, line);
}

static void record_moved(hd_drain *g, const char *name, const char *to) {
  char p[4200];
  path_of(g->d, "maintenance-moved", p, sizeof p);
  FILE *f = fopen(p, "a");
  if (!f || fprintf(f, "%s %s\n", name, to) < 0 || fclose(f))
    hd_log(g->d, HD_WARN, "maintenance: cannot record in %s that VM %s went to host %s: %s", p, name, to,
           strerror(errno));
}

/* ---- Placement ------------------------------------------------------------------------------ */

/* Targets for guests[0..n): target[i] names the host or is "" when none has room. */
static int place(hd_drain *g, const place_guest *pg, size_t n, char (*target)[STO_NAME_MAX + 1], char *why,
                 size_t len) {
  clu_member *hosts = NULL;
  size_t nh = 0;
  int rc = hd_member_list(g->d, &hosts, &nh);
  if (rc) return snprintf(why, len, "this host is not a member of the cluster (hpvmhost join)"), rc;
  /* A host the asker sees Up (hpvmhost rolling has just returned it to service) may still be in
   * maintenance here until the gossip arrives: it is a candidate like any Up host. */
  for (size_t i = 0; g->asked && i < g->asked->n_up_hosts; i++)
    for (size_t h = 0; h < nh; h++)
      if (!strcmp(hosts[h].name, g->asked->up_hosts[i]) && hosts[h].state == CLU_ALIVE &&
          hosts[h].meta.state == CLU_HOST_MAINTENANCE)
        hosts[h].meta.state = CLU_HOST_UP;
  int *t = calloc(n ? n : 1, sizeof *t);
  if (!t) return free(hosts), snprintf(why, len, "out of memory"), HPVM_ENOMEM;
  rc = place_guests(pg, n, hosts, nh, sto_host(g->d->sto), t, why, len);
  for (size_t i = 0; rc >= 0 && i < n; i++) snprintf(target[i], sizeof target[i], "%s", t[i] >= 0 ? hosts[t[i]].name : "");
  free(t);
  free(hosts);
  return rc < 0 ? rc : 0;
}

/* Some member other than this host may receive guests (alive, Up). None: an hpvmd that has just
 * started and not yet heard from the others, or every other host down or in maintenance. */
static bool other_host_up(hd_drain *g) {
  clu_member *hosts = NULL;
  size_t nh = 0;
  bool any = false;
  if (hd_member_list(g->d, &hosts, &nh) == 0)
    for (size_t i = 0; i < nh && !any; i++) any = place_is_candidate(&hosts[i], sto_host(g->d->sto));
  free(hosts);
  return any;
}

/* ---- Stopped guests: re-homed offline --------------------------------------------------------- */

static void rehome_stopped(hd_drain *g) {
  hd_daemon *d = g->d;
  const char *me = sto_host(d->sto);
  sto_vm_entry *vms = NULL;
  size_t n = 0;
  if (sto_vm_list(d->sto, &vms, &n)) {
    step(g, true, "cannot list the guests to re-home the stopped ones: %s", sto_error(d->sto));
    return;
  }
  for (size_t i = 0; i < n; i++) {
    const Hpvm__VmConfig *cfg = vms[i].cfg;
    hd_vm *v = hd_vm_find(d, vms[i].name);
    sto_lease l;
    if (!cfg || sto_vm_runnable_on(cfg, me, NULL, 0) || (v && (hd_vm_running(v) || v->incoming))) continue;
    if (sto_lease_read(d->sto, vms[i].name, &l) == 0 && l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD) continue;
    place_guest pg = {vms[i].name, cfg->memory_bytes, 1, 0};
    char target[1][STO_NAME_MAX + 1], why[1200];
    if (place(g, &pg, 1, target, why, sizeof why) || !target[0][0]) {
      step(g, true, "VM %s (stopped) stays registered here: %s", vms[i].name,
           target[0][0] ? why : "no other Up host to re-home it to");
      continue;
    }
    if (hd_offline_register_move(d, vms[i].name, target[0], false, 0, why, sizeof why)) {
      step(g, true, "VM %s (stopped) not re-homed to host %s: %s", vms[i].name, target[0], why);
      continue;
    }
    g->rehomed++;
    record_moved(g, vms[i].name, target[0]);
    step(g, true, "VM %s (stopped) re-homed to host %s (offline: its registration moved)", vms[i].name, target[0]);
  }
  sto_vm_list_free(vms, n);
}

/* ---- Running guests: live migrations ----------------------------------------------------------- */

static void drain_end(hd_drain *g);

/* hpvmmigrate -o -P NAME -h TARGET, handed to the same handler, with no client: its outcome is
 * watched on the VM (v->mig, v->migrated_to) and its command log line is written by it. */
static void launch(hd_drain *g, drain_guest *dg) {
  hd_daemon *d = g->d;
  Hpvm__MigrateRequest m = HPVM__MIGRATE_REQUEST__INIT;
  m.name = dg->name;
  m.target = dg->target;
  m.online = true;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_MIGRATE;
  req.migrate = &m;
  char cmdline[900];
  snprintf(cmdline, sizeof cmdline, "hpvmmigrate -o -P %s -h %s (maintenance of host %s)", dg->name, dg->target,
           sto_host(d->sto));
  hd_req q = {.c = NULL, .r = &req, .user = g->user ? g->user : "hpvmd", .cmdline = cmdline};
  hd_vm *v = hd_vm_find(d, dg->name);
  if (v) {
    free(v->migrated_to);
    v->migrated_to = NULL;
  }
  hd_cmd_migrate(d, &q);
  v = hd_vm_find(d, dg->name);
  if (v && v->mig) {
    dg->phase = DG_MIGRATING;
    step(g, true, "VM %s: live migration to host %s started", dg->name, dg->target);
    return;
  }
  dg->phase = DG_FAILED;
  g->failed++;
  step(g, true, "VM %s: live migration to host %s refused (%s); it runs on here", dg->name, dg->target,
       !v || !hd_vm_running(v) ? "it is no longer running" : v->state != HPVM__VM_RUN_STATE__VM_RUN_STATE_ON
                                                                ? "it is not On"
                                                                : "see hpvmd's log");
}

static void watch(hd_drain *g, drain_guest *dg) {
  hd_vm *v = hd_vm_find(g->d, dg->name);
  if (v && v->mig) {
    const char *note = hd_mig_note(v);
    if (note && strcmp(note, dg->note)) {
      snprintf(dg->note, sizeof dg->note, "%s", note);
      step(g, false, "VM %s: %s", dg->name, note);
    }
    return;
  }
  /* Moved when the lease names the target (it is what decides who runs the guest). */
  sto_lease l;
  bool theirs = sto_lease_read(g->d->sto, dg->name, &l) == 0 && l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD &&
                !strcmp(l.owner, dg->target);
  if (theirs && v && hd_vm_running(v)) return;   /* handed over: this host's hpvmapp is ending */
  if (theirs || (v && v->migrated_to && !strcmp(v->migrated_to, dg->target) && !hd_vm_running(v))) {
    dg->phase = DG_MOVED;
    g->moved++;
    record_moved(g, dg->name, dg->target);
    step(g, true, "VM %s: migrated to host %s", dg->name, dg->target);
    return;
  }
  dg->phase = DG_FAILED;
  g->failed++;
  step(g, true, "VM %s: live migration to host %s did not complete; it %s (see hpvmd's log)", dg->name, dg->target,
       v && hd_vm_running(v) ? "runs on here" : "is no longer running here");
}

static unsigned in_flight(const hd_drain *g) {
  unsigned n = 0;
  for (size_t i = 0; i < g->ng; i++) n += g->g[i].phase == DG_MIGRATING || g->g[i].phase == DG_STOPPING;
  return n;
}

static void on_watch(uv_timer_t *t) {
  hd_drain *g = t->data;
  for (size_t i = 0; i < g->ng; i++) {
    drain_guest *dg = &g->g[i];
    hd_vm *v = dg->phase == DG_STOPPING ? hd_vm_find(g->d, dg->name) : NULL;
    if (dg->phase == DG_MIGRATING) watch(g, dg);
    else if (dg->phase == DG_STOPPING && (!v || !hd_vm_running(v))) {
      dg->phase = DG_STOPPED;
      step(g, true, "VM %s: stopped", dg->name);
    }
  }
  for (size_t i = 0; i < g->ng && !g->aborting && in_flight(g) < g->parallel; i++)
    if (g->g[i].phase == DG_WAITING) launch(g, &g->g[i]);
  if (!in_flight(g)) drain_end(g);
}

static void on_timer_closed(uv_handle_t *h) { free(h); }

/* -x online_migration=disabled in VM name's configuration (unreadable: not disabled, the
 * migration's own checks then say what is wrong). */
static bool online_migration_disabled(hd_daemon *d, const char *name) {
  Hpvm__VmConfig *cfg = NULL;
  if (sto_vm_load(d->sto, name, &cfg)) return false;
  bool off = hd_vm_online_migration_disabled(cfg);
  sto_vm_free(cfg);
  return off;
}

/* A guest's memory: a guest re-attached by a restarted hpvmd has none recorded until it is
 * read from its configuration (placed as 0 MB, every such guest would go to one host). */
static uint64_t guest_memory(hd_daemon *d, hd_vm *v) {
  Hpvm__VmConfig *c = NULL;
  if (!v->memory_bytes && sto_vm_load(d->sto, v->name, &c) == 0) v->memory_bytes = c->memory_bytes;
  sto_vm_free(c);
  return v->memory_bytes;
}

/* The running guests with their placement; unplaced and unmovable ones are marked so. */
static int collect_running(hd_drain *g, char *why, size_t len) {
  hd_daemon *d = g->d;
  size_t n = 0;
  for (hd_vm *v = d->vms; v; v = v->next) n += hd_vm_running(v) && !v->incoming;
  g->g = calloc(n ? n : 1, sizeof *g->g);
  place_guest *pg = calloc(n ? n : 1, sizeof *pg);
  char(*target)[STO_NAME_MAX + 1] = calloc(n ? n : 1, sizeof *target);
  if (!g->g || !pg || !target) return free(pg), free(target), snprintf(why, len, "out of memory"), HPVM_ENOMEM;
  for (hd_vm *v = d->vms; v; v = v->next) {
    if (!hd_vm_running(v) || v->incoming) continue;
    drain_guest *dg = &g->g[g->ng];
    snprintf(dg->name, sizeof dg->name, "%s", v->name);
    dg->mem = guest_memory(d, v);
    dg->entitlement = v->entitlement;
    dg->phase = g->policy == POLICY_MIGRATE && online_migration_disabled(d, v->name) ? DG_UNMOVABLE : 0;
    g->ng++;
  }
  /* Placed: the guests that may migrate. v->entitlement is the guest's whole admission (all
   * its vCPUs): one "vCPU" of it. */
  size_t np = 0;
  size_t *of = calloc(g->ng ? g->ng : 1, sizeof *of);
  if (!of) return free(pg), free(target), snprintf(why, len, "out of memory"), HPVM_ENOMEM;
  for (size_t i = 0; i < g->ng; i++)
    if (g->g[i].phase != DG_UNMOVABLE) of[np] = i, pg[np++] = (place_guest){g->g[i].name, g->g[i].mem, 1, g->g[i].entitlement};
  int rc = g->policy == POLICY_MIGRATE ? place(g, pg, np, target, why, len) : 0;
  for (size_t j = 0; !rc && j < np; j++) {
    drain_guest *dg = &g->g[of[j]];
    snprintf(dg->target, sizeof dg->target, "%s", target[j]);
    if (g->policy == POLICY_LEAVE) dg->phase = DG_SKIPPED;
    else if (g->policy == POLICY_STOP) dg->phase = DG_WAITING;
    else dg->phase = target[j][0] ? DG_WAITING : DG_UNPLACED;
    if (dg->phase == DG_UNPLACED)   /* why, in the note no migration of it will use */
      snprintf(dg->note, sizeof dg->note, "%s", other_host_up(g) ? "no Up host has room for it"
               : "no other host is Up as this host sees the cluster (hpvmhost status)");
  }
  free(of);
  free(pg);
  free(target);
  return rc;
}

/* --policy stop: every running guest is powered off now (its lease released as it ends). */
static void stop_all(hd_drain *g) {
  for (size_t i = 0; i < g->ng; i++) {
    hd_vm *v = hd_vm_find(g->d, g->g[i].name);
    if (v && hd_vm_running(v)) {
      hd_vm_power_off(v, "stopped for the maintenance of its host (hpvmhost maintenance enter --policy stop)");
      step(g, true, "VM %s: powering off (--policy stop)", g->g[i].name);
      g->g[i].phase = DG_STOPPING;
    } else {
      g->g[i].phase = DG_STOPPED;
    }
  }
}

static void free_run(hd_drain *g) {
  free(g->g);
  g->g = NULL;
  g->ng = 0;
  free(g->user);
  free(g->cmdline);
  g->user = g->cmdline = NULL;
  g->client = NULL;
  g->active = g->aborting = false;
  g->moved = g->failed = g->rehomed = 0;
}

/* The last migration ended (or none was needed): Maintenance when no guest runs here, Up after
 * an abort, else Draining with the list of guests still here. */
static void drain_end(hd_drain *g) {
  hd_daemon *d = g->d;
  const char *me = sto_host(d->sto);
  if (g->timer) {
    uv_timer_stop(g->timer);
    uv_close((uv_handle_t *)g->timer, on_timer_closed);
    g->timer = NULL;
  }
  char msg[3000], why[600] = "";
  int err = 0;
  size_t off = 0;
  unsigned still = 0;
  for (hd_vm *v = d->vms; v; v = v->next) still += hd_vm_running(v) || v->incoming;
  if (g->aborting) {
    err = set_state(g, CLU_HOST_UP, why, sizeof why);
    snprintf(msg, sizeof msg, "drain of host %s aborted after %u migration(s): the host is Up again with %u guest(s)%s%s",
             me, g->moved, still, err ? "; " : "", why);
    if (!err) err = HPVM_ECANCELED;
  } else if (!still) {
    err = set_state(g, CLU_HOST_MAINTENANCE, why, sizeof why);
    snprintf(msg, sizeof msg, "host %s is in maintenance: %u guest(s) migrated, %u stopped guest(s) re-homed%s%s", me,
             g->moved, g->rehomed, err ? "; but " : "", why);
  } else {
    off += (size_t)snprintf(msg, sizeof msg, "host %s stays draining: %u guest(s) still run here:", me, still);
    for (size_t i = 0; i < g->ng && off < sizeof msg - 200; i++) {
      const drain_guest *dg = &g->g[i];
      const char *reason = dg->phase == DG_UNPLACED ? dg->note
                           : dg->phase == DG_UNMOVABLE ? "online migration disabled"
                           : dg->phase == DG_FAILED ? "its migration failed"
                           : dg->phase == DG_SKIPPED ? "--policy leave"
                                                     : NULL;
      hd_vm *v = hd_vm_find(d, dg->name);
      if (reason && v && hd_vm_running(v))
        off += (size_t)snprintf(msg + off, sizeof msg - off, " %s (%" PRIu64 " MB, %s);", dg->name, dg->mem >> 20, reason);
    }
    bool unmovable = false;
    for (size_t i = 0; i < g->ng; i++) unmovable |= g->g[i].phase == DG_UNMOVABLE;
    snprintf(msg + off, sizeof msg - off, " make room%s or stop them, then hpvmhost maintenance enter %s again (or "
             "hpvmhost maintenance exit %s)", unmovable ? ", enable online migration (hpvmmodify -P NAME -x "
             "online_migration=enabled)" : "", me, me);
    err = HPVM_EBUSY;
  }
  hd_log(d, err && err != HPVM_ECANCELED ? HD_WARN : HD_INFO, "maintenance: %s", msg);
  answer_run(g, err, msg);
  free_run(g);
}

/* ---- The requests ----------------------------------------------------------------------------- */

static int check_host(hd_daemon *d, const Hpvm__HostRequest *h, char *why, size_t len) {
  if (h->host && *h->host && strcmp(h->host, sto_host(d->sto)))
    return snprintf(why, len, "hpvmhost maintenance acts on the host it runs on (%s), not on %s: run it on host %s",
                    sto_host(d->sto), h->host, h->host), HPVM_EINVAL;
  return 0;
}

static void abort_drain(hd_daemon *d, hd_drain *g, const hd_req *q) {
  char why[600] = "";
  if (g->active) {
    g->aborting = true;
    for (size_t i = 0; i < g->ng; i++)
      if (g->g[i].phase == DG_WAITING) g->g[i].phase = DG_SKIPPED;
    step(g, true, "abort asked by %s: no further migration starts; %u in flight finish", q->user, in_flight(g));
    snprintf(why, sizeof why, "drain of host %s aborting: %u migration(s) in flight finish, then the host is Up",
             sto_host(d->sto), in_flight(g));
  } else if (g->state == CLU_HOST_DRAINING) {
    int rc = set_state(g, CLU_HOST_UP, why, sizeof why);
    if (rc) return reply_error(g, q, rc, "%s", why);
    snprintf(why, sizeof why, "host %s was draining with no drain running: it is Up again", sto_host(d->sto));
  } else {
    return reply_error(g, q, HPVM_ESTATE, "no drain of host %s is in progress (it is %s)",
                           sto_host(d->sto), state_word(g->state));
  }
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = q->r->id;
  r.message = why;
  reply(g, q, &r);
}

static int parse_policy(const char *s, drain_policy *p) {
  if (!s || !*s || !strcmp(s, "migrate")) *p = POLICY_MIGRATE;
  else if (!strcmp(s, "stop")) *p = POLICY_STOP;
  else if (!strcmp(s, "leave")) *p = POLICY_LEAVE;
  else return HPVM_EINVAL;
  return 0;
}

static void enter(hd_daemon *d, hd_drain *g, const hd_req *q) {
  const Hpvm__HostRequest *h = q->r->host;
  const char *me = sto_host(d->sto);
  char why[1500];
  if (h->abort) return abort_drain(d, g, q);
  drain_policy policy;
  if (parse_policy(h->policy, &policy))
    return reply_error(g, q, HPVM_EINVAL, "--policy %s: give migrate, stop or leave",
                           h->policy);
  if (h->parallel > DRAIN_PARALLEL_MAX)
    return reply_error(g, q, HPVM_EINVAL, "--parallel %u: give 1 to %u", h->parallel,
                           DRAIN_PARALLEL_MAX);
  if (g->active)
    return reply_error(g, q, HPVM_EBUSY,
                           "host %s is already being drained; hpvmhost maintenance enter %s --abort stops it", me, me);
  if (g->returning)
    return reply_error(g, q, HPVM_EBUSY, "host %s is taking its guests back (hpvmhost maintenance exit --return); "
                       "wait until that ends", me);
  if (g->state == CLU_HOST_MAINTENANCE)
    return reply_error(g, q, HPVM_EEXIST, "host %s is already in maintenance", me);
  g->active = true;
  g->client = q->c;
  g->peer = g->pending;
  g->pending = NULL;
  g->req_id = q->r->id;
  g->user = strdup(q->user ? q->user : "hpvmd");
  g->cmdline = q->cmdline ? strdup(q->cmdline) : NULL;
  g->policy = policy;
  g->parallel = h->parallel ? h->parallel : 1;
  int rc = set_state(g, CLU_HOST_DRAINING, why, sizeof why);
  g->asked = h;
  if (!rc) rc = collect_running(g, why, sizeof why);
  g->asked = NULL;
  if (rc) {
    char err[1600];
    snprintf(err, sizeof err, "%s", why);
    if (g->state == CLU_HOST_DRAINING) set_state(g, CLU_HOST_UP, why, sizeof why);
    free_run(g);
    g->pending = g->peer;
    g->peer = NULL;
    return reply_error(g, q, rc, "%s", err);
  }
  unsigned unplaced = 0;
  for (size_t i = 0; i < g->ng; i++) unplaced += g->g[i].phase == DG_UNPLACED;
  step(g, true, "draining (policy %s, %u at a time): %zu running guest(s)", h->policy && *h->policy ? h->policy : "migrate",
       g->parallel, g->ng);
  for (size_t i = 0; i < g->ng; i++) {
    const drain_guest *dg = &g->g[i];
    if (dg->phase == DG_WAITING && policy == POLICY_MIGRATE)
      step(g, true, "VM %s (%" PRIu64 " MB, entitlement %u%%): target host %s", dg->name, dg->mem >> 20, dg->entitlement,
           dg->target);
    else if (dg->phase == DG_UNPLACED)
      step(g, true, "VM %s (%" PRIu64 " MB, entitlement %u%%): %s; it stays here", dg->name, dg->mem >> 20,
           dg->entitlement, dg->note);
    else if (dg->phase == DG_UNMOVABLE)
      step(g, true, "VM %s: online migration disabled (-x online_migration=disabled); it stays here: hpvmmodify -P "
           "%s -x online_migration=enabled lets it move, or stop it", dg->name, dg->name);
  }
  g->asked = h;
  rehome_stopped(g);
  g->asked = NULL;
  if (policy == POLICY_STOP) stop_all(g);
  g->timer = malloc(sizeof *g->timer);
  if (!g->timer || uv_timer_init(d->loop, g->timer)) {
    free(g->timer);
    g->timer = NULL;
    return drain_end(g);
  }
  g->timer->data = g;
  uv_timer_start(g->timer, on_watch, 0, DRAIN_WATCH_MS);
}

/* The registration of VM name moves from host `from` back to this host (the move offline.c
 * makes, in the other direction). 0 or an error with why. */
static int register_back(hd_daemon *d, const char *name, const char *from, char *why, size_t len) {
  for (int attempt = 0; attempt < 20; attempt++) {
    Hpvm__VmConfig *cfg = NULL;
    int rc = sto_vm_load(d->sto, name, &cfg);
    if (rc) return snprintf(why, len, "%s", sto_error(d->sto)), rc;
    rc = sto_vm_register_move(cfg, from, sto_host(d->sto), false, hd_wall_ns());
    if (rc) snprintf(why, len, "cannot move the registration of VM %s from host %s: %s", name, from, hpvm_strerror(rc));
    else if ((rc = sto_vm_update(d->sto, cfg))) snprintf(why, len, "%s", sto_error(d->sto));
    sto_vm_free(cfg);
    if (rc != HPVM_EBUSY) return rc;
  }
  return snprintf(why, len, "the configuration of VM %s kept changing; try again", name), HPVM_EBUSY;
}

/* ---- exit --return ------------------------------------------------------------------------------ */

static void return_next(hd_drain *g);

static void append(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t len, const char *fmt, ...) {
  size_t off = strlen(buf);
  if (off + 1 >= len) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + off, len - off, fmt, ap);
  va_end(ap);
}

/* The end of exit --return: the guests not back stay in STATE/maintenance-moved (a later
 * --return tries them again), and the result goes to the waiting hpvmhost. */
static void return_end(hd_drain *g) {
  hd_daemon *d = g->d;
  const char *me = sto_host(d->sto);
  char p[4200], msg[3000], missed[2000] = "";
  unsigned live = 0;
  path_of(d, "maintenance-moved", p, sizeof p);
  unlink(p);
  for (size_t i = 0; i < g->nret; i++) {
    const return_guest *rg = &g->ret[i];
    if (rg->back) {
      live++;
      continue;
    }
    record_moved(g, rg->name, rg->moved_to);
    append(missed, sizeof missed, "%s%s (on host %s: %s)", missed[0] ? "; " : "", rg->name, rg->owner, rg->why);
  }
  if (g->ret_missed[0]) append(missed, sizeof missed, "%s%s", missed[0] ? "; " : "", g->ret_missed);
  snprintf(msg, sizeof msg, "host %s is back in service; %u guest(s) migrated back, %u stopped guest(s) brought back%s%s%s",
           me, live, g->ret_stopped, missed[0] ? "; not returned: " : "", missed,
           missed[0] ? ". hpvmhost maintenance exit --return tries them again" : "");
  int err = missed[0] ? HPVM_EBUSY : 0;
  hd_log(d, err ? HD_WARN : HD_INFO, "maintenance: %s", msg);
  answer_run(g, err, msg);
  free(g->ret);
  g->ret = NULL;
  g->nret = g->ret_next = 0;
  g->ret_fwd = NULL;
  g->returning = false;
  free_run(g);
}

/* A migration's progress as one short line ("copy round 3, 45 % sent"). */
static void progress_note(const Hpvm__MigrateProgress *p, char *out, size_t len) {
  const Hpvm__MigrateStats *s = p ? p->stats : NULL;
  if (!s || !s->phase || !s->phase[0] || !strcmp(s->phase, "init"))
    snprintf(out, len, "%s", p && p->note && *p->note ? p->note : "init");
  else if (!strcmp(s->phase, "copy"))
    snprintf(out, len, "copy round %u, %.0f %% sent", s->round,
             s->mem_bytes ? 100.0 * (double)(s->round ? s->mem_bytes : s->round0_done) / (double)s->mem_bytes : 0.0);
  else snprintf(out, len, "%s", s->phase);
}

/* An answer of the owner migrating ret[ret_next - 1] back here (migfwd.c, on the loop). */
static void on_return_answer(void *arg, bool more, int err, const char *msg, const Hpvm__PeerAnswer *a) {
  hd_drain *g = arg;
  return_guest *rg = &g->ret[g->ret_next - 1];
  if (more) {
    char note[200];
    progress_note(a ? a->progress : NULL, note, sizeof note);
    if (strcmp(note, rg->note)) {
      snprintf(rg->note, sizeof rg->note, "%s", note);
      step(g, false, "VM %s: migrating back from host %s: %s", rg->name, rg->owner, note);
    }
    return;
  }
  g->ret_fwd = NULL;
  sto_lease l;   /* a failure reported after the handover still leaves the guest here */
  if (err && sto_lease_read(g->d->sto, rg->name, &l) == 0 && l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD &&
      !strcmp(l.owner, sto_host(g->d->sto)))
    err = 0;
  if (err) {
    snprintf(rg->why, sizeof rg->why, "%s", msg && *msg ? msg : hpvm_strerror(err));
    step(g, true, "VM %s: not migrated back from host %s: %s", rg->name, rg->owner, rg->why);
  } else {
    rg->back = true;
    step(g, true, "VM %s: migrated back from host %s", rg->name, rg->owner);
  }
  return_next(g);
}

/* The next guest running elsewhere: its owner is asked to migrate it here. */
static void return_next(hd_drain *g) {
  hd_daemon *d = g->d;
  const char *me = sto_host(d->sto);
  while (g->ret_next < g->nret) {
    return_guest *rg = &g->ret[g->ret_next++];
    Hpvm__MigrateRequest m = HPVM__MIGRATE_REQUEST__INIT;
    m.name = rg->name;
    m.target = (char *)me;
    m.online = true;
    char cmdline[900];
    snprintf(cmdline, sizeof cmdline, "hpvmmigrate -o -P %s -h %s (hpvmhost maintenance exit %s --return)", rg->name,
             me, me);
    int rc = hd_migfwd_start(d, rg->owner, &m, g->user, cmdline, on_return_answer, g, &g->ret_fwd, rg->why,
                             sizeof rg->why);
    if (!rc) {
      step(g, true, "VM %s: live migration back from host %s started", rg->name, rg->owner);
      return;
    }
    step(g, true, "VM %s: not migrated back from host %s: %s", rg->name, rg->owner, rg->why);
  }
  return_end(g);
}

/* Guests a drain moved away: back here. A stopped one's registration moves back at once; a
 * running one is live-migrated back by the host it runs on, one at a time. */
static void return_guests(hd_drain *g) {
  hd_daemon *d = g->d;
  const char *me = sto_host(d->sto);
  char p[4200], name[STO_NAME_MAX + 1], host[STO_NAME_MAX + 1];
  path_of(d, "maintenance-moved", p, sizeof p);
  FILE *f = fopen(p, "r");
  while (f && fscanf(f, "%255s %255s", name, host) == 2) {
    sto_lease l;
    char why[1200];
    bool duplicate = false;
    for (size_t i = 0; i < g->nret; i++) duplicate |= !strcmp(g->ret[i].name, name);
    if (duplicate) continue;
    bool runs = sto_lease_read(d->sto, name, &l) == 0 && l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD;
    if (runs && !strcmp(l.owner, me)) {
      step(g, true, "VM %s already runs here", name);
    } else if (runs) {
      return_guest *n = realloc(g->ret, (g->nret + 1) * sizeof *n);
      if (!n) {
        append(g->ret_missed, sizeof g->ret_missed, "%s%s (out of memory)", g->ret_missed[0] ? "; " : "", name);
        continue;
      }
      g->ret = n;
      memset(&n[g->nret], 0, sizeof n[0]);
      snprintf(n[g->nret].name, sizeof n[0].name, "%s", name);
      snprintf(n[g->nret].owner, sizeof n[0].owner, "%s", l.owner);
      snprintf(n[g->nret].moved_to, sizeof n[0].moved_to, "%s", host);
      g->nret++;
      step(g, true, "VM %s runs on host %s: it migrates back live", name, l.owner);
    } else if (register_back(d, name, host, why, sizeof why)) {
      step(g, true, "VM %s not brought back: %s", name, why);
      append(g->ret_missed, sizeof g->ret_missed, "%s%s (stopped: %.300s)", g->ret_missed[0] ? "; " : "", name, why);
    } else {
      g->ret_stopped++;
      step(g, true, "VM %s (stopped) brought back: its registration moved from host %s", name, host);
    }
  }
  if (f) fclose(f);
  return_next(g);
}

static void leave_maintenance(hd_daemon *d, hd_drain *g, const hd_req *q) {
  const char *me = sto_host(d->sto);
  char why[1500] = "";
  if (g->active)
    return reply_error(g, q, HPVM_EBUSY,
                           "host %s is being drained; hpvmhost maintenance enter %s --abort stops the drain", me, me);
  if (g->returning)
    return reply_error(g, q, HPVM_EBUSY, "host %s is taking its guests back (hpvmhost maintenance exit --return); "
                       "wait until that ends", me);
  if (g->state == CLU_HOST_UP && !q->r->host->return_guests)
    return reply_error(g, q, HPVM_ESTATE, "host %s is not in maintenance", me);
  int rc = set_state(g, CLU_HOST_UP, why, sizeof why);
  if (rc) return reply_error(g, q, rc, "%s", why);
  g->user = strdup(q->user ? q->user : "hpvmd");
  g->cmdline = q->cmdline ? strdup(q->cmdline) : NULL;
  g->client = q->c;
  g->req_id = q->r->id;
  g->peer = g->pending;
  g->pending = NULL;
  step(g, true, "back in service (Up)");
  if (q->r->host->return_guests) {
    g->returning = true;
    g->ret_stopped = 0;
    g->ret_missed[0] = 0;
    return return_guests(g);   /* answers when the last guest is back */
  }
  char msg[600];
  snprintf(msg, sizeof msg, "host %s is back in service", me);
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = q->r->id;
  r.message = msg;
  if (g->client) hd_answer(g->client, &r, g->user, g->cmdline);
  else hd_cmdlog(d, g->user, g->cmdline, 0, msg);
  peer_send(g, &g->peer, false, 0, msg);
  free_run(g);
}

/* ---- Forwarding: hpvmhost maintenance HOST typed on another host --------------------------------
 * HOST's hpvmd does the work. forward.c sends it PeerRequest.maintenance (its liveness record
 * gives the peer address) and relays each answer to the waiting hpvmhost. */

static void forward(hd_daemon *d, hd_drain *g, const hd_req *q) {
  const char *host = q->r->host->host;
  sto_observer obs = {0};
  sto_liveness live;
  int status = STO_HOST_UNKNOWN;
  if (sto_host_observe(d->sto, host, &obs, &live, &status) || status == STO_HOST_UNKNOWN)
    return reply_error(g, q, HPVM_ENOENT, "no host named %s in the shared directory %s", host, d->o.shared_dir);
  if (status == STO_HOST_LEFT || !live.address[0])
    return reply_error(g, q, HPVM_EUNAVAIL, "host %s %s: run hpvmhost maintenance on it", host,
                       status == STO_HOST_LEFT ? "has left the cluster" : "publishes no peer address (--listen)");
  Hpvm__MaintenanceForward mf = HPVM__MAINTENANCE_FORWARD__INIT;
  mf.request = q->r->host;
  mf.user = (char *)(q->user ? q->user : "hpvmd");
  mf.cmdline = (char *)(q->cmdline ? q->cmdline : "");
  Hpvm__PeerRequest r = HPVM__PEER_REQUEST__INIT;
  r.body_case = HPVM__PEER_REQUEST__BODY_MAINTENANCE;
  r.maintenance = &mf;
  char closed[300], why[300];
  snprintf(closed, sizeof closed, "host %s closed the connection before it answered", host);
  hd_fwd *f = NULL;
  int rc = hd_fwd_start(d, host, live.address, &r, closed, "the forwarded maintenance request ended without an answer",
                        NULL, NULL, &f, why, sizeof why);
  if (rc) return reply_error(g, q, rc, "%s", why);
  hd_fwd_relay(f, q->c, q->r->id, q->user);
  hd_log(d, HD_INFO, "maintenance: %s's request for host %s forwarded to it (%s)", q->user, host, live.address);
}

void hd_drain_peer(hd_daemon *d, chan *ch, const Hpvm__MaintenanceForward *mf) {
  hd_drain *g = drain_of(d);
  if (!g || !mf->request) {
    Hpvm__PeerAnswer a = HPVM__PEER_ANSWER__INIT;
    a.error = g ? HPVM_EINVAL : HPVM_ENOMEM;
    a.message = g ? "the forwarded maintenance request is empty" : "hpvmd is out of memory";
    char why[300];
    chan_send(ch, &a.base, NULL, 0, PEER_SEND_MS, why, sizeof why);
    chan_close(ch);
    return;
  }
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_HOST;
  req.host = mf->request;
  char cmdline[1200];
  snprintf(cmdline, sizeof cmdline, "%.1000s (from host %s)", mf->cmdline && *mf->cmdline ? mf->cmdline : "hpvmhost maintenance",
           chan_peer(ch));
  hd_req q = {.c = NULL, .r = &req, .user = mf->user && *mf->user ? mf->user : "hpvmd", .cmdline = cmdline};
  g->pending = ch;
  hd_cmd_maintenance(d, &q);
  if (g->pending) {   /* every path answers; should one not, the other host is not left waiting */
    chan_close(g->pending);
    g->pending = NULL;
  }
}

void hd_cmd_maintenance(hd_daemon *d, const hd_req *q) {
  hd_drain *g = drain_of(d);
  char why[600];
  if (!g) return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_ENOMEM, "hpvmd is out of memory");
  const char *host = q->r->host->host;
  /* A local client naming another host: that host's hpvmd does it. */
  if (q->c && host && *host && strcmp(host, sto_host(d->sto))) return forward(d, g, q);
  int rc = check_host(d, q->r->host, why, sizeof why);
  if (rc) return reply_error(g, q, rc, "%s", why);
  if (q->r->host->op == HPVM__HOST_OP__HOST_OP_MAINTENANCE_ENTER) return enter(d, g, q);
  return leave_maintenance(d, g, q);
}

void hd_drain_kick(hd_daemon *d) {
  hd_drain *g = d->drain;
  if (g && g->active && g->timer) uv_timer_start(g->timer, on_watch, 0, DRAIN_WATCH_MS);
}

void hd_drain_stop(hd_daemon *d) {
  hd_drain *g = d->drain;
  if (!g) return;
  if (g->timer) {
    uv_timer_stop(g->timer);
    uv_close((uv_handle_t *)g->timer, on_timer_closed);
    g->timer = NULL;
  }
  if (g->active) hd_log(d, HD_WARN, "maintenance: hpvmd stops during a drain; the host stays draining");
  if (g->returning) {
    hd_log(d, HD_WARN, "maintenance: hpvmd stops while guests come back; the migration in flight finishes, the "
           "others stay where they are");
    hd_fwd_detach(g->ret_fwd);
    free(g->ret);
  }
  if (g->peer) chan_close(g->peer);
  free_run(g);
  free(g);
  d->drain = NULL;
}

void hd_drain_forget_client(hd_daemon *d, hd_client *c) {
  if (!d->drain) return;
  if (d->drain->client == c) d->drain->client = NULL;
}
