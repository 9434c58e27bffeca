/* storage.h — hpvm's shared storage: the directory every host of a cluster mounts at the same
 * place, and the records in it (VM configurations, per-VM ownership leases, per-host
 * liveness records and keys, the cluster's identity and secret, the command log).
 * Callers: hpvmd and the hpvm commands (create/modify/remove/status), migration (the lease
 * handoff) and the cluster (liveness, takeover). docs/design/storage.md is the full story.
 *
 * Layout of the shared directory DIR:
 *   DIR/cluster/{id,secret}        cluster identity and gossip secret (0700 dir, 0600 files)
 *   DIR/hosts/<host>/{key,liveness} a host's public keys and its liveness (delta) lease
 *   DIR/vms/<name>/{config,lease}  a guest's configuration and its ownership lease
 *   DIR/log/command.log            one line per command, from every host
 *
 * Every record is one small file: a 32-byte header (magic "HPVMRECD", format version, kind,
 * generation, payload length, CRC32C of header and payload) and a protobuf payload from
 * proto/storage.proto. Writes are atomic (temporary file, fsync, rename, fsync of the
 * directory); a record that is corrupted or truncated is reported by its path and never
 * replaced or removed except by an explicit forced remove. Updates are compare-and-swap on
 * the generation, under an fcntl lock; the generation check holds even where locks do not
 * (see docs/design/storage.md "Concurrency").
 *
 * Functions return 0 or a negative HPVM_E* code; sto_error() is the sentence that says what
 * failed, with the path, and what to do. A sto_store is not thread-safe: give each thread
 * its own (opening one is cheap). Nothing here is global; the I/O layer and the clocks are
 * parameters, so tests inject faults and fake time. */
#ifndef HPVM_STORAGE_H
#define HPVM_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hpvm_error.h"
#include "storage.pb-c.h"

/* ---- The I/O layer ------------------------------------------------------------------------ */

/* Every call that touches the shared directory goes through one of these, so a test can
 * fail any of them (SQLite's test VFS idea). Each returns what the system call returns on
 * success and -errno on failure. lock() takes or drops an exclusive whole-file lock without
 * waiting: 0, or -EAGAIN when another holder has it. */
enum { STO_IO_LOCK = 1, STO_IO_UNLOCK = 2 };
typedef struct sto_io {
  int (*open)(void *ctx, const char *path, int flags, mode_t mode);
  ssize_t (*read)(void *ctx, int fd, void *buf, size_t len);
  ssize_t (*write)(void *ctx, int fd, const void *buf, size_t len);
  int (*fsync)(void *ctx, int fd);
  int (*close)(void *ctx, int fd);
  int (*rename)(void *ctx, const char *from, const char *to);
  int (*link)(void *ctx, const char *from, const char *to);
  int (*unlink)(void *ctx, const char *path);
  int (*mkdir)(void *ctx, const char *path, mode_t mode);
  int (*rmdir)(void *ctx, const char *path);
  int (*lock)(void *ctx, int fd, int op);
  void *ctx;
} sto_io;

/* The real thing: POSIX calls, OFD locks (fcntl F_OFD_SETLK; classic F_SETLK where the
 * kernel or file system lacks them). */
const sto_io *sto_io_posix(void);

/* ---- Clocks ------------------------------------------------------------------------------- */

/* mono_ns: a monotonic clock (CLOCK_MONOTONIC); wall_ns: the wall clock (CLOCK_REALTIME).
 * Lease expiry only ever compares two readings of the observer's own monotonic clock. */
typedef struct sto_clock {
  uint64_t (*mono_ns)(void *ctx);
  int64_t (*wall_ns)(void *ctx);
  void *ctx;
} sto_clock;

/* ---- The store ---------------------------------------------------------------------------- */

#define STO_NAME_MAX 255             /* VM and host names; a directory entry's limit */
#define STO_RECORD_MAX (1u << 20)    /* largest payload a record may carry */

