/* source.c — the sending side of a live migration: the state machine that runs it, one sender
 * thread per channel and a receiver for what the destination says on channel 0.
 *
 * The protocol (messages per phase; ch* = every channel, ch0 = channel 0 only):
 *
 *   source (this file)                                              destination (dest.c)
 *   INIT      ch*: HELLO{version, channel, channels, memory, vcpus} ---->  HELLO: check, clear RAM
 *             dirty log on
 *   COPY      round 0 (all RAM; never-touched frames as zero)
 *             ch*: PAGES{round, first_frame, kinds, lens} + data ... ---->  RECEIVING: write into RAM
 *             ch*: ROUND_END{round, frames} ------------------------->  (frames counted per channel)
 *             harvest the dirty log; predict downtime; maybe throttle
 *             round r >= 1 (the harvested frames) ... the same
 *   QUIESCE   vm_pause, disk requests completed, disks fdatasync'd
 *   FROZEN    harvest (after the drain: DMA dirtied frames too)
 *             ch*: PAGES ..., ROUND_END{final} ---------------------->  every channel's final seen
 *             ch0: STATE + HPVMSTAT without RAM ---------------------->  STATE: vm_restore_state
 *                                                <-------------------- ch0: STATE_ACK
 *   HANDOFF   hooks->handoff writes the lease naming the target
 *             ch0: COMMIT{lease_generation} ------------------------->  ADOPT: hooks->adopt, vm_start
 *   COMMITTED                                    <-------------------- ch0: RESUMED
 *   DONE      downtime = vm_pause .. RESUMED received
 *
 *   Before the handoff hook succeeded, cancel, a timeout or any error (a channel broke, the
 *   destination said ERROR): ROLLBACK  ch0: ABORT{why} --------------->  FAILED: discard
 *             dirty log off, throttle 0, vm_resume: the guest runs on here as before.
 *             From the frozen phase on, hooks->abort first records the abort (the lease) for a
 *             destination that may not hear the ABORT; if it cannot, no ABORT and no resume.
 *   After it: never resume; DONE even if RESUMED never comes (stats and msg say so).
 *
 * The transition table (anything not listed is refused and ends the migration as an error):
 *
 *   state      | STARTED ROUND CONVERGED QUIESCED ACKED HANDED_OFF RESUMED LOST | ERROR TIMEOUT CANCEL | ROLLED_BACK
 *   INIT       | COPY                                                           | ROLLBACK (all three) |
 *   COPY       |         COPY  QUIESCE                                          | ROLLBACK (all three) |
 *   QUIESCE    |                         FROZEN                                 | ROLLBACK (all three) |
 *   FROZEN     |                                  HANDOFF                       | ROLLBACK (all three) |
 *   HANDOFF    |                                        COMMITTED               | ROLLBACK (ERROR)     |
 *   COMMITTED  |                                                   DONE    DONE |                      |
 *   ROLLBACK   |                                                                |   CANCELED (CANCEL)  | FAILED
 *
 * Threads: the caller's thread runs the machine (harvests, decides, pauses, sends the control
 * messages on ch0 while the senders are idle); sender i encodes and sends the chunks of
 * channel i (frame f goes on channel (f / 256) % channels, always, so a frame's versions never
 * overtake each other); the receiver reads ch0. They meet under m->lock. */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "internal.h"
#include "wire.h"

#define DEST_WORD_WAIT_MS 500       /* a channel broke: the destination's ERROR may be on its way */
#define SEND_TIMEOUT_MS 30000        /* the destination stops reading for this long: it is gone */
#define ABORT_TIMEOUT_MS 1000
#define COPY_SEND_GRACE_MS 1000      /* copy: sends outlast the deadline by this, so the machine sees it first */
#define ACK_STALL_MS 1000            /* no new data acknowledged for this long: the link or target is down */
#define HARVEST_MS 100               /* round 0 harvests the dirty log this often (what to defer) */
#define BUSY_PERIOD_NS 20000000ull   /* senders measure their blocked share over this */

/* ---- The transition table -------------------------------------------------------------------- */

static const struct { mig_src_state from; mig_src_event ev; mig_src_state to; } src_table[] = {
    {MIG_SRC_INIT, MIG_SRC_EV_STARTED, MIG_SRC_COPY},
    {MIG_SRC_INIT, MIG_SRC_EV_ERROR, MIG_SRC_ROLLBACK},
    {MIG_SRC_INIT, MIG_SRC_EV_TIMEOUT, MIG_SRC_ROLLBACK},
    {MIG_SRC_INIT, MIG_SRC_EV_CANCEL, MIG_SRC_ROLLBACK},
    {MIG_SRC_COPY, MIG_SRC_EV_ROUND, MIG_SRC_COPY},
    {MIG_SRC_COPY, MIG_SRC_EV_CONVERGED, MIG_SRC_QUIESCE},
    {MIG_SRC_COPY, MIG_SRC_EV_ERROR, MIG_SRC_ROLLBACK},
    {MIG_SRC_COPY, MIG_SRC_EV_TIMEOUT, MIG_SRC_ROLLBACK},
    {MIG_SRC_COPY, MIG_SRC_EV_CANCEL, MIG_SRC_ROLLBACK},
    {MIG_SRC_QUIESCE, MIG_SRC_EV_QUIESCED, MIG_SRC_FROZEN},
    {MIG_SRC_QUIESCE, MIG_SRC_EV_ERROR, MIG_SRC_ROLLBACK},
    {MIG_SRC_QUIESCE, MIG_SRC_EV_TIMEOUT, MIG_SRC_ROLLBACK},
    {MIG_SRC_QUIESCE, MIG_SRC_EV_CANCEL, MIG_SRC_ROLLBACK},
    {MIG_SRC_FROZEN, MIG_SRC_EV_ACKED, MIG_SRC_HANDOFF},
    {MIG_SRC_FROZEN, MIG_SRC_EV_ERROR, MIG_SRC_ROLLBACK},
    {MIG_SRC_FROZEN, MIG_SRC_EV_TIMEOUT, MIG_SRC_ROLLBACK},
    {MIG_SRC_FROZEN, MIG_SRC_EV_CANCEL, MIG_SRC_ROLLBACK},
    {MIG_SRC_HANDOFF, MIG_SRC_EV_HANDED_OFF, MIG_SRC_COMMITTED},
    {MIG_SRC_HANDOFF, MIG_SRC_EV_ERROR, MIG_SRC_ROLLBACK},
    {MIG_SRC_COMMITTED, MIG_SRC_EV_RESUMED, MIG_SRC_DONE},
    {MIG_SRC_COMMITTED, MIG_SRC_EV_LOST, MIG_SRC_DONE},
    {MIG_SRC_ROLLBACK, MIG_SRC_EV_ROLLED_BACK, MIG_SRC_FAILED},
    {MIG_SRC_ROLLBACK, MIG_SRC_EV_CANCEL, MIG_SRC_CANCELED},
};

mig_src_state mig_src_next(mig_src_state s, mig_src_event e) {
  for (size_t i = 0; i < sizeof src_table / sizeof *src_table; i++)
    if (src_table[i].from == s && src_table[i].ev == e) return src_table[i].to;
  return MIG_SRC_INVALID;
}

const char *mig_src_state_name(mig_src_state s) {
  static const char *const n[MIG_SRC_NSTATES] = {"INVALID", "INIT", "COPY", "QUIESCE", "FROZEN", "HANDOFF",
                                                 "COMMITTED", "ROLLBACK", "DONE", "FAILED", "CANCELED"};
  return (unsigned)s < MIG_SRC_NSTATES ? n[s] : "?";
}

const char *mig_src_event_name(mig_src_event e) {
  static const char *const n[MIG_SRC_NEVENTS] = {"INVALID", "STARTED", "ROUND", "CONVERGED", "QUIESCED", "ACKED",
                                                 "HANDED_OFF", "RESUMED", "LOST", "ERROR", "TIMEOUT", "CANCEL",
                                                 "ROLLED_BACK"};
  return (unsigned)e < MIG_SRC_NEVENTS ? n[e] : "?";
}

