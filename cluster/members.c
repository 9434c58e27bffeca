/* members.c — the member table and the rules that change it.
 *
 * The table is an array of pointers sorted by name (binary search; clu_member_at lists it in
 * that order). Every update about a member, from a datagram or a push/pull row, goes through
 * mem_apply, which is the whole precedence logic of SWIM with incarnations:
 *
 *   about another member m, update at incarnation i:
 *     ALIVE    accepted if m is unknown (JOIN) or i > m.inc (ALIVE again, or UPDATE)
 *     SUSPECT  accepted if m is ALIVE and i >= m.inc; if m is SUSPECT and i >= m.inc, a
 *              confirmation from another member shortens the suspicion (below)
 *     DEAD     accepted if m is ALIVE or SUSPECT and i >= m.inc
 *     LEFT     accepted if m is not LEFT and i >= m.inc
 *   about ourselves: SUSPECT/DEAD/LEFT at i >= our incarnation, or ALIVE at a higher one, is
 *     refuted: our incarnation becomes i + 1 and our ALIVE is gossiped (unless we are leaving).
 *
 * Unknown members are learnt only from ALIVE (a rumour of a death of someone we never saw
 * adds nothing). Every accepted change is queued for piggybacking: a member's entry in the
 * queue is simply "gossip its current state", so a newer change replaces an older one and the
 * queue never holds two states of one member. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- The table ------------------------------------------------------------------------------ */

static size_t lower_bound(const clu *c, const char *name) {
  size_t lo = 0, hi = c->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(c->members[mid]->pub.name, name) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

member *mem_find(const clu *c, const char *name) {
  size_t i = lower_bound(c, name);
  return i < c->n && !strcmp(c->members[i]->pub.name, name) ? c->members[i] : NULL;
}

member *mem_add(clu *c, const char *name) {
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    member **a = realloc(c->members, cap * sizeof *a);
    if (!a) return NULL;
    c->members = a;
    c->cap = cap;
  }
  member *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  snprintf(m->pub.name, sizeof m->pub.name, "%s", name);
  size_t i = lower_bound(c, name);
  memmove(&c->members[i + 1], &c->members[i], (c->n - i) * sizeof *c->members);
  c->members[i] = m;
  c->n++;
  c->table_dirty = true;
  return m;
}

void mem_remove_at(clu *c, size_t i) {
  member *m = c->members[i];
  clu_probe_forget(c, m);
  memmove(&c->members[i], &c->members[i + 1], (c->n - i - 1) * sizeof *c->members);
  c->n--;
  c->table_dirty = true;
  free(m);
}

size_t mem_live_count(const clu *c) {
  size_t n = 0;
  for (size_t i = 0; i < c->n; i++)
    if (c->members[i]->pub.state == CLU_ALIVE || c->members[i]->pub.state == CLU_SUSPECT) n++;
  return n;
}

/* ---- Metadata ------------------------------------------------------------------------------- */

static const Hpvm__GossipHostMeta__State host_state_to_wire[] = {
  [CLU_HOST_UP] = HPVM__GOSSIP_HOST_META__STATE__STATE_UP,
  [CLU_HOST_MAINTENANCE] = HPVM__GOSSIP_HOST_META__STATE__STATE_MAINTENANCE,
  [CLU_HOST_DRAINING] = HPVM__GOSSIP_HOST_META__STATE__STATE_DRAINING,
  [CLU_HOST_LEFT] = HPVM__GOSSIP_HOST_META__STATE__STATE_LEFT,
};

static clu_host_state host_state_from_wire(Hpvm__GossipHostMeta__State s) {
  switch (s) {
  case HPVM__GOSSIP_HOST_META__STATE__STATE_UP: return CLU_HOST_UP;
  case HPVM__GOSSIP_HOST_META__STATE__STATE_MAINTENANCE: return CLU_HOST_MAINTENANCE;
  case HPVM__GOSSIP_HOST_META__STATE__STATE_DRAINING: return CLU_HOST_DRAINING;
  case HPVM__GOSSIP_HOST_META__STATE__STATE_LEFT: return CLU_HOST_LEFT;
  default: return CLU_HOST_INVALID;
  }
}

int mem_meta_valid(const Hpvm__GossipHostMeta *pm) {
  return pm && host_state_from_wire(pm->state) != CLU_HOST_INVALID && pm->version &&
         strlen(pm->version) <= CLU_VERSION_MAX;
}

