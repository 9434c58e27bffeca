/* test_handoff.c — the library's side of a safe ownership handoff, in one process (hpvmk
 * running memverify + heartbeat + diskverify, two encrypted channels over socketpairs):
 *
 *   - the source vanishes after its handoff hook wrote the lease, before COMMIT: the
 *     destination, which acknowledged the state, asks its decide hook (the lease) and, told
 *     the guest is its own, resumes it; its workloads pass there; the source never resumes
 *   - the handoff fails and the abort hook records the abort: ABORT reaches the destination,
 *     which discards without asking the lease; the guest resumes on the source
 *   - the handoff fails and the abort cannot be recorded: no resume, no ABORT; the source's
 *     guest stays paused, the destination asks the lease and (told so) runs the guest
 *   - the destination acknowledges and then closes its channels: the source notices before
 *     calling the handoff hook, records the abort and resumes; the destination's decide hook
 *     says no and it discards
 *
 * The destination reports its wait for COMMIT (ACKED) as the handoff phase. */
#include "mig_test.h"

#define MEM (64u << 20)
#define CMDLINE "memverify size=16M heartbeat diskverify blocks=64"

typedef struct fixture {
  mt_hosts hosts;
  char disk[64], con_src[64], con_dst[64];
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  mt_hosts_init(&f->hosts);
  snprintf(f->disk, sizeof f->disk, "%s/disk", f->hosts.dir);
  snprintf(f->con_src, sizeof f->con_src, "%s/con_src", f->hosts.dir);
  snprintf(f->con_dst, sizeof f->con_dst, "%s/con_dst", f->hosts.dir);
  mt_disk(f->disk);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  mt_hosts_free(&f->hosts);
  free(f);
  return 0;
}

typedef enum handoff_mode { HANDOFF_OK = 0, HANDOFF_OK_THEN_VANISH, HANDOFF_FAILS } handoff_mode;

typedef struct src_ctx {
  chan *ch0;                     /* the source's channel 0 (the library's; the fd is shut down) */
  handoff_mode handoff;
  bool abort_fails;
  bool wait_in_handoff_phase;    /* let a destination's close arrive before the hook */
  unsigned handoff_calls, abort_calls;
} src_ctx;

static void src_progress(void *ctx, const mig_stats *s) {
  src_ctx *c = ctx;
  if (c->wait_in_handoff_phase && s->phase == MIG_PHASE_HANDOFF) usleep(300000);
}

static int src_handoff(void *ctx, uint64_t *gen, char *msg, size_t msglen) {
  src_ctx *c = ctx;
  c->handoff_calls++;
  if (c->handoff == HANDOFF_FAILS) {
    snprintf(msg, msglen, "the lease record could not be written (test)");
    return HPVM_EIO;
  }
  *gen = 7;
  /* The lease is written; the source host dies before COMMIT goes out. */
  if (c->handoff == HANDOFF_OK_THEN_VANISH) shutdown(chan_fd(c->ch0), SHUT_RDWR);
  return 0;
}

static int src_abort(void *ctx, char *msg, size_t msglen) {
  src_ctx *c = ctx;
  c->abort_calls++;
  if (c->abort_fails) {
    snprintf(msg, msglen, "the shared storage does not answer (test)");
    return HPVM_EIO;
  }
  return 0;
}

typedef struct dst_ctx {
  chan *ch[2];                   /* the destination's channels (the library's) */
  bool decide_ours, close_after_ack;
  unsigned decide_calls, adopt_calls;
  bool saw_handoff_phase;
} dst_ctx;

static void dst_progress(void *ctx, const mig_stats *s) {
  dst_ctx *c = ctx;
  if (s->phase != MIG_PHASE_HANDOFF || c->saw_handoff_phase) return;
  c->saw_handoff_phase = true;   /* STATE_ACK is out: waiting for COMMIT */
  if (c->close_after_ack)
    for (unsigned i = 0; i < 2; i++) shutdown(chan_fd(c->ch[i]), SHUT_RDWR);
}

static int dst_adopt(void *ctx, uint64_t gen, char *msg, size_t msglen) {
  (void)gen, (void)msg, (void)msglen;
  ((dst_ctx *)ctx)->adopt_calls++;
  return 0;
}

static int dst_decide(void *ctx, char *msg, size_t msglen) {
  dst_ctx *c = ctx;
  c->decide_calls++;
  if (c->decide_ours) return 0;
  snprintf(msg, msglen, "the lease says the migration was aborted (test)");
  return HPVM_ESTATE;
}

/* One migration of running `a` into a new VM; the source's result, the destination's in *drc
 * and its VM in *b_out (destroyed when b_out is NULL). */
static int attempt(fixture *f, vm *a, src_ctx *sc, dst_ctx *dc, vm **b_out, int *drc) {
  vm *b = mt_guest(MEM, 2, NULL, f->disk, f->con_dst, false);
  chan *src[2], *dst[2];
  mt_connect(&f->hosts, 2, src, dst);
  sc->ch0 = src[0];
  dc->ch[0] = dst[0], dc->ch[1] = dst[1];
  mt_dest d = {.v = b, .nch = 2, .hooks = {.ctx = dc, .progress = dst_progress, .adopt = dst_adopt, .decide = dst_decide}};
  memcpy(d.ch, dst, sizeof dst);
  mt_dest_start(&d);
  mig_source_hooks hk = {.ctx = sc, .progress = src_progress, .handoff = src_handoff, .abort = src_abort};
  mig_params p = {0};
  mig_source *m;
  char msg[512];
  assert_int_equal(mig_source_new(a, src, 2, &p, &hk, &m, msg, sizeof msg), 0);
  int rc = mig_source_run(m, msg, sizeof msg);
  mig_source_free(m);
  mt_dest_join(&d);
  *drc = d.rc;
  printf("  source: %s (%s); destination: %s\n", rc ? hpvm_err_name(rc) : "handed off", msg, d.rc ? d.msg : "running");
  if (b_out) *b_out = b;
  else vm_destroy(b);
  return rc;
}

