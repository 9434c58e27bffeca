/* ia64run.h — user-mode IA-64 Linux (like qemu-user, for IA-64): what the files of ia64run
 * share. main.c parses options and runs the loop; elf.c checks and loads the program;
 * start.c builds the process as Linux ia64's execve leaves it (stack, auxv, registers);
 * aspace.c owns the guest address space and answers the CPU's TLB misses; syscall.c is the
 * Linux ia64 system call layer (sysnames.c names every ia64 system call for --trace);
 * fault.c turns interruptions into signals the way arch/ia64/kernel/traps.c does.
 *
 * The process model follows Linux ia64 with 16 KiB pages (its usual configuration): every
 * mapping, brk, AT_PAGESZ and the layout constants below are 16 KiB granular; the CPU's
 * software TLB works on 4 KiB frames of those pages. Everything is in one ir_process passed
 * by pointer: no global state. */
#ifndef HPVM_IA64RUN_H
#define HPVM_IA64RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ia64.h"

/* ---- Linux ia64 address-space constants (3-level page tables, 16 KiB pages) --------------- */

#define IR_PAGE_SHIFT 14
#define IR_PAGE_SIZE (1ull << IR_PAGE_SHIFT)
#define IR_PAGE_MASK (~(IR_PAGE_SIZE - 1))
#define IR_PAGE_ALIGN(x) (((x) + IR_PAGE_SIZE - 1) & IR_PAGE_MASK)
#define IR_REGION(va) ((uint64_t)(va) >> 61)
#define IR_REGION_BASE(n) ((uint64_t)(n) << 61)
#define IR_REGION_OFFSET(va) ((uint64_t)(va) & ((1ull << 61) - 1))
/* RGN_MAP_LIMIT: the mappable part of each region, (1 << (4 * PAGE_SHIFT - 12)) - PAGE_SIZE. */
#define IR_RGN_MAP_LIMIT ((1ull << (4 * IR_PAGE_SHIFT - 12)) - IR_PAGE_SIZE)
#define IR_TASK_SIZE 0xa000000000000000ull          /* regions 0..4 are the user's */
#define IR_UNMAPPED_BASE 0x2000000000000000ull      /* TASK_UNMAPPED_BASE: mmap, region 1 */
#define IR_STACK_TOP (IR_REGION_BASE(3) + IR_RGN_MAP_LIMIT)  /* STACK_TOP, region 3 */
#define IR_MAX_STACK (IR_RGN_MAP_LIMIT / 2)         /* MAX_USER_STACK_SIZE */
#define IR_ET_DYN_BASE (IR_UNMAPPED_BASE + 0x800000000ull)   /* ELF_ET_DYN_BASE */

/* ---- Address space (aspace.c) -------------------------------------------------------------- */

/* What a mapping is, for messages and /proc-like listings. */
typedef enum ir_map_kind {
  IR_MAP_INVALID = 0, IR_MAP_ELF, IR_MAP_BRK, IR_MAP_STACK, IR_MAP_RBS, IR_MAP_MMAP,
} ir_map_kind;

/* One mapped range of guest virtual memory, backed by host memory. */
typedef struct ir_region {
  uint64_t start, end;     /* [start, end), IR_PAGE_SIZE aligned */
  uint8_t *host;           /* host address of start */
  unsigned perms;          /* IA64_ACC_* */
  ir_map_kind kind;
} ir_region;

/* The mappings, sorted by address and never overlapping. Invariant (ir_as_check): every
 * region is page aligned, non-empty, inside one user region (0..4) below RGN_MAP_LIMIT. */
typedef struct ir_aspace {
  ir_region *r;
  size_t n, cap;
  ia64_cpu *cpu;           /* whose TLB and decoded code to drop when mappings change */
} ir_aspace;

extern const ia64_mem_ops ir_mem_ops;  /* translate(): ctx is the ir_aspace */

