/* test_drain.c — hpvmhost maintenance (cli/hpvmd/drain.c, cluster/place.c) with three real
 * hpvmd on loopback sharing one directory, run through the hpvmhost command:
 *   - four guests running memverify + heartbeat on h1; maintenance enter h1 live-migrates them
 *     all to h2 and h3 (both get some), none stops, each goes on verifying memory and beating
 *     over there and passes its checks at a graceful stop; h1 is Maintenance for the others,
 *     refuses to start a guest, and the command log tells the story; exit brings it back Up;
 *   - --abort (typed on h3, forwarded to h2) during a drain of h2 (one at a time): the migration in flight finishes,
 *     the others do not start, h2 is Up again with guests still running there;
 *   - a guest as large as the host's memory fits on no other host: it is listed, stays running
 *     on h1, and h1 stays Draining;
 *   - -x online_migration=disabled: hpvmmigrate -o refuses it with the attribute and the fix
 *     (typed on its host, and on another host: forwarded to the owner), a drain lists it as
 *     unmovable and the host stays Draining; stopped, it migrates offline; hpvmmigrate -o of a
 *     guest of h1 typed on h3 is forwarded to h1 and moves it;
 *   - hpvmmigrate --cancel typed on h3 for a migration h1 makes is forwarded to h1: it is
 *     canceled there, the guest goes on on h1;
 *   - exit --return: two guests the drain moved away while running come back live (migrated by
 *     the hosts they run on), booted once, and pass their checks on h1; one whose online
 *     migration was disabled meanwhile is listed (exit status 1), stays where it runs, and comes
 *     back with the next --return once enabled.
 * Gossip runs with a 100 ms probe; waits are generous upper bounds, not timings under test. */
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
#define ON HPVM__VM_RUN_STATE__VM_RUN_STATE_ON
#define WORK "memverify size=8M heartbeat"

typedef mh_cluster dr_fixture;

static int setup(void **state) { return mh_setup(state, "drain", 25000); }
static int teardown(void **state) { return mh_teardown(state); }

/* hpvm command cmd (hpvmmigrate, hpvmmodify) with argv in the background, asking e's hpvmd,
 * stdout and stderr to file. */
static pid_t hpvm_spawn(ht_env *e, const char *cmd, const char *file, char *const argv[]) {
  char path[400];
  snprintf(path, sizeof path, "%s/%s", HPVM_BIN, cmd);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
    setenv("HPVMD_SOCKET", e->sock, 1);
    execv(path, argv);
    _exit(127);
  }
  return pid;
}

/* The same, waited for: its exit status, stdout and stderr. */
static mh_out hpvm_cmd(dr_fixture *f, ht_env *e, const char *cmd, char *const argv[]) {
  char file[400];
  snprintf(file, sizeof file, "%.250s/%s.out", f->dir, cmd);
  mh_out o = mh_hpvmhost_wait(hpvm_spawn(e, cmd, file, argv), file);
  fprintf(stderr, "--- %s on %s (status %d):\n%s", cmd, e->name, o.status, o.text);
  return o;
}

/* Boots of vm over every host's console log (appended across migrations): the banner, once per
 * boot. */
static unsigned boots(dr_fixture *f, const char *vm) {
  unsigned n = 0;
  for (int h = 0; h < HOSTS; h++) {
    char *c = mh_console_of(&f->h[h], vm);
    for (const char *p = c; (p = strstr(p, "hpvmk: IA-64 guest kernel:")); p++) n++;
    free(c);
  }
  return n;
}

/* ---- Tests ----------------------------------------------------------------------------------------- */

static const char *const GUESTS[] = {"g1", "g2", "g3", "g4"};

