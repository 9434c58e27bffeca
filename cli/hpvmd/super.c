/* super.c — running VMs: one hpvmapp process per running guest, spawned, watched and
 * stopped by hpvmd, and found again by the next hpvmd after a restart.
 *
 * A run of a VM, as hpvmd sees it:
 *
 *     OFF/CRASH --start--> BOOTING --hello--> ON <--pause/resume--> PAUSED
 *                            |                 |  stop -g: STOPPING --timeout--> power-off
 *                            |                 |  stop -F / remove -F / lease lost: power-off
 *                            +------ hpvmapp gone (exit, crash, kill -9) ------> OFF or CRASH
 *
 * hpvmapp is spawned detached (its own session, setsid) with one end of a socketpair as fd 3,
 * stdin /dev/null and stdout/stderr appended to STATE/vms/<name>/app.log. It speaks first
 * (AppEvent.hello); it reports its exit (AppEvent.exit, and the file "exit" in the run
 * directory for an hpvmd that was not there). A run ends when both the process is gone (the
 * child's exit callback; for a re-attached one, its connection closed and its pid gone)
 * and its connection is closed. Then the state is decided once (finalize): OFF when the guest
 * powered off or hpvmd stopped it, CRASH when the guest crashed (exit 134) or hpvmapp died
 * without a word (a signal, kill -9); the reason is kept in memory and in the file "last",
 * so it survives an hpvmd restart. Nothing else is touched: other VMs run on.
 *
 * hpvmd may exit or crash while guests run. hpvmapp keeps running (it is in its own session
 * and nothing ties its life to the socket), and the next hpvmd connects to each
 * STATE/vms/<name>/app.sock that an app.pid announces (hd_reattach_all).
 *
 * Ownership: a VM runs only under its lease in shared storage (storage.h), acquired before
 * the spawn (a re-attached guest's: at its hello), renewed by hd_tick, released when the run
 * ends. A lease lost to another host, or not renewed before the fence deadline, powers the
 * guest off (self-fencing) and is left alone. hpvmapp holds the fence deadline too
 * (AppCommand.lease after every renewal) and powers the guest off by itself when hpvmd is
 * gone past it.
 *
 * Live migration adds two kinds of run. The source's ends with AppExit.migrated_to: the lease
 * was handed over (migrate.c), so it is neither renewed nor released, and the VM shows as
 * running on the target. The target's starts as INCOMING (hpvmapp --incoming, spawned by
 * peer.c with the channels' sockets, without the lease) and becomes ON when peer.c adopts the
 * lease; one that ends before that is forgotten: the guest still runs on the source. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hpvm_testfault.h"
#include "internal.h"

#define APP_LOG_ROTATE (1u << 20)
#define ADOPT_POLL_MS 100
#define ADOPT_POLL_MAX 50          /* 5 s for a re-attached hpvmapp to vanish after closing */
#define START_TIMEOUT_MS 30000     /* spawn to hello; an hpvmapp slower than this is killed */

static void app_close(hd_vm *v);
static void app_ended(hd_vm *v);
static void maybe_finalize(hd_vm *v);

/* ---- The VM table ----------------------------------------------------------------------------- */

hd_vm *hd_vm_find(hd_daemon *d, const char *name) {
  for (hd_vm *v = d->vms; v; v = v->next)
    if (!strcmp(v->name, name)) return v;
  return NULL;
}

hd_vm *hd_vm_get(hd_daemon *d, const char *name) {
  hd_vm *v = hd_vm_find(d, name);
  if (v) return v;
  v = calloc(1, sizeof *v);
  if (!v) return NULL;
  char dir[4400], log[4500];
  snprintf(dir, sizeof dir, "%s/vms/%s", d->o.state_dir, name);
  snprintf(log, sizeof log, "%s/console.log", dir);
  v->d = d;
  v->name = strdup(name);
  v->run_dir = strdup(dir);
  v->console_log = strdup(log);
  if (!v->name || !v->run_dir || !v->console_log) {
    free(v->name), free(v->run_dir), free(v->console_log), free(v);
    return NULL;
  }
  v->state = HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF;
  v->exit_status = -1;
  uv_timer_init(d->loop, &v->timer);
  v->timer.data = v;
  v->timer_init = true;
  wire_framer_init(&v->in, WIRE_MAGIC_APP, WIRE_RPC_VERSION, WIRE_RPC_MAX_FRAME);
  v->next = d->vms;
  d->vms = v;
  return v;
}

bool hd_vm_running(const hd_vm *v) {
  switch (v->state) {
  case HPVM__VM_RUN_STATE__VM_RUN_STATE_BOOTING:
  case HPVM__VM_RUN_STATE__VM_RUN_STATE_ON:
  case HPVM__VM_RUN_STATE__VM_RUN_STATE_STOPPING:
  case HPVM__VM_RUN_STATE__VM_RUN_STATE_PAUSED:
  case HPVM__VM_RUN_STATE__VM_RUN_STATE_INCOMING:
    return true;
  default:
    return false;
  }
}

static void set_str(char **p, const char *s) {
  free(*p);
  *p = s ? strdup(s) : NULL;
}

void hd_vm_set_reason(hd_vm *v, const char *reason) {
  set_str(&v->reason, reason);
}

static void free_vm(uv_handle_t *h) {
  hd_vm *v = h->data;
  wire_framer_free(&v->in);
  if (v->app_exit) hpvm__app_exit__free_unpacked(v->app_exit, NULL);
  free(v->name), free(v->run_dir), free(v->console_log), free(v->reason), free(v->stop_note);
  free(v->resume_from);
  free(v->migrated_to);
  free(v);
}

void hd_vm_forget(hd_vm *v) {
  hd_daemon *d = v->d;
  hd_console_event(v, "VM removed");
  while (v->viewers) {
    hd_viewer *w = v->viewers;
    v->viewers = w->next;
    w->client->console = NULL;
    hd_client_close(w->client);
    free(w);
  }
  for (hd_vm **p = &d->vms; *p; p = &(*p)->next)
    if (*p == v) {
      *p = v->next;
      break;
    }
  uv_close((uv_handle_t *)&v->timer, free_vm);
}

/* ---- Waiters ---------------------------------------------------------------------------------- */

hd_waiter *hd_waiter_add(hd_vm *v, enum hd_wait_kind kind, const hd_req *q, bool force) {
  hd_waiter *w = calloc(1, sizeof *w);
  if (!w) {
    hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_ENOMEM, "hpvmd is out of memory");
    return NULL;
  }
  w->kind = kind;
  w->client = q->c;
  w->id = q->r ? q->r->id : 0;
  w->user = strdup(q->user ? q->user : "hpvmd");
  w->cmdline = q->cmdline ? strdup(q->cmdline) : NULL;
  w->force = force;
  hd_waiter **p = &v->waiters;
  while (*p) p = &(*p)->next;
  *p = w;
  return w;
}

static void waiter_free(hd_waiter *w) {
  free(w->user), free(w->cmdline), free(w->request), free(w);
}

static void answer_status(hd_vm *v, hd_client *c, uint64_t id, const char *user, const char *cmdline) {
  Hpvm__VmConfig *cfg = NULL;
  Hpvm__VmConfig stub = HPVM__VM_CONFIG__INIT;
  stub.name = v->name;
  sto_vm_load(v->d->sto, v->name, &cfg);
  Hpvm__VmStatus st = HPVM__VM_STATUS__INIT;
  char owner[STO_NAME_MAX + 1];
  hd_fill_status(v->d, cfg ? cfg : &stub, v->name, &st, owner);
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = id;
  r.body_case = HPVM__RESPONSE__BODY_VM;
  r.vm = &st;
  if (c) hd_answer(c, &r, user, cmdline);
  else hd_cmdlog(v->d, user, cmdline, 0, "");
  sto_vm_free(cfg);
}

