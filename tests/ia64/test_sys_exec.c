/* test_sys_exec.c — what the system instructions do when executed: the privilege checks
 * at cpl 3, the user-accessible ones (sum, rum, mov psr.um, cpuid, pmd) working there, the
 * plain register moves at cpl 0 (what the translation instructions do is tested in
 * test_sysarch_tlb.c).
 *
 * Each test assembles a snippet with ia64-linux-gnu-as, copies its bundles into a bare
 * ia64_cpu's memory and runs it to a closing break.i; expected values are worked out by
 * hand from the SDM. The last test runs a real static program under ia64run: a privileged
 * instruction at cpl 3 must end it with SIGILL (exit 132) and one line of report. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define CODE_VA 0x4000000000000000ull
#define MEM_SIZE (64u << 10)
#define DONE_IMM 0x7777

#define CPL3 P_CPL(3)

typedef ia64t_machine env;

static int setup(void **state) {
  *state = ia64t_machine_new(CODE_VA, MEM_SIZE, NULL, 0);
  return 0;
}
static int teardown(void **state) {
  ia64t_machine_free(*state);
  return 0;
}

/* Assemble src, followed by break.i DONE_IMM, into memory and run it from the start with
 * the given PSR. Returns the interruption's vector. */
static int run_src(env *e, uint64_t psr, const char *src) {
  char full[4096];
  snprintf(full, sizeof full, "%s\n;;\nbreak.i %d\n;;\n", src, DONE_IMM);
  size_t len;
  uint8_t *code = ia64t_assemble(full, NULL, &len);
  assert_non_null(code);
  assert_true(len <= MEM_SIZE);
  memcpy(e->mem, code, len);
  ia64_code_invalidate(&e->cpu, e->mem);
  free(code);
  e->cpu.psr = psr;
  e->cpu.ip = CODE_VA;
  e->cpu.ri = 0;
  assert_int_equal(ia64_run(&e->cpu, 1000), IA64_STOP_INTR);
  return e->cpu.intr.vector;
}

/* The snippet ran to its end. */
static void expect_done(env *e, uint64_t psr, const char *src) {
  int v = run_src(e, psr, src);
  if (v != IA64_VEC_BREAK || e->cpu.intr.iim != DONE_IMM)
    fail_msg("%s: stopped with vector 0x%x isr 0x%" PRIx64, src, v, e->cpu.intr.isr);
}

/* The snippet's first instruction raised General Exception with ISR.code ge. */
static void expect_ge(env *e, uint64_t psr, const char *src, unsigned ge) {
  int v = run_src(e, psr, src);
  if (v != IA64_VEC_GENERAL_EXCEPTION || (e->cpu.intr.isr & 0xff) != ge)
    fail_msg("%s: want General Exception 0x%x, got vector 0x%x isr 0x%" PRIx64, src, ge, v, e->cpu.intr.isr);
  assert_int_equal(e->cpu.intr.iip, CODE_VA);
}

static uint64_t gr(env *e, unsigned r) { return ia64_gr_read(&e->cpu, r, NULL); }

/* ---- User-accessible at cpl 3 ------------------------------------------------------------------- */

static void test_sum_and_rum_change_the_user_mask_at_cpl3(void **state) {
  env *e = *state;
  expect_done(e, CPL3, "sum 0x3e ;; mov r8=psr.um ;; rum 0x8 ;; mov r9=psr.um ;; rum 0x36 ;; mov r10=psr.um");
  assert_int_equal(gr(e, 8), 0x3e);
  assert_int_equal(gr(e, 9), 0x36);
  assert_int_equal(gr(e, 10), 0);
  assert_int_equal(e->cpu.psr, CPL3);
}

static void test_sum_leaves_psr_up_alone_while_psr_sp_is_set(void **state) {
  env *e = *state;
  expect_done(e, CPL3 | P_SP, "sum 0x3e ;; mov r8=psr.um");
  assert_int_equal(gr(e, 8), 0x3a);
  expect_done(e, CPL3 | P_SP | P_UP, "rum 0x3e ;; mov r8=psr.um");
  assert_int_equal(gr(e, 8), 0x4);
}

