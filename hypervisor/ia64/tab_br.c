/* tab_br.c — branches and the register stack: alloc, flushrs/loadrs, the B-unit forms (IP-
 * relative and indirect branches, calls and returns, loop branches, brp hints, cover,
 * clrrrb, epc, rfi, bsw, vmsw) and the long branches brl. The frame work itself (spills,
 * fills, ar.bsp) is the RSE's, in rse.c; here are the encodings (SDM vol. 3 ch. 4, formats
 * M25, M34, B1-B8, X3, X4) and the semantics of the SDM's "br", "alloc" and B8 pseudo-code.
 *
 * Texts follow objdump: every branch prints its whether-hint, prefetch hint and .clr; a
 * br.cond with qp = p0 and .sptk prints as the pseudo-op "br" (likewise brl); counted loop
 * branches, B8 forms, brp, alloc, flushrs and loadrs cannot be predicated, so their qp field
 * is ignored and not printed. br.wtop/wexit read their qualifying predicate themselves (it
 * says whether the loop goes on), so they run whatever its value.
 *
 * rfi and bsw are privileged (Privileged Operation above cpl 0); at cpl 0 bsw switches banks
 * and rfi restores PSR, IP and slot from cr.ipsr/cr.iip, the covered frame when cr.ifs is
 * valid, and the register bank PSR.bn names.
 *
 * What is not modelled: PSR.tb (taken-branch trap) and PSR.lp (lower-privilege transfer
 * trap), unimplemented-address checks, rfi's checks of reserved PSR fields, IA-32 (br.ia
 * and an rfi to PSR.is = 1 take the Disabled Instruction Set Transition fault), epc
 * promotion (the software TLB keeps no EPC access rights: epc checks ar.pfs.ppl and stays at
 * the current privilege), vmsw (no virtualization feature: Illegal Operation). */
#include <stdio.h>

#include "internal.h"

/* ---- Operand kinds ---------------------------------------------------------------------- */

static void print_gr(char *b, size_t n, int64_t v, uint64_t ip) {
  (void)ip;
  snprintf(b, n, "r%d", (int)v);
}
static void print_none(char *b, size_t n, int64_t v, uint64_t ip) {
  (void)v, (void)ip;
  if (n) b[0] = 0;
}
static void print_bwh(char *b, size_t n, int64_t v, uint64_t ip) {
  static const char *const s[4] = {".sptk", ".spnt", ".dptk", ".dpnt"};
  (void)ip;
  snprintf(b, n, "%s", s[v & 3]);
}
/* B5's 3-bit whether hint: only the odd values are defined. */
static void print_bwhc(char *b, size_t n, int64_t v, uint64_t ip) { print_bwh(b, n, v >> 1, ip); }
static void print_ph(char *b, size_t n, int64_t v, uint64_t ip) {
  (void)ip;
  snprintf(b, n, "%s", v ? ".many" : ".few");
}
static void print_dh(char *b, size_t n, int64_t v, uint64_t ip) {
  (void)ip;
  snprintf(b, n, "%s", v ? ".clr" : "");
}
static void print_ipwh(char *b, size_t n, int64_t v, uint64_t ip) {
  static const char *const s[4] = {".sptk", ".loop", ".dptk", ".exit"};
  (void)ip;
  snprintf(b, n, "%s", s[v & 3]);
}
static void print_ih(char *b, size_t n, int64_t v, uint64_t ip) {
  (void)ip;
  snprintf(b, n, "%s", v ? ".imp" : "");
}

/* alloc's target is checked against the new frame by the executor, so it is not a plain
 * GR operand (the run loop checks those against the frame before the instruction). */
