/* mem.c — guest-physical memory, the shadow TLB, the dirty log and code coherence.
 *
 * Guest-physical memory is one host mapping (MAP_NORESERVE, populated on first touch) at
 * vm->ram: guest-physical address p is host address ram + p, with RAM below the device
 * window and again from 4 GiB (docs/platform.md). The shadow TLB is the CPU's software TLB
 * (ia64_stlb_ent, one 4 KiB frame per entry); vm_translate() below is its miss handler: it
 * translates the guest address (guest TLB, or physical mode: bit 63 = uncacheable), sends
 * everything that is not RAM to io() and, for RAM, decides which of read/write/execute the
 * entry may cache. Two policies withhold permission so that the first access of a kind comes
 * back here:
 *
 *  - Dirty log. While logging, write is granted only for frames already dirty in the
 *    current round; the first store to a clean frame marks it (atomic OR) and then grants
 *    write. Starting the log and each harvest pause every vCPU (vm_pause: each stops at the
 *    end of its current bundle), exchange the bitmap words, revoke every write grant in
 *    every software TLB and resume. With all vCPUs stopped there is one instant separating
 *    the rounds for vCPU stores; device writes mark after their data is in place, with an
 *    atomic OR that the harvest's per-word exchange orders. We chose pause-all over a
 *    per-vCPU safe-point generation because it gives that single instant (the log is exact
 *    without reasoning about stores in flight around a generation change) and a pause costs
 *    a few microseconds (bench/vm), nothing next to a pre-copy round. With logging off,
 *    write is granted at once and stores pay nothing.
 *
 *  - Code coherence. A vCPU keeps pre-decoded code per host page; cpu.c keeps its own
 *    stores coherent, but stores from another vCPU and device writes are ours to handle. The
 *    code bitmap says "some vCPU may have decoded this frame". Invariant (after every vCPU
 *    has done its requests): a frame with the bit set has no write grant in any software
 *    TLB, a frame without it has no execute grant. An execute miss sets the bit and asks the
 *    other vCPUs to revoke their write grants; a write miss (or a device write) clears it
 *    and asks the others to drop their decoded code and execute grants. Requests are done at
 *    the target's next bundle boundary, the lag real caches have before fc/sync.i.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vm_internal.h"

#define NO_TAG (~(uint64_t)0)

/* ---- Layout --------------------------------------------------------------------------------- */

int vm_mem_init(vm *v, uint64_t ram_size, char *msg, size_t msglen) {
  v->ram_size = ram_size;
  v->low_ram = ram_size < VM_LOW_RAM_MAX ? ram_size : VM_LOW_RAM_MAX;
  v->high_ram = ram_size - v->low_ram;
  v->span = v->high_ram ? VM_HIGH_RAM_BASE + v->high_ram : v->low_ram;
  v->nframes = v->span >> VM_FRAME_SHIFT;
  v->nwords = (v->nframes + 63) / 64;
  int fl = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
  void *ram = mmap(NULL, v->span, PROT_READ | PROT_WRITE, fl, -1, 0);
  void *dirty = mmap(NULL, v->nwords * 8, PROT_READ | PROT_WRITE, fl, -1, 0);
  void *code = mmap(NULL, v->nwords * 8, PROT_READ | PROT_WRITE, fl, -1, 0);
  if (ram == MAP_FAILED || dirty == MAP_FAILED || code == MAP_FAILED) {
    if (ram != MAP_FAILED) munmap(ram, v->span);
    if (dirty != MAP_FAILED) munmap(dirty, v->nwords * 8);
    if (code != MAP_FAILED) munmap(code, v->nwords * 8);
    snprintf(msg, msglen, "cannot reserve %llu MiB of address space for guest memory; lower --memory",
             (unsigned long long)(ram_size >> 20));
    return HPVM_ENOMEM;
  }
  v->ram = ram;
  v->dirty = dirty;
  v->code = code;
  return 0;
}

void vm_mem_free(vm *v) {
  if (v->ram) munmap(v->ram, v->span);
  if (v->dirty) munmap((void *)v->dirty, v->nwords * 8);
  if (v->code) munmap((void *)v->code, v->nwords * 8);
  v->ram = NULL, v->dirty = v->code = NULL;
}

/* ---- Which frames hold anything (migration's round 0) -------------------------------------------
 * The RAM mapping is populated on first touch, so a frame whose host page was never populated
 * reads zeros and need not even be read. /proc/self/pagemap says it per host page (bit 63
 * present, bit 62 swapped out); mincore() would not do, it calls a swapped-out page absent.
 * When pagemap cannot be read (or host pages are not 4 KiB) every RAM frame is reported. */
#define PAGEMAP_CHUNK 8192                /* pagemap entries per read (64 KiB) */

