/* test_sysarch_intr.c — interruptions (SDM vol. 2 ch. 5 and 8): delivery of every vector to
 * IVA + its offset with the interruption registers the vector defines, collection off
 * (ISR.ni, Data Nested TLB), the new PSR and register bank, rfi back to a slot and a
 * covered frame, bsw, the traps that need single-stepping (PSR.ss, tb, lp) and the one-
 * instruction suppression bits; external interrupts: PSR.i, TPR classes and mmi, in-service
 * masking, EOI, spurious IVR, NMI priority, interrupts pended from another thread waking a
 * halted CPU; the ITC/ITM timer through ITV.
 *
 * Expected values are worked by hand from the SDM: the vector table, which registers each
 * vector writes, the PSR an interruption leaves (up, mfl, mfh, pk, dt, rt, mc, it kept; be
 * and pp from DCR; the rest 0), the trap codes (lp 2, tb 4, ss 8), the priority rules. */
#include <pthread.h>
#include <time.h>

#include "test_sysarch.h"

#define CODE 0x10000ull
#define CODE2 0x11000ull
#define IVA 0x40000ull
#define R1 0x2000000000000000ull
#define R7 0xe000000000000000ull

/* ---- Delivery of every vector --------------------------------------------------------------- */

enum { D_IFA = 1, D_ITIR = 2, D_IHA = 4, D_IIM = 8, D_VHPT = 16 };
static const struct { int vector; unsigned defines; } vectors[] = {
  {IA64_VEC_VHPT_TRANSLATION, D_IFA | D_ITIR | D_IHA | D_VHPT}, {IA64_VEC_INST_TLB, D_IFA | D_ITIR | D_IHA},
  {IA64_VEC_DATA_TLB, D_IFA | D_ITIR | D_IHA}, {IA64_VEC_ALT_INST_TLB, D_IFA | D_ITIR},
  {IA64_VEC_ALT_DATA_TLB, D_IFA | D_ITIR}, {IA64_VEC_INST_KEY_MISS, D_IFA | D_ITIR},
  {IA64_VEC_DATA_KEY_MISS, D_IFA | D_ITIR}, {IA64_VEC_DIRTY_BIT, D_IFA | D_ITIR},
  {IA64_VEC_INST_ACCESS_BIT, D_IFA | D_ITIR}, {IA64_VEC_DATA_ACCESS_BIT, D_IFA | D_ITIR},
  {IA64_VEC_BREAK, D_IIM}, {IA64_VEC_EXTERNAL_INT, 0}, {IA64_VEC_PAGE_NOT_PRESENT, D_IFA | D_ITIR},
  {IA64_VEC_KEY_PERMISSION, D_IFA | D_ITIR}, {IA64_VEC_INST_ACCESS_RIGHTS, D_IFA | D_ITIR},
  {IA64_VEC_DATA_ACCESS_RIGHTS, D_IFA | D_ITIR}, {IA64_VEC_GENERAL_EXCEPTION, 0},
  {IA64_VEC_DISABLED_FP, 0}, {IA64_VEC_NAT_CONSUMPTION, D_IFA}, {IA64_VEC_SPECULATION, D_IIM},
  {IA64_VEC_DEBUG, D_IFA}, {IA64_VEC_UNALIGNED, D_IFA}, {IA64_VEC_UNSUPPORTED_DATA_REF, D_IFA},
  {IA64_VEC_FP_FAULT, 0}, {IA64_VEC_FP_TRAP, 0}, {IA64_VEC_LOWER_PRIV_TRANSFER, D_IFA},
  {IA64_VEC_TAKEN_BRANCH, 0}, {IA64_VEC_SINGLE_STEP, 0},
};

/* Every PSR bit that exists, so that the new PSR shows which ones an interruption keeps. */
#define ALL_PSR (P_BE | P_UP | P_AC | P_MFL | P_MFH | P_IC | P_I | P_PK | P_DT | P_DFL | P_DFH | P_SP | \
                 P_PP | P_DI | P_SI | P_DB | P_LP | P_TB | P_RT | P_CPL(3) | P_MC | P_IT | P_ID | P_DA | \
                 P_DD | P_SS | P_ED | P_BN | P_IA)
#define KEPT (P_UP | P_MFL | P_MFH | P_PK | P_DT | P_RT | P_MC | P_IT)
#define SENTINEL 0x5e5e5e5e5e5e5e50ull

