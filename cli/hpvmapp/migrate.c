/* migrate.c — hpvmapp's live migration glue (see app_migrate.h).
 *
 * Source, on its own thread (one migration at a time):
 *
 *   connect channel 0 (TCP to the target hpvmd), chan_client: the target must prove the keys
 *     hpvmd listed for it, and we ours (identity and cluster secret from AppMigrateOut)
 *   offer (config as stored, proofs, channels, versions) --> answer: refused | accepted
 *     (-s: stop here, the answer and its warnings are the result)
 *   channels 1..N-1: connect, chan_client (the same host), join --> answer
 *   channel 0: ready (the target's hpvmapp --incoming holds the channels now)
 *   mig_source_run: progress -> AppEvent.migrate_progress; handoff -> AppEvent.handoff,
 *     wait for AppHandoffResult; 0 -> the guest runs on the target: power off here with the
 *     exit naming the target; abort (a failure after the target may have acknowledged) ->
 *     AppEvent.handoff{abort}: hpvmd notes it in the lease, and without that note the guest
 *     is stopped here instead of resumed (the exit says why)
 *   AppEvent.migrate_done in every case, before the exit
 *
 * Cancel (AppCommand.migrate_cancel) before the library runs shuts the socket being worked on
 * down (the blocking call returns) and then hands mig_source_cancel to the library. Every
 * failure before the handoff leaves the guest running as it was.
 *
 * Target: app_mig_incoming runs mig_dest_run; COMMIT -> AppEvent.adopt and the guest resumes
 * once hpvmd adopted the lease; a source silent after our STATE_ACK -> AppEvent.adopt{decide}:
 * hpvmd answers from the lease (peer.c) whether the guest is ours.
 *
 * hpvmd's answers are awaited with a timeout (the handoff: half the source's lease timeout and
 * a second, the abort: a quarter of it); when a new hpvmd connects meanwhile (the old one
 * restarted) the request is sent again. The TEST ONLY fault points (hpvm_testfault.h) sit at
 * the phase entries, after STATE_ACK and after the lease write. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app_migrate.h"
#include "chan.h"
#include "hpvm_testfault.h"
#include "migrate.h"
#include "peer.pb-c.h"
#include "wire.h"

#define PEER_PROTOCOL_VERSION 1
#define INIT_TIMEOUT_MS 30000     /* -x migrate_init_phase_timeout default */
#define ANSWER_TIMEOUT_MS 30000   /* hpvmd's adopt answer */
#define DECIDE_TIMEOUT_MS 600000  /* hpvmd's decision from the lease (it bounds it itself) */
#define INCOMING_WAIT_MS 30000    /* hpvmd's AppIncoming after our hello */
#define LEASE_TIMEOUT_MS 30000    /* the source hpvmd's lease timeout when it does not say */

struct app_mig {
  app_ctl *ctl;
  vm *v;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  /* Source. */
  pthread_t thread;
  bool thread_started, thread_done;
  Hpvm__AppMigrateOut *out;       /* the running migration's command (a copy we own) */
  bool cancel;
  int work_fd;                    /* the socket a blocking step works on (-1: none) */
  mig_source *src;
  char target[CHAN_NAME_MAX + 1];
  char cipher[32];
  unsigned nch;
  uint64_t t0_ns;
  bool handed_off;                /* hpvmd wrote the lease for the target: never resume here */
  bool must_stop;                 /* neither handed off nor may the guest resume: power it off */
  char stop_why[600];
  bool stopping;                  /* app_mig_stop: the VM has ended, answers are not awaited */
  mig_phase last_phase;           /* the last phase the progress hook saw (test fault points) */
  /* hpvmd's answer to our handoff or adopt request. */
  bool have_reply;
  int reply_err;
  char reply_msg[600];
  uint64_t reply_gen;
  /* Target. */
  Hpvm__AppIncoming *incoming;
  char id[40];
  uint64_t offer_gen;             /* AppIncoming.lease_generation */
};

static uint64_t mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* A deep copy of a message (pack and unpack) that free_unpacked frees. */
static ProtobufCMessage *msg_copy(const ProtobufCMessage *m) {
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *b = malloc(n ? n : 1);
  if (!b) return NULL;
  protobuf_c_message_pack(m, b);
  ProtobufCMessage *c = protobuf_c_message_unpack(m->descriptor, NULL, n, b);
  free(b);
  return c;
}

/* ---- Options ---------------------------------------------------------------------------------- */

int app_mig_parse(int argc, char **argv, int *i, int *fds, unsigned *nfds) {
  if (strcmp(argv[*i], "--incoming")) return 0;
  if (*i + 1 >= argc) return fprintf(stderr, "hpvmapp: --incoming needs the channels' fds (hpvmd passes it)\n"), -1;
  const char *s = argv[++*i];
  *nfds = 0;
  while (*s) {
    char *end;
    long fd = strtol(s, &end, 10);
    struct stat st;
    if (end == s || fd < 0 || fd > 65535 || *nfds == MIG_MAX_CHANNELS || fstat((int)fd, &st) || !S_ISSOCK(st.st_mode))
      return fprintf(stderr, "hpvmapp: --incoming %s: not a list of open sockets\n", argv[*i]), -1;
    fds[(*nfds)++] = (int)fd;
    s = *end == ',' ? end + 1 : end;
    if (*end && *end != ',') return fprintf(stderr, "hpvmapp: --incoming %s: give fds as 4,5\n", argv[*i]), -1;
  }
  if (!*nfds) return fprintf(stderr, "hpvmapp: --incoming: no channel\n"), -1;
  return 1;
}

