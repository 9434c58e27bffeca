/* vmcmd.c — the commands that work on configurations: create, modify, remove, clone, and
 * the queries status, list and info.
 *
 * Configurations live in shared storage (storage.h): hpvmd checks what only a host can
 * check (the kernel and backing files exist here, the memory fits this host), storage checks
 * the rest (sto_vm_validate) and makes every write atomic and compare-and-swap. A modify
 * that names fields re-reads the record and re-applies them when another writer got there
 * first, so concurrent hpvmmodify of different fields from any host all land. Every failure
 * is answered with one line naming the VM and what to do; nothing is left half done (a
 * clone whose record cannot be written removes the disk copies it made). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_MEMORY (2ull << 30)       /* HPVM's defaults: 2 GB, 1 vCPU, 10 % */
#define DEFAULT_ENTITLEMENT 10

static void answer_vm(const hd_req *q, hd_daemon *d, Hpvm__VmConfig *cfg) {
  Hpvm__VmStatus st = HPVM__VM_STATUS__INIT;
  char owner[STO_NAME_MAX + 1];
  hd_fill_status(d, cfg, cfg->name, &st, owner);
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = q->r->id;
  r.body_case = HPVM__RESPONSE__BODY_VM;
  r.vm = &st;
  hd_answer(q->c, &r, q->user, q->cmdline);
}

static void fail(const hd_req *q, int err, const char *msg) {
  hd_answer_error(q->c, q->r->id, q->user, q->cmdline, err, "%s", msg);
}

/* A deep copy (pack and unpack) that sto_vm_free / free_unpacked can free. */
static Hpvm__VmConfig *config_copy(const Hpvm__VmConfig *c) {
  size_t n = hpvm__vm_config__get_packed_size(c);
  uint8_t *b = malloc(n ? n : 1);
  if (!b) return NULL;
  hpvm__vm_config__pack(c, b);
  Hpvm__VmConfig *out = hpvm__vm_config__unpack(NULL, n, b);
  free(b);
  return out;
}

static const char *gib(uint64_t bytes, char *buf, size_t len) {
  if (bytes % (1ull << 30) == 0) snprintf(buf, len, "%lluG", (unsigned long long)(bytes >> 30));
  else snprintf(buf, len, "%lluM", (unsigned long long)(bytes >> 20));
  return buf;
}

int hd_host_check(hd_daemon *d, const Hpvm__VmConfig *c, char *why, size_t len) {
  (void)d;
  struct stat st;
  if (c->kernel && *c->kernel) {
    if (c->kernel[0] != '/') {
      snprintf(why, len, "guest kernel %s: give an absolute path", c->kernel);
      return HPVM_EINVAL;
    }
    if (stat(c->kernel, &st) || !S_ISREG(st.st_mode) || access(c->kernel, R_OK)) {
      snprintf(why, len, "guest kernel %s: %s", c->kernel,
               errno == ENOENT ? "no such file" : !S_ISREG(st.st_mode) ? "not a regular file" : strerror(errno));
      return HPVM_ENOENT;
    }
  }
  for (size_t i = 0; i < c->n_devices; i++) {
    const Hpvm__VmStorageDevice *v = c->devices[i];
    const char *spec = v->spec && *v->spec ? v->spec : v->path;
    if (v->backing == HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_FILE) {
      if (stat(v->path, &st) || !S_ISREG(st.st_mode)) {
        snprintf(why, len, "device %s: backing file %s %s; create it with hpvmdevmgmt -S SIZE %s", spec, v->path,
                 errno == ENOENT ? "does not exist" : "is not a regular file", v->path);
        return HPVM_ENOENT;
      }
    } else if (v->backing == HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_DISK) {
      if (stat(v->path, &st) || !S_ISBLK(st.st_mode)) {
        snprintf(why, len, "device %s: %s is not a block device", spec, v->path);
        return HPVM_ENOENT;
      }
    }
  }
  uint64_t host_mem = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
  if (c->memory_bytes > host_mem) {
    char a[32], b[32];
    snprintf(why, len, "memory %s is more than this host has (%s); give less with -r", gib(c->memory_bytes, a, sizeof a),
             gib(host_mem, b, sizeof b));
    return HPVM_ERANGE;
  }
  return 0;
}