static void test_every_vector_goes_to_iva_plus_its_offset_with_its_registers(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  /* rr1: rid 1, 16K pages; rr7: rid 7, 16M pages; a long-format PTA in region 7, so the
   * hash of 0x2000000000123456 is 0xe000000000003f20 (test_sysarch_tlb.c works it out). */
  c->rr[1] = sa_rr(1, 14, true);
  c->rr[7] = sa_rr(7, 24, false);
  for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
    int v = vectors[i].vector;
    unsigned d = vectors[i].defines;
    c->cr[CR_IVA] = IVA;
    c->cr[CR_PTA] = R7 | 1 << 8 | 16 << 2;
    c->cr[CR_DCR] = 0;
    for (unsigned cr = CR_IPSR; cr <= CR_IHA; cr++) c->cr[cr] = SENTINEL + cr;
    c->cr[CR_IFS] = 1ull << 63 | 0x1234;
    c->psr = ALL_PSR;
    c->gr[16] = 0x1111, c->bank0[0] = 0x2222;           /* bank 1 current */
    c->intr = (ia64_intr){.vector = v, .isr = IA64_ISR_W | 2ull << 41, .ifa = R1 | 0x123456, .iim = 0x4321,
                          .iip = 0x4000000000001230ull, .ri = 2};
    assert_int_equal(ia64_deliver(c), 0);
    if (c->ip != IVA + (uint64_t)v || c->ri != 0) fail_msg("vector 0x%x: ip %" PRIx64, v, c->ip);
    assert_int_equal(c->psr, KEPT);
    assert_int_equal(c->cr[CR_IPSR], ALL_PSR | P_RI(2));
    assert_int_equal(c->cr[CR_IIP], 0x4000000000001230ull);
    assert_int_equal(c->cr[CR_IIPA], 0x4000000000001230ull);   /* a fault: its own bundle */
    assert_int_equal(c->cr[CR_IFS], 0x1234);                   /* IFS.v cleared */
    assert_int_equal(c->cr[CR_ISR], IA64_ISR_W | 2ull << 41);
    assert_int_equal(c->cr[CR_IFA], d & D_IFA ? R1 | 0x123456 : SENTINEL + CR_IFA);
    /* ITIR: ps and rid of the faulting address's region (the VHPT's region for VHPT faults). */
    uint64_t itir = d & D_VHPT ? 7 << 8 | 24 << 2 : 1 << 8 | 14 << 2;
    assert_int_equal(c->cr[CR_ITIR], d & D_ITIR ? itir : SENTINEL + CR_ITIR);
    assert_int_equal(c->cr[CR_IHA], d & D_IHA ? R7 | 0x3f20 : SENTINEL + CR_IHA);
    assert_int_equal(c->cr[CR_IIM], d & D_IIM ? 0x4321 : SENTINEL + CR_IIM);
    assert_int_equal(c->gr[16], 0x2222);                       /* bank 0 now */
    assert_int_equal(c->bank0[0], 0x1111);
  }
}

static void test_delivery_takes_be_and_pp_from_dcr(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  c->cr[CR_DCR] = 3;                                   /* dcr.be (1), dcr.pp (0) */
  c->psr = P_IC;
  c->intr = (ia64_intr){.vector = IA64_VEC_BREAK};
  ia64_deliver(c);
  assert_int_equal(c->psr, P_BE | P_PP);
}

static void test_delivery_with_collection_off_writes_only_isr_with_ni(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  c->cr[CR_IVA] = IVA;
  for (unsigned cr = CR_IPSR; cr <= CR_IHA; cr++) c->cr[cr] = SENTINEL + cr;
  c->psr = P_DT | P_CPL(3);
  c->intr = (ia64_intr){.vector = IA64_VEC_GENERAL_EXCEPTION, .isr = IA64_GE_PRIV_OP | 1ull << 41, .iip = CODE, .ri = 1};
  assert_int_equal(ia64_deliver(c), 1);                /* state lost: the guest has crashed */
  assert_int_equal(c->ip, IVA + 0x5400);
  assert_int_equal(c->cr[CR_ISR], IA64_GE_PRIV_OP | 1ull << 41 | IA64_ISR_NI);
  assert_int_equal(c->cr[CR_IPSR], SENTINEL + CR_IPSR);
  assert_int_equal(c->cr[CR_IIP], SENTINEL + CR_IIP);
  assert_int_equal(c->cr[CR_IIPA], SENTINEL + CR_IIPA);
  assert_int_equal(c->psr, P_DT);
}

static void test_data_nested_tlb_writes_no_interruption_register(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  c->cr[CR_IVA] = IVA;
  for (unsigned cr = CR_IPSR; cr <= CR_IHA; cr++) c->cr[cr] = SENTINEL + cr;
  c->rr[1] = sa_rr(1, 14, false);
  sa_psr(e, P_DT);                                     /* in a TLB miss handler: ic off */
  sa_setgr(e, 2, R1 | 0x8000);
  sa_code(e, CODE, "ld8 r8=[r2]");
  sa_expect_stop(e, sa_run(e, CODE, 100), IA64_VEC_DATA_NESTED_TLB);
  assert_int_equal(ia64_deliver(c), 0);
  assert_int_equal(c->ip, IVA + 0x1400);
  for (unsigned cr = CR_IPSR; cr <= CR_IHA; cr++)
    if (cr != 18 && c->cr[cr] != SENTINEL + cr) fail_msg("cr%u written", cr);
}

