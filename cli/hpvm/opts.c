/* opts.c — option scanning and the VM options hpvmcreate, hpvmmodify and hpvmclone share.
 *
 * The letters are HP Integrity VM's:
 *   -O os_type        hpux, linux, windows, openvms, unknown
 *   -c vcpus          virtual CPUs (default 1)
 *   -r amount         memory, MB unless suffixed (M, G, T); default 2 GB
 *   -e percent[:max]  CPU entitlement per vCPU, percent of a host core (default 10)
 *   -E cycles[:max]   the same in MHz
 *   -a rsrc           add a device (devspec.c); -d rsrc delete; -m rsrc modify
 *   -l label          a descriptive label
 *   -B auto|manual    start with hpvmd or by hand
 *   -x attr=value     an attribute (runnable_status, modify_status, graceful_stop_timeout...)
 *   -K kernel         the guest kernel image (hpvm's own: HPVM guests booted from EFI)
 *   -A "cmdline"      its command line
 * Taking an option checks its syntax; applying the options to a configuration checks the
 * rest (files, limits, the host) — so an error names the first thing wrong and nothing is
 * sent to hpvmd until everything is right. */
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define BAD(code, ...) (snprintf(why, whylen, __VA_ARGS__), (code))

/* ---- Scanning ----------------------------------------------------------------------------------- */

void cli_optscan_init(cli_optscan *s, int argc, char **argv, const char *spec) {
  memset(s, 0, sizeof *s);
  s->argc = argc;
  s->argv = argv;
  s->spec = spec;
  s->i = 1;
}

int cli_optscan_next(cli_optscan *s) {
  s->arg = NULL;
  if (!s->cluster || !*s->cluster) {
    s->cluster = NULL;
    if (s->i >= s->argc) return CLI_OPT_END;
    const char *a = s->argv[s->i++];
    if (s->no_more || a[0] != '-' || !a[1]) {
      s->arg = a;
      return CLI_OPT_ARG;
    }
    if (!strcmp(a, "--")) {
      s->no_more = true;
      return cli_optscan_next(s);
    }
    if (a[1] == '-') {
      if (!strcmp(a, "--help")) return CLI_OPT_HELP;
      if (!strcmp(a, "--json")) return CLI_OPT_JSON;
      snprintf(s->why, sizeof s->why, "unknown option %s (see --help)", a);
      return CLI_OPT_ERR;
    }
    s->cluster = a + 1;
  }
  char c = *s->cluster++;
  const char *p = c != ':' ? strchr(s->spec, c) : NULL;
  if (!p) {
    snprintf(s->why, sizeof s->why, "unknown option -%c (see --help)", c);
    return CLI_OPT_ERR;
  }
  if (p[1] == ':') {
    if (*s->cluster) s->arg = s->cluster;
    else if (s->i < s->argc) s->arg = s->argv[s->i++];
    else {
      snprintf(s->why, sizeof s->why, "option -%c needs a value (see --help)", c);
      return CLI_OPT_ERR;
    }
    s->cluster = NULL;
  }
  return (unsigned char)c;
}

/* ---- Taking the VM options ------------------------------------------------------------------------ */

void cli_vmopts_init(cli_vmopts *o) { memset(o, 0, sizeof *o); }

void cli_vmopts_free(cli_vmopts *o) {
  free(o->label);
  free(o->kernel);
  free(o->cmdline);
  for (size_t i = 0; i < o->nattrs; i++) {
    free(o->attrs[i].key);
    free(o->attrs[i].value);
  }
  free(o->attrs);
  for (size_t i = 0; i < o->ndevops; i++) free(o->devops[i].spec);
  free(o->devops);
  memset(o, 0, sizeof *o);
}

/* "10", "10%", "10:50" — percent or MHz, the max optional. */
static bool parse_ent(const char *s, bool percent, uint32_t *value, uint32_t *max) {
  char buf[64];
  if (strlen(s) >= sizeof buf) return false;
  strcpy(buf, s);
  char *colon = strchr(buf, ':');
  if (colon) *colon = 0;
  for (char *part = buf; part; part = colon ? colon + 1 : NULL) {
    size_t n = strlen(part);
    if (percent && n && part[n - 1] == '%') part[--n] = 0;
    if (!percent && n > 3 && !strcasecmp(part + n - 3, "mhz")) part[n -= 3] = 0;
    if (!cli_parse_u32(part, part == buf ? value : max)) return false;
    if (part != buf) break;
  }
  if (!colon) *max = 0;
  return true;
}

