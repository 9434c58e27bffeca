/* rpc.h — message framing for hpvm's local streams: the control socket of hpvmd (the hpvm
 * CLI's requests) and the socket between hpvmd and each hpvmapp (proto/control.proto).
 *
 * A stream opens with an 8-byte preface from each side — a 7-character magic naming the
 * protocol and one version byte — then carries frames: length u32 little-endian, then that
 * many bytes of one protobuf message. The receiver checks the length against its limit
 * before it allocates or reads anything, so a hostile or broken peer costs at most the bytes
 * it really sent. No checksum: these are local stream sockets, which neither lose nor flip
 * bytes; host-to-host channels use the authenticated channel instead.
 *
 * Two ways to use it: blocking helpers over an fd (the CLI's client, hpvmapp's control
 * thread, tests), and wire_framer, an incremental decoder for event loops that hand over
 * bytes as they arrive (hpvmd on libuv). Functions return 0 or a negative HPVM_E* code and,
 * where they take msg, fill it with one line saying what went wrong. Nothing here is global. */
#ifndef HPVM_RPC_H
#define HPVM_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "hpvm_error.h"

#define WIRE_PREFACE_LEN 8
#define WIRE_FRAME_HEADER_LEN 4
#define WIRE_MAGIC_CONTROL "HPVMCTL"  /* hpvm CLI <-> hpvmd */
#define WIRE_MAGIC_APP "HPVMAPP"      /* hpvmd <-> hpvmapp */
#define WIRE_RPC_VERSION 1
#define WIRE_RPC_MAX_FRAME (4u << 20) /* default limit on one message, in bytes */

/* The preface: magic (exactly 7 characters) and version. */
void wire_preface_make(uint8_t out[WIRE_PREFACE_LEN], const char *magic, uint8_t version);
/* HPVM_ECORRUPT "not an hpvm ... stream" when the magic differs, HPVM_ENOTSUP naming both
 * versions when the version differs. */
int wire_preface_check(const uint8_t in[WIRE_PREFACE_LEN], const char *magic, uint8_t version,
                       char *msg, size_t msglen);

/* One frame (header + packed message) in a malloc'd buffer for the caller to free: for event
 * loops that write asynchronously. HPVM_ERANGE when the message is longer than max. */
int wire_frame_pack(const ProtobufCMessage *m, uint32_t max, uint8_t **buf, size_t *len);

/* ---- Blocking, over an fd ------------------------------------------------------------------- */

/* Write all of buf (EINTR retried; EPIPE is HPVM_EIO, never a signal: MSG_NOSIGNAL on
 * sockets, and callers of pipes ignore SIGPIPE). */
int wire_write_all(int fd, const void *buf, size_t len);
int wire_send_preface(int fd, const char *magic, uint8_t version);
/* Read the peer's preface and check it; HPVM_ETRUNC when the peer closes first. */
int wire_recv_preface(int fd, const char *magic, uint8_t version, char *msg, size_t msglen);
int wire_send_msg(int fd, const ProtobufCMessage *m, uint32_t max);
/* Read one frame and unpack it as d. 0 with *out set (free with
 * protobuf_c_message_free_unpacked), 1 when the peer closed cleanly between frames,
 * HPVM_ETRUNC (closed inside a frame), HPVM_ERANGE (length over max), HPVM_ECORRUPT (does
 * not parse as d), HPVM_EIO. */
int wire_recv_msg(int fd, const ProtobufCMessageDescriptor *d, uint32_t max, ProtobufCMessage **out,
                  char *msg, size_t msglen);

/* ---- Incremental decoding (event loops) ----------------------------------------------------- */

typedef struct wire_framer {
  char magic[8];          /* the preface expected from the peer */
  uint8_t version;
  uint32_t max;           /* limit on one frame's payload */
  bool preface_done;
  uint8_t *buf;           /* bytes received and not yet consumed: buf[off, len) */
  size_t off, len, cap;
  int err;                /* first failure; sticky */
  char msg[160];
} wire_framer;

void wire_framer_init(wire_framer *f, const char *magic, uint8_t version, uint32_t max);
void wire_framer_free(wire_framer *f);
/* Append received bytes. HPVM_ENOMEM, or the sticky error. */
int wire_framer_feed(wire_framer *f, const void *data, size_t len);
/* The next complete frame: 1 with *payload and *len set (valid until the next feed or next
 * call), 0 when more bytes are needed, or a negative code (bad preface, length over max;
 * f->msg says what). */
int wire_framer_next(wire_framer *f, const uint8_t **payload, uint32_t *len);

/* The address of the Unix socket DIR/file. A DIR too long for sun_path is reached through
 * /proc/self/fd of a directory fd opened here: *dirfd (else -1), for the caller to close once
 * bound or connected. 0, or -1 with errno set. */
struct sockaddr_un;
int wire_unix_addr(const char *dir, const char *file, struct sockaddr_un *a, int *dirfd);

#endif
