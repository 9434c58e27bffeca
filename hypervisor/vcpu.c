/* vcpu.c — each vCPU on its host thread: the run loop, safe points, halt, pause, IPIs,
 * interruptions and crash dumps.
 *
 * The thread alternates between ia64_run() (guest code, no lock held) and a safe point
 * (vm->lock held) where it does what other threads asked of it: requests against its
 * software TLB and decoded code (mem.c), a pause, power-off. Other threads make it reach the
 * safe point by setting cpu.stop_request, always under vm->lock, which the safe point
 * clears under the same lock: a request can never be lost between the two.
 *
 * A vCPU that has nothing to run parks on its condition variable: halted (HALT_LIGHT, and
 * ia64_run() says IA64_STOP_HALT) until an interrupt, a secondary waiting for its start IPI,
 * or paused. A parked vCPU costs no host CPU and counts as stopped for vm_pause(), which
 * therefore only waits for the vCPUs that are actually running to finish their bundle.
 *
 * The CPU library owns the interrupt controller; the platform gives it its hooks: the
 * guest clock (ns since power-on), wake (an interrupt was pended: unpark a halted vCPU),
 * timer_arm (timer.c kicks the ITM match on time) and ptc_global (queue the purge for the
 * other vCPUs, done at their next safe point).
 *
 * vCPU state machine (under vm->lock):
 *
 *     WAIT_BOOT --start IPI--> RUNNING --STOP_HALT--> HALTED --wake hook--> RUNNING
 *         any --power-off or crash--> STOPPED
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "vm_internal.h"

uint64_t vm_guest_time_ns(const vm *v) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - v->t0_ns;
}

/* ---- The CPU's hooks --------------------------------------------------------------------------- */

static uint64_t hook_clock(void *ctx) { return vm_guest_time_ns(((vm_vcpu *)ctx)->vm); }

static void hook_wake(void *ctx, ia64_cpu *c) {
  (void)c;
  vm_vcpu *vc = ctx;
  pthread_mutex_lock(&vc->vm->lock);
  vc->kicked = true;
  if (vc->parked) pthread_cond_signal(&vc->cond);
  pthread_mutex_unlock(&vc->vm->lock);
}

static void hook_timer_arm(void *ctx, ia64_cpu *c, uint64_t at) {
  (void)c;
  vm_timer_arm(ctx, at);
}

static void hook_ptc_global(void *ctx, ia64_cpu *c, uint32_t rid, uint64_t va, unsigned ps) {
  (void)c;
  vm_vcpu *vc = ctx;
  vm_broadcast(vc->vm, vc, (vcpu_req){.kind = VCPU_REQ_PTC, .rid = rid, .arg = va, .ps = (uint8_t)ps});
}

/* ---- Creation -------------------------------------------------------------------------------- */

