/* member.c — this host in the cluster's membership (cluster/cluster.h, docs/design/cluster.md §7).
 *
 * hpvmd owns one clu on its loop while the host is a member. Its gossip address (--gossip,
 * default the --listen address with the port + 1) is published in the host's liveness record,
 * so the other hosts find it there: at start, and whenever this host finds itself alone, it
 * joins every host whose liveness record is UP and names a gossip address. There is no seed
 * list to configure.
 *
 * Membership is advisory (never a licence to start a guest); here it feeds hpvmhost status,
 * the Unknown state of guests whose host is down (hd_member_host_down), the metadata other
 * hosts see (state, memory, free entitlement, guests, version) and the command log (joins,
 * deaths, leaves, returns).
 *
 * Join and leave are explicit and persistent: `hpvmhost leave` gossips LEFT, marks the
 * liveness record LEFT and writes STATE/cluster-left; while that file exists hpvmd starts
 * outside the membership (its liveness record says LEFT) until `hpvmhost join` removes it.
 * A graceful hpvmd stop gossips LEFT too (the restarted hpvmd refutes it); a crash is a
 * failure the others detect. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "internal.h"

#define LEAVE_TIMEOUT_MS 1000          /* how long the LEFT update is gossiped before the stop */
#define META_MEM_STEP (64ull << 20)    /* free memory changes below this are not gossiped */

typedef struct hd_observed {
  char name[STO_NAME_MAX + 1];
  sto_observer obs;
} hd_observed;

/* What the callbacks of one clu reach this host's membership through. m is NULL once that clu
 * is let go (hpvmhost leave, or hpvmd stopping): the clu still gossips its LEFT for up to
 * LEAVE_TIMEOUT_MS and may end a join or report events meanwhile, after hd_member_stop has
 * freed the hd_member; those late callbacks are ignored. Freed with the clu (on_stopped). */
typedef struct hd_clu_ref {
  hd_member *m;
  clu *clu;
} hd_clu_ref;

struct hd_member {
  hd_daemon *d;
  clu *clu;                     /* NULL when not a member (left, or no gossip address) */
  hd_clu_ref *ref;              /* the callbacks' way to this struct, with clu */
  bool joining;
  clu_meta sent;                /* the metadata last given to clu */
  hd_observed *observed;        /* liveness observers of the other hosts, kept across calls */
  size_t nobserved;
  uint64_t refutations;         /* clu's refutation counter when last logged */
};

/* ---- Small pieces ------------------------------------------------------------------------------ */

static void left_path(hd_daemon *d, char *buf, size_t len) { snprintf(buf, len, "%s/cluster-left", d->o.state_dir); }

static bool left_marked(hd_daemon *d) {
  char p[4096];
  left_path(d, p, sizeof p);
  return access(p, F_OK) == 0;
}

static int left_mark(hd_daemon *d, bool left) {
  char p[4096];
  left_path(d, p, sizeof p);
  if (!left) return unlink(p) && errno != ENOENT ? -1 : 0;
  FILE *f = fopen(p, "w");
  if (!f) return -1;
  fprintf(f, "this host left the cluster (hpvmhost leave); hpvmhost join brings it back\n");
  return fclose(f);
}

static void meta_now(hd_daemon *d, clu_meta *m) {
  memset(m, 0, sizeof *m);
  m->state = (clu_host_state)hd_drain_host_state(d);   /* up, draining, maintenance (drain.c) */
  m->mem_total = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
  m->mem_free = hd_mem_available();
  unsigned used = 0, cores = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
  for (hd_vm *v = d->vms; v; v = v->next)
    if (hd_vm_running(v)) m->guests++, used += v->entitlement;
  m->cpu_ent_free = cores * 100 > used ? cores * 100 - used : 0;
  m->started_unix_ms = (uint64_t)(d->started_ns / 1000000);
  snprintf(m->version, sizeof m->version, "%s", HD_VERSION);
}

