/* test_record.c — the record format and the record store: round trips, compare-and-swap on
 * the generation, damaged records refused by name and never replaced, locks, and the
 * housekeeping of temporary files and claims. */
#include "sto_test.h"
#include "wire.h"

#define BLOB HPVM__RECORD_KIND__RECORD_KIND_BLOB
#define CFG HPVM__RECORD_KIND__RECORD_KIND_VM_CONFIG

typedef struct fixture {
  char *dir;
  sto_store *s;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->dir = sto_test_dir();
  f->s = sto_test_open(f->dir, "hostA", NULL, NULL, false);
  mkdir(sto_test_path(f->dir, "vms/web1"), 0755);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  sto_close(f->s);
  sto_test_rmdir(f->dir);
  free(f);
  return 0;
}

static void create_blob(fixture *f, const char *rel, const char *text) {
  int r = sto_record_create(f->s, rel, BLOB, text, strlen(text));
  if (r) fail_msg("create %s: %s", rel, sto_error(f->s));
}

static void expect_blob(fixture *f, const char *rel, uint64_t gen, const char *text) {
  sto_record rec;
  int r = sto_record_read(f->s, rel, BLOB, &rec);
  if (r) fail_msg("read %s: %s", rel, sto_error(f->s));
  assert_int_equal(rec.generation, gen);
  assert_int_equal(rec.kind, BLOB);
  assert_int_equal(rec.len, strlen(text));
  assert_memory_equal(rec.payload, text, rec.len);
  sto_record_free(&rec);
}

static void test_record_round_trip_keeps_kind_generation_and_payload(void **state) {
  fixture *f = *state;
  create_blob(f, "vms/web1/config", "hello");
  expect_blob(f, "vms/web1/config", 1, "hello");
  uint64_t gen = 0;
  assert_int_equal(sto_record_update(f->s, "vms/web1/config", BLOB, 1, "world!", 6, &gen), 0);
  assert_int_equal(gen, 2);
  expect_blob(f, "vms/web1/config", 2, "world!");
  /* The file is exactly the 32-byte header and the payload, magic first. */
  uint8_t buf[128];
  size_t n = file_read(sto_test_path(f->dir, "vms/web1/config"), buf, sizeof buf);
  assert_int_equal(n, STO_RECORD_HEADER_LEN + 6);
  assert_memory_equal(buf, "HPVMRECD", 8);
  /* An empty payload is a record too. */
  assert_int_equal(sto_record_create(f->s, "vms/web1/empty", BLOB, NULL, 0), 0);
  expect_blob(f, "vms/web1/empty", 1, "");
}

static void test_create_refuses_an_existing_record(void **state) {
  fixture *f = *state;
  create_blob(f, "vms/web1/config", "first");
  assert_int_equal(sto_record_create(f->s, "vms/web1/config", BLOB, "second", 6), HPVM_EEXIST);
  assert_non_null(strstr(sto_error(f->s), "already exists"));
  expect_blob(f, "vms/web1/config", 1, "first");
  /* Even a damaged file is never replaced by a create. */
  file_write(sto_test_path(f->dir, "vms/web1/junk"), "garbage", 7);
  assert_int_equal(sto_record_create(f->s, "vms/web1/junk", BLOB, "x", 1), HPVM_EEXIST);
  uint8_t buf[16];
  assert_int_equal(file_read(sto_test_path(f->dir, "vms/web1/junk"), buf, sizeof buf), 7);
}

static void test_update_with_a_stale_generation_is_refused_with_ebusy(void **state) {
  fixture *f = *state;
  create_blob(f, "vms/web1/config", "v1");
  assert_int_equal(sto_record_update(f->s, "vms/web1/config", BLOB, 1, "v2", 2, NULL), 0);
  /* A writer that read generation 1 is too late now. */
  assert_int_equal(sto_record_update(f->s, "vms/web1/config", BLOB, 1, "lost", 4, NULL), HPVM_EBUSY);
  assert_non_null(strstr(sto_error(f->s), "generation 2, expected 1"));
  expect_blob(f, "vms/web1/config", 2, "v2");
  /* A generation from the future is just as wrong. */
  assert_int_equal(sto_record_update(f->s, "vms/web1/config", BLOB, 7, "x", 1, NULL), HPVM_EBUSY);
  assert_int_equal(sto_record_update(f->s, "vms/web1/missing", BLOB, 1, "x", 1, NULL), HPVM_ENOENT);
}

