/* devspec.c — HPVM resource specs (-a/-d/-m/-b) and where devices sit on the virtual PCI
 * buses.
 *
 * A storage spec is  type:adapter:[bus,slot[,target]]:storage:location  and a NIC spec
 * network:adapter:[bus,slot[,mac]]:vswitch:name[:portid:n]  (HPVM also takes a NIC spec
 * without its address field at all: network:lan:vswitch:vlan02). The guest sees 8 PCI
 * buses of 8 slots; a storage adapter in a slot serves targets (0-127 for avio_stor, 0-14
 * for the emulated scsi adapter, whose own id is 15), a NIC takes a slot of its own.
 * Assignment follows what HPVM does, as its hpvmstatus listings show: storage devices
 * without an address join the first adapter of their kind with a free target, and a new
 * adapter goes to the first free slot from bus 0 slot 2 on; NICs take the first free slot
 * from bus 0 slot 0. Parsing is pure; cli_spec_check_backing is the one function here that
 * looks at the host (stat). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <unistd.h>

#include "cli.h"

static const char *const devtype_names[] = {
  [HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_DISK] = "disk", [HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_DVD] = "dvd",
  [HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_TAPE] = "tape", [HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_CHANGER] = "changer",
  [HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_BURNER] = "burner",
};
static const char *const backing_names[] = {
  [HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_FILE] = "file", [HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_DISK] = "disk",
  [HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_LV] = "lv", [HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_NULL] = "null",
};

const char *cli_devtype_name(int t) {
  return t > 0 && t < (int)(sizeof devtype_names / sizeof *devtype_names) && devtype_names[t] ? devtype_names[t] : "?";
}

const char *cli_backing_name(int b) {
  return b > 0 && b < (int)(sizeof backing_names / sizeof *backing_names) && backing_names[b] ? backing_names[b] : "?";
}

static int lookup(const char *const *names, size_t n, const char *s) {
  for (size_t i = 1; i < n; i++)
    if (names[i] && !strcmp(names[i], s)) return (int)i;
  return 0;
}

static bool is_avio_adapter(const char *a) { return !strcmp(a, "avio_stor") || !strcmp(a, "avio_lan"); }

/* ---- Parsing ------------------------------------------------------------------------------------ */

#define BAD(code, ...) (snprintf(why, whylen, __VA_ARGS__), (code))

/* Split text at ':' into at most max fields; the last takes the rest (paths may hold ':').
 * The fields point into buf. */
static size_t split(char *buf, char **f, size_t max) {
  size_t n = 0;
  f[n++] = buf;
  for (char *p = buf; *p && n < max; p++)
    if (*p == ':') {
      *p = 0;
      f[n++] = p + 1;
    }
  return n;
}

/* "0,2" or "0,2,5": up to three comma-separated numbers; the third may be a MAC for NICs
 * (returned as text in third). */
static bool parse_addr(const char *s, uint32_t *bus, uint32_t *slot, const char **third) {
  char *end;
  if (!isdigit((unsigned char)*s)) return false;
  unsigned long b = strtoul(s, &end, 10);
  if (*end != ',' || !isdigit((unsigned char)end[1])) return false;
  unsigned long d = strtoul(end + 1, &end, 10);
  if (*end && *end != ',') return false;
  if (b > 255 || d > 255) return false;
  *bus = (uint32_t)b;
  *slot = (uint32_t)d;
  *third = *end == ',' ? end + 1 : NULL;
  return !*third || **third;
}

/* "0x" + 12 hex digits (HPVM's form); normalised to upper case in out. */
static bool parse_mac(const char *s, char out[15]) {
  if (strlen(s) != 14 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return false;
  out[0] = '0';
  out[1] = 'x';
  for (int i = 2; i < 14; i++) {
    if (!isxdigit((unsigned char)s[i])) return false;
    out[i] = (char)toupper((unsigned char)s[i]);
  }
  out[14] = 0;
  return true;
}

static bool vswitch_name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 32) return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.') return false;
  return true;
}