typedef struct sto_options {
  const char *root;                  /* the shared directory DIR (must exist) */
  const char *host;                  /* this host's name; NULL: gethostname() */
  const sto_io *io;                  /* NULL: sto_io_posix() */
  const sto_clock *clock;            /* NULL: the system clocks */
  bool no_locks;                     /* rely on generations alone (a file system without
                                        fcntl locks); see docs/design/storage.md */
  uint32_t lock_timeout_ms;          /* wait for a record lock at most this; 0: 30000 */
} sto_options;

typedef struct sto_store sto_store;

/* Open DIR (it must exist and be a directory; sto_layout_init creates the layout in it).
 * HPVM_ENOENT, HPVM_EINVAL (bad host name), HPVM_ENOMEM. On failure *out is a store that only
 * carries the error (read sto_error, then sto_close) or NULL without memory. */
int sto_open(const sto_options *o, sto_store **out);
void sto_close(sto_store *s);
/* The sentence describing the last failure ("" when none). */
const char *sto_error(const sto_store *s);
const char *sto_root(const sto_store *s);
const char *sto_host(const sto_store *s);
/* Create DIR/cluster (0700), DIR/hosts, DIR/vms, DIR/log where missing; idempotent. */
int sto_layout_init(sto_store *s);

/* ---- Names -------------------------------------------------------------------------------- */

/* A VM name as HPVM accepts it: 1..255 of A-Z a-z 0-9 '_' '-' '.', not starting with '-' or
 * '.' (a leading '.' is hpvm's: its own files in DIR are hidden names). HPVM_EINVAL with the
 * reason in why (may be NULL) naming the offending character and its position. */
int sto_vm_name_check(const char *name, char *why, size_t whylen);
/* A host name: the same characters, 1..255. */
int sto_host_name_check(const char *name, char *why, size_t whylen);

/* ---- Records ------------------------------------------------------------------------------ */

/* Paths are relative to DIR ("vms/web1/config"): no leading '/', no "." or ".." parts. */
#define STO_RECORD_MAGIC "HPVMRECD"
#define STO_RECORD_HEADER_LEN 32
#define STO_RECORD_VERSION_MAJOR 1u
#define STO_RECORD_VERSION_MINOR 1u   /* 1.1: VmConfig.registrations */

typedef struct sto_record {
  uint32_t kind;                     /* HPVM__RECORD_KIND__* */
  uint32_t version;                  /* major << 16 | minor, of the writer */
  uint64_t generation;               /* 1 at create, +1 on every update */
  uint8_t *payload;                  /* malloc'd; sto_record_free */
  size_t len;
} sto_record;

/* Read and check a record. kind 0 accepts any kind. HPVM_ENOENT (no such record),
 * HPVM_ETRUNC (shorter than its header says), HPVM_ECORRUPT (bad magic, checksum mismatch,
 * wrong kind, bytes after the payload), HPVM_ENOTSUP (another major version), HPVM_EIO.
 * The message names the file and says what to do. */
int sto_record_read(sto_store *s, const char *path, uint32_t kind, sto_record *out);
void sto_record_free(sto_record *r);
/* Create a record at generation 1; HPVM_EEXIST if anything is there (even a corrupt one).
 * The directory must exist. Records under cluster/ are created 0600, others 0644. */
int sto_record_create(sto_store *s, const char *path, uint32_t kind, const void *payload, size_t len);
/* Replace the record if its generation is still expected_gen: the new one has
 * expected_gen + 1 (in *new_gen if not NULL). HPVM_EBUSY when it changed since (read it
 * again and retry), HPVM_ENOENT, HPVM_ECORRUPT/ETRUNC (the current one is damaged: refused,
 * left as it is), HPVM_EIO (the old record is intact unless the message says otherwise). */
int sto_record_update(sto_store *s, const char *path, uint32_t kind, uint64_t expected_gen,
                      const void *payload, size_t len, uint64_t *new_gen);
