/* test_br_exec.c — branches and the register stack engine on an ia64_cpu driven directly,
 * for what a user-mode program cannot show: the faults (alloc's Illegal Operation cases, loop
 * branches outside slot 2, loadrs's, privileged B8 forms at cpl 3, the AR write checks), the
 * RSE's state after calls and returns (ar.pfs, ar.bsp, EC, privilege), a spill that faults
 * and restarts, loadrs, cover with cr.ifs, rfi and bsw at cpl 0.
 *
 * Programs are assembled with ia64-linux-gnu-as, linked at 0x4000000000000000 and copied
 * into a flat memory; the ones that need encodings the assembler refuses (alloc with sof >
 * 96, a loop branch in slot 0) are packed here bit by bit. "break.i N" with N < 0x100 is a
 * point where the test looks at or changes the state and resumes. Expected values are worked
 * by hand from the SDM's pseudo-code. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define BASE UINT64_C(0x4000000000000000)
#define MEM_SIZE (4u << 20)
#define RBS (BASE + 0x200000)          /* the backing store: 64-slot aligned */
#define HOLE (BASE + MEM_SIZE)         /* nothing is mapped from here on */

/* ---- A CPU over one flat region of memory ------------------------------------------------- */

typedef ia64t_machine machine;

static machine *machine_new(const void *code, size_t len) {
  assert_true(len < RBS - BASE);
  machine *m = ia64t_machine_new(BASE, MEM_SIZE, code, len);
  assert_int_equal(ia64_ar_write(&m->cpu, IA64_AR_BSPSTORE, RBS), 0);   /* rsc.mode is 0 */
  return m;
}

static void machine_free(machine *m) { ia64t_machine_free(m); }

static uint64_t mem64(machine *m, uint64_t va) {
  uint64_t v;
  memcpy(&v, m->mem + (va - BASE), 8);
  return v;
}
static void set_mem64(machine *m, uint64_t va, uint64_t v) { memcpy(m->mem + (va - BASE), &v, 8); }

/* Run to the next interruption; return its vector. */
static int run(machine *m) { return ia64t_run(m, 10000000); }

/* Run to the next break.i; return its immediate and step past it. */
static uint64_t run_to_break(machine *m) {
  int v = run(m);
  if (v != IA64_VEC_BREAK)
    fail_msg("vector 0x%x isr 0x%" PRIx64 " at 0x%" PRIx64 " slot %u", v, m->cpu.intr.isr, m->cpu.intr.iip, m->cpu.intr.ri);
  ia64t_skip_slot(&m->cpu);
  return m->cpu.intr.iim;
}

/* The next interruption must be this General Exception (code) in this slot (-1: any). */
static void expect_ge(machine *m, uint64_t code, int slot) {
  assert_int_equal(run(m), IA64_VEC_GENERAL_EXCEPTION);
  assert_int_equal(m->cpu.intr.isr & 0xf0, code);
  if (slot >= 0) assert_int_equal(m->cpu.intr.ri, slot);
  assert_int_equal(m->cpu.intr.isr >> 41 & 3, m->cpu.intr.ri);   /* ISR.ei */
}

/* ---- Assembling -------------------------------------------------------------------------------- */

static machine *machine_asm(const char *src) {
  size_t len;
  uint8_t *code = ia64t_assemble(src, &(ia64t_asm){.base = BASE}, &len);
  if (!code) fail_msg("cannot assemble:\n%s", src);
  machine *m = machine_new(code, len);
  free(code);
  return m;
}

/* ---- Packing bundles by hand --------------------------------------------------------------------- */

#define TMPL_MII_S 0x01                /* M I I ;; */
#define TMPL_BBB_S 0x17                /* B B B ;; */
#define NOP_MI ENC(32, 27, 1)          /* nop.m 0 / nop.i 0 */
#define NOP_B (ENC(40, 37, 2))         /* nop.b 0 */
#define BREAK_I(n) ENC(25, 6, n)       /* break.i n */
#define BREAK_B(n) ENC(25, 6, n)       /* break.b n */

static uint64_t alloc_slot(unsigned r1, unsigned sof, unsigned sol, unsigned sor8, unsigned qp) {
  return ENC(40, 37, 1) | ENC(35, 33, 6) | ENC(12, 6, r1) | ENC(19, 13, sof) | ENC(26, 20, sol) |
         ENC(30, 27, sor8) | ENC(5, 0, qp);
}

