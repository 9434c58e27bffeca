/* test_netns_rolling.c — hpvmhost rolling across three hosts (network namespaces behind a
 * bridge; hpvmd with a 3 s lease and liveness timeout and a 100 ms gossip probe) that run six
 * guests, two per host, each with memverify + heartbeat:
 *
 *   - the rolling, typed on hosta, with a command (a shell script, run in hosta's namespace as
 *     hpvmhost runs it: with HPVM_ROLLING_HOST=HOST) that proves where it stands before it
 *     upgrades: HOST's own hpvmd says HOST is in Maintenance, the cluster-wide hpvmstatus lists
 *     no guest on HOST and HOST's namespace holds no hpvmapp; then it restarts HOST's hpvmd as
 *     an upgrade would (SIGTERM, a new hpvmd in the namespace) and notes HOST in a file. At the
 *     end: the file names hosta, hostb, hostc in that order; every host is Up in every host's
 *     view; each guest runs on exactly one host under a lease naming it, booted once (none was
 *     stopped or restarted), beats on, and passes memverify and heartbeat at a graceful stop;
 *     every heartbeat number is on exactly one console (never lost, never printed by two
 *     copies); /proc, polled every 50 ms while the rolling ran, never showed more than two
 *     hpvmapps for a guest (a migration's source and target) nor an hpvmapp the migrations do
 *     not account for; and the command log tells the story in order, host after host: the
 *     drain, the migration of each guest that was there (replayed from the log, the places it
 *     gives are where the guests run at the end; several guests of one host went to both
 *     other hosts), the end of the drain, the command, back in service, maintenance exit;
 *   - a command that fails on hostb: the rolling stops there with one error line naming hostb,
 *     the host not reached and the fix, exit status 1; hosta is Up, hostb in Maintenance (as the
 *     man page says) with its guests gone elsewhere, hostc untouched; every guest runs exactly
 *     once, none stopped; the command log has the failure; maintenance exit brings hostb back.
 *
 * Waits are generous upper bounds (three hosts and six guests share two cores); the only
 * orders checked are the ones the rolling promises. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.pb-c.h"
#include "netns_test.h"

#define HOSTS 3
#define NGUESTS 6
/* Large enough that placement, which takes each host's free memory as gossiped (on one
 * machine: the same MemAvailable, sampled at different times), sends the guests of a drain to
 * both other hosts: after one guest a host has 2 GiB less room. Guest memory is populated
 * lazily (the guests touch ~20 MiB) and migrations skip what was never populated. */
#define MEM_MIB 2048
#define WORKLOADS "memverify heartbeat"
#define GUEST_ARGS "memverify size=4M rate=4 heartbeat"
#define WAIT_MS 30000
#define POLL_MS 50
#define ROLL_WAIT_MS 240000

/* Two guests per host: GUESTS[g] starts on host g / 2. */
static const char *const GUESTS[NGUESTS] = {"ra1", "ra2", "rb1", "rb2", "rc1", "rc2"};

/* ---- The cluster ------------------------------------------------------------------------------ */

static int setup3(void **state) {
  nt_env *e = nt_env_new(HOSTS);
  *state = e;
  snprintf(e->lease_timeout, sizeof e->lease_timeout, "3");
  snprintf(e->gossip_probe_ms, sizeof e->gossip_probe_ms, "100");
  for (unsigned i = 0; i < HOSTS; i++) nt_hpvmd_start(e, i);
  return 0;
}

/* Every host sees host j in state want (waiting for the gossip). */
static void all_see(nt_env *e, unsigned j, const char *want) {
  for (unsigned i = 0; i < HOSTS; i++) {
    char st[32] = "";
    for (uint64_t end = nt_ms() + WAIT_MS; nt_ms() < end; usleep(100000)) {
      nt_host_state(e, i, e->h[j].name, st, sizeof st);
      if (!strcmp(st, want)) break;
    }
    if (strcmp(st, want)) {
      nt_dump_logs(e);
      fail_msg("%s sees host %s as '%s', not %s", e->h[i].name, e->h[j].name, st, want);
    }
  }
}

