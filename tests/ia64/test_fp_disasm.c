/* test_fp_disasm.c — the floating-point family against the objdump oracle.
 *
 * Every FP form is written below in assembler syntax, independently of tab_fp.c, as patterns
 * with braces ("fma{,.s,.d}.s{0,1} $d=$a,$b,$c" is six instructions), the assembler's own
 * pseudo-ops included (fmpy, fadd, fnorm, fcvt.xuf, mov, fabs, fcmp.gt, fclass.nm, xmpy...).
 * Each expansion is instantiated with registers cycling through their edges (f0 and f1 as
 * sources, f2, f31, f32, f127 as targets; p0, p1, p63; r0, r1, r127), assembled by
 * ia64-linux-gnu-as, and objdump -d's text for every slot must equal ia64_disasm_bundle's.
 * Then the forms of ia64_tab_fp the slots decoded to are counted: "forms tested / forms in
 * the family", every one must be hit. */
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

/* $d FR target, $a $b $c FR sources, $e the second target of a pair (other parity than $d),
 * $p $q predicate targets, $r GR base/source, $s a second GR source, $g GR target. */
static const char *const patterns[] = {
  /* F1 and its pseudo-ops */
  "{fma,fms,fnma}{,.s,.d}{,.s0,.s1,.s2,.s3} $d=$a,$b,$c",
  "{fmpy,fnmpy}{,.s,.d}{,.s1,.s3} $d=$a,$b",
  "{fadd,fsub}{,.s,.d}{,.s0,.s2} $d=$a,$b",
  "{fnorm,fcvt.xuf}{,.s,.d}{,.s1,.s3} $d=$a",
  "fma{,.s,.d} $d=$a,f1,f0", "fms.d.s2 $d=$a,$b,f0", "fnma.s.s1 $d=$a,f1,$c",
  "{fpma,fpms,fpnma}{,.s0,.s1,.s2,.s3} $d=$a,$b,$c",
  "{fpmpy,fpnmpy}{,.s2} $d=$a,$b", "fpma.s1 $d=$a,f1,f0",
  /* F2 F3 */
  "xma.{l,lu,h,hu} $d=$a,$b,$c", "xma.{l,h,hu} $d=f3,f4,f5", "xmpy.{l,lu,h,hu} $d=$a,$b", "fselect $d=$a,$b,$c",
  /* F4 F5 */
  "fcmp.{eq,lt,le,gt,ge,unord,neq,nlt,nle,ngt,nge,ord}{,.unc}{,.s0,.s1,.s2,.s3} $p,$q=$a,$b",
  "fclass.{m,nm}{,.unc} $p,$q=$a,{0x1ff,0x1,0x2,0x100,0x80,0x40,0x3c,@nat,@qnan|@snan,@pos|@zero}",
  /* F6 F7 */
  "{frcpa,fprcpa}{,.s0,.s1,.s2,.s3} $d,$p=$a,$b", "{frsqrta,fprsqrta}{,.s1,.s3} $d,$p=$a",
  /* F8 */
  "{fmin,fmax,famin,famax,fpmin,fpmax,fpamin,fpamax}{,.s0,.s1,.s2,.s3} $d=$a,$b",
  "fpcmp.{eq,lt,le,gt,ge,unord,neq,nlt,nle,ngt,nge,ord}{,.s1,.s3} $d=$a,$b",
  /* F9 and the merge pseudo-ops, with the register coincidences that select them */
  "{fmerge.s,fmerge.ns,fmerge.se,fpmerge.s,fpmerge.ns,fpmerge.se} $d=$a,$b",
  "{fmerge.s,fmerge.ns,fmerge.se,fpmerge.s,fpmerge.ns,fpmerge.se} $d={f0,$b},$b",
  "{fmerge.s,fmerge.ns,fpmerge.s,fpmerge.ns} $d=f0,$a",
  "{mov,fabs,fneg,fnegabs,fpabs,fpneg,fpnegabs} $d={$a,f0,f1}",
  "{fmix.l,fmix.r,fmix.lr,fsxt.l,fsxt.r,fpack,fswap,fswap.nl,fswap.nr,fand,fandcm,for,fxor} $d=$a,$b",
  /* F10 F11 */
  "{fcvt.fx,fcvt.fxu,fcvt.fx.trunc,fcvt.fxu.trunc,fpcvt.fx,fpcvt.fxu,fpcvt.fx.trunc,fpcvt.fxu.trunc}"
  "{,.s0,.s1,.s2,.s3} $d=$a",
  "fcvt.xf $d=$a",
  /* F12 F13 F14 */
  "fsetc{,.s0,.s1,.s2,.s3} {0x0,0x7f,0x35},{0x0,0x7f,0x4a}", "fclrf{,.s0,.s1,.s2,.s3}",
  "fchkf{,.s0,.s1,.s2,.s3} {back,fwd}",
  /* M6 M7 M8: loads */
  "ldf{s,d,e,8}{,.s,.a,.sa,.c.clr,.c.nc}{,.nt1,.nta,.d2,.d4,.d5,.d6,.d7} $d=[$r]",
  "ldf{s,d,e,8}{,.s,.a,.sa,.c.clr,.c.nc}{,.nt1,.nta} $d=[$r],{$s,-256,255,0,-1,16}",
  "ldf.fill{,.nt1,.nta,.d2,.d4,.d5,.d6,.d7} $d=[$r]", "ldf.fill{,.nt1,.nta} $d=[$r],{$s,-256,255,16}",
  /* M9 M10: stores */
  "stf{s,d,e,8}{,.d1,.d2,.nta,.d4,.d5,.d6,.d7} [$r]=$a", "stf{s,d,e,8}{,.nta} [$r]=$a,{-256,255,0,-1,8}",
  "stf.spill{,.d1,.d2,.nta,.d4,.d7} [$r]=$a", "stf.spill{,.nta} [$r]=$a,{-256,255,16}",
  /* M11 M12: load pairs */
  "ldfp{s,d,8}{,.s,.a,.sa,.c.clr,.c.nc}{,.nt1,.nta} $d,$e=[$r]",
  "ldfps{,.s,.a,.sa,.c.clr,.c.nc}{,.nt1,.nta} $d,$e=[$r],8",
  "ldfp{d,8}{,.s,.a,.sa,.c.clr,.c.nc}{,.nt1,.nta} $d,$e=[$r],16",
  /* M18 M19 */
  "setf.{sig,exp,s,d} $d={$r,r0}", "getf.{sig,exp,s,d} $g={$a,f0,f1}",
};
#define NPATTERNS (sizeof patterns / sizeof patterns[0])

