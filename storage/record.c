/* record.c — one record = one small file in the shared directory: the format, the atomic
 * write, the lock, and the compare-and-swap on the generation that every other part of
 * storage/ (VM configs, leases, liveness, cluster) is written with.
 *
 * Format (little-endian; docs/design/storage.md):
 *   0  magic "HPVMRECD"   8  version u32 (major << 16 | minor)   12  kind u32
 *   16 generation u64     24 payload length u32                  28  CRC32C u32
 *   32 payload (a protobuf message of proto/storage.proto)
 * The CRC32C (proto/wire.h's) covers bytes 0..27 and the payload, so no flipped bit goes
 * unseen; the file must be exactly 32 + length bytes long.
 *
 * Update of DIR/d/rec from generation g (the lock is DIR/d/.rec.lock):
 *   lock -> read rec, check it is intact and at g -> write DIR/d/.rec.tmp.<host>.<pid>.<n>
 *   with generation g+1, fsync, close -> link it to DIR/d/.claims/rec.<g+1> (exclusive:
 *   only one writer ever makes the step g -> g+1, even if locks do not work) -> rename it
 *   over rec -> fsync DIR/d -> unlock.
 * A crash anywhere leaves rec at g or at g+1, each intact; a leftover temporary file or a
 * claim of a transition that never happened is removed by the next writer that holds the
 * lock (it alone may know the writer that left it is gone). Without locks a stale claim
 * stays and updates of that record are refused with HPVM_EBUSY until someone holding the
 * lock writes it: refused rather than lost. Claims older than CLAIM_KEEP generations are
 * pruned; the argument for that bound is in the design document. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "wire.h"

enum { CLAIM_KEEP = 64 };

/* ---- Encoding ------------------------------------------------------------------------------ */

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

static uint8_t *encode(uint32_t kind, uint64_t gen, const void *payload, size_t len) {
  uint8_t *b = malloc(STO_RECORD_HEADER_LEN + len);
  if (!b) return NULL;
  memcpy(b, STO_RECORD_MAGIC, 8);
  put32(b + 8, STO_RECORD_VERSION_MAJOR << 16 | STO_RECORD_VERSION_MINOR);
  put32(b + 12, kind);
  put64(b + 16, gen);
  put32(b + 24, (uint32_t)len);
  if (len) memcpy(b + STO_RECORD_HEADER_LEN, payload, len);
  put32(b + 28, wire_crc32c(wire_crc32c(0, b, 28), b + STO_RECORD_HEADER_LEN, len));
  return b;
}

static const char *kind_name(uint32_t kind) {
  switch (kind) {
  case HPVM__RECORD_KIND__RECORD_KIND_VM_CONFIG: return "VM configuration";
  case HPVM__RECORD_KIND__RECORD_KIND_VM_LEASE: return "VM lease";
  case HPVM__RECORD_KIND__RECORD_KIND_HOST_LIVENESS: return "host liveness";
  case HPVM__RECORD_KIND__RECORD_KIND_HOST_KEY: return "host key";
  case HPVM__RECORD_KIND__RECORD_KIND_CLUSTER_INFO: return "cluster identity";
  case HPVM__RECORD_KIND__RECORD_KIND_CLUSTER_SECRET: return "cluster secret";
  case HPVM__RECORD_KIND__RECORD_KIND_BLOB: return "blob";
  default: return "unknown";
  }
}

void sto__remedy(const char *rel, char *buf, size_t len) {
  char name[STO_NAME_MAX + 1];
  const char *file = strrchr(rel, '/');
  file = file ? file + 1 : rel;
  if (sscanf(rel, "vms/%255[^/]/", name) == 1 && !strcmp(file, "config"))
    snprintf(buf, len, "restore it from a backup or remove the VM with hpvmremove -P %s -F", name);
  else if (sscanf(rel, "vms/%255[^/]/", name) == 1 && !strcmp(file, "lease"))
    snprintf(buf, len, "make sure no host runs %s, then remove the file (a missing lease reads as free)", name);
  else if (sscanf(rel, "hosts/%255[^/]/", name) == 1 && !strcmp(file, "liveness"))
    snprintf(buf, len, "remove the file and restart hpvmd on %s", name);
  else if (!strncmp(rel, "cluster/", 8))
    snprintf(buf, len, "restore it from a backup; hosts cannot join the cluster without it");
  else
    snprintf(buf, len, "restore it from a backup or remove it");
}