static int parse_network(const char *text, char **f, size_t n, cli_spec *out, char *why, size_t whylen) {
  /* f[0] = "network", f[1] = adapter, then [addr:]vswitch:NAME[:portid:N] (split at every ':'). */
  const char *form = "network:avio_lan:[bus,slot[,mac]]:vswitch:NAME[:portid:N]";
  if (n < 4) return BAD(HPVM_EINVAL, "resource spec '%s': a network spec is %s", text, form);
  const char *adapter = f[1];
  if (strcmp(adapter, "avio_lan") && strcmp(adapter, "lan"))
    return BAD(HPVM_EINVAL, "resource spec '%s': unknown network adapter '%s' (use avio_lan or lan)", text, adapter);
  size_t k = 2;
  const char *addr = "";
  if (strcmp(f[2], "vswitch")) addr = f[k++];
  if (k + 2 != n && k + 4 != n) return BAD(HPVM_EINVAL, "resource spec '%s': a network spec is %s", text, form);
  if (strcmp(f[k], "vswitch"))
    return BAD(HPVM_EINVAL, "resource spec '%s': expected 'vswitch' where '%s' is (%s)", text, f[k], form);
  const char *name = f[k + 1];
  uint32_t portid = 0;
  if (k + 4 == n && (strcmp(f[k + 2], "portid") || !cli_parse_u32(f[k + 3], &portid) || portid == 0 || portid > 511))
    return BAD(HPVM_EINVAL, "resource spec '%s': after the vswitch name only :portid:N (1-511) may follow", text);
  if (!vswitch_name_ok(name))
    return BAD(HPVM_EINVAL, "resource spec '%s': '%s' is not a vswitch name (1-32 of A-Z a-z 0-9 _ - .)", text, name);

  Hpvm__VmNetwork *net = malloc(sizeof *net);
  if (!net) return HPVM_ENOMEM;
  hpvm__vm_network__init(net);
  out->net = net;
  out->is_net = true;
  net->portid = portid;
  if (*addr) {
    const char *mac;
    if (!parse_addr(addr, &net->bus, &net->device, &mac))
      return BAD(HPVM_EINVAL, "resource spec '%s': address '%s' is not bus,slot[,mac]", text, addr);
    if (net->bus >= CLI_PCI_BUSES || net->device >= CLI_PCI_SLOTS)
      return BAD(HPVM_ERANGE, "resource spec '%s': PCI bus %u slot %u is outside bus 0-7, slot 0-7", text, net->bus,
                 net->device);
    out->has_bus = true;
    if (mac) {
      char m[15];
      if (!parse_mac(mac, m))
        return BAD(HPVM_EINVAL, "resource spec '%s': MAC address '%s' is not 0x followed by 12 hex digits", text, mac);
      if (strtoul((char[3]){m[2], m[3], 0}, NULL, 16) & 1)
        return BAD(HPVM_EINVAL, "resource spec '%s': MAC address %s is a multicast address", text, m);
      if (cli_str_set(&net->mac, m)) return HPVM_ENOMEM;
      out->has_mac = true;
    }
  }
  if (cli_str_set(&net->adapter, adapter) || cli_str_set(&net->vswitch, name) || cli_str_set(&net->spec, text))
    return HPVM_ENOMEM;
  return 0;
}

