/* chan.c — the authenticated, encrypted host-to-host channel (see chan.h). The bytes are
 * docs/wire/chan.md; why it is built this way is docs/design/channels.md.
 *
 * The handshake, client C and server S (1.5 round trips; every step under timeout_ms):
 *
 *      C                                                         S
 *      |  ClientHello: preface, caps, name, sign_pk, kx_pk, e_C, nonce
 *      |-------------------------------------------------------->|  parse; trust(C)?
 *      |                                                         |    no: Refusal, close
 *      |                   ServerHello (cipher chosen, e_S, ...) |  th = H(CH, SH)
 *      |       + ServerConfirm: sig_S(th), mac_S(th) under k_S   |  keys from th, DH x3,
 *      |<--------------------------------------------------------|    cluster secret
 *      |  expect_peer? trust(S)? sig_S? mac_S?                   |
 *      |  ClientConfirm: status, sig_C(th), mac_C(th)            |
 *      |-------------------------------------------------------->|  status? sig_C? mac_C?
 *      |======== frames C->S under k_c2s, S->C under k_s2c ======|
 *
 * A confirmation carries a status so that the honest misconfigurations are reported on both
 * sides: the client says "you are not trusted here", "you are not the host I meant" or
 * "cluster secret mismatch" (the latter signed, so the server can check it too). The server
 * goes first with its proof, so the last word (the client's confirmation) is the one whose
 * verdict only the server learns; it can only differ from the client's view when someone
 * tampered with the handshake, and then the client's first frame meets a closed socket.
 *
 * After the handshake a frame (one message and its bulk) travels as records of at most 64 KiB,
 * each sealed on its own with the next sequence number as nonce: the sender seals the bulk
 * straight from the caller's buffer a record at a time (a 1 MiB send buffer per chan, the
 * bulk copied only where it shares the first record with the message),
 * the receiver decrypts each record in place into one buffer, so the bulk is delivered as one
 * contiguous span. A frame is delivered only when all its records are authentic.
 *
 * Each direction is a small state machine of its own (OPEN -> CLOSED on the peer's
 * authenticated close, any state -> FAILED on the first error, which is sticky and seen by
 * both directions). The fd is non-blocking; every wait is a poll() with the caller's timeout,
 * so a silent peer costs a timeout, never a hang. Reads take exactly the bytes a frame needs
 * (no read-ahead past it), which is what lets chan_export hand the fd to another process
 * between two frames. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "chan.h"

/* ---- Wire constants (docs/wire/chan.md) ------------------------------------------------------ */

#define CHAN_MAGIC "HPVMCHN"
#define CHAN_VERSION 1
#define PREFACE_LEN 8
#define OPENING_LEN 10                    /* preface, type, caps/cipher/reason */
#define HELLO_FIXED 140                   /* a hello without its host name */
#define CONFIRM_LEN 98
#define REFUSAL_LEN 10
#define REC_HDR 8                         /* a record's header: ciphertext length, type */
#define TAG_LEN 16
#define MSGHDR_LEN 8                      /* a message's head: message length, bulk length */
#define REC_SEND (64u << 10)              /* the records this side cuts (plaintext bytes) */
#define REC_MAX (1u << 20)                /* the largest record accepted */
#define TX_BATCH (16 * (REC_HDR + REC_SEND + TAG_LEN)) /* sealed records written at once */

enum hs_type { HS_INVALID = 0, HS_CLIENT_HELLO = 1, HS_SERVER_HELLO = 2, HS_CONFIRM = 3, HS_REFUSAL = 4 };
enum cap_bits { CAP_AES256GCM = 1, CAP_XCHACHA = 2 };
enum cipher_id { CIPHER_INVALID = 0, CIPHER_AES256GCM = 1, CIPHER_XCHACHA = 2 };
enum confirm_status { CONFIRM_OK = 0, CONFIRM_UNTRUSTED = 1, CONFIRM_NOT_EXPECTED = 2, CONFIRM_SECRET_MISMATCH = 3 };
enum refusal_reason { REFUSE_UNTRUSTED = 1, REFUSE_MALFORMED = 2, REFUSE_VERSION = 3 };
enum record_type { REC_INVALID = 0, REC_MSG = 1, REC_CLOSE = 2, REC_MORE = 3 };
enum kdf_id { KDF_C2S = 1, KDF_S2C = 2, KDF_CONFIRM_CLIENT = 3, KDF_CONFIRM_SERVER = 4 };

static const char LABEL_TRANSCRIPT[] = "HPVMCHN1 transcript";
static const char LABEL_KEYS[] = "HPVMCHN1 keys";
static const char LABEL_CONFIRM_CLIENT[] = "HPVMCHN1 client confirm";
static const char LABEL_CONFIRM_SERVER[] = "HPVMCHN1 server confirm";
static const char KDF_CONTEXT[crypto_kdf_CONTEXTBYTES + 1] = "HPVMCHN1";

/* The host key file STATE_DIR/host.key. */
#define KEYFILE_MAGIC "HPVMHKEY"
#define KEYFILE_VERSION 1
#define KEYFILE_LEN 208
#define KEYFILE_SUM_AT 176

/* The exported state (chan_export). */
#define STATE_MAGIC "HPVMCHS"
#define STATE_VERSION 1
#define STATE_NAME_AT 96

/* ---- The channel ---------------------------------------------------------------------------- */

typedef enum chan_dir_state {
  DIR_INVALID = 0,
  DIR_OPEN,      /* records flow */
  DIR_CLOSED,    /* rx: the peer's authenticated close arrived; nothing more will */
  DIR_FAILED,    /* the first error, kept: every later call returns it */
} chan_dir_state;

typedef struct chan_dir {
  crypto_aead_aes256gcm_state aes;       /* the key expanded, when the cipher is AES-256-GCM */
  uint8_t key[32];
  uint64_t seq;                          /* the next record's sequence number (its nonce) */
  uint8_t *buf;                          /* tx: sealed records to write; rx: one message */
  size_t cap;
  uint8_t *stage;                        /* tx: a message's head (lengths, packed message) */
  size_t stage_cap;
  chan_dir_state state;
  atomic_int err;                        /* set once, after msg (release/acquire) */
  char msg[256];
} chan_dir;

struct chan {
  chan_dir tx, rx;
  int fd;
  bool sock;                             /* send(MSG_NOSIGNAL) rather than write */
  bool client;
  uint8_t cipher;
  char peer[CHAN_NAME_MAX + 1];
};

/* ---- Small helpers ---------------------------------------------------------------------------- */

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u64(uint8_t *p, uint64_t v) {
  put_u32(p, (uint32_t)v);
  put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get_u64(const uint8_t *p) { return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

static void say(char *msg, size_t msglen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *msg, size_t msglen, const char *fmt, ...) {
  if (!msg || !msglen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, msglen, fmt, ap);
  va_end(ap);
}

static int crypto_ready(char *msg, size_t msglen) {
  if (sodium_init() < 0) {
    say(msg, msglen, "libsodium failed to initialise (no entropy source?)");
    return HPVM_EIO;
  }
  return 0;
}

static bool aes_available(void) { return crypto_aead_aes256gcm_is_available() != 0; }

/* A host name as storage accepts it (sto_host_name_check): 1..255 of A-Z a-z 0-9 _ - . and
 * not starting with '-' or '.'. Names end up in messages and in paths of the shared storage,
 * so a peer's name is checked before anything uses it. */
static bool name_ok(const char *s, size_t n) {
  if (n == 0 || n > CHAN_NAME_MAX || s[0] == '-' || s[0] == '.') return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
          c == '.'))
      return false;
  }
  return true;
}

/* ---- I/O with timeouts ---------------------------------------------------------------------- */

/* How long a blocking step may wait: idle_ms without progress (0: forever) and, for the
 * handshake, an absolute deadline for the whole step (0: none). */
typedef struct io_limit {
  int idle_ms;
  int64_t deadline_ns;
} io_limit;

#define IO_EOF 1

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static io_limit limit_idle(int ms) { return (io_limit){.idle_ms = ms > 0 ? ms : 0, .deadline_ns = 0}; }
static io_limit limit_step(int ms) { return (io_limit){.idle_ms = 0, .deadline_ns = now_ns() + (int64_t)ms * 1000000}; }

