/* vm.c — VM configurations in DIR/vms/<name>/config: validation, create (a duplicate name
 * is refused by the exclusive create of the record itself), load, compare-and-swap update,
 * remove and list. The VM # is claimed with an exclusive file DIR/vms/.vmnum/<n> (content:
 * the VM's name), so two hosts creating guests at once never get the same number without
 * any lock. The runtime state of a guest is not here: ownership is the lease (lease.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define CONFIG_KIND HPVM__RECORD_KIND__RECORD_KIND_VM_CONFIG

static int rel_of(sto_store *s, const char *name, const char *file, char *buf, size_t len) {
  char why[512];
  if (sto_vm_name_check(name, why, sizeof why)) return sto__fail(s, HPVM_EINVAL, "%s", why);
  snprintf(buf, len, "vms/%s%s%s", name, file ? "/" : "", file ? file : "");
  return 0;
}

/* ---- Validation -------------------------------------------------------------------------------- */

#define WHY(...) (snprintf(why, whylen, __VA_ARGS__), HPVM_EINVAL)

static bool key_ok(const char *k) {
  if (!k || !*k) return false;
  for (; *k; k++)
    if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') || *k == '_' ||
          *k == '-' || *k == '.'))
      return false;
  return true;
}

static bool printable(const char *t) {
  for (; t && *t; t++)
    if ((unsigned char)*t < 0x20 || *t == 0x7f) return false;
  return true;
}

static bool mac_ok(const char *m) {
  if (!m || !*m) return true;
  if (strlen(m) != 14 || m[0] != '0' || (m[1] != 'x' && m[1] != 'X')) return false;
  for (int i = 2; i < 14; i++)
    if (!strchr("0123456789abcdefABCDEF", m[i])) return false;
  return true;
}

static int validate_devices(const Hpvm__VmConfig *c, char *why, size_t whylen) {
  size_t total = c->n_devices + c->n_networks, non_avio = 0;
  if (total > STO_DEVICES_MAX)
    return WHY("%zu devices; a guest has at most %d", total, STO_DEVICES_MAX);
  for (size_t i = 0; i < c->n_devices; i++) {
    const Hpvm__VmStorageDevice *d = c->devices[i];
    const char *spec = d->spec && *d->spec ? d->spec : "(device)";
    if (d->type < HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_DISK || d->type > HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_BURNER)
      return WHY("device %zu (%s): unknown device type %d", i + 1, spec, (int)d->type);
    bool avio = d->adapter && !strcmp(d->adapter, "avio_stor");
    if (!avio && !(d->adapter && !strcmp(d->adapter, "scsi")))
      return WHY("device %zu (%s): adapter \"%s\"; use avio_stor or scsi", i + 1, spec, d->adapter ? d->adapter : "");
    non_avio += !avio;
    if (d->backing < HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_FILE || d->backing > HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_NULL)
      return WHY("device %zu (%s): unknown backing type %d", i + 1, spec, (int)d->backing);
    bool needs_path = d->backing != HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_NULL;
    if ((needs_path || (d->path && *d->path)) && (!d->path || d->path[0] != '/'))
      return WHY("device %zu (%s): the backing path \"%s\" is not absolute", i + 1, spec, d->path ? d->path : "");
    for (size_t j = 0; j < i; j++) {
      const Hpvm__VmStorageDevice *o = c->devices[j];
      if (o->bus == d->bus && o->device == d->device && o->target == d->target)
        return WHY("device %zu (%s) and device %zu use the same bus %u, device %u, target %u", i + 1, spec, j + 1,
                   d->bus, d->device, d->target);
    }
  }
  for (size_t i = 0; i < c->n_networks; i++) {
    const Hpvm__VmNetwork *n = c->networks[i];
    const char *spec = n->spec && *n->spec ? n->spec : "(network)";
    bool avio = n->adapter && !strcmp(n->adapter, "avio_lan");
    if (!avio && !(n->adapter && !strcmp(n->adapter, "lan")))
      return WHY("network %zu (%s): adapter \"%s\"; use avio_lan or lan", i + 1, spec, n->adapter ? n->adapter : "");
    non_avio += !avio;
    if (!key_ok(n->vswitch)) return WHY("network %zu (%s): bad vswitch name \"%s\"", i + 1, spec, n->vswitch ? n->vswitch : "");
    if (!mac_ok(n->mac)) return WHY("network %zu (%s): MAC \"%s\" is not 0x and 12 hex digits", i + 1, spec, n->mac);
    for (size_t j = 0; j < c->n_devices; j++)
      if (c->devices[j]->bus == n->bus && c->devices[j]->device == n->device)
        return WHY("network %zu (%s) uses bus %u, device %u, which device %zu has", i + 1, spec, n->bus, n->device, j + 1);
    for (size_t j = 0; j < i; j++)
      if (c->networks[j]->bus == n->bus && c->networks[j]->device == n->device)
        return WHY("networks %zu and %zu use the same bus %u, device %u", j + 1, i + 1, n->bus, n->device);
  }
  if (non_avio > STO_DEVICES_MAX_NON_AVIO)
    return WHY("%zu devices that are not AVIO; a guest has at most %d (up to %d with AVIO)", non_avio,
               STO_DEVICES_MAX_NON_AVIO, STO_DEVICES_MAX);
  return 0;
}

