/* test_cli_devspec.c — HPVM resource specs and device placement (cli/hpvm/devspec.c): the
 * spec grammar for storage and NICs, the backing-store checks, bus/slot/target assignment as
 * HPVM's listings show it, the limits (30 non-AVIO, 158 in all), -d and -m, and the spec
 * text hpvmstatus -d prints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"

static char tmpdir[64];
static char why[CLI_WHY];

static int setup_dir(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/test_cli_devspec.XXXXXX");
  assert_non_null(mkdtemp(tmpdir));
  return 0;
}

static int teardown_dir(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  assert_int_equal(system(cmd), 0);
  return 0;
}

static const char *tmpfile_of(const char *name, long len) {
  static char path[8][256];
  static int k;
  char *p = path[k++ % 8];
  snprintf(p, 256, "%s/%s", tmpdir, name);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  if (len > 0) {
    assert_int_equal(fseek(f, len - 1, SEEK_SET), 0);
    fputc(0, f);
  }
  fclose(f);
  return p;
}

static void assert_why_contains(const char *s) {
  if (!strstr(why, s)) fail_msg("message \"%s\" does not contain \"%s\"", why, s);
}

static int parse(const char *text, cli_spec *s) {
  why[0] = 0;
  return cli_spec_parse(text, s, why, sizeof why);
}

/* Parse and add; the code of whichever failed. */
static int add(Hpvm__VmConfig *c, const char *text) {
  cli_spec s;
  int rc = parse(text, &s);
  if (!rc) rc = cli_devices_add(c, &s, why, sizeof why);
  cli_spec_free(&s);
  return rc;
}

static void assert_dev_at(const Hpvm__VmStorageDevice *d, unsigned bus, unsigned slot, unsigned tgt) {
  if (d->bus != bus || d->device != slot || d->target != tgt)
    fail_msg("%s is at %u,%u,%u, not %u,%u,%u", d->path, d->bus, d->device, d->target, bus, slot, tgt);
}

/* ---- Grammar ------------------------------------------------------------------------------- */

static void test_storage_spec_without_address(void **state) {
  (void)state;
  cli_spec s;
  assert_int_equal(parse("disk:avio_stor::file:/vm/disk1.img", &s), 0);
  assert_false(s.is_net);
  assert_false(s.has_bus);
  assert_int_equal(s.dev->type, HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_DISK);
  assert_string_equal(s.dev->adapter, "avio_stor");
  assert_int_equal(s.dev->backing, HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_FILE);
  assert_string_equal(s.dev->path, "/vm/disk1.img");
  assert_string_equal(s.dev->spec, "disk:avio_stor::file:/vm/disk1.img");
  cli_spec_free(&s);
}

static void test_storage_spec_with_full_address_and_block_device(void **state) {
  (void)state;
  cli_spec s;
  assert_int_equal(parse("dvd:scsi:0,2,5:disk:/dev/sr0", &s), 0);
  assert_true(s.has_bus);
  assert_true(s.has_target);
  assert_int_equal(s.dev->type, HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_DVD);
  assert_int_equal(s.dev->bus, 0);
  assert_int_equal(s.dev->device, 2);
  assert_int_equal(s.dev->target, 5);
  assert_int_equal(s.dev->backing, HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_DISK);
  cli_spec_free(&s);
  assert_int_equal(parse("disk:avio_stor:1,3:lv:/dev/vg0/lv1", &s), 0);
  assert_true(s.has_bus);
  assert_false(s.has_target);
  cli_spec_free(&s);
}

static void test_storage_path_may_contain_colons(void **state) {
  (void)state;
  cli_spec s;
  assert_int_equal(parse("disk:avio_stor::file:/vm/a:b.img", &s), 0);
  assert_string_equal(s.dev->path, "/vm/a:b.img");
  cli_spec_free(&s);
}

