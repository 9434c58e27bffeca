/* internal.h — what the files of hpvm_cluster share; never included from outside cluster/.
 *
 *   cluster.c   life cycle, configuration, the public getters, set_meta, leave
 *   members.c   the member table, the update precedence rules, events, suspicion timeouts,
 *               the piggyback queue
 *   packet.c    addresses, sealing and opening datagrams, the replay window
 *   probe.c     the probe state machine, ping / ping-req / ack, gossip datagrams, receive
 *   sync.c      push/pull and join over the authenticated channel, on two threads
 *
 * Everything here runs on the loop's thread except sync.c's threads, which touch only the
 * clu_sync struct (under its mutex). */
#ifndef HPVM_CLUSTER_INTERNAL_H
#define HPVM_CLUSTER_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>

#include "cluster.h"
#include "gossip.pb-c.h"

#define CLU_KEY_LEN 32
#define CLU_MAGIC "HPGS"
#define CLU_WIRE_VERSION 1
#define CLU_HDR_LEN 5                     /* magic + version: the associated data */
#define CLU_NONCE_LEN 24
#define CLU_TAG_LEN 16
#define CLU_OVERHEAD (CLU_HDR_LEN + CLU_NONCE_LEN + CLU_TAG_LEN)
#define CLU_RX_MAX 65536
#define CLU_FWD_MAX 64                    /* indirect pings relayed at once */
#define CLU_REPLAY_MAX 1024               /* senders remembered by the replay window */
#define CLU_REPLAY_BITS 64
#define CLU_PUSHPULL_MAX_MEMBERS 65536
#define CLU_CONFIRM_MAX 8                 /* suspecters remembered per suspicion */

/* ---- The member table (members.c) -------------------------------------------------------------- */

typedef struct member {
  clu_member pub;                         /* what clu_member_at copies out */
  struct sockaddr_storage sa;             /* pub.addr, parsed */
  char from[CLU_NAME_MAX + 1];            /* SUSPECT/DEAD: who declared it */
  /* SUSPECT only (members.c, "Suspicion"): loop ms, the timeout's bounds, confirmations */
  uint64_t suspect_start, suspect_deadline, susp_min, susp_max;
  unsigned susp_k, confirmations, nconfirmers;
  uint64_t confirmers[CLU_CONFIRM_MAX];   /* hashes of the names that suspected it */
  bool queued;                            /* in the piggyback queue */
  unsigned transmits;                     /* times its update went out since queued */
} member;

/* ---- Replay window (packet.c) --------------------------------------------------------------- */

typedef struct replay_entry {
  char sender[CLU_NAME_MAX + 1];
  uint64_t boot, top, bitmap;             /* bit i: top - i seen */
  uint64_t last_sent_ms;                  /* the sender's clock, newest accepted */
  uint64_t used;                          /* loop ms of the last use (eviction) */
} replay_entry;

/* ---- The probe (probe.c) ---------------------------------------------------------------------
 *
 *   IDLE --tick: next target, ping--> DIRECT --ack--> IDLE
 *                                       | probe_timeout: ping-req to k members
 *                                       v
 *                                    INDIRECT --ack (relayed)--> IDLE
 *   DIRECT or INDIRECT --tick (the interval is over, no ack)--> suspect target, IDLE, then
 *   the tick's own probe starts. */
typedef enum probe_state { PROBE_INVALID = 0, PROBE_IDLE, PROBE_DIRECT, PROBE_INDIRECT } probe_state;
typedef enum probe_event { PEV_INVALID = 0, PEV_START, PEV_ACK, PEV_TIMEOUT, PEV_DEADLINE } probe_event;

typedef struct fwd_entry {                /* a ping we send on behalf of another member */
  bool used;
  uint32_t my_seq, their_seq;
  struct sockaddr_storage to;
  uint64_t expires;
} fwd_entry;

/* ---- Push/pull (sync.c) -------------------------------------------------------------------------- */

typedef struct clu_sync clu_sync;

/* ---- The cluster ------------------------------------------------------------------------------ */

typedef enum clu_phase { CLU_PHASE_INVALID = 0, CLU_CREATED, CLU_RUNNING, CLU_STOPPING, CLU_STOPPED } clu_phase;

struct clu {
  uv_loop_t *loop;
  clu_config cfg;                         /* strings below, not the caller's */
  char name[CLU_NAME_MAX + 1];
  char bind_addr[CLU_ADDR_MAX], adv_addr[CLU_ADDR_MAX];
  uint8_t key[CLU_KEY_LEN];               /* UDP AEAD key, from the secret */
  chan_config chan;
  uint8_t chan_secret[32];
  clu_phase phase;

  uv_udp_t udp;
  uv_timer_t probe_timer, probe_timeout_timer, gossip_timer, sweep_timer, pushpull_timer, leave_timer;
  uv_check_t check;
  int open_handles;
  clu_done_cb stop_cb;
  void *stop_arg;

  member **members;                       /* sorted by name; self included */
  size_t n, cap;
  member *self;
  bool table_dirty;                       /* the push/pull snapshot is out of date */

