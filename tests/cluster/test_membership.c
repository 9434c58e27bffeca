/* test_membership.c — hpvm_cluster members in one process on 127.0.0.1 (cluster_test.h):
 * join and convergence, failure detection, graceful leave, refutation of a false suspicion,
 * metadata propagation, a member with the wrong secret, replayed and damaged datagrams.
 *
 * Timings are fast (probe 100 ms) and no assertion is tight on time: the only bound checked
 * is the failure-detection time against five times its theoretical worst case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster_test.h"

static int setup(void **state) {
  *state = ct_fixture_new();
  return 0;
}

static int teardown(void **state) {
  ct_fixture_free(*state);
  return 0;
}

/* ---- Join ------------------------------------------------------------------------------------ */

static void test_five_members_join_through_one_seed_and_converge(void **state) {
  ct_fixture *fx = *state;
  ct_cluster(fx, 5);
  for (int i = 0; i < 5; i++) {
    ct_node *n = fx->nodes[i];
    assert_int_equal(clu_member_count(n->c), 5);
    /* Sorted by name, self flagged, everyone alive with the metadata they started with. */
    for (size_t k = 0; k < 5; k++) {
      clu_member m;
      assert_int_equal(clu_member_at(n->c, k, &m), 0);
      assert_string_equal(m.name, fx->nodes[k]->name);
      assert_int_equal(m.state, CLU_ALIVE);
      assert_int_equal(m.self, (int)k == i);
      assert_string_equal(m.addr, clu_local_addr(fx->nodes[k]->c));
      assert_int_equal(m.meta.state, CLU_HOST_UP);
      assert_int_equal(m.meta.cpu_ent_free, 800);
      assert_string_equal(m.meta.version, "0.1.0");
    }
    /* One JOIN event per other member, and nothing bad. */
    assert_int_equal(ct_count_events(n, CLU_EV_JOIN, NULL), 4);
    assert_int_equal(ct_count_events(n, CLU_EV_DEAD, NULL), 0);
    clu_counters k;
    clu_counters_get(n->c, &k);
    assert_true(k.packets_received > 0);
    assert_true(k.push_pulls > 0);
    assert_int_equal(k.dropped_auth + k.dropped_replay + k.dropped_malformed, 0);
  }
  clu_member m;
  assert_int_equal(clu_member_find(fx->nodes[0]->c, "nobody", &m), HPVM_ENOENT);
}

/* ---- Failure, leave ------------------------------------------------------------------------------ */

static bool victim_dead_everywhere(ct_fixture *fx, void *name) {
  return ct_all_see(fx, name, CLU_DEAD);
}

static void test_a_member_stopped_without_leave_is_declared_dead_by_all(void **state) {
  ct_fixture *fx = *state;
  ct_cluster(fx, 5);
  ct_node *victim = fx->nodes[3];
  uint64_t suspicion = clu_suspicion_timeout_ms(fx->nodes[0]->c);
  /* Worst case: the last prober reaches it after a whole round (n intervals), suspects it at
   * the end of that interval, then the suspicion timeout, then one more interval for the
   * sweep and the dissemination. */
  uint64_t theory = 5 * fx->base.probe_interval_ms + suspicion + fx->base.probe_interval_ms;
  uint64_t t0 = ct_ms();
  ct_node_stop(victim);
  assert_true(ct_run_until(fx, victim_dead_everywhere, victim->name, (unsigned)(10 * theory)));
  uint64_t took = ct_ms() - t0;
  print_message("failure detected by all 4 in %llu ms (theoretical worst case %llu ms)\n",
                (unsigned long long)took, (unsigned long long)theory);
  assert_true(took <= 5 * theory);
  uint64_t failed = 0;
  for (int i = 0; i < 5; i++) {
    if (fx->nodes[i] == victim) continue;
    assert_int_equal(ct_count_events(fx->nodes[i], CLU_EV_DEAD, victim->name), 1);
    assert_int_equal(ct_count_events(fx->nodes[i], CLU_EV_LEFT, victim->name), 0);
    clu_counters k;
    clu_counters_get(fx->nodes[i]->c, &k);
    failed += k.probes_failed;
  }
  assert_true(failed > 0);                /* someone's own probe found it, not only rumours */
  /* The others still agree about each other. */
  assert_true(ct_converged(fx, NULL));
}

static bool left_everywhere(ct_fixture *fx, void *name) {
  return ct_all_see(fx, name, CLU_LEFT);
}

