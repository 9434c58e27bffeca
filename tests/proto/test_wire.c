/* test_wire.c — the saved-state envelope (proto/wire.c): sections round-trip through memory
 * and fds, and a hostile or damaged stream is refused with the right code and sentence —
 * truncated at every offset, every single bit flipped, wrong magic, other versions, lengths
 * over the limit, an END that is not the end — without crashing or allocating what a length
 * claims. */
#include <errno.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "wire.h"

/* ---- Helpers ------------------------------------------------------------------------------ */

static const uint8_t payload_a[] = "first section's bytes";
static const uint8_t payload_b[300] = {1, 2, 3};

/* A stream of VM (a packed VmInfo), DEVICE (300 raw bytes), TIMERS (empty), END. */
static uint8_t *sample_stream(size_t *len) {
  wire_writer w;
  assert_int_equal(wire_writer_init_mem(&w), 0);
  Hpvm__VmInfo vm = HPVM__VM_INFO__INIT;
  vm.name = "guest1";
  vm.vcpus = 2;
  vm.memory_bytes = 1ull << 30;
  assert_int_equal(wire_write_msg(&w, WIRE_SEC_VM, &vm.base), 0);
  assert_int_equal(wire_write_section(&w, WIRE_SEC_DEVICE, payload_b, sizeof payload_b), 0);
  assert_int_equal(wire_write_section(&w, WIRE_SEC_TIMERS, NULL, 0), 0);
  assert_int_equal(wire_writer_end(&w), 0);
  return wire_writer_take(&w, len);
}

/* Read a whole stream from memory: 0 when it is complete and sound, else the first error. */
static int read_all_mem(const uint8_t *buf, size_t len, char *msg, size_t msglen) {
  wire_reader r;
  int rc = wire_reader_init_mem(&r, buf, len);
  wire_section s;
  if (rc == 0)
    while ((rc = wire_reader_next(&r, &s)) == 1) {}
  if (msg) snprintf(msg, msglen, "%s", wire_reader_error(&r));
  wire_reader_free(&r);
  return rc;
}

/* The same through a pipe, so the fd reader sees the bytes as a stream would bring them. */
static int read_all_fd(const uint8_t *buf, size_t len, char *msg, size_t msglen) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  assert_true(len <= 65536);  /* fits the pipe buffer: write everything, then read */
  assert_int_equal(write(p[1], buf, len), (ssize_t)len);
  close(p[1]);
  wire_reader r;
  int rc = wire_reader_init_fd(&r, p[0]);
  wire_section s;
  if (rc == 0)
    while ((rc = wire_reader_next(&r, &s)) == 1) {}
  if (msg) snprintf(msg, msglen, "%s", wire_reader_error(&r));
  wire_reader_free(&r);
  close(p[0]);
  return rc;
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Give a stream another version, with a header CRC that matches it. */
static void set_version(uint8_t *buf, uint32_t version) {
  put32(buf + 8, version);
  put32(buf + 12, wire_crc32c(0, buf, 12));
}

/* Append a section with a correct CRC to a hand-built stream. */
static size_t put_section(uint8_t *buf, size_t at, uint32_t type, uint32_t len, const void *payload) {
  put32(buf + at, type);
  put32(buf + at + 4, len);
  if (len) memcpy(buf + at + 8, payload, len);
  put32(buf + at + 8 + len, wire_crc32c(0, buf + at, 8 + (size_t)len));
  return at + 12 + len;
}

/* A header (version 1.0) followed by the given sections; returns the length. */
static size_t hand_stream(uint8_t *buf, uint32_t version) {
  memcpy(buf, WIRE_MAGIC, 8);
  set_version(buf, version);
  return WIRE_HEADER_LEN;
}

/* ---- Round trips -------------------------------------------------------------------------- */

