/* syscall.c — the Linux ia64 system call layer: what break 0x100000 does in a user program.
 *
 * Entry, as arch/ia64/kernel/ivt.S (break_fault, ia64_syscall_setup) does it: the number is
 * r15 (1024 + the syscall.tbl number). The kernel runs on the user's frame (no cover) and
 * reaches the arguments with `br.call` + `alloc r19=ar.pfs,8,0,0,0`: its in0..in7 are the
 * user frame's out0..out7, i.e. the 8 physical stacked registers from bof + CFM.sol on,
 * whatever sof is and without rotation (the call's frame has rrb = 0). An argument register
 * that is NaT reads as -1 and is set to -1. A frame with more than 8 outputs (sof > sol + 8)
 * or a NaT r15 gets EINVAL without the call being made.
 * The break is a fault, so the kernel moves ip/ri past it (ri + 1, or the next bundle after
 * slot 2) before returning.
 *
 * Return (entry.S, ia64_ret_from_syscall / ia64_leave_syscall): r8 = the result and r10 = 0,
 * or r8 = errno and r10 = -1. A negative result is an error, except for the calls that
 * force success (mmap, mmap2, brk: their results are addresses, which may be "negative" in
 * regions 4 and up); those fail only with -4095..-1. The exit path also leaves scratch
 * registers as ia64_leave_syscall documents: r2, r16, r17, r19, r22, f6-f11, ar.ccv, ar.csd,
 * ar.ssd are cleared; r3 = 1; r14 and b7 = __kernel_syscall_via_epc (0 here: no gate page);
 * r18 = b6, r20 = ar.fpsr, r21 = b0, r23 = ar.bspstore, r24 = ar.rnat, r25 = ar.unat,
 * r26 = ar.pfs, r27 = ar.rsc, r28 = ip, r29 = psr, r30 = CFM, r31 = pr. r9 and r11 and the
 * preserved registers keep their values; the output registers are left as they were.
 *
 * The calls are rows of one table (number, name, argument count, flags, handler); anything
 * not in it returns ENOSYS, and with --trace every call is logged with its arguments and
 * result. Guest file descriptors are the host's; guest memory is reached through the
 * address space (aspace.c), with the permissions the program sees (EFAULT otherwise).
 * Choices where a user-mode runner cannot be the kernel: no descriptor is a terminal
 * (ioctl says ENOTTY); signal actions and the mask are recorded but never delivered (a
 * signal the program sends itself ends it unless ignored or blocked; SIGPIPE follows the
 * program's SIG_DFL/SIG_IGN on the host); MAP_SHARED file mappings are read-only snapshots
 * (writable ones are refused with ENODEV); there is one thread (gettid = getpid, no clone);
 * resource limits cannot be changed (prlimit64 with new limits: EPERM). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "ia64run.h"

#define BOUNCE_MAX (1u << 20)     /* reads/writes that span mappings go through this much */
#define IR_UIO_MAXIOV 1024
#define IR_SHMLBA (1ull << 20)    /* shared mappings are 1 MiB aligned on 64-bit ia64 */

/* The guest's mmap ABI (ia64 uses the asm-generic values). Open, fcntl and at-flags, errno
 * and signal numbers are the asm-generic ones too, as on the x86-64 host: they pass through. */
enum {
  G_PROT_READ = 1, G_PROT_WRITE = 2, G_PROT_EXEC = 4, G_PROT_GROWSDOWN = 0x01000000,
  G_PROT_GROWSUP = 0x02000000,
  G_MAP_SHARED = 1, G_MAP_PRIVATE = 2, G_MAP_SHARED_VALIDATE = 3, G_MAP_TYPE = 0xf,
  G_MAP_FIXED = 0x10, G_MAP_ANONYMOUS = 0x20, G_MAP_FIXED_NOREPLACE = 0x100000,
  G_MADV_DONTNEED = 4, G_MADV_FREE = 8,
};

typedef int64_t (*sys_fn)(ir_process *p, const uint64_t *a);

enum { SYS_FORCE_OK = 1 };        /* force_successful_syscall_return() for non-error results */

typedef struct sys_desc {
  uint16_t nr;
  const char *name;
  uint8_t nargs;
  uint8_t path_arg;               /* 1-based index of a path argument, for --trace */
  uint8_t flags;
  sys_fn fn;
} sys_desc;

/* ---- Guest memory ------------------------------------------------------------------------------ */

static int copy_in(ir_process *p, uint64_t va, void *buf, size_t len) {
  return len && ia64_read_mem(&p->cpu, va, buf, len) ? -EFAULT : 0;
}

static int copy_out(ir_process *p, uint64_t va, const void *buf, size_t len) {
  return len && ia64_write_mem(&p->cpu, va, buf, len) ? -EFAULT : 0;
}

/* Host memory behind [va, va+len) when one mapping with the access covers it all. */
static uint8_t *span(ir_process *p, uint64_t va, uint64_t len, unsigned acc) {
  const ir_region *r = ir_as_find(&p->as, va);
  if (!r || !(r->perms & acc) || len > r->end - va) return NULL;
  return r->host + (va - r->start);
}

/* After the host wrote guest memory directly: drop code decoded from those pages. */
static void wrote(ir_process *p, const uint8_t *h, uint64_t len) {
  if (!len) return;
  uintptr_t a = (uintptr_t)h & ~(uintptr_t)(IA64_PAGE_SIZE - 1), end = (uintptr_t)h + len;
  for (; a < end; a += IA64_PAGE_SIZE) ia64_code_invalidate(&p->cpu, (const uint8_t *)a);
}

/* A NUL-terminated string argument; /proc/self/exe means the program (*self says so). */
static int get_path_self(ir_process *p, uint64_t va, char *buf, size_t n, bool *self) {
  for (size_t i = 0; i < n; i++) {
    if (copy_in(p, va + i, &buf[i], 1)) return -EFAULT;
    if (buf[i]) continue;
    bool is_exe = !strcmp(buf, "/proc/self/exe");
    if (is_exe) {
      size_t k = strlen(p->exe);
      if (k >= n) return -ENAMETOOLONG;
      memcpy(buf, p->exe, k + 1);
    }
    if (self) *self = is_exe;
    return 0;
  }
  return -ENAMETOOLONG;
}