static void meta_from_wire(clu_meta *out, const Hpvm__GossipHostMeta *pm) {
  memset(out, 0, sizeof *out);
  out->state = host_state_from_wire(pm->state);
  out->mem_total = pm->mem_total;
  out->mem_free = pm->mem_free;
  out->cpu_ent_free = pm->cpu_ent_free;
  out->guests = pm->guests;
  out->started_unix_ms = pm->started_unix_ms;
  snprintf(out->version, sizeof out->version, "%s", pm->version);
}

static bool meta_equal(const clu_meta *a, const clu_meta *b) {
  return a->state == b->state && a->mem_total == b->mem_total && a->mem_free == b->mem_free &&
         a->cpu_ent_free == b->cpu_ent_free && a->guests == b->guests &&
         a->started_unix_ms == b->started_unix_ms && !strcmp(a->version, b->version);
}

static const Hpvm__GossipUpdate__Kind kind_of_state[] = {
  [CLU_ALIVE] = HPVM__GOSSIP_UPDATE__KIND__KIND_ALIVE,
  [CLU_SUSPECT] = HPVM__GOSSIP_UPDATE__KIND__KIND_SUSPECT,
  [CLU_DEAD] = HPVM__GOSSIP_UPDATE__KIND__KIND_DEAD,
  [CLU_LEFT] = HPVM__GOSSIP_UPDATE__KIND__KIND_LEFT,
};

void mem_to_update(const member *m, Hpvm__GossipUpdate *u, Hpvm__GossipHostMeta *meta) {
  hpvm__gossip_update__init(u);
  u->kind = kind_of_state[m->pub.state];
  u->node = (char *)m->pub.name;
  u->incarnation = m->pub.incarnation;
  u->addr = (char *)m->pub.addr;
  u->from = (char *)m->from;
  if (meta) {
    hpvm__gossip_host_meta__init(meta);
    meta->state = host_state_to_wire[m->pub.meta.state];
    meta->mem_total = m->pub.meta.mem_total;
    meta->mem_free = m->pub.meta.mem_free;
    meta->cpu_ent_free = m->pub.meta.cpu_ent_free;
    meta->guests = m->pub.meta.guests;
    meta->started_unix_ms = m->pub.meta.started_unix_ms;
    meta->version = (char *)m->pub.meta.version;
    u->meta = meta;
  }
}

/* ---- The piggyback queue ---------------------------------------------------------------------- */

void mem_queue(clu *c, member *m) {
  m->queued = true;
  m->transmits = 0;
  c->table_dirty = true;
}

bool mem_has_broadcasts(const clu *c) {
  for (size_t i = 0; i < c->n; i++)
    if (c->members[i]->queued) return true;
  return false;
}

static int by_transmits(const void *a, const void *b) {
  const member *x = *(member *const *)a, *y = *(member *const *)b;
  return (x->transmits > y->transmits) - (x->transmits < y->transmits);
}

size_t mem_pick_broadcasts(clu *c, member **out, size_t max) {
  size_t k = 0;
  for (size_t i = 0; i < c->n && k < max; i++)
    if (c->members[i]->queued) out[k++] = c->members[i];
  /* When more are queued than fit, prefer the least sent: a full scan, then sort. */
  if (k == max) {
    size_t total = 0;
    for (size_t i = 0; i < c->n; i++) total += c->members[i]->queued;
    if (total > max) {
      member **all = malloc(total * sizeof *all);
      if (all) {
        size_t j = 0;
        for (size_t i = 0; i < c->n; i++)
          if (c->members[i]->queued) all[j++] = c->members[i];
        qsort(all, total, sizeof *all, by_transmits);
        memcpy(out, all, max * sizeof *out);
        free(all);
        return max;
      }
    }
  }
  qsort(out, k, sizeof *out, by_transmits);
  return k;
}

void mem_sent(clu *c, member *m) {
  if (++m->transmits >= clu_retransmit_limit(c)) m->queued = false;
  if (m == c->self && c->leaving) clu_leave_check(c);
}

/* ---- Events ----------------------------------------------------------------------------------- */

static void set_state(clu *c, member *m, clu_member_state s) {
  m->pub.state = s;
  m->pub.since_ms = clu_now(c);
  c->table_dirty = true;
}

static void emit(clu *c, clu_event_type type, clu_member_state prev, const member *m) {
  if (!c->cfg.on_event) return;
  clu_event ev = {.type = type, .prev = prev, .member = &m->pub};
  c->cfg.on_event(c->cfg.event_arg, &ev);
}