/* Answer the waiters of the given kinds (mask of 1 << kind): with the VM's status when err
 * is 0, else with err and msg. */
static void answer_waiters(hd_vm *v, unsigned kinds, int err, const char *msg) {
  hd_waiter **p = &v->waiters;
  while (*p) {
    hd_waiter *w = *p;
    if (!(kinds & (1u << w->kind))) {
      p = &w->next;
      continue;
    }
    *p = w->next;
    if (w->kind == HD_WAIT_REMOVE && !err) {
      hd_remove_now(v->d, v->name, w->force, w->client, w->id, w->user, w->cmdline);
      waiter_free(w);
      return;   /* v may be gone now */
    }
    if (err && w->client) hd_answer_error(w->client, w->id, w->user, w->cmdline, err, "%s", msg);
    else if (err) hd_cmdlog(v->d, w->user, w->cmdline, err, msg);
    else answer_status(v, w->client, w->id, w->user, w->cmdline);
    waiter_free(w);
  }
}

/* hpvmapp answered the oldest pause, resume or schedule command (one reply each, in order):
 * with its status (err 0) or with an error line. */
static void answer_reply(hd_vm *v, int err, const char *msg) {
  hd_waiter **p = &v->waiters;
  while (*p && (*p)->kind != HD_WAIT_PAUSE && (*p)->kind != HD_WAIT_SCHED && !(err && (*p)->kind == HD_WAIT_SUSPEND))
    p = &(*p)->next;   /* a suspend's only reply is a refusal: success ends hpvmapp */
  hd_waiter *w = *p;
  if (!w) return;
  *p = w->next;
  if (w->kind == HD_WAIT_SUSPEND) {
    hd_suspend_refused(v, w, msg);
  } else if (w->kind == HD_WAIT_PAUSE) {
    if (!err) answer_status(v, w->client, w->id, w->user, w->cmdline);
    else if (w->client) hd_answer_error(w->client, w->id, w->user, w->cmdline, err, "VM %s: %s", v->name, msg);
    else hd_cmdlog(v->d, w->user, w->cmdline, err, msg);
  } else if (err) {
    char line[900];
    snprintf(line, sizeof line, "cannot change the CPU entitlement of running VM %.200s: %.600s", v->name, msg);
    if (w->client) hd_answer_error(w->client, w->id, w->user, w->cmdline, HPVM_EBUSY, "%s", line);
    else hd_cmdlog(v->d, w->user, w->cmdline, HPVM_EBUSY, line);
  } else {
    /* The running guest has it: now store the configuration (the modify proper). */
    Hpvm__Request *r = hpvm__request__unpack(NULL, w->request_len, w->request);
    if (r) {
      hd_req q = {w->client, r, w->user, w->cmdline, true, NULL};
      hd_cmd_modify(v->d, &q);
      hpvm__request__free_unpacked(r, NULL);
    }
  }
  waiter_free(w);
}

int hd_modify_live(hd_daemon *d, const hd_req *q, const Hpvm__VmConfig *next) {
  if (q->live_done) return 0;
  hd_vm *v = hd_vm_find(d, q->r->modify->name);
  unsigned ent, cap;
  char why[300];
  if (!v || !hd_vm_running(v) || !v->app || hd_entitlement_of(next, &ent, &cap, why, sizeof why)) return 0;
  if (ent == v->entitlement && cap == v->cap) return 0;
  hd_waiter *w = hd_waiter_add(v, HD_WAIT_SCHED, q, false);
  if (!w) return 1;
  w->request_len = hpvm__request__get_packed_size(q->r);
  w->request = malloc(w->request_len ? w->request_len : 1);
  if (w->request) hpvm__request__pack(q->r, w->request);
  Hpvm__AppSchedule s = HPVM__APP_SCHEDULE__INIT;
  Hpvm__AppCommand c = HPVM__APP_COMMAND__INIT;
  s.entitlement = ent;
  s.cap = cap;
  c.body_case = HPVM__APP_COMMAND__BODY_SCHEDULE;
  c.schedule = &s;
  if (!w->request || hd_vm_send(v, &c)) answer_reply(v, HPVM_EIO, "hpvmapp does not answer");
  hd_log(d, HD_INFO, "%s changes the entitlement of running VM %s to %u%%%s", q->user, v->name, ent,
         cap ? " with a cap" : "");
  return 1;
}

void hd_forget_client(hd_daemon *d, hd_client *c) {
  hd_mig_forget_client(d, c);
  hd_offline_forget_client(d, c);
  hd_drain_forget_client(d, c);
  hd_fwd_forget_client(d, c);
  hd_cluster_forget_client(d, c);
  for (hd_vm *v = d->vms; v; v = v->next) {
    for (hd_waiter *w = v->waiters; w; w = w->next)
      if (w->client == c) w->client = NULL;
  }
  hd_console_detach(c);
}

/* ---- Files in the run directory --------------------------------------------------------------- */

static int read_text(const char *dir, const char *file, char *buf, size_t len) {
  char path[4500];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, len - 1);
  close(fd);
  if (n < 0) return -1;
  buf[n] = 0;
  return 0;
}

static void unlink_in(const char *dir, const char *file) {
  char path[4500];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  unlink(path);
}

/* What hpvmapp said before it died: the last line of app.log that it wrote ("hpvmapp: ..."),
 * else the last non-empty line. */
static void app_log_tail(hd_vm *v, char *out, size_t len) {
  char path[4500], buf[4096];
  snprintf(path, sizeof path, "%s/app.log", v->run_dir);
  out[0] = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  off_t end = lseek(fd, 0, SEEK_END);
  off_t from = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
  ssize_t n = pread(fd, buf, sizeof buf - 1, from);
  close(fd);
  if (n <= 0) return;
  buf[n] = 0;
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
  char *line = strrchr(buf, '\n');
  const char *src = line ? line + 1 : buf;
  char *said = NULL;
  for (char *p = buf; (p = strstr(p, "hpvmapp: ")); p++)
    if (p == buf || p[-1] == '\n') said = p;
  if (said) {
    said[strcspn(said, "\n")] = 0;
    src = said;
  }
  size_t l = strnlen(src, len - 1);
  memcpy(out, src, l);
  out[l] = 0;
}

/* STATE/vms/<name>/last: "state\nexit status\nreason\n", so a Crash outlives hpvmd. */
static void save_last(hd_vm *v) {
  char path[4500], tmp[4500];
  snprintf(path, sizeof path, "%s/last", v->run_dir);
  snprintf(tmp, sizeof tmp, "%s/.last.tmp", v->run_dir);
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  fprintf(f, "%d\n%d\n%s\n", v->state, v->exit_status, v->reason ? v->reason : "");
  if (fclose(f) == 0) rename(tmp, path);
}

static bool load_last(hd_vm *v) {
  char buf[1200];
  if (read_text(v->run_dir, "last", buf, sizeof buf)) return false;
  int state, status, used = 0;
  if (sscanf(buf, "%d\n%d\n%n", &state, &status, &used) < 2) return false;
  if (state != HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF && state != HPVM__VM_RUN_STATE__VM_RUN_STATE_CRASH) return false;
  char *reason = buf + used;
  reason[strcspn(reason, "\n")] = 0;
  v->state = state;
  v->exit_status = status;
  set_str(&v->reason, reason);
  return true;
}

