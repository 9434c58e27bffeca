/* peer.c — the peer listener (--listen ADDR:PORT) and the target side of a live migration.
 *
 * Other hosts connect over TCP. Each accepted connection goes to a worker thread (libuv's
 * pool) for the blocking part: the authenticated handshake (chan_server: the peer must prove
 * the keys registered under its name in DIR/hosts/<peer>/key and know the cluster secret,
 * ident.c) and the first PeerRequest (proto/peer.proto). The answer is decided on the loop
 * thread, where the VM table lives, and sent from there (one small frame into an idle
 * socket). A peer that fails the handshake is logged and gets nothing.
 *
 * An incoming migration, as this host sees it (hd_incoming, one per VM at most):
 *
 *   offer on channel 0 --checks fail--> refused (answer with the reason), forgotten
 *        | checks pass: answer 0 (check only: done)
 *        v
 *   JOINING --join i (same source, same id)--> ... all N channels --> spawn hpvmapp
 *        | JOIN_TIMEOUT_MS without them: refused on channel 0, forgotten       --incoming
 *        v                                                           (state INCOMING)
 *   SPAWNED --hello--> ready on channel 0; the N channels' keys and sequence numbers go to
 *        |             hpvmapp (AppIncoming), hpvmd closes its copies of the sockets
 *        v
 *   RUNNING --adopt(gen)--> sto_lease_adopt: the lease names us at gen --> the guest is
 *        |                  this host's (state ON, lease renewed by hd_tick), forgotten here
 *        +--decide (the source went silent after the state was acknowledged)--> DECIDING:
 *        |        the lease is polled (names us: adopt; aborted, free, another's: discard;
 *        |        expired: take over; still the source's after its timeout: discard)
 *        +--hpvmapp ends before adopting (source gone, canceled, refused)--> forgotten: the
 *                 guest still runs on the source (super.c finalize says why)
 *
 * Checks before anything moves (offer_check): the wire format versions; the VM is the same
 * configuration in our view of the shared directory (uuid and generation) and its lease is
 * held by the offering host; no guest of that name runs (or comes in) here; the kernel and
 * every backing store exist here and are the same ones (StorageProof: a token the source
 * wrote next to each disk file must read back here, sizes and fingerprints must match); the
 * memory the running guests commit plus this one fits the host; the CPU entitlements
 * guaranteed here (the host scheduler's admitted vCPUs) plus this guest's fit its cores.
 * Warnings (more vCPUs than cores, less memory available now than the guest has) refuse
 * unless the source forces them (hpvmmigrate -F). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "peer.pb-c.h"
#include "vm.h"
#include "wire.h"

#define PEER_PROTOCOL_VERSION 1
#define PEER_TIMEOUT_MS 10000
#define JOIN_TIMEOUT_MS 30000
#define PEER_CONNS_MAX 32
#define INCOMING_MAX_CHANNELS 16

typedef struct hd_conn {
  uv_work_t work;
  hd_daemon *d;
  int fd;
  chan_config cfg;
  chan *ch;
  Hpvm__PeerRequest *req;
  int rc;
  char from[96];
  char msg[800];
} hd_conn;

enum incoming_state { IN_INVALID = 0, IN_JOINING, IN_SPAWNED, IN_RUNNING };

struct hd_incoming {
  hd_daemon *d;
  enum incoming_state state;
  char id[40];
  char *vm;
  char source[STO_NAME_MAX + 1];
  uint64_t offer_gen;              /* the source's lease generation when the offer was checked */
  unsigned nch, joined;
  chan *ch[INCOMING_MAX_CHANNELS];
  Hpvm__VmConfig *cfg;
  uv_timer_t *timer;               /* joining: the timeout; deciding: the lease polls */
  hd_vm *v;
  char note[300];
  /* The source went silent after the state was acknowledged: the lease decides. */
  bool deciding;
  sto_observer obs;
  uint64_t decide_start_ns, decide_until_ns;
  hd_incoming *next;
};

/* ---- Answers ---------------------------------------------------------------------------------- */

static int answer(hd_daemon *d, chan *ch, int err, const char *message, char **warnings, size_t nwarn, bool ready) {
  Hpvm__PeerAnswer a = HPVM__PEER_ANSWER__INIT;
  a.error = err;
  a.message = (char *)(message ? message : "");
  a.warnings = warnings;
  a.n_warnings = nwarn;
  a.host = (char *)sto_host(d->sto);
  a.ready = ready;
  char msg[600];
  int rc = chan_send(ch, &a.base, NULL, 0, PEER_TIMEOUT_MS, msg, sizeof msg);
  if (rc) hd_log(d, HD_WARN, "cannot answer host %s: %s", chan_peer(ch), msg);
  return rc;
}

/* ---- The incoming table ----------------------------------------------------------------------- */

static hd_incoming *incoming_by_id(hd_daemon *d, const char *id) {
  for (hd_incoming *in = d->incomings; in; in = in->next)
    if (!strcmp(in->id, id)) return in;
  return NULL;
}

static void on_timer_closed(uv_handle_t *h) {
  free(h);
}

/* Forget it: the channels still held are closed (the source sees the end), the VM is no
 * longer coming in. */
static void incoming_free(hd_incoming *in) {
  hd_daemon *d = in->d;
  for (hd_incoming **p = &d->incomings; *p; p = &(*p)->next)
    if (*p == in) {
      *p = in->next;
      break;
    }
  for (unsigned i = 0; i < in->nch; i++) chan_close(in->ch[i]);
  if (in->timer) uv_close((uv_handle_t *)in->timer, on_timer_closed);
  if (in->v && in->v->incoming == in) in->v->incoming = NULL;
  sto_vm_free(in->cfg);
  free(in->vm);
  free(in);
}

/* Refuse on channel 0 (when we still hold it), then forget. */
static void incoming_refuse(hd_incoming *in, int err, const char *why) {
  hd_log(in->d, HD_WARN, "incoming migration %s of VM %s from host %s: %s", in->id, in->vm, in->source, why);
  if (in->ch[0]) answer(in->d, in->ch[0], err, why, NULL, 0, false);
  incoming_free(in);
}