static void test_storage_spec_errors_name_the_field(void **state) {
  (void)state;
  cli_spec s;
  assert_int_equal(parse("", &s), HPVM_EINVAL);
  assert_int_equal(parse("floppy:avio_stor::file:/x", &s), HPVM_EINVAL);
  assert_why_contains("unknown device type 'floppy'");
  assert_int_equal(parse("disk:ide::file:/x", &s), HPVM_EINVAL);
  assert_why_contains("unknown storage adapter 'ide' (use avio_stor or scsi)");
  assert_int_equal(parse("disk:avio_stor::nfs:/x", &s), HPVM_EINVAL);
  assert_why_contains("unknown storage 'nfs'");
  assert_int_equal(parse("disk:avio_stor::file:relative.img", &s), HPVM_EINVAL);
  assert_why_contains("is not an absolute path");
  assert_int_equal(parse("disk:avio_stor::file:", &s), HPVM_EINVAL);
  assert_why_contains("the file path is missing");
  assert_int_equal(parse("disk:avio_stor", &s), HPVM_EINVAL);
  assert_why_contains("a storage spec is disk:avio_stor:[bus,slot[,target]]:file:/PATH");
  assert_int_equal(parse("disk:avio_stor:x,y:file:/x", &s), HPVM_EINVAL);
  assert_why_contains("address 'x,y' is not bus,slot[,target]");
  assert_int_equal(parse("disk:avio_stor:0,2,x:file:/x", &s), HPVM_EINVAL);
  assert_int_equal(parse("disk:null_not_for_disk::null:", &s), HPVM_EINVAL);
  assert_int_equal(parse("disk:avio_stor::null:", &s), HPVM_EINVAL);
  assert_why_contains("null storage is for an empty dvd drive only");
}

static void test_address_ranges_follow_the_adapter(void **state) {
  (void)state;
  cli_spec s;
  assert_int_equal(parse("disk:avio_stor:7,7,127:file:/x", &s), 0);
  cli_spec_free(&s);
  assert_int_equal(parse("disk:avio_stor:8,0:file:/x", &s), HPVM_ERANGE);
  assert_why_contains("outside bus 0-7, slot 0-7");
  assert_int_equal(parse("disk:avio_stor:0,8:file:/x", &s), HPVM_ERANGE);
  assert_int_equal(parse("disk:avio_stor:0,2,128:file:/x", &s), HPVM_ERANGE);
  assert_why_contains("target 128 is outside avio_stor's 0-127");
  assert_int_equal(parse("disk:scsi:7,0:file:/x", &s), HPVM_ERANGE);
  assert_why_contains("outside bus 0-6");
  assert_int_equal(parse("disk:scsi:0,2,15:file:/x", &s), HPVM_ERANGE);
  assert_why_contains("target 15 is outside scsi's 0-14");
}

static void test_attached_devices_and_hbas_are_not_supported(void **state) {
  (void)state;
  cli_spec s;
  assert_int_equal(parse("tape:scsi::attach:/dev/st0", &s), HPVM_ENOTSUP);
  assert_why_contains("cannot pass through");
  assert_int_equal(parse("hba:avio_stor::npiv:/dev/fcd0", &s), HPVM_ENOTSUP);
  assert_int_equal(parse("disk:avio_stor::attach:/dev/sdb", &s), HPVM_ENOTSUP);
}

static void test_network_spec_forms(void **state) {
  (void)state;
  cli_spec s;
  assert_int_equal(parse("network:lan:vswitch:vlan02", &s), 0);
  assert_true(s.is_net);
  assert_false(s.has_bus);
  assert_string_equal(s.net->adapter, "lan");
  assert_string_equal(s.net->vswitch, "vlan02");
  cli_spec_free(&s);
  assert_int_equal(parse("network:avio_lan::vswitch:sw0", &s), 0);
  assert_false(s.has_bus);
  cli_spec_free(&s);
  assert_int_equal(parse("network:avio_lan:0,1,0x56e9e3096a22:vswitch:sw0:portid:4", &s), 0);
  assert_true(s.has_bus);
  assert_true(s.has_mac);
  assert_int_equal(s.net->device, 1);
  assert_string_equal(s.net->mac, "0x56E9E3096A22");
  assert_int_equal(s.net->portid, 4);
  cli_spec_free(&s);
  assert_int_equal(parse("network:lan:0,0:vswitch:vlan03", &s), 0);
  assert_true(s.has_bus);
  assert_false(s.has_mac);
  cli_spec_free(&s);
}

