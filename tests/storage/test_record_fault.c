/* test_record_fault.c — writes under injected faults: a crash (followed by a simulated power
 * loss) at every step of an update, a create and a VM create; every single call failing in
 * turn; a full disk; a file system without locks. The rule checked each time: the record
 * reads back intact, as the old version or the new one, the error says which, and the next
 * writer is not blocked by anything the failure left behind. */
#include <errno.h>

#include "sto_test.h"

#define BLOB HPVM__RECORD_KIND__RECORD_KIND_BLOB
#define REL "vms/web1/config"

typedef struct fixture {
  char *dir;
  sto_faultio *fio;
  sto_store *s;                      /* through the fault layer */
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->dir = sto_test_dir();
  f->fio = sto_faultio_new(NULL);
  f->s = sto_test_open(f->dir, "hostA", sto_faultio_io(f->fio), NULL, false);
  mkdir(sto_test_path(f->dir, "vms/web1"), 0755);
  sto_faultio_reset(f->fio);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  sto_close(f->s);
  sto_faultio_free(f->fio);
  sto_test_rmdir(f->dir);
  free(f);
  return 0;
}

/* The record as a fresh process would read it: generation and payload. */
static int read_back(const char *dir, uint64_t *gen, char *text, size_t cap) {
  sto_store *s = sto_test_open(dir, "reader", NULL, NULL, false);
  sto_record rec;
  int r = sto_record_read(s, REL, BLOB, &rec);
  if (r) {
    print_message("read back: %s\n", sto_error(s));
  } else {
    *gen = rec.generation;
    snprintf(text, cap, "%.*s", (int)rec.len, (const char *)rec.payload);
    sto_record_free(&rec);
  }
  sto_close(s);
  return r;
}

/* Crash at call n of an update from "old" (generation 1) to "new", then lose power (with or
 * without undoing unsynced directory changes). Returns true once n is past the last call. */
static bool crash_update_at(const char *dir, unsigned long n, bool revert) {
  sto_faultio *fio = sto_faultio_new(NULL);
  sto_store *s = sto_test_open(dir, "hostA", sto_faultio_io(fio), NULL, false);
  mkdir(sto_test_path(dir, "vms/web1"), 0755);
  sto_record_remove(s, REL, 0, STO_FORCE);
  assert_int_equal(sto_record_create(s, REL, BLOB, "old", 3), 0);
  sto_faultio_reset(fio);  /* the create is durable: start tracking from here */
  sto_faultio_crash(fio, n);
  int r = sto_record_update(s, REL, BLOB, 1, "new", 3, NULL);
  bool done = !sto_faultio_crashed(fio);
  sto_close(s);  /* the "dead" process's files and locks are released by the kernel */
  if (done) assert_int_equal(r, 0);
  assert_int_equal(sto_faultio_powerloss(fio, revert), 0);
  sto_faultio_free(fio);

  uint64_t gen = 0;
  char text[64];
  if (read_back(dir, &gen, text, sizeof text)) fail_msg("crash at call %lu (revert %d): record unreadable", n, revert);
  if (!((gen == 1 && !strcmp(text, "old")) || (gen == 2 && !strcmp(text, "new"))))
    fail_msg("crash at call %lu: generation %llu, \"%s\"", n, (unsigned long long)gen, text);
  /* Success was reported only after the directory was synced: it must survive. (A crash
   * in the last calls, unlocking and closing, comes after that.) */
  if (r == 0) assert_int_equal(gen, 2);

  /* The next writer goes through, from whichever version survived. */
  sto_store *next = sto_test_open(dir, "hostB", NULL, NULL, false);
  int u = sto_record_update(next, REL, BLOB, gen, "next", 4, NULL);
  if (u) fail_msg("crash at call %lu: the next update failed: %s", n, sto_error(next));
  sto_close(next);
  return done;
}

static void test_crash_at_every_step_of_an_update_leaves_the_old_or_the_new_record(void **state) {
  fixture *f = *state;
  unsigned long steps = 0;
  for (int revert = 0; revert <= 1; revert++)
    for (unsigned long n = 1;; n++) {
      if (crash_update_at(f->dir, n, revert)) {
        steps = n - 1;
        break;
      }
      assert_true(n < 200);
    }
  print_message("an update takes %lu I/O calls; a crash at each one was survived\n", steps);
  assert_true(steps >= 8);  /* open, write, fsync, close, link, rename, dir open/fsync/close ... */
}

