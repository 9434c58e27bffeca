/* rse.c — the register stack engine: the stacked registers r32..r127 of every frame in the
 * call chain, kept in a circular physical file of IA64_NSTACKED registers and spilled to /
 * filled from the backing store in guest memory when the file runs out.
 *
 * The model (SDM vol. 2, ch. 6, without the optional clean partition):
 *   physical file, circular:  [ dirty: ndirty | current frame: sof | free ]
 *                                             ^ bof (physical index of r32)
 *   backing store, memory:    ... spilled ... [bspstore .. dirty images .. bsp) ...
 * The dirty registers are the frames of the callers still in the file; the oldest of them
 * belongs at ar.bspstore, the newest just below ar.bsp, so ar.bsp (the address of the
 * current frame's r32) is never stored: it is bspstore skipped forward over ndirty registers
 * and the NaT collection slots between. A register spilled at an address whose bits 8:3 are
 * s puts its NaT bit in ar.rnat bit s; when bspstore reaches a slot with bits 8:3 all 1s,
 * ar.rnat is written there (an RNAT collection). Fills walk back the same way, reloading
 * ar.rnat when they cross a collection slot, so ar.rnat always holds the NaT bits of the
 * registers spilled in bspstore's own 64-slot group.
 *
 * Spills happen only when a frame grows past the free part of the file (alloc, a return to a
 * larger frame) or on flushrs; fills only when a return needs caller registers that left the
 * file (or on loadrs). So call depth is bounded only by the backing store's memory. Every
 * step moves one register and updates bspstore/ndirty at once: a fault on a mandatory RSE
 * load or store (ISR.rs set) leaves a consistent state and the instruction can be restarted.
 * That is where this model parts from the SDM's: a br.ret or rfi fills the caller's registers
 * before it changes the frame, so a fault there is taken on the br.ret/rfi itself (the
 * handler's rfi re-executes it), not after the return with ISR.ir and an incomplete frame.
 * Not modelled: rsc.mode (the RSE is always lazy, which every mode permits), rsc.pl (RSE
 * accesses translate like the CPU's own). rsc.be is: the backing store is big-endian then. */
#include "internal.h"

/* ---- Backing store addresses --------------------------------------------------------------- */

static inline unsigned rse_slot(uint64_t addr) { return (unsigned)(addr >> 3) & 63; }

uint64_t ia64_rse_skip(uint64_t addr, int64_t nregs) {
  /* Every 63 registers there is one collection slot; count the slots crossed. */
  int64_t delta = (int64_t)rse_slot(addr) + nregs;
  if (nregs < 0) delta -= 62;
  return addr + (uint64_t)((nregs + delta / 63) * 8);
}

uint64_t ia64_rse_bsp(const ia64_cpu *c) {
  return ia64_rse_skip(c->ar[IA64_AR_BSPSTORE], c->ndirty);
}

static inline unsigned phys(unsigned i) { return 32 + i % IA64_NSTACKED; }

/* Physical index (into c->gr) of the oldest dirty register. */
static inline unsigned oldest_dirty(const ia64_cpu *c) {
  return phys(c->bof + IA64_NSTACKED - c->ndirty);
}

/* ---- One register at a time ---------------------------------------------------------------- */

/* RSE accesses are mandatory loads and stores: their faults say so in ISR.rs. With rsc.be
 * the backing store is big-endian. */
static int rse_store(ia64_cpu *c, uint64_t a, uint64_t v) {
  if (UNLIKELY(c->ar[IA64_AR_RSC] & 16)) v = __builtin_bswap64(v);
  if (LIKELY(ia64_store(c, a, 8, v) == 0)) return 0;
  c->intr.isr |= IA64_ISR_RS;
  return -1;
}
static int rse_load(ia64_cpu *c, uint64_t a, uint64_t *v) {
  if (UNLIKELY(ia64_load(c, a, 8, v) < 0)) {
    c->intr.isr |= IA64_ISR_RS;
    return -1;
  }
  if (UNLIKELY(c->ar[IA64_AR_RSC] & 16)) *v = __builtin_bswap64(*v);
  return 0;
}

/* Spill the oldest dirty register to bspstore (and then ar.rnat if the next slot is a
 * collection slot). bspstore rests on a collection slot only if software put it there. */
static int spill_one(ia64_cpu *c) {
  uint64_t a = c->ar[IA64_AR_BSPSTORE];
  unsigned p = oldest_dirty(c);
  if (UNLIKELY(rse_slot(a) == 63)) {
    if (rse_store(c, a, c->ar[IA64_AR_RNAT] & ~(1ull << 63)) < 0) return -1;
    a += 8;
    c->ar[IA64_AR_BSPSTORE] = a;
  }
  if (rse_store(c, a, c->gr[p]) < 0) return -1;
  uint64_t bit = 1ull << rse_slot(a);
  c->ar[IA64_AR_RNAT] = c->nat[p] ? c->ar[IA64_AR_RNAT] | bit : c->ar[IA64_AR_RNAT] & ~bit;
  a += 8;
  if (rse_slot(a) == 63) {
    if (rse_store(c, a, c->ar[IA64_AR_RNAT] & ~(1ull << 63)) < 0) return -1;
    a += 8;
  }
  c->ar[IA64_AR_BSPSTORE] = a;
  c->ndirty--;
  return 0;
}