static int64_t x_alloc_r1(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 12, 6); }
static int64_t x_alloc_sof(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 19, 13); }
static int64_t x_alloc_sol(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 26, 20); }
static int64_t x_alloc_sor(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 30, 27) * 8; }
static int64_t x_qp(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 5, 0); }
static int64_t x_bwh(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 34, 33); }
static int64_t x_bwhc(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 34, 32); }
static int64_t x_ph(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 12, 12); }
static int64_t x_dh(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 35, 35); }
static int64_t x_ipwh(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 4, 3); }
/* target25: s (36) and imm20b (32:13), in bundles (also chk.a's, M22/M23). */
static int64_t x_tgt25(uint64_t s, uint64_t l) {
  (void)l;
  return ia64_sext(ia64_field(s, 36, 36) << 20 | ia64_field(s, 32, 13), 21) * 16;
}
/* brp's tag: t2e (34:33) and timm7a (12:6), in bundles. */
static int64_t x_tag13(uint64_t s, uint64_t l) {
  (void)l;
  return ia64_sext(ia64_field(s, 34, 33) << 7 | ia64_field(s, 12, 6), 9) * 16;
}
/* brl's target64: i (36), imm39 (L slot 40:2), imm20b (32:13), in bundles (wraps mod 2^64). */
static int64_t x_tgt64(uint64_t s, uint64_t l) {
  uint64_t imm60 = ia64_field(s, 36, 36) << 59 | ia64_field(l, 40, 2) << 20 | ia64_field(s, 32, 13);
  return (int64_t)(imm60 << 4);
}

const ia64_opnd_kind ia64_opnds_br[] = {
  {"alloc_r1", IA64_OD_REG, IA64_OS_CUSTOM, 0, x_alloc_r1, print_gr},
  {"alloc_sof", IA64_OD_IMM, IA64_OS_UDEC, 0, x_alloc_sof, NULL},
  {"alloc_sol", IA64_OD_IMM, IA64_OS_UDEC, 0, x_alloc_sol, NULL},
  {"alloc_sor", IA64_OD_REG, IA64_OS_UDEC, 0, x_alloc_sor, NULL},
  {"br_nopred", IA64_OD_NOPRED, IA64_OS_CUSTOM, 0, x_qp, print_none}, /* cannot be predicated */
  {"br_slot2", IA64_OD_SLOT2, IA64_OS_CUSTOM, 0, NULL, print_none},   /* slot 2 only */
  {"bwh", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_bwh, print_bwh},
  {"bwhc", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_bwhc, print_bwhc},
  {"ph", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_ph, print_ph},
  {"dh", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_dh, print_dh},
  {"ipwh", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_ipwh, print_ipwh},
  {"ih", IA64_OD_PRINT, IA64_OS_CUSTOM, 0, x_dh, print_ih},
  {"tgt25", IA64_OD_IMM, IA64_OS_TARGET, 0, x_tgt25, NULL},
  {"tag13", IA64_OD_PRINT, IA64_OS_TARGET, 0, x_tag13, NULL},
  {"tgt64", IA64_OD_IMM, IA64_OS_TARGET, 0, x_tgt64, NULL},
  {0},
};

/* ---- Helpers --------------------------------------------------------------------------------- */

/* A new PSR: ia64_psr_changed (tlb.c) drops the software TLB when PSR bits that qualify it
 * change (dt, it, pk, cpl), looks for interrupts PSR.i unmasks and starts single-stepping. */
static void set_psr(ia64_cpu *c, uint64_t psr) {
  uint64_t old = c->psr;
  c->psr = psr;
  ia64_psr_changed(c, old);
}

static inline int branch_to(ia64_cpu *c, uint64_t target) {
  c->ip = target & ~(uint64_t)15;
  c->ri = 0;
  return IA64_BRANCHED;
}

/* br.call/brl.call: link, save the frame marker in ar.pfs, the outputs become the frame. */
static inline int call_to(ia64_cpu *c, unsigned b1, uint64_t target) {
  c->ar[IA64_AR_PFS] = ia64_cfm(c) | (c->ar[IA64_AR_EC] & 63) << 52 | (uint64_t)ia64_psr_cpl(c->psr) << 62;
  ia64_rse_call(c);
  c->br[b1] = c->ip + 16;
  return branch_to(c, target);
}