/* ---- Events to hpvmd ---------------------------------------------------------------------------- */

static void stats_to_pb(const mig_stats *s, Hpvm__MigrateStats *p) {
  p->phase = (char *)mig_phase_name(s->phase);
  p->round = s->round;
  p->mem_bytes = s->mem_bytes;
  p->mem_sent = s->mem_sent;
  p->round0_done = s->round0_done;
  p->pages_zero = s->pages_zero;
  p->pages_raw = s->pages_raw;
  p->pages_lz4 = s->pages_lz4;
  p->pages_delta = s->pages_delta;
  p->wire_bytes = s->wire_bytes;
  p->wire_mbps = s->wire_mbps;
  p->mem_mbps = s->mem_mbps;
  p->dirty_mbps = s->dirty_mbps;
  p->dirty_bytes = s->dirty_bytes;
  p->expected_downtime_ms = s->expected_downtime_ms;
  p->throttle = s->throttle;
  p->setup_ns = s->setup_ns;
  p->total_ns = s->total_ns;
  p->downtime_ns = s->downtime_ns;
  p->cpu_s = s->cpu_s;
  p->mig_cpu_s = s->mig_cpu_s;
}

static void fill_progress(app_mig *m, Hpvm__MigrateProgress *p, Hpvm__MigrateStats *ps, const mig_stats *s,
                          const char *note) {
  if (m->out) p->id = m->out->id;
  else p->id = m->id;
  p->target = m->target;
  p->cipher = m->cipher;
  p->channels = m->nch;
  p->note = (char *)(note ? note : "");
  if (s) {
    stats_to_pb(s, ps);
    p->stats = ps;
  }
}

static void send_progress(app_mig *m, const mig_stats *s, const char *note) {
  Hpvm__MigrateProgress p = HPVM__MIGRATE_PROGRESS__INIT;
  Hpvm__MigrateStats ps = HPVM__MIGRATE_STATS__INIT;
  fill_progress(m, &p, &ps, s, note);
  Hpvm__AppEvent e = HPVM__APP_EVENT__INIT;
  e.body_case = HPVM__APP_EVENT__BODY_MIGRATE_PROGRESS;
  e.migrate_progress = &p;
  app_ctl_send(m->ctl, &e);
}

static void send_done(app_mig *m, int err, const char *msg, const mig_stats *s, char **warnings, size_t nwarn) {
  Hpvm__MigrateProgress p = HPVM__MIGRATE_PROGRESS__INIT;
  Hpvm__MigrateStats ps = HPVM__MIGRATE_STATS__INIT;
  fill_progress(m, &p, &ps, s, err ? "" : msg);
  p.warnings = warnings;
  p.n_warnings = nwarn;
  Hpvm__AppMigrateDone d = HPVM__APP_MIGRATE_DONE__INIT;
  d.error = err;
  d.message = (char *)(err ? msg : "");
  d.final = &p;
  Hpvm__AppEvent e = HPVM__APP_EVENT__INIT;
  e.body_case = HPVM__APP_EVENT__BODY_MIGRATE_DONE;
  e.migrate_done = &d;
  app_ctl_send(m->ctl, &e);
}

/* Send a request (handoff, abort, adopt or decide) and wait for hpvmd's answer; sent again to
 * a newly connected hpvmd. 0 and the reply in m->reply_*, HPVM_ETIMEDOUT, or HPVM_ECANCELED
 * at once when the VM has ended meanwhile (app_mig_stop: powered off). */
static int ask_hpvmd(app_mig *m, const Hpvm__AppEvent *e, int timeout_ms) {
  pthread_mutex_lock(&m->lock);
  m->have_reply = false;
  unsigned gen = app_ctl_generation(m->ctl);
  pthread_mutex_unlock(&m->lock);
  app_ctl_send(m->ctl, e);
  uint64_t end = mono_ns() + (uint64_t)timeout_ms * 1000000u;
  pthread_mutex_lock(&m->lock);
  while (!m->have_reply && !m->stopping && mono_ns() < end) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 200000000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    pthread_cond_timedwait(&m->cond, &m->lock, &ts);
    if (!m->have_reply && app_ctl_generation(m->ctl) != gen) {
      gen = app_ctl_generation(m->ctl);
      pthread_mutex_unlock(&m->lock);
      app_ctl_send(m->ctl, e);
      pthread_mutex_lock(&m->lock);
    }
  }
  int rc = m->have_reply ? 0 : m->stopping ? HPVM_ECANCELED : HPVM_ETIMEDOUT;
  pthread_mutex_unlock(&m->lock);
  return rc;
}

/* Why ask_hpvmd got no answer, in words. */
static void no_answer(char *out, size_t len, int rc, int wait_ms) {
  if (rc == HPVM_ECANCELED) snprintf(out, len, "the VM was powered off meanwhile");
  else snprintf(out, len, "hpvmd did not answer within %d ms", wait_ms);
}

