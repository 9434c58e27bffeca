/* suspend.c — hpvmsuspend and hpvmresume: a running guest's whole state saved to a file, and
 * the guest continued from that file later (on this host, or on another one after an offline
 * migration: the record of the file is in the shared configuration).
 *
 *   hpvmsuspend -P vm -f FILE   ON or PAUSED here, FILE absent (or -F)
 *       --AppSuspend--> hpvmapp: pause, vm_save_file(FILE), power off with 0, exit
 *                       (AppExit.suspended_to); a save that fails resumes the guest and
 *                       answers AppEvent.error: the guest runs on, the client hears why
 *       finalize (super.c): OFF "suspended to FILE (hpvmsuspend)", lease released, then
 *       hd_suspend_ended: the configuration records FILE (VmSuspended: path, size, BLAKE2b-256),
 *       and the client gets the VM's status
 *   hpvmresume -P vm -f FILE    OFF here, nobody else runs it, and FILE is the one recorded:
 *       same size and BLAKE2b-256 (so not replaced, damaged or truncated since) and a VM section
 *       with the guest's memory and vCPUs; then hd_vm_start with --restore FILE (registration,
 *       lease, entitlement, disks exactly as hpvmstart), answered when hpvmapp says hello
 *   first hello of any run (hd_suspend_started): the record is cleared. A file resumes once:
 *       a second resume, or a resume after a fresh hpvmstart, would run the guest against
 *       disks that have moved on since the state was saved.
 *
 * Refusals leave everything as it was: nothing is started and the file is kept. Reading a
 * state file (its hash, its VM section) happens on hpvmd's loop: a few hundred MB/s from the
 * page cache, seconds for the largest guests, well inside the lease fence time. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "internal.h"
#include "wire.h"

#define SUFFIX " (hpvmsuspend)"
#define FP_LEN 32                  /* BLAKE2b-256 */

/* ---- State files -------------------------------------------------------------------------------- */

/* Size and BLAKE2b-256 of the whole file: what recognises it again at resume. (Not a CRC32C:
 * every section of a state file ends with the CRC32C of its bytes, and a CRC over data
 * followed by its own CRC is a constant, so all state files would look alike.) */
static int file_fingerprint(const char *path, uint64_t *size, uint8_t hash[FP_LEN], char *why, size_t len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    int e = fd < 0 ? errno : EINVAL;
    snprintf(why, len, "state file %s: %s", path, e == ENOENT ? "no such file" : e == EINVAL ? "not a regular file" : strerror(e));
    if (fd >= 0) close(fd);
    return e == ENOENT ? HPVM_ENOENT : HPVM_EIO;
  }
  enum { CHUNK = 1 << 20 };
  uint8_t *buf = malloc(CHUNK);
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, FP_LEN);
  uint64_t n = 0;
  ssize_t r = buf ? 1 : -1;
  while (buf && (r = read(fd, buf, CHUNK)) != 0) {
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    crypto_generichash_update(&h, buf, (unsigned long long)r);
    n += (uint64_t)r;
  }
  int e = errno;
  free(buf);
  close(fd);
  if (r != 0) {
    snprintf(why, len, "state file %s: cannot read it (%s)", path, buf ? strerror(e) : "out of memory");
    return HPVM_EIO;
  }
  *size = n;
  crypto_generichash_final(&h, hash, FP_LEN);
  return 0;
}

/* The VM section of a state file (its first): memory size and vCPU count. */
static int file_vm_info(const char *path, uint64_t *mem, uint32_t *vcpus, char *why, size_t len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(why, len, "state file %s: %s", path, strerror(errno));
    return HPVM_EIO;
  }
  wire_reader r;
  wire_section s;
  ProtobufCMessage *m = NULL;
  int rc = wire_reader_init_fd(&r, fd);
  if (!rc) {
    rc = wire_reader_next(&r, &s);
    if (rc == 1 && s.type != WIRE_SEC_VM) rc = wire_reader_fail(&r, &s, HPVM_ECORRUPT, "the first section must be VM");
    else if (rc == 1) rc = wire_section_unpack(&r, &s, &hpvm__vm_info__descriptor, &m);
    else if (rc == 0) rc = HPVM_ECORRUPT;
  }
  if (rc) snprintf(why, len, "state file %s is not a usable hpvm state: %s", path,
                   *wire_reader_error(&r) ? wire_reader_error(&r) : hpvm_strerror(rc));
  else {
    *mem = ((Hpvm__VmInfo *)m)->memory_bytes;
    *vcpus = ((Hpvm__VmInfo *)m)->vcpus;
    protobuf_c_message_free_unpacked(m, NULL);
  }
  wire_reader_free(&r);
  close(fd);
  return rc;
}

