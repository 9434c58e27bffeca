/* test_ha.c — HA restart (cli/hpvmd/ha.c) with three real hpvmd on loopback sharing one
 * directory, a 3 s lease and liveness timeout (renewal every 500 ms, fence at 2 s):
 *   - a guest with -x ha=on running memverify + heartbeat + diskverify on a shared disk and a
 *     guest without it, both on h1; kill -9 of h1's hpvmd: h1's hpvmapps fence themselves,
 *     then the ha guest boots on h2 or h3, exactly once in the whole machine, not before the
 *     takeover timeout (its lease unchanged for 3 s on the restarting host's clock; printed),
 *     the command log has the event, diskverify passes there; the other guest is not
 *     restarted anywhere;
 *   - a host that still renews: h1's hpvmd stopped (SIGSTOP) for less than the fence time and
 *     continued: no restart, the guest still runs on h1;
 *   - the throttle: a guest with -x ha_max_restarts=1 is restarted once when h1 dies; when the
 *     host that restarted it dies too, another host (which counts the same restart: the record
 *     is in shared storage) leaves it stopped with a command log event, and hpvmstart there
 *     starts it again.
 * Gossip runs with a 100 ms probe; waits are generous upper bounds, not timings under test. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "multihost.h"

#define HOSTS MH_HOSTS
#define WAIT_MS MH_WAIT_MS
#define TIMEOUT_MS 3000      /* --lease-timeout 3 */
#define RENEW_MS 500         /* hpvmd renews every timeout / 6 */
#define ON HPVM__VM_RUN_STATE__VM_RUN_STATE_ON
#define WORK "memverify size=8M heartbeat diskverify blocks=32 passes=0"

typedef mh_cluster ha_fixture;

/* The shared disk of the ha guest, made at setup. */
static void disk_path(const ha_fixture *f, char *path, size_t len) {
  snprintf(path, len, "%.250s/d.img", f->dir);
}

static int setup(void **state) {
  if (mh_setup(state, "ha", 29000)) return -1;
  char disk[300];
  disk_path(*state, disk, sizeof disk);
  int fd = open(disk, O_WRONLY | O_CREAT, 0644);
  if (fd < 0 || ftruncate(fd, 16 << 20)) return -1;
  close(fd);
  return 0;
}

static int teardown(void **state) { return mh_teardown(state); }

/* The hosts (indexes) where vm is ON, as a bit mask. */
static unsigned where(ha_fixture *f, int from, const char *vm) {
  unsigned m = 0;
  for (int i = from; i < HOSTS; i++)
    if (ht_state(&f->h[i], vm, NULL, NULL, 0) == ON) m |= 1u << i;
  return m;
}

/* hpvmapp processes of this test running vm, in the whole machine (argv: --name vm, and a
 * --sched-dir under the test's directory). */
static int apps_running(ha_fixture *f, const char *vm) {
  DIR *dir = opendir("/proc");
  int count = 0;
  for (struct dirent *de; dir && (de = readdir(dir));) {
    int pid = atoi(de->d_name);
    if (pid <= 0 || !ht_pid_alive(pid)) continue;
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) continue;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = 0;
    bool app = strstr(buf, "hpvmapp") != NULL, named = false, ours = false;
    for (char *a = buf; a < buf + n; a += strlen(a) + 1) {
      if (!strcmp(a, "--name") && a + strlen(a) + 1 < buf + n && !strcmp(a + strlen(a) + 1, vm)) named = true;
      if (!strncmp(a, f->dir, strlen(f->dir))) ours = true;
    }
    count += app && named && ours;
  }
  if (dir) closedir(dir);
  return count;
}

