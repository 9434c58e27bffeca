/* converge.c — the convergence policy: when to stop pre-copying and freeze the guest, when to
 * slow it down, when to give up. Pure arithmetic on what source.c measures, so it can be
 * tested without a VM.
 *
 * Each round gives its wire bytes, duration and frames by how they went: bandwidth (wire
 * bytes per second; rounds under MIG_BW_MIN_BYTES measure latency rather than bandwidth and
 * leave it alone) and the bytes per frame sent as data, per frame sent as a delta and per
 * frame of any kind (headers) are moving averages. After each harvest the predicted downtime
 * prices the dirty set by what the source holds: a frame with a cached version goes as a
 * delta (a rewritten word costs ~10 bytes, not 4 KiB), any other as data; plus the state;
 * over the bandwidth; plus the encoding on one thread. Under half of downtime_ms the source
 * switches over, or under downtime_ms once another round no longer shrinks it: the
 * prediction averages bandwidth over whole rounds, while the final round is one short burst
 * that other load on either host delays (measured on loopback: 7 ms predicted, 22 ms taken),
 * so the margin is taken while another round is cheap. When the prediction does not shrink
 * by a tenth for MIG_STALL_ROUNDS decisions in a row, the guest dirties about as fast as the
 * link drains: auto-converge then raises the throttle one step (20, 40, 60, 80,
 * 99 % of the vCPUs' time taken away), as QEMU's cpu-throttle does. A dirty set that stays
 * the same size but moves from data to deltas is shrinking, so a hot working set that deltas
 * handle is never throttled. Past copy_timeout_ms the answer is TIMEOUT (the source resumes
 * the guest and reports it), never before. */
#include "internal.h"

#define ALPHA 0.5                     /* weight of the newest round */

const unsigned mig_throttle_steps[MIG_THROTTLE_STEPS] = {20, 40, 60, 80, 99};

void mig_conv_init(mig_conv *c, const mig_params *p, unsigned ncpus) {
  *c = (mig_conv){
      .downtime_ms = p->downtime_ms ? p->downtime_ms : 50,
      .copy_timeout_ms = p->copy_timeout_ms,
      .auto_converge = !p->no_auto_converge,
      .ncpus = ncpus,
  };
}

static double avg(double old, double x) { return old == 0 ? x : old + ALPHA * (x - old); }

void mig_conv_round(mig_conv *c, const mig_round_meas *r) {
  if (r->ns && r->wire && (r->wire >= MIG_BW_MIN_BYTES || c->bw == 0))
    c->bw = avg(c->bw, (double)r->wire * 1e9 / (double)r->ns);
  if (r->data_frames) c->data_bpp = avg(c->data_bpp, (double)r->data_bytes / (double)r->data_frames);
  if (r->deltas) c->delta_bpp = avg(c->delta_bpp, (double)r->delta_bytes / (double)r->deltas);
  uint64_t bulk = r->data_bytes + r->delta_bytes;
  if (r->frames && r->wire >= bulk) c->ovh_bpp = avg(c->ovh_bpp, (double)(r->wire - bulk) / (double)r->frames);
  if (r->resent) c->encode_ns = avg(c->encode_ns, (double)r->encode_ns / (double)r->resent);
}

uint32_t mig_conv_predict(const mig_conv *c, uint64_t dirty_frames, uint64_t cached_frames) {
  if (c->bw <= 0) return UINT32_MAX;
  if (cached_frames > dirty_frames) cached_frames = dirty_frames;
  double data = c->data_bpp > 0 ? c->data_bpp : (double)VM_FRAME_SIZE;
  double delta = c->delta_bpp > 0 ? c->delta_bpp : MIG_DELTA_GUESS;
  double bytes = (double)dirty_frames * c->ovh_bpp + (double)(dirty_frames - cached_frames) * data +
                 (double)cached_frames * delta + (double)c->ncpus * MIG_STATE_BYTES_PER_CPU;
  double ms = bytes * 1000.0 / c->bw + (double)dirty_frames * c->encode_ns / 1e6;
  return ms >= UINT32_MAX ? UINT32_MAX : (uint32_t)(ms + 0.999);
}

mig_conv_action mig_conv_decide(mig_conv *c, uint64_t dirty_frames, uint64_t cached_frames, uint64_t elapsed_ms) {
  c->predicted_ms = mig_conv_predict(c, dirty_frames, cached_frames);
  bool first = c->decisions++ == 0;
  if (c->predicted_ms <= c->downtime_ms / 2) return MIG_CONV_SWITCHOVER;
  /* Shrinking means a new low: a prediction that only swings around a plateau (bandwidth and
   * dirty-set samples vary from round to round) must not reset the stall count. */
  bool shrinking = first || (double)c->predicted_ms < 0.9 * (double)c->best_predicted;
  if (first || c->predicted_ms < c->best_predicted) c->best_predicted = c->predicted_ms;
  if (c->predicted_ms <= c->downtime_ms && !shrinking) return MIG_CONV_SWITCHOVER;
  if (c->copy_timeout_ms && elapsed_ms >= c->copy_timeout_ms) return MIG_CONV_TIMEOUT;
  c->stalls = shrinking ? 0 : c->stalls + 1;
  if (c->auto_converge && c->stalls >= MIG_STALL_ROUNDS && c->step < MIG_THROTTLE_STEPS) {
    c->throttle = mig_throttle_steps[c->step++];
    c->stalls = 0;
    c->best_predicted = c->predicted_ms;   /* a new regime: measured from here */
    return MIG_CONV_THROTTLE;
  }
  return MIG_CONV_CONTINUE;
}