static void test_an_instruction_fetch_fault_reports_the_slot_it_resumes_at(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  c->cr[CR_IVA] = IVA;
  c->rr[1] = sa_rr(1, 14, false);
  sa_psr(e, P_IC | P_IT | P_DT);
  c->ip = R1 | 0x4010, c->ri = 1;                      /* e.g. an rfi to slot 1 */
  sa_expect_stop(e, ia64_run(c, 100), IA64_VEC_ALT_INST_TLB);
  ia64_deliver(c);
  assert_int_equal(c->cr[CR_ISR], IA64_ISR_X | 1ull << 41);
  assert_int_equal(c->cr[CR_IPSR] & MSK(42, 41), P_RI(1));
  assert_int_equal(c->cr[CR_IFA], R1 | 0x4010);
  assert_int_equal(c->cr[CR_IIP], R1 | 0x4010);
  assert_int_equal(c->cr[CR_ITIR], 1 << 8 | 14 << 2);
}

/* ---- A round trip through the IVT: break, the handler, rfi ------------------------------------ */

static void test_a_break_goes_through_the_ivt_and_rfi_resumes_at_the_next_slot(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  c->cr[CR_IVA] = IVA;
  sa_asm(e, IVA + 0x2c00,
         "mov r16=cr.iim ;; mov r17=cr.isr ;; mov r18=cr.ipsr ;; mov r19=cr.iip ;; mov r21=1 ;;\n"
         "dep r22=r21,r18,41,2 ;; mov cr.ipsr=r22 ;; rfi ;;");
  sa_code(e, CODE, "{ .mii\n break.m 0x12345\n mov r20=0x20\n nop.i 0 ;; }");
  sa_psr(e, P_IC | P_BN);
  sa_setgr(e, 16, 0x1111);                           /* bank 1 */
  sa_setgr(e, 20, 0);
  sa_run_delivering(e, CODE, 100);
  assert_int_equal(c->bank0[0], 0x12345);            /* the handler's bank-0 r16: cr.iim */
  assert_int_equal(c->bank0[1], 0);                  /* cr.isr: slot 0, collection on */
  assert_int_equal(c->bank0[2], P_IC | P_BN);        /* cr.ipsr, ri 0 */
  assert_int_equal(c->bank0[3], CODE);               /* cr.iip: the break's bundle */
  assert_int_equal(sa_gr(e, 16), 0x1111);            /* bank 1 is back */
  assert_int_equal(sa_gr(e, 20), 0x20);              /* slot 1 ran after rfi */
  assert_int_equal(c->psr, P_IC | P_BN);
}

static void test_cover_saves_the_frame_in_ifs_and_rfi_restores_it(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  sa_setgr(e, 2, 0x80000);
  sa_setgr(e, 9, CODE2);
  sa_setgr(e, 10, P_IC);
  sa_code(e, CODE,
          "mov ar.rsc=r0 ;; mov ar.bspstore=r2 ;; alloc r34=ar.pfs,0,5,3,0 ;; mov r32=0x32 ;; mov r39=0x39 ;;\n"
          "cover ;; mov r7=cr.ifs ;; rsm 0x2000 ;; srlz.d ;; cover ;; mov r8=cr.ifs ;;\n"
          "mov cr.iip=r9 ;; mov cr.ipsr=r10 ;; rfi ;;");
  sa_code(e, CODE2, "mov r14=r39 ;; mov r15=r32");
  /* With collection on, cover leaves IFS alone, and IFS cannot even be read. */
  sa_psr(e, P_IC);
  c->cr[CR_IFS] = 0;
  sa_expect_stop(e, sa_run(e, CODE, 100), IA64_VEC_GENERAL_EXCEPTION);
  assert_int_equal(c->intr.isr & 0xff, IA64_GE_ILLEGAL_OP);
  assert_int_equal(c->sof, 0);                     /* the cover did run */
  assert_int_equal(c->cr[CR_IFS], 0);
  /* With collection off: the 8-register frame (5 locals) goes to IFS, and rfi with IFS.v
   * brings it back (r32 and r39 readable again). */
  sa_code(e, CODE,
          "mov ar.rsc=r0 ;; mov ar.bspstore=r2 ;; alloc r34=ar.pfs,0,5,3,0 ;; mov r32=0x32 ;; mov r39=0x39 ;;\n"
          "rsm 0x2000 ;; srlz.d ;; cover ;; mov r8=cr.ifs ;;\n"
          "mov cr.iip=r9 ;; mov cr.ipsr=r10 ;; rfi ;;");
  ia64_cpu_reset(c);
  sa_setgr(e, 2, 0x80000);
  sa_setgr(e, 9, CODE2);
  sa_setgr(e, 10, P_IC);
  sa_psr(e, P_IC);
  sa_expect_done(e, sa_run(e, CODE, 100));
  assert_int_equal(sa_gr(e, 8), 1ull << 63 | 5 << 7 | 8);
  assert_int_equal(sa_gr(e, 14), 0x39);
  assert_int_equal(sa_gr(e, 15), 0x32);
  assert_int_equal(c->sof, 8);
  assert_int_equal(c->sol, 5);
  assert_int_equal(c->psr, P_IC);
}