/* ---- Source: connecting ------------------------------------------------------------------------ */

static bool canceled(app_mig *m) {
  pthread_mutex_lock(&m->lock);
  bool c = m->cancel;
  pthread_mutex_unlock(&m->lock);
  return c;
}

/* The socket the next blocking step works on: a cancel shuts it down. */
static void set_work_fd(app_mig *m, int fd) {
  pthread_mutex_lock(&m->lock);
  m->work_fd = fd;
  if (m->cancel && fd >= 0) shutdown(fd, SHUT_RDWR);
  pthread_mutex_unlock(&m->lock);
}

/* Milliseconds left until deadline_ns (CLOCK_MONOTONIC), at least 1: the init phase's steps
 * share one limit. */
static int left_ms(uint64_t deadline_ns) {
  uint64_t now = mono_ns();
  uint64_t left = deadline_ns > now ? (deadline_ns - now + 999999) / 1000000 : 1;
  return left < INT32_MAX ? (int)left : INT32_MAX;
}

/* A TCP connection to ADDR:PORT ("[v6]:port" too) within timeout_ms: a blocking fd. */
static int tcp_connect(app_mig *m, const char *address, int timeout_ms, int *out, char *msg, size_t len) {
  char host[256];
  const char *colon = strrchr(address, ':');
  if (!colon) return snprintf(msg, len, "target address %s: give ADDR:PORT", address), HPVM_EINVAL;
  size_t hl = (size_t)(colon - address);
  snprintf(host, sizeof host, "%.*s", (int)hl, address);
  if (hl > 2 && host[0] == '[') memmove(host, host + 1, hl - 2), host[hl - 2] = 0;
  struct addrinfo hints = {.ai_flags = AI_NUMERICSERV, .ai_socktype = SOCK_STREAM}, *ai;
  int rc = getaddrinfo(host, colon + 1, &hints, &ai);
  if (rc) return snprintf(msg, len, "target address %s: %s", address, gai_strerror(rc)), HPVM_EINVAL;
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    freeaddrinfo(ai);
    return snprintf(msg, len, "cannot create a socket: %s", strerror(errno)), HPVM_EIO;
  }
  set_work_fd(m, fd);
  int e = 0;
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) e = errno;
  freeaddrinfo(ai);
  if (!e) {
    struct pollfd p = {fd, POLLOUT, 0};
    int n = poll(&p, 1, timeout_ms);
    socklen_t el = sizeof e;
    if (n == 0) e = ETIMEDOUT;
    else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el)) e = errno;
  }
  set_work_fd(m, -1);
  if (e || canceled(m)) {
    close(fd);
    if (canceled(m)) return snprintf(msg, len, "canceled"), HPVM_ECANCELED;
    if (e == ETIMEDOUT)
      snprintf(msg, len, "cannot connect to %s: no answer (the host is down, or a firewall drops the connection)",
               address);
    else
      snprintf(msg, len, "cannot connect to %s: %s%s", address, strerror(e),
               e == ECONNREFUSED ? " (is hpvmd running there with --listen?)" : "");
    return e == ETIMEDOUT ? HPVM_ETIMEDOUT : HPVM_EUNAVAIL;
  }
  int one = 1;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  *out = fd;
  return 0;
}

/* chan_trust_fn over AppMigrateOut.trusted: the keys hpvmd read from the shared directory. */
static int trust_listed(void *ctx, const char *peer, const uint8_t sign_pk[32], const uint8_t kx_pk[32], char *why,
                        size_t whylen) {
  const Hpvm__AppMigrateOut *o = ctx;
  for (size_t i = 0; i < o->n_trusted; i++) {
    const Hpvm__AppHostKey *k = o->trusted[i];
    if (strcmp(k->host, peer)) continue;
    if (k->sign_pk.len == 32 && k->kx_pk.len == 32 && !memcmp(k->sign_pk.data, sign_pk, 32) &&
        !memcmp(k->kx_pk.data, kx_pk, 32))
      return 0;
    snprintf(why, whylen, "host %s proved keys other than the ones registered for it in the shared directory", peer);
    return HPVM_EAUTH;
  }
  snprintf(why, whylen, "host %s is not a member of this cluster (no keys registered for it)", peer);
  return HPVM_EAUTH;
}

typedef struct conn_ctx {
  chan_identity me;
  chan_config cfg;
} conn_ctx;

/* A TCP connection and the channel's handshake, both before deadline_ns. */
static int open_channel(app_mig *m, conn_ctx *cc, const char *expect, uint64_t deadline_ns, chan **ch, char *msg,
                        size_t len) {
  int fd;
  int rc = tcp_connect(m, m->out->target_address, left_ms(deadline_ns), &fd, msg, len);
  if (rc) return rc;
  cc->cfg.timeout_ms = left_ms(deadline_ns);   /* the client waits in one handshake step only */
  set_work_fd(m, fd);
  rc = chan_client(fd, &cc->cfg, expect, ch, msg, len);   /* fd is the chan's now */
  set_work_fd(m, -1);
  if (rc && canceled(m)) return snprintf(msg, len, "canceled"), HPVM_ECANCELED;
  return rc;
}