/* Register rotation of the modulo-scheduled loop branches: PR[63] is written first, then
 * every rrb moves down by one, so that value becomes p16. */
static void rotate(ia64_cpu *c, unsigned pr63) {
  ia64_pwr(c, 63, pr63);
  uint64_t cfm = ia64_cfm(c) & MSK(17, 0);
  unsigned gr = c->sor ? (c->rrb_gr + c->sor - 1) % c->sor : c->rrb_gr;
  unsigned fr = (c->rrb_fr + 95) % 96, pr = (c->rrb_pr + 47) % 48;
  ia64_set_cfm(c, cfm | (uint64_t)gr << 18 | (uint64_t)fr << 25 | (uint64_t)pr << 32);
}

/* ---- Register stack ------------------------------------------------------------------------ */

/* alloc r1=ar.pfs,i,l,o,r (printed as sof,sol,sor) */
static int x_alloc(ia64_cpu *c, const ia64_op *op) {
  unsigned sof = (unsigned)op->imm, sol = (unsigned)op->imm2, sor = op->r[1], r1 = op->r[0];
  if (sof > IA64_NSTACKED || sor > sof || sol > sof || op->aux != 0) return ia64_illegal_op(c);
  /* The rotating region may change size only while nothing is rotated. */
  if (sor != c->sor && (c->rrb_gr || c->rrb_fr || c->rrb_pr)) return ia64_illegal_op(c);
  if (r1 == 0 || r1 >= 32 + sof) return ia64_illegal_op(c);
  uint64_t pfs = c->ar[IA64_AR_PFS];
  if (ia64_rse_alloc(c, sof, sol, sor) < 0) return IA64_FAULTED;
  ia64_wr(c, r1, pfs, 0);
  return IA64_NEXT;
}

static int x_flushrs(ia64_cpu *c, const ia64_op *op) {
  (void)op;
  return ia64_rse_flushrs(c) < 0 ? IA64_FAULTED : IA64_NEXT;
}

static int x_loadrs(ia64_cpu *c, const ia64_op *op) {
  (void)op;
  if ((c->ar[IA64_AR_RSC] & 3) != 0) return ia64_illegal_op(c);
  if (c->sof != 0 && ia64_field(c->ar[IA64_AR_RSC], 29, 16) != 0) return ia64_illegal_op(c);
  return ia64_rse_loadrs(c) < 0 ? IA64_FAULTED : IA64_NEXT;
}

/* cover: the frame joins the dirty registers; with interruption collection off, the frame
 * it covered goes to cr.ifs (valid). */
static int x_cover(ia64_cpu *c, const ia64_op *op) {
  (void)op;
  if (!(c->psr >> 13 & 1)) c->cr[23] = ia64_cfm(c) | 1ull << 63;
  ia64_rse_cover(c);
  return IA64_NEXT;
}

/* clrrrb (arg 0) / clrrrb.pr (arg 1) */
static int x_clrrrb(ia64_cpu *c, const ia64_op *op) {
  uint64_t cfm = ia64_cfm(c);
  cfm &= op->arg ? ~MSK(37, 32) : ~MSK(37, 18);
  ia64_set_cfm(c, cfm);
  return IA64_NEXT;
}

/* ---- Branches ------------------------------------------------------------------------------- */

static int x_br(ia64_cpu *c, const ia64_op *op) { return branch_to(c, c->ip + (uint64_t)op->imm); }
static int x_br_ind(ia64_cpu *c, const ia64_op *op) { return branch_to(c, c->br[op->r[0]]); }

static int x_call(ia64_cpu *c, const ia64_op *op) { return call_to(c, op->r[0], c->ip + (uint64_t)op->imm); }
static int x_call_ind(ia64_cpu *c, const ia64_op *op) { return call_to(c, op->r[0], c->br[op->r[1]]); }

