/* main.c — ia64run: runs a static IA-64 Linux ELF program in user mode, like qemu-user.
 *
 *   ia64run [--stats] [--trace] PROGRAM [ARGS...]
 *
 * The program gets ARGS and ia64run's environment, the process state Linux ia64's execve
 * gives (start.c), and the system calls of syscall.c. ia64run exits with the program's exit
 * status; a fault it does not handle prints one line and exits 128 + signal (fault.c); a
 * file that is not a static IA-64 ELF prints one line and exits 2 (elf.c), as do usage
 * errors. --stats prints instructions retired, seconds and millions of instructions per
 * second; --trace prints every executed instruction and every system call. Both go to
 * ia64run's own copy of stderr, which the program cannot close. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hpvm_error.h"
#include "ia64run.h"

extern char **environ;

#define LOG_FD_MIN 512   /* ia64run's stderr copy stays out of the program's way */

static void usage(FILE *f) {
  fprintf(f, "usage: ia64run [--stats] [--trace] PROGRAM [ARGS...]\n"
             "Runs a static little-endian IA-64 Linux ELF executable in user mode.\n"
             "  --stats  print instructions retired, seconds and million instructions/s to stderr\n"
             "  --trace  print each executed instruction (disassembled) and each system call\n"
             "Exit status: the program's; 128+N when signal N ends it; 2 when PROGRAM cannot run.\n");
}

static FILE *open_log(void) {
  int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, LOG_FD_MIN);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!f) return stderr;
  setvbuf(f, NULL, _IOLBF, 0);
  return f;
}

static void trace_insn(void *ctx, ia64_cpu *c, uint64_t ip, unsigned slot) {
  ir_process *p = ctx;
  (void)c;
  const uint8_t *b = ir_as_host(&p->as, ip, 16);
  char text[200] = "?";
  if (b) ia64_disasm_slot(b, ip, slot, text, sizeof text);
  fprintf(p->log, "%016llx.%u %s\n", (unsigned long long)ip, slot, text);
}

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void run(ir_process *p) {
  while (!p->exited) {
    if (ia64_run(&p->cpu, UINT64_MAX - p->cpu.retired) != IA64_STOP_INTR) continue;  /* no budget */
    if (p->cpu.intr.vector == IA64_VEC_BREAK && p->cpu.intr.iim == 0x100000) ir_syscall(p);
    else ir_fault(p);
  }
}

int main(int argc, char **argv) {
  bool stats = false, trace = false;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!strcmp(argv[i], "--stats")) stats = true;
    else if (!strcmp(argv[i], "--trace")) trace = true;
    else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage(stdout), 0;
    else if (!strcmp(argv[i], "--")) { i++; break; }
    else return fprintf(stderr, "ia64run: unknown option %s; see ia64run --help\n", argv[i]), 2;
  }
  if (i >= argc) return usage(stderr), 2;
  ir_process *p = calloc(1, sizeof *p);
  if (!p || ia64_cpu_init(&p->cpu, &ir_mem_ops, &p->as) != 0)
    return fprintf(stderr, "ia64run: out of memory\n"), 1;
  p->as.cpu = &p->cpu;
  p->log = open_log();
  char msg[512];
  int rc = ir_load_elf(p, argv[i], msg, sizeof msg);
  if (rc) return fprintf(stderr, "ia64run: %s: %s\n", argv[i], msg), 2;
  if ((rc = ir_start(p, argc - i, argv + i, environ)) == HPVM_ERANGE)
    return fprintf(stderr, "ia64run: %s: the arguments and environment do not fit on the stack; "
                           "raise RLIMIT_STACK (ulimit -s) or pass less\n", argv[i]), 2;
  if (rc) return fprintf(stderr, "ia64run: cannot set up the process: %s\n", hpvm_strerror(rc)), 1;
  if (trace) p->cpu.trace = trace_insn, p->cpu.trace_ctx = p, p->trace = true;
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  run(p);
  if (stats) {
    double s = seconds_since(&t0);
    fprintf(p->log, "ia64run: %llu instructions retired in %.3f s: %.2f M instructions/s\n",
            (unsigned long long)p->cpu.retired, s, s > 0 ? (double)p->cpu.retired / s / 1e6 : 0.0);
  }
  int status = p->exit_status;
  fflush(p->log);
  ia64_cpu_destroy(&p->cpu);
  ir_as_free(&p->as);
  if (p->log != stderr) fclose(p->log);
  free(p);
  return status;
}
