/* format.c — what hpvmstatus prints, in each of its forms:
 *   (none)  the [Virtual Machines] table, one line per VM, columns as HPVM printed them
 *   -P vm   the detail sections ([Virtual Machine Details], [Authorized Administrators],
 *           [Virtual CPU Details], [Memory Details], [Storage Interface Details],
 *           [Network Interface Details], [Misc Interface Details])
 *   -V      the detail with every field (hpvm's run-time facts included)
 *   -M      one colon-separated line per VM for scripts (field list in docs/man/hpvmstatus.md)
 *   -X      XML (<pman><virtual_machine name= uuid= local_id=>...), the shape inventory tools
 *           parsed from HPVM
 *   -d      the devices as the resource specs that would re-create them
 *   --json  everything, for scripts of this century
 * Pure functions of the VmStatus messages hpvmd sends: a FILE* in, text out. */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define S(x) HPVM__VM_RUN_STATE__VM_RUN_STATE_##x

static const char *vm_name(const Hpvm__VmStatus *vm) {
  return vm->config && *vm->config->name ? vm->config->name : "?";
}

/* The configuration, or NULL when hpvmd could not read it (a damaged record comes with a
 * configuration that holds only the name). */
static const Hpvm__VmConfig *cfg_of(const Hpvm__VmStatus *vm) {
  return vm->state == HPVM__VM_RUN_STATE__VM_RUN_STATE_BAD_RECORD ? NULL : vm->config;
}

const char *cli_state_name(const Hpvm__VmStatus *vm) {
  switch (vm->state) {
  case S(OFF): return vm->not_runnable_here || (cfg_of(vm) && vm->config->not_runnable) ? "Off (NR)" : "Off";
  case S(BOOTING): return "On (EFI)";
  case S(ON): return "On (OS)";
  case S(STOPPING): return "Stopping";
  case S(PAUSED): return "Paused";
  case S(CRASH): return "Crash";
  case S(BAD_RECORD): return "Invalid";
  case S(ELSEWHERE): return "On (OS)";
  case S(INCOMING): return "Migrating in";
  case S(UNKNOWN): return "Unknown";
  default: return "Invalid";
  }
}

const char *cli_state_word(const Hpvm__VmStatus *vm) {
  switch (vm->state) {
  case S(OFF): return "Off";
  case S(CRASH): return "Crash";
  case S(BOOTING): case S(ON): case S(STOPPING): case S(PAUSED): case S(ELSEWHERE): case S(INCOMING): return "On";
  case S(UNKNOWN): return "Unknown";
  default: return "Invalid";
  }
}

static const char *run_state_id(int s) {
  switch (s) {
  case S(OFF): return "OFF";
  case S(BOOTING): return "BOOTING";
  case S(ON): return "ON";
  case S(STOPPING): return "STOPPING";
  case S(PAUSED): return "PAUSED";
  case S(CRASH): return "CRASH";
  case S(BAD_RECORD): return "BAD_RECORD";
  case S(ELSEWHERE): return "ELSEWHERE";
  case S(INCOMING): return "INCOMING";
  case S(UNKNOWN): return "UNKNOWN";
  default: return "INVALID";
  }
}

/* HPVM's Runsysid: 0 for this host's guests (and guests that run nowhere); the host's name
 * for a guest another host of the cluster runs. */
static const char *runsysid(const Hpvm__VmStatus *vm, const char *local_host) {
  if (!*vm->host || (local_host && !strcmp(vm->host, local_host))) return "0";
  return vm->host;
}

static const char *os_of(const Hpvm__VmStatus *vm) { return cfg_of(vm) ? cli_os_name(vm->config->os_type) : "UNKNOWN"; }

/* ---- The table ------------------------------------------------------------------------------ */

/* The Host column (hpvm's, after HPVM's columns): the host that runs the guest (for an
 * Unknown guest, the host that ran it last), "-" when it runs nowhere. */
