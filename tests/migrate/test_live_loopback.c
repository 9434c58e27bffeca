/* test_live_loopback.c — live migration end to end between two real hpvmd hosts on loopback:
 * one shared directory, two state directories, hosta and hostb listening on 127.0.0.1, the
 * hpvmmigrate command as a user runs it, hpvmk running memverify + heartbeat + diskverify on a
 * disk in a directory both hosts see.
 *
 *   - back and forth six times (HPVM_LIVE_ROUNDS=n: n times and nothing else; ctest's
 *     migrate_test_live_loopback_50, label long, runs it 50 times): each migration reports
 *     success, the console goes on on the target (new heartbeats, new memverify passes; the
 *     beat before and the beat after are consecutive and no more guest time apart than a
 *     period, the reported downtime and a margin), both
 *     hosts agree where it runs, exactly one hpvmapp of the guest exists, nothing FAILs; a
 *     graceful stop at the end has every workload PASS
 *   - -s refusals: a guest of that name already running on the target (a host of another
 *     shared directory that trusts this one), a backing file the target cannot see, one it
 *     sees but that is not the same storage (a same-named copy), memory the target cannot
 *     give; and -s accepting a good target
 *   - --cancel during the copy phase (bandwidth-limited): the target shows the guest as
 *     migrating in meanwhile, then the guest runs on at the source, nothing left on the target
 *   - the target's hpvmd not running: one clear error, the guest runs on
 *   - bad options: one line, exit 2 */
#include <sched.h>

#include "live_test.h"

#define VM "livemig"
#define WORK "memverify size=32M heartbeat diskverify blocks=32 passes=0"

/* An hpvmconsole viewer attached to host e's hpvmd sees needle in what the guest prints. */
static bool viewer_sees(ht_env *e, const char *name, const char *needle) {
  Hpvm__ConsoleAttachRequest a = HPVM__CONSOLE_ATTACH_REQUEST__INIT;
  a.name = (char *)name;
  a.read_only = true;
  int fd;
  Hpvm__Response *r = NULL;
  int rc = hpvmd_console_attach(e->sock, &a, &fd, &r);
  hpvmd_response_free(r);
  if (rc) return false;
  char seen[8192] = "";
  size_t n = 0;
  bool found = false;
  uint64_t end = ht_ms() + 5000;
  while (!found && ht_ms() < end) {
    Hpvm__ConsoleData *d = NULL;
    if (hpvmd_console_recv(fd, &d)) break;
    size_t k = d->data.len < sizeof seen - 1 - n ? d->data.len : sizeof seen - 1 - n;
    memcpy(seen + n, d->data.data, k);
    n += k;
    seen[n] = 0;
    found = strstr(seen, needle) != NULL;
    protobuf_c_message_free_unpacked(&d->base, NULL);
    if (n == sizeof seen - 1) n = 0;
  }
  close(fd);
  return found;
}

/* ---- Guest time across a migration --------------------------------------------------------------- */

#define HB_PERIOD_MS 100.0      /* hpvmk's heartbeat: a beat every 100 ms of ar.itc */
#define HB_MARGIN_MS 200.0      /* scheduling of the vCPU threads on a loaded host */

typedef struct beat {
  unsigned seq;
  unsigned long long itc;       /* ar.itc, ns */
  size_t at;                    /* offset of the line in the text */
} beat;

/* The "HB <seq> <itc>" lines of text, in order (at most max). */
static size_t beats_of(const char *text, beat *out, size_t max) {
  size_t n = 0;
  for (const char *p = text; n < max && (p = strstr(p, "HB ")); p += 3) {
    if (p != text && p[-1] != '\n') continue;
    beat b = {.at = (size_t)(p - text)};
    if (sscanf(p, "HB %u %llu", &b.seq, &b.itc) == 2) out[n++] = b;
  }
  return n;
}

/* What the guest printed from before the migration on the source, then on the target, is one
 * stream: the last beat on the source and the first on the target are consecutive, and the
 * guest time between them is at most a period plus the downtime hpvmmigrate reported plus a
 * margin (ar.itc goes on from the source's value: no jump beyond the pause). */
