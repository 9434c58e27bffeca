/* intr.c — interruptions and external interrupts: delivery through the IVT, the interrupt
 * controller (IRR, IVR, TPR, EOI, in-service vectors), the ITC/ITM timer, halting, and the
 * traps that need the CPU to run one instruction at a time (SDM vol. 2 ch. 5 and 8).
 *
 * Delivery (ia64_deliver) follows the interruption sequence: with PSR.ic = 1 the state is
 * collected (IPSR with the slot in ri, IIP, IFS.v = 0, IIPA, and IFA/ITIR/IHA/IIM as the
 * vector defines them; ITIR and IHA are derived from IFA and the region registers, as the
 * hardware's default translation), ISR is written whatever PSR.ic (ni says it was 0) except
 * for Data Nested TLB, which writes nothing; then the new PSR keeps up, mfl, mfh, pk, dt, rt,
 * mc and it, takes be and pp from DCR and clears the rest (ic, i, bn, cpl 0 ...), bank 0 of
 * r16-r31 becomes current, and execution goes on at IVA + the vector's offset, slot 0.
 *
 * External interrupts. Vectors pended by other threads (devices, IPIs, the platform's timer)
 * are OR'ed into an atomic pending word and flagged in ia64_sys.attn; the run loop looks at
 * attn only where it already checks for stop requests (taken branches, page changes), so
 * the common case costs one load and branch there. The vCPU's own thread folds the pending
 * word into IRR, fires the ITM match, and delivers the External Interrupt vector when PSR.i
 * is 1 and the highest pending vector is above TPR's mask and every in-service vector.
 * Priorities: NMI (2) > ExtINT (0) > 255 > ... > 16; TPR.mmi masks all but NMI, TPR.mic
 * masks vectors 16-255 whose class v{7:4} <= mic; IVR returns the highest pending unmasked
 * vector and puts it in service (or 15, spurious); EOI ends the highest in service.
 *
 * The timer: ar.itc = hooks.clock() + itc_offset (1 tick per guest ns). A write of ITM arms
 * a match when ITM is not in the past; when ITC reaches it the ITV vector is pended unless
 * ITV.m masks it. The platform learns the deadline through hooks.timer_arm and calls
 * ia64_timer_kick then; reading ar.itc past the deadline also notices it.
 *
 * Stepping. PSR.ss, PSR.tb and PSR.lp ask for a trap after an instruction, and PSR.id/da/dd/
 * ia/ed suppress faults for one instruction only. While any is set the run loop hands over
 * to step_one(), which decodes and runs one instruction at a time, clears the suppression
 * bits after it (unless it was the rfi that set them) and raises Single Step, Taken Branch
 * and Lower-Privilege Transfer traps with IIPA at the instruction's bundle. */
#include "internal.h"

#define SPURIOUS 15
#define TPR_MMI (1ull << 16)
#define XTV_M (1ull << 16)          /* ITV/PMV/CMCV/LRR mask bit */
/* ISR.code of the traps after an instruction (bit per trap). */
enum { TRAP_LP = 0x2, TRAP_TB = 0x4, TRAP_SS = 0x8 };

/* ---- Delivery ---------------------------------------------------------------------------------- */

/* Which interruption resources a vector defines (besides ISR and the always-collected ones). */
enum { C_IFA = 1, C_ITIR = 2, C_IHA = 4, C_IIM = 8, C_VHPT = 16 /* ITIR of the VHPT's own region */ };