/* ---- Suspicion --------------------------------------------------------------------------------
 *
 * As memberlist (Lifeguard, "suspicion.go"): a suspicion starts with the longest timeout,
 * max = suspicion_max_mult * min, where min = clu_suspicion_timeout_ms, and every independent
 * confirmation (a SUSPECT about the same member from another member) shortens it
 * logarithmically, reaching min after k = suspicion_mult - 2 confirmations:
 *
 *     timeout(c) = max(min, max - (log(c + 1) / log(k + 1)) * (max - min))
 *
 * A real failure is confirmed quickly by every member's own failed probes; a member that
 * only one peer cannot reach (that peer's loss, not its own) has the longest time to hear
 * of it and refute. With fewer than k + 2 members, or suspicion_max_mult 1, the timeout is
 * simply min. A confirmation is gossiped on (the member's update then names the confirmer
 * in `from`), so that the others can count it too. */

static uint64_t name_hash(const char *name) {
  uint64_t h = 1469598103934665603ull;    /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 1099511628211ull;
  return h;
}

static void suspicion_deadline(member *m) {
  uint64_t t = m->susp_min;
  if (m->susp_k > 0) {
    double frac = log((double)m->confirmations + 1) / log((double)m->susp_k + 1);
    double raw = (double)m->susp_max - frac * (double)(m->susp_max - m->susp_min);
    t = raw > (double)m->susp_min ? (uint64_t)floor(raw) : m->susp_min;
  }
  m->suspect_deadline = m->suspect_start + t;
}

static void become_suspect(clu *c, member *m, uint64_t inc, const char *from) {
  clu_member_state prev = m->pub.state;
  m->pub.incarnation = inc;
  snprintf(m->from, sizeof m->from, "%s", from);
  set_state(c, m, CLU_SUSPECT);
  m->suspect_start = clu_now(c);
  m->susp_min = clu_suspicion_timeout_ms(c);
  m->susp_max = m->susp_min * (c->cfg.suspicion_max_mult ? c->cfg.suspicion_max_mult : 1);
  unsigned k = c->cfg.suspicion_mult > 2 ? c->cfg.suspicion_mult - 2 : 0;
  m->susp_k = mem_live_count(c) < (size_t)k + 2 ? 0 : k;
  m->confirmations = 0;
  m->confirmers[0] = name_hash(from);
  m->nconfirmers = 1;
  suspicion_deadline(m);
  mem_queue(c, m);
  emit(c, CLU_EV_SUSPECT, prev, m);
}

/* Another member suspects m too: shorten the timeout, and pass the confirmation on. */
static void confirm_suspicion(clu *c, member *m, const char *from) {
  uint64_t h = name_hash(from);
  for (unsigned i = 0; i < m->nconfirmers; i++)
    if (m->confirmers[i] == h) return;
  if (m->nconfirmers < CLU_CONFIRM_MAX) m->confirmers[m->nconfirmers++] = h;
  if (m->confirmations >= m->susp_k) return;   /* already at min: nothing more to gain */
  m->confirmations++;
  suspicion_deadline(m);
  snprintf(m->from, sizeof m->from, "%s", from);
  mem_queue(c, m);
}

void mem_suspect(clu *c, member *m, const char *from) {
  if (m->pub.state == CLU_ALIVE) become_suspect(c, m, m->pub.incarnation, from);
  else if (m->pub.state == CLU_SUSPECT) confirm_suspicion(c, m, from);
}

static void become_down(clu *c, member *m, clu_member_state s, uint64_t inc, const char *from) {
  clu_member_state prev = m->pub.state;
  m->pub.incarnation = inc;
  snprintf(m->from, sizeof m->from, "%s", from ? from : "");
  set_state(c, m, s);
  if (s == CLU_LEFT) m->pub.meta.state = CLU_HOST_LEFT;   /* as the leaver set it (its LEFT has no meta) */
  mem_queue(c, m);
  emit(c, s == CLU_DEAD ? CLU_EV_DEAD : CLU_EV_LEFT, prev, m);
}

void mem_sweep(clu *c) {
  uint64_t now = clu_now(c);
  for (size_t i = 0; i < c->n && c->phase == CLU_RUNNING; i++) {
    member *m = c->members[i];
    if (m->pub.state == CLU_SUSPECT && now >= m->suspect_deadline)
      become_down(c, m, CLU_DEAD, m->pub.incarnation, c->name);
  }
  if (!c->cfg.dead_reap_ms) return;
  for (size_t i = c->n; i-- > 0;) {
    member *m = c->members[i];
    if ((m->pub.state == CLU_DEAD || m->pub.state == CLU_LEFT) && now - m->pub.since_ms >= c->cfg.dead_reap_ms)
      mem_remove_at(c, i);
  }
}

