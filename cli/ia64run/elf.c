/* elf.c — checks that a file is a static little-endian IA-64 Linux ELF executable and loads
 * its segments the way Linux's load_elf_binary() maps them.
 *
 * The file is hostile until proven otherwise: every offset and size is bounded by the file's
 * length before it is used, and whatever is wrong produces one line that names the problem
 * and says what to do (the caller prints it and exits 2).
 *
 * Loading follows the kernel with 16 KiB pages: each PT_LOAD maps the whole pages its
 * addresses touch, filled from the matching page-aligned part of the file (so, as with
 * mmap, the ELF and program headers are visible at the start of the first segment), the
 * bss tail of the last file page is zeroed and the rest is anonymous zero pages. A later
 * segment replaces pages it shares with an earlier one (MAP_FIXED). The program break
 * starts at the page-aligned end of the highest segment (no brk randomisation on ia64). A
 * static PIE (ET_DYN without PT_INTERP) goes where mmap would put it, at the mmap base. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hpvm_error.h"
#include "ia64run.h"

#define MAX_IMAGE (1ull << 31)  /* larger files are refused before reading */
#define EF_IA_64_LINUX_EXECUTABLE_STACK 0x1

static int fail(char *msg, size_t n, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, n, fmt, ap);
  va_end(ap);
  return rc;
}

/* ---- Reading the file ------------------------------------------------------------------------ */

static int read_all(const char *path, uint8_t **data, size_t *len, char *msg, size_t n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return fail(msg, n, HPVM_ENOENT, "no such file; check the path");
    return fail(msg, n, HPVM_EIO, "cannot open it (%s); check the path and its permissions", strerror(errno));
  }
  struct stat st;
  int rc = 0;
  if (fstat(fd, &st) != 0) rc = fail(msg, n, HPVM_EIO, "cannot stat it (%s)", strerror(errno));
  else if (S_ISDIR(st.st_mode))
    rc = fail(msg, n, HPVM_EBADELF, "is a directory, not a program; give the path of a static IA-64 ELF executable");
  else if (!S_ISREG(st.st_mode))
    rc = fail(msg, n, HPVM_EBADELF, "is not a regular file; give the path of a static IA-64 ELF executable");
  else if (st.st_size == 0)
    rc = fail(msg, n, HPVM_EBADELF, "empty file (0 bytes); give a static IA-64 ELF executable "
                                    "(e.g. linked with ia64-linux-gnu-ld -static)");
  else if ((uint64_t)st.st_size > MAX_IMAGE)
    rc = fail(msg, n, HPVM_ERANGE, "file too large (%lld bytes, at most 2 GiB); is it really a program?",
              (long long)st.st_size);
  uint8_t *buf = rc ? NULL : malloc((size_t)st.st_size);
  if (!rc && !buf) rc = fail(msg, n, HPVM_ENOMEM, "out of memory reading it");
  size_t got = 0;
  while (!rc && got < (size_t)st.st_size) {
    ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) rc = fail(msg, n, HPVM_EIO, "read error (%s)", strerror(errno));
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (rc) {
    free(buf);
    return rc;
  }
  *data = buf, *len = got;
  return 0;
}

/* ---- The header -------------------------------------------------------------------------------- */

static const char *machine_name(unsigned m) {
  switch (m) {
  case EM_386: return "i386";
  case EM_X86_64: return "x86-64";
  case EM_AARCH64: return "AArch64";
  case EM_ARM: return "ARM";
  case EM_RISCV: return "RISC-V";
  case EM_PPC: return "PowerPC";
  case EM_PPC64: return "PowerPC64";
  case EM_S390: return "S/390";
  case EM_MIPS: return "MIPS";
  case EM_SPARC: case EM_SPARCV9: return "SPARC";
  case EM_ALPHA: return "Alpha";
  case EM_PARISC: return "PA-RISC";
  default: return "another architecture";
  }
}