const char *hd_incoming_note(const hd_vm *v) {
  return v->incoming ? v->incoming->note : NULL;
}

/* ---- Offer checks ----------------------------------------------------------------------------- */

static bool same_proof_file(const char *path, const Hpvm__StorageProof *p, const char *me, const char *src,
                            char *why, size_t len) {
  struct stat st;
  if (stat(path, &st)) {
    snprintf(why, len, "%s %s does not exist on host %s", p->what, path, me);
    return false;
  }
  if ((uint64_t)st.st_size != p->size && !S_ISBLK(st.st_mode)) {
    snprintf(why, len, "%s %s is %llu bytes on host %s and %llu on host %s: not the same file", p->what, path,
             (unsigned long long)st.st_size, me, (unsigned long long)p->size, src);
    return false;
  }
  return true;
}

static int check_proof(hd_daemon *d, const char *src, const Hpvm__StorageProof *p, char *why, size_t len) {
  const char *me = sto_host(d->sto);
  if (!p->path || p->path[0] != '/') return snprintf(why, len, "a storage proof without an absolute path"), HPVM_EINVAL;
  if (!same_proof_file(p->path, p, me, src, why, len)) return HPVM_ENOENT;
  if (p->kind == HPVM__STORAGE_PROOF__KIND__KIND_FILE_TOKEN) {
    char token[128];
    int fd = p->token_file ? open(p->token_file, O_RDONLY | O_CLOEXEC) : -1;
    ssize_t n = fd >= 0 ? read(fd, token, sizeof token) : -1;
    if (fd >= 0) close(fd);
    if (n < 0 || (size_t)n != p->token.len || memcmp(token, p->token.data, p->token.len)) {
      snprintf(why, len, "host %s does not see the storage of %s %s as host %s does (%s %s): a same-named file, "
               "not shared storage; put it on storage both hosts mount at the same path", me, p->what, p->path, src,
               p->token_file ? p->token_file : "its token", n < 0 ? "is missing here" : "differs here");
      return HPVM_ENOENT;
    }
    return 0;
  }
  if (p->kind == HPVM__STORAGE_PROOF__KIND__KIND_CONTENT) {
    uint8_t fp[32];
    uint64_t size;
    if (hd_fingerprint(p->path, p->fingerprint_bytes, fp, &size)) {
      snprintf(why, len, "cannot read %s %s on host %s: %s", p->what, p->path, me, strerror(errno));
      return HPVM_EIO;
    }
    if (size != p->size || p->fingerprint.len != sizeof fp || memcmp(fp, p->fingerprint.data, sizeof fp)) {
      snprintf(why, len, "%s %s on host %s is not the same as on host %s (%s differ)", p->what, p->path, me, src,
               size != p->size ? "sizes" : "contents");
      return HPVM_ENOENT;
    }
    return 0;
  }
  return snprintf(why, len, "a storage proof of an unknown kind (%d): a newer source host?", p->kind), HPVM_ENOTSUP;
}

static uint64_t vm_memory_here(hd_daemon *d, hd_vm *v) {
  if (v->memory_bytes) return v->memory_bytes;
  Hpvm__VmConfig *c = NULL;
  if (sto_vm_load(d->sto, v->name, &c) == 0) v->memory_bytes = c->memory_bytes;
  sto_vm_free(c);
  return v->memory_bytes;
}

uint64_t hd_mem_available(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  char line[200];
  unsigned long long kb = 0;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
  if (f) fclose(f);
  return (uint64_t)kb << 10;
}

static int check_capacity(hd_daemon *d, const Hpvm__VmConfig *c, char *why, size_t len) {
  const char *me = sto_host(d->sto);
  if (hd_drain_refuses_guests(d, why, len)) return HPVM_EBUSY;   /* draining or in maintenance: nothing comes in */
  uint64_t host_mem = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE), committed = 0;
  unsigned nrun = 0;
  for (hd_vm *v = d->vms; v; v = v->next)
    if (hd_vm_running(v) || v->incoming) committed += vm_memory_here(d, v), nrun++;
  if (committed + c->memory_bytes > host_mem) {
    snprintf(why, len, "not enough memory on host %s: VM %s has %llu MB and the %u guest(s) here already have %llu MB "
             "of its %llu MB", me, c->name, (unsigned long long)(c->memory_bytes >> 20), nrun,
             (unsigned long long)(committed >> 20), (unsigned long long)(host_mem >> 20));
    return HPVM_ERANGE;
  }
  unsigned ent, cap;
  int rc = hd_entitlement_of(c, &ent, &cap, why, len);
  if (rc) return rc;
  vm_sched *s;
  char msg[600];
  if (vm_sched_open(d->o.state_dir, NULL, &s, msg, sizeof msg)) {
    snprintf(why, len, "host %s cannot read its CPU scheduler: %s", me, msg);
    return HPVM_EIO;
  }
  static vm_sched_entry list[VM_SCHED_MAX_VCPUS];   /* the loop thread's only: no reentry */
  unsigned n = vm_sched_list(s, list, VM_SCHED_MAX_VCPUS), cores = vm_sched_ncores(s), reserved = 0;
  vm_sched_close(s);
  for (unsigned i = 0; i < n && i < VM_SCHED_MAX_VCPUS; i++) reserved += list[i].usage.entitlement;
  if (reserved + c->vcpus * ent > cores * 100u || n + c->vcpus > VM_SCHED_MAX_VCPUS) {
    snprintf(why, len, "not enough CPU entitlement on host %s: VM %s needs %u vCPU(s) x %u %%, and the %u vCPU(s) "
             "running here are guaranteed %u %% of its %u core(s) (%u %%)", me, c->name, c->vcpus, ent, n, reserved,
             cores, cores * 100u);
    return HPVM_EBUSY;
  }
  return 0;
}

