/* test_hpvmapp.c — drives the hpvmapp binary: Ski-style programs (PUTCHAR, GET_ARGS,
 * GETCHAR, GET_TOD, GET_RTC, EXIT) run unchanged and set the exit status; a guest crash
 * prints the registers and exits 134; bad arguments, kernels and disks give one line on
 * stderr and exit 2. */
#include <fcntl.h>
#include <sys/stat.h>

#include "vm_test.h"

#define APP(r, in, ...) run_cmd(r, in, 30, (const char *const[]){HPVMAPP, __VA_ARGS__, NULL})

static run_result R;

static void test_ski_program_prints_its_arguments_and_exit_code(void **s) {
  (void)s;
  APP(&R, NULL, "--kernel", guest_path("ssc_hello"), "--args", "world and more");
  assert_int_equal(R.status, 42);
  assert_string_equal(R.out, "hello world and more\n");
  assert_string_equal(R.err, "");
}

static void test_console_input_reaches_getchar(void **s) {
  (void)s;
  APP(&R, "abc\n", "--kernel", guest_path("ssc_echo"));
  assert_int_equal(R.status, 0);
  assert_string_equal(R.out, "abc\n");
}

static void test_guest_crash_prints_registers_and_exits_134(void **s) {
  (void)s;
  APP(&R, NULL, "--kernel", guest_path("crash"));
  assert_int_equal(R.status, 134);
  assert_non_null(strstr(R.err, "guest crashed on vCPU 0"));
  assert_non_null(strstr(R.err, "General Exception"));
  assert_non_null(strstr(R.err, "1234567890abcdef"));   /* r9 */
}

static void test_several_cpus_and_disks_boot(void **s) {
  (void)s;
  char d1[] = "/tmp/hpvm_app_d1_XXXXXX", d2[] = "/tmp/hpvm_app_d2_XXXXXX";
  int f1 = mkstemp(d1), f2 = mkstemp(d2);
  assert_int_equal(ftruncate(f1, 1 << 20), 0);
  assert_int_equal(ftruncate(f2, 4096), 0);
  close(f1), close(f2);
  const char *argv[] = {HPVMAPP, "--cpus", "4", "--memory", "64M", "--disk", d1, "--disk", d2,
                        "--kernel", guest_path("ssc_hello"), NULL};
  run_cmd(&R, NULL, 30, argv);
  unlink(d1), unlink(d2);
  assert_int_equal(R.status, 42);
  assert_string_equal(R.out, "hello \n");
}

static void expect_usage_error(const char *what, const char *words) {
  if (R.status != 2 || count_lines(R.err) != 1 || strncmp(R.err, "hpvmapp: ", 9) || !strstr(R.err, words) || R.out[0])
    fail_msg("%s: status %d, stderr \"%s\", stdout \"%s\"; wanted 2 and one line with \"%s\"", what, R.status, R.err,
             R.out, words);
}

static void test_bad_arguments_give_one_line_and_exit_2(void **s) {
  (void)s;
  const char *k = guest_path("ssc_hello");
  APP(&R, NULL, "--memory", "64M");
  expect_usage_error("no kernel", "no kernel");
  APP(&R, NULL, "--kernel");
  expect_usage_error("no value", "needs a value");
  APP(&R, NULL, "--kernel", k, "--memory", "12Q");
  expect_usage_error("bad size", "not a size");
  APP(&R, NULL, "--kernel", k, "--memory", "100K");
  expect_usage_error("small memory", "at least 1M");
  APP(&R, NULL, "--kernel", k, "--cpus", "0");
  expect_usage_error("0 cpus", "1 to 64");
  APP(&R, NULL, "--kernel", k, "--cpus", "65");
  expect_usage_error("65 cpus", "1 to 64");
  APP(&R, NULL, "--kernel", k, "--cpus", "two");
  expect_usage_error("cpus word", "1 to 64");
  APP(&R, NULL, "--kernel", k, "--frobnicate");
  expect_usage_error("unknown option", "unknown argument");
}

static void test_bad_kernels_give_one_line_and_exit_2(void **s) {
  (void)s;
  APP(&R, NULL, "--kernel", "/nonexistent/vmlinux");
  expect_usage_error("missing kernel", "no such file");
  APP(&R, NULL, "--kernel", "/tmp");
  expect_usage_error("directory", "not a regular file");
  char txt[] = "/tmp/hpvm_app_txt_XXXXXX";
  int fd = mkstemp(txt);
  assert_int_equal(write(fd, "hello\n", 6), 6);
  close(fd);
  APP(&R, NULL, "--kernel", txt);
  expect_usage_error("text file", "not an ELF");
  unlink(txt);
  APP(&R, NULL, "--kernel", HPVMAPP);
  expect_usage_error("x86 program", "not IA-64");
  APP(&R, NULL, "--kernel", LINUX_PROG);
  expect_usage_error("user program", "outside the guest's RAM");
  APP(&R, NULL, "--kernel", guest_path("ssc_hello"), "--memory", "1M");
  expect_usage_error("kernel above RAM", "outside the guest's RAM");
  /* Truncated: the first 300 bytes of a good kernel. */
  char cut[] = "/tmp/hpvm_app_cut_XXXXXX";
  fd = mkstemp(cut);
  FILE *g = fopen(guest_path("ssc_hello"), "rb");
  uint8_t b[300];
  assert_int_equal(fread(b, 1, 300, g), 300);
  fclose(g);
  assert_int_equal(write(fd, b, 300), 300);
  close(fd);
  APP(&R, NULL, "--kernel", cut);
  expect_usage_error("truncated", "truncated");
  unlink(cut);
}

static void test_bad_disks_give_one_line_and_exit_2(void **s) {
  (void)s;
  const char *k = guest_path("ssc_hello");
  APP(&R, NULL, "--kernel", k, "--disk", "/nonexistent/disk.img");
  expect_usage_error("missing disk", "no such file");
  APP(&R, NULL, "--kernel", k, "--disk", "/tmp");
  expect_usage_error("directory disk", "directory");
  char d[] = "/tmp/hpvm_app_disk_XXXXXX";
  int fd = mkstemp(d);
  close(fd);
  APP(&R, NULL, "--kernel", k, "--disk", d);
  expect_usage_error("empty disk", "empty");
  fd = open(d, O_WRONLY);
  assert_int_equal(ftruncate(fd, 1000), 0);
  close(fd);
  APP(&R, NULL, "--kernel", k, "--disk", d);
  expect_usage_error("odd-size disk", "multiple of 512");
  unlink(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_ski_program_prints_its_arguments_and_exit_code),
    cmocka_unit_test(test_console_input_reaches_getchar),
    cmocka_unit_test(test_guest_crash_prints_registers_and_exits_134),
    cmocka_unit_test(test_several_cpus_and_disks_boot),
    cmocka_unit_test(test_bad_arguments_give_one_line_and_exit_2),
    cmocka_unit_test(test_bad_kernels_give_one_line_and_exit_2),
    cmocka_unit_test(test_bad_disks_give_one_line_and_exit_2),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