/* Send req (NULL: none) and read the answer, both before deadline_ns. */
static int ask_peer(app_mig *m, chan *ch, const Hpvm__PeerRequest *req, uint64_t deadline_ns, Hpvm__PeerAnswer **ans,
                    char *msg, size_t len) {
  *ans = NULL;
  set_work_fd(m, chan_fd(ch));
  int rc = req ? chan_send(ch, &req->base, NULL, 0, left_ms(deadline_ns), msg, len) : 0;
  const uint8_t *bulk;
  size_t bulklen;
  if (!rc)
    rc = chan_recv(ch, &hpvm__peer_answer__descriptor, (ProtobufCMessage **)ans, &bulk, &bulklen, left_ms(deadline_ns),
                   msg, len);
  set_work_fd(m, -1);
  if (canceled(m)) {
    if (*ans) hpvm__peer_answer__free_unpacked(*ans, NULL), *ans = NULL;
    return snprintf(msg, len, "canceled"), HPVM_ECANCELED;
  }
  if (rc == 1) rc = HPVM_ETRUNC, snprintf(msg, len, "host %s closed the connection without an answer", m->target);
  if (!rc && (*ans)->error) {
    rc = (*ans)->error;
    snprintf(msg, len, "%s", (*ans)->message);
  }
  return rc;
}

static void identity_from(const Hpvm__AppIdentity *a, chan_identity *id) {
  memset(id, 0, sizeof *id);
  if (!a) return;
  snprintf(id->host, sizeof id->host, "%s", a->host);
  if (a->sign_pk.len == 32) memcpy(id->sign_pk, a->sign_pk.data, 32);
  if (a->sign_sk.len == 64) memcpy(id->sign_sk, a->sign_sk.data, 64);
  if (a->kx_pk.len == 32) memcpy(id->kx_pk, a->kx_pk.data, 32);
  if (a->kx_sk.len == 32) memcpy(id->kx_sk, a->kx_sk.data, 32);
}

/* Channel 0, the offer, the other channels, ready. 0 with ch[0..nch) connected; with -s, 0
 * and nothing connected (*warn holds the target's warnings). The init phase timeout bounds the
 * whole of it (from the command's arrival): each step gets what is left. */
static int connect_target(app_mig *m, chan **ch, Hpvm__PeerAnswer **offer_ans, char *msg, size_t len) {
  const Hpvm__AppMigrateOut *o = m->out;
  const Hpvm__MigrateRequest *r = o->params;
  uint32_t timeout = r->init_timeout_ms ? r->init_timeout_ms : INIT_TIMEOUT_MS;
  uint64_t deadline = m->t0_ns + (uint64_t)timeout * 1000000u;
  conn_ctx cc;
  identity_from(o->me, &cc.me);
  memset(&cc.cfg, 0, sizeof cc.cfg);
  cc.cfg.me = &cc.me;
  cc.cfg.cluster_secret = o->cluster_secret.len == 32 ? o->cluster_secret.data : NULL;
  cc.cfg.trust = trust_listed;
  cc.cfg.trust_ctx = (void *)o;
  const char *expect = o->target_host && *o->target_host ? o->target_host : NULL;
  int rc = open_channel(m, &cc, expect, deadline, &ch[0], msg, len);
  if (rc) goto out;
  snprintf(m->target, sizeof m->target, "%s", chan_peer(ch[0]));
  snprintf(m->cipher, sizeof m->cipher, "%s", chan_cipher(ch[0]));
  char note[400];
  snprintf(note, sizeof note, "connected to host %s (%s); the target checks", m->target, m->cipher);
  send_progress(m, NULL, note);
  /* The offer. */
  Hpvm__StorageProof **proofs = calloc(o->n_proofs ? o->n_proofs : 1, sizeof *proofs);
  size_t np = 0;
  for (size_t i = 0; proofs && i < o->n_proofs; i++)
    if ((proofs[np] = hpvm__storage_proof__unpack(NULL, o->proofs[i].len, o->proofs[i].data))) np++;
  Hpvm__MigrateOffer off = HPVM__MIGRATE_OFFER__INIT;
  off.migration_id = o->id;
  off.config = o->config;
  off.source_host = cc.me.host;
  off.channels = m->nch;
  off.protocol_version = PEER_PROTOCOL_VERSION;
  off.vmstate_version = WIRE_VERSION;
  off.check_only = r->check_only;
  off.force = r->force;
  off.proofs = proofs;
  off.n_proofs = np;
  Hpvm__PeerRequest req = HPVM__PEER_REQUEST__INIT;
  req.body_case = HPVM__PEER_REQUEST__BODY_MIGRATE_OFFER;
  req.migrate_offer = &off;
  rc = proofs ? ask_peer(m, ch[0], &req, deadline, offer_ans, msg, len) : HPVM_ENOMEM;
  for (size_t i = 0; i < np; i++) hpvm__storage_proof__free_unpacked(proofs[i], NULL);
  free(proofs);
  if (rc || r->check_only) goto out;
  /* The other channels, from the same host. */
  for (unsigned i = 1; i < m->nch && !rc; i++) {
    Hpvm__PeerAnswer *a = NULL;
    if ((rc = open_channel(m, &cc, m->target, deadline, &ch[i], msg, len))) break;
    Hpvm__MigrateJoin j = HPVM__MIGRATE_JOIN__INIT;
    j.migration_id = o->id;
    j.index = i;
    Hpvm__PeerRequest jr = HPVM__PEER_REQUEST__INIT;
    jr.body_case = HPVM__PEER_REQUEST__BODY_MIGRATE_JOIN;
    jr.migrate_join = &j;
    rc = ask_peer(m, ch[i], &jr, deadline, &a, msg, len);
    if (a) hpvm__peer_answer__free_unpacked(a, NULL);
  }
  if (!rc) {
    Hpvm__PeerAnswer *a = NULL;
    rc = ask_peer(m, ch[0], NULL, deadline, &a, msg, len);   /* ready: hpvmapp --incoming is up */
    if (!rc && !a->ready) rc = HPVM_EIO, snprintf(msg, len, "host %s answered, but not that it is ready", m->target);
    if (a) hpvm__peer_answer__free_unpacked(a, NULL);
  }
out:
  memset(&cc.me, 0, sizeof cc.me);   /* the secret keys live in m->out until it is freed */
  if (rc == HPVM_ETIMEDOUT && mono_ns() + 50000000u >= deadline) {   /* ours, not a target's answer */
    char step[900];
    snprintf(step, sizeof step, "%s", msg);
    if (timeout % 1000) snprintf(msg, len, "init phase timed out after %u ms: %s", timeout, step);
    else snprintf(msg, len, "init phase timed out after %u s: %s", timeout / 1000, step);
  }
  return rc;
}