static int io_wait(int fd, short events, const io_limit *lim) {
  for (;;) {
    int t = lim->idle_ms > 0 ? lim->idle_ms : -1;
    if (lim->deadline_ns) {
      int64_t left = (lim->deadline_ns - now_ns() + 999999) / 1000000;
      if (left <= 0) return HPVM_ETIMEDOUT;
      if (t < 0 || left < t) t = (int)left;
    }
    struct pollfd p = {.fd = fd, .events = events};
    int r = poll(&p, 1, t);
    if (r > 0) return 0;                 /* ready, or an error the next read/write reports */
    if (r == 0) return HPVM_ETIMEDOUT;
    if (errno != EINTR) return HPVM_EIO;
  }
}

/* Read exactly len bytes: 0; IO_EOF when the stream ends first (*got says after how many);
 * HPVM_ETIMEDOUT, HPVM_EIO. */
static int io_read(int fd, void *buf, size_t len, const io_limit *lim, size_t *got) {
  uint8_t *p = buf;
  *got = 0;
  while (*got < len) {
    ssize_t r = read(fd, p + *got, len - *got);
    if (r > 0) {
      *got += (size_t)r;
      continue;
    }
    if (r == 0) return IO_EOF;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      int rc = io_wait(fd, POLLIN, lim);
      if (rc) return rc;
      continue;
    }
    return errno == ECONNRESET ? IO_EOF : HPVM_EIO;
  }
  return 0;
}

/* Write all of buf (a peer that closed is HPVM_EIO, never SIGPIPE on a socket). */
static int io_write(int fd, bool sock, const void *buf, size_t len, const io_limit *lim) {
  const uint8_t *p = buf;
  while (len) {
    ssize_t r = sock ? send(fd, p, len, MSG_NOSIGNAL) : write(fd, p, len);
    if (r > 0) {
      p += r;
      len -= (size_t)r;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int rc = io_wait(fd, POLLOUT, lim);
      if (rc) return rc;
      continue;
    }
    return HPVM_EIO;
  }
  return 0;
}

static bool fd_is_socket(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

static int fd_nonblocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return HPVM_EINVAL;
  if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return HPVM_EIO;
  return 0;
}

/* "the host at 192.0.2.7:40512" for TCP peers, else "the peer": how to name a peer whose
 * hello has not arrived yet. */
static void peer_address(int fd, char *out, size_t outlen) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char ip[INET6_ADDRSTRLEN];
  snprintf(out, outlen, "the peer");
  if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) return;
  if (ss.ss_family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    if (inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip))
      snprintf(out, outlen, "the host at %s:%u", ip, ntohs(a->sin_port));
  } else if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    if (inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip))
      snprintf(out, outlen, "the host at [%s]:%u", ip, ntohs(a->sin6_port));
  }
}

/* ---- Host identity (STATE_DIR/host.key) ------------------------------------------------------ */

/*   0  8  magic "HPVMHKEY"       8  4  version (1)      12  4  reserved (0)
 *  16 32  Ed25519 public key    48 64  Ed25519 secret key (libsodium's: seed, public key)
 * 112 32  X25519 public key    144 32  X25519 secret key
 * 176 32  BLAKE2b-256 of bytes 0..175 */
static void keyfile_encode(const chan_identity *id, uint8_t out[KEYFILE_LEN]) {
  memset(out, 0, KEYFILE_LEN);
  memcpy(out, KEYFILE_MAGIC, 8);
  put_u32(out + 8, KEYFILE_VERSION);
  memcpy(out + 16, id->sign_pk, 32);
  memcpy(out + 48, id->sign_sk, 64);
  memcpy(out + 112, id->kx_pk, 32);
  memcpy(out + 144, id->kx_sk, 32);
  crypto_generichash(out + KEYFILE_SUM_AT, 32, out, KEYFILE_SUM_AT, NULL, 0);
}

static int keyfile_decode(const uint8_t *in, size_t len, const char *path, chan_identity *id, char *msg,
                          size_t msglen) {
  if (len != KEYFILE_LEN || memcmp(in, KEYFILE_MAGIC, 8)) {
    say(msg, msglen, "host key %s is damaged (%zu bytes, %s magic): restore it from a backup, or move it away "
        "and register the new key with the cluster (hpvmhost trust)", path, len,
        len >= 8 && !memcmp(in, KEYFILE_MAGIC, 8) ? "right" : "wrong");
    return HPVM_ECORRUPT;
  }
  uint8_t sum[32];
  crypto_generichash(sum, 32, in, KEYFILE_SUM_AT, NULL, 0);
  if (sodium_memcmp(sum, in + KEYFILE_SUM_AT, 32)) {
    say(msg, msglen, "host key %s is damaged (checksum mismatch): restore it from a backup, or move it away "
        "and register the new key with the cluster (hpvmhost trust)", path);
    return HPVM_ECORRUPT;
  }
  if (get_u32(in + 8) != KEYFILE_VERSION) {
    say(msg, msglen, "host key %s has format version %u; this hpvm reads version %u: use the hpvm that wrote it",
        path, get_u32(in + 8), KEYFILE_VERSION);
    return HPVM_ENOTSUP;
  }
  memcpy(id->sign_pk, in + 16, 32);
  memcpy(id->sign_sk, in + 48, 64);
  memcpy(id->kx_pk, in + 112, 32);
  memcpy(id->kx_sk, in + 144, 32);
  uint8_t sign_pk[32], kx_pk[32];
  crypto_sign_ed25519_sk_to_pk(sign_pk, id->sign_sk);
  int bad = crypto_scalarmult_base(kx_pk, id->kx_sk) != 0 || memcmp(sign_pk, id->sign_pk, 32) ||
            memcmp(kx_pk, id->kx_pk, 32);
  if (bad) {
    sodium_memzero(id, sizeof *id);
    say(msg, msglen, "host key %s is damaged (its public and secret keys do not match): restore it from a backup",
        path);
    return HPVM_ECORRUPT;
  }
  return 0;
}

static int keyfile_read(int fd, const char *path, chan_identity *id, char *msg, size_t msglen) {
  struct stat st;
  if (fstat(fd, &st) < 0) {
    say(msg, msglen, "cannot stat host key %s: %s", path, strerror(errno));
    return HPVM_EIO;
  }
  if (!S_ISREG(st.st_mode)) {
    say(msg, msglen, "host key %s is not a regular file: move it away and restart hpvmd to create a new key", path);
    return HPVM_ECORRUPT;
  }
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    say(msg, msglen, "host key %s is accessible by group or others (mode %04o): chmod 600 %s", path,
        (unsigned)(st.st_mode & 07777), path);
    return HPVM_EPERM;
  }
  if (st.st_uid != geteuid()) {
    say(msg, msglen, "host key %s belongs to uid %u, not to this user (uid %u): chown it or run as its owner",
        path, (unsigned)st.st_uid, (unsigned)geteuid());
    return HPVM_EPERM;
  }
  uint8_t buf[KEYFILE_LEN + 1];
  size_t n = 0;
  while (n < sizeof buf) {
    ssize_t r = read(fd, buf + n, sizeof buf - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      say(msg, msglen, "cannot read host key %s: %s", path, strerror(errno));
      return HPVM_EIO;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  int rc = keyfile_decode(buf, n, path, id, msg, msglen);
  sodium_memzero(buf, sizeof buf);
  return rc;
}

static int fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int r = fsync(fd);
  close(fd);
  return r;
}

/* Create the key file: a temporary file (0600) written and fsynced, then moved into place
 * without replacing anything (RENAME_NOREPLACE, or link() where the file system lacks it),
 * so a crash leaves no half key and two starting processes cannot overwrite each other.
 * 1 when another process created the file first (load that one). */
