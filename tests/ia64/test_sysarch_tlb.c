/* test_sysarch_tlb.c — address translation as the architecture defines it (SDM vol. 2 ch. 4):
 * physical mode, translation registers and caches inserted by itc/itr, every page size,
 * overlapping inserts, purges (and that the CPU's software TLB forgets what they purge),
 * region ids, protection keys, access rights at every privilege level, access and dirty
 * bits, tpa/tak/probe/thash/ttag, and the VHPT walker in short and long format.
 *
 * Expected values are worked by hand from the SDM's definitions (the rights table, thash's
 * short-format formula, the fault priorities); the long-format hash is this
 * implementation's own (tlb.c: index = hpn ^ rid * 0x9e3779b1, tag = hpn ^ rid << 39). */
#include "test_sysarch.h"

#define CODE 0x10000ull               /* where snippets run, physical */
#define R1 0x2000000000000000ull      /* region 1 */
#define R2 0x4000000000000000ull
#define R3 0x6000000000000000ull
#define R7 0xe000000000000000ull

/* ia64_translate: 0, or the vector of the fault it raised. */
static int xl(sa_env *e, uint64_t va, unsigned acc, ia64_pxlat *px) {
  ia64_pxlat tmp;
  return ia64_translate(&e->cpu, va, acc, px ? px : &tmp) < 0 ? e->cpu.intr.vector : 0;
}

static void dtc(sa_env *e, uint64_t va, uint64_t pte, uint64_t itir) {
  assert_int_equal(ia64_tlb_insert(&e->cpu, false, -1, va, pte, itir), 0);
}

/* ---- Physical mode --------------------------------------------------------------------------- */

static void test_physical_mode_maps_address_to_itself_and_bit_63_to_uncacheable(void **state) {
  sa_env *e = *state;
  ia64_pxlat px;
  sa_psr(e, 0);
  assert_int_equal(xl(e, 0x123456, IA64_ACC_R, &px), 0);
  assert_int_equal(px.pa, 0x123456);
  assert_int_equal(px.ma, IA64_MA_WB);
  assert_int_equal(px.perms, IA64_ACC_R | IA64_ACC_W | IA64_ACC_X);
  assert_int_equal(xl(e, 0x8000000000001008ull, IA64_ACC_W, &px), 0);
  assert_int_equal(px.pa, 0x1008);
  assert_int_equal(px.ma, IA64_MA_UC);
  /* Through the run loop: the uncacheable load goes to io(), the cacheable one to RAM. */
  sa_st8(e, 0x3000, 0x1122334455667788ull);
  sa_code(e, CODE, "movl r2=0x8000000000001000 ;; ld8 r8=[r2] ;; movl r3=0x3000 ;; ld8 r9=[r3]");
  sa_expect_done(e, sa_run(e, CODE, 100));
  assert_int_equal(sa_gr(e, 8), SA_IO_VALUE);
  assert_int_equal(sa_gr(e, 9), 0x1122334455667788ull);
  assert_int_equal(e->nio, 1);
  assert_int_equal(e->io[0].va, 0x8000000000001000ull);
  assert_int_equal(e->io[0].size, 8);
}

static void test_physical_mode_unimplemented_address_bits_fault(void **state) {
  sa_env *e = *state;
  sa_psr(e, 0);
  /* Bits 62:50 are beyond the 50 implemented physical address bits: Unimplemented Data
   * Address fault, General Exception code 3. */
  assert_int_equal(xl(e, 1ull << 50 | 0x10, IA64_ACC_W, NULL), IA64_VEC_GENERAL_EXCEPTION);
  assert_int_equal(e->cpu.intr.isr, 0x30 | IA64_ISR_W);
  assert_int_equal(e->cpu.intr.ifa, 1ull << 50 | 0x10);
  assert_int_equal(xl(e, 0x8000000000000000ull | 1ull << 62, IA64_ACC_R, NULL), IA64_VEC_GENERAL_EXCEPTION);
}

/* ---- Inserts -------------------------------------------------------------------------------- */

static void test_itc_d_inserts_a_translation_the_next_load_uses(void **state) {
  sa_env *e = *state;
  e->cpu.rr[1] = sa_rr(0x123, 14, false);
  sa_st8(e, 0x200120, 0xfeedfacecafebeefull);
  sa_setgr(e, 2, R1 | 0x4000);                  /* cr.ifa: the 16K page at 0x4000 */
  sa_setgr(e, 3, sa_itir(14, 0));
  sa_setgr(e, 4, sa_pte(0x200000, 2, 0));
  sa_setgr(e, 5, R1 | 0x4120);
  sa_psr(e, P_DT);                               /* data translated, code physical, ic off */
  sa_code(e, CODE, "mov cr.ifa=r2 ;; mov cr.itir=r3 ;; itc.d r4 ;; srlz.d ;; ld8 r8=[r5]");
  sa_expect_done(e, sa_run(e, CODE, 100));
  assert_int_equal(sa_gr(e, 8), 0xfeedfacecafebeefull);
}

static void test_a_miss_with_the_walker_off_is_an_alternate_tlb_fault(void **state) {
  sa_env *e = *state;
  e->cpu.rr[1] = sa_rr(0x123, 14, false);
  sa_psr(e, P_DT | P_IC);
  assert_int_equal(xl(e, R1 | 0x8888, IA64_ACC_R, NULL), IA64_VEC_ALT_DATA_TLB);
  assert_int_equal(e->cpu.intr.isr, IA64_ISR_R);
  assert_int_equal(e->cpu.intr.ifa, R1 | 0x8888);
  sa_psr(e, P_DT | P_IT | P_IC);
  assert_int_equal(xl(e, R1 | 0x8880, IA64_ACC_X, NULL), IA64_VEC_ALT_INST_TLB);
  assert_int_equal(e->cpu.intr.isr, IA64_ISR_X);
}

static void test_a_data_miss_with_psr_ic_clear_is_data_nested_tlb(void **state) {
  sa_env *e = *state;
  sa_psr(e, P_DT);
  assert_int_equal(xl(e, R1 | 0x8888, IA64_ACC_W, NULL), IA64_VEC_DATA_NESTED_TLB);
  /* An instruction fetch has no nested variant. */
  sa_psr(e, P_IT);
  assert_int_equal(xl(e, R1 | 0x8880, IA64_ACC_X, NULL), IA64_VEC_ALT_INST_TLB);
}