static void test_sum_or_rum_naming_a_bit_outside_the_user_mask_is_a_reserved_field_fault(void **state) {
  env *e = *state;
  expect_ge(e, CPL3, "sum 0x40", IA64_GE_RESERVED_REG);
  expect_ge(e, CPL3, "rum 0x1", IA64_GE_RESERVED_REG);
  expect_ge(e, CPL3, "sum 0x2000", IA64_GE_RESERVED_REG);
}

static void test_mov_psr_um_round_trips_at_cpl3(void **state) {
  env *e = *state;
  ia64_gr_write(&e->cpu, 2, 0x2a, false);
  ia64_gr_write(&e->cpu, 8, 0xdead, true);
  expect_done(e, CPL3 | P_I, "mov psr.um=r2 ;; mov r8=psr.um");
  assert_int_equal(gr(e, 8), 0x2a);
  bool nat = true;
  ia64_gr_read(&e->cpu, 8, &nat);
  assert_false(nat);
  assert_int_equal(e->cpu.psr, CPL3 | P_I | 0x2a);
}

static void test_mov_psr_um_with_bits_outside_the_user_mask_is_a_reserved_field_fault(void **state) {
  env *e = *state;
  ia64_gr_write(&e->cpu, 2, 0x100, false);
  expect_ge(e, CPL3, "mov psr.um=r2", IA64_GE_RESERVED_REG);
  ia64_gr_write(&e->cpu, 2, 1ull << 63, false);
  expect_ge(e, CPL3, "mov psr.um=r2", IA64_GE_RESERVED_REG);
}

static void test_mov_psr_um_from_a_nat_register_is_nat_consumption(void **state) {
  env *e = *state;
  ia64_gr_write(&e->cpu, 2, 0x2, true);
  assert_int_equal(run_src(e, CPL3, "mov psr.um=r2"), IA64_VEC_NAT_CONSUMPTION);
  assert_int_equal(e->cpu.intr.isr & 0xff, 0x10); /* register NaT consumption */
  assert_int_equal(e->cpu.psr, CPL3);
}

static void test_cpuid_reads_vendor_version_and_features_at_cpl3(void **state) {
  env *e = *state;
  ia64_gr_write(&e->cpu, 3, 0, false);
  ia64_gr_write(&e->cpu, 4, 1, false);
  ia64_gr_write(&e->cpu, 5, 3, false);
  ia64_gr_write(&e->cpu, 6, 4, false);
  ia64_gr_write(&e->cpu, 7, 0x100, false); /* only bits 7:0 index */
  expect_done(e, CPL3, "mov r8=cpuid[r3] ;; mov r9=cpuid[r4] ;; mov r10=cpuid[r5] ;; mov r11=cpuid[r6] ;; mov r16=cpuid[r7]");
  char vendor[17] = {0};
  uint64_t v0 = gr(e, 8), v1 = gr(e, 9);
  memcpy(vendor, &v0, 8);
  memcpy(vendor + 8, &v1, 8);
  assert_string_equal(vendor, "hpvm");
  assert_int_equal(gr(e, 10) & 0xff, 4);          /* number: cpuid[0..4] exist */
  assert_int_equal((gr(e, 10) >> 24) & 0xff, 0x1f); /* family: Itanium 2 */
  assert_int_equal(gr(e, 11) & 1, 1);             /* lb: brl implemented */
  assert_int_equal(gr(e, 16), gr(e, 8));
}

static void test_cpuid_beyond_the_last_is_a_reserved_register_fault(void **state) {
  env *e = *state;
  ia64_gr_write(&e->cpu, 3, 5, false);
  expect_ge(e, CPL3, "mov r8=cpuid[r3]", IA64_GE_RESERVED_REG);
}

