/* ha.c — HA restart: a guest with the attribute ha=on whose host has died is restarted from
 * its disks here when placement chooses this host (docs/design/cluster.md, HA restart).
 *
 * Every host watches every other host's liveness record on its own monotonic clock
 * (sto_host_observe). For a host DEAD by that record (unchanged for its timeout), each guest
 * with ha=on whose lease the dead host holds is placed over the Up members (cluster/place.h,
 * the same inputs on every host give the same choice). The chosen host tries at once; the
 * others only watch, and begin trying after HA_BACKUP_TICKS ticks (a chosen host that failed
 * or died too). The guests' leases are watched (sto_lease_observe) from the moment their
 * owner's liveness record stops advancing, so the lease's own timeout runs alongside the
 * host's. Trying means taking the lease with sto_lease_acquire through that observer, which
 * succeeds only when this host saw the lease unchanged for its timeout: a host that still
 * renews is never taken over, and the lease's compare-and-swap lets only one host win. Then the registration moves here when the guest was registered elsewhere only,
 * and hd_vm_start boots it; the command log and hpvmd's log get one line. Guests without
 * ha=on are left alone (their state shows Unknown).
 *
 * Throttle: a guest whose host keeps dying (or that takes its hosts down) is not restarted in a
 * loop. Its HA restarts are recorded in SHARED/ha/NAME (wall-clock times, one a line), so every
 * host counts the same ones; the host that won the lease is the only writer. With
 * ha_max_restarts (default 3) restarts within the last ha_restart_window seconds (default 600)
 * it is left stopped, its lease released and its registration here, with a command log event
 * saying so; an operator's hpvmstart starts it and clears the count (hd_ha_reset). Like
 * Pacemaker's migration-threshold / failure-timeout and Proxmox HA's max_restart. The window
 * compares the wall clocks of the hosts: a skew of seconds does not matter against minutes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "internal.h"
#include "place.h"

#define HA_BACKUP_TICKS 3   /* ticks a host that was not chosen waits before it tries too */
#define HA_MAX_RESTARTS_DEFAULT 3      /* -x ha_max_restarts: restarts within the window (0: no limit) */
#define HA_RESTART_WINDOW_DEFAULT 600  /* -x ha_restart_window: seconds */
#define HA_HISTORY_MAX 128             /* restarts remembered at most */

typedef struct ha_host {
  char name[STO_NAME_MAX + 1];
  sto_observer obs;          /* its liveness record, watched on this host's clock */
  uint64_t dead_mono_ns;     /* when this host first saw it DEAD (0: not dead) */
  int64_t dead_wall_ns;      /* its last renewal on its wall clock, for the log */
} ha_host;

typedef struct ha_guest {
  char name[STO_NAME_MAX + 1];
  sto_observer obs;          /* its lease, watched on this host's clock */
} ha_guest;

struct hd_ha {
  ha_host *hosts;
  size_t nhosts;
  ha_guest *guests;
  size_t nguests;
};

void hd_ha_free(hd_daemon *d) {
  if (!d->ha) return;
  free(d->ha->hosts);
  free(d->ha->guests);
  free(d->ha);
  d->ha = NULL;
}

static ha_host *host_of(hd_ha *h, const char *name) {
  for (size_t i = 0; i < h->nhosts; i++)
    if (!strcmp(h->hosts[i].name, name)) return &h->hosts[i];
  ha_host *n = realloc(h->hosts, (h->nhosts + 1) * sizeof *n);
  if (!n) return NULL;
  h->hosts = n;
  memset(&n[h->nhosts], 0, sizeof n[0]);
  snprintf(n[h->nhosts].name, sizeof n[0].name, "%s", name);
  return &n[h->nhosts++];
}

static sto_observer *lease_observer(hd_ha *h, const char *vm) {
  for (size_t i = 0; i < h->nguests; i++)
    if (!strcmp(h->guests[i].name, vm)) return &h->guests[i].obs;
  ha_guest *n = realloc(h->guests, (h->nguests + 1) * sizeof *n);
  if (!n) return NULL;
  h->guests = n;
  memset(&n[h->nguests], 0, sizeof n[0]);
  snprintf(n[h->nguests].name, sizeof n[0].name, "%s", vm);
  return &n[h->nguests++].obs;
}

const char *hd_vm_attr(const Hpvm__VmConfig *cfg, const char *key) {
  for (size_t i = 0; i < cfg->n_attributes; i++)
    if (cfg->attributes[i]->key && !strcmp(cfg->attributes[i]->key, key))
      return cfg->attributes[i]->value ? cfg->attributes[i]->value : "";
  return NULL;
}

