/* dest.c — the receiving side of a live migration: a state machine on the caller's thread and
 * one receiver thread per channel writing page batches straight into guest memory. The
 * protocol drawing is at the top of source.c; the wire messages are proto/migrate.proto.
 *
 * The transition table (anything not listed is refused: the migration fails here and the
 * guest runs on at the source):
 *
 *   state      | HELLOS     FINALS  RESTORED  COMMIT  ADOPTED | ABORT   ERROR
 *   HELLO      | RECEIVING                                    | FAILED  FAILED
 *   RECEIVING  |            STATE                             | FAILED  FAILED
 *   STATE      |                    ACKED                     | FAILED  FAILED
 *   ACKED      |                              ADOPT   RUNNING | FAILED  FAILED
 *   ADOPT      |                                      RUNNING |         FAILED
 *
 * HELLO: every channel's first message names its index, the channel count, the VM's memory
 * and vCPUs and the partition unit; anything that does not match this VM is refused before
 * a byte of memory is written. Then RAM is cleared (round 0 does not send frames that are
 * zero) and the receivers start. RECEIVING: receiver i accepts only batches of its own
 * chunks (the partition), of its current round, and checks each ROUND_END's frame count; the
 * machine waits until every channel has ended the final round, so the final state applies
 * only after every frame is in. STATE: the state without RAM (vm_restore_state: ar.itc goes
 * on from the source's value). ACKED: STATE_ACK sent; COMMIT brings the lease generation.
 * ADOPT: the hook takes the lease; then vm_start and RESUMED. Any failure before RUNNING:
 * ERROR to the source (unless it is the one that aborted), channels closed, the VM is garbage.
 *
 * A source that goes silent after STATE_ACK (channel 0 closed or broken, or no COMMIT within
 * MIG_COMMIT_WAIT_MS) may have written the lease for this host just before: the decide hook
 * asks the lease (hpvmd) and, when it says the guest is ours, ACKED --ADOPTED--> RUNNING
 * (vm_start; RESUMED if the source can still hear it). Without the hook, or when the lease
 * says no, the migration fails as any other. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "internal.h"
#include "wire.h"

#define IDLE_TIMEOUT_MS 60000        /* the source sends nothing for this long: it is gone */
#define HELLO_TIMEOUT_MS 10000
#define SEND_TIMEOUT_MS 10000
#define ACK_MS 50                    /* while receiving, an ACK this often */


static const struct { mig_dst_state from; mig_dst_event ev; mig_dst_state to; } dst_table[] = {
    {MIG_DST_HELLO, MIG_DST_EV_HELLOS, MIG_DST_RECEIVING},
    {MIG_DST_HELLO, MIG_DST_EV_ABORT, MIG_DST_FAILED},
    {MIG_DST_HELLO, MIG_DST_EV_ERROR, MIG_DST_FAILED},
    {MIG_DST_RECEIVING, MIG_DST_EV_FINALS, MIG_DST_STATE},
    {MIG_DST_RECEIVING, MIG_DST_EV_ABORT, MIG_DST_FAILED},
    {MIG_DST_RECEIVING, MIG_DST_EV_ERROR, MIG_DST_FAILED},
    {MIG_DST_STATE, MIG_DST_EV_RESTORED, MIG_DST_ACKED},
    {MIG_DST_STATE, MIG_DST_EV_ABORT, MIG_DST_FAILED},
    {MIG_DST_STATE, MIG_DST_EV_ERROR, MIG_DST_FAILED},
    {MIG_DST_ACKED, MIG_DST_EV_COMMIT, MIG_DST_ADOPT},
    {MIG_DST_ACKED, MIG_DST_EV_ADOPTED, MIG_DST_RUNNING},   /* the source went silent; the lease says ours */
    {MIG_DST_ACKED, MIG_DST_EV_ABORT, MIG_DST_FAILED},
    {MIG_DST_ACKED, MIG_DST_EV_ERROR, MIG_DST_FAILED},
    {MIG_DST_ADOPT, MIG_DST_EV_ADOPTED, MIG_DST_RUNNING},
    {MIG_DST_ADOPT, MIG_DST_EV_ERROR, MIG_DST_FAILED},
};

