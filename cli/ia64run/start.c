/* start.c — the process as Linux ia64's execve() hands it to user mode.
 *
 * Memory (fs/exec.c, fs/binfmt_elf.c, arch/ia64/mm/init.c), without address randomisation:
 *   STACK_TOP = region 3 + RGN_MAP_LIMIT   0x60000fffffffc000
 *     8 bytes of zero, then the program path (AT_EXECFN), the environment strings, the
 *     argument strings; 16 random bytes (AT_RANDOM); the auxiliary vector, envp[], argv[]
 *     and argc at new_sp (16-byte aligned). r12 = new_sp - 16: the 16-byte scratch area
 *     the ia64 calling convention puts below every stack pointer.
 *   The memory stack grows down from STACK_TOP up to RLIMIT_STACK (soft) bytes.
 *   The register backing store starts at rbs_bot = PAGE_ALIGN(new_sp - stack size), the stack
 *     size being RLIMIT_STACK's hard limit bounded by MAX_USER_STACK_SIZE (ia64_set_rbs_bot),
 *     and grows up, also up to RLIMIT_STACK (soft) bytes.
 * Both are mapped whole at start (host memory is only committed when touched).
 *
 * Registers (start_thread() in asm/processor.h, ia64_execve in entry.S): ip = e_entry,
 * slot 0; psr = user psr with cpl 3, dfh and sp set (mfl, mfh, db, lp, tb, id, da, dd,
 * ss, ed, ri, is clear); ar.rsc = 0xf (eager, pl 3, little-endian); ar.bspstore = ar.bsp =
 * rbs_bot with no dirty registers; ar.rnat = 0; ar.fpsr = FPSR_DEFAULT; ar.pfs = 0 and an
 * empty frame (CFM 0: execve clears ar.pfs so its return leaves sof = 0); ar.unat =
 * ar.lc = 0; r8 = 0 (execve's result, which glibc's _start passes on as rtld_fini) and
 * every other register 0, stacked registers included (the kernel clears the invalid
 * partition on the way out).
 *
 * The auxiliary vector is create_elf_tables()'s, in its order. Linux ia64 also puts
 * AT_SYSINFO / AT_SYSINFO_EHDR (the gate page with the epc system-call stub) first; there
 * is no gate page here, so they are left out and libc uses break 0x100000 (glibc's
 * fallback). ELF_HWCAP is 0 and there is no AT_PLATFORM on ia64; AT_CLKTCK is CONFIG_HZ's
 * default, 250. */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include "hpvm_error.h"
#include "ia64run.h"

#define IR_CLKTCK 250
#define IR_FPSR_DEFAULT 0x0009804c0270033full
#define STACK_CAP (1ull << 30)          /* an unlimited RLIMIT_STACK maps this much */

/* User psr: ic, i, dt, dfh, sp, rt, cpl = 3, it, bn. */
#define IR_PSR_USER ((1ull << 13) | (1ull << 14) | (1ull << 17) | (1ull << 19) | (1ull << 20) | \
                     (1ull << 27) | (3ull << 32) | (1ull << 36) | (1ull << 44))

/* ---- Sizes from the host's limits -------------------------------------------------------------- */

static void stack_limits(uint64_t *soft, uint64_t *hard) {
  struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
  getrlimit(RLIMIT_STACK, &rl);
  *soft = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > STACK_CAP ? STACK_CAP : rl.rlim_cur;
  *soft = IR_PAGE_ALIGN(*soft < IR_PAGE_SIZE * 8 ? IR_PAGE_SIZE * 8 : *soft);
  *hard = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > IR_MAX_STACK ? IR_MAX_STACK : rl.rlim_max & ~15ull;
}

/* ---- The stack image --------------------------------------------------------------------------- */

/* Builds the initial stack top-down, the way the kernel's copy_strings and create_elf_tables
 * do. Writes go through the CPU's memory path, so a stack too small for the arguments shows
 * up as a failed write (E2BIG). */
typedef struct stack_builder {
  ir_process *p;
  uint64_t sp;
  int err;
} stack_builder;

static uint64_t put(stack_builder *b, const void *data, size_t len) {
  b->sp -= len;
  if (!b->err && ia64_write_mem(&b->p->cpu, b->sp, data, len) != 0) b->err = -E2BIG;
  return b->sp;
}

static uint64_t put_str(stack_builder *b, const char *s) { return put(b, s, strlen(s) + 1); }

