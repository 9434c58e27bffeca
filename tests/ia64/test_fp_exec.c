/* test_fp_exec.c — the floating-point family executed on an ia64_cpu driven directly, for
 * what a self-checking program cannot see: the Floating-point Exception faults (target and
 * FPSR untouched) and traps (result written, then the trap, resuming after the instruction)
 * with their ISR.code bits, the parallel forms' low-half bits, Register NaT Consumption by
 * FP stores, the Disabled FP-Register fault under PSR.dfl/dfh, the Illegal Operations (f0/f1
 * targets, ldfp of two registers of one parity, fcmp/fclass with p1 == p2), PSR.mfl/mfh,
 * fsetc's reserved fields, unaligned and uncacheable FP accesses, speculative deferral and
 * PSR.ed, and the ALAT entries of advanced FP loads.
 *
 * Snippets are assembled with ia64-linux-gnu-as and run at CODE; they end with break.i
 * 0x100000. DATA is read/write memory, IO an uncacheable page, the rest unmapped. Expected
 * values are worked by hand from the SDM. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fp82.h"
#include "harness.h"

#define CODE UINT64_C(0x4000000000000000)
#define DATA UINT64_C(0x6000000000000000)
#define IO UINT64_C(0x8000000000000000)
#define CODE_SIZE (64 * 1024)
#define DATA_SIZE (64 * 1024)
#define END 0x100000

/* The Linux default FPSR: every trap disabled, sf0 extended/nearest, sf1 wre, sf1-3 td. */
#define FPSR_DEFAULT UINT64_C(0x0009804c0270033f)
#define TRAP_V 1
#define TRAP_D 2
#define TRAP_Z 4
#define TRAP_O 8
#define TRAP_U 16
#define TRAP_I 32
#define FLAGS0(f) ((uint64_t)(f) << 13)

/* ---- A machine ---------------------------------------------------------------------------------- */

/* The IO page's reads give this; its recorder counts the accesses and their sizes. */
#define IO_VALUE 0x1122334455667788ull

typedef ia64t_machine machine;

static machine *machine_new(const char *src) {
  machine *m = ia64t_machine_asm(CODE, CODE_SIZE, src, NULL);
  ia64t_map(m, DATA, DATA_SIZE, IA64_ACC_R | IA64_ACC_W, NULL);
  m->io_page = IO;
  m->io_read_value = IO_VALUE;
  return m;
}

static void machine_free(machine *m) { ia64t_machine_free(m); }

static bool run(machine *m) { return ia64t_run(m, 1000000) == IA64_VEC_BREAK && m->cpu.intr.iim == END; }

static void expect_end(machine *m) {
  if (!run(m))
    fail_msg("stopped at %#" PRIx64 " slot %u: vector %#x isr %#" PRIx64, m->cpu.intr.iip, m->cpu.intr.ri,
             m->cpu.intr.vector, m->cpu.intr.isr);
}

/* An interruption that is not the end: its vector and its ISR.code exactly. */
static void expect_intr(machine *m, int vector, unsigned code) {
  assert_false(run(m));
  if (m->cpu.intr.vector != vector) fail_msg("vector %#x, want %#x", m->cpu.intr.vector, vector);
  if (ISR_CODE(m->cpu.intr.isr) != code)
    fail_msg("ISR.code %#" PRIx64 ", want %#x", ISR_CODE(m->cpu.intr.isr), code);
}

static void fr(machine *m, unsigned f, unsigned sign, uint32_t exp, uint64_t sig) {
  ia64_fr_write(&m->cpu, f, fp82_make(sign, exp, sig));
}
static ia64_fr frv(machine *m, unsigned f) { return ia64_fr_read(&m->cpu, f); }
static void gr(machine *m, unsigned r, uint64_t v, bool nat) { ia64_gr_write(&m->cpu, r, v, nat); }
static uint64_t rd(machine *m, unsigned r) { return ia64_gr_read(&m->cpu, r, NULL); }
static bool same(ia64_fr a, unsigned sign, uint32_t exp, uint64_t sig) {
  return a.sign == sign && a.exp == exp && a.sig == sig;
}

