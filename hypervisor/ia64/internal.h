/* internal.h — what the CPU's own files share: decoded operations, the instruction and
 * operand tables the decoder is built from, and the inline fast paths (registers, memory).
 * Never included from outside hypervisor/ia64/.
 *
 * How an instruction is described (data over code): each family file tab_<family>.c holds
 * an array of ia64_insn_desc, one per instruction form, giving its unit, the fixed bits of
 * its 41-bit slot (match/mask, written with ENC(hi,lo,value) terms taken from the format
 * tables of the Itanium SDM vol. 3), its objdump text as a template, and its executor.
 * Templates name operands and completers with %tokens that ia64_opnd_kind entries define:
 * how to extract the value from the slot, where it goes in the decoded op, how to print it.
 *   { "add", IA64_UNIT_A, "%r1=%r2,%r3", x_add, 0, ENC(40,37,8)|..., MSK(40,37)|... }
 * The decoder picks, among the forms whose mask/match fit, the one with the most fixed
 * bits, so objdump's pseudo-ops (mov r1=r3 for adds r1=0,r3) win over the general form. */
#ifndef HPVM_IA64_INTERNAL_H
#define HPVM_IA64_INTERNAL_H

#include <string.h>

#include "ia64.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- Decoded operations ---------------------------------------------------------------- */

typedef struct ia64_op ia64_op;
/* An executor returns IA64_NEXT, IA64_BRANCHED (it set cpu->ip, cpu->ri = 0 unless it says
 * otherwise) or IA64_FAULTED (after ia64_raise()). */
typedef int (*ia64_exec_fn)(ia64_cpu *cpu, const ia64_op *op);
enum { IA64_NEXT = 0, IA64_BRANCHED = 1, IA64_FAULTED = -1 };

struct ia64_op {
  ia64_exec_fn exec;
  int64_t imm;        /* first immediate operand (IP-relative targets: the displacement) */
  int32_t imm2;       /* second immediate operand (e.g. dep/extr length) */
  uint16_t id;        /* index of the instruction form (ia64_insn_name) */
  uint8_t qp;         /* qualifying predicate */
  uint8_t r[4];       /* register operands, in the order they appear in the template */
  uint8_t aux;        /* a completer the executor needs (e.g. FP status field) */
  uint8_t maxgr;      /* highest GR the op names (stacked-frame check) */
  int16_t arg;        /* the form's executor argument (ia64_insn_desc.arg) */
};

/* A decoded bundle in the decode cache. */
typedef struct ia64_dbundle {
  ia64_op op[3];
  uint8_t decoded;    /* 0 until first executed */
  uint8_t nslots;     /* 3, or 2 for MLX (the L+X instruction is op[1]) */
  uint8_t maxgr;      /* highest GR any slot names: frame check once per bundle */
  uint8_t tmpl;
  uint8_t live;       /* bit s: slot s does something (not nop/hint), so the loop calls it */
  uint8_t need_sof;   /* the frame size below which a slot must be checked: 32 + sof must
                       * exceed its highest GR; 255 when a slot changes the frame (alloc) */
} ia64_dbundle;

/* ---- Instruction and operand tables ---------------------------------------------------- */

enum ia64_unit { IA64_UNIT_NONE = 0, IA64_UNIT_A, IA64_UNIT_I, IA64_UNIT_M, IA64_UNIT_B,
                 IA64_UNIT_F, IA64_UNIT_X, IA64_UNIT_L };

#define MSK(hi, lo) ((((uint64_t)1 << ((hi) - (lo) + 1)) - 1) << (lo))
#define ENC(hi, lo, v) (((uint64_t)(v) << (lo)) & MSK(hi, lo))

typedef struct ia64_insn_desc {
  const char *mnem;      /* objdump mnemonic, may hold %completer tokens: "br.cond%bwh%ph%dh" */
  uint8_t unit;          /* enum ia64_unit: A forms decode in M and I slots */
  const char *opnds;     /* objdump operand text with %tokens: "%r1=[%r3],%imm9b" */
  ia64_exec_fn exec;
  int16_t arg;           /* passed to the executor in op->arg */
  uint64_t match, mask;  /* over the 41-bit slot */
  uint8_t flags;         /* IA64_DF_* */
} ia64_insn_desc;

/* ia64_insn_desc.flags */
enum {
  IA64_DF_FRAME = 1,     /* changes the current frame without branching (alloc, cover) */
};