static const char *host_of(const Hpvm__VmStatus *vm) { return *vm->host ? vm->host : "-"; }

void cli_fmt_table(FILE *f, Hpvm__VmStatus *const *vms, size_t n, const char *local_host) {
  fprintf(f, "[Virtual Machines]\n");
  fprintf(f, "Virtual Machine Name VM #  OS Type State     #VCPUs #Devs #Nets Memory  Runsysid Host\n");
  fprintf(f, "==================== ===== ======= ========= ====== ===== ===== ======= ======== ========\n");
  for (size_t i = 0; i < n; i++) {
    const Hpvm__VmStatus *vm = vms[i];
    const Hpvm__VmConfig *c = cfg_of(vm);
    char mem[32] = "";
    if (c) cli_format_memory(c->memory_bytes, mem, sizeof mem);
    fprintf(f, "%-20s %5u %-7s %-9s %6u %5zu %5zu %7s %8s %s\n", vm_name(vm), c ? c->vm_number : 0, os_of(vm),
            cli_state_name(vm), c ? c->vcpus : 0, c ? c->n_devices : 0, c ? c->n_networks : 0, mem,
            runsysid(vm, local_host), host_of(vm));
  }
}

/* ---- The detail sections ------------------------------------------------------------------------ */

static void fmt_entitlement(const Hpvm__VmEntitlement *e, char *val, size_t vlen, char *max, size_t mlen) {
  if (e && e->unit == HPVM__VM_ENTITLEMENT__UNIT__UNIT_CYCLES) {
    snprintf(val, vlen, "%uMHz", e->value);
    if (e->max) snprintf(max, mlen, "%uMHz", e->max);
    else snprintf(max, mlen, "-");
  } else {
    snprintf(val, vlen, "%u.0%%", e ? e->value : 0);
    snprintf(max, mlen, "%u.0%%", e && e->max ? e->max : 100);
  }
}

static const char *storage_header =
  "Guest                                 Physical\n"
  "Device  Adaptor    Bus Dev Ftn Tgt Lun Storage   Device\n"
  "======= ========== === === === === === ========= =========================\n";