static bool meta_changed(const clu_meta *a, const clu_meta *b) {
  uint64_t dm = a->mem_free > b->mem_free ? a->mem_free - b->mem_free : b->mem_free - a->mem_free;
  return a->state != b->state || a->guests != b->guests || a->cpu_ent_free != b->cpu_ent_free ||
         a->mem_total != b->mem_total || dm >= META_MEM_STEP || strcmp(a->version, b->version);
}

/* The gossip address: --gossip, else --listen's with the port + 1, else none. */
static int gossip_address(hd_daemon *d, char *out, size_t len, char *msg, size_t msglen) {
  out[0] = 0;
  if (d->o.gossip) {
    if (!strcmp(d->o.gossip, "off")) return 0;
    snprintf(out, len, "%s", d->o.gossip);
    return 0;
  }
  if (!d->o.listen) return 0;
  const char *colon = strrchr(d->o.listen, ':');
  long port = strtol(colon + 1, NULL, 10);
  if (port >= 65535)
    return snprintf(msg, msglen, "--listen %s: no port above it for gossip; give --gossip ADDR:PORT", d->o.listen),
           HPVM_EINVAL;
  snprintf(out, len, "%.*s:%ld", (int)(colon - d->o.listen), d->o.listen, port + 1);
  return 0;
}

static sto_observer *observer_of(hd_member *m, const char *host) {
  for (size_t i = 0; i < m->nobserved; i++)
    if (!strcmp(m->observed[i].name, host)) return &m->observed[i].obs;
  hd_observed *n = realloc(m->observed, (m->nobserved + 1) * sizeof *n);
  if (!n) return NULL;
  m->observed = n;
  memset(&n[m->nobserved], 0, sizeof n[0]);
  snprintf(n[m->nobserved].name, sizeof n[0].name, "%s", host);
  return &n[m->nobserved++].obs;
}

/* Another host's liveness: STO_HOST_* (UNKNOWN on a read error), the record in *out. */
static int liveness_of(hd_member *m, const char *host, sto_liveness *out) {
  sto_observer scratch = {0}, *obs = observer_of(m, host);
  int status = STO_HOST_UNKNOWN;
  if (sto_host_observe(m->d->sto, host, obs ? obs : &scratch, out, &status)) {
    memset(out, 0, sizeof *out);
    return STO_HOST_UNKNOWN;
  }
  return status;
}

/* ---- Events and join -------------------------------------------------------------------------- */

static void on_event(void *arg, const clu_event *ev) {
  hd_member *m = ((hd_clu_ref *)arg)->m;
  if (!m) return;                         /* a clu being let go: this host is no member */
  hd_daemon *d = m->d;
  const clu_member *mb = ev->member;
  hd_log(d, ev->type == CLU_EV_DEAD ? HD_WARN : HD_INFO, "cluster: host %s %s (%s, incarnation %llu, was %s)",
         mb->name, clu_event_name(ev->type), mb->addr, (unsigned long long)mb->incarnation,
         ev->prev ? clu_member_state_name(ev->prev) : "unknown");
  const char *what = NULL;
  switch (ev->type) {
  case CLU_EV_JOIN: what = "joined"; break;
  case CLU_EV_DEAD: what = "is dead (failed)"; break;
  case CLU_EV_LEFT: what = "left"; break;
  case CLU_EV_ALIVE: what = ev->prev == CLU_DEAD || ev->prev == CLU_LEFT ? "is back" : NULL; break;
  default: break;
  }
  if (what) {
    char line[600];
    snprintf(line, sizeof line, "cluster: host %s %s (gossip %s)", mb->name, what, mb->addr);
    hd_cmdlog(d, "hpvmd", line, 0, NULL);
  }
}

static void on_joined(void *arg, int joined, int rc, const char *msg) {
  hd_member *m = ((hd_clu_ref *)arg)->m;
  if (!m) return;                         /* ended after this host left: moot */
  m->joining = false;
  if (rc) hd_log(m->d, HD_WARN, "cluster: joining the other hosts failed: %s", msg);
  else hd_log(m->d, HD_INFO, "cluster: joined through %d host(s)", joined);
}