/* br.ret: the frame ar.pfs saved comes back, EC too, and the privilege may drop to ppl. */
static int x_ret(ia64_cpu *c, const ia64_op *op) {
  uint64_t target = c->br[op->r[0]], pfs = c->ar[IA64_AR_PFS], pfm = pfs & MSK(37, 0);
  unsigned sof = (unsigned)ia64_field(pfm, 6, 0), sol = (unsigned)ia64_field(pfm, 13, 7);
  unsigned sor = (unsigned)ia64_field(pfm, 17, 14) * 8;
  if (sof > IA64_NSTACKED || sol > sof || sor > sof) {
    ia64_set_cfm(c, 0);   /* a frame the RSE cannot restore: the SDM leaves an empty one */
  } else if (ia64_rse_return(c, sol, pfm) < 0) {
    return IA64_FAULTED;
  }
  c->ar[IA64_AR_EC] = ia64_field(pfs, 57, 52);
  unsigned ppl = (unsigned)ia64_field(pfs, 63, 62);
  if (ia64_psr_cpl(c->psr) < ppl) set_psr(c, (c->psr & ~MSK(33, 32)) | (uint64_t)ppl << 32);
  return branch_to(c, target);
}

/* br.ia: qp must be p0; no IA-32 instruction set here. */
static int x_br_ia(ia64_cpu *c, const ia64_op *op) {
  if (op->aux != 0 || c->ar[IA64_AR_BSPSTORE] != ia64_rse_bsp(c)) return ia64_illegal_op(c);
  return ia64_raise(c, IA64_VEC_GENERAL_EXCEPTION, IA64_GE_DISABLED_ISA, 0);
}

/* br.cloop: counts ar.lc down to 0. */
static int x_cloop(ia64_cpu *c, const ia64_op *op) {
  if (!c->ar[IA64_AR_LC]) return IA64_NEXT;
  c->ar[IA64_AR_LC]--;
  return branch_to(c, c->ip + (uint64_t)op->imm);
}

/* br.ctop (arg 1) / br.cexit (arg 0): kernel while ar.lc counts, then ar.ec epilog stages. */
static int x_ctop(ia64_cpu *c, const ia64_op *op) {
  uint64_t lc = c->ar[IA64_AR_LC], ec = c->ar[IA64_AR_EC];
  bool more = lc != 0 || ec > 1;
  if (lc) {
    c->ar[IA64_AR_LC] = lc - 1;
    rotate(c, 1);
  } else if (ec) {
    c->ar[IA64_AR_EC] = ec - 1;
    rotate(c, 0);
  } else {
    ia64_pwr(c, 63, 0);
  }
  return more == (op->arg != 0) ? branch_to(c, c->ip + (uint64_t)op->imm) : IA64_NEXT;
}

/* br.wtop (arg 1) / br.wexit (arg 0): the qualifying predicate (op->aux) says the loop goes
 * on; once it is false, ar.ec counts the epilog stages. */
static int x_wtop(ia64_cpu *c, const ia64_op *op) {
  unsigned q = ia64_prd(c, op->aux);
  uint64_t ec = c->ar[IA64_AR_EC];
  bool more = q || ec > 1;
  if (q) {
    rotate(c, 0);
  } else if (ec) {
    c->ar[IA64_AR_EC] = ec - 1;
    rotate(c, 0);
  } else {
    ia64_pwr(c, 63, 0);
  }
  return more == (op->arg != 0) ? branch_to(c, c->ip + (uint64_t)op->imm) : IA64_NEXT;
}

/* ---- B8: system-flavoured branch-unit forms --------------------------------------------------- */

/* bsw.0 (arg 0) / bsw.1 (arg 1): select register bank (PSR.bn, bit 44). */
static int x_bsw(ia64_cpu *c, const ia64_op *op) {
  if (ia64_psr_cpl(c->psr) != 0) return ia64_priv_op(c);
  if ((c->psr >> 44 & 1) != (uint64_t)op->arg) {
    ia64_bank_switch(c);
    c->psr ^= 1ull << 44;
  }
  return IA64_NEXT;
}

/* rfi: PSR, IP and slot from cr.ipsr/cr.iip; with cr.ifs valid, the covered frame comes back
 * from just below the current one. */