static void test_drain_moves_every_guest_and_exit_returns_to_service(void **state) {
  dr_fixture *f = *state;
  ht_env *h1 = &f->h[0];
  mh_all_see_all_up(f);
  /* 512 MiB each (mapped lazily, memverify touches 8): more than the noise in the free memory
   * the hosts, all on this one machine, gossip, so placement's spreading shows. */
  for (int i = 0; i < 4; i++) mh_start_guest(f, h1, GUESTS[i], 512, WORK);
  for (int i = 0; i < 4; i++) assert_true(mh_console_wait(h1, GUESTS[i], 0, "HB ", 20000));

  mh_out o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "enter", "h1", NULL});
  if (o.status) mh_dump_all(f);
  assert_int_equal(o.status, 0);
  assert_non_null(strstr(o.text, "host h1 is in maintenance: 4 guest(s) migrated"));
  assert_non_null(strstr(o.text, "live migration to host h2 started"));
  assert_non_null(strstr(o.text, "live migration to host h3 started"));
  free(o.text);

  /* Every guest runs on h2 or h3, both have some; it goes on there and passes at a stop. */
  int on[HOSTS] = {0};
  for (int i = 0; i < 4; i++) {
    int w = mh_where(f, GUESTS[i]);
    assert_true(w == 1 || w == 2);
    on[w]++;
  }
  assert_true(on[1] > 0 && on[2] > 0);
  assert_true(mh_wait_host_state(&f->h[1], "h1", "Maintenance"));
  assert_true(mh_wait_host_state(&f->h[2], "h1", "Maintenance"));
  for (int i = 0; i < 4; i++) {
    ht_env *t = &f->h[mh_where(f, GUESTS[i])];
    assert_true(mh_console_wait(t, GUESTS[i], 0, "HB ", 10000));
    assert_true(mh_console_wait(t, GUESTS[i], 0, " verified", 10000));
    mh_stop_and_check(f, t, GUESTS[i]);
  }

  /* In maintenance h1 starts nothing. */
  char msg[1200];
  assert_int_equal(ht_create(h1, "g5", 32, "idle", msg, sizeof msg), 0);
  assert_int_not_equal(ht_start(h1, "g5", msg, sizeof msg), 0);
  assert_non_null(strstr(msg, "maintenance"));

  char *log = mh_command_log(f);
  assert_non_null(strstr(log, "maintenance h1: draining"));
  assert_non_null(strstr(log, "maintenance h1: VM g1: migrated to host"));
  assert_non_null(strstr(log, "maintenance h1: VM g4: migrated to host"));
  free(log);

  o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "exit", "h1", NULL});
  assert_int_equal(o.status, 0);
  assert_non_null(strstr(o.text, "host h1 is back in service"));
  free(o.text);
  assert_true(mh_wait_host_state(&f->h[1], "h1", "Up"));
  assert_int_equal(ht_start(h1, "g5", msg, sizeof msg), 0);
}

static void test_abort_leaves_the_host_up(void **state) {
  dr_fixture *f = *state;
  ht_env *h2 = &f->h[1];
  mh_all_see_all_up(f);
  const char *vms[] = {"a1", "a2", "a3"};
  for (int i = 0; i < 3; i++) mh_start_guest(f, h2, vms[i], 32, WORK);
  for (int i = 0; i < 3; i++) assert_true(mh_console_wait(h2, vms[i], 0, "HB ", 20000));

  char file[400];
  snprintf(file, sizeof file, "%.250s/drain.out", f->dir);
  pid_t drain = mh_hpvmhost_spawn(h2, file, (char *[]){"hpvmhost", "maintenance", "enter", "h2", "--parallel", "1", NULL});
  /* Abort as soon as the first migration started. */
  bool started = false;
  for (uint64_t end = ht_ms() + WAIT_MS; !started && ht_ms() < end; usleep(5000)) {
    char *s = ht_read_file(file);
    started = s && strstr(s, "live migration to host");
    free(s);
  }
  assert_true(started);
  /* From another host: forwarded to h2. */
  mh_out a = mh_hpvmhost(f, &f->h[2], (char *[]){"hpvmhost", "maintenance", "enter", "h2", "--abort", NULL});
  assert_int_equal(a.status, 0);
  assert_non_null(strstr(a.text, "aborting"));
  free(a.text);
  mh_out o = mh_hpvmhost_wait(drain, file);
  fprintf(stderr, "--- the drain:\n%s", o.text);
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "aborted after 1 migration(s): the host is Up again with 2 guest(s)"));
  free(o.text);
  assert_true(mh_wait_host_state(&f->h[0], "h2", "Up"));
  unsigned here = 0;
  for (int i = 0; i < 3; i++) here += mh_where(f, vms[i]) == 1;
  assert_int_equal(here, 2);
  char *log = mh_command_log(f);
  assert_non_null(strstr(log, "maintenance h2: abort asked by"));
  free(log);
}

