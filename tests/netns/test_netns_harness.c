/* test_netns_harness.c — the multi-host harness itself (netns_test.h): hosts reach each other
 * over their veth link and nowhere else once it is cut, a cut link heals, a shaped link is
 * never faster than its rate, three hosts share a bridge, one hpvmd per host works on the one
 * shared directory (a guest created on one host is seen by the other, runs on exactly one),
 * and cleanup leaves no namespace and no process behind — also after the test process was
 * killed with SIGKILL, by the next run. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.pb-c.h"
#include "netns_test.h"

#define MIB (1024 * 1024)

static bool ns_exists(const char *ns) {
  char path[200];
  struct stat st;
  snprintf(path, sizeof path, "/run/netns/%s", ns);
  return stat(path, &st) == 0;
}

static bool alive(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  char *s = nt_read_file(path);
  const char *p = s ? strrchr(s, ')') : NULL;
  bool a = p && p[2] != 'Z' && p[2] != 'X';
  free(s);
  return a;
}

static void test_hosts_reach_each_other_over_their_link(void **state) {
  nt_env *e = *state;
  assert_true(nt_transfer(e, 0, 1, 4 * MIB, 20000) >= 0);
  assert_true(nt_transfer(e, 1, 0, 4 * MIB, 20000) >= 0);
}

static void test_a_cut_link_carries_nothing_until_restored(void **state) {
  nt_env *e = *state;
  for (unsigned cut = 0; cut < 2; cut++) {
    nt_link_down(e, cut);
    assert_int_equal(nt_transfer(e, 0, 1, MIB, 5000), -1);
    assert_int_equal(nt_transfer(e, 1, 0, MIB, 5000), -1);
    nt_link_up(e, cut);
    assert_true(nt_transfer(e, 0, 1, MIB, 20000) >= 0);
    assert_true(nt_transfer(e, 1, 0, MIB, 20000) >= 0);
  }
}

/* 2 MiB at 8 Mbit/s take 2.1 s; the token bucket lets at most its burst through faster, so
 * the transfer cannot take under 1.5 s (a lower bound only: a busy host is slower). */
static void test_a_shaped_link_is_never_faster_than_its_rate(void **state) {
  nt_env *e = *state;
  nt_link_shape(e, 0, 8000);
  long ms = nt_transfer(e, 0, 1, 2 * MIB, 60000);
  assert_true(ms >= 1500);
  ms = nt_transfer(e, 1, 0, 2 * MIB, 60000);
  assert_true(ms >= 1500);
  nt_link_shape(e, 0, 0);
  assert_true(nt_transfer(e, 0, 1, 2 * MIB, 20000) >= 0);
}

static void test_three_hosts_share_a_bridge(void **state) {
  (void)state;
  nt_env *e = nt_env_new(3);
  assert_true(e->bridged);
  for (unsigned a = 0; a < 3; a++)
    for (unsigned b = 0; b < 3; b++)
      if (a != b) assert_true(nt_transfer(e, a, b, MIB, 20000) >= 0);
  nt_link_down(e, 1);
  assert_true(nt_transfer(e, 0, 2, MIB, 20000) >= 0);
  assert_int_equal(nt_transfer(e, 0, 1, MIB, 5000), -1);
  assert_int_equal(nt_transfer(e, 2, 1, MIB, 5000), -1);
  nt_link_up(e, 1);
  assert_true(nt_transfer(e, 2, 1, MIB, 20000) >= 0);
  nt_env_free(e);
}

/* Both hpvmds work on the one shared directory: a guest created on hosta is listed by hostb,
 * runs on hosta only, under a lease naming hosta; hpvmstatus on hostb says so. */
static void test_each_host_has_its_hpvmd_on_one_shared_directory(void **state) {
  nt_env *e = *state;
  free(nt_ok(e, 0, "hpvmcreate -P g1 -c 1 -r 64M -K %s -A heartbeat", HPVMK));
  char *s = nt_ok(e, 1, "hpvmstatus -M -P g1");
  assert_non_null(strstr(s, "g1:"));
  free(s);
  free(nt_ok(e, 0, "hpvmstart -P g1"));
  unsigned where = 99;
  assert_int_equal(nt_runners(e, "g1", &where), 1);
  assert_int_equal(where, 0);
  char owner[300];
  assert_int_equal(nt_lease(e, "g1", owner, sizeof owner, NULL), 0);
  assert_string_equal(owner, "hosta");
  s = nt_ok(e, 1, "hpvmstatus -P g1");
  assert_non_null(strstr(s, "On (OS)"));
  free(s);
  /* The harness's kill: the guest's process on hosta is gone, hosta's hpvmd calls it a crash. */
  nt_app_kill(e, 0, "g1");
  assert_int_equal(nt_runners(e, "g1", NULL), 0);
  uint64_t end = nt_ms() + 10000;
  char *st = NULL;
  do {
    free(st);
    st = nt_ok(e, 0, "hpvmstatus -M -P g1");
    usleep(20000);
  } while (!strstr(st, "Crash") && !strstr(st, "CRASH") && nt_ms() < end);
  assert_true(strstr(st, "Crash") || strstr(st, "CRASH"));
  free(st);
}