/* Remove a record at expected_gen (HPVM_EBUSY if it changed); STO_FORCE removes whatever
 * is there, a damaged record too. */
enum { STO_FORCE = 1 };
int sto_record_remove(sto_store *s, const char *path, uint64_t expected_gen, unsigned flags);

/* The same for protobuf payloads. sto_msg_read unpacks into *out (free it with
 * protobuf_c_message_free_unpacked(*out, NULL)); a payload that does not parse is
 * HPVM_ECORRUPT by name. */
int sto_msg_read(sto_store *s, const char *path, uint32_t kind, const ProtobufCMessageDescriptor *d,
                 ProtobufCMessage **out, uint64_t *gen);
int sto_msg_create(sto_store *s, const char *path, uint32_t kind, const ProtobufCMessage *m);
int sto_msg_update(sto_store *s, const char *path, uint32_t kind, uint64_t expected_gen,
                   const ProtobufCMessage *m, uint64_t *new_gen);

/* Hold a record's lock across a read-modify-write (updates of that record through the same
 * store then reuse it). Waits up to the lock timeout: HPVM_EBUSY naming the record after it.
 * Locks nest per store; every sto_record_lock needs its sto_record_unlock. */
int sto_record_lock(sto_store *s, const char *path);
void sto_record_unlock(sto_store *s, const char *path);

/* ---- VM configurations (DIR/vms/<name>/config) -------------------------------------------- */

/* Check a configuration before it is written: the name, vCPUs (1..STO_VCPUS_MAX), memory
 * (at least 1 MiB, whole 4 KiB pages), entitlement (percent 1..100, cap 0 or value..100;
 * cycles > 0, cap 0 or >= value), at most STO_DEVICES_MAX devices + networks and
 * STO_DEVICES_MAX_NON_AVIO of them not AVIO, each bus/device/target used once, absolute
 * backing paths, OS type and boot mode set, attribute keys well formed and unique.
 * HPVM_EINVAL with the reason in why. */
#define STO_VCPUS_MAX 128
#define STO_DEVICES_MAX 158
#define STO_DEVICES_MAX_NON_AVIO 30
int sto_vm_validate(const Hpvm__VmConfig *cfg, char *why, size_t whylen);

/* Create: refuses a duplicate name (HPVM_EEXIST) and an invalid configuration (HPVM_EINVAL).
 * What the store owns is filled in on the record written: uuid (when empty), VM # (the
 * lowest free one when 0; a given one must be free), created/modified time and host.
 * *created (may be NULL) is the record as written, config_generation 1; free it with
 * sto_vm_free. */
int sto_vm_create(sto_store *s, const Hpvm__VmConfig *cfg, Hpvm__VmConfig **created);
/* Load; (*out)->config_generation is the record's generation. HPVM_ENOENT "no VM named x";
 * a damaged record is refused by name (restore it or remove it with hpvmremove -F).
 * Free with sto_vm_free. */
int sto_vm_load(sto_store *s, const char *name, Hpvm__VmConfig **out);
void sto_vm_free(Hpvm__VmConfig *cfg);
/* Write cfg if the stored one is still at cfg->config_generation (else HPVM_EBUSY: load it
 * again, re-apply the change, retry). The name, uuid, VM # and creation fields cannot change
 * here (HPVM_EINVAL). On success cfg->config_generation and cfg->modified_ns are the new
 * record's (modified_host is written as this host but not stored back into cfg). */
int sto_vm_update(sto_store *s, Hpvm__VmConfig *cfg);
/* Remove a VM: its config at expected_gen, its lease, its VM #, hpvm's own files in its
 * directory and the directory if nothing else is left in it (disk images someone put there
 * stay). Refused (HPVM_EBUSY) while a host holds its lease; STO_FORCE removes it anyway,
 * damaged config included. */
