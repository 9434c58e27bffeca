/* migrate.c — the source side of a live migration, as hpvmd sees it (hpvmmigrate -o).
 *
 *   hpvmmigrate --MigrateRequest--> hpvmd: local checks (the guest is On here, this host
 *        holds its lease, the target is known: a host of the shared directory whose liveness
 *        record gives its address, or ADDR:PORT), the storage proofs (a random token written
 *        next to each disk file, fingerprints of the kernel and of block devices), then
 *        AppMigrateOut to the guest's hpvmapp: target, this host's identity and the cluster
 *        secret (over the local socketpair only), the parameters, a random migration id.
 *   hpvmapp --migrate_progress--> hpvmd --Response{more}--> hpvmmigrate   (and hpvmstatus
 *        shows "migrating to B: copy round 3, 45 % sent")
 *   hpvmapp --handoff--> hpvmd: sto_lease_handover(to B); from then on this host owns
 *        nothing: the lease is no longer renewed, and the guest is never resumed here
 *        --AppHandoffResult--> hpvmapp (the library then commits on the target)
 *   hpvmapp --migrate_done--> hpvmd --final Response--> hpvmmigrate; after a success
 *        hpvmapp exits with AppExit.migrated_to and the VM shows as running on B.
 *
 * A handover whose outcome is uncertain (the write failed in a way that may have reached
 * the disk) is decided by reading the lease back: naming the target at the next generation
 * means handed over. When even that read fails, the guest is treated as handed over: it
 * stays paused here and the target adopts it only if the lease really names it — the one
 * case where a broken shared storage can stop a guest on both hosts, never run it on two.
 *
 * Failures around the handover (docs/design/migration.md "Handoff decisions"):
 *   - a handover asked for later than half the lease timeout after the target acknowledged
 *     is refused: the target, which waits a lease timeout and more, never gets a guest it
 *     already discarded;
 *   - hpvmapp --handoff{abort}--> hpvmd: the migration failed after the target may have
 *     acknowledged the state; "migrate-aborted <id>" goes into the lease (a renewal with a
 *     note) before the guest resumes here. Not written: hpvmapp is told to stop the guest,
 *     and the lease is left to expire (the target may take it over);
 *   - an hpvmd restarted meanwhile completes no migration it did not start: a handoff
 *     without a record is answered from the lease (names the target: handed over; else
 *     refused, and the abort follows).
 *
 * Offline migration (without -o) is offline.c's; -b and -d belong to it. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hpvm_testfault.h"
#include "internal.h"
#include "peer.pb-c.h"

#define MIG_CHANNELS_DEFAULT 2
#define MIG_CHANNELS_MAX 16
#define KERNEL_PRINT_MAX (64u << 20)   /* a kernel is fingerprinted whole, up to this */
#define DEVICE_PRINT_BYTES (1u << 20)  /* block devices and unwritable directories: the first MiB */
#define TOKEN_PREFIX ".hpvm-migrate-"

struct hd_migration {
  hd_vm *v;
  char id[33];
  char target[STO_NAME_MAX + 1];   /* "" until known when the target was ADDR:PORT */
  char address[160];
  hd_client *client;
  uint64_t req_id;
  char *user, *cmdline;
  char note[400];
  char **tokens;                   /* token files written for the proofs: removed at the end */
  size_t ntokens;
  bool handed_off;
  bool stopped;                    /* the abort could not be noted in the lease: hpvmapp stops it */
  bool canceled;
  bool drop_source;                /* -D: this host's registration goes instead of Not Runnable */
  chan *peer;                      /* another host forwarded the request (migfwd.c): answers go there */
};

/* ---- Fingerprints and proofs ------------------------------------------------------------------- */

int hd_fingerprint(const char *path, uint64_t max_bytes, uint8_t out[32], uint64_t *size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return HPVM_ENOENT;
  struct stat st;
  off_t end = fstat(fd, &st) == 0 && S_ISBLK(st.st_mode) ? lseek(fd, 0, SEEK_END) : st.st_size;
  *size = end > 0 ? (uint64_t)end : 0;
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, 32);
  static uint8_t buf[1 << 16];   /* only ever called on the loop thread */
  uint64_t done = 0;
  int rc = 0;
  while (done < max_bytes) {
    size_t want = max_bytes - done < sizeof buf ? (size_t)(max_bytes - done) : sizeof buf;
    ssize_t n = pread(fd, buf, want, (off_t)done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rc = HPVM_EIO;
      break;
    }
    if (n == 0) break;
    crypto_generichash_update(&h, buf, (size_t)n);
    done += (uint64_t)n;
  }
  close(fd);
  crypto_generichash_final(&h, out, 32);
  return rc;
}