static int check_config(hd_daemon *d, const Hpvm__VmConfig *c, char *why, size_t len) {
  int rc = sto_vm_validate(c, why, len);
  return rc ? rc : hd_host_check(d, c, why, len);
}

/* Proto3 leaves "not given" as zero: HPVM's defaults. */
static void fill_defaults(Hpvm__VmConfig *c, Hpvm__VmEntitlement *ent) {
  if (!c->vcpus) c->vcpus = 1;
  if (!c->memory_bytes) c->memory_bytes = DEFAULT_MEMORY;
  if (!c->os_type) c->os_type = HPVM__VM_OS_TYPE__VM_OS_TYPE_UNKNOWN;
  if (!c->boot) c->boot = HPVM__VM_BOOT_MODE__VM_BOOT_MODE_MANUAL;
  if (!c->entitlement) {
    c->entitlement = ent;
    ent->unit = HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT;
    ent->value = DEFAULT_ENTITLEMENT;
  }
}

/* ---- create ------------------------------------------------------------------------------------ */

void hd_cmd_create(hd_daemon *d, const hd_req *q) {
  const Hpvm__CreateVmRequest *c = q->r->create;
  if (!c->config || !c->config->name || !*c->config->name)
    return fail(q, HPVM_EINVAL, "hpvmcreate: no VM name; give one with -P NAME");
  Hpvm__VmConfig *cfg = config_copy(c->config);
  if (!cfg) return fail(q, HPVM_ENOMEM, "hpvmd is out of memory");
  Hpvm__VmEntitlement ent = HPVM__VM_ENTITLEMENT__INIT;
  fill_defaults(cfg, &ent);
  cfg->config_generation = 0;
  char why[1024];
  int rc = check_config(d, cfg, why, sizeof why);
  if (rc) {
    hd_answer_error(q->c, q->r->id, q->user, q->cmdline, rc, "cannot create VM %s: %s", cfg->name, why);
  } else {
    Hpvm__VmConfig *made = NULL;
    if ((rc = sto_vm_create(d->sto, cfg, &made))) {
      hd_answer_error(q->c, q->r->id, q->user, q->cmdline, rc, "%s", sto_error(d->sto));
    } else {
      hd_log(d, HD_INFO, "%s created VM %s (VM # %u)", q->user, made->name, made->vm_number);
      answer_vm(q, d, made);
    }
    sto_vm_free(made);
  }
  if (cfg->entitlement == &ent) cfg->entitlement = NULL;
  sto_vm_free(cfg);
}

/* ---- modify ----------------------------------------------------------------------------------- */

/* The fields a modify may name; the rest belong to the store or are identity. */
static const char *const modifiable[] = {"vcpus", "memory_bytes", "entitlement", "devices", "networks", "label",
                                         "boot", "attributes", "kernel", "cmdline", "os_type", "not_runnable",
                                         "not_runnable_reason", NULL};

static bool is_modifiable(const char *f) {
  for (size_t i = 0; modifiable[i]; i++)
    if (!strcmp(modifiable[i], f)) return true;
  return false;
}

static size_t member_size(const ProtobufCFieldDescriptor *f) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
    return 8;
  case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
  case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
  case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
  default: return 4;
  }
}

static void swap_bytes(void *a, void *b, size_t n) {
  unsigned char t[32];
  memcpy(t, a, n);
  memcpy(a, b, n);
  memcpy(b, t, n);
}

/* Exchange one field between two configurations (both owned by unpack), so that each is
 * still freed correctly by its owner. */