/* Six guests, two per host, started together; each beating. */
static void start_guests(nt_env *e) {
  for (unsigned i = 0; i < HOSTS; i++) all_see(e, i, "Up");
  for (unsigned g = 0; g < NGUESTS; g++) nt_guest_create(e, g / 2, GUESTS[g], MEM_MIB, 1, GUEST_ARGS, 0);
  for (unsigned g = 0; g < NGUESTS; g++) free(nt_ok(e, g / 2, "hpvmstart -P %s", GUESTS[g]));
  for (unsigned g = 0; g < NGUESTS; g++)
    if (!nt_console_wait(e, g / 2, GUESTS[g], "HB 3 ", 120000))
      fail_msg("%s: no 'HB 3' on %s's console within 120 s", e->h[g / 2].name, GUESTS[g]);
}

/* ---- The command -------------------------------------------------------------------------------- */

static void file_path(const nt_env *e, const char *leaf, char *buf, size_t len) {
  snprintf(buf, len, "%.250s/%s", e->dir, leaf);
}

/* hpvmd's pid of each host where the command finds it (and writes the new one). */
static void write_pids(const nt_env *e) {
  for (unsigned i = 0; i < HOSTS; i++) {
    char path[300];
    snprintf(path, sizeof path, "%.250s/hpvmd-%s.pid", e->dir, e->h[i].name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%d\n", (int)e->h[i].hpvmd);
    fclose(f);
  }
}

/* The rolling's command: checks that HPVM_ROLLING_HOST is in maintenance and empty, notes it
 * in DIR/rolled, then restarts its hpvmd (restart) or fails for host fail_at (NULL: none). */
static void write_command(const nt_env *e, bool restart, const char *fail_at) {
  char path[300], rolled[300];
  file_path(e, "upgrade.sh", path, sizeof path);
  file_path(e, "rolled", rolled, sizeof rolled);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f, "# hpvmhost rolling's command for $HPVM_ROLLING_HOST (test_netns_rolling.c)\n"
             "set -u\n"
             "H=\"$HPVM_ROLLING_HOST\"\n"
             "B=%s\n"
             "case \"$H\" in\n",
          HPVM_BIN_DIR);
  for (unsigned i = 0; i < HOSTS; i++)
    fprintf(f, "%s) NS=%s ST=%s LISTEN=%s LOG=%s ;;\n", e->h[i].name, e->h[i].ns, e->h[i].state, e->h[i].listen,
            e->h[i].log);
  fprintf(f,
          "*) echo \"upgrade.sh: unknown host $H\" >&2; exit 3 ;;\n"
          "esac\n"
          "SOCK=\"$ST/hpvmd.sock\"\n"
          /* HOST's own hpvmd: in maintenance. */
          "STATE=$(HPVMD_SOCKET=\"$SOCK\" \"$B/hpvmhost\" status | awk -v h=\"$H\" "
          "'{n = $1; sub(/\\*$/, \"\", n)} n == h {print $3}')\n"
          "[ \"$STATE\" = Maintenance ] || { echo \"upgrade.sh: $H is '$STATE', not in Maintenance\" >&2; exit 4; }\n"
          /* The cluster-wide list: no guest on HOST (its last column is the host). */
          "ON=$(\"$B/hpvmstatus\" | awk -v h=\"$H\" '$NF == h' | wc -l)\n"
          "[ \"$ON\" = 0 ] || { echo \"upgrade.sh: hpvmstatus lists $ON guest(s) on $H\" >&2; exit 5; }\n"
          /* Its namespace: no hpvmapp. */
          "APPS=0\n"
          "for p in $(ip netns pids \"$NS\"); do\n"
          "  tr '\\0' ' ' 2>/dev/null < /proc/$p/cmdline | grep -q '^[^ ]*hpvmapp ' && APPS=$((APPS + 1))\n"
          "done\n"
          "[ \"$APPS\" = 0 ] || { echo \"upgrade.sh: $APPS hpvmapp(s) run in $H's namespace\" >&2; exit 6; }\n"
          "echo \"$H in maintenance, no guest\" >> %s\n",
          rolled);
  if (fail_at)
    fprintf(f, "[ \"$H\" != %s ] || { echo \"upgrade.sh: the upgrade of $H failed\" >&2; exit 1; }\n", fail_at);
  if (restart)
    fprintf(f,
            "PIDF=%.250s/hpvmd-$H.pid\n"
            "OLD=$(cat \"$PIDF\")\n"
            "kill -TERM \"$OLD\" || exit 7\n"
            "while [ -e /proc/$OLD ] && [ \"$(cut -d' ' -f3 /proc/$OLD/stat)\" != Z ]; do sleep 0.1; done\n"
            "ip netns exec \"$NS\" setsid %s --foreground --shared %s --state-dir \"$ST\" --name \"$H\" "
            "--listen \"$LISTEN\" --hpvmapp %s --lease-timeout %s --gossip-probe-ms %s >> \"$LOG\" 2>&1 < /dev/null &\n"
            "echo $! > \"$PIDF\"\n"
            "until HPVMD_SOCKET=\"$SOCK\" \"$B/hpvmhost\" status > /dev/null 2>&1; do sleep 0.1; done\n"
            "echo \"$H hpvmd $OLD restarted as $(cat \"$PIDF\")\" >> %s\n",
            e->dir, HPVMD, e->shared, HPVMAPP, e->lease_timeout, e->gossip_probe_ms, rolled);
  fclose(f);
}