int hd_random_hex(char *out, size_t nbytes) {
  uint8_t b[32];
  if (nbytes > sizeof b || getrandom(b, nbytes, 0) != (ssize_t)nbytes) return HPVM_EIO;
  for (size_t i = 0; i < nbytes; i++) sprintf(out + 2 * i, "%02x", b[i]);
  return 0;
}

static int proof_add(hd_proofs *ps, const Hpvm__StorageProof *p) {
  ProtobufCBinaryData *np = realloc(ps->packed, (ps->n + 1) * sizeof *np);
  if (!np) return HPVM_ENOMEM;
  ps->packed = np;
  size_t len = hpvm__storage_proof__get_packed_size(p);
  if (!(np[ps->n].data = malloc(len ? len : 1))) return HPVM_ENOMEM;
  hpvm__storage_proof__pack(p, np[ps->n].data);
  np[ps->n++].len = len;
  return 0;
}

void hd_proofs_free(hd_proofs *ps) {
  for (size_t i = 0; i < ps->n; i++) free(ps->packed[i].data);
  free(ps->packed);
}

static int proof_content(hd_proofs *ps, const char *what, const char *path, uint64_t max, char *why, size_t len) {
  Hpvm__StorageProof p = HPVM__STORAGE_PROOF__INIT;
  uint8_t fp[32];
  p.kind = HPVM__STORAGE_PROOF__KIND__KIND_CONTENT;
  p.path = (char *)path;
  p.what = (char *)what;
  if (hd_fingerprint(path, max, fp, &p.size)) {
    snprintf(why, len, "cannot read %s %s: %s", what, path, strerror(errno));
    return HPVM_EIO;
  }
  p.fingerprint.data = fp;
  p.fingerprint.len = sizeof fp;
  p.fingerprint_bytes = max;
  return proof_add(ps, &p);
}

/* A disk file: a random token in a hidden file of its directory proves the target sees the
 * same directory; where the directory cannot be written, the first MiB's fingerprint. */