int sto_vm_validate(const Hpvm__VmConfig *c, char *why, size_t whylen) {
  char dummy[1];
  if (!why) why = dummy, whylen = sizeof dummy;
  int r = sto_vm_name_check(c->name, why, whylen);
  if (r) return r;
  if (c->os_type < HPVM__VM_OS_TYPE__VM_OS_TYPE_UNKNOWN || c->os_type > HPVM__VM_OS_TYPE__VM_OS_TYPE_OPENVMS)
    return WHY("%s: unknown OS type %d", c->name, (int)c->os_type);
  if (c->boot != HPVM__VM_BOOT_MODE__VM_BOOT_MODE_AUTO && c->boot != HPVM__VM_BOOT_MODE__VM_BOOT_MODE_MANUAL)
    return WHY("%s: boot mode is neither auto nor manual", c->name);
  if (c->vcpus < 1 || c->vcpus > STO_VCPUS_MAX)
    return WHY("%s: %u vCPUs; a guest has 1 to %d", c->name, c->vcpus, STO_VCPUS_MAX);
  if (c->memory_bytes < (1u << 20) || c->memory_bytes % 4096)
    return WHY("%s: memory of %llu bytes; give at least 1 MiB in whole 4 KiB pages", c->name,
               (unsigned long long)c->memory_bytes);
  const Hpvm__VmEntitlement *e = c->entitlement;
  if (!e) return WHY("%s: no CPU entitlement", c->name);
  if (e->unit == HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT) {
    if (e->value > 100) return WHY("%s: entitlement %u%%; give 0 to 100", c->name, e->value);
    if (e->max && (e->max < e->value || e->max > 100))
      return WHY("%s: entitlement cap %u%%; give %u to 100 (or none)", c->name, e->max, e->value);
  } else if (e->unit == HPVM__VM_ENTITLEMENT__UNIT__UNIT_CYCLES) {
    if (e->value < 1) return WHY("%s: entitlement of 0 MHz", c->name);
    if (e->max && e->max < e->value) return WHY("%s: entitlement cap %u MHz is below %u MHz", c->name, e->max, e->value);
  } else {
    return WHY("%s: entitlement is neither a percentage nor cycles", c->name);
  }
  if ((r = validate_devices(c, why, whylen))) return r;
  for (size_t i = 0; i < c->n_attributes; i++) {
    const Hpvm__VmAttribute *a = c->attributes[i];
    if (!key_ok(a->key)) return WHY("%s: attribute name \"%s\": use letters, digits, '_', '-' and '.'", c->name, a->key ? a->key : "");
    if (!printable(a->value)) return WHY("%s: attribute %s has a control character in its value", c->name, a->key);
    for (size_t j = 0; j < i; j++)
      if (!strcmp(c->attributes[j]->key, a->key)) return WHY("%s: attribute %s is given twice", c->name, a->key);
  }
  if (c->label && (strlen(c->label) > 255 || !printable(c->label)))
    return WHY("%s: the label must be at most 255 printable characters", c->name);
  if (c->kernel && *c->kernel && c->kernel[0] != '/')
    return WHY("%s: the kernel path \"%s\" is not absolute", c->name, c->kernel);
  if (c->cmdline && (strlen(c->cmdline) > 4096 || !printable(c->cmdline)))
    return WHY("%s: the kernel command line must be at most 4096 printable characters", c->name);
  for (size_t i = 0; i < c->n_registrations; i++) {
    const Hpvm__VmRegistration *g = c->registrations[i];
    char hw[300];
    if (sto_host_name_check(g->host, hw, sizeof hw)) return WHY("%s: registration %zu: %s", c->name, i + 1, hw);
    if (!printable(g->reason) || strlen(g->reason) > 1024)
      return WHY("%s: the registration of host %s has an unprintable or over-long reason", c->name, g->host);
    for (size_t j = 0; j < i; j++)
      if (!strcmp(c->registrations[j]->host, g->host)) return WHY("%s: host %s is registered twice", c->name, g->host);
  }
  return 0;
}

/* ---- VM numbers -------------------------------------------------------------------------------- */

static int vmnum_path(sto_store *s, uint32_t n, char *buf) {
  char rel[64];
  snprintf(rel, sizeof rel, "vms/.vmnum/%u", n);
  return sto__abs(s, rel, buf);
}

/* Does the claim at path name this VM? */
static bool vmnum_names(const char *path, const char *name) {
  char held[STO_NAME_MAX + 2] = "";
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t r = read(fd, held, sizeof held - 1);
  close(fd);
  return r >= 0 && (size_t)r == strlen(name) && !memcmp(held, name, (size_t)r);
}

