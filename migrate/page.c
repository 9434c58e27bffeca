/* page.c — page batches: how the source encodes a span of guest frames for the wire and how
 * the destination writes one into guest memory.
 *
 * A batch covers up to MIG_CHUNK_FRAMES consecutive frames (one chunk of the channel
 * partition) and gives each a kind (proto/migrate.proto MigFrameKind): NONE (not in the
 * batch), ZERO (no data: the zero-page shortcut; frames the host never populated are not
 * even read), RAW (4 KiB), LZ4 (consecutive LZ4 frames are one LZ4 block, compressed straight
 * from guest memory into the frame buffer), DELTA (against the copy this channel sent before).
 * The bulk bytes follow frame order, so the decoder needs only the kinds and the lengths.
 *
 * Compression, per run of data frames: `none` never, `lz4` always when it saves at least a
 * sixteenth, `auto` when the batch's policy says it pays (internal.h, mig_auto): only when
 * the link is what limits the transfer and LZ4 outruns it. On loopback the CPU limits (the
 * channel's encryption, copies, page faults) and `auto` sends raw; on a 1 Gbit/s link it
 * compresses.
 *
 * Deltas (rounds >= 1, unless no_delta). Round 0 caches nothing: it sends every frame not
 * written since the migration began (the source defers those to round 1: they would only be
 * sent twice), so what it sends rarely comes back, and copying all of memory into a cache
 * would cost more than it saves. A frame sent in round >= 1 goes into the cache: a data frame
 * is first copied (the guest keeps running: what is sent and what is cached must be the same
 * bytes) and sent from the copy. When it comes back, it is compared with its cached version
 * straight in guest memory: unchanged, it is left out (the destination holds it); a short
 * delta (<= MIG_DELTA_MAX bytes) travels instead of the data and is applied to the cached
 * version too, so both sides apply the same bytes to the same page whatever the guest wrote
 * meanwhile (a store during the comparison is in the next round's dirty set anyway). The
 * destination applies a delta to its own guest memory, which holds exactly the cached copy,
 * and refuses one for a frame it never received.
 *
 * Decoding treats the batch as hostile: the whole batch is checked (frames inside RAM, kinds
 * known, lengths adding up to the bulk exactly, every delta well formed and for a frame held
 * there) before anything is written; an LZ4 block that then fails to decode can only have
 * written inside its own frames. */
#include <lz4.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

#define FRAME VM_FRAME_SIZE
#define AUTO_ALPHA 0.25              /* weight of the newest measure in the moving averages */

static bool bit(const uint64_t *map, uint64_t f) { return map[f / 64] >> (f % 64) & 1; }
static bool abit(const _Atomic uint64_t *map, uint64_t f) {
  return atomic_load_explicit(&map[f / 64], memory_order_relaxed) >> (f % 64) & 1;
}

static bool frame_is_zero(const uint8_t *p) {
  const uint64_t *q = (const uint64_t *)(const void *)p;
  for (unsigned i = 0; i < FRAME / 8; i += 8)
    if (q[i] | q[i + 1] | q[i + 2] | q[i + 3] | q[i + 4] | q[i + 5] | q[i + 6] | q[i + 7]) return false;
  return true;
}

/* ---- Delta format ------------------------------------------------------------------------------ */

static size_t put_varint(uint8_t *o, uint32_t v) {
  size_t n = 0;
  for (; v >= 0x80; v >>= 7) o[n++] = (uint8_t)(v | 0x80);
  o[n++] = (uint8_t)v;
  return n;
}

static size_t varint_len(uint32_t v) { return v < 0x80 ? 1 : v < 0x4000 ? 2 : 3; }

