/* sched.c — CPU entitlement, caps and throttling: the host's scheduler and the gate every vCPU
 * thread passes between two slices of guest code (docs/design/scheduling.md).
 *
 * The host's scheduler is a shared-memory segment (a file in the host's state directory, or an
 * anonymous mapping for a process-private one): a header with the host's cores and a robust
 * process-shared mutex, then one slot per admitted vCPU holding its parameters (entitlement,
 * cap, throttle, cores), its flags (wants the CPU, held over its allowance) and its accounting
 * (CPU time, normalised virtual time, last sign of life). Admission, releases and parameter
 * changes take the mutex; the gates only read other slots and write their own, lock-free.
 *
 * The allocation: the vCPUs that share the same set of cores form a pool; among those of a
 * pool that want the CPU, each first gets its entitlement (no more than its cap), then the
 * rest of the capacity (100 % per core) is water-filled in proportion to the entitlements,
 * each no higher than its cap; then each throttled vCPU keeps (100 - t) % of what it got and
 * the rest is shared again among the others the same way. Since admission keeps the
 * entitlements of every set of cores within its capacity, everyone gets at least its
 * entitlement when it wants it; spare goes to who wants it, in proportion to entitlement.
 * A vCPU of 0 % entitlement is best-effort: admission counts nothing for it, it is guaranteed
 * nothing, and it shares only the spare, weighted as if it had 1 %.
 *
 * The gate (vm_sched_gate, from the vCPU's safe point, vm->lock held) charges the slice just
 * run and decides, one mechanism for entitlement, caps and throttle:
 *   - the allowance: grows at the allocation's rate (ns of CPU per ns of wall time, banked up
 *     to 20 ms worth) and pays for the CPU the thread used (CLOCK_THREAD_CPUTIME_ID). Over it,
 *     the vCPU sleeps until it is paid back: this enforces caps, shares and throttles. A
 *     throttled vCPU's rate is also no more than (100 - t) % of the CPU the host gave it
 *     before the throttle (measured while it ran), so that auto-converge slows a guest in
 *     proportion even on a host whose other load leaves it less than its allocation.
 *   - fair share: each vCPU's virtual time advances by CPU used / allocation; a vCPU waits
 *     while at least as many pool members as the pool has cores are behind it. When the host
 *     gives the pool less than its cores (other load), the allowances no longer bind and this
 *     rule keeps the split in proportion.
 * A vCPU that sleeps at the gate is parked like a paused one (vm_pause need not wait for it). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vm_internal.h"

#define SCHED_MAGIC 0x4843535f4d565048ull  /* "HPVM_SCH" */
#define SCHED_VERSION 1
#define SCHED_WORDS (VM_SCHED_MAX_CORES / 64)
#define SCHED_SLICE_NS 2000000.0            /* CPU time of one slice of guest code */
#define SCHED_BURST_NS 20000000.0           /* allowance a vCPU may bank */
#define SCHED_SLACK_NS 3000000ull           /* fair-share lead tolerated (virtual ns) */
#define SCHED_LAG_NS 250000000ull           /* a pool member further behind is not really running */
#define SCHED_STALE_NS 200000000ull         /* a slot not seen for this long does not compete */
#define SCHED_REFRESH_NS 20000000ull        /* allocation recomputed at least this often */
#define SCHED_MIN_RUN_NS 500000.0           /* a held vCPU sleeps until it may run this much: a
                                             * wake-up costs CPU too, and must buy some running */
#define SCHED_HOLD_MAX_NS 50000000ull       /* longest sleep before looking again */
#define SCHED_FAIR_MIN_NS 500000ull         /* a vCPU ahead of its pool sleeps 0.5 to 20 ms */
#define SCHED_FAIR_MAX_NS 20000000ull
#define SCHED_DELIVERED_NS 300000000.0      /* time constant of the delivered-CPU average */

enum { SLOT_FREE = 0, SLOT_ADMITTED = 1 };
enum { SLOT_WANT = 1, SLOT_HELD = 2 };

static uint32_t pack(unsigned ent, unsigned cap, unsigned thr) { return ent | cap << 8 | thr << 16; }
static unsigned p_ent(uint32_t p) { return p & 0xff; }
static unsigned p_cap(uint32_t p) { return (p >> 8 & 0xff) ? (p >> 8 & 0xff) : 100; }
static unsigned p_thr(uint32_t p) { return p >> 16 & 0xff; }

typedef struct sched_slot {
  _Alignas(64) _Atomic uint32_t state;
  _Atomic uint32_t params;       /* pack(entitlement, cap, throttle) */
  _Atomic uint32_t flags;        /* SLOT_WANT, SLOT_HELD */
  _Atomic uint32_t share_pm;     /* allocation, 1/1000 of a core */
  int32_t pid;
  uint32_t vcpu;
  uint64_t pid_start;            /* the owner's start time (a reused pid is another process) */
  uint64_t owner;                /* the vm within its process */
  uint64_t mask[SCHED_WORDS];    /* host CPUs it runs on; its pool */
  char name[32];
  _Atomic uint64_t cpu_ns, held_ns, vtime, beat_ns;
} sched_slot;