/* Claim VM # want (or the lowest free one when 0): a temporary file holding the VM's name,
 * synced, then hard-linked to vms/.vmnum/<n>. link() is exclusive and gives the claim its
 * whole content at once, so a crash leaves no claim or a complete one. A claim that already
 * names this VM is the leftover of a create of the same name that did not finish: it is
 * adopted (*adopted), and not given back if this create fails either, since a concurrent
 * create of the same name may be using it. */
static int vmnum_claim(sto_store *s, const char *name, uint32_t want, uint32_t *got, bool *adopted) {
  *adopted = false;
  int r = sto__mkdir_durable(s, "vms/.vmnum", 0755);
  if (r) return r;
  char path[PATH_MAX], dir[PATH_MAX], tmp[PATH_MAX];
  sto__abs(s, "vms/.vmnum", dir);
  int fd = -EEXIST;
  for (int tries = 0; fd == -EEXIST && tries < 4; tries++) {  /* a dead namesake's leftover */
    if (!sto__pathf(tmp, "%s/.tmp.%.64s.%d.%llu", dir, s->host, (int)getpid(), (unsigned long long)++s->tmp_seq))
      return sto__fail(s, HPVM_ERANGE, "%s: path too long", dir);
    fd = s->io.open(s->io.ctx, tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
  }
  if (fd < 0) return sto__fail(s, HPVM_EIO, "%s: cannot claim a VM number: %s; nothing was created", dir, strerror(-fd));
  int e = sto__write_all(s, fd, name, strlen(name));
  if (!e) e = s->io.fsync(s->io.ctx, fd);
  int c = s->io.close(s->io.ctx, fd);
  if (!e) e = c;
  r = HPVM_ERANGE;
  for (uint32_t n = want ? want : 1; !e && n < 1000000; n++) {
    if ((r = vmnum_path(s, n, path))) break;
    int l = s->io.link(s->io.ctx, tmp, path);
    if (l == -EEXIST && vmnum_names(path, name)) {
      *got = n, *adopted = true;
      break;
    }
    if (l == -EEXIST && !want) continue;
    if (l == -EEXIST) {
      r = sto__fail(s, HPVM_EEXIST, "VM # %u is taken (%s); choose another or let hpvm pick one", n, path);
      break;
    }
    if (!l) l = sto__fsync_dir(s, dir);
    if (l < 0) {
      s->io.unlink(s->io.ctx, path);
      e = l;
      break;
    }
    *got = n;
    break;
  }
  s->io.unlink(s->io.ctx, tmp);
  if (e < 0) return sto__fail(s, HPVM_EIO, "%s: cannot claim a VM number: %s; nothing was created", dir, strerror(-e));
  if (r == HPVM_ERANGE) return sto__fail(s, HPVM_ERANGE, "no free VM number under %s", dir);
  return r;
}

/* Give VM # n back, if it is still name's. */
static void vmnum_release(sto_store *s, const char *name, uint32_t n) {
  char path[PATH_MAX];
  if (n && !vmnum_path(s, n, path) && vmnum_names(path, name)) s->io.unlink(s->io.ctx, path);
}

/* The VM # of a VM whose config cannot be read: find it by the name in the claim. */
static uint32_t vmnum_find(sto_store *s, const char *name) {
  char dir[PATH_MAX];
  if (sto__abs(s, "vms/.vmnum", dir)) return 0;
  DIR *d = opendir(dir);
  if (!d) return 0;
  uint32_t found = 0;
  struct dirent *e;
  while (!found && (e = readdir(d))) {
    char path[PATH_MAX];
    if (e->d_name[0] == '.' || !sto__pathf(path, "%s/%s", dir, e->d_name)) continue;
    if (vmnum_names(path, name)) found = (uint32_t)strtoul(e->d_name, NULL, 10);
  }
  closedir(d);
  return found;
}

/* ---- Create, load, update ---------------------------------------------------------------------- */

int sto_vm_create(sto_store *s, const Hpvm__VmConfig *cfg, Hpvm__VmConfig **created) {
  if (created) *created = NULL;
  char why[512], rel[PATH_MAX], abs[PATH_MAX];
  if (sto_vm_validate(cfg, why, sizeof why)) return sto__fail(s, HPVM_EINVAL, "%s", why);
  struct stat st;
  if (sto__abs(s, "vms", abs) || stat(abs, &st) < 0 || !S_ISDIR(st.st_mode))
    return sto__fail(s, HPVM_ENOENT, "%s is not set up for hpvm (no vms/ directory); run hpvmhost init or start hpvmd "
                     "with --shared %s", s->root, s->root);
  int r = rel_of(s, cfg->name, NULL, rel, sizeof rel);
  if (!r) r = sto__mkdir_durable(s, rel, 0755);
  if (r) return r;
  /* Refuse a duplicate before claiming a number, so a duplicate create costs nothing; the
   * exclusive create below is what really decides. */
  rel_of(s, cfg->name, "config", rel, sizeof rel);
  sto__abs(s, rel, abs);
  if (access(abs, F_OK) == 0) return sto__fail(s, HPVM_EEXIST, "a VM named %s already exists (%s)", cfg->name, abs);

  Hpvm__VmConfig c = *cfg;
  char uuid[37];
  if (!c.uuid || !*c.uuid) sto__uuid(uuid), c.uuid = uuid;
  uint32_t num = 0;
  bool adopted;
  if ((r = vmnum_claim(s, cfg->name, cfg->vm_number, &num, &adopted))) return r;
  c.vm_number = num;
  c.created_ns = c.modified_ns = sto__wall(s);
  c.created_host = c.modified_host = s->host;
  c.config_generation = 0;
  r = sto_msg_create(s, rel, CONFIG_KIND, &c.base);
  if (r == HPVM_EEXIST) r = sto__fail(s, HPVM_EEXIST, "a VM named %s already exists (%s)", cfg->name, abs);
  if (r) {
    if (!adopted) vmnum_release(s, cfg->name, num);
    return r;
  }
  if (created) return sto_vm_load(s, cfg->name, created);
  return 0;
}

int sto_vm_load(sto_store *s, const char *name, Hpvm__VmConfig **out) {
  *out = NULL;
  char rel[PATH_MAX];
  int r = rel_of(s, name, "config", rel, sizeof rel);
  if (r) return r;
  ProtobufCMessage *m;
  uint64_t gen;
  r = sto_msg_read(s, rel, CONFIG_KIND, &hpvm__vm_config__descriptor, &m, &gen);
  if (r == HPVM_ENOENT) return sto__fail(s, HPVM_ENOENT, "no VM named %s in %s; hpvmstatus lists them", name, s->root);
  if (r) return r;
  Hpvm__VmConfig *c = (Hpvm__VmConfig *)m;
  if (!c->name || strcmp(c->name, name)) {
    char fix[320];
    sto__remedy(rel, fix, sizeof fix);
    r = sto__fail(s, HPVM_ECORRUPT, "%s/%s: the record names VM \"%s\", not %s; %s", s->root, rel,
                  c->name ? c->name : "", name, fix);
    protobuf_c_message_free_unpacked(m, NULL);
    return r;
  }
  c->config_generation = gen;
  *out = c;
  return 0;
}

void sto_vm_free(Hpvm__VmConfig *cfg) {
  if (cfg) protobuf_c_message_free_unpacked(&cfg->base, NULL);
}

static bool same_str(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

int sto_vm_update(sto_store *s, Hpvm__VmConfig *cfg) {
  char why[512], rel[PATH_MAX];
  if (sto_vm_validate(cfg, why, sizeof why)) return sto__fail(s, HPVM_EINVAL, "%s", why);
  int r = rel_of(s, cfg->name, "config", rel, sizeof rel);
  if (r || (r = sto__lock(s, rel))) return r;
  Hpvm__VmConfig *cur;
  if ((r = sto_vm_load(s, cfg->name, &cur))) goto out;
  if (!same_str(cur->uuid, cfg->uuid) || cur->vm_number != cfg->vm_number || cur->created_ns != cfg->created_ns ||
      !same_str(cur->created_host, cfg->created_host)) {
    r = sto__fail(s, HPVM_EINVAL, "%s: the uuid, VM # and creation time cannot be changed by an update", cfg->name);
  } else {
    Hpvm__VmConfig c = *cfg;
    c.modified_ns = sto__wall(s);
    c.modified_host = s->host;
    c.config_generation = 0;
    uint64_t gen;
    r = sto_msg_update(s, rel, CONFIG_KIND, cfg->config_generation, &c.base, &gen);
    if (!r) cfg->config_generation = gen, cfg->modified_ns = c.modified_ns;
  }
  sto_vm_free(cur);
out:
  sto__unlock(s, rel);
  return r;
}

/* ---- Registration ------------------------------------------------------------------------------ */

/* The configuration came from sto_vm_load: protobuf-c's unpack allocated it with malloc, and
 * protobuf_c_message_free_unpacked frees every string that is not the shared empty one and
 * every submessage. What is added here is allocated the same way, so sto_vm_free frees it. */

static void reg_free(Hpvm__VmRegistration *g) {
  if (g) protobuf_c_message_free_unpacked(&g->base, NULL);
}

static int reg_set_str(char **field, const char *v) {
  char *n = strdup(v ? v : "");
  if (!n) return HPVM_ENOMEM;
  if (*field && *field != protobuf_c_empty_string) free(*field);
  *field = n;
  return 0;
}

const Hpvm__VmRegistration *sto_vm_registration(const Hpvm__VmConfig *cfg, const char *host) {
  for (size_t i = 0; i < cfg->n_registrations; i++)
    if (!strcmp(cfg->registrations[i]->host, host)) return cfg->registrations[i];
  return NULL;
}

/* "B" or "B, C": the hosts where cfg may start. */
static void runnable_hosts(const Hpvm__VmConfig *cfg, char *buf, size_t len) {
  size_t n = 0;
  buf[0] = 0;
  for (size_t i = 0; i < cfg->n_registrations && n + 1 < len; i++)
    if (cfg->registrations[i]->runnable)
      n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", cfg->registrations[i]->host);
}

int sto_vm_runnable_on(const Hpvm__VmConfig *cfg, const char *host, char *why, size_t whylen) {
  char dummy[1], where[600];
  if (!why) why = dummy, whylen = sizeof dummy;
  const char *name = cfg->name;
  if (cfg->not_runnable) {
    snprintf(why, whylen, "VM %s is not runnable (Off (NR))%s%s; make it runnable with hpvmmodify -P %s -x "
             "runnable_status=enabled", name, *cfg->not_runnable_reason ? ": " : "", cfg->not_runnable_reason, name);
    return HPVM_ESTATE;
  }
  if (!cfg->n_registrations) return 0;
  const Hpvm__VmRegistration *g = sto_vm_registration(cfg, host);
  if (g && g->runnable) return 0;
  runnable_hosts(cfg, where, sizeof where);
  char there[700] = "", start_there[700] = "";
  if (where[0]) {
    snprintf(there, sizeof there, " (it is registered on %s)", where);
    snprintf(start_there, sizeof start_there, "start it on %s, or ", where);
  }
  if (g)
    snprintf(why, whylen, "VM %s is not runnable on host %s (Off (NR))%s%s; %smake it runnable here with "
             "hpvmmodify -P %s -x runnable_status=enabled", name, host, *g->reason ? ": " : "", g->reason, start_there,
             name);
  else
    snprintf(why, whylen, "VM %s is not registered on host %s%s; %sregister it here with hpvmmodify -P %s -x "
             "runnable_status=enabled", name, host, there, start_there, name);
  return HPVM_ESTATE;
}

int sto_vm_register(Hpvm__VmConfig *cfg, const char *host, bool runnable, const char *reason, int64_t now_ns) {
  if (sto_host_name_check(host, NULL, 0)) return HPVM_EINVAL;
  Hpvm__VmRegistration *g = (Hpvm__VmRegistration *)sto_vm_registration(cfg, host);
  if (!g) {
    Hpvm__VmRegistration **grown = realloc(cfg->registrations, (cfg->n_registrations + 1) * sizeof *grown);
    if (!grown) return HPVM_ENOMEM;
    cfg->registrations = grown;
    if (!(g = malloc(sizeof *g))) return HPVM_ENOMEM;
    hpvm__vm_registration__init(g);
    if (reg_set_str(&g->host, host)) {
      reg_free(g);
      return HPVM_ENOMEM;
    }
    grown[cfg->n_registrations++] = g;
  }
  if (reg_set_str(&g->reason, runnable ? "" : reason)) return HPVM_ENOMEM;
  g->runnable = runnable;
  g->changed_ns = now_ns;
  return 0;
}

void sto_vm_registrations_clear(Hpvm__VmConfig *cfg) {
  for (size_t i = 0; i < cfg->n_registrations; i++) reg_free(cfg->registrations[i]);
  free(cfg->registrations);
  cfg->registrations = NULL;
  cfg->n_registrations = 0;
}

static void reg_drop(Hpvm__VmConfig *cfg, const char *host) {
  for (size_t i = 0; i < cfg->n_registrations; i++) {
    if (strcmp(cfg->registrations[i]->host, host)) continue;
    reg_free(cfg->registrations[i]);
    memmove(&cfg->registrations[i], &cfg->registrations[i + 1], (cfg->n_registrations - i - 1) * sizeof *cfg->registrations);
    cfg->n_registrations--;
    return;
  }
}

static int clear_vm_flag(Hpvm__VmConfig *cfg) {
  cfg->not_runnable = false;
  return reg_set_str(&cfg->not_runnable_reason, "");
}

int sto_vm_register_move(Hpvm__VmConfig *cfg, const char *from, const char *to, bool drop_from, int64_t now_ns) {
  if (sto_host_name_check(from, NULL, 0) || sto_host_name_check(to, NULL, 0) || !strcmp(from, to)) return HPVM_EINVAL;
  char reason[STO_NAME_MAX + 32];
  snprintf(reason, sizeof reason, "migrated to %s", to);
  int r = sto_vm_register(cfg, to, true, NULL, now_ns);
  if (!r && drop_from) reg_drop(cfg, from);
  else if (!r) r = sto_vm_register(cfg, from, false, reason, now_ns);
  return r ? r : clear_vm_flag(cfg);
}

int sto_vm_set_runnable(Hpvm__VmConfig *cfg, const char *host, bool runnable, const char *reason, int64_t now_ns) {
  if (!cfg->n_registrations) {
    cfg->not_runnable = !runnable;
    return reg_set_str(&cfg->not_runnable_reason, runnable ? "" : reason);
  }
  int r = sto_vm_register(cfg, host, runnable, reason, now_ns);
  return r ? r : clear_vm_flag(cfg);
}

/* ---- Remove and list ----------------------------------------------------------------------------- */

/* hpvm's own leftovers in a VM's directory: lock files, temporary files, the claims. */
static void remove_own_files(sto_store *s, const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char victim[PATH_MAX];
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, ".config.", 8) && strncmp(e->d_name, ".lease.", 7)) continue;
    sto__pathf(victim, "%s/%s", dir, e->d_name);
    s->io.unlink(s->io.ctx, victim);
  }
  closedir(d);
  sto__pathf(victim, "%s/.claims", dir);
  if ((d = opendir(victim))) {
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      sto__pathf(victim, "%s/.claims/%s", dir, e->d_name);
      s->io.unlink(s->io.ctx, victim);
    }
    closedir(d);
    sto__pathf(victim, "%s/.claims", dir);
    s->io.rmdir(s->io.ctx, victim);
  }
}