static unsigned collected(int vector) {
  switch (vector) {
  case IA64_VEC_VHPT_TRANSLATION: return C_IFA | C_ITIR | C_IHA | C_VHPT;
  case IA64_VEC_INST_TLB: case IA64_VEC_DATA_TLB: return C_IFA | C_ITIR | C_IHA;
  case IA64_VEC_ALT_INST_TLB: case IA64_VEC_ALT_DATA_TLB: case IA64_VEC_INST_KEY_MISS:
  case IA64_VEC_DATA_KEY_MISS: case IA64_VEC_DIRTY_BIT: case IA64_VEC_INST_ACCESS_BIT:
  case IA64_VEC_DATA_ACCESS_BIT: case IA64_VEC_PAGE_NOT_PRESENT: case IA64_VEC_KEY_PERMISSION:
  case IA64_VEC_INST_ACCESS_RIGHTS: case IA64_VEC_DATA_ACCESS_RIGHTS:
    return C_IFA | C_ITIR;
  case IA64_VEC_BREAK: case IA64_VEC_SPECULATION: return C_IIM;
  case IA64_VEC_NAT_CONSUMPTION: case IA64_VEC_DEBUG: case IA64_VEC_UNALIGNED:
  case IA64_VEC_UNSUPPORTED_DATA_REF: case IA64_VEC_LOWER_PRIV_TRANSFER:
    return C_IFA;
  default: return 0;
  }
}

/* Swap r16-r31 (with their NaT bits) with the other bank: delivery with PSR.bn set, bsw and
 * rfi (tab_br.c). */
void ia64_bank_switch(ia64_cpu *c) {
  for (unsigned i = 0; i < 16; i++) {
    uint64_t v = c->gr[16 + i];
    uint8_t n = c->nat[16 + i];
    c->gr[16 + i] = c->bank0[i], c->nat[16 + i] = c->bank0_nat[i];
    c->bank0[i] = v, c->bank0_nat[i] = n;
  }
}

/* IIPA: the last instruction that completed. For a trap that is the trapping instruction's
 * bundle (the one before IIP when IIP is at slot 0); for a fault or an interrupt we take
 * the bundle of IIP itself, not tracking what ran before it. */
static uint64_t iipa_of(const ia64_cpu *c, const ia64_intr *in) {
  if ((c->sys.flags & IA64_SYS_IIPA) && in->trap) return c->sys.iipa;   /* the stepper's trap */
  return in->trap && in->ri == 0 ? in->iip - 16 : in->iip;
}

int ia64_deliver(ia64_cpu *c) {
  const ia64_intr in = c->intr;
  uint64_t psr = c->psr;
  bool ic = (psr & IA64_PSR_IC) != 0;
  if (in.vector != IA64_VEC_DATA_NESTED_TLB) {
    uint64_t isr = in.isr & ~IA64_ISR_NI;
    if (!ic) isr |= IA64_ISR_NI;
    if (isr & IA64_ISR_X) isr = (isr & ~MSK(42, 41)) | (uint64_t)in.ri << 41;  /* fetch: ei = slot */
    c->cr[IA64_CR_ISR] = isr;
    if (ic) {
      unsigned k = collected(in.vector);
      c->cr[IA64_CR_IPSR] = (psr & ~MSK(42, 41)) | (uint64_t)in.ri << 41;
      c->cr[IA64_CR_IIP] = in.iip & ~(uint64_t)15;
      c->cr[IA64_CR_IFS] &= ~(1ull << 63);
      c->cr[IA64_CR_IIPA] = iipa_of(c, &in);
      if (k & C_IFA) c->cr[IA64_CR_IFA] = in.ifa;
      if (k & C_ITIR) {
        /* rr.rid and rr.ps sit where itir.key and itir.ps do. */
        uint64_t rr = c->rr[((k & C_VHPT) ? ia64_thash(c, in.ifa) : in.ifa) >> 61];
        c->cr[IA64_CR_ITIR] = rr & (MSK(31, 8) | MSK(7, 2));
      }
      if (k & C_IHA) c->cr[IA64_CR_IHA] = ia64_thash(c, in.ifa);
      if (k & C_IIM) c->cr[IA64_CR_IIM] = in.iim;
    }
  }
  c->sys.flags &= ~(uint32_t)IA64_SYS_IIPA;
  uint64_t dcr = c->cr[IA64_CR_DCR];
  uint64_t keep = IA64_PSR_UP | IA64_PSR_MFL | IA64_PSR_MFH | IA64_PSR_PK | IA64_PSR_DT | IA64_PSR_RT |
                  IA64_PSR_MC | IA64_PSR_IT;
  if (psr & IA64_PSR_BN) ia64_bank_switch(c);
  c->psr = (psr & keep) | (dcr & 2 ? IA64_PSR_BE : 0) | (dcr & 1 ? IA64_PSR_PP : 0);
  c->ip = (c->cr[IA64_CR_IVA] & ~MSK(14, 0)) + (uint64_t)in.vector;
  c->ri = 0;
  ia64_psr_changed(c, psr);
  return !ic && in.vector != IA64_VEC_DATA_NESTED_TLB;
}

