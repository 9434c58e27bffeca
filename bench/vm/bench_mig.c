/* bench_mig.c — the migration library's micro-benchmark (figures in docs/design/migration.md):
 * one process, two VMs, hpvm_chan channels over socketpairs (the handshake and
 * AEAD encryption on, as between hosts; loopback has no other cost), hpvmk idling in the
 * source while its RAM above 16 MiB holds a preloaded image of the mixed profile
 * (64 KiB chunks: 40 % zero, never written; 45 % bytes of the files under /usr/lib; 15 %
 * random). Prints a table per channel count and compression mode: total time, downtime
 * (source pause to RESUMED), rounds, wire MiB, MB/s of guest memory, pages by kind and the
 * process's CPU seconds (both sides). The figures are for reading; nothing checks them.
 *
 *   bench_mig [--quick] [--size MiB]      (default 2048 MiB; --quick: 256 MiB, one row) */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "migrate.h"

#define CHUNK (64u << 10)
#define LOW (16u << 20)              /* hpvmk's own memory: left alone */

/* ---- The image --------------------------------------------------------------------------------- */

typedef struct files {
  char **path;
  size_t n, cap, next;
  int fd;
} files;

static files *g_files;   /* nftw has no context argument; used only while listing */

static int add_file(const char *p, const struct stat *st, int type, struct FTW *f) {
  (void)f;
  if (type != FTW_F || !S_ISREG(st->st_mode) || st->st_size < 65536) return 0;
  if (g_files->n == g_files->cap) {
    g_files->cap = g_files->cap ? 2 * g_files->cap : 1024;
    g_files->path = realloc(g_files->path, g_files->cap * sizeof *g_files->path);
  }
  g_files->path[g_files->n++] = strdup(p);
  return g_files->n > 20000;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The next 64 KiB of the files, read as one stream. */
static void file_bytes(files *fs, uint8_t *out) {
  size_t got = 0;
  while (got < CHUNK) {
    if (fs->fd < 0) {
      if (fs->next >= fs->n) fs->next = 0;
      fs->fd = open(fs->path[fs->next++], O_RDONLY | O_CLOEXEC);
      if (fs->fd < 0) continue;
    }
    ssize_t r = read(fs->fd, out + got, CHUNK - got);
    if (r <= 0) close(fs->fd), fs->fd = -1;
    else got += (size_t)r;
  }
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

typedef struct image { uint64_t zero, file, random; } image;

static image load_mixed(vm *v, uint64_t mem, files *fs) {
  image im = {0};
  uint8_t *buf = malloc(CHUNK);
  for (uint64_t gpa = LOW; gpa + CHUNK <= mem; gpa += CHUNK) {
    unsigned r = (unsigned)(next() % 100);
    if (r < 40) {
      im.zero++;
      continue;
    }
    if (r < 85) file_bytes(fs, buf), im.file++;
    else {
      for (unsigned i = 0; i < CHUNK / 8; i++) ((uint64_t *)(void *)buf)[i] = next();
      im.random++;
    }
    vm_mem_write(v, gpa, buf, CHUNK);
  }
  free(buf);
  return im;
}

/* ---- Channels ---------------------------------------------------------------------------------- */

static int trust_all(void *ctx, const char *peer, const uint8_t s[32], const uint8_t k[32], char *why, size_t n) {
  (void)ctx, (void)peer, (void)s, (void)k, (void)why, (void)n;
  return 0;
}

typedef struct acc { int fd; const chan_identity *me; chan *ch; int rc; char msg[256]; } acc;
static void *server(void *arg) {
  acc *a = arg;
  chan_config c = {.me = a->me, .trust = trust_all};
  a->rc = chan_server(a->fd, &c, &a->ch, a->msg, sizeof a->msg);
  return NULL;
}

static void connect_pairs(const chan_identity *src, const chan_identity *dst, unsigned n, chan **a, chan **b) {
  for (unsigned i = 0; i < n; i++) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) exit(1);
    acc s = {.fd = sv[1], .me = dst};
    pthread_t t;
    pthread_create(&t, NULL, server, &s);
    chan_config c = {.me = src, .trust = trust_all};
    char msg[256];
    int rc = chan_client(sv[0], &c, "dst", &a[i], msg, sizeof msg);
    pthread_join(t, NULL);
    if (rc || s.rc) fprintf(stderr, "bench_mig: channel: %s %s\n", msg, s.msg), exit(1);
    b[i] = s.ch;
  }
}

/* ---- One migration ------------------------------------------------------------------------------ */

typedef struct dest_run { vm *v; chan *ch[MIG_MAX_CHANNELS]; unsigned n; mig_stats st; int rc; char msg[512]; } dest_run;
static void *dest_main(void *arg) {
  dest_run *d = arg;
  d->rc = mig_dest_run(d->v, d->ch, d->n, NULL, &d->st, d->msg, sizeof d->msg);
  return NULL;
}

