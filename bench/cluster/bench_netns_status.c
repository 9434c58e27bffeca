/* bench_netns_status — cluster-wide hpvmstatus latency (cli/hpvmd/cluster.c) with N hosts in
 * network namespaces (tests/netns/netns_test.h: hosta, hostb, ... joined by a bridge, 10.77.0.x,
 * one hpvmd each with its default timings unless --probe-ms / --lease-timeout), one idle guest
 * on every host but hosta. On hosta it runs the hpvmstatus command (list) and hpvmstatus -P of
 * one guest, Q times each, timed from fork to exit (what an operator waits for: the process
 * start, the request, every owner asked over the peer channel, the table printed):
 *
 *   all up        every host answers (-P: the last host's guest);
 *   one hung      SIGSTOP of one host's hpvmd: the kernel accepts its connections and nobody
 *                 answers, so the query waits for its deadline (the gossip probe timeout,
 *                 500 ms by default); F queries right away, then SIGCONT;
 *   link cut      one host's link set down: connects go unanswered; F queries right away,
 *                 then F more once hosta's membership holds it Dead (its hpvmd still renews its
 *                 liveness record in the shared directory), then the link is restored;
 *   one killed    kill -9 of one host's hpvmd: its port refuses at once; Q queries right away,
 *                 then Q more after its liveness record expired (the lease timeout), when its
 *                 guest is Unknown from shared storage and the host is not asked.
 * -P always names the guest of the host at fault. Every answer is checked (exit 0, every guest
 * listed); the "Unknown" column counts the list rows hpvmstatus showed Unknown. Nothing gates on
 * a time. It needs root (namespaces); elsewhere it exits 77 (skipped) with the reason.
 *
 *   bench_netns_status [--hosts N] [--queries Q] [--fault-queries F] [--probe-ms P]
 *                      [--lease-timeout S] [--quick] */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netns_test.h"

#define MAX_Q 1000
#define WAIT_MS 60000

static struct {
  unsigned hosts, queries, fault_queries;
  char probe_ms[8], lease_timeout[8];
} opt = {16, 20, 5, "", ""};

typedef struct lat {
  double ms[MAX_Q];
  unsigned n, unknown_max;
} lat;

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void guest_of(unsigned host, char *buf, size_t len) { snprintf(buf, len, "g%c", 'a' + (int)host); }

