/* test_mem_image.c — vm_mem_load_image and hpvmapp --mem-image (the benchmarks' preloaded guest
 * memory): the file's bytes are the guest's RAM (below the device window, then from 4 GiB),
 * all-zero pages and holes stay unpopulated, a kernel loaded after the image wins where they
 * overlap and still boots, the hpvmk guest reads the image's bytes through its own translations
 * (memsum), and unusable images are refused with one line. */
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "vm_test.h"

#define MiB (1ull << 20)

static char img_path[64];

static int setup(void **s) {
  (void)s;
  snprintf(img_path, sizeof img_path, "/tmp/hpvm_memimg_XXXXXX");
  int fd = mkstemp(img_path);
  if (fd < 0) return -1;
  close(fd);
  return 0;
}

static int teardown(void **s) {
  (void)s;
  unlink(img_path);
  return 0;
}

static void write_at(int fd, uint64_t off, const void *buf, size_t len) {
  assert_int_equal(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
}

/* The content of page i of the test image: non-zero for every third page, zero otherwise. */
static void page_content(unsigned i, uint8_t *page) {
  memset(page, 0, 4096);
  if (i % 3 == 0)
    for (unsigned k = 0; k < 4096; k++) page[k] = (uint8_t)(i * 7 + k + 1) | 1;
}

static vm *new_vm(uint64_t mem) {
  vm_config cfg = {.memory = mem, .ncpus = 1, .console_in = -1, .console_out = -1};
  vm *v;
  char msg[256];
  if (vm_create(&cfg, &v, msg, sizeof msg)) fail_msg("vm_create: %s", msg);
  return v;
}

static bool resident(vm *v, uint64_t gpa) {
  unsigned char in;
  uint8_t *h = vm_mem_ptr(v, gpa, 4096);
  assert_non_null(h);
  assert_int_equal(mincore(h, 4096, &in), 0);
  return in & 1;
}

static bool thp_always(void) {
  char buf[128] = {0};
  FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  if (!f) return false;
  bool always = fgets(buf, sizeof buf, f) && strstr(buf, "[always]");
  fclose(f);
  return always;
}

static void test_image_bytes_are_ram_and_zero_pages_stay_unpopulated(void **s) {
  (void)s;
  /* 6 MiB of pages (every third non-zero), a 3 MiB hole, then 1 MiB of pages and a partial
   * page of 100 bytes: 10 MiB + 100 bytes in all. */
  int fd = open(img_path, O_RDWR | O_TRUNC);
  assert_true(fd >= 0);
  uint8_t page[4096];
  for (unsigned i = 0; i < 6 * 256; i++) page_content(i, page), write_at(fd, (uint64_t)i * 4096, page, 4096);
  for (unsigned i = 9 * 256; i < 10 * 256; i++) page_content(i, page), write_at(fd, (uint64_t)i * 4096, page, 4096);
  uint8_t tail[100];
  memset(tail, 0x5a, sizeof tail);
  write_at(fd, 10 * MiB, tail, sizeof tail);
  close(fd);

  vm *v = new_vm(64 * MiB);
  char msg[256];
  assert_int_equal(vm_mem_load_image(v, img_path, msg, sizeof msg), 0);
  /* Populated exactly where the image has data (checked before anything reads RAM: a read maps
   * the zero page, which mincore counts). Transparent huge pages "always" would populate whole
   * 2 MiB pages on the first write; the machines here have "madvise". */
  if (thp_always()) {
    print_message("transparent huge pages are 'always' here: not checking which pages are populated\n");
  } else {
    for (unsigned i = 0; i < 10 * 256; i++) {
      bool nonzero = i % 3 == 0 && !(i >= 6 * 256 && i < 9 * 256);
      if (resident(v, (uint64_t)i * 4096) != nonzero)
        fail_msg("page %u is %s but the image's page is %s", i, nonzero ? "not populated" : "populated",
                 nonzero ? "non-zero" : "zero");
    }
    assert_true(resident(v, 10 * MiB));
    for (uint64_t gpa = 10 * MiB + 4096; gpa < 64 * MiB; gpa += 4096) assert_false(resident(v, gpa));
  }
  uint8_t got[4096];
  for (unsigned i = 0; i < 10 * 256; i++) {
    if (i >= 6 * 256 && i < 9 * 256) memset(page, 0, sizeof page);   /* the hole */
    else page_content(i, page);
    assert_int_equal(vm_mem_read(v, (uint64_t)i * 4096, got, 4096), 0);
    if (memcmp(got, page, 4096)) fail_msg("page %u of RAM differs from the image", i);
  }
  assert_int_equal(vm_mem_read(v, 10 * MiB, got, 4096), 0);
  assert_memory_equal(got, tail, sizeof tail);
  for (unsigned k = sizeof tail; k < 4096; k++) assert_int_equal(got[k], 0);
  vm_destroy(v);
}

static void test_ram_above_the_device_window_continues_the_image(void **s) {
  (void)s;
  /* RAM of 3.75 GiB + 1 MiB: the last MiB is at 4 GiB. A sparse image of that size with a
   * marker in low RAM and one in high RAM (the holes cost nothing). */
  uint64_t mem = VM_LOW_RAM_MAX + MiB;
  int fd = open(img_path, O_RDWR | O_TRUNC);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)mem), 0);
  write_at(fd, 0x1000, "low marker", 10);
  write_at(fd, VM_LOW_RAM_MAX + 0x2000, "high marker", 11);
  close(fd);
  vm *v = new_vm(mem);
  char msg[256], got[16] = {0};
  assert_int_equal(vm_mem_load_image(v, img_path, msg, sizeof msg), 0);
  if (!thp_always()) {
    assert_false(resident(v, VM_HIGH_RAM_BASE));
    assert_false(resident(v, VM_LOW_RAM_MAX - 4096));
  }
  assert_int_equal(vm_mem_read(v, 0x1000, got, 10), 0);
  assert_memory_equal(got, "low marker", 10);
  assert_int_equal(vm_mem_read(v, VM_HIGH_RAM_BASE + 0x2000, got, 11), 0);
  assert_memory_equal(got, "high marker", 11);
  vm_destroy(v);
}