/* Join every other host whose liveness record is UP with a gossip address. */
static void join_others(hd_member *m) {
  hd_daemon *d = m->d;
  if (!m->clu || m->joining) return;
  char **names = NULL;
  size_t n = 0;
  if (sto_host_list(d->sto, &names, &n)) return;
  char **seeds = calloc(n ? n : 1, sizeof *seeds);
  size_t ns = 0;
  for (size_t i = 0; seeds && i < n; i++) {
    sto_liveness l;
    if (strcmp(names[i], sto_host(d->sto)) && liveness_of(m, names[i], &l) == STO_HOST_ALIVE &&
        l.state == HPVM__HOST_STATE__HOST_STATE_UP && l.gossip[0])
      seeds[ns++] = strdup(l.gossip);
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  if (ns) {
    char msg[300];
    if (clu_join(m->clu, (const char *const *)seeds, ns, on_joined, m->ref, msg, sizeof msg))
      hd_log(d, HD_WARN, "cluster: cannot join: %s", msg);
    else m->joining = true;
  }
  for (size_t i = 0; i < ns; i++) free(seeds[i]);
  free(seeds);
}

/* ---- Life cycle --------------------------------------------------------------------------------- */

static void config_timings(hd_daemon *d, clu_config *c) {
  clu_config_defaults(c);
  unsigned p = d->o.gossip_probe_ms ? d->o.gossip_probe_ms : c->probe_interval_ms;
  c->probe_interval_ms = p;
  c->probe_timeout_ms = p / 2;
  c->gossip_interval_ms = p / 5 ? p / 5 : 1;
  c->push_pull_interval_ms = p * 30;
  c->push_pull_timeout_ms = p * 5 < 2000 ? 2000 : p * 5;
  c->gossip_to_dead_ms = p * 30;
}

static void on_stopped(void *arg) {
  hd_clu_ref *ref = arg;
  clu_free(ref->clu);
  free(ref);
}

static int clu_up(hd_member *m, char *msg, size_t len) {
  hd_daemon *d = m->d;
  clu_config c;
  config_timings(d, &c);
  chan_config cc;
  hd_chan_config(d, &cc);
  c.name = sto_host(d->sto);
  c.bind_addr = d->live.gossip;
  c.secret = d->cluster_secret;
  c.chan = &cc;
  meta_now(d, &c.meta);
  m->sent = c.meta;
  m->refutations = 0;
  hd_clu_ref *ref = calloc(1, sizeof *ref);
  if (!ref) return snprintf(msg, len, "out of memory"), HPVM_ENOMEM;
  c.on_event = on_event;
  c.event_arg = ref;
  char why[400];
  int rc = clu_create(d->loop, &c, &ref->clu, why, sizeof why);
  if (rc) {
    free(ref);
    return snprintf(msg, len, "cluster membership on %s: %s", d->live.gossip, why), rc;
  }
  if ((rc = clu_start(ref->clu, why, sizeof why))) {
    clu_stop(ref->clu, on_stopped, ref);
    return snprintf(msg, len, "cluster membership on %s: %s", d->live.gossip, why), rc;
  }
  ref->m = m;
  m->ref = ref;
  m->clu = ref->clu;
  hd_log(d, HD_INFO, "cluster: gossip on %s (probe %u ms, suspicion %llu ms)", clu_local_addr(m->clu),
         c.probe_interval_ms, (unsigned long long)clu_suspicion_timeout_ms(m->clu));
  join_others(m);
  return 0;
}

static void on_left(void *arg) {
  hd_clu_ref *ref = arg;
  clu_stop(ref->clu, on_stopped, ref);
}

/* Gossip LEFT, then stop and free (asynchronously: the loop runs until the handles close);
 * from now on its callbacks do not reach m. */
static void clu_down(hd_member *m) {
  if (!m->clu) return;
  hd_clu_ref *ref = m->ref;
  ref->m = NULL;
  m->ref = NULL;
  m->clu = NULL;
  m->joining = false;
  if (clu_leave(ref->clu, LEAVE_TIMEOUT_MS, on_left, ref)) on_left(ref);
}

int hd_member_start(hd_daemon *d, char *msg, size_t len) {
  hd_member *m = calloc(1, sizeof *m);
  if (!m) return snprintf(msg, len, "out of memory"), HPVM_ENOMEM;
  m->d = d;
  d->member = m;
  char gossip[CLU_ADDR_MAX];
  int rc = gossip_address(d, gossip, sizeof gossip, msg, len);
  if (rc) return rc;
  bool left = left_marked(d);
  if (sto_liveness_start_gossip(d->sto, d->o.lease_timeout_ms, d->o.listen ? d->o.listen : "", gossip, left,
                                &d->live) == 0)
    d->have_live = true;
  else {
    hd_log(d, HD_WARN, "cannot write this host's liveness record: %s", sto_error(d->sto));
    snprintf(d->live.gossip, sizeof d->live.gossip, "%s", gossip);
  }
  if (left) {
    hd_log(d, HD_INFO, "cluster: this host left the cluster (hpvmhost leave); hpvmhost join brings it back");
    return 0;
  }
  if (!gossip[0]) return 0;
  rc = clu_up(m, msg, len);
  if (rc && !d->o.gossip) {
    /* The address was only derived from --listen: run, outside the membership, and say why. */
    hd_log(d, HD_WARN, "%s; this host runs outside the cluster's membership (give --gossip ADDR:PORT)", msg);
    return 0;
  }
  return rc;
}

void hd_member_stop(hd_daemon *d) {
  hd_member *m = d->member;
  if (!m) return;
  clu_down(m);
  free(m->observed);
  free(m);
  d->member = NULL;
}

/* The membership tells the others, not us, about a suspicion of this host: the refutations
 * it counted since the last tick go to the log, so that a false suspicion (a host too busy or
 * frozen to answer its probes in time) and its refutation can be seen on the host itself. */
static void log_refutations(hd_member *m) {
  clu_counters k;
  clu_counters_get(m->clu, &k);
  if (k.refutations == m->refutations) return;
  clu_member me;
  uint64_t inc = clu_member_find(m->clu, sto_host(m->d->sto), &me) == 0 ? me.incarnation : 0;
  hd_log(m->d, HD_INFO, "cluster: this host refuted %llu report(s) that it had failed or left (incarnation now %llu)",
         (unsigned long long)(k.refutations - m->refutations), (unsigned long long)inc);
  m->refutations = k.refutations;
}

void hd_member_tick(hd_daemon *d) {
  hd_member *m = d->member;
  if (!m || !m->clu) return;
  log_refutations(m);
  clu_meta now;
  meta_now(d, &now);
  if (meta_changed(&now, &m->sent) && clu_set_meta(m->clu, &now) == 0) m->sent = now;
  /* Alone (every other member dead, left or never met): look for the others again. */
  size_t alive = 0;
  for (size_t i = 0; i < clu_member_count(m->clu); i++) {
    clu_member mb;
    if (clu_member_at(m->clu, i, &mb) == 0 && !mb.self && (mb.state == CLU_ALIVE || mb.state == CLU_SUSPECT)) alive++;
  }
  if (!alive) join_others(m);
}

bool hd_member_host_down(hd_daemon *d, const char *host, char *why, size_t len) {
  hd_member *m = d->member;
  if (!m) return false;
  clu_member mb;
  if (m->clu && clu_member_find(m->clu, host, &mb) == 0 && mb.state == CLU_DEAD) {
    snprintf(why, len, "host %s is dead in the cluster's membership", host);
    return true;
  }
  sto_liveness l;
  if (liveness_of(m, host, &l) == STO_HOST_DEAD) {
    snprintf(why, len, "host %s has not renewed its liveness record for %u ms", host, l.timeout_ms);
    return true;
  }
  return false;
}

int hd_member_list(hd_daemon *d, clu_member **out, size_t *n) {
  hd_member *m = d->member;
  *out = NULL;
  *n = 0;
  if (!m || !m->clu) return HPVM_EUNAVAIL;
  size_t count = clu_member_count(m->clu);
  clu_member *all = calloc(count ? count : 1, sizeof *all);
  if (!all) return HPVM_ENOMEM;
  for (size_t i = 0; i < count; i++)
    if (clu_member_at(m->clu, i, &all[*n]) == 0) (*n)++;
  *out = all;
  return 0;
}

/* ---- hpvmhost ------------------------------------------------------------------------------------ */

static const char *host_state_word(clu_host_state s) {
  switch (s) {
  case CLU_HOST_UP: return "Up";
  case CLU_HOST_MAINTENANCE: return "Maintenance";
  case CLU_HOST_DRAINING: return "Draining";
  case CLU_HOST_LEFT: return "Left";
  default: return "Unknown";
  }
}

static void fill_host(hd_member *m, const char *name, Hpvm__HostStatus *h, char *strs, size_t slen) {
  hd_daemon *d = m->d;
  bool self = !strcmp(name, sto_host(d->sto));
  sto_liveness l;
  int live = self ? (d->live.state == HPVM__HOST_STATE__HOST_STATE_LEFT ? STO_HOST_LEFT : STO_HOST_ALIVE)
                  : liveness_of(m, name, &l);
  if (self) l = d->live;
  /* strs: name, address, gossip, version, each STO-sized */
  size_t q = slen / 4;
  snprintf(strs, q, "%s", name);
  snprintf(strs + q, q, "%s", l.address);
  snprintf(strs + 2 * q, q, "%s", l.gossip);
  strs[3 * q] = 0;
  h->name = strs;
  h->address = strs + q;
  h->gossip_address = strs + 2 * q;
  h->version = strs + 3 * q;
  h->self = self;
  h->liveness = (char *)sto_host_status_name(live);
  h->incarnation = l.incarnation;
  clu_member mb;
  if (m->clu && clu_member_find(m->clu, name, &mb) == 0) {
    h->membership = (char *)clu_member_state_name(mb.state);
    h->state = mb.state == CLU_ALIVE    ? (char *)host_state_word(mb.meta.state)
               : mb.state == CLU_SUSPECT ? (char *)"Suspect"
               : mb.state == CLU_DEAD    ? (char *)"Dead"
                                         : (char *)"Left";
    h->started_unix_ms = (int64_t)mb.meta.started_unix_ms;
    h->guests = mb.meta.guests;
    h->mem_total = mb.meta.mem_total;
    h->mem_free = mb.meta.mem_free;
    h->cpu_ent_free = mb.meta.cpu_ent_free;
    h->incarnation = mb.incarnation;
    snprintf(strs + 3 * q, q, "%s", mb.meta.version);
    if (mb.addr[0]) snprintf(strs + 2 * q, q, "%s", mb.addr);
    return;
  }
  /* Not a member here: the liveness record says what it can. */
  h->membership = (char *)"";
  h->state = live == STO_HOST_LEFT ? (char *)"Left" : live == STO_HOST_DEAD ? (char *)"Dead" : (char *)"Unknown";
  if (self) {
    clu_meta now;
    meta_now(d, &now);
    h->started_unix_ms = (int64_t)now.started_unix_ms;
    h->guests = now.guests;
    h->mem_total = now.mem_total;
    h->mem_free = now.mem_free;
    h->cpu_ent_free = now.cpu_ent_free;
    snprintf(strs + 3 * q, q, "%s", now.version);
  }
}

static void host_status(hd_daemon *d, const hd_req *q) {
  hd_member *m = d->member;
  char **names = NULL;
  size_t n = 0;
  if (sto_host_list(d->sto, &names, &n))
    return hd_answer_error(q->c, q->r->id, q->user, NULL, HPVM_EIO, "cannot list the hosts: %s", sto_error(d->sto));
  /* Members that have no directory in shared storage (should not happen) are left out: the
   * shared directory is the cluster's list of hosts. */
  enum { SLEN = 4 * 160 };
  Hpvm__HostStatus *hs = calloc(n ? n : 1, sizeof *hs);
  Hpvm__HostStatus **hp = calloc(n ? n : 1, sizeof *hp);
  char *strs = calloc(n ? n : 1, SLEN);
  if (!hs || !hp || !strs) {
    free(hs), free(hp), free(strs);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return hd_answer_error(q->c, q->r->id, q->user, NULL, HPVM_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    hpvm__host_status__init(&hs[i]);
    fill_host(m, names[i], &hs[i], strs + i * SLEN, SLEN);
    hp[i] = &hs[i];
  }
  Hpvm__HostList list = HPVM__HOST_LIST__INIT;
  list.hosts = hp;
  list.n_hosts = n;
  char id[37] = "", cname[64] = "";
  uint8_t secret[32];
  if (sto_cluster_read(d->sto, id, cname, sizeof cname, secret) == 0) list.cluster_id = id, list.cluster_name = cname;
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = q->r->id;
  r.body_case = HPVM__RESPONSE__BODY_HOSTS;
  r.hosts = &list;
  hd_answer(q->c, &r, q->user, NULL);
  free(hs), free(hp), free(strs);
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
}

static void host_leave(hd_daemon *d, const hd_req *q) {
  hd_member *m = d->member;
  unsigned running = 0;
  for (hd_vm *v = d->vms; v; v = v->next) running += hd_vm_running(v);
  if (running && !q->r->host->force)
    return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_EBUSY,
                           "%u guest(s) run on host %s: stop or migrate them first, or give -F to leave anyway",
                           running, sto_host(d->sto));
  if (left_mark(d, true))
    return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_EIO, "cannot write %s/cluster-left: %s",
                           d->o.state_dir, strerror(errno));
  if (d->have_live && sto_liveness_leave(d->sto, &d->live))
    hd_log(d, HD_WARN, "cannot mark this host's liveness record LEFT: %s", sto_error(d->sto));
  d->live.state = HPVM__HOST_STATE__HOST_STATE_LEFT;
  clu_down(m);
  hd_log(d, HD_INFO, "cluster: this host left the cluster (hpvmhost leave)");
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = q->r->id;
  hd_answer(q->c, &r, q->user, q->cmdline);
}