typedef struct sched_shm {
  uint64_t magic;
  uint32_t version, slot_size, nslots, ncores;
  uint64_t host_mask[SCHED_WORDS];
  pthread_mutex_t lock;          /* robust, process-shared: admission, releases, parameters */
  _Atomic uint64_t gen;          /* bumped by each of those: pool lists are refreshed */
  _Atomic uint32_t hiwater;      /* slots [0, hiwater) may be in use */
  sched_slot slot[VM_SCHED_MAX_VCPUS];
} sched_shm;

struct vm_sched {
  sched_shm *shm;
};

/* A vCPU's scheduling state; fields other than the thread's own are under vm->lock. */
typedef struct vm_sched_vcpu {
  vm_sched *host;                /* NULL: not admitted (a throttle or cap alone) */
  sched_slot *slot;              /* NULL when not admitted or released */
  uint32_t params;               /* mirror of the slot's (the only copy without a host) */
  bool reload;                   /* params changed: recompute the allocation at the next gate */
  _Atomic uint64_t cpu_ns, held_ns;
  _Atomic uint32_t share_pm;

  /* The vCPU's own thread. */
  bool started, want, held, pinned;
  uint64_t last_cpu, last_wall, run_start, held_since;
  double tok;                    /* CPU allowance, ns: over it (< 0) the vCPU sleeps */
  double rate;                   /* how fast the allowance grows: cores */
  double share;                  /* allocation, cores */
  double delivered;              /* CPU per wall ns in its slices while not throttled: what the
                                  * host really gives it (1 until measured) */
  double ips;                    /* instructions per CPU ns, sizes slices */
  uint64_t last_retired;
  uint64_t pool_gen, share_at;
  unsigned npool;
  uint16_t pool[VM_SCHED_MAX_VCPUS];
  double w[VM_SCHED_MAX_VCPUS], m[VM_SCHED_MAX_VCPUS], a[VM_SCHED_MAX_VCPUS];   /* allocation()'s work */
  double e[VM_SCHED_MAX_VCPUS], mr[VM_SCHED_MAX_VCPUS];
  unsigned char t[VM_SCHED_MAX_VCPUS];
  bool done[VM_SCHED_MAX_VCPUS];
} vm_sched_vcpu;

static double dmin(double a, double b) { return a < b ? a : b; }

/* Fill msg with one line and return rc. */
__attribute__((format(printf, 4, 5))) static int fail(char *msg, size_t len, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, len, fmt, ap);
  va_end(ap);
  return rc;
}

/* ---- Clocks and processes ------------------------------------------------------------------- */

static uint64_t clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
static uint64_t mono_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

/* Start time of a process (clock ticks since boot, /proc/pid/stat field 22); 0 if gone. */
static uint64_t pid_start_time(int pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return 0;
  /* After ") " come fields 3 (state) onwards; the start time is field 22. */
  p++;
  for (int field = 2; field < 21 && p; field++) p = strchr(p + 1, ' ');
  return p ? strtoull(p + 1, NULL, 10) : 0;
}

static bool slot_alive(const sched_slot *s) {
  if (s->pid == getpid()) return true;
  if (kill(s->pid, 0) != 0 && errno == ESRCH) return false;
  return pid_start_time(s->pid) == s->pid_start;
}

/* ---- Core sets ------------------------------------------------------------------------------ */

static unsigned mask_count(const uint64_t *m) {
  unsigned n = 0;
  for (unsigned i = 0; i < SCHED_WORDS; i++) n += (unsigned)__builtin_popcountll(m[i]);
  return n;
}
static bool mask_eq(const uint64_t *a, const uint64_t *b) { return !memcmp(a, b, SCHED_WORDS * 8); }
static bool mask_subset(const uint64_t *a, const uint64_t *b) {
  for (unsigned i = 0; i < SCHED_WORDS; i++)
    if (a[i] & ~b[i]) return false;
  return true;
}

/* "0-3,6" -> bits; false on a malformed list or a CPU beyond VM_SCHED_MAX_CORES. */
static bool mask_parse(const char *s, uint64_t *m) {
  memset(m, 0, SCHED_WORDS * 8);
  while (*s) {
    char *end;
    unsigned long a = strtoul(s, &end, 10), b = a;
    if (end == s) return false;
    if (*end == '-') {
      s = end + 1;
      b = strtoul(s, &end, 10);
      if (end == s || b < a) return false;
    }
    if (b >= VM_SCHED_MAX_CORES) return false;
    for (unsigned long c = a; c <= b; c++) m[c / 64] |= 1ull << (c % 64);
    s = end;
    if (*s == ',') s++;
    else if (*s) return false;
  }
  return true;
}

/* bits -> "0-3,6" */
static void mask_print(const uint64_t *m, char *out, size_t len) {
  size_t k = 0;
  out[0] = 0;
  for (unsigned c = 0; c < VM_SCHED_MAX_CORES && k < len; c++) {
    if (!(m[c / 64] >> (c % 64) & 1)) continue;
    unsigned e = c;
    while (e + 1 < VM_SCHED_MAX_CORES && (m[(e + 1) / 64] >> ((e + 1) % 64) & 1)) e++;
    int w = e == c ? snprintf(out + k, len - k, "%s%u", k ? "," : "", c)
                   : snprintf(out + k, len - k, "%s%u-%u", k ? "," : "", c, e);
    if (w < 0) break;
    k += (size_t)w;
    c = e;
  }
}

/* ---- The segment ---------------------------------------------------------------------------- */

