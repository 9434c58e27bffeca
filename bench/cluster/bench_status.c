/* bench_status — cluster-wide hpvmstatus latency (cli/hpvmd/cluster.c): N real hpvmd on
 * loopback sharing one directory, one idle guest on each host but the first; on the first
 * host, Q list requests (hpvmstatus) and Q -P requests for a guest of the last host, timed
 * from the client's side (request sent to answer read, as hpvmstatus does it):
 *   all up        every host answers;
 *   one killed    kill -9 of the last host's hpvmd (its port is closed: refused at once);
 *   one hung      SIGSTOP of the last host's hpvmd (the kernel accepts, nobody answers:
 *                 the query waits for its deadline, the gossip probe timeout); 3 queries
 *                 each, right away, before the membership holds it Dead (then it is not
 *                 asked and the answer is immediate).
 * Gossip probe interval: hpvmd's default 1000 ms (query deadline 500 ms) unless --probe-ms.
 * Nothing gates on a time; ctest runs --quick (N = 3, Q = 5) as a smoke test. It runs the
 * tests/hpvmd harness inside one cmocka test so that its assertions stop it cleanly.
 *
 *   bench_status [--hosts 4,8,16] [--queries Q] [--probe-ms P] [--quick] */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hpvmd_test.h"

#define MAX_HOSTS 32

static struct {
  int hosts[8], nhosts, queries;
  unsigned probe_ms;
} opt = {{4, 8, 16}, 3, 50, 0};

typedef struct lat {
  double ms[1000];
  int n;
} lat;

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void lat_print(const char *what, int hosts, lat *l) {
  qsort(l->ms, (size_t)l->n, sizeof *l->ms, cmp_d);
  printf("| %5d | %-22s | %7.1f | %7.1f | %7.1f |\n", hosts, what, l->ms[l->n / 2], l->ms[(l->n * 9) / 10],
         l->ms[l->n - 1]);
  fflush(stdout);
}