static int get_path(ir_process *p, uint64_t va, char *buf, size_t n) {
  return get_path_self(p, va, buf, n, NULL);
}

static int64_t err(int64_t rc) { return rc < 0 ? -errno : rc; }

/* ---- Process, identity ---------------------------------------------------------------------- */

static void do_exit(ir_process *p, uint64_t status) {
  if (p->clear_child_tid) {            /* mm_release(): *clear_child_tid = 0 (and a futex wake) */
    uint32_t zero = 0;
    copy_out(p, p->clear_child_tid, &zero, 4);
  }
  p->exit_status = (int)(status & 0xff);
  p->exited = true;
}

static int64_t sys_exit(ir_process *p, const uint64_t *a) { do_exit(p, a[0]); return 0; }
static int64_t sys_exit_group(ir_process *p, const uint64_t *a) { do_exit(p, a[0]); return 0; }
static int64_t sys_getpid(ir_process *p, const uint64_t *a) { (void)p, (void)a; return getpid(); }
static int64_t sys_getppid(ir_process *p, const uint64_t *a) { (void)p, (void)a; return getppid(); }
static int64_t sys_getuid(ir_process *p, const uint64_t *a) { (void)p, (void)a; return getuid(); }
static int64_t sys_geteuid(ir_process *p, const uint64_t *a) { (void)p, (void)a; return geteuid(); }
static int64_t sys_getgid(ir_process *p, const uint64_t *a) { (void)p, (void)a; return getgid(); }
static int64_t sys_getegid(ir_process *p, const uint64_t *a) { (void)p, (void)a; return getegid(); }
static int64_t sys_gettid(ir_process *p, const uint64_t *a) { (void)p, (void)a; return getpid(); }

static int64_t sys_set_tid_address(ir_process *p, const uint64_t *a) {
  p->clear_child_tid = a[0];
  return getpid();
}

static int64_t sys_set_robust_list(ir_process *p, const uint64_t *a) {
  (void)p;
  return a[1] == 24 ? 0 : -EINVAL;    /* sizeof(struct robust_list_head) */
}

static int64_t sys_uname(ir_process *p, const uint64_t *a) {
  struct utsname u;
  if (uname(&u)) return -errno;
  char buf[6][65];
  memset(buf, 0, sizeof buf);
  snprintf(buf[0], 65, "%s", u.sysname);
  snprintf(buf[1], 65, "%s", u.nodename);
  snprintf(buf[2], 65, "%s", u.release);
  snprintf(buf[3], 65, "%s", u.version);
  snprintf(buf[4], 65, "ia64");
  snprintf(buf[5], 65, "%s", u.domainname);
  return copy_out(p, a[0], buf, sizeof buf);
}

static int64_t sys_getcwd(ir_process *p, const uint64_t *a) {
  char buf[PATH_MAX];
  if (!getcwd(buf, sizeof buf)) return -errno;
  size_t len = strlen(buf) + 1;
  if (len > a[1]) return -ERANGE;
  return copy_out(p, a[0], buf, len) ? -EFAULT : (int64_t)len;
}

static int64_t rlimit_get(ir_process *p, unsigned res, uint64_t out) {
  struct rlimit rl;
  if (getrlimit((int)res, &rl)) return -errno;
  uint64_t v[2] = {rl.rlim_cur, rl.rlim_max};
  if (res == RLIMIT_STACK) v[0] = p->stack_limit;
  return out ? copy_out(p, out, v, sizeof v) : 0;
}

static int64_t sys_getrlimit(ir_process *p, const uint64_t *a) { return rlimit_get(p, (unsigned)a[0], a[1]); }

static int64_t sys_prlimit64(ir_process *p, const uint64_t *a) {
  if (a[0] && a[0] != (uint64_t)getpid()) return -EPERM;
  if (a[2]) return -EPERM;             /* limits of the emulated process are fixed */
  return rlimit_get(p, (unsigned)a[1], a[3]);
}

static int64_t sys_getrandom(ir_process *p, const uint64_t *a) {
  uint8_t buf[4096];
  size_t len = a[1] < sizeof buf ? a[1] : sizeof buf;
  ssize_t n = getrandom(buf, len, (unsigned)a[2]);
  if (n < 0) return -errno;
  return copy_out(p, a[0], buf, (size_t)n) ? -EFAULT : n;
}

/* ---- Files ------------------------------------------------------------------------------------- */

static int64_t sys_read(ir_process *p, const uint64_t *a) {
  int fd = (int)a[0];
  uint64_t va = a[1], len = a[2];
  if (len > SSIZE_MAX) return -EINVAL;
  uint8_t *h = span(p, va, len, IA64_ACC_W);
  if (h || !len) {
    ssize_t n = read(fd, h, len);
    if (n > 0) wrote(p, h, (uint64_t)n);
    return err(n);
  }
  size_t b = len < BOUNCE_MAX ? len : BOUNCE_MAX;
  uint8_t *tmp = malloc(b);
  if (!tmp) return -ENOMEM;
  ssize_t n = read(fd, tmp, b);
  int64_t rc = n < 0 ? -errno : copy_out(p, va, tmp, (size_t)n) ? -EFAULT : n;
  free(tmp);
  return rc;
}

static int64_t sys_write(ir_process *p, const uint64_t *a) {
  int fd = (int)a[0];
  uint64_t va = a[1], len = a[2];
  if (len > SSIZE_MAX) return -EINVAL;
  const uint8_t *h = span(p, va, len, IA64_ACC_R);
  if (h || !len) return err(write(fd, h, len));
  size_t b = len < BOUNCE_MAX ? len : BOUNCE_MAX;
  uint8_t *tmp = malloc(b);
  if (!tmp) return -ENOMEM;
  int64_t rc = copy_in(p, va, tmp, b) ? -EFAULT : err(write(fd, tmp, b));
  free(tmp);
  return rc;
}

