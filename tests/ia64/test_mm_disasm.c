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
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

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

/* The i-th immediate of a space-separated list, and how many there are. */
static int imm_count(const char *imms) {
  int n = 0;
  for (const char *p = imms; p && *p;) {
    while (*p == ' ') p++;
    if (!*p) break;
    n++;
    while (*p && *p != ' ') p++;
  }
  return n;
}
static void imm_nth(const char *imms, int i, char *out, size_t n) {
  const char *p = imms;
  for (;;) {
    while (*p == ' ') p++;
    size_t len = strcspn(p, " ");
    if (i-- == 0) {
      snprintf(out, n, "%.*s", (int)len, p);
      return;
    }
    p += len;
  }
}

static void expand(FILE *f, const mm_form *form, int k) {
  const unsigned *r = regs[k % (int)(sizeof regs / sizeof regs[0])];
  unsigned qp = preds[k % (int)(sizeof preds / sizeof preds[0])];
  char imm[16] = "";
  if (form->imms) imm_nth(form->imms, k % imm_count(form->imms), imm, sizeof imm);
  if (qp) fprintf(f, "(p%u) ", qp);
  for (const char *p = form->text; *p; p++) {
    if (*p != '$') {
      fputc(*p, f);
      continue;
    }
    switch (*++p) {
    case 'd': fprintf(f, "r%u", r[0]); break;
    case 'a': fprintf(f, "r%u", r[1]); break;
    case 'b': fprintf(f, "r%u", r[2]); break;
    case 'i': fputs(imm, f); break;
    }
  }
  fputs(" ;;\n", f);
}

/* ---- Running the tools ------------------------------------------------------------------------ */

static char tmpdir[64];

static const char *tool(const char *env, const char *fallback) {
  const char *t = getenv(env);
  return t && *t ? t : fallback;
}

static int run(const char *fmt, ...) {
  char cmd[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  int rc = system(cmd);
  if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
  return rc;
}

static int setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hpvm_mm_disasm_XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}
static int teardown(void **state) {
  (void)state;
  return run("rm -rf %s", tmpdir);
}

/* ---- Comparing objdump's listing with ours ------------------------------------------------ */

typedef struct tally {
  unsigned lines, agree;
  bool hit[256];         /* forms of ia64_tab_mm seen (checked against its length) */
} tally;

static tally totals;

/* Mark the mm form (if any) of each slot of a bundle. */
static void mark_forms(tally *t, const uint8_t b[16]) {
  for (unsigned s = 0; s < 3; s++) {
    int id = ia64_decode_slot_id(b, s);
    const ia64_insn_desc *d = id >= 0 ? ia64_desc((unsigned)id) : NULL;
    if (d && d >= ia64_tab_mm && d < ia64_tab_mm + ia64_tab_mm_len) t->hit[d - ia64_tab_mm] = true;
  }
}

/* Parse `objdump -d`/`-D` output: "addr:\tbytes\ttext" lines; 16 bytes make a bundle whose
 * slot lines follow in order. Compare every line with ours. */
static void compare_listing(tally *t, const char *listing, uint64_t vma_base) {
  FILE *f = fopen(listing, "r");
  assert_non_null(f);
  char line[512], texts[3][256];
  uint8_t bytes[16];
  unsigned nbytes = 0, ntext = 0;
  uint64_t addr = 0;
  bool have_addr = false;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *tab1 = strchr(line, '\t');
    if (!tab1 || !strchr(line, ':') || strchr(line, ':') > tab1) continue;
    char *tab2 = strchr(tab1 + 1, '\t');
    if (!have_addr) addr = strtoull(line, NULL, 16), have_addr = true;
    for (char *p = tab1 + 1; tab2 ? p < tab2 : *p;) {
      while (*p == ' ') p++;
      if ((tab2 && p >= tab2) || !*p) break;
      if (nbytes < 16) bytes[nbytes++] = (uint8_t)strtoul(p, &p, 16);
      else p++;
    }
    if (tab2 && ntext < 3) snprintf(texts[ntext++], sizeof texts[0], "%s", tab2 + 1);
    if (nbytes == 16) {
      ia64_disasm_line ours[3];
      uint64_t ip = addr - ((addr - vma_base) & 15);
      int n = ia64_disasm_bundle(bytes, ip, ours);
      assert_int_equal(n, ntext);
      for (int i = 0; i < n; i++) {
        t->lines++;
        if (strcmp(ours[i].text, texts[i]) == 0) t->agree++;
        else fprintf(stderr, "mismatch at %#" PRIx64 " slot %d:\n  objdump: %s\n  ours:    %s\n", ip, i,
                     texts[i], ours[i].text);
      }
      mark_forms(t, bytes);
      nbytes = ntext = 0;
      have_addr = false;
    }
  }
  fclose(f);
}

/* ---- Tests ---------------------------------------------------------------------------------- */

