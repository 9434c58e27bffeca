/* test_migrate.c — whole live migrations in one process: the guest kernel hpvmk runs memverify,
 * heartbeat and diskverify in a source VM, moves over two authenticated channels (socketpairs)
 * into a destination VM while it runs, and must pass there (memverify finds every word it
 * wrote, heartbeat never sees ar.itc step back, diskverify finds its blocks). Then what must
 * leave the guest running on the source untouched: a cancel in the copy, quiesce and frozen
 * phases, the target's channels closing mid-copy, the handoff hook failing, a target that
 * refuses the VM; after all of them the source's own workloads pass. And the two transition
 * tables refuse what they do not list. */
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

/* The source's hooks: record ar.itc when the guest is frozen, cancel in a chosen phase, a
 * handoff that succeeds (generation 7) or fails. */
typedef struct src_ctx {
  vm *v;
  mig_source *m;
  mig_phase cancel_in;           /* MIG_PHASE_INIT: never */
  bool handoff_fails;
  bool handoff_called;
  uint64_t itc_frozen;
  unsigned progress_calls;
} src_ctx;

static void src_progress(void *ctx, const mig_stats *s) {
  src_ctx *c = ctx;
  c->progress_calls++;
  if (s->phase == MIG_PHASE_FROZEN && !c->itc_frozen) c->itc_frozen = mt_max_itc(c->v);   /* paused now */
  if (c->cancel_in != MIG_PHASE_INIT && s->phase == c->cancel_in) mig_source_cancel(c->m);
}

static int src_handoff(void *ctx, uint64_t *gen, char *msg, size_t msglen) {
  src_ctx *c = ctx;
  c->handoff_called = true;
  if (c->handoff_fails) {
    snprintf(msg, msglen, "the lease record could not be written (test)");
    return HPVM_EIO;
  }
  *gen = 7;
  return 0;
}

/* The destination's hooks: adopt generation `gen`; with `src` set, first compare the whole
 * RAM with the source's (paused for good by then, its handoff done) and count the pages that
 * differ. */
typedef struct dst_ctx {
  uint64_t adopted;
  vm *src, *dst;
  bool compared;
  uint64_t pages_differing;
} dst_ctx;
static int dst_adopt(void *ctx, uint64_t gen, char *msg, size_t msglen) {
  (void)msg, (void)msglen;
  dst_ctx *c = ctx;
  c->adopted = gen;
  if (c->src) {
    uint64_t span = vm_phys_span(c->src);
    for (uint64_t gpa = 0; gpa < span; gpa += VM_FRAME_SIZE) {
      const uint8_t *x = vm_mem_ptr(c->src, gpa, VM_FRAME_SIZE), *y = vm_mem_ptr(c->dst, gpa, VM_FRAME_SIZE);
      if (x && y && memcmp(x, y, VM_FRAME_SIZE)) c->pages_differing++;
    }
    c->compared = true;
  }
  return 0;
}

/* One migration attempt of a running source VM `a` into a new destination VM; returns the
 * source's result, the destination's in *drc. */
static int attempt(fixture *f, vm *a, src_ctx *sc, const mig_params *p, uint64_t dst_mem, vm **b_out, int *drc,
                   mig_stats *sst, dst_ctx *dc) {
  vm *b = mt_guest(dst_mem, 2, NULL, f->disk, f->con_dst, false);
  dc->dst = b;
  chan *src[2], *dst[2];
  mt_connect(&f->hosts, 2, src, dst);
  mt_dest d = {.v = b, .nch = 2, .hooks = {.ctx = dc, .adopt = dst_adopt}};
  memcpy(d.ch, dst, sizeof dst);
  mt_dest_start(&d);
  mig_source_hooks hk = {.ctx = sc, .progress = src_progress, .handoff = src_handoff};
  mig_source *m;
  char msg[512];
  sc->v = a;
  assert_int_equal(mig_source_new(a, src, 2, p, &hk, &m, msg, sizeof msg), 0);
  sc->m = m;
  int rc = mig_source_run(m, msg, sizeof msg);
  mig_source_stats(m, sst);
  mig_source_free(m);
  mt_dest_join(&d);
  *drc = d.rc;
  if (rc == 0 && d.rc != 0) fail_msg("source says done, destination: %s", d.msg);
  if (b_out) *b_out = b;
  else vm_destroy(b);
  printf("  source: %s (%s); destination: %s\n", hpvm_err_name(rc), msg, d.rc ? d.msg : "running");
  return rc;
}

/* The guest keeps running on the source: its heartbeat goes on. */
static void assert_source_runs(fixture *f) {
  char *t = mt_read(f->con_src);
  unsigned before = mt_count(t, "HB ");
  free(t);
  double end = mt_now() + 10;
  unsigned now = before;
  while (now <= before && mt_now() < end) {
    usleep(50000);
    t = mt_read(f->con_src);
    now = mt_count(t, "HB ");
    free(t);
  }
  assert_true(now > before);
}

