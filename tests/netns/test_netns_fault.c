/* test_netns_fault.c — live migration between two hosts (network namespaces on a shaped veth
 * link) under a fault in each phase: kill -9 of the source's or the target's hpvmapp or
 * hpvmd, or the link cut (ip link set down in the source's namespace), during the copy phase,
 * during the frozen phase, and just after the handoff (the moment the lease names the target).
 *
 * Every case ends with the guest running on exactly one host under a lease naming that host,
 * and a graceful stop there shows PASS for memverify, heartbeat and diskverify and no FAIL on
 * either host. Where the guest's own process survives, it must be the same guest (it booted
 * once: nothing was restarted behind our back) on the host the design says:
 *
 *   fault \ phase        copy         frozen       after the handoff
 *   source hpvmapp       dies (a)     dies (a)     target
 *   target hpvmapp       source       source       dies (b)
 *   source hpvmd         either (c)   either (c)   target
 *   target hpvmd         either (c)   either (c)   target
 *   link cut             source       source       target
 *
 * (a) the only running copy died before the handoff: the target discards what it received,
 *     the lease never names the target, nothing runs; hpvmstart on the source boots it again.
 * (b) the target owned it: the source never resumes and never takes the lease back;
 *     hpvmstart on the target boots it again.
 * (c) a killed hpvmd is restarted a second later (as systemd would) and re-attaches to its
 *     hpvmapps; the migration may complete or fail, but the guest survives on one host.
 *
 * The copy is slowed by a tc rate limit and the frozen phase lengthened by a large
 * --downtime (the switch-over then happens with many dirty pages left to send), so each
 * phase lasts long enough to be hit; the moment is read from hpvmmigrate's progress. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.pb-c.h"
#include "netns_test.h"

#define SRC 0
#define DST 1
#define VM "fg"
#define WORKLOADS "memverify heartbeat diskverify"
#define LINK_KBIT 100000               /* 100 Mbit/s: 12.5 MB/s */

typedef enum fault {
  FAULT_SRC_APP = 1,
  FAULT_DST_APP,
  FAULT_SRC_HPVMD,
  FAULT_DST_HPVMD,
  FAULT_LINK,
} fault;

typedef enum moment {
  AT_COPY = 1,
  AT_FROZEN,
  AT_HANDOFF,
} moment;

typedef enum outcome {
  ENDS_ON_SOURCE = 1,
  ENDS_ON_TARGET,
  ENDS_ON_EITHER,
  DIES_ON_SOURCE,                      /* (a) */
  DIES_ON_TARGET,                      /* (b) */
} outcome;

typedef struct fault_case {
  fault what;
  moment when;
  outcome expect;
  nt_env *e;
} fault_case;

static const char *moment_name(moment m) {
  return m == AT_COPY ? "copy" : m == AT_FROZEN ? "frozen" : "handoff";
}

/* ---- Reaching the moment ---------------------------------------------------------------------- */

/* The lease names host `name`. */
static bool lease_names(nt_env *e, const char *name) {
  char owner[300];
  return nt_lease(e, VM, owner, sizeof owner, NULL) == 0 && !strcmp(owner, name);
}

/* Wait until the migration is in the phase (hpvmmigrate -v prints a progress line naming it)
 * or, for the handoff, until the lease names the target (polled every millisecond: the moment
 * right after the source wrote it). False when the migration ended first. */
static bool reach(nt_env *e, moment when, const char *progress, pid_t mig) {
  uint64_t end = nt_ms() + 120000;
  const char *word = when == AT_COPY ? "hpvmmigrate: copy " : "hpvmmigrate: frozen ";
  while (nt_ms() < end) {
    if (when == AT_HANDOFF) {
      if (lease_names(e, e->h[DST].name)) return true;
    } else {
      char *s = nt_read_file(progress);
      bool in = s && strstr(s, word);
      free(s);
      if (in) return true;
    }
    if (waitpid(mig, NULL, WNOHANG) != 0) return false;
    usleep(when == AT_HANDOFF ? 1000 : 5000);
  }
  return false;
}

/* ---- Injecting the fault ---------------------------------------------------------------------- */

