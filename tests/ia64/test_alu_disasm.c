/* test_alu_disasm.c — the integer ALU family against the objdump oracle.
 *
 * Every alu form is written here in assembler syntax, independently of tab_alu.c, with the
 * pseudo-op spellings programmers use (cmp.gt, cmp.ne.andcm, tbit.nz.orcm, shl r1=r2,5,
 * mov pr=r2 ...), and expanded into instances: GRs at their edges (r0 as a source, r1, r31,
 * r32, r127), predicate pairs including p0 and p63, every completer, immediates at both ends
 * of their ranges, a qualifying predicate on some. ia64-linux-gnu-as assembles them (A-unit
 * forms both in M and in I slots); objdump -d's text for each slot must equal
 * ia64_disasm_bundle's. The test then counts the forms of ia64_tab_alu the slots decoded to
 * and prints "forms tested / forms in the family": all must be tested, every line agree. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

/* ---- Instances ------------------------------------------------------------------------------ */

/* Placeholders: $d destination GR, $s the r2 field, $x the r3 field, $p/$q a predicate pair,
 * $b a branch register, $a an I-unit application register, $i and $j the next entry of the
 * form's immediate lists (space-separated; an entry may hold commas). */
typedef struct alu_form { const char *text, *imms, *imms2; bool a_unit; } alu_form;

static const unsigned dregs[] = {1, 127, 31, 32, 8};
static const unsigned sregs[] = {0, 127, 32, 2, 31};
static const unsigned xregs[] = {127, 0, 33, 3, 1};
static const unsigned preds[][2] = {{1, 2}, {63, 0}, {0, 63}, {16, 17}, {6, 7}};
static const unsigned qps[] = {0, 0, 63, 1, 5};
static const char *const ars[] = {"ar.pfs", "ar.lc", "ar.ec"};
#define NR 5

/* Instance k of form f, as one explicitly bundled line (A forms alternate M and I slots). */
static void expand(ia64t_text *b, const alu_form *f, unsigned k) {
  char line[200], imm[48] = "", imm2[48] = "";
  size_t l = 0;
  if (f->imms) ia64t_list_nth(f->imms, k % ia64t_list_len(f->imms), imm, sizeof imm);
  if (f->imms2) ia64t_list_nth(f->imms2, k % ia64t_list_len(f->imms2), imm2, sizeof imm2);
  if (qps[k % NR]) l += (size_t)snprintf(line + l, sizeof line - l, "(p%u) ", qps[k % NR]);
  for (const char *p = f->text; *p && l < sizeof line - 48; p++) {
    if (*p != '$') {
      line[l++] = *p;
      continue;
    }
    switch (*++p) {
    case 'd': l += (size_t)snprintf(line + l, sizeof line - l, "r%u", dregs[k % NR]); break;
    case 's': l += (size_t)snprintf(line + l, sizeof line - l, "r%u", sregs[k % NR]); break;
    case 'x': l += (size_t)snprintf(line + l, sizeof line - l, "r%u", xregs[k % NR]); break;
    case 'p': l += (size_t)snprintf(line + l, sizeof line - l, "p%u", preds[k % NR][0]); break;
    case 'q': l += (size_t)snprintf(line + l, sizeof line - l, "p%u", preds[k % NR][1]); break;
    case 'b': l += (size_t)snprintf(line + l, sizeof line - l, "b%u", (k * 3) % 8); break;
    case 'a': l += (size_t)snprintf(line + l, sizeof line - l, "%s", ars[k % 3]); break;
    case 'i': l += (size_t)snprintf(line + l, sizeof line - l, "%s", imm); break;
    case 'j': l += (size_t)snprintf(line + l, sizeof line - l, "%s", imm2); break;
    }
  }
  line[l] = 0;
  char out[300];
  if (!f->a_unit) snprintf(out, sizeof out, "{ .mii\n\tnop.m 0\n\t%s\n\tnop.i 0 ;;\n}\n", line);
  else if (k & 1) snprintf(out, sizeof out, "{ .mii\n\t%s\n\tnop.i 0\n\tnop.i 0 ;;\n}\n", line);
  else snprintf(out, sizeof out, "{ .mmi\n\tnop.m 0\n\tnop.m 0\n\t%s ;;\n}\n", line);
  ia64t_text_add(b, out);
}

static void expand_all(ia64t_text *b, const alu_form *f) {
  unsigned n = NR;
  if (f->imms && ia64t_list_len(f->imms) > n) n = ia64t_list_len(f->imms);
  if (f->imms2 && ia64t_list_len(f->imms2) > n) n = ia64t_list_len(f->imms2);
  for (unsigned k = 0; k < n; k++) expand(b, f, k);
}

