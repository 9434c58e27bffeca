/* test_live_security.c — a live migration under attack or misconfigured is refused and the
 * guest is unharmed. Real hpvmd hosts on loopback (live_test.h), a guest running memverify +
 * heartbeat + diskverify; every case ends with hpvmmigrate exiting 1 with one ERROR line that
 * names the problem, the guest On at the source with exactly one hpvmapp, nothing running or
 * coming in at the target, and a graceful stop where every workload PASSes.
 *
 * A man in the middle (a TCP proxy thread: hpvmmigrate -h 127.0.0.1:PROXYPORT, the proxy
 * relays each connection to the target hpvmd) works on whole units of the source->target
 * stream as docs/wire/chan.md lays them out — ClientHello, ClientConfirm, then records
 * (u32 length, u32 type, ciphertext and tag) — and, on the first record of one connection
 * that starts 1 MiB past its handshake (the copy phase):
 *   - flips one bit of its ciphertext;
 *   - drops it;
 *   - sends it twice (a replayed record);
 *   - sends half of it and closes the direction to the target (a truncated stream);
 * on channel 1, whose failure the target reports on channel 0 (hpvmmigrate's line has the
 * target's words); and flips a bit on channel 0 (the control channel) and drops a record there:
 * the target says why on channel 0's sending direction, which the tampering left intact
 * (chan_send_last), so hpvmmigrate's line names the authentication failure on channel 0, not
 * a host that hung up.
 * It also records a successful migration's channel 0 to replay it later to the target hpvmd in a
 * new connection: refused at the handshake (the old ClientConfirm cannot sign the new
 * transcript), nothing spawned there.
 *
 * A third host, hostc, with a shared directory of its own (the keys and the cluster secret
 * copied over as each case needs): the target not trusted by the source, the source not
 * trusted by the target, and a target that trusts the source but holds another cluster
 * secret: each refused at the handshake, nothing spawned on hostc. */
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

#include "live_test.h"

#define VM "secmig"
#define WORK "memverify size=32M heartbeat diskverify blocks=32 passes=0"
#define TAMPER_AFTER (1u << 20)   /* record bytes past the handshake: well into round 0 */

/* ---- The man in the middle ------------------------------------------------------------------ */

/* docs/wire/chan.md */
#define HELLO_FIXED 140
#define CONFIRM_LEN 98
#define REC_HDR 8
#define REC_MAX ((1u << 20) + 16)

typedef enum mitm_act {
  MITM_RELAY,     /* relay only */
  MITM_FLIP,      /* flip one bit of the victim record's ciphertext */
  MITM_DROP,      /* leave the victim record out */
  MITM_DUP,       /* send the victim record twice */
  MITM_CUT,       /* send half the victim record, then end the stream to the target */
  MITM_RECORD,    /* relay, and keep every byte the victim connection's client sent */
} mitm_act;

#define MITM_CONNS 16

typedef struct mitm mitm;

typedef struct relay {
  mitm *m;
  unsigned idx;         /* accept order: channel 0 comes first */
  int cfd, tfd;         /* the source's side, the target's side */
  pthread_t th;
} relay;

struct mitm {
  int lfd;
  char addr[64];        /* 127.0.0.1:PORT, for hpvmmigrate -h */
  struct sockaddr_in target;
  mitm_act act;
  unsigned victim;
  pthread_t th;
  atomic_bool stop;
  relay r[MITM_CONNS];
  atomic_uint nconn;
  /* What happened (read after mitm_free joined the threads, or atomically). */
  atomic_bool acted;
  uint64_t acted_seq;   /* the victim record's sequence number */
  uint8_t *rec;         /* MITM_RECORD: the client's bytes */
  size_t reclen, reccap;
  size_t hello_len;     /* of the recorded ClientHello */
  uint64_t records;     /* records the victim's client sent */
};

static bool write_all(int fd, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w, n -= (size_t)w;
  }
  return true;
}