/* Every PT_LOAD segment of the ELF at path, as the loader should have put it in RAM: the file
 * bytes, then zeros up to p_memsz. */
static void check_segments_in_ram(vm *v, const char *path) {
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  struct stat st;
  assert_int_equal(fstat(fd, &st), 0);
  uint8_t *img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  assert_true(img != MAP_FAILED);
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
  unsigned loads = 0;
  for (unsigned i = 0; i < eh->e_phnum; i++) {
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(img + eh->e_phoff + (size_t)i * eh->e_phentsize);
    if (ph->p_type != PT_LOAD || !ph->p_memsz) continue;
    const uint8_t *ram = vm_mem_ptr(v, ph->p_paddr, ph->p_memsz);
    assert_non_null(ram);
    assert_memory_equal(ram, img + ph->p_offset, ph->p_filesz);
    for (uint64_t k = ph->p_filesz; k < ph->p_memsz; k++)
      if (ram[k]) fail_msg("segment %u: byte %llu of its bss is %#x, not 0", i, (unsigned long long)k, ram[k]);
    loads++;
  }
  assert_true(loads > 0);
  munmap(img, (size_t)st.st_size);
  close(fd);
}

static void test_kernel_loaded_after_the_image_wins_and_boots(void **s) {
  (void)s;
  int fd = open(img_path, O_RDWR | O_TRUNC);
  assert_true(fd >= 0);
  static uint8_t junk[1 << 20];
  memset(junk, 0xa5, sizeof junk);
  for (unsigned i = 0; i < 32; i++) write_at(fd, (uint64_t)i << 20, junk, sizeof junk);
  close(fd);
  int p[2];
  assert_int_equal(pipe(p), 0);
  vm_config cfg = {.memory = 32 * MiB, .ncpus = 1, .cmdline = "over an image", .console_in = -1, .console_out = p[1]};
  vm *v;
  char msg[256];
  assert_int_equal(vm_create(&cfg, &v, msg, sizeof msg), 0);
  assert_int_equal(vm_mem_load_image(v, img_path, msg, sizeof msg), 0);
  assert_int_equal(vm_load_kernel(v, guest_path("ssc_hello"), msg, sizeof msg), 0);
  check_segments_in_ram(v, guest_path("ssc_hello"));
  assert_int_equal(vm_start(v), 0);
  assert_int_equal(wait_exit(v, 30), 42);
  /* A VM that has run cannot take an image any more. */
  assert_int_equal(vm_mem_load_image(v, img_path, msg, sizeof msg), HPVM_EBUSY);
  vm_destroy(v);
  close(p[1]);
  char out[64] = {0};
  assert_true(read(p[0], out, sizeof out - 1) > 0);
  close(p[0]);
  assert_string_equal(out, "hello over an image\n");
}

