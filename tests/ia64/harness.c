/* harness.c — the CPU tests' shared harness (see harness.h): the toolchain and objdump
 * oracle, the pieces for writing instances, and a bare CPU over guest memory. It fails the
 * running cmocka test (fail_msg, assert_*) where a test cannot go on; the functions that
 * return -1 or NULL leave that choice to the test. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

/* ---- Tools ------------------------------------------------------------------------------- */

const char *ia64t_tool(const char *env, const char *fallback) {
  const char *t = getenv(env);
  return t && *t ? t : fallback;
}

int ia64t_sh(const char *fmt, ...) {
  char cmd[8192];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  assert_true(n > 0 && (size_t)n < sizeof cmd);
  int rc = system(cmd);
  if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
  return rc;
}

/* objcopy: IA64_OBJCOPY, else the one beside objdump (the same binutils). */
static void objcopy_path(char *out, size_t n) {
  const char *oc = getenv("IA64_OBJCOPY");
  if (oc && *oc) {
    snprintf(out, n, "%s", oc);
    return;
  }
  const char *od = ia64t_tool("IA64_OBJDUMP", "ia64-linux-gnu-objdump"), *p = strstr(od, "objdump");
  if (p) snprintf(out, n, "%.*sobjcopy%s", (int)(p - od), od, p + 7);
  else snprintf(out, n, "ia64-linux-gnu-objcopy");
}

/* A fresh directory for one build, and its removal. */
static void tmp_dir(char dir[32]) {
  snprintf(dir, 32, "/tmp/hpvm_t_XXXXXX");
  assert_non_null(mkdtemp(dir));
}
static void tmp_done(const char *dir) { assert_int_equal(ia64t_sh("rm -rf %s", dir), 0); }

static void write_file(const char *path, const char *prologue, const char *body) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f, "%s%s\n", prologue, body);   /* as wants the last line ended */
  fclose(f);
}

/* as's messages from dir/as.err on stderr, its warnings left out. */
static void show_as_messages(const char *dir) {
  char path[64], line[1024];
  snprintf(path, sizeof path, "%s/as.err", dir);
  FILE *f = fopen(path, "r");
  if (!f) return;
  while (fgets(line, sizeof line, f))
    if (!strstr(line, "Warning") && !strstr(line, "Assembler messages")) fputs(line, stderr);
  fclose(f);
}

/* dir/a.s -> dir/a.o: 0 or the failed status. as runs in dir, so that a relative .include
 * finds nothing but what the include directory offers. */
static int run_as(const char *dir, const char *include) {
  char inc[1024] = "";
  if (include) snprintf(inc, sizeof inc, "-I%s ", include);
  int rc = ia64t_sh("cd %s && %s -xnone %s-o a.o a.s 2>as.err", dir, ia64t_tool("IA64_AS", "ia64-linux-gnu-as"), inc);
  show_as_messages(dir);
  return rc;
}

static uint8_t *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0, k;
  uint8_t *buf = malloc(cap);
  assert_non_null(buf);
  while ((k = fread(buf + n, 1, cap - n, f)) > 0)
    if ((n += k) == cap) {
      buf = realloc(buf, cap *= 2);
      assert_non_null(buf);
    }
  fclose(f);
  *len = n;
  return buf;
}

uint8_t *ia64t_assemble(const char *src, const ia64t_asm *o, size_t *len) {
  static const ia64t_asm defaults = {0, NULL};
  if (!o) o = &defaults;
  char dir[32], path[64], objcopy[1024];
  tmp_dir(dir);
  snprintf(path, sizeof path, "%s/a.s", dir);
  write_file(path, "\t.text\n", src);
  objcopy_path(objcopy, sizeof objcopy);
  int rc = run_as(dir, o->include);
  if (rc == 0 && o->base)
    rc = ia64t_sh("%s -static -Ttext=0x%" PRIx64 " -e 0x%" PRIx64 " -o %s/a %s/a.o", ia64t_tool("IA64_LD", "ia64-linux-gnu-ld"),
                  o->base, o->base, dir, dir);
  if (rc == 0) rc = ia64t_sh("%s -O binary -j .text %s/%s %s/a.bin", objcopy, dir, o->base ? "a" : "a.o", dir);
  uint8_t *code = NULL;
  if (rc == 0) {
    snprintf(path, sizeof path, "%s/a.bin", dir);
    code = read_all(path, len);
  }
  tmp_done(dir);
  return code;
}

