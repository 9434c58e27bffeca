/* util.c — small pieces the hpvm commands share: sizes as HPVM writes them ("-r 4G"), OS
 * type names, heap-built VmConfig messages (so one protobuf free releases them, whether
 * hpvmd sent them or the CLI built them), attributes, JSON string escaping, and the error
 * lines and request helpers of a command's run (cli_run). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

int cli_parse_size(const char *s, uint64_t unit, uint64_t *out) {
  if (!s || !isdigit((unsigned char)*s)) return HPVM_EINVAL;
  char *end;
  errno = 0;
  unsigned long long n = strtoull(s, &end, 10);
  if (errno) return HPVM_ERANGE;
  uint64_t mult = unit;
  bool suffix = true;
  switch (*end) {
  case 'k': case 'K': mult = 1ull << 10; break;
  case 'm': case 'M': mult = 1ull << 20; break;
  case 'g': case 'G': mult = 1ull << 30; break;
  case 't': case 'T': mult = 1ull << 40; break;
  default: suffix = false;
  }
  if (suffix) {
    end++;
    if (*end == 'i' || *end == 'I') end++;
    if (*end == 'b' || *end == 'B') end++;
  }
  if (*end) return HPVM_EINVAL;
  if (mult && n > UINT64_MAX / mult) return HPVM_ERANGE;
  *out = (uint64_t)n * mult;
  return 0;
}

bool cli_parse_u32(const char *s, uint32_t *out) {
  if (!s || !isdigit((unsigned char)*s)) return false;
  char *end;
  errno = 0;
  unsigned long n = strtoul(s, &end, 10);
  if (errno || *end || n > UINT32_MAX) return false;
  *out = (uint32_t)n;
  return true;
}

uint32_t cli_host_core_mhz(void) {
  unsigned long khz = 0;
  FILE *f = fopen("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "r");
  if (f) {
    if (fscanf(f, "%lu", &khz) != 1) khz = 0;
    fclose(f);
    if (khz) return (uint32_t)(khz / 1000);
  }
  if (!(f = fopen("/proc/cpuinfo", "r"))) return 0;
  char line[256];
  double mhz = 0;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "cpu MHz", 7) && sscanf(strchr(line, ':') ? strchr(line, ':') + 1 : "", "%lf", &mhz) == 1) break;
  fclose(f);
  return mhz > 0 && mhz < 1e6 ? (uint32_t)(mhz + 0.5) : 0;
}

void cli_format_memory(uint64_t bytes, char *buf, size_t len) {
  if (bytes && bytes % (1ull << 30) == 0) snprintf(buf, len, "%llu GB", (unsigned long long)(bytes >> 30));
  else snprintf(buf, len, "%llu MB", (unsigned long long)(bytes >> 20));
}

static const struct { int os; const char *name; } os_names[] = {
  {HPVM__VM_OS_TYPE__VM_OS_TYPE_HPUX, "HPUX"},     {HPVM__VM_OS_TYPE__VM_OS_TYPE_LINUX, "LINUX"},
  {HPVM__VM_OS_TYPE__VM_OS_TYPE_WINDOWS, "WINDOWS"}, {HPVM__VM_OS_TYPE__VM_OS_TYPE_OPENVMS, "OPENVMS"},
  {HPVM__VM_OS_TYPE__VM_OS_TYPE_UNKNOWN, "UNKNOWN"},
};

int cli_os_parse(const char *s) {
  for (size_t i = 0; i < sizeof os_names / sizeof os_names[0]; i++)
    if (!strcasecmp(s, os_names[i].name)) return os_names[i].os;
  if (!strcasecmp(s, "hp-ux")) return HPVM__VM_OS_TYPE__VM_OS_TYPE_HPUX;
  if (!strcasecmp(s, "vms")) return HPVM__VM_OS_TYPE__VM_OS_TYPE_OPENVMS;
  return 0;
}

const char *cli_os_name(int os) {
  for (size_t i = 0; i < sizeof os_names / sizeof os_names[0]; i++)
    if (os_names[i].os == os) return os_names[i].name;
  return "UNKNOWN";
}

/* ---- Heap messages ------------------------------------------------------------------------------ */

static bool is_static_str(const char *s) { return s == protobuf_c_empty_string; }

int cli_str_set(char **field, const char *v) {
  char *n = (char *)protobuf_c_empty_string;
  if (v && *v && !(n = strdup(v))) return HPVM_ENOMEM;
  if (*field && !is_static_str(*field)) free(*field);
  *field = n;
  return 0;
}