static void timed(ht_env *e, const char *vm, lat *l, int rows_want) {
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__ListRequest li = HPVM__LIST_REQUEST__INIT;
  Hpvm__StatusRequest st = HPVM__STATUS_REQUEST__INIT;
  if (vm) {
    st.name = (char *)vm;
    req.body_case = HPVM__REQUEST__BODY_STATUS;
    req.status = &st;
  } else {
    req.body_case = HPVM__REQUEST__BODY_LIST;
    req.list = &li;
  }
  l->n = 0;
  for (int i = 0; i < opt.queries && l->n < 1000; i++) {
    Hpvm__Response *r = NULL;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(ht_call(e, &req, &r), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (!vm) assert_int_equal((int)r->list->n_vms, rows_want);
    hpvmd_response_free(r);
    l->ms[l->n++] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
  }
}

static void one_size(int n) {
  ht_env *h = calloc((size_t)n, sizeof *h);
  char dir[256], shared[300];
  snprintf(dir, sizeof dir, "/tmp/bench-status-XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(shared, sizeof shared, "%s/shared", dir);
  mkdir(shared, 0755);
  int base = 30000 + (int)(getpid() % 300) * 100;   /* + 2 per host: --listen P, gossip P + 1 */
  for (int i = 0; i < n; i++) {
    ht_env *e = &h[i];
    snprintf(e->dir, sizeof e->dir, "%s", dir);
    snprintf(e->shared, sizeof e->shared, "%s", shared);
    snprintf(e->state, sizeof e->state, "%s/state%d", dir, i + 1);
    snprintf(e->sock, sizeof e->sock, "%s/state%d/hpvmd.sock", dir, i + 1);
    snprintf(e->log, sizeof e->log, "%s/hpvmd%d.log", dir, i + 1);
    snprintf(e->name, sizeof e->name, "h%d", i + 1);
    snprintf(e->listen, sizeof e->listen, "127.0.0.1:%d", base + i * 2);
    if (opt.probe_ms) snprintf(e->gossip_probe_ms, sizeof e->gossip_probe_ms, "%u", opt.probe_ms);
    ht_hpvmd_start(e);
  }
  char msg[600], last[32];
  for (int i = 1; i < n; i++) {
    char vm[32];
    snprintf(vm, sizeof vm, "g%d", i + 1);
    assert_int_equal(ht_create(&h[i], vm, 32, "idle", msg, sizeof msg), 0);
    int rc = ht_start(&h[i], vm, msg, sizeof msg);
    if (rc) fprintf(stderr, "start %s: %s\n", vm, msg);
    assert_int_equal(rc, 0);
  }
  snprintf(last, sizeof last, "g%d", n);
  lat l;
  timed(&h[0], NULL, &l, n - 1);
  lat_print("list, all up", n, &l);
  timed(&h[0], last, &l, 0);
  lat_print("-P, all up", n, &l);
  /* The last host's hpvmd hung: accepted by the kernel, never answered. A few queries
   * only, right away: once the membership holds it Dead (seconds later) it is not asked. */
  int q = opt.queries;
  opt.queries = q < 3 ? q : 3;
  kill(h[n - 1].hpvmd, SIGSTOP);
  timed(&h[0], NULL, &l, n - 1);
  lat_print("list, one hung", n, &l);
  timed(&h[0], last, &l, 0);
  lat_print("-P, one hung", n, &l);
  opt.queries = q;
  kill(h[n - 1].hpvmd, SIGCONT);
  /* Killed: its port refuses at once; later Dead in the membership, not asked at all. */
  ht_hpvmd_stop(&h[n - 1], SIGKILL);
  timed(&h[0], NULL, &l, n - 1);
  lat_print("list, one killed", n, &l);
  timed(&h[0], last, &l, 0);
  lat_print("-P, one killed", n, &l);
  for (int i = 0; i < n; i++) {
    ht_hpvmd_stop(&h[i], SIGTERM);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cat %s/vms/*/app.pid 2>/dev/null | xargs -r kill -9 2>/dev/null", h[i].state);
    if (system(cmd)) { /* none left */ }
  }
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd)) { /* leftovers in /tmp */ }
  free(h);
}

static void bench(void **state) {
  (void)state;
  printf("hpvmstatus latency on h1 (ms, %d queries each; gossip probe %u ms)\n", opt.queries,
         opt.probe_ms ? opt.probe_ms : 1000);
  printf("| hosts | request                | median  | p90     | max     |\n");
  printf("|------:|------------------------|--------:|--------:|--------:|\n");
  for (int i = 0; i < opt.nhosts; i++) one_size(opt.hosts[i]);
}

int main(int argc, char **argv) {
  static const struct option lo[] = {{"hosts", 1, 0, 'n'}, {"queries", 1, 0, 'q'}, {"probe-ms", 1, 0, 'p'},
                                     {"quick", 0, 0, 'Q'}, {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    if (c == 'n') {
      opt.nhosts = 0;
      for (char *s = strtok(optarg, ","); s && opt.nhosts < 8; s = strtok(NULL, ","))
        opt.hosts[opt.nhosts++] = atoi(s);
    } else if (c == 'q') opt.queries = atoi(optarg);
    else if (c == 'p') opt.probe_ms = (unsigned)atoi(optarg);
    else if (c == 'Q') opt.nhosts = 1, opt.hosts[0] = 3, opt.queries = 5;
    else return fprintf(stderr, "usage: bench_status [--hosts 4,8,16] [--queries Q] [--probe-ms P] [--quick]\n"), 2;
  }
  for (int i = 0; i < opt.nhosts; i++)
    if (opt.hosts[i] < 2 || opt.hosts[i] > MAX_HOSTS) return fprintf(stderr, "--hosts: 2..%d each\n", MAX_HOSTS), 2;
  if (opt.queries < 1 || opt.queries > 1000) return fprintf(stderr, "--queries: 1..1000\n"), 2;
  const struct CMUnitTest t[] = {cmocka_unit_test(bench)};
  return cmocka_run_group_tests(t, NULL, NULL);
}