static void test_every_page_size_translates_its_whole_range_and_nothing_beyond(void **state) {
  sa_env *e = *state;
  static const unsigned sizes[] = {12, 13, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32};
  e->cpu.rr[2] = sa_rr(0x42, 12, false);
  sa_psr(e, P_DT | P_IC);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    unsigned ps = sizes[i];
    uint64_t size = 1ull << ps, va = R2 | 5 * size, ppn = ps <= 24 ? 1ull << 24 : 1ull << ps;
    ia64_tlb_purge_all_tc(&e->cpu);
    dtc(e, va + size / 2, sa_pte(ppn, 2, 0), sa_itir(ps, 0));   /* ifa anywhere in the page */
    ia64_pxlat px;
    assert_int_equal(xl(e, va, IA64_ACC_R, &px), 0);
    assert_int_equal(px.pa, ppn);
    assert_int_equal(px.ps, ps);
    assert_int_equal(xl(e, va + size - 8, IA64_ACC_W, &px), 0);
    assert_int_equal(px.pa, ppn + size - 8);
    assert_int_equal(xl(e, va + size, IA64_ACC_R, NULL), IA64_VEC_ALT_DATA_TLB);
    assert_int_equal(xl(e, va - 1, IA64_ACC_R, NULL), IA64_VEC_ALT_DATA_TLB);
  }
}

static void test_insert_with_an_unsupported_page_size_or_reserved_field_faults(void **state) {
  sa_env *e = *state;
  static const unsigned bad[] = {0, 11, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33, 63};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(ia64_tlb_insert(&e->cpu, false, -1, R1, sa_pte(0, 2, 0), sa_itir(bad[i], 0)), -1);
    assert_int_equal(e->cpu.intr.vector, IA64_VEC_GENERAL_EXCEPTION);
    assert_int_equal(e->cpu.intr.isr, IA64_GE_RESERVED_REG);
  }
  /* Reserved: pte bit 1, bits 51:50, memory attributes 1-3, itir bits 1:0 and 63:32. */
  assert_int_equal(ia64_tlb_insert(&e->cpu, false, -1, R1, sa_pte(0, 2, 0) | 2, sa_itir(12, 0)), -1);
  assert_int_equal(ia64_tlb_insert(&e->cpu, false, -1, R1, sa_pte(0, 2, 0) | 1ull << 50, sa_itir(12, 0)), -1);
  assert_int_equal(ia64_tlb_insert(&e->cpu, true, -1, R1, sa_pte(0, 2, 0) | PTE_MA(2), sa_itir(12, 0)), -1);
  assert_int_equal(ia64_tlb_insert(&e->cpu, false, -1, R1, sa_pte(0, 2, 0), sa_itir(12, 0) | 1), -1);
  assert_int_equal(ia64_tlb_insert(&e->cpu, false, -1, R1, sa_pte(0, 2, 0), sa_itir(12, 0) | 1ull << 32), -1);
  /* A not-present entry's fields are the OS's: no reserved-field check on them. */
  assert_int_equal(ia64_tlb_insert(&e->cpu, false, -1, R1, 0xffffull << 48 | PTE_MA(2) | 2, sa_itir(12, 0)), 0);
  /* A translation register that does not exist. */
  assert_int_equal(ia64_tlb_insert(&e->cpu, false, 8, R1, sa_pte(0, 2, 0), sa_itir(12, 0)), -1);
}

static void test_itc_with_reserved_fields_raises_reserved_register_field_from_code(void **state) {
  sa_env *e = *state;
  sa_setgr(e, 3, sa_itir(15, 0));
  sa_setgr(e, 4, sa_pte(0x200000, 2, 0));
  sa_setgr(e, 5, 9);
  sa_setgr(e, 6, sa_itir(12, 0));
  sa_psr(e, 0);
  sa_code(e, CODE, "mov cr.itir=r3 ;; itc.i r4");
  ia64_stop st = sa_run(e, CODE, 100);
  sa_expect_stop(e, st, IA64_VEC_GENERAL_EXCEPTION);
  assert_int_equal(e->cpu.intr.isr & 0xff, IA64_GE_RESERVED_REG);
  sa_code(e, CODE, "mov cr.itir=r6 ;; itr.d dtr[r5]=r4");   /* dtr9: no such register */
  st = sa_run(e, CODE, 100);
  sa_expect_stop(e, st, IA64_VEC_GENERAL_EXCEPTION);
  assert_int_equal(e->cpu.intr.isr & 0xff, IA64_GE_RESERVED_REG);
}

static void test_an_insert_replaces_the_translations_it_overlaps(void **state) {
  sa_env *e = *state;
  ia64_pxlat px;
  e->cpu.rr[1] = sa_rr(7, 12, false);
  sa_psr(e, P_DT | P_IC);
  dtc(e, R1 | 0x40000, sa_pte(0x100000, 2, 0), sa_itir(16, 0));        /* 64K at 0x40000 */
  assert_int_equal(xl(e, R1 | 0x48000, IA64_ACC_R, &px), 0);
  assert_int_equal(px.pa, 0x108000);
  dtc(e, R1 | 0x43000, sa_pte(0x700000, 2, 0), sa_itir(12, 0));        /* 4K inside it */
  assert_int_equal(xl(e, R1 | 0x48000, IA64_ACC_R, NULL), IA64_VEC_ALT_DATA_TLB);
  assert_int_equal(xl(e, R1 | 0x43010, IA64_ACC_R, &px), 0);
  assert_int_equal(px.pa, 0x700010);
  /* A translation register purges the TC entries it overlaps. */
  assert_int_equal(ia64_tlb_insert(&e->cpu, false, 3, R1 | 0x40000, sa_pte(0x900000, 2, 0), sa_itir(18, 0)), 0);
  assert_int_equal(xl(e, R1 | 0x43010, IA64_ACC_R, &px), 0);
  assert_int_equal(px.pa, 0x903010);
}

/* ---- Purges and the software TLB ---------------------------------------------------------------- */

static void test_a_purge_of_one_page_drops_every_cached_piece_of_a_large_page(void **state) {
  sa_env *e = *state;
  e->cpu.rr[1] = sa_rr(9, 12, false);
  sa_psr(e, P_DT | P_IC);
  dtc(e, R1, sa_pte(0, 2, 0), sa_itir(24, 0));     /* 16M at region 1 offset 0 -> pa 0 */
  sa_st8(e, 0x1000, 11);
  sa_st8(e, 0x200000, 22);
  sa_setgr(e, 2, R1 | 0x1000);
  sa_setgr(e, 3, R1 | 0x200000);
  sa_setgr(e, 4, R1 | 0xfff000);                     /* the page's last 4K */
  sa_setgr(e, 5, 12 << 2);
  /* Both loads fill the software TLB; the purge of the last 4K overlaps the 16M entry, so
   * the reload of the first address must miss again. */
  sa_code(e, CODE, "ld8 r8=[r2] ;; ld8 r9=[r3] ;; ptc.l r4,r5 ;; srlz.d ;; ld8 r10=[r2]");
  ia64_stop st = sa_run(e, CODE, 100);
  sa_expect_stop(e, st, IA64_VEC_ALT_DATA_TLB);
  assert_int_equal(e->cpu.intr.ifa, R1 | 0x1000);
  assert_int_equal(sa_gr(e, 8), 11);
  assert_int_equal(sa_gr(e, 9), 22);
}

