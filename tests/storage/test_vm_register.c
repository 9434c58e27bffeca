/* test_vm_register.c — per-host registrations in a VM configuration (storage.h
 * "Registration"): an empty list is every host; after a move the target is runnable, the
 * source Not Runnable with the reason (or gone with -D) and a third host not registered;
 * hpvmmodify's runnable_status is VM-wide before any migration and per host after; the list
 * survives the record round trip, is validated, and two concurrent moves cannot both land. */
#include "sto_test.h"

typedef struct fixture {
  char *dir;
  sto_store *a, *b;        /* the same shared directory, as hosts A and B */
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->dir = sto_test_dir();
  f->a = sto_test_open(f->dir, "hostA", NULL, NULL, false);
  f->b = sto_test_open(f->dir, "hostB", NULL, NULL, false);
  Hpvm__VmConfig c = HPVM__VM_CONFIG__INIT;
  Hpvm__VmEntitlement ent = HPVM__VM_ENTITLEMENT__INIT;
  ent.unit = HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT;
  ent.value = 10;
  c.name = (char *)"web1";
  c.os_type = HPVM__VM_OS_TYPE__VM_OS_TYPE_LINUX;
  c.vcpus = 1;
  c.memory_bytes = 64ull << 20;
  c.entitlement = &ent;
  c.boot = HPVM__VM_BOOT_MODE__VM_BOOT_MODE_MANUAL;
  if (sto_vm_create(f->a, &c, NULL)) fail_msg("create: %s", sto_error(f->a));
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  sto_close(f->a);
  sto_close(f->b);
  sto_test_rmdir(f->dir);
  free(f);
  return 0;
}

static Hpvm__VmConfig *load(sto_store *s) {
  Hpvm__VmConfig *c = NULL;
  if (sto_vm_load(s, "web1", &c)) fail_msg("load: %s", sto_error(s));
  return c;
}

/* Load, move from -> to, write; as host `s`. */
static void move(sto_store *s, const char *from, const char *to, bool drop) {
  Hpvm__VmConfig *c = load(s);
  assert_int_equal(sto_vm_register_move(c, from, to, drop, 1000), 0);
  if (sto_vm_update(s, c)) fail_msg("update: %s", sto_error(s));
  sto_vm_free(c);
}

static void test_a_vm_never_migrated_runs_on_every_host(void **state) {
  fixture *f = *state;
  Hpvm__VmConfig *c = load(f->a);
  assert_int_equal(c->n_registrations, 0);
  assert_int_equal(sto_vm_runnable_on(c, "hostA", NULL, 0), 0);
  assert_int_equal(sto_vm_runnable_on(c, "hostB", NULL, 0), 0);
  assert_int_equal(sto_vm_runnable_on(c, "anyhost", NULL, 0), 0);
  sto_vm_free(c);
}

static void test_after_a_move_the_target_runs_it_and_the_source_is_not_runnable(void **state) {
  fixture *f = *state;
  move(f->a, "hostA", "hostB", false);
  Hpvm__VmConfig *c = load(f->b);   /* what the other host reads back from the record */
  assert_int_equal(c->n_registrations, 2);
  const Hpvm__VmRegistration *ga = sto_vm_registration(c, "hostA"), *gb = sto_vm_registration(c, "hostB");
  assert_non_null(ga);
  assert_non_null(gb);
  assert_false(ga->runnable);
  assert_string_equal(ga->reason, "migrated to hostB");
  assert_true(gb->runnable);
  assert_int_equal(sto_vm_runnable_on(c, "hostB", NULL, 0), 0);
  char why[1024];
  assert_int_equal(sto_vm_runnable_on(c, "hostA", why, sizeof why), HPVM_ESTATE);
  assert_non_null(strstr(why, "not runnable on host hostA"));
  assert_non_null(strstr(why, "migrated to hostB"));
  assert_non_null(strstr(why, "start it on hostB"));
  assert_non_null(strstr(why, "hpvmmodify -P web1 -x runnable_status=enabled"));
  assert_int_equal(sto_vm_runnable_on(c, "hostC", why, sizeof why), HPVM_ESTATE);
  assert_non_null(strstr(why, "not registered on host hostC (it is registered on hostB)"));
  assert_null(strchr(why, '\n'));
  sto_vm_free(c);
}

