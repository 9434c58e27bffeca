/* bench_drain — drain time of a host against the sum of its guests' single migrations
 * (hpvmhost maintenance, cli/hpvmd/drain.c), on the network-namespace harness
 * (tests/netns/netns_test.h): three hosts hosta, hostb, hostc joined by a bridge, each link
 * shaped to --link-mbit (tbf, both directions; 0: plain veth), one hpvmd each with its default
 * timings. N guests run on hosta (--mem MiB each, one vCPU): the odd ones busy (memverify
 * rewriting 32 MiB at 8 MiB/s, heartbeat), the even ones quiet (memverify fills 48 MiB once
 * and ends, heartbeat): every guest has memory to move, half of them dirty it while they move.
 *
 *   singles   each guest alone: hpvmmigrate -P g -h hostb -o --json on hosta, timed by the
 *             client (process start to exit), then back to hosta the same way. The sum of the
 *             hosta -> hostb times is what a drain one at a time would cost with nothing to gain
 *             from overlap.
 *   drains    hpvmhost maintenance enter hosta --parallel P, timed the same way, for each P of
 *             --parallel; between drains maintenance exit hosta and each guest migrated back to
 *             hosta. Per-guest downtime and where each went come from hosta's hpvmd log (the
 *             line "VM g: migrated to host H (migration ID, total T s, downtime D ms)": a drain
 *             has no hpvmmigrate client to print them).
 *   --runs R  repeats singles and drains R times; each drain is compared with the singles of
 *             its own run (the same load of the machine, as far as that goes).
 *
 * The drain watches its migrations every 100 ms (DRAIN_WATCH_MS), so its wall time includes up
 * to 100 ms per wave. At the end every guest is stopped gracefully on hosta: each passes its
 * workloads, no console shows FAIL and none booted twice (what ctest's --quick run checks;
 * nothing gates on a time). It needs root (namespaces, tc); elsewhere it exits 77 (skipped)
 * with the reason.
 *
 *   bench_drain [--guests N] [--mem MIB] [--parallel 1,2,4] [--link-mbit M] [--runs R] [--quick] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netns_test.h"

#define HOSTS 3
#define MAX_GUESTS 16
#define MAX_PAR 8
#define WAIT_MS 60000
#define BUSY "memverify size=32M rate=8 heartbeat"
#define QUIET "memverify size=48M rate=0 time=1 heartbeat"

static struct {
  unsigned guests, mem_mib, link_mbit, runs, npar, par[MAX_PAR];
  const char *busy, *quiet;
  bool quick;
} opt = {8, 64, 1000, 1, 3, {1, 2, 4}, BUSY, QUIET, false};

typedef struct single {
  double there_s, back_s;       /* client wall time of hpvmmigrate -o */
  double there_dt, back_dt;     /* downtime ms (--json) */
} single;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void guest_name(unsigned k, char *buf, size_t len) { snprintf(buf, len, "g%u", k + 1); }
static bool busy(unsigned k) { return k % 2 == 0; }   /* g1, g3, ...: the odd names */

