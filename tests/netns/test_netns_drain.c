/* test_netns_drain.c — faults during a maintenance drain (hpvmhost maintenance enter hosta),
 * three hosts behind a bridge, hpvmd with a 3 s lease and liveness timeout and a 100 ms gossip
 * probe. hosta runs three or four guests (64 MiB, memverify over 8 MiB rewritten at 4 MiB/s,
 * heartbeat; some with -x ha=on); its link is shaped to 100 Mbit/s so that each live migration
 * of the drain lasts about a second, and the fault strikes while one is in its copy phase (read
 * from the drain's progress lines):
 *
 *   1. kill -9 of hosta's hpvmd (restarted at once, as systemd would: its hpvmapps fence
 *      themselves 2 s after the last renewal): the hpvmhost waiting on hosta fails with a clear
 *      error; the guest in flight stays on hosta or lands on its target; the restarted hpvmd
 *      finds hosta Draining (STATE/maintenance) and says so in hpvmhost status on the others;
 *      maintenance enter again completes the drain (Maintenance, every guest elsewhere, each
 *      placed by its real size: a re-attached guest's memory comes from its configuration);
 *   2. kill -9 of the target's hpvmd (restarted a second later): the guest in flight ends on
 *      one host, the drain goes on with the others and ends in Maintenance, or Draining naming
 *      that guest as still here;
 *   3. the power loss of hosta (its link cut, every process in its namespace killed) after one
 *      guest moved and with the next in flight, the drain typed on hostb: that hpvmhost fails
 *      naming hosta (the forwarding connection is kept alive by TCP keepalive), the moved guest
 *      runs on, each ha=on guest that was on hosta is HA-restarted once on hostb or hostc (and
 *      the target of the one in flight then ends its hpvmapp --incoming), each other shows
 *      Unknown and runs nowhere;
 *   4. hpvmhost maintenance enter hosta --abort (typed on hostb, the drain on hostc) while a
 *      migration is in flight: it finishes, no other starts, hosta is Up, the drain command fails
 *      with "aborted" and the command log tells it;
 *   5. no other host Up (hosta alone, as a restarted hpvmd is until it hears from the others):
 *      the drain says so, not "no room"; hosta stays Draining, the guest runs on.
 *
 * Never two copies: /proc is polled every 50 ms during every case (one pass over all hosts'
 * hpvmapps): at most one hpvmapp for a guest that is not a migration's incoming one, at most
 * two in all, and, for the guests no migration touched, at most one. An incoming hpvmapp is not
 * running the guest until its lease names its host, so /proc alone cannot tell a migration from
 * two copies; the guests tell: the heartbeat prints "HB <seq> <itc>" every 100 ms, and two
 * copies of one boot would print the same numbers on two consoles, so every number of a boot
 * appears once over all hosts' consoles. Every running guest then passes memverify and
 * heartbeat at a graceful stop with no FAIL on any console, booted once (twice after an HA
 * restart). Waits are generous upper bounds; nothing is timed. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.pb-c.h"
#include "netns_test.h"

#define A 0
#define B 1
#define C 2
#define NG_MAX 4
#define LINK_KBIT 100000
#define POLL_MS 50
#define WAIT_MS 60000
#define BANNER "hpvmk: IA-64 guest kernel:"

typedef struct guest {
  const char *name;
  bool ha;
} guest;

static const guest GUESTS[NG_MAX] = {{"dg1", true}, {"dg2", false}, {"dg3", true}, {"dg4", false}};

/* ---- Watching /proc: who runs what ------------------------------------------------------------- */

typedef struct watch {
  nt_env *e;
  unsigned ng;
  unsigned most_apps[NG_MAX];       /* most hpvmapps for the guest at one poll */
  unsigned most_resident[NG_MAX];   /* most of them not --incoming */
  unsigned app_on[NG_MAX];          /* the last poll: hosts (bits) with an hpvmapp for the guest */
  unsigned resident_on[NG_MAX];     /* those of them not --incoming */
  unsigned polls;
  uint64_t start;                   /* nt_ms() at watch_init */
  char out[400];                    /* the drain command's output file */
  unsigned drains;                  /* drain commands started (names their output files) */
} watch;

