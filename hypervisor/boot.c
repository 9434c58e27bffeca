/* boot.c — loads a guest kernel (a static little-endian IA-64 ELF) at its physical
 * addresses, writes the boot information block and sets the boot vCPU's initial state, as
 * docs/platform.md "Boot" says.
 *
 * The image is hostile until proven otherwise: every header field is bounded by the file's
 * length or by RAM before use, and each problem gives one line naming it and what to do. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm_internal.h"

#define MAX_KERNEL_FILE (1ull << 30)
#define BOOTINFO_MAX_RANGES 8        /* memory range slots: base (8), length (8) */
#define BOOTINFO_MAX_DEVICES 32
#define BOOTINFO_SIZE (56 + BOOTINFO_MAX_RANGES * 16 + BOOTINFO_MAX_DEVICES * 32)

static int fail(char *msg, size_t n, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, n, fmt, ap);
  va_end(ap);
  return rc;
}

int vm_load_kernel(vm *v, const char *path, char *msg, size_t msglen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? fail(msg, msglen, HPVM_ENOENT, "kernel %s: no such file; check the path", path)
                           : fail(msg, msglen, HPVM_EIO, "kernel %s: cannot open it (%s)", path, strerror(errno));
  struct stat st;
  int rc = 0;
  if (fstat(fd, &st) != 0) rc = fail(msg, msglen, HPVM_EIO, "kernel %s: cannot stat it (%s)", path, strerror(errno));
  else if (!S_ISREG(st.st_mode))
    rc = fail(msg, msglen, HPVM_EBADELF, "kernel %s: not a regular file; give a static IA-64 ELF kernel", path);
  else if (st.st_size == 0)
    rc = fail(msg, msglen, HPVM_EBADELF, "kernel %s: empty file; give a static IA-64 ELF kernel", path);
  else if ((uint64_t)st.st_size > MAX_KERNEL_FILE)
    rc = fail(msg, msglen, HPVM_ERANGE, "kernel %s: file too large (more than 1 GiB)", path);
  uint8_t *buf = rc ? NULL : malloc((size_t)st.st_size);
  if (!rc && !buf) rc = fail(msg, msglen, HPVM_ENOMEM, "kernel %s: out of memory reading it", path);
  size_t got = 0;
  while (!rc && got < (size_t)st.st_size) {
    ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) rc = fail(msg, msglen, HPVM_EIO, "kernel %s: read error", path);
    else got += (size_t)r;
  }
  close(fd);
  if (!rc) {
    char m[400];
    rc = vm_boot_load(v, buf, got, m, sizeof m);
    if (rc) fail(msg, msglen, rc, "kernel %s: %s", path, m);
  }
  free(buf);
  return rc;
}

/* ---- ELF checks ------------------------------------------------------------------------------- */

static int check_header(const uint8_t *img, size_t len, const Elf64_Ehdr **out, char *msg, size_t n) {
  if (len < 4 || memcmp(img, ELFMAG, SELFMAG) != 0)
    return fail(msg, n, HPVM_EBADELF, "not an ELF file; give a static IA-64 ELF kernel (ia64-linux-gnu-ld -static)");
  if (len < sizeof(Elf64_Ehdr)) return fail(msg, n, HPVM_ETRUNC, "truncated ELF header (%zu bytes)", len);
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
  if (eh->e_ident[EI_CLASS] != ELFCLASS64)
    return fail(msg, n, HPVM_EBADELF, "a 32-bit ELF; an IA-64 kernel is ELF64");
  if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
    return fail(msg, n, HPVM_EBADELF, "a big-endian ELF; hpvm runs little-endian IA-64 kernels");
  if (eh->e_machine != EM_IA_64)
    return fail(msg, n, HPVM_EBADELF, "an ELF for machine %u, not IA-64 (%u); build the kernel with ia64-linux-gnu tools",
                eh->e_machine, EM_IA_64);
  if (eh->e_type != ET_EXEC)
    return fail(msg, n, HPVM_EBADELF, "not an executable (ELF type %u); link the kernel static (ld -static)", eh->e_type);
  if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0)
    return fail(msg, n, HPVM_EBADELF, "no program headers; link the kernel as an executable");
  if (eh->e_phoff > len || (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff)
    return fail(msg, n, HPVM_ETRUNC, "truncated: the program headers lie past the end of the file");
  *out = eh;
  return 0;
}

static int check_segment(const vm *v, const Elf64_Phdr *ph, unsigned i, size_t len, char *msg, size_t n) {
  if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
    return fail(msg, n, HPVM_ETRUNC, "truncated: segment %u needs bytes up to offset %llu, the file has %zu", i,
                (unsigned long long)(ph->p_offset + ph->p_filesz), len);
  if (ph->p_filesz > ph->p_memsz)
    return fail(msg, n, HPVM_EBADELF, "segment %u has more file bytes than memory bytes", i);
  if (!vm_is_ram(v, ph->p_paddr, ph->p_memsz))
    return fail(msg, n, HPVM_ERANGE,
                "segment %u at physical 0x%llx-0x%llx lies outside the guest's RAM (0-0x%llx%s); link it at lower "
                "physical addresses or give more --memory", i, (unsigned long long)ph->p_paddr,
                (unsigned long long)(ph->p_paddr + ph->p_memsz), (unsigned long long)v->low_ram,
                v->high_ram ? " and from 4 GiB" : "");
  return 0;
}