typedef struct known_attr {
  const char *key;
  const char *values;                  /* "enabled|disabled", or NULL for a number */
  uint32_t min, max;
} known_attr;

static const known_attr known_attrs[] = {
  {"runnable_status", "enabled|disabled", 0, 0},
  {"modify_status", "enabled|disabled", 0, 0},
  {"visible_status", "enabled|disabled", 0, 0},
  {"register_status", "enabled|disabled", 0, 0},
  {"online_migration", "enabled|disabled", 0, 0},
  {"graceful_stop_timeout", NULL, 1, 3600},
  {"mem_image", "FILE", 0, 0},            /* RAM filled from FILE at boot (benchmarks) */
  {"ha", "on|off", 0, 0},                 /* restarted on another host when its host dies */
  {"ha_max_restarts", "COUNT", 0, 127},   /* HA restarts within ha_restart_window (0: no limit) */
  {"ha_restart_window", NULL, 1, 604800},
};

/* Whether value is one of the words of "a|b|c". */
static bool one_of(const char *words, const char *value) {
  size_t n = strlen(value);
  for (const char *w = words; w; w = strchr(w, '|') ? strchr(w, '|') + 1 : NULL)
    if (!strncmp(w, value, n) && (w[n] == '|' || !w[n]) && n) return true;
  return false;
}

static int take_attr(cli_vmopts *o, const char *arg, char *why, size_t whylen) {
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg) return BAD(HPVM_EINVAL, "-x %s: an attribute is attr=value", arg);
  size_t klen = (size_t)(eq - arg);
  const char *value = eq + 1;
  const known_attr *k = NULL;
  for (size_t i = 0; i < sizeof known_attrs / sizeof *known_attrs; i++)
    if (strlen(known_attrs[i].key) == klen && !strncmp(known_attrs[i].key, arg, klen)) k = &known_attrs[i];
  if (!k)
    return BAD(HPVM_EINVAL,
               "-x %s: unknown attribute (known: runnable_status, modify_status, visible_status, register_status, "
               "online_migration, graceful_stop_timeout, mem_image, ha, ha_max_restarts, ha_restart_window)", arg);
  char abs[PATH_MAX];
  struct stat st;
  if (k->values && !strcmp(k->values, "FILE")) {   /* a regular file, its path made absolute for hpvmd */
    if (!realpath(value, abs) || stat(abs, &st) || !S_ISREG(st.st_mode))
      return BAD(HPVM_EINVAL, "-x %s: %s is not a readable regular file", arg, value);
    value = abs;
  } else if (k->values && !strcmp(k->values, "COUNT")) {
    uint32_t v;
    if (!cli_parse_u32(value, &v) || v < k->min || v > k->max)
      return BAD(HPVM_EINVAL, "-x %s: %s is a number from %u to %u", arg, k->key, k->min, k->max);
  } else if (k->values) {
    if (!one_of(k->values, value)) {
      const char *bar = strchr(k->values, '|');   /* two words: "enabled or disabled" */
      return BAD(HPVM_EINVAL, "-x %s: %s is %.*s or %s", arg, k->key, (int)(bar - k->values), k->values, bar + 1);
    }
  } else {
    uint32_t v;
    if (!cli_parse_u32(value, &v) || v < k->min || v > k->max)
      return BAD(HPVM_EINVAL, "-x %s: %s is a number of seconds from %u to %u", arg, k->key, k->min, k->max);
  }
  /* register_status is the three statuses at once (HPVM's registered/unregistered VM). */
  const char *expand[4] = {k->key, NULL, NULL, NULL};
  if (!strcmp(k->key, "register_status")) {
    expand[0] = "runnable_status";
    expand[1] = "modify_status";
    expand[2] = "visible_status";
  }
  for (int e = 0; expand[e]; e++) {
    size_t i;
    for (i = 0; i < o->nattrs && strcmp(o->attrs[i].key, expand[e]); i++) {}
    if (i == o->nattrs) {
      void *a = realloc(o->attrs, (o->nattrs + 1) * sizeof *o->attrs);
      if (!a) return HPVM_ENOMEM;
      o->attrs = a;
      o->attrs[i].key = strdup(expand[e]);
      o->attrs[i].value = NULL;
      if (!o->attrs[i].key) return HPVM_ENOMEM;
      o->nattrs++;
    }
    free(o->attrs[i].value);
    if (!(o->attrs[i].value = strdup(value))) return HPVM_ENOMEM;
    if (!strcmp(expand[e], "runnable_status")) {
      o->set |= CLI_SET_RUNNABLE;
      o->not_runnable = !strcmp(value, "disabled");
    }
  }
  o->set |= CLI_SET_ATTRS;
  return 0;
}