int sto_vm_remove(sto_store *s, const char *name, uint64_t expected_gen, unsigned flags);

/* Rename a VM that no host runs: the name changes, the uuid, VM #, creation fields and the
 * rest of the configuration stay (the new record starts at generation 1). Refused: an invalid
 * new name (HPVM_EINVAL, as for a create), an existing one (HPVM_EEXIST), a lease held by any
 * host (HPVM_EBUSY), a config no longer at expected_gen when that is not 0 (HPVM_EBUSY).
 * Crash-safe: a crash leaves one VM, under the old name or the new one; a half-done rename
 * shows in sto_vm_list, which finishes or undoes it (docs/design/storage.md "Rename").
 * *renamed (may be NULL) is the new record; free it with sto_vm_free. */
int sto_vm_rename(sto_store *s, const char *old_name, const char *new_name, uint64_t expected_gen,
                  Hpvm__VmConfig **renamed);

/* Every VM directory, sorted by name. A VM whose config cannot be read is listed with
 * cfg NULL, err its code and error the sentence (hpvmstatus shows it as Invalid). */
typedef struct sto_vm_entry {
  char *name;
  Hpvm__VmConfig *cfg;
  int err;
  char *error;
} sto_vm_entry;
int sto_vm_list(sto_store *s, sto_vm_entry **out, size_t *n);
void sto_vm_list_free(sto_vm_entry *v, size_t n);

/* ---- Registration: the hosts a VM may start on ------------------------------------------------
 *
 * HPVM registers a guest on the hosts that may run it; after a migration the source keeps its
 * copy marked Not Runnable ("Off (NR)", reason "migrated to B") or loses it (hpvmmigrate -D).
 * Here every host sees the same configuration, so the registrations are a list in it
 * (VmConfig.registrations): empty means every host (a guest never migrated, today's
 * behaviour); otherwise the guest may start only on a host listed runnable. The VM-wide
 * not_runnable flag holds on every host either way. These functions change a configuration in
 * memory, one loaded with sto_vm_load (they allocate in it); write it with sto_vm_update. */

/* 0 when cfg may start on host; else HPVM_ESTATE and one line in why (may be NULL) naming the
 * reason and the fix: start it where it is runnable, or make it runnable here with
 * hpvmmodify -P name -x runnable_status=enabled. */
int sto_vm_runnable_on(const Hpvm__VmConfig *cfg, const char *host, char *why, size_t whylen);
/* host's entry, or NULL when the list does not name it. */
const Hpvm__VmRegistration *sto_vm_registration(const Hpvm__VmConfig *cfg, const char *host);
/* Add or replace host's entry. reason may be NULL. HPVM_EINVAL (bad host name), HPVM_ENOMEM. */
int sto_vm_register(Hpvm__VmConfig *cfg, const char *host, bool runnable, const char *reason, int64_t now_ns);
/* Drop every entry (a clone starts with none). */
void sto_vm_registrations_clear(Hpvm__VmConfig *cfg);
/* The registration part of an offline migration from -> to: `to` becomes runnable; `from`
 * becomes not runnable with the reason "migrated to <to>", or with drop_from loses its entry.
 * An empty list (every host) becomes one that names exactly these hosts, so a third host is
 * not registered afterwards. The VM-wide not_runnable flag is cleared: the target may run
 * it. HPVM_EINVAL (same host, bad name), HPVM_ENOMEM. */
int sto_vm_register_move(Hpvm__VmConfig *cfg, const char *from, const char *to, bool drop_from, int64_t now_ns);
/* hpvmmodify -x runnable_status=enabled|disabled issued on host: with an empty list the
 * VM-wide flag changes (every host), as before any migration; otherwise host's own entry
 * does (added when missing) and the VM-wide flag is cleared. */
int sto_vm_set_runnable(Hpvm__VmConfig *cfg, const char *host, bool runnable, const char *reason, int64_t now_ns);