static void test_a_replaced_tc_entry_leaves_no_piece_in_the_software_tlb(void **state) {
  sa_env *e = *state;
  e->cpu.rr[1] = sa_rr(9, 12, false);
  e->cpu.rr[2] = sa_rr(10, 12, false);
  sa_psr(e, P_DT | P_IC);
  dtc(e, R1 | 0x5000, sa_pte(0x5000, 2, 0), sa_itir(12, 0));
  sa_st8(e, 0x5008, 55);
  uint64_t v = 0;
  assert_int_equal(ia64_read_mem(&e->cpu, R1 | 0x5008, &v, 8), 0);   /* now in the software TLB */
  assert_int_equal(v, 55);
  /* Fill the translation cache through region 2 (another region id, so the software TLB's
   * region-1 piece stays) until the entry has been replaced. */
  uint64_t i = 0;
  while (xl(e, R1 | 0x5008, IA64_ACC_R, NULL) == 0 && i < 100000) {
    if ((++i & (IA64_STLB_SIZE - 1)) == 5) continue;  /* keep off the piece's software-TLB slot */
    dtc(e, R2 | i << 12, sa_pte(0x5000, 2, 0), sa_itir(12, 0));
  }
  assert_int_equal(xl(e, R1 | 0x5008, IA64_ACC_R, NULL), IA64_VEC_ALT_DATA_TLB);
  /* The software TLB never holds more than the guest TLB: what the guest sees does not
   * depend on it (a restored VM starts with an empty one; the dirty log revokes pieces). */
  assert_int_equal(ia64_read_mem(&e->cpu, R1 | 0x5008, &v, 8), -1);
  assert_int_equal(e->cpu.intr.vector, IA64_VEC_ALT_DATA_TLB);
}

static void test_ptc_e_purges_every_tc_entry_but_no_translation_register(void **state) {
  sa_env *e = *state;
  e->cpu.rr[1] = sa_rr(9, 12, false);
  sa_psr(e, P_DT | P_IC);
  dtc(e, R1 | 0x5000, sa_pte(0x5000, 2, 0), sa_itir(12, 0));
  assert_int_equal(ia64_tlb_insert(&e->cpu, true, -1, R1 | 0x6000, sa_pte(0x6000, 3, 0), sa_itir(12, 0)), 0);
  assert_int_equal(ia64_tlb_insert(&e->cpu, false, 0, R1 | 0x7000, sa_pte(0x7000, 2, 0), sa_itir(12, 0)), 0);
  sa_psr(e, 0);
  sa_code(e, CODE, "ptc.e r0 ;; srlz.i");
  sa_expect_done(e, sa_run(e, CODE, 100));
  sa_psr(e, P_DT | P_IT | P_IC);
  assert_int_equal(xl(e, R1 | 0x5000, IA64_ACC_R, NULL), IA64_VEC_ALT_DATA_TLB);
  assert_int_equal(xl(e, R1 | 0x6000, IA64_ACC_X, NULL), IA64_VEC_ALT_INST_TLB);
  assert_int_equal(xl(e, R1 | 0x7000, IA64_ACC_R, NULL), 0);
}

static void test_ptc_l_purges_both_caches_and_ptr_purges_one_side_registers(void **state) {
  sa_env *e = *state;
  e->cpu.rr[1] = sa_rr(9, 12, false);
  sa_psr(e, P_DT | P_IT | P_IC);
  dtc(e, R1 | 0x5000, sa_pte(0x5000, 2, 0), sa_itir(12, 0));
  assert_int_equal(ia64_tlb_insert(&e->cpu, true, -1, R1 | 0x5000, sa_pte(0x5000, 3, 0), sa_itir(12, 0)), 0);
  assert_int_equal(ia64_tlb_insert(&e->cpu, false, 1, R1 | 0x10000, sa_pte(0x10000, 2, 0), sa_itir(16, 0)), 0);
  assert_int_equal(ia64_tlb_insert(&e->cpu, true, 1, R1 | 0x10000, sa_pte(0x10000, 3, 0), sa_itir(16, 0)), 0);
  ia64_tlb_purge(&e->cpu, IA64_PURGE_TC, R1 | 0x5000, 12);          /* ptc.l */
  assert_int_equal(xl(e, R1 | 0x5000, IA64_ACC_R, NULL), IA64_VEC_ALT_DATA_TLB);
  assert_int_equal(xl(e, R1 | 0x5000, IA64_ACC_X, NULL), IA64_VEC_ALT_INST_TLB);
  ia64_tlb_purge(&e->cpu, IA64_PURGE_TC, R1 | 0x10000, 12);         /* ptc.l leaves TRs */
  assert_int_equal(xl(e, R1 | 0x18000, IA64_ACC_R, NULL), 0);
  sa_setgr(e, 2, R1 | 0x1f000);
  sa_setgr(e, 3, 12 << 2);
  sa_psr(e, P_DT | P_IC);
  sa_code(e, CODE, "ptr.d r2,r3 ;; srlz.d");                      /* overlaps the 64K DTR */
  sa_expect_done(e, sa_run(e, CODE, 100));
  sa_psr(e, P_DT | P_IT | P_IC);
  assert_int_equal(xl(e, R1 | 0x18000, IA64_ACC_R, NULL), IA64_VEC_ALT_DATA_TLB);
  assert_int_equal(xl(e, R1 | 0x18000, IA64_ACC_X, NULL), 0);      /* the ITR stays */
}

static void test_ptc_g_purges_here_and_asks_the_platform_to_purge_the_others(void **state) {
  sa_env *e = *state;
  e->cpu.rr[3] = sa_rr(0x777, 12, false);
  sa_psr(e, P_DT | P_IC);
  dtc(e, R3 | 0x9000, sa_pte(0x9000, 2, 0), sa_itir(12, 0));
  sa_setgr(e, 2, R3 | 0x9000);
  sa_setgr(e, 3, 13 << 2);
  sa_psr(e, 0);
  sa_code(e, CODE, "ptc.g r2,r3 ;; ptc.ga r2,r3 ;; ptc.l r2,r3");
  sa_expect_done(e, sa_run(e, CODE, 100));
  assert_int_equal(e->nptcg, 2);                 /* the local form asks nobody */
  assert_int_equal(e->ptcg_rid, 0x777);
  assert_int_equal(e->ptcg_va, R3 | 0x9000);
  assert_int_equal(e->ptcg_ps, 13);
  sa_psr(e, P_DT | P_IC);
  assert_int_equal(xl(e, R3 | 0x9000, IA64_ACC_R, NULL), IA64_VEC_ALT_DATA_TLB);
  /* What the platform runs on another vCPU: the purge by region id. */
  dtc(e, R3 | 0x9000, sa_pte(0x9000, 2, 0), sa_itir(12, 0));
  ia64_tlb_purge_remote(&e->cpu, 0x777, R3 | 0x8000, 13);
  assert_int_equal(xl(e, R3 | 0x9000, IA64_ACC_R, NULL), IA64_VEC_ALT_DATA_TLB);
}