static void keep(mitm *m, const uint8_t *p, size_t n) {
  if (m->reclen + n > m->reccap) {
    m->reccap = (m->reclen + n) * 2;
    m->rec = realloc(m->rec, m->reccap);
    assert_non_null(m->rec);
  }
  memcpy(m->rec + m->reclen, p, n);
  m->reclen += n;
}

enum { U_HELLO_HEAD, U_HELLO, U_CONFIRM, U_REC_HDR, U_REC };

/* The client->server direction, one unit at a time. */
typedef struct c2s {
  uint8_t *buf;
  size_t have, need;
  int unit;
  uint64_t off;         /* record bytes since the handshake */
  uint64_t seq;
  bool cut;             /* the stream to the target ended: discard the rest */
} c2s;

/* Relay bytes to the target. One that hung up gets nothing more (the client's bytes are
 * discarded from then on), but what it sent before is still relayed back, as a direct
 * connection would deliver it. */
static void to_target(relay *r, c2s *s, const uint8_t *p, size_t n) {
  if (!s->cut && !write_all(r->tfd, p, n)) s->cut = true;
}

/* A whole record is in s->buf: relay it, or do to it what the proxy is there for. */
static void on_record(relay *r, c2s *s) {
  mitm *m = r->m;
  size_t len = s->have;
  bool victim = r->idx == m->victim && m->act != MITM_RELAY && m->act != MITM_RECORD && !atomic_load(&m->acted) &&
                s->off >= TAMPER_AFTER;
  s->off += len;
  uint64_t seq = s->seq++;
  if (r->idx == m->victim) m->records = s->seq;
  if (!victim) return to_target(r, s, s->buf, len);
  m->acted_seq = seq;
  atomic_store(&m->acted, true);
  switch (m->act) {
  case MITM_FLIP:
    s->buf[REC_HDR + (len - REC_HDR) / 2] ^= 0x10;
    to_target(r, s, s->buf, len);
    break;
  case MITM_DROP: break;
  case MITM_DUP:
    to_target(r, s, s->buf, len);
    to_target(r, s, s->buf, len);
    break;
  case MITM_CUT:
    to_target(r, s, s->buf, len / 2);
    shutdown(r->tfd, SHUT_WR);
    s->cut = true;
    break;
  default: break;
  }
}

/* Bytes arrived from the client: false when the client's stream ended (or is not a channel). */
static bool from_client(relay *r, c2s *s) {
  ssize_t n = read(r->cfd, s->buf + s->have, s->need - s->have);
  if (n < 0 && errno == EINTR) return true;
  if (n <= 0) return false;
  if (r->m->act == MITM_RECORD && r->idx == r->m->victim) keep(r->m, s->buf + s->have, (size_t)n);
  s->have += (size_t)n;
  if (s->have < s->need || s->cut) {
    if (s->cut) s->have = 0;
    return true;
  }
  switch (s->unit) {
  case U_HELLO_HEAD:   /* the hello's fixed part says how long its host name is */
    s->unit = U_HELLO, s->need = HELLO_FIXED + s->buf[10];
    break;
  case U_HELLO:
    if (r->idx == r->m->victim) r->m->hello_len = s->have;
    to_target(r, s, s->buf, s->have);
    s->unit = U_CONFIRM, s->have = 0, s->need = CONFIRM_LEN;
    break;
  case U_CONFIRM:
    to_target(r, s, s->buf, s->have);
    s->unit = U_REC_HDR, s->have = 0, s->need = REC_HDR;
    break;
  case U_REC_HDR: {
    uint32_t clen;
    memcpy(&clen, s->buf, 4);   /* little-endian, as this host */
    if (clen > REC_MAX) return false;
    s->unit = U_REC, s->need = REC_HDR + clen;
    break;
  }
  case U_REC:
    on_record(r, s);
    s->unit = U_REC_HDR, s->have = 0, s->need = REC_HDR;
    break;
  }
  return true;
}

