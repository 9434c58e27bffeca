/* test_cli_format.c — what hpvmstatus prints (cli/hpvm/format.c). The table and the detail
 * sections are compared column for column with listings HP Integrity VM printed (as
 * operators posted them: the summary of a host with nine guests, hpvmstatus -P of a clone);
 * -M, -X, -d and --json are checked for their fields and their escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

/* ---- Building VmStatus messages -------------------------------------------------------------- */

static char why[CLI_WHY];

static Hpvm__VmStatus *vm_new(const char *name, unsigned number, int os, int state, unsigned vcpus, uint64_t mem) {
  Hpvm__VmStatus *s = calloc(1, sizeof *s);
  hpvm__vm_status__init(s);
  s->config = cli_vm_new();
  cli_str_set(&s->config->name, name);
  cli_str_set(&s->config->uuid, "2b3b1198-2062-11df-9e06-001a4b07f002");
  s->config->vm_number = number;
  s->config->os_type = os;
  s->config->vcpus = vcpus;
  s->config->memory_bytes = mem;
  s->config->entitlement->unit = HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT;
  s->config->entitlement->value = 10;
  s->config->boot = HPVM__VM_BOOT_MODE__VM_BOOT_MODE_AUTO;
  s->state = state;
  s->host = (char *)protobuf_c_empty_string;
  s->reason = (char *)protobuf_c_empty_string;
  s->console_log = (char *)protobuf_c_empty_string;
  return s;
}

static void vm_free(Hpvm__VmStatus *s) {
  cli_vm_free(s->config);
  free(s);
}

/* Devices by spec (the parser and placement are devspec.c's; tested there). */
static void add(Hpvm__VmConfig *c, const char *spec) {
  cli_spec s;
  assert_int_equal(cli_spec_parse(spec, &s, why, sizeof why), 0);
  assert_int_equal(cli_devices_add(c, &s, why, sizeof why), 0);
  cli_spec_free(&s);
}

/* Dummy storage and NICs to make the #Devs/#Nets counts. */
static void add_n(Hpvm__VmConfig *c, unsigned disks, unsigned nics) {
  char spec[64];
  for (unsigned i = 0; i < disks; i++) {
    snprintf(spec, sizeof spec, "disk:scsi::lv:/dev/vg/%s-%u", c->name, i);
    add(c, spec);
  }
  for (unsigned i = 0; i < nics; i++) add(c, "network:lan::vswitch:vlan02");
}

/* Text written by fn into memory. */
#define CAPTURE(buf, call)                                                                       \
  do {                                                                                           \
    size_t len_;                                                                                 \
    FILE *f = open_memstream(&(buf), &len_);                                                     \
    call;                                                                                        \
    fclose(f);                                                                                   \
  } while (0)

/* The line of text that starts with prefix (trailing blanks dropped), or fail. */
static void assert_has_line(const char *text, const char *want) {
  const char *p = text;
  size_t wl = strlen(want);
  while (wl && want[wl - 1] == ' ') wl--;
  while (*p) {
    const char *e = strchr(p, '\n');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    size_t t = l;
    while (t && p[t - 1] == ' ') t--;
    if (t == wl && !memcmp(p, want, wl)) return;
    if (!e) break;
    p = e + 1;
  }
  fail_msg("no line \"%.*s\" in:\n%s", (int)wl, want, text);
}

#define GB (1ull << 30)
#define S(x) HPVM__VM_RUN_STATE__VM_RUN_STATE_##x
#define OS(x) HPVM__VM_OS_TYPE__VM_OS_TYPE_##x

/* ---- The table ---------------------------------------------------------------------------------- */