/* ---- Watching /proc while the rolling runs --------------------------------------------------------- */

#define MAX_PIDS 16

typedef struct guest_watch {
  unsigned most;                /* the most hpvmapps for the guest seen in one poll */
  pid_t pids[MAX_PIDS];         /* every hpvmapp seen for it */
  unsigned npids;
} guest_watch;

typedef struct poll_counts {
  guest_watch *w;
  unsigned now[NGUESTS];
} poll_counts;

static bool count_app(const nt_app *a, void *ctx) {
  poll_counts *c = ctx;
  for (int g = 0; g < NGUESTS; g++) {
    if (strcmp(a->vm, GUESTS[g])) continue;
    c->now[g]++;
    guest_watch *gw = &c->w[g];
    bool known = false;
    for (unsigned k = 0; k < gw->npids; k++) known |= gw->pids[k] == a->pid;
    if (!known && gw->npids < MAX_PIDS) gw->pids[gw->npids++] = a->pid;
  }
  return false;
}

/* One pass over /proc: the hpvmapps of the guests in the hosts' namespaces. */
static void observe(const nt_env *e, guest_watch *w) {
  poll_counts c = {.w = w};
  nt_apps(e, count_app, &c);
  for (unsigned g = 0; g < NGUESTS; g++)
    if (c.now[g] > w[g].most) w[g].most = c.now[g];
}

typedef struct roll_result {
  int status;
  char *out;                    /* hpvmhost's stdout and stderr */
  guest_watch w[NGUESTS];
} roll_result;

/* hpvmhost rolling on hosta in the background, /proc watched until it ends. The hpvmd the
 * command stops are the test's children: reaped here (the command waits for their end). */
static roll_result roll(nt_env *e, const char *extra) {
  char out[300], script[300];
  file_path(e, "rolling.out", out, sizeof out);
  file_path(e, "upgrade.sh", script, sizeof script);
  roll_result r = {.status = -1};
  uint64_t t0 = nt_ms();
  pid_t pid = nt_spawn(e, 0, out, "hpvmhost rolling --command \"sh %s\" %s", script, extra);
  for (uint64_t end = nt_ms() + ROLL_WAIT_MS;; usleep(POLL_MS * 1000)) {
    observe(e, r.w);
    for (unsigned i = 0; i < HOSTS; i++)
      if (e->h[i].hpvmd && waitpid(e->h[i].hpvmd, NULL, WNOHANG) == e->h[i].hpvmd) e->h[i].hpvmd = 0;
    int st;
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid) {
      r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    if (nt_ms() >= end) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      break;
    }
  }
  r.out = nt_read_file(out);
  if (!r.out) r.out = strdup("");
  printf("hpvmhost rolling exited %d after %.1f s:\n%s", r.status, (double)(nt_ms() - t0) / 1000, r.out);
  return r;
}

/* ---- The command log ------------------------------------------------------------------------------ */

typedef struct log_line {
  char host[64];
  char result[600];             /* "OK" or "ENAME: message" */
  char cmd[1200];
} log_line;

typedef struct cmd_log {
  log_line *l;
  size_t n;
} cmd_log;