static void assert_heartbeat_across(ht_env *src, size_t mark_src, ht_env *dst, size_t mark_dst, double downtime_ms) {
  char *a = console_of(src, VM), *b = console_of(dst, VM);
  size_t la = strlen(a) > mark_src ? strlen(a) - mark_src : 0, lb = strlen(b) > mark_dst ? strlen(b) - mark_dst : 0;
  char *text = malloc(la + lb + 1);
  memcpy(text, a + (strlen(a) > mark_src ? mark_src : strlen(a)), la);
  memcpy(text + la, b + (strlen(b) > mark_dst ? mark_dst : strlen(b)), lb);
  text[la + lb] = 0;
  static beat beats[1 << 16];
  size_t n = beats_of(text, beats, 1 << 16), last = n;
  for (size_t i = 0; i < n; i++)
    if (beats[i].at < la) last = i;
  if (last >= n || last + 1 >= n) fail_msg("no heartbeat on %s before and on %s after the migration", src->name, dst->name);
  beat l = beats[last], f = beats[last + 1];
  double gap = (double)(f.itc - l.itc) / 1e6;
  printf("  heartbeat %u on %s, %u on %s: %.1f ms of guest time apart (downtime %.1f ms)\n", l.seq, src->name, f.seq,
         dst->name, gap, downtime_ms);
  assert_int_equal(f.seq, l.seq + 1);
  assert_true(f.itc > l.itc);
  assert_true(gap <= HB_PERIOD_MS + downtime_ms + HB_MARGIN_MS);
  free(text), free(a), free(b);
}

static double reported_downtime_ms(const char *text) {
  const char *p = strstr(text, "s, downtime ");   /* the summary's, not a progress line's */
  double ms = -1;
  if (!p || sscanf(p, "s, downtime %lf ms", &ms) != 1) fail_msg("no downtime in:\n%s", text);
  return ms;
}

/* ---- Tests -------------------------------------------------------------------------------------- */

static void start_guest(two *t) {
  char msg[1200];
  ht_env *a = &t->h[0];
  assert_int_equal(create_vm(a, VM, 128ull << 20, 2, WORK, t->disk, msg, sizeof msg), 0);
  assert_int_equal(ht_start(a, VM, msg, sizeof msg), 0);
  assert_true(console_wait(a, VM, 0, "memverify: cpu", 20000));
}

static void test_live_migration_back_and_forth(void **state) {
  two *t = *state;
  const char *env = getenv("HPVM_LIVE_ROUNDS");
  unsigned rounds = env && atoi(env) > 0 ? (unsigned)atoi(env) & ~1u : 6;   /* even: it ends on hosta */
  start_guest(t);
  int pid = 0;
  assert_int_equal(apps_of(t, VM, &pid), 1);
  for (unsigned i = 0; i < rounds; i++) {
    ht_env *src = &t->h[i % 2], *dst = &t->h[(i + 1) % 2];
    size_t mark = console_len(dst, VM);
    int old_pid = pid;
    out o = migrate_cmd(t, src, "-P", VM, "-h", dst->name, "-o", (char *)NULL);
    if (o.status) dump(t);
    assert_int_equal(o.status, 0);
    char want[200];
    snprintf(want, sizeof want, "VM %s migrated live from host %s to host %s", VM, src->name, dst->name);
    if (!strstr(o.text, want)) fprintf(stderr, "%s", o.text);
    assert_non_null(strstr(o.text, want));
    assert_non_null(strstr(o.text, "downtime"));
    double downtime_ms = reported_downtime_ms(o.text);
    out_free(&o);
    /* Both hosts agree: it runs on dst, under its lease; the source shows it elsewhere. */
    int dpid = 0;
    assert_int_equal(ht_state(dst, VM, &dpid, NULL, 0), ON);
    assert_true(dpid > 0 && dpid != old_pid && ht_pid_alive(dpid));
    char reason[600];
    assert_true(ht_wait_state(src, VM, ELSEWHERE, 5000));
    /* Only one hpvmapp of the guest exists: the source's is gone. */
    uint64_t end = ht_ms() + 5000;
    while (ht_pid_alive(old_pid) && ht_ms() < end) usleep(10000);
    assert_false(ht_pid_alive(old_pid));
    assert_int_equal(apps_of(t, VM, &pid), 1);
    assert_int_equal(pid, dpid);
    ht_state(src, VM, NULL, reason, sizeof reason);
    snprintf(want, sizeof want, "migrated to host %s", dst->name);
    assert_string_equal(reason, want);
    /* The guest goes on over there: new heartbeats, new verified memory and disk passes. */
    assert_true(console_wait(dst, VM, mark, "HB ", 5000));
    /* The source's whole log: a fast migration may fall between two of its beats. */
    assert_heartbeat_across(src, 0, dst, mark, downtime_ms);
    if (i == 0) assert_true(viewer_sees(dst, VM, "HB "));   /* hpvmconsole on the target */
    assert_true(console_wait(dst, VM, mark, " verified", 10000));
    assert_true(console_wait(dst, VM, mark, "diskverify: pass", 10000));
    for (unsigned h = 0; h < 2; h++) {
      char *c = console_of(&t->h[h], VM);
      if (strstr(c, "FAIL")) fprintf(stderr, "%s", strstr(c, "FAIL"));
      assert_null(strstr(c, "FAIL"));
      free(c);
    }
  }
  /* A graceful stop where it ends: every workload passes. */
  ht_env *last = &t->h[0];
  char msg[1200];
  size_t mark = console_len(last, VM);
  assert_int_equal(ht_stop(last, VM, HPVM__STOP_MODE__STOP_MODE_GRACEFUL, 30000, msg, sizeof msg), 0);
  assert_true(console_wait(last, VM, mark, "PASS shutdown", 1000));
  char *c = console_of(last, VM);
  assert_non_null(strstr(c + mark, "PASS memverify"));
  assert_non_null(strstr(c + mark, "PASS heartbeat"));
  assert_non_null(strstr(c + mark, "PASS diskverify"));
  assert_null(strstr(c, "FAIL"));
  free(c);
}

