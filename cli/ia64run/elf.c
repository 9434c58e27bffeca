/* elf.c — loads a static little-endian IA-64 ELF executable into the address space. */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hpvm_error.h"
#include "ia64run.h"

static int read_file(const char *path, uint8_t **data, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return HPVM_ENOENT;
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
    n += got;
    if (n == cap) {
      uint8_t *b = realloc(buf, cap *= 2);
      if (!b) free(buf);
      buf = b;
    }
  }
  fclose(f);
  if (!buf) return HPVM_ENOMEM;
  *data = buf, *len = n;
  return 0;
}

int ir_load_elf(ir_process *p, const char *path, const char **why) {
  uint8_t *d;
  size_t len;
  int rc = read_file(path, &d, &len);
  if (rc) {
    *why = "cannot read the file";
    return rc;
  }
  rc = HPVM_EBADELF;
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)d;
  if (len < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) *why = "not an ELF file";
  else if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB) *why = "not a 64-bit little-endian ELF";
  else if (eh->e_machine != EM_IA_64) *why = "not an IA-64 ELF (wrong machine)";
  else if (eh->e_type != ET_EXEC) *why = "not a static executable (ET_EXEC)";
  else if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff > len ||
           (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff) *why = "truncated program headers";
  else rc = 0;
  const Elf64_Phdr *ph = rc ? NULL : (const Elf64_Phdr *)(d + eh->e_phoff);
  for (unsigned i = 0; !rc && i < eh->e_phnum; i++) {
    if (ph[i].p_type == PT_INTERP) rc = HPVM_EBADELF, *why = "dynamically linked (has an interpreter); link it -static";
    if (ph[i].p_type != PT_LOAD) continue;
    if (ph[i].p_offset > len || ph[i].p_filesz > len - ph[i].p_offset || ph[i].p_filesz > ph[i].p_memsz) {
      rc = HPVM_ETRUNC, *why = "a segment lies outside the file (truncated?)";
      break;
    }
    unsigned perms = (ph[i].p_flags & PF_R ? IA64_ACC_R : 0) | (ph[i].p_flags & PF_W ? IA64_ACC_W : 0) |
                     (ph[i].p_flags & PF_X ? IA64_ACC_X : 0);
    uint64_t start = ph[i].p_vaddr & ~(uint64_t)(IA64_PAGE_SIZE - 1);
    if ((rc = ir_map(p, start, ph[i].p_vaddr + ph[i].p_memsz - start, perms)) != 0) {
      *why = "cannot map a segment";
      break;
    }
    ir_region *r = &p->regions[p->nregions - 1];
    memcpy(r->host + (ph[i].p_vaddr - start), d + ph[i].p_offset, ph[i].p_filesz);
    if (ph[i].p_vaddr + ph[i].p_memsz > p->brk_start) p->brk_start = ph[i].p_vaddr + ph[i].p_memsz;
    if (ph[i].p_offset == 0) p->phdr = ph[i].p_vaddr + eh->e_phoff;
  }
  if (!rc) {
    p->entry = eh->e_entry;
    p->phnum = eh->e_phnum;
    p->brk_start = (p->brk_start + IA64_PAGE_SIZE - 1) & ~(uint64_t)(IA64_PAGE_SIZE - 1);
    p->brk = p->brk_start;
  }
  free(d);
  return rc;
}
