/* internal.h — what the files of hpvm_migrate share; never included from outside migrate/.
 *
 * The map: page.c encodes a batch of frames (zero / raw / LZ4 / delta, the per-batch `auto`
 * choice, the delta cache) and decodes one into guest memory; converge.c is the convergence
 * policy (bandwidth, bytes per page, predicted downtime, throttle steps, timeout); source.c and
 * dest.c are the two state machines with their threads; stats.c the names and counters the
 * two share. Tests include this header to test the pieces one by one. */
#ifndef HPVM_MIGRATE_INTERNAL_H
#define HPVM_MIGRATE_INTERNAL_H

#include <stdatomic.h>

#include "migrate.h"
#include "migrate.pb-c.h"

#define MIG_PROTOCOL_VERSION 2        /* 2: ACK messages; deltas only for frames the target holds */
#define MIG_CHUNK_FRAMES 256u        /* partition unit and largest batch: 1 MiB of guest memory */
#define MIG_DELTA_MAX 2048u          /* a delta longer than this goes as data instead */

/* ---- page.c: batches ---------------------------------------------------------------------- */

/* The per-batch choice of `auto`. Compression pays only where the link, not the CPU, limits
 * the transfer: then LZ4 (running in parallel with the sending on every channel) multiplies
 * the guest bytes per second by 1 / ratio as long as it is faster than the link. So `auto`
 * compresses when the source has measured the link as the limit (link_bps: wire bytes per
 * second acknowledged by the destination while the senders waited for the wire and the
 * receivers for data; 0 when the CPU, on either side, was the limit or nothing is known
 * yet), the measured LZ4 speed of all lanes beats that link by MIG_AUTO_MARGIN, and the
 * measured ratio saves at least 6 %. A batch sent raw on a link-bound transfer still
 * compresses every MIG_AUTO_PROBE-th time to keep ratio and speed current; a CPU-bound one
 * never compresses (loopback: encryption, copies and page faults are the cost, and LZ4 costs
 * more CPU per byte than it saves). */
#define MIG_AUTO_PROBE 32u
#define MIG_AUTO_MARGIN 1.2
#define MIG_AUTO_RATIO_MAX 0.94
#define MIG_LZ4_ACCEL 2              /* LZ4_compress_fast acceleration (bench/vm mig_bench) */

typedef struct mig_auto {
  double ratio;                      /* compressed / raw bytes, moving average (0: none yet) */
  double lz4_bps;                    /* raw bytes per second one lane compresses (wall time) */
  double link_bps;                   /* the link when it is the limit; 0: not the limit, or unknown */
  unsigned lanes;                    /* channels compressing in parallel */
  unsigned since_probe;
  bool compress;                     /* the current choice */
} mig_auto;

/* The source's copy of what this channel sent, for deltas: fully associative (a frame may
 * take any slot, so no working set smaller than the cache evicts itself). When it is full, a
 * frame sent as data takes the slot of one neither sent nor compared in this round or the one
 * before (a hand goes round looking, MIG_CACHE_SCAN slots at most), or goes uncached: a hot
 * set as large as the cache keeps its place instead of evicting itself frame by frame, as a
 * clock or LRU would when the rounds walk memory in order. Indexed by the frame's number
 * among the channel's own frames (mig_local_frame). A slot holds exactly the bytes the
 * destination holds for its frame, so a delta against it rebuilds the frame there. */
#define MIG_CACHE_SCAN 64u
typedef struct mig_delta_cache {
  size_t nslots, used, hand, nfree;
  uint64_t nlocal;                   /* channel-local frame numbers: 0 .. nlocal-1 */
  uint32_t *slot_of;                 /* local frame -> slot + 1, 0: not cached (mmap, lazily populated) */
  uint64_t *local_of;                /* slot -> local frame */
  uint32_t *free;                    /* slots given back (frames that became zero) */
  uint32_t *last;                    /* slot: the last round its frame was sent or compared */
  uint8_t *data;                     /* nslots * 4 KiB (mmap, populated as used) */
  uint64_t hits, misses, evictions, uncached;
} mig_delta_cache;

typedef struct mig_batch {
  uint32_t round;
  uint64_t first;                    /* first frame of the span */
  unsigned span;                     /* frames covered, <= MIG_CHUNK_FRAMES */
  unsigned nframes;                  /* frames in the batch (kind != NONE) */
  unsigned ndata;                    /* of which sent as data (raw or LZ4) */
  uint8_t kinds[MIG_CHUNK_FRAMES];
  uint32_t lens[MIG_CHUNK_FRAMES];
  unsigned nlens;
  uint8_t *bulk;                     /* page data, bulk_len bytes */
  size_t bulk_len, bulk_cap;
  uint8_t *stage;                    /* rounds >= 1: snapshots of the frames sent as data */
  uint64_t zero, raw, lz4, delta;    /* frames of each kind in this batch */
  uint64_t same;                     /* re-sent frames left out: the target holds them already */
  uint64_t delta_bytes;              /* bulk bytes of the deltas */
} mig_batch;