static unsigned count(const char *s, const char *needle) {
  unsigned n = 0;
  for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

/* ---- Timed queries ------------------------------------------------------------------------------ */

/* hpvmstatus (list) or hpvmstatus -P vm on hosta, n times; every guest must be in the answer. */
static void timed(nt_env *e, const char *vm, unsigned n, lat *l) {
  memset(l, 0, sizeof *l);
  for (unsigned q = 0; q < n && q < MAX_Q; q++) {
    double t0 = now_ms();
    nt_out r = vm ? nt_cmd(e, 0, "hpvmstatus -P %s", vm) : nt_cmd(e, 0, "hpvmstatus");
    l->ms[l->n++] = now_ms() - t0;
    if (r.status != 0) fail_msg("hpvmstatus%s%s exited %d: %s%s", vm ? " -P " : "", vm ? vm : "", r.status, r.o, r.e);
    for (unsigned i = 1; i < e->n; i++) {
      char g[8], row[16];
      guest_of(i, g, sizeof g);
      snprintf(row, sizeof row, "\n%s ", g);
      if (!vm && !strstr(r.o, row)) fail_msg("hpvmstatus does not list %s:\n%s", g, r.o);
    }
    if (vm && !strstr(r.o, vm)) fail_msg("hpvmstatus -P %s does not name it:\n%s", vm, r.o);
    unsigned unknown = vm ? 0 : count(r.o, " Unknown ");
    if (unknown > l->unknown_max) l->unknown_max = unknown;
    nt_out_free(&r);
  }
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least p % of them at or below it. */
static double pct(const lat *l, unsigned p) {
  unsigned k = (l->n * p + 99) / 100;
  return l->ms[k ? k - 1 : 0];
}

static void row(const char *scenario, const char *request, lat *l) {
  qsort(l->ms, l->n, sizeof *l->ms, cmp_d);
  char unknown[16] = "-";
  if (!strcmp(request, "list")) snprintf(unknown, sizeof unknown, "%u", l->unknown_max);
  printf("| %u | %-36s | %-7s | %3u | %8.1f | %8.1f | %8.1f | %7s |\n", opt.hosts, scenario, request, l->n, pct(l, 50),
         pct(l, 95), l->ms[l->n - 1], unknown);
  fflush(stdout);
}

static void both(nt_env *e, const char *scenario, unsigned fault_host, unsigned n) {
  char vm[8];
  guest_of(fault_host, vm, sizeof vm);
  lat l;
  timed(e, NULL, n, &l);
  row(scenario, "list", &l);
  timed(e, vm, n, &l);
  row(scenario, "-P", &l);
}

/* ---- The cluster -------------------------------------------------------------------------------- */

/* Poll hosta's view of host i until it is want ("Up", "Dead"). */
static void wait_host(nt_env *e, unsigned i, const char *want) {
  char st[32] = "";
  for (uint64_t end = nt_ms() + WAIT_MS; nt_ms() < end; usleep(100000)) {
    nt_host_state(e, 0, e->h[i].name, st, sizeof st);
    if (!strcmp(st, want)) return;
  }
  nt_dump_logs(e);
  fail_msg("hosta sees %s as '%s', not '%s', after %d s", e->h[i].name, st, want, WAIT_MS / 1000);
}

static nt_env *cluster_new(void) {
  nt_env *e = nt_env_new(opt.hosts);
  snprintf(e->gossip_probe_ms, sizeof e->gossip_probe_ms, "%s", opt.probe_ms);
  snprintf(e->lease_timeout, sizeof e->lease_timeout, "%s", opt.lease_timeout);
  for (unsigned i = 0; i < e->n; i++) nt_hpvmd_start(e, i);
  for (unsigned i = 1; i < e->n; i++) {
    char vm[8];
    guest_of(i, vm, sizeof vm);
    nt_guest_create(e, i, vm, 32, 1, "idle", 0);
    nt_guest_start(e, i, vm, NULL);
  }
  for (unsigned i = 0; i < e->n; i++) wait_host(e, i, "Up");
  return e;
}

/* hpvmd's resident memory, summed over the hosts (VmRSS of /proc/PID/status), in MiB. */
static double hpvmd_rss_mib(const nt_env *e) {
  double kib = 0;
  for (unsigned i = 0; i < e->n; i++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)e->h[i].hpvmd);
    char *s = e->h[i].hpvmd > 0 ? nt_read_file(path) : NULL;
    const char *p = s ? strstr(s, "VmRSS:") : NULL;
    if (p) kib += strtod(p + 6, NULL);
    free(s);
  }
  return kib / 1024;
}

/* ---- The benchmark ------------------------------------------------------------------------------ */

