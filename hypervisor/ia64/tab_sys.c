/* tab_sys.c — the system instructions of the M unit: moves to and from the control
 * registers, the PSR and its user mask (sum/rum/ssm/rsm), the indirect register files
 * (rr, dbr, ibr, pkr, pmc, pmd, msr, cpuid, dahr), and the translation instructions (itc,
 * itr, ptc, ptr, probe, tpa, tak, thash, ttag). Encodings: SDM vol. 3 ch. 4, formats
 * M32-M47 (major opcode 1, x3 = 0, x6 selects) and M44 (major 0, x3 = 0, x4 = 4..7).
 *
 * Execution follows the SDM's pseudocode for the checks, in its order: Illegal Operation
 * for reserved or read-only registers, Privileged Operation when PSR.cpl != 0, Register NaT
 * Consumption, then Reserved Register/Field. What a user program may do works at any cpl:
 * mov r1=psr.um, mov psr.um=r2, sum, rum, mov r1=cpuid[r3], and mov r1=pmd[r3] (it reads
 * 0 when PSR.sp = 1 or the counter is privileged). At cpl 0 the moves to and from CRs, the
 * PSR and the indirect registers are done here, as plain register moves.
 *
 * Left to the next layer (the hypervisor's TLB and interruption delivery): the translation
 * instructions. itc/itr/ptc/ptr/tpa/tak make their privilege checks and then raise Illegal
 * Operation at cpl 0; probe/thash/ttag raise Illegal Operation at any cpl. Likewise the side
 * effects some CRs have beyond storage (IVR acknowledging an interrupt, EOI, ITM arming the
 * timer) belong to the platform's interrupt controller and timer. */
#include "internal.h"

/* ---- Operand kinds ---------------------------------------------------------------------- */

static int64_t x_cr3(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 26, 20); }
/* M44: i (36), i2d (32:31), imm21a (26:6). */
static int64_t x_imm24(uint64_t s, uint64_t l) {
  (void)l;
  return (int64_t)(ia64_field(s, 36, 36) << 23 | ia64_field(s, 32, 31) << 21 | ia64_field(s, 26, 6));
}
/* M39/M40 probe immediate: i2b (14:13). */
static int64_t x_imm2(uint64_t s, uint64_t l) { (void)l; return (int64_t)ia64_field(s, 14, 13); }

const ia64_opnd_kind ia64_opnds_sys[] = {
  {"sys_cr3", IA64_OD_AUX, IA64_OS_CR, 0, x_cr3, NULL},
  {"sys_imm24", IA64_OD_IMM, IA64_OS_HEX, 0, x_imm24, NULL},
  {"sys_imm2", IA64_OD_IMM, IA64_OS_UDEC, 0, x_imm2, NULL},
  {0},
};

/* ---- Faults and PSR fields ------------------------------------------------------------------ */

#define PSR_UP (1ull << 2)
#define PSR_IC (1ull << 13)
#define PSR_PK (1ull << 15)
#define PSR_DT (1ull << 17)
#define PSR_SP (1ull << 20)
/* User mask bits a program may change: be, up, ac, mfl, mfh (bit 0 is reserved). */
#define PSR_UM_BITS MSK(5, 1)
/* Reserved PSR bits: 0, 12:6, 16, 31:28 and 63:46 (vm, bit 46, exists only on processors
 * with the virtualization extension, which this one does not have). */
#define PSR_RESERVED (1ull | MSK(12, 6) | 1ull << 16 | MSK(31, 28) | MSK(63, 46))
/* ISR.code of a Register NaT Consumption fault (SDM vol. 2, NaT Consumption vector). */
#define ISR_NAT_REGISTER 0x10

static inline unsigned sys_cpl(const ia64_cpu *c) { return (unsigned)ia64_field(c->psr, 33, 32); }

