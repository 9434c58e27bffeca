/* test_cmdlog.c — the command log: lines read back field by field, awkward characters
 * escaped, a torn last line skipped, the newest N entries, concurrent appends from several
 * processes all intact, rotation past the size limit. */
#include <sys/wait.h>

#include "sto_test.h"

typedef struct fixture {
  char *dir;
  fake_clock clk;
  sto_clock k;
  sto_store *s;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->dir = sto_test_dir();
  f->clk = (fake_clock){1, 1714566896123000000ll};  /* 2024-05-01T12:34:56.123Z */
  f->k = fake_clock_of(&f->clk);
  f->s = sto_test_open(f->dir, "hostA", NULL, &f->k, false);
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

static void test_appended_commands_read_back_field_by_field(void **state) {
  fixture *f = *state;
  assert_int_equal(sto_cmdlog_append(f->s, "root", "hpvmcreate -P web1 -c 2", 0, NULL), 0);
  fake_advance_ms(&f->clk, 1500);
  assert_int_equal(sto_cmdlog_append(f->s, "root", "hpvmcreate -P web1", HPVM_EEXIST, "a VM named web1 already exists"), 0);
  sto_cmdlog_entry *e;
  size_t n, skipped;
  assert_int_equal(sto_cmdlog_read(f->s, 0, &e, &n, &skipped), 0);
  assert_int_equal(n, 2);
  assert_int_equal(skipped, 0);
  assert_string_equal(e[0].time, "2024-05-01T12:34:56.123Z");
  assert_string_equal(e[0].host, "hostA");
  assert_string_equal(e[0].user, "root");
  assert_string_equal(e[0].result, "OK");
  assert_string_equal(e[0].command, "hpvmcreate -P web1 -c 2");
  assert_string_equal(e[1].time, "2024-05-01T12:34:57.623Z");
  assert_string_equal(e[1].result, "EEXIST: a VM named web1 already exists");
  sto_cmdlog_free(e, n);
  /* The file is plain text, one line per command. */
  uint8_t buf[1024];
  size_t len = file_read(sto_test_path(f->dir, "log/command.log"), buf, sizeof buf);
  buf[len] = '\0';
  assert_string_equal((char *)buf, "2024-05-01T12:34:56.123Z\thostA\troot\tOK\thpvmcreate -P web1 -c 2\n"
                                   "2024-05-01T12:34:57.623Z\thostA\troot\tEEXIST: a VM named web1 already exists\t"
                                   "hpvmcreate -P web1\n");
}

static void test_tabs_newlines_and_backslashes_survive_the_round_trip(void **state) {
  fixture *f = *state;
  const char *cmd = "hpvmmodify -P web1 -l \"a\tlabel\nwith\\stuff\"";
  assert_int_equal(sto_cmdlog_append(f->s, "us\ter", cmd, HPVM_EINVAL, "bad\nthing"), 0);
  sto_cmdlog_entry *e;
  size_t n;
  assert_int_equal(sto_cmdlog_read(f->s, 0, &e, &n, NULL), 0);
  assert_int_equal(n, 1);
  assert_string_equal(e[0].command, cmd);
  assert_string_equal(e[0].user, "us\ter");
  assert_string_equal(e[0].result, "EINVAL: bad\nthing");
  sto_cmdlog_free(e, n);
}

static void test_a_torn_last_line_is_skipped_and_counted(void **state) {
  fixture *f = *state;
  assert_int_equal(sto_cmdlog_append(f->s, "root", "hpvmstart -P web1", 0, NULL), 0);
  int fd = open(sto_test_path(f->dir, "log/command.log"), O_WRONLY | O_APPEND);
  assert_int_equal(write(fd, "2024-05-01T12:00:00.000Z\thostB\tro", 33), 33);
  close(fd);
  sto_cmdlog_entry *e;
  size_t n, skipped;
  assert_int_equal(sto_cmdlog_read(f->s, 0, &e, &n, &skipped), 0);
  assert_int_equal(n, 1);
  assert_int_equal(skipped, 1);
  sto_cmdlog_free(e, n);
}

static void test_reading_the_last_n_entries_keeps_the_newest_in_order(void **state) {
  fixture *f = *state;
  for (int i = 0; i < 10; i++) {
    char cmd[32];
    snprintf(cmd, sizeof cmd, "hpvmstatus #%d", i);
    assert_int_equal(sto_cmdlog_append(f->s, "root", cmd, 0, NULL), 0);
  }
  sto_cmdlog_entry *e;
  size_t n;
  assert_int_equal(sto_cmdlog_read(f->s, 3, &e, &n, NULL), 0);
  assert_int_equal(n, 3);
  assert_string_equal(e[0].command, "hpvmstatus #7");
  assert_string_equal(e[2].command, "hpvmstatus #9");
  sto_cmdlog_free(e, n);
}

static void test_concurrent_appends_from_four_processes_are_all_intact(void **state) {
  fixture *f = *state;
  enum { PROCS = 4, EACH = 50 };
  pid_t pids[PROCS];
  for (int p = 0; p < PROCS; p++) {
    pids[p] = fork();
    assert_true(pids[p] >= 0);
    if (pids[p] == 0) {
      char host[16];
      snprintf(host, sizeof host, "host%d", p);
      sto_options o = {.root = f->dir, .host = host};
      sto_store *s;
      if (sto_open(&o, &s)) _exit(1);
      for (int i = 0; i < EACH; i++) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "hpvmmodify -P vm%d -x counter=%d %0*d", p, i, 40, i);
        if (sto_cmdlog_append(s, "root", cmd, 0, NULL)) _exit(1);
      }
      sto_close(s);
      _exit(0);
    }
  }
  for (int p = 0; p < PROCS; p++) {
    int st;
    waitpid(pids[p], &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  sto_cmdlog_entry *e;
  size_t n, skipped;
  assert_int_equal(sto_cmdlog_read(f->s, 0, &e, &n, &skipped), 0);
  assert_int_equal(n, PROCS * EACH);
  assert_int_equal(skipped, 0);
  int next[PROCS] = {0};
  for (size_t i = 0; i < n; i++) {
    int p = e[i].host[4] - '0';
    char want[128];
    snprintf(want, sizeof want, "hpvmmodify -P vm%d -x counter=%d %0*d", p, next[p], 40, next[p]);
    assert_string_equal(e[i].command, want);  /* each host's lines in its order */
    next[p]++;
  }
  sto_cmdlog_free(e, n);
}

static void test_the_log_is_rotated_past_its_size_limit(void **state) {
  fixture *f = *state;
  assert_int_equal(sto_cmdlog_append(f->s, "root", "first", 0, NULL), 0);
  assert_int_equal(truncate(sto_test_path(f->dir, "log/command.log"), STO_CMDLOG_ROTATE), 0);
  assert_int_equal(sto_cmdlog_append(f->s, "root", "after rotation", 0, NULL), 0);
  assert_true(file_exists(sto_test_path(f->dir, "log/command.log.1")));
  sto_cmdlog_entry *e;
  size_t n;
  assert_int_equal(sto_cmdlog_read(f->s, 0, &e, &n, NULL), 0);
  assert_int_equal(n, 1);
  assert_string_equal(e[0].command, "after rotation");
  sto_cmdlog_free(e, n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_appended_commands_read_back_field_by_field, setup, teardown),
    cmocka_unit_test_setup_teardown(test_tabs_newlines_and_backslashes_survive_the_round_trip, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_torn_last_line_is_skipped_and_counted, setup, teardown),
    cmocka_unit_test_setup_teardown(test_reading_the_last_n_entries_keeps_the_newest_in_order, setup, teardown),
    cmocka_unit_test_setup_teardown(test_concurrent_appends_from_four_processes_are_all_intact, setup, teardown),
    cmocka_unit_test_setup_teardown(test_the_log_is_rotated_past_its_size_limit, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