/* max_restarts: -x ha_max_restarts (NULL: not set). */
static void create_guest(ha_fixture *f, const char *vm, bool ha, const char *max_restarts, const char *disk,
                         const char *args) {
  Hpvm__VmConfig c = HPVM__VM_CONFIG__INIT;
  c.name = (char *)vm;
  c.memory_bytes = 32ull << 20;
  c.vcpus = 1;
  c.kernel = HPVMK;
  c.cmdline = (char *)args;
  Hpvm__VmEntitlement ent = HPVM__VM_ENTITLEMENT__INIT;
  ent.unit = HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT;
  ent.value = 1;
  c.entitlement = &ent;
  Hpvm__VmAttribute attr = HPVM__VM_ATTRIBUTE__INIT, limit = HPVM__VM_ATTRIBUTE__INIT, *attrs[2] = {&attr, &limit};
  attr.key = "ha";
  attr.value = "on";
  limit.key = "ha_max_restarts";
  limit.value = (char *)max_restarts;
  if (ha) c.n_attributes = max_restarts ? 2 : 1, c.attributes = attrs;
  Hpvm__VmStorageDevice dev = HPVM__VM_STORAGE_DEVICE__INIT, *devs[1] = {&dev};
  char spec[400];
  if (disk) {
    snprintf(spec, sizeof spec, "disk:avio_stor:0,2,0:file:%s", disk);
    dev.type = HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_DISK;
    dev.adapter = "avio_stor";
    dev.bus = 0, dev.device = 2, dev.target = 0;
    dev.backing = HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_FILE;
    dev.path = (char *)disk;
    dev.spec = spec;
    c.n_devices = 1;
    c.devices = devs;
  }
  Hpvm__CreateVmRequest cr = HPVM__CREATE_VM_REQUEST__INIT;
  cr.config = &c;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_CREATE;
  req.create = &cr;
  Hpvm__Response *r = NULL;
  int rc = ht_call(&f->h[0], &req, &r);
  if (rc) fprintf(stderr, "create %s: %s\n", vm, r && r->message ? r->message : "");
  hpvmd_response_free(r);
  assert_int_equal(rc, 0);
  char msg[1200];
  rc = ht_start(&f->h[0], vm, msg, sizeof msg);
  if (rc) fprintf(stderr, "start %s: %s\n", vm, msg), mh_dump_all(f);
  assert_int_equal(rc, 0);
  assert_true(mh_console_wait(&f->h[0], vm, 0, "HB ", WAIT_MS));
}

/* ---- Tests ----------------------------------------------------------------------------------------- */

static void test_ha_guest_restarts_once_on_another_host_after_its_host_died(void **state) {
  ha_fixture *f = *state;
  ht_env *h1 = &f->h[0];
  mh_all_see_all_up(f);
  char disk[300];
  disk_path(f, disk, sizeof disk);
  create_guest(f, "hag", true, NULL, disk, WORK);
  create_guest(f, "plain", false, NULL, NULL, "heartbeat");
  int pid_ha = 0, pid_plain = 0;
  assert_int_equal(ht_state(h1, "hag", &pid_ha, NULL, 0), ON);
  assert_int_equal(ht_state(h1, "plain", &pid_plain, NULL, 0), ON);

  uint64_t killed = ht_ms();
  kill(h1->hpvmd, SIGKILL);
  waitpid(h1->hpvmd, NULL, 0);
  h1->hpvmd = 0;

  /* h1's hpvmapps fence themselves (fence deadline 2 s after the last renewal); by then no
   * other host runs the guest. */
  for (uint64_t end = ht_ms() + WAIT_MS; ht_ms() < end && (ht_pid_alive(pid_ha) || ht_pid_alive(pid_plain));)
    usleep(20000);
  assert_false(ht_pid_alive(pid_ha));
  assert_false(ht_pid_alive(pid_plain));
  assert_int_equal(where(f, 1, "hag"), 0);
  uint64_t fenced = ht_ms();

  unsigned on = 0;
  for (uint64_t end = ht_ms() + WAIT_MS; ht_ms() < end && !(on = where(f, 1, "hag"));) usleep(20000);
  uint64_t restarted = ht_ms();
  if (!on) mh_dump_all(f);
  assert_true(on == 2 || on == 4);   /* h2 or h3, one of them */
  fprintf(stderr, "hpvmd of h1 killed; its guests fenced after %llu ms; HA restart seen after %llu ms "
          "(takeover timeout %d ms)\n", (unsigned long long)(fenced - killed), (unsigned long long)(restarted - killed),
          TIMEOUT_MS);
  /* The lease was last renewed at most one renewal period before the kill, and the restarting
   * host saw it unchanged for the timeout after that. */
  assert_true(restarted + RENEW_MS >= killed + TIMEOUT_MS);
  ht_env *t = &f->h[on == 2 ? 1 : 2];
  assert_true(mh_console_wait(t, "hag", 0, "HB ", WAIT_MS));
  assert_int_equal(apps_running(f, "hag"), 1);

  char *log = mh_command_log(f);
  char want[200];
  snprintf(want, sizeof want, "HA restart of VM hag on host %s (host h1 dead since", t->name);
  if (!strstr(log, want)) fprintf(stderr, "command log:\n%s", log);
  assert_non_null(strstr(log, want));
  assert_null(strstr(log, "HA restart of VM plain"));
  free(log);

  /* The guest without ha=on stays down everywhere; the ha guest once only. */
  usleep(2 * TIMEOUT_MS * 1000);
  assert_int_equal(where(f, 1, "plain"), 0);
  assert_int_equal(apps_running(f, "plain"), 0);
  assert_int_equal(apps_running(f, "hag"), 1);

  /* Its disk came through: diskverify passes at a graceful stop over there. */
  char msg[1200];
  assert_int_equal(ht_stop(t, "hag", HPVM__STOP_MODE__STOP_MODE_GRACEFUL, 30000, msg, sizeof msg), 0);
  char *c = mh_console_of(t, "hag");
  if (!strstr(c, "PASS diskverify")) fprintf(stderr, "console of hag on %s:\n%s", t->name, c);
  assert_non_null(strstr(c, "PASS diskverify"));
  assert_non_null(strstr(c, "PASS memverify"));
  assert_null(strstr(c, "FAIL"));
  free(c);
}

