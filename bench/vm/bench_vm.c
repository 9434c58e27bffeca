/* bench_vm.c — VM platform benchmarks, printed as tables (never a pass/fail on time):
 *   1. memstress store rate with the dirty log off and on (harvested every 100 ms, as
 *      pre-copy rounds would), the slowdown logging costs, first-store faults and harvest
 *      times;
 *   2. pause latency (vm_pause until every vCPU stopped) and pause+resume round trips,
 *      with running and with halted vCPUs;
 *   3. the cost of a guest data TLB miss, resolved by the guest's handler (itc.d + rfi)
 *      or by the VHPT walker (guest tlbmiss.S), with 4 KiB and 16 KiB pages.
 *   bench_vm [--quick] [memstress] [pause] [tlb]
 *      --quick: short runs, for ctest's smoke run; naming tables runs only those.
 * docs/bench.md says how to read every column. */
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

static void memstress_table(bool quick, double secs) {
  printf("\nmemstress: 8-byte stores over the working set, dirty log off vs on (harvest every 100 ms)\n\n");
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
}

static void pause_table(bool quick) {
  printf("\npause latency (us): vm_pause until every vCPU stopped; round trip = pause + resume\n\n");
  printf("| vCPUs    | count |   median |      p99 |      max | round trip med |\n");
  printf("|---|---|---|---|---|---|\n");
  unsigned iters = quick ? 20 : 500;
  for (unsigned n = 1; n <= 4; n *= 2) pause_latency("bench_spin", "running", n, iters);
  pause_latency("bench_idle", "halted", 4, iters);
}

/* ---- TLB-miss cost (tlbmiss.S) ---------------------------------------------------------- */

#define TLB_RESULTS 0x80100ull
#define TLB_TEST_BASE (16ull << 20)
#define TLB_PAGES 128ull   /* well inside the 512-entry TC: the mapped rounds never miss */

typedef struct tlb_result {
  uint64_t base_ticks, base_misses, miss_ticks, misses, warm_misses;  /* tlbmiss.S R_*, in order */
  uint64_t bad[4];  /* vector, iip, ifa, isr of an unexpected interruption */
} tlb_result;

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum { TLB_MAPPED = 1, TLB_PURGED = 2 };  /* tlbmiss.S's phases 2 and 3 */

/* One boot of tlbmiss.S: TLB_PAGES pages of 2^pshift bytes, the warm-up round, then `rounds`
 * rounds of each phase asked for. *cpu = host CPU seconds from vm_start to power-off (the
 * vCPU thread does all the work; the boot's fixed costs cancel out between two boots). */
static tlb_result tlbmiss(unsigned pshift, bool walker, uint64_t rounds, unsigned phases, double *cpu) {
  unsigned purge_ps = pshift;
  while ((1ull << purge_ps) < TLB_PAGES << pshift) purge_ps++;
  vm *v = boot("bench_tlbmiss", TLB_TEST_BASE + (1ull << purge_ps), 1);
  uint64_t p[6] = {TLB_PAGES, rounds, pshift, walker, purge_ps, phases};
  vm_mem_write(v, PARAMS, p, sizeof p);
  for (uint64_t i = 0; i < TLB_PAGES; i++) {  /* each page's first word: its address */
    uint64_t gpa = TLB_TEST_BASE + (i << pshift);
    vm_mem_write(v, gpa, &gpa, 8);
  }
  double c0 = cpu_s();
  vm_start(v);
  int status = vm_wait(v);
  *cpu = cpu_s() - c0;
  tlb_result r;
  vm_mem_read(v, TLB_RESULTS, &r, sizeof r);
  vm_destroy(v);
  if (status) {
    fprintf(stderr, "bench_vm: tlbmiss guest exited with %d", status);
    if (status == 3)
      fprintf(stderr, ": vector 0x%04llx at iip 0x%llx, ifa 0x%llx, isr 0x%llx", (unsigned long long)r.bad[0],
              (unsigned long long)r.bad[1], (unsigned long long)r.bad[2], (unsigned long long)r.bad[3]);
    if (status == 4)
      fprintf(stderr, ": the page at 0x%llx reads 0x%llx, not its address", (unsigned long long)r.bad[2],
              (unsigned long long)r.bad[1]);
    fprintf(stderr, "\n");
    exit(1);
  }
  return r;
}

