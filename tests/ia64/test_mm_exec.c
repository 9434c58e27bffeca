/* test_mm_exec.c — the multimedia family executed on an ia64_cpu driven directly.
 *
 * 1. The generated self-checking programs (progs/mm_*.S, expected values from mm_gen.py)
 *    run here without ia64run: their CHECK/PASS macros are replaced by a check.inc of our
 *    own in which CHECK is "mov r15 = reg; movl r14 = value;; break.i 0x1000", so only the
 *    core forms (mov, movl, break) and the mm family are needed. The program is assembled,
 *    its .text copied out with objcopy and mapped at 0x4000000000000000; every break.i
 *    0x1000 compares r15 with r14, and break.i 0x100000 ends it.
 * 2. Per-form properties, built from ia64_tab_mm itself: the result's NaT is the OR of the
 *    NaTs of the GRs the form names (and a NaT source does not fault); r0 as the target is an
 *    Illegal Operation; so are a reserved mux1 type and pshladd2/pshradd2 with the reserved
 *    count 4; a false qualifying
 *    predicate leaves the target alone; A-unit forms run in M slots as well as I slots. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define BASE UINT64_C(0x4000000000000000)

/* ---- A CPU over one flat region of memory ------------------------------------------------- */

typedef ia64t_machine machine;

static machine *machine_new(const void *code, size_t len) { return ia64t_machine_new(BASE, len, code, len); }
static void machine_free(machine *m) { ia64t_machine_free(m); }

/* ---- Bundles ------------------------------------------------------------------------------- */

#define NOP ENC(32, 27, 1)     /* nop.m 0 / nop.i 0 */
#define BREAK0 0               /* break.i 0 */
#define TMPL_MII_STOP 0x01     /* M I I ;; */

/* The slot for form d with r1 = dst and the sources its template names: r2 field = 2,
 * r3 field = 3. Immediate fields keep the form's fixed bits (zero elsewhere). */
static uint64_t form_slot(const ia64_insn_desc *d, unsigned dst, unsigned qp) {
  uint64_t s = d->match | ENC(12, 6, dst) | ENC(5, 0, qp);
  if (strstr(d->opnds, "%r2")) s |= ENC(19, 13, 2);
  if (strstr(d->opnds, "%r3")) s |= ENC(26, 20, 3);
  if (strstr(d->opnds, "%mm_mbt4")) s |= ENC(23, 20, 1);   /* a reserved mux1 type */
  return s;
}

/* The rows that only exist to disassemble a reserved encoding as objdump does. */
static bool is_reserved(const ia64_insn_desc *d) { return d->exec == ia64_x_illegal; }

/* Run one bundle: the form in slot `at` (0 = M slot, 1 = I slot), break.i 0 in slot 2. */
static machine *run_form(const ia64_insn_desc *d, unsigned dst, unsigned qp, unsigned at) {
  uint8_t b[16];
  uint64_t s = form_slot(d, dst, qp);
  ia64t_bundle(b, TMPL_MII_STOP, at == 0 ? s : NOP, at == 1 ? s : NOP, BREAK0);
  /* The decoder must pick this very form. */
  int id = ia64_decode_slot_id(b, at);
  assert_true(id >= 0);
  assert_ptr_equal(ia64_desc((unsigned)id), d);
  machine *m = machine_new(b, sizeof b);
  assert_int_equal(ia64_run(&m->cpu, 100), IA64_STOP_INTR);
  return m;
}

static void set_sources(ia64_cpu *c, unsigned nat2, unsigned nat3) {
  ia64_wr(c, 2, 0x8001ffff7ffe0001ull, nat2);
  ia64_wr(c, 3, 0x0000000000000003ull, nat3);   /* small: also a sane shift count */
  ia64_wr(c, 8, 0x5555555555555555ull, 0);
}

/* ---- Per-form properties ------------------------------------------------------------------- */

