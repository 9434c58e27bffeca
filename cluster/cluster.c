/* cluster.c — the life of a clu: configuration, sockets, timers, start, join, leave, stop,
 * and the public getters. The protocol itself is in probe.c (failure detection), members.c
 * (what updates mean), packet.c (the datagram's envelope) and sync.c (push/pull).
 *
 *   clu_create ──> CREATED ──clu_start──> RUNNING ──clu_stop──> STOPPING ──(handles closed,
 *                     └───────────────clu_stop──────────────┘      threads joined)──> STOPPED
 *                                                                           └─ clu_free
 *   clu_leave (RUNNING): this host becomes LEFT at a new incarnation, its update is gossiped
 *   until sent its retransmit count (or the timeout), then the caller's cb; it still runs
 *   until clu_stop.
 *
 * Timers, all on the caller's loop: the probe tick (probe_interval), the probe's own timeout
 * (probe_timeout, one-shot), gossip (gossip_interval), the sweep that turns expired
 * suspicions into deaths and reaps old dead members (a fifth of the probe interval), the
 * push/pull period, and the leave deadline. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "internal.h"

#define BIND_ATTEMPTS 16                  /* port 0: tries to find a port free for UDP and TCP */

/* ---- Small helpers ----------------------------------------------------------------------------- */

uint64_t clu_now(const clu *c) {
  return uv_now(c->loop);
}

uint64_t clu_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

unsigned clu_retransmit_limit(const clu *c) {
  double n = (double)mem_live_count(c);
  return c->cfg.retransmit_mult * (unsigned)ceil(log10(n + 1));
}

uint64_t clu_suspicion_timeout_ms(const clu *c) {
  double n = (double)mem_live_count(c);
  double scale = fmax(1.0, log10(fmax(1.0, n)));
  return (uint64_t)(c->cfg.suspicion_mult * scale * c->cfg.probe_interval_ms);
}

const char *clu_member_state_name(clu_member_state s) {
  switch (s) {
  case CLU_ALIVE: return "alive";
  case CLU_SUSPECT: return "suspect";
  case CLU_DEAD: return "dead";
  case CLU_LEFT: return "left";
  default: return "invalid";
  }
}

const char *clu_host_state_name(clu_host_state s) {
  switch (s) {
  case CLU_HOST_UP: return "up";
  case CLU_HOST_MAINTENANCE: return "maintenance";
  case CLU_HOST_DRAINING: return "draining";
  case CLU_HOST_LEFT: return "left";
  default: return "invalid";
  }
}

const char *clu_event_name(clu_event_type t) {
  switch (t) {
  case CLU_EV_JOIN: return "join";
  case CLU_EV_UPDATE: return "update";
  case CLU_EV_SUSPECT: return "suspect";
  case CLU_EV_DEAD: return "dead";
  case CLU_EV_LEFT: return "left";
  case CLU_EV_ALIVE: return "alive";
  default: return "invalid";
  }
}

/* ---- Configuration ------------------------------------------------------------------------------ */

void clu_config_defaults(clu_config *c) {
  memset(c, 0, sizeof *c);
  c->probe_interval_ms = 1000;
  c->probe_timeout_ms = 500;
  c->suspicion_mult = 4;
  c->suspicion_max_mult = 6;
  c->indirect_k = 3;
  c->retransmit_mult = 4;
  c->gossip_interval_ms = 200;
  c->gossip_nodes = 3;
  c->gossip_to_dead_ms = 30000;
  c->push_pull_interval_ms = 30000;
  c->push_pull_timeout_ms = 5000;
  c->dead_reap_ms = 0;
  c->max_clock_skew_ms = 300000;
  c->max_packet = 1400;
}

static bool meta_valid(const clu_meta *m) {
  return m->state >= CLU_HOST_UP && m->state <= CLU_HOST_LEFT && strnlen(m->version, sizeof m->version) <= CLU_VERSION_MAX;
}