/* ---- Leases (DIR/vms/<name>/lease, DIR/hosts/<host>/liveness) ----------------------------- */

/* The interface is shaped like sanlock's (a delta lease per host, a lease per resource with
 * an owner and a generation) so that libsanlock could sit behind it later.
 *
 * Expiry never compares two hosts' clocks: an observer keeps a sto_observer per record it
 * watches, and a record is expired only when the observer has seen it unchanged for the
 * record's timeout on its own monotonic clock. The owner stops its guest before that
 * (sto_lease_fence_deadline). */
typedef struct sto_observer {
  bool seen;                         /* a first reading has been taken */
  uint64_t record_gen;               /* the generation seen */
  uint64_t since_ns;                 /* observer's monotonic time of that first reading */
  uint64_t unchanged_ms;             /* out: how long it has been seen unchanged */
  uint64_t wait_ms;                  /* out: how much longer until it counts as expired */
} sto_observer;

#define STO_LEASE_NOTE_MAX 128
typedef struct sto_lease {
  int state;                         /* HPVM__LEASE_STATE__LEASE_STATE_FREE / _HELD */
  char owner[STO_NAME_MAX + 1];
  char previous_owner[STO_NAME_MAX + 1];
  uint64_t owner_incarnation;
  uint64_t lease_generation;         /* ownership epoch */
  uint64_t renewals;
  uint64_t renew_mono_ns;            /* owner's clock at the start of its last renewal */
  int64_t renew_wall_ns;
  uint32_t timeout_ms;
  uint64_t record_gen;               /* storage generation (0: no record yet) */
  char note[STO_LEASE_NOTE_MAX];     /* sto_lease_renew_note's; "" when none */
} sto_lease;

/* Read a VM's lease; a VM without a lease record reads as FREE with record_gen 0. */
int sto_lease_read(sto_store *s, const char *vm, sto_lease *out);
/* Take the lease for this host: at once when FREE (or already ours), else only when obs has
 * seen it unchanged for its timeout — call again after obs->wait_ms; the first call takes
 * the first reading. HPVM_EBUSY "held by H ..." meanwhile. timeout_ms is what this host
 * promises as owner; incarnation is its liveness incarnation. *out is the lease held. */
int sto_lease_acquire(sto_store *s, const char *vm, uint32_t timeout_ms, uint64_t incarnation,
                      sto_observer *obs, sto_lease *out);
/* Watch a VM's lease without taking it (HA restart: the watch starts before the owner is
 * known dead, so that an acquire with the same obs succeeds as soon as both have expired):
 * *out is the lease; *expired is true when it is HELD and obs has seen it unchanged for its
 * timeout (timeout_ms when the record names none), what sto_lease_acquire requires. */
int sto_lease_observe(sto_store *s, const char *vm, uint32_t timeout_ms, sto_observer *obs, sto_lease *out,
                      bool *expired);
/* Renew a lease this host holds (*l as returned by acquire/renew/adopt). HPVM_EBUSY when it
 * was lost (*l then shows the new owner): stop the guest at once. */
int sto_lease_renew(sto_store *s, const char *vm, sto_lease *l);
/* Renew, and leave a note for other hosts: later renewals and re-acquisitions by this owner
 * keep it; it goes when the lease changes hands (handover, release, takeover) or with another
 * call ("" removes it). Live migration: before a source resumes a guest whose target may hold
 * its complete state, it writes "migrate-aborted <migration id>", and the target, which can no
 * longer hear the source, discards what it holds. HPVM_EINVAL for a note of
 * STO_LEASE_NOTE_MAX bytes or more; else as sto_lease_renew. */
int sto_lease_renew_note(sto_store *s, const char *vm, sto_lease *l, const char *note);
/* Give it up: FREE. */
int sto_lease_release(sto_store *s, const char *vm, sto_lease *l);
/* Hand it to host `to` with a new lease generation (migration). After this the caller owns
 * nothing; *l is the record as written (send l->lease_generation to the target). */
