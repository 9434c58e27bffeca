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
static inline int ia64_priv_op(ia64_cpu *c) {
  return ia64_raise(c, IA64_VEC_GENERAL_EXCEPTION, IA64_GE_PRIV_OP, 0);
}
/* Register NaT Consumption: ISR.code says a register's NaT (IA64_ISR_NAT_REG; tlb.c raises
 * the NaT page kind itself); isr_bits add ISR.r/w/na and a non-access instruction's code. */
#define IA64_ISR_NAT_REG 0x10
static inline int ia64_nat_consumption(ia64_cpu *c, uint64_t isr_bits) {
  return ia64_raise(c, IA64_VEC_NAT_CONSUMPTION, IA64_ISR_NAT_REG | isr_bits, 0);
}

/* ---- Memory ------------------------------------------------------------------------------ */

/* Slow path: translate, check alignment, fill the software TLB. Returns 0 with *host set,
 * IA64_XLAT_IO (the access must go through ia64_io), or -1 after raising a fault. */
int ia64_mem_slow(ia64_cpu *c, uint64_t va, unsigned size, unsigned acc, uint8_t **host);
int ia64_io(ia64_cpu *c, uint64_t va, unsigned size, bool write, uint64_t *val);

/* The software TLB's fast path alone: true, with *host, when it holds the page of an aligned
 * access of size bytes (1..16, in one page) with the right acc. No side effect, so the plain
 * loads and stores try it first and leave everything else to their general path. */
static inline bool ia64_stlb_hit(const ia64_cpu *c, uint64_t va, unsigned size, unsigned acc, uint8_t **host) {
  const ia64_stlb_ent *e = &c->stlb[(va >> IA64_PAGE_SHIFT) & (IA64_STLB_SIZE - 1)];
  uint64_t tag = acc == IA64_ACC_W ? e->tag_w : acc == IA64_ACC_R ? e->tag_r : e->tag_x;
  uint64_t key = va & (~(uint64_t)(IA64_PAGE_SIZE - 1) | (size - 1));
  if (LIKELY(tag == key)) {
    *host = (uint8_t *)(uintptr_t)(va + e->addend);
    return true;
  }
  return false;
}

