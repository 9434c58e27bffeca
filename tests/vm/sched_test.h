/* sched_test.h — what the scheduling tests share (test_sched*.c): busy guests admitted to a
 * host scheduler, their CPU time and instruction rate over a window, a temporary state
 * directory, the CPU to pin to. Header-only, on top of vm_test.h. */
#ifndef HPVM_SCHED_TEST_H
#define HPVM_SCHED_TEST_H

#include <sched.h>
#include <sys/stat.h>

#include "vm_test.h"

#define SCHED_MEM (16ull << 20)

/* A started spin guest (every vCPU busy) admitted to s with these parameters. */
static inline vm *sched_busy_guest(vm_sched *s, unsigned ncpus, const char *name, unsigned ent, unsigned cap,
                                   const char *cpus) {
  vm *v = vm_with_guest(SCHED_MEM, ncpus, "spin", "", -1);
  if (s) {
    char msg[512];
    vm_sched_params p = {.name = name, .entitlement = ent, .cap = cap, .cpus = cpus};
    int rc = vm_sched_admit(v, s, &p, msg, sizeof msg);
    if (rc) fail_msg("vm_sched_admit: %s", msg);
  }
  assert_int_equal(vm_start(v), 0);
  return v;
}

static inline uint64_t sched_cpu_ns(vm *v) {
  uint64_t n = 0;
  for (unsigned i = 0; i < vm_ncpus(v); i++) {
    vm_sched_usage u;
    vm_sched_get_usage(v, i, &u);
    n += u.cpu_ns;
  }
  return n;
}

static inline uint64_t sched_retired(vm *v) {
  vm_stats st;
  vm_get_stats(v, &st);
  return st.retired;
}

/* CPU time (in cores) each of n VMs used over the next `secs`. */
static inline void sched_cpu_rates(vm **vs, unsigned n, double secs, double *rate) {
  uint64_t a[8];
  double t0 = now_s();
  for (unsigned i = 0; i < n; i++) a[i] = sched_cpu_ns(vs[i]);
  usleep((useconds_t)(secs * 1e6));
  double dt = now_s() - t0;
  for (unsigned i = 0; i < n; i++) rate[i] = (double)(sched_cpu_ns(vs[i]) - a[i]) / 1e9 / dt;
}

static inline double sched_cpu_rate(vm *v, double secs) {
  double r;
  sched_cpu_rates(&v, 1, secs, &r);
  return r;
}

/* Instructions per second over the next `secs`. */
static inline double sched_insn_rate(vm *v, double secs) {
  uint64_t a = sched_retired(v);
  double t0 = now_s();
  usleep((useconds_t)(secs * 1e6));
  return (double)(sched_retired(v) - a) / (now_s() - t0);
}

/* A fresh state directory (removed with sched_rmdir). */
static inline char *sched_tmpdir(void) {
  static __thread char buf[4][64];
  static __thread unsigned k;
  char *p = buf[k++ % 4];
  snprintf(p, 64, "/tmp/hpvm-sched-XXXXXX");
  if (!mkdtemp(p)) fail_msg("mkdtemp");
  return p;
}

static inline void sched_rmdir(const char *dir) {
  char path[256];
  snprintf(path, sizeof path, "%s/sched.shm", dir);
  unlink(path);
  rmdir(dir);
}

/* The last CPU this process may run on, as a CPU list ("1"): the one the pinned tests share. */
static inline const char *sched_one_cpu(void) {
  static __thread char buf[16];
  cpu_set_t set;
  sched_getaffinity(0, sizeof set, &set);
  int last = 0;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &set)) last = c;
  snprintf(buf, sizeof buf, "%d", last);
  return buf;
}

static inline void sched_stop(vm *v) {
  vm_power_off(v, 0);
  vm_wait(v);
  vm_destroy(v);
}

#endif