static int keyfile_create(const char *dir, const char *path, chan_identity *id, char *msg, size_t msglen) {
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, CHAN_KEY_FILE) >= (int)sizeof tmp) {
    say(msg, msglen, "state directory path %s is too long", dir);
    return HPVM_EINVAL;
  }
  crypto_sign_keypair(id->sign_pk, id->sign_sk);
  crypto_box_keypair(id->kx_pk, id->kx_sk);
  uint8_t buf[KEYFILE_LEN];
  keyfile_encode(id, buf);
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    say(msg, msglen, "cannot create host key in %s: %s%s", dir, strerror(e),
        e == ENOENT ? " (create the state directory first)" : "");
    sodium_memzero(buf, sizeof buf);
    return e == ENOENT ? HPVM_ENOENT : e == EACCES || e == EPERM || e == EROFS ? HPVM_EPERM : HPVM_EIO;
  }
  size_t off = 0;
  int rc = fchmod(fd, 0600);
  while (rc == 0 && off < sizeof buf) {
    ssize_t r = write(fd, buf + off, sizeof buf - off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) rc = -1;
    else off += (size_t)r;
  }
  if (rc == 0) rc = fsync(fd);
  int e = errno;
  close(fd);
  sodium_memzero(buf, sizeof buf);
  if (rc == 0) {
    rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
    if (rc < 0 && (errno == EINVAL || errno == ENOSYS)) {
      rc = link(tmp, path);
      if (rc == 0 || errno == EEXIST) unlink(tmp);
    }
    e = errno;
  }
  if (rc < 0) {
    unlink(tmp);
    if (e == EEXIST) return 1;
    say(msg, msglen, "cannot write host key %s: %s", path, strerror(e));
    return HPVM_EIO;
  }
  if (fsync_dir(dir) < 0) {
    say(msg, msglen, "cannot sync state directory %s after creating %s: %s", dir, path, strerror(errno));
    return HPVM_EIO;
  }
  return 0;
}

int chan_identity_load(const char *state_dir, const char *host, chan_identity *id, char *msg, size_t msglen) {
  int rc = crypto_ready(msg, msglen);
  if (rc) return rc;
  if (!state_dir || !host || !id || !name_ok(host, strlen(host))) {
    say(msg, msglen, "invalid host name \"%s\": use 1..255 letters, digits, '_', '-' and '.'", host ? host : "");
    return HPVM_EINVAL;
  }
  memset(id, 0, sizeof *id);
  snprintf(id->host, sizeof id->host, "%s", host);
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/%s", state_dir, CHAN_KEY_FILE) >= (int)sizeof path) {
    say(msg, msglen, "state directory path %s is too long", state_dir);
    return HPVM_EINVAL;
  }
  for (int attempt = 0; attempt < 2; attempt++) {
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      rc = keyfile_read(fd, path, id, msg, msglen);
      close(fd);
      break;
    }
    if (errno == ELOOP) {
      say(msg, msglen, "host key %s is a symbolic link; hpvm keeps its key in a plain file: replace the link by "
          "the file", path);
      return HPVM_EPERM;
    }
    int e = errno;
    if (e != ENOENT) {
      say(msg, msglen, "cannot open host key %s: %s", path, strerror(e));
      return e == EACCES ? HPVM_EPERM : HPVM_EIO;
    }
    rc = keyfile_create(state_dir, path, id, msg, msglen);
    if (rc != 1) break;                  /* 1: someone else created it meanwhile: load theirs */
  }
  if (rc == 1) {                         /* created by another process and removed again, twice */
    say(msg, msglen, "host key %s is being created and removed by another process: stop it and retry", path);
    rc = HPVM_EBUSY;
  }
  if (rc) {
    char keep[CHAN_NAME_MAX + 1];
    memcpy(keep, id->host, sizeof keep);
    sodium_memzero(id, sizeof *id);
    memcpy(id->host, keep, sizeof keep);
  }
  return rc;
}

/* ---- Handshake ------------------------------------------------------------------------------ */

typedef struct hello {
  uint8_t type;
  uint8_t caps;                          /* client: capability bits; server: the cipher chosen */
  char name[CHAN_NAME_MAX + 1];
  uint8_t sign_pk[32], kx_pk[32], eph_pk[32], nonce[32];
  uint8_t raw[HELLO_FIXED + CHAN_NAME_MAX];
  size_t rawlen;
} hello;

typedef struct handshake {
  const chan_config *cfg;
  bool client;
  int fd;
  bool sock;
  io_limit lim;                          /* the current step's deadline */
  char who[CHAN_NAME_MAX + 64];          /* the peer as messages name it */
  hello mine, theirs;
  uint8_t eph_sk[32];
  uint8_t th[32];                        /* transcript hash */
  uint8_t k_c2s[32], k_s2c[32], k_conf_client[32], k_conf_server[32];
} handshake;

static int hs_timeout_ms(const chan_config *c) { return c->timeout_ms > 0 ? c->timeout_ms : 10000; }

static void hs_step(handshake *hs) { hs->lim = limit_step(hs_timeout_ms(hs->cfg)); }

static void preface(uint8_t out[PREFACE_LEN]) {
  memcpy(out, CHAN_MAGIC, 7);
  out[7] = CHAN_VERSION;
}

static void hello_make(handshake *hs, uint8_t type, uint8_t caps) {
  const chan_identity *me = hs->cfg->me;
  hello *h = &hs->mine;
  size_t n = strlen(me->host);
  h->type = type;
  h->caps = caps;
  crypto_box_keypair(h->eph_pk, hs->eph_sk);
  randombytes_buf(h->nonce, sizeof h->nonce);
  uint8_t *p = h->raw;
  preface(p);
  p[8] = type;
  p[9] = caps;
  p[10] = (uint8_t)n;
  p[11] = 0;
  memcpy(p + 12, me->sign_pk, 32);
  memcpy(p + 44, me->kx_pk, 32);
  memcpy(p + 76, h->eph_pk, 32);
  memcpy(p + 108, h->nonce, 32);
  memcpy(p + HELLO_FIXED, me->host, n);
  h->rawlen = HELLO_FIXED + n;
}

static int hs_write(handshake *hs, const void *buf, size_t len, char *msg, size_t msglen) {
  int rc = io_write(hs->fd, hs->sock, buf, len, &hs->lim);
  if (rc == HPVM_ETIMEDOUT)
    say(msg, msglen, "%s did not read our handshake within %d ms: check that it is an hpvm host and the link "
        "works", hs->who, hs_timeout_ms(hs->cfg));
  else if (rc)
    say(msg, msglen, "%s closed the connection during the handshake", hs->who);
  return rc;
}

static int hs_read(handshake *hs, void *buf, size_t len, const char *what, char *msg, size_t msglen) {
  size_t got;
  int rc = io_read(hs->fd, buf, len, &hs->lim, &got);
  if (rc == 0) return 0;
  if (rc == HPVM_ETIMEDOUT) {
    say(msg, msglen, "%s sent no %s within %d ms: check that it is an hpvm host and the link works", hs->who, what,
        hs_timeout_ms(hs->cfg));
    return rc;
  }
  if (rc == IO_EOF) {
    say(msg, msglen, "%s closed the connection during the handshake (before its %s was complete)", hs->who, what);
    return HPVM_ETRUNC;
  }
  say(msg, msglen, "reading the %s of %s failed: %s", what, hs->who, strerror(errno));
  return rc;
}

static void hs_refuse(handshake *hs, uint8_t reason) {
  uint8_t r[REFUSAL_LEN];
  preface(r);
  r[8] = HS_REFUSAL;
  r[9] = reason;
  io_write(hs->fd, hs->sock, r, sizeof r, &hs->lim);  /* best effort: we are failing anyway */
}

/* Read the opening of the peer's message (preface, type, one byte) and check preface and
 * version. A client meets the server's refusal here. */
static int hs_read_opening(handshake *hs, uint8_t o[OPENING_LEN], char *msg, size_t msglen) {
  const char *what = hs->client ? "hello" : "hello (the channel's first bytes)";
  int rc = hs_read(hs, o, OPENING_LEN, what, msg, msglen);
  if (rc) return rc;
  if (memcmp(o, CHAN_MAGIC, 7)) {
    say(msg, msglen, "%s does not speak the hpvm channel protocol (garbage instead of a hello)", hs->who);
    return HPVM_ECORRUPT;
  }
  if (o[7] != CHAN_VERSION) {
    if (!hs->client) hs_refuse(hs, REFUSE_VERSION);
    say(msg, msglen, "%s speaks channel protocol version %u, this host version %u: run the same hpvm version on "
        "both hosts", hs->who, o[7], CHAN_VERSION);
    return HPVM_ENOTSUP;
  }
  if (hs->client && o[8] == HS_REFUSAL) {
    switch (o[9]) {
    case REFUSE_UNTRUSTED:
      say(msg, msglen, "%s refused the connection: it does not trust this host (%s); register this host's key "
          "there (hpvmhost trust %s)", hs->who, hs->cfg->me->host, hs->cfg->me->host);
      return HPVM_EAUTH;
    case REFUSE_MALFORMED:
      say(msg, msglen, "%s refused the connection: it could not read this host's hello", hs->who);
      return HPVM_ECORRUPT;
    default:
      say(msg, msglen, "%s refused the connection (reason %u)", hs->who, o[9]);
      return HPVM_EAUTH;
    }
  }
  return 0;
}