/* A process that exists and is not a zombie. A re-attached hpvmapp is not our child: after
 * it exits it stays a zombie until whoever inherited it (init, a subreaper) reaps it,
 * which can take seconds, and kill(pid, 0) still succeeds on a zombie. */
static bool pid_alive(pid_t pid) {
  char path[64], buf[512];
  if (pid <= 0) return false;
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  const char *p = strrchr(buf, ')');   /* the command name may hold anything but ends at the last ')' */
  return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* ---- Leases ----------------------------------------------------------------------------------- */

static uint64_t incarnation(hd_daemon *d) {
  return d->have_live ? d->live.incarnation : 0;
}

uint64_t hd_incarnation(hd_daemon *d) {
  return incarnation(d);
}

/* The observer outlives the call: a lease another host stopped renewing counts as expired
 * once this hpvmd has seen it unchanged for its timeout, so a later start takes it over. */
static int lease_take(hd_vm *v, char *why, size_t len) {
  hd_daemon *d = v->d;
  uint64_t t0 = hd_mono_ns();
  int rc = sto_lease_acquire(d->sto, v->name, d->o.lease_timeout_ms, incarnation(d), &v->lease_obs, &v->lease);
  if (rc) {
    snprintf(why, len, "%s", sto_error(d->sto));
    return rc;
  }
  v->have_lease = true;
  v->lease_ok_mono_ns = t0;
  hd_vm_lease_tell(v);
  return 0;
}

void hd_vm_lease_tell(hd_vm *v) {
  if (!v->have_lease || !v->app) return;
  Hpvm__AppLease l = HPVM__APP_LEASE__INIT;
  l.fence_mono_ns = v->lease_ok_mono_ns + (uint64_t)v->d->o.lease_fence_ms * 1000000;
  Hpvm__AppCommand c = HPVM__APP_COMMAND__INIT;
  c.body_case = HPVM__APP_COMMAND__BODY_LEASE;
  c.lease = &l;
  hd_vm_send(v, &c);
}

static void lease_drop(hd_vm *v) {
  if (!v->have_lease) return;
  v->have_lease = false;
  if (sto_lease_release(v->d->sto, v->name, &v->lease))
    hd_log(v->d, HD_WARN, "VM %s: cannot release its lease: %s", v->name, sto_error(v->d->sto));
}

/* ---- Talking to hpvmapp ----------------------------------------------------------------------- */

typedef struct app_write {
  uv_write_t req;
  uint8_t *buf;
} app_write;

static void on_app_write(uv_write_t *req, int status) {
  (void)status;   /* a failed write shows as the connection's end on the read side */
  app_write *w = (app_write *)req;
  free(w->buf);
  free(w);
}

static int app_write_bytes(hd_vm *v, uint8_t *buf, size_t len) {
  app_write *w = calloc(1, sizeof *w);
  if (!w) {
    free(buf);
    return HPVM_ENOMEM;
  }
  w->buf = buf;
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  if (uv_write(&w->req, (uv_stream_t *)v->app, &b, 1, on_app_write) < 0) {
    free(buf);
    free(w);
    return HPVM_EIO;
  }
  return 0;
}

int hd_vm_send(hd_vm *v, const Hpvm__AppCommand *cmd) {
  if (!v->app) return HPVM_EIO;
  uint8_t *buf;
  size_t len;
  int rc = wire_frame_pack(&cmd->base, WIRE_RPC_MAX_FRAME, &buf, &len);
  return rc ? rc : app_write_bytes(v, buf, len);
}

static void on_app_event(hd_vm *v, Hpvm__AppEvent *e) {
  hd_daemon *d = v->d;
  switch (e->body_case) {
  case HPVM__APP_EVENT__BODY_HELLO: {
    const Hpvm__AppHello *h = e->hello;
    if (strcmp(h->name, v->name)) {
      hd_log(d, HD_ERR, "VM %s: the hpvmapp on its socket says it runs %s; dropping it", v->name, h->name);
      app_ended(v);
      return;
    }
    bool first = !v->hello_seen;
    v->hello_seen = true;
    if (v->stop_phase == 0) uv_timer_stop(&v->timer);   /* the start timeout */
    v->pid = h->pid;
    if (h->status) {
      if (h->status->entitlement) v->entitlement = h->status->entitlement, v->cap = h->status->cap;
      v->status.retired = h->status->retired;
      v->status.rss_bytes = h->status->rss_bytes;
      v->started_ns = h->status->started_ns;
      if (h->status->state) v->state = h->status->state;
    }
    if (v->state == HPVM__VM_RUN_STATE__VM_RUN_STATE_BOOTING) v->state = HPVM__VM_RUN_STATE__VM_RUN_STATE_ON;
    hd_log(d, HD_INFO, "VM %s: %s hpvmapp pid %d (%s)", v->name, h->restarted_supervisor ? "re-attached to" : "started",
           (int)v->pid, hd_state_name(v->state));
    hd_vm_lease_tell(v);   /* a fresh spawn: the lease was taken before there was a connection */
    /* Re-attached after a restart: the lease is this host's again, unless the guest is only
     * coming in (the source owns it until the handoff: peer.c adopts it then). */
    if (h->restarted_supervisor && !v->have_lease && v->state != HPVM__VM_RUN_STATE__VM_RUN_STATE_INCOMING) {
      char why[600];
      v->lease_ok_mono_ns = hd_mono_ns();   /* hd_tick retries until the fence time from now */
      if (lease_take(v, why, sizeof why))
        hd_log(d, HD_WARN, "VM %s: re-attached but cannot renew its lease: %s", v->name, why);
    }
    if (v->incoming) {
      hd_incoming_hello(v);
      break;
    }
    if (first && !h->restarted_supervisor) {
      hd_console_event(v, "VM started");
      hd_suspend_started(v);
    }
    answer_waiters(v, 1u << HD_WAIT_START, 0, NULL);
    break;
  }
  case HPVM__APP_EVENT__BODY_STATUS:
    v->status.retired = e->status->retired;
    v->status.rss_bytes = e->status->rss_bytes;
    if (e->status->entitlement) v->entitlement = e->status->entitlement, v->cap = e->status->cap;
    /* A late INCOMING from hpvmapp must not undo the adoption that made it ON. */
    if (e->status->state && hd_vm_running(v) && v->state != HPVM__VM_RUN_STATE__VM_RUN_STATE_STOPPING &&
        (e->status->state != HPVM__VM_RUN_STATE__VM_RUN_STATE_INCOMING || v->incoming))
      v->state = e->status->state;
    answer_reply(v, 0, NULL);
    break;
  case HPVM__APP_EVENT__BODY_CONSOLE:
    hd_console_output(v, e->console.data, e->console.len);
    break;
  case HPVM__APP_EVENT__BODY_EXIT:
    if (v->app_exit) hpvm__app_exit__free_unpacked(v->app_exit, NULL);
    v->app_exit = e->exit;
    e->exit = NULL;   /* kept: hpvm__app_event__free_unpacked skips a NULL member */
    break;
  case HPVM__APP_EVENT__BODY_ERROR:
    answer_reply(v, HPVM_ESTATE, e->error);
    break;
  case HPVM__APP_EVENT__BODY_MIGRATE_PROGRESS:
    if (v->incoming) hd_incoming_progress(v, e->migrate_progress);
    else hd_mig_progress(v, e->migrate_progress);
    break;
  case HPVM__APP_EVENT__BODY_HANDOFF:
    hd_mig_handoff(v, e->handoff);
    break;
  case HPVM__APP_EVENT__BODY_ADOPT:
    hd_incoming_adopt(v, e->adopt);
    break;
  case HPVM__APP_EVENT__BODY_MIGRATE_DONE:
    hd_mig_done(v, e->migrate_done);
    break;
  default:
    break;
  }
}

static void on_app_handle_closed(uv_handle_t *h) {
  free(h);
}

static void app_close(hd_vm *v) {
  if (!v->app) return;
  uv_close((uv_handle_t *)v->app, on_app_handle_closed);
  v->app = NULL;
  wire_framer_free(&v->in);
  wire_framer_init(&v->in, WIRE_MAGIC_APP, WIRE_RPC_VERSION, WIRE_RPC_MAX_FRAME);
}

static void on_adopt_poll(uv_timer_t *t);

/* The connection to hpvmapp ended (it exited, was killed, or broke the protocol). */
static void app_ended(hd_vm *v) {
  app_close(v);
  if (v->d->stopping) return;
  if (!v->is_child) {
    /* Not our child: no exit callback. It said goodbye, or it is gone, or we watch its pid. */
    if (v->app_exit || !pid_alive(v->pid)) {
      v->adopted_gone = true;
    } else {
      v->adopt_polls = 0;
      uv_timer_start(&v->timer, on_adopt_poll, ADOPT_POLL_MS, ADOPT_POLL_MS);
      return;
    }
  }
  maybe_finalize(v);
}

static void on_adopt_poll(uv_timer_t *t) {
  hd_vm *v = t->data;
  if (!pid_alive(v->pid) || ++v->adopt_polls >= ADOPT_POLL_MAX) {
    if (pid_alive(v->pid)) {
      hd_log(v->d, HD_WARN, "VM %s: hpvmapp pid %d closed its socket but does not exit; killing it", v->name, (int)v->pid);
      kill(v->pid, SIGKILL);
    }
    uv_timer_stop(t);
    v->adopted_gone = true;
    maybe_finalize(v);
  }
}

static void on_app_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  buf->base = malloc(65536);
  buf->len = buf->base ? 65536 : 0;
}