static void set_ram_frames(const vm *v, uint64_t *bitmap) {
  memset(bitmap, 0, v->nwords * 8);
  const struct { uint64_t base, len; } ranges[2] = {{0, v->low_ram}, {VM_HIGH_RAM_BASE, v->high_ram}};
  for (unsigned r = 0; r < 2; r++)
    for (uint64_t f = ranges[r].base >> VM_FRAME_SHIFT; f < (ranges[r].base + ranges[r].len) >> VM_FRAME_SHIFT; f++)
      bitmap[f / 64] |= 1ull << (f % 64);
}

int vm_mem_populated(vm *v, uint64_t *bitmap) {
  set_ram_frames(v, bitmap);
  if (sysconf(_SC_PAGESIZE) != (long)VM_FRAME_SIZE) return 0;
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  uint64_t *ent = malloc(PAGEMAP_CHUNK * 8);
  uint64_t *out = malloc(v->nwords * 8);
  bool ok = ent && out;
  if (ok) memset(out, 0, v->nwords * 8);
  uint64_t first = (uint64_t)(uintptr_t)v->ram >> VM_FRAME_SHIFT;
  for (uint64_t f = 0; ok && f < v->nframes; f += PAGEMAP_CHUNK) {
    size_t n = v->nframes - f < PAGEMAP_CHUNK ? v->nframes - f : PAGEMAP_CHUNK;
    /* Skip chunks with no RAM (the device window of a large VM). */
    bool any = false;
    for (size_t w = f / 64; w < (f + n + 63) / 64 && !any; w++) any = bitmap[w] != 0;
    if (!any) continue;
    ok = pread(fd, ent, n * 8, (off_t)((first + f) * 8)) == (ssize_t)(n * 8);
    for (size_t i = 0; ok && i < n; i++)
      if (ent[i] >> 62) out[(f + i) / 64] |= 1ull << ((f + i) % 64);
  }
  if (ok)
    for (size_t w = 0; w < v->nwords; w++) bitmap[w] &= out[w];
  free(ent), free(out);
  close(fd);
  return 0;
}

int vm_mem_clear(vm *v) {
  if (v->started) return HPVM_EBUSY;
  if (madvise(v->ram, v->span, MADV_DONTNEED) != 0) memset(v->ram, 0, v->span);
  return 0;
}

uint64_t vm_memory_size(const vm *v) { return v->ram_size; }
uint64_t vm_phys_span(const vm *v) { return v->span; }
size_t vm_dirty_log_words(const vm *v) { return v->nwords; }

static inline bool ram_addr(const vm *v, uint64_t pa) {
  return pa < v->low_ram || (pa >= VM_HIGH_RAM_BASE && pa < v->span);
}

bool vm_is_ram(const vm *v, uint64_t gpa, uint64_t len) {
  if (len == 0) return ram_addr(v, gpa);
  if (gpa + len < gpa) return false;
  if (gpa + len <= v->low_ram) return true;
  return gpa >= VM_HIGH_RAM_BASE && gpa + len <= v->span;
}

uint8_t *vm_mem_ptr(vm *v, uint64_t gpa, uint64_t len) {
  return vm_is_ram(v, gpa, len) ? v->ram + gpa : NULL;
}

int vm_mem_read(vm *v, uint64_t gpa, void *buf, uint64_t len) {
  if (!vm_is_ram(v, gpa, len)) return HPVM_ERANGE;
  memcpy(buf, v->ram + gpa, len);
  return 0;
}

int vm_mem_write(vm *v, uint64_t gpa, const void *buf, uint64_t len) {
  if (!vm_is_ram(v, gpa, len)) return HPVM_ERANGE;
  memcpy(v->ram + gpa, buf, len);
  vm_mem_written(v, gpa, len);
  return 0;
}

/* ---- Bitmaps -------------------------------------------------------------------------------- */

static inline bool bit_test(_Atomic uint64_t *map, uint64_t f) {
  return (atomic_load_explicit(&map[f / 64], memory_order_relaxed) >> (f % 64)) & 1;
}
/* Set / clear; true when this call changed the bit. */
static inline bool bit_set(_Atomic uint64_t *map, uint64_t f) {
  uint64_t m = 1ull << (f % 64);
  return !(atomic_fetch_or(&map[f / 64], m) & m);
}
static inline bool bit_clear(_Atomic uint64_t *map, uint64_t f) {
  uint64_t m = 1ull << (f % 64);
  return atomic_fetch_and(&map[f / 64], ~m) & m;
}

/* ---- Requests between vCPUs ----------------------------------------------------------------- */

/* Clear the tags of `which` (IA64_ACC_W/X) in every entry of c's software TLB that maps
 * host page h. */