/* ---- Regions ------------------------------------------------------------------------------------ */

static void test_the_region_id_not_the_region_number_selects_a_translation(void **state) {
  sa_env *e = *state;
  ia64_pxlat px;
  e->cpu.rr[1] = sa_rr(0xabc, 12, false);
  e->cpu.rr[3] = sa_rr(0x111, 12, false);
  sa_psr(e, P_DT | P_IC);
  dtc(e, R1 | 0x3000, sa_pte(0x3000, 2, 0), sa_itir(12, 0));
  assert_int_equal(xl(e, R3 | 0x3000, IA64_ACC_R, NULL), IA64_VEC_ALT_DATA_TLB);
  /* Region 3 with the same region id reaches the same translation. */
  sa_setgr(e, 2, R3);
  sa_setgr(e, 3, sa_rr(0xabc, 12, false));
  sa_setgr(e, 4, R1);
  sa_setgr(e, 5, sa_rr(0xdef, 12, false));
  sa_psr(e, 0);
  sa_code(e, CODE, "mov rr[r2]=r3 ;; mov rr[r4]=r5 ;; srlz.d");
  sa_expect_done(e, sa_run(e, CODE, 100));
  sa_psr(e, P_DT | P_IC);
  assert_int_equal(xl(e, R3 | 0x3008, IA64_ACC_R, &px), 0);
  assert_int_equal(px.pa, 0x3008);
  assert_int_equal(xl(e, R1 | 0x3008, IA64_ACC_R, NULL), IA64_VEC_ALT_DATA_TLB);
}

static void test_a_region_register_write_drops_cached_translations(void **state) {
  sa_env *e = *state;
  e->cpu.rr[1] = sa_rr(0xabc, 12, false);
  sa_psr(e, P_DT | P_IC);
  dtc(e, R1 | 0x3000, sa_pte(0x3000, 2, 0), sa_itir(12, 0));
  sa_st8(e, 0x3000, 33);
  sa_setgr(e, 2, R1 | 0x3000);
  sa_setgr(e, 3, sa_rr(0xabd, 12, false));
  e->cpu.psr &= ~P_IC;
  sa_code(e, CODE, "ld8 r8=[r2] ;; mov rr[r2]=r3 ;; srlz.d ;; ld8 r9=[r2]");
  ia64_stop st = sa_run(e, CODE, 100);
  sa_expect_stop(e, st, IA64_VEC_DATA_NESTED_TLB);     /* psr.ic is 0 here */
  assert_int_equal(sa_gr(e, 8), 33);
}

/* ---- Protection keys ------------------------------------------------------------------------------ */

static void test_protection_keys_miss_and_permission(void **state) {
  sa_env *e = *state;
  e->cpu.rr[1] = sa_rr(0x10, 12, false);
  sa_psr(e, P_DT | P_IT | P_IC);
  dtc(e, R1 | 0x3000, sa_pte(0x3000, 3, 0), sa_itir(12, 0x4242));
  assert_int_equal(ia64_tlb_insert(&e->cpu, true, -1, R1 | 0x3000, sa_pte(0x3000, 3, 0), sa_itir(12, 0x4242)), 0);
  /* Keys are not checked while psr.pk is 0. */
  assert_int_equal(xl(e, R1 | 0x3000, IA64_ACC_R, NULL), 0);
  sa_psr(e, P_DT | P_IT | P_IC | P_PK);
  assert_int_equal(xl(e, R1 | 0x3000, IA64_ACC_R, NULL), IA64_VEC_DATA_KEY_MISS);
  assert_int_equal(e->cpu.intr.isr, IA64_ISR_R);
  assert_int_equal(xl(e, R1 | 0x3000, IA64_ACC_X, NULL), IA64_VEC_INST_KEY_MISS);
  assert_int_equal(e->cpu.intr.isr, IA64_ISR_X);
  /* pkr: key 31:8, xd 3, rd 2, wd 1, v 0. */
  e->cpu.pkr[5] = 0x4242ull << 8 | 4 | 1;                 /* read disabled */
  ia64_stlb_flush(&e->cpu);
  assert_int_equal(xl(e, R1 | 0x3000, IA64_ACC_R, NULL), IA64_VEC_KEY_PERMISSION);
  assert_int_equal(xl(e, R1 | 0x3000, IA64_ACC_W, NULL), 0);
  assert_int_equal(xl(e, R1 | 0x3000, IA64_ACC_X, NULL), 0);
  e->cpu.pkr[5] = 0x4242ull << 8 | 2 | 1;                 /* write disabled */
  ia64_pxlat px;
  assert_int_equal(xl(e, R1 | 0x3000, IA64_ACC_W, NULL), IA64_VEC_KEY_PERMISSION);
  assert_int_equal(e->cpu.intr.isr, IA64_ISR_W);
  assert_int_equal(xl(e, R1 | 0x3000, IA64_ACC_R, &px), 0);
  assert_int_equal(px.perms, IA64_ACC_R | IA64_ACC_X);   /* what the software TLB may keep */
  e->cpu.pkr[5] = 0x4242ull << 8 | 8 | 1;                 /* execute disabled */
  assert_int_equal(xl(e, R1 | 0x3000, IA64_ACC_X, NULL), IA64_VEC_KEY_PERMISSION);
  assert_int_equal(e->cpu.intr.isr, IA64_ISR_X);
  e->cpu.pkr[5] = 0x4242ull << 8 | 8;                     /* not valid: a miss again */
  assert_int_equal(xl(e, R1 | 0x3000, IA64_ACC_R, NULL), IA64_VEC_DATA_KEY_MISS);
}

static void test_a_key_register_write_drops_cached_translations(void **state) {
  sa_env *e = *state;
  e->cpu.rr[1] = sa_rr(0x10, 12, false);
  e->cpu.pkr[0] = 0x99ull << 8 | 1;
  sa_psr(e, P_DT | P_PK | P_IC);
  dtc(e, R1 | 0x3000, sa_pte(0x3000, 2, 0), sa_itir(12, 0x99));
  sa_setgr(e, 2, R1 | 0x3000);
  sa_setgr(e, 3, 0x99ull << 8 | 4 | 1);
  e->cpu.psr &= ~P_IC;
  sa_code(e, CODE, "ld8 r8=[r2] ;; mov pkr[r0]=r3 ;; srlz.d ;; ld8 r9=[r2]");
  sa_expect_stop(e, sa_run(e, CODE, 100), IA64_VEC_KEY_PERMISSION);
}