static void add_warning(char ***w, size_t *n, const char *text) {
  char **nw = realloc(*w, (*n + 1) * sizeof **w);
  if (!nw) return;
  *w = nw;
  if ((nw[*n] = strdup(text))) (*n)++;
}

static void free_warnings(char **w, size_t n) {
  for (size_t i = 0; i < n; i++) free(w[i]);
  free(w);
}

/* The offered configuration must be the one in this host's own shared directory: same uuid and
 * generation. 0, or an error with why. */
int hd_peer_same_config(hd_daemon *d, const Hpvm__VmConfig *c, char *why, size_t len) {
  const char *me = sto_host(d->sto);
  Hpvm__VmConfig *mine = NULL;
  int rc = sto_vm_load(d->sto, c->name, &mine);
  if (rc == HPVM_ENOENT)
    return snprintf(why, len, "host %s has no VM %s in its shared directory %s: do the hosts share it?", me, c->name,
                    d->o.shared_dir), rc;
  if (rc) return snprintf(why, len, "host %s: %s", me, sto_error(d->sto)), rc;
  bool same = !strcmp(mine->uuid, c->uuid) && mine->config_generation == c->config_generation;
  sto_vm_free(mine);
  if (!same)
    return snprintf(why, len, "host %s's shared directory %s holds another configuration of VM %s (uuid or generation "
                    "differs): do the hosts share it? (or it was modified meanwhile: try again)", me, d->o.shared_dir,
                    c->name), HPVM_EBUSY;
  return 0;
}

/* Everything this host must agree to before a guest moves here. 0, or an error with why. */
static int offer_check(hd_daemon *d, const char *src, const Hpvm__MigrateOffer *o, char ***warn, size_t *nwarn,
                       char *why, size_t len) {
  const char *me = sto_host(d->sto);
  const Hpvm__VmConfig *c = o->config;
  char sub[900];
  if (o->protocol_version != PEER_PROTOCOL_VERSION)
    return snprintf(why, len, "host %s speaks migration protocol %u and host %s %u: run the same hpvm version", src,
                    o->protocol_version, me, PEER_PROTOCOL_VERSION), HPVM_ENOTSUP;
  if (o->vmstate_version >> 16 != WIRE_VERSION_MAJOR || (o->vmstate_version & 0xffff) > WIRE_VERSION_MINOR)
    return snprintf(why, len, "host %s sends VM state format %u.%u, host %s reads %u.%u: upgrade host %s", src,
                    o->vmstate_version >> 16, o->vmstate_version & 0xffff, me, WIRE_VERSION_MAJOR, WIRE_VERSION_MINOR,
                    me), HPVM_ENOTSUP;
  if (!c || !c->name || sto_vm_name_check(c->name, sub, sizeof sub))
    return snprintf(why, len, "the offer names no valid VM"), HPVM_EINVAL;
  if (!o->migration_id || strlen(o->migration_id) < 8 || strlen(o->migration_id) > 36)
    return snprintf(why, len, "the offer has no valid migration id"), HPVM_EINVAL;
  if (o->channels < 1 || o->channels > INCOMING_MAX_CHANNELS)
    return snprintf(why, len, "%u channels: give 1 to %u", o->channels, INCOMING_MAX_CHANNELS), HPVM_EINVAL;
  if (!strcmp(src, me)) return snprintf(why, len, "host %s is the source itself", me), HPVM_EINVAL;
  hd_vm *v = hd_vm_find(d, c->name);
  if (v && v->incoming)
    return snprintf(why, len, "VM %s is already migrating in to host %s (from host %s)", c->name, me,
                    v->incoming->source), HPVM_EBUSY;
  if (v && hd_vm_running(v))
    return snprintf(why, len, "a guest named %s is already running on host %s (%s)", c->name, me,
                    hd_state_name(v->state)), HPVM_EEXIST;
  int rc = hd_peer_same_config(d, c, why, len);
  if (rc) return rc;
  sto_lease l;
  if (sto_lease_read(d->sto, c->name, &l) == 0 &&
      (l.state != HPVM__LEASE_STATE__LEASE_STATE_HELD || strcmp(l.owner, src)))
    return snprintf(why, len, "VM %s is not owned by host %s (its lease is %s%s%s)", c->name, src,
                    l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD ? "held by host " : "free",
                    l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD ? l.owner : "", ""), HPVM_ESTATE;
  if ((rc = hd_host_check(d, c, sub, sizeof sub))) return snprintf(why, len, "on host %s: %s", me, sub), rc;
  for (size_t i = 0; i < o->n_proofs; i++)
    if ((rc = check_proof(d, src, o->proofs[i], why, len))) return rc;
  if ((rc = check_capacity(d, c, why, len))) return rc;
  unsigned cpus = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
  if (c->vcpus > cpus) {
    snprintf(sub, sizeof sub, "VM %s has %u vCPUs and host %s only %u cores", c->name, c->vcpus, me, cpus);
    add_warning(warn, nwarn, sub);
  }
  uint64_t avail = hd_mem_available();
  if (avail && c->memory_bytes > avail) {
    snprintf(sub, sizeof sub, "host %s has %llu MB of memory available now and VM %s has %llu MB", me,
             (unsigned long long)(avail >> 20), c->name, (unsigned long long)(c->memory_bytes >> 20));
    add_warning(warn, nwarn, sub);
  }
  if (*nwarn && !o->force) {
    size_t n = (size_t)snprintf(why, len, "host %s warns: ", me);
    for (size_t i = 0; i < *nwarn && n < len; i++) n += (size_t)snprintf(why + n, len - n, "%s%s", i ? "; " : "", (*warn)[i]);
    if (n < len) snprintf(why + n, len - n, " (hpvmmigrate -F migrates anyway)");
    return HPVM_ESTATE;
  }
  return 0;
}