/* The first word from i on where a and b differ (W when none): 8 words at a time. */
static unsigned next_diff(const uint64_t *a, const uint64_t *b, unsigned i, unsigned W) {
  for (; i < W && (i & 7); i++)
    if (a[i] != b[i]) return i;
  for (; i < W; i += 8)
    if ((a[i] ^ b[i]) | (a[i + 1] ^ b[i + 1]) | (a[i + 2] ^ b[i + 2]) | (a[i + 3] ^ b[i + 3]) | (a[i + 4] ^ b[i + 4]) |
        (a[i + 5] ^ b[i + 5]) | (a[i + 6] ^ b[i + 6]) | (a[i + 7] ^ b[i + 7]))
      break;
  for (; i < W; i++)
    if (a[i] != b[i]) return i;
  return W;
}

/* Word by word (8 bytes): a changed word costs its 8 bytes plus two short varints. cur may
 * change while this runs (guest memory): the changed runs' bytes are copied once, and what
 * was copied is what the delta says. */
int mig_delta_encode(const uint8_t *old, const uint8_t *cur, uint8_t *out, size_t max) {
  const uint64_t *a = (const uint64_t *)(const void *)old, *b = (const uint64_t *)(const void *)cur;
  const unsigned W = FRAME / 8;
  size_t o = 0;
  for (unsigned i = 0; i < W;) {
    unsigned z = next_diff(a, b, i, W);
    if (z == W) break;
    unsigned n = z + 1;
    while (n < W && a[n] != b[n]) n++;
    uint32_t zr = (z - i) * 8, nz = (n - z) * 8;
    if (o + varint_len(zr) + varint_len(nz) + nz > max) return -1;
    o += put_varint(out + o, zr);
    o += put_varint(out + o, nz);
    memcpy(out + o, cur + (size_t)z * 8, nz);
    o += nz;
    i = n;
  }
  return (int)o;
}

