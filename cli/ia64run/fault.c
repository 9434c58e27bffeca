/* fault.c — what Linux ia64 does with an interruption a user program takes, other than a
 * system call: resolve it and continue (the cases the kernel handles itself), or send the
 * signal arch/ia64/kernel/traps.c and arch/ia64/mm/fault.c would send. Signals are not
 * delivered to handlers (ia64run records rt_sigaction but runs no handler), so a signal
 * ends the process: one line on ia64run's log, exit status 128 + signal.
 *
 *   vector                                   Linux                 here
 *   TLB miss, access rights, key, not present page fault: no vma   SIGSEGV
 *   Unaligned Reference                      emulates, or SIGBUS   SIGBUS (as with
 *                                            (prctl UNALIGN_SIGBUS) PR_UNALIGN_SIGBUS)
 *   General Exception (illegal op, privileged op/register, reserved field)     SIGILL
 *   NaT Consumption                          page: SIGSEGV, register: SIGILL
 *   Unsupported Data Reference               SIGILL
 *   FP fault / trap                          FPSWA emulation, else SIGFPE   SIGFPE (no FPSWA)
 *   Debug, Taken Branch, Single Step         SIGTRAP
 *   Disabled FP-Register (psr.dfh)           grant f32-f127, retry  same
 *   Speculation (chk not done by hardware)   branch to recovery     same
 *   Lower-Privilege Transfer trap            clear psr.lp, go on    same
 *   any of the above from ld.s (ISR.sp) or   set psr.ed and retry:  same
 *   lfetch.fault (ISR.na, code lfetch)       the load NaTs, the lfetch is dropped
 *   break imm (ia64_bad_break): 0 SIGILL; 1 SIGFPE (integer divide by zero); 2, 3, 6..10
 *     SIGFPE; 4, 5, 11 SIGSEGV; 0x3f000..0x3ffff SIGILL; < 0x80000 SIGILL; else SIGTRAP.
 *     break 0x100000 is the system call (syscall.c). */
#include <signal.h>
#include <string.h>

#include "ia64run.h"

#define PSR_LP (1ull << 25)
#define PSR_DFH (1ull << 19)
#define PSR_MFH (1ull << 5)
#define PSR_ED (1ull << 43)
#define ISR_CODE(isr) (((isr) >> 4) & 0xf)
#define ISR_CODE_LFETCH 4

/* ia64_do_page_fault() (and ia64_fault() for lfetch) on a fault it cannot resolve from a
 * speculative load or an lfetch.fault: set psr.ed so the instruction completes without it. */
static bool deferrable(const ia64_intr *in) {
  if ((in->isr & IA64_ISR_NA) && (in->isr & 0xf) == ISR_CODE_LFETCH) return true;
  if (!(in->isr & IA64_ISR_SP)) return false;
  switch (in->vector) {
  case IA64_VEC_VHPT_TRANSLATION: case IA64_VEC_DATA_TLB: case IA64_VEC_ALT_DATA_TLB:
  case IA64_VEC_DATA_NESTED_TLB: case IA64_VEC_DATA_KEY_MISS: case IA64_VEC_DIRTY_BIT:
  case IA64_VEC_DATA_ACCESS_BIT: case IA64_VEC_PAGE_NOT_PRESENT: case IA64_VEC_KEY_PERMISSION:
  case IA64_VEC_DATA_ACCESS_RIGHTS:
    return true;
  default:
    return false;
  }
}

static int break_signal(uint64_t imm) {
  switch (imm) {
  case 0: return SIGILL;                      /* unknown error, __builtin_abort() */
  case 1: case 2: case 3: return SIGFPE;      /* divide by zero, overflow, range check */
  case 4: case 5: case 11: return SIGSEGV;    /* null pointer, misaligned, stack overflow */
  case 6: case 7: case 8: case 9: case 10: return SIGFPE;  /* decimal errors */
  default: return imm >= 0x3f000 && imm <= 0x3ffff ? SIGILL : imm < 0x80000 ? SIGILL : SIGTRAP;
  }
}