static unsigned beats(const char *console) {
  char *t = mt_read(console);
  unsigned n = mt_count(t, "HB ");
  free(t);
  return n;
}

/* The guest runs on in `console`: new heartbeats come. */
static void assert_runs(const char *console) {
  unsigned before = beats(console);
  double end = mt_now() + 10;
  while (beats(console) <= before && mt_now() < end) usleep(50000);
  assert_true(beats(console) > before);
}

/* No vCPU of v executes: the instruction count stands still. */
static void assert_paused(vm *v) {
  vm_stats s0, s1;
  vm_get_stats(v, &s0);
  usleep(300000);
  vm_get_stats(v, &s1);
  assert_int_equal(s1.retired, s0.retired);
}

static void assert_passes(const char *console) {
  char *t = mt_read(console);
  if (strstr(t, "FAIL") || !strstr(t, "PASS memverify") || !strstr(t, "PASS heartbeat") || !strstr(t, "PASS diskverify"))
    fail_msg("console %s:\n%s", console, t);
  free(t);
}

static vm *running_guest(fixture *f, const char *args) {
  vm *a = mt_guest(MEM, 2, args, f->disk, f->con_src, true);
  assert_int_equal(vm_start(a), 0);
  assert_true(mt_wait_for(f->con_src, "HB 2", 60));
  return a;
}

static void test_a_source_gone_after_the_lease_write_leaves_the_guest_to_the_destination(void **state) {
  fixture *f = *state;
  vm *a = running_guest(f, "time=3 " CMDLINE);
  src_ctx sc = {.handoff = HANDOFF_OK_THEN_VANISH};
  dst_ctx dc = {.decide_ours = true};
  vm *b;
  int drc;
  assert_int_equal(attempt(f, a, &sc, &dc, &b, &drc), 0);   /* handed off: COMMIT never left */
  assert_int_equal(drc, 0);
  assert_true(dc.saw_handoff_phase);
  assert_int_equal(dc.decide_calls, 1);
  assert_int_equal(dc.adopt_calls, 0);
  assert_int_equal(sc.abort_calls, 0);
  assert_paused(a);                                         /* never resumed after the handoff */
  assert_int_equal(mt_wait_exit(b, 120), 0);
  assert_passes(f->con_dst);
  vm_destroy(b);
  vm_destroy(a);
}

static void test_an_abort_that_is_recorded_resumes_the_source_and_the_abort_reaches_the_destination(void **state) {
  fixture *f = *state;
  vm *a = running_guest(f, "time=3 " CMDLINE);
  src_ctx sc = {.handoff = HANDOFF_FAILS};
  dst_ctx dc = {.decide_ours = true};   /* would run it, were it asked */
  int drc;
  assert_int_equal(attempt(f, a, &sc, &dc, NULL, &drc), HPVM_EIO);
  assert_true(drc < 0);
  assert_int_equal(sc.abort_calls, 1);
  assert_int_equal(dc.decide_calls, 0);
  assert_runs(f->con_src);
  assert_int_equal(mt_wait_exit(a, 120), 0);
  assert_passes(f->con_src);
  vm_destroy(a);
}

static void test_an_abort_that_cannot_be_recorded_leaves_the_source_paused_and_the_lease_decides(void **state) {
  fixture *f = *state;
  vm *a = running_guest(f, "time=3 " CMDLINE);
  src_ctx sc = {.handoff = HANDOFF_FAILS, .abort_fails = true};
  dst_ctx dc = {.decide_ours = true};   /* the lease expired: the destination took it over */
  vm *b;
  int drc;
  assert_int_equal(attempt(f, a, &sc, &dc, &b, &drc), HPVM_EIO);
  assert_int_equal(sc.abort_calls, 1);
  assert_int_equal(dc.decide_calls, 1);  /* no ABORT came: it asked the lease */
  assert_int_equal(drc, 0);
  assert_paused(a);
  assert_int_equal(mt_wait_exit(b, 120), 0);
  assert_passes(f->con_dst);
  vm_destroy(b);
  vm_destroy(a);
}

static void test_a_destination_gone_after_its_acknowledgement_gets_no_handover(void **state) {
  fixture *f = *state;
  vm *a = running_guest(f, "time=3 " CMDLINE);
  src_ctx sc = {.handoff = HANDOFF_OK, .wait_in_handoff_phase = true};
  dst_ctx dc = {.close_after_ack = true, .decide_ours = false};
  int drc;
  int rc = attempt(f, a, &sc, &dc, NULL, &drc);
  assert_true(rc < 0);
  assert_int_equal(sc.handoff_calls, 0);
  assert_int_equal(sc.abort_calls, 1);
  assert_true(drc < 0);
  assert_int_equal(dc.decide_calls, 1);
  assert_runs(f->con_src);
  assert_int_equal(mt_wait_exit(a, 120), 0);
  assert_passes(f->con_src);
  vm_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_a_source_gone_after_the_lease_write_leaves_the_guest_to_the_destination, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_an_abort_that_is_recorded_resumes_the_source_and_the_abort_reaches_the_destination,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(test_an_abort_that_cannot_be_recorded_leaves_the_source_paused_and_the_lease_decides,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(test_a_destination_gone_after_its_acknowledgement_gets_no_handover, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