static void test_a_guest_that_fits_nowhere_keeps_the_host_draining(void **state) {
  dr_fixture *f = *state;
  ht_env *h1 = &f->h[0];
  mh_all_see_all_up(f);
  /* As large as the host: admitted on h1 (its memory is mapped lazily and "idle" does not touch
   * it), larger than the free memory any other host gossips. */
  unsigned mib = (unsigned)((uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE) >> 20);
  mh_start_guest(f, h1, "big", mib, "idle");
  mh_start_guest(f, h1, "small", 32, WORK);
  mh_out o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "enter", "h1", NULL});
  if (o.status != 1) mh_dump_all(f);
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "VM big"));
  assert_non_null(strstr(o.text, "no Up host has room for it"));
  assert_non_null(strstr(o.text, "host h1 stays draining: 1 guest(s) still run here"));
  free(o.text);
  assert_int_equal(mh_where(f, "big"), 0);
  int w = mh_where(f, "small");
  assert_true(w == 1 || w == 2);
  assert_true(mh_wait_host_state(&f->h[1], "h1", "Draining"));
  /* Draining: nothing comes in. */
  char msg[1200];
  assert_int_equal(ht_create(h1, "late", 32, "idle", msg, sizeof msg), 0);
  assert_int_not_equal(ht_start(h1, "late", msg, sizeof msg), 0);
  assert_non_null(strstr(msg, "draining"));
}

static void test_policy_stop_rehomes_stopped_guests_and_exit_return_brings_them_back(void **state) {
  dr_fixture *f = *state;
  ht_env *h1 = &f->h[0];
  mh_all_see_all_up(f);
  char msg[1200];
  assert_int_equal(ht_create(h1, "s1", 32, "idle", msg, sizeof msg), 0);   /* registered here, stopped */
  mh_start_guest(f, h1, "p1", 32, WORK);
  assert_true(mh_console_wait(h1, "p1", 0, "HB ", 20000));
  mh_out o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "enter", "h1", "--policy", "stop", NULL});
  if (o.status) mh_dump_all(f);
  assert_int_equal(o.status, 0);
  assert_non_null(strstr(o.text, "VM s1 (stopped) re-homed to host h"));
  assert_non_null(strstr(o.text, "VM p1: powering off (--policy stop)"));
  assert_non_null(strstr(o.text, "VM p1: stopped"));
  assert_non_null(strstr(o.text, "host h1 is in maintenance: 0 guest(s) migrated, 1 stopped guest(s) re-homed"));
  free(o.text);
  assert_int_equal(mh_where(f, "p1"), -1);
  /* s1 may start where it went, not here. */
  assert_int_not_equal(ht_start(h1, "s1", msg, sizeof msg), 0);
  o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "exit", "h1", "--return", NULL});
  assert_int_equal(o.status, 0);
  assert_non_null(strstr(o.text, "VM s1 (stopped) brought back"));
  free(o.text);
  assert_int_equal(ht_start(h1, "s1", msg, sizeof msg), 0);
  assert_int_equal(ht_start(h1, "p1", msg, sizeof msg), 0);
}