static void restart_hpvmd(nt_env *e, unsigned i) {
  nt_hpvmd_stop(e, i, SIGKILL);
  sleep(1);
  nt_hpvmd_start(e, i);
}

static void inject(nt_env *e, fault what) {
  switch (what) {
  case FAULT_SRC_APP: nt_app_kill(e, SRC, VM); break;
  case FAULT_DST_APP: nt_app_kill(e, DST, VM); break;
  case FAULT_SRC_HPVMD: restart_hpvmd(e, SRC); break;
  case FAULT_DST_HPVMD: restart_hpvmd(e, DST); break;
  case FAULT_LINK: nt_link_down(e, SRC); break;
  }
}

/* ---- Judging the end -------------------------------------------------------------------------- */

/* Nothing runs the guest, and nothing starts running it for two seconds. */
static void assert_runs_nowhere(nt_env *e) {
  uint64_t end = nt_ms() + 15000;
  while (nt_runners(e, VM, NULL) && nt_ms() < end) usleep(20000);
  for (int k = 0; k < 40; k++) {
    if (nt_runners(e, VM, NULL)) {
      nt_dump_logs(e);
      fail_msg("%s runs again after its process died", VM);
    }
    usleep(50000);
  }
}

static void judge(fault_case *c) {
  nt_env *e = c->e;
  unsigned where;
  switch (c->expect) {
  case ENDS_ON_SOURCE:
  case ENDS_ON_TARGET:
  case ENDS_ON_EITHER:
    where = nt_guest_settled(e, VM, 30000);
    if (c->expect == ENDS_ON_SOURCE) assert_int_equal(where, SRC);
    if (c->expect == ENDS_ON_TARGET) assert_int_equal(where, DST);
    free(nt_guest_verify(e, where, VM, WORKLOADS));
    assert_int_equal(nt_guest_boots(e, VM), 1);
    break;
  case DIES_ON_SOURCE:
  case DIES_ON_TARGET:
    assert_runs_nowhere(e);
    where = c->expect == DIES_ON_SOURCE ? SRC : DST;
    /* The lease never moves to the target when the source died first, and the source never
     * takes it back when the target died after the handoff. */
    assert_false(lease_names(e, e->h[c->expect == DIES_ON_SOURCE ? DST : SRC].name));
    nt_guest_start(e, where, VM, "HB 3 ");
    assert_int_equal(nt_guest_settled(e, VM, 30000), where);
    free(nt_guest_verify(e, where, VM, WORKLOADS));
    assert_int_equal(nt_guest_boots(e, VM), 2);
    break;
  }
}

/* ---- The cases -------------------------------------------------------------------------------- */

static void run_case(void **state) {
  fault_case *c = *state;
  nt_env *e = c->e;
  /* 16 MiB that memverify rewrites at 8 MiB/s: round 0 takes over a second on the shaped
   * link, and with --downtime 4000 the switch-over comes after it with megabytes left for
   * the frozen phase (about a second of it). Phase timeouts bound a cut link's stall. */
  nt_link_shape(e, SRC, LINK_KBIT);
  nt_guest_create(e, SRC, VM, 64, 2, "memverify size=16M rate=8 heartbeat diskverify blocks=64 passes=0", 8);
  nt_guest_start(e, SRC, VM, "memverify: cpu 0: pass ");
  char progress[400];
  snprintf(progress, sizeof progress, "%s/migrate.out", e->dir);
  pid_t mig = nt_spawn(e, SRC, progress, "hpvmmigrate -P %s -h %s -o -v --downtime 4000 --compress none -x migrate_copy_phase_timeout=15 -x migrate_frozen_phase_timeout=10", VM,
                       e->h[DST].name);
  if (!reach(e, c->when, progress, mig)) {
    nt_wait_child(mig, 1000);
    char *s = nt_read_file(progress);
    nt_dump_logs(e);
    fail_msg("the migration ended before its %s phase:\n%s", moment_name(c->when), s ? s : "");
  }
  inject(e, c->what);
  int st = nt_wait_child(mig, 120000);
  if (c->what == FAULT_LINK) nt_link_up(e, SRC);
  char *out = nt_read_file(progress);
  printf("hpvmmigrate exited %d:\n%s", st, out ? out : "");
  /* A migration that left the guest on the source says it failed. */
  if (c->expect == ENDS_ON_SOURCE && st == 0) fail_msg("hpvmmigrate reported success, yet the guest stayed");
  assert_true(st != -1);               /* it ended within two minutes */
  /* A cut link ends the phase at its timeout and says so (not the channel's 30 s stall, not
   * a dirty rate). */
  if (c->what == FAULT_LINK && c->when != AT_HANDOFF)
    assert_non_null(strstr(out ? out : "", c->when == AT_COPY
                                               ? "copy phase timed out after 15 s: no data acknowledged by host"
                                               : "frozen phase timed out after 10 s: the target did not acknowledge"));
  free(out);
  judge(c);
}

