/* test_suspend.c — hpvmsuspend and hpvmresume under a real hpvmd: a guest running memverify
 * and heartbeat is suspended to a file mid-run (Off, "suspended to FILE", lease released, the
 * file recorded in its configuration) and resumed from it: it goes on where it stopped (the
 * heartbeat's sequence continues without a gap or a restart, ar.itc never steps back — the
 * heartbeat itself fails if it does — and memverify passes), the file resumes once. The
 * refusals leave everything as it was: a file that exists, a guest that is not running, a
 * directory that does not exist (the guest runs on), a file saved from another VM (other
 * memory, or the same shape), a damaged file (nothing started, the file kept and still good),
 * a guest that is not suspended, or was booted afresh since. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hpvmd_test.h"
#include "storage.h"

#define ON HPVM__VM_RUN_STATE__VM_RUN_STATE_ON
#define OFF HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF
#define POWER_OFF HPVM__STOP_MODE__STOP_MODE_POWER_OFF

static int suspend(ht_env *e, const char *name, const char *path, bool force, char *msg, size_t len) {
  Hpvm__SuspendVmRequest s = HPVM__SUSPEND_VM_REQUEST__INIT;
  s.name = (char *)name;
  s.path = (char *)path;
  s.force = force;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_SUSPEND;
  req.suspend = &s;
  Hpvm__Response *r;
  int err = ht_call(e, &req, &r);
  snprintf(msg, len, "%s", r && r->message ? r->message : "");
  hpvmd_response_free(r);
  return err;
}

static int resume(ht_env *e, const char *name, const char *path, char *msg, size_t len) {
  Hpvm__ResumeVmRequest s = HPVM__RESUME_VM_REQUEST__INIT;
  s.name = (char *)name;
  s.path = (char *)path;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_RESUME;
  req.resume = &s;
  Hpvm__Response *r;
  int err = ht_call(e, &req, &r);
  snprintf(msg, len, "%s", r && r->message ? r->message : "");
  hpvmd_response_free(r);
  return err;
}

static char *console_of(ht_env *e, const char *name) {
  char path[600];
  snprintf(path, sizeof path, "%s/vms/%s/console.log", e->state, name);
  return ht_read_file(path);
}

/* Wait until the console log holds text. */
static bool wait_console(ht_env *e, const char *name, const char *text, int timeout_ms) {
  uint64_t end = ht_ms() + (uint64_t)timeout_ms;
  do {
    char *s = console_of(e, name);
    bool found = s && strstr(s, text);
    free(s);
    if (found) return true;
    usleep(20000);
  } while (ht_ms() < end);
  return false;
}

static sto_store *store_of(ht_env *e) {
  sto_options o = {.root = e->shared, .host = "testhost"};
  sto_store *s;
  if (sto_open(&o, &s)) fail_msg("sto_open: %s", sto_error(s));
  return s;
}

static void lease_of(ht_env *e, const char *name, sto_lease *l) {
  sto_store *s = store_of(e);
  assert_int_equal(sto_lease_read(s, name, l), 0);
  sto_close(s);
}

/* The configuration's suspension record: its path, or "" when there is none. */
static void record_of(ht_env *e, const char *name, char *path, size_t len) {
  sto_store *s = store_of(e);
  Hpvm__VmConfig *c;
  assert_int_equal(sto_vm_load(s, name, &c), 0);
  snprintf(path, len, "%s", c->suspended ? c->suspended->path : "");
  sto_vm_free(c);
  sto_close(s);
}