void mem_refute(clu *c, uint64_t heard) {
  member *me = c->self;
  me->pub.incarnation = (heard > me->pub.incarnation ? heard : me->pub.incarnation) + 1;
  c->ctr.refutations++;
  mem_queue(c, me);
}

/* ---- Applying updates -------------------------------------------------------------------------- */

static void about_self(clu *c, Hpvm__GossipUpdate__Kind kind, uint64_t inc) {
  member *me = c->self;
  if (c->leaving) return;                 /* our LEFT must win: never refute it */
  if (kind == HPVM__GOSSIP_UPDATE__KIND__KIND_ALIVE ? inc > me->pub.incarnation : inc >= me->pub.incarnation)
    mem_refute(c, inc);
}

static void apply_alive(clu *c, member *m, const Hpvm__GossipUpdate *u) {
  struct sockaddr_storage sa;
  if (!mem_meta_valid(u->meta) || clu_addr_parse(u->addr, &sa)) return;
  clu_meta meta;
  meta_from_wire(&meta, u->meta);
  if (!m) {
    if (!(m = mem_add(c, u->node))) return;
    snprintf(m->pub.addr, sizeof m->pub.addr, "%s", u->addr);
    m->sa = sa;
    m->pub.meta = meta;
    m->pub.incarnation = u->incarnation;
    set_state(c, m, CLU_ALIVE);
    mem_queue(c, m);
    clu_probe_list_add(c, m);
    emit(c, CLU_EV_JOIN, CLU_MEMBER_INVALID, m);
    return;
  }
  if (u->incarnation <= m->pub.incarnation) return;
  clu_member_state prev = m->pub.state;
  bool changed = !meta_equal(&meta, &m->pub.meta);
  /* A member moves to another address only through DEAD or LEFT: two live hosts claiming
   * one name must not steal each other's traffic. */
  if (strcmp(m->pub.addr, u->addr) && (prev == CLU_DEAD || prev == CLU_LEFT)) {
    snprintf(m->pub.addr, sizeof m->pub.addr, "%s", u->addr);
    m->sa = sa;
    changed = true;
  }
  m->pub.meta = meta;
  m->pub.incarnation = u->incarnation;
  m->from[0] = '\0';
  if (prev != CLU_ALIVE) set_state(c, m, CLU_ALIVE);
  c->table_dirty = true;
  mem_queue(c, m);
  if (prev == CLU_DEAD || prev == CLU_LEFT) clu_probe_list_add(c, m);
  if (prev != CLU_ALIVE) emit(c, CLU_EV_ALIVE, prev, m);
  else if (changed) emit(c, CLU_EV_UPDATE, prev, m);
}

void mem_apply(clu *c, const Hpvm__GossipUpdate *u, bool from_pushpull) {
  if (!u->node || !u->node[0] || strlen(u->node) > CLU_NAME_MAX) return;
  if (!u->addr || strlen(u->addr) >= CLU_ADDR_MAX || !u->from || strlen(u->from) > CLU_NAME_MAX) return;
  Hpvm__GossipUpdate__Kind kind = u->kind;
  if (from_pushpull && kind == HPVM__GOSSIP_UPDATE__KIND__KIND_DEAD) kind = HPVM__GOSSIP_UPDATE__KIND__KIND_SUSPECT;
  if (!strcmp(u->node, c->name)) {
    about_self(c, kind, u->incarnation);
    return;
  }
  member *m = mem_find(c, u->node);
  if (kind == HPVM__GOSSIP_UPDATE__KIND__KIND_ALIVE) {
    apply_alive(c, m, u);
    return;
  }
  if (!m || u->incarnation < m->pub.incarnation) return;
  const char *from = u->from[0] ? u->from : u->node;
  clu_member_state s = m->pub.state;
  switch (kind) {
  case HPVM__GOSSIP_UPDATE__KIND__KIND_SUSPECT:
    if (s == CLU_ALIVE) {
      become_suspect(c, m, u->incarnation, from);
    } else if (s == CLU_SUSPECT) {
      if (u->incarnation > m->pub.incarnation) {
        m->pub.incarnation = u->incarnation;   /* the same suspicion, restated: keep its start */
        mem_queue(c, m);
      }
      confirm_suspicion(c, m, from);
    }
    break;
  case HPVM__GOSSIP_UPDATE__KIND__KIND_DEAD:
    if (s == CLU_ALIVE || s == CLU_SUSPECT) become_down(c, m, CLU_DEAD, u->incarnation, from);
    break;
  case HPVM__GOSSIP_UPDATE__KIND__KIND_LEFT:
    if (s != CLU_LEFT) become_down(c, m, CLU_LEFT, u->incarnation, NULL);
    break;
  default:
    break;
  }
}