static cmd_log read_log(const nt_env *e) {
  char path[400];
  snprintf(path, sizeof path, "%.300s/log/command.log", e->shared);
  char *s = nt_read_file(path);
  assert_non_null(s);
  cmd_log log = {calloc(4096, sizeof *log.l), 0};
  assert_non_null(log.l);
  for (char *line = strtok(s, "\n"); line && log.n < 4096; line = strtok(NULL, "\n")) {
    char *f[5] = {0};
    f[0] = line;
    for (int k = 1; k < 5 && f[k - 1]; k++) {
      char *tab = strchr(f[k - 1], '\t');
      if (tab) *tab = 0, f[k] = tab + 1;
    }
    if (!f[4]) continue;
    log_line *l = &log.l[log.n++];
    snprintf(l->host, sizeof l->host, "%s", f[1]);
    snprintf(l->result, sizeof l->result, "%s", f[3]);
    snprintf(l->cmd, sizeof l->cmd, "%s", f[4]);
  }
  free(s);
  return log;
}

static void print_log(const cmd_log *log) {
  fprintf(stderr, "---- command log ----\n");
  for (size_t k = 0; k < log->n; k++)
    fprintf(stderr, "%3zu %-6s %-4.40s %s\n", k, log->l[k].host, log->l[k].result, log->l[k].cmd);
}

/* The command line is prefix, alone or followed by a blank (" (from host ...)"). */
static bool is(const log_line *l, const char *prefix) {
  size_t n = strlen(prefix);
  return !strncmp(l->cmd, prefix, n) && (!l->cmd[n] || l->cmd[n] == ' ');
}

/* The index of the only line at or after `from` that is `prefix` (with result OK when ok),
 * failing the test when there is none or more than one. */
static size_t find_once(const cmd_log *log, size_t from, const char *prefix, bool ok) {
  size_t at = log->n, count = 0;
  for (size_t k = 0; k < log->n; k++)
    if (is(&log->l[k], prefix)) {
      count++;
      if (k >= from && at == log->n) at = k;
    }
  if (count != 1 || at == log->n || (ok && strcmp(log->l[at].result, "OK"))) {
    print_log(log);
    fail_msg("the command log should have '%s'%s once, after line %zu: %zu such line(s), first after it at %zu", prefix,
             ok ? " (OK)" : "", from, count, at);
  }
  return at;
}

static bool any(const cmd_log *log, const char *prefix) {
  for (size_t k = 0; k < log->n; k++)
    if (is(&log->l[k], prefix)) return true;
  return false;
}

static unsigned count_prefix(const cmd_log *log, const char *prefix) {
  unsigned n = 0;
  for (size_t k = 0; k < log->n; k++) n += !strncmp(log->l[k].cmd, prefix, strlen(prefix));
  return n;
}

/* Host `host` went through the rolling in the log from line `from`: drain, the migration of
 * each guest where[] places on it (where[] then follows them), the drain's end, the command
 * (result OK unless cmd_fails), and unless it failed back in service and maintenance exit.
 * Returns the index of its last line; *moves counts the migrations. */
static size_t check_host_story(const nt_env *e, const cmd_log *log, size_t from, unsigned host, int where[NGUESTS],
                               bool cmd_fails, unsigned *moves) {
  const char *h = e->h[host].name;
  char want[400];
  unsigned here = 0;
  for (unsigned g = 0; g < NGUESTS; g++) here += where[g] == (int)host;
  snprintf(want, sizeof want, "maintenance %s: draining (policy migrate, 1 at a time): %u running guest(s)", h, here);
  size_t drain = find_once(log, from, want, true), last_move = drain;
  unsigned went[HOSTS] = {0};
  for (unsigned g = 0; g < NGUESTS; g++) {
    if (where[g] != (int)host) continue;
    /* "maintenance H: VM G: migrated to host T", after the drain began, T another host. */
    snprintf(want, sizeof want, "maintenance %s: VM %s: migrated to host ", h, GUESTS[g]);
    size_t at = log->n;
    for (size_t k = drain + 1; k < log->n && at == log->n; k++)
      if (!strncmp(log->l[k].cmd, want, strlen(want))) at = k;
    if (at == log->n) {
      print_log(log);
      fail_msg("no '%s...' in the command log after line %zu", want, drain);
    }
    int to = nt_host_index(e, log->l[at].cmd + strlen(want));
    if (to < 0 || to == (int)host) {
      print_log(log);
      fail_msg("line %zu: a migration to no other host", at);
    }
    snprintf(want, sizeof want, "hpvmmigrate -o -P %s -h %s (maintenance of host %s)", GUESTS[g], e->h[to].name, h);
    size_t mig = find_once(log, drain, want, true);
    if (mig > at) {
      print_log(log);
      fail_msg("line %zu: '%s' after the drain said it migrated", mig, want);
    }
    if (at > last_move) last_move = at;
    where[g] = to;
    went[to]++;
    (*moves)++;
  }
  /* Spread: both other hosts (Up, the one rolled before too) took some of several guests. */
  if (here >= 2 && (went[(host + 1) % HOSTS] == 0 || went[(host + 2) % HOSTS] == 0)) {
    print_log(log);
    fail_msg("the drain of %s sent its %u guests to one host", h, here);
  }
  snprintf(want, sizeof want, "hpvmhost rolling maintenance enter %s", h);
  size_t entered = find_once(log, drain, want, true);
  if (entered < last_move) {
    print_log(log);
    fail_msg("'%s' (its end) logged before its last migration", want);
  }
  snprintf(want, sizeof want, "hpvmhost rolling command %s", h);
  size_t cmd = find_once(log, entered, want, !cmd_fails);
  if (cmd_fails) {
    if (!strstr(log->l[cmd].result, "the command exited with status 1")) {
      print_log(log);
      fail_msg("line %zu: the failed command's result is '%s'", cmd, log->l[cmd].result);
    }
    return cmd;
  }
  snprintf(want, sizeof want, "maintenance %s: back in service (Up)", h);
  size_t back = find_once(log, cmd, want, true);
  snprintf(want, sizeof want, "hpvmhost rolling maintenance exit %s", h);
  return find_once(log, back, want, true);
}

