/* test_vm_rename.c — sto_vm_rename: the name changes and nothing else does, a taken or
 * invalid name and a held lease are refused, and a crash (with a power loss after) at each
 * I/O call of a rename leaves exactly one VM once the VMs are listed. */
#include <errno.h>

#include "sto_test.h"

typedef struct fixture {
  char *dir;
  sto_store *s;
  Hpvm__VmEntitlement ent;
  Hpvm__VmConfig cfg;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->dir = sto_test_dir();
  f->s = sto_test_open(f->dir, "hostA", NULL, NULL, false);
  f->ent = (Hpvm__VmEntitlement)HPVM__VM_ENTITLEMENT__INIT;
  f->ent.unit = HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT, f->ent.value = 10;
  f->cfg = (Hpvm__VmConfig)HPVM__VM_CONFIG__INIT;
  f->cfg.name = (char *)"alpha", f->cfg.os_type = HPVM__VM_OS_TYPE__VM_OS_TYPE_LINUX, f->cfg.vcpus = 2;
  f->cfg.memory_bytes = 64u << 20, f->cfg.entitlement = &f->ent, f->cfg.boot = HPVM__VM_BOOT_MODE__VM_BOOT_MODE_AUTO;
  if (sto_vm_create(f->s, &f->cfg, NULL)) fail_msg("create: %s", sto_error(f->s));
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

/* The names sto_vm_list shows, comma-separated. */
static void listed(sto_store *s, char *buf, size_t cap) {
  sto_vm_entry *v;
  size_t n;
  if (sto_vm_list(s, &v, &n)) fail_msg("list: %s", sto_error(s));
  buf[0] = '\0';
  for (size_t i = 0; i < n; i++)
    snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i ? "," : "", v[i].name);
  sto_vm_list_free(v, n);
}

static void test_rename_changes_the_name_and_keeps_uuid_and_vm_number(void **state) {
  fixture *f = *state;
  Hpvm__VmConfig *before, *after;
  assert_int_equal(sto_vm_load(f->s, "alpha", &before), 0);
  assert_int_equal(sto_vm_rename(f->s, "alpha", "beta", before->config_generation, &after), 0);
  assert_string_equal(after->name, "beta");
  assert_string_equal(after->uuid, before->uuid);
  assert_int_equal(after->vm_number, before->vm_number);
  assert_int_equal(after->vcpus, 2);
  assert_int_equal(after->created_ns, before->created_ns);
  Hpvm__VmConfig *gone;
  assert_int_equal(sto_vm_load(f->s, "alpha", &gone), HPVM_ENOENT);
  struct stat st;
  assert_int_equal(stat(sto_test_path(f->dir, "vms/alpha"), &st), -1);
  char names[256];
  listed(f->s, names, sizeof names);
  assert_string_equal(names, "beta");
  /* The VM # went with it: removing beta frees it for the next create. */
  assert_int_equal(sto_vm_remove(f->s, "beta", after->config_generation, 0), 0);
  Hpvm__VmConfig *again;
  assert_int_equal(sto_vm_create(f->s, &f->cfg, &again), 0);
  assert_int_equal(again->vm_number, before->vm_number);
  sto_vm_free(again);
  sto_vm_free(before);
  sto_vm_free(after);
}

static void test_rename_to_an_existing_name_is_refused(void **state) {
  fixture *f = *state;
  f->cfg.name = (char *)"beta";
  assert_int_equal(sto_vm_create(f->s, &f->cfg, NULL), 0);
  assert_int_equal(sto_vm_rename(f->s, "alpha", "beta", 0, NULL), HPVM_EEXIST);
  assert_non_null(strstr(sto_error(f->s), "already exists"));
  char names[256];
  listed(f->s, names, sizeof names);
  assert_string_equal(names, "alpha,beta");
}

static void test_rename_to_an_invalid_name_is_refused_and_leaves_nothing(void **state) {
  fixture *f = *state;
  assert_int_equal(sto_vm_rename(f->s, "alpha", "-bad", 0, NULL), HPVM_EINVAL);
  assert_int_equal(sto_vm_rename(f->s, "alpha", "a/b", 0, NULL), HPVM_EINVAL);
  assert_int_equal(sto_vm_rename(f->s, "nosuch", "gamma", 0, NULL), HPVM_ENOENT);
  struct stat st;
  assert_int_equal(stat(sto_test_path(f->dir, "vms/gamma"), &st), -1);
  char names[256];
  listed(f->s, names, sizeof names);
  assert_string_equal(names, "alpha");
}

