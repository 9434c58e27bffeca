/* disasm.c — prints bundles in the text ia64-linux-gnu-objdump -d prints.
 *
 * The same tables that drive the decoder drive the printer: a form's mnemonic and operand
 * templates are copied with each %token replaced by its operand's text. The 12-column
 * prefix is the template name ([MII]) on the first slot and the qualifying predicate
 * ((p06)) when it is not p0; ";;" marks a stop; a slot no form matches, or any slot of a
 * reserved template, prints as "data8" with the slot's raw value, as objdump does. */
#include <inttypes.h>
#include <stdio.h>

#include "internal.h"

static const char *const ar_names[IA64_NAR] = {
  [0] = "ar.k0", [1] = "ar.k1", [2] = "ar.k2", [3] = "ar.k3", [4] = "ar.k4", [5] = "ar.k5",
  [6] = "ar.k6", [7] = "ar.k7", [16] = "ar.rsc", [17] = "ar.bsp", [18] = "ar.bspstore",
  [19] = "ar.rnat", [21] = "ar.fcr", [24] = "ar.eflag", [25] = "ar.csd", [26] = "ar.ssd",
  [27] = "ar.cflg", [28] = "ar.fsr", [29] = "ar.fir", [30] = "ar.fdr", [32] = "ar.ccv",
  [36] = "ar.unat", [40] = "ar.fpsr", [44] = "ar.itc", [45] = "ar.ruc", [64] = "ar.pfs",
  [65] = "ar.lc", [66] = "ar.ec",
};

static const char *const cr_names[IA64_NCR] = {
  [0] = "cr.dcr", [1] = "cr.itm", [2] = "cr.iva", [8] = "cr.pta", [16] = "cr.ipsr",
  [17] = "cr.isr", [19] = "cr.iip", [20] = "cr.ifa", [21] = "cr.itir", [22] = "cr.iipa",
  [23] = "cr.ifs", [24] = "cr.iim", [25] = "cr.iha", [26] = "cr.iib0", [27] = "cr.iib1",
  [64] = "cr.lid", [65] = "cr.ivr",
  [66] = "cr.tpr", [67] = "cr.eoi", [68] = "cr.irr0", [69] = "cr.irr1", [70] = "cr.irr2",
  [71] = "cr.irr3", [72] = "cr.itv", [73] = "cr.pmv", [74] = "cr.cmcv", [80] = "cr.lrr0",
  [81] = "cr.lrr1",
};

static const char *const tmpl_names[32] = {
  [0x00] = "MII", [0x01] = "MII", [0x02] = "MII", [0x03] = "MII", [0x04] = "MLX", [0x05] = "MLX",
  [0x08] = "MMI", [0x09] = "MMI", [0x0a] = "MMI", [0x0b] = "MMI", [0x0c] = "MFI", [0x0d] = "MFI",
  [0x0e] = "MMF", [0x0f] = "MMF", [0x10] = "MIB", [0x11] = "MIB", [0x12] = "MBB", [0x13] = "MBB",
  [0x16] = "BBB", [0x17] = "BBB", [0x18] = "MMB", [0x19] = "MMB", [0x1c] = "MFB", [0x1d] = "MFB",
};

