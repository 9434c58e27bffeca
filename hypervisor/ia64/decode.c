/* decode.c — turns 128-bit bundles into decoded operations.
 *
 * A bundle is a 5-bit template (which unit each of the three 41-bit slots goes to, and
 * where the stops are) and three slots. Each slot is matched against the instruction forms
 * of its unit (A forms also match in M and I slots), indexed here by unit and major opcode
 * (slot bits 40:37). The most specific matching form wins. Its templates then say which
 * operand fields to extract and where they go in the ia64_op. Unmatched slots and reserved
 * templates decode to Illegal Operation, as the architecture requires. */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

/* ---- Templates ---------------------------------------------------------------------------- */

#define M IA64_UNIT_M
#define I IA64_UNIT_I
#define F IA64_UNIT_F
#define B IA64_UNIT_B
#define L IA64_UNIT_L
#define X IA64_UNIT_X
static const struct { uint8_t u[3]; uint8_t stops; } templates[32] = {
  [0x00] = {{M, I, I}, 0}, [0x01] = {{M, I, I}, 4}, [0x02] = {{M, I, I}, 2}, [0x03] = {{M, I, I}, 6},
  [0x04] = {{M, L, X}, 0}, [0x05] = {{M, L, X}, 4},
  [0x08] = {{M, M, I}, 0}, [0x09] = {{M, M, I}, 4}, [0x0a] = {{M, M, I}, 1}, [0x0b] = {{M, M, I}, 5},
  [0x0c] = {{M, F, I}, 0}, [0x0d] = {{M, F, I}, 4}, [0x0e] = {{M, M, F}, 0}, [0x0f] = {{M, M, F}, 4},
  [0x10] = {{M, I, B}, 0}, [0x11] = {{M, I, B}, 4}, [0x12] = {{M, B, B}, 0}, [0x13] = {{M, B, B}, 4},
  [0x16] = {{B, B, B}, 0}, [0x17] = {{B, B, B}, 4}, [0x18] = {{M, M, B}, 0}, [0x19] = {{M, M, B}, 4},
  [0x1c] = {{M, F, B}, 0}, [0x1d] = {{M, F, B}, 4},
};
#undef M
#undef I
#undef F
#undef B
#undef L
#undef X

int ia64_template_units(unsigned tmpl, uint8_t units[3], unsigned *stops) {
  tmpl &= 31;
  memcpy(units, templates[tmpl].u, 3);
  *stops = templates[tmpl].stops;
  return units[0] == IA64_UNIT_NONE ? -1 : 0;
}

void ia64_bundle_slots(const uint8_t bytes[16], unsigned *tmpl, uint64_t slot[3]) {
  uint64_t lo, hi;
  memcpy(&lo, bytes, 8);
  memcpy(&hi, bytes + 8, 8);
  *tmpl = lo & 31;
  slot[0] = (lo >> 5) & MSK(40, 0);
  slot[1] = ((lo >> 46) | (hi << 18)) & MSK(40, 0);
  slot[2] = (hi >> 23) & MSK(40, 0);
}

/* ---- The tables, indexed by unit and major opcode --------------------------------------- */

typedef struct family { const ia64_insn_desc *tab; const size_t *len; const ia64_opnd_kind *opnds; } family;
static const family families[] = {
#define IA64_FAMILY_ENTRY(f) {ia64_tab_##f, &ia64_tab_##f##_len, ia64_opnds_##f},
  IA64_FAMILIES(IA64_FAMILY_ENTRY)
#undef IA64_FAMILY_ENTRY
};
#define NFAMILIES (sizeof(families) / sizeof(families[0]))