typedef struct poll_counts {
  const watch *w;
  unsigned apps[NG_MAX], resident[NG_MAX];
  unsigned app_on[NG_MAX], resident_on[NG_MAX];
} poll_counts;

static bool count_app(const nt_app *a, void *ctx) {
  poll_counts *c = ctx;
  for (unsigned k = 0; k < c->w->ng; k++) {
    if (strcmp(a->vm, GUESTS[k].name)) continue;
    c->apps[k]++;
    c->app_on[k] |= 1u << a->host;
    if (!a->incoming) c->resident[k]++, c->resident_on[k] |= 1u << a->host;
  }
  return false;
}

/* One pass over /proc. */
static void poll_once(watch *w) {
  poll_counts c = {.w = w};
  nt_apps(w->e, count_app, &c);
  unsigned *apps = c.apps, *resident = c.resident;
  memcpy(w->app_on, c.app_on, sizeof w->app_on);
  memcpy(w->resident_on, c.resident_on, sizeof w->resident_on);
  for (unsigned k = 0; k < w->ng; k++) {
    if (apps[k] > w->most_apps[k]) w->most_apps[k] = apps[k];
    if (resident[k] > w->most_resident[k]) w->most_resident[k] = resident[k];
    if (resident[k] > 1 || apps[k] > 2) {
      nt_dump_logs(w->e);
      fail_msg("%s: %u hpvmapps at once, %u of them not incoming", GUESTS[k].name, apps[k], resident[k]);
    }
  }
  w->polls++;
}

static void watch_init(watch *w, nt_env *e, unsigned ng) {
  memset(w, 0, sizeof *w);
  w->e = e;
  w->ng = ng;
  w->start = nt_ms();
}

/* A new output file for the next drain command. */
static const char *next_out(watch *w) {
  snprintf(w->out, sizeof w->out, "%.300s/drain-%u.out", w->e->dir, ++w->drains);
  return w->out;
}

/* A progress line with the seconds since the case began. */
static void say(const watch *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const watch *w, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("[%5.1f s] ", (double)(nt_ms() - w->start) / 1000);
  vprintf(fmt, ap);
  va_end(ap);
  fflush(stdout);
}

static void watch_sleep(watch *w, unsigned ms) {
  for (uint64_t end = nt_ms() + ms; nt_ms() < end; usleep(POLL_MS * 1000)) poll_once(w);
}