static int get_varint(const uint8_t *d, size_t len, size_t *p, uint32_t *v) {
  uint32_t x = 0;
  for (unsigned shift = 0; shift < 21; shift += 7) {
    if (*p >= len) return -1;
    uint8_t c = d[(*p)++];
    x |= (uint32_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return -1;
}

/* page NULL: only check. */
static int delta_walk(uint8_t *page, const uint8_t *d, size_t len) {
  size_t p = 0, pos = 0;
  while (p < len) {
    uint32_t zr, nz;
    if (get_varint(d, len, &p, &zr) || get_varint(d, len, &p, &nz)) return -1;
    if (nz == 0 || zr > FRAME - pos) return -1;
    pos += zr;
    if (nz > FRAME - pos || nz > len - p) return -1;
    if (page) memcpy(page + pos, d + p, nz);
    pos += nz, p += nz;
  }
  return 0;
}

int mig_delta_apply(uint8_t *page, const uint8_t *d, size_t len) {
  if (delta_walk(NULL, d, len)) return -1;
  return delta_walk(page, d, len);
}

/* ---- Delta cache ----------------------------------------------------------------------------- */

static void *map_zeroed(size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static void cache_free(mig_delta_cache *c) {
  if (c->slot_of) munmap(c->slot_of, c->nlocal * sizeof *c->slot_of);
  if (c->data) munmap(c->data, c->nslots * FRAME);
  free(c->local_of), free(c->free), free(c->last);
  memset(c, 0, sizeof *c);
}

static int cache_init(mig_delta_cache *c, uint64_t bytes, uint64_t nlocal) {
  memset(c, 0, sizeof *c);
  c->nslots = bytes / FRAME;
  if (c->nslots > UINT32_MAX - 1) c->nslots = UINT32_MAX - 1;
  if (!c->nslots) return 0;
  c->nlocal = nlocal;
  c->slot_of = map_zeroed(nlocal * sizeof *c->slot_of);
  c->data = map_zeroed(c->nslots * FRAME);
  c->local_of = malloc(c->nslots * sizeof *c->local_of);
  c->free = malloc(c->nslots * sizeof *c->free);
  c->last = calloc(c->nslots, sizeof *c->last);
  if (!c->slot_of || !c->data || !c->local_of || !c->free || !c->last) {
    cache_free(c);
    return HPVM_ENOMEM;
  }
  return 0;
}

static long cache_find(const mig_delta_cache *c, uint64_t local) {
  return local < c->nlocal && c->slot_of[local] ? (long)c->slot_of[local] - 1 : -1;
}

/* A slot for `local` (not cached) in round `round`: a free one, or one whose frame was not
 * used in this round or the one before; -1 when there is none (the frame goes uncached). */
static long cache_take(mig_delta_cache *c, uint64_t local, uint32_t round) {
  long s = -1;
  if (c->nfree) s = c->free[--c->nfree];
  else if (c->used < c->nslots) s = (long)c->used++;
  else
    for (unsigned n = 0; n < MIG_CACHE_SCAN && s < 0; n++) {
      size_t h = c->hand;
      c->hand = (c->hand + 1) % c->nslots;
      if (c->last[h] + 1 < round) {
        s = (long)h;
        c->slot_of[c->local_of[h]] = 0;
        c->evictions++;
      }
    }
  if (s < 0) {
    c->uncached++;
    return -1;
  }
  c->slot_of[local] = (uint32_t)s + 1;
  c->local_of[s] = local;
  c->last[s] = round;
  return s;
}

static void cache_drop(mig_delta_cache *c, uint64_t local) {
  long s = cache_find(c, local);
  if (s < 0) return;
  c->slot_of[local] = 0;
  c->free[c->nfree++] = (uint32_t)s;
}

bool mig_encoder_cached(const mig_encoder *e, uint64_t f) {
  return e->delta && cache_find(&e->cache, mig_local_frame(f, e->nch)) >= 0;
}

/* ---- Encoder --------------------------------------------------------------------------------- */

int mig_encoder_init(mig_encoder *e, vm *v, mig_compress mode, uint64_t delta_cache_bytes, unsigned nch, char *msg,
                     size_t msglen) {
  memset(e, 0, sizeof *e);
  e->v = v;
  e->mode = mode;
  e->nch = nch ? nch : 1;
  e->accel = MIG_LZ4_ACCEL;
  e->au.lanes = e->nch;
  e->lz4_state = malloc((size_t)LZ4_sizeofState());
  e->b.bulk_cap = MIG_CHUNK_FRAMES * FRAME;
  e->b.bulk = malloc(e->b.bulk_cap);
  if (!e->lz4_state || !e->b.bulk) goto nomem;
  if (delta_cache_bytes >= FRAME) {
    uint64_t frames = vm_phys_span(v) >> VM_FRAME_SHIFT;
    e->b.stage = malloc(MIG_CHUNK_FRAMES * FRAME);
    if (!e->b.stage || cache_init(&e->cache, delta_cache_bytes, mig_local_frame(frames, e->nch) + MIG_CHUNK_FRAMES))
      goto nomem;
    e->delta = true;
  }
  return 0;
nomem:
  mig_encoder_free(e);
  return mig_fail(msg, msglen, HPVM_ENOMEM, "cannot allocate the page encoder (delta cache of %llu MiB); "
                  "lower the delta cache or free host memory", (unsigned long long)(delta_cache_bytes >> 20));
}

void mig_encoder_free(mig_encoder *e) {
  free(e->lz4_state);
  free(e->b.bulk);
  free(e->b.stage);
  cache_free(&e->cache);
  memset(e, 0, sizeof *e);
}

static double ewma(double old, double x) { return old == 0 ? x : old + AUTO_ALPHA * (x - old); }

static void auto_choose(mig_auto *a) {
  unsigned lanes = a->lanes ? a->lanes : 1;
  a->compress = a->link_bps > 0 &&
                (a->ratio == 0 || (a->ratio < MIG_AUTO_RATIO_MAX && lanes * a->lz4_bps > MIG_AUTO_MARGIN * a->link_bps));
}

void mig_auto_link(mig_auto *a, double link_bps, unsigned lanes) {
  a->link_bps = link_bps > 0 ? link_bps : 0;
  a->lanes = lanes ? lanes : 1;
  auto_choose(a);
}

/* After a batch that compressed raw_in bytes into comp_out in ns (wall time). */
static void auto_update(mig_auto *a, uint64_t raw_in, uint64_t comp_out, uint64_t ns) {
  if (!raw_in) return;
  a->ratio = ewma(a->ratio, (double)comp_out / (double)raw_in);
  a->lz4_bps = ewma(a->lz4_bps, (double)raw_in * 1e9 / (double)(ns ? ns : 1));
  auto_choose(a);
}

static bool batch_compresses(mig_encoder *e) {
  if (e->mode == MIG_COMPRESS_NONE) return false;
  if (e->mode == MIG_COMPRESS_LZ4) return true;
  mig_auto *a = &e->au;
  if (a->compress) return true;
  if (a->link_bps <= 0) return false;   /* the CPU is the limit: compression only costs */
  if (++a->since_probe >= MIG_AUTO_PROBE) {
    a->since_probe = 0;
    return true;
  }
  return false;
}

typedef struct run {
  unsigned start, n;           /* frames [start, start + n) of the span */
  const uint8_t *src;          /* their contiguous bytes */
} run;

typedef struct enc_ctx {
  mig_encoder *e;
  bool compress;
  uint64_t comp_in, comp_out, comp_ns;
} enc_ctx;

/* A run of data frames goes as one LZ4 block when that saves at least 1/16, else raw. */
static void flush_run(enc_ctx *x, run *r) {
  if (!r->n) return;
  mig_batch *b = &x->e->b;
  size_t bytes = (size_t)r->n * FRAME;
  uint8_t *dst = b->bulk + b->bulk_len;
  int clen = 0;
  /* Consecutive LZ4 frames are one block to the decoder: a run right after an LZ4 run (never
   * made by the loop below, which splits runs only at other kinds) would have to go raw. */
  bool after_lz4 = r->start > 0 && b->kinds[r->start - 1] == HPVM__MIG_FRAME_KIND__MIG_FRAME_LZ4;
  if (x->compress && !after_lz4) {
    uint64_t t0 = mig_now_ns();
    clen = LZ4_compress_fast_extState(x->e->lz4_state, (const char *)r->src, (char *)dst, (int)bytes,
                                      (int)(bytes - bytes / 16), x->e->accel);
    x->comp_ns += mig_now_ns() - t0;
    x->comp_in += bytes;
    x->comp_out += clen > 0 ? (uint64_t)clen : bytes;
  }
  uint8_t kind = clen > 0 ? HPVM__MIG_FRAME_KIND__MIG_FRAME_LZ4 : HPVM__MIG_FRAME_KIND__MIG_FRAME_RAW;
  if (clen > 0) {
    b->lens[b->nlens++] = (uint32_t)clen;
    b->bulk_len += (size_t)clen;
    b->lz4 += r->n;
  } else {
    memcpy(dst, r->src, bytes);
    b->bulk_len += bytes;
    b->raw += r->n;
  }
  memset(b->kinds + r->start, kind, r->n);
  r->n = 0;
}

/* What a re-sent frame with a cached version becomes. */
typedef enum resend { RESEND_DATA, RESEND_DELTA, RESEND_SAME } resend;

/* Rounds >= 1, frame i (= f) not zero: compare it with its cached version and, when the delta
 * is short, put the delta in the batch (the data run before it flushed first, so runs stay
 * whole) and apply it to the cached version. *slot: the frame's cache slot (taken when it had
 * none; -1: it goes uncached). */
static resend try_delta(enc_ctx *x, run *r, unsigned i, uint64_t local, const uint8_t *p, long *slot) {
  mig_encoder *e = x->e;
  mig_batch *b = &e->b;
  mig_delta_cache *c = &e->cache;
  long s = cache_find(c, local);
  if (s < 0) {
    c->misses++;
    *slot = cache_take(c, local, b->round);
    return RESEND_DATA;
  }
  c->hits++;
  c->last[s] = b->round;
  *slot = s;
  uint8_t *old = c->data + (size_t)s * FRAME;
  int dlen = mig_delta_encode(old, p, e->dbuf, MIG_DELTA_MAX);
  if (dlen < 0) return RESEND_DATA;
  if (dlen == 0) return RESEND_SAME;
  delta_walk(old, e->dbuf, (size_t)dlen);
  flush_run(x, r);
  memcpy(b->bulk + b->bulk_len, e->dbuf, (size_t)dlen);
  b->kinds[i] = HPVM__MIG_FRAME_KIND__MIG_FRAME_DELTA;
  b->lens[b->nlens++] = (uint32_t)dlen;
  b->bulk_len += (size_t)dlen;
  b->delta++;
  b->delta_bytes += (uint64_t)dlen;
  return RESEND_DELTA;
}

static void batch_reset(mig_batch *b, uint32_t round, uint64_t first, unsigned span) {
  b->round = round, b->first = first, b->span = span;
  b->nframes = b->ndata = b->nlens = 0;
  b->bulk_len = 0;
  b->zero = b->raw = b->lz4 = b->delta = b->same = b->delta_bytes = 0;
  memset(b->kinds, HPVM__MIG_FRAME_KIND__MIG_FRAME_NONE, span);
}

int mig_encode(mig_encoder *e, uint32_t round, uint64_t first, unsigned span, const uint64_t *want,
               const _Atomic uint64_t *defer, const uint64_t *populated) {
  mig_batch *b = &e->b;
  vm *v = e->v;
  if (span == 0 || span > MIG_CHUNK_FRAMES) return HPVM_EINVAL;
  batch_reset(b, round, first, span);
  enc_ctx x = {.e = e, .compress = batch_compresses(e)};
  bool use_cache = e->delta && round > 0;
  run r = {0};
  for (unsigned i = 0; i < span; i++) {
    uint64_t f = first + i, gpa = f << VM_FRAME_SHIFT;
    bool in = (!want || bit(want, f)) && (!defer || !abit(defer, f));
    const uint8_t *p = in ? vm_mem_ptr(v, gpa, FRAME) : NULL;
    if (!p) {
      flush_run(&x, &r);
      continue;
    }
    uint64_t local = mig_local_frame(f, e->nch);
    if ((populated && !bit(populated, f)) || frame_is_zero(p)) {
      flush_run(&x, &r);
      b->kinds[i] = HPVM__MIG_FRAME_KIND__MIG_FRAME_ZERO;
      b->zero++;
      b->nframes++;
      if (use_cache) cache_drop(&e->cache, local);
      continue;
    }
    if (use_cache) {
      long slot;
      resend how = try_delta(&x, &r, i, local, p, &slot);
      if (how == RESEND_SAME) {
        flush_run(&x, &r);
        b->same++;
        continue;
      }
      b->nframes++;
      if (how == RESEND_DELTA) continue;
      if (slot >= 0) {   /* what is sent and what is cached: one snapshot */
        uint8_t *snap = b->stage + (size_t)i * FRAME;
        memcpy(snap, p, FRAME);
        memcpy(e->cache.data + (size_t)slot * FRAME, snap, FRAME);
        p = snap;
      }
    } else {
      b->nframes++;
    }
    b->ndata++;
    if (r.n && r.src + (size_t)r.n * FRAME != p) flush_run(&x, &r);
    if (!r.n) r.start = i, r.src = p;
    r.n++;
  }
  flush_run(&x, &r);
  if (e->mode == MIG_COMPRESS_AUTO && x.comp_in) auto_update(&e->au, x.comp_in, x.comp_out, x.comp_ns);
  return 0;
}

/* ---- Decoder --------------------------------------------------------------------------------- */

/* Consecutive LZ4 frames from i: their count. */
static size_t lz4_run(const uint8_t *kinds, size_t span, size_t i) {
  size_t n = 0;
  while (i + n < span && kinds[i + n] == HPVM__MIG_FRAME_KIND__MIG_FRAME_LZ4) n++;
  return n;
}

static int check_batch(vm *v, const uint64_t *received, uint64_t first, const uint8_t *kinds, size_t span,
                       const uint32_t *lens, size_t nlens, const uint8_t *bulk, size_t len, char *msg, size_t msglen) {
  if (span == 0 || span > MIG_CHUNK_FRAMES)
    return mig_fail(msg, msglen, HPVM_ECORRUPT, "a page batch of %zu frames (1 to %u)", span, MIG_CHUNK_FRAMES);
  if (first > (UINT64_MAX >> VM_FRAME_SHIFT) - span)
    return mig_fail(msg, msglen, HPVM_ECORRUPT, "a page batch at frame 0x%llx beyond any address", (unsigned long long)first);
  size_t k = 0, pos = 0;
  for (size_t i = 0; i < span;) {
    uint8_t kind = kinds[i];
    uint64_t f = first + i;
    if (kind > HPVM__MIG_FRAME_KIND__MIG_FRAME_DELTA)
      return mig_fail(msg, msglen, HPVM_ECORRUPT, "frame 0x%llx: unknown kind %u", (unsigned long long)f, kind);
    if (kind == HPVM__MIG_FRAME_KIND__MIG_FRAME_NONE) {
      i++;
      continue;
    }
    size_t n = kind == HPVM__MIG_FRAME_KIND__MIG_FRAME_LZ4 ? lz4_run(kinds, span, i) : 1;
    if (!vm_is_ram(v, f << VM_FRAME_SHIFT, n * FRAME))
      return mig_fail(msg, msglen, HPVM_ECORRUPT, "frame 0x%llx (address 0x%llx) is not in the VM's RAM",
                      (unsigned long long)f, (unsigned long long)(f << VM_FRAME_SHIFT));
    size_t need = 0;
    if (kind == HPVM__MIG_FRAME_KIND__MIG_FRAME_RAW) need = FRAME;
    if (kind == HPVM__MIG_FRAME_KIND__MIG_FRAME_LZ4 || kind == HPVM__MIG_FRAME_KIND__MIG_FRAME_DELTA) {
      if (k >= nlens) return mig_fail(msg, msglen, HPVM_ECORRUPT, "frame 0x%llx: its length is missing", (unsigned long long)f);
      need = lens[k++];
      if (need > len - pos) goto short_bulk;
      if (kind == HPVM__MIG_FRAME_KIND__MIG_FRAME_LZ4 && (need == 0 || need >= n * FRAME))
        return mig_fail(msg, msglen, HPVM_ECORRUPT, "frame 0x%llx: an LZ4 block of %zu bytes for %zu frames",
                        (unsigned long long)f, need, n);
      if (kind == HPVM__MIG_FRAME_KIND__MIG_FRAME_DELTA && (need > MIG_DELTA_MAX || delta_walk(NULL, bulk + pos, need)))
        return mig_fail(msg, msglen, HPVM_ECORRUPT, "frame 0x%llx: a malformed delta of %zu bytes", (unsigned long long)f, need);
      if (kind == HPVM__MIG_FRAME_KIND__MIG_FRAME_DELTA && !bit(received, f))
        return mig_fail(msg, msglen, HPVM_ECORRUPT, "frame 0x%llx: a delta for a frame this side never received",
                        (unsigned long long)f);
    }
    if (need > len - pos) goto short_bulk;
    pos += need;
    i += n;
  }
  if (k != nlens) return mig_fail(msg, msglen, HPVM_ECORRUPT, "%zu lengths for %zu compressed runs and deltas", nlens, k);
  if (pos != len) return mig_fail(msg, msglen, HPVM_ECORRUPT, "%zu bytes of page data after the batch's frames", len - pos);
  return 0;
short_bulk:
  return mig_fail(msg, msglen, HPVM_ECORRUPT, "the batch's page data ends early (%zu bytes)", len);
}

static bool is_data(uint8_t kind) {
  return kind == HPVM__MIG_FRAME_KIND__MIG_FRAME_RAW || kind == HPVM__MIG_FRAME_KIND__MIG_FRAME_LZ4;
}

/* Host pages the batch's data frames will fill for the first time, populated in one call per
 * run instead of one page fault per frame (a fault costs about half again as much). */
static void populate_runs(vm *v, const uint64_t *received, uint64_t first, const uint8_t *kinds, size_t span) {
  for (size_t i = 0; i < span;) {
    if (!is_data(kinds[i]) || bit(received, first + i)) {
      i++;
      continue;
    }
    size_t n = 1;
    while (i + n < span && is_data(kinds[i + n]) && !bit(received, first + i + n)) n++;
    if (n > 1) madvise(vm_mem_ptr(v, (first + i) << VM_FRAME_SHIFT, n * FRAME), n * FRAME, MADV_POPULATE_WRITE);
    i += n;
  }
}

int mig_decode(vm *v, uint64_t *received, uint32_t round, uint64_t first, const uint8_t *kinds, size_t span,
               const uint32_t *lens, size_t nlens, const uint8_t *bulk, size_t len, char *msg, size_t msglen) {
  int rc = check_batch(v, received, first, kinds, span, lens, nlens, bulk, len, msg, msglen);
  if (rc) return rc;
  populate_runs(v, received, first, kinds, span);
  size_t k = 0, pos = 0;
  int frames = 0;
  for (size_t i = 0; i < span;) {
    uint8_t kind = kinds[i];
    if (kind == HPVM__MIG_FRAME_KIND__MIG_FRAME_NONE) {
      i++;
      continue;
    }
    uint64_t f = first + i, gpa = f << VM_FRAME_SHIFT;
    size_t n = kind == HPVM__MIG_FRAME_KIND__MIG_FRAME_LZ4 ? lz4_run(kinds, span, i) : 1;
    uint8_t *p = vm_mem_ptr(v, gpa, n * FRAME);
    switch (kind) {
    case HPVM__MIG_FRAME_KIND__MIG_FRAME_ZERO:
      if (round == 0) break;   /* the destination's RAM starts cleared */
      memset(p, 0, FRAME);
      break;
    case HPVM__MIG_FRAME_KIND__MIG_FRAME_RAW:
      memcpy(p, bulk + pos, FRAME);
      pos += FRAME;
      break;
    case HPVM__MIG_FRAME_KIND__MIG_FRAME_LZ4: {
      int out = LZ4_decompress_safe((const char *)bulk + pos, (char *)p, (int)lens[k], (int)(n * FRAME));
      if (out != (int)(n * FRAME)) {
        vm_mem_written(v, gpa, n * FRAME);
        return mig_fail(msg, msglen, HPVM_ECORRUPT, "frame 0x%llx: an LZ4 block that does not decode to its %zu frames",
                        (unsigned long long)f, n);
      }
      pos += lens[k++];
      break;
    }
    default:   /* DELTA, checked above */
      mig_delta_apply(p, bulk + pos, lens[k]);
      pos += lens[k++];
      break;
    }
    if (kind != HPVM__MIG_FRAME_KIND__MIG_FRAME_ZERO || round) vm_mem_written(v, gpa, n * FRAME);
    for (size_t j = 0; j < n; j++) received[(f + j) / 64] |= 1ull << ((f + j) % 64);
    frames += (int)n;
    i += n;
  }
  return frames;
}