/* One connection, until the target's side ends (or the client's, uncleanly). */
static void *relay_main(void *arg) {
  relay *r = arg;
  c2s s = {.buf = malloc(REC_HDR + REC_MAX), .need = HELLO_FIXED, .unit = U_HELLO_HEAD};
  uint8_t *back = malloc(1 << 16);
  bool client_open = true;
  while (!atomic_load(&r->m->stop)) {
    struct pollfd p[2] = {{r->tfd, POLLIN, 0}, {client_open ? r->cfd : -1, POLLIN, 0}};
    if (poll(p, 2, 100) <= 0) continue;
    if (p[0].revents) {   /* target -> source: relayed as it comes */
      ssize_t n = read(r->tfd, back, 1 << 16);
      if (n <= 0 || !write_all(r->cfd, back, (size_t)n)) break;
    }
    if (p[1].revents && !from_client(r, &s)) {
      if (s.unit == U_REC_HDR && s.have == 0 && !s.cut) {   /* the client ended cleanly */
        shutdown(r->tfd, SHUT_WR);
        client_open = false;
      } else {
        break;
      }
    }
  }
  close(r->cfd);
  close(r->tfd);
  free(s.buf);
  free(back);
  return NULL;
}

static void *accept_main(void *arg) {
  mitm *m = arg;
  while (!atomic_load(&m->stop)) {
    struct pollfd p = {m->lfd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    int cfd = accept(m->lfd, NULL, NULL);
    if (cfd < 0) continue;
    unsigned i = atomic_load(&m->nconn);
    int tfd = socket(AF_INET, SOCK_STREAM, 0);
    if (i >= MITM_CONNS || connect(tfd, (struct sockaddr *)&m->target, sizeof m->target)) {
      close(cfd), close(tfd);
      continue;
    }
    int one = 1;
    setsockopt(tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    m->r[i] = (relay){.m = m, .idx = i, .cfd = cfd, .tfd = tfd};
    assert_int_equal(pthread_create(&m->r[i].th, NULL, relay_main, &m->r[i]), 0);
    atomic_store(&m->nconn, i + 1);
  }
  return NULL;
}

/* A proxy on 127.0.0.1:ephemeral to the hpvmd listening on target (127.0.0.1:PORT), doing act
 * to connection number victim. */
static mitm *mitm_start(const char *target, mitm_act act, unsigned victim) {
  mitm *m = calloc(1, sizeof *m);
  m->act = act;
  m->victim = victim;
  m->target = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                   .sin_port = htons((uint16_t)atoi(strrchr(target, ':') + 1))};
  m->lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  assert_int_equal(bind(m->lfd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(m->lfd, 16), 0);
  assert_int_equal(getsockname(m->lfd, (struct sockaddr *)&a, &l), 0);
  snprintf(m->addr, sizeof m->addr, "127.0.0.1:%d", ntohs(a.sin_port));
  assert_int_equal(pthread_create(&m->th, NULL, accept_main, m), 0);
  return m;
}

/* Stop the proxy: every relay ends, the results stay readable. */
static void mitm_stop(mitm *m) {
  atomic_store(&m->stop, true);
  pthread_join(m->th, NULL);
  for (unsigned i = 0; i < atomic_load(&m->nconn); i++) pthread_join(m->r[i].th, NULL);
  close(m->lfd);
}

static void mitm_free(mitm *m) {
  free(m->rec);
  free(m);
}

/* ---- The guest and what must hold after every refusal ---------------------------------------- */

static void start_guest(two *t) {
  char msg[1200];
  ht_env *a = &t->h[0];
  assert_int_equal(create_vm(a, VM, 128ull << 20, 2, WORK, t->disk, msg, sizeof msg), 0);
  assert_int_equal(ht_start(a, VM, msg, sizeof msg), 0);
  assert_true(console_wait(a, VM, 0, "memverify: cpu", 20000));
}

/* hpvmmigrate failed with exit status 1 and one ERROR line, its last, that contains each of
 * the needles (NULL-terminated). */
static void assert_one_error_line(out *o, ...) {
  if (o->status != 1 || !strstr(o->text, "hpvmmigrate: ERROR (" VM "): ")) fprintf(stderr, "%s", o->text);
  assert_int_equal(o->status, 1);
  const char *err = strstr(o->text, "hpvmmigrate: ERROR (" VM "): ");
  assert_non_null(err);
  assert_null(strstr(err + strlen("hpvmmigrate: ERROR"), "ERROR"));
  const char *nl = strchr(err, '\n');
  assert_non_null(nl);
  assert_int_equal(nl[1], 0);
  printf("  %s", err);
  va_list ap;
  va_start(ap, o);
  for (const char *needle; (needle = va_arg(ap, const char *));) {
    const char *at = strstr(err, needle);
    if (!at || at > nl) fail_msg("the error line does not say \"%s\"", needle);
  }
  va_end(ap);
}

/* The guest runs on at src, its only hpvmapp the one it had (pid); dst holds nothing of it. */
static void assert_guest_unharmed(two *t, ht_env *src, ht_env *dst, int pid) {
  int spid = 0;
  assert_int_equal(ht_state(src, VM, &spid, NULL, 0), ON);
  assert_int_equal(spid, pid);
  uint64_t end = ht_ms() + 5000;
  int st;
  while (((st = ht_state(dst, VM, NULL, NULL, 0)) == INCOMING || st == ON || apps_of(t, VM, NULL) != 1) &&
         ht_ms() < end)
    usleep(20000);
  assert_true(st != INCOMING && st != ON);
  int only = 0;
  assert_int_equal(apps_of(t, VM, &only), 1);
  assert_int_equal(only, pid);
  size_t mark = console_len(src, VM);
  assert_true(console_wait(src, VM, mark, "HB ", 5000));   /* it goes on beating */
  char *c = console_of(src, VM);
  if (strstr(c, "FAIL")) fprintf(stderr, "%s", strstr(c, "FAIL"));
  assert_null(strstr(c, "FAIL"));
  free(c);
}

/* A graceful stop where it runs: every workload passes. */
static void stop_and_verify(ht_env *e) {
  char msg[1200];
  size_t mark = console_len(e, VM);
  assert_int_equal(ht_stop(e, VM, HPVM__STOP_MODE__STOP_MODE_GRACEFUL, 30000, msg, sizeof msg), 0);
  assert_true(console_wait(e, VM, mark, "PASS shutdown", 1000));
  char *c = console_of(e, VM);
  assert_non_null(strstr(c + mark, "PASS memverify"));
  assert_non_null(strstr(c + mark, "PASS heartbeat"));
  assert_non_null(strstr(c + mark, "PASS diskverify"));
  assert_null(strstr(c, "FAIL"));
  free(c);
}

static char *log_from(ht_env *e, size_t mark) {
  char *s = ht_read_file(e->log);
  if (!s) return strdup("");
  size_t n = strlen(s) < mark ? strlen(s) : mark;
  memmove(s, s + n, strlen(s + n) + 1);
  return s;
}

static size_t log_len(ht_env *e) {
  char *s = ht_read_file(e->log);
  size_t n = s ? strlen(s) : 0;
  free(s);
  return n;
}

/* ---- Tampering on the way ------------------------------------------------------------------- */

/* One line of text contains both a and b. */
static bool line_has(const char *text, const char *a, const char *b) {
  for (const char *p = text; (p = strstr(p, a)); p++) {
    const char *bol = p, *eol = strchr(p, '\n');
    while (bol > text && bol[-1] != '\n') bol--;
    const char *at = strstr(bol, b);
    if (at && (!eol || at < eol)) return true;
  }
  return false;
}

/* hosta -> hostb through a proxy doing act to connection victim: refused; hostb's log says its
 * hpvmapp --incoming failed on that channel with target_says; hpvmmigrate's one error line
 * says source_says (and source_also, unless NULL). */
static void tamper_case(two *t, mitm_act act, unsigned victim, const char *target_says, const char *source_says,
                        const char *source_also) {
  start_guest(t);
  int pid = 0;
  assert_int_equal(apps_of(t, VM, &pid), 1);
  size_t mark = log_len(&t->h[1]);
  mitm *m = mitm_start(t->h[1].listen, act, victim);
  out o = migrate_cmd(t, &t->h[0], "-P", VM, "-h", m->addr, "-o", (char *)NULL);
  mitm_stop(m);
  assert_true(atomic_load(&m->acted));   /* it happened, past the handshake and the first MiB */
  printf("  connection %u, record %llu of %llu\n", victim, (unsigned long long)m->acted_seq,
         (unsigned long long)m->records);
  if (o.status != 1) dump(t);
  assert_one_error_line(&o, source_says, source_also, (char *)NULL);   /* source_also may be NULL */
  out_free(&o);
  assert_guest_unharmed(t, &t->h[0], &t->h[1], pid);
  char *log = log_from(&t->h[1], mark), failed[100];
  snprintf(failed, sizeof failed, "incoming migration failed: channel %u: ", victim);
  if (!line_has(log, failed, target_says)) fprintf(stderr, "hostb's log:\n%s", log);
  assert_true(line_has(log, failed, target_says));
  free(log);
  mitm_free(m);
  stop_and_verify(&t->h[0]);
}

/* On channel 1 (pages only): hostb tells the source why on channel 0. */
static void test_flipped_bit_is_refused(void **state) {
  tamper_case(*state, MITM_FLIP, 1, "from host hosta fails authentication",
              "the destination gave up: channel 1: record ", NULL);
}

static void test_dropped_record_is_refused(void **state) {
  tamper_case(*state, MITM_DROP, 1, "from host hosta fails authentication", "fails authentication", NULL);
}

static void test_replayed_record_is_refused(void **state) {
  tamper_case(*state, MITM_DUP, 1, "from host hosta fails authentication", "fails authentication", NULL);
}

static void test_truncated_stream_is_refused(void **state) {
  tamper_case(*state, MITM_CUT, 1, "stream from host hosta ended inside record", "(truncated)", NULL);
}

/* On channel 0 (control and pages): hostb cannot read it any more, but it can still send on
 * it: its last message says why, and the source's line names the authentication failure
 * (before, the source only saw hostb hang up: "stream from host hostb ended without its
 * close"). */
static void test_flipped_bit_on_channel_0_is_refused(void **state) {
  tamper_case(*state, MITM_FLIP, 0, "from host hosta fails authentication",
              "the destination gave up: channel 0: record ", "fails authentication");
}

/* A record left out of channel 0: the next one fails authentication, or (when the gap is
 * inside a message) its type already shows the gap; either way the line says it was tampered
 * with "on the way". */
static void test_dropped_record_on_channel_0_is_refused(void **state) {
  tamper_case(*state, MITM_DROP, 0, "from host hosta", "the destination gave up: channel 0: record ", "on the way");
}

/* ---- A replayed connection ------------------------------------------------------------------- */

/* Connect to addr and replay rec: its ClientHello, then (the server has answered) the rest, as
 * far as the server takes it. Returns what the server sent after its answer (it must be
 * nothing); *answer gets the answer's length. */
static size_t replay(const char *addr, const mitm *m, size_t *answer, uint8_t *ans, size_t anscap) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                          .sin_port = htons((uint16_t)atoi(strrchr(addr, ':') + 1))};
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_true(write_all(fd, m->rec, m->hello_len));
  size_t got = 0;
  while (got < anscap) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) break;
    ssize_t n = read(fd, ans + got, anscap - got);
    if (n <= 0) break;
    got += (size_t)n;
  }
  *answer = got;
  write_all(fd, m->rec + m->hello_len, m->reclen - m->hello_len);   /* until the server hangs up */
  size_t more = 0;
  uint8_t buf[4096];
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) break;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    more += (size_t)n;
  }
  close(fd);
  return more;
}

