/* tab_br.c — branches and the register stack: alloc, flushrs/loadrs, the B-unit forms (IP-
 * relative and indirect branches, calls and returns, loop branches, brp hints, cover,
 * clrrrb, epc, rfi, bsw) and the long branches brl. The frame work itself (spills, fills,
 * ar.bsp) is the RSE's, in rse.c; here are the encodings and the branch semantics of the
 * SDM vol. 3 "br" and "alloc" pseudo-code. */
#include <stdio.h>

#include "internal.h"

/* ---- Operand kinds ---------------------------------------------------------------------- */

static void print_gr(char *b, size_t n, int64_t v, uint64_t ip) {
  (void)ip;
  snprintf(b, n, "r%d", (int)v);
}

/* alloc's target is checked against the new frame by the executor, so it is not a plain
 * GR operand (the run loop checks those against the frame before the instruction). */
static int64_t x_alloc_r1(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 12, 6); }
static int64_t x_alloc_sof(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 19, 13); }
static int64_t x_alloc_sol(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 26, 20); }
static int64_t x_alloc_sor(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 30, 27) * 8; }

const ia64_opnd_kind ia64_opnds_br[] = {
  {"alloc_r1", IA64_OD_REG, IA64_OS_CUSTOM, 0, x_alloc_r1, print_gr},
  {"alloc_sof", IA64_OD_IMM, IA64_OS_UDEC, 0, x_alloc_sof, NULL},
  {"alloc_sol", IA64_OD_IMM, IA64_OS_UDEC, 0, x_alloc_sol, NULL},
  {"alloc_sor", IA64_OD_AUX, IA64_OS_UDEC, 0, x_alloc_sor, NULL},
  {0},
};

/* ---- Register stack ------------------------------------------------------------------------ */

/* alloc r1=ar.pfs,i,l,o,r (printed as sof,sol,sor) */
static int x_alloc(ia64_cpu *c, const ia64_op *op) {
  unsigned sof = (unsigned)op->imm, sol = (unsigned)op->imm2, sor = op->aux, r1 = op->r[0];
  if (sof > IA64_NSTACKED || sor > sof || sol > sof || op->qp != 0) return ia64_illegal_op(c);
  /* The rotating region may change size only while nothing is rotated. */
  if (sor != c->sor && (c->rrb_gr || c->rrb_fr || c->rrb_pr)) return ia64_illegal_op(c);
  if (r1 == 0 || r1 >= 32 + sof) return ia64_illegal_op(c);
  uint64_t pfs = c->ar[IA64_AR_PFS];
  if (ia64_rse_alloc(c, sof, sol, sor) < 0) return IA64_FAULTED;
  ia64_wr(c, r1, pfs, 0);
  return IA64_NEXT;
}

/* ---- Forms -------------------------------------------------------------------------------- */

#define M IA64_UNIT_M
#define B IA64_UNIT_B
#define X IA64_UNIT_X
#define MAJ(v) ENC(40, 37, v)
#define MAJM MSK(40, 37)

const ia64_insn_desc ia64_tab_br[] = {
  /* M34 */
  {"alloc", M, "%alloc_r1=ar.pfs,%alloc_sof,%alloc_sol,%alloc_sor", x_alloc, 0, MAJ(1) | ENC(35, 33, 6), MAJM | MSK(35, 33)},
};
IA64_TAB_LEN(br);