static int parse_storage(const char *text, char **f, size_t n, cli_spec *out, char *why, size_t whylen) {
  int type = lookup(devtype_names, sizeof devtype_names / sizeof *devtype_names, f[0]);
  if (!type) {
    if (!strcmp(f[0], "hba"))
      return BAD(HPVM_ENOTSUP, "resource spec '%s': NPIV HBAs are not supported by hpvm", text);
    return BAD(HPVM_EINVAL, "resource spec '%s': unknown device type '%s' (use disk, dvd or network)", text, f[0]);
  }
  if (type != HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_DISK && type != HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_DVD)
    return BAD(HPVM_ENOTSUP,
               "resource spec '%s': %s devices are attached physical devices, which hpvm cannot pass through; "
               "use disk or dvd", text, f[0]);
  if (n < 5)
    return BAD(HPVM_EINVAL, "resource spec '%s': a storage spec is %s:avio_stor:[bus,slot[,target]]:file:/PATH", text,
               f[0]);
  const char *adapter = f[1];
  bool avio = !strcmp(adapter, "avio_stor");
  if (!avio && strcmp(adapter, "scsi"))
    return BAD(HPVM_EINVAL, "resource spec '%s': unknown storage adapter '%s' (use avio_stor or scsi)", text, adapter);
  int backing = lookup(backing_names, sizeof backing_names / sizeof *backing_names, f[3]);
  if (!backing) {
    if (!strcmp(f[3], "attach"))
      return BAD(HPVM_ENOTSUP, "resource spec '%s': attached devices are not supported by hpvm", text);
    return BAD(HPVM_EINVAL, "resource spec '%s': unknown storage '%s' (use file, disk, lv or null)", text, f[3]);
  }
  const char *path = f[4];
  if (backing == HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_NULL) {
    if (type != HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_DVD)
      return BAD(HPVM_EINVAL, "resource spec '%s': null storage is for an empty dvd drive only", text);
    if (*path && *path != '/')
      return BAD(HPVM_EINVAL, "resource spec '%s': '%s' is not an absolute path", text, path);
  } else {
    if (!*path) return BAD(HPVM_EINVAL, "resource spec '%s': the %s path is missing", text, f[3]);
    if (*path != '/') return BAD(HPVM_EINVAL, "resource spec '%s': '%s' is not an absolute path", text, path);
  }

  Hpvm__VmStorageDevice *dev = malloc(sizeof *dev);
  if (!dev) return HPVM_ENOMEM;
  hpvm__vm_storage_device__init(dev);
  out->dev = dev;
  dev->type = type;
  dev->backing = backing;
  if (*f[2]) {
    const char *tgt;
    if (!parse_addr(f[2], &dev->bus, &dev->device, &tgt))
      return BAD(HPVM_EINVAL, "resource spec '%s': address '%s' is not bus,slot[,target]", text, f[2]);
    uint32_t buses = avio ? CLI_PCI_BUSES : CLI_PCI_BUSES - 1;
    if (dev->bus >= buses || dev->device >= CLI_PCI_SLOTS)
      return BAD(HPVM_ERANGE, "resource spec '%s': PCI bus %u slot %u is outside bus 0-%u, slot 0-7", text, dev->bus,
                 dev->device, buses - 1);
    out->has_bus = true;
    if (tgt) {
      uint32_t max = avio ? CLI_AVIO_TARGETS : CLI_SCSI_TARGETS;
      if (!cli_parse_u32(tgt, &dev->target))
        return BAD(HPVM_EINVAL, "resource spec '%s': target '%s' is not a number", text, tgt);
      if (dev->target >= max)
        return BAD(HPVM_ERANGE, "resource spec '%s': target %u is outside %s's 0-%u", text, dev->target, adapter,
                   max - 1);
      out->has_target = true;
    }
  }
  if (cli_str_set(&dev->adapter, adapter) || cli_str_set(&dev->path, path) || cli_str_set(&dev->spec, text))
    return HPVM_ENOMEM;
  return 0;
}

int cli_spec_parse(const char *text, cli_spec *out, char *why, size_t whylen) {
  memset(out, 0, sizeof *out);
  char *buf = strdup(text);
  if (!buf) return HPVM_ENOMEM;
  char *f[5];
  char *f8[8];
  bool net = !strncmp(text, "network", 7) && (text[7] == ':' || !text[7]);
  size_t n = net ? split(buf, f8, 8) : split(buf, f, 5);
  int rc;
  if (!*text) rc = BAD(HPVM_EINVAL, "empty resource spec");
  else if (net) rc = n == 8 ? BAD(HPVM_EINVAL, "resource spec '%s': too many fields", text) : parse_network(text, f8, n, out, why, whylen);
  else rc = parse_storage(text, f, n, out, why, whylen);
  free(buf);
  if (rc) cli_spec_free(out);
  return rc;
}

void cli_spec_free(cli_spec *s) {
  if (s->dev) protobuf_c_message_free_unpacked(&s->dev->base, NULL);
  if (s->net) protobuf_c_message_free_unpacked(&s->net->base, NULL);
  s->dev = NULL;
  s->net = NULL;
}

/* ---- The host side of a backing store ---------------------------------------------------------- */