static void test_bsw_swaps_r16_to_r31_with_their_nat_bits(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  sa_psr(e, 0);
  for (unsigned r = 16; r < 32; r++) sa_setgr(e, r, r);
  ia64_gr_write(c, 17, 17, true);
  sa_code(e, CODE, "bsw.1 ;; mov r16=0x100 ;; mov r8=r31 ;; bsw.0 ;; mov r9=r16");
  sa_expect_done(e, sa_run(e, CODE, 100));
  assert_int_equal(sa_gr(e, 8), 0);                  /* bank 1's r31 was never written */
  assert_int_equal(sa_gr(e, 9), 16);
  bool nat = false;
  ia64_gr_read(c, 17, &nat);
  assert_true(nat);
  assert_int_equal(c->bank0[0], 0x100);              /* bank 1 is the saved one now */
  assert_false(c->psr & P_BN);
  sa_psr(e, P_CPL(3));
  sa_code(e, CODE, "bsw.1");
  sa_expect_stop(e, sa_run(e, CODE, 100), IA64_VEC_GENERAL_EXCEPTION);
  assert_int_equal(c->intr.isr & 0xff, IA64_GE_PRIV_OP);
}

static void test_a_tlb_miss_handler_inserts_the_translation_and_the_load_is_retried(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  c->cr[CR_IVA] = IVA;
  c->rr[1] = sa_rr(5, 14, false);
  /* Alternate Data TLB handler: identity-map the 16K page of cr.ifa (region bits dropped):
   * ppn = ifa{49:14}, p, a, d, ar 2 (0x461); cr.itir as the hardware left it (rr1's ps). */
  sa_asm(e, IVA + 0x1000,
         "mov r16=cr.ifa ;; movl r17=0x3ffffffffc000 ;; and r18=r16,r17 ;; mov r19=0x461 ;;\n"
         "or r18=r18,r19 ;; itc.d r18 ;; srlz.d ;; rfi ;;");
  sa_st8(e, 0x300008, 0x1234);
  sa_st8(e, 0x304010, 0x5678);
  sa_setgr(e, 2, R1 | 0x300008);
  sa_setgr(e, 3, R1 | 0x304010);
  sa_code(e, CODE, "{ .mmi\n ld8 r8=[r2]\n ld8 r9=[r3]\n nop.i 0 ;; }\n ld8 r10=[r2]");
  sa_psr(e, P_IC | P_DT);
  unsigned misses = 0;
  ia64_stop st = sa_run(e, CODE, 200);
  while (st == IA64_STOP_INTR && c->intr.vector == IA64_VEC_ALT_DATA_TLB) {
    misses++;
    ia64_deliver(c);
    st = ia64_run(c, 200);
  }
  sa_expect_done(e, st);
  assert_int_equal(misses, 2);                       /* one per page; the third load hits */
  assert_int_equal(sa_gr(e, 8), 0x1234);
  assert_int_equal(sa_gr(e, 9), 0x5678);
  assert_int_equal(sa_gr(e, 10), 0x1234);
  assert_int_equal(c->cr[CR_ITIR], 5 << 8 | 14 << 2);
  assert_int_equal(c->cr[CR_IPSR] & MSK(42, 41), P_RI(1)); /* the second miss was in slot 1 */
}

static void test_resync_after_a_restore_resumes_halt_and_stepping(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  sa_code(e, CODE, "{ .mii\n mov r8=1\n mov r9=2\n nop.i 0 ;; }");
  c->ip = CODE, c->ri = 0;
  c->psr = P_IC | P_SS;                              /* as a restore writes it */
  c->sys.flags |= IA64_SYS_HALTED;
  c->sys.attn = 0;
  ia64_sys_resync(c);
  assert_int_equal(ia64_run(c, 100), IA64_STOP_HALT);
  c->sys.flags &= ~(uint32_t)IA64_SYS_HALTED;
  ia64_sys_resync(c);
  sa_expect_stop(e, ia64_run(c, 100), IA64_VEC_SINGLE_STEP);
  assert_int_equal(c->intr.ri, 1);
}

/* ---- Traps after an instruction ---------------------------------------------------------------- */

