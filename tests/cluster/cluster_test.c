/* cluster_test.c — the in-process cluster fixture (cluster_test.h). A harness failure (a
 * member that cannot be created, a join that never answers) prints one line and aborts: the
 * test process then fails as a whole, which is what ctest reports. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster_test.h"

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "cluster_test: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  abort();
}

uint64_t ct_ms(void) {
  return uv_hrtime() / 1000000u;
}

void ct_fast_config(clu_config *c) {
  clu_config_defaults(c);
  c->probe_interval_ms = 100;
  c->probe_timeout_ms = 40;
  c->gossip_interval_ms = 20;
  c->push_pull_interval_ms = 1000;
  c->push_pull_timeout_ms = 2000;
  c->gossip_to_dead_ms = 3000;
}

static void on_tick(uv_timer_t *t) {
  (void)t;
}

ct_fixture *ct_fixture_new(void) {
  ct_fixture *fx = calloc(1, sizeof *fx);
  if (!fx) die("out of memory");
  uv_loop_init(&fx->loop);
  uv_timer_init(&fx->loop, &fx->tick);
  uv_timer_start(&fx->tick, on_tick, 5, 5);
  snprintf(fx->dir, sizeof fx->dir, "/tmp/hpvm-clu-XXXXXX");
  if (!mkdtemp(fx->dir)) die("cannot make a temporary directory");
  for (size_t i = 0; i < sizeof fx->secret; i++) fx->secret[i] = (uint8_t)(0xa5 ^ i);
  ct_fast_config(&fx->base);
  fx->bind_addr = "127.0.0.1:0";
  return fx;
}

static void on_stopped(void *arg) {
  ct_node *n = arg;
  n->stopped = true;
}

static bool node_stopped(ct_fixture *fx, void *arg) {
  (void)fx;
  return ((ct_node *)arg)->stopped;
}

void ct_node_stop(ct_node *n) {
  if (n->stopped || !n->c) return;
  clu_stop(n->c, on_stopped, n);
  if (!ct_run_until(n->fx, node_stopped, n, 10000)) die("%s did not stop within 10 s", n->name);
  clu_free(n->c);
}

static void on_left(void *arg) {
  ((ct_node *)arg)->left = true;
}

static bool node_left(ct_fixture *fx, void *arg) {
  (void)fx;
  return ((ct_node *)arg)->left;
}

void ct_node_leave(ct_node *n) {
  if (clu_leave(n->c, 5000, on_left, n)) die("%s: clu_leave refused", n->name);
  if (!ct_run_until(n->fx, node_left, n, 10000)) die("%s: leave did not end within 10 s", n->name);
}

void ct_fixture_free(ct_fixture *fx) {
  if (!fx) return;
  for (int i = 0; i < fx->n; i++) ct_node_stop(fx->nodes[i]);
  uv_close((uv_handle_t *)&fx->tick, NULL);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&fx->loop)) die("handles left open in the loop");
  for (int i = 0; i < fx->n; i++) {
    char path[160];
    snprintf(path, sizeof path, "%s/%s/%s", fx->dir, fx->nodes[i]->name, CHAN_KEY_FILE);
    unlink(path);
    snprintf(path, sizeof path, "%s/%s", fx->dir, fx->nodes[i]->name);
    rmdir(path);
    free(fx->nodes[i]);
  }
  rmdir(fx->dir);
  free(fx);
}

/* ---- Members ---------------------------------------------------------------------------------- */

static int trust_all(void *ctx, const char *peer, const uint8_t sign_pk[32], const uint8_t kx_pk[32], char *why,
                     size_t whylen) {
  (void)ctx, (void)peer, (void)sign_pk, (void)kx_pk, (void)why, (void)whylen;
  return 0;
}

static void on_event(void *arg, const clu_event *ev) {
  ct_node *n = arg;
  ct_event *e = &n->ev[n->nev++ % CT_MAX_EVENTS];
  n->ev_total[ev->type]++;
  e->type = ev->type;
  e->prev = ev->prev;
  snprintf(e->member, sizeof e->member, "%.63s", ev->member->name);
  e->incarnation = ev->member->incarnation;
  e->at_ms = ct_ms();
}