static const char *mib(uint64_t bytes, char *buf, size_t len) {
  if (bytes % (1ull << 30) == 0) snprintf(buf, len, "%lluG", (unsigned long long)(bytes >> 30));
  else snprintf(buf, len, "%lluM", (unsigned long long)(bytes >> 20));
  return buf;
}

/* ---- The record in the configuration ------------------------------------------------------------ */

/* Load, change the suspended field (set: path's fingerprint; clear: NULL), write; again when
 * another writer got there first. *was (may be NULL) gets the path that was recorded. */
static int set_record(hd_daemon *d, const char *name, const char *path, char *was, size_t waslen, char *why, size_t len) {
  uint64_t size = 0;
  uint8_t hash[FP_LEN];
  int rc = path ? file_fingerprint(path, &size, hash, why, len) : 0;
  if (was && waslen) was[0] = 0;
  for (int attempt = 0; !rc && attempt < 20; attempt++) {
    Hpvm__VmConfig *cfg = NULL;
    if ((rc = sto_vm_load(d->sto, name, &cfg))) {
      snprintf(why, len, "%s", sto_error(d->sto));
      break;
    }
    if (was && waslen && cfg->suspended) snprintf(was, waslen, "%s", cfg->suspended->path);
    if (!path && !cfg->suspended) {
      sto_vm_free(cfg);
      return 0;
    }
    if (cfg->suspended) protobuf_c_message_free_unpacked(&cfg->suspended->base, NULL);
    cfg->suspended = NULL;
    if (path) {
      /* Allocated as unpack does, so sto_vm_free frees it. */
      Hpvm__VmSuspended *s = malloc(sizeof *s);
      char *p = strdup(path), *h = strdup(sto_host(d->sto));
      uint8_t *fp = malloc(FP_LEN);
      if (!s || !p || !h || !fp) {
        free(s), free(p), free(h), free(fp);
        sto_vm_free(cfg);
        snprintf(why, len, "hpvmd is out of memory");
        return HPVM_ENOMEM;
      }
      hpvm__vm_suspended__init(s);
      s->path = p;
      s->host = h;
      s->size = size;
      memcpy(fp, hash, FP_LEN);
      s->blake2b.data = fp;
      s->blake2b.len = FP_LEN;
      s->saved_ns = hd_wall_ns();
      cfg->suspended = s;
    }
    rc = sto_vm_update(d->sto, cfg);
    if (rc) snprintf(why, len, "%s", sto_error(d->sto));
    sto_vm_free(cfg);
    if (rc != HPVM_EBUSY) break;
    rc = 0;
  }
  return rc;
}

/* ---- Answers ------------------------------------------------------------------------------------ */

static void answer_vm(hd_vm *v, hd_waiter *w) {
  hd_daemon *d = v->d;
  Hpvm__VmConfig *cfg = NULL, stub = HPVM__VM_CONFIG__INIT;
  stub.name = v->name;
  sto_vm_load(d->sto, v->name, &cfg);
  Hpvm__VmStatus st = HPVM__VM_STATUS__INIT;
  char owner[STO_NAME_MAX + 1];
  hd_fill_status(d, cfg ? cfg : &stub, v->name, &st, owner);
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = w->id;
  r.body_case = HPVM__RESPONSE__BODY_VM;
  r.vm = &st;
  if (w->client) hd_answer(w->client, &r, w->user, w->cmdline);
  else hd_cmdlog(d, w->user, w->cmdline, 0, "");
  sto_vm_free(cfg);
}

static void answer_err(hd_vm *v, hd_waiter *w, int err, const char *msg) {
  if (w->client) hd_answer_error(w->client, w->id, w->user, w->cmdline, err, "%s", msg);
  else hd_cmdlog(v->d, w->user, w->cmdline, err, msg);
}

/* As super.c frees a waiter it has unlinked. */
static void waiter_free(hd_waiter *w) {
  free(w->user), free(w->cmdline), free(w->request), free(w);
}

void hd_suspend_refused(hd_vm *v, hd_waiter *w, const char *msg) {
  char line[1200];
  snprintf(line, sizeof line, "VM %.255s: %.900s", v->name, msg);
  hd_log(v->d, HD_WARN, "%s", line);
  answer_err(v, w, HPVM_EIO, line);
}

/* Where the run that just ended saved the guest, or NULL: hpvmapp's last words, or (when no
 * hpvmd heard them) the reason it left in its exit file. */
static const char *suspended_path(hd_vm *v, const char *reason, char *buf, size_t len) {
  if (v->app_exit && v->app_exit->suspended_to && *v->app_exit->suspended_to) return v->app_exit->suspended_to;
  const char *pre = "suspended to ";
  size_t rl = strlen(reason), pl = strlen(pre), sl = strlen(SUFFIX);
  if (strncmp(reason, pre, pl) || rl <= pl + sl || strcmp(reason + rl - sl, SUFFIX) || rl - pl - sl >= len) return NULL;
  memcpy(buf, reason + pl, rl - pl - sl);
  buf[rl - pl - sl] = 0;
  return buf;
}