static void test_check_only_accepts_and_changes_nothing(void **state) {
  two *t = *state;
  start_guest(t);
  out o = migrate_cmd(t, &t->h[0], "-P", VM, "-h", "hostb", "-o", "-s", (char *)NULL);
  if (o.status) dump(t), fprintf(stderr, "%s", o.text);
  assert_int_equal(o.status, 0);
  assert_non_null(strstr(o.text, "can migrate live to host hostb"));
  out_free(&o);
  assert_int_equal(ht_state(&t->h[0], VM, NULL, NULL, 0), ON);
  assert_int_equal(apps_of(t, VM, NULL), 1);
  /* The target as ADDR:PORT works as well. */
  o = migrate_cmd(t, &t->h[0], "-P", VM, "-h", t->h[1].listen, "-o", "-s", "--json", (char *)NULL);
  assert_int_equal(o.status, 0);
  assert_non_null(strstr(o.text, "\"target\":\"hostb\""));
  assert_non_null(strstr(o.text, "\"check_only\":true"));
  out_free(&o);
}

/* hostb does not see the disks' directory at all, then sees a same-named copy there. */
static void test_check_refuses_storage_the_target_does_not_share(void **state) {
  two *t = *state;
  start_guest(t);
  ht_hpvmd_stop(&t->h[1], SIGTERM);
  snprintf(t->h[1].hide, sizeof t->h[1].hide, "%s", t->disks);
  ht_hpvmd_start(&t->h[1]);
  out o = migrate_cmd(t, &t->h[0], "-P", VM, "-h", "hostb", "-o", "-s", (char *)NULL);
  assert_int_equal(o.status, 1);
  /* One error line, naming the file and the host. */
  const char *err = strstr(o.text, "hpvmmigrate: ERROR (" VM "): ");
  assert_non_null(err);
  assert_null(strstr(err + 20, "ERROR"));
  char line[2000];
  snprintf(line, sizeof line, "%.*s", (int)(strchr(err, '\n') - err), err);
  assert_string_equal(strchr(err, '\n'), "\n");
  assert_non_null(strstr(line, "on host hostb"));
  assert_non_null(strstr(line, "does not exist"));
  assert_non_null(strstr(line, t->disk));
  out_free(&o);
  /* A file of the same name and size in hostb's private view: not the same storage. */
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "nsenter -m -t %d truncate -s 16M %s", (int)t->h[1].hpvmd, t->disk);
  assert_int_equal(system(cmd), 0);
  o = migrate_cmd(t, &t->h[0], "-P", VM, "-h", "hostb", "-o", "-s", (char *)NULL);
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "not shared storage"));
  out_free(&o);
  /* A real migration is refused the same way, and the guest runs on. */
  o = migrate_cmd(t, &t->h[0], "-P", VM, "-h", "hostb", "-o", (char *)NULL);
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "not shared storage"));
  out_free(&o);
  assert_int_equal(ht_state(&t->h[0], VM, NULL, NULL, 0), ON);
  assert_int_equal(apps_of(t, VM, NULL), 1);
  /* The proof's token files are gone. */
  char *s = NULL;
  DIR *d = opendir(t->disks);
  struct dirent *de;
  while (d && (de = readdir(d)))
    if (!strncmp(de->d_name, ".hpvm-migrate-", 14)) s = de->d_name;
  assert_null(s);
  closedir(d);
}