static void test_rename_is_refused_while_a_host_holds_the_lease(void **state) {
  fixture *f = *state;
  sto_store *b = sto_test_open(f->dir, "hostB", NULL, NULL, false);
  sto_observer obs = {0};
  sto_lease l;
  assert_int_equal(sto_lease_acquire(b, "alpha", 10000, 1, &obs, &l), 0);
  assert_int_equal(sto_vm_rename(f->s, "alpha", "beta", 0, NULL), HPVM_EBUSY);
  assert_non_null(strstr(sto_error(f->s), "hostB"));
  char names[256];
  listed(f->s, names, sizeof names);
  assert_string_equal(names, "alpha");
  struct stat st;
  assert_int_equal(stat(sto_test_path(f->dir, "vms/beta"), &st), -1);
  assert_int_equal(sto_lease_release(b, "alpha", &l), 0);
  assert_int_equal(sto_vm_rename(f->s, "alpha", "beta", 0, NULL), 0);
  sto_close(b);
}

static void test_a_stale_generation_is_refused(void **state) {
  fixture *f = *state;
  assert_int_equal(sto_vm_rename(f->s, "alpha", "beta", 7, NULL), HPVM_EBUSY);
}

/* Crash at call n of a rename, lose power, list: exactly one VM, alpha or beta, with the
 * original uuid; beta whenever the rename had reported success. */
static void test_crash_at_every_step_of_a_rename_leaves_exactly_one_vm(void **state) {
  fixture *f = *state;
  Hpvm__VmConfig *orig;
  assert_int_equal(sto_vm_load(f->s, "alpha", &orig), 0);
  unsigned long steps = 0, forward = 0, back = 0;
  for (int revert = 0; revert <= 1; revert++)
    for (unsigned long n = 1;; n++) {
      sto_faultio *fio = sto_faultio_new(NULL);
      sto_store *s = sto_test_open(f->dir, "hostA", sto_faultio_io(fio), NULL, false);
      sto_faultio_reset(fio);
      sto_faultio_crash(fio, n);
      int r = sto_vm_rename(s, "alpha", "beta", 0, NULL);
      bool done = !sto_faultio_crashed(fio);
      if (done && r) fail_msg("rename without a crash failed: %s", sto_error(s));
      sto_close(s);
      sto_faultio_powerloss(fio, revert);
      sto_faultio_free(fio);
      sto_store *chk = sto_test_open(f->dir, "reader", NULL, NULL, false);
      sto_vm_entry *v;
      size_t cnt;
      if (sto_vm_list(chk, &v, &cnt)) fail_msg("list after a crash at call %lu: %s", n, sto_error(chk));
      if (cnt != 1) fail_msg("a crash at call %lu (power loss %s) left %zu VMs", n, revert ? "reverting" : "keeping", cnt);
      assert_non_null(v[0].cfg);
      assert_string_equal(v[0].cfg->uuid, orig->uuid);
      assert_int_equal(v[0].cfg->vm_number, orig->vm_number);
      if (r == 0) assert_string_equal(v[0].name, "beta");
      bool renamed = !strcmp(v[0].name, "beta");
      renamed ? forward++ : back++;
      /* The listing left things clean: a second listing agrees, and the next rename works. */
      sto_vm_list_free(v, cnt);
      char names[256];
      listed(chk, names, sizeof names);
      assert_string_equal(names, renamed ? "beta" : "alpha");
      if (renamed) assert_int_equal(sto_vm_rename(chk, "beta", "alpha", 0, NULL), 0);
      sto_close(chk);
      if (done) {
        steps = n - 1;
        break;
      }
      assert_true(n < 400);
    }
  sto_vm_free(orig);
  print_message("a rename takes %lu I/O calls; crashes ended %lu times as alpha, %lu as beta\n", steps, back, forward);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_rename_changes_the_name_and_keeps_uuid_and_vm_number, setup, teardown),
    cmocka_unit_test_setup_teardown(test_rename_to_an_existing_name_is_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_rename_to_an_invalid_name_is_refused_and_leaves_nothing, setup, teardown),
    cmocka_unit_test_setup_teardown(test_rename_is_refused_while_a_host_holds_the_lease, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_stale_generation_is_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_crash_at_every_step_of_a_rename_leaves_exactly_one_vm, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