static int check_ident(const uint8_t *d, size_t len, char *msg, size_t n) {
  if (len >= 2 && d[0] == '#' && d[1] == '!')
    return fail(msg, n, HPVM_EBADELF, "a script (#!), not an ELF executable; ia64run runs IA-64 ELF programs only");
  if (len < SELFMAG || memcmp(d, ELFMAG, SELFMAG) != 0)
    return fail(msg, n, HPVM_EBADELF, "not an ELF file (no \\177ELF magic); give a static IA-64 Linux ELF executable");
  if (len < EI_NIDENT)
    return fail(msg, n, HPVM_ETRUNC, "truncated ELF header (%zu of %zu bytes); the file is cut short: "
                                     "rebuild it or copy it again", len, sizeof(Elf64_Ehdr));
  if (d[EI_CLASS] == ELFCLASS32)
    return fail(msg, n, HPVM_EBADELF, "32-bit ELF (ELFCLASS32); IA-64 Linux programs are 64-bit: "
                                      "rebuild it for ia64-linux-gnu");
  if (d[EI_CLASS] != ELFCLASS64)
    return fail(msg, n, HPVM_EBADELF, "bad ELF class %u; the file is corrupt: rebuild it", d[EI_CLASS]);
  if (d[EI_DATA] == ELFDATA2MSB)
    return fail(msg, n, HPVM_EBADELF, "big-endian ELF (ELFDATA2MSB, as HP-UX uses); ia64run runs little-endian "
                                      "IA-64 Linux programs: rebuild it for ia64-linux-gnu");
  if (d[EI_DATA] != ELFDATA2LSB)
    return fail(msg, n, HPVM_EBADELF, "bad ELF data encoding %u; the file is corrupt: rebuild it", d[EI_DATA]);
  if (len < sizeof(Elf64_Ehdr))
    return fail(msg, n, HPVM_ETRUNC, "truncated ELF header (%zu of %zu bytes); the file is cut short: "
                                     "rebuild it or copy it again", len, sizeof(Elf64_Ehdr));
  return 0;
}

static int check_header(const Elf64_Ehdr *eh, size_t len, char *msg, size_t n) {
  if (eh->e_machine != EM_IA_64)
    return fail(msg, n, HPVM_EBADELF, "ELF for %s (e_machine %u), not IA-64; build it with the "
                                      "ia64-linux-gnu toolchain", machine_name(eh->e_machine), eh->e_machine);
  if (eh->e_ident[EI_OSABI] == ELFOSABI_HPUX)
    return fail(msg, n, HPVM_EBADELF, "an HP-UX program (ELFOSABI_HPUX); ia64run runs Linux programs: "
                                      "rebuild it for ia64-linux-gnu");
  if (eh->e_ident[EI_OSABI] != ELFOSABI_SYSV && eh->e_ident[EI_OSABI] != ELFOSABI_GNU)
    return fail(msg, n, HPVM_EBADELF, "ELF OS ABI %u is not Linux; rebuild it for ia64-linux-gnu",
                eh->e_ident[EI_OSABI]);
  if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
    return fail(msg, n, HPVM_EBADELF, "unknown ELF version; the file is corrupt: rebuild it");
  if (eh->e_type == ET_REL)
    return fail(msg, n, HPVM_EBADELF, "a relocatable object (ET_REL), not an executable; link it: "
                                      "ia64-linux-gnu-ld -static -o prog file.o");
  if (eh->e_type == ET_CORE)
    return fail(msg, n, HPVM_EBADELF, "a core dump (ET_CORE), not a program");
  if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
    return fail(msg, n, HPVM_EBADELF, "not an executable (e_type %u); link it with ia64-linux-gnu-ld -static",
                eh->e_type);
  if (eh->e_phnum == 0)
    return fail(msg, n, HPVM_EBADELF, "no program headers; link it as an executable (ia64-linux-gnu-ld -static)");
  if (eh->e_phentsize != sizeof(Elf64_Phdr))
    return fail(msg, n, HPVM_EBADELF, "program header size %u, expected %zu; the file is corrupt: rebuild it",
                eh->e_phentsize, sizeof(Elf64_Phdr));
  uint64_t need = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);
  if (eh->e_phoff > len || need > len - eh->e_phoff)
    return fail(msg, n, HPVM_ETRUNC, "truncated ELF: the program headers end at byte %llu but the file has %zu; "
                                     "rebuild it or copy it again",
                (unsigned long long)(eh->e_phoff + need), len);
  return 0;
}

/* ---- Program headers ------------------------------------------------------------------------- */