int sto_vm_remove(sto_store *s, const char *name, uint64_t expected_gen, unsigned flags) {
  char rel[PATH_MAX], lrel[PATH_MAX], dir[PATH_MAX];
  int r = rel_of(s, name, "config", rel, sizeof rel);
  if (r || (r = sto__lock(s, rel))) return r;
  Hpvm__VmConfig *cur = NULL;
  r = sto_vm_load(s, name, &cur);
  if (r == HPVM_ENOENT || (r && !(flags & STO_FORCE))) goto out;
  uint32_t num = cur ? cur->vm_number : vmnum_find(s, name);
  sto_vm_free(cur);
  sto_lease lease;
  int lr = sto_lease_read(s, name, &lease);
  if (!(flags & STO_FORCE)) {
    if (lr) {
      r = lr;
      goto out;
    }
    if (lease.state == HPVM__LEASE_STATE__LEASE_STATE_HELD) {
      r = sto__fail(s, HPVM_EBUSY, "%s is owned by host %s (lease generation %llu); stop it there first, or force "
                    "the removal with -F", name, lease.owner, (unsigned long long)lease.lease_generation);
      goto out;
    }
  }
  if ((r = sto_record_remove(s, rel, expected_gen, flags))) goto out;
  /* The VM is gone with its config; the rest is tidying up, and a failure in it leaves
   * nothing that looks like a VM. */
  rel_of(s, name, "lease", lrel, sizeof lrel);
  sto_record_remove(s, lrel, 0, STO_FORCE);
  vmnum_release(s, name, num);
  rel_of(s, name, NULL, lrel, sizeof lrel);
  sto__abs(s, lrel, dir);
  remove_own_files(s, dir);
  if (s->io.rmdir(s->io.ctx, dir) == 0) {
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    sto__fsync_dir(s, dir);
  }
out:
  sto__unlock(s, rel);
  return r;
}

