/* test_ia64run_fault.c — a fault the program does not handle ends it the way Linux ia64
 * would: exit status 128 + the signal traps.c / fault.c send, and exactly one line on
 * stderr naming the signal, what happened, the ip and slot, and the instruction there as
 * objdump prints it. The faults come from progs/fault.S, one per selector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "run.h"

/* Run fault.S with the selector; expect status and one stderr line holding every fragment. */
static void expect_fault(const char *sel, int status, ...) {
  const char *args[] = {t_prog("ia64run_fault"), sel, NULL};
  t_result r = t_run(args);
  if (r.status != status || t_lines(r.err) != 1) fprintf(stderr, "selector %s: status %d, stderr: %s", sel, r.status, r.err);
  assert_int_equal(r.status, status);
  assert_null(strstr(r.out, "FAIL"));
  assert_int_equal(t_lines(r.err), 1);
  assert_true(strncmp(r.err, "ia64run: SIG", 12) == 0);
  va_list ap;
  va_start(ap, status);
  for (const char *frag; (frag = va_arg(ap, const char *)) != NULL;) {
    if (!strstr(r.err, frag)) fprintf(stderr, "missing \"%s\" in: %s", frag, r.err);
    assert_non_null(strstr(r.err, frag));
  }
  va_end(ap);
  t_free(&r);
}

#define SEGV "ia64run: SIGSEGV (Segmentation fault): "

static void test_read_of_unmapped_address_is_sigsegv(void **state) {
  (void)state;
  expect_fault("r", 139, SEGV "read of unmapped address 0x1000, at ip 0x4000", " slot 0: [MIB] ld8 r8=[r9]\n", NULL);
}

static void test_write_to_text_is_sigsegv(void **state) {
  (void)state;
  expect_fault("w", 139, SEGV "write to 0x4000", "which the mapping does not allow", "st8 [r9]=r0", NULL);
}

static void test_branch_to_unmapped_address_is_sigsegv(void **state) {
  (void)state;
  expect_fault("x", 139, SEGV "instruction fetch from unmapped address 0x2000000000000000",
               "at ip 0x2000000000000000 slot 0", NULL);
}

static void test_read_of_kernel_region_is_sigsegv(void **state) {
  (void)state;
  expect_fault("k", 139, SEGV "read of unmapped address 0xe000000000000000", "ld8 r8=[r9]", NULL);
}

static void test_stack_is_not_executable(void **state) {
  (void)state;
  expect_fault("z", 139, SEGV "instruction fetch from 0x60000fff", "which the mapping does not allow", NULL);
}

static void test_stack_overflow_is_sigsegv(void **state) {
  (void)state;
  expect_fault("o", 139, SEGV "write to unmapped address 0x60000fff", "st8 [r12]=r0", NULL);
}

static void test_write_to_mprotected_page_is_sigsegv(void **state) {
  (void)state;
  expect_fault("m", 139, SEGV "write to 0x2000000000000000, which the mapping does not allow", "st8 [r36]=r9", NULL);
}

static void test_read_after_munmap_is_sigsegv(void **state) {
  (void)state;
  expect_fault("u", 139, SEGV "read of unmapped address 0x2000000000004000", "ld8 r9=[r36]", NULL);
}

static void test_read_past_the_break_is_sigsegv(void **state) {
  (void)state;
  expect_fault("e", 139, SEGV "read of unmapped address 0x6000000000", "ld8 r8=[r9]", NULL);
}

static void test_execute_only_mapping_cannot_be_read(void **state) {
  (void)state;
  expect_fault("q", 139, SEGV "read of 0x2000000000000000, which the mapping does not allow", NULL);
}

static void test_unaligned_load_is_sigbus(void **state) {
  (void)state;
  expect_fault("b", 135, "ia64run: SIGBUS (Bus error): unaligned read of 0x6000", "ld8 r8=[r9]", NULL);
}

static void test_reserved_template_is_sigill(void **state) {
  (void)state;
  expect_fault("i", 132, "ia64run: SIGILL (Illegal instruction): illegal operation, at ip 0x4000", "slot 0: [-3-] data8",
               NULL);
}

static void test_privileged_instruction_is_sigill(void **state) {
  (void)state;
  expect_fault("p", 132, "ia64run: SIGILL (Illegal instruction): privileged operation", "mov r8=psr", NULL);
}

/* ld8.s of a bad address: the kernel sets psr.ed and the load NaTs; using the NaT faults. */
static void test_nat_consumption_is_sigill(void **state) {
  (void)state;
  expect_fault("n", 132, "ia64run: SIGILL (Illegal instruction): NaT register consumption", "slot 1: ld8 r11=[r10]",
               NULL);
}

static void test_break_1_is_integer_divide_by_zero(void **state) {
  (void)state;
  expect_fault("f", 136, "ia64run: SIGFPE (Floating point exception): break 0x1 (integer divide by zero)",
               "break.i 0x1", NULL);
}

static void test_break_0x80000_is_sigtrap(void **state) {
  (void)state;
  expect_fault("t", 133, "ia64run: SIGTRAP (Trace/breakpoint trap): break 0x80000 (breakpoint)", NULL);
}

static void test_installed_handler_is_reported_as_not_run(void **state) {
  (void)state;
  expect_fault("h", 139, SEGV "read of unmapped address 0x1000",
               "[its handler is not run: ia64run does not deliver signals]\n", NULL);
}

static void test_abort_signal_ends_the_program(void **state) {
  (void)state;
  expect_fault("a", 134, "ia64run: SIGABRT (Aborted): sent by the program to itself\n", NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_read_of_unmapped_address_is_sigsegv),
    cmocka_unit_test(test_write_to_text_is_sigsegv),
    cmocka_unit_test(test_branch_to_unmapped_address_is_sigsegv),
    cmocka_unit_test(test_read_of_kernel_region_is_sigsegv),
    cmocka_unit_test(test_stack_is_not_executable),
    cmocka_unit_test(test_stack_overflow_is_sigsegv),
    cmocka_unit_test(test_write_to_mprotected_page_is_sigsegv),
    cmocka_unit_test(test_read_after_munmap_is_sigsegv),
    cmocka_unit_test(test_read_past_the_break_is_sigsegv),
    cmocka_unit_test(test_execute_only_mapping_cannot_be_read),
    cmocka_unit_test(test_unaligned_load_is_sigbus),
    cmocka_unit_test(test_reserved_template_is_sigill),
    cmocka_unit_test(test_privileged_instruction_is_sigill),
    cmocka_unit_test(test_nat_consumption_is_sigill),
    cmocka_unit_test(test_break_1_is_integer_divide_by_zero),
    cmocka_unit_test(test_break_0x80000_is_sigtrap),
    cmocka_unit_test(test_installed_handler_is_reported_as_not_run),
    cmocka_unit_test(test_abort_signal_ends_the_program),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