#define IMM8 "-128 127 0 -1 5 -64"
#define IMM8M1 "-127 128 0 -1 5 64"     /* le/gt: the assembler subtracts 1 */
#define IMM8M1U "-127 128 -1 1 5 64"    /* leu/gtu: 0 is not expressible */

static const alu_form fixed_forms[] = {
  /* A1-A4 */
  {"sub $d=$s,$x", 0, 0, 1}, {"sub $d=$s,$x,1", 0, 0, 1}, {"addp4 $d=$s,$x", 0, 0, 1},
  {"and $d=$s,$x", 0, 0, 1}, {"andcm $d=$s,$x", 0, 0, 1}, {"or $d=$s,$x", 0, 0, 1},
  {"xor $d=$s,$x", 0, 0, 1},
  {"shladd $d=$s,$i,$x", "1 2 3 4", 0, 1}, {"shladdp4 $d=$s,$i,$x", "1 2 3 4", 0, 1},
  {"sub $d=$i,$x", IMM8, 0, 1}, {"and $d=$i,$x", IMM8, 0, 1}, {"andcm $d=$i,$x", IMM8, 0, 1},
  {"or $d=$i,$x", IMM8, 0, 1}, {"xor $d=$i,$x", IMM8, 0, 1},
  {"addp4 $d=$i,$x", "-8192 8191 0 -1 100", 0, 1},
  /* I5, I7, I9 */
  {"shl $d=$s,$x", 0, 0, 0}, {"shr $d=$x,$s", 0, 0, 0}, {"shr.u $d=$x,$s", 0, 0, 0},
  {"popcnt $d=$x", 0, 0, 0},
  {"mpy4 $d=$s,$x", 0, 0, 0}, {"mpyshl4 $d=$s,$x", 0, 0, 0}, {"clz $d=$x", 0, 0, 0},
  /* I10-I15, with the shift pseudo-ops */
  {"shrp $d=$s,$x,$i", "0 1 32 63", 0, 0},
  {"shl $d=$s,$i", "0 1 31 63", 0, 0}, {"shr $d=$x,$i", "0 1 32 63", 0, 0},
  {"shr.u $d=$x,$i", "0 1 32 63", 0, 0},
  {"extr $d=$x,$i", "0,1 0,64 63,1 5,6 1,63 32,32 63,64 10,60", 0, 0},
  {"extr.u $d=$x,$i", "0,1 0,64 63,1 5,6 1,63 32,32 63,64 10,60", 0, 0},
  {"dep.z $d=$s,$i", "0,1 0,64 63,1 5,6 1,63 32,32 63,64 10,60", 0, 0},
  {"dep.z $d=$i", "-128,0,1 127,63,1 0,5,6 -1,0,64 5,32,40 -5,60,10", 0, 0},
  {"dep $d=$i,$x,$j", "0 -1", "0,1 63,1 5,64 0,64 32,16 60,10", 0},
  {"dep $d=$s,$x,$i", "0,1 63,16 5,6 60,16 0,16 40,1", 0, 0},
  /* I20-I29 */
  {"chk.s.i $s,$i", ". .+16 .-16 .+0xfff000 .-0xfff000 .+0x1230", 0, 0},
  {"mov $b=$s", 0, 0, 0},
  {"mov $b=$s,$i", ". .+0xff0 .-0x1000", 0, 0},
  {"mov $d=$b", 0, 0, 0},
  {"mov pr=$s,$i", "0x1fffe 0 2 0x10000 0xfffe -2 0x1ffff", 0, 0}, {"mov pr=$s", 0, 0, 0},
  {"mov pr.rot=$i", "0 0x10000 -65536 0x7ffffff0000 -0x80000000000 0x12340000", 0, 0},
  {"mov $d=ip", 0, 0, 0}, {"mov $d=pr", 0, 0, 0},
  {"mov.i $a=$s", 0, 0, 0}, {"mov.i $a=$i", "-128 127 0 -1", 0, 0}, {"mov.i $d=$a", 0, 0, 0},
  {"mov $a=$s", 0, 0, 0}, {"mov $d=$a", 0, 0, 0},
  {"zxt1 $d=$x", 0, 0, 0}, {"zxt2 $d=$x", 0, 0, 0}, {"zxt4 $d=$x", 0, 0, 0},
  {"sxt1 $d=$x", 0, 0, 0}, {"sxt2 $d=$x", 0, 0, 0}, {"sxt4 $d=$x", 0, 0, 0},
  {"czx1.l $d=$x", 0, 0, 0}, {"czx2.l $d=$x", 0, 0, 0}, {"czx1.r $d=$x", 0, 0, 0},
  {"czx2.r $d=$x", 0, 0, 0},
};
#define NFIXED (sizeof fixed_forms / sizeof fixed_forms[0])

