/* migfwd.c — hpvmmigrate -o from any host of the cluster: a live migration of a guest another
 * host runs is that host's to make, so the request goes there (docs/man/hpvmmigrate.md,
 * docs/design/cluster.md).
 *
 *   asking hpvmd (a client typed hpvmmigrate here, or hpvmhost maintenance exit --return)
 *     a thread connects to the owner (its liveness record gives the address) and sends
 *     PeerRequest.migrate_forward over the authenticated channel, then reads the answers; the
 *     loop hands each to a callback (uv_async): relayed to the waiting hpvmmigrate as its own
 *     progress, or watched by drain.c.
 *   owner hpvmd (hd_migfwd_peer)
 *     hd_cmd_migrate with the channel as the sink (hd_req.peer): a refusal, each progress and
 *     the result go back as PeerAnswers (more set on progress), then the channel is closed.
 *
 * The owner never forwards again (a request from a peer has no client): a guest that moved on
 * meanwhile is refused there with the host it now runs on. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

#define FWD_CONNECT_MS 10000            /* connect and handshake with the owner */
#define FWD_QUIET_MS (30 * 60 * 1000)   /* longest wait for the owner's next answer */
#define FWD_SEND_MS 10000               /* one answer to the host that forwarded the request */

typedef struct fwd_answer {
  Hpvm__PeerAnswer *a;         /* as received (freed on the loop) */
  int err;                     /* no answer: the connection's error, with msg */
  char *msg;
  struct fwd_answer *next;
} fwd_answer;

struct hd_migfwd {
  hd_daemon *d;
  hd_migfwd_cb cb;             /* loop only; NULL once detached */
  void *arg;
  hd_client *client;           /* hd_migfwd_client: the waiting hpvmmigrate (NULL once gone) */
  uint64_t req_id;
  char *user, *cmdline;
  char owner[STO_NAME_MAX + 1];
  char address[160];
  chan_config cc;
  uint32_t lease_timeout_ms;
  Hpvm__MigrateRequest *req;   /* an owned copy */
  uv_async_t *async;
  pthread_mutex_t mu;
  fwd_answer *answers, **tail; /* under mu */
  bool done;                   /* under mu: the thread touches nothing after setting it */
  bool orphaned;               /* under mu: hpvmd stops; the thread frees the record */
  hd_migfwd *next;
};

/* ---- The owner's side -------------------------------------------------------------------------- */

void hd_migfwd_send(hd_daemon *d, chan **ch, bool more, int err, const char *msg, Hpvm__MigrateProgress *p) {
  if (!*ch) return;
  Hpvm__PeerAnswer a = HPVM__PEER_ANSWER__INIT;
  a.host = (char *)sto_host(d->sto);
  a.more = more;
  a.error = err;
  a.message = (char *)(msg ? msg : "");
  a.progress = p;
  char why[300];
  int rc = chan_send(*ch, &a.base, NULL, 0, FWD_SEND_MS, why, sizeof why);
  if (rc) hd_log(d, HD_WARN, "migration: host %s that asked is gone (%s); the migration goes on", chan_peer(*ch), why);
  if (rc || !more) {
    chan_close(*ch);
    *ch = NULL;
  }
}

void hd_migfwd_peer(hd_daemon *d, chan *ch, const Hpvm__MigrateForward *mf) {
  if (!mf->request || !(mf->request->online || mf->request->cancel)) {
    hd_migfwd_send(d, &ch, false, HPVM_EINVAL, "the forwarded migration request is neither a live migration nor a "
                   "cancel", NULL);
    return;
  }
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_MIGRATE;
  req.migrate = mf->request;
  char cmdline[1200];
  snprintf(cmdline, sizeof cmdline, "%.1000s (from host %s)",
           mf->cmdline && *mf->cmdline ? mf->cmdline : "hpvmmigrate -o", chan_peer(ch));
  hd_req q = {.c = NULL, .r = &req, .user = mf->user && *mf->user ? mf->user : "hpvmd", .cmdline = cmdline,
              .peer = &ch};
  hd_cmd_migrate(d, &q);
  if (ch) {   /* every path answers; should one not, the other host is not left waiting */
    hd_migfwd_send(d, &ch, false, HPVM_EIO, "the owner's hpvmd did not answer the forwarded migration", NULL);
  }
}

/* ---- The asking side ----------------------------------------------------------------------------- */

static void push(hd_migfwd *f, Hpvm__PeerAnswer *a, int err, const char *msg) {
  fwd_answer *x = calloc(1, sizeof *x);
  if (!x || (msg && !(x->msg = strdup(msg)))) {
    free(x);
    if (a) hpvm__peer_answer__free_unpacked(a, NULL);
    return;
  }
  x->a = a;
  x->err = err;
  pthread_mutex_lock(&f->mu);
  *f->tail = x;
  f->tail = &x->next;
  if (!f->orphaned) uv_async_send(f->async);
  pthread_mutex_unlock(&f->mu);
}