int ir_fault_signal(const ia64_intr *in) {
  if (deferrable(in)) return 0;
  switch (in->vector) {
  case IA64_VEC_BREAK: return break_signal(in->iim);
  case IA64_VEC_VHPT_TRANSLATION: case IA64_VEC_INST_TLB: case IA64_VEC_DATA_TLB:
  case IA64_VEC_ALT_INST_TLB: case IA64_VEC_ALT_DATA_TLB: case IA64_VEC_DATA_NESTED_TLB:
  case IA64_VEC_INST_KEY_MISS: case IA64_VEC_DATA_KEY_MISS: case IA64_VEC_DIRTY_BIT:
  case IA64_VEC_INST_ACCESS_BIT: case IA64_VEC_DATA_ACCESS_BIT: case IA64_VEC_PAGE_NOT_PRESENT:
  case IA64_VEC_KEY_PERMISSION: case IA64_VEC_INST_ACCESS_RIGHTS: case IA64_VEC_DATA_ACCESS_RIGHTS:
    return SIGSEGV;
  case IA64_VEC_UNALIGNED: return SIGBUS;
  case IA64_VEC_FP_FAULT: case IA64_VEC_FP_TRAP: return SIGFPE;
  case IA64_VEC_NAT_CONSUMPTION: return ISR_CODE(in->isr) == 2 ? SIGSEGV : SIGILL;
  case IA64_VEC_DEBUG: case IA64_VEC_TAKEN_BRANCH: case IA64_VEC_SINGLE_STEP: return SIGTRAP;
  case IA64_VEC_DISABLED_FP: return in->isr & 2 ? 0 : SIGILL;
  case IA64_VEC_SPECULATION: return 0;
  case IA64_VEC_LOWER_PRIV_TRANSFER: return in->isr & 2 ? 0 : SIGILL;
  default: return SIGILL;
  }
}

/* ---- The one line ---------------------------------------------------------------------------- */

static const char *access_word(uint64_t isr) {
  return isr & IA64_ISR_W ? "write to" : isr & IA64_ISR_X ? "instruction fetch from" : "read of";
}

static const char *break_meaning(uint64_t imm) {
  switch (imm) {
  case 0: return " (abort)";
  case 1: return " (integer divide by zero)";
  case 2: return " (integer overflow)";
  case 3: return " (range check)";
  case 4: return " (null pointer dereference)";
  case 5: return " (misaligned data)";
  case 11: return " (stack overflow)";
  default: return imm >= 0x80000 ? " (breakpoint)" : "";
  }
}

static void describe(const ia64_intr *in, char *buf, size_t n) {
  static const char *ge[16] = {"illegal operation", "privileged operation", "privileged register",
                               "reserved register/field", "disabled instruction set transition"};
  unsigned long long ifa = (unsigned long long)in->ifa;
  switch (in->vector) {
  case IA64_VEC_INST_TLB: case IA64_VEC_DATA_TLB: case IA64_VEC_ALT_INST_TLB: case IA64_VEC_ALT_DATA_TLB:
  case IA64_VEC_PAGE_NOT_PRESENT: case IA64_VEC_VHPT_TRANSLATION:
    snprintf(buf, n, "%s unmapped address 0x%llx", access_word(in->isr), ifa);
    break;
  case IA64_VEC_INST_ACCESS_RIGHTS: case IA64_VEC_DATA_ACCESS_RIGHTS: case IA64_VEC_KEY_PERMISSION:
    snprintf(buf, n, "%s 0x%llx, which the mapping does not allow", access_word(in->isr), ifa);
    break;
  case IA64_VEC_UNALIGNED: snprintf(buf, n, "unaligned %s 0x%llx", access_word(in->isr), ifa); break;
  case IA64_VEC_BREAK:
    snprintf(buf, n, "break 0x%llx%s", (unsigned long long)in->iim, break_meaning(in->iim));
    break;
  case IA64_VEC_GENERAL_EXCEPTION: {
    const char *what = ge[ISR_CODE(in->isr)];
    snprintf(buf, n, "%s", what ? what : ISR_CODE(in->isr) == 8 ? "illegal dependency" : "general exception");
    break;
  }
  case IA64_VEC_NAT_CONSUMPTION:
    snprintf(buf, n, ISR_CODE(in->isr) == 2 ? "NaT page consumption at 0x%llx" : "NaT register consumption", ifa);
    break;
  case IA64_VEC_UNSUPPORTED_DATA_REF: snprintf(buf, n, "unsupported data reference at 0x%llx", ifa); break;
  case IA64_VEC_FP_FAULT: snprintf(buf, n, "floating-point fault (isr 0x%llx)", (unsigned long long)in->isr); break;
  case IA64_VEC_FP_TRAP: snprintf(buf, n, "floating-point trap (isr 0x%llx)", (unsigned long long)in->isr); break;
  case IA64_VEC_DEBUG: snprintf(buf, n, "debug fault at 0x%llx", ifa); break;
  case IA64_VEC_TAKEN_BRANCH: snprintf(buf, n, "taken-branch trap"); break;
  case IA64_VEC_SINGLE_STEP: snprintf(buf, n, "single-step trap"); break;
  default: snprintf(buf, n, "interruption vector 0x%04x (isr 0x%llx)", (unsigned)in->vector,
                    (unsigned long long)in->isr);
  }
}

