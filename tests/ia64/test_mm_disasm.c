/* test_mm_disasm.c — the multimedia family against the objdump oracle.
 *
 * Every form of the family is written out below by hand in assembler syntax (independently
 * of tab_mm.c), expanded into several instances — registers at their edges (r0 as a source,
 * r1, r31, r32, r127), every completer, immediates over their whole range, predicates p0,
 * p1 and p63 — and assembled with ia64-linux-gnu-as. objdump -d's text for each slot must
 * equal ia64_disasm_bundle's. The reserved encodings no assembler emits (mux1 types,
 * pshladd2/pshradd2 count 4) are built as raw bundles and compared with objdump -D -b binary. At the end the test counts which
 * forms of ia64_tab_mm were exercised and prints "forms tested / forms in the family"; every
 * one must be. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

/* ---- The forms, as an assembler writes them ------------------------------------------------ *
 * $d is the destination GR, $a and $b the source GRs in the order they appear, $i an
 * immediate taken in turn from imms (a space-separated list). */
typedef struct mm_form { const char *text; const char *imms; } mm_form;

#define ALL32 "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31"

static const mm_form forms[] = {
  /* A9 */
  {"padd1 $d=$a,$b", NULL}, {"padd2 $d=$a,$b", NULL}, {"padd4 $d=$a,$b", NULL},
  {"padd1.sss $d=$a,$b", NULL}, {"padd2.sss $d=$a,$b", NULL},
  {"padd1.uus $d=$a,$b", NULL}, {"padd2.uus $d=$a,$b", NULL},
  {"padd1.uuu $d=$a,$b", NULL}, {"padd2.uuu $d=$a,$b", NULL},
  {"psub1 $d=$a,$b", NULL}, {"psub2 $d=$a,$b", NULL}, {"psub4 $d=$a,$b", NULL},
  {"psub1.sss $d=$a,$b", NULL}, {"psub2.sss $d=$a,$b", NULL},
  {"psub1.uus $d=$a,$b", NULL}, {"psub2.uus $d=$a,$b", NULL},
  {"psub1.uuu $d=$a,$b", NULL}, {"psub2.uuu $d=$a,$b", NULL},
  {"pavg1 $d=$a,$b", NULL}, {"pavg2 $d=$a,$b", NULL},
  {"pavg1.raz $d=$a,$b", NULL}, {"pavg2.raz $d=$a,$b", NULL},
  {"pavgsub1 $d=$a,$b", NULL}, {"pavgsub2 $d=$a,$b", NULL},
  {"pcmp1.eq $d=$a,$b", NULL}, {"pcmp2.eq $d=$a,$b", NULL}, {"pcmp4.eq $d=$a,$b", NULL},
  {"pcmp1.gt $d=$a,$b", NULL}, {"pcmp2.gt $d=$a,$b", NULL}, {"pcmp4.gt $d=$a,$b", NULL},
  /* A10 */
  {"pshladd2 $d=$a,$i,$b", "1 2 3"}, {"pshradd2 $d=$a,$i,$b", "1 2 3"},
  /* I1 */
  {"pmpyshr2 $d=$a,$b,$i", "0 7 15 16"}, {"pmpyshr2.u $d=$a,$b,$i", "0 7 15 16"},
  /* I2 */
  {"pmpy2.r $d=$a,$b", NULL}, {"pmpy2.l $d=$a,$b", NULL},
  {"mix1.r $d=$a,$b", NULL}, {"mix2.r $d=$a,$b", NULL}, {"mix4.r $d=$a,$b", NULL},
  {"mix1.l $d=$a,$b", NULL}, {"mix2.l $d=$a,$b", NULL}, {"mix4.l $d=$a,$b", NULL},
  {"pack2.sss $d=$a,$b", NULL}, {"pack2.uss $d=$a,$b", NULL}, {"pack4.sss $d=$a,$b", NULL},
  {"unpack1.h $d=$a,$b", NULL}, {"unpack2.h $d=$a,$b", NULL}, {"unpack4.h $d=$a,$b", NULL},
  {"unpack1.l $d=$a,$b", NULL}, {"unpack2.l $d=$a,$b", NULL}, {"unpack4.l $d=$a,$b", NULL},
  {"pmin1.u $d=$a,$b", NULL}, {"pmax1.u $d=$a,$b", NULL},
  {"pmin2 $d=$a,$b", NULL}, {"pmax2 $d=$a,$b", NULL}, {"psad1 $d=$a,$b", NULL},
  /* I3, I4 */
  {"mux1 $d=$a,@brcst", NULL}, {"mux1 $d=$a,@mix", NULL}, {"mux1 $d=$a,@shuf", NULL},
  {"mux1 $d=$a,@alt", NULL}, {"mux1 $d=$a,@rev", NULL},
  {"mux2 $d=$a,$i", "0x0 0x1 0x1b 0x4e 0x80 0xe4 0xfe 0xff"},
  /* I5 (data first, count GR second), I6 */
  {"pshr2 $d=$a,$b", NULL}, {"pshr4 $d=$a,$b", NULL},
  {"pshr2.u $d=$a,$b", NULL}, {"pshr4.u $d=$a,$b", NULL},
  {"pshr2 $d=$a,$i", ALL32}, {"pshr4 $d=$a,$i", ALL32},
  {"pshr2.u $d=$a,$i", ALL32}, {"pshr4.u $d=$a,$i", ALL32},
  /* I7, I8 */
  {"pshl2 $d=$a,$b", NULL}, {"pshl4 $d=$a,$b", NULL},
  {"pshl2 $d=$a,$i", ALL32}, {"pshl4 $d=$a,$i", ALL32},
};
#define NFORMS (sizeof forms / sizeof forms[0])

