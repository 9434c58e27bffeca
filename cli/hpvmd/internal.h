/* internal.h — what the files of hpvmd share: the daemon, its VMs, its clients.
 *
 *   main.c     options and config file, daemonizing, the loop, signals, startup/shutdown
 *   server.c   the control socket: accept (SO_PEERCRED), framing, dispatch, responses,
 *              the command log
 *   vmcmd.c    commands on configurations: create, modify, remove, clone, status, list, info
 *   super.c    running VMs: spawn and supervise hpvmapp, start/stop/pause, crash handling,
 *              re-attach after a restart, leases
 *   console.c  console viewers
 *   log.c      logging to stderr or syslog
 *   ident.c    this host's identity (keys) and trust in other hosts, the cluster secret
 *   peer.c     the peer listener (--listen): authenticated connections from other hosts,
 *              the target side of a live migration (offer checks, channels, hpvmapp
 *              --incoming, adopting the lease)
 *   migrate.c  the source side of a live migration: hpvmmigrate's request, the storage
 *              proofs, progress to the client, the lease handover
 *   member.c   this host in the cluster's membership (cluster/): gossip, join and leave,
 *              hpvmhost's requests, which hosts are down
 *
 * One hd_daemon per process, passed by pointer; everything runs on its libuv loop thread,
 * so nothing here is locked. An hd_vm exists for every VM this hpvmd has run (or re-attached
 * to, or that has viewers) since it started; VMs that only exist as configuration records
 * are read from shared storage when asked for. */
#ifndef HPVMD_INTERNAL_H
#define HPVMD_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "chan.h"
#include "control.pb-c.h"
#include "hpvm_error.h"
#include "peer.pb-c.h"
#include "rpc.h"
#include "storage.h"

#define HD_VERSION "0.1.0"
#define HD_DEFAULT_STOP_TIMEOUT_MS 30000
#define HD_LEASE_TIMEOUT_MS 30000      /* --lease-timeout's default; renewal and fence follow it */
#define HD_KILL_GRACE_MS 5000          /* power-off asked, no exit after this: SIGKILL */
#define HD_VIEWER_BACKLOG (1u << 20)   /* bytes queued to a slow viewer before output is dropped */
#define HD_REQUEST_MAX (1u << 20)

typedef struct hd_daemon hd_daemon;
typedef struct hd_vm hd_vm;
typedef struct hd_client hd_client;
typedef struct hd_migration hd_migration;   /* migrate.c: this host is the source */
typedef struct hd_incoming hd_incoming;     /* peer.c: this host is the target */
typedef struct hd_offline hd_offline;       /* offline.c: an offline migration from here */
typedef struct hd_cquery hd_cquery;         /* cluster.c: an hpvmstatus asking other hosts */
typedef struct hd_member hd_member;         /* member.c: the membership */
typedef struct hd_ha hd_ha;                 /* ha.c: HA restart's watch of the other hosts */
typedef struct hd_drain hd_drain;           /* drain.c: hpvmhost maintenance */

typedef struct hd_options {
  char *shared_dir;
  char *state_dir;
  char *host;
  char *listen;
  char *group;          /* may use the control socket besides root */
  char *hpvmapp;        /* the hpvmapp binary */
  char *log;            /* "stderr" or "syslog" */
  bool foreground;
  uint32_t stop_timeout_ms;
  uint32_t lease_timeout_ms;
  uint32_t lease_renew_ms;       /* lease_timeout_ms / 6 */
  uint32_t lease_fence_ms;       /* lease_timeout_ms * 2/3: a guest not renewed for this long stops */
  char *gossip;                  /* membership address ADDR:PORT, "off"; NULL: --listen's port + 1 */
  uint32_t gossip_probe_ms;      /* membership probe interval (0: the library's 1000); the other
                                  * gossip timings follow it */
} hd_options;

/* A request waiting for a VM to change state (start: hello or exit; stop/remove: exit;
 * pause: the next status). */
enum hd_wait_kind { HD_WAIT_START = 1, HD_WAIT_STOP, HD_WAIT_REMOVE, HD_WAIT_PAUSE, HD_WAIT_SCHED, HD_WAIT_SUSPEND };
typedef struct hd_waiter {
  enum hd_wait_kind kind;
  hd_client *client;    /* NULL once the client has gone: the result is only logged */
  uint64_t id;
  char *user, *cmdline; /* for the command log */
  bool force;           /* remove -F */
  uint8_t *request;     /* SCHED: the modify to finish once the running VM took the change */
  size_t request_len;
  struct hd_waiter *next;
} hd_waiter;