/* Constant after its one-time construction: shared by every CPU, like the tables. */
static struct {
  const ia64_insn_desc **descs;  /* id -> form */
  size_t ndescs;
  uint16_t *bucket[IA64_UNIT_L][16];
  uint16_t nbucket[IA64_UNIT_L][16];
} index_;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static void build_index(void) {
  size_t n = 0;
  for (size_t f = 0; f < NFAMILIES; f++) n += *families[f].len;
  index_.descs = calloc(n ? n : 1, sizeof *index_.descs);
  for (size_t f = 0; f < NFAMILIES; f++)
    for (size_t i = 0; i < *families[f].len; i++) index_.descs[index_.ndescs++] = &families[f].tab[i];
  for (unsigned u = 1; u < IA64_UNIT_L; u++)
    for (unsigned major = 0; major < 16; major++) {
      index_.bucket[u][major] = calloc(index_.ndescs ? index_.ndescs : 1, sizeof(uint16_t));
      for (size_t id = 0; id < index_.ndescs; id++) {
        const ia64_insn_desc *d = index_.descs[id];
        bool unit_ok = d->unit != IA64_UNIT_NONE && d->mnem && (d->unit == u || (d->unit == IA64_UNIT_A && (u == IA64_UNIT_M || u == IA64_UNIT_I)));
        uint64_t mmask = d->mask & MSK(40, 37);
        if (unit_ok && ((uint64_t)major << 37 & mmask) == (d->match & mmask))
          index_.bucket[u][major][index_.nbucket[u][major]++] = (uint16_t)id;
      }
    }
}

static void ensure_index(void) { pthread_once(&index_once, build_index); }

size_t ia64_insn_count(void) {
  ensure_index();
  return index_.ndescs;
}

const ia64_insn_desc *ia64_desc(unsigned id) {
  ensure_index();
  return id < index_.ndescs ? index_.descs[id] : NULL;
}

const char *ia64_insn_name(size_t id) {
  const ia64_insn_desc *d = ia64_desc((unsigned)id);
  return d ? d->mnem : NULL;
}

/* The most specific form of unit u matching slot, or -1. */
static int lookup(unsigned u, uint64_t slot) {
  ensure_index();
  if (u == IA64_UNIT_NONE || u >= IA64_UNIT_L) return -1;
  unsigned major = (unsigned)ia64_field(slot, 40, 37);
  int best = -1, best_bits = -1;
  for (unsigned i = 0; i < index_.nbucket[u][major]; i++) {
    unsigned id = index_.bucket[u][major][i];
    const ia64_insn_desc *d = index_.descs[id];
    if ((slot & d->mask) != d->match) continue;
    int bits = __builtin_popcountll(d->mask);
    if (bits > best_bits) best = (int)id, best_bits = bits;
  }
  return best;
}

const ia64_opnd_kind *ia64_opnd_find(const char *name, size_t len) {
  for (size_t f = 0; f < NFAMILIES; f++)
    for (const ia64_opnd_kind *k = families[f].opnds; k && k->name; k++)
      if (strlen(k->name) == len && memcmp(k->name, name, len) == 0) return k;
  return NULL;
}

/* ---- Decoding a slot into an op ------------------------------------------------------------ */

static size_t token_len(const char *s) {
  size_t n = 0;
  while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_') n++;
  return n;
}

/* Walks a template's %tokens, filling op. Returns the highest GR named (0 if none), or -1
 * if an operand is unknown or a destination is r0/f0/f1 (an Illegal Operation). */
static int fill_operands(const char *tmpl, uint64_t slot, uint64_t lslot, ia64_op *op,
                         unsigned *nreg, unsigned *nimm) {
  int maxgr = 0;
  for (const char *p = tmpl; *p; p++) {
    if (*p != '%') continue;
    size_t len = token_len(p + 1);
    const ia64_opnd_kind *k = ia64_opnd_find(p + 1, len);
    p += len;
    if (!k) return -1;
    int64_t v = k->extract ? k->extract(slot, lslot) : 0;
    if (k->is_gr_dest && ((k->style == IA64_OS_GR && v == 0) || (k->style == IA64_OS_FR && v < 2)))
      return -1;
    if (k->style == IA64_OS_GR && v > maxgr) maxgr = (int)v;
    switch (k->dest) {
    case IA64_OD_REG:
      if (*nreg < 4) op->r[(*nreg)++] = (uint8_t)v;
      break;
    case IA64_OD_IMM:
      if ((*nimm)++ == 0) op->imm = v;
      else op->imm2 = (int32_t)v;
      break;
    case IA64_OD_AUX:
      op->aux = (uint8_t)v;
      break;
    case IA64_OD_QP:
    case IA64_OD_NOPRED:
      op->aux = op->qp;
      op->qp = 0;
      break;
    default:
      break;
    }
  }
  return maxgr;
}