/* ---- Boot information ------------------------------------------------------------------------- */

static void put(uint8_t *b, unsigned off, uint64_t x, unsigned size) {
  for (unsigned i = 0; i < size; i++) b[off + i] = (uint8_t)(x >> (8 * i));
}

/* Write the block at gpa and the command line right after it. */
static int write_bootinfo(vm *v, uint64_t gpa, char *msg, size_t n) {
  size_t cl = strlen(v->cmdline);
  uint64_t cmd_gpa = gpa + BOOTINFO_SIZE;
  if (!vm_is_ram(v, gpa, BOOTINFO_SIZE + cl + 1))
    return fail(msg, n, HPVM_ERANGE, "no room in RAM for the boot information above the kernel; give more --memory");
  uint8_t b[BOOTINFO_SIZE] = {0};
  memcpy(b, "HPVMBOOT", 8);
  put(b, 8, VM_BOOTINFO_VERSION, 4);
  put(b, 12, BOOTINFO_SIZE, 4);
  put(b, 16, v->ram_size, 8);
  put(b, 24, v->high_ram ? 2 : 1, 4);
  put(b, 28, v->ncpus, 4);
  put(b, 32, cmd_gpa, 8);
  put(b, 40, cl, 4);
  put(b, 44, v->ndev, 4);
  put(b, 48, VM_ITC_HZ, 8);
  put(b, 56, 0, 8);
  put(b, 64, v->low_ram, 8);
  if (v->high_ram) {
    put(b, 72, VM_HIGH_RAM_BASE, 8);
    put(b, 80, v->high_ram, 8);
  }
  for (unsigned i = 0; i < v->ndev; i++) {
    unsigned o = 56 + BOOTINFO_MAX_RANGES * 16 + i * 32;
    put(b, o, v->dev[i].type, 4);
    put(b, o + 4, v->dev[i].vector, 4);
    put(b, o + 8, VM_DEV_BASE + (uint64_t)i * 0x1000, 8);
    put(b, o + 16, v->dev[i].capacity, 8);
    put(b, o + 24, v->dev[i].flags, 8);
  }
  vm_mem_write(v, gpa, b, BOOTINFO_SIZE);
  vm_mem_write(v, cmd_gpa, v->cmdline, cl + 1);
  v->bootinfo_gpa = gpa;
  return 0;
}

int vm_boot_load(vm *v, const uint8_t *img, size_t len, char *msg, size_t n) {
  const Elf64_Ehdr *eh = NULL;
  int rc = check_header(img, len, &eh, msg, n);
  if (rc) return rc;
  const Elf64_Phdr *ph = (const Elf64_Phdr *)(img + eh->e_phoff);
  uint64_t top = 0;
  bool entry_ok = false;
  unsigned nload = 0;
  for (unsigned i = 0; i < eh->e_phnum; i++) {
    if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0) continue;
    if ((rc = check_segment(v, &ph[i], i, len, msg, n))) return rc;
    nload++;
    if (ph[i].p_paddr + ph[i].p_memsz > top) top = ph[i].p_paddr + ph[i].p_memsz;
    if (eh->e_entry >= ph[i].p_paddr && eh->e_entry < ph[i].p_paddr + ph[i].p_memsz) entry_ok = true;
  }
  if (!nload) return fail(msg, n, HPVM_EBADELF, "no loadable segment");
  if (!entry_ok)
    return fail(msg, n, HPVM_EBADELF, "the entry point 0x%llx is in no loaded segment; e_entry must be a physical address",
                (unsigned long long)eh->e_entry);
  if (eh->e_entry & 15) return fail(msg, n, HPVM_EBADELF, "the entry point 0x%llx is not bundle aligned",
                                    (unsigned long long)eh->e_entry);
  for (unsigned i = 0; i < eh->e_phnum; i++) {
    if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0) continue;
    uint8_t *dst = vm_mem_ptr(v, ph[i].p_paddr, ph[i].p_memsz);
    memcpy(dst, img + ph[i].p_offset, ph[i].p_filesz);
    memset(dst + ph[i].p_filesz, 0, ph[i].p_memsz - ph[i].p_filesz);
    vm_mem_written(v, ph[i].p_paddr, ph[i].p_memsz);
  }
  uint64_t bi = (top + VM_FRAME_SIZE - 1) & ~(VM_FRAME_SIZE - 1);
  if ((rc = write_bootinfo(v, bi, msg, n))) return rc;
  pthread_mutex_lock(&v->lock);
  vm_vcpu *boot = v->vcpu[0];
  vm_vcpu_boot_state(boot, eh->e_entry, 0);
  ia64_gr_write(&boot->cpu, 28, bi, false);
  for (unsigned i = 1; i < v->ncpus; i++) v->vcpu[i]->state = VCPU_WAIT_BOOT;
  v->sal_set = false;
  pthread_mutex_unlock(&v->lock);
  return 0;
}