static void test_every_form_disassembles_as_objdump_does(void **state) {
  (void)state;
  assert_true(ia64_tab_mm_len <= sizeof totals.hit / sizeof totals.hit[0]);
  char src[128], obj[128], lst[128];
  snprintf(src, sizeof src, "%s/forms.s", tmpdir);
  snprintf(obj, sizeof obj, "%s/forms.o", tmpdir);
  snprintf(lst, sizeof lst, "%s/forms.lst", tmpdir);
  FILE *f = fopen(src, "w");
  assert_non_null(f);
  fputs("\t.text\n", f);
  unsigned instances = 0;
  for (size_t i = 0; i < NFORMS; i++) {
    int n = forms[i].imms ? imm_count(forms[i].imms) : 0;
    if (n < 5) n = 5;
    for (int k = 0; k < n; k++, instances++) expand(f, &forms[i], k);
  }
  fclose(f);
  assert_int_equal(run("%s -x -o %s %s", tool("IA64_AS", "ia64-linux-gnu-as"), obj, src), 0);
  assert_int_equal(run("%s -d %s > %s", tool("IA64_OBJDUMP", "ia64-linux-gnu-objdump"), obj, lst), 0);
  tally t = {0};
  compare_listing(&t, lst, 0);
  printf("assembled instances: %u of %zu forms; slots agreeing with objdump: %u/%u\n", instances,
         NFORMS, t.agree, t.lines);
  assert_int_equal(t.agree, t.lines);
  assert_true(t.lines >= instances);
  for (size_t i = 0; i < ia64_tab_mm_len; i++) totals.hit[i] |= t.hit[i];
  totals.lines += t.lines, totals.agree += t.agree;
}

/* Encodings no assembler emits: mux1's reserved mbtype values (objdump prints them as a hex
 * number) and pshladd2/pshradd2 with ct2d = 3 (objdump prints count 4). Raw MII bundles:
 * the A forms in the M slot and in the I slot, the I forms in the I slot. */
static void write_mii(FILE *f, uint64_t s0, uint64_t s1) {
  const uint64_t nop = ENC(32, 27, 1);   /* nop.i 0 */
  uint64_t lo = 0x01 | s0 << 5 | s1 << 46;   /* template 1: MII with a final stop */
  uint64_t hi = s1 >> 18 | nop << 23;
  fwrite(&lo, 8, 1, f);
  fwrite(&hi, 8, 1, f);
}

static void test_reserved_encodings_disassemble_as_objdump_does(void **state) {
  (void)state;
  char bin[128], lst[128];
  snprintf(bin, sizeof bin, "%s/raw.bin", tmpdir);
  snprintf(lst, sizeof lst, "%s/raw.lst", tmpdir);
  FILE *f = fopen(bin, "wb");
  assert_non_null(f);
  const uint64_t nop = ENC(32, 27, 1);   /* nop.m 0 / nop.i 0 */
  unsigned bundles = 0;
  for (unsigned mbt = 0; mbt < 16; mbt++, bundles++) {
    /* op 7, x2a 3, x2b 2, x2c 2; r1 = 1 + mbt, r2 = 126 - mbt; bit 27 set half the time */
    uint64_t s = ENC(40, 37, 7) | ENC(35, 34, 3) | ENC(31, 30, 2) | ENC(29, 28, 2) | ENC(23, 20, mbt) |
                 ENC(12, 6, 1 + mbt) | ENC(19, 13, 126 - mbt) | ENC(27, 27, mbt & 1) | (mbt & 3);
    write_mii(f, nop, s);
  }
  for (unsigned x4 = 4; x4 <= 6; x4 += 2)
    for (unsigned ct2d = 0; ct2d < 4; ct2d++) {
      /* op 8, x2a 1, zb 1; r1 = 127, r2 = 0, r3 = 64 + ct2d */
      uint64_t s = ENC(40, 37, 8) | ENC(35, 34, 1) | ENC(33, 33, 1) | ENC(32, 29, x4) | ENC(28, 27, ct2d) |
                   ENC(12, 6, 127) | ENC(26, 20, 64 + ct2d) | ct2d;
      write_mii(f, s, nop);
      write_mii(f, nop, s);
      bundles += 2;
    }
  fclose(f);
  assert_int_equal(run("%s -D -z -b binary -m ia64 --adjust-vma=0x4000000000000000 %s > %s",
                       tool("IA64_OBJDUMP", "ia64-linux-gnu-objdump"), bin, lst), 0);
  tally t = {0};
  compare_listing(&t, lst, UINT64_C(0x4000000000000000));
  printf("raw bundles (reserved mux1 types, pshladd2/pshradd2 counts): slots agreeing with objdump: %u/%u\n",
         t.agree, t.lines);
  assert_int_equal(t.lines, bundles * 3);
  assert_int_equal(t.agree, t.lines);
  for (size_t i = 0; i < ia64_tab_mm_len; i++) totals.hit[i] |= t.hit[i];
  totals.lines += t.lines, totals.agree += t.agree;
}

/* Runs last: every form of the table was produced by one of the tests above. */
static void test_every_form_of_the_family_was_exercised(void **state) {
  (void)state;
  unsigned tested = 0;
  for (size_t i = 0; i < ia64_tab_mm_len; i++) {
    if (totals.hit[i]) tested++;
    else fprintf(stderr, "form not exercised: %s %s\n", ia64_tab_mm[i].mnem, ia64_tab_mm[i].opnds);
  }
  printf("mm forms tested: %u / %zu in the family; objdump comparison: %u/%u slots agree\n", tested,
         ia64_tab_mm_len, totals.agree, totals.lines);
  assert_int_equal(tested, ia64_tab_mm_len);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_form_disassembles_as_objdump_does),
    cmocka_unit_test(test_reserved_encodings_disassemble_as_objdump_does),
    cmocka_unit_test(test_every_form_of_the_family_was_exercised),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