static int64_t sys_pread64(ir_process *p, const uint64_t *a) {
  uint8_t *h = span(p, a[1], a[2], IA64_ACC_W);
  if (!h && a[2]) return -EFAULT;
  ssize_t n = pread((int)a[0], h, a[2], (off_t)a[3]);
  if (n > 0) wrote(p, h, (uint64_t)n);
  return err(n);
}

static int64_t sys_pwrite64(ir_process *p, const uint64_t *a) {
  const uint8_t *h = span(p, a[1], a[2], IA64_ACC_R);
  if (!h && a[2]) return -EFAULT;
  return err(pwrite((int)a[0], h, a[2], (off_t)a[3]));
}

/* readv/writev: straight into guest memory when every segment lies in one mapping, else
 * through a bounce buffer (at most BOUNCE_MAX bytes: a short transfer, which both allow). */
static int64_t vec_io(ir_process *p, const uint64_t *a, bool is_write) {
  int fd = (int)a[0];
  uint64_t iov_va = a[1], cnt = a[2];
  if (cnt > IR_UIO_MAXIOV) return -EINVAL;
  if (!cnt) return 0;
  uint64_t (*g)[2] = malloc(cnt * 16);
  struct iovec *hv = malloc(cnt * sizeof *hv);
  int64_t rc = 0;
  if (!g || !hv) rc = -ENOMEM;
  else if (copy_in(p, iov_va, g, cnt * 16)) rc = -EFAULT;
  uint64_t total = 0;
  bool direct = true;
  for (uint64_t i = 0; !rc && i < cnt; i++) {
    if (g[i][1] > SSIZE_MAX - total) rc = -EINVAL;
    total += g[i][1];
    hv[i].iov_len = g[i][1];
    hv[i].iov_base = span(p, g[i][0], g[i][1], is_write ? IA64_ACC_R : IA64_ACC_W);
    if (!hv[i].iov_base && g[i][1]) direct = false;
  }
  if (!rc && direct) {
    ssize_t n = is_write ? writev(fd, hv, (int)cnt) : readv(fd, hv, (int)cnt);
    rc = err(n);
    for (uint64_t i = 0, left = n > 0 ? (uint64_t)n : 0; !is_write && i < cnt && left; i++) {
      uint64_t k = left < hv[i].iov_len ? left : hv[i].iov_len;
      wrote(p, hv[i].iov_base, k);
      left -= k;
    }
  } else if (!rc) {
    size_t b = total < BOUNCE_MAX ? total : BOUNCE_MAX, at = 0;
    uint8_t *tmp = malloc(b ? b : 1);
    if (!tmp) rc = -ENOMEM;
    for (uint64_t i = 0; !rc && is_write && i < cnt && at < b; i++) {
      size_t k = g[i][1] < b - at ? g[i][1] : b - at;
      if (copy_in(p, g[i][0], tmp + at, k)) rc = -EFAULT;
      at += k;
    }
    if (!rc) rc = err(is_write ? write(fd, tmp, b) : read(fd, tmp, b));
    for (uint64_t i = 0, left = rc > 0 ? (uint64_t)rc : 0; !is_write && i < cnt && left; i++) {
      size_t k = g[i][1] < left ? g[i][1] : left;
      if (copy_out(p, g[i][0], tmp + (size_t)(rc - (int64_t)left), k)) rc = -EFAULT;
      left -= k;
    }
    free(tmp);
  }
  free(g);
  free(hv);
  return rc;
}

static int64_t sys_readv(ir_process *p, const uint64_t *a) { return vec_io(p, a, false); }
static int64_t sys_writev(ir_process *p, const uint64_t *a) { return vec_io(p, a, true); }

/* The log descriptor is ia64run's own; the program cannot close or replace it. */
static bool is_log_fd(ir_process *p, uint64_t fd) { return (int)fd == fileno(p->log); }

static int64_t sys_openat_at(ir_process *p, int dirfd, uint64_t path, uint64_t flags, uint64_t mode) {
  char buf[PATH_MAX];
  int rc = get_path(p, path, buf, sizeof buf);
  return rc ? rc : err(openat(dirfd, buf, (int)flags, (mode_t)mode));
}

static int64_t sys_open(ir_process *p, const uint64_t *a) { return sys_openat_at(p, AT_FDCWD, a[0], a[1], a[2]); }
static int64_t sys_openat(ir_process *p, const uint64_t *a) { return sys_openat_at(p, (int)a[0], a[1], a[2], a[3]); }

static int64_t sys_close(ir_process *p, const uint64_t *a) {
  return is_log_fd(p, a[0]) ? -EBADF : err(close((int)a[0]));
}

static int64_t sys_dup(ir_process *p, const uint64_t *a) { (void)p; return err(dup((int)a[0])); }

static int64_t sys_dup2(ir_process *p, const uint64_t *a) {
  return is_log_fd(p, a[1]) ? -EBUSY : err(dup2((int)a[0], (int)a[1]));
}

static int64_t sys_dup3(ir_process *p, const uint64_t *a) {
  return is_log_fd(p, a[1]) ? -EBUSY : err(dup3((int)a[0], (int)a[1], (int)a[2]));
}

static int64_t sys_lseek(ir_process *p, const uint64_t *a) {
  (void)p;
  return err(lseek((int)a[0], (off_t)a[1], (int)a[2]));
}

static int64_t sys_fcntl(ir_process *p, const uint64_t *a) {
  (void)p;
  switch ((int)a[1]) {
  case F_DUPFD: case F_GETFD: case F_SETFD: case F_GETFL: case F_SETFL: case F_DUPFD_CLOEXEC:
    return err(fcntl((int)a[0], (int)a[1], (long)a[2]));
  default: return -EINVAL;
  }
}

/* No descriptor is a terminal to the program: TCGETS and every other request say ENOTTY
 * (so its libc buffers stdout fully, as for a pipe). */
static int64_t sys_ioctl(ir_process *p, const uint64_t *a) {
  (void)p;
  return fcntl((int)a[0], F_GETFD) < 0 ? -EBADF : -ENOTTY;
}

static int64_t sys_pipe(ir_process *p, const uint64_t *a) {
  (void)a;
  int fds[2];
  if (pipe(fds)) return -errno;
  ia64_gr_write(&p->cpu, 9, (uint64_t)fds[1], false);   /* sys_ia64_pipe: second fd in r9 */
  return fds[0];
}