static vm *guest(uint64_t mem, bool load) {
  vm_config cfg = {.memory = mem, .ncpus = 1, .cmdline = "idle", .console_in = -1, .console_out = -1};
  vm *v;
  char msg[256];
  if (vm_create(&cfg, &v, msg, sizeof msg) || (load && vm_load_kernel(v, HPVMK, msg, sizeof msg)))
    fprintf(stderr, "bench_mig: %s\n", msg), exit(1);
  return v;
}

static void show(void *ctx, const mig_stats *s) {
  (void)ctx;
  fprintf(stderr, "  %-8s round %u  %5.1f %%  wire %7.1f MiB  %6.0f MB/s  dirty %llu KiB  expect %u ms  %.3f s\n",
          mig_phase_name(s->phase), s->round, s->mem_bytes ? 100.0 * (double)s->round0_done / (double)s->mem_bytes : 0,
          s->wire_bytes / 1048576.0, s->wire_mbps, (unsigned long long)s->dirty_bytes >> 10, s->expected_downtime_ms,
          s->total_ns / 1e9);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void row(const chan_identity *ids, uint64_t mem, files *fs, unsigned nch, mig_compress mode, const char *name) {
  vm *a = guest(mem, true);
  load_mixed(a, mem, fs);
  vm_start(a);
  usleep(200000);
  vm *b = guest(mem, false);
  chan *sc[MIG_MAX_CHANNELS];
  dest_run d = {.v = b, .n = nch};
  connect_pairs(&ids[0], &ids[1], nch, sc, d.ch);
  pthread_t t;
  pthread_create(&t, NULL, dest_main, &d);
  mig_params p = {.compress = mode, .downtime_ms = 10, .progress_ms = 100};
  mig_source *m;
  char msg[512];
  double t0 = now_s();
  mig_source_hooks hk = {.progress = getenv("BENCH_MIG_PROGRESS") ? show : NULL};
  if (mig_source_new(a, sc, nch, &p, &hk, &m, msg, sizeof msg)) fprintf(stderr, "bench_mig: %s\n", msg), exit(1);
  int rc = mig_source_run(m, msg, sizeof msg);
  double t1 = now_s();
  mig_stats st;
  mig_source_stats(m, &st);
  mig_source_free(m);
  pthread_join(t, NULL);
  if (rc || d.rc) printf("%-5s %3u  FAILED: %s / %s\n", name, nch, msg, d.msg);
  else
    printf("%-5s %3u  %8.0f %9.2f %6u %9.1f %8.0f %8llu %8llu %8llu %6llu %7.2f\n", name, nch, (t1 - t0) * 1e3,
           st.downtime_ns / 1e6, st.round + 1, st.wire_bytes / 1048576.0, (double)mem / 1e6 / (t1 - t0),
           (unsigned long long)st.pages_zero, (unsigned long long)st.pages_raw, (unsigned long long)st.pages_lz4,
           (unsigned long long)st.pages_delta, st.cpu_s);
  vm_destroy(b);
  vm_destroy(a);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  bool quick = false;
  uint64_t mib = 2048;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) quick = true, mib = 256;
    else if (!strcmp(argv[i], "--size") && i + 1 < argc) mib = strtoull(argv[++i], NULL, 0);
    else return fprintf(stderr, "usage: bench_mig [--quick] [--size MiB]\n"), 2;
  }
  uint64_t mem = mib << 20;
  char dir[] = "/tmp/hpvm_bench_mig_XXXXXX", sd[64], dd[64], msg[256];
  if (!mkdtemp(dir)) return 1;
  snprintf(sd, sizeof sd, "%s/a", dir), snprintf(dd, sizeof dd, "%s/b", dir);
  mkdir(sd, 0700), mkdir(dd, 0700);
  chan_identity ids[2];
  if (chan_identity_load(sd, "src", &ids[0], msg, sizeof msg) || chan_identity_load(dd, "dst", &ids[1], msg, sizeof msg))
    return fprintf(stderr, "bench_mig: %s\n", msg), 1;
  files fs = {.fd = -1};
  g_files = &fs;
  nftw("/usr/lib", add_file, 32, FTW_PHYS);
  if (!fs.n) return fprintf(stderr, "bench_mig: no files under /usr/lib for the image\n"), 1;
  qsort(fs.path, fs.n, sizeof *fs.path, cmp);
  printf("Live migration in one process, idle hpvmk, %llu MiB mixed image (40%% zero, 45%% /usr/lib, 15%% random),\n"
         "channels over socketpairs, encrypted (chan); downtime limit 10 ms\n\n", (unsigned long long)mib);
  printf("mode  chan  total_ms  down_ms rounds  wire_MiB  mem_MB/s     zero      raw      lz4  delta   cpu_s\n");
  if (quick) row(ids, mem, &fs, 2, MIG_COMPRESS_AUTO, "auto");
  else {
    static const struct { mig_compress m; const char *n; } modes[] = {
        {MIG_COMPRESS_AUTO, "auto"}, {MIG_COMPRESS_NONE, "none"}, {MIG_COMPRESS_LZ4, "lz4"}};
    for (unsigned k = 0; k < 3; k++)
      for (unsigned nch = 1; nch <= 2; nch++) row(ids, mem, &fs, nch, modes[k].m, modes[k].n);
  }
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : 1;
}