static void fmt_when(int64_t ns, char *buf, size_t len) {
  if (!ns) {
    snprintf(buf, len, "-");
    return;
  }
  time_t t = (time_t)(ns / 1000000000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static const char *status_attr(const Hpvm__VmConfig *c, const char *key) {
  const char *v = cli_vm_attr(c, key);
  return v ? v : "enabled";
}

static void fmt_verbose_fields(FILE *f, const Hpvm__VmStatus *vm, const char *local_host) {
  const Hpvm__VmConfig *c = vm->config;
  char created[64], modified[64], started[64];
  fmt_when(c->created_ns, created, sizeof created);
  fmt_when(c->modified_ns, modified, sizeof modified);
  fmt_when(vm->started_ns, started, sizeof started);
  const char *gst = cli_vm_attr(c, "graceful_stop_timeout");
  fprintf(f, "[Virtual Machine Details]\n");
  fprintf(f, "Virtual Machine Name     : %s\n", c->name);
  fprintf(f, "Virtual Machine UUID     : %s\n", c->uuid);
  fprintf(f, "Virtual Machine ID       : %u\n", c->vm_number);
  fprintf(f, "Virtual Machine Label    : %s\n", c->label);
  fprintf(f, "VM's Model Name          : ia64 hpvm Integrity Virtual Machine\n");
  fprintf(f, "VM's Serial Number       : VM0101%04u\n", c->vm_number % 10000);
  fprintf(f, "VM's Config Generation   : %" PRIu64 "\n", c->config_generation);
  fprintf(f, "Operating System         : %s\n", cli_os_name(c->os_type));
  fprintf(f, "State                    : %s\n", cli_state_name(vm));
  fprintf(f, "Run state                : %s\n", run_state_id(vm->state));
  if (*vm->reason) fprintf(f, "Reason                   : %s\n", vm->reason);
  fprintf(f, "Start type               : %s\n", c->boot == HPVM__VM_BOOT_MODE__VM_BOOT_MODE_MANUAL ? "Manual" : "Auto");
  fprintf(f, "Console type             : vt100-plus\n");
  fprintf(f, "Guest kernel             : %s\n", c->kernel);
  fprintf(f, "Kernel command line      : %s\n", c->cmdline);
  fprintf(f, "Running on serverid      : %s\n", runsysid(vm, local_host));
  fprintf(f, "Running on host          : %s\n", vm->host);
  fprintf(f, "Running on pid           : %d\n", vm->pid);
  fprintf(f, "Started                  : %s\n", started);
  if (vm->exit_status >= 0) fprintf(f, "Last exit status         : %d\n", vm->exit_status);
  else fprintf(f, "Last exit status         : -\n");
  fprintf(f, "Instructions retired     : %" PRIu64 "\n", vm->retired);
  fprintf(f, "Resident memory          : %" PRIu64 " MB\n", vm->rss_bytes >> 20);
  fprintf(f, "Console viewers          : %u\n", vm->viewers);
  fprintf(f, "Console log              : %s\n", vm->console_log);
  fprintf(f, "Graceful stop timeout    : %s\n", gst ? gst : "30");
  /* On this host: the VM-wide flag, or this host's registration (after a migration). */
  bool nr = vm->not_runnable_here || c->not_runnable;
  const char *nr_why = *vm->not_runnable_reason ? vm->not_runnable_reason : c->not_runnable_reason;
  fprintf(f, "Runnable status          : %s\n", nr ? "disabled" : "enabled");
  if (nr && *nr_why) fprintf(f, "Not runnable because     : %s\n", nr_why);
  if (c->n_registrations) {
    fprintf(f, "Registered on            :");
    for (size_t i = 0; i < c->n_registrations; i++)
      fprintf(f, "%s %s (%s)", i ? "," : "", c->registrations[i]->host,
              c->registrations[i]->runnable ? "runnable" : "not runnable");
    fputc('\n', f);
  }
  if (c->suspended && *c->suspended->path)
    fprintf(f, "Suspended to             : %s (%s)\n", c->suspended->path, c->suspended->host);
  fprintf(f, "Modify status            : %s\n", status_attr(c, "modify_status"));
  fprintf(f, "Visible status           : %s\n", status_attr(c, "visible_status"));
  fprintf(f, "Online migration         : %s\n", status_attr(c, "online_migration"));
  fprintf(f, "Created                  : %s on %s\n", created, *c->created_host ? c->created_host : "-");
  fprintf(f, "Modified                 : %s on %s\n", modified, *c->modified_host ? c->modified_host : "-");
}

void cli_fmt_detail(FILE *f, const Hpvm__VmStatus *vm, bool verbose, const char *local_host) {
  const Hpvm__VmConfig *c = cfg_of(vm);
  if (!c) {
    fprintf(f, "[Virtual Machine Details]\n");
    fprintf(f, "Virtual Machine Name VM #  OS Type State     Host\n");
    fprintf(f, "==================== ===== ======= ========= ========\n");
    fprintf(f, "%-20s %5s %-7s %-9s %s\n", vm_name(vm), "-", "UNKNOWN", cli_state_name(vm), host_of(vm));
    if (*vm->reason) fprintf(f, "\n%s\n", vm->reason);
    return;
  }
  if (verbose) fmt_verbose_fields(f, vm, local_host);
  else {
    fprintf(f, "[Virtual Machine Details]\n");
    fprintf(f, "Virtual Machine Name VM #  OS Type State     Host\n");
    fprintf(f, "==================== ===== ======= ========= ========\n");
    fprintf(f, "%-20s %5u %-7s %-9s %s\n", c->name, c->vm_number, cli_os_name(c->os_type), cli_state_name(vm),
            host_of(vm));
  }
  fprintf(f, "\n[Authorized Administrators]\n");
  fprintf(f, "Oper Groups: \nAdmin Groups:\nOper Users:  \nAdmin Users: \n");

  char val[32], max[32];
  fmt_entitlement(c->entitlement, val, sizeof val, max, sizeof max);
  fprintf(f, "\n[Virtual CPU Details]\n");
  fprintf(f, "#vCPUs Entitlement Maximum\n");
  fprintf(f, "====== =========== =======\n");
  fprintf(f, "%6u %11s %7s\n", c->vcpus, val, max);

  char mem[32];
  cli_format_memory(c->memory_bytes, mem, sizeof mem);
  fprintf(f, "\n[Memory Details]\n");
  fprintf(f, "Total    Reserved\n");
  fprintf(f, "Memory   Memory  \n");
  fprintf(f, "=======  ========\n");
  fprintf(f, "%7s  %8s\n", mem, "0 MB");

  fprintf(f, "\n[Storage Interface Details]\n%s", storage_header);
  for (size_t i = 0; i < c->n_devices; i++) {
    const Hpvm__VmStorageDevice *d = c->devices[i];
    fprintf(f, "%-7s %-10s %3u %3u %3u %3u %3u %-9s %s\n", cli_devtype_name(d->type), d->adapter, d->bus, d->device, 0u,
            d->target, 0u, cli_backing_name(d->backing), d->path);
  }

  fprintf(f, "\n[Network Interface Details]\n");
  fprintf(f, "Interface Adaptor    Name/Num   PortNum Bus Dev Ftn Mac Address\n");
  fprintf(f, "========= ========== ========== ======= === === === =================\n");
  for (size_t i = 0; i < c->n_networks; i++) {
    const Hpvm__VmNetwork *n = c->networks[i];
    char mac[32];
    cli_mac_dashes(n->mac, mac, sizeof mac);
    fprintf(f, "%-9s %-10s %-10s %-7u %3u %3u %3u %s\n", "vswitch", n->adapter, n->vswitch, n->portid, n->bus,
            n->device, 0u, mac);
  }

  fprintf(f, "\n[Misc Interface Details]\n%s", storage_header);
  fprintf(f, "%-7s %-10s %3s %3s %3s %3s %3s %-9s %s\n", "serial", "com1", "", "", "", "", "", "tty", "console");
}

/* ---- -M ------------------------------------------------------------------------------------------ */

/* A field with ':' and '\' escaped by '\' (and newlines as \n) so every line splits on ':'. */
static void mfield(FILE *f, const char *s) {
  for (; *s; s++) {
    if (*s == ':' || *s == '\\') fputc('\\', f);
    if (*s == '\n') fputs("\\n", f);
    else fputc(*s, f);
  }
}

void cli_fmt_machine(FILE *f, const Hpvm__VmStatus *vm, const char *local_host) {
  const Hpvm__VmConfig *c = cfg_of(vm);
  mfield(f, vm_name(vm));
  fprintf(f, ":%u:%s:", c ? c->vm_number : 0, os_of(vm));
  mfield(f, cli_state_name(vm));
  if (!c) {
    fprintf(f, ":0:0:0:0:%s::0:0:percent:auto:::0\n", runsysid(vm, local_host));
    return;
  }
  const Hpvm__VmEntitlement *e = c->entitlement;
  bool cyc = e && e->unit == HPVM__VM_ENTITLEMENT__UNIT__UNIT_CYCLES;
  fprintf(f, ":%u:%zu:%zu:%" PRIu64 ":", c->vcpus, c->n_devices, c->n_networks, c->memory_bytes >> 20);
  mfield(f, runsysid(vm, local_host));
  fprintf(f, ":%s:%u:%u:%s:%s:", c->uuid, e ? e->value : 0, e ? (e->max ? e->max : (cyc ? 0 : 100)) : 0,
          cyc ? "MHz" : "percent", c->boot == HPVM__VM_BOOT_MODE__VM_BOOT_MODE_MANUAL ? "manual" : "auto");
  mfield(f, c->label);
  fputc(':', f);
  mfield(f, vm->host);
  fprintf(f, ":%d\n", vm->pid);
}

/* ---- -X ------------------------------------------------------------------------------------------ */

static void xml_text(FILE *f, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&apos;", f); break;
    default:
      if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n') fprintf(f, "&#%d;", *s);
      else fputc(*s, f);
    }
  }
}

