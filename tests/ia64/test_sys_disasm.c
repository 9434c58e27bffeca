/* test_sys_disasm.c — the system instructions against the objdump oracle.
 *
 * Every system form is written below in assembler syntax, independently of tab_sys.c, and
 * expanded into instances: GRs at their edges (r0 as a source, r1, r31, r32, r127), every
 * named control register in both directions, immediates at their edges, predicates p0, p1
 * and p63. ia64-linux-gnu-as assembles them; objdump -d's text for each slot must equal
 * ia64_disasm_bundle's. Then the test counts the forms of ia64_tab_sys the slots decoded to
 * and prints "forms tested / forms in the family": all must be, and every line must agree. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

/* $d: destination GR; $s: source GR (the r2 field); $x: the r3 field; $i: an immediate
 * from imms in turn; $c: a control register name from crs in turn. */
typedef struct sys_form { const char *text; const char *imms; } sys_form;

static const sys_form forms[] = {
  /* M44 */
  {"sum $i", "0 0x2 0x3e 0x3f 0x800000 0xffffff"}, {"rum $i", "0 0x4 0x3e 0x100 0xffffff"},
  {"ssm $i", "0 0x6000 0x2000 0x4000 0xffffff"}, {"rsm $i", "0 0x6000 0x10 0x800000 0xffffff"},
  /* M42 */
  {"mov rr[$x]=$s", NULL}, {"mov dbr[$x]=$s", NULL}, {"mov ibr[$x]=$s", NULL},
  {"mov pkr[$x]=$s", NULL}, {"mov pmc[$x]=$s", NULL}, {"mov pmd[$x]=$s", NULL},
  {"mov msr[$x]=$s", NULL}, {"itr.d dtr[$x]=$s", NULL}, {"itr.i itr[$x]=$s", NULL},
  /* M43 */
  {"mov $d=rr[$x]", NULL}, {"mov $d=dbr[$x]", NULL}, {"mov $d=ibr[$x]", NULL},
  {"mov $d=pkr[$x]", NULL}, {"mov $d=pmc[$x]", NULL}, {"mov $d=pmd[$x]", NULL},
  {"mov $d=msr[$x]", NULL}, {"mov $d=cpuid[$x]", NULL}, {"mov $d=dahr[$x]", NULL},
  /* M45, M47 */
  {"ptc.l $x,$s", NULL}, {"ptc.g $x,$s", NULL}, {"ptc.ga $x,$s", NULL},
  {"ptr.d $x,$s", NULL}, {"ptr.i $x,$s", NULL}, {"ptc.e $x", NULL},
  /* M38-M40 */
  {"probe.r $d=$x,$s", NULL}, {"probe.w $d=$x,$s", NULL},
  {"probe.r $d=$x,$i", "0 1 2 3"}, {"probe.w $d=$x,$i", "0 1 2 3"},
  {"probe.rw.fault $x,$i", "0 1 2 3"}, {"probe.r.fault $x,$i", "0 1 2 3"},
  {"probe.w.fault $x,$i", "0 1 2 3"},
  /* M46 */
  {"thash $d=$x", NULL}, {"ttag $d=$x", NULL}, {"tpa $d=$x", NULL}, {"tak $d=$x", NULL},
  /* M35, M36 */
  {"mov $d=psr", NULL}, {"mov psr.l=$s", NULL}, {"mov $d=psr.um", NULL}, {"mov psr.um=$s", NULL},
  /* M41 */
  {"itc.d $s", NULL}, {"itc.i $s", NULL},
};
#define NFORMS (sizeof forms / sizeof forms[0])

static const char *const crs[] = {
  "cr.dcr", "cr.itm", "cr.iva", "cr.pta", "cr.ipsr", "cr.isr", "cr.iip", "cr.ifa", "cr.itir",
  "cr.iipa", "cr.ifs", "cr.iim", "cr.iha", "cr.iib0", "cr.iib1", "cr.lid", "cr.ivr", "cr.tpr",
  "cr.eoi", "cr.irr0", "cr.irr1", "cr.irr2", "cr.irr3", "cr.itv", "cr.pmv", "cr.cmcv",
  "cr.lrr0", "cr.lrr1",
};
#define NCRS (sizeof crs / sizeof crs[0])

/* Register triples ($d, $s, $x) and predicates to cycle through. */
static const unsigned regs[][3] = {{1, 0, 127}, {127, 127, 0}, {31, 32, 33}, {8, 2, 3}, {32, 31, 1}};
static const unsigned preds[] = {0, 63, 1};
#define NREGS (sizeof regs / sizeof regs[0])

/* Write instance k of a form: predicate, then the text with its $ fields filled. */
static void expand(ia64t_text *out, const char *text, const char *imms, const char *cr, unsigned k) {
  const unsigned *r = regs[k % NREGS];
  unsigned qp = preds[k % (sizeof preds / sizeof preds[0])];
  char line[160], imm[24] = "";
  size_t l = 0;
  if (imms) ia64t_list_nth(imms, k % ia64t_list_len(imms), imm, sizeof imm);
  if (qp) l += (size_t)snprintf(line + l, sizeof line - l, "(p%u) ", qp);
  for (const char *p = text; *p && l < sizeof line - 16; p++) {
    if (*p != '$') {
      line[l++] = *p;
      continue;
    }
    switch (*++p) {
    case 'd': l += (size_t)snprintf(line + l, sizeof line - l, "r%u", r[0] ? r[0] : 1); break;
    case 's': l += (size_t)snprintf(line + l, sizeof line - l, "r%u", r[1]); break;
    case 'x': l += (size_t)snprintf(line + l, sizeof line - l, "r%u", r[2]); break;
    case 'i': l += (size_t)snprintf(line + l, sizeof line - l, "%s", imm); break;
    case 'c': l += (size_t)snprintf(line + l, sizeof line - l, "%s", cr); break;
    }
  }
  snprintf(line + l, sizeof line - l, " ;;\n");
  ia64t_text_add(out, line);
}

static char *make_source(void) {
  ia64t_text t = {0};
  for (size_t f = 0; f < NFORMS; f++) {
    unsigned n = forms[f].imms ? ia64t_list_len(forms[f].imms) : 0;
    if (n < NREGS) n = NREGS;
    for (unsigned k = 0; k < n; k++) expand(&t, forms[f].text, forms[f].imms, NULL, k);
  }
  for (size_t c = 0; c < NCRS; c++) {
    expand(&t, "mov $d=$c", NULL, crs[c], (unsigned)c);
    expand(&t, "mov $c=$s", NULL, crs[c], (unsigned)c);
  }
  return t.p;
}

static void test_every_sys_form_disassembles_as_objdump_does(void **state) {
  (void)state;
  char *src = make_source();
  ia64t_check_family("sys", src, NULL, ia64_tab_sys, ia64_tab_sys_len);
  free(src);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_sys_form_disassembles_as_objdump_does),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
