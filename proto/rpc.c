/* rpc.c — framing of the local control streams (see rpc.h): the preface, length-prefixed
 * protobuf frames, blocking helpers over an fd and the incremental framer for event loops.
 *
 * The order of checks is what keeps a hostile peer harmless: a frame's length is compared
 * with the limit before any allocation, the blocking reader then reads exactly that many
 * bytes into a buffer of that size, and the framer grows its buffer only as bytes arrive. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "rpc.h"

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void say(char *msg, size_t msglen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *msg, size_t msglen, const char *fmt, ...) {
  if (!msg || !msglen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, msglen, fmt, ap);
  va_end(ap);
}

/* ---- Preface and frames ----------------------------------------------------------------------- */

void wire_preface_make(uint8_t out[WIRE_PREFACE_LEN], const char *magic, uint8_t version) {
  memset(out, 0, WIRE_PREFACE_LEN);
  memcpy(out, magic, strnlen(magic, WIRE_PREFACE_LEN - 1));
  out[WIRE_PREFACE_LEN - 1] = version;
}

int wire_preface_check(const uint8_t in[WIRE_PREFACE_LEN], const char *magic, uint8_t version,
                       char *msg, size_t msglen) {
  uint8_t want[WIRE_PREFACE_LEN];
  wire_preface_make(want, magic, version);
  if (memcmp(in, want, WIRE_PREFACE_LEN - 1)) {
    say(msg, msglen, "the peer does not speak the %s protocol (wrong preface)", magic);
    return HPVM_ECORRUPT;
  }
  if (in[WIRE_PREFACE_LEN - 1] != version) {
    say(msg, msglen, "%s protocol version %u on the other side, %u here: run the same hpvm version on both",
        magic, in[WIRE_PREFACE_LEN - 1], version);
    return HPVM_ENOTSUP;
  }
  return 0;
}

int wire_frame_pack(const ProtobufCMessage *m, uint32_t max, uint8_t **buf, size_t *len) {
  size_t n = protobuf_c_message_get_packed_size(m);
  if (n > max) return HPVM_ERANGE;
  uint8_t *b = malloc(WIRE_FRAME_HEADER_LEN + n + 1);
  if (!b) return HPVM_ENOMEM;
  put_u32(b, (uint32_t)n);
  protobuf_c_message_pack(m, b + WIRE_FRAME_HEADER_LEN);
  *buf = b;
  *len = WIRE_FRAME_HEADER_LEN + n;
  return 0;
}

/* ---- Blocking helpers --------------------------------------------------------------------------- */