static void on_app_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  hd_vm *v = s->data;
  if (n == 0) {
    free(buf->base);
    return;
  }
  if (n < 0) {
    free(buf->base);
    app_ended(v);
    return;
  }
  int rc = wire_framer_feed(&v->in, buf->base, (size_t)n);
  free(buf->base);
  const uint8_t *p;
  uint32_t len;
  while (!rc && v->app == (uv_pipe_t *)s && (rc = wire_framer_next(&v->in, &p, &len)) == 1) {
    Hpvm__AppEvent *e = hpvm__app_event__unpack(NULL, len, p);
    if (!e) {
      rc = HPVM_ECORRUPT;
      break;
    }
    on_app_event(v, e);
    hpvm__app_event__free_unpacked(e, NULL);
    rc = 0;
  }
  if (rc < 0 && v->app == (uv_pipe_t *)s) {
    hd_log(v->d, HD_ERR, "VM %s: hpvmapp broke the protocol (%s); dropping the connection", v->name,
           v->in.msg[0] ? v->in.msg : "a message that does not parse");
    app_ended(v);
  }
}

/* Take fd (connected to hpvmapp) as the VM's connection and send our preface. */
static int app_open(hd_vm *v, int fd) {
  uv_pipe_t *p = calloc(1, sizeof *p);
  if (!p) return HPVM_ENOMEM;
  uv_pipe_init(v->d->loop, p, 0);
  p->data = v;
  if (uv_pipe_open(p, fd)) {
    uv_close((uv_handle_t *)p, on_app_handle_closed);
    close(fd);
    return HPVM_EIO;
  }
  v->app = p;
  wire_framer_free(&v->in);
  wire_framer_init(&v->in, WIRE_MAGIC_APP, WIRE_RPC_VERSION, WIRE_RPC_MAX_FRAME);
  uint8_t *pre = malloc(WIRE_PREFACE_LEN);
  if (!pre) return HPVM_ENOMEM;
  wire_preface_make(pre, WIRE_MAGIC_APP, WIRE_RPC_VERSION);
  app_write_bytes(v, pre, WIRE_PREFACE_LEN);
  uv_read_start((uv_stream_t *)p, on_app_alloc, on_app_read);
  return 0;
}

/* ---- The end of a run ------------------------------------------------------------------------- */

static void finalize(hd_vm *v) {
  hd_daemon *d = v->d;
  char reason[1200], tail[600], buf[1200], line[1600];
  int status = -1;
  bool said = false;
  if (v->app_exit) {
    status = v->app_exit->status;
    snprintf(reason, sizeof reason, "%s", v->app_exit->reason);
    said = true;
  } else if (read_text(v->run_dir, "exit", buf, sizeof buf) == 0 && sscanf(buf, "%d", &status) == 1) {
    char *r = strchr(buf, '\n');
    snprintf(reason, sizeof reason, "%s", r ? r + 1 : "");
    reason[strcspn(reason, "\n")] = 0;
    said = true;
  } else if (v->is_child && v->child_signaled) {
    status = v->child_exit;
    snprintf(reason, sizeof reason, "hpvmapp was killed by signal %d (%s)", status - 128, strsignal(status - 128));
  } else if (v->is_child) {
    status = v->child_exit;
    app_log_tail(v, tail, sizeof tail);
    if (!v->hello_seen && tail[0]) snprintf(reason, sizeof reason, "%s", tail);
    else snprintf(reason, sizeof reason, "hpvmapp exited with status %d without saying why (see %s/app.log)", status,
                  v->run_dir);
  } else {
    snprintf(reason, sizeof reason, "hpvmapp (pid %d) died without saying why (killed?)", (int)v->pid);
  }
  bool start_failed = !v->hello_seen;
  bool incoming = v->incoming != NULL || v->state == HPVM__VM_RUN_STATE__VM_RUN_STATE_INCOMING;
  char migrated[STO_NAME_MAX + 1] = "";
  if (v->app_exit && v->app_exit->migrated_to && *v->app_exit->migrated_to)
    snprintf(migrated, sizeof migrated, "%s", v->app_exit->migrated_to);
  else if (said && !strncmp(reason, "migrated to host ", 17))
    snprintf(migrated, sizeof migrated, "%.255s", reason + 17);
  else if (v->migrated_to)
    snprintf(migrated, sizeof migrated, "%s", v->migrated_to);
  if (v->mig) hd_mig_abort(v, reason);
  if (incoming) {
    /* Never adopted: the guest runs on the source. Nothing of this run is kept but why. */
    hd_incoming_ended(v, reason);
    char why[1200];
    if (strncmp(reason, "incoming migration failed: ", 27)) {   /* hpvmapp's own note says it already */
      snprintf(why, sizeof why, "incoming migration failed: %.1150s", reason);
      memcpy(reason, why, sizeof why);
    }
  }
  int state;
  if (migrated[0]) {
    state = HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF;
    snprintf(reason, sizeof reason, "migrated to host %s", migrated);
    v->have_lease = false;     /* the target's now: neither renewed nor released here */
  } else if (incoming) {
    state = HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF;
  } else if (v->stop_note && status != 134) {
    state = HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF;
    snprintf(buf, sizeof buf, "%s", v->stop_note);
    snprintf(reason, sizeof reason, "%s", buf);
  } else if (start_failed && said) {
    state = HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF;
  } else if (start_failed && v->is_child && !v->child_signaled) {
    state = HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF;       /* refused to start: bad kernel, disk, ... */
  } else if (status == 134 || !said) {
    state = HPVM__VM_RUN_STATE__VM_RUN_STATE_CRASH;
  } else {
    state = HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF;
  }
  v->state = state;
  v->exit_status = status;
  set_str(&v->reason, reason);
  save_last(v);
  unlink_in(v->run_dir, "exit");
  unlink_in(v->run_dir, "app.pid");
  unlink_in(v->run_dir, "app.sock");
  lease_drop(v);
  hd_suspend_ended(v, reason);   /* before app_exit goes: it says where a suspended guest is */
  uv_timer_stop(&v->timer);
  hd_log(d, state == HPVM__VM_RUN_STATE__VM_RUN_STATE_CRASH ? HD_WARN : HD_INFO, "VM %s: %s: %s", v->name,
         hd_state_name(state), reason);
  v->pid = 0;
  v->started_ns = 0;
  v->is_child = v->proc_alive = v->adopted_gone = v->child_signaled = false;
  v->stop_phase = 0;
  set_str(&v->stop_note, NULL);
  if (v->app_exit) hpvm__app_exit__free_unpacked(v->app_exit, NULL);
  v->app_exit = NULL;
  set_str(&v->migrated_to, NULL);
  memset(&v->status, 0, sizeof v->status);
  if (migrated[0]) snprintf(line, sizeof line, "VM migrated to host %.255s: it runs there now", migrated);
  else snprintf(line, sizeof line, "VM %s: %.1200s", hd_state_name(state), reason);
  hd_console_event(v, line);
  hd_drain_kick(d);
  if (start_failed) {
    snprintf(line, sizeof line, "VM %.255s did not start: %.1200s", v->name, reason);
    answer_waiters(v, 1u << HD_WAIT_START, HPVM_EIO, line);
  }
  snprintf(line, sizeof line, "VM %.255s stopped before the request was done: %.1200s", v->name, reason);
  answer_waiters(v, 1u << HD_WAIT_PAUSE | 1u << HD_WAIT_SCHED, HPVM_ESTATE, line);
  answer_waiters(v, 1u << HD_WAIT_STOP, 0, NULL);
  answer_waiters(v, 1u << HD_WAIT_REMOVE, 0, NULL);   /* last: it may free v */
}