static void test_network_spec_errors(void **state) {
  (void)state;
  cli_spec s;
  assert_int_equal(parse("network:e1000::vswitch:x", &s), HPVM_EINVAL);
  assert_why_contains("unknown network adapter 'e1000'");
  assert_int_equal(parse("network:avio_lan::bridge:x", &s), HPVM_EINVAL);
  assert_why_contains("expected 'vswitch'");
  assert_int_equal(parse("network:avio_lan::vswitch:", &s), HPVM_EINVAL);
  assert_why_contains("is not a vswitch name");
  assert_int_equal(parse("network:avio_lan:0,0,0x1234:vswitch:x", &s), HPVM_EINVAL);
  assert_why_contains("is not 0x followed by 12 hex digits");
  assert_int_equal(parse("network:avio_lan:0,0,0x010203040506:vswitch:x", &s), HPVM_EINVAL);
  assert_why_contains("multicast");
  assert_int_equal(parse("network:avio_lan::vswitch:x:portid:0", &s), HPVM_EINVAL);
  assert_int_equal(parse("network:avio_lan::vswitch:x:vlan:3", &s), HPVM_EINVAL);
  assert_int_equal(parse("network", &s), HPVM_EINVAL);
}

/* ---- Backing stores ------------------------------------------------------------------------- */

static int check(const char *text) {
  cli_spec s;
  int rc = parse(text, &s);
  assert_int_equal(rc, 0);
  rc = cli_spec_check_backing(&s, why, sizeof why);
  cli_spec_free(&s);
  return rc;
}

static void test_a_disk_file_must_exist_with_whole_sectors(void **state) {
  (void)state;
  char spec[400];
  snprintf(spec, sizeof spec, "disk:avio_stor::file:%s/missing.img", tmpdir);
  assert_int_equal(check(spec), HPVM_ENOENT);
  assert_why_contains("does not exist; create it with: hpvmdevmgmt -S SIZE");
  snprintf(spec, sizeof spec, "disk:avio_stor::file:%s", tmpfile_of("empty.img", 0));
  assert_int_equal(check(spec), HPVM_EINVAL);
  assert_why_contains("is empty");
  snprintf(spec, sizeof spec, "disk:avio_stor::file:%s", tmpfile_of("odd.img", 1000));
  assert_int_equal(check(spec), HPVM_EINVAL);
  assert_why_contains("1000 bytes, not a whole number of 512-byte sectors");
  snprintf(spec, sizeof spec, "disk:avio_stor::file:%s", tmpfile_of("ok.img", 1 << 20));
  assert_int_equal(check(spec), 0);
  snprintf(spec, sizeof spec, "disk:avio_stor::file:%s", tmpdir);
  assert_int_equal(check(spec), HPVM_EINVAL);
  assert_why_contains("is not a regular file");
}

static void test_a_block_backing_must_be_a_block_device(void **state) {
  (void)state;
  char spec[400];
  snprintf(spec, sizeof spec, "disk:avio_stor::disk:%s", tmpfile_of("notblock.img", 4096));
  assert_int_equal(check(spec), HPVM_EINVAL);
  assert_why_contains("is a file, not a block device; name it as file:");
  assert_int_equal(check("disk:avio_stor::lv:/dev/null"), HPVM_EINVAL);
  assert_why_contains("is not a block device");
  assert_int_equal(check("disk:avio_stor::disk:/dev/does-not-exist"), HPVM_ENOENT);
}

static void test_a_dvd_image_needs_no_sector_multiple_and_null_needs_nothing(void **state) {
  (void)state;
  char spec[400];
  snprintf(spec, sizeof spec, "dvd:avio_stor::file:%s", tmpfile_of("cd.iso", 1001));
  assert_int_equal(check(spec), 0);
  assert_int_equal(check("dvd:avio_stor::null:"), 0);
  assert_int_equal(check("network:avio_lan::vswitch:x"), 0);
}

/* ---- Placement ------------------------------------------------------------------------------ */

static void test_storage_joins_the_first_adapter_from_slot_2(void **state) {
  (void)state;
  Hpvm__VmConfig *c = cli_vm_new();
  assert_int_equal(add(c, "disk:scsi::lv:/dev/vg/d1"), 0);
  assert_int_equal(add(c, "disk:scsi::lv:/dev/vg/d2"), 0);
  assert_int_equal(add(c, "dvd:scsi::disk:/dev/sr0"), 0);
  /* The listing in HPVM's hpvmstatus -P after three hpvmmodify -a of scsi devices. */
  assert_dev_at(c->devices[0], 0, 2, 0);
  assert_dev_at(c->devices[1], 0, 2, 1);
  assert_dev_at(c->devices[2], 0, 2, 2);
  /* An avio_stor adapter takes the next free slot. */
  assert_int_equal(add(c, "disk:avio_stor::file:/vm/a.img"), 0);
  assert_dev_at(c->devices[3], 0, 3, 0);
  cli_vm_free(c);
}