static int case_setup(void **state) {
  fault_case *c = *state;
  c->e = nt_env_new(2);
  nt_hpvmd_start(c->e, SRC);
  nt_hpvmd_start(c->e, DST);
  return 0;
}

static int case_teardown(void **state) {
  fault_case *c = *state;
  nt_env_free(c->e);
  c->e = NULL;
  return 0;
}

#define CASE(name, what, when, expect)                                                                   \
  static fault_case name = {what, when, expect, NULL};                                                   \
  static void test_##name(void **state) { run_case(state); }

CASE(source_app_killed_in_copy, FAULT_SRC_APP, AT_COPY, DIES_ON_SOURCE)
CASE(source_app_killed_frozen, FAULT_SRC_APP, AT_FROZEN, DIES_ON_SOURCE)
CASE(source_app_killed_after_handoff, FAULT_SRC_APP, AT_HANDOFF, ENDS_ON_TARGET)
CASE(target_app_killed_in_copy, FAULT_DST_APP, AT_COPY, ENDS_ON_SOURCE)
CASE(target_app_killed_frozen, FAULT_DST_APP, AT_FROZEN, ENDS_ON_SOURCE)
CASE(target_app_killed_after_handoff, FAULT_DST_APP, AT_HANDOFF, DIES_ON_TARGET)
CASE(source_hpvmd_killed_in_copy, FAULT_SRC_HPVMD, AT_COPY, ENDS_ON_EITHER)
CASE(source_hpvmd_killed_frozen, FAULT_SRC_HPVMD, AT_FROZEN, ENDS_ON_EITHER)
CASE(source_hpvmd_killed_after_handoff, FAULT_SRC_HPVMD, AT_HANDOFF, ENDS_ON_TARGET)
CASE(target_hpvmd_killed_in_copy, FAULT_DST_HPVMD, AT_COPY, ENDS_ON_EITHER)
CASE(target_hpvmd_killed_frozen, FAULT_DST_HPVMD, AT_FROZEN, ENDS_ON_EITHER)
CASE(target_hpvmd_killed_after_handoff, FAULT_DST_HPVMD, AT_HANDOFF, ENDS_ON_TARGET)
CASE(link_cut_in_copy, FAULT_LINK, AT_COPY, ENDS_ON_SOURCE)
CASE(link_cut_frozen, FAULT_LINK, AT_FROZEN, ENDS_ON_SOURCE)
CASE(link_cut_after_handoff, FAULT_LINK, AT_HANDOFF, ENDS_ON_TARGET)

#define T(name) cmocka_unit_test_prestate_setup_teardown(test_##name, case_setup, case_teardown, &name)

int main(void) {
  nt_require_netns();
  const struct CMUnitTest tests[] = {
      T(source_app_killed_in_copy),        T(source_app_killed_frozen),     T(source_app_killed_after_handoff),
      T(target_app_killed_in_copy),        T(target_app_killed_frozen),     T(target_app_killed_after_handoff),
      T(source_hpvmd_killed_in_copy),      T(source_hpvmd_killed_frozen),   T(source_hpvmd_killed_after_handoff),
      T(target_hpvmd_killed_in_copy),      T(target_hpvmd_killed_frozen),   T(target_hpvmd_killed_after_handoff),
      T(link_cut_in_copy),                 T(link_cut_frozen),              T(link_cut_after_handoff),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