static int proof_file(const char *token_name, hd_proofs *ps, const char *what, const char *path, char ***tokens,
                      size_t *ntokens, char *why, size_t len) {
  char dir[4096], tf[4200], token[65];
  snprintf(dir, sizeof dir, "%s", path);
  snprintf(tf, sizeof tf, "%s/%s", dirname(dir), token_name);
  struct stat st;
  if (stat(path, &st)) return snprintf(why, len, "%s %s: %s", what, path, strerror(errno)), HPVM_ENOENT;
  int fd = hd_random_hex(token, 32) ? -1 : open(tf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  bool ok = fd >= 0 && write(fd, token, 64) == 64 && fsync(fd) == 0;
  if (fd >= 0 && close(fd)) ok = false;
  if (fd >= 0) {
    char **nt = realloc(*tokens, (*ntokens + 1) * sizeof *nt);
    if (nt) *tokens = nt;
    if (nt && (nt[*ntokens] = strdup(tf))) (*ntokens)++;
  }
  if (!ok) return proof_content(ps, what, path, DEVICE_PRINT_BYTES, why, len);
  Hpvm__StorageProof p = HPVM__STORAGE_PROOF__INIT;
  p.kind = HPVM__STORAGE_PROOF__KIND__KIND_FILE_TOKEN;
  p.path = (char *)path;
  p.what = (char *)what;
  p.size = (uint64_t)st.st_size;
  p.token_file = tf;
  p.token.data = (uint8_t *)token;
  p.token.len = 64;
  return proof_add(ps, &p);
}

int hd_proofs_make(const char *token_name, const Hpvm__VmConfig *cfg, hd_proofs *ps, char ***tokens, size_t *ntokens,
                   char *why, size_t len) {
  int rc = 0;
  if (cfg->kernel && *cfg->kernel) rc = proof_content(ps, "guest kernel", cfg->kernel, KERNEL_PRINT_MAX, why, len);
  for (size_t i = 0; i < cfg->n_devices && !rc; i++) {
    const Hpvm__VmStorageDevice *dev = cfg->devices[i];
    char what[600];
    snprintf(what, sizeof what, "device %s", dev->spec && *dev->spec ? dev->spec : dev->path);
    if (dev->backing == HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_FILE)
      rc = proof_file(token_name, ps, what, dev->path, tokens, ntokens, why, len);
    else if (dev->backing == HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_DISK ||
             dev->backing == HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_LV)
      rc = proof_content(ps, what, dev->path, DEVICE_PRINT_BYTES, why, len);
  }
  return rc;
}

/* ---- The migration record ---------------------------------------------------------------------- */

static void mig_free(hd_migration *m) {
  for (size_t i = 0; i < m->ntokens; i++) {
    unlink(m->tokens[i]);
    free(m->tokens[i]);
  }
  free(m->tokens);
  if (m->peer) chan_close(m->peer);
  free(m->user);
  free(m->cmdline);
  if (m->v && m->v->mig == m) m->v->mig = NULL;
  if (m->v) hd_drain_kick(m->v->d);
  free(m);
}

const char *hd_mig_note(const hd_vm *v) {
  return v->mig ? v->mig->note : NULL;
}

void hd_mig_forget_client(hd_daemon *d, hd_client *c) {
  for (hd_vm *v = d->vms; v; v = v->next)
    if (v->mig && v->mig->client == c) v->mig->client = NULL;
}

static void fill_progress(hd_migration *m, Hpvm__MigrateProgress *p) {
  p->id = m->id;
  p->vm = m->v->name;
  p->source = (char *)sto_host(m->v->d->sto);
  if (m->target[0]) p->target = m->target;
}

static void note_from(hd_migration *m, const Hpvm__MigrateProgress *p) {
  const Hpvm__MigrateStats *s = p->stats;
  const char *to = m->target[0] ? m->target : m->address;
  if (!s || !strcmp(s->phase, "init") || !s->phase[0])
    snprintf(m->note, sizeof m->note, "migrating to host %s: %s", to, p->note && *p->note ? p->note : "init");
  else if (!strcmp(s->phase, "copy"))
    snprintf(m->note, sizeof m->note, "migrating to host %s: copy round %u, %.0f %% sent", to, s->round,
             s->mem_bytes ? 100.0 * (double)(s->round ? s->mem_bytes : s->round0_done) / (double)s->mem_bytes : 0.0);
  else snprintf(m->note, sizeof m->note, "migrating to host %s: %s", to, s->phase);
}

/* To the waiting hpvmmigrate: a progress Response (more), or nothing when it left. */
static void tell_client(hd_migration *m, Hpvm__MigrateProgress *p) {
  hd_migfwd_send(m->v->d, &m->peer, true, 0, NULL, p);
  if (!m->client) return;
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = m->req_id;
  r.more = true;
  r.body_case = HPVM__RESPONSE__BODY_MIGRATE;
  r.migrate = p;
  hd_client_send(m->client, &r.base);
}

static void finish(hd_migration *m, int err, const char *msg, Hpvm__MigrateProgress *final) {
  hd_daemon *d = m->v->d;
  Hpvm__MigrateProgress empty = HPVM__MIGRATE_PROGRESS__INIT;
  Hpvm__MigrateProgress *p = final ? final : &empty;
  fill_progress(m, p);
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = m->req_id;
  r.error = err;
  r.message = (char *)(msg ? msg : "");
  r.body_case = HPVM__RESPONSE__BODY_MIGRATE;
  r.migrate = p;
  if (m->client) hd_answer(m->client, &r, m->user, m->cmdline);
  else hd_cmdlog(d, m->user, m->cmdline, err, msg);
  hd_migfwd_send(d, &m->peer, false, err, msg, p);
  mig_free(m);
}

/* ---- hpvmapp's events -------------------------------------------------------------------------- */

void hd_mig_progress(hd_vm *v, const Hpvm__MigrateProgress *p) {
  hd_migration *m = v->mig;
  if (!m) return;
  if (!m->target[0] && p->target && *p->target) snprintf(m->target, sizeof m->target, "%s", p->target);
  note_from(m, p);
  Hpvm__MigrateProgress copy = *p;
  fill_progress(m, &copy);
  tell_client(m, &copy);
}

static void handoff_answer(hd_vm *v, Hpvm__AppHandoffResult *r) {
  Hpvm__AppCommand c = HPVM__APP_COMMAND__INIT;
  c.body_case = HPVM__APP_COMMAND__BODY_HANDOFF_RESULT;
  c.handoff_result = r;
  hd_vm_send(v, &c);
}

/* The lease names the target now: this host never renews nor releases it again, and the run
 * ends as "migrated to <target>" however hpvmapp ends. */
static void handed_over(hd_vm *v, const char *target, uint64_t gen, bool by_us) {
  v->have_lease = false;
  free(v->migrated_to);
  v->migrated_to = strdup(target);
  if (v->mig) {
    v->mig->handed_off = true;
    snprintf(v->mig->note, sizeof v->mig->note, "migrating to host %s: handing over", target);
  }
  if (by_us)
    hd_log(v->d, HD_INFO, "VM %s: lease handed over to host %s (generation %llu)", v->name, target,
           (unsigned long long)gen);
}

/* hpvmd restarted while the guest was frozen in the handoff: this hpvmd did not start the
 * migration and completes none. Either the previous one wrote the lease for the target (or
 * the target took an expired lease over): the guest is the target's; or it did not: refused,
 * and hpvmapp's abort request that follows notes the abort before the guest resumes here. */
static int handoff_without_record(hd_vm *v, const Hpvm__AppHandoff *h, uint64_t *gen, char *msg, size_t len) {
  hd_daemon *d = v->d;
  sto_lease l;
  if (sto_lease_read(d->sto, v->name, &l))
    return snprintf(msg, len, "hpvmd restarted during the migration and cannot read the lease of VM %s (%s)", v->name,
                    sto_error(d->sto)), HPVM_EIO;
  if (l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD && !strcmp(l.owner, h->target_host)) {
    hd_log(d, HD_WARN, "VM %s: hpvmd restarted during its migration; the lease names host %s (generation %llu): the "
           "guest is that host's", v->name, h->target_host, (unsigned long long)l.lease_generation);
    *gen = l.lease_generation;
    char why[900];   /* what hd_mig_done does after a handover this hpvmd saw */
    if (hd_offline_register_move(d, v->name, h->target_host, false, 0, why, sizeof why))
      hd_log(d, HD_WARN, "VM %s: its registration could not be moved to host %s: %s", v->name, h->target_host, why);
    return 0;
  }
  return snprintf(msg, len, "hpvmd restarted during the migration of VM %s to host %s and does not complete a "
                  "migration it did not start; try again", v->name, h->target_host), HPVM_ESTATE;
}

/* The handoff hook's request: write the lease naming the target. */
static void handoff(hd_vm *v, const Hpvm__AppHandoff *h) {
  hd_daemon *d = v->d;
  hd_migration *m = v->mig;
  Hpvm__AppHandoffResult r = HPVM__APP_HANDOFF_RESULT__INIT;
  char msg[900] = "";
  int rc = 0;
  uint64_t gen = 0, window_ms = d->o.lease_timeout_ms / 2;
  hpvm_test_fault("hpvmd-src-handoff");   /* TEST ONLY: hpvmd dies (or stalls) in the frozen phase */
  if (!h->target_host || !*h->target_host) {
    rc = HPVM_EINVAL;
    snprintf(msg, sizeof msg, "the handoff names no target host");
  } else if (!m) {
    rc = handoff_without_record(v, h, &gen, msg, sizeof msg);
  } else if (m->canceled) {
    rc = HPVM_ECANCELED;
    snprintf(msg, sizeof msg, "the migration was canceled");
  } else if (!v->have_lease) {
    rc = HPVM_ESTATE;
    snprintf(msg, sizeof msg, "host %s does not hold the lease of VM %s", sto_host(d->sto), v->name);
  } else if (h->acked_mono_ns && hd_mono_ns() > h->acked_mono_ns + window_ms * 1000000) {
    /* The target stops waiting for the lease a lease timeout after it acknowledged: a
     * handover this late could reach a target that discarded the guest. */
    rc = HPVM_ETIMEDOUT;
    snprintf(msg, sizeof msg, "too late to hand VM %s over: the target acknowledged the state more than %llu ms ago",
             v->name, (unsigned long long)window_ms);
  } else {
    snprintf(m->target, sizeof m->target, "%s", h->target_host);
    uint64_t next_gen = v->lease.lease_generation + 1;
    rc = sto_lease_handover(d->sto, v->name, &v->lease, h->target_host);
    if (rc) snprintf(msg, sizeof msg, "%s", sto_error(d->sto));
    if (rc == 0) {
      gen = v->lease.lease_generation;
    } else {
      /* Did it reach the disk anyway? The lease says. */
      sto_lease l;
      int rr = sto_lease_read(d->sto, v->name, &l);
      if (rr == 0 && l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD && !strcmp(l.owner, h->target_host) &&
          l.lease_generation == next_gen) {
        hd_log(d, HD_WARN, "VM %s: the handover reported %s, but the lease names host %s: handed over", v->name, msg,
               h->target_host);
        rc = 0;
        gen = next_gen;
      } else if (rr) {
        hd_log(d, HD_ERR, "VM %s: the handover's outcome is unknown (%s) and the lease cannot be read (%s): the guest "
               "stays paused here, host %s adopts it only if the lease names it", v->name, msg, sto_error(d->sto),
               h->target_host);
        rc = 0;
        gen = next_gen;
      }
    }
    if (rc == 0) hpvm_test_fault("hpvmd-src-handed-over");   /* TEST ONLY: dies after the lease write */
  }
  if (rc == 0) {
    r.lease_generation = gen;
    handed_over(v, h->target_host, gen, m != NULL);
  } else {
    hd_log(d, HD_WARN, "VM %s: lease not handed over to host %s: %s", v->name, h->target_host ? h->target_host : "?",
           msg);
    r.error = rc;
    r.message = msg;
  }
  handoff_answer(v, &r);
}

/* The abort hook's request: the migration failed after the target may have acknowledged the
 * whole state, and the guest is about to resume here. The target may no longer hear the
 * source and decides from the lease, so the abort goes into it first ("migrate-aborted <id>",
 * a renewal with a note). Written: the guest may resume. Not written: it must not (the target
 * may take the lease over once it expires), so hpvmapp is told to stop it, and this host lets
 * the lease go unrenewed. */
static void abort_note(hd_vm *v, const Hpvm__AppHandoff *h) {
  hd_daemon *d = v->d;
  Hpvm__AppHandoffResult r = HPVM__APP_HANDOFF_RESULT__INIT;
  char msg[900] = "", note[STO_LEASE_NOTE_MAX];
  snprintf(note, sizeof note, "migrate-aborted %.100s", h->id ? h->id : "");
  int rc = 0;
  if (!v->have_lease) {
    rc = HPVM_ESTATE;
    snprintf(msg, sizeof msg, "host %s no longer holds the lease of VM %s, so the abort cannot be noted there", sto_host(d->sto),
             v->name);
  } else if (hpvm_test_fault("hpvmd-abort-note")) {
    rc = HPVM_EIO;
    snprintf(msg, sizeof msg, "the shared storage refused the lease write (test fault)");
  } else if ((rc = sto_lease_renew_note(d->sto, v->name, &v->lease, note))) {
    snprintf(msg, sizeof msg, "%s", sto_error(d->sto));
    sto_lease l;   /* an uncertain write: the lease says whether it is there */
    if (rc != HPVM_EBUSY && sto_lease_read(d->sto, v->name, &l) == 0 && !strcmp(l.note, note) &&
        l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD && !strcmp(l.owner, sto_host(d->sto)))
      rc = 0, v->lease = l;
  }
  if (rc == 0) {
    v->lease_ok_mono_ns = v->lease.renew_mono_ns;
    hd_vm_lease_tell(v);
    hd_log(d, HD_WARN, "VM %s: migration %s to host %s failed after the target may have acknowledged the state; noted in "
           "the lease, the guest resumes here", v->name, h->id, h->target_host ? h->target_host : "?");
  } else {
    v->have_lease = false;   /* not released either: the target may take it over once it expires */
    hd_log(d, HD_ERR, "VM %s: the abort of migration %s cannot be noted in the lease (%s): the guest must not resume "
           "here; stopping it", v->name, h->id, msg);
    r.error = rc;
    r.stop = true;
    r.message = msg;
    if (v->mig) v->mig->stopped = true;
  }
  handoff_answer(v, &r);
}

void hd_mig_handoff(hd_vm *v, const Hpvm__AppHandoff *h) {
  if (h->abort) abort_note(v, h);
  else handoff(v, h);
}

void hd_mig_done(hd_vm *v, const Hpvm__AppMigrateDone *md) {
  hd_migration *m = v->mig;
  if (!m) return;
  hd_daemon *d = v->d;
  Hpvm__MigrateProgress final = HPVM__MIGRATE_PROGRESS__INIT;
  if (md->final) final = *md->final;
  if (!m->target[0] && final.target && *final.target) snprintf(m->target, sizeof m->target, "%s", final.target);
  if (m->handed_off) {
    if (md->error)
      hd_log(d, HD_ERR, "VM %s: the migration to host %s failed after the handover (%s): the guest is host %s's now",
             v->name, m->target, md->message, m->target);
    free(v->migrated_to);
    v->migrated_to = strdup(m->target);
    /* The source's figures (bench/cluster/bench_drain reads them: a drain has no hpvmmigrate). */
    const Hpvm__MigrateStats *s = final.stats;
    hd_log(d, HD_INFO, "VM %s: migrated to host %s (migration %s, total %.3f s, downtime %.1f ms)", v->name, m->target,
           m->id, s ? (double)s->total_ns / 1e9 : 0.0, s ? (double)s->downtime_ns / 1e6 : 0.0);
    /* As HPVM does: the target is where it may start now, this host's copy is Not Runnable
     * ("migrated to B") or, with -D, unregistered. After the guest resumed there, so the
     * configuration write is not part of the downtime. */
    char why[900];
    if (hd_offline_register_move(d, v->name, m->target, m->drop_source, 0, why, sizeof why))
      hd_log(d, HD_WARN, "VM %s: its registration could not be moved to host %s: %s", v->name, m->target, why);
  } else if (md->error && m->stopped) {
    hd_log(d, HD_ERR, "VM %s: migration %s to host %s failed and the guest is stopped here: %s", v->name, m->id,
           m->target, md->message);
  } else if (md->error) {
    hd_log(d, HD_WARN, "VM %s: migration %s%s%s not done: %s; the guest runs on here", v->name, m->id,
           m->target[0] ? " to host " : "", m->target, md->message);
  } else {
    hd_log(d, HD_INFO, "VM %s: host %s accepts it (migration %s, check only)", v->name, m->target, m->id);
  }
  finish(m, md->error, md->message, &final);
}

void hd_mig_abort(hd_vm *v, const char *reason) {
  hd_migration *m = v->mig;
  if (!m) return;
  char msg[1400];
  Hpvm__MigrateProgress p = HPVM__MIGRATE_PROGRESS__INIT;
  if (m->handed_off) {
    snprintf(msg, sizeof msg, "hpvmapp ended after handing VM %s over to host %s (%s); the lease makes it that host's: "
             "check it there with hpvmstatus", v->name, m->target, reason);
    p.note = msg;
  } else {
    snprintf(msg, sizeof msg, "VM %s ended during the migration: %s", v->name, reason);
  }
  finish(m, m->handed_off ? 0 : HPVM_ESTATE, m->handed_off ? "" : msg, &p);
}

/* ---- The request ------------------------------------------------------------------------------- */

static void refuse(hd_daemon *d, const hd_req *q, int err, const char *msg) {
  if (q->peer && *q->peer) {   /* forwarded by another host: the answer goes back there */
    hd_cmdlog(d, q->user, q->cmdline, err, msg);
    return hd_migfwd_send(d, q->peer, false, err, msg, NULL);
  }
  hd_answer_error(q->c, q->r->id, q->user, q->cmdline, err, "%s", msg);
}

static void cancel(hd_daemon *d, const hd_req *q, const char *name) {
  hd_vm *v = hd_vm_find(d, name);
  hd_migration *m = v ? v->mig : NULL;
  char msg[600];
  if (!m) {
    snprintf(msg, sizeof msg, "no migration of VM %s is in progress on host %s%s", name, sto_host(d->sto),
             v && v->incoming ? " (it is coming in here: cancel it on the source host)" : "");
    return refuse(d, q, HPVM_ESTATE, msg);
  }
  if (m->handed_off) {
    snprintf(msg, sizeof msg, "too late to cancel: VM %s is being handed over to host %s", name, m->target);
    return refuse(d, q, HPVM_ESTATE, msg);
  }
  Hpvm__AppCommand c = HPVM__APP_COMMAND__INIT;
  c.body_case = HPVM__APP_COMMAND__BODY_MIGRATE_CANCEL;
  c.migrate_cancel = true;
  if (hd_vm_send(v, &c)) {
    snprintf(msg, sizeof msg, "VM %s: hpvmapp does not answer", name);
    return refuse(d, q, HPVM_EIO, msg);
  }
  m->canceled = true;
  hd_log(d, HD_INFO, "%s cancels the migration of VM %s", q->user, name);
  snprintf(msg, sizeof msg, "cancel requested: VM %s stays on host %s", name, sto_host(d->sto));
  if (q->peer && *q->peer) {   /* typed on another host */
    hd_cmdlog(d, q->user, q->cmdline, 0, NULL);
    return hd_migfwd_send(d, q->peer, false, 0, msg, NULL);
  }
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = q->r->id;
  r.message = msg;
  hd_answer(q->c, &r, q->user, q->cmdline);
}

/* "10.0.0.5:7410", "[fd00::5]:7410": an address; anything else is a host name. */
static bool is_address(const char *t) {
  const char *colon = strrchr(t, ':');
  if (!colon || !colon[1]) return false;
  for (const char *p = colon + 1; *p; p++)
    if (*p < '0' || *p > '9') return false;
  return true;
}

/* The target's address and the keys of every host we might reach. */
static int resolve_target(hd_daemon *d, const char *target, hd_migration *m, char *why, size_t len) {
  if (is_address(target)) {
    snprintf(m->address, sizeof m->address, "%s", target);
    if (d->o.listen && !strcmp(target, d->o.listen))
      return snprintf(why, len, "%s is this host's own address", target), HPVM_EINVAL;
    return 0;
  }
  char sub[600];
  if (sto_host_name_check(target, sub, sizeof sub))
    return snprintf(why, len, "-h %s: neither a host name nor ADDR:PORT (%s)", target, sub), HPVM_EINVAL;
  int rc = hd_peer_resolve(d, target, m->address, sizeof m->address, why, len);
  if (rc) return rc;
  snprintf(m->target, sizeof m->target, "%s", target);
  return 0;
}

static int trusted_hosts(hd_daemon *d, Hpvm__AppHostKey **keys, Hpvm__AppHostKey ***ptrs, size_t *n, uint8_t (**raw)[64]) {
  char **names = NULL;
  size_t nn = 0;
  *n = 0;
  int rc = sto_host_list(d->sto, &names, &nn);
  if (rc) return rc;
  *keys = calloc(nn ? nn : 1, sizeof **keys);
  *ptrs = calloc(nn ? nn : 1, sizeof **ptrs);
  *raw = calloc(nn ? nn : 1, sizeof **raw);
  for (size_t i = 0; i < nn; i++) {
    if (*keys && *ptrs && *raw && sto_host_key_read(d->sto, names[i], (*raw)[*n], (*raw)[*n] + 32) == 0) {
      Hpvm__AppHostKey *k = &(*keys)[*n];
      hpvm__app_host_key__init(k);
      k->host = names[i];
      names[i] = NULL;
      k->sign_pk.data = (*raw)[*n];
      k->sign_pk.len = 32;
      k->kx_pk.data = (*raw)[*n] + 32;
      k->kx_pk.len = 32;
      (*ptrs)[*n] = k;
      (*n)++;
    }
    free(names[i]);
  }
  free(names);
  return *keys && *ptrs && *raw ? 0 : HPVM_ENOMEM;
}

/* Everything that must hold on this host before it asks hpvmapp. 0, or an error with why. */
static int local_checks(hd_daemon *d, const Hpvm__MigrateRequest *r, hd_vm **vp, char *why, size_t len) {
  const char *name = r->name;
  hd_vm *v = hd_vm_find(d, name);
  bool running = v && hd_vm_running(v);
  *vp = v;
  sto_lease l;
  bool other = sto_lease_read(d->sto, name, &l) == 0 && l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD &&
               strcmp(l.owner, sto_host(d->sto));
  if (r->boot_after || r->stop_first)
    return snprintf(why, len, "-b and -d belong to offline migration (without -o); a live migration keeps VM %s "
                    "running", name), HPVM_EINVAL;
  if (v && v->incoming)
    return snprintf(why, len, "VM %s is migrating in to this host; wait until it runs here", name), HPVM_ESTATE;
  if (!running) {
    if (other) return snprintf(why, len, "VM %s runs on host %s: migrate it from there", name, l.owner), HPVM_ESTATE;
    return snprintf(why, len, "VM %s is %s: only a running guest migrates live", name,
                    v ? hd_state_name(v->state) : "Off"), HPVM_ESTATE;
  }
  if (v->mig)
    return snprintf(why, len, "VM %s is already migrating (%s); hpvmmigrate -P %s --cancel stops it", name, v->mig->note,
                    name), HPVM_EBUSY;
  if (v->state != HPVM__VM_RUN_STATE__VM_RUN_STATE_ON)
    return snprintf(why, len, "VM %s is %s: only an On guest migrates live", name, hd_state_name(v->state)), HPVM_ESTATE;
  if (!v->have_lease || other)
    return snprintf(why, len, "host %s does not hold the lease of VM %s%s%s", sto_host(d->sto), name,
                    other ? ": host " : "", other ? l.owner : ""), HPVM_ESTATE;
  if (!v->app) return snprintf(why, len, "VM %s: hpvmapp does not answer", name), HPVM_EIO;
  if (r->channels > MIG_CHANNELS_MAX)
    return snprintf(why, len, "--channels %u: give 1 to %u", r->channels, MIG_CHANNELS_MAX), HPVM_EINVAL;
  return 0;
}

void hd_cmd_migrate(hd_daemon *d, const hd_req *q) {
  const Hpvm__MigrateRequest *r = q->r->migrate;
  if (!r->name || !*r->name) return refuse(d, q, HPVM_EINVAL, "hpvmmigrate: no VM name; give one with -P NAME");
  if (r->online && !r->cancel && (!r->target || !*r->target))
    return refuse(d, q, HPVM_EINVAL, "hpvmmigrate: no target host; give one with -h HOST");
  /* Typed here for a guest another host runs: that host migrates it, or cancels its migration
   * (migfwd.c). */
  hd_vm *here = hd_vm_find(d, r->name);
  sto_lease owner;
  if (q->c && (r->online || r->cancel) && !(here && (hd_vm_running(here) || here->incoming)) &&
      sto_lease_read(d->sto, r->name, &owner) == 0 && owner.state == HPVM__LEASE_STATE__LEASE_STATE_HELD &&
      strcmp(owner.owner, sto_host(d->sto)))
    return hd_migfwd_client(d, q, owner.owner);
  if (r->cancel) return cancel(d, q, r->name);
  if (!r->online) return hd_migrate_offline(d, q);   /* offline.c: a stopped guest's registration moves */
  char why[1500];
  Hpvm__VmConfig *cfg = NULL;
  int rc = sto_vm_load(d->sto, r->name, &cfg);
  if (rc) return refuse(d, q, rc, sto_error(d->sto));
  hd_vm *v;
  hd_migration *m = calloc(1, sizeof *m);
  hd_proofs ps = {0};
  Hpvm__AppHostKey *keys = NULL, **kptrs = NULL;
  uint8_t(*raw)[64] = NULL;
  size_t nkeys = 0;
  if (!m) rc = HPVM_ENOMEM, snprintf(why, sizeof why, "hpvmd is out of memory");
  if (!rc) rc = local_checks(d, r, &v, why, sizeof why);
  if (!rc && hd_vm_online_migration_disabled(cfg))   /* HP Integrity VM refuses it the same way */
    rc = HPVM_ESTATE, snprintf(why, sizeof why, "VM %s has online_migration=disabled: it does not migrate live; "
                               "hpvmmodify -P %s -x online_migration=enabled allows it, or stop it and migrate it "
                               "offline (hpvmmigrate -P %s -h %s without -o)", r->name, r->name, r->name, r->target);
  if (!rc) {
    m->v = v;
    rc = hd_random_hex(m->id, 16);
    if (rc) snprintf(why, sizeof why, "no randomness for a migration id");
  }
  if (!rc) rc = resolve_target(d, r->target, m, why, sizeof why);
  if (!rc && (rc = trusted_hosts(d, &keys, &kptrs, &nkeys, &raw)))
    snprintf(why, sizeof why, "cannot read the hosts' keys: %s", sto_error(d->sto));
  char token_name[64];
  snprintf(token_name, sizeof token_name, TOKEN_PREFIX "%s", m->id);
  if (!rc) rc = hd_proofs_make(token_name, cfg, &ps, &m->tokens, &m->ntokens, why, sizeof why);
  if (!rc) {
    Hpvm__AppIdentity me = HPVM__APP_IDENTITY__INIT;
    me.host = d->ident.host;
    me.sign_pk = (ProtobufCBinaryData){32, d->ident.sign_pk};
    me.sign_sk = (ProtobufCBinaryData){64, d->ident.sign_sk};
    me.kx_pk = (ProtobufCBinaryData){32, d->ident.kx_pk};
    me.kx_sk = (ProtobufCBinaryData){32, d->ident.kx_sk};
    Hpvm__MigrateRequest params = *r;
    if (!params.channels) params.channels = MIG_CHANNELS_DEFAULT;
    Hpvm__AppMigrateOut out = HPVM__APP_MIGRATE_OUT__INIT;
    out.id = m->id;
    out.target_host = m->target;
    out.target_address = m->address;
    out.n_trusted = nkeys;
    out.trusted = kptrs;
    out.me = &me;
    out.cluster_secret = (ProtobufCBinaryData){32, d->cluster_secret};
    out.config = cfg;
    out.params = &params;
    out.n_proofs = ps.n;
    out.proofs = ps.packed;
    out.lease_timeout_ms = d->o.lease_timeout_ms;
    Hpvm__AppCommand c = HPVM__APP_COMMAND__INIT;
    c.body_case = HPVM__APP_COMMAND__BODY_MIGRATE_OUT;
    c.migrate_out = &out;
    if ((rc = hd_vm_send(v, &c))) snprintf(why, sizeof why, "VM %s: hpvmapp does not answer", r->name);
  }
  for (size_t i = 0; i < nkeys; i++) free(keys[i].host);
  free(keys), free(kptrs);
  if (raw) sodium_memzero(raw, nkeys * sizeof *raw);
  free(raw);
  hd_proofs_free(&ps);
  sto_vm_free(cfg);
  if (rc) {
    if (m) mig_free(m);
    return refuse(d, q, rc, why);
  }
  m->client = q->c;
  m->req_id = q->r->id;
  if (q->peer) m->peer = *q->peer, *q->peer = NULL;
  m->drop_source = r->delete_source;
  m->user = strdup(q->user ? q->user : "hpvmd");
  m->cmdline = q->cmdline ? strdup(q->cmdline) : NULL;
  v->mig = m;
  snprintf(m->note, sizeof m->note, "migrating to host %s: init", m->target[0] ? m->target : m->address);
  hd_log(d, HD_INFO, "%s migrates VM %s to %s%s%s (%s, migration %s%s)", q->user, r->name, m->target[0] ? "host " : "",
         m->target[0] ? m->target : m->address, "", m->address, m->id, r->check_only ? ", check only" : "");
  Hpvm__MigrateProgress p = HPVM__MIGRATE_PROGRESS__INIT;
  fill_progress(m, &p);
  p.note = m->note;
  tell_client(m, &p);
}