/* offline.c checks an offline offer the same way. */
int hd_peer_check_proof(hd_daemon *d, const char *src, const Hpvm__StorageProof *p, char *why, size_t len) {
  return check_proof(d, src, p, why, len);
}

int hd_peer_check_capacity(hd_daemon *d, const Hpvm__VmConfig *c, char *why, size_t len) {
  return check_capacity(d, c, why, len);
}

/* ---- Requests --------------------------------------------------------------------------------- */

static void all_joined(hd_incoming *in);

static void on_join_timeout(uv_timer_t *t) {
  hd_incoming *in = t->data;
  if (in->state != IN_JOINING) return;
  char why[300];
  snprintf(why, sizeof why, "only %u of %u channels arrived within %d s", in->joined, in->nch, JOIN_TIMEOUT_MS / 1000);
  incoming_refuse(in, HPVM_ETIMEDOUT, why);
}

static void on_offer(hd_daemon *d, chan *ch, const Hpvm__MigrateOffer *o) {
  const char *src = chan_peer(ch);
  char why[1500];
  char **warn = NULL;
  size_t nwarn = 0;
  int rc = offer_check(d, src, o, &warn, &nwarn, why, sizeof why);
  const char *vmname = o->config && o->config->name ? o->config->name : "?";
  if (rc || o->check_only) {
    hd_log(d, rc ? HD_WARN : HD_INFO, "migration %s of VM %s from host %s%s: %s", o->migration_id, vmname, src,
           o->check_only ? " (check only)" : "", rc ? why : "accepted");
    answer(d, ch, rc, rc ? why : "", warn, nwarn, false);
    chan_close(ch);
    free_warnings(warn, nwarn);
    return;
  }
  hd_incoming *in = calloc(1, sizeof *in);
  hd_vm *v = hd_vm_get(d, o->config->name);
  if (in) in->timer = malloc(sizeof *in->timer);
  if (!in || !v || !in->timer || !(in->vm = strdup(o->config->name)) || sto_vm_load(d->sto, in->vm, &in->cfg)) {
    answer(d, ch, HPVM_ENOMEM, "the target hpvmd is out of memory", NULL, 0, false);
    chan_close(ch);
    if (in) free(in->timer), free(in->vm), free(in);
    free_warnings(warn, nwarn);
    return;
  }
  in->d = d;
  in->state = IN_JOINING;
  snprintf(in->id, sizeof in->id, "%s", o->migration_id);
  snprintf(in->source, sizeof in->source, "%s", src);
  in->nch = o->channels;
  in->ch[0] = ch;
  in->joined = 1;
  sto_lease l;
  if (sto_lease_read(d->sto, in->vm, &l) == 0) in->offer_gen = l.lease_generation;
  in->v = v;
  v->incoming = in;
  snprintf(in->note, sizeof in->note, "incoming from host %s: init", src);
  uv_timer_init(d->loop, in->timer);
  in->timer->data = in;
  in->next = d->incomings;
  d->incomings = in;
  hd_log(d, HD_INFO, "incoming migration %s of VM %s from host %s (%u channels, %s)%s", in->id, in->vm, src, in->nch,
         chan_cipher(ch), nwarn ? ", warnings forced" : "");
  rc = answer(d, ch, 0, "", warn, nwarn, false);
  free_warnings(warn, nwarn);
  if (rc) return incoming_refuse(in, rc, "the source stopped listening");
  if (in->joined == in->nch) return all_joined(in);
  uv_timer_start(in->timer, on_join_timeout, JOIN_TIMEOUT_MS, 0);
}

static void on_join(hd_daemon *d, chan *ch, const Hpvm__MigrateJoin *j) {
  hd_incoming *in = j->migration_id ? incoming_by_id(d, j->migration_id) : NULL;
  char why[400];
  int rc = 0;
  if (!in || in->state != IN_JOINING) {
    snprintf(why, sizeof why, "host %s has no migration %s waiting for channels", sto_host(d->sto),
             j->migration_id ? j->migration_id : "");
    rc = HPVM_ENOENT;
  } else if (strcmp(chan_peer(ch), in->source)) {
    snprintf(why, sizeof why, "migration %s comes from host %s, not %s", in->id, in->source, chan_peer(ch));
    rc = HPVM_EPERM;
  } else if (j->index < 1 || j->index >= in->nch || in->ch[j->index]) {
    snprintf(why, sizeof why, "channel %u of migration %s: not expected", j->index, in->id);
    rc = HPVM_EINVAL;
  }
  if (rc) {
    hd_log(d, HD_WARN, "join from host %s refused: %s", chan_peer(ch), why);
    answer(d, ch, rc, why, NULL, 0, false);
    chan_close(ch);
    return;
  }
  if (answer(d, ch, 0, "", NULL, 0, false)) {
    chan_close(ch);
    return incoming_refuse(in, HPVM_EIO, "a channel broke while joining");
  }
  in->ch[j->index] = ch;
  if (++in->joined == in->nch) all_joined(in);
}

/* Every channel is here: start hpvmapp --incoming with their sockets. */
static void all_joined(hd_incoming *in) {
  hd_daemon *d = in->d;
  uv_timer_stop(in->timer);
  int fds[INCOMING_MAX_CHANNELS];
  for (unsigned i = 0; i < in->nch; i++) fds[i] = chan_fd(in->ch[i]);
  hd_vm *v = in->v;
  char why[1200], line[1400];
  if (hd_vm_running(v)) {
    snprintf(line, sizeof line, "a guest named %s started on host %s meanwhile", in->vm, sto_host(d->sto));
    return incoming_refuse(in, HPVM_EEXIST, line);
  }
  int rc = hd_spawn(v, in->cfg, fds, in->nch, why, sizeof why);
  if (rc) {
    snprintf(line, sizeof line, "host %s cannot start hpvmapp --incoming: %s", sto_host(d->sto), why);
    return incoming_refuse(in, rc, line);
  }
  in->state = IN_SPAWNED;
  snprintf(in->note, sizeof in->note, "incoming from host %s: starting", in->source);
  hd_log(d, HD_INFO, "VM %s: incoming from host %s, hpvmapp --incoming pid %d", in->vm, in->source, (int)v->pid);
}

