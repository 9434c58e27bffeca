/* harness.h — what the CPU's unit tests share (harness.c, linked into every test_*.c here).
 *
 * The objdump oracle: assemble IA-64 source with ia64-linux-gnu-as (optionally linked at an
 * address), take the .text bytes out with objcopy, disassemble them with
 *     ia64-linux-gnu-objdump -D -z -b binary -m ia64 --adjust-vma=BASE
 * and compare every slot's line with ia64_disasm_bundle's, marking the forms of a family's
 * table the slots decoded to; plus the small pieces the tests use to write their instances
 * (a growing text, space-separated lists, brace expansion).
 *
 * A bare CPU: an ia64_cpu over guest memory made of a few regions (the first holds the code),
 * an optional uncacheable page whose accesses are recorded, and helpers to run it to the next
 * interruption. Tests that need a platform of their own (test_sysarch.h) only use the
 * assembler.
 *
 * And the architectural constants the tests share (PSR bits, ISR.code).
 *
 * The tool paths come from IA64_AS, IA64_LD, IA64_OBJDUMP (ctest sets them) and IA64_OBJCOPY,
 * with the ia64-linux-gnu- tools on PATH as the fallback. */
#ifndef HPVM_TEST_IA64_HARNESS_H
#define HPVM_TEST_IA64_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* ---- Architectural constants --------------------------------------------------------------- */

/* PSR bits, as the SDM numbers them: written here independently of internal.h's IA64_PSR_*,
 * so that a wrong bit there shows up as a failing test. */
#define P_BE (1ull << 1)
#define P_UP (1ull << 2)
#define P_AC (1ull << 3)
#define P_MFL (1ull << 4)
#define P_MFH (1ull << 5)
#define P_IC (1ull << 13)
#define P_I (1ull << 14)
#define P_PK (1ull << 15)
#define P_DT (1ull << 17)
#define P_DFL (1ull << 18)
#define P_DFH (1ull << 19)
#define P_SP (1ull << 20)
#define P_PP (1ull << 21)
#define P_DI (1ull << 22)
#define P_SI (1ull << 23)
#define P_DB (1ull << 24)
#define P_LP (1ull << 25)
#define P_TB (1ull << 26)
#define P_RT (1ull << 27)
#define P_CPL(n) ((uint64_t)(n) << 32)
#define P_IS (1ull << 34)
#define P_MC (1ull << 35)
#define P_IT (1ull << 36)
#define P_ID (1ull << 37)
#define P_DA (1ull << 38)
#define P_DD (1ull << 39)
#define P_SS (1ull << 40)
#define P_RI(n) ((uint64_t)(n) << 41)
#define P_ED (1ull << 43)
#define P_BN (1ull << 44)
#define P_IA (1ull << 45)

/* ISR.code: the low 16 bits of ISR. */
#define ISR_CODE(isr) ((isr) & 0xffff)

/* ---- Tools ------------------------------------------------------------------------------- */

const char *ia64t_tool(const char *env, const char *fallback);
/* Run a shell command made with printf's format; its system() status. A failure is shown
 * on stderr with the command. */
int ia64t_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- Assembling -------------------------------------------------------------------------- */

/* How ia64t_assemble builds the code. Dependency checking is always off (as -xnone): the
 * tests put dependent instructions side by side on purpose. */
typedef struct ia64t_asm {
  uint64_t base;          /* link .text at this address (entry there too); 0: the object's
                           * .text as is, which suits position-independent snippets */
  const char *include;    /* an absolute directory for as -I, or NULL; as runs in a fresh
                           * directory, so a relative .include finds nothing else */
} ia64t_asm;

/* The .text of src (assembled after a ".text" line; NULL o: the defaults above): a malloc'd
 * buffer of *len bytes, or NULL after showing what as or ld said. as's warnings are not
 * shown. */
uint8_t *ia64t_assemble(const char *src, const ia64t_asm *o, size_t *len);
/* src (which defines _start) assembled and linked into a static executable at path. 0, or
 * -1 after showing what as or ld said. */
int ia64t_link_program(const char *src, const char *path);
/* Where ia64run is: next to the running test, in the build's bin directory. false when it is
 * not there (not built). */
bool ia64t_ia64run_path(char *out, size_t n);

/* ---- objdump's listing ------------------------------------------------------------------- */

typedef struct ia64t_listing {
  uint8_t (*bundles)[16];
  char (*text)[3][160];   /* text[b][i]: objdump's i-th line for bundle b, after the bytes */
  unsigned *nlines;       /* 2 for MLX, else 3 */
  size_t n;
  uint64_t base;          /* the address of bundles[0]; bundle b is at base + 16 * b */
} ia64t_listing;

/* objdump's disassembly of len bytes of code placed at base. 0, or -1. */
int ia64t_objdump(const void *code, size_t len, uint64_t base, ia64t_listing *out);
/* ia64t_assemble then ia64t_objdump (at o->base). 0, or -1 after showing why. */
int ia64t_listing_of(const char *src, const ia64t_asm *o, ia64t_listing *out);
void ia64t_listing_free(ia64t_listing *l);

