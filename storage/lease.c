/* lease.c — ownership leases of VMs (DIR/vms/<name>/lease) and liveness records of hosts
 * (DIR/hosts/<host>/liveness), on top of the record store's compare-and-swap.
 *
 * A VM lease, as its owner and others see it:
 *
 *        acquire (free)              renew (owner)
 *   FREE ──────────────────> HELD ◄───────────┐
 *    ▲                        │ │ └────────────┘
 *    │ release (owner)        │ │ handover to T (owner): owner = T, generation + 1
 *    └────────────────────────┘ │ adopt (T, generation matches): T renews
 *                               │ takeover (observer saw it unchanged for timeout_ms
 *                               ▼           on its own monotonic clock): generation + 1
 *                          HELD by another host
 *
 * A renewal may carry a note for other hosts (sto_lease_renew_note: a migration's source says
 * "migrate-aborted <id>" before it resumes the guest); the note stays while the owner does.
 *
 * Every transition is one compare-and-swap on the record's generation, so two hosts can
 * never both succeed from the same record: one of them sees HPVM_EBUSY. Nothing compares
 * clocks of two hosts: the owner counts its deadline from its own monotonic time before it
 * began the renewal that succeeded; an observer counts expiry from its own first reading of
 * that record. Because the reading comes after the write, and the write after the owner's
 * time stamp, the observer's expiry is never before the owner's deadline + (timeout - fence)
 * as long as the two clocks run at about the same rate (the margin sto_lease_timing_check
 * insists on). docs/design/storage.md "Leases" has the argument and the NFS caveats. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define LEASE_KIND HPVM__RECORD_KIND__RECORD_KIND_VM_LEASE
#define LIVE_KIND HPVM__RECORD_KIND__RECORD_KIND_HOST_LIVENESS
#define HELD HPVM__LEASE_STATE__LEASE_STATE_HELD
#define FREE HPVM__LEASE_STATE__LEASE_STATE_FREE

static void copy_name(char *dst, const char *src) { snprintf(dst, STO_NAME_MAX + 1, "%s", src ? src : ""); }

static int lease_rel(sto_store *s, const char *vm, char *rel) {
  char why[512];
  if (sto_vm_name_check(vm, why, sizeof why)) return sto__fail(s, HPVM_EINVAL, "%s", why);
  snprintf(rel, PATH_MAX, "vms/%s/lease", vm);
  return 0;
}

static void lease_from(const Hpvm__Lease *m, uint64_t gen, sto_lease *l) {
  memset(l, 0, sizeof *l);
  l->state = m->state;
  copy_name(l->owner, m->owner);
  copy_name(l->previous_owner, m->previous_owner);
  l->owner_incarnation = m->owner_incarnation;
  l->lease_generation = m->lease_generation;
  l->renewals = m->renewals;
  l->renew_mono_ns = m->renew_mono_ns;
  l->renew_wall_ns = m->renew_wall_ns;
  l->timeout_ms = m->timeout_ms;
  l->record_gen = gen;
  snprintf(l->note, sizeof l->note, "%s", m->note ? m->note : "");
}

int sto_lease_read(sto_store *s, const char *vm, sto_lease *out) {
  char rel[PATH_MAX];
  int r = lease_rel(s, vm, rel);
  if (r) return r;
  ProtobufCMessage *m;
  uint64_t gen;
  r = sto_msg_read(s, rel, LEASE_KIND, &hpvm__lease__descriptor, &m, &gen);
  if (r == HPVM_ENOENT) {
    memset(out, 0, sizeof *out);
    out->state = FREE;
    s->msg[0] = '\0';
    return 0;
  }
  if (r) return r;
  lease_from((const Hpvm__Lease *)m, gen, out);
  protobuf_c_message_free_unpacked(m, NULL);
  if (out->state != FREE && out->state != HELD) {
    char fix[320];
    sto__remedy(rel, fix, sizeof fix);
    return sto__fail(s, HPVM_ECORRUPT, "%s/%s: lease state %d is neither FREE nor HELD; %s", s->root, rel, out->state, fix);
  }
  return 0;
}

/* Write next over the record at next->record_gen (0: create it); next->record_gen is the
 * new generation on success. */