static void test_table_matches_hpvm_column_for_column(void **state) {
  (void)state;
  Hpvm__VmStatus *v[4] = {
    vm_new("oratest01", 1, OS(HPUX), S(ON), 4, 16 * GB),
    vm_new("sles01", 5, OS(LINUX), S(ON), 1, 4 * GB),
    vm_new("ws2003", 8, OS(WINDOWS), S(OFF), 4, 12 * GB),
    vm_new("hpvm1", 10, OS(HPUX), S(OFF), 1, 3 * GB),
  };
  add_n(v[0]->config, 10, 3);
  add_n(v[1]->config, 4, 3);
  add_n(v[2]->config, 4, 3);
  add_n(v[3]->config, 1, 1);
  v[0]->host = v[1]->host = "hostA";   /* running here; the other two run nowhere */
  char *out;
  CAPTURE(out, cli_fmt_table(f, v, 4, "hostA"));
  /* Lines as hpvmstatus printed them on an HPVM 3.5 host. */
  assert_has_line(out, "[Virtual Machines]");
  assert_has_line(out, "Virtual Machine Name VM #  OS Type State     #VCPUs #Devs #Nets Memory  Runsysid Host");
  assert_has_line(out, "==================== ===== ======= ========= ====== ===== ===== ======= ======== ========");
  assert_has_line(out, "oratest01                1 HPUX    On (OS)        4    10     3   16 GB        0 hostA");
  assert_has_line(out, "sles01                   5 LINUX   On (OS)        1     4     3    4 GB        0 hostA");
  assert_has_line(out, "ws2003                   8 WINDOWS Off            4     4     3   12 GB        0 -");
  assert_has_line(out, "hpvm1                   10 HPUX    Off            1     1     1    3 GB        0 -");
  free(out);
  v[0]->host = v[1]->host = (char *)protobuf_c_empty_string;
  for (int i = 0; i < 4; i++) vm_free(v[i]);
}

static void test_states_read_as_hpvm_wrote_them(void **state) {
  (void)state;
  Hpvm__VmStatus *v = vm_new("g", 1, OS(LINUX), S(OFF), 1, GB);
  assert_string_equal(cli_state_name(v), "Off");
  v->config->not_runnable = true;
  assert_string_equal(cli_state_name(v), "Off (NR)");
  v->state = S(BOOTING);
  assert_string_equal(cli_state_name(v), "On (EFI)");
  v->state = S(ON);
  assert_string_equal(cli_state_name(v), "On (OS)");
  assert_string_equal(cli_state_word(v), "On");
  v->state = S(CRASH);
  assert_string_equal(cli_state_name(v), "Crash");
  v->state = S(BAD_RECORD);
  assert_string_equal(cli_state_name(v), "Invalid");
  assert_string_equal(cli_state_word(v), "Invalid");
  vm_free(v);
}

static void test_runsysid_names_the_host_running_a_guest_elsewhere(void **state) {
  (void)state;
  Hpvm__VmStatus *v[2] = {vm_new("here", 1, OS(LINUX), S(ON), 1, GB), vm_new("there", 2, OS(LINUX), S(ELSEWHERE), 1, GB)};
  v[0]->host = "hostA";
  v[1]->host = "hostB";
  char *out;
  CAPTURE(out, cli_fmt_table(f, v, 2, "hostA"));
  assert_has_line(out, "here                     1 LINUX   On (OS)        1     0     0    1 GB        0 hostA");
  assert_has_line(out, "there                    2 LINUX   On (OS)        1     0     0    1 GB    hostB hostB");
  free(out);
  v[0]->host = v[1]->host = (char *)protobuf_c_empty_string;
  vm_free(v[0]);
  vm_free(v[1]);
}

static void test_memory_not_in_whole_gigabytes_prints_in_megabytes(void **state) {
  (void)state;
  Hpvm__VmStatus *v = vm_new("small", 3, OS(UNKNOWN), S(OFF), 1, 256ull << 20);
  char *out;
  CAPTURE(out, cli_fmt_table(f, &v, 1, NULL));
  assert_has_line(out, "small                    3 UNKNOWN Off            1     0     0  256 MB        0 -");
  free(out);
  vm_free(v);
}

/* ---- -P ------------------------------------------------------------------------------------------ */