int ia64t_link_program(const char *src, const char *path) {
  char dir[32], s[64];
  tmp_dir(dir);
  snprintf(s, sizeof s, "%s/a.s", dir);
  write_file(s, "\t.text\n", src);
  int rc = run_as(dir, NULL);
  if (rc == 0) rc = ia64t_sh("%s -static -e _start -o %s %s/a.o", ia64t_tool("IA64_LD", "ia64-linux-gnu-ld"), path, dir);
  tmp_done(dir);
  return rc == 0 ? 0 : -1;
}

bool ia64t_ia64run_path(char *out, size_t n) {
  char self[512];
  ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
  assert_true(l > 0);
  self[l] = 0;
  *strrchr(self, '/') = 0;
  snprintf(out, n, "%s/ia64run", self);
  return access(out, X_OK) == 0;
}

/* ---- objdump's listing ------------------------------------------------------------------- */

/* One line of objdump -D: "  addr:\tbytes\t[MFI]  text" or "  addr:\tbytes\t  text". A
 * bundle's 16 bytes are spread over its two or three lines, its slots one a line. */
static void parse_line(ia64t_listing *out, size_t *cap, unsigned *nbytes, char *line) {
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

int ia64t_objdump(const void *code, size_t len, uint64_t base, ia64t_listing *out) {
  memset(out, 0, sizeof *out);
  out->base = base;
  char dir[32], path[64];
  tmp_dir(dir);
  snprintf(path, sizeof path, "%s/a.bin", dir);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(code, 1, len, f), len);
  fclose(f);
  int rc = ia64t_sh("%s -D -z -b binary -m ia64 --adjust-vma=0x%" PRIx64 " %s > %s/a.lst",
                    ia64t_tool("IA64_OBJDUMP", "ia64-linux-gnu-objdump"), base, path, dir);
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
  tmp_done(dir);
  return rc == 0 && out->n && nbytes == 0 ? 0 : -1;
}

int ia64t_listing_of(const char *src, const ia64t_asm *o, ia64t_listing *out) {
  size_t len;
  memset(out, 0, sizeof *out);
  uint8_t *code = ia64t_assemble(src, o, &len);
  if (!code) return -1;
  int rc = ia64t_objdump(code, len, o ? o->base : 0, out);
  free(code);
  return rc;
}

void ia64t_listing_free(ia64t_listing *l) {
  free(l->bundles);
  free(l->text);
  free(l->nlines);
  memset(l, 0, sizeof *l);
}

void ia64t_compare(const ia64t_listing *l, const ia64_insn_desc *tab, size_t tab_len, bool *hit,
                   unsigned max_shown, ia64t_tally *t) {
  unsigned shown = 0;
  for (size_t b = 0; b < l->n; b++) {
    ia64_disasm_line ours[3];
    uint64_t ip = l->base + b * 16;
    int n = ia64_disasm_bundle(l->bundles[b], ip, ours);
    assert_int_equal((unsigned)n, l->nlines[b]);
    for (int s = 0; s < n; s++) {
      t->lines++;
      if (strcmp(ours[s].text, l->text[b][s]) == 0) t->agree++;
      else if (shown++ < max_shown)
        printf("MISMATCH at %#" PRIx64 " slot %d\n  objdump: %s\n  ours:    %s\n", ip, s, l->text[b][s], ours[s].text);
      unsigned slot = n == 2 && s == 1 ? 2 : (unsigned)s;   /* MLX: the L+X form sits in slot 2 */
      int id = ia64_decode_slot_id(l->bundles[b], slot);
      const ia64_insn_desc *d = id >= 0 ? ia64_desc((unsigned)id) : NULL;
      if (d && d >= tab && d < tab + tab_len) hit[d - tab] = true, t->family++;
    }
  }
}

