/* test_cli_opts.c — the hpvm commands' option scanning and the VM options of hpvmcreate,
 * hpvmmodify and hpvmclone (cli/hpvm/opts.c, util.c): every option, its defaults, and every
 * error, each with the one line the operator reads. */
#include <elf.h>
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

/* ---- Helpers ------------------------------------------------------------------------------ */

static char tmpdir[64];

static int setup_dir(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/test_cli_opts.XXXXXX");
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

/* A file under tmpdir with len bytes (or a minimal IA-64 ELF header when elf). */
static const char *make_file(const char *name, size_t len, bool elf) {
  static char path[4][256];
  static int k;
  char *p = path[k++ % 4];
  snprintf(p, 256, "%s/%s", tmpdir, name);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  if (elf) {
    Elf64_Ehdr h = {0};
    memcpy(h.e_ident, ELFMAG, SELFMAG);
    h.e_ident[EI_CLASS] = ELFCLASS64;
    h.e_ident[EI_DATA] = ELFDATA2LSB;
    h.e_ident[EI_VERSION] = EV_CURRENT;
    h.e_type = ET_EXEC;
    h.e_machine = EM_IA_64;
    assert_int_equal(fwrite(&h, sizeof h, 1, f), 1);
  } else if (len) {
    assert_int_equal(fseek(f, (long)len - 1, SEEK_SET), 0);
    fputc(0, f);
  }
  fclose(f);
  return p;
}

/* Take one option; returns the code and leaves the message in why. */
static char why[CLI_WHY];
static int take(cli_vmopts *o, int opt, const char *arg) {
  why[0] = 0;
  return cli_vmopts_take(o, opt, arg, why, sizeof why);
}

static void assert_why_contains(const char *s) {
  if (!strstr(why, s)) fail_msg("message \"%s\" does not contain \"%s\"", why, s);
}

/* A configuration from options given as "-c", "2", "-r", "4G", ... (NULL-terminated). */
static int create_with(const cli_host *host, Hpvm__VmConfig **out, ...) {
  cli_vmopts o;
  cli_vmopts_init(&o);
  va_list ap;
  va_start(ap, out);
  int rc = 0;
  const char *opt;
  while (!rc && (opt = va_arg(ap, const char *))) rc = take(&o, opt[1], va_arg(ap, const char *));
  va_end(ap);
  if (!rc) rc = cli_vmopts_create(&o, "vm1", host, NULL, 0, out, why, sizeof why);
  cli_vmopts_free(&o);
  return rc;
}

/* ---- Scanning ------------------------------------------------------------------------------ */

static void test_scanner_takes_values_attached_or_separate(void **state) {
  (void)state;
  char *argv[] = {"hpvmcreate", "-P", "web1", "-c2", "-r", "4G", NULL};
  cli_optscan s;
  cli_optscan_init(&s, 6, argv, "P:c:r:");
  assert_int_equal(cli_optscan_next(&s), 'P');
  assert_string_equal(s.arg, "web1");
  assert_int_equal(cli_optscan_next(&s), 'c');
  assert_string_equal(s.arg, "2");
  assert_int_equal(cli_optscan_next(&s), 'r');
  assert_string_equal(s.arg, "4G");
  assert_int_equal(cli_optscan_next(&s), CLI_OPT_END);
}

static void test_scanner_splits_flag_clusters(void **state) {
  (void)state;
  char *argv[] = {"hpvmstop", "-gq", "-Pvm", NULL};
  cli_optscan s;
  cli_optscan_init(&s, 3, argv, "P:gq");
  assert_int_equal(cli_optscan_next(&s), 'g');
  assert_int_equal(cli_optscan_next(&s), 'q');
  assert_int_equal(cli_optscan_next(&s), 'P');
  assert_string_equal(s.arg, "vm");
  assert_int_equal(cli_optscan_next(&s), CLI_OPT_END);
}

static void test_scanner_knows_help_json_and_plain_arguments(void **state) {
  (void)state;
  char *argv[] = {"hpvmstatus", "--json", "file", "--help", "--", "-P", NULL};
  cli_optscan s;
  cli_optscan_init(&s, 6, argv, "P:");
  assert_int_equal(cli_optscan_next(&s), CLI_OPT_JSON);
  assert_int_equal(cli_optscan_next(&s), CLI_OPT_ARG);
  assert_string_equal(s.arg, "file");
  assert_int_equal(cli_optscan_next(&s), CLI_OPT_HELP);
  assert_int_equal(cli_optscan_next(&s), CLI_OPT_ARG);
  assert_string_equal(s.arg, "-P");
  assert_int_equal(cli_optscan_next(&s), CLI_OPT_END);
}

static void test_scanner_refuses_unknown_options_and_missing_values(void **state) {
  (void)state;
  char *a1[] = {"hpvmcreate", "-z", NULL};
  cli_optscan s;
  cli_optscan_init(&s, 2, a1, "P:");
  assert_int_equal(cli_optscan_next(&s), CLI_OPT_ERR);
  assert_string_equal(s.why, "unknown option -z (see --help)");
  char *a2[] = {"hpvmcreate", "-P", NULL};
  cli_optscan_init(&s, 2, a2, "P:");
  assert_int_equal(cli_optscan_next(&s), CLI_OPT_ERR);
  assert_string_equal(s.why, "option -P needs a value (see --help)");
  char *a3[] = {"hpvmcreate", "--verbose", NULL};
  cli_optscan_init(&s, 2, a3, "P:");
  assert_int_equal(cli_optscan_next(&s), CLI_OPT_ERR);
  assert_string_equal(s.why, "unknown option --verbose (see --help)");
}

/* ---- Small pieces --------------------------------------------------------------------------- */

static void test_sizes_take_hpvm_units(void **state) {
  (void)state;
  uint64_t v;
  assert_int_equal(cli_parse_size("2048", 1ull << 20, &v), 0);
  assert_int_equal(v, 2048ull << 20);
  assert_int_equal(cli_parse_size("512M", 1ull << 20, &v), 0);
  assert_int_equal(v, 512ull << 20);
  assert_int_equal(cli_parse_size("512MB", 1ull << 20, &v), 0);
  assert_int_equal(v, 512ull << 20);
  assert_int_equal(cli_parse_size("4G", 1ull << 20, &v), 0);
  assert_int_equal(v, 4ull << 30);
  assert_int_equal(cli_parse_size("2GiB", 1ull << 20, &v), 0);
  assert_int_equal(v, 2ull << 30);
  assert_int_equal(cli_parse_size("1t", 1ull << 20, &v), 0);
  assert_int_equal(v, 1ull << 40);
  assert_int_equal(cli_parse_size("64k", 1, &v), 0);
  assert_int_equal(v, 64ull << 10);
}

static void test_sizes_refuse_what_is_not_a_size(void **state) {
  (void)state;
  uint64_t v;
  assert_int_equal(cli_parse_size("", 1, &v), HPVM_EINVAL);
  assert_int_equal(cli_parse_size("G", 1, &v), HPVM_EINVAL);
  assert_int_equal(cli_parse_size("-5", 1, &v), HPVM_EINVAL);
  assert_int_equal(cli_parse_size("10X", 1, &v), HPVM_EINVAL);
  assert_int_equal(cli_parse_size("1.5G", 1, &v), HPVM_EINVAL);
  assert_int_equal(cli_parse_size("99999999999999999999", 1, &v), HPVM_ERANGE);
  assert_int_equal(cli_parse_size("99999999999T", 1, &v), HPVM_ERANGE);
}

static void test_memory_prints_gb_when_whole_else_mb(void **state) {
  (void)state;
  char b[32];
  cli_format_memory(2ull << 30, b, sizeof b);
  assert_string_equal(b, "2 GB");
  cli_format_memory(1536ull << 20, b, sizeof b);
  assert_string_equal(b, "1536 MB");
  cli_format_memory(64ull << 20, b, sizeof b);
  assert_string_equal(b, "64 MB");
}

static void test_os_types_are_case_insensitive(void **state) {
  (void)state;
  assert_int_equal(cli_os_parse("hpux"), HPVM__VM_OS_TYPE__VM_OS_TYPE_HPUX);
  assert_int_equal(cli_os_parse("HP-UX"), HPVM__VM_OS_TYPE__VM_OS_TYPE_HPUX);
  assert_int_equal(cli_os_parse("Linux"), HPVM__VM_OS_TYPE__VM_OS_TYPE_LINUX);
  assert_int_equal(cli_os_parse("windows"), HPVM__VM_OS_TYPE__VM_OS_TYPE_WINDOWS);
  assert_int_equal(cli_os_parse("openvms"), HPVM__VM_OS_TYPE__VM_OS_TYPE_OPENVMS);
  assert_int_equal(cli_os_parse("unknown"), HPVM__VM_OS_TYPE__VM_OS_TYPE_UNKNOWN);
  assert_int_equal(cli_os_parse("solaris"), 0);
  assert_string_equal(cli_os_name(HPVM__VM_OS_TYPE__VM_OS_TYPE_HPUX), "HPUX");
}

/* ---- Taking options ------------------------------------------------------------------------- */

static void test_create_defaults_are_hpvms(void **state) {
  (void)state;
  Hpvm__VmConfig *c;
  assert_int_equal(create_with(NULL, &c, NULL), 0);
  assert_string_equal(c->name, "vm1");
  assert_int_equal(c->vcpus, 1);
  assert_int_equal(c->memory_bytes, 2ull << 30);
  assert_int_equal(c->entitlement->unit, HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT);
  assert_int_equal(c->entitlement->value, 10);
  assert_int_equal(c->entitlement->max, 0);
  assert_int_equal(c->os_type, HPVM__VM_OS_TYPE__VM_OS_TYPE_UNKNOWN);
  assert_int_equal(c->boot, HPVM__VM_BOOT_MODE__VM_BOOT_MODE_AUTO);
  assert_int_equal(c->n_devices, 0);
  cli_vm_free(c);
}

static void test_every_scalar_option_lands_in_the_config(void **state) {
  (void)state;
  Hpvm__VmConfig *c;
  const char *k = make_file("vmlinux", 0, true);
  assert_int_equal(create_with(NULL, &c, "-O", "linux", "-c", "2", "-r", "4G", "-e", "20:50", "-l", "web server 1",
                               "-B", "manual", "-x", "graceful_stop_timeout=60", "-K", k, "-A", "console=ttyS0 quiet",
                               NULL), 0);
  assert_int_equal(c->os_type, HPVM__VM_OS_TYPE__VM_OS_TYPE_LINUX);
  assert_int_equal(c->vcpus, 2);
  assert_int_equal(c->memory_bytes, 4ull << 30);
  assert_int_equal(c->entitlement->value, 20);
  assert_int_equal(c->entitlement->max, 50);
  assert_string_equal(c->label, "web server 1");
  assert_int_equal(c->boot, HPVM__VM_BOOT_MODE__VM_BOOT_MODE_MANUAL);
  assert_string_equal(cli_vm_attr(c, "graceful_stop_timeout"), "60");
  assert_string_equal(c->kernel, k);
  assert_string_equal(c->cmdline, "console=ttyS0 quiet");
  cli_vm_free(c);
}

static void test_vcpus_are_1_to_64(void **state) {
  (void)state;
  cli_vmopts o;
  cli_vmopts_init(&o);
  assert_int_equal(take(&o, 'c', "64"), 0);
  assert_int_equal(take(&o, 'c', "0"), HPVM_EINVAL);
  assert_why_contains("-c 0: the number of vCPUs is a whole number from 1");
  assert_int_equal(take(&o, 'c', "65"), HPVM_ERANGE);
  assert_why_contains("at most 64 vCPUs");
  assert_int_equal(take(&o, 'c', "two"), HPVM_EINVAL);
  cli_vmopts_free(&o);
}

static void test_memory_is_whole_megabytes_from_32(void **state) {
  (void)state;
  cli_vmopts o;
  cli_vmopts_init(&o);
  assert_int_equal(take(&o, 'r', "32"), 0);
  assert_int_equal(o.memory_bytes, 32ull << 20);
  assert_int_equal(take(&o, 'r', "31M"), HPVM_ERANGE);
  assert_why_contains("at least 32 MB");
  assert_int_equal(take(&o, 'r', "40000K"), HPVM_EINVAL);
  assert_why_contains("whole number of megabytes");
  assert_int_equal(take(&o, 'r', "lots"), HPVM_EINVAL);
  assert_why_contains("-r lots: memory is a size such as 2048 (MB), 512M or 4G");
  cli_vmopts_free(&o);
}

static void test_entitlement_percent_and_cap(void **state) {
  (void)state;
  cli_vmopts o;
  cli_vmopts_init(&o);
  assert_int_equal(take(&o, 'e', "10%"), 0);
  assert_int_equal(o.ent_value, 10);
  assert_int_equal(o.ent_max, 0);
  assert_int_equal(take(&o, 'e', "70:100"), 0);
  assert_int_equal(o.ent_max, 100);
  assert_int_equal(take(&o, 'e', "101"), HPVM_ERANGE);
  assert_why_contains("0 to 100 percent");
  assert_int_equal(take(&o, 'e', "50:40"), HPVM_ERANGE);
  assert_why_contains("the maximum is from the entitlement (50) to 100 percent");
  assert_int_equal(take(&o, 'e', "50:101"), HPVM_ERANGE);
  assert_int_equal(take(&o, 'e', "ten"), HPVM_EINVAL);
  assert_int_equal(take(&o, 'e', "10.5"), HPVM_EINVAL);
  cli_vmopts_free(&o);
}

/* 0 % is a best-effort guest: accepted, with or without a cap (docs/man/hpvmcreate.md). */
static void test_entitlement_of_zero_percent_is_best_effort(void **state) {
  (void)state;
  cli_vmopts o;
  cli_vmopts_init(&o);
  assert_int_equal(take(&o, 'e', "0"), 0);
  assert_int_equal(o.ent_unit, HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT);
  assert_int_equal(o.ent_value, 0);
  assert_int_equal(o.ent_max, 0);
  assert_int_equal(take(&o, 'e', "0%:30"), 0);
  assert_int_equal(o.ent_value, 0);
  assert_int_equal(o.ent_max, 30);
  cli_vmopts_free(&o);
}

static void test_entitlement_in_cycles_excludes_percent(void **state) {
  (void)state;
  cli_vmopts o;
  cli_vmopts_init(&o);
  assert_int_equal(take(&o, 'E', "200MHz:1000"), 0);
  assert_int_equal(o.ent_unit, HPVM__VM_ENTITLEMENT__UNIT__UNIT_CYCLES);
  assert_int_equal(o.ent_value, 200);
  assert_int_equal(o.ent_max, 1000);
  assert_int_equal(take(&o, 'E', "200:100"), HPVM_ERANGE);
  assert_int_equal(take(&o, 'E', "0"), HPVM_ERANGE);
  assert_int_equal(take(&o, 'e', "10"), HPVM_EINVAL);
  assert_why_contains("-e and -E exclude each other");
  cli_vmopts_free(&o);
}

static void test_os_label_and_boot_are_checked(void **state) {
  (void)state;
  cli_vmopts o;
  cli_vmopts_init(&o);
  assert_int_equal(take(&o, 'O', "beos"), HPVM_EINVAL);
  assert_why_contains("unknown OS type");
  assert_int_equal(take(&o, 'l', "ok-label_1.0 x"), 0);
  assert_int_equal(take(&o, 'l', "semi;colon"), HPVM_EINVAL);
  assert_why_contains("a label holds A-Z a-z 0-9");
  char long_label[300];
  memset(long_label, 'a', sizeof long_label - 1);
  long_label[sizeof long_label - 1] = 0;
  assert_int_equal(take(&o, 'l', long_label), HPVM_ERANGE);
  assert_int_equal(take(&o, 'B', "AUTO"), 0);
  assert_int_equal(take(&o, 'B', "sometimes"), HPVM_EINVAL);
  assert_why_contains("auto or manual");
  cli_vmopts_free(&o);
}

static void test_attributes_are_known_and_checked(void **state) {
  (void)state;
  cli_vmopts o;
  cli_vmopts_init(&o);
  assert_int_equal(take(&o, 'x', "runnable_status=disabled"), 0);
  assert_true(o.not_runnable);
  assert_int_equal(take(&o, 'x', "colour=blue"), HPVM_EINVAL);
  assert_why_contains("unknown attribute");
  assert_int_equal(take(&o, 'x', "modify_status=maybe"), HPVM_EINVAL);
  assert_why_contains("enabled or disabled");
  assert_int_equal(take(&o, 'x', "ha=on"), 0);
  assert_int_equal(take(&o, 'x', "ha=off"), 0);
  assert_int_equal(take(&o, 'x', "ha=o"), HPVM_EINVAL);
  assert_why_contains("ha is on or off");
  assert_int_equal(take(&o, 'x', "graceful_stop_timeout=0"), HPVM_EINVAL);
  assert_int_equal(take(&o, 'x', "graceful_stop_timeout=3601"), HPVM_EINVAL);
  assert_int_equal(take(&o, 'x', "novalue"), HPVM_EINVAL);
  assert_why_contains("attr=value");
  cli_vmopts_free(&o);
}

static void test_register_status_sets_the_three_statuses(void **state) {
  (void)state;
  Hpvm__VmConfig *c;
  assert_int_equal(create_with(NULL, &c, "-x", "register_status=disabled", NULL), 0);
  assert_string_equal(cli_vm_attr(c, "runnable_status"), "disabled");
  assert_string_equal(cli_vm_attr(c, "modify_status"), "disabled");
  assert_string_equal(cli_vm_attr(c, "visible_status"), "disabled");
  assert_true(c->not_runnable);
  assert_string_equal(c->not_runnable_reason, "runnable_status=disabled");
  cli_vm_free(c);
}

static void test_kernel_must_be_an_ia64_elf(void **state) {
  (void)state;
  Hpvm__VmConfig *c = NULL;
  const char *text = make_file("notes.txt", 100, false);
  assert_int_equal(create_with(NULL, &c, "-K", text, NULL), HPVM_EINVAL);
  assert_why_contains("not an IA-64 ELF kernel image");
  assert_int_equal(create_with(NULL, &c, "-K", "/nonexistent/vmlinux", NULL), HPVM_ENOENT);
  assert_why_contains("the kernel image does not exist");
  assert_null(c);
  cli_vmopts o;
  cli_vmopts_init(&o);
  assert_int_equal(take(&o, 'K', ""), HPVM_EINVAL);
  cli_vmopts_free(&o);
}

static void test_kernel_path_is_made_absolute(void **state) {
  (void)state;
  make_file("k.elf", 0, true);
  char cwd[512];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(tmpdir), 0);
  Hpvm__VmConfig *c;
  int rc = create_with(NULL, &c, "-K", "k.elf", NULL);
  assert_int_equal(chdir(cwd), 0);
  assert_int_equal(rc, 0);
  char want[300];
  snprintf(want, sizeof want, "%s/k.elf", tmpdir);
  assert_string_equal(c->kernel, want);
  cli_vm_free(c);
}