static int build_stack(ir_process *p, int argc, char **argv, char **envp, uint64_t *new_sp) {
  int envc = 0;
  while (envp[envc]) envc++;
  uint64_t *argv_va = calloc((size_t)argc + 1, 8), *envp_va = calloc((size_t)envc + 1, 8);
  if (!argv_va || !envp_va) {
    free(argv_va), free(envp_va);
    return -ENOMEM;
  }
  stack_builder b = {p, p->stack_top - 8, 0};
  uint64_t execfn = put_str(&b, argv[0]);
  for (int i = envc - 1; i >= 0; i--) envp_va[i] = put_str(&b, envp[i]);
  for (int i = argc - 1; i >= 0; i--) argv_va[i] = put_str(&b, argv[i]);
  uint8_t rnd[16];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
    for (unsigned i = 0; i < sizeof rnd; i++) rnd[i] = (uint8_t)(rand() >> 7);
  uint64_t random_va = put(&b, rnd, sizeof rnd);
  const ir_image *img = &p->img;
  uint64_t auxv[][2] = {
    {AT_HWCAP, 0}, {AT_PAGESZ, IR_PAGE_SIZE}, {AT_CLKTCK, IR_CLKTCK}, {AT_PHDR, img->phdr},
    {AT_PHENT, sizeof(Elf64_Phdr)}, {AT_PHNUM, img->phnum}, {AT_BASE, 0}, {AT_FLAGS, 0},
    {AT_ENTRY, img->entry}, {AT_UID, getuid()}, {AT_EUID, geteuid()}, {AT_GID, getgid()},
    {AT_EGID, getegid()}, {AT_SECURE, 0}, {AT_RANDOM, random_va}, {AT_EXECFN, execfn},
    {AT_NULL, 0},
  };
  size_t items = 1 + (size_t)argc + 1 + (size_t)envc + 1;
  uint64_t sp = (b.sp - sizeof auxv - items * 8) & ~15ull;
  b.sp = sp + items * 8 + sizeof auxv;            /* fill upwards from sp */
  put(&b, auxv, sizeof auxv);
  put(&b, envp_va, ((size_t)envc + 1) * 8);
  put(&b, argv_va, ((size_t)argc + 1) * 8);
  uint64_t argc64 = (uint64_t)argc;
  put(&b, &argc64, 8);
  free(argv_va);
  free(envp_va);
  *new_sp = sp;
  return b.err;
}

/* ---- Registers --------------------------------------------------------------------------------- */

static void set_registers(ir_process *p, uint64_t new_sp) {
  ia64_cpu *c = &p->cpu;
  ia64_cpu_reset(c);
  c->bof = 0;
  c->ndirty = 0;
  ia64_set_cfm(c, 0);
  ia64_gr_write(c, 12, new_sp - 16, false);     /* sp, above the 16-byte scratch area */
  c->ar[IA64_AR_RSC] = 0xf;
  c->ar[IA64_AR_BSPSTORE] = p->rbs_bot;
  c->ar[IA64_AR_BSP] = p->rbs_bot;
  c->ar[IA64_AR_RNAT] = 0;
  c->ar[IA64_AR_FPSR] = IR_FPSR_DEFAULT;
  c->ar[IA64_AR_PFS] = 0;
  c->psr = IR_PSR_USER;
  c->ip = p->img.entry;
  c->ri = 0;
}

/* The register backing store: [rbs_bot, rbs_bot + soft) unless that would run into the
 * memory stack (a small hard RLIMIT_STACK puts rbs_bot close below it); then the two share
 * the space between them, as Linux's growing stack and backing store would. */
static int map_rbs(ir_process *p, uint64_t new_sp, uint64_t soft, uint64_t hard) {
  p->rbs_bot = IR_PAGE_ALIGN(new_sp - hard);
  uint64_t stack_bottom = p->stack_top - soft, rbs_end = p->rbs_bot + soft;
  if (rbs_end > stack_bottom) {
    uint64_t mid = (p->rbs_bot + (p->stack_top - p->rbs_bot) / 2) & IR_PAGE_MASK;
    if (mid > (new_sp & IR_PAGE_MASK)) mid = new_sp & IR_PAGE_MASK;
    if (mid <= p->rbs_bot) return HPVM_ERANGE;
    if (mid > stack_bottom) ir_as_unmap(&p->as, stack_bottom, mid - stack_bottom);
    rbs_end = mid;
  }
  unsigned rw = IA64_ACC_R | IA64_ACC_W | (p->img.read_implies_exec ? IA64_ACC_X : 0);
  return ir_as_map(&p->as, p->rbs_bot, rbs_end - p->rbs_bot, rw, IR_MAP_RBS) ? HPVM_ENOMEM : 0;
}

int ir_start(ir_process *p, int argc, char **argv, char **envp) {
  uint64_t soft, hard;
  stack_limits(&soft, &hard);
  p->stack_top = IR_STACK_TOP;
  p->stack_limit = soft;
  unsigned rw = IA64_ACC_R | IA64_ACC_W | (p->img.exec_stack ? IA64_ACC_X : 0);
  int rc = ir_as_map(&p->as, p->stack_top - soft, soft, rw, IR_MAP_STACK);
  uint64_t new_sp = 0;
  if (!rc) rc = build_stack(p, argc, argv, envp, &new_sp);
  if (rc) return rc == -ENOMEM ? HPVM_ENOMEM : HPVM_ERANGE;
  if ((rc = map_rbs(p, new_sp, soft, hard)) != 0) return rc;
  p->start_brk = p->brk = p->img.brk;
  set_registers(p, new_sp);
  return 0;
}