/* ---- Source: the migration ---------------------------------------------------------------------- */

static void on_source_progress(void *ctx, const mig_stats *s) {
  app_mig *m = ctx;
  send_progress(m, s, NULL);
  if (s->phase == m->last_phase) return;
  m->last_phase = s->phase;
  /* TEST ONLY: hold the state machine at the start of a phase (a cancel, a death there). */
  if (s->phase == MIG_PHASE_COPY) hpvm_test_fault("app-src-copy");
  else if (s->phase == MIG_PHASE_QUIESCE) hpvm_test_fault("app-src-quiesce");
  else if (s->phase == MIG_PHASE_FROZEN) hpvm_test_fault("app-src-frozen");
  else if (s->phase == MIG_PHASE_HANDOFF) hpvm_test_fault("app-src-handoff-phase");
}

static uint32_t lease_timeout(const app_mig *m) {
  return m->out && m->out->lease_timeout_ms ? m->out->lease_timeout_ms : LEASE_TIMEOUT_MS;
}

/* The target holds the whole state, the vCPUs are paused: hpvmd writes the lease. hpvmd
 * refuses after half its lease timeout from now (the target waits for the lease a timeout
 * and more); past that plus a second without an answer this gives up: the abort that
 * follows then decides whether the guest may resume here. */
static int on_handoff(void *ctx, uint64_t *gen, char *msg, size_t len) {
  app_mig *m = ctx;
  uint64_t acked = mono_ns();
  hpvm_test_fault("app-src-acked");   /* TEST ONLY: after STATE_ACK, before the handover write */
  Hpvm__AppHandoff h = HPVM__APP_HANDOFF__INIT;
  h.id = m->out->id;
  h.target_host = m->target;
  h.acked_mono_ns = acked;
  Hpvm__AppEvent e = HPVM__APP_EVENT__INIT;
  e.body_case = HPVM__APP_EVENT__BODY_HANDOFF;
  e.handoff = &h;
  int wait_ms = (int)(lease_timeout(m) / 2) + 1000;
  int rc = ask_hpvmd(m, &e, wait_ms);
  if (rc) return no_answer(msg, len, rc, wait_ms), rc;
  pthread_mutex_lock(&m->lock);
  rc = m->reply_err;
  if (rc) snprintf(msg, len, "%s", m->reply_msg);
  else *gen = m->reply_gen, m->handed_off = true;
  pthread_mutex_unlock(&m->lock);
  if (!rc) hpvm_test_fault("app-src-handed-over");   /* TEST ONLY: after the lease write, before COMMIT */
  return rc;
}

/* The migration failed after the target may have acknowledged the state: hpvmd notes the
 * abort in the lease before the guest resumes. Without that note (no answer, or a refusal)
 * the guest must not resume: the target may take the lease over once it expires. */
static int on_abort(void *ctx, char *msg, size_t len) {
  app_mig *m = ctx;
  Hpvm__AppHandoff h = HPVM__APP_HANDOFF__INIT;
  h.id = m->out->id;
  h.target_host = m->target;
  h.abort = true;
  Hpvm__AppEvent e = HPVM__APP_EVENT__INIT;
  e.body_case = HPVM__APP_EVENT__BODY_HANDOFF;
  e.handoff = &h;
  int wait_ms = (int)(lease_timeout(m) / 4);
  int rc = ask_hpvmd(m, &e, wait_ms);
  pthread_mutex_lock(&m->lock);
  if (rc) no_answer(m->stop_why, sizeof m->stop_why, rc, wait_ms);
  else if ((rc = m->reply_err)) snprintf(m->stop_why, sizeof m->stop_why, "%s", m->reply_msg);
  if (rc) m->must_stop = true, snprintf(msg, len, "%s", m->stop_why);
  pthread_mutex_unlock(&m->lock);
  return rc;
}

