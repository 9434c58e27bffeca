/* test_alu_exec.c — the integer ALU family executed on an ia64_cpu driven directly, for what
 * a self-checking program cannot see: faults, and properties of every form of the table.
 *
 * Each case packs a bundle (the form under test in an M or I slot, break.i 0 after it) into a
 * flat memory at 0x4000000000000000, sets registers and NaT bits with ia64_gr_write, runs it
 * and looks at the registers, the predicates and cpu->intr. The table-driven cases build the
 * slot from the form's match bits and put registers in its fields:
 *  - a GR result's NaT is the OR of the NaTs of the GRs the form reads (no fault);
 *  - A-unit forms give the same results in M slots as in I slots;
 *  - a compare/test with a NaT source clears both targets for the normal, .unc and .and
 *    types and leaves them for .or and .or.andcm; tnat and tf never see a NaT;
 *  - .unc forms clear both targets when their predicate is false, other forms do nothing;
 *  - p1 == p2 is an Illegal Operation, also for a .unc form whose predicate is false;
 * and the single cases: Register NaT Consumption from mov pr/b/ar with a NaT source,
 * I-unit access to M-unit or reserved ARs, ignored ARs, chk.s.i, the 9500-only forms. */
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

/* ---- A CPU over one flat page of code --------------------------------------------------------- */

typedef ia64t_machine box;

static box *box_new(void) { return ia64t_machine_new(BASE, IA64_PAGE_SIZE, NULL, 0); }
static void box_free(box *b) { ia64t_machine_free(b); }

#define NOP ENC(32, 27, 1)        /* nop.m 0 / nop.i 0 */
#define BRK ENC(26, 6, 0x77)      /* break.i 0x77 */
#define MII_STOP 0x01
#define PR(c, p) ((unsigned)((c)->pr >> (p)) & 1)

/* Put slot s in slot `at` (0 = M, 1 = I) of bundle 0, break.i 0x77 in slot 2. */
static void load(box *b, uint64_t s, unsigned at) {
  ia64t_bundle(b->mem, MII_STOP, at == 0 ? s : NOP, at == 1 ? s : NOP, BRK);
}

/* Run to the next interruption; returns its vector. */
static int run(box *b) { return ia64t_run(b, 1000); }

static bool is_general(const box *b, unsigned code) {
  return b->cpu.intr.vector == IA64_VEC_GENERAL_EXCEPTION && (b->cpu.intr.isr & 0xf0) == code;
}

static bool in_alu(const ia64_insn_desc *d) { return d >= ia64_tab_alu && d < ia64_tab_alu + ia64_tab_alu_len; }
static bool names(const ia64_insn_desc *d, const char *tok) {
  return strstr(d->opnds, tok) != NULL || strstr(d->mnem, tok) != NULL;
}
static bool writes_gr(const ia64_insn_desc *d) { return strncmp(d->opnds, "%r1=", 4) == 0; }
static bool writes_preds(const ia64_insn_desc *d) { return strncmp(d->opnds, "%p1,%p2=", 8) == 0; }
static bool implemented(const ia64_insn_desc *d) { return d->exec != ia64_x_illegal; }

/* The slot of form d: r1 = 8 (or p1 = p8, p2 = p9), r2 field = 2, r3 field = 3, an AR field
 * = ar.lc; immediates keep the fixed bits only. */
static uint64_t form_slot(const ia64_insn_desc *d, unsigned qp) {
  uint64_t s = d->match | ENC(5, 0, qp);
  if (writes_preds(d)) s |= ENC(11, 6, 8) | ENC(32, 27, 9);
  else if (names(d, "%r1")) s |= ENC(12, 6, 8);
  if (names(d, "%r2")) s |= ENC(19, 13, 2);
  if (names(d, "%r3")) s |= ENC(26, 20, 3);
  if (names(d, "%ar3")) s |= ENC(26, 20, IA64_AR_LC);
  return s;
}

/* Bundle with form d at `at`, checked to decode to d itself. */
static void load_form(box *b, const ia64_insn_desc *d, unsigned qp, unsigned at) {
  load(b, form_slot(d, qp), at);
  int id = ia64_decode_slot_id(b->mem, at);
  assert_true(id >= 0);
  if (ia64_desc((unsigned)id) != d) fail_msg("%s %s: decodes as another form", d->mnem, d->opnds);
}

static void set_sources(box *b, bool nat2, bool nat3) {
  ia64_gr_write(&b->cpu, 2, 0x8001ffff7ffe0001ull, nat2);
  ia64_gr_write(&b->cpu, 3, 0x0000000000000003ull, nat3);   /* also a sane shift count */
  ia64_gr_write(&b->cpu, 8, 0x5555555555555555ull, false);
}

