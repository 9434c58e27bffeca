/* migrate.h — live migration of one VM (library hpvm_migrate): the source and destination
 * state machines, page encoding (zero / raw / LZ4 / delta), the convergence policy and the
 * statistics. The protocol drawing and the transition tables are at the top of source.c and
 * dest.c; docs/design/migration.md is the full story.
 *
 * The library moves a running VM's memory and state over already-authenticated channels
 * (proto/chan.h): the caller (hpvmapp) connects them, runs the init-phase checks with the
 * target host, and provides the ownership handoff as hooks (the lease lives in shared storage
 * and is written by hpvmd). Phases after init: copy (pre-copy rounds: round 0 all memory,
 * later rounds what the dirty log harvested), I/O quiesce (vCPUs paused, in-flight disk
 * requests completed, disk files flushed), frozen (last dirty pages, CPU/device/platform
 * state; the target acknowledges), handoff (the source's hook writes the lease naming the
 * target; the target's hook adopts it; then the target resumes and says so).
 *
 * Cancel, a timeout, any error or the death of the target before the handoff: the source
 * resumes the guest (if it paused it) and returns an error; the guest runs on as if nothing
 * happened — after its abort hook recorded the abort, when the target may already hold the
 * whole state. Once its handoff hook has succeeded the source never resumes. A target that
 * acknowledged the state and then hears nothing more asks its decide hook (the lease) whether
 * the guest is its own. Functions return
 * 0 or a negative HPVM_E* code and fill msg with one line. Nothing here is global. */
#ifndef HPVM_MIGRATE_H
#define HPVM_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chan.h"
#include "hpvm_error.h"
#include "vm.h"

#define MIG_MAX_CHANNELS 16

typedef enum mig_compress {
  MIG_COMPRESS_AUTO = 0,   /* per batch, from measured compression and link speed */
  MIG_COMPRESS_LZ4,
  MIG_COMPRESS_NONE,
} mig_compress;

typedef enum mig_phase {
  MIG_PHASE_INIT = 0,
  MIG_PHASE_COPY,
  MIG_PHASE_QUIESCE,
  MIG_PHASE_FROZEN,
  MIG_PHASE_HANDOFF,
  MIG_PHASE_DONE,          /* the guest runs on the target */
  MIG_PHASE_FAILED,        /* the guest runs on the source */
  MIG_PHASE_CANCELED,      /* the guest runs on the source */
} mig_phase;
const char *mig_phase_name(mig_phase p);   /* "init", "copy", ... */

typedef struct mig_params {
  uint32_t downtime_ms;        /* switch over when the predicted downtime is below: 0 -> 50 */
  uint64_t bandwidth_bps;      /* wire bytes per second, all channels together; 0: unlimited */
  mig_compress compress;
  bool no_delta;               /* never delta-encode re-sent pages */
  bool no_auto_converge;       /* never throttle the guest's vCPUs */
  uint64_t delta_cache_bytes;  /* source copy of sent pages for delta encoding; 0: RAM / 4 */
  uint32_t copy_timeout_ms;    /* give up the copy phase after this; 0: none */
  uint32_t quiesce_timeout_ms; /* in-flight I/O must complete within; 0: 10000 */
  uint32_t frozen_timeout_ms;  /* the target must acknowledge the state within; 0: 10000 */
  uint32_t progress_ms;        /* call the progress hook at most this often; 0: 250 */
} mig_params;

typedef struct mig_stats {
  mig_phase phase;
  unsigned round;               /* 0-based pre-copy round */
  uint64_t mem_bytes;           /* guest RAM */
  uint64_t mem_sent;            /* guest bytes covered so far, all rounds (zero pages count) */
  uint64_t round0_done;         /* guest bytes of round 0 done (for "% of memory sent") */
  uint64_t pages_zero, pages_raw, pages_lz4, pages_delta;
  uint64_t wire_bytes;          /* bytes given to the channels (frames, after encoding) */
  double wire_mbps;             /* last round: MB/s on the wire */
  double mem_mbps;              /* last round: MB/s of guest memory covered */
  double dirty_mbps;            /* last harvest: MB/s of guest memory dirtied */
  uint64_t dirty_bytes;         /* the dirty set still to send */
  uint32_t expected_downtime_ms;
  unsigned throttle;            /* % the vCPUs are slowed (auto-converge) */
  uint64_t setup_ns;            /* mig_source_new to first page sent (the caller adds its own init) */
  uint64_t total_ns;            /* start to resumed on the target */
  uint64_t downtime_ns;         /* source paused the vCPUs -> target said it resumed */
  double cpu_s;                 /* this side's CPU seconds (process) */
  double mig_cpu_s;             /* of which the migration's own threads (state machine, senders,
                                 * receivers): the guest's vCPUs and host load left out */
} mig_stats;

