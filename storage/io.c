/* io.c — the I/O layer under the record store: the POSIX implementation, and a wrapper that
 * injects failures and simulates a power loss for the tests (SQLite's test VFS and
 * test_malloc are the model: fail the Nth call, once or from then on).
 *
 * The power-loss model. A real crash loses what the kernel had not made durable:
 *   - data written to a file since its last fsync (the file may come back with garbage or
 *     cut short: we garble it and cut half of it off);
 *   - directory changes (create, rename, link, unlink, mkdir) since the directory's last
 *     fsync (they may or may not survive: the caller picks, and we undo them newest first).
 * A writer that is correct (write, fsync the file, rename, fsync the directory) survives
 * both; one that renames before fsync, or forgets the directory fsync and then reports
 * success, is caught. Tracking is by inode for data (a hard link shares its dirtiness) and
 * by directory path for entries; the store always builds paths the same way from its root,
 * so comparing directory strings is enough. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* ---- POSIX --------------------------------------------------------------------------------- */

static int px_ret(int r) { return r < 0 ? -errno : r; }

static int px_open(void *ctx, const char *path, int flags, mode_t mode) {
  (void)ctx;
  int fd;
  do fd = open(path, flags | O_CLOEXEC, mode); while (fd < 0 && errno == EINTR);
  return px_ret(fd);
}
static ssize_t px_read(void *ctx, int fd, void *buf, size_t len) {
  (void)ctx;
  ssize_t r;
  do r = read(fd, buf, len); while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : r;
}
static ssize_t px_write(void *ctx, int fd, const void *buf, size_t len) {
  (void)ctx;
  ssize_t r;
  do r = write(fd, buf, len); while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : r;
}
static int px_fsync(void *ctx, int fd) { (void)ctx; return px_ret(fsync(fd)); }
static int px_close(void *ctx, int fd) { (void)ctx; return px_ret(close(fd)); }
static int px_rename(void *ctx, const char *a, const char *b) { (void)ctx; return px_ret(rename(a, b)); }
static int px_link(void *ctx, const char *a, const char *b) { (void)ctx; return px_ret(link(a, b)); }
static int px_unlink(void *ctx, const char *p) { (void)ctx; return px_ret(unlink(p)); }
static int px_mkdir(void *ctx, const char *p, mode_t m) { (void)ctx; return px_ret(mkdir(p, m)); }
static int px_rmdir(void *ctx, const char *p) { (void)ctx; return px_ret(rmdir(p)); }

/* An exclusive lock on the whole file without waiting. OFD locks belong to the open file,
 * not the process, so two stores (or threads) in one process exclude each other too; where
 * the kernel or file system lacks them (EINVAL) the classic process-owned lock is used. */
static int px_lock(void *ctx, int fd, int op) {
  (void)ctx;
  struct flock fl = {.l_type = op == STO_IO_LOCK ? F_WRLCK : F_UNLCK, .l_whence = SEEK_SET};
  int r = fcntl(fd, F_OFD_SETLK, &fl);
  if (r < 0 && errno == EINVAL) r = fcntl(fd, F_SETLK, &fl);
  if (r < 0 && (errno == EACCES || errno == EAGAIN)) return -EAGAIN;
  return px_ret(r);
}

static const sto_io posix_io = {px_open, px_read, px_write, px_fsync, px_close, px_rename,
                                px_link, px_unlink, px_mkdir, px_rmdir, px_lock, NULL};

const sto_io *sto_io_posix(void) { return &posix_io; }

/* ---- Fault injection ------------------------------------------------------------------------ */

enum { FD_MAX = 1024 };

/* A directory change not yet made durable by an fsync of its directory. */
typedef struct dirop {
  int kind;                          /* STO_OP_OPEN (a create), RENAME, LINK, UNLINK, MKDIR */
  char *dir;                         /* the directory whose fsync makes it durable */
  char *a, *b;                       /* paths: the created one in a; rename/link a -> b */
  uint8_t *old;                      /* what b (rename) or a (unlink) held before, or NULL */
  size_t oldlen;
  bool had_old;
  struct dirop *next;                /* newer first */
} dirop;

typedef struct dirty {
  dev_t dev;
  ino_t ino;
  char *dir;                         /* where it was written: the power loss looks there */
  struct dirty *next;
} dirty;