/* Check a record's bytes; the message names abs and says what to do. */
static int parse(sto_store *s, const char *rel, const char *abs, uint32_t kind, const uint8_t *b, size_t len,
                 sto_record *out) {
  char fix[320];
  sto__remedy(rel, fix, sizeof fix);
  if (len < STO_RECORD_HEADER_LEN) {
    if (len == 0) return sto__fail(s, HPVM_ETRUNC, "%s: empty (0 bytes), the record was lost or cut short; %s", abs, fix);
    return sto__fail(s, HPVM_ETRUNC, "%s: truncated: %zu bytes, shorter than a record header (%d); %s", abs, len,
                     STO_RECORD_HEADER_LEN, fix);
  }
  if (memcmp(b, STO_RECORD_MAGIC, 8))
    return sto__fail(s, HPVM_ECORRUPT, "%s: not an hpvm record (bad magic); %s", abs, fix);
  size_t plen = get32(b + 24);
  if (plen > STO_RECORD_MAX)
    return sto__fail(s, HPVM_ECORRUPT, "%s: header claims a %zu-byte payload, over the %u limit; %s", abs, plen,
                     STO_RECORD_MAX, fix);
  if (len < STO_RECORD_HEADER_LEN + plen)
    return sto__fail(s, HPVM_ETRUNC, "%s: truncated: %zu bytes, its header says %zu; %s", abs, len,
                     STO_RECORD_HEADER_LEN + plen, fix);
  if (len > STO_RECORD_HEADER_LEN + plen)
    return sto__fail(s, HPVM_ECORRUPT, "%s: %zu bytes after the end of the record; %s", abs,
                     len - STO_RECORD_HEADER_LEN - plen, fix);
  uint32_t crc = wire_crc32c(wire_crc32c(0, b, 28), b + STO_RECORD_HEADER_LEN, plen);
  if (crc != get32(b + 28)) return sto__fail(s, HPVM_ECORRUPT, "%s: checksum mismatch; %s", abs, fix);
  uint32_t version = get32(b + 8);
  if (version >> 16 != STO_RECORD_VERSION_MAJOR)
    return sto__fail(s, HPVM_ENOTSUP, "%s: record format %u.%u; this hpvm reads %u.x: upgrade hpvm on this host",
                     abs, version >> 16, version & 0xffff, STO_RECORD_VERSION_MAJOR);
  uint32_t k = get32(b + 12);
  if (kind && k != kind)
    return sto__fail(s, HPVM_ECORRUPT, "%s: holds a %s record where a %s record belongs; %s", abs, kind_name(k),
                     kind_name(kind), fix);
  out->kind = k;
  out->version = version;
  out->generation = get64(b + 16);
  out->len = plen;
  out->payload = malloc(plen + 1);
  if (!out->payload) return sto__fail(s, HPVM_ENOMEM, "out of memory reading %s", abs);
  memcpy(out->payload, b + STO_RECORD_HEADER_LEN, plen);
  return 0;
}

/* The whole file, bounded: a record larger than the largest possible one is not read. */
static int read_file(sto_store *s, const char *abs, uint8_t **buf, size_t *len) {
  int fd = s->io.open(s->io.ctx, abs, O_RDONLY, 0);
  if (fd < 0) return fd;
  const size_t cap = STO_RECORD_HEADER_LEN + STO_RECORD_MAX + 1;
  struct stat st;
  size_t want = fstat(fd, &st) == 0 && (size_t)st.st_size < cap ? (size_t)st.st_size + 1 : cap;
  uint8_t *b = malloc(want);
  size_t got = 0;
  int err = b ? 0 : -ENOMEM;
  while (!err && got < want) {
    ssize_t r = s->io.read(s->io.ctx, fd, b + got, want - got);
    if (r < 0) err = (int)r;
    else if (r == 0) break;
    else got += (size_t)r;
  }
  s->io.close(s->io.ctx, fd);
  if (err) {
    free(b);
    return err;
  }
  *buf = b, *len = got;
  return 0;
}