static void test_unusable_images_are_refused_with_a_reason(void **s) {
  (void)s;
  int fd = open(img_path, O_RDWR | O_TRUNC);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)(16 * MiB + 4096)), 0);
  close(fd);
  vm *v = new_vm(16 * MiB);
  char msg[256];
  assert_int_equal(vm_mem_load_image(v, img_path, msg, sizeof msg), HPVM_EINVAL);
  assert_non_null(strstr(msg, "more than the VM's 16 MiB of RAM"));
  assert_int_equal(vm_mem_load_image(v, "/nonexistent/image", msg, sizeof msg), HPVM_EIO);
  assert_non_null(strstr(msg, "/nonexistent/image"));
  assert_int_equal(vm_mem_load_image(v, "/tmp", msg, sizeof msg), HPVM_EINVAL);
  assert_non_null(strstr(msg, "not a regular file"));
  vm_destroy(v);
}

/* ---- hpvmapp --mem-image ------------------------------------------------------------------------ */

/* hpvmk memsum's checksum of [off, off+len) of the image: s = rotl(s, 1) ^ word. */
static uint64_t memsum_of(const char *path, uint64_t off, uint64_t len) {
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  uint64_t s = 0, w;
  for (uint64_t k = 0; k < len; k += 8) {
    ssize_t n = pread(fd, &w, 8, (off_t)(off + k));
    if (n != 8) w = 0;
    s = ((s << 1) | (s >> 63)) ^ w;
  }
  close(fd);
  return s;
}

static run_result R;

static void test_hpvmapp_guest_reads_the_image_bytes(void **s) {
  (void)s;
  /* 24 MiB: the kernel's first 16 MiB (overwritten where it loads) and 8 MiB the guest sums. */
  int fd = open(img_path, O_RDWR | O_TRUNC);
  assert_true(fd >= 0);
  uint8_t page[4096];
  for (unsigned i = 0; i < 24 * 256; i++) page_content(i * 5 + 1, page), write_at(fd, (uint64_t)i * 4096, page, 4096);
  close(fd);
  char want[80];
  snprintf(want, sizeof want, "memsum: 8 MiB at 0x1000000: checksum %016llx\n",
           (unsigned long long)memsum_of(img_path, 16 * MiB, 8 * MiB));
  const char *argv[] = {HPVMAPP, "--kernel", HPVMK, "--memory", "64M", "--mem-image", img_path, "--args",
                        "memsum size=8M", NULL};
  run_cmd(&R, NULL, 60, argv);
  if (R.status != 0 || !strstr(R.out, want) || !strstr(R.out, "PASS memsum"))
    fail_msg("hpvmapp exited %d; wanted \"%s\" in its output:\n%s%s", R.status, want, R.out, R.err);
  /* Without the image the same range reads zeros: a different checksum. */
  const char *plain[] = {HPVMAPP, "--kernel", HPVMK, "--memory", "64M", "--args", "memsum size=8M", NULL};
  run_cmd(&R, NULL, 60, plain);
  assert_int_equal(R.status, 0);
  assert_non_null(strstr(R.out, "memsum: 8 MiB at 0x1000000: checksum 0000000000000000\n"));
}

static void test_hpvmapp_refuses_an_image_it_cannot_use(void **s) {
  (void)s;
  int fd = open(img_path, O_RDWR | O_TRUNC);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)(65 * MiB)), 0);
  close(fd);
  const char *big[] = {HPVMAPP, "--kernel", HPVMK, "--memory", "64M", "--mem-image", img_path, "--args", "idle", NULL};
  run_cmd(&R, NULL, 30, big);
  assert_int_equal(R.status, 2);
  assert_int_equal(count_lines(R.err), 1);
  assert_non_null(strstr(R.err, "more than the VM's 64 MiB of RAM"));
  const char *restore[] = {HPVMAPP, "--restore", "/nonexistent.state", "--mem-image", img_path, NULL};
  run_cmd(&R, NULL, 30, restore);
  assert_int_equal(R.status, 2);
  assert_non_null(strstr(R.err, "--mem-image"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_image_bytes_are_ram_and_zero_pages_stay_unpopulated, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ram_above_the_device_window_continues_the_image, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kernel_loaded_after_the_image_wins_and_boots, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unusable_images_are_refused_with_a_reason, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hpvmapp_guest_reads_the_image_bytes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hpvmapp_refuses_an_image_it_cannot_use, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