struct sto_faultio {
  sto_io io;                         /* what sto_faultio_io hands out; ctx = this */
  sto_io base;
  unsigned long calls[11];           /* per op bit */
  unsigned long counted;             /* calls among fail_mask since sto_faultio_fail */
  unsigned fail_mask;
  unsigned long fail_nth;
  int fail_err;
  bool fail_persist;
  unsigned long crash_nth, all_calls;
  bool crashed;
  unsigned long failures;
  char *fdpath[FD_MAX];              /* what each open fd names, for fsync tracking */
  dirop *ops;
  dirty *dirt;
};

static int op_index(unsigned op) {
  int i = 0;
  while (!(op & 1u)) op >>= 1, i++;
  return i;
}

/* Count the call and decide whether it fails: 0 to go on, or the -errno to return. */
static int fault_gate(sto_faultio *f, unsigned op) {
  f->calls[op_index(op)]++;
  f->all_calls++;
  if (f->crashed || (f->crash_nth && f->all_calls >= f->crash_nth)) {
    f->crashed = true;
    f->failures++;
    return -EIO;
  }
  if (f->fail_mask & op) {
    f->counted++;
    if (f->fail_nth && (f->counted == f->fail_nth || (f->fail_persist && f->counted > f->fail_nth))) {
      f->failures++;
      return -f->fail_err;
    }
  }
  return 0;
}

static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strdup(".");
  if (slash == path) return strdup("/");
  return strndup(path, (size_t)(slash - path));
}

static int slurp(const char *path, uint8_t **buf, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return -EISDIR;
  }
  *buf = malloc((size_t)st.st_size + 1);
  ssize_t r = *buf ? read(fd, *buf, (size_t)st.st_size) : -1;
  close(fd);
  if (r < 0) {
    free(*buf);
    return -EIO;
  }
  *len = (size_t)r;
  return 0;
}

static void dirop_add(sto_faultio *f, int kind, const char *a, const char *b, bool save) {
  dirop *d = calloc(1, sizeof *d);
  if (!d) return;
  d->kind = kind;
  d->a = strdup(a);
  d->b = b ? strdup(b) : NULL;
  d->dir = dir_of(b ? b : a);
  if (save) d->had_old = slurp(kind == STO_OP_UNLINK ? a : b, &d->old, &d->oldlen) == 0;
  d->next = f->ops;
  f->ops = d;
}

static void dirop_free(dirop *d) {
  free(d->dir), free(d->a), free(d->b), free(d->old), free(d);
}

static void mark_dirty(sto_faultio *f, int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) return;
  for (dirty *d = f->dirt; d; d = d->next)
    if (d->dev == st.st_dev && d->ino == st.st_ino) return;
  dirty *d = calloc(1, sizeof *d);
  if (!d) return;
  d->dev = st.st_dev, d->ino = st.st_ino, d->next = f->dirt;
  d->dir = fd < FD_MAX && f->fdpath[fd] ? dir_of(f->fdpath[fd]) : NULL;
  f->dirt = d;
}

static void mark_clean(sto_faultio *f, int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) return;
  for (dirty **p = &f->dirt; *p; p = &(*p)->next)
    if ((*p)->dev == st.st_dev && (*p)->ino == st.st_ino) {
      dirty *d = *p;
      *p = d->next;
      free(d->dir);
      free(d);
      return;
    }
}

/* fsync of a directory: its pending entries are durable now. */
static void commit_dir(sto_faultio *f, const char *dir) {
  for (dirop **p = &f->ops; *p;) {
    if (strcmp((*p)->dir, dir) == 0) {
      dirop *d = *p;
      *p = d->next;
      dirop_free(d);
    } else {
      p = &(*p)->next;
    }
  }
}

