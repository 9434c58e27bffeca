/* chan.h — the authenticated, encrypted host-to-host channel (library hpvm_chan).
 *
 * Every hpvm host has a long-term identity: an Ed25519 signing key pair and an X25519 key
 * agreement key pair, created at its first start in its state directory (mode 0600) and
 * published in shared storage (DIR/hosts/<host>/key). Hosts trust each other by those public
 * keys: a connection from or to a host whose keys the caller's trust function does not
 * confirm is refused before anything else is said.
 *
 * A connection (a TCP socket, or any stream fd) starts with a mutual handshake built from
 * libsodium primitives: each side sends an ephemeral X25519 key, the session keys are
 * derived from ephemeral-ephemeral, ephemeral-static (both ways) agreement and the cluster
 * secret, and each side signs the whole transcript with its Ed25519 key, so both are proven,
 * a man in the middle or a host without the cluster secret fails, and a replayed handshake
 * yields keys nobody holds. Then frames, each sent as one or more records (length, type, AEAD
 * ciphertext of at most 64 KiB: AES-256-GCM when both CPUs have it, XChaCha20-Poly1305
 * otherwise) with per-direction keys and the record's sequence number as nonce, so a
 * modified, replayed, reordered or dropped record fails authentication, and an end of stream
 * without the peer's authenticated close is reported as truncation.
 * docs/wire/chan.md is the byte-level description.
 *
 * A frame carries one protobuf message and, optionally, bulk bytes after it (page data),
 * sealed together. The API is blocking over an fd with timeouts (migration runs it on its
 * own threads; hpvmd runs handshakes on worker threads). A chan is used by one thread at a
 * time per direction: one may send while another receives. Functions return 0 or a
 * negative HPVM_E* code and fill msg with one line naming the problem and the peer. Nothing
 * here is global. */
#ifndef HPVM_CHAN_H
#define HPVM_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "hpvm_error.h"

#define CHAN_KEY_FILE "host.key"          /* in the state directory, mode 0600 */
#define CHAN_NAME_MAX 255
#define CHAN_MAX_FRAME (64u << 20)        /* largest frame (message + bulk) accepted */

typedef struct chan_identity {
  char host[CHAN_NAME_MAX + 1];
  uint8_t sign_pk[32], sign_sk[64];       /* Ed25519 */
  uint8_t kx_pk[32], kx_sk[32];           /* X25519 */
} chan_identity;

/* Load STATE_DIR/host.key, or create it (0600, atomically) when there is none. A key file
 * that is damaged or readable by others is refused (HPVM_ECORRUPT / HPVM_EPERM) and left
 * as it is. */
int chan_identity_load(const char *state_dir, const char *host, chan_identity *id, char *msg,
                       size_t msglen);

/* Whether host `peer` with these public keys may talk to us: 0 to accept, a negative code
 * and one line in why to refuse (hpvmd looks the keys up in shared storage). */
typedef int (*chan_trust_fn)(void *ctx, const char *peer, const uint8_t sign_pk[32],
                             const uint8_t kx_pk[32], char *why, size_t whylen);

typedef struct chan_config {
  const chan_identity *me;
  const uint8_t *cluster_secret;          /* 32 bytes both sides must know; NULL: none */
  chan_trust_fn trust;
  void *trust_ctx;
  int timeout_ms;                         /* each handshake step; 0: 10000 */
  bool force_xchacha;                     /* tests and benchmarks: never AES-GCM */
} chan_config;

typedef struct chan chan;

/* The connecting side. expect_peer: the host we mean to reach (refused if the peer proves
 * another identity); NULL accepts any trusted host. fd belongs to the chan from now on
 * (closed by chan_close, also on failure). */
int chan_client(int fd, const chan_config *c, const char *expect_peer, chan **out, char *msg,
                size_t msglen);
/* The accepting side. */
int chan_server(int fd, const chan_config *c, chan **out, char *msg, size_t msglen);

const char *chan_peer(const chan *ch);    /* the authenticated peer's host name */
const char *chan_cipher(const chan *ch);  /* "aes256gcm" or "xchacha20poly1305" */
int chan_fd(const chan *ch);

/* Send one frame: m (may be NULL) then bulk (may be NULL/0). HPVM_EIO when the peer is
 * gone; HPVM_ETIMEDOUT when it stops reading for timeout_ms (0: no limit); HPVM_ERANGE when
 * message + bulk exceed CHAN_MAX_FRAME. */
int chan_send(chan *ch, const ProtobufCMessage *m, const void *bulk, size_t bulklen, int timeout_ms,
              char *msg, size_t msglen);
/* Send one last frame after this side's receiving direction failed (a record that failed
 * authentication, a truncated stream), to say so: the sending direction is intact, so the peer
 * can authenticate it. Fails only when the sending direction itself failed or was closed. */
int chan_send_last(chan *ch, const ProtobufCMessage *m, int timeout_ms, char *msg, size_t msglen);
/* Receive one frame and unpack its message as d: 0 with *out set (free it with
 * protobuf_c_message_free_unpacked) and *bulk, *bulklen pointing at the bulk bytes (valid until
 * the next chan_recv on this chan); 1 after the peer's authenticated close; HPVM_ECORRUPT for
 * a frame that fails authentication (tampered, replayed, reordered, dropped) or does not
 * parse, HPVM_ETRUNC for a stream that ends without the close, HPVM_ERANGE for a length over
 * the limits (checked before anything is allocated), HPVM_ETIMEDOUT (nothing arrived for
 * timeout_ms; 0: no limit), HPVM_EIO.
 * Any failure ends the channel: every later call returns it (but chan_send_last and
 * chan_recv_last, which carry one last word in the direction still intact). */
int chan_recv(chan *ch, const ProtobufCMessageDescriptor *d, ProtobufCMessage **out,
              const uint8_t **bulk, size_t *bulklen, int timeout_ms, char *msg, size_t msglen);
/* Receive one last frame after this side's sending direction failed (the peer closed on us):
 * it may have said why first (chan_send_last). As chan_recv, without bulk; 1 after the peer's
 * close; fails at once when the receiving direction itself failed. */
int chan_recv_last(chan *ch, const ProtobufCMessageDescriptor *d, ProtobufCMessage **out, int timeout_ms, char *msg,
                   size_t msglen);
/* Send the authenticated close (best effort), then close the fd and free. NULL-safe. */
void chan_close(chan *ch);
/* Close the fd without the authenticated close (the peer sees truncation) and free. */
void chan_abort(chan *ch);

/* Hand an established channel to another process (hpvmd accepts, hpvmapp --incoming
 * continues): the keys and sequence numbers as bytes (secret: send only over a local socket
 * to a process of the same user), and the fd separately. chan_export frees ch but leaves its
 * fd open, also when it fails (a channel that already failed has nothing to hand over: its
 * error is returned). chan_import takes fd only when it succeeds. CHAN_STATE_LEN holds the
 * longest peer name (CHAN_NAME_MAX). */
#define CHAN_STATE_LEN 512
int chan_export(chan *ch, uint8_t state[CHAN_STATE_LEN]);
int chan_import(int fd, const uint8_t state[CHAN_STATE_LEN], chan **out, char *msg, size_t msglen);

#endif
