/* main.c — ia64run: runs a static IA-64 Linux ELF in user mode, like qemu-user.
 *   ia64run [--stats] [--trace] PROGRAM [ARGS...]
 * Exit status is the program's; a fault it does not handle prints one line and exits
 * 128+signal; a file that is not a static IA-64 ELF exits 2. */
#include <elf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hpvm_error.h"
#include "ia64run.h"

extern char **environ;

#define STACK_TOP 0x6000100000000000ull
#define STACK_SIZE (16ull << 20)
#define RBS_BASE 0x6000080000000000ull
#define RBS_SIZE (64ull << 20)

static void usage(FILE *f) {
  fprintf(f, "usage: ia64run [--stats] [--trace] PROGRAM [ARGS...]\n"
             "Runs a static little-endian IA-64 Linux ELF executable.\n"
             "  --stats  print instructions retired, seconds and MIPS to stderr\n"
             "  --trace  print each executed instruction, disassembled\n");
}

static int push(ir_process *p, uint64_t *sp, const void *data, size_t len) {
  *sp -= len;
  return ia64_write_mem(&p->cpu, *sp, data, len);
}

int ir_setup_stack(ir_process *p, int argc, char **argv, char **envp) {
  ia64_cpu *c = &p->cpu;
  if (ir_map(p, STACK_TOP - STACK_SIZE, STACK_SIZE, IA64_ACC_R | IA64_ACC_W) ||
      ir_map(p, RBS_BASE, RBS_SIZE, IA64_ACC_R | IA64_ACC_W))
    return HPVM_ENOMEM;
  int envc = 0;
  while (envp[envc]) envc++;
  uint64_t sp = STACK_TOP, *argv_va = calloc((size_t)argc + 1, 8), *envp_va = calloc((size_t)envc + 1, 8);
  if (!argv_va || !envp_va) return HPVM_ENOMEM;
  for (int i = envc - 1; i >= 0; i--) push(p, &sp, envp[i], strlen(envp[i]) + 1), envp_va[i] = sp;
  for (int i = argc - 1; i >= 0; i--) push(p, &sp, argv[i], strlen(argv[i]) + 1), argv_va[i] = sp;
  uint8_t rnd[16];
  for (int i = 0; i < 16; i++) rnd[i] = (uint8_t)rand();
  push(p, &sp, rnd, 16);
  uint64_t random_va = sp;
  sp &= ~15ull;
  uint64_t auxv[][2] = {
    {AT_PHDR, p->phdr}, {AT_PHENT, 56}, {AT_PHNUM, p->phnum}, {AT_PAGESZ, IA64_PAGE_SIZE},
    {AT_ENTRY, p->entry}, {AT_UID, 0}, {AT_EUID, 0}, {AT_GID, 0}, {AT_EGID, 0},
    {AT_RANDOM, random_va}, {AT_NULL, 0},
  };
  size_t words = 1 + (size_t)argc + 1 + (size_t)envc + 1 + 2 * (sizeof auxv / sizeof auxv[0]);
  sp = (sp - words * 8) & ~15ull;
  uint64_t w = sp, v = (uint64_t)argc;
  ia64_write_mem(c, w, &v, 8), w += 8;
  for (int i = 0; i <= argc; i++) ia64_write_mem(c, w, &argv_va[i], 8), w += 8;
  for (int i = 0; i <= envc; i++) ia64_write_mem(c, w, &envp_va[i], 8), w += 8;
  ia64_write_mem(c, w, auxv, sizeof auxv);
  free(argv_va);
  free(envp_va);
  ia64_gr_write(c, 12, sp - 16, false);          /* r12: sp, with the 16-byte scratch area */
  ia64_ar_write(c, IA64_AR_BSP, RBS_BASE);
  ia64_ar_write(c, IA64_AR_BSPSTORE, RBS_BASE);
  ia64_ar_write(c, IA64_AR_RSC, 0xf);
  c->psr = 3ull << 32;                           /* cpl 3 */
  c->ip = p->entry;
  return 0;
}

static int fault_signal(const ia64_intr *in) {
  switch (in->vector) {
  case IA64_VEC_DATA_TLB: case IA64_VEC_INST_TLB: case IA64_VEC_PAGE_NOT_PRESENT:
  case IA64_VEC_DATA_ACCESS_RIGHTS: case IA64_VEC_INST_ACCESS_RIGHTS: return SIGSEGV;
  case IA64_VEC_UNALIGNED: return SIGBUS;
  case IA64_VEC_FP_FAULT: case IA64_VEC_FP_TRAP: return SIGFPE;
  case IA64_VEC_BREAK: return SIGTRAP;
  default: return SIGILL;
  }
}

static void report_fault(ir_process *p, int sig) {
  ia64_cpu *c = &p->cpu;
  uint8_t bundle[16];
  char text[160] = "(bundle not readable)";
  if (ia64_read_mem(c, c->intr.iip, bundle, 16) == 0)
    ia64_disasm_slot(bundle, c->intr.iip, c->intr.ri > 2 ? 0 : c->intr.ri, text, sizeof text);
  fprintf(stderr, "ia64run: %s at ip=0x%016llx slot %u (vector 0x%04x, isr 0x%llx, ifa 0x%llx): %s\n",
          strsignal(sig), (unsigned long long)c->intr.iip, c->intr.ri, c->intr.vector,
          (unsigned long long)c->intr.isr, (unsigned long long)c->intr.ifa, text);
}

static void trace_insn(void *ctx, ia64_cpu *c, uint64_t ip, unsigned slot) {
  (void)ctx;
  uint8_t bundle[16];
  char text[160];
  if (ia64_read_mem(c, ip, bundle, 16) != 0) return;
  ia64_disasm_slot(bundle, ip, slot, text, sizeof text);
  fprintf(stderr, "%016llx.%u %s\n", (unsigned long long)ip, slot, text);
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
  static ir_process proc;
  ir_process *p = &proc;
  if (ia64_cpu_init(&p->cpu, &ir_mem_ops, p) != 0) return fprintf(stderr, "ia64run: out of memory\n"), 1;
  const char *why = "";
  int rc = ir_load_elf(p, argv[i], &why);
  if (rc) return fprintf(stderr, "ia64run: %s: %s\n", argv[i], why), 2;
  if (ir_setup_stack(p, argc - i, argv + i, environ)) return fprintf(stderr, "ia64run: cannot set up the stack\n"), 1;
  if (trace) p->cpu.trace = trace_insn, p->trace = true;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (!p->exited) {
    ia64_stop why_stop = ia64_run(&p->cpu, UINT64_MAX);
    if (why_stop != IA64_STOP_INTR) continue;
    if (p->cpu.intr.vector == IA64_VEC_BREAK && p->cpu.intr.iim == 0x100000) {
      ir_syscall(p);
      continue;
    }
    int sig = fault_signal(&p->cpu.intr);
    report_fault(p, sig);
    p->exit_status = 128 + sig;
    p->exited = true;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (stats) {
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "ia64run: %llu instructions in %.3f s: %.1f M instructions/s\n",
            (unsigned long long)p->cpu.retired, s, s > 0 ? (double)p->cpu.retired / s / 1e6 : 0.0);
  }
  ia64_cpu_destroy(&p->cpu);
  return p->exit_status;
}