static void test_pmd_reads_at_cpl3_only_while_psr_sp_is_clear(void **state) {
  env *e = *state;
  e->cpu.pmd[5] = 1234;
  e->cpu.pmd[6] = 99;
  e->cpu.pmc[6] = 1 << 6; /* pmc6.pm: a privileged monitor */
  ia64_gr_write(&e->cpu, 3, 5, false);
  ia64_gr_write(&e->cpu, 4, 6, false);
  ia64_gr_write(&e->cpu, 5, 200, false); /* unimplemented: reads 0 */
  expect_done(e, CPL3, "mov r8=pmd[r3] ;; mov r9=pmd[r4] ;; mov r10=pmd[r5]");
  assert_int_equal(gr(e, 8), 1234);
  assert_int_equal(gr(e, 9), 0);
  assert_int_equal(gr(e, 10), 0);
  expect_done(e, CPL3 | P_SP, "mov r8=pmd[r3]");
  assert_int_equal(gr(e, 8), 0);
  expect_done(e, P_SP, "mov r8=pmd[r3] ;; mov r9=pmd[r4]");
  assert_int_equal(gr(e, 8), 1234);
  assert_int_equal(gr(e, 9), 99);
}

/* ---- Privileged at cpl 3 --------------------------------------------------------------------- */

static void test_privileged_instructions_at_cpl3_raise_privileged_operation(void **state) {
  env *e = *state;
  static const char *const priv[] = {
    "mov r8=psr", "mov psr.l=r2", "ssm 0x4000", "rsm 0x4000", "mov r8=cr.dcr", "mov cr.iva=r2",
    "mov r8=cr.ivr", "mov cr.tpr=r2", "mov rr[r3]=r2", "mov r8=rr[r3]", "mov dbr[r3]=r2",
    "mov r8=dbr[r3]", "mov ibr[r3]=r2", "mov r8=ibr[r3]", "mov pkr[r3]=r2", "mov r8=pkr[r3]",
    "mov pmc[r3]=r2", "mov r8=pmc[r3]", "mov pmd[r3]=r2", "mov msr[r3]=r2", "mov r8=msr[r3]",
    "itc.d r2", "itc.i r2", "itr.d dtr[r3]=r2", "itr.i itr[r3]=r2", "ptc.l r3,r2", "ptc.g r3,r2",
    "ptc.ga r3,r2", "ptr.d r3,r2", "ptr.i r3,r2", "ptc.e r3", "tpa r8=r3", "tak r8=r3",
  };
  for (size_t i = 0; i < sizeof priv / sizeof priv[0]; i++) expect_ge(e, CPL3, priv[i], IA64_GE_PRIV_OP);
}

static void test_privileged_operation_reports_its_slot(void **state) {
  env *e = *state;
  expect_ge(e, CPL3, "{ .mmi\n nop.m 0\n mov r8=psr\n nop.i 0 ;; }", IA64_GE_PRIV_OP);
  assert_int_equal(e->cpu.intr.ri, 1);
  assert_int_equal((e->cpu.intr.isr >> 41) & 3, 1);
}

static void test_reserved_or_read_only_control_register_is_illegal_before_privilege(void **state) {
  env *e = *state;
  expect_ge(e, CPL3, "mov r8=cr3", IA64_GE_ILLEGAL_OP);
  expect_ge(e, CPL3, "mov cr.ivr=r2", IA64_GE_ILLEGAL_OP);
  expect_ge(e, 0, "mov cr.irr0=r2", IA64_GE_ILLEGAL_OP);
  expect_ge(e, 0, "mov r8=cr127", IA64_GE_ILLEGAL_OP);
}

static void test_itc_with_psr_ic_set_is_illegal_before_privilege(void **state) {
  env *e = *state;
  expect_ge(e, CPL3 | P_IC, "itc.d r2", IA64_GE_ILLEGAL_OP);
  expect_ge(e, CPL3 | P_IC, "itr.i itr[r3]=r2", IA64_GE_ILLEGAL_OP);
  expect_ge(e, CPL3 | P_IC, "ptc.e r3", IA64_GE_PRIV_OP);
}

/* ---- Plain moves at cpl 0 -------------------------------------------------------------------- */