/* The command restarted host i's hpvmd after the drain: the others logged that it left
 * (gracefully: SIGTERM) after the drain ended, and later that it came back. */
static void check_restart_story(const nt_env *e, const cmd_log *log, unsigned i) {
  const char *h = e->h[i].name;
  char want[200], left[100], back[100], joined[100];
  snprintf(want, sizeof want, "hpvmhost rolling maintenance enter %s", h);
  size_t k = find_once(log, 0, want, true);
  snprintf(left, sizeof left, "cluster: host %s left ", h);
  snprintf(back, sizeof back, "cluster: host %s is back ", h);
  snprintf(joined, sizeof joined, "cluster: host %s joined ", h);
  while (k < log->n && strncmp(log->l[k].cmd, left, strlen(left))) k++;
  while (k < log->n && strncmp(log->l[k].cmd, back, strlen(back)) && strncmp(log->l[k].cmd, joined, strlen(joined)))
    k++;
  if (k == log->n) {
    print_log(log);
    fail_msg("the command log does not show %s's hpvmd leaving after its drain and coming back", h);
  }
}

/* ---- After the rolling --------------------------------------------------------------------------- */

/* The last heartbeat number of vm on host i's console, or -1. */
static long last_beat(const nt_env *e, unsigned i, const char *vm) {
  char *s = nt_console(e, i, vm);
  long seq = -1;
  for (const char *p = s; (p = strstr(p, "HB ")); p += 3)
    if (p == s || p[-1] == '\n') seq = strtol(p + 3, NULL, 10);
  free(s);
  return seq;
}

/* Each heartbeat number 0..beats-1 of vm on exactly one line of one host's console. */
static void beats_once(const nt_env *e, const char *vm, long beats) {
  unsigned char *seen = calloc((size_t)beats + 1, 1);
  assert_non_null(seen);
  for (unsigned i = 0; i < HOSTS; i++)
    for (int part = 0; part < 2; part++) {
      char path[600];
      snprintf(path, sizeof path, "%s/vms/%s/console.log%s", e->h[i].state, vm, part ? "" : ".1");
      char *s = nt_read_file(path);
      for (const char *p = s; p && (p = strstr(p, "HB ")); p += 3) {
        if (p != s && p[-1] != '\n') continue;
        long seq = strtol(p + 3, NULL, 10);
        if (seq < 0 || seq >= beats) continue;
        if (seen[seq]) fail_msg("%s: heartbeat %ld printed twice (again on %s)", vm, seq, e->h[i].name);
        seen[seq] = 1;
      }
      free(s);
    }
  for (long k = 0; k < beats; k++)
    if (!seen[k]) fail_msg("%s: heartbeat %ld of %ld is on no console", vm, k, beats);
  free(seen);
}

