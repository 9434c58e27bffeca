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
 * The translation instructions (itc, itr, ptc.l/g/ga/e, ptr, probe, tpa, tak, thash, ttag)
 * make their checks here in the SDM's order and act on the guest TLB of tlb.c. The control
 * registers with side effects go to intr.c's interrupt controller and timer: reading IVR
 * acknowledges the highest pending interrupt, reading IRR sees what other threads pended,
 * writing EOI ends the interrupt in service, TPR may unmask one, ITM arms the timer. Every
 * PSR write goes through ia64_psr_changed (the software TLB, interrupts, single-stepping).
 * mov r1=dahr[r3] raises Illegal Operation: data access hint registers belong to a later
 * processor generation. */
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

/* User mask bits a program may change: be, up, ac, mfl, mfh (bit 0 is reserved). */
#define PSR_UM_BITS MSK(5, 1)
/* Reserved PSR bits: 0, 12:6, 16, 31:28 and 63:46 (vm, bit 46, exists only on processors
 * with the virtualization extension, which this one does not have). */
#define PSR_RESERVED (1ull | MSK(12, 6) | 1ull << 16 | MSK(31, 28) | MSK(63, 46))

static int reserved_reg(ia64_cpu *c) {
  return ia64_raise(c, IA64_VEC_GENERAL_EXCEPTION, IA64_GE_RESERVED_REG, 0);
}

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
  return !(f & CR_IMPL) || (write && (f & CR_RO)) || ((f & CR_INTR) && (c->psr & IA64_PSR_IC));
}

/* mov r1=cr3 */
static int x_mov_from_cr(ia64_cpu *c, const ia64_op *op) {
  unsigned cr = op->aux & 127;
  if (cr_illegal(c, cr, false)) return ia64_illegal_op(c);
  if (ia64_psr_cpl(c->psr) != 0) return ia64_priv_op(c);
  uint64_t v;
  if (cr == IA64_CR_IVR) {
    v = ia64_ivr_read(c);                     /* acknowledges: the vector goes in service */
  } else {
    if (cr >= IA64_CR_IRR0 && cr < IA64_CR_IRR0 + 4) ia64_irr_fold(c);
    v = c->cr[cr];
  }
  ia64_wr(c, op->r[0], v, 0);
  return IA64_NEXT;
}

/* What a control register write sets off in the interrupt controller and timer. */
static void cr_written(ia64_cpu *c, unsigned cr) {
  switch (cr) {
  case IA64_CR_ITM: ia64_itm_changed(c); break;
  case IA64_CR_TPR: ia64_irq_changed(c); break;
  case IA64_CR_EOI: ia64_eoi(c); break;
  default: break;
  }
}

/* mov cr3=r2 */
static int x_mov_to_cr(ia64_cpu *c, const ia64_op *op) {
  unsigned cr = op->aux & 127;
  if (cr_illegal(c, cr, true)) return ia64_illegal_op(c);
  if (ia64_psr_cpl(c->psr) != 0) return ia64_priv_op(c);
  if (ia64_rnat(c, op->r[0])) return ia64_nat_consumption(c, 0);
  uint64_t v = ia64_rd(c, op->r[0]);
  if (v & cr_table[cr].rsv) return reserved_reg(c);
  c->cr[cr] = v & ~cr_table[cr].ign;
  cr_written(c, cr);
  return IA64_NEXT;
}

/* ---- The PSR (M35, M36, M44) ------------------------------------------------------------------ */

/* A new PSR{31:0} from mov psr.l, ssm or rsm: data translation (dt) and protection keys (pk)
 * qualify the software TLB's entries, PSR.i may unmask an interrupt, PSR.tb asks for traps. */
static void psr_set_low(ia64_cpu *c, uint64_t psr) {
  uint64_t old = c->psr;
  c->psr = psr;
  ia64_psr_changed(c, old);
}

/* mov r1=psr: PSR{36:35} and PSR{31:0}; the rest reads as zero. */
static int x_mov_from_psr(ia64_cpu *c, const ia64_op *op) {
  if (ia64_psr_cpl(c->psr) != 0) return ia64_priv_op(c);
  ia64_wr(c, op->r[0], c->psr & (MSK(36, 35) | MSK(31, 0)), 0);
  return IA64_NEXT;
}

/* mov psr.l=r2: PSR{31:0}; bits {63:32} of r2 are ignored. */
static int x_mov_to_psrl(ia64_cpu *c, const ia64_op *op) {
  if (ia64_psr_cpl(c->psr) != 0) return ia64_priv_op(c);
  if (ia64_rnat(c, op->r[0])) return ia64_nat_consumption(c, 0);
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
  uint64_t mask = PSR_UM_BITS & ~((c->psr & IA64_PSR_SP) ? IA64_PSR_UP : 0);
  c->psr = (c->psr & ~(clear & mask)) | (set & mask);
}