static int read_record(sto_store *s, const char *rel, const char *abs, uint32_t kind, sto_record *out) {
  memset(out, 0, sizeof *out);
  uint8_t *b = NULL;
  size_t len = 0;
  int r = read_file(s, abs, &b, &len);
  if (r == -ENOENT) return sto__fail(s, HPVM_ENOENT, "%s: no such record", abs);
  if (r < 0) return sto__fail(s, sto__errno(r) == HPVM_ENOMEM ? HPVM_ENOMEM : HPVM_EIO, "%s: cannot read: %s", abs, strerror(-r));
  if (len > STO_RECORD_HEADER_LEN + STO_RECORD_MAX) {
    free(b);
    char fix[320];
    sto__remedy(rel, fix, sizeof fix);
    return sto__fail(s, HPVM_ECORRUPT, "%s: larger than any record can be; %s", abs, fix);
  }
  r = parse(s, rel, abs, kind, b, len, out);
  free(b);
  return r;
}

int sto_record_read(sto_store *s, const char *path, uint32_t kind, sto_record *out) {
  memset(out, 0, sizeof *out);
  char abs[PATH_MAX];
  int r = sto__check_rel(s, path);
  if (!r) r = sto__abs(s, path, abs);
  if (!r) r = read_record(s, path, abs, kind, out);
  return r;
}

void sto_record_free(sto_record *r) {
  if (!r) return;
  free(r->payload);
  r->payload = NULL;
  r->len = 0;
}

/* ---- Paths of a record's companions --------------------------------------------------------- */

typedef struct paths {
  char abs[PATH_MAX];                /* DIR/d/rec */
  char dir[PATH_MAX];                /* DIR/d */
  const char *base;                  /* rec */
  char lock[PATH_MAX];               /* DIR/d/.rec.lock */
} paths;

static int split(sto_store *s, const char *rel, paths *p) {
  int r = sto__check_rel(s, rel);
  if (!r) r = sto__abs(s, rel, p->abs);
  if (r) return r;
  memcpy(p->dir, p->abs, sizeof p->dir);
  char *slash = strrchr(p->dir, '/');
  *slash = '\0';
  p->base = strrchr(p->abs, '/') + 1;
  int n = snprintf(p->lock, sizeof p->lock, "%s/.%s.lock", p->dir, p->base);
  if (n < 0 || n >= (int)sizeof p->lock) return sto__fail(s, HPVM_ERANGE, "%s: path too long", p->abs);
  return 0;
}

static void claim_path(const paths *p, uint64_t gen, char *out) {
  sto__pathf(out, "%s/.claims/%s.%llu", p->dir, p->base, (unsigned long long)gen);
}

static mode_t record_mode(const char *rel) { return strncmp(rel, "cluster/", 8) ? 0644 : 0600; }

/* ---- Locks ----------------------------------------------------------------------------------- */

static sto__held *find_lock(sto_store *s, const char *rel) {
  for (sto__held *l = s->locks; l; l = l->next)
    if (!strcmp(l->path, rel)) return l;
  return NULL;
}

static uint64_t real_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Take the lock file's lock, waiting with backoff (real time: a test's fake clock must not
 * stall it). The lock file may have been removed and re-created (a VM removed and created
 * again) while we waited: a lock on an unlinked inode protects nothing, so after locking,
 * the path must still name the inode we locked. */