static void test_a_graceful_leave_shows_left_not_dead(void **state) {
  ct_fixture *fx = *state;
  ct_cluster(fx, 5);
  ct_node *leaver = fx->nodes[2];
  ct_node_leave(leaver);
  ct_node_stop(leaver);
  assert_true(ct_run_until(fx, left_everywhere, leaver->name, 5000));
  assert_true(ct_converged(fx, NULL));    /* the others are fine */
  /* Long after the suspicion timeout, it is still LEFT and nobody ever thought it failed. */
  ct_run_for(fx, (unsigned)(3 * clu_suspicion_timeout_ms(fx->nodes[0]->c)));
  for (int i = 0; i < 5; i++) {
    if (fx->nodes[i] == leaver) continue;
    clu_member m;
    assert_int_equal(clu_member_find(fx->nodes[i]->c, leaver->name, &m), 0);
    assert_int_equal(m.state, CLU_LEFT);
    assert_int_equal(m.meta.state, CLU_HOST_LEFT);
    assert_int_equal(ct_count_events(fx->nodes[i], CLU_EV_LEFT, leaver->name), 1);
    assert_int_equal(ct_count_events(fx->nodes[i], CLU_EV_DEAD, leaver->name), 0);
  }
}

/* ---- Refutation ---------------------------------------------------------------------------------- */

static bool drop_acks(void *arg, clu_dir dir, const struct sockaddr *peer, const uint8_t *bytes, size_t len,
                      unsigned kind) {
  (void)arg, (void)peer, (void)bytes, (void)len;
  return !(dir == CLU_DIR_OUT && kind == CLU_PKT_ACK);
}

typedef struct refute_watch {
  ct_node *target;
  uint64_t inc0;
} refute_watch;

static bool suspected_and_refuted(ct_fixture *fx, void *arg) {
  refute_watch *w = arg;
  clu_counters k;
  clu_counters_get(w->target->c, &k);
  int suspicions = 0;
  for (int i = 0; i < fx->n; i++) suspicions += ct_count_events(fx->nodes[i], CLU_EV_SUSPECT, w->target->name);
  return suspicions > 0 && k.refutations > 0;
}

static bool alive_again_everywhere(ct_fixture *fx, void *arg) {
  refute_watch *w = arg;
  for (int i = 0; i < fx->n; i++) {
    ct_node *n = fx->nodes[i];
    if (n == w->target) continue;
    if (ct_state(n, w->target->name) != CLU_ALIVE || ct_incarnation(n, w->target->name) <= w->inc0) return false;
  }
  return true;
}

static void test_a_falsely_suspected_member_refutes_and_ends_alive(void **state) {
  ct_fixture *fx = *state;
  ct_cluster(fx, 5);
  refute_watch w = {.target = fx->nodes[2]};
  w.inc0 = ct_incarnation(w.target, w.target->name);
  /* It keeps running and pinging, but nobody hears its acks: every probe of it fails. */
  clu_set_packet_hook(w.target->c, drop_acks, NULL);
  assert_true(ct_run_until(fx, suspected_and_refuted, &w, 10000));
  ct_run_for(fx, 300);
  clu_set_packet_hook(w.target->c, NULL, NULL);
  assert_true(ct_run_until(fx, alive_again_everywhere, &w, 10000));
  /* And it stays so well past a suspicion timeout. */
  ct_run_for(fx, (unsigned)(2 * clu_suspicion_timeout_ms(fx->nodes[0]->c)));
  assert_true(alive_again_everywhere(fx, &w));
  clu_counters k;
  clu_counters_get(w.target->c, &k);
  assert_true(k.refutations >= 1);
  assert_true(k.dropped_hook > 0);
  assert_true(ct_incarnation(w.target, w.target->name) > w.inc0);
  print_message("refuted %llu suspicions; incarnation %llu -> %llu\n", (unsigned long long)k.refutations,
                (unsigned long long)w.inc0, (unsigned long long)ct_incarnation(w.target, w.target->name));
  /* Everyone who suspected it saw it come back. */
  for (int i = 0; i < fx->n; i++)
    if (ct_count_events(fx->nodes[i], CLU_EV_SUSPECT, w.target->name))
      assert_true(ct_count_events(fx->nodes[i], CLU_EV_ALIVE, w.target->name) >= 1);
}

/* ---- Metadata -------------------------------------------------------------------------------------- */

static bool meta_seen(ct_fixture *fx, void *arg) {
  const ct_node *src = arg;
  for (int i = 0; i < fx->n; i++) {
    clu_member m;
    if (clu_member_find(fx->nodes[i]->c, src->name, &m)) return false;
    if (m.meta.guests != 7 || m.meta.state != CLU_HOST_DRAINING || strcmp(m.meta.version, "0.2.0-rc1") ||
        m.meta.mem_free != (12ull << 30))
      return false;
  }
  return true;
}