/* One bundle: alloc, then break.i 1 (reached only when alloc did not fault). */
static machine *run_alloc(unsigned r1, unsigned sof, unsigned sol, unsigned sor8, unsigned qp) {
  uint8_t b[16];
  ia64t_bundle(b, TMPL_MII_S, alloc_slot(r1, sof, sol, sor8, qp), NOP_MI, BREAK_I(1));
  return machine_new(b, sizeof b);
}

/* ---- alloc ---------------------------------------------------------------------------------------- */

static void test_alloc_sets_frame_and_returns_pfs(void **state) {
  (void)state;
  machine *m = run_alloc(34, 9, 7, 1, 0);        /* alloc r34=ar.pfs,9,7,8 */
  m->cpu.ar[IA64_AR_PFS] = 0x123456789;
  assert_int_equal(run_to_break(m), 1);
  assert_int_equal(m->cpu.sof, 9);
  assert_int_equal(m->cpu.sol, 7);
  assert_int_equal(m->cpu.sor, 8);
  assert_int_equal(ia64_gr_read(&m->cpu, 34, NULL), 0x123456789);
  assert_int_equal(ia64_cfm(&m->cpu), 9 | 7 << 7 | 1 << 14);
  machine_free(m);
}

static void test_alloc_illegal_operation_cases(void **state) {
  (void)state;
  static const unsigned bad[][5] = {
    {32, 97, 0, 0, 0},   /* sof > 96 */
    {32, 8, 9, 0, 0},    /* sol > sof */
    {32, 8, 8, 2, 0},    /* sor (16) > sof */
    {40, 8, 8, 0, 0},    /* r1 outside the new frame */
    {0, 8, 8, 0, 0},     /* r1 = r0 */
    {32, 8, 8, 0, 1},    /* predicated (p1 is 0: it must fault all the same) */
    {32, 8, 8, 0, 2},
  };
  for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    machine *m = run_alloc(bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4]);
    expect_ge(m, IA64_GE_ILLEGAL_OP, 0);
    assert_int_equal(m->cpu.sof, 0);            /* nothing changed */
    machine_free(m);
  }
  /* r1 = r127 with sof = 96 and sor = 96 are the legal edges */
  machine *m = run_alloc(127, 96, 96, 12, 0);
  assert_int_equal(run_to_break(m), 1);
  assert_int_equal(m->cpu.sor, 96);
  machine_free(m);
}

static void test_alloc_may_change_sor_only_while_rrbs_are_zero(void **state) {
  (void)state;
  machine *m = run_alloc(32, 16, 16, 0, 0);      /* sor 8 -> 0 */
  ia64_set_cfm(&m->cpu, 16 | 16 << 7 | 1 << 14 | 3ull << 18); /* sor 8, rrb.gr 3 */
  expect_ge(m, IA64_GE_ILLEGAL_OP, 0);
  machine_free(m);
  m = run_alloc(32, 16, 16, 1, 0);               /* the same sor: fine */
  ia64_set_cfm(&m->cpu, 16 | 16 << 7 | 1 << 14 | 3ull << 32);  /* rrb.pr 3 */
  assert_int_equal(run_to_break(m), 1);
  assert_int_equal(m->cpu.rrb_pr, 3);
  machine_free(m);
}

/* The slots after an alloc in its bundle see the new frame: r40 is outside a frame of 4. */
static void test_alloc_shrinking_the_frame_applies_to_the_rest_of_its_bundle(void **state) {
  (void)state;
  machine *m = machine_asm("  alloc r2 = ar.pfs, 0, 20, 0, 0 ;;\n"
                           "  { .mmi\n  alloc r2 = ar.pfs, 0, 4, 0, 0 ;;\n  nop.m 0\n  mov r40 = 1 }\n"
                           "  ;;\n  break.i 1 ;;\n");
  expect_ge(m, IA64_GE_ILLEGAL_OP, 2);
  assert_int_equal(m->cpu.sof, 4);
  machine_free(m);
}

/* ---- Loop branches must be in slot 2 ------------------------------------------------------------- */