static mig_phase phase_of(mig_src_state s) {
  switch (s) {
  case MIG_SRC_COPY: return MIG_PHASE_COPY;
  case MIG_SRC_QUIESCE: return MIG_PHASE_QUIESCE;
  case MIG_SRC_FROZEN: return MIG_PHASE_FROZEN;
  case MIG_SRC_HANDOFF: case MIG_SRC_COMMITTED: return MIG_PHASE_HANDOFF;
  case MIG_SRC_DONE: return MIG_PHASE_DONE;
  case MIG_SRC_FAILED: case MIG_SRC_ROLLBACK: return MIG_PHASE_FAILED;
  case MIG_SRC_CANCELED: return MIG_PHASE_CANCELED;
  default: return MIG_PHASE_INIT;
  }
}

/* ---- The source -------------------------------------------------------------------------------- */

typedef struct sender {
  mig_source *m;
  unsigned idx;
  chan *ch;
  pthread_t th;
  bool started;
  uint64_t seen_job;
  mig_encoder enc;
  /* Counters: written by the sender, read by the machine. */
  _Atomic uint64_t wire, frames, data_frames, zero, raw, lz4, delta, round_frames;
  _Atomic uint64_t data_bytes, delta_bytes, same;
  _Atomic uint64_t resent, encode_ns;   /* rounds >= 1: frames encoded (same included), wall time */
  _Atomic uint64_t cpu_ns;         /* this thread's CPU time, after each round */
  _Atomic unsigned blocked;        /* permille of its last period spent blocked (wire, bucket) */
  _Atomic unsigned starved;        /* ... and ready to run, waiting for a CPU */
  mig_busy busy;
  double link_seen;                /* the link measure its encoder has */
  int err;
  char msg[256];
} sender;

struct mig_source {
  vm *v;
  unsigned nch;
  mig_params p;
  mig_source_hooks h;
  mig_src_state state;
  sender s[MIG_MAX_CHANNELS];

  pthread_mutex_t lock;
  pthread_cond_t cond;             /* CLOCK_MONOTONIC */
  /* Under lock: the round job the senders run. */
  uint64_t job;                    /* incremented per job */
  uint32_t job_round;
  bool job_final, quit;
  unsigned busy;                   /* senders still on the job */
  atomic_bool stop;                /* senders: leave the job now (cancel, error) */
  atomic_bool cancel;
  /* Under lock: what the receiver heard on ch0. */
  pthread_t rx;
  bool rx_started, rx_done, acked, resumed;
  bool rx_said;                    /* rx_err is the destination's own ERROR */
  int rx_err;
  char rx_msg[256];

  _Atomic uint64_t rx_cpu_ns;      /* the receiver's CPU time, when it ends */
  /* The link, from the destination's ACKs (written by the receiver, read by the senders). */
  _Atomic double link_bps;         /* when it limits; 0: the CPU limits, or not known */
  mig_link link;                   /* receiver only: */
  uint64_t ack_bytes, ack_ns, ack_data, ack_lz4;   /* at the previous ACK */
  uint64_t ack_progress_ns;        /* under lock: when an ACK last said more bytes arrived */
  _Atomic uint64_t send_deadline_ns;   /* the phase's deadline for channel sends; 0: none */
  uint64_t run_cpu0, run_cpu_ns;   /* the machine's thread (mig_source_run) */

  uint64_t *send_map;              /* the frames of the current round (rounds >= 1) */
  _Atomic uint64_t *next_map;      /* the next round's: harvests OR into it; round 0 defers them */
  uint64_t *populated;             /* round 0: frames that may hold data */
  uint64_t *tmp;
  size_t nwords;
  uint64_t dirtied;                /* frames the harvests of this round found */
  mig_conv conv;

  pthread_mutex_t bucket_lock;     /* bandwidth limit: a token bucket in wire bytes */
  double tokens;
  uint64_t bucket_ns;

  mig_stats st;                    /* under lock */
  uint64_t t_new, t_run, t_copy, t_pause, t_resumed, t_first_page, last_progress, last_harvest;
  uint64_t t_quiesced, t_final, t_state, t_acked, final_frames;   /* the frozen phase's steps (trace) */
  double cpu0;
  bool logging, paused, handed_off, ran;
  int err;                         /* the first failure */
  char msg[400];
  mig_src_event cause;             /* what sent the machine to ROLLBACK ... */
  mig_src_state cause_state;       /* ... from which state */
};

static void trace(mig_source *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trace(mig_source *m, const char *fmt, ...) {
  if (!m->h.trace) return;
  char line[320];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  m->h.trace(m->h.ctx, line);
}

/* Record the first failure. */
static void src_error(mig_source *m, int rc, const char *text) {
  pthread_mutex_lock(&m->lock);
  if (!m->err) {
    m->err = rc;
    snprintf(m->msg, sizeof m->msg, "%s", text);
  }
  pthread_mutex_unlock(&m->lock);
}

static void cond_init_monotonic(pthread_cond_t *c) {
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(c, &ca);
  pthread_condattr_destroy(&ca);
}

/* Wait on m->cond (lock held) until deadline_ns; false once it has passed. */
static bool wait_until(mig_source *m, uint64_t deadline_ns) {
  if (mig_now_ns() >= deadline_ns) return false;
  struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000), .tv_nsec = (long)(deadline_ns % 1000000000)};
  pthread_cond_timedwait(&m->cond, &m->lock, &ts);
  return true;
}

/* ---- Timeouts in words ------------------------------------------------------------------------- */

/* A phase limit as it was given: "10 s" (hpvmmigrate -x takes seconds), else "1500 ms". */
static const char *limit_text(uint32_t ms, char *buf, size_t len) {
  if (ms % 1000 == 0) snprintf(buf, len, "%u s", ms / 1000);
  else snprintf(buf, len, "%u ms", ms);
  return buf;
}

/* How long the destination has acknowledged no new data (lock held). While data flows it
 * acknowledges every 50 ms; ACK_STALL_MS without one means the link or the target is down, not
 * slow. */
static uint64_t ack_quiet_ms(mig_source *m) {
  uint64_t now = mig_now_ns();
  return now > m->ack_progress_ns ? (now - m->ack_progress_ns) / 1000000 : 0;
}

static void stall_text(mig_source *m, uint64_t quiet_ms, char *buf, size_t len) {
  snprintf(buf, len, "no data acknowledged by host %.100s for %llu s: the link or the target is down",
           chan_peer(m->s[0].ch), (unsigned long long)((quiet_ms + 500) / 1000));
}

/* A sender's failure becomes the migration's (lock held); a send that timed out says what the
 * stall means rather than which channel saw it. */
static void sender_failed(mig_source *m, sender *s, int rc) {
  if (!s->err) s->err = rc;
  if (m->err) return;
  m->err = rc;
  if (rc == HPVM_ETIMEDOUT) stall_text(m, ack_quiet_ms(m), m->msg, sizeof m->msg);
  else snprintf(m->msg, sizeof m->msg, "channel %u: %.200s", s->idx, s->msg);
}

/* The copy phase's limit passed (lock held): the link or the target is down (nothing
 * acknowledged lately), or the rounds do not converge. */
static void copy_timed_out(mig_source *m, uint32_t round) {
  char lim[32], why[200];
  uint64_t quiet = ack_quiet_ms(m);
  m->err = HPVM_ETIMEDOUT;
  limit_text(m->p.copy_timeout_ms, lim, sizeof lim);
  if (quiet >= ACK_STALL_MS) {
    stall_text(m, quiet, why, sizeof why);
    snprintf(m->msg, sizeof m->msg, "copy phase timed out after %s: %s; the guest goes on here", lim, why);
  } else if (round == 0) {
    snprintf(m->msg, sizeof m->msg, "copy phase timed out after %s in round 0 with %.0f %% of the memory sent: the "
             "link is too slow for the timeout; raise it or the bandwidth", lim,
             m->st.mem_bytes ? 100.0 * (double)m->st.round0_done / (double)m->st.mem_bytes : 0.0);
  } else {
    snprintf(m->msg, sizeof m->msg, "copy phase timed out after %s in round %u: the guest dirties memory faster than the "
             "link carries it (%.0f MB/s dirtied, %.0f MB/s on the wire, %llu MiB still dirty): raise the timeout or "
             "the bandwidth%s", lim, round, m->st.dirty_mbps, m->st.wire_mbps,
             (unsigned long long)(m->st.dirty_bytes >> 20), m->p.no_auto_converge ? ", or allow auto-converge" : "");
  }
}

