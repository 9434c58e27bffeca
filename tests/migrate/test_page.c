/* test_page.c — page batches (migrate/page.c): every encoding round-trips into another VM's
 * memory (zero, raw, LZ4, delta against what was sent before), `auto` compresses only where
 * the link limits, never-touched frames are sent as zero without being read, round 0 defers
 * frames written since the log started and later rounds cache and delta them (unchanged ones
 * left out), a cache smaller than the working set stays exact, a hot set as large as the
 * cache keeps its place, and a damaged batch
 * (truncated, lengths that do not add up, frames outside RAM, unknown kinds, a malformed
 * delta or LZ4 block, a delta for a frame the destination never received) is refused with
 * HPVM_ECORRUPT before anything outside its own RAM frames is written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

#define MEM (8u << 20)
#define NFR (MEM / VM_FRAME_SIZE)
/* mixed(): frame f is zero when f % 5 == 0, random when f % 5 == 4, text otherwise. */
#define N_ZERO ((NFR + 4) / 5)
#define N_RANDOM ((NFR + 0) / 5)
#define N_TEXT (NFR - N_ZERO - N_RANDOM)

static vm *blank(uint64_t mem) {
  vm_config cfg = {.memory = mem, .ncpus = 1, .console_in = -1, .console_out = -1};
  vm *v = NULL;
  char msg[256];
  if (vm_create(&cfg, &v, msg, sizeof msg)) fail_msg("vm_create: %s", msg);
  return v;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

/* Frame f: 0 zero, 1 text-like (compressible), 2 random. */
static void fill_frame(vm *v, uint64_t f, int what) {
  uint8_t page[VM_FRAME_SIZE];
  if (what == 0) memset(page, 0, sizeof page);
  for (unsigned i = 0; what && i < sizeof page; i++)
    page[i] = what == 1 ? (uint8_t)("the quick brown fox jumps over the lazy dog "[(i + f) % 44]) : (uint8_t)next();
  assert_int_equal(vm_mem_write(v, f * VM_FRAME_SIZE, page, sizeof page), 0);
}

/* Send frames of `want` (NULL: all) of src in round `round` into dst; totals per kind. */
typedef struct totals { uint64_t zero, raw, lz4, delta, same, frames; } totals;
static totals move(mig_encoder *e, vm *src, vm *dst, uint64_t *rcv, uint32_t round, const uint64_t *want, const uint64_t *pop) {
  totals t = {0};
  char msg[256];
  for (uint64_t first = 0; first < NFR; first += MIG_CHUNK_FRAMES) {
    assert_int_equal(mig_encode(e, round, first, MIG_CHUNK_FRAMES, want, NULL, pop), 0);
    mig_batch *b = &e->b;
    int n = mig_decode(dst, rcv, round, first, b->kinds, b->span, b->lens, b->nlens, b->bulk, b->bulk_len, msg, sizeof msg);
    if (n < 0) fail_msg("mig_decode: %s", msg);
    assert_int_equal((unsigned)n, b->nframes);
    t.zero += b->zero, t.raw += b->raw, t.lz4 += b->lz4, t.delta += b->delta, t.same += b->same, t.frames += b->nframes;
  }
  (void)src;
  return t;
}

/* The destination's bitmap of frames it holds something for (mig_decode keeps it). */
static uint64_t *received(vm *v) {
  uint64_t *m = calloc(vm_dirty_log_words(v), 8);
  assert_non_null(m);
  return m;
}

static void assert_same(vm *a, vm *b) {
  assert_memory_equal(vm_mem_ptr(a, 0, MEM), vm_mem_ptr(b, 0, MEM), MEM);
}

static void mixed(vm *v) {
  for (uint64_t f = 0; f < NFR; f++) fill_frame(v, f, f % 5 == 0 ? 0 : f % 5 < 4 ? 1 : 2);
}

static void test_zero_raw_roundtrip_without_compression(void **s) {
  (void)s;
  vm *a = blank(MEM), *b = blank(MEM);
  uint64_t *rcv_b = received(b);
  mixed(a);
  mig_encoder e;
  char msg[256];
  assert_int_equal(mig_encoder_init(&e, a, MIG_COMPRESS_NONE, 0, 1, msg, sizeof msg), 0);
  totals t = move(&e, a, b, rcv_b, 0, NULL, NULL);
  assert_int_equal(t.frames, NFR);
  assert_int_equal(t.zero, N_ZERO);
  assert_int_equal(t.raw, NFR - N_ZERO);
  assert_int_equal(t.lz4 + t.delta, 0);
  assert_same(a, b);
  mig_encoder_free(&e);
  free(rcv_b);
  vm_destroy(a), vm_destroy(b);
}

static void test_lz4_roundtrip_compresses_text_and_sends_random_raw(void **s) {
  (void)s;
  vm *a = blank(MEM), *b = blank(MEM);
  uint64_t *rcv_b = received(b);
  mixed(a);
  mig_encoder e;
  char msg[256];
  assert_int_equal(mig_encoder_init(&e, a, MIG_COMPRESS_LZ4, 0, 1, msg, sizeof msg), 0);
  uint64_t wire = 0;
  totals t = {0};
  for (uint64_t first = 0; first < NFR; first += MIG_CHUNK_FRAMES) {
    assert_int_equal(mig_encode(&e, 0, first, MIG_CHUNK_FRAMES, NULL, NULL, NULL), 0);
    mig_batch *bt = &e.b;
    assert_true(mig_decode(b, rcv_b, 0, first, bt->kinds, bt->span, bt->lens, bt->nlens, bt->bulk, bt->bulk_len, msg, sizeof msg) >= 0);
    wire += bt->bulk_len;
    t.lz4 += bt->lz4, t.raw += bt->raw, t.zero += bt->zero;
  }
  assert_int_equal(t.zero, N_ZERO);
  /* Runs of 3 text + 1 random frames still pay; a random frame alone at a chunk's start
   * (frame 1024) does not. */
  assert_int_equal(t.raw, 1);
  assert_int_equal(t.lz4, N_TEXT + N_RANDOM - 1);
  assert_true(wire < (uint64_t)N_RANDOM * VM_FRAME_SIZE + (uint64_t)N_TEXT * VM_FRAME_SIZE / 4);
  assert_same(a, b);
  /* A chunk of random frames does not pay: raw. */
  for (uint64_t f = 0; f < MIG_CHUNK_FRAMES; f++) fill_frame(a, f, 2);
  assert_int_equal(mig_encode(&e, 0, 0, MIG_CHUNK_FRAMES, NULL, NULL, NULL), 0);
  assert_int_equal(e.b.raw, MIG_CHUNK_FRAMES);
  assert_int_equal(e.b.lz4, 0);
  assert_int_equal(e.b.bulk_len, MIG_CHUNK_FRAMES * VM_FRAME_SIZE);
  mig_encoder_free(&e);
  free(rcv_b);
  vm_destroy(a), vm_destroy(b);
}

static void test_auto_compresses_only_where_the_link_limits(void **s) {
  (void)s;
  vm *a = blank(MEM), *b = blank(MEM), *c = blank(MEM), *d = blank(MEM);
  uint64_t *rcv_b = received(b), *rcv_c = received(c), *rcv_d = received(d);
  for (uint64_t f = 0; f < NFR; f++) fill_frame(a, f, 1);
  mig_encoder e;
  char msg[256];
  /* A 1 Gbit/s link that limits the transfer (125 MB/s, far less than LZ4 does on text). */
  assert_int_equal(mig_encoder_init(&e, a, MIG_COMPRESS_AUTO, 0, 2, msg, sizeof msg), 0);
  mig_auto_link(&e.au, 125e6, 2);
  totals t = move(&e, a, b, rcv_b, 0, NULL, NULL);
  assert_int_equal(t.lz4, NFR);
  assert_true(e.au.compress);
  assert_true(e.au.lz4_bps > 0 && e.au.ratio > 0 && e.au.ratio < 0.5);
  assert_same(a, b);
  /* The CPU limits (loopback; the source learnt it from the ACKs): never compressed, not
   * even a probe, whatever was measured before. */
  mig_auto_link(&e.au, 0, 2);
  assert_false(e.au.compress);
  uint64_t raw = 0, lz4 = 0;
  for (unsigned rep = 0; rep < 4; rep++) {
    totals u = move(&e, a, c, rcv_c, 0, NULL, NULL);
    raw += u.raw, lz4 += u.lz4;
  }
  assert_int_equal(lz4, 0);
  assert_int_equal(raw, 4 * NFR);
  assert_same(a, c);
  /* A link that limits but is faster than LZ4 on both lanes (1 TB/s): raw, probing now and
   * then to keep the measures current. */
  mig_auto_link(&e.au, 1e12, 2);
  assert_false(e.au.compress);
  raw = lz4 = 0;
  for (unsigned rep = 0; rep < 4; rep++) {
    totals u = move(&e, a, d, rcv_d, 0, NULL, NULL);
    raw += u.raw, lz4 += u.lz4;
  }
  assert_false(e.au.compress);
  assert_true(raw > lz4 * 8);
  assert_true(lz4 > 0);   /* the probes */
  assert_same(a, d);
  mig_encoder_free(&e);
  free(rcv_b), free(rcv_c), free(rcv_d);
  vm_destroy(a), vm_destroy(b), vm_destroy(c), vm_destroy(d);
}

static void set_bit(uint64_t *m, uint64_t f) { m[f / 64] |= 1ull << (f % 64); }
static bool bit_of(const uint64_t *m, uint64_t f) { return m[f / 64] >> (f % 64) & 1; }

static void test_resent_frames_go_as_deltas_against_what_was_sent(void **s) {
  (void)s;
  vm *a = blank(MEM), *b = blank(MEM);
  uint64_t *rcv_b = received(b);
  mixed(a);
  mig_encoder e;
  char msg[256];
  assert_int_equal(mig_encoder_init(&e, a, MIG_COMPRESS_AUTO, 1 << 20, 1, msg, sizeof msg), 0);
  move(&e, a, b, rcv_b, 0, NULL, NULL);
  uint64_t want[NFR / 64];
  /* Round 1: 100 data frames change one word each; they are not cached yet: sent as data. */
  memset(want, 0, sizeof want);
  for (uint64_t f = 1; f < 500; f += 5) {
    uint64_t w = next();
    assert_int_equal(vm_mem_write(a, f * VM_FRAME_SIZE + 8 * (f % 512), &w, 8), 0);
    set_bit(want, f);
  }
  totals t = move(&e, a, b, rcv_b, 1, want, NULL);
  assert_int_equal(t.frames, 100);
  assert_int_equal(t.delta, 0);
  assert_same(a, b);
  /* Round 2: they change again; now each is a delta of a few bytes. */
  for (uint64_t f = 1; f < 500; f += 5) {
    uint64_t w = next();
    assert_int_equal(vm_mem_write(a, f * VM_FRAME_SIZE + 16, &w, 8), 0);
  }
  uint64_t bytes = 0;
  for (uint64_t first = 0; first < NFR; first += MIG_CHUNK_FRAMES) {
    assert_int_equal(mig_encode(&e, 2, first, MIG_CHUNK_FRAMES, want, NULL, NULL), 0);
    mig_batch *bt = &e.b;
    assert_true(mig_decode(b, rcv_b, 2, first, bt->kinds, bt->span, bt->lens, bt->nlens, bt->bulk, bt->bulk_len, msg, sizeof msg) >= 0);
    t.delta += bt->delta;
    bytes += bt->bulk_len;
  }
  assert_int_equal(t.delta, 100);
  assert_true(bytes <= 100 * 12);
  assert_same(a, b);
  /* A frame that became zero goes as zero and leaves the cache; the 99 that did not change
   * are left out: the destination holds them. */
  uint8_t zero[VM_FRAME_SIZE] = {0};
  assert_int_equal(vm_mem_write(a, 6 * VM_FRAME_SIZE, zero, sizeof zero), 0);
  t = move(&e, a, b, rcv_b, 3, want, NULL);
  assert_int_equal(t.zero, 1);
  assert_int_equal(t.same, 99);
  assert_int_equal(t.frames, 1);
  assert_false(mig_encoder_cached(&e, 6));
  assert_true(mig_encoder_cached(&e, 11));
  assert_same(a, b);
  mig_encoder_free(&e);
  free(rcv_b);
  vm_destroy(a), vm_destroy(b);
}

/* Round 0 leaves out what the guest wrote since the log started (the defer map, which the
 * source fills while round 0 runs); round 1 sends those frames for the first time and caches
 * them; from round 2 on they are deltas, applied against the destination's copy. */
static void test_round_0_defers_written_frames_and_later_rounds_delta_them(void **s) {
  (void)s;
  vm *a = blank(MEM), *b = blank(MEM);
  uint64_t *rcv_b = received(b);
  mixed(a);
  mig_encoder e;
  char msg[256];
  assert_int_equal(mig_encoder_init(&e, a, MIG_COMPRESS_LZ4, 1 << 20, 1, msg, sizeof msg), 0);
  static _Atomic uint64_t defer[NFR / 64];
  uint64_t want[NFR / 64];
  memset(want, 0, sizeof want);
  const uint64_t hot[] = {3, 7, 301, 1201, 2047};   /* data frames (mixed(): f % 5 != 0) */
  for (unsigned i = 0; i < 5; i++) atomic_fetch_or(&defer[hot[i] / 64], 1ull << (hot[i] % 64)), set_bit(want, hot[i]);
  totals t = {0};
  for (uint64_t first = 0; first < NFR; first += MIG_CHUNK_FRAMES) {
    assert_int_equal(mig_encode(&e, 0, first, MIG_CHUNK_FRAMES, NULL, defer, NULL), 0);
    mig_batch *bt = &e.b;
    assert_true(mig_decode(b, rcv_b, 0, first, bt->kinds, bt->span, bt->lens, bt->nlens, bt->bulk, bt->bulk_len, msg, sizeof msg) >= 0);
    t.frames += bt->nframes;
  }
  assert_int_equal(t.frames, NFR - 5);
  for (unsigned i = 0; i < 5; i++) {
    assert_false(rcv_b[hot[i] / 64] >> (hot[i] % 64) & 1);
    assert_false(mig_encoder_cached(&e, hot[i]));
  }
  /* Round 1: the deferred frames, as data, now cached. */
  t = move(&e, a, b, rcv_b, 1, want, NULL);
  assert_int_equal(t.frames, 5);
  assert_int_equal(t.delta, 0);
  assert_same(a, b);
  for (unsigned i = 0; i < 5; i++) assert_true(mig_encoder_cached(&e, hot[i]));
  /* Round 2: one word each: deltas of 10 bytes, rebuilt from the destination's copy. */
  for (unsigned i = 0; i < 5; i++) {
    uint64_t w = next();
    assert_int_equal(vm_mem_write(a, hot[i] * VM_FRAME_SIZE + 8 * i, &w, 8), 0);
  }
  uint64_t bytes = 0;
  for (uint64_t first = 0; first < NFR; first += MIG_CHUNK_FRAMES) {
    assert_int_equal(mig_encode(&e, 2, first, MIG_CHUNK_FRAMES, want, NULL, NULL), 0);
    mig_batch *bt = &e.b;
    assert_true(mig_decode(b, rcv_b, 2, first, bt->kinds, bt->span, bt->lens, bt->nlens, bt->bulk, bt->bulk_len, msg, sizeof msg) >= 0);
    t.delta += bt->delta;
    bytes += bt->delta_bytes;
  }
  assert_int_equal(t.delta, 5);
  assert_int_equal(bytes, 5 * 10);
  assert_same(a, b);
  mig_encoder_free(&e);
  free(rcv_b);
  vm_destroy(a), vm_destroy(b);
}

/* A delta needs the destination's copy of its frame: one for a frame it never received (a
 * destination that missed round 1, or a forged batch) is refused before anything is written. */
static void test_a_delta_for_a_frame_never_received_is_refused(void **s) {
  (void)s;
  vm *a = blank(MEM), *b = blank(MEM), *c = blank(MEM);
  uint64_t *rcv_b = received(b), *rcv_c = received(c);
  mixed(a);
  mig_encoder e;
  char msg[256];
  assert_int_equal(mig_encoder_init(&e, a, MIG_COMPRESS_NONE, 1 << 20, 1, msg, sizeof msg), 0);
  uint64_t want[NFR / 64];
  memset(want, 0, sizeof want);
  set_bit(want, 261);
  move(&e, a, b, rcv_b, 1, want, NULL);   /* b holds frame 261, c does not */
  uint64_t w = 42;
  assert_int_equal(vm_mem_write(a, 261 * VM_FRAME_SIZE, &w, 8), 0);
  assert_int_equal(mig_encode(&e, 2, 256, MIG_CHUNK_FRAMES, want, NULL, NULL), 0);
  mig_batch *bt = &e.b;
  assert_int_equal(bt->delta, 1);
  uint8_t *before = malloc(MEM);
  memcpy(before, vm_mem_ptr(c, 0, MEM), MEM);
  assert_int_equal(mig_decode(c, rcv_c, 2, 256, bt->kinds, bt->span, bt->lens, bt->nlens, bt->bulk, bt->bulk_len, msg, sizeof msg),
                   HPVM_ECORRUPT);
  assert_non_null(strstr(msg, "never received"));
  assert_memory_equal(vm_mem_ptr(c, 0, MEM), before, MEM);
  /* A well-formed delta for a frame nobody sent. */
  uint8_t dk[1] = {HPVM__MIG_FRAME_KIND__MIG_FRAME_DELTA};
  const uint8_t one_word[] = {0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8};
  uint32_t dl[1] = {sizeof one_word};
  assert_int_equal(mig_decode(b, rcv_b, 1, 512, dk, 1, dl, 1, one_word, sizeof one_word, msg, sizeof msg), HPVM_ECORRUPT);
  assert_non_null(strstr(msg, "never received"));
  /* The destination that has the frame takes the delta. */
  assert_int_equal(mig_decode(b, rcv_b, 2, 256, bt->kinds, bt->span, bt->lens, bt->nlens, bt->bulk, bt->bulk_len, msg, sizeof msg), 1);
  assert_memory_equal(vm_mem_ptr(a, 261 * VM_FRAME_SIZE, VM_FRAME_SIZE), vm_mem_ptr(b, 261 * VM_FRAME_SIZE, VM_FRAME_SIZE),
                      VM_FRAME_SIZE);
  free(before);
  mig_encoder_free(&e);
  free(rcv_b), free(rcv_c);
  vm_destroy(a), vm_destroy(b), vm_destroy(c);
}

/* A cache of 16 frames under a working set of 24 of which 12 change each round (some turn
 * zero and come back): entries are evicted and reused, and every delta still rebuilds exactly
 * the source's frame at the destination. */
static void test_a_cache_smaller_than_the_working_set_stays_exact(void **s) {
  (void)s;
  vm *a = blank(MEM), *b = blank(MEM);
  uint64_t *rcv_b = received(b);
  mixed(a);
  mig_encoder e;
  char msg[256];
  assert_int_equal(mig_encoder_init(&e, a, MIG_COMPRESS_AUTO, 16 * VM_FRAME_SIZE, 1, msg, sizeof msg), 0);
  move(&e, a, b, rcv_b, 0, NULL, NULL);
  uint64_t want[NFR / 64];
  totals all = {0};
  for (uint32_t round = 1; round <= 16; round++) {
    memset(want, 0, sizeof want);
    for (unsigned k = 0; k < 12; k++) {
      uint64_t f = 1001 + next() % 24;
      uint64_t w[3] = {next(), next(), next()};
      if (next() % 8 == 0) fill_frame(a, f, 0);
      else assert_int_equal(vm_mem_write(a, f * VM_FRAME_SIZE + 8 * (next() % 500), w, sizeof w), 0);
      set_bit(want, f);
    }
    totals t = move(&e, a, b, rcv_b, round, want, NULL);
    all.delta += t.delta, all.zero += t.zero, all.raw += t.raw + t.lz4;
    assert_same(a, b);
  }
  assert_true(all.delta > 0 && all.zero > 0 && all.raw > 0);
  assert_true(e.cache.evictions > 0);
  assert_true(e.cache.used <= 16);
  mig_encoder_free(&e);
  free(rcv_b);
  vm_destroy(a), vm_destroy(b);
}

/* A hot set exactly as large as the cache, walked in order round after round with one more
 * frame each time: the set keeps its slots (every frame a delta), the extra frames go
 * uncached, straight from guest memory. */
static void test_a_hot_set_as_large_as_the_cache_keeps_its_place(void **s) {
  (void)s;
  vm *a = blank(MEM), *b = blank(MEM);
  uint64_t *rcv_b = received(b);
  mixed(a);
  mig_encoder e;
  char msg[256];
  assert_int_equal(mig_encoder_init(&e, a, MIG_COMPRESS_NONE, 64 * VM_FRAME_SIZE, 1, msg, sizeof msg), 0);
  move(&e, a, b, rcv_b, 0, NULL, NULL);
  uint64_t want[NFR / 64];
  for (uint32_t round = 1; round <= 5; round++) {
    memset(want, 0, sizeof want);
    unsigned n = 0;
    for (uint64_t f = 1; n < 64; f++)   /* 64 data frames: mixed() makes every fifth zero */
      if (f % 5) set_bit(want, f), n++;
    set_bit(want, 2001 + round);        /* and one more, another each round */
    for (uint64_t f = 0; f < NFR; f++) {
      uint64_t w = next() | 1;
      if (bit_of(want, f)) assert_int_equal(vm_mem_write(a, f * VM_FRAME_SIZE + 8 * (f % 512), &w, 8), 0);
    }
    totals t = move(&e, a, b, rcv_b, round, want, NULL);
    assert_same(a, b);
    if (round == 1) assert_int_equal(t.raw, 65);          /* all new: 64 cached, one not */
    else assert_int_equal(t.delta, 64), assert_int_equal(t.raw, 1);
  }
  assert_int_equal(e.cache.evictions, 0);
  assert_int_equal(e.cache.uncached, 5);
  mig_encoder_free(&e);
  free(rcv_b);
  vm_destroy(a), vm_destroy(b);
}

static void test_delta_format_roundtrips_and_refuses_garbage(void **s) {
  (void)s;
  uint8_t old[VM_FRAME_SIZE], cur[VM_FRAME_SIZE], page[VM_FRAME_SIZE], d[VM_FRAME_SIZE * 2];
  for (unsigned k = 0; k < 200; k++) {
    for (unsigned i = 0; i < sizeof old; i++) old[i] = (uint8_t)next();
    memcpy(cur, old, sizeof cur);
    unsigned changes = k % 40;
    for (unsigned c = 0; c < changes; c++) cur[next() % sizeof cur] ^= (uint8_t)(1 + next() % 255);
    int n = mig_delta_encode(old, cur, d, sizeof d);
    assert_true(n >= 0);
    memcpy(page, old, sizeof page);
    assert_int_equal(mig_delta_apply(page, d, (size_t)n), 0);
    assert_memory_equal(page, cur, sizeof page);
  }
  /* Unchanged: empty. Too long for max: -1. */
  assert_int_equal(mig_delta_encode(old, old, d, 16), 0);
  for (unsigned i = 0; i < sizeof cur; i++) cur[i] = (uint8_t)~old[i];
  assert_int_equal(mig_delta_encode(old, cur, d, MIG_DELTA_MAX), -1);
  /* Runs past the end of the page, a changed run of 0, a varint that never ends. */
  const uint8_t past[] = {0x80, 0x20, 0x08, 1, 2, 3, 4, 5, 6, 7, 8};    /* zero run 4096, then 8 bytes */
  const uint8_t empty[] = {0x00, 0x00};
  const uint8_t endless[] = {0xff, 0xff, 0xff, 0xff};
  const uint8_t shortdata[] = {0x00, 0x08, 1, 2};
  memcpy(page, old, sizeof page);
  assert_int_equal(mig_delta_apply(page, past, sizeof past), -1);
  assert_int_equal(mig_delta_apply(page, empty, sizeof empty), -1);
  assert_int_equal(mig_delta_apply(page, endless, sizeof endless), -1);
  assert_int_equal(mig_delta_apply(page, shortdata, sizeof shortdata), -1);
  assert_memory_equal(page, old, sizeof page);
}

static void test_never_touched_frames_are_zero_without_reading(void **s) {
  (void)s;
  vm *a = blank(MEM), *b = blank(MEM);
  uint64_t *rcv_b = received(b);
  uint64_t pop[NFR / 64];
  assert_int_equal(vm_mem_populated(a, pop), 0);
  for (unsigned w = 0; w < NFR / 64; w++) assert_int_equal(pop[w], 0);
  fill_frame(a, 3, 1);
  fill_frame(a, 700, 2);
  fill_frame(a, 701, 0);   /* written, but zero: populated, and found zero by reading */
  assert_int_equal(vm_mem_populated(a, pop), 0);
  unsigned n = 0;
  for (unsigned w = 0; w < NFR / 64; w++) n += (unsigned)__builtin_popcountll(pop[w]);
  assert_int_equal(n, 3);
  assert_true(pop[0] >> 3 & 1);
  assert_true(pop[700 / 64] >> (700 % 64) & 1);
  mig_encoder e;
  char msg[256];
  assert_int_equal(mig_encoder_init(&e, a, MIG_COMPRESS_NONE, 0, 1, msg, sizeof msg), 0);
  totals t = move(&e, a, b, rcv_b, 0, NULL, pop);
  assert_int_equal(t.frames, NFR);
  assert_int_equal(t.raw, 2);
  assert_int_equal(t.zero, NFR - 2);
  assert_same(a, b);
  /* vm_mem_clear: everything reads zero and is unpopulated again. */
  assert_int_equal(vm_mem_clear(a), 0);
  assert_int_equal(vm_mem_populated(a, pop), 0);
  for (unsigned w = 0; w < NFR / 64; w++) assert_int_equal(pop[w], 0);
  mig_encoder_free(&e);
  free(rcv_b);
  vm_destroy(a), vm_destroy(b);
}

/* A VM above 4 GiB has the device window between its RAM ranges: frames there are no RAM. */
static void test_frames_in_the_hole_are_never_sent_or_accepted(void **s) {
  (void)s;
  uint64_t mem = VM_LOW_RAM_MAX + (4u << 20);
  vm *a = blank(mem), *b = blank(mem);
  uint64_t *rcv_b = received(b);
  uint64_t hole = VM_LOW_RAM_MAX >> VM_FRAME_SHIFT, high = VM_HIGH_RAM_BASE >> VM_FRAME_SHIFT;
  fill_frame(a, hole - 1, 1);
  fill_frame(a, high, 2);
  mig_encoder e;
  char msg[256];
  assert_int_equal(mig_encoder_init(&e, a, MIG_COMPRESS_LZ4, 0, 1, msg, sizeof msg), 0);
  assert_int_equal(mig_encode(&e, 0, hole, MIG_CHUNK_FRAMES, NULL, NULL, NULL), 0);
  assert_int_equal(e.b.nframes, 0);
  assert_int_equal(mig_encode(&e, 0, high, MIG_CHUNK_FRAMES, NULL, NULL, NULL), 0);
  assert_int_equal(e.b.raw, 1);
  assert_true(mig_decode(b, rcv_b, 0, high, e.b.kinds, e.b.span, e.b.lens, e.b.nlens, e.b.bulk, e.b.bulk_len, msg, sizeof msg) >= 0);
  assert_memory_equal(vm_mem_ptr(a, high << VM_FRAME_SHIFT, VM_FRAME_SIZE), vm_mem_ptr(b, high << VM_FRAME_SHIFT, VM_FRAME_SIZE),
                      VM_FRAME_SIZE);
  /* The same batch claimed for the hole is refused. */
  assert_int_equal(mig_decode(b, rcv_b, 0, hole, e.b.kinds, e.b.span, e.b.lens, e.b.nlens, e.b.bulk, e.b.bulk_len, msg, sizeof msg),
                   HPVM_ECORRUPT);
  assert_non_null(strstr(msg, "not in the VM's RAM"));
  mig_encoder_free(&e);
  free(rcv_b);
  vm_destroy(a), vm_destroy(b);
}

/* Each damaged variant of a good batch is refused, and the destination's memory is as before
 * (the checks come before any write) — except a bad LZ4 block, which may only touch its own
 * frames. */
static void test_damaged_batches_are_refused(void **s) {
  (void)s;
  vm *a = blank(MEM), *b = blank(MEM);
  uint64_t *rcv_b = received(b);
  mixed(a);
  for (uint64_t f = 256; f < 512; f++) fill_frame(a, f, f % 3 ? 1 : 0);
  mig_encoder e;
  char msg[256];
  assert_int_equal(mig_encoder_init(&e, a, MIG_COMPRESS_LZ4, 1 << 20, 1, msg, sizeof msg), 0);
  uint8_t *before = malloc(MEM);
  memcpy(before, vm_mem_ptr(b, 0, MEM), MEM);
  assert_int_equal(mig_encode(&e, 0, 256, MIG_CHUNK_FRAMES, NULL, NULL, NULL), 0);
  mig_batch *bt = &e.b;
  assert_true(bt->lz4 > 0 && bt->nlens > 0);
  uint8_t kinds[MIG_CHUNK_FRAMES];
  uint32_t lens[MIG_CHUNK_FRAMES];
  memcpy(kinds, bt->kinds, sizeof kinds);
  memcpy(lens, bt->lens, sizeof lens);
  /* Truncated bulk, extra bulk, a missing length, an extra length, a length past the bulk. */
  assert_int_equal(mig_decode(b, rcv_b, 0, 256, kinds, bt->span, lens, bt->nlens, bt->bulk, bt->bulk_len - 1, msg, sizeof msg), HPVM_ECORRUPT);
  assert_int_equal(mig_decode(b, rcv_b, 0, 256, kinds, bt->span, lens, bt->nlens, bt->bulk, bt->bulk_len + 1, msg, sizeof msg), HPVM_ECORRUPT);
  assert_int_equal(mig_decode(b, rcv_b, 0, 256, kinds, bt->span, lens, bt->nlens - 1, bt->bulk, bt->bulk_len, msg, sizeof msg), HPVM_ECORRUPT);
  lens[bt->nlens] = 5;
  assert_int_equal(mig_decode(b, rcv_b, 0, 256, kinds, bt->span, lens, bt->nlens + 1, bt->bulk, bt->bulk_len, msg, sizeof msg), HPVM_ECORRUPT);
  lens[0] = 1u << 30;
  assert_int_equal(mig_decode(b, rcv_b, 0, 256, kinds, bt->span, lens, bt->nlens, bt->bulk, bt->bulk_len, msg, sizeof msg), HPVM_ECORRUPT);
  lens[0] = bt->lens[0];
  /* Unknown kind; a span too long; frames past the end of RAM. */
  kinds[7] = 9;
  assert_int_equal(mig_decode(b, rcv_b, 0, 256, kinds, bt->span, lens, bt->nlens, bt->bulk, bt->bulk_len, msg, sizeof msg), HPVM_ECORRUPT);
  assert_non_null(strstr(msg, "unknown kind"));
  kinds[7] = bt->kinds[7];
  assert_int_equal(mig_decode(b, rcv_b, 0, 256, kinds, MIG_CHUNK_FRAMES + 1, lens, bt->nlens, bt->bulk, bt->bulk_len, msg, sizeof msg), HPVM_ECORRUPT);
  assert_int_equal(mig_decode(b, rcv_b, 0, NFR - 8, kinds, bt->span, lens, bt->nlens, bt->bulk, bt->bulk_len, msg, sizeof msg), HPVM_ECORRUPT);
  assert_int_equal(mig_decode(b, rcv_b, 0, UINT64_MAX - 4, kinds, bt->span, lens, bt->nlens, bt->bulk, bt->bulk_len, msg, sizeof msg), HPVM_ECORRUPT);
  /* A malformed delta. */
  uint8_t dk[1] = {HPVM__MIG_FRAME_KIND__MIG_FRAME_DELTA};
  const uint8_t bad[] = {0x80, 0x20, 0x08, 1, 2, 3, 4, 5, 6, 7, 8};
  uint32_t dl[1] = {sizeof bad};
  assert_int_equal(mig_decode(b, rcv_b, 1, 5, dk, 1, dl, 1, bad, sizeof bad, msg, sizeof msg), HPVM_ECORRUPT);
  assert_non_null(strstr(msg, "malformed delta"));
  assert_memory_equal(vm_mem_ptr(b, 0, MEM), before, MEM);
  /* A damaged LZ4 block: refused; only the batch's own frames may have changed. */
  uint8_t *copy = malloc(bt->bulk_len);
  memcpy(copy, bt->bulk, bt->bulk_len);
  size_t lz_at = 0;
  for (unsigned i = 0; i < bt->span && bt->kinds[i] != HPVM__MIG_FRAME_KIND__MIG_FRAME_LZ4; i++)
    if (bt->kinds[i] == HPVM__MIG_FRAME_KIND__MIG_FRAME_RAW) lz_at += VM_FRAME_SIZE;
  memset(copy + lz_at, 0xff, bt->lens[0] < 64 ? bt->lens[0] : 64);
  assert_int_equal(mig_decode(b, rcv_b, 0, 256, bt->kinds, bt->span, bt->lens, bt->nlens, copy, bt->bulk_len, msg, sizeof msg), HPVM_ECORRUPT);
  assert_memory_equal(vm_mem_ptr(b, 0, 256 * VM_FRAME_SIZE), before, 256 * VM_FRAME_SIZE);
  assert_memory_equal(vm_mem_ptr(b, 512 * VM_FRAME_SIZE, MEM - 512 * VM_FRAME_SIZE), before + 512 * VM_FRAME_SIZE,
                      MEM - 512 * VM_FRAME_SIZE);
  /* The good batch still goes in. */
  assert_int_equal(mig_decode(b, rcv_b, 0, 256, bt->kinds, bt->span, bt->lens, bt->nlens, bt->bulk, bt->bulk_len, msg, sizeof msg),
                   (int)bt->nframes);
  assert_memory_equal(vm_mem_ptr(a, 256 * VM_FRAME_SIZE, 256 * VM_FRAME_SIZE), vm_mem_ptr(b, 256 * VM_FRAME_SIZE, 256 * VM_FRAME_SIZE),
                      256 * VM_FRAME_SIZE);
  free(copy), free(before);
  mig_encoder_free(&e);
  free(rcv_b);
  vm_destroy(a), vm_destroy(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_zero_raw_roundtrip_without_compression),
      cmocka_unit_test(test_lz4_roundtrip_compresses_text_and_sends_random_raw),
      cmocka_unit_test(test_auto_compresses_only_where_the_link_limits),
      cmocka_unit_test(test_resent_frames_go_as_deltas_against_what_was_sent),
      cmocka_unit_test(test_round_0_defers_written_frames_and_later_rounds_delta_them),
      cmocka_unit_test(test_a_delta_for_a_frame_never_received_is_refused),
      cmocka_unit_test(test_a_cache_smaller_than_the_working_set_stays_exact),
      cmocka_unit_test(test_a_hot_set_as_large_as_the_cache_keeps_its_place),
      cmocka_unit_test(test_delta_format_roundtrips_and_refuses_garbage),
      cmocka_unit_test(test_never_touched_frames_are_zero_without_reading),
      cmocka_unit_test(test_frames_in_the_hole_are_never_sent_or_accepted),
      cmocka_unit_test(test_damaged_batches_are_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
