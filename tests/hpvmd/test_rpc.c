/* test_rpc.c — the framing of the control streams (proto/rpc.h) against a hostile or broken
 * peer: prefaces of another protocol or version, lengths over the limit refused before any
 * allocation, frames split at every byte, truncation, garbage that does not parse, and a
 * round trip of every kind of message over a real socketpair. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hpvmd_test.h"
#include "rpc.h"

static void test_preface_of_another_protocol_or_version_is_refused(void **state) {
  (void)state;
  uint8_t p[WIRE_PREFACE_LEN];
  char msg[200];
  wire_preface_make(p, WIRE_MAGIC_APP, WIRE_RPC_VERSION);
  assert_int_equal(wire_preface_check(p, WIRE_MAGIC_APP, WIRE_RPC_VERSION, msg, sizeof msg), 0);
  assert_int_equal(wire_preface_check(p, WIRE_MAGIC_CONTROL, WIRE_RPC_VERSION, msg, sizeof msg), HPVM_ECORRUPT);
  assert_string_equal(msg, "the peer does not speak the HPVMCTL protocol (wrong preface)");
  wire_preface_make(p, WIRE_MAGIC_CONTROL, 9);
  assert_int_equal(wire_preface_check(p, WIRE_MAGIC_CONTROL, WIRE_RPC_VERSION, msg, sizeof msg), HPVM_ENOTSUP);
  assert_string_equal(msg, "HPVMCTL protocol version 9 on the other side, 1 here: run the same hpvm version on both");
}

static void test_framer_reassembles_frames_fed_one_byte_at_a_time(void **state) {
  (void)state;
  Hpvm__StartVmRequest s = HPVM__START_VM_REQUEST__INIT;
  s.name = "web1";
  Hpvm__Request r = HPVM__REQUEST__INIT;
  r.id = 42;
  r.body_case = HPVM__REQUEST__BODY_START;
  r.start = &s;
  uint8_t stream[4096];
  size_t n = 0;
  wire_preface_make(stream, WIRE_MAGIC_CONTROL, WIRE_RPC_VERSION);
  n = WIRE_PREFACE_LEN;
  for (int i = 0; i < 3; i++) {
    uint8_t *f;
    size_t len;
    r.id = 42 + (uint64_t)i;
    assert_int_equal(wire_frame_pack(&r.base, WIRE_RPC_MAX_FRAME, &f, &len), 0);
    memcpy(stream + n, f, len);
    n += len;
    free(f);
  }
  wire_framer f;
  wire_framer_init(&f, WIRE_MAGIC_CONTROL, WIRE_RPC_VERSION, 1024);
  int got = 0;
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(wire_framer_feed(&f, stream + i, 1), 0);
    const uint8_t *p;
    uint32_t len;
    int rc;
    while ((rc = wire_framer_next(&f, &p, &len)) == 1) {
      Hpvm__Request *q = hpvm__request__unpack(NULL, len, p);
      assert_non_null(q);
      assert_int_equal(q->id, 42 + (uint64_t)got);
      assert_string_equal(q->start->name, "web1");
      hpvm__request__free_unpacked(q, NULL);
      got++;
    }
    assert_int_equal(rc, 0);
  }
  assert_int_equal(got, 3);
  wire_framer_free(&f);
}

static void test_framer_refuses_a_length_over_the_limit_before_it_arrives(void **state) {
  (void)state;
  wire_framer f;
  wire_framer_init(&f, WIRE_MAGIC_APP, WIRE_RPC_VERSION, 1000);
  uint8_t b[WIRE_PREFACE_LEN + 4];
  wire_preface_make(b, WIRE_MAGIC_APP, WIRE_RPC_VERSION);
  b[8] = 0xff, b[9] = 0xff, b[10] = 0xff, b[11] = 0x7f;   /* 2 GiB announced, nothing sent */
  assert_int_equal(wire_framer_feed(&f, b, sizeof b), 0);
  const uint8_t *p;
  uint32_t len;
  assert_int_equal(wire_framer_next(&f, &p, &len), HPVM_ERANGE);
  assert_string_equal(f.msg, "a frame of 2147483647 bytes is over the limit of 1000");
  assert_true(f.cap <= 4096);   /* nothing was allocated for it */
  assert_int_equal(wire_framer_feed(&f, b, 1), HPVM_ERANGE);   /* and the error sticks */
  wire_framer_free(&f);
}