/* Where an operand's value goes in the decoded op. */
enum ia64_opnd_dest {
  IA64_OD_REG = 1,   /* next of op->r[] */
  IA64_OD_IMM,       /* op->imm, then op->imm2 */
  IA64_OD_AUX,       /* op->aux */
  IA64_OD_PRINT,     /* printed only (hints) */
  IA64_OD_QP,        /* the qualifying predicate goes to op->aux and op->qp becomes p0: the
                        executor runs whatever the predicate and reads it itself, for forms
                        that act when it is false (.unc compares clear their targets) */
  IA64_OD_NOPRED,    /* the form cannot be predicated (alloc, cover, brp, counted loop
                        branches...): like IA64_OD_QP the op always runs with the qp field in
                        op->aux, and the disassembler prints no (pNN), as objdump */
  IA64_OD_SLOT2,     /* the form is legal only in slot 2 (loop branches): elsewhere the decoder
                        makes it an Illegal Operation. Extracts and prints nothing */
};
/* How it prints. */
enum ia64_opnd_style {
  IA64_OS_GR = 1,    /* r5 */
  IA64_OS_FR,        /* f5 */
  IA64_OS_PR,        /* p5 */
  IA64_OS_BR,        /* b5 */
  IA64_OS_AR,        /* ar.lc, ar.pfs, ar5 */
  IA64_OS_CR,        /* cr.iva, ... */
  IA64_OS_DEC,       /* signed decimal */
  IA64_OS_UDEC,      /* unsigned decimal */
  IA64_OS_HEX,       /* 0x1f */
  IA64_OS_TARGET,    /* ip + value, 16 hex digits */
  IA64_OS_CUSTOM,    /* print() below */
};

typedef struct ia64_opnd_kind {
  const char *name;                  /* the token without its % */
  uint8_t dest;                      /* enum ia64_opnd_dest */
  uint8_t style;                     /* enum ia64_opnd_style */
  uint8_t is_gr_dest;                /* a GR written: r0 here is Illegal Operation */
  int64_t (*extract)(uint64_t slot, uint64_t lslot);
  /* IA64_OS_CUSTOM: write the text for value v (completers print their leading '.'). */
  void (*print)(char *buf, size_t n, int64_t v, uint64_t ip);
} ia64_opnd_kind;

/* Bit field of a slot. */
static inline uint64_t ia64_field(uint64_t slot, unsigned hi, unsigned lo) {
  return (slot >> lo) & ((((uint64_t)1) << (hi - lo + 1)) - 1);
}
static inline int64_t ia64_sext(uint64_t v, unsigned bits) {
  return (int64_t)(v << (64 - bits)) >> (64 - bits);
}

/* The families. Each tab_<family>.c defines ia64_tab_<family> and its length; each may also
 * define ia64_opnds_<family> (operand kinds it adds), terminated by a zero entry. */
#define IA64_FAMILIES(X) X(core) X(alu) X(mm) X(mem) X(br) X(fp) X(sys)
#define IA64_DECLARE_FAMILY(f)                                                                 \
  extern const ia64_insn_desc ia64_tab_##f[];                                                  \
  extern const size_t ia64_tab_##f##_len;                                                      \
  extern const ia64_opnd_kind ia64_opnds_##f[];
IA64_FAMILIES(IA64_DECLARE_FAMILY)
#undef IA64_DECLARE_FAMILY
#define IA64_TAB_LEN(f) const size_t ia64_tab_##f##_len = sizeof(ia64_tab_##f) / sizeof(ia64_tab_##f[0])

/* Decoder (decode.c). */
void ia64_decode_bundle(ia64_dbundle *db, const uint8_t bytes[16]);
const ia64_insn_desc *ia64_desc(unsigned id);
const ia64_opnd_kind *ia64_opnd_find(const char *name, size_t len);
void ia64_bundle_slots(const uint8_t bytes[16], unsigned *tmpl, uint64_t slot[3]);
/* Unit of each slot for a template, or IA64_UNIT_NONE for reserved templates; stops is a
 * bit mask: bit s = a stop after slot s. */
int ia64_template_units(unsigned tmpl, uint8_t units[3], unsigned *stops);
/* Whether one of the form's templates names an operand kind with this dest (IA64_OD_*). */
bool ia64_form_has_dest(const ia64_insn_desc *d, unsigned dest);

/* Executors every family may use. */
int ia64_x_illegal(ia64_cpu *cpu, const ia64_op *op);   /* Illegal Operation fault */
int ia64_x_nop(ia64_cpu *cpu, const ia64_op *op);

/* ---- Registers --------------------------------------------------------------------------- */

static inline uint64_t ia64_rd(const ia64_cpu *c, unsigned r) { return c->gr[c->grmap[r]]; }
static inline unsigned ia64_rnat(const ia64_cpu *c, unsigned r) { return c->nat[c->grmap[r]]; }
static inline void ia64_wr(ia64_cpu *c, unsigned r, uint64_t v, unsigned nat) {
  unsigned p = c->grmap[r];
  c->gr[p] = v;
  c->nat[p] = (uint8_t)nat;
}
static inline unsigned ia64_prd(const ia64_cpu *c, unsigned p) { return (c->pr >> p) & 1; }
static inline void ia64_pwr(ia64_cpu *c, unsigned p, unsigned v) {
  c->pr = ((c->pr & ~((uint64_t)1 << p)) | ((uint64_t)(v & 1) << p)) | 1;
}
static inline ia64_fr *ia64_frp(ia64_cpu *c, unsigned f) { return &c->fr[c->frmap[f]]; }