/* ---- Access rights ---------------------------------------------------------------------------------- */

/* The SDM's page access rights table: for each ar and pl, what cpl 3, 2, 1, 0 may do
 * ('-' nothing). ar 7 is execute-only (with promotion through epc) above cpl 0. */
static const char *const rights_table[8][4][4] = {
  /* pl:     3                           2                          1                          0 */
  {{"R", "R", "R", "R"}, {"-", "R", "R", "R"}, {"-", "-", "R", "R"}, {"-", "-", "-", "R"}},
  {{"RX", "RX", "RX", "RX"}, {"-", "RX", "RX", "RX"}, {"-", "-", "RX", "RX"}, {"-", "-", "-", "RX"}},
  {{"RW", "RW", "RW", "RW"}, {"-", "RW", "RW", "RW"}, {"-", "-", "RW", "RW"}, {"-", "-", "-", "RW"}},
  {{"RWX", "RWX", "RWX", "RWX"}, {"-", "RWX", "RWX", "RWX"}, {"-", "-", "RWX", "RWX"}, {"-", "-", "-", "RWX"}},
  {{"R", "RW", "RW", "RW"}, {"-", "R", "RW", "RW"}, {"-", "-", "R", "RW"}, {"-", "-", "-", "RW"}},
  {{"RX", "RX", "RX", "RWX"}, {"-", "RX", "RX", "RWX"}, {"-", "-", "RX", "RWX"}, {"-", "-", "-", "RWX"}},
  {{"RWX", "RW", "RW", "RW"}, {"-", "RWX", "RW", "RW"}, {"-", "-", "RWX", "RW"}, {"-", "-", "-", "RW"}},
  {{"X", "X", "X", "RX"}, {"X", "X", "X", "RX"}, {"X", "X", "X", "RX"}, {"X", "X", "X", "RX"}},
};

static void test_access_rights_at_each_privilege_level_follow_the_sdm_table(void **state) {
  sa_env *e = *state;
  e->cpu.rr[1] = sa_rr(0x10, 12, false);
  for (unsigned ar = 0; ar < 8; ar++)
    for (unsigned pl = 0; pl < 4; pl++) {
      ia64_tlb_purge_all_tc(&e->cpu);
      dtc(e, R1 | 0x3000, sa_pte(0x3000, ar, pl), sa_itir(12, 0));
      assert_int_equal(ia64_tlb_insert(&e->cpu, true, -1, R1 | 0x3000, sa_pte(0x3000, ar, pl), sa_itir(12, 0)), 0);
      for (unsigned cpl = 0; cpl < 4; cpl++) {
        const char *want = rights_table[ar][3 - pl][3 - cpl];
        sa_psr(e, P_DT | P_IT | P_IC | P_CPL(cpl));
        static const struct { unsigned acc; char c; int vec; } k[] = {
          {IA64_ACC_R, 'R', IA64_VEC_DATA_ACCESS_RIGHTS}, {IA64_ACC_W, 'W', IA64_VEC_DATA_ACCESS_RIGHTS},
          {IA64_ACC_X, 'X', IA64_VEC_INST_ACCESS_RIGHTS}};
        for (unsigned i = 0; i < 3; i++) {
          int got = xl(e, R1 | 0x3010, k[i].acc, NULL);
          int expect = strchr(want, k[i].c) ? 0 : k[i].vec;
          if (got != expect)
            fail_msg("ar %u pl %u cpl %u access %c: want %s, got vector 0x%x", ar, pl, cpl, k[i].c, want, got);
        }
      }
    }
}

static void test_a_privilege_change_drops_cached_rights(void **state) {
  sa_env *e = *state;
  e->cpu.rr[1] = sa_rr(0x10, 12, false);
  sa_psr(e, P_DT | P_IC);
  dtc(e, R1 | 0x3000, sa_pte(0x3000, 2, 0), sa_itir(12, 0));    /* kernel data */
  uint64_t v;
  assert_int_equal(ia64_read_mem(&e->cpu, R1 | 0x3000, &v, 8), 0);  /* cached at cpl 0 */
  sa_psr(e, P_DT | P_IC | P_CPL(3));
  assert_int_equal(ia64_read_mem(&e->cpu, R1 | 0x3000, &v, 8), -1);
  assert_int_equal(e->cpu.intr.vector, IA64_VEC_DATA_ACCESS_RIGHTS);
}

/* ---- Access and dirty bits, presence ---------------------------------------------------------------- */

static void test_access_and_dirty_bit_faults(void **state) {
  sa_env *e = *state;
  ia64_pxlat px;
  e->cpu.rr[1] = sa_rr(0x10, 12, false);
  sa_psr(e, P_DT | P_IT | P_IC);
  dtc(e, R1 | 0x3000, sa_pte(0x3000, 3, 0) & ~PTE_D, sa_itir(12, 0));   /* clean */
  assert_int_equal(xl(e, R1 | 0x3000, IA64_ACC_R, &px), 0);
  assert_int_equal(px.perms, IA64_ACC_R | IA64_ACC_X);   /* no write until it is dirty */
  assert_int_equal(xl(e, R1 | 0x3000, IA64_ACC_W, NULL), IA64_VEC_DIRTY_BIT);
  assert_int_equal(e->cpu.intr.isr, IA64_ISR_W);
  dtc(e, R1 | 0x3000, sa_pte(0x3000, 3, 0) & ~PTE_A, sa_itir(12, 0));   /* not accessed */
  assert_int_equal(ia64_tlb_insert(&e->cpu, true, -1, R1 | 0x3000, sa_pte(0x3000, 3, 0) & ~PTE_A, sa_itir(12, 0)), 0);
  assert_int_equal(xl(e, R1 | 0x3000, IA64_ACC_R, NULL), IA64_VEC_DATA_ACCESS_BIT);
  assert_int_equal(xl(e, R1 | 0x3000, IA64_ACC_X, NULL), IA64_VEC_INST_ACCESS_BIT);
  /* Neither bit: the dirty bit fault comes first for a store. */
  dtc(e, R1 | 0x3000, sa_pte(0x3000, 3, 0) & ~(PTE_A | PTE_D), sa_itir(12, 0));
  assert_int_equal(xl(e, R1 | 0x3000, IA64_ACC_W, NULL), IA64_VEC_DIRTY_BIT);
  /* Access rights rank above both. */
  dtc(e, R1 | 0x3000, sa_pte(0x3000, 0, 0) & ~(PTE_A | PTE_D), sa_itir(12, 0));
  assert_int_equal(xl(e, R1 | 0x3000, IA64_ACC_W, NULL), IA64_VEC_DATA_ACCESS_RIGHTS);
}