static void test_mem_image_attribute_is_an_absolute_regular_file(void **state) {
  (void)state;
  make_file("ram.img", 4096, false);
  char cwd[512];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(tmpdir), 0);
  Hpvm__VmConfig *c;
  int rc = create_with(NULL, &c, "-x", "mem_image=ram.img", NULL);
  assert_int_equal(chdir(cwd), 0);
  assert_int_equal(rc, 0);
  char want[300];
  snprintf(want, sizeof want, "%s/ram.img", tmpdir);
  assert_string_equal(cli_vm_attr(c, "mem_image"), want);
  cli_vm_free(c);
  cli_vmopts o;
  cli_vmopts_init(&o);
  assert_int_equal(take(&o, 'x', "mem_image=/nonexistent/ram.img"), HPVM_EINVAL);
  assert_why_contains("not a readable regular file");
  assert_int_equal(take(&o, 'x', "mem_image=/tmp"), HPVM_EINVAL);
  cli_vmopts_free(&o);
}

static void test_cmdline_is_one_bounded_line(void **state) {
  (void)state;
  cli_vmopts o;
  cli_vmopts_init(&o);
  assert_int_equal(take(&o, 'A', "a\nb"), HPVM_EINVAL);
  char big[CLI_CMDLINE_MAX + 2];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  assert_int_equal(take(&o, 'A', big), HPVM_ERANGE);
  cli_vmopts_free(&o);
}