static int lease_write(sto_store *s, const char *vm, const char *rel, sto_lease *next, const char *reason) {
  Hpvm__Lease m = HPVM__LEASE__INIT;
  m.resource = (char *)vm;
  m.state = next->state;
  m.owner = next->owner;
  m.owner_incarnation = next->owner_incarnation;
  m.lease_generation = next->lease_generation;
  m.renewals = next->renewals;
  m.renew_mono_ns = next->renew_mono_ns;
  m.renew_wall_ns = next->renew_wall_ns;
  m.timeout_ms = next->timeout_ms;
  m.previous_owner = next->previous_owner;
  m.reason = (char *)reason;
  m.note = next->note;
  int r;
  if (next->record_gen == 0) {
    r = sto_msg_create(s, rel, LEASE_KIND, &m.base);
    if (r == HPVM_EEXIST) r = sto__fail(s, HPVM_EBUSY, "%s/%s was created by another host at the same time; retry", s->root, rel);
    if (!r) next->record_gen = 1;
    return r;
  }
  uint64_t gen;
  r = sto_msg_update(s, rel, LEASE_KIND, next->record_gen, &m.base, &gen);
  if (!r) next->record_gen = gen;
  return r;
}

/* Observe a record's generation; true when it has been unchanged for timeout_ms. */
static bool observe(sto_observer *obs, uint64_t gen, uint64_t now, uint32_t timeout_ms) {
  if (!obs->seen || obs->record_gen != gen) {
    obs->seen = true;
    obs->record_gen = gen;
    obs->since_ns = now;
  }
  obs->unchanged_ms = (now - obs->since_ns) / 1000000u;
  obs->wait_ms = obs->unchanged_ms >= timeout_ms ? 0 : timeout_ms - obs->unchanged_ms;
  return obs->unchanged_ms >= timeout_ms;
}

int sto_lease_observe(sto_store *s, const char *vm, uint32_t timeout_ms, sto_observer *obs, sto_lease *out,
                      bool *expired) {
  *expired = false;
  int r = sto_lease_read(s, vm, out);
  if (r) return r;
  if (out->state == HELD) *expired = observe(obs, out->record_gen, sto__mono(s), out->timeout_ms ? out->timeout_ms : timeout_ms);
  return 0;
}

static bool mine(sto_store *s, const sto_lease *l) { return l->state == HELD && !strcmp(l->owner, s->host); }

int sto_lease_acquire(sto_store *s, const char *vm, uint32_t timeout_ms, uint64_t incarnation, sto_observer *obs,
                      sto_lease *out) {
  char rel[PATH_MAX];
  int r = lease_rel(s, vm, rel);
  if (r || (r = sto__lock(s, rel))) return r;
  const uint64_t now = sto__mono(s);
  sto_lease cur, next;
  if ((r = sto_lease_read(s, vm, &cur))) goto out;
  next = cur;
  const char *reason = "acquire";
  if (cur.state == FREE || mine(s, &cur)) {
    /* Free, or ours already (an hpvmd restarted on this host re-attaching its guest): a new
     * incarnation of the owner starts a new epoch. */
    if (!(mine(s, &cur) && cur.owner_incarnation == incarnation)) next.lease_generation++;
    if (cur.state == HELD) copy_name(next.previous_owner, cur.owner);
    if (!mine(s, &cur)) next.note[0] = '\0';   /* a note is kept only while the owner stays */
  } else {
    uint32_t expiry = cur.timeout_ms ? cur.timeout_ms : timeout_ms;
    if (!observe(obs, cur.record_gen, now, expiry)) {
      r = sto__fail(s, HPVM_EBUSY, "%s is owned by host %s (lease generation %llu); its lease has been seen unchanged "
                    "for %llu ms and counts as expired after %u ms", vm, cur.owner,
                    (unsigned long long)cur.lease_generation, (unsigned long long)obs->unchanged_ms, expiry);
      *out = cur;
      goto out;
    }
    next.lease_generation++;
    copy_name(next.previous_owner, cur.owner);
    next.note[0] = '\0';
    reason = "takeover";
  }
  next.state = HELD;
  copy_name(next.owner, s->host);
  next.owner_incarnation = incarnation;
  next.renewals++;
  next.renew_mono_ns = now;
  next.renew_wall_ns = sto__wall(s);
  next.timeout_ms = timeout_ms;
  if (!(r = lease_write(s, vm, rel, &next, reason))) {
    *out = next;
    *obs = (sto_observer){0};
  }
out:
  sto__unlock(s, rel);
  return r;
}