#define ONE 0x8000000000000000ull
#define SNAN_SIG 0x8000000000000001ull

/* ---- Faults ------------------------------------------------------------------------------------- */

static void test_enabled_invalid_is_a_fault_leaving_target_and_fpsr_alone(void **state) {
  (void)state;
  machine *m = machine_new("nop.m 0\n fma.s0 f10 = f11, f12, f13\n nop.i 0 ;;\n break.i 0x100000 ;;");
  uint64_t fpsr = FPSR_DEFAULT & ~(uint64_t)TRAP_V;
  m->cpu.ar[IA64_AR_FPSR] = fpsr;
  fr(m, 10, 0, 0x1234, 0x5678);
  fr(m, 11, 0, FP82_EXP_MAX, SNAN_SIG);              /* a signaling NaN */
  fr(m, 12, 0, FP82_BIAS, ONE);
  fr(m, 13, 0, FP82_BIAS, ONE);
  expect_intr(m, IA64_VEC_FP_FAULT, 1);              /* v */
  assert_false(m->cpu.intr.trap);
  assert_int_equal(m->cpu.intr.iip, CODE);
  assert_int_equal(m->cpu.intr.ri, 1);
  assert_int_equal(m->cpu.intr.isr >> 41 & 3, 1);    /* ISR.ei */
  assert_true(same(frv(m, 10), 0, 0x1234, 0x5678));
  assert_int_equal(m->cpu.ar[IA64_AR_FPSR], fpsr);
  assert_int_equal(m->cpu.psr & (P_MFL | P_MFH), 0);
  machine_free(m);

  /* Disabled: the QNaN, the flag, no interruption. */
  m = machine_new("fma.s0 f10 = f11, f12, f13 ;;\n break.i 0x100000 ;;");
  fr(m, 11, 0, FP82_EXP_MAX, SNAN_SIG);
  fr(m, 12, 0, FP82_BIAS, ONE);
  fr(m, 13, 0, FP82_BIAS, ONE);
  expect_end(m);
  assert_true(same(frv(m, 10), 0, FP82_EXP_MAX, 0xc000000000000001ull));
  assert_int_equal(m->cpu.ar[IA64_AR_FPSR], FPSR_DEFAULT | FLAGS0(TRAP_V));
  machine_free(m);
}

static void test_denormal_and_zero_divide_faults_have_their_isr_bits(void **state) {
  (void)state;
  machine *m = machine_new("fmpy.s1 f10 = f11, f12 ;;\n break.i 0x100000 ;;");
  /* sf1: td clear, so FPSR.traps applies; D enabled */
  m->cpu.ar[IA64_AR_FPSR] = (FPSR_DEFAULT & ~(uint64_t)TRAP_D) & ~(0x40ull << 19);
  fr(m, 11, 0, FP82_BIAS, 0x1234);                   /* unnormal */
  fr(m, 12, 0, FP82_BIAS, ONE);
  expect_intr(m, IA64_VEC_FP_FAULT, 2);              /* d */
  machine_free(m);

  m = machine_new("frcpa.s0 f10, p6 = f11, f0 ;;\n break.i 0x100000 ;;");
  m->cpu.ar[IA64_AR_FPSR] = FPSR_DEFAULT & ~(uint64_t)TRAP_Z;
  fr(m, 11, 0, FP82_BIAS, ONE);
  m->cpu.pr |= 1ull << 6;
  expect_intr(m, IA64_VEC_FP_FAULT, 4);              /* z */
  assert_true(m->cpu.pr >> 6 & 1);                   /* p2 untouched by the fault */
  machine_free(m);

  /* A compare's fault: the predicates stay. */
  m = machine_new("fcmp.lt.s0 p6, p7 = f11, f12 ;;\n break.i 0x100000 ;;");
  m->cpu.ar[IA64_AR_FPSR] = FPSR_DEFAULT & ~(uint64_t)TRAP_V;
  fr(m, 11, 0, FP82_EXP_MAX, 0xc000000000000000ull);  /* a quiet NaN: lt signals */
  fr(m, 12, 0, FP82_BIAS, ONE);
  m->cpu.pr |= 3ull << 6;
  expect_intr(m, IA64_VEC_FP_FAULT, 1);
  assert_int_equal(m->cpu.pr >> 6 & 3, 3);
  machine_free(m);
}