static void xml_elem(FILE *f, const char *indent, const char *name, const char *text) {
  fprintf(f, "%s<%s>", indent, name);
  xml_text(f, text);
  fprintf(f, "</%s>\n", name);
}

void cli_fmt_xml(FILE *f, Hpvm__VmStatus *const *vms, size_t n, const char *local_host) {
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<pman version=\"1.0\">\n");
  for (size_t i = 0; i < n; i++) {
    const Hpvm__VmStatus *vm = vms[i];
    const Hpvm__VmConfig *c = cfg_of(vm);
    fprintf(f, "  <virtual_machine name=\"");
    xml_text(f, vm_name(vm));
    fprintf(f, "\" uuid=\"%s\" local_id=\"%u\">\n", c ? c->uuid : "", c ? c->vm_number : 0);
    xml_elem(f, "    ", "vm_state", cli_state_word(vm));
    xml_elem(f, "    ", "run_state", cli_state_name(vm));
    xml_elem(f, "    ", "runsysid", runsysid(vm, local_host));
    xml_elem(f, "    ", "host", vm->host);
    if (*vm->reason) xml_elem(f, "    ", "reason", vm->reason);
    if (c) {
      char mem[32];
      bool gb = c->memory_bytes % (1ull << 30) == 0;
      snprintf(mem, sizeof mem, "%" PRIu64, gb ? c->memory_bytes >> 30 : c->memory_bytes >> 20);
      xml_elem(f, "    ", "os_type", cli_os_name(c->os_type));
      fprintf(f, "    <vcpu_number>%u</vcpu_number>\n", c->vcpus);
      const Hpvm__VmEntitlement *e = c->entitlement;
      bool cyc = e && e->unit == HPVM__VM_ENTITLEMENT__UNIT__UNIT_CYCLES;
      fprintf(f, "    <entitlement unit=\"%s\" max=\"%u\">%u</entitlement>\n", cyc ? "MHz" : "percent",
              e ? (e->max ? e->max : (cyc ? 0 : 100)) : 0, e ? e->value : 0);
      fprintf(f, "    <memory>\n      <total unit=\"%s\">%s</total>\n    </memory>\n", gb ? "GB" : "MB", mem);
      xml_elem(f, "    ", "start_type", c->boot == HPVM__VM_BOOT_MODE__VM_BOOT_MODE_MANUAL ? "manual" : "auto");
      xml_elem(f, "    ", "label", c->label);
      xml_elem(f, "    ", "kernel", c->kernel);
      xml_elem(f, "    ", "cmdline", c->cmdline);
      fprintf(f, "    <storage>\n");
      for (size_t k = 0; k < c->n_devices; k++) {
        const Hpvm__VmStorageDevice *d = c->devices[k];
        fprintf(f, "      <device type=\"%s\" adapter=\"%s\" bus=\"%u\" dev=\"%u\" ftn=\"0\" tgt=\"%u\" lun=\"0\" "
                   "storage=\"%s\" path=\"", cli_devtype_name(d->type), d->adapter, d->bus, d->device, d->target,
                cli_backing_name(d->backing));
        xml_text(f, d->path);
        fprintf(f, "\"/>\n");
      }
      fprintf(f, "    </storage>\n    <network>\n");
      for (size_t k = 0; k < c->n_networks; k++) {
        const Hpvm__VmNetwork *nn = c->networks[k];
        fprintf(f, "      <interface adapter=\"%s\" bus=\"%u\" dev=\"%u\" ftn=\"0\" mac=\"%s\" vswitch=\"", nn->adapter,
                nn->bus, nn->device, nn->mac);
        xml_text(f, nn->vswitch);
        fprintf(f, "\" portid=\"%u\"/>\n", nn->portid);
      }
      fprintf(f, "    </network>\n");
    }
    fprintf(f, "  </virtual_machine>\n");
  }
  fprintf(f, "</pman>\n");
}