/* The comparison's counts. */
typedef struct ia64t_tally {
  unsigned lines, agree;  /* slots compared, and those whose text equals objdump's */
  unsigned family;        /* slots that decoded to a form of the table compared against */
} ia64t_tally;

/* Compare every slot of l with ia64_disasm_bundle's text (the bundle count of lines must
 * agree: a failed assertion otherwise); show the first max_shown mismatches; add to *t and
 * mark in hit[] (tab_len entries) the forms of tab the slots decode to. */
void ia64t_compare(const ia64t_listing *l, const ia64_insn_desc *tab, size_t tab_len, bool *hit,
                   unsigned max_shown, ia64t_tally *t);
/* How many forms of tab hit[] marks; the others are listed on stdout as "form not tested". */
unsigned ia64t_forms_tested(const ia64_insn_desc *tab, size_t tab_len, const bool *hit);
/* A family's whole disassembler check: src assembled (o as in ia64t_assemble), every slot
 * compared with objdump, the forms of tab counted; prints "<family>: agreeing/compared lines
 * ...; forms tested n/len" and fails the test unless every line agrees and every form of
 * tab was among the slots. */
void ia64t_check_family(const char *family, const char *src, const ia64t_asm *o, const ia64_insn_desc *tab,
                        size_t tab_len);

/* ---- Writing instances ------------------------------------------------------------------- */

/* A growing NUL-terminated text. */
typedef struct ia64t_text { char *p; size_t len, cap; } ia64t_text;
void ia64t_text_add(ia64t_text *t, const char *s);
void ia64t_text_addf(ia64t_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Space-separated lists ("0 1 31 63"): how many entries, and entry i into out. */
unsigned ia64t_list_len(const char *list);
void ia64t_list_nth(const char *list, unsigned i, char *out, size_t n);

/* Brace expansion as bash does it: "ld{1,8}{,.s} x" calls line() with "ld1 x", "ld1.s x",
 * "ld8 x", "ld8.s x" in that order. */
void ia64t_expand_braces(const char *pattern, void (*line)(void *ctx, const char *text), void *ctx);

/* ---- Bundles ----------------------------------------------------------------------------- */

/* A bundle of template tmpl with slots s0-s2 (41 bits each). */
void ia64t_bundle(uint8_t out[16], unsigned tmpl, uint64_t s0, uint64_t s1, uint64_t s2);

/* ---- A bare CPU -------------------------------------------------------------------------- */

typedef struct ia64t_region {
  uint64_t va;            /* page aligned */
  size_t size;            /* whole pages */
  unsigned perms;         /* IA64_ACC_* */
  uint8_t *host;
  bool borrowed;          /* the test owns host (shared between machines): not freed */
} ia64t_region;

#define IA64T_REGIONS 4

/* An ia64_cpu over region[0] (the code, from its start: mem) and the regions ia64t_map adds
 * (the first of them: data); any other address takes an Instruction or Data TLB fault, an
 * access the region does not grant an Access Rights fault. Accesses to io_page, when set, go
 * through the IO recorder: it counts them, keeps the last one, and reads give
 * io_read_value. */
typedef struct ia64t_machine {
  ia64_cpu cpu;
  uint8_t *mem, *data;
  ia64t_region region[IA64T_REGIONS];
  unsigned nregions;
  uint64_t io_page;
  uint64_t io_read_value;
  unsigned io_count;      /* accesses to io_page */
  unsigned io_sizes;      /* their sizes, one decimal digit each, oldest first */
  uint64_t io_va, io_val; /* the last one: its address, the value written */
  unsigned io_size;
  bool io_write;
} ia64t_machine;

/* A machine whose code region, size bytes (rounded up to whole pages) of read/write/execute
 * memory at base, holds len bytes of code and zeros after them; ip = base. */
ia64t_machine *ia64t_machine_new(uint64_t base, size_t size, const void *code, size_t len);
/* The same with code assembled from src (o as in ia64t_assemble); fails the test when it
 * does not assemble. */
ia64t_machine *ia64t_machine_asm(uint64_t base, size_t size, const char *src, const ia64t_asm *o);
/* Map size bytes at va with perms: zeroed memory of the machine's own, or shared (NULL:
 * own). Returns the host memory. */
uint8_t *ia64t_map(ia64t_machine *m, uint64_t va, size_t size, unsigned perms, uint8_t *shared);
void ia64t_machine_free(ia64t_machine *m);
/* The host memory behind va, or NULL where no region maps it. */
uint8_t *ia64t_host(ia64t_machine *m, uint64_t va);

/* Run for at most limit instructions, which must end in an interruption: its vector. */
int ia64t_run(ia64t_machine *m, uint64_t limit);
/* Past the slot an interruption named (a break fault points at the break itself). */
void ia64t_skip_slot(ia64_cpu *c);

#endif