static int lock_file(sto_store *s, const paths *p, int *out_fd) {
  uint64_t deadline = real_mono_ms() + s->lock_timeout_ms;
  unsigned delay_us = 100;
  for (;;) {
    int fd = s->io.open(s->io.ctx, p->lock, O_RDWR | O_CREAT, 0600);
    if (fd == -ENOENT) return sto__fail(s, HPVM_ENOENT, "%s: no such record (its directory is missing)", p->abs);
    if (fd < 0) return sto__fail(s, HPVM_EIO, "%s: cannot open the lock file %s: %s", p->abs, p->lock, strerror(-fd));
    int r;
    while ((r = s->io.lock(s->io.ctx, fd, STO_IO_LOCK)) == -EAGAIN) {
      if (real_mono_ms() >= deadline) {
        s->io.close(s->io.ctx, fd);
        return sto__fail(s, HPVM_EBUSY, "%s: locked by another command for more than %u ms; retry, or look for a "
                         "hung hpvm command on the hosts sharing %s", p->abs, s->lock_timeout_ms, s->root);
      }
      /* Jitter from the clock's low bits, so that waiters do not retry in lockstep. */
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      ts = (struct timespec){0, (long)(delay_us + (unsigned)(ts.tv_nsec / 1000) % delay_us) * 1000};
      nanosleep(&ts, NULL);
      if (delay_us < 8000) delay_us *= 2;
    }
    if (r < 0) {
      s->io.close(s->io.ctx, fd);
      if (r == -ENOLCK || r == -EOPNOTSUPP || r == -ENOSYS)
        return sto__fail(s, HPVM_ENOTSUP, "%s: the file system refuses fcntl locks (%s); mount NFS with locking "
                         "(NFSv4, or NFSv3 with lockd) or configure hpvm to rely on generations alone (no_locks)",
                         p->lock, strerror(-r));
      return sto__fail(s, HPVM_EIO, "%s: cannot lock %s: %s", p->abs, p->lock, strerror(-r));
    }
    struct stat a, b;
    if (fstat(fd, &a) == 0 && stat(p->lock, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
      *out_fd = fd;
      return 0;
    }
    s->io.lock(s->io.ctx, fd, STO_IO_UNLOCK);
    s->io.close(s->io.ctx, fd);
  }
}

int sto__lock(sto_store *s, const char *rel) {
  sto__held *l = find_lock(s, rel);
  if (l) {
    l->depth++;
    return 0;
  }
  paths p;
  int r = split(s, rel, &p);
  if (r) return r;
  int fd = -1;
  if (!s->no_locks && (r = lock_file(s, &p, &fd))) return r;
  l = calloc(1, sizeof *l);
  if (l) l->path = strdup(rel);
  if (!l || !l->path) {
    if (fd >= 0) s->io.close(s->io.ctx, fd);
    if (l) free(l);
    return sto__fail(s, HPVM_ENOMEM, "out of memory");
  }
  l->fd = fd;
  l->depth = 1;
  l->next = s->locks;
  s->locks = l;
  return 0;
}

void sto__unlock(sto_store *s, const char *rel) {
  for (sto__held **pp = &s->locks; *pp; pp = &(*pp)->next) {
    sto__held *l = *pp;
    if (strcmp(l->path, rel)) continue;
    if (--l->depth) return;
    *pp = l->next;
    if (l->fd >= 0) {
      s->io.lock(s->io.ctx, l->fd, STO_IO_UNLOCK);
      s->io.close(s->io.ctx, l->fd);
    }
    free(l->path);
    free(l);
    return;
  }
}

int sto_record_lock(sto_store *s, const char *path) { return sto__lock(s, path); }
void sto_record_unlock(sto_store *s, const char *path) { sto__unlock(s, path); }

/* ---- Writing ----------------------------------------------------------------------------------- */

/* Write bytes to a new temporary file beside the record and make them durable. On failure
 * nothing is left behind and the message says the record is unchanged. */
static int write_temp(sto_store *s, const char *rel, const paths *p, const uint8_t *b, size_t len, char *tmp) {
  int fd = -EEXIST;
  for (int tries = 0; fd == -EEXIST && tries < 4; tries++) {  /* a dead namesake's leftover */
    if (!sto__pathf(tmp, "%s/.%s.tmp.%.64s.%d.%llu", p->dir, p->base, s->host, (int)getpid(),
                    (unsigned long long)++s->tmp_seq))
      return sto__fail(s, HPVM_ERANGE, "%s: path too long", p->abs);
    fd = s->io.open(s->io.ctx, tmp, O_WRONLY | O_CREAT | O_EXCL, record_mode(rel));
  }
  if (fd == -ENOENT) return sto__fail(s, HPVM_ENOENT, "%s: no such record (its directory is missing)", p->abs);
  if (fd < 0)
    return sto__fail(s, HPVM_EIO, "%s: cannot create a temporary file: %s; the record is unchanged", p->abs, strerror(-fd));
  const char *step = "write";
  int r = sto__write_all(s, fd, b, len);
  if (!r) step = "sync", r = s->io.fsync(s->io.ctx, fd);
  int c = s->io.close(s->io.ctx, fd);
  if (!r && c < 0) step = "close", r = c;  /* NFS reports a failed write-back at close */
  if (r < 0) {
    s->io.unlink(s->io.ctx, tmp);
    const char *hint = r == -ENOSPC || r == -EDQUOT ? "free space on the shared storage and retry" : "check the storage";
    return sto__fail(s, HPVM_EIO, "%s: cannot %s the new version: %s; the record is unchanged; %s", p->abs, step,
                     strerror(-r), hint);
  }
  return 0;
}

/* Under the lock, every temporary file of this record belongs to a writer that is gone. */
static void remove_stale_temps(sto_store *s, const paths *p) {
  DIR *d = opendir(p->dir);
  if (!d) return;
  char prefix[PATH_MAX], victim[PATH_MAX];
  sto__pathf(prefix, ".%s.tmp.", p->base);
  size_t plen = strlen(prefix);
  struct dirent *e;
  while ((e = readdir(d)))
    if (!strncmp(e->d_name, prefix, plen)) {
      sto__pathf(victim, "%s/%s", p->dir, e->d_name);
      s->io.unlink(s->io.ctx, victim);
    }
  closedir(d);
}

/* Make the step to gen exclusive: the claim is a hard link of the new version. */
static int claim(sto_store *s, const paths *p, const char *tmp, uint64_t gen, char *cpath) {
  claim_path(p, gen, cpath);
  int r = s->io.link(s->io.ctx, tmp, cpath);
  if (r == -ENOENT) {
    char cdir[PATH_MAX];
    sto__pathf(cdir, "%s/.claims", p->dir);
    r = s->io.mkdir(s->io.ctx, cdir, 0755);
    if (r == 0 || r == -EEXIST) r = s->io.link(s->io.ctx, tmp, cpath);
  }
  return r;
}

int sto_record_create(sto_store *s, const char *path, uint32_t kind, const void *payload, size_t len) {
  if (len > STO_RECORD_MAX) return sto__fail(s, HPVM_ERANGE, "%s/%s: a %zu-byte record is over the %u limit", s->root, path, len, STO_RECORD_MAX);
  paths p;
  int r = split(s, path, &p);
  if (r) return r;
  uint8_t *b = encode(kind, 1, payload, len);
  if (!b) return sto__fail(s, HPVM_ENOMEM, "out of memory");
  if ((r = sto__lock(s, path))) {
    free(b);
    return r;
  }
  char tmp[PATH_MAX];
  if (!s->no_locks) remove_stale_temps(s, &p);
  r = write_temp(s, path, &p, b, STO_RECORD_HEADER_LEN + len, tmp);
  free(b);
  if (r) goto out;
  /* link() is the exclusive create: it never replaces what is there, even a damaged file. */
  int e = s->io.link(s->io.ctx, tmp, p.abs);
  s->io.unlink(s->io.ctx, tmp);
  if (e == -EEXIST) {
    r = sto__fail(s, HPVM_EEXIST, "%s already exists", p.abs);
    goto out;
  }
  if (e < 0) {
    r = sto__fail(s, HPVM_EIO, "%s: cannot create: %s", p.abs, strerror(-e));
    goto out;
  }
  e = sto__fsync_dir(s, p.dir);
  if (e < 0)
    r = sto__fail(s, HPVM_EIO, "%s: created, but the directory could not be synced: %s; the record may be lost if the "
                  "host crashes now; check the storage", p.abs, strerror(-e));
out:
  sto__unlock(s, path);
  return r;
}

int sto_record_update(sto_store *s, const char *path, uint32_t kind, uint64_t expected_gen, const void *payload,
                      size_t len, uint64_t *new_gen) {
  if (len > STO_RECORD_MAX) return sto__fail(s, HPVM_ERANGE, "%s/%s: a %zu-byte record is over the %u limit", s->root, path, len, STO_RECORD_MAX);
  paths p;
  int r = split(s, path, &p);
  if (r) return r;
  if ((r = sto__lock(s, path))) return r;
  const bool locked = !s->no_locks;
  sto_record cur;
  char tmp[PATH_MAX], cpath[PATH_MAX];
  uint8_t *b = NULL;
  if ((r = read_record(s, path, p.abs, kind, &cur))) goto out;
  sto_record_free(&cur);
  if (cur.generation != expected_gen) {
    r = sto__fail(s, HPVM_EBUSY, "%s changed since it was read (generation %llu, expected %llu); read it again and "
                  "retry", p.abs, (unsigned long long)cur.generation, (unsigned long long)expected_gen);
    goto out;
  }
  const uint64_t gen = expected_gen + 1;
  if (!(b = encode(kind, gen, payload, len))) {
    r = sto__fail(s, HPVM_ENOMEM, "out of memory");
    goto out;
  }
  if (locked) {
    remove_stale_temps(s, &p);
    claim_path(&p, gen, cpath);
    s->io.unlink(s->io.ctx, cpath);  /* a claim of a step that never happened */
  }
  if ((r = write_temp(s, path, &p, b, STO_RECORD_HEADER_LEN + len, tmp))) goto out;
  int e = claim(s, &p, tmp, gen, cpath);
  if (e < 0) {
    s->io.unlink(s->io.ctx, tmp);
    if (e == -EEXIST)
      r = sto__fail(s, HPVM_EBUSY, "%s was updated by another writer at the same time; read it again and retry", p.abs);
    else
      r = sto__fail(s, HPVM_EIO, "%s: cannot claim generation %llu (%s): %s; the record is unchanged", p.abs,
                    (unsigned long long)gen, cpath, strerror(-e));
    goto out;
  }
  e = s->io.rename(s->io.ctx, tmp, p.abs);
  if (e < 0) {
    s->io.unlink(s->io.ctx, cpath);
    s->io.unlink(s->io.ctx, tmp);
    r = sto__fail(s, HPVM_EIO, "%s: cannot replace the record: %s; the record is unchanged", p.abs, strerror(-e));
    goto out;
  }
  if (new_gen) *new_gen = gen;
  e = sto__fsync_dir(s, p.dir);
  if (e < 0) {
    r = sto__fail(s, HPVM_EIO, "%s: replaced, but the directory could not be synced: %s; the change may be lost if the "
                  "host crashes now; check the storage", p.abs, strerror(-e));
    goto out;
  }
  if (gen > CLAIM_KEEP) {
    claim_path(&p, gen - CLAIM_KEEP, cpath);
    s->io.unlink(s->io.ctx, cpath);
  }
out:
  free(b);
  sto__unlock(s, path);
  return r;
}

/* A removed record's companions: its claims, temporary files and lock file. */
static void remove_companions(sto_store *s, const paths *p) {
  char cdir[PATH_MAX], victim[PATH_MAX], prefix[PATH_MAX];
  sto__pathf(cdir, "%s/.claims", p->dir);
  sto__pathf(prefix, "%s.", p->base);
  size_t plen = strlen(prefix);
  DIR *d = opendir(cdir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)))
      if (!strncmp(e->d_name, prefix, plen)) {
        sto__pathf(victim, "%s/%s", cdir, e->d_name);
        s->io.unlink(s->io.ctx, victim);
      }
    closedir(d);
    s->io.rmdir(s->io.ctx, cdir);  /* only when no other record's claims are left */
  }
  remove_stale_temps(s, p);
  s->io.unlink(s->io.ctx, p->lock);
}