static void test_crash_at_every_step_of_a_create_leaves_nothing_or_the_record(void **state) {
  fixture *f = *state;
  for (int revert = 0; revert <= 1; revert++)
    for (unsigned long n = 1;; n++) {
      sto_faultio *fio = sto_faultio_new(NULL);
      sto_store *s = sto_test_open(f->dir, "hostA", sto_faultio_io(fio), NULL, false);
      sto_record_remove(s, REL, 0, STO_FORCE);
      sto_faultio_reset(fio);
      sto_faultio_crash(fio, n);
      int r = sto_record_create(s, REL, BLOB, "made", 4);
      bool done = !sto_faultio_crashed(fio);
      sto_close(s);
      sto_faultio_powerloss(fio, revert);
      sto_faultio_free(fio);
      uint64_t gen = 0;
      char text[64];
      sto_store *chk = sto_test_open(f->dir, "reader", NULL, NULL, false);
      sto_record rec;
      int rr = sto_record_read(chk, REL, BLOB, &rec);
      if (rr == 0) {
        gen = rec.generation;
        snprintf(text, sizeof text, "%.*s", (int)rec.len, (const char *)rec.payload);
        sto_record_free(&rec);
        assert_int_equal(gen, 1);
        assert_string_equal(text, "made");
      } else if (rr != HPVM_ENOENT) {
        fail_msg("create crashed at %lu: %s", n, sto_error(chk));
      }
      if (done) assert_int_equal(r, 0);
      if (r == 0) assert_int_equal(rr, 0);
      /* Whatever is there, a new create either works or reports the record that exists. */
      int c = sto_record_create(chk, REL, BLOB, "made", 4);
      assert_true(c == 0 ? rr == HPVM_ENOENT : c == HPVM_EEXIST && rr == 0);
      sto_close(chk);
      if (done) break;
      assert_true(n < 200);
    }
}

static void test_crash_at_every_step_of_a_vm_create_leaves_no_vm_or_a_whole_one(void **state) {
  fixture *f = *state;
  Hpvm__VmEntitlement ent = HPVM__VM_ENTITLEMENT__INIT;
  ent.unit = HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT, ent.value = 10;
  Hpvm__VmConfig cfg = HPVM__VM_CONFIG__INIT;
  cfg.name = (char *)"guest7", cfg.os_type = HPVM__VM_OS_TYPE__VM_OS_TYPE_LINUX, cfg.vcpus = 1;
  cfg.memory_bytes = 64u << 20, cfg.entitlement = &ent, cfg.boot = HPVM__VM_BOOT_MODE__VM_BOOT_MODE_AUTO;
  unsigned long steps = 0;
  for (int revert = 0; revert <= 1; revert++)
    for (unsigned long n = 1;; n++) {
      sto_faultio *fio = sto_faultio_new(NULL);
      sto_store *s = sto_test_open(f->dir, "hostA", sto_faultio_io(fio), NULL, false);
      sto_vm_remove(s, "guest7", 0, STO_FORCE);
      sto_faultio_reset(fio);
      sto_faultio_crash(fio, n);
      int r = sto_vm_create(s, &cfg, NULL);
      bool done = !sto_faultio_crashed(fio);
      if (done && r) fail_msg("VM create without a crash failed: %s", sto_error(s));
      sto_close(s);
      sto_faultio_powerloss(fio, revert);
      sto_faultio_free(fio);
      sto_store *chk = sto_test_open(f->dir, "reader", NULL, NULL, false);
      Hpvm__VmConfig *got;
      int lr = sto_vm_load(chk, "guest7", &got);
      if (lr != 0 && lr != HPVM_ENOENT) fail_msg("VM create crashed at call %lu: %s", n, sto_error(chk));
      if (lr == 0) {
        assert_int_equal(got->vcpus, 1);
        assert_int_equal(strlen(got->uuid), 36);
        assert_true(got->vm_number >= 1);
        sto_vm_free(got);
      }
      if (r == 0) assert_int_equal(lr, 0);
      int c = sto_vm_create(chk, &cfg, NULL);
      assert_int_equal(c, lr == 0 ? HPVM_EEXIST : 0);
      sto_close(chk);
      if (done) {
        steps = n - 1;
        break;
      }
      assert_true(n < 300);
    }
  print_message("a VM create takes %lu I/O calls; a crash at each one was survived\n", steps);
}

static void test_each_failing_call_of_an_update_leaves_a_record_matching_the_result(void **state) {
  fixture *f = *state;
  for (unsigned long n = 1;; n++) {
    sto_record_remove(f->s, REL, 0, STO_FORCE);
    assert_int_equal(sto_record_create(f->s, REL, BLOB, "old", 3), 0);
    sto_faultio_reset(f->fio);
    sto_faultio_fail(f->fio, STO_OP_ALL, n, EIO, false);
    int r = sto_record_update(f->s, REL, BLOB, 1, "new", 3, NULL);
    bool injected = sto_faultio_failures(f->fio) > 0;
    sto_faultio_reset(f->fio);
    uint64_t gen = 0;
    char text[64];
    assert_int_equal(read_back(f->dir, &gen, text, sizeof text), 0);
    if (r == 0) {
      assert_int_equal(gen, 2);
    } else if (gen == 2) {
      /* Only a failure after the rename may leave the new version, and it says so. */
      assert_non_null(strstr(sto_error(f->s), "replaced, but"));
    } else {
      assert_int_equal(gen, 1);
      assert_string_equal(text, "old");
      assert_non_null(strstr(sto_error(f->s), "vms/web1/config"));
    }
    /* No temporary file is left, and the next update goes through. */
    assert_int_equal(count_entries(sto_test_path(f->dir, "vms/web1"), ".config.tmp."), 0);
    assert_int_equal(sto_record_update(f->s, REL, BLOB, gen, "again", 5, NULL), 0);
    if (!injected) break;
    assert_true(n < 200);
  }
}