bool hd_vm_ha_on(const Hpvm__VmConfig *cfg) {
  const char *v = hd_vm_attr(cfg, "ha");
  return v && !strcmp(v, "on");
}

bool hd_vm_online_migration_disabled(const Hpvm__VmConfig *cfg) {
  const char *v = hd_vm_attr(cfg, "online_migration");
  return v && !strcmp(v, "disabled");
}

/* ---- The restart record (throttle) ------------------------------------------------------------- */

typedef struct ha_limit {
  unsigned max;       /* 0: no limit */
  unsigned window_s;
} ha_limit;

static unsigned attr_number(const Hpvm__VmConfig *cfg, const char *key, unsigned dflt, unsigned max) {
  const char *v = hd_vm_attr(cfg, key);
  char *end;
  errno = 0;
  unsigned long n = v ? strtoul(v, &end, 10) : 0;
  return !v || !*v || *end || errno || n > max ? dflt : (unsigned)n;
}

static ha_limit limit_of(const Hpvm__VmConfig *cfg) {
  ha_limit l = {attr_number(cfg, "ha_max_restarts", HA_MAX_RESTARTS_DEFAULT, HA_HISTORY_MAX - 1),
                attr_number(cfg, "ha_restart_window", HA_RESTART_WINDOW_DEFAULT, 7 * 86400)};
  if (!l.window_s) l.window_s = HA_RESTART_WINDOW_DEFAULT;
  return l;
}

static void history_path(hd_daemon *d, const char *vm, char *buf, size_t len) {
  snprintf(buf, len, "%s/ha/%s", sto_root(d->sto), vm);
}

/* The times (wall ns) of vm's HA restarts since since_ns, into t (at most max). */
static size_t history_load(hd_daemon *d, const char *vm, int64_t since_ns, int64_t *t, size_t max) {
  char p[4200];
  history_path(d, vm, p, sizeof p);
  FILE *f = fopen(p, "r");
  size_t n = 0;
  long long ns;
  while (f && n < max && fscanf(f, "%lld %*s", &ns) == 1)
    if (ns >= since_ns) t[n++] = ns;
  if (f) fclose(f);
  return n;
}

/* Written whole to a temporary file and renamed over the record: readers see the old or the new. */
static int history_save(hd_daemon *d, const char *vm, const int64_t *t, size_t n, char *why, size_t len) {
  char dir[4200], p[4200], tmp[4400];
  snprintf(dir, sizeof dir, "%s/ha", sto_root(d->sto));
  history_path(d, vm, p, sizeof p);
  snprintf(tmp, sizeof tmp, "%s.%s.tmp", p, sto_host(d->sto));
  if (mkdir(dir, 0755) && errno != EEXIST) return snprintf(why, len, "cannot create %.900s: %s", dir, strerror(errno)), HPVM_EIO;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  bool ok = f != NULL;
  for (size_t i = 0; ok && i < n; i++) ok = fprintf(f, "%lld %s\n", (long long)t[i], sto_host(d->sto)) > 0;
  ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
  if (f) ok = fclose(f) == 0 && ok;
  else if (fd >= 0) close(fd);
  if (!ok || rename(tmp, p)) {
    int e = errno;
    unlink(tmp);
    return snprintf(why, len, "cannot write %.900s: %s", p, strerror(e)), HPVM_EIO;
  }
  return 0;
}

void hd_ha_reset(hd_daemon *d, const char *vm) {
  char p[4200];
  history_path(d, vm, p, sizeof p);
  if (unlink(p) == 0) hd_log(d, HD_INFO, "VM %s: its HA restart count is cleared (started by an operator)", vm);
}