static void test_crc32c_matches_the_standard_check_value(void **state) {
  (void)state;
  assert_int_equal(wire_crc32c(0, "123456789", 9), 0xe3069283u);
  assert_int_equal(wire_crc32c(wire_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
  assert_int_equal(wire_crc32c(0, "", 0), 0);
}

static void test_sections_round_trip_through_memory(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = sample_stream(&len);
  assert_memory_equal(buf, "HPVMSTAT", 8);
  wire_reader r;
  wire_section s;
  assert_int_equal(wire_reader_init_mem(&r, buf, len), 0);
  assert_int_equal(r.version, WIRE_VERSION);

  assert_int_equal(wire_reader_next(&r, &s), 1);
  assert_int_equal(s.type, WIRE_SEC_VM);
  assert_int_equal(s.offset, WIRE_HEADER_LEN);
  ProtobufCMessage *pm;
  assert_int_equal(wire_section_unpack(&r, &s, &hpvm__vm_info__descriptor, &pm), 0);
  Hpvm__VmInfo *vm = (Hpvm__VmInfo *)pm;
  assert_string_equal(vm->name, "guest1");
  assert_int_equal(vm->vcpus, 2);
  assert_int_equal(vm->memory_bytes, 1ull << 30);
  protobuf_c_message_free_unpacked(pm, NULL);

  assert_int_equal(wire_reader_next(&r, &s), 1);
  assert_int_equal(s.type, WIRE_SEC_DEVICE);
  assert_int_equal(s.len, sizeof payload_b);
  assert_memory_equal(s.payload, payload_b, sizeof payload_b);

  assert_int_equal(wire_reader_next(&r, &s), 1);
  assert_int_equal(s.type, WIRE_SEC_TIMERS);
  assert_int_equal(s.len, 0);

  assert_int_equal(wire_reader_next(&r, &s), 0);
  assert_int_equal(wire_reader_next(&r, &s), 0);  /* stays at the end */
  assert_int_equal(r.pos, len);
  assert_string_equal(wire_reader_error(&r), "");
  wire_reader_free(&r);
  free(buf);
}

static void test_sections_round_trip_through_an_fd(void **state) {
  (void)state;
  FILE *f = tmpfile();
  assert_non_null(f);
  int fd = fileno(f);
  wire_writer w;
  assert_int_equal(wire_writer_init_fd(&w, fd), 0);
  assert_int_equal(wire_write_section(&w, WIRE_SEC_CPU, payload_a, sizeof payload_a), 0);
  /* A payload larger than the reader's first buffer, so it has to grow. */
  size_t big_len = 200000;
  uint8_t *big = malloc(big_len);
  for (size_t i = 0; i < big_len; i++) big[i] = (uint8_t)(i * 7);
  assert_int_equal(wire_write_section(&w, WIRE_SEC_DEVICE, big, big_len), 0);
  assert_int_equal(wire_writer_end(&w), 0);
  assert_int_equal(lseek(fd, 0, SEEK_SET), 0);

  wire_reader r;
  wire_section s;
  assert_int_equal(wire_reader_init_fd(&r, fd), 0);
  assert_int_equal(wire_reader_next(&r, &s), 1);
  assert_int_equal(s.type, WIRE_SEC_CPU);
  assert_memory_equal(s.payload, payload_a, sizeof payload_a);
  assert_int_equal(wire_reader_next(&r, &s), 1);
  assert_int_equal(s.len, big_len);
  assert_memory_equal(s.payload, big, big_len);
  assert_int_equal(wire_reader_next(&r, &s), 0);
  wire_reader_free(&r);
  free(big);
  fclose(f);
}

static void test_fd_reader_stops_at_end_leaving_what_follows(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = sample_stream(&len);
  uint8_t *two = malloc(len + 5);
  memcpy(two, buf, len);
  memcpy(two + len, "after", 5);
  int p[2];
  assert_int_equal(pipe(p), 0);
  assert_int_equal(write(p[1], two, len + 5), (ssize_t)(len + 5));
  close(p[1]);
  wire_reader r;
  wire_section s;
  assert_int_equal(wire_reader_init_fd(&r, p[0]), 0);
  int rc;
  while ((rc = wire_reader_next(&r, &s)) == 1) {}
  assert_int_equal(rc, 0);
  char rest[8] = {0};
  assert_int_equal(read(p[0], rest, sizeof rest), 5);  /* the next user of the fd gets it */
  assert_memory_equal(rest, "after", 5);
  wire_reader_free(&r);
  close(p[0]);
  free(two);
  free(buf);
}

/* ---- Damaged and hostile input ------------------------------------------------------------ */

static void test_truncation_at_every_offset_is_refused_as_truncated(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = sample_stream(&len);
  for (size_t cut = 0; cut < len; cut++) {
    uint8_t *copy = malloc(cut ? cut : 1);  /* its own allocation: ASan sees any overread */
    memcpy(copy, buf, cut);
    char msg[256];
    int rc = read_all_mem(copy, cut, msg, sizeof msg);
    if (rc != HPVM_ETRUNC) fail_msg("cut at %zu: %d (%s)", cut, rc, msg);
    assert_non_null(strstr(msg, "truncated"));
    rc = read_all_fd(copy, cut, msg, sizeof msg);
    if (rc != HPVM_ETRUNC) fail_msg("fd, cut at %zu: %d (%s)", cut, rc, msg);
    free(copy);
  }
  assert_int_equal(read_all_mem(buf, len, NULL, 0), 0);
  free(buf);
}

static void test_every_single_bit_flip_is_refused(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = sample_stream(&len);
  /* Where each section's length word lies: a flip there may read as oversize or truncated. */
  size_t len_words[8], nlen = 0, at = WIRE_HEADER_LEN;
  while (at < len) {
    len_words[nlen++] = at + 4;
    uint32_t l = (uint32_t)buf[at + 4] | (uint32_t)buf[at + 5] << 8 | (uint32_t)buf[at + 6] << 16 |
                 (uint32_t)buf[at + 7] << 24;
    at += 12 + l;
  }
  for (size_t bit = 0; bit < len * 8; bit++) {
    size_t byte = bit / 8;
    buf[byte] ^= (uint8_t)(1u << (bit % 8));
    char msg[256];
    int rc = read_all_mem(buf, len, msg, sizeof msg);
    int rc_fd = read_all_fd(buf, len, NULL, 0);
    buf[byte] ^= (uint8_t)(1u << (bit % 8));

    bool in_len = false;
    for (size_t i = 0; i < nlen; i++) in_len |= byte >= len_words[i] && byte < len_words[i] + 4;
    if (byte < 8) {
      if (rc != HPVM_ECORRUPT || !strstr(msg, "not an hpvm state file")) fail_msg("bit %zu: %d %s", bit, rc, msg);
    } else if (byte < WIRE_HEADER_LEN) {
      if (rc != HPVM_ECORRUPT || !strstr(msg, "header CRC mismatch")) fail_msg("bit %zu: %d %s", bit, rc, msg);
    } else if (in_len) {
      if (rc != HPVM_ECORRUPT && rc != HPVM_ETRUNC && rc != HPVM_ERANGE) fail_msg("bit %zu: %d %s", bit, rc, msg);
    } else {
      if (rc != HPVM_ECORRUPT || !strstr(msg, "CRC mismatch in section")) fail_msg("bit %zu: %d %s", bit, rc, msg);
    }
    if (rc_fd >= 0) fail_msg("fd, bit %zu accepted", bit);
  }
  free(buf);
}

static void test_wrong_magic_says_not_an_hpvm_state_file(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = sample_stream(&len);
  char msg[256];
  memcpy(buf, "\177ELF\2\1\1\0", 8);
  assert_int_equal(read_all_mem(buf, len, msg, sizeof msg), HPVM_ECORRUPT);
  assert_string_equal(msg, "not an hpvm state file (bad magic)");
  assert_int_equal(read_all_fd(buf, len, msg, sizeof msg), HPVM_ECORRUPT);
  assert_string_equal(msg, "not an hpvm state file (bad magic)");
  /* Even when the file is shorter than a header. */
  assert_int_equal(read_all_mem((const uint8_t *)"hello", 5, msg, sizeof msg), HPVM_ECORRUPT);
  assert_int_equal(read_all_fd((const uint8_t *)"hello", 5, msg, sizeof msg), HPVM_ECORRUPT);
  free(buf);
}

static void test_other_major_version_is_refused_naming_both_versions(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = sample_stream(&len);
  char msg[256];
  set_version(buf, 2u << 16 | 3);
  assert_int_equal(read_all_mem(buf, len, msg, sizeof msg), HPVM_ENOTSUP);
  assert_non_null(strstr(msg, "version 2.3 is not supported"));
  assert_non_null(strstr(msg, "reads version 1.x"));
  set_version(buf, 0);
  assert_int_equal(read_all_fd(buf, len, msg, sizeof msg), HPVM_ENOTSUP);
  assert_non_null(strstr(msg, "version 0.0"));
  free(buf);
}

static void test_newer_minor_version_skips_unknown_sections(void **state) {
  (void)state;
  uint8_t buf[256];
  size_t at = hand_stream(buf, WIRE_VERSION + 4);
  at = put_section(buf, at, WIRE_SEC_TIMERS, 3, "abc");
  at = put_section(buf, at, 99, 5, "newer");
  at = put_section(buf, at, WIRE_SEC_END, 0, NULL);
  wire_reader r;
  wire_section s;
  assert_int_equal(wire_reader_init_mem(&r, buf, at), 0);
  assert_int_equal(wire_reader_next(&r, &s), 1);
  assert_int_equal(s.type, WIRE_SEC_TIMERS);
  assert_int_equal(wire_reader_next(&r, &s), 0);
  assert_int_equal(r.skipped, 1);
  wire_reader_free(&r);
}

static void test_unknown_section_in_this_version_is_refused(void **state) {
  (void)state;
  uint8_t buf[256];
  char msg[256];
  size_t at = hand_stream(buf, WIRE_VERSION);
  at = put_section(buf, at, 99, 5, "newer");
  at = put_section(buf, at, WIRE_SEC_END, 0, NULL);
  assert_int_equal(read_all_mem(buf, at, msg, sizeof msg), HPVM_ECORRUPT);
  char want[128];
  snprintf(want, sizeof want, "unknown section type 99 at offset 16 in a version %u.%u stream", WIRE_VERSION_MAJOR,
           WIRE_VERSION_MINOR);
  assert_string_equal(msg, want);
  /* Type 0 is INVALID in every version, newer ones included. */
  at = hand_stream(buf, WIRE_VERSION + 1);
  at = put_section(buf, at, 0, 0, NULL);
  at = put_section(buf, at, WIRE_SEC_END, 0, NULL);
  assert_int_equal(read_all_mem(buf, at, msg, sizeof msg), HPVM_ECORRUPT);
  assert_string_equal(msg, "section type 0 (INVALID) at offset 16");
}

static void test_oversize_length_is_refused_before_allocating(void **state) {
  (void)state;
  uint8_t buf[64];
  char msg[256];
  size_t at = hand_stream(buf, WIRE_VERSION);
  put32(buf + at, WIRE_SEC_CPU);
  put32(buf + at + 4, 0xffffffffu);
  memset(buf + at + 8, 0, 16);
  assert_int_equal(read_all_mem(buf, at + 24, msg, sizeof msg), HPVM_ERANGE);
  assert_string_equal(msg, "section at offset 16 claims 4294967295 bytes, over the 16777216-byte limit");
  assert_int_equal(read_all_fd(buf, at + 24, msg, sizeof msg), HPVM_ERANGE);

  /* Within the limit but a lie: the fd reader holds at most what actually arrived. */
  put32(buf + at + 4, WIRE_SECTION_MAX);
  int p[2];
  assert_int_equal(pipe(p), 0);
  assert_int_equal(write(p[1], buf, at + 24), (ssize_t)(at + 24));
  close(p[1]);
  wire_reader r;
  wire_section s;
  assert_int_equal(wire_reader_init_fd(&r, p[0]), 0);
  assert_int_equal(wire_reader_next(&r, &s), HPVM_ETRUNC);
  assert_true(r.scratch_cap <= 64 * 1024);
  assert_non_null(strstr(wire_reader_error(&r), "16 of 16777216 bytes present"));
  wire_reader_free(&r);
  close(p[0]);

  /* The caller may lower the limit. */
  uint8_t ok[128];
  at = hand_stream(ok, WIRE_VERSION);
  at = put_section(ok, at, WIRE_SEC_DEVICE, 40, payload_b);
  at = put_section(ok, at, WIRE_SEC_END, 0, NULL);
  assert_int_equal(wire_reader_init_mem(&r, ok, at), 0);
  r.max_section = 39;
  assert_int_equal(wire_reader_next(&r, &s), HPVM_ERANGE);
  wire_reader_free(&r);
}

static void test_end_must_be_empty_and_last(void **state) {
  (void)state;
  uint8_t buf[128];
  char msg[256];
  size_t at = hand_stream(buf, WIRE_VERSION);
  at = put_section(buf, at, WIRE_SEC_END, 2, "xx");
  assert_int_equal(read_all_mem(buf, at, msg, sizeof msg), HPVM_ECORRUPT);
  assert_non_null(strstr(msg, "END section carries 2 bytes"));
  at = hand_stream(buf, WIRE_VERSION);
  at = put_section(buf, at, WIRE_SEC_END, 0, NULL);
  memcpy(buf + at, "junk", 4);
  assert_int_equal(read_all_mem(buf, at + 4, msg, sizeof msg), HPVM_ECORRUPT);
  assert_string_equal(msg, "4 bytes follow the END section at offset 16");
  /* No END at all. */
  at = hand_stream(buf, WIRE_VERSION);
  at = put_section(buf, at, WIRE_SEC_TIMERS, 0, NULL);
  assert_int_equal(read_all_mem(buf, at, msg, sizeof msg), HPVM_ETRUNC);
  assert_non_null(strstr(msg, "without an END section"));
  assert_int_equal(read_all_fd(buf, at, msg, sizeof msg), HPVM_ETRUNC);
}

static void test_malformed_protobuf_payload_is_refused(void **state) {
  (void)state;
  uint8_t buf[128];
  static const uint8_t garbage[] = {0x0a, 0x7f, 'x'};  /* field 1, 127 bytes claimed, 1 present */
  size_t at = hand_stream(buf, WIRE_VERSION);
  at = put_section(buf, at, WIRE_SEC_VM, sizeof garbage, garbage);
  at = put_section(buf, at, WIRE_SEC_END, 0, NULL);
  wire_reader r;
  wire_section s;
  ProtobufCMessage *pm;
  assert_int_equal(wire_reader_init_mem(&r, buf, at), 0);
  assert_int_equal(wire_reader_next(&r, &s), 1);
  assert_int_equal(wire_section_unpack(&r, &s, &hpvm__vm_info__descriptor, &pm), HPVM_ECORRUPT);
  assert_string_equal(wire_reader_error(&r),
                      "section VM (type 2) at offset 16: the payload is not a valid hpvm.VmInfo message");
  /* Errors are sticky: the reader stays refused. */
  assert_int_equal(wire_reader_next(&r, &s), HPVM_ECORRUPT);
  wire_reader_free(&r);
}

static void test_writer_refuses_after_end_and_oversize_payloads(void **state) {
  (void)state;
  wire_writer w;
  assert_int_equal(wire_writer_init_mem(&w), 0);
  uint8_t *big = calloc(1, (size_t)WIRE_SECTION_MAX + 1);
  assert_int_equal(wire_write_section(&w, WIRE_SEC_DEVICE, big, (size_t)WIRE_SECTION_MAX + 1), HPVM_ERANGE);
  assert_int_equal(wire_writer_end(&w), HPVM_ERANGE);  /* sticky */
  wire_writer_free(&w);
  assert_int_equal(wire_writer_init_mem(&w), 0);
  assert_int_equal(wire_writer_end(&w), 0);
  assert_int_equal(wire_write_section(&w, WIRE_SEC_DEVICE, "x", 1), HPVM_EINVAL);
  wire_writer_free(&w);
  assert_int_equal(wire_writer_init_fd(&w, -1), HPVM_EINVAL);
  /* A write error surfaces as HPVM_EIO. */
  int p[2];
  assert_int_equal(pipe(p), 0);
  close(p[0]);
  signal(SIGPIPE, SIG_IGN);
  assert_int_equal(wire_writer_init_fd(&w, p[1]), HPVM_EIO);
  close(p[1]);
  free(big);
}

static void test_section_names_come_from_the_schema(void **state) {
  (void)state;
  assert_string_equal(wire_section_name(WIRE_SEC_CPU), "CPU");
  assert_string_equal(wire_section_name(WIRE_SEC_GUEST_TLB), "GUEST_TLB");
  assert_string_equal(wire_section_name(0), "unknown");
  assert_string_equal(wire_section_name(99), "unknown");
  assert_string_equal(wire_section_name(0x80000000u), "unknown");
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_crc32c_matches_the_standard_check_value),
    cmocka_unit_test(test_sections_round_trip_through_memory),
    cmocka_unit_test(test_sections_round_trip_through_an_fd),
    cmocka_unit_test(test_fd_reader_stops_at_end_leaving_what_follows),
    cmocka_unit_test(test_truncation_at_every_offset_is_refused_as_truncated),
    cmocka_unit_test(test_every_single_bit_flip_is_refused),
    cmocka_unit_test(test_wrong_magic_says_not_an_hpvm_state_file),
    cmocka_unit_test(test_other_major_version_is_refused_naming_both_versions),
    cmocka_unit_test(test_newer_minor_version_skips_unknown_sections),
    cmocka_unit_test(test_unknown_section_in_this_version_is_refused),
    cmocka_unit_test(test_oversize_length_is_refused_before_allocating),
    cmocka_unit_test(test_end_must_be_empty_and_last),
    cmocka_unit_test(test_malformed_protobuf_payload_is_refused),
    cmocka_unit_test(test_writer_refuses_after_end_and_oversize_payloads),
    cmocka_unit_test(test_section_names_come_from_the_schema),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