/* mov psr.um=r2: any cpl; bits of r2 outside the user mask must be 0. */
static int x_mov_to_psrum(ia64_cpu *c, const ia64_op *op) {
  if (ia64_rnat(c, op->r[0])) return ia64_nat_consumption(c, 0);
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
  if (ia64_psr_cpl(c->psr) != 0) return ia64_priv_op(c);
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
  if (ia64_psr_cpl(c->psr) == 0) return false;
  return (c->psr & IA64_PSR_SP) || (i >= 4 && i < IA64_NPMC && (c->pmc[i] >> 6 & 1));
}

/* mov r1=ireg[r3] (arg = IREG_*) */
static int x_mov_from_ireg(ia64_cpu *c, const ia64_op *op) {
  unsigned type = (unsigned)op->arg;
  if (ia64_psr_cpl(c->psr) != 0 && type != IREG_PMD && type != IREG_CPUID) return ia64_priv_op(c);
  if (ia64_rnat(c, op->r[1])) return ia64_nat_consumption(c, 0);
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
  if (ia64_psr_cpl(c->psr) != 0) return ia64_priv_op(c);
  if (ia64_rnat(c, op->r[0]) || ia64_rnat(c, op->r[1])) return ia64_nat_consumption(c, 0);
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

/* What tlb_checks looks at: a NaT in op->r[0] / op->r[1] (its GR sources), PSR.ic = 0, and
 * whether the instruction is privileged. */
enum { TR_NAT0 = 1, TR_NAT1 = 2, TR_IC = 4, TR_PRIV = 8 };

/* The checks of a translation instruction, in the SDM's order: Illegal Operation when it
 * needs PSR.ic = 0, Privileged Operation, Register NaT Consumption. isr: the ISR bits of
 * the NaT fault (non-access code and r/w for tpa, tak and probe). */
static int tlb_checks(ia64_cpu *c, const ia64_op *op, unsigned what, uint64_t isr) {
  if ((what & TR_IC) && (c->psr & IA64_PSR_IC)) return ia64_illegal_op(c);
  if ((what & TR_PRIV) && ia64_psr_cpl(c->psr) != 0) return ia64_priv_op(c);
  if (((what & TR_NAT0) && ia64_rnat(c, op->r[0])) || ((what & TR_NAT1) && ia64_rnat(c, op->r[1])))
    return ia64_nat_consumption(c, isr);
  return 0;
}

/* ISR.code of non-access references (ISR.na): tpa 0, probe 2, tak 3, probe.fault 5. */
enum { NA_TPA = 0, NA_PROBE = 2, NA_TAK = 3, NA_PROBE_FAULT = 5 };

/* itc.d r2 (arg 0) / itc.i r2 (arg 1): insert cr.ifa -> r2 (with cr.itir) in the TC. */
static int x_itc(ia64_cpu *c, const ia64_op *op) {
  if (tlb_checks(c, op, TR_IC | TR_PRIV | TR_NAT0, 0)) return IA64_FAULTED;
  return ia64_tlb_insert(c, op->arg, -1, c->cr[IA64_CR_IFA], ia64_rd(c, op->r[0]), c->cr[IA64_CR_ITIR]) < 0
             ? IA64_FAULTED : IA64_NEXT;
}

/* itr.d dtr[r3]=r2 (arg 0) / itr.i itr[r3]=r2 (arg 1): the same into translation register
 * r3{7:0}; a slot that does not exist is a Reserved Register/Field fault. */
static int x_itr(ia64_cpu *c, const ia64_op *op) {
  if (tlb_checks(c, op, TR_IC | TR_PRIV | TR_NAT0 | TR_NAT1, 0)) return IA64_FAULTED;
  int slot = (int)(ia64_rd(c, op->r[0]) & 0xff);
  return ia64_tlb_insert(c, op->arg, slot, c->cr[IA64_CR_IFA], ia64_rd(c, op->r[1]), c->cr[IA64_CR_ITIR]) < 0
             ? IA64_FAULTED : IA64_NEXT;
}

enum { PTC_L, PTC_G, PTC_GA, PTR_D, PTR_I };

/* ptc.l/ptc.g/ptc.ga/ptr.d/ptr.i r3,r2: purge the 2^r2{7:2} bytes at r3 (region id of r3's
 * region). The global forms also ask the platform to purge the other vCPUs; ptc.ga drops
 * the ALAT, whose entries the purged translations may back. */
static int x_purge(ia64_cpu *c, const ia64_op *op) {
  if (tlb_checks(c, op, TR_PRIV | TR_NAT0 | TR_NAT1, 0)) return IA64_FAULTED;
  uint64_t va = ia64_rd(c, op->r[0]);
  unsigned ps = (unsigned)ia64_field(ia64_rd(c, op->r[1]), 7, 2);
  switch (op->arg) {
  case PTR_D: ia64_tlb_purge(c, IA64_PURGE_DTR | IA64_PURGE_TC, va, ps); break;
  case PTR_I: ia64_tlb_purge(c, IA64_PURGE_ITR | IA64_PURGE_TC, va, ps); break;
  default:
    ia64_tlb_purge(c, IA64_PURGE_TC, va, ps);
    if (op->arg == PTC_GA) ia64_alat_invala(c);
    if (op->arg != PTC_L && c->sys.hooks.ptc_global)
      c->sys.hooks.ptc_global(c->sys.hook_ctx, c, (uint32_t)ia64_field(c->rr[va >> 61], 31, 8), va, ps);
    break;
  }
  return IA64_NEXT;
}

/* ptc.e r3: this implementation purges the whole TC at once (the PAL loop that software
 * runs over it purges it several times over). */
static int x_ptc_e(ia64_cpu *c, const ia64_op *op) {
  if (tlb_checks(c, op, TR_PRIV | TR_NAT0, 0)) return IA64_FAULTED;
  ia64_tlb_purge_all_tc(c);
  return IA64_NEXT;
}

/* tpa r1=r3: the physical address of r3 in the data TLB (or the VHPT). */
static int x_tpa(ia64_cpu *c, const ia64_op *op) {
  if (tlb_checks(c, op, TR_PRIV | TR_NAT1, IA64_ISR_NA | NA_TPA)) return IA64_FAULTED;
  uint64_t pa;
  if (ia64_tlb_tpa(c, ia64_rd(c, op->r[1]), &pa) < 0) return IA64_FAULTED;
  ia64_wr(c, op->r[0], pa, 0);
  return IA64_NEXT;
}

/* tak r1=r3: the protection key of r3's data translation (key << 8), or 1 without one. */
static int x_tak(ia64_cpu *c, const ia64_op *op) {
  if (tlb_checks(c, op, TR_PRIV | TR_NAT1, IA64_ISR_NA | NA_TAK)) return IA64_FAULTED;
  ia64_wr(c, op->r[0], ia64_tlb_tak(c, ia64_rd(c, op->r[1])), 0);
  return IA64_NEXT;
}

/* thash r1=r3 (arg 0) / ttag r1=r3 (arg 1): not privileged; a NaT address gives a NaT. */
static int x_thash(ia64_cpu *c, const ia64_op *op) {
  if (ia64_rnat(c, op->r[1])) {
    ia64_wr(c, op->r[0], 0, 1);
    return IA64_NEXT;
  }
  uint64_t va = ia64_rd(c, op->r[1]);
  ia64_wr(c, op->r[0], op->arg ? ia64_ttag(c, va) : ia64_thash(c, va), 0);
  return IA64_NEXT;
}

/* probe: arg = the access (IA64_ACC_R/W, both for .rw) | PROBE_REG (privilege level in r2,
 * else the immediate) | PROBE_FAULT (the .fault form, which writes no register). The level
 * checked is the less privileged of it and PSR.cpl. */
enum { PROBE_REG = 8, PROBE_FAULT = 16 };

static int x_probe(ia64_cpu *c, const ia64_op *op) {
  unsigned acc = (unsigned)op->arg & (IA64_ACC_R | IA64_ACC_W);
  bool fault = op->arg & PROBE_FAULT;
  unsigned r3 = fault ? op->r[0] : op->r[1];
  uint64_t isr = IA64_ISR_NA | (fault ? NA_PROBE_FAULT : NA_PROBE) | (acc & IA64_ACC_R ? IA64_ISR_R : 0) |
                 (acc & IA64_ACC_W ? IA64_ISR_W : 0);
  if (ia64_rnat(c, r3) || ((op->arg & PROBE_REG) && ia64_rnat(c, op->r[2])))
    return ia64_nat_consumption(c, isr);
  unsigned pl = (unsigned)((op->arg & PROBE_REG) ? ia64_rd(c, op->r[2]) : (uint64_t)op->imm) & 3;
  if (pl < ia64_psr_cpl(c->psr)) pl = ia64_psr_cpl(c->psr);
  bool ok;
  if (ia64_tlb_probe(c, ia64_rd(c, r3), acc, pl, fault, &ok) < 0) return IA64_FAULTED;
  if (!fault) ia64_wr(c, op->r[0], ok, 0);
  return IA64_NEXT;
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
  {"itr.d", M, "dtr[%r3]=%r2", x_itr, 0, M1X6(0x0e), M1X6M},
  {"itr.i", M, "itr[%r3]=%r2", x_itr, 1, M1X6(0x0f), M1X6M},
  /* M45: purge translations */
  {"ptc.l", M, "%r3,%r2", x_purge, PTC_L, M1X6(0x09), M1X6M},
  {"ptc.g", M, "%r3,%r2", x_purge, PTC_G, M1X6(0x0a), M1X6M},
  {"ptc.ga", M, "%r3,%r2", x_purge, PTC_GA, M1X6(0x0b), M1X6M},
  {"ptr.d", M, "%r3,%r2", x_purge, PTR_D, M1X6(0x0c), M1X6M},
  {"ptr.i", M, "%r3,%r2", x_purge, PTR_I, M1X6(0x0d), M1X6M},
  /* M43: move from indirect register */
  {"mov", M, "%r1=rr[%r3]", x_mov_from_ireg, IREG_RR, M1X6(0x10), M1X6M},
  {"mov", M, "%r1=dbr[%r3]", x_mov_from_ireg, IREG_DBR, M1X6(0x11), M1X6M},
  {"mov", M, "%r1=ibr[%r3]", x_mov_from_ireg, IREG_IBR, M1X6(0x12), M1X6M},
  {"mov", M, "%r1=pkr[%r3]", x_mov_from_ireg, IREG_PKR, M1X6(0x13), M1X6M},
  {"mov", M, "%r1=pmc[%r3]", x_mov_from_ireg, IREG_PMC, M1X6(0x14), M1X6M},
  {"mov", M, "%r1=pmd[%r3]", x_mov_from_ireg, IREG_PMD, M1X6(0x15), M1X6M},
  {"mov", M, "%r1=msr[%r3]", x_mov_from_ireg, IREG_MSR, M1X6(0x16), M1X6M},
  {"mov", M, "%r1=cpuid[%r3]", x_mov_from_ireg, IREG_CPUID, M1X6(0x17), M1X6M},
  {"mov", M, "%r1=dahr[%r3]", ia64_x_illegal, 0, M1X6(0x20), M1X6M},
  /* M38-M40: probe */
  {"probe.r", M, "%r1=%r3,%sys_imm2", x_probe, IA64_ACC_R, M1X6(0x18), M1X6M},
  {"probe.w", M, "%r1=%r3,%sys_imm2", x_probe, IA64_ACC_W, M1X6(0x19), M1X6M},
  {"probe.r", M, "%r1=%r3,%r2", x_probe, IA64_ACC_R | PROBE_REG, M1X6(0x38), M1X6M},
  {"probe.w", M, "%r1=%r3,%r2", x_probe, IA64_ACC_W | PROBE_REG, M1X6(0x39), M1X6M},
  {"probe.rw.fault", M, "%r3,%sys_imm2", x_probe, IA64_ACC_R | IA64_ACC_W | PROBE_FAULT, M1X6(0x31), M1X6M},
  {"probe.r.fault", M, "%r3,%sys_imm2", x_probe, IA64_ACC_R | PROBE_FAULT, M1X6(0x32), M1X6M},
  {"probe.w.fault", M, "%r3,%sys_imm2", x_probe, IA64_ACC_W | PROBE_FAULT, M1X6(0x33), M1X6M},
  /* M46: translation hash, tag, physical address, key */
  {"thash", M, "%r1=%r3", x_thash, 0, M1X6(0x1a), M1X6M},
  {"ttag", M, "%r1=%r3", x_thash, 1, M1X6(0x1b), M1X6M},
  {"tpa", M, "%r1=%r3", x_tpa, 0, M1X6(0x1e), M1X6M},
  {"tak", M, "%r1=%r3", x_tak, 0, M1X6(0x1f), M1X6M},
  /* M36, M33, M35, M32: PSR and control registers */
  {"mov", M, "%r1=psr.um", x_mov_from_psrum, 0, M1X6(0x21), M1X6M},
  {"mov", M, "%r1=%sys_cr3", x_mov_from_cr, 0, M1X6(0x24), M1X6M},
  {"mov", M, "%r1=psr", x_mov_from_psr, 0, M1X6(0x25), M1X6M},
  {"mov", M, "psr.um=%r2", x_mov_to_psrum, 0, M1X6(0x29), M1X6M},
  {"mov", M, "%sys_cr3=%r2", x_mov_to_cr, 0, M1X6(0x2c), M1X6M},
  {"mov", M, "psr.l=%r2", x_mov_to_psrl, 0, M1X6(0x2d), M1X6M},
  /* M41: insert translation cache */
  {"itc.d", M, "%r2", x_itc, 0, M1X6(0x2e), M1X6M},
  {"itc.i", M, "%r2", x_itc, 1, M1X6(0x2f), M1X6M},
  /* M47: purge translation cache entry */
  {"ptc.e", M, "%r3", x_ptc_e, 0, M1X6(0x34), M1X6M},
};
IA64_TAB_LEN(sys);