void hd_incoming_hello(hd_vm *v) {
  hd_incoming *in = v->incoming;
  if (!in || in->state != IN_SPAWNED) return;
  hd_daemon *d = in->d;
  Hpvm__AppIncoming ai = HPVM__APP_INCOMING__INIT;
  ProtobufCBinaryData states[INCOMING_MAX_CHANNELS];
  uint8_t raw[INCOMING_MAX_CHANNELS][CHAN_STATE_LEN];
  /* Ready first (that frame counts in channel 0's sequence numbers), then hand over. */
  int rc = answer(d, in->ch[0], 0, "", NULL, 0, true);
  for (unsigned i = 0; i < in->nch && !rc; i++) {
    int fd = chan_fd(in->ch[i]);
    rc = chan_export(in->ch[i], raw[i]);
    in->ch[i] = NULL;
    close(fd);   /* hpvmapp has its own copy (fd 4 + i) */
    states[i].data = raw[i];
    states[i].len = CHAN_STATE_LEN;
  }
  if (rc) {
    hd_log(d, HD_WARN, "VM %s: the incoming migration's channels broke before hpvmapp could take them", in->vm);
    hd_vm_power_off(v, "incoming migration failed: the channels broke");
    return;
  }
  ai.id = in->id;
  ai.source_host = in->source;
  ai.lease_generation = in->offer_gen;
  ai.n_chan_states = in->nch;
  ai.chan_states = states;
  Hpvm__AppCommand c = HPVM__APP_COMMAND__INIT;
  c.body_case = HPVM__APP_COMMAND__BODY_INCOMING;
  c.incoming = &ai;
  in->state = IN_RUNNING;
  snprintf(in->note, sizeof in->note, "incoming from host %s", in->source);
  if (hd_vm_send(v, &c)) hd_vm_power_off(v, "incoming migration failed: hpvmapp does not answer");
  memset(raw, 0, sizeof raw);
}

void hd_incoming_progress(hd_vm *v, const Hpvm__MigrateProgress *p) {
  hd_incoming *in = v->incoming;
  if (!in || !p->stats) return;
  snprintf(in->note, sizeof in->note, "incoming from host %s: %s, round %u", in->source, p->stats->phase,
           p->stats->round);
}

static void adopt_answer(hd_vm *v, int err, const char *msg) {
  Hpvm__AppAdoptResult r = HPVM__APP_ADOPT_RESULT__INIT;
  r.error = err;
  r.message = (char *)(err ? msg : "");
  Hpvm__AppCommand c = HPVM__APP_COMMAND__INIT;
  c.body_case = HPVM__APP_COMMAND__BODY_ADOPT_RESULT;
  c.adopt_result = &r;
  hd_vm_send(v, &c);
}

/* The lease l is this host's: the guest runs here from now on (renewed by hd_tick). */
static void now_ours(hd_vm *v, hd_incoming *in, const sto_lease *l, const char *id, const char *how) {
  hd_daemon *d = v->d;
  char line[600];
  v->lease = *l;
  v->have_lease = true;
  v->lease_ok_mono_ns = l->renew_mono_ns;   /* its write began then, on this host's clock */
  hd_vm_lease_tell(v);
  v->state = HPVM__VM_RUN_STATE__VM_RUN_STATE_ON;
  v->started_ns = hd_wall_ns();
  hd_vm_set_reason(v, NULL);
  /* Without the record (an hpvmd restarted meanwhile re-attached to hpvmapp --incoming)
   * the lease still says who handed it over. */
  const char *from = in ? in->source : l->previous_owner;
  hd_log(d, HD_INFO, "VM %s: migrated in from host %s (migration %s, lease generation %llu%s); it runs here now",
         v->name, from, id, (unsigned long long)l->lease_generation, how);
  snprintf(line, sizeof line, "VM migrated in from host %s", from);
  hd_console_event(v, line);
  if (in) incoming_free(in);
}

/* ---- The lease decides ------------------------------------------------------------------------
 *
 * The target's hpvmapp acknowledged the whole state, then heard nothing more from the source
 * (channel 0 closed or broke, or no COMMIT in time): the source may have written the lease
 * for this host just before it died or lost the link. Polled until one of these holds:
 *
 *   the lease names this host at a newer generation than the offer's  -> adopt: runs here
 *   the source noted "migrate-aborted <id>" (it resumes the guest)     -> discard
 *   free (the source's run ended and released it), or another host's  -> discard
 *   the source's, seen unchanged for its timeout on our clock (the
 *   source host is gone and has fenced itself)                          -> take it over: runs here
 *   the source's, still renewed, after its timeout plus a margin       -> discard
 *
 * The margin covers the source's handoff window (it refuses to hand over later than half its
 * lease timeout after the acknowledgement, on its own clock), so a handover can never reach a
 * target that already discarded. */

#define DECIDE_POLL_MS 100

static void decide_end(hd_incoming *in, int err, const char *msg) {
  hd_vm *v = in->v;
  in->deciding = false;
  uv_timer_stop(in->timer);
  if (err) {
    hd_log(in->d, HD_WARN, "VM %s: incoming migration %s from host %s discarded: %s", v->name, in->id, in->source, msg);
    snprintf(in->note, sizeof in->note, "incoming from host %s: discarded", in->source);
  }
  adopt_answer(v, err, msg);
}

