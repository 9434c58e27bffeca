/* bench_sched.c — CPU scheduling figures, printed as tables (never a pass/fail on time):
 *   1. the gate's cost: instructions per CPU second of a busy guest, plain and admitted;
 *   2. throttle steps (auto-converge): instruction rate against the unthrottled one, in
 *      alternating windows so that the host's other load weighs on both alike;
 *   3. entitlement splits of two busy guests pinned to one core, against the allocation;
 *   4. pause latency with the vCPUs running and with them held by a throttle of 99 %.
 *   bench_sched [--quick]      --quick: short runs, for ctest's smoke run */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vm.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double process_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s) { usleep((useconds_t)(s * 1e6)); }

/* A started busy guest, admitted to s when s is not NULL. */
static vm *busy(vm_sched *s, unsigned ncpus, unsigned ent, const char *cpus) {
  vm_config cfg = {.memory = 16ull << 20, .ncpus = ncpus, .console_in = -1, .console_out = -1};
  vm *v;
  char msg[512], path[600];
  snprintf(path, sizeof path, "%s/bench_spin", BENCH_GUEST_DIR);
  if (vm_create(&cfg, &v, msg, sizeof msg) || vm_load_kernel(v, path, msg, sizeof msg)) {
    fprintf(stderr, "bench_sched: %s\n", msg);
    exit(1);
  }
  vm_sched_params p = {.name = "bench", .entitlement = ent, .cpus = cpus};
  if (s && vm_sched_admit(v, s, &p, msg, sizeof msg)) {
    fprintf(stderr, "bench_sched: %s\n", msg);
    exit(1);
  }
  vm_start(v);
  return v;
}

static void stop(vm *v) {
  vm_power_off(v, 0);
  vm_wait(v);
  vm_destroy(v);
}

static uint64_t retired(vm *v) {
  vm_stats st;
  vm_get_stats(v, &st);
  return st.retired;
}

static double insn_rate(vm *v, double secs) {
  uint64_t a = retired(v);
  double t0 = now_s();
  sleep_s(secs);
  return (double)(retired(v) - a) / (now_s() - t0);
}

static double insn_per_cpu(vm *v, double secs) {
  uint64_t a = retired(v);
  double c0 = process_cpu_s();
  sleep_s(secs);
  return (double)(retired(v) - a) / (process_cpu_s() - c0);
}

static uint64_t cpu_ns(vm *v) {
  vm_sched_usage u;
  vm_sched_get_usage(v, 0, &u);
  return u.cpu_ns;
}

static void gate_cost(vm_sched *s, bool quick) {
  int rounds = quick ? 1 : 5;
  double win = quick ? 0.3 : 0.8, plain = 0, admitted = 0;
  for (int i = 0; i < rounds; i++) {
    vm *p = busy(NULL, 1, 0, NULL);
    sleep_s(0.1);
    plain += insn_per_cpu(p, win);
    stop(p);
    vm *q = busy(s, 1, 10, NULL);
    sleep_s(0.1);
    admitted += insn_per_cpu(q, win);
    stop(q);
  }
  printf("\n1. The gate's cost (busy guest, M instructions per CPU second, %d rounds)\n", rounds);
  printf("   %-12s %-12s %s\n", "plain", "admitted", "difference");
  printf("   %-12.1f %-12.1f %+.2f%%\n", plain / rounds / 1e6, admitted / rounds / 1e6, (admitted - plain) / plain * 100);
}

static void throttle_steps(bool quick) {
  static const unsigned steps[] = {10, 25, 50, 75, 90, 99};
  int pairs = quick ? 2 : 6;
  double win = quick ? 0.15 : 0.25;
  vm *v = busy(NULL, 1, 0, NULL);
  sleep_s(0.3);
  printf("\n2. Throttle steps (busy guest; %d alternating windows of %.2f s each side)\n", pairs, win);
  printf("   %-9s %-16s %-16s %-10s %s\n", "throttle", "free MIPS", "throttled MIPS", "ratio", "expected");
  for (unsigned k = 0; k < sizeof steps / sizeof steps[0]; k++) {
    double f = 0, t = 0;
    for (int i = 0; i < pairs; i++) {
      vm_set_throttle(v, 0);
      sleep_s(0.03);
      f += insn_rate(v, win);
      vm_set_throttle(v, steps[k]);
      sleep_s(0.03);
      t += insn_rate(v, win);
    }
    printf("   %-9u %-16.0f %-16.0f %-10.3f %.3f\n", steps[k], f / pairs / 1e6, t / pairs / 1e6, t / f,
           (100 - steps[k]) / 100.0);
  }
  stop(v);
}