static int config_check(const clu_config *cfg, char *msg, size_t len) {
  if (!cfg->name || !cfg->name[0] || strlen(cfg->name) > CLU_NAME_MAX)
    return snprintf(msg, len, "cluster: the host name must have 1 to %d characters", CLU_NAME_MAX), HPVM_EINVAL;
  if (!cfg->bind_addr)
    return snprintf(msg, len, "cluster: no bind address: give IP:PORT (port 0 picks one)"), HPVM_EINVAL;
  if (!cfg->secret || !cfg->chan || !cfg->chan->me)
    return snprintf(msg, len, "cluster: the cluster secret and the channel identity are needed"), HPVM_EINVAL;
  if (!meta_valid(&cfg->meta))
    return snprintf(msg, len, "cluster: the metadata's state must be up, maintenance, draining or left"), HPVM_EINVAL;
  if (!cfg->probe_interval_ms || !cfg->probe_timeout_ms || cfg->probe_timeout_ms >= cfg->probe_interval_ms)
    return snprintf(msg, len, "cluster: the probe timeout (%u ms) must be above 0 and below the probe interval "
                    "(%u ms)", cfg->probe_timeout_ms, cfg->probe_interval_ms), HPVM_EINVAL;
  if (!cfg->suspicion_mult || !cfg->retransmit_mult || !cfg->gossip_interval_ms || !cfg->gossip_nodes ||
      !cfg->push_pull_timeout_ms)
    return snprintf(msg, len, "cluster: suspicion_mult, retransmit_mult, gossip_interval_ms, gossip_nodes and "
                    "push_pull_timeout_ms must be above 0 (clu_config_defaults sets them)"), HPVM_EINVAL;
  if (cfg->max_packet < 512 || cfg->max_packet > 65000)
    return snprintf(msg, len, "cluster: max_packet %u is outside 512..65000", cfg->max_packet), HPVM_EINVAL;
  return 0;
}

/* ---- Sockets ------------------------------------------------------------------------------------ */

