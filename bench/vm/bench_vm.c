/* bench_vm.c — VM platform benchmarks, printed as tables (never a pass/fail on time):
 *   1. memstress store rate with the dirty log off and on (harvested every 100 ms, as
 *      pre-copy rounds would), the slowdown logging costs, first-store faults and harvest
 *      times;
 *   2. pause latency (vm_pause until every vCPU stopped) and pause+resume round trips,
 *      with running and with halted vCPUs.
 *   bench_vm [--quick]      --quick: short runs, for ctest's smoke run */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vm.h"

#define PARAMS 0x80000ull
#define WS_BASE (16ull << 20)

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static vm *boot(const char *guest, uint64_t mem, unsigned ncpus) {
  vm_config cfg = {.memory = mem, .ncpus = ncpus, .console_in = -1, .console_out = -1};
  vm *v;
  char msg[512];
  char path[600];
  snprintf(path, sizeof path, "%s/%s", BENCH_GUEST_DIR, guest);
  if (vm_create(&cfg, &v, msg, sizeof msg) || vm_load_kernel(v, path, msg, sizeof msg)) {
    fprintf(stderr, "bench_vm: %s\n", msg);
    exit(1);
  }
  return v;
}

static uint64_t stores(vm *v) {
  uint64_t n = 0;
  bool nat;
  for (unsigned i = 0; i < vm_ncpus(v); i++) n += ia64_gr_read(vm_cpu(v, i), 20, &nat);
  return n;
}

typedef struct ms_result {
  double rate;          /* stores per second */
  double faults_per_s;
  double harvest_ms;    /* mean */
  unsigned harvests;
} ms_result;

static ms_result memstress(uint64_t wss, unsigned ncpus, bool logging, double secs) {
  vm *v = boot("bench_memstress", WS_BASE + wss + (1ull << 20), ncpus);
  uint64_t p[2] = {WS_BASE, wss / ncpus & ~63ull};
  vm_mem_write(v, PARAMS, p, sizeof p);
  uint64_t *bits = calloc(vm_dirty_log_words(v), 8);
  if (logging) vm_dirty_log_start(v);
  vm_start(v);
  /* Warm up: every slice written twice (host pages populated, caches warm). */
  for (uint64_t want = 2 * wss / 8;;) {
    usleep(50000);
    vm_pause(v);
    uint64_t n = stores(v);
    vm_resume(v);
    if (n >= want) break;
  }
  ms_result r = {0};
  vm_stats st0, st1;
  vm_pause(v);
  uint64_t s0 = stores(v);
  vm_get_stats(v, &st0);
  double t0 = now_s();
  vm_resume(v);
  double hsum = 0;
  while (now_s() - t0 < secs) {
    usleep(100000);
    if (!logging) continue;
    double h0 = now_s();
    vm_dirty_log_harvest(v, bits);
    hsum += now_s() - h0;
    r.harvests++;
  }
  vm_pause(v);
  double t1 = now_s();
  uint64_t s1 = stores(v);
  vm_get_stats(v, &st1);
  vm_resume(v);
  r.rate = (double)(s1 - s0) / (t1 - t0);
  r.faults_per_s = (double)(st1.dirty_faults - st0.dirty_faults) / (t1 - t0);
  r.harvest_ms = r.harvests ? hsum / r.harvests * 1e3 : 0;
  vm_power_off(v, 0);
  vm_wait(v);
  vm_destroy(v);
  free(bits);
  return r;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void pause_latency(const char *guest, const char *what, unsigned ncpus, unsigned iters) {
  vm *v = boot(guest, 32ull << 20, ncpus);
  vm_start(v);
  usleep(100000);
  double *lat = calloc(iters, sizeof *lat), *rt = calloc(iters, sizeof *rt);
  for (unsigned i = 0; i < iters; i++) {
    double t0 = now_s();
    vm_pause(v);
    double t1 = now_s();
    vm_resume(v);
    double t2 = now_s();
    lat[i] = (t1 - t0) * 1e6;
    rt[i] = (t2 - t0) * 1e6;
    usleep(2000);
  }
  qsort(lat, iters, sizeof *lat, cmp_d);
  qsort(rt, iters, sizeof *rt, cmp_d);
  printf("| %-8s | %5u | %8.1f | %8.1f | %8.1f | %14.1f |\n", what, ncpus, lat[iters / 2], lat[iters * 99 / 100],
         lat[iters - 1], rt[iters / 2]);
  vm_power_off(v, 0);
  vm_wait(v);
  vm_destroy(v);
  free(lat), free(rt);
}

int main(int argc, char **argv) {
  bool quick = argc > 1 && !strcmp(argv[1], "--quick");
  double secs = quick ? 0.3 : 2.0;
  long ncores = sysconf(_SC_NPROCESSORS_ONLN);
  double load[3] = {0};
  FILE *la = fopen("/proc/loadavg", "r");
  if (la && fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
  if (la) fclose(la);
  printf("hpvm VM platform benchmarks (%ld host CPUs, load average %.2f at start)\n\n", ncores, load[0]);
  printf("memstress: 8-byte stores over the working set, dirty log off vs on (harvest every 100 ms)\n\n");
  printf("| working set | vCPUs | off: M stores/s | on: M stores/s | slowdown | first-store faults/s | harvest ms |\n");
  printf("|---|---|---|---|---|---|---|\n");
  uint64_t sets[] = {16ull << 20, 256ull << 20};
  unsigned cpus[] = {1, 2};
  for (unsigned i = 0; i < 2; i++)
    for (unsigned j = 0; j < 2; j++) {
      if (quick && (i || j)) continue;
      /* Best of three alternating runs of each: the host may be busy with other work. */
      ms_result off = {0}, on = {0};
      for (unsigned k = 0; k < (quick ? 1u : 3u); k++) {
        ms_result a = memstress(sets[i], cpus[j], false, secs), b = memstress(sets[i], cpus[j], true, secs);
        if (a.rate > off.rate) off = a;
        if (b.rate > on.rate) on = b;
      }
      printf("| %8llu MiB | %5u | %15.1f | %14.1f | %7.1f%% | %20.0f | %10.2f |\n",
             (unsigned long long)(sets[i] >> 20), cpus[j], off.rate / 1e6, on.rate / 1e6,
             (1 - on.rate / off.rate) * 100, on.faults_per_s, on.harvest_ms);
    }
  printf("\npause latency (us): vm_pause until every vCPU stopped; round trip = pause + resume\n\n");
  printf("| vCPUs    | count |   median |      p99 |      max | round trip med |\n");
  printf("|---|---|---|---|---|---|\n");
  unsigned iters = quick ? 20 : 500;
  for (unsigned n = 1; n <= 4; n *= 2) pause_latency("bench_spin", "running", n, iters);
  pause_latency("bench_idle", "halted", 4, iters);
  return 0;
}