static void test_device_spec_syntax_is_checked_when_taken(void **state) {
  (void)state;
  cli_vmopts o;
  cli_vmopts_init(&o);
  assert_int_equal(take(&o, 'a', "disk:avio::file:/x"), HPVM_EINVAL);
  assert_why_contains("unknown storage adapter 'avio'");
  assert_int_equal(o.ndevops, 0);
  assert_int_equal(take(&o, 'a', "disk:avio_stor::file:/x"), 0);
  assert_int_equal(o.ndevops, 1);
  cli_vmopts_free(&o);
}

static void test_host_limits_refuse_more_cores_or_memory_than_it_has(void **state) {
  (void)state;
  cli_host host = {.cpus = 2, .memory_bytes = 8ull << 30};
  Hpvm__VmConfig *c = NULL;
  assert_int_equal(create_with(&host, &c, "-c", "4", NULL), HPVM_ERANGE);
  assert_string_equal(why, "4 vCPUs are more than this host's 2 cores; lower -c to at most 2");
  assert_int_equal(create_with(&host, &c, "-r", "16G", NULL), HPVM_ERANGE);
  assert_string_equal(why, "16 GB of memory is more than this host has (8 GB); lower -r");
  assert_int_equal(create_with(&host, &c, "-c", "2", "-r", "8G", NULL), 0);
  cli_vm_free(c);
}