int wire_write_all(int fd, const void *buf, size_t len) {
  const uint8_t *p = buf;
  struct stat st;
  bool sock = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
  while (len) {
    ssize_t r = sock ? send(fd, p, len, MSG_NOSIGNAL) : write(fd, p, len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return HPVM_EIO;
    p += r;
    len -= (size_t)r;
  }
  return 0;
}

/* Read exactly len bytes: 0, 1 when the peer closed before the first byte, HPVM_ETRUNC when
 * it closed in the middle, HPVM_EIO. */
static int read_full(int fd, void *buf, size_t len) {
  uint8_t *p = buf;
  size_t got = 0;
  while (got < len) {
    ssize_t r = read(fd, p + got, len - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno == ECONNRESET && got == 0 ? 1 : HPVM_EIO;
    if (r == 0) return got ? HPVM_ETRUNC : 1;
    got += (size_t)r;
  }
  return 0;
}

int wire_send_preface(int fd, const char *magic, uint8_t version) {
  uint8_t p[WIRE_PREFACE_LEN];
  wire_preface_make(p, magic, version);
  return wire_write_all(fd, p, sizeof p);
}

int wire_recv_preface(int fd, const char *magic, uint8_t version, char *msg, size_t msglen) {
  uint8_t p[WIRE_PREFACE_LEN];
  int rc = read_full(fd, p, sizeof p);
  if (rc) {
    say(msg, msglen, "the %s peer closed the connection before it said anything", magic);
    return rc == 1 ? HPVM_ETRUNC : rc;
  }
  return wire_preface_check(p, magic, version, msg, msglen);
}

int wire_send_msg(int fd, const ProtobufCMessage *m, uint32_t max) {
  uint8_t *b;
  size_t n;
  int rc = wire_frame_pack(m, max, &b, &n);
  if (rc) return rc;
  rc = wire_write_all(fd, b, n);
  free(b);
  return rc;
}

int wire_recv_msg(int fd, const ProtobufCMessageDescriptor *d, uint32_t max, ProtobufCMessage **out,
                  char *msg, size_t msglen) {
  uint8_t h[WIRE_FRAME_HEADER_LEN];
  int rc = read_full(fd, h, sizeof h);
  if (rc == 1) return 1;
  if (rc) {
    say(msg, msglen, "the peer closed the connection inside a %s frame header", d->short_name);
    return rc;
  }
  uint32_t n = get_u32(h);
  if (n > max) {
    say(msg, msglen, "a %s frame of %u bytes is over the limit of %u", d->short_name, n, max);
    return HPVM_ERANGE;
  }
  uint8_t *b = malloc(n ? n : 1);
  if (!b) return HPVM_ENOMEM;
  rc = read_full(fd, b, n);
  if (rc) {
    free(b);
    say(msg, msglen, "the peer closed the connection inside a %s frame of %u bytes", d->short_name, n);
    return rc == 1 ? HPVM_ETRUNC : rc;
  }
  *out = protobuf_c_message_unpack(d, NULL, n, b);
  free(b);
  if (!*out) {
    say(msg, msglen, "a frame of %u bytes does not parse as %s", n, d->short_name);
    return HPVM_ECORRUPT;
  }
  return 0;
}

/* ---- Incremental framer --------------------------------------------------------------------- */

void wire_framer_init(wire_framer *f, const char *magic, uint8_t version, uint32_t max) {
  memset(f, 0, sizeof *f);
  snprintf(f->magic, sizeof f->magic, "%s", magic);
  f->version = version;
  f->max = max;
}

void wire_framer_free(wire_framer *f) {
  free(f->buf);
  f->buf = NULL;
  f->off = f->len = f->cap = 0;
}

int wire_framer_feed(wire_framer *f, const void *data, size_t len) {
  if (f->err) return f->err;
  if (f->off) {                          /* drop what earlier frames consumed */
    memmove(f->buf, f->buf + f->off, f->len - f->off);
    f->len -= f->off;
    f->off = 0;
  }
  if (f->len + len > f->cap) {
    size_t cap = f->cap ? f->cap : 4096;
    while (cap < f->len + len) cap *= 2;
    uint8_t *b = realloc(f->buf, cap);
    if (!b) return f->err = HPVM_ENOMEM;
    f->buf = b;
    f->cap = cap;
  }
  memcpy(f->buf + f->len, data, len);
  f->len += len;
  return 0;
}

int wire_framer_next(wire_framer *f, const uint8_t **payload, uint32_t *len) {
  if (f->err) return f->err;
  size_t avail = f->len - f->off;
  if (!f->preface_done) {
    if (avail < WIRE_PREFACE_LEN) return 0;
    int rc = wire_preface_check(f->buf + f->off, f->magic, f->version, f->msg, sizeof f->msg);
    if (rc) return f->err = rc;
    f->off += WIRE_PREFACE_LEN;
    f->preface_done = true;
    avail -= WIRE_PREFACE_LEN;
  }
  if (avail < WIRE_FRAME_HEADER_LEN) return 0;
  uint32_t n = get_u32(f->buf + f->off);
  if (n > f->max) {
    snprintf(f->msg, sizeof f->msg, "a frame of %u bytes is over the limit of %u", n, f->max);
    return f->err = HPVM_ERANGE;
  }
  if (avail - WIRE_FRAME_HEADER_LEN < n) return 0;
  *payload = f->buf + f->off + WIRE_FRAME_HEADER_LEN;
  *len = n;
  f->off += WIRE_FRAME_HEADER_LEN + n;
  return 1;
}

int wire_unix_addr(const char *dir, const char *file, struct sockaddr_un *a, int *dirfd) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  *dirfd = -1;
  if ((size_t)snprintf(a->sun_path, sizeof a->sun_path, "%s/%s", dir, file) < sizeof a->sun_path) return 0;
  *dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*dirfd < 0) return -1;
  snprintf(a->sun_path, sizeof a->sun_path, "/proc/self/fd/%d/%s", *dirfd, file);
  return 0;
}
