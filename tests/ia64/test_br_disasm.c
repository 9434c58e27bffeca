/* test_br_disasm.c — the branch and register-stack forms against the objdump oracle.
 *
 * Every form of tab_br.c is written below in assembler syntax, independently of the table,
 * and expanded into instances: each of the 16 hint combinations (.sptk/.spnt/.dptk/.dpnt,
 * .few/.many, with and without .clr), predicates p0, p1 and p63, every branch register,
 * targets behind, ahead and 16 MiB away (and, for brl, anywhere in the 64-bit space), every
 * brp hint, every B8 form, alloc at the edges of its fields. ia64-linux-gnu-as assembles
 * them, ld places them at 0x4000000000000000, objcopy takes the bytes out, and
 *     ia64-linux-gnu-objdump -D -b binary -m ia64 --adjust-vma=0x4000000000000000
 * prints them; every slot's line must equal ia64_disasm_bundle's. The test then counts the
 * forms of ia64_tab_br the slots decoded to and prints "forms tested / forms in the family":
 * all must be tested, and every line must agree. */
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

#define BASE UINT64_C(0x4000000000000000)

/* ---- Source ------------------------------------------------------------------------------- */

typedef struct text { char *p; size_t len, cap; } text;

static void emit(text *t, const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (t->len + (size_t)n + 1 > t->cap) {
    t->cap = (t->cap + (size_t)n + 1) * 2;
    t->p = realloc(t->p, t->cap);
  }
  memcpy(t->p + t->len, line, (size_t)n + 1);
  t->len += (size_t)n;
}

static const char *const bwh[] = {".sptk", ".spnt", ".dptk", ".dpnt"};
static const char *const ph[] = {".few", ".many"};
static const char *const dh[] = {"", ".clr"};
static const unsigned preds[] = {0, 1, 63};
static const char *const targets[] = {"Lback", "Lahead", "Lfar"};

static const char *pred(unsigned k, char *buf) {
  unsigned qp = preds[k % 3];
  if (qp) sprintf(buf, "(p%u) ", qp);
  else buf[0] = 0;
  return buf;
}