static void test_full_disk_leaves_the_old_record_intact_and_says_so(void **state) {
  fixture *f = *state;
  assert_int_equal(sto_record_create(f->s, REL, BLOB, "old", 3), 0);
  sto_faultio_fail(f->fio, STO_OP_WRITE, 1, ENOSPC, true);
  int r = sto_record_update(f->s, REL, BLOB, 1, "new", 3, NULL);
  assert_int_equal(r, HPVM_EIO);
  const char *msg = sto_error(f->s);
  assert_non_null(strstr(msg, "vms/web1/config: cannot write the new version: No space left on device"));
  assert_non_null(strstr(msg, "the record is unchanged"));
  assert_non_null(strstr(msg, "free space"));
  sto_faultio_reset(f->fio);
  uint64_t gen;
  char text[64];
  assert_int_equal(read_back(f->dir, &gen, text, sizeof text), 0);
  assert_int_equal(gen, 1);
  assert_string_equal(text, "old");
  assert_int_equal(count_entries(sto_test_path(f->dir, "vms/web1"), ".config.tmp."), 0);
  /* ENOSPC reported by fsync (delayed allocation) is the same story. */
  sto_faultio_fail(f->fio, STO_OP_FSYNC, 1, ENOSPC, false);
  assert_int_equal(sto_record_update(f->s, REL, BLOB, 1, "new", 3, NULL), HPVM_EIO);
  assert_non_null(strstr(sto_error(f->s), "cannot sync the new version: No space left on device"));
  sto_faultio_reset(f->fio);
  assert_int_equal(read_back(f->dir, &gen, text, sizeof text), 0);
  assert_string_equal(text, "old");
  /* Space is back: the update works. */
  assert_int_equal(sto_record_update(f->s, REL, BLOB, 1, "new", 3, NULL), 0);
}

static void test_a_file_system_without_locks_is_refused_with_a_clear_message(void **state) {
  fixture *f = *state;
  assert_int_equal(sto_record_create(f->s, "vms/web1/x", BLOB, "a", 1), 0);
  sto_faultio_fail(f->fio, STO_OP_LOCK, 1, ENOLCK, true);
  assert_int_equal(sto_record_update(f->s, "vms/web1/x", BLOB, 1, "b", 1, NULL), HPVM_ENOTSUP);
  assert_non_null(strstr(sto_error(f->s), "refuses fcntl locks"));
  assert_non_null(strstr(sto_error(f->s), "no_locks"));
}

/* The simulator itself: a writer that renames before fsync is caught by the power loss. */
static void test_power_loss_garbles_a_file_renamed_before_it_was_synced(void **state) {
  fixture *f = *state;
  const sto_io *io = sto_faultio_io(f->fio);
  char tmp[PATH_MAX], dst[PATH_MAX], dir[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s/vms/web1/t", f->dir);
  snprintf(dst, sizeof dst, "%s/vms/web1/d", f->dir);
  snprintf(dir, sizeof dir, "%s/vms/web1", f->dir);
  int fd = io->open(io->ctx, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(io->write(io->ctx, fd, "0123456789", 10), 10);
  io->close(io->ctx, fd);
  assert_int_equal(io->rename(io->ctx, tmp, dst), 0);
  int dfd = io->open(io->ctx, dir, O_RDONLY | O_DIRECTORY, 0);
  assert_int_equal(io->fsync(io->ctx, dfd), 0);
  io->close(io->ctx, dfd);
  assert_int_equal(sto_faultio_powerloss(f->fio, false), 0);
  uint8_t buf[32];
  size_t n = file_read(dst, buf, sizeof buf);
  assert_true(n != 10 || memcmp(buf, "0123456789", 10));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_crash_at_every_step_of_an_update_leaves_the_old_or_the_new_record, setup, teardown),
    cmocka_unit_test_setup_teardown(test_crash_at_every_step_of_a_create_leaves_nothing_or_the_record, setup, teardown),
    cmocka_unit_test_setup_teardown(test_crash_at_every_step_of_a_vm_create_leaves_no_vm_or_a_whole_one, setup, teardown),
    cmocka_unit_test_setup_teardown(test_each_failing_call_of_an_update_leaves_a_record_matching_the_result, setup, teardown),
    cmocka_unit_test_setup_teardown(test_full_disk_leaves_the_old_record_intact_and_says_so, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_file_system_without_locks_is_refused_with_a_clear_message, setup, teardown),
    cmocka_unit_test_setup_teardown(test_power_loss_garbles_a_file_renamed_before_it_was_synced, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