static void maybe_finalize(hd_vm *v) {
  if (v->app || !hd_vm_running(v)) return;
  if (v->is_child ? v->proc_alive : !v->adopted_gone) return;
  finalize(v);
}

static void on_proc_closed(uv_handle_t *h) {
  free(h);
}

static void on_child_exit(uv_process_t *p, int64_t exit_status, int term_signal) {
  hd_vm *v = p->data;
  v->proc_alive = false;
  v->child_signaled = term_signal != 0;
  v->child_exit = term_signal ? 128 + term_signal : (int)exit_status;
  uv_close((uv_handle_t *)p, on_proc_closed);
  v->proc = NULL;
  /* The kernel closed hpvmapp's end of the socketpair: what it sent last is still to be
   * read, and the read side's end of file finalizes. Without a connection, finalize now. */
  maybe_finalize(v);
}

/* ---- Starting --------------------------------------------------------------------------------- */

static int open_app_log(hd_vm *v) {
  char path[4500], old[4510];
  snprintf(path, sizeof path, "%s/app.log", v->run_dir);
  struct stat st;
  if (stat(path, &st) == 0 && st.st_size > APP_LOG_ROTATE) {
    snprintf(old, sizeof old, "%s.1", path);
    rename(path, old);
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd >= 0) {
    char line[200];
    int64_t now = hd_wall_ns() / 1000000000;
    int n = snprintf(line, sizeof line, "---- hpvmd starts the VM (unix time %lld) ----\n", (long long)now);
    if (write(fd, line, (size_t)n) < 0) { /* only a marker */ }
  }
  return fd;
}

static void on_start_timeout(uv_timer_t *t) {
  hd_vm *v = t->data;
  if (v->hello_seen || !v->pid) return;
  hd_log(v->d, HD_WARN, "VM %s: hpvmapp pid %d did not start the VM within %d s; killing it", v->name, (int)v->pid,
         START_TIMEOUT_MS / 1000);
  char why[100];
  snprintf(why, sizeof why, "hpvmapp did not start the VM within %d s; killed", START_TIMEOUT_MS / 1000);
  set_str(&v->stop_note, why);
  v->stop_phase = 3;
  kill(v->pid, SIGKILL);
}

/* A host core's clock in MHz (0: unknown), to turn an entitlement in cycles (-E) into the
 * share of a core the scheduler works with. Read as hpvm's commands read it. */
