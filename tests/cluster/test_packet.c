/* test_packet.c — the datagram envelope and the replay window of hpvm_cluster as units
 * (cluster/packet.c, through cluster/internal.h): sealing and opening, every kind of damage,
 * the other key, the per-sender sequence window, restarts of a sender, the clock check, and
 * addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "internal.h"

static uint8_t secret_a[32], secret_b[32];

static int setup(void **state) {
  (void)state;
  assert_true(sodium_init() >= 0);
  memset(secret_a, 1, sizeof secret_a);
  memset(secret_b, 2, sizeof secret_b);
  return 0;
}

/* ---- Envelope ------------------------------------------------------------------------------------ */

static void test_a_sealed_datagram_opens_with_the_same_secret_only(void **state) {
  (void)state;
  uint8_t ka[CLU_KEY_LEN], kb[CLU_KEY_LEN];
  clu_derive_key(secret_a, ka);
  clu_derive_key(secret_b, kb);
  assert_memory_not_equal(ka, kb, CLU_KEY_LEN);
  assert_memory_not_equal(ka, secret_a, CLU_KEY_LEN);   /* the secret itself never keys UDP */
  const char *text = "a ping, say";
  uint8_t d[256], copy[256], *plain;
  size_t len = clu_seal(ka, (const uint8_t *)text, strlen(text), d);
  assert_int_equal(len, strlen(text) + CLU_OVERHEAD);
  assert_memory_equal(d, "HPGS\x01", 5);
  memcpy(copy, d, len);
  assert_int_equal(clu_open(ka, copy, len, &plain), (long)strlen(text));
  assert_memory_equal(plain, text, strlen(text));
  memcpy(copy, d, len);
  assert_int_equal(clu_open(kb, copy, len, &plain), -1);
  /* Two seals of the same text differ (random nonce). */
  uint8_t d2[256];
  clu_seal(ka, (const uint8_t *)text, strlen(text), d2);
  assert_memory_not_equal(d, d2, len);
}

static void test_every_damaged_datagram_fails_to_open(void **state) {
  (void)state;
  uint8_t k[CLU_KEY_LEN], d[128], copy[128], *plain;
  clu_derive_key(secret_a, k);
  size_t len = clu_seal(k, (const uint8_t *)"0123456789", 10, d);
  for (size_t i = 0; i < len; i++) {
    for (int bit = 0; bit < 8; bit++) {
      memcpy(copy, d, len);
      copy[i] ^= (uint8_t)(1u << bit);
      assert_int_equal(clu_open(k, copy, len, &plain), -1);
    }
  }
  for (size_t cut = 0; cut < len; cut++) {
    memcpy(copy, d, len);
    assert_int_equal(clu_open(k, copy, cut, &plain), -1);
  }
}

/* ---- Replay window ----------------------------------------------------------------------------------- */

typedef struct rig {
  uv_loop_t loop;
  clu *c;
} rig;

static void rig_init(rig *r, unsigned skew_ms) {
  assert_int_equal(uv_loop_init(&r->loop), 0);
  r->c = calloc(1, sizeof *r->c);
  r->c->loop = &r->loop;
  r->c->cfg.max_clock_skew_ms = skew_ms;
}

static void rig_free(rig *r) {
  free(r->c->replay);
  free(r->c);
  uv_loop_close(&r->loop);
}

static int check(rig *r, const char *sender, uint64_t boot, uint64_t seq, uint64_t sent_ms) {
  Hpvm__GossipPacket p = HPVM__GOSSIP_PACKET__INIT;
  p.sender = (char *)sender;
  p.boot = boot;
  p.seq = seq;
  p.sent_unix_ms = sent_ms;
  return clu_replay_check(r->c, &p);
}

static void test_the_window_takes_each_sequence_once_and_tolerates_reordering(void **state) {
  (void)state;
  rig r;
  rig_init(&r, 0);
  assert_int_equal(check(&r, "a", 7, 1, 1000), 0);
  assert_int_equal(check(&r, "a", 7, 1, 1000), HPVM_EEXIST);
  assert_int_equal(check(&r, "a", 7, 5, 1000), 0);
  assert_int_equal(check(&r, "a", 7, 3, 1000), 0);     /* late but new */
  assert_int_equal(check(&r, "a", 7, 3, 1000), HPVM_EEXIST);
  assert_int_equal(check(&r, "a", 7, 5, 1000), HPVM_EEXIST);
  assert_int_equal(check(&r, "a", 7, 2, 1000), 0);
  assert_int_equal(check(&r, "a", 7, 100, 1000), 0);
  assert_int_equal(check(&r, "a", 7, 37, 1000), 0);    /* 63 behind: still in the window */
  assert_int_equal(check(&r, "a", 7, 36, 1000), HPVM_EEXIST);   /* 64 behind: too old */
  assert_int_equal(check(&r, "a", 7, 4, 1000), HPVM_EEXIST);
  assert_int_equal(check(&r, "a", 7, 0, 1000), HPVM_EEXIST);    /* 0 is never sent */
  /* Another sender has a window of its own. */
  assert_int_equal(check(&r, "b", 9, 1, 1000), 0);
  assert_int_equal(check(&r, "b", 9, 2, 1000), 0);
  assert_int_equal(check(&r, "a", 7, 101, 1000), 0);
  rig_free(&r);
}