/* ---- The interrupt controller ---------------------------------------------------------------- */

static inline unsigned prio(int v) { return v < 16 ? 256u + (unsigned)v : (unsigned)v; }

/* The highest-priority vector set in a 256-bit set, or -1. */
static int highest(const uint64_t b[4]) {
  if (b[0] & 4) return 2;                 /* NMI */
  if (b[0] & 1) return 0;                 /* ExtINT */
  for (int i = 3; i >= 0; i--) {
    uint64_t w = i ? b[i] : b[i] & ~0xffffull;
    if (w) return i * 64 + 63 - __builtin_clzll(w);
  }
  return -1;
}

static bool masked(const ia64_cpu *c, int v) {
  uint64_t tpr = c->cr[IA64_CR_TPR];
  if (v != 2 && (tpr & TPR_MMI)) return true;
  if (v >= 16 && (unsigned)(v >> 4) <= (unsigned)(tpr >> 4 & 15)) return true;
  int s = highest(c->sys.insvc);
  return s >= 0 && prio(s) >= prio(v);
}

/* What IVR would return: the highest pending vector when nothing masks it, else -1. */
static int acceptable(const ia64_cpu *c) {
  int v = highest(&c->cr[IA64_CR_IRR0]);
  return v >= 0 && !masked(c, v) ? v : -1;
}

static bool valid_vector(unsigned v) { return v < 256 && (v >= 16 || v == 0 || v == 2); }

static void irr_set(ia64_cpu *c, unsigned v) {
  if (valid_vector(v)) c->cr[IA64_CR_IRR0 + v / 64] |= 1ull << (v % 64);
}

/* The ITM match: once ITC reaches ITM after ITM was armed. */
static void timer_check(ia64_cpu *c) {
  if (!(c->sys.flags & IA64_SYS_ITM_ARMED)) return;
  if ((int64_t)(ia64_itc_read(c) - c->cr[IA64_CR_ITM]) < 0) return;
  c->sys.flags &= ~(uint32_t)IA64_SYS_ITM_ARMED;
  uint64_t itv = c->cr[IA64_CR_ITV];
  if (!(itv & XTV_M)) irr_set(c, (unsigned)(itv & 0xff));
}

void ia64_irr_fold(ia64_cpu *c) {
  for (unsigned i = 0; i < 4; i++) {
    if (!__atomic_load_n(&c->sys.pend[i], __ATOMIC_RELAXED)) continue;
    c->cr[IA64_CR_IRR0 + i] |= __atomic_exchange_n(&c->sys.pend[i], 0, __ATOMIC_ACQ_REL);
  }
  timer_check(c);
}

uint64_t ia64_ivr_read(ia64_cpu *c) {
  ia64_irr_fold(c);
  int v = acceptable(c);
  if (v < 0) return SPURIOUS;
  c->cr[IA64_CR_IRR0 + v / 64] &= ~(1ull << (v % 64));
  c->sys.insvc[v / 64] |= 1ull << (v % 64);
  return (uint64_t)v;
}

void ia64_eoi(ia64_cpu *c) {
  int s = highest(c->sys.insvc);
  if (s >= 0) c->sys.insvc[s / 64] &= ~(1ull << (s % 64));
  ia64_irq_changed(c);
}

void ia64_irq_changed(ia64_cpu *c) { ia64_attn_set(c, IA64_ATTN_IRQ); }

void ia64_pend_interrupt(ia64_cpu *c, unsigned vector) {
  if (!valid_vector(vector)) return;
  __atomic_fetch_or(&c->sys.pend[vector / 64], 1ull << (vector % 64), __ATOMIC_SEQ_CST);
  ia64_attn_set(c, IA64_ATTN_IRQ);
  if (c->sys.hooks.wake) c->sys.hooks.wake(c->sys.hook_ctx, c);
}