static void test_nics_take_slots_from_0_and_get_a_mac(void **state) {
  (void)state;
  Hpvm__VmConfig *c = cli_vm_new();
  assert_int_equal(add(c, "disk:scsi::lv:/dev/vg/d1"), 0);
  assert_int_equal(add(c, "network:lan:vswitch:vlan02"), 0);
  assert_int_equal(add(c, "network:lan:vswitch:localnet"), 0);
  assert_int_equal(add(c, "network:lan:vswitch:third"), 0);
  assert_int_equal(c->networks[0]->bus, 0);
  assert_int_equal(c->networks[0]->device, 0);
  assert_int_equal(c->networks[1]->device, 1);
  assert_int_equal(c->networks[2]->device, 3); /* slot 2 holds the scsi adapter */
  assert_int_equal(strlen(c->networks[0]->mac), 14);
  assert_memory_equal(c->networks[0]->mac, "0x", 2);
  unsigned first = (unsigned)strtoul((char[3]){c->networks[0]->mac[2], c->networks[0]->mac[3], 0}, NULL, 16);
  assert_int_equal(first & 3, 2); /* unicast, locally administered */
  assert_string_not_equal(c->networks[0]->mac, c->networks[1]->mac);
  cli_vm_free(c);
}

static void test_explicit_addresses_are_kept_and_conflicts_refused(void **state) {
  (void)state;
  Hpvm__VmConfig *c = cli_vm_new();
  assert_int_equal(add(c, "disk:avio_stor:1,4,22:file:/vm/a.img"), 0);
  assert_dev_at(c->devices[0], 1, 4, 22);
  assert_int_equal(add(c, "disk:avio_stor:1,4:file:/vm/b.img"), 0);
  assert_dev_at(c->devices[1], 1, 4, 0); /* the lowest free target on that adapter */
  assert_int_equal(add(c, "disk:avio_stor:1,4,22:file:/vm/c.img"), HPVM_EEXIST);
  assert_why_contains("address 1,4,22 is taken by file:/vm/a.img");
  assert_int_equal(add(c, "disk:scsi:1,4,1:file:/vm/c.img"), HPVM_EEXIST);
  assert_why_contains("PCI bus 1 slot 4 holds a avio_stor storage adapter");
  assert_int_equal(add(c, "network:avio_lan:1,4:vswitch:sw"), HPVM_EEXIST);
  assert_int_equal(add(c, "network:avio_lan:1,5,0x0200000000AA:vswitch:sw"), 0);
  assert_int_equal(add(c, "disk:avio_stor:1,5:file:/vm/d.img"), HPVM_EEXIST);
  assert_why_contains("holds a avio_lan network adapter");
  assert_int_equal(add(c, "network:avio_lan::vswitch:sw"), 0);
  assert_int_equal(add(c, "network:avio_lan:2,0,0x0200000000aa:vswitch:sw"), HPVM_EEXIST);
  assert_why_contains("MAC address 0x0200000000AA is already this VM's NIC at 1,5");
  cli_vm_free(c);
}

static void test_the_same_backing_twice_is_refused(void **state) {
  (void)state;
  Hpvm__VmConfig *c = cli_vm_new();
  assert_int_equal(add(c, "disk:avio_stor::file:/vm/a.img"), 0);
  assert_int_equal(add(c, "disk:avio_stor::file:/vm/a.img"), HPVM_EEXIST);
  assert_why_contains("/vm/a.img is already this VM's disk at 0,2,0");
  /* Two empty dvd drives are fine. */
  assert_int_equal(add(c, "dvd:avio_stor::null:"), 0);
  assert_int_equal(add(c, "dvd:avio_stor::null:"), 0);
  cli_vm_free(c);
}

static void test_a_full_scsi_adapter_spills_to_a_new_slot(void **state) {
  (void)state;
  Hpvm__VmConfig *c = cli_vm_new();
  char spec[64];
  for (int i = 0; i < 16; i++) {
    snprintf(spec, sizeof spec, "disk:scsi::file:/vm/%d.img", i);
    assert_int_equal(add(c, spec), 0);
  }
  assert_dev_at(c->devices[14], 0, 2, 14);
  assert_dev_at(c->devices[15], 0, 3, 0);
  assert_int_equal(add(c, "disk:scsi:0,2:file:/vm/x.img"), HPVM_ERANGE);
  assert_why_contains("has no free target");
  cli_vm_free(c);
}