typedef struct hd_viewer {
  hd_client *client;
  bool read_only;
  bool lagging;         /* output was dropped for it: it is told when it catches up */
  struct hd_viewer *next;
} hd_viewer;

struct hd_vm {
  hd_daemon *d;
  char *name;
  char *run_dir;                /* STATE/vms/<name> */
  char *console_log;            /* STATE/vms/<name>/console.log (hpvmapp writes it) */
  int state;                    /* HPVM__VM_RUN_STATE__* (OFF, BOOTING, ON, STOPPING, PAUSED, CRASH) */
  char *reason;
  int exit_status;              /* of the last run; -1 unknown */
  int64_t started_ns;
  pid_t pid;
  /* The hpvmapp process: a child we spawned (proc set) or one re-attached after a restart
   * (only its pid and its connection). Handles are malloc'd per run and freed by their
   * close callbacks, so a new run never waits for the last one's handles to close. */
  uv_process_t *proc;
  bool is_child, proc_alive, adopted_gone;
  int child_exit;               /* child: exit status, or 128+signal */
  bool child_signaled;
  /* The connection to hpvmapp. */
  uv_pipe_t *app;
  bool hello_seen;
  wire_framer in;
  Hpvm__AppExit *app_exit;      /* its last words, when it said them */
  Hpvm__AppStatus status;       /* the last status it reported */
  /* Stopping. */
  uv_timer_t timer;             /* graceful timeout, kill grace, or adopted-exit polling */
  bool timer_init;
  int stop_phase;               /* 0 none, 1 graceful asked, 2 power-off asked, 3 killed */
  char *stop_note;              /* why hpvmd stopped it: the reason an OFF shows */
  int adopt_polls;              /* re-attached hpvmapp closed its socket: checks of its pid */
  char *resume_from;            /* hpvmresume: the next spawn restores this state file */
  /* CPU entitlement the running hpvmapp was admitted with (from its hello and status). */
  unsigned entitlement, cap;
  uint64_t memory_bytes;        /* of the running guest (the target's admission counts it) */
  /* Live migration: at most one of them, while it lasts. */
  hd_migration *mig;            /* going out (source) */
  hd_incoming *incoming;        /* coming in (target): state INCOMING until adopted */
  char *migrated_to;            /* the last run ended by a migration to this host */
  /* Lease. */
  bool have_lease;
  sto_lease lease;
  uint64_t lease_ok_mono_ns;    /* start of the last successful acquire/renew */
  sto_observer lease_obs;       /* another host's lease of it, watched across starts: expiry */
  hd_waiter *waiters;
  hd_viewer *viewers;
  hd_vm *next;
};

struct hd_client {
  hd_daemon *d;
  uv_pipe_t pipe;
  wire_framer in;
  uid_t uid;
  gid_t gid;
  pid_t pid;
  char user[64];
  bool closing;
  bool refused;                 /* not allowed: told so, then read until it closes */
  size_t discarded;
  bool busy;                    /* a request waits on a VM: further input waits */
  bool dispatching;             /* inside dispatch: an answer must not re-enter the loop */
  hd_vm *console;               /* attached as a viewer */
  hd_client *next;
};

struct hd_daemon {
  hd_options o;
  uv_loop_t *loop;
  sto_store *sto;
  uv_pipe_t server;
  bool server_open;
  char socket_path[4096];
  uv_timer_t tick;              /* leases and liveness */
  uv_signal_t sig_term, sig_int, sig_hup;
  hd_vm *vms;
  hd_client *clients;
  int lock_fd;
  gid_t gid;                    /* of o.group */
  bool has_group;
  int64_t started_ns;
  sto_liveness live;
  bool have_live;
  bool use_syslog;
  bool stopping;
  char *hpvmapp;                /* resolved path */
  /* Identity and peers (ident.c, peer.c). */
  chan_identity ident;
  uint8_t cluster_secret[32];
  int peer_fd;                  /* the --listen socket, -1 when none */
  uv_poll_t peer_poll;
  bool peer_open;
  unsigned peer_conns;          /* handshakes on worker threads */
  hd_incoming *incomings;
  hd_offline *offlines;         /* offline migrations in progress from this host */
  hd_cquery *cqueries;          /* cluster.c: hpvmstatus answers waiting for other hosts */
  hd_member *member;            /* member.c */
  hd_ha *ha;                    /* ha.c (NULL until its first tick) */
  hd_drain *drain;              /* drain.c: maintenance state and the drain in progress */
  struct hd_fwd *fwds;          /* forward.c: requests forwarded to another host (migfwd.c, drain.c) */
};