/* The frozen phase's limit passed before STATE_ACK: the guest goes on here (rollback). */
static mig_src_event frozen_timed_out(mig_source *m, uint32_t limit_ms, bool state_sent) {
  char lim[32], why[200];
  pthread_mutex_lock(&m->lock);
  uint64_t quiet = ack_quiet_ms(m);
  if (state_sent) snprintf(why, sizeof why, "all of it was sent; host %.100s did not answer", chan_peer(m->s[0].ch));
  else if (quiet >= ACK_STALL_MS) stall_text(m, quiet, why, sizeof why);
  else snprintf(why, sizeof why, "the last pages were still on their way to host %.100s", chan_peer(m->s[0].ch));
  m->err = HPVM_ETIMEDOUT;
  snprintf(m->msg, sizeof m->msg, "frozen phase timed out after %s: the target did not acknowledge the state (%s); "
           "the guest goes on here", limit_text(limit_ms, lim, sizeof lim), why);
  pthread_mutex_unlock(&m->lock);
  return MIG_SRC_EV_TIMEOUT;
}

/* ---- Bandwidth limit ----------------------------------------------------------------------------- */

/* Take n wire bytes from the bucket, sleeping off any debt: the rate holds on average and a
 * burst is at most ~20 ms of it. */
static void bucket_take(mig_source *m, size_t n) {
  if (!m->p.bandwidth_bps) return;
  double rate = (double)m->p.bandwidth_bps, burst = rate / 50 > 1 << 20 ? rate / 50 : 1 << 20;
  pthread_mutex_lock(&m->bucket_lock);
  uint64_t now = mig_now_ns();
  m->tokens += (double)(now - m->bucket_ns) * rate / 1e9;
  if (m->tokens > burst) m->tokens = burst;
  m->bucket_ns = now;
  m->tokens -= (double)n;
  double debt = m->tokens < 0 ? -m->tokens : 0;
  pthread_mutex_unlock(&m->bucket_lock);
  if (debt > 0) {
    uint64_t ns = (uint64_t)(debt * 1e9 / rate);
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000)};
    nanosleep(&ts, NULL);
  }
}

/* ---- Senders --------------------------------------------------------------------------------- */

static bool chunk_any(const uint64_t *map, uint64_t first, unsigned span) {
  for (uint64_t w = first / 64; w < (first + span + 63) / 64; w++)
    if (map[w]) return true;
  return false;
}

/* A send's limit: SEND_TIMEOUT_MS, cut to what is left of the phase's deadline, so that a
 * sender blocked on a full socket (the link cut, the target stalled) gives up with the phase. */
static int send_timeout_ms(mig_source *m) {
  uint64_t dl = atomic_load(&m->send_deadline_ns), now = mig_now_ns();
  if (!dl) return SEND_TIMEOUT_MS;
  uint64_t left = dl > now ? (dl - now + 999999) / 1000000 : 1;
  return left < SEND_TIMEOUT_MS ? (int)left : SEND_TIMEOUT_MS;
}

static int send_msg(sender *s, const Hpvm__MigMessage *msg, const void *bulk, size_t len) {
  return chan_send(s->ch, &msg->base, bulk, len, send_timeout_ms(s->m), s->msg, sizeof s->msg);
}

static void count_ram_zero(sender *s, uint64_t first, unsigned span) {
  uint64_t n = 0;
  for (unsigned i = 0; i < span; i++) n += vm_is_ram(s->m->v, (first + i) << VM_FRAME_SHIFT, VM_FRAME_SIZE);
  atomic_fetch_add(&s->frames, n);
  atomic_fetch_add(&s->zero, n);
}

/* One batch on the wire; 0 or the chan's error. */
static int send_batch(sender *s, uint32_t round) {
  mig_source *m = s->m;
  mig_batch *b = &s->enc.b;
  Hpvm__MigMessage msg = HPVM__MIG_MESSAGE__INIT;
  Hpvm__MigPages pages = HPVM__MIG_PAGES__INIT;
  msg.type = HPVM__MIG_TYPE__MIG_TYPE_PAGES;
  msg.pages = &pages;
  pages.round = round;
  pages.first_frame = b->first;
  pages.kinds = (ProtobufCBinaryData){.len = b->span, .data = b->kinds};
  pages.n_lens = b->nlens;
  pages.lens = b->lens;
  size_t wire = protobuf_c_message_get_packed_size(&msg.base) + b->bulk_len;
  bucket_take(m, wire);
  int rc = send_msg(s, &msg, b->bulk, b->bulk_len);
  if (rc) return rc;
  if (!m->t_first_page) m->t_first_page = mig_now_ns();   /* a benign race: any first will do */
  atomic_fetch_add(&s->wire, wire);
  atomic_fetch_add(&s->round_frames, b->nframes);
  return 0;
}

/* Between batches: this sender's blocked share, and the link measure for `auto`. */
static void sender_measure(sender *s) {
  if (mig_busy_sample(&s->busy, BUSY_PERIOD_NS))
    atomic_store(&s->blocked, s->busy.blocked_permille), atomic_store(&s->starved, s->busy.starved_permille);
  double link = atomic_load(&s->m->link_bps);
  if (link != s->link_seen) s->link_seen = link, mig_auto_link(&s->enc.au, link, s->m->nch);
}

static void count_batch(sender *s) {
  mig_batch *b = &s->enc.b;
  atomic_fetch_add(&s->frames, b->nframes);
  atomic_fetch_add(&s->data_frames, b->ndata);
  atomic_fetch_add(&s->zero, b->zero);
  atomic_fetch_add(&s->raw, b->raw);
  atomic_fetch_add(&s->lz4, b->lz4);
  atomic_fetch_add(&s->delta, b->delta);
  atomic_fetch_add(&s->same, b->same);
  atomic_fetch_add(&s->delta_bytes, b->delta_bytes);
  atomic_fetch_add(&s->data_bytes, b->bulk_len - b->delta_bytes);
}

/* This channel's chunks of a round. Round 0: every frame that may hold data, except those
 * written since the dirty log started (next_map, growing while the round runs: they go in
 * round 1, so are sent once, not twice); later rounds: the frames of send_map. */
static int run_round(sender *s, uint32_t round, bool final, bool on_sender) {
  mig_source *m = s->m;
  uint64_t nframes = vm_phys_span(m->v) >> VM_FRAME_SHIFT;
  atomic_store(&s->round_frames, 0);
  if (on_sender) mig_busy_reset(&s->busy);   /* the wait for this round is not the wire's */
  for (uint64_t k = s->idx; k * MIG_CHUNK_FRAMES < nframes; k += m->nch) {
    if (atomic_load(&m->stop)) return 0;
    uint64_t first = k * MIG_CHUNK_FRAMES;
    unsigned span = (unsigned)(nframes - first < MIG_CHUNK_FRAMES ? nframes - first : MIG_CHUNK_FRAMES);
    const uint64_t *want = round == 0 ? NULL : m->send_map;
    const uint64_t *pop = round == 0 ? m->populated : NULL;
    if (want && !chunk_any(want, first, span)) continue;
    if (pop && !chunk_any(pop, first, span)) {   /* never touched: zero, and the target's RAM is clear */
      count_ram_zero(s, first, span);
      continue;
    }
    if (on_sender) sender_measure(s);
    uint64_t t0 = mig_now_ns();
    int rc = mig_encode(&s->enc, round, first, span, want, round == 0 ? m->next_map : NULL, pop);
    mig_batch *b = &s->enc.b;
    if (round > 0) atomic_fetch_add(&s->encode_ns, mig_now_ns() - t0), atomic_fetch_add(&s->resent, b->nframes + b->same);
    if (rc) return snprintf(s->msg, sizeof s->msg, "cannot encode frames at 0x%" PRIx64, first), rc;
    count_batch(s);
    if (!b->nframes || (round == 0 && !b->ndata)) continue;
    if ((rc = send_batch(s, round))) return rc;
  }
  Hpvm__MigMessage msg = HPVM__MIG_MESSAGE__INIT;
  Hpvm__MigRoundEnd end = HPVM__MIG_ROUND_END__INIT;
  msg.type = HPVM__MIG_TYPE__MIG_TYPE_ROUND_END;
  msg.round_end = &end;
  end.round = round;
  end.final = final;
  end.frames = atomic_load(&s->round_frames);
  return send_msg(s, &msg, NULL, 0);
}

