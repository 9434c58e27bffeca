/* test_chan.c — the host-to-host channel (proto/chan.c): the handshake in both roles over a
 * socketpair (the server on a thread), messages and bulk in both directions with each cipher,
 * and every attack docs/design/channels.md promises to stop — a frame modified, replayed,
 * reordered or dropped, a stream cut inside a frame or between frames, an untrusted host, the
 * wrong host, the wrong cluster secret, a replayed handshake, garbage, a hostile length —
 * each refused with its code and sentence and nothing delivered. Tampering goes through a
 * man in the middle: two relay threads between two socketpairs that parse the stream the way
 * docs/wire/chan.md describes it and change one record. Also: handing a channel over with
 * chan_export/chan_import, and the host key file. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "chan.h"
#include "vmstate.pb-c.h"

/* The wire as docs/wire/chan.md describes it (the relay parses the stream with these). */
#define HELLO_FIXED 140
#define HELLO_NAME_LEN_AT 10
#define CONFIRM_LEN 98
#define OPENING_LEN 10
#define HS_REFUSAL 4
#define FRAME_HDR 8
#define TAG_LEN 16

#define IO_MS 10000                      /* a generous bound, so that a bug fails instead of hanging */

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- Identities and trust ---------------------------------------------------------------------- */

typedef struct fixture {
  char dir[64];
  chan_identity alpha, beta, gamma;      /* alpha and beta trust each other; nobody trusts gamma */
  uint8_t secret[32], other_secret[32];
} fixture;

static int group_setup(void **state) {
  signal(SIGPIPE, SIG_IGN);
  fixture *fx = calloc(1, sizeof *fx);
  snprintf(fx->dir, sizeof fx->dir, "/tmp/test_chan.XXXXXX");
  assert_non_null(mkdtemp(fx->dir));
  const char *names[] = {"alpha", "beta", "gamma"};
  chan_identity *ids[] = {&fx->alpha, &fx->beta, &fx->gamma};
  for (int i = 0; i < 3; i++) {
    char d[128], msg[256];
    snprintf(d, sizeof d, "%s/%s", fx->dir, names[i]);
    assert_int_equal(mkdir(d, 0700), 0);
    assert_int_equal(chan_identity_load(d, names[i], ids[i], msg, sizeof msg), 0);
  }
  for (int i = 0; i < 32; i++) fx->secret[i] = (uint8_t)(i * 7 + 1), fx->other_secret[i] = (uint8_t)(i * 7 + 2);
  *state = fx;
  return 0;
}

static int group_teardown(void **state) {
  fixture *fx = *state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
  assert_int_equal(system(cmd), 0);
  free(fx);
  return 0;
}

typedef struct trust_set {
  const chan_identity *ids[3];
  int n;
} trust_set;

/* Accept a peer only if its name and both keys are those of one identity in the set, as
 * hpvmd does with the keys registered in shared storage. */
static int trust_fn(void *ctx, const char *peer, const uint8_t sign_pk[32], const uint8_t kx_pk[32], char *why,
                    size_t whylen) {
  const trust_set *t = ctx;
  for (int i = 0; i < t->n; i++)
    if (!strcmp(t->ids[i]->host, peer) && !memcmp(t->ids[i]->sign_pk, sign_pk, 32) &&
        !memcmp(t->ids[i]->kx_pk, kx_pk, 32))
      return 0;
  snprintf(why, whylen, "no key registered for %s", peer);
  return HPVM_EAUTH;
}

/* ---- Two ends and a handshake ------------------------------------------------------------------- */

typedef struct end {
  chan_config cfg;
  trust_set trust;
  int fd;
  const char *expect;
  chan *ch;
  int rc;
  char msg[512];
} end;

static void end_init(end *e, const chan_identity *me, const uint8_t *secret, const chan_identity *trusted,
                     bool xchacha) {
  memset(e, 0, sizeof *e);
  e->trust.ids[0] = trusted;
  e->trust.n = trusted ? 1 : 0;
  e->cfg.me = me;
  e->cfg.cluster_secret = secret;
  e->cfg.trust = trust_fn;
  e->cfg.trust_ctx = &e->trust;
  e->cfg.timeout_ms = IO_MS;
  e->cfg.force_xchacha = xchacha;
  e->fd = -1;
  e->rc = -12345;
}

/* alpha as the client, beta as the server, trusting each other, both with the secret. */
static void ends_default(fixture *fx, end *c, end *s, bool xchacha) {
  end_init(c, &fx->alpha, fx->secret, &fx->beta, xchacha);
  end_init(s, &fx->beta, fx->secret, &fx->alpha, xchacha);
}

static void *server_main(void *arg) {
  end *s = arg;
  s->rc = chan_server(s->fd, &s->cfg, &s->ch, s->msg, sizeof s->msg);
  return NULL;
}

static void handshake(end *c, end *s) {
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, server_main, s), 0);
  c->rc = chan_client(c->fd, &c->cfg, c->expect, &c->ch, c->msg, sizeof c->msg);
  assert_int_equal(pthread_join(t, NULL), 0);
}

static void connect_direct(end *c, end *s) {
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  c->fd = sv[0];
  s->fd = sv[1];
  handshake(c, s);
}

static void expect_established(end *c, end *s) {
  if (c->rc || s->rc) print_message("client: %d %s\nserver: %d %s\n", c->rc, c->msg, s->rc, s->msg);
  assert_int_equal(c->rc, 0);
  assert_int_equal(s->rc, 0);
  assert_non_null(c->ch);
  assert_non_null(s->ch);
}

/* A failed handshake: each side's code and a phrase of its sentence, and no channel. */
static void expect_refused(const end *e, int rc, const char *phrase) {
  if (e->rc != rc || !strstr(e->msg, phrase))
    print_message("want %d \"%s\", got %d \"%s\"\n", rc, phrase, e->rc, e->msg);
  assert_int_equal(e->rc, rc);
  assert_non_null(strstr(e->msg, phrase));
  assert_null(e->ch);
}

/* ---- Messages ------------------------------------------------------------------------------ */

static void fill(uint8_t *b, size_t n, unsigned seed) {
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    b[i] = (uint8_t)x;
  }
}

/* Frame i: VmInfo{name "m<i>", vcpus i} and bulklen bytes of pattern i. */
static int send_numbered(chan *ch, unsigned i, size_t bulklen, char *msg, size_t msglen) {
  char name[16];
  snprintf(name, sizeof name, "m%u", i);
  Hpvm__VmInfo m = HPVM__VM_INFO__INIT;
  m.name = name;
  m.vcpus = i;
  uint8_t *b = bulklen ? malloc(bulklen) : NULL;
  if (b) fill(b, bulklen, i);
  int rc = chan_send(ch, &m.base, b, bulklen, IO_MS, msg, msglen);
  free(b);
  return rc;
}