static void test_cycles_beyond_a_host_core_are_refused(void **state) {
  (void)state;
  cli_host host = {.cpus = 2, .memory_bytes = 8ull << 30, .core_mhz = 2300};
  Hpvm__VmConfig *c = NULL;
  assert_int_equal(create_with(&host, &c, "-E", "3000", NULL), HPVM_ERANGE);
  assert_string_equal(why, "an entitlement of 3000 MHz is more than a host core gives (2300 MHz); lower -E");
  assert_int_equal(create_with(&host, &c, "-E", "1000:2400", NULL), HPVM_ERANGE);
  assert_int_equal(create_with(&host, &c, "-E", "1000:2300", NULL), 0);
  cli_vm_free(c);
  /* This machine's clock is known (or 0 where it cannot be read, and then not checked). */
  uint32_t mhz = cli_host_core_mhz();
  assert_true(mhz == 0 || (mhz > 100 && mhz < 100000));
}

static void test_create_refuses_delete_and_modify_of_devices(void **state) {
  (void)state;
  cli_vmopts o;
  cli_vmopts_init(&o);
  assert_int_equal(take(&o, 'd', "disk:avio_stor:0,2,0:file:/x"), 0);
  Hpvm__VmConfig *c = NULL;
  assert_int_equal(cli_vmopts_create(&o, "vm1", NULL, NULL, 0, &c, why, sizeof why), HPVM_EINVAL);
  assert_why_contains("-d: a new VM has no devices to delete or modify");
  assert_null(c);
  cli_vmopts_free(&o);
}