/* The rest of a hello after its opening, parsed into hs->theirs. */
static int hs_read_hello(handshake *hs, uint8_t want, char *msg, size_t msglen) {
  hello *h = &hs->theirs;
  uint8_t *p = h->raw;
  int rc = hs_read_opening(hs, p, msg, msglen);
  if (rc) return rc;
  if (p[8] != want) {
    if (!hs->client) hs_refuse(hs, REFUSE_MALFORMED);
    say(msg, msglen, "%s sent handshake message type %u where a %s hello belongs", hs->who, p[8],
        want == HS_CLIENT_HELLO ? "client" : "server");
    return HPVM_ECORRUPT;
  }
  rc = hs_read(hs, p + OPENING_LEN, HELLO_FIXED - OPENING_LEN, "hello", msg, msglen);
  if (rc) return rc;
  size_t n = p[10];
  if (n == 0 || p[11] != 0) {
    if (!hs->client) hs_refuse(hs, REFUSE_MALFORMED);
    say(msg, msglen, "%s sent a malformed hello (%s)", hs->who, n ? "reserved byte set" : "no host name");
    return HPVM_ECORRUPT;
  }
  rc = hs_read(hs, p + HELLO_FIXED, n, "hello", msg, msglen);
  if (rc) return rc;
  if (!name_ok((const char *)p + HELLO_FIXED, n)) {
    if (!hs->client) hs_refuse(hs, REFUSE_MALFORMED);
    say(msg, msglen, "%s sent a hello with an invalid host name", hs->who);
    return HPVM_ECORRUPT;
  }
  h->rawlen = HELLO_FIXED + n;
  h->type = p[8];
  h->caps = p[9];
  memcpy(h->sign_pk, p + 12, 32);
  memcpy(h->kx_pk, p + 44, 32);
  memcpy(h->eph_pk, p + 76, 32);
  memcpy(h->nonce, p + 108, 32);
  memcpy(h->name, p + HELLO_FIXED, n);
  h->name[n] = 0;
  snprintf(hs->who, sizeof hs->who, "host %s", h->name);
  return 0;
}

static int hs_trust(handshake *hs, char *msg, size_t msglen) {
  char why[200] = "";
  const hello *h = &hs->theirs;
  int rc = hs->cfg->trust(hs->cfg->trust_ctx, h->name, h->sign_pk, h->kx_pk, why, sizeof why);
  if (rc == 0) return 0;
  say(msg, msglen, "host %s is not trusted: register its key (hpvmhost trust %s) or let it join with the cluster "
      "secret%s%s", h->name, h->name, why[0] ? ": " : "", why);
  return HPVM_EAUTH;
}

/* Transcript hash and session keys. Both sides compute the same three X25519 values:
 * ee = DH(e_C, e_S), es = DH(e_C, kx_S), se = DH(kx_C, e_S). The master key is BLAKE2b keyed
 * with the cluster secret (32 zero bytes when there is none) over th and the three values;
 * the four working keys are derived from it with crypto_kdf (BLAKE2b, one id each). */
static int hs_derive(handshake *hs, char *msg, size_t msglen) {
  const hello *ch = hs->client ? &hs->mine : &hs->theirs;
  const hello *sh = hs->client ? &hs->theirs : &hs->mine;
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, 32);
  crypto_generichash_update(&st, (const uint8_t *)LABEL_TRANSCRIPT, sizeof LABEL_TRANSCRIPT - 1);
  crypto_generichash_update(&st, ch->raw, ch->rawlen);
  crypto_generichash_update(&st, sh->raw, sh->rawlen);
  crypto_generichash_final(&st, hs->th, 32);

  const chan_identity *me = hs->cfg->me;
  uint8_t dh[3][32];
  int bad;
  const hello *t = &hs->theirs;
  if (hs->client)
    bad = crypto_scalarmult(dh[0], hs->eph_sk, t->eph_pk) | crypto_scalarmult(dh[1], hs->eph_sk, t->kx_pk) |
          crypto_scalarmult(dh[2], me->kx_sk, t->eph_pk);
  else
    bad = crypto_scalarmult(dh[0], hs->eph_sk, t->eph_pk) | crypto_scalarmult(dh[1], me->kx_sk, t->eph_pk) |
          crypto_scalarmult(dh[2], hs->eph_sk, t->kx_pk);
  if (bad) {
    sodium_memzero(dh, sizeof dh);
    say(msg, msglen, "%s sent a degenerate X25519 key (a low-order point): refused", hs->who);
    return HPVM_EAUTH;
  }
  static const uint8_t no_secret[32];
  const uint8_t *secret = hs->cfg->cluster_secret ? hs->cfg->cluster_secret : no_secret;
  uint8_t master[32];
  crypto_generichash_init(&st, secret, 32, 32);
  crypto_generichash_update(&st, (const uint8_t *)LABEL_KEYS, sizeof LABEL_KEYS - 1);
  crypto_generichash_update(&st, hs->th, 32);
  crypto_generichash_update(&st, (const uint8_t *)dh, sizeof dh);
  crypto_generichash_final(&st, master, 32);
  crypto_kdf_derive_from_key(hs->k_c2s, 32, KDF_C2S, KDF_CONTEXT, master);
  crypto_kdf_derive_from_key(hs->k_s2c, 32, KDF_S2C, KDF_CONTEXT, master);
  crypto_kdf_derive_from_key(hs->k_conf_client, 32, KDF_CONFIRM_CLIENT, KDF_CONTEXT, master);
  crypto_kdf_derive_from_key(hs->k_conf_server, 32, KDF_CONFIRM_SERVER, KDF_CONTEXT, master);
  sodium_memzero(dh, sizeof dh);
  sodium_memzero(master, sizeof master);
  sodium_memzero(&st, sizeof st);
  return 0;
}

/* What a confirmation signs: its role's label, th, the status. */
static size_t confirm_tbs(const handshake *hs, bool from_client, uint8_t status, uint8_t *out) {
  const char *label = from_client ? LABEL_CONFIRM_CLIENT : LABEL_CONFIRM_SERVER;
  size_t n = strlen(label);
  memcpy(out, label, n);
  memcpy(out + n, hs->th, 32);
  out[n + 32] = status;
  return n + 33;
}

static void confirm_mac(const handshake *hs, bool from_client, const uint8_t *tbs, size_t tbslen,
                        const uint8_t sig[64], uint8_t mac[32]) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, from_client ? hs->k_conf_client : hs->k_conf_server, 32, 32);
  crypto_generichash_update(&st, tbs, tbslen);
  crypto_generichash_update(&st, sig, 64);
  crypto_generichash_final(&st, mac, 32);
}

/* Our confirmation: type, status, signature, MAC (a refusal status carries neither: nothing
 * is signed for a peer we do not accept). */
static void confirm_make(const handshake *hs, uint8_t status, uint8_t out[CONFIRM_LEN]) {
  memset(out, 0, CONFIRM_LEN);
  out[0] = HS_CONFIRM;
  out[1] = status;
  if (status != CONFIRM_OK && status != CONFIRM_SECRET_MISMATCH) return;
  uint8_t tbs[64];
  size_t n = confirm_tbs(hs, hs->client, status, tbs);
  crypto_sign_detached(out + 2, NULL, tbs, n, hs->cfg->me->sign_sk);
  confirm_mac(hs, hs->client, tbs, n, out + 2, out + 66);
}

static void confirm_send(handshake *hs, uint8_t status) {
  uint8_t c[CONFIRM_LEN];
  confirm_make(hs, status, c);
  io_write(hs->fd, hs->sock, c, sizeof c, &hs->lim);  /* telling a failing peer why: best effort */
}

static void secret_mismatch(const handshake *hs, char *msg, size_t msglen) {
  say(msg, msglen, "cluster secret mismatch: %s and this host (%s) hold different cluster secrets%s; give both the "
      "secret of the same shared directory (DIR/cluster/secret)", hs->who, hs->cfg->me->host,
      hs->cfg->cluster_secret ? "" : " (this host has none)");
}

/* Check the peer's confirmation: its status, its signature over th (the peer holds the
 * Ed25519 key trust() accepted, and saw the same hellos), its MAC (the peer derived the same
 * keys: the static X25519 key and the cluster secret). */