static void test_control_register_moves_at_cpl0(void **state) {
  env *e = *state;
  ia64_gr_write(&e->cpu, 2, 0x12345678, false);
  ia64_gr_write(&e->cpu, 3, 0x7f07, false);
  ia64_gr_write(&e->cpu, 4, 0xdeadbeefcafef00d, false);
  expect_done(e, 0, "mov cr.iva=r2 ;; mov r8=cr.iva ;; mov cr.dcr=r3 ;; mov r9=cr.dcr ;; "
                    "mov cr.ifa=r4 ;; mov r10=cr.ifa ;; mov cr.itm=r4 ;; mov r11=cr.itm");
  assert_int_equal(gr(e, 8), 0x12340000);  /* iva{14:0} are ignored */
  assert_int_equal(gr(e, 9), 0x7f07);      /* dcr: pp be lc, dm..dd */
  assert_int_equal(gr(e, 10), 0xdeadbeefcafef00d);
  assert_int_equal(gr(e, 11), 0xdeadbeefcafef00d);
  assert_int_equal(e->cpu.cr[2], 0x12340000);
}

static void test_control_register_reserved_field_write_is_a_reserved_field_fault(void **state) {
  env *e = *state;
  ia64_gr_write(&e->cpu, 2, 0x8, false);   /* dcr bit 3: reserved */
  ia64_gr_write(&e->cpu, 3, 1ull << 32, false); /* itir bit 32: reserved */
  expect_ge(e, 0, "mov cr.dcr=r2", IA64_GE_RESERVED_REG);
  expect_ge(e, 0, "mov cr.itir=r3", IA64_GE_RESERVED_REG);
  assert_int_equal(e->cpu.cr[0], 0);
}

static void test_interruption_control_registers_need_psr_ic_clear(void **state) {
  env *e = *state;
  ia64_gr_write(&e->cpu, 2, 0x1000, false);
  expect_ge(e, P_IC, "mov cr.iip=r2", IA64_GE_ILLEGAL_OP);
  expect_ge(e, P_IC, "mov r8=cr.isr", IA64_GE_ILLEGAL_OP);
  expect_done(e, P_IC, "mov cr.dcr=r0 ;; mov r8=cr.dcr");
  expect_done(e, 0, "mov cr.iip=r2 ;; mov r8=cr.iip");
  assert_int_equal(gr(e, 8), 0x1000);
}

static void test_mov_to_cr_from_a_nat_register_is_nat_consumption(void **state) {
  env *e = *state;
  ia64_gr_write(&e->cpu, 2, 0, true);
  assert_int_equal(run_src(e, 0, "mov cr.tpr=r2"), IA64_VEC_NAT_CONSUMPTION);
}

static void test_psr_moves_ssm_and_rsm_at_cpl0(void **state) {
  env *e = *state;
  ia64_gr_write(&e->cpu, 2, 0xffffffff00006000ull, false); /* ic | i; bits 63:32 ignored */
  expect_done(e, 1ull << 35, "mov psr.l=r2 ;; mov r8=psr ;; rsm 0x2000 ;; mov r9=psr ;; ssm 0x20002 ;; mov r10=psr");
  assert_int_equal(gr(e, 8), (1ull << 35) | 0x6000);
  assert_int_equal(gr(e, 9), (1ull << 35) | 0x4000);
  assert_int_equal(gr(e, 10), (1ull << 35) | 0x24002);
}

static void test_mov_from_psr_reads_only_bits_36_35_and_31_0(void **state) {
  env *e = *state;
  expect_done(e, 0x1c00000000ull | 1ull << 44 | 0x2, "mov r8=psr"); /* cpl 0 */
  assert_int_equal(gr(e, 8), 0x1800000002ull);
}

static void test_psr_reserved_bits_fault(void **state) {
  env *e = *state;
  ia64_gr_write(&e->cpu, 2, 0x40, false);
  expect_ge(e, 0, "mov psr.l=r2", IA64_GE_RESERVED_REG);
  expect_ge(e, 0, "ssm 0x10000", IA64_GE_RESERVED_REG);
  expect_ge(e, 0, "rsm 0x1", IA64_GE_RESERVED_REG);
}