typedef struct mig_encoder {
  vm *v;
  mig_compress mode;
  bool delta;                        /* delta-encode re-sent frames (cache allocated) */
  unsigned nch;                      /* channels of the partition (the cache's numbering) */
  int accel;
  void *lz4_state;
  mig_delta_cache cache;
  mig_auto au;
  mig_batch b;
  uint8_t dbuf[MIG_DELTA_MAX];       /* a delta before it is known to be short enough */
} mig_encoder;

/* nch: the channels of the partition (the cache numbers this channel's frames among them). */
int mig_encoder_init(mig_encoder *e, vm *v, mig_compress mode, uint64_t delta_cache_bytes, unsigned nch, char *msg,
                     size_t msglen);
void mig_encoder_free(mig_encoder *e);
/* Encode frames [first, first + span) into e->b: those of `want` (bit per frame; NULL: every
 * RAM frame) not in `defer` (NULL: none; read while another thread sets bits in it).
 * `populated` (NULL: unknown) clears frames known to read zero without reading them.
 * Round 0 sends straight from guest memory and caches nothing (the frames it sends were not
 * written since the migration began, so few come back); later rounds delta-encode a frame
 * against its cached version when that is short, leave out a frame that did not change, and
 * cache what they sent as data. */
int mig_encode(mig_encoder *e, uint32_t round, uint64_t first, unsigned span, const uint64_t *want,
               const _Atomic uint64_t *defer, const uint64_t *populated);
/* Whether frame f has a cached version (a re-send would be a delta). Not while encoding. */
bool mig_encoder_cached(const mig_encoder *e, uint64_t f);
/* The link measure for `auto` (0: the link is not the limit) and the lanes compressing. */
void mig_auto_link(mig_auto *a, double link_bps, unsigned lanes);

/* Check a batch whole, then write it into v's RAM; the number of frames it held. `received`
 * (bit per frame) says which frames the destination holds something for: a delta for any
 * other frame is refused, and every frame written sets its bit. Zero frames of round 0 are
 * not written (the destination's RAM starts cleared). HPVM_ECORRUPT with one line when
 * anything is off; then at most frames of RAM inside the batch were written. */
int mig_decode(vm *v, uint64_t *received, uint32_t round, uint64_t first, const uint8_t *kinds, size_t span,
               const uint32_t *lens, size_t nlens, const uint8_t *bulk, size_t len, char *msg, size_t msglen);

/* The delta format (XBZRLE-like): pairs (varint unchanged run, varint changed run, the changed
 * run's new bytes) over the 4 KiB frame, a trailing unchanged run left out. Encoding returns
 * the length, or -1 when it would exceed max. Applying returns 0, or -1 for a malformed delta
 * (out may then be partly written, never beyond its 4 KiB). */
int mig_delta_encode(const uint8_t *old, const uint8_t *cur, uint8_t *out, size_t max);
int mig_delta_apply(uint8_t *page, const uint8_t *d, size_t len);

/* Partition: the channel that carries frame f, and f's number among that channel's frames. */
static inline unsigned mig_channel_of(uint64_t f, unsigned nch) { return (unsigned)((f / MIG_CHUNK_FRAMES) % nch); }
static inline uint64_t mig_local_frame(uint64_t f, unsigned nch) {
  return f / MIG_CHUNK_FRAMES / nch * MIG_CHUNK_FRAMES + f % MIG_CHUNK_FRAMES;
}

/* ---- link.c: what `auto` is told about the link ------------------------------------------- */

/* One ACK window, as the source sees it. */
typedef struct mig_link_obs {
  uint64_t ns;                        /* the window's length */
  uint64_t wire;                      /* bytes the destination acknowledged in it */
  uint64_t data_frames, lz4_frames;   /* frames the senders encoded as data in it, of them LZ4 */
  unsigned idle_permille;             /* the receivers waited for data (the ACK says) */
  unsigned blocked_permille;          /* the senders waited for the wire (bucket, socket) */
  unsigned starved_permille;          /* the senders waited for a CPU (other load on the host) */
} mig_link_obs;

