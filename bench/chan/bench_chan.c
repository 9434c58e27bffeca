/* bench_chan.c — throughput of the host-to-host channel (proto/chan.h), printed as tables
 * (never a pass/fail on time):
 *   1. chan_send -> chan_recv over a socketpair, one sender thread and one receiver thread,
 *      for each cipher and frame size, against the plain socketpair (write/read, no crypto)
 *      and the AEAD alone on one core (seal, open in memory, no socket: in a channel the
 *      sender seals while the receiver opens, so the slower of the two bounds it);
 *   2. handshakes per second over a socketpair (both sides in this process).
 * MB is 10^6 bytes of bulk (the payload migration moves), frames carry a small message too;
 * CPU s/GB is the CPU time of both threads per 10^9 bytes, the figure that a busy host
 * disturbs least. 1 GB per row (32 MB with --quick).
 *   bench_chan [--quick]       --quick: short runs, for ctest's smoke run */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "chan.h"
#include "vmstate.pb-c.h"

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *msg) {
  fprintf(stderr, "bench_chan: %s: %s\n", what, msg);
  exit(1);
}

static int trust_all(void *ctx, const char *peer, const uint8_t sign_pk[32], const uint8_t kx_pk[32], char *why,
                     size_t whylen) {
  (void)ctx, (void)peer, (void)sign_pk, (void)kx_pk, (void)why, (void)whylen;
  return 0;
}

typedef struct ends {
  chan_identity a, b;
  uint8_t secret[32];
} ends;

typedef struct server_job {
  int fd;
  chan_config cfg;
  chan *ch;
  char msg[512];
} server_job;

static void *server_main(void *arg) {
  server_job *j = arg;
  if (chan_server(j->fd, &j->cfg, &j->ch, j->msg, sizeof j->msg)) j->ch = NULL;
  return NULL;
}

static chan_config config(const chan_identity *me, const ends *e, bool xchacha) {
  return (chan_config){.me = me, .cluster_secret = e->secret, .trust = trust_all, .timeout_ms = 10000,
                       .force_xchacha = xchacha};
}

/* A connected pair over a socketpair: *c the client, *s the server. */
static void connect_pair(const ends *e, bool xchacha, chan **c, chan **s) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) die("socketpair", "failed");
  server_job j = {.fd = sv[1], .cfg = config(&e->b, e, xchacha)};
  pthread_t t;
  pthread_create(&t, NULL, server_main, &j);
  chan_config cc = config(&e->a, e, xchacha);
  char msg[512];
  if (chan_client(sv[0], &cc, "b", c, msg, sizeof msg)) die("handshake", msg);
  pthread_join(t, NULL);
  if (!j.ch) die("handshake (server)", j.msg);
  *s = j.ch;
}

typedef struct sender {
  chan *ch;
  size_t frame, frames;
  const uint8_t *bulk;
} sender;

static void *sender_main(void *arg) {
  sender *sd = arg;
  Hpvm__VmInfo m = HPVM__VM_INFO__INIT;
  m.name = "pages";
  char msg[512];
  for (size_t i = 0; i < sd->frames; i++) {
    m.memory_bytes = i;
    if (chan_send(sd->ch, &m.base, sd->bulk, sd->frame, 10000, msg, sizeof msg)) die("chan_send", msg);
  }
  return NULL;
}