static void assert_passes(const char *console) {
  char *t = mt_read(console);
  if (strstr(t, "FAIL") || !strstr(t, "PASS memverify") || !strstr(t, "PASS heartbeat") || !strstr(t, "PASS diskverify"))
    fail_msg("console %s:\n%s", console, t);
  free(t);
}

static void test_running_guest_moves_and_its_workloads_pass_on_the_destination(void **state) {
  fixture *f = *state;
  vm *a = mt_guest(MEM, 2, "time=2 " CMDLINE, f->disk, f->con_src, true);
  assert_int_equal(vm_start(a), 0);
  assert_true(mt_wait_for(f->con_src, "HB 2", 60));
  src_ctx sc = {0};
  dst_ctx dc = {0};
  mig_params p = {.compress = MIG_COMPRESS_AUTO};
  mig_stats st;
  vm *b = NULL;
  int drc;
  int rc = attempt(f, a, &sc, &p, MEM, &b, &drc, &st, &dc);
  assert_int_equal(rc, 0);
  assert_int_equal(drc, 0);
  assert_true(sc.handoff_called);
  assert_int_equal(dc.adopted, 7);
  assert_int_equal(st.phase, MIG_PHASE_DONE);
  assert_true(st.mem_sent >= st.mem_bytes);
  assert_true(st.pages_zero > 0 && st.pages_raw + st.pages_lz4 > 0);
  assert_true(st.wire_bytes > 0 && st.downtime_ns > 0 && st.total_ns >= st.downtime_ns);
  assert_true(sc.progress_calls >= 4);
  printf("  rounds %u, wire %llu KiB, zero %llu raw %llu lz4 %llu delta %llu, downtime %.2f ms, total %.1f ms\n",
         st.round, (unsigned long long)st.wire_bytes >> 10, (unsigned long long)st.pages_zero,
         (unsigned long long)st.pages_raw, (unsigned long long)st.pages_lz4, (unsigned long long)st.pages_delta,
         st.downtime_ns / 1e6, st.total_ns / 1e6);
  /* Guest time on the destination continues from the source's: never below it at the pause. */
  assert_true(sc.itc_frozen > 0);
  vm_pause(b);
  uint64_t itc_b = mt_min_itc(b);
  vm_resume(b);
  assert_true(itc_b >= sc.itc_frozen);
  /* The destination runs the guest to its end; the source never resumed it. */
  assert_int_equal(mt_wait_exit(b, 120), 0);
  assert_passes(f->con_dst);
  char *t = mt_read(f->con_src);
  assert_null(strstr(t, "PASS"));
  free(t);
  vm_destroy(b);
  vm_destroy(a);
}

/* A guest rewriting one word in every page of a 32 MiB working set at 100 MiB/s, over a link
 * limited to 50 MB/s: round 0 defers the working set, round 1 sends and caches it, later rounds
 * send deltas; when the destination is about to resume, its RAM is the source's byte for
 * byte, and the guest goes on there. */
static void test_a_busy_guest_arrives_byte_for_byte(void **state) {
  fixture *f = *state;
  vm *a = mt_guest(MEM, 2, "memstress wss=32M rate=100 heartbeat", f->disk, f->con_src, true);
  assert_int_equal(vm_start(a), 0);
  assert_true(mt_wait_for(f->con_src, "HB 2", 60));
  src_ctx sc = {0};
  dst_ctx dc = {.src = a};
  mig_params p = {.compress = MIG_COMPRESS_AUTO, .downtime_ms = 10, .bandwidth_bps = 50000000};
  mig_stats st;
  vm *b = NULL;
  int drc;
  assert_int_equal(attempt(f, a, &sc, &p, MEM, &b, &drc, &st, &dc), 0);
  assert_int_equal(drc, 0);
  printf("  rounds %u, zero %llu raw %llu lz4 %llu delta %llu, downtime %.2f ms, total %.1f ms, throttle %u\n", st.round,
         (unsigned long long)st.pages_zero, (unsigned long long)st.pages_raw, (unsigned long long)st.pages_lz4,
         (unsigned long long)st.pages_delta, st.downtime_ns / 1e6, st.total_ns / 1e6, st.throttle);
  assert_true(dc.compared);
  assert_int_equal(dc.pages_differing, 0);
  assert_true(st.round >= 2);
  assert_true(st.pages_delta > 0);
  /* The guest goes on at the destination: its heartbeat continues. */
  assert_true(mt_wait_for(f->con_dst, "HB ", 30));
  vm_destroy(b);
  vm_destroy(a);
}

