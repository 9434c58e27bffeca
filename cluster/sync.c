/* sync.c — push/pull and join: whole member tables exchanged over the authenticated channel.
 *
 * UDP gossip converges only as fast as rumours spread and forgets what was lost; push/pull
 * (memberlist's state sync) makes two members agree on everything now and then, and is how a
 * new member learns the cluster at join. It rides on proto/chan.h: a host that cannot prove
 * a trusted identity and the cluster secret gets nothing and gives nothing.
 *
 * chan's API is blocking, and the loop must never block, so two threads per clu do the
 * talking, each on one side so that two members pulling from each other at once cannot wait
 * on each other:
 *
 *   loop thread                        client thread               server thread
 *   clu_sync_request --job queue-->    connect, chan_client        poll(listen, stop)
 *                                      send our snapshot           accept, chan_server
 *                                      receive theirs              receive theirs
 *                                      close                       send our snapshot
 *   on_results <--result queue, uv_async-- (both)                  wait for the close
 *   merge with mem_apply
 *
 * The threads never touch the member table: they send the snapshot (the table encoded as one
 * GossipPushPull), which the loop re-encodes after any change (clu_sync_refresh, from a
 * uv_check handle), and they hand what they received back to the loop. The mutex guards the
 * queues, the snapshot and the connections in progress; stop shuts those down and writes the
 * stop pipe, so no thread waits out a timeout before it can be joined. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

typedef struct sync_job {
  struct sync_job *next;
  char addr[CLU_ADDR_MAX];
  char expect[CLU_NAME_MAX + 1];          /* empty: any trusted host (a seed) */
  bool join;
} sync_job;

typedef struct sync_result {
  struct sync_result *next;
  bool join, server;
  int rc;
  char msg[400];
  Hpvm__GossipPushPull *pp;               /* rc == 0 */
} sync_result;

struct clu_sync {
  clu *c;                                 /* for the loop side only */
  int listen_fd, stop_pipe[2];
  pthread_t srv, cli;
  bool srv_started, cli_started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stop;                              /* under mu */
  sync_job *jobs;                         /* under mu, FIFO */
  sync_result *results;                   /* under mu, LIFO (order does not matter) */
  int conn_fd[2];                         /* under mu: the client's and the server's connection */
  uint8_t *snap;                          /* under mu */
  size_t snap_len;
  int periodic_inflight;                  /* loop side */
  uv_async_t async;
};

/* ---- Snapshot (loop side) ------------------------------------------------------------------- */

void clu_sync_refresh(clu *c) {
  if (!c->table_dirty || !c->sync) return;
  Hpvm__GossipUpdate *rows = calloc(c->n, sizeof *rows);
  Hpvm__GossipHostMeta *metas = calloc(c->n, sizeof *metas);
  Hpvm__GossipUpdate **ptrs = calloc(c->n, sizeof *ptrs);
  uint8_t *buf = NULL;
  if (rows && metas && ptrs) {
    for (size_t i = 0; i < c->n; i++) {
      mem_to_update(c->members[i], &rows[i], &metas[i]);
      ptrs[i] = &rows[i];
    }
    Hpvm__GossipPushPull pp = HPVM__GOSSIP_PUSH_PULL__INIT;
    pp.sender = c->name;
    pp.n_members = c->n;
    pp.members = ptrs;
    size_t len = hpvm__gossip_push_pull__get_packed_size(&pp);
    if ((buf = malloc(len ? len : 1))) {
      hpvm__gossip_push_pull__pack(&pp, buf);
      clu_sync *s = c->sync;
      pthread_mutex_lock(&s->mu);
      free(s->snap);
      s->snap = buf;
      s->snap_len = len;
      pthread_mutex_unlock(&s->mu);
      c->table_dirty = false;
    }
  }
  free(rows);
  free(metas);
  free(ptrs);
}

/* ---- Both threads --------------------------------------------------------------------------- */

static bool stopping(clu_sync *s) {
  pthread_mutex_lock(&s->mu);
  bool stop = s->stop;
  pthread_mutex_unlock(&s->mu);
  return stop;
}

/* Register fd as side's connection in progress (so that stop can shut it down); false when
 * stop has begun. */
static bool conn_begin(clu_sync *s, int side, int fd) {
  pthread_mutex_lock(&s->mu);
  bool ok = !s->stop;
  if (ok) s->conn_fd[side] = fd;
  pthread_mutex_unlock(&s->mu);
  return ok;
}

static void conn_end(clu_sync *s, int side) {
  pthread_mutex_lock(&s->mu);
  int fd = s->conn_fd[side];
  s->conn_fd[side] = -1;
  pthread_mutex_unlock(&s->mu);
  if (fd >= 0) close(fd);
}

