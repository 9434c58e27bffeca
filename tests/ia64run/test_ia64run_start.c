/* test_ia64run_start.c — the process ia64run starts is the one Linux ia64's execve builds:
 * registers (start_thread, ia64_execve), the stack (argc, argv, envp, the auxiliary vector
 * in create_elf_tables' order, the strings at STACK_TOP), the register backing store
 * (ia64_set_rbs_bot); exit statuses come back unchanged; the glibc-startup stand-in runs;
 * --trace and --stats report. Expected values come from the Linux sources, from the test
 * program's own ELF headers and from this process's ids and limits. */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/resource.h>
#include <cmocka.h>

#include "run.h"

#define PAGE 16384ull
#define STACK_TOP (0x6000000000000000ull + (1ull << 44) - PAGE)   /* region 3 + RGN_MAP_LIMIT */
#define MAX_USER_STACK (((1ull << 44) - PAGE) / 2)

static t_result run_args(void) {
  const char *args[] = {t_prog("ia64run_args"), "one", "two three", "", NULL};
  const char *env[] = {"A=1", "IA64RUN_X=y z", NULL};
  t_result r = t_run_env(args, env);
  if (r.status) fprintf(stderr, "args: status %d\n%s%s", r.status, r.out, r.err);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.err_len, 0);
  return r;
}

static uint64_t hex_field(const char *out, const char *key) {
  const char *v = t_field(out, key);
  assert_true(v[0] != 0);
  return strtoull(v, NULL, 0);
}

static void test_registers_are_as_execve_leaves_them(void **state) {
  (void)state;
  t_result r = run_args();
  assert_string_equal(t_field(r.out, "r8"), "0");            /* execve's result */
  assert_string_equal(t_field(r.out, "pfs"), "0");           /* ia64_execve clears ar.pfs */
  assert_string_equal(t_field(r.out, "sof"), "0");           /* so the frame is empty */
  assert_string_equal(t_field(r.out, "rsc"), "0x000000000000000f");  /* eager, pl 3, LE */
  assert_string_equal(t_field(r.out, "fpsr"), "0x0009804c0270033f"); /* FPSR_DEFAULT */
  assert_string_equal(t_field(r.out, "psr.um"), "0");
  assert_string_equal(t_field(r.out, "unat"), "0");
  assert_string_equal(t_field(r.out, "lc"), "0");
  t_free(&r);
}

static void test_stack_holds_argc_argv_and_environment(void **state) {
  (void)state;
  t_result r = run_args();
  char argv0[4200];
  snprintf(argv0, sizeof argv0, "argv[0]=%s", t_prog("ia64run_args"));
  assert_string_equal(t_field(r.out, "argc"), "4");
  assert_true(t_has_line(r.out, argv0));
  assert_true(t_has_line(r.out, "argv[1]=one"));
  assert_true(t_has_line(r.out, "argv[2]=two three"));
  assert_true(t_has_line(r.out, "argv[3]="));
  const char *e1 = strstr(r.out, "\nenv=A=1\n"), *e2 = strstr(r.out, "\nenv=IA64RUN_X=y z\n");
  assert_non_null(e1);
  assert_non_null(e2);
  assert_true(e1 < e2);
  char *p = r.out;
  unsigned envs = 0;
  while ((p = strstr(p, "\nenv=")) != NULL) envs++, p++;
  assert_int_equal(envs, 2);
  t_free(&r);
}

/* new_sp (argc) is 16-byte aligned, r12 = new_sp - 16 (args.S reads argc at sp + 16), and
 * the strings end 8 bytes below STACK_TOP with the program's path last (AT_EXECFN). */
static void test_stack_layout_follows_linux(void **state) {
  (void)state;
  t_result r = run_args();
  uint64_t argc_at = hex_field(r.out, "argc_at");
  assert_int_equal(argc_at % 16, 0);
  assert_true(argc_at < STACK_TOP && argc_at > STACK_TOP - 65536);
  assert_string_equal(t_field(r.out, "execfn"), t_prog("ia64run_args"));
  assert_true(hex_field(r.out, "execfn_end") == STACK_TOP - 8);
  assert_string_equal(t_field(r.out, "random_ok"), "1");
  t_free(&r);
}

/* The register backing store starts at PAGE_ALIGN(new_sp - stack size), the size being the
 * hard RLIMIT_STACK bounded by MAX_USER_STACK_SIZE (ia64_set_rbs_bot). */
static void test_backing_store_starts_where_linux_puts_it(void **state) {
  (void)state;
  t_result r = run_args();
  struct rlimit rl;
  assert_int_equal(getrlimit(RLIMIT_STACK, &rl), 0);
  uint64_t size = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > MAX_USER_STACK ? MAX_USER_STACK : rl.rlim_max & ~15ull;
  uint64_t argc_at = hex_field(r.out, "argc_at");
  uint64_t expect = (argc_at - size + PAGE - 1) & ~(PAGE - 1);
  assert_true(hex_field(r.out, "bsp") == expect);
  t_free(&r);
}