static void mig_params_from(const Hpvm__MigrateRequest *r, mig_params *p) {
  memset(p, 0, sizeof *p);
  p->downtime_ms = r->downtime_ms;
  p->bandwidth_bps = r->bandwidth_bps;
  p->compress = r->compress == HPVM__MIGRATE_COMPRESS__MIGRATE_COMPRESS_LZ4    ? MIG_COMPRESS_LZ4
                : r->compress == HPVM__MIGRATE_COMPRESS__MIGRATE_COMPRESS_NONE ? MIG_COMPRESS_NONE
                                                                                : MIG_COMPRESS_AUTO;
  p->copy_timeout_ms = r->copy_timeout_ms;
  p->quiesce_timeout_ms = r->quiesce_timeout_ms;
  p->frozen_timeout_ms = r->frozen_timeout_ms;
  p->progress_ms = 250;
}

static void *source_thread(void *arg) {
  app_mig *m = arg;
  const Hpvm__MigrateRequest *r = m->out->params;
  chan *ch[MIG_MAX_CHANNELS] = {0};
  Hpvm__PeerAnswer *offer = NULL;
  char msg[1200] = "";
  mig_stats st;
  memset(&st, 0, sizeof st);
  char note[300];
  snprintf(note, sizeof note, "connecting to %s", m->out->target_address);
  send_progress(m, NULL, note);
  int rc = connect_target(m, ch, &offer, msg, sizeof msg);
  char **warn = offer ? offer->warnings : NULL;
  size_t nwarn = offer ? offer->n_warnings : 0;
  bool handed_off = false, must_stop = false;
  if (!rc && r->check_only) {
    snprintf(msg, sizeof msg, "host %s accepts VM %s (%s)%s", m->target, m->out->config->name, m->cipher,
             nwarn ? ", with warnings forced by -F" : "");
  } else if (!rc) {
    mig_params p;
    mig_params_from(r, &p);
    mig_source_hooks h = {.ctx = m, .progress = on_source_progress, .handoff = on_handoff, .abort = on_abort};
    mig_source *src = NULL;
    uint64_t setup = mono_ns() - m->t0_ns;
    rc = mig_source_new(m->v, ch, m->nch, &p, &h, &src, msg, sizeof msg);
    memset(ch, 0, sizeof ch);   /* the library's now, whatever happened */
    if (!rc) {
      pthread_mutex_lock(&m->lock);
      m->src = src;
      bool cancel = m->cancel;
      pthread_mutex_unlock(&m->lock);
      if (cancel) mig_source_cancel(src);
      rc = mig_source_run(src, msg, sizeof msg);
      mig_source_stats(src, &st);
      st.setup_ns = setup;
      st.total_ns = mono_ns() - m->t0_ns;
      pthread_mutex_lock(&m->lock);
      m->src = NULL;
      pthread_mutex_unlock(&m->lock);
      mig_source_free(src);
    }
    /* After a successful handoff hook the guest is the target's even if the end went wrong
     * (the library never resumes it then); before it, the library resumed it. */
    pthread_mutex_lock(&m->lock);
    handed_off = rc == 0 || m->handed_off;
    must_stop = !handed_off && m->must_stop;
    pthread_mutex_unlock(&m->lock);
    if (!rc) snprintf(msg, sizeof msg, "VM %s runs on host %s", m->out->config->name, m->target);
  }
  for (unsigned i = 0; i < MIG_MAX_CHANNELS; i++) chan_close(ch[i]);
  if (must_stop) {
    /* The abort is not in the lease: the target may resume the guest from the lease. */
    char note[1100];
    snprintf(note, sizeof note, "stopped: the migration to host %.255s failed after the target acknowledged the state, "
             "and its abort could not be noted in the lease (%.500s), so the guest must not resume here",
             m->target[0] ? m->target : m->out->target_address, m->stop_why);
    fprintf(stderr, "hpvmapp: %s\n", note);
    snprintf(msg, sizeof msg, "%s", note);
    app_ctl_set_exit_note(m->ctl, note);
    vm_power_off(m->v, 0);
  } else if (rc && !handed_off) {
    fprintf(stderr, "hpvmapp: migration to %s not done: %s; the guest runs on here\n",
            m->target[0] ? m->target : m->out->target_address, msg);
  }
  send_done(m, rc, msg, r->check_only ? NULL : &st, warn, nwarn);
  if (offer) hpvm__peer_answer__free_unpacked(offer, NULL);
  if (handed_off) {
    /* The lease names the target: this copy never runs again. */
    fprintf(stderr, "hpvmapp: VM migrated to host %s\n", m->target);
    app_ctl_set_migrated(m->ctl, m->target);
    /* Every whole line the guest printed here is in console.log (the pump drains the console
     * before the exit); the line it was in the middle of went with the state, and the target
     * prints it whole. */
    vm_console_forget_unsent(m->v);
    vm_power_off(m->v, 0);
  }
  pthread_mutex_lock(&m->lock);
  m->thread_done = true;
  pthread_mutex_unlock(&m->lock);
  return NULL;
}