static void test_psr_da_lets_one_instruction_store_to_a_clean_page(void **state) {
  sa_env *e = *state;
  e->cpu.rr[1] = sa_rr(0x10, 12, false);
  sa_psr(e, P_DT | P_IC);
  dtc(e, R1 | 0x3000, sa_pte(0x3000, 2, 0) & ~PTE_D, sa_itir(12, 0));
  sa_setgr(e, 2, R1 | 0x3000);
  sa_setgr(e, 6, 66);
  sa_setgr(e, 7, 77);
  sa_code(e, CODE, "{ .mii\n st8 [r2]=r6\n nop.i 0\n nop.i 0 ;; }\n{ .mii\n st8 [r2]=r7\n nop.i 0\n nop.i 0 ;; }");
  sa_psr(e, P_DT | P_IC | P_DA);                  /* as rfi leaves it for the retried store */
  ia64_stop st = sa_run(e, CODE, 100);
  sa_expect_stop(e, st, IA64_VEC_DIRTY_BIT);
  assert_int_equal(sa_ld8(e, 0x3000), 66);
  assert_int_equal(e->cpu.intr.iip, CODE + 16);
  assert_false(e->cpu.psr & P_DA);
}

static void test_page_not_present_and_nat_page_faults(void **state) {
  sa_env *e = *state;
  e->cpu.rr[1] = sa_rr(0x10, 12, false);
  sa_psr(e, P_DT | P_IT | P_IC);
  dtc(e, R1 | 0x3000, sa_pte(0x3000, 2, 0) & ~PTE_P, sa_itir(12, 0));
  assert_int_equal(xl(e, R1 | 0x3000, IA64_ACC_R, NULL), IA64_VEC_PAGE_NOT_PRESENT);
  assert_int_equal(e->cpu.intr.isr, IA64_ISR_R);
  assert_int_equal(ia64_tlb_insert(&e->cpu, true, -1, R1 | 0x3000, 0, sa_itir(12, 0)), 0);
  assert_int_equal(xl(e, R1 | 0x3000, IA64_ACC_X, NULL), IA64_VEC_PAGE_NOT_PRESENT);
  assert_int_equal(e->cpu.intr.isr, IA64_ISR_X);
  dtc(e, R1 | 0x3000, sa_pte(0x3000, 2, 0) | PTE_MA(IA64_MA_NATPAGE), sa_itir(12, 0));
  assert_int_equal(xl(e, R1 | 0x3000, IA64_ACC_R, NULL), IA64_VEC_NAT_CONSUMPTION);
  assert_int_equal(e->cpu.intr.isr, 0x20 | IA64_ISR_R);         /* NaT page consumption */
  /* An uncacheable page translates; the platform sends it to io(). */
  dtc(e, R1 | 0x3000, sa_pte(0xf0000000ull, 2, 0) | PTE_MA(IA64_MA_UC), sa_itir(12, 0));
  ia64_pxlat px;
  assert_int_equal(xl(e, R1 | 0x3018, IA64_ACC_W, &px), 0);
  assert_int_equal(px.ma, IA64_MA_UC);
  assert_int_equal(px.pa, 0xf0000018ull);
}

/* ---- tpa, tak, probe ---------------------------------------------------------------------------------- */

static void test_tpa_and_tak(void **state) {
  sa_env *e = *state;
  e->cpu.rr[1] = sa_rr(0x10, 14, false);
  sa_psr(e, P_DT | P_IC);
  dtc(e, R1 | 0x8000, sa_pte(0x40000, 0, 0), sa_itir(14, 0x4321));
  sa_setgr(e, 2, R1 | 0xa468);
  sa_setgr(e, 3, R1 | 0x100000);
  sa_code(e, CODE, "tpa r8=r2 ;; tak r9=r2 ;; tak r10=r3");
  sa_expect_done(e, sa_run(e, CODE, 100));
  assert_int_equal(sa_gr(e, 8), 0x42468);          /* 0x40000 + (0xa468 & 0x3fff) */
  assert_int_equal(sa_gr(e, 9), 0x4321ull << 8);
  assert_int_equal(sa_gr(e, 10), 1);               /* no translation */
  /* tpa of an address without a translation: the miss fault, as a non-access reference. */
  sa_code(e, CODE, "tpa r8=r3");
  sa_expect_stop(e, sa_run(e, CODE, 100), IA64_VEC_ALT_DATA_TLB);
  assert_int_equal(e->cpu.intr.isr, IA64_ISR_NA | 0);
  /* Privileged. */
  sa_psr(e, P_DT | P_IC | P_CPL(2));
  sa_code(e, CODE, "tak r8=r2");
  sa_expect_stop(e, sa_run(e, CODE, 100), IA64_VEC_GENERAL_EXCEPTION);
  assert_int_equal(e->cpu.intr.isr & 0xff, IA64_GE_PRIV_OP);
}