static void expect_numbered(chan *ch, unsigned i, size_t bulklen) {
  ProtobufCMessage *out;
  const uint8_t *bulk;
  size_t n;
  char msg[512] = "";
  int rc = chan_recv(ch, &hpvm__vm_info__descriptor, &out, &bulk, &n, IO_MS, msg, sizeof msg);
  if (rc) print_message("frame %u: %d %s\n", i, rc, msg);
  assert_int_equal(rc, 0);
  Hpvm__VmInfo *m = (Hpvm__VmInfo *)out;
  char name[16];
  snprintf(name, sizeof name, "m%u", i);
  assert_string_equal(m->name, name);
  assert_int_equal(m->vcpus, i);
  protobuf_c_message_free_unpacked(out, NULL);
  assert_int_equal(n, bulklen);
  uint8_t *want = malloc(bulklen + 1);
  fill(want, bulklen, i);
  assert_memory_equal(bulk, want, bulklen);
  free(want);
}

/* The next recv fails with rc and phrase, delivers nothing, and so does the one after. */
static void expect_recv_fails(chan *ch, int rc, const char *phrase) {
  for (int k = 0; k < 2; k++) {
    ProtobufCMessage *out = (ProtobufCMessage *)1;
    const uint8_t *bulk = (const uint8_t *)1;
    size_t n = 1;
    char msg[512] = "";
    int got = chan_recv(ch, &hpvm__vm_info__descriptor, &out, &bulk, &n, IO_MS, msg, sizeof msg);
    if (got != rc || !strstr(msg, phrase)) print_message("want %d \"%s\", got %d \"%s\"\n", rc, phrase, got, msg);
    assert_int_equal(got, rc);
    assert_non_null(strstr(msg, phrase));
    assert_null(out);
    assert_null(bulk);
    assert_int_equal(n, 0);
  }
}

static void expect_close(chan *ch) {
  ProtobufCMessage *out;
  char msg[512] = "";
  assert_int_equal(chan_recv(ch, &hpvm__vm_info__descriptor, &out, NULL, NULL, IO_MS, msg, sizeof msg), 1);
  assert_null(out);
  assert_int_equal(chan_recv(ch, &hpvm__vm_info__descriptor, &out, NULL, NULL, IO_MS, msg, sizeof msg), 1);
}

/* ---- The man in the middle --------------------------------------------------------------------- */

typedef enum mitm_act {
  ACT_NONE = 0,
  ACT_FLIP,        /* xor byte `at` of the record (its header included) with `mask` (0: 1) */
  ACT_DROP,        /* leave the record out */
  ACT_SWAP,        /* send the next record first */
  ACT_REPLAY,      /* send the record twice */
  ACT_CUT_INSIDE,  /* send half the record, then end the stream */
  ACT_CUT_BEFORE,  /* end the stream where the record would start */
} mitm_act;

/* One direction of the relay: copies the handshake as it is, then record by record, doing
 * `act` to record number `record` (counted from 0 after the handshake). Everything it reads is
 * logged (the first sizeof log bytes) for replaying. */
typedef struct relay {
  int in, out;
  int record;
  mitm_act act;
  size_t at;
  uint8_t mask;
  long hs_flip;                          /* flip a bit of this byte of the handshake (hello ||
                                            confirm) as it passes; -1: none */
  uint8_t log[16384];
  size_t loglen;
  pthread_t t;
} relay;

static bool relay_read(relay *r, uint8_t *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(r->in, buf + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += (size_t)n;
  }
  size_t keep = len < sizeof r->log - r->loglen ? len : sizeof r->log - r->loglen;
  memcpy(r->log + r->loglen, buf, keep);
  r->loglen += keep;
  return true;
}

