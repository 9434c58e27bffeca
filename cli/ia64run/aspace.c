/* aspace.c — the process's guest-virtual address space: a list of regions backed by
 * anonymous host memory, and the translate() callback the CPU's software TLB calls. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hpvm_error.h"
#include "ia64run.h"

ir_region *ir_find(ir_process *p, uint64_t va) {
  for (unsigned i = 0; i < p->nregions; i++)
    if (va >= p->regions[i].start && va < p->regions[i].end) return &p->regions[i];
  return NULL;
}

int ir_map(ir_process *p, uint64_t start, uint64_t len, unsigned perms) {
  start &= ~(uint64_t)(IA64_PAGE_SIZE - 1);
  len = (len + IA64_PAGE_SIZE - 1) & ~(uint64_t)(IA64_PAGE_SIZE - 1);
  if (p->nregions == p->cap) {
    unsigned cap = p->cap ? p->cap * 2 : 16;
    ir_region *r = realloc(p->regions, cap * sizeof *r);
    if (!r) return HPVM_ENOMEM;
    p->regions = r, p->cap = cap;
  }
  void *h = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (h == MAP_FAILED) return HPVM_ENOMEM;
  p->regions[p->nregions++] = (ir_region){start, start + len, h, perms};
  return 0;
}

static int translate(void *ctx, ia64_cpu *cpu, uint64_t va, unsigned access, ia64_xlat *out) {
  ir_process *p = ctx;
  ir_region *r = ir_find(p, va);
  if (!r || !(r->perms & access)) {
    uint64_t isr = access == IA64_ACC_W ? IA64_ISR_W : access == IA64_ACC_X ? IA64_ISR_X : IA64_ISR_R;
    return ia64_raise(cpu, access == IA64_ACC_X ? IA64_VEC_INST_TLB : IA64_VEC_DATA_TLB, isr, va);
  }
  out->host_page = r->host + ((va & ~(uint64_t)(IA64_PAGE_SIZE - 1)) - r->start);
  out->perms = r->perms;
  return 0;
}

const ia64_mem_ops ir_mem_ops = {translate, NULL};