static void test_checksum_mismatch_is_refused_by_name_and_left_in_place(void **state) {
  fixture *f = *state;
  const char *path = sto_test_path(f->dir, "vms/web1/config");
  create_blob(f, "vms/web1/config", "payload bytes");
  uint8_t buf[128];
  size_t n = file_read(path, buf, sizeof buf);
  buf[STO_RECORD_HEADER_LEN + 3] ^= 0x10;
  file_write(path, buf, n);

  sto_record rec;
  assert_int_equal(sto_record_read(f->s, "vms/web1/config", BLOB, &rec), HPVM_ECORRUPT);
  char want[PATH_MAX + 64];
  snprintf(want, sizeof want, "%s/vms/web1/config: checksum mismatch; ", f->dir);
  assert_non_null(strstr(sto_error(f->s), want));
  assert_non_null(strstr(sto_error(f->s), "hpvmremove -P web1 -F"));
  /* An update is refused too, and the damaged bytes stay exactly as they were. */
  assert_int_equal(sto_record_update(f->s, "vms/web1/config", BLOB, 1, "new", 3, NULL), HPVM_ECORRUPT);
  assert_int_equal(sto_record_remove(f->s, "vms/web1/config", 1, 0), HPVM_ECORRUPT);
  uint8_t after[128];
  assert_int_equal(file_read(path, after, sizeof after), n);
  assert_memory_equal(after, buf, n);
}

static void test_truncated_record_is_refused_by_name(void **state) {
  fixture *f = *state;
  const char *path = sto_test_path(f->dir, "vms/web1/config");
  create_blob(f, "vms/web1/config", "0123456789abcdef");
  uint8_t buf[128];
  size_t n = file_read(path, buf, sizeof buf);
  const size_t cuts[] = {0, 1, 20, STO_RECORD_HEADER_LEN, n - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    file_write(path, buf, cuts[i]);
    sto_record rec;
    assert_int_equal(sto_record_read(f->s, "vms/web1/config", BLOB, &rec), HPVM_ETRUNC);
    assert_non_null(strstr(sto_error(f->s), path));
    assert_true(strstr(sto_error(f->s), "truncated") || strstr(sto_error(f->s), "empty"));
    assert_int_equal(sto_record_update(f->s, "vms/web1/config", BLOB, 1, "x", 1, NULL), HPVM_ETRUNC);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, cuts[i]);
  }
}