static int fi_open(void *ctx, const char *path, int flags, mode_t mode) {
  sto_faultio *f = ctx;
  int e = fault_gate(f, STO_OP_OPEN);
  if (e) return e;
  bool existed = access(path, F_OK) == 0;
  int fd = f->base.open(f->base.ctx, path, flags, mode);
  if (fd < 0) return fd;
  if (fd < FD_MAX) {
    free(f->fdpath[fd]);
    f->fdpath[fd] = strdup(path);
  }
  if ((flags & O_CREAT) && !existed) dirop_add(f, STO_OP_OPEN, path, NULL, false);
  if (flags & O_TRUNC) mark_dirty(f, fd);
  return fd;
}
static ssize_t fi_read(void *ctx, int fd, void *buf, size_t len) {
  sto_faultio *f = ctx;
  int e = fault_gate(f, STO_OP_READ);
  return e ? e : f->base.read(f->base.ctx, fd, buf, len);
}
static ssize_t fi_write(void *ctx, int fd, const void *buf, size_t len) {
  sto_faultio *f = ctx;
  int e = fault_gate(f, STO_OP_WRITE);
  if (e) return e;
  ssize_t r = f->base.write(f->base.ctx, fd, buf, len);
  if (r > 0) mark_dirty(f, fd);
  return r;
}
static int fi_fsync(void *ctx, int fd) {
  sto_faultio *f = ctx;
  int e = fault_gate(f, STO_OP_FSYNC);
  if (e) return e;
  int r = f->base.fsync(f->base.ctx, fd);
  if (r == 0) {
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
      if (fd < FD_MAX && f->fdpath[fd]) commit_dir(f, f->fdpath[fd]);
    } else {
      mark_clean(f, fd);
    }
  }
  return r;
}
static int fi_close(void *ctx, int fd) {
  sto_faultio *f = ctx;
  int e = fault_gate(f, STO_OP_CLOSE);
  if (fd >= 0 && fd < FD_MAX) {
    free(f->fdpath[fd]);
    f->fdpath[fd] = NULL;
  }
  /* A "dead" process's descriptors are still closed: the kernel closes them at exit. */
  int r = f->base.close(f->base.ctx, fd);
  return e ? e : r;
}
static int fi_rename(void *ctx, const char *a, const char *b) {
  sto_faultio *f = ctx;
  int e = fault_gate(f, STO_OP_RENAME);
  if (e) return e;
  dirop_add(f, STO_OP_RENAME, a, b, true);
  int r = f->base.rename(f->base.ctx, a, b);
  if (r < 0) {
    dirop *d = f->ops;
    f->ops = d->next;
    dirop_free(d);
  }
  return r;
}
static int fi_link(void *ctx, const char *a, const char *b) {
  sto_faultio *f = ctx;
  int e = fault_gate(f, STO_OP_LINK);
  if (e) return e;
  int r = f->base.link(f->base.ctx, a, b);
  if (r == 0) dirop_add(f, STO_OP_LINK, a, b, false);
  return r;
}
static int fi_unlink(void *ctx, const char *p) {
  sto_faultio *f = ctx;
  int e = fault_gate(f, STO_OP_UNLINK);
  if (e) return e;
  dirop_add(f, STO_OP_UNLINK, p, NULL, true);
  int r = f->base.unlink(f->base.ctx, p);
  if (r < 0) {
    dirop *d = f->ops;
    f->ops = d->next;
    dirop_free(d);
  }
  return r;
}
static int fi_mkdir(void *ctx, const char *p, mode_t m) {
  sto_faultio *f = ctx;
  int e = fault_gate(f, STO_OP_MKDIR);
  if (e) return e;
  int r = f->base.mkdir(f->base.ctx, p, m);
  if (r == 0) dirop_add(f, STO_OP_MKDIR, p, NULL, false);
  return r;
}
static int fi_rmdir(void *ctx, const char *p) {
  sto_faultio *f = ctx;
  int e = fault_gate(f, STO_OP_RMDIR);
  return e ? e : f->base.rmdir(f->base.ctx, p);
}
static int fi_lock(void *ctx, int fd, int op) {
  sto_faultio *f = ctx;
  /* An unlock always happens (a dead process's locks are dropped with its files). */
  int e = fault_gate(f, STO_OP_LOCK);
  if (e && op == STO_IO_LOCK) return e;
  return f->base.lock(f->base.ctx, fd, op);
}

sto_faultio *sto_faultio_new(const sto_io *base) {
  sto_faultio *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->base = base ? *base : *sto_io_posix();
  f->io = (sto_io){fi_open, fi_read, fi_write, fi_fsync, fi_close, fi_rename,
                   fi_link, fi_unlink, fi_mkdir, fi_rmdir, fi_lock, f};
  return f;
}

static void forget(sto_faultio *f) {
  while (f->ops) {
    dirop *d = f->ops;
    f->ops = d->next;
    dirop_free(d);
  }
  while (f->dirt) {
    dirty *d = f->dirt;
    f->dirt = d->next;
    free(d->dir);
    free(d);
  }
}