static void test_modify_names_only_the_fields_it_changes(void **state) {
  (void)state;
  Hpvm__VmConfig *c;
  assert_int_equal(create_with(NULL, &c, NULL), 0);
  cli_vmopts o;
  cli_vmopts_init(&o);
  assert_int_equal(take(&o, 'c', "2"), 0);
  assert_int_equal(take(&o, 'e', "30"), 0);
  assert_int_equal(take(&o, 'l', "x"), 0);
  char **names = NULL;
  size_t n = 0;
  assert_int_equal(cli_vmopts_apply(&o, c, NULL, NULL, 0, &names, &n, why, sizeof why), 0);
  assert_int_equal(n, 3);
  assert_string_equal(names[0], "vcpus");
  assert_string_equal(names[1], "entitlement");
  assert_string_equal(names[2], "label");
  cli_names_free(names, n);
  cli_vmopts_free(&o);
  cli_vm_free(c);
}

static void test_a_disk_of_another_vm_is_refused_a_dvd_image_is_shared(void **state) {
  (void)state;
  const char *img = make_file("shared.img", 1 << 20, false);
  const char *iso = make_file("shared.iso", 4096, false);
  /* The other VM uses both. */
  Hpvm__VmConfig *other;
  char a1[300], a2[300];
  snprintf(a1, sizeof a1, "disk:avio_stor::file:%s", img);
  snprintf(a2, sizeof a2, "dvd:avio_stor::file:%s", iso);
  assert_int_equal(create_with(NULL, &other, "-a", a1, "-a", a2, NULL), 0);
  assert_int_equal(cli_str_set(&other->name, "other"), 0);
  Hpvm__VmStatus st = HPVM__VM_STATUS__INIT;
  st.config = other;
  Hpvm__VmStatus *others[] = {&st};

  cli_vmopts o;
  cli_vmopts_init(&o);
  assert_int_equal(take(&o, 'a', a1), 0);
  Hpvm__VmConfig *c = NULL;
  assert_int_equal(cli_vmopts_create(&o, "vm1", NULL, others, 1, &c, why, sizeof why), HPVM_EEXIST);
  assert_why_contains("is a disk of VM 'other'");
  cli_vmopts_free(&o);

  cli_vmopts_init(&o);
  assert_int_equal(take(&o, 'a', a2), 0);
  assert_int_equal(cli_vmopts_create(&o, "vm1", NULL, others, 1, &c, why, sizeof why), 0);
  assert_int_equal(c->n_devices, 1);
  cli_vm_free(c);
  cli_vmopts_free(&o);
  cli_vm_free(other);
}