static int x_rfi(ia64_cpu *c, const ia64_op *op) {
  (void)op;
  if (ia64_psr_cpl(c->psr) != 0) return ia64_priv_op(c);
  uint64_t ipsr = c->cr[16], iip = c->cr[19], ifs = c->cr[23];
  if (ipsr >> 34 & 1)                                        /* psr.is: no IA-32 here */
    return ia64_raise(c, IA64_VEC_GENERAL_EXCEPTION, IA64_GE_DISABLED_ISA, 0);
  unsigned ri = (unsigned)ia64_field(ipsr, 42, 41);
  if (ri == 3) ri = 0;
  if (ifs >> 63) {
    uint64_t ifm = ifs & MSK(37, 0);
    unsigned sof = (unsigned)ia64_field(ifm, 6, 0), sol = (unsigned)ia64_field(ifm, 13, 7);
    if (sof > IA64_NSTACKED || sol > sof || ia64_field(ifm, 17, 14) * 8 > sof) ia64_set_cfm(c, 0);
    else if (ia64_rse_return(c, sof, ifm) < 0) return IA64_FAULTED;
  }
  if ((c->psr ^ ipsr) >> 44 & 1) ia64_bank_switch(c);
  set_psr(c, ipsr & ~MSK(42, 41));
  c->ip = iip & ~(uint64_t)15;
  c->ri = ri;
  return IA64_BRANCHED;
}

/* epc: may not raise privilege above ar.pfs.ppl's; promotion needs an EPC page, which the
 * software TLB does not describe, so none happens. */
static int x_epc(ia64_cpu *c, const ia64_op *op) {
  (void)op;
  if (ia64_field(c->ar[IA64_AR_PFS], 63, 62) < ia64_psr_cpl(c->psr)) return ia64_illegal_op(c);
  return IA64_NEXT;
}

/* ---- Forms -------------------------------------------------------------------------------- */

#define M IA64_UNIT_M
#define B IA64_UNIT_B
#define X IA64_UNIT_X
#define MAJ(v) ENC(40, 37, v)
#define MAJM MSK(40, 37)
#define BTYPE(v) (MAJ(4) | ENC(8, 6, v)), (MAJM | MSK(8, 6))          /* B1 */
#define X6B(maj, v) (MAJ(maj) | ENC(32, 27, v)), (MAJM | MSK(32, 27))  /* B4, B7, B8 */
#define WH0_P0 (MSK(34, 33) | MSK(5, 0))                               /* .sptk, qp = p0 */

