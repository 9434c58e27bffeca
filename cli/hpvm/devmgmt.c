/* devmgmt.c — hpvmdevmgmt -S size file: a new backing file for a virtual disk.
 *
 * HPVM pre-extended such files; here the file is sparse (its blocks are allocated when the
 * guest writes them), so a 100 GB disk costs nothing until used. The size is fixed at
 * creation: that is what the guest's disk capacity reads. The file is complete on disk
 * (file and directory fsynced) when the command says so, and a failure leaves nothing. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define BAD(code, ...) (snprintf(why, whylen, __VA_ARGS__), (code))

static int fsync_dir_of(const char *path) {
  char copy[PATH_MAX];
  snprintf(copy, sizeof copy, "%s", path);
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int rc = fsync(fd) ? -errno : 0;
  close(fd);
  return rc;
}

int cli_sparse_create(const char *path, uint64_t size, char *why, size_t whylen) {
  if (size == 0) return BAD(HPVM_EINVAL, "a disk of 0 bytes holds nothing; give a size such as 10G");
  if (size % 512) return BAD(HPVM_EINVAL, "the size is not a whole number of 512-byte sectors");
  if ((uint64_t)(off_t)size != size || (off_t)size < 0) return BAD(HPVM_ERANGE, "the size is too large");
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    int e = errno;
    if (e == EEXIST) return BAD(HPVM_EEXIST, "%s already exists; hpvmdevmgmt -S creates new files only", path);
    if (e == ENOENT) return BAD(HPVM_ENOENT, "the directory of %s does not exist", path);
    if (e == EACCES || e == EPERM) return BAD(HPVM_EPERM, "cannot create %s: %s", path, strerror(e));
    return BAD(HPVM_EIO, "cannot create %s: %s", path, strerror(e));
  }
  const char *step = "set the size of";
  int e = 0;
  if (ftruncate(fd, (off_t)size) != 0) e = errno;
  if (!e && fsync(fd) != 0) {
    e = errno;
    step = "write";
  }
  if (close(fd) != 0 && !e) {
    e = errno;
    step = "write";
  }
  if (!e) {
    int rc = fsync_dir_of(path);
    if (rc) {
      e = -rc;
      step = "record the directory entry of";
    }
  }
  if (e) {
    unlink(path);
    if (e == EFBIG) return BAD(HPVM_ERANGE, "cannot %s %s: the file system does not allow files this large", step, path);
    if (e == ENOSPC) return BAD(HPVM_EIO, "cannot %s %s: no space left on the file system", step, path);
    return BAD(HPVM_EIO, "cannot %s %s: %s", step, path, strerror(e));
  }
  return 0;
}