int sto_lease_handover(sto_store *s, const char *vm, sto_lease *l, const char *to);
/* The target's side: succeeds only when the lease names this host at lease_generation, and
 * renews it with this host's clocks. Only then may the target resume the guest. */
int sto_lease_adopt(sto_store *s, const char *vm, uint64_t lease_generation, uint64_t incarnation,
                    sto_lease *out);
/* The owner's deadline, on its monotonic clock: stop the guest by then unless renewed. It is
 * fence_ms after the start of the last successful renewal. */
uint64_t sto_lease_fence_deadline(const sto_lease *l, uint32_t fence_ms);
/* Check a timing configuration: 0 < renew_ms, at least two renewal attempts before the fence
 * deadline (2 * renew_ms <= fence_ms), and between the fence deadline and the earliest expiry
 * a margin for stopping the guest and for clocks that run at slightly different rates
 * (timeout_ms - fence_ms >= max(timeout_ms / 10, 100)). HPVM_EINVAL with the reason. */
int sto_lease_timing_check(uint32_t renew_ms, uint32_t fence_ms, uint32_t timeout_ms, char *why,
                           size_t whylen);

/* Per-host liveness: only its host writes DIR/hosts/<host>/liveness. */
typedef struct sto_liveness {
  int state;                         /* HPVM__HOST_STATE__* */
  char host[STO_NAME_MAX + 1];
  uint64_t incarnation;
  uint64_t renewals;
  uint64_t renew_mono_ns;
  int64_t renew_wall_ns;
  uint32_t timeout_ms;
  char address[128];
  char gossip[128];                  /* membership address ("" when the host does not gossip) */
  uint64_t record_gen;
} sto_liveness;
/* Start this host's record: incarnation + 1, state UP (no gossip address). */
int sto_liveness_start(sto_store *s, uint32_t timeout_ms, const char *address, sto_liveness *out);
/* The same with the membership address other hosts join (NULL or "": none); left: start in
 * state LEFT (a host that left the cluster and has not joined again). */
int sto_liveness_start_gossip(sto_store *s, uint32_t timeout_ms, const char *address, const char *gossip,
                              bool left, sto_liveness *out);
/* Renew it; HPVM_EBUSY if someone else wrote it (another hpvmd with this host name). */
int sto_liveness_renew(sto_store *s, sto_liveness *l);
/* A graceful leave: state LEFT (not a failure). */
int sto_liveness_leave(sto_store *s, sto_liveness *l);
/* Renew keeping the record's state (UP or LEFT): a host that left goes on proving it lives. */
int sto_liveness_renew_keep(sto_store *s, sto_liveness *l);

enum sto_host_status {
  STO_HOST_INVALID = 0,
  STO_HOST_ALIVE,                    /* seen advancing, or not yet watched for its timeout */
  STO_HOST_DEAD,                     /* unchanged for its timeout on our clock: takeover ok */
  STO_HOST_LEFT,                     /* left gracefully */
  STO_HOST_UNKNOWN,                  /* no liveness record */
};
const char *sto_host_status_name(int status);
/* Observe another host's liveness record with obs (kept by the caller per host). */
int sto_host_observe(sto_store *s, const char *host, sto_observer *obs, sto_liveness *out,
                     int *status);

/* ---- Hosts and cluster (DIR/hosts/<host>/key, DIR/cluster/) ------------------------------- */

/* Register a host's public keys (replaces what was there). */
int sto_host_key_write(sto_store *s, const char *host, const uint8_t sign_pub[32],
                       const uint8_t kx_pub[32]);
