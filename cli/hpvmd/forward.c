/* forward.c — one request forwarded to another host's hpvmd, its answers brought back to the
 * loop. Used by migfwd.c (hpvmmigrate typed on any host goes to the guest's owner) and drain.c
 * (hpvmhost maintenance HOST typed on another host goes to HOST).
 *
 *   a thread connects to the host over the authenticated channel (hd_peer_open), sends one
 *   PeerRequest and reads PeerAnswers until one without `more`; each is queued under mu and the
 *   loop is woken (uv_async), which hands it to the callback, or relays it to the waiting client.
 *   A connection that fails or ends early is one last answer (more false) naming the host.
 *
 * hpvmd stopping (hd_fwd_stop) does not wait for the thread: the record is orphaned and the
 * thread frees it when it ends. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

#define FWD_CONNECT_MS 10000            /* connect and handshake with the host */
#define FWD_QUIET_MS (30 * 60 * 1000)   /* longest wait for the host's next answer */

typedef struct fwd_answer {
  Hpvm__PeerAnswer *a;         /* as received (freed on the loop) */
  int err;                     /* no answer: the connection's error, with msg */
  char *msg;
  struct fwd_answer *next;
} fwd_answer;

struct hd_fwd {
  hd_daemon *d;
  hd_fwd_cb cb;                /* loop only; NULL once detached */
  void *arg;
  hd_client *client;           /* hd_fwd_relay: the waiting client (NULL once gone) */
  uint64_t req_id;
  char *user;                  /* hd_fwd_relay: who asked, for the command log */
  char host[STO_NAME_MAX + 1];
  char address[160];
  chan_config cc;
  uint32_t lease_timeout_ms;
  Hpvm__PeerRequest *req;      /* an owned copy */
  char *closed_msg;            /* the host closed the connection before its last answer */
  char *no_result_msg;         /* the thread ended with no last answer queued (out of memory) */
  uv_async_t *async;
  pthread_mutex_t mu;
  fwd_answer *answers, **tail; /* under mu */
  bool done;                   /* under mu: the thread touches nothing after setting it */
  bool orphaned;               /* under mu: hpvmd stops; the thread frees the record */
  hd_fwd *next;
};

static void push(hd_fwd *f, Hpvm__PeerAnswer *a, int err, const char *msg) {
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

static void fwd_free(hd_fwd *f) {
  for (fwd_answer *x = f->answers, *n; x; x = n) {
    n = x->next;
    if (x->a) hpvm__peer_answer__free_unpacked(x->a, NULL);
    free(x->msg), free(x);
  }
  if (f->req) hpvm__peer_request__free_unpacked(f->req, NULL);
  pthread_mutex_destroy(&f->mu);
  free(f->user), free(f->closed_msg), free(f->no_result_msg), free(f);
}

/* The host may be quiet for long (a migration's copy phase with no news) but must not vanish
 * unseen: a host that lost power or its network sends no FIN, and the wait would last
 * FWD_QUIET_MS. TCP keepalive probes, answered by its kernel, end the connection within about
 * the lease timeout of silence (idle T/3, then 3 probes T/6 apart, at least a second each). */
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
  hd_fwd *f = arg;
  char msg[1200];
  chan *ch = NULL;
  f->cc.timeout_ms = FWD_CONNECT_MS;
  int rc = hd_peer_open(f->address, FWD_CONNECT_MS, &f->cc, f->host, &ch, msg, sizeof msg);
  if (!rc) keep_alive(chan_fd(ch), f->lease_timeout_ms);
  if (!rc) rc = chan_send(ch, &f->req->base, NULL, 0, FWD_CONNECT_MS, msg, sizeof msg);
  bool more = true;
  while (!rc && more) {
    ProtobufCMessage *m = NULL;
    const uint8_t *bulk;
    size_t bulklen;
    rc = chan_recv(ch, &hpvm__peer_answer__descriptor, &m, &bulk, &bulklen, FWD_QUIET_MS, msg, sizeof msg);
    if (rc == 1) {
      rc = HPVM_ETRUNC;
      snprintf(msg, sizeof msg, "%s", f->closed_msg);
    }
    if (rc) break;
    more = ((Hpvm__PeerAnswer *)m)->more;
    push(f, (Hpvm__PeerAnswer *)m, 0, NULL);
  }
  if (rc) {
    char line[1400];
    snprintf(line, sizeof line, "host %s: %.1100s", f->host, msg);
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
  hd_fwd *f = h->data;
  free(h);
  if (f) fwd_free(f);
}

static void unlink_fwd(hd_fwd *f) {
  for (hd_fwd **p = &f->d->fwds; *p; p = &(*p)->next)
    if (*p == f) {
      *p = f->next;
      return;
    }
}

static void on_answers(uv_async_t *as) {
  hd_fwd *f = as->data;
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
    if (f->cb) f->cb(f->arg, more, err, msg, x->a);
    if (!more) f->cb = NULL;   /* the result is the last callback */
    if (x->a) hpvm__peer_answer__free_unpacked(x->a, NULL);
    free(x->msg), free(x);
  }
  if (!done) return;
  if (f->cb) f->cb(f->arg, false, HPVM_EIO, f->no_result_msg, NULL);
  unlink_fwd(f);
  uv_close((uv_handle_t *)as, on_closed);
}