static void test_indirect_register_moves_at_cpl0(void **state) {
  env *e = *state;
  ia64_gr_write(&e->cpu, 3, 0x2000000000000abcull, false); /* region 1 */
  ia64_gr_write(&e->cpu, 2, 0x123400 | 14 << 2 | 1, false); /* rid 0x1234, 16K pages, ve */
  ia64_gr_write(&e->cpu, 4, 15, false);
  ia64_gr_write(&e->cpu, 5, 0x5500 | 1, false);
  ia64_gr_write(&e->cpu, 6, 7, false);
  expect_done(e, 0, "mov rr[r3]=r2 ;; mov r8=rr[r3] ;; mov pkr[r4]=r5 ;; mov r9=pkr[r4] ;; "
                    "mov dbr[r6]=r5 ;; mov r10=dbr[r6] ;; mov ibr[r6]=r2 ;; mov r11=ibr[r6] ;; "
                    "mov pmc[r6]=r5 ;; mov r16=pmc[r6] ;; mov pmd[r4]=r5 ;; mov r17=pmd[r4]");
  assert_int_equal(gr(e, 8), 0x123439);
  assert_int_equal(e->cpu.rr[1], 0x123439);
  assert_int_equal(gr(e, 9), 0x5501);
  assert_int_equal(gr(e, 10), 0x5501);
  assert_int_equal(gr(e, 11), 0x123439);
  assert_int_equal(gr(e, 16), 0x5501);
  assert_int_equal(gr(e, 17), 0);         /* pmd15 is not implemented: writes ignored */
}

static void test_a_valid_protection_key_invalidates_its_duplicates(void **state) {
  env *e = *state;
  ia64_gr_write(&e->cpu, 3, 2, false);
  ia64_gr_write(&e->cpu, 4, 9, false);
  ia64_gr_write(&e->cpu, 5, 11, false);
  ia64_gr_write(&e->cpu, 6, 0x4200 | 1, false);       /* key 0x42, valid */
  ia64_gr_write(&e->cpu, 7, 0x4300 | 1, false);       /* key 0x43, valid */
  ia64_gr_write(&e->cpu, 2, 0x4200 | 0x8 | 1, false); /* key 0x42 again, xd, valid */
  expect_done(e, 0, "mov pkr[r3]=r6 ;; mov pkr[r5]=r7 ;; mov pkr[r4]=r2 ;; "
                    "mov r8=pkr[r3] ;; mov r9=pkr[r4] ;; mov r10=pkr[r5]");
  assert_int_equal(gr(e, 8), 0x4200);     /* pkr2 lost its valid bit */
  assert_int_equal(gr(e, 9), 0x4209);
  assert_int_equal(gr(e, 10), 0x4301);    /* a different key is untouched */
}

static void test_indirect_register_reserved_index_or_field_faults(void **state) {
  env *e = *state;
  ia64_gr_write(&e->cpu, 2, 0x2, false);   /* rr bit 1: reserved */
  ia64_gr_write(&e->cpu, 3, 16, false);
  ia64_gr_write(&e->cpu, 4, 12 << 2, false);
  ia64_gr_write(&e->cpu, 5, 15 << 2, false); /* 32K pages: not a supported size */
  expect_ge(e, 0, "mov rr[r0]=r2", IA64_GE_RESERVED_REG);
  expect_ge(e, 0, "mov rr[r0]=r5", IA64_GE_RESERVED_REG);
  expect_ge(e, 0, "mov pkr[r3]=r0", IA64_GE_RESERVED_REG);
  expect_ge(e, 0, "mov r8=dbr[r3]", IA64_GE_RESERVED_REG);
  expect_ge(e, 0, "mov r8=msr[r0]", IA64_GE_RESERVED_REG);
  expect_done(e, 0, "mov rr[r0]=r4 ;; mov r8=rr[r0]");
  assert_int_equal(gr(e, 8), 12 << 2);
}

/* ---- The translation instructions (their semantics: test_sysarch_tlb.c) -------------------------- */

static void test_data_access_hint_registers_do_not_exist(void **state) {
  env *e = *state;
  expect_ge(e, 0, "mov r8=dahr[r3]", IA64_GE_ILLEGAL_OP);
  expect_ge(e, CPL3, "mov r8=dahr[r3]", IA64_GE_ILLEGAL_OP);
}

