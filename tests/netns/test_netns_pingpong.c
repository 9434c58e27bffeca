/* test_netns_pingpong.c — one guest running memverify + heartbeat + diskverify migrated 50
 * times back and forth between two hosts (network namespaces on a veth link). Every
 * migration succeeds and leaves the guest on exactly one host under a lease naming it,
 * running on (new heartbeats there); at the end a graceful stop shows every PASS (memory
 * verified pass after pass across all the moves, disk blocks written on one host read back
 * intact on the other), the guest booted once, every heartbeat number 0..N-1 is on one of the
 * two consoles (no console output lost in a move), and the longest interval between two
 * heartbeats the guest saw is within the heartbeat period plus the longest downtime the
 * migrations measured plus a margin for a loaded host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.pb-c.h"
#include "netns_test.h"

#define VM "pp"
#define WORKLOADS "memverify heartbeat diskverify"
#define MIGRATIONS 50
#define HB_PERIOD_MS 100
#define GAP_MARGIN_MS 1000             /* host scheduling on a loaded 2-core machine */

static double json_num(const char *json, const char *key) {
  char k[100];
  snprintf(k, sizeof k, "\"%s\":", key);
  const char *p = strstr(json, k);
  return p ? strtod(p + strlen(k), NULL) : -1;
}

/* Call fn for each "HB <seq> <itc>" line of host i's console (rotated part included). */
static void each_beat(const nt_env *e, unsigned i, void (*fn)(long seq, void *ctx), void *ctx) {
  char path[600];
  for (int part = 0; part < 2; part++) {
    snprintf(path, sizeof path, "%s/vms/%s/console.log%s", e->h[i].state, VM, part ? "" : ".1");
    char *s = nt_read_file(path);
    for (const char *p = s; p && (p = strstr(p, "HB ")); p += 3)
      if (p == s || p[-1] == '\n') fn(strtol(p + 3, NULL, 10), ctx);
    free(s);
  }
}

static void note_last(long seq, void *ctx) {
  long *last = ctx;
  if (seq > *last) *last = seq;
}

typedef struct seen {
  unsigned char *bits;
  long n;
} seen;

static void note_seen(long seq, void *ctx) {
  seen *s = ctx;
  if (seq >= 0 && seq < s->n) s->bits[seq] = 1;
}

static long last_beat(const nt_env *e, unsigned i) {
  long last = -1;
  each_beat(e, i, note_last, &last);
  return last;
}

/* One move; returns the downtime it measured, in ms. */
static double move(nt_env *e, unsigned k) {
  unsigned from = k % 2, to = 1 - from;
  nt_out r = nt_cmd(e, from, "hpvmmigrate -P %s -h %s -o --json", VM, e->h[to].name);
  if (r.status != 0) {
    nt_dump_logs(e);
    fail_msg("migration %u (%s -> %s) exited %d: %s%s", k + 1, e->h[from].name, e->h[to].name, r.status, r.o, r.e);
  }
  double downtime = json_num(r.o, "downtime_ms");
  printf("migration %2u %s -> %s: total %.3f s, downtime %.1f ms, rounds %.0f, throttle %.0f %%\n", k + 1,
         e->h[from].name, e->h[to].name, json_num(r.o, "total_s"), downtime, json_num(r.o, "rounds"),
         json_num(r.o, "throttle"));
  assert_true(downtime >= 0);
  nt_out_free(&r);
  assert_int_equal(nt_guest_settled(e, VM, 10000), to);
  char want[40];
  snprintf(want, sizeof want, "HB %ld ", last_beat(e, from) + 2);
  if (!nt_console_wait(e, to, VM, want, 60000)) fail_msg("no '%s' on %s after migration %u", want, e->h[to].name, k + 1);
  return downtime;
}

static void test_a_guest_migrated_50_times_back_and_forth_stays_intact(void **state) {
  nt_env *e = *state;
  nt_guest_create(e, 0, VM, 64, 2, "memverify size=16M heartbeat diskverify blocks=64 passes=0", 8);
  nt_guest_start(e, 0, VM, "memverify: cpu 0: pass ");
  double worst = 0;
  uint64_t t0 = nt_ms();
  for (unsigned k = 0; k < MIGRATIONS; k++) {
    double d = move(e, k);
    if (d > worst) worst = d;
  }
  printf("%u migrations in %.1f s, longest downtime %.1f ms\n", MIGRATIONS, (double)(nt_ms() - t0) / 1000, worst);
  unsigned last = MIGRATIONS % 2;
  char *c = nt_guest_verify(e, last, VM, WORKLOADS);
  assert_int_equal(nt_guest_boots(e, VM), 1);
  const char *p = strstr(c, "heartbeat: ");
  assert_non_null(p);
  long beats = -1, longest = -1;
  assert_int_equal(sscanf(p, "heartbeat: %ld beats, longest interval %ld ms", &beats, &longest), 2);
  printf("heartbeat: %ld beats, longest interval %ld ms (allowed %ld)\n", beats, longest,
         HB_PERIOD_MS + (long)worst + GAP_MARGIN_MS);
  assert_true(longest <= HB_PERIOD_MS + (long)worst + GAP_MARGIN_MS);
  /* Every beat was printed on one host or the other. */
  seen s = {calloc((size_t)beats, 1), beats};
  each_beat(e, 0, note_seen, &s);
  each_beat(e, 1, note_seen, &s);
  for (long k = 0; k < beats; k++)
    if (!s.bits[k]) fail_msg("heartbeat %ld of %ld is on neither console", k, beats);
  free(s.bits);
  free(c);
}

int main(void) {
  nt_require_netns();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_a_guest_migrated_50_times_back_and_forth_stays_intact, nt_setup2,
                                      nt_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