static void decide_step(hd_incoming *in) {
  hd_daemon *d = in->d;
  hd_vm *v = in->v;
  const char *me = sto_host(d->sto);
  char msg[900];
  sto_lease l;
  uint64_t now = hd_mono_ns();
  if (sto_lease_read(d->sto, v->name, &l)) {
    hd_log(d, HD_WARN, "VM %s: cannot read its lease to decide the incoming migration (will retry): %s", v->name,
           sto_error(d->sto));
  } else if (l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD && !strcmp(l.owner, me)) {
    if (l.lease_generation <= in->offer_gen) {
      snprintf(msg, sizeof msg, "the lease of VM %s names this host at generation %llu, not newer than the offer's "
               "(%llu): not a handover", v->name, (unsigned long long)l.lease_generation,
               (unsigned long long)in->offer_gen);
      return decide_end(in, HPVM_ESTATE, msg);
    }
    sto_lease mine;
    if (sto_lease_adopt(d->sto, v->name, l.lease_generation, hd_incarnation(d), &mine) == 0) {
      adopt_answer(v, 0, "");
      in->deciding = false;
      uv_timer_stop(in->timer);
      return now_ours(v, in, &mine, in->id, ", from the lease: the source went silent after the handover");
    }
    hd_log(d, HD_WARN, "VM %s: the lease names this host but cannot be adopted (will retry): %s", v->name,
           sto_error(d->sto));
  } else {
    char aborted[STO_LEASE_NOTE_MAX];
    snprintf(aborted, sizeof aborted, "migrate-aborted %.100s", in->id);
    if (l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD && !strcmp(l.owner, in->source) && !strcmp(l.note, aborted)) {
      snprintf(msg, sizeof msg, "host %s aborted the migration (its lease says so); the guest runs there", in->source);
      return decide_end(in, HPVM_ECANCELED, msg);
    }
    if (l.state != HPVM__LEASE_STATE__LEASE_STATE_HELD) {
      snprintf(msg, sizeof msg, "host %s released the lease of VM %s before handing it over: the guest ended there "
               "(hpvmstart starts it again)", in->source, v->name);
      return decide_end(in, HPVM_ESTATE, msg);
    }
    if (strcmp(l.owner, in->source)) {
      snprintf(msg, sizeof msg, "the lease of VM %s is held by host %s, neither the source nor this host", v->name, l.owner);
      return decide_end(in, HPVM_ESTATE, msg);
    }
    /* The source's: expired on our clock (it fenced itself, or is gone), or still alive. Take
     * it only once we saw it expire: an acquire alone would also take a lease the source
     * released just now, when its guest ended there before handing over. */
    sto_lease seen, taken;
    bool expired = false;
    int rc = sto_lease_observe(d->sto, v->name, d->o.lease_timeout_ms, &in->obs, &seen, &expired);
    if (rc == 0 && !expired) rc = HPVM_EBUSY;
    if (rc == 0) rc = sto_lease_acquire(d->sto, v->name, d->o.lease_timeout_ms, hd_incarnation(d), &in->obs, &taken);
    if (rc == 0) {
      hd_log(d, HD_WARN, "VM %s: the lease of host %s expired without a handover or an abort (seen unchanged for its "
             "timeout): taken over, the acknowledged state resumes here", v->name, in->source);
      adopt_answer(v, 0, "");
      in->deciding = false;
      uv_timer_stop(in->timer);
      return now_ours(v, in, &taken, in->id, ", taken over");
    }
    if (rc != HPVM_EBUSY)
      hd_log(d, HD_WARN, "VM %s: cannot take its lease over (will retry): %s", v->name, sto_error(d->sto));
    uint64_t timeout = l.timeout_ms > d->o.lease_timeout_ms ? l.timeout_ms : d->o.lease_timeout_ms;
    uint64_t until = in->decide_start_ns + (timeout + (timeout / 4 > 2000 ? timeout / 4 : 2000)) * 1000000;
    if (until > in->decide_until_ns) in->decide_until_ns = until;
  }
  if (now > in->decide_until_ns) {
    snprintf(msg, sizeof msg, "the lease of VM %s did not come to host %s within %llu ms of the source going silent "
             "(host %s still renews it): the guest stays there", v->name, me,
             (unsigned long long)((now - in->decide_start_ns) / 1000000), in->source);
    decide_end(in, HPVM_ETIMEDOUT, msg);
  }
}

static void on_decide_timer(uv_timer_t *t) {
  hd_incoming *in = t->data;
  if (in->deciding) decide_step(in);
}

/* hpvmapp --incoming asks: start deciding (answered when the lease says). */
static void decide_start(hd_vm *v, const Hpvm__AppAdopt *a) {
  hd_daemon *d = v->d;
  hd_incoming *in = v->incoming;
  if (!in) {
    /* hpvmd restarted since the offer: what the record held comes with the request. */
    if (!a->source_host || !*a->source_host || !a->id || !(in = calloc(1, sizeof *in)) ||
        !(in->timer = malloc(sizeof *in->timer)) || !(in->vm = strdup(v->name))) {
      if (in) free(in->timer), free(in);
      return adopt_answer(v, HPVM_ENOMEM, "hpvmd cannot decide the incoming migration (out of memory or no source)");
    }
    in->d = d;
    in->state = IN_RUNNING;
    in->v = v;
    snprintf(in->id, sizeof in->id, "%s", a->id);
    snprintf(in->source, sizeof in->source, "%s", a->source_host);
    in->offer_gen = a->offer_generation;
    uv_timer_init(d->loop, in->timer);
    in->timer->data = in;
    in->next = d->incomings;
    d->incomings = in;
    v->incoming = in;
  }
  if (in->deciding) return;   /* asked again (a new connection): the answer comes once */
  in->deciding = true;
  memset(&in->obs, 0, sizeof in->obs);
  uint64_t t = d->o.lease_timeout_ms;
  in->decide_start_ns = hd_mono_ns();
  in->decide_until_ns = in->decide_start_ns + (t + (t / 4 > 2000 ? t / 4 : 2000)) * 1000000;
  snprintf(in->note, sizeof in->note, "incoming from host %s: deciding from the lease", in->source);
  hd_log(d, HD_WARN, "VM %s: host %s went silent after the state was acknowledged (migration %s): deciding from the "
         "lease", v->name, in->source, in->id);
  uv_timer_start(in->timer, on_decide_timer, DECIDE_POLL_MS, DECIDE_POLL_MS);
  decide_step(in);   /* may end it (and free in) at once */
}

