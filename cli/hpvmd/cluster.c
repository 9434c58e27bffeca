/* cluster.c — cluster-wide hpvmstatus: live details of guests that other hosts run.
 *
 * This host answers hpvmstatus (list, or -P name) from shared storage first (vmcmd.c): a
 * guest another host runs is ELSEWHERE with its owner (the lease), one whose owner is dead
 * is UNKNOWN. What only the owner knows (pid, instructions retired, memory use, console log,
 * start time) is then asked of each owner over the peer channel, all at once:
 *
 *   loop thread: rows ELSEWHERE on hosts other than this one? none: answer now
 *        | else: copy the answer (pack + unpack), one target per owner host (its peer
 *        v       address from its liveness record), one uv_work
 *   worker: one thread per owner: connect, chan_client, PeerRequest.status_query,
 *        |  PeerAnswer.vms, all within the deadline (nine tenths of the gossip probe timeout,
 *        v  at least QUERY_MIN_MS); the worker joins them, so the whole command, with its own
 *           few ms, answers within one probe timeout
 *   loop thread: each owner's rows get what it says live of them; an owner that did not
 *        answer in time leaves its rows from storage, UNKNOWN with a note; answer the client
 *        (or, if it went away meanwhile, nothing)
 *
 * The owner's side (hd_cluster_status_query, called by peer.c) fills a VmStatus for each
 * guest it runs (or the one named) and answers on the loop thread, where the VM table lives. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "internal.h"
#include "peer.pb-c.h"

/* The floor of the per-query deadline: a channel handshake takes a few ms, more on a busy
 * host; a 100 ms test probe (50 ms timeout) would otherwise mark live hosts unanswered. */
#define QUERY_MIN_MS 100
#define ANSWER_TIMEOUT_MS 2000

typedef struct cq_target {
  char host[STO_NAME_MAX + 1];
  char address[128];
  chan_config cc;
  uint64_t deadline_ns;
  pthread_t thread;
  bool started;
  int rc;
  char msg[400];
  Hpvm__PeerAnswer *ans;
  const char *name;               /* the guest (-P), or "" */
} cq_target;

struct hd_cquery {
  hd_daemon *d;
  uv_work_t work;
  hd_client *client;              /* NULL once it went away */
  uint64_t req_id;
  char *user;
  Hpvm__Response *resp;           /* the answer from storage, a heap copy */
  char *name;
  cq_target *targets;
  size_t ntargets;
  unsigned timeout_ms;
  hd_cquery *next;
};

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int left_ms(uint64_t deadline_ns) {
  uint64_t now = mono_ns();
  return now >= deadline_ns ? 0 : (int)((deadline_ns - now + 999999) / 1000000);
}

unsigned hd_cluster_query_timeout_ms(const hd_daemon *d) {
  clu_config c;
  clu_config_defaults(&c);
  unsigned p = d->o.gossip_probe_ms ? d->o.gossip_probe_ms : c.probe_interval_ms;
  unsigned t = p / 2 - p / 20;   /* member.c: probe timeout = interval / 2; a tenth is left for the rest */
  return t < QUERY_MIN_MS ? QUERY_MIN_MS : t;
}

/* ---- The owner's side ------------------------------------------------------------------------- */

static bool want(const hd_vm *v, const char *name) {
  return hd_vm_running(v) && (!name || !*name || !strcmp(v->name, name));
}