static int confirm_check(handshake *hs, const uint8_t in[CONFIRM_LEN], bool *mismatch, char *msg, size_t msglen) {
  bool from_client = !hs->client;
  *mismatch = false;
  uint8_t status = in[1];
  if (in[0] != HS_CONFIRM) {
    say(msg, msglen, "%s sent handshake message type %u where its confirmation belongs", hs->who, in[0]);
    return HPVM_ECORRUPT;
  }
  if (from_client && status == CONFIRM_UNTRUSTED) {
    say(msg, msglen, "%s refused the connection: it does not trust this host (%s); register this host's key "
        "there (hpvmhost trust %s)", hs->who, hs->cfg->me->host, hs->cfg->me->host);
    return HPVM_EAUTH;
  }
  if (from_client && status == CONFIRM_NOT_EXPECTED) {
    say(msg, msglen, "%s meant to reach another host, not %s: check the address it was given", hs->who,
        hs->cfg->me->host);
    return HPVM_EAUTH;
  }
  if (status != CONFIRM_OK && !(from_client && status == CONFIRM_SECRET_MISMATCH)) {
    say(msg, msglen, "%s sent a confirmation with an unknown status %u", hs->who, status);
    return HPVM_ECORRUPT;
  }
  uint8_t tbs[64], mac[32];
  size_t n = confirm_tbs(hs, from_client, status, tbs);
  if (crypto_sign_verify_detached(in + 2, tbs, n, hs->theirs.sign_pk)) {
    say(msg, msglen, "%s did not prove its identity: its handshake signature does not verify (a replayed or "
        "tampered handshake, or a man in the middle)", hs->who);
    return HPVM_EAUTH;
  }
  confirm_mac(hs, from_client, tbs, n, in + 2, mac);
  if (sodium_memcmp(mac, in + 66, 32)) {
    *mismatch = true;
    secret_mismatch(hs, msg, msglen);
    return HPVM_EAUTH;
  }
  if (status == CONFIRM_SECRET_MISMATCH) {
    say(msg, msglen, "%s could not verify this host's handshake confirmation although the keys agree (tampered "
        "on the way?)", hs->who);
    return HPVM_EAUTH;
  }
  return 0;
}

static uint8_t our_caps(const chan_config *c) {
  return (uint8_t)(CAP_XCHACHA | (aes_available() && !c->force_xchacha ? CAP_AES256GCM : 0));
}

static int hs_client(handshake *hs, const char *expect_peer, char *msg, size_t msglen) {
  hs_step(hs);
  hello_make(hs, HS_CLIENT_HELLO, our_caps(hs->cfg));
  int rc = hs_write(hs, hs->mine.raw, hs->mine.rawlen, msg, msglen);
  if (rc) return rc;

  hs_step(hs);
  if ((rc = hs_read_hello(hs, HS_SERVER_HELLO, msg, msglen))) return rc;
  uint8_t cipher = hs->theirs.caps;
  if (!(cipher == CIPHER_XCHACHA || (cipher == CIPHER_AES256GCM && (hs->mine.caps & CAP_AES256GCM)))) {
    say(msg, msglen, "%s chose cipher %u, which this host did not offer", hs->who, cipher);
    return HPVM_ECORRUPT;
  }
  if (expect_peer && strcmp(expect_peer, hs->theirs.name)) {
    confirm_send(hs, CONFIRM_NOT_EXPECTED);
    say(msg, msglen, "connected to host %s, not to %s: check the address given for %s", hs->theirs.name,
        expect_peer, expect_peer);
    return HPVM_EAUTH;
  }
  if ((rc = hs_trust(hs, msg, msglen))) {
    confirm_send(hs, CONFIRM_UNTRUSTED);
    return rc;
  }
  if ((rc = hs_derive(hs, msg, msglen))) return rc;
  uint8_t c[CONFIRM_LEN];
  if ((rc = hs_read(hs, c, sizeof c, "confirmation", msg, msglen))) return rc;
  bool mismatch = false;
  if ((rc = confirm_check(hs, c, &mismatch, msg, msglen))) {
    /* The signature held but the MAC did not: the only honest difference left is the
     * cluster secret. Say so, signed, so that the server can tell its operator too. */
    if (mismatch) confirm_send(hs, CONFIRM_SECRET_MISMATCH);
    return rc;
  }
  hs_step(hs);
  confirm_make(hs, CONFIRM_OK, c);
  return hs_write(hs, c, sizeof c, msg, msglen);
}

static int hs_server(handshake *hs, char *msg, size_t msglen) {
  hs_step(hs);
  int rc = hs_read_hello(hs, HS_CLIENT_HELLO, msg, msglen);
  if (rc) return rc;
  if (!(hs->theirs.caps & CAP_XCHACHA) || (hs->theirs.caps & ~(CAP_XCHACHA | CAP_AES256GCM))) {
    hs_refuse(hs, REFUSE_MALFORMED);
    say(msg, msglen, "%s offered ciphers 0x%02x, none of which this host speaks", hs->who, hs->theirs.caps);
    return HPVM_ECORRUPT;
  }
  if ((rc = hs_trust(hs, msg, msglen))) {
    hs_refuse(hs, REFUSE_UNTRUSTED);
    return rc;
  }
  uint8_t cipher = (hs->theirs.caps & our_caps(hs->cfg) & CAP_AES256GCM) ? CIPHER_AES256GCM : CIPHER_XCHACHA;
  hello_make(hs, HS_SERVER_HELLO, cipher);
  if ((rc = hs_derive(hs, msg, msglen))) return rc;
  uint8_t out[HELLO_FIXED + CHAN_NAME_MAX + CONFIRM_LEN];
  memcpy(out, hs->mine.raw, hs->mine.rawlen);
  confirm_make(hs, CONFIRM_OK, out + hs->mine.rawlen);
  hs_step(hs);
  if ((rc = hs_write(hs, out, hs->mine.rawlen + CONFIRM_LEN, msg, msglen))) return rc;

  hs_step(hs);
  uint8_t c[CONFIRM_LEN];
  if ((rc = hs_read(hs, c, sizeof c, "confirmation", msg, msglen))) return rc;
  bool mismatch;
  return confirm_check(hs, c, &mismatch, msg, msglen);
}

/* ---- Channel setup and teardown -------------------------------------------------------------- */

static void dir_set_key(chan_dir *d, uint8_t cipher, const uint8_t key[32]) {
  memcpy(d->key, key, 32);
  if (cipher == CIPHER_AES256GCM) crypto_aead_aes256gcm_beforenm(&d->aes, key);
  d->state = DIR_OPEN;
}

static chan *chan_alloc(int fd, bool client, uint8_t cipher, const char *peer) {
  void *p = NULL;
  if (posix_memalign(&p, 64, sizeof(chan))) return NULL;  /* the AES state wants 16-byte alignment */
  chan *ch = p;
  memset(ch, 0, sizeof *ch);
  ch->fd = fd;
  ch->sock = fd_is_socket(fd);
  ch->client = client;
  ch->cipher = cipher;
  snprintf(ch->peer, sizeof ch->peer, "%s", peer);
  atomic_init(&ch->tx.err, 0);
  atomic_init(&ch->rx.err, 0);
  return ch;
}

static void chan_free(chan *ch) {
  free(ch->tx.stage);
  free(ch->tx.buf);
  free(ch->rx.buf);
  sodium_memzero(ch, sizeof *ch);
  free(ch);
}

