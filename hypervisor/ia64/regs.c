/* regs.c — register access by logical name: the current frame, rotation and the CFM.
 *
 * r32..r127 live in a circular file of IA64_NSTACKED physical registers starting at bof;
 * the first sor of them rotate by rrb.gr. f32..f127 rotate by rrb.fr. Predicates are kept
 * in logical order: a change of rrb.pr rotates p16..p63 in place, which makes every
 * predicate read a single shift. grmap/frmap are rebuilt whenever the frame changes. */
#include "internal.h"

void ia64_remap_frame(ia64_cpu *c) {
  for (unsigned r = 0; r < 32; r++) c->grmap[r] = (uint16_t)r;
  for (unsigned i = 0; i < IA64_NGR - 32; i++) {
    unsigned rot = i < c->sor && c->sor ? (i + c->rrb_gr) % c->sor : i;
    c->grmap[32 + i] = (uint16_t)(32 + (c->bof + rot) % IA64_NSTACKED);
  }
  for (unsigned f = 0; f < 32; f++) c->frmap[f] = (uint8_t)f;
  for (unsigned i = 0; i < IA64_NFR - 32; i++) c->frmap[32 + i] = (uint8_t)(32 + (i + c->rrb_fr) % 96);
}

uint64_t ia64_gr_read(const ia64_cpu *c, unsigned r, bool *nat) {
  if (nat) *nat = ia64_rnat(c, r);
  return ia64_rd(c, r);
}

void ia64_gr_write(ia64_cpu *c, unsigned r, uint64_t v, bool nat) {
  if (r) ia64_wr(c, r, v, nat);
}

ia64_fr ia64_fr_read(const ia64_cpu *c, unsigned f) { return c->fr[c->frmap[f]]; }

void ia64_fr_write(ia64_cpu *c, unsigned f, ia64_fr v) {
  if (f > 1) c->fr[c->frmap[f]] = v;
}

uint64_t ia64_cfm(const ia64_cpu *c) {
  return (uint64_t)c->sof | (uint64_t)c->sol << 7 | (uint64_t)(c->sor / 8) << 14 |
         (uint64_t)c->rrb_gr << 18 | (uint64_t)c->rrb_fr << 25 | (uint64_t)c->rrb_pr << 32;
}

/* Rotate the logical predicates p16..p63 so that they follow a new rrb.pr. */
static void rotate_predicates(ia64_cpu *c, unsigned new_rrb) {
  unsigned d = (new_rrb + 48 - c->rrb_pr) % 48;
  if (!d) return;
  uint64_t rot = c->pr >> 16;                 /* 48 bits, logical p16.. */
  rot = ((rot >> d) | (rot << (48 - d))) & ((1ull << 48) - 1);
  c->pr = (c->pr & 0xffff) | rot << 16;
}

void ia64_set_cfm(ia64_cpu *c, uint64_t cfm) {
  unsigned rrb_pr = (unsigned)ia64_field(cfm, 37, 32);
  rotate_predicates(c, rrb_pr);
  c->sof = (unsigned)ia64_field(cfm, 6, 0);
  c->sol = (unsigned)ia64_field(cfm, 13, 7);
  c->sor = (unsigned)ia64_field(cfm, 17, 14) * 8;
  c->rrb_gr = (unsigned)ia64_field(cfm, 24, 18);
  c->rrb_fr = (unsigned)ia64_field(cfm, 31, 25);
  c->rrb_pr = rrb_pr;
  ia64_remap_frame(c);
}

uint64_t ia64_ar_read(ia64_cpu *c, unsigned ar) { return c->ar[ar & 127]; }

void ia64_ar_write(ia64_cpu *c, unsigned ar, uint64_t v) { c->ar[ar & 127] = v; }