static void test_auxv_is_linuxs_in_its_order(void **state) {
  (void)state;
  size_t len;
  uint8_t *elf = t_read_file(t_prog("ia64run_args"), &len);
  assert_non_null(elf);
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)elf;
  const Elf64_Phdr *ph = (const Elf64_Phdr *)(elf + eh->e_phoff);
  uint64_t phdr_va = 0;
  for (unsigned i = 0; i < eh->e_phnum; i++)
    if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) phdr_va = ph[i].p_vaddr + eh->e_phoff;
  assert_true(phdr_va != 0);
  t_result r = run_args();
  uint64_t execfn = 0, random = 0;
  struct { uint64_t tag, val; } want[] = {
    {AT_HWCAP, 0}, {AT_PAGESZ, PAGE}, {AT_CLKTCK, 250}, {AT_PHDR, phdr_va}, {AT_PHENT, 56},
    {AT_PHNUM, eh->e_phnum}, {AT_BASE, 0}, {AT_FLAGS, 0}, {AT_ENTRY, eh->e_entry},
    {AT_UID, getuid()}, {AT_EUID, geteuid()}, {AT_GID, getgid()}, {AT_EGID, getegid()},
    {AT_SECURE, 0}, {AT_RANDOM, 0}, {AT_EXECFN, 0}, {AT_NULL, 0},
  };
  unsigned n = 0;
  for (const char *l = strstr(r.out, "auxv "); l; l = strstr(l + 1, "\nauxv ")) {
    if (*l == '\n') l++;
    unsigned long long tag, val;
    assert_int_equal(sscanf(l, "auxv %llu %llx", &tag, &val), 2);
    assert_true(n < sizeof want / sizeof want[0]);
    assert_int_equal(tag, want[n].tag);
    if (tag == AT_RANDOM) random = val;
    else if (tag == AT_EXECFN) execfn = val;
    else assert_true(val == want[n].val);
    n++;
  }
  assert_int_equal(n, sizeof want / sizeof want[0]);
  /* AT_RANDOM's 16 bytes lie between the vector and the strings; AT_EXECFN is the last string. */
  assert_true(random >= hex_field(r.out, "auxv_end") && random + 16 <= execfn);
  assert_true(execfn + strlen(t_prog("ia64run_args")) + 1 == STACK_TOP - 8);
  assert_true(hex_field(r.out, "entry") == eh->e_entry);
  free(elf);
  t_free(&r);
}

static void expect_exit(const char *value, const char *via_exit, int status) {
  const char *args[] = {t_prog("ia64run_exitcode"), value, via_exit, NULL};
  t_result r = t_run(args);
  assert_int_equal(r.status, status);
  assert_int_equal(r.err_len, 0);
  t_free(&r);
}

static void test_exit_group_status_is_ia64runs(void **state) {
  (void)state;
  expect_exit("0", NULL, 0);
  expect_exit("1", NULL, 1);
  expect_exit("42", NULL, 42);
  expect_exit("255", NULL, 255);
  expect_exit("256", NULL, 0);      /* only the low 8 bits, as wait() reports them */
  expect_exit("300", NULL, 44);
}

static void test_exit_status_is_ia64runs(void **state) {
  (void)state;
  expect_exit("3", "exit", 3);
  expect_exit("200", "exit", 200);
}

/* ---- The glibc startup stand-in, --trace and --stats ---------------------------------------- */

static void test_glibc_style_startup_prints_hello(void **state) {
  (void)state;
  const char *args[] = {t_guest("guest_hello_glibc"), NULL};
  t_result r = t_run(args);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "Hello, world!\n");
  assert_int_equal(r.err_len, 0);
  t_free(&r);
}

static void test_trace_shows_instructions_and_system_calls(void **state) {
  (void)state;
  const char *args[] = {"--trace", t_guest("guest_hello_glibc"), NULL};
  t_result r = t_run(args);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "Hello, world!\n");
  /* The first instruction of _start, as objdump prints it, after "ip.slot". */
  assert_non_null(strstr(r.err, ".0 [MLX]       alloc r2=ar.pfs,7,0,0\n"));
  const char *calls[] = {"ia64run: syscall uname(0x", "ia64run: syscall brk(0) = 0x6000",
                         "ia64run: syscall set_tid_address(0x", "ia64run: syscall gettid() = ",
                         "ia64run: syscall writev(1, 0x", ", 2) = 14\n", "ia64run: syscall exit_group(0) = ?\n"};
  const char *at = r.err;
  for (unsigned i = 0; i < sizeof calls / sizeof calls[0]; i++) {
    const char *next = strstr(at, calls[i]);
    if (!next) fprintf(stderr, "missing, in order: %s\n", calls[i]);
    assert_non_null(next);
    at = next;
  }
  t_free(&r);
}

static void test_stats_reports_instructions_and_rate(void **state) {
  (void)state;
  const char *args[] = {"--stats", t_guest("guest_hello"), NULL};
  t_result r = t_run(args);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "Hello from IA-64\n");
  unsigned long long n;
  double s, mips;
  assert_int_equal(sscanf(r.err, "ia64run: %llu instructions retired in %lf s: %lf M instructions/s\n", &n, &s, &mips), 3);
  assert_true(n >= 7 && n <= 11);   /* hello.S: 11 slots, the two breaks may or may not count */
  assert_int_equal(t_lines(r.err), 1);
  t_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_registers_are_as_execve_leaves_them),
    cmocka_unit_test(test_stack_holds_argc_argv_and_environment),
    cmocka_unit_test(test_stack_layout_follows_linux),
    cmocka_unit_test(test_backing_store_starts_where_linux_puts_it),
    cmocka_unit_test(test_auxv_is_linuxs_in_its_order),
    cmocka_unit_test(test_exit_group_status_is_ia64runs),
    cmocka_unit_test(test_exit_status_is_ia64runs),
    cmocka_unit_test(test_glibc_style_startup_prints_hello),
    cmocka_unit_test(test_trace_shows_instructions_and_system_calls),
    cmocka_unit_test(test_stats_reports_instructions_and_rate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
