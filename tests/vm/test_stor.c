/* test_stor.c — the avio_stor block device driven from the host side as a vCPU would drive
 * it (uncacheable register accesses, a request ring in guest memory): reads, writes,
 * flushes, completion index and interrupt status, out-of-order completion bookkeeping,
 * and a hostile guest's bad requests, which complete as "bad request" without touching
 * anything outside guest RAM. Reads into guest memory are dirty-logged. */
#include <fcntl.h>

#include "vm_test.h"

#define MEM (16ull << 20)
#define DEV 0xF0001000ull          /* device 1: the first disk (device 0 is the console) */
#define RING 0x200000ull
#define BUF 0x300000ull
#define DISK_SECTORS 2048

enum { R_VECTOR = 0x10, R_STATUS = 0x18, R_CAPACITY = 0x20, R_RING_BASE = 0x28, R_RING_SIZE = 0x30,
       R_DOORBELL = 0x38, R_COMPLETION = 0x40 };

typedef struct fixture {
  char path[64];
  vm *v;
  uint32_t prod;
} fixture;

static uint64_t reg(fixture *f, unsigned off) {
  uint64_t x;
  assert_int_equal(vm_mmio_read(f->v, DEV + off, 8, &x), 0);
  return x;
}

static void set_reg(fixture *f, unsigned off, uint64_t x) { assert_int_equal(vm_mmio_write(f->v, DEV + off, 8, x), 0); }

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->path, sizeof f->path, "/tmp/hpvm_stor_XXXXXX");
  int fd = mkstemp(f->path);
  uint8_t sec[512];
  for (unsigned s = 0; s < DISK_SECTORS; s++) {
    for (unsigned i = 0; i < 512; i++) sec[i] = (uint8_t)(s * 7 + i);
    if (write(fd, sec, 512) != 512) return -1;
  }
  close(fd);
  const char *disks[] = {f->path};
  vm_config cfg = {.memory = MEM, .ncpus = 1, .disks = disks, .ndisks = 1, .console_in = -1, .console_out = -1};
  char msg[256];
  if (vm_create(&cfg, &f->v, msg, sizeof msg)) return -1;
  set_reg(f, R_RING_BASE, RING);
  set_reg(f, R_RING_SIZE, 8);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  vm_destroy(f->v);
  unlink(f->path);
  free(f);
  return 0;
}

/* Put a request in the next ring slot and ring the doorbell; returns its slot's address. */
static uint64_t submit(fixture *f, uint32_t op, uint64_t sector, uint64_t buf, uint32_t len, uint32_t tag) {
  uint8_t e[32] = {0};
  memcpy(e, &op, 4);
  memcpy(e + 8, &sector, 8);
  memcpy(e + 16, &buf, 8);
  memcpy(e + 24, &len, 4);
  memcpy(e + 28, &tag, 4);
  uint64_t slot = RING + (f->prod % 8) * 32;
  assert_int_equal(vm_mem_write(f->v, slot, e, 32), 0);
  set_reg(f, R_DOORBELL, ++f->prod);
  return slot;
}

static uint32_t wait_status(fixture *f, uint64_t slot) {
  double end = now_s() + 10;
  while (reg(f, R_COMPLETION) != f->prod && now_s() < end) usleep(100);
  assert_int_equal(reg(f, R_COMPLETION), f->prod);
  uint32_t st;
  vm_mem_read(f->v, slot + 4, &st, 4);
  return st;
}

static void test_capacity_and_identity_registers(void **state) {
  fixture *f = *state;
  assert_int_equal(reg(f, 0x00), 2);
  assert_int_equal(reg(f, 0x08), 1);
  assert_int_equal(reg(f, R_CAPACITY), DISK_SECTORS);
}

static void test_read_lands_in_guest_memory_and_is_dirty_logged(void **state) {
  fixture *f = *state;
  uint64_t *bits = calloc(vm_dirty_log_words(f->v), 8);
  assert_int_equal(vm_dirty_log_start(f->v), 0);
  uint64_t slot = submit(f, 1, 10, BUF + 0x1000, 4 * 512, 77);
  assert_int_equal(wait_status(f, slot), 1);
  const uint8_t *p = vm_mem_ptr(f->v, BUF + 0x1000, 2048);
  for (unsigned s = 0; s < 4; s++)
    for (unsigned i = 0; i < 512; i++) assert_int_equal(p[s * 512 + i], (uint8_t)((10 + s) * 7 + i));
  assert_true(reg(f, R_STATUS) & 1);
  set_reg(f, R_STATUS, 1);                       /* acknowledge (write 1 to clear) */
  assert_false(reg(f, R_STATUS) & 1);
  assert_int_equal(vm_dirty_log_harvest(f->v, bits), 0);
  uint64_t fr = (BUF + 0x1000) >> 12;
  assert_true((bits[fr / 64] >> (fr % 64)) & 1);
  uint64_t rf = RING >> 12;                      /* the status write */
  assert_true((bits[rf / 64] >> (rf % 64)) & 1);
  vm_dirty_log_stop(f->v);
  free(bits);
}