typedef struct mig_link {
  double link_bps, published;         /* the link's rate when it limits; what `auto` was told */
  double last_rate;
  unsigned votes;                     /* link-bound windows in a row at a steady rate */
  /* The check of compression: guest bytes per second compressed, then in a raw probe. */
  double comp_gbps, raw_gbps, probe_link;
  unsigned comp_windows, stretch, probe_windows, vetoes;
  bool probing;
  uint64_t now_ns, veto_until_ns, veto_len_ns;
} mig_link;

void mig_link_init(mig_link *l);
/* The window just acknowledged: the rate to tell the encoders (mig_auto_link); 0: send raw. */
double mig_link_update(mig_link *l, const mig_link_obs *o);

/* ---- converge.c: the convergence policy ---------------------------------------------------- */

#define MIG_THROTTLE_STEPS 5
extern const unsigned mig_throttle_steps[MIG_THROTTLE_STEPS];   /* 20, 40, 60, 80, 99 */
#define MIG_STALL_ROUNDS 2            /* decisions in a row that do not shrink before a throttle step */
#define MIG_STATE_BYTES_PER_CPU 16384 /* what the state adds to the frozen phase, per vCPU */

typedef enum mig_conv_action {
  MIG_CONV_INVALID = 0,
  MIG_CONV_CONTINUE,                  /* another pre-copy round */
  MIG_CONV_SWITCHOVER,                /* predicted downtime under the limit: quiesce */
  MIG_CONV_THROTTLE,                  /* another round, the guest slowed to c->throttle % */
  MIG_CONV_TIMEOUT,                   /* past copy_timeout_ms: give up */
} mig_conv_action;

#define MIG_DELTA_GUESS 256.0         /* bytes per delta frame before any was measured */
#define MIG_BW_MIN_BYTES (1u << 20)   /* smaller rounds measure latency, not bandwidth */

/* What a finished round measured (all channels). */
typedef struct mig_round_meas {
  uint64_t wire;                      /* bytes given to the channels */
  uint64_t frames;                    /* frames in its batches (zero ones included) */
  uint64_t data_frames, data_bytes;   /* of them sent as data (raw or LZ4), and their bytes */
  uint64_t deltas, delta_bytes;       /* of them sent as deltas, and their bytes */
  uint64_t resent, encode_ns;         /* rounds >= 1: frames compared or copied, and the wall time
                                       * one sender took to encode them (unchanged ones included) */
  uint64_t ns;                        /* its duration */
} mig_round_meas;

typedef struct mig_conv {
  uint32_t downtime_ms, copy_timeout_ms;
  bool auto_converge;
  unsigned ncpus;
  double bw;                          /* wire bytes per second (moving average over rounds) */
  double data_bpp, delta_bpp;         /* wire bytes per frame sent as data / as a delta */
  double ovh_bpp;                     /* and per frame of any kind: headers, kinds, lengths */
  double encode_ns;                   /* wall time to encode a re-sent frame (one thread) */
  uint32_t best_predicted;            /* the lowest prediction since the last throttle step */
  unsigned decisions, stalls, step;   /* step: index of the next throttle step */
  unsigned throttle;                  /* % now */
  uint32_t predicted_ms;
} mig_conv;

void mig_conv_init(mig_conv *c, const mig_params *p, unsigned ncpus);
/* A finished round. Data and delta frames are measured apart: the next dirty set is priced
 * by how many of its frames the source has cached (deltas) and how many it has not (data);
 * zero frames (mostly memory never touched, in round 0) count only their small overhead. */
void mig_conv_round(mig_conv *c, const mig_round_meas *r);
/* What to do with the dirty set just harvested (cached_frames of it have a cached version at
 * the source), elapsed_ms into the copy phase: switch over under half the limit, or under the
 * limit once the prediction stops shrinking. A round "shrinks" when its predicted downtime
 * does: a dirty set of the same frames costs far less once they go as deltas. */
mig_conv_action mig_conv_decide(mig_conv *c, uint64_t dirty_frames, uint64_t cached_frames, uint64_t elapsed_ms);
/* Predicted downtime of sending dirty_frames (cached_frames of them as deltas) and the state
 * now (ms): their wire time, plus their encoding on one thread (the final round runs on the
 * state machine's thread: comparing a frame with its cached version reads 8 KiB). */
uint32_t mig_conv_predict(const mig_conv *c, uint64_t dirty_frames, uint64_t cached_frames);

/* ---- The state machines' tables (source.c, dest.c; exported for tests) -------------------- */