static void test_purge_with_a_nat_operand_is_nat_consumption(void **state) {
  env *e = *state;
  ia64_gr_write(&e->cpu, 2, 0, true);
  assert_int_equal(run_src(e, 0, "ptc.l r3,r2"), IA64_VEC_NAT_CONSUMPTION);
  assert_int_equal(run_src(e, 0, "itc.d r2"), IA64_VEC_NAT_CONSUMPTION);
}

/* ---- Under ia64run ------------------------------------------------------------------------------ */

static void test_privileged_instruction_at_cpl3_ends_ia64run_with_sigill(void **state) {
  (void)state;
  char dir[] = "/tmp/hpvm_sys_run_XXXXXX", run[600], cmd[2048], line[512];
  assert_non_null(mkdtemp(dir));
  assert_true(ia64t_ia64run_path(run, sizeof run));
  snprintf(cmd, sizeof cmd, "%s/p", dir);
  assert_int_equal(ia64t_link_program("\t.global _start\n_start:\n\tnop.m 0\n\tmov r8=psr\n\tbreak.i 0x100000\n;;", cmd), 0);
  snprintf(cmd, sizeof cmd, "%s %s/p 2>%s/err", run, dir, dir);
  int st = system(cmd);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 132);
  snprintf(cmd, sizeof cmd, "%s/err", dir);
  FILE *f = fopen(cmd, "r");
  assert_non_null(f);
  int lines = 0;
  char first[512] = "";
  while (fgets(line, sizeof line, f))
    if (lines++ == 0) snprintf(first, sizeof first, "%s", line);
  fclose(f);
  printf("ia64run said: %s", first);
  assert_int_equal(lines, 1);
  assert_non_null(strstr(first, "ia64run:"));
  assert_non_null(strstr(first, "SIGILL"));
  assert_non_null(strstr(first, "privileged operation")); /* GE code 0x10 */
  assert_non_null(strstr(first, "slot 1: mov r8=psr"));
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
    T(test_sum_and_rum_change_the_user_mask_at_cpl3),
    T(test_sum_leaves_psr_up_alone_while_psr_sp_is_set),
    T(test_sum_or_rum_naming_a_bit_outside_the_user_mask_is_a_reserved_field_fault),
    T(test_mov_psr_um_round_trips_at_cpl3),
    T(test_mov_psr_um_with_bits_outside_the_user_mask_is_a_reserved_field_fault),
    T(test_mov_psr_um_from_a_nat_register_is_nat_consumption),
    T(test_cpuid_reads_vendor_version_and_features_at_cpl3),
    T(test_cpuid_beyond_the_last_is_a_reserved_register_fault),
    T(test_pmd_reads_at_cpl3_only_while_psr_sp_is_clear),
    T(test_privileged_instructions_at_cpl3_raise_privileged_operation),
    T(test_privileged_operation_reports_its_slot),
    T(test_reserved_or_read_only_control_register_is_illegal_before_privilege),
    T(test_itc_with_psr_ic_set_is_illegal_before_privilege),
    T(test_control_register_moves_at_cpl0),
    T(test_control_register_reserved_field_write_is_a_reserved_field_fault),
    T(test_interruption_control_registers_need_psr_ic_clear),
    T(test_mov_to_cr_from_a_nat_register_is_nat_consumption),
    T(test_psr_moves_ssm_and_rsm_at_cpl0),
    T(test_mov_from_psr_reads_only_bits_36_35_and_31_0),
    T(test_psr_reserved_bits_fault),
    T(test_indirect_register_moves_at_cpl0),
    T(test_a_valid_protection_key_invalidates_its_duplicates),
    T(test_indirect_register_reserved_index_or_field_faults),
    T(test_data_access_hint_registers_do_not_exist),
    T(test_purge_with_a_nat_operand_is_nat_consumption),
    cmocka_unit_test(test_privileged_instruction_at_cpl3_ends_ia64run_with_sigill),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