void hd_suspend_ended(hd_vm *v, const char *reason) {
  hd_daemon *d = v->d;
  free(v->resume_from);   /* a resume that did not get to run: the record stays */
  v->resume_from = NULL;
  char buf[4200], why[1200], line[2000];
  const char *path = suspended_path(v, reason, buf, sizeof buf);
  int rc = 0;
  if (path) {
    rc = set_record(d, v->name, path, NULL, 0, why, sizeof why);
    if (rc) snprintf(line, sizeof line, "VM %.255s was suspended to %.1000s, but that could not be recorded: %.300s; "
                     "the file holds the guest, and hpvmresume will refuse it", v->name, path, why);
    else snprintf(line, sizeof line, "VM %.255s suspended to %.1300s", v->name, path);
    hd_log(d, rc ? HD_ERR : HD_INFO, "%s", line);
  } else {
    snprintf(line, sizeof line, "VM %.255s stopped before it was suspended: %.1300s", v->name, reason);
  }
  hd_waiter **p = &v->waiters;
  while (*p) {
    hd_waiter *w = *p;
    if (w->kind != HD_WAIT_SUSPEND) {
      p = &w->next;
      continue;
    }
    *p = w->next;
    if (path && !rc) answer_vm(v, w);
    else answer_err(v, w, path ? rc : HPVM_ESTATE, line);
    waiter_free(w);
  }
}

void hd_suspend_started(hd_vm *v) {
  char was[4200], why[1200];
  bool resumed = v->resume_from != NULL;
  free(v->resume_from);
  v->resume_from = NULL;
  if (set_record(v->d, v->name, NULL, was, sizeof was, why, sizeof why))
    hd_log(v->d, HD_WARN, "VM %s runs, but its suspended state record could not be cleared: %s", v->name, why);
  else if (was[0] && resumed) hd_log(v->d, HD_INFO, "VM %s resumed from %s", v->name, was);
  else if (was[0]) hd_log(v->d, HD_INFO, "VM %s booted afresh: the state suspended to %s is no longer resumable", v->name, was);
}

/* ---- hpvmsuspend -------------------------------------------------------------------------------- */

