/* test_netns_cluster.c — the cluster layer across network namespaces (hosts joined by a
 * bridge), hpvmd with a 3 s lease and liveness timeout (renewal every 0.5 s, fence at 2 s) and
 * a 100 ms gossip probe:
 *
 *   - three hosts join: hpvmhost status on every host lists all three Up; a fourth host with
 *     another cluster secret (its own shared directory holding a copy of the host records, so
 *     it knows the same gossip addresses) is never admitted and admits nobody;
 *   - the partition: hosta owns a guest with -x ha=on running memverify + heartbeat +
 *     diskverify on a disk in the shared directory; hosta's link is cut and its hpvmd killed
 *     (kill -9: the host can no longer renew its leases nor its liveness record, as if storage
 *     were cut too, since the namespaces share one file system). hosta's hpvmapp fences (powers
 *     off) the guest at the deadline hpvmd last gave it, before any other host restarts it;
 *     /proc is polled every 50 ms during the whole episode and never shows two hpvmapps for the
 *     guest; HA restarts it on hostb or hostc exactly once (one command-log line, one new
 *     appearance, two boots in all), the fenced copy's exit record says self-fencing, and
 *     every workload (diskverify included) passes at a graceful stop there.
 *
 *   - a hung hpvmd: the same guest and checks, but hosta's hpvmd frozen with SIGSTOP and its
 *     link left up. It neither renews nor reads its hpvmapps' sockets; the hpvmapp must still
 *     end at the fence deadline. It used to linger ~2.7 s more (a send to the unread control
 *     socket waited out SEND_TIMEOUT_S = 3 s) and was seen next to the HA-restarted copy;
 *     cli/hpvmapp/control.c now cuts the supervisor off when it fences and never lets a send
 *     wait past the fence deadline. The exit record still says self-fencing.
 *
 * Waits are generous upper bounds; the only order checked is fence before restart. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netns_test.h"

#define VM "hag"
#define WORKLOADS "memverify heartbeat diskverify"
#define WAIT_MS 20000
#define POLL_MS 50

static nt_env *cluster_env(unsigned n) {
  nt_env *e = nt_env_new(n);
  snprintf(e->lease_timeout, sizeof e->lease_timeout, "3");
  snprintf(e->gossip_probe_ms, sizeof e->gossip_probe_ms, "100");
  return e;
}

static int setup3(void **state) {
  nt_env *e = cluster_env(3);
  *state = e;
  for (unsigned i = 0; i < 3; i++) nt_hpvmd_start(e, i);
  return 0;
}

/* Four namespaces, hpvmd on the first three only. */
static int setup4(void **state) {
  nt_env *e = cluster_env(4);
  *state = e;
  for (unsigned i = 0; i < 3; i++) nt_hpvmd_start(e, i);
  return 0;
}

static void all_see_all_up(nt_env *e, unsigned n) {
  for (unsigned i = 0; i < n; i++)
    for (unsigned j = 0; j < n; j++) {
      char st[32] = "";
      for (uint64_t end = nt_ms() + WAIT_MS; nt_ms() < end; usleep(100000)) {
        nt_host_state(e, i, e->h[j].name, st, sizeof st);
        if (!strcmp(st, "Up")) break;
      }
      if (strcmp(st, "Up")) {
        fprintf(stderr, "%s sees host %s as '%s'\n", e->h[i].name, e->h[j].name, st);
        nt_dump_logs(e);
      }
      assert_string_equal(st, "Up");
    }
}