static void shm_lock(sched_shm *h) {
  if (pthread_mutex_lock(&h->lock) == EOWNERDEAD) pthread_mutex_consistent(&h->lock);
}
static void shm_unlock(sched_shm *h) { pthread_mutex_unlock(&h->lock); }

static int shm_init(sched_shm *h, const uint64_t *host_mask) {
  memset(h, 0, sizeof *h);
  h->version = SCHED_VERSION;
  h->slot_size = sizeof(sched_slot);
  h->nslots = VM_SCHED_MAX_VCPUS;
  memcpy(h->host_mask, host_mask, sizeof h->host_mask);
  h->ncores = mask_count(host_mask);
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  int rc = pthread_mutex_init(&h->lock, &a);
  pthread_mutexattr_destroy(&a);
  __atomic_store_n(&h->magic, SCHED_MAGIC, __ATOMIC_RELEASE);   /* last: the segment is usable */
  return rc ? HPVM_EIO : 0;
}

static int host_cores(const vm_sched_opts *o, uint64_t *m, char *msg, size_t msglen) {
  cpu_set_t set;
  memset(m, 0, SCHED_WORDS * 8);
  if (sched_getaffinity(0, sizeof set, &set) != 0) {
    CPU_ZERO(&set);
    CPU_SET(0, &set);
  }
  unsigned want = o && o->ncores ? o->ncores : VM_SCHED_MAX_CORES, n = 0;
  for (unsigned c = 0; c < VM_SCHED_MAX_CORES && c < CPU_SETSIZE && n < want; c++)
    if (CPU_ISSET(c, &set)) m[c / 64] |= 1ull << (c % 64), n++;
  if (o && o->ncores && n < o->ncores) {
    snprintf(msg, msglen, "the host has %u usable CPUs, fewer than the %u asked for", n, o->ncores);
    return HPVM_EINVAL;
  }
  return 0;
}