int cli_spec_check_backing(const cli_spec *s, char *why, size_t whylen) {
  if (s->is_net || s->dev->backing == HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_NULL) return 0;
  const Hpvm__VmStorageDevice *d = s->dev;
  bool disk = d->type == HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_DISK;
  struct stat st;
  if (stat(d->path, &st) != 0) {
    int e = errno;
    if (e == ENOENT && d->backing == HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_FILE && disk)
      return BAD(HPVM_ENOENT, "backing file %s does not exist; create it with: hpvmdevmgmt -S SIZE %s", d->path,
                 d->path);
    if (e == ENOENT) return BAD(HPVM_ENOENT, "backing store %s does not exist", d->path);
    return BAD(HPVM_EIO, "cannot look at backing store %s: %s", d->path, strerror(e));
  }
  if (d->backing == HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_FILE) {
    if (!S_ISREG(st.st_mode)) {
      if (S_ISBLK(st.st_mode))
        return BAD(HPVM_EINVAL, "%s is a block device, not a file; name it as disk:%s (or lv:%s)", d->path, d->path,
                   d->path);
      return BAD(HPVM_EINVAL, "backing file %s is not a regular file", d->path);
    }
    if (st.st_size == 0)
      return BAD(HPVM_EINVAL, "backing file %s is empty; give it a size with: hpvmdevmgmt -S SIZE (on a new file)",
                 d->path);
    if (disk && st.st_size % 512)
      return BAD(HPVM_EINVAL, "backing file %s is %lld bytes, not a whole number of 512-byte sectors", d->path,
                 (long long)st.st_size);
  } else if (!S_ISBLK(st.st_mode)) {
    if (S_ISREG(st.st_mode))
      return BAD(HPVM_EINVAL, "%s is a file, not a block device; name it as file:%s", d->path, d->path);
    return BAD(HPVM_EINVAL, "%s is not a block device", d->path);
  }
  if (access(d->path, disk ? R_OK | W_OK : R_OK) != 0)
    return BAD(HPVM_EPERM, "backing store %s cannot be %s: %s", d->path, disk ? "read and written" : "read",
               strerror(errno));
  return 0;
}

/* ---- The PCI slots -------------------------------------------------------------------------------- */

/* What a slot holds: nothing, a storage adapter (of which kind) or a NIC. */
typedef struct slot_use {
  const char *adapter;                 /* NULL: free */
  bool nic;
} slot_use;

static slot_use slot_of(const Hpvm__VmConfig *cfg, uint32_t bus, uint32_t slot) {
  for (size_t i = 0; i < cfg->n_networks; i++)
    if (cfg->networks[i]->bus == bus && cfg->networks[i]->device == slot)
      return (slot_use){cfg->networks[i]->adapter, true};
  for (size_t i = 0; i < cfg->n_devices; i++)
    if (cfg->devices[i]->bus == bus && cfg->devices[i]->device == slot) return (slot_use){cfg->devices[i]->adapter, false};
  return (slot_use){NULL, false};
}

static const Hpvm__VmStorageDevice *device_at(const Hpvm__VmConfig *cfg, uint32_t bus, uint32_t slot, uint32_t target) {
  for (size_t i = 0; i < cfg->n_devices; i++) {
    const Hpvm__VmStorageDevice *d = cfg->devices[i];
    if (d->bus == bus && d->device == slot && d->target == target) return d;
  }
  return NULL;
}

static uint32_t targets_of(const char *adapter) {
  return strcmp(adapter, "scsi") ? CLI_AVIO_TARGETS : CLI_SCSI_TARGETS;
}

/* The lowest free target on the adapter at bus,slot; -1 when full. */
static int free_target(const Hpvm__VmConfig *cfg, uint32_t bus, uint32_t slot, const char *adapter) {
  for (uint32_t t = 0; t < targets_of(adapter); t++)
    if (!device_at(cfg, bus, slot, t)) return (int)t;
  return -1;
}

/* The first free slot in the order given (bus 0 slot `first` on, then the other buses, then
 * bus 0 below first). */
static bool free_slot(const Hpvm__VmConfig *cfg, uint32_t first, uint32_t buses, uint32_t *bus, uint32_t *slot) {
  for (uint32_t k = 0; k < buses * CLI_PCI_SLOTS; k++) {
    uint32_t lin = (first + k) % (buses * CLI_PCI_SLOTS);
    uint32_t b = lin / CLI_PCI_SLOTS, s = lin % CLI_PCI_SLOTS;
    if (!slot_of(cfg, b, s).adapter) {
      *bus = b;
      *slot = s;
      return true;
    }
  }
  return false;
}