static bool relay_write(relay *r, const uint8_t *buf, size_t len) {
  while (len) {
    ssize_t n = send(r->out, buf, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf += n;
    len -= (size_t)n;
  }
  return true;
}

/* Read one record into a new buffer: its length, or 0 at the end of the stream. */
static size_t relay_record(relay *r, uint8_t **f) {
  uint8_t h[FRAME_HDR];
  if (!relay_read(r, h, sizeof h)) return 0;
  size_t len = FRAME_HDR + get32(h);
  *f = malloc(len);
  memcpy(*f, h, FRAME_HDR);
  if (!relay_read(r, *f + FRAME_HDR, len - FRAME_HDR)) {
    free(*f);
    return 0;
  }
  return len;
}

static void *relay_main(void *arg) {
  relay *r = arg;
  uint8_t h[HELLO_FIXED + 255 + CONFIRM_LEN];
  /* The hello (or a refusal), then the confirmation. */
  if (!relay_read(r, h, OPENING_LEN)) goto end;
  if (h[8] == HS_REFUSAL) {
    relay_write(r, h, OPENING_LEN);
    goto end;
  }
  if (!relay_read(r, h + OPENING_LEN, HELLO_FIXED - OPENING_LEN)) goto end;
  size_t n = h[HELLO_NAME_LEN_AT], hl = HELLO_FIXED + n;
  if (!relay_read(r, h + HELLO_FIXED, n)) goto end;
  if (r->hs_flip >= 0 && (size_t)r->hs_flip < hl) h[r->hs_flip] ^= (uint8_t)(1u << (r->hs_flip % 8));
  if (!relay_write(r, h, hl)) goto end;  /* the client confirms only after the server's hello */
  if (!relay_read(r, h + hl, CONFIRM_LEN)) goto end;
  if (r->hs_flip >= 0 && (size_t)r->hs_flip >= hl && (size_t)r->hs_flip < hl + CONFIRM_LEN)
    h[r->hs_flip] ^= (uint8_t)(1u << (r->hs_flip % 8));
  if (!relay_write(r, h + hl, CONFIRM_LEN)) goto end;
  for (int i = 0;; i++) {
    uint8_t *f;
    size_t len = relay_record(r, &f);
    if (!len) break;
    bool ok = true;
    if (i != r->record || r->act == ACT_NONE) {
      ok = relay_write(r, f, len);
    } else if (r->act == ACT_FLIP) {
      f[r->at < len ? r->at : len - 1] ^= r->mask ? r->mask : 1;
      ok = relay_write(r, f, len);
    } else if (r->act == ACT_REPLAY) {
      ok = relay_write(r, f, len) && relay_write(r, f, len);
    } else if (r->act == ACT_SWAP) {
      uint8_t *g;
      size_t glen = relay_record(r, &g);
      i++;
      ok = glen && relay_write(r, g, glen) && relay_write(r, f, len);
      if (glen) free(g);
    } else if (r->act == ACT_CUT_INSIDE) {
      relay_write(r, f, len / 2);
      ok = false;
    } else if (r->act == ACT_CUT_BEFORE) {
      ok = false;
    }                                    /* ACT_DROP: nothing */
    free(f);
    if (!ok) break;
  }
end:
  shutdown(r->out, SHUT_WR);
  uint8_t sink[65536];                   /* keep reading so that the sender never blocks */
  while (read(r->in, sink, sizeof sink) > 0) {}
  return NULL;
}

typedef struct mitm {
  int m1, m2;                            /* the relay's ends: m1 faces the client, m2 the server */
  relay c2s, s2c;
} mitm;

/* Put m between c and s (c2s acts on the client's records) and run the handshake. */
static void connect_through(mitm *m, end *c, end *s) {
  int a[2], b[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
  c->fd = a[0], m->m1 = a[1];
  m->m2 = b[0], s->fd = b[1];
  m->c2s.in = m->m1, m->c2s.out = m->m2;
  m->s2c.in = m->m2, m->s2c.out = m->m1;
  assert_int_equal(pthread_create(&m->c2s.t, NULL, relay_main, &m->c2s), 0);
  assert_int_equal(pthread_create(&m->s2c.t, NULL, relay_main, &m->s2c), 0);
  handshake(c, s);
}

/* After both ends are closed. */
static void mitm_end(mitm *m) {
  assert_int_equal(pthread_join(m->c2s.t, NULL), 0);
  assert_int_equal(pthread_join(m->s2c.t, NULL), 0);
  close(m->m1);
  close(m->m2);
}

static mitm *mitm_new(int record, mitm_act act, size_t at, uint8_t mask) {
  mitm *m = calloc(1, sizeof *m);
  m->c2s.record = record, m->c2s.act = act, m->c2s.at = at, m->c2s.mask = mask;
  m->s2c.record = -1;
  m->c2s.hs_flip = m->s2c.hs_flip = -1;
  return m;
}

/* ---- Handshake and roundtrips ------------------------------------------------------------------- */

static void test_handshake_authenticates_both_roles_and_names_the_peer(void **state) {
  fixture *fx = *state;
  end c, s;
  ends_default(fx, &c, &s, false);
  c.expect = "beta";
  connect_direct(&c, &s);
  expect_established(&c, &s);
  assert_string_equal(chan_peer(c.ch), "beta");
  assert_string_equal(chan_peer(s.ch), "alpha");
  assert_string_equal(chan_cipher(c.ch), chan_cipher(s.ch));
  assert_true(!strcmp(chan_cipher(c.ch), "aes256gcm") || !strcmp(chan_cipher(c.ch), "xchacha20poly1305"));
  assert_int_equal(chan_fd(c.ch), c.fd);
  chan_close(c.ch);
  expect_close(s.ch);
  chan_close(s.ch);
}

static void test_either_side_forcing_xchacha_gets_xchacha(void **state) {
  fixture *fx = *state;
  for (int who = 0; who < 2; who++) {
    end c, s;
    ends_default(fx, &c, &s, false);
    (who ? &s : &c)->cfg.force_xchacha = true;
    connect_direct(&c, &s);
    expect_established(&c, &s);
    assert_string_equal(chan_cipher(c.ch), "xchacha20poly1305");
    assert_string_equal(chan_cipher(s.ch), "xchacha20poly1305");
    chan_close(c.ch);
    chan_close(s.ch);
  }
}

/* The server echoes every frame it receives; the client sends from one thread and receives
 * the echoes on another (one sender and one receiver per chan at a time is the contract). */
#define RT_FRAMES 8
static size_t rt_bulk(unsigned i) {
  static const size_t sizes[RT_FRAMES] = {0, 1, 4096, 1 << 20, 0, 65536 + 3, 17, 3 << 20};
  return sizes[i];
}

static void *echo_main(void *arg) {
  chan *ch = arg;
  for (;;) {
    ProtobufCMessage *out;
    const uint8_t *bulk;
    size_t n;
    int rc = chan_recv(ch, &hpvm__vm_info__descriptor, &out, &bulk, &n, IO_MS, NULL, 0);
    if (rc) break;
    rc = chan_send(ch, out, bulk, n, IO_MS, NULL, 0);
    protobuf_c_message_free_unpacked(out, NULL);
    if (rc) break;
  }
  chan_close(ch);
  return NULL;
}

static void *send_all_main(void *arg) {
  chan *ch = arg;
  for (unsigned i = 0; i < RT_FRAMES; i++) assert_int_equal(send_numbered(ch, i, rt_bulk(i), NULL, 0), 0);
  /* A frame with no message and no bulk, then one with bulk only. */
  assert_int_equal(chan_send(ch, NULL, NULL, 0, IO_MS, NULL, 0), 0);
  uint8_t b[100];
  fill(b, sizeof b, 99);
  assert_int_equal(chan_send(ch, NULL, b, sizeof b, IO_MS, NULL, 0), 0);
  return NULL;
}

static void roundtrip(fixture *fx, bool xchacha, const char *want_cipher) {
  end c, s;
  ends_default(fx, &c, &s, xchacha);
  connect_direct(&c, &s);
  expect_established(&c, &s);
  if (!want_cipher) want_cipher = chan_cipher(c.ch);
  assert_string_equal(chan_cipher(c.ch), want_cipher);
  pthread_t echo, sender;
  assert_int_equal(pthread_create(&echo, NULL, echo_main, s.ch), 0);
  assert_int_equal(pthread_create(&sender, NULL, send_all_main, c.ch), 0);
  for (unsigned i = 0; i < RT_FRAMES; i++) expect_numbered(c.ch, i, rt_bulk(i));
  ProtobufCMessage *out;
  const uint8_t *bulk;
  size_t n;
  assert_int_equal(chan_recv(c.ch, &hpvm__vm_info__descriptor, &out, &bulk, &n, IO_MS, NULL, 0), 0);
  assert_null(((Hpvm__VmInfo *)out)->name[0] ? "named" : NULL);  /* an empty message unpacks as defaults */
  assert_int_equal(n, 0);
  protobuf_c_message_free_unpacked(out, NULL);
  assert_int_equal(chan_recv(c.ch, &hpvm__vm_info__descriptor, &out, &bulk, &n, IO_MS, NULL, 0), 0);
  protobuf_c_message_free_unpacked(out, NULL);
  uint8_t want[100];
  fill(want, sizeof want, 99);
  assert_int_equal(n, sizeof want);
  assert_memory_equal(bulk, want, sizeof want);
  assert_int_equal(pthread_join(sender, NULL), 0);
  chan_close(c.ch);                      /* the echo sees our close and closes too */
  assert_int_equal(pthread_join(echo, NULL), 0);
}

static void test_messages_and_bulk_roundtrip_with_xchacha20poly1305(void **state) {
  roundtrip(*state, true, "xchacha20poly1305");
}

static void test_messages_and_bulk_roundtrip_with_aes256gcm(void **state) {
  fixture *fx = *state;
  end c, s;
  ends_default(fx, &c, &s, false);
  connect_direct(&c, &s);
  expect_established(&c, &s);
  bool aes = !strcmp(chan_cipher(c.ch), "aes256gcm");
  chan_close(c.ch);
  chan_close(s.ch);
  if (!aes) {
    print_message("skipped: this CPU has no AES-NI/PCLMUL, so libsodium offers no AES-256-GCM\n");
    skip();
  }
  roundtrip(fx, false, "aes256gcm");
}

typedef struct big_send {
  chan *ch;
  const void *m;
  const uint8_t *b;
  size_t blen;
  int rc;
} big_send;

static void *big_send_main(void *arg) {
  big_send *bs = arg;
  bs->rc = chan_send(bs->ch, bs->m, bs->b, bs->blen, IO_MS, NULL, 0);
  return NULL;
}

static void test_a_frame_of_exactly_the_limit_passes_and_one_byte_more_is_refused(void **state) {
  fixture *fx = *state;
  end c, s;
  ends_default(fx, &c, &s, false);
  connect_direct(&c, &s);
  expect_established(&c, &s);
  Hpvm__VmInfo m = HPVM__VM_INFO__INIT;
  m.name = "limit";
  size_t mlen = protobuf_c_message_get_packed_size(&m.base);
  size_t blen = CHAN_MAX_FRAME - mlen;
  uint8_t *b = malloc(blen);
  fill(b, blen, 5);
  big_send bs = {.ch = c.ch, .m = &m.base, .b = b, .blen = blen, .rc = -1};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, big_send_main, &bs), 0);
  char msg[512];
  ProtobufCMessage *out;
  const uint8_t *bulk;
  size_t n;
  assert_int_equal(chan_recv(s.ch, &hpvm__vm_info__descriptor, &out, &bulk, &n, IO_MS, msg, sizeof msg), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(bs.rc, 0);
  assert_string_equal(((Hpvm__VmInfo *)out)->name, "limit");
  protobuf_c_message_free_unpacked(out, NULL);
  assert_int_equal(n, blen);
  assert_memory_equal(bulk, b, blen);
  free(b);
  /* One byte more is refused before the bulk is touched (so a small buffer will do). */
  uint8_t small[1] = {0};
  assert_int_equal(chan_send(c.ch, &m.base, small, blen + 1, IO_MS, msg, sizeof msg), HPVM_ERANGE);
  assert_non_null(strstr(msg, "over the limit"));
  chan_abort(c.ch);
  chan_close(s.ch);
}

/* ---- Tampered streams ---------------------------------------------------------------------------- */

typedef struct four_frames {
  chan *ch;
  size_t bulk;
  int rc[4];
} four_frames;

/* Frames 0..3 with bulk + i bytes each, then the close; from a thread of its own, so that
 * frames larger than the socket buffers flow while the other side reads. */
static void *four_frames_main(void *arg) {
  four_frames *ff = arg;
  for (unsigned i = 0; i < 4; i++) ff->rc[i] = send_numbered(ff->ch, i, ff->bulk + i, NULL, 0);
  chan_close(ff->ch);
  return NULL;
}

/* The client sends frames 0..3 (then its close) through a relay that does `act` to record
 * `record`; the server must get exactly the first `delivered` frames, then rc with phrase,
 * and nothing after. */
static void tamper_case_bulk(fixture *fx, size_t bulk, mitm_act act, int record, size_t at, uint8_t mask,
                             int delivered, int rc, const char *phrase) {
  end c, s;
  ends_default(fx, &c, &s, false);
  mitm *m = mitm_new(record, act, at, mask);
  connect_through(m, &c, &s);
  expect_established(&c, &s);
  four_frames ff = {.ch = c.ch, .bulk = bulk};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, four_frames_main, &ff), 0);
  for (int i = 0; i < delivered; i++) expect_numbered(s.ch, (unsigned)i, bulk + (size_t)i);
  expect_recv_fails(s.ch, rc, phrase);
  chan_close(s.ch);                      /* a failed channel is not closed cleanly: no close frame */
  assert_int_equal(pthread_join(t, NULL), 0);
  for (int i = 0; i < 4; i++) assert_int_equal(ff.rc[i], 0);  /* the relay took everything */
  mitm_end(m);
  free(m);
}