/* hosta -> hostb through the proxy, recorded; back to hosta; then channel 0's bytes replayed
 * to hostb: it answers the hello with a fresh one of its own, the old confirmation does not
 * prove anything for it, and nothing is spawned. */
static void test_replayed_connection_is_refused_at_the_handshake(void **state) {
  two *t = *state;
  ht_env *a = &t->h[0], *b = &t->h[1];
  start_guest(t);
  mitm *m = mitm_start(b->listen, MITM_RECORD, 0);
  out o = migrate_cmd(t, a, "-P", VM, "-h", m->addr, "-o", (char *)NULL);
  mitm_stop(m);
  if (o.status) dump(t), fprintf(stderr, "%s", o.text);
  assert_int_equal(o.status, 0);
  out_free(&o);
  printf("  recorded %zu bytes of channel 0 (%llu records)\n", m->reclen, (unsigned long long)m->records);
  assert_true(m->reclen > TAMPER_AFTER && m->records > 10);   /* a whole migration's worth */
  assert_true(ht_wait_state(b, VM, ON, 5000));
  assert_true(ht_wait_state(a, VM, ELSEWHERE, 5000));   /* hosta's hpvmapp has ended: it takes the guest back */
  o = migrate_cmd(t, b, "-P", VM, "-h", "hosta", "-o", (char *)NULL);
  if (o.status) dump(t), fprintf(stderr, "%s", o.text);
  assert_int_equal(o.status, 0);
  out_free(&o);
  int pid = 0;
  assert_int_equal(ht_state(a, VM, &pid, NULL, 0), ON);
  assert_true(ht_wait_state(b, VM, ELSEWHERE, 5000));
  uint64_t end = ht_ms() + 5000;
  while (apps_of(t, VM, NULL) != 1 && ht_ms() < end) usleep(20000);

  size_t mark = log_len(b), answer = 0;
  uint8_t ans[HELLO_FIXED + 255 + CONFIRM_LEN];
  size_t more = replay(b->listen, m, &answer, ans, sizeof ans);
  /* hostb's answer: its ServerHello (its own fresh keys) and ServerConfirm, then nothing. */
  assert_int_equal(answer, HELLO_FIXED + strlen("hostb") + CONFIRM_LEN);
  assert_memory_equal(ans, "HPVMCHN", 7);
  assert_int_equal(ans[8], 2);
  assert_memory_not_equal(ans + 76, m->rec + 76, 32);   /* not the recorded exchange */
  assert_int_equal(more, 0);
  char *log = log_from(b, mark);
  end = ht_ms() + 5000;
  while (!strstr(log, "did not prove its identity") && ht_ms() < end) free(log), usleep(20000), log = log_from(b, mark);
  if (!strstr(log, "did not prove its identity")) fprintf(stderr, "hostb's log:\n%s", log);
  assert_non_null(strstr(log, "peer connection from 127.0.0.1"));
  assert_non_null(strstr(log, "host hosta did not prove its identity"));
  assert_null(strstr(log, "incoming"));
  free(log);
  assert_guest_unharmed(t, a, b, pid);
  mitm_free(m);
  stop_and_verify(a);
}