/* ---- -d ------------------------------------------------------------------------------------------ */

void cli_fmt_devspecs(FILE *f, const Hpvm__VmStatus *vm) {
  const Hpvm__VmConfig *c = cfg_of(vm);
  char buf[4200];
  fprintf(f, "[Virtual Machine Devices]\n\n[Storage Interface Details]\n");
  for (size_t i = 0; c && i < c->n_devices; i++) {
    cli_dev_spec(c->devices[i], buf, sizeof buf);
    fprintf(f, "%s\n", buf);
  }
  fprintf(f, "\n[Network Interface Details]\n");
  for (size_t i = 0; c && i < c->n_networks; i++) {
    cli_net_spec(c->networks[i], buf, sizeof buf);
    fprintf(f, "%s\n", buf);
  }
  fprintf(f, "\n[Misc Interface Details]\nserial:com1::tty:console\n");
}

/* ---- JSON ---------------------------------------------------------------------------------------- */

static void jkey(FILE *f, const char *k) {
  cli_json_str(f, k);
  fputc(':', f);
}

static void jstr(FILE *f, const char *k, const char *v, bool comma) {
  jkey(f, k);
  cli_json_str(f, v);
  if (comma) fputc(',', f);
}

static void json_config(FILE *f, const Hpvm__VmConfig *c) {
  const Hpvm__VmEntitlement *e = c->entitlement;
  bool cyc = e && e->unit == HPVM__VM_ENTITLEMENT__UNIT__UNIT_CYCLES;
  fprintf(f, "\"vm_number\":%u,", c->vm_number);
  jstr(f, "uuid", c->uuid, true);
  jstr(f, "os_type", cli_os_name(c->os_type), true);
  fprintf(f, "\"vcpus\":%u,\"memory_bytes\":%" PRIu64 ",", c->vcpus, c->memory_bytes);
  fprintf(f, "\"entitlement\":{\"unit\":\"%s\",\"value\":%u,\"max\":%u},", cyc ? "MHz" : "percent", e ? e->value : 0,
          e ? e->max : 0);
  jstr(f, "label", c->label, true);
  jstr(f, "boot", c->boot == HPVM__VM_BOOT_MODE__VM_BOOT_MODE_MANUAL ? "manual" : "auto", true);
  jstr(f, "kernel", c->kernel, true);
  jstr(f, "cmdline", c->cmdline, true);
  fprintf(f, "\"not_runnable\":%s,", c->not_runnable ? "true" : "false");
  jstr(f, "not_runnable_reason", c->not_runnable_reason, true);
  fprintf(f, "\"registrations\":[");
  for (size_t i = 0; i < c->n_registrations; i++) {
    fprintf(f, "%s{", i ? "," : "");
    jstr(f, "host", c->registrations[i]->host, true);
    fprintf(f, "\"runnable\":%s,", c->registrations[i]->runnable ? "true" : "false");
    jstr(f, "reason", c->registrations[i]->reason, false);
    fputc('}', f);
  }
  fprintf(f, "],");
  if (c->suspended && *c->suspended->path) jstr(f, "suspended_to", c->suspended->path, true);
  fprintf(f, "\"attributes\":{");
  for (size_t i = 0; i < c->n_attributes; i++) {
    if (i) fputc(',', f);
    jstr(f, c->attributes[i]->key, c->attributes[i]->value, false);
  }
  fprintf(f, "},\"devices\":[");
  for (size_t i = 0; i < c->n_devices; i++) {
    const Hpvm__VmStorageDevice *d = c->devices[i];
    char spec[4200];
    cli_dev_spec(d, spec, sizeof spec);
    fprintf(f, "%s{", i ? "," : "");
    jstr(f, "type", cli_devtype_name(d->type), true);
    jstr(f, "adapter", d->adapter, true);
    fprintf(f, "\"bus\":%u,\"slot\":%u,\"target\":%u,", d->bus, d->device, d->target);
    jstr(f, "storage", cli_backing_name(d->backing), true);
    jstr(f, "path", d->path, true);
    jstr(f, "spec", spec, false);
    fputc('}', f);
  }
  fprintf(f, "],\"networks\":[");
  for (size_t i = 0; i < c->n_networks; i++) {
    const Hpvm__VmNetwork *n = c->networks[i];
    char spec[512];
    cli_net_spec(n, spec, sizeof spec);
    fprintf(f, "%s{", i ? "," : "");
    jstr(f, "adapter", n->adapter, true);
    fprintf(f, "\"bus\":%u,\"slot\":%u,", n->bus, n->device);
    jstr(f, "mac", n->mac, true);
    jstr(f, "vswitch", n->vswitch, true);
    fprintf(f, "\"portid\":%u,", n->portid);
    jstr(f, "spec", spec, false);
    fputc('}', f);
  }
  fprintf(f, "],\"config_generation\":%" PRIu64 ",\"created_ns\":%" PRId64 ",\"modified_ns\":%" PRId64 ",",
          c->config_generation, c->created_ns, c->modified_ns);
  jstr(f, "created_host", c->created_host, true);
  jstr(f, "modified_host", c->modified_host, true);
}