/* The number after "key": in a JSON line, or -1. */
static double json_num(const char *json, const char *key) {
  char k[100];
  snprintf(k, sizeof k, "\"%s\":", key);
  const char *p = strstr(json, k);
  return p ? strtod(p + strlen(k), NULL) : -1;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The median of n values, sorted in place (v[n - 1] is then the largest). */
static double median(double *v, unsigned n) {
  qsort(v, n, sizeof *v, cmp_d);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static size_t file_size(const char *path) {
  char *s = nt_read_file(path);
  size_t n = s ? strlen(s) : 0;
  free(s);
  return n;
}

/* ---- The cluster ------------------------------------------------------------------------------ */

/* Host i's `hpvmhost status` shows every host Up. */
static bool sees_all_up(nt_env *e, unsigned i) {
  nt_out r = nt_cmd(e, i, "hpvmhost status");
  unsigned up = 0;
  for (char *line = r.status == 0 ? strtok(r.o, "\n") : NULL; line; line = strtok(NULL, "\n")) {
    char host[64], addr[64], st[32];
    if (sscanf(line, "%63s %63s %31s", host, addr, st) == 3 && !strncmp(host, "host", 4) && !strcmp(st, "Up")) up++;
  }
  nt_out_free(&r);
  return up == e->n;
}

static void wait_all_up(nt_env *e) {
  for (unsigned i = 0; i < e->n; i++) {
    uint64_t end = nt_ms() + WAIT_MS;
    while (!sees_all_up(e, i) && nt_ms() < end) usleep(200000);
    if (!sees_all_up(e, i)) {
      nt_dump_logs(e);
      fail_msg("%s does not see all %u hosts Up within %d s", e->h[i].name, e->n, WAIT_MS / 1000);
    }
  }
}

static nt_env *cluster_new(void) {
  nt_env *e = nt_env_new(HOSTS);
  for (unsigned i = 0; i < HOSTS; i++) {
    if (opt.link_mbit) nt_link_shape(e, i, opt.link_mbit * 1000);
    nt_hpvmd_start(e, i);
  }
  wait_all_up(e);
  return e;
}

static void guests_start(nt_env *e) {
  char vm[16];
  for (unsigned k = 0; k < opt.guests; k++) {
    guest_name(k, vm, sizeof vm);
    nt_guest_create(e, 0, vm, opt.mem_mib, 1, busy(k) ? opt.busy : opt.quiet, 0);
    nt_guest_start(e, 0, vm, NULL);
  }
  /* Memory populated: the busy ones verified a pass, the quiet ones ended memverify. */
  for (unsigned k = 0; k < opt.guests; k++) {
    guest_name(k, vm, sizeof vm);
    const char *want = busy(k) ? "memverify: cpu 0: pass 1 verified" : "PASS memverify";
    if (!nt_console_wait(e, 0, vm, want, 120000)) {
      char *c = nt_console(e, 0, vm);
      fail_msg("'%s' not on the console of %s within 120 s:\n%s", want, vm, c);
    }
  }
}

/* ---- Singles ----------------------------------------------------------------------------------- */

/* hpvmmigrate -P vm -h to -o --json on host from: client wall seconds, downtime ms in *dt. */
static double migrate_one(nt_env *e, unsigned from, unsigned to, const char *vm, double *dt) {
  double t0 = now_s();
  nt_out r = nt_cmd(e, from, "hpvmmigrate -P %s -h %s -o --json", vm, e->h[to].name);
  double s = now_s() - t0;
  if (r.status != 0) {
    nt_dump_logs(e);
    fail_msg("hpvmmigrate %s %s -> %s exited %d: %s%s", vm, e->h[from].name, e->h[to].name, r.status, r.o, r.e);
  }
  *dt = json_num(r.o, "downtime_ms");
  nt_out_free(&r);
  assert_int_equal(nt_guest_settled(e, vm, 20000), to);
  return s;
}

static void run_singles(nt_env *e, single *sg) {
  char vm[16];
  for (unsigned k = 0; k < opt.guests; k++) {
    guest_name(k, vm, sizeof vm);
    sg[k].there_s = migrate_one(e, 0, 1, vm, &sg[k].there_dt);
    sg[k].back_s = migrate_one(e, 1, 0, vm, &sg[k].back_dt);
  }
}

/* The singles' table; returns the sum of the hosta -> hostb times. */
static double print_singles(const single *sg, unsigned run) {
  printf("\nRun %u: single migrations (hpvmmigrate -o --json, client wall time; downtime from --json)\n", run);
  printf("| guest | workload | hosta->hostb s | downtime ms | hostb->hosta s | downtime ms |\n");
  printf("|---|---|---:|---:|---:|---:|\n");
  double there = 0, back = 0;
  char vm[16];
  for (unsigned k = 0; k < opt.guests; k++) {
    guest_name(k, vm, sizeof vm);
    printf("| %s | %s | %.3f | %.1f | %.3f | %.1f |\n", vm, busy(k) ? "busy" : "quiet", sg[k].there_s, sg[k].there_dt,
           sg[k].back_s, sg[k].back_dt);
    there += sg[k].there_s, back += sg[k].back_s;
  }
  printf("| sum | | **%.3f** | | %.3f | |\n", there, back);
  double dt[MAX_GUESTS];
  for (unsigned k = 0; k < opt.guests; k++) dt[k] = sg[k].there_dt;
  double med = median(dt, opt.guests);
  printf("downtime hosta->hostb: max %.1f ms, median %.1f ms\n", dt[opt.guests - 1], med);
  fflush(stdout);
  return there;
}

/* ---- Drains ------------------------------------------------------------------------------------ */

typedef struct drain_run {
  unsigned run, parallel;
  double sum_s;                 /* the run's sum of single hosta -> hostb migrations */
  double wall_s, dt_ms[MAX_GUESTS];
  unsigned moved, on[HOSTS];
} drain_run;

/* hosta's hpvmd log since offset: one "VM g: migrated to host H (..., downtime D ms)" per guest
 * moved: its downtime, the guests per target host. */
static void read_moves(nt_env *e, size_t from, drain_run *d) {
  char *s = nt_read_file(e->h[0].log);
  for (const char *p = s && strlen(s) > from ? s + from : NULL; p && (p = strstr(p, ": migrated to host ")); p++) {
    char host[32];
    const char *dt = strstr(p, "downtime ");
    const char *eol = strchr(p, '\n');
    if (sscanf(p, ": migrated to host %31s", host) != 1 || !dt || (eol && dt > eol)) continue;
    int h = nt_host_index(e, host);
    if (h < 0 || d->moved == MAX_GUESTS) continue;
    d->on[h]++;
    d->dt_ms[d->moved++] = strtod(dt + strlen("downtime "), NULL);
  }
  free(s);
}

static void run_drain(nt_env *e, unsigned parallel, drain_run *d) {
  d->parallel = parallel;
  d->wall_s = 0, d->moved = 0;
  memset(d->on, 0, sizeof d->on);
  size_t log_from = file_size(e->h[0].log);
  double t0 = now_s();
  nt_out r = nt_cmd(e, 0, "hpvmhost maintenance enter hosta --parallel %u", parallel);
  d->wall_s = now_s() - t0;
  if (r.status != 0) {
    nt_dump_logs(e);
    fail_msg("hpvmhost maintenance enter hosta --parallel %u exited %d: %s%s", parallel, r.status, r.o, r.e);
  }
  if (!strstr(r.o, "is in maintenance")) fail_msg("the drain did not end in maintenance:\n%s%s", r.o, r.e);
  nt_out_free(&r);
  /* The log line of the last migration may follow the drain's end by a moment. */
  for (uint64_t end = nt_ms() + 5000; nt_ms() < end; usleep(50000)) {
    drain_run probe = *d;
    read_moves(e, log_from, &probe);
    if (probe.moved >= opt.guests) break;
  }
  read_moves(e, log_from, d);
  assert_int_equal(d->moved, opt.guests);
  assert_int_equal(d->on[0], 0);
}

/* maintenance exit, then every guest live-migrated back to hosta from where it runs. */
static void bring_back(nt_env *e) {
  free(nt_ok(e, 0, "hpvmhost maintenance exit hosta"));
  wait_all_up(e);
  char vm[16];
  for (unsigned k = 0; k < opt.guests; k++) {
    guest_name(k, vm, sizeof vm);
    unsigned at = nt_guest_settled(e, vm, 20000);
    double dt;
    if (at != 0) migrate_one(e, at, 0, vm, &dt);
  }
}

static void print_drains(drain_run *d, unsigned n) {
  printf("\nDrain of hosta (hpvmhost maintenance enter hosta --parallel P, client wall time) against the sum of "
         "the single hosta->hostb migrations\n");
  printf("| run | guests | parallel | drain wall s | sum of singles s | ratio | downtime max ms | downtime median ms "
         "| spread |\n");
  printf("|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
  for (unsigned i = 0; i < n; i++) {
    double med = median(d[i].dt_ms, d[i].moved);
    printf("| %u | %u | %u | %.3f | %.3f | %.2f | %.1f | %.1f | hostb %u, hostc %u |\n", d[i].run, opt.guests,
           d[i].parallel, d[i].wall_s, d[i].sum_s, d[i].wall_s / d[i].sum_s, d[i].dt_ms[d[i].moved - 1], med,
           d[i].on[1], d[i].on[2]);
  }
  fflush(stdout);
}

/* ---- The benchmark ------------------------------------------------------------------------------ */

static void bench(void **state) {
  (void)state;
  double t_start = now_s();
  nt_env *e = cluster_new();
  printf("bench_drain: %u guests of %u MiB on hosta (odd: %s; even: %s), links %s\n", opt.guests, opt.mem_mib,
         opt.busy, opt.quiet, opt.link_mbit ? "shaped" : "plain veth");
  if (opt.link_mbit) printf("links: %u Mbit/s (tbf) each way between every host and the bridge\n", opt.link_mbit);
  fflush(stdout);
  guests_start(e);

  /* Each run: the singles, then a drain per --parallel value, so that a drain is compared with
   * singles measured under the same load of the host. */
  drain_run runs[MAX_PAR * 10];
  unsigned nrun = 0;
  for (unsigned r = 0; r < opt.runs; r++) {
    single sg[MAX_GUESTS];
    run_singles(e, sg);
    double sum = print_singles(sg, r + 1);
    for (unsigned i = 0; i < opt.npar; i++) {
      runs[nrun].run = r + 1, runs[nrun].sum_s = sum;
      run_drain(e, opt.par[i], &runs[nrun++]);
      bring_back(e);
    }
  }
  print_drains(runs, nrun);

  /* Every guest on hosta: stopped gracefully, its workloads pass, it booted once. */
  char vm[16];
  for (unsigned k = 0; k < opt.guests; k++) {
    guest_name(k, vm, sizeof vm);
    assert_int_equal(nt_guest_settled(e, vm, 20000), 0);
    free(nt_guest_verify(e, 0, vm, busy(k) ? "memverify heartbeat" : "heartbeat"));
    assert_int_equal(nt_guest_boots(e, vm), 1);
  }
  printf("\nevery guest passed its workloads and booted once; the whole run took %.0f s\n", now_s() - t_start);
  nt_env_free(e);
}

static int parse_list(char *s, unsigned *out, unsigned max) {
  unsigned n = 0;
  for (char *w = strtok(s, ","); w; w = strtok(NULL, ",")) {
    if (n == max || atoi(w) < 1 || atoi(w) > 16) return -1;
    out[n++] = (unsigned)atoi(w);
  }
  return n ? (int)n : -1;
}

int main(int argc, char **argv) {
  static const struct option lo[] = {{"guests", 1, 0, 'g'}, {"mem", 1, 0, 'm'},   {"parallel", 1, 0, 'p'},
                                     {"link-mbit", 1, 0, 'l'}, {"runs", 1, 0, 'r'}, {"quick", 0, 0, 'Q'},
                                     {0, 0, 0, 0}};
  const char *usage = "usage: bench_drain [--guests N] [--mem MIB] [--parallel 1,2,4] [--link-mbit M] [--runs R] "
                      "[--quick]\n";
  int c, n;
  while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    if (c == 'g') opt.guests = (unsigned)atoi(optarg);
    else if (c == 'm') opt.mem_mib = (unsigned)atoi(optarg);
    else if (c == 'l') opt.link_mbit = (unsigned)atoi(optarg);
    else if (c == 'r') opt.runs = (unsigned)atoi(optarg);
    else if (c == 'p') {
      if ((n = parse_list(optarg, opt.par, MAX_PAR)) < 0)
        return fprintf(stderr, "--parallel: up to %d values of 1..16\n", MAX_PAR), 2;
      opt.npar = (unsigned)n;
    } else if (c == 'Q') {
      /* ctest's smoke run: three small guests, one and two at a time. */
      opt.quick = true, opt.guests = 3, opt.mem_mib = 32, opt.npar = 2, opt.par[0] = 1, opt.par[1] = 2;
      opt.busy = "memverify size=8M rate=8 heartbeat", opt.quiet = "memverify size=8M rate=0 time=1 heartbeat";
    } else return fputs(usage, stderr), 2;
  }
  if (optind < argc) return fputs(usage, stderr), 2;
  if (opt.guests < 1 || opt.guests > MAX_GUESTS) return fprintf(stderr, "--guests: 1..%d\n", MAX_GUESTS), 2;
  if (!opt.quick && (opt.mem_mib < 64 || opt.mem_mib > 4096)) return fprintf(stderr, "--mem: 64..4096 MiB\n"), 2;
  if (opt.runs < 1 || opt.runs > 10) return fprintf(stderr, "--runs: 1..10\n"), 2;
  nt_require_netns();
  const struct CMUnitTest t[] = {cmocka_unit_test(bench)};
  return cmocka_run_group_tests(t, NULL, NULL);
}