static void test_every_single_bit_flip_is_detected(void **state) {
  fixture *f = *state;
  const char *path = sto_test_path(f->dir, "vms/web1/config");
  create_blob(f, "vms/web1/config", "tiny");
  uint8_t buf[64];
  size_t n = file_read(path, buf, sizeof buf);
  for (size_t bit = 0; bit < n * 8; bit++) {
    buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    file_write(path, buf, n);
    sto_record rec;
    int r = sto_record_read(f->s, "vms/web1/config", BLOB, &rec);
    if (r == 0) fail_msg("flipping bit %zu went unseen", bit);
    buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
}

/* A header written by hand, with a correct CRC. */
static void craft(const char *path, const char *magic, uint32_t version, uint32_t kind, const char *payload,
                  size_t extra) {
  uint8_t b[256] = {0};
  size_t len = strlen(payload);
  memcpy(b, magic, 8);
  for (int i = 0; i < 4; i++) b[8 + i] = (uint8_t)(version >> 8 * i), b[12 + i] = (uint8_t)(kind >> 8 * i);
  b[16] = 1;
  for (int i = 0; i < 4; i++) b[24 + i] = (uint8_t)(len >> 8 * i);
  memcpy(b + 32, payload, len);
  uint32_t crc = wire_crc32c(wire_crc32c(0, b, 28), b + 32, len);
  for (int i = 0; i < 4; i++) b[28 + i] = (uint8_t)(crc >> 8 * i);
  file_write(path, b, 32 + len + extra);
}

static void test_bad_magic_wrong_kind_newer_format_and_trailing_bytes_are_refused(void **state) {
  fixture *f = *state;
  const char *path = sto_test_path(f->dir, "vms/web1/config");
  sto_record rec;
  craft(path, "NOTHPVM!", 1u << 16, BLOB, "abc", 0);
  assert_int_equal(sto_record_read(f->s, "vms/web1/config", BLOB, &rec), HPVM_ECORRUPT);
  assert_non_null(strstr(sto_error(f->s), "not an hpvm record"));

  craft(path, "HPVMRECD", 2u << 16, BLOB, "abc", 0);
  assert_int_equal(sto_record_read(f->s, "vms/web1/config", BLOB, &rec), HPVM_ENOTSUP);
  assert_non_null(strstr(sto_error(f->s), "record format 2.0"));

  /* A newer minor version is read. */
  craft(path, "HPVMRECD", 1u << 16 | 7, BLOB, "abc", 0);
  assert_int_equal(sto_record_read(f->s, "vms/web1/config", BLOB, &rec), 0);
  assert_int_equal(rec.version, 1u << 16 | 7);
  sto_record_free(&rec);

  craft(path, "HPVMRECD", 1u << 16, HPVM__RECORD_KIND__RECORD_KIND_VM_LEASE, "abc", 0);
  assert_int_equal(sto_record_read(f->s, "vms/web1/config", CFG, &rec), HPVM_ECORRUPT);
  assert_non_null(strstr(sto_error(f->s), "holds a VM lease record where a VM configuration record belongs"));

  craft(path, "HPVMRECD", 1u << 16, BLOB, "abc", 5);
  assert_int_equal(sto_record_read(f->s, "vms/web1/config", BLOB, &rec), HPVM_ECORRUPT);
  assert_non_null(strstr(sto_error(f->s), "5 bytes after the end"));
}

static void test_protobuf_payload_that_does_not_parse_is_refused_by_name(void **state) {
  fixture *f = *state;
  const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff};
  assert_int_equal(sto_record_create(f->s, "vms/web1/config", CFG, junk, sizeof junk), 0);
  ProtobufCMessage *m;
  assert_int_equal(sto_msg_read(f->s, "vms/web1/config", CFG, &hpvm__vm_config__descriptor, &m, NULL), HPVM_ECORRUPT);
  assert_non_null(strstr(sto_error(f->s), "vms/web1/config: the checksum is right but the payload is not a valid"));
}

static void test_remove_checks_the_generation_and_force_removes_a_damaged_record(void **state) {
  fixture *f = *state;
  create_blob(f, "vms/web1/config", "v1");
  assert_int_equal(sto_record_remove(f->s, "vms/web1/config", 5, 0), HPVM_EBUSY);
  assert_int_equal(sto_record_remove(f->s, "vms/web1/config", 1, 0), 0);
  assert_false(file_exists(sto_test_path(f->dir, "vms/web1/config")));
  assert_false(file_exists(sto_test_path(f->dir, "vms/web1/.config.lock")));
  assert_int_equal(sto_record_remove(f->s, "vms/web1/config", 1, 0), HPVM_ENOENT);
  file_write(sto_test_path(f->dir, "vms/web1/config"), "xx", 2);
  assert_int_equal(sto_record_remove(f->s, "vms/web1/config", 1, 0), HPVM_ETRUNC);
  assert_int_equal(sto_record_remove(f->s, "vms/web1/config", 0, STO_FORCE), 0);
  assert_false(file_exists(sto_test_path(f->dir, "vms/web1/config")));
  /* Created again after a remove, it starts over at generation 1 and updates normally. */
  create_blob(f, "vms/web1/config", "again");
  assert_int_equal(sto_record_update(f->s, "vms/web1/config", BLOB, 1, "again2", 6, NULL), 0);
  expect_blob(f, "vms/web1/config", 2, "again2");
}

