/* test_sched.c — CPU entitlement, caps and throttling (hypervisor/sched.c): a cap holds, a
 * change applies to running guests within a second, a throttle of 50 % halves a busy guest's
 * instruction rate, a cap applies even without a host scheduler, admission refuses what the
 * host cannot guarantee (with the figures) in one process and across processes, power-off
 * releases the entitlement, a held vCPU does not delay a pause, a best-effort (0 %) vCPU is
 * admitted on a full host and runs on spare cycles only. The 10-second entitlement
 * split is test_sched_shares.c (label slow). */
#include <sys/prctl.h>

#include "sched_test.h"

static vm_sched *open_private(unsigned ncores) {
  vm_sched *s;
  char msg[512];
  vm_sched_opts o = {.ncores = ncores};
  if (vm_sched_open(NULL, &o, &s, msg, sizeof msg)) fail_msg("vm_sched_open: %s", msg);
  return s;
}

static void test_cap_holds_a_busy_guest_to_its_cap(void **st) {
  (void)st;
  vm_sched *s = open_private(0);
  vm *v = sched_busy_guest(s, 1, "capped", 10, 30, NULL);
  usleep(200000);
  double r = sched_cpu_rate(v, 2.0);
  print_message("cap 30%%: used %.1f%% of a core\n", r * 100);
  assert_true(r > 0.05 && r < 0.32);           /* below only when the host is busy elsewhere */
  sched_stop(v);
  vm_sched_close(s);
}

static void test_cap_change_applies_within_a_second(void **st) {
  (void)st;
  vm_sched *s = open_private(0);
  vm *v = sched_busy_guest(s, 1, "capped", 10, 20, NULL);
  usleep(200000);
  double before = sched_cpu_rate(v, 1.0);
  char msg[256];
  /* The raise shows in the window from 0.1 to 0.4 s after it; the cut likewise. (Upper bounds
   * are the caps; a raise must at least double the rate, which leaves room for a host whose
   * other load takes much of the core.) */
  assert_int_equal(vm_sched_set(v, 10, 60, msg, sizeof msg), 0);
  usleep(100000);
  double raised = sched_cpu_rate(v, 0.3);
  double later = sched_cpu_rate(v, 0.6);
  assert_int_equal(vm_sched_set(v, 10, 20, msg, sizeof msg), 0);
  usleep(100000);
  double cut = sched_cpu_rate(v, 0.3);
  print_message("cap 20%% -> 60%% -> 20%%: %.1f%% -> %.1f%% (0.1-0.4 s after), %.1f%% (0.4-1 s) -> %.1f%% (0.1-0.4 s after)\n",
                before * 100, raised * 100, later * 100, cut * 100);
  assert_true(before > 0.02 && before < 0.22);
  assert_true(raised > 2 * before && raised < 0.64);
  assert_true(later > 2 * before && later < 0.63);
  assert_true(cut < 0.23 && cut < raised / 2);
  vm_sched_usage u;
  assert_int_equal(vm_sched_get_usage(v, 0, &u), 0);
  assert_int_equal(u.cap, 20);
  assert_int_equal(u.entitlement, 10);
  sched_stop(v);
  vm_sched_close(s);
}

/* Without a host scheduler (nothing to admit to) a cap still applies, like a throttle. */
static void test_cap_applies_without_a_host_scheduler(void **st) {
  (void)st;
  vm *v = sched_busy_guest(NULL, 2, NULL, 0, 0, NULL);
  char msg[256];
  assert_int_equal(vm_sched_set(v, 10, 40, msg, sizeof msg), 0);
  usleep(200000);
  double r = sched_cpu_rate(v, 1.0);
  print_message("2 vCPUs capped at 40%% each, no host scheduler: %.1f%% of a core together\n", r * 100);
  assert_true(r > 0.05 && r < 2 * 0.42);
  vm_sched_usage u;
  assert_int_equal(vm_sched_get_usage(v, 1, &u), 0);
  assert_int_equal(u.cap, 40);
  assert_int_equal(u.share, 400);
  assert_int_equal(vm_sched_set(v, 50, 40, msg, sizeof msg), HPVM_EINVAL);   /* cap below entitlement */
  sched_stop(v);
}

/* Two busy guests pinned to one core, 50/50, then 80/20: the new split shows within a second
 * (measured as the ratio of their CPU times, which holds whatever else loads the host). */
