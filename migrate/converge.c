/* converge.c — the convergence policy: when to stop pre-copying and freeze the guest, when to
 * slow it down, when to give up. Pure arithmetic on what source.c measures, so it can be
 * tested without a VM.
 *
 * Each round gives its wire bytes, frames and duration: bandwidth (wire bytes per second) and
 * bytes per page are moving averages over the rounds, so zero and delta frames, which cost a
 * few bytes, count as small. After each harvest the predicted downtime is what the dirty set
 * and the state would take on the wire at that bandwidth; under downtime_ms the source
 * switches over. A dirty set that does not shrink by a tenth for MIG_STALL_ROUNDS decisions
 * in a row means the guest dirties about as fast as the link drains: auto-converge then
 * raises the throttle one step (20, 40, 60, 80, 99 % of the vCPUs' time taken away), as
 * QEMU's cpu-throttle does. Past copy_timeout_ms the answer is TIMEOUT (the source resumes
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

void mig_conv_round(mig_conv *c, unsigned round, uint64_t wire_bytes, uint64_t frames, uint64_t data_frames,
                    uint64_t ns) {
  if (ns && wire_bytes) c->bw = avg(c->bw, (double)wire_bytes * 1e9 / (double)ns);
  uint64_t per = round == 0 ? data_frames : frames;
  if (per) c->bytes_per_page = avg(c->bytes_per_page, (double)wire_bytes / (double)per);
}

uint32_t mig_conv_predict(const mig_conv *c, uint64_t dirty_frames) {
  if (c->bw <= 0) return UINT32_MAX;
  double bpp = c->bytes_per_page > 0 ? c->bytes_per_page : (double)VM_FRAME_SIZE;
  double bytes = (double)dirty_frames * bpp + (double)c->ncpus * MIG_STATE_BYTES_PER_CPU;
  double ms = bytes * 1000.0 / c->bw;
  return ms >= UINT32_MAX ? UINT32_MAX : (uint32_t)(ms + 0.999);
}

mig_conv_action mig_conv_decide(mig_conv *c, uint64_t dirty_frames, uint64_t elapsed_ms) {
  c->predicted_ms = mig_conv_predict(c, dirty_frames);
  bool first = c->decisions++ == 0;
  if (c->predicted_ms <= c->downtime_ms) return MIG_CONV_SWITCHOVER;
  if (c->copy_timeout_ms && elapsed_ms >= c->copy_timeout_ms) return MIG_CONV_TIMEOUT;
  bool shrinking = first || (double)dirty_frames < 0.9 * (double)c->prev_dirty;
  c->prev_dirty = dirty_frames;
  c->stalls = shrinking ? 0 : c->stalls + 1;
  if (c->auto_converge && c->stalls >= MIG_STALL_ROUNDS && c->step < MIG_THROTTLE_STEPS) {
    c->throttle = mig_throttle_steps[c->step++];
    c->stalls = 0;
    return MIG_CONV_THROTTLE;
  }
  return MIG_CONV_CONTINUE;
}
