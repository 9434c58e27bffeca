/* test_sysarch.h — what the system architecture tests share: a bare ia64_cpu on a flat
 * guest-physical memory, with a platform translate() that goes through ia64_translate() the
 * way hypervisor/ does (guest TLB, then guest-physical -> host), uncacheable accesses
 * recorded by io(), a guest clock the test moves by hand, and the platform hooks recorded.
 * Code is assembled with ia64-linux-gnu-as (harness.h) and copied to a physical address.
 * Header-only, included by test_sysarch_*.c. */
#ifndef HPVM_TEST_SYSARCH_H
#define HPVM_TEST_SYSARCH_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define SA_RAM (64u << 20)              /* guest-physical RAM: 0 .. 64 MiB */
#define SA_DONE 0x7777                  /* break.i immediate that ends a snippet */
#define SA_IO_VALUE 0x5a5a5a5a5a5a5a5aull /* what an uncacheable read returns */

/* Control registers. */
enum {
  CR_DCR = 0, CR_ITM = 1, CR_IVA = 2, CR_PTA = 8, CR_IPSR = 16, CR_ISR = 17, CR_IIP = 19,
  CR_IFA = 20, CR_ITIR = 21, CR_IIPA = 22, CR_IFS = 23, CR_IIM = 24, CR_IHA = 25, CR_IVR = 65,
  CR_TPR = 66, CR_EOI = 67, CR_IRR0 = 68, CR_ITV = 72,
};

/* The insertion format: a present, accessed, dirty, write-back page at physical pa. */
#define PTE_P 1ull
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_MA(m) ((uint64_t)(m) << 2)
#define PTE_PL(n) ((uint64_t)(n) << 7)
#define PTE_AR(n) ((uint64_t)(n) << 9)
static inline uint64_t sa_pte(uint64_t pa, unsigned ar, unsigned pl) {
  return PTE_P | PTE_A | PTE_D | PTE_PL(pl) | PTE_AR(ar) | (pa & 0x3fffffffff000ull);
}
static inline uint64_t sa_itir(unsigned ps, uint32_t key) { return (uint64_t)ps << 2 | (uint64_t)key << 8; }
static inline uint64_t sa_rr(uint32_t rid, unsigned ps, bool ve) { return (uint64_t)rid << 8 | ps << 2 | (ve ? 1 : 0); }

typedef struct sa_io { uint64_t va; unsigned size; bool write; uint64_t val; } sa_io;

typedef struct sa_env {
  ia64_cpu cpu;
  uint8_t *ram;
  uint64_t now;                 /* the guest clock (ns) */
  unsigned nio;
  sa_io io[16];
  ia64_pxlat last;              /* ia64_translate's last answer */
  unsigned nwake, narm, nptcg;
  uint64_t armed_at;
  uint32_t ptcg_rid;
  uint64_t ptcg_va;
  unsigned ptcg_ps;
} sa_env;

static inline int sa_translate(void *ctx, ia64_cpu *c, uint64_t va, unsigned acc, ia64_xlat *out) {
  sa_env *e = ctx;
  ia64_pxlat px;
  if (ia64_translate(c, va, acc, &px) < 0) return -1;
  e->last = px;
  if (px.ma == IA64_MA_UC || px.pa >= SA_RAM) return IA64_XLAT_IO;
  out->host_page = e->ram + (px.pa & ~(uint64_t)(IA64_PAGE_SIZE - 1));
  out->perms = px.perms;
  return 0;
}

static inline int sa_mmio(void *ctx, ia64_cpu *c, uint64_t va, unsigned size, bool write, uint64_t *val) {
  (void)c;
  sa_env *e = ctx;
  if (e->nio < 16) e->io[e->nio++] = (sa_io){va, size, write, write ? *val : 0};
  if (!write) *val = SA_IO_VALUE & (size == 8 ? ~0ull : (1ull << (8 * size)) - 1);
  return 0;
}

static const ia64_mem_ops sa_mem_ops = {sa_translate, sa_mmio};

static inline uint64_t sa_clock(void *ctx) { return ((sa_env *)ctx)->now; }
static inline void sa_wake(void *ctx, ia64_cpu *c) {
  (void)c;
  __atomic_fetch_add(&((sa_env *)ctx)->nwake, 1, __ATOMIC_SEQ_CST);
}
static inline void sa_timer_arm(void *ctx, ia64_cpu *c, uint64_t at) {
  (void)c;
  sa_env *e = ctx;
  e->narm++;
  e->armed_at = at;
}
static inline void sa_ptc_global(void *ctx, ia64_cpu *c, uint32_t rid, uint64_t va, unsigned ps) {
  (void)c;
  sa_env *e = ctx;
  e->nptcg++;
  e->ptcg_rid = rid, e->ptcg_va = va, e->ptcg_ps = ps;
}