static void wall_format(int64_t ns, char *out, size_t len) {
  time_t t = (time_t)(ns / 1000000000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* The host placement chooses for cfg off dead host `from`, in target (size STO_NAME_MAX+1);
 * "" when no member has room or this host is not a member. */
static void choose(hd_daemon *d, const Hpvm__VmConfig *cfg, const char *from, char *target, size_t len) {
  clu_member *hosts = NULL;
  size_t nh = 0;
  target[0] = 0;
  if (hd_member_list(d, &hosts, &nh)) return;
  uint32_t ent = 0;
  if (cfg->entitlement && cfg->entitlement->unit == HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT)
    ent = (uint32_t)cfg->entitlement->value;
  place_guest g = {cfg->name, cfg->memory_bytes, cfg->vcpus ? cfg->vcpus : 1, ent};
  int t = -1;
  char why[300];
  if (place_guests(&g, 1, hosts, nh, from, &t, why, sizeof why) >= 0 && t >= 0)
    snprintf(target, len, "%s", hosts[t].name);
  free(hosts);
}

/* Registered elsewhere only (after a migration): make it runnable here, not on the dead host. */
static int register_here(hd_daemon *d, const char *vm, const char *dead, char *why, size_t len) {
  Hpvm__VmConfig *cfg = NULL;
  int rc = sto_vm_load(d->sto, vm, &cfg);
  if (rc) return snprintf(why, len, "%s", sto_error(d->sto)), rc;
  if (sto_vm_runnable_on(cfg, sto_host(d->sto), NULL, 0) == 0) return sto_vm_free(cfg), 0;
  if ((rc = sto_vm_register_move(cfg, dead, sto_host(d->sto), false, hd_wall_ns())) == 0 &&
      (rc = sto_vm_update(d->sto, cfg)))
    snprintf(why, len, "%s", sto_error(d->sto));
  else if (rc) snprintf(why, len, "cannot register VM %s on this host", vm);
  sto_vm_free(cfg);
  return rc;
}

/* The lease this host took is given up (unless hd_vm_start did already) so that another host or
 * an operator can start the guest. */
static void give_up_lease(hd_daemon *d, const char *vm) {
  hd_vm *v = hd_vm_find(d, vm);
  sto_lease cur;
  if (!(v && v->have_lease) && sto_lease_read(d->sto, vm, &cur) == 0 &&
      cur.state == HPVM__LEASE_STATE__LEASE_STATE_HELD && !strcmp(cur.owner, sto_host(d->sto)) &&
      sto_lease_release(d->sto, vm, &cur))
    hd_log(d, HD_WARN, "VM %s: cannot release its lease: %s", vm, sto_error(d->sto));
}

/* The throttle: true when cfg had its limit of restarts within the window, after telling so
 * (and the lease given up); else the restart about to be made is recorded. */
static bool throttled(hd_daemon *d, ha_host *hh, const Hpvm__VmConfig *cfg) {
  ha_limit lim = limit_of(cfg);
  int64_t now = hd_wall_ns(), t[HA_HISTORY_MAX];
  size_t n = history_load(d, cfg->name, now - (int64_t)lim.window_s * 1000000000, t, HA_HISTORY_MAX - 1);
  char why[1200], line[1600], when[64];
  if (lim.max && n >= lim.max) {
    if (register_here(d, cfg->name, hh->name, why, sizeof why))
      hd_log(d, HD_WARN, "VM %s: not registered on this host: %s", cfg->name, why);
    give_up_lease(d, cfg->name);
    wall_format(hh->dead_wall_ns, when, sizeof when);
    snprintf(line, sizeof line, "HA restart of VM %s not done (host %s dead since %s): restarted %zu time(s) in the "
             "last %u s, its limit (-x ha_max_restarts=%u, -x ha_restart_window=%u); it stays stopped: hpvmstart -P %s "
             "on host %s starts it and clears the count", cfg->name, hh->name, when, n, lim.window_s, lim.max,
             lim.window_s, cfg->name, sto_host(d->sto));
    hd_log(d, HD_WARN, "%s", line);
    hd_cmdlog(d, "hpvmd", line, HPVM_ECANCELED, "HA restarts throttled");
    return true;
  }
  t[n++] = now;
  if (history_save(d, cfg->name, t, n, why, sizeof why))   /* restarted all the same: availability first */
    hd_log(d, HD_WARN, "VM %s: its HA restart is not recorded (%s): the throttle does not count it", cfg->name, why);
  return false;
}

/* One guest of dead host hh whose lease obs saw expired: take it over when this host may. */
static void restart(hd_daemon *d, ha_host *hh, const Hpvm__VmConfig *cfg, sto_observer *obs, uint64_t now) {
  const char *me = sto_host(d->sto);
  char target[STO_NAME_MAX + 1];
  choose(d, cfg, hh->name, target, sizeof target);
  bool chosen = !strcmp(target, me);
  uint64_t backup_ns = (uint64_t)HA_BACKUP_TICKS * d->o.lease_renew_ms * 1000000;
  if (!chosen && now < hh->dead_mono_ns + backup_ns) return;   /* the chosen host acts first */
  hd_vm *v = hd_vm_find(d, cfg->name);
  if (v && (hd_vm_running(v) || v->incoming)) return;
  sto_lease l;
  /* Succeeds only when obs has seen the dead host's lease unchanged for its timeout (and no
   * other host took it meanwhile). */
  if (sto_lease_acquire(d->sto, cfg->name, d->o.lease_timeout_ms, hd_incarnation(d), obs, &l)) return;
  if (throttled(d, hh, cfg)) return;
  char why[1200], line[1600], when[64];
  int rc = register_here(d, cfg->name, hh->name, why, sizeof why);
  hd_vm *started = NULL;
  if (rc == 0) rc = hd_vm_start(d, cfg->name, &started, why, sizeof why);
  wall_format(hh->dead_wall_ns, when, sizeof when);
  if (rc) {
    give_up_lease(d, cfg->name);   /* not started */
    snprintf(line, sizeof line, "HA restart of VM %s on host %s (host %s dead since %s) failed: %.1100s", cfg->name,
             me, hh->name, when, why);
    hd_log(d, HD_ERR, "%s", line);
    hd_cmdlog(d, "hpvmd", line, rc, why);
    return;
  }
  snprintf(line, sizeof line, "HA restart of VM %s on host %s (host %s dead since %s)%s", cfg->name, me, hh->name,
           when, chosen ? "" : " by a backup host: the chosen host did not");
  hd_log(d, HD_INFO, "%s: hpvmapp pid %d", line, (int)started->pid);
  hd_cmdlog(d, "hpvmd", line, 0, NULL);
}

/* The ha=on guests whose lease another host holds: watched while that host's liveness does
 * not advance, restarted once it is DEAD and the lease expired. */
static void watch_guests(hd_daemon *d, uint64_t now) {
  sto_vm_entry *vms = NULL;
  size_t n = 0;
  if (sto_vm_list(d->sto, &vms, &n)) {
    hd_log(d, HD_WARN, "HA: cannot list the guests: %s", sto_error(d->sto));
    return;
  }
  uint64_t stale_ms = 2ull * d->o.lease_renew_ms;   /* a renewal missed */
  for (size_t i = 0; i < n; i++) {
    if (!vms[i].cfg || !hd_vm_ha_on(vms[i].cfg)) continue;
    sto_lease l;
    if (sto_lease_read(d->sto, vms[i].name, &l) || l.state != HPVM__LEASE_STATE__LEASE_STATE_HELD ||
        !strcmp(l.owner, sto_host(d->sto)))
      continue;
    ha_host *hh = NULL;
    for (size_t j = 0; j < d->ha->nhosts && !hh; j++)
      if (!strcmp(d->ha->hosts[j].name, l.owner)) hh = &d->ha->hosts[j];
    if (!hh || hh->obs.unchanged_ms < stale_ms) continue;   /* its host renews: nothing to watch */
    sto_observer *obs = lease_observer(d->ha, vms[i].name);
    bool expired = false;
    if (!obs || sto_lease_observe(d->sto, vms[i].name, d->o.lease_timeout_ms, obs, &l, &expired)) continue;
    if (expired && hh->dead_mono_ns && !strcmp(l.owner, hh->name)) restart(d, hh, vms[i].cfg, obs, now);
  }
  sto_vm_list_free(vms, n);
}

void hd_ha_tick(hd_daemon *d) {
  if (!d->ha && !(d->ha = calloc(1, sizeof *d->ha))) return;
  char **names = NULL;
  size_t n = 0;
  if (sto_host_list(d->sto, &names, &n)) return;
  uint64_t now = hd_mono_ns(), stale_ms = 2ull * d->o.lease_renew_ms;
  bool stale = false;
  for (size_t i = 0; i < n; i++) {
    ha_host *hh = strcmp(names[i], sto_host(d->sto)) ? host_of(d->ha, names[i]) : NULL;
    sto_liveness live;
    int status = STO_HOST_UNKNOWN;
    if (hh && sto_host_observe(d->sto, names[i], &hh->obs, &live, &status) == 0) {
      if (status != STO_HOST_DEAD) hh->dead_mono_ns = 0;
      else if (!hh->dead_mono_ns) hh->dead_mono_ns = now, hh->dead_wall_ns = live.renew_wall_ns ? live.renew_wall_ns : hd_wall_ns();
      stale |= status != STO_HOST_LEFT && hh->obs.unchanged_ms >= stale_ms;
    }
    free(names[i]);
  }
  free(names);
  if (stale) watch_guests(d, now);
}