void hd_incoming_adopt(hd_vm *v, const Hpvm__AppAdopt *a) {
  hd_daemon *d = v->d;
  hd_incoming *in = v->incoming;
  char msg[900];
  sto_lease l;
  int rc;
  if (!in && v->state != HPVM__VM_RUN_STATE__VM_RUN_STATE_INCOMING) {
    snprintf(msg, sizeof msg, "VM %s is not migrating in to host %s", v->name, sto_host(d->sto));
    rc = HPVM_ESTATE;
  } else if (a->decide) {
    return decide_start(v, a);
  } else if ((rc = sto_lease_adopt(d->sto, v->name, a->lease_generation, hd_incarnation(d), &l))) {
    snprintf(msg, sizeof msg, "%s", sto_error(d->sto));
  }
  if (rc) {
    hd_log(d, HD_ERR, "VM %s: cannot adopt its lease: %s", v->name, msg);
    return adopt_answer(v, rc, msg);
  }
  adopt_answer(v, 0, "");
  now_ours(v, in, &l, in ? in->id : a->id, "");
}

/* An incoming migration whose guest's lease another host took meanwhile (neither its source
 * nor this host: an HA restart after the source host died during the copy) can never complete —
 * adopting needs the lease to name this host, taking over needs it unrenewed. Its hpvmapp
 * --incoming, which would otherwise wait out its channels' idle limit (a dead host sends no
 * FIN), is ended now. One lease read per migration in progress per tick. */
void hd_incoming_tick(hd_daemon *d) {
  const char *me = sto_host(d->sto);
  for (hd_incoming *in = d->incomings; in; in = in->next) {
    hd_vm *v = in->v;
    sto_lease l;
    if (!v || !v->pid || in->deciding || sto_lease_read(d->sto, v->name, &l) ||
        l.state != HPVM__LEASE_STATE__LEASE_STATE_HELD || !strcmp(l.owner, me) || !strcmp(l.owner, in->source))
      continue;
    hd_log(d, HD_WARN, "VM %s: incoming migration %s from host %s discarded: host %s holds the lease now; hpvmapp "
           "--incoming pid %d ended", v->name, in->id, in->source, l.owner, (int)v->pid);
    snprintf(in->note, sizeof in->note, "incoming from host %.100s: discarded (host %.100s holds the lease)",
             in->source, l.owner);
    kill(v->pid, SIGKILL);
  }
}

void hd_incoming_ended(hd_vm *v, const char *reason) {
  hd_incoming *in = v->incoming;
  if (!in) return;
  char line[1400];
  snprintf(line, sizeof line, "host %s: hpvmapp --incoming ended: %s", sto_host(v->d->sto), reason);
  incoming_refuse(in, HPVM_EIO, line);
}

/* ---- Connections ------------------------------------------------------------------------------ */

/* Worker thread: the handshake and the first request; nothing of the daemon's state is
 * touched but the immutable configuration the channel config points at. */
static void conn_work(uv_work_t *w) {
  hd_conn *c = w->data;
  ProtobufCMessage *m = NULL;
  const uint8_t *bulk;
  size_t bulklen;
  c->rc = chan_server(c->fd, &c->cfg, &c->ch, c->msg, sizeof c->msg);
  if (c->rc) return;
  c->rc = chan_recv(c->ch, &hpvm__peer_request__descriptor, &m, &bulk, &bulklen, PEER_TIMEOUT_MS, c->msg,
                    sizeof c->msg);
  if (c->rc == 1) {
    snprintf(c->msg, sizeof c->msg, "host %s closed the connection without a request", chan_peer(c->ch));
    c->rc = HPVM_ETRUNC;
  }
  if (!c->rc) c->req = (Hpvm__PeerRequest *)m;
}

static void conn_after(uv_work_t *w, int status) {
  hd_conn *c = w->data;
  hd_daemon *d = c->d;
  d->peer_conns--;
  if (status || c->rc || d->stopping) {
    if (c->rc && !d->stopping) hd_log(d, HD_WARN, "peer connection from %s refused: %s", c->from, c->msg);
    if (c->ch) chan_abort(c->ch);
  } else {
    switch (c->req->body_case) {
    case HPVM__PEER_REQUEST__BODY_MIGRATE_OFFER: on_offer(d, c->ch, c->req->migrate_offer); break;
    case HPVM__PEER_REQUEST__BODY_MIGRATE_JOIN: on_join(d, c->ch, c->req->migrate_join); break;
    case HPVM__PEER_REQUEST__BODY_OFFLINE_OFFER: hd_offline_offer(d, c->ch, c->req->offline_offer); break;
    case HPVM__PEER_REQUEST__BODY_OFFLINE_COMMIT: hd_offline_commit(d, c->ch, c->req->offline_commit); break;
    case HPVM__PEER_REQUEST__BODY_STATUS_QUERY: hd_cluster_status_query(d, c->ch, c->req->status_query); break;
    case HPVM__PEER_REQUEST__BODY_MAINTENANCE: hd_drain_peer(d, c->ch, c->req->maintenance); break;
    case HPVM__PEER_REQUEST__BODY_MIGRATE_FORWARD: hd_migfwd_peer(d, c->ch, c->req->migrate_forward); break;
    default:
      answer(d, c->ch, HPVM_ENOTSUP, "unknown request: run the same hpvm version on both hosts", NULL, 0, false);
      chan_close(c->ch);
    }
  }
  if (c->req) hpvm__peer_request__free_unpacked(c->req, NULL);
  free(c);
}