/* Fill the register just below bspstore into the physical register below the oldest
 * dirty one; it becomes dirty again (its image stays where it was). */
static int fill_one(ia64_cpu *c) {
  uint64_t a = c->ar[IA64_AR_BSPSTORE] - 8, v, rnat = c->ar[IA64_AR_RNAT];
  if (rse_slot(a) == 63) {
    if (rse_load(c, a, &rnat) < 0) return -1;
    a -= 8;
  }
  if (rse_load(c, a, &v) < 0) return -1;
  unsigned p = phys(c->bof + IA64_NSTACKED - c->ndirty - 1);
  c->gr[p] = v;
  c->nat[p] = (uint8_t)((rnat >> rse_slot(a)) & 1);
  /* The ALAT knows physical registers: an entry left by the frame that used this one while
   * its owner was in memory must not make the owner's chk.a succeed. */
  if (c->alat_live) ia64_alat_invalidate_reg(c, p, false);
  c->ar[IA64_AR_RNAT] = rnat & ~(1ull << 63);
  c->ar[IA64_AR_BSPSTORE] = a;
  c->ndirty++;
  return 0;
}

/* Make room for a frame of sof registers: spill the oldest dirty registers it would overlap. */
static int make_room(ia64_cpu *c, unsigned sof) {
  while (c->ndirty + sof > IA64_NSTACKED)
    if (spill_one(c) < 0) return -1;
  return 0;
}

/* ---- Frame changes ------------------------------------------------------------------------- */

int ia64_rse_alloc(ia64_cpu *c, unsigned sof, unsigned sol, unsigned sor) {
  if (make_room(c, sof) < 0) return -1;
  c->sof = sof;
  c->sol = sol;
  c->sor = sor;
  ia64_remap_frame(c);
  return 0;
}

void ia64_rse_call(ia64_cpu *c) {
  /* The caller's locals become dirty; its outputs are the callee's frame. Same registers
   * in use, so nothing moves. */
  c->bof = (c->bof + c->sol) % IA64_NSTACKED;
  c->ndirty += c->sol;
  uint64_t cfm = (uint64_t)(c->sof - c->sol);
  ia64_set_cfm(c, cfm);
}

int ia64_rse_return(ia64_cpu *c, unsigned below, uint64_t cfm) {
  /* The registers of the frame below the current bof must be back in the file, dirty. */
  while (c->ndirty < below)
    if (fill_one(c) < 0) return -1;
  c->bof = (c->bof + IA64_NSTACKED - below) % IA64_NSTACKED;
  c->ndirty -= below;
  ia64_set_cfm(c, cfm);
  /* A frame larger than what the call left (only after software rewrote ar.pfs) may need
   * more of the file. */
  return make_room(c, c->sof);
}

void ia64_rse_cover(ia64_cpu *c) {
  c->bof = (c->bof + c->sof) % IA64_NSTACKED;
  c->ndirty += c->sof;
  ia64_set_cfm(c, 0);
}

int ia64_rse_flushrs(ia64_cpu *c) {
  while (c->ndirty)
    if (spill_one(c) < 0) return -1;
  return 0;
}

/* Registers (not counting collection slots) between backing store addresses from <= to. */
static uint64_t rse_nregs(uint64_t from, uint64_t to) {
  return ((to - from) >> 3) - ((to >> 9) - (from >> 9));
}

int ia64_rse_loadrs(ia64_cpu *c) {
  uint64_t loadrs = ia64_field(c->ar[IA64_AR_RSC], 29, 19) << 3;  /* bits 18:16 ignored */
  uint64_t bsp = ia64_rse_bsp(c), target = bsp - loadrs;
  /* The registers of [target, bsp) are to be in the file, dirty; all older ones leave it. */
  if (target > bsp || rse_nregs(target, bsp) > IA64_NSTACKED - c->sof) return ia64_illegal_op(c);
  while (c->ar[IA64_AR_BSPSTORE] > target)
    if (fill_one(c) < 0) return -1;
  if (c->ar[IA64_AR_BSPSTORE] < target) {
    c->ndirty = (unsigned)rse_nregs(target, bsp);
    c->ar[IA64_AR_BSPSTORE] = target;
  }
  return 0;
}

void ia64_rse_set_bspstore(ia64_cpu *c, uint64_t v) {
  /* The dirty registers stay in the file and now belong just above the new bspstore. */
  c->ar[IA64_AR_BSPSTORE] = v & ~(uint64_t)7;
}