static void post(clu_sync *s, sync_result *r) {
  pthread_mutex_lock(&s->mu);
  r->next = s->results;
  s->results = r;
  pthread_mutex_unlock(&s->mu);
  uv_async_send(&s->async);
}

/* Send our snapshot, with the join flag as asked. */
static int send_snapshot(clu_sync *s, chan *ch, bool join, unsigned timeout, char *msg, size_t len) {
  pthread_mutex_lock(&s->mu);
  size_t n = s->snap_len;
  uint8_t *copy = malloc(n ? n : 1);
  if (copy) memcpy(copy, s->snap, n);
  pthread_mutex_unlock(&s->mu);
  if (!copy) return snprintf(msg, len, "out of memory for the member table"), HPVM_ENOMEM;
  Hpvm__GossipPushPull *pp = hpvm__gossip_push_pull__unpack(NULL, n, copy);
  free(copy);
  if (!pp) return snprintf(msg, len, "out of memory for the member table"), HPVM_ENOMEM;
  pp->join = join;
  int rc = chan_send(ch, &pp->base, NULL, 0, (int)timeout, msg, len);
  hpvm__gossip_push_pull__free_unpacked(pp, NULL);
  return rc;
}

/* Receive the peer's table; it must be sent by the host the channel authenticated. */
static int recv_table(chan *ch, unsigned timeout, Hpvm__GossipPushPull **out, char *msg, size_t len) {
  ProtobufCMessage *m = NULL;
  int rc = chan_recv(ch, &hpvm__gossip_push_pull__descriptor, &m, NULL, NULL, (int)timeout, msg, len);
  if (rc == 1) return snprintf(msg, len, "host %s closed the push/pull before its member table", chan_peer(ch)),
               HPVM_ETRUNC;
  if (rc) return rc;
  Hpvm__GossipPushPull *pp = (Hpvm__GossipPushPull *)m;
  if (!pp->sender || strcmp(pp->sender, chan_peer(ch)) || pp->n_members > CLU_PUSHPULL_MAX_MEMBERS) {
    snprintf(msg, len, "host %s sent a member table in the name of %s or with %zu rows: refused",
             chan_peer(ch), pp->sender ? pp->sender : "nobody", pp->n_members);
    protobuf_c_message_free_unpacked(m, NULL);
    return HPVM_EAUTH;
  }
  *out = pp;
  return 0;
}

/* A copy of fd for chan, which closes what it gets: the original stays ours until conn_end,
 * so stop may shut it down at any time without racing a close and a reuse of the number. */
static int dup_for_chan(int fd, char *msg, size_t len) {
  int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (d < 0) snprintf(msg, len, "cannot duplicate a socket: %s", strerror(errno));
  return d;
}

/* ---- Server thread ---------------------------------------------------------------------------- */

static void serve(clu_sync *s, int fd) {
  const clu_config *cfg = &s->c->cfg;
  sync_result *r = calloc(1, sizeof *r);
  if (!r || !conn_begin(s, 1, fd)) {
    close(fd);
    free(r);
    return;
  }
  r->server = true;
  chan *ch = NULL;
  int cfd = dup_for_chan(fd, r->msg, sizeof r->msg);
  r->rc = cfd < 0 ? HPVM_EIO : chan_server(cfd, &s->c->chan, &ch, r->msg, sizeof r->msg);
  if (!r->rc) r->rc = recv_table(ch, cfg->push_pull_timeout_ms, &r->pp, r->msg, sizeof r->msg);
  if (!r->rc) r->join = r->pp->join;
  if (!r->rc) r->rc = send_snapshot(s, ch, r->join, cfg->push_pull_timeout_ms, r->msg, sizeof r->msg);
  if (!r->rc) {
    /* Wait for the client's close, so that ours never resets a table still in flight. */
    int rc = chan_recv(ch, NULL, NULL, NULL, NULL, (int)cfg->push_pull_timeout_ms, r->msg, sizeof r->msg);
    if (rc != 1) r->rc = rc ? rc : HPVM_ECORRUPT;
  }
  if (r->rc && r->pp) {
    hpvm__gossip_push_pull__free_unpacked(r->pp, NULL);
    r->pp = NULL;
  }
  chan_close(ch);
  conn_end(s, 1);
  post(s, r);
}

static void *server_main(void *arg) {
  clu_sync *s = arg;
  for (;;) {
    struct pollfd p[2] = {{.fd = s->listen_fd, .events = POLLIN}, {.fd = s->stop_pipe[0], .events = POLLIN}};
    if (poll(p, 2, -1) < 0 && errno != EINTR) break;
    if (stopping(s) || p[1].revents) break;
    if (!(p[0].revents & POLLIN)) continue;
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) serve(s, fd);
  }
  return NULL;
}