static void bench(void **state) {
  (void)state;
  double t_start = now_ms();
  nt_env *e = cluster_new();
  unsigned n = e->n, killed = n - 1, hung = n - 2, cut = n - 3;
  printf("bench_netns_status: %u hosts in network namespaces, %u idle guests; gossip probe %s ms, lease timeout "
         "%s s; hpvmd RSS %.0f MiB in all; up after %.1f s\n",
         n, n - 1, opt.probe_ms[0] ? opt.probe_ms : "1000 (default)",
         opt.lease_timeout[0] ? opt.lease_timeout : "30 (default)", hpvmd_rss_mib(e), (now_ms() - t_start) / 1e3);
  printf("| hosts | scenario (on hosta) | request | n | median ms | p95 ms | max ms | Unknown |\n");
  printf("|---:|---|---|---:|---:|---:|---:|---:|\n");
  fflush(stdout);

  both(e, "all up", killed, opt.queries);

  char what[80];
  kill(e->h[hung].hpvmd, SIGSTOP);
  snprintf(what, sizeof what, "%s hpvmd hung, right away", e->h[hung].name);
  both(e, what, hung, opt.fault_queries);
  kill(e->h[hung].hpvmd, SIGCONT);
  wait_host(e, hung, "Up");

  nt_link_down(e, cut);
  uint64_t cut_at = nt_ms();
  snprintf(what, sizeof what, "%s link cut, right away", e->h[cut].name);
  both(e, what, cut, opt.fault_queries);
  wait_host(e, cut, "Dead");
  printf("(hosta holds %s Dead %.1f s after its link was cut)\n", e->h[cut].name, (double)(nt_ms() - cut_at) / 1e3);
  snprintf(what, sizeof what, "%s link cut, Dead for hosta", e->h[cut].name);
  both(e, what, cut, opt.fault_queries);
  nt_link_up(e, cut);
  wait_host(e, cut, "Up");

  nt_hpvmd_stop(e, killed, SIGKILL);
  uint64_t killed_at = nt_ms();
  snprintf(what, sizeof what, "%s hpvmd killed, right away", e->h[killed].name);
  both(e, what, killed, opt.queries);
  /* Its liveness record stops advancing at the kill; hosta holds it expired one lease timeout
   * after it last saw it advance (renewed several times per timeout), plus a second of margin. */
  unsigned timeout_s = opt.lease_timeout[0] ? (unsigned)atoi(opt.lease_timeout) : 30;
  uint64_t expired = killed_at + (uint64_t)timeout_s * 1000 + 1000;
  while (nt_ms() < expired) usleep(100000);
  snprintf(what, sizeof what, "%s hpvmd killed, liveness expired", e->h[killed].name);
  both(e, what, killed, opt.queries);

  printf("the whole run took %.0f s\n", (now_ms() - t_start) / 1e3);
  nt_env_free(e);
}

int main(int argc, char **argv) {
  static const struct option lo[] = {{"hosts", 1, 0, 'n'},         {"queries", 1, 0, 'q'},
                                     {"fault-queries", 1, 0, 'f'}, {"probe-ms", 1, 0, 'p'},
                                     {"lease-timeout", 1, 0, 'l'}, {"quick", 0, 0, 'Q'},
                                     {0, 0, 0, 0}};
  const char *usage = "usage: bench_netns_status [--hosts N] [--queries Q] [--fault-queries F] [--probe-ms P] "
                      "[--lease-timeout S] [--quick]\n";
  int c;
  while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    if (c == 'n') opt.hosts = (unsigned)atoi(optarg);
    else if (c == 'q') opt.queries = (unsigned)atoi(optarg);
    else if (c == 'f') opt.fault_queries = (unsigned)atoi(optarg);
    else if (c == 'p') snprintf(opt.probe_ms, sizeof opt.probe_ms, "%u", (unsigned)atoi(optarg));
    else if (c == 'l') snprintf(opt.lease_timeout, sizeof opt.lease_timeout, "%u", (unsigned)atoi(optarg));
    else if (c == 'Q') {
      /* ctest's smoke run: four hosts, a few queries, a 3 s lease timeout. */
      opt.hosts = 4, opt.queries = 3, opt.fault_queries = 2;
      snprintf(opt.lease_timeout, sizeof opt.lease_timeout, "3");
    } else return fputs(usage, stderr), 2;
  }
  if (optind < argc) return fputs(usage, stderr), 2;
  if (opt.hosts < 4 || opt.hosts > NT_MAX_HOSTS) return fprintf(stderr, "--hosts: 4..%d\n", NT_MAX_HOSTS), 2;
  if (opt.queries < 1 || opt.queries > MAX_Q || opt.fault_queries < 1 || opt.fault_queries > MAX_Q)
    return fprintf(stderr, "--queries, --fault-queries: 1..%d\n", MAX_Q), 2;
  nt_require_netns();
  const struct CMUnitTest t[] = {cmocka_unit_test(bench)};
  return cmocka_run_group_tests(t, NULL, NULL);
}
