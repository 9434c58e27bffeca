/* mig_test.h — what the whole-migration tests share: two hosts' identities in temporary
 * directories, authenticated channels over socketpairs (hpvm_chan, handshake included), the
 * guest kernel hpvmk in a VM whose console goes to a file, a destination run on its own
 * thread, and reading the consoles. Header-only; included by tests/migrate/test_*.c. */
#ifndef HPVM_MIG_TEST_H
#define HPVM_MIG_TEST_H

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

typedef struct mt_hosts {
  char dir[64];
  chan_identity src, dst;
} mt_hosts;

static inline int mt_trust_all(void *ctx, const char *peer, const uint8_t s[32], const uint8_t k[32], char *why,
                               size_t whylen) {
  (void)ctx, (void)peer, (void)s, (void)k, (void)why, (void)whylen;
  return 0;
}

/* Throwaway identities for hosts "src" and "dst". */
static inline void mt_hosts_init(mt_hosts *h) {
  snprintf(h->dir, sizeof h->dir, "/tmp/hpvm_mig_XXXXXX");
  if (!mkdtemp(h->dir)) fail_msg("mkdtemp");
  char sd[128], dd[128], msg[256];
  snprintf(sd, sizeof sd, "%s/src", h->dir);
  snprintf(dd, sizeof dd, "%s/dst", h->dir);
  mkdir(sd, 0700), mkdir(dd, 0700);
  if (chan_identity_load(sd, "src", &h->src, msg, sizeof msg) || chan_identity_load(dd, "dst", &h->dst, msg, sizeof msg))
    fail_msg("chan_identity_load: %s", msg);
}

static inline void mt_hosts_free(mt_hosts *h) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", h->dir);
  if (system(cmd)) {}
}

typedef struct mt_accept {
  int fd;
  const chan_identity *me;
  chan *ch;
  int rc;
  char msg[256];
} mt_accept;

static inline void *mt_server(void *arg) {
  mt_accept *a = arg;
  chan_config c = {.me = a->me, .trust = mt_trust_all};
  a->rc = chan_server(a->fd, &c, &a->ch, a->msg, sizeof a->msg);
  return NULL;
}

/* n connected channel pairs: src[i] (client, host src) talks to dst[i] (server, host dst). */
static inline void mt_connect(mt_hosts *h, unsigned n, chan **src, chan **dst) {
  for (unsigned i = 0; i < n; i++) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) fail_msg("socketpair");
    mt_accept a = {.fd = sv[1], .me = &h->dst};
    pthread_t t;
    pthread_create(&t, NULL, mt_server, &a);
    chan_config c = {.me = &h->src, .trust = mt_trust_all};
    char msg[256];
    int rc = chan_client(sv[0], &c, "dst", &src[i], msg, sizeof msg);
    pthread_join(t, NULL);
    if (rc || a.rc) fail_msg("channel %u: client %d (%s), server %d (%s)", i, rc, msg, a.rc, a.msg);
    dst[i] = a.ch;
  }
}

static inline double mt_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A guest kernel VM: console to the file `console`, one disk. */
static inline vm *mt_guest(uint64_t mem, unsigned ncpus, const char *cmdline, const char *disk, const char *console,
                           bool load) {
  int out = open(console, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (out < 0) fail_msg("open %s", console);
  const char *disks[] = {disk};
  vm_config cfg = {.memory = mem, .ncpus = ncpus, .cmdline = cmdline, .disks = disks, .ndisks = disk ? 1 : 0,
                   .console_in = -1, .console_out = out};
  vm *v = NULL;
  char msg[256];
  if (vm_create(&cfg, &v, msg, sizeof msg)) fail_msg("vm_create: %s", msg);
  if (load && vm_load_kernel(v, HPVMK, msg, sizeof msg)) fail_msg("vm_load_kernel: %s", msg);
  return v;   /* the console fd stays open for the test's life: the VM writes to it */
}

static inline char *mt_read(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return strdup("");
  char *buf = calloc(1, 1 << 20);
  size_t n = fread(buf, 1, (1 << 20) - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

static inline void mt_disk(const char *path) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ftruncate(fd, 4 << 20)) fail_msg("disk %s", path);
  close(fd);
}

/* Wait until the file holds `what` (true) or secs pass (false). */
static inline bool mt_wait_for(const char *path, const char *what, double secs) {
  double end = mt_now() + secs;
  for (;;) {
    char *t = mt_read(path);
    bool ok = strstr(t, what) != NULL;
    free(t);
    if (ok) return true;
    if (mt_now() > end) return false;
    usleep(20000);
  }
}

/* The exit status, or -1 (powered off) when still running after secs. */
static inline int mt_wait_exit(vm *v, double secs) {
  double end = mt_now() + secs;
  while (!vm_stopped(v) && mt_now() < end) usleep(5000);
  if (!vm_stopped(v)) {
    vm_power_off(v, -1);
    vm_wait(v);
    return -1;
  }
  return vm_wait(v);
}

/* The destination on its own thread. */
typedef struct mt_dest {
  vm *v;
  chan *ch[MIG_MAX_CHANNELS];
  unsigned nch;
  mig_dest_hooks hooks;
  mig_stats st;
  int rc;
  char msg[512];
  pthread_t th;
} mt_dest;

static inline void *mt_dest_main(void *arg) {
  mt_dest *d = arg;
  d->rc = mig_dest_run(d->v, d->ch, d->nch, &d->hooks, &d->st, d->msg, sizeof d->msg);
  return NULL;
}

static inline void mt_dest_start(mt_dest *d) { pthread_create(&d->th, NULL, mt_dest_main, d); }
static inline void mt_dest_join(mt_dest *d) { pthread_join(d->th, NULL); }

/* Every vCPU's ar.itc, lowest (the VM paused by the caller or not started). */
static inline uint64_t mt_min_itc(vm *v) {
  uint64_t lo = UINT64_MAX;
  for (unsigned i = 0; i < vm_ncpus(v); i++) {
    uint64_t t = ia64_itc(vm_cpu(v, i));
    if (t < lo) lo = t;
  }
  return lo;
}

static inline uint64_t mt_max_itc(vm *v) {
  uint64_t hi = 0;
  for (unsigned i = 0; i < vm_ncpus(v); i++) {
    uint64_t t = ia64_itc(vm_cpu(v, i));
    if (t > hi) hi = t;
  }
  return hi;
}

static inline unsigned mt_count(const char *text, const char *what) {
  unsigned n = 0;
  for (const char *p = text; (p = strstr(p, what)); p++) n++;
  return n;
}

#endif