/* Small frames: one record each, so record numbers are frame numbers (the close is record 4). */
static void tamper_case(fixture *fx, mitm_act act, int record, size_t at, uint8_t mask, int delivered, int rc,
                        const char *phrase) {
  tamper_case_bulk(fx, 1000, act, record, at, mask, delivered, rc, phrase);
}

static void test_a_flipped_bit_anywhere_in_a_frame_is_refused(void **state) {
  const size_t at[] = {0, 4, 5, FRAME_HDR, FRAME_HDR + 3, FRAME_HDR + 600, (size_t)-1 /* the tag's last byte */};
  for (size_t k = 0; k < sizeof at / sizeof at[0]; k++)
    tamper_case(*state, ACT_FLIP, 1, at[k], 1, 1, HPVM_ECORRUPT, "record 1 from host alpha");
}

/* The header is the AEAD's associated data: a close frame turned into a data frame (type 2
 * -> 1, the length unchanged) fails authentication like a modified payload. */
static void test_a_frame_whose_type_was_changed_is_refused(void **state) {
  tamper_case(*state, ACT_FLIP, 4, 4, 3, 4, HPVM_ECORRUPT, "record 4 from host alpha fails authentication");
}

static void test_a_replayed_frame_is_refused(void **state) {
  tamper_case(*state, ACT_REPLAY, 1, 0, 0, 2, HPVM_ECORRUPT, "record 2 from host alpha fails authentication");
}

static void test_two_swapped_frames_are_refused(void **state) {
  tamper_case(*state, ACT_SWAP, 1, 0, 0, 1, HPVM_ECORRUPT, "record 1 from host alpha fails authentication");
}

static void test_a_dropped_frame_is_refused(void **state) {
  tamper_case(*state, ACT_DROP, 2, 0, 0, 2, HPVM_ECORRUPT, "record 2 from host alpha fails authentication");
}

static void test_a_stream_cut_inside_a_frame_is_truncation(void **state) {
  tamper_case(*state, ACT_CUT_INSIDE, 2, 0, 0, 2, HPVM_ETRUNC, "ended inside record 2 (truncated)");
}

static void test_a_stream_cut_before_the_close_is_truncation(void **state) {
  tamper_case(*state, ACT_CUT_BEFORE, 4, 0, 0, 4, HPVM_ETRUNC,
              "stream from host alpha ended without its close (truncated)");
}

