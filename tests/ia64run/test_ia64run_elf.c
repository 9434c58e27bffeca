/* test_ia64run_elf.c — ia64run refuses what is not a static little-endian IA-64 Linux ELF
 * executable with one line on stderr (naming the file, the problem and what to do), nothing
 * on stdout and exit status 2; and its command line. Bad files are made from a good
 * program by changing the bytes that make it bad. */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "run.h"

/* ---- Helpers ---------------------------------------------------------------------------------- */

static uint8_t *good_elf(size_t *len) {
  uint8_t *d = t_read_file(t_prog("ia64run_exitcode"), len);
  assert_non_null(d);
  assert_true(*len > 1024);
  return d;
}

static Elf64_Phdr *phdr(uint8_t *d, unsigned i) {
  Elf64_Ehdr *eh = (Elf64_Ehdr *)d;
  return (Elf64_Phdr *)(d + eh->e_phoff) + i;
}

/* Run ia64run on path; expect exit 2, no stdout and exactly the one line
 * "ia64run: PATH: ..." containing every NULL-terminated fragment. */
static void expect_refused(const char *path, ...) {
  const char *args[] = {path, "arg", NULL};
  t_result r = t_run(args);
  assert_int_equal(r.status, 2);
  assert_int_equal(r.out_len, 0);
  assert_int_equal(t_lines(r.err), 1);
  char prefix[4200];
  snprintf(prefix, sizeof prefix, "ia64run: %s: ", path);
  assert_true(strncmp(r.err, prefix, strlen(prefix)) == 0);
  va_list ap;
  va_start(ap, path);
  for (const char *frag; (frag = va_arg(ap, const char *)) != NULL;) {
    if (!strstr(r.err, frag)) fprintf(stderr, "missing \"%s\" in: %s", frag, r.err);
    assert_non_null(strstr(r.err, frag));
  }
  va_end(ap);
  t_free(&r);
}

static void refuse_bytes(const char *name, const void *data, size_t len, ...) {
  char path[512];
  const char *dir = t_tmpdir();
  snprintf(path, sizeof path, "%s/%s", dir, name);
  t_write_file(path, data, len);
  const char *args[] = {path, NULL};
  t_result r = t_run(args);
  assert_int_equal(r.status, 2);
  assert_int_equal(r.out_len, 0);
  assert_int_equal(t_lines(r.err), 1);
  char prefix[600];
  snprintf(prefix, sizeof prefix, "ia64run: %s: ", path);
  assert_true(strncmp(r.err, prefix, strlen(prefix)) == 0);
  va_list ap;
  va_start(ap, len);
  for (const char *frag; (frag = va_arg(ap, const char *)) != NULL;) {
    if (!strstr(r.err, frag)) fprintf(stderr, "missing \"%s\" in: %s", frag, r.err);
    assert_non_null(strstr(r.err, frag));
  }
  va_end(ap);
  t_free(&r);
  unlink(path);
  rmdir(dir);
}

/* ---- Files that are not programs ---------------------------------------------------------------- */

static void test_missing_file_is_refused(void **state) {
  (void)state;
  expect_refused("ia64run_test_no_such_file", "no such file; check the path", NULL);
}

static void test_directory_is_refused(void **state) {
  (void)state;
  const char *dir = t_tmpdir();
  expect_refused(dir, "is a directory, not a program", "give the path of a static IA-64 ELF", NULL);
  rmdir(dir);
}

static void test_empty_file_is_refused(void **state) {
  (void)state;
  refuse_bytes("empty", "", 0, "empty file (0 bytes)", "-static", NULL);
}

static void test_script_is_refused(void **state) {
  (void)state;
  const char s[] = "#!/bin/sh\necho hi\n";
  refuse_bytes("script", s, sizeof s - 1, "a script (#!), not an ELF executable", NULL);
}

static void test_text_file_is_refused(void **state) {
  (void)state;
  const char s[] = "hello, world\n";
  refuse_bytes("text", s, sizeof s - 1, "not an ELF file", "give a static IA-64 Linux ELF", NULL);
}

/* ---- Truncated files ------------------------------------------------------------------------------ */

static void test_truncated_header_is_refused(void **state) {
  (void)state;
  size_t len;
  uint8_t *d = good_elf(&len);
  refuse_bytes("trunc_header", d, 40, "truncated ELF header (40 of 64 bytes)", "copy it again", NULL);
  free(d);
}

static void test_truncated_program_headers_are_refused(void **state) {
  (void)state;
  size_t len;
  uint8_t *d = good_elf(&len);
  refuse_bytes("trunc_phdrs", d, 100, "truncated ELF: the program headers end at byte",
               "but the file has 100", NULL);
  free(d);
}

static void test_truncated_segment_is_refused(void **state) {
  (void)state;
  size_t len;
  uint8_t *d = good_elf(&len);
  Elf64_Ehdr *eh = (Elf64_Ehdr *)d;
  size_t cut = eh->e_phoff + (size_t)eh->e_phnum * sizeof(Elf64_Phdr) + 16;
  refuse_bytes("trunc_segment", d, cut, "truncated ELF: segment 0 needs bytes up to", NULL);
  free(d);
}

/* ---- ELF files for something else ------------------------------------------------------------------ */

static void test_x86_64_elf_is_refused(void **state) {
  (void)state;
  size_t len;
  uint8_t *d = good_elf(&len);
  ((Elf64_Ehdr *)d)->e_machine = EM_X86_64;
  refuse_bytes("x86_64", d, len, "ELF for x86-64 (e_machine 62), not IA-64", "ia64-linux-gnu toolchain", NULL);
  free(d);
}

static void test_host_program_is_refused(void **state) {
  (void)state;
  if (access("/bin/true", R_OK) != 0) skip();
  expect_refused("/bin/true", "not IA-64", NULL);
}