static char *make_source(void) {
  text t = {0};
  char q[16];
  emit(&t, "\t.text\n\t.global _start\n_start:\nLback:\tnop.b 0 ;;\n");
  unsigned k = 0;
  for (unsigned w = 0; w < 4; w++)
    for (unsigned p = 0; p < 2; p++)
      for (unsigned d = 0; d < 2; d++, k++) {
        char h[24];
        snprintf(h, sizeof h, "%s%s%s", bwh[w], ph[p], dh[d]);
        const char *tg = targets[k % 3];
        unsigned b1 = k % 8, b2 = (k * 3 + 1) % 8;
        for (unsigned i = 0; i < 3; i++) {
          emit(&t, "%sbr.cond%s %s ;;\n", pred(k + i, q), h, targets[(k + i) % 3]);
          emit(&t, "%sbr.cond%s b%u ;;\n", pred(k + i, q), h, (b2 + i) % 8);
          emit(&t, "%sbr.call%s b%u=%s ;;\n", pred(k + i, q), h, (b1 + i) % 8, targets[(k + i) % 3]);
          emit(&t, "%sbr.call%s b%u=b%u ;;\n", pred(k + i, q), h, (b1 + i) % 8, (b2 + i) % 8);
          emit(&t, "%sbr.ret%s b%u ;;\n", pred(k + i, q), h, (b2 + i) % 8);
          emit(&t, "%sbr.ia%s b%u ;;\n", pred(k + i, q), h, (b2 + i) % 8);
          emit(&t, "%sbr.wexit%s %s ;;\n", pred(k + i, q), h, tg);
          emit(&t, "%sbr.wtop%s %s ;;\n", pred(k + i, q), h, tg);
          emit(&t, "%sbrl.cond%s %s ;;\n", pred(k + i, q), h, i == 2 ? "Lfar64" : tg);
          emit(&t, "%sbrl.call%s b%u=%s ;;\n", pred(k + i, q), h, (b1 + i) % 8, i == 1 ? "Lfar64" : tg);
        }
        emit(&t, "br.cloop%s %s ;;\n", h, tg);
        emit(&t, "br.cexit%s %s ;;\n", h, tg);
        emit(&t, "br.ctop%s %s ;;\n", h, tg);
      }
  /* brp: IP-relative with every hint, indirect with the two it has; the tag is the
   * instruction's own bundle or a nearby one. */
  static const char *const ipwh[] = {".sptk", ".loop", ".dptk", ".exit"};
  static const char *const ih[] = {"", ".imp"};
  for (unsigned w = 0; w < 4; w++)
    for (unsigned i = 0; i < 2; i++, k++) {
      emit(&t, "Ltag%u:\tbrp%s%s %s, Ltag%u ;;\n", k, ipwh[w], ih[i], targets[k % 3], k);
      if (w % 2 == 0) {
        emit(&t, "brp%s%s b%u, Ltag%u ;;\n", ipwh[w], ih[i], k % 8, k);
        emit(&t, "brp.ret%s%s b%u, Ltag%u ;;\n", ipwh[w], ih[i], (k + 5) % 8, k);
      }
    }
  /* B8 */
  static const char *const b8[] = {"cover", "clrrrb", "clrrrb.pr", "rfi", "bsw.0", "bsw.1", "epc", "vmsw.0", "vmsw.1"};
  for (unsigned i = 0; i < sizeof b8 / sizeof b8[0]; i++) emit(&t, "%s ;;\n", b8[i]);
  /* M34, M25: alloc r1=ar.pfs,i,l,o,r at the edges of its fields */
  static const unsigned alloc[][5] = {
    {1, 0, 0, 0, 0},  {34, 2, 7, 0, 0}, {127, 8, 80, 8, 96}, {32, 96, 0, 0, 0}, {127, 0, 96, 0, 0},
    {2, 1, 2, 3, 0},  {9, 0, 0, 96, 96}, {40, 0, 16, 0, 16}, {31, 10, 10, 10, 24}, {33, 0, 0, 1, 0},
  };
  for (unsigned i = 0; i < sizeof alloc / sizeof alloc[0]; i++)
    emit(&t, "alloc r%u=ar.pfs,%u,%u,%u,%u ;;\n", alloc[i][0], alloc[i][1], alloc[i][2], alloc[i][3], alloc[i][4]);
  emit(&t, "flushrs ;;\nloadrs ;;\n");
  emit(&t, "Lahead:\tnop.b 0 ;;\n\t.set Lfar, 0x4000000000fffff0\n\t.set Lfar64, 0xfedcba9876543210\n");
  return t.p;
}

/* ---- Assembling and objdump's listing ----------------------------------------------------- */

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

static int run(const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  return system(cmd);
}

/* A tool of the same binutils as objdump (objcopy) sits next to it. */
static void sibling(char *out, size_t n, const char *name) {
  const char *od = tool("IA64_OBJDUMP", "ia64-linux-gnu-objdump");
  const char *p = strstr(od, "objdump");
  if (p) snprintf(out, n, "%.*s%s%s", (int)(p - od), od, name, p + 7);
  else snprintf(out, n, "ia64-linux-gnu-%s", name);
}

static void listing_add_line(listing *l, size_t *cap, unsigned *nbytes, char *line) {
  char *colon = strchr(line, ':'), *tab1 = strchr(line, '\t');
  if (!colon || !tab1 || colon > tab1 || line[0] != '4') return;
  char *tab2 = strchr(tab1 + 1, '\t');
  if (*nbytes == 0) {
    if (l->n == *cap) {
      *cap = *cap ? 2 * *cap : 256;
      l->bundles = realloc(l->bundles, *cap * sizeof *l->bundles);
      l->text = realloc(l->text, *cap * sizeof *l->text);
      l->nlines = realloc(l->nlines, *cap * sizeof *l->nlines);
    }
    l->nlines[l->n] = 0;
  }
  char *p = tab1 + 1;
  while (*nbytes < 16) {
    while (*p == ' ') p++;
    if (!*p || *p == '\t') break;
    l->bundles[l->n][(*nbytes)++] = (uint8_t)strtoul(p, &p, 16);
  }
  if (tab2 && l->nlines[l->n] < 3) {
    char *t = l->text[l->n][l->nlines[l->n]++];
    snprintf(t, 160, "%s", tab2 + 1);
    size_t len = strlen(t);
    while (len && t[len - 1] == ' ') t[--len] = 0;
  }
  if (*nbytes == 16) *nbytes = 0, l->n++;
}