int vm_vcpu_create(vm *v, unsigned id) {
  vm_vcpu *vc = aligned_alloc(64, (sizeof *vc + 63) & ~(size_t)63);
  if (!vc) return HPVM_ENOMEM;
  memset(vc, 0, sizeof *vc);
  vc->vm = v;
  vc->id = id;
  if (ia64_cpu_init(&vc->cpu, &vm_mem_ops, vc) != 0) {
    free(vc);
    return HPVM_ENOMEM;
  }
  vc->xframes = mmap(NULL, v->nwords * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (vc->xframes == MAP_FAILED) {
    ia64_cpu_destroy(&vc->cpu);
    free(vc);
    return HPVM_ENOMEM;
  }
  pthread_cond_init(&vc->cond, NULL);
  vc->cpu.sys.hooks = (ia64_sys_hooks){hook_clock, hook_wake, hook_timer_arm, hook_ptc_global};
  vc->cpu.sys.hook_ctx = vc;
  vc->io_page = ~(uint64_t)0;
  vc->state = id == 0 ? VCPU_RUNNING : VCPU_WAIT_BOOT;
  vm_vcpu_boot_state(vc, 0, 0);
  v->vcpu[id] = vc;
  return 0;
}

void vm_vcpu_free(vm_vcpu *vc) {
  if (!vc) return;
  vm_sched_vcpu_free(vc);
  ia64_cpu_destroy(&vc->cpu);
  munmap(vc->xframes, vc->vm->nwords * 8);
  pthread_cond_destroy(&vc->cond);
  free(vc);
}

void vm_vcpu_boot_state(vm_vcpu *vc, uint64_t entry, uint64_t gp) {
  ia64_cpu *c = &vc->cpu;
  ia64_cpu_reset(c);
  c->ip = entry;
  c->ri = 0;
  c->psr = 0;
  ia64_set_cfm(c, 96);                      /* the frame covers r32..r127 */
  ia64_gr_write(c, 1, gp, false);
  c->ar[IA64_AR_RSC] = 0;
  c->ar[IA64_AR_BSPSTORE] = 0;
  c->cr[VM_CR_LID] = (uint64_t)vc->id << 24;
  /* Interrupt sources start masked (the m bit, 16), as after a hardware reset. */
  c->cr[VM_CR_ITV] = c->cr[VM_CR_PMV] = c->cr[VM_CR_CMCV] = 1ull << 16;
  c->cr[VM_CR_LRR0] = c->cr[VM_CR_LRR1] = 1ull << 16;
}

/* ---- Requests and interrupts (vm->lock held) --------------------------------------------------- */

void vm_vcpu_poke(vm_vcpu *vc) {
  __atomic_store_n(&vc->cpu.stop_request, 1, __ATOMIC_SEQ_CST);
  if (vc->parked) pthread_cond_signal(&vc->cond);
}

void vm_vcpu_request(vm_vcpu *vc, vcpu_req r) {
  if (vc->state == VCPU_STOPPED) return;
  if (vc->nreq < VCPU_REQ_MAX) vc->req[vc->nreq++] = r;
  else vc->req_all = true;
  /* A parked vCPU runs no guest code: it does its requests before it runs again. */
  __atomic_store_n(&vc->cpu.stop_request, 1, __ATOMIC_SEQ_CST);
}

/* Any thread, vm->lock not held (the wake hook takes it). */
int vm_interrupt(vm *v, unsigned cpu, unsigned vector) {
  if (cpu >= v->ncpus || vector > 255) return HPVM_EINVAL;
  ia64_pend_interrupt(&v->vcpu[cpu]->cpu, vector);
  return 0;
}

void vm_ipi(vm *v, unsigned id, unsigned eid, unsigned vector) {
  if (id >= v->ncpus || eid != 0) return;      /* no such processor: the write is dropped */
  vm_vcpu *vc = v->vcpu[id];
  pthread_mutex_lock(&v->lock);
  if (vc->state == VCPU_WAIT_BOOT) {
    /* The boot rendezvous: the IPI starts the vCPU at the registered entry (and is consumed);
     * before SAL_SET_VECTORS there is nowhere to go and it is dropped. */
    if (v->sal_set) {
      vm_vcpu_boot_state(vc, v->sal_entry, v->sal_gp);
      vc->state = VCPU_RUNNING;
      vm_vcpu_poke(vc);
    }
    pthread_mutex_unlock(&v->lock);
    return;
  }
  pthread_mutex_unlock(&v->lock);
  vm_interrupt(v, id, vector);
}

/* ---- Crash dumps ----------------------------------------------------------------------------- */

static const char *vector_name(int vec) {
  switch (vec) {
  case IA64_VEC_VHPT_TRANSLATION: return "VHPT Translation";
  case IA64_VEC_INST_TLB: return "Instruction TLB";
  case IA64_VEC_DATA_TLB: return "Data TLB";
  case IA64_VEC_ALT_INST_TLB: return "Alternate Instruction TLB";
  case IA64_VEC_ALT_DATA_TLB: return "Alternate Data TLB";
  case IA64_VEC_DATA_NESTED_TLB: return "Data Nested TLB";
  case IA64_VEC_INST_KEY_MISS: return "Instruction Key Miss";
  case IA64_VEC_DATA_KEY_MISS: return "Data Key Miss";
  case IA64_VEC_DIRTY_BIT: return "Dirty-Bit";
  case IA64_VEC_INST_ACCESS_BIT: return "Instruction Access-Bit";
  case IA64_VEC_DATA_ACCESS_BIT: return "Data Access-Bit";
  case IA64_VEC_BREAK: return "Break Instruction";
  case IA64_VEC_EXTERNAL_INT: return "External Interrupt";
  case IA64_VEC_PAGE_NOT_PRESENT: return "Page Not Present";
  case IA64_VEC_KEY_PERMISSION: return "Key Permission";
  case IA64_VEC_INST_ACCESS_RIGHTS: return "Instruction Access Rights";
  case IA64_VEC_DATA_ACCESS_RIGHTS: return "Data Access Rights";
  case IA64_VEC_GENERAL_EXCEPTION: return "General Exception";
  case IA64_VEC_DISABLED_FP: return "Disabled FP-Register";
  case IA64_VEC_NAT_CONSUMPTION: return "NaT Consumption";
  case IA64_VEC_SPECULATION: return "Speculation";
  case IA64_VEC_DEBUG: return "Debug";
  case IA64_VEC_UNALIGNED: return "Unaligned Reference";
  case IA64_VEC_UNSUPPORTED_DATA_REF: return "Unsupported Data Reference";
  case IA64_VEC_FP_FAULT: return "Floating-point Fault";
  case IA64_VEC_FP_TRAP: return "Floating-point Trap";
  case IA64_VEC_LOWER_PRIV_TRANSFER: return "Lower-Privilege Transfer Trap";
  case IA64_VEC_TAKEN_BRANCH: return "Taken Branch Trap";
  case IA64_VEC_SINGLE_STEP: return "Single Step Trap";
  default: return "unknown";
  }
}

void vm_dump_cpu(vm *v, unsigned id, FILE *f) {
  if (id >= v->ncpus) return;
  ia64_cpu *c = &v->vcpu[id]->cpu;
  fprintf(f, "vCPU %u: ip %016" PRIx64 " slot %u  psr %016" PRIx64 "  cfm %010" PRIx64 "  retired %" PRIu64 "\n", id, c->ip,
          c->ri, c->psr, ia64_cfm(c), c->retired);
  const uint8_t *b = vm_mem_ptr(v, c->ip & ~(1ull << 63), 16);
  if (b) {
    ia64_disasm_line lines[3];
    int n = ia64_disasm_bundle(b, c->ip, lines);
    for (int i = 0; i < n; i++) fprintf(f, "    %s\n", lines[i].text);
  }
  for (unsigned r = 1; r < 32 + c->sof; r++) {
    bool nat;
    uint64_t x = ia64_gr_read(c, r, &nat);
    fprintf(f, "  r%-3u %016" PRIx64 "%c%s", r, x, nat ? '*' : ' ', r % 4 == 3 ? "\n" : "");
  }
  fprintf(f, "\n  pr   %016" PRIx64 "\n", c->pr);
  for (unsigned i = 0; i < 8; i++) fprintf(f, "  b%u   %016" PRIx64 "%s", i, c->br[i], i % 4 == 3 ? "\n" : "");
  static const struct { const char *n; unsigned i; } ars[] = {
    {"rsc", IA64_AR_RSC}, {"bsp", IA64_AR_BSP}, {"bspstore", IA64_AR_BSPSTORE}, {"rnat", IA64_AR_RNAT},
    {"unat", IA64_AR_UNAT}, {"pfs", IA64_AR_PFS}, {"lc", IA64_AR_LC}, {"ec", IA64_AR_EC}, {"ccv", IA64_AR_CCV},
    {"itc", IA64_AR_ITC}, {"fpsr", IA64_AR_FPSR}};
  for (unsigned i = 0; i < sizeof ars / sizeof ars[0]; i++)
    fprintf(f, "  ar.%-8s %016" PRIx64 "%s", ars[i].n, ia64_ar_read(c, ars[i].i), i % 3 == 2 ? "\n" : "");
  static const struct { const char *n; unsigned i; } crs[] = {
    {"dcr", VM_CR_DCR}, {"itm", VM_CR_ITM}, {"iva", VM_CR_IVA}, {"pta", VM_CR_PTA}, {"ipsr", VM_CR_IPSR},
    {"isr", VM_CR_ISR}, {"iip", VM_CR_IIP}, {"ifa", VM_CR_IFA}, {"itir", VM_CR_ITIR}, {"iipa", VM_CR_IIPA},
    {"ifs", VM_CR_IFS}, {"iim", VM_CR_IIM}, {"iha", VM_CR_IHA}, {"lid", VM_CR_LID}, {"tpr", VM_CR_TPR},
    {"itv", VM_CR_ITV}};
  fprintf(f, "\n");
  for (unsigned i = 0; i < sizeof crs / sizeof crs[0]; i++)
    fprintf(f, "  cr.%-8s %016" PRIx64 "%s", crs[i].n, c->cr[crs[i].i], i % 3 == 2 ? "\n" : "");
  fprintf(f, "\n");
}

static void crash(vm_vcpu *vc, const char *why) {
  vm *v = vc->vm;
  const ia64_intr *in = &vc->cpu.intr;
  vm_console_flush(v);
  fprintf(v->log, "hpvm: guest crashed on vCPU %u: %s: %s (vector 0x%04x) at %016" PRIx64 " slot %u, isr %016" PRIx64
          ", ifa %016" PRIx64 "\n", vc->id, why, vector_name(in->vector), (unsigned)in->vector, in->iip, in->ri, in->isr, in->ifa);
  vm_dump_cpu(v, vc->id, v->log);
  fflush(v->log);
  vm_power_off(v, VM_EXIT_CRASH);
}

/* ---- Interruptions --------------------------------------------------------------------------- */

static unsigned cpl(const ia64_cpu *c) { return (unsigned)(c->psr >> VM_PSR_CPL_SHIFT) & 3; }

/* The run loop stopped with an interruption in cpu.intr: a hypercall, or the guest's. */
static void interruption(vm_vcpu *vc) {
  ia64_cpu *c = &vc->cpu;
  const ia64_intr *in = &c->intr;
  if (in->vector == IA64_VEC_BREAK && in->iim == VM_SSC_BREAK && cpl(c) == 0) {
    vm_ssc(vc);
    return;
  }
  if (c->cr[VM_CR_IVA] == 0) return crash(vc, "interruption with no vector table (cr.iva = 0)");
  /* With collection off only a data TLB miss can be taken (as Data Nested TLB, which the
   * CPU raises itself then): anything else would lose the interrupted state for good. */
  if (!(c->psr & VM_PSR_IC) && in->vector != IA64_VEC_DATA_NESTED_TLB)
    return crash(vc, "interruption with interruption collection off (psr.ic = 0)");
  ia64_deliver(c);
}

/* ---- The thread ------------------------------------------------------------------------------ */

/* Sleep on the vCPU's condition variable for at most ns (vm->lock held). */
static void park_for(vm_vcpu *vc, uint64_t ns) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ns += (uint64_t)ts.tv_nsec;
  ts.tv_sec += (time_t)(ns / 1000000000u);
  ts.tv_nsec = (long)(ns % 1000000000u);
  pthread_cond_clockwait(&vc->cond, &vc->vm->lock, CLOCK_MONOTONIC, &ts);
}

