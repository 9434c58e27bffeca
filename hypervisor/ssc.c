/* ssc.c — the hypercalls, compatible with HP's Ski simulator ("SSC": simulator system calls):
 * `break 0x80001` at cpl 0 with the call number in r15, arguments in r32-r35, result in r8
 * (docs/platform.md "Hypercalls"). A break 0x80001 at cpl 1-3 is an ordinary Break fault
 * for the guest kernel: user programs of a guest cannot reach the platform.
 *
 * Addresses in arguments are guest-physical; every buffer is checked to lie in RAM before it
 * is touched, and memory the call writes goes through vm_mem_write (dirty log, code
 * coherence). The disk calls work on the same backing files as the avio_stor devices and,
 * like Ski's, do the transfer at once and queue a completion for GET_COMPLETION. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "vm_internal.h"

enum {
  SSC_CONSOLE_INIT = 20, SSC_GETCHAR = 21, SSC_PUTCHAR = 31, SSC_OPEN = 50, SSC_CLOSE = 51,
  SSC_READ = 52, SSC_WRITE = 53, SSC_GET_COMPLETION = 54, SSC_WAIT_COMPLETION = 55,
  SSC_GET_RTC = 65, SSC_EXIT = 66, SSC_GET_TOD = 74, SSC_GET_ARGS = 75,
  SSC_SAL_SET_VECTORS = 120, SSC_HALT_LIGHT = 201,
};

#define SSC_MAX_FILES VM_SSC_MAX_FILES
#define SSC_MAX_COMPLETIONS VM_SSC_MAX_COMPLETIONS
#define SSC_MAX_DESCS 1024
#define SSC_MAX_PATH 4096

struct vm_ssc_state {
  struct { int disk; unsigned mode; bool used; } file[SSC_MAX_FILES];
  struct { uint32_t fd, count; } comp[SSC_MAX_COMPLETIONS];
  unsigned comp_head, ncomp;
};

int vm_ssc_init(vm *v) {
  v->ssc = calloc(1, sizeof *v->ssc);
  return v->ssc ? 0 : HPVM_ENOMEM;
}

void vm_ssc_free(vm *v) {
  free(v->ssc);
  v->ssc = NULL;
}

void vm_ssc_get_state(vm *v, vm_ssc_saved *out) {
  pthread_mutex_lock(&v->ssc_lock);
  struct vm_ssc_state *s = v->ssc;
  for (unsigned f = 0; f < SSC_MAX_FILES; f++) {
    out->file[f].disk = s->file[f].disk;
    out->file[f].mode = s->file[f].mode;
    out->file[f].used = s->file[f].used;
  }
  out->ncomp = s->ncomp;
  for (unsigned i = 0; i < s->ncomp; i++) {
    unsigned at = (s->comp_head + i) % SSC_MAX_COMPLETIONS;
    out->comp[i].fd = s->comp[at].fd;
    out->comp[i].count = s->comp[at].count;
  }
  pthread_mutex_unlock(&v->ssc_lock);
}

void vm_ssc_set_state(vm *v, const vm_ssc_saved *st) {
  pthread_mutex_lock(&v->ssc_lock);
  struct vm_ssc_state *s = v->ssc;
  for (unsigned f = 0; f < SSC_MAX_FILES; f++) {
    s->file[f].disk = st->file[f].disk;
    s->file[f].mode = st->file[f].mode;
    s->file[f].used = st->file[f].used;
  }
  s->comp_head = 0;
  s->ncomp = st->ncomp <= SSC_MAX_COMPLETIONS ? st->ncomp : SSC_MAX_COMPLETIONS;
  for (unsigned i = 0; i < s->ncomp; i++) s->comp[i].fd = st->comp[i].fd, s->comp[i].count = st->comp[i].count;
  pthread_mutex_unlock(&v->ssc_lock);
}

/* ---- Disk calls -------------------------------------------------------------------------------- */