static void stlb_drop(ia64_cpu *c, const uint8_t *h, unsigned which) {
  for (unsigned i = 0; i < IA64_STLB_SIZE; i++) {
    ia64_stlb_ent *e = &c->stlb[i];
    if ((which & IA64_ACC_W) && e->tag_w != NO_TAG && (const uint8_t *)(uintptr_t)(e->tag_w + e->addend) == h)
      e->tag_w = NO_TAG;
    if ((which & IA64_ACC_X) && e->tag_x != NO_TAG && (const uint8_t *)(uintptr_t)(e->tag_x + e->addend) == h)
      e->tag_x = NO_TAG;
  }
}

static void drop_code(vm_vcpu *vc, uint64_t f) {
  uint8_t *h = vc->vm->ram + (f << VM_FRAME_SHIFT);
  ia64_code_invalidate(&vc->cpu, h);
  stlb_drop(&vc->cpu, h, IA64_ACC_X);
  vc->xframes[f / 64] &= ~(1ull << (f % 64));
}

void vm_vcpu_revoke_writes(vm_vcpu *vc) {
  for (unsigned i = 0; i < IA64_STLB_SIZE; i++) vc->cpu.stlb[i].tag_w = NO_TAG;
}

/* Too many requests queued: do everything they could have asked for. Dropping every TC
 * entry is a purge the architecture allows at any time (TRs stay). */
static void do_all(vm_vcpu *vc) {
  vm *v = vc->vm;
  for (size_t w = 0; w < v->nwords; w++)
    for (uint64_t bits = vc->xframes[w]; bits; bits &= bits - 1)
      ia64_code_invalidate(&vc->cpu, v->ram + ((w * 64 + (unsigned)__builtin_ctzll(bits)) << VM_FRAME_SHIFT));
  memset(vc->xframes, 0, v->nwords * 8);
  ia64_tlb_side *sides[2] = {&vc->cpu.sys.itlb, &vc->cpu.sys.dtlb};
  for (unsigned s = 0; s < 2; s++)
    for (unsigned i = 0; i < IA64_TC_SETS * IA64_TC_WAYS; i++) sides[s]->tc[i].valid = 0;
  ia64_stlb_flush(&vc->cpu);
}

void vm_vcpu_do_requests(vm_vcpu *vc) {
  vm *v = vc->vm;
  if (vc->req_all) do_all(vc);
  else
    for (unsigned i = 0; i < vc->nreq; i++) {
      const vcpu_req *r = &vc->req[i];
      if (r->kind == VCPU_REQ_DROP_CODE) drop_code(vc, r->arg);
      else if (r->kind == VCPU_REQ_REVOKE_W) stlb_drop(&vc->cpu, v->ram + (r->arg << VM_FRAME_SHIFT), IA64_ACC_W);
      else ia64_tlb_purge_remote(&vc->cpu, r->rid, r->arg, r->ps);
    }
  vc->req_all = false;
  vc->nreq = 0;
}

/* Ask every vCPU but `self` (NULL: all) to do r. */
void vm_broadcast(vm *v, vm_vcpu *self, vcpu_req r) {
  pthread_mutex_lock(&v->lock);
  for (unsigned i = 0; i < v->ncpus; i++)
    if (v->vcpu[i] != self) vm_vcpu_request(v->vcpu[i], r);
  pthread_mutex_unlock(&v->lock);
}

static void broadcast(vm *v, vm_vcpu *self, uint64_t f, unsigned kind) {
  vm_broadcast(v, self, (vcpu_req){.kind = (uint8_t)kind, .arg = f});
  if (kind == VCPU_REQ_DROP_CODE) atomic_fetch_add_explicit(&v->st_code_flushes, 1, memory_order_relaxed);
}

/* ---- Writes that are not vCPU stores -------------------------------------------------------- */

void vm_mem_written(vm *v, uint64_t gpa, uint64_t len) {
  if (len == 0) return;
  uint64_t first = gpa >> VM_FRAME_SHIFT, last = (gpa + len - 1) >> VM_FRAME_SHIFT;
  bool logging = atomic_load(&v->logging);
  for (uint64_t f = first; f <= last; f++) {
    if (logging) bit_set(v->dirty, f);
    if (bit_test(v->code, f) && bit_clear(v->code, f)) broadcast(v, NULL, f, VCPU_REQ_DROP_CODE);
  }
}

/* ---- The shadow TLB's miss handler ---------------------------------------------------------- */

/* What a RAM frame's software TLB entry may cache, given the access that missed and the
 * rights the guest's translation gives (see the two policies at the top of the file). */