/* Host pointer for an aligned access of size bytes (1..16) that stays in one page. */
static inline int ia64_mem_ptr(ia64_cpu *c, uint64_t va, unsigned size, unsigned acc,
                               uint8_t **host) {
  if (ia64_stlb_hit(c, va, size, acc, host)) return 0;
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

/* ---- System architecture (tlb.c, intr.c) ---------------------------------------------------- */

/* PSR bits the CPU acts on. */
#define IA64_PSR_BE (1ull << 1)
#define IA64_PSR_UP (1ull << 2)
#define IA64_PSR_MFL (1ull << 4)
#define IA64_PSR_MFH (1ull << 5)
#define IA64_PSR_IC (1ull << 13)
#define IA64_PSR_I (1ull << 14)
#define IA64_PSR_PK (1ull << 15)
#define IA64_PSR_DT (1ull << 17)
#define IA64_PSR_DFL (1ull << 18)  /* disabled FP registers: f2-f31 */
#define IA64_PSR_DFH (1ull << 19)  /* f32-f127 */
#define IA64_PSR_SP (1ull << 20)
#define IA64_PSR_PP (1ull << 21)
#define IA64_PSR_LP (1ull << 25)
#define IA64_PSR_TB (1ull << 26)
#define IA64_PSR_RT (1ull << 27)
#define IA64_PSR_CPL (3ull << 32)
#define IA64_PSR_MC (1ull << 35)
#define IA64_PSR_IT (1ull << 36)
#define IA64_PSR_ID (1ull << 37)
#define IA64_PSR_DA (1ull << 38)
#define IA64_PSR_DD (1ull << 39)
#define IA64_PSR_SS (1ull << 40)
#define IA64_PSR_ED (1ull << 43)
#define IA64_PSR_BN (1ull << 44)
#define IA64_PSR_IA (1ull << 45)
/* Fault suppression for one instruction (rfi sets them, the next instruction clears them). */
#define IA64_PSR_SUPPRESS (IA64_PSR_ID | IA64_PSR_DA | IA64_PSR_DD | IA64_PSR_IA | IA64_PSR_ED)
/* What makes the CPU execute one instruction at a time (intr.c's stepper). */
#define IA64_PSR_STEP (IA64_PSR_SS | IA64_PSR_TB | IA64_PSR_LP | IA64_PSR_SUPPRESS)
/* The privilege level a PSR value runs at (0 most privileged). */
static inline unsigned ia64_psr_cpl(uint64_t psr) { return (unsigned)((psr & IA64_PSR_CPL) >> 32); }

/* Control register numbers. */
enum {
  IA64_CR_DCR = 0, IA64_CR_ITM = 1, IA64_CR_IVA = 2, IA64_CR_PTA = 8, IA64_CR_IPSR = 16,
  IA64_CR_ISR = 17, IA64_CR_IIP = 19, IA64_CR_IFA = 20, IA64_CR_ITIR = 21, IA64_CR_IIPA = 22,
  IA64_CR_IFS = 23, IA64_CR_IIM = 24, IA64_CR_IHA = 25, IA64_CR_LID = 64, IA64_CR_IVR = 65,
  IA64_CR_TPR = 66, IA64_CR_EOI = 67, IA64_CR_IRR0 = 68, IA64_CR_ITV = 72, IA64_CR_PMV = 73,
  IA64_CR_CMCV = 74, IA64_CR_LRR0 = 80, IA64_CR_LRR1 = 81,
};

/* ia64_sys.flags */
enum {
  IA64_SYS_HALTED = 1,      /* ia64_halt() until an unmasked interrupt is pending */
  IA64_SYS_ITM_ARMED = 2,   /* ITC has not reached ITM since ITM was written */
  IA64_SYS_IIPA = 4,        /* ia64_sys.iipa holds the IIPA of the interruption in c->intr */
  IA64_SYS_WALKING = 8,     /* the VHPT walker is reading through mem->translate */
  IA64_SYS_STLB_CPL = 16,   /* the software TLB may hold rights that depend on PSR.cpl */
  IA64_SYS_STLB_ONCE = 32,  /* ... or a grant only a PSR suppression bit allowed */
};

static inline void ia64_attn_set(ia64_cpu *c, uint32_t bits) {
  __atomic_fetch_or(&c->sys.attn, bits, __ATOMIC_SEQ_CST);
}
static inline void ia64_attn_clear(ia64_cpu *c, uint32_t bits) {
  __atomic_fetch_and(&c->sys.attn, ~bits, __ATOMIC_SEQ_CST);
}

void ia64_sys_reset(ia64_cpu *c);                /* TLB empty, interrupts idle, hooks kept */
void ia64_bank_switch(ia64_cpu *c);              /* r16-r31 and their NaTs <-> the other bank */
/* After any PSR write (rfi, ssm/rsm, mov psr.l, br.ret demotion, delivery): drops the
 * software TLB when translation changed (dt, it, pk, cpl), looks for a deliverable
 * interrupt when PSR.i became 1, and asks for single-stepping (ss, tb, lp, id/da/dd/ia/ed). */
void ia64_psr_changed(ia64_cpu *c, uint64_t old_psr);
/* The run loop's slow path while c->sys.attn != 0 (c->retired up to date): folds pended
 * interrupts, fires the timer, delivers an External Interrupt, steps instructions one at a
 * time while PSR asks for traps after each. 0 to go on, or why ia64_run must stop. */
ia64_stop ia64_sys_attend(ia64_cpu *c, uint64_t limit);
uint64_t ia64_itc_read(ia64_cpu *c);             /* ar.itc reads and writes (regs.c) */
void ia64_itc_write(ia64_cpu *c, uint64_t v);

/* The translation instructions (tab_sys.c). The int ones return 0 or -1 with a fault raised. */
int ia64_tlb_insert(ia64_cpu *c, bool inst, int tr_slot, uint64_t ifa, uint64_t pte, uint64_t itir);
enum { IA64_PURGE_TC = 1, IA64_PURGE_ITR = 2, IA64_PURGE_DTR = 4 };
void ia64_tlb_purge(ia64_cpu *c, unsigned what, uint64_t va, unsigned ps);
void ia64_tlb_purge_all_tc(ia64_cpu *c);
int ia64_tlb_tpa(ia64_cpu *c, uint64_t va, uint64_t *pa);
uint64_t ia64_tlb_tak(ia64_cpu *c, uint64_t va);
/* probe: access IA64_ACC_R/W (or both) at privilege pl; fault = the .fault form. 0 with
 * *ok set (non-fault form), or -1 with a fault raised. */
int ia64_tlb_probe(ia64_cpu *c, uint64_t va, unsigned access, unsigned pl, bool fault, bool *ok);

/* The interrupt controller's control registers (tab_sys.c's mov to/from cr). */
uint64_t ia64_ivr_read(ia64_cpu *c);
void ia64_irr_fold(ia64_cpu *c);                 /* pended vectors into IRR, timer match */
void ia64_eoi(ia64_cpu *c);
void ia64_irq_changed(ia64_cpu *c);              /* TPR/IRR/in-service changed: look again */
void ia64_itm_changed(ia64_cpu *c);              /* ITM, ITV or ITC written: re-arm */

/* ---- Speculative loads (tab_mem.c) ---------------------------------------------------------- */

/* The deferral policy every speculative load follows (ld.s/ld.sa in tab_mem.c, ldf.s and
 * ldfp.s in exec_fp.c). The load's access has just raised a fault (c->intr); saved is the
 * interruption state from before the access. true: the fault is deferred, c->intr is back to
 * saved and the target gets a NaT (NaTVal); false: it stands, with ISR.sp and ISR.ed set. */
bool ia64_spec_defer(ia64_cpu *c, const ia64_intr *saved);

/* PSR.ed (set by an OS handler that chose to defer a speculative load's fault, before it
 * returns to the load) forces the deferral, and lasts for that one instruction: the
 * architecture clears it once the next instruction completes, which here is the load that
 * uses it. true: defer without an access (PSR.ed consumed). */
static inline bool ia64_spec_take_ed(ia64_cpu *c) {
  if (LIKELY(!(c->psr & IA64_PSR_ED))) return false;
  c->psr &= ~IA64_PSR_ED;
  return true;
}

#endif