static void test_loop_branches_outside_slot_2_are_illegal(void **state) {
  (void)state;
  static const unsigned btypes[] = {2, 3, 5, 6, 7};   /* wexit wtop cloop cexit ctop */
  for (unsigned i = 0; i < 5; i++) {
    uint64_t br = ENC(40, 37, 4) | ENC(8, 6, btypes[i]) | ENC(32, 13, 1);   /* target: +16 */
    for (unsigned slot = 0; slot < 3; slot++) {
      uint8_t b[32];
      ia64t_bundle(b, TMPL_BBB_S, slot == 0 ? br : NOP_B, slot == 1 ? br : NOP_B, slot == 2 ? br : NOP_B);
      ia64t_bundle(b + 16, TMPL_BBB_S, BREAK_B(1), NOP_B, NOP_B);
      machine *m = machine_new(b, sizeof b);
      if (slot == 2) {
        assert_int_equal(run_to_break(m), 1);
      } else {
        expect_ge(m, IA64_GE_ILLEGAL_OP, (int)slot);
      }
      machine_free(m);
    }
  }
}

/* ---- Calls and returns ---------------------------------------------------------------------------- */

static const char call_src[] =
  "  alloc r40 = ar.pfs, 2, 3, 4, 0 ;;\n"     /* sof 9, sol 5 */
  "  break.i 1 ;;\n"
  "  br.call.sptk.many b1 = f ;;\n"
  "after:\n"
  "  break.i 3 ;;\n"
  "f:\n"
  "  break.i 2 ;;\n"
  "  alloc r41 = ar.pfs, 4, 6, 0, 0 ;;\n"
  "  mov ar.ec = 9 ;;\n"
  "  br.ret.sptk.many b1 ;;\n";

static void test_call_saves_the_frame_in_pfs_and_return_restores_it(void **state) {
  (void)state;
  machine *m = machine_asm(call_src);
  ia64_cpu *c = &m->cpu;
  assert_int_equal(run_to_break(m), 1);
  for (unsigned r = 32; r < 41; r++) ia64_gr_write(c, r, 0x1000 + r, r == 34);
  c->ar[IA64_AR_EC] = 7;
  c->psr = 2ull << 32;                              /* cpl 2 */
  uint64_t cfm = ia64_cfm(c), bsp = ia64_ar_read(c, IA64_AR_BSP);
  assert_int_equal(bsp, RBS);
  assert_int_equal(run_to_break(m), 2);
  assert_int_equal(c->ar[IA64_AR_PFS], cfm | 7ull << 52 | 2ull << 62);
  assert_int_equal(c->sof, 4);                      /* the outputs */
  assert_int_equal(c->sol, 0);
  assert_int_equal(ia64_ar_read(c, IA64_AR_BSP), RBS + 5 * 8);
  assert_int_equal(ia64_gr_read(c, 32, NULL), 0x1000 + 37);   /* out0 is in0 now */
  assert_int_equal(run_to_break(m), 3);
  assert_int_equal(ia64_cfm(c), cfm);
  assert_int_equal(c->ar[IA64_AR_EC], 7);           /* from pfs.pec, not the callee's 9 */
  assert_int_equal(ia64_ar_read(c, IA64_AR_BSP), RBS);
  for (unsigned r = 32; r < 41; r++) {
    bool nat;
    assert_int_equal(ia64_gr_read(c, r, &nat), 0x1000 + r);
    assert_int_equal(nat, r == 34);
  }
  machine_free(m);
}

static void test_return_lowers_privilege_but_never_raises_it(void **state) {
  (void)state;
  static const char src[] = "  movl r9 = back ;;\n  break.i 0 ;;\n  br.ret.sptk.many b0 ;;\n  break.i 2 ;;\nback:\n  break.i 1 ;;\n";
  for (unsigned cpl = 0; cpl < 4; cpl++)
    for (unsigned ppl = 0; ppl < 4; ppl++) {
      machine *m = machine_asm(src);
      assert_int_equal(run_to_break(m), 0);
      m->cpu.br[0] = ia64_gr_read(&m->cpu, 9, NULL);
      m->cpu.psr = (uint64_t)cpl << 32;
      m->cpu.ar[IA64_AR_PFS] = (uint64_t)ppl << 62;
      assert_int_equal(run_to_break(m), 1);
      assert_int_equal(ia64_field(m->cpu.psr, 33, 32), cpl > ppl ? cpl : ppl);
      machine_free(m);
    }
}

/* ---- The RSE: spills that fault, loadrs, cover ------------------------------------------------------ */

static const char spill_src[] =
  "  alloc r40 = ar.pfs, 0, 60, 1, 0 ;;\n"    /* sol 60 */
  "  br.call.sptk.many b0 = f ;;\n"
  "f:\n"
  "  break.i 1 ;;\n"
  "  alloc r33 = ar.pfs, 0, 80, 0, 0 ;;\n"     /* 60 dirty + 80 > 96: spills 44 */
  "  break.i 2 ;;\n";