size_t cli_devices_non_avio(const Hpvm__VmConfig *cfg) {
  size_t n = 0;
  for (size_t i = 0; i < cfg->n_devices; i++) n += !is_avio_adapter(cfg->devices[i]->adapter);
  for (size_t i = 0; i < cfg->n_networks; i++) n += !is_avio_adapter(cfg->networks[i]->adapter);
  return n;
}

static const char *describe(const slot_use *u) { return u->nic ? "network adapter" : "storage adapter"; }

static int add_storage(Hpvm__VmConfig *cfg, cli_spec *s, char *why, size_t whylen) {
  Hpvm__VmStorageDevice *d = s->dev;
  uint32_t buses = strcmp(d->adapter, "scsi") ? CLI_PCI_BUSES : CLI_PCI_BUSES - 1;
  if (d->backing != HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_NULL)
    for (size_t i = 0; i < cfg->n_devices; i++) {
      const Hpvm__VmStorageDevice *o = cfg->devices[i];
      if (o->backing != HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_NULL && !strcmp(o->path, d->path))
        return BAD(HPVM_EEXIST, "%s is already this VM's %s at %u,%u,%u", d->path, cli_devtype_name(o->type), o->bus,
                   o->device, o->target);
    }
  if (s->has_bus) {
    slot_use u = slot_of(cfg, d->bus, d->device);
    if (u.adapter && (u.nic || strcmp(u.adapter, d->adapter)))
      return BAD(HPVM_EEXIST, "PCI bus %u slot %u holds a %s %s; choose another slot or leave the address out", d->bus,
                 d->device, u.adapter, describe(&u));
    if (s->has_target) {
      const Hpvm__VmStorageDevice *o = device_at(cfg, d->bus, d->device, d->target);
      if (o)
        return BAD(HPVM_EEXIST, "address %u,%u,%u is taken by %s:%s; choose another target or leave it out", d->bus,
                   d->device, d->target, cli_backing_name(o->backing), o->path);
    } else {
      int t = free_target(cfg, d->bus, d->device, d->adapter);
      if (t < 0)
        return BAD(HPVM_ERANGE, "the %s adapter at PCI bus %u slot %u has no free target", d->adapter, d->bus,
                   d->device);
      d->target = (uint32_t)t;
    }
  } else {
    bool placed = false;
    /* Join an adapter of the same kind, in bus/slot order. */
    for (uint32_t b = 0; b < buses && !placed; b++)
      for (uint32_t sl = 0; sl < CLI_PCI_SLOTS && !placed; sl++) {
        slot_use u = slot_of(cfg, b, sl);
        if (!u.adapter || u.nic || strcmp(u.adapter, d->adapter)) continue;
        int t = free_target(cfg, b, sl, d->adapter);
        if (t < 0) continue;
        d->bus = b;
        d->device = sl;
        d->target = (uint32_t)t;
        placed = true;
      }
    if (!placed) {
      if (!free_slot(cfg, 2, buses, &d->bus, &d->device))
        return BAD(HPVM_ERANGE, "no free PCI slot is left for another %s adapter", d->adapter);
      d->target = 0;
    }
  }
  Hpvm__VmStorageDevice **a = realloc(cfg->devices, (cfg->n_devices + 1) * sizeof *a);
  if (!a) return HPVM_ENOMEM;
  cfg->devices = a;
  a[cfg->n_devices++] = d;
  s->dev = NULL;
  return 0;
}

static int add_network(Hpvm__VmConfig *cfg, cli_spec *s, char *why, size_t whylen) {
  Hpvm__VmNetwork *n = s->net;
  if (s->has_bus) {
    slot_use u = slot_of(cfg, n->bus, n->device);
    if (u.adapter)
      return BAD(HPVM_EEXIST, "PCI bus %u slot %u holds a %s %s; choose another slot or leave the address out", n->bus,
                 n->device, u.adapter, describe(&u));
  } else if (!free_slot(cfg, 0, CLI_PCI_BUSES, &n->bus, &n->device)) {
    return BAD(HPVM_ERANGE, "no free PCI slot is left for another network adapter");
  }
  if (s->has_mac) {
    for (size_t i = 0; i < cfg->n_networks; i++)
      if (!strcasecmp(cfg->networks[i]->mac, n->mac))
        return BAD(HPVM_EEXIST, "MAC address %s is already this VM's NIC at %u,%u", n->mac, cfg->networks[i]->bus,
                   cfg->networks[i]->device);
  } else {
    char m[15];
    cli_mac_generate(m);
    if (cli_str_set(&n->mac, m)) return HPVM_ENOMEM;
  }
  Hpvm__VmNetwork **a = realloc(cfg->networks, (cfg->n_networks + 1) * sizeof *a);
  if (!a) return HPVM_ENOMEM;
  cfg->networks = a;
  a[cfg->n_networks++] = n;
  s->net = NULL;
  return 0;
}