static void test_metadata_changes_propagate(void **state) {
  ct_fixture *fx = *state;
  ct_cluster(fx, 5);
  ct_node *src = fx->nodes[4];
  clu_member me;
  assert_int_equal(clu_member_find(src->c, src->name, &me), 0);
  clu_meta m = me.meta;
  m.guests = 7;
  m.state = CLU_HOST_DRAINING;
  m.mem_free = 12ull << 30;
  snprintf(m.version, sizeof m.version, "0.2.0-rc1");
  assert_int_equal(clu_set_meta(src->c, &m), 0);
  assert_true(ct_run_until(fx, meta_seen, src, 10000));
  for (int i = 0; i < 4; i++) assert_true(ct_count_events(fx->nodes[i], CLU_EV_UPDATE, src->name) >= 1);
  /* A state outside the enum is refused and changes nothing. */
  clu_meta bad = m;
  bad.state = (clu_host_state)42;
  assert_int_equal(clu_set_meta(src->c, &bad), HPVM_EINVAL);
  assert_true(meta_seen(fx, src));
}

/* ---- Strangers and damaged datagrams ----------------------------------------------------------------- */

static bool joined(ct_fixture *fx, void *arg) {
  (void)fx;
  return ((ct_node *)arg)->joined;
}

static void test_a_member_with_the_wrong_secret_is_never_admitted(void **state) {
  ct_fixture *fx = *state;
  ct_cluster(fx, 3);
  uint8_t other[32];
  memset(other, 0x5a, sizeof other);
  ct_node *intruder = ct_node_add(fx, other);
  ct_node_join(intruder, fx->nodes[0]);
  assert_true(ct_run_until(fx, joined, intruder, 10000));
  assert_int_equal(intruder->join_rc, HPVM_EAUTH);
  assert_int_equal(intruder->join_count, 0);
  print_message("join refused: %s\n", intruder->join_msg);
  /* A few push/pull periods later, still nobody knows it and it knows nobody. */
  ct_run_for(fx, 2 * fx->base.push_pull_interval_ms);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(ct_state(fx->nodes[i], intruder->name), CLU_MEMBER_INVALID);
    assert_int_equal(clu_member_count(fx->nodes[i]->c), 3);
  }
  assert_int_equal(clu_member_count(intruder->c), 1);
  clu_counters seed, k;
  clu_counters_get(fx->nodes[0]->c, &seed);
  clu_counters_get(intruder->c, &k);
  assert_true(seed.dropped_auth >= 1);            /* its join ping */
  assert_true(seed.push_pull_auth_failed >= 1);   /* its join push/pull */
  assert_true(k.push_pull_auth_failed >= 1);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) assert_int_equal(ct_state(fx->nodes[i], fx->nodes[j]->name), CLU_ALIVE);
}

typedef struct capture {
  bool armed, got;
  uint8_t bytes[2048];
  size_t len;
} capture;

static bool capture_one(void *arg, clu_dir dir, const struct sockaddr *peer, const uint8_t *bytes, size_t len,
                        unsigned kind) {
  (void)peer, (void)kind;
  capture *cap = arg;
  if (dir == CLU_DIR_IN && cap->armed && !cap->got && len <= sizeof cap->bytes) {
    memcpy(cap->bytes, bytes, len);
    cap->len = len;
    cap->got = true;
  }
  return true;
}

static bool captured(ct_fixture *fx, void *arg) {
  (void)fx;
  return ((capture *)arg)->got;
}

/* Capture one authentic datagram that node 0 received (and accepted). */
static void capture_from(ct_fixture *fx, capture *cap) {
  memset(cap, 0, sizeof *cap);
  cap->armed = true;
  clu_set_packet_hook(fx->nodes[0]->c, capture_one, cap);
  assert_true(ct_run_until(fx, captured, cap, 5000));
  clu_set_packet_hook(fx->nodes[0]->c, NULL, NULL);
}

static void send_raw(ct_node *to, const uint8_t *bytes, size_t len) {
  struct sockaddr_in sa;
  char host[64];
  snprintf(host, sizeof host, "%s", clu_local_addr(to->c));
  char *colon = strrchr(host, ':');
  *colon = '\0';
  assert_int_equal(uv_ip4_addr(host, atoi(colon + 1), &sa), 0);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  assert_int_equal(sendto(fd, bytes, len, 0, (struct sockaddr *)&sa, sizeof sa), (ssize_t)len);
  close(fd);
}

typedef struct counter_watch {
  ct_node *n;
  size_t offset;                          /* offsetof(clu_counters, field) */
  uint64_t want;
} counter_watch;

static uint64_t counter(ct_node *n, size_t offset) {
  clu_counters k;
  clu_counters_get(n->c, &k);
  return *(uint64_t *)((char *)&k + offset);
}