static const char *one_cpu(void) {
  static char buf[16];
  cpu_set_t set;
  sched_getaffinity(0, sizeof set, &set);
  int last = 0;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &set)) last = c;
  snprintf(buf, sizeof buf, "%d", last);
  return buf;
}

static void splits(vm_sched *s, bool quick) {
  static const unsigned pair[][2] = {{70, 20}, {50, 50}, {90, 10}, {30, 30}, {10, 5}};
  double win = quick ? 0.5 : 3.0;
  const char *cpu = one_cpu();
  printf("\n3. Two busy guests pinned to CPU %s (%.1f s each; %% of the core)\n", cpu, win);
  printf("   %-12s %-18s %-18s %-14s %s\n", "entitlement", "used", "allocation", "their split", "expected split");
  for (unsigned k = 0; k < sizeof pair / sizeof pair[0]; k++) {
    vm *a = busy(s, 1, pair[k][0], cpu), *b = busy(s, 1, pair[k][1], cpu);
    sleep_s(0.3);
    uint64_t a0 = cpu_ns(a), b0 = cpu_ns(b);
    double t0 = now_s();
    sleep_s(win);
    double dt = now_s() - t0;
    double ra = (double)(cpu_ns(a) - a0) / 1e9 / dt, rb = (double)(cpu_ns(b) - b0) / 1e9 / dt;
    double sum = pair[k][0] + pair[k][1];
    char e[16], u[32], al[32], sp[32];
    snprintf(e, sizeof e, "%u/%u", pair[k][0], pair[k][1]);
    snprintf(u, sizeof u, "%.1f / %.1f", ra * 100, rb * 100);
    snprintf(al, sizeof al, "%.1f / %.1f", pair[k][0] / sum * 100, pair[k][1] / sum * 100);
    snprintf(sp, sizeof sp, "%.1f / %.1f", ra / (ra + rb) * 100, rb / (ra + rb) * 100);
    printf("   %-12s %-18s %-18s %-14s %s\n", e, u, al, sp, al);
    stop(a);
    stop(b);
  }
}

static void pause_latency(bool quick) {
  int n = quick ? 10 : 50;
  printf("\n4. Pause latency, 2 busy vCPUs (%d pauses)\n", n);
  printf("   %-14s %-10s %s\n", "throttle", "mean us", "max us");
  for (unsigned thr = 0; thr <= 99; thr += 99) {
    vm *v = busy(NULL, 2, 0, NULL);
    vm_set_throttle(v, thr);
    sleep_s(0.1);
    double sum = 0, worst = 0;
    for (int i = 0; i < n; i++) {
      double t0 = now_s();
      vm_pause(v);
      double dt = now_s() - t0;
      vm_resume(v);
      sum += dt;
      if (dt > worst) worst = dt;
      sleep_s(0.005);
    }
    printf("   %-14u %-10.1f %.1f\n", thr, sum / n * 1e6, worst * 1e6);
    stop(v);
  }
}

int main(int argc, char **argv) {
  bool quick = argc > 1 && !strcmp(argv[1], "--quick");
  vm_sched *s;
  char msg[512];
  if (vm_sched_open(NULL, NULL, &s, msg, sizeof msg)) {
    fprintf(stderr, "bench_sched: %s\n", msg);
    return 1;
  }
  printf("bench_sched: CPU entitlement, caps and throttle (hypervisor/sched.c)%s; host has %u CPUs\n",
         quick ? " --quick" : "", vm_sched_ncores(s));
  gate_cost(s, quick);
  throttle_steps(quick);
  splits(s, quick);
  pause_latency(quick);
  vm_sched_close(s);
  return 0;
}