/* Each guest: on the host where[] says (exactly one, under its lease), booted once, beating
 * there after the rolling, every PASS at a graceful stop, each beat on one console once. */
static void check_guests(nt_env *e, const int where[NGUESTS]) {
  for (unsigned g = 0; g < NGUESTS; g++) {
    unsigned at = nt_guest_settled(e, GUESTS[g], WAIT_MS);
    if ((int)at != where[g]) fail_msg("%s runs on %s, the command log says %s", GUESTS[g], e->h[at].name,
                                      where[g] >= 0 ? e->h[where[g]].name : "(nowhere)");
    assert_int_equal(nt_guest_boots(e, GUESTS[g]), 1);
    char want[40];
    snprintf(want, sizeof want, "HB %ld ", last_beat(e, at, GUESTS[g]) + 2);
    if (!nt_console_wait(e, at, GUESTS[g], want, WAIT_MS))
      fail_msg("%s: no '%s' on %s after the rolling", GUESTS[g], want, e->h[at].name);
  }
  for (unsigned g = 0; g < NGUESTS; g++) {
    char *c = nt_guest_verify(e, (unsigned)where[g], GUESTS[g], WORKLOADS);
    const char *p = strstr(c, "heartbeat: ");
    long beats = -1, longest = -1;
    if (!p || sscanf(p, "heartbeat: %ld beats, longest interval %ld ms", &beats, &longest) != 2)
      fail_msg("%s: no heartbeat summary at its stop:\n%s", GUESTS[g], c);
    beats_once(e, GUESTS[g], beats);
    printf("%s on %s: %ld beats, longest interval %ld ms\n", GUESTS[g], e->h[where[g]].name, beats, longest);
    free(c);
  }
}

/* Each guest: at most two hpvmapps at once (a migration's source and target), and one more
 * hpvmapp than the log has migrations of it (none started otherwise). */
static void check_watch(const nt_env *e, const cmd_log *log, const roll_result *r) {
  for (unsigned g = 0; g < NGUESTS; g++) {
    char want[100];
    snprintf(want, sizeof want, "hpvmmigrate -o -P %s -h ", GUESTS[g]);
    unsigned moves = count_prefix(log, want);
    printf("%s: %u migration(s), %u hpvmapp(s) seen, at most %u at once\n", GUESTS[g], moves, r->w[g].npids,
           r->w[g].most);
    if (r->w[g].most > 2 || r->w[g].npids != moves + 1) {
      print_log(log);
      nt_dump_logs(e);
      fail_msg("%s: %u hpvmapps at once (at most 2), %u seen for %u migration(s)", GUESTS[g], r->w[g].most,
               r->w[g].npids, moves);
    }
  }
}

/* Nothing the log would show if a guest had been stopped, started again or restarted by HA. */
static void check_nothing_stopped(const cmd_log *log) {
  unsigned starts = count_prefix(log, "hpvmstart");
  if (count_prefix(log, "hpvmstop") || starts != NGUESTS || count_prefix(log, "HA restart")) {
    print_log(log);
    fail_msg("the command log shows a guest stopped, started again or restarted");
  }
}