unsigned ia64t_forms_tested(const ia64_insn_desc *tab, size_t tab_len, const bool *hit) {
  unsigned tested = 0;
  for (size_t i = 0; i < tab_len; i++) {
    if (hit[i]) tested++;
    else printf("form not tested: %s %s\n", tab[i].mnem, tab[i].opnds);
  }
  return tested;
}

void ia64t_check_family(const char *family, const char *src, const ia64t_asm *o, const ia64_insn_desc *tab,
                        size_t tab_len) {
  ia64t_listing l;
  assert_int_equal(ia64t_listing_of(src, o, &l), 0);
  bool *hit = calloc(tab_len, sizeof *hit);
  assert_non_null(hit);
  ia64t_tally t = {0};
  ia64t_compare(&l, tab, tab_len, hit, 40, &t);
  unsigned tested = ia64t_forms_tested(tab, tab_len, hit);
  printf("%s: %u/%u lines agree with objdump (%u of them %s forms); forms tested %u/%zu\n", family, t.agree,
         t.lines, t.family, family, tested, tab_len);
  fflush(stdout);
  free(hit);
  ia64t_listing_free(&l);
  assert_int_equal(t.agree, t.lines);
  assert_int_equal(tested, tab_len);
}

/* ---- Writing instances ------------------------------------------------------------------- */

static void text_add_n(ia64t_text *t, const char *s, size_t n) {
  if (t->len + n + 1 > t->cap) {
    t->cap = (t->len + n + 1) * 2;
    t->p = realloc(t->p, t->cap);
    assert_non_null(t->p);
  }
  memcpy(t->p + t->len, s, n);
  t->len += n;
  t->p[t->len] = 0;
}

void ia64t_text_add(ia64t_text *t, const char *s) { text_add_n(t, s, strlen(s)); }

void ia64t_text_addf(ia64t_text *t, const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  assert_true(n >= 0 && (size_t)n < sizeof line);
  text_add_n(t, line, (size_t)n);
}

unsigned ia64t_list_len(const char *list) {
  unsigned n = 0;
  for (const char *p = list + strspn(list, " "); *p; p += strcspn(p, " "), p += strspn(p, " ")) n++;
  return n;
}

void ia64t_list_nth(const char *list, unsigned i, char *out, size_t n) {
  const char *p = list + strspn(list, " ");
  while (i-- > 0) p += strcspn(p, " "), p += strspn(p, " ");
  snprintf(out, n, "%.*s", (int)strcspn(p, " "), p);
}

void ia64t_expand_braces(const char *pat, void (*line)(void *ctx, const char *text), void *ctx) {
  const char *open = strchr(pat, '{');
  if (!open) {
    line(ctx, pat);
    return;
  }
  const char *close = strchr(open, '}');
  assert_non_null(close);
  for (const char *alt = open + 1; alt <= close;) {
    size_t n = strcspn(alt, ",}");
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s%.*s%s", (int)(open - pat), pat, (int)n, alt, close + 1);
    ia64t_expand_braces(buf, line, ctx);
    alt += n + 1;
  }
}

/* ---- Bundles ----------------------------------------------------------------------------- */

void ia64t_bundle(uint8_t out[16], unsigned tmpl, uint64_t s0, uint64_t s1, uint64_t s2) {
  uint64_t lo = (tmpl & 31) | (s0 & MSK(40, 0)) << 5 | s1 << 46;
  uint64_t hi = (s1 & MSK(40, 0)) >> 18 | (s2 & MSK(40, 0)) << 23;
  memcpy(out, &lo, 8);
  memcpy(out + 8, &hi, 8);
}

/* ---- A bare CPU -------------------------------------------------------------------------- */

static const ia64t_region *region_of(const ia64t_machine *m, uint64_t page) {
  for (unsigned i = 0; i < m->nregions; i++)
    if (page >= m->region[i].va && page - m->region[i].va < m->region[i].size) return &m->region[i];
  return NULL;
}

