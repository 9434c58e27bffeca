/* aspace.c — the process's guest-virtual address space and the translate() callback the
 * CPU's software TLB calls on a miss.
 *
 * A mapping is a region [start, end) of 16 KiB pages backed by anonymous host memory; the
 * regions are kept sorted in an array, so a TLB miss is a binary search. Unmapping or
 * re-protecting part of a region splits it (the pieces keep pointing into the same host
 * block, and host pages that leave the guest are returned with munmap). Growing a region in
 * place (brk) uses mremap, so the heap stays one region. Every change drops the CPU's
 * software TLB, and pages that leave the guest drop their decoded code: a later mapping may
 * get the same host memory back.
 *
 * Faults are those the hardware would raise with Linux's page tables: no mapping is a TLB
 * miss the kernel cannot resolve (Data/Instruction TLB vector), a mapping without the right
 * is an Access Rights fault; both become SIGSEGV (fault.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ia64run.h"

/* ---- Search ---------------------------------------------------------------------------------- */

/* Index of the first region whose end is above va (as->n if none). */
static size_t first_above(const ir_aspace *as, uint64_t va) {
  size_t lo = 0, hi = as->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (as->r[mid].end <= va) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const ir_region *ir_as_find(const ir_aspace *as, uint64_t va) {
  size_t i = first_above(as, va);
  return i < as->n && as->r[i].start <= va ? &as->r[i] : NULL;
}

bool ir_as_is_free(const ir_aspace *as, uint64_t start, uint64_t len) {
  size_t i = first_above(as, start);
  return i == as->n || as->r[i].start >= start + len;
}

bool ir_as_user_range(uint64_t start, uint64_t len) {
  uint64_t off = IR_REGION_OFFSET(start);
  return len && len <= IR_RGN_MAP_LIMIT && off <= IR_RGN_MAP_LIMIT - len && start < IR_TASK_SIZE;
}

bool ir_as_check(const ir_aspace *as) {
  for (size_t i = 0; i < as->n; i++) {
    const ir_region *r = &as->r[i];
    if (r->start >= r->end || (r->start | r->end) & ~IR_PAGE_MASK || !r->host) return false;
    if (!ir_as_user_range(r->start, r->end - r->start)) return false;
    if (i && as->r[i - 1].end > r->start) return false;
  }
  return true;
}

uint64_t ir_as_find_free(const ir_aspace *as, uint64_t base, uint64_t len) {
  base &= IR_PAGE_MASK;
  uint64_t limit = IR_REGION_BASE(IR_REGION(base)) + IR_RGN_MAP_LIMIT;
  if (IR_REGION(base) > 4 || len > IR_RGN_MAP_LIMIT) return 0;
  uint64_t at = base;
  for (size_t i = first_above(as, base); at <= limit - len; i++) {
    if (i == as->n || as->r[i].start >= at + len) return at;
    at = as->r[i].end;
  }
  return 0;
}

uint8_t *ir_as_host(const ir_aspace *as, uint64_t va, uint64_t len) {
  const ir_region *r = ir_as_find(as, va);
  if (!r || len > r->end - va) return NULL;
  return r->host + (va - r->start);
}

/* ---- Changes --------------------------------------------------------------------------------- */

static int reserve(ir_aspace *as, size_t extra) {
  if (as->n + extra <= as->cap) return 0;
  size_t cap = as->cap ? as->cap * 2 : 32;
  while (cap < as->n + extra) cap *= 2;
  ir_region *r = realloc(as->r, cap * sizeof *r);
  if (!r) return -ENOMEM;
  as->r = r, as->cap = cap;
  return 0;
}

/* The guest no longer sees [host, host+len): forget code decoded from it, give it back. */
static void release_host(ir_aspace *as, uint8_t *host, uint64_t len) {
  if (as->cpu)
    for (uint64_t off = 0; off < len; off += IA64_PAGE_SIZE) ia64_code_invalidate(as->cpu, host + off);
  munmap(host, len);
}

static void changed(ir_aspace *as) {
  if (as->cpu) ia64_stlb_flush(as->cpu);
}

/* Split region i at a (start < a < end) into two; both keep their share of the host block. */
static int split(ir_aspace *as, size_t i, uint64_t a) {
  if (reserve(as, 1)) return -ENOMEM;
  memmove(&as->r[i + 1], &as->r[i], (as->n - i) * sizeof as->r[0]);
  as->n++;
  as->r[i].end = a;
  as->r[i + 1].start = a;
  as->r[i + 1].host = as->r[i].host + (a - as->r[i].start);
  return 0;
}

int ir_as_unmap(ir_aspace *as, uint64_t start, uint64_t len) {
  uint64_t end = start + len;
  size_t i = first_above(as, start);
  if (i < as->n && as->r[i].start < start && as->r[i].end > end) {
    if (split(as, i, start)) return -ENOMEM;  /* a hole in the middle: cut once, then trim */
    i++;
  }
  while (i < as->n && as->r[i].start < end) {
    ir_region *r = &as->r[i];
    uint64_t a = r->start > start ? r->start : start, b = r->end < end ? r->end : end;
    release_host(as, r->host + (a - r->start), b - a);
    if (a == r->start && b == r->end) {
      memmove(r, r + 1, (as->n - i - 1) * sizeof *r);
      as->n--;
      continue;
    }
    if (a == r->start) r->host += b - r->start, r->start = b;
    else r->end = a;
    i++;
  }
  changed(as);
  return 0;
}

/* Grow region i (ending at start) over [start, start+len) in place, if the host allows. */
static bool grow_in_place(ir_aspace *as, size_t i, uint64_t len) {
  ir_region *r = &as->r[i];
  uint64_t old = r->end - r->start;
  void *h = mremap(r->host, old, old + len, 0);
  if (h == MAP_FAILED) return false;
  r->end += len;
  return true;
}

int ir_as_map(ir_aspace *as, uint64_t start, uint64_t len, unsigned perms, ir_map_kind kind) {
  if ((start | len) & ~IR_PAGE_MASK || !ir_as_user_range(start, len)) return -EINVAL;
  int rc = ir_as_unmap(as, start, len);
  if (rc) return rc;
  size_t i = first_above(as, start);
  if (i > 0 && as->r[i - 1].end == start && as->r[i - 1].perms == perms && as->r[i - 1].kind == kind &&
      grow_in_place(as, i - 1, len))
    return 0;
  if (reserve(as, 1)) return -ENOMEM;
  void *h = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (h == MAP_FAILED) return -ENOMEM;
  memmove(&as->r[i + 1], &as->r[i], (as->n - i) * sizeof as->r[0]);
  as->r[i] = (ir_region){start, start + len, h, perms, kind};
  as->n++;
  changed(as);
  return 0;
}

int ir_as_protect(ir_aspace *as, uint64_t start, uint64_t len, unsigned perms) {
  uint64_t end = start + len;
  size_t i = first_above(as, start);
  for (uint64_t at = start; at < end; i++) {   /* every page must be mapped */
    if (i >= as->n || as->r[i].start > at) return -ENOMEM;
    at = as->r[i].end;
  }
  i = first_above(as, start);
  if (as->r[i].start < start) {
    if (split(as, i, start)) return -ENOMEM;
    i++;
  }
  for (; i < as->n && as->r[i].start < end; i++) {
    if (as->r[i].end > end && split(as, i, end)) return -ENOMEM;
    as->r[i].perms = perms;
  }
  changed(as);
  return 0;
}

void ir_as_free(ir_aspace *as) {
  for (size_t i = 0; i < as->n; i++) munmap(as->r[i].host, as->r[i].end - as->r[i].start);
  free(as->r);
  as->r = NULL;
  as->n = as->cap = 0;
}

/* ---- The CPU's TLB miss ---------------------------------------------------------------------- */

static int translate(void *ctx, ia64_cpu *cpu, uint64_t va, unsigned access, ia64_xlat *out) {
  const ir_region *r = ir_as_find(ctx, va);
  bool fetch = access == IA64_ACC_X;
  uint64_t isr = access == IA64_ACC_W ? IA64_ISR_W : fetch ? IA64_ISR_X : IA64_ISR_R;
  if (!r)
    return ia64_raise(cpu, fetch ? IA64_VEC_INST_TLB : IA64_VEC_DATA_TLB, isr, va);
  if (!(r->perms & access))
    return ia64_raise(cpu, fetch ? IA64_VEC_INST_ACCESS_RIGHTS : IA64_VEC_DATA_ACCESS_RIGHTS, isr, va);
  out->host_page = r->host + ((va & ~(uint64_t)(IA64_PAGE_SIZE - 1)) - r->start);
  out->perms = r->perms;
  return 0;
}

const ia64_mem_ops ir_mem_ops = {translate, NULL};