int vm_sched_open(const char *dir, const vm_sched_opts *opts, vm_sched **out, char *msg, size_t msglen) {
  *out = NULL;
  uint64_t host[SCHED_WORDS];
  int rc = host_cores(opts, host, msg, msglen);
  if (rc) return rc;
  vm_sched *s = calloc(1, sizeof *s);
  if (!s) return fail(msg, msglen, HPVM_ENOMEM, "out of memory");
  if (!dir) {
    void *p = mmap(NULL, sizeof(sched_shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      free(s);
      return fail(msg, msglen, HPVM_ENOMEM, "out of memory");
    }
    s->shm = p;
    shm_init(s->shm, host);
    *out = s;
    return 0;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/sched.shm", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    snprintf(msg, msglen, "cannot open the host scheduler %s: %s; check the state directory", path, strerror(errno));
    free(s);
    return HPVM_EIO;
  }
  /* The first opener sizes and initializes it; the lock keeps the others out meanwhile. */
  flock(fd, LOCK_EX);
  struct stat st;
  rc = 0;
  if (fstat(fd, &st) != 0) rc = HPVM_EIO;
  else if (st.st_size == 0 && ftruncate(fd, sizeof(sched_shm)) != 0) rc = HPVM_EIO;
  else if (st.st_size != 0 && (size_t)st.st_size != sizeof(sched_shm)) rc = HPVM_ECORRUPT;
  void *p = MAP_FAILED;
  if (!rc) p = mmap(NULL, sizeof(sched_shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (!rc && p == MAP_FAILED) rc = HPVM_ENOMEM;
  if (!rc) {
    sched_shm *h = p;
    if (h->magic == 0) rc = shm_init(h, host);   /* new, or its creator died half way */
    else if (h->magic != SCHED_MAGIC || h->version != SCHED_VERSION || h->slot_size != sizeof(sched_slot) ||
             h->nslots != VM_SCHED_MAX_VCPUS)
      rc = HPVM_ECORRUPT;
  }
  flock(fd, LOCK_UN);
  close(fd);
  if (rc) {
    if (p != MAP_FAILED) munmap(p, sizeof(sched_shm));
    snprintf(msg, msglen, "%s: %s", path,
             rc == HPVM_ECORRUPT ? "not a host scheduler of this hpvm version; stop its guests and remove it"
                                 : "cannot set up the host scheduler; check the state directory");
    free(s);
    return rc;
  }
  s->shm = p;
  *out = s;
  return 0;
}

void vm_sched_close(vm_sched *s) {
  if (!s) return;
  munmap(s->shm, sizeof(sched_shm));
  free(s);
}

unsigned vm_sched_ncores(const vm_sched *s) { return s->shm->ncores; }

/* Free the slots of processes that died (shm lock held). */
static void reclaim_dead(sched_shm *h) {
  unsigned hi = atomic_load(&h->hiwater);
  for (unsigned i = 0; i < hi; i++) {
    sched_slot *s = &h->slot[i];
    if (atomic_load(&s->state) == SLOT_ADMITTED && !slot_alive(s)) {
      atomic_store(&s->flags, 0);
      atomic_store(&s->state, SLOT_FREE);
      atomic_fetch_add(&h->gen, 1);
    }
  }
}

/* Wants the CPU and showed a sign of life lately (its beat may be a little after our now). */
static bool competing(const sched_slot *s, uint64_t now) {
  return atomic_load(&s->state) == SLOT_ADMITTED && (atomic_load(&s->flags) & SLOT_WANT) &&
         (int64_t)(now - atomic_load(&s->beat_ns)) < (int64_t)SCHED_STALE_NS;
}

/* ---- Admission -------------------------------------------------------------------------------- */

/* Would adding n vCPUs of ent % on `mask` (the slots of `owner` in this process left out: they
 * are the ones being changed) keep every set of cores that contains `mask` within 100 % per
 * core? Shm lock held. The candidate sets are the host and the core set of every admitted
 * vCPU: the vCPUs confined to a set must fit in it. */
static bool admission_ok(sched_shm *h, const uint64_t *mask, unsigned ent, unsigned n, uint64_t owner, char *msg,
                         size_t msglen) {
  unsigned hi = atomic_load(&h->hiwater);
  for (int k = -1; k < (int)hi; k++) {
    const uint64_t *cand = k < 0 ? h->host_mask : h->slot[k].mask;
    if (k >= 0 && atomic_load(&h->slot[k].state) != SLOT_ADMITTED) continue;
    if (!mask_subset(mask, cand)) continue;
    bool seen = false;   /* each distinct set once */
    for (int j = 0; j < k && !seen; j++)
      seen = atomic_load(&h->slot[j].state) == SLOT_ADMITTED && mask_eq(h->slot[j].mask, cand);
    if (seen || (k >= 0 && mask_eq(cand, h->host_mask))) continue;
    unsigned held = 0, nheld = 0;
    for (unsigned i = 0; i < hi; i++) {
      const sched_slot *s = &h->slot[i];
      if (atomic_load(&s->state) != SLOT_ADMITTED || !mask_subset(s->mask, cand)) continue;
      if (s->pid == getpid() && s->owner == owner) continue;
      held += p_ent(atomic_load(&s->params));
      nheld++;
    }
    unsigned capacity = 100 * mask_count(cand), want = n * ent;
    if (held + want > capacity) {
      char cpus[256];
      mask_print(cand, cpus, sizeof cpus);
      snprintf(msg, msglen,
               "cannot guarantee %u vCPU%s x %u%% = %u%% of CPUs %s (%u%%): %u vCPU%s already hold%s %u%% there, %u%% is "
               "free; lower the entitlement or stop a guest",
               n, n == 1 ? "" : "s", ent, want, cpus, capacity, nheld, nheld == 1 ? "" : "s", nheld == 1 ? "s" : "", held,
               held < capacity ? capacity - held : 0);
      return false;
    }
  }
  return true;
}

static int check_params(unsigned ent, unsigned cap, char *msg, size_t msglen) {
  if (ent > 100) return fail(msg, msglen, HPVM_EINVAL, "the entitlement must be 0 to 100%% of a core");
  if (cap && (cap < ent || cap > 100))
    return fail(msg, msglen, HPVM_EINVAL, "the cap must be between the entitlement (%u%%) and 100%%", ent);
  return 0;
}

static vm_sched_vcpu *sv_of(vm_vcpu *vc) { return atomic_load_explicit(&vc->sched, memory_order_acquire); }

/* The vCPU's scheduling state, created on first need (vm->lock held). */
static vm_sched_vcpu *sv_get(vm_vcpu *vc) {
  vm_sched_vcpu *sv = sv_of(vc);
  if (sv) return sv;
  sv = calloc(1, sizeof *sv);
  if (!sv) return NULL;
  sv->params = pack(VM_SCHED_DEFAULT_ENTITLEMENT, 0, 0);
  atomic_store_explicit(&vc->sched, sv, memory_order_release);
  return sv;
}

int vm_sched_admit(vm *v, vm_sched *s, const vm_sched_params *p, char *msg, size_t msglen) {
  int rc = check_params(p->entitlement, p->cap, msg, msglen);
  if (rc) return rc;
  sched_shm *h = s->shm;
  uint64_t mask[SCHED_WORDS];
  if (p->cpus && *p->cpus) {
    if (!mask_parse(p->cpus, mask) || !mask_count(mask))
      return fail(msg, msglen, HPVM_EINVAL, "bad CPU list '%s' (expected e.g. 0-3,6)", p->cpus);
    if (!mask_subset(mask, h->host_mask)) {
      char host[256];
      mask_print(h->host_mask, host, sizeof host);
      return fail(msg, msglen, HPVM_EINVAL, "CPUs '%s' are not all among the host's (%s)", p->cpus, host);
    }
  } else {
    memcpy(mask, h->host_mask, sizeof mask);
  }
  uint64_t owner = (uint64_t)(uintptr_t)v;
  pthread_mutex_lock(&v->lock);
  for (unsigned i = 0; i < v->ncpus; i++) {
    vm_sched_vcpu *sv = sv_of(v->vcpu[i]);
    if (sv && sv->host) {
      pthread_mutex_unlock(&v->lock);
      return fail(msg, msglen, HPVM_EBUSY, "the VM is admitted already");
    }
  }
  for (unsigned i = 0; i < v->ncpus; i++)
    if (!sv_get(v->vcpu[i])) {
      pthread_mutex_unlock(&v->lock);
      return fail(msg, msglen, HPVM_ENOMEM, "out of memory");
    }
  shm_lock(h);
  reclaim_dead(h);
  rc = admission_ok(h, mask, p->entitlement, v->ncpus, owner, msg, msglen) ? 0 : HPVM_EBUSY;
  sched_slot *got[VM_MAX_CPUS];
  unsigned n = 0;
  for (unsigned i = 0; !rc && i < VM_SCHED_MAX_VCPUS && n < v->ncpus; i++)
    if (atomic_load(&h->slot[i].state) == SLOT_FREE) got[n++] = &h->slot[i];
  if (!rc && n < v->ncpus) {
    snprintf(msg, msglen, "the host runs %u vCPUs already, the most it schedules; stop a guest", VM_SCHED_MAX_VCPUS);
    rc = HPVM_EBUSY;
  }
  uint64_t start = pid_start_time(getpid());
  for (unsigned i = 0; !rc && i < v->ncpus; i++) {
    sched_slot *sl = got[i];
    vm_sched_vcpu *sv = sv_of(v->vcpu[i]);
    sv->params = pack(p->entitlement, p->cap, p_thr(sv->params));   /* a throttle set earlier stays */
    sl->pid = getpid();
    sl->pid_start = start;
    sl->owner = owner;
    sl->vcpu = i;
    memcpy(sl->mask, mask, sizeof mask);
    snprintf(sl->name, sizeof sl->name, "%s", p->name ? p->name : "");
    atomic_store(&sl->params, sv->params);
    atomic_store(&sl->flags, 0);
    atomic_store(&sl->share_pm, 0);
    atomic_store(&sl->cpu_ns, atomic_load(&sv->cpu_ns));
    atomic_store(&sl->held_ns, atomic_load(&sv->held_ns));
    atomic_store(&sl->vtime, 0);
    atomic_store(&sl->beat_ns, mono_ns());
    atomic_store(&sl->state, SLOT_ADMITTED);
    unsigned idx = (unsigned)(sl - h->slot);
    if (idx >= atomic_load(&h->hiwater)) atomic_store(&h->hiwater, idx + 1);
    sv->host = s;
    sv->slot = sl;
    sv->pinned = false;          /* the thread applies the core set at its next gate */
    sv->want = false;
  }
  if (!rc) atomic_fetch_add(&h->gen, 1);
  shm_unlock(h);
  pthread_mutex_unlock(&v->lock);
  return rc;
}

/* Give the slot back (vm->lock held). */
static void release(vm_sched_vcpu *sv) {
  if (!sv->slot) return;
  sched_shm *h = sv->host->shm;
  shm_lock(h);
  atomic_store(&sv->slot->flags, 0);
  atomic_store(&sv->slot->state, SLOT_FREE);
  atomic_fetch_add(&h->gen, 1);
  shm_unlock(h);
  sv->slot = NULL;
}

/* ---- Parameters ------------------------------------------------------------------------------ */

/* New parameters: the vCPU recomputes its allocation at its next gate, and one sleeping over
 * its allowance wakes to do so now (vm->lock held; a vCPU parked for another reason parks
 * again). */
static void reload(vm_vcpu *vc, vm_sched_vcpu *sv) {
  sv->reload = true;
  if (vc->parked) pthread_cond_signal(&vc->cond);
}

int vm_sched_set(vm *v, unsigned ent, unsigned cap, char *msg, size_t msglen) {
  int rc = check_params(ent, cap, msg, msglen);
  if (rc) return rc;
  pthread_mutex_lock(&v->lock);
  vm_sched_vcpu *first = NULL;
  for (unsigned i = 0; i < v->ncpus; i++) {
    vm_sched_vcpu *sv = sv_get(v->vcpu[i]);
    if (!sv) {
      pthread_mutex_unlock(&v->lock);
      return fail(msg, msglen, HPVM_ENOMEM, "out of memory");
    }
    if (!first && sv->slot) first = sv;
  }
  sched_shm *h = first ? first->host->shm : NULL;
  if (h) {
    shm_lock(h);
    unsigned n = 0;
    for (unsigned i = 0; i < v->ncpus; i++) n += sv_of(v->vcpu[i])->slot != NULL;
    if (!admission_ok(h, first->slot->mask, ent, n, (uint64_t)(uintptr_t)v, msg, msglen)) rc = HPVM_EBUSY;
  }
  for (unsigned i = 0; !rc && i < v->ncpus; i++) {
    vm_sched_vcpu *sv = sv_of(v->vcpu[i]);
    sv->params = pack(ent, cap, p_thr(sv->params));
    if (sv->slot) atomic_store(&sv->slot->params, sv->params);
    reload(v->vcpu[i], sv);
  }
  if (h) {
    if (!rc) atomic_fetch_add(&h->gen, 1);
    shm_unlock(h);
  }
  pthread_mutex_unlock(&v->lock);
  return rc;
}

int vm_set_throttle(vm *v, unsigned percent) {
  if (percent > 99) return HPVM_ERANGE;
  pthread_mutex_lock(&v->lock);
  int rc = 0;
  for (unsigned i = 0; i < v->ncpus && !rc; i++) {
    vm_sched_vcpu *sv = sv_get(v->vcpu[i]);
    if (!sv) {
      rc = HPVM_ENOMEM;
      break;
    }
    sv->params = pack(p_ent(sv->params), p_cap(sv->params) == 100 ? 0 : p_cap(sv->params), percent);
    if (sv->slot) {
      atomic_store(&sv->slot->params, sv->params);
      atomic_fetch_add(&sv->host->shm->gen, 1);
    }
    reload(v->vcpu[i], sv);
  }
  pthread_mutex_unlock(&v->lock);
  return rc;
}

unsigned vm_throttle(const vm *v) {
  vm_sched_vcpu *sv = v->ncpus ? sv_of(v->vcpu[0]) : NULL;
  vm *m = (vm *)v;
  pthread_mutex_lock(&m->lock);
  unsigned t = sv ? p_thr(sv->params) : 0;
  pthread_mutex_unlock(&m->lock);
  return t;
}

/* ---- Usage ----------------------------------------------------------------------------------- */

int vm_sched_get_usage(vm *v, unsigned cpu, vm_sched_usage *out) {
  memset(out, 0, sizeof *out);
  if (cpu >= v->ncpus) return HPVM_EINVAL;
  pthread_mutex_lock(&v->lock);
  vm_sched_vcpu *sv = sv_of(v->vcpu[cpu]);
  uint32_t p = sv ? sv->params : pack(VM_SCHED_DEFAULT_ENTITLEMENT, 0, 0);
  out->entitlement = p_ent(p);
  out->cap = p_cap(p);
  out->throttle = p_thr(p);
  if (sv) {
    out->cpu_ns = atomic_load(&sv->cpu_ns);
    out->held_ns = atomic_load(&sv->held_ns);
    out->share = atomic_load(&sv->share_pm);
  }
  pthread_mutex_unlock(&v->lock);
  return sv ? 0 : HPVM_ENOENT;
}

unsigned vm_sched_list(vm_sched *s, vm_sched_entry *out, unsigned max) {
  sched_shm *h = s->shm;
  unsigned n = 0, hi = atomic_load(&h->hiwater);
  uint64_t now = mono_ns();
  for (unsigned i = 0; i < hi; i++) {
    sched_slot *sl = &h->slot[i];
    if (atomic_load(&sl->state) != SLOT_ADMITTED || !slot_alive(sl)) continue;
    if (n < max) {
      vm_sched_entry *e = &out[n];
      memset(e, 0, sizeof *e);
      e->pid = sl->pid;
      e->vcpu = sl->vcpu;
      memcpy(e->name, sl->name, sizeof e->name);
      e->name[sizeof e->name - 1] = 0;
      uint32_t p = atomic_load(&sl->params);
      e->usage = (vm_sched_usage){.cpu_ns = atomic_load(&sl->cpu_ns), .held_ns = atomic_load(&sl->held_ns),
                                  .entitlement = p_ent(p), .cap = p_cap(p), .throttle = p_thr(p),
                                  .share = atomic_load(&sl->share_pm)};
      e->runnable = competing(sl, now);
    }
    n++;
  }
  return n;
}

/* ---- Allocation -------------------------------------------------------------------------------- */

/* Water-filling over the members not yet `done`: a[i] = min(m[i], lambda * w[i]) with the a's
 * summing to cap, or a[i] = m[i] for all when those sum to less. */
static void waterfill(unsigned n, const double *w, const double *m, bool *done, double cap, double *a) {
  double wsum = 0;
  for (unsigned i = 0; i < n; i++)
    if (!done[i]) wsum += w[i];
  for (;;) {
    /* The member whose maximum is reached first (smallest m/w) is settled at its maximum if
     * the current level reaches it; otherwise everyone left gets the level. */
    int low = -1;
    for (unsigned i = 0; i < n; i++)
      if (!done[i] && (low < 0 || m[i] * w[low] < m[low] * w[i])) low = (int)i;
    if (low < 0) return;
    double lambda = cap / wsum;
    if (m[low] <= lambda * w[low]) {
      a[low] = m[low];
      done[low] = true;
      cap -= m[low];
      wsum -= w[low];
      continue;
    }
    for (unsigned i = 0; i < n; i++)
      if (!done[i]) a[i] = lambda * w[i], done[i] = true;
    return;
  }
}

/* Share cap among the members not yet `done`: each first gets its guarantee g[i] (its
 * entitlement, no more than m[i]), then the rest is water-filled by weight up to m[i]. With
 * every weight equal to the entitlement this is the plain water-filling (the level just starts
 * at the entitlements); it differs only for best-effort members (guarantee 0, weight 1),
 * which so get nothing an entitled member is guaranteed. mr is scratch. */
static void share_out(unsigned n, const double *w, const double *g, const double *m, double *mr, bool *done,
                      double cap, double *a) {
  bool todo[VM_SCHED_MAX_VCPUS];
  for (unsigned i = 0; i < n; i++) {
    todo[i] = !done[i];
    if (done[i]) continue;
    double base = dmin(g[i], m[i]);
    cap -= base;
    mr[i] = m[i] - base;
  }
  waterfill(n, w, mr, done, cap > 0 ? cap : 0, a);
  for (unsigned i = 0; i < n; i++)
    if (todo[i]) a[i] += dmin(g[i], m[i]);
}

/* Refresh the list of the slots of this vCPU's pool (same core set) after admissions,
 * releases or parameter changes. */
static void pool_refresh(vm_sched_vcpu *sv) {
  sched_shm *h = sv->host->shm;
  uint64_t gen = atomic_load(&h->gen);
  if (gen == sv->pool_gen && sv->npool) return;
  sv->pool_gen = gen;
  sv->npool = 0;
  unsigned hi = atomic_load(&h->hiwater);
  for (unsigned i = 0; i < hi; i++) {
    sched_slot *s = &h->slot[i];
    if (atomic_load(&s->state) == SLOT_ADMITTED && mask_eq(s->mask, sv->slot->mask)) sv->pool[sv->npool++] = (uint16_t)i;
  }
}

/* This vCPU's allocation (cores): its pool's capacity water-filled among the members that want
 * the CPU by entitlement, up to their caps; then throttled members keep (100 - t) % of theirs
 * and the others share what that frees. */
static double allocation(vm_sched_vcpu *sv, uint64_t now) {
  uint32_t mine = sv->params;
  if (!sv->slot) return p_cap(mine) / 100.0 * (100 - p_thr(mine)) / 100.0;
  pool_refresh(sv);
  sched_shm *h = sv->host->shm;
  unsigned n = 0, me = 0;
  double *w = sv->w, *m = sv->m, *a = sv->a, *g = sv->e;
  unsigned char *t = sv->t;
  bool *done = sv->done;
  for (unsigned k = 0; k < sv->npool; k++) {
    sched_slot *s = &h->slot[sv->pool[k]];
    if (s != sv->slot && !competing(s, now)) continue;
    uint32_t p = s == sv->slot ? mine : atomic_load(&s->params);
    if (s == sv->slot) me = n;
    w[n] = p_ent(p) ? p_ent(p) : 1;   /* best-effort: spare only, weighted as 1 % */
    g[n] = p_ent(p) / 100.0;
    m[n] = p_cap(p) / 100.0;
    t[n] = (unsigned char)p_thr(p);
    done[n] = false;
    n++;
  }
  double cap = mask_count(sv->slot->mask);
  share_out(n, w, g, m, sv->mr, done, cap, a);
  bool any = false;
  for (unsigned i = 0; i < n; i++) {
    done[i] = t[i] != 0;
    if (t[i]) a[i] *= (100 - t[i]) / 100.0, cap -= a[i], any = true;
  }
  if (any) share_out(n, w, g, m, sv->mr, done, cap > 0 ? cap : 0, a);
  return a[me];
}

/* ---- The gate --------------------------------------------------------------------------------- */

static void set_flags(vm_sched_vcpu *sv, uint32_t f) {
  if (sv->slot) atomic_store(&sv->slot->flags, f);
}

/* Pay for what ran since the last look: CPU time from the allowance and in virtual time; learn
 * the instruction rate (slice sizes) and, when not throttled, how much of a core the host gives
 * the thread while it runs (a throttle's reference). */
static void charge(vm_vcpu *vc, vm_sched_vcpu *sv, uint64_t now) {
  uint64_t cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
  double dcpu = (double)(cpu - sv->last_cpu), dwall = (double)(now - sv->last_wall);
  double drun = sv->run_start ? (double)(now - sv->run_start) : 0;
  uint64_t retired = vc->cpu.retired;
  if (sv->run_start && dcpu > 100000 && retired > sv->last_retired) {
    double ips = (double)(retired - sv->last_retired) / dcpu;
    sv->ips = sv->ips > 0 ? 0.7 * sv->ips + 0.3 * ips : ips;
  }
  if (drun > 0 && !p_thr(sv->params)) {
    double k = drun / (drun + SCHED_DELIVERED_NS), d = dcpu / drun;
    sv->delivered += k * ((d < 1 ? d : 1) - sv->delivered);
  }
  sv->last_retired = retired;
  sv->last_cpu = cpu;
  sv->last_wall = now;
  sv->run_start = 0;
  if (sv->held) {
    atomic_fetch_add(&sv->held_ns, now - sv->held_since);
    if (sv->slot) atomic_fetch_add(&sv->slot->held_ns, now - sv->held_since);
    sv->held = false;
  }
  atomic_fetch_add(&sv->cpu_ns, (uint64_t)dcpu);
  double share = sv->share > 0.001 ? sv->share : 0.001;
  if (sv->slot) {
    atomic_fetch_add(&sv->slot->cpu_ns, (uint64_t)dcpu);
    atomic_fetch_add(&sv->slot->vtime, (uint64_t)(dcpu / share));
    atomic_store(&sv->slot->beat_ns, now);
  }
  sv->tok = dmin(sv->tok + sv->rate * dwall, sv->rate * SCHED_BURST_NS) - dcpu;
}

/* Pin the thread to its pool's cores (first gate after admission). */
static void pin(vm_sched_vcpu *sv) {
  sv->pinned = true;
  if (!sv->slot) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (unsigned c = 0; c < VM_SCHED_MAX_CORES && c < CPU_SETSIZE; c++)
    if (sv->slot->mask[c / 64] >> (c % 64) & 1) CPU_SET(c, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* Fair share: 0 to run, or how long to wait because at least as many pool members as the
 * pool has cores are behind this one (in virtual time) and not held. The wait is the time the
 * closest of them needs to catch up if it had a core to itself (its virtual time then grows
 * by 1 / its allocation per ns): looking again sooner would only burn CPU on wake-ups. */
static uint64_t fair_wait(vm_sched_vcpu *sv, uint64_t now) {
  if (!sv->slot) return 0;
  sched_shm *h = sv->host->shm;
  uint64_t me = atomic_load(&sv->slot->vtime);
  unsigned behind = 0, cores = mask_count(sv->slot->mask);
  double soonest = SCHED_FAIR_MAX_NS;
  for (unsigned k = 0; k < sv->npool; k++) {
    sched_slot *s = &h->slot[sv->pool[k]];
    if (s == sv->slot || !competing(s, now) || (atomic_load(&s->flags) & SLOT_HELD)) continue;
    uint64_t v = atomic_load(&s->vtime);
    if (v + SCHED_SLACK_NS >= me || v + SCHED_LAG_NS <= me) continue;
    behind++;
    double catch_up = (double)(me - SCHED_SLACK_NS - v) * atomic_load(&s->share_pm) / 1000.0;
    if (catch_up < soonest) soonest = catch_up;
  }
  if (behind < cores) return 0;
  return soonest < SCHED_FAIR_MIN_NS ? SCHED_FAIR_MIN_NS : (uint64_t)soonest;
}

/* Coming back to the CPU (from a halt, a pause, boot): no credit for the time away. */
static void rejoin(vm_sched_vcpu *sv, uint64_t now) {
  if (!sv->slot) return;
  sched_shm *h = sv->host->shm;
  uint64_t lowest = UINT64_MAX;
  for (unsigned k = 0; k < sv->npool; k++) {
    sched_slot *s = &h->slot[sv->pool[k]];
    if (s == sv->slot || !competing(s, now)) continue;
    uint64_t v = atomic_load(&s->vtime);
    if (v < lowest) lowest = v;
  }
  if (lowest != UINT64_MAX && lowest > SCHED_SLACK_NS && atomic_load(&sv->slot->vtime) < lowest - SCHED_SLACK_NS)
    atomic_store(&sv->slot->vtime, lowest - SCHED_SLACK_NS);
}

uint64_t vm_sched_gate(vm_vcpu *vc) {
  vm_sched_vcpu *sv = sv_of(vc);
  if (!sv) return 0;
  uint64_t now = mono_ns();
  if (!sv->started) {
    sv->started = true;
    sv->last_cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    sv->last_wall = now;
    sv->last_retired = vc->cpu.retired;
    sv->delivered = 1;
    sv->rate = 1;
  }
  if (!sv->pinned) pin(sv);
  bool changed = sv->reload || (sv->slot && sv->pool_gen != atomic_load(&sv->host->shm->gen));
  sv->reload = false;
  if (sv->slot) pool_refresh(sv);
  if (!sv->want) {
    sv->want = true;
    set_flags(sv, SLOT_WANT);
    rejoin(sv, now);
    sv->share_at = 0;
  }
  charge(vc, sv, now);
  if (changed || !sv->share_at || now - sv->share_at > SCHED_REFRESH_NS) {
    sv->share = allocation(sv, now);
    sv->share_at = now;
    uint32_t pm = (uint32_t)(sv->share * 1000 + 0.5);
    atomic_store(&sv->share_pm, pm);
    if (sv->slot) atomic_store(&sv->slot->share_pm, pm);
    /* The allowance grows at the allocation, and a throttled vCPU's no faster than its share
     * of what the host gave it before the throttle: a busy host gives a thread that sleeps
     * often more of a core while it runs, so a cut of wall time alone would not slow it. */
    unsigned thr = p_thr(sv->params);
    sv->rate = sv->share;
    if (thr && sv->delivered * (100 - thr) / 100.0 < sv->rate) sv->rate = sv->delivered * (100 - thr) / 100.0;
    if (sv->rate < 0.001) sv->rate = 0.001;
  }
  double hold = sv->tok < 0 ? (SCHED_MIN_RUN_NS - sv->tok) / sv->rate : 0;
  if (hold > 0) {
    /* Over its allowance: not competing until paid back, so the pool runs without it. */
    sv->held = true;
    sv->held_since = now;
    set_flags(sv, SLOT_WANT | SLOT_HELD);
    return hold < SCHED_HOLD_MAX_NS ? (uint64_t)hold : SCHED_HOLD_MAX_NS;
  }
  set_flags(sv, SLOT_WANT);
  uint64_t wait = fair_wait(sv, now);
  if (wait) {
    sv->held = true;
    sv->held_since = now;
    return wait;
  }
  sv->run_start = now;
  return 0;
}

void vm_sched_idle(vm_vcpu *vc) {
  vm_sched_vcpu *sv = sv_of(vc);
  if (!sv || !sv->started || !sv->want) return;
  uint64_t now = mono_ns();
  charge(vc, sv, now);
  sv->want = false;
  set_flags(sv, 0);
}

uint64_t vm_sched_budget(vm_vcpu *vc) {
  vm_sched_vcpu *sv = sv_of(vc);
  if (!sv) return VM_RUN_BUDGET;
  if (sv->ips <= 0) return 1u << 16;             /* until the speed is known */
  /* A slice no longer than the allowance left (but long enough to be worth a wake-up). */
  double run = sv->tok < SCHED_SLICE_NS ? sv->tok : SCHED_SLICE_NS;
  double b = sv->ips * (run > SCHED_MIN_RUN_NS ? run : SCHED_MIN_RUN_NS);
  return b < 4096 ? 4096 : b > VM_RUN_BUDGET ? VM_RUN_BUDGET : (uint64_t)b;
}

void vm_sched_vcpu_exit(vm_vcpu *vc) {
  vm_sched_vcpu *sv = sv_of(vc);
  if (!sv) return;
  vm_sched_idle(vc);
  release(sv);
}

void vm_sched_vcpu_free(vm_vcpu *vc) {
  vm_sched_vcpu *sv = sv_of(vc);
  if (!sv) return;
  release(sv);
  atomic_store(&vc->sched, NULL);
  free(sv);
}