void ia64_timer_kick(ia64_cpu *c) {
  ia64_attn_set(c, IA64_ATTN_IRQ);
  if (c->sys.hooks.wake) c->sys.hooks.wake(c->sys.hook_ctx, c);
}

void ia64_halt(ia64_cpu *c) {
  c->sys.flags |= IA64_SYS_HALTED;
  ia64_attn_set(c, IA64_ATTN_HALT | IA64_ATTN_IRQ);
}

bool ia64_wakeable(const ia64_cpu *c) {
  return (__atomic_load_n(&c->sys.attn, __ATOMIC_ACQUIRE) & IA64_ATTN_IRQ) != 0;
}

void ia64_sys_resync(ia64_cpu *c) {
  ia64_stlb_flush(c);
  uint32_t a = IA64_ATTN_IRQ;            /* look at IRR, pended vectors and the timer once */
  if (c->sys.flags & IA64_SYS_HALTED) a |= IA64_ATTN_HALT;
  if (c->psr & IA64_PSR_STEP) a |= IA64_ATTN_STEP;
  __atomic_store_n(&c->sys.attn, a, __ATOMIC_SEQ_CST);
}

/* ---- Time ---------------------------------------------------------------------------------------- */

uint64_t ia64_itc_read(ia64_cpu *c) {
  if (!c->sys.hooks.clock) return c->ar[IA64_AR_ITC];
  uint64_t itc = c->sys.hooks.clock(c->sys.hook_ctx) + (uint64_t)c->sys.itc_offset;
  if ((c->sys.flags & IA64_SYS_ITM_ARMED) && (int64_t)(itc - c->cr[IA64_CR_ITM]) >= 0)
    ia64_attn_set(c, IA64_ATTN_IRQ);
  return itc;
}

uint64_t ia64_itc(ia64_cpu *c) { return ia64_itc_read(c); }

void ia64_itc_write(ia64_cpu *c, uint64_t v) {
  if (c->sys.hooks.clock) c->sys.itc_offset = (int64_t)(v - c->sys.hooks.clock(c->sys.hook_ctx));
  else c->ar[IA64_AR_ITC] = v;
  ia64_itm_changed(c);
}

void ia64_itm_changed(ia64_cpu *c) {
  uint64_t itc = ia64_itc_read(c), itm = c->cr[IA64_CR_ITM];
  bool armed = (int64_t)(itm - itc) >= 0;
  if (armed) c->sys.flags |= IA64_SYS_ITM_ARMED;
  else c->sys.flags &= ~(uint32_t)IA64_SYS_ITM_ARMED;
  if (c->sys.hooks.timer_arm && c->sys.hooks.clock)
    c->sys.hooks.timer_arm(c->sys.hook_ctx, c, armed ? itm - (uint64_t)c->sys.itc_offset : UINT64_MAX);
  if (armed && itm == itc) ia64_attn_set(c, IA64_ATTN_IRQ);
}

/* ---- Stepping ------------------------------------------------------------------------------------ */

static void advance(ia64_cpu *c, unsigned s, unsigned nslots) {
  if (s + 1 < nslots) c->ri = s + 1;
  else c->ip += 16, c->ri = 0;
}

static bool is_rfi(const ia64_op *op) {
  const char *n = op->id != UINT16_MAX ? ia64_insn_name(op->id) : NULL;
  return n && strncmp(n, "rfi", 3) == 0;
}