/* ---- Hosts that do not trust each other, another cluster secret -------------------------------- */

/* Host slot 1 becomes hostc, with a shared directory of its own (DIR/other), started: hosta's
 * key registered there when trusts_a, hosta's cluster secret copied there when same_secret
 * (else hostc makes a secret of its own), hostc's key registered in hosta's directory when
 * trusted_by_a. */
static ht_env *host_c(two *t, bool trusts_a, bool same_secret, bool trusted_by_a) {
  ht_env *c = &t->h[1];
  char cmd[2000], other[300];
  ht_hpvmd_stop(c, SIGTERM);
  snprintf(other, sizeof other, "%s/other", t->dir);
  snprintf(cmd, sizeof cmd, "mkdir -p %s/hosts", other);
  assert_int_equal(system(cmd), 0);
  if (trusts_a) {
    snprintf(cmd, sizeof cmd, "mkdir -p %s/hosts/hosta && cp %s/hosts/hosta/key %s/hosts/hosta/", other,
             t->h[0].shared, other);
    assert_int_equal(system(cmd), 0);
  }
  if (same_secret) {
    snprintf(cmd, sizeof cmd, "cp -a %s/cluster %s/", t->h[0].shared, other);
    assert_int_equal(system(cmd), 0);
  }
  snprintf(c->shared, sizeof c->shared, "%s", other);
  snprintf(c->name, sizeof c->name, "hostc");
  snprintf(c->state, sizeof c->state, "%s/state-c", t->dir);
  snprintf(c->sock, sizeof c->sock, "%s/hpvmd.sock", c->state);
  snprintf(c->log, sizeof c->log, "%s/hpvmd-c.log", t->dir);
  ht_hpvmd_start(c);
  if (trusted_by_a) {
    snprintf(cmd, sizeof cmd, "mkdir -p %s/hosts/hostc && cp %s/hosts/hostc/key %s/hosts/hostc/", t->h[0].shared,
             other, t->h[0].shared);
    assert_int_equal(system(cmd), 0);
  }
  return c;
}

