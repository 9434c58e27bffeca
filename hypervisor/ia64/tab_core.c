/* tab_core.c — the forms every unit shares (nop, break, hint), movl and the basic adds,
 * with the operand kinds most families use: GR fields r1/r2/r3, the A-unit immediates and
 * qp_aux (the qualifying predicate handed to the executor).
 * Encodings follow the format tables of the Itanium SDM vol. 3, chapter 4. */
#include "internal.h"

/* ---- Operand kinds ---------------------------------------------------------------------- */

static int64_t x_r1(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 12, 6); }
static int64_t x_r2(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 19, 13); }
static int64_t x_r3(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 26, 20); }
static int64_t x_r3_2(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 21, 20); }
static int64_t x_imm14(uint64_t s, uint64_t l) {
  (void)l;
  return ia64_sext(ia64_field(s, 36, 36) << 13 | ia64_field(s, 32, 27) << 7 | ia64_field(s, 19, 13), 14);
}
static int64_t x_imm22(uint64_t s, uint64_t l) {
  (void)l;
  return ia64_sext(ia64_field(s, 36, 36) << 21 | ia64_field(s, 26, 22) << 16 |
                   ia64_field(s, 35, 27) << 7 | ia64_field(s, 19, 13), 22);
}
/* nop/break/hint immediate: i (36) and imm20a (25:6). */
static int64_t x_imm21(uint64_t s, uint64_t l) {
  (void)l;
  return (int64_t)(ia64_field(s, 36, 36) << 20 | ia64_field(s, 25, 6));
}
/* break.x/nop.x: imm20a, i, and the 41 bits of the L slot above them. */
static int64_t x_imm62(uint64_t s, uint64_t l) {
  return (int64_t)(l << 21 | ia64_field(s, 36, 36) << 20 | ia64_field(s, 25, 6));
}
static int64_t x_imm64(uint64_t s, uint64_t l) {
  return (int64_t)(ia64_field(s, 36, 36) << 63 | l << 22 | ia64_field(s, 21, 21) << 21 |
                   ia64_field(s, 26, 22) << 16 | ia64_field(s, 35, 27) << 7 | ia64_field(s, 19, 13));
}

/* hint.m (binutils 2.40 layout): i, imm20a bits 19:6 and 3:0; bits 5:4 select mov dahr. */
static int64_t x_hint_m(uint64_t s, uint64_t l) {
  (void)l;
  return (int64_t)(ia64_field(s, 36, 36) << 18 | ia64_field(s, 25, 12) << 4 | ia64_field(s, 9, 6));
}
/* mov dahrN=imm16: N in bits 25:23, imm16 = i, bits 22:12, bits 9:6. */
static int64_t x_dahr_n(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 25, 23); }
static int64_t x_dahr_imm16(uint64_t s, uint64_t l) {
  (void)l;
  return (int64_t)(ia64_field(s, 36, 36) << 15 | ia64_field(s, 22, 12) << 4 | ia64_field(s, 9, 6));
}
/* The qualifying predicate of a form that acts when it is false: see IA64_OD_QP. */
static int64_t x_qp(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 5, 0); }
static void p_nothing(char *b, size_t n, int64_t v, uint64_t ip) {
  (void)v, (void)ip;
  if (n) b[0] = 0;
}

const ia64_opnd_kind ia64_opnds_core[] = {
  {"r1", IA64_OD_REG, IA64_OS_GR, 1, x_r1, NULL},        /* destination GR */
  {"r2", IA64_OD_REG, IA64_OS_GR, 0, x_r2, NULL},
  {"r3", IA64_OD_REG, IA64_OS_GR, 0, x_r3, NULL},
  {"r3_2", IA64_OD_REG, IA64_OS_GR, 0, x_r3_2, NULL},    /* addl's r0..r3 */
  {"imm14", IA64_OD_IMM, IA64_OS_DEC, 0, x_imm14, NULL},
  {"imm22", IA64_OD_IMM, IA64_OS_DEC, 0, x_imm22, NULL},
  {"imm21", IA64_OD_IMM, IA64_OS_HEX, 0, x_imm21, NULL},
  {"imm62", IA64_OD_IMM, IA64_OS_HEX, 0, x_imm62, NULL},
  {"imm64", IA64_OD_IMM, IA64_OS_HEX, 0, x_imm64, NULL},
  {"hint_m", IA64_OD_IMM, IA64_OS_UDEC, 0, x_hint_m, NULL},
  {"dahr_n", IA64_OD_PRINT, IA64_OS_UDEC, 0, x_dahr_n, NULL},
  {"dahr_imm16", IA64_OD_IMM, IA64_OS_UDEC, 0, x_dahr_imm16, NULL},
  {"qp_aux", IA64_OD_QP, IA64_OS_CUSTOM, 0, x_qp, p_nothing},   /* runs whatever qp (br, fp) */
  {0},
};

/* ---- Executors ---------------------------------------------------------------------------- */

static int x_break(ia64_cpu *c, const ia64_op *op) {
  ia64_raise(c, IA64_VEC_BREAK, 0, 0);
  c->intr.iim = (uint64_t)op->imm;
  return IA64_FAULTED;
}

/* add r1=r2,r3[,1] (arg = the carry-in) */
static int x_add(ia64_cpu *c, const ia64_op *op) {
  ia64_wr(c, op->r[0], ia64_rd(c, op->r[1]) + ia64_rd(c, op->r[2]) + (uint64_t)op->arg,
          ia64_rnat(c, op->r[1]) | ia64_rnat(c, op->r[2]));
  return IA64_NEXT;
}