static void test_result_nat_is_the_or_of_the_source_nats(void **state) {
  (void)state;
  unsigned checked = 0;
  for (size_t i = 0; i < ia64_tab_mm_len; i++) {
    const ia64_insn_desc *d = &ia64_tab_mm[i];
    if (is_reserved(d)) continue;
    bool uses2 = strstr(d->opnds, "%r2") != NULL, uses3 = strstr(d->opnds, "%r3") != NULL;
    for (unsigned combo = 0; combo < 4; combo++) {
      unsigned nat2 = combo & 1, nat3 = combo >> 1;
      uint8_t b[16];
      ia64t_bundle(b, TMPL_MII_STOP, NOP, form_slot(d, 8, 0), BREAK0);
      machine *m = machine_new(b, sizeof b);
      set_sources(&m->cpu, nat2, nat3);
      assert_int_equal(ia64_run(&m->cpu, 100), IA64_STOP_INTR);
      if (m->cpu.intr.vector != IA64_VEC_BREAK)
        fail_msg("%s %s: vector %#x with NaT sources %u/%u", d->mnem, d->opnds, m->cpu.intr.vector, nat2, nat3);
      unsigned want = (uses2 && nat2) || (uses3 && nat3);
      if (ia64_rnat(&m->cpu, 8) != want)
        fail_msg("%s %s: NaT %u, want %u (r2 NaT %u, r3 NaT %u)", d->mnem, d->opnds, ia64_rnat(&m->cpu, 8),
                 want, nat2, nat3);
      machine_free(m);
      checked++;
    }
  }
  printf("NaT propagation: %u runs\n", checked);
}

static void test_r0_target_is_illegal_operation(void **state) {
  (void)state;
  for (size_t i = 0; i < ia64_tab_mm_len; i++) {
    const ia64_insn_desc *d = &ia64_tab_mm[i];
    uint8_t b[16];
    ia64t_bundle(b, TMPL_MII_STOP, NOP, form_slot(d, 0, 0), BREAK0);
    machine *m = machine_new(b, sizeof b);
    assert_int_equal(ia64_run(&m->cpu, 100), IA64_STOP_INTR);
    if (m->cpu.intr.vector != IA64_VEC_GENERAL_EXCEPTION || (m->cpu.intr.isr & 0xf0) != IA64_GE_ILLEGAL_OP)
      fail_msg("%s %s with r0 target: vector %#x isr %#" PRIx64, d->mnem, d->opnds, m->cpu.intr.vector,
               m->cpu.intr.isr);
    assert_int_equal(m->cpu.intr.isr >> 41 & 3, 1);   /* ISR.ei: slot 1 */
    assert_int_equal(m->cpu.ri, 1);
    assert_int_equal(m->cpu.gr[0], 0);
    machine_free(m);
  }
}

/* Run slot s in slot 1 of an MII bundle with r8 preset; true if it stopped at the break. */
static bool runs_to_break(uint64_t s) {
  uint8_t b[16];
  ia64t_bundle(b, TMPL_MII_STOP, NOP, s, BREAK0);
  machine *m = machine_new(b, sizeof b);
  set_sources(&m->cpu, 0, 0);
  assert_int_equal(ia64_run(&m->cpu, 100), IA64_STOP_INTR);
  bool ok = m->cpu.intr.vector == IA64_VEC_BREAK;
  if (!ok) {
    assert_int_equal(m->cpu.intr.vector, IA64_VEC_GENERAL_EXCEPTION);
    assert_int_equal(m->cpu.intr.isr & 0xf0, IA64_GE_ILLEGAL_OP);
    assert_int_equal(ia64_rd(&m->cpu, 8), 0x5555555555555555ull);
  }
  machine_free(m);
  return ok;
}

static void test_reserved_mux1_type_is_illegal_operation(void **state) {
  (void)state;
  /* mux1 r8 = r2, mbtype: op 7, x2a 3, zb 0, x2b 2, x2c 2 */
  const uint64_t mux1 = ENC(40, 37, 7) | ENC(35, 34, 3) | ENC(31, 30, 2) | ENC(29, 28, 2) | ENC(12, 6, 8) |
                        ENC(19, 13, 2);
  for (unsigned mbt = 0; mbt < 16; mbt++) {
    bool named = mbt == 0 || (mbt >= 8 && mbt <= 0xb);
    assert_int_equal(runs_to_break(mux1 | ENC(23, 20, mbt)), named);
  }
}

