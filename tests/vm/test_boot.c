/* test_boot.c — the boot protocol of docs/platform.md: the boot information block, the boot
 * vCPU's initial state, the secondaries waiting for their start IPI, and clear refusals of
 * kernels that cannot boot. */
#include <elf.h>
#include <fcntl.h>

#include "vm_test.h"

static uint64_t get(const uint8_t *b, unsigned off, unsigned size) {
  uint64_t x = 0;
  for (unsigned i = 0; i < size; i++) x |= (uint64_t)b[off + i] << (8 * i);
  return x;
}

static char disk_path[64];

static int make_disk(void **s) {
  (void)s;
  snprintf(disk_path, sizeof disk_path, "/tmp/hpvm_boot_disk_XXXXXX");
  int fd = mkstemp(disk_path);
  if (fd < 0 || ftruncate(fd, 1 << 20) != 0) return -1;
  close(fd);
  return 0;
}

static int remove_disk(void **s) {
  (void)s;
  unlink(disk_path);
  return 0;
}

static void test_boot_information_block_matches_platform_doc(void **s) {
  (void)s;
  const char *disks[] = {disk_path};
  /* 5 GiB: RAM below the device window, and the rest from 4 GiB (reserved, never touched). */
  vm_config cfg = {.memory = 5ull << 30, .ncpus = 3, .cmdline = "memverify size=1M", .disks = disks, .ndisks = 1,
                   .console_in = -1, .console_out = -1};
  vm *v;
  char msg[256];
  assert_int_equal(vm_create(&cfg, &v, msg, sizeof msg), 0);
  assert_int_equal(vm_load_kernel(v, guest_path("ssc_hello"), msg, sizeof msg), 0);
  ia64_cpu *c = vm_cpu(v, 0);
  bool nat;
  uint64_t bi = ia64_gr_read(c, 28, &nat);
  assert_int_equal(bi % 8, 0);
  const uint8_t *b = vm_mem_ptr(v, bi, 1208);
  assert_non_null(b);
  assert_memory_equal(b, "HPVMBOOT", 8);
  assert_int_equal(get(b, 8, 4), 1);
  assert_int_equal(get(b, 12, 4), 1208);
  assert_int_equal(get(b, 16, 8), 5ull << 30);
  assert_int_equal(get(b, 24, 4), 2);
  assert_int_equal(get(b, 28, 4), 3);
  uint64_t cl = get(b, 32, 8);
  assert_int_equal(get(b, 40, 4), strlen("memverify size=1M"));
  assert_string_equal((const char *)vm_mem_ptr(v, cl, 18), "memverify size=1M");
  assert_int_equal(get(b, 44, 4), 2);
  assert_int_equal(get(b, 48, 8), 1000000000ull);
  assert_int_equal(get(b, 56, 8), 0);
  assert_int_equal(get(b, 64, 8), 0xF0000000ull);
  assert_int_equal(get(b, 72, 8), 0x100000000ull);
  assert_int_equal(get(b, 80, 8), (5ull << 30) - 0xF0000000ull);
  assert_int_equal(get(b, 184, 4), 1);                      /* console */
  assert_int_equal(get(b, 192, 8), 0xF0000000ull);
  assert_int_equal(get(b, 184 + 32, 4), 2);                 /* avio_stor */
  assert_int_equal(get(b, 184 + 32 + 8, 8), 0xF0001000ull);
  assert_int_equal(get(b, 184 + 32 + 16, 8), 1 << 20);
  uint64_t vec;
  assert_int_equal(vm_mmio_read(v, 0xF0001000ull + 0x10, 8, &vec), 0);
  assert_int_equal(get(b, 184 + 32 + 4, 4), vec);
  /* The block sits above the kernel's image (which ends below bi). */
  assert_true(bi >= 0x100000);
  vm_destroy(v);
}

static void test_boot_vcpu_starts_in_ski_system_mode_state(void **s) {
  (void)s;
  vm *v = vm_with_guest(16 << 20, 2, "ssc_hello", "", -1);
  ia64_cpu *c = vm_cpu(v, 0);
  assert_int_equal(c->ip, 0x100000);
  assert_int_equal(c->ri, 0);
  assert_int_equal(c->psr, 0);
  assert_int_equal(ia64_cfm(c), 96);
  assert_int_equal(ia64_ar_read(c, IA64_AR_BSPSTORE), 0);
  assert_int_equal(ia64_ar_read(c, IA64_AR_RSC), 0);
  assert_int_equal(c->cr[64], 0);                           /* cr.lid of vCPU 0 */
  assert_int_equal(vm_cpu(v, 1)->cr[64], 1ull << 24);
  bool nat;
  for (unsigned r = 1; r < 128; r++)
    if (r != 28) assert_int_equal(ia64_gr_read(c, r, &nat), 0);
  vm_destroy(v);
}

/* Secondaries run only after SAL_SET_VECTORS + IPI: guests/dirty_stores.S starts them all,
 * each then halts; without the start they would not have counted any retired instruction. */