void hd_cluster_status_query(hd_daemon *d, chan *ch, const Hpvm__StatusQuery *q) {
  size_t n = 0;
  for (hd_vm *v = d->vms; v; v = v->next) n += want(v, q->name);
  Hpvm__VmStatus *st = calloc(n ? n : 1, sizeof *st);
  Hpvm__VmStatus **ptrs = calloc(n ? n : 1, sizeof *ptrs);
  Hpvm__VmConfig **cfgs = calloc(n ? n : 1, sizeof *cfgs);
  Hpvm__VmConfig *stubs = calloc(n ? n : 1, sizeof *stubs);
  char (*owners)[STO_NAME_MAX + 1] = calloc(n ? n : 1, sizeof *owners);
  Hpvm__PeerAnswer a = HPVM__PEER_ANSWER__INIT;
  a.host = (char *)sto_host(d->sto);
  a.message = "";
  size_t i = 0;
  if (!st || !ptrs || !cfgs || !stubs || !owners) {
    a.error = HPVM_ENOMEM;
    a.message = "hpvmd is out of memory";
  } else {
    for (hd_vm *v = d->vms; v && i < n; v = v->next) {
      if (!want(v, q->name)) continue;
      hpvm__vm_status__init(&st[i]);
      hpvm__vm_config__init(&stubs[i]);
      stubs[i].name = v->name;
      if (sto_vm_load(d->sto, v->name, &cfgs[i])) cfgs[i] = NULL;
      hd_fill_status(d, cfgs[i] ? cfgs[i] : &stubs[i], v->name, &st[i], owners[i]);
      ptrs[i] = &st[i];
      i++;
    }
    a.vms = ptrs;
    a.n_vms = i;
  }
  char msg[600];
  if (chan_send(ch, &a.base, NULL, 0, ANSWER_TIMEOUT_MS, msg, sizeof msg))
    hd_log(d, HD_WARN, "cannot answer the status query of host %s: %s", chan_peer(ch), msg);
  chan_close(ch);
  for (size_t k = 0; k < i; k++) sto_vm_free(cfgs[k]);
  free(st), free(ptrs), free(cfgs), free(stubs), free(owners);
}

/* ---- The asking side: worker threads ---------------------------------------------------------- */

static void *ask_one(void *arg) {
  cq_target *t = arg;
  chan *ch = NULL;
  int fd = hd_peer_connect(t->address, left_ms(t->deadline_ns), t->msg, sizeof t->msg);
  if (fd < 0) {
    t->rc = HPVM_EUNAVAIL;
    return NULL;
  }
  t->cc.timeout_ms = left_ms(t->deadline_ns) ? left_ms(t->deadline_ns) : 1;
  t->rc = chan_client(fd, &t->cc, t->host, &ch, t->msg, sizeof t->msg);
  Hpvm__StatusQuery sq = HPVM__STATUS_QUERY__INIT;
  Hpvm__PeerRequest r = HPVM__PEER_REQUEST__INIT;
  sq.name = (char *)t->name;
  r.body_case = HPVM__PEER_REQUEST__BODY_STATUS_QUERY;
  r.status_query = &sq;
  if (!t->rc) t->rc = hd_peer_ask(ch, &r, left_ms(t->deadline_ns) + 1, left_ms(t->deadline_ns) + 1, &t->ans, t->msg,
                                  sizeof t->msg);
  if (t->rc == 1) {
    snprintf(t->msg, sizeof t->msg, "closed the connection without an answer");
    t->rc = HPVM_ETRUNC;
  }
  if (ch) chan_close(ch);
  return NULL;
}

/* One pool thread for the whole query: a thread per owner, all joined. */
static void ask_all(uv_work_t *w) {
  hd_cquery *q = w->data;
  uint64_t deadline = mono_ns() + (uint64_t)q->timeout_ms * 1000000ull;
  for (size_t i = 0; i < q->ntargets; i++) {
    cq_target *t = &q->targets[i];
    if (t->rc) continue;                            /* no address: already noted */
    t->deadline_ns = deadline;
    t->name = q->name ? q->name : "";
    if (pthread_create(&t->thread, NULL, ask_one, t)) {
      t->rc = HPVM_ENOMEM;
      snprintf(t->msg, sizeof t->msg, "cannot start a thread: %s", strerror(errno));
    } else {
      t->started = true;
    }
  }
  for (size_t i = 0; i < q->ntargets; i++)
    if (q->targets[i].started) pthread_join(q->targets[i].thread, NULL);
}