static void test_an_aborted_sender_is_seen_as_truncation(void **state) {
  fixture *fx = *state;
  end c, s;
  ends_default(fx, &c, &s, false);
  connect_direct(&c, &s);
  expect_established(&c, &s);
  assert_int_equal(send_numbered(c.ch, 0, 10, NULL, 0), 0);
  chan_abort(c.ch);
  expect_numbered(s.ch, 0, 10);
  expect_recv_fails(s.ch, HPVM_ETRUNC, "ended without its close (truncated)");
  chan_close(s.ch);
}

static void test_a_length_over_the_limit_is_refused_before_reading_it(void **state) {
  fixture *fx = *state;
  end c, s;
  ends_default(fx, &c, &s, false);
  connect_direct(&c, &s);
  expect_established(&c, &s);
  uint8_t h[FRAME_HDR];
  put32(h, 0xfffffff0u);
  put32(h + 4, 1);
  assert_int_equal(write(chan_fd(c.ch), h, sizeof h), (ssize_t)sizeof h);
  expect_recv_fails(s.ch, HPVM_ERANGE, "claims 4294967280 bytes, over the limit");
  /* The failure ends the other direction too. */
  char msg[512];
  assert_int_equal(send_numbered(s.ch, 0, 0, msg, sizeof msg), HPVM_ERANGE);
  chan_abort(c.ch);
  chan_close(s.ch);
}

static void test_a_receive_times_out_and_stays_failed(void **state) {
  fixture *fx = *state;
  end c, s;
  ends_default(fx, &c, &s, false);
  connect_direct(&c, &s);
  expect_established(&c, &s);
  char msg[512];
  assert_int_equal(chan_recv(s.ch, NULL, NULL, NULL, NULL, 50, msg, sizeof msg), HPVM_ETIMEDOUT);
  assert_non_null(strstr(msg, "host alpha sent nothing for 50 ms"));
  assert_int_equal(send_numbered(c.ch, 0, 0, NULL, 0), 0);
  assert_int_equal(chan_recv(s.ch, NULL, NULL, NULL, NULL, IO_MS, msg, sizeof msg), HPVM_ETIMEDOUT);
  chan_close(c.ch);
  chan_close(s.ch);
}

/* Frames of 200 kB travel as 4 records each (docs/wire/chan.md): frame 0 is records 0-3,
 * frame 1 records 4-7. A record taken out of, moved within, or cut from a frame is caught
 * like a whole frame, and the frame is not delivered. */
static void test_the_records_of_a_large_frame_are_protected_one_by_one(void **state) {
  const size_t bulk = 200000;
  tamper_case_bulk(*state, bulk, ACT_DROP, 1, 0, 0, 0, HPVM_ECORRUPT, "record 1 from host alpha fails authentication");
  tamper_case_bulk(*state, bulk, ACT_FLIP, 2, FRAME_HDR + 100, 0, 0, HPVM_ECORRUPT,
                   "record 2 from host alpha fails authentication");
  tamper_case_bulk(*state, bulk, ACT_SWAP, 5, 0, 0, 1, HPVM_ECORRUPT, "record 5 from host alpha fails authentication");
  tamper_case_bulk(*state, bulk, ACT_REPLAY, 3, 0, 0, 1, HPVM_ECORRUPT,
                   "record 4 from host alpha fails authentication");
  tamper_case_bulk(*state, bulk, ACT_CUT_BEFORE, 6, 0, 0, 1, HPVM_ETRUNC, "ended inside record 6 (truncated)");
  tamper_case_bulk(*state, bulk, ACT_CUT_INSIDE, 7, 0, 0, 1, HPVM_ETRUNC, "ended inside record 7 (truncated)");
}

/* ---- Refused handshakes ---------------------------------------------------------------------------- */

static void test_an_untrusted_client_is_refused_and_told_so(void **state) {
  fixture *fx = *state;
  end c, s;
  end_init(&c, &fx->gamma, fx->secret, &fx->beta, false);
  end_init(&s, &fx->beta, fx->secret, &fx->alpha, false);
  connect_direct(&c, &s);
  expect_refused(&s, HPVM_EAUTH, "host gamma is not trusted: register its key (hpvmhost trust gamma)");
  assert_non_null(strstr(s.msg, "no key registered for gamma"));
  expect_refused(&c, HPVM_EAUTH, "refused the connection: it does not trust this host (gamma)");
}

static void test_a_client_with_a_trusted_name_but_another_key_is_refused(void **state) {
  fixture *fx = *state;
  chan_identity fake = fx->gamma;        /* gamma's keys under alpha's name */
  snprintf(fake.host, sizeof fake.host, "alpha");
  end c, s;
  end_init(&c, &fake, fx->secret, &fx->beta, false);
  end_init(&s, &fx->beta, fx->secret, &fx->alpha, false);
  connect_direct(&c, &s);
  expect_refused(&s, HPVM_EAUTH, "host alpha is not trusted");
  expect_refused(&c, HPVM_EAUTH, "refused the connection");
}

/* An impostor who copied alpha's published keys but holds other secret keys: trust() accepts
 * the name and keys, the signature and the static DH give it away. */
static void test_a_client_with_published_keys_but_not_the_secret_ones_is_refused(void **state) {
  fixture *fx = *state;
  chan_identity fake = fx->gamma;
  snprintf(fake.host, sizeof fake.host, "alpha");
  memcpy(fake.sign_pk, fx->alpha.sign_pk, 32);
  memcpy(fake.kx_pk, fx->alpha.kx_pk, 32);
  end c, s;
  end_init(&c, &fake, fx->secret, &fx->beta, false);
  end_init(&s, &fx->beta, fx->secret, &fx->alpha, false);
  connect_direct(&c, &s);
  expect_refused(&s, HPVM_EAUTH, "host alpha did not prove its identity");
  assert_int_equal(c.rc, HPVM_EAUTH);
  assert_null(c.ch);
}

static void test_a_server_with_published_keys_but_not_the_secret_ones_is_refused(void **state) {
  fixture *fx = *state;
  chan_identity fake = fx->gamma;
  snprintf(fake.host, sizeof fake.host, "beta");
  memcpy(fake.sign_pk, fx->beta.sign_pk, 32);
  memcpy(fake.kx_pk, fx->beta.kx_pk, 32);
  end c, s;
  end_init(&c, &fx->alpha, fx->secret, &fx->beta, false);
  end_init(&s, &fake, fx->secret, &fx->alpha, false);
  c.expect = "beta";
  connect_direct(&c, &s);
  expect_refused(&c, HPVM_EAUTH, "host beta did not prove its identity");
  expect_refused(&s, HPVM_ETRUNC, "host alpha closed the connection during the handshake");
}