static unsigned count(const char *s, const char *needle) {
  unsigned n = 0;
  for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

/* ---- 1 and 3: membership ------------------------------------------------------------------------ */

static void test_three_hosts_join_and_a_stranger_is_not_admitted(void **state) {
  nt_env *e = *state;
  all_see_all_up(e, 3);

  /* hostd: its own shared directory with a copy of the host records (it finds the same gossip
   * addresses there) and, created by its hpvmd, another cluster secret. */
  char shared[sizeof e->shared], other[sizeof e->shared], cmd[1000];
  snprintf(shared, sizeof shared, "%s", e->shared);
  snprintf(other, sizeof other, "%.250s/other", e->dir);
  snprintf(cmd, sizeof cmd, "mkdir -p %s && cp -a %s/hosts %s/", other, shared, other);
  assert_int_equal(system(cmd), 0);
  snprintf(e->shared, sizeof e->shared, "%s", other);
  nt_hpvmd_start(e, 3);
  snprintf(e->shared, sizeof e->shared, "%s", shared);
  snprintf(cmd, sizeof cmd, "cmp -s %.300s/cluster/secret %.300s/cluster/secret", shared, other);
  assert_int_not_equal(system(cmd), 0);   /* another secret (or none at all: then it fails too) */
  snprintf(cmd, sizeof cmd, "test -s %.300s/cluster/secret", other);
  assert_int_equal(system(cmd), 0);

  /* Time for several join attempts (it retries while alone) and push/pulls. */
  usleep(3000000);
  const char *stranger = e->h[3].name;
  for (unsigned i = 0; i < 3; i++) {
    char st[32];
    nt_host_state(e, i, stranger, st, sizeof st);
    if (st[0]) fprintf(stderr, "%s lists the stranger %s as '%s'\n", e->h[i].name, stranger, st);
    assert_string_equal(st, "");
    char *log = nt_read_file(e->h[i].log);
    char host_word[40];
    snprintf(host_word, sizeof host_word, "host %s", stranger);
    assert_null(strstr(log ? log : "", host_word));
    free(log);
  }
  all_see_all_up(e, 3);
  char *log = nt_read_file(e->h[3].log);
  if (!log || !strstr(log, "joining the other hosts failed")) nt_dump_logs(e);
  assert_non_null(log);
  assert_non_null(strstr(log, "joining the other hosts failed"));
  free(log);
}

/* ---- 2: the partition --------------------------------------------------------------------------- */

typedef struct episode {
  uint64_t start;
  uint64_t fenced;          /* hosta's hpvmapp gone (ms since start; 0: not yet) */
  uint64_t restarted;       /* another host's hpvmapp seen (ms since start; 0: not yet) */
  unsigned restart_host;
  unsigned most_at_once;    /* the most hpvmapps for the guest seen in one poll */
  unsigned appearances;     /* times an hpvmapp appeared on a host other than hosta */
} episode;

/* One poll of /proc: who runs the guest now. */
static void observe(nt_env *e, episode *ep, bool *seen_elsewhere) {
  unsigned where = 0, n = nt_runners(e, VM, &where);
  if (n > ep->most_at_once) ep->most_at_once = n;
  bool on_a = nt_app_pid(e, 0, VM) != 0;
  uint64_t t = nt_ms() - ep->start;
  if (!on_a && !ep->fenced) ep->fenced = t ? t : 1;
  bool elsewhere = n > (on_a ? 1u : 0u);
  if (elsewhere && !*seen_elsewhere) {
    ep->appearances++;
    if (!ep->restarted) ep->restarted = t ? t : 1, ep->restart_host = where;
  }
  *seen_elsewhere = elsewhere;
}

/* hosta (host 0) stops renewing: its link cut and its hpvmd killed (partition), or its hpvmd
 * frozen with SIGSTOP and the link left up (a hung hpvmd). Its hpvmapp must fence the guest
 * before HA restarts it elsewhere, and /proc never shows two copies. Returns the host it was
 * restarted on. */
typedef enum stop_how { STOP_PARTITION, STOP_FREEZE } stop_how;

static unsigned fence_then_restart(nt_env *e, stop_how how) {
  all_see_all_up(e, 3);
  free(nt_ok(e, 0, "hpvmdevmgmt -S 16M %.300s/%s-disk.img", e->shared, VM));
  free(nt_ok(e, 0, "hpvmcreate -P %s -c 1 -r 32M -K %s -A \"memverify size=8M heartbeat diskverify blocks=32 "
                   "passes=0\" -a disk:avio_stor::file:%.300s/%s-disk.img -x ha=on",
             VM, HPVMK, e->shared, VM));
  nt_guest_start(e, 0, VM, "HB ");
  pid_t app = nt_app_pid(e, 0, VM);
  assert_true(app > 0);
  assert_int_equal(nt_runners(e, VM, NULL), 1);

  /* No lease or liveness renewal from now on: the guest's hpvmapp has only the fence deadline
   * hpvmd last gave it. */
  episode ep = {.start = nt_ms()};
  if (how == STOP_PARTITION) {
    nt_link_down(e, 0);
    nt_hpvmd_stop(e, 0, SIGKILL);
  } else {
    assert_int_equal(kill(e->h[0].hpvmd, SIGSTOP), 0);   /* stays our child: teardown's SIGKILL ends it */
  }

  bool seen_elsewhere = false;
  uint64_t end = nt_ms() + 3 * WAIT_MS;
  while (nt_ms() < end && !(ep.fenced && ep.restarted)) {
    observe(e, &ep, &seen_elsewhere);
    usleep(POLL_MS * 1000);
  }
  /* Keep watching a while after the restart: no second copy, no second restart. */
  for (uint64_t until = nt_ms() + 6000; nt_ms() < until; usleep(POLL_MS * 1000)) observe(e, &ep, &seen_elsewhere);
  fprintf(stderr, "%s of %s: guest fenced after %llu ms, HA restart on %s seen after %llu ms; at most %u "
          "hpvmapp(s) at once; %u appearance(s) elsewhere\n", how == STOP_PARTITION ? "partition" : "frozen hpvmd",
          e->h[0].name, (unsigned long long)ep.fenced, ep.restarted ? e->h[ep.restart_host].name : "(none)",
          (unsigned long long)ep.restarted, ep.most_at_once, ep.appearances);
  if (!ep.fenced || !ep.restarted) nt_dump_logs(e);
  assert_true(ep.fenced > 0);
  assert_true(ep.restarted > 0);
  assert_true(ep.fenced < ep.restarted);
  assert_int_equal(ep.most_at_once, 1);
  assert_int_equal(ep.appearances, 1);
  unsigned t = ep.restart_host;
  assert_true(t == 1 || t == 2);

  /* The command log has the restart once, on that host, and the fenced guest's own record
   * says why it powered off. */
  char *log = nt_command_log(e);
  char want[200];
  snprintf(want, sizeof want, "HA restart of VM %s on host %s (host %s dead since", VM, e->h[t].name, e->h[0].name);
  if (!strstr(log, want)) fprintf(stderr, "command log:\n%s", log);
  assert_non_null(strstr(log, want));
  snprintf(want, sizeof want, "HA restart of VM %s", VM);
  assert_int_equal(count(log, want), 1);
  free(log);
  char exitrec[700];
  snprintf(exitrec, sizeof exitrec, "%.300s/vms/%s/exit", e->h[0].state, VM);
  char *fence_note = nt_read_file(exitrec);
  if (!fence_note || !strstr(fence_note, "self-fencing"))
    fprintf(stderr, "exit record on hosta: %s\n", fence_note ? fence_note : "(none)");
  assert_non_null(fence_note);
  assert_non_null(strstr(fence_note, "self-fencing"));
  free(fence_note);
  return t;
}

static void test_partitioned_host_fences_before_ha_restart(void **state) {
  nt_env *e = *state;
  unsigned t = fence_then_restart(e, STOP_PARTITION);
  /* One boot there; the guest's disk came through: every workload passes at a graceful stop. */
  assert_true(nt_console_wait(e, t, VM, "HB ", WAIT_MS));
  assert_int_equal(nt_guest_boots(e, VM), 2);   /* once on hosta, once after the HA restart */
  free(nt_guest_verify(e, t, VM, WORKLOADS));
}

/* A hung hpvmd (SIGSTOP): it neither renews nor reads its hpvmapps' sockets. The fenced
 * hpvmapp must not wait on it (a send to the unread socket used to hold the process ~3 s,
 * next to the HA-restarted copy). */
static void test_frozen_hpvmd_host_fences_before_ha_restart(void **state) {
  nt_env *e = *state;
  unsigned t = fence_then_restart(e, STOP_FREEZE);
  assert_true(nt_console_wait(e, t, VM, "HB ", WAIT_MS));
  assert_int_equal(nt_guest_boots(e, VM), 2);
  free(nt_guest_verify(e, t, VM, WORKLOADS));
}

int main(void) {
  nt_require_netns();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_three_hosts_join_and_a_stranger_is_not_admitted, setup4, nt_teardown),
    cmocka_unit_test_setup_teardown(test_partitioned_host_fences_before_ha_restart, setup3, nt_teardown),
    cmocka_unit_test_setup_teardown(test_frozen_hpvmd_host_fences_before_ha_restart, setup3, nt_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