/* ---- Rename ------------------------------------------------------------------------------------ */

/* A rename is three durable steps, each atomic on its own:
 *   1. create vms/<new>/config: the old record with the new name (same uuid, VM #, creation);
 *   2. rewrite the VM # claim vms/.vmnum/<n> to hold the new name (temporary file, fsync,
 *      rename over the claim, fsync of vms/.vmnum) — the commit point;
 *   3. remove vms/<old>/config, its lease and hpvm's own files, and the directory.
 * A crash leaves at most two configs with one uuid. The VM # claim decides which is the VM:
 * sto_vm_list (and a later rename or create) finds such a pair, keeps the one the claim names
 * and removes the other — rolled back before step 2, rolled forward after it. Both configs'
 * locks (taken in name order) are held throughout, by the rename and by the repair alike. */

static int vmnum_rewrite(sto_store *s, uint32_t n, const char *name) {
  char dir[PATH_MAX], tmp[PATH_MAX], path[PATH_MAX];
  int r = sto__abs(s, "vms/.vmnum", dir);
  if (r || (r = vmnum_path(s, n, path))) return r;
  if (!sto__pathf(tmp, "%s/.tmp.%.64s.%d.%llu", dir, s->host, (int)getpid(), (unsigned long long)++s->tmp_seq))
    return sto__fail(s, HPVM_ERANGE, "%s: path too long", dir);
  int fd = s->io.open(s->io.ctx, tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
  int e = fd < 0 ? fd : sto__write_all(s, fd, name, strlen(name));
  if (fd >= 0 && !e) e = s->io.fsync(s->io.ctx, fd);
  if (fd >= 0) {
    int c = s->io.close(s->io.ctx, fd);
    if (!e) e = c;
  }
  if (!e) e = s->io.rename(s->io.ctx, tmp, path);
  if (e < 0) {
    if (fd >= 0) s->io.unlink(s->io.ctx, tmp);
    return sto__fail(s, HPVM_EIO, "%s: cannot give VM # %u to %s: %s; the VM keeps its old name", path, n, name,
                     strerror(-e));
  }
  e = sto__fsync_dir(s, dir);
  if (e < 0) return sto__fail(s, HPVM_EIO, "%s: renamed, but %s could not be synced: %s; check the storage", name,
                              dir, strerror(-e));
  return 0;
}

/* Remove what is left of name's directory once its config is not (or no longer) the VM's. */
static void drop_vm_dir(sto_store *s, const char *name) {
  char rel[PATH_MAX], dir[PATH_MAX];
  rel_of(s, name, "config", rel, sizeof rel);
  sto_record_remove(s, rel, 0, STO_FORCE);
  rel_of(s, name, "lease", rel, sizeof rel);
  sto_record_remove(s, rel, 0, STO_FORCE);
  rel_of(s, name, NULL, rel, sizeof rel);
  if (sto__abs(s, rel, dir)) return;
  remove_own_files(s, dir);
  if (s->io.rmdir(s->io.ctx, dir) == 0) {
    *strrchr(dir, '/') = '\0';
    sto__fsync_dir(s, dir);
  }
}

static int lock_pair(sto_store *s, const char *a, const char *b) {
  char ra[PATH_MAX], rb[PATH_MAX];
  rel_of(s, a, "config", ra, sizeof ra);
  rel_of(s, b, "config", rb, sizeof rb);
  bool a_first = strcmp(a, b) < 0;
  int r = sto__lock(s, a_first ? ra : rb);
  if (r) return r;
  if ((r = sto__lock(s, a_first ? rb : ra))) sto__unlock(s, a_first ? ra : rb);
  return r;
}

static void unlock_pair(sto_store *s, const char *a, const char *b) {
  char rel[PATH_MAX];
  rel_of(s, a, "config", rel, sizeof rel);
  sto__unlock(s, rel);
  rel_of(s, b, "config", rel, sizeof rel);
  sto__unlock(s, rel);
}

/* Two configs a and b with one uuid: the leftover of a rename that did not finish. Under both
 * locks, look again and remove the one the VM # claim does not name. Returns the name that
 * was removed (a or b), or NULL when there was nothing to decide. */
static const char *repair_pair(sto_store *s, const char *a, const char *b) {
  if (lock_pair(s, a, b)) return NULL;
  const char *loser = NULL;
  Hpvm__VmConfig *ca = NULL, *cb = NULL;
  if (!sto_vm_load(s, a, &ca) && !sto_vm_load(s, b, &cb) && same_str(ca->uuid, cb->uuid) &&
      ca->vm_number == cb->vm_number) {
    char path[PATH_MAX];
    if (!vmnum_path(s, ca->vm_number, path)) {
      if (vmnum_names(path, a)) loser = b;
      else if (vmnum_names(path, b)) loser = a;
    }
    if (loser) drop_vm_dir(s, loser);
  }
  sto_vm_free(ca);
  sto_vm_free(cb);
  unlock_pair(s, a, b);
  return loser;
}

int sto_vm_rename(sto_store *s, const char *old, const char *new_name, uint64_t expected_gen,
                  Hpvm__VmConfig **renamed) {
  if (renamed) *renamed = NULL;
  char why[512], orel[PATH_MAX], nrel[PATH_MAX], lrel[PATH_MAX], abs[PATH_MAX];
  int r = rel_of(s, old, "config", orel, sizeof orel);
  if (r) return r;
  if (sto_vm_name_check(new_name, why, sizeof why))
    return sto__fail(s, HPVM_EINVAL, "cannot rename VM %s: %s", old, why);
  if (!strcmp(old, new_name)) return sto__fail(s, HPVM_EEXIST, "VM %s is already called %s", old, new_name);
  rel_of(s, new_name, "config", nrel, sizeof nrel);
  sto__abs(s, nrel, abs);
  if (access(abs, F_OK) == 0) return sto__fail(s, HPVM_EEXIST, "a VM named %s already exists (%s)", new_name, abs);
  Hpvm__VmConfig *cur = NULL;
  if ((r = sto_vm_load(s, old, &cur))) return r;  /* before creating anything for the new name */
  sto_vm_free(cur);
  cur = NULL;
  char ndir[PATH_MAX];
  rel_of(s, new_name, NULL, ndir, sizeof ndir);
  if ((r = sto__mkdir_durable(s, ndir, 0755))) return r;
  if ((r = lock_pair(s, old, new_name))) return r;
  rel_of(s, old, "lease", lrel, sizeof lrel);
  if ((r = sto__lock(s, lrel))) {
    unlock_pair(s, old, new_name);
    return r;
  }
  bool created = false;
  sto_lease lease;
  if ((r = sto_vm_load(s, old, &cur))) goto out;
  if (expected_gen && cur->config_generation != expected_gen) {
    r = sto__fail(s, HPVM_EBUSY, "VM %s changed since it was read (generation %llu, now %llu); read it again and retry",
                  old, (unsigned long long)expected_gen, (unsigned long long)cur->config_generation);
    goto out;
  }
  if ((r = sto_lease_read(s, old, &lease))) goto out;
  if (lease.state == HPVM__LEASE_STATE__LEASE_STATE_HELD) {
    r = sto__fail(s, HPVM_EBUSY, "VM %s is owned by host %s (lease generation %llu); stop it there first", old,
                  lease.owner, (unsigned long long)lease.lease_generation);
    goto out;
  }
  Hpvm__VmConfig c = *cur;                                   /* step 1 */
  c.name = (char *)new_name;
  c.modified_ns = sto__wall(s);
  c.modified_host = s->host;
  c.config_generation = 0;
  r = sto_msg_create(s, nrel, CONFIG_KIND, &c.base);
  if (r == HPVM_EEXIST) r = sto__fail(s, HPVM_EEXIST, "a VM named %s already exists (%s)", new_name, abs);
  if (r) goto out;
  created = true;
  if ((r = vmnum_rewrite(s, cur->vm_number, new_name))) goto out;  /* step 2: the commit point */
  if ((r = sto_record_remove(s, orel, cur->config_generation, 0))) {  /* step 3 */
    r = sto__fail(s, r, "VM %s is now %s, but its old record could not be removed (%s); hpvmstatus removes it",
                  old, new_name, sto_error(s));
    goto out;
  }
  created = false;
  drop_vm_dir(s, old);
out:
  if (r && created) {
    /* Roll back unless the commit point was reached. */
    char path[PATH_MAX];
    if (!vmnum_path(s, cur->vm_number, path) && !vmnum_names(path, new_name)) drop_vm_dir(s, new_name), created = false;
  }
  if (r && !created) {
    /* Nothing of the new name may stay behind: its directory goes if hpvm's files are all it holds. */
    char dir[PATH_MAX];
    if (!sto__abs(s, ndir, dir) && access(abs, F_OK) != 0) {
      remove_own_files(s, dir);
      s->io.rmdir(s->io.ctx, dir);
    }
  }
  sto_vm_free(cur);
  sto__unlock(s, lrel);
  unlock_pair(s, old, new_name);
  if (!r && renamed) return sto_vm_load(s, new_name, renamed);
  return r;
}

static int entry_cmp(const void *a, const void *b) {
  return strcmp(((const sto_vm_entry *)a)->name, ((const sto_vm_entry *)b)->name);
}

/* Finish what a crashed rename left (see "Rename"): of two entries with one uuid, the one
 * the VM # claim does not name is removed, from the store and from the list. */
static size_t repair_renames(sto_store *s, sto_vm_entry *v, size_t cnt) {
  for (size_t i = 0; i < cnt; i++)
    for (size_t j = i + 1; j < cnt; j++) {
      if (!v[i].cfg || !v[j].cfg || !v[i].cfg->uuid || !same_str(v[i].cfg->uuid, v[j].cfg->uuid)) continue;
      const char *loser = repair_pair(s, v[i].name, v[j].name);
      if (!loser) continue;
      size_t k = loser == v[i].name ? i : j;
      free(v[k].name);
      sto_vm_free(v[k].cfg);
      free(v[k].error);
      memmove(&v[k], &v[k + 1], (cnt - k - 1) * sizeof *v);
      cnt--;
      if (k == i) {
        i--;
        break;
      }
      j--;
    }
  return cnt;
}

int sto_vm_list(sto_store *s, sto_vm_entry **out, size_t *n) {
  *out = NULL, *n = 0;
  char abs[PATH_MAX];
  int r = sto__abs(s, "vms", abs);
  if (r) return r;
  DIR *d = opendir(abs);
  if (!d) return sto__fail(s, errno == ENOENT ? HPVM_ENOENT : HPVM_EIO, "%s: %s", abs, strerror(errno));
  sto_vm_entry *v = NULL;
  size_t cnt = 0, cap = 0;
  struct dirent *e;
  r = 0;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' || sto_vm_name_check(e->d_name, NULL, 0)) continue;
    Hpvm__VmConfig *cfg;
    int lr = sto_vm_load(s, e->d_name, &cfg);
    if (lr == HPVM_ENOENT) continue;  /* a directory without a config is not a VM */
    if (cnt == cap) {
      cap = cap ? 2 * cap : 16;
      sto_vm_entry *nv = realloc(v, cap * sizeof *v);
      if (!nv) {
        sto_vm_free(cfg);
        r = sto__fail(s, HPVM_ENOMEM, "out of memory");
        break;
      }
      v = nv;
    }
    v[cnt] = (sto_vm_entry){strdup(e->d_name), cfg, lr, lr ? strdup(s->msg) : NULL};
    cnt++;
  }
  closedir(d);
  if (r) {
    sto_vm_list_free(v, cnt);
    return r;
  }
  if (cnt) qsort(v, cnt, sizeof *v, entry_cmp);
  cnt = repair_renames(s, v, cnt);
  *out = v, *n = cnt;
  s->msg[0] = '\0';
  return 0;
}

void sto_vm_list_free(sto_vm_entry *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(v[i].name);
    sto_vm_free(v[i].cfg);
    free(v[i].error);
  }
  free(v);
}