static void test_pshladd2_pshradd2_count_4_is_illegal_operation(void **state) {
  (void)state;
  /* pshladd2/pshradd2 r8 = r2, count, r3: op 8, x2a 1, zb 1, x4 4 or 6, ct2d = count - 1 */
  for (unsigned x4 = 4; x4 <= 6; x4 += 2)
    for (unsigned ct2d = 0; ct2d < 4; ct2d++) {
      uint64_t s = ENC(40, 37, 8) | ENC(35, 34, 1) | ENC(33, 33, 1) | ENC(32, 29, x4) | ENC(28, 27, ct2d) |
                   ENC(12, 6, 8) | ENC(19, 13, 2) | ENC(26, 20, 3);
      assert_int_equal(runs_to_break(s), ct2d != 3);
    }
}

static void test_false_predicate_leaves_target_unchanged(void **state) {
  (void)state;
  for (size_t i = 0; i < ia64_tab_mm_len; i++) {
    const ia64_insn_desc *d = &ia64_tab_mm[i];
    uint8_t b[16];
    ia64t_bundle(b, TMPL_MII_STOP, NOP, form_slot(d, 8, 6), BREAK0);
    machine *m = machine_new(b, sizeof b);
    set_sources(&m->cpu, 1, 1);
    ia64_pwr(&m->cpu, 6, 0);
    assert_int_equal(ia64_run(&m->cpu, 100), IA64_STOP_INTR);
    assert_int_equal(m->cpu.intr.vector, IA64_VEC_BREAK);   /* even the reserved mux1 */
    assert_int_equal(ia64_rd(&m->cpu, 8), 0x5555555555555555ull);
    assert_int_equal(ia64_rnat(&m->cpu, 8), 0);
    machine_free(m);
  }
}

static void test_a_unit_forms_give_the_same_result_in_m_and_i_slots(void **state) {
  (void)state;
  unsigned n = 0;
  for (size_t i = 0; i < ia64_tab_mm_len; i++) {
    const ia64_insn_desc *d = &ia64_tab_mm[i];
    if (d->unit != IA64_UNIT_A || is_reserved(d)) continue;
    uint64_t r[2];
    for (unsigned at = 0; at < 2; at++) {
      uint8_t b[16];
      uint64_t s = form_slot(d, 8, 0);
      ia64t_bundle(b, TMPL_MII_STOP, at == 0 ? s : NOP, at == 1 ? s : NOP, BREAK0);
      machine *m = machine_new(b, sizeof b);
      set_sources(&m->cpu, 0, 0);
      ia64_wr(&m->cpu, 3, 0x7f80017fff8000ffull, 0);
      assert_int_equal(ia64_run(&m->cpu, 100), IA64_STOP_INTR);
      assert_int_equal(m->cpu.intr.vector, IA64_VEC_BREAK);
      r[at] = ia64_rd(&m->cpu, 8);
      machine_free(m);
    }
    assert_int_equal(r[0], r[1]);
    n++;
  }
  assert_int_equal(n, 32);   /* A9: 30 forms, A10: 2 */
}

/* The decoder picks each form for its own encoding (no other family shadows it). */
static void test_each_form_decodes_to_itself(void **state) {
  (void)state;
  for (size_t i = 0; i < ia64_tab_mm_len; i++) {
    machine *m = run_form(&ia64_tab_mm[i], 8, 0, 1);
    machine_free(m);
  }
}

/* ---- The generated programs ------------------------------------------------------------------ */

static char tmpdir[64];