static void *sender_main(void *arg) {
  sender *s = arg;
  mig_source *m = s->m;
  char name[16];
  snprintf(name, sizeof name, "mig-send%u", s->idx);
  pthread_setname_np(pthread_self(), name);
  mig_busy_start(&s->busy);
  pthread_mutex_lock(&m->lock);
  for (;;) {
    while (!m->quit && m->job == s->seen_job) pthread_cond_wait(&m->cond, &m->lock);
    if (m->quit) break;
    s->seen_job = m->job;
    uint32_t round = m->job_round;
    bool final = m->job_final;
    pthread_mutex_unlock(&m->lock);
    int rc = s->err ? s->err : run_round(s, round, final, true);
    atomic_store(&s->cpu_ns, mig_thread_cpu_ns());
    pthread_mutex_lock(&m->lock);
    if (rc && !s->err) sender_failed(m, s, rc);
    m->busy--;
    pthread_cond_broadcast(&m->cond);
  }
  pthread_mutex_unlock(&m->lock);
  mig_busy_stop(&s->busy);
  return NULL;
}

/* ---- The receiver (ch0) ------------------------------------------------------------------------ */

/* An ACK closes a window of the link's measure (link.c); what it concludes goes to the
 * senders' `auto` through m->link_bps. Only while every sender is on a round: between rounds
 * the link idles and says nothing. Receiver thread, lock held. */
static void take_ack(mig_source *m, const Hpvm__MigAck *a) {
  uint64_t now = mig_now_ns();
  uint64_t data = 0, lz4 = 0;
  unsigned blocked = 0, starved = 0;
  for (unsigned i = 0; i < m->nch; i++) {
    data += atomic_load(&m->s[i].raw) + atomic_load(&m->s[i].lz4);
    lz4 += atomic_load(&m->s[i].lz4);
    blocked += atomic_load(&m->s[i].blocked);
    starved += atomic_load(&m->s[i].starved);
  }
  if (m->ack_ns && now > m->ack_ns && m->busy == m->nch && a->wire_bytes >= m->ack_bytes) {
    mig_link_obs o = {.ns = now - m->ack_ns, .wire = a->wire_bytes - m->ack_bytes, .data_frames = data - m->ack_data,
                      .lz4_frames = lz4 - m->ack_lz4, .idle_permille = a->idle_permille,
                      .blocked_permille = blocked / m->nch, .starved_permille = starved / m->nch};
    atomic_store(&m->link_bps, mig_link_update(&m->link, &o));
    trace(m, "ack: %.0f MB/s on the wire, %.0f MB/s of data, lz4 %llu/%llu frames; receivers waited %u, senders "
          "waited %u, starved %u (permille) -> link %.0f MB/s%s", (double)o.wire * 1e3 / (double)o.ns,
          (double)o.data_frames * 4096e3 / (double)o.ns, (unsigned long long)o.lz4_frames,
          (unsigned long long)o.data_frames, o.idle_permille, o.blocked_permille, o.starved_permille,
          m->link.published / 1e6, m->link.probing ? " probe" : "");
  }
  if (a->wire_bytes > m->ack_bytes) m->ack_progress_ns = now;
  m->ack_bytes = a->wire_bytes, m->ack_ns = now, m->ack_data = data, m->ack_lz4 = lz4;
}

static void *receiver_main(void *arg) {
  mig_source *m = arg;
  pthread_setname_np(pthread_self(), "mig-ack");
  chan *ch = m->s[0].ch;
  char msg[256];
  for (;;) {
    ProtobufCMessage *pm = NULL;
    int rc = chan_recv(ch, &hpvm__mig_message__descriptor, &pm, NULL, NULL, 0, msg, sizeof msg);
    if (rc < 0) {
      /* The channel failed, perhaps only our sending side (the destination closed it after it
       * found channel 0 tampered with): the ERROR it sent before that is still readable. */
      char last[256];
      ProtobufCMessage *lm = NULL;
      for (int k = 0; k < 16 && !pm; k++) {   /* acknowledgements may come first */
        if (chan_recv_last(ch, &hpvm__mig_message__descriptor, &lm, DEST_WORD_WAIT_MS, last, sizeof last)) break;
        if (((const Hpvm__MigMessage *)lm)->type == HPVM__MIG_TYPE__MIG_TYPE_ERROR) pm = lm, rc = 0;
        else protobuf_c_message_free_unpacked(lm, NULL);
      }
    }
    pthread_mutex_lock(&m->lock);
    bool end = true;
    if (rc == 1) {
      if (!m->resumed) m->rx_err = HPVM_EIO, snprintf(m->rx_msg, sizeof m->rx_msg, "the destination closed the channel");
    } else if (rc < 0) {
      m->rx_err = rc;
      snprintf(m->rx_msg, sizeof m->rx_msg, "%s", msg);
    } else {
      const Hpvm__MigMessage *mm = (const Hpvm__MigMessage *)pm;
      end = false;
      if (mm->type == HPVM__MIG_TYPE__MIG_TYPE_ACK && mm->ack) take_ack(m, mm->ack);
      else if (mm->type == HPVM__MIG_TYPE__MIG_TYPE_STATE_ACK) m->acked = true;
      else if (mm->type == HPVM__MIG_TYPE__MIG_TYPE_RESUMED) m->resumed = true, m->t_resumed = mig_now_ns();
      else if (mm->type == HPVM__MIG_TYPE__MIG_TYPE_ERROR) {
        m->rx_err = mm->error && mm->error->code < 0 ? mm->error->code : HPVM_EIO;
        snprintf(m->rx_msg, sizeof m->rx_msg, "the destination gave up: %s",
                 mm->error && mm->error->text ? mm->error->text : "no reason given");
        m->rx_said = true;
        end = true;
      } else {
        m->rx_err = HPVM_ECORRUPT;
        snprintf(m->rx_msg, sizeof m->rx_msg, "the destination sent message type %d, which it never should", (int)mm->type);
        end = true;
      }
      protobuf_c_message_free_unpacked(pm, NULL);
    }
    if (end) m->rx_done = true;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
    if (end) {
      atomic_store(&m->rx_cpu_ns, mig_thread_cpu_ns());
      return NULL;
    }
  }
}

/* ---- Statistics and progress -------------------------------------------------------------------- */