static void test_a_suspended_guest_resumes_where_it_stopped(void **state) {
  ht_env *e = *state;
  char msg[1200], reason[600], file[400], rec[400];
  snprintf(file, sizeof file, "%s/g1.state", e->dir);
  assert_int_equal(ht_create(e, "g1", 64, "time=3 memverify size=16M heartbeat", msg, sizeof msg), 0);
  assert_int_equal(ht_start(e, "g1", msg, sizeof msg), 0);
  assert_true(wait_console(e, "g1", "HB 5 ", 20000));
  assert_int_equal(suspend(e, "g1", file, false, msg, sizeof msg), 0);
  /* Off, saying where the guest is; the lease is free; the file is recorded. */
  int pid = -1;
  assert_int_equal(ht_state(e, "g1", &pid, reason, sizeof reason), OFF);
  assert_int_equal(pid, 0);
  char want[600];
  snprintf(want, sizeof want, "suspended to %s (hpvmsuspend)", file);
  assert_string_equal(reason, want);
  sto_lease l;
  lease_of(e, "g1", &l);
  assert_int_equal(l.state, HPVM__LEASE_STATE__LEASE_STATE_FREE);
  record_of(e, "g1", rec, sizeof rec);
  assert_string_equal(rec, file);
  char *before = console_of(e, "g1");
  assert_null(strstr(before, "PASS"));   /* suspended before its end */
  assert_null(strstr(before, "FAIL"));
  free(before);

  assert_int_equal(resume(e, "g1", file, msg, sizeof msg), 0);
  assert_true(ht_wait_state(e, "g1", OFF, 60000));
  assert_int_equal(ht_state(e, "g1", NULL, reason, sizeof reason), OFF);
  assert_string_equal(reason, "the guest powered off (exit 0)");
  char *out = console_of(e, "g1");
  if (!strstr(out, "PASS memverify") || !strstr(out, "PASS heartbeat") || strstr(out, "FAIL"))
    fail_msg("the resumed guest did not pass:\n%s", out);
  /* One boot, one heartbeat sequence: every beat follows the one before, across the
   * suspension, and ar.itc only grows. */
  long seq = -1;
  unsigned long long itc = 0;
  int beats = 0;
  for (const char *p = out; (p = strstr(p, "HB ")); p += 3) {
    if (p != out && p[-1] != '\n') continue;
    long s;
    unsigned long long t;
    if (sscanf(p, "HB %ld %llu", &s, &t) != 2) continue;
    if (seq >= 0 && s != seq + 1) fail_msg("heartbeat %ld after %ld:\n%s", s, seq, out);
    if (t <= itc) fail_msg("ar.itc %llu after %llu at beat %ld", t, itc, s);
    seq = s, itc = t, beats++;
  }
  assert_true(beats > 10);
  free(out);
  /* The file is used up: its record is gone, a second resume is refused; the file stays. */
  record_of(e, "g1", rec, sizeof rec);
  assert_string_equal(rec, "");
  assert_int_equal(resume(e, "g1", file, msg, sizeof msg), HPVM_ESTATE);
  assert_non_null(strstr(msg, "is not suspended"));
  assert_int_equal(access(file, F_OK), 0);
  /* Both commands are in the command log. */
  char path[400];
  snprintf(path, sizeof path, "%s/log/command.log", e->shared);
  char *log = ht_read_file(path);
  assert_non_null(strstr(log, "hpvmsuspend -P g1"));
  assert_non_null(strstr(log, "hpvmresume -P g1"));
  free(log);
}

static void test_suspend_refusals_leave_the_guest_running(void **state) {
  ht_env *e = *state;
  char msg[1200], file[400];
  snprintf(file, sizeof file, "%s/exists.state", e->dir);
  int fd = open(file, O_WRONLY | O_CREAT, 0600);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(ht_create(e, "r1", 32, "idle", msg, sizeof msg), 0);
  /* Not running. */
  assert_int_equal(suspend(e, "r1", file, true, msg, sizeof msg), HPVM_ESTATE);
  assert_non_null(strstr(msg, "only a running guest"));
  assert_int_equal(ht_start(e, "r1", msg, sizeof msg), 0);
  /* The file exists: refused without -F. */
  assert_int_equal(suspend(e, "r1", file, false, msg, sizeof msg), HPVM_EEXIST);
  assert_non_null(strstr(msg, "hpvmsuspend -F"));
  assert_int_equal(ht_state(e, "r1", NULL, NULL, 0), ON);
  /* A relative path. */
  assert_int_equal(suspend(e, "r1", "rel.state", false, msg, sizeof msg), HPVM_EINVAL);
  /* A directory that does not exist: hpvmapp cannot save, the guest runs on. */
  char bad[500];
  snprintf(bad, sizeof bad, "%s/nodir/x.state", e->dir);
  assert_int_equal(suspend(e, "r1", bad, false, msg, sizeof msg), HPVM_EIO);
  assert_non_null(strstr(msg, "the guest runs on"));
  assert_int_equal(ht_state(e, "r1", NULL, NULL, 0), ON);
  /* With -F the existing file is replaced. */
  assert_int_equal(suspend(e, "r1", file, true, msg, sizeof msg), 0);
  struct stat st;
  assert_int_equal(stat(file, &st), 0);
  assert_true(st.st_size > 1000);
  assert_int_equal(ht_state(e, "r1", NULL, NULL, 0), OFF);
}