static void test_a_restarted_sender_is_accepted_and_its_old_datagrams_are_not(void **state) {
  (void)state;
  rig r;
  rig_init(&r, 0);
  assert_int_equal(check(&r, "a", 1, 1, 1000), 0);
  assert_int_equal(check(&r, "a", 1, 2, 1001), 0);
  assert_int_equal(check(&r, "a", 2, 1, 5000), 0);     /* a new start, later by its own clock */
  assert_int_equal(check(&r, "a", 2, 2, 5001), 0);
  assert_int_equal(check(&r, "a", 1, 3, 1002), HPVM_EEXIST);   /* the old start's: a replay */
  assert_int_equal(check(&r, "a", 3, 1, 4000), HPVM_EEXIST);   /* a "start" older than what we saw */
  assert_int_equal(check(&r, "a", 2, 3, 5002), 0);
  rig_free(&r);
}

static void test_a_datagram_stamped_too_far_from_our_clock_is_refused(void **state) {
  (void)state;
  rig r;
  rig_init(&r, 60000);
  uint64_t now = clu_wall_ms();
  assert_int_equal(check(&r, "a", 1, 1, now), 0);
  assert_int_equal(check(&r, "a", 1, 2, now - 59000), 0);
  assert_int_equal(check(&r, "a", 1, 3, now - 61000), HPVM_EEXIST);
  assert_int_equal(check(&r, "a", 1, 4, now + 61000), HPVM_EEXIST);
  assert_int_equal(check(&r, "new", 1, 1, now - 3600000), HPVM_EEXIST);   /* an hour-old capture */
  rig_free(&r);
}

static void test_the_window_table_is_bounded(void **state) {
  (void)state;
  rig r;
  rig_init(&r, 0);
  char name[32];
  for (int i = 0; i < CLU_REPLAY_MAX + 100; i++) {
    snprintf(name, sizeof name, "s%d", i);
    assert_int_equal(check(&r, name, 1, 1, 1000), 0);
    uv_update_time(&r.loop);
  }
  assert_int_equal(r.c->replay_n, CLU_REPLAY_MAX);
  assert_int_equal(check(&r, name, 1, 1, 1000), HPVM_EEXIST);   /* the newest are still known */
  rig_free(&r);
}

/* ---- Addresses -------------------------------------------------------------------------------------- */

static void test_addresses_parse_and_format_both_families(void **state) {
  (void)state;
  struct sockaddr_storage sa;
  char out[CLU_ADDR_MAX];
  assert_int_equal(clu_addr_parse("127.0.0.1:7946", &sa), 0);
  assert_int_equal(clu_addr_format((struct sockaddr *)&sa, out, sizeof out), 0);
  assert_string_equal(out, "127.0.0.1:7946");
  assert_int_equal(clu_addr_parse("[::1]:80", &sa), 0);
  assert_int_equal(clu_addr_format((struct sockaddr *)&sa, out, sizeof out), 0);
  assert_string_equal(out, "[::1]:80");
  const char *bad[] = {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:65536", "::1:80", "[::1:80",
                       "host.example:80", "1.2.3.4:-1"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_int_equal(clu_addr_parse(bad[i], &sa), HPVM_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_a_sealed_datagram_opens_with_the_same_secret_only),
    cmocka_unit_test(test_every_damaged_datagram_fails_to_open),
    cmocka_unit_test(test_the_window_takes_each_sequence_once_and_tolerates_reordering),
    cmocka_unit_test(test_a_restarted_sender_is_accepted_and_its_old_datagrams_are_not),
    cmocka_unit_test(test_a_datagram_stamped_too_far_from_our_clock_is_refused),
    cmocka_unit_test(test_the_window_table_is_bounded),
    cmocka_unit_test(test_addresses_parse_and_format_both_families),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