static int chan_open(int fd, const chan_config *c, bool client, const char *expect_peer, chan **out, char *msg,
                     size_t msglen) {
  *out = NULL;
  int rc = crypto_ready(msg, msglen);
  if (!rc && (!c || !c->me || !c->trust || !name_ok(c->me->host, strnlen(c->me->host, sizeof c->me->host)))) {
    say(msg, msglen, "channel configuration without an identity (a valid host name) or a trust function");
    rc = HPVM_EINVAL;
  }
  if (!rc && fd_nonblocking(fd)) {
    say(msg, msglen, "fd %d cannot be made non-blocking: %s", fd, strerror(errno));
    rc = HPVM_EINVAL;
  }
  if (rc) {
    if (fd >= 0) close(fd);
    return rc;
  }
  handshake *hs = sodium_malloc(sizeof *hs);
  if (!hs) {
    close(fd);
    say(msg, msglen, "out of memory for a channel handshake");
    return HPVM_ENOMEM;
  }
  memset(hs, 0, sizeof *hs);
  hs->cfg = c;
  hs->client = client;
  hs->fd = fd;
  hs->sock = fd_is_socket(fd);
  if (client && expect_peer) snprintf(hs->who, sizeof hs->who, "host %s", expect_peer);
  else peer_address(fd, hs->who, sizeof hs->who);
  rc = client ? hs_client(hs, expect_peer, msg, msglen) : hs_server(hs, msg, msglen);
  chan *ch = NULL;
  if (rc == 0) {
    uint8_t cipher = client ? hs->theirs.caps : hs->mine.caps;
    ch = chan_alloc(fd, client, cipher, hs->theirs.name);
    if (!ch) {
      say(msg, msglen, "out of memory for a channel");
      rc = HPVM_ENOMEM;
    } else {
      dir_set_key(&ch->tx, cipher, client ? hs->k_c2s : hs->k_s2c);
      dir_set_key(&ch->rx, cipher, client ? hs->k_s2c : hs->k_c2s);
    }
  }
  sodium_free(hs);                       /* wipes the ephemeral secret and the keys */
  if (rc) {
    close(fd);
    return rc;
  }
  *out = ch;
  return 0;
}

int chan_client(int fd, const chan_config *c, const char *expect_peer, chan **out, char *msg, size_t msglen) {
  return chan_open(fd, c, true, expect_peer, out, msg, msglen);
}

int chan_server(int fd, const chan_config *c, chan **out, char *msg, size_t msglen) {
  return chan_open(fd, c, false, NULL, out, msg, msglen);
}

const char *chan_peer(const chan *ch) { return ch->peer; }
const char *chan_cipher(const chan *ch) { return ch->cipher == CIPHER_AES256GCM ? "aes256gcm" : "xchacha20poly1305"; }
int chan_fd(const chan *ch) { return ch->fd; }

/* ---- Records --------------------------------------------------------------------------------- */

/* The first failure of a direction, kept: its message is written before err is published. */
static int dir_fail(chan_dir *d, int err, char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int dir_fail(chan_dir *d, int err, char *msg, size_t msglen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->msg, sizeof d->msg, fmt, ap);
  va_end(ap);
  d->state = DIR_FAILED;
  atomic_store_explicit(&d->err, err, memory_order_release);
  say(msg, msglen, "%s", d->msg);
  return err;
}

/* A failure in either direction ends the channel for both. */
static int chan_sticky(const chan_dir *mine, const chan_dir *other, char *msg, size_t msglen) {
  int e = atomic_load_explicit(&mine->err, memory_order_acquire);
  if (e) {
    say(msg, msglen, "%s", mine->msg);
    return e;
  }
  e = atomic_load_explicit(&other->err, memory_order_acquire);
  if (e) say(msg, msglen, "%s", other->msg);
  return e;
}

static bool chan_failed(const chan *ch) {
  return atomic_load_explicit(&ch->tx.err, memory_order_acquire) ||
         atomic_load_explicit(&ch->rx.err, memory_order_acquire);
}

/* Grow *buf to hold n bytes, keeping the first keep bytes. */
static int buf_reserve(uint8_t **buf, size_t *cap, size_t n, size_t keep) {
  if (n <= *cap) return 0;
  size_t c = *cap ? *cap : 4096;
  while (c < n) c *= 2;
  uint8_t *b = malloc(c);
  if (!b) return HPVM_ENOMEM;
  if (keep) memcpy(b, *buf, keep);
  free(*buf);
  *buf = b;
  *cap = c;
  return 0;
}

/* The nonce is the record's sequence number, little-endian, zero-padded to the cipher's
 * nonce length (12 bytes for AES-256-GCM, 24 for XChaCha20-Poly1305). Each direction has its
 * own key, so no (key, nonce) pair is ever used twice. */
static void record_nonce(uint8_t n[24], uint64_t seq) {
  memset(n, 0, 24);
  put_u64(n, seq);
}

/* Seal m[0..plen) into c (c == m is fine) and the tag; the record header is the associated
 * data. */
static void record_seal(const chan *ch, const chan_dir *d, const uint8_t hdr[REC_HDR], uint8_t *c, const uint8_t *m,
                        size_t plen, uint8_t tag[TAG_LEN]) {
  uint8_t n[24];
  record_nonce(n, d->seq);
  if (ch->cipher == CIPHER_AES256GCM)
    crypto_aead_aes256gcm_encrypt_detached_afternm(c, tag, NULL, m, plen, hdr, REC_HDR, NULL, n, &d->aes);
  else
    crypto_aead_xchacha20poly1305_ietf_encrypt_detached(c, tag, NULL, m, plen, hdr, REC_HDR, NULL, n, d->key);
}

/* Check and decrypt c[0..plen) in place: 0, or -1 when the record is not the one expected
 * here (modified, replayed, reordered, dropped). */
static int record_open(const chan *ch, const chan_dir *d, const uint8_t hdr[REC_HDR], uint8_t *c, size_t plen,
                       const uint8_t tag[TAG_LEN]) {
  uint8_t n[24];
  record_nonce(n, d->seq);
  if (ch->cipher == CIPHER_AES256GCM)
    return crypto_aead_aes256gcm_decrypt_detached_afternm(c, NULL, c, plen, tag, hdr, REC_HDR, n, &d->aes);
  return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(c, NULL, c, plen, tag, hdr, REC_HDR, n, d->key);
}

/* Seal one record at out (header, ciphertext, tag), taking the next sequence number. The
 * plaintext is src, or already in place at out + REC_HDR when src is NULL. */
static int record_seal_at(chan *ch, uint8_t *out, uint32_t type, const uint8_t *src, size_t plen, char *msg,
                          size_t msglen) {
  chan_dir *d = &ch->tx;
  if (d->seq == UINT64_MAX)
    return dir_fail(d, HPVM_ERANGE, msg, msglen, "channel to host %s has used up its sequence numbers: reconnect",
                    ch->peer);
  uint8_t *c = out + REC_HDR;
  put_u32(out, (uint32_t)(plen + TAG_LEN));
  put_u32(out + 4, type);
  record_seal(ch, d, out, c, src ? src : c, plen, c + plen);
  d->seq++;
  return 0;
}

/* Write the sealed records tx.buf[0..len). */
static int tx_flush(chan *ch, size_t len, const io_limit *lim, char *msg, size_t msglen) {
  int rc = io_write(ch->fd, ch->sock, ch->tx.buf, len, lim);
  if (rc == HPVM_ETIMEDOUT)
    return dir_fail(&ch->tx, rc, msg, msglen, "host %s stopped reading the channel for %d ms", ch->peer,
                    lim->idle_ms);
  if (rc)
    return dir_fail(&ch->tx, rc, msg, msglen, "host %s is gone: the channel broke while sending (%s)", ch->peer,
                    strerror(errno));
  return 0;
}

/* A message is the byte string  u32 msglen, u32 bulklen, message, bulk  cut into records of
 * REC_SEND bytes: the first of type MSG, the others MORE. The small head (lengths and packed
 * message) is staged; the bulk is sealed straight from the caller's buffer, a record at a time
 * while it is in cache, and never copied (except the part that shares the first record with
 * the head). Sealed records gather in tx.buf and go out up to TX_BATCH (about 1 MiB) at a
 * time, so a MiB of bulk costs one write and one wake-up of the receiver rather than 16. */
static int send_frame(chan *ch, const ProtobufCMessage *m, const void *bulk, size_t bulklen, int timeout_ms,
                      char *msg, size_t msglen);

int chan_send(chan *ch, const ProtobufCMessage *m, const void *bulk, size_t bulklen, int timeout_ms, char *msg,
              size_t msglen) {
  int rc = chan_sticky(&ch->tx, &ch->rx, msg, msglen);
  return rc ? rc : send_frame(ch, m, bulk, bulklen, timeout_ms, msg, msglen);
}

/* The receiving direction may have failed (that is what m tells the peer): the sending one
 * has its own key and sequence, so the peer authenticates m as any other record, the way TLS
 * sends its alert before it closes. Nothing is received on the channel after it. */
int chan_send_last(chan *ch, const ProtobufCMessage *m, int timeout_ms, char *msg, size_t msglen) {
  int rc = atomic_load_explicit(&ch->tx.err, memory_order_acquire);
  if (rc) return say(msg, msglen, "%s", ch->tx.msg), rc;
  if (ch->tx.state != DIR_OPEN) return say(msg, msglen, "the channel to host %s is closed", ch->peer), HPVM_ESTATE;
  return send_frame(ch, m, NULL, 0, timeout_ms, msg, msglen);
}