static int64_t sys_pipe2(ir_process *p, const uint64_t *a) {
  int fds[2];
  if (pipe2(fds, (int)a[1])) return -errno;
  if (copy_out(p, a[0], fds, sizeof fds)) {
    close(fds[0]), close(fds[1]);
    return -EFAULT;
  }
  return 0;
}

/* struct stat of Linux ia64 (arch/ia64/include/uapi/asm/stat.h), 144 bytes. */
static int put_stat(ir_process *p, uint64_t va, const struct stat *st) {
  uint8_t b[144];
  memset(b, 0, sizeof b);
  uint64_t q[] = {st->st_dev, st->st_ino, st->st_nlink};
  memcpy(b, q, sizeof q);
  uint32_t w[] = {st->st_mode, st->st_uid, st->st_gid, 0};
  memcpy(b + 24, w, sizeof w);
  uint64_t r[] = {st->st_rdev, (uint64_t)st->st_size,
                  (uint64_t)st->st_atim.tv_sec, (uint64_t)st->st_atim.tv_nsec,
                  (uint64_t)st->st_mtim.tv_sec, (uint64_t)st->st_mtim.tv_nsec,
                  (uint64_t)st->st_ctim.tv_sec, (uint64_t)st->st_ctim.tv_nsec,
                  (uint64_t)st->st_blksize, (uint64_t)st->st_blocks};
  memcpy(b + 40, r, sizeof r);
  return copy_out(p, va, b, sizeof b);
}

static int64_t stat_at(ir_process *p, int dirfd, uint64_t path, uint64_t out, int flags) {
  char buf[PATH_MAX];
  int rc = get_path(p, path, buf, sizeof buf);
  if (rc == -EFAULT && (flags & AT_EMPTY_PATH)) buf[0] = 0, rc = 0;
  if (rc) return rc;
  struct stat st;
  if (fstatat(dirfd, buf, &st, flags)) return -errno;
  return put_stat(p, out, &st);
}

static int64_t sys_stat(ir_process *p, const uint64_t *a) { return stat_at(p, AT_FDCWD, a[0], a[1], 0); }
static int64_t sys_lstat(ir_process *p, const uint64_t *a) {
  return stat_at(p, AT_FDCWD, a[0], a[1], AT_SYMLINK_NOFOLLOW);
}
static int64_t sys_newfstatat(ir_process *p, const uint64_t *a) {
  return stat_at(p, (int)a[0], a[1], a[2], (int)a[3]);
}

static int64_t sys_fstat(ir_process *p, const uint64_t *a) {
  struct stat st;
  if (fstat((int)a[0], &st)) return -errno;
  return put_stat(p, a[1], &st);
}

static int64_t readlink_at(ir_process *p, int dirfd, uint64_t path, uint64_t buf, uint64_t size) {
  char in[PATH_MAX], out[PATH_MAX];
  if ((int64_t)size <= 0) return -EINVAL;
  bool self = false;
  int rc = get_path_self(p, path, in, sizeof in, &self);
  if (rc) return rc;
  ssize_t n;
  if (self) n = (ssize_t)strlen(p->exe), memcpy(out, p->exe, (size_t)n);
  else if ((n = readlinkat(dirfd, in, out, sizeof out)) < 0) return -errno;
  if ((uint64_t)n > size) n = (ssize_t)size;
  return copy_out(p, buf, out, (size_t)n) ? -EFAULT : n;
}

static int64_t sys_readlink(ir_process *p, const uint64_t *a) { return readlink_at(p, AT_FDCWD, a[0], a[1], a[2]); }
static int64_t sys_readlinkat(ir_process *p, const uint64_t *a) {
  return readlink_at(p, (int)a[0], a[1], a[2], a[3]);
}

static int64_t access_at(ir_process *p, int dirfd, uint64_t path, uint64_t mode) {
  char buf[PATH_MAX];
  int rc = get_path(p, path, buf, sizeof buf);
  return rc ? rc : err(faccessat(dirfd, buf, (int)mode, 0));
}

static int64_t sys_access(ir_process *p, const uint64_t *a) { return access_at(p, AT_FDCWD, a[0], a[1]); }
static int64_t sys_faccessat(ir_process *p, const uint64_t *a) { return access_at(p, (int)a[0], a[1], a[2]); }

/* Path calls that take nothing else worth converting. */
static int64_t path_call(ir_process *p, uint64_t path, int (*fn)(const char *, uint64_t), uint64_t arg) {
  char buf[PATH_MAX];
  int rc = get_path(p, path, buf, sizeof buf);
  return rc ? rc : err(fn(buf, arg));
}
static int do_unlink(const char *s, uint64_t x) { (void)x; return unlink(s); }
static int do_rmdir(const char *s, uint64_t x) { (void)x; return rmdir(s); }
static int do_chdir(const char *s, uint64_t x) { (void)x; return chdir(s); }
static int do_mkdir(const char *s, uint64_t m) { return mkdir(s, (mode_t)m); }
static int64_t sys_unlink(ir_process *p, const uint64_t *a) { return path_call(p, a[0], do_unlink, 0); }
static int64_t sys_rmdir(ir_process *p, const uint64_t *a) { return path_call(p, a[0], do_rmdir, 0); }
static int64_t sys_chdir(ir_process *p, const uint64_t *a) { return path_call(p, a[0], do_chdir, 0); }
static int64_t sys_mkdir(ir_process *p, const uint64_t *a) { return path_call(p, a[0], do_mkdir, a[1]); }

static int64_t sys_rename(ir_process *p, const uint64_t *a) {
  char from[PATH_MAX], to[PATH_MAX];
  int rc = get_path(p, a[0], from, sizeof from);
  if (!rc) rc = get_path(p, a[1], to, sizeof to);
  return rc ? rc : err(rename(from, to));
}

static int64_t sys_unlinkat(ir_process *p, const uint64_t *a) {
  char buf[PATH_MAX];
  int rc = get_path(p, a[1], buf, sizeof buf);
  return rc ? rc : err(unlinkat((int)a[0], buf, (int)a[2]));
}