static bool label_ok(const char *s) {
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr(" _-.", *s)) return false;
  return true;
}

static int set_text(char **dst, const char *v) {
  char *n = strdup(v);
  if (!n) return HPVM_ENOMEM;
  free(*dst);
  *dst = n;
  return 0;
}

int cli_vmopts_take(cli_vmopts *o, int opt, const char *arg, char *why, size_t whylen) {
  switch (opt) {
  case 'O': {
    int os = cli_os_parse(arg);
    if (!os) return BAD(HPVM_EINVAL, "-O %s: unknown OS type (use hpux, linux, windows, openvms or unknown)", arg);
    o->os_type = os;
    o->set |= CLI_SET_OS;
    return 0;
  }
  case 'c':
    if (!cli_parse_u32(arg, &o->vcpus) || o->vcpus == 0)
      return BAD(HPVM_EINVAL, "-c %s: the number of vCPUs is a whole number from 1", arg);
    if (o->vcpus > CLI_MAX_VCPUS)
      return BAD(HPVM_ERANGE, "-c %s: a VM has at most %d vCPUs", arg, CLI_MAX_VCPUS);
    o->set |= CLI_SET_VCPUS;
    return 0;
  case 'r': {
    int rc = cli_parse_size(arg, 1ull << 20, &o->memory_bytes);
    if (rc) return BAD(rc, "-r %s: memory is a size such as 2048 (MB), 512M or 4G", arg);
    if (o->memory_bytes % (1ull << 20)) return BAD(HPVM_EINVAL, "-r %s: memory is a whole number of megabytes", arg);
    if (o->memory_bytes < CLI_MIN_MEMORY)
      return BAD(HPVM_ERANGE, "-r %s: a VM needs at least %llu MB of memory", arg, CLI_MIN_MEMORY >> 20);
    o->set |= CLI_SET_MEMORY;
    return 0;
  }
  case 'e':
  case 'E': {
    bool pct = opt == 'e';
    if ((o->set & CLI_SET_ENTITLEMENT) &&
        o->ent_unit != (pct ? HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT : HPVM__VM_ENTITLEMENT__UNIT__UNIT_CYCLES))
      return BAD(HPVM_EINVAL, "-e and -E exclude each other: give the entitlement once, in percent or in MHz");
    uint32_t v, max;
    if (!parse_ent(arg, pct, &v, &max))
      return BAD(HPVM_EINVAL, pct ? "-e %s: the entitlement is percent[:max_percent], e.g. 20 or 20:50"
                                  : "-E %s: the entitlement is cycles[:max_cycles] in MHz, e.g. 200 or 200:1000", arg);
    if (pct && v > 100)   /* 0 is legal: best-effort, nothing guaranteed */
      return BAD(HPVM_ERANGE, "-e %s: the entitlement is 0 to 100 percent of a host core per vCPU", arg);
    if (pct && max && (max < v || max > 100))
      return BAD(HPVM_ERANGE, "-e %s: the maximum is from the entitlement (%u) to 100 percent", arg, v);
    if (!pct && (v < 1 || v > 1000000)) return BAD(HPVM_ERANGE, "-E %s: the entitlement is 1 to 1000000 MHz", arg);
    if (!pct && max && max < v) return BAD(HPVM_ERANGE, "-E %s: the maximum is at least the entitlement (%u MHz)", arg, v);
    o->ent_unit = pct ? HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT : HPVM__VM_ENTITLEMENT__UNIT__UNIT_CYCLES;
    o->ent_value = v;
    o->ent_max = max;
    o->set |= CLI_SET_ENTITLEMENT;
    return 0;
  }
  case 'l':
    if (strlen(arg) > CLI_LABEL_MAX) return BAD(HPVM_ERANGE, "-l: a label has at most %d characters", CLI_LABEL_MAX);
    if (!label_ok(arg))
      return BAD(HPVM_EINVAL, "-l \"%s\": a label holds A-Z a-z 0-9, space, dash, underscore and period", arg);
    o->set |= CLI_SET_LABEL;
    return set_text(&o->label, arg);
  case 'B':
    if (!strcasecmp(arg, "auto")) o->boot = HPVM__VM_BOOT_MODE__VM_BOOT_MODE_AUTO;
    else if (!strcasecmp(arg, "manual")) o->boot = HPVM__VM_BOOT_MODE__VM_BOOT_MODE_MANUAL;
    else return BAD(HPVM_EINVAL, "-B %s: the start attribute is auto or manual", arg);
    o->set |= CLI_SET_BOOT;
    return 0;
  case 'x':
    return take_attr(o, arg, why, whylen);
  case 'K':
    if (!*arg) return BAD(HPVM_EINVAL, "-K: name the guest kernel image");
    o->set |= CLI_SET_KERNEL;
    return set_text(&o->kernel, arg);
  case 'A':
    if (strlen(arg) > CLI_CMDLINE_MAX)
      return BAD(HPVM_ERANGE, "-A: the kernel command line has at most %d characters", CLI_CMDLINE_MAX);
    if (strpbrk(arg, "\n\r")) return BAD(HPVM_EINVAL, "-A: the kernel command line is one line");
    o->set |= CLI_SET_CMDLINE;
    return set_text(&o->cmdline, arg);
  case 'a':
  case 'd':
  case 'm': {
    /* The syntax now, so a typo is reported before anything else is asked. */
    cli_spec spec;
    int rc = cli_spec_parse(arg, &spec, why, whylen);
    if (rc) return rc;
    cli_spec_free(&spec);
    void *d = realloc(o->devops, (o->ndevops + 1) * sizeof *o->devops);
    if (!d) return HPVM_ENOMEM;
    o->devops = d;
    if (!(o->devops[o->ndevops].spec = strdup(arg))) return HPVM_ENOMEM;
    o->devops[o->ndevops++].op = (char)opt;
    return 0;
  }
  default:
    return BAD(HPVM_EINVAL, "-%c is not a VM option", opt);
  }
}