static void host_join(hd_daemon *d, const hd_req *q) {
  hd_member *m = d->member;
  if (m->clu)
    return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_EEXIST, "host %s is already a member of the cluster",
                           sto_host(d->sto));
  if (!d->live.gossip[0])
    return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_EINVAL,
                           "host %s has no gossip address: start hpvmd with --listen or --gossip", sto_host(d->sto));
  if (left_mark(d, false))
    return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_EIO, "cannot remove %s/cluster-left: %s",
                           d->o.state_dir, strerror(errno));
  if (d->have_live && sto_liveness_renew(d->sto, &d->live))
    hd_log(d, HD_WARN, "cannot mark this host's liveness record UP: %s", sto_error(d->sto));
  d->live.state = HPVM__HOST_STATE__HOST_STATE_UP;
  char msg[600];
  int rc = clu_up(m, msg, sizeof msg);
  if (rc) return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, rc, "%s", msg);
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = q->r->id;
  hd_answer(q->c, &r, q->user, q->cmdline);
}

/* A line for the command log from a client that did something outside hpvmd (hpvmhost rolling:
 * the command it ran for a host): its argv, with the outcome the request carries. */
static void host_note(hd_daemon *d, const hd_req *q) {
  const Hpvm__HostRequest *h = q->r->host;
  hd_cmdlog(d, q->user, q->cmdline, h->note_error, h->note_error ? h->note : NULL);
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = q->r->id;
  hd_answer(q->c, &r, q->user, NULL);
}

void hd_cmd_host(hd_daemon *d, const hd_req *q) {
  switch (q->r->host->op) {
  case HPVM__HOST_OP__HOST_OP_NOTE: return host_note(d, q);
  case HPVM__HOST_OP__HOST_OP_STATUS: return host_status(d, q);
  case HPVM__HOST_OP__HOST_OP_JOIN: return host_join(d, q);
  case HPVM__HOST_OP__HOST_OP_LEAVE: return host_leave(d, q);
  case HPVM__HOST_OP__HOST_OP_MAINTENANCE_ENTER:
  case HPVM__HOST_OP__HOST_OP_MAINTENANCE_EXIT: return hd_cmd_maintenance(d, q);
  default:
    return hd_answer_error(q->c, q->r->id, q->user, NULL, HPVM_EINVAL, "unknown hpvmhost operation %d",
                           (int)q->r->host->op);
  }
}