/* The generated ones: compares of every relation and type, tbit/tnat/tf of every type,
 * mov b with every hint. */
static void add_generated(ia64t_text *b) {
  static const char *const rels[] = {"eq", "ne", "lt", "le", "gt", "ge", "ltu", "leu", "gtu", "geu"};
  static const char *const ineq[] = {"gt", "le", "ge", "lt"};
  static const char *const ptypes[] = {"and", "or", "or.andcm", "andcm", "orcm", "and.orcm"};
  static const char *const ttypes[] = {"", ".unc", ".and", ".andcm", ".or", ".orcm", ".or.andcm", ".and.orcm"};
  char t[96];
  for (int w = 0; w < 2; w++) {
    const char *cmp = w ? "cmp4" : "cmp";
    for (size_t r = 0; r < 10; r++)
      for (int unc = 0; unc < 2; unc++) {
        const char *imms = !strcmp(rels[r], "le") || !strcmp(rels[r], "gt") ? IMM8M1
                           : !strcmp(rels[r], "leu") || !strcmp(rels[r], "gtu") ? IMM8M1U : IMM8;
        snprintf(t, sizeof t, "%s.%s%s $p,$q=$s,$x", cmp, rels[r], unc ? ".unc" : "");
        expand_all(b, &(alu_form){t, 0, 0, 1});
        snprintf(t, sizeof t, "%s.%s%s $p,$q=$i,$x", cmp, rels[r], unc ? ".unc" : "");
        expand_all(b, &(alu_form){t, imms, 0, 1});
      }
    for (size_t ty = 0; ty < 6; ty++) {
      for (int ne = 0; ne < 2; ne++) {
        snprintf(t, sizeof t, "%s.%s.%s $p,$q=$s,$x", cmp, ne ? "ne" : "eq", ptypes[ty]);
        expand_all(b, &(alu_form){t, 0, 0, 1});
        snprintf(t, sizeof t, "%s.%s.%s $p,$q=$i,$x", cmp, ne ? "ne" : "eq", ptypes[ty]);
        expand_all(b, &(alu_form){t, IMM8, 0, 1});
      }
      for (size_t r = 0; r < 4; r++) {
        snprintf(t, sizeof t, "%s.%s.%s $p,$q=r0,$x", cmp, ineq[r], ptypes[ty]);
        expand_all(b, &(alu_form){t, 0, 0, 1});
        snprintf(t, sizeof t, "%s.%s.%s $p,$q=$x,r0", cmp, ineq[r], ptypes[ty]);
        expand_all(b, &(alu_form){t, 0, 0, 1});
      }
    }
  }
  for (size_t ty = 0; ty < 8; ty++)
    for (int nz = 0; nz < 2; nz++) {
      const char *sense = nz ? "nz" : "z";
      snprintf(t, sizeof t, "tbit.%s%s $p,$q=$x,$i", sense, ttypes[ty]);
      expand_all(b, &(alu_form){t, "0 63 5 32 1", 0, 0});
      snprintf(t, sizeof t, "tnat.%s%s $p,$q=$x", sense, ttypes[ty]);
      expand_all(b, &(alu_form){t, 0, 0, 0});
      snprintf(t, sizeof t, "tf.%s%s $p,$q=$i", sense, ttypes[ty]);
      expand_all(b, &(alu_form){t, "32 63 40 33 62", 0, 0});
    }
  static const char *const wh[] = {".sptk", "", ".dptk"};
  for (int w = 0; w < 3; w++)
    for (int ret = 0; ret < 2; ret++)
      for (int imp = 0; imp < 2; imp++) {
        snprintf(t, sizeof t, "mov%s%s%s $b=$s,$i", ret ? ".ret" : "", wh[w], imp ? ".imp" : "");
        expand_all(b, &(alu_form){t, ". .+0xff0 .-0x1000 .+0x100", 0, 0});
      }
}

/* ---- The comparison ------------------------------------------------------------------------- */

static void test_every_alu_form_disassembles_as_objdump_does(void **state) {
  (void)state;
  ia64t_text src = {0};
  for (size_t f = 0; f < NFIXED; f++) expand_all(&src, &fixed_forms[f]);
  add_generated(&src);
  if (getenv("HPVM_ALU_DUMP")) fputs(src.p, stderr);  /* the source, for debugging */
  ia64t_check_family("alu", src.p, NULL, ia64_tab_alu, ia64_tab_alu_len);
  free(src.p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_alu_form_disassembles_as_objdump_does),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