int cli_devices_add(Hpvm__VmConfig *cfg, cli_spec *s, char *why, size_t whylen) {
  size_t total = cfg->n_devices + cfg->n_networks;
  const char *adapter = s->is_net ? s->net->adapter : s->dev->adapter;
  if (total + 1 > CLI_MAX_DEVICES)
    return BAD(HPVM_ERANGE, "a VM has at most %d devices (it has %zu)", CLI_MAX_DEVICES, total);
  if (!is_avio_adapter(adapter) && cli_devices_non_avio(cfg) + 1 > CLI_MAX_NON_AVIO)
    return BAD(HPVM_ERANGE, "a VM has at most %d devices that are not AVIO; use avio_stor or avio_lan for more",
               CLI_MAX_NON_AVIO);
  return s->is_net ? add_network(cfg, s, why, whylen) : add_storage(cfg, s, why, whylen);
}

/* ---- Delete and modify ------------------------------------------------------------------------- */

/* Index of the device or NIC the spec names; -1 with why set. */
static int find(const Hpvm__VmConfig *cfg, const cli_spec *s, bool need_addr, char *why, size_t whylen) {
  int hit = -1, hits = 0;
  if (s->is_net) {
    const Hpvm__VmNetwork *n = s->net;
    if (need_addr && !s->has_bus)
      return BAD(-1, "resource spec '%s': give the NIC's bus,slot (see hpvmstatus -d)", n->spec);
    for (size_t i = 0; i < cfg->n_networks; i++) {
      const Hpvm__VmNetwork *o = cfg->networks[i];
      bool match = s->has_bus ? o->bus == n->bus && o->device == n->device : !strcmp(o->vswitch, n->vswitch);
      if (match && s->has_mac && strcasecmp(o->mac, n->mac)) match = false;
      if (match) hit = (int)i, hits++;
    }
    if (!hits) return BAD(-1, "no network adapter of this VM matches '%s' (see hpvmstatus -d)", n->spec);
    if (hits > 1)
      return BAD(-1, "%d network adapters match '%s'; give the bus,slot (see hpvmstatus -d)", hits, n->spec);
    return hit;
  }
  const Hpvm__VmStorageDevice *d = s->dev;
  if (need_addr && !(s->has_bus && s->has_target))
    return BAD(-1, "resource spec '%s': give the device's bus,slot,target (see hpvmstatus -d)", d->spec);
  for (size_t i = 0; i < cfg->n_devices; i++) {
    const Hpvm__VmStorageDevice *o = cfg->devices[i];
    bool match;
    if (s->has_bus && s->has_target) match = o->bus == d->bus && o->device == d->device && o->target == d->target;
    else {
      match = o->type == d->type && o->backing == d->backing && !strcmp(o->path, d->path);
      if (match && s->has_bus) match = o->bus == d->bus && o->device == d->device;
    }
    if (match) hit = (int)i, hits++;
  }
  if (!hits) return BAD(-1, "no device of this VM matches '%s' (see hpvmstatus -d)", d->spec);
  if (hits > 1) return BAD(-1, "%d devices match '%s'; give the bus,slot,target (see hpvmstatus -d)", hits, d->spec);
  return hit;
}

int cli_devices_delete(Hpvm__VmConfig *cfg, const cli_spec *s, char *why, size_t whylen) {
  int i = find(cfg, s, false, why, whylen);
  if (i < 0) return HPVM_ENOENT;
  if (s->is_net) {
    protobuf_c_message_free_unpacked(&cfg->networks[i]->base, NULL);
    memmove(&cfg->networks[i], &cfg->networks[i + 1], (cfg->n_networks - (size_t)i - 1) * sizeof *cfg->networks);
    cfg->n_networks--;
    return 0;
  }
  const Hpvm__VmStorageDevice *o = cfg->devices[i];
  const Hpvm__VmStorageDevice *d = s->dev;
  if (s->has_bus && s->has_target && *d->path && (o->type != d->type || strcmp(o->path, d->path)))
    return BAD(HPVM_EINVAL, "the device at %u,%u,%u is %s %s:%s, not '%s'", o->bus, o->device, o->target,
               cli_devtype_name(o->type), cli_backing_name(o->backing), o->path, d->spec);
  protobuf_c_message_free_unpacked(&cfg->devices[i]->base, NULL);
  memmove(&cfg->devices[i], &cfg->devices[i + 1], (cfg->n_devices - (size_t)i - 1) * sizeof *cfg->devices);
  cfg->n_devices--;
  return 0;
}