static void test_secondaries_run_only_after_start_ipi(void **s) {
  (void)s;
  vm *v = vm_with_guest(32 << 20, 3, "dirty_stores", "", -1);
  assert_int_equal(vm_start(v), 0);
  usleep(50000);
  vm_pause(v);
  for (unsigned i = 0; i < 3; i++) assert_true(vm_cpu(v, i)->retired > 0);
  assert_int_equal(vm_cpu(v, 2)->cr[64], 2ull << 24);
  vm_resume(v);
  vm_destroy(v);
  /* The same kernel on a VM whose boot vCPU never starts them: a halted boot vCPU. */
  v = vm_with_guest(32 << 20, 2, "smc", "", -1);
  assert_int_equal(vm_start(v), 0);
  assert_int_equal(wait_exit(v, 20), 57);
  assert_int_equal(vm_cpu(v, 1)->retired, 0);
  vm_destroy(v);
}

/* ---- Bad kernels ----------------------------------------------------------------------------- */

static uint8_t *good_image(size_t *len) {
  FILE *f = fopen(guest_path("ssc_hello"), "rb");
  assert_non_null(f);
  uint8_t *buf = malloc(1 << 20);
  *len = fread(buf, 1, 1 << 20, f);
  fclose(f);
  return buf;
}

static void expect_refused(const uint8_t *img, size_t len, int code, const char *words) {
  vm_config cfg = {.memory = 16 << 20, .ncpus = 1, .console_in = -1, .console_out = -1};
  vm *v;
  char msg[512];
  assert_int_equal(vm_create(&cfg, &v, msg, sizeof msg), 0);
  msg[0] = 0;
  int rc = vm_load_kernel_image(v, img, len, msg, sizeof msg);
  if (rc != code || !strstr(msg, words)) fail_msg("got %d \"%s\", wanted %d and \"%s\"", rc, msg, code, words);
  assert_null(strchr(msg, '\n'));
  vm_destroy(v);
}

static void test_bad_kernels_are_refused_with_one_line(void **s) {
  (void)s;
  size_t len;
  uint8_t *img = good_image(&len);
  uint8_t *b = malloc(len);
  Elf64_Ehdr *eh = (Elf64_Ehdr *)b;
  Elf64_Phdr *ph = (Elf64_Phdr *)(b + ((Elf64_Ehdr *)img)->e_phoff);
#define FRESH memcpy(b, img, len)
  expect_refused((const uint8_t *)"#!/bin/sh\necho hi\n", 18, HPVM_EBADELF, "not an ELF");
  FRESH, eh->e_ident[EI_CLASS] = ELFCLASS32;
  expect_refused(b, len, HPVM_EBADELF, "32-bit");
  FRESH, eh->e_ident[EI_DATA] = ELFDATA2MSB;
  expect_refused(b, len, HPVM_EBADELF, "big-endian");
  FRESH, eh->e_machine = EM_X86_64;
  expect_refused(b, len, HPVM_EBADELF, "not IA-64");
  FRESH, eh->e_type = ET_DYN;
  expect_refused(b, len, HPVM_EBADELF, "not an executable");
  expect_refused(img, 40, HPVM_ETRUNC, "truncated");
  expect_refused(img, ph->p_offset + 100, HPVM_ETRUNC, "truncated");
  FRESH, ph->p_paddr = 0x4000000000000000ull;
  expect_refused(b, len, HPVM_ERANGE, "outside the guest's RAM");
  FRESH, ph->p_paddr = 0xF0000000ull;
  expect_refused(b, len, HPVM_ERANGE, "outside the guest's RAM");
  FRESH, ph->p_paddr = (16 << 20) - 0x100;                   /* runs past the end of RAM */
  expect_refused(b, len, HPVM_ERANGE, "outside the guest's RAM");
  FRESH, eh->e_entry = 0x4000000000000000ull;
  expect_refused(b, len, HPVM_EBADELF, "entry point");
  FRESH, ph->p_filesz = ph->p_memsz + 1;
  expect_refused(b, len, HPVM_EBADELF, "more file bytes");
#undef FRESH
  free(b);
  free(img);
}

static void test_missing_kernel_file_is_named(void **s) {
  (void)s;
  vm_config cfg = {.memory = 16 << 20, .ncpus = 1, .console_in = -1, .console_out = -1};
  vm *v;
  char msg[512];
  assert_int_equal(vm_create(&cfg, &v, msg, sizeof msg), 0);
  assert_int_equal(vm_load_kernel(v, "/nonexistent/kernel", msg, sizeof msg), HPVM_ENOENT);
  assert_non_null(strstr(msg, "/nonexistent/kernel"));
  assert_int_equal(vm_load_kernel(v, "/tmp", msg, sizeof msg), HPVM_EBADELF);
  vm_destroy(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_boot_information_block_matches_platform_doc),
    cmocka_unit_test(test_boot_vcpu_starts_in_ski_system_mode_state),
    cmocka_unit_test(test_secondaries_run_only_after_start_ipi),
    cmocka_unit_test(test_bad_kernels_are_refused_with_one_line),
    cmocka_unit_test(test_missing_kernel_file_is_named),
  };
  return cmocka_run_group_tests(tests, make_disk, remove_disk);
}