static void test_single_step_traps_after_each_instruction(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  c->cr[CR_IVA] = IVA;
  sa_code(e, CODE, "{ .mii\n mov r8=1\n mov r9=2\n mov r10=3 ;; }");
  for (unsigned s = 0; s < 3; s++) {
    c->ip = CODE, c->ri = s;
    sa_psr(e, P_IC | P_SS);
    sa_expect_stop(e, ia64_run(c, 100), IA64_VEC_SINGLE_STEP);
    assert_true(c->intr.trap);
    assert_int_equal(c->intr.isr, 0x8 | (uint64_t)s << 41);      /* ss, ei = the slot run */
    assert_int_equal(sa_gr(e, 8 + s), s + 1);
    if (s < 2) assert_int_equal(sa_gr(e, 9 + s), 0);               /* not yet */
    ia64_deliver(c);
    assert_int_equal(c->ip, IVA + 0x6000);
    assert_int_equal(c->cr[CR_IIP], s < 2 ? CODE : CODE + 16);
    assert_int_equal(c->cr[CR_IPSR], P_IC | P_SS | P_RI(s < 2 ? s + 1 : 0));
    assert_int_equal(c->cr[CR_IIPA], CODE);                        /* the stepped bundle */
    sa_setgr(e, 8 + s, 0);
  }
}

static void test_taken_branch_traps_with_iip_at_the_target(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  c->cr[CR_IVA] = IVA;
  sa_setgr(e, 8, 0);
  sa_code(e, CODE,
          "{ .mib\n nop.m 0\n nop.i 0\n (p6) br.cond.sptk.few 2f ;; }\n"
          "{ .mib\n nop.m 0\n mov r8=1\n br.cond.sptk.few 1f ;; }\n"
          "2: { .mii\n break.m 0x1111\n nop.i 0\n nop.i 0 ;; }\n"
          "1: { .mii\n mov r9=2\n nop.i 0\n nop.i 0 ;; }");
  c->pr &= ~(1ull << 6);                              /* the first branch is not taken */
  sa_psr(e, P_IC | P_TB);
  sa_expect_stop(e, sa_run(e, CODE, 100), IA64_VEC_TAKEN_BRANCH);
  assert_int_equal(c->intr.isr, 0x4 | 2ull << 41);
  assert_int_equal(sa_gr(e, 8), 1);
  assert_int_equal(c->intr.iip, CODE + 48);
  ia64_deliver(c);
  assert_int_equal(c->cr[CR_IIP], CODE + 48);
  assert_int_equal(c->cr[CR_IIPA], CODE + 16);       /* the branch's bundle */
}

static void test_a_branch_demoting_privilege_traps_when_psr_lp(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  sa_code(e, CODE2, "mov r9=9");
  sa_code(e, CODE, "br.ret.sptk.few b0");
  c->br[0] = CODE2;
  c->ar[IA64_AR_PFS] = 3ull << 62;                   /* ppl 3, an empty frame */
  sa_psr(e, P_IC | P_LP | P_TB);
  sa_expect_stop(e, sa_run(e, CODE, 100), IA64_VEC_LOWER_PRIV_TRANSFER);
  assert_int_equal(c->intr.isr & 0xff, 0x2 | 0x4);    /* lp and tb both triggered */
  assert_int_equal(c->intr.iip, CODE2);
  assert_int_equal(c->psr & P_CPL(3), P_CPL(3));
}

static void test_psr_ia_lets_one_instruction_run_from_a_page_without_its_access_bit(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  c->rr[1] = sa_rr(1, 14, false);
  assert_int_equal(ia64_tlb_insert(c, true, -1, R1 | 0x4000, sa_pte(0x20000, 1, 0) & ~PTE_A, sa_itir(14, 0)), 0);
  sa_code(e, 0x20000, "{ .mii\n mov r8=8\n mov r9=9\n nop.i 0 ;; }");
  sa_setgr(e, 9, 0);
  c->ip = R1 | 0x4000, c->ri = 0;
  sa_psr(e, P_IC | P_IT | P_DT | P_IA);
  sa_expect_stop(e, ia64_run(c, 100), IA64_VEC_INST_ACCESS_BIT);
  assert_int_equal(sa_gr(e, 8), 8);
  assert_int_equal(sa_gr(e, 9), 0);
  assert_int_equal(c->intr.ri, 1);
  assert_false(c->psr & P_IA);
}

/* ---- External interrupts --------------------------------------------------------------------------- */

/* An External Interrupt handler that acknowledges and reports. */
static void ext_handler(sa_env *e) {
  e->cpu.cr[CR_IVA] = IVA;
  sa_code(e, IVA + 0x3000, "mov r8=cr.ivr ;; mov r9=cr.ipsr ;; mov r10=cr.iip ;; mov r11=cr.isr");
}

static const char *const spin = "1: { .mib\n nop.m 0\n nop.i 0\n br.cond.sptk.few 1b ;; }";

