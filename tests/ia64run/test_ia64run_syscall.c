/* test_ia64run_syscall.c — the Linux ia64 system call layer through progs/sys.S: the entry
 * rules of ivt.S (arguments, NaT handling, the 8-output limit), the r8/r10 result
 * convention, ENOSYS for what is not there (logged by --trace), and the calls a static libc
 * uses at start-up, with expected values from this process (ids, cwd, limits). */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/resource.h>
#include <cmocka.h>

#include "run.h"

static t_result run_sys(bool trace) {
  const char *args[] = {trace ? "--trace" : t_prog("ia64run_sys"), trace ? t_prog("ia64run_sys") : NULL, NULL};
  t_result r = t_run(args);
  if (r.status) fprintf(stderr, "sys: status %d\n%s%s", r.status, r.out, r.err);
  assert_int_equal(r.status, 0);
  assert_true(t_has_line(r.out, "sys ok"));
  return r;
}

static void expect(const char *out, const char *key, const char *value) {
  const char *v = t_field(out, key);
  if (strcmp(v, value)) fprintf(stderr, "%s: got \"%s\", want \"%s\"\n", key, v, value);
  assert_string_equal(v, value);
}

static void test_unknown_system_call_is_enosys(void **state) {
  (void)state;
  t_result r = run_sys(false);
  expect(r.out, "unknown", "38 r10=0xffffffffffffffff");   /* r8 = ENOSYS, r10 = -1 */
  expect(r.out, "rseq", "38");
  assert_int_equal(r.err_len, 0);                           /* nothing logged without --trace */
  t_free(&r);
}

static void test_trace_logs_system_calls_and_what_is_missing(void **state) {
  (void)state;
  t_result r = run_sys(true);
  assert_non_null(strstr(r.err, "ia64run: syscall unknown_1999(0, 0, 0, 0, 0, 0) = -1 ENOSYS (Function not "
                                "implemented) [system call 1999: not in Linux ia64's table]\n"));
  assert_non_null(strstr(r.err, ") = -1 ENOSYS (Function not implemented) [system call 1357: not implemented by "
                                "ia64run]\n"));
  assert_non_null(strstr(r.err, "ia64run: syscall rseq("));
  assert_non_null(strstr(r.err, "ia64run: syscall access(\"/nonexistent-ia64run-test\", 0) = -1 ENOENT"));
  t_free(&r);
}

static void test_frame_with_more_than_8_outputs_is_einval(void **state) {
  (void)state;
  t_result r = run_sys(false);
  expect(r.out, "nine_outputs", "22");
  expect(r.out, "eight_outputs", "0");
  t_free(&r);
}

static void test_nat_arguments_read_as_minus_one(void **state) {
  (void)state;
  t_result r = run_sys(false);
  expect(r.out, "nat_fd", "9 out0=0xffffffffffffffff");     /* write(-1, ...) = EBADF, out0 fixed */
  expect(r.out, "nat_r15", "22");
  t_free(&r);
}

static void test_identity_calls_answer_for_the_process(void **state) {
  (void)state;
  t_result r = run_sys(false);
  char ids[128];
  snprintf(ids, sizeof ids, "%u,%u,%u,%u", getuid(), geteuid(), getgid(), getegid());
  expect(r.out, "ids", ids);
  unsigned pid, tid;
  assert_int_equal(sscanf(t_field(r.out, "pid"), "%u tid=%u", &pid, &tid), 2);
  assert_true(pid > 1 && pid == tid);
  expect(r.out, "sysname", "Linux");
  expect(r.out, "machine", "ia64");
  t_free(&r);
}

static void test_no_descriptor_is_a_terminal(void **state) {
  (void)state;
  t_result r = run_sys(false);
  expect(r.out, "ioctl", "25 r10=0xffffffffffffffff closed=9");   /* ENOTTY; EBADF */
  t_free(&r);
}

static void test_paths_cwd_exe_and_access(void **state) {
  (void)state;
  t_result r = run_sys(false);
  char cwd[PATH_MAX], line[PATH_MAX + 64], exe[PATH_MAX];
  assert_non_null(getcwd(cwd, sizeof cwd));
  snprintf(line, sizeof line, "%zu cwd=%s", strlen(cwd) + 1, cwd);
  expect(r.out, "cwd_len", line);
  expect(r.out, "cwd_small", "34");                        /* ERANGE */
  assert_non_null(realpath(t_prog("ia64run_sys"), exe));
  expect(r.out, "exe", exe);                               /* readlink("/proc/self/exe") */
  expect(r.out, "access", "0,2");
  t_free(&r);
}

static void test_time_calls(void **state) {
  (void)state;
  t_result r = run_sys(false);
  expect(r.out, "nanosleep", "0");
  expect(r.out, "clock_bad", "22");
  expect(r.out, "getrandom", "16");
  t_free(&r);
}

static void test_signal_actions_and_mask_are_recorded(void **state) {
  (void)state;
  t_result r = run_sys(false);
  expect(r.out, "sigaction", "0 old=0x4000000000001230,0x0000000004000000,0x0000000000000040");
  expect(r.out, "sigaction_bad", "22,22");                 /* sigsetsize 4; SIGKILL */
  expect(r.out, "sigmask", "0x0000000000000000,0x0000000000000200");
  expect(r.out, "tgkill_other", "3");                      /* ESRCH */
  t_free(&r);
}

static void test_limits_and_robust_list(void **state) {
  (void)state;
  t_result r = run_sys(false);
  struct rlimit rl;
  assert_int_equal(getrlimit(RLIMIT_STACK, &rl), 0);
  unsigned long long cap = 1ull << 30, soft = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > cap ? cap : rl.rlim_cur;
  if (soft < 8 * 16384) soft = 8 * 16384;
  soft = (soft + 16383) & ~16383ull;
  char want[32];
  snprintf(want, sizeof want, "%llu", soft);
  expect(r.out, "stack_rlimit", want);
  expect(r.out, "robust", "0");
  t_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_unknown_system_call_is_enosys),
    cmocka_unit_test(test_trace_logs_system_calls_and_what_is_missing),
    cmocka_unit_test(test_frame_with_more_than_8_outputs_is_einval),
    cmocka_unit_test(test_nat_arguments_read_as_minus_one),
    cmocka_unit_test(test_identity_calls_answer_for_the_process),
    cmocka_unit_test(test_no_descriptor_is_a_terminal),
    cmocka_unit_test(test_paths_cwd_exe_and_access),
    cmocka_unit_test(test_time_calls),
    cmocka_unit_test(test_signal_actions_and_mask_are_recorded),
    cmocka_unit_test(test_limits_and_robust_list),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
