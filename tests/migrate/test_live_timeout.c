/* test_live_timeout.c — HPVM's phase timeouts (hpvmmigrate -x migrate_*_phase_timeout=S)
 * bound their phase when the target stops answering: two real hpvmd hosts on loopback, hpvmk
 * running memverify + heartbeat + diskverify on a shared disk.
 *
 *   case                                                   the source must say
 *   init: the target address is a blackhole (SYNs dropped) "init phase timed out after 2 s:
 *                                                            cannot connect to ...: no answer"
 *   init: a listener that accepts and never speaks         "init phase timed out after 2 s:"
 *   copy: the target hpvmapp stalls (SIGSTOP) as the copy   "copy phase timed out after 3 s: no
 *     starts; the sender blocks on a full socket            data acknowledged by host hostb"
 *   frozen: the target hpvmapp stalls before the last       "frozen phase timed out after 3 s:
 *     pages, which are more than the sockets hold           the target did not acknowledge"
 *
 * In each case hpvmmigrate fails with that text well before the channels' own 30 s stall
 * timeout (the bound is the phase timeout plus 10 s, from the moment the phase was seen), and
 * the guest runs on at the source under its lease, booted once, every workload PASS at a
 * graceful stop; a frozen-phase timeout notes the abort in the lease before the guest resumes.
 * The stalled target is a stopped process (its kernel still takes bytes until the socket
 * buffers fill, as a peer behind a cut link), continued once hpvmmigrate returned; the source
 * is held at the start of the phase by a fault point (HPVM_TEST_FAULT) so the stall begins
 * there. */
#include "live_test.h"

#define VM "tmo"
#define WORK "memverify size=16M heartbeat diskverify blocks=32 passes=0"
#define A 0
#define B 1
#define BOUND_MS 10000   /* beyond the phase timeout: rollback, the abort note, slow hosts */

/* ---- Helpers ---------------------------------------------------------------------------------- */

static int setup(void **state) {
  *state = two_new();   /* each case starts its hosts, with its fault points */
  return 0;
}

static void start_hosts(two *t, const char *fault_a) {
  host_start(t, A, fault_a);
  host_start(t, B, NULL);
}

static void start_guest(two *t, uint64_t mem, const char *work) {
  char msg[1200];
  ht_env *e = &t->h[A];
  assert_int_equal(create_vm(e, VM, mem, 2, work, t->disk, msg, sizeof msg), 0);
  int rc = ht_start(e, VM, msg, sizeof msg);
  if (rc) fprintf(stderr, "start: %s\n", msg);
  assert_int_equal(rc, 0);
  assert_true(console_wait(e, VM, 0, "memverify: cpu", 20000));
}

static pid_t migrate_bg(two *t, char *file, size_t len, char **args) {
  char *argv[24] = {"hpvmmigrate", "-P", VM, "-o", "-v"};
  int n = 5;
  for (int i = 0; args[i] && n < 23; i++) argv[n++] = args[i];
  argv[n] = NULL;
  snprintf(file, len, "%s/migrate-%llu.out", t->dir, (unsigned long long)ht_ms());
  return spawn_cmd(&t->h[A], file, argv);
}

/* Wait until the source's hpvmd shows the migration in `phase` ("migrating to host hostb:
 * copy round 0, ..."); the time it was seen. */
static uint64_t wait_phase(two *t, const char *phase, pid_t mig) {
  char want[100], reason[600] = "";
  snprintf(want, sizeof want, "migrating to host hostb: %s", phase);
  uint64_t end = ht_ms() + 30000;
  while (ht_ms() < end && waitpid(mig, NULL, WNOHANG) == 0) {
    if (ht_state(&t->h[A], VM, NULL, reason, sizeof reason) == ON && strstr(reason, want)) return ht_ms();
    usleep(5000);
  }
  dump(t);
  fail_msg("the migration did not reach its %s phase (last: '%s')", phase, reason);
  return 0;
}

/* The target's hpvmapp --incoming for the guest. */
static int incoming_pid(two *t) {
  DIR *d = opendir("/proc");
  struct dirent *de;
  int found = 0;
  while (d && !found && (de = readdir(d))) {
    if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
    char path[300], buf[8192];
    snprintf(path, sizeof path, "/proc/%s/cmdline", de->d_name);
    int fd = open(path, O_RDONLY);
    ssize_t len = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (len <= 0) continue;
    buf[len] = 0;
    bool incoming = false, named = false, ours = false;
    for (char *p = buf; p < buf + len; p += strlen(p) + 1) {
      if (!strcmp(p, "--incoming")) incoming = true;
      if (!strcmp(p, "--name") && p + strlen(p) + 1 < buf + len && !strcmp(p + strlen(p) + 1, VM)) named = true;
      if (!strncmp(p, t->dir, strlen(t->dir))) ours = true;
    }
    if (incoming && named && ours) found = atoi(de->d_name);
  }
  if (d) closedir(d);
  return found;
}