static void test_entitlement_change_applies_within_a_second(void **st) {
  (void)st;
  vm_sched *s = open_private(0);
  const char *cpu = sched_one_cpu();
  vm *v[2] = {sched_busy_guest(s, 1, "a", 50, 0, cpu), sched_busy_guest(s, 1, "b", 50, 0, cpu)};
  usleep(200000);
  double r[2];
  sched_cpu_rates(v, 2, 1.0, r);
  double even = r[0] / (r[0] + r[1]);
  char msg[256];
  assert_int_equal(vm_sched_set(v[1], 20, 0, msg, sizeof msg), 0);
  assert_int_equal(vm_sched_set(v[0], 80, 0, msg, sizeof msg), 0);
  usleep(100000);
  sched_cpu_rates(v, 2, 0.9, r);
  double split = r[0] / (r[0] + r[1]);
  print_message("50/50: a has %.1f%%; 80/20 from the next second: a has %.1f%% (a %.1f%%, b %.1f%% of the core)\n",
                even * 100, split * 100, r[0] * 100, r[1] * 100);
  assert_true(even > 0.45 && even < 0.55);
  assert_true(split > 0.76 && split < 0.84);
  sched_stop(v[0]);
  sched_stop(v[1]);
  vm_sched_close(s);
}

/* Instruction rates in short alternating windows, unthrottled and throttled, so that the
 * host's other load (which changes by the second) weighs on both sides alike. */
static void check_throttle_halves(vm *v) {
  usleep(300000);
  double fast = 0, slow = 0, lo = 1e18, hi = 0;
  for (int k = 0; k < 8; k++) {
    assert_int_equal(vm_set_throttle(v, 0), 0);
    usleep(30000);
    double f = sched_insn_rate(v, 0.22);
    assert_int_equal(vm_set_throttle(v, 50), 0);
    assert_int_equal(vm_throttle(v), 50);
    usleep(30000);
    double t = sched_insn_rate(v, 0.22);
    fast += f, slow += t;
    if (f < lo) lo = f;
    if (f > hi) hi = f;
  }
  print_message("unthrottled %.0f MIPS (%.0f..%.0f), throttle 50%%: %.0f MIPS: ratio %.3f\n", fast / 8e6, lo / 1e6,
                hi / 1e6, slow / 8e6, slow / fast);
  assert_true(slow / fast > 0.40 && slow / fast < 0.60);
}

static void test_throttle_50_halves_a_busy_guests_instruction_rate(void **st) {
  (void)st;
  vm *v = sched_busy_guest(NULL, 1, NULL, 0, 0, NULL);     /* no host scheduler: throttle alone */
  check_throttle_halves(v);
  sched_stop(v);
}

static void test_throttle_50_halves_an_admitted_guests_instruction_rate(void **st) {
  (void)st;
  vm_sched *s = open_private(0);
  vm *v = sched_busy_guest(s, 1, "t", 10, 0, NULL);
  check_throttle_halves(v);
  sched_stop(v);
  vm_sched_close(s);
}

static void test_throttle_out_of_range_is_refused(void **st) {
  (void)st;
  vm *v = vm_with_guest(SCHED_MEM, 1, "spin", "", -1);
  assert_int_equal(vm_set_throttle(v, 100), HPVM_ERANGE);
  assert_int_equal(vm_throttle(v), 0);
  vm_destroy(v);
}

static void test_admission_refused_with_the_figures(void **st) {
  (void)st;
  vm_sched *s = open_private(2);
  char msg[512];
  vm *a = vm_with_guest(SCHED_MEM, 2, "spin", "", -1);
  vm_sched_params pa = {.name = "a", .entitlement = 80};
  assert_int_equal(vm_sched_admit(a, s, &pa, msg, sizeof msg), 0);
  vm *b = vm_with_guest(SCHED_MEM, 1, "spin", "", -1);
  vm_sched_params pb = {.name = "b", .entitlement = 50};
  assert_int_equal(vm_sched_admit(b, s, &pb, msg, sizeof msg), HPVM_EBUSY);
  print_message("%s\n", msg);
  assert_non_null(strstr(msg, "1 vCPU x 50% = 50%"));
  assert_non_null(strstr(msg, "(200%)"));
  assert_non_null(strstr(msg, "2 vCPUs already hold 160%"));
  assert_non_null(strstr(msg, "40% is free"));
  pb.entitlement = 40;                                   /* exactly what is left */
  assert_int_equal(vm_sched_admit(b, s, &pb, msg, sizeof msg), 0);
  assert_int_equal(vm_sched_admit(b, s, &pb, msg, sizeof msg), HPVM_EBUSY);   /* twice */
  /* A raise of a running guest is checked the same way; a cut always fits. */
  assert_int_equal(vm_sched_set(a, 81, 0, msg, sizeof msg), HPVM_EBUSY);
  assert_non_null(strstr(msg, "2 vCPUs x 81% = 162%"));
  assert_int_equal(vm_sched_set(a, 30, 0, msg, sizeof msg), 0);
  assert_int_equal(vm_sched_set(b, 100, 0, msg, sizeof msg), 0);
  vm_sched_entry e[8];
  assert_int_equal(vm_sched_list(s, e, 8), 3);
  vm_destroy(a);                                         /* destroying releases */
  assert_int_equal(vm_sched_list(s, e, 8), 1);
  assert_string_equal(e[0].name, "b");
  assert_int_equal(e[0].usage.entitlement, 100);
  vm_destroy(b);
  vm_sched_close(s);
}