static int64_t ssc_open(vm *v, uint64_t path_gpa, uint64_t mode) {
  char path[SSC_MAX_PATH];
  size_t i = 0;
  for (; i < sizeof path; i++) {
    const uint8_t *p = vm_mem_ptr(v, path_gpa + i, 1);
    if (!p) return -1;
    if (!(path[i] = (char)*p)) break;
  }
  if (i == sizeof path || mode < 1 || mode > 3) return -1;
  int disk = -1;
  for (unsigned d = 0; d < v->ndisks && disk < 0; d++) {
    char alias[16];
    snprintf(alias, sizeof alias, "disk%u", d);
    if (!strcmp(path, alias) || !strcmp(path, vm_stor_path(v, d))) disk = (int)d;
  }
  if (disk < 0) return -1;
  pthread_mutex_lock(&v->ssc_lock);
  int64_t fd = -1;
  for (unsigned f = 0; f < SSC_MAX_FILES && fd < 0; f++)
    if (!v->ssc->file[f].used) {
      v->ssc->file[f].used = true;
      v->ssc->file[f].disk = disk;
      v->ssc->file[f].mode = (unsigned)mode;
      fd = f;
    }
  pthread_mutex_unlock(&v->ssc_lock);
  return fd;
}

static int64_t ssc_close(vm *v, uint64_t fd) {
  pthread_mutex_lock(&v->ssc_lock);
  int64_t rc = -1;
  if (fd < SSC_MAX_FILES && v->ssc->file[fd].used) v->ssc->file[fd].used = false, rc = 0;
  pthread_mutex_unlock(&v->ssc_lock);
  return rc;
}

/* The host fd for an SSC fd opened with `need` (1 read, 2 write), or -1. */
static int file_fd(vm *v, uint64_t fd, unsigned need) {
  pthread_mutex_lock(&v->ssc_lock);
  int h = -1;
  if (fd < SSC_MAX_FILES && v->ssc->file[fd].used && (v->ssc->file[fd].mode & need))
    h = vm_stor_fd(v, (unsigned)v->ssc->file[fd].disk);
  pthread_mutex_unlock(&v->ssc_lock);
  return h;
}

static void complete(vm *v, uint32_t fd, uint32_t count) {
  pthread_mutex_lock(&v->ssc_lock);
  struct vm_ssc_state *s = v->ssc;
  if (s->ncomp < SSC_MAX_COMPLETIONS) {
    unsigned at = (s->comp_head + s->ncomp++) % SSC_MAX_COMPLETIONS;
    s->comp[at].fd = fd;
    s->comp[at].count = count;
  }
  pthread_mutex_unlock(&v->ssc_lock);
}

static int64_t ssc_rw(vm *v, bool write, uint64_t fd, uint64_t ndesc, uint64_t desc_gpa, uint64_t off) {
  int h = file_fd(v, fd, write ? 2 : 1);
  if (h < 0 || ndesc > SSC_MAX_DESCS || !vm_is_ram(v, desc_gpa, ndesc * 16)) return -1;
  uint64_t total = 0;
  for (uint64_t i = 0; i < ndesc; i++) {
    uint64_t addr;
    uint32_t len;
    vm_mem_read(v, desc_gpa + i * 16, &addr, 8);
    vm_mem_read(v, desc_gpa + i * 16 + 8, &len, 4);
    uint8_t *p = vm_mem_ptr(v, addr, len);
    if (!p || off > (uint64_t)INT64_MAX - len) break;
    ssize_t r = write ? pwrite(h, p, len, (off_t)off) : pread(h, p, len, (off_t)off);
    if (r < 0) break;
    if (!write) {
      if ((size_t)r < len) memset(p + r, 0, len - (size_t)r);   /* past the end reads zeros */
      vm_mem_written(v, addr, len);
    }
    total += len;
    off += len;
  }
  complete(v, (uint32_t)fd, (uint32_t)total);
  return 0;
}