static void test_a_pended_interrupt_is_taken_at_a_branch_while_psr_i(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  ext_handler(e);
  sa_asm(e, CODE, spin);
  sa_psr(e, P_IC | P_I);
  ia64_pend_interrupt(c, 0x40);
  assert_true(e->nwake >= 1);
  sa_expect_done(e, sa_run(e, CODE, 1000));
  assert_int_equal(sa_gr(e, 8), 0x40);
  assert_int_equal(sa_gr(e, 9), P_IC | P_I);
  assert_int_equal(sa_gr(e, 10), CODE);
  assert_int_equal(sa_gr(e, 11), 0);
  assert_int_equal(c->psr & (P_I | P_IC), 0);
  assert_int_equal(c->cr[CR_IRR0 + 1], 0);           /* acknowledged */
}

static void test_psr_i_clear_holds_the_interrupt_until_ssm(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  ext_handler(e);
  sa_asm(e, CODE, "{ .mii\n mov r20=7\n nop.i 0\n nop.i 0 ;; }\n"
                  "1: { .mib\n nop.m 0\n nop.i 0\n br.cond.sptk.few 1b ;; }\n"
                  "{ .mii\n break.m 0x2222\n nop.i 0\n nop.i 0 ;; }");
  sa_setgr(e, 20, 0);
  sa_psr(e, P_IC);
  ia64_pend_interrupt(c, 0x41);
  assert_int_equal(sa_run(e, CODE, 500), IA64_STOP_LIMIT);
  assert_int_equal(sa_gr(e, 20), 7);
  /* The loop with interrupts enabled: taken at its next branch. */
  sa_code(e, CODE2, "ssm 0x4000 ;; srlz.d ;;\n1: { .mib\n nop.m 0\n nop.i 0\n br.cond.sptk.few 1b ;; }");
  sa_expect_done(e, sa_run(e, CODE2, 500));
  assert_int_equal(sa_gr(e, 8), 0x41);
  assert_int_equal(sa_gr(e, 9) & P_I, P_I);
}

static void test_tpr_masks_vector_classes_and_ivr_answers_spurious(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  sa_psr(e, P_IC);
  ia64_pend_interrupt(c, 0x45);                      /* class 4 */
  ia64_pend_interrupt(c, 0x50);                      /* class 5 */
  sa_setgr(e, 2, 4 << 4);                            /* tpr.mic = 4 */
  sa_code(e, CODE,
          "mov cr.tpr=r2 ;; srlz.d ;; mov r8=cr.ivr ;; mov r9=cr.ivr ;; mov cr.eoi=r0 ;; srlz.d ;;\n"
          "mov r10=cr.ivr ;; mov r11=cr.irr1 ;; mov cr.tpr=r0 ;; srlz.d ;; mov r14=cr.ivr ;; mov r15=cr.irr1");
  sa_expect_done(e, sa_run(e, CODE, 100));
  assert_int_equal(sa_gr(e, 8), 0x50);
  assert_int_equal(sa_gr(e, 9), 15);                 /* 0x45: masked by TPR and by 0x50 */
  assert_int_equal(sa_gr(e, 10), 15);                /* still by TPR */
  assert_int_equal(sa_gr(e, 11), 1ull << (0x45 - 64));
  assert_int_equal(sa_gr(e, 14), 0x45);
  assert_int_equal(sa_gr(e, 15), 0);
}

static void test_in_service_vectors_mask_equal_and_lower_priorities_until_eoi(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  sa_psr(e, P_IC);
  ia64_pend_interrupt(c, 0x60);
  ia64_pend_interrupt(c, 0x50);
  ia64_pend_interrupt(c, 0xff);
  ia64_pend_interrupt(c, 2);                         /* NMI beats every vector */
  ia64_pend_interrupt(c, 5);                         /* reserved vector: ignored */
  sa_code(e, CODE,
          "mov r8=cr.ivr ;; mov r9=cr.ivr ;; mov cr.eoi=r0 ;; mov r10=cr.ivr ;; mov r11=cr.ivr ;;\n"
          "mov cr.eoi=r0 ;; mov r14=cr.ivr ;; mov r15=cr.ivr ;; mov cr.eoi=r0 ;; mov r16=cr.ivr ;; mov r17=cr.irr0");
  sa_expect_done(e, sa_run(e, CODE, 100));
  assert_int_equal(sa_gr(e, 8), 2);
  assert_int_equal(sa_gr(e, 9), 15);                 /* NMI in service masks 0xff */
  assert_int_equal(sa_gr(e, 10), 0xff);              /* after its EOI */
  assert_int_equal(sa_gr(e, 11), 15);                /* 0xff in service masks 0x60 */
  assert_int_equal(sa_gr(e, 14), 0x60);
  assert_int_equal(sa_gr(e, 15), 15);                /* 0x60 masks 0x50 */
  assert_int_equal(sa_gr(e, 16), 0x50);              /* the third EOI ended 0x60 */
  assert_int_equal(sa_gr(e, 17), 0);
}