/* ---- log.c ---------------------------------------------------------------------------------- */
enum { HD_ERR = 3, HD_WARN = 4, HD_INFO = 6, HD_DEBUG = 7 };
void hd_log(hd_daemon *d, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- main.c --------------------------------------------------------------------------------- */
int64_t hd_wall_ns(void);
uint64_t hd_mono_ns(void);
const char *hd_state_name(int state);   /* "On", "Off", "Crash", ... (hpvmstatus words) */

/* ---- server.c -------------------------------------------------------------------------------- */
int hd_server_start(hd_daemon *d, char *msg, size_t msglen);
void hd_server_stop(hd_daemon *d);
/* Send one message (a Response or ConsoleData) to a client; 0 or a negative code. */
int hd_client_send(hd_client *c, const ProtobufCMessage *m);
size_t hd_client_backlog(hd_client *c);
void hd_client_close(hd_client *c);
/* Answer a request: the response (error, message) is sent, the command logged (when
 * cmdline is not NULL) and the client may send its next request. */
void hd_answer(hd_client *c, Hpvm__Response *r, const char *user, const char *cmdline);
/* Shorthand for an error answer with a printf message. */
void hd_answer_error(hd_client *c, uint64_t id, const char *user, const char *cmdline, int err,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void hd_cmdlog(hd_daemon *d, const char *user, const char *cmdline, int err, const char *msg);

/* ---- vmcmd.c -------------------------------------------------------------------------------- */
/* Each handles one request and answers it (now, or later through a waiter). */
typedef struct hd_req {
  hd_client *c;
  const Hpvm__Request *r;
  const char *user;
  const char *cmdline;
  bool live_done;       /* modify: the running VM already has the new entitlement */
  chan **peer;          /* migrate: another host forwarded it (migfwd.c); the handler takes *peer
                           (answers there, then closes it and sets it NULL) */
} hd_req;
void hd_cmd_create(hd_daemon *d, const hd_req *q);
void hd_cmd_modify(hd_daemon *d, const hd_req *q);
void hd_cmd_remove(hd_daemon *d, const hd_req *q);
void hd_cmd_clone(hd_daemon *d, const hd_req *q);
void hd_cmd_status(hd_daemon *d, const hd_req *q);
void hd_cmd_list(hd_daemon *d, const hd_req *q);
void hd_cmd_info(hd_daemon *d, const hd_req *q);
/* Fill st for the VM named name, whose configuration is cfg (st->config = cfg). Strings
 * point into cfg, the hd_vm, or owner (a buffer for the name of a host running it). */
void hd_fill_status(hd_daemon *d, Hpvm__VmConfig *cfg, const char *name, Hpvm__VmStatus *st,
                    char owner[STO_NAME_MAX + 1]);
/* What only this host can check: kernel and backing files exist here, memory fits. */
int hd_host_check(hd_daemon *d, const Hpvm__VmConfig *c, char *why, size_t len);
/* Finish a removal (after the VM stopped, or at once when it was off). */
void hd_remove_now(hd_daemon *d, const char *name, bool force, hd_client *c, uint64_t id, const char *user,
                   const char *cmdline);

/* ---- super.c -------------------------------------------------------------------------------- */
hd_vm *hd_vm_find(hd_daemon *d, const char *name);
hd_vm *hd_vm_get(hd_daemon *d, const char *name);   /* find or create (state OFF) */
bool hd_vm_running(const hd_vm *v);                  /* BOOTING, ON, STOPPING, PAUSED */
void hd_vm_forget(hd_vm *v);                         /* the VM was removed */
void hd_cmd_start(hd_daemon *d, const hd_req *q);
void hd_cmd_stop(hd_daemon *d, const hd_req *q);
void hd_cmd_pause(hd_daemon *d, const hd_req *q);
/* Ask hpvmapp to power off now (remove -F, lease lost, fencing). */
void hd_vm_power_off(hd_vm *v, const char *why);
int hd_vm_send(hd_vm *v, const Hpvm__AppCommand *cmd);
/* Re-attach to the hpvmapps a previous hpvmd left running; load the last state of others. */
void hd_reattach_all(hd_daemon *d);
/* Start the VMs whose boot mode is AUTO and that nobody runs. */
void hd_autostart(hd_daemon *d);
void hd_tick(hd_daemon *d);                          /* renew leases and liveness */
hd_waiter *hd_waiter_add(hd_vm *v, enum hd_wait_kind kind, const hd_req *q, bool force);
/* The entitlement and cap, in % of a host core, that cfg asks for (cycles converted with the
 * host's core clock). 0, or HPVM_ENOTSUP with why when cycles cannot be converted. */
int hd_entitlement_of(const Hpvm__VmConfig *cfg, unsigned *ent, unsigned *cap, char *why, size_t len);
/* modify of a running VM whose entitlement changes: ask hpvmapp first (1: the request now
 * waits for it), or 0 when there is nothing to apply live. */
int hd_modify_live(hd_daemon *d, const hd_req *q, const Hpvm__VmConfig *next);
/* A client went away: its waiters answer nobody; it stops viewing. */
void hd_forget_client(hd_daemon *d, hd_client *c);
/* hpvmd exits: close every hpvmapp connection (the VMs keep running). */
void hd_detach_all(hd_daemon *d);

/* Spawn hpvmapp for a run of cfg (super.c). incoming: the live migration target's
 * hpvmapp --incoming with the channels' sockets fds[0..nfds) as its fds 4.. (the state
 * is INCOMING, not BOOTING). 0, or an error with why. */
int hd_spawn(hd_vm *v, const Hpvm__VmConfig *cfg, const int *fds, unsigned nfds, char *why, size_t len);
/* super.c helpers for peer.c and migrate.c. */
void hd_vm_set_reason(hd_vm *v, const char *reason);
/* Tell hpvmapp until when the lease is ours (AppCommand.lease: its fence deadline); after
 * every successful write of the lease. Nothing without the lease or a connection. */
void hd_vm_lease_tell(hd_vm *v);
uint64_t hd_incarnation(hd_daemon *d);

/* ---- ident.c -------------------------------------------------------------------------------- */
/* Load or create this host's identity (STATE/host.key), publish its public keys in
 * DIR/hosts/<host>/key, read the cluster secret (creating the cluster when the shared
 * directory has none yet: the first host of a cluster). */
int hd_ident_start(hd_daemon *d, char *msg, size_t len);
/* chan_trust_fn with ctx = the hd_daemon: the peer's keys must be the ones in
 * DIR/hosts/<peer>/key. Safe on any thread (it opens its own store). */
int hd_trust(void *ctx, const char *peer, const uint8_t sign_pk[32], const uint8_t kx_pk[32], char *why,
             size_t whylen);
/* The channel configuration of this host (identity, cluster secret, hd_trust). */
void hd_chan_config(hd_daemon *d, chan_config *c);

/* ---- peer.c --------------------------------------------------------------------------------- */
int hd_peer_start(hd_daemon *d, char *msg, size_t len);
void hd_peer_stop(hd_daemon *d);
/* The target's hpvmapp --incoming said hello / asked to adopt the lease / ended. */
void hd_incoming_hello(hd_vm *v);
void hd_incoming_adopt(hd_vm *v, const Hpvm__AppAdopt *a);
void hd_incoming_ended(hd_vm *v, const char *reason);
void hd_incoming_progress(hd_vm *v, const Hpvm__MigrateProgress *p);
/* Each tick: end the incoming migrations whose guest's lease a third host took (HA restart). */
void hd_incoming_tick(hd_daemon *d);
/* A status line for hpvmstatus ("incoming from A: copy round 3"). */
const char *hd_incoming_note(const hd_vm *v);

/* ---- migrate.c ------------------------------------------------------------------------------ */
void hd_cmd_migrate(hd_daemon *d, const hd_req *q);
/* BLAKE2b-256 of the first max_bytes of path (a file or block device) and its size: the
 * storage proofs of both sides. 0, or an error with errno set. */
int hd_fingerprint(const char *path, uint64_t max_bytes, uint8_t out[32], uint64_t *size);
/* 2*nbytes hex digits of randomness (nbytes <= 32) into out: migration ids and tokens. */
int hd_random_hex(char *out, size_t nbytes);
/* The storage proofs of cfg's kernel and disks, live or offline (docs/design/migration.md):
 * one packed StorageProof each in *ps (free with hd_proofs_free); a disk's token goes in the
 * hidden file token_name of its directory, and the files written are appended to *tokens
 * (the caller removes them at the end). */
typedef struct hd_proofs {
  ProtobufCBinaryData *packed;
  size_t n;
} hd_proofs;
int hd_proofs_make(const char *token_name, const Hpvm__VmConfig *cfg, hd_proofs *ps, char ***tokens, size_t *ntokens,
                   char *why, size_t len);
void hd_proofs_free(hd_proofs *ps);
/* hpvmapp's migration events (source side). */
void hd_mig_progress(hd_vm *v, const Hpvm__MigrateProgress *p);
void hd_mig_handoff(hd_vm *v, const Hpvm__AppHandoff *h);
void hd_mig_done(hd_vm *v, const Hpvm__AppMigrateDone *m);
/* The source's hpvmapp ended while a migration was on (it crashed, was stopped). */
void hd_mig_abort(hd_vm *v, const char *reason);
/* hpvmstatus: "migrating to B: copy round 3, 45 % sent" or NULL. */
const char *hd_mig_note(const hd_vm *v);
/* A client went away: its migration goes on, answering nobody. */
void hd_mig_forget_client(hd_daemon *d, hd_client *c);

/* Start VM name on this host (super.c): registration, kernel and host checks, lease, spawn of
 * hpvmapp (with --restore v->resume_from when that is set). 0 (the VM is BOOTING; *out is
 * it) or an error with why. */
int hd_vm_start(hd_daemon *d, const char *name, hd_vm **out, char *why, size_t len);

/* ---- suspend.c ------------------------------------------------------------------------------ */
void hd_cmd_suspend(hd_daemon *d, const hd_req *q);
void hd_cmd_resume(hd_daemon *d, const hd_req *q);
/* A run ended (finalize, lease released): record a suspension and answer hpvmsuspend. */
void hd_suspend_ended(hd_vm *v, const char *reason);
/* hpvmapp refused the suspend (the guest runs on): answer the waiter w (unlinked). */
void hd_suspend_refused(hd_vm *v, hd_waiter *w, const char *msg);
/* A run began (first hello): the configuration's suspension record, if any, is used up. */
void hd_suspend_started(hd_vm *v);

/* ---- offline.c ------------------------------------------------------------------------------ */
struct Hpvm__OfflineOffer;      /* peer.pb-c.h */
struct Hpvm__OfflineCommit;
struct Hpvm__StorageProof;
/* hpvmmigrate without -o (migrate.c hands it over): the stopped guest's registration moves. */
void hd_migrate_offline(hd_daemon *d, const hd_req *q);
/* The target's side of the peer requests (peer.c hands them over with their channel). */
void hd_offline_offer(hd_daemon *d, chan *ch, const struct Hpvm__OfflineOffer *o);
void hd_offline_commit(hd_daemon *d, chan *ch, const struct Hpvm__OfflineCommit *c);
void hd_offline_forget_client(hd_daemon *d, hd_client *c);
/* The registration of VM name moves from this host to `to`: `to` runnable, this host Not
 * Runnable ("migrated to <to>") or, with drop_source, unregistered; compare-and-swap, retried
 * unless want_gen (the generation the target checked) is given. 0 or an error with why. */
int hd_offline_register_move(hd_daemon *d, const char *name, const char *to, bool drop_source, uint64_t want_gen,
                             char *why, size_t len);
/* peer.c's checks of a live offer, for the offline one. */
int hd_peer_check_proof(hd_daemon *d, const char *src, const struct Hpvm__StorageProof *p, char *why, size_t len);
int hd_peer_check_capacity(hd_daemon *d, const Hpvm__VmConfig *c, char *why, size_t len);
/* The offered configuration is the one in this host's shared directory (uuid, generation). */
int hd_peer_same_config(hd_daemon *d, const Hpvm__VmConfig *c, char *why, size_t len);
/* MemAvailable of /proc/meminfo in bytes, 0 when unknown. */
uint64_t hd_mem_available(void);
/* Another host by name (not this one): its peer address ADDR:PORT from its liveness record.
 * 0, or an error with why (unknown, left, no --listen). */
int hd_peer_resolve(hd_daemon *d, const char *target, char *address, size_t alen, char *why, size_t len);
/* "10.0.0.5:7410", "[fd00::5]:7410" or "name:port": a TCP socket connected within timeout_ms,
 * or -1 with msg. Any thread. */
int hd_peer_connect(const char *address, int timeout_ms, char *msg, size_t len);
/* Connect to address within connect_ms and authenticate as host with cc: 0 with *ch, or an
 * error with msg (HPVM_EUNAVAIL: no connection). Any thread. */
int hd_peer_open(const char *address, int connect_ms, const chan_config *cc, const char *host, chan **ch, char *msg,
                 size_t len);
/* Send r, receive one PeerAnswer: 0 with *ans (free it), 1 when the peer closed first, or an
 * error with msg. */
int hd_peer_ask(chan *ch, const Hpvm__PeerRequest *r, int send_ms, int answer_ms, Hpvm__PeerAnswer **ans, char *msg,
                size_t len);

/* ---- member.c ------------------------------------------------------------------------------- */
/* Write this host's liveness record (with its gossip address) and, unless the host left the
 * cluster, join the membership. 0 or an error with msg. */
int hd_member_start(hd_daemon *d, char *msg, size_t len);
/* hpvmd stops: gossip LEFT, stop and free the membership (its handles close on the loop). */
void hd_member_stop(hd_daemon *d);
/* Every tick: metadata changes to the others; look for them again when alone. */
void hd_member_tick(hd_daemon *d);
/* Is host down: DEAD in membership, or its liveness record unchanged for its timeout. */
bool hd_member_host_down(hd_daemon *d, const char *host, char *why, size_t len);

/* ---- cluster.c ------------------------------------------------------------------------------ */
struct Hpvm__StatusQuery;
/* Answer hpvmstatus (r: a VM or a list from storage): now when no other host runs a guest in
 * it, else once the owners said what they run live (or did not answer in time). */
void hd_cluster_answer(hd_daemon *d, const hd_req *q, Hpvm__Response *r);
/* peer.c: another host's hpvmstatus asks what this host runs; answered and closed. */
void hd_cluster_status_query(hd_daemon *d, chan *ch, const struct Hpvm__StatusQuery *q);
void hd_cluster_forget_client(hd_daemon *d, hd_client *c);
/* How long hpvmstatus waits for other hosts: the gossip probe timeout, at least 100 ms. */
unsigned hd_cluster_query_timeout_ms(const hd_daemon *d);
/* hpvmhost status / join / leave. */
void hd_cmd_host(hd_daemon *d, const hd_req *q);
/* Every member this host knows (itself included), malloc'd into *out (free it). 0, or
 * HPVM_EUNAVAIL when this host is not a member. */
struct clu_member;
int hd_member_list(hd_daemon *d, struct clu_member **out, size_t *n);

/* ha.c: HA restart of ha=on guests whose host died (docs/design/cluster.md, HA restart). */
void hd_ha_tick(hd_daemon *d);
void hd_ha_free(hd_daemon *d);
bool hd_vm_ha_on(const Hpvm__VmConfig *cfg);
/* The value of attribute key (-x key=value) in cfg, or NULL when it is not set. */
const char *hd_vm_attr(const Hpvm__VmConfig *cfg, const char *key);
/* -x online_migration=disabled: hpvmmigrate -o and a drain refuse to move it while it runs. */
bool hd_vm_online_migration_disabled(const Hpvm__VmConfig *cfg);
/* An operator started vm: its HA restart count (the throttle's record) starts again from 0. */
void hd_ha_reset(hd_daemon *d, const char *vm);

/* ---- forward.c ------------------------------------------------------------------------------ */
/* One PeerRequest sent to host's hpvmd at address (a thread, the authenticated channel, TCP
 * keepalive) and its PeerAnswers read until one without more. cb runs on the loop for each
 * answer: a progress (more) and at the end the result (more false). a is the answer as the host
 * sent it, NULL when the connection failed or ended early: err and msg ("host H: ...", with
 * closed_msg when the host closed it before its last answer) say why; no_result_msg when no
 * result could be queued at all. */
typedef struct hd_fwd hd_fwd;
typedef void (*hd_fwd_cb)(void *arg, bool more, int err, const char *msg, const Hpvm__PeerAnswer *a);
int hd_fwd_start(hd_daemon *d, const char *host, const char *address, const Hpvm__PeerRequest *r,
                 const char *closed_msg, const char *no_result_msg, hd_fwd_cb cb, void *arg, hd_fwd **out, char *why,
                 size_t len);
/* Instead of a callback: each answer relayed to client c, waiting for request req_id of user, as
 * a Response (a progress, then the result; a migration's progress as its body). */
void hd_fwd_relay(hd_fwd *f, hd_client *c, uint64_t req_id, const char *user);
/* The callback's owner is gone: no more callbacks (the forward itself runs to its end). */
void hd_fwd_detach(hd_fwd *f);
void hd_fwd_forget_client(hd_daemon *d, hd_client *c);
/* hpvmd stops: the threads still waiting free their records when they end. */
void hd_fwd_stop(hd_daemon *d);

/* ---- migfwd.c ------------------------------------------------------------------------------- */
/* hpvmmigrate -o of a guest another host owns, forwarded to that host's hpvmd (PeerRequest.
 * migrate_forward, forward.c). cb gets each answer: a progress (more, a->progress set) and at the
 * end the result (more false: err, msg, a->progress when the owner sent one). */
int hd_migfwd_start(hd_daemon *d, const char *owner, const Hpvm__MigrateRequest *r, const char *user,
                    const char *cmdline, hd_fwd_cb cb, void *arg, hd_fwd **out, char *why, size_t len);
/* hpvmmigrate -o typed here for a guest host owner runs: forwarded, its answers relayed to q->c. */
void hd_migfwd_client(hd_daemon *d, const hd_req *q, const char *owner);
/* peer.c: another host forwards hpvmmigrate -o of a guest this host runs. */
struct Hpvm__MigrateForward;
void hd_migfwd_peer(hd_daemon *d, chan *ch, const struct Hpvm__MigrateForward *mf);
/* The answer on a forwarded request's channel: a progress (more) or the result, after which (or
 * when the other host is gone) *ch is closed and NULL. */
void hd_migfwd_send(hd_daemon *d, chan **ch, bool more, int err, const char *msg, Hpvm__MigrateProgress *p);

/* ---- drain.c -------------------------------------------------------------------------------- */
/* hpvmhost maintenance enter / exit (member.c hands them over). */
void hd_cmd_maintenance(hd_daemon *d, const hd_req *q);
/* This host's maintenance state, a clu_host_state: UP, DRAINING or MAINTENANCE. */
int hd_drain_host_state(hd_daemon *d);
/* Not Up: new guests (starts, incoming migrations) are refused; true with why. */
bool hd_drain_refuses_guests(hd_daemon *d, char *why, size_t len);
void hd_drain_forget_client(hd_daemon *d, hd_client *c);
/* peer.c: another host forwards hpvmhost maintenance for this host; answered on ch (progress,
 * then the result) and closed. */
struct Hpvm__MaintenanceForward;
void hd_drain_peer(hd_daemon *d, chan *ch, const struct Hpvm__MaintenanceForward *f);
/* hpvmd stops: the drain's timer closes (the host stays as it is: draining or maintenance). */
void hd_drain_stop(hd_daemon *d);
/* A migration or a guest's run ended: a drain in progress looks at its guests on the next turn
 * of the loop instead of at its next watch tick (so the next migration starts at once). */
void hd_drain_kick(hd_daemon *d);

/* ---- console.c ------------------------------------------------------------------------------ */
void hd_cmd_console(hd_daemon *d, const hd_req *q);
/* Bytes the guest printed: to every viewer. */
void hd_console_output(hd_vm *v, const uint8_t *data, size_t len);
/* A line about the VM for its viewers ("VM started", "VM stopped: ..."). */
void hd_console_event(hd_vm *v, const char *event);
/* A viewer's frame (keyboard input). */
void hd_console_input(hd_client *c, const uint8_t *payload, uint32_t len);
void hd_console_detach(hd_client *c);

#endif