static int priv_op(ia64_cpu *c) { return ia64_raise(c, IA64_VEC_GENERAL_EXCEPTION, IA64_GE_PRIV_OP, 0); }
static int reserved_reg(ia64_cpu *c) {
  return ia64_raise(c, IA64_VEC_GENERAL_EXCEPTION, IA64_GE_RESERVED_REG, 0);
}
static int nat_reg(ia64_cpu *c) { return ia64_nat_consumption(c, ISR_NAT_REGISTER); }

/* ---- Control registers (M32, M33) ----------------------------------------------------------- */

enum { CR_IMPL = 1, CR_RO = 2, CR_INTR = 4 /* interruption CR: not while PSR.ic = 1 */ };

/* Per CR: what exists, which bits are reserved (writing 1 faults) and ignored (dropped). */
typedef struct cr_info { uint8_t flags; uint64_t rsv, ign; } cr_info;

static const cr_info cr_table[IA64_NCR] = {
  [0] = {CR_IMPL, MSK(7, 3) | MSK(63, 15), 0},                    /* dcr */
  [1] = {CR_IMPL, 0, 0},                                          /* itm */
  [2] = {CR_IMPL, 0, MSK(14, 0)},                                 /* iva */
  [8] = {CR_IMPL, 1ull << 1 | MSK(14, 9), 0},                     /* pta */
  [16] = {CR_IMPL | CR_INTR, PSR_RESERVED, 0},                    /* ipsr */
  [17] = {CR_IMPL | CR_INTR, MSK(31, 24) | MSK(63, 44), 0},       /* isr */
  [19] = {CR_IMPL | CR_INTR, 0, 0},                               /* iip */
  [20] = {CR_IMPL | CR_INTR, 0, 0},                               /* ifa */
  [21] = {CR_IMPL | CR_INTR, MSK(1, 0) | MSK(63, 32), 0},         /* itir */
  [22] = {CR_IMPL | CR_INTR, 0, 0},                               /* iipa */
  [23] = {CR_IMPL | CR_INTR, MSK(62, 38), 0},                     /* ifs */
  [24] = {CR_IMPL | CR_INTR, 0, 0},                               /* iim */
  [25] = {CR_IMPL | CR_INTR, 0, 0},                               /* iha */
  [26] = {CR_IMPL | CR_INTR, 0, 0},                               /* iib0 */
  [27] = {CR_IMPL | CR_INTR, 0, 0},                               /* iib1 */
  [64] = {CR_IMPL, MSK(63, 32), MSK(15, 0)},                      /* lid */
  [65] = {CR_IMPL | CR_RO, 0, 0},                                 /* ivr */
  [66] = {CR_IMPL, MSK(15, 8) | MSK(63, 17), MSK(3, 0)},          /* tpr */
  [67] = {CR_IMPL, 0, ~0ull},                                     /* eoi */
  [68] = {CR_IMPL | CR_RO, 0, 0}, [69] = {CR_IMPL | CR_RO, 0, 0}, /* irr0, irr1 */
  [70] = {CR_IMPL | CR_RO, 0, 0}, [71] = {CR_IMPL | CR_RO, 0, 0}, /* irr2, irr3 */
  [72] = {CR_IMPL, MSK(11, 8) | MSK(15, 13) | MSK(63, 17), 0},    /* itv */
  [73] = {CR_IMPL, MSK(11, 8) | MSK(15, 13) | MSK(63, 17), 0},    /* pmv */
  [74] = {CR_IMPL, MSK(11, 8) | MSK(15, 13) | MSK(63, 17), 0},    /* cmcv */
  [80] = {CR_IMPL, 1ull << 12 | MSK(63, 17), 0},                  /* lrr0 */
  [81] = {CR_IMPL, 1ull << 12 | MSK(63, 17), 0},                  /* lrr1 */
};

/* The Illegal Operation checks both directions make first. */
static bool cr_illegal(const ia64_cpu *c, unsigned cr, bool write) {
  unsigned f = cr_table[cr & 127].flags;
  return !(f & CR_IMPL) || (write && (f & CR_RO)) || ((f & CR_INTR) && (c->psr & PSR_IC));
}