static void test_record_paths_must_be_relative_and_plain(void **state) {
  fixture *f = *state;
  sto_record rec;
  const char *bad[] = {"/etc/passwd", "vms/../cluster/secret", "vms//x", "./vms/x", "vms/x/", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(sto_record_read(f->s, bad[i], 0, &rec), HPVM_EINVAL);
  assert_int_equal(sto_record_read(f->s, "vms/web1/none", 0, &rec), HPVM_ENOENT);
  assert_non_null(strstr(sto_error(f->s), "no such record"));
}

static void test_a_held_lock_nests_and_updates_reuse_it(void **state) {
  fixture *f = *state;
  create_blob(f, "vms/web1/config", "v1");
  assert_int_equal(sto_record_lock(f->s, "vms/web1/config"), 0);
  assert_int_equal(sto_record_lock(f->s, "vms/web1/config"), 0);
  assert_int_equal(sto_record_update(f->s, "vms/web1/config", BLOB, 1, "v2", 2, NULL), 0);
  sto_record_unlock(f->s, "vms/web1/config");
  /* Another store (another open file description) cannot take it while we hold it. */
  sto_options o = {.root = f->dir, .host = "hostB", .lock_timeout_ms = 50};
  sto_store *other;
  assert_int_equal(sto_open(&o, &other), 0);
  assert_int_equal(sto_record_update(other, "vms/web1/config", BLOB, 2, "v3", 2, NULL), HPVM_EBUSY);
  assert_non_null(strstr(sto_error(other), "locked by another command"));
  sto_record_unlock(f->s, "vms/web1/config");
  assert_int_equal(sto_record_update(other, "vms/web1/config", BLOB, 2, "v3", 2, NULL), 0);
  sto_close(other);
  expect_blob(f, "vms/web1/config", 3, "v3");
}

static void test_claims_are_pruned_to_the_last_64_generations(void **state) {
  fixture *f = *state;
  create_blob(f, "vms/web1/config", "0");
  for (uint64_t g = 1; g <= 200; g++) {
    char v[16];
    snprintf(v, sizeof v, "%llu", (unsigned long long)g);
    assert_int_equal(sto_record_update(f->s, "vms/web1/config", BLOB, g, v, strlen(v), NULL), 0);
  }
  expect_blob(f, "vms/web1/config", 201, "200");
  int claims = count_entries(sto_test_path(f->dir, "vms/web1/.claims"), "config.");
  assert_true(claims > 0 && claims <= 64);
  assert_int_equal(count_entries(sto_test_path(f->dir, "vms/web1"), ".config.tmp."), 0);
}

static void test_leftovers_of_a_dead_writer_are_cleaned_by_the_next_locked_update(void **state) {
  fixture *f = *state;
  create_blob(f, "vms/web1/config", "v1");
  /* A writer died after writing its temporary file and claiming generation 2. */
  file_write(sto_test_path(f->dir, "vms/web1/.config.tmp.deadhost.999.1"), "partial", 7);
  mkdir(sto_test_path(f->dir, "vms/web1/.claims"), 0755);
  file_write(sto_test_path(f->dir, "vms/web1/.claims/config.2"), "stale", 5);
  assert_int_equal(sto_record_update(f->s, "vms/web1/config", BLOB, 1, "v2", 2, NULL), 0);
  expect_blob(f, "vms/web1/config", 2, "v2");
  assert_false(file_exists(sto_test_path(f->dir, "vms/web1/.config.tmp.deadhost.999.1")));
}

static void test_without_locks_a_stale_claim_refuses_rather_than_loses(void **state) {
  fixture *f = *state;
  sto_store *nl = sto_test_open(f->dir, "hostN", NULL, NULL, true);
  create_blob(f, "vms/web1/config", "v1");
  /* Someone else holds the step 1 -> 2 (it has linked its claim but not yet renamed). */
  mkdir(sto_test_path(f->dir, "vms/web1/.claims"), 0755);
  file_write(sto_test_path(f->dir, "vms/web1/.claims/config.2"), "theirs", 6);
  assert_int_equal(sto_record_update(nl, "vms/web1/config", BLOB, 1, "mine", 4, NULL), HPVM_EBUSY);
  assert_non_null(strstr(sto_error(nl), "updated by another writer at the same time"));
  expect_blob(f, "vms/web1/config", 1, "v1");
  sto_close(nl);
}

/* Hostile files: random mutations of a valid record (and random garbage) are refused or,
 * when the CRC happens to hold, read within bounds; nothing crashes (run under ASan too). */
static void test_mutated_records_never_crash_the_reader(void **state) {
  fixture *f = *state;
  const char *path = sto_test_path(f->dir, "vms/web1/config");
  char text[200];
  memset(text, 'x', sizeof text);
  assert_int_equal(sto_record_create(f->s, "vms/web1/config", BLOB, text, sizeof text), 0);
  uint8_t good[512], buf[1024];
  size_t n = file_read(path, good, sizeof good);
  unsigned seed = 7;
  int accepted = 0;
  for (int i = 0; i < 3000; i++) {
    memcpy(buf, good, n);
    size_t len = n;
    switch (rand_r(&seed) % 4) {
    case 0: buf[rand_r(&seed) % len] = (uint8_t)rand_r(&seed); break;
    case 1: len = (size_t)rand_r(&seed) % (n + 1); break;
    case 2: for (int k = 24; k < 28; k++) buf[k] = (uint8_t)rand_r(&seed); break;
    default:
      len = (size_t)rand_r(&seed) % sizeof buf;
      for (size_t k = 0; k < len; k++) buf[k] = (uint8_t)rand_r(&seed);
      if (len >= 8) memcpy(buf, "HPVMRECD", 8);
    }
    file_write(path, buf, len);
    sto_record rec;
    if (sto_record_read(f->s, "vms/web1/config", 0, &rec) == 0) {
      accepted++;
      assert_true(rec.len <= STO_RECORD_MAX);
      sto_record_free(&rec);
    }
  }
  assert_true(accepted < 300);  /* only mutations that changed nothing (same byte) pass */
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_record_round_trip_keeps_kind_generation_and_payload, setup, teardown),
    cmocka_unit_test_setup_teardown(test_create_refuses_an_existing_record, setup, teardown),
    cmocka_unit_test_setup_teardown(test_update_with_a_stale_generation_is_refused_with_ebusy, setup, teardown),
    cmocka_unit_test_setup_teardown(test_checksum_mismatch_is_refused_by_name_and_left_in_place, setup, teardown),
    cmocka_unit_test_setup_teardown(test_truncated_record_is_refused_by_name, setup, teardown),
    cmocka_unit_test_setup_teardown(test_every_single_bit_flip_is_detected, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_magic_wrong_kind_newer_format_and_trailing_bytes_are_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_protobuf_payload_that_does_not_parse_is_refused_by_name, setup, teardown),
    cmocka_unit_test_setup_teardown(test_remove_checks_the_generation_and_force_removes_a_damaged_record, setup, teardown),
    cmocka_unit_test_setup_teardown(test_record_paths_must_be_relative_and_plain, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_held_lock_nests_and_updates_reuse_it, setup, teardown),
    cmocka_unit_test_setup_teardown(test_claims_are_pruned_to_the_last_64_generations, setup, teardown),
    cmocka_unit_test_setup_teardown(test_leftovers_of_a_dead_writer_are_cleaned_by_the_next_locked_update, setup, teardown),
    cmocka_unit_test_setup_teardown(test_without_locks_a_stale_claim_refuses_rather_than_loses, setup, teardown),
    cmocka_unit_test_setup_teardown(test_mutated_records_never_crash_the_reader, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