static void test_probe_answers_and_probe_fault_raises(void **state) {
  sa_env *e = *state;
  e->cpu.rr[1] = sa_rr(0x10, 12, false);
  sa_psr(e, P_DT | P_IC);
  dtc(e, R1 | 0x3000, sa_pte(0x3000, 2, 0), sa_itir(12, 0));              /* kernel RW */
  dtc(e, R1 | 0x4000, sa_pte(0x4000, 0, 3) & ~PTE_D, sa_itir(12, 0));     /* user R, clean */
  sa_setgr(e, 2, R1 | 0x3000);
  sa_setgr(e, 3, R1 | 0x4000);
  sa_setgr(e, 4, 3);
  sa_code(e, CODE, "probe.r r8=r2,0 ;; probe.w r9=r2,0 ;; probe.r r10=r2,r4 ;; probe.r r11=r3,3 ;; probe.w r14=r3,r4");
  sa_expect_done(e, sa_run(e, CODE, 100));
  assert_int_equal(sa_gr(e, 8), 1);
  assert_int_equal(sa_gr(e, 9), 1);
  assert_int_equal(sa_gr(e, 10), 0);               /* pl 3 may not read a pl 0 page */
  assert_int_equal(sa_gr(e, 11), 1);
  assert_int_equal(sa_gr(e, 14), 0);               /* read-only */
  /* At cpl 3 a level of 0 is raised to 3. */
  sa_psr(e, P_DT | P_IC | P_CPL(3));
  sa_code(e, CODE, "probe.r r8=r2,0");
  sa_expect_done(e, sa_run(e, CODE, 100));
  assert_int_equal(sa_gr(e, 8), 0);
  /* The fault forms raise what an access would, as non-access references (code 5). */
  sa_psr(e, P_DT | P_IC);
  sa_code(e, CODE, "probe.rw.fault r3,3");
  sa_expect_stop(e, sa_run(e, CODE, 100), IA64_VEC_DATA_ACCESS_RIGHTS);
  assert_int_equal(e->cpu.intr.isr, IA64_ISR_NA | IA64_ISR_R | IA64_ISR_W | 5);
  assert_int_equal(e->cpu.intr.ifa, R1 | 0x4000);
  dtc(e, R1 | 0x4000, sa_pte(0x4000, 2, 3) & ~PTE_D, sa_itir(12, 0));     /* user RW, clean */
  sa_code(e, CODE, "{ .mmi\n probe.r.fault r3,3 ;;\n probe.w.fault r3,3\n nop.i 0 ;; }");
  sa_expect_stop(e, sa_run(e, CODE, 100), IA64_VEC_DIRTY_BIT);
  assert_int_equal(e->cpu.intr.isr, IA64_ISR_NA | IA64_ISR_W | 5 | 1ull << 41);
  /* A miss in the non-fault form still faults. */
  sa_setgr(e, 5, R1 | 0x100000);
  sa_code(e, CODE, "probe.r r8=r5,0");
  sa_expect_stop(e, sa_run(e, CODE, 100), IA64_VEC_ALT_DATA_TLB);
  assert_int_equal(e->cpu.intr.isr, IA64_ISR_NA | IA64_ISR_R | 2);
  /* A NaT address: Register NaT Consumption. */
  ia64_gr_write(&e->cpu, 5, 0, true);
  sa_expect_stop(e, sa_run(e, CODE, 100), IA64_VEC_NAT_CONSUMPTION);
  assert_int_equal(e->cpu.intr.isr, 0x10 | IA64_ISR_NA | IA64_ISR_R | 2);
}

/* ---- thash, ttag and the VHPT walker ---------------------------------------------------------------- */

/* Short format: the region's own linear page table. PTA.base 0x400000, 1 MiB (size 20);
 * rr1: rid 1, 16K pages, walker on. va 0x2000000000123456: hpn = 0x123456 >> 14 = 0x48,
 * offset 0x48 * 8 = 0x240, so thash = region 1 | 0x400000 | 0x240. */
#define SHORT_VA (R1 | 0x123456)
#define SHORT_IHA (R1 | 0x400240)

static void short_vhpt(sa_env *e) {
  e->cpu.rr[1] = sa_rr(1, 14, true);
  e->cpu.cr[CR_PTA] = 0x400000 | 20 << 2 | 1;
  /* The VHPT's page: a 1M DTR at region 1 offset 0x400000 -> pa 0x800000. */
  assert_int_equal(ia64_tlb_insert(&e->cpu, false, 0, R1 | 0x400000, sa_pte(0x800000, 2, 0), sa_itir(20, 0)), 0);
}

static void test_thash_and_ttag_short_format(void **state) {
  sa_env *e = *state;
  short_vhpt(e);
  sa_setgr(e, 2, SHORT_VA);
  ia64_gr_write(&e->cpu, 3, 0, true);
  sa_psr(e, P_CPL(3));                              /* not privileged */
  sa_code(e, CODE, "thash r8=r2 ;; thash r9=r3 ;; ttag r10=r2");
  sa_expect_done(e, sa_run(e, CODE, 100));
  assert_int_equal(sa_gr(e, 8), SHORT_IHA);
  bool nat = false;
  ia64_gr_read(&e->cpu, 9, &nat);
  assert_true(nat);                                 /* a NaT address gives a NaT */
  assert_int_equal(sa_gr(e, 10), 0x48 ^ 1ull << 39);
}

static void test_vhpt_walk_short_format_inserts_the_entry(void **state) {
  sa_env *e = *state;
  short_vhpt(e);
  sa_st8(e, 0x800240, sa_pte(0x300000, 2, 0));
  sa_st8(e, 0x303450, 0xabcdef);
  sa_psr(e, P_DT | P_IC);
  ia64_pxlat px;
  assert_int_equal(xl(e, SHORT_VA, IA64_ACC_R, &px), 0);
  assert_int_equal(px.pa, 0x303456);
  assert_int_equal(px.ps, 14);
  /* It is in the TC now: it stays after the VHPT entry changes. */
  sa_st8(e, 0x800240, 0);
  assert_int_equal(xl(e, SHORT_VA, IA64_ACC_R, &px), 0);
  assert_int_equal(ia64_tlb_tak(&e->cpu, SHORT_VA), 1ull << 8);   /* the region id is the key */
  /* And a load through the run loop reads the page. */
  sa_setgr(e, 2, SHORT_VA & ~7ull);
  sa_code(e, CODE, "ld8 r8=[r2]");
  sa_expect_done(e, sa_run(e, CODE, 100));
  assert_int_equal(sa_gr(e, 8), 0xabcdef);
}

static void test_vhpt_walk_without_the_vhpt_translation_is_a_vhpt_fault(void **state) {
  sa_env *e = *state;
  short_vhpt(e);
  ia64_tlb_purge(&e->cpu, IA64_PURGE_DTR, R1 | 0x400000, 20);
  sa_psr(e, P_DT | P_IC);
  assert_int_equal(xl(e, SHORT_VA, IA64_ACC_W, NULL), IA64_VEC_VHPT_TRANSLATION);
  assert_int_equal(e->cpu.intr.isr, IA64_ISR_W);
  assert_int_equal(e->cpu.intr.ifa, SHORT_VA);
  sa_psr(e, P_DT);
  assert_int_equal(xl(e, SHORT_VA, IA64_ACC_W, NULL), IA64_VEC_DATA_NESTED_TLB);
}

static void test_vhpt_walk_of_an_unusable_entry_is_a_tlb_fault(void **state) {
  sa_env *e = *state;
  short_vhpt(e);
  sa_psr(e, P_DT | P_IC);
  sa_st8(e, 0x800240, sa_pte(0x300000, 2, 0) | PTE_MA(3));      /* reserved attribute */
  assert_int_equal(xl(e, SHORT_VA, IA64_ACC_R, NULL), IA64_VEC_DATA_TLB);
  /* The VHPT's own page not accessed: the walker gives up. */
  sa_st8(e, 0x800240, sa_pte(0x300000, 2, 0));
  assert_int_equal(ia64_tlb_insert(&e->cpu, false, 0, R1 | 0x400000, sa_pte(0x800000, 2, 0) & ~PTE_A, sa_itir(20, 0)), 0);
  assert_int_equal(xl(e, SHORT_VA, IA64_ACC_R, NULL), IA64_VEC_DATA_TLB);
  /* A not-present entry is inserted and then faults as not present. */
  short_vhpt(e);
  sa_st8(e, 0x800240, 0x1230);
  assert_int_equal(xl(e, SHORT_VA, IA64_ACC_R, NULL), IA64_VEC_PAGE_NOT_PRESENT);
  /* With the region's walker off it is the alternate fault again. */
  e->cpu.rr[1] &= ~1ull;
  ia64_tlb_purge_all_tc(&e->cpu);
  assert_int_equal(xl(e, SHORT_VA, IA64_ACC_R, NULL), IA64_VEC_ALT_DATA_TLB);
}