static void test_thirty_non_avio_devices_at_most(void **state) {
  (void)state;
  Hpvm__VmConfig *c = cli_vm_new();
  char spec[64];
  for (int i = 0; i < 28; i++) {
    snprintf(spec, sizeof spec, "disk:scsi::file:/vm/%d.img", i);
    assert_int_equal(add(c, spec), 0);
  }
  assert_int_equal(add(c, "network:lan::vswitch:a"), 0);
  assert_int_equal(add(c, "network:lan::vswitch:b"), 0);
  assert_int_equal(cli_devices_non_avio(c), 30);
  assert_int_equal(add(c, "disk:scsi::file:/vm/31.img"), HPVM_ERANGE);
  assert_why_contains("at most 30 devices that are not AVIO");
  assert_int_equal(add(c, "network:lan::vswitch:c"), HPVM_ERANGE);
  /* AVIO ones still fit. */
  assert_int_equal(add(c, "disk:avio_stor::file:/vm/avio.img"), 0);
  cli_vm_free(c);
}

static void test_158_devices_at_most_with_avio(void **state) {
  (void)state;
  Hpvm__VmConfig *c = cli_vm_new();
  char spec[64];
  for (int i = 0; i < 158; i++) {
    snprintf(spec, sizeof spec, "disk:avio_stor::file:/vm/%d.img", i);
    assert_int_equal(add(c, spec), 0);
  }
  assert_dev_at(c->devices[127], 0, 2, 127);
  assert_dev_at(c->devices[128], 0, 3, 0);
  assert_int_equal(add(c, "disk:avio_stor::file:/vm/158.img"), HPVM_ERANGE);
  assert_why_contains("a VM has at most 158 devices (it has 158)");
  c->vcpus = 1;
  c->memory_bytes = 1ull << 30;
  c->entitlement->unit = HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT;
  c->entitlement->value = 10;
  assert_int_equal(cli_vm_check(c, NULL, why, sizeof why), 0);
  cli_vm_free(c);
}

/* ---- -d and -m ------------------------------------------------------------------------------- */

static int op(Hpvm__VmConfig *c, char which, const char *text) {
  cli_spec s;
  int rc = parse(text, &s);
  if (!rc) rc = which == 'd' ? cli_devices_delete(c, &s, why, sizeof why) : cli_devices_modify(c, &s, why, sizeof why);
  cli_spec_free(&s);
  return rc;
}

static void test_delete_by_address_or_by_backing(void **state) {
  (void)state;
  Hpvm__VmConfig *c = cli_vm_new();
  assert_int_equal(add(c, "disk:avio_stor::file:/vm/a.img"), 0);
  assert_int_equal(add(c, "disk:avio_stor::file:/vm/b.img"), 0);
  assert_int_equal(add(c, "network:avio_lan::vswitch:sw0"), 0);
  assert_int_equal(op(c, 'd', "disk:avio_stor:0,2,0:file:/vm/other.img"), HPVM_EINVAL);
  assert_why_contains("the device at 0,2,0 is disk file:/vm/a.img");
  assert_int_equal(op(c, 'd', "disk:avio_stor:0,2,0:file:/vm/a.img"), 0);
  assert_int_equal(c->n_devices, 1);
  assert_int_equal(op(c, 'd', "disk:avio_stor::file:/vm/b.img"), 0);
  assert_int_equal(c->n_devices, 0);
  assert_int_equal(op(c, 'd', "disk:avio_stor::file:/vm/b.img"), HPVM_ENOENT);
  assert_why_contains("no device of this VM matches");
  assert_int_equal(op(c, 'd', "network:avio_lan::vswitch:sw0"), 0);
  assert_int_equal(c->n_networks, 0);
  cli_vm_free(c);
}

static void test_ambiguous_nic_delete_asks_for_the_address(void **state) {
  (void)state;
  Hpvm__VmConfig *c = cli_vm_new();
  assert_int_equal(add(c, "network:avio_lan::vswitch:sw0"), 0);
  assert_int_equal(add(c, "network:avio_lan::vswitch:sw0"), 0);
  assert_int_equal(op(c, 'd', "network:avio_lan::vswitch:sw0"), HPVM_ENOENT);
  assert_why_contains("2 network adapters match");
  assert_int_equal(op(c, 'd', "network:avio_lan:0,1:vswitch:sw0"), 0);
  assert_int_equal(c->n_networks, 1);
  assert_int_equal(c->networks[0]->device, 0);
  cli_vm_free(c);
}