static void test_32bit_elf_is_refused(void **state) {
  (void)state;
  size_t len;
  uint8_t *d = good_elf(&len);
  d[EI_CLASS] = ELFCLASS32;
  refuse_bytes("elf32", d, len, "32-bit ELF (ELFCLASS32)", "rebuild it for ia64-linux-gnu", NULL);
  free(d);
}

static void test_big_endian_elf_is_refused(void **state) {
  (void)state;
  size_t len;
  uint8_t *d = good_elf(&len);
  d[EI_DATA] = ELFDATA2MSB;
  refuse_bytes("msb", d, len, "big-endian ELF (ELFDATA2MSB", "little-endian", NULL);
  free(d);
}

static void test_hpux_elf_is_refused(void **state) {
  (void)state;
  size_t len;
  uint8_t *d = good_elf(&len);
  d[EI_OSABI] = ELFOSABI_HPUX;
  refuse_bytes("hpux", d, len, "an HP-UX program", NULL);
  free(d);
}

static void test_relocatable_object_is_refused(void **state) {
  (void)state;
  size_t len;
  uint8_t *d = good_elf(&len);
  ((Elf64_Ehdr *)d)->e_type = ET_REL;
  refuse_bytes("object", d, len, "a relocatable object (ET_REL)", "ia64-linux-gnu-ld -static", NULL);
  free(d);
}

/* The first PT_LOAD becomes a PT_INTERP naming the usual dynamic loader. */
static void test_dynamically_linked_elf_is_refused(void **state) {
  (void)state;
  size_t len;
  uint8_t *d = good_elf(&len);
  const char interp[] = "/lib/ld-linux-ia64.so.2";
  d = realloc(d, len + sizeof interp);
  memcpy(d + len, interp, sizeof interp);
  Elf64_Phdr *ph = phdr(d, 0);
  ph->p_type = PT_INTERP;
  ph->p_offset = len;
  ph->p_filesz = ph->p_memsz = sizeof interp;
  refuse_bytes("dynamic", d, len + sizeof interp, "dynamically linked (needs /lib/ld-linux-ia64.so.2)",
               "link it with -static", NULL);
  free(d);
}

static void test_segment_outside_user_space_is_refused(void **state) {
  (void)state;
  size_t len;
  uint8_t *d = good_elf(&len);
  phdr(d, 0)->p_vaddr = 0xa000000000000000ull;   /* region 5: the kernel's */
  refuse_bytes("kernel_segment", d, len, "segment 0", "outside the user address space", NULL);
  free(d);
}

static void test_no_loadable_segment_is_refused(void **state) {
  (void)state;
  size_t len;
  uint8_t *d = good_elf(&len);
  Elf64_Ehdr *eh = (Elf64_Ehdr *)d;
  for (unsigned i = 0; i < eh->e_phnum; i++)
    if (phdr(d, i)->p_type == PT_LOAD) phdr(d, i)->p_type = PT_NOTE;
  refuse_bytes("no_load", d, len, "no loadable segment (PT_LOAD)", NULL);
  free(d);
}

/* ---- The command line ------------------------------------------------------------------------------- */

static void test_no_program_prints_usage_and_exits_2(void **state) {
  (void)state;
  const char *args[] = {NULL};
  t_result r = t_run(args);
  assert_int_equal(r.status, 2);
  assert_non_null(strstr(r.err, "usage: ia64run [--stats] [--trace] PROGRAM [ARGS...]"));
  t_free(&r);
}

static void test_unknown_option_exits_2(void **state) {
  (void)state;
  const char *args[] = {"--bogus", t_prog("ia64run_exitcode"), "0", NULL};
  t_result r = t_run(args);
  assert_int_equal(r.status, 2);
  assert_string_equal(r.err, "ia64run: unknown option --bogus; see ia64run --help\n");
  t_free(&r);
}

static void test_help_exits_0(void **state) {
  (void)state;
  const char *args[] = {"--help", NULL};
  t_result r = t_run(args);
  assert_int_equal(r.status, 0);
  assert_non_null(strstr(r.out, "usage: ia64run"));
  t_free(&r);
}

static void test_double_dash_ends_options(void **state) {
  (void)state;
  const char *args[] = {"--", t_prog("ia64run_exitcode"), "7", NULL};
  t_result r = t_run(args);
  assert_int_equal(r.status, 7);
  t_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_missing_file_is_refused),
    cmocka_unit_test(test_directory_is_refused),
    cmocka_unit_test(test_empty_file_is_refused),
    cmocka_unit_test(test_script_is_refused),
    cmocka_unit_test(test_text_file_is_refused),
    cmocka_unit_test(test_truncated_header_is_refused),
    cmocka_unit_test(test_truncated_program_headers_are_refused),
    cmocka_unit_test(test_truncated_segment_is_refused),
    cmocka_unit_test(test_x86_64_elf_is_refused),
    cmocka_unit_test(test_host_program_is_refused),
    cmocka_unit_test(test_32bit_elf_is_refused),
    cmocka_unit_test(test_big_endian_elf_is_refused),
    cmocka_unit_test(test_hpux_elf_is_refused),
    cmocka_unit_test(test_relocatable_object_is_refused),
    cmocka_unit_test(test_dynamically_linked_elf_is_refused),
    cmocka_unit_test(test_segment_outside_user_space_is_refused),
    cmocka_unit_test(test_no_loadable_segment_is_refused),
    cmocka_unit_test(test_no_program_prints_usage_and_exits_2),
    cmocka_unit_test(test_unknown_option_exits_2),
    cmocka_unit_test(test_help_exits_0),
    cmocka_unit_test(test_double_dash_ends_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