static void test_cancel_in_each_phase_leaves_the_guest_running_on_the_source(void **state) {
  fixture *f = *state;
  vm *a = mt_guest(MEM, 2, "time=3 " CMDLINE, f->disk, f->con_src, true);
  assert_int_equal(vm_start(a), 0);
  assert_true(mt_wait_for(f->con_src, "HB 2", 60));
  const mig_phase phases[] = {MIG_PHASE_COPY, MIG_PHASE_QUIESCE, MIG_PHASE_FROZEN};
  for (unsigned k = 0; k < 3; k++) {
    src_ctx sc = {.cancel_in = phases[k]};
    dst_ctx dc = {0};
    mig_params p = {0};
    mig_stats st;
    int drc;
    printf("  cancel in %s\n", mig_phase_name(phases[k]));
    assert_int_equal(attempt(f, a, &sc, &p, MEM, NULL, &drc, &st, &dc), HPVM_ECANCELED);
    assert_true(drc < 0);
    assert_false(sc.handoff_called);
    assert_int_equal(st.phase, MIG_PHASE_CANCELED);
    assert_int_equal(st.throttle, 0);
    assert_false(vm_dirty_logging(a));
    assert_source_runs(f);
  }
  assert_int_equal(mt_wait_exit(a, 120), 0);
  assert_passes(f->con_src);
  vm_destroy(a);
}

/* A fake target: takes the HELLOs and a few batches, then its channels vanish. */
typedef struct vanish { chan *ch[2]; } vanish;
static void *vanish_main(void *arg) {
  vanish *v = arg;
  char msg[256];
  for (unsigned i = 0; i < 4; i++) {
    ProtobufCMessage *pm = NULL;
    if (chan_recv(v->ch[i % 2], &hpvm__mig_message__descriptor, &pm, NULL, NULL, 10000, msg, sizeof msg) == 0)
      protobuf_c_message_free_unpacked(pm, NULL);
  }
  chan_abort(v->ch[0]);
  chan_abort(v->ch[1]);
  return NULL;
}

static void test_failures_before_the_handoff_leave_the_guest_running_on_the_source(void **state) {
  fixture *f = *state;
  vm *a = mt_guest(MEM, 2, "time=3 " CMDLINE, f->disk, f->con_src, true);
  assert_int_equal(vm_start(a), 0);
  assert_true(mt_wait_for(f->con_src, "HB 2", 60));
  char msg[512];
  /* 1. The target's channels close in the middle of the copy (slowed to 16 MB/s). */
  {
    chan *src[2];
    vanish v;
    mt_connect(&f->hosts, 2, src, v.ch);
    pthread_t t;
    pthread_create(&t, NULL, vanish_main, &v);
    mig_params p = {.bandwidth_bps = 16u << 20};
    mig_source *m;
    assert_int_equal(mig_source_new(a, src, 2, &p, NULL, &m, msg, sizeof msg), 0);
    int rc = mig_source_run(m, msg, sizeof msg);
    printf("  target gone mid-copy: %s (%s)\n", hpvm_err_name(rc), msg);
    assert_true(rc < 0 && rc != HPVM_ECANCELED);
    mig_stats st;
    mig_source_stats(m, &st);
    assert_int_equal(st.phase, MIG_PHASE_FAILED);
    mig_source_free(m);
    pthread_join(t, NULL);
    assert_false(vm_dirty_logging(a));
    assert_source_runs(f);
  }
  /* 2. The handoff hook cannot write the lease: the target has everything, yet the guest
   * resumes here and the target discards. */
  {
    src_ctx sc = {.handoff_fails = true};
    dst_ctx dc = {0};
    mig_params p = {0};
    mig_stats st;
    int drc;
    int rc = attempt(f, a, &sc, &p, MEM, NULL, &drc, &st, &dc);
    assert_int_equal(rc, HPVM_EIO);
    assert_true(sc.handoff_called);
    assert_true(drc < 0);
    assert_int_equal(dc.adopted, 0);
    assert_source_runs(f);
  }
  /* 3. A target VM of another size refuses at HELLO. */
  {
    src_ctx sc = {0};
    dst_ctx dc = {0};
    mig_params p = {0};
    mig_stats st;
    int drc;
    int rc = attempt(f, a, &sc, &p, MEM * 2, NULL, &drc, &st, &dc);
    assert_true(rc < 0);
    assert_int_equal(drc, HPVM_EINVAL);
    assert_false(sc.handoff_called);
    assert_source_runs(f);
  }
  assert_int_equal(mt_wait_exit(a, 120), 0);
  assert_passes(f->con_src);
  vm_destroy(a);
}

