/* bench_mig.c — the migration library's micro-benchmark (figures in docs/design/migration.md):
 * one process, two VMs, hpvm_chan channels over socketpairs (the handshake and AEAD
 * encryption on, as between hosts; loopback has no other cost), hpvmk in the source while
 * its RAM above 16 MiB holds a preloaded image of the mixed profile (64 KiB chunks:
 * 40 % zero, never written; 45 % bytes of the files under /usr/lib; 15 % random). The guest
 * idles, or with --busy runs hpvmk's memstress (one 8-byte store in every page of a --wss
 * working set at RATE MiB/s). --link emulates a slower link with the library's token bucket
 * (bandwidth_bps): the socketpair itself is never the limit then.
 *
 * Prints a row per (mode, channels, rate): total time, downtime (source pause to RESUMED),
 * rounds, wire MiB, MB/s of guest memory, pages by kind, the throttle reached, and CPU
 * seconds of each side's migration threads (mig_cpu_s: load on the host stretches wall
 * time far more than it changes these). The figures are for reading; nothing checks them.
 *
 *   bench_mig [--quick] [--size MiB] [--mode auto|lz4|none[,...]] [--channels N[,...]]
 *             [--busy RATE[,...]] [--wss MiB] [--link Mbit/s] [--downtime ms] [--repeat N]
 *             [--no-delta] [--no-auto-converge]
 *   default: 2048 MiB, idle, modes auto,none,lz4 x channels 1,2; --quick: 256 MiB, auto, 2.
 *   BENCH_MIG_PROGRESS=1: the progress lines; BENCH_MIG_TRACE=1: the library's trace (link
 *   measure per ACK window, each round's decision, the frozen phase's steps), on stderr. */
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
#define MAXLIST 8

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

