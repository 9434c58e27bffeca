/* cluster.h — membership of the hosts of an hpvm cluster (library hpvm_cluster).
 *
 * SWIM-style gossip over UDP on the caller's libuv loop: every probe interval a member pings
 * the next member of a shuffled round-robin list; when no ack comes within the probe timeout
 * it asks k others to ping it (ping-req); with no ack by the end of the interval it
 * suspects it. A suspected member that hears of it refutes with a higher incarnation; one
 * that does not is declared dead after the suspicion timeout (suspicion_mult *
 * max(1, log10(n)) * probe interval, as HashiCorp memberlist; like memberlist, a suspicion
 * nobody else confirms lasts up to suspicion_max_mult times longer). State changes are
 * piggybacked on the protocol's datagrams (and a few pure gossip datagrams) a bounded
 * number of times (retransmit_mult * ceil(log10(n + 1))). A full-state push/pull with a
 * random member runs periodically over the authenticated TCP channel (proto/chan.h) on the
 * library's own threads, and join is a push/pull with the seeds. Each member carries its
 * host's metadata (clu_meta), set by the caller at any time. A graceful leave (LEFT) is
 * distinct from a failure (DEAD).
 *
 * Every datagram is sealed with XChaCha20-Poly1305 under a key derived from the cluster
 * secret, with a random nonce, and carries (sender, boot, sequence, wall time) checked
 * against a replay window; anything else is dropped and counted (clu_counters).
 *
 * Membership is ADVISORY: it says which hosts answer and what they report, to show the
 * cluster and to choose migration targets. It never by itself allows a host to start a
 * guest: ownership is decided by the leases in shared storage (storage/storage.h).
 *
 * Threading: every function runs on the loop's thread (like libuv's own), except that the
 * push/pull threads the library starts never call back into the caller. Callbacks run on
 * the loop. Nothing is global: several clusters may share one loop (the tests run five).
 * Functions return 0 or a negative HPVM_E* code and fill msg with one line. */
#ifndef HPVM_CLUSTER_H
#define HPVM_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "chan.h"
#include "hpvm_error.h"

#define CLU_NAME_MAX CHAN_NAME_MAX        /* a member's name is its host name */
#define CLU_ADDR_MAX 64                   /* "IP:PORT" or "[IPv6]:PORT" and its NUL */
#define CLU_VERSION_MAX 63

typedef struct clu clu;

/* ---- Members and their metadata -------------------------------------------------------------- */

/* The membership state of a member, as this host knows it. */
typedef enum clu_member_state {
  CLU_MEMBER_INVALID = 0,
  CLU_ALIVE,
  CLU_SUSPECT,
  CLU_DEAD,
  CLU_LEFT,
} clu_member_state;

/* What the host says it is doing (hpvmhost maintenance); set by the caller. */
typedef enum clu_host_state {
  CLU_HOST_INVALID = 0,
  CLU_HOST_UP,
  CLU_HOST_MAINTENANCE,
  CLU_HOST_DRAINING,
  CLU_HOST_LEFT,
} clu_host_state;

typedef struct clu_meta {
  clu_host_state state;
  uint64_t mem_total, mem_free;           /* bytes */
  uint32_t cpu_ent_free;                  /* % of one host core, summed over the cores */
  uint32_t guests;
  uint64_t started_unix_ms;               /* when the host's hpvmd started */
  char version[CLU_VERSION_MAX + 1];
} clu_meta;

typedef struct clu_member {
  char name[CLU_NAME_MAX + 1];
  char addr[CLU_ADDR_MAX];                /* UDP and push/pull TCP */
  clu_member_state state;
  uint64_t incarnation;
  clu_meta meta;
  bool self;
  uint64_t since_ms;                      /* loop time (uv_now) of the last state change */
} clu_member;

/* ---- Events ------------------------------------------------------------------------------------ */