void ir_as_free(ir_aspace *as);
bool ir_as_check(const ir_aspace *as);  /* the invariant above, for asserts and tests */
const ir_region *ir_as_find(const ir_aspace *as, uint64_t va);
/* Map [start, start+len) (page aligned) as new zeroed memory, replacing whatever was there
 * (MAP_FIXED semantics). 0 or a negative Linux errno. */
int ir_as_map(ir_aspace *as, uint64_t start, uint64_t len, unsigned perms, ir_map_kind kind);
int ir_as_unmap(ir_aspace *as, uint64_t start, uint64_t len);
/* -ENOMEM when part of the range is not mapped (nothing changes then). */
int ir_as_protect(ir_aspace *as, uint64_t start, uint64_t len, unsigned perms);
bool ir_as_is_free(const ir_aspace *as, uint64_t start, uint64_t len);
/* Lowest free, page-aligned range of len bytes at or above base that stays in base's region
 * below RGN_MAP_LIMIT; 0 if none. */
uint64_t ir_as_find_free(const ir_aspace *as, uint64_t base, uint64_t len);
/* Host pointer for [va, va+len) when one region maps it all, else NULL. */
uint8_t *ir_as_host(const ir_aspace *as, uint64_t va, uint64_t len);
/* Is [start, start+len) a range user mappings may occupy (ia64_mmap_check + TASK_SIZE)? */
bool ir_as_user_range(uint64_t start, uint64_t len);

/* ---- The process ----------------------------------------------------------------------------- */

/* What the ELF loader found (elf.c). */
typedef struct ir_image {
  uint64_t entry;          /* e_entry + load bias */
  uint64_t phdr, phnum;    /* where the program headers are in guest memory, how many */
  uint64_t load_bias;      /* 0 for ET_EXEC; ELF_ET_DYN_BASE for a static PIE */
  uint64_t brk;            /* end of the highest segment (bss included), page aligned */
  bool exec_stack;         /* PT_GNU_STACK asks for an executable stack */
  bool read_implies_exec;  /* EF_IA_64_LINUX_EXECUTABLE_STACK: READ_IMPLIES_EXEC personality */
} ir_image;

typedef struct ir_sigaction {
  uint64_t handler, flags, mask;  /* the ia64 struct sigaction (no sa_restorer) */
} ir_sigaction;

typedef struct ir_process {
  ia64_cpu cpu;
  ir_aspace as;
  ir_image img;
  char exe[4096];          /* absolute path of the program, for /proc/self/exe and AT_EXECFN */
  uint64_t start_brk, brk; /* the program break (brk may be unaligned, as in Linux) */
  uint64_t stack_top, stack_limit, rbs_bot;
  uint64_t clear_child_tid;
  uint64_t sigmask;
  ir_sigaction sigact[64]; /* recorded by rt_sigaction, never delivered */
  FILE *log;               /* ia64run's own messages: a private copy of stderr */
  bool trace;
  bool exited;
  int exit_status;
} ir_process;

/* ELF (elf.c): load a static IA-64 ELF into p->as and fill p->img. 0, or a negative HPVM_E*
 * with msg set to one line saying what is wrong and what to do. */
int ir_load_elf(ir_process *p, const char *path, char *msg, size_t msglen);

/* Process start (start.c): stack with argv/envp/auxv, register backing store, registers. */
int ir_start(ir_process *p, int argc, char **argv, char **envp);

/* System calls (syscall.c): the break 0x100000 that stopped the CPU. */
void ir_syscall(ir_process *p);
const char *ir_syscall_name(uint64_t nr);

/* Faults (fault.c): handle the interruption in p->cpu.intr that is not a system call. Either
 * resolves it as the kernel would (execution continues) or ends the process with the
 * signal's status after printing one line. */
void ir_fault(ir_process *p);
int ir_fault_signal(const ia64_intr *in);  /* the signal Linux ia64 sends, 0 if none */

#endif