static void test_online_migration_disabled_is_enforced(void **state) {
  dr_fixture *f = *state;
  ht_env *h1 = &f->h[0], *h3 = &f->h[2];
  mh_all_see_all_up(f);
  char msg[1200];
  assert_int_equal(ht_create(h1, "pinned", 32, WORK, msg, sizeof msg), 0);
  mh_out o = hpvm_cmd(f, h1, "hpvmmodify", (char *[]){"hpvmmodify", "-P", "pinned", "-x", "online_migration=disabled", NULL});
  assert_int_equal(o.status, 0);
  free(o.text);
  assert_int_equal(ht_start(h1, "pinned", msg, sizeof msg), 0);
  mh_start_guest(f, h1, "free1", 32, WORK);
  mh_start_guest(f, h1, "free2", 32, WORK);
  assert_true(mh_console_wait(h1, "pinned", 0, "HB ", 20000));

  /* hpvmmigrate -o refuses it before anything moves: on its host, and typed on h3 (forwarded). */
  for (int i = 0; i < 2; i++) {
    o = hpvm_cmd(f, i ? h3 : h1, "hpvmmigrate", (char *[]){"hpvmmigrate", "-o", "-P", "pinned", "-h", "h2", NULL});
    assert_int_equal(o.status, 1);
    assert_non_null(strstr(o.text, "online_migration=disabled"));
    assert_non_null(strstr(o.text, "hpvmmodify -P pinned -x online_migration=enabled"));
    assert_non_null(strstr(o.text, "migrate it offline"));
    assert_null(strchr(strchr(o.text, '\n') + 1, '\n'));   /* one line */
    free(o.text);
    assert_int_equal(mh_where(f, "pinned"), 0);
  }
  /* A guest of h1 migrated live from h3: forwarded to h1, which moves it. */
  o = hpvm_cmd(f, h3, "hpvmmigrate", (char *[]){"hpvmmigrate", "-o", "-P", "free1", "-h", "h2", NULL});
  if (o.status) mh_dump_all(f);
  assert_int_equal(o.status, 0);
  assert_non_null(strstr(o.text, "VM free1 migrated live from host h1 to host h2"));
  free(o.text);
  assert_true(mh_wait_where(f, "free1", 1));

  /* The drain moves free2, lists pinned as unmovable, and h1 stays Draining. */
  o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "enter", "h1", NULL});
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "VM pinned: online migration disabled"));
  assert_non_null(strstr(o.text, "VM free2: migrated to host"));
  assert_non_null(strstr(o.text, "host h1 stays draining: 1 guest(s) still run here: pinned (32 MB, online migration "
                                 "disabled)"));
  assert_non_null(strstr(o.text, "hpvmmodify -P NAME -x online_migration=enabled"));
  free(o.text);
  assert_int_equal(mh_where(f, "pinned"), 0);
  assert_true(mh_wait_host_state(&f->h[1], "h1", "Draining"));

  /* Stopped, it migrates offline and starts over there. */
  assert_int_equal(ht_stop(h1, "pinned", HPVM__STOP_MODE__STOP_MODE_GRACEFUL, 30000, msg, sizeof msg), 0);
  o = hpvm_cmd(f, h1, "hpvmmigrate", (char *[]){"hpvmmigrate", "-P", "pinned", "-h", "h2", NULL});
  if (o.status) mh_dump_all(f);
  assert_int_equal(o.status, 0);
  free(o.text);
  assert_int_equal(ht_start(&f->h[1], "pinned", msg, sizeof msg), 0);
  assert_int_equal(mh_where(f, "pinned"), 1);
}

/* hpvmmigrate --cancel typed on h3 for a migration h1 makes: forwarded to h1, which cancels it;
 * the guest goes on on h1. */
static void test_cancel_typed_on_another_host(void **state) {
  dr_fixture *f = *state;
  ht_env *h1 = &f->h[0], *h3 = &f->h[2];
  mh_all_see_all_up(f);
  mh_start_guest(f, h1, "slow", 32, "memverify size=16M heartbeat");
  char file[400];
  snprintf(file, sizeof file, "%.250s/migrating.out", f->dir);
  pid_t mig = hpvm_spawn(h1, "hpvmmigrate", file,
                         (char *[]){"hpvmmigrate", "-o", "-P", "slow", "-h", "h2", "--bandwidth", "2", NULL});
  mh_out o = {1, NULL};
  for (int tries = 0; tries < 100 && o.status; tries++, usleep(100000)) {   /* until it is under way */
    free(o.text);
    o = hpvm_cmd(f, h3, "hpvmmigrate", (char *[]){"hpvmmigrate", "-P", "slow", "--cancel", NULL});
  }
  assert_int_equal(o.status, 0);
  assert_non_null(strstr(o.text, "cancel requested: VM slow stays on host h1"));
  free(o.text);
  o = mh_hpvmhost_wait(mig, file);
  fprintf(stderr, "--- the migration (status %d):\n%s", o.status, o.text);
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "canceled"));   /* "migration canceled in the copy phase", or at init */
  free(o.text);
  assert_int_equal(mh_where(f, "slow"), 0);
  /* Nothing to cancel now: said by h1, relayed to h3. */
  o = hpvm_cmd(f, h3, "hpvmmigrate", (char *[]){"hpvmmigrate", "-P", "slow", "--cancel", NULL});
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "no migration of VM slow is in progress on host h1"));
  free(o.text);
  mh_stop_and_check(f, h1, "slow");
}

