/* test_netns_converge.c — a guest that dirties memory faster than the link can carry it
 * converges through auto-converge: memverify rewrites its 8 MiB at 16 MiB/s (every word of
 * every page it touches changes, so neither LZ4 nor a delta makes the pages small) while the
 * link between the hosts is shaped with tc to 50 Mbit/s (6 MB/s). Pre-copy alone would
 * never catch up with 50 ms of allowed downtime; the migration must throttle the guest's
 * vCPUs, say so (throttle > 0 in its --json summary and its progress), finish, and leave the
 * guest intact on the target. (The rate is one the throttle can bring under the link: at
 * 99 % a vCPU still gets 1 % of a core, enough for memverify to dirty ~2 MB/s when it is
 * allowed to go faster — then, as with QEMU's auto-converge, only the copy timeout ends it.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.pb-c.h"
#include "netns_test.h"

#define VM "cv"
#define WORKLOADS "memverify heartbeat diskverify"

static double json_num(const char *json, const char *key) {
  char k[100];
  snprintf(k, sizeof k, "\"%s\":", key);
  const char *p = strstr(json, k);
  return p ? strtod(p + strlen(k), NULL) : -1;
}

static void test_a_guest_dirtying_faster_than_the_link_converges_by_throttling(void **state) {
  nt_env *e = *state;
  nt_link_shape(e, 0, 50000);
  nt_guest_create(e, 0, VM, 64, 2, "memverify size=8M rate=16 heartbeat diskverify blocks=64 passes=0", 8);
  nt_guest_start(e, 0, VM, "memverify: cpu 0: pass ");
  nt_out r = nt_cmd(e, 0, "hpvmmigrate -P %s -h hostb -o --json -x migrate_copy_phase_timeout=120", VM);
  printf("%s%s", r.o, r.e);
  if (r.status != 0) {
    nt_dump_logs(e);
    fail_msg("hpvmmigrate exited %d", r.status);
  }
  assert_true(json_num(r.o, "throttle") > 0);
  assert_true(json_num(r.o, "rounds") > 1);
  nt_out_free(&r);
  assert_int_equal(nt_guest_settled(e, VM, 10000), 1);
  /* The target does not keep the guest throttled: memverify goes on at its pace there. */
  assert_true(nt_console_wait(e, 1, VM, "memverify: cpu ", 60000));
  free(nt_guest_verify(e, 1, VM, WORKLOADS));
  assert_int_equal(nt_guest_boots(e, VM), 1);
}

int main(void) {
  nt_require_netns();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_a_guest_dirtying_faster_than_the_link_converges_by_throttling, nt_setup2,
                                      nt_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