static int send_frame(chan *ch, const ProtobufCMessage *m, const void *bulk, size_t bulklen, int timeout_ms,
                      char *msg, size_t msglen) {
  int rc;
  chan_dir *d = &ch->tx;
  size_t mlen = m ? protobuf_c_message_get_packed_size(m) : 0;
  if (mlen > CHAN_MAX_FRAME || bulklen > CHAN_MAX_FRAME - mlen)
    return dir_fail(d, HPVM_ERANGE, msg, msglen, "a frame of %zu message + %zu bulk bytes for host %s is over the "
                    "limit of %u bytes: send it in parts", mlen, bulklen, ch->peer, CHAN_MAX_FRAME);
  size_t head = MSGHDR_LEN + mlen, total = head + bulklen;
  if (buf_reserve(&d->buf, &d->cap, TX_BATCH, 0) || buf_reserve(&d->stage, &d->stage_cap, head, 0))
    return dir_fail(d, HPVM_ENOMEM, msg, msglen, "out of memory for a %zu-byte message to host %s", head, ch->peer);
  put_u32(d->stage, (uint32_t)mlen);
  put_u32(d->stage + 4, (uint32_t)bulklen);
  if (m) protobuf_c_message_pack(m, d->stage + MSGHDR_LEN);
  const uint8_t *b = bulk;
  io_limit lim = limit_idle(timeout_ms);
  uint32_t type = REC_MSG;
  size_t used = 0;                       /* sealed bytes in tx.buf not written yet */
  for (size_t off = 0; off < total; off += REC_SEND, type = REC_MORE) {
    size_t n = total - off < REC_SEND ? total - off : REC_SEND;
    if (used + REC_HDR + n + TAG_LEN > TX_BATCH) {
      if ((rc = tx_flush(ch, used, &lim, msg, msglen))) return rc;
      used = 0;
    }
    uint8_t *out = d->buf + used;
    const uint8_t *src = NULL;
    if (off + n <= head) src = d->stage + off;
    else if (off >= head) src = b + (off - head);
    else {                               /* the record where the head ends and the bulk begins */
      memcpy(out + REC_HDR, d->stage + off, head - off);
      memcpy(out + REC_HDR + (head - off), b, n - (head - off));
    }
    if ((rc = record_seal_at(ch, out, type, src, n, msg, msglen))) return rc;
    used += REC_HDR + n + TAG_LEN;
  }
  return tx_flush(ch, used, &lim, msg, msglen);
}

/* Read what iov describes, exactly: 0, IO_EOF (*got bytes came first), HPVM_ETIMEDOUT,
 * HPVM_EIO. iov is consumed. */
static int io_readv(int fd, struct iovec *iov, int n, const io_limit *lim, size_t *got) {
  *got = 0;
  while (n > 0) {
    ssize_t r = readv(fd, iov, n);
    if (r == 0) return IO_EOF;
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        int rc = io_wait(fd, POLLIN, lim);
        if (rc) return rc;
        continue;
      }
      return errno == ECONNRESET ? IO_EOF : HPVM_EIO;
    }
    *got += (size_t)r;
    size_t left = (size_t)r;
    for (; n > 0 && left >= iov->iov_len; iov++, n--) left -= iov->iov_len;
    if (n > 0) {
      iov->iov_base = (uint8_t *)iov->iov_base + left;
      iov->iov_len -= left;
    }
  }
  return 0;
}

/* A read that failed: say how, in the words of a channel. */
static int rx_read_failed(chan *ch, int rc, size_t got, bool between_messages, const io_limit *lim, char *msg,
                          size_t msglen) {
  chan_dir *d = &ch->rx;
  if (rc == IO_EOF && got == 0 && between_messages)
    return dir_fail(d, HPVM_ETRUNC, msg, msglen, "stream from host %s ended without its close (truncated)",
                    ch->peer);
  if (rc == IO_EOF)
    return dir_fail(d, HPVM_ETRUNC, msg, msglen, "stream from host %s ended inside record %llu (truncated)",
                    ch->peer, (unsigned long long)d->seq);
  if (rc == HPVM_ETIMEDOUT)
    return dir_fail(d, rc, msg, msglen, "host %s sent nothing for %d ms", ch->peer, lim->idle_ms);
  return dir_fail(d, rc, msg, msglen, "reading from host %s failed: %s", ch->peer, strerror(errno));
}

/* A record header's type and length, bounded before anything is allocated or read: a hostile
 * length costs nothing. */
static int rx_check_header(chan *ch, const uint8_t hdr[REC_HDR], uint32_t *type, size_t *plen, char *msg,
                           size_t msglen) {
  chan_dir *d = &ch->rx;
  uint32_t clen = get_u32(hdr);
  *type = get_u32(hdr + 4);
  if (clen > REC_MAX + TAG_LEN)
    return dir_fail(d, HPVM_ERANGE, msg, msglen, "record %llu from host %s claims %u bytes, over the limit of %u "
                    "(tampered with, or not an hpvm channel)", (unsigned long long)d->seq, ch->peer, clen,
                    (unsigned)(REC_MAX + TAG_LEN));
  if (clen < TAG_LEN || *type == REC_INVALID || *type > REC_MORE)
    return dir_fail(d, HPVM_ECORRUPT, msg, msglen, "record %llu from host %s has a malformed header (length %u, "
                    "type %u): tampered with on the way", (unsigned long long)d->seq, ch->peer, clen, *type);
  *plen = clen - TAG_LEN;
  return 0;
}

static int rx_auth_failed(chan *ch, char *msg, size_t msglen) {
  return dir_fail(&ch->rx, HPVM_ECORRUPT, msg, msglen, "record %llu from host %s fails authentication: it was "
                  "modified, replayed, reordered or dropped on the way; the channel is closed",
                  (unsigned long long)ch->rx.seq, ch->peer);
}

/* The MORE records that complete a message whose first record left rx.buf[0..have) of total:
 * each is read with one readv (its ciphertext straight to its place in the message, its tag,
 * and the next record's header when one must follow) and decrypted in place. */
static int rx_rest(chan *ch, size_t have, size_t total, const io_limit *lim, char *msg, size_t msglen) {
  chan_dir *d = &ch->rx;
  uint8_t hdr[REC_HDR], next[REC_HDR], tag[TAG_LEN];
  size_t got;
  int rc = io_read(ch->fd, hdr, REC_HDR, lim, &got);
  if (rc) return rx_read_failed(ch, rc, got, false, lim, msg, msglen);
  while (have < total) {
    uint32_t type;
    size_t plen;
    if ((rc = rx_check_header(ch, hdr, &type, &plen, msg, msglen))) return rc;
    if (type != REC_MORE || plen == 0 || plen > total - have)
      return dir_fail(d, HPVM_ECORRUPT, msg, msglen, "record %llu from host %s does not continue the message "
                      "begun before it (type %u, %zu bytes where %zu are missing): tampered with on the way",
                      (unsigned long long)d->seq, ch->peer, type, plen, total - have);
    bool more = have + plen < total;
    struct iovec iov[3] = {{d->buf + have, plen}, {tag, TAG_LEN}, {next, REC_HDR}};
    int rrc = io_readv(ch->fd, iov, more ? 3 : 2, lim, &got);
    if (rrc && got < plen + TAG_LEN) return rx_read_failed(ch, rrc, 1, false, lim, msg, msglen);
    if (record_open(ch, d, hdr, d->buf + have, plen, tag)) return rx_auth_failed(ch, msg, msglen);
    d->seq++;
    if (rrc) return rx_read_failed(ch, rrc, 1, false, lim, msg, msglen);  /* inside the next header */
    have += plen;
    memcpy(hdr, next, REC_HDR);
  }
  return 0;
}

static int recv_frame(chan *ch, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out, const uint8_t **bulk,
                      size_t *bulklen, int timeout_ms, char *msg, size_t msglen);

int chan_recv(chan *ch, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out, const uint8_t **bulk,
              size_t *bulklen, int timeout_ms, char *msg, size_t msglen) {
  if (out) *out = NULL;
  if (bulk) *bulk = NULL;
  if (bulklen) *bulklen = 0;
  int rc = chan_sticky(&ch->rx, &ch->tx, msg, msglen);
  return rc ? rc : recv_frame(ch, desc, out, bulk, bulklen, timeout_ms, msg, msglen);
}