static void test_a_spill_that_faults_can_be_restarted(void **state) {
  (void)state;
  machine *m = machine_asm(spill_src);
  ia64_cpu *c = &m->cpu;
  assert_int_equal(run_to_break(m), 1);
  assert_int_equal(c->ndirty, 60);
  /* The backing store runs into unmapped memory: from slot 54, 9 registers and the RNAT
   * collection (slot 63) fit below it. */
  uint64_t start = HOLE - 10 * 8;
  assert_int_equal(ia64_ar_write(c, IA64_AR_BSPSTORE, start), 0);
  assert_int_equal(ia64_ar_read(c, IA64_AR_BSP), ia64_rse_skip(start, 60));
  assert_int_equal(run(m), IA64_VEC_DATA_TLB);
  assert_int_equal(c->intr.ifa, HOLE);
  assert_true(c->intr.isr & IA64_ISR_W);
  assert_true(c->intr.isr & IA64_ISR_RS);           /* a mandatory RSE store */
  assert_int_equal(c->sof, 1);                       /* alloc did not happen */
  assert_int_equal(c->ndirty, 51);                  /* 9 made it */
  assert_int_equal(mem64(m, HOLE - 8), c->ar[IA64_AR_RNAT] & ~(1ull << 63));
  assert_int_equal(c->ar[IA64_AR_BSPSTORE], HOLE);
  assert_int_equal(ia64_ar_read(c, IA64_AR_BSP), ia64_rse_skip(start, 60));
  /* Move the rest of the backing store somewhere mapped and restart the alloc. */
  assert_int_equal(ia64_ar_write(c, IA64_AR_BSPSTORE, RBS), 0);
  assert_int_equal(run_to_break(m), 2);
  assert_int_equal(c->sof, 80);
  assert_int_equal(c->ndirty, 16);
  assert_int_equal(c->ar[IA64_AR_BSPSTORE], RBS + 35 * 8);   /* the other 35 of 44 */
  machine_free(m);
}

static const char loadrs_src[] =
  "  alloc r2 = ar.pfs, 0, 4, 0, 0 ;;\n"
  "  break.i 1 ;;\n"
  "  br.call.sptk.many b0 = f ;;\n"
  "  break.i 4 ;;\n"
  "f:\n"
  "  flushrs ;;\n"
  "  break.i 2 ;;\n"
  "  loadrs ;;\n"
  "  break.i 3 ;;\n"
  "  br.ret.sptk.many b0 ;;\n";

static void test_loadrs_reloads_the_registers_below_bsp(void **state) {
  (void)state;
  for (int zero = 0; zero < 2; zero++) {
    machine *m = machine_asm(loadrs_src);
    ia64_cpu *c = &m->cpu;
    assert_int_equal(run_to_break(m), 1);
    for (unsigned r = 32; r < 36; r++) ia64_gr_write(c, r, r, false);
    assert_int_equal(run_to_break(m), 2);
    assert_int_equal(c->ndirty, 0);
    for (unsigned i = 0; i < 4; i++) {
      assert_int_equal(mem64(m, RBS + 8 * i), 32 + i);
      set_mem64(m, RBS + 8 * i, 0x100 + i);
    }
    /* rsc.loadrs = 32 bytes: the 4 registers come back, dirty; 0: none does */
    c->ar[IA64_AR_RSC] = zero ? 0 : 32ull << 16;
    assert_int_equal(run_to_break(m), 3);
    assert_int_equal(c->ndirty, zero ? 0 : 4);
    assert_int_equal(c->ar[IA64_AR_BSPSTORE], zero ? RBS + 32 : RBS);
    for (unsigned i = 0; i < 4; i++) set_mem64(m, RBS + 8 * i, 0x200 + i);
    assert_int_equal(run_to_break(m), 4);
    /* loaded by loadrs (0x100..) or filled by the return (0x200..) */
    for (unsigned r = 32; r < 36; r++) assert_int_equal(ia64_gr_read(c, r, NULL), (zero ? 0x200 : 0x100) + r - 32);
    machine_free(m);
  }
}