bool ia64_form_has_dest(const ia64_insn_desc *d, unsigned dest) {
  const char *t[2] = {d->mnem, d->opnds};
  for (int i = 0; i < 2; i++)
    for (const char *p = t[i]; p && (p = strchr(p, '%')) != NULL;) {
      size_t len = token_len(++p);
      const ia64_opnd_kind *k = ia64_opnd_find(p, len);
      if (k && k->dest == dest) return true;
      p += len;
    }
  return false;
}

static int decode_slot(ia64_op *op, unsigned unit, uint64_t slot, uint64_t lslot) {
  memset(op, 0, sizeof *op);
  op->exec = ia64_x_illegal;
  op->id = UINT16_MAX;
  int id = lookup(unit, slot);
  if (id < 0) return 0;
  const ia64_insn_desc *d = index_.descs[id];
  op->id = (uint16_t)id;
  op->arg = d->arg;
  op->qp = (uint8_t)ia64_field(slot, 5, 0);
  unsigned nreg = 0, nimm = 0;
  int g1 = fill_operands(d->mnem, slot, lslot, op, &nreg, &nimm);
  int g2 = fill_operands(d->opnds, slot, lslot, op, &nreg, &nimm);
  if (g1 < 0 || g2 < 0) return 0;
  op->exec = d->exec ? d->exec : ia64_x_illegal;
  op->maxgr = (uint8_t)(g1 > g2 ? g1 : g2);
  return op->maxgr;
}

void ia64_decode_bundle(ia64_dbundle *db, const uint8_t bytes[16]) {
  unsigned tmpl, stops;
  uint64_t slot[3];
  uint8_t units[3];
  ia64_bundle_slots(bytes, &tmpl, slot);
  memset(db, 0, sizeof *db);
  db->tmpl = (uint8_t)tmpl;
  db->decoded = 1;
  db->nslots = 3;
  if (ia64_template_units(tmpl, units, &stops) < 0) {
    for (int s = 0; s < 3; s++) db->op[s].exec = ia64_x_illegal, db->op[s].id = UINT16_MAX;
    db->live = 7;
    db->need_sof = 255;
    return;
  }
  int maxgr = 0;
  for (int s = 0; s < 3; s++) {
    if (units[s] == IA64_UNIT_L) {
      int g = decode_slot(&db->op[1], IA64_UNIT_X, slot[2], slot[1]);
      if (g > maxgr) maxgr = g;
      db->nslots = 2;
      break;
    }
    int g = decode_slot(&db->op[s], units[s], slot[s], 0);
    if (g > maxgr) maxgr = g;
    /* Loop branches exist only in slot 2. */
    if (s != 2 && db->op[s].id != UINT16_MAX && ia64_form_has_dest(index_.descs[db->op[s].id], IA64_OD_SLOT2))
      db->op[s].exec = ia64_x_illegal;
  }
  db->maxgr = (uint8_t)maxgr;
  for (unsigned s = 0; s < db->nslots; s++) {
    if (db->op[s].exec != ia64_x_nop) db->live |= (uint8_t)(1u << s);
    const ia64_insn_desc *d = db->op[s].id != UINT16_MAX ? index_.descs[db->op[s].id] : NULL;
    if (d && (d->flags & IA64_DF_FRAME)) db->need_sof = 255;
  }
  if (db->need_sof != 255 && db->maxgr >= 32) db->need_sof = (uint8_t)(db->maxgr - 31);
}

int ia64_decode_slot_id(const uint8_t bundle[16], unsigned slot) {
  unsigned tmpl, stops;
  uint64_t s[3];
  uint8_t units[3];
  ia64_bundle_slots(bundle, &tmpl, s);
  if (slot > 2 || ia64_template_units(tmpl, units, &stops) < 0) return -1;
  if (units[slot] == IA64_UNIT_L) return -1;
  if (units[slot] == IA64_UNIT_X) return lookup(IA64_UNIT_X, s[2]);
  return lookup(units[slot], s[slot]);
}