static inline int sa_setup(void **state) {
  sa_env *e = calloc(1, sizeof *e);
  if (!e) return -1;
  e->ram = calloc(1, SA_RAM);
  if (!e->ram || ia64_cpu_init(&e->cpu, &sa_mem_ops, e) != 0) return -1;
  e->cpu.sys.hooks = (ia64_sys_hooks){sa_clock, sa_wake, sa_timer_arm, sa_ptc_global};
  e->cpu.sys.hook_ctx = e;
  *state = e;
  return 0;
}

static inline int sa_teardown(void **state) {
  sa_env *e = *state;
  ia64_cpu_destroy(&e->cpu);
  free(e->ram);
  free(e);
  return 0;
}

static inline uint64_t sa_gr(sa_env *e, unsigned r) { return ia64_gr_read(&e->cpu, r, NULL); }
static inline void sa_setgr(sa_env *e, unsigned r, uint64_t v) { ia64_gr_write(&e->cpu, r, v, false); }
static inline uint64_t sa_ld8(sa_env *e, uint64_t pa) {
  uint64_t v;
  memcpy(&v, e->ram + pa, 8);
  return v;
}
static inline void sa_st8(sa_env *e, uint64_t pa, uint64_t v) { memcpy(e->ram + pa, &v, 8); }

/* Assemble src at physical address pa (bundles only; branches are IP-relative). Returns the
 * number of bytes placed. */
static inline size_t sa_asm(sa_env *e, uint64_t pa, const char *src) {
  size_t n;
  uint8_t *code = ia64t_assemble(src, NULL, &n);
  if (!code) fail_msg("cannot assemble:\n%s", src);
  assert_true(pa + n <= SA_RAM);
  memcpy(e->ram + pa, code, n);
  free(code);
  for (uint64_t p = pa & ~(uint64_t)(IA64_PAGE_SIZE - 1); p < pa + n; p += IA64_PAGE_SIZE)
    ia64_code_invalidate(&e->cpu, e->ram + p);
  return n;
}

/* A snippet followed by break.i SA_DONE. */
static inline size_t sa_code(sa_env *e, uint64_t pa, const char *src) {
  char full[8192];
  snprintf(full, sizeof full, "%s\n;;\nbreak.i %d\n;;\n", src, SA_DONE);
  return sa_asm(e, pa, full);
}

/* Set the PSR the way an instruction would (the software TLB, stepping, interrupts follow). */
static inline void sa_psr(sa_env *e, uint64_t psr) {
  uint64_t old = e->cpu.psr;
  e->cpu.psr = psr;
  ia64_psr_changed(&e->cpu, old);
}

/* Run from ip at slot 0 (or where the CPU is, with ip = 0) for at most n instructions. */
static inline ia64_stop sa_run(sa_env *e, uint64_t ip, uint64_t n) {
  if (ip) e->cpu.ip = ip, e->cpu.ri = 0;
  return ia64_run(&e->cpu, n);
}

/* The run stopped with interruption vector v (and, for a break, immediate iim). */
static inline void sa_expect_stop(sa_env *e, ia64_stop st, int v) {
  if (st != IA64_STOP_INTR || e->cpu.intr.vector != v)
    fail_msg("want vector 0x%x, got stop %d vector 0x%x isr 0x%" PRIx64 " ifa 0x%" PRIx64 " at %" PRIx64 " slot %u",
             v, st, e->cpu.intr.vector, e->cpu.intr.isr, e->cpu.intr.ifa, e->cpu.intr.iip, e->cpu.intr.ri);
}
static inline void sa_expect_done(sa_env *e, ia64_stop st) {
  sa_expect_stop(e, st, IA64_VEC_BREAK);
  if (e->cpu.intr.iim != SA_DONE) fail_msg("stopped at break 0x%" PRIx64, e->cpu.intr.iim);
}

/* Run, delivering every interruption but the closing break through the guest's IVT, until
 * that break (at most n instructions per leg, 50 legs). */
static inline void sa_run_delivering(sa_env *e, uint64_t ip, uint64_t n) {
  ia64_stop st = sa_run(e, ip, n);
  for (int legs = 0; legs < 50; legs++) {
    if (st == IA64_STOP_INTR && !(e->cpu.intr.vector == IA64_VEC_BREAK && e->cpu.intr.iim == SA_DONE)) {
      ia64_deliver(&e->cpu);
      st = sa_run(e, 0, n);
      continue;
    }
    sa_expect_done(e, st);
    return;
  }
  fail_msg("too many interruptions");
}

#endif