/* Sum the senders' counters into m->st (lock held). */
static void collect(mig_source *m) {
  mig_stats *st = &m->st;
  uint64_t wire = 0, frames = 0, zero = 0, raw = 0, lz4 = 0, delta = 0;
  uint64_t cpu = atomic_load(&m->rx_cpu_ns) + m->run_cpu_ns;
  for (unsigned i = 0; i < m->nch; i++) {
    sender *s = &m->s[i];
    cpu += atomic_load(&s->cpu_ns);
    wire += atomic_load(&s->wire), frames += atomic_load(&s->frames), zero += atomic_load(&s->zero);
    raw += atomic_load(&s->raw), lz4 += atomic_load(&s->lz4), delta += atomic_load(&s->delta);
  }
  st->phase = phase_of(m->state);
  st->wire_bytes = wire;
  st->mem_sent = frames * VM_FRAME_SIZE;
  if (st->round0_done < st->mem_bytes && m->state == MIG_SRC_COPY) st->round0_done = st->mem_sent;
  st->pages_zero = zero, st->pages_raw = raw, st->pages_lz4 = lz4, st->pages_delta = delta;
  st->throttle = m->conv.throttle;
  st->cpu_s = mig_cpu_seconds() - m->cpu0;
  st->mig_cpu_s = (double)cpu / 1e9;
  st->total_ns = mig_now_ns() - m->t_new;
  if (m->t_first_page && !st->setup_ns) st->setup_ns = m->t_first_page - m->t_new;
}

/* Called on the machine's thread only. */
static void progress(mig_source *m, bool force) {
  m->run_cpu_ns = mig_thread_cpu_ns() - m->run_cpu0;
  uint64_t now = mig_now_ns();
  uint32_t every = m->p.progress_ms ? m->p.progress_ms : 250;
  if (!force && now - m->last_progress < (uint64_t)every * 1000000) return;
  m->last_progress = now;
  mig_stats copy;
  pthread_mutex_lock(&m->lock);
  collect(m);
  copy = m->st;
  pthread_mutex_unlock(&m->lock);
  if (m->h.progress) m->h.progress(m->h.ctx, &copy);
}

/* ---- Creation ----------------------------------------------------------------------------------- */

int mig_source_new(vm *v, chan **ch, unsigned nch, const mig_params *p, const mig_source_hooks *h, mig_source **out,
                   char *msg, size_t msglen) {
  *out = NULL;
  if (!v || !ch || nch < 1 || nch > MIG_MAX_CHANNELS) {
    for (unsigned i = 0; ch && i < nch && i < MIG_MAX_CHANNELS; i++) chan_close(ch[i]);
    return mig_fail(msg, msglen, HPVM_EINVAL, "a migration takes 1 to %d channels (got %u)", MIG_MAX_CHANNELS, nch);
  }
  mig_source *m = calloc(1, sizeof *m);
  if (!m) {
    for (unsigned i = 0; i < nch; i++) chan_close(ch[i]);
    return mig_fail(msg, msglen, HPVM_ENOMEM, "out of memory");
  }
  m->v = v;
  m->nch = nch;
  if (p) m->p = *p;
  if (h) m->h = *h;
  m->state = MIG_SRC_INIT;
  m->t_new = mig_now_ns();
  m->cpu0 = mig_cpu_seconds();
  pthread_mutex_init(&m->lock, NULL);
  pthread_mutex_init(&m->bucket_lock, NULL);
  cond_init_monotonic(&m->cond);
  for (unsigned i = 0; i < nch; i++) m->s[i].ch = ch[i], m->s[i].m = m, m->s[i].idx = i;
  m->nwords = vm_dirty_log_words(v);
  m->send_map = calloc(m->nwords, 8);
  m->next_map = calloc(m->nwords, 8);
  m->populated = calloc(m->nwords, 8);
  m->tmp = calloc(m->nwords, 8);
  int rc = m->send_map && m->next_map && m->populated && m->tmp
               ? 0 : mig_fail(msg, msglen, HPVM_ENOMEM, "out of memory for the dirty bitmaps");
  uint64_t cache = m->p.no_delta ? 0 : m->p.delta_cache_bytes ? m->p.delta_cache_bytes : vm_memory_size(v) / 4;
  for (unsigned i = 0; !rc && i < nch; i++) rc = mig_encoder_init(&m->s[i].enc, v, m->p.compress, cache / nch, nch, msg, msglen);
  m->st.mem_bytes = vm_memory_size(v);
  mig_conv_init(&m->conv, &m->p, vm_ncpus(v));
  mig_link_init(&m->link);
  if (rc) {
    mig_source_free(m);
    return rc;
  }
  *out = m;
  return 0;
}

void mig_source_cancel(mig_source *m) {
  atomic_store(&m->cancel, true);
  pthread_mutex_lock(&m->lock);
  pthread_cond_broadcast(&m->cond);
  pthread_mutex_unlock(&m->lock);
}

void mig_source_stats(mig_source *m, mig_stats *out) {
  pthread_mutex_lock(&m->lock);
  if (!m->ran || m->state == MIG_SRC_COPY) collect(m);
  *out = m->st;
  pthread_mutex_unlock(&m->lock);
}

/* ---- The states' work ---------------------------------------------------------------------------- */