static void test_a_move_with_drop_removes_the_source_registration(void **state) {
  fixture *f = *state;
  move(f->a, "hostA", "hostB", true);
  Hpvm__VmConfig *c = load(f->a);
  assert_int_equal(c->n_registrations, 1);
  assert_null(sto_vm_registration(c, "hostA"));
  char why[1024];
  assert_int_equal(sto_vm_runnable_on(c, "hostA", why, sizeof why), HPVM_ESTATE);
  assert_non_null(strstr(why, "not registered on host hostA"));
  sto_vm_free(c);
}

static void test_moving_back_makes_the_first_host_runnable_again(void **state) {
  fixture *f = *state;
  move(f->a, "hostA", "hostB", false);
  move(f->b, "hostB", "hostA", false);
  Hpvm__VmConfig *c = load(f->a);
  assert_int_equal(c->n_registrations, 2);
  assert_int_equal(sto_vm_runnable_on(c, "hostA", NULL, 0), 0);
  assert_int_equal(sto_vm_runnable_on(c, "hostB", NULL, 0), HPVM_ESTATE);
  assert_string_equal(sto_vm_registration(c, "hostB")->reason, "migrated to hostA");
  assert_string_equal(sto_vm_registration(c, "hostA")->reason, "");
  sto_vm_free(c);
}

static void test_runnable_status_is_vm_wide_before_a_migration_and_per_host_after(void **state) {
  fixture *f = *state;
  Hpvm__VmConfig *c = load(f->a);
  assert_int_equal(sto_vm_set_runnable(c, "hostA", false, "runnable_status=disabled", 1), 0);
  assert_true(c->not_runnable);
  assert_int_equal(c->n_registrations, 0);
  char why[1024];
  assert_int_equal(sto_vm_runnable_on(c, "hostB", why, sizeof why), HPVM_ESTATE);   /* every host */
  assert_non_null(strstr(why, "runnable_status=disabled"));
  assert_int_equal(sto_vm_set_runnable(c, "hostA", true, NULL, 2), 0);
  assert_false(c->not_runnable);
  assert_int_equal(sto_vm_runnable_on(c, "hostB", NULL, 0), 0);
  sto_vm_free(c);

  move(f->a, "hostA", "hostB", false);
  c = load(f->a);
  /* hpvmmodify -x runnable_status=enabled on A after the migration: A too. */
  assert_int_equal(sto_vm_set_runnable(c, "hostA", true, NULL, 3), 0);
  assert_int_equal(sto_vm_runnable_on(c, "hostA", NULL, 0), 0);
  assert_int_equal(sto_vm_runnable_on(c, "hostB", NULL, 0), 0);
  /* ... and disabled on B: only B. */
  assert_int_equal(sto_vm_set_runnable(c, "hostB", false, "runnable_status=disabled", 4), 0);
  assert_false(c->not_runnable);
  assert_int_equal(sto_vm_runnable_on(c, "hostB", why, sizeof why), HPVM_ESTATE);
  assert_non_null(strstr(why, "runnable_status=disabled"));
  assert_non_null(strstr(why, "start it on hostA"));
  assert_int_equal(sto_vm_runnable_on(c, "hostA", NULL, 0), 0);
  /* A third host registers itself the same way. */
  assert_int_equal(sto_vm_set_runnable(c, "hostC", true, NULL, 5), 0);
  assert_int_equal(sto_vm_runnable_on(c, "hostC", NULL, 0), 0);
  assert_int_equal(sto_vm_update(f->a, c), 0);
  sto_vm_free(c);
  c = load(f->b);
  assert_int_equal(c->n_registrations, 3);
  assert_int_equal(sto_vm_runnable_on(c, "hostC", NULL, 0), 0);
  sto_vm_free(c);
}