static void fwd_free(hd_migfwd *f) {
  for (fwd_answer *x = f->answers, *n; x; x = n) {
    n = x->next;
    if (x->a) hpvm__peer_answer__free_unpacked(x->a, NULL);
    free(x->msg), free(x);
  }
  if (f->req) hpvm__migrate_request__free_unpacked(f->req, NULL);
  pthread_mutex_destroy(&f->mu);
  free(f->user), free(f->cmdline), free(f);
}

/* The owner may be quiet for long (a copy phase with no news) but must not vanish unseen: a host
 * that lost power or its network sends no FIN. TCP keepalive probes, answered by its kernel,
 * end the connection within about the lease timeout of silence (idle T/3, then 3 probes T/6
 * apart, at least a second each); drain.c's forwarding does the same. */
static void keep_alive(int fd, uint32_t lease_timeout_ms) {
  int on = 1, idle = (int)(lease_timeout_ms / 3000), intvl = (int)(lease_timeout_ms / 6000), cnt = 3;
  if (idle < 1) idle = 1;
  if (intvl < 1) intvl = 1;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

static void *fwd_thread(void *arg) {
  hd_migfwd *f = arg;
  char msg[1200];
  chan *ch = NULL;
  f->cc.timeout_ms = FWD_CONNECT_MS;
  int rc = hd_peer_open(f->address, FWD_CONNECT_MS, &f->cc, f->owner, &ch, msg, sizeof msg);
  if (!rc) keep_alive(chan_fd(ch), f->lease_timeout_ms);
  Hpvm__MigrateForward mf = HPVM__MIGRATE_FORWARD__INIT;
  mf.request = f->req;
  mf.user = f->user;
  mf.cmdline = f->cmdline ? f->cmdline : "";
  Hpvm__PeerRequest r = HPVM__PEER_REQUEST__INIT;
  r.body_case = HPVM__PEER_REQUEST__BODY_MIGRATE_FORWARD;
  r.migrate_forward = &mf;
  if (!rc) rc = chan_send(ch, &r.base, NULL, 0, FWD_CONNECT_MS, msg, sizeof msg);
  bool more = true;
  while (!rc && more) {
    ProtobufCMessage *m = NULL;
    const uint8_t *bulk;
    size_t bulklen;
    rc = chan_recv(ch, &hpvm__peer_answer__descriptor, &m, &bulk, &bulklen, FWD_QUIET_MS, msg, sizeof msg);
    if (rc == 1) {
      rc = HPVM_ETRUNC;
      snprintf(msg, sizeof msg, "host %s closed the connection before the migration ended: see hpvmstatus -P %s",
               f->owner, f->req->name);
    }
    if (rc) break;
    more = ((Hpvm__PeerAnswer *)m)->more;
    push(f, (Hpvm__PeerAnswer *)m, 0, NULL);
  }
  if (rc) {
    char line[1400];
    snprintf(line, sizeof line, "host %s: %.1100s", f->owner, msg);
    push(f, NULL, rc, line);
  }
  if (ch) chan_close(ch);
  pthread_mutex_lock(&f->mu);
  f->done = true;
  bool orphaned = f->orphaned;
  if (!orphaned) uv_async_send(f->async);
  pthread_mutex_unlock(&f->mu);
  if (orphaned) fwd_free(f);
  return NULL;
}

static void on_closed(uv_handle_t *h) {
  hd_migfwd *f = h->data;
  free(h);
  if (f) fwd_free(f);
}

static void unlink_fwd(hd_migfwd *f) {
  for (hd_migfwd **p = &f->d->migfwds; *p; p = &(*p)->next)
    if (*p == f) {
      *p = f->next;
      return;
    }
}

static void on_answers(uv_async_t *as) {
  hd_migfwd *f = as->data;
  pthread_mutex_lock(&f->mu);
  fwd_answer *list = f->answers;
  f->answers = NULL;
  f->tail = &f->answers;
  bool done = f->done;
  pthread_mutex_unlock(&f->mu);
  for (fwd_answer *x = list, *n; x; x = n) {
    n = x->next;
    bool more = x->a && x->a->more;
    int err = x->a ? x->a->error : x->err;
    const char *msg = x->a ? x->a->message : x->msg;
    if (f->cb) f->cb(f->arg, more, err, msg, x->a ? x->a->progress : NULL);
    if (!more) f->cb = NULL;   /* the result is the last callback */
    if (x->a) hpvm__peer_answer__free_unpacked(x->a, NULL);
    free(x->msg), free(x);
  }
  if (!done) return;
  if (f->cb) f->cb(f->arg, false, HPVM_EIO, "the forwarded migration ended without a result", NULL);
  unlink_fwd(f);
  uv_close((uv_handle_t *)as, on_closed);
}

int hd_migfwd_start(hd_daemon *d, const char *owner, const Hpvm__MigrateRequest *r, const char *user,
                    const char *cmdline, hd_migfwd_cb cb, void *arg, hd_migfwd **out, char *why, size_t len) {
  hd_migfwd *f = calloc(1, sizeof *f);
  if (!f) return snprintf(why, len, "hpvmd is out of memory"), HPVM_ENOMEM;
  int rc = hd_peer_resolve(d, owner, f->address, sizeof f->address, why, len);
  if (rc) return free(f), rc;
  size_t plen = hpvm__migrate_request__get_packed_size(r);
  uint8_t *buf = malloc(plen ? plen : 1);
  f->async = malloc(sizeof *f->async);
  if (buf) hpvm__migrate_request__pack(r, buf);
  if (buf) f->req = hpvm__migrate_request__unpack(NULL, plen, buf);
  free(buf);
  f->user = strdup(user ? user : "hpvmd");
  f->cmdline = strdup(cmdline ? cmdline : "");
  if (!f->async || !f->req || !f->user || !f->cmdline || uv_async_init(d->loop, f->async, on_answers)) {
    free(f->async);
    if (f->req) hpvm__migrate_request__free_unpacked(f->req, NULL);
    free(f->user), free(f->cmdline), free(f);
    return snprintf(why, len, "hpvmd is out of memory"), HPVM_ENOMEM;
  }
  f->d = d;
  f->lease_timeout_ms = d->o.lease_timeout_ms;
  f->cb = cb;
  f->arg = arg;
  snprintf(f->owner, sizeof f->owner, "%s", owner);
  hd_chan_config(d, &f->cc);
  pthread_mutex_init(&f->mu, NULL);
  f->tail = &f->answers;
  f->async->data = f;
  pthread_t t;
  if (pthread_create(&t, NULL, fwd_thread, f)) {
    f->async->data = NULL;
    uv_close((uv_handle_t *)f->async, on_closed);
    int e = errno;
    fwd_free(f);
    return snprintf(why, len, "cannot start a thread: %s", strerror(e)), HPVM_ENOMEM;
  }
  pthread_detach(t);
  f->next = d->migfwds;
  d->migfwds = f;
  hd_log(d, HD_INFO, "migration: %s's live migration of VM %s to %s forwarded to its owner, host %s (%s)", f->user,
         r->name, r->target, owner, f->address);
  if (out) *out = f;
  return 0;
}

void hd_migfwd_detach(hd_migfwd *f) {
  if (f) f->cb = NULL;
}

/* hpvmmigrate here: each answer relayed as the owner's hpvmd would have answered it. */
static void relay(void *arg, bool more, int err, const char *msg, const Hpvm__MigrateProgress *p) {
  hd_migfwd *f = arg;
  if (!f->client) return;
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = f->req_id;
  r.more = more;
  r.error = err;
  r.message = (char *)(msg ? msg : "");
  if (p) {
    r.body_case = HPVM__RESPONSE__BODY_MIGRATE;
    r.migrate = (Hpvm__MigrateProgress *)p;
  }
  if (more) hd_client_send(f->client, &r.base);
  else hd_answer(f->client, &r, f->user, NULL);   /* the owner writes the command log line */
}

void hd_migfwd_client(hd_daemon *d, const hd_req *q, const char *owner) {
  const Hpvm__MigrateRequest *r = q->r->migrate;
  char why[1200];
  hd_migfwd *f = NULL;
  char cmdline[1000];
  snprintf(cmdline, sizeof cmdline, "%.900s", q->cmdline ? q->cmdline : "hpvmmigrate -o");
  int rc = hd_migfwd_start(d, owner, r, q->user, cmdline, relay, NULL, &f, why, sizeof why);
  if (rc)
    return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, rc, "VM %s runs on host %s and the request cannot "
                           "reach it (%s): run hpvmmigrate on host %s", r->name, owner, why, owner);
  f->arg = f;
  f->client = q->c;
  f->req_id = q->r->id;
}

void hd_migfwd_forget_client(hd_daemon *d, hd_client *c) {
  for (hd_migfwd *f = d->migfwds; f; f = f->next)
    if (f->client == c) f->client = NULL;
}

void hd_migfwd_stop(hd_daemon *d) {
  for (hd_migfwd *f = d->migfwds, *n; f; f = n) {
    n = f->next;
    pthread_mutex_lock(&f->mu);
    bool done = f->done;
    f->orphaned = !done;
    pthread_mutex_unlock(&f->mu);
    f->async->data = done ? f : NULL;
    uv_close((uv_handle_t *)f->async, on_closed);
  }
  d->migfwds = NULL;
}