/* Stop the target's hpvmapp where it is: it reads nothing more, its kernel buffers what comes. */
static int stall_target(two *t) {
  int pid = incoming_pid(t);
  if (!pid) {
    dump(t);
    fail_msg("no hpvmapp --incoming on hostb");
  }
  assert_int_equal(kill(pid, SIGSTOP), 0);
  return pid;
}

/* hpvmmigrate must end within bound_ms of `since`; the stalled target goes on afterwards
 * (and when the bound passed, before the test fails). */
static out finish_within(pid_t mig, const char *file, uint64_t since, uint64_t bound_ms, int stalled, uint64_t *took) {
  int st;
  while (waitpid(mig, &st, WNOHANG) == 0) {
    if (ht_ms() - since > bound_ms) {
      if (stalled) kill(stalled, SIGCONT);
      out o = wait_cmd(mig, file);
      fail_msg("hpvmmigrate did not end within %llu ms (it took %llu ms):\n%s", (unsigned long long)bound_ms,
               (unsigned long long)(ht_ms() - since), o.text);
    }
    usleep(20000);
  }
  *took = ht_ms() - since;
  if (stalled) kill(stalled, SIGCONT);
  out o = {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), ht_read_file(file)};
  if (!o.text) o.text = strdup("");
  printf("hpvmmigrate exited %d after %llu ms:\n%s", o.status, (unsigned long long)*took, o.text);
  return o;
}

static void assert_says(out *o, const char *what) {
  if (!strstr(o->text, what)) fail_msg("hpvmmigrate's output lacks '%s':\n%s", what, o->text);
}

/* The guest runs on the source only: one hpvmapp, On there under a lease naming it. */
static void assert_stays_on_source(two *t) {
  uint64_t end = ht_ms() + 15000;
  unsigned n = 0;
  int st = 0, other = 0;
  sto_lease l = {0};
  for (;;) {
    n = apps_of(t, VM, NULL);
    st = ht_state(&t->h[A], VM, NULL, NULL, 0);
    other = ht_state(&t->h[B], VM, NULL, NULL, 0);
    if (n == 1 && st == ON && other != ON && other != INCOMING && lease_of(t, VM, &l) == 0 &&
        !strcmp(l.owner, t->h[A].name))
      return;
    if (ht_ms() > end) break;
    usleep(20000);
  }
  dump(t);
  fail_msg("%s did not stay on hosta alone: %u hpvmapps, state %d there, %d on hostb, lease owner '%s'", VM, n, st,
           other, l.owner);
}

/* New heartbeats, then a graceful stop: every workload passes, it booted once. */
static void assert_passes(two *t) {
  ht_env *e = &t->h[A];
  char msg[1200];
  size_t mark = console_len(e, VM);
  assert_true(console_wait(e, VM, mark, "HB ", 5000));
  assert_int_equal(ht_stop(e, VM, HPVM__STOP_MODE__STOP_MODE_GRACEFUL, 30000, msg, sizeof msg), 0);
  assert_true(console_wait(e, VM, mark, "PASS shutdown", 5000));
  char *c = console_of(e, VM);
  assert_non_null(strstr(c + mark, "PASS memverify"));
  assert_non_null(strstr(c + mark, "PASS heartbeat"));
  assert_non_null(strstr(c + mark, "PASS diskverify"));
  assert_null(strstr(c, "FAIL"));
  unsigned boots = 0;
  for (const char *p = c; (p = strstr(p, "hpvmk: IA-64 guest kernel:")); p++) boots++;
  assert_int_equal(boots, 1);
  free(c);
}

/* A TCP listener on loopback that never accepts: with a backlog of 0 and its queue filled, a
 * connection to it gets no answer at all (SYNs dropped, as by a firewall); with a backlog, it
 * connects and then hears nothing. */
static int listener(int backlog, int *port, int *fill, unsigned nfill) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(s, backlog), 0);
  assert_int_equal(getsockname(s, (struct sockaddr *)&a, &l), 0);
  *port = ntohs(a.sin_port);
  for (unsigned i = 0; i < nfill; i++) {
    fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (connect(fill[i], (struct sockaddr *)&a, sizeof a) && errno != EINPROGRESS) fail_msg("connect: %s", strerror(errno));
  }
  usleep(100000);   /* the queue fills */
  return s;
}