static void swap_field(Hpvm__VmConfig *a, Hpvm__VmConfig *b, const ProtobufCFieldDescriptor *f) {
  if (f->label == PROTOBUF_C_LABEL_REPEATED) {
    swap_bytes((char *)a + f->quantifier_offset, (char *)b + f->quantifier_offset, sizeof(size_t));
    swap_bytes((char *)a + f->offset, (char *)b + f->offset, sizeof(void *));
  } else {
    swap_bytes((char *)a + f->offset, (char *)b + f->offset, member_size(f));
  }
}

static void remove_run_dir(hd_daemon *d, const char *name);

/* Rename an Off VM: the shared record (sto_vm_rename: refused while any host holds its
 * lease), then this host's run directory STATE/vms/<name> (console log, last exit). The
 * in-memory VM is forgotten; the next command that needs it finds it under the new name.
 * 0, or the error already answered. */
static int rename_vm(hd_daemon *d, const hd_req *q, const char *old, const char *new_name) {
  hd_vm *v = hd_vm_find(d, old);
  if (v && hd_vm_running(v)) {
    hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_ESTATE, "VM %s is %s; stop it first (hpvmstop -P %s)",
                    old, hd_state_name(v->state), old);
    return HPVM_ESTATE;
  }
  int rc = sto_vm_rename(d->sto, old, new_name, 0, NULL);
  if (rc) {
    hd_answer_error(q->c, q->r->id, q->user, q->cmdline, rc, "%s", sto_error(d->sto));
    return rc;
  }
  if (v) hd_vm_forget(v);
  char from[4400], to[4400];
  snprintf(from, sizeof from, "%s/vms/%s", d->o.state_dir, old);
  snprintf(to, sizeof to, "%s/vms/%s", d->o.state_dir, new_name);
  remove_run_dir(d, new_name);  /* a namesake's leftovers, removed earlier on this host */
  if (rename(from, to) < 0 && errno != ENOENT)
    hd_log(d, HD_WARN, "VM %s renamed to %s, but its run directory %s could not be moved: %s", old, new_name, from,
           strerror(errno));
  hd_log(d, HD_INFO, "%s renamed VM %s to %s", q->user, old, new_name);
  return 0;
}