/* Register triples (destination, first source, second source) and predicates to cycle. */
static const unsigned regs[][3] = {{1, 0, 127}, {127, 127, 0}, {31, 32, 33}, {8, 2, 3}, {32, 31, 1}};
static const unsigned preds[] = {0, 63, 1};

/* Instance k of a form: predicate, then the text with its $ fields filled. */
static void expand(ia64t_text *t, const mm_form *form, unsigned k) {
  const unsigned *r = regs[k % (sizeof regs / sizeof regs[0])];
  unsigned qp = preds[k % (sizeof preds / sizeof preds[0])];
  char imm[16] = "";
  if (form->imms) ia64t_list_nth(form->imms, k % ia64t_list_len(form->imms), imm, sizeof imm);
  if (qp) ia64t_text_addf(t, "(p%u) ", qp);
  for (const char *p = form->text; *p; p++) {
    if (*p != '$') {
      ia64t_text_addf(t, "%c", *p);
      continue;
    }
    switch (*++p) {
    case 'd': ia64t_text_addf(t, "r%u", r[0]); break;
    case 'a': ia64t_text_addf(t, "r%u", r[1]); break;
    case 'b': ia64t_text_addf(t, "r%u", r[2]); break;
    case 'i': ia64t_text_add(t, imm); break;
    }
  }
  ia64t_text_add(t, " ;;\n");
}

/* What the tests below saw together: the last one checks every form was among it. */
static struct {
  ia64t_tally tally;
  bool hit[256];         /* forms of ia64_tab_mm seen (checked against its length) */
} totals;

/* ---- Tests ---------------------------------------------------------------------------------- */

static void test_every_form_disassembles_as_objdump_does(void **state) {
  (void)state;
  assert_true(ia64_tab_mm_len <= sizeof totals.hit / sizeof totals.hit[0]);
  ia64t_text src = {0};
  unsigned instances = 0;
  for (size_t i = 0; i < NFORMS; i++) {
    unsigned n = forms[i].imms ? ia64t_list_len(forms[i].imms) : 0;
    if (n < 5) n = 5;
    for (unsigned k = 0; k < n; k++, instances++) expand(&src, &forms[i], k);
  }
  ia64t_listing l;
  assert_int_equal(ia64t_listing_of(src.p, NULL, &l), 0);
  free(src.p);
  ia64t_tally t = {0};
  ia64t_compare(&l, ia64_tab_mm, ia64_tab_mm_len, totals.hit, 40, &t);
  ia64t_listing_free(&l);
  printf("assembled instances: %u of %zu forms; slots agreeing with objdump: %u/%u\n", instances,
         NFORMS, t.agree, t.lines);
  assert_int_equal(t.agree, t.lines);
  assert_true(t.lines >= instances);
  totals.tally.lines += t.lines, totals.tally.agree += t.agree;
}