static void test_a_host_that_still_renews_is_not_taken_over(void **state) {
  ha_fixture *f = *state;
  ht_env *h1 = &f->h[0];
  mh_all_see_all_up(f);
  create_guest(f, "stp", true, NULL, NULL, "heartbeat");
  int pid = 0;
  assert_int_equal(ht_state(h1, "stp", &pid, NULL, 0), ON);
  /* Stopped for less than the fence time: it renews again when continued. */
  kill(h1->hpvmd, SIGSTOP);
  usleep(800 * 1000);
  kill(h1->hpvmd, SIGCONT);
  usleep(2 * TIMEOUT_MS * 1000);   /* twice the takeover timeout: time enough for a wrong restart */
  assert_true(ht_pid_alive(pid));
  assert_int_equal(ht_state(h1, "stp", NULL, NULL, 0), ON);
  assert_int_equal(where(f, 1, "stp"), 0);
  assert_int_equal(apps_running(f, "stp"), 1);
  char *log = mh_command_log(f);
  assert_null(strstr(log, "HA restart of VM stp"));
  free(log);
}

static void kill_hpvmd(ht_env *e) {
  kill(e->hpvmd, SIGKILL);
  waitpid(e->hpvmd, NULL, 0);
  e->hpvmd = 0;
}

static void test_ha_restarts_are_throttled(void **state) {
  ha_fixture *f = *state;
  ht_env *h1 = &f->h[0];
  mh_all_see_all_up(f);
  create_guest(f, "loop", true, "1", NULL, "heartbeat");

  /* h1 dies: its one allowed restart, on h2 or h3. */
  kill_hpvmd(h1);
  unsigned on = 0;
  for (uint64_t end = ht_ms() + WAIT_MS; ht_ms() < end && !(on = where(f, 1, "loop"));) usleep(20000);
  if (!on) mh_dump_all(f);
  assert_true(on == 2 || on == 4);
  int ti = on == 2 ? 1 : 2;
  ht_env *t = &f->h[ti];
  assert_true(mh_console_wait(t, "loop", 0, "HB ", WAIT_MS));
  int pid = 0;
  assert_int_equal(ht_state(t, "loop", &pid, NULL, 0), ON);
  ht_hpvmd_start(h1);   /* back: two hosts could restart it when t dies */

  /* t dies: the guest fences itself there and is not restarted again. */
  kill_hpvmd(t);
  for (uint64_t end = ht_ms() + WAIT_MS; ht_ms() < end && ht_pid_alive(pid);) usleep(20000);
  assert_false(ht_pid_alive(pid));
  const char *event = "HA restart of VM loop not done (host ";
  char *log = NULL, *at = NULL;
  for (uint64_t end = ht_ms() + WAIT_MS; ht_ms() < end && !at; usleep(50000)) {
    free(log);
    log = mh_command_log(f);
    at = strstr(log, event);
  }
  if (!at) fprintf(stderr, "command log:\n%s", log), mh_dump_all(f);
  assert_non_null(at);
  assert_non_null(strstr(at, "restarted 1 time(s) in the last 600 s"));
  char by[64] = "";
  const char *on_host = strstr(at, "hpvmstart -P loop on host ");
  assert_non_null(on_host);
  sscanf(on_host + strlen("hpvmstart -P loop on host "), "%63s", by);
  free(log);
  usleep(2 * TIMEOUT_MS * 1000);   /* twice the takeover timeout: time enough for a wrong restart */
  assert_int_equal(where(f, 0, "loop"), 0);
  assert_int_equal(apps_running(f, "loop"), 0);

  /* An operator's hpvmstart there starts it (and clears the count). */
  ht_env *b = NULL;
  for (int i = 0; i < HOSTS; i++)
    if (!strcmp(f->h[i].name, by)) b = &f->h[i];
  assert_non_null(b);
  assert_true(b != t);
  char msg[1200];
  int rc = ht_start(b, "loop", msg, sizeof msg);
  if (rc) fprintf(stderr, "start loop on %s: %s\n", b->name, msg);
  assert_int_equal(rc, 0);
  assert_true(mh_console_wait(b, "loop", 0, "HB ", WAIT_MS));
  char rec[400];
  snprintf(rec, sizeof rec, "%s/ha/loop", h1->shared);
  assert_int_not_equal(access(rec, F_OK), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_ha_guest_restarts_once_on_another_host_after_its_host_died, setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_host_that_still_renews_is_not_taken_over, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ha_restarts_are_throttled, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