/* ---- Table-driven properties -------------------------------------------------------------------- */

static void test_gr_result_nat_is_the_or_of_the_source_nats(void **state) {
  (void)state;
  unsigned runs = 0;
  for (size_t i = 0; i < ia64_tab_alu_len; i++) {
    const ia64_insn_desc *d = &ia64_tab_alu[i];
    if (!writes_gr(d) || !implemented(d)) continue;
    bool uses2 = names(d, "%r2"), uses3 = names(d, "%r3");
    for (unsigned combo = 0; combo < 4; combo++) {
      bool nat2 = combo & 1, nat3 = combo >> 1;
      box *b = box_new();
      load_form(b, d, 0, 1);
      set_sources(b, nat2, nat3);
      if (run(b) != IA64_VEC_BREAK)
        fail_msg("%s %s: vector %#x with NaTs %d/%d", d->mnem, d->opnds, b->cpu.intr.vector, nat2, nat3);
      unsigned want = (uses2 && nat2) || (uses3 && nat3);
      if (ia64_rnat(&b->cpu, 8) != want)
        fail_msg("%s %s: NaT %u, want %u (r2 %d, r3 %d)", d->mnem, d->opnds, ia64_rnat(&b->cpu, 8), want, nat2, nat3);
      box_free(b);
      runs++;
    }
  }
  printf("NaT propagation: %u runs\n", runs);
}

static void test_a_unit_forms_give_the_same_results_in_m_and_i_slots(void **state) {
  (void)state;
  unsigned forms = 0;
  for (size_t i = 0; i < ia64_tab_alu_len; i++) {
    const ia64_insn_desc *d = &ia64_tab_alu[i];
    if (d->unit != IA64_UNIT_A) continue;
    uint64_t gr8[2], pr[2];
    for (unsigned at = 0; at < 2; at++) {
      box *b = box_new();
      load_form(b, d, 0, at);
      set_sources(b, false, false);
      ia64_gr_write(&b->cpu, 3, 0xfffffffff0000003ull, false);
      b->cpu.pr = 1 | 1u << 9;
      assert_int_equal(run(b), IA64_VEC_BREAK);
      gr8[at] = ia64_rd(&b->cpu, 8);
      pr[at] = b->cpu.pr;
      box_free(b);
    }
    if (gr8[0] != gr8[1] || pr[0] != pr[1]) fail_msg("%s %s differs between M and I slots", d->mnem, d->opnds);
    forms++;
  }
  printf("A-unit forms run in both slots: %u\n", forms);
}

/* The compare type of a predicate-writing form, from its mnemonic. */
enum { T_NORMAL, T_UNC, T_AND, T_OR, T_ORANDCM };
static int form_type(const ia64_insn_desc *d) {
  if (strstr(d->mnem, "%unc")) return T_UNC;
  if (strstr(d->mnem, ".or.andcm")) return T_ORANDCM;
  if (strstr(d->mnem, ".and")) return T_AND;
  if (strstr(d->mnem, ".or")) return T_OR;
  return T_NORMAL;
}

static void test_nat_source_clears_or_keeps_the_targets_by_compare_type(void **state) {
  (void)state;
  unsigned runs = 0;
  for (size_t i = 0; i < ia64_tab_alu_len; i++) {
    const ia64_insn_desc *d = &ia64_tab_alu[i];
    if (!writes_preds(d) || !implemented(d)) continue;
    bool nat_blind = strncmp(d->mnem, "tnat", 4) == 0 || strncmp(d->mnem, "tf", 2) == 0;
    for (unsigned start = 0; start < 4; start++)
      for (unsigned which = 2; which <= 3; which++) {
        if (!names(d, which == 2 ? "%r2" : "%r3")) continue;
        box *b = box_new();
        load_form(b, d, 0, 1);
        set_sources(b, which == 2, which == 3);
        b->cpu.pr = 1 | (uint64_t)(start & 1) << 8 | (uint64_t)(start >> 1) << 9;
        assert_int_equal(run(b), IA64_VEC_BREAK);
        unsigned p8 = PR(&b->cpu, 8), p9 = PR(&b->cpu, 9);
        int t = form_type(d);
        if (nat_blind) {
          /* tnat reads the NaT bit as its value: only check that it did not fault */
        } else if (t == T_OR || t == T_ORANDCM) {
          if (p8 != (start & 1) || p9 != start >> 1) fail_msg("%s %s: NaT source changed p8/p9", d->mnem, d->opnds);
        } else if (p8 || p9) {
          fail_msg("%s %s: NaT source left p8=%u p9=%u", d->mnem, d->opnds, p8, p9);
        }
        box_free(b);
        runs++;
      }
  }
  printf("NaT compares: %u runs\n", runs);
}