int cli_devices_modify(Hpvm__VmConfig *cfg, cli_spec *s, char *why, size_t whylen) {
  int i = find(cfg, s, true, why, whylen);
  if (i < 0) return HPVM_ENOENT;
  if (s->is_net) {
    Hpvm__VmNetwork *o = cfg->networks[i];
    if (strcmp(o->adapter, s->net->adapter))
      return BAD(HPVM_EINVAL, "the NIC at %u,%u is %s, not %s; delete it and add a new one", o->bus, o->device,
                 o->adapter, s->net->adapter);
    o->portid = s->net->portid;
    return cli_str_set(&o->vswitch, s->net->vswitch) || cli_str_set(&o->spec, s->net->spec) ? HPVM_ENOMEM : 0;
  }
  Hpvm__VmStorageDevice *o = cfg->devices[i];
  Hpvm__VmStorageDevice *d = s->dev;
  if (o->type != d->type || strcmp(o->adapter, d->adapter))
    return BAD(HPVM_EINVAL, "the device at %u,%u,%u is a %s on %s; -m changes only what backs it", o->bus, o->device,
               o->target, cli_devtype_name(o->type), o->adapter);
  if (d->backing != HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_NULL)
    for (size_t k = 0; k < cfg->n_devices; k++)
      if ((int)k != i && cfg->devices[k]->backing != HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_NULL &&
          !strcmp(cfg->devices[k]->path, d->path))
        return BAD(HPVM_EEXIST, "%s is already this VM's device at %u,%u,%u", d->path, cfg->devices[k]->bus,
                   cfg->devices[k]->device, cfg->devices[k]->target);
  o->backing = d->backing;
  return cli_str_set(&o->path, d->path) || cli_str_set(&o->spec, d->spec) ? HPVM_ENOMEM : 0;
}

/* ---- Printing ----------------------------------------------------------------------------------- */

void cli_dev_spec(const Hpvm__VmStorageDevice *d, char *buf, size_t len) {
  snprintf(buf, len, "%s:%s:%u,%u,%u:%s:%s", cli_devtype_name(d->type), d->adapter, d->bus, d->device, d->target,
           cli_backing_name(d->backing), d->path);
}

void cli_net_spec(const Hpvm__VmNetwork *n, char *buf, size_t len) {
  int k = snprintf(buf, len, "network:%s:%u,%u,%s:vswitch:%s", n->adapter, n->bus, n->device, n->mac, n->vswitch);
  if (n->portid && k > 0 && (size_t)k < len) snprintf(buf + k, len - (size_t)k, ":portid:%u", n->portid);
}

void cli_mac_dashes(const char *mac, char *buf, size_t len) {
  if (strlen(mac) != 14) {
    snprintf(buf, len, "%s", mac);
    return;
  }
  const char *h = mac + 2;
  snprintf(buf, len, "%c%c-%c%c-%c%c-%c%c-%c%c-%c%c", tolower(h[0]), tolower(h[1]), tolower(h[2]), tolower(h[3]),
           tolower(h[4]), tolower(h[5]), tolower(h[6]), tolower(h[7]), tolower(h[8]), tolower(h[9]), tolower(h[10]),
           tolower(h[11]));
}

void cli_mac_generate(char out[15]) {
  uint8_t b[6] = {0};
  if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
    /* No entropy source: still unique enough per process and call. */
    uint64_t x = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)out;
    for (int i = 0; i < 6; i++) b[i] = (uint8_t)(x >> (8 * i));
  }
  b[0] = (uint8_t)((b[0] & 0xfe) | 0x02); /* unicast, locally administered */
  snprintf(out, 15, "0x%02X%02X%02X%02X%02X%02X", b[0], b[1], b[2], b[3], b[4], b[5]);
}