/* MB/s of bulk through chan_send/chan_recv; *cpu_per_gb: CPU seconds of both threads per GB. */
static double chan_rate(const ends *e, bool xchacha, size_t frame, size_t total, const char **cipher,
                        double *cpu_per_gb) {
  chan *c, *s;
  connect_pair(e, xchacha, &c, &s);
  *cipher = chan_cipher(c);
  uint8_t *bulk = malloc(frame);
  randombytes_buf(bulk, frame);
  sender sd = {.ch = c, .frame = frame, .frames = total / frame ? total / frame : 1, .bulk = bulk};
  double t0 = now_s(), c0 = cpu_s();
  pthread_t t;
  pthread_create(&t, NULL, sender_main, &sd);
  char msg[512];
  for (size_t i = 0; i < sd.frames; i++) {
    ProtobufCMessage *out;
    const uint8_t *b;
    size_t n;
    if (chan_recv(s, &hpvm__vm_info__descriptor, &out, &b, &n, 10000, msg, sizeof msg)) die("chan_recv", msg);
    bool ok = n == frame && ((Hpvm__VmInfo *)out)->memory_bytes == i && b[0] == bulk[0] && b[n - 1] == bulk[n - 1];
    protobuf_c_message_free_unpacked(out, NULL);
    if (!ok) die("chan_recv", "a frame came back different");
  }
  pthread_join(t, NULL);
  double dt = now_s() - t0, bytes = (double)sd.frames * (double)frame;
  *cpu_per_gb = (cpu_s() - c0) / (bytes / 1e9);
  chan_close(c);
  chan_close(s);
  free(bulk);
  return bytes / dt / 1e6;
}

typedef struct plain_job {
  int fd;
  size_t frame, frames;
} plain_job;

static void *plain_writer(void *arg) {
  plain_job *j = arg;
  uint8_t *buf = calloc(1, j->frame);
  for (size_t i = 0; i < j->frames; i++)
    for (size_t off = 0; off < j->frame;) {
      ssize_t r = write(j->fd, buf + off, j->frame - off);
      if (r <= 0) die("write", "failed");
      off += (size_t)r;
    }
  free(buf);
  return NULL;
}

/* MB/s of the same bytes through the bare socketpair (no framing, no crypto). */
static double plain_rate(size_t frame, size_t total, double *cpu_per_gb) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) die("socketpair", "failed");
  plain_job j = {.fd = sv[0], .frame = frame, .frames = total / frame ? total / frame : 1};
  uint8_t *buf = malloc(frame);
  double t0 = now_s(), c0 = cpu_s();
  pthread_t t;
  pthread_create(&t, NULL, plain_writer, &j);
  for (size_t i = 0; i < j.frames; i++)
    for (size_t off = 0; off < frame;) {
      ssize_t r = read(sv[1], buf + off, frame - off);
      if (r <= 0) die("read", "failed");
      off += (size_t)r;
    }
  pthread_join(t, NULL);
  double dt = now_s() - t0, bytes = (double)j.frames * (double)frame;
  *cpu_per_gb = (cpu_s() - c0) / (bytes / 1e9);
  close(sv[0]);
  close(sv[1]);
  free(buf);
  return bytes / dt / 1e6;
}

/* MB/s of seal and of open in memory on one core (*open_mbs), with the calls chan.c makes:
 * in a channel the sender thread seals while the receiver thread opens. */
static double aead_rate(bool aes, size_t frame, size_t total, double *open_mbs) {
  uint8_t key[32], nonce[24] = {0}, ad[8] = {0};
  randombytes_buf(key, sizeof key);
  crypto_aead_aes256gcm_state *st = sodium_malloc(sizeof *st);
  if (aes) crypto_aead_aes256gcm_beforenm(st, key);
  size_t frames = total / frame ? total / frame : 1;
  uint8_t *buf = malloc(frame), *tags = malloc(16 * frames);
  randombytes_buf(buf, frame);
  double t0 = now_s();
  for (size_t i = 0; i < frames; i++) {
    nonce[0] = (uint8_t)i, nonce[1] = (uint8_t)(i >> 8);
    uint8_t *tag = tags + 16 * i;
    if (aes) crypto_aead_aes256gcm_encrypt_detached_afternm(buf, tag, NULL, buf, frame, ad, 8, NULL, nonce, st);
    else crypto_aead_xchacha20poly1305_ietf_encrypt_detached(buf, tag, NULL, buf, frame, ad, 8, NULL, nonce, key);
  }
  double t1 = now_s();
  for (size_t i = frames; i-- > 0;) {   /* undo in reverse: each open sees what its seal made */
    nonce[0] = (uint8_t)i, nonce[1] = (uint8_t)(i >> 8);
    const uint8_t *tag = tags + 16 * i;
    int bad = aes ? crypto_aead_aes256gcm_decrypt_detached_afternm(buf, NULL, buf, frame, tag, ad, 8, nonce, st)
                  : crypto_aead_xchacha20poly1305_ietf_decrypt_detached(buf, NULL, buf, frame, tag, ad, 8, nonce, key);
    if (bad) die("aead", "a sealed buffer did not open");
  }
  double t2 = now_s();
  free(buf);
  free(tags);
  sodium_free(st);
  *open_mbs = (double)frames * (double)frame / (t2 - t1) / 1e6;
  return (double)frames * (double)frame / (t1 - t0) / 1e6;
}