static void test_an_untrusted_server_is_refused_and_told_so(void **state) {
  fixture *fx = *state;
  end c, s;
  end_init(&c, &fx->alpha, fx->secret, &fx->beta, false);
  end_init(&s, &fx->gamma, fx->secret, &fx->alpha, false);
  connect_direct(&c, &s);
  expect_refused(&c, HPVM_EAUTH, "host gamma is not trusted");
  expect_refused(&s, HPVM_EAUTH, "host alpha refused the connection: it does not trust this host (gamma)");
}

static void test_a_server_that_is_not_the_expected_host_is_refused(void **state) {
  fixture *fx = *state;
  end c, s;
  ends_default(fx, &c, &s, false);
  c.expect = "delta";
  connect_direct(&c, &s);
  expect_refused(&c, HPVM_EAUTH, "connected to host beta, not to delta");
  expect_refused(&s, HPVM_EAUTH, "host alpha meant to reach another host, not beta");
}

static void test_a_wrong_cluster_secret_fails_on_both_sides(void **state) {
  fixture *fx = *state;
  end c, s;
  ends_default(fx, &c, &s, false);
  s.cfg.cluster_secret = fx->other_secret;
  connect_direct(&c, &s);
  expect_refused(&c, HPVM_EAUTH, "cluster secret mismatch: host beta and this host (alpha)");
  expect_refused(&s, HPVM_EAUTH, "cluster secret mismatch: host alpha and this host (beta)");

  ends_default(fx, &c, &s, false);       /* one side without a secret: also a mismatch */
  c.cfg.cluster_secret = NULL;
  connect_direct(&c, &s);
  expect_refused(&c, HPVM_EAUTH, "(this host has none)");
  expect_refused(&s, HPVM_EAUTH, "cluster secret mismatch");
}

static void test_no_cluster_secret_on_either_side_still_authenticates(void **state) {
  fixture *fx = *state;
  end c, s;
  ends_default(fx, &c, &s, false);
  c.cfg.cluster_secret = s.cfg.cluster_secret = NULL;
  connect_direct(&c, &s);
  expect_established(&c, &s);
  assert_int_equal(send_numbered(c.ch, 7, 7, NULL, 0), 0);
  expect_numbered(s.ch, 7, 7);
  chan_close(c.ch);
  chan_close(s.ch);
}

/* Write buf to a fresh socketpair's one end (it fits the socket buffer), run the role on the
 * other; the bytes the role wrote are returned in *reply. */
static void feed_role(end *e, bool client, const uint8_t *buf, size_t len, uint8_t *reply, size_t *replylen) {
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  assert_int_equal(write(sv[0], buf, len), (ssize_t)len);
  shutdown(sv[0], SHUT_WR);
  e->fd = sv[1];
  if (client) e->rc = chan_client(e->fd, &e->cfg, e->expect, &e->ch, e->msg, sizeof e->msg);
  else e->rc = chan_server(e->fd, &e->cfg, &e->ch, e->msg, sizeof e->msg);
  ssize_t n = read(sv[0], reply, 4096);
  *replylen = n > 0 ? (size_t)n : 0;
  close(sv[0]);
}

static void test_a_replayed_handshake_yields_nothing(void **state) {
  fixture *fx = *state;
  end c, s;
  ends_default(fx, &c, &s, false);
  mitm *m = mitm_new(-1, ACT_NONE, 0, 0);
  connect_through(m, &c, &s);
  expect_established(&c, &s);
  assert_int_equal(send_numbered(c.ch, 0, 100, NULL, 0), 0);
  expect_numbered(s.ch, 0, 100);
  assert_int_equal(send_numbered(s.ch, 1, 100, NULL, 0), 0);
  expect_numbered(c.ch, 1, 100);
  chan_close(c.ch);
  chan_close(s.ch);
  mitm_end(m);

  /* Everything the client said, replayed to a new server: its fresh ephemeral key and nonce
   * change the transcript, so the recorded signature proves nothing. */
  uint8_t reply[4096];
  size_t rlen;
  ends_default(fx, &c, &s, false);
  feed_role(&s, false, m->c2s.log, m->c2s.loglen, reply, &rlen);
  expect_refused(&s, HPVM_EAUTH, "host alpha did not prove its identity");
  /* Everything the server said, replayed to a new client: the same. */
  feed_role(&c, true, m->s2c.log, m->s2c.loglen, reply, &rlen);
  expect_refused(&c, HPVM_EAUTH, "host beta did not prove its identity");
  free(m);
}

/* Every byte of the handshake is bound by the transcript, a signature or a MAC: a man in the
 * middle flipping one bit anywhere in what the client says (hello, confirmation) or what the
 * server says (hello, confirmation) makes the handshake fail. The side that checks the
 * flipped message refuses; only a flip in the client's confirmation, which the server checks
 * last, leaves the client with a channel, and then its first receive meets the end. */
static void test_any_bit_flipped_in_a_live_handshake_is_refused(void **state) {
  fixture *fx = *state;
  size_t hello_c = HELLO_FIXED + strlen(fx->alpha.host), hello_s = HELLO_FIXED + strlen(fx->beta.host);
  for (int dir = 0; dir < 2; dir++) {
    size_t len = (dir ? hello_s : hello_c) + CONFIRM_LEN;
    for (size_t k = 0; k < len; k++) {
      end c, s;
      ends_default(fx, &c, &s, false);
      c.cfg.timeout_ms = s.cfg.timeout_ms = 300;  /* a flipped name length leaves one side waiting */
      mitm *m = mitm_new(-1, ACT_NONE, 0, 0);
      (dir ? &m->s2c : &m->c2s)->hs_flip = (long)k;
      connect_through(m, &c, &s);
      bool client_last = dir == 0 && k >= hello_c;
      if (s.rc == 0 || (c.rc == 0 && !client_last))
        print_message("%s byte %zu flipped: client %d %s / server %d %s\n", dir ? "server" : "client", k, c.rc, c.msg,
                      s.rc, s.msg);
      assert_true(s.rc < 0);
      assert_null(s.ch);
      if (c.rc == 0) {
        assert_true(client_last);
        assert_int_equal(chan_recv(c.ch, NULL, NULL, NULL, NULL, IO_MS, NULL, 0), HPVM_ETRUNC);
        chan_close(c.ch);
      } else {
        assert_null(c.ch);
      }
      mitm_end(m);
      free(m);
    }
  }
}