/* mov r1=cr3 */
static int x_mov_from_cr(ia64_cpu *c, const ia64_op *op) {
  if (cr_illegal(c, op->aux, false)) return ia64_illegal_op(c);
  if (sys_cpl(c) != 0) return priv_op(c);
  ia64_wr(c, op->r[0], c->cr[op->aux & 127], 0);
  return IA64_NEXT;
}

/* mov cr3=r2 */
static int x_mov_to_cr(ia64_cpu *c, const ia64_op *op) {
  unsigned cr = op->aux & 127;
  if (cr_illegal(c, cr, true)) return ia64_illegal_op(c);
  if (sys_cpl(c) != 0) return priv_op(c);
  if (ia64_rnat(c, op->r[0])) return nat_reg(c);
  uint64_t v = ia64_rd(c, op->r[0]);
  if (v & cr_table[cr].rsv) return reserved_reg(c);
  c->cr[cr] = v & ~cr_table[cr].ign;
  return IA64_NEXT;
}

/* ---- The PSR (M35, M36, M44) ------------------------------------------------------------------ */

/* A new PSR{31:0} from mov psr.l, ssm or rsm. Data translation (dt) and protection key
 * checking (pk) decide what the software TLB's entries mean, so a change drops them. */
static void psr_set_low(ia64_cpu *c, uint64_t psr) {
  if ((c->psr ^ psr) & (PSR_DT | PSR_PK)) ia64_stlb_flush(c);
  c->psr = psr;
}

/* mov r1=psr: PSR{36:35} and PSR{31:0}; the rest reads as zero. */
static int x_mov_from_psr(ia64_cpu *c, const ia64_op *op) {
  if (sys_cpl(c) != 0) return priv_op(c);
  ia64_wr(c, op->r[0], c->psr & (MSK(36, 35) | MSK(31, 0)), 0);
  return IA64_NEXT;
}

/* mov psr.l=r2: PSR{31:0}; bits {63:32} of r2 are ignored. */
static int x_mov_to_psrl(ia64_cpu *c, const ia64_op *op) {
  if (sys_cpl(c) != 0) return priv_op(c);
  if (ia64_rnat(c, op->r[0])) return nat_reg(c);
  uint64_t v = ia64_rd(c, op->r[0]);
  if (v & PSR_RESERVED & MSK(31, 0)) return reserved_reg(c);
  psr_set_low(c, (c->psr & ~MSK(31, 0)) | (v & MSK(31, 0)));
  return IA64_NEXT;
}

/* mov r1=psr.um: any cpl. */
static int x_mov_from_psrum(ia64_cpu *c, const ia64_op *op) {
  ia64_wr(c, op->r[0], c->psr & MSK(5, 0), 0);
  return IA64_NEXT;
}

/* The user-mask update sum, rum and mov psr.um share: PSR.up changes only while PSR.sp = 0
 * (the secure performance monitor setting keeps it from user code). */
static void psr_um_update(ia64_cpu *c, uint64_t set, uint64_t clear) {
  uint64_t mask = PSR_UM_BITS & ~((c->psr & PSR_SP) ? PSR_UP : 0);
  c->psr = (c->psr & ~(clear & mask)) | (set & mask);
}

/* mov psr.um=r2: any cpl; bits of r2 outside the user mask must be 0. */
static int x_mov_to_psrum(ia64_cpu *c, const ia64_op *op) {
  if (ia64_rnat(c, op->r[0])) return nat_reg(c);
  uint64_t v = ia64_rd(c, op->r[0]);
  if (v & ~PSR_UM_BITS) return reserved_reg(c);
  psr_um_update(c, v, ~v);
  return IA64_NEXT;
}

/* sum imm24 (arg 1) / rum imm24 (arg 0): any cpl; only user-mask bits may be named. */
static int x_sum_rum(ia64_cpu *c, const ia64_op *op) {
  uint64_t v = (uint64_t)op->imm;
  if (v & ~PSR_UM_BITS) return reserved_reg(c);
  if (op->arg) psr_um_update(c, v, 0);
  else psr_um_update(c, 0, v);
  return IA64_NEXT;
}