static void test_big_endian_backing_store_with_rsc_be(void **state) {
  (void)state;
  machine *m = machine_asm(loadrs_src);
  ia64_cpu *c = &m->cpu;
  assert_int_equal(run_to_break(m), 1);
  for (unsigned r = 32; r < 36; r++) ia64_gr_write(c, r, 0x0102030405060700ull + r, false);
  c->ar[IA64_AR_RSC] = 16;                          /* be */
  assert_int_equal(run_to_break(m), 2);             /* flushed */
  assert_int_equal(m->mem[RBS - BASE], 0x01);
  assert_int_equal(m->mem[RBS - BASE + 7], 32);
  assert_int_equal(mem64(m, RBS + 8), __builtin_bswap64(0x0102030405060700ull + 33));
  c->ar[IA64_AR_RSC] = 16;                          /* loadrs 0: the return fills */
  assert_int_equal(run_to_break(m), 3);
  assert_int_equal(run_to_break(m), 4);
  for (unsigned r = 32; r < 36; r++) assert_int_equal(ia64_gr_read(c, r, NULL), 0x0102030405060700ull + r);
  machine_free(m);
}

/* Software may leave bspstore on a collection slot: the next spill writes ar.rnat there
 * first, and ar.bsp already counts that slot. */
static void test_spill_from_a_bspstore_on_a_collection_slot(void **state) {
  (void)state;
  machine *m = machine_asm(loadrs_src);
  ia64_cpu *c = &m->cpu;
  assert_int_equal(run_to_break(m), 1);
  for (unsigned r = 32; r < 36; r++) ia64_gr_write(c, r, r, r == 33);
  assert_int_equal(ia64_ar_write(c, IA64_AR_BSPSTORE, RBS + 63 * 8), 0);
  assert_int_equal(ia64_ar_write(c, IA64_AR_RNAT, 0x5a), 0);
  assert_int_equal(run_to_break(m), 2);             /* the call made 4 dirty, flushrs spilled them */
  assert_int_equal(mem64(m, RBS + 63 * 8), 0x5a);
  for (unsigned i = 0; i < 4; i++) assert_int_equal(mem64(m, RBS + 64 * 8 + 8 * i), 32 + i);
  assert_int_equal(c->ar[IA64_AR_BSPSTORE], RBS + 68 * 8);
  assert_int_equal(ia64_ar_read(c, IA64_AR_BSP), RBS + 68 * 8);
  assert_int_equal(c->ar[IA64_AR_RNAT] & 0xf, 2);   /* r33 at slot 1 */
  machine_free(m);
}

static void test_loadrs_illegal_operation_cases(void **state) {
  (void)state;
  /* rsc.mode != 0 */
  machine *m = machine_asm("  loadrs ;;\n  break.i 1 ;;\n");
  m->cpu.ar[IA64_AR_RSC] = 3;
  expect_ge(m, IA64_GE_ILLEGAL_OP, 0);
  machine_free(m);
  /* a frame and rsc.loadrs both non-zero; with loadrs = 0 the frame may be there */
  m = machine_asm("  alloc r32 = ar.pfs, 0, 1, 0, 0 ;;\n  loadrs ;;\n  break.i 1 ;;\n");
  m->cpu.ar[IA64_AR_RSC] = 8ull << 16;
  expect_ge(m, IA64_GE_ILLEGAL_OP, -1);
  m->cpu.ar[IA64_AR_RSC] = 0;
  assert_int_equal(run_to_break(m), 1);
  machine_free(m);
  /* more registers than the physical file holds */
  m = machine_asm("  loadrs ;;\n  break.i 1 ;;\n");
  assert_int_equal(ia64_ar_write(&m->cpu, IA64_AR_BSPSTORE, RBS + 0x1000), 0);
  m->cpu.ar[IA64_AR_RSC] = 0x800ull << 16;       /* 0x800 bytes: 252 registers */
  expect_ge(m, IA64_GE_ILLEGAL_OP, 0);
  machine_free(m);
}

static void test_cover_makes_the_frame_dirty_and_sets_ifs_when_ic_is_off(void **state) {
  (void)state;
  static const char src[] = "  alloc r40 = ar.pfs, 2, 3, 4, 8 ;;\n  break.i 1 ;;\n  cover ;;\n  break.i 2 ;;\n";
  for (int ic = 0; ic < 2; ic++) {
    machine *m = machine_asm(src);
    ia64_cpu *c = &m->cpu;
    assert_int_equal(run_to_break(m), 1);
    ia64_set_cfm(c, ia64_cfm(c) | 5ull << 32 | 2ull << 18);   /* some rotation too */
    uint64_t cfm = ia64_cfm(c);
    c->psr = ic ? 1ull << 13 : 0;
    c->cr[23] = 0x77;
    assert_int_equal(run_to_break(m), 2);
    assert_int_equal(ia64_cfm(c), 0);
    assert_int_equal(ia64_ar_read(c, IA64_AR_BSP), RBS + 9 * 8);
    assert_int_equal(c->cr[23], ic ? 0x77 : (cfm | 1ull << 63));
    machine_free(m);
  }
}