static void test_garbage_instead_of_a_hello_is_refused(void **state) {
  fixture *fx = *state;
  static const char garbage[] = "GET / HTTP/1.1\r\nHost: beta\r\n\r\n";
  uint8_t reply[4096];
  size_t rlen;
  end c, s;
  ends_default(fx, &c, &s, false);
  feed_role(&s, false, (const uint8_t *)garbage, sizeof garbage - 1, reply, &rlen);
  expect_refused(&s, HPVM_ECORRUPT, "does not speak the hpvm channel protocol (garbage instead of a hello)");
  assert_int_equal(rlen, 0);             /* nothing said to it */
  feed_role(&c, true, (const uint8_t *)garbage, sizeof garbage - 1, reply, &rlen);
  expect_refused(&c, HPVM_ECORRUPT, "does not speak the hpvm channel protocol");
  /* A peer that says a little and then nothing at all. */
  feed_role(&s, false, (const uint8_t *)"HPVMCHN", 7, reply, &rlen);
  expect_refused(&s, HPVM_ETRUNC, "closed the connection during the handshake");
}

static void test_another_protocol_version_is_refused_with_both_versions(void **state) {
  fixture *fx = *state;
  end c, s;
  ends_default(fx, &c, &s, false);
  mitm *m = mitm_new(-1, ACT_NONE, 0, 0);
  connect_through(m, &c, &s);
  expect_established(&c, &s);
  chan_close(c.ch);
  chan_close(s.ch);
  mitm_end(m);
  uint8_t hello[4096], reply[4096];
  size_t rlen, hlen = HELLO_FIXED + m->c2s.log[HELLO_NAME_LEN_AT];
  memcpy(hello, m->c2s.log, hlen);
  hello[7] = 2;
  ends_default(fx, &c, &s, false);
  feed_role(&s, false, hello, hlen, reply, &rlen);
  expect_refused(&s, HPVM_ENOTSUP, "speaks channel protocol version 2, this host version 1");
  assert_int_equal(rlen, OPENING_LEN);   /* the refusal, in this host's version */
  assert_memory_equal(reply, "HPVMCHN\x01\x04\x03", OPENING_LEN);
  free(m);
}

static void test_a_silent_peer_times_the_handshake_out(void **state) {
  fixture *fx = *state;
  end c, s;
  ends_default(fx, &c, &s, false);
  s.cfg.timeout_ms = 50;
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  assert_int_equal(chan_server(sv[1], &s.cfg, &s.ch, s.msg, sizeof s.msg), HPVM_ETIMEDOUT);
  assert_null(s.ch);
  assert_non_null(strstr(s.msg, "within 50 ms"));
  close(sv[0]);
}

/* ---- Hand-over ------------------------------------------------------------------------------------ */

static void test_export_and_import_continue_the_session_in_a_new_chan(void **state) {
  fixture *fx = *state;
  end c, s;
  ends_default(fx, &c, &s, false);
  connect_direct(&c, &s);
  expect_established(&c, &s);
  const char *cipher = chan_cipher(c.ch);
  assert_int_equal(send_numbered(c.ch, 0, 10, NULL, 0), 0);
  expect_numbered(s.ch, 0, 10);
  assert_int_equal(send_numbered(s.ch, 1, 10, NULL, 0), 0);
  expect_numbered(c.ch, 1, 10);

  uint8_t st[CHAN_STATE_LEN];
  int fd = chan_fd(s.ch);
  assert_int_equal(chan_export(s.ch, st), 0);
  int fd2 = dup(fd);                     /* as if passed with SCM_RIGHTS */
  close(fd);
  /* A damaged state is refused. */
  chan *bad = NULL;
  char msg[512];
  uint8_t st_bad[CHAN_STATE_LEN];
  memcpy(st_bad, st, sizeof st);
  st_bad[0] ^= 1;
  assert_int_equal(chan_import(fd2, st_bad, &bad, msg, sizeof msg), HPVM_ECORRUPT);
  assert_null(bad);
  memcpy(st_bad, st, sizeof st);
  st_bad[CHAN_STATE_LEN - 1] = 1;
  assert_int_equal(chan_import(fd2, st_bad, &bad, msg, sizeof msg), HPVM_ECORRUPT);

  chan *imp = NULL;
  assert_int_equal(chan_import(fd2, st, &imp, msg, sizeof msg), 0);
  assert_string_equal(chan_peer(imp), "alpha");
  assert_string_equal(chan_cipher(imp), cipher);
  assert_int_equal(chan_fd(imp), fd2);
  for (unsigned i = 2; i < 5; i++) assert_int_equal(send_numbered(c.ch, i, 100 * i, NULL, 0), 0);
  for (unsigned i = 2; i < 5; i++) expect_numbered(imp, i, 100 * i);
  assert_int_equal(send_numbered(imp, 5, 5, NULL, 0), 0);
  expect_numbered(c.ch, 5, 5);
  chan_close(c.ch);
  expect_close(imp);
  chan_close(imp);
}

static void test_a_failed_channel_cannot_be_exported(void **state) {
  fixture *fx = *state;
  end c, s;
  ends_default(fx, &c, &s, false);
  connect_direct(&c, &s);
  expect_established(&c, &s);
  int fd = chan_fd(s.ch);
  assert_int_equal(chan_recv(s.ch, NULL, NULL, NULL, NULL, 20, NULL, 0), HPVM_ETIMEDOUT);
  uint8_t st[CHAN_STATE_LEN];
  assert_int_equal(chan_export(s.ch, st), HPVM_ETIMEDOUT);
  assert_true(fcntl(fd, F_GETFD) >= 0);  /* the fd is still the caller's */
  close(fd);
  chan_close(c.ch);
}

/* ---- The host key file ----------------------------------------------------------------------------- */

static void key_dir(fixture *fx, const char *name, char *dir, size_t dirlen, char *path, size_t pathlen) {
  snprintf(dir, dirlen, "%s/%s", fx->dir, name);
  assert_int_equal(mkdir(dir, 0700), 0);
  snprintf(path, pathlen, "%s/%s", dir, CHAN_KEY_FILE);
}

static size_t slurp(const char *path, uint8_t *buf, size_t cap) {
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  ssize_t n = read(fd, buf, cap);
  close(fd);
  assert_true(n >= 0);
  return (size_t)n;
}