static unsigned host_core_mhz(void) {
  unsigned long khz = 0;
  FILE *f = fopen("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "r");
  if (f) {
    if (fscanf(f, "%lu", &khz) != 1) khz = 0;
    fclose(f);
    if (khz) return (unsigned)(khz / 1000);
  }
  if (!(f = fopen("/proc/cpuinfo", "r"))) return 0;
  char line[256];
  double mhz = 0;
  while (fgets(line, sizeof line, f)) {
    const char *colon = strchr(line, ':');
    if (!strncmp(line, "cpu MHz", 7) && colon && sscanf(colon + 1, "%lf", &mhz) == 1) break;
  }
  fclose(f);
  return mhz > 0 && mhz < 1e6 ? (unsigned)(mhz + 0.5) : 0;
}

int hd_entitlement_of(const Hpvm__VmConfig *cfg, unsigned *ent, unsigned *cap, char *why, size_t len) {
  const Hpvm__VmEntitlement *e = cfg->entitlement;
  *ent = 10;   /* HPVM's default */
  *cap = 0;
  if (!e || (!e->value && e->unit != HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT)) return 0;   /* -e 0: best-effort */
  if (e->unit == HPVM__VM_ENTITLEMENT__UNIT__UNIT_CYCLES) {
    unsigned mhz = host_core_mhz();
    if (!mhz) {
      snprintf(why, len, "VM %s's entitlement is in MHz (-E) and this host's core clock is unknown; give it in "
               "percent with -e", cfg->name);
      return HPVM_ENOTSUP;
    }
    *ent = (unsigned)(((uint64_t)e->value * 100 + mhz - 1) / mhz);
    *cap = e->max ? (unsigned)(((uint64_t)e->max * 100 + mhz - 1) / mhz) : 0;
  } else {
    *ent = e->value;
    *cap = e->max;
  }
  /* 0 %: best-effort, passed on as is */
  if (*ent > 100) *ent = 100;
  if (*cap && *cap < *ent) *cap = *ent;
  if (*cap > 100) *cap = 100;
  return 0;
}

/* Spawn hpvmapp for cfg. 0, or an error with why filled. */
int hd_spawn(hd_vm *v, const Hpvm__VmConfig *cfg, const int *fds, unsigned nfds, char *why, size_t len) {
  hd_daemon *d = v->d;
  char incoming[16 * 4 + 8] = "";
  if (mkdir(v->run_dir, 0750) && errno != EEXIST) {
    snprintf(why, len, "cannot create %s: %s", v->run_dir, strerror(errno));
    return HPVM_EIO;
  }
  unlink_in(v->run_dir, "exit");
  char mem[32], cpus[16], entitle[32];
  unsigned ent, cap;
  int rc = hd_entitlement_of(cfg, &ent, &cap, why, len);
  if (rc) return rc;
  snprintf(mem, sizeof mem, "%llu", (unsigned long long)cfg->memory_bytes);
  snprintf(cpus, sizeof cpus, "%u", cfg->vcpus);
  if (cap) snprintf(entitle, sizeof entitle, "%u:%u", ent, cap);
  else snprintf(entitle, sizeof entitle, "%u", ent);
  const char *args[64 + 2 * STO_DEVICES_MAX];
  size_t n = 0, ndisk = 0;
  if (nfds > 16) return snprintf(why, len, "at most 16 migration channels"), HPVM_EINVAL;
  for (unsigned i = 0; i < nfds; i++)   /* the channels become fds 4, 5, ... */
    snprintf(incoming + strlen(incoming), sizeof incoming - strlen(incoming), "%s%u", i ? "," : "", 4 + i);
  args[n++] = d->hpvmapp;
  args[n++] = "--control-fd", args[n++] = "3";
  args[n++] = "--name", args[n++] = v->name;
  args[n++] = "--run-dir", args[n++] = v->run_dir;
  if (v->resume_from) args[n++] = "--restore", args[n++] = v->resume_from;   /* hpvmresume */
  else args[n++] = "--kernel", args[n++] = cfg->kernel;
  args[n++] = "--memory", args[n++] = mem;
  args[n++] = "--cpus", args[n++] = cpus;
  args[n++] = "--entitlement", args[n++] = entitle;
  args[n++] = "--sched-dir", args[n++] = d->o.state_dir;   /* one scheduler for the host's guests */
  if (!v->resume_from && cfg->cmdline && *cfg->cmdline) args[n++] = "--args", args[n++] = cfg->cmdline;
  if (nfds) args[n++] = "--incoming", args[n++] = incoming;   /* live migration target */
  for (size_t i = 0; i < cfg->n_attributes; i++)   /* -x mem_image=FILE: RAM preloaded at boot (benchmarks) */
    if (!v->resume_from && !nfds && !strcmp(cfg->attributes[i]->key, "mem_image") && cfg->attributes[i]->value &&
        *cfg->attributes[i]->value)
      args[n++] = "--mem-image", args[n++] = cfg->attributes[i]->value;
  for (size_t i = 0; i < cfg->n_devices; i++) {
    const Hpvm__VmStorageDevice *dev = cfg->devices[i];
    if (dev->backing != HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_FILE &&
        dev->backing != HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_DISK)
      continue;
    if (++ndisk > 16) {
      snprintf(why, len, "VM %s has more than 16 disks with backing storage; the platform has 16 avio_stor slots",
               v->name);
      return HPVM_ENOTSUP;
    }
    args[n++] = "--disk", args[n++] = dev->path;
  }
  args[n] = NULL;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
    snprintf(why, len, "cannot create a socketpair: %s", strerror(errno));
    return HPVM_EIO;
  }
  int log_fd = open_app_log(v);
  if (log_fd < 0) {
    snprintf(why, len, "cannot open %s/app.log: %s", v->run_dir, strerror(errno));
    close(sv[0]), close(sv[1]);
    return HPVM_EIO;
  }
  uv_stdio_container_t io[4 + 16];
  io[0].flags = UV_IGNORE;
  io[1].flags = UV_INHERIT_FD, io[1].data.fd = log_fd;
  io[2].flags = UV_INHERIT_FD, io[2].data.fd = log_fd;
  io[3].flags = UV_INHERIT_FD, io[3].data.fd = sv[1];
  for (unsigned i = 0; i < nfds; i++) io[4 + i].flags = UV_INHERIT_FD, io[4 + i].data.fd = fds[i];
  uv_process_options_t po = {0};
  po.file = d->hpvmapp;
  po.args = (char **)args;
  po.exit_cb = on_child_exit;
  po.flags = UV_PROCESS_DETACHED;   /* setsid: its own session, it outlives hpvmd */
  po.stdio_count = 4 + (int)nfds;
  po.stdio = io;
  uv_process_t *p = calloc(1, sizeof *p);
  rc = p ? uv_spawn(d->loop, p, &po) : UV_ENOMEM;
  close(sv[1]);
  close(log_fd);
  if (rc) {
    snprintf(why, len, "cannot run %s: %s", d->hpvmapp, uv_strerror(rc));
    if (p) uv_close((uv_handle_t *)p, on_proc_closed);
    close(sv[0]);
    return HPVM_EIO;
  }
  p->data = v;
  v->proc = p;
  v->pid = p->pid;
  v->is_child = v->proc_alive = true;
  v->adopted_gone = v->child_signaled = v->hello_seen = false;
  v->stop_phase = 0;
  set_str(&v->stop_note, NULL);
  v->state = nfds ? HPVM__VM_RUN_STATE__VM_RUN_STATE_INCOMING : HPVM__VM_RUN_STATE__VM_RUN_STATE_BOOTING;
  v->memory_bytes = cfg->memory_bytes;
  v->entitlement = ent;
  v->cap = cap;
  v->started_ns = hd_wall_ns();
  set_str(&v->reason, NULL);
  memset(&v->status, 0, sizeof v->status);
  if (app_open(v, sv[0])) {
    /* Without its connection the VM cannot be managed: stop it at once. */
    kill(v->pid, SIGKILL);
    set_str(&v->stop_note, "hpvmd could not talk to hpvmapp; killed");
  }
  unlink_in(v->run_dir, "last");
  uv_timer_start(&v->timer, on_start_timeout, START_TIMEOUT_MS, 0);
  return 0;
}

int hd_vm_start(hd_daemon *d, const char *name, hd_vm **out, char *why, size_t len) {
  *out = NULL;
  hd_vm *v = hd_vm_find(d, name);
  if (v && v->incoming) {
    snprintf(why, len, "VM %s is migrating in to this host; it runs on the source host until then", name);
    return HPVM_ESTATE;
  }
  if (v && hd_vm_running(v)) {
    snprintf(why, len, "VM %s is already %s (hpvmapp pid %d)", name, hd_state_name(v->state), (int)v->pid);
    return HPVM_ESTATE;
  }
  if (hd_drain_refuses_guests(d, why, len)) return HPVM_EBUSY;   /* draining or in maintenance */
  Hpvm__VmConfig *cfg = NULL;
  int rc = sto_vm_load(d->sto, name, &cfg);
  if (rc) {
    snprintf(why, len, "%s", sto_error(d->sto));
    return rc;
  }
  if ((rc = sto_vm_runnable_on(cfg, sto_host(d->sto), why, len))) {
    /* Not Runnable here (after a migration: "migrated to B"), or not registered here */
  } else if (!cfg->kernel || !*cfg->kernel) {
    snprintf(why, len, "VM %s has no guest kernel; give it one with hpvmmodify -P %s -K FILE", name, name);
    rc = HPVM_EINVAL;
  } else if ((rc = hd_host_check(d, cfg, why, len)) == 0) {
    v = hd_vm_get(d, name);
    if (!v) {
      snprintf(why, len, "hpvmd is out of memory");
      rc = HPVM_ENOMEM;
    } else if ((rc = lease_take(v, why, len)) == 0) {
      rc = hd_spawn(v, cfg, NULL, 0, why, len);
      if (rc) lease_drop(v);
      else *out = v;
    }
  }
  sto_vm_free(cfg);
  return rc;
}

void hd_cmd_start(hd_daemon *d, const hd_req *q) {
  const char *name = q->r->start->name;
  if (!name || !*name)
    return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_EINVAL, "hpvmstart: no VM name; give one with -P NAME");
  char why[1200];
  hd_vm *v;
  int rc = hd_vm_start(d, name, &v, why, sizeof why);
  if (rc) return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, rc, "%s", why);
  hd_log(d, HD_INFO, "%s starts VM %s: hpvmapp pid %d", q->user, name, (int)v->pid);
  hd_ha_reset(d, name);   /* hpvmstart re-enables HA restarts that the throttle stopped */
  hd_waiter_add(v, HD_WAIT_START, q, false);
}

