/* test_cluster.c — the cluster's records: its identity and secret (created once, readable
 * by root only, refused when others could read them) and the hosts' public keys. */
#include "sto_test.h"

typedef struct fixture {
  char *dir;
  sto_store *s;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->dir = sto_test_dir();
  f->s = sto_test_open(f->dir, "hostA", NULL, NULL, false);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  sto_close(f->s);
  sto_test_rmdir(f->dir);
  free(f);
  return 0;
}

static void test_cluster_identity_and_secret_are_created_once_and_kept_private(void **state) {
  fixture *f = *state;
  struct stat st;
  assert_int_equal(stat(sto_test_path(f->dir, "cluster"), &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700);
  uint8_t secret[32], back[32];
  for (int i = 0; i < 32; i++) secret[i] = (uint8_t)(i * 7 + 1);
  char id[37], id2[37], name[64];
  assert_int_equal(sto_cluster_read(f->s, id, name, sizeof name, back), HPVM_ENOENT);
  assert_non_null(strstr(sto_error(f->s), "hpvmhost init"));
  assert_int_equal(sto_cluster_create(f->s, "lab", secret, id), 0);
  assert_int_equal(strlen(id), 36);
  assert_int_equal(stat(sto_test_path(f->dir, "cluster/secret"), &st), 0);
  assert_int_equal(st.st_mode & 077, 0);
  assert_int_equal(sto_cluster_read(f->s, id2, name, sizeof name, back), 0);
  assert_string_equal(id2, id);
  assert_string_equal(name, "lab");
  assert_memory_equal(back, secret, 32);
  assert_int_equal(sto_cluster_create(f->s, "other", secret, NULL), HPVM_EEXIST);
  assert_non_null(strstr(sto_error(f->s), "already has a cluster (lab"));
  /* A secret others can read is refused, like ssh refuses such a key. */
  chmod(sto_test_path(f->dir, "cluster/secret"), 0644);
  assert_int_equal(sto_cluster_read(f->s, id2, name, sizeof name, back), HPVM_EIO);
  assert_non_null(strstr(sto_error(f->s), "chmod 600"));
  chmod(sto_test_path(f->dir, "cluster/secret"), 0600);
  chmod(sto_test_path(f->dir, "cluster"), 0755);
  assert_int_equal(sto_cluster_read(f->s, id2, name, sizeof name, back), HPVM_EIO);
  assert_non_null(strstr(sto_error(f->s), "chmod 700"));
  chmod(sto_test_path(f->dir, "cluster"), 0700);
}

static void test_host_keys_are_registered_replaced_and_listed(void **state) {
  fixture *f = *state;
  uint8_t sign[32], kx[32], s2[32], k2[32];
  memset(sign, 0xab, 32), memset(kx, 0xcd, 32);
  assert_int_equal(sto_host_key_write(f->s, "hostB", sign, kx), 0);
  assert_int_equal(sto_host_key_write(f->s, "hostA", kx, sign), 0);
  assert_int_equal(sto_host_key_read(f->s, "hostB", s2, k2), 0);
  assert_memory_equal(s2, sign, 32);
  assert_memory_equal(k2, kx, 32);
  memset(sign, 0x11, 32);
  assert_int_equal(sto_host_key_write(f->s, "hostB", sign, kx), 0);
  assert_int_equal(sto_host_key_read(f->s, "hostB", s2, k2), 0);
  assert_memory_equal(s2, sign, 32);
  assert_int_equal(sto_host_key_read(f->s, "hostQ", s2, k2), HPVM_ENOENT);
  assert_non_null(strstr(sto_error(f->s), "host hostQ has no key"));
  char **names;
  size_t n;
  assert_int_equal(sto_host_list(f->s, &names, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(names[0], "hostA");
  assert_string_equal(names[1], "hostB");
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_cluster_identity_and_secret_are_created_once_and_kept_private, setup, teardown),
    cmocka_unit_test_setup_teardown(test_host_keys_are_registered_replaced_and_listed, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