void hd_cmd_modify(hd_daemon *d, const hd_req *q) {
  const Hpvm__ModifyVmRequest *m = q->r->modify;
  if (!m->name || !*m->name) return fail(q, HPVM_EINVAL, "hpvmmodify: no VM name; give one with -P NAME");
  const char *name = m->name;
  if (m->new_name && *m->new_name) {
    for (size_t i = 0; i < m->n_fields; i++)  /* refuse a bad field before renaming */
      if (!is_modifiable(m->fields[i]))
        return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_EINVAL,
                               "cannot modify VM %s: field '%s' cannot be changed", name, m->fields[i]);
    if (rename_vm(d, q, name, m->new_name)) return;
    name = m->new_name;
    if (!m->config || (!m->n_fields && !m->config->config_generation)) {
      Hpvm__VmConfig *cfg;
      int rc = sto_vm_load(d->sto, name, &cfg);
      if (rc) return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, rc, "%s", sto_error(d->sto));
      answer_vm(q, d, cfg);
      sto_vm_free(cfg);
      return;
    }
  }
  if (!m->config) return fail(q, HPVM_EINVAL, "hpvmmodify: nothing to change");
  for (size_t i = 0; i < m->n_fields; i++)
    if (!is_modifiable(m->fields[i]))
      return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_EINVAL,
                             "cannot modify VM %s: field '%s' cannot be changed", name, m->fields[i]);
  uint64_t want_gen = m->config->config_generation;
  if (!m->n_fields && !want_gen)
    return fail(q, HPVM_EINVAL, "hpvmmodify: a whole-configuration modify needs the generation it was read at");
  char why[1024];
  int rc = 0;
  /* Re-read and re-apply while another writer wins the race (fields mode only). */
  for (int attempt = 0; attempt < 50; attempt++) {
    Hpvm__VmConfig *cur = NULL, *in = config_copy(m->config);
    if (!in) return fail(q, HPVM_ENOMEM, "hpvmd is out of memory");
    rc = sto_vm_load(d->sto, name, &cur);
    if (rc) {
      sto_vm_free(in);
      return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, rc, "%s", sto_error(d->sto));
    }
    if (want_gen && cur->config_generation != want_gen) {
      hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_EBUSY,
                      "VM %s was changed by someone else since it was read (generation %llu, now %llu); run the "
                      "command again", name, (unsigned long long)want_gen, (unsigned long long)cur->config_generation);
      sto_vm_free(in);
      sto_vm_free(cur);
      return;
    }
    if (m->n_fields) {
      bool runnable_set = false;
      for (size_t i = 0; i < m->n_fields; i++) {
        swap_field(cur, in, protobuf_c_message_descriptor_get_field_by_name(&hpvm__vm_config__descriptor, m->fields[i]));
        runnable_set |= !strcmp(m->fields[i], "not_runnable");
      }
      /* -x runnable_status: VM-wide before any migration, this host's registration after */
      if (runnable_set &&
          sto_vm_set_runnable(cur, sto_host(d->sto), !cur->not_runnable, cur->not_runnable_reason, hd_wall_ns())) {
        sto_vm_free(in);
        sto_vm_free(cur);
        return fail(q, HPVM_ENOMEM, "hpvmd is out of memory");
      }
    } else {
      /* Whole configuration: identity and the store's fields stay as stored. */
      static const char *const keep[] = {"name", "uuid", "vm_number", "created_ns", "created_host", "modified_ns",
                                         "modified_host", "config_generation", NULL};
      for (size_t i = 0; keep[i]; i++)
        swap_field(in, cur, protobuf_c_message_descriptor_get_field_by_name(&hpvm__vm_config__descriptor, keep[i]));
      Hpvm__VmConfig *t = cur;
      cur = in;
      in = t;
    }
    sto_vm_free(in);
    Hpvm__VmEntitlement ent = HPVM__VM_ENTITLEMENT__INIT;
    fill_defaults(cur, &ent);
    rc = check_config(d, cur, why, sizeof why);
    if (rc) {
      hd_answer_error(q->c, q->r->id, q->user, q->cmdline, rc, "cannot modify VM %s: %s", name, why);
    } else if (attempt == 0 && hd_modify_live(d, q, cur)) {
      /* A running guest takes the new entitlement first; the modify goes on when it has. */
    } else if ((rc = sto_vm_update(d->sto, cur)) == 0) {
      hd_log(d, HD_INFO, "%s modified VM %s (generation %llu)", q->user, name,
             (unsigned long long)cur->config_generation);
      answer_vm(q, d, cur);
    } else if (rc != HPVM_EBUSY || want_gen) {
      hd_answer_error(q->c, q->r->id, q->user, q->cmdline, rc, "%s", sto_error(d->sto));
    }
    if (cur->entitlement == &ent) cur->entitlement = NULL;
    sto_vm_free(cur);
    if (rc != HPVM_EBUSY || want_gen) return;
  }
  fail(q, HPVM_EBUSY, "the configuration kept changing under hpvmmodify; run it again");
}

/* ---- remove ----------------------------------------------------------------------------------- */

static void remove_run_dir(hd_daemon *d, const char *name) {
  static const char *const files[] = {"console.log", "console.log.1", "app.log", "last", "exit", "app.pid", "app.sock", NULL};
  char path[4400];
  for (size_t i = 0; files[i]; i++) {
    snprintf(path, sizeof path, "%s/vms/%s/%s", d->o.state_dir, name, files[i]);
    unlink(path);
  }
  snprintf(path, sizeof path, "%s/vms/%s", d->o.state_dir, name);
  rmdir(path);
}

