/* vm_test.h — what the VM platform tests share: paths of the test guests, a VM built from a
 * guest, waiting for power-off with a deadline, and running hpvmapp as a child process with
 * its stdin, stdout and stderr on pipes. Header-only; included by the tests/vm test files. */
#ifndef HPVM_VM_TEST_H
#define HPVM_VM_TEST_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vm.h"

static inline const char *guest_path(const char *name) {
  static __thread char buf[4][512];
  static __thread unsigned k;
  char *p = buf[k++ % 4];
  snprintf(p, 512, "%s/vmguest_%s", VM_GUEST_DIR, name);
  return p;
}

static inline double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A VM of `mem` bytes and `ncpus` vCPUs with guest `name` loaded; console output to out_fd. */
static inline vm *vm_with_guest(uint64_t mem, unsigned ncpus, const char *name, const char *cmdline, int out_fd) {
  vm_config cfg = {.memory = mem, .ncpus = ncpus, .cmdline = cmdline, .console_in = -1, .console_out = out_fd};
  vm *v = NULL;
  char msg[512];
  int rc = vm_create(&cfg, &v, msg, sizeof msg);
  if (rc) fail_msg("vm_create: %s", msg);
  rc = vm_load_kernel(v, guest_path(name), msg, sizeof msg);
  if (rc) fail_msg("vm_load_kernel: %s", msg);
  return v;
}

/* The exit status, or -1 (after powering the VM off) when it is still running after `secs`. */
static inline int wait_exit(vm *v, double secs) {
  double end = now_s() + secs;
  while (!vm_stopped(v) && now_s() < end) usleep(1000);
  if (!vm_stopped(v)) {
    vm_power_off(v, -1);
    vm_wait(v);
    return -1;
  }
  return vm_wait(v);
}

/* ---- Running hpvmapp ------------------------------------------------------------------------ */

typedef struct run_result {
  int status;          /* exit status, 128+N for signal N, -1 on timeout */
  char out[16384];
  char err[16384];
} run_result;

/* Run argv (NULL-terminated) with `in` on stdin; kill it after `secs`. */
static inline void run_cmd(run_result *r, const char *in, double secs, const char *const *argv) {
  memset(r, 0, sizeof *r);
  int pin[2], pout[2], perr[2];
  if (pipe(pin) || pipe(pout) || pipe(perr)) fail_msg("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pin[0], 0), dup2(pout[1], 1), dup2(perr[1], 2);
    close(pin[1]), close(pout[0]), close(perr[0]);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  close(pin[0]), close(pout[1]), close(perr[1]);
  if (in) {
    ssize_t w = write(pin[1], in, strlen(in));
    (void)w;
  }
  close(pin[1]);
  size_t no = 0, ne = 0;
  bool oopen = true, eopen = true, killed = false;
  double end = now_s() + secs;
  while (oopen || eopen) {
    struct pollfd p[2] = {{oopen ? pout[0] : -1, POLLIN, 0}, {eopen ? perr[0] : -1, POLLIN, 0}};
    int n = poll(p, 2, 100);
    if (now_s() > end && !killed) kill(pid, SIGKILL), killed = true;
    if (n <= 0) continue;
    if (p[0].revents) {
      ssize_t k = read(pout[0], r->out + no, sizeof r->out - 1 - no);
      if (k <= 0) oopen = false; else no += (size_t)k;
    }
    if (p[1].revents) {
      ssize_t k = read(perr[0], r->err + ne, sizeof r->err - 1 - ne);
      if (k <= 0) eopen = false; else ne += (size_t)k;
    }
  }
  close(pout[0]), close(perr[0]);
  int st;
  waitpid(pid, &st, 0);
  r->status = killed ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static inline unsigned count_lines(const char *s) {
  unsigned n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

#endif