static int64_t ssc_get_completion(vm *v, uint64_t gpa) {
  pthread_mutex_lock(&v->ssc_lock);
  struct vm_ssc_state *s = v->ssc;
  int64_t rc = -1;
  if (s->ncomp && vm_is_ram(v, gpa, 8)) {
    uint32_t rec[2] = {s->comp[s->comp_head].fd, s->comp[s->comp_head].count};
    s->comp_head = (s->comp_head + 1) % SSC_MAX_COMPLETIONS;
    s->ncomp--;
    vm_mem_write(v, gpa, rec, sizeof rec);
    rc = 0;
  }
  pthread_mutex_unlock(&v->ssc_lock);
  return rc;
}

/* ---- Time and arguments ------------------------------------------------------------------------ */

static int64_t ssc_get_rtc(vm *v, uint64_t gpa) {
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  int32_t b[8] = {tm.tm_sec, tm.tm_min, tm.tm_hour, tm.tm_mday, tm.tm_mon, tm.tm_year, tm.tm_wday, tm.tm_yday};
  return vm_mem_write(v, gpa, b, sizeof b) ? -1 : 0;
}

static int64_t ssc_get_tod(vm *v, uint64_t gpa) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  uint64_t b[2] = {(uint64_t)tv.tv_sec, (uint64_t)tv.tv_usec};
  return vm_mem_write(v, gpa, b, sizeof b) ? -1 : 0;
}

static int64_t ssc_get_args(vm *v, uint64_t gpa, uint64_t size) {
  size_t cl = strlen(v->cmdline);
  size_t n = cl < size ? cl : (size_t)size;
  if (vm_mem_write(v, gpa, v->cmdline, n)) return -1;
  if (n < size) vm_mem_write(v, gpa + n, "", 1);
  return (int64_t)n;
}

/* ---- Dispatch ---------------------------------------------------------------------------------- */

void vm_ssc(vm_vcpu *vc) {
  ia64_cpu *c = &vc->cpu;
  vm *v = vc->vm;
  bool nat;
  uint64_t nr = ia64_gr_read(c, 15, &nat), a[4];
  for (unsigned i = 0; i < 4; i++) a[i] = ia64_gr_read(c, 32 + i, &nat);
  int64_t r8 = 0;
  bool set_r8 = true;
  switch (nr) {
  case SSC_CONSOLE_INIT: break;
  case SSC_GETCHAR: {
    int ch = vm_console_getc(v);
    r8 = ch < 0 ? 0 : ch;
    break;
  }
  case SSC_PUTCHAR: vm_console_putc(v, (int)(a[0] & 0xff)), set_r8 = false; break;
  case SSC_OPEN: r8 = ssc_open(v, a[0], a[1]); break;
  case SSC_CLOSE: r8 = ssc_close(v, a[0]); break;
  case SSC_READ: r8 = ssc_rw(v, false, a[0], a[1], a[2], a[3]); break;
  case SSC_WRITE: r8 = ssc_rw(v, true, a[0], a[1], a[2], a[3]); break;
  case SSC_GET_COMPLETION: r8 = ssc_get_completion(v, a[0]); break;
  case SSC_WAIT_COMPLETION: break;                  /* transfers complete at once */
  case SSC_GET_RTC: r8 = ssc_get_rtc(v, a[0]); break;
  case SSC_GET_TOD: r8 = ssc_get_tod(v, a[0]); break;
  case SSC_GET_ARGS: r8 = ssc_get_args(v, a[0], a[1]); break;
  case SSC_EXIT:
    vm_console_flush(v);
    vm_power_off(v, (int)a[0]);
    set_r8 = false;
    break;
  case SSC_SAL_SET_VECTORS:
    if (a[0] == 2) {
      pthread_mutex_lock(&v->lock);
      v->sal_entry = a[1];
      v->sal_gp = a[2];
      v->sal_set = true;
      pthread_mutex_unlock(&v->lock);
    }
    break;
  case SSC_HALT_LIGHT:
    vm_console_flush(v);
    vm_vcpu_halt(vc);
    break;
  default: r8 = -1; break;
  }
  if (set_r8) ia64_gr_write(c, 8, (uint64_t)r8, false);
  /* The break is a fault: continue after it. */
  if (++c->ri > 2) c->ri = 0, c->ip += 16;
}
