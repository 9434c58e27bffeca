/* ia64run.h — user-mode IA-64 Linux: the process's address space, ELF loader and system
 * calls, shared by the files of ia64run (like qemu-user, for IA-64). */
#ifndef HPVM_IA64RUN_H
#define HPVM_IA64RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "ia64.h"

/* One mapped range of guest virtual memory backed by host memory. */
typedef struct ir_region {
  uint64_t start, end;     /* [start, end), page aligned */
  uint8_t *host;
  unsigned perms;          /* IA64_ACC_* */
} ir_region;

typedef struct ir_process {
  ia64_cpu cpu;
  ir_region *regions;
  unsigned nregions, cap;
  uint64_t entry, phdr, phnum, brk_start, brk;
  uint64_t mmap_next;
  bool trace;
  int exit_status;
  bool exited;
} ir_process;

/* Address space (aspace.c). */
extern const ia64_mem_ops ir_mem_ops;
int ir_map(ir_process *p, uint64_t start, uint64_t len, unsigned perms);
ir_region *ir_find(ir_process *p, uint64_t va);

/* ELF (elf.c): load a static IA-64 ELF; 0 or a negative HPVM_E* code with *why set. */
int ir_load_elf(ir_process *p, const char *path, const char **why);

/* Process start (main.c) and system calls (syscall.c). */
int ir_setup_stack(ir_process *p, int argc, char **argv, char **envp);
void ir_syscall(ir_process *p);

#endif