/* ssm imm24 (arg 1) / rsm imm24 (arg 0): cpl 0; the system mask is PSR{23:0}. */
static int x_ssm_rsm(ia64_cpu *c, const ia64_op *op) {
  if (sys_cpl(c) != 0) return priv_op(c);
  uint64_t v = (uint64_t)op->imm;
  if (v & PSR_RESERVED) return reserved_reg(c);
  psr_set_low(c, op->arg ? c->psr | v : c->psr & ~v);
  return IA64_NEXT;
}

/* ---- Indirect registers (M42, M43) ------------------------------------------------------------ */

enum { IREG_RR, IREG_DBR, IREG_IBR, IREG_PKR, IREG_PMC, IREG_PMD, IREG_MSR, IREG_CPUID };

/* CPUID: vendor "hpvm" (registers 0-1, zero padded), 2 reserved, 3 version, 4 features. */
#define CPUID_LAST 4
#define CPUID_VENDOR0 0x6d767068ull /* "hpvm" little-endian */
/* number (largest CPUID index) 7:0, revision 15:8, model 23:16, family 31:24 (0x1f, the
 * Itanium 2 family whose instruction set this is), archrev 39:32. */
#define CPUID_VERSION ((uint64_t)CPUID_LAST | 1ull << 8 | 2ull << 16 | 0x1full << 24)
#define CPUID_FEATURES 1ull /* lb: brl is implemented */

static uint64_t cpuid_value(unsigned i) {
  switch (i) {
  case 0: return CPUID_VENDOR0;
  case 3: return CPUID_VERSION;
  case 4: return CPUID_FEATURES;
  default: return 0;
  }
}

/* The index a register file takes from GR r3: va{63:61} for rr, bits 7:0 otherwise. */
static unsigned ireg_index(unsigned type, uint64_t r3) {
  return type == IREG_RR ? (unsigned)(r3 >> 61) : (unsigned)(r3 & 0xff);
}

/* Registers that do not exist: a Reserved Register/Field fault. Unimplemented PMCs/PMDs are
 * not reserved: they read 0 and ignore writes. No model-specific registers exist. */
static bool ireg_reserved(unsigned type, unsigned i) {
  switch (type) {
  case IREG_DBR: return i >= IA64_NDBR;
  case IREG_IBR: return i >= IA64_NIBR;
  case IREG_PKR: return i >= IA64_NPKR;
  case IREG_MSR: return true;
  case IREG_CPUID: return i > CPUID_LAST;
  default: return false;
  }
}

static uint64_t *ireg_slot(ia64_cpu *c, unsigned type, unsigned i) {
  switch (type) {
  case IREG_RR: return &c->rr[i & 7];
  case IREG_DBR: return &c->dbr[i];
  case IREG_IBR: return &c->ibr[i];
  case IREG_PKR: return &c->pkr[i];
  case IREG_PMC: return i < IA64_NPMC ? &c->pmc[i] : NULL;
  case IREG_PMD: return i < IA64_NPMC ? &c->pmd[i] : NULL;
  default: return NULL;
  }
}

/* Page sizes a region register may name (rr.ps): 4K..4G as the SDM's minimum set. */
#define RR_PAGE_SIZES (1ull << 12 | 1ull << 13 | 1ull << 14 | 1ull << 16 | 1ull << 18 | 1ull << 20 | \
                       1ull << 22 | 1ull << 24 | 1ull << 26 | 1ull << 28 | 1ull << 30 | 1ull << 32)

static bool ireg_field_reserved(unsigned type, uint64_t v) {
  switch (type) {
  case IREG_RR: return (v & (1ull << 1 | MSK(63, 32))) || !(RR_PAGE_SIZES >> ia64_field(v, 7, 2) & 1);
  case IREG_PKR: return (v & (MSK(7, 4) | MSK(63, 32))) != 0;
  default: return false;
  }
}

