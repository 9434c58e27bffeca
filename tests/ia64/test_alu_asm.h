/* test_alu_asm.h — what the alu tests share: assembling IA-64 source with ia64-linux-gnu-as
 * and reading back objdump -d's listing, bundle bytes and slot texts. Header-only, for
 * test_alu_disasm.c and test_alu_exec.c. */
#ifndef HPVM_TEST_ALU_ASM_H
#define HPVM_TEST_ALU_ASM_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct alu_listing {
  uint8_t (*bundle)[16];
  char (*text)[3][160];   /* text[b][i]: objdump's i-th line for bundle b, after the bytes */
  unsigned *nlines;       /* 2 for MLX, else 3 */
  size_t n;
} alu_listing;

static inline const char *alu_tool(const char *env, const char *fallback) {
  const char *t = getenv(env);
  return t && *t ? t : fallback;
}

static inline void alu_listing_free(alu_listing *l) {
  free(l->bundle);
  free(l->text);
  free(l->nlines);
  memset(l, 0, sizeof *l);
}

/* objdump -d prints each bundle as "addr:\tbytes\t[MII] text", then two "addr:\tbytes\t text"
 * lines; the 16 bytes are spread over the lines. */
static inline void alu_parse_line(alu_listing *out, char *line, unsigned *nbytes, size_t *cap) {
  char *colon = strchr(line, ':'), *tab1 = strchr(line, '\t');
  if (!colon || !tab1 || colon > tab1) return;
  char *tab2 = strchr(tab1 + 1, '\t');
  if (*nbytes == 0) {
    if (out->n == *cap) {
      *cap = *cap ? 2 * *cap : 256;
      out->bundle = realloc(out->bundle, *cap * sizeof *out->bundle);
      out->text = realloc(out->text, *cap * sizeof *out->text);
      out->nlines = realloc(out->nlines, *cap * sizeof *out->nlines);
    }
    out->nlines[out->n] = 0;
  }
  char *p = tab1 + 1;
  while (*nbytes < 16) {
    while (*p == ' ') p++;
    if (!*p || *p == '\t') break;
    out->bundle[out->n][(*nbytes)++] = (uint8_t)strtoul(p, &p, 16);
  }
  if (tab2 && out->nlines[out->n] < 3) {
    char *t = out->text[out->n][out->nlines[out->n]++];
    snprintf(t, 160, "%s", tab2 + 1);
    size_t l = strlen(t);
    while (l && t[l - 1] == ' ') t[--l] = 0;
  }
  if (*nbytes == 16) *nbytes = 0, out->n++;
}

/* Assemble src (dependency checks off: -xnone) and fill *out from objdump -d.
 * Returns 0, or -1 with the assembler's complaints on stderr. */
static inline int alu_assemble(const char *src, alu_listing *out) {
  memset(out, 0, sizeof *out);
  char dir[] = "/tmp/hpvm_alu_XXXXXX";
  if (!mkdtemp(dir)) return -1;
  char path[128], cmd[1024];
  snprintf(path, sizeof path, "%s/a.s", dir);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fputs(src, f);
  fclose(f);
  snprintf(cmd, sizeof cmd, "%s -xnone -o %s/a.o %s && %s -d %s/a.o > %s/a.lst",
           alu_tool("IA64_AS", "ia64-linux-gnu-as"), dir, path, alu_tool("IA64_OBJDUMP", "ia64-linux-gnu-objdump"),
           dir, dir);
  int rc = system(cmd);
  snprintf(path, sizeof path, "%s/a.lst", dir);
  f = rc == 0 ? fopen(path, "r") : NULL;
  size_t cap = 0;
  unsigned nbytes = 0;
  char line[512];
  while (f && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    alu_parse_line(out, line, &nbytes, &cap);
  }
  if (f) fclose(f);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) return -1;
  return rc == 0 && out->n ? 0 : -1;
}

#endif