/* ---- B8 system forms ------------------------------------------------------------------------------ */

static void test_privileged_b8_forms_fault_at_cpl_3(void **state) {
  (void)state;
  static const char *const forms[] = {"rfi", "bsw.0", "bsw.1"};
  for (unsigned i = 0; i < 3; i++) {
    char src[128];
    snprintf(src, sizeof src, "  nop.b 0\n  nop.b 0\n  %s ;;\n  break.i 1 ;;\n", forms[i]);
    machine *m = machine_asm(src);
    m->cpu.psr = 3ull << 32;
    expect_ge(m, IA64_GE_PRIV_OP, 2);
    machine_free(m);
  }
  machine *m = machine_asm("  vmsw.0 ;;\n  break.i 1 ;;\n");
  expect_ge(m, IA64_GE_ILLEGAL_OP, -1);
  machine_free(m);
}

static void test_epc_never_goes_above_pfs_ppl(void **state) {
  (void)state;
  machine *m = machine_asm("  epc ;;\n  break.i 1 ;;\n");
  m->cpu.psr = 3ull << 32;
  m->cpu.ar[IA64_AR_PFS] = 2ull << 62;              /* ppl 2 < cpl 3 */
  expect_ge(m, IA64_GE_ILLEGAL_OP, -1);
  machine_free(m);
  m = machine_asm("  epc ;;\n  break.i 1 ;;\n");
  m->cpu.psr = 3ull << 32;
  m->cpu.ar[IA64_AR_PFS] = 3ull << 62;
  assert_int_equal(run_to_break(m), 1);
  assert_int_equal(ia64_field(m->cpu.psr, 33, 32), 3);
  machine_free(m);
}

static void test_bsw_switches_r16_to_r31_between_banks(void **state) {
  (void)state;
  machine *m = machine_asm("  bsw.0 ;;\n  break.i 1 ;;\n  bsw.0 ;;\n  break.i 2 ;;\n  bsw.1 ;;\n  break.i 3 ;;\n");
  ia64_cpu *c = &m->cpu;
  c->psr = 1ull << 44;                              /* bank 1 */
  for (unsigned r = 16; r < 32; r++) ia64_gr_write(c, r, 0x100 + r, r == 20);
  assert_int_equal(run_to_break(m), 1);
  assert_int_equal(c->psr >> 44 & 1, 0);
  for (unsigned r = 16; r < 32; r++) ia64_gr_write(c, r, 0x200 + r, false);
  assert_int_equal(run_to_break(m), 2);             /* already bank 0: nothing moves */
  assert_int_equal(ia64_gr_read(c, 16, NULL), 0x210);
  assert_int_equal(run_to_break(m), 3);
  assert_int_equal(c->psr >> 44 & 1, 1);
  for (unsigned r = 16; r < 32; r++) {
    bool nat;
    assert_int_equal(ia64_gr_read(c, r, &nat), 0x100 + r);
    assert_int_equal(nat, r == 20);
  }
  assert_int_equal(ia64_gr_read(c, 15, NULL), 0);   /* r15 is not banked */
  machine_free(m);
}

/* An interrupted frame (sof 7, sol 5) covered, a handler frame on top, rfi back to slot 1 of
 * a bundle at cpl 3. */
static const char rfi_src[] =
  "  movl r9 = target ;;\n"
  "  alloc r2 = ar.pfs, 0, 5, 2, 0 ;;\n"
  "  break.i 1 ;;\n"
  "  cover ;;\n"
  "  alloc r40 = ar.pfs, 0, 12, 0, 0 ;;\n"
  "  break.i 2 ;;\n"
  "  rfi ;;\n"
  "  nop.b 0 ;;\n"
  "target:\n"
  "  { .mii\n  break.m 3\n  break.i 4\n  break.i 5 ;; }\n";