/* Register sets cycled through the instances: $d $e $a $b $c (FRs), $r $s $g (GRs). */
static const unsigned fsets[][5] = {{2, 3, 0, 1, 127}, {127, 126, 1, 127, 0}, {31, 32, 32, 31, 2},
                                    {32, 33, 6, 7, 8},  {64, 3, 100, 64, 33}, {100, 101, 127, 2, 1}};
static const unsigned gsets[][3] = {{1, 0, 1}, {127, 2, 127}, {31, 32, 32}, {3, 127, 8}};
static const unsigned psets[][3] = {{0, 1, 2}, {63, 6, 7}, {1, 0, 63}, {17, 62, 1}};
#define NF (sizeof fsets / sizeof fsets[0])
#define NG (sizeof gsets / sizeof gsets[0])
#define NP (sizeof psets / sizeof psets[0])

/* ---- Source generation ------------------------------------------------------------------------ */

/* The source: the instances, and how many there have been (it picks registers, predicate
 * and the rest). */
typedef struct source { ia64t_text text; unsigned instance; } source;

static void emit(void *ctx, const char *text) {
  source *out = ctx;
  unsigned k = out->instance++;
  const unsigned *f = fsets[k % NF], *g = gsets[k % NG], *p = psets[k % NP];
  char line[256];
  size_t l = 0;
  if (p[0]) l += (size_t)snprintf(line + l, sizeof line - l, "(p%u) ", p[0]);
  for (const char *c = text; *c && l < sizeof line - 24; c++) {
    if (*c != '$') {
      line[l++] = *c;
      continue;
    }
    unsigned v = 0;
    char kind = 'f';
    switch (*++c) {
    case 'd': v = f[0]; break;
    case 'e': v = f[1]; break;
    case 'a': v = f[2]; break;
    case 'b': v = f[3]; break;
    case 'c': v = f[4]; break;
    case 'r': v = g[0], kind = 'r'; break;
    case 's': v = g[1], kind = 'r'; break;
    case 'g': v = g[2], kind = 'r'; break;
    case 'p': v = p[1], kind = 'p'; break;
    case 'q': v = p[2], kind = 'p'; break;
    }
    l += (size_t)snprintf(line + l, sizeof line - l, "%c%u", kind, v);
  }
  snprintf(line + l, sizeof line - l, " ;;\n");
  ia64t_text_add(&out->text, line);
}

static char *make_source(void) {
  source b = {{0}, 0};
  ia64t_text_add(&b.text, "back:\n");
  for (size_t i = 0; i < NPATTERNS; i++) ia64t_expand_braces(patterns[i], emit, &b);
  ia64t_text_add(&b.text, "fwd:\n\tnop.m 0\n");
  return b.text.p;
}

/* ---- The test -------------------------------------------------------------------------------- */

static void test_every_fp_form_disassembles_as_objdump_does(void **state) {
  (void)state;
  char *src = make_source();
  ia64t_check_family("fp", src, NULL, ia64_tab_fp, ia64_tab_fp_len);
  free(src);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_fp_form_disassembles_as_objdump_does),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
