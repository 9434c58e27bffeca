/* migfwd.c — hpvmmigrate -o from any host of the cluster: a live migration of a guest another
 * host runs is that host's to make, so the request goes there (docs/man/hpvmmigrate.md,
 * docs/design/cluster.md).
 *
 *   asking hpvmd (a client typed hpvmmigrate here, or hpvmhost maintenance exit --return)
 *     forward.c sends PeerRequest.migrate_forward to the owner (its liveness record gives the
 *     address) and brings the answers back to the loop: relayed to the waiting hpvmmigrate as
 *     its own progress, or handed to drain.c's callback.
 *   owner hpvmd (hd_migfwd_peer)
 *     hd_cmd_migrate with the channel as the sink (hd_req.peer): a refusal, each progress and
 *     the result go back as PeerAnswers (more set on progress), then the channel is closed.
 *
 * The owner never forwards again (a request from a peer has no client): a guest that moved on
 * meanwhile is refused there with the host it now runs on. */
#include <stdio.h>

#include "internal.h"

#define FWD_SEND_MS 10000   /* one answer to the host that forwarded the request */

/* ---- The owner's side -------------------------------------------------------------------------- */

void hd_migfwd_send(hd_daemon *d, chan **ch, bool more, int err, const char *msg, Hpvm__MigrateProgress *p) {
  if (!*ch) return;
  Hpvm__PeerAnswer a = HPVM__PEER_ANSWER__INIT;
  a.host = (char *)sto_host(d->sto);
  a.more = more;
  a.error = err;
  a.message = (char *)(msg ? msg : "");
  a.progress = p;
  char why[300];
  int rc = chan_send(*ch, &a.base, NULL, 0, FWD_SEND_MS, why, sizeof why);
  if (rc) hd_log(d, HD_WARN, "migration: host %s that asked is gone (%s); the migration goes on", chan_peer(*ch), why);
  if (rc || !more) {
    chan_close(*ch);
    *ch = NULL;
  }
}

void hd_migfwd_peer(hd_daemon *d, chan *ch, const Hpvm__MigrateForward *mf) {
  if (!mf->request || !(mf->request->online || mf->request->cancel)) {
    hd_migfwd_send(d, &ch, false, HPVM_EINVAL, "the forwarded migration request is neither a live migration nor a "
                   "cancel", NULL);
    return;
  }
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_MIGRATE;
  req.migrate = mf->request;
  char cmdline[1200];
  snprintf(cmdline, sizeof cmdline, "%.1000s (from host %s)",
           mf->cmdline && *mf->cmdline ? mf->cmdline : "hpvmmigrate -o", chan_peer(ch));
  hd_req q = {.c = NULL, .r = &req, .user = mf->user && *mf->user ? mf->user : "hpvmd", .cmdline = cmdline,
              .peer = &ch};
  hd_cmd_migrate(d, &q);
  if (ch) {   /* every path answers; should one not, the other host is not left waiting */
    hd_migfwd_send(d, &ch, false, HPVM_EIO, "the owner's hpvmd did not answer the forwarded migration", NULL);
  }
}

/* ---- The asking side ----------------------------------------------------------------------------- */

int hd_migfwd_start(hd_daemon *d, const char *owner, const Hpvm__MigrateRequest *r, const char *user,
                    const char *cmdline, hd_fwd_cb cb, void *arg, hd_fwd **out, char *why, size_t len) {
  char address[160];
  int rc = hd_peer_resolve(d, owner, address, sizeof address, why, len);
  if (rc) return rc;
  Hpvm__MigrateForward mf = HPVM__MIGRATE_FORWARD__INIT;
  mf.request = (Hpvm__MigrateRequest *)r;
  mf.user = (char *)(user ? user : "hpvmd");
  mf.cmdline = (char *)(cmdline ? cmdline : "");
  Hpvm__PeerRequest pr = HPVM__PEER_REQUEST__INIT;
  pr.body_case = HPVM__PEER_REQUEST__BODY_MIGRATE_FORWARD;
  pr.migrate_forward = &mf;
  char closed[400];
  snprintf(closed, sizeof closed, "host %s closed the connection before the migration ended: see hpvmstatus -P %s",
           owner, r->name);
  hd_fwd *f = NULL;
  rc = hd_fwd_start(d, owner, address, &pr, closed, "the forwarded migration ended without a result", cb, arg, &f,
                    why, len);
  if (rc) return rc;
  hd_log(d, HD_INFO, "migration: %s's live migration of VM %s to %s forwarded to its owner, host %s (%s)", mf.user,
         r->name, r->target, owner, address);
  if (out) *out = f;
  return 0;
}

/* hpvmmigrate here: each answer relayed as the owner's hpvmd would have answered it. */
void hd_migfwd_client(hd_daemon *d, const hd_req *q, const char *owner) {
  const Hpvm__MigrateRequest *r = q->r->migrate;
  char why[1200];
  hd_fwd *f = NULL;
  char cmdline[1000];
  snprintf(cmdline, sizeof cmdline, "%.900s", q->cmdline ? q->cmdline : "hpvmmigrate -o");
  int rc = hd_migfwd_start(d, owner, r, q->user, cmdline, NULL, NULL, &f, why, sizeof why);
  if (rc)
    return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, rc, "VM %s runs on host %s and the request cannot "
                           "reach it (%s): run hpvmmigrate on host %s", r->name, owner, why, owner);
  hd_fwd_relay(f, q->c, q->r->id, q->user);
}