static void test_parallel_fault_of_the_low_half_uses_the_high_code_bits(void **state) {
  (void)state;
  machine *m = machine_new("fpma.s0 f10 = f11, f12, f13 ;;\n break.i 0x100000 ;;");
  m->cpu.ar[IA64_AR_FPSR] = FPSR_DEFAULT & ~(uint64_t)TRAP_V;
  fr(m, 11, 0, FP82_EXP_INT, 0x3f800000ull << 32 | 0x7f800001ull);   /* 1.0 | SNaN */
  fr(m, 12, 0, FP82_EXP_INT, 0x3f8000003f800000ull);
  fr(m, 13, 0, FP82_EXP_INT, 0);
  expect_intr(m, IA64_VEC_FP_FAULT, 1 << 4);
  machine_free(m);
}

/* ---- Traps -------------------------------------------------------------------------------------- */

static void test_overflow_trap_delivers_the_wrapped_result_then_traps(void **state) {
  (void)state;
  machine *m = machine_new("nop.m 0\n fmpy.d.s0 f10 = f11, f11\n nop.i 0 ;;\n break.i 0x100000 ;;");
  m->cpu.ar[IA64_AR_FPSR] = FPSR_DEFAULT & ~(uint64_t)TRAP_O;
  fr(m, 11, 0, FP82_BIAS + 600, 0xc000000000000000ull);             /* 1.5 * 2^600 */
  expect_intr(m, IA64_VEC_FP_TRAP, 1 << 11);                          /* o, exact, no fpa */
  assert_true(m->cpu.intr.trap);
  assert_int_equal(m->cpu.intr.isr >> 41 & 3, 1);                     /* the trapping slot */
  assert_int_equal(m->cpu.ip, CODE);                                  /* resumes at slot 2 */
  assert_int_equal(m->cpu.ri, 2);
  /* 2.25 * 2^1200 rounded to double with an unbounded exponent: 1.125 * 2^1201 */
  assert_true(same(frv(m, 10), 0, FP82_BIAS + 1201, 0x9000000000000000ull));
  assert_int_equal(m->cpu.ar[IA64_AR_FPSR], (FPSR_DEFAULT & ~(uint64_t)TRAP_O) | FLAGS0(TRAP_O));
  assert_true(m->cpu.psr & P_MFL);
  machine_free(m);
}

static void test_inexact_and_underflow_traps_report_fpa(void **state) {
  (void)state;
  /* 1 + 2^-40 rounded up to single in round-up mode: inexact, fpa */
  machine *m = machine_new("fadd.s.s0 f10 = f11, f12 ;;\n break.i 0x100000 ;;");
  m->cpu.ar[IA64_AR_FPSR] = (FPSR_DEFAULT & ~(uint64_t)TRAP_I) | 2ull << (6 + 4);
  fr(m, 11, 0, FP82_BIAS, ONE);
  fr(m, 12, 0, FP82_BIAS - 40, ONE);
  expect_intr(m, IA64_VEC_FP_TRAP, 1 << 13 | 1 << 14);
  assert_true(same(frv(m, 10), 0, FP82_BIAS, ONE | 1ull << 40));
  machine_free(m);

  /* a tiny single result with underflow traps enabled: the unbounded result, wrapped */
  m = machine_new("fmpy.s.s0 f10 = f11, f11 ;;\n break.i 0x100000 ;;");
  m->cpu.ar[IA64_AR_FPSR] = FPSR_DEFAULT & ~(uint64_t)TRAP_U;
  fr(m, 11, 0, FP82_BIAS - 100, ONE);
  expect_intr(m, IA64_VEC_FP_TRAP, 1 << 12);
  assert_true(same(frv(m, 10), 0, FP82_BIAS - 200, ONE));
  assert_int_equal(m->cpu.ar[IA64_AR_FPSR] >> 13 & 0x3f, TRAP_U);
  machine_free(m);
}