/* Wait, parked, until the vCPU may run guest code; false when the VM stops. vm->lock held. */
static bool safe_point(vm_vcpu *vc) {
  vm *v = vc->vm;
  for (;;) {
    vc->cpu.stop_request = 0;
    if (vc->nreq || vc->req_all) vm_vcpu_do_requests(vc);
    if (v->stopping) return false;
    if (vc->state == VCPU_HALTED && (vc->kicked || ia64_wakeable(&vc->cpu))) {
      vc->state = VCPU_RUNNING;
      vc->kicked = false;
    }
    /* Runnable, it may still have to sleep over its allowance (sched.c): parked, so that a
     * pause need not wait for it, until the time is up or something wakes it. */
    uint64_t hold = 0;
    if (v->pause_depth == 0 && vc->state == VCPU_RUNNING && !(hold = vm_sched_gate(vc))) return true;
    if (!hold) vm_sched_idle(vc);
    vc->parked = true;
    v->nparked++;
    if (v->pause_depth) pthread_cond_broadcast(&v->pause_cond);
    if (hold) park_for(vc, hold);
    else pthread_cond_wait(&vc->cond, &v->lock);
    vc->parked = false;
    v->nparked--;
  }
}

/* HALT_LIGHT (ssc.c): from now ia64_run() answers IA64_STOP_HALT until an interrupt. */
void vm_vcpu_halt(vm_vcpu *vc) { ia64_halt(&vc->cpu); }