static int64_t sys_umask(ir_process *p, const uint64_t *a) { (void)p; return umask((mode_t)a[0]); }
static int64_t sys_fsync(ir_process *p, const uint64_t *a) { (void)p; return err(fsync((int)a[0])); }
static int64_t sys_ftruncate(ir_process *p, const uint64_t *a) {
  (void)p;
  return err(ftruncate((int)a[0], (off_t)a[1]));
}

static int64_t sys_getdents64(ir_process *p, const uint64_t *a) {
  size_t len = a[2] < BOUNCE_MAX ? a[2] : BOUNCE_MAX;
  uint8_t *tmp = malloc(len ? len : 1);
  if (!tmp) return -ENOMEM;
  long n = syscall(SYS_getdents64, (int)a[0], tmp, len);  /* struct linux_dirent64 is generic */
  int64_t rc = n < 0 ? -errno : copy_out(p, a[1], tmp, (size_t)n) ? -EFAULT : n;
  free(tmp);
  return rc;
}

/* ---- Memory ------------------------------------------------------------------------------------ */

static unsigned prot_perms(const ir_process *p, uint64_t prot) {
  unsigned perms = 0;
  if (prot & (G_PROT_READ | G_PROT_WRITE)) perms |= IA64_ACC_R;   /* no write-only pages on ia64 */
  if (prot & G_PROT_WRITE) perms |= IA64_ACC_W;
  if ((prot & G_PROT_EXEC) || (p->img.read_implies_exec && (prot & G_PROT_READ))) perms |= IA64_ACC_X;
  return perms;
}

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

/* Where a mapping without MAP_FIXED goes: the first hole at or above the hint (or the mmap
 * base), in the hint's region (arch_get_unmapped_area; shared ones 1 MiB aligned). */
static uint64_t place(const ir_process *p, uint64_t hint, uint64_t len, uint64_t align) {
  uint64_t base = hint & IR_PAGE_MASK;
  if (!base || IR_REGION(base) > 4) base = IR_UNMAPPED_BASE;
  for (int pass = 0; pass < 2; pass++, base = IR_UNMAPPED_BASE) {
    for (uint64_t at = align_up(base, align); at;) {
      uint64_t got = ir_as_find_free(&p->as, at, len);
      if (!got) break;
      if (!(got & (align - 1))) return got;
      at = align_up(got, align);
    }
  }
  return 0;
}