/* ---- Applying them --------------------------------------------------------------------------------- */

static int add_name(char ***names, size_t *n, const char *name) {
  if (!names) return 0;
  for (size_t i = 0; i < *n; i++)
    if (!strcmp((*names)[i], name)) return 0;
  char **a = realloc(*names, (*n + 1) * sizeof *a);
  if (!a) return HPVM_ENOMEM;
  *names = a;
  if (!(a[*n] = strdup(name))) return HPVM_ENOMEM;
  (*n)++;
  return 0;
}

/* A string field of the configuration, and its name in the changed list. */
static int set_field(char **field, const char *v, char ***names, size_t *n, const char *name) {
  int rc = cli_str_set(field, v);
  return rc ? rc : add_name(names, n, name);
}

void cli_names_free(char **names, size_t n) {
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* The guest kernel: an existing, readable 64-bit little-endian IA-64 ELF. path becomes
 * absolute (hpvmd does not share our working directory). */
static int check_kernel(const char *path, char *abs, char *why, size_t whylen) {
  if (!realpath(path, abs)) {
    if (errno == ENOENT) return BAD(HPVM_ENOENT, "-K %s: the kernel image does not exist", path);
    return BAD(HPVM_EIO, "-K %s: %s", path, strerror(errno));
  }
  int fd = open(abs, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return BAD(HPVM_EPERM, "-K %s: cannot read the kernel image: %s", path, strerror(errno));
  Elf64_Ehdr h;
  ssize_t n = read(fd, &h, sizeof h);
  close(fd);
  if (n != (ssize_t)sizeof h || memcmp(h.e_ident, ELFMAG, SELFMAG) || h.e_ident[EI_CLASS] != ELFCLASS64 ||
      h.e_ident[EI_DATA] != ELFDATA2LSB || h.e_machine != EM_IA_64)
    return BAD(HPVM_EINVAL, "-K %s: not an IA-64 ELF kernel image (docs/platform.md says what boots)", path);
  return 0;
}

/* A disk another VM uses; a dvd image may be shared (read only). */
static int check_shared(const Hpvm__VmConfig *cfg, const Hpvm__VmStorageDevice *d, Hpvm__VmStatus *const *others,
                        size_t nothers, char *why, size_t whylen) {
  if (d->backing == HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_NULL || d->type == HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_DVD)
    return 0;
  for (size_t i = 0; i < nothers; i++) {
    const Hpvm__VmConfig *o = others[i]->config;
    if (!o || !strcmp(o->name, cfg->name)) continue;
    for (size_t k = 0; k < o->n_devices; k++)
      if (o->devices[k]->type == HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_DISK && !strcmp(o->devices[k]->path, d->path))
        return BAD(HPVM_EEXIST, "%s is a disk of VM '%s'; a disk belongs to one VM (copy it with hpvmclone -b)",
                   d->path, o->name);
  }
  return 0;
}

static int apply_devop(const cli_devop *op, Hpvm__VmConfig *cfg, Hpvm__VmStatus *const *others, size_t nothers,
                       char ***names, size_t *nnames, char *why, size_t whylen) {
  cli_spec s;
  int rc = cli_spec_parse(op->spec, &s, why, whylen);
  if (rc) return rc;
  bool net = s.is_net;
  if (op->op != 'd' && !net) {
    rc = cli_spec_check_backing(&s, why, whylen);
    if (!rc) rc = check_shared(cfg, s.dev, others, nothers, why, whylen);
  }
  if (!rc) {
    if (op->op == 'a') rc = cli_devices_add(cfg, &s, why, whylen);
    else if (op->op == 'd') rc = cli_devices_delete(cfg, &s, why, whylen);
    else rc = cli_devices_modify(cfg, &s, why, whylen);
  }
  cli_spec_free(&s);
  if (!rc) rc = add_name(names, nnames, net ? "networks" : "devices");
  return rc;
}

int cli_vmopts_apply(const cli_vmopts *o, Hpvm__VmConfig *cfg, const cli_host *host, Hpvm__VmStatus *const *others,
                     size_t nothers, char ***names, size_t *nnames, char *why, size_t whylen) {
  int rc = 0;
  if (o->set & CLI_SET_OS) {
    cfg->os_type = o->os_type;
    rc = add_name(names, nnames, "os_type");
  }
  if (!rc && (o->set & CLI_SET_VCPUS)) {
    cfg->vcpus = o->vcpus;
    rc = add_name(names, nnames, "vcpus");
  }
  if (!rc && (o->set & CLI_SET_MEMORY)) {
    cfg->memory_bytes = o->memory_bytes;
    rc = add_name(names, nnames, "memory_bytes");
  }
  if (!rc && (o->set & CLI_SET_ENTITLEMENT)) {
    cfg->entitlement->unit = o->ent_unit;
    cfg->entitlement->value = o->ent_value;
    cfg->entitlement->max = o->ent_max;
    rc = add_name(names, nnames, "entitlement");
  }
  if (!rc && (o->set & CLI_SET_LABEL)) rc = set_field(&cfg->label, o->label, names, nnames, "label");
  if (!rc && (o->set & CLI_SET_BOOT)) {
    cfg->boot = o->boot;
    rc = add_name(names, nnames, "boot");
  }
  for (size_t i = 0; !rc && i < o->nattrs; i++) rc = cli_vm_attr_set(cfg, o->attrs[i].key, o->attrs[i].value);
  if (!rc && (o->set & CLI_SET_ATTRS)) rc = add_name(names, nnames, "attributes");
  if (!rc && (o->set & CLI_SET_RUNNABLE)) {
    cfg->not_runnable = o->not_runnable;
    rc = set_field(&cfg->not_runnable_reason, o->not_runnable ? "runnable_status=disabled" : "", names, nnames,
                   "not_runnable");
    if (!rc) rc = add_name(names, nnames, "not_runnable_reason");
  }
  if (!rc && (o->set & CLI_SET_KERNEL)) {
    char abs[PATH_MAX];
    rc = check_kernel(o->kernel, abs, why, whylen);
    if (!rc) rc = set_field(&cfg->kernel, abs, names, nnames, "kernel");
  }
  if (!rc && (o->set & CLI_SET_CMDLINE)) rc = set_field(&cfg->cmdline, o->cmdline, names, nnames, "cmdline");
  for (size_t i = 0; !rc && i < o->ndevops; i++)
    rc = apply_devop(&o->devops[i], cfg, others, nothers, names, nnames, why, whylen);
  if (rc == HPVM_ENOMEM) snprintf(why, whylen, "out of memory");
  if (!rc) rc = cli_vm_check(cfg, host, why, whylen);
  return rc;
}

int cli_vm_check(const Hpvm__VmConfig *cfg, const cli_host *host, char *why, size_t whylen) {
  char mem[32], hmem[32];
  if (cfg->vcpus < 1 || cfg->vcpus > CLI_MAX_VCPUS)
    return BAD(HPVM_ERANGE, "a VM has 1 to %d vCPUs, not %u", CLI_MAX_VCPUS, cfg->vcpus);
  if (host && host->cpus && cfg->vcpus > host->cpus)
    return BAD(HPVM_ERANGE, "%u vCPUs are more than this host's %u cores; lower -c to at most %u", cfg->vcpus,
               host->cpus, host->cpus);
  cli_format_memory(cfg->memory_bytes, mem, sizeof mem);
  if (cfg->memory_bytes < CLI_MIN_MEMORY)
    return BAD(HPVM_ERANGE, "%s of memory is too little; a VM needs at least %llu MB", mem, CLI_MIN_MEMORY >> 20);
  if (host && host->memory_bytes && cfg->memory_bytes > host->memory_bytes) {
    cli_format_memory(host->memory_bytes & ~((1ull << 20) - 1), hmem, sizeof hmem);
    return BAD(HPVM_ERANGE, "%s of memory is more than this host has (%s); lower -r", mem, hmem);
  }
  const Hpvm__VmEntitlement *e = cfg->entitlement;
  if (!e || (e->unit != HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT && e->unit != HPVM__VM_ENTITLEMENT__UNIT__UNIT_CYCLES))
    return BAD(HPVM_EINVAL, "the CPU entitlement is not set (-e or -E)");
  if (e->unit == HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT &&
      (e->value > 100 || (e->max && (e->max < e->value || e->max > 100))))
    return BAD(HPVM_ERANGE, "the entitlement %u%% (max %u%%) is outside 0-100 percent", e->value, e->max);
  if (e->unit == HPVM__VM_ENTITLEMENT__UNIT__UNIT_CYCLES && host && host->core_mhz &&
      (e->value > host->core_mhz || e->max > host->core_mhz))
    return BAD(HPVM_ERANGE, "an entitlement of %u MHz is more than a host core gives (%u MHz); lower -E",
               e->value > host->core_mhz ? e->value : e->max, host->core_mhz);
  size_t total = cfg->n_devices + cfg->n_networks;
  if (total > CLI_MAX_DEVICES) return BAD(HPVM_ERANGE, "a VM has at most %d devices, not %zu", CLI_MAX_DEVICES, total);
  if (cli_devices_non_avio(cfg) > CLI_MAX_NON_AVIO)
    return BAD(HPVM_ERANGE, "a VM has at most %d devices that are not AVIO", CLI_MAX_NON_AVIO);
  return 0;
}

int cli_vmopts_create(const cli_vmopts *o, const char *name, const cli_host *host, Hpvm__VmStatus *const *others,
                      size_t nothers, Hpvm__VmConfig **out, char *why, size_t whylen) {
  *out = NULL;
  Hpvm__VmConfig *cfg = cli_vm_new();
  if (!cfg || cli_str_set(&cfg->name, name)) {
    cli_vm_free(cfg);
    return BAD(HPVM_ENOMEM, "out of memory");
  }
  cfg->os_type = HPVM__VM_OS_TYPE__VM_OS_TYPE_UNKNOWN;
  cfg->vcpus = CLI_DEFAULT_VCPUS;
  cfg->memory_bytes = CLI_DEFAULT_MEMORY;
  cfg->entitlement->unit = HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT;
  cfg->entitlement->value = CLI_DEFAULT_ENTITLEMENT;
  cfg->boot = HPVM__VM_BOOT_MODE__VM_BOOT_MODE_AUTO;
  for (size_t i = 0; i < o->ndevops; i++)
    if (o->devops[i].op != 'a') {
      cli_vm_free(cfg);
      return BAD(HPVM_EINVAL, "-%c: a new VM has no devices to delete or modify; use -a", o->devops[i].op);
    }
  int rc = cli_vmopts_apply(o, cfg, host, others, nothers, NULL, NULL, why, whylen);
  if (rc) {
    cli_vm_free(cfg);
    return rc;
  }
  *out = cfg;
  return 0;
}