static void test_rfi_returns_to_ipsr_iip_slot_and_the_covered_frame(void **state) {
  (void)state;
  machine *m = machine_asm(rfi_src);
  ia64_cpu *c = &m->cpu;
  assert_int_equal(run_to_break(m), 1);
  for (unsigned r = 32; r < 39; r++) ia64_gr_write(c, r, 0x500 + r, r == 36);
  uint64_t cfm = ia64_cfm(c);
  assert_int_equal(run_to_break(m), 2);
  assert_int_equal(c->cr[23], cfm | 1ull << 63);    /* psr.ic is 0: cover set cr.ifs */
  for (unsigned r = 32; r < 44; r++) ia64_gr_write(c, r, 0xdead, false);
  c->cr[16] = 3ull << 32 | 1ull << 41 | 1ull << 13; /* cpl 3, ri 1, ic */
  uint64_t target = ia64_gr_read(c, 9, NULL);
  c->cr[19] = target + 5;                           /* low bits ignored */
  assert_int_equal(run_to_break(m), 4);             /* slot 1 of target */
  assert_int_equal(c->ip, target);
  assert_int_equal(ia64_field(c->psr, 33, 32), 3);
  assert_true(c->psr >> 13 & 1);
  assert_int_equal(ia64_cfm(c), cfm);
  assert_int_equal(ia64_ar_read(c, IA64_AR_BSP), RBS);
  for (unsigned r = 32; r < 39; r++) {
    bool nat;
    assert_int_equal(ia64_gr_read(c, r, &nat), 0x500 + r);
    assert_int_equal(nat, r == 36);
  }
  machine_free(m);
}

static void test_br_ia_takes_disabled_instruction_set_transition(void **state) {
  (void)state;
  machine *m = machine_asm("  br.ia.sptk.many b1 ;;\n  break.i 1 ;;\n");
  expect_ge(m, IA64_GE_DISABLED_ISA, -1);
  machine_free(m);
  /* with dirty registers (bspstore != bsp) it is an Illegal Operation */
  m = machine_asm("  alloc r40 = ar.pfs, 0, 10, 0, 0 ;;\n  cover ;;\n  br.ia.sptk.many b1 ;;\n");
  expect_ge(m, IA64_GE_ILLEGAL_OP, -1);
  machine_free(m);
}

static void test_clrrrb_pr_clears_only_the_predicate_base(void **state) {
  (void)state;
  machine *m = machine_asm("  clrrrb.pr ;;\n  break.i 1 ;;\n  clrrrb ;;\n  break.i 2 ;;\n");
  ia64_cpu *c = &m->cpu;
  ia64_set_cfm(c, 40 | 40 << 7 | 2 << 14 | 5ull << 18 | 7ull << 25 | 9ull << 32);
  c->pr = 1 | 1ull << 20;                           /* logical p20 under rrb.pr = 9 */
  assert_int_equal(run_to_break(m), 1);
  assert_int_equal(c->rrb_pr, 0);
  assert_int_equal(c->rrb_gr, 5);
  assert_int_equal(c->rrb_fr, 7);
  /* logical p20 was physical 16 + (4 + 9) = p29; with rrb.pr 0 it is called p29 */
  assert_int_equal(c->pr, 1 | 1ull << 29);
  assert_int_equal(run_to_break(m), 2);
  assert_int_equal(ia64_cfm(c), 40 | 40 << 7 | 2 << 14);
  machine_free(m);
}

/* ---- Application registers ------------------------------------------------------------------------ */