static const char check_inc[] =
  "// check.inc for test_mm_exec: CHECK hands the value and the expectation to the harness.\n"
  "\t.macro CHECK reg, val\n"
  "\tmov r15 = \\reg\n"
  "\tmovl r14 = \\val ;;\n"
  "\tbreak.i 0x1000 ;;\n"
  "\t.endm\n"
  "\t.macro PASS\n"
  "\t;;\n"
  "\tbreak.i 0x100000 ;;\n"
  "\t.endm\n";

static int setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hpvm_mm_exec_XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  char path[128];
  snprintf(path, sizeof path, "%s/check.inc", tmpdir);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fputs(check_inc, f);
  fclose(f);
  return 0;
}
static int teardown(void **state) {
  (void)state;
  return ia64t_sh("rm -rf %s", tmpdir);
}

/* The directory of this source file's progs/. */
static void progs_dir(char *out, size_t n) {
  const char *slash = strrchr(__FILE__, '/');
  snprintf(out, n, "%.*s/progs", slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
}

static void run_program(const char *name) {
  char dir[1024], src[1200];
  progs_dir(dir, sizeof dir);
  snprintf(src, sizeof src, "\t.include \"%s/%s\"", dir, name);
  /* Only tmpdir is on the include path, so .include "check.inc" finds ours. */
  size_t len;
  uint8_t *code = ia64t_assemble(src, &(ia64t_asm){.include = tmpdir}, &len);
  assert_non_null(code);
  assert_true(len > 0);
  machine *m = machine_new(code, len);
  free(code);
  ia64_cpu *c = &m->cpu;
  unsigned checks = 0, failures = 0;
  for (;;) {
    ia64_stop st = ia64_run(c, 10000000);
    assert_int_equal(st, IA64_STOP_INTR);
    if (c->intr.vector != IA64_VEC_BREAK) {
      uint8_t b[16];
      ia64_disasm_line l[3];
      ia64_read_mem(c, c->ip, b, 16);
      ia64_disasm_bundle(b, c->ip, l);
      fail_msg("%s: vector %#x isr %#" PRIx64 " at %#" PRIx64 " slot %u: %s", name, c->intr.vector,
               c->intr.isr, c->ip, c->ri, l[c->ri < 3 ? c->ri : 0].text);
    }
    if (c->intr.iim == 0x100000) break;
    assert_int_equal(c->intr.iim, 0x1000);
    checks++;
    bool nat;
    uint64_t got = ia64_gr_read(c, 15, &nat), want = ia64_gr_read(c, 14, NULL);
    if (got != want || nat) {
      if (failures++ < 20)
        fprintf(stderr, "%s: check %u at %#" PRIx64 ": got %#018" PRIx64 "%s, want %#018" PRIx64 "\n", name,
                checks, c->ip, got, nat ? " (NaT)" : "", want);
    }
    ia64t_skip_slot(c);
  }
  printf("%s: %u checks, %u failed\n", name, checks, failures);
  machine_free(m);
  assert_int_equal(failures, 0);
  assert_true(checks > 100);
}

static void test_program_mm_a9_passes(void **state) { (void)state; run_program("mm_a9.S"); }
static void test_program_mm_i2_passes(void **state) { (void)state; run_program("mm_i2.S"); }
static void test_program_mm_shift_passes(void **state) { (void)state; run_program("mm_shift.S"); }

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_each_form_decodes_to_itself),
    cmocka_unit_test(test_result_nat_is_the_or_of_the_source_nats),
    cmocka_unit_test(test_r0_target_is_illegal_operation),
    cmocka_unit_test(test_reserved_mux1_type_is_illegal_operation),
    cmocka_unit_test(test_pshladd2_pshradd2_count_4_is_illegal_operation),
    cmocka_unit_test(test_false_predicate_leaves_target_unchanged),
    cmocka_unit_test(test_a_unit_forms_give_the_same_result_in_m_and_i_slots),
    cmocka_unit_test(test_program_mm_a9_passes),
    cmocka_unit_test(test_program_mm_i2_passes),
    cmocka_unit_test(test_program_mm_shift_passes),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