/* Flip one byte in the middle of a file (again, to undo it). */
static void flip_byte(const char *path) {
  int fd = open(path, O_RDWR);
  assert_true(fd >= 0);
  struct stat st;
  assert_int_equal(fstat(fd, &st), 0);
  off_t at = st.st_size / 2;
  unsigned char b;
  assert_int_equal(pread(fd, &b, 1, at), 1);
  b ^= 0x40;
  assert_int_equal(pwrite(fd, &b, 1, at), 1);
  close(fd);
}

static void test_resume_refuses_files_that_are_not_the_guests_own(void **state) {
  ht_env *e = *state;
  char msg[1200], fa[400], fb[400], fc[400], reason[600];
  snprintf(fa, sizeof fa, "%s/a.state", e->dir);
  snprintf(fb, sizeof fb, "%s/b.state", e->dir);
  snprintf(fc, sizeof fc, "%s/c.state", e->dir);
  assert_int_equal(ht_create(e, "a", 32, "idle", msg, sizeof msg), 0);
  assert_int_equal(ht_create(e, "b", 48, "idle", msg, sizeof msg), 0);
  assert_int_equal(ht_create(e, "c", 32, "idle", msg, sizeof msg), 0);
  /* Not suspended at all. */
  assert_int_equal(resume(e, "a", fa, msg, sizeof msg), HPVM_ESTATE);
  assert_non_null(strstr(msg, "is not suspended"));
  const char *names[] = {"a", "b", "c"}, *files[] = {fa, fb, fc};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(ht_start(e, names[i], msg, sizeof msg), 0);
    assert_int_equal(suspend(e, names[i], files[i], false, msg, sizeof msg), 0);
  }
  /* Another VM's file, of another memory size. */
  assert_int_equal(resume(e, "a", fb, msg, sizeof msg), HPVM_EINVAL);
  assert_non_null(strstr(msg, "saved from another VM"));
  /* Another VM's file of the same shape. */
  assert_int_equal(resume(e, "a", fc, msg, sizeof msg), HPVM_ECORRUPT);
  assert_non_null(strstr(msg, "is not the state VM a was suspended to"));
  /* The right file, damaged: nothing starts, the file stays; repaired, it resumes. */
  flip_byte(fa);
  assert_int_equal(resume(e, "a", fa, msg, sizeof msg), HPVM_ECORRUPT);
  assert_non_null(strstr(msg, "has changed since VM a was suspended"));
  assert_non_null(strstr(msg, "nothing was started"));
  assert_int_equal(ht_state(e, "a", NULL, reason, sizeof reason), OFF);
  assert_non_null(strstr(reason, "suspended to"));
  assert_int_equal(access(fa, F_OK), 0);
  /* Truncated: not even its VM section. */
  char cut[400];
  snprintf(cut, sizeof cut, "%s/cut.state", e->dir);
  int in = open(fa, O_RDONLY), out = open(cut, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  char head[10];
  assert_int_equal(read(in, head, sizeof head), (ssize_t)sizeof head);
  assert_int_equal(write(out, head, sizeof head), (ssize_t)sizeof head);
  close(in), close(out);
  assert_int_equal(resume(e, "a", cut, msg, sizeof msg), HPVM_ECORRUPT);
  assert_non_null(strstr(msg, "not a usable hpvm state"));
  flip_byte(fa);
  assert_int_equal(resume(e, "a", fa, msg, sizeof msg), 0);
  assert_int_equal(ht_state(e, "a", NULL, NULL, 0), ON);
  /* Running: nothing to resume. */
  assert_int_equal(resume(e, "a", fa, msg, sizeof msg), HPVM_ESTATE);
  /* Booted afresh instead of resumed: the saved state no longer matches its disks. */
  assert_int_equal(ht_start(e, "c", msg, sizeof msg), 0);
  assert_int_equal(ht_stop(e, "c", POWER_OFF, 0, msg, sizeof msg), 0);
  assert_int_equal(resume(e, "c", fc, msg, sizeof msg), HPVM_ESTATE);
  assert_non_null(strstr(msg, "is not suspended"));
  assert_int_equal(ht_stop(e, "a", POWER_OFF, 0, msg, sizeof msg), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_a_suspended_guest_resumes_where_it_stopped, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_suspend_refusals_leave_the_guest_running, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_resume_refuses_files_that_are_not_the_guests_own, ht_setup, ht_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