static int check_interp(const uint8_t *d, size_t len, const Elf64_Phdr *ph, char *msg, size_t n) {
  char interp[256] = "an interpreter";
  if (ph->p_offset < len && ph->p_filesz > 0) {
    size_t k = len - ph->p_offset < ph->p_filesz ? len - ph->p_offset : ph->p_filesz;
    if (k > sizeof interp - 1) k = sizeof interp - 1;
    memcpy(interp, d + ph->p_offset, k);
    interp[k] = 0;
    for (size_t i = 0; interp[i]; i++)
      if (interp[i] < 0x20 || interp[i] > 0x7e) interp[i] = '?';
  }
  return fail(msg, n, HPVM_EBADELF, "dynamically linked (needs %s); ia64run runs static programs only: "
                                    "link it with -static", interp);
}

/* Check every PT_LOAD, find the lowest page and the break, before anything is mapped. */
static int check_loads(const Elf64_Ehdr *eh, const Elf64_Phdr *ph, size_t len, uint64_t bias,
                       char *msg, size_t n) {
  unsigned loads = 0;
  for (unsigned i = 0; i < eh->e_phnum; i++) {
    const Elf64_Phdr *p = &ph[i];
    if (p->p_type != PT_LOAD) continue;
    loads++;
    if (p->p_filesz > p->p_memsz)
      return fail(msg, n, HPVM_EBADELF, "segment %u has more file bytes than memory bytes; the file is corrupt: "
                                        "rebuild it", i);
    if (p->p_offset > len || p->p_filesz > len - p->p_offset)
      return fail(msg, n, HPVM_ETRUNC, "truncated ELF: segment %u needs bytes up to %llu but the file has %zu; "
                                       "rebuild it or copy it again",
                  i, (unsigned long long)(p->p_offset + p->p_filesz), len);
    if ((p->p_offset & ~IR_PAGE_MASK) != (p->p_vaddr & ~IR_PAGE_MASK))
      return fail(msg, n, HPVM_EBADELF, "segment %u: file offset 0x%llx and address 0x%llx differ modulo the "
                                        "16 KiB page; relink it (ia64-linux-gnu-ld aligns segments to 64 KiB)",
                  i, (unsigned long long)p->p_offset, (unsigned long long)p->p_vaddr);
    uint64_t start = (p->p_vaddr + bias) & IR_PAGE_MASK, vend = p->p_vaddr + bias + p->p_memsz;
    if (vend < start || p->p_memsz > IR_TASK_SIZE || !ir_as_user_range(start, IR_PAGE_ALIGN(vend) - start))
      return fail(msg, n, HPVM_EBADELF, "segment %u (0x%llx, %llu bytes) is outside the user address space "
                                        "(one of regions 0-4, below 0x%llx in it); relink it at user addresses",
                  i, (unsigned long long)p->p_vaddr, (unsigned long long)p->p_memsz,
                  (unsigned long long)IR_RGN_MAP_LIMIT);
  }
  if (!loads) return fail(msg, n, HPVM_EBADELF, "no loadable segment (PT_LOAD); link it as an executable");
  return 0;
}

static unsigned seg_perms(uint32_t flags, bool read_implies_exec) {
  unsigned perms = 0;
  if (flags & (PF_R | PF_W)) perms |= IA64_ACC_R;     /* ia64 has no write-only pages */
  if (flags & PF_W) perms |= IA64_ACC_W;
  if ((flags & PF_X) || (read_implies_exec && (flags & PF_R))) perms |= IA64_ACC_X;
  return perms;
}

static int map_segment(ir_process *p, const uint8_t *d, size_t len, const Elf64_Phdr *ph, uint64_t bias) {
  uint64_t vaddr = ph->p_vaddr + bias, start = vaddr & IR_PAGE_MASK;
  uint64_t end = IR_PAGE_ALIGN(vaddr + ph->p_memsz);
  if (end == start) return 0;
  int rc = ir_as_map(&p->as, start, end - start, seg_perms(ph->p_flags, p->img.read_implies_exec), IR_MAP_ELF);
  if (rc) return rc;
  uint8_t *h = ir_as_host(&p->as, start, end - start);
  /* The file pages the segment's bytes lie in, as mmap would show them. */
  uint64_t off = ph->p_offset & IR_PAGE_MASK, fend = IR_PAGE_ALIGN(ph->p_offset + ph->p_filesz);
  if (ph->p_filesz) {
    if (fend > len) fend = len;
    memcpy(h, d + off, fend - off);
  }
  if (ph->p_memsz > ph->p_filesz) {  /* padzero(): the bss part of the last file page */
    uint64_t z = vaddr + ph->p_filesz - start, zend = IR_PAGE_ALIGN(vaddr + ph->p_filesz) - start;
    memset(h + z, 0, zend - z);
  }
  return 0;
}