/* ---- Client thread ---------------------------------------------------------------------------- */

static int connect_to(clu_sync *s, const char *addr, unsigned timeout, char *msg, size_t len) {
  struct sockaddr_storage sa;
  if (clu_addr_parse(addr, &sa)) return snprintf(msg, len, "%s is not an IP:PORT address", addr), HPVM_EINVAL;
  int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return snprintf(msg, len, "cannot make a socket: %s", strerror(errno)), HPVM_EIO;
  if (!conn_begin(s, 0, fd)) {
    close(fd);
    return snprintf(msg, len, "canceled: the cluster is stopping"), HPVM_ECANCELED;
  }
  socklen_t sl = sa.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  if (connect(fd, (struct sockaddr *)&sa, sl) < 0 && errno != EINPROGRESS) {
    int e = errno;
    conn_end(s, 0);
    return snprintf(msg, len, "cannot connect to %s: %s", addr, strerror(e)), HPVM_EIO;
  }
  struct pollfd p[2] = {{.fd = fd, .events = POLLOUT}, {.fd = s->stop_pipe[0], .events = POLLIN}};
  int n;
  while ((n = poll(p, 2, (int)timeout)) < 0 && errno == EINTR) {}
  int err = 0;
  socklen_t el = sizeof err;
  if (n == 0 || p[1].revents || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
    conn_end(s, 0);
    if (n == 0) return snprintf(msg, len, "no answer from %s within %u ms", addr, timeout), HPVM_ETIMEDOUT;
    if (p[1].revents) return snprintf(msg, len, "canceled: the cluster is stopping"), HPVM_ECANCELED;
    return snprintf(msg, len, "cannot connect to %s: %s", addr, strerror(err ? err : errno)), HPVM_EIO;
  }
  return fd;
}

static void run_job(clu_sync *s, const sync_job *j) {
  unsigned timeout = s->c->cfg.push_pull_timeout_ms;
  sync_result *r = calloc(1, sizeof *r);
  if (!r) return;
  r->join = j->join;
  int fd = connect_to(s, j->addr, timeout, r->msg, sizeof r->msg);
  if (fd < 0) {
    r->rc = fd;
    post(s, r);
    return;
  }
  chan *ch = NULL;
  int cfd = dup_for_chan(fd, r->msg, sizeof r->msg);
  r->rc = cfd < 0 ? HPVM_EIO
                  : chan_client(cfd, &s->c->chan, j->expect[0] ? j->expect : NULL, &ch, r->msg, sizeof r->msg);
  if (!r->rc) r->rc = send_snapshot(s, ch, j->join, timeout, r->msg, sizeof r->msg);
  if (!r->rc) r->rc = recv_table(ch, timeout, &r->pp, r->msg, sizeof r->msg);
  chan_close(ch);
  conn_end(s, 0);
  post(s, r);
}