static void test_exit_return_migrates_running_guests_back(void **state) {
  dr_fixture *f = *state;
  ht_env *h1 = &f->h[0];
  mh_all_see_all_up(f);
  const char *vms[] = {"r1", "r2"};
  for (int i = 0; i < 2; i++) mh_start_guest(f, h1, vms[i], 32, WORK);
  for (int i = 0; i < 2; i++) assert_true(mh_console_wait(h1, vms[i], 0, "HB ", 20000));
  mh_out o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "enter", "h1", NULL});
  if (o.status) mh_dump_all(f);
  assert_int_equal(o.status, 0);
  assert_non_null(strstr(o.text, "host h1 is in maintenance: 2 guest(s) migrated"));
  free(o.text);
  for (int i = 0; i < 2; i++) assert_true(mh_where(f, vms[i]) > 0);

  /* Typed on h2: forwarded to h1, which asks each guest's host to migrate it back. */
  o = mh_hpvmhost(f, &f->h[1], (char *[]){"hpvmhost", "maintenance", "exit", "h1", "--return", NULL});
  if (o.status) mh_dump_all(f);
  assert_int_equal(o.status, 0);
  assert_non_null(strstr(o.text, "VM r1: live migration back from host h"));
  assert_non_null(strstr(o.text, "VM r1: migrated back from host h"));
  assert_non_null(strstr(o.text, "VM r2: migrated back from host h"));
  assert_non_null(strstr(o.text, "host h1 is back in service; 2 guest(s) migrated back"));
  free(o.text);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(mh_where(f, vms[i]), 0);
    assert_int_equal(boots(f, vms[i]), 1);
    char *c = mh_console_of(h1, vms[i]);
    size_t len = strlen(c);
    free(c);
    assert_true(mh_console_wait(h1, vms[i], len, "HB ", 10000));   /* beating on h1 again */
  }
  char *log = mh_command_log(f);
  assert_non_null(strstr(log, "maintenance h1: VM r1: migrated back from host"));
  assert_non_null(strstr(log, "hpvmmigrate -o -P r2 -h h1 (hpvmhost maintenance exit h1 --return)"));
  free(log);
  for (int i = 0; i < 2; i++) mh_stop_and_check(f, h1, vms[i]);
  /* Nothing left to bring back. */
  o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "exit", "h1", "--return", NULL});
  assert_int_equal(o.status, 0);
  assert_non_null(strstr(o.text, "0 guest(s) migrated back, 0 stopped guest(s) brought back"));
  free(o.text);
}