/* ---- The asking side: loop thread -------------------------------------------------------------- */

static Hpvm__VmStatus **rows_of(Hpvm__Response *r, size_t *n) {
  if (r->body_case == HPVM__RESPONSE__BODY_LIST) return *n = r->list->n_vms, r->list->vms;
  if (r->body_case == HPVM__RESPONSE__BODY_VM) return *n = 1, &r->vm;
  return *n = 0, NULL;
}

static bool remote_row(const hd_daemon *d, const Hpvm__VmStatus *s) {
  return s->state == HPVM__VM_RUN_STATE__VM_RUN_STATE_ELSEWHERE && s->host && *s->host &&
         strcmp(s->host, sto_host(d->sto));
}

static const char *row_name(const Hpvm__VmStatus *s) {
  return s->config && s->config->name ? s->config->name : "";
}

static void set_str(char **field, const char *text) {
  char *copy = strdup(text);
  if (!copy) return;
  if (*field && *field != protobuf_c_empty_string) free(*field);
  *field = copy;
}

static void cquery_free(hd_cquery *q) {
  for (hd_cquery **p = &q->d->cqueries; *p; p = &(*p)->next)
    if (*p == q) {
      *p = q->next;
      break;
    }
  for (size_t i = 0; i < q->ntargets; i++)
    if (q->targets[i].ans) hpvm__peer_answer__free_unpacked(q->targets[i].ans, NULL);
  if (q->resp) hpvm__response__free_unpacked(q->resp, NULL);
  free(q->targets), free(q->user), free(q->name), free(q);
}

/* What the owner knows live goes into the row from storage. The row stays ELSEWHERE (runs on
 * another host: hpvmstatus's "On (OS)" with that host) while the owner runs it On; a state
 * the owner reports otherwise (Paused, Stopping, On (EFI)) is taken as it is. */
static void merge_row(Hpvm__VmStatus *row, Hpvm__VmStatus *live) {
  if (live->state != HPVM__VM_RUN_STATE__VM_RUN_STATE_ON) row->state = live->state;
  if (live->reason && *live->reason) set_str(&row->reason, live->reason);
  if (live->console_log) set_str(&row->console_log, live->console_log);
  row->pid = live->pid;
  row->started_ns = live->started_ns;
  row->exit_status = live->exit_status;
  row->retired = live->retired;
  row->rss_bytes = live->rss_bytes;
  row->viewers = live->viewers;
}

static void merge_answer(hd_cquery *q, cq_target *t, Hpvm__VmStatus **rows, size_t n) {
  for (size_t j = 0; j < t->ans->n_vms; j++) {
    Hpvm__VmStatus *live = t->ans->vms[j];
    for (size_t i = 0; i < n; i++) {
      if (remote_row(q->d, rows[i]) && !strcmp(rows[i]->host, t->host) && !strcmp(row_name(rows[i]), row_name(live))) {
        merge_row(rows[i], live);
        break;
      }
    }
  }
}

/* No answer in time: the rows stay as storage says, Unknown, with why. */
static void mark_unanswered(hd_cquery *q, cq_target *t, Hpvm__VmStatus **rows, size_t n) {
  char note[1100];
  snprintf(note, sizeof note, "last known state On (from shared storage); host %s did not answer within %u ms: %s",
           t->host, q->timeout_ms, t->msg);
  for (size_t i = 0; i < n; i++) {
    if (!remote_row(q->d, rows[i]) || strcmp(rows[i]->host, t->host)) continue;
    rows[i]->state = HPVM__VM_RUN_STATE__VM_RUN_STATE_UNKNOWN;
    set_str(&rows[i]->reason, note);
  }
}