/* Run the one instruction at ip/ri. 0, or IA64_STOP_INTR with the fault or trap in c->intr. */
static ia64_stop step_one(ia64_cpu *c) {
  uint64_t ip = c->ip, old = c->psr;
  unsigned s = c->ri;
  uint8_t *h;
  c->sys.flags &= ~(uint32_t)IA64_SYS_IIPA;       /* a trap not delivered leaves nothing behind */
  int rc = ia64_mem_ptr(c, ip, 16, IA64_ACC_X, &h);
  if (rc == IA64_XLAT_IO) ia64_raise(c, IA64_VEC_GENERAL_EXCEPTION, IA64_GE_ILLEGAL_OP | IA64_ISR_X, ip);
  if (rc != 0) {
    c->intr.iip = ip;
    c->intr.ri = s;
    return IA64_STOP_INTR;
  }
  ia64_dbundle b;
  ia64_decode_bundle(&b, h);
  const ia64_op *op = s < b.nslots ? &b.op[s] : NULL;
  bool ran = op && ((c->pr >> op->qp) & 1);
  int r = IA64_NEXT;
  if (!op) r = ia64_illegal_op(c);
  else if (ran) r = op->maxgr >= 32 + c->sof ? ia64_illegal_op(c) : op->exec(c, op);
  if (r == IA64_FAULTED) {
    c->intr.isr |= (uint64_t)s << 41;
    if (c->intr.trap) {
      c->retired++;
      advance(c, s, b.nslots);
    }
    c->intr.iip = c->ip;
    c->intr.ri = c->ri;
    return IA64_STOP_INTR;
  }
  c->retired++;
  if (r == IA64_NEXT) advance(c, s, b.nslots);
  if (ran && is_rfi(op)) return IA64_STOP_INVALID;  /* rfi's PSR applies from its target on */
  if (old & IA64_PSR_SUPPRESS) {
    uint64_t before = c->psr;
    c->psr &= ~IA64_PSR_SUPPRESS;
    ia64_psr_changed(c, before);
  }
  uint64_t code = 0;
  int vector = -1;
  if ((old & IA64_PSR_LP) && r == IA64_BRANCHED && ia64_psr_cpl(c->psr) > ia64_psr_cpl(old)) {
    code |= TRAP_LP;
    vector = IA64_VEC_LOWER_PRIV_TRANSFER;
  }
  if ((old & IA64_PSR_TB) && r == IA64_BRANCHED) {
    code |= TRAP_TB;
    if (vector < 0) vector = IA64_VEC_TAKEN_BRANCH;
  }
  if (old & IA64_PSR_SS) {
    code |= TRAP_SS;
    if (vector < 0) vector = IA64_VEC_SINGLE_STEP;
  }
  if (vector < 0) return IA64_STOP_INVALID;
  c->intr = (ia64_intr){.vector = vector, .isr = code | (uint64_t)s << 41, .iip = c->ip, .ri = c->ri, .trap = true};
  c->sys.iipa = ip;
  c->sys.flags |= IA64_SYS_IIPA;
  return IA64_STOP_INTR;
}

/* ---- The run loop's slow path ------------------------------------------------------------------- */

static void take_external_interrupt(ia64_cpu *c) {
  c->intr = (ia64_intr){.vector = IA64_VEC_EXTERNAL_INT, .isr = (uint64_t)c->ri << 41, .iip = c->ip, .ri = c->ri};
  ia64_deliver(c);
}

ia64_stop ia64_sys_attend(ia64_cpu *c, uint64_t limit) {
  for (;;) {
    uint32_t a = __atomic_load_n(&c->sys.attn, __ATOMIC_ACQUIRE);
    if (a & IA64_ATTN_IRQ) {
      ia64_attn_clear(c, IA64_ATTN_IRQ);
      ia64_irr_fold(c);
      if (acceptable(c) >= 0) {
        if (c->sys.flags & IA64_SYS_HALTED) {
          c->sys.flags &= ~(uint32_t)IA64_SYS_HALTED;
          ia64_attn_clear(c, IA64_ATTN_HALT);
        }
        if (c->psr & IA64_PSR_I) take_external_interrupt(c);
      }
      continue;
    }
    if (a & IA64_ATTN_HALT) {
      if (c->sys.flags & IA64_SYS_HALTED) return IA64_STOP_HALT;
      ia64_attn_clear(c, IA64_ATTN_HALT);
      continue;
    }
    if (a & IA64_ATTN_STEP) {
      if (!(c->psr & IA64_PSR_STEP)) {
        ia64_attn_clear(c, IA64_ATTN_STEP);
        continue;
      }
      if (c->stop_request) return IA64_STOP_REQUEST;
      if (c->retired >= limit) return IA64_STOP_LIMIT;
      ia64_stop why = step_one(c);
      if (why != IA64_STOP_INVALID) return why;
      continue;
    }
    return IA64_STOP_INVALID;
  }
}