static void test_admission_checks_pinned_cores_alone(void **st) {
  (void)st;
  vm_sched *s = open_private(2);
  char msg[512], cpu[16];
  snprintf(cpu, sizeof cpu, "%s", sched_one_cpu());
  vm *a = vm_with_guest(SCHED_MEM, 1, "spin", "", -1);
  vm *b = vm_with_guest(SCHED_MEM, 1, "spin", "", -1);
  vm *c = vm_with_guest(SCHED_MEM, 1, "spin", "", -1);
  vm_sched_params p = {.entitlement = 70, .cpus = cpu};
  assert_int_equal(vm_sched_admit(a, s, &p, msg, sizeof msg), 0);
  p.entitlement = 40;                /* 110% of one core, though the host has 200% */
  assert_int_equal(vm_sched_admit(b, s, &p, msg, sizeof msg), HPVM_EBUSY);
  print_message("%s\n", msg);
  char want[64];
  snprintf(want, sizeof want, "of CPUs %s (100%%)", cpu);
  assert_non_null(strstr(msg, want));
  p.cpus = NULL;                     /* unpinned it fits */
  assert_int_equal(vm_sched_admit(b, s, &p, msg, sizeof msg), 0);
  p.entitlement = 91;                /* 70 + 40 + 91 > 200 */
  assert_int_equal(vm_sched_admit(c, s, &p, msg, sizeof msg), HPVM_EBUSY);
  p.cpus = "0-300";
  assert_int_equal(vm_sched_admit(c, s, &p, msg, sizeof msg), HPVM_EINVAL);
  p.cpus = "1,x";
  assert_int_equal(vm_sched_admit(c, s, &p, msg, sizeof msg), HPVM_EINVAL);
  p.cpus = NULL;
  p.entitlement = 101;
  assert_int_equal(vm_sched_admit(c, s, &p, msg, sizeof msg), HPVM_EINVAL);
  p.entitlement = 50, p.cap = 40;
  assert_int_equal(vm_sched_admit(c, s, &p, msg, sizeof msg), HPVM_EINVAL);
  vm_destroy(a);
  vm_destroy(b);
  vm_destroy(c);
  vm_sched_close(s);
}

static void test_power_off_releases_the_entitlement(void **st) {
  (void)st;
  vm_sched *s = open_private(1);
  char msg[512];
  vm *a = sched_busy_guest(s, 1, "a", 100, 0, NULL);
  vm *b = vm_with_guest(SCHED_MEM, 1, "spin", "", -1);
  vm_sched_params p = {.entitlement = 10};
  assert_int_equal(vm_sched_admit(b, s, &p, msg, sizeof msg), HPVM_EBUSY);
  vm_power_off(a, 0);
  vm_wait(a);
  assert_int_equal(vm_sched_admit(b, s, &p, msg, sizeof msg), 0);
  vm_destroy(a);
  vm_destroy(b);
  vm_sched_close(s);
}

/* The host scheduler is shared by processes through the state directory: a child's guest
 * holds entitlement the parent cannot have; when the child dies, it is reclaimed. */