static uint8_t *add_mii(uint8_t *at, uint64_t s0, uint64_t s1) {
  const uint64_t nop = ENC(32, 27, 1);   /* nop.i 0 */
  ia64t_bundle(at, 0x01, s0, s1, nop);   /* template 1: MII with a final stop */
  return at + 16;
}

/* Encodings no assembler emits: mux1's reserved mbtype values (objdump prints them as a hex
 * number) and pshladd2/pshradd2 with ct2d = 3 (objdump prints count 4). Raw MII bundles:
 * the A forms in the M slot and in the I slot, the I forms in the I slot. */
static void test_reserved_encodings_disassemble_as_objdump_does(void **state) {
  (void)state;
  uint8_t code[16 * 32], *at = code;
  const uint64_t nop = ENC(32, 27, 1);   /* nop.m 0 / nop.i 0 */
  unsigned bundles = 0;
  for (unsigned mbt = 0; mbt < 16; mbt++, bundles++) {
    /* op 7, x2a 3, x2b 2, x2c 2; r1 = 1 + mbt, r2 = 126 - mbt; bit 27 set half the time */
    uint64_t s = ENC(40, 37, 7) | ENC(35, 34, 3) | ENC(31, 30, 2) | ENC(29, 28, 2) | ENC(23, 20, mbt) |
                 ENC(12, 6, 1 + mbt) | ENC(19, 13, 126 - mbt) | ENC(27, 27, mbt & 1) | (mbt & 3);
    at = add_mii(at, nop, s);
  }
  for (unsigned x4 = 4; x4 <= 6; x4 += 2)
    for (unsigned ct2d = 0; ct2d < 4; ct2d++) {
      /* op 8, x2a 1, zb 1; r1 = 127, r2 = 0, r3 = 64 + ct2d */
      uint64_t s = ENC(40, 37, 8) | ENC(35, 34, 1) | ENC(33, 33, 1) | ENC(32, 29, x4) | ENC(28, 27, ct2d) |
                   ENC(12, 6, 127) | ENC(26, 20, 64 + ct2d) | ct2d;
      at = add_mii(at, s, nop);
      at = add_mii(at, nop, s);
      bundles += 2;
    }
  assert_int_equal(at - code, bundles * 16);
  ia64t_listing l;
  assert_int_equal(ia64t_objdump(code, (size_t)(at - code), UINT64_C(0x4000000000000000), &l), 0);
  ia64t_tally t = {0};
  ia64t_compare(&l, ia64_tab_mm, ia64_tab_mm_len, totals.hit, 40, &t);
  ia64t_listing_free(&l);
  printf("raw bundles (reserved mux1 types, pshladd2/pshradd2 counts): slots agreeing with objdump: %u/%u\n",
         t.agree, t.lines);
  assert_int_equal(t.lines, bundles * 3);
  assert_int_equal(t.agree, t.lines);
  totals.tally.lines += t.lines, totals.tally.agree += t.agree;
}

/* Runs last: every form of the table was produced by one of the tests above. */
static void test_every_form_of_the_family_was_exercised(void **state) {
  (void)state;
  unsigned tested = ia64t_forms_tested(ia64_tab_mm, ia64_tab_mm_len, totals.hit);
  printf("mm forms tested: %u / %zu in the family; objdump comparison: %u/%u slots agree\n", tested,
         ia64_tab_mm_len, totals.tally.agree, totals.tally.lines);
  assert_int_equal(tested, ia64_tab_mm_len);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_form_disassembles_as_objdump_does),
    cmocka_unit_test(test_reserved_encodings_disassemble_as_objdump_does),
    cmocka_unit_test(test_every_form_of_the_family_was_exercised),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