static void on_peer_readable(uv_poll_t *p, int status, int events) {
  hd_daemon *d = p->data;
  (void)events;
  if (status < 0) return;
  for (;;) {
    struct sockaddr_storage a;
    socklen_t al = sizeof a;
    int fd = accept4(d->peer_fd, (struct sockaddr *)&a, &al, SOCK_CLOEXEC);   /* blocking socket */
    if (fd < 0) return;
    char host[64] = "?", port[16] = "?";
    getnameinfo((struct sockaddr *)&a, al, host, sizeof host, port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV);
    if (d->peer_conns >= PEER_CONNS_MAX) {
      hd_log(d, HD_WARN, "peer connection from %s:%s dropped: %d handshakes already in progress", host, port,
             PEER_CONNS_MAX);
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    hd_conn *c = calloc(1, sizeof *c);
    if (!c) {
      close(fd);
      continue;
    }
    c->d = d;
    c->fd = fd;
    hd_chan_config(d, &c->cfg);
    c->cfg.timeout_ms = PEER_TIMEOUT_MS;
    snprintf(c->from, sizeof c->from, "%s:%s", host, port);
    c->work.data = c;
    if (uv_queue_work(d->loop, &c->work, conn_work, conn_after)) {
      close(fd);
      free(c);
      continue;
    }
    d->peer_conns++;
  }
}

/* ---- Asking another host ------------------------------------------------------------------------- */

int hd_peer_resolve(hd_daemon *d, const char *target, char *address, size_t alen, char *why, size_t len) {
  if (!strcmp(target, sto_host(d->sto))) return snprintf(why, len, "host %s is this host", target), HPVM_EINVAL;
  sto_observer obs = {0};
  sto_liveness live;
  int status, rc = sto_host_observe(d->sto, target, &obs, &live, &status);
  if (rc) return snprintf(why, len, "%s", sto_error(d->sto)), rc;
  if (status == STO_HOST_UNKNOWN)
    return snprintf(why, len, "no host named %s in the shared directory %s (hosts register when their hpvmd starts)",
                    target, d->o.shared_dir), HPVM_ENOENT;
  if (status == STO_HOST_LEFT)
    return snprintf(why, len, "host %s has left the cluster (its hpvmd stopped); start it there", target), HPVM_EUNAVAIL;
  if (!live.address[0])
    return snprintf(why, len, "host %s publishes no peer address: start its hpvmd with --listen ADDR:PORT", target),
           HPVM_EUNAVAIL;
  snprintf(address, alen, "%s", live.address);
  return 0;
}

int hd_peer_connect(const char *address, int timeout_ms, char *msg, size_t len) {
  char host[256];
  const char *colon = strrchr(address, ':');
  if (!colon) return snprintf(msg, len, "peer address %s has no port", address), -1;
  size_t hl = (size_t)(colon - address);
  snprintf(host, sizeof host, "%.*s", (int)hl, address);
  if (hl > 2 && host[0] == '[') memmove(host, host + 1, hl - 2), host[hl - 2] = 0;
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
  int rc = getaddrinfo(host, colon + 1, &hints, &ai);
  if (rc) return snprintf(msg, len, "peer address %s: %s", address, gai_strerror(rc)), -1;
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);   /* bounds connect() too */
  if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen)) {
    snprintf(msg, len, "cannot connect to %s: %s", address, errno == EINPROGRESS ? "timed out" : strerror(errno));
    if (fd >= 0) close(fd);
    fd = -1;
  } else {
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  freeaddrinfo(ai);
  return fd;
}

int hd_peer_open(const char *address, int connect_ms, const chan_config *cc, const char *host, chan **ch, char *msg,
                 size_t len) {
  *ch = NULL;
  int fd = hd_peer_connect(address, connect_ms, msg, len);
  if (fd < 0) return HPVM_EUNAVAIL;
  return chan_client(fd, cc, host, ch, msg, len);
}

int hd_peer_ask(chan *ch, const Hpvm__PeerRequest *r, int send_ms, int answer_ms, Hpvm__PeerAnswer **ans, char *msg,
                size_t len) {
  ProtobufCMessage *m = NULL;
  const uint8_t *bulk;
  size_t bulklen;
  *ans = NULL;
  int rc = chan_send(ch, &r->base, NULL, 0, send_ms, msg, len);
  if (!rc) rc = chan_recv(ch, &hpvm__peer_answer__descriptor, &m, &bulk, &bulklen, answer_ms, msg, len);
  if (!rc) *ans = (Hpvm__PeerAnswer *)m;
  return rc;
}

int hd_peer_start(hd_daemon *d, char *msg, size_t len) {
  d->peer_fd = -1;
  if (!d->o.listen) return 0;
  char host[256];
  const char *colon = strrchr(d->o.listen, ':');
  size_t hl = (size_t)(colon - d->o.listen);
  snprintf(host, sizeof host, "%.*s", (int)hl, d->o.listen);
  if (hl > 2 && host[0] == '[') memmove(host, host + 1, hl - 2), host[hl - 2] = 0;
  struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = SOCK_STREAM}, *ai;
  int rc = getaddrinfo(host, colon + 1, &hints, &ai);
  if (rc) return snprintf(msg, len, "--listen %s: %s", d->o.listen, gai_strerror(rc)), HPVM_EINVAL;
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
    int e = errno;
    if (fd >= 0) close(fd);
    freeaddrinfo(ai);
    return snprintf(msg, len, "cannot listen on %s for peer hosts: %s", d->o.listen, strerror(e)), HPVM_EIO;
  }
  freeaddrinfo(ai);
  d->peer_fd = fd;
  uv_poll_init(d->loop, &d->peer_poll, fd);
  d->peer_poll.data = d;
  uv_poll_start(&d->peer_poll, UV_READABLE, on_peer_readable);
  d->peer_open = true;
  return 0;
}

void hd_peer_stop(hd_daemon *d) {
  if (d->peer_open) {
    uv_poll_stop(&d->peer_poll);
    uv_close((uv_handle_t *)&d->peer_poll, NULL);
    d->peer_open = false;
  }
  if (d->peer_fd >= 0) close(d->peer_fd);
  d->peer_fd = -1;
  while (d->incomings) incoming_free(d->incomings);
}