/* ia64_run() said IA64_STOP_HALT: park unless the wake hook ran meanwhile. */
static void halted(vm_vcpu *vc) {
  vm *v = vc->vm;
  pthread_mutex_lock(&v->lock);
  if (vc->kicked || ia64_wakeable(&vc->cpu)) {
    vc->kicked = false;
  } else {
    vc->state = VCPU_HALTED;
    atomic_fetch_add_explicit(&v->st_halts, 1, memory_order_relaxed);
  }
  pthread_mutex_unlock(&v->lock);
}

static void *vcpu_main(void *arg) {
  vm_vcpu *vc = arg;
  vm *v = vc->vm;
  pthread_mutex_lock(&v->lock);
  while (safe_point(vc)) {
    pthread_mutex_unlock(&v->lock);
    ia64_stop st = ia64_run(&vc->cpu, vm_sched_budget(vc));
    if (st == IA64_STOP_INTR) interruption(vc);
    else if (st == IA64_STOP_HALT) halted(vc);
    pthread_mutex_lock(&v->lock);
  }
  vm_sched_vcpu_exit(vc);            /* a powered-off guest holds no entitlement */
  vc->state = VCPU_STOPPED;
  v->nparked++;                      /* an exited thread never runs guest code again */
  pthread_cond_broadcast(&v->pause_cond);
  pthread_mutex_unlock(&v->lock);
  return NULL;
}