/* A small bounded string builder. */
typedef struct sbuf { char *p; size_t n, len; } sbuf;
static void sb_put(sbuf *b, const char *s, size_t len) {
  for (size_t i = 0; i < len && b->len + 1 < b->n; i++) b->p[b->len++] = s[i];
  b->p[b->len] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void print_operand(sbuf *b, const ia64_opnd_kind *k, int64_t v, uint64_t ip) {
  char t[48];
  switch (k->style) {
  case IA64_OS_GR: snprintf(t, sizeof t, "r%d", (int)v); break;
  case IA64_OS_FR: snprintf(t, sizeof t, "f%d", (int)v); break;
  case IA64_OS_PR: snprintf(t, sizeof t, "p%d", (int)v); break;
  case IA64_OS_BR: snprintf(t, sizeof t, "b%d", (int)v); break;
  case IA64_OS_AR:
    if (v >= 0 && v < IA64_NAR && ar_names[v]) snprintf(t, sizeof t, "%s", ar_names[v]);
    else snprintf(t, sizeof t, "ar%d", (int)v);
    break;
  case IA64_OS_CR:
    if (v >= 0 && v < IA64_NCR && cr_names[v]) snprintf(t, sizeof t, "%s", cr_names[v]);
    else snprintf(t, sizeof t, "cr%d", (int)v);
    break;
  case IA64_OS_DEC: snprintf(t, sizeof t, "%" PRId64, v); break;
  case IA64_OS_UDEC: snprintf(t, sizeof t, "%" PRIu64, (uint64_t)v); break;
  case IA64_OS_HEX: snprintf(t, sizeof t, "0x%" PRIx64, (uint64_t)v); break;
  case IA64_OS_TARGET: snprintf(t, sizeof t, "0x%" PRIx64, ip + (uint64_t)v); break;
  case IA64_OS_CUSTOM: t[0] = 0; if (k->print) k->print(t, sizeof t, v, ip); break;
  default: t[0] = 0; break;
  }
  sb_str(b, t);
}

static void print_template(sbuf *b, const char *tmpl, uint64_t slot, uint64_t lslot, uint64_t ip) {
  for (const char *p = tmpl; *p;) {
    if (*p != '%') {
      sb_put(b, p++, 1);
      continue;
    }
    size_t len = 0;
    while ((p[1 + len] >= 'a' && p[1 + len] <= 'z') || (p[1 + len] >= '0' && p[1 + len] <= '9') ||
           p[1 + len] == '_')
      len++;
    const ia64_opnd_kind *k = ia64_opnd_find(p + 1, len);
    if (k) print_operand(b, k, k->extract ? k->extract(slot, lslot) : 0, ip);
    else sb_str(b, "?");
    p += 1 + len;
  }
}

int ia64_disasm_slot(const uint8_t bundle[16], uint64_t ip, unsigned slot_no, char *buf, size_t n) {
  unsigned tmpl, stops;
  uint64_t slot[3];
  uint8_t units[3];
  sbuf b = {buf, n, 0};
  if (n) buf[0] = 0;
  ia64_bundle_slots(bundle, &tmpl, slot);
  bool reserved = ia64_template_units(tmpl, units, &stops) < 0;
  char prefix[16];
  if (slot_no == 0) {
    if (reserved) snprintf(prefix, sizeof prefix, "[-%x-]", tmpl >> 1);
    else snprintf(prefix, sizeof prefix, "[%s]", tmpl_names[tmpl]);
  } else {
    snprintf(prefix, sizeof prefix, "     ");
  }
  /* In MLX the L+X instruction prints on slot 1's line; the stop after it is bit 2. */
  bool lx = !reserved && units[slot_no] == IA64_UNIT_L;
  unsigned xslot = lx ? 2 : slot_no;
  uint64_t s = slot[xslot], ls = lx ? slot[1] : 0;
  int id = reserved ? -1 : ia64_decode_slot_id(bundle, xslot);
  const ia64_insn_desc *d = id >= 0 ? ia64_desc((unsigned)id) : NULL;
  char pred[8] = "      ";
  unsigned qp = (unsigned)ia64_field(s, 5, 0);
  if (d && qp && !ia64_form_has_dest(d, IA64_OD_NOPRED)) snprintf(pred, sizeof pred, "(p%02u) ", qp);
  sb_str(&b, prefix);
  sb_str(&b, " ");
  sb_str(&b, pred);
  if (d) {
    print_template(&b, d->mnem, s, ls, ip);
    if (d->opnds[0]) {
      sb_str(&b, " ");
      print_template(&b, d->opnds, s, ls, ip);
    }
  } else {
    char t[32];
    snprintf(t, sizeof t, "data8 %#011" PRIx64, s);
    sb_str(&b, t);
  }
  /* objdump prints no stop after a slot it could not decode ("data8"). */
  if (d && !reserved && (stops >> xslot) & 1) sb_str(&b, ";;");
  return (int)b.len;
}

int ia64_disasm_bundle(const uint8_t bundle[16], uint64_t ip, ia64_disasm_line out[3]) {
  unsigned tmpl, stops;
  uint8_t units[3];
  tmpl = bundle[0] & 31;
  bool mlx = ia64_template_units(tmpl, units, &stops) == 0 && units[1] == IA64_UNIT_L;
  int nlines = mlx ? 2 : 3;
  for (int i = 0; i < nlines; i++) ia64_disasm_slot(bundle, ip, (unsigned)i, out[i].text, sizeof out[i].text);
  return nlines;
}
