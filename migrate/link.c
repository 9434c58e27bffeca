/* link.c — what `auto` is told about the link: the source's reading of the destination's
 * ACKs (every ~50 ms: bytes received, the share of time its receivers waited for data) next
 * to its own senders' figures (data frames encoded, of them compressed; the share of time
 * they waited for the wire). Pure arithmetic on those windows, so it can be tested without
 * channels.
 *
 * Compression pays only where the link limits; where the CPU does (loopback: encryption,
 * copies and page faults on both sides) it costs more than it saves. A window looks
 * link-bound when the receivers mostly waited for data and the senders for the wire (far more
 * than for a CPU: on a loaded host the two sides of loopback wait for each other in turn); the
 * link's rate is believed after MIG_LINK_VOTES such windows in a row at a steady rate (a
 * stall somewhere, or other load on the host, makes rates jump). Then mig_link_update
 * returns that rate and the encoders compress when LZ4 outruns it (page.c); when the
 * receivers hardly waited, it returns 0 and they send raw.
 *
 * The model can be fooled, so its verdict is checked, two ways. While compressing, the guest
 * data moved per second (a moving average, from SLOW_WINDOWS windows on) must stay above
 * what raw would move, the link's rate: below it, LZ4 is what limits (on a CPU shared with
 * other work) and compression is vetoed. And after a stretch of compressed
 * windows the source sends raw for a few (a probe) and compares guest bytes per second, which
 * also catches a link rate measured wrong: compression not clearly faster is vetoed for a
 * while (1 s, doubling each time up to 4 s); faster, the stretch before the next probe
 * doubles (and the next veto starts short again), so on a real slow link the probes soon
 * cost little. */
#include "internal.h"

#define VOTES 3                       /* link-bound windows in a row before the rate is believed */
#define LINK_BOUND_PERMILLE 300       /* both sides waited at least this share of the window */
#define CPU_BOUND_PERMILLE 100        /* the receivers waited less: the CPU limits */
#define STEADY 0.25                   /* a link's rate moves less than this between windows */
#define FIRST_STRETCH 8               /* compressed windows before the first probe */
#define MAX_STRETCH 256
#define PROBE_WINDOWS 4               /* raw windows of a probe (the first one is a transition) */
#define SLOW_WINDOWS 8                /* compressed windows before their average may veto */
#define BETTER 1.1                    /* compression must beat raw by this */
#define FIRST_VETO_NS 1000000000ull   /* compression vetoed after a failed probe: 1 s, 2 s, ... */
#define MAX_VETO_NS 4000000000ull    /* load comes and goes: never longer than 4 s */
#define ALPHA 0.25

static double ewma(double old, double x) { return old == 0 ? x : old + ALPHA * (x - old); }

void mig_link_init(mig_link *l) {
  *l = (mig_link){.stretch = FIRST_STRETCH, .veto_len_ns = FIRST_VETO_NS};
}

static void veto(mig_link *l) {
  l->veto_until_ns = l->now_ns + l->veto_len_ns;
  l->veto_len_ns = l->veto_len_ns * 2 > MAX_VETO_NS ? MAX_VETO_NS : l->veto_len_ns * 2;
  l->link_bps = 0;
  l->votes = 0;
  l->vetoes++;
  l->comp_windows = 0;
  l->comp_gbps = 0;
}

/* A probe's last window: keep compressing, or veto it. */
static void end_probe(mig_link *l) {
  l->probing = false;
  double raw = l->raw_gbps / (l->probe_windows - 1);
  if (l->comp_gbps < BETTER * raw) {
    veto(l);
  } else {
    l->link_bps = l->probe_link;
    l->stretch = l->stretch * 2 > MAX_STRETCH ? MAX_STRETCH : l->stretch * 2;
    l->veto_len_ns = FIRST_VETO_NS;   /* compression pays again: a later veto starts short */
    l->comp_windows = 0;
    l->comp_gbps = 0;
  }
  l->raw_gbps = 0;
}

double mig_link_update(mig_link *l, const mig_link_obs *o) {
  if (!o->ns) return l->published;
  l->now_ns += o->ns;
  double rate = (double)o->wire * 1e9 / (double)o->ns;
  double gbps = (double)o->data_frames * VM_FRAME_SIZE * 1e9 / (double)o->ns;
  bool compressed = o->lz4_frames * 2 > o->data_frames;
  /* On a busy host the two sides of loopback take turns: the receiver waits for data while
   * the sender waits for a CPU, and the other way round; both look waiting. A link keeps the
   * senders waiting for it far more than for a CPU. */
  bool waited = o->idle_permille >= LINK_BOUND_PERMILLE && o->blocked_permille >= LINK_BOUND_PERMILLE &&
                o->blocked_permille >= 2 * o->starved_permille;
  bool steady = l->last_rate > 0 && rate > (1 - STEADY) * l->last_rate && rate < (1 + STEADY) * l->last_rate;
  l->votes = waited && (steady || l->votes == 0) ? l->votes + 1 : waited ? 1 : 0;
  l->last_rate = rate;
  if (l->probing) {
    if (!o->data_frames) return l->published = 0;   /* nothing encoded: says nothing */
    if (++l->probe_windows > 1) l->raw_gbps += gbps;  /* summed; end_probe averages */
    if (l->probe_windows >= PROBE_WINDOWS) end_probe(l);
    return l->published = l->probing ? 0 : l->link_bps;
  }
  if (l->now_ns < l->veto_until_ns) return l->published = 0;
  if (o->idle_permille < CPU_BOUND_PERMILLE) {
    l->link_bps = 0;
    l->comp_windows = 0, l->comp_gbps = 0;
    return l->published = 0;
  }
  if (l->votes >= VOTES) l->link_bps = ewma(l->link_bps, rate);
  if (l->link_bps > 0 && compressed && o->data_frames) {
    l->comp_gbps = ewma(l->comp_gbps, gbps);
    if (++l->comp_windows >= SLOW_WINDOWS && l->comp_gbps < l->link_bps) {
      veto(l);
      return l->published = 0;
    }
    if (l->comp_windows >= l->stretch) {
      l->probing = true;
      l->probe_windows = 0;
      l->probe_link = l->link_bps;
      return l->published = 0;
    }
  }
  return l->published = l->link_bps;
}
