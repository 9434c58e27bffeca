/* test_cas_procs.c — concurrent writers in separate processes never lose an update: 8
 * processes each increment a counter record 200 times (read, add one, compare-and-swap,
 * retry on HPVM_EBUSY) and the counter ends at exactly 1600 — with fcntl locks, and with
 * locks switched off so that only the generation check and the exclusive claims stand
 * between the writers. A third run holds the lock across the read-modify-write and needs
 * no retry at all. */
#include <errno.h>
#include <sys/wait.h>

#include "sto_test.h"

#define BLOB HPVM__RECORD_KIND__RECORD_KIND_BLOB
#define REL "vms/counter/config"
#define PROCS 8
#define INCREMENTS 200

static uint64_t decode(const sto_record *r) {
  uint64_t v = 0;
  for (size_t i = 0; i < r->len && i < 8; i++) v |= (uint64_t)r->payload[i] << (8 * i);
  return v;
}

static void encode(uint64_t v, uint8_t b[8]) {
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
}

/* One child: INCREMENTS successful increments. Exit status: 0, or 1 on an unexpected error,
 * or 2 when hold_lock is set and a retry was needed anyway. */
static int child(const char *dir, int id, bool no_locks, bool hold_lock) {
  char host[32];
  snprintf(host, sizeof host, "writer%d", id);
  sto_options o = {.root = dir, .host = host, .no_locks = no_locks, .lock_timeout_ms = 120000};
  sto_store *s;
  if (sto_open(&o, &s)) return 1;
  unsigned long retries = 0;
  for (int done = 0; done < INCREMENTS;) {
    if (hold_lock && sto_record_lock(s, REL)) return 1;
    sto_record rec;
    int r = sto_record_read(s, REL, BLOB, &rec);
    if (r) {
      fprintf(stderr, "%s: %s\n", host, sto_error(s));
      return 1;
    }
    uint8_t b[8];
    encode(decode(&rec) + 1, b);
    r = sto_record_update(s, REL, BLOB, rec.generation, b, sizeof b, NULL);
    sto_record_free(&rec);
    if (hold_lock) sto_record_unlock(s, REL);
    if (r == 0) {
      done++;
    } else if (r == HPVM_EBUSY) {
      retries++;
    } else {
      fprintf(stderr, "%s: %s\n", host, sto_error(s));
      return 1;
    }
  }
  sto_close(s);
  return hold_lock && retries ? 2 : 0;
}

static void run(bool no_locks, bool hold_lock) {
  char *dir = sto_test_dir();
  sto_store *s = sto_test_open(dir, "setup", NULL, NULL, false);
  mkdir(sto_test_path(dir, "vms/counter"), 0755);
  uint8_t zero[8] = {0};
  assert_int_equal(sto_record_create(s, REL, BLOB, zero, sizeof zero), 0);
  pid_t pids[PROCS];
  for (int i = 0; i < PROCS; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0) _exit(child(dir, i, no_locks, hold_lock));
  }
  for (int i = 0; i < PROCS; i++) {
    int st;
    assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
  }
  sto_record rec;
  assert_int_equal(sto_record_read(s, REL, BLOB, &rec), 0);
  assert_int_equal(decode(&rec), PROCS * INCREMENTS);
  assert_int_equal(rec.generation, PROCS * INCREMENTS + 1);
  sto_record_free(&rec);
  assert_int_equal(count_entries(sto_test_path(dir, "vms/counter"), ".config.tmp."), 0);
  sto_close(s);
  sto_test_rmdir(dir);
}

static void test_eight_processes_incrementing_with_locks_reach_exactly_1600(void **state) {
  (void)state;
  run(false, false);
}

static void test_eight_processes_incrementing_without_locks_reach_exactly_1600(void **state) {
  (void)state;
  run(true, false);
}

static void test_holding_the_lock_across_read_modify_write_needs_no_retry(void **state) {
  (void)state;
  run(false, true);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_eight_processes_incrementing_with_locks_reach_exactly_1600),
    cmocka_unit_test(test_eight_processes_incrementing_without_locks_reach_exactly_1600),
    cmocka_unit_test(test_holding_the_lock_across_read_modify_write_needs_no_retry),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