static void test_vhpt_walk_for_instruction_fetch(void **state) {
  sa_env *e = *state;
  short_vhpt(e);
  /* Code at va 0x2000000000124000 (hpn 0x49, entry 0x248) -> pa 0x20000. */
  sa_st8(e, 0x800248, sa_pte(0x20000, 1, 0));
  sa_code(e, 0x20000, "mov r8=42");
  sa_psr(e, P_DT | P_IT | P_IC);
  sa_expect_done(e, sa_run(e, R1 | 0x124000, 100));
  assert_int_equal(sa_gr(e, 8), 42);
  /* Without PSR.ic the instruction walker is off. */
  ia64_tlb_purge_all_tc(&e->cpu);
  sa_psr(e, P_DT | P_IT);
  sa_expect_stop(e, sa_run(e, R1 | 0x124000, 100), IA64_VEC_ALT_INST_TLB);
}

/* Long format: one table in region 7 (PTA{63:61}); 64 KiB (size 16), base 0. rr1: rid 1,
 * 16K pages. For va 0x2000000000123456, hpn 0x48: index 0x48 ^ 0x9e3779b1 = 0x9e3779f9,
 * offset (index << 5) & 0xffff = 0x3f20; tag 0x48 ^ 1 << 39. */
#define LONG_IHA (R7 | 0x3f20)
#define LONG_TAG (0x48 ^ 1ull << 39)

static void long_vhpt(sa_env *e) {
  e->cpu.rr[1] = sa_rr(1, 14, true);
  e->cpu.rr[7] = sa_rr(7, 24, false);
  e->cpu.cr[CR_PTA] = R7 | 1 << 8 | 16 << 2 | 1;
  assert_int_equal(ia64_tlb_insert(&e->cpu, false, 0, R7, sa_pte(0x1000000, 2, 0), sa_itir(24, 0)), 0);
}

static void test_vhpt_walk_long_format(void **state) {
  sa_env *e = *state;
  long_vhpt(e);
  assert_int_equal(ia64_thash(&e->cpu, SHORT_VA), LONG_IHA);
  assert_int_equal(ia64_ttag(&e->cpu, SHORT_VA), LONG_TAG);
  uint64_t entry = 0x1000000 + 0x3f20;
  sa_st8(e, entry, sa_pte(0x300000, 2, 0));
  sa_st8(e, entry + 8, sa_itir(12, 0x55));           /* its own page size and key */
  sa_st8(e, entry + 16, LONG_TAG);
  sa_psr(e, P_DT | P_IC);
  ia64_pxlat px;
  assert_int_equal(xl(e, SHORT_VA, IA64_ACC_R, &px), 0);
  assert_int_equal(px.pa, 0x300456);
  assert_int_equal(px.ps, 12);
  assert_int_equal(ia64_tlb_tak(&e->cpu, SHORT_VA), 0x55ull << 8);
  /* A tag that does not match, or with ti set: Data TLB fault. */
  ia64_tlb_purge_all_tc(&e->cpu);
  sa_st8(e, entry + 16, LONG_TAG ^ 1);
  assert_int_equal(xl(e, SHORT_VA, IA64_ACC_R, NULL), IA64_VEC_DATA_TLB);
  sa_st8(e, entry + 16, LONG_TAG | 1ull << 63);
  assert_int_equal(xl(e, SHORT_VA, IA64_ACC_R, NULL), IA64_VEC_DATA_TLB);
  /* thash/ttag from code agree. */
  sa_setgr(e, 2, SHORT_VA);
  sa_code(e, CODE, "thash r8=r2 ;; ttag r9=r2");
  sa_expect_done(e, sa_run(e, CODE, 100));
  assert_int_equal(sa_gr(e, 8), LONG_IHA);
  assert_int_equal(sa_gr(e, 9), LONG_TAG);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, sa_setup, sa_teardown)
  const struct CMUnitTest tests[] = {
    T(test_physical_mode_maps_address_to_itself_and_bit_63_to_uncacheable),
    T(test_physical_mode_unimplemented_address_bits_fault),
    T(test_itc_d_inserts_a_translation_the_next_load_uses),
    T(test_a_miss_with_the_walker_off_is_an_alternate_tlb_fault),
    T(test_a_data_miss_with_psr_ic_clear_is_data_nested_tlb),
    T(test_every_page_size_translates_its_whole_range_and_nothing_beyond),
    T(test_insert_with_an_unsupported_page_size_or_reserved_field_faults),
    T(test_itc_with_reserved_fields_raises_reserved_register_field_from_code),
    T(test_an_insert_replaces_the_translations_it_overlaps),
    T(test_a_purge_of_one_page_drops_every_cached_piece_of_a_large_page),
    T(test_a_replaced_tc_entry_leaves_no_piece_in_the_software_tlb),
    T(test_ptc_e_purges_every_tc_entry_but_no_translation_register),
    T(test_ptc_l_purges_both_caches_and_ptr_purges_one_side_registers),
    T(test_ptc_g_purges_here_and_asks_the_platform_to_purge_the_others),
    T(test_the_region_id_not_the_region_number_selects_a_translation),
    T(test_a_region_register_write_drops_cached_translations),
    T(test_protection_keys_miss_and_permission),
    T(test_a_key_register_write_drops_cached_translations),
    T(test_access_rights_at_each_privilege_level_follow_the_sdm_table),
    T(test_a_privilege_change_drops_cached_rights),
    T(test_access_and_dirty_bit_faults),
    T(test_psr_da_lets_one_instruction_store_to_a_clean_page),
    T(test_page_not_present_and_nat_page_faults),
    T(test_tpa_and_tak),
    T(test_probe_answers_and_probe_fault_raises),
    T(test_thash_and_ttag_short_format),
    T(test_vhpt_walk_short_format_inserts_the_entry),
    T(test_vhpt_walk_without_the_vhpt_translation_is_a_vhpt_fault),
    T(test_vhpt_walk_of_an_unusable_entry_is_a_tlb_fault),
    T(test_vhpt_walk_for_instruction_fetch),
    T(test_vhpt_walk_long_format),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