/* Fault helpers. */
static inline int ia64_illegal_op(ia64_cpu *c) {
  return ia64_raise(c, IA64_VEC_GENERAL_EXCEPTION, IA64_GE_ILLEGAL_OP, 0);
}
static inline int ia64_nat_consumption(ia64_cpu *c, uint64_t isr_bits) {
  return ia64_raise(c, IA64_VEC_NAT_CONSUMPTION, isr_bits, 0);
}

/* ---- Memory ------------------------------------------------------------------------------ */

/* Slow path: translate, check alignment, fill the software TLB. Returns 0 with *host set,
 * IA64_XLAT_IO (the access must go through ia64_io), or -1 after raising a fault. */
int ia64_mem_slow(ia64_cpu *c, uint64_t va, unsigned size, unsigned acc, uint8_t **host);
int ia64_io(ia64_cpu *c, uint64_t va, unsigned size, bool write, uint64_t *val);

/* Host pointer for an aligned access of size bytes (1..16) that stays in one page. */
static inline int ia64_mem_ptr(ia64_cpu *c, uint64_t va, unsigned size, unsigned acc,
                               uint8_t **host) {
  const ia64_stlb_ent *e = &c->stlb[(va >> IA64_PAGE_SHIFT) & (IA64_STLB_SIZE - 1)];
  uint64_t tag = acc == IA64_ACC_W ? e->tag_w : acc == IA64_ACC_R ? e->tag_r : e->tag_x;
  uint64_t key = va & (~(uint64_t)(IA64_PAGE_SIZE - 1) | (size - 1));
  if (LIKELY(tag == key)) {
    *host = (uint8_t *)(uintptr_t)(va + e->addend);
    return 0;
  }
  return ia64_mem_slow(c, va, size, acc, host);
}

/* Little-endian integer load/store of 1, 2, 4 or 8 bytes. Return 0 or -1 (fault raised). */
static inline int ia64_load(ia64_cpu *c, uint64_t va, unsigned size, uint64_t *val) {
  uint8_t *h;
  int rc = ia64_mem_ptr(c, va, size, IA64_ACC_R, &h);
  if (LIKELY(rc == 0)) {
    uint64_t v = 0;
    memcpy(&v, h, size);
    *val = v;
    return 0;
  }
  return rc == IA64_XLAT_IO ? ia64_io(c, va, size, false, val) : -1;
}
static inline int ia64_store(ia64_cpu *c, uint64_t va, unsigned size, uint64_t val) {
  uint8_t *h;
  int rc = ia64_mem_ptr(c, va, size, IA64_ACC_W, &h);
  if (LIKELY(rc == 0)) {
    memcpy(h, &val, size);
    return 0;
  }
  return rc == IA64_XLAT_IO ? ia64_io(c, va, size, true, &val) : -1;
}

/* mov from/to ar (regs.c): i_unit says which unit's form; the fault of a reserved register
 * for that unit, and every check ia64_ar_write makes. 0, or -1 after ia64_raise(). */
int ia64_ar_get(ia64_cpu *c, unsigned ar, bool i_unit, uint64_t *v);
int ia64_ar_put(ia64_cpu *c, unsigned ar, bool i_unit, uint64_t v);

/* Register stack engine (rse.c). Those returning int give 0, or -1 after raising the fault a
 * mandatory RSE load/store took (state stays consistent, so the instruction can restart). */
uint64_t ia64_rse_skip(uint64_t addr, int64_t nregs); /* backing store address nregs away */
uint64_t ia64_rse_bsp(const ia64_cpu *c);             /* ar.bsp: where r32 of the frame goes */
int ia64_rse_alloc(ia64_cpu *c, unsigned sof, unsigned sol, unsigned sor);
void ia64_rse_call(ia64_cpu *c);                      /* frame = the caller's outputs */
/* Back to frame cfm (br.ret, rfi), of which the lowest `below` registers sit just below the
 * current frame (its locals for br.ret: pfm.sol; the whole covered frame for rfi). */
int ia64_rse_return(ia64_cpu *c, unsigned below, uint64_t cfm);
void ia64_rse_cover(ia64_cpu *c);                     /* frame becomes dirty, sof = 0 */
int ia64_rse_flushrs(ia64_cpu *c);
int ia64_rse_loadrs(ia64_cpu *c);
void ia64_rse_set_bspstore(ia64_cpu *c, uint64_t v);

/* ALAT (alat.c): advanced loads insert, stores invalidate overlapping entries, checks ask.
 * phys_reg is the physical register (c->grmap[r], c->frmap[f]); addr is the host address of
 * the data (ia64_mem_ptr's pointer: it stands for the physical address; IO pages get no
 * entries). Stores call ia64_alat_store only while c->alat_live is non-zero. */
void ia64_alat_insert(ia64_cpu *c, unsigned phys_reg, bool is_fp, uint64_t addr, unsigned size);
bool ia64_alat_check(ia64_cpu *c, unsigned phys_reg, bool is_fp, bool clear);
void ia64_alat_store(ia64_cpu *c, uint64_t addr, unsigned size);
void ia64_alat_invalidate_reg(ia64_cpu *c, unsigned phys_reg, bool is_fp);
void ia64_alat_invala(ia64_cpu *c);

#endif