typedef enum clu_event_type {
  CLU_EV_INVALID = 0,
  CLU_EV_JOIN,        /* a member seen for the first time */
  CLU_EV_UPDATE,      /* an alive member's metadata or address changed */
  CLU_EV_SUSPECT,
  CLU_EV_DEAD,        /* failed: suspected and not refuted in time */
  CLU_EV_LEFT,        /* left gracefully */
  CLU_EV_ALIVE,       /* alive again: a suspicion refuted, or back after DEAD or LEFT (see prev) */
} clu_event_type;

typedef struct clu_event {
  clu_event_type type;
  clu_member_state prev;                  /* the member's state before (INVALID for JOIN) */
  const clu_member *member;               /* valid during the callback only */
} clu_event;

/* Called on the loop for every change about another member (never about this host). It
 * may call any clu_ function but clu_free. */
typedef void (*clu_event_fn)(void *arg, const clu_event *ev);

/* ---- Counters ---------------------------------------------------------------------------------- */

typedef struct clu_counters {
  uint64_t packets_sent, packets_received;        /* datagrams, received = authentic */
  uint64_t bytes_sent, bytes_received;
  uint64_t dropped_auth;      /* not a datagram of this cluster: bad header, garbled, truncated,
                               * wrong key */
  uint64_t dropped_replay;    /* authentic but seen before, too old, or clock too far off */
  uint64_t dropped_malformed; /* authentic but not a valid GossipPacket */
  uint64_t dropped_hook;      /* dropped by the fault-injection hook */
  uint64_t send_failed;       /* the socket refused a datagram */
  uint64_t probes;            /* direct pings of a probe */
  uint64_t indirect_probes;   /* ping-reqs sent */
  uint64_t probes_failed;     /* probes that ended without any ack (the target got suspected) */
  uint64_t refutations;       /* suspicions (or death notices) of this host it refuted */
  uint64_t gossip_packets;    /* pure gossip datagrams */
  uint64_t push_pulls;        /* completed push/pulls, both sides */
  uint64_t push_pull_failed;  /* failed, both sides (auth failures included) */
  uint64_t push_pull_auth_failed;  /* the peer could not prove itself (wrong secret, untrusted) */
} clu_counters;

/* ---- Fault injection (tests and benchmarks) ----------------------------------------------------- */

typedef enum clu_dir { CLU_DIR_INVALID = 0, CLU_DIR_OUT, CLU_DIR_IN } clu_dir;

/* The primary message of an outgoing datagram (kind is 0 for incoming ones: they are still
 * sealed when the hook sees them). */
#define CLU_PKT_PING 1u
#define CLU_PKT_PING_REQ 2u
#define CLU_PKT_ACK 4u
#define CLU_PKT_GOSSIP 8u

/* Called with every datagram, sealed, before it is sent or opened: return false to drop it
 * (counted in dropped_hook). */
typedef bool (*clu_packet_hook)(void *arg, clu_dir dir, const struct sockaddr *peer, const uint8_t *bytes,
                                size_t len, unsigned kind);

/* ---- Configuration ----------------------------------------------------------------------------- */

typedef struct clu_config {
  const char *name;                 /* this host's name: unique, the chan identity's host */
  const char *bind_addr;            /* "IP:PORT" for UDP and the push/pull TCP listener;
                                     * port 0 picks a free port (the same for both) */
  const char *advertise_addr;       /* what others use to reach us; NULL: the bound address
                                     * (then bind_addr must not be a wildcard) */
  const uint8_t *secret;            /* 32 bytes: the cluster secret (the UDP key is derived) */
  const chan_config *chan;          /* push/pull: identity, trust, and the same secret */
  clu_meta meta;                    /* the initial metadata */
  clu_event_fn on_event;            /* may be NULL */
  void *event_arg;

  /* Timings (clu_config_defaults: LAN values near memberlist's). */
  unsigned probe_interval_ms;       /* 1000 */
  unsigned probe_timeout_ms;        /* 500: direct ack, then ping-req */
  unsigned suspicion_mult;          /* 4 */
  unsigned suspicion_max_mult;      /* 6: an unconfirmed suspicion lasts this many times the
                                     * suspicion timeout; each other member that confirms it
                                     * shortens it, down to the timeout (memberlist's Lifeguard);
                                     * 1: always the timeout */
  unsigned indirect_k;              /* 3 */
  unsigned retransmit_mult;         /* 4 */
  unsigned gossip_interval_ms;      /* 200: pure gossip datagrams while updates are pending */
  unsigned gossip_nodes;            /* 3 */
  unsigned gossip_to_dead_ms;       /* 30000: keep gossiping to a member this long after death */
  unsigned push_pull_interval_ms;   /* 30000; 0: only at join */
  unsigned push_pull_timeout_ms;    /* 5000: connect, handshake and each frame */
  unsigned dead_reap_ms;            /* 0: keep dead and left members; else forget them after */
  unsigned max_clock_skew_ms;       /* 300000: datagrams stamped further off are dropped; 0: no check */
  unsigned max_packet;              /* 1400: the largest datagram sent */
} clu_config;