static void test_write_then_flush_reaches_the_file(void **state) {
  fixture *f = *state;
  uint8_t data[1024];
  for (unsigned i = 0; i < sizeof data; i++) data[i] = (uint8_t)(0xa5 ^ i);
  assert_int_equal(vm_mem_write(f->v, BUF, data, sizeof data), 0);
  uint64_t slot = submit(f, 2, 100, BUF, 1024, 1);
  assert_int_equal(wait_status(f, slot), 1);
  slot = submit(f, 3, 0, 0, 0, 2);
  assert_int_equal(wait_status(f, slot), 1);
  int fd = open(f->path, O_RDONLY);
  uint8_t back[1024];
  assert_int_equal(pread(fd, back, sizeof back, 100 * 512), sizeof back);
  close(fd);
  assert_memory_equal(back, data, sizeof data);
}

static void test_bad_requests_complete_as_bad_request(void **state) {
  fixture *f = *state;
  struct { uint32_t op; uint64_t sector, buf; uint32_t len; } bad[] = {
    {9, 0, BUF, 512},                            /* unknown op */
    {1, 0, BUF, 0},                              /* empty */
    {1, 0, BUF, 100},                            /* not a multiple of 512 */
    {1, DISK_SECTORS, BUF, 512},                 /* past the end of the disk */
    {1, DISK_SECTORS - 1, BUF, 1024},            /* runs past the end */
    {1, ~0ull, BUF, 512},                        /* sector overflow */
    {1, 0, MEM - 512, 1024},                     /* buffer runs out of RAM */
    {1, 0, 0xF0000000ull, 512},                  /* buffer on the device window */
    {2, 0, ~0ull - 100, 512},                    /* buffer address wraps */
    {1, 0, 0x4000000000000000ull, 512},          /* far outside */
    {1, 0, BUF, 64u << 20},                      /* too long */
  };
  for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint64_t slot = submit(f, bad[i].op, bad[i].sector, bad[i].buf, bad[i].len, i);
    if (wait_status(f, slot) != 3) fail_msg("bad request %u did not complete as bad request", i);
  }
  /* The device still works afterwards. */
  uint64_t slot = submit(f, 1, 0, BUF, 512, 99);
  assert_int_equal(wait_status(f, slot), 1);
}

static void test_bad_ring_setup_sets_error_status(void **state) {
  fixture *f = *state;
  set_reg(f, R_STATUS, 3);
  set_reg(f, R_RING_BASE, RING + 8);             /* not 4 KiB aligned */
  set_reg(f, R_DOORBELL, 1);
  assert_int_equal(reg(f, R_STATUS) & 2, 2);
  set_reg(f, R_STATUS, 3);
  set_reg(f, R_RING_BASE, MEM - 4096);           /* 8 entries fit: 256 bytes */
  set_reg(f, R_RING_SIZE, 1024);                 /* 32 KiB do not */
  set_reg(f, R_DOORBELL, 1);
  assert_int_equal(reg(f, R_STATUS) & 2, 2);
  set_reg(f, R_STATUS, 3);
  set_reg(f, R_RING_SIZE, 6);                    /* not a power of two */
  set_reg(f, R_DOORBELL, 1);
  assert_int_equal(reg(f, R_STATUS) & 2, 2);
  /* A doorbell further ahead than the ring holds. */
  set_reg(f, R_STATUS, 3);
  set_reg(f, R_RING_BASE, RING);
  set_reg(f, R_RING_SIZE, 8);
  f->prod = 0;
  set_reg(f, R_DOORBELL, 9);
  assert_int_equal(reg(f, R_STATUS) & 2, 2);
  assert_int_equal(reg(f, R_COMPLETION), 0);
  set_reg(f, R_STATUS, 3);
  uint64_t slot = submit(f, 1, 0, BUF, 512, 1);
  assert_int_equal(wait_status(f, slot), 1);
}

static void test_many_requests_complete_in_ring_order_index(void **state) {
  fixture *f = *state;
  for (unsigned k = 0; k < 200; k++) {
    uint64_t s1 = submit(f, 1, k, BUF + (k % 4) * 512, 512, k);
    uint64_t s2 = submit(f, 2, 1000 + k, BUF + 0x10000, 512, k);
    uint64_t s3 = submit(f, 3, 0, 0, 0, k);
    wait_status(f, s3);
    uint32_t a, b;
    vm_mem_read(f->v, s1 + 4, &a, 4);
    vm_mem_read(f->v, s2 + 4, &b, 4);
    assert_int_equal(a, 1);
    assert_int_equal(b, 1);
  }
  vm_devices_drain(f->v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_capacity_and_identity_registers, setup, teardown),
    cmocka_unit_test_setup_teardown(test_read_lands_in_guest_memory_and_is_dirty_logged, setup, teardown),
    cmocka_unit_test_setup_teardown(test_write_then_flush_reaches_the_file, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_requests_complete_as_bad_request, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_ring_setup_sets_error_status, setup, teardown),
    cmocka_unit_test_setup_teardown(test_many_requests_complete_in_ring_order_index, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