static void test_admission_spans_processes_and_reclaims_dead_ones(void **st) {
  (void)st;
  char *dir = sched_tmpdir();
  int ready[2];
  assert_int_equal(pipe(ready), 0);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);      /* never outlive the test */
    alarm(60);
    vm_sched *s;
    char msg[512];
    vm_sched_opts o = {.ncores = 1};
    if (vm_sched_open(dir, &o, &s, msg, sizeof msg)) _exit(2);
    vm_config cfg = {.memory = SCHED_MEM, .ncpus = 1, .console_in = -1, .console_out = -1};
    vm *v;
    if (vm_create(&cfg, &v, msg, sizeof msg)) _exit(3);
    vm_sched_params p = {.name = "child", .entitlement = 60};
    if (vm_sched_admit(v, s, &p, msg, sizeof msg)) _exit(4);
    if (write(ready[1], "x", 1) != 1) _exit(5);
    for (;;) pause();
  }
  /* Everything the child's presence shows is collected before it is killed, then checked. */
  char c;
  ssize_t got = read(ready[0], &c, 1);
  vm_sched *s;
  char msg[512];
  int open_rc = vm_sched_open(dir, NULL, &s, msg, sizeof msg);
  vm_sched_entry e[4];
  unsigned n = open_rc ? 0 : vm_sched_list(s, e, 4);
  vm *v = vm_with_guest(SCHED_MEM, 1, "spin", "", -1);
  vm_sched_params p = {.name = "parent", .entitlement = 50};
  int admit_rc = open_rc ? -1 : vm_sched_admit(v, s, &p, msg, sizeof msg);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  assert_int_equal(got, 1);
  assert_int_equal(open_rc, 0);
  assert_int_equal(vm_sched_ncores(s), 1);
  assert_int_equal(n, 1);
  assert_int_equal(e[0].pid, pid);
  assert_string_equal(e[0].name, "child");
  assert_int_equal(admit_rc, HPVM_EBUSY);
  print_message("%s\n", msg);
  assert_non_null(strstr(msg, "1 vCPU already holds 60%"));
  assert_int_equal(vm_sched_admit(v, s, &p, msg, sizeof msg), 0);
  assert_int_equal(vm_sched_list(s, e, 4), 1);
  assert_string_equal(e[0].name, "parent");
  vm_destroy(v);
  vm_sched_close(s);
  sched_rmdir(dir);
  close(ready[0]);
  close(ready[1]);
}

static void test_segment_of_another_format_is_refused(void **st) {
  (void)st;
  char *dir = sched_tmpdir();
  char path[256], msg[512];
  snprintf(path, sizeof path, "%s/sched.shm", dir);
  FILE *f = fopen(path, "w");
  fputs("not a scheduler", f);
  fclose(f);
  vm_sched *s;
  assert_int_equal(vm_sched_open(dir, NULL, &s, msg, sizeof msg), HPVM_ECORRUPT);
  assert_non_null(strstr(msg, "sched.shm"));
  sched_rmdir(dir);
  assert_int_equal(vm_sched_open("/nonexistent/dir", NULL, &s, msg, sizeof msg), HPVM_EIO);
}

/* A vCPU sleeping over its allowance counts as stopped: a pause returns at once. */
static void test_pause_does_not_wait_for_a_held_vcpu(void **st) {
  (void)st;
  vm *v = sched_busy_guest(NULL, 2, NULL, 0, 0, NULL);
  assert_int_equal(vm_set_throttle(v, 99), 0);
  usleep(100000);
  double worst = 0;
  for (int k = 0; k < 20; k++) {
    double t0 = now_s();
    vm_pause(v);
    double dt = now_s() - t0;
    if (dt > worst) worst = dt;
    uint64_t a = sched_retired(v);
    usleep(2000);
    assert_true(sched_retired(v) == a);
    vm_resume(v);
    usleep(3000);
  }
  print_message("worst pause with throttle 99%%: %.2f ms\n", worst * 1e3);
  assert_true(worst < 0.010);
  sched_stop(v);
}

/* Halted vCPUs do not want the CPU: they neither get an allocation nor hold one back. */
static void test_idle_guest_leaves_its_share_to_a_busy_one(void **st) {
  (void)st;
  vm_sched *s = open_private(0);
  const char *cpu = sched_one_cpu();
  vm *idle = vm_with_guest(32ull << 20, 1, "dirty_stores", "", -1);   /* halts at once */
  char msg[512];
  vm_sched_params p = {.name = "idle", .entitlement = 90, .cpus = cpu};
  assert_int_equal(vm_sched_admit(idle, s, &p, msg, sizeof msg), 0);
  assert_int_equal(vm_start(idle), 0);
  vm *busy = sched_busy_guest(s, 1, "busy", 10, 0, cpu);
  usleep(200000);
  double r[2];
  vm *both[2] = {busy, idle};
  sched_cpu_rates(both, 2, 1.0, r);
  vm_sched_usage u;
  vm_sched_get_usage(busy, 0, &u);
  print_message("busy (10%%) next to an idle guest (90%%): %.1f%% of the core, allocation %u per mille; idle used %.2f%%\n",
                r[0] * 100, u.share, r[1] * 100);
  assert_int_equal(u.share, 1000);
  assert_true(r[0] > 0.2);             /* far above its 10%: the idle guest's 90% is not kept */
  assert_true(r[1] < 0.02);
  sched_stop(busy);
  sched_stop(idle);
  vm_sched_close(s);
}