static void test_parallel_trap_of_the_low_half(void **state) {
  (void)state;
  machine *m = machine_new("fpmpy.s0 f10 = f11, f12 ;;\n break.i 0x100000 ;;");
  m->cpu.ar[IA64_AR_FPSR] = FPSR_DEFAULT & ~(uint64_t)TRAP_O;
  fr(m, 11, 0, FP82_EXP_INT, 0x3f8000007f000000ull);   /* 1.0 | 2^127 */
  fr(m, 12, 0, FP82_EXP_INT, 0x3f8000007f000000ull);
  expect_intr(m, IA64_VEC_FP_TRAP, 1 << 7);             /* o of the low half */
  machine_free(m);
}

/* ---- NaT consumption, disabled registers, illegal operations ------------------------------------- */

static void test_storing_natval_is_a_nat_consumption_except_by_spill(void **state) {
  (void)state;
  static const char *const stores[] = {"stfs [r9] = f10", "stfd [r9] = f10", "stfe [r9] = f10", "stf8 [r9] = f10"};
  for (unsigned i = 0; i < 4; i++) {
    char src[128];
    snprintf(src, sizeof src, "%s ;;\n break.i 0x100000 ;;", stores[i]);
    machine *m = machine_new(src);
    ia64_fr_write(&m->cpu, 10, fp82_natval());
    gr(m, 9, DATA, false);
    expect_intr(m, IA64_VEC_NAT_CONSUMPTION, 0x10);
    assert_true(m->cpu.intr.isr & IA64_ISR_W);
    machine_free(m);
  }
  machine *m = machine_new("stf.spill [r9] = f10 ;;\n ldf.fill f11 = [r9] ;;\n break.i 0x100000 ;;");
  ia64_fr_write(&m->cpu, 10, fp82_natval());
  gr(m, 9, DATA, false);
  expect_end(m);
  assert_true(fp82_is_natval(frv(m, 11)));
  machine_free(m);
  /* a NaT address register */
  m = machine_new("ldfd f10 = [r9] ;;\n break.i 0x100000 ;;");
  gr(m, 9, DATA, true);
  expect_intr(m, IA64_VEC_NAT_CONSUMPTION, 0x10);
  assert_true(m->cpu.intr.isr & IA64_ISR_R);
  machine_free(m);
}

static void test_disabled_fp_registers_fault_by_half(void **state) {
  (void)state;
  machine *m = machine_new("fma.s0 f40 = f2, f3, f4 ;;\n break.i 0x100000 ;;");
  m->cpu.psr |= P_DFH;
  expect_intr(m, IA64_VEC_DISABLED_FP, 2);
  machine_free(m);
  m = machine_new("fma.s0 f10 = f2, f3, f4 ;;\n break.i 0x100000 ;;");
  m->cpu.psr |= P_DFH;
  expect_end(m);                                       /* only f2-f31: dfh does not apply */
  m->cpu.psr |= P_DFL;
  m->cpu.ip = CODE, m->cpu.ri = 0;
  expect_intr(m, IA64_VEC_DISABLED_FP, 1);
  machine_free(m);
  m = machine_new("fmpy.s0 f40 = f1, f1 ;;\n break.i 0x100000 ;;");
  m->cpu.psr |= P_DFL;                                /* f0 and f1 are never disabled */
  expect_end(m);
  machine_free(m);
  m = machine_new("fmpy.s0 f10 = f0, f1 ;;\n break.i 0x100000 ;;");
  m->cpu.psr |= P_DFH;
  expect_end(m);
  machine_free(m);
  m = machine_new("ldfd f40 = [r9] ;;\n break.i 0x100000 ;;");
  m->cpu.psr |= P_DFH | P_DFL;
  gr(m, 9, DATA, false);
  expect_intr(m, IA64_VEC_DISABLED_FP, 2);
  assert_true(m->cpu.intr.isr & IA64_ISR_R);
  machine_free(m);
  m = machine_new("getf.sig r8 = f33 ;;\n break.i 0x100000 ;;");
  m->cpu.psr |= P_DFH;
  expect_intr(m, IA64_VEC_DISABLED_FP, 2);
  machine_free(m);
}

