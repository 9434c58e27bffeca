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

#include <cmocka.h>

#include "harness.h"

#define BASE UINT64_C(0x4000000000000000)

/* ---- Source ------------------------------------------------------------------------------- */

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
  ia64t_text t = {0};
  char q[16];
  ia64t_text_add(&t, "Lback:\tnop.b 0 ;;\n");
  unsigned k = 0;
  for (unsigned w = 0; w < 4; w++)
    for (unsigned p = 0; p < 2; p++)
      for (unsigned d = 0; d < 2; d++, k++) {
        char h[24];
        snprintf(h, sizeof h, "%s%s%s", bwh[w], ph[p], dh[d]);
        const char *tg = targets[k % 3];
        unsigned b1 = k % 8, b2 = (k * 3 + 1) % 8;
        for (unsigned i = 0; i < 3; i++) {
          ia64t_text_addf(&t, "%sbr.cond%s %s ;;\n", pred(k + i, q), h, targets[(k + i) % 3]);
          ia64t_text_addf(&t, "%sbr.cond%s b%u ;;\n", pred(k + i, q), h, (b2 + i) % 8);
          ia64t_text_addf(&t, "%sbr.call%s b%u=%s ;;\n", pred(k + i, q), h, (b1 + i) % 8, targets[(k + i) % 3]);
          ia64t_text_addf(&t, "%sbr.call%s b%u=b%u ;;\n", pred(k + i, q), h, (b1 + i) % 8, (b2 + i) % 8);
          ia64t_text_addf(&t, "%sbr.ret%s b%u ;;\n", pred(k + i, q), h, (b2 + i) % 8);
          ia64t_text_addf(&t, "%sbr.ia%s b%u ;;\n", pred(k + i, q), h, (b2 + i) % 8);
          ia64t_text_addf(&t, "%sbr.wexit%s %s ;;\n", pred(k + i, q), h, tg);
          ia64t_text_addf(&t, "%sbr.wtop%s %s ;;\n", pred(k + i, q), h, tg);
          ia64t_text_addf(&t, "%sbrl.cond%s %s ;;\n", pred(k + i, q), h, i == 2 ? "Lfar64" : tg);
          ia64t_text_addf(&t, "%sbrl.call%s b%u=%s ;;\n", pred(k + i, q), h, (b1 + i) % 8, i == 1 ? "Lfar64" : tg);
        }
        ia64t_text_addf(&t, "br.cloop%s %s ;;\n", h, tg);
        ia64t_text_addf(&t, "br.cexit%s %s ;;\n", h, tg);
        ia64t_text_addf(&t, "br.ctop%s %s ;;\n", h, tg);
      }
  /* brp: IP-relative with every hint, indirect with the two it has; the tag is the
   * instruction's own bundle or a nearby one. */
  static const char *const ipwh[] = {".sptk", ".loop", ".dptk", ".exit"};
  static const char *const ih[] = {"", ".imp"};
  for (unsigned w = 0; w < 4; w++)
    for (unsigned i = 0; i < 2; i++, k++) {
      ia64t_text_addf(&t, "Ltag%u:\tbrp%s%s %s, Ltag%u ;;\n", k, ipwh[w], ih[i], targets[k % 3], k);
      if (w % 2 == 0) {
        ia64t_text_addf(&t, "brp%s%s b%u, Ltag%u ;;\n", ipwh[w], ih[i], k % 8, k);
        ia64t_text_addf(&t, "brp.ret%s%s b%u, Ltag%u ;;\n", ipwh[w], ih[i], (k + 5) % 8, k);
      }
    }
  /* B8 */
  static const char *const b8[] = {"cover", "clrrrb", "clrrrb.pr", "rfi", "bsw.0", "bsw.1", "epc", "vmsw.0", "vmsw.1"};
  for (unsigned i = 0; i < sizeof b8 / sizeof b8[0]; i++) ia64t_text_addf(&t, "%s ;;\n", b8[i]);
  /* M34, M25: alloc r1=ar.pfs,i,l,o,r at the edges of its fields */
  static const unsigned alloc[][5] = {
    {1, 0, 0, 0, 0},  {34, 2, 7, 0, 0}, {127, 8, 80, 8, 96}, {32, 96, 0, 0, 0}, {127, 0, 96, 0, 0},
    {2, 1, 2, 3, 0},  {9, 0, 0, 96, 96}, {40, 0, 16, 0, 16}, {31, 10, 10, 10, 24}, {33, 0, 0, 1, 0},
  };
  for (unsigned i = 0; i < sizeof alloc / sizeof alloc[0]; i++)
    ia64t_text_addf(&t, "alloc r%u=ar.pfs,%u,%u,%u,%u ;;\n", alloc[i][0], alloc[i][1], alloc[i][2], alloc[i][3], alloc[i][4]);
  ia64t_text_addf(&t, "flushrs ;;\nloadrs ;;\n");
  ia64t_text_addf(&t, "Lahead:\tnop.b 0 ;;\n\t.set Lfar, 0x4000000000fffff0\n\t.set Lfar64, 0xfedcba9876543210\n");
  return t.p;
}

static void test_every_br_form_disassembles_as_objdump_does(void **state) {
  (void)state;
  char *src = make_source();
  ia64t_check_family("br", src, &(ia64t_asm){.base = BASE}, ia64_tab_br, ia64_tab_br_len);
  free(src);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_br_form_disassembles_as_objdump_does),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