/* adds/addl r1=imm,r3; mov r1=r3 */
static int x_add_imm(ia64_cpu *c, const ia64_op *op) {
  ia64_wr(c, op->r[0], (uint64_t)op->imm + ia64_rd(c, op->r[1]), ia64_rnat(c, op->r[1]));
  return IA64_NEXT;
}

static int x_movl(ia64_cpu *c, const ia64_op *op) {
  ia64_wr(c, op->r[0], (uint64_t)op->imm, 0);
  return IA64_NEXT;
}

/* ---- Forms -------------------------------------------------------------------------------- */

#define A IA64_UNIT_A
#define I IA64_UNIT_I
#define M IA64_UNIT_M
#define B IA64_UNIT_B
#define F IA64_UNIT_F
#define X IA64_UNIT_X
#define MAJ(v) ENC(40, 37, v)
#define MAJM MSK(40, 37)

const ia64_insn_desc ia64_tab_core[] = {
  /* M48, I19, B9, F15, X1/X5: break, nop, hint */
  {"break.m", M, "%imm21", x_break, 0, MAJ(0), MAJM | MSK(35, 33) | MSK(32, 27)},
  {"nop.m", M, "%imm21", ia64_x_nop, 0, MAJ(0) | ENC(32, 27, 1), MAJM | MSK(35, 33) | MSK(32, 27) | MSK(26, 26)},
  {"hint.m", M, "%hint_m", ia64_x_nop, 0, MAJ(0) | ENC(32, 27, 1) | ENC(26, 26, 1),
   MAJM | MSK(35, 33) | MSK(32, 27) | MSK(26, 26) | MSK(11, 10)},
  /* Data access hints (Itanium 9500): only hints here, so they execute as nops. */
  {"mov", M, "dahr%dahr_n=%dahr_imm16", ia64_x_nop, 0, MAJ(0) | ENC(32, 27, 1) | ENC(26, 26, 1) | ENC(11, 10, 1),
   MAJM | MSK(35, 33) | MSK(32, 27) | MSK(26, 26) | MSK(11, 10)},
  {"break.i", I, "%imm21", x_break, 0, MAJ(0), MAJM | MSK(35, 33) | MSK(32, 27)},
  {"nop.i", I, "%imm21", ia64_x_nop, 0, MAJ(0) | ENC(32, 27, 1), MAJM | MSK(35, 33) | MSK(32, 27) | MSK(26, 26)},
  {"hint.i", I, "%imm21", ia64_x_nop, 0, MAJ(0) | ENC(32, 27, 1) | ENC(26, 26, 1), MAJM | MSK(35, 33) | MSK(32, 27) | MSK(26, 26)},
  {"break.b", B, "%imm21", x_break, 0, MAJ(0), MAJM | MSK(32, 27)},
  {"nop.b", B, "%imm21", ia64_x_nop, 0, MAJ(2), MAJM | MSK(32, 27)},
  {"hint.b", B, "%imm21", ia64_x_nop, 0, MAJ(2) | ENC(32, 27, 1), MAJM | MSK(32, 27)},
  {"break.f", F, "%imm21", x_break, 0, MAJ(0), MAJM | MSK(33, 33) | MSK(32, 27)},
  {"nop.f", F, "%imm21", ia64_x_nop, 0, MAJ(0) | ENC(32, 27, 1), MAJM | MSK(33, 33) | MSK(32, 27) | MSK(26, 26)},
  {"hint.f", F, "%imm21", ia64_x_nop, 0, MAJ(0) | ENC(32, 27, 1) | ENC(26, 26, 1), MAJM | MSK(33, 33) | MSK(32, 27) | MSK(26, 26)},
  {"break.x", X, "%imm62", x_break, 0, MAJ(0), MAJM | MSK(35, 33) | MSK(32, 27)},
  {"nop.x", X, "%imm62", ia64_x_nop, 0, MAJ(0) | ENC(32, 27, 1), MAJM | MSK(35, 33) | MSK(32, 27) | MSK(26, 26)},
  {"hint.x", X, "%imm62", ia64_x_nop, 0, MAJ(0) | ENC(32, 27, 1) | ENC(26, 26, 1), MAJM | MSK(35, 33) | MSK(32, 27) | MSK(26, 26)},
  /* X2: movl */
  {"movl", X, "%r1=%imm64", x_movl, 0, MAJ(6), MAJM | MSK(20, 20)},
  /* A1: add */
  {"add", A, "%r1=%r2,%r3", x_add, 0, MAJ(8), MAJM | MSK(35, 27)},
  {"add", A, "%r1=%r2,%r3,1", x_add, 1, MAJ(8) | ENC(28, 27, 1), MAJM | MSK(35, 27)},
  /* A4: adds, and its pseudo-op mov r1=r3 */
  {"adds", A, "%r1=%imm14,%r3", x_add_imm, 0, MAJ(8) | ENC(35, 34, 2), MAJM | MSK(35, 33)},
  {"mov", A, "%r1=%r3", x_add_imm, 0, MAJ(8) | ENC(35, 34, 2), MAJM | MSK(35, 33) | MSK(36, 36) | MSK(32, 27) | MSK(19, 13)},
  /* A5: addl, and mov r1=imm22 when r3 is r0 */
  {"addl", A, "%r1=%imm22,%r3_2", x_add_imm, 0, MAJ(9), MAJM},
  {"mov", A, "%r1=%imm22", x_add_imm, 0, MAJ(9), MAJM | MSK(21, 20)},
};
IA64_TAB_LEN(core);