static void asked_all(uv_work_t *w, int status) {
  hd_cquery *q = w->data;
  hd_daemon *d = q->d;
  if (status || d->stopping || !q->client) return cquery_free(q);
  size_t n;
  Hpvm__VmStatus **rows = rows_of(q->resp, &n);
  for (size_t i = 0; i < q->ntargets; i++) {
    cq_target *t = &q->targets[i];
    if (!t->rc && t->ans && t->ans->error) {
      t->rc = t->ans->error;
      snprintf(t->msg, sizeof t->msg, "%s", t->ans->message);
    }
    if (t->rc) {
      hd_log(d, HD_DEBUG, "hpvmstatus: host %s did not answer: %s", t->host, t->msg);
      mark_unanswered(q, t, rows, n);
    } else {
      merge_answer(q, t, rows, n);
    }
  }
  hd_answer(q->client, q->resp, q->user, NULL);
  cquery_free(q);
}

static cq_target *target_of(hd_cquery *q, const char *host) {
  for (size_t i = 0; i < q->ntargets; i++)
    if (!strcmp(q->targets[i].host, host)) return &q->targets[i];
  cq_target *t = &q->targets[q->ntargets++];
  snprintf(t->host, sizeof t->host, "%s", host);
  hd_chan_config(q->d, &t->cc);
  sto_observer obs = {0};
  sto_liveness live;
  int status;
  if (sto_host_observe(q->d->sto, host, &obs, &live, &status) || !live.address[0]) {
    t->rc = HPVM_EUNAVAIL;
    snprintf(t->msg, sizeof t->msg, "it publishes no peer address (start its hpvmd with --listen ADDR:PORT)");
  } else {
    snprintf(t->address, sizeof t->address, "%s", live.address);
  }
  return t;
}

static hd_cquery *cquery_new(hd_daemon *d, const hd_req *rq, const Hpvm__Response *r) {
  hd_cquery *q = calloc(1, sizeof *q);
  if (!q) return NULL;
  q->d = d;
  q->client = rq->c;
  q->req_id = r->id;
  q->user = strdup(rq->user ? rq->user : "");
  size_t len = hpvm__response__get_packed_size(r);
  uint8_t *buf = malloc(len ? len : 1);
  if (buf) {
    hpvm__response__pack(r, buf);
    q->resp = hpvm__response__unpack(NULL, len, buf);
    free(buf);
  }
  size_t n;
  if (q->resp) rows_of(q->resp, &n);
  if (q->resp && r->body_case == HPVM__RESPONSE__BODY_VM) q->name = strdup(row_name(q->resp->vm));
  q->targets = q->resp ? calloc(n ? n : 1, sizeof *q->targets) : NULL;
  if (!q->user || !q->resp || !q->targets || (r->body_case == HPVM__RESPONSE__BODY_VM && !q->name)) {
    if (q->resp) hpvm__response__free_unpacked(q->resp, NULL);
    free(q->targets), free(q->user), free(q->name), free(q);
    return NULL;
  }
  return q;
}

void hd_cluster_answer(hd_daemon *d, const hd_req *rq, Hpvm__Response *r) {
  size_t n, remote = 0;
  Hpvm__VmStatus **rows = rows_of(r, &n);
  for (size_t i = 0; i < n; i++) remote += remote_row(d, rows[i]);
  if (!remote) return hd_answer(rq->c, r, rq->user, NULL);
  hd_cquery *q = cquery_new(d, rq, r);
  if (!q) return hd_answer(rq->c, r, rq->user, NULL);   /* out of memory: storage's view */
  q->timeout_ms = hd_cluster_query_timeout_ms(d);
  rows = rows_of(q->resp, &n);
  for (size_t i = 0; i < n; i++)
    if (remote_row(d, rows[i])) target_of(q, rows[i]->host);
  q->next = d->cqueries;
  d->cqueries = q;
  q->work.data = q;
  if (uv_queue_work(d->loop, &q->work, ask_all, asked_all)) {
    hd_answer(rq->c, r, rq->user, NULL);
    cquery_free(q);
  }
}

void hd_cluster_forget_client(hd_daemon *d, hd_client *c) {
  for (hd_cquery *q = d->cqueries; q; q = q->next)
    if (q->client == c) q->client = NULL;
}