/* A 0 % vCPU reserves nothing: admitted next to a guest that holds the whole core (where even
 * 1 % is refused), it runs as much as it likes while that guest is idle. */
static void test_best_effort_is_admitted_on_a_full_core_and_uses_it_when_free(void **st) {
  (void)st;
  vm_sched *s = open_private(0);
  const char *cpu = sched_one_cpu();
  char msg[512];
  vm *idle = vm_with_guest(32ull << 20, 1, "dirty_stores", "", -1);   /* halts at once */
  vm_sched_params p = {.name = "idle", .entitlement = 100, .cpus = cpu};
  assert_int_equal(vm_sched_admit(idle, s, &p, msg, sizeof msg), 0);
  assert_int_equal(vm_start(idle), 0);
  vm *one = vm_with_guest(SCHED_MEM, 1, "spin", "", -1);
  vm_sched_params p1 = {.name = "one", .entitlement = 1, .cpus = cpu};
  assert_int_equal(vm_sched_admit(one, s, &p1, msg, sizeof msg), HPVM_EBUSY);
  vm_destroy(one);
  vm *be = sched_busy_guest(s, 1, "be", 0, 0, cpu);
  usleep(200000);
  double r = sched_cpu_rate(be, 1.0);
  vm_sched_usage u;
  vm_sched_get_usage(be, 0, &u);
  print_message("best-effort next to an idle 100%% guest: %.1f%% of the core, allocation %u per mille\n", r * 100,
                u.share);
  assert_int_equal(u.entitlement, 0);
  assert_int_equal(u.share, 1000);
  assert_true(r > 0.5);
  sched_stop(be);
  sched_stop(idle);
  vm_sched_close(s);
}

/* A 0 % vCPU gets no part of what entitled guests want: next to a busy 100 % guest on its core
 * it is held to a trickle, and the entitled guest keeps (nearly) the whole core. */
static void test_best_effort_is_held_back_when_entitled_guests_want_everything(void **st) {
  (void)st;
  vm_sched *s = open_private(0);
  const char *cpu = sched_one_cpu();
  vm *busy = sched_busy_guest(s, 1, "busy", 100, 0, cpu);
  vm *be = sched_busy_guest(s, 1, "be", 0, 0, cpu);
  usleep(300000);
  double r[2];
  vm *both[2] = {busy, be};
  sched_cpu_rates(both, 2, 1.5, r);
  vm_sched_usage u;
  vm_sched_get_usage(be, 0, &u);
  print_message("busy 100%%: %.1f%% of the core; best-effort: %.2f%%, allocation %u per mille\n", r[0] * 100,
                r[1] * 100, u.share);
  assert_true(u.share <= 10);
  assert_true(r[1] < 0.04);
  assert_true(r[0] > 0.8);
  sched_stop(be);
  sched_stop(busy);
  vm_sched_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cap_holds_a_busy_guest_to_its_cap),
    cmocka_unit_test(test_cap_change_applies_within_a_second),
    cmocka_unit_test(test_cap_applies_without_a_host_scheduler),
    cmocka_unit_test(test_entitlement_change_applies_within_a_second),
    cmocka_unit_test(test_throttle_50_halves_a_busy_guests_instruction_rate),
    cmocka_unit_test(test_throttle_50_halves_an_admitted_guests_instruction_rate),
    cmocka_unit_test(test_throttle_out_of_range_is_refused),
    cmocka_unit_test(test_admission_refused_with_the_figures),
    cmocka_unit_test(test_admission_checks_pinned_cores_alone),
    cmocka_unit_test(test_power_off_releases_the_entitlement),
    cmocka_unit_test(test_admission_spans_processes_and_reclaims_dead_ones),
    cmocka_unit_test(test_segment_of_another_format_is_refused),
    cmocka_unit_test(test_pause_does_not_wait_for_a_held_vcpu),
    cmocka_unit_test(test_idle_guest_leaves_its_share_to_a_busy_one),
    cmocka_unit_test(test_best_effort_is_admitted_on_a_full_core_and_uses_it_when_free),
    cmocka_unit_test(test_best_effort_is_held_back_when_entitled_guests_want_everything),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