static bool counter_reached(ct_fixture *fx, void *arg) {
  (void)fx;
  counter_watch *w = arg;
  return counter(w->n, w->offset) >= w->want;
}

static void test_a_replayed_datagram_is_dropped(void **state) {
  ct_fixture *fx = *state;
  ct_cluster(fx, 3);
  capture cap;
  capture_from(fx, &cap);
  ct_node *n0 = fx->nodes[0];
  uint64_t replay0 = counter(n0, offsetof(clu_counters, dropped_replay));
  uint64_t auth0 = counter(n0, offsetof(clu_counters, dropped_auth));
  for (int i = 0; i < 3; i++) send_raw(n0, cap.bytes, cap.len);
  counter_watch w = {n0, offsetof(clu_counters, dropped_replay), replay0 + 3};
  assert_true(ct_run_until(fx, counter_reached, &w, 5000));
  assert_int_equal(counter(n0, offsetof(clu_counters, dropped_replay)), replay0 + 3);
  assert_int_equal(counter(n0, offsetof(clu_counters, dropped_auth)), auth0);   /* authentic, only old */
  ct_run_for(fx, 200);
  assert_true(ct_converged(fx, NULL));
}

static void test_a_truncated_or_garbled_datagram_is_dropped(void **state) {
  ct_fixture *fx = *state;
  ct_cluster(fx, 3);
  capture cap;
  capture_from(fx, &cap);
  ct_node *n0 = fx->nodes[0];
  uint64_t auth0 = counter(n0, offsetof(clu_counters, dropped_auth));
  uint64_t replay0 = counter(n0, offsetof(clu_counters, dropped_replay));
  uint8_t buf[2048];
  int sent = 0;
  /* Cut short by one byte, cut to less than the envelope, empty. */
  send_raw(n0, cap.bytes, cap.len - 1), sent++;
  send_raw(n0, cap.bytes, 20), sent++;
  send_raw(n0, cap.bytes, 0), sent++;
  /* One bit flipped in the magic, the version, the nonce, the ciphertext, the tag. */
  size_t at[] = {0, 4, 10, 40, cap.len - 1};
  for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
    memcpy(buf, cap.bytes, cap.len);
    buf[at[i]] ^= 0x10;
    send_raw(n0, buf, cap.len), sent++;
  }
  /* Noise of the same length, and a datagram with one extra byte. */
  for (size_t i = 0; i < cap.len; i++) buf[i] = (uint8_t)(i * 131 + 7);
  send_raw(n0, buf, cap.len), sent++;
  memcpy(buf, cap.bytes, cap.len);
  buf[cap.len] = 0;
  send_raw(n0, buf, cap.len + 1), sent++;
  counter_watch w = {n0, offsetof(clu_counters, dropped_auth), auth0 + (uint64_t)sent};
  assert_true(ct_run_until(fx, counter_reached, &w, 5000));
  ct_run_for(fx, 100);
  assert_int_equal(counter(n0, offsetof(clu_counters, dropped_auth)), auth0 + (uint64_t)sent);
  assert_int_equal(counter(n0, offsetof(clu_counters, dropped_replay)), replay0);
  assert_true(ct_run_until(fx, ct_converged, NULL, 2000));
}

/* ---- IPv6 ----------------------------------------------------------------------------------------- */

static void test_members_converge_over_ipv6(void **state) {
  ct_fixture *fx = *state;
  struct sockaddr_in6 sa;
  assert_int_equal(uv_ip6_addr("::1", 0, &sa), 0);
  int fd = socket(AF_INET6, SOCK_DGRAM, 0);
  bool v6 = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  if (fd >= 0) close(fd);
  if (!v6) {
    print_message("skipped: this host has no IPv6 loopback (::1)\n");
    skip();
  }
  fx->bind_addr = "[::1]:0";
  ct_cluster(fx, 3);
  for (int i = 0; i < 3; i++) {
    clu_member m;
    assert_int_equal(clu_member_find(fx->nodes[0]->c, fx->nodes[i]->name, &m), 0);
    assert_memory_equal(m.addr, "[::1]:", 6);
    clu_counters k;
    clu_counters_get(fx->nodes[i]->c, &k);
    assert_true(k.push_pulls > 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_five_members_join_through_one_seed_and_converge, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_member_stopped_without_leave_is_declared_dead_by_all, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_graceful_leave_shows_left_not_dead, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_falsely_suspected_member_refutes_and_ends_alive, setup, teardown),
    cmocka_unit_test_setup_teardown(test_metadata_changes_propagate, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_member_with_the_wrong_secret_is_never_admitted, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_replayed_datagram_is_dropped, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_truncated_or_garbled_datagram_is_dropped, setup, teardown),
    cmocka_unit_test_setup_teardown(test_members_converge_over_ipv6, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