static void *client_main(void *arg) {
  clu_sync *s = arg;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->stop && !s->jobs) pthread_cond_wait(&s->cv, &s->mu);
    if (s->stop) break;
    sync_job *j = s->jobs;
    s->jobs = j->next;
    pthread_mutex_unlock(&s->mu);
    run_job(s, j);
    free(j);
    pthread_mutex_lock(&s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* ---- Loop side -------------------------------------------------------------------------------- */

static void count(clu *c, const sync_result *r) {
  if (!r->rc) {
    c->ctr.push_pulls++;
    return;
  }
  if (r->rc == HPVM_ECANCELED) return;
  c->ctr.push_pull_failed++;
  if (r->rc == HPVM_EAUTH) c->ctr.push_pull_auth_failed++;
}

static void merge(clu *c, const Hpvm__GossipPushPull *pp) {
  for (size_t i = 0; i < pp->n_members && c->phase == CLU_RUNNING; i++) mem_apply(c, pp->members[i], true);
}

static void join_result(clu *c, const sync_result *r) {
  if (!c->join_cb) return;
  if (r->rc) {
    c->join_rc = r->rc;
    snprintf(c->join_msg, sizeof c->join_msg, "%s", r->msg);
  } else {
    c->join_ok++;
  }
  if (--c->join_pending > 0) return;
  clu_join_cb cb = c->join_cb;
  c->join_cb = NULL;
  cb(c->join_arg, c->join_ok, c->join_ok ? 0 : c->join_rc, c->join_ok ? "" : c->join_msg);
}

static void on_results(uv_async_t *a) {
  clu_sync *s = a->data;
  clu *c = s->c;
  pthread_mutex_lock(&s->mu);
  sync_result *r = s->results;
  s->results = NULL;
  pthread_mutex_unlock(&s->mu);
  while (r) {
    sync_result *next = r->next;
    count(c, r);
    if (r->pp && c->phase == CLU_RUNNING) merge(c, r->pp);
    if (!r->server && !r->join) s->periodic_inflight--;
    if (!r->server && r->join) join_result(c, r);
    if (r->pp) hpvm__gossip_push_pull__free_unpacked(r->pp, NULL);
    free(r);
    r = next;
  }
}

int clu_sync_listen(const struct sockaddr_storage *bound, char *msg, size_t len) {
  int fd = socket(bound->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return snprintf(msg, len, "cannot make a socket: %s", strerror(errno)), HPVM_EIO;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t sl = bound->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  if (bind(fd, (const struct sockaddr *)bound, sl) < 0 || listen(fd, 64) < 0) {
    int e = errno;
    close(fd);
    char a[CLU_ADDR_MAX] = "?";
    clu_addr_format((const struct sockaddr *)bound, a, sizeof a);
    snprintf(msg, len, "cannot listen on TCP %s for push/pull: %s", a, strerror(e));
    return e == EADDRINUSE ? HPVM_EBUSY : HPVM_EIO;
  }
  return fd;
}

int clu_sync_create(clu *c, int listen_fd, char *msg, size_t len) {
  clu_sync *s = calloc(1, sizeof *s);
  if (!s) return snprintf(msg, len, "out of memory"), HPVM_ENOMEM;
  s->c = c;
  s->conn_fd[0] = s->conn_fd[1] = -1;
  if (pipe2(s->stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
    snprintf(msg, len, "cannot make a pipe: %s", strerror(errno));
    free(s);
    return HPVM_EIO;
  }
  s->listen_fd = listen_fd;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  c->sync = s;
  return 0;
}

void clu_sync_attach(clu *c) {
  uv_async_init(c->loop, &c->sync->async, on_results);
  c->sync->async.data = c->sync;
}

int clu_sync_start(clu *c, char *msg, size_t len) {
  clu_sync *s = c->sync;
  c->table_dirty = true;
  clu_sync_refresh(c);
  int rc = pthread_create(&s->srv, NULL, server_main, s);
  if (!rc) {
    s->srv_started = true;
    rc = pthread_create(&s->cli, NULL, client_main, s);
    if (!rc) s->cli_started = true;
  }
  if (rc) return snprintf(msg, len, "cannot start the push/pull threads: %s", strerror(rc)), HPVM_ENOMEM;
  return 0;
}

int clu_sync_request(clu *c, const char *addr, const char *expect, bool join) {
  clu_sync *s = c->sync;
  sync_job *j = calloc(1, sizeof *j);
  if (!j) return HPVM_ENOMEM;
  snprintf(j->addr, sizeof j->addr, "%s", addr);
  snprintf(j->expect, sizeof j->expect, "%s", expect ? expect : "");
  j->join = join;
  if (!join) s->periodic_inflight++;
  pthread_mutex_lock(&s->mu);
  sync_job **tail = &s->jobs;
  while (*tail) tail = &(*tail)->next;
  *tail = j;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  return 0;
}

bool clu_sync_busy(clu *c) {
  return c->sync->periodic_inflight > 0;
}

static void on_async_closed(uv_handle_t *h) {
  clu_handle_closed(((clu_sync *)h->data)->c);
}

void clu_sync_stop(clu *c) {
  clu_sync *s = c->sync;
  pthread_mutex_lock(&s->mu);
  s->stop = true;
  for (int i = 0; i < 2; i++)
    if (s->conn_fd[i] >= 0) shutdown(s->conn_fd[i], SHUT_RDWR);
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  ssize_t w = write(s->stop_pipe[1], "x", 1);
  (void)w;
  if (s->srv_started) pthread_join(s->srv, NULL);
  if (s->cli_started) pthread_join(s->cli, NULL);
  s->srv_started = s->cli_started = false;
  /* Jobs not run and results not merged are dropped (clu_stop ends a join in progress). */
  uv_close((uv_handle_t *)&s->async, on_async_closed);
}

void clu_sync_free(clu *c) {
  clu_sync *s = c->sync;
  if (!s) return;
  while (s->jobs) {
    sync_job *j = s->jobs;
    s->jobs = j->next;
    free(j);
  }
  while (s->results) {
    sync_result *r = s->results;
    s->results = r->next;
    if (r->pp) hpvm__gossip_push_pull__free_unpacked(r->pp, NULL);
    free(r);
  }
  close(s->listen_fd);
  close(s->stop_pipe[0]);
  close(s->stop_pipe[1]);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s->snap);
  free(s);
  c->sync = NULL;
}