/* One row. Each of `reps` repetitions boots the guest twice, once for the mapped loop and
 * once for the purged one; each figure is the fastest of its runs (other host work only
 * ever adds time). The miss count is exact: the handler counts its calls (walker off); with
 * the walker on every touch after a purge misses, pages x rounds, and the handler's counter
 * must stay 0. Every run's counts are checked; a row whose counts are off says so. */
static void tlb_row(unsigned ps, bool walker, uint64_t rounds, unsigned reps) {
  uint64_t want = TLB_PAGES * rounds, base = UINT64_MAX, purged = UINT64_MAX;
  double cpu_base = 1e30, cpu_purged = 1e30;
  tlb_result odd = {0};
  bool ok = true;
  for (unsigned k = 0; k < reps; k++) {
    double cm, cp;
    tlb_result m = tlbmiss(ps, walker, rounds, TLB_MAPPED, &cm), p = tlbmiss(ps, walker, rounds, TLB_PURGED, &cp);
    if (m.base_ticks < base) base = m.base_ticks;
    if (p.miss_ticks < purged) purged = p.miss_ticks;
    if (cm < cpu_base) cpu_base = cm;
    if (cp < cpu_purged) cpu_purged = cp;
    uint64_t warm = walker ? 0 : TLB_PAGES;
    if (ok && (m.warm_misses != warm || m.base_misses || p.warm_misses != warm || p.misses != (walker ? 0 : want)))
      ok = false, odd = m, odd.misses = p.misses;
  }
  double us = ((double)purged - (double)base) / 1e3 / (double)want;
  double cpu_us = (cpu_purged - cpu_base) * 1e6 / (double)want;
  printf("| %2u KiB | %-13s | %8llu | %13llu | %9.2f | %9.2f | %11.3f | %15.3f |\n", 1u << (ps - 10),
         walker ? "VHPT walker" : "guest handler", (unsigned long long)want,
         (unsigned long long)(ok ? (walker ? 0 : want) : odd.misses), base / 1e6, purged / 1e6, us, cpu_us);
  if (!ok)
    printf("  (unexpected counts: warm-up %llu, mapped %llu, purged %llu handler calls: the row is wrong)\n",
           (unsigned long long)odd.warm_misses, (unsigned long long)odd.base_misses, (unsigned long long)odd.misses);
}

static void tlb_table(bool quick) {
  uint64_t rounds = quick ? 64 : 8192;
  unsigned reps = quick ? 1 : 5;
  printf("\nTLB-miss cost: %llu pages touched per round (8-byte loads), %llu rounds with the pages mapped, "
         "%llu rounds each starting with one ptc.l over them; us per miss = (purged - mapped) / misses in guest "
         "ar.itc time, CPU us per miss the same in host CPU time; fastest of %u runs\n\n",
         (unsigned long long)TLB_PAGES, (unsigned long long)rounds, (unsigned long long)rounds, reps);
  printf("| page   | resolved by   |   misses | handler calls | mapped ms | purged ms | us per miss | CPU us per miss |\n");
  printf("|---|---|---|---|---|---|---|---|\n");
  for (unsigned ps = 12; ps <= 14; ps += 2) {
    tlb_row(ps, false, rounds, reps);
    tlb_row(ps, true, rounds, reps);
  }
}

static bool wanted(int argc, char **argv, const char *table) {
  bool any = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) continue;
    any = true;
    if (!strcmp(argv[i], table)) return true;
  }
  return !any;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* rows appear as they are measured, errors in order */
  bool quick = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick"))
      quick = true;
    else if (strcmp(argv[i], "memstress") && strcmp(argv[i], "pause") && strcmp(argv[i], "tlb")) {
      fprintf(stderr, "usage: bench_vm [--quick] [memstress] [pause] [tlb]\n");
      return 2;
    }
  }
  double secs = quick ? 0.3 : 2.0;
  long ncores = sysconf(_SC_NPROCESSORS_ONLN);
  double load[3] = {0};
  FILE *la = fopen("/proc/loadavg", "r");
  if (la && fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
  if (la) fclose(la);
  printf("hpvm VM platform benchmarks (%ld host CPUs, load average %.2f at start)\n", ncores, load[0]);
  if (wanted(argc, argv, "memstress")) memstress_table(quick, secs);
  if (wanted(argc, argv, "pause")) pause_table(quick);
  if (wanted(argc, argv, "tlb")) tlb_table(quick);
  return 0;
}