static uint64_t rng;
static uint64_t next(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

/* The same image for every row: the generator and the file stream restart. */
static void load_mixed(vm *v, uint64_t mem, files *fs) {
  rng = 0x9e3779b97f4a7c15ull;
  if (fs->fd >= 0) close(fs->fd);
  fs->fd = -1, fs->next = 0;
  uint8_t *buf = malloc(CHUNK);
  for (uint64_t gpa = LOW; gpa + CHUNK <= mem; gpa += CHUNK) {
    unsigned r = (unsigned)(next() % 100);
    if (r < 40) continue;
    if (r < 85) file_bytes(fs, buf);
    else
      for (unsigned i = 0; i < CHUNK / 8; i++) ((uint64_t *)(void *)buf)[i] = next();
    vm_mem_write(v, gpa, buf, CHUNK);
  }
  free(buf);
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

typedef struct opts {
  uint64_t mem;
  unsigned nmodes, nch_n, nrates, repeat;
  mig_compress modes[MAXLIST];
  unsigned nch[MAXLIST], rates[MAXLIST];
  unsigned wss_mib, link_mbit, downtime_ms;
  bool no_delta, no_auto_converge;
} opts;

typedef struct dest_run { vm *v; chan *ch[MIG_MAX_CHANNELS]; unsigned n; mig_stats st; int rc; char msg[512]; } dest_run;
static void *dest_main(void *arg) {
  dest_run *d = arg;
  d->rc = mig_dest_run(d->v, d->ch, d->n, NULL, &d->st, d->msg, sizeof d->msg);
  return NULL;
}

static vm *guest(uint64_t mem, const char *cmdline, bool load) {
  vm_config cfg = {.memory = mem, .ncpus = 1, .cmdline = cmdline, .console_in = -1, .console_out = -1};
  vm *v;
  char msg[256];
  if (vm_create(&cfg, &v, msg, sizeof msg) || (load && vm_load_kernel(v, HPVMK, msg, sizeof msg)))
    fprintf(stderr, "bench_mig: %s\n", msg), exit(1);
  return v;
}

static void show(void *ctx, const mig_stats *s) {
  (void)ctx;
  fprintf(stderr, "  %-8s round %u  %5.1f %%  wire %7.1f MiB  %6.0f MB/s  dirty %llu KiB %5.0f MB/s  expect %u ms  "
          "throttle %u  %.3f s  cpu %.2f\n", mig_phase_name(s->phase), s->round,
          s->mem_bytes ? 100.0 * (double)s->round0_done / (double)s->mem_bytes : 0, s->wire_bytes / 1048576.0,
          s->wire_mbps, (unsigned long long)s->dirty_bytes >> 10, s->dirty_mbps, s->expected_downtime_ms, s->throttle,
          s->total_ns / 1e9, s->mig_cpu_s);
}

static void trace(void *ctx, const char *line) {
  (void)ctx;
  fprintf(stderr, "  trace %s\n", line);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *mode_name(mig_compress m) {
  return m == MIG_COMPRESS_AUTO ? "auto" : m == MIG_COMPRESS_LZ4 ? "lz4" : "none";
}

static void row(const chan_identity *ids, const opts *o, files *fs, unsigned nch, mig_compress mode, unsigned rate) {
  char cmdline[64] = "idle";
  if (rate) snprintf(cmdline, sizeof cmdline, "memstress wss=%uM rate=%u", o->wss_mib, rate);
  vm *a = guest(o->mem, cmdline, true);
  load_mixed(a, o->mem, fs);
  vm_start(a);
  usleep(rate ? 1000000 : 200000);   /* memstress reaches its rate */
  vm *b = guest(o->mem, NULL, false);
  chan *sc[MIG_MAX_CHANNELS];
  dest_run d = {.v = b, .n = nch};
  connect_pairs(&ids[0], &ids[1], nch, sc, d.ch);
  pthread_t t;
  pthread_create(&t, NULL, dest_main, &d);
  mig_params p = {.compress = mode, .downtime_ms = o->downtime_ms, .progress_ms = 100,
                  .bandwidth_bps = (uint64_t)o->link_mbit * 1000000 / 8, .no_delta = o->no_delta,
                  .no_auto_converge = o->no_auto_converge, .copy_timeout_ms = 120000};
  mig_source *m;
  char msg[512];
  double t0 = now_s();
  mig_source_hooks hk = {.progress = getenv("BENCH_MIG_PROGRESS") ? show : NULL,
                         .trace = getenv("BENCH_MIG_TRACE") ? trace : NULL};
  if (mig_source_new(a, sc, nch, &p, &hk, &m, msg, sizeof msg)) fprintf(stderr, "bench_mig: %s\n", msg), exit(1);
  int rc = mig_source_run(m, msg, sizeof msg);
  double t1 = now_s();
  mig_stats st;
  mig_source_stats(m, &st);
  mig_source_free(m);
  pthread_join(t, NULL);
  double load[1] = {0};
  getloadavg(load, 1);
  if (rc || d.rc) printf("%-5s %4u %5u  FAILED: %s / %s\n", mode_name(mode), nch, rate, msg, d.msg);
  else
    printf("%-5s %4u %5u %8.0f %8.2f %6u %9.1f %8.0f %8llu %8llu %8llu %7llu %4u %6.2f %6.2f %5.1f\n", mode_name(mode),
           nch, rate, (t1 - t0) * 1e3, st.downtime_ns / 1e6, st.round + 1, st.wire_bytes / 1048576.0,
           (double)o->mem / 1e6 / (t1 - t0), (unsigned long long)st.pages_zero, (unsigned long long)st.pages_raw,
           (unsigned long long)st.pages_lz4, (unsigned long long)st.pages_delta, st.throttle, st.mig_cpu_s,
           d.st.mig_cpu_s, load[0]);
  vm_destroy(b);
  vm_destroy(a);
}

/* "a,b,c" into up to MAXLIST unsigneds; 0 when malformed. */
static unsigned parse_list(const char *s, unsigned *out) {
  unsigned n = 0;
  for (char *end; *s && n < MAXLIST; s = *end ? end + 1 : end) {
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || (*end && *end != ',')) return 0;
    out[n++] = (unsigned)v;
  }
  return n;
}

static unsigned parse_modes(const char *s, mig_compress *out) {
  unsigned n = 0;
  char buf[64];
  snprintf(buf, sizeof buf, "%s", s);
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < MAXLIST; t = strtok_r(NULL, ",", &save)) {
    if (!strcmp(t, "auto")) out[n++] = MIG_COMPRESS_AUTO;
    else if (!strcmp(t, "lz4")) out[n++] = MIG_COMPRESS_LZ4;
    else if (!strcmp(t, "none")) out[n++] = MIG_COMPRESS_NONE;
    else return 0;
  }
  return n;
}

static int usage(void) {
  fprintf(stderr, "usage: bench_mig [--quick] [--size MiB] [--mode auto|lz4|none[,...]] [--channels N[,...]]\n"
                  "                 [--busy MiB/s[,...]] [--wss MiB] [--link Mbit/s] [--downtime ms] [--repeat N]\n"
                  "                 [--no-delta] [--no-auto-converge]\n");
  return 2;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  opts o = {.mem = 2048ull << 20, .nmodes = 3, .modes = {MIG_COMPRESS_AUTO, MIG_COMPRESS_NONE, MIG_COMPRESS_LZ4},
            .nch_n = 2, .nch = {1, 2}, .nrates = 1, .rates = {0}, .repeat = 1, .wss_mib = 256, .downtime_ms = 10};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool ok = true;
    if (!strcmp(a, "--quick")) {
      o.mem = 256ull << 20, o.nmodes = 1, o.modes[0] = MIG_COMPRESS_AUTO, o.nch_n = 1, o.nch[0] = 2;
      continue;
    }
    if (!strcmp(a, "--no-delta")) {
      o.no_delta = true;
      continue;
    }
    if (!strcmp(a, "--no-auto-converge")) {
      o.no_auto_converge = true;
      continue;
    }
    if (!v) return usage();
    i++;
    if (!strcmp(a, "--size")) o.mem = strtoull(v, NULL, 0) << 20;
    else if (!strcmp(a, "--mode")) ok = (o.nmodes = parse_modes(v, o.modes)) > 0;
    else if (!strcmp(a, "--channels")) ok = (o.nch_n = parse_list(v, o.nch)) > 0;
    else if (!strcmp(a, "--busy")) ok = (o.nrates = parse_list(v, o.rates)) > 0;
    else if (!strcmp(a, "--wss")) o.wss_mib = (unsigned)strtoul(v, NULL, 0);
    else if (!strcmp(a, "--link")) o.link_mbit = (unsigned)strtoul(v, NULL, 0);
    else if (!strcmp(a, "--downtime")) o.downtime_ms = (unsigned)strtoul(v, NULL, 0);
    else if (!strcmp(a, "--repeat")) o.repeat = (unsigned)strtoul(v, NULL, 0);
    else ok = false;
    if (!ok) return usage();
  }
  for (unsigned i = 0; i < o.nch_n; i++)
    if (o.nch[i] < 1 || o.nch[i] > MIG_MAX_CHANNELS) return usage();
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
  printf("Live migration in one process, %llu MiB mixed image (40%% zero, 45%% /usr/lib, 15%% random), hpvmk idle or\n"
         "memstress (rate MiB/s over a %u MiB working set), channels over socketpairs, encrypted (chan); downtime\n"
         "limit %u ms; link %s%u%s. cpu: seconds of each side's migration threads; load: 1-min load average after.\n\n",
         (unsigned long long)(o.mem >> 20), o.wss_mib, o.downtime_ms, o.link_mbit ? "token bucket " : "",
         o.link_mbit, o.link_mbit ? " Mbit/s" : " (loopback socketpair)");
  printf("mode  chan  rate total_ms  down_ms rounds  wire_MiB mem_MB/s     zero      raw      lz4   delta thr%% "
         "src_cpu dst_cpu  load\n");
  for (unsigned rep = 0; rep < o.repeat; rep++)
    for (unsigned r = 0; r < o.nrates; r++)
      for (unsigned k = 0; k < o.nmodes; k++)
        for (unsigned c = 0; c < o.nch_n; c++) row(ids, &o, &fs, o.nch[c], o.modes[k], o.rates[r]);
  if (fs.fd >= 0) close(fs.fd);
  for (size_t i = 0; i < fs.n; i++) free(fs.path[i]);
  free(fs.path);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : 1;
}