static socklen_t sa_len(const struct sockaddr_storage *sa) {
  return sa->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static int bind_udp(const struct sockaddr_storage *want, struct sockaddr_storage *bound, char *msg, size_t len) {
  int fd = socket(want->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return snprintf(msg, len, "cannot make a UDP socket: %s", strerror(errno)), HPVM_EIO;
  socklen_t sl = sizeof *bound;
  if (bind(fd, (const struct sockaddr *)want, sa_len(want)) < 0 ||
      getsockname(fd, (struct sockaddr *)bound, &sl) < 0) {
    int e = errno;
    close(fd);
    char a[CLU_ADDR_MAX] = "?";
    clu_addr_format((const struct sockaddr *)want, a, sizeof a);
    snprintf(msg, len, "cannot bind UDP %s for the cluster: %s", a, strerror(e));
    return e == EADDRINUSE ? HPVM_EBUSY : HPVM_EIO;
  }
  return fd;
}

/* A UDP socket and a TCP listener on the same address and port. */
static int bind_both(const char *addr, struct sockaddr_storage *bound, int *udp_fd, int *tcp_fd, char *msg,
                     size_t len) {
  struct sockaddr_storage want;
  if (clu_addr_parse(addr, &want))
    return snprintf(msg, len, "cluster: bind address %s is not IP:PORT ([IPv6]:PORT)", addr), HPVM_EINVAL;
  bool any_port = ((struct sockaddr_in *)&want)->sin_port == 0;   /* same offset for v6 */
  for (int i = 0; i < BIND_ATTEMPTS; i++) {
    int u = bind_udp(&want, bound, msg, len);
    if (u < 0) return u;
    int t = clu_sync_listen(bound, msg, len);
    if (t >= 0) {
      *udp_fd = u;
      *tcp_fd = t;
      return 0;
    }
    close(u);
    if (t != HPVM_EBUSY || !any_port) return t;
  }
  return HPVM_EBUSY;
}

static bool wildcard(const struct sockaddr_storage *sa) {
  if (sa->ss_family == AF_INET) return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
  return !memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr, &in6addr_any, sizeof in6addr_any);
}

/* ---- Handles ------------------------------------------------------------------------------------- */

void clu_handle_closed(clu *c) {
  if (--c->open_handles > 0) return;
  c->phase = CLU_STOPPED;
  if (c->stop_cb) c->stop_cb(c->stop_arg);
}

static void on_closed(uv_handle_t *h) {
  clu_handle_closed(h->data);
}

static void free_all(clu *c) {
  clu_sync_free(c);
  for (size_t i = 0; i < c->n; i++) free(c->members[i]);
  free(c->members);
  free(c->probe_list);
  free(c->replay);
  free(c->txbuf);
  free(c);
}

/* uv_udp_open failed after uv_udp_init: the handle must close before the memory goes. */
static void on_abandoned(uv_handle_t *h) {
  free_all(h->data);
}

static void on_check(uv_check_t *h) {
  clu_sync_refresh(h->data);
}

static void on_sweep(uv_timer_t *t) {
  mem_sweep(t->data);
}

static bool pushpull_ok(const member *m, const clu *c) {
  return m != c->self && m->pub.state == CLU_ALIVE;
}

static void on_pushpull(uv_timer_t *t) {
  clu *c = t->data;
  if (clu_sync_busy(c)) return;           /* the last one is still on its way */
  size_t n = 0;
  for (size_t i = 0; i < c->n; i++) n += pushpull_ok(c->members[i], c);
  if (!n) return;
  size_t pick = randombytes_uniform((uint32_t)n);
  for (size_t i = 0; i < c->n; i++) {
    member *m = c->members[i];
    if (pushpull_ok(m, c) && pick-- == 0) {
      clu_sync_request(c, m->pub.addr, m->pub.name, false);
      return;
    }
  }
}

static void on_leave_done(uv_timer_t *t) {
  clu *c = t->data;
  uv_timer_stop(t);
  clu_done_cb cb = c->leave_cb;
  c->leave_cb = NULL;
  if (cb) cb(c->leave_arg);
}

void clu_leave_check(clu *c) {
  if (c->leave_cb && !c->self->queued) uv_timer_start(&c->leave_timer, on_leave_done, 0, 0);
}

/* ---- Life cycle ------------------------------------------------------------------------------------ */

static int self_init(clu *c, const struct sockaddr_storage *bound, const char *advertise, char *msg, size_t len) {
  struct sockaddr_storage adv = *bound;
  if (advertise) {
    if (clu_addr_parse(advertise, &adv) || wildcard(&adv))
      return snprintf(msg, len, "cluster: advertise address %s is not a reachable IP:PORT", advertise), HPVM_EINVAL;
  } else if (wildcard(bound)) {
    return snprintf(msg, len, "cluster: bound to a wildcard address (%s): give advertise_addr", c->bind_addr),
           HPVM_EINVAL;
  }
  clu_addr_format((struct sockaddr *)&adv, c->adv_addr, sizeof c->adv_addr);
  member *me = mem_add(c, c->name);
  if (!me) return snprintf(msg, len, "out of memory"), HPVM_ENOMEM;
  snprintf(me->pub.addr, sizeof me->pub.addr, "%s", c->adv_addr);
  me->sa = adv;
  me->pub.state = CLU_ALIVE;
  me->pub.incarnation = 1;
  me->pub.meta = c->cfg.meta;
  me->pub.self = true;
  c->self = me;
  return 0;
}

static void copy_config(clu *c, const clu_config *cfg) {
  c->cfg = *cfg;
  snprintf(c->name, sizeof c->name, "%s", cfg->name);
  snprintf(c->bind_addr, sizeof c->bind_addr, "%s", cfg->bind_addr);
  c->cfg.name = c->name;
  c->cfg.bind_addr = c->bind_addr;
  c->cfg.advertise_addr = NULL;           /* the caller's is used once, by self_init */
  c->cfg.secret = NULL;
  c->cfg.chan = &c->chan;
  clu_derive_key(cfg->secret, c->key);
  c->chan = *cfg->chan;
  if (cfg->chan->cluster_secret) {
    memcpy(c->chan_secret, cfg->chan->cluster_secret, sizeof c->chan_secret);
    c->chan.cluster_secret = c->chan_secret;
  }
}

static void handles_init(clu *c) {
  uv_timer_t *timers[] = {&c->probe_timer, &c->probe_timeout_timer, &c->gossip_timer, &c->sweep_timer,
                          &c->pushpull_timer, &c->leave_timer};
  for (size_t i = 0; i < sizeof timers / sizeof *timers; i++) {
    uv_timer_init(c->loop, timers[i]);
    timers[i]->data = c;
  }
  uv_check_init(c->loop, &c->check);
  c->check.data = c;
  clu_sync_attach(c);
  c->open_handles = 1 + 6 + 1 + 1;        /* udp, timers, check, the sync's async */
}

int clu_create(uv_loop_t *loop, const clu_config *cfg, clu **out, char *msg, size_t msglen) {
  *out = NULL;
  int rc = config_check(cfg, msg, msglen);
  if (rc) return rc;
  if (sodium_init() < 0) return snprintf(msg, msglen, "cluster: libsodium cannot start"), HPVM_EIO;
  clu *c = calloc(1, sizeof *c);
  if (!c || !(c->txbuf = malloc(2u * cfg->max_packet))) {
    free(c);
    return snprintf(msg, msglen, "out of memory"), HPVM_ENOMEM;
  }
  c->loop = loop;
  copy_config(c, cfg);
  randombytes_buf(&c->boot, sizeof c->boot);
  struct sockaddr_storage bound;
  int udp_fd = -1, tcp_fd = -1;
  if ((rc = bind_both(c->bind_addr, &bound, &udp_fd, &tcp_fd, msg, msglen))) {
    free_all(c);
    return rc;
  }
  if ((rc = clu_sync_create(c, tcp_fd, msg, msglen))) close(tcp_fd);
  if (!rc) rc = self_init(c, &bound, cfg->advertise_addr, msg, msglen);
  if (rc) {
    close(udp_fd);
    free_all(c);
    return rc;
  }
  c->phase = CLU_CREATED;
  uv_udp_init(loop, &c->udp);
  c->udp.data = c;
  if (uv_udp_open(&c->udp, udp_fd)) {
    close(udp_fd);
    uv_close((uv_handle_t *)&c->udp, on_abandoned);
    return snprintf(msg, msglen, "cluster: libuv refused the UDP socket"), HPVM_EIO;
  }
  handles_init(c);
  *out = c;
  return 0;
}

int clu_start(clu *c, char *msg, size_t msglen) {
  if (c->phase != CLU_CREATED)
    return snprintf(msg, msglen, "cluster: already started or stopped"), HPVM_ESTATE;
  int rc = clu_probe_start(c);
  if (rc) return snprintf(msg, msglen, "cluster: cannot receive on UDP %s", c->adv_addr), rc;
  if ((rc = clu_sync_start(c, msg, msglen))) {
    uv_udp_recv_stop(&c->udp);
    return rc;
  }
  c->phase = CLU_RUNNING;
  const clu_config *f = &c->cfg;
  /* The first probe at a random point of the interval, so members do not tick in step. */
  uv_timer_start(&c->probe_timer, clu_probe_tick, 1 + randombytes_uniform(f->probe_interval_ms), f->probe_interval_ms);
  uv_timer_start(&c->gossip_timer, clu_gossip_tick, f->gossip_interval_ms, f->gossip_interval_ms);
  unsigned sweep = f->probe_interval_ms / 5 ? f->probe_interval_ms / 5 : 1;
  uv_timer_start(&c->sweep_timer, on_sweep, sweep, sweep);
  if (f->push_pull_interval_ms)
    uv_timer_start(&c->pushpull_timer, on_pushpull, f->push_pull_interval_ms, f->push_pull_interval_ms);
  uv_check_start(&c->check, on_check);
  mem_queue(c, c->self);
  return 0;
}

int clu_join(clu *c, const char *const *seeds, size_t nseeds, clu_join_cb cb, void *arg, char *msg, size_t msglen) {
  if (c->phase != CLU_RUNNING || c->leaving)
    return snprintf(msg, msglen, "cluster: join needs a started member that is not leaving"), HPVM_ESTATE;
  if (c->join_cb) return snprintf(msg, msglen, "cluster: a join is already in progress"), HPVM_EBUSY;
  struct sockaddr_storage *sa = calloc(nseeds ? nseeds : 1, sizeof *sa);
  if (!sa) return snprintf(msg, msglen, "out of memory"), HPVM_ENOMEM;
  size_t others = 0;
  for (size_t i = 0; i < nseeds; i++) {
    char norm[CLU_ADDR_MAX];
    if (!seeds[i] || clu_addr_parse(seeds[i], &sa[i])) {
      snprintf(msg, msglen, "cluster: seed %s is not IP:PORT ([IPv6]:PORT)", seeds[i] ? seeds[i] : "(null)");
      free(sa);
      return HPVM_EINVAL;
    }
    clu_addr_format((struct sockaddr *)&sa[i], norm, sizeof norm);
    others += strcmp(norm, c->adv_addr) != 0;
  }
  if (!others) {
    free(sa);
    return snprintf(msg, msglen, "cluster: no seed other than this host (%s) to join", c->adv_addr), HPVM_EINVAL;
  }
  c->join_cb = cb;
  c->join_arg = arg;
  c->join_pending = (int)others;
  c->join_ok = 0;
  c->join_rc = 0;
  c->join_msg[0] = '\0';
  for (size_t i = 0; i < nseeds; i++) {
    char norm[CLU_ADDR_MAX];
    clu_addr_format((struct sockaddr *)&sa[i], norm, sizeof norm);
    if (!strcmp(norm, c->adv_addr)) continue;
    clu_probe_join_ping(c, (struct sockaddr *)&sa[i]);
    if (clu_sync_request(c, norm, NULL, true)) c->join_pending--;
  }
  free(sa);
  if (c->join_pending <= 0) {
    c->join_cb = NULL;
    return snprintf(msg, msglen, "out of memory"), HPVM_ENOMEM;
  }
  return 0;
}

int clu_leave(clu *c, unsigned timeout_ms, clu_done_cb cb, void *arg) {
  if (c->phase != CLU_RUNNING || c->leaving) return HPVM_ESTATE;
  member *me = c->self;
  c->leaving = true;
  c->leave_cb = cb;
  c->leave_arg = arg;
  me->pub.incarnation++;
  me->pub.state = CLU_LEFT;
  me->pub.meta.state = CLU_HOST_LEFT;
  me->pub.since_ms = clu_now(c);
  mem_queue(c, me);
  uv_timer_start(&c->leave_timer, on_leave_done, timeout_ms, 0);
  clu_gossip_tick(&c->gossip_timer);      /* now, not at the next gossip tick */
  bool anyone = false;
  for (size_t i = 0; i < c->n && !anyone; i++)
    anyone = c->members[i] != me && (c->members[i]->pub.state == CLU_ALIVE || c->members[i]->pub.state == CLU_SUSPECT);
  if (!anyone) me->queued = false;        /* nobody to tell */
  clu_leave_check(c);
  return 0;
}

void clu_stop(clu *c, clu_done_cb cb, void *arg) {
  if (c->phase == CLU_STOPPING || c->phase == CLU_STOPPED) return;
  c->phase = CLU_STOPPING;
  c->stop_cb = cb;
  c->stop_arg = arg;
  uv_udp_recv_stop(&c->udp);
  clu_sync_stop(c);
  if (c->join_cb) {
    clu_join_cb jcb = c->join_cb;
    c->join_cb = NULL;
    jcb(c->join_arg, c->join_ok, c->join_ok ? 0 : HPVM_ECANCELED, c->join_ok ? "" : "canceled: the cluster stopped");
  }
  if (c->leave_cb) {
    clu_done_cb lcb = c->leave_cb;
    c->leave_cb = NULL;
    lcb(c->leave_arg);
  }
  uv_handle_t *hs[] = {(uv_handle_t *)&c->udp, (uv_handle_t *)&c->probe_timer,
                       (uv_handle_t *)&c->probe_timeout_timer, (uv_handle_t *)&c->gossip_timer,
                       (uv_handle_t *)&c->sweep_timer, (uv_handle_t *)&c->pushpull_timer,
                       (uv_handle_t *)&c->leave_timer, (uv_handle_t *)&c->check};
  for (size_t i = 0; i < sizeof hs / sizeof *hs; i++) uv_close(hs[i], on_closed);
}

void clu_free(clu *c) {
  if (!c) return;
  if (c->phase != CLU_STOPPED) abort();   /* live handles would be left in the loop: a caller bug */
  free_all(c);
}

/* ---- Use --------------------------------------------------------------------------------------------- */

int clu_set_meta(clu *c, const clu_meta *m) {
  if (!meta_valid(m)) return HPVM_EINVAL;
  if (c->leaving || c->phase == CLU_STOPPING || c->phase == CLU_STOPPED) return HPVM_ESTATE;
  c->self->pub.meta = *m;
  c->self->pub.incarnation++;
  mem_queue(c, c->self);
  return 0;
}

size_t clu_member_count(const clu *c) {
  return c->n;
}

static void copy_out(const clu *c, const member *m, clu_member *out) {
  *out = m->pub;
  out->self = m == c->self;
}

int clu_member_at(const clu *c, size_t i, clu_member *out) {
  if (i >= c->n) return HPVM_ERANGE;
  copy_out(c, c->members[i], out);
  return 0;
}

int clu_member_find(const clu *c, const char *name, clu_member *out) {
  const member *m = mem_find(c, name);
  if (!m) return HPVM_ENOENT;
  copy_out(c, m, out);
  return 0;
}

void clu_counters_get(const clu *c, clu_counters *out) {
  *out = c->ctr;
}

const char *clu_local_addr(const clu *c) {
  return c->adv_addr;
}

const char *clu_name(const clu *c) {
  return c->name;
}

void clu_set_packet_hook(clu *c, clu_packet_hook fn, void *arg) {
  c->hook = fn;
  c->hook_arg = arg;
}