static void throughput_table(const ends *e, bool quick) {
  static const size_t frames[] = {64 << 10, 1 << 20, 4 << 20};
  size_t total = quick ? (32u << 20) : (1u << 30);
  printf("Channel throughput: %zu MB of bulk per row, sender and receiver on their own threads\n",
         total / 1000000);
  printf("%-20s %10s %10s %10s %10s %10s\n", "cipher", "frame", "chan MB/s", "CPU s/GB", "seal MB/s",
         "open MB/s");
  for (int k = 0; k < 2; k++) {
    bool xchacha = k == 1;
    if (!xchacha && !crypto_aead_aes256gcm_is_available()) {
      printf("%-20s %10s %10s %10s %10s %10s\n", "aes256gcm", "-", "no AES-NI", "-", "-", "-");
      continue;
    }
    for (size_t f = 0; f < sizeof frames / sizeof frames[0]; f++) {
      if (quick && f != 1) continue;
      const char *cipher;
      double cpu;
      double r = chan_rate(e, xchacha, frames[f], total, &cipher, &cpu);
      double open;
      double seal = aead_rate(!xchacha, frames[f], total / 4, &open);
      printf("%-20s %6zu KiB %10.0f %10.2f %10.0f %10.0f\n", cipher, frames[f] >> 10, r, cpu, seal, open);
      fflush(stdout);
    }
  }
  double cpu, r = plain_rate(1 << 20, total, &cpu);
  printf("%-20s %6d KiB %10.0f %10.2f %10s %10s\n", "none (socketpair)", 1024, r, cpu, "-", "-");
}

static void handshake_table(const ends *e, bool quick) {
  int n = quick ? 20 : 500;
  double t0 = now_s();
  for (int i = 0; i < n; i++) {
    chan *c, *s;
    connect_pair(e, false, &c, &s);
    chan_close(c);
    chan_close(s);
  }
  double dt = now_s() - t0;
  printf("\nHandshakes over a socketpair (both sides in this process): %.0f per second, %.2f ms each\n",
         n / dt, dt * 1000 / n);
}

int main(int argc, char **argv) {
  bool quick = argc > 1 && !strcmp(argv[1], "--quick");
  if (argc > 1 && !quick) {
    fprintf(stderr, "usage: bench_chan [--quick]\n");
    return 2;
  }
  if (sodium_init() < 0) die("sodium_init", "failed");
  char dir[] = "/tmp/bench_chan.XXXXXX";
  if (!mkdtemp(dir)) die("mkdtemp", "failed");
  ends e;
  char msg[512], sub[64];
  snprintf(sub, sizeof sub, "%s/a", dir);
  mkdir(sub, 0700);
  if (chan_identity_load(sub, "a", &e.a, msg, sizeof msg)) die("identity", msg);
  snprintf(sub, sizeof sub, "%s/b", dir);
  mkdir(sub, 0700);
  if (chan_identity_load(sub, "b", &e.b, msg, sizeof msg)) die("identity", msg);
  randombytes_buf(e.secret, sizeof e.secret);
  throughput_table(&e, quick);
  handshake_table(&e, quick);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : 1;
}