/* An owned copy of r: the thread sends it after the caller's request is gone. */
static Hpvm__PeerRequest *copy_request(const Hpvm__PeerRequest *r) {
  size_t len = hpvm__peer_request__get_packed_size(r);
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf) return NULL;
  hpvm__peer_request__pack(r, buf);
  Hpvm__PeerRequest *c = hpvm__peer_request__unpack(NULL, len, buf);
  free(buf);
  return c;
}

int hd_fwd_start(hd_daemon *d, const char *host, const char *address, const Hpvm__PeerRequest *r,
                 const char *closed_msg, const char *no_result_msg, hd_fwd_cb cb, void *arg, hd_fwd **out, char *why,
                 size_t len) {
  hd_fwd *f = calloc(1, sizeof *f);
  if (!f) return snprintf(why, len, "hpvmd is out of memory"), HPVM_ENOMEM;
  f->async = malloc(sizeof *f->async);
  f->req = copy_request(r);
  f->closed_msg = strdup(closed_msg);
  f->no_result_msg = strdup(no_result_msg);
  if (!f->async || !f->req || !f->closed_msg || !f->no_result_msg || uv_async_init(d->loop, f->async, on_answers)) {
    free(f->async);
    if (f->req) hpvm__peer_request__free_unpacked(f->req, NULL);
    free(f->closed_msg), free(f->no_result_msg), free(f);
    return snprintf(why, len, "hpvmd is out of memory"), HPVM_ENOMEM;
  }
  f->d = d;
  f->lease_timeout_ms = d->o.lease_timeout_ms;
  f->cb = cb;
  f->arg = arg;
  snprintf(f->host, sizeof f->host, "%s", host);
  snprintf(f->address, sizeof f->address, "%s", address);
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
  f->next = d->fwds;
  d->fwds = f;
  if (out) *out = f;
  return 0;
}

const char *hd_fwd_address(const hd_fwd *f) {
  return f->address;
}

void hd_fwd_detach(hd_fwd *f) {
  if (f) f->cb = NULL;
}

/* Each answer relayed to the waiting client as this host's hpvmd would have answered it. */
static void relay(void *arg, bool more, int err, const char *msg, const Hpvm__PeerAnswer *a) {
  hd_fwd *f = arg;
  if (!f->client) return;
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = f->req_id;
  r.more = more;
  r.error = err;
  r.message = (char *)(msg ? msg : "");
  if (a && a->progress) {
    r.body_case = HPVM__RESPONSE__BODY_MIGRATE;
    r.migrate = a->progress;
  }
  if (more) hd_client_send(f->client, &r.base);
  else hd_answer(f->client, &r, f->user ? f->user : "hpvmd", NULL);   /* the other host writes the command log line */
}

void hd_fwd_relay(hd_fwd *f, hd_client *c, uint64_t req_id, const char *user) {
  f->user = strdup(user ? user : "hpvmd");   /* NULL when out of memory: logged as hpvmd */
  f->client = c;
  f->req_id = req_id;
  f->cb = relay;
  f->arg = f;
}

void hd_fwd_forget_client(hd_daemon *d, hd_client *c) {
  for (hd_fwd *f = d->fwds; f; f = f->next)
    if (f->client == c) f->client = NULL;
}

void hd_fwd_stop(hd_daemon *d) {
  for (hd_fwd *f = d->fwds, *n; f; f = n) {
    n = f->next;
    pthread_mutex_lock(&f->mu);
    bool done = f->done;
    f->orphaned = !done;
    pthread_mutex_unlock(&f->mu);
    f->async->data = done ? f : NULL;
    uv_close((uv_handle_t *)f->async, on_closed);
  }
  d->fwds = NULL;
}