const ia64_insn_desc ia64_tab_br[] = {
  /* M34, M25 */
  {"alloc%br_nopred", M, "%alloc_r1=ar.pfs,%alloc_sof,%alloc_sol,%alloc_sor", x_alloc, 0, MAJ(1) | ENC(35, 33, 6), MAJM | MSK(35, 33), IA64_DF_FRAME},
  {"flushrs%br_nopred", M, "", x_flushrs, 0, MAJ(0) | ENC(32, 27, 0x0c), MAJM | MSK(35, 33) | MSK(32, 27)},
  {"loadrs%br_nopred", M, "", x_loadrs, 0, MAJ(0) | ENC(32, 27, 0x0a), MAJM | MSK(35, 33) | MSK(32, 27)},

  /* B1: IP-relative branches */
  {"br.cond%bwh%ph%dh", B, "%tgt25", x_br, 0, BTYPE(0)},
  {"br%ph%dh", B, "%tgt25", x_br, 0, (MAJ(4) | ENC(8, 6, 0)), (MAJM | MSK(8, 6) | WH0_P0)},
  {"br.wexit%bwh%ph%dh%qp_aux%br_slot2", B, "%tgt25", x_wtop, 0, BTYPE(2)},
  {"br.wtop%bwh%ph%dh%qp_aux%br_slot2", B, "%tgt25", x_wtop, 1, BTYPE(3)},
  {"br.cloop%bwh%ph%dh%br_nopred%br_slot2", B, "%tgt25", x_cloop, 0, BTYPE(5)},
  {"br.cexit%bwh%ph%dh%br_nopred%br_slot2", B, "%tgt25", x_ctop, 0, BTYPE(6)},
  {"br.ctop%bwh%ph%dh%br_nopred%br_slot2", B, "%tgt25", x_ctop, 1, BTYPE(7)},
  /* B3: IP-relative call */
  {"br.call%bwh%ph%dh", B, "%b1=%tgt25", x_call, 0, MAJ(5), MAJM},
  /* B4: indirect branches and return */
  {"br.cond%bwh%ph%dh", B, "%b2", x_br_ind, 0, (MAJ(0) | ENC(32, 27, 0x20) | ENC(8, 6, 0)), (MAJM | MSK(32, 27) | MSK(8, 6))},
  {"br%ph%dh", B, "%b2", x_br_ind, 0, (MAJ(0) | ENC(32, 27, 0x20) | ENC(8, 6, 0)), (MAJM | MSK(32, 27) | MSK(8, 6) | WH0_P0)},
  {"br.ia%bwh%ph%dh%qp_aux", B, "%b2", x_br_ia, 0, (MAJ(0) | ENC(32, 27, 0x20) | ENC(8, 6, 1)), (MAJM | MSK(32, 27) | MSK(8, 6))},
  {"br.ret%bwh%ph%dh", B, "%b2", x_ret, 0, (MAJ(0) | ENC(32, 27, 0x21) | ENC(8, 6, 4)), (MAJM | MSK(32, 27) | MSK(8, 6))},
  /* B5: indirect call (odd whether hints only) */
  {"br.call%bwhc%ph%dh", B, "%b1=%b2", x_call_ind, 0, MAJ(1) | ENC(32, 32, 1), MAJM | MSK(32, 32)},
  /* B6, B7: branch predict (hints only) */
  {"brp%ipwh%ih%br_nopred", B, "%tgt25,%tag13", ia64_x_nop, 0, MAJ(7), MAJM},
  {"brp%ipwh%ih%br_nopred", B, "%b2,%tag13", ia64_x_nop, 0, X6B(2, 0x10) | MSK(3, 3)},
  {"brp.ret%ipwh%ih%br_nopred", B, "%b2,%tag13", ia64_x_nop, 0, X6B(2, 0x11) | MSK(3, 3)},
  /* B8 */
  {"cover%br_nopred", B, "", x_cover, 0, X6B(0, 0x02), IA64_DF_FRAME},
  {"clrrrb%br_nopred", B, "", x_clrrrb, 0, X6B(0, 0x04)},
  {"clrrrb.pr%br_nopred", B, "", x_clrrrb, 1, X6B(0, 0x05)},
  {"rfi%br_nopred", B, "", x_rfi, 0, X6B(0, 0x08)},
  {"bsw.0%br_nopred", B, "", x_bsw, 0, X6B(0, 0x0c)},
  {"bsw.1%br_nopred", B, "", x_bsw, 1, X6B(0, 0x0d)},
  {"epc%br_nopred", B, "", x_epc, 0, X6B(0, 0x10)},
  {"vmsw.0%br_nopred", B, "", ia64_x_illegal, 0, X6B(0, 0x18)},
  {"vmsw.1%br_nopred", B, "", ia64_x_illegal, 0, X6B(0, 0x19)},
  /* X3, X4: long branches */
  {"brl.cond%bwh%ph%dh", X, "%tgt64", x_br, 0, MAJ(0xc) | ENC(8, 6, 0), MAJM | MSK(8, 6)},
  {"brl%ph%dh", X, "%tgt64", x_br, 0, MAJ(0xc) | ENC(8, 6, 0), MAJM | MSK(8, 6) | WH0_P0},
  {"brl.call%bwh%ph%dh", X, "%b1=%tgt64", x_call, 0, MAJ(0xd), MAJM},
};
IA64_TAB_LEN(br);