int sto_host_key_read(sto_store *s, const char *host, uint8_t sign_pub[32], uint8_t kx_pub[32]);
/* Host names under DIR/hosts, sorted; free each and the array. */
int sto_host_list(sto_store *s, char ***names, size_t *n);
/* Create the cluster (id and secret); HPVM_EEXIST if DIR already has one. */
int sto_cluster_create(sto_store *s, const char *name, const uint8_t secret[32], char id_out[37]);
int sto_cluster_read(sto_store *s, char id[37], char *name, size_t namelen, uint8_t secret[32]);

/* ---- Command log (DIR/log/command.log) ---------------------------------------------------- */

/* One line per command, appended under a lock with O_APPEND and one write:
 *   <ISO 8601 UTC time> TAB <host> TAB <user> TAB <result> TAB <command line>
 * result is "OK" or "E<NAME>: message"; tabs, newlines and backslashes in fields are
 * escaped (\t \n \\). The log is rotated to command.log.1 past STO_CMDLOG_ROTATE bytes. */
#define STO_CMDLOG_ROTATE (16u << 20)
int sto_cmdlog_append(sto_store *s, const char *user, const char *cmdline, int result,
                      const char *message);
typedef struct sto_cmdlog_entry {
  char *time, *host, *user, *result, *command;
} sto_cmdlog_entry;
/* The last `last` entries (0: all) of command.log, oldest first. Lines that do not parse
 * (a torn line after a crash) are skipped and counted in *skipped (may be NULL). */
int sto_cmdlog_read(sto_store *s, size_t last, sto_cmdlog_entry **out, size_t *n, size_t *skipped);
void sto_cmdlog_free(sto_cmdlog_entry *e, size_t n);

/* ---- Fault injection (tests) -------------------------------------------------------------- */

/* An sto_io that wraps another and fails calls on purpose, and can simulate a power loss:
 * it remembers which files were written but not fsynced and which directory entries were
 * changed but their directory not fsynced, and sto_faultio_powerloss() undoes exactly what
 * a power loss may undo. */
enum {
  STO_OP_OPEN = 1 << 0, STO_OP_READ = 1 << 1, STO_OP_WRITE = 1 << 2, STO_OP_FSYNC = 1 << 3,
  STO_OP_CLOSE = 1 << 4, STO_OP_RENAME = 1 << 5, STO_OP_LINK = 1 << 6, STO_OP_UNLINK = 1 << 7,
  STO_OP_MKDIR = 1 << 8, STO_OP_RMDIR = 1 << 9, STO_OP_LOCK = 1 << 10, STO_OP_ALL = (1 << 11) - 1,
};
typedef struct sto_faultio sto_faultio;
sto_faultio *sto_faultio_new(const sto_io *base);
void sto_faultio_free(sto_faultio *f);
/* The io to hand to sto_open (valid while f lives). */
const sto_io *sto_faultio_io(sto_faultio *f);
/* The nth call (1-based, counted from now) among the ops in mask fails with errno err;
 * persist: every later one in mask too. */
void sto_faultio_fail(sto_faultio *f, unsigned mask, unsigned long nth, int err, bool persist);
/* The process "dies" at the nth call of any op from now: it and everything after fail with
 * EIO and do nothing. */
void sto_faultio_crash(sto_faultio *f, unsigned long nth);
/* Calls of the ops in mask since the last reset, and injected failures. */
unsigned long sto_faultio_calls(const sto_faultio *f, unsigned mask);
unsigned long sto_faultio_failures(const sto_faultio *f);
bool sto_faultio_crashed(const sto_faultio *f);
/* Simulate a power loss now: every file with unsynced writes is garbled (its bytes replaced
 * by garbage, half of it cut off), and with revert_dir_ops every rename/link/unlink/create/
 * mkdir whose directory was not fsynced since is undone, newest first. Then forgets all
 * tracking, clears faults and counters. 0 or -errno. */
int sto_faultio_powerloss(sto_faultio *f, bool revert_dir_ops);
/* Forget faults, counters and tracking (the files stay as they are). */
void sto_faultio_reset(sto_faultio *f);

#endif