/* The sending direction may have failed (the peer closed on us, often right after it said
 * why with chan_send_last): what arrived before that is still authenticated as ever. */
int chan_recv_last(chan *ch, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out, int timeout_ms,
                   char *msg, size_t msglen) {
  if (out) *out = NULL;
  int rc = atomic_load_explicit(&ch->rx.err, memory_order_acquire);
  if (rc) return say(msg, msglen, "%s", ch->rx.msg), rc;
  return recv_frame(ch, desc, out, NULL, NULL, timeout_ms, msg, msglen);
}

static int recv_frame(chan *ch, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out, const uint8_t **bulk,
                      size_t *bulklen, int timeout_ms, char *msg, size_t msglen) {
  int rc;
  chan_dir *d = &ch->rx;
  if (d->state == DIR_CLOSED) return 1;
  io_limit lim = limit_idle(timeout_ms);

  /* The first record: MSG (a message begins) or CLOSE. */
  uint8_t hdr[REC_HDR];
  size_t got, plen = 0;
  uint32_t type = REC_INVALID;
  rc = io_read(ch->fd, hdr, REC_HDR, &lim, &got);
  if (rc) return rx_read_failed(ch, rc, got, true, &lim, msg, msglen);
  if ((rc = rx_check_header(ch, hdr, &type, &plen, msg, msglen))) return rc;
  if (buf_reserve(&d->buf, &d->cap, plen + TAG_LEN, 0))
    return dir_fail(d, HPVM_ENOMEM, msg, msglen, "out of memory for a %zu-byte record from host %s", plen, ch->peer);
  rc = io_read(ch->fd, d->buf, plen + TAG_LEN, &lim, &got);
  if (rc) return rx_read_failed(ch, rc, 1, false, &lim, msg, msglen);
  if (record_open(ch, d, hdr, d->buf, plen, d->buf + plen)) return rx_auth_failed(ch, msg, msglen);
  uint64_t seq = d->seq++;
  if (type == REC_CLOSE && plen == 0) {
    d->state = DIR_CLOSED;
    return 1;
  }
  if (type != REC_MSG || plen < MSGHDR_LEN)
    return dir_fail(d, HPVM_ECORRUPT, msg, msglen, "record %llu from host %s (type %u, %zu bytes) does not begin "
                    "a message", (unsigned long long)seq, ch->peer, type, plen);

  /* Its head says how long the message is: bounded before the buffer grows to hold it. */
  uint32_t mlen = get_u32(d->buf), blen = get_u32(d->buf + 4);
  if (mlen > CHAN_MAX_FRAME || blen > CHAN_MAX_FRAME - mlen)
    return dir_fail(d, HPVM_ERANGE, msg, msglen, "message %llu from host %s claims %u + %u bytes, over the limit "
                    "of %u", (unsigned long long)seq, ch->peer, mlen, blen, CHAN_MAX_FRAME);
  size_t total = MSGHDR_LEN + (size_t)mlen + blen;
  if (plen > total)
    return dir_fail(d, HPVM_ECORRUPT, msg, msglen, "record %llu from host %s is longer than the message it "
                    "begins", (unsigned long long)seq, ch->peer);
  if (buf_reserve(&d->buf, &d->cap, total, plen))
    return dir_fail(d, HPVM_ENOMEM, msg, msglen, "out of memory for a %zu-byte message from host %s", total,
                    ch->peer);
  if (plen < total && (rc = rx_rest(ch, plen, total, &lim, msg, msglen))) return rc;

  const uint8_t *p = d->buf + MSGHDR_LEN;
  if (desc && out) {
    *out = protobuf_c_message_unpack(desc, NULL, mlen, p);
    if (!*out)
      return dir_fail(d, HPVM_ECORRUPT, msg, msglen, "message %llu from host %s does not parse as %s",
                      (unsigned long long)seq, ch->peer, desc->short_name);
  }
  if (bulk) *bulk = p + mlen;
  if (bulklen) *bulklen = blen;
  return 0;
}

void chan_close(chan *ch) {
  if (!ch) return;
  if (!chan_failed(ch) && ch->tx.state == DIR_OPEN &&
      buf_reserve(&ch->tx.buf, &ch->tx.cap, REC_HDR + TAG_LEN, 0) == 0 &&
      record_seal_at(ch, ch->tx.buf, REC_CLOSE, NULL, 0, NULL, 0) == 0) {
    io_limit lim = limit_idle(1000);     /* best effort: a peer that stopped reading gets truncation */
    tx_flush(ch, REC_HDR + TAG_LEN, &lim, NULL, 0);
  }
  close(ch->fd);
  chan_free(ch);
}

void chan_abort(chan *ch) {
  if (!ch) return;
  close(ch->fd);
  chan_free(ch);
}

/* ---- Hand-over to another process ------------------------------------------------------------ */

/*   0  8  "HPVMCHS" + version (1)     8  1  cipher     9  1  role (1 client, 2 server)
 *  10  1  peer name length           11  5  zero
 *  16  8  tx sequence number         24  8  rx sequence number
 *  32 32  tx key                     64 32  rx key
 *  96  n  peer name                  rest zero, up to CHAN_STATE_LEN */
int chan_export(chan *ch, uint8_t state[CHAN_STATE_LEN]) {
  int rc = chan_sticky(&ch->tx, &ch->rx, NULL, 0);
  if (rc == 0 && (ch->tx.state != DIR_OPEN || ch->rx.state != DIR_OPEN)) rc = HPVM_ESTATE;
  memset(state, 0, CHAN_STATE_LEN);
  if (rc == 0) {
    size_t n = strlen(ch->peer);
    memcpy(state, STATE_MAGIC, 7);
    state[7] = STATE_VERSION;
    state[8] = ch->cipher;
    state[9] = ch->client ? 1 : 2;
    state[10] = (uint8_t)n;
    put_u64(state + 16, ch->tx.seq);
    put_u64(state + 24, ch->rx.seq);
    memcpy(state + 32, ch->tx.key, 32);
    memcpy(state + 64, ch->rx.key, 32);
    memcpy(state + STATE_NAME_AT, ch->peer, n);
  }
  chan_free(ch);                         /* the fd stays open: it goes to the other process */
  return rc;
}

int chan_import(int fd, const uint8_t state[CHAN_STATE_LEN], chan **out, char *msg, size_t msglen) {
  *out = NULL;
  int rc = crypto_ready(msg, msglen);
  if (rc) return rc;
  size_t n = state[10];
  bool zero_tail = true;
  for (size_t i = STATE_NAME_AT + n; i < CHAN_STATE_LEN; i++) zero_tail &= state[i] == 0;
  for (size_t i = 11; i < 16; i++) zero_tail &= state[i] == 0;
  if (memcmp(state, STATE_MAGIC, 7) || state[7] != STATE_VERSION || (state[8] != CIPHER_AES256GCM &&
      state[8] != CIPHER_XCHACHA) || (state[9] != 1 && state[9] != 2) || !zero_tail ||
      !name_ok((const char *)state + STATE_NAME_AT, n)) {
    say(msg, msglen, "the channel state handed over is damaged or from another hpvm version");
    return HPVM_ECORRUPT;
  }
  if (state[8] == CIPHER_AES256GCM && !aes_available()) {
    say(msg, msglen, "the channel uses AES-256-GCM, which this CPU lacks (hand it only to a process on the same "
        "host)");
    return HPVM_ENOTSUP;
  }
  if (fd_nonblocking(fd)) {
    say(msg, msglen, "fd %d cannot be made non-blocking: %s", fd, strerror(errno));
    return HPVM_EINVAL;
  }
  char peer[CHAN_NAME_MAX + 1];
  memcpy(peer, state + STATE_NAME_AT, n);
  peer[n] = 0;
  chan *ch = chan_alloc(fd, state[9] == 1, state[8], peer);
  if (!ch) {
    say(msg, msglen, "out of memory for a channel");
    return HPVM_ENOMEM;
  }
  dir_set_key(&ch->tx, ch->cipher, state + 32);
  dir_set_key(&ch->rx, ch->cipher, state + 64);
  ch->tx.seq = get_u64(state + 16);
  ch->rx.seq = get_u64(state + 24);
  *out = ch;
  return 0;
}
