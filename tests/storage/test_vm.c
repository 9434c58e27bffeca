/* test_vm.c — VM configuration records: name rules, validation with clear reasons, create
 * (duplicates refused, uuid and VM # assigned), load, compare-and-swap update, remove (not
 * while a host owns the guest; disk images left alone), list with damaged entries shown by
 * name. */
#include "sto_test.h"

typedef struct fixture {
  char *dir;
  sto_store *s;
  /* A configuration to start from, built from the parts below. */
  Hpvm__VmConfig cfg;
  Hpvm__VmEntitlement ent;
  Hpvm__VmStorageDevice dev[3], *devp[3];
  Hpvm__VmNetwork net[1], *netp[1];
  Hpvm__VmAttribute attr[2], *attrp[2];
} fixture;

static void base_config(fixture *f, const char *name) {
  f->cfg = (Hpvm__VmConfig)HPVM__VM_CONFIG__INIT;
  f->cfg.name = (char *)name;
  f->cfg.os_type = HPVM__VM_OS_TYPE__VM_OS_TYPE_LINUX;
  f->cfg.vcpus = 2;
  f->cfg.memory_bytes = 2ull << 30;
  f->ent = (Hpvm__VmEntitlement)HPVM__VM_ENTITLEMENT__INIT;
  f->ent.unit = HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT;
  f->ent.value = 10;
  f->cfg.entitlement = &f->ent;
  f->cfg.boot = HPVM__VM_BOOT_MODE__VM_BOOT_MODE_MANUAL;
  for (int i = 0; i < 3; i++) {
    f->dev[i] = (Hpvm__VmStorageDevice)HPVM__VM_STORAGE_DEVICE__INIT;
    f->dev[i].type = HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_DISK;
    f->dev[i].adapter = (char *)"avio_stor";
    f->dev[i].bus = 0;
    f->dev[i].device = 1;
    f->dev[i].target = (uint32_t)i;
    f->dev[i].backing = HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_FILE;
    f->dev[i].path = (char *)"/var/hpvm/disk.img";
    f->devp[i] = &f->dev[i];
  }
  f->dev[2].type = HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_DVD;
  f->dev[2].backing = HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_NULL;
  f->dev[2].path = (char *)"";
  f->cfg.n_devices = 3;
  f->cfg.devices = f->devp;
  f->net[0] = (Hpvm__VmNetwork)HPVM__VM_NETWORK__INIT;
  f->net[0].adapter = (char *)"avio_lan";
  f->net[0].bus = 0;
  f->net[0].device = 2;
  f->net[0].mac = (char *)"0x02aabbccddee";
  f->net[0].vswitch = (char *)"vsw1";
  f->netp[0] = &f->net[0];
  f->cfg.n_networks = 1;
  f->cfg.networks = f->netp;
  const char *keys[] = {"ha", "migrate_init_phase_timeout"}, *vals[] = {"on", "90"};
  for (int i = 0; i < 2; i++) {
    f->attr[i] = (Hpvm__VmAttribute)HPVM__VM_ATTRIBUTE__INIT;
    f->attr[i].key = (char *)keys[i];
    f->attr[i].value = (char *)vals[i];
    f->attrp[i] = &f->attr[i];
  }
  f->cfg.n_attributes = 2;
  f->cfg.attributes = f->attrp;
  f->cfg.label = (char *)"web front end";
  f->cfg.kernel = (char *)"/var/hpvm/hpvmk";
  f->cfg.cmdline = (char *)"workload=heartbeat";
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->dir = sto_test_dir();
  f->s = sto_test_open(f->dir, "hostA", NULL, NULL, false);
  base_config(f, "web1");
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

static void test_vm_names_follow_hpvm_rules(void **state) {
  (void)state;
  char why[512];
  const char *good[] = {"web1", "a", "Web_01-test.example", "0vm", "_x"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) assert_int_equal(sto_vm_name_check(good[i], why, sizeof why), 0);
  assert_int_equal(sto_vm_name_check("", why, sizeof why), HPVM_EINVAL);
  assert_non_null(strstr(why, "empty"));
  assert_int_equal(sto_vm_name_check("-web", why, sizeof why), HPVM_EINVAL);
  assert_non_null(strstr(why, "starts with '-'"));
  assert_int_equal(sto_vm_name_check(".hidden", why, sizeof why), HPVM_EINVAL);
  assert_int_equal(sto_vm_name_check("web 1", why, sizeof why), HPVM_EINVAL);
  assert_non_null(strstr(why, "has ' ' at position 4"));
  assert_int_equal(sto_vm_name_check("a/b", why, sizeof why), HPVM_EINVAL);
  assert_non_null(strstr(why, "'/' at position 2"));
  assert_int_equal(sto_vm_name_check("caf\xc3\xa9", why, sizeof why), HPVM_EINVAL);
  assert_non_null(strstr(why, "byte 0xc3 at position 4"));
  char longname[STO_NAME_MAX + 2];
  memset(longname, 'a', sizeof longname);
  longname[STO_NAME_MAX] = '\0';
  assert_int_equal(sto_vm_name_check(longname, why, sizeof why), 0);
  longname[STO_NAME_MAX] = 'a', longname[STO_NAME_MAX + 1] = '\0';
  assert_int_equal(sto_vm_name_check(longname, why, sizeof why), HPVM_EINVAL);
  assert_non_null(strstr(why, "256 characters long; at most 255"));
  assert_int_equal(sto_vm_name_check("ok", NULL, 0), 0);
  assert_int_equal(sto_host_name_check("host-1.lab", why, sizeof why), 0);
  assert_int_equal(sto_host_name_check("host:1", why, sizeof why), HPVM_EINVAL);
}

/* Expect cfg to be refused with a reason containing `want`, then restore it. */
#define REFUSED(f, want)                                                   \
  do {                                                                     \
    char why_[512];                                                        \
    assert_int_equal(sto_vm_validate(&(f)->cfg, why_, sizeof why_), HPVM_EINVAL); \
    if (!strstr(why_, want)) fail_msg("reason \"%s\" lacks \"%s\"", why_, want); \
    base_config(f, "web1");                                                \
  } while (0)

static void test_invalid_configurations_are_refused_with_the_reason(void **state) {
  fixture *f = *state;
  char why[512];
  assert_int_equal(sto_vm_validate(&f->cfg, why, sizeof why), 0);
  f->cfg.vcpus = 0;
  REFUSED(f, "0 vCPUs; a guest has 1 to 128");
  f->cfg.vcpus = 129;
  REFUSED(f, "129 vCPUs");
  f->cfg.memory_bytes = 1000;
  REFUSED(f, "at least 1 MiB in whole 4 KiB pages");
  f->ent.value = 101;   /* 0 is legal: a best-effort guest */
  REFUSED(f, "entitlement 101%; give 0 to 100");
  f->ent.value = 50, f->ent.max = 40;
  REFUSED(f, "entitlement cap 40%; give 50 to 100");
  f->ent.unit = HPVM__VM_ENTITLEMENT__UNIT__UNIT_CYCLES, f->ent.value = 1000, f->ent.max = 500;
  REFUSED(f, "cap 500 MHz is below 1000 MHz");
  f->cfg.entitlement = NULL;
  REFUSED(f, "no CPU entitlement");
  f->cfg.os_type = 0;
  REFUSED(f, "unknown OS type");
  f->cfg.boot = 0;
  REFUSED(f, "neither auto nor manual");
  f->dev[1].target = 0;
  REFUSED(f, "device 2 ((device)) and device 1 use the same bus 0, device 1, target 0");
  f->dev[0].path = (char *)"disk.img";
  REFUSED(f, "device 1 ((device)): the backing path \"disk.img\" is not absolute");
  f->dev[0].adapter = (char *)"ide";
  REFUSED(f, "adapter \"ide\"; use avio_stor or scsi");
  f->net[0].device = 1;
  REFUSED(f, "network 1 ((network)) uses bus 0, device 1, which device 1 has");
  f->net[0].mac = (char *)"aa:bb:cc:dd:ee:ff";
  REFUSED(f, "is not 0x and 12 hex digits");
  f->attr[1].key = (char *)"ha";
  REFUSED(f, "attribute ha is given twice");
  f->attr[0].key = (char *)"bad key";
  REFUSED(f, "attribute name \"bad key\"");
  f->cfg.kernel = (char *)"hpvmk";
  REFUSED(f, "kernel path \"hpvmk\" is not absolute");
  f->cfg.label = (char *)"two\nlines";
  REFUSED(f, "label");
}

static void test_device_limits_are_30_without_avio_and_158_with_it(void **state) {
  fixture *f = *state;
  enum { N = 160 };
  Hpvm__VmStorageDevice *devs = calloc(N, sizeof *devs);
  Hpvm__VmStorageDevice **pp = calloc(N, sizeof *pp);
  for (int i = 0; i < N; i++) {
    devs[i] = f->dev[0];
    devs[i].bus = (uint32_t)(i / 8), devs[i].device = 3, devs[i].target = (uint32_t)(i % 8);
    pp[i] = &devs[i];
  }
  f->cfg.devices = pp;
  f->cfg.n_networks = 0;
  char why[512];
  f->cfg.n_devices = 158;
  assert_int_equal(sto_vm_validate(&f->cfg, why, sizeof why), 0);
  f->cfg.n_devices = 159;
  assert_int_equal(sto_vm_validate(&f->cfg, why, sizeof why), HPVM_EINVAL);
  assert_non_null(strstr(why, "159 devices; a guest has at most 158"));
  f->cfg.n_devices = 31;
  for (int i = 0; i < 31; i++) devs[i].adapter = (char *)"scsi";
  assert_int_equal(sto_vm_validate(&f->cfg, why, sizeof why), HPVM_EINVAL);
  assert_non_null(strstr(why, "31 devices that are not AVIO; a guest has at most 30"));
  f->cfg.n_devices = 30;
  assert_int_equal(sto_vm_validate(&f->cfg, why, sizeof why), 0);
  free(devs);
  free(pp);
}

static void test_create_then_load_returns_every_field_and_what_the_store_assigned(void **state) {
  fixture *f = *state;
  Hpvm__VmConfig *made;
  int r = sto_vm_create(f->s, &f->cfg, &made);
  if (r) fail_msg("%s", sto_error(f->s));
  assert_int_equal(made->config_generation, 1);
  assert_int_equal(made->vm_number, 1);
  assert_int_equal(strlen(made->uuid), 36);
  assert_int_equal(made->uuid[14], '4');
  assert_string_equal(made->created_host, "hostA");
  assert_true(made->created_ns > 0 && made->created_ns == made->modified_ns);
  Hpvm__VmConfig *c;
  assert_int_equal(sto_vm_load(f->s, "web1", &c), 0);
  assert_string_equal(c->name, "web1");
  assert_string_equal(c->uuid, made->uuid);
  assert_int_equal(c->os_type, HPVM__VM_OS_TYPE__VM_OS_TYPE_LINUX);
  assert_int_equal(c->vcpus, 2);
  assert_int_equal(c->memory_bytes, 2ull << 30);
  assert_int_equal(c->entitlement->value, 10);
  assert_int_equal(c->n_devices, 3);
  assert_int_equal(c->devices[1]->target, 1);
  assert_string_equal(c->devices[0]->path, "/var/hpvm/disk.img");
  assert_int_equal(c->devices[2]->type, HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_DVD);
  assert_int_equal(c->n_networks, 1);
  assert_string_equal(c->networks[0]->vswitch, "vsw1");
  assert_int_equal(c->n_attributes, 2);
  assert_string_equal(c->attributes[1]->key, "migrate_init_phase_timeout");
  assert_string_equal(c->label, "web front end");
  assert_string_equal(c->kernel, "/var/hpvm/hpvmk");
  assert_string_equal(c->cmdline, "workload=heartbeat");
  assert_int_equal(c->boot, HPVM__VM_BOOT_MODE__VM_BOOT_MODE_MANUAL);
  assert_int_equal(c->config_generation, 1);
  sto_vm_free(c);
  sto_vm_free(made);
  /* The next VM gets the next number; a given number must be free. */
  base_config(f, "web2");
  assert_int_equal(sto_vm_create(f->s, &f->cfg, &made), 0);
  assert_int_equal(made->vm_number, 2);
  sto_vm_free(made);
  base_config(f, "web3");
  f->cfg.vm_number = 2;
  assert_int_equal(sto_vm_create(f->s, &f->cfg, NULL), HPVM_EEXIST);
  assert_non_null(strstr(sto_error(f->s), "VM # 2 is taken"));
  f->cfg.vm_number = 40;
  assert_int_equal(sto_vm_create(f->s, &f->cfg, &made), 0);
  assert_int_equal(made->vm_number, 40);
  sto_vm_free(made);
}

static void test_create_refuses_a_duplicate_name_and_an_invalid_config(void **state) {
  fixture *f = *state;
  assert_int_equal(sto_vm_create(f->s, &f->cfg, NULL), 0);
  assert_int_equal(sto_vm_create(f->s, &f->cfg, NULL), HPVM_EEXIST);
  assert_non_null(strstr(sto_error(f->s), "a VM named web1 already exists"));
  /* The refused create did not use up a VM number. */
  base_config(f, "web2");
  Hpvm__VmConfig *made;
  assert_int_equal(sto_vm_create(f->s, &f->cfg, &made), 0);
  assert_int_equal(made->vm_number, 2);
  sto_vm_free(made);
  f->cfg.name = (char *)"bad name";
  assert_int_equal(sto_vm_create(f->s, &f->cfg, NULL), HPVM_EINVAL);
  assert_non_null(strstr(sto_error(f->s), "' ' at position 4"));
  assert_int_equal(sto_vm_load(f->s, "nosuch", &made), HPVM_ENOENT);
  assert_non_null(strstr(sto_error(f->s), "no VM named nosuch"));
}

static void test_update_is_refused_after_someone_else_updated(void **state) {
  fixture *f = *state;
  assert_int_equal(sto_vm_create(f->s, &f->cfg, NULL), 0);
  Hpvm__VmConfig *a, *b;
  assert_int_equal(sto_vm_load(f->s, "web1", &a), 0);
  assert_int_equal(sto_vm_load(f->s, "web1", &b), 0);
  a->vcpus = 4;
  assert_int_equal(sto_vm_update(f->s, a), 0);
  assert_int_equal(a->config_generation, 2);
  b->memory_bytes = 4ull << 30;
  assert_int_equal(sto_vm_update(f->s, b), HPVM_EBUSY);
  assert_non_null(strstr(sto_error(f->s), "changed since it was read"));
  /* The loser reloads, re-applies and wins; both changes are kept. */
  sto_vm_free(b);
  assert_int_equal(sto_vm_load(f->s, "web1", &b), 0);
  b->memory_bytes = 4ull << 30;
  assert_int_equal(sto_vm_update(f->s, b), 0);
  Hpvm__VmConfig *c;
  assert_int_equal(sto_vm_load(f->s, "web1", &c), 0);
  assert_int_equal(c->vcpus, 4);
  assert_int_equal(c->memory_bytes, 4ull << 30);
  assert_int_equal(c->config_generation, 3);
  /* What the store owns cannot be changed by an update. */
  c->vm_number = 9;
  assert_int_equal(sto_vm_update(f->s, c), HPVM_EINVAL);
  assert_non_null(strstr(sto_error(f->s), "cannot be changed"));
  sto_vm_free(a), sto_vm_free(b), sto_vm_free(c);
}

static void test_a_damaged_config_is_reported_by_name_listed_and_removed_only_by_force(void **state) {
  fixture *f = *state;
  assert_int_equal(sto_vm_create(f->s, &f->cfg, NULL), 0);
  base_config(f, "web2");
  assert_int_equal(sto_vm_create(f->s, &f->cfg, NULL), 0);
  const char *path = sto_test_path(f->dir, "vms/web1/config");
  uint8_t buf[4096];
  size_t n = file_read(path, buf, sizeof buf);
  buf[n - 1] ^= 1;
  file_write(path, buf, n);
  Hpvm__VmConfig *c;
  assert_int_equal(sto_vm_load(f->s, "web1", &c), HPVM_ECORRUPT);
  char want[PATH_MAX + 128];
  snprintf(want, sizeof want, "%s/vms/web1/config: checksum mismatch; restore it from a backup or remove the VM with "
           "hpvmremove -P web1 -F", f->dir);
  assert_string_equal(sto_error(f->s), want);
  sto_vm_entry *v;
  size_t cnt;
  assert_int_equal(sto_vm_list(f->s, &v, &cnt), 0);
  assert_int_equal(cnt, 2);
  assert_string_equal(v[0].name, "web1");
  assert_null(v[0].cfg);
  assert_int_equal(v[0].err, HPVM_ECORRUPT);
  assert_string_equal(v[0].error, want);
  assert_string_equal(v[1].name, "web2");
  assert_non_null(v[1].cfg);
  sto_vm_list_free(v, cnt);
  assert_int_equal(sto_vm_remove(f->s, "web1", 1, 0), HPVM_ECORRUPT);
  assert_true(file_exists(path));
  assert_int_equal(sto_vm_remove(f->s, "web1", 0, STO_FORCE), 0);
  assert_false(file_exists(sto_test_path(f->dir, "vms/web1")));
  assert_false(file_exists(sto_test_path(f->dir, "vms/.vmnum/1")));  /* found by name */
  assert_true(file_exists(sto_test_path(f->dir, "vms/.vmnum/2")));
}

static void test_remove_waits_for_the_lease_and_leaves_foreign_files(void **state) {
  fixture *f = *state;
  Hpvm__VmConfig *made;
  assert_int_equal(sto_vm_create(f->s, &f->cfg, &made), 0);
  sto_vm_free(made);
  sto_observer obs = {0};
  sto_lease l;
  assert_int_equal(sto_lease_acquire(f->s, "web1", 5000, 1, &obs, &l), 0);
  assert_int_equal(sto_vm_remove(f->s, "web1", 1, 0), HPVM_EBUSY);
  assert_non_null(strstr(sto_error(f->s), "web1 is owned by host hostA"));
  assert_int_equal(sto_lease_release(f->s, "web1", &l), 0);
  assert_int_equal(sto_vm_remove(f->s, "web1", 5, 0), HPVM_EBUSY);  /* stale generation */
  assert_int_equal(sto_vm_remove(f->s, "web1", 1, 0), 0);
  assert_int_equal(sto_vm_load(f->s, "web1", &made), HPVM_ENOENT);
  assert_false(file_exists(sto_test_path(f->dir, "vms/web1")));
  assert_false(file_exists(sto_test_path(f->dir, "vms/.vmnum/1")));
  /* A disk image someone keeps in the VM's directory survives the remove. */
  base_config(f, "web1");
  assert_int_equal(sto_vm_create(f->s, &f->cfg, &made), 0);
  assert_int_equal(made->vm_number, 1);  /* the number was given back */
  sto_vm_free(made);
  file_write(sto_test_path(f->dir, "vms/web1/disk.img"), "data", 4);
  assert_int_equal(sto_vm_remove(f->s, "web1", 1, 0), 0);
  assert_true(file_exists(sto_test_path(f->dir, "vms/web1/disk.img")));
  assert_int_equal(count_entries(sto_test_path(f->dir, "vms/web1"), ""), 1);
  /* ... and the name can be used again. */
  assert_int_equal(sto_vm_create(f->s, &f->cfg, NULL), 0);
  assert_int_equal(sto_vm_remove(f->s, "nosuch", 1, 0), HPVM_ENOENT);
}

static void test_list_is_sorted_and_skips_directories_without_a_config(void **state) {
  fixture *f = *state;
  const char *names[] = {"zeta", "alpha", "mid"};
  for (int i = 0; i < 3; i++) {
    base_config(f, names[i]);
    assert_int_equal(sto_vm_create(f->s, &f->cfg, NULL), 0);
  }
  mkdir(sto_test_path(f->dir, "vms/halfmade"), 0755);
  sto_vm_entry *v;
  size_t n;
  assert_int_equal(sto_vm_list(f->s, &v, &n), 0);
  assert_int_equal(n, 3);
  assert_string_equal(v[0].name, "alpha");
  assert_string_equal(v[1].name, "mid");
  assert_string_equal(v[2].name, "zeta");
  assert_int_equal(v[2].cfg->vm_number, 1);
  sto_vm_list_free(v, n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_vm_names_follow_hpvm_rules, setup, teardown),
    cmocka_unit_test_setup_teardown(test_invalid_configurations_are_refused_with_the_reason, setup, teardown),
    cmocka_unit_test_setup_teardown(test_device_limits_are_30_without_avio_and_158_with_it, setup, teardown),
    cmocka_unit_test_setup_teardown(test_create_then_load_returns_every_field_and_what_the_store_assigned, setup, teardown),
    cmocka_unit_test_setup_teardown(test_create_refuses_a_duplicate_name_and_an_invalid_config, setup, teardown),
    cmocka_unit_test_setup_teardown(test_update_is_refused_after_someone_else_updated, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_damaged_config_is_reported_by_name_listed_and_removed_only_by_force, setup, teardown),
    cmocka_unit_test_setup_teardown(test_remove_waits_for_the_lease_and_leaves_foreign_files, setup, teardown),
    cmocka_unit_test_setup_teardown(test_list_is_sorted_and_skips_directories_without_a_config, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
