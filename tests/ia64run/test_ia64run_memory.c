/* test_ia64run_memory.c — brk, mmap/munmap/mprotect and file I/O through progs/mem.S, on a
 * file this test writes (byte i = (7 * i + 3) & 0xff). Linux ia64's rules: 16 KiB pages;
 * the break starts on the page after the highest segment; mmap goes bottom-up, first fit,
 * from TASK_UNMAPPED_BASE (region 1), shared mappings 1 MiB aligned; private file mappings
 * are copies (the file never changes). */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "run.h"

#define FILE_SIZE 20000

typedef struct mem_run {
  t_result r;
  char dir[256], file[512];
  uint8_t data[FILE_SIZE];
} mem_run;

static int setup(void **state) {
  mem_run *m = calloc(1, sizeof *m);
  snprintf(m->dir, sizeof m->dir, "%s", t_tmpdir());
  snprintf(m->file, sizeof m->file, "%s/data.bin", m->dir);
  for (unsigned i = 0; i < FILE_SIZE; i++) m->data[i] = (uint8_t)(7 * i + 3);
  t_write_file(m->file, m->data, FILE_SIZE);
  const char *args[] = {t_prog("ia64run_mem"), m->file, NULL};
  m->r = t_run(args);
  if (m->r.status) fprintf(stderr, "mem: status %d\n%s%s", m->r.status, m->r.out, m->r.err);
  *state = m;
  return 0;
}

static int teardown(void **state) {
  mem_run *m = *state;
  unlink(m->file);
  rmdir(m->dir);
  t_free(&m->r);
  free(m);
  return 0;
}

static void expect(const char *out, const char *key, const char *value) {
  const char *v = t_field(out, key);
  if (strcmp(v, value)) fprintf(stderr, "%s: got \"%s\", want \"%s\"\n", key, v, value);
  assert_string_equal(v, value);
}

static void test_program_completes_its_own_checks(void **state) {
  mem_run *m = *state;
  assert_int_equal(m->r.status, 0);
  assert_int_equal(m->r.err_len, 0);
  assert_true(t_has_line(m->r.out, "mem ok"));
  assert_null(strstr(m->r.out, "FAIL"));
}

static void test_break_starts_on_the_page_after_the_highest_segment(void **state) {
  mem_run *m = *state;
  size_t len;
  uint8_t *elf = t_read_file(t_prog("ia64run_mem"), &len);
  assert_non_null(elf);
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)elf;
  const Elf64_Phdr *ph = (const Elf64_Phdr *)(elf + eh->e_phoff);
  uint64_t end = 0;
  for (unsigned i = 0; i < eh->e_phnum; i++)
    if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr + ph[i].p_memsz > end) end = ph[i].p_vaddr + ph[i].p_memsz;
  char want[32];
  snprintf(want, sizeof want, "0x%016llx", (unsigned long long)((end + 16383) & ~16383ull));
  expect(m->r.out, "brk0", want);
  expect(m->r.out, "brk_below", "100000");   /* brk below the start leaves the break */
  free(elf);
}

static void test_anonymous_mappings(void **state) {
  mem_run *m = *state;
  expect(m->r.out, "mmap_anon", "0x2000000000000000");       /* TASK_UNMAPPED_BASE */
  expect(m->r.out, "mmap_bad", "22,22,22");                  /* len 0; offset; MAP_FIXED unaligned */
  expect(m->r.out, "munmap", "0 hole_reused=1");
  expect(m->r.out, "mprotect", "0,12 munmap_bad=22");        /* ENOMEM past the mapping */
}

/* A write() whose buffer spans two mappings (after mprotect split one) still writes it all. */
static void test_buffer_across_mappings(void **state) {
  mem_run *m = *state;
  expect(m->r.out, "span", "ABCDEFGH");
  expect(m->r.out, "read_readonly", "14");                   /* EFAULT */
}

static void test_file_mappings_and_reads(void **state) {
  mem_run *m = *state;
  expect(m->r.out, "fstat_size", "20000 stat_size=20000 mode=8");   /* S_IFREG >> 12 */
  expect(m->r.out, "file_mmap", "0x200000000000c000 offset_mmap=0x2000000000014000 shared=0x2000000000100000 "
                                "shared_write=13");
  expect(m->r.out, "lseek", "1000 read=100 end=20000 read_eof=0 pread=10");
  expect(m->r.out, "close", "0,9 open_missing=2");
}

static void test_private_file_mapping_leaves_the_file_alone(void **state) {
  mem_run *m = *state;
  size_t len;
  uint8_t *now = t_read_file(m->file, &len);
  assert_non_null(now);
  assert_int_equal(len, FILE_SIZE);
  assert_memory_equal(now, m->data, FILE_SIZE);
  free(now);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_program_completes_its_own_checks, setup, teardown),
    cmocka_unit_test_setup_teardown(test_break_starts_on_the_page_after_the_highest_segment, setup, teardown),
    cmocka_unit_test_setup_teardown(test_anonymous_mappings, setup, teardown),
    cmocka_unit_test_setup_teardown(test_buffer_across_mappings, setup, teardown),
    cmocka_unit_test_setup_teardown(test_file_mappings_and_reads, setup, teardown),
    cmocka_unit_test_setup_teardown(test_private_file_mapping_leaves_the_file_alone, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