static void test_tpr_mmi_masks_everything_but_nmi(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  sa_psr(e, P_IC);
  ia64_pend_interrupt(c, 0xf0);
  sa_setgr(e, 2, 1 << 16);
  sa_code(e, CODE, "mov cr.tpr=r2 ;; srlz.d ;; mov r8=cr.ivr");
  sa_expect_done(e, sa_run(e, CODE, 100));
  assert_int_equal(sa_gr(e, 8), 15);
  ia64_pend_interrupt(c, 2);
  sa_code(e, CODE, "mov r8=cr.ivr");
  sa_expect_done(e, sa_run(e, CODE, 100));
  assert_int_equal(sa_gr(e, 8), 2);
}

static void test_only_a_higher_priority_interrupt_nests_over_one_in_service(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  ext_handler(e);
  sa_asm(e, CODE, spin);
  sa_psr(e, P_IC);
  ia64_pend_interrupt(c, 0x50);
  assert_int_equal(ia64_ivr_read(c), 0x50);          /* in service, handler re-enabled psr.i */
  ia64_pend_interrupt(c, 0x4f);
  sa_psr(e, P_IC | P_I);
  assert_int_equal(sa_run(e, CODE, 300), IA64_STOP_LIMIT);
  ia64_pend_interrupt(c, 0x51);
  sa_expect_done(e, sa_run(e, CODE, 300));
  assert_int_equal(sa_gr(e, 8), 0x51);
}

typedef struct waker { sa_env *e; unsigned vector; } waker;

static void *wake_later(void *arg) {
  waker *w = arg;
  struct timespec ts = {0, 20 * 1000 * 1000};
  nanosleep(&ts, NULL);
  ia64_pend_interrupt(&w->e->cpu, w->vector);
  return NULL;
}

static void test_an_interrupt_from_another_thread_wakes_a_halted_cpu(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  ext_handler(e);
  sa_asm(e, CODE, spin);
  sa_psr(e, P_IC | P_I);
  c->ip = CODE, c->ri = 0;
  ia64_halt(c);
  assert_int_equal(ia64_run(c, 1000), IA64_STOP_HALT);
  assert_false(ia64_wakeable(c));
  assert_int_equal(ia64_run(c, 1000), IA64_STOP_HALT);   /* still halted */
  waker w = {e, 0x33};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, wake_later, &w), 0);
  for (int i = 0; i < 5000 && !ia64_wakeable(c); i++) {
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  pthread_join(t, NULL);
  assert_true(ia64_wakeable(c));
  assert_true(e->nwake >= 1);
  sa_expect_done(e, ia64_run(c, 1000));
  assert_int_equal(sa_gr(e, 8), 0x33);
}

static void test_halt_ends_on_an_unmasked_interrupt_even_with_psr_i_clear(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  sa_code(e, CODE, "mov r8=1");
  sa_setgr(e, 8, 0);
  sa_psr(e, P_IC);
  c->cr[CR_TPR] = 5 << 4;
  c->ip = CODE, c->ri = 0;
  ia64_halt(c);
  ia64_pend_interrupt(c, 0x52);                      /* masked by TPR: stays halted */
  assert_int_equal(ia64_run(c, 100), IA64_STOP_HALT);
  ia64_pend_interrupt(c, 0x62);
  sa_expect_done(e, ia64_run(c, 100));               /* woken, not interrupted */
  assert_int_equal(sa_gr(e, 8), 1);
  assert_int_equal(c->cr[CR_IRR0 + 1], 1ull << (0x62 - 64) | 1ull << (0x52 - 64));
}

/* ---- The interval timer ---------------------------------------------------------------------------- */

static void test_the_itc_follows_the_guest_clock_and_a_write_moves_its_offset(void **state) {
  sa_env *e = *state;
  e->now = 1000;
  sa_setgr(e, 2, 5000);
  sa_psr(e, 0);
  sa_code(e, CODE, "mov r8=ar.itc ;; mov ar.itc=r2 ;; mov r9=ar.itc");
  sa_expect_done(e, sa_run(e, CODE, 100));
  assert_int_equal(sa_gr(e, 8), 1000);
  assert_int_equal(sa_gr(e, 9), 5000);
  e->now = 1500;
  assert_int_equal(ia64_itc(&e->cpu), 5500);
}

static void test_the_timer_pends_itv_when_itc_reaches_itm(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  ext_handler(e);
  sa_asm(e, CODE2, spin);
  e->now = 100;
  sa_setgr(e, 2, 0xef);                              /* itv: vector 0xef, unmasked */
  sa_setgr(e, 3, 2100);
  sa_setgr(e, 4, 1100);
  sa_psr(e, P_IC);
  sa_code(e, CODE, "mov ar.itc=r4 ;; mov cr.itv=r2 ;; mov cr.itm=r3");  /* itc 1100 at clock 100 */
  sa_expect_done(e, sa_run(e, CODE, 100));
  assert_true(e->narm >= 1);
  assert_int_equal(e->armed_at, 1100);               /* clock value at which itc = itm */
  sa_psr(e, P_IC | P_I);
  e->now = 1099;
  ia64_timer_kick(c);
  assert_int_equal(sa_run(e, CODE2, 300), IA64_STOP_LIMIT);
  e->now = 1100;
  ia64_timer_kick(c);
  sa_expect_done(e, sa_run(e, CODE2, 300));
  assert_int_equal(sa_gr(e, 8), 0xef);
}