static void test_ar_writes_follow_the_architecture(void **state) {
  (void)state;
  machine *m = machine_new("", 0);
  ia64_cpu *c = &m->cpu;
  /* read-only ar.bsp */
  assert_int_equal(ia64_ar_write(c, IA64_AR_BSP, 0x1000), -1);
  assert_int_equal(c->intr.vector, IA64_VEC_GENERAL_EXCEPTION);
  assert_int_equal(c->intr.isr & 0xf0, IA64_GE_ILLEGAL_OP);
  /* bspstore and rnat only in enforced-lazy mode; bsp follows bspstore */
  assert_int_equal(ia64_ar_write(c, IA64_AR_RSC, 3), 0);
  assert_int_equal(ia64_ar_write(c, IA64_AR_BSPSTORE, RBS + 0x100), -1);
  assert_int_equal(ia64_ar_write(c, IA64_AR_RNAT, 1), -1);
  assert_int_equal(ia64_ar_write(c, IA64_AR_RSC, 0), 0);
  c->ndirty = 3;
  assert_int_equal(ia64_ar_write(c, IA64_AR_BSPSTORE, RBS + 0x1e8 + 7), 0);   /* slot 61, low bits dropped */
  assert_int_equal(c->ar[IA64_AR_BSPSTORE], RBS + 0x1e8);
  assert_int_equal(ia64_ar_read(c, IA64_AR_BSP), RBS + 0x1e8 + 4 * 8);    /* 3 registers and slot 63 */
  c->ndirty = 0;
  assert_int_equal(ia64_ar_write(c, IA64_AR_RNAT, ~0ull), 0);
  assert_int_equal(ia64_ar_read(c, IA64_AR_RNAT), ~0ull >> 1);           /* bit 63 ignored */
  /* rsc: reserved fields, and pl never more privileged than cpl */
  assert_int_equal(ia64_ar_write(c, IA64_AR_RSC, 1ull << 5), -1);
  assert_int_equal(c->intr.isr & 0xf0, IA64_GE_RESERVED_REG);
  assert_int_equal(ia64_ar_write(c, IA64_AR_RSC, 1ull << 30), -1);
  c->psr = 2ull << 32;
  assert_int_equal(ia64_ar_write(c, IA64_AR_RSC, 0x3fff0000 | 1 << 2 | 1), 0);
  assert_int_equal(ia64_ar_read(c, IA64_AR_RSC), 0x3fff0000 | 2 << 2 | 1);
  /* kernel registers are privileged; ec keeps 6 bits; pfs has reserved fields */
  assert_int_equal(ia64_ar_write(c, IA64_AR_KR0 + 3, 5), -1);
  assert_int_equal(c->intr.isr & 0xf0, IA64_GE_PRIV_REG);
  assert_int_equal(ia64_ar_write(c, IA64_AR_EC, 0x1ff), 0);
  assert_int_equal(ia64_ar_read(c, IA64_AR_EC), 0x3f);
  assert_int_equal(ia64_ar_write(c, IA64_AR_PFS, 1ull << 40), -1);
  assert_int_equal(c->intr.isr & 0xf0, IA64_GE_RESERVED_REG);
  assert_int_equal(ia64_ar_write(c, IA64_AR_PFS, 3ull << 62 | 0x3full << 52 | MSK(37, 0)), 0);
  /* reserved and ignored registers */
  assert_int_equal(ia64_ar_write(c, 8, 1), -1);
  assert_int_equal(ia64_ar_write(c, 50, 1), 0);
  assert_int_equal(ia64_ar_read(c, 50), 0);
  uint64_t v;
  assert_int_equal(ia64_ar_get(c, IA64_AR_LC, false, &v), -1);     /* lc from the M unit */
  assert_int_equal(ia64_ar_get(c, IA64_AR_LC, true, &v), 0);
  assert_int_equal(ia64_ar_put(c, IA64_AR_RSC, true, 0), -1);      /* rsc from the I unit */
  machine_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_alloc_sets_frame_and_returns_pfs),
    cmocka_unit_test(test_alloc_illegal_operation_cases),
    cmocka_unit_test(test_alloc_may_change_sor_only_while_rrbs_are_zero),
    cmocka_unit_test(test_alloc_shrinking_the_frame_applies_to_the_rest_of_its_bundle),
    cmocka_unit_test(test_loop_branches_outside_slot_2_are_illegal),
    cmocka_unit_test(test_call_saves_the_frame_in_pfs_and_return_restores_it),
    cmocka_unit_test(test_return_lowers_privilege_but_never_raises_it),
    cmocka_unit_test(test_a_spill_that_faults_can_be_restarted),
    cmocka_unit_test(test_loadrs_reloads_the_registers_below_bsp),
    cmocka_unit_test(test_big_endian_backing_store_with_rsc_be),
    cmocka_unit_test(test_spill_from_a_bspstore_on_a_collection_slot),
    cmocka_unit_test(test_loadrs_illegal_operation_cases),
    cmocka_unit_test(test_cover_makes_the_frame_dirty_and_sets_ifs_when_ic_is_off),
    cmocka_unit_test(test_privileged_b8_forms_fault_at_cpl_3),
    cmocka_unit_test(test_epc_never_goes_above_pfs_ppl),
    cmocka_unit_test(test_bsw_switches_r16_to_r31_between_banks),
    cmocka_unit_test(test_rfi_returns_to_ipsr_iip_slot_and_the_covered_frame),
    cmocka_unit_test(test_br_ia_takes_disabled_instruction_set_transition),
    cmocka_unit_test(test_clrrrb_pr_clears_only_the_predicate_base),
    cmocka_unit_test(test_ar_writes_follow_the_architecture),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