/* The common part of the owner's writes: check the lease is still ours as we knew it. */
static int owned(sto_store *s, const char *vm, const sto_lease *l, sto_lease *cur, const char *what) {
  int r = sto_lease_read(s, vm, cur);
  if (r) return r;
  if (!mine(s, cur) || cur->lease_generation != l->lease_generation)
    return sto__fail(s, HPVM_EBUSY, "cannot %s the lease of %s: it is no longer this host's (%s by %s, generation "
                     "%llu; we had generation %llu); stop the guest here", what, vm,
                     cur->state == HELD ? "held" : "free", cur->state == HELD ? cur->owner : "nobody",
                     (unsigned long long)cur->lease_generation, (unsigned long long)l->lease_generation);
  return 0;
}

/* note NULL: keep the one there. */
static int renew(sto_store *s, const char *vm, sto_lease *l, const char *note) {
  char rel[PATH_MAX];
  int r = lease_rel(s, vm, rel);
  if (r) return r;
  if (note && strlen(note) >= STO_LEASE_NOTE_MAX)
    return sto__fail(s, HPVM_EINVAL, "a lease note of %zu bytes: at most %d", strlen(note), STO_LEASE_NOTE_MAX - 1);
  const uint64_t t0 = sto__mono(s);  /* before anything: the deadline counts from here */
  if ((r = sto__lock(s, rel))) return r;
  sto_lease cur;
  if ((r = owned(s, vm, l, &cur, "renew"))) {
    if (r == HPVM_EBUSY) *l = cur;
    goto out;
  }
  sto_lease next = cur;
  next.renewals++;
  next.renew_mono_ns = t0;
  next.renew_wall_ns = sto__wall(s);
  if (note) snprintf(next.note, sizeof next.note, "%s", note);
  if (!(r = lease_write(s, vm, rel, &next, note ? "note" : "renew"))) *l = next;
out:
  sto__unlock(s, rel);
  return r;
}

int sto_lease_renew(sto_store *s, const char *vm, sto_lease *l) { return renew(s, vm, l, NULL); }

int sto_lease_renew_note(sto_store *s, const char *vm, sto_lease *l, const char *note) {
  return renew(s, vm, l, note ? note : "");
}

int sto_lease_release(sto_store *s, const char *vm, sto_lease *l) {
  char rel[PATH_MAX];
  int r = lease_rel(s, vm, rel);
  if (r || (r = sto__lock(s, rel))) return r;
  sto_lease cur;
  if ((r = owned(s, vm, l, &cur, "release"))) goto out;
  sto_lease next = cur;
  next.state = FREE;
  copy_name(next.previous_owner, s->host);
  next.owner[0] = '\0';
  next.owner_incarnation = 0;
  next.note[0] = '\0';
  next.renewals++;
  next.renew_mono_ns = sto__mono(s);
  next.renew_wall_ns = sto__wall(s);
  if (!(r = lease_write(s, vm, rel, &next, "release"))) *l = next;
out:
  sto__unlock(s, rel);
  return r;
}

int sto_lease_handover(sto_store *s, const char *vm, sto_lease *l, const char *to) {
  char rel[PATH_MAX], why[512];
  int r = lease_rel(s, vm, rel);
  if (r) return r;
  if (sto_host_name_check(to, why, sizeof why)) return sto__fail(s, HPVM_EINVAL, "%s", why);
  if (!strcmp(to, s->host)) return sto__fail(s, HPVM_EINVAL, "cannot hand the lease of %s over to this host itself", vm);
  if ((r = sto__lock(s, rel))) return r;
  sto_lease cur;
  if ((r = owned(s, vm, l, &cur, "hand over"))) goto out;
  sto_lease next = cur;
  copy_name(next.owner, to);
  copy_name(next.previous_owner, s->host);
  next.owner_incarnation = 0;        /* the target fills it in when it adopts */
  next.note[0] = '\0';
  next.lease_generation++;
  next.renewals++;
  next.renew_mono_ns = 0;            /* not the target's clock: it has not renewed yet */
  next.renew_wall_ns = sto__wall(s);
  if (!(r = lease_write(s, vm, rel, &next, "handover"))) *l = next;
out:
  sto__unlock(s, rel);
  return r;
}