int sto_record_remove(sto_store *s, const char *path, uint64_t expected_gen, unsigned flags) {
  paths p;
  int r = split(s, path, &p);
  if (r) return r;
  if ((r = sto__lock(s, path))) return r;
  sto_record cur;
  r = read_record(s, path, p.abs, 0, &cur);
  sto_record_free(&cur);
  if (r == HPVM_ENOENT || (r && !(flags & STO_FORCE))) goto out;
  if (!r && cur.generation != expected_gen && !(flags & STO_FORCE)) {
    r = sto__fail(s, HPVM_EBUSY, "%s changed since it was read (generation %llu, expected %llu); read it again and "
                  "retry", p.abs, (unsigned long long)cur.generation, (unsigned long long)expected_gen);
    goto out;
  }
  int e = s->io.unlink(s->io.ctx, p.abs);
  if (e < 0) {
    r = sto__fail(s, sto__errno(e), "%s: cannot remove: %s", p.abs, strerror(-e));
    goto out;
  }
  e = sto__fsync_dir(s, p.dir);
  if (e < 0) {
    r = sto__fail(s, HPVM_EIO, "%s: removed, but the directory could not be synced: %s; check the storage", p.abs,
                  strerror(-e));
    goto out;
  }
  r = 0;
  remove_companions(s, &p);
out:
  sto__unlock(s, path);
  return r;
}

