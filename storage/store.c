/* store.c — opening a shared directory, the layout inside it, names, and the small helpers
 * every other file of storage/ uses: error sentences, paths relative to the root, clocks,
 * uuids, durable mkdir. The layout and the reasons for it are in docs/design/storage.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* ---- Errors --------------------------------------------------------------------------------- */

int sto__fail(sto_store *s, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->msg, sizeof s->msg, fmt, ap);
  va_end(ap);
  return err;
}

int sto__errno(int neg_errno) {
  switch (-neg_errno) {
  case ENOENT: case ENOTDIR: return HPVM_ENOENT;
  case EEXIST: case ENOTEMPTY: return HPVM_EEXIST;
  case ENOMEM: return HPVM_ENOMEM;
  case EAGAIN: return HPVM_EBUSY;
  default: return HPVM_EIO;
  }
}

const char *sto_error(const sto_store *s) { return s ? s->msg : "out of memory"; }
const char *sto_root(const sto_store *s) { return s->root; }
const char *sto_host(const sto_store *s) { return s->host; }

/* ---- Paths, clocks, ids ------------------------------------------------------------------- */

bool sto__pathf(char *buf, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, PATH_MAX, fmt, ap);
  va_end(ap);
  if (n >= 0 && n < PATH_MAX) return true;
  buf[0] = '\0';
  return false;
}

int sto__abs(sto_store *s, const char *rel, char *buf) {
  int n = snprintf(buf, PATH_MAX, "%s/%s", s->root, rel);
  if (n < 0 || n >= PATH_MAX) return sto__fail(s, HPVM_ERANGE, "%s/%s: path too long", s->root, rel);
  return 0;
}

int sto__check_rel(sto_store *s, const char *rel) {
  if (!rel || !*rel || rel[0] == '/') return sto__fail(s, HPVM_EINVAL, "record path \"%s\" must be relative to %s", rel ? rel : "", s->root);
  for (const char *p = rel; *p;) {
    const char *e = strchrnul(p, '/');
    size_t n = (size_t)(e - p);
    if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') || (*e && !e[1]))
      return sto__fail(s, HPVM_EINVAL, "record path \"%s\" has an empty, \".\" or \"..\" part", rel);
    p = *e ? e + 1 : e;
  }
  return 0;
}

static uint64_t sys_mono(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static int64_t sys_wall(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
uint64_t sto__mono(sto_store *s) { return s->clock.mono_ns(s->clock.ctx); }
int64_t sto__wall(sto_store *s) { return s->clock.wall_ns(s->clock.ctx); }

/* A random (version 4) uuid, as text. */
void sto__uuid(char out[37]) {
  uint8_t b[16];
  if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
    /* Never expected on Linux; the time and pid still make a clash most unlikely. */
    uint64_t t = sys_mono(NULL) ^ (uint64_t)sys_wall(NULL) ^ (uint64_t)getpid() << 32;
    for (int i = 0; i < 16; i++) b[i] = (uint8_t)(t >> (i % 8 * 8)) ^ (uint8_t)(i * 37);
  }
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
           b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

int sto__write_all(sto_store *s, int fd, const void *buf, size_t len) {
  const uint8_t *p = buf;
  while (len) {
    ssize_t r = s->io.write(s->io.ctx, fd, p, len);
    if (r < 0) return (int)r;
    if (r == 0) return -EIO;
    p += r, len -= (size_t)r;
  }
  return 0;
}

int sto__fsync_dir(sto_store *s, const char *abs_dir) {
  int fd = s->io.open(s->io.ctx, abs_dir, O_RDONLY | O_DIRECTORY, 0);
  if (fd < 0) return fd;
  int r = s->io.fsync(s->io.ctx, fd);
  int c = s->io.close(s->io.ctx, fd);
  return r < 0 ? r : c;
}

int sto__mkdir_durable(sto_store *s, const char *rel, mode_t mode) {
  char path[PATH_MAX];
  int r = sto__abs(s, rel, path);
  if (r) return r;
  r = s->io.mkdir(s->io.ctx, path, mode);
  if (r == -EEXIST) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    return sto__fail(s, HPVM_EIO, "%s exists and is not a directory; move it away", path);
  }
  if (r < 0) return sto__fail(s, sto__errno(r), "%s: cannot create the directory: %s", path, strerror(-r));
  char *slash = strrchr(path, '/');
  *slash = '\0';
  r = sto__fsync_dir(s, path);
  if (r < 0) return sto__fail(s, HPVM_EIO, "%s: cannot sync the directory: %s", path, strerror(-r));
  return 0;
}

/* ---- Names -------------------------------------------------------------------------------- */

static int name_check(const char *what, const char *name, char *why, size_t whylen) {
  char dummy[1];
  if (!why) why = dummy, whylen = sizeof dummy;
  if (!name || !*name) return snprintf(why, whylen, "the %s name is empty", what), HPVM_EINVAL;
  size_t n = strlen(name);
  if (n > STO_NAME_MAX)
    return snprintf(why, whylen, "the %s name is %zu characters long; at most %d are allowed", what, n,
                    STO_NAME_MAX), HPVM_EINVAL;
  if (name[0] == '-' || name[0] == '.')
    return snprintf(why, whylen, "the %s name \"%s\" starts with '%c'; start it with a letter, digit or '_'",
                    what, name, name[0]), HPVM_EINVAL;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)name[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
        c == '.')
      continue;
    if (c >= 0x20 && c < 0x7f)
      snprintf(why, whylen, "the %s name \"%s\" has '%c' at position %zu; use letters, digits, '_', '-' and '.'",
               what, name, c, i + 1);
    else
      snprintf(why, whylen, "the %s name has the byte 0x%02x at position %zu; use letters, digits, '_', '-' and '.'",
               what, c, i + 1);
    return HPVM_EINVAL;
  }
  return 0;
}