void sto_faultio_reset(sto_faultio *f) {
  forget(f);
  memset(f->calls, 0, sizeof f->calls);
  f->counted = f->fail_nth = f->crash_nth = f->all_calls = f->failures = 0;
  f->fail_mask = 0;
  f->fail_persist = f->crashed = false;
}

void sto_faultio_free(sto_faultio *f) {
  if (!f) return;
  forget(f);
  for (int i = 0; i < FD_MAX; i++) free(f->fdpath[i]);
  free(f);
}

const sto_io *sto_faultio_io(sto_faultio *f) { return &f->io; }

void sto_faultio_fail(sto_faultio *f, unsigned mask, unsigned long nth, int err, bool persist) {
  f->fail_mask = mask, f->fail_nth = nth, f->fail_err = err, f->fail_persist = persist;
  f->counted = 0;
}

void sto_faultio_crash(sto_faultio *f, unsigned long nth) {
  f->crash_nth = nth ? f->all_calls + nth : 0;
}

unsigned long sto_faultio_calls(const sto_faultio *f, unsigned mask) {
  unsigned long n = 0;
  for (int i = 0; i < 11; i++)
    if (mask & (1u << i)) n += f->calls[i];
  return n;
}
unsigned long sto_faultio_failures(const sto_faultio *f) { return f->failures; }
bool sto_faultio_crashed(const sto_faultio *f) { return f->crashed; }

static int put_file(const char *path, const uint8_t *buf, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -errno;
  ssize_t r = len ? write(fd, buf, len) : 0;
  close(fd);
  return r == (ssize_t)len ? 0 : -EIO;
}

static int remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : -errno;
  if (!S_ISDIR(st.st_mode)) return unlink(path) < 0 ? -errno : 0;
  DIR *d = opendir(path);
  if (!d) return -errno;
  struct dirent *e;
  char sub[PATH_MAX];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
    remove_tree(sub);
  }
  closedir(d);
  return rmdir(path) < 0 ? -errno : 0;
}

/* Undo one directory change, as if the power went before it reached the disk. */
static void undo(const dirop *d) {
  uint8_t *cur = NULL;
  size_t curlen = 0;
  switch (d->kind) {
  case STO_OP_OPEN:
    unlink(d->a);
    break;
  case STO_OP_MKDIR:
    remove_tree(d->a);
    break;
  case STO_OP_LINK:
    unlink(d->b);
    break;
  case STO_OP_UNLINK:
    if (d->had_old) put_file(d->a, d->old, d->oldlen);
    break;
  case STO_OP_RENAME:
    /* The source name comes back with what was moved; the target gets its old content. */
    if (slurp(d->b, &cur, &curlen) == 0) {
      put_file(d->a, cur, curlen);
      free(cur);
    }
    if (d->had_old) put_file(d->b, d->old, d->oldlen);
    else unlink(d->b);
    break;
  }
}

/* Garble every file under dir whose inode has unsynced writes. */
static void garble_tree(sto_faultio *f, const char *dir, unsigned *seed) {
  DIR *dh = opendir(dir);
  if (!dh) return;
  struct dirent *e;
  char sub[PATH_MAX];
  while ((e = readdir(dh))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(sub, &st) < 0) continue;
    if (S_ISDIR(st.st_mode)) {
      garble_tree(f, sub, seed);
      continue;
    }
    for (dirty *d = f->dirt; d; d = d->next) {
      if (d->dev != st.st_dev || d->ino != st.st_ino) continue;
      size_t len = (size_t)st.st_size / 2;
      uint8_t *junk = malloc(len + 1);
      if (!junk) break;
      for (size_t i = 0; i < len; i++) junk[i] = (uint8_t)(rand_r(seed) >> 7);
      put_file(sub, junk, len);
      free(junk);
      break;
    }
  }
  closedir(dh);
}

int sto_faultio_powerloss(sto_faultio *f, bool revert_dir_ops) {
  /* Files first (their paths are the ones on disk now), then the directory entries. */
  unsigned seed = 12345;
  /* Each dirty file is looked for in the directory it was written in (and below it: a hard
   * link in a subdirectory shares the inode); a rename elsewhere is the caller's problem. */
  for (dirty *d = f->dirt; d; d = d->next)
    if (d->dir) garble_tree(f, d->dir, &seed);
  if (revert_dir_ops)
    for (dirop *d = f->ops; d; d = d->next) undo(d);
  sto_faultio_reset(f);
  return 0;
}
