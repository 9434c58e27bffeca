/* test_netns_migrate.c — live migration between two hosts that reach each other only over a
 * veth link (network namespaces, netns_test.h): hpvmmigrate on hosta moves a guest running
 * memverify + heartbeat + diskverify to hostb and back, plain and over a link shaped with tc;
 * after each move the guest runs on exactly one host under a lease naming it, goes on there
 * (new heartbeats on the target's console), never boots again, and a graceful stop shows
 * every PASS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.pb-c.h"
#include "netns_test.h"

#define VM "mg"
#define WORKLOADS "memverify heartbeat diskverify"

/* The number in "key":N of a JSON line, or -1. */
static double json_num(const char *json, const char *key) {
  char k[100];
  snprintf(k, sizeof k, "\"%s\":", key);
  const char *p = strstr(json, k);
  return p ? strtod(p + strlen(k), NULL) : -1;
}

/* The last heartbeat number on host i's console, or -1. */
static long last_beat(const nt_env *e, unsigned i) {
  char *s = nt_console(e, i, VM);
  long seq = -1;
  for (const char *p = s; (p = strstr(p, "HB ")); p += 3)
    if (p == s || p[-1] == '\n') seq = strtol(p + 3, NULL, 10);
  free(s);
  return seq;
}

/* Move the guest from host `from` to host `to` with hpvmmigrate --json (extra options in
 * opts) and check where it is afterwards. Returns the JSON summary (free it). */
static char *migrate(nt_env *e, unsigned from, unsigned to, const char *opts) {
  nt_out r = nt_cmd(e, from, "hpvmmigrate -P %s -h %s -o --json %s", VM, e->h[to].name, opts);
  if (r.status != 0) {
    nt_dump_logs(e);
    fail_msg("hpvmmigrate %s -> %s exited %d: %s%s", e->h[from].name, e->h[to].name, r.status, r.o, r.e);
  }
  printf("%s -> %s: %s", e->h[from].name, e->h[to].name, r.o);
  assert_non_null(strstr(r.o, "\"source\":\"") );
  assert_true(json_num(r.o, "downtime_ms") >= 0);
  assert_true(json_num(r.o, "wire_bytes") > 0);
  assert_int_equal(nt_guest_settled(e, VM, 10000), to);
  assert_true(nt_wait_state(e, from, VM, HPVM__VM_RUN_STATE__VM_RUN_STATE_ELSEWHERE, 10000));
  /* It goes on over there: a heartbeat later than the last one the source printed. */
  char want[40];
  snprintf(want, sizeof want, "HB %ld ", last_beat(e, from) + 2);
  if (!nt_console_wait(e, to, VM, want, 60000)) fail_msg("no '%s' on %s after the migration", want, e->h[to].name);
  free(r.e);
  return r.o;
}

static void test_a_guest_migrates_over_the_veth_link_and_back(void **state) {
  nt_env *e = *state;
  nt_guest_create(e, 0, VM, 64, 2, "memverify size=32M heartbeat diskverify blocks=64 passes=0", 8);
  nt_guest_start(e, 0, VM, "HB 3 ");
  char *j = migrate(e, 0, 1, "");
  assert_int_equal((int)json_num(j, "channels"), 2);
  free(j);
  free(migrate(e, 1, 0, "--channels 1"));
  free(nt_guest_verify(e, 0, VM, WORKLOADS));
  assert_int_equal(nt_guest_boots(e, VM), 1);
}

/* Over a 50 Mbit/s link, with the guest rewriting its 16 MiB of verified memory at 4 MiB/s
 * (under the link): it crosses in a few rounds and arrives intact. */
static void test_a_guest_migrates_over_a_shaped_link(void **state) {
  nt_env *e = *state;
  nt_link_shape(e, 0, 50000);
  nt_guest_create(e, 0, VM, 64, 2, "memverify size=16M rate=4 heartbeat diskverify blocks=64 passes=0", 8);
  nt_guest_start(e, 0, VM, "memverify: cpu 0: pass ");
  free(migrate(e, 0, 1, ""));
  free(nt_guest_verify(e, 1, VM, WORKLOADS));
  assert_int_equal(nt_guest_boots(e, VM), 1);
}

int main(void) {
  nt_require_netns();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_a_guest_migrates_over_the_veth_link_and_back, nt_setup2, nt_teardown),
      cmocka_unit_test_setup_teardown(test_a_guest_migrates_over_a_shaped_link, nt_setup2, nt_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
