/* test_console.c — the console device: a guest's stores to the TX register reach the output
 * fd; input on the input fd shows in the RX register (bit 8 = valid) and, with control bit
 * 0, raises the device interrupt (status bit 0, write 1 to clear); a shutdown request sets
 * status bit 2 and, with control bit 1, raises the interrupt. */
#include "vm_test.h"

#define CON 0xF0000000ull

static void test_guest_tx_register_writes_console_output(void **s) {
  (void)s;
  int p[2];
  assert_int_equal(pipe(p), 0);
  vm *v = vm_with_guest(16 << 20, 1, "con_tx", "", p[1]);
  assert_int_equal(vm_start(v), 0);
  assert_int_equal(wait_exit(v, 20), 0);
  vm_destroy(v);
  close(p[1]);
  char buf[64] = {0};
  assert_int_equal(read(p[0], buf, sizeof buf - 1), 6);
  assert_string_equal(buf, "tx ok\n");
  close(p[0]);
}

static void test_input_shows_in_rx_and_raises_the_interrupt_when_enabled(void **s) {
  (void)s;
  int in[2];
  assert_int_equal(pipe(in), 0);
  vm_config cfg = {.memory = 32 << 20, .ncpus = 1, .console_in = in[0], .console_out = -1};  /* dirty_stores: tables at 16 MiB */
  vm *v;
  char msg[256];
  assert_int_equal(vm_create(&cfg, &v, msg, sizeof msg), 0);
  assert_int_equal(vm_load_kernel(v, guest_path("dirty_stores"), msg, sizeof msg), 0);
  uint64_t x;
  assert_int_equal(vm_mmio_read(v, CON, 8, &x), 0);
  assert_int_equal(x, 1);                                   /* type: console */
  assert_int_equal(vm_mmio_write(v, CON + 0x30, 8, 1), 0);   /* interrupt on input */
  assert_int_equal(vm_start(v), 0);                         /* the input thread runs */
  assert_int_equal(write(in[1], "hi", 2), 2);
  double end = now_s() + 10;
  do vm_mmio_read(v, CON + 0x18, 8, &x);
  while (!(x & 1) && now_s() < end);
  assert_int_equal(x & 1, 1);
  assert_int_equal(vm_mmio_read(v, CON + 0x28, 8, &x), 0);
  assert_int_equal(x, 0x100 | 'h');
  assert_int_equal(vm_mmio_read(v, CON + 0x28, 4, &x), 0);  /* a narrower load: low bytes */
  assert_int_equal(x, 0x100 | 'i');
  assert_int_equal(vm_mmio_read(v, CON + 0x28, 8, &x), 0);
  assert_int_equal(x, 0);                                   /* nothing left */
  assert_int_equal(vm_mmio_write(v, CON + 0x18, 8, 1), 0);
  assert_int_equal(vm_mmio_read(v, CON + 0x18, 8, &x), 0);
  assert_int_equal(x & 1, 0);
  vm_destroy(v);
  close(in[0]), close(in[1]);
}

/* The power button (docs/platform.md): a shutdown request sets status bit 2 and interrupts only
 * with control bit 1; one made before the guest enables it interrupts when it does. */
static void test_shutdown_request_sets_status_bit_2_and_interrupts_when_enabled(void **s) {
  (void)s;
  vm_config cfg = {.memory = 16 << 20, .ncpus = 1, .console_in = -1, .console_out = -1};
  vm *v;
  char msg[256];
  assert_int_equal(vm_create(&cfg, &v, msg, sizeof msg), 0);
  uint64_t x;
  assert_int_equal(vm_request_shutdown(v), 0);
  assert_int_equal(vm_mmio_read(v, CON + 0x18, 8, &x), 0);
  assert_int_equal(x, 4);                                   /* requested, no interrupt yet */
  assert_int_equal(vm_mmio_write(v, CON + 0x30, 8, 2), 0);   /* interrupt on a shutdown request */
  assert_int_equal(vm_mmio_read(v, CON + 0x30, 8, &x), 0);
  assert_int_equal(x, 2);
  assert_int_equal(vm_mmio_read(v, CON + 0x18, 8, &x), 0);
  assert_int_equal(x, 5);                                   /* the waiting request interrupts now */
  assert_int_equal(vm_mmio_write(v, CON + 0x18, 8, 5), 0);   /* acknowledged */
  assert_int_equal(vm_mmio_read(v, CON + 0x18, 8, &x), 0);
  assert_int_equal(x, 0);
  assert_int_equal(vm_request_shutdown(v), 0);               /* pressed again: at once */
  assert_int_equal(vm_mmio_read(v, CON + 0x18, 8, &x), 0);
  assert_int_equal(x, 5);
  vm_power_off(v, 0);
  assert_int_equal(vm_request_shutdown(v), HPVM_ESTATE);     /* nobody left to ask */
  vm_destroy(v);
}

static void test_unassigned_physical_addresses_read_all_ones(void **s) {
  (void)s;
  vm_config cfg = {.memory = 16 << 20, .ncpus = 1, .console_in = -1, .console_out = -1};
  vm *v;
  char msg[256];
  assert_int_equal(vm_create(&cfg, &v, msg, sizeof msg), 0);
  uint64_t x;
  assert_int_equal(vm_mmio_read(v, CON + 0x5000, 8, &x), 0);   /* no device 5 */
  assert_int_equal(x, ~0ull);
  assert_int_equal(vm_mmio_read(v, 0x40000000, 2, &x), 0);     /* above RAM */
  assert_int_equal(x, 0xffff);
  assert_int_equal(vm_mmio_write(v, 0x40000000, 8, 5), 0);     /* dropped */
  vm_destroy(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_guest_tx_register_writes_console_output),
    cmocka_unit_test(test_input_shows_in_rx_and_raises_the_interrupt_when_enabled),
    cmocka_unit_test(test_unassigned_physical_addresses_read_all_ones),
    cmocka_unit_test(test_shutdown_request_sets_status_bit_2_and_interrupts_when_enabled),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