static void test_modify_changes_media_and_vswitch_in_place(void **state) {
  (void)state;
  Hpvm__VmConfig *c = cli_vm_new();
  assert_int_equal(add(c, "dvd:avio_stor::null:"), 0);
  assert_int_equal(add(c, "network:lan::vswitch:vlan02"), 0);
  assert_int_equal(op(c, 'm', "dvd:avio_stor:0,2,0:file:/iso/install.iso"), 0);
  assert_int_equal(c->devices[0]->backing, HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_FILE);
  assert_string_equal(c->devices[0]->path, "/iso/install.iso");
  assert_dev_at(c->devices[0], 0, 2, 0);
  assert_int_equal(op(c, 'm', "network:lan:0,0:vswitch:vlan03"), 0);
  assert_string_equal(c->networks[0]->vswitch, "vlan03");
  assert_int_equal(op(c, 'm', "dvd:avio_stor::file:/iso/x.iso"), HPVM_ENOENT);
  assert_why_contains("give the device's bus,slot,target");
  assert_int_equal(op(c, 'm', "disk:avio_stor:0,2,0:file:/x.img"), HPVM_EINVAL);
  assert_why_contains("-m changes only what backs it");
  assert_int_equal(op(c, 'm', "network:avio_lan:0,0:vswitch:x"), HPVM_EINVAL);
  cli_vm_free(c);
}

/* ---- Printing -------------------------------------------------------------------------------- */

static void test_specs_print_as_hpvmstatus_d(void **state) {
  (void)state;
  Hpvm__VmConfig *c = cli_vm_new();
  assert_int_equal(add(c, "disk:avio_stor::file:/vm/a.img"), 0);
  assert_int_equal(add(c, "network:lan:0,0,0x56E9E3096A22:vswitch:vlan02"), 0);
  assert_int_equal(add(c, "network:avio_lan::vswitch:sw:portid:7"), 0);
  char b[512];
  cli_dev_spec(c->devices[0], b, sizeof b);
  assert_string_equal(b, "disk:avio_stor:0,2,0:file:/vm/a.img");
  cli_net_spec(c->networks[0], b, sizeof b);
  assert_string_equal(b, "network:lan:0,0,0x56E9E3096A22:vswitch:vlan02");
  cli_net_spec(c->networks[1], b, sizeof b);
  assert_non_null(strstr(b, ":vswitch:sw:portid:7"));
  cli_mac_dashes("0x56E9E3096A22", b, sizeof b);
  assert_string_equal(b, "56-e9-e3-09-6a-22");
  /* What hpvmstatus -d prints parses back to the same device. */
  cli_dev_spec(c->devices[0], b, sizeof b);
  cli_spec s;
  assert_int_equal(parse(b, &s), 0);
  assert_true(s.has_bus && s.has_target);
  assert_string_equal(s.dev->path, "/vm/a.img");
  cli_spec_free(&s);
  cli_vm_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_storage_spec_without_address),
    cmocka_unit_test(test_storage_spec_with_full_address_and_block_device),
    cmocka_unit_test(test_storage_path_may_contain_colons),
    cmocka_unit_test(test_storage_spec_errors_name_the_field),
    cmocka_unit_test(test_address_ranges_follow_the_adapter),
    cmocka_unit_test(test_attached_devices_and_hbas_are_not_supported),
    cmocka_unit_test(test_network_spec_forms),
    cmocka_unit_test(test_network_spec_errors),
    cmocka_unit_test(test_a_disk_file_must_exist_with_whole_sectors),
    cmocka_unit_test(test_a_block_backing_must_be_a_block_device),
    cmocka_unit_test(test_a_dvd_image_needs_no_sector_multiple_and_null_needs_nothing),
    cmocka_unit_test(test_storage_joins_the_first_adapter_from_slot_2),
    cmocka_unit_test(test_nics_take_slots_from_0_and_get_a_mac),
    cmocka_unit_test(test_explicit_addresses_are_kept_and_conflicts_refused),
    cmocka_unit_test(test_the_same_backing_twice_is_refused),
    cmocka_unit_test(test_a_full_scsi_adapter_spills_to_a_new_slot),
    cmocka_unit_test(test_thirty_non_avio_devices_at_most),
    cmocka_unit_test(test_158_devices_at_most_with_avio),
    cmocka_unit_test(test_delete_by_address_or_by_backing),
    cmocka_unit_test(test_ambiguous_nic_delete_asks_for_the_address),
    cmocka_unit_test(test_modify_changes_media_and_vswitch_in_place),
    cmocka_unit_test(test_specs_print_as_hpvmstatus_d),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