static void test_detail_sections_match_hpvm(void **state) {
  (void)state;
  Hpvm__VmStatus *v = vm_new("ivm_clone01", 11, OS(HPUX), S(OFF), 3, 2 * GB);
  v->config->entitlement->value = 20;
  add(v->config, "disk:scsi::lv:/dev/vg_vmtest/rivm1d1");
  add(v->config, "disk:scsi::lv:/dev/vg_vmtest/rivm1d2");
  add(v->config, "dvd:scsi::disk:/dev/rdsk/c1t4d0");
  add(v->config, "network:lan:0,0,0xF6FBBF417863:vswitch:vlan02:portid:11");
  add(v->config, "network:lan:0,1,0x2A6935D5C15F:vswitch:localnet:portid:10");
  char *out;
  CAPTURE(out, cli_fmt_detail(f, v, false, NULL));
  const char *want[] = {
    "[Virtual Machine Details]",
    "Virtual Machine Name VM #  OS Type State     Host",
    "==================== ===== ======= ========= ========",
    "ivm_clone01             11 HPUX    Off       -",
    "[Authorized Administrators]",
    "Oper Groups:",
    "Admin Groups:",
    "[Virtual CPU Details]",
    "#vCPUs Entitlement Maximum",
    "====== =========== =======",
    "     3       20.0%  100.0%",
    "[Memory Details]",
    "Total    Reserved",
    "Memory   Memory",
    "=======  ========",
    "[Storage Interface Details]",
    "Guest                                 Physical",
    "Device  Adaptor    Bus Dev Ftn Tgt Lun Storage   Device",
    "======= ========== === === === === === ========= =========================",
    "disk    scsi         0   2   0   0   0 lv        /dev/vg_vmtest/rivm1d1",
    "disk    scsi         0   2   0   1   0 lv        /dev/vg_vmtest/rivm1d2",
    "dvd     scsi         0   2   0   2   0 disk      /dev/rdsk/c1t4d0",
    "[Network Interface Details]",
    "Interface Adaptor    Name/Num   PortNum Bus Dev Ftn Mac Address",
    "========= ========== ========== ======= === === === =================",
    "vswitch   lan        vlan02     11        0   0   0 f6-fb-bf-41-78-63",
    "vswitch   lan        localnet   10        0   1   0 2a-69-35-d5-c1-5f",
    "[Misc Interface Details]",
    "serial  com1                           tty       console",
  };
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) assert_has_line(out, want[i]);
  /* Total memory in HPVM's column; hpvm reserves none (guest memory is allocated lazily). */
  assert_has_line(out, "   2 GB      0 MB");
  /* Sections in HPVM's order. */
  const char *order[] = {"[Virtual Machine Details]", "[Authorized Administrators]", "[Virtual CPU Details]",
                         "[Memory Details]", "[Storage Interface Details]", "[Network Interface Details]",
                         "[Misc Interface Details]"};
  const char *at = out;
  for (size_t i = 0; i < 7; i++) {
    const char *p = strstr(at, order[i]);
    assert_non_null(p);
    at = p;
  }
  free(out);
  vm_free(v);
}

static void test_cycles_entitlement_prints_mhz(void **state) {
  (void)state;
  Hpvm__VmStatus *v = vm_new("c", 1, OS(LINUX), S(OFF), 2, GB);
  v->config->entitlement->unit = HPVM__VM_ENTITLEMENT__UNIT__UNIT_CYCLES;
  v->config->entitlement->value = 200;
  v->config->entitlement->max = 1000;
  char *out;
  CAPTURE(out, cli_fmt_detail(f, v, false, NULL));
  assert_has_line(out, "     2      200MHz 1000MHz");
  free(out);
  vm_free(v);
}

static void test_verbose_detail_has_every_field(void **state) {
  (void)state;
  Hpvm__VmStatus *v = vm_new("web1", 7, OS(LINUX), S(ON), 1, GB);
  cli_str_set(&v->config->label, "Web server");
  cli_str_set(&v->config->kernel, "/vm/hpvmk");
  cli_str_set(&v->config->cmdline, "heartbeat");
  cli_vm_attr_set(v->config, "modify_status", "disabled");
  v->host = "hostA";
  v->pid = 4242;
  v->viewers = 2;
  char *out;
  CAPTURE(out, cli_fmt_detail(f, v, true, "hostA"));
  assert_has_line(out, "Virtual Machine Name     : web1");
  assert_has_line(out, "Virtual Machine UUID     : 2b3b1198-2062-11df-9e06-001a4b07f002");
  assert_has_line(out, "Virtual Machine ID       : 7");
  assert_has_line(out, "Virtual Machine Label    : Web server");
  assert_has_line(out, "VM's Serial Number       : VM01010007");
  assert_has_line(out, "State                    : On (OS)");
  assert_has_line(out, "Start type               : Auto");
  assert_has_line(out, "Guest kernel             : /vm/hpvmk");
  assert_has_line(out, "Kernel command line      : heartbeat");
  assert_has_line(out, "Running on serverid      : 0");
  assert_has_line(out, "Running on pid           : 4242");
  assert_has_line(out, "Console viewers          : 2");
  assert_has_line(out, "Modify status            : disabled");
  assert_has_line(out, "Runnable status          : enabled");
  assert_non_null(strstr(out, "[Storage Interface Details]"));
  free(out);
  v->host = (char *)protobuf_c_empty_string;
  vm_free(v);
}