static void test_unc_forms_clear_both_targets_when_their_predicate_is_false(void **state) {
  (void)state;
  unsigned unc = 0, other = 0;
  for (size_t i = 0; i < ia64_tab_alu_len; i++) {
    const ia64_insn_desc *d = &ia64_tab_alu[i];
    if (!writes_preds(d)) continue;
    box *b = box_new();
    load_form(b, d, 5, 1);                       /* (p5), and p5 is 0 */
    set_sources(b, true, true);
    b->cpu.pr = 1 | 1u << 8 | 1u << 9;
    assert_int_equal(run(b), IA64_VEC_BREAK);
    unsigned p8 = PR(&b->cpu, 8), p9 = PR(&b->cpu, 9);
    if (form_type(d) == T_UNC) {
      if (p8 || p9) fail_msg("%s %s: predicate false, p8=%u p9=%u", d->mnem, d->opnds, p8, p9);
      unc++;
    } else {
      if (!p8 || !p9) fail_msg("%s %s: predicate false but targets written", d->mnem, d->opnds);
      other++;
    }
    box_free(b);
  }
  printf(".unc forms: %u, other predicate writers: %u\n", unc, other);
  assert_true(unc >= 8);
}

static void test_same_predicate_for_both_targets_is_illegal_operation(void **state) {
  (void)state;
  for (size_t i = 0; i < ia64_tab_alu_len; i++) {
    const ia64_insn_desc *d = &ia64_tab_alu[i];
    if (!writes_preds(d) || !implemented(d)) continue;
    for (unsigned qp = 0; qp <= 5; qp += 5) {   /* p0 (true), then p5 (false) */
      box *b = box_new();
      uint64_t s = (form_slot(d, qp) & ~MSK(32, 27)) | ENC(32, 27, 8);   /* p2 = p1 = p8 */
      load(b, s, 1);
      set_sources(b, false, false);
      b->cpu.pr = 1 | 1u << 8;
      run(b);
      bool executes = qp == 0 || form_type(d) == T_UNC;
      if (executes && !is_general(b, IA64_GE_ILLEGAL_OP))
        fail_msg("%s %s with p1 == p2 (qp p%u): vector %#x", d->mnem, d->opnds, qp, b->cpu.intr.vector);
      if (executes) {
        assert_int_equal(b->cpu.ri, 1);
        assert_int_equal(b->cpu.intr.isr >> 41 & 3, 1);
        assert_int_equal(PR(&b->cpu, 8), 1);     /* nothing written */
      } else if (b->cpu.intr.vector != IA64_VEC_BREAK) {
        fail_msg("%s %s with p1 == p2 under a false predicate faulted", d->mnem, d->opnds);
      }
      box_free(b);
    }
  }
}

/* ---- Single cases ------------------------------------------------------------------------------ */

#define I0(x6) (ENC(40, 37, 0) | ENC(32, 27, x6))
#define MOV_TO_PR(r2, mask7a) (ENC(40, 37, 0) | ENC(35, 33, 3) | ENC(36, 36, 1) | ENC(31, 24, 0xff) | \
                               ENC(19, 13, r2) | ENC(12, 6, mask7a))
#define MOV_TO_BR(b1, r2) (ENC(40, 37, 0) | ENC(35, 33, 7) | ENC(21, 20, 1) | ENC(19, 13, r2) | ENC(8, 6, b1))
#define MOV_TO_AR(ar, r2) (I0(0x2a) | ENC(26, 20, ar) | ENC(19, 13, r2))
#define MOV_TO_AR_IMM(ar, imm7) (I0(0x0a) | ENC(26, 20, ar) | ENC(19, 13, imm7))
#define MOV_FROM_AR(r1, ar) (I0(0x32) | ENC(26, 20, ar) | ENC(12, 6, r1))

static void expect_reg_nat_consumption(box *b, unsigned slot) {
  assert_int_equal(b->cpu.intr.vector, IA64_VEC_NAT_CONSUMPTION);
  assert_int_equal(b->cpu.intr.isr & 0xff, 0x10);         /* code: register NaT consumption */
  assert_int_equal(b->cpu.intr.isr >> 41 & 3, slot);
  assert_false(b->cpu.intr.trap);
  assert_int_equal(b->cpu.ip, BASE);
  assert_int_equal(b->cpu.ri, slot);
}