ct_node *ct_node_add(ct_fixture *fx, const uint8_t *secret) {
  if (fx->n >= CT_MAX_NODES) die("too many nodes");
  ct_node *n = calloc(1, sizeof *n);
  if (!n) die("out of memory");
  n->fx = fx;
  n->index = fx->n;
  snprintf(n->name, sizeof n->name, "host%02d", fx->n);
  memcpy(n->secret, secret ? secret : fx->secret, sizeof n->secret);
  char dir[128], msg[600];
  snprintf(dir, sizeof dir, "%s/%s", fx->dir, n->name);
  if (mkdir(dir, 0700)) die("cannot make %s", dir);
  if (chan_identity_load(dir, n->name, &n->id, msg, sizeof msg)) die("%s", msg);
  n->chan.me = &n->id;
  n->chan.cluster_secret = n->secret;
  n->chan.trust = trust_all;
  n->chan.timeout_ms = 2000;
  clu_config cfg = fx->base;
  cfg.name = n->name;
  cfg.bind_addr = fx->bind_addr;
  cfg.secret = n->secret;
  cfg.chan = &n->chan;
  cfg.meta.state = CLU_HOST_UP;
  cfg.meta.mem_total = 64ull << 30;
  cfg.meta.mem_free = 48ull << 30;
  cfg.meta.cpu_ent_free = 800;
  snprintf(cfg.meta.version, sizeof cfg.meta.version, "0.1.0");
  cfg.on_event = on_event;
  cfg.event_arg = n;
  if (clu_create(&fx->loop, &cfg, &n->c, msg, sizeof msg)) die("%s", msg);
  if (clu_start(n->c, msg, sizeof msg)) die("%s", msg);
  fx->nodes[fx->n++] = n;
  return n;
}

static void on_joined(void *arg, int joined, int rc, const char *msg) {
  ct_node *n = arg;
  n->joined = true;
  n->join_count = joined;
  n->join_rc = rc;
  snprintf(n->join_msg, sizeof n->join_msg, "%s", msg);
}

void ct_node_join(ct_node *n, const ct_node *seed) {
  const char *seeds[] = {clu_local_addr(seed->c)};
  char msg[400];
  n->joined = false;
  if (clu_join(n->c, seeds, 1, on_joined, n, msg, sizeof msg)) die("%s", msg);
}

/* ---- Running ------------------------------------------------------------------------------------ */

bool ct_run_until(ct_fixture *fx, bool (*pred)(ct_fixture *, void *), void *arg, unsigned timeout_ms) {
  uint64_t end = ct_ms() + timeout_ms;
  while (!pred(fx, arg)) {
    if (ct_ms() >= end) return false;
    uv_run(&fx->loop, UV_RUN_ONCE);
  }
  return true;
}

static bool never(ct_fixture *fx, void *arg) {
  (void)fx, (void)arg;
  return false;
}

void ct_run_for(ct_fixture *fx, unsigned ms) {
  ct_run_until(fx, never, NULL, ms);
}

/* ---- Looking ------------------------------------------------------------------------------------ */

clu_member_state ct_state(const ct_node *n, const char *name) {
  clu_member m;
  return clu_member_find(n->c, name, &m) ? CLU_MEMBER_INVALID : m.state;
}

uint64_t ct_incarnation(const ct_node *n, const char *name) {
  clu_member m;
  return clu_member_find(n->c, name, &m) ? 0 : m.incarnation;
}

bool ct_converged(ct_fixture *fx, void *unused) {
  (void)unused;
  for (int i = 0; i < fx->n; i++) {
    if (fx->nodes[i]->stopped) continue;
    for (int j = 0; j < fx->n; j++)
      if (!fx->nodes[j]->stopped && ct_state(fx->nodes[i], fx->nodes[j]->name) != CLU_ALIVE) return false;
  }
  return true;
}

bool ct_all_see(ct_fixture *fx, const char *name, clu_member_state state) {
  for (int i = 0; i < fx->n; i++) {
    const ct_node *n = fx->nodes[i];
    if (n->stopped || !strcmp(n->name, name)) continue;
    if (ct_state(n, name) != state) return false;
  }
  return true;
}

int ct_count_events(const ct_node *n, clu_event_type type, const char *member) {
  int k = 0;
  for (int i = ct_first_event(n); i < n->nev; i++) {
    const ct_event *e = ct_event_at(n, i);
    if (e->type == type && (!member || !strcmp(e->member, member))) k++;
  }
  return k;
}

static bool all_joined(ct_fixture *fx, void *arg) {
  (void)arg;
  for (int i = 1; i < fx->n; i++)
    if (!fx->nodes[i]->joined) return false;
  return true;
}

void ct_cluster(ct_fixture *fx, int n) {
  for (int i = 0; i < n; i++) ct_node_add(fx, NULL);
  for (int i = 1; i < n; i++) ct_node_join(fx->nodes[i], fx->nodes[0]);
  if (!ct_run_until(fx, all_joined, NULL, 20000)) die("the joins did not answer within 20 s");
  for (int i = 1; i < n; i++)
    if (fx->nodes[i]->join_rc || fx->nodes[i]->join_count != 1)
      die("%s could not join: %s", fx->nodes[i]->name, fx->nodes[i]->join_msg);
  if (!ct_run_until(fx, ct_converged, NULL, 20000)) die("%d members did not converge within 20 s", n);
}