static void test_illegal_operations(void **state) {
  (void)state;
  static const char *const illegal[] = {
    "fmpy.s0 f1 = f2, f3",                  /* f0/f1 targets */
    "fma.s0 f0 = f2, f3, f4",
    "ldfd f1 = [r9]",
    "setf.sig f0 = r9",
    "ldfpd f10, f12 = [r9]",                /* two even registers */
    "fcmp.eq.s0 p6, p6 = f2, f3",           /* p1 == p2 */
    "fclass.m p7, p7 = f2, @zero",
    "frcpa.s0 f1, p6 = f2, f3",
  };
  for (unsigned i = 0; i < sizeof illegal / sizeof illegal[0]; i++) {
    char src[128];
    snprintf(src, sizeof src, "%s ;;\n break.i 0x100000 ;;", illegal[i]);
    machine *m = machine_new(src);
    gr(m, 9, DATA, false);
    expect_intr(m, IA64_VEC_GENERAL_EXCEPTION, IA64_GE_ILLEGAL_OP);
    machine_free(m);
  }
  /* rotated: ldfp checks the physical registers */
  machine *m = machine_new("ldfp8 f32, f33 = [r9] ;;\n break.i 0x100000 ;;");
  gr(m, 9, DATA, false);
  expect_end(m);
  machine_free(m);
}

static void test_writes_set_mfl_and_mfh(void **state) {
  (void)state;
  machine *m = machine_new("fadd.s0 f10 = f1, f1 ;;\n break.i 0x100000 ;;");
  expect_end(m);
  assert_int_equal(m->cpu.psr & (P_MFL | P_MFH), P_MFL);
  machine_free(m);
  m = machine_new("ldfd f64 = [r9] ;;\n break.i 0x100000 ;;");
  gr(m, 9, DATA, false);
  expect_end(m);
  assert_int_equal(m->cpu.psr & (P_MFL | P_MFH), P_MFH);
  machine_free(m);
  m = machine_new("fcmp.eq.s0 p6, p7 = f10, f40 ;;\n getf.sig r8 = f40 ;;\n stfd [r9] = f40 ;;\n break.i 0x100000 ;;");
  gr(m, 9, DATA, false);
  expect_end(m);                                        /* reading changes neither */
  assert_int_equal(m->cpu.psr & (P_MFL | P_MFH), 0);
  machine_free(m);
}

static void test_fsetc_refuses_reserved_controls(void **state) {
  (void)state;
  machine *m = machine_new("fsetc.s0 0x7f, 0x40 ;;\n break.i 0x100000 ;;");   /* sf0.td */
  expect_intr(m, IA64_VEC_GENERAL_EXCEPTION, IA64_GE_RESERVED_REG);
  assert_int_equal(m->cpu.ar[IA64_AR_FPSR], FPSR_DEFAULT);
  machine_free(m);
  m = machine_new("fsetc.s2 0x73, 0x04 ;;\n break.i 0x100000 ;;");             /* pc = 01 */
  expect_intr(m, IA64_VEC_GENERAL_EXCEPTION, IA64_GE_RESERVED_REG);
  machine_free(m);
  m = machine_new("fsetc.s3 0x73, 0x48 ;;\n break.i 0x100000 ;;");             /* pc = 10, td */
  expect_end(m);
  assert_int_equal(m->cpu.ar[IA64_AR_FPSR] >> 45 & 0x7f, 0x48);
  machine_free(m);
}