int sto_vm_name_check(const char *name, char *why, size_t whylen) { return name_check("VM", name, why, whylen); }
int sto_host_name_check(const char *name, char *why, size_t whylen) { return name_check("host", name, why, whylen); }

/* ---- Open, close, layout ------------------------------------------------------------------ */

static const sto_clock system_clock = {sys_mono, sys_wall, NULL};

int sto_open(const sto_options *o, sto_store **out) {
  sto_store *s = calloc(1, sizeof *s);
  *out = s;
  if (!s) return HPVM_ENOMEM;
  s->io = o->io ? *o->io : *sto_io_posix();
  s->clock = o->clock ? *o->clock : system_clock;
  s->no_locks = o->no_locks;
  s->lock_timeout_ms = o->lock_timeout_ms ? o->lock_timeout_ms : 30000;
  /* Temporary names carry host, pid and this sequence; starting it at a random point keeps a
   * new process from meeting the leftovers of a dead one that had the same pid. */
  uint32_t seed;
  if (getrandom(&seed, sizeof seed, 0) == (ssize_t)sizeof seed) s->tmp_seq = (uint64_t)seed << 16;
  if (!o->root || !*o->root) return sto__fail(s, HPVM_EINVAL, "no shared directory given; pass --shared DIR");
  size_t n = strlen(o->root);
  while (n > 1 && o->root[n - 1] == '/') n--;
  s->root = strndup(o->root, n);
  if (!s->root) return sto__fail(s, HPVM_ENOMEM, "out of memory");
  struct stat st;
  if (stat(s->root, &st) < 0)
    return sto__fail(s, HPVM_ENOENT, "%s: %s; create the shared directory (or mount it) first", s->root, strerror(errno));
  if (!S_ISDIR(st.st_mode)) return sto__fail(s, HPVM_ENOENT, "%s is not a directory", s->root);
  char why[512];
  if (o->host) {
    if (sto_host_name_check(o->host, why, sizeof why)) return sto__fail(s, HPVM_EINVAL, "%s", why);
    snprintf(s->host, sizeof s->host, "%s", o->host);
  } else {
    if (gethostname(s->host, sizeof s->host - 1) < 0) snprintf(s->host, sizeof s->host, "localhost");
    char *dot = strchr(s->host, '.');  /* the short name, as HPVM shows hosts */
    if (dot && dot != s->host) *dot = '\0';
    if (sto_host_name_check(s->host, why, sizeof why))
      return sto__fail(s, HPVM_EINVAL, "this host's name cannot be used: %s; give one with --name", why);
  }
  return 0;
}

void sto_close(sto_store *s) {
  if (!s) return;
  while (s->locks) {
    sto__held *l = s->locks;
    s->locks = l->next;
    if (l->fd >= 0) s->io.close(s->io.ctx, l->fd);
    free(l->path);
    free(l);
  }
  free(s->root);
  free(s);
}

int sto_layout_init(sto_store *s) {
  static const struct { const char *dir; mode_t mode; } dirs[] = {
    {"cluster", 0700}, {"hosts", 0755}, {"vms", 0755}, {"log", 0755},
  };
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    int r = sto__mkdir_durable(s, dirs[i].dir, dirs[i].mode);
    if (r) return r;
  }
  return 0;
}
