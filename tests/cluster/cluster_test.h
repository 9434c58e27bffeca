/* cluster_test.h — several hpvm_cluster members in one process, on one libuv loop, on
 * 127.0.0.1 ephemeral ports, with fast timings: the fixture of tests/cluster and of
 * bench/cluster. Each member has its own channel identity (in a temporary directory) and
 * trusts every host; the cluster secret is what keeps strangers out. */
#ifndef HPVM_CLUSTER_TEST_H
#define HPVM_CLUSTER_TEST_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster.h"

#define CT_MAX_NODES 64
#define CT_MAX_EVENTS 4096                /* the most recent events are kept (a ring) */

typedef struct ct_event {
  clu_event_type type;
  clu_member_state prev;
  char member[64];                        /* the fixture's names are short */
  uint64_t incarnation;
  uint64_t at_ms;                         /* uv_hrtime in ms */
} ct_event;

typedef struct ct_node {
  struct ct_fixture *fx;
  int index;
  char name[32];
  chan_identity id;
  chan_config chan;
  uint8_t secret[32];
  clu *c;
  bool stopped;                           /* clu_stop's cb ran (and clu_free was called) */
  ct_event ev[CT_MAX_EVENTS];             /* event i (from ct_first_event) is ev[i % CT_MAX_EVENTS] */
  int nev;                                /* events so far */
  uint64_t ev_total[CLU_EV_ALIVE + 1];    /* per type */
  /* join result */
  bool joined;
  int join_count, join_rc;
  char join_msg[400];
  bool left;                              /* clu_leave's cb ran */
} ct_node;

typedef struct ct_fixture {
  uv_loop_t loop;
  uv_timer_t tick;                        /* keeps uv_run(ONCE) returning */
  char dir[64];
  uint8_t secret[32];
  clu_config base;                        /* timings for every node */
  const char *bind_addr;                  /* "127.0.0.1:0" unless a test sets another */
  ct_node *nodes[CT_MAX_NODES];
  int n;
} ct_fixture;

/* The fast timings of the tests (probe 100 ms, timeout 40 ms, gossip 20 ms, push/pull 1 s). */
void ct_fast_config(clu_config *c);

ct_fixture *ct_fixture_new(void);
void ct_fixture_free(ct_fixture *fx);   /* stops what still runs */

/* A new member (created and started; secret NULL: the fixture's). */
ct_node *ct_node_add(ct_fixture *fx, const uint8_t *secret);
void ct_node_join(ct_node *n, const ct_node *seed);
void ct_node_stop(ct_node *n);          /* clu_stop, wait, clu_free */
void ct_node_leave(ct_node *n);         /* clu_leave, wait for its cb */

uint64_t ct_ms(void);                   /* monotonic ms */
/* Run the loop until pred(fx, arg) holds or timeout_ms pass; whether it held. */
bool ct_run_until(ct_fixture *fx, bool (*pred)(ct_fixture *, void *), void *arg, unsigned timeout_ms);
void ct_run_for(ct_fixture *fx, unsigned ms);

/* What node n sees of the member called name: its state (CLU_MEMBER_INVALID if unknown). */
clu_member_state ct_state(const ct_node *n, const char *name);
uint64_t ct_incarnation(const ct_node *n, const char *name);
/* Whether every running node but `except` sees every running node as alive. */
bool ct_converged(ct_fixture *fx, void *unused);
/* Whether every running node other than the member itself sees it in state `state`. */
bool ct_all_see(ct_fixture *fx, const char *name, clu_member_state state);
/* Events of this type about member (NULL: anyone) among those kept. */
int ct_count_events(const ct_node *n, clu_event_type type, const char *member);
static inline int ct_first_event(const ct_node *n) {
  return n->nev > CT_MAX_EVENTS ? n->nev - CT_MAX_EVENTS : 0;
}
static inline const ct_event *ct_event_at(const ct_node *n, int i) {
  return &n->ev[i % CT_MAX_EVENTS];
}

/* A 5-node cluster: node 0 the seed, all joined and converged (asserts). */
void ct_cluster(ct_fixture *fx, int n);

#endif