  /* probe */
  probe_state pstate;
  char ptarget[CLU_NAME_MAX + 1];
  uint32_t pseq, next_seq;
  member **probe_list;                    /* shuffled; rebuilt (and reaped) each round */
  size_t probe_n, probe_i, probe_cap;
  fwd_entry fwd[CLU_FWD_MAX];

  /* datagrams */
  uint64_t boot, send_seq;
  replay_entry *replay;
  size_t replay_n, replay_cap;
  clu_packet_hook hook;
  void *hook_arg;
  uint8_t rx[CLU_RX_MAX];
  uint8_t *txbuf;                         /* 2 * max_packet: plaintext, then sealed */

  /* leave */
  bool leaving;
  clu_done_cb leave_cb;
  void *leave_arg;

  /* join */
  clu_join_cb join_cb;
  void *join_arg;
  int join_pending, join_ok, join_rc;
  char join_msg[400];

  clu_sync *sync;
  clu_counters ctr;
};

/* cluster.c */
uint64_t clu_now(const clu *c);                           /* loop ms */
uint64_t clu_wall_ms(void);
unsigned clu_retransmit_limit(const clu *c);
void clu_leave_check(clu *c);                             /* cb once LEFT went out */
void clu_handle_closed(clu *c);                           /* one of its handles is closed */

/* members.c */
member *mem_find(const clu *c, const char *name);
member *mem_add(clu *c, const char *name);                /* NULL: out of memory */
void mem_remove_at(clu *c, size_t i);
size_t mem_live_count(const clu *c);                      /* alive + suspect */
void mem_queue(clu *c, member *m);                        /* (re)gossip its state */
/* Apply one update (from a datagram or a push/pull row; from_pushpull turns DEAD into
 * SUSPECT, as memberlist does, so the member gets a chance to refute). */
void mem_apply(clu *c, const Hpvm__GossipUpdate *u, bool from_pushpull);
void mem_suspect(clu *c, member *m, const char *from);    /* our own failed probe */
void mem_sweep(clu *c);                                   /* suspects past their deadline */
void mem_refute(clu *c, uint64_t heard_incarnation);
/* Fill u (pointing into m) with m's state as an update. */
void mem_to_update(const member *m, Hpvm__GossipUpdate *u, Hpvm__GossipHostMeta *meta);
int mem_meta_valid(const Hpvm__GossipHostMeta *pm);
/* The queued members to piggyback, fewest transmissions first (at most max). */
size_t mem_pick_broadcasts(clu *c, member **out, size_t max);
void mem_sent(clu *c, member *m);                         /* one more transmission */
bool mem_has_broadcasts(const clu *c);

/* packet.c */
int clu_addr_parse(const char *s, struct sockaddr_storage *sa);
int clu_addr_format(const struct sockaddr *sa, char *out, size_t len);
void clu_derive_key(const uint8_t secret[32], uint8_t key[CLU_KEY_LEN]);
/* Seal plaintext into out (room: len + CLU_OVERHEAD); returns the datagram's length. */
size_t clu_seal(const uint8_t key[CLU_KEY_LEN], const uint8_t *plain, size_t len, uint8_t *out);
/* Open a datagram in place: the plaintext's length, or -1 when it is not authentic. */
long clu_open(const uint8_t key[CLU_KEY_LEN], uint8_t *buf, size_t len, uint8_t **plain);
/* 0: accept (and remember); HPVM_EEXIST: replayed, too old, or stamped too far off;
 * HPVM_ENOMEM. */
int clu_replay_check(clu *c, const Hpvm__GossipPacket *p);

/* probe.c */
int clu_probe_start(clu *c);                              /* bind receive, timers */
void clu_probe_tick(uv_timer_t *t);
void clu_gossip_tick(uv_timer_t *t);
/* Send one datagram with this primary message (all NULL: pure gossip) and what piggyback fits;
 * buddy (may be NULL): a member whose suspicion goes first if we suspect it. */
void clu_send(clu *c, const struct sockaddr *to, Hpvm__GossipPing *ping, Hpvm__GossipPingReq *req,
              Hpvm__GossipAck *ack, member *buddy);
void clu_probe_list_add(clu *c, member *m);
void clu_probe_forget(clu *c, const member *m);
void clu_probe_join_ping(clu *c, const struct sockaddr *seed);   /* "whoever you are" */

/* sync.c */
/* The push/pull TCP listener on the UDP socket's address (HPVM_EBUSY: the port is taken). */
int clu_sync_listen(const struct sockaddr_storage *bound, char *msg, size_t len);
int clu_sync_create(clu *c, int listen_fd, char *msg, size_t len);   /* owns listen_fd on success */
void clu_sync_attach(clu *c);                             /* its uv_async handle */
int clu_sync_start(clu *c, char *msg, size_t len);
void clu_sync_stop(clu *c);                               /* joins the threads */
void clu_sync_free(clu *c);
void clu_sync_refresh(clu *c);                            /* re-encode the snapshot if dirty */
/* Queue a push/pull with addr (expect: the member's name, or NULL for a seed). */
int clu_sync_request(clu *c, const char *addr, const char *expect, bool join);
bool clu_sync_busy(clu *c);                               /* a periodic push/pull still queued */

#endif