/* ---- Source --------------------------------------------------------------------------------- */

typedef struct mig_source_hooks {
  void *ctx;
  /* Progress: phase changes, each round, and at most every progress_ms while copying. */
  void (*progress)(void *ctx, const mig_stats *s);
  /* The target holds the complete state and the vCPUs are paused: write the ownership lease
   * naming the target. 0 when it is written (*lease_generation = the new generation): from
   * then on the source never resumes. A negative code when it is certainly not written:
   * the source resumes the guest and the migration fails. */
  int (*handoff)(void *ctx, uint64_t *lease_generation, char *msg, size_t msglen);
  /* The migration failed after the destination may have received the complete state (in
   * the frozen or handoff phase, before the handoff hook succeeded) and the guest is about
   * to resume here: record, where the destination can see it should it no longer hear this
   * side, that the migration was aborted (hpvmd notes it in the lease). 0: recorded, the
   * guest resumes. Negative: it could not be, so the guest must not resume here (the
   * destination may take it over once the lease expires): the library leaves it paused,
   * sends no ABORT and mig_source_run returns the error; the caller stops it. NULL: the
   * guest resumes without asking. */
  int (*abort)(void *ctx, char *msg, size_t msglen);
  /* Optional, for tuning and benchmarks: one line (no newline) per ACK window of the link
   * measure, per round's convergence decision and for the steps of the frozen phase. Called
   * from the library's threads; NULL: none. */
  void (*trace)(void *ctx, const char *line);
} mig_source_hooks;

typedef struct mig_source mig_source;
/* ch[0..nch) are connected, authenticated channels to the target's hpvmapp (nch 1..
 * MIG_MAX_CHANNELS); they belong to the mig_source from now on. v is running (or paused by
 * the caller: then it stays paused until the end, the same way). */
int mig_source_new(vm *v, chan **ch, unsigned nch, const mig_params *p, const mig_source_hooks *h,
                   mig_source **out, char *msg, size_t msglen);
/* Run the migration on the calling thread (plus one sender thread per channel). 0: handed
 * off, the guest runs on the target; v stays paused for good and the caller ends it.
 * Negative: the guest runs on the source as before (resumed if this paused it); msg says why
 * (HPVM_ECANCELED after mig_source_cancel, HPVM_ETIMEDOUT past a phase timeout). */
int mig_source_run(mig_source *m, char *msg, size_t msglen);
/* From any thread, before the handoff (later it is too late and changes nothing). */
void mig_source_cancel(mig_source *m);
void mig_source_stats(mig_source *m, mig_stats *out);
void mig_source_free(mig_source *m);

/* ---- Destination ---------------------------------------------------------------------------- */

typedef struct mig_dest_hooks {
  void *ctx;
  void (*progress)(void *ctx, const mig_stats *s);
  /* The source says it wrote the lease for this host at lease_generation: adopt it (hpvmd
   * checks the lease names us). 0: the guest may resume here. Negative: it may not. */
  int (*adopt)(void *ctx, uint64_t lease_generation, char *msg, size_t msglen);
  /* The state was acknowledged, then the source went silent without COMMIT or ABORT (channel
   * 0 closed or broke, or COMMIT did not come within MIG_COMMIT_WAIT_MS): it may have written
   * the lease for this host just before. Only the lease can tell: 0 when the guest is this
   * host's (hpvmd adopted the lease, or took it over after it expired): it resumes here.
   * Negative: it is not; the migration fails. NULL: it fails at once. */
  int (*decide)(void *ctx, char *msg, size_t msglen);
} mig_dest_hooks;

/* How long the destination waits for COMMIT after STATE_ACK before it asks the lease. Short:
 * a COMMIT that comes later changes nothing, the lease names this host all the same. */
#define MIG_COMMIT_WAIT_MS 3000

/* Receive into v: created (vm_create) with the VM's configuration, not started, nothing
 * loaded. 0: the guest was resumed here (vm_start done, the source told); the caller vm_waits
 * as after a normal start. Negative: the migration failed before the handoff; v holds
 * garbage (destroy it) and the guest runs on the source. The channels belong to the call. */
int mig_dest_run(vm *v, chan **ch, unsigned nch, const mig_dest_hooks *h, mig_stats *out, char *msg,
                 size_t msglen);

#endif
