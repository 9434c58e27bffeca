/* internal.h — what the files of storage/ share and nobody else sees: the store struct,
 * error reporting, path building, and the record layer's lock and write helpers that the
 * VM, lease, cluster and log files build on. Never included from outside storage/. */
#ifndef HPVM_STORAGE_INTERNAL_H
#define HPVM_STORAGE_INTERNAL_H

#include <limits.h>
#include <stdarg.h>

#include "storage.h"

/* A record lock this store holds (OFD locks belong to an open file, so a second open of the
 * same lock file by the same store would conflict with itself: locks nest instead). */
typedef struct sto__held {
  char *path;                        /* the record's path, relative to the root */
  int fd;                            /* the lock file, -1 under no_locks */
  unsigned depth;
  struct sto__held *next;
} sto__held;

struct sto_store {
  char *root;
  char host[STO_NAME_MAX + 1];
  sto_io io;
  sto_clock clock;
  bool no_locks;
  uint32_t lock_timeout_ms;
  uint64_t tmp_seq;                  /* makes temporary names unique within the process */
  sto__held *locks;
  char msg[1024];
};

/* Set the store's message (printf-style) and return err. */
int sto__fail(sto_store *s, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A negative errno to the project's code: ENOENT -> NOENT, EEXIST -> EEXIST, ENOMEM -> NOMEM,
 * anything else -> EIO (the message carries strerror). */
int sto__errno(int neg_errno);
/* printf into a PATH_MAX buffer; false (and an empty string) when it does not fit. */
bool sto__pathf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "DIR/rel" into buf (PATH_MAX); HPVM_ERANGE when too long. */
int sto__abs(sto_store *s, const char *rel, char *buf);
/* A relative record path is well formed: no leading '/', no empty, "." or ".." parts. */
int sto__check_rel(sto_store *s, const char *rel);
void sto__uuid(char out[37]);
uint64_t sto__mono(sto_store *s);
int64_t sto__wall(sto_store *s);
/* Ignore EINTR and short transfers; the io layer's -errno on failure. */
int sto__write_all(sto_store *s, int fd, const void *buf, size_t len);
/* mkdir (EEXIST is fine) and fsync of the parent directory so the new entry survives a crash. */
int sto__mkdir_durable(sto_store *s, const char *rel, mode_t mode);
/* fsync a directory given by its absolute path. */
int sto__fsync_dir(sto_store *s, const char *abs_dir);

/* Record locks (record.c): they nest per store (see sto__held). */
int sto__lock(sto_store *s, const char *rel);
void sto__unlock(sto_store *s, const char *rel);
/* What to tell the operator about a damaged record at rel ("restore it from a backup or ...") */
void sto__remedy(const char *rel, char *buf, size_t len);
/* Pack m into a malloc'd buffer; HPVM_ERANGE past STO_RECORD_MAX. */
int sto__pack(sto_store *s, const char *rel, const ProtobufCMessage *m, uint8_t **buf, size_t *len);

#endif