static void test_a_damaged_record_shows_as_invalid_with_its_reason(void **state) {
  (void)state;
  Hpvm__VmStatus s = HPVM__VM_STATUS__INIT;
  s.state = S(BAD_RECORD);
  s.reason = "vms/bad/config: checksum mismatch";
  char *out;
  CAPTURE(out, cli_fmt_detail(f, &s, false, NULL));
  assert_non_null(strstr(out, "Invalid"));
  assert_non_null(strstr(out, "checksum mismatch"));
  free(out);
  Hpvm__VmStatus *list[] = {&s};
  CAPTURE(out, cli_fmt_table(f, list, 1, NULL));
  assert_non_null(strstr(out, "Invalid"));
  free(out);
  /* hpvmd sends the name in an otherwise empty configuration: the name shows, no zeros. */
  Hpvm__VmStatus *v = vm_new("bad", 0, 0, S(BAD_RECORD), 0, 0);
  CAPTURE(out, cli_fmt_table(f, &v, 1, NULL));
  assert_has_line(out, "bad                      0 UNKNOWN Invalid        0     0     0                0 -");
  free(out);
  CAPTURE(out, cli_fmt_detail(f, v, true, NULL));
  assert_has_line(out, "bad                      - UNKNOWN Invalid   -");
  assert_null(strstr(out, "[Memory Details]"));
  free(out);
  vm_free(v);
}

/* ---- -M, -X, -d, --json -------------------------------------------------------------------------- */

static void test_machine_format_is_one_colon_line_in_documented_order(void **state) {
  (void)state;
  Hpvm__VmStatus *v = vm_new("web1", 7, OS(LINUX), S(ON), 2, 4 * GB);
  v->config->entitlement->value = 20;
  v->config->entitlement->max = 50;
  cli_str_set(&v->config->label, "a:b\\c");
  add_n(v->config, 2, 1);
  v->host = "hostA";
  v->pid = 99;
  char *out;
  CAPTURE(out, cli_fmt_machine(f, v, "hostA"));
  assert_string_equal(out, "web1:7:LINUX:On (OS):2:2:1:4096:0:2b3b1198-2062-11df-9e06-001a4b07f002:20:50:percent:"
                           "auto:a\\:b\\\\c:hostA:99\n");
  free(out);
  v->host = (char *)protobuf_c_empty_string;
  vm_free(v);
}