/* Copy the file's bytes at off into a fresh private mapping (bytes past EOF stay zero). */
static int fill_from_file(ir_process *p, uint64_t addr, uint64_t len, int fd, uint64_t off) {
  uint8_t *h = ir_as_host(&p->as, addr, len);
  for (uint64_t done = 0; done < len;) {
    ssize_t n = pread(fd, h + done, len - done, (off_t)(off + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) break;
    done += (uint64_t)n;
  }
  return 0;
}

static int64_t check_file(ir_process *p, int fd, uint64_t prot, bool shared) {
  struct stat st;
  if (fstat(fd, &st)) return -EBADF;
  if (!S_ISREG(st.st_mode)) return -ENODEV;
  int fl = fcntl(fd, F_GETFL);
  if ((fl & O_ACCMODE) == O_WRONLY) return -EACCES;
  if (shared && (prot & G_PROT_WRITE)) {
    if ((fl & O_ACCMODE) != O_RDWR) return -EACCES;
    if (p->trace) fprintf(p->log, "ia64run: shared writable file mappings are not supported\n");
    return -ENODEV;
  }
  return 0;
}

static int64_t do_mmap(ir_process *p, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags,
                       int fd, uint64_t off) {
  unsigned type = flags & G_MAP_TYPE;
  if (!len || (type != G_MAP_SHARED && type != G_MAP_PRIVATE && type != G_MAP_SHARED_VALIDATE)) return -EINVAL;
  if (len > IR_TASK_SIZE) return -ENOMEM;
  len = IR_PAGE_ALIGN(len);
  if (off + len < off) return -EOVERFLOW;
  bool anon = flags & G_MAP_ANONYMOUS, shared = type != G_MAP_PRIVATE;
  int64_t rc = anon ? 0 : check_file(p, fd, prot, shared);
  if (rc) return rc;
  if (flags & (G_MAP_FIXED | G_MAP_FIXED_NOREPLACE)) {
    if (addr & ~IR_PAGE_MASK) return -EINVAL;
    if (len > IR_RGN_MAP_LIMIT || IR_REGION_OFFSET(addr) > IR_RGN_MAP_LIMIT - len) return -EINVAL;
    if (addr >= IR_TASK_SIZE || len > IR_TASK_SIZE - addr) return -ENOMEM;
    if ((flags & G_MAP_FIXED_NOREPLACE) && !(flags & G_MAP_FIXED) && !ir_as_is_free(&p->as, addr, len))
      return -EEXIST;
  } else if (!(addr = place(p, addr, len, shared ? IR_SHMLBA : IR_PAGE_SIZE))) {
    return -ENOMEM;
  }
  if ((rc = ir_as_map(&p->as, addr, len, prot_perms(p, prot), IR_MAP_MMAP)) != 0) return rc;
  if (!anon && (rc = fill_from_file(p, addr, len, fd, off)) != 0) {
    ir_as_unmap(&p->as, addr, len);
    return rc;
  }
  return (int64_t)addr;
}

static int64_t sys_mmap(ir_process *p, const uint64_t *a) {
  if (a[5] & ~IR_PAGE_MASK) return -EINVAL;
  return do_mmap(p, a[0], a[1], a[2], a[3], (int)a[4], a[5]);
}

static int64_t sys_mmap2(ir_process *p, const uint64_t *a) {   /* offset in pages */
  if (a[5] > UINT64_MAX >> IR_PAGE_SHIFT) return -EINVAL;
  return do_mmap(p, a[0], a[1], a[2], a[3], (int)a[4], a[5] << IR_PAGE_SHIFT);
}

static int64_t sys_munmap(ir_process *p, const uint64_t *a) {
  uint64_t addr = a[0], len = IR_PAGE_ALIGN(a[1]);
  if ((addr & ~IR_PAGE_MASK) || !a[1] || !len || addr > IR_TASK_SIZE || len > IR_TASK_SIZE - addr)
    return -EINVAL;
  return ir_as_unmap(&p->as, addr, len);
}

static int64_t sys_mprotect(ir_process *p, const uint64_t *a) {
  uint64_t addr = a[0], len = IR_PAGE_ALIGN(a[1]), prot = a[2];
  uint64_t known = G_PROT_READ | G_PROT_WRITE | G_PROT_EXEC | G_PROT_GROWSDOWN | G_PROT_GROWSUP;
  if ((addr & ~IR_PAGE_MASK) || (prot & ~known))
    return -EINVAL;
  if (!a[1]) return 0;
  if (!len || addr + len < addr) return -ENOMEM;
  return ir_as_protect(&p->as, addr, len, prot_perms(p, prot));
}

static int64_t sys_madvise(ir_process *p, const uint64_t *a) {
  uint64_t addr = a[0], len = IR_PAGE_ALIGN(a[1]);
  if (addr & ~IR_PAGE_MASK) return -EINVAL;
  if (a[2] != G_MADV_DONTNEED && a[2] != G_MADV_FREE) return 0;   /* advice only */
  for (uint64_t at = addr; at < addr + len;) {                /* pages read back as zero */
    const ir_region *r = ir_as_find(&p->as, at);
    if (!r) return -ENOMEM;
    uint64_t end = r->end < addr + len ? r->end : addr + len;
    memset(r->host + (at - r->start), 0, end - at);
    wrote(p, r->host + (at - r->start), end - at);
    at = end;
  }
  return 0;
}

/* sys_brk(): below the start, or a request that fails, answers the current break. Growth
 * needs the pages up to one past the new break free (the guard gap). */
static int64_t sys_brk(ir_process *p, const uint64_t *a) {
  uint64_t want = a[0], oldpg = IR_PAGE_ALIGN(p->brk), newpg = IR_PAGE_ALIGN(want);
  if (want < p->start_brk || newpg < want) return (int64_t)p->brk;
  if (newpg > oldpg) {
    uint64_t len = newpg - oldpg;
    if (!ir_as_user_range(oldpg, len + IR_PAGE_SIZE) || !ir_as_is_free(&p->as, oldpg, len + IR_PAGE_SIZE))
      return (int64_t)p->brk;
    unsigned rw = IA64_ACC_R | IA64_ACC_W | (p->img.read_implies_exec ? IA64_ACC_X : 0);
    if (ir_as_map(&p->as, oldpg, len, rw, IR_MAP_BRK)) return (int64_t)p->brk;
  } else if (newpg < oldpg) {
    ir_as_unmap(&p->as, newpg, oldpg - newpg);
  }
  p->brk = want;
  return (int64_t)want;
}

/* ---- Time -------------------------------------------------------------------------------------- */

static int64_t sys_clock_gettime(ir_process *p, const uint64_t *a) {
  struct timespec ts;
  if (clock_gettime((clockid_t)(int)a[0], &ts)) return -errno;
  int64_t v[2] = {ts.tv_sec, ts.tv_nsec};
  return copy_out(p, a[1], v, sizeof v);
}

static int64_t sys_clock_getres(ir_process *p, const uint64_t *a) {
  struct timespec ts;
  if (clock_getres((clockid_t)(int)a[0], &ts)) return -errno;
  int64_t v[2] = {ts.tv_sec, ts.tv_nsec};
  return a[1] ? copy_out(p, a[1], v, sizeof v) : 0;
}

static int64_t sys_gettimeofday(ir_process *p, const uint64_t *a) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  int64_t v[2] = {tv.tv_sec, tv.tv_usec};
  int32_t tz[2] = {0, 0};
  if (a[0] && copy_out(p, a[0], v, sizeof v)) return -EFAULT;
  if (a[1] && copy_out(p, a[1], tz, sizeof tz)) return -EFAULT;
  return 0;
}

static int64_t sleep_common(ir_process *p, int clk, int flags, uint64_t req, uint64_t rem) {
  int64_t v[2];
  if (copy_in(p, req, v, sizeof v)) return -EFAULT;
  if (v[0] < 0 || v[1] < 0 || v[1] >= 1000000000) return -EINVAL;
  struct timespec ts = {v[0], v[1]}, left = {0, 0};
  int rc = clock_nanosleep((clockid_t)clk, flags, &ts, &left);
  if (rc == EINTR && rem && !(flags & TIMER_ABSTIME)) {
    int64_t r[2] = {left.tv_sec, left.tv_nsec};
    copy_out(p, rem, r, sizeof r);
  }
  return -rc;
}

static int64_t sys_nanosleep(ir_process *p, const uint64_t *a) { return sleep_common(p, CLOCK_MONOTONIC, 0, a[0], a[1]); }
static int64_t sys_clock_nanosleep(ir_process *p, const uint64_t *a) {
  return sleep_common(p, (int)a[0], (int)a[1], a[2], a[3]);
}

/* ---- Signals (recorded, never delivered) ------------------------------------------------------- */

#define SIGBIT(s) (1ull << ((s) - 1))

static int64_t sys_rt_sigaction(ir_process *p, const uint64_t *a) {
  int sig = (int)a[0];
  if (a[3] != 8 || sig < 1 || sig > 64) return -EINVAL;
  ir_sigaction act;
  if (a[1] && copy_in(p, a[1], &act, sizeof act)) return -EFAULT;
  if (a[1] && (sig == SIGKILL || sig == SIGSTOP)) return -EINVAL;
  if (a[2] && copy_out(p, a[2], &p->sigact[sig - 1], sizeof act)) return -EFAULT;
  if (a[1]) p->sigact[sig - 1] = act;
  /* A write to a broken pipe: the host's SIGPIPE ends ia64run as it would end the program,
   * unless the program ignores it (or has a handler, which is not run): then EPIPE. */
  if (a[1] && sig == SIGPIPE) signal(SIGPIPE, act.handler == 0 ? SIG_DFL : SIG_IGN);
  return 0;
}