static unsigned frame_perms(vm_vcpu *vc, uint64_t f, unsigned acc, unsigned rights) {
  vm *v = vc->vm;
  const unsigned R = IA64_ACC_R, W = IA64_ACC_W, X = IA64_ACC_X;
  if (acc == X) {
    vc->xframes[f / 64] |= 1ull << (f % 64);
    if (!bit_test(v->code, f) && bit_set(v->code, f)) broadcast(v, vc, f, VCPU_REQ_REVOKE_W);
    return rights & (R | X);
  }
  if (acc == W) {
    if (bit_test(v->code, f) && bit_clear(v->code, f)) {
      broadcast(v, vc, f, VCPU_REQ_DROP_CODE);
      stlb_drop(&vc->cpu, v->ram + (f << VM_FRAME_SHIFT), X);  /* cpu.c drops our decoded page */
    }
    if (atomic_load_explicit(&v->logging, memory_order_acquire) && !bit_test(v->dirty, f) && bit_set(v->dirty, f))
      atomic_fetch_add_explicit(&v->st_dirty_faults, 1, memory_order_relaxed);
    return rights & (R | W);
  }
  if (bit_test(v->code, f)) {
    vc->xframes[f / 64] |= 1ull << (f % 64);
    return rights & (R | X);
  }
  if ((rights & W) && (!atomic_load_explicit(&v->logging, memory_order_acquire) || bit_test(v->dirty, f)))
    return rights & (R | W);
  return rights & R;
}

/* The guest's translation (ia64_translate: its TLB and VHPT, or physical mode) gives the
 * guest-physical address and the rights; the memory attribute matters only for what is not
 * RAM, which always goes to io(). */
static int vm_translate(void *ctx, ia64_cpu *c, uint64_t va, unsigned acc, ia64_xlat *out) {
  vm_vcpu *vc = ctx;
  vm *v = vc->vm;
  ia64_pxlat px;
  if (ia64_translate(c, va, acc, &px)) return -1;
  if (!ram_addr(v, px.pa)) {
    vc->io_page = va & ~(uint64_t)(IA64_PAGE_SIZE - 1);
    vc->io_pa = px.pa & ~(uint64_t)(IA64_PAGE_SIZE - 1);
    return IA64_XLAT_IO;
  }
  uint64_t f = px.pa >> VM_FRAME_SHIFT;
  out->host_page = v->ram + (f << VM_FRAME_SHIFT);
  out->perms = frame_perms(vc, f, acc, px.perms);
  return 0;
}

/* io() follows the translate() that answered IA64_XLAT_IO for the same page. */
static int vm_io(void *ctx, ia64_cpu *c, uint64_t va, unsigned size, bool write, uint64_t *val) {
  vm_vcpu *vc = ctx;
  uint64_t pa;
  if ((va & ~(uint64_t)(IA64_PAGE_SIZE - 1)) == vc->io_page) {
    pa = vc->io_pa | (va & (IA64_PAGE_SIZE - 1));
  } else {
    ia64_pxlat px;
    if (ia64_translate(c, va, write ? IA64_ACC_W : IA64_ACC_R, &px)) return -1;
    pa = px.pa;
  }
  return vm_io_access(vc->vm, vc, pa, size, write, val);
}

const ia64_mem_ops vm_mem_ops = {vm_translate, vm_io};

/* ---- Dirty log ------------------------------------------------------------------------------- */

static void revoke_all_writes(vm *v) {
  pthread_mutex_lock(&v->lock);
  for (unsigned i = 0; i < v->ncpus; i++) vm_vcpu_revoke_writes(v->vcpu[i]);
  pthread_mutex_unlock(&v->lock);
}

int vm_dirty_log_start(vm *v) {
  pthread_mutex_lock(&v->dirty_mutex);
  vm_pause(v);
  for (size_t w = 0; w < v->nwords; w++) atomic_store(&v->dirty[w], 0);
  atomic_store(&v->logging, true);
  revoke_all_writes(v);
  vm_resume(v);
  pthread_mutex_unlock(&v->dirty_mutex);
  return 0;
}

int vm_dirty_log_harvest(vm *v, uint64_t *bitmap) {
  pthread_mutex_lock(&v->dirty_mutex);
  if (!atomic_load(&v->logging)) {
    pthread_mutex_unlock(&v->dirty_mutex);
    return HPVM_EINVAL;
  }
  vm_pause(v);
  for (size_t w = 0; w < v->nwords; w++)
    bitmap[w] = atomic_load_explicit(&v->dirty[w], memory_order_relaxed) ? atomic_exchange(&v->dirty[w], 0) : 0;
  revoke_all_writes(v);
  vm_resume(v);
  pthread_mutex_unlock(&v->dirty_mutex);
  return 0;
}

void vm_dirty_log_stop(vm *v) {
  pthread_mutex_lock(&v->dirty_mutex);
  atomic_store(&v->logging, false);
  pthread_mutex_unlock(&v->dirty_mutex);
}

bool vm_dirty_logging(const vm *v) { return atomic_load(&((vm *)v)->logging); }