/* hosta -> hostc (ADDR:PORT): refused at the handshake, source_says in hpvmmigrate's line,
 * target_says in hostc's log, nothing spawned there. */
static void refused_at_handshake(two *t, ht_env *c, const char *source_says, const char *target_says) {
  start_guest(t);
  int pid = 0;
  assert_int_equal(apps_of(t, VM, &pid), 1);
  out o = migrate_cmd(t, &t->h[0], "-P", VM, "-h", c->listen, "-o", (char *)NULL);
  if (o.status != 1) dump(t);
  assert_one_error_line(&o, source_says, (char *)NULL);
  out_free(&o);
  char *log = log_from(c, 0);
  uint64_t end = ht_ms() + 5000;
  while (!strstr(log, target_says) && ht_ms() < end) free(log), usleep(20000), log = log_from(c, 0);
  if (!strstr(log, target_says)) fprintf(stderr, "hostc's log:\n%s", log);
  assert_non_null(strstr(log, "peer connection from 127.0.0.1"));
  assert_non_null(strstr(log, target_says));
  assert_null(strstr(log, "incoming"));
  free(log);
  assert_guest_unharmed(t, &t->h[0], c, pid);
  stop_and_verify(&t->h[0]);
}

static void test_target_not_trusted_by_the_source_is_refused(void **state) {
  two *t = *state;
  ht_env *c = host_c(t, true, true, false);
  refused_at_handshake(t, c, "host hostc is not trusted", "host hosta refused the connection: it does not trust this host");
}

static void test_source_not_trusted_by_the_target_is_refused(void **state) {
  two *t = *state;
  ht_env *c = host_c(t, false, true, true);
  refused_at_handshake(t, c, "refused the connection: it does not trust this host (hosta)",
                       "host hosta is not trusted");
}

static void test_wrong_cluster_secret_is_refused(void **state) {
  two *t = *state;
  ht_env *c = host_c(t, true, false, true);
  refused_at_handshake(t, c, "cluster secret mismatch", "cluster secret mismatch");
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_flipped_bit_is_refused, two_setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_dropped_record_is_refused, two_setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_replayed_record_is_refused, two_setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_truncated_stream_is_refused, two_setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_flipped_bit_on_channel_0_is_refused, two_setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_dropped_record_on_channel_0_is_refused, two_setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_replayed_connection_is_refused_at_the_handshake, two_setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_target_not_trusted_by_the_source_is_refused, two_setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_source_not_trusted_by_the_target_is_refused, two_setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_wrong_cluster_secret_is_refused, two_setup, two_teardown),
  };
  return cmocka_run_group_tests_name("test_live_security", tests, NULL, NULL) ? 1 : 0;
}