static void test_check_refuses_memory_the_target_cannot_give(void **state) {
  two *t = *state;
  char msg[1200];
  uint64_t host = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
  uint64_t big = (host / 10 * 6) & ~((1ull << 20) - 1);   /* 60 %: one fits, two do not */
  /* Idle guests: their memory is reserved, not touched. */
  assert_int_equal(create_vm(&t->h[1], "bigb", big, 1, "idle", NULL, msg, sizeof msg), 0);
  assert_int_equal(ht_start(&t->h[1], "bigb", msg, sizeof msg), 0);
  assert_int_equal(create_vm(&t->h[0], "biga", big, 1, "idle", NULL, msg, sizeof msg), 0);
  assert_int_equal(ht_start(&t->h[0], "biga", msg, sizeof msg), 0);
  out o = migrate_cmd(t, &t->h[0], "-P", "biga", "-h", "hostb", "-o", "-s", (char *)NULL);
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "not enough memory on host hostb"));
  out_free(&o);
  assert_int_equal(ht_state(&t->h[0], "biga", NULL, NULL, 0), ON);
}

/* A host of another shared directory runs a guest of that name; it trusts hosta (keys and
 * cluster secret copied over), so only its own check can refuse. */
static void test_check_refuses_a_name_running_on_the_target(void **state) {
  two *t = *state;
  char msg[1200], cmd[2000];
  start_guest(t);
  ht_env *c = &t->h[1];
  ht_hpvmd_stop(c, SIGTERM);
  char other[300];
  snprintf(other, sizeof other, "%s/other", t->dir);
  snprintf(cmd, sizeof cmd, "mkdir -p %s/hosts/hosta && cp -a %s/cluster %s/ && cp %s/hosts/hosta/key %s/hosts/hosta/",
           other, t->h[0].shared, other, t->h[0].shared, other);
  assert_int_equal(system(cmd), 0);
  snprintf(c->shared, sizeof c->shared, "%s", other);
  snprintf(c->name, sizeof c->name, "hostc");
  snprintf(c->state, sizeof c->state, "%s/state-c", t->dir);
  snprintf(c->sock, sizeof c->sock, "%s/hpvmd.sock", c->state);
  ht_hpvmd_start(c);
  snprintf(cmd, sizeof cmd, "mkdir -p %s/hosts/hostc && cp %s/hosts/hostc/key %s/hosts/hostc/", t->h[0].shared, other,
           t->h[0].shared);
  assert_int_equal(system(cmd), 0);
  assert_int_equal(create_vm(c, VM, 64ull << 20, 1, "idle", NULL, msg, sizeof msg), 0);
  assert_int_equal(ht_start(c, VM, msg, sizeof msg), 0);
  out o = migrate_cmd(t, &t->h[0], "-P", VM, "-h", c->listen, "-o", "-s", (char *)NULL);
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "already running on host hostc"));
  out_free(&o);
}

static void test_cancel_in_the_copy_phase_leaves_the_guest_on_the_source(void **state) {
  two *t = *state;
  start_guest(t);
  char file[400];
  snprintf(file, sizeof file, "%s/bg.out", t->dir);
  char *argv[] = {"hpvmmigrate", "-P", VM, "-h", "hostb", "-o", "--bandwidth", "2", "-v", NULL};
  pid_t bg = spawn_cmd(&t->h[0], file, argv);
  /* Copying: the source says where it goes, the target that it comes in. */
  char reason[600] = "";
  uint64_t end = ht_ms() + 15000;
  while (ht_ms() < end && !(ht_state(&t->h[0], VM, NULL, reason, sizeof reason) == ON && strstr(reason, "copy")))
    usleep(20000);
  assert_non_null(strstr(reason, "migrating to host hostb: copy round 0"));
  assert_int_equal(ht_state(&t->h[1], VM, NULL, reason, sizeof reason), INCOMING);
  assert_non_null(strstr(reason, "incoming from host hosta"));
  assert_int_equal(apps_of(t, VM, NULL), 2);   /* the source's, and the target's --incoming */
  out o = migrate_cmd(t, &t->h[0], "-P", VM, "--cancel", (char *)NULL);
  assert_int_equal(o.status, 0);
  assert_non_null(strstr(o.text, "cancel requested"));
  out_free(&o);
  o = wait_cmd(bg, file);
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "ERROR (" VM "): "));
  assert_non_null(strstr(o.text, "cancel"));
  out_free(&o);
  /* The guest runs on at the source; the target forgot it. */
  assert_int_equal(ht_state(&t->h[0], VM, NULL, reason, sizeof reason), ON);
  assert_true(ht_wait_state(&t->h[1], VM, ELSEWHERE, 5000));
  end = ht_ms() + 5000;
  while (apps_of(t, VM, NULL) != 1 && ht_ms() < end) usleep(20000);
  assert_int_equal(apps_of(t, VM, NULL), 1);
  size_t mark = console_len(&t->h[0], VM);
  assert_true(console_wait(&t->h[0], VM, mark, "HB ", 5000));
  char *c = console_of(&t->h[0], VM);
  assert_null(strstr(c, "FAIL"));
  free(c);
  /* Nothing to cancel any more. */
  o = migrate_cmd(t, &t->h[0], "-P", VM, "--cancel", (char *)NULL);
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "no migration of VM " VM " is in progress"));
  out_free(&o);
}