/* The LAN defaults above; name, bind_addr, secret, chan, meta and on_event stay to fill. */
void clu_config_defaults(clu_config *c);

/* ---- Life cycle -------------------------------------------------------------------------------- */

/* Bind the UDP socket and the TCP listener (nothing is sent yet). The config's strings and
 * chan_config are copied except chan->me and chan->trust_ctx, which must outlive the clu. */
int clu_create(uv_loop_t *loop, const clu_config *cfg, clu **out, char *msg, size_t msglen);

/* Start probing, gossiping, push/pull and serving push/pulls. Alone, the host is a cluster
 * of one until someone joins it or it joins someone. */
int clu_start(clu *c, char *msg, size_t msglen);

/* Join through seeds ("IP:PORT"): a push/pull with each (on the library's thread) and a
 * ping to each. cb gets the number of seeds that answered an authenticated push/pull (rc 0
 * when at least one did, else the last failure and its one-line message). One join at a
 * time (HPVM_EBUSY). */
typedef void (*clu_join_cb)(void *arg, int joined, int rc, const char *msg);
int clu_join(clu *c, const char *const *seeds, size_t nseeds, clu_join_cb cb, void *arg, char *msg,
             size_t msglen);

typedef void (*clu_done_cb)(void *arg);

/* Leave gracefully: this host's LEFT update (at a new incarnation) is gossiped to the
 * others; cb runs once it has been sent its full retransmit count, or after timeout_ms.
 * Then call clu_stop. */
int clu_leave(clu *c, unsigned timeout_ms, clu_done_cb cb, void *arg);

/* Stop everything (without telling anyone: to the others this is a failure unless
 * clu_leave ran first); cb runs on the loop once every handle is closed and the threads
 * have exited. Then clu_free. */
void clu_stop(clu *c, clu_done_cb cb, void *arg);

/* Free a clu whose clu_stop callback has run (clu_stop is needed even when clu_start never
 * ran: the handles live from clu_create on; freeing earlier aborts). NULL-safe. */
void clu_free(clu *c);

/* ---- Use ----------------------------------------------------------------------------------------- */

/* Replace this host's metadata: gossiped at a new incarnation, seen by the others as UPDATE. */
int clu_set_meta(clu *c, const clu_meta *m);

/* Members (this host included), sorted by name; i < clu_member_count. */
size_t clu_member_count(const clu *c);
int clu_member_at(const clu *c, size_t i, clu_member *out);
int clu_member_find(const clu *c, const char *name, clu_member *out);   /* HPVM_ENOENT */

void clu_counters_get(const clu *c, clu_counters *out);
const char *clu_local_addr(const clu *c);       /* the address others reach us at */
const char *clu_name(const clu *c);
/* The current suspicion timeout (it grows with the number of members): the shortest a
 * suspicion lasts, the one confirmed by suspicion_mult - 2 other members. */
uint64_t clu_suspicion_timeout_ms(const clu *c);

void clu_set_packet_hook(clu *c, clu_packet_hook fn, void *arg);

const char *clu_member_state_name(clu_member_state s);   /* "alive", "suspect", ... */
const char *clu_host_state_name(clu_host_state s);       /* "up", "maintenance", ... */
const char *clu_event_name(clu_event_type t);            /* "join", "update", ... */

#endif