void cli_fmt_json_vm(FILE *f, const Hpvm__VmStatus *vm, const char *local_host) {
  fputc('{', f);
  jstr(f, "name", vm_name(vm), true);
  jstr(f, "state", cli_state_name(vm), true);
  jstr(f, "run_state", run_state_id(vm->state), true);
  jstr(f, "reason", vm->reason, true);
  fprintf(f, "\"not_runnable_here\":%s,", vm->not_runnable_here ? "true" : "false");
  jstr(f, "not_runnable_here_reason", vm->not_runnable_reason, true);
  jstr(f, "host", vm->host, true);
  jstr(f, "runsysid", runsysid(vm, local_host), true);
  if (cfg_of(vm)) json_config(f, vm->config);
  fprintf(f, "\"pid\":%d,\"started_ns\":%" PRId64 ",\"exit_status\":%d,\"retired\":%" PRIu64 ",\"rss_bytes\":%" PRIu64
             ",\"viewers\":%u,", vm->pid, vm->started_ns, vm->exit_status, vm->retired, vm->rss_bytes, vm->viewers);
  jstr(f, "console_log", vm->console_log, false);
  fputc('}', f);
}

void cli_fmt_json_list(FILE *f, Hpvm__VmStatus *const *vms, size_t n, const char *local_host) {
  fprintf(f, "{\"vms\":[");
  for (size_t i = 0; i < n; i++) {
    if (i) fputc(',', f);
    cli_fmt_json_vm(f, vms[i], local_host);
  }
  fprintf(f, "]}\n");
}

void cli_fmt_json_host(FILE *f, const Hpvm__HostInfo *h) {
  fputc('{', f);
  jstr(f, "host", h->host, true);
  jstr(f, "version", h->version, true);
  fprintf(f, "\"pid\":%d,\"started_ns\":%" PRId64 ",", h->pid, h->started_ns);
  jstr(f, "shared_dir", h->shared_dir, true);
  jstr(f, "state_dir", h->state_dir, true);
  fprintf(f, "\"host_cpus\":%u,\"host_memory_bytes\":%" PRIu64 ",\"vms_running\":%u,\"vms_total\":%u,", h->host_cpus,
          h->host_memory_bytes, h->vms_running, h->vms_total);
  jstr(f, "listen", h->listen, false);
  fprintf(f, "}\n");
}
