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
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

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

typedef struct sbuf { char *p; size_t len, cap; } sbuf;
static void sb_add(sbuf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

static unsigned instance;   /* counts instances: picks registers, predicate and AR */

/* One instruction: predicate, then the text with its $ fields filled. */
static void emit(sbuf *out, const char *text) {
  unsigned k = instance++;
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
  l += (size_t)snprintf(line + l, sizeof line - l, " ;;\n");
  sb_add(out, line, l);
}

/* Brace expansion: the first {a,b,...} group is replaced by each alternative in turn. */
static void expand(sbuf *out, const char *pat) {
  const char *open = strchr(pat, '{');
  if (!open) {
    emit(out, pat);
    return;
  }
  const char *close = strchr(open, '}');
  assert_non_null(close);
  for (const char *alt = open + 1; alt <= close;) {
    size_t n = strcspn(alt, ",}");
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s%.*s%s", (int)(open - pat), pat, (int)n, alt, close + 1);
    expand(out, buf);
    alt += n + 1;
  }
}

static char *make_source(void) {
  sbuf b = {0};
  instance = 0;
  sb_add(&b, "\t.text\nback:\n", 13);
  for (size_t i = 0; i < NPATTERNS; i++) expand(&b, patterns[i]);
  /* Every AR in both directions, not only those the cycle above lands on. */
  for (size_t a = 0; a < NARS; a++) {
    char t[64];
    snprintf(t, sizeof t, "mov.m %s=$s", ars[a]);
    emit(&b, t);
    snprintf(t, sizeof t, "mov.m $d=%s", ars[a]);
    emit(&b, t);
  }
  sb_add(&b, "fwd:\n\tnop.m 0\n", 14);
  return b.p;
}

/* ---- Assembling and reading objdump's listing ---------------------------------------------------- */

typedef struct listing {
  uint8_t (*bundles)[16];
  char (*text)[3][160];
  unsigned *nlines;
  size_t n;
} listing;

static const char *tool(const char *env, const char *fallback) {
  const char *t = getenv(env);
  return t && *t ? t : fallback;
}

static void parse_line(listing *out, size_t *cap, unsigned *nbytes, char *line) {
  char *colon = strchr(line, ':'), *tab1 = strchr(line, '\t');
  if (!colon || !tab1 || colon > tab1) return;
  char *tab2 = strchr(tab1 + 1, '\t');
  if (*nbytes == 0) {
    if (out->n == *cap) {
      *cap = *cap ? 2 * *cap : 256;
      out->bundles = realloc(out->bundles, *cap * sizeof *out->bundles);
      out->text = realloc(out->text, *cap * sizeof *out->text);
      out->nlines = realloc(out->nlines, *cap * sizeof *out->nlines);
      assert_true(out->bundles && out->text && out->nlines);
    }
    out->nlines[out->n] = 0;
  }
  char *p = tab1 + 1;
  while (*nbytes < 16) {
    while (*p == ' ') p++;
    if (!*p || *p == '\t') break;
    out->bundles[out->n][(*nbytes)++] = (uint8_t)strtoul(p, &p, 16);
  }
  if (tab2 && out->nlines[out->n] < 3) {
    char *t = out->text[out->n][out->nlines[out->n]++];
    snprintf(t, 160, "%s", tab2 + 1);
    size_t l = strlen(t);
    while (l && t[l - 1] == ' ') t[--l] = 0;
  }
  if (*nbytes == 16) *nbytes = 0, out->n++;
}

/* Assemble src (dependency checks off: the instances reuse registers on purpose) and read
 * back objdump -d. 0, or -1 with the assembler's messages on stderr. */
static int assemble(const char *src, listing *out) {
  memset(out, 0, sizeof *out);
  char dir[] = "/tmp/hpvm_mem_XXXXXX";
  if (!mkdtemp(dir)) return -1;
  char path[128], cmd[2048];
  snprintf(path, sizeof path, "%s/a.s", dir);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fputs(src, f);
  fclose(f);
  /* Raw bytes, so objdump prints branch targets as numbers (no symbols), at address 0. */
  snprintf(cmd, sizeof cmd, "%s -xnone -o %s/a.o %s 2>&1 | grep -v Warning | grep -v 'Assembler messages' >&2; "
           "%s -O binary -j .text %s/a.o %s/a.bin && %s -D -z -b binary -m ia64 %s/a.bin > %s/a.lst",
           tool("IA64_AS", "ia64-linux-gnu-as"), dir, path, tool("IA64_OBJCOPY", "ia64-linux-gnu-objcopy"),
           dir, dir, tool("IA64_OBJDUMP", "ia64-linux-gnu-objdump"), dir, dir);
  int rc = system(cmd);
  snprintf(path, sizeof path, "%s/a.lst", dir);
  f = rc == 0 ? fopen(path, "r") : NULL;
  size_t cap = 0;
  unsigned nbytes = 0;
  char line[512];
  while (f && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    parse_line(out, &cap, &nbytes, line);
  }
  if (f) fclose(f);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) return -1;
  return rc == 0 && out->n ? 0 : -1;
}

/* ---- The test -------------------------------------------------------------------------------- */

static void test_every_mem_form_disassembles_as_objdump_does(void **state) {
  (void)state;
  char *src = make_source();
  listing l;
  assert_int_equal(assemble(src, &l), 0);
  free(src);
  bool *hit = calloc(ia64_tab_mem_len, sizeof *hit);
  unsigned lines = 0, agree = 0, shown = 0;
  for (size_t b = 0; b < l.n; b++) {
    ia64_disasm_line ours[3];
    int n = ia64_disasm_bundle(l.bundles[b], b * 16, ours);
    assert_int_equal((unsigned)n, l.nlines[b]);
    for (int s = 0; s < n; s++) {
      lines++;
      if (strcmp(ours[s].text, l.text[b][s]) == 0) agree++;
      else if (shown++ < 40)
        printf("MISMATCH bundle %zu slot %d\n  objdump: %s\n  ours:    %s\n", b, s, l.text[b][s], ours[s].text);
      int id = ia64_decode_slot_id(l.bundles[b], (unsigned)(n == 2 && s == 1 ? 2 : s));
      const ia64_insn_desc *d = id >= 0 ? ia64_desc((unsigned)id) : NULL;
      if (d && d >= ia64_tab_mem && d < ia64_tab_mem + ia64_tab_mem_len) hit[d - ia64_tab_mem] = true;
    }
  }
  unsigned tested = 0, total = 0;
  for (size_t i = 0; i < ia64_tab_mem_len; i++) {
    total++;
    if (hit[i]) tested++;
    else printf("form not tested: %s %s\n", ia64_tab_mem[i].mnem, ia64_tab_mem[i].opnds);
  }
  printf("mem: %u/%u lines agree with objdump; forms tested %u/%u\n", agree, lines, tested, total);
  free(hit);
  free(l.bundles);
  free(l.text);
  free(l.nlines);
  assert_int_equal(agree, lines);
  assert_int_equal(tested, total);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_mem_form_disassembles_as_objdump_does),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