void hd_autostart(hd_daemon *d) {
  sto_vm_entry *e = NULL;
  size_t n = 0;
  if (sto_vm_list(d->sto, &e, &n)) return;
  for (size_t i = 0; i < n; i++) {
    if (!e[i].cfg || e[i].cfg->boot != HPVM__VM_BOOT_MODE__VM_BOOT_MODE_AUTO) continue;
    if (sto_vm_runnable_on(e[i].cfg, sto_host(d->sto), NULL, 0)) continue;   /* Off (NR) here: not ours to boot */
    hd_vm *v = hd_vm_find(d, e[i].name);
    if (v && (hd_vm_running(v) || v->state == HPVM__VM_RUN_STATE__VM_RUN_STATE_CRASH)) continue;
    sto_lease l;
    if (sto_lease_read(d->sto, e[i].name, &l) == 0 && l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD &&
        strcmp(l.owner, sto_host(d->sto)))
      continue;
    char why[1200];
    if (hd_vm_start(d, e[i].name, &v, why, sizeof why)) hd_log(d, HD_WARN, "autostart of VM %s: %s", e[i].name, why);
    else hd_log(d, HD_INFO, "autostart: VM %s (boot mode auto), hpvmapp pid %d", e[i].name, (int)v->pid);
  }
  sto_vm_list_free(e, n);
}

/* ---- Stopping --------------------------------------------------------------------------------- */

static void on_kill_timer(uv_timer_t *t) {
  hd_vm *v = t->data;
  if (!hd_vm_running(v) || !v->pid) return;
  hd_log(v->d, HD_WARN, "VM %s: hpvmapp pid %d did not power off within %d s; killing it", v->name, (int)v->pid,
         HD_KILL_GRACE_MS / 1000);
  v->stop_phase = 3;
  kill(v->pid, SIGKILL);
}

static void send_shutdown(hd_vm *v, bool graceful) {
  Hpvm__AppShutdown s = HPVM__APP_SHUTDOWN__INIT;
  Hpvm__AppCommand c = HPVM__APP_COMMAND__INIT;
  s.graceful = graceful;
  c.body_case = HPVM__APP_COMMAND__BODY_SHUTDOWN;
  c.shutdown = &s;
  if (hd_vm_send(v, &c) && !graceful && v->pid) kill(v->pid, SIGKILL);   /* no connection: no other way */
}

void hd_vm_power_off(hd_vm *v, const char *why) {
  if (!hd_vm_running(v) || v->stop_phase >= 2) return;
  set_str(&v->stop_note, why);
  v->stop_phase = 2;
  v->state = HPVM__VM_RUN_STATE__VM_RUN_STATE_STOPPING;
  send_shutdown(v, false);
  uv_timer_start(&v->timer, on_kill_timer, HD_KILL_GRACE_MS, 0);
}

static void on_graceful_timeout(uv_timer_t *t) {
  hd_vm *v = t->data;
  char why[200];
  snprintf(why, sizeof why, "graceful stop timed out; powered off");
  hd_log(v->d, HD_INFO, "VM %s: %s", v->name, why);
  hd_vm_power_off(v, why);
}

void hd_cmd_stop(hd_daemon *d, const hd_req *q) {
  const Hpvm__StopVmRequest *s = q->r->stop;
  if (!s->name || !*s->name)
    return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_EINVAL, "hpvmstop: no VM name; give one with -P NAME");
  hd_vm *v = hd_vm_find(d, s->name);
  if (v && v->incoming)
    return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_ESTATE,
                           "VM %s is migrating in to this host and still runs on the source host; stop it there "
                           "(or cancel the migration there with hpvmmigrate -P %s --cancel)", s->name, s->name);
  if (!v || !hd_vm_running(v)) {
    Hpvm__VmConfig *cfg = NULL;
    int rc = sto_vm_load(d->sto, s->name, &cfg);
    sto_vm_free(cfg);
    if (rc) return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, rc, "%s", sto_error(d->sto));
    sto_lease l;
    if (sto_lease_read(d->sto, s->name, &l) == 0 && l.state == HPVM__LEASE_STATE__LEASE_STATE_HELD &&
        strcmp(l.owner, sto_host(d->sto)))
      return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_ESTATE,
                             "VM %s runs on host %s; stop it there", s->name, l.owner);
    return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_ESTATE, "VM %s is %s; there is nothing to stop",
                           s->name, v ? hd_state_name(v->state) : "Off");
  }
  if (s->mode == HPVM__STOP_MODE__STOP_MODE_GRACEFUL) {
    if (v->stop_phase == 0) {
      uint32_t ms = s->timeout_ms ? s->timeout_ms : d->o.stop_timeout_ms;
      v->stop_phase = 1;
      set_str(&v->stop_note, "stopped gracefully (hpvmstop -g)");
      v->state = HPVM__VM_RUN_STATE__VM_RUN_STATE_STOPPING;
      send_shutdown(v, true);
      uv_timer_start(&v->timer, on_graceful_timeout, ms, 0);
      hd_log(d, HD_INFO, "%s stops VM %s gracefully (power-off in %u ms)", q->user, s->name, ms);
    }
  } else {
    hd_log(d, HD_INFO, "%s powers VM %s off", q->user, s->name);
    hd_vm_power_off(v, "powered off (hpvmstop)");
  }
  if (s->no_wait) answer_status(v, q->c, q->r->id, q->user, q->cmdline);
  else hd_waiter_add(v, HD_WAIT_STOP, q, false);
}

void hd_cmd_pause(hd_daemon *d, const hd_req *q) {
  const Hpvm__PauseVmRequest *p = q->r->pause;
  if (!p->name || !*p->name)
    return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_EINVAL, "no VM name; give one with -P NAME");
  hd_vm *v = hd_vm_find(d, p->name);
  int want = p->resume ? HPVM__VM_RUN_STATE__VM_RUN_STATE_PAUSED : HPVM__VM_RUN_STATE__VM_RUN_STATE_ON;
  if (!v || v->state != want)
    return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_ESTATE, "VM %s is %s; it can only be %s when %s",
                           p->name, v ? hd_state_name(v->state) : "Off", p->resume ? "resumed" : "paused",
                           p->resume ? "Paused" : "On");
  Hpvm__AppCommand c = HPVM__APP_COMMAND__INIT;
  c.body_case = HPVM__APP_COMMAND__BODY_PAUSE;
  c.pause = !p->resume;
  int rc = hd_vm_send(v, &c);
  if (rc) return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, rc, "VM %s: hpvmapp does not answer", p->name);
  hd_waiter_add(v, HD_WAIT_PAUSE, q, false);
}

/* ---- Restart of hpvmd: re-attaching ----------------------------------------------------------- */

static bool is_hpvmapp(pid_t pid) {
  char path[64], comm[64] = "";
  snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return false;
  bool ok = fgets(comm, sizeof comm, f) && !strncmp(comm, "hpvmapp", 7);
  fclose(f);
  return ok;
}