mig_dst_state mig_dst_next(mig_dst_state s, mig_dst_event e) {
  for (size_t i = 0; i < sizeof dst_table / sizeof *dst_table; i++)
    if (dst_table[i].from == s && dst_table[i].ev == e) return dst_table[i].to;
  return MIG_DST_INVALID;
}

const char *mig_dst_state_name(mig_dst_state s) {
  static const char *const n[MIG_DST_NSTATES] = {"INVALID", "HELLO", "RECEIVING", "STATE", "ACKED", "ADOPT",
                                                 "RUNNING", "FAILED"};
  return (unsigned)s < MIG_DST_NSTATES ? n[s] : "?";
}

const char *mig_dst_event_name(mig_dst_event e) {
  static const char *const n[MIG_DST_NEVENTS] = {"INVALID", "HELLOS", "FINALS", "RESTORED", "COMMIT", "ADOPTED",
                                                 "ABORT", "ERROR"};
  return (unsigned)e < MIG_DST_NEVENTS ? n[e] : "?";
}

typedef struct mig_dest mig_dest;

typedef struct receiver {
  mig_dest *d;
  unsigned idx;
  chan *ch;
  pthread_t th;
  bool started;
  uint32_t round;
  uint64_t round_frames;
  _Atomic uint64_t wire, frames, zero, raw, lz4, delta;
  _Atomic uint64_t cpu_ns;         /* this thread's CPU time, when it ends */
  /* Time blocked inside chan_recv (neither running nor ready to run: waiting for data), and
   * when the current chan_recv began (0: not in one). A receiver that keeps up with the link
   * waits there; one the CPU limits (busy, starved by other load, or stalled in the kernel
   * while it writes guest memory) does not. */
  mig_busy busy;
  _Atomic uint64_t waited_ns, recv_since;
  uint64_t acked_waited;           /* main thread: at the previous ACK */
} receiver;

struct mig_dest {
  vm *v;
  unsigned nch;
  receiver r[MIG_MAX_CHANNELS];
  mig_dest_hooks h;
  mig_dst_state state;
  pthread_mutex_t lock;
  pthread_cond_t cond;             /* CLOCK_MONOTONIC */
  uint64_t *received;              /* frames this side holds something for (bit per frame) */
  unsigned finals;                 /* channels that ended the final round (under lock) */
  bool aborted;                    /* the source said ABORT */
  int err;                         /* the first failure (under lock) */
  char msg[256];
  uint64_t lease_generation;
  uint64_t t0;
  double cpu0;
  mig_stats st;
};

