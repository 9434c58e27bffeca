/* bench_cluster — failure detection time and false positives of hpvm_cluster (SWIM) with M
 * members on loopback, in one process on one libuv loop (the tests' fixture,
 * tests/cluster/cluster_test.h).
 *
 * For each packet-loss rate asked for (each datagram dropped at random by its sender's
 * fault-injection hook: the rate is per hop), one row:
 *   1. M members join through one seed and converge;
 *   2. steady state for N minutes: every SUSPECT or DEAD event is a false positive (nobody
 *      failed), and so is every refutation;
 *   3. K failures, one after the other: a member is stopped without leaving; we time the
 *      first suspicion of it anywhere and the moment every other member holds it DEAD; a
 *      fresh member then joins so that M stays the same.
 * Nothing gates on a time; ctest runs --quick once as a smoke test.
 *
 *   bench_cluster [--members M] [--minutes N] [--kills K] [--probe-ms P] [--loss 0,5,20] [--quick] */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_test.h"

typedef struct opts {
  int members, kills;
  double minutes;
  unsigned probe_ms;
  double loss[8];
  int nloss;
} opts;

typedef struct lossy {
  double rate;
  uint64_t state;                         /* xorshift64 */
} lossy;

static bool drop_some(void *arg, clu_dir dir, const struct sockaddr *peer, const uint8_t *bytes, size_t len,
                      unsigned kind) {
  (void)peer, (void)bytes, (void)len, (void)kind;
  lossy *l = arg;
  if (dir != CLU_DIR_OUT) return true;    /* each datagram is lost at most once: loss% per hop */
  l->state ^= l->state << 13;
  l->state ^= l->state >> 7;
  l->state ^= l->state << 17;
  return (double)(l->state % 1000000) / 1e6 >= l->rate;
}

static lossy hooks[CT_MAX_NODES];

static void set_loss(ct_node *n, double rate) {
  hooks[n->index] = (lossy){.rate = rate, .state = 0x9e3779b97f4a7c15ull ^ (uint64_t)(n->index + 1) * 7919};
  clu_set_packet_hook(n->c, rate > 0 ? drop_some : NULL, &hooks[n->index]);
}

static void usage(void) {
  fprintf(stderr, "usage: bench_cluster [--members M] [--minutes N] [--kills K] [--probe-ms P] [--loss PCT,PCT...] "
                  "[--quick]\n");
  exit(2);
}

