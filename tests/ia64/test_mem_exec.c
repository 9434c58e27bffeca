/* test_mem_exec.c — the integer memory family executed on an ia64_cpu driven directly, for
 * what a self-checking program cannot see: the interruption a fault leaves (vector, ISR
 * bits, IFA, slot), the deferral policy of speculative loads under PSR.ic/it/ed and cr.dcr,
 * uncacheable (IO) pages, the FR forms of chk, fc against code changed behind the software
 * TLB, the checks of mov.m ar, the ALAT's own rules, atomicity of the semaphores between two
 * vCPUs sharing memory, and ia64run's exit status for the memory faults.
 *
 * Snippets are assembled with ia64-linux-gnu-as (objcopy gives the raw .text) and run at
 * CODE; they end with break.i 0x100000. The address space: CODE (code, all rights), DATA
 * (data, read/write), RO (read only), IO (uncacheable: every access goes to io()), the rest
 * unmapped (Data/Instruction TLB faults). Expected values are worked by hand from the SDM. */
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define CODE UINT64_C(0x4000000000000000)
#define DATA UINT64_C(0x6000000000000000)
#define RO UINT64_C(0x6000000000100000)
#define IO UINT64_C(0x8000000000000000)
#define UNMAPPED UINT64_C(0x7000000000000000)
#define CODE_SIZE (64 * 1024)
#define DATA_SIZE (64 * 1024)
#define END 0x100000                 /* break.i immediate that ends a snippet */

#define DCR_DM (1ull << 8)

/* ---- A machine -------------------------------------------------------------------------------- */

typedef ia64t_machine machine;

/* The machine for src: CODE, DATA (its own, or shared_data), RO filled with 0x77, IO. */
static machine *machine_new(const char *src, uint8_t *shared_data) {
  machine *m = ia64t_machine_asm(CODE, CODE_SIZE, src, NULL);
  ia64t_map(m, DATA, DATA_SIZE, IA64_ACC_R | IA64_ACC_W, shared_data);
  memset(ia64t_map(m, RO, IA64_PAGE_SIZE, IA64_ACC_R, NULL), 0x77, IA64_PAGE_SIZE);
  m->io_page = IO;
  m->io_read_value = 0x5a5a5a5a5a5a5a5aull;
  return m;
}

static void machine_free(machine *m) { ia64t_machine_free(m); }

/* Run until an interruption; true when it is the snippet's end. */
static bool run(machine *m) { return ia64t_run(m, 10000000) == IA64_VEC_BREAK && m->cpu.intr.iim == END; }

static void expect_end(machine *m) {
  if (!run(m))
    fail_msg("stopped at %#" PRIx64 " slot %u: vector %#x isr %#" PRIx64 " ifa %#" PRIx64, m->cpu.intr.iip,
             m->cpu.intr.ri, m->cpu.intr.vector, m->cpu.intr.isr, m->cpu.intr.ifa);
}

static void expect_fault(machine *m, int vector, uint64_t isr_bits, uint64_t ifa) {
  assert_false(run(m));
  if (m->cpu.intr.vector != vector) fail_msg("vector %#x, want %#x", m->cpu.intr.vector, vector);
  if ((m->cpu.intr.isr & isr_bits) != isr_bits)
    fail_msg("isr %#" PRIx64 " lacks %#" PRIx64, m->cpu.intr.isr, isr_bits);
  assert_false(m->cpu.intr.trap);
  if (ifa != ~0ull) assert_int_equal(m->cpu.intr.ifa, ifa);
}

static void gr(machine *m, unsigned r, uint64_t v, bool nat) { ia64_gr_write(&m->cpu, r, v, nat); }
static uint64_t rd(machine *m, unsigned r) { return ia64_gr_read(&m->cpu, r, NULL); }
static bool nat(machine *m, unsigned r) {
  bool n;
  ia64_gr_read(&m->cpu, r, &n);
  return n;
}
static uint64_t mem8(machine *m, uint64_t off) {
  uint64_t v;
  memcpy(&v, m->data + off, 8);
  return v;
}

/* ---- Alignment, NaT consumption, translation faults ------------------------------------------- */