static void start_source(app_mig *m, const Hpvm__AppMigrateOut *o) {
  pthread_mutex_lock(&m->lock);
  bool busy = m->thread_started && !m->thread_done;
  pthread_mutex_unlock(&m->lock);
  if (busy || !o->params || !o->config || !o->target_address) {
    Hpvm__AppMigrateDone d = HPVM__APP_MIGRATE_DONE__INIT;
    d.error = busy ? HPVM_EBUSY : HPVM_EINVAL;
    d.message = busy ? "a migration of this VM is already in progress" : "an incomplete migrate command";
    Hpvm__AppEvent e = HPVM__APP_EVENT__INIT;
    e.body_case = HPVM__APP_EVENT__BODY_MIGRATE_DONE;
    e.migrate_done = &d;
    app_ctl_send(m->ctl, &e);
    return;
  }
  if (m->thread_started) pthread_join(m->thread, NULL);
  if (m->out) hpvm__app_migrate_out__free_unpacked(m->out, NULL);
  m->out = (Hpvm__AppMigrateOut *)msg_copy(&o->base);
  m->thread_started = m->thread_done = false;
  m->cancel = m->handed_off = m->must_stop = false;
  m->stop_why[0] = 0;
  m->last_phase = MIG_PHASE_INIT;
  m->target[0] = m->cipher[0] = 0;
  if (o->target_host) snprintf(m->target, sizeof m->target, "%s", o->target_host);
  m->nch = o->params->channels ? o->params->channels : 2;
  if (m->nch > MIG_MAX_CHANNELS) m->nch = MIG_MAX_CHANNELS;
  m->t0_ns = mono_ns();
  if (!m->out || pthread_create(&m->thread, NULL, source_thread, m)) {
    send_done(m, HPVM_ENOMEM, "hpvmapp cannot start the migration thread", NULL, NULL, 0);
    return;
  }
  m->thread_started = true;
}

/* ---- Commands ---------------------------------------------------------------------------------- */

app_mig *app_mig_new(app_ctl *c, vm *v) {
  if (!c) return NULL;
  app_mig *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->ctl = c;
  m->v = v;
  m->work_fd = -1;
  pthread_mutex_init(&m->lock, NULL);
  pthread_cond_init(&m->cond, NULL);
  app_ctl_set_mig(c, m);
  return m;
}

static void set_reply(app_mig *m, int err, const char *msg, uint64_t gen) {
  pthread_mutex_lock(&m->lock);
  m->have_reply = true;
  m->reply_err = err;
  snprintf(m->reply_msg, sizeof m->reply_msg, "%s", msg ? msg : "");
  m->reply_gen = gen;
  pthread_cond_broadcast(&m->cond);
  pthread_mutex_unlock(&m->lock);
}

void app_mig_command(app_mig *m, const Hpvm__AppCommand *cmd) {
  switch (cmd->body_case) {
  case HPVM__APP_COMMAND__BODY_MIGRATE_OUT:
    start_source(m, cmd->migrate_out);
    break;
  case HPVM__APP_COMMAND__BODY_HANDOFF_RESULT:
    set_reply(m, cmd->handoff_result->error, cmd->handoff_result->message, cmd->handoff_result->lease_generation);
    break;
  case HPVM__APP_COMMAND__BODY_ADOPT_RESULT:
    set_reply(m, cmd->adopt_result->error, cmd->adopt_result->message, 0);
    break;
  case HPVM__APP_COMMAND__BODY_MIGRATE_CANCEL:
    pthread_mutex_lock(&m->lock);
    m->cancel = true;
    if (m->work_fd >= 0) shutdown(m->work_fd, SHUT_RDWR);
    if (m->src) mig_source_cancel(m->src);
    pthread_mutex_unlock(&m->lock);
    break;
  case HPVM__APP_COMMAND__BODY_INCOMING:
    pthread_mutex_lock(&m->lock);
    if (!m->incoming) m->incoming = (Hpvm__AppIncoming *)msg_copy(&cmd->incoming->base);
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
    break;
  default:
    break;
  }
}

void app_mig_stop(app_mig *m) {
  if (!m) return;
  pthread_mutex_lock(&m->lock);
  m->cancel = true;
  m->stopping = true;
  if (m->work_fd >= 0) shutdown(m->work_fd, SHUT_RDWR);
  if (m->src) mig_source_cancel(m->src);
  pthread_cond_broadcast(&m->cond);
  bool join = m->thread_started;
  m->thread_started = false;
  pthread_mutex_unlock(&m->lock);
  if (join) pthread_join(m->thread, NULL);
}

void app_mig_free(app_mig *m) {
  if (!m) return;
  app_mig_stop(m);
  if (m->out) hpvm__app_migrate_out__free_unpacked(m->out, NULL);
  if (m->incoming) hpvm__app_incoming__free_unpacked(m->incoming, NULL);
  pthread_mutex_destroy(&m->lock);
  pthread_cond_destroy(&m->cond);
  free(m);
}

/* ---- Target ------------------------------------------------------------------------------------- */

static void on_dest_progress(void *ctx, const mig_stats *s) {
  app_mig *m = ctx;
  send_progress(m, s, NULL);
  if (s->phase == m->last_phase) return;
  m->last_phase = s->phase;
  if (s->phase == MIG_PHASE_HANDOFF) hpvm_test_fault("app-dst-acked");   /* TEST ONLY: STATE_ACK is out */
}