/* Child pid's exit status if it ended (reaped), else -1. */
static int ended(pid_t pid) {
  int st;
  if (waitpid(pid, &st, WNOHANG) != pid) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Wait for child pid (polling /proc meanwhile); its exit status, -1 after timeout_ms (it is
 * then killed). */
static int watch_child(watch *w, pid_t pid, int timeout_ms) {
  for (uint64_t end = nt_ms() + (uint64_t)timeout_ms; nt_ms() < end; watch_sleep(w, POLL_MS)) {
    int st = ended(pid);
    if (st != -1) return st;
  }
  return nt_wait_child(pid, 0);
}

/* The drain's output shows a live migration in its copy phase: the guest's index and its
 * target host's. skip: guests whose copy does not count (already moved). */
static bool copy_seen(const watch *w, unsigned skip_moved, int *g, int *target) {
  char *s = nt_read_file(w->out);
  unsigned moved = 0;
  bool found = false;
  for (const char *p = s; p && !found && (p = strstr(p, "hpvmhost: VM ")); p++) {
    char name[64], host[64];
    if (sscanf(p, "hpvmhost: VM %63[^:]: migrated to host %63s", name, host) == 2) moved++;
    int end = 0;
    if (moved < skip_moved ||
        sscanf(p, "hpvmhost: VM %63[^:]: migrating to host %63[^:]: copy round%n", name, host, &end) != 2 || !end)
      continue;
    for (unsigned k = 0; k < w->ng; k++)
      if (!strcmp(name, GUESTS[k].name)) *g = (int)k;
    *target = nt_host_index(w->e, host);
    found = *target >= 0 && *g >= 0;
  }
  free(s);
  return found;
}

/* Wait (polling) until the drain has moved `moved` guests and the next one is copying. */
static void wait_copy(watch *w, pid_t drain, unsigned moved, int *g, int *target) {
  *g = *target = -1;
  for (uint64_t end = nt_ms() + WAIT_MS; nt_ms() < end; watch_sleep(w, 5)) {
    if (copy_seen(w, moved, g, target)) return;
    if (ended(drain) != -1) break;
  }
  char *s = nt_read_file(w->out);
  nt_dump_logs(w->e);
  fail_msg("no migration in its copy phase after %u moved; the drain said:\n%s", moved, s ? s : "");
  *g = *target = 0;   /* not reached */
}

/* ---- Guests ------------------------------------------------------------------------------------ */

static void guests_start(nt_env *e, unsigned ng) {
  for (unsigned k = 0; k < ng; k++) {
    nt_guest_create(e, A, GUESTS[k].name, 64, 1, "memverify size=8M rate=4 heartbeat", 0);
    if (GUESTS[k].ha) free(nt_ok(e, A, "hpvmmodify -P %s -x ha=on", GUESTS[k].name));
    free(nt_ok(e, A, "hpvmstart -P %s", GUESTS[k].name));
  }
  for (unsigned k = 0; k < ng; k++)
    if (!nt_console_wait(e, A, GUESTS[k].name, "memverify: cpu 0: pass ", WAIT_MS))
      fail_msg("%s did not fill its memory", GUESTS[k].name);
}

/* Guest k runs on the host its lease names, whose hpvmd says On, and no other host runs an
 * hpvmapp for it but an incoming one the lease never named (a migration's target left waiting
 * for a source that died): that host, or -1 when that is not so within timeout_ms (polling
 * /proc meanwhile). */
static int settled(watch *w, unsigned k, int timeout_ms) {
  const char *vm = GUESTS[k].name;
  for (uint64_t end = nt_ms() + (uint64_t)timeout_ms;; watch_sleep(w, POLL_MS)) {
    char owner[300];
    int o = nt_lease(w->e, vm, owner, sizeof owner, NULL) == 0 ? nt_host_index(w->e, owner) : -1;
    poll_once(w);
    if (o >= 0 && (w->app_on[k] & 1u << o) && !(w->resident_on[k] & ~(1u << o)) &&
        nt_state(w->e, (unsigned)o, vm) == HPVM__VM_RUN_STATE__VM_RUN_STATE_ON)
      return o;
    if (nt_ms() >= end) return -1;
  }
}

static int must_settle(watch *w, unsigned k) {
  int where = settled(w, k, WAIT_MS);
  if (where < 0) {
    nt_dump_logs(w->e);
    fail_msg("%s did not settle on one host", GUESTS[k].name);
    return 0;
  }
  return where;
}

/* Host i's whole console of vm (rotated part first). */
static char *console_of(const nt_env *e, unsigned i, const char *vm) {
  char path[600];
  snprintf(path, sizeof path, "%s/vms/%s/console.log.1", e->h[i].state, vm);
  char *old = nt_read_file(path), *cur = nt_console(e, i, vm);
  if (!old) return cur;
  char *all = malloc(strlen(old) + strlen(cur) + 1);
  strcpy(all, old);
  strcat(all, cur);
  free(old), free(cur);
  return all;
}

/* Mark the complete "HB <seq> <itc>" lines of s[from, to) in seen, counting them in *n; false
 * on a number seen before (a second copy of the boot). */
static bool beats(const char *s, const char *end, unsigned char *seen, long max, unsigned *n, long *dup) {
  for (const char *p = s; p && p < end; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
    long seq, itc;
    char nl;
    if (sscanf(p, "HB %ld %ld%c", &seq, &itc, &nl) != 3 || nl != '\n' || seq < 0 || seq >= max) continue;
    if (strchr(p, '\n') > end) break;
    if (seen[seq]) return *dup = seq, false;
    seen[seq] = 1;
    (*n)++;
  }
  return true;
}

/* The boot that started on hosta (its console up to any later boot there) and its
 * continuations on the other hosts (their consoles before any boot of their own) print each
 * heartbeat once. */
static void one_copy_of_first_boot(const nt_env *e, const char *vm) {
  const long max = 1L << 20;
  unsigned char *seen = calloc((size_t)max, 1);
  unsigned n = 0;
  for (unsigned i = 0; i < e->n; i++) {
    char *s = console_of(e, i, vm);
    const char *from = s, *to;
    if (i == A) from = strstr(s, BANNER) ? strstr(s, BANNER) : s + strlen(s);
    to = strstr(i == A && *from ? from + 1 : from, BANNER);
    if (!to) to = s + strlen(s);
    long dup = -1;
    if (!beats(from, to, seen, max, &n, &dup))
      fail_msg("%s: heartbeat %ld of its first boot printed twice (again on %s): two copies ran", vm, dup, e->h[i].name);
    free(s);
  }
  free(seen);
  /* It ran for seconds before the drain: a check that found no beat would check nothing. */
  if (n < 10) fail_msg("%s: only %u heartbeat lines of its first boot found", vm, n);
}

/* Graceful stop of every guest with boots[k] > 0 where it runs, all at once: every workload
 * and the shutdown PASS on that console, no FAIL on any host's, booted boots[k] times, and one
 * copy of its first boot. */
static void verify_all(watch *w, const unsigned *boots) {
  nt_env *e = w->e;
  say(w, "graceful stops\n");
  pid_t stop[NG_MAX] = {0};
  int where[NG_MAX];
  char out[NG_MAX][400];
  for (unsigned k = 0; k < w->ng; k++) {
    if (!boots[k]) continue;
    where[k] = must_settle(w, k);
    snprintf(out[k], sizeof out[k], "%.300s/stop-%s.out", e->dir, GUESTS[k].name);
    stop[k] = nt_spawn(e, (unsigned)where[k], out[k], "hpvmstop -P %s -g -t 60", GUESTS[k].name);
  }
  for (unsigned k = 0; k < w->ng; k++) {
    if (!stop[k]) continue;
    const char *vm = GUESTS[k].name;
    int st = watch_child(w, stop[k], 90000);
    if (st != 0 || !nt_wait_state(e, (unsigned)where[k], vm, HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF, 90000)) {
      char *s = nt_read_file(out[k]);
      nt_dump_logs(e);
      fail_msg("hpvmstop -g of %s on %s exited %d and it is not off: %s", vm, e->h[where[k]].name, st, s ? s : "");
    }
    for (unsigned i = 0; i < e->n; i++) {
      char *c = console_of(e, i, vm);
      if (strstr(c, "FAIL")) fail_msg("the console of %s on %s reports a failure:\n%s", vm, e->h[i].name, c);
      free(c);
    }
    char *c = nt_console(e, (unsigned)where[k], vm);
    const char *want[] = {"PASS memverify\n", "PASS heartbeat\n", "PASS shutdown\n"};
    for (unsigned j = 0; j < 3; j++)
      if (!strstr(c, want[j])) fail_msg("'%s' is not on the console of %s on %s:\n%s", want[j], vm, e->h[where[k]].name, c);
    free(c);
    assert_int_equal(nt_guest_boots(e, vm), boots[k]);
    one_copy_of_first_boot(e, vm);
  }
  printf("the case took %.1f s; %u polls of /proc\n", (double)(nt_ms() - w->start) / 1000, w->polls);
}

/* ---- Shared state -------------------------------------------------------------------------------- */

static unsigned count(const char *s, const char *needle) {
  unsigned n = 0;
  for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

/* STATE/maintenance of host i: its first word, "" when absent (Up). */
static void maint_file(const nt_env *e, unsigned i, char *word, size_t len) {
  char path[400];
  snprintf(path, sizeof path, "%.300s/maintenance", e->h[i].state);
  char *s = nt_read_file(path);
  snprintf(word, len, "%s", s ? s : "");
  word[strcspn(word, " \n")] = 0;
  free(s);
}

static void wait_status(watch *w, unsigned i, const char *name, const char *want) {
  char st[32] = "";
  for (uint64_t end = nt_ms() + WAIT_MS; nt_ms() < end; watch_sleep(w, 100)) {
    nt_host_state(w->e, i, name, st, sizeof st);
    if (!strcmp(st, want)) return;
  }
  nt_dump_logs(w->e);
  fail_msg("%s sees host %s as '%s', not %s", w->e->h[i].name, name, st, want);
}

/* ng guests started on hosta and seen by hostb Up, then hpvmhost maintenance enter hosta typed
 * on host `typed_on` in the background, waited for until a migration is in its copy phase
 * after `moved` others: the command's pid, that guest (*g) and its target (*t). */
static pid_t drain_until_copy(watch *w, nt_env *e, unsigned ng, unsigned typed_on, unsigned moved, int *g, int *t) {
  watch_init(w, e, ng);
  guests_start(e, ng);
  say(w, "%u guests run on hosta\n", ng);
  wait_status(w, B, e->h[A].name, "Up");
  pid_t drain = nt_spawn(e, typed_on, next_out(w), "hpvmhost maintenance enter %s", e->h[A].name);
  wait_copy(w, drain, moved, g, t);
  say(w, "%s is copying to %s\n", GUESTS[*g].name, e->h[*t].name);
  return drain;
}

static char *drain_output(const watch *w, int status) {
  char *s = nt_read_file(w->out);
  say(w, "hpvmhost maintenance enter exited %d:\n%s", status, s ? s : "");
  return s ? s : strdup("");
}

/* ---- The environment ------------------------------------------------------------------------------ */

static int setup3(void **state) {
  nt_env *e = nt_env_new(3);
  *state = e;
  snprintf(e->lease_timeout, sizeof e->lease_timeout, "3");
  snprintf(e->gossip_probe_ms, sizeof e->gossip_probe_ms, "100");
  for (unsigned i = 0; i < 3; i++) nt_hpvmd_start(e, i);
  nt_link_shape(e, A, LINK_KBIT);
  return 0;
}

/* ---- 1. kill -9 of the draining host's hpvmd ---------------------------------------------------- */

static void test_draining_hosts_hpvmd_killed(void **state) {
  nt_env *e = *state;
  watch w;
  const unsigned ng = 3;
  int g, t;
  pid_t drain = drain_until_copy(&w, e, ng, A, 0, &g, &t);
  uint64_t killed = nt_ms();
  nt_hpvmd_stop(e, A, SIGKILL);
  nt_hpvmd_start(e, A);
  say(&w, "hosta's hpvmd killed and answering again after %llu ms (its guests fence at 2000 ms)\n",
      (unsigned long long)(nt_ms() - killed));

  /* The command waiting on hosta's hpvmd ends with why. */
  int st = watch_child(&w, drain, WAIT_MS);
  char *out = drain_output(&w, st);
  assert_int_equal(st, 1);
  assert_non_null(strstr(out, "hpvmhost: ERROR: hpvmd closed the connection before the drain ended"));
  free(out);

  /* The restarted hpvmd keeps the host Draining, and the others see it so. */
  char word[32];
  maint_file(e, A, word, sizeof word);
  assert_string_equal(word, "draining");
  wait_status(&w, A, e->h[A].name, "Draining");
  wait_status(&w, B, e->h[A].name, "Draining");
  wait_status(&w, C, e->h[A].name, "Draining");
  /* The restarted hpvmd has rejoined (placement needs the others' gossip). */
  wait_status(&w, A, e->h[B].name, "Up");
  wait_status(&w, A, e->h[C].name, "Up");
  free(nt_ok(e, A, "hpvmstatus"));
  int where = must_settle(&w, g);
  printf("%s was copying to %s when hosta's hpvmd was killed; it runs on %s\n", GUESTS[g].name, e->h[t].name,
         e->h[where].name);
  assert_true(where == A || where == t);
  for (unsigned k = 0; k < ng; k++) must_settle(&w, k);

  /* Entering maintenance again completes the drain. */
  drain = nt_spawn(e, A, next_out(&w), "hpvmhost maintenance enter %s", e->h[A].name);
  st = watch_child(&w, drain, 2 * WAIT_MS);
  out = drain_output(&w, st);
  assert_int_equal(st, 0);
  char want[200];
  snprintf(want, sizeof want, "host %s is in maintenance", e->h[A].name);
  assert_non_null(strstr(out, want));
  /* Placed by their real size: a re-attached guest's memory is read from its configuration. */
  for (unsigned k = 0; k < ng; k++) {
    snprintf(want, sizeof want, "VM %s (64 MB, ", GUESTS[k].name);
    assert_non_null(strstr(out, want));
  }
  free(out);
  maint_file(e, A, word, sizeof word);
  assert_string_equal(word, "maintenance");
  wait_status(&w, B, e->h[A].name, "Maintenance");
  for (unsigned k = 0; k < ng; k++) {
    int h = must_settle(&w, k);
    assert_true(h == B || h == C);
    if (k != (unsigned)g) assert_int_equal(w.most_resident[k], 1);
  }
  printf("%u polls of /proc; most hpvmapps at once per guest: %u %u %u\n", w.polls, w.most_apps[0], w.most_apps[1],
         w.most_apps[2]);
  verify_all(&w, (unsigned[NG_MAX]){1, 1, 1, 1});
}

/* ---- 2. kill -9 of the target's hpvmd ----------------------------------------------------------- */

static void test_targets_hpvmd_killed(void **state) {
  nt_env *e = *state;
  watch w;
  const unsigned ng = 3;
  int g, t;
  pid_t drain = drain_until_copy(&w, e, ng, A, 0, &g, &t);
  nt_hpvmd_stop(e, (unsigned)t, SIGKILL);
  watch_sleep(&w, 1000);
  nt_hpvmd_start(e, (unsigned)t);

  int st = watch_child(&w, drain, 2 * WAIT_MS);
  char *out = drain_output(&w, st);
  int where = must_settle(&w, g);
  say(&w, "%s was copying to %s when its hpvmd was killed; it runs on %s\n", GUESTS[g].name, e->h[t].name,
      e->h[where].name);
  assert_true(where == A || where == t);
  /* The drain went on with every other guest: each moved, or was refused (its target's hpvmd
   * still coming back) and is listed; Maintenance only when none stayed, else Draining. */
  assert_int_equal(count(out, ": live migration to host "), ng);
  unsigned stayed = 0;
  char word[32], want[300];
  for (unsigned k = 0; k < ng; k++) {
    int h = must_settle(&w, k);
    if (h != A) {
      assert_true(h == B || h == C);
      continue;
    }
    stayed++;
    snprintf(want, sizeof want, " %s (64 MB, its migration failed);", GUESTS[k].name);
    assert_non_null(strstr(out, want));
  }
  maint_file(e, A, word, sizeof word);
  if (stayed) {
    assert_int_equal(st, 1);
    snprintf(want, sizeof want, "host %s stays draining: %u guest(s) still run here:", e->h[A].name, stayed);
    assert_non_null(strstr(out, want));
    assert_string_equal(word, "draining");
  } else {
    assert_int_equal(st, 0);
    snprintf(want, sizeof want, "host %s is in maintenance: %u guest(s) migrated", e->h[A].name, ng);
    assert_non_null(strstr(out, want));
    assert_string_equal(word, "maintenance");
  }
  free(out);
  verify_all(&w, (unsigned[NG_MAX]){1, 1, 1, 1});
}

/* ---- 3. the draining host loses power ----------------------------------------------------------- */

static void test_draining_host_crashes(void **state) {
  nt_env *e = *state;
  watch w;
  const unsigned ng = 4;
  int g, t;
  pid_t drain = drain_until_copy(&w, e, ng, B, 1, &g, &t);

  /* Who was where just before the crash: moved guests are on their target under its lease. */
  bool moved[NG_MAX] = {false};
  int moved_to[NG_MAX];
  for (unsigned k = 0; k < ng; k++) {
    char owner[300];
    moved_to[k] = -1;
    if (nt_lease(e, GUESTS[k].name, owner, sizeof owner, NULL) == 0 && nt_host_index(e, owner) > A &&
        (int)k != g)
      moved[k] = true, moved_to[k] = nt_host_index(e, owner);
  }
  nt_host_crash(e, A);
  /* From now on a guest no migration touches runs on one host at most. */
  memset(w.most_apps, 0, sizeof w.most_apps);

  int st = watch_child(&w, drain, WAIT_MS);
  char *out = drain_output(&w, st);
  assert_int_equal(st, 1);
  char want[300];
  snprintf(want, sizeof want, "hpvmhost: ERROR: host %s: ", e->h[A].name);
  assert_non_null(strstr(out, want));
  free(out);
  wait_status(&w, B, e->h[A].name, "Dead");
  wait_status(&w, C, e->h[A].name, "Dead");

  /* HA restarts of the ha=on guests that were on hosta (the one in flight included, unless its
   * target took it over); the others Unknown. */
  unsigned expect_boots[NG_MAX];
  int ran_on[NG_MAX];
  for (unsigned k = 0; k < ng; k++) {
    const char *vm = GUESTS[k].name;
    if (moved[k]) {
      assert_int_equal(ran_on[k] = must_settle(&w, k), moved_to[k]);
      expect_boots[k] = 1;
      continue;
    }
    /* A target takes a guest in flight over within a few lease timeouts (only once it had
     * acknowledged the state); an HA restart comes after one. */
    int where = ran_on[k] = settled(&w, k, GUESTS[k].ha ? WAIT_MS : (int)k == g ? 15000 : 0);
    if (where >= 0) {
      /* Restarted by HA (booted again), or the migration in flight taken over by its target.
       * Its boots are counted once it beats there: an HA restart's hpvmapp shows before the
       * guest printed its boot. */
      assert_true(nt_console_wait(e, (unsigned)where, vm, "HB ", WAIT_MS));
      expect_boots[k] = nt_guest_boots(e, vm);
      say(&w, "%s (%s) now runs on %s, booted %u time(s)\n", vm, GUESTS[k].ha ? "ha=on" : "not HA", e->h[where].name,
             expect_boots[k]);
      assert_true(where == B || where == C);
      if (expect_boots[k] == 1) assert_int_equal(k, g), assert_int_equal(where, t);
      else assert_true(GUESTS[k].ha), assert_int_equal(expect_boots[k], 2);
    } else {
      assert_false(GUESTS[k].ha);
      assert_int_equal(nt_state(e, B, vm), HPVM__VM_RUN_STATE__VM_RUN_STATE_UNKNOWN);
      say(&w, "%s (not HA) shows Unknown on hostb\n", vm);
      expect_boots[k] = 0;
    }
  }
  /* Long enough for a second restart to show, were there one. */
  watch_sleep(&w, 3000);
  char *log = nt_command_log(e);
  for (unsigned k = 0; k < ng; k++) {
    char line[200];
    snprintf(line, sizeof line, "HA restart of VM %s on", GUESTS[k].name);
    assert_int_equal(count(log, line), expect_boots[k] == 2 ? 1 : 0);
    assert_true(w.most_apps[k] <= 1 || (int)k == g);
    /* Not restarted: nothing runs it (the target of the one in flight may still wait, its
     * hpvmapp --incoming never named by the lease). */
    if (!expect_boots[k]) assert_int_equal(w.resident_on[k], 0);
    if (!expect_boots[k]) assert_int_equal(w.app_on[k] & ~(1u << t), 0);
    /* Running: on that host only; the target of the one in flight no longer waits once another
     * host holds the lease (its hpvmd ends the hpvmapp --incoming). */
    if (expect_boots[k]) assert_int_equal(w.app_on[k], 1u << ran_on[k]);
  }
  free(log);
  printf("%u polls of /proc\n", w.polls);
  verify_all(&w, expect_boots);
}

/* ---- 4. abort ------------------------------------------------------------------------------------------ */

static void test_drain_aborted(void **state) {
  nt_env *e = *state;
  watch w;
  const unsigned ng = 3;
  int g, t;
  pid_t drain = drain_until_copy(&w, e, ng, C, 0, &g, &t);
  char *ab = nt_ok(e, B, "hpvmhost maintenance enter %s --abort", e->h[A].name);
  printf("abort: %s", ab);
  char want[300];
  snprintf(want, sizeof want, "drain of host %s aborting: 1 migration(s) in flight finish", e->h[A].name);
  assert_non_null(strstr(ab, want));
  free(ab);

  int st = watch_child(&w, drain, WAIT_MS);
  char *out = drain_output(&w, st);
  char *log = nt_command_log(e);
  /* The migration in flight finished (should the one seen copying have ended just before the
   * abort, the next one started is the one in flight); no other started. */
  unsigned started = count(log, ": live migration to host ");
  assert_true(started >= 1 && started <= 2 && started < ng);
  assert_int_equal(count(out, ": live migration to host "), started);
  assert_int_equal(st, 1);
  snprintf(want, sizeof want, "drain of host %s aborted after %u migration(s): the host is Up again with %u guest(s)",
           e->h[A].name, started, ng - started);
  assert_non_null(strstr(out, want));
  free(out);
  char word[32];
  maint_file(e, A, word, sizeof word);
  assert_string_equal(word, "");
  wait_status(&w, B, e->h[A].name, "Up");
  snprintf(want, sizeof want, "maintenance %s: VM %s: migrated to host %s", e->h[A].name, GUESTS[g].name, e->h[t].name);
  assert_non_null(strstr(log, want));
  for (unsigned k = 0; k < ng; k++) {
    int h = must_settle(&w, k);
    char line[200], *p;
    snprintf(line, sizeof line, "maintenance %s: VM %s: migrated to host ", e->h[A].name, GUESTS[k].name);
    if ((p = strstr(log, line))) {
      char host[64] = "";
      sscanf(p + strlen(line), "%63s", host);
      assert_int_equal(h, nt_host_index(e, host));
    } else {
      assert_int_equal(h, A);
      assert_int_equal(w.most_apps[k], 1);
    }
  }
  snprintf(want, sizeof want, "maintenance %s: abort asked by", e->h[A].name);
  assert_int_equal(count(log, want), 1);
  snprintf(want, sizeof want, "aborted after %u migration(s)", started);
  assert_non_null(strstr(log, want));
  free(log);
  verify_all(&w, (unsigned[NG_MAX]){1, 1, 1, 1});
}

/* ---- 5. no other host Up ------------------------------------------------------------------------------- */

/* Three namespaces, hpvmd on hosta only: a cluster of one. */
static int setup_alone(void **state) {
  nt_env *e = nt_env_new(3);
  *state = e;
  snprintf(e->lease_timeout, sizeof e->lease_timeout, "3");
  snprintf(e->gossip_probe_ms, sizeof e->gossip_probe_ms, "100");
  nt_hpvmd_start(e, A);
  return 0;
}

/* What an hpvmd restarted a moment ago sees too: nobody to drain to. The drain says so rather
 * than "no room", the host stays Draining, the guest runs on; exit makes the host Up. */
static void test_no_other_host_up(void **state) {
  nt_env *e = *state;
  watch w;
  watch_init(&w, e, 1);
  guests_start(e, 1);
  nt_out r = nt_cmd(e, A, "hpvmhost maintenance enter %s", e->h[A].name);
  printf("%s%s", r.o, r.e);
  assert_int_equal(r.status, 1);
  assert_non_null(strstr(r.o, "): no other host is Up as this host sees the cluster (hpvmhost status); it stays here"));
  char want[300];
  snprintf(want, sizeof want, "host %s stays draining: 1 guest(s) still run here: %s (64 MB, no other host is Up as "
           "this host sees the cluster (hpvmhost status));", e->h[A].name, GUESTS[0].name);
  assert_non_null(strstr(r.e, want));
  nt_out_free(&r);
  char word[32];
  maint_file(e, A, word, sizeof word);
  assert_string_equal(word, "draining");
  free(nt_ok(e, A, "hpvmhost maintenance exit %s", e->h[A].name));
  maint_file(e, A, word, sizeof word);
  assert_string_equal(word, "");
  assert_int_equal(must_settle(&w, 0), A);
  verify_all(&w, (unsigned[NG_MAX]){1, 0, 0, 0});
}

int main(void) {
  nt_require_netns();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_draining_hosts_hpvmd_killed, setup3, nt_teardown),
      cmocka_unit_test_setup_teardown(test_targets_hpvmd_killed, setup3, nt_teardown),
      cmocka_unit_test_setup_teardown(test_draining_host_crashes, setup3, nt_teardown),
      cmocka_unit_test_setup_teardown(test_drain_aborted, setup3, nt_teardown),
      cmocka_unit_test_setup_teardown(test_no_other_host_up, setup_alone, nt_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
