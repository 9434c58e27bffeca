/* test_api.c — hpvm_cluster's refusals and life cycle: configurations it refuses (with a
 * message), a join with nobody to join, a seed that does not answer, a leave with nobody to
 * tell, a clu stopped without ever starting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
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

static void set_flag(void *arg) {
  *(bool *)arg = true;
}

static bool flag_set(ct_fixture *fx, void *arg) {
  (void)fx;
  return *(bool *)arg;
}

static void test_bad_configurations_are_refused_with_a_message(void **state) {
  ct_fixture *fx = *state;
  ct_node *n = ct_node_add(fx, NULL);     /* for a valid identity and secret */
  clu_config good;
  ct_fast_config(&good);
  good.name = "x";
  good.bind_addr = "127.0.0.1:0";
  good.secret = n->secret;
  good.chan = &n->chan;
  good.meta.state = CLU_HOST_UP;
  char msg[400];
  clu *c = NULL;
  clu_config k;

  k = good, k.name = "";
  assert_int_equal(clu_create(&fx->loop, &k, &c, msg, sizeof msg), HPVM_EINVAL);
  assert_non_null(strstr(msg, "host name"));
  k = good, k.bind_addr = "localhost:7946";
  assert_int_equal(clu_create(&fx->loop, &k, &c, msg, sizeof msg), HPVM_EINVAL);
  assert_non_null(strstr(msg, "not IP:PORT"));
  k = good, k.bind_addr = "0.0.0.0:0";
  assert_int_equal(clu_create(&fx->loop, &k, &c, msg, sizeof msg), HPVM_EINVAL);
  assert_non_null(strstr(msg, "advertise_addr"));
  k = good, k.probe_timeout_ms = k.probe_interval_ms;
  assert_int_equal(clu_create(&fx->loop, &k, &c, msg, sizeof msg), HPVM_EINVAL);
  assert_non_null(strstr(msg, "below the probe interval"));
  k = good, k.secret = NULL;
  assert_int_equal(clu_create(&fx->loop, &k, &c, msg, sizeof msg), HPVM_EINVAL);
  k = good, k.meta.state = CLU_HOST_INVALID;
  assert_int_equal(clu_create(&fx->loop, &k, &c, msg, sizeof msg), HPVM_EINVAL);
  k = good, k.max_packet = 100;
  assert_int_equal(clu_create(&fx->loop, &k, &c, msg, sizeof msg), HPVM_EINVAL);
  /* The port a running member holds is refused, naming it. */
  k = good, k.bind_addr = clu_local_addr(n->c);
  assert_int_equal(clu_create(&fx->loop, &k, &c, msg, sizeof msg), HPVM_EBUSY);
  assert_non_null(strstr(msg, clu_local_addr(n->c)));
  assert_null(c);
  /* A wildcard bind with an advertised address is fine. */
  k = good, k.bind_addr = "0.0.0.0:0", k.advertise_addr = "127.0.0.1:7946";
  assert_int_equal(clu_create(&fx->loop, &k, &c, msg, sizeof msg), 0);
  assert_string_equal(clu_local_addr(c), "127.0.0.1:7946");
  assert_string_equal(clu_name(c), "x");
  /* Stopped without ever starting. */
  bool stopped = false;
  clu_stop(c, set_flag, &stopped);
  assert_true(ct_run_until(fx, flag_set, &stopped, 5000));
  clu_free(c);
}

static void on_join(void *arg, int joined, int rc, const char *msg) {
  ct_node *n = arg;
  n->joined = true;
  n->join_count = joined;
  n->join_rc = rc;
  snprintf(n->join_msg, sizeof n->join_msg, "%s", msg);
}

static bool joined(ct_fixture *fx, void *arg) {
  (void)fx;
  return ((ct_node *)arg)->joined;
}

static void test_a_join_needs_a_seed_other_than_itself_and_one_that_answers(void **state) {
  ct_fixture *fx = *state;
  ct_node *n = ct_node_add(fx, NULL);
  char msg[400];
  const char *self[] = {clu_local_addr(n->c)};
  assert_int_equal(clu_join(n->c, self, 1, on_join, n, msg, sizeof msg), HPVM_EINVAL);
  assert_non_null(strstr(msg, "no seed other than this host"));
  const char *bad[] = {"nowhere"};
  assert_int_equal(clu_join(n->c, bad, 1, on_join, n, msg, sizeof msg), HPVM_EINVAL);

  /* A port where nobody listens: the join fails through its callback. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa;
  socklen_t sl = sizeof sa;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%u", ntohs(sa.sin_port));
  close(fd);                              /* bound once, now free: connection refused */
  const char *dead[] = {addr};
  assert_int_equal(clu_join(n->c, dead, 1, on_join, n, msg, sizeof msg), 0);
  assert_int_equal(clu_join(n->c, dead, 1, on_join, n, msg, sizeof msg), HPVM_EBUSY);
  assert_true(ct_run_until(fx, joined, n, 10000));
  assert_int_equal(n->join_count, 0);
  assert_int_equal(n->join_rc, HPVM_EIO);
  assert_non_null(strstr(n->join_msg, addr));
  print_message("%s\n", n->join_msg);
  assert_int_equal(clu_member_count(n->c), 1);
  clu_counters k;
  clu_counters_get(n->c, &k);
  assert_int_equal(k.push_pull_failed, 1);
  assert_int_equal(k.push_pull_auth_failed, 0);
}

static void test_a_lone_member_leaves_at_once_and_refuses_a_second_leave(void **state) {
  ct_fixture *fx = *state;
  ct_node *n = ct_node_add(fx, NULL);
  uint64_t t0 = ct_ms();
  ct_node_leave(n);
  assert_true(ct_ms() - t0 < 5000);       /* not the leave's timeout: nobody to tell */
  assert_int_equal(clu_leave(n->c, 1000, NULL, NULL), HPVM_ESTATE);
  clu_member me;
  assert_int_equal(clu_member_find(n->c, n->name, &me), 0);
  assert_int_equal(me.state, CLU_LEFT);
  assert_true(me.self);
  assert_int_equal(me.incarnation, 2);
  assert_int_equal(clu_set_meta(n->c, &me.meta), HPVM_ESTATE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_bad_configurations_are_refused_with_a_message, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_join_needs_a_seed_other_than_itself_and_one_that_answers, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_a_lone_member_leaves_at_once_and_refuses_a_second_leave, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