static int m_translate(void *ctx, ia64_cpu *cpu, uint64_t va, unsigned access, ia64_xlat *out) {
  ia64t_machine *m = ctx;
  uint64_t isr = access == IA64_ACC_X ? IA64_ISR_X : access == IA64_ACC_W ? IA64_ISR_W : IA64_ISR_R;
  uint64_t page = va & ~(uint64_t)(IA64_PAGE_SIZE - 1);
  if (m->io_page && page == m->io_page) return IA64_XLAT_IO;
  const ia64t_region *r = region_of(m, page);
  if (!r) return ia64_raise(cpu, access == IA64_ACC_X ? IA64_VEC_INST_TLB : IA64_VEC_DATA_TLB, isr, va);
  if (!(r->perms & access))
    return ia64_raise(cpu, access == IA64_ACC_X ? IA64_VEC_INST_ACCESS_RIGHTS : IA64_VEC_DATA_ACCESS_RIGHTS, isr, va);
  out->host_page = r->host + (page - r->va);
  out->perms = r->perms;
  return 0;
}

static int m_io(void *ctx, ia64_cpu *cpu, uint64_t va, unsigned size, bool write, uint64_t *val) {
  ia64t_machine *m = ctx;
  (void)cpu;
  m->io_count++;
  m->io_sizes = m->io_sizes * 10 + size;
  m->io_va = va, m->io_size = size, m->io_write = write;
  if (write) m->io_val = *val;
  else *val = m->io_read_value;
  return 0;
}

static const ia64_mem_ops m_ops = {m_translate, m_io};

static size_t whole_pages(size_t size) { return (size + IA64_PAGE_SIZE - 1) & ~(size_t)(IA64_PAGE_SIZE - 1); }

uint8_t *ia64t_map(ia64t_machine *m, uint64_t va, size_t size, unsigned perms, uint8_t *shared) {
  assert_true(m->nregions < IA64T_REGIONS);
  assert_int_equal(va & (IA64_PAGE_SIZE - 1), 0);
  ia64t_region *r = &m->region[m->nregions++];
  r->va = va, r->size = whole_pages(size), r->perms = perms, r->borrowed = shared != NULL;
  r->host = shared;
  if (!shared) {
    r->host = aligned_alloc(IA64_PAGE_SIZE, r->size);
    assert_non_null(r->host);
    memset(r->host, 0, r->size);
  }
  if (m->nregions == 2) m->data = r->host;
  return r->host;
}

ia64t_machine *ia64t_machine_new(uint64_t base, size_t size, const void *code, size_t len) {
  ia64t_machine *m = calloc(1, sizeof *m);
  assert_non_null(m);
  assert_true(len <= size);
  m->mem = ia64t_map(m, base, size, IA64_ACC_R | IA64_ACC_W | IA64_ACC_X, NULL);
  if (len) memcpy(m->mem, code, len);
  assert_int_equal(ia64_cpu_init(&m->cpu, &m_ops, m), 0);
  m->cpu.ip = base;
  return m;
}

ia64t_machine *ia64t_machine_asm(uint64_t base, size_t size, const char *src, const ia64t_asm *o) {
  size_t len;
  uint8_t *code = ia64t_assemble(src, o, &len);
  if (!code) fail_msg("cannot assemble:\n%s", src);
  ia64t_machine *m = ia64t_machine_new(base, size, code, len);
  free(code);
  return m;
}

void ia64t_machine_free(ia64t_machine *m) {
  ia64_cpu_destroy(&m->cpu);
  for (unsigned i = 0; i < m->nregions; i++)
    if (!m->region[i].borrowed) free(m->region[i].host);
  free(m);
}

uint8_t *ia64t_host(ia64t_machine *m, uint64_t va) {
  const ia64t_region *r = region_of(m, va);
  return r ? r->host + (va - r->va) : NULL;
}

int ia64t_run(ia64t_machine *m, uint64_t limit) {
  assert_int_equal(ia64_run(&m->cpu, limit), IA64_STOP_INTR);
  return m->cpu.intr.vector;
}

void ia64t_skip_slot(ia64_cpu *c) {
  if (c->ri < 2) c->ri++;
  else c->ip += 16, c->ri = 0;
}