static void reattach_one(hd_daemon *d, const char *name) {
  char dir[4400], buf[64];
  snprintf(dir, sizeof dir, "%s/vms/%s", d->o.state_dir, name);
  bool has_pid = read_text(dir, "app.pid", buf, sizeof buf) == 0;
  char exitbuf[64];
  bool has_exit = read_text(dir, "exit", exitbuf, sizeof exitbuf) == 0;
  hd_vm *v = NULL;
  if (!has_pid && has_exit) {
    /* It ended while no hpvmd was there (hpvmapp removes its pidfile last). */
    if (!(v = hd_vm_get(d, name))) return;
    v->is_child = false;
    v->hello_seen = true;
    v->adopted_gone = true;
    v->state = HPVM__VM_RUN_STATE__VM_RUN_STATE_BOOTING;
    finalize(v);
    return;
  }
  if (!has_pid) {
    /* Not running: remember how its last run ended, if we know. */
    if (read_text(dir, "last", buf, sizeof buf) == 0 && (v = hd_vm_get(d, name))) load_last(v);
    return;
  }
  v = hd_vm_get(d, name);
  if (!v) return;
  v->pid = (pid_t)atoi(buf);
  v->is_child = false;
  v->hello_seen = true;           /* it said hello to the hpvmd that started it */
  v->state = HPVM__VM_RUN_STATE__VM_RUN_STATE_BOOTING;
  struct sockaddr_un a;
  int dirfd;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && wire_unix_addr(dir, "app.sock", &a, &dirfd) == 0) {
    int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    if (dirfd >= 0) close(dirfd);
    if (rc == 0 && app_open(v, fd) == 0) {
      hd_log(d, HD_INFO, "VM %s: re-attaching to hpvmapp pid %d (its lease is taken again at its hello)", name,
             (int)v->pid);
      return;
    }
  }
  if (fd >= 0) close(fd);
  /* Nobody answers on its socket: it ended while no hpvmd was there (the exit file says
   * how), or died, or hangs. */
  if (pid_alive(v->pid) && is_hpvmapp(v->pid) &&
      read_text(dir, "exit", buf, sizeof buf) != 0) {
    hd_log(d, HD_WARN, "VM %s: hpvmapp pid %d is alive but does not answer on app.sock; killing it", name, (int)v->pid);
    kill(v->pid, SIGKILL);
  }
  v->adopted_gone = true;
  finalize(v);
}

void hd_reattach_all(hd_daemon *d) {
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/vms", d->o.state_dir);
  DIR *dh = opendir(dir);
  if (!dh) return;
  struct dirent *e;
  while ((e = readdir(dh)))
    if (e->d_name[0] != '.') reattach_one(d, e->d_name);
  closedir(dh);
}

void hd_detach_all(hd_daemon *d) {
  while (d->vms) {
    hd_vm *v = d->vms;
    d->vms = v->next;
    if (v->mig) hd_mig_abort(v, "hpvmd stopped; without it the handoff cannot happen, so the guest stays here");
    app_close(v);
    if (v->proc) {
      uv_close((uv_handle_t *)v->proc, on_proc_closed);   /* closing the handle does not kill it */
      v->proc = NULL;
    }
    while (v->waiters) {
      hd_waiter *w = v->waiters;
      v->waiters = w->next;
      waiter_free(w);
    }
    while (v->viewers) {
      hd_viewer *w = v->viewers;
      v->viewers = w->next;
      free(w);
    }
    uv_close((uv_handle_t *)&v->timer, free_vm);
  }
}

/* ---- Leases and liveness, every lease_renew_ms ------------------------------------------------ */

/* Power v off because it may not run here any more; the lease is left alone (not released:
 * either another host holds it, or this one cannot write it and lets it expire). */
static void fence(hd_vm *v, const char *why) {
  v->have_lease = false;
  hd_log(v->d, HD_ERR, "VM %s: %s", v->name, why);
  hd_vm_power_off(v, why);
}

/* A guest that runs here without its lease (re-attached, and the lease could not be taken at
 * its hello): take it now; stop the guest when another host holds it, or when the storage
 * keeps refusing until the fence time. */
static void lease_retake(hd_vm *v, uint64_t now) {
  hd_daemon *d = v->d;
  char why[600], line[800];
  int rc = lease_take(v, why, sizeof why);
  if (rc == 0) {
    hd_log(d, HD_INFO, "VM %s: took its lease again", v->name);
    return;
  }
  /* Another host's: one renewal period's grace after the re-attach, for a source frozen in a
   * migration to ask what became of its handoff (the answer ends its run here). */
  uint64_t renew = (uint64_t)d->o.lease_renew_ms * 1000000, fence_at = v->lease_ok_mono_ns + d->o.lease_fence_ms * 1000000ull;
  if (rc == HPVM_EBUSY ? now < v->lease_ok_mono_ns + renew : now + renew < fence_at) {
    hd_log(d, HD_WARN, "VM %s: runs without its lease, which cannot be taken (will retry): %s", v->name, why);
    return;
  }
  snprintf(line, sizeof line, "runs without its lease (%.600s); powered off so that only one host runs it", why);
  fence(v, line);
}

/* Renew v's lease (the test fault points hpvmd-lease-renew and, while it migrates out,
 * hpvmd-lease-renew-migrating make the storage refuse). */
static int lease_renew(hd_vm *v, char *why, size_t len) {
  hd_daemon *d = v->d;
  if (hpvm_test_fault(v->mig ? "hpvmd-lease-renew-migrating" : "hpvmd-lease-renew"))
    return snprintf(why, len, "the shared storage refused the write (test fault)"), HPVM_EIO;
  int rc = sto_lease_renew(d->sto, v->name, &v->lease);
  if (rc) snprintf(why, len, "%s", sto_error(d->sto));
  return rc;
}

/* Every running guest's lease is renewed; one that cannot be is stopped before the lease can
 * expire for another host (self-fencing): at the last tick before the fence deadline
 * (lease_fence_ms after the last renewal that began successfully, lease_timeout_ms -
 * lease_fence_ms before any other host may take it over). That includes a guest paused in
 * the middle of a migration out (its lease is this host's until the handover) and the target
 * of one once it adopted the lease; an incoming guest that has not adopted it runs nowhere. */
void hd_tick(hd_daemon *d) {
  if (d->have_live && sto_liveness_renew_keep(d->sto, &d->live))   /* LEFT stays LEFT */
    hd_log(d, HD_WARN, "cannot renew this host's liveness record: %s", sto_error(d->sto));
  uint64_t now = hd_mono_ns();
  for (hd_vm *v = d->vms; v; v = v->next) {
    if (!hd_vm_running(v)) continue;
    if (!v->have_lease) {
      bool runs = v->state == HPVM__VM_RUN_STATE__VM_RUN_STATE_ON || v->state == HPVM__VM_RUN_STATE__VM_RUN_STATE_PAUSED;
      if (runs && !v->migrated_to && !v->incoming) lease_retake(v, now);
      continue;
    }
    char err[600], why[900];
    int rc = lease_renew(v, err, sizeof err);
    if (rc == 0) {
      v->lease_ok_mono_ns = now;
      hd_vm_lease_tell(v);
      continue;
    }
    uint64_t deadline = v->lease_ok_mono_ns + (uint64_t)d->o.lease_fence_ms * 1000000;
    if (rc == HPVM_EBUSY) {
      snprintf(why, sizeof why, "lease lost to host %s; powered off so that only one host runs it", v->lease.owner);
      fence(v, why);
    } else if (now + (uint64_t)d->o.lease_renew_ms * 1000000 >= deadline) {
      snprintf(why, sizeof why, "its lease could not be renewed for %llu ms (%.600s); powered off before it can "
               "expire (self-fencing)", (unsigned long long)((now - v->lease_ok_mono_ns) / 1000000), err);
      fence(v, why);
    } else {
      hd_log(d, HD_WARN, "VM %s: lease renewal failed (will retry): %s", v->name, err);
    }
  }
}
