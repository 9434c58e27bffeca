/* test_mem_disasm.c — the integer memory family against the objdump oracle.
 *
 * Every form is written below in assembler syntax, independently of tab_mem.c, as patterns
 * with bash-like braces: "ld{1,8}{,.s} $d=[$b]" stands for four instructions. Each expanded
 * line is instantiated with GRs at their edges (r0 as a source, r1, r31, r32, r127), FRs
 * f0..f127 and predicates p0, p1, p63; immediates come from lists with their edges.
 * ia64-linux-gnu-as assembles it all; objdump -d's text for every slot must equal
 * ia64_disasm_bundle's. The test then counts which forms of ia64_tab_mem the slots decoded
 * to and prints "forms tested / forms in the family": every form must be hit. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

/* ---- The forms ------------------------------------------------------------------------------ */

/* $d destination GR, $b base GR (never equal to $d), $s source GR (r2 field), $f/$g FRs,
 * $a an application register the M unit has, $p a predicate. */
static const char *const patterns[] = {
  /* M1 M2 M3: loads, every type and hint, the three addressing forms */
  "ld{1,2,4,8}{,.s,.a,.sa,.bias,.acq,.c.clr,.c.nc,.c.clr.acq}{,.nt1,.nta,.d2,.d4,.d5,.d6,.d7} $d=[$b]",
  "ld{1,2,4,8}{,.s,.a,.sa,.bias,.acq,.c.clr,.c.nc,.c.clr.acq}{,.nt1,.nta} $d=[$b],$s",
  "ld{1,2,4,8}{,.s,.a,.sa,.bias,.acq,.c.clr,.c.nc,.c.clr.acq}{,.nt1,.nta} $d=[$b],{-256,255,0,-1,1,128,-129}",
  "ld8.fill{,.nt1,.nta,.d2,.d4,.d7} $d=[$b]",
  "ld8.fill{,.nt1,.nta} $d=[$b],{$s,-256,255,8}",
  "ld16{,.acq}{,.nt1,.d2,.nta,.d4,.d5,.d6,.d7} $d,ar.csd=[$b]",
  /* M4 M5: stores */
  "st{1,2,4,8}{,.rel}{,.d1,.d2,.nta,.d4,.d5,.d6,.d7} [$b]=$s",
  "st{1,2,4,8}{,.rel}{,.nta} [$b]=$s,{-256,255,0,-1,1,64,-65}",
  "st8.spill{,.d1,.d2,.nta,.d4,.d7} [$b]=$s",
  "st8.spill{,.nta} [$b]=$s,{-256,255,8}",
  "st16{,.rel}{,.d1,.d2,.nta,.d4,.d5,.d6,.d7} [$b]=$s,ar.csd",
  /* M16 M17: semaphores */
  "cmpxchg{1,2,4,8}.{acq,rel}{,.nt1,.nta} $d=[$b],$s,ar.ccv",
  "xchg{1,2,4,8}{,.nt1,.nta} $d=[$b],$s",
  "fetchadd{4,8}.{acq,rel}{,.nt1,.nta} $d=[$b],{-16,-8,-4,-1,1,4,8,16}",
  "cmp8xchg16.{acq,rel}{,.nt1,.nta} $d=[$b],$s,ar.csd,ar.ccv",
  /* M13 M14 M15: line prefetch */
  "lfetch{,.excl,.fault,.fault.excl}{,.nt1,.nt2,.nta,.d4,.d5,.d6,.d7} [$b]",
  "lfetch{,.excl,.fault,.fault.excl}{,.nt1,.nt2,.nta,.d4,.d7} [$b],$s",
  "lfetch{,.excl,.fault,.fault.excl}{,.nt1,.nt2,.nta,.d4,.d7} [$b],{-256,255,0,-1,64}",
  "lfetch.count{,.nt1,.nt2,.nta,.d4,.d7} [$b],{1,2,33,64},{-1024,-64,0,64,960}",
  /* M20 M21 M22 M23: speculation checks, backward and forward */
  "chk.s.m $s,{back,fwd}", "chk.s $f,{back,fwd}",
  "chk.a.{nc,clr} {$d,r0},{back,fwd}", "chk.a.{nc,clr} {$f,f0,f1},{back,fwd}",
  /* M24 M26 M27 M28 */
  "invala", "fwb", "mf", "mf.a", "srlz.d", "srlz.i", "sync.i",
  "invala.e {$d,r0}", "invala.e {$f,f0}",
  "fc $b", "fc.i $b",
  /* M29 M30 M31 */
  "mov.m $a=$s", "mov.m $a={-128,127,0,-1,5}", "mov.m $d=$a",
};
#define NPATTERNS (sizeof patterns / sizeof patterns[0])