/* ---- Memory ------------------------------------------------------------------------------------- */

static void test_fp_accesses_need_natural_alignment(void **state) {
  (void)state;
  static const struct { const char *src; uint64_t off; uint64_t isr; } cases[] = {
    {"ldfe f10 = [r9]", 8, IA64_ISR_R}, {"stfe [r9] = f10", 8, IA64_ISR_W}, {"ldfd f10 = [r9]", 4, IA64_ISR_R},
    {"ldfs f10 = [r9]", 2, IA64_ISR_R}, {"ldf.fill f10 = [r9]", 8, IA64_ISR_R}, {"ldfpd f10, f11 = [r9]", 8, IA64_ISR_R},
    {"ldfps f10, f11 = [r9]", 4, IA64_ISR_R}, {"stf.spill [r9] = f10", 8, IA64_ISR_W},
  };
  for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char src[128];
    snprintf(src, sizeof src, "%s ;;\n break.i 0x100000 ;;", cases[i].src);
    machine *m = machine_new(src);
    gr(m, 9, DATA + cases[i].off, false);
    assert_false(run(m));
    assert_int_equal(m->cpu.intr.vector, IA64_VEC_UNALIGNED);
    assert_true(m->cpu.intr.isr & cases[i].isr);
    assert_int_equal(m->cpu.intr.ifa, DATA + cases[i].off);
    machine_free(m);
  }
  /* ldfe/stfe move 10 bytes in their 16-byte slot */
  machine *m = machine_new("ldfe f10 = [r9] ;;\n stfe [r10] = f10 ;;\n break.i 0x100000 ;;");
  for (int k = 0; k < 16; k++) m->data[k] = (uint8_t)(0xa0 + k), m->data[32 + k] = 0xee;
  gr(m, 9, DATA, false);
  gr(m, 10, DATA + 32, false);
  expect_end(m);
  assert_memory_equal(m->data + 32, m->data, 10);
  assert_int_equal(m->data[32 + 10], 0xee);
  machine_free(m);
}

static void test_uncacheable_fp_accesses_go_through_io_in_pieces(void **state) {
  (void)state;
  machine *m = machine_new("ldfe f10 = [r9] ;;\n stf.spill [r9] = f10 ;;\n ldfs f11 = [r9] ;;\n break.i 0x100000 ;;");
  gr(m, 9, IO, false);
  expect_end(m);
  assert_int_equal(m->io_count, 5);
  assert_int_equal(m->io_sizes, 82884);                 /* 8+2, 8+8, 4 */
  assert_true(same(frv(m, 10), 0, 0x7788 - 16383 + FP82_BIAS, 0x1122334455667788ull));  /* se from the 2-byte read */
  machine_free(m);
  /* speculative and advanced loads do not touch uncacheable memory */
  m = machine_new("ldfd.s f10 = [r9] ;;\n ldfd.a f11 = [r9] ;;\n break.i 0x100000 ;;");
  gr(m, 9, IO, false);
  expect_end(m);
  assert_int_equal(m->io_count, 0);
  assert_true(fp82_is_natval(frv(m, 10)));
  machine_free(m);
}