/* A performance counter user code may not read: it reads as 0 (PMC.pm, bit 6, marks a
 * privileged monitor; PSR.sp hides them all). */
static bool pmd_hidden(const ia64_cpu *c, unsigned i) {
  if (sys_cpl(c) == 0) return false;
  return (c->psr & PSR_SP) || (i >= 4 && i < IA64_NPMC && (c->pmc[i] >> 6 & 1));
}

/* mov r1=ireg[r3] (arg = IREG_*) */
static int x_mov_from_ireg(ia64_cpu *c, const ia64_op *op) {
  unsigned type = (unsigned)op->arg;
  if (sys_cpl(c) != 0 && type != IREG_PMD && type != IREG_CPUID) return priv_op(c);
  if (ia64_rnat(c, op->r[1])) return nat_reg(c);
  unsigned i = ireg_index(type, ia64_rd(c, op->r[1]));
  if (ireg_reserved(type, i)) return reserved_reg(c);
  uint64_t v;
  if (type == IREG_CPUID) {
    v = cpuid_value(i);
  } else if (type == IREG_PMD && pmd_hidden(c, i)) {
    v = 0;
  } else {
    const uint64_t *p = ireg_slot(c, type, i);
    v = p ? *p : 0;
  }
  ia64_wr(c, op->r[0], v, 0);
  return IA64_NEXT;
}

/* Protection keys stay unique: a valid key written to one PKR invalidates (clears pkr.v in)
 * every other valid PKR holding the same key (pkr.key, bits 31:8). */
static void pkr_drop_duplicates(ia64_cpu *c, uint64_t v) {
  for (unsigned j = 0; j < IA64_NPKR; j++)
    if ((c->pkr[j] & 1) && ia64_field(c->pkr[j], 31, 8) == ia64_field(v, 31, 8)) c->pkr[j] &= ~1ull;
}

/* mov ireg[r3]=r2 (arg = IREG_*): cpl 0 only. A new region register or protection key
 * changes what a virtual address means, so the software TLB is dropped. */
static int x_mov_to_ireg(ia64_cpu *c, const ia64_op *op) {
  unsigned type = (unsigned)op->arg;
  if (sys_cpl(c) != 0) return priv_op(c);
  if (ia64_rnat(c, op->r[0]) || ia64_rnat(c, op->r[1])) return nat_reg(c);
  unsigned i = ireg_index(type, ia64_rd(c, op->r[0]));
  uint64_t v = ia64_rd(c, op->r[1]);
  if (ireg_reserved(type, i) || ireg_field_reserved(type, v)) return reserved_reg(c);
  uint64_t *p = ireg_slot(c, type, i);
  if (!p) return IA64_NEXT;
  if (type == IREG_PKR && (v & 1)) pkr_drop_duplicates(c, v);
  *p = v;
  if (type == IREG_RR || type == IREG_PKR) ia64_stlb_flush(c);
  return IA64_NEXT;
}

/* ---- Translation instructions (M38-M41, M45-M47) ---------------------------------------------- */

/* What x_tlb_priv checks: a NaT in op->r[0] / op->r[1] (its GR sources), and PSR.ic = 0. */
enum { TR_NAT0 = 1, TR_NAT1 = 2, TR_IC = 4 };

/* The architectural checks of a privileged translation instruction, in the SDM's order,
 * then Illegal Operation: inserting, purging and translating belong to the guest TLB that
 * the hypervisor layer implements (the next issue), not to this table. */
static int x_tlb_priv(ia64_cpu *c, const ia64_op *op) {
  if ((op->arg & TR_IC) && (c->psr & PSR_IC)) return ia64_illegal_op(c);
  if (sys_cpl(c) != 0) return priv_op(c);
  if (((op->arg & TR_NAT0) && ia64_rnat(c, op->r[0])) || ((op->arg & TR_NAT1) && ia64_rnat(c, op->r[1])))
    return nat_reg(c);
  return ia64_illegal_op(c); /* not yet: the hypervisor's TLB implements this */
}