/* The source wrote the lease for us: hpvmd adopts it, or the guest must not resume here. */
static int on_adopt(void *ctx, uint64_t gen, char *msg, size_t len) {
  app_mig *m = ctx;
  Hpvm__AppAdopt a = HPVM__APP_ADOPT__INIT;
  a.id = m->id;
  a.lease_generation = gen;
  Hpvm__AppEvent e = HPVM__APP_EVENT__INIT;
  e.body_case = HPVM__APP_EVENT__BODY_ADOPT;
  e.adopt = &a;
  if (ask_hpvmd(m, &e, ANSWER_TIMEOUT_MS))
    return snprintf(msg, len, "hpvmd did not adopt the lease within %d s", ANSWER_TIMEOUT_MS / 1000), HPVM_ETIMEDOUT;
  pthread_mutex_lock(&m->lock);
  int rc = m->reply_err;
  if (rc) snprintf(msg, len, "%s", m->reply_msg);
  pthread_mutex_unlock(&m->lock);
  return rc;
}

/* The source went silent after we acknowledged the state: hpvmd decides from the lease (and
 * answers when it knows, within the source's lease timeout and a margin). */
static int on_decide(void *ctx, char *msg, size_t len) {
  app_mig *m = ctx;
  Hpvm__AppAdopt a = HPVM__APP_ADOPT__INIT;
  a.id = m->id;
  a.decide = true;
  a.source_host = m->target;
  a.offer_generation = m->offer_gen;
  Hpvm__AppEvent e = HPVM__APP_EVENT__INIT;
  e.body_case = HPVM__APP_EVENT__BODY_ADOPT;
  e.adopt = &a;
  fprintf(stderr, "hpvmapp: host %s went silent after the state was acknowledged; the lease decides\n", m->target);
  if (ask_hpvmd(m, &e, DECIDE_TIMEOUT_MS))
    return snprintf(msg, len, "hpvmd did not decide from the lease within %d s", DECIDE_TIMEOUT_MS / 1000),
           HPVM_ETIMEDOUT;
  pthread_mutex_lock(&m->lock);
  int rc = m->reply_err;
  if (rc) snprintf(msg, len, "%s", m->reply_msg);
  pthread_mutex_unlock(&m->lock);
  return rc;
}

int app_mig_incoming(app_mig *m, const int *fds, unsigned n, char *msg, size_t msglen) {
  if (!m) return snprintf(msg, msglen, "--incoming needs hpvmd (--control-fd)"), HPVM_EINVAL;
  /* hpvmd sends the channels' keys once it saw our hello. */
  uint64_t end = mono_ns() + (uint64_t)INCOMING_WAIT_MS * 1000000u;
  pthread_mutex_lock(&m->lock);
  while (!m->incoming && mono_ns() < end) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 200000000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    pthread_cond_timedwait(&m->cond, &m->lock, &ts);
  }
  Hpvm__AppIncoming *in = m->incoming;
  pthread_mutex_unlock(&m->lock);
  if (!in) return snprintf(msg, msglen, "hpvmd did not hand over the channels within %d s", INCOMING_WAIT_MS / 1000),
               HPVM_ETIMEDOUT;
  if (in->n_chan_states != n)
    return snprintf(msg, msglen, "hpvmd sent %zu channel states for %u sockets", in->n_chan_states, n), HPVM_EINVAL;
  snprintf(m->id, sizeof m->id, "%s", in->id);
  snprintf(m->target, sizeof m->target, "%s", in->source_host);   /* for progress: the other side */
  m->offer_gen = in->lease_generation;
  m->last_phase = MIG_PHASE_INIT;
  m->nch = n;
  chan *ch[MIG_MAX_CHANNELS] = {0};
  int rc = 0;
  for (unsigned i = 0; i < n && !rc; i++) {
    if (in->chan_states[i].len != CHAN_STATE_LEN) {
      rc = HPVM_EINVAL;
      snprintf(msg, msglen, "channel %u: a state of %zu bytes", i, in->chan_states[i].len);
    } else {
      rc = chan_import(fds[i], in->chan_states[i].data, &ch[i], msg, msglen);
    }
  }
  for (size_t i = 0; i < in->n_chan_states; i++) memset(in->chan_states[i].data, 0, in->chan_states[i].len);   /* keys */
  if (rc) {
    for (unsigned i = 0; i < n; i++) chan_abort(ch[i]);
    return rc;
  }
  snprintf(m->cipher, sizeof m->cipher, "%s", chan_cipher(ch[0]));
  fprintf(stderr, "hpvmapp: receiving VM from host %s (migration %s, %u channels, %s)\n", in->source_host, in->id, n,
          m->cipher);
  mig_dest_hooks h = {.ctx = m, .progress = on_dest_progress, .adopt = on_adopt, .decide = on_decide};
  mig_stats st;
  rc = mig_dest_run(m->v, ch, n, &h, &st, msg, msglen);
  if (!rc) fprintf(stderr, "hpvmapp: VM migrated in from host %s; it runs here\n", in->source_host);
  return rc;
}