static void fail(const hd_req *q, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(const hd_req *q, int err, const char *fmt, ...) {
  char msg[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  hd_answer_error(q->c, q->r->id, q->user, q->cmdline, err, "%s", msg);
}

/* Not running here: say where it runs, or that it is off. */
static void not_here(hd_daemon *d, const hd_req *q, const char *name, const hd_vm *v, const char *what) {
  sto_lease l;
  if (sto_lease_read(d->sto, name, &l) == 0 && l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD &&
      strcmp(l.owner, sto_host(d->sto)))
    return fail(q, HPVM_ESTATE, "VM %s runs on host %s; %s it there", name, l.owner, what);
  fail(q, HPVM_ESTATE, "VM %s is %s; only a running guest (On or Paused) can be suspended", name,
       v ? hd_state_name(v->state) : "Off");
}

void hd_cmd_suspend(hd_daemon *d, const hd_req *q) {
  const Hpvm__SuspendVmRequest *m = q->r->suspend;
  const char *name = m->name, *path = m->path;
  if (!name || !*name) return fail(q, HPVM_EINVAL, "hpvmsuspend: no VM name; give one with -P NAME");
  if (!path || path[0] != '/') return fail(q, HPVM_EINVAL, "hpvmsuspend: give the state file as an absolute path (-f FILE)");
  Hpvm__VmConfig *cfg = NULL;
  int rc = sto_vm_load(d->sto, name, &cfg);
  sto_vm_free(cfg);
  if (rc) return fail(q, rc, "%s", sto_error(d->sto));
  hd_vm *v = hd_vm_find(d, name);
  if (!v || (v->state != HPVM__VM_RUN_STATE__VM_RUN_STATE_ON && v->state != HPVM__VM_RUN_STATE__VM_RUN_STATE_PAUSED))
    return not_here(d, q, name, v, "suspend");
  for (hd_waiter *w = v->waiters; w; w = w->next)
    if (w->kind == HD_WAIT_SUSPEND) return fail(q, HPVM_EBUSY, "VM %s is being suspended already", name);
  struct stat st;
  if (!m->force && lstat(path, &st) == 0)
    return fail(q, HPVM_EEXIST, "%s exists; choose another file, or overwrite it with hpvmsuspend -F", path);
  Hpvm__AppSuspend s = HPVM__APP_SUSPEND__INIT;
  Hpvm__AppCommand c = HPVM__APP_COMMAND__INIT;
  s.path = (char *)path;
  c.body_case = HPVM__APP_COMMAND__BODY_SUSPEND;
  c.suspend = &s;
  if ((rc = hd_vm_send(v, &c))) return fail(q, rc, "VM %s: hpvmapp does not answer; the guest was not suspended", name);
  hd_log(d, HD_INFO, "%s suspends VM %s to %s", q->user, name, path);
  hd_waiter_add(v, HD_WAIT_SUSPEND, q, false);
}

/* ---- hpvmresume --------------------------------------------------------------------------------- */

/* Is path the state cfg was suspended to? 0, or the refusal in why. */
static int check_file(const Hpvm__VmConfig *cfg, const char *path, char *why, size_t len) {
  const char *name = cfg->name;
  const Hpvm__VmSuspended *rec = cfg->suspended;
  if (!rec || !*rec->path) {
    snprintf(why, len, "VM %s is not suspended (no hpvmsuspend record: never suspended, or resumed or started since); "
             "boot it with hpvmstart -P %s", name, name);
    return HPVM_ESTATE;
  }
  uint64_t size, mem;
  uint32_t vcpus;
  uint8_t hash[FP_LEN];
  char a[32], b[32];
  int rc = file_fingerprint(path, &size, hash, why, len);
  if (!rc) rc = file_vm_info(path, &mem, &vcpus, why, len);
  if (rc) {
    size_t n = strlen(why);
    snprintf(why + n, len - n, "; nothing was started and the file is kept");
    return rc == HPVM_ENOENT ? rc : HPVM_ECORRUPT;
  }
  if (mem != cfg->memory_bytes || vcpus != cfg->vcpus) {
    snprintf(why, len, "%s holds a VM with %s of memory and %u vCPUs, VM %s has %s and %u: it was saved from another "
             "VM; nothing was started", path, mib(mem, a, sizeof a), vcpus, name, mib(cfg->memory_bytes, b, sizeof b),
             cfg->vcpus);
    return HPVM_EINVAL;
  }
  if (size == rec->size && rec->blake2b.len == FP_LEN && !memcmp(hash, rec->blake2b.data, FP_LEN)) return 0;
  if (!strcmp(path, rec->path))
    snprintf(why, len, "%s has changed since VM %s was suspended to it (its size or BLAKE2b differ: damaged, truncated "
             "or replaced); nothing was started and the file is kept", path, name);
  else
    snprintf(why, len, "%s is not the state VM %s was suspended to (that is %s, on host %s); nothing was started",
             path, name, rec->path, rec->host);
  return HPVM_ECORRUPT;
}

void hd_cmd_resume(hd_daemon *d, const hd_req *q) {
  const Hpvm__ResumeVmRequest *m = q->r->resume;
  const char *name = m->name, *path = m->path;
  if (!name || !*name) return fail(q, HPVM_EINVAL, "hpvmresume: no VM name; give one with -P NAME");
  if (!path || path[0] != '/') return fail(q, HPVM_EINVAL, "hpvmresume: give the state file as an absolute path (-f FILE)");
  hd_vm *v = hd_vm_find(d, name);
  if (v && hd_vm_running(v))
    return fail(q, HPVM_ESTATE, "VM %s is %s (hpvmapp pid %d); hpvmresume continues a suspended guest", name,
                hd_state_name(v->state), (int)v->pid);
  sto_lease l;
  if (sto_lease_read(d->sto, name, &l) == 0 && l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD &&
      strcmp(l.owner, sto_host(d->sto)))
    return fail(q, HPVM_ESTATE, "VM %s runs on host %s; it is not suspended", name, l.owner);
  Hpvm__VmConfig *cfg = NULL;
  int rc = sto_vm_load(d->sto, name, &cfg);
  if (rc) return fail(q, rc, "%s", sto_error(d->sto));
  char why[1200];
  rc = check_file(cfg, path, why, sizeof why);
  sto_vm_free(cfg);
  if (rc) return fail(q, rc, "%s", why);
  if (!(v = hd_vm_get(d, name)) || !(v->resume_from = strdup(path))) return fail(q, HPVM_ENOMEM, "hpvmd is out of memory");
  if ((rc = hd_vm_start(d, name, &v, why, sizeof why))) {
    hd_vm *vv = hd_vm_find(d, name);
    if (vv) free(vv->resume_from), vv->resume_from = NULL;
    return fail(q, rc, "%s", why);
  }
  hd_log(d, HD_INFO, "%s resumes VM %s from %s: hpvmapp pid %d", q->user, name, path, (int)v->pid);
  hd_waiter_add(v, HD_WAIT_START, q, false);
}