/* The guest helpers migration tests build on: a guest with a disk in the shared directory
 * runs its self-checking workloads on hostb, settles there, and a graceful stop shows every
 * PASS; it booted once. */
static void test_a_guest_with_a_shared_disk_verifies_on_its_host(void **state) {
  nt_env *e = *state;
  nt_guest_create(e, 1, "g3", 64, 2, "memverify size=16M heartbeat diskverify blocks=64", 8);
  nt_guest_start(e, 1, "g3", "HB 3 ");
  assert_int_equal(nt_guest_settled(e, "g3", 10000), 1);
  assert_int_equal(nt_state(e, 0, "g3"), HPVM__VM_RUN_STATE__VM_RUN_STATE_ELSEWHERE);
  free(nt_guest_verify(e, 1, "g3", "memverify heartbeat diskverify"));
  assert_int_equal(nt_guest_boots(e, "g3"), 1);
  assert_int_equal(nt_runners(e, "g3", NULL), 0);
}

/* Freeing the environment kills its hpvmds and guests and deletes its namespaces. */
static void test_cleanup_leaves_no_namespace_and_no_process(void **state) {
  (void)state;
  nt_env *e = nt_env_new(2);
  nt_hpvmd_start(e, 0);
  nt_hpvmd_start(e, 1);
  free(nt_ok(e, 0, "hpvmcreate -P g2 -c 1 -r 64M -K %s -A heartbeat", HPVMK));
  free(nt_ok(e, 0, "hpvmstart -P g2"));
  pid_t app = nt_app_pid(e, 0, "g2"), d0 = e->h[0].hpvmd, d1 = e->h[1].hpvmd;
  assert_true(app > 0);
  char ns0[64], ns1[64], dir[256];
  snprintf(ns0, sizeof ns0, "%s", e->h[0].ns);
  snprintf(ns1, sizeof ns1, "%s", e->h[1].ns);
  snprintf(dir, sizeof dir, "%s", e->dir);
  nt_env_free(e);
  assert_false(ns_exists(ns0));
  assert_false(ns_exists(ns1));
  assert_false(alive(d0));
  assert_false(alive(d1));
  uint64_t end = nt_ms() + 5000;
  while (alive(app) && nt_ms() < end) usleep(10000);
  assert_false(alive(app));
  struct stat st;
  assert_true(stat(dir, &st) != 0 || getenv("NETNS_TEST_KEEP"));
}

/* A test process killed with SIGKILL cleans nothing; the next one deletes what it left. */
static void test_a_killed_test_leaves_nothing_to_the_next_run(void **state) {
  (void)state;
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    close(p[0]);
    nt_env *e = nt_env_new(2);
    nt_hpvmd_start(e, 0);
    char line[200];
    int n = snprintf(line, sizeof line, "%s %s %d\n", e->h[0].ns, e->h[1].ns, (int)e->h[0].hpvmd);
    if (write(p[1], line, (size_t)n) != n) _exit(1);
    pause();
    _exit(0);
  }
  close(p[1]);
  char line[200] = {0};
  ssize_t n = read(p[0], line, sizeof line - 1);
  close(p[0]);
  assert_true(n > 0);
  char ns0[64], ns1[64];
  int hpvmd;
  assert_int_equal(sscanf(line, "%63s %63s %d", ns0, ns1, &hpvmd), 3);
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  assert_true(ns_exists(ns0));
  assert_true(alive(hpvmd));
  nt_require_netns();
  assert_false(ns_exists(ns0));
  assert_false(ns_exists(ns1));
  uint64_t end = nt_ms() + 5000;
  while (alive(hpvmd) && nt_ms() < end) usleep(10000);
  assert_false(alive(hpvmd));
}

static int setup_bare(void **state) {
  *state = nt_env_new(2);
  return 0;
}

int main(void) {
  nt_require_netns();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_hosts_reach_each_other_over_their_link, setup_bare, nt_teardown),
      cmocka_unit_test_setup_teardown(test_a_cut_link_carries_nothing_until_restored, setup_bare, nt_teardown),
      cmocka_unit_test_setup_teardown(test_a_shaped_link_is_never_faster_than_its_rate, setup_bare, nt_teardown),
      cmocka_unit_test(test_three_hosts_share_a_bridge),
      cmocka_unit_test_setup_teardown(test_each_host_has_its_hpvmd_on_one_shared_directory, nt_setup2,
                                      nt_teardown),
      cmocka_unit_test_setup_teardown(test_a_guest_with_a_shared_disk_verifies_on_its_host, nt_setup2, nt_teardown),
      cmocka_unit_test(test_cleanup_leaves_no_namespace_and_no_process),
      cmocka_unit_test(test_a_killed_test_leaves_nothing_to_the_next_run),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