/* The bundle and slot of the instruction that took the interruption: iip/ri for a fault;
 * the instruction before them for a trap. */
static void culprit(ir_process *p, const ia64_intr *in, uint64_t *ip, unsigned *slot) {
  *ip = in->iip, *slot = in->ri;
  if (!in->trap) return;
  if (*slot > 0) {
    (*slot)--;
    return;
  }
  *ip -= 16;
  const uint8_t *b = ir_as_host(&p->as, *ip, 16);
  unsigned tmpl = b ? b[0] & 0x1f : 0;
  *slot = tmpl == 4 || tmpl == 5 ? 1 : 2;       /* MLX: the L+X instruction is slot 1 */
}

/* objdump's line for the slot, squeezed onto one line. */
static void disasm(ir_process *p, uint64_t ip, unsigned slot, char *out, size_t n) {
  const uint8_t *b = ir_as_host(&p->as, ip, 16);
  if (!b) {
    snprintf(out, n, "(no instruction there)");
    return;
  }
  char text[200];
  ia64_disasm_slot(b, ip, slot, text, sizeof text);
  size_t o = 0;
  for (const char *s = text; *s && o + 1 < n; s++) {
    if (*s == ' ' && (o == 0 || out[o - 1] == ' ')) continue;
    out[o++] = *s;
  }
  while (o && out[o - 1] == ' ') o--;
  out[o] = 0;
}

static void report(ir_process *p, int sig) {
  const ia64_intr *in = &p->cpu.intr;
  uint64_t ip;
  unsigned slot;
  culprit(p, in, &ip, &slot);
  char what[160], insn[200];
  describe(in, what, sizeof what);
  disasm(p, ip, slot, insn, sizeof insn);
  uint64_t h = p->sigact[sig - 1].handler;
  fprintf(p->log, "ia64run: SIG%s (%s): %s, at ip 0x%016llx slot %u: %s%s\n", sigabbrev_np(sig) ? sigabbrev_np(sig) : "?",
          strsignal(sig), what, (unsigned long long)ip, slot, insn,
          h > 1 ? " [its handler is not run: ia64run does not deliver signals]" : "");
  fflush(p->log);
}

/* ---- Resolution -------------------------------------------------------------------------------- */

void ir_fault(ir_process *p) {
  ia64_cpu *c = &p->cpu;
  const ia64_intr *in = &c->intr;
  int sig = ir_fault_signal(in);
  if (sig) {
    report(p, sig);
    p->exit_status = 128 + sig;
    p->exited = true;
    return;
  }
  if (deferrable(in)) {
    c->psr |= PSR_ED;
    return;
  }
  switch (in->vector) {
  case IA64_VEC_DISABLED_FP:           /* disabled_fph_fault(): f32-f127 are the task's now */
    c->psr = (c->psr & ~PSR_DFH) | PSR_MFH;
    break;
  case IA64_VEC_SPECULATION:           /* speculation_vector: iip += sext(iim, 21) * 16 */
    c->ip = in->iip + (uint64_t)(((int64_t)(in->iim << 43)) >> 39);
    c->ri = 0;
    break;
  case IA64_VEC_LOWER_PRIV_TRANSFER:   /* a trap: execution already continues after it */
    c->psr &= ~PSR_LP;
    break;
  default:
    break;
  }
}