static int64_t sys_rt_sigprocmask(ir_process *p, const uint64_t *a) {
  if (a[3] != 8) return -EINVAL;
  uint64_t set = 0, old = p->sigmask;
  if (a[1] && copy_in(p, a[1], &set, 8)) return -EFAULT;
  if (a[1]) {
    switch (a[0]) {
    case SIG_BLOCK: p->sigmask |= set; break;
    case SIG_UNBLOCK: p->sigmask &= ~set; break;
    case SIG_SETMASK: p->sigmask = set; break;
    default: return -EINVAL;
    }
    p->sigmask &= ~(SIGBIT(SIGKILL) | SIGBIT(SIGSTOP));
  }
  return a[2] && copy_out(p, a[2], &old, 8) ? -EFAULT : 0;
}

/* A signal the program sends itself: ignored, blocked (pending for ever) or the end. */
static int64_t self_signal(ir_process *p, int sig) {
  if (sig < 0 || sig > 64) return -EINVAL;
  if (!sig || (p->sigmask & SIGBIT(sig) && sig != SIGKILL && sig != SIGSTOP)) return 0;
  uint64_t h = p->sigact[sig - 1].handler;
  bool dfl_ignore = sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH ||
                    sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
  if (sig != SIGKILL && (h == 1 || (h == 0 && dfl_ignore))) return 0;
  fprintf(p->log, "ia64run: SIG%s (%s): sent by the program to itself%s\n", sigabbrev_np(sig) ? sigabbrev_np(sig) : "?",
          strsignal(sig), h > 1 ? " [its handler is not run: ia64run does not deliver signals]" : "");
  fflush(p->log);
  p->exit_status = 128 + sig;
  p->exited = true;
  return 0;
}

/* kill(): the program itself (pid 0, its own group, counts as itself) or another process;
 * process groups and "everyone" (pid < 0) are refused rather than passed to the host. */
static int64_t sys_kill(ir_process *p, const uint64_t *a) {
  pid_t pid = (pid_t)a[0];
  if (pid == 0 || pid == getpid()) return self_signal(p, (int)a[1]);
  if (pid < 0) return -EPERM;
  return err(kill(pid, (int)a[1]));
}

static int64_t sys_tkill(ir_process *p, const uint64_t *a) {
  return (pid_t)a[0] == getpid() ? self_signal(p, (int)a[1]) : -ESRCH;
}

static int64_t sys_tgkill(ir_process *p, const uint64_t *a) {
  return (pid_t)a[0] == getpid() && (pid_t)a[1] == getpid() ? self_signal(p, (int)a[2]) : -ESRCH;
}

static int64_t sys_getpagesize(ir_process *p, const uint64_t *a) { (void)p, (void)a; return IR_PAGE_SIZE; }

/* ---- The table --------------------------------------------------------------------------------- */

#define S(n, name, args, path, flags) {1024 + (n), #name, args, path, flags, sys_##name}
static const sys_desc sys_table[] = {
  S(1, exit, 1, 0, 0),            S(2, read, 3, 0, 0),           S(3, write, 3, 0, 0),
  S(4, open, 3, 1, 0),            S(5, close, 1, 0, 0),          S(8, unlink, 1, 1, 0),
  S(10, chdir, 1, 1, 0),          S(16, lseek, 3, 0, 0),         S(17, getpid, 0, 0, 0),
  S(18, getppid, 0, 0, 0),        S(22, getuid, 0, 0, 0),        S(23, geteuid, 0, 0, 0),
  S(25, access, 2, 1, 0),         S(27, fsync, 1, 0, 0),         S(29, kill, 2, 0, 0),
  S(30, rename, 2, 1, 0),         S(31, mkdir, 2, 1, 0),         S(32, rmdir, 1, 1, 0),
  S(33, dup, 1, 0, 0),            S(34, pipe, 0, 0, 0),          S(36, brk, 1, 0, SYS_FORCE_OK),
  S(38, getgid, 0, 0, 0),         S(39, getegid, 0, 0, 0),       S(41, ioctl, 3, 0, 0),
  S(42, fcntl, 3, 0, 0),          S(43, umask, 1, 0, 0),         S(46, dup2, 2, 0, 0),
  S(61, getrlimit, 2, 0, 0),      S(63, gettimeofday, 2, 0, 0),  S(68, readlink, 3, 1, 0),
  S(74, ftruncate, 2, 0, 0),      S(81, gettid, 0, 0, 0),        S(106, uname, 1, 0, 0),
  S(122, readv, 3, 0, 0),         S(123, writev, 3, 0, 0),       S(124, pread64, 4, 0, 0),
  S(125, pwrite64, 4, 0, 0),      S(127, mmap, 6, 0, SYS_FORCE_OK), S(128, munmap, 2, 0, 0),
  S(131, mprotect, 3, 0, 0),      S(144, nanosleep, 2, 0, 0),    S(147, getpagesize, 0, 0, 0),
  S(148, mmap2, 6, 0, SYS_FORCE_OK), S(153, rt_sigaction, 4, 0, 0), S(155, rt_sigprocmask, 4, 0, 0),
  S(160, getcwd, 2, 0, 0),        S(185, madvise, 3, 0, 0),      S(186, stat, 2, 1, 0),
  S(187, lstat, 2, 1, 0),         S(188, fstat, 2, 0, 0),        S(190, getdents64, 3, 0, 0),
  S(205, tkill, 2, 0, 0),         S(209, set_tid_address, 1, 0, 0), S(211, tgkill, 3, 0, 0),
  S(212, exit_group, 1, 0, 0),          S(230, clock_gettime, 2, 0, 0), S(231, clock_getres, 2, 0, 0),
  S(232, clock_nanosleep, 4, 0, 0), S(257, openat, 4, 2, 0),     S(262, newfstatat, 4, 2, 0),
  S(263, unlinkat, 3, 2, 0),      S(267, readlinkat, 4, 2, 0),   S(269, faccessat, 3, 2, 0),
  S(274, set_robust_list, 2, 0, 0), S(292, dup3, 3, 0, 0),       S(293, pipe2, 2, 0, 0),
  S(301, prlimit64, 4, 0, 0),     S(315, getrandom, 3, 0, 0),
};
#undef S