static void test_unaligned_load_and_store_raise_unaligned_reference(void **state) {
  (void)state;
  machine *m = machine_new("nop.m 0\n ld8 r8 = [r9] ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, DATA + 1, false);
  gr(m, 8, 7, false);
  expect_fault(m, IA64_VEC_UNALIGNED, IA64_ISR_R, DATA + 1);
  assert_int_equal(m->cpu.intr.isr & IA64_ISR_W, 0);
  assert_int_equal(m->cpu.intr.ri, 1);                  /* the ld8 is in slot 1 */
  assert_int_equal(m->cpu.intr.isr >> 41 & 3, 1);       /* ISR.ei */
  assert_int_equal(m->cpu.intr.iip, CODE);
  assert_int_equal(rd(m, 8), 7);                        /* a fault leaves the target alone */
  machine_free(m);

  m = machine_new("st4 [r9] = r8 ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, DATA + 2, false);
  expect_fault(m, IA64_VEC_UNALIGNED, IA64_ISR_W, DATA + 2);
  assert_int_equal(m->cpu.intr.isr & IA64_ISR_R, 0);
  machine_free(m);

  /* Naturally aligned accesses of every size do not fault. */
  m = machine_new("ld2 r8 = [r9] ;;\n ld4 r8 = [r10] ;;\n ld8 r8 = [r11] ;;\n ld1 r8 = [r12] ;;\n"
                  "st2 [r9] = r8 ;;\n st4 [r10] = r8 ;;\n st8 [r11] = r8 ;;\n st1 [r12] = r8 ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, DATA + 6, false), gr(m, 10, DATA + 12, false), gr(m, 11, DATA + 24, false), gr(m, 12, DATA + 7, false);
  expect_end(m);
  machine_free(m);
}

static void test_semaphores_are_unaligned_and_need_both_rights(void **state) {
  (void)state;
  static const char *const srcs[] = {
    "cmpxchg4.acq r8 = [r9], r10, ar.ccv ;;\n break.i 0x100000 ;;",
    "xchg2 r8 = [r9], r10 ;;\n break.i 0x100000 ;;",
    "fetchadd8.rel r8 = [r9], 1 ;;\n break.i 0x100000 ;;",
  };
  for (unsigned i = 0; i < 3; i++) {
    machine *m = machine_new(srcs[i], NULL);
    gr(m, 9, DATA + 1, false);
    expect_fault(m, IA64_VEC_UNALIGNED, IA64_ISR_R | IA64_ISR_W, DATA + 1);
    machine_free(m);
    /* A read-only page: the write right is checked whether or not the store happens. */
    m = machine_new(srcs[i], NULL);
    gr(m, 9, RO, false);
    expect_fault(m, IA64_VEC_DATA_ACCESS_RIGHTS, IA64_ISR_R | IA64_ISR_W, RO);
    assert_int_equal(ia64t_host(m, RO)[0], 0x77);
    machine_free(m);
  }
}

static void test_nat_address_or_value_is_nat_consumption(void **state) {
  (void)state;
  /* A load through a NaT address. */
  machine *m = machine_new("ld8 r8 = [r9] ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, DATA, true);
  expect_fault(m, IA64_VEC_NAT_CONSUMPTION, IA64_ISR_R, ~0ull);
  assert_int_equal(ISR_CODE(m->cpu.intr.isr) & 0xf0, 0x10);   /* Register NaT Consumption */
  machine_free(m);
  /* A store of a NaT value: nothing is written. */
  m = machine_new("st8 [r9] = r10 ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, DATA, false);
  gr(m, 10, 0x1234, true);
  expect_fault(m, IA64_VEC_NAT_CONSUMPTION, IA64_ISR_W, ~0ull);
  assert_int_equal(ISR_CODE(m->cpu.intr.isr) & 0xf0, 0x10);
  assert_int_equal(m->cpu.intr.isr & (IA64_ISR_R | IA64_ISR_NA), 0);
  assert_int_equal(mem8(m, 0), 0);
  machine_free(m);
  /* A store through a NaT address, and the same with a base update. */
  m = machine_new("st8 [r9] = r10, 8 ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, DATA, true);
  expect_fault(m, IA64_VEC_NAT_CONSUMPTION, IA64_ISR_W, ~0ull);
  assert_int_equal(rd(m, 9), DATA);
  machine_free(m);
  /* A semaphore with a NaT value: read and write both in ISR. */
  m = machine_new("cmpxchg8.acq r8 = [r9], r10, ar.ccv ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, DATA, false);
  gr(m, 10, 1, true);
  expect_fault(m, IA64_VEC_NAT_CONSUMPTION, IA64_ISR_R | IA64_ISR_W, ~0ull);
  machine_free(m);
  /* A spill stores whatever the NaT: no fault. */
  m = machine_new("st8.spill [r9] = r10 ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, DATA + 8, false);
  gr(m, 10, 0x1234, true);
  expect_end(m);
  assert_int_equal(mem8(m, 8), 0x1234);
  assert_int_equal(m->cpu.ar[IA64_AR_UNAT], 2);
  machine_free(m);
}

static void test_unmapped_access_raises_data_tlb_with_ifa(void **state) {
  (void)state;
  machine *m = machine_new("ld4 r8 = [r9] ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, UNMAPPED + 0x44, false);
  expect_fault(m, IA64_VEC_DATA_TLB, IA64_ISR_R, UNMAPPED + 0x44);
  machine_free(m);
  m = machine_new("st1 [r9] = r8 ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, UNMAPPED + 3, false);
  expect_fault(m, IA64_VEC_DATA_TLB, IA64_ISR_W, UNMAPPED + 3);
  machine_free(m);
  /* A non-speculative load is not deferred, even with PSR.ic = 0. */
  m = machine_new("ld8.a r8 = [r9] ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, UNMAPPED, false);
  expect_fault(m, IA64_VEC_DATA_TLB, IA64_ISR_R, UNMAPPED);
  machine_free(m);
}

static void test_base_update_onto_itself_or_r0_is_illegal_operation(void **state) {
  (void)state;
  static const char *const srcs[] = {
    "ld8 r9 = [r9], 8 ;;\n break.i 0x100000 ;;", "ld8 r9 = [r9], r10 ;;\n break.i 0x100000 ;;",
    "ld4.s r9 = [r9], 4 ;;\n break.i 0x100000 ;;", "ld8.fill r9 = [r9], r10 ;;\n break.i 0x100000 ;;",
    "ld8 r9 = [r0], 8 ;;\n break.i 0x100000 ;;", "st8 [r0] = r9, 8 ;;\n break.i 0x100000 ;;",
    "lfetch [r0], r10 ;;\n break.i 0x100000 ;;",
  };
  for (unsigned i = 0; i < sizeof srcs / sizeof srcs[0]; i++) {
    machine *m = machine_new(srcs[i], NULL);
    gr(m, 9, DATA, false);
    gr(m, 10, 8, false);
    expect_fault(m, IA64_VEC_GENERAL_EXCEPTION, 0, ~0ull);
    assert_int_equal(m->cpu.intr.isr & 0xf0, IA64_GE_ILLEGAL_OP);
    assert_int_equal(rd(m, 9), DATA);
    machine_free(m);
  }
}

/* ---- Speculation: the deferral policy --------------------------------------------------------- */

static machine *spec_machine(uint64_t psr, uint64_t dcr, uint64_t va) {
  machine *m = machine_new("ld8.s r8 = [r9] ;;\n break.i 0x100000 ;;", NULL);
  m->cpu.psr = psr;
  m->cpu.cr[0] = dcr;
  gr(m, 9, va, false);
  gr(m, 8, 0x77, false);
  return m;
}

static void test_speculative_load_defers_as_psr_and_dcr_say(void **state) {
  (void)state;
  /* PSR.ic = 1, no DCR deferral: the TLB miss is raised, marked speculative. */
  machine *m = spec_machine(P_IC | P_IT, 0, UNMAPPED);
  expect_fault(m, IA64_VEC_DATA_TLB, IA64_ISR_R | IA64_ISR_SP | IA64_ISR_ED, UNMAPPED);
  assert_int_equal(rd(m, 8), 0x77);
  machine_free(m);
  /* DCR.dm defers it. */
  m = spec_machine(P_IC | P_IT, DCR_DM, UNMAPPED);
  expect_end(m);
  assert_true(nat(m, 8));
  machine_free(m);
  /* PSR.ic = 0: everything is deferred. */
  m = spec_machine(0, 0, UNMAPPED);
  expect_end(m);
  assert_true(nat(m, 8));
  machine_free(m);
  /* PSR.ed = 1: a NaT whatever the address, memory untouched. */
  m = spec_machine(P_IC | P_IT | P_ED, 0, DATA);
  memset(m->data, 0x11, 8);
  expect_end(m);
  assert_true(nat(m, 8));
  machine_free(m);
  /* Unaligned: deferred with PSR.it, raised without. */
  m = spec_machine(P_IC | P_IT, 0, DATA + 4);
  expect_end(m);
  assert_true(nat(m, 8));
  machine_free(m);
  m = spec_machine(P_IC, 0, DATA + 4);
  expect_fault(m, IA64_VEC_UNALIGNED, IA64_ISR_R | IA64_ISR_SP, DATA + 4);
  machine_free(m);
  /* A NaT address never faults a speculative load. */
  m = spec_machine(P_IC | P_IT, 0, DATA);
  gr(m, 9, DATA, true);
  expect_end(m);
  assert_true(nat(m, 8));
  machine_free(m);
  /* Mapped memory: the value, no NaT. */
  m = spec_machine(P_IC | P_IT, 0, DATA);
  memset(m->data, 0x11, 8);
  expect_end(m);
  assert_false(nat(m, 8));
  assert_int_equal(rd(m, 8), 0x1111111111111111ull);
  machine_free(m);
}

/* What Linux does with a speculative fault it cannot resolve: set PSR.ed and return to the
 * load, which then defers; PSR.ed lasts for that one instruction. lfetch.fault likewise. */
static void test_os_handler_defers_with_psr_ed(void **state) {
  (void)state;
  machine *m = machine_new("ld8.s r8 = [r9] ;;\n ld8.s r10 = [r11] ;;\n break.i 0x100000 ;;", NULL);
  m->cpu.psr = P_IC | P_IT;
  gr(m, 9, UNMAPPED, false);
  gr(m, 11, DATA, false);
  memset(m->data, 0x22, 8);
  expect_fault(m, IA64_VEC_DATA_TLB, IA64_ISR_SP | IA64_ISR_R, UNMAPPED);
  assert_int_equal(m->cpu.ip, CODE);
  assert_int_equal(m->cpu.ri, 0);
  m->cpu.psr |= P_ED;                      /* the handler's answer, then rfi to the load */
  expect_end(m);
  assert_true(nat(m, 8));
  assert_false(nat(m, 10));                  /* PSR.ed was for the first load only */
  assert_int_equal(rd(m, 10), 0x2222222222222222ull);
  assert_int_equal(m->cpu.psr & P_ED, 0);
  machine_free(m);
  m = machine_new("lfetch.fault [r9], 32 ;;\n break.i 0x100000 ;;", NULL);
  m->cpu.psr = P_IC | P_IT;
  gr(m, 9, UNMAPPED, false);
  expect_fault(m, IA64_VEC_DATA_TLB, IA64_ISR_NA, UNMAPPED);
  m->cpu.psr |= P_ED;
  expect_end(m);
  assert_int_equal(rd(m, 9), UNMAPPED + 32);
  assert_int_equal(m->cpu.psr & P_ED, 0);
  machine_free(m);
}

/* ---- Uncacheable (IO) pages ----------------------------------------------------------------------- */

static void test_io_pages_take_plain_accesses_only(void **state) {
  (void)state;
  machine *m = machine_new("ld8 r8 = [r9] ;;\n st4 [r9] = r10 ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, IO + 8, false);
  gr(m, 10, 0x1122334455667788ull, false);
  expect_end(m);
  assert_int_equal(rd(m, 8), 0x5a5a5a5a5a5a5a5aull);
  assert_int_equal(m->io_count, 2);
  assert_true(m->io_write);
  assert_int_equal(m->io_size, 4);
  assert_int_equal(m->io_va, IO + 8);
  assert_int_equal(m->io_val & 0xffffffff, 0x55667788);
  machine_free(m);
  /* An advanced load does not touch non-speculative memory: 0, no entry, the check fails. */
  m = machine_new("ld8.a r8 = [r9] ;;\n chk.a.nc r8, 1f ;;\n break.i 1 ;;\n1: break.i 0x100000 ;;", NULL);
  gr(m, 9, IO, false);
  gr(m, 8, 0x77, false);
  expect_end(m);
  assert_int_equal(rd(m, 8), 0);
  assert_false(nat(m, 8));
  assert_int_equal(m->io_count, 0);
  machine_free(m);
  /* A speculative one defers. */
  m = machine_new("ld8.s r8 = [r9] ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, IO, false);
  expect_end(m);
  assert_true(nat(m, 8));
  assert_int_equal(m->io_count, 0);
  machine_free(m);
  /* A check load that misses reads the device. */
  m = machine_new("ld8.c.nc r8 = [r9] ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, IO, false);
  expect_end(m);
  assert_int_equal(rd(m, 8), 0x5a5a5a5a5a5a5a5aull);
  assert_int_equal(m->io_count, 1);
  machine_free(m);
  /* Semaphores need write-back memory. */
  m = machine_new("fetchadd4.acq r8 = [r9], 1 ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, IO + 4, false);
  expect_fault(m, IA64_VEC_UNSUPPORTED_DATA_REF, IA64_ISR_R | IA64_ISR_W, IO + 4);
  assert_int_equal(m->io_count, 0);
  machine_free(m);
}

/* ---- FR forms of the checks ------------------------------------------------------------------------ */

static const char chk_src[] =
  "chk.s f6, 1f ;;\n mov r8 = 1 ;;\n break.i 0x100000 ;;\n"
  "1: mov r8 = 2 ;;\n break.i 0x100000 ;;";

static void test_chk_s_fr_branches_on_natval(void **state) {
  (void)state;
  const ia64_fr natval = {0, 0x1fffe, 0}, one = {1ull << 63, 0xffff, 0}, zero = {0, 0, 0};
  const ia64_fr cases[3] = {natval, one, zero};
  for (unsigned i = 0; i < 3; i++) {
    machine *m = machine_new(chk_src, NULL);
    ia64_fr_write(&m->cpu, 6, cases[i]);
    expect_end(m);
    assert_int_equal(rd(m, 8), i == 0 ? 2 : 1);
    machine_free(m);
  }
}

static void test_chk_a_fr_asks_the_alat_and_f0_f1_always_fail(void **state) {
  (void)state;
  const char *src = "chk.a.nc f6, 1f ;;\n mov r8 = 1 ;;\n break.i 0x100000 ;;\n1: mov r8 = 2 ;;\n break.i 0x100000 ;;";
  machine *m = machine_new(src, NULL);
  expect_end(m);
  assert_int_equal(rd(m, 8), 2);                                   /* no entry */
  machine_free(m);
  m = machine_new(src, NULL);
  ia64_alat_insert(&m->cpu, m->cpu.frmap[6], true, 0x1000, 8);
  expect_end(m);
  assert_int_equal(rd(m, 8), 1);                                   /* entry */
  machine_free(m);
  m = machine_new(src, NULL);
  ia64_alat_insert(&m->cpu, 6, false, 0x1000, 8);                  /* r6's entry is not f6's */
  expect_end(m);
  assert_int_equal(rd(m, 8), 2);
  machine_free(m);
  m = machine_new("chk.a.clr f1, 1f ;;\n mov r8 = 1 ;;\n break.i 0x100000 ;;\n1: mov r8 = 2 ;;\n break.i 0x100000 ;;", NULL);
  ia64_alat_insert(&m->cpu, 1, true, 0x1000, 8);
  expect_end(m);
  assert_int_equal(rd(m, 8), 2);
  machine_free(m);
  /* invala.e f6 removes the FR entry, leaving the GR entry of the same number. */
  m = machine_new("invala.e f6 ;;\n break.i 0x100000 ;;", NULL);
  ia64_alat_insert(&m->cpu, m->cpu.frmap[6], true, 0x1000, 8);
  ia64_alat_insert(&m->cpu, m->cpu.grmap[6], false, 0x2000, 8);
  expect_end(m);
  assert_false(ia64_alat_check(&m->cpu, m->cpu.frmap[6], true, false));
  assert_true(ia64_alat_check(&m->cpu, m->cpu.grmap[6], false, false));
  machine_free(m);
}

/* ---- fc ---------------------------------------------------------------------------------------------- */

static void test_fc_drops_code_changed_behind_the_tlb(void **state) {
  (void)state;
  /* At CODE: fc of the page at CODE+0x1000; at CODE+0x1000: mov r8 = 1. */
  machine *m = machine_new("fc r9 ;;\n sync.i ;;\n srlz.i ;;\n break.i 0x100000 ;;\n"
                           ".org 0x1000\n mov r8 = 1 ;;\n break.i 0x100000 ;;", NULL);
  size_t len;
  uint8_t *two = ia64t_assemble("mov r8 = 2 ;;\n break.i 0x100000 ;;", NULL, &len);
  assert_non_null(two);
  gr(m, 9, CODE + 0x1000, false);
  m->cpu.ip = CODE + 0x1000;
  expect_end(m);
  assert_int_equal(rd(m, 8), 1);
  memcpy(m->mem + 0x1000, two, len);       /* another vCPU or a device writes the code */
  free(two);
  m->cpu.ip = CODE + 0x1000, m->cpu.ri = 0;
  expect_end(m);
  assert_int_equal(rd(m, 8), 1);             /* the decoded copy: nothing told this CPU */
  m->cpu.ip = CODE, m->cpu.ri = 0;
  expect_end(m);                             /* fc, sync.i, srlz.i */
  m->cpu.ip = CODE + 0x1000, m->cpu.ri = 0;
  expect_end(m);
  assert_int_equal(rd(m, 8), 2);
  machine_free(m);
  /* fc of an unmapped line is a non-access fault; a NaT address a NaT Consumption. */
  m = machine_new("fc.i r9 ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, UNMAPPED, false);
  expect_fault(m, IA64_VEC_DATA_TLB, IA64_ISR_NA, UNMAPPED);
  assert_int_equal(ISR_CODE(m->cpu.intr.isr) & 0xf, 1);   /* non-access type: fc */
  machine_free(m);
  m = machine_new("fc r9 ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, DATA, true);
  expect_fault(m, IA64_VEC_NAT_CONSUMPTION, IA64_ISR_NA, ~0ull);
  machine_free(m);
}

/* ---- lfetch ------------------------------------------------------------------------------------------- */

static void test_lfetch_faults_only_in_its_fault_form(void **state) {
  (void)state;
  machine *m = machine_new("lfetch [r9] ;;\n lfetch.excl [r10], 64 ;;\n lfetch.nta [r11], r12 ;;\n"
                           "lfetch.count [r9], 4, 128 ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, UNMAPPED, false);
  gr(m, 10, UNMAPPED, true);
  gr(m, 11, DATA, false);
  gr(m, 12, 8, true);
  expect_end(m);
  assert_int_equal(rd(m, 10), UNMAPPED + 64);
  assert_true(nat(m, 10));                    /* the base keeps its NaT */
  assert_int_equal(rd(m, 11), DATA + 8);
  assert_true(nat(m, 11));                    /* and takes the increment's */
  machine_free(m);
  m = machine_new("lfetch.fault.excl [r9], 16 ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, UNMAPPED, false);
  expect_fault(m, IA64_VEC_DATA_TLB, IA64_ISR_NA | IA64_ISR_R, UNMAPPED);
  assert_int_equal(ISR_CODE(m->cpu.intr.isr) & 0xf, 4);   /* non-access type: lfetch */
  assert_int_equal(rd(m, 9), UNMAPPED);                    /* no base update on a fault */
  machine_free(m);
  m = machine_new("lfetch.fault [r9] ;;\n break.i 0x100000 ;;", NULL);
  gr(m, 9, DATA, true);
  expect_fault(m, IA64_VEC_NAT_CONSUMPTION, IA64_ISR_NA, ~0ull);
  machine_free(m);
}

/* ---- mov.m ar ------------------------------------------------------------------------------------------ */

/* One M slot (then break.i END in the I slots) as a machine. */
static machine *slot_machine(uint64_t slot) {
  machine *m = machine_new("nop.m 0\n nop.i 0\n nop.i 0 ;;", NULL);
  uint64_t brk = ENC(40, 37, 0) | ENC(36, 36, END >> 20) | ENC(25, 6, END & 0xfffff);
  ia64t_bundle(m->mem, 0x01, slot, brk, brk);   /* MII with a stop at the end */
  return m;
}
#define MOV_TO_AR(ar, r2) (ENC(40, 37, 1) | ENC(32, 27, 0x2a) | ENC(26, 20, ar) | ENC(19, 13, r2))
#define MOV_FROM_AR(r1, ar) (ENC(40, 37, 1) | ENC(32, 27, 0x22) | ENC(26, 20, ar) | ENC(12, 6, r1))

static void expect_ge(machine *m, unsigned code) {
  expect_fault(m, IA64_VEC_GENERAL_EXCEPTION, 0, ~0ull);
  if ((m->cpu.intr.isr & 0xf0) != code) fail_msg("isr %#" PRIx64 ", want code %#x", m->cpu.intr.isr, code);
}

static void test_mov_m_ar_checks_unit_privilege_and_nat(void **state) {
  (void)state;
  const uint64_t cpl3 = 3ull << 32;
  machine *m = slot_machine(MOV_TO_AR(IA64_AR_KR0, 9));   /* kernel register at cpl 3 */
  m->cpu.psr = cpl3;
  expect_ge(m, IA64_GE_PRIV_REG);
  machine_free(m);
  m = slot_machine(MOV_TO_AR(IA64_AR_KR0, 9));            /* ... with a NaT value: NaT first */
  m->cpu.psr = cpl3;
  gr(m, 9, 1, true);
  expect_fault(m, IA64_VEC_NAT_CONSUMPTION, 0, ~0ull);
  machine_free(m);
  m = slot_machine(MOV_FROM_AR(8, IA64_AR_KR0));          /* reading it is allowed */
  m->cpu.psr = cpl3;
  m->cpu.ar[IA64_AR_KR0] = 0x4242;
  expect_end(m);
  assert_int_equal(rd(m, 8), 0x4242);
  machine_free(m);
  m = slot_machine(MOV_TO_AR(IA64_AR_BSP, 9));           /* read-only, NaT or not */
  gr(m, 9, 1, true);
  expect_ge(m, IA64_GE_ILLEGAL_OP);
  machine_free(m);
  m = slot_machine(MOV_TO_AR(IA64_AR_PFS, 9));           /* an I-unit register */
  expect_ge(m, IA64_GE_ILLEGAL_OP);
  machine_free(m);
  m = slot_machine(MOV_FROM_AR(8, IA64_AR_LC));
  expect_ge(m, IA64_GE_ILLEGAL_OP);
  machine_free(m);
  m = slot_machine(MOV_TO_AR(8, 9));                     /* reserved */
  expect_ge(m, IA64_GE_ILLEGAL_OP);
  machine_free(m);
  m = slot_machine(MOV_TO_AR(IA64_AR_RSC, 9));           /* a reserved field */
  gr(m, 9, 1ull << 40, false);
  expect_ge(m, IA64_GE_RESERVED_REG);
  machine_free(m);
  m = slot_machine(MOV_TO_AR(48, 9));                    /* ignored: no fault, reads 0 */
  gr(m, 9, 5, false);
  expect_end(m);
  machine_free(m);
  m = slot_machine(MOV_FROM_AR(8, 48));
  gr(m, 8, 5, false);
  expect_end(m);
  assert_int_equal(rd(m, 8), 0);
  machine_free(m);
  m = machine_new("mov.m ar.ccv = -128 ;;\n mov.m ar.unat = 127 ;;\n mov.m r8 = ar.ccv ;;\n break.i 0x100000 ;;", NULL);
  m->cpu.psr = cpl3;
  expect_end(m);
  assert_int_equal(rd(m, 8), 0xffffffffffffff80ull);
  assert_int_equal(m->cpu.ar[IA64_AR_UNAT], 127);
  machine_free(m);
}

/* ---- The ALAT's rules ----------------------------------------------------------------------------------- */

static void test_alat_store_overlap_and_capacity(void **state) {
  (void)state;
  machine *m = machine_new("break.i 0x100000 ;;", NULL);
  ia64_cpu *c = &m->cpu;
  ia64_alat_insert(c, 40, false, 0x1000, 8);
  ia64_alat_store(c, 0x0ff8, 8);              /* just below */
  ia64_alat_store(c, 0x1008, 1);              /* just above */
  assert_true(ia64_alat_check(c, 40, false, false));
  ia64_alat_store(c, 0x1007, 1);              /* its last byte */
  assert_false(ia64_alat_check(c, 40, false, false));
  ia64_alat_insert(c, 40, false, 0x1000, 4);
  ia64_alat_store(c, 0x0ff0, 32);             /* covers it */
  assert_false(ia64_alat_check(c, 40, false, false));
  assert_int_equal(c->alat_live, 0);
  /* More registers than ways in one set: the newest entry always survives. */
  for (unsigned r = 32; r < 32 + 8 * 8; r += 8) {
    ia64_alat_insert(c, r, false, 0x2000 + r * 8, 8);
    assert_true(ia64_alat_check(c, r, false, false));
  }
  unsigned alive = 0;
  for (unsigned r = 32; r < 32 + 8 * 8; r += 8) alive += ia64_alat_check(c, r, false, false);
  assert_true(alive >= 1 && alive <= IA64_ALAT_SIZE);
  /* Re-inserting a register replaces its entry rather than adding one. */
  ia64_alat_invala(c);
  ia64_alat_insert(c, 33, false, 0x3000, 8);
  ia64_alat_insert(c, 33, false, 0x4000, 8);
  ia64_alat_store(c, 0x3000, 8);
  assert_true(ia64_alat_check(c, 33, false, true));     /* .clr */
  assert_false(ia64_alat_check(c, 33, false, false));
  ia64_alat_insert(c, 34, false, 0x3000, 8);
  ia64_alat_insert(c, 34, true, 0x5000, 8);
  ia64_alat_invalidate_reg(c, 34, true);
  assert_true(ia64_alat_check(c, 34, false, false));
  assert_false(ia64_alat_check(c, 34, true, false));
  ia64_alat_invala(c);
  assert_false(ia64_alat_check(c, 34, false, false));
  assert_int_equal(c->alat_live, 0);
  machine_free(m);
}

/* ---- Two vCPUs on shared memory ---------------------------------------------------------------------- */

#define SMP_N 200000
static const char smp_src[] =
  "movl r10 = 200000 ;;\n"
  "1: fetchadd8.acq r8 = [r9], 1 ;;\n"               /* a fetchadd counter at [r9] */
  "2: ld8 r11 = [r16] ;;\n"                          /* a cmpxchg counter at [r16] */
  "   mov.m ar.ccv = r11\n adds r12 = 1, r11 ;;\n"
  "   cmpxchg8.acq r13 = [r16], r12, ar.ccv ;;\n"
  "   cmp.ne p7, p0 = r13, r11 ;;\n"
  "(p7) br.cond.spnt.few 2b ;;\n"
  "3: mov r15 = 1 ;;\n"                             /* a spinlock at [r17] taken with xchg */
  "   xchg8 r14 = [r17], r15 ;;\n"
  "   cmp.ne p7, p0 = 0, r14 ;;\n"
  "(p7) br.cond.spnt.few 3b ;;\n"
  "   ld8 r19 = [r18] ;;\n"                         /* guarding a plain counter at [r18] */
  "   adds r19 = 1, r19 ;;\n"
  "   st8 [r18] = r19 ;;\n"
  "   st8.rel [r17] = r0 ;;\n"
  "   adds r10 = -1, r10 ;;\n"
  "   cmp.ne p6, p0 = 0, r10 ;;\n"
  "(p6) br.cond.sptk.few 1b ;;\n"
  "   break.i 0x100000 ;;";

static void *smp_thread(void *arg) {
  machine *m = arg;
  ia64_run(&m->cpu, UINT64_MAX);
  return NULL;
}

static void test_semaphores_are_atomic_between_two_vcpus(void **state) {
  (void)state;
  uint8_t *shared = aligned_alloc(IA64_PAGE_SIZE, DATA_SIZE);
  memset(shared, 0, DATA_SIZE);
  machine *m[2];
  for (int i = 0; i < 2; i++) {
    m[i] = machine_new(smp_src, shared);
    gr(m[i], 9, DATA, false);
    gr(m[i], 16, DATA + 64, false);
    gr(m[i], 17, DATA + 128, false);
    gr(m[i], 18, DATA + 192, false);
  }
  pthread_t t[2];
  for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&t[i], NULL, smp_thread, m[i]), 0);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(m[i]->cpu.intr.vector, IA64_VEC_BREAK);
    assert_int_equal(m[i]->cpu.intr.iim, END);
  }
  uint64_t v;
  memcpy(&v, shared, 8);
  assert_int_equal(v, 2 * SMP_N);
  memcpy(&v, shared + 64, 8);
  assert_int_equal(v, 2 * SMP_N);
  memcpy(&v, shared + 192, 8);
  assert_int_equal(v, 2 * SMP_N);
  for (int i = 0; i < 2; i++) machine_free(m[i]);
  free(shared);
}

/* ---- ia64run's exit status ------------------------------------------------------------------------------ */

/* Assemble and link a program, run it under the ia64run next to this test; its exit status. */
static int ia64run_status(const char *body) {
  char run[512], dir[] = "/tmp/hpvm_memr_XXXXXX", src[1024], cmd[2048];
  if (!ia64t_ia64run_path(run, sizeof run)) return -1;
  assert_non_null(mkdtemp(dir));
  snprintf(src, sizeof src, "\t.global _start\n_start:\n%s", body);
  snprintf(cmd, sizeof cmd, "%s/a", dir);
  assert_int_equal(ia64t_link_program(src, cmd), 0);
  snprintf(cmd, sizeof cmd, "%s %s/a 2>/dev/null", run, dir);
  int st = system(cmd);
  assert_int_equal(ia64t_sh("rm -rf %s", dir), 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_ia64run_reports_memory_faults_as_signals(void **state) {
  (void)state;
  int st = ia64run_status("movl r9 = 0x6000000000000001 ;;\n ld8.s r8 = [r9] ;;\n ld8 r8 = [r0] ;;");
  if (st < 0) skip();
  assert_int_equal(st, 128 + SIGSEGV);
  assert_int_equal(ia64run_status("mov r9 = r12 ;;\n adds r9 = 1, r9 ;;\n ld8 r8 = [r9] ;;"), 128 + SIGBUS);
  assert_int_equal(ia64run_status("mov r9 = r12 ;;\n adds r9 = 2, r9 ;;\n st4 [r9] = r0 ;;"), 128 + SIGBUS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_unaligned_load_and_store_raise_unaligned_reference),
    cmocka_unit_test(test_semaphores_are_unaligned_and_need_both_rights),
    cmocka_unit_test(test_nat_address_or_value_is_nat_consumption),
    cmocka_unit_test(test_unmapped_access_raises_data_tlb_with_ifa),
    cmocka_unit_test(test_base_update_onto_itself_or_r0_is_illegal_operation),
    cmocka_unit_test(test_speculative_load_defers_as_psr_and_dcr_say),
    cmocka_unit_test(test_os_handler_defers_with_psr_ed),
    cmocka_unit_test(test_io_pages_take_plain_accesses_only),
    cmocka_unit_test(test_chk_s_fr_branches_on_natval),
    cmocka_unit_test(test_chk_a_fr_asks_the_alat_and_f0_f1_always_fail),
    cmocka_unit_test(test_fc_drops_code_changed_behind_the_tlb),
    cmocka_unit_test(test_lfetch_faults_only_in_its_fault_form),
    cmocka_unit_test(test_mov_m_ar_checks_unit_privilege_and_nat),
    cmocka_unit_test(test_alat_store_overlap_and_capacity),
    cmocka_unit_test(test_semaphores_are_atomic_between_two_vcpus),
    cmocka_unit_test(test_ia64run_reports_memory_faults_as_signals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