static void test_exit_return_lists_a_guest_that_cannot_come_back(void **state) {
  dr_fixture *f = *state;
  ht_env *h1 = &f->h[0];
  mh_all_see_all_up(f);
  mh_start_guest(f, h1, "stuck", 32, WORK);
  assert_true(mh_console_wait(h1, "stuck", 0, "HB ", 20000));
  mh_out o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "enter", "h1", NULL});
  assert_int_equal(o.status, 0);
  free(o.text);
  int w = mh_where(f, "stuck");
  assert_true(w > 0);
  o = hpvm_cmd(f, &f->h[w], "hpvmmodify", (char *[]){"hpvmmodify", "-P", "stuck", "-x", "online_migration=disabled", NULL});
  assert_int_equal(o.status, 0);
  free(o.text);

  o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "exit", "h1", "--return", NULL});
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "not returned: stuck (on host h"));
  assert_non_null(strstr(o.text, "online_migration=disabled"));
  free(o.text);
  assert_int_equal(mh_where(f, "stuck"), w);
  assert_true(mh_wait_host_state(&f->h[w], "h1", "Up"));

  /* Still recorded: once enabled, the next --return brings it. */
  o = hpvm_cmd(f, h1, "hpvmmodify", (char *[]){"hpvmmodify", "-P", "stuck", "-x", "online_migration=enabled", NULL});
  assert_int_equal(o.status, 0);
  free(o.text);
  o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "exit", "h1", "--return", NULL});
  assert_int_equal(o.status, 0);
  assert_non_null(strstr(o.text, "1 guest(s) migrated back"));
  free(o.text);
  assert_int_equal(mh_where(f, "stuck"), 0);
  assert_int_equal(boots(f, "stuck"), 1);
  mh_stop_and_check(f, h1, "stuck");
}

/* What hpvmhost maintenance refuses, and how it says so. */
static void test_refusals(void **state) {
  dr_fixture *f = *state;
  ht_env *h1 = &f->h[0];
  mh_all_see_all_up(f);
  mh_out o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "enter", NULL});
  assert_int_equal(o.status, 2);
  free(o.text);
  o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "enter", "h1", "--policy", "later", NULL});
  assert_int_equal(o.status, 2);
  assert_non_null(strstr(o.text, "give migrate, stop or leave"));
  free(o.text);
  o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "exit", "h1", "--abort", NULL});
  assert_int_equal(o.status, 2);
  free(o.text);
  /* Another host's name: forwarded to that host's hpvmd, its lines relayed. */
  o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "enter", "h2", NULL});
  assert_int_equal(o.status, 0);
  assert_non_null(strstr(o.text, "draining (policy migrate, 1 at a time): 0 running guest(s)"));
  assert_non_null(strstr(o.text, "host h2 is in maintenance"));
  free(o.text);
  assert_true(mh_wait_host_state(&f->h[2], "h2", "Maintenance"));
  o = mh_hpvmhost(f, &f->h[2], (char *[]){"hpvmhost", "maintenance", "exit", "h2", NULL});
  assert_int_equal(o.status, 0);
  assert_non_null(strstr(o.text, "host h2 is back in service"));
  free(o.text);
  assert_true(mh_wait_host_state(h1, "h2", "Up"));
  o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "enter", "h9", NULL});
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "no host named h9"));
  free(o.text);
  o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "exit", "h1", NULL});
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "host h1 is not in maintenance"));
  free(o.text);
  o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "enter", "h1", "--abort", NULL});
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "no drain of host h1 is in progress"));
  free(o.text);
  /* With nothing to move, enter goes straight to Maintenance; a second enter is refused. */
  o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "enter", "h1", "--json", NULL});
  assert_int_equal(o.status, 0);
  assert_non_null(strstr(o.text, "{\"result\":\"ok\",\"message\":\"host h1 is in maintenance"));
  free(o.text);
  o = mh_hpvmhost(f, h1, (char *[]){"hpvmhost", "maintenance", "enter", "h1", NULL});
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "already in maintenance"));
  free(o.text);
  /* It lasts across a restart of hpvmd. */
  ht_hpvmd_stop(h1, SIGTERM);
  ht_hpvmd_start(h1);
  assert_true(mh_wait_host_state(&f->h[1], "h1", "Maintenance"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_drain_moves_every_guest_and_exit_returns_to_service, setup, teardown),
      cmocka_unit_test_setup_teardown(test_abort_leaves_the_host_up, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_guest_that_fits_nowhere_keeps_the_host_draining, setup, teardown),
      cmocka_unit_test_setup_teardown(test_policy_stop_rehomes_stopped_guests_and_exit_return_brings_them_back, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_online_migration_disabled_is_enforced, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel_typed_on_another_host, setup, teardown),
      cmocka_unit_test_setup_teardown(test_exit_return_migrates_running_guests_back, setup, teardown),
      cmocka_unit_test_setup_teardown(test_exit_return_lists_a_guest_that_cannot_come_back, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
