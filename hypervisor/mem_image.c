/* mem_image.c — fill guest RAM from an image file before the VM starts (vm_mem_load_image,
 * vm.h): the benchmarks' guests whose memory holds given content (bench/migrate/).
 *
 * The file is read in 1 MiB blocks; a 4 KiB page that is all zero is skipped, and so is a hole
 * of a sparse file (SEEK_DATA), so those pages of the RAM mapping are never touched and stay
 * unpopulated, exactly as in a VM that never wrote them. The rest is copied in and announced
 * with vm_mem_written (code coherence, and the dirty log should one be running). */
/* SEEK_DATA: _GNU_SOURCE comes from the build (CMakeLists.txt). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm_internal.h"

#define IMAGE_BLOCK (1u << 20)

static bool page_is_zero(const uint8_t *p) {
  const uint64_t *w = (const uint64_t *)(const void *)p;
  for (size_t i = 0; i < VM_FRAME_SIZE / 8; i += 8)
    if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7]) return false;
  return true;
}

/* The image's last, partial page. */
static bool bytes_are_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return false;
  return true;
}

/* Guest-physical address of RAM byte `off` (RAM below the device window, then from 4 GiB). */
static uint64_t ram_gpa(const vm *v, uint64_t off) {
  return off < v->low_ram ? off : VM_HIGH_RAM_BASE + (off - v->low_ram);
}

/* Copy the non-zero pages of buf (len bytes of the image from RAM offset off) into RAM. A run
 * never crosses the end of low RAM: len and off are multiples of 1 MiB or end the image, and
 * low RAM ends on a 1 MiB boundary (VM_LOW_RAM_MAX, or all of RAM). */
static void copy_nonzero(vm *v, uint64_t off, const uint8_t *buf, size_t len) {
  size_t run = 0, run_len = 0;   /* pending run of non-zero pages: start in buf, bytes */
  for (size_t p = 0; p < len; p += VM_FRAME_SIZE) {
    size_t n = len - p < VM_FRAME_SIZE ? len - p : VM_FRAME_SIZE;
    bool zero = n == VM_FRAME_SIZE ? page_is_zero(buf + p) : bytes_are_zero(buf + p, n);
    if (!zero) {
      if (!run_len) run = p;
      run_len += n;
      if (p + n < len) continue;
    }
    if (run_len) {
      uint64_t gpa = ram_gpa(v, off + run);
      memcpy(v->ram + gpa, buf + run, run_len);
      vm_mem_written(v, gpa, run_len);
      run_len = 0;
    }
  }
}

int vm_mem_load_image(vm *v, const char *path, char *msg, size_t msglen) {
  if (v->started) {
    snprintf(msg, msglen, "memory image %s: the VM is already running; load the image before starting it", path);
    return HPVM_EBUSY;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    snprintf(msg, msglen, "cannot open memory image %s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    return HPVM_EIO;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(msg, msglen, "memory image %s is not a regular file", path);
    close(fd);
    return HPVM_EINVAL;
  }
  uint64_t size = (uint64_t)st.st_size;
  if (size > v->ram_size) {
    snprintf(msg, msglen, "memory image %s has %llu bytes, more than the VM's %llu MiB of RAM; give the VM at least "
             "%llu MiB", path, (unsigned long long)size, (unsigned long long)(v->ram_size >> 20),
             (unsigned long long)((size + (1 << 20) - 1) >> 20));
    close(fd);
    return HPVM_EINVAL;
  }
  uint8_t *buf = malloc(IMAGE_BLOCK);
  if (!buf) {
    close(fd);
    snprintf(msg, msglen, "memory image %s: out of memory for the read buffer", path);
    return HPVM_ENOMEM;
  }
  int rc = 0;
  for (uint64_t off = 0; off < size && !rc;) {
    /* Skip a hole of a sparse file, in whole blocks (the block structure keeps runs inside
     * low RAM). ENXIO: nothing but holes up to the end. */
    off_t data = lseek(fd, (off_t)off, SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;
    if (data > (off_t)off) off = (uint64_t)data & ~(uint64_t)(IMAGE_BLOCK - 1);
    size_t want = size - off < IMAGE_BLOCK ? (size_t)(size - off) : IMAGE_BLOCK;
    size_t got = 0;
    while (got < want) {
      ssize_t n = pread(fd, buf + got, want - got, (off_t)(off + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        snprintf(msg, msglen, "cannot read memory image %s at byte %llu: %s", path,
                 (unsigned long long)(off + got), n < 0 ? strerror(errno) : "the file shrank while it was read");
        rc = HPVM_EIO;
        break;
      }
      got += (size_t)n;
    }
    if (!rc) copy_nonzero(v, off, buf, want);
    off += want;
  }
  free(buf);
  close(fd);
  return rc;
}