typedef enum mig_src_state {
  MIG_SRC_INVALID = 0,
  MIG_SRC_INIT,          /* created: HELLO on every channel, dirty log on, senders started */
  MIG_SRC_COPY,          /* pre-copy rounds */
  MIG_SRC_QUIESCE,       /* vCPUs paused, disk requests completing, disks flushed */
  MIG_SRC_FROZEN,        /* last dirty frames and the state sent, waiting for STATE_ACK */
  MIG_SRC_HANDOFF,       /* the handoff hook writes the lease */
  MIG_SRC_COMMITTED,     /* COMMIT sent: waiting for RESUMED; never resumes here again */
  MIG_SRC_ROLLBACK,      /* before the handoff something failed: ABORT, log off, resume */
  MIG_SRC_DONE,
  MIG_SRC_FAILED,
  MIG_SRC_CANCELED,
  MIG_SRC_NSTATES
} mig_src_state;

typedef enum mig_src_event {
  MIG_SRC_EV_INVALID = 0,
  MIG_SRC_EV_STARTED,    /* INIT done */
  MIG_SRC_EV_ROUND,      /* a round done, another follows */
  MIG_SRC_EV_CONVERGED,  /* switch over */
  MIG_SRC_EV_QUIESCED,
  MIG_SRC_EV_ACKED,      /* the destination restored everything */
  MIG_SRC_EV_HANDED_OFF, /* the hook wrote the lease */
  MIG_SRC_EV_RESUMED,    /* RESUMED received */
  MIG_SRC_EV_LOST,       /* after COMMIT: no RESUMED (channel gone or timeout) */
  MIG_SRC_EV_ERROR,      /* a channel, the destination, a hook or this host failed */
  MIG_SRC_EV_TIMEOUT,
  MIG_SRC_EV_CANCEL,
  MIG_SRC_EV_ROLLED_BACK,
  MIG_SRC_NEVENTS
} mig_src_event;

/* The next state, or MIG_SRC_INVALID when the table has no such transition (refused). */
mig_src_state mig_src_next(mig_src_state s, mig_src_event e);
const char *mig_src_state_name(mig_src_state s);
const char *mig_src_event_name(mig_src_event e);

typedef enum mig_dst_state {
  MIG_DST_INVALID = 0,
  MIG_DST_HELLO,         /* waiting for HELLO on every channel */
  MIG_DST_RECEIVING,     /* receivers apply batches; waiting for every channel's final round */
  MIG_DST_STATE,         /* waiting for STATE and restoring it */
  MIG_DST_ACKED,         /* STATE_ACK sent: waiting for COMMIT */
  MIG_DST_ADOPT,         /* the adopt hook takes the lease */
  MIG_DST_RUNNING,       /* vm_start done, RESUMED sent */
  MIG_DST_FAILED,        /* discarded: the guest runs on the source */
  MIG_DST_NSTATES
} mig_dst_state;

typedef enum mig_dst_event {
  MIG_DST_EV_INVALID = 0,
  MIG_DST_EV_HELLOS,     /* every channel said HELLO and it matches */
  MIG_DST_EV_FINALS,     /* every channel ended its final round */
  MIG_DST_EV_RESTORED,   /* STATE received and restored */
  MIG_DST_EV_COMMIT,
  MIG_DST_EV_ADOPTED,
  MIG_DST_EV_ABORT,      /* the source said ABORT */
  MIG_DST_EV_ERROR,      /* a channel failed, a batch was refused, a hook failed */
  MIG_DST_NEVENTS
} mig_dst_event;

mig_dst_state mig_dst_next(mig_dst_state s, mig_dst_event e);
const char *mig_dst_state_name(mig_dst_state s);
const char *mig_dst_event_name(mig_dst_event e);

/* ---- stats.c ------------------------------------------------------------------------------ */

uint64_t mig_now_ns(void);           /* CLOCK_MONOTONIC */
double mig_cpu_seconds(void);        /* this process's CPU time */
uint64_t mig_thread_cpu_ns(void);    /* the calling thread's CPU time */

/* How a thread spends its time: running, ready to run but waiting for a CPU (other load on
 * the host), or blocked (waiting for the wire or for data, sleeping). From the thread's
 * /proc schedstat (run time and run-queue delay); where that is missing, time spent ready
 * to run counts as blocked. Start and sample on the thread measured. */
typedef struct mig_busy {
  int fd;
  uint64_t t_wall, t_cpu, t_wait;    /* at the last sample */
  uint64_t blocked_ns;               /* of the last period */
  unsigned blocked_permille;
  unsigned starved_permille;         /* ready to run, waiting for a CPU */
} mig_busy;
void mig_busy_start(mig_busy *b);
void mig_busy_reset(mig_busy *b);    /* a new period from now (after a wait that does not count) */
bool mig_busy_sample(mig_busy *b, uint64_t period_ns);   /* true when a period ended: a new figure */
void mig_busy_stop(mig_busy *b);
int mig_fail(char *msg, size_t msglen, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