/* A string field copied into a fresh message: "" stays the shared empty string. */
static bool dup_field(char **dst, const char *src) {
  *dst = (char *)protobuf_c_empty_string;
  return cli_str_set(dst, src) == 0;
}

Hpvm__VmConfig *cli_vm_new(void) {
  Hpvm__VmConfig *c = malloc(sizeof *c);
  Hpvm__VmEntitlement *e = malloc(sizeof *e);
  if (!c || !e) {
    free(c);
    free(e);
    return NULL;
  }
  hpvm__vm_config__init(c);
  hpvm__vm_entitlement__init(e);
  c->entitlement = e;
  return c;
}

void cli_vm_free(Hpvm__VmConfig *cfg) {
  if (cfg) protobuf_c_message_free_unpacked(&cfg->base, NULL);
}

Hpvm__VmStorageDevice *cli_dev_copy(const Hpvm__VmStorageDevice *d) {
  Hpvm__VmStorageDevice *n = malloc(sizeof *n);
  if (!n) return NULL;
  hpvm__vm_storage_device__init(n);
  n->type = d->type;
  n->bus = d->bus;
  n->device = d->device;
  n->target = d->target;
  n->backing = d->backing;
  if (!dup_field(&n->adapter, d->adapter) || !dup_field(&n->path, d->path) || !dup_field(&n->spec, d->spec)) {
    protobuf_c_message_free_unpacked(&n->base, NULL);
    return NULL;
  }
  return n;
}

Hpvm__VmNetwork *cli_net_copy(const Hpvm__VmNetwork *d) {
  Hpvm__VmNetwork *n = malloc(sizeof *n);
  if (!n) return NULL;
  hpvm__vm_network__init(n);
  n->bus = d->bus;
  n->device = d->device;
  n->portid = d->portid;
  if (!dup_field(&n->adapter, d->adapter) || !dup_field(&n->mac, d->mac) || !dup_field(&n->vswitch, d->vswitch) ||
      !dup_field(&n->spec, d->spec)) {
    protobuf_c_message_free_unpacked(&n->base, NULL);
    return NULL;
  }
  return n;
}

static Hpvm__VmAttribute *attr_new(const char *k, const char *v) {
  Hpvm__VmAttribute *a = malloc(sizeof *a);
  if (!a) return NULL;
  hpvm__vm_attribute__init(a);
  if (!dup_field(&a->key, k) || !dup_field(&a->value, v)) {
    protobuf_c_message_free_unpacked(&a->base, NULL);
    return NULL;
  }
  return a;
}

Hpvm__VmConfig *cli_vm_copy(const Hpvm__VmConfig *s) {
  Hpvm__VmConfig *c = cli_vm_new();
  if (!c) return NULL;
  bool ok = dup_field(&c->name, s->name) && dup_field(&c->uuid, s->uuid) && dup_field(&c->label, s->label) &&
            dup_field(&c->kernel, s->kernel) && dup_field(&c->cmdline, s->cmdline) &&
            dup_field(&c->not_runnable_reason, s->not_runnable_reason) &&
            dup_field(&c->created_host, s->created_host) && dup_field(&c->modified_host, s->modified_host);
  c->vm_number = s->vm_number;
  c->os_type = s->os_type;
  c->vcpus = s->vcpus;
  c->memory_bytes = s->memory_bytes;
  if (s->entitlement) {
    c->entitlement->unit = s->entitlement->unit;
    c->entitlement->value = s->entitlement->value;
    c->entitlement->max = s->entitlement->max;
  }
  c->boot = s->boot;
  c->not_runnable = s->not_runnable;
  c->created_ns = s->created_ns;
  c->modified_ns = s->modified_ns;
  c->config_generation = s->config_generation;
  if (ok && s->n_devices) {
    ok = (c->devices = calloc(s->n_devices, sizeof *c->devices)) != NULL;
    for (size_t i = 0; ok && i < s->n_devices; i++, c->n_devices++)
      ok = (c->devices[i] = cli_dev_copy(s->devices[i])) != NULL;
  }
  if (ok && s->n_networks) {
    ok = (c->networks = calloc(s->n_networks, sizeof *c->networks)) != NULL;
    for (size_t i = 0; ok && i < s->n_networks; i++, c->n_networks++)
      ok = (c->networks[i] = cli_net_copy(s->networks[i])) != NULL;
  }
  if (ok && s->n_attributes) {
    ok = (c->attributes = calloc(s->n_attributes, sizeof *c->attributes)) != NULL;
    for (size_t i = 0; ok && i < s->n_attributes; i++, c->n_attributes++)
      ok = (c->attributes[i] = attr_new(s->attributes[i]->key, s->attributes[i]->value)) != NULL;
  }
  if (!ok) {
    /* The arrays hold what was copied and NULLs (calloc), which the free skips. */
    cli_vm_free(c);
    return NULL;
  }
  return c;
}