static void dst_error(mig_dest *d, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void dst_error(mig_dest *d, int rc, const char *fmt, ...) {
  pthread_mutex_lock(&d->lock);
  if (!d->err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
    d->err = rc;
  }
  pthread_cond_broadcast(&d->cond);
  pthread_mutex_unlock(&d->lock);
}

static void abort_from(mig_dest *d, const Hpvm__MigMessage *mm) {
  pthread_mutex_lock(&d->lock);
  if (!d->err) {
    d->aborted = true;
    d->err = mm->error && mm->error->code < 0 ? mm->error->code : HPVM_ECANCELED;
    snprintf(d->msg, sizeof d->msg, "the source aborted the migration: %s",
             mm->error && mm->error->text && mm->error->text[0] ? mm->error->text : "no reason given");
  }
  pthread_cond_broadcast(&d->cond);
  pthread_mutex_unlock(&d->lock);
}

/* ---- Receivers ------------------------------------------------------------------------------------ */

/* One PAGES message: in this channel's partition, of its current round, then decoded. */
static int take_pages(receiver *r, const Hpvm__MigPages *p, const uint8_t *bulk, size_t len, char *msg, size_t msglen) {
  mig_dest *d = r->d;
  if (p->round != r->round)
    return mig_fail(msg, msglen, HPVM_ECORRUPT, "channel %u: a batch of round %u during round %u", r->idx, p->round, r->round);
  if (p->first_frame % MIG_CHUNK_FRAMES || mig_channel_of(p->first_frame, d->nch) != r->idx)
    return mig_fail(msg, msglen, HPVM_ECORRUPT, "channel %u: a batch at frame 0x%" PRIx64 ", which another channel carries",
                    r->idx, p->first_frame);
  size_t nlens = p->n_lens;
  int n = mig_decode(d->v, d->received, p->round, p->first_frame, p->kinds.data, p->kinds.len, p->lens, nlens, bulk, len, msg, msglen);
  if (n < 0) return n;
  r->round_frames += (uint64_t)n;
  atomic_fetch_add(&r->frames, (uint64_t)n);
  uint64_t z = 0, raw = 0, lz = 0, dl = 0;
  for (size_t i = 0; i < p->kinds.len; i++) {
    uint8_t k = p->kinds.data[i];
    z += k == HPVM__MIG_FRAME_KIND__MIG_FRAME_ZERO, raw += k == HPVM__MIG_FRAME_KIND__MIG_FRAME_RAW;
    lz += k == HPVM__MIG_FRAME_KIND__MIG_FRAME_LZ4, dl += k == HPVM__MIG_FRAME_KIND__MIG_FRAME_DELTA;
  }
  atomic_fetch_add(&r->zero, z), atomic_fetch_add(&r->raw, raw), atomic_fetch_add(&r->lz4, lz), atomic_fetch_add(&r->delta, dl);
  return 0;
}

/* 1 after the final ROUND_END, 0 to go on, negative on error. */
static int take_round_end(receiver *r, const Hpvm__MigRoundEnd *e, char *msg, size_t msglen) {
  if (e->round != r->round)
    return mig_fail(msg, msglen, HPVM_ECORRUPT, "channel %u: the end of round %u during round %u", r->idx, e->round, r->round);
  if (e->frames != r->round_frames)
    return mig_fail(msg, msglen, HPVM_ECORRUPT, "channel %u: round %u ended with %" PRIu64 " frames sent, %" PRIu64
                    " received", r->idx, e->round, e->frames, r->round_frames);
  r->round++;
  r->round_frames = 0;
  return e->final ? 1 : 0;
}

static void *receiver_loop(receiver *r);
static void *receiver_main(void *arg) {
  receiver *r = arg;
  char name[16];
  snprintf(name, sizeof name, "mig-recv%u", r->idx);
  pthread_setname_np(pthread_self(), name);
  mig_busy_start(&r->busy);
  receiver_loop(r);
  mig_busy_stop(&r->busy);
  atomic_store(&r->cpu_ns, mig_thread_cpu_ns());
  return NULL;
}

static void *receiver_loop(receiver *r) {
  mig_dest *d = r->d;
  char msg[256];
  for (;;) {
    ProtobufCMessage *pm = NULL;
    const uint8_t *bulk = NULL;
    size_t len = 0;
    mig_busy_sample(&r->busy, 0);
    atomic_store(&r->recv_since, r->busy.t_wall);
    int rc = chan_recv(r->ch, &hpvm__mig_message__descriptor, &pm, &bulk, &len, IDLE_TIMEOUT_MS, msg, sizeof msg);
    mig_busy_sample(&r->busy, 0);
    atomic_fetch_add(&r->waited_ns, r->busy.blocked_ns);
    atomic_store(&r->recv_since, 0);
    if (rc == 1) {
      dst_error(d, HPVM_EIO, "channel %u: the source closed it before the end of the copy", r->idx);
      return NULL;
    }
    if (rc < 0) {
      dst_error(d, rc, "channel %u: %s", r->idx, msg);
      return NULL;
    }
    const Hpvm__MigMessage *mm = (const Hpvm__MigMessage *)pm;
    atomic_fetch_add(&r->wire, len + 16);
    int done = 0;
    if (mm->type == HPVM__MIG_TYPE__MIG_TYPE_PAGES && mm->pages) rc = take_pages(r, mm->pages, bulk, len, msg, sizeof msg);
    else if (mm->type == HPVM__MIG_TYPE__MIG_TYPE_ROUND_END && mm->round_end)
      rc = done = take_round_end(r, mm->round_end, msg, sizeof msg);
    else if (mm->type == HPVM__MIG_TYPE__MIG_TYPE_ABORT) {
      abort_from(d, mm);
      protobuf_c_message_free_unpacked(pm, NULL);
      return NULL;
    } else
      rc = mig_fail(msg, sizeof msg, HPVM_ECORRUPT, "channel %u: message type %d during the copy", r->idx, (int)mm->type);
    protobuf_c_message_free_unpacked(pm, NULL);
    if (rc < 0) {
      dst_error(d, rc, "%s", msg);
      return NULL;
    }
    if (done == 1) {
      pthread_mutex_lock(&d->lock);
      d->finals++;
      pthread_cond_broadcast(&d->cond);
      pthread_mutex_unlock(&d->lock);
      return NULL;
    }
  }
}

/* ---- The states' work ------------------------------------------------------------------------------ */

static mig_dst_event error_ev(mig_dest *d) { return d->aborted ? MIG_DST_EV_ABORT : MIG_DST_EV_ERROR; }

static mig_dst_event do_hello(mig_dest *d, chan **ch) {
  char msg[256];
  for (unsigned i = 0; i < d->nch; i++) {
    ProtobufCMessage *pm = NULL;
    int rc = chan_recv(ch[i], &hpvm__mig_message__descriptor, &pm, NULL, NULL, HELLO_TIMEOUT_MS, msg, sizeof msg);
    if (rc) {
      dst_error(d, rc < 0 ? rc : HPVM_EIO, "channel %u: %s", i, rc < 0 ? msg : "closed before HELLO");
      return MIG_DST_EV_ERROR;
    }
    const Hpvm__MigMessage *mm = (const Hpvm__MigMessage *)pm;
    const Hpvm__MigHello *h = mm->hello;
    if (mm->type == HPVM__MIG_TYPE__MIG_TYPE_ABORT) abort_from(d, mm);
    else if (mm->type != HPVM__MIG_TYPE__MIG_TYPE_HELLO || !h)
      dst_error(d, HPVM_ECORRUPT, "channel %u: message type %d before HELLO", i, (int)mm->type);
    else if (h->version != MIG_PROTOCOL_VERSION)
      dst_error(d, HPVM_ENOTSUP, "the source speaks migration protocol %u, this host %d: upgrade the older host",
                h->version, MIG_PROTOCOL_VERSION);
    else if (h->channels != d->nch || h->channel >= d->nch || d->r[h->channel].ch)
      dst_error(d, HPVM_EINVAL, "channel %u says it is channel %u of %u; this side has %u channels", i, h->channel,
                h->channels, d->nch);
    else if (h->memory_bytes != vm_memory_size(d->v) || h->vcpus != vm_ncpus(d->v))
      dst_error(d, HPVM_EINVAL, "the source's VM has %" PRIu64 " MiB and %u vCPUs, this one %" PRIu64 " MiB and %u: "
                "create it with the same configuration", h->memory_bytes >> 20, h->vcpus, vm_memory_size(d->v) >> 20,
                vm_ncpus(d->v));
    else if (h->chunk_frames != MIG_CHUNK_FRAMES)
      dst_error(d, HPVM_ENOTSUP, "the source partitions by %u frames, this host by %u", h->chunk_frames, MIG_CHUNK_FRAMES);
    else d->r[h->channel].ch = ch[i], ch[i] = NULL;
    protobuf_c_message_free_unpacked(pm, NULL);
    if (d->err) return error_ev(d);
  }
  return MIG_DST_EV_HELLOS;
}

/* The ACK of the last period: bytes so far, and the share of it the receivers spent waiting
 * for data (a chan_recv still going counts as waiting since it began). Main thread, lock not
 * held. */
static int send_ack(mig_dest *d, uint64_t period_ns, char *msg, size_t msglen) {
  Hpvm__MigMessage mm = HPVM__MIG_MESSAGE__INIT;
  Hpvm__MigAck ack = HPVM__MIG_ACK__INIT;
  mm.type = HPVM__MIG_TYPE__MIG_TYPE_ACK;
  mm.ack = &ack;
  uint64_t idle = 0, now = mig_now_ns();
  for (unsigned i = 0; i < d->nch; i++) {
    receiver *r = &d->r[i];
    ack.wire_bytes += atomic_load(&r->wire);
    uint64_t waited = atomic_load(&r->waited_ns), since = atomic_load(&r->recv_since);
    uint64_t w = waited - r->acked_waited;
    if (since && now > since) w += now - since < period_ns ? now - since : period_ns;
    r->acked_waited = waited;
    idle += w >= period_ns ? 1000 : w * 1000 / (period_ns ? period_ns : 1);
  }
  ack.idle_permille = (uint32_t)(idle / d->nch);
  return chan_send(d->r[0].ch, &mm.base, NULL, 0, SEND_TIMEOUT_MS, msg, msglen);
}

static mig_dst_event do_receiving(mig_dest *d) {
  int rc = vm_mem_clear(d->v);
  if (rc) {
    dst_error(d, rc, "the VM to receive into has been started: create a new one");
    return MIG_DST_EV_ERROR;
  }
  for (unsigned i = 0; i < d->nch; i++) {
    if (pthread_create(&d->r[i].th, NULL, receiver_main, &d->r[i])) {
      dst_error(d, HPVM_ENOMEM, "cannot start receiver thread %u", i);
      return MIG_DST_EV_ERROR;
    }
    d->r[i].started = true;
  }
  pthread_mutex_lock(&d->lock);
  uint64_t last_ack = mig_now_ns();
  while (!d->err && d->finals < d->nch) {
    uint64_t due = last_ack + ACK_MS * 1000000ull;
    struct timespec ts = {.tv_sec = (time_t)(due / 1000000000), .tv_nsec = (long)(due % 1000000000)};
    if (pthread_cond_timedwait(&d->cond, &d->lock, &ts) != ETIMEDOUT || d->err || d->finals == d->nch) continue;
    pthread_mutex_unlock(&d->lock);
    char msg[256];
    uint64_t now = mig_now_ns();
    if ((rc = send_ack(d, now - last_ack, msg, sizeof msg))) dst_error(d, rc, "channel 0: %s", msg);
    last_ack = now;
    pthread_mutex_lock(&d->lock);
  }
  mig_dst_event ev = d->err ? error_ev(d) : MIG_DST_EV_FINALS;
  pthread_mutex_unlock(&d->lock);
  if (ev == MIG_DST_EV_FINALS)
    for (unsigned i = 0; i < d->nch; i++) pthread_join(d->r[i].th, NULL), d->r[i].started = false;
  return ev;
}

/* Receive one control message on ch0: 0 with *out, or the event of the failure. */
static mig_dst_event recv_ctl(mig_dest *d, Hpvm__MigType want, Hpvm__MigMessage **out, const uint8_t **bulk, size_t *len,
                              int timeout_ms) {
  char msg[256];
  ProtobufCMessage *pm = NULL;
  int rc = chan_recv(d->r[0].ch, &hpvm__mig_message__descriptor, &pm, bulk, len, timeout_ms, msg, sizeof msg);
  if (rc) {
    dst_error(d, rc < 0 ? rc : HPVM_EIO, "channel 0: %s", rc < 0 ? msg : "the source closed it");
    return MIG_DST_EV_ERROR;
  }
  Hpvm__MigMessage *mm = (Hpvm__MigMessage *)pm;
  if (mm->type == HPVM__MIG_TYPE__MIG_TYPE_ABORT) {
    abort_from(d, mm);
    protobuf_c_message_free_unpacked(pm, NULL);
    return MIG_DST_EV_ABORT;
  }
  if (mm->type != want) {
    dst_error(d, HPVM_ECORRUPT, "channel 0: message type %d where %d was due", (int)mm->type, (int)want);
    protobuf_c_message_free_unpacked(pm, NULL);
    return MIG_DST_EV_ERROR;
  }
  *out = mm;
  return MIG_DST_EV_INVALID;
}

static int send_ctl(mig_dest *d, Hpvm__MigMessage *mm, char *msg, size_t msglen) {
  return chan_send(d->r[0].ch, &mm->base, NULL, 0, SEND_TIMEOUT_MS, msg, msglen);
}

static mig_dst_event do_state(mig_dest *d) {
  Hpvm__MigMessage *mm = NULL;
  const uint8_t *bulk = NULL;
  size_t len = 0;
  mig_dst_event ev = recv_ctl(d, HPVM__MIG_TYPE__MIG_TYPE_STATE, &mm, &bulk, &len, IDLE_TIMEOUT_MS);
  if (ev) return ev;
  atomic_fetch_add(&d->r[0].wire, len);
  char msg[256];
  wire_reader r;
  int rc = wire_reader_init_mem(&r, bulk, len);
  if (rc) snprintf(msg, sizeof msg, "%s", wire_reader_error(&r));
  else rc = vm_restore_state(d->v, &r, msg, sizeof msg);
  wire_reader_free(&r);
  protobuf_c_message_free_unpacked(&mm->base, NULL);
  if (rc) {
    dst_error(d, rc, "the VM state does not restore here: %s", msg);
    return MIG_DST_EV_ERROR;
  }
  Hpvm__MigMessage ack = HPVM__MIG_MESSAGE__INIT;
  ack.type = HPVM__MIG_TYPE__MIG_TYPE_STATE_ACK;
  if ((rc = send_ctl(d, &ack, msg, sizeof msg))) {
    dst_error(d, rc, "channel 0: %s", msg);
    return MIG_DST_EV_ERROR;
  }
  return MIG_DST_EV_RESTORED;
}

/* The source went silent after STATE_ACK: the decide hook asks the lease. */
static mig_dst_event decide(mig_dest *d) {
  char why[256], msg[256] = "";
  pthread_mutex_lock(&d->lock);
  snprintf(why, sizeof why, "%s", d->msg);
  pthread_mutex_unlock(&d->lock);
  int rc = d->h.decide ? d->h.decide(d->h.ctx, msg, sizeof msg) : HPVM_EIO;
  pthread_mutex_lock(&d->lock);
  if (rc == 0) {
    d->err = 0;
  } else {
    d->err = rc < 0 ? rc : HPVM_EIO;
    snprintf(d->msg, sizeof d->msg, "%.100s after the state was acknowledged; %.110s", why,
             d->h.decide ? msg : "the ownership lease decides whether the guest runs here");
  }
  pthread_mutex_unlock(&d->lock);
  if (rc) return MIG_DST_EV_ERROR;
  if ((rc = vm_start(d->v))) {
    dst_error(d, rc, "the VM does not start after the restore: %s", hpvm_strerror(rc));
    return MIG_DST_EV_ERROR;
  }
  Hpvm__MigMessage res = HPVM__MIG_MESSAGE__INIT;
  res.type = HPVM__MIG_TYPE__MIG_TYPE_RESUMED;
  chan_send(d->r[0].ch, &res.base, NULL, 0, 1000, msg, sizeof msg);   /* if it still listens */
  return MIG_DST_EV_ADOPTED;
}

static mig_dst_event do_acked(mig_dest *d) {
  Hpvm__MigMessage *mm = NULL;
  mig_dst_event ev = recv_ctl(d, HPVM__MIG_TYPE__MIG_TYPE_COMMIT, &mm, NULL, NULL, MIG_COMMIT_WAIT_MS);
  if (ev == MIG_DST_EV_ERROR && !d->aborted) return decide(d);
  if (ev) return ev;
  d->lease_generation = mm->lease_generation;
  protobuf_c_message_free_unpacked(&mm->base, NULL);
  return MIG_DST_EV_COMMIT;
}

static mig_dst_event do_adopt(mig_dest *d) {
  char msg[256] = "";
  int rc = d->h.adopt ? d->h.adopt(d->h.ctx, d->lease_generation, msg, sizeof msg) : 0;
  if (rc) {
    dst_error(d, rc < 0 ? rc : HPVM_EIO, "the lease cannot be adopted here: %s", msg[0] ? msg : hpvm_strerror(rc));
    return MIG_DST_EV_ERROR;
  }
  if ((rc = vm_start(d->v))) {
    dst_error(d, rc, "the VM does not start after the restore: %s", hpvm_strerror(rc));
    return MIG_DST_EV_ERROR;
  }
  Hpvm__MigMessage res = HPVM__MIG_MESSAGE__INIT;
  res.type = HPVM__MIG_TYPE__MIG_TYPE_RESUMED;
  send_ctl(d, &res, msg, sizeof msg);   /* the guest runs here whether or not the source hears it */
  return MIG_DST_EV_ADOPTED;
}

static mig_dst_event step_work(mig_dest *d, chan **ch) {
  switch (d->state) {
  case MIG_DST_HELLO: return do_hello(d, ch);
  case MIG_DST_RECEIVING: return do_receiving(d);
  case MIG_DST_STATE: return do_state(d);
  case MIG_DST_ACKED: return do_acked(d);
  case MIG_DST_ADOPT: return do_adopt(d);
  default: return MIG_DST_EV_INVALID;
  }
}

static void collect(mig_dest *d, mig_stats *st) {
  for (unsigned i = 0; i < d->nch; i++) {
    receiver *r = &d->r[i];
    st->mig_cpu_s += (double)atomic_load(&r->cpu_ns) / 1e9;
    st->wire_bytes += atomic_load(&r->wire);
    st->mem_sent += atomic_load(&r->frames) * VM_FRAME_SIZE;
    st->pages_zero += atomic_load(&r->zero), st->pages_raw += atomic_load(&r->raw);
    st->pages_lz4 += atomic_load(&r->lz4), st->pages_delta += atomic_load(&r->delta);
    if (r->round > st->round) st->round = r->round;
  }
}

static void report(mig_dest *d) {
  if (!d->h.progress) return;
  mig_stats st = {.phase = d->state == MIG_DST_RUNNING ? MIG_PHASE_DONE : d->state == MIG_DST_FAILED ? MIG_PHASE_FAILED
                          : d->state == MIG_DST_ADOPT || d->state == MIG_DST_ACKED ? MIG_PHASE_HANDOFF
                          : d->state == MIG_DST_HELLO ? MIG_PHASE_INIT
                          : d->state == MIG_DST_RECEIVING ? MIG_PHASE_COPY : MIG_PHASE_FROZEN,
                  .mem_bytes = vm_memory_size(d->v)};
  d->h.progress(d->h.ctx, &st);
}

int mig_dest_run(vm *v, chan **ch, unsigned nch, const mig_dest_hooks *h, mig_stats *out, char *msg, size_t msglen) {
  if (out) memset(out, 0, sizeof *out);
  if (!v || !ch || nch < 1 || nch > MIG_MAX_CHANNELS) {
    for (unsigned i = 0; ch && i < nch && i < MIG_MAX_CHANNELS; i++) chan_close(ch[i]);
    return mig_fail(msg, msglen, HPVM_EINVAL, "a migration takes 1 to %d channels (got %u)", MIG_MAX_CHANNELS, nch);
  }
  mig_dest *d = calloc(1, sizeof *d);
  if (!d) {
    for (unsigned i = 0; i < nch; i++) chan_close(ch[i]);
    return mig_fail(msg, msglen, HPVM_ENOMEM, "out of memory");
  }
  chan *pending[MIG_MAX_CHANNELS];
  memcpy(pending, ch, nch * sizeof *ch);
  d->v = v, d->nch = nch, d->state = MIG_DST_HELLO;
  if (h) d->h = *h;
  d->t0 = mig_now_ns();
  d->cpu0 = mig_cpu_seconds();
  uint64_t run_cpu0 = mig_thread_cpu_ns();
  pthread_mutex_init(&d->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&d->cond, &ca);
  pthread_condattr_destroy(&ca);
  d->received = calloc(vm_dirty_log_words(v), 8);
  for (unsigned i = 0; i < nch; i++) d->r[i].d = d, d->r[i].idx = i;
  if (!d->received) {
    dst_error(d, HPVM_ENOMEM, "out of memory for the received-frames bitmap");
    d->state = MIG_DST_FAILED;
  }
  report(d);
  while (d->state != MIG_DST_RUNNING && d->state != MIG_DST_FAILED) {
    mig_dst_state before = d->state;
    mig_dst_event ev = step_work(d, pending);
    mig_dst_state next = mig_dst_next(before, ev);
    if (next == MIG_DST_INVALID) {
      dst_error(d, HPVM_ESTATE, "internal error: event %s is not allowed in state %s", mig_dst_event_name(ev),
                mig_dst_state_name(before));
      next = MIG_DST_FAILED;
    }
    d->state = next;
    report(d);
  }
  bool ok = d->state == MIG_DST_RUNNING;
  if (!ok && !d->aborted) {
    /* Tell the source (best effort), so that it resumes the guest at once: on channel 0, or
     * on every channel not yet told apart when HELLO failed. Also when channel 0 itself failed
     * (a record that failed authentication): its sending direction still works, and the source
     * then names the failure instead of seeing a host that hung up. */
    Hpvm__MigMessage mm = HPVM__MIG_MESSAGE__INIT;
    Hpvm__MigError e = HPVM__MIG_ERROR__INIT;
    mm.type = HPVM__MIG_TYPE__MIG_TYPE_ERROR;
    mm.error = &e;
    e.code = d->err ? d->err : HPVM_EIO;
    e.text = d->msg;
    char ignore[128];
    chan *to[MIG_MAX_CHANNELS + 1];
    unsigned n = 0;
    if (d->r[0].ch) to[n++] = d->r[0].ch;
    for (unsigned i = 0; i < nch; i++)
      if (pending[i]) to[n++] = pending[i];
    for (unsigned i = 0; i < n; i++) chan_send_last(to[i], &mm.base, 1000, ignore, sizeof ignore);
  }
  /* Wake and join the receivers still running, then close every channel. */
  for (unsigned i = 0; i < nch; i++)
    if (d->r[i].started && d->r[i].ch) shutdown(chan_fd(d->r[i].ch), SHUT_RD);
  for (unsigned i = 0; i < nch; i++)
    if (d->r[i].started) pthread_join(d->r[i].th, NULL), d->r[i].started = false;
  for (unsigned i = 0; i < nch; i++) {
    if (d->r[i].ch) ok ? chan_close(d->r[i].ch) : chan_abort(d->r[i].ch);
    if (pending[i]) chan_abort(pending[i]);
  }
  if (out) {
    collect(d, out);
    out->phase = ok ? MIG_PHASE_DONE : MIG_PHASE_FAILED;
    out->mem_bytes = vm_memory_size(v);
    out->total_ns = mig_now_ns() - d->t0;
    out->cpu_s = mig_cpu_seconds() - d->cpu0;
    out->mig_cpu_s += (double)(mig_thread_cpu_ns() - run_cpu0) / 1e9;
  }
  int rc = ok ? 0 : d->err ? d->err : HPVM_EIO;
  mig_fail(msg, msglen, rc, "%s", ok ? "the guest runs here" : d->msg);
  pthread_mutex_destroy(&d->lock);
  pthread_cond_destroy(&d->cond);
  free(d->received);
  free(d);
  return rc;
}