int sto_lease_adopt(sto_store *s, const char *vm, uint64_t lease_generation, uint64_t incarnation, sto_lease *out) {
  char rel[PATH_MAX];
  int r = lease_rel(s, vm, rel);
  if (r) return r;
  const uint64_t t0 = sto__mono(s);
  if ((r = sto__lock(s, rel))) return r;
  sto_lease cur;
  if ((r = sto_lease_read(s, vm, &cur))) goto out;
  if (!mine(s, &cur) || cur.lease_generation != lease_generation) {
    r = sto__fail(s, HPVM_EBUSY, "the lease of %s does not name this host at generation %llu (%s by %s, generation "
                  "%llu); do not resume the guest", vm, (unsigned long long)lease_generation,
                  cur.state == HELD ? "held" : "free", cur.state == HELD ? cur.owner : "nobody",
                  (unsigned long long)cur.lease_generation);
    goto out;
  }
  sto_lease next = cur;
  next.owner_incarnation = incarnation;
  next.renewals++;
  next.renew_mono_ns = t0;
  next.renew_wall_ns = sto__wall(s);
  if (!(r = lease_write(s, vm, rel, &next, "adopt"))) *out = next;
out:
  sto__unlock(s, rel);
  return r;
}

uint64_t sto_lease_fence_deadline(const sto_lease *l, uint32_t fence_ms) {
  return l->renew_mono_ns + (uint64_t)fence_ms * 1000000u;
}

int sto_lease_timing_check(uint32_t renew_ms, uint32_t fence_ms, uint32_t timeout_ms, char *why, size_t whylen) {
  char dummy[1];
  if (!why) why = dummy, whylen = sizeof dummy;
  uint32_t margin = timeout_ms / 10 > 100 ? timeout_ms / 10 : 100;
  if (renew_ms == 0) return snprintf(why, whylen, "the lease renewal period is 0"), HPVM_EINVAL;
  if ((uint64_t)renew_ms * 2 > fence_ms)
    return snprintf(why, whylen, "the fence deadline (%u ms) leaves room for fewer than two renewals every %u ms; "
                    "make it at least %u ms", fence_ms, renew_ms, renew_ms * 2), HPVM_EINVAL;
  if (fence_ms >= timeout_ms || timeout_ms - fence_ms < margin)
    return snprintf(why, whylen, "the fence deadline (%u ms) must be at least %u ms below the lease timeout (%u ms), so "
                    "a host stops its guests before another host may take them over", fence_ms, margin, timeout_ms),
           HPVM_EINVAL;
  return 0;
}

/* ---- Host liveness ------------------------------------------------------------------------------ */

static int live_rel(sto_store *s, const char *host, char *rel) {
  char why[512];
  if (sto_host_name_check(host, why, sizeof why)) return sto__fail(s, HPVM_EINVAL, "%s", why);
  snprintf(rel, PATH_MAX, "hosts/%s/liveness", host);
  return 0;
}

static void live_from(const Hpvm__HostLiveness *m, uint64_t gen, sto_liveness *l) {
  memset(l, 0, sizeof *l);
  l->state = m->state;
  copy_name(l->host, m->host);
  l->incarnation = m->incarnation;
  l->renewals = m->renewals;
  l->renew_mono_ns = m->renew_mono_ns;
  l->renew_wall_ns = m->renew_wall_ns;
  l->timeout_ms = m->timeout_ms;
  snprintf(l->address, sizeof l->address, "%s", m->address ? m->address : "");
  snprintf(l->gossip, sizeof l->gossip, "%s", m->gossip_address ? m->gossip_address : "");
  l->record_gen = gen;
}

static int live_read(sto_store *s, const char *host, const char *rel, sto_liveness *out) {
  ProtobufCMessage *m;
  uint64_t gen;
  int r = sto_msg_read(s, rel, LIVE_KIND, &hpvm__host_liveness__descriptor, &m, &gen);
  if (r) return r;
  live_from((const Hpvm__HostLiveness *)m, gen, out);
  protobuf_c_message_free_unpacked(m, NULL);
  if (strcmp(out->host, host)) {
    char fix[320];
    sto__remedy(rel, fix, sizeof fix);
    return sto__fail(s, HPVM_ECORRUPT, "%s/%s: the record names host \"%s\"; %s", s->root, rel, out->host, fix);
  }
  return 0;
}

static int live_write(sto_store *s, const char *rel, sto_liveness *l) {
  Hpvm__HostLiveness m = HPVM__HOST_LIVENESS__INIT;
  m.host = l->host;
  m.state = l->state;
  m.incarnation = l->incarnation;
  m.renewals = l->renewals;
  m.renew_mono_ns = l->renew_mono_ns;
  m.renew_wall_ns = l->renew_wall_ns;
  m.timeout_ms = l->timeout_ms;
  m.address = l->address;
  m.gossip_address = l->gossip;
  m.version = (char *)"hpvm 0.1";
  if (l->record_gen == 0) {
    int r = sto_msg_create(s, rel, LIVE_KIND, &m.base);
    if (!r) l->record_gen = 1;
    return r;
  }
  uint64_t gen;
  int r = sto_msg_update(s, rel, LIVE_KIND, l->record_gen, &m.base, &gen);
  if (!r) l->record_gen = gen;
  return r;
}