static void test_copy_is_deep_and_frees_cleanly(void **state) {
  (void)state;
  const char *img = make_file("copy.img", 1 << 20, false);
  char a[300];
  snprintf(a, sizeof a, "disk:avio_stor::file:%s", img);
  Hpvm__VmConfig *c;
  assert_int_equal(create_with(NULL, &c, "-a", a, "-a", "network:avio_lan::vswitch:sw0", "-x", "modify_status=enabled",
                               "-l", "L", NULL), 0);
  Hpvm__VmConfig *d = cli_vm_copy(c);
  assert_non_null(d);
  assert_ptr_not_equal(d->devices[0], c->devices[0]);
  assert_string_equal(d->devices[0]->path, img);
  assert_string_equal(d->networks[0]->vswitch, "sw0");
  assert_string_equal(d->label, "L");
  assert_string_equal(cli_vm_attr(d, "modify_status"), "enabled");
  /* Packed, they are the same message. */
  size_t n1 = hpvm__vm_config__get_packed_size(c), n2 = hpvm__vm_config__get_packed_size(d);
  assert_int_equal(n1, n2);
  uint8_t *b1 = malloc(n1), *b2 = malloc(n2);
  hpvm__vm_config__pack(c, b1);
  hpvm__vm_config__pack(d, b2);
  assert_memory_equal(b1, b2, n1);
  free(b1);
  free(b2);
  cli_vm_free(c);
  cli_vm_free(d);
}