static void test_xml_has_what_inventory_tools_read(void **state) {
  (void)state;
  Hpvm__VmStatus *v[2] = {vm_new("a<b", 1, OS(HPUX), S(ON), 2, 2 * GB), vm_new("c", 2, OS(LINUX), S(OFF), 1, 512ull << 20)};
  add(v[0]->config, "disk:avio_stor::file:/vm/a&b.img");
  char *out;
  CAPTURE(out, cli_fmt_xml(f, v, 2, NULL));
  assert_non_null(strstr(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
  assert_non_null(strstr(out, "<pman version=\"1.0\">"));
  assert_non_null(strstr(out, "<virtual_machine name=\"a&lt;b\" uuid=\"2b3b1198-2062-11df-9e06-001a4b07f002\" "
                              "local_id=\"1\">"));
  assert_non_null(strstr(out, "<vm_state>On</vm_state>"));
  assert_non_null(strstr(out, "<vm_state>Off</vm_state>"));
  assert_non_null(strstr(out, "<vcpu_number>2</vcpu_number>"));
  assert_non_null(strstr(out, "<total unit=\"GB\">2</total>"));
  assert_non_null(strstr(out, "<total unit=\"MB\">512</total>"));
  assert_non_null(strstr(out, "path=\"/vm/a&amp;b.img\""));
  assert_non_null(strstr(out, "</pman>"));
  free(out);
  vm_free(v[0]);
  vm_free(v[1]);
}

static void test_devspecs_print_one_per_line_under_hpvm_headings(void **state) {
  (void)state;
  Hpvm__VmStatus *v = vm_new("ivm1", 1, OS(HPUX), S(OFF), 1, GB);
  add(v->config, "disk:avio_stor::file:/vm/a.img");
  add(v->config, "network:lan:0,0,0x56E9E3096A22:vswitch:vlan02");
  add(v->config, "network:lan:0,1,0xAED6F7FA4E3E:vswitch:localnet");
  char *out;
  CAPTURE(out, cli_fmt_devspecs(f, v));
  assert_has_line(out, "[Virtual Machine Devices]");
  assert_has_line(out, "[Storage Interface Details]");
  assert_has_line(out, "disk:avio_stor:0,2,0:file:/vm/a.img");
  assert_has_line(out, "[Network Interface Details]");
  assert_has_line(out, "network:lan:0,0,0x56E9E3096A22:vswitch:vlan02");
  assert_has_line(out, "network:lan:0,1,0xAED6F7FA4E3E:vswitch:localnet");
  free(out);
  vm_free(v);
}

static void test_json_escapes_and_carries_every_field(void **state) {
  (void)state;
  Hpvm__VmStatus *v = vm_new("q\"uote", 3, OS(LINUX), S(CRASH), 1, GB);
  v->reason = "guest crashed\n(exit 134)";
  v->exit_status = 134;
  add(v->config, "disk:avio_stor::file:/vm/x.img");
  cli_vm_attr_set(v->config, "graceful_stop_timeout", "60");
  char *out;
  CAPTURE(out, cli_fmt_json_list(f, &v, 1, NULL));
  assert_non_null(strstr(out, "{\"vms\":[{\"name\":\"q\\\"uote\""));
  assert_non_null(strstr(out, "\"state\":\"Crash\""));
  assert_non_null(strstr(out, "\"run_state\":\"CRASH\""));
  assert_non_null(strstr(out, "\"reason\":\"guest crashed\\n(exit 134)\""));
  assert_non_null(strstr(out, "\"exit_status\":134"));
  assert_non_null(strstr(out, "\"memory_bytes\":1073741824"));
  assert_non_null(strstr(out, "\"entitlement\":{\"unit\":\"percent\",\"value\":10,\"max\":0}"));
  assert_non_null(strstr(out, "\"attributes\":{\"graceful_stop_timeout\":\"60\"}"));
  assert_non_null(strstr(out, "\"spec\":\"disk:avio_stor:0,2,0:file:/vm/x.img\""));
  /* Balanced braces and brackets: a sanity check of the structure. */
  int depth = 0;
  bool in_str = false;
  for (const char *p = out; *p; p++) {
    if (*p == '\\' && in_str) {
      p++;
      continue;
    }
    if (*p == '"') in_str = !in_str;
    else if (!in_str && (*p == '{' || *p == '[')) depth++;
    else if (!in_str && (*p == '}' || *p == ']')) depth--;
    assert_true(depth >= 0);
  }
  assert_int_equal(depth, 0);
  free(out);
  v->reason = (char *)protobuf_c_empty_string;
  vm_free(v);
}

static void test_json_strings_escape_control_characters(void **state) {
  (void)state;
  char *out;
  CAPTURE(out, cli_json_str(f, "a\tb\x01\\"));
  assert_string_equal(out, "\"a\\tb\\u0001\\\\\"");
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_table_matches_hpvm_column_for_column),
    cmocka_unit_test(test_states_read_as_hpvm_wrote_them),
    cmocka_unit_test(test_runsysid_names_the_host_running_a_guest_elsewhere),
    cmocka_unit_test(test_memory_not_in_whole_gigabytes_prints_in_megabytes),
    cmocka_unit_test(test_detail_sections_match_hpvm),
    cmocka_unit_test(test_cycles_entitlement_prints_mhz),
    cmocka_unit_test(test_verbose_detail_has_every_field),
    cmocka_unit_test(test_a_damaged_record_shows_as_invalid_with_its_reason),
    cmocka_unit_test(test_machine_format_is_one_colon_line_in_documented_order),
    cmocka_unit_test(test_xml_has_what_inventory_tools_read),
    cmocka_unit_test(test_devspecs_print_one_per_line_under_hpvm_headings),
    cmocka_unit_test(test_json_escapes_and_carries_every_field),
    cmocka_unit_test(test_json_strings_escape_control_characters),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