void hd_remove_now(hd_daemon *d, const char *name, bool force, hd_client *c, uint64_t id, const char *user,
                   const char *cmdline) {
  Hpvm__VmConfig *cfg = NULL;
  int rc = sto_vm_load(d->sto, name, &cfg);
  uint64_t gen = cfg ? cfg->config_generation : 0;
  sto_vm_free(cfg);
  if (rc && !(force && rc != HPVM_ENOENT)) {
    hd_answer_error(c, id, user, cmdline, rc, "%s%s", sto_error(d->sto),
                    rc == HPVM_ECORRUPT || rc == HPVM_ETRUNC ? " (hpvmremove -F removes it anyway)" : "");
    return;
  }
  rc = sto_vm_remove(d->sto, name, gen, force ? STO_FORCE : 0);
  if (rc) {
    hd_answer_error(c, id, user, cmdline, rc, "%s", sto_error(d->sto));
    return;
  }
  hd_vm *v = hd_vm_find(d, name);
  if (v) hd_vm_forget(v);
  remove_run_dir(d, name);
  hd_log(d, HD_INFO, "%s removed VM %s", user, name);
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = id;
  hd_answer(c, &r, user, cmdline);
}

void hd_cmd_remove(hd_daemon *d, const hd_req *q) {
  const Hpvm__RemoveVmRequest *m = q->r->remove;
  if (!m->name || !*m->name) return fail(q, HPVM_EINVAL, "hpvmremove: no VM name; give one with -P NAME");
  hd_vm *v = hd_vm_find(d, m->name);
  if (v && hd_vm_running(v)) {
    if (!m->force)
      return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_ESTATE,
                             "VM %s is %s (hpvmapp pid %d); stop it first (hpvmstop -P %s) or remove it with -F",
                             m->name, hd_state_name(v->state), (int)v->pid, m->name);
    hd_waiter_add(v, HD_WAIT_REMOVE, q, true);
    hd_vm_power_off(v, "removed with hpvmremove -F");
    return;
  }
  hd_remove_now(d, m->name, m->force, q->c, q->r->id, q->user, q->cmdline);
}

/* ---- clone ------------------------------------------------------------------------------------ */

/* Copy a disk image, leaving holes where the source has them (or reads zeros). */
static int copy_sparse(const char *from, const char *to, char *why, size_t len) {
  int in = open(from, O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    snprintf(why, len, "cannot read %s: %s", from, strerror(errno));
    return HPVM_ENOENT;
  }
  int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0) {
    snprintf(why, len, "cannot create %s: %s", to, strerror(errno));
    close(in);
    return errno == EEXIST ? HPVM_EEXIST : HPVM_EIO;
  }
  enum { CHUNK = 1 << 16 };
  char *buf = malloc(CHUNK), *zero = calloc(1, CHUNK);
  off_t pos = 0;
  int rc = buf && zero ? 0 : HPVM_ENOMEM;
  while (!rc) {
    ssize_t n = read(in, buf, CHUNK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rc = HPVM_EIO;
      break;
    }
    if (n == 0) break;
    if (memcmp(buf, zero, (size_t)n) && pwrite(out, buf, (size_t)n, pos) != n) {
      rc = HPVM_EIO;
      break;
    }
    pos += n;
  }
  if (!rc && (ftruncate(out, pos) || fsync(out))) rc = HPVM_EIO;
  if (rc) snprintf(why, len, "copying %s to %s: %s", from, to, rc == HPVM_ENOMEM ? "out of memory" : strerror(errno));
  free(buf);
  free(zero);
  close(in);
  close(out);
  if (rc) unlink(to);
  return rc;
}

static char *replace_in(const char *s, const char *from, const char *to) {
  const char *p = s ? strstr(s, from) : NULL;
  if (!p) return strdup(to);
  size_t a = (size_t)(p - s), lf = strlen(from), lt = strlen(to);
  char *r = malloc(strlen(s) - lf + lt + 1);
  if (!r) return NULL;
  memcpy(r, s, a);
  memcpy(r + a, to, lt);
  strcpy(r + a + lt, p + lf);
  return r;
}

