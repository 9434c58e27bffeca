/* sto_test.h — what the storage tests share: a fresh temporary shared directory per test
 * (removed afterwards), opening a store on it as a named host, fake clocks that a test
 * moves by hand, and small file helpers to damage records on purpose. */
#ifndef STO_TEST_H
#define STO_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage.h"

typedef struct fake_clock {
  uint64_t mono;
  int64_t wall;
} fake_clock;

static inline uint64_t fake_mono(void *ctx) { return ((fake_clock *)ctx)->mono; }
static inline int64_t fake_wall(void *ctx) { return ((fake_clock *)ctx)->wall; }
static inline sto_clock fake_clock_of(fake_clock *c) { return (sto_clock){fake_mono, fake_wall, c}; }
static inline void fake_advance_ms(fake_clock *c, uint64_t ms) {
  c->mono += ms * 1000000u;
  c->wall += (int64_t)ms * 1000000;
}

/* A fresh directory under $TMPDIR (or /tmp), absolute, laid out for hpvm. */
static inline char *sto_test_dir(void) {
  const char *base = getenv("TMPDIR");
  char tmpl[PATH_MAX];
  snprintf(tmpl, sizeof tmpl, "%s/hpvm-sto-XXXXXX", base && *base ? base : "/tmp");
  char *d = mkdtemp(tmpl);
  assert_non_null(d);
  return strdup(d);
}

static inline int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}
static inline void sto_test_rmdir(char *dir) {
  if (!dir) return;
  nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  free(dir);
}

/* Open a store on dir as host; io, clock may be NULL. Fails the test on error. */
static inline sto_store *sto_test_open(const char *dir, const char *host, const sto_io *io, const sto_clock *clock,
                                       bool no_locks) {
  sto_options o = {.root = dir, .host = host, .io = io, .clock = clock, .no_locks = no_locks};
  sto_store *s;
  int r = sto_open(&o, &s);
  if (r) fail_msg("sto_open: %s", sto_error(s));
  r = sto_layout_init(s);
  if (r) fail_msg("sto_layout_init: %s", sto_error(s));
  return s;
}

/* "DIR/rel" (static buffer: one at a time). */
static inline const char *sto_test_path(const char *dir, const char *rel) {
  static char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s/%s", dir, rel);
  return buf;
}

static inline size_t file_read(const char *path, uint8_t *buf, size_t cap) {
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  ssize_t n = read(fd, buf, cap);
  close(fd);
  assert_true(n >= 0);
  return (size_t)n;
}
static inline void file_write(const char *path, const void *buf, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, buf, len), (ssize_t)len);
  close(fd);
}
static inline bool file_exists(const char *path) { return access(path, F_OK) == 0; }

/* Entries of a directory whose names start with prefix. */
#include <dirent.h>
static inline int count_entries(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (!strncmp(e->d_name, prefix, strlen(prefix)) && strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

#endif