static void test_a_masked_itv_or_an_itm_in_the_past_pends_nothing(void **state) {
  sa_env *e = *state;
  ia64_cpu *c = &e->cpu;
  ext_handler(e);
  sa_asm(e, CODE2, spin);
  e->now = 500;
  sa_setgr(e, 2, 0xef | 1 << 16);                    /* masked */
  sa_setgr(e, 3, 600);
  sa_psr(e, P_IC);
  sa_code(e, CODE, "mov cr.itv=r2 ;; mov cr.itm=r3");
  sa_expect_done(e, sa_run(e, CODE, 100));
  e->now = 700;
  ia64_timer_kick(c);
  sa_psr(e, P_IC | P_I);
  assert_int_equal(sa_run(e, CODE2, 300), IA64_STOP_LIMIT);
  assert_int_equal(c->cr[CR_IRR0 + 3], 0);
  /* Unmasked, but ITM already behind ITC: the match never comes (until ITC wraps). */
  sa_setgr(e, 2, 0xef);
  sa_setgr(e, 3, 650);
  sa_psr(e, P_IC);
  sa_expect_done(e, sa_run(e, CODE, 100));
  assert_int_equal(e->armed_at, UINT64_MAX);
  e->now = 800;
  ia64_timer_kick(c);
  sa_psr(e, P_IC | P_I);
  assert_int_equal(sa_run(e, CODE2, 300), IA64_STOP_LIMIT);
}

static void test_reading_the_itc_past_itm_is_enough_to_take_the_timer(void **state) {
  sa_env *e = *state;
  ext_handler(e);
  e->now = 0;
  sa_setgr(e, 2, 0xd0);
  sa_setgr(e, 3, 50);
  sa_psr(e, P_IC);
  sa_code(e, CODE, "mov cr.itv=r2 ;; mov cr.itm=r3");
  sa_expect_done(e, sa_run(e, CODE, 100));
  sa_asm(e, CODE2, "1: { .mib\n mov r20=ar.itc\n nop.i 0\n br.cond.sptk.few 1b ;; }");
  sa_psr(e, P_IC | P_I);
  assert_int_equal(sa_run(e, CODE2, 300), IA64_STOP_LIMIT);
  e->now = 60;                                       /* no kick from the platform */
  sa_expect_done(e, sa_run(e, CODE2, 300));
  assert_int_equal(sa_gr(e, 8), 0xd0);
  assert_int_equal(sa_gr(e, 20), 60);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, sa_setup, sa_teardown)
  const struct CMUnitTest tests[] = {
    T(test_every_vector_goes_to_iva_plus_its_offset_with_its_registers),
    T(test_delivery_takes_be_and_pp_from_dcr),
    T(test_delivery_with_collection_off_writes_only_isr_with_ni),
    T(test_data_nested_tlb_writes_no_interruption_register),
    T(test_an_instruction_fetch_fault_reports_the_slot_it_resumes_at),
    T(test_a_break_goes_through_the_ivt_and_rfi_resumes_at_the_next_slot),
    T(test_cover_saves_the_frame_in_ifs_and_rfi_restores_it),
    T(test_bsw_swaps_r16_to_r31_with_their_nat_bits),
    T(test_a_tlb_miss_handler_inserts_the_translation_and_the_load_is_retried),
    T(test_resync_after_a_restore_resumes_halt_and_stepping),
    T(test_single_step_traps_after_each_instruction),
    T(test_taken_branch_traps_with_iip_at_the_target),
    T(test_a_branch_demoting_privilege_traps_when_psr_lp),
    T(test_psr_ia_lets_one_instruction_run_from_a_page_without_its_access_bit),
    T(test_a_pended_interrupt_is_taken_at_a_branch_while_psr_i),
    T(test_psr_i_clear_holds_the_interrupt_until_ssm),
    T(test_tpr_masks_vector_classes_and_ivr_answers_spurious),
    T(test_in_service_vectors_mask_equal_and_lower_priorities_until_eoi),
    T(test_tpr_mmi_masks_everything_but_nmi),
    T(test_only_a_higher_priority_interrupt_nests_over_one_in_service),
    T(test_an_interrupt_from_another_thread_wakes_a_halted_cpu),
    T(test_halt_ends_on_an_unmasked_interrupt_even_with_psr_i_clear),
    T(test_the_itc_follows_the_guest_clock_and_a_write_moves_its_offset),
    T(test_the_timer_pends_itv_when_itc_reaches_itm),
    T(test_a_masked_itv_or_an_itm_in_the_past_pends_nothing),
    T(test_reading_the_itc_past_itm_is_enough_to_take_the_timer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