static unsigned lines_starting(const char *s, const char *prefix) {
  unsigned n = 0;
  for (const char *p = s; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
    n += !strncmp(p, prefix, strlen(prefix));
  return n;
}

/* ---- Tests -------------------------------------------------------------------------------------- */

static void test_rolling_upgrade_of_three_hosts_stops_no_guest(void **state) {
  nt_env *e = *state;
  start_guests(e);
  write_pids(e);
  write_command(e, true, NULL);
  roll_result r = roll(e, "--timeout 120");
  if (r.status != 0) nt_dump_logs(e);
  assert_int_equal(r.status, 0);
  assert_non_null(strstr(r.out, "rolling: done, all 3 host(s) went through maintenance and are Up"));
  for (unsigned i = 0; i < HOSTS; i++) assert_int_equal(e->h[i].hpvmd, 0);   /* each hpvmd was restarted */

  /* The command ran for each host in turn, each in maintenance with no guest, and restarted it. */
  char path[300];
  file_path(e, "rolled", path, sizeof path);
  char *rolled = nt_read_file(path);
  assert_non_null(rolled);
  const char *p = rolled;
  for (unsigned i = 0; i < HOSTS; i++) {
    char want[100];
    snprintf(want, sizeof want, "%s in maintenance, no guest\n%s hpvmd ", e->h[i].name, e->h[i].name);
    if (strncmp(p, want, strlen(want))) fail_msg("the command's notes, host %u:\n%s", i, rolled);
    p = strchr(strchr(p, '\n') + 1, '\n') + 1;
  }
  assert_string_equal(p, "");
  free(rolled);
  for (unsigned i = 0; i < HOSTS; i++) all_see(e, i, "Up");

  /* The story, host after host, replayed to where each guest went. */
  cmd_log log = read_log(e);
  int where[NGUESTS];
  for (unsigned g = 0; g < NGUESTS; g++) where[g] = (int)(g / 2);
  size_t at = 0;
  unsigned moves = 0;
  for (unsigned i = 0; i < HOSTS; i++) at = check_host_story(e, &log, at, i, where, false, &moves) + 1;
  for (unsigned i = 0; i < HOSTS; i++) check_restart_story(e, &log, i);
  printf("%u migrations; the guests end on:", moves);
  for (unsigned g = 0; g < NGUESTS; g++) printf(" %s=%s", GUESTS[g], e->h[where[g]].name);
  printf("\n");
  assert_true(moves >= NGUESTS);   /* every guest left its first host at least once */
  check_nothing_stopped(&log);
  check_watch(e, &log, &r);
  check_guests(e, where);
  free(log.l);
  free(r.out);
}

static void test_a_command_failing_on_the_second_host_stops_the_rolling_there(void **state) {
  nt_env *e = *state;
  start_guests(e);
  write_command(e, false, "hostb");
  roll_result r = roll(e, "--timeout 60");
  assert_int_equal(r.status, 1);
  /* One error line, naming the host, why, where it was left, the hosts not reached, the fix. */
  assert_int_equal(lines_starting(r.out, "hpvmhost: ERROR: "), 1);
  const char *err = strstr(r.out, "hpvmhost: ERROR: ");
  assert_non_null(strstr(err, "rolling stopped at host hostb: the command exited with status 1. Host hostb stays in "
                              "maintenance (its guests run elsewhere), untouched: hostc; fix it, then hpvmhost "
                              "maintenance exit hostb and run hpvmhost rolling again\n"));
  assert_non_null(strstr(r.out, "rolling: host hosta is Up (1 of 3 done)"));
  assert_null(strstr(r.out, "host hostc ("));
  char path[300];
  file_path(e, "rolled", path, sizeof path);
  char *rolled = nt_read_file(path);
  assert_non_null(rolled);
  assert_string_equal(rolled, "hosta in maintenance, no guest\nhostb in maintenance, no guest\n");
  free(rolled);

  /* Consistent: hosta Up, hostb in maintenance, hostc untouched, in every host's view. */
  all_see(e, 0, "Up");
  all_see(e, 1, "Maintenance");
  all_see(e, 2, "Up");
  cmd_log log = read_log(e);
  int where[NGUESTS];
  for (unsigned g = 0; g < NGUESTS; g++) where[g] = (int)(g / 2);
  unsigned moves = 0;
  size_t at = check_host_story(e, &log, 0, 0, where, false, &moves) + 1;
  check_host_story(e, &log, at, 1, where, true, &moves);
  assert_false(any(&log, "hpvmhost rolling maintenance exit hostb"));
  assert_false(any(&log, "maintenance hostb: back in service (Up)"));
  assert_int_equal(count_prefix(&log, "maintenance hostc:"), 0);
  assert_false(any(&log, "hpvmhost rolling maintenance enter hostc"));
  assert_false(any(&log, "hpvmhost rolling command hostc"));
  for (unsigned g = 0; g < NGUESTS; g++) assert_int_not_equal(where[g], 1);
  check_nothing_stopped(&log);
  check_watch(e, &log, &r);
  free(log.l);
  free(r.out);

  /* The fix the message names brings hostb back; then every guest passes. */
  free(nt_ok(e, 2, "hpvmhost maintenance exit hostb"));
  all_see(e, 1, "Up");
  check_guests(e, where);
}

int main(void) {
  nt_require_netns();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rolling_upgrade_of_three_hosts_stops_no_guest, setup3, nt_teardown),
      cmocka_unit_test_setup_teardown(test_a_command_failing_on_the_second_host_stops_the_rolling_there, setup3,
                                      nt_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