static void test_moves_from_a_nat_gr_raise_register_nat_consumption(void **state) {
  (void)state;
  box *b = box_new();
  load(b, MOV_TO_PR(2, 0x7f), 1);                          /* mov pr = r2, -2 */
  ia64_gr_write(&b->cpu, 2, 0, true);
  b->cpu.pr = 0xff0f;
  run(b);
  expect_reg_nat_consumption(b, 1);
  assert_int_equal(b->cpu.pr, 0xff0f);
  box_free(b);

  b = box_new();
  load(b, MOV_TO_BR(3, 2), 1);                             /* mov b3 = r2 */
  ia64_gr_write(&b->cpu, 2, 0x1234, true);
  b->cpu.br[3] = 77;
  run(b);
  expect_reg_nat_consumption(b, 1);
  assert_int_equal(b->cpu.br[3], 77);
  box_free(b);

  b = box_new();
  load(b, MOV_TO_AR(IA64_AR_LC, 2), 1);                    /* mov.i ar.lc = r2 */
  ia64_gr_write(&b->cpu, 2, 9, true);
  run(b);
  expect_reg_nat_consumption(b, 1);
  assert_int_equal(ia64_ar_read(&b->cpu, IA64_AR_LC), 0);
  box_free(b);
}

static void test_moves_from_a_clean_gr_write_pr_br_ar(void **state) {
  (void)state;
  box *b = box_new();
  load(b, MOV_TO_PR(2, 0x7f), 1);                          /* mask -2: p1..p63 */
  ia64_gr_write(&b->cpu, 2, 0xf0f0f0f0f0f0f0f0ull, false);
  assert_int_equal(run(b), IA64_VEC_BREAK);
  assert_int_equal(b->cpu.pr, 0xf0f0f0f0f0f0f0f1ull);
  box_free(b);

  b = box_new();
  load(b, MOV_TO_BR(3, 2), 1);
  ia64_gr_write(&b->cpu, 2, 0x4000000000001230ull, false);
  assert_int_equal(run(b), IA64_VEC_BREAK);
  assert_int_equal(b->cpu.br[3], 0x4000000000001230ull);
  box_free(b);
}

static void test_i_unit_access_to_an_m_unit_or_reserved_ar_is_illegal_operation(void **state) {
  (void)state;
  static const unsigned bad[] = {0, 7, 8, 16, 17, 18, 19, 21, 24, 32, 36, 40, 44, 45, 47, 67, 100, 111};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint64_t slots[3] = {MOV_TO_AR(bad[i], 2), MOV_TO_AR_IMM(bad[i], 5), MOV_FROM_AR(8, bad[i])};
    for (int k = 0; k < 3; k++) {
      box *b = box_new();
      load(b, slots[k], 1);
      set_sources(b, true, false);             /* r2 NaT: the unit check still comes first */
      run(b);
      if (!is_general(b, IA64_GE_ILLEGAL_OP)) fail_msg("ar%u form %d: vector %#x", bad[i], k, b->cpu.intr.vector);
      assert_int_equal(ia64_rd(&b->cpu, 8), 0x5555555555555555ull);
      box_free(b);
    }
  }
}

static void test_ignored_ars_read_zero_and_drop_writes(void **state) {
  (void)state;
  static const unsigned ignored[] = {48, 55, 63, 112, 127};
  for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
    box *b = box_new();
    ia64t_bundle(b->mem, MII_STOP, NOP, MOV_TO_AR(ignored[i], 2), MOV_FROM_AR(8, ignored[i]));
    ia64t_bundle(b->mem + 16, MII_STOP, NOP, NOP, BRK);
    set_sources(b, false, false);
    assert_int_equal(run(b), IA64_VEC_BREAK);
    assert_int_equal(ia64_rd(&b->cpu, 8), 0);
    assert_int_equal(ia64_rnat(&b->cpu, 8), 0);
    box_free(b);
  }
}

static void test_reserved_pfs_field_is_a_reserved_register_field_fault(void **state) {
  (void)state;
  box *b = box_new();
  load(b, MOV_TO_AR(IA64_AR_PFS, 2), 1);
  ia64_gr_write(&b->cpu, 2, 1ull << 40, false);             /* pfs{51:38} is reserved */
  run(b);
  assert_true(is_general(b, IA64_GE_RESERVED_REG));
  box_free(b);
  b = box_new();
  load(b, MOV_TO_AR(IA64_AR_PFS, 2), 1);
  ia64_gr_write(&b->cpu, 2, 0xc000000000000fffull, false);
  assert_int_equal(run(b), IA64_VEC_BREAK);
  assert_int_equal(ia64_ar_read(&b->cpu, IA64_AR_PFS), 0xc000000000000fffull);
  box_free(b);
}