static out migrate_init_to(two *t, int port, uint64_t *took) {
  char target[64], file[400];
  snprintf(target, sizeof target, "127.0.0.1:%d", port);
  char *args[] = {"-h", target, "-x", "migrate_init_phase_timeout=2", NULL};
  uint64_t t0 = ht_ms();
  pid_t mig = migrate_bg(t, file, sizeof file, args);
  return finish_within(mig, file, t0, 2000 + BOUND_MS, 0, took);
}

/* ---- Cases ------------------------------------------------------------------------------------ */

static void test_init_phase_timeout(void **state) {
  two *t = *state;
  start_hosts(t, NULL);
  start_guest(t, 64ull << 20, WORK);
  int port, fill[3];
  int bh = listener(0, &port, fill, 3);
  uint64_t took;
  out o = migrate_init_to(t, port, &took);
  assert_int_equal(o.status, 1);
  char want[200];
  snprintf(want, sizeof want, "init phase timed out after 2 s: cannot connect to 127.0.0.1:%d: no answer", port);
  assert_says(&o, want);
  out_free(&o);
  for (unsigned i = 0; i < 3; i++) close(fill[i]);
  close(bh);
  /* A peer that accepts and never speaks: the handshake waits for what is left of the phase. */
  int quiet = listener(8, &port, fill, 0);
  o = migrate_init_to(t, port, &took);
  assert_int_equal(o.status, 1);
  assert_says(&o, "init phase timed out after 2 s: ");
  assert_says(&o, "sent no");
  out_free(&o);
  close(quiet);
  assert_stays_on_source(t);
  assert_passes(t);
}

static void test_copy_phase_timeout_when_the_target_stalls(void **state) {
  two *t = *state;
  start_hosts(t, "app-src-copy:sleep1000");   /* held as the copy starts: the stall begins there */
  start_guest(t, 64ull << 20, WORK);
  /* One channel and --downtime 1: round 0 (16 MiB and more) cannot fit in the socket
   * buffers, and the rounds never converge before the target stalls. */
  char file[400];
  char *args[] = {"-h", "hostb", "--channels", "1", "--downtime", "1", "--compress", "none",
                  "-x", "migrate_copy_phase_timeout=3", NULL};
  pid_t mig = migrate_bg(t, file, sizeof file, args);
  uint64_t seen = wait_phase(t, "copy", mig);
  int stalled = stall_target(t);
  uint64_t took;
  out o = finish_within(mig, file, seen, 3000 + BOUND_MS, stalled, &took);
  assert_int_equal(o.status, 1);
  assert_says(&o, "copy phase timed out after 3 s: no data acknowledged by host hostb for ");
  assert_says(&o, "the link or the target is down");
  assert_null(strstr(o.text, "faster than the link"));
  out_free(&o);
  assert_stays_on_source(t);
  assert_true(ht_wait_state(&t->h[B], VM, ELSEWHERE, 10000));
  assert_passes(t);
}

static void test_frozen_phase_timeout_when_the_target_stalls(void **state) {
  two *t = *state;
  /* Held at the start of the quiesce phase (the vCPUs still run) while the target stalls;
   * memstress has dirtied 80 MiB by then, which the frozen phase must send as data (round 0
   * deferred it, nothing is cached for deltas): more than the socket buffers hold. */
  start_hosts(t, "app-src-quiesce:sleep2000");
  start_guest(t, 128ull << 20, WORK " memstress wss=80M rate=200");
  char file[400];
  char *args[] = {"-h", "hostb", "--channels", "1", "--downtime", "600000", "--compress", "none",
                  "-x", "migrate_frozen_phase_timeout=3", NULL};
  pid_t mig = migrate_bg(t, file, sizeof file, args);
  uint64_t seen = wait_phase(t, "quiesce", mig);
  int stalled = stall_target(t);
  uint64_t took;
  out o = finish_within(mig, file, seen, 2000 + 3000 + BOUND_MS, stalled, &took);
  assert_int_equal(o.status, 1);
  assert_says(&o, "frozen phase timed out after 3 s: the target did not acknowledge the state (no data acknowledged "
                  "by host hostb for ");
  out_free(&o);
  assert_stays_on_source(t);
  /* The target might have held the state: the abort was noted before the guest resumed. */
  sto_lease l;
  assert_int_equal(lease_of(t, VM, &l), 0);
  assert_non_null(strstr(l.note, "migrate-aborted "));
  assert_true(ht_wait_state(&t->h[B], VM, ELSEWHERE, 10000));
  assert_passes(t);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_init_phase_timeout, setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_copy_phase_timeout_when_the_target_stalls, setup, two_teardown),
    cmocka_unit_test_setup_teardown(test_frozen_phase_timeout_when_the_target_stalls, setup, two_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