/* ---- Loading ----------------------------------------------------------------------------------- */

static int load_phdrs(ir_process *p, const uint8_t *d, size_t len, const Elf64_Ehdr *eh, const Elf64_Phdr *ph,
                      char *msg, size_t n) {
  int rc;
  const Elf64_Phdr *gnu_stack = NULL;
  uint64_t min_vaddr = UINT64_MAX;
  for (unsigned i = 0; i < eh->e_phnum; i++) {
    if (ph[i].p_type == PT_INTERP) return check_interp(d, len, &ph[i], msg, n);
    if (ph[i].p_type == PT_GNU_STACK) gnu_stack = &ph[i];
    if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr < min_vaddr) min_vaddr = ph[i].p_vaddr;
  }
  /* A static PIE goes where get_unmapped_area() would put its first page: the mmap base. */
  uint64_t bias = eh->e_type == ET_DYN && min_vaddr != UINT64_MAX ? IR_UNMAPPED_BASE - (min_vaddr & IR_PAGE_MASK) : 0;
  if ((rc = check_loads(eh, ph, len, bias, msg, n)) != 0) return rc;
  ir_image *img = &p->img;
  *img = (ir_image){.entry = eh->e_entry + bias, .phnum = eh->e_phnum, .load_bias = bias};
  bool no_exec_stack = gnu_stack && !(gnu_stack->p_flags & PF_X);
  img->read_implies_exec = !no_exec_stack && (eh->e_flags & EF_IA_64_LINUX_EXECUTABLE_STACK);
  img->exec_stack = (gnu_stack && (gnu_stack->p_flags & PF_X)) || img->read_implies_exec;
  uint64_t brk = 0;
  for (unsigned i = 0; i < eh->e_phnum; i++) {
    if (ph[i].p_type == PT_PHDR) img->phdr = ph[i].p_vaddr + bias;
    if (ph[i].p_type != PT_LOAD) continue;
    if (map_segment(p, d, len, &ph[i], bias))
      return fail(msg, n, HPVM_ENOMEM, "cannot map segment %u (out of memory?)", i);
    if (!img->phdr && ph[i].p_offset <= eh->e_phoff && eh->e_phoff < ph[i].p_offset + ph[i].p_filesz)
      img->phdr = eh->e_phoff - ph[i].p_offset + ph[i].p_vaddr + bias;
    if (ph[i].p_vaddr + bias + ph[i].p_memsz > brk) brk = ph[i].p_vaddr + bias + ph[i].p_memsz;
  }
  img->brk = IR_PAGE_ALIGN(brk);
  return 0;
}

static int load(ir_process *p, const uint8_t *d, size_t len, char *msg, size_t n) {
  int rc = check_ident(d, len, msg, n);
  if (rc) return rc;
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)d;
  if ((rc = check_header(eh, len, msg, n)) != 0) return rc;
  /* A copy, so that an e_phoff of any alignment is fine. */
  Elf64_Phdr *ph = malloc((size_t)eh->e_phnum * sizeof *ph);
  if (!ph) return fail(msg, n, HPVM_ENOMEM, "out of memory reading the program headers");
  memcpy(ph, d + eh->e_phoff, (size_t)eh->e_phnum * sizeof *ph);
  rc = load_phdrs(p, d, len, eh, ph, msg, n);
  free(ph);
  return rc;
}

int ir_load_elf(ir_process *p, const char *path, char *msg, size_t msglen) {
  uint8_t *d = NULL;
  size_t len = 0;
  int rc = read_all(path, &d, &len, msg, msglen);
  if (rc) return rc;
  rc = load(p, d, len, msg, msglen);
  free(d);
  if (!rc && !realpath(path, p->exe)) snprintf(p->exe, sizeof p->exe, "%s", path);
  return rc;
}