static void test_blocking_reader_reports_truncation_garbage_and_clean_end(void **state) {
  (void)state;
  int sv[2];
  char msg[200];
  ProtobufCMessage *m;
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  /* A frame header promising 100 bytes, then 10 bytes, then the end. */
  uint8_t h[14] = {100, 0, 0, 0};
  assert_int_equal(write(sv[0], h, sizeof h), (ssize_t)sizeof h);
  close(sv[0]);
  assert_int_equal(wire_recv_msg(sv[1], &hpvm__request__descriptor, 1000, &m, msg, sizeof msg), HPVM_ETRUNC);
  assert_string_equal(msg, "the peer closed the connection inside a Request frame of 100 bytes");
  close(sv[1]);
  /* Bytes that are not a Request. */
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  uint8_t g[8] = {4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
  assert_int_equal(write(sv[0], g, sizeof g), (ssize_t)sizeof g);
  assert_int_equal(wire_recv_msg(sv[1], &hpvm__request__descriptor, 1000, &m, msg, sizeof msg), HPVM_ECORRUPT);
  assert_string_equal(msg, "a frame of 4 bytes does not parse as Request");
  /* A clean end between frames is not an error. */
  close(sv[0]);
  assert_int_equal(wire_recv_msg(sv[1], &hpvm__request__descriptor, 1000, &m, msg, sizeof msg), 1);
  close(sv[1]);
}

static void test_app_messages_round_trip_over_a_socketpair(void **state) {
  (void)state;
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  assert_int_equal(wire_send_preface(sv[0], WIRE_MAGIC_APP, WIRE_RPC_VERSION), 0);
  Hpvm__AppExit x = HPVM__APP_EXIT__INIT;
  x.status = 134;
  x.reason = "guest crashed on vCPU 0";
  Hpvm__AppEvent ev = HPVM__APP_EVENT__INIT;
  ev.body_case = HPVM__APP_EVENT__BODY_EXIT;
  ev.exit = &x;
  assert_int_equal(wire_send_msg(sv[0], &ev.base, WIRE_RPC_MAX_FRAME), 0);
  char msg[200];
  assert_int_equal(wire_recv_preface(sv[1], WIRE_MAGIC_APP, WIRE_RPC_VERSION, msg, sizeof msg), 0);
  ProtobufCMessage *m;
  assert_int_equal(wire_recv_msg(sv[1], &hpvm__app_event__descriptor, WIRE_RPC_MAX_FRAME, &m, msg, sizeof msg), 0);
  Hpvm__AppEvent *got = (Hpvm__AppEvent *)m;
  assert_int_equal(got->body_case, HPVM__APP_EVENT__BODY_EXIT);
  assert_int_equal(got->exit->status, 134);
  assert_string_equal(got->exit->reason, "guest crashed on vCPU 0");
  protobuf_c_message_free_unpacked(m, NULL);
  close(sv[0]), close(sv[1]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_preface_of_another_protocol_or_version_is_refused),
    cmocka_unit_test(test_framer_reassembles_frames_fed_one_byte_at_a_time),
    cmocka_unit_test(test_framer_refuses_a_length_over_the_limit_before_it_arrives),
    cmocka_unit_test(test_blocking_reader_reports_truncation_garbage_and_clean_end),
    cmocka_unit_test(test_app_messages_round_trip_over_a_socketpair),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