static void test_the_key_file_is_created_0600_and_loads_the_same_keys(void **state) {
  fixture *fx = *state;
  char dir[128], path[160], msg[512];
  key_dir(fx, "k_create", dir, sizeof dir, path, sizeof path);
  chan_identity a, b;
  assert_int_equal(chan_identity_load(dir, "host1", &a, msg, sizeof msg), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  assert_int_equal(st.st_size, 208);
  assert_int_equal(chan_identity_load(dir, "host1", &b, msg, sizeof msg), 0);
  assert_string_equal(b.host, "host1");
  assert_memory_equal(a.sign_pk, b.sign_pk, 32);
  assert_memory_equal(a.sign_sk, b.sign_sk, 64);
  assert_memory_equal(a.kx_pk, b.kx_pk, 32);
  assert_memory_equal(a.kx_sk, b.kx_sk, 32);
  /* Another host's keys differ. */
  assert_memory_not_equal(a.sign_pk, fx->alpha.sign_pk, 32);
  /* Nothing else is left in the directory (no temporary file). */
  char cmd[256];
  snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", dir);
  assert_int_equal(system(cmd), 0);
}

static void test_a_key_file_others_can_read_is_refused_and_left_alone(void **state) {
  fixture *fx = *state;
  char dir[128], path[160], msg[512];
  key_dir(fx, "k_perm", dir, sizeof dir, path, sizeof path);
  chan_identity id;
  assert_int_equal(chan_identity_load(dir, "host1", &id, msg, sizeof msg), 0);
  uint8_t before[512], after[512];
  size_t n = slurp(path, before, sizeof before);
  const mode_t modes[] = {0640, 0604, 0620, 0660};
  for (size_t k = 0; k < sizeof modes / sizeof modes[0]; k++) {
    assert_int_equal(chmod(path, modes[k]), 0);
    assert_int_equal(chan_identity_load(dir, "host1", &id, msg, sizeof msg), HPVM_EPERM);
    assert_non_null(strstr(msg, "chmod 600"));
    assert_int_equal(slurp(path, after, sizeof after), n);
    assert_memory_equal(before, after, n);
  }
  assert_int_equal(chmod(path, 0600), 0);
  assert_int_equal(chan_identity_load(dir, "host1", &id, msg, sizeof msg), 0);
}

static void test_a_damaged_key_file_is_refused_and_never_overwritten(void **state) {
  fixture *fx = *state;
  char dir[128], path[160], msg[512];
  key_dir(fx, "k_corrupt", dir, sizeof dir, path, sizeof path);
  chan_identity id;
  assert_int_equal(chan_identity_load(dir, "host1", &id, msg, sizeof msg), 0);
  uint8_t good[512], now[512];
  size_t n = slurp(path, good, sizeof good);
  /* One flipped bit at a few places (magic, keys, checksum), then a short file. */
  const size_t at[] = {0, 20, 100, 150, 200};
  for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
    uint8_t bad[512];
    memcpy(bad, good, n);
    bad[at[k]] ^= 0x10;
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, bad, n), (ssize_t)n);
    close(fd);
    assert_int_equal(chan_identity_load(dir, "host1", &id, msg, sizeof msg), HPVM_ECORRUPT);
    assert_non_null(strstr(msg, "is damaged"));
    assert_int_equal(slurp(path, now, sizeof now), n);
    assert_memory_equal(now, bad, n);
  }
  assert_int_equal(truncate(path, 100), 0);
  assert_int_equal(chan_identity_load(dir, "host1", &id, msg, sizeof msg), HPVM_ECORRUPT);
  assert_int_equal(slurp(path, now, sizeof now), 100);
}

static void test_key_file_errors_name_the_fix(void **state) {
  fixture *fx = *state;
  char dir[128], path[160], msg[512];
  chan_identity id;
  snprintf(dir, sizeof dir, "%s/no_such_dir", fx->dir);
  assert_int_equal(chan_identity_load(dir, "host1", &id, msg, sizeof msg), HPVM_ENOENT);
  assert_non_null(strstr(msg, "create the state directory"));
  key_dir(fx, "k_link", dir, sizeof dir, path, sizeof path);
  assert_int_equal(symlink("/etc/hostname", path), 0);
  assert_int_equal(chan_identity_load(dir, "host1", &id, msg, sizeof msg), HPVM_EPERM);
  assert_non_null(strstr(msg, "symbolic link"));
  assert_int_equal(chan_identity_load(dir, "bad/name", &id, msg, sizeof msg), HPVM_EINVAL);
  assert_int_equal(chan_identity_load(dir, "", &id, msg, sizeof msg), HPVM_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_handshake_authenticates_both_roles_and_names_the_peer),
    cmocka_unit_test(test_either_side_forcing_xchacha_gets_xchacha),
    cmocka_unit_test(test_messages_and_bulk_roundtrip_with_xchacha20poly1305),
    cmocka_unit_test(test_messages_and_bulk_roundtrip_with_aes256gcm),
    cmocka_unit_test(test_a_frame_of_exactly_the_limit_passes_and_one_byte_more_is_refused),
    cmocka_unit_test(test_a_flipped_bit_anywhere_in_a_frame_is_refused),
    cmocka_unit_test(test_a_frame_whose_type_was_changed_is_refused),
    cmocka_unit_test(test_a_replayed_frame_is_refused),
    cmocka_unit_test(test_two_swapped_frames_are_refused),
    cmocka_unit_test(test_a_dropped_frame_is_refused),
    cmocka_unit_test(test_a_stream_cut_inside_a_frame_is_truncation),
    cmocka_unit_test(test_a_stream_cut_before_the_close_is_truncation),
    cmocka_unit_test(test_the_records_of_a_large_frame_are_protected_one_by_one),
    cmocka_unit_test(test_an_aborted_sender_is_seen_as_truncation),
    cmocka_unit_test(test_a_length_over_the_limit_is_refused_before_reading_it),
    cmocka_unit_test(test_a_receive_times_out_and_stays_failed),
    cmocka_unit_test(test_an_untrusted_client_is_refused_and_told_so),
    cmocka_unit_test(test_a_client_with_a_trusted_name_but_another_key_is_refused),
    cmocka_unit_test(test_a_client_with_published_keys_but_not_the_secret_ones_is_refused),
    cmocka_unit_test(test_a_server_with_published_keys_but_not_the_secret_ones_is_refused),
    cmocka_unit_test(test_an_untrusted_server_is_refused_and_told_so),
    cmocka_unit_test(test_a_server_that_is_not_the_expected_host_is_refused),
    cmocka_unit_test(test_a_wrong_cluster_secret_fails_on_both_sides),
    cmocka_unit_test(test_no_cluster_secret_on_either_side_still_authenticates),
    cmocka_unit_test(test_a_replayed_handshake_yields_nothing),
    cmocka_unit_test(test_any_bit_flipped_in_a_live_handshake_is_refused),
    cmocka_unit_test(test_garbage_instead_of_a_hello_is_refused),
    cmocka_unit_test(test_another_protocol_version_is_refused_with_both_versions),
    cmocka_unit_test(test_a_silent_peer_times_the_handshake_out),
    cmocka_unit_test(test_export_and_import_continue_the_session_in_a_new_chan),
    cmocka_unit_test(test_a_failed_channel_cannot_be_exported),
    cmocka_unit_test(test_the_key_file_is_created_0600_and_loads_the_same_keys),
    cmocka_unit_test(test_a_key_file_others_can_read_is_refused_and_left_alone),
    cmocka_unit_test(test_a_damaged_key_file_is_refused_and_never_overwritten),
    cmocka_unit_test(test_key_file_errors_name_the_fix),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