static void test_target_hpvmd_down_is_a_clear_error(void **state) {
  two *t = *state;
  start_guest(t);
  ht_hpvmd_stop(&t->h[1], SIGKILL);   /* its liveness record still says it is up */
  out o = migrate_cmd(t, &t->h[0], "-P", VM, "-h", "hostb", "-o", (char *)NULL);
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "cannot connect to"));
  assert_non_null(strstr(o.text, "is hpvmd running there"));
  out_free(&o);
  assert_int_equal(ht_state(&t->h[0], VM, NULL, NULL, 0), ON);
  size_t mark = console_len(&t->h[0], VM);
  assert_true(console_wait(&t->h[0], VM, mark, "HB ", 5000));
  /* A host that left the cluster (its hpvmd stopped cleanly) is named as such. */
  ht_hpvmd_start(&t->h[1]);
  ht_hpvmd_stop(&t->h[1], SIGTERM);
  o = migrate_cmd(t, &t->h[0], "-P", VM, "-h", "hostb", "-o", (char *)NULL);
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "host hostb has left the cluster"));
  out_free(&o);
}

static void test_bad_options_are_one_line_and_exit_2(void **state) {
  two *t = *state;
  static const char *const bad[][6] = {
    {"-P", VM, "-h", "hostb", "--channels", "17"}, {"-P", VM, "-h", "hostb", "--compress", "zip"},
    {"-P", VM, "-h", "hostb", "-x", "migrate_warp_timeout=3"}, {"-P", VM, "-o", NULL},
    {"-h", "hostb", "-o", NULL}, {"-P", VM, "-h", "hostb", "--frobnicate", NULL},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    out o = migrate_cmd(t, &t->h[0], bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4], bad[i][5], (char *)NULL);
    assert_int_equal(o.status, 2);
    assert_non_null(strchr(o.text, '\n'));
    assert_int_equal(strchr(o.text, '\n')[1], 0);
    out_free(&o);
  }
  /* Known refusals from hpvmd: no such VM; a VM that is not running; the host itself. */
  out o = migrate_cmd(t, &t->h[0], "-P", "nosuch", "-h", "hostb", "-o", (char *)NULL);
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "no VM named nosuch"));
  out_free(&o);
  char msg[600];
  assert_int_equal(create_vm(&t->h[0], "offvm", 32ull << 20, 1, "idle", NULL, msg, sizeof msg), 0);
  o = migrate_cmd(t, &t->h[0], "-P", "offvm", "-h", "hostb", "-o", (char *)NULL);
  assert_int_equal(o.status, 1);
  assert_non_null(strstr(o.text, "only a running guest migrates live"));
  out_free(&o);
}

static bool can_hide(void) {
  pid_t p = fork();
  if (p == 0) _exit(unshare(CLONE_NEWNS) ? 1 : 0);
  int st;
  waitpid(p, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 && system("nsenter --version >/dev/null 2>&1") == 0;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_live_migration_back_and_forth, two_setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_check_only_accepts_and_changes_nothing, two_setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_check_refuses_memory_the_target_cannot_give, two_setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_check_refuses_a_name_running_on_the_target, two_setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_cancel_in_the_copy_phase_leaves_the_guest_on_the_source, two_setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_target_hpvmd_down_is_a_clear_error, two_setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_bad_options_are_one_line_and_exit_2, two_setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_check_refuses_storage_the_target_does_not_share, two_setup, two_teardown),
  };
  size_t n = sizeof tests / sizeof tests[0];
  if (getenv("HPVM_LIVE_ROUNDS")) n = 1;   /* the long run: back and forth only */
  else if (!can_hide()) {
    printf("SKIP test_check_refuses_storage_the_target_does_not_share: needs root (a private mount namespace) "
           "and nsenter\n");
    n--;
  }
  return _cmocka_run_group_tests("test_live_loopback", tests, n, NULL, NULL) ? 1 : 0;
}