static int assemble(const char *src, listing *out) {
  memset(out, 0, sizeof *out);
  char dir[] = "/tmp/hpvm_br_XXXXXX", objcopy[1024], path[256];
  if (!mkdtemp(dir)) return -1;
  sibling(objcopy, sizeof objcopy, "objcopy");
  snprintf(path, sizeof path, "%s/a.s", dir);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fputs(src, f);
  fclose(f);
  int rc = run("cd %s && %s -xnone -o a.o a.s && %s -static -Ttext=0x%" PRIx64 " -e _start -o a a.o && "
               "%s -O binary -j .text a a.bin && %s -D -z -b binary -m ia64 --adjust-vma=0x%" PRIx64 " a.bin > a.lst",
               dir, tool("IA64_AS", "ia64-linux-gnu-as"), tool("IA64_LD", "ia64-linux-gnu-ld"), BASE, objcopy,
               tool("IA64_OBJDUMP", "ia64-linux-gnu-objdump"), BASE);
  snprintf(path, sizeof path, "%s/a.lst", dir);
  f = rc == 0 ? fopen(path, "r") : NULL;
  size_t cap = 0;
  unsigned nbytes = 0;
  char line[512];
  while (f && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    listing_add_line(out, &cap, &nbytes, line);
  }
  if (f) fclose(f);
  run("rm -rf %s", dir);
  return rc == 0 && out->n ? 0 : -1;
}

static void listing_free(listing *l) {
  free(l->bundles);
  free(l->text);
  free(l->nlines);
}

/* ---- The test --------------------------------------------------------------------------------- */

static void test_every_br_form_disassembles_as_objdump_does(void **state) {
  (void)state;
  char *src = make_source();
  listing l;
  assert_int_equal(assemble(src, &l), 0);
  free(src);
  bool hit[256] = {false};
  unsigned lines = 0, agree = 0, shown = 0;
  for (size_t b = 0; b < l.n; b++) {
    ia64_disasm_line ours[3];
    int n = ia64_disasm_bundle(l.bundles[b], BASE + b * 16, ours);
    assert_int_equal((unsigned)n, l.nlines[b]);
    for (int s = 0; s < n; s++) {
      lines++;
      if (strcmp(ours[s].text, l.text[b][s]) == 0) agree++;
      else if (shown++ < 20)
        printf("MISMATCH bundle %zu slot %d\n  objdump: %s\n  ours:    %s\n", b, s, l.text[b][s], ours[s].text);
      unsigned slot = n == 2 && s == 1 ? 2 : (unsigned)s;  /* MLX: the L+X form sits in slot 2 */
      int id = ia64_decode_slot_id(l.bundles[b], slot);
      const ia64_insn_desc *d = id >= 0 ? ia64_desc((unsigned)id) : NULL;
      if (d && d >= ia64_tab_br && d < ia64_tab_br + ia64_tab_br_len) hit[d - ia64_tab_br] = true;
    }
  }
  unsigned tested = 0, total = 0;
  for (size_t i = 0; i < ia64_tab_br_len; i++) {
    total++;
    if (hit[i]) tested++;
    else printf("form not tested: %s %s\n", ia64_tab_br[i].mnem, ia64_tab_br[i].opnds);
  }
  printf("br: %u/%u lines agree with objdump; forms tested %u/%u\n", agree, lines, tested, total);
  fflush(stdout);
  listing_free(&l);
  assert_int_equal(agree, lines);
  assert_int_equal(tested, total);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_br_form_disassembles_as_objdump_does),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