static int by_nr(const void *key, const void *elem) {
  uint64_t nr = *(const uint64_t *)key, e = ((const sys_desc *)elem)->nr;
  return nr < e ? -1 : nr > e;
}

static const sys_desc *lookup(uint64_t nr) {
  return bsearch(&nr, sys_table, sizeof sys_table / sizeof sys_table[0], sizeof sys_table[0], by_nr);
}

/* ---- Entry and exit ---------------------------------------------------------------------------- */

/* in0..in7 of ia64_syscall_setup: the user frame's outputs, physical, NaT -> -1. */
static void fetch_args(ia64_cpu *c, uint64_t a[8]) {
  for (unsigned i = 0; i < 8; i++) {
    unsigned phys = 32 + (c->bof + c->sol + i) % IA64_NSTACKED;
    if (c->nat[phys]) c->gr[phys] = (uint64_t)-1, c->nat[phys] = 0;
    a[i] = c->gr[phys];
  }
}

/* What ia64_leave_syscall leaves in the scratch registers (see the top of the file). */
static void leave_syscall(ia64_cpu *c) {
  static const unsigned cleared[] = {2, 16, 17, 19, 22};
  for (unsigned i = 0; i < sizeof cleared / sizeof cleared[0]; i++) ia64_gr_write(c, cleared[i], 0, false);
  ia64_gr_write(c, 3, 1, false);
  ia64_gr_write(c, 14, 0, false);
  c->br[7] = 0;
  ia64_gr_write(c, 18, c->br[6], false);
  ia64_gr_write(c, 20, c->ar[IA64_AR_FPSR], false);
  ia64_gr_write(c, 21, c->br[0], false);
  ia64_gr_write(c, 23, c->ar[IA64_AR_BSPSTORE], false);
  ia64_gr_write(c, 24, c->ar[IA64_AR_RNAT], false);
  ia64_gr_write(c, 25, c->ar[IA64_AR_UNAT], false);
  ia64_gr_write(c, 26, c->ar[IA64_AR_PFS], false);
  ia64_gr_write(c, 27, c->ar[IA64_AR_RSC], false);
  ia64_gr_write(c, 28, c->ip, false);
  ia64_gr_write(c, 29, (c->psr & ~(3ull << 41)) | (uint64_t)c->ri << 41, false);
  ia64_gr_write(c, 30, ia64_cfm(c), false);
  ia64_gr_write(c, 31, c->pr, false);
  for (unsigned f = 6; f <= 11; f++) ia64_fr_write(c, f, (ia64_fr){0, 0, 0});
  c->ar[IA64_AR_CCV] = c->ar[IA64_AR_CSD] = c->ar[IA64_AR_SSD] = 0;
}

static void set_result(ia64_cpu *c, int64_t v, bool force_ok) {
  bool error = force_ok ? v < 0 && v >= -4095 : v < 0;
  ia64_gr_write(c, 8, error ? (uint64_t)-v : (uint64_t)v, false);
  ia64_gr_write(c, 10, error ? (uint64_t)-1 : 0, false);
}

static void trace_call(ir_process *p, uint64_t nr, const sys_desc *d, const uint64_t *a, int64_t rv, bool force_ok,
                       const char *why) {
  const char *name = d ? d->name : ir_syscall_name(nr);
  unsigned nargs = d ? d->nargs : 6;
  if (name) fprintf(p->log, "ia64run: syscall %s(", name);
  else fprintf(p->log, "ia64run: syscall unknown_%llu(", (unsigned long long)nr);
  for (unsigned i = 0; i < nargs; i++) {
    char path[256];
    if (d && d->path_arg == i + 1 && get_path(p, a[i], path, sizeof path) == 0) fprintf(p->log, "\"%s\"", path);
    else if ((int64_t)a[i] > -65536 && (int64_t)a[i] < 65536) fprintf(p->log, "%lld", (long long)a[i]);
    else fprintf(p->log, "0x%llx", (unsigned long long)a[i]);
    fprintf(p->log, i + 1 < nargs ? ", " : "");
  }
  bool error = force_ok ? rv < 0 && rv >= -4095 : rv < 0;
  if (p->exited && d && (d->fn == sys_exit || d->fn == sys_exit_group)) fprintf(p->log, ") = ?\n");
  else if (error) fprintf(p->log, ") = -1 %s (%s)", strerrorname_np((int)-rv) ? strerrorname_np((int)-rv) : "E?",
                          strerror((int)-rv));
  else if (rv > 65535 || rv < -65535) fprintf(p->log, ") = 0x%llx\n", (unsigned long long)rv);
  else fprintf(p->log, ") = %lld\n", (long long)rv);
  if (error && why) fprintf(p->log, " [system call %llu: %s]\n", (unsigned long long)nr, why);
  else if (error && !d)
    fprintf(p->log, " [system call %llu: %s]\n", (unsigned long long)nr,
            name ? "not implemented by ia64run" : "not in Linux ia64's table");
  else if (error && !(p->exited && d && (d->fn == sys_exit || d->fn == sys_exit_group)))
    fprintf(p->log, "\n");
  fflush(p->log);
}

void ir_syscall(ir_process *p) {
  ia64_cpu *c = &p->cpu;
  bool r15_nat;
  uint64_t nr = ia64_gr_read(c, 15, &r15_nat), a[8];
  fetch_args(c, a);
  /* The break is a fault: continue after it. */
  if (++c->ri > 2) c->ri = 0, c->ip += 16;
  const sys_desc *d = lookup(nr);
  bool force_ok = d && (d->flags & SYS_FORCE_OK);
  /* EINVAL before any call is made */
  const char *bad = r15_nat ? "r15 is NaT" : c->sof > c->sol + 8 ? "more than 8 output registers" : NULL;
  int64_t rv = bad ? -EINVAL : d ? d->fn(p, a) : -ENOSYS;
  if (p->trace) trace_call(p, nr, d, a, rv, force_ok, bad);
  if (p->exited) return;
  set_result(c, rv, force_ok);
  leave_syscall(c);
}