/* A failure that did not come from a sender or the receiver. */
static mig_src_event fail_ev(mig_source *m, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static mig_src_event fail_ev(mig_source *m, int rc, const char *fmt, ...) {
  char text[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  src_error(m, rc, text);
  return rc == HPVM_ETIMEDOUT ? MIG_SRC_EV_TIMEOUT : MIG_SRC_EV_ERROR;
}

/* What stops a phase early, checked under the lock: cancel, a sender's or the receiver's error. */
static mig_src_event interrupted(mig_source *m) {
  if (m->err) return m->err == HPVM_ETIMEDOUT ? MIG_SRC_EV_TIMEOUT : MIG_SRC_EV_ERROR;
  if (m->rx_err) {
    m->err = m->rx_err;
    snprintf(m->msg, sizeof m->msg, "%s", m->rx_msg);
    return MIG_SRC_EV_ERROR;
  }
  if (atomic_load(&m->cancel)) return MIG_SRC_EV_CANCEL;
  return MIG_SRC_EV_INVALID;
}

static mig_src_event do_init(mig_source *m) {
  char msg[256];
  Hpvm__MigMessage mm = HPVM__MIG_MESSAGE__INIT;
  Hpvm__MigHello hello = HPVM__MIG_HELLO__INIT;
  mm.type = HPVM__MIG_TYPE__MIG_TYPE_HELLO;
  mm.hello = &hello;
  hello.version = MIG_PROTOCOL_VERSION;
  hello.channels = m->nch;
  hello.memory_bytes = vm_memory_size(m->v);
  hello.vcpus = vm_ncpus(m->v);
  hello.chunk_frames = MIG_CHUNK_FRAMES;
  for (unsigned i = 0; i < m->nch; i++) {
    hello.channel = i;
    int rc = chan_send(m->s[i].ch, &mm.base, NULL, 0, SEND_TIMEOUT_MS, msg, sizeof msg);
    if (rc) return fail_ev(m, rc, "channel %u: %s", i, msg);
  }
  if (atomic_load(&m->cancel)) return MIG_SRC_EV_CANCEL;
  m->ack_progress_ns = mig_now_ns();   /* nothing acknowledged yet counts from here */
  int rc = pthread_create(&m->rx, NULL, receiver_main, m);
  if (rc) return fail_ev(m, HPVM_ENOMEM, "cannot start the receiver thread");
  m->rx_started = true;
  for (unsigned i = 0; i < m->nch; i++) {
    if (pthread_create(&m->s[i].th, NULL, sender_main, &m->s[i]))
      return fail_ev(m, HPVM_ENOMEM, "cannot start sender thread %u", i);
    m->s[i].started = true;
  }
  vm_dirty_log_start(m->v);
  m->logging = true;
  m->last_harvest = m->t_copy = mig_now_ns();
  /* Round 0 reads only what was ever written; the log is on first, so nothing written from
   * now on is missed by either. */
  vm_mem_populated(m->v, m->populated);
  return MIG_SRC_EV_STARTED;
}

static uint64_t popcount(const uint64_t *map, size_t n) {
  uint64_t c = 0;
  for (size_t i = 0; i < n; i++) c += (uint64_t)__builtin_popcountll(map[i]);
  return c;
}

/* Harvest the dirty log into next_map (its bits only grow until the round ends); the frames
 * it found. */
static int harvest_next(mig_source *m, uint64_t *found) {
  int rc = vm_dirty_log_harvest(m->v, m->tmp);
  if (rc) return rc;
  for (size_t i = 0; i < m->nwords; i++)
    if (m->tmp[i]) atomic_fetch_or_explicit(&m->next_map[i], m->tmp[i], memory_order_relaxed);
  *found = popcount(m->tmp, m->nwords);
  return 0;
}

/* Round 0, every HARVEST_MS: what the guest wrote since the log started is known before the
 * senders reach it, and they defer it (lock not held). */
static int harvest_during_round(mig_source *m, uint64_t *next_ns) {
  uint64_t now = mig_now_ns(), found = 0;
  if (now < *next_ns) return 0;
  int rc = harvest_next(m, &found);
  if (rc) return rc;
  m->dirtied += found;
  *next_ns = now + HARVEST_MS * 1000000ull;
  return 0;
}

/* Run a round on every sender and wait for it: 0, or the event that interrupted it. */
static mig_src_event run_job(mig_source *m, uint32_t round, bool final, uint64_t deadline_ns) {
  pthread_mutex_lock(&m->lock);
  m->job_round = round, m->job_final = final;
  m->busy = m->nch;
  m->job++;
  pthread_cond_broadcast(&m->cond);
  mig_src_event ev = MIG_SRC_EV_INVALID;
  uint32_t every = m->p.progress_ms ? m->p.progress_ms : 250;
  uint64_t next_harvest = mig_now_ns() + HARVEST_MS * 1000000ull;
  bool harvesting = round == 0 && !final;
  while (m->busy) {
    ev = interrupted(m);
    if (!ev && deadline_ns && mig_now_ns() >= deadline_ns) {
      copy_timed_out(m, round);
      ev = MIG_SRC_EV_TIMEOUT;
    }
    if (ev) {
      atomic_store(&m->stop, true);
      while (m->busy) pthread_cond_wait(&m->cond, &m->lock);
      break;
    }
    uint64_t wake = mig_now_ns() + (uint64_t)every * 1000000;
    if (harvesting && next_harvest < wake) wake = next_harvest;
    wait_until(m, wake);
    if (m->busy && m->state == MIG_SRC_COPY) {
      pthread_mutex_unlock(&m->lock);
      int rc = harvesting ? harvest_during_round(m, &next_harvest) : 0;
      if (rc) src_error(m, rc, "cannot harvest the dirty log");
      progress(m, false);
      pthread_mutex_lock(&m->lock);
    }
  }
  if (!ev) ev = interrupted(m);
  pthread_mutex_unlock(&m->lock);
  return ev;
}

static uint64_t sum_round_counter(mig_source *m, size_t off) {
  uint64_t t = 0;
  for (unsigned i = 0; i < m->nch; i++) t += atomic_load((_Atomic uint64_t *)((char *)&m->s[i] + off));
  return t;
}

#define SUM(m, field) sum_round_counter(m, offsetof(sender, field))

static mig_round_meas round_counters(mig_source *m) {
  return (mig_round_meas){.wire = SUM(m, wire), .frames = SUM(m, frames), .data_frames = SUM(m, data_frames),
                          .data_bytes = SUM(m, data_bytes), .deltas = SUM(m, delta), .delta_bytes = SUM(m, delta_bytes),
                          .resent = SUM(m, resent), .encode_ns = SUM(m, encode_ns)};
}

/* The frames of send_map whose re-send would be a delta (senders idle). */
static uint64_t cached_frames(mig_source *m) {
  uint64_t n = 0;
  for (size_t w = 0; w < m->nwords; w++)
    for (uint64_t bits = m->send_map[w]; bits; bits &= bits - 1) {
      uint64_t f = w * 64 + (uint64_t)__builtin_ctzll(bits);
      n += mig_encoder_cached(&m->s[mig_channel_of(f, m->nch)].enc, f);
    }
  return n;
}

static mig_src_event do_copy(mig_source *m) {
  uint32_t round = m->st.round;
  uint64_t deadline = m->p.copy_timeout_ms ? m->t_copy + (uint64_t)m->p.copy_timeout_ms * 1000000 : 0;
  atomic_store(&m->send_deadline_ns, deadline ? deadline + COPY_SEND_GRACE_MS * 1000000ull : 0);
  mig_round_meas c0 = round_counters(m);
  uint64_t t0 = mig_now_ns(), dirty_t0 = m->last_harvest;
  m->dirtied = 0;
  mig_src_event ev = run_job(m, round, false, deadline);
  if (ev) return ev;
  uint64_t t1 = mig_now_ns();
  mig_round_meas r = round_counters(m);
  r.wire -= c0.wire, r.frames -= c0.frames, r.data_frames -= c0.data_frames, r.data_bytes -= c0.data_bytes;
  r.deltas -= c0.deltas, r.delta_bytes -= c0.delta_bytes, r.ns = t1 - t0;
  r.resent -= c0.resent, r.encode_ns -= c0.encode_ns;
  mig_conv_round(&m->conv, &r);
  /* The next dirty set (what round 0 deferred is in it), and the decision. */
  uint64_t found = 0;
  int rc = harvest_next(m, &found);
  if (rc) return fail_ev(m, rc, "cannot harvest the dirty log");
  m->dirtied += found;
  for (size_t i = 0; i < m->nwords; i++) m->send_map[i] = atomic_exchange_explicit(&m->next_map[i], 0, memory_order_relaxed);
  uint64_t now = mig_now_ns(), dirty = popcount(m->send_map, m->nwords), cached = cached_frames(m);
  mig_conv_action a = mig_conv_decide(&m->conv, dirty, cached, (now - m->t_copy) / 1000000);
  trace(m, "round %u: %.0f ms, wire %llu, frames %llu, data %llu, deltas %llu (%llu B); dirty %llu, cached %llu -> %u ms "
        "(bw %.0f MB/s; B/frame: data %.0f, delta %.1f, headers %.1f; encode %.2f us/frame)", round, (t1 - t0) / 1e6,
        (unsigned long long)r.wire, (unsigned long long)r.frames, (unsigned long long)r.data_frames,
        (unsigned long long)r.deltas, (unsigned long long)r.delta_bytes, (unsigned long long)dirty,
        (unsigned long long)cached, m->conv.predicted_ms, m->conv.bw / 1e6, m->conv.data_bpp, m->conv.delta_bpp,
        m->conv.ovh_bpp, m->conv.encode_ns / 1e3);
  pthread_mutex_lock(&m->lock);
  m->st.wire_mbps = t1 > t0 ? (double)r.wire * 1e3 / (double)(t1 - t0) : 0;
  m->st.mem_mbps = t1 > t0 ? (double)r.frames * VM_FRAME_SIZE * 1e3 / (double)(t1 - t0) : 0;
  /* Frames dirtied per second: each harvest's count (a frame written twice between two
   * harvests counts once: a lower bound). */
  m->st.dirty_mbps = now > dirty_t0 ? (double)m->dirtied * VM_FRAME_SIZE * 1e3 / (double)(now - dirty_t0) : 0;
  m->st.dirty_bytes = dirty * VM_FRAME_SIZE;
  m->st.expected_downtime_ms = m->conv.predicted_ms;
  if (round == 0) m->st.round0_done = m->st.mem_bytes;
  pthread_mutex_unlock(&m->lock);
  m->last_harvest = now;
  progress(m, true);
  switch (a) {
  case MIG_CONV_SWITCHOVER: return MIG_SRC_EV_CONVERGED;
  case MIG_CONV_TIMEOUT:
    pthread_mutex_lock(&m->lock);
    if (!m->err) copy_timed_out(m, round);
    pthread_mutex_unlock(&m->lock);
    return MIG_SRC_EV_TIMEOUT;
  case MIG_CONV_THROTTLE:
    rc = vm_set_throttle(m->v, m->conv.throttle);
    if (rc) return fail_ev(m, rc, "cannot throttle the guest to %u %%", m->conv.throttle);
    break;
  default: break;
  }
  pthread_mutex_lock(&m->lock);
  m->st.round = round + 1;
  pthread_mutex_unlock(&m->lock);
  return MIG_SRC_EV_ROUND;
}

static mig_src_event do_quiesce(mig_source *m) {
  char msg[256];
  /* Most of the flushing while the guest still runs: the frozen flush then has little left. */
  int rc = vm_disks_flush(m->v, msg, sizeof msg);
  if (rc) return fail_ev(m, rc, "%s", msg);
  m->t_pause = mig_now_ns();
  vm_pause(m->v);
  m->paused = true;
  if (atomic_load(&m->cancel)) return MIG_SRC_EV_CANCEL;
  uint32_t limit = m->p.quiesce_timeout_ms ? m->p.quiesce_timeout_ms : 10000;
  rc = vm_devices_quiesce(m->v, limit, msg, sizeof msg);
  char lim[32];
  if (rc == HPVM_ETIMEDOUT)
    return fail_ev(m, rc, "io quiesce phase timed out after %s: %s; the guest goes on here",
                   limit_text(limit, lim, sizeof lim), msg);
  if (rc) return fail_ev(m, rc, "I/O quiesce: %s", msg);
  /* The last dirty set: after the drain, so frames the completed requests wrote are in it. */
  rc = vm_dirty_log_harvest(m->v, m->tmp);
  if (rc) return fail_ev(m, rc, "cannot harvest the dirty log");
  for (size_t i = 0; i < m->nwords; i++) m->send_map[i] |= m->tmp[i];
  m->t_quiesced = mig_now_ns();
  return MIG_SRC_EV_QUIESCED;
}

static int send_ctl(mig_source *m, Hpvm__MigMessage *mm, const void *bulk, size_t len, int timeout_ms, char *msg,
                    size_t msglen) {
  return chan_send(m->s[0].ch, &mm->base, bulk, len, timeout_ms, msg, msglen);
}

/* The final round, channel after channel on this thread: the senders are idle, and waking
 * them would add their scheduling delays to the downtime (the set is small: the prediction
 * was under the downtime limit). */
static mig_src_event final_round(mig_source *m, uint32_t round) {
  for (unsigned i = 0; i < m->nch; i++) {
    sender *s = &m->s[i];
    int rc = s->err ? s->err : run_round(s, round, true, false);
    if (!rc) continue;
    pthread_mutex_lock(&m->lock);
    sender_failed(m, s, rc);
    pthread_mutex_unlock(&m->lock);
    break;
  }
  pthread_mutex_lock(&m->lock);
  mig_src_event ev = interrupted(m);
  pthread_mutex_unlock(&m->lock);
  return ev;
}

static mig_src_event do_frozen(mig_source *m) {
  char msg[256];
  uint32_t limit = m->p.frozen_timeout_ms ? m->p.frozen_timeout_ms : 10000;
  uint64_t deadline = mig_now_ns() + (uint64_t)limit * 1000000;
  atomic_store(&m->send_deadline_ns, deadline);   /* the last pages and the state: within the limit too */
  pthread_mutex_lock(&m->lock);
  m->st.round++;
  m->final_frames = popcount(m->send_map, m->nwords);
  m->st.dirty_bytes = m->final_frames * VM_FRAME_SIZE;
  pthread_mutex_unlock(&m->lock);
  mig_src_event ev = final_round(m, m->st.round);
  m->t_final = mig_now_ns();
  if (ev == MIG_SRC_EV_TIMEOUT) return frozen_timed_out(m, limit, false);
  if (ev) return ev;
  /* The state, without RAM, on ch0 after its final round. */
  wire_writer w;
  int rc = wire_writer_init_mem(&w);
  if (!rc) rc = vm_save_state(m->v, &w, msg, sizeof msg);
  else snprintf(msg, sizeof msg, "out of memory");
  size_t len = 0;
  uint8_t *state = rc ? NULL : wire_writer_take(&w, &len);
  wire_writer_free(&w);
  if (rc) return fail_ev(m, rc, "cannot save the VM state: %s", msg);
  Hpvm__MigMessage mm = HPVM__MIG_MESSAGE__INIT;
  mm.type = HPVM__MIG_TYPE__MIG_TYPE_STATE;
  rc = send_ctl(m, &mm, state, len, send_timeout_ms(m), msg, sizeof msg);
  free(state);
  if (rc == HPVM_ETIMEDOUT) return frozen_timed_out(m, limit, false);
  if (rc) return fail_ev(m, rc, "channel 0: %s", msg);
  pthread_mutex_lock(&m->lock);
  atomic_fetch_add(&m->s[0].wire, len);
  m->t_state = mig_now_ns();
  bool late = false;
  while (!m->acked && !(ev = interrupted(m)) && !late) late = !wait_until(m, deadline);
  pthread_mutex_unlock(&m->lock);
  m->t_acked = mig_now_ns();
  if (late) return frozen_timed_out(m, limit, true);
  return ev ? ev : MIG_SRC_EV_ACKED;
}

static mig_src_event do_handoff(mig_source *m) {
  /* A cancel that came before the hook still counts; from the hook on it is too late. */
  if (atomic_load(&m->cancel)) return fail_ev(m, HPVM_ECANCELED, "canceled before the handoff");
  /* A destination that acknowledged and then closed its channel is gone: no handover to it. */
  pthread_mutex_lock(&m->lock);
  int gone = m->rx_err;
  char why[256];
  snprintf(why, sizeof why, "%s", m->rx_msg);
  pthread_mutex_unlock(&m->lock);
  if (gone) return fail_ev(m, gone, "the destination went away after it acknowledged the state (%s)", why);
  uint64_t gen = 0;
  char msg[256] = "";
  int rc = m->h.handoff ? m->h.handoff(m->h.ctx, &gen, msg, sizeof msg) : 0;
  if (rc) return fail_ev(m, rc < 0 ? rc : HPVM_EIO, "the ownership handoff failed: %s", msg[0] ? msg : hpvm_strerror(rc));
  m->handed_off = true;
  Hpvm__MigMessage mm = HPVM__MIG_MESSAGE__INIT;
  mm.type = HPVM__MIG_TYPE__MIG_TYPE_COMMIT;
  mm.lease_generation = gen;
  rc = send_ctl(m, &mm, NULL, 0, SEND_TIMEOUT_MS, msg, sizeof msg);
  if (rc) {
    /* The lease names the target: it owns the guest now whatever happens to this channel. */
    pthread_mutex_lock(&m->lock);
    snprintf(m->msg, sizeof m->msg, "handed off at lease generation %" PRIu64 ", but COMMIT could not be sent (%s); "
             "the target adopts the guest from the lease", gen, msg);
    pthread_mutex_unlock(&m->lock);
  }
  return MIG_SRC_EV_HANDED_OFF;
}

static mig_src_event do_committed(mig_source *m) {
  uint32_t limit = m->p.frozen_timeout_ms ? m->p.frozen_timeout_ms : 10000;
  uint64_t deadline = mig_now_ns() + (uint64_t)limit * 1000000;
  pthread_mutex_lock(&m->lock);
  while (!m->resumed && !m->rx_done && wait_until(m, deadline)) {}
  bool ok = m->resumed;
  if (ok) m->st.downtime_ns = m->t_resumed - m->t_pause;
  else if (!m->msg[0])
    snprintf(m->msg, sizeof m->msg, "handed off; the target did not confirm that it resumed the guest (%.150s): check it there",
             m->rx_err ? m->rx_msg : "no answer in time");
  uint64_t resumed = m->t_resumed;
  pthread_mutex_unlock(&m->lock);
  if (ok)
    trace(m, "frozen: quiesce %.2f, final round %.2f, state sent %.2f, acknowledged %.2f, resumed %.2f ms (%llu frames)",
          (m->t_quiesced - m->t_pause) / 1e6, (m->t_final - m->t_quiesced) / 1e6, (m->t_state - m->t_final) / 1e6,
          (m->t_acked - m->t_state) / 1e6, (resumed - m->t_acked) / 1e6, (unsigned long long)(m->final_frames));
  return ok ? MIG_SRC_EV_RESUMED : MIG_SRC_EV_LOST;
}

static void stop_senders(mig_source *m) {
  pthread_mutex_lock(&m->lock);
  atomic_store(&m->stop, true);
  while (m->busy) pthread_cond_wait(&m->cond, &m->lock);
  pthread_mutex_unlock(&m->lock);
}

/* A channel that broke under a sender (lock held): often the destination closing its channels
 * right after it said why on ch0 (a record that failed authentication, a truncated stream).
 * Its word names the problem, "the channel broke" does not: wait a moment for the receiver to
 * read it (the reset that follows does not discard what arrived before it). Not after a
 * timeout: a silent link says nothing more. */
static void prefer_destination_word(mig_source *m) {
  if (!m->err || m->err == HPVM_ETIMEDOUT || m->err == HPVM_ECANCELED || !m->rx_started) return;
  uint64_t deadline = mig_now_ns() + DEST_WORD_WAIT_MS * 1000000ull;
  while (!m->rx_done && wait_until(m, deadline)) {}
  if (m->rx_said) m->err = m->rx_err, snprintf(m->msg, sizeof m->msg, "%s", m->rx_msg);
}

static mig_src_event do_rollback(mig_source *m) {
  stop_senders(m);
  char msg[256];
  pthread_mutex_lock(&m->lock);
  prefer_destination_word(m);
  if (m->cause == MIG_SRC_EV_CANCEL && !m->err) {
    m->err = HPVM_ECANCELED;
    snprintf(m->msg, sizeof m->msg, "migration canceled in the %s phase; the guest goes on here",
             mig_phase_name(phase_of(m->cause_state)));
  }
  int err = m->err ? m->err : HPVM_EIO;
  char why[sizeof m->msg];
  snprintf(why, sizeof why, "%s", m->msg);
  bool rx_dead = m->rx_done;
  pthread_mutex_unlock(&m->lock);
  /* The destination may hold the whole state and, should it not hear the ABORT, ask the
   * lease: the abort is recorded there before the guest resumes, or the guest stays paused. */
  bool may_hold = m->cause_state == MIG_SRC_FROZEN || m->cause_state == MIG_SRC_HANDOFF;
  if (m->paused && may_hold && m->h.abort) {
    char amsg[256] = "";
    int rc = m->h.abort(m->h.ctx, amsg, sizeof amsg);
    if (rc) {
      pthread_mutex_lock(&m->lock);
      m->err = rc < 0 ? rc : HPVM_EIO;
      snprintf(m->msg, sizeof m->msg, "%.80s; the abort could not be recorded (%.90s), so the guest stays paused "
               "here: stop it", why, amsg[0] ? amsg : hpvm_strerror(rc));
      pthread_mutex_unlock(&m->lock);
      if (m->logging) vm_dirty_log_stop(m->v), m->logging = false;
      return MIG_SRC_EV_ROLLED_BACK;
    }
  }
  /* Tell the target (best effort: it may be the one that is gone). */
  if (!rx_dead && !m->s[0].err) {
    Hpvm__MigMessage mm = HPVM__MIG_MESSAGE__INIT;
    Hpvm__MigError e = HPVM__MIG_ERROR__INIT;
    mm.type = HPVM__MIG_TYPE__MIG_TYPE_ABORT;
    mm.error = &e;
    e.code = err;
    e.text = why;
    send_ctl(m, &mm, NULL, 0, ABORT_TIMEOUT_MS, msg, sizeof msg);
  }
  if (m->logging) vm_dirty_log_stop(m->v), m->logging = false;
  vm_set_throttle(m->v, 0);
  m->conv.throttle = 0;
  if (m->paused) vm_resume(m->v), m->paused = false;
  return err == HPVM_ECANCELED ? MIG_SRC_EV_CANCEL : MIG_SRC_EV_ROLLED_BACK;
}

/* ---- The machine --------------------------------------------------------------------------------- */

static void teardown(mig_source *m, bool graceful) {
  if (m->rx_started) {
    /* Wake the receiver if the target said nothing more. */
    shutdown(chan_fd(m->s[0].ch), SHUT_RD);
    pthread_join(m->rx, NULL);
    m->rx_started = false;
  }
  pthread_mutex_lock(&m->lock);
  m->quit = true;
  pthread_cond_broadcast(&m->cond);
  pthread_mutex_unlock(&m->lock);
  for (unsigned i = 0; i < m->nch; i++)
    if (m->s[i].started) pthread_join(m->s[i].th, NULL), m->s[i].started = false;
  for (unsigned i = 0; i < m->nch; i++) {
    if (!m->s[i].ch) continue;
    graceful ? chan_close(m->s[i].ch) : chan_abort(m->s[i].ch);
    m->s[i].ch = NULL;
  }
}

static mig_src_event do_state(mig_source *m) {
  switch (m->state) {
  case MIG_SRC_INIT: return do_init(m);
  case MIG_SRC_COPY: return do_copy(m);
  case MIG_SRC_QUIESCE: return do_quiesce(m);
  case MIG_SRC_FROZEN: return do_frozen(m);
  case MIG_SRC_HANDOFF: return do_handoff(m);
  case MIG_SRC_COMMITTED: return do_committed(m);
  case MIG_SRC_ROLLBACK: return do_rollback(m);
  default: return MIG_SRC_EV_INVALID;
  }
}

int mig_source_run(mig_source *m, char *msg, size_t msglen) {
  if (m->ran) return mig_fail(msg, msglen, HPVM_ESTATE, "this migration has run already: create another");
  m->ran = true;
  m->t_run = mig_now_ns();
  m->run_cpu0 = mig_thread_cpu_ns();
  progress(m, true);
  while (m->state != MIG_SRC_DONE && m->state != MIG_SRC_FAILED && m->state != MIG_SRC_CANCELED) {
    mig_src_state before = m->state;
    mig_src_event ev = do_state(m);
    mig_src_state next = mig_src_next(before, ev);
    if (next == MIG_SRC_INVALID) {
      /* Refused: a bug, but the guest must still end up running on exactly one side. */
      char text[128];
      snprintf(text, sizeof text, "internal error: event %s is not allowed in state %s", mig_src_event_name(ev),
               mig_src_state_name(before));
      src_error(m, HPVM_ESTATE, text);
      next = m->handed_off ? MIG_SRC_DONE : before == MIG_SRC_ROLLBACK ? MIG_SRC_FAILED : MIG_SRC_ROLLBACK;
    }
    if (next == MIG_SRC_ROLLBACK) m->cause = ev, m->cause_state = before;
    pthread_mutex_lock(&m->lock);
    m->state = next;
    pthread_mutex_unlock(&m->lock);
    if (phase_of(next) != phase_of(before)) progress(m, true);
  }
  bool done = m->state == MIG_SRC_DONE;
  pthread_mutex_lock(&m->lock);
  bool timed_out = m->err == HPVM_ETIMEDOUT;
  pthread_mutex_unlock(&m->lock);
  teardown(m, !timed_out);   /* a peer that stopped reading gets no authenticated close to wait on */
  if (m->logging) vm_dirty_log_stop(m->v), m->logging = false;
  m->run_cpu_ns = mig_thread_cpu_ns() - m->run_cpu0;
  pthread_mutex_lock(&m->lock);
  collect(m);
  int rc = done ? 0 : m->err ? m->err : HPVM_EIO;
  mig_fail(msg, msglen, rc, "%s", done && !m->msg[0] ? "migrated: the guest runs on the target" : m->msg);
  pthread_mutex_unlock(&m->lock);
  progress(m, true);
  return rc;
}

void mig_source_free(mig_source *m) {
  if (!m) return;
  teardown(m, false);
  for (unsigned i = 0; i < m->nch; i++) mig_encoder_free(&m->s[i].enc);
  free(m->send_map), free(m->next_map), free(m->populated), free(m->tmp);
  pthread_mutex_destroy(&m->lock);
  pthread_mutex_destroy(&m->bucket_lock);
  pthread_cond_destroy(&m->cond);
  free(m);
}