/* ---- Protobuf payloads ------------------------------------------------------------------------- */

int sto__pack(sto_store *s, const char *rel, const ProtobufCMessage *m, uint8_t **buf, size_t *len) {
  size_t n = protobuf_c_message_get_packed_size(m);
  if (n > STO_RECORD_MAX)
    return sto__fail(s, HPVM_ERANGE, "%s/%s: a %zu-byte record is over the %u limit", s->root, rel, n, STO_RECORD_MAX);
  *buf = malloc(n + 1);
  if (!*buf) return sto__fail(s, HPVM_ENOMEM, "out of memory");
  *len = protobuf_c_message_pack(m, *buf);
  return 0;
}

int sto_msg_read(sto_store *s, const char *path, uint32_t kind, const ProtobufCMessageDescriptor *d,
                 ProtobufCMessage **out, uint64_t *gen) {
  *out = NULL;
  sto_record rec;
  int r = sto_record_read(s, path, kind, &rec);
  if (r) return r;
  *out = protobuf_c_message_unpack(d, NULL, rec.len, rec.payload);
  sto_record_free(&rec);
  if (!*out) {
    char fix[320];
    sto__remedy(path, fix, sizeof fix);
    return sto__fail(s, HPVM_ECORRUPT, "%s/%s: the checksum is right but the payload is not a valid %s; %s", s->root,
                     path, kind_name(kind), fix);
  }
  if (gen) *gen = rec.generation;
  return 0;
}

int sto_msg_create(sto_store *s, const char *path, uint32_t kind, const ProtobufCMessage *m) {
  uint8_t *b;
  size_t n;
  int r = sto__pack(s, path, m, &b, &n);
  if (r) return r;
  r = sto_record_create(s, path, kind, b, n);
  free(b);
  return r;
}

int sto_msg_update(sto_store *s, const char *path, uint32_t kind, uint64_t expected_gen, const ProtobufCMessage *m,
                   uint64_t *new_gen) {
  uint8_t *b;
  size_t n;
  int r = sto__pack(s, path, m, &b, &n);
  if (r) return r;
  r = sto_record_update(s, path, kind, expected_gen, b, n, new_gen);
  free(b);
  return r;
}
