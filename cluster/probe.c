/* probe.c — SWIM's failure detector and the datagrams that carry it.
 *
 * One probe runs at a time, as a small state machine (the diagram is in internal.h):
 *
 *   tick         a new probe interval: if the last probe is still open it failed (suspect
 *                its target); then ping the next target of the round-robin list
 *   ack          the target answered, directly or through a relay: the probe succeeded
 *   timeout      probe_timeout after the ping: ask indirect_k random members to ping it
 *
 * The round-robin list is the members shuffled once per round (SWIM's "round-robin probe
 * target selection": every member is probed within a bounded time, unlike uniform picks);
 * a member that joins mid-round goes to a random place in the rest of the round.
 *
 * Every datagram sent here carries piggybacked updates from the queue (members.c), least
 * sent first, as many as fit in max_packet. Between probes, while updates are pending, pure
 * gossip datagrams go to gossip_nodes random members every gossip_interval (members dead
 * for less than gossip_to_dead_ms included, so that a member wrongly declared dead hears it
 * and refutes).
 *
 * A received datagram is opened (packet.c), checked against the replay window, then its
 * updates are applied before its primary message, so that a ping from a new member makes it
 * known first. A datagram from a member we hold SUSPECT or DEAD re-queues that member's
 * state, so that our reply tells it and it can refute; and a ping to a member we suspect
 * carries that suspicion first (Lifeguard's buddy system). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

#define PIGGYBACK_MAX 64                  /* updates considered for one datagram */

/* ---- Sending ---------------------------------------------------------------------------------- */

/* Bytes one element of a repeated message field costs: tag, length varint, body. */
static size_t field_cost(size_t body) {
  size_t v = 1;
  for (size_t b = body; b >= 0x80; b >>= 7) v++;
  return 1 + v + body;
}

static unsigned primary_kind(const Hpvm__GossipPacket *p) {
  return p->ping ? CLU_PKT_PING : p->ping_req ? CLU_PKT_PING_REQ : p->ack ? CLU_PKT_ACK : CLU_PKT_GOSSIP;
}