void hd_cmd_clone(hd_daemon *d, const hd_req *q) {
  const Hpvm__CloneVmRequest *m = q->r->clone;
  if (!m->source || !*m->source || !m->name || !*m->name)
    return fail(q, HPVM_EINVAL, "hpvmclone: give the source with -P NAME and the new name with -N NAME");
  char why[1024];
  if (sto_vm_name_check(m->name, why, sizeof why))
    return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_EINVAL, "cannot clone to %s: %s", m->name, why);
  Hpvm__VmConfig *cfg = NULL;
  if (sto_vm_load(d->sto, m->name, &cfg) != HPVM_ENOENT) {   /* before copying any disk */
    sto_vm_free(cfg);
    return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_EEXIST,
                           "cannot clone %s to %s: a VM named %s already exists", m->source, m->name, m->name);
  }
  int rc = sto_vm_load(d->sto, m->source, &cfg);
  if (rc) return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, rc, "%s", sto_error(d->sto));
  size_t ncopied = 0;
  for (size_t i = 0; i < m->n_copies && !rc; i++) {
    const Hpvm__DiskCopy *dc = m->copies[i];
    Hpvm__VmStorageDevice *dev = NULL;
    for (size_t j = 0; j < cfg->n_devices; j++)
      if (cfg->devices[j]->path && dc->source_path && !strcmp(cfg->devices[j]->path, dc->source_path)) dev = cfg->devices[j];
    if (!dev) {
      snprintf(why, sizeof why, "VM %s has no device backed by %s", m->source, dc->source_path);
      rc = HPVM_ENOENT;
    } else if (!dc->dest_path || dc->dest_path[0] != '/') {
      snprintf(why, sizeof why, "the copy of %s needs an absolute destination path", dc->source_path);
      rc = HPVM_EINVAL;
    } else if (!(rc = copy_sparse(dc->source_path, dc->dest_path, why, sizeof why))) {
      ncopied++;
      char *spec = replace_in(dev->spec, dev->path, dc->dest_path);
      char *path = strdup(dc->dest_path);
      if (!spec || !path) {
        free(spec);
        free(path);
        rc = HPVM_ENOMEM;
        snprintf(why, sizeof why, "out of memory");
      } else {
        if (dev->spec != protobuf_c_empty_string) free(dev->spec);
        if (dev->path != protobuf_c_empty_string) free(dev->path);
        dev->spec = spec;
        dev->path = path;
      }
    }
  }
  if (!rc) {
    free(cfg->name);
    cfg->name = strdup(m->name);
    if (cfg->uuid != protobuf_c_empty_string) free(cfg->uuid);
    cfg->uuid = strdup("");
    cfg->vm_number = 0;
    cfg->config_generation = 0;
    cfg->not_runnable = false;
    sto_vm_registrations_clear(cfg);   /* a new VM: runnable on every host, never suspended */
    if (cfg->suspended) protobuf_c_message_free_unpacked(&cfg->suspended->base, NULL);
    cfg->suspended = NULL;
    if (!cfg->name || !cfg->uuid) rc = HPVM_ENOMEM, snprintf(why, sizeof why, "out of memory");
    else if (!(rc = check_config(d, cfg, why, sizeof why))) {
      Hpvm__VmConfig *made = NULL;
      rc = sto_vm_create(d->sto, cfg, &made);
      if (rc) snprintf(why, sizeof why, "%s", sto_error(d->sto));
      else sto_vm_free(cfg), cfg = made;
    }
  }
  if (rc) {
    /* Nothing half done: the copies made for a clone that does not exist go away. */
    for (size_t i = 0; i < ncopied; i++) unlink(m->copies[i]->dest_path);
    hd_answer_error(q->c, q->r->id, q->user, q->cmdline, rc, "cannot clone %s to %s: %s", m->source, m->name, why);
  } else {
    hd_log(d, HD_INFO, "%s cloned VM %s to %s (%zu disk copies)", q->user, m->source, m->name, ncopied);
    answer_vm(q, d, cfg);
  }
  sto_vm_free(cfg);
}