/* Register sets ($d, $s, $b, $f) cycled through the instances. */
static const unsigned regs[][4] = {{1, 0, 127, 2}, {127, 127, 2, 127}, {31, 32, 33, 32},
                                   {8, 2, 3, 6},   {32, 31, 1, 31},    {100, 64, 99, 96}};
#define NREGS (sizeof regs / sizeof regs[0])
static const unsigned preds[] = {0, 63, 1, 17};
static const char *const ars[] = {
  "ar.k0", "ar.k1", "ar.k2", "ar.k3", "ar.k4", "ar.k5", "ar.k6", "ar.k7", "ar.rsc", "ar.bsp",
  "ar.bspstore", "ar.rnat", "ar.fcr", "ar.eflag", "ar.csd", "ar.ssd", "ar.cflg", "ar.fsr",
  "ar.fir", "ar.fdr", "ar.ccv", "ar.unat", "ar.fpsr", "ar.itc", "ar.ruc", "ar48", "ar63",
};
#define NARS (sizeof ars / sizeof ars[0])

/* ---- Source generation ------------------------------------------------------------------------ */

/* The source: the instances, and how many there have been (it picks registers, predicate
 * and the rest). */
typedef struct source { ia64t_text text; unsigned instance; } source;

/* One instruction: predicate, then the text with its $ fields filled. */
static void emit(void *ctx, const char *text) {
  source *out = ctx;
  unsigned k = out->instance++;
  const unsigned *r = regs[k % NREGS];
  char line[256];
  size_t l = 0;
  unsigned qp = preds[k % (sizeof preds / sizeof preds[0])];
  if (qp) l += (size_t)snprintf(line + l, sizeof line - l, "(p%u) ", qp);
  for (const char *p = text; *p && l < sizeof line - 24; p++) {
    if (*p != '$') {
      line[l++] = *p;
      continue;
    }
    switch (*++p) {
    case 'd': l += (size_t)snprintf(line + l, sizeof line - l, "r%u", r[0]); break;
    case 's': l += (size_t)snprintf(line + l, sizeof line - l, "r%u", r[1]); break;
    case 'b': l += (size_t)snprintf(line + l, sizeof line - l, "r%u", r[2]); break;
    case 'f': l += (size_t)snprintf(line + l, sizeof line - l, "f%u", r[3]); break;
    case 'a': l += (size_t)snprintf(line + l, sizeof line - l, "%s", ars[k % NARS]); break;
    }
  }
  snprintf(line + l, sizeof line - l, " ;;\n");
  ia64t_text_add(&out->text, line);
}

static char *make_source(void) {
  source b = {{0}, 0};
  ia64t_text_add(&b.text, "back:\n");
  for (size_t i = 0; i < NPATTERNS; i++) ia64t_expand_braces(patterns[i], emit, &b);
  /* Every AR in both directions, not only those the cycle above lands on. */
  for (size_t a = 0; a < NARS; a++) {
    char t[64];
    snprintf(t, sizeof t, "mov.m %s=$s", ars[a]);
    emit(&b, t);
    snprintf(t, sizeof t, "mov.m $d=%s", ars[a]);
    emit(&b, t);
  }
  ia64t_text_add(&b.text, "fwd:\n\tnop.m 0\n");
  return b.text.p;
}

/* ---- The test -------------------------------------------------------------------------------- */

static void test_every_mem_form_disassembles_as_objdump_does(void **state) {
  (void)state;
  char *src = make_source();
  ia64t_check_family("mem", src, NULL, ia64_tab_mem, ia64_tab_mem_len);
  free(src);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_mem_form_disassembles_as_objdump_does),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