static socklen_t sa_len(const struct sockaddr *sa) {
  return sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

void clu_send(clu *c, const struct sockaddr *to, Hpvm__GossipPing *ping, Hpvm__GossipPingReq *req,
              Hpvm__GossipAck *ack, member *buddy) {
  Hpvm__GossipPacket p = HPVM__GOSSIP_PACKET__INIT;
  p.sender = c->name;
  p.boot = c->boot;
  p.seq = ++c->send_seq;
  p.sent_unix_ms = clu_wall_ms();
  p.ping = ping;
  p.ping_req = req;
  p.ack = ack;

  member *cand[PIGGYBACK_MAX];
  Hpvm__GossipUpdate ups[PIGGYBACK_MAX];
  Hpvm__GossipHostMeta metas[PIGGYBACK_MAX];
  Hpvm__GossipUpdate *ptrs[PIGGYBACK_MAX];
  member *sent[PIGGYBACK_MAX];
  size_t k = 0, n = 0;
  if (buddy && buddy->pub.state == CLU_SUSPECT) cand[k++] = buddy;
  k += mem_pick_broadcasts(c, cand + k, PIGGYBACK_MAX - k);
  if (k > 1 && cand[0] == buddy)          /* no second copy of it further on */
    for (size_t i = 1; i < k; i++)
      if (cand[i] == buddy) cand[i] = cand[--k];
  size_t budget = c->cfg.max_packet - CLU_OVERHEAD;
  size_t size = hpvm__gossip_packet__get_packed_size(&p) + 16;   /* 16: seq and stamp may grow */
  for (size_t i = 0; i < k; i++) {
    bool alive = cand[i]->pub.state == CLU_ALIVE;
    mem_to_update(cand[i], &ups[n], alive ? &metas[n] : NULL);
    size_t cost = field_cost(hpvm__gossip_update__get_packed_size(&ups[n]));
    if (size + cost > budget) continue;   /* a smaller one may still fit */
    size += cost;
    ptrs[n] = &ups[n];
    sent[n++] = cand[i];
  }
  p.n_updates = n;
  p.updates = ptrs;
  if (!ping && !req && !ack && n == 0) return;

  uint8_t *plain = c->txbuf, *sealed = c->txbuf + c->cfg.max_packet;
  size_t len = hpvm__gossip_packet__pack(&p, plain);
  size_t wire = clu_seal(c->key, plain, len, sealed);
  if (c->hook && !c->hook(c->hook_arg, CLU_DIR_OUT, to, sealed, wire, primary_kind(&p))) {
    c->ctr.dropped_hook++;
  } else {
    uv_buf_t b = uv_buf_init((char *)sealed, (unsigned)wire);
    if (uv_udp_try_send(&c->udp, &b, 1, to) < 0) {
      c->ctr.send_failed++;
    } else {
      c->ctr.packets_sent++;
      c->ctr.bytes_sent += wire;
    }
  }
  /* Counted as transmitted even when dropped: a lost datagram is what retransmission is for. */
  for (size_t i = 0; i < n; i++) mem_sent(c, sent[i]);
}

static void send_ping(clu *c, const struct sockaddr *to, uint32_t seq, const char *target) {
  Hpvm__GossipPing ping = HPVM__GOSSIP_PING__INIT;
  ping.seq = seq;
  ping.target = (char *)target;
  /* Lifeguard's buddy system: a member we ping while we suspect it hears of it in the ping
   * itself, first thing, and can refute at once. */
  clu_send(c, to, &ping, NULL, NULL, target[0] ? mem_find(c, target) : NULL);
}

static void send_ack(clu *c, const struct sockaddr *to, uint32_t seq) {
  Hpvm__GossipAck ack = HPVM__GOSSIP_ACK__INIT;
  ack.seq = seq;
  clu_send(c, to, NULL, NULL, &ack, NULL);
}

/* ---- Choosing members -------------------------------------------------------------------------- */

static bool probeable(const clu *c, const member *m) {
  return m != c->self && (m->pub.state == CLU_ALIVE || m->pub.state == CLU_SUSPECT);
}

/* Up to k distinct random members that pass keep (partial Fisher-Yates over the candidates). */
static size_t pick_random(clu *c, member **out, size_t k, bool (*keep)(const clu *, const member *, const void *),
                          const void *arg) {
  member **cand = malloc((c->n ? c->n : 1) * sizeof *cand);
  if (!cand) return 0;
  size_t n = 0;
  for (size_t i = 0; i < c->n; i++)
    if (keep(c, c->members[i], arg)) cand[n++] = c->members[i];
  size_t got = 0;
  for (; got < k && got < n; got++) {
    size_t j = got + randombytes_uniform((uint32_t)(n - got));
    member *t = cand[got];
    cand[got] = cand[j];
    cand[j] = t;
    out[got] = cand[got];
  }
  free(cand);
  return got;
}

static bool relay_ok(const clu *c, const member *m, const void *target) {
  return m != c->self && m != target && m->pub.state == CLU_ALIVE;
}

static bool gossip_ok(const clu *c, const member *m, const void *arg) {
  (void)arg;
  if (m == c->self || m->pub.state == CLU_LEFT) return false;
  if (m->pub.state != CLU_DEAD) return true;
  return clu_now(c) - m->pub.since_ms < c->cfg.gossip_to_dead_ms;
}

/* ---- The round-robin list ----------------------------------------------------------------------- */

static bool list_reserve(clu *c, size_t n) {
  if (n <= c->probe_cap) return true;
  size_t cap = c->probe_cap ? c->probe_cap * 2 : 16;
  while (cap < n) cap *= 2;
  member **a = realloc(c->probe_list, cap * sizeof *a);
  if (!a) return false;
  c->probe_list = a;
  c->probe_cap = cap;
  return true;
}

static void list_rebuild(clu *c) {
  c->probe_n = c->probe_i = 0;
  if (!list_reserve(c, c->n)) return;
  for (size_t i = 0; i < c->n; i++)
    if (probeable(c, c->members[i])) c->probe_list[c->probe_n++] = c->members[i];
  for (size_t i = c->probe_n; i > 1; i--) {
    size_t j = randombytes_uniform((uint32_t)i);
    member *t = c->probe_list[i - 1];
    c->probe_list[i - 1] = c->probe_list[j];
    c->probe_list[j] = t;
  }
}

void clu_probe_list_add(clu *c, member *m) {
  for (size_t i = c->probe_i; i < c->probe_n; i++)
    if (c->probe_list[i] == m) return;
  if (!list_reserve(c, c->probe_n + 1)) return;   /* it gets in at the next round */
  size_t at = c->probe_i + randombytes_uniform((uint32_t)(c->probe_n - c->probe_i + 1));
  memmove(&c->probe_list[at + 1], &c->probe_list[at], (c->probe_n - at) * sizeof *c->probe_list);
  c->probe_list[at] = m;
  c->probe_n++;
}

void clu_probe_forget(clu *c, const member *m) {
  for (size_t i = 0; i < c->probe_n; i++) {
    if (c->probe_list[i] != m) continue;
    memmove(&c->probe_list[i], &c->probe_list[i + 1], (c->probe_n - i - 1) * sizeof *c->probe_list);
    c->probe_n--;
    if (i < c->probe_i) c->probe_i--;
    return;
  }
}

static member *next_target(clu *c) {
  for (int round = 0; round < 2; round++) {
    while (c->probe_i < c->probe_n) {
      member *m = c->probe_list[c->probe_i++];
      if (probeable(c, m)) return m;
    }
    list_rebuild(c);
  }
  return NULL;
}

/* ---- The probe state machine --------------------------------------------------------------------- */

static const probe_state probe_table[][5] = {
  /*                  INVALID        START          ACK         TIMEOUT         DEADLINE */
  [PROBE_IDLE] =     {PROBE_INVALID, PROBE_DIRECT,  PROBE_INVALID, PROBE_INVALID, PROBE_INVALID},
  [PROBE_DIRECT] =   {PROBE_INVALID, PROBE_INVALID, PROBE_IDLE,    PROBE_INDIRECT, PROBE_IDLE},
  [PROBE_INDIRECT] = {PROBE_INVALID, PROBE_INVALID, PROBE_IDLE,    PROBE_INVALID, PROBE_IDLE},
};

static void on_probe_timeout(uv_timer_t *t);

static void probe_begin(clu *c) {
  member *t = next_target(c);
  if (!t) {
    c->pstate = PROBE_IDLE;               /* alone: nothing to probe this interval */
    return;
  }
  snprintf(c->ptarget, sizeof c->ptarget, "%s", t->pub.name);
  c->pseq = c->next_seq++;
  c->ctr.probes++;
  send_ping(c, (struct sockaddr *)&t->sa, c->pseq, t->pub.name);
  uv_timer_start(&c->probe_timeout_timer, on_probe_timeout, c->cfg.probe_timeout_ms, 0);
}

static void probe_indirect(clu *c) {
  member *t = mem_find(c, c->ptarget);
  if (!t) return;
  member *relays[64];
  size_t k = c->cfg.indirect_k < 64 ? c->cfg.indirect_k : 64;
  size_t n = pick_random(c, relays, k, relay_ok, t);
  Hpvm__GossipPingReq req = HPVM__GOSSIP_PING_REQ__INIT;
  req.seq = c->pseq;
  req.target = t->pub.name;
  req.target_addr = t->pub.addr;
  for (size_t i = 0; i < n; i++) {
    c->ctr.indirect_probes++;
    clu_send(c, (struct sockaddr *)&relays[i]->sa, NULL, &req, NULL, NULL);
  }
}

static void probe_failed(clu *c) {
  c->ctr.probes_failed++;
  member *t = mem_find(c, c->ptarget);
  if (t) mem_suspect(c, t, c->name);
}

static void probe_step(clu *c, probe_event ev) {
  probe_state from = c->pstate, to = probe_table[from][ev];
  if (to == PROBE_INVALID) return;        /* not a transition: e.g. a late ack */
  c->pstate = to;
  switch (ev) {
  case PEV_START: probe_begin(c); break;
  case PEV_TIMEOUT: probe_indirect(c); break;
  case PEV_ACK: uv_timer_stop(&c->probe_timeout_timer); break;
  case PEV_DEADLINE:
    uv_timer_stop(&c->probe_timeout_timer);
    probe_failed(c);
    break;
  default: break;
  }
}

static void on_probe_timeout(uv_timer_t *t) {
  probe_step(t->data, PEV_TIMEOUT);
}

void clu_probe_tick(uv_timer_t *t) {
  clu *c = t->data;
  if (c->pstate != PROBE_IDLE) probe_step(c, PEV_DEADLINE);
  if (c->phase == CLU_RUNNING) probe_step(c, PEV_START);
}

/* ---- Gossip ----------------------------------------------------------------------------------- */

void clu_gossip_tick(uv_timer_t *t) {
  clu *c = t->data;
  if (!mem_has_broadcasts(c)) return;
  member *to[64];
  size_t k = c->cfg.gossip_nodes < 64 ? c->cfg.gossip_nodes : 64;
  size_t n = pick_random(c, to, k, gossip_ok, NULL);
  for (size_t i = 0; i < n; i++) {
    c->ctr.gossip_packets++;
    clu_send(c, (struct sockaddr *)&to[i]->sa, NULL, NULL, NULL, NULL);
  }
}

/* ---- Receiving -------------------------------------------------------------------------------- */

static fwd_entry *fwd_slot(clu *c, uint32_t my_seq) {
  uint64_t now = clu_now(c);
  fwd_entry *free_slot = NULL;
  for (size_t i = 0; i < CLU_FWD_MAX; i++) {
    fwd_entry *f = &c->fwd[i];
    if (f->used && now >= f->expires) f->used = false;
    if (f->used && f->my_seq == my_seq) return f;
    if (!f->used && !free_slot) free_slot = f;
  }
  return my_seq ? NULL : free_slot;       /* seq 0 asks for a free slot */
}

static void on_ping(clu *c, const Hpvm__GossipPing *ping, const struct sockaddr *from) {
  if (ping->target && ping->target[0] && strcmp(ping->target, c->name)) return;   /* meant for another */
  send_ack(c, from, ping->seq);
}

static void on_ping_req(clu *c, const Hpvm__GossipPingReq *req, const struct sockaddr *from) {
  struct sockaddr_storage target;
  if (!req->target || !req->target_addr || clu_addr_parse(req->target_addr, &target)) return;
  fwd_entry *f = fwd_slot(c, 0);
  if (!f) return;                         /* relaying too much already */
  f->used = true;
  f->my_seq = c->next_seq++;
  if (!f->my_seq) f->my_seq = c->next_seq++;
  f->their_seq = req->seq;
  memcpy(&f->to, from, sa_len(from));
  f->expires = clu_now(c) + c->cfg.probe_interval_ms;
  send_ping(c, (struct sockaddr *)&target, f->my_seq, req->target);
}

static void on_ack(clu *c, const Hpvm__GossipAck *ack) {
  if (c->pstate != PROBE_IDLE && ack->seq == c->pseq) {
    probe_step(c, PEV_ACK);
    return;
  }
  fwd_entry *f = ack->seq ? fwd_slot(c, ack->seq) : NULL;
  if (!f) return;
  f->used = false;
  send_ack(c, (struct sockaddr *)&f->to, f->their_seq);
}

static bool packet_valid(const Hpvm__GossipPacket *p) {
  return p->sender && p->sender[0] && strlen(p->sender) <= CLU_NAME_MAX;
}

static void on_datagram(clu *c, uint8_t *buf, size_t len, const struct sockaddr *from) {
  if (c->hook && !c->hook(c->hook_arg, CLU_DIR_IN, from, buf, len, 0)) {
    c->ctr.dropped_hook++;
    return;
  }
  uint8_t *plain;
  long plen = clu_open(c->key, buf, len, &plain);
  if (plen < 0) {
    c->ctr.dropped_auth++;
    return;
  }
  Hpvm__GossipPacket *p = hpvm__gossip_packet__unpack(NULL, (size_t)plen, plain);
  if (!p || !packet_valid(p)) {
    c->ctr.dropped_malformed++;
    if (p) hpvm__gossip_packet__free_unpacked(p, NULL);
    return;
  }
  if (clu_replay_check(c, p)) {
    c->ctr.dropped_replay++;
    hpvm__gossip_packet__free_unpacked(p, NULL);
    return;
  }
  c->ctr.packets_received++;
  c->ctr.bytes_received += len;
  for (size_t i = 0; i < p->n_updates && c->phase == CLU_RUNNING; i++) mem_apply(c, p->updates[i], false);
  member *s = mem_find(c, p->sender);
  if (s && (s->pub.state == CLU_SUSPECT || s->pub.state == CLU_DEAD) && !s->queued) mem_queue(c, s);
  if (c->phase == CLU_RUNNING) {
    if (p->ping) on_ping(c, p->ping, from);
    else if (p->ping_req) on_ping_req(c, p->ping_req, from);
    else if (p->ack) on_ack(c, p->ack);
  }
  hpvm__gossip_packet__free_unpacked(p, NULL);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  clu *c = h->data;
  *buf = uv_buf_init((char *)c->rx, sizeof c->rx);
}

static void on_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from, unsigned flags) {
  clu *c = u->data;
  if (!from || nread < 0 || c->phase != CLU_RUNNING) return;   /* nothing more, or a socket error */
  if (flags & UV_UDP_PARTIAL) {
    c->ctr.dropped_auth++;                /* longer than any datagram of ours */
    return;
  }
  on_datagram(c, (uint8_t *)buf->base, (size_t)nread, from);
}

/* ---- Start ------------------------------------------------------------------------------------ */

int clu_probe_start(clu *c) {
  c->probe_timeout_timer.data = c;
  c->pstate = PROBE_IDLE;
  c->next_seq = 1;
  return uv_udp_recv_start(&c->udp, on_alloc, on_recv) ? HPVM_EIO : 0;
}

void clu_probe_join_ping(clu *c, const struct sockaddr *seed) {
  send_ping(c, seed, c->next_seq++, "");
}