/* ---- status, list, info ------------------------------------------------------------------------ */

void hd_fill_status(hd_daemon *d, Hpvm__VmConfig *cfg, const char *name, Hpvm__VmStatus *st,
                    char owner[STO_NAME_MAX + 1]) {
  st->config = cfg;
  st->exit_status = -1;
  hd_vm *v = hd_vm_find(d, name);
  if (v) {
    st->state = v->state;
    st->reason = v->reason ? v->reason : (char *)"";
    st->exit_status = v->exit_status;
    st->console_log = v->console_log;
    if (hd_vm_running(v)) {
      st->host = (char *)sto_host(d->sto);
      st->pid = v->pid;
      st->started_ns = v->started_ns;
      st->retired = v->status.retired;
      st->rss_bytes = v->status.rss_bytes;
    }
    for (hd_viewer *w = v->viewers; w; w = w->next) st->viewers++;
    if (v->incoming || v->state == HPVM__VM_RUN_STATE__VM_RUN_STATE_INCOMING) {
      /* Coming in: it still runs on the source, which holds its lease. */
      sto_lease l;
      st->state = HPVM__VM_RUN_STATE__VM_RUN_STATE_INCOMING;
      st->reason = (char *)(hd_incoming_note(v) ? hd_incoming_note(v) : "incoming");
      if (sto_lease_read(d->sto, name, &l) == 0 && l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD) {
        snprintf(owner, STO_NAME_MAX + 1, "%s", l.owner);
        st->host = owner;
      }
      return;
    }
    if (hd_mig_note(v)) st->reason = (char *)hd_mig_note(v);   /* On, migrating out */
    if (hd_vm_running(v) || v->state == HPVM__VM_RUN_STATE__VM_RUN_STATE_CRASH) return;
  } else {
    st->state = HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF;
  }
  /* Not running here: another host may run it. */
  sto_lease l;
  if (sto_lease_read(d->sto, name, &l) == 0 && l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD &&
      strcmp(l.owner, sto_host(d->sto))) {
    snprintf(owner, STO_NAME_MAX + 1, "%s", l.owner);
    st->state = HPVM__VM_RUN_STATE__VM_RUN_STATE_ELSEWHERE;
    st->host = owner;
    /* Its host is down: what it does now is unknown (its lease decides where it may run). */
    char why[200];
    if (hd_member_host_down(d, owner, why, sizeof why)) {
      st->state = HPVM__VM_RUN_STATE__VM_RUN_STATE_UNKNOWN;
      st->reason = (char *)"last known state On; its host is dead or has stopped renewing its liveness record";
    }
    return;
  }
  /* Off here: "Off (NR)" when it may not start here (VM-wide flag, or this host's
   * registration: Not Runnable after a migration, or not registered). */
  if (st->state == HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF && sto_vm_runnable_on(cfg, sto_host(d->sto), NULL, 0)) {
    const Hpvm__VmRegistration *g = sto_vm_registration(cfg, sto_host(d->sto));
    st->not_runnable_here = true;
    st->not_runnable_reason = cfg->not_runnable ? cfg->not_runnable_reason
                              : g                ? g->reason
                                                 : (char *)"not registered on this host";
  }
}