static void test_speculative_loads_defer_by_policy_and_psr_ed(void **state) {
  (void)state;
  /* PSR.ic = 0: every fault deferred */
  machine *m = machine_new("ldfd.s f10 = [r9] ;;\n break.i 0x100000 ;;");
  gr(m, 9, 0x1000, false);
  expect_end(m);
  assert_true(fp82_is_natval(frv(m, 10)));
  machine_free(m);
  /* PSR.ic = 1, DCR.dm clear: the TLB miss is taken, marked ISR.sp/ed */
  m = machine_new("ldfd.s f10 = [r9] ;;\n break.i 0x100000 ;;");
  m->cpu.psr |= P_IC | P_IT;
  gr(m, 9, 0x1000, false);
  assert_false(run(m));
  assert_int_equal(m->cpu.intr.vector, IA64_VEC_DATA_TLB);
  assert_true(m->cpu.intr.isr & IA64_ISR_SP);
  assert_true(m->cpu.intr.isr & IA64_ISR_ED);
  /* the OS defers: PSR.ed for the restarted load, which consumes it */
  m->cpu.psr |= P_ED;
  expect_end(m);
  assert_true(fp82_is_natval(frv(m, 10)));
  assert_int_equal(m->cpu.psr & P_ED, 0);
  machine_free(m);
  /* a NaT base: deferred, no access */
  m = machine_new("ldfps.s f10, f11 = [r9], 8 ;;\n break.i 0x100000 ;;");
  gr(m, 9, DATA, true);
  expect_end(m);
  assert_true(fp82_is_natval(frv(m, 10)) && fp82_is_natval(frv(m, 11)));
  assert_int_equal(rd(m, 9), DATA + 8);
  machine_free(m);
}

static bool alat_has(machine *m, unsigned f) {
  for (unsigned i = 0; i < IA64_ALAT_SIZE; i++)
    if (m->cpu.alat[i].valid && m->cpu.alat[i].is_fp && m->cpu.alat[i].reg == m->cpu.frmap[f]) return true;
  return false;
}

static void test_advanced_fp_loads_keep_alat_entries(void **state) {
  (void)state;
  machine *m = machine_new("ldfd.a f40 = [r9] ;;\n break.i 0x100000 ;;\n"
                           "ldfs.c.clr f40 = [r9] ;;\n break.i 0x100000 ;;\n"
                           "ldfp8.a f42, f43 = [r9] ;;\n st4 [r10] = r0 ;;\n break.i 0x100000 ;;");
  gr(m, 9, DATA + 16, false);
  gr(m, 10, DATA + 28, false);
  expect_end(m);
  assert_true(alat_has(m, 40));
  assert_false(alat_has(m, 41));
  m->cpu.ip += 16, m->cpu.ri = 0;
  expect_end(m);
  assert_false(alat_has(m, 40));                        /* .clr on a hit removes it */
  m->cpu.ip += 16, m->cpu.ri = 0;
  expect_end(m);
  assert_false(alat_has(m, 42));                        /* the store hit the pair's bytes */
  machine_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_enabled_invalid_is_a_fault_leaving_target_and_fpsr_alone),
    cmocka_unit_test(test_denormal_and_zero_divide_faults_have_their_isr_bits),
    cmocka_unit_test(test_parallel_fault_of_the_low_half_uses_the_high_code_bits),
    cmocka_unit_test(test_overflow_trap_delivers_the_wrapped_result_then_traps),
    cmocka_unit_test(test_inexact_and_underflow_traps_report_fpa),
    cmocka_unit_test(test_parallel_trap_of_the_low_half),
    cmocka_unit_test(test_storing_natval_is_a_nat_consumption_except_by_spill),
    cmocka_unit_test(test_disabled_fp_registers_fault_by_half),
    cmocka_unit_test(test_illegal_operations),
    cmocka_unit_test(test_writes_set_mfl_and_mfh),
    cmocka_unit_test(test_fsetc_refuses_reserved_controls),
    cmocka_unit_test(test_fp_accesses_need_natural_alignment),
    cmocka_unit_test(test_uncacheable_fp_accesses_go_through_io_in_pieces),
    cmocka_unit_test(test_speculative_loads_defer_by_policy_and_psr_ed),
    cmocka_unit_test(test_advanced_fp_loads_keep_alat_entries),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