int sto_liveness_start(sto_store *s, uint32_t timeout_ms, const char *address, sto_liveness *out) {
  return sto_liveness_start_gossip(s, timeout_ms, address, NULL, false, out);
}

int sto_liveness_start_gossip(sto_store *s, uint32_t timeout_ms, const char *address, const char *gossip,
                              bool left, sto_liveness *out) {
  char rel[PATH_MAX], dir[PATH_MAX];
  int r = live_rel(s, s->host, rel);
  if (r) return r;
  snprintf(dir, sizeof dir, "hosts/%s", s->host);
  if ((r = sto__mkdir_durable(s, dir, 0755))) return r;
  const uint64_t t0 = sto__mono(s);
  if ((r = sto__lock(s, rel))) return r;
  sto_liveness l;
  r = live_read(s, s->host, rel, &l);
  if (r == HPVM_ENOENT) {
    memset(&l, 0, sizeof l);
    copy_name(l.host, s->host);
    r = 0;
  }
  if (!r) {
    l.state = left ? HPVM__HOST_STATE__HOST_STATE_LEFT : HPVM__HOST_STATE__HOST_STATE_UP;
    l.incarnation++;
    l.renewals++;
    l.renew_mono_ns = t0;
    l.renew_wall_ns = sto__wall(s);
    l.timeout_ms = timeout_ms;
    snprintf(l.address, sizeof l.address, "%s", address ? address : "");
    snprintf(l.gossip, sizeof l.gossip, "%s", gossip ? gossip : "");
    if (!(r = live_write(s, rel, &l))) *out = l;
  }
  sto__unlock(s, rel);
  return r;
}

static int live_step(sto_store *s, sto_liveness *l, int state) {
  char rel[PATH_MAX];
  int r = live_rel(s, s->host, rel);
  if (r) return r;
  const uint64_t t0 = sto__mono(s);
  if ((r = sto__lock(s, rel))) return r;
  sto_liveness cur;
  if ((r = live_read(s, s->host, rel, &cur))) goto out;
  if (cur.record_gen != l->record_gen || cur.incarnation != l->incarnation) {
    r = sto__fail(s, HPVM_EBUSY, "%s/%s was written by someone else (incarnation %llu, ours %llu): is another hpvmd "
                  "running with the host name %s?", s->root, rel, (unsigned long long)cur.incarnation,
                  (unsigned long long)l->incarnation, s->host);
    goto out;
  }
  cur.state = state;
  cur.renewals++;
  cur.renew_mono_ns = t0;
  cur.renew_wall_ns = sto__wall(s);
  if (!(r = live_write(s, rel, &cur))) *l = cur;
out:
  sto__unlock(s, rel);
  return r;
}

int sto_liveness_renew(sto_store *s, sto_liveness *l) { return live_step(s, l, HPVM__HOST_STATE__HOST_STATE_UP); }
int sto_liveness_leave(sto_store *s, sto_liveness *l) { return live_step(s, l, HPVM__HOST_STATE__HOST_STATE_LEFT); }
int sto_liveness_renew_keep(sto_store *s, sto_liveness *l) { return live_step(s, l, l->state); }

const char *sto_host_status_name(int status) {
  switch (status) {
  case STO_HOST_ALIVE: return "alive";
  case STO_HOST_DEAD: return "dead";
  case STO_HOST_LEFT: return "left";
  case STO_HOST_UNKNOWN: return "unknown";
  default: return "invalid";
  }
}

int sto_host_observe(sto_store *s, const char *host, sto_observer *obs, sto_liveness *out, int *status) {
  char rel[PATH_MAX];
  int r = live_rel(s, host, rel);
  if (r) return r;
  const uint64_t now = sto__mono(s);
  sto_liveness l;
  r = live_read(s, host, rel, &l);
  if (r == HPVM_ENOENT) {
    *status = STO_HOST_UNKNOWN;
    memset(out, 0, sizeof *out);
    return 0;
  }
  if (r) return r;
  *out = l;
  bool expired = observe(obs, l.record_gen, now, l.timeout_ms);
  if (l.state == HPVM__HOST_STATE__HOST_STATE_LEFT) *status = STO_HOST_LEFT;
  else *status = expired ? STO_HOST_DEAD : STO_HOST_ALIVE;
  return 0;
}