static void test_transition_tables_refuse_what_they_do_not_list(void **state) {
  (void)state;
  /* The source: the happy path, then refusals. */
  assert_int_equal(mig_src_next(MIG_SRC_INIT, MIG_SRC_EV_STARTED), MIG_SRC_COPY);
  assert_int_equal(mig_src_next(MIG_SRC_COPY, MIG_SRC_EV_ROUND), MIG_SRC_COPY);
  assert_int_equal(mig_src_next(MIG_SRC_COPY, MIG_SRC_EV_CONVERGED), MIG_SRC_QUIESCE);
  assert_int_equal(mig_src_next(MIG_SRC_QUIESCE, MIG_SRC_EV_QUIESCED), MIG_SRC_FROZEN);
  assert_int_equal(mig_src_next(MIG_SRC_FROZEN, MIG_SRC_EV_ACKED), MIG_SRC_HANDOFF);
  assert_int_equal(mig_src_next(MIG_SRC_HANDOFF, MIG_SRC_EV_HANDED_OFF), MIG_SRC_COMMITTED);
  assert_int_equal(mig_src_next(MIG_SRC_COMMITTED, MIG_SRC_EV_RESUMED), MIG_SRC_DONE);
  assert_int_equal(mig_src_next(MIG_SRC_COMMITTED, MIG_SRC_EV_LOST), MIG_SRC_DONE);
  assert_int_equal(mig_src_next(MIG_SRC_FROZEN, MIG_SRC_EV_CANCEL), MIG_SRC_ROLLBACK);
  assert_int_equal(mig_src_next(MIG_SRC_ROLLBACK, MIG_SRC_EV_CANCEL), MIG_SRC_CANCELED);
  /* After the handoff nothing leads back to the source: no cancel, no error, no rollback. */
  assert_int_equal(mig_src_next(MIG_SRC_COMMITTED, MIG_SRC_EV_CANCEL), MIG_SRC_INVALID);
  assert_int_equal(mig_src_next(MIG_SRC_COMMITTED, MIG_SRC_EV_ERROR), MIG_SRC_INVALID);
  assert_int_equal(mig_src_next(MIG_SRC_HANDOFF, MIG_SRC_EV_CANCEL), MIG_SRC_INVALID);
  assert_int_equal(mig_src_next(MIG_SRC_COPY, MIG_SRC_EV_ACKED), MIG_SRC_INVALID);
  assert_int_equal(mig_src_next(MIG_SRC_INIT, MIG_SRC_EV_CONVERGED), MIG_SRC_INVALID);
  assert_int_equal(mig_src_next(MIG_SRC_DONE, MIG_SRC_EV_ERROR), MIG_SRC_INVALID);
  assert_int_equal(mig_src_next(MIG_SRC_INVALID, MIG_SRC_EV_STARTED), MIG_SRC_INVALID);
  assert_string_equal(mig_src_state_name(MIG_SRC_COMMITTED), "COMMITTED");
  /* The destination. */
  assert_int_equal(mig_dst_next(MIG_DST_HELLO, MIG_DST_EV_HELLOS), MIG_DST_RECEIVING);
  assert_int_equal(mig_dst_next(MIG_DST_RECEIVING, MIG_DST_EV_FINALS), MIG_DST_STATE);
  assert_int_equal(mig_dst_next(MIG_DST_STATE, MIG_DST_EV_RESTORED), MIG_DST_ACKED);
  assert_int_equal(mig_dst_next(MIG_DST_ACKED, MIG_DST_EV_COMMIT), MIG_DST_ADOPT);
  assert_int_equal(mig_dst_next(MIG_DST_ADOPT, MIG_DST_EV_ADOPTED), MIG_DST_RUNNING);
  assert_int_equal(mig_dst_next(MIG_DST_RECEIVING, MIG_DST_EV_COMMIT), MIG_DST_INVALID);   /* no COMMIT before the state */
  assert_int_equal(mig_dst_next(MIG_DST_HELLO, MIG_DST_EV_FINALS), MIG_DST_INVALID);
  assert_int_equal(mig_dst_next(MIG_DST_ADOPT, MIG_DST_EV_ABORT), MIG_DST_INVALID);        /* the lease is taken */
  assert_int_equal(mig_dst_next(MIG_DST_RUNNING, MIG_DST_EV_ERROR), MIG_DST_INVALID);
  assert_string_equal(mig_dst_event_name(MIG_DST_EV_FINALS), "FINALS");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_transition_tables_refuse_what_they_do_not_list),
      cmocka_unit_test_setup_teardown(test_running_guest_moves_and_its_workloads_pass_on_the_destination, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_busy_guest_arrives_byte_for_byte, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel_in_each_phase_leaves_the_guest_running_on_the_source, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failures_before_the_handoff_leave_the_guest_running_on_the_source, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
