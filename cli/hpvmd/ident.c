/* ident.c — who this host is and whom it trusts (proto/chan.h).
 *
 * Identity: an Ed25519 + X25519 key pair in STATE/host.key (mode 0600), created by
 * chan_identity_load at the first start and kept from then on. At every start hpvmd
 * publishes the public half in DIR/hosts/<host>/key, so a host joins the cluster by starting
 * with the shared directory (automatic registration; a later `hpvmhost` command will manage
 * the list by hand). Trust: a peer is accepted when the keys it proves in the handshake are
 * exactly the ones registered under its name. Whoever can write the shared directory can
 * therefore add a host: the shared directory is the cluster's root of trust, as it already is
 * for configurations and leases.
 *
 * The cluster secret (DIR/cluster/secret, 0600 in a 0700 directory) goes into every
 * channel's key derivation: a host without it fails the handshake even with registered keys.
 * When the shared directory has no cluster yet, the first hpvmd to start creates it with a
 * random secret (two hosts starting at once: one creates, the other reads what it wrote). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "internal.h"

#define CLUSTER_NAME "hpvm"

static int random_bytes(uint8_t *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = getrandom(buf + got, len - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return HPVM_EIO;
    got += (size_t)n;
  }
  return 0;
}

static int cluster_secret(hd_daemon *d, char *msg, size_t len) {
  char id[37], name[64];
  int rc = sto_cluster_read(d->sto, id, name, sizeof name, d->cluster_secret);
  if (rc != HPVM_ENOENT) {
    if (rc) snprintf(msg, len, "cannot read the cluster secret: %s", sto_error(d->sto));
    return rc;
  }
  uint8_t secret[32];
  if (random_bytes(secret, sizeof secret))
    return snprintf(msg, len, "cannot make a cluster secret: no randomness (%s)", strerror(errno)), HPVM_EIO;
  rc = sto_cluster_create(d->sto, CLUSTER_NAME, secret, id);
  if (rc == 0) {
    memcpy(d->cluster_secret, secret, sizeof secret);
    hd_log(d, HD_INFO, "created cluster %s in %s (this is its first host)", id, d->o.shared_dir);
    return 0;
  }
  if (rc == HPVM_EEXIST) rc = sto_cluster_read(d->sto, id, name, sizeof name, d->cluster_secret);
  if (rc) snprintf(msg, len, "cannot create the cluster's secret: %s", sto_error(d->sto));
  return rc;
}

int hd_ident_start(hd_daemon *d, char *msg, size_t len) {
  char why[600];
  int rc = chan_identity_load(d->o.state_dir, sto_host(d->sto), &d->ident, why, sizeof why);
  if (rc) return snprintf(msg, len, "this host's identity: %s", why), rc;
  if ((rc = sto_host_key_write(d->sto, sto_host(d->sto), d->ident.sign_pk, d->ident.kx_pk)))
    return snprintf(msg, len, "cannot register this host's keys: %s", sto_error(d->sto)), rc;
  return cluster_secret(d, msg, len);
}

int hd_trust(void *ctx, const char *peer, const uint8_t sign_pk[32], const uint8_t kx_pk[32], char *why,
             size_t whylen) {
  hd_daemon *d = ctx;
  sto_options so = {.root = d->o.shared_dir, .host = sto_host(d->sto)};
  sto_store *s = NULL;
  int rc = sto_open(&so, &s);
  uint8_t spk[32], kpk[32];
  if (!rc) rc = sto_host_key_read(s, peer, spk, kpk);
  if (rc == HPVM_ENOENT)
    snprintf(why, whylen, "host %s is not a member of this cluster (no %s/hosts/%s/key)", peer, d->o.shared_dir, peer);
  else if (rc)
    snprintf(why, whylen, "cannot read the keys of host %s: %s", peer, s ? sto_error(s) : "out of memory");
  else if (memcmp(spk, sign_pk, 32) || memcmp(kpk, kx_pk, 32)) {
    snprintf(why, whylen, "host %s proved keys other than the ones registered in %s/hosts/%s/key", peer,
             d->o.shared_dir, peer);
    rc = HPVM_EAUTH;
  }
  if (rc == HPVM_ENOENT) rc = HPVM_EAUTH;
  sto_close(s);
  return rc;
}

void hd_chan_config(hd_daemon *d, chan_config *c) {
  memset(c, 0, sizeof *c);
  c->me = &d->ident;
  c->cluster_secret = d->cluster_secret;
  c->trust = hd_trust;
  c->trust_ctx = d;
}