static void test_attributes_are_set_replaced_and_removed(void **state) {
  (void)state;
  Hpvm__VmConfig *c = cli_vm_new();
  assert_int_equal(cli_vm_attr_set(c, "a", "1"), 0);
  assert_int_equal(cli_vm_attr_set(c, "b", "2"), 0);
  assert_int_equal(cli_vm_attr_set(c, "a", "3"), 0);
  assert_string_equal(cli_vm_attr(c, "a"), "3");
  assert_int_equal(cli_vm_attr_set(c, "a", NULL), 0);
  assert_null(cli_vm_attr(c, "a"));
  assert_string_equal(cli_vm_attr(c, "b"), "2");
  assert_int_equal(c->n_attributes, 1);
  cli_vm_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_scanner_takes_values_attached_or_separate),
    cmocka_unit_test(test_scanner_splits_flag_clusters),
    cmocka_unit_test(test_scanner_knows_help_json_and_plain_arguments),
    cmocka_unit_test(test_scanner_refuses_unknown_options_and_missing_values),
    cmocka_unit_test(test_sizes_take_hpvm_units),
    cmocka_unit_test(test_sizes_refuse_what_is_not_a_size),
    cmocka_unit_test(test_memory_prints_gb_when_whole_else_mb),
    cmocka_unit_test(test_os_types_are_case_insensitive),
    cmocka_unit_test(test_create_defaults_are_hpvms),
    cmocka_unit_test(test_every_scalar_option_lands_in_the_config),
    cmocka_unit_test(test_vcpus_are_1_to_64),
    cmocka_unit_test(test_memory_is_whole_megabytes_from_32),
    cmocka_unit_test(test_entitlement_percent_and_cap),
    cmocka_unit_test(test_entitlement_of_zero_percent_is_best_effort),
    cmocka_unit_test(test_entitlement_in_cycles_excludes_percent),
    cmocka_unit_test(test_os_label_and_boot_are_checked),
    cmocka_unit_test(test_attributes_are_known_and_checked),
    cmocka_unit_test(test_register_status_sets_the_three_statuses),
    cmocka_unit_test(test_kernel_must_be_an_ia64_elf),
    cmocka_unit_test(test_kernel_path_is_made_absolute),
    cmocka_unit_test(test_mem_image_attribute_is_an_absolute_regular_file),
    cmocka_unit_test(test_cmdline_is_one_bounded_line),
    cmocka_unit_test(test_device_spec_syntax_is_checked_when_taken),
    cmocka_unit_test(test_host_limits_refuse_more_cores_or_memory_than_it_has),
    cmocka_unit_test(test_cycles_beyond_a_host_core_are_refused),
    cmocka_unit_test(test_create_refuses_delete_and_modify_of_devices),
    cmocka_unit_test(test_modify_names_only_the_fields_it_changes),
    cmocka_unit_test(test_a_disk_of_another_vm_is_refused_a_dvd_image_is_shared),
    cmocka_unit_test(test_copy_is_deep_and_frees_cleanly),
    cmocka_unit_test(test_attributes_are_set_replaced_and_removed),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
