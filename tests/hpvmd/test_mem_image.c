/* test_mem_image.c — the VM attribute mem_image (hpvm -x mem_image=FILE, the benchmarks'
 * preloaded guest memory) through hpvmd: the guest it starts sees the file's bytes as its RAM
 * (hpvmk's memsum prints the checksum of the range, compared with the file's), and an image the
 * VM cannot hold keeps it Off with hpvmapp's reason. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hpvmd_test.h"

#define OFF HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF

static void set_mem_image(ht_env *e, const char *name, const char *path) {
  Hpvm__VmAttribute a = HPVM__VM_ATTRIBUTE__INIT;
  a.key = "mem_image";
  a.value = (char *)path;
  Hpvm__VmAttribute *attrs[] = {&a};
  Hpvm__VmConfig c = HPVM__VM_CONFIG__INIT;
  c.n_attributes = 1;
  c.attributes = attrs;
  char *fields[] = {"attributes"};
  Hpvm__ModifyVmRequest m = HPVM__MODIFY_VM_REQUEST__INIT;
  m.name = (char *)name;
  m.config = &c;
  m.n_fields = 1;
  m.fields = fields;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_MODIFY;
  req.modify = &m;
  assert_int_equal(ht_call(e, &req, NULL), 0);
}

/* An image of `mib` MiB whose 8-byte words are a function of their offset; returns hpvmk
 * memsum's checksum of [16 MiB, 16 MiB + sum_mib) of it (s = rotl(s, 1) ^ word). */
static uint64_t make_image(const char *path, unsigned mib, unsigned sum_mib) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  uint64_t s = 0;
  for (uint64_t off = 0; off < (uint64_t)mib << 20; off += 8) {
    uint64_t w = (off * 0x9e3779b97f4a7c15ull) ^ (off >> 7);
    assert_int_equal(fwrite(&w, 8, 1, f), 1);
    if (off >= 16u << 20 && off < (16ull + sum_mib) << 20) s = ((s << 1) | (s >> 63)) ^ w;
  }
  fclose(f);
  return s;
}

static void test_guest_sees_the_image_as_its_memory(void **state) {
  ht_env *e = *state;
  char msg[1200], img[400], path[400], want[100];
  snprintf(img, sizeof img, "%s/ram.img", e->dir);
  uint64_t sum = make_image(img, 24, 4);
  assert_int_equal(ht_create(e, "img", 32, "memsum size=4M", msg, sizeof msg), 0);
  set_mem_image(e, "img", img);
  assert_int_equal(ht_start(e, "img", msg, sizeof msg), 0);
  assert_true(ht_wait_state(e, "img", OFF, 20000));   /* memsum passes, the kernel exits 0 */
  snprintf(path, sizeof path, "%s/vms/img/console.log", e->state);
  char *log = ht_read_file(path);
  assert_non_null(log);
  snprintf(want, sizeof want, "memsum: 4 MiB at 0x1000000: checksum %016llx\n", (unsigned long long)sum);
  if (!strstr(log, want) || !strstr(log, "PASS memsum")) {
    ht_dump_log(e);
    fail_msg("wanted \"%s\" on the console:\n%s", want, log);
  }
  free(log);
}

static void test_an_image_larger_than_the_vm_keeps_it_off_with_the_reason(void **state) {
  ht_env *e = *state;
  char msg[1200], reason[600], img[400];
  snprintf(img, sizeof img, "%s/big.img", e->dir);
  int fd = open(img, O_CREAT | O_WRONLY | O_TRUNC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, 33 << 20), 0);
  close(fd);
  assert_int_equal(ht_create(e, "big", 32, "idle", msg, sizeof msg), 0);
  set_mem_image(e, "big", img);
  assert_int_equal(ht_start(e, "big", msg, sizeof msg), HPVM_EIO);
  assert_non_null(strstr(msg, "more than the VM's 32 MiB of RAM"));
  assert_int_equal(ht_state(e, "big", NULL, reason, sizeof reason), OFF);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_guest_sees_the_image_as_its_memory, ht_setup, ht_teardown),
      cmocka_unit_test_setup_teardown(test_an_image_larger_than_the_vm_keeps_it_off_with_the_reason, ht_setup,
                                      ht_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