void hd_cmd_status(hd_daemon *d, const hd_req *q) {
  const char *name = q->r->status->name;
  if (!name || !*name) return hd_cmd_list(d, q);
  Hpvm__VmConfig *cfg = NULL;
  int rc = sto_vm_load(d->sto, name, &cfg);
  if (rc == HPVM_ENOENT) return hd_answer_error(q->c, q->r->id, q->user, NULL, rc, "no VM named %s; hpvmstatus lists them", name);
  Hpvm__VmConfig stub = HPVM__VM_CONFIG__INIT;
  Hpvm__VmStatus st = HPVM__VM_STATUS__INIT;
  stub.name = (char *)name;
  char owner[STO_NAME_MAX + 1];
  hd_fill_status(d, cfg ? cfg : &stub, name, &st, owner);
  if (rc) {
    st.state = HPVM__VM_RUN_STATE__VM_RUN_STATE_BAD_RECORD;
    st.reason = (char *)sto_error(d->sto);
  }
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = q->r->id;
  r.body_case = HPVM__RESPONSE__BODY_VM;
  r.vm = &st;
  hd_cluster_answer(d, q, &r);   /* live details from the owner when another host runs it */
  sto_vm_free(cfg);
}

void hd_cmd_list(hd_daemon *d, const hd_req *q) {
  sto_vm_entry *e = NULL;
  size_t n = 0;
  int rc = sto_vm_list(d->sto, &e, &n);
  if (rc) return hd_answer_error(q->c, q->r->id, q->user, NULL, rc, "%s", sto_error(d->sto));
  Hpvm__VmStatus *st = calloc(n ? n : 1, sizeof *st);
  Hpvm__VmStatus **ptrs = calloc(n ? n : 1, sizeof *ptrs);
  Hpvm__VmConfig *stubs = calloc(n ? n : 1, sizeof *stubs);
  char (*owners)[STO_NAME_MAX + 1] = calloc(n ? n : 1, sizeof *owners);
  if (!st || !ptrs || !stubs || !owners) {
    free(st), free(ptrs), free(stubs), free(owners);
    sto_vm_list_free(e, n);
    return fail(q, HPVM_ENOMEM, "hpvmd is out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    hpvm__vm_status__init(&st[i]);
    hpvm__vm_config__init(&stubs[i]);
    stubs[i].name = e[i].name;
    hd_fill_status(d, e[i].cfg ? e[i].cfg : &stubs[i], e[i].name, &st[i], owners[i]);
    if (!e[i].cfg) {
      st[i].state = HPVM__VM_RUN_STATE__VM_RUN_STATE_BAD_RECORD;
      st[i].reason = e[i].error ? e[i].error : (char *)"";
    }
    ptrs[i] = &st[i];
  }
  Hpvm__VmList list = HPVM__VM_LIST__INIT;
  list.n_vms = n;
  list.vms = ptrs;
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = q->r->id;
  r.body_case = HPVM__RESPONSE__BODY_LIST;
  r.list = &list;
  hd_cluster_answer(d, q, &r);   /* live details from the hosts that run guests of it */
  free(st), free(ptrs), free(stubs), free(owners);
  sto_vm_list_free(e, n);
}

void hd_cmd_info(hd_daemon *d, const hd_req *q) {
  Hpvm__HostInfo h = HPVM__HOST_INFO__INIT;
  h.host = (char *)sto_host(d->sto);
  h.version = HD_VERSION;
  h.pid = (int32_t)getpid();
  h.started_ns = d->started_ns;
  h.shared_dir = d->o.shared_dir;
  h.state_dir = d->o.state_dir;
  h.host_cpus = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
  h.host_memory_bytes = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
  h.listen = d->o.listen ? d->o.listen : (char *)"";
  for (hd_vm *v = d->vms; v; v = v->next)
    if (hd_vm_running(v)) h.vms_running++;
  sto_vm_entry *e = NULL;
  size_t n = 0;
  if (sto_vm_list(d->sto, &e, &n) == 0) {
    h.vms_total = (uint32_t)n;
    sto_vm_list_free(e, n);
  }
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = q->r->id;
  r.body_case = HPVM__RESPONSE__BODY_INFO;
  r.info = &h;
  hd_answer(q->c, &r, q->user, NULL);
}