int vm_vcpu_start_thread(vm_vcpu *vc) {
  if (pthread_create(&vc->thread, NULL, vcpu_main, vc) != 0) return HPVM_ENOMEM;
  vc->thread_started = true;
  return 0;
}

/* ---- Running a vCPU on the caller's thread ----------------------------------------------------- */

/* The thread's loop without the thread, for instruction-exact runs (save/restore equivalence,
 * debugging): the budget is ia64_run's, which stops after exactly that many instructions. */
int vm_run_cpu(vm *v, unsigned cpu, uint64_t insns) {
  if (cpu >= v->ncpus) return HPVM_EINVAL;
  if (v->started) return HPVM_EBUSY;
  vm_vcpu *vc = v->vcpu[cpu];
  ia64_cpu *c = &vc->cpu;
  uint64_t end = c->retired + insns;
  while (c->retired < end) {
    pthread_mutex_lock(&v->lock);
    c->stop_request = 0;
    if (vc->nreq || vc->req_all) vm_vcpu_do_requests(vc);
    bool go = !v->stopping && vc->state == VCPU_RUNNING;
    pthread_mutex_unlock(&v->lock);
    if (!go) return 1;
    ia64_stop st = ia64_run(c, end - c->retired);
    if (st == IA64_STOP_INTR) interruption(vc);
    else if (st == IA64_STOP_HALT) return 1;
  }
  return v->stopping ? 1 : 0;
}