/* probe, thash, ttag, and mov r1=dahr[r3]: not privileged, but they need the guest TLB
 * (the next layer) — or, for the data access hint registers, a processor generation this
 * one is not — so they raise Illegal Operation for now. */
static int x_tlb_unimpl(ia64_cpu *c, const ia64_op *op) {
  (void)op;
  return ia64_illegal_op(c);
}

/* ---- Forms ---------------------------------------------------------------------------------- */

#define M IA64_UNIT_M
/* M32-M47: major 1, x3 (35:33) = 0, x6 (32:27). */
#define M1X6(x6) (ENC(40, 37, 1) | ENC(32, 27, x6))
#define M1X6M (MSK(40, 37) | MSK(35, 33) | MSK(32, 27))
/* M44: major 0, x3 = 0, x4 (30:27). */
#define M0X4(x4) (ENC(40, 37, 0) | ENC(30, 27, x4))
#define M0X4M (MSK(40, 37) | MSK(35, 33) | MSK(30, 27))

const ia64_insn_desc ia64_tab_sys[] = {
  /* M44: user and system mask */
  {"sum", M, "%sys_imm24", x_sum_rum, 1, M0X4(4), M0X4M},
  {"rum", M, "%sys_imm24", x_sum_rum, 0, M0X4(5), M0X4M},
  {"ssm", M, "%sys_imm24", x_ssm_rsm, 1, M0X4(6), M0X4M},
  {"rsm", M, "%sys_imm24", x_ssm_rsm, 0, M0X4(7), M0X4M},
  /* M42: move to indirect register, insert translation register */
  {"mov", M, "rr[%r3]=%r2", x_mov_to_ireg, IREG_RR, M1X6(0x00), M1X6M},
  {"mov", M, "dbr[%r3]=%r2", x_mov_to_ireg, IREG_DBR, M1X6(0x01), M1X6M},
  {"mov", M, "ibr[%r3]=%r2", x_mov_to_ireg, IREG_IBR, M1X6(0x02), M1X6M},
  {"mov", M, "pkr[%r3]=%r2", x_mov_to_ireg, IREG_PKR, M1X6(0x03), M1X6M},
  {"mov", M, "pmc[%r3]=%r2", x_mov_to_ireg, IREG_PMC, M1X6(0x04), M1X6M},
  {"mov", M, "pmd[%r3]=%r2", x_mov_to_ireg, IREG_PMD, M1X6(0x05), M1X6M},
  {"mov", M, "msr[%r3]=%r2", x_mov_to_ireg, IREG_MSR, M1X6(0x06), M1X6M},
  {"itr.d", M, "dtr[%r3]=%r2", x_tlb_priv, TR_IC | TR_NAT0 | TR_NAT1, M1X6(0x0e), M1X6M},
  {"itr.i", M, "itr[%r3]=%r2", x_tlb_priv, TR_IC | TR_NAT0 | TR_NAT1, M1X6(0x0f), M1X6M},
  /* M45: purge translations */
  {"ptc.l", M, "%r3,%r2", x_tlb_priv, TR_NAT0 | TR_NAT1, M1X6(0x09), M1X6M},
  {"ptc.g", M, "%r3,%r2", x_tlb_priv, TR_NAT0 | TR_NAT1, M1X6(0x0a), M1X6M},
  {"ptc.ga", M, "%r3,%r2", x_tlb_priv, TR_NAT0 | TR_NAT1, M1X6(0x0b), M1X6M},
  {"ptr.d", M, "%r3,%r2", x_tlb_priv, TR_NAT0 | TR_NAT1, M1X6(0x0c), M1X6M},
  {"ptr.i", M, "%r3,%r2", x_tlb_priv, TR_NAT0 | TR_NAT1, M1X6(0x0d), M1X6M},
  /* M43: move from indirect register */
  {"mov", M, "%r1=rr[%r3]", x_mov_from_ireg, IREG_RR, M1X6(0x10), M1X6M},
  {"mov", M, "%r1=dbr[%r3]", x_mov_from_ireg, IREG_DBR, M1X6(0x11), M1X6M},
  {"mov", M, "%r1=ibr[%r3]", x_mov_from_ireg, IREG_IBR, M1X6(0x12), M1X6M},
  {"mov", M, "%r1=pkr[%r3]", x_mov_from_ireg, IREG_PKR, M1X6(0x13), M1X6M},
  {"mov", M, "%r1=pmc[%r3]", x_mov_from_ireg, IREG_PMC, M1X6(0x14), M1X6M},
  {"mov", M, "%r1=pmd[%r3]", x_mov_from_ireg, IREG_PMD, M1X6(0x15), M1X6M},
  {"mov", M, "%r1=msr[%r3]", x_mov_from_ireg, IREG_MSR, M1X6(0x16), M1X6M},
  {"mov", M, "%r1=cpuid[%r3]", x_mov_from_ireg, IREG_CPUID, M1X6(0x17), M1X6M},
  {"mov", M, "%r1=dahr[%r3]", x_tlb_unimpl, 0, M1X6(0x20), M1X6M},
  /* M38-M40: probe */
  {"probe.r", M, "%r1=%r3,%sys_imm2", x_tlb_unimpl, 0, M1X6(0x18), M1X6M},
  {"probe.w", M, "%r1=%r3,%sys_imm2", x_tlb_unimpl, 0, M1X6(0x19), M1X6M},
  {"probe.r", M, "%r1=%r3,%r2", x_tlb_unimpl, 0, M1X6(0x38), M1X6M},
  {"probe.w", M, "%r1=%r3,%r2", x_tlb_unimpl, 0, M1X6(0x39), M1X6M},
  {"probe.rw.fault", M, "%r3,%sys_imm2", x_tlb_unimpl, 0, M1X6(0x31), M1X6M},
  {"probe.r.fault", M, "%r3,%sys_imm2", x_tlb_unimpl, 0, M1X6(0x32), M1X6M},
  {"probe.w.fault", M, "%r3,%sys_imm2", x_tlb_unimpl, 0, M1X6(0x33), M1X6M},
  /* M46: translation hash, tag, physical address, key */
  {"thash", M, "%r1=%r3", x_tlb_unimpl, 0, M1X6(0x1a), M1X6M},
  {"ttag", M, "%r1=%r3", x_tlb_unimpl, 0, M1X6(0x1b), M1X6M},
  {"tpa", M, "%r1=%r3", x_tlb_priv, TR_NAT1, M1X6(0x1e), M1X6M},
  {"tak", M, "%r1=%r3", x_tlb_priv, TR_NAT1, M1X6(0x1f), M1X6M},
  /* M36, M33, M35, M32: PSR and control registers */
  {"mov", M, "%r1=psr.um", x_mov_from_psrum, 0, M1X6(0x21), M1X6M},
  {"mov", M, "%r1=%sys_cr3", x_mov_from_cr, 0, M1X6(0x24), M1X6M},
  {"mov", M, "%r1=psr", x_mov_from_psr, 0, M1X6(0x25), M1X6M},
  {"mov", M, "psr.um=%r2", x_mov_to_psrum, 0, M1X6(0x29), M1X6M},
  {"mov", M, "%sys_cr3=%r2", x_mov_to_cr, 0, M1X6(0x2c), M1X6M},
  {"mov", M, "psr.l=%r2", x_mov_to_psrl, 0, M1X6(0x2d), M1X6M},
  /* M41: insert translation cache */
  {"itc.d", M, "%r2", x_tlb_priv, TR_IC | TR_NAT0, M1X6(0x2e), M1X6M},
  {"itc.i", M, "%r2", x_tlb_priv, TR_IC | TR_NAT0, M1X6(0x2f), M1X6M},
  /* M47: purge translation cache entry */
  {"ptc.e", M, "%r3", x_tlb_priv, TR_NAT0, M1X6(0x34), M1X6M},
};
IA64_TAB_LEN(sys);