/* chk.s.i r2, target: s (36), imm13c (32:20), imm7a (12:6), in bundles */
static uint64_t chk_s_i(unsigned r2, int64_t bundles) {
  uint64_t t = (uint64_t)bundles & MSK(20, 0);
  return ENC(40, 37, 0) | ENC(35, 33, 1) | ENC(36, 36, t >> 20) | ENC(32, 20, t >> 7) | ENC(12, 6, t) |
         ENC(19, 13, r2);
}

static void test_chk_s_i_branches_to_recovery_only_for_a_nat(void **state) {
  (void)state;
  for (int nat = 0; nat < 2; nat++) {
    box *b = box_new();
    b->cpu.ip = BASE + 0x100;
    ia64t_bundle(b->mem + 0x100, MII_STOP, NOP, chk_s_i(2, 5), BRK);             /* recovery at +0x50 */
    ia64t_bundle(b->mem + 0x150, MII_STOP, NOP, NOP, ENC(26, 6, 0x99));
    ia64t_bundle(b->mem + 0x80, MII_STOP, NOP, chk_s_i(2, -8), BRK);             /* back to 0x00 */
    ia64t_bundle(b->mem, MII_STOP, NOP, NOP, ENC(26, 6, 0x98));
    ia64_gr_write(&b->cpu, 2, 0, nat);
    assert_int_equal(run(b), IA64_VEC_BREAK);
    assert_int_equal(b->cpu.ip, BASE + (nat ? 0x150 : 0x100));
    assert_int_equal(b->cpu.ri, 2);
    b->cpu.ip = BASE + 0x80, b->cpu.ri = 0;
    assert_int_equal(run(b), IA64_VEC_BREAK);
    assert_int_equal(b->cpu.ip, BASE + (nat ? 0 : 0x80));
    box_free(b);
  }
}

static void test_itanium_9500_forms_are_illegal_operations(void **state) {
  (void)state;
  unsigned n = 0;
  for (size_t i = 0; i < ia64_tab_alu_len; i++) {
    const ia64_insn_desc *d = &ia64_tab_alu[i];
    if (implemented(d)) continue;
    box *b = box_new();
    load_form(b, d, 0, 1);
    set_sources(b, false, false);
    run(b);
    assert_true(is_general(b, IA64_GE_ILLEGAL_OP));
    assert_int_equal(ia64_rd(&b->cpu, 8), 0x5555555555555555ull);
    box_free(b);
    n++;
  }
  assert_int_equal(n, 3);   /* mpy4, mpyshl4, clz */
}

static void test_r0_target_is_illegal_operation(void **state) {
  (void)state;
  for (size_t i = 0; i < ia64_tab_alu_len; i++) {
    const ia64_insn_desc *d = &ia64_tab_alu[i];
    if (!writes_gr(d)) continue;
    box *b = box_new();
    load(b, form_slot(d, 0) & ~MSK(12, 6), 1);
    run(b);
    if (!is_general(b, IA64_GE_ILLEGAL_OP)) fail_msg("%s %s with r0 target: vector %#x", d->mnem, d->opnds, b->cpu.intr.vector);
    box_free(b);
  }
  assert_true(in_alu(&ia64_tab_alu[0]));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_gr_result_nat_is_the_or_of_the_source_nats),
    cmocka_unit_test(test_a_unit_forms_give_the_same_results_in_m_and_i_slots),
    cmocka_unit_test(test_nat_source_clears_or_keeps_the_targets_by_compare_type),
    cmocka_unit_test(test_unc_forms_clear_both_targets_when_their_predicate_is_false),
    cmocka_unit_test(test_same_predicate_for_both_targets_is_illegal_operation),
    cmocka_unit_test(test_moves_from_a_nat_gr_raise_register_nat_consumption),
    cmocka_unit_test(test_moves_from_a_clean_gr_write_pr_br_ar),
    cmocka_unit_test(test_i_unit_access_to_an_m_unit_or_reserved_ar_is_illegal_operation),
    cmocka_unit_test(test_ignored_ars_read_zero_and_drop_writes),
    cmocka_unit_test(test_reserved_pfs_field_is_a_reserved_register_field_fault),
    cmocka_unit_test(test_chk_s_i_branches_to_recovery_only_for_a_nat),
    cmocka_unit_test(test_itanium_9500_forms_are_illegal_operations),
    cmocka_unit_test(test_r0_target_is_illegal_operation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