static void parse(int argc, char **argv, opts *o) {
  *o = (opts){.members = 5, .kills = 3, .minutes = 0.2, .probe_ms = 200, .loss = {0, 10}, .nloss = 2};
  static const struct option lo[] = {{"members", 1, 0, 'm'}, {"minutes", 1, 0, 'n'}, {"kills", 1, 0, 'k'},
                                     {"probe-ms", 1, 0, 'p'}, {"loss", 1, 0, 'l'},    {"quick", 0, 0, 'q'},
                                     {0, 0, 0, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    switch (ch) {
    case 'm': o->members = atoi(optarg); break;
    case 'n': o->minutes = atof(optarg); break;
    case 'k': o->kills = atoi(optarg); break;
    case 'p': o->probe_ms = (unsigned)atoi(optarg); break;
    case 'l': {
      o->nloss = 0;
      for (char *t = strtok(optarg, ","); t && o->nloss < 8; t = strtok(NULL, ",")) o->loss[o->nloss++] = atof(t);
      break;
    }
    case 'q': *o = (opts){.members = 4, .kills = 1, .minutes = 0.05, .probe_ms = 100, .loss = {0}, .nloss = 1}; break;
    default: usage();
    }
  }
  if (o->members < 3 || o->kills < 0 || o->minutes < 0 || o->probe_ms < 20 || !o->nloss ||
      o->members + o->kills > CT_MAX_NODES)
    usage();
}

typedef struct row {
  uint64_t suspicion_ms;
  double minutes;
  uint64_t false_suspect, false_dead;
  uint64_t refutations, sent, bytes;
  double member_seconds;
  double first_sum, first_max, all_sum, all_max;
  int detected, missed;
} row;

/* Events of this type since `since` (per node), about anyone: in the steady phase nobody has
 * failed, so each is a false positive. */
static uint64_t events_since(ct_fixture *fx, clu_event_type type, const uint64_t since[]) {
  uint64_t k = 0;
  for (int i = 0; i < fx->n; i++) k += fx->nodes[i]->ev_total[type] - since[i];
  return k;
}

static bool dead_everywhere(ct_fixture *fx, void *name) {
  return ct_all_see(fx, name, CLU_DEAD);
}

static bool all_joined(ct_fixture *fx, void *arg) {
  (void)fx;
  return ((ct_node *)arg)->joined;
}

static double first_suspicion(ct_fixture *fx, const char *victim, uint64_t t0) {
  uint64_t first = UINT64_MAX;
  for (int i = 0; i < fx->n; i++) {
    const ct_node *n = fx->nodes[i];
    for (int i = ct_first_event(n); i < n->nev; i++) {
      const ct_event *e = ct_event_at(n, i);
      if ((e->type == CLU_EV_SUSPECT || e->type == CLU_EV_DEAD) && !strcmp(e->member, victim) && e->at_ms >= t0 &&
          e->at_ms < first)
        first = e->at_ms;
    }
  }
  return first == UINT64_MAX ? NAN : (double)(first - t0);
}

static void counters_sum(ct_fixture *fx, uint64_t *sent, uint64_t *bytes, uint64_t *refutations) {
  *sent = *bytes = *refutations = 0;
  for (int i = 0; i < fx->n; i++) {
    if (fx->nodes[i]->stopped) continue;
    clu_counters k;
    clu_counters_get(fx->nodes[i]->c, &k);
    *sent += k.packets_sent;
    *bytes += k.bytes_sent;
    *refutations += k.refutations;
  }
}

static void run_row(const opts *o, double loss, row *r) {
  memset(r, 0, sizeof *r);
  ct_fixture *fx = ct_fixture_new();
  clu_config *b = &fx->base;
  b->probe_interval_ms = o->probe_ms;
  b->probe_timeout_ms = o->probe_ms / 2;
  b->gossip_interval_ms = o->probe_ms / 5;
  b->push_pull_interval_ms = 30 * o->probe_ms;
  ct_cluster(fx, o->members);
  r->suspicion_ms = clu_suspicion_timeout_ms(fx->nodes[0]->c);
  for (int i = 0; i < fx->n; i++) set_loss(fx->nodes[i], loss / 100);

  /* Steady state: nothing fails, so every suspicion is false. */
  uint64_t susp0[CT_MAX_NODES], dead0[CT_MAX_NODES];
  for (int i = 0; i < fx->n; i++) {
    susp0[i] = fx->nodes[i]->ev_total[CLU_EV_SUSPECT];
    dead0[i] = fx->nodes[i]->ev_total[CLU_EV_DEAD];
  }
  uint64_t sent0, bytes0, ref0;
  counters_sum(fx, &sent0, &bytes0, &ref0);
  uint64_t t0 = ct_ms();
  ct_run_for(fx, (unsigned)(o->minutes * 60000));
  double secs = (double)(ct_ms() - t0) / 1000;
  r->minutes = secs / 60;
  r->false_suspect = events_since(fx, CLU_EV_SUSPECT, susp0);
  r->false_dead = events_since(fx, CLU_EV_DEAD, dead0);
  uint64_t sent1, bytes1, ref1;
  counters_sum(fx, &sent1, &bytes1, &ref1);
  r->refutations = ref1 - ref0;
  r->sent = sent1 - sent0;
  r->bytes = bytes1 - bytes0;
  r->member_seconds = secs * o->members;

  /* Failures, one at a time, each replaced by a fresh member. */
  uint64_t theory = (uint64_t)o->members * o->probe_ms + r->suspicion_ms + o->probe_ms;
  for (int k = 0; k < o->kills; k++) {
    ct_node *victim = NULL;
    for (int i = fx->n - 1; i > 0 && !victim; i--)
      if (!fx->nodes[i]->stopped) victim = fx->nodes[i];
    uint64_t k0 = ct_ms();
    ct_node_stop(victim);
    if (ct_run_until(fx, dead_everywhere, victim->name, (unsigned)(20 * theory))) {
      double all = (double)(ct_ms() - k0), first = first_suspicion(fx, victim->name, k0);
      r->detected++;
      r->all_sum += all;
      r->all_max = fmax(r->all_max, all);
      r->first_sum += first;
      r->first_max = fmax(r->first_max, first);
    } else {
      r->missed++;
    }
    ct_node *fresh = ct_node_add(fx, NULL);
    ct_node_join(fresh, fx->nodes[0]);
    ct_run_until(fx, all_joined, fresh, 10000);
    set_loss(fresh, loss / 100);
    ct_run_until(fx, ct_converged, NULL, (unsigned)(20 * theory));
  }
  ct_fixture_free(fx);
}

int main(int argc, char **argv) {
  opts o;
  parse(argc, argv, &o);
  printf("hpvm_cluster on loopback, %d members in one process, probe %u ms (timeout %u ms), suspicion mult 4, "
         "indirect k 3\n\n", o.members, o.probe_ms, o.probe_ms / 2);
  printf("%6s %7s %7s %6s %9s %9s %9s %11s %11s %9s %9s %7s\n", "loss%", "members", "minutes", "susp", "false",
         "false", "refuted", "detect 1st", "detect all", "max all", "pkts/s", "KB/s");
  printf("%6s %7s %7s %6s %9s %9s %9s %11s %11s %9s %9s %7s\n", "", "", "", "ms", "suspects", "deaths", "", "avg ms",
         "avg ms", "ms", "/member", "/member");
  for (int i = 0; i < o.nloss; i++) {
    row r;
    run_row(&o, o.loss[i], &r);
    double d = r.detected ? r.detected : NAN;
    printf("%6.1f %7d %7.2f %6llu %9llu %9llu %9llu %11.0f %11.0f %9.0f %9.1f %7.2f", o.loss[i], o.members, r.minutes,
           (unsigned long long)r.suspicion_ms, (unsigned long long)r.false_suspect,
           (unsigned long long)r.false_dead, (unsigned long long)r.refutations,
           r.first_sum / d, r.all_sum / d, r.detected ? r.all_max : NAN, (double)r.sent / r.member_seconds,
           (double)r.bytes / r.member_seconds / 1024);
    if (r.missed) printf("  (%d of %d failures not seen by all within 20x the bound)", r.missed, o.kills);
    printf("\n");
    fflush(stdout);
  }
  printf("\nfalse suspects/deaths: SUSPECT/DEAD events about running members during the steady phase, summed over\n"
         "observers; detect 1st: stop -> first suspicion anywhere; detect all: stop -> DEAD at every other member.\n");
  return 0;
}
