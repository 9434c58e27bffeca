/* alat.c — the Advanced Load Address Table: what makes data speculation (ld.a, ld.c, chk.a)
 * work.
 *
 * An advanced load (ld.a, ld.sa, ldf.a, ld.c.nc on a miss) records the address and size it
 * read against the *physical* register it wrote; any store, semaphore or spill that overlaps
 * that range drops the entry; a check (ld.c, chk.a) then asks whether the entry survived, and
 * redoes the load or branches to recovery code when it did not. Keying by physical register
 * (c->grmap / c->frmap applied by the caller) is what the architecture specifies, so an entry
 * follows its register through frame changes and rotation.
 *
 * The addresses are host addresses (the software TLB's host pointer for the data), which
 * stand in for the physical addresses the SDM uses: two guest virtual addresses that alias
 * the same memory meet here. Pages without a host pointer (IA64_XLAT_IO, uncacheable) never
 * get entries, as advanced loads from non-speculative memory create none.
 *
 * Layout: IA64_ALAT_SIZE entries as IA64_ALAT_SIZE/ALAT_WAYS sets of ALAT_WAYS ways; a register
 * always lands in the same set, so a check looks at ALAT_WAYS entries. c->alat_live has bit i
 * set when entry i may be valid, so a store with no advanced load outstanding (the common
 * case) costs one test, and a store that has to look visits only live entries. Replacement
 * is arbitrary, as the architecture allows: an entry may vanish at any time, a check then
 * fails and the program takes its recovery path. What may never happen is an entry that
 * survives an overlapping store made by this CPU.
 *
 * Limitation: stores made by other vCPUs do not reach this CPU's ALAT. */
#include "internal.h"

#define ALAT_WAYS 4
#define ALAT_SETS (IA64_ALAT_SIZE / ALAT_WAYS)

_Static_assert(IA64_ALAT_SIZE <= 32, "alat_live is a 32-bit mask");
_Static_assert(ALAT_SETS * ALAT_WAYS == IA64_ALAT_SIZE && (ALAT_SETS & (ALAT_SETS - 1)) == 0,
               "the ALAT is a power-of-two number of sets of ALAT_WAYS ways");

/* First entry of the set a register maps to; GRs and FRs share the sets. */
static inline unsigned alat_set(unsigned phys_reg, bool is_fp) {
  return ((phys_reg ^ (is_fp ? 0x5u : 0u)) & (ALAT_SETS - 1)) * ALAT_WAYS;
}

static inline bool alat_is(const ia64_alat_ent *e, unsigned phys_reg, bool is_fp) {
  return e->valid && e->reg == phys_reg && e->is_fp == is_fp;
}

static inline void alat_drop(ia64_cpu *c, unsigned i) {
  c->alat[i].valid = 0;
  c->alat_live &= ~(1u << i);
}

/* Index of the valid entry for the register, or -1. */
static int alat_find(const ia64_cpu *c, unsigned phys_reg, bool is_fp) {
  unsigned s = alat_set(phys_reg, is_fp);
  for (unsigned w = 0; w < ALAT_WAYS; w++)
    if (alat_is(&c->alat[s + w], phys_reg, is_fp)) return (int)(s + w);
  return -1;
}

void ia64_alat_insert(ia64_cpu *c, unsigned phys_reg, bool is_fp, uint64_t addr, unsigned size) {
  int i = alat_find(c, phys_reg, is_fp);
  if (i < 0) {
    unsigned s = alat_set(phys_reg, is_fp);
    i = (int)(s + ((addr >> 3) & (ALAT_WAYS - 1)));   /* a victim when the set is full */
    for (unsigned w = 0; w < ALAT_WAYS; w++)
      if (!c->alat[s + w].valid) {
        i = (int)(s + w);
        break;
      }
  }
  c->alat[i] = (ia64_alat_ent){.addr = addr, .size = (uint8_t)size, .reg = (uint8_t)phys_reg,
                               .is_fp = is_fp, .valid = 1};
  c->alat_live |= 1u << i;
}

bool ia64_alat_check(ia64_cpu *c, unsigned phys_reg, bool is_fp, bool clear) {
  int i = alat_find(c, phys_reg, is_fp);
  if (i < 0) return false;
  if (clear) alat_drop(c, (unsigned)i);
  return true;
}

void ia64_alat_store(ia64_cpu *c, uint64_t addr, unsigned size) {
  uint32_t live = c->alat_live;
  while (live) {
    unsigned i = (unsigned)__builtin_ctz(live);
    live &= live - 1;
    const ia64_alat_ent *e = &c->alat[i];
    if (!e->valid) {
      c->alat_live &= ~(1u << i);
      continue;
    }
    if (addr < e->addr + e->size && e->addr < addr + size) alat_drop(c, i);
  }
}

void ia64_alat_invalidate_reg(ia64_cpu *c, unsigned phys_reg, bool is_fp) {
  int i = alat_find(c, phys_reg, is_fp);
  if (i >= 0) alat_drop(c, (unsigned)i);
}

void ia64_alat_invala(ia64_cpu *c) {
  for (unsigned i = 0; i < IA64_ALAT_SIZE; i++) c->alat[i].valid = 0;
  c->alat_live = 0;
}
