/* test_live_console.c — no console output is lost, split or repeated by a live migration. Two
 * real hpvmd hosts on loopback (live_test.h); the guest is tests/vm/guests/con_count, which
 * prints "C <n>\n" (n = 0, 1, 2, ... in 16 hex digits) one byte at a time with a spin after each,
 * so whenever the migration freezes it, it is in the middle of a line. It is migrated 20 times
 * back and forth (hpvmmigrate -o); after each move, once the source shows it elsewhere (its
 * hpvmapp has ended):
 *
 *   - the source's console.log ends with a whole line: everything the guest printed there
 *     before the handoff is in it, and nothing of the line it was in the middle of;
 *
 * and at the end, both hosts' console.log together hold every line 0..N exactly once, each
 * whole and well-formed, in order within each file.
 *
 * Before the console kept a paused guest's unfinished line in the saved state, the source
 * wrote the first part of that line and the target the rest ("C 00000000" here, "000012a\n"
 * there): the line was on neither console (netns_pingpong once lost a heartbeat line so). */
#include "live_test.h"

#define VM "conmig"
#define MIGRATIONS 20
#define LINE_LEN 19   /* "C " + 16 hex digits + "\n" */

static int create_counter(ht_env *e, char *msg, size_t len) {
  Hpvm__VmConfig c = HPVM__VM_CONFIG__INIT;
  c.name = VM;
  c.memory_bytes = 32ull << 20;
  c.vcpus = 1;
  c.kernel = VM_GUEST_DIR "/vmguest_con_count";
  c.cmdline = "";
  Hpvm__VmEntitlement ent = HPVM__VM_ENTITLEMENT__INIT;
  ent.unit = HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT;
  ent.value = 1;
  c.entitlement = &ent;
  Hpvm__CreateVmRequest cr = HPVM__CREATE_VM_REQUEST__INIT;
  cr.config = &c;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_CREATE;
  req.create = &cr;
  Hpvm__Response *r;
  int err = ht_call(e, &req, &r);
  snprintf(msg, len, "%s", r && r->message ? r->message : "");
  hpvmd_response_free(r);
  return err;
}

/* The last line of text (without its newline), for messages. */
static const char *last_line(const char *text, char *buf, size_t len) {
  size_t n = strlen(text);
  if (n && text[n - 1] == '\n') n--;
  size_t from = n;
  while (from && text[from - 1] != '\n') from--;
  snprintf(buf, len, "%.*s", (int)(n - from), text + from);
  return buf;
}

typedef struct lines {
  unsigned char *seen;   /* per n: how many times */
  long cap, max;
} lines;

/* Every line of one console: well-formed, increasing; counted in *l. A last line without its
 * newline (the guest still printing, or powered off mid-line) is left out. */
static void take_lines(const char *host, const char *text, lines *l) {
  long prev = -1;
  for (const char *p = text; *p;) {
    const char *nl = strchr(p, '\n');
    if (!nl) break;
    char *end = NULL;
    long n = (nl - p == LINE_LEN - 1 && p[0] == 'C' && p[1] == ' ') ? strtol(p + 2, &end, 16) : -1;
    if (n < 0 || end != nl) fail_msg("%s's console has a broken line: \"%.*s\"", host, (int)(nl - p), p);
    if (n <= prev) fail_msg("%s's console has line %lx after line %lx", host, n, prev);
    prev = n;
    if (n >= l->cap) {
      long cap = (n + 1) * 2;
      l->seen = realloc(l->seen, (size_t)cap);
      memset(l->seen + l->cap, 0, (size_t)(cap - l->cap));
      l->cap = cap;
    }
    l->seen[n]++;
    if (n > l->max) l->max = n;
    p = nl + 1;
  }
}

static void test_no_console_line_is_lost_split_or_repeated_by_migrations(void **state) {
  two *t = *state;
  char msg[1200];
  assert_int_equal(create_counter(&t->h[0], msg, sizeof msg), 0);
  assert_int_equal(ht_start(&t->h[0], VM, msg, sizeof msg), 0);
  assert_true(console_wait(&t->h[0], VM, 0, "C 0000000000000010\n", 20000));
  for (unsigned k = 0; k < MIGRATIONS; k++) {
    ht_env *from = &t->h[k % 2], *to = &t->h[1 - k % 2];
    size_t mark = console_len(to, VM);
    out o = migrate_cmd(t, from, "-P", VM, "-h", to->name, "-o", (char *)NULL);
    if (o.status) dump(t), fprintf(stderr, "%s", o.text);
    assert_int_equal(o.status, 0);
    out_free(&o);
    assert_true(ht_wait_state(to, VM, ON, 10000));
    assert_true(ht_wait_state(from, VM, ELSEWHERE, 10000));   /* its hpvmapp has ended: its log is complete */
    char *c = console_of(from, VM), last[100];
    size_t n = strlen(c);
    if (!n || c[n - 1] != '\n') {
      char *d = console_of(to, VM);
      fail_msg("migration %u: %s's console ends inside a line: \"%s\"; %s's goes on with \"%.40s\"", k + 1,
               from->name, last_line(c, last, sizeof last), to->name, strlen(d) > mark ? d + mark : "");
    }
    free(c);
    assert_true(console_wait(to, VM, mark, "\nC ", 10000));   /* it prints on at the target */
  }
  ht_env *last_host = &t->h[MIGRATIONS % 2];
  assert_int_equal(ht_stop(last_host, VM, HPVM__STOP_MODE__STOP_MODE_POWER_OFF, 10000, msg, sizeof msg), 0);

  lines l = {0};
  for (unsigned i = 0; i < 2; i++) {
    char *c = console_of(&t->h[i], VM);
    take_lines(t->h[i].name, c, &l);
    free(c);
  }
  printf("lines 0..%lx over %u migrations\n", l.max, MIGRATIONS);
  assert_true(l.max >= 2 * MIGRATIONS);   /* it printed on all along */
  for (long n = 0; n <= l.max; n++) {
    if (l.seen[n] == 0) fail_msg("line %lx of %lx is on neither console", n, l.max);
    if (l.seen[n] > 1) fail_msg("line %lx is on the consoles %u times", n, l.seen[n]);
  }
  free(l.seen);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_no_console_line_is_lost_split_or_repeated_by_migrations, two_setup,
                                    two_teardown),
  };
  return cmocka_run_group_tests_name("test_live_console", tests, NULL, NULL) ? 1 : 0;
}