const char *cli_vm_attr(const Hpvm__VmConfig *cfg, const char *key) {
  for (size_t i = 0; i < cfg->n_attributes; i++)
    if (!strcmp(cfg->attributes[i]->key, key)) return cfg->attributes[i]->value;
  return NULL;
}

int cli_vm_attr_set(Hpvm__VmConfig *cfg, const char *key, const char *value) {
  for (size_t i = 0; i < cfg->n_attributes; i++) {
    if (strcmp(cfg->attributes[i]->key, key)) continue;
    if (value) return cli_str_set(&cfg->attributes[i]->value, value);
    protobuf_c_message_free_unpacked(&cfg->attributes[i]->base, NULL);
    memmove(&cfg->attributes[i], &cfg->attributes[i + 1], (cfg->n_attributes - i - 1) * sizeof *cfg->attributes);
    cfg->n_attributes--;
    return 0;
  }
  if (!value) return 0;
  Hpvm__VmAttribute **a = realloc(cfg->attributes, (cfg->n_attributes + 1) * sizeof *a);
  if (!a) return HPVM_ENOMEM;
  cfg->attributes = a;
  if (!(a[cfg->n_attributes] = attr_new(key, value))) return HPVM_ENOMEM;
  cfg->n_attributes++;
  return 0;
}

void cli_json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    switch (*p) {
    case '"': fputs("\\\"", f); break;
    case '\\': fputs("\\\\", f); break;
    case '\n': fputs("\\n", f); break;
    case '\r': fputs("\\r", f); break;
    case '\t': fputs("\\t", f); break;
    default:
      if (*p < 0x20) fprintf(f, "\\u%04x", *p);
      else fputc(*p, f);
    }
  }
  fputc('"', f);
}

/* ---- A command's run -------------------------------------------------------------------------- */

int cli_fail(cli_run *r, int code, const char *fmt, ...) {
  char msg[CLI_WHY + 4300];            /* room for hpvmd's longest messages (drain lists) */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (r->vm && *r->vm) fprintf(r->c->err, "%s: ERROR (%s): %s\n", r->c->cmd, r->vm, msg);
  else fprintf(r->c->err, "%s: ERROR: %s\n", r->c->cmd, msg);
  if (r->json) {
    fprintf(r->c->out, "{\"error\":{\"code\":\"%s\",\"message\":", hpvm_err_name(code));
    cli_json_str(r->c->out, msg);
    fprintf(r->c->out, "}}\n");
  }
  return 1;
}

int cli_usage(cli_run *r, const char *msg) {
  fprintf(r->c->err, "%s: %s\n", r->c->cmd, msg);
  if (r->json) {
    fprintf(r->c->out, "{\"error\":{\"code\":\"EINVAL\",\"message\":");
    cli_json_str(r->c->out, msg);
    fprintf(r->c->out, "}}\n");
  }
  return 2;
}

int cli_call(cli_run *r, Hpvm__Request *req, Hpvm__Response **resp) {
  req->n_argv = (size_t)r->argc;
  req->argv = r->argv;
  *resp = NULL;
  int rc = r->c->t.call(r->c->t.ctx, req, resp);
  if (!*resp) return cli_fail(r, rc ? rc : HPVM_EIO, "no answer from hpvmd"), rc ? rc : HPVM_EIO;
  if (!rc && (*resp)->error) rc = (*resp)->error;
  return rc;
}

int cli_call_status(cli_run *r, Hpvm__Request *req, Hpvm__Response **resp) {
  int rc = cli_call(r, req, resp);
  if (!*resp) return 1;
  if (!rc) return 0;
  cli_fail(r, rc, "%s", (*resp)->message && *(*resp)->message ? (*resp)->message : hpvm_strerror(rc));
  cli_done(r, *resp);
  *resp = NULL;
  return 1;
}

void cli_done(cli_run *r, Hpvm__Response *resp) {
  if (resp) r->c->t.free_resp(r->c->t.ctx, resp);
}