static void test_the_vm_wide_flag_holds_on_a_registered_host_and_a_move_clears_it(void **state) {
  fixture *f = *state;
  Hpvm__VmConfig *c = load(f->a);
  assert_int_equal(sto_vm_register(c, "hostA", true, NULL, 1), 0);
  c->not_runnable = true;
  assert_int_equal(sto_vm_runnable_on(c, "hostA", NULL, 0), HPVM_ESTATE);
  assert_int_equal(sto_vm_register_move(c, "hostA", "hostB", false, 2), 0);
  assert_false(c->not_runnable);
  assert_int_equal(sto_vm_runnable_on(c, "hostB", NULL, 0), 0);
  sto_vm_free(c);
}

static void test_bad_registrations_are_refused_and_a_move_to_itself_is_refused(void **state) {
  fixture *f = *state;
  Hpvm__VmConfig *c = load(f->a);
  char why[512];
  assert_int_equal(sto_vm_register_move(c, "hostA", "hostA", false, 1), HPVM_EINVAL);
  assert_int_equal(sto_vm_register(c, "bad/host", true, NULL, 1), HPVM_EINVAL);
  assert_int_equal(sto_vm_register(c, "hostA", true, NULL, 1), 0);
  assert_int_equal(sto_vm_register(c, "hostA", false, "again", 2), 0);   /* replaces, not a second entry */
  assert_int_equal(c->n_registrations, 1);
  assert_int_equal(sto_vm_validate(c, why, sizeof why), 0);
  /* A record written by something else with the same host twice is refused by name. */
  assert_int_equal(sto_vm_register(c, "hostB", true, NULL, 3), 0);
  char *saved = c->registrations[1]->host;
  c->registrations[1]->host = (char *)"hostA";
  assert_int_equal(sto_vm_validate(c, why, sizeof why), HPVM_EINVAL);
  assert_non_null(strstr(why, "host hostA is registered twice"));
  assert_int_equal(sto_vm_update(f->a, c), HPVM_EINVAL);
  c->registrations[1]->host = saved;
  sto_vm_registrations_clear(c);
  assert_int_equal(c->n_registrations, 0);
  assert_int_equal(sto_vm_runnable_on(c, "hostZ", NULL, 0), 0);
  sto_vm_free(c);
}

static void test_two_hosts_moving_it_at_once_cannot_both_win(void **state) {
  fixture *f = *state;
  Hpvm__VmConfig *ca = load(f->a), *cb = load(f->b);
  assert_int_equal(sto_vm_register_move(ca, "hostA", "hostB", false, 1), 0);
  assert_int_equal(sto_vm_register_move(cb, "hostA", "hostC", false, 1), 0);
  assert_int_equal(sto_vm_update(f->a, ca), 0);
  assert_int_equal(sto_vm_update(f->b, cb), HPVM_EBUSY);   /* read again, check again */
  sto_vm_free(ca);
  sto_vm_free(cb);
  Hpvm__VmConfig *c = load(f->b);
  assert_int_equal(sto_vm_runnable_on(c, "hostB", NULL, 0), 0);
  assert_int_equal(sto_vm_runnable_on(c, "hostC", NULL, 0), HPVM_ESTATE);
  sto_vm_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_a_vm_never_migrated_runs_on_every_host, setup, teardown),
    cmocka_unit_test_setup_teardown(test_after_a_move_the_target_runs_it_and_the_source_is_not_runnable, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_move_with_drop_removes_the_source_registration, setup, teardown),
    cmocka_unit_test_setup_teardown(test_moving_back_makes_the_first_host_runnable_again, setup, teardown),
    cmocka_unit_test_setup_teardown(test_runnable_status_is_vm_wide_before_a_migration_and_per_host_after, setup, teardown),
    cmocka_unit_test_setup_teardown(test_the_vm_wide_flag_holds_on_a_registered_host_and_a_move_clears_it, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_registrations_are_refused_and_a_move_to_itself_is_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_two_hosts_moving_it_at_once_cannot_both_win, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
