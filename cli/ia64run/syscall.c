/* syscall.c — Linux ia64 system calls: number in r15, arguments in out0..out7 (the
 * caller's output registers), result in r8 with r10 = 0, or errno in r8 with r10 = -1. */
#include <errno.h>
#include <unistd.h>

#include "ia64run.h"

enum { NR_exit = 1025, NR_read = 1026, NR_write = 1027, NR_exit_group = 1236 };

static uint64_t arg(ir_process *p, unsigned i) {
  return ia64_gr_read(&p->cpu, 32 + p->cpu.sol + i, NULL);
}

static void ret(ir_process *p, int64_t v) {
  if (v < 0) ia64_gr_write(&p->cpu, 8, (uint64_t)-v, false), ia64_gr_write(&p->cpu, 10, (uint64_t)-1, false);
  else ia64_gr_write(&p->cpu, 8, (uint64_t)v, false), ia64_gr_write(&p->cpu, 10, 0, false);
}

static int64_t sys_write(ir_process *p) {
  uint64_t buf = arg(p, 1), len = arg(p, 2);
  char tmp[4096];
  int64_t done = 0;
  while (len) {
    size_t n = len < sizeof tmp ? len : sizeof tmp;
    if (ia64_read_mem(&p->cpu, buf, tmp, n)) return done ? done : -EFAULT;
    ssize_t w = write((int)arg(p, 0), tmp, n);
    if (w < 0) return done ? done : -errno;
    done += w, buf += (uint64_t)w, len -= (uint64_t)w;
    if ((size_t)w < n) break;
  }
  return done;
}

void ir_syscall(ir_process *p) {
  uint64_t nr = ia64_gr_read(&p->cpu, 15, NULL);
  /* break is a fault: step past it. */
  if (++p->cpu.ri > 2) p->cpu.ri = 0, p->cpu.ip += 16;
  switch (nr) {
  case NR_exit:
  case NR_exit_group:
    p->exit_status = (int)(arg(p, 0) & 0xff);
    p->exited = true;
    return;
  case NR_write: ret(p, sys_write(p)); return;
  default: ret(p, -ENOSYS); return;
  }
}
