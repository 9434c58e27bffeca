/* packet.c — the outside of a datagram: addresses, sealing, opening, and the replay window.
 *
 * A datagram is  "HPGS" | version | nonce[24] | ciphertext + tag[16].  The key is
 * crypto_kdf(cluster secret, id 1, context "hpvmgosp"): BLAKE2b of the secret, so the UDP key
 * is never the secret itself and differs from every key the TCP channel derives. The nonce is
 * random (XChaCha20's 192 bits make collisions negligible without any counter to keep), and
 * the header is the associated data, so a datagram of another version cannot be passed off
 * as this one.
 *
 * The AEAD proves a datagram comes from a holder of the secret but not that it is new. The
 * replay window does: a sender stamps each datagram with (boot, seq, wall ms), boot random
 * per start, seq counting from 1. Per sender we keep the newest boot, the highest seq and a
 * 64-bit bitmap of the seqs below it (IPsec's window): a seq seen before or more than 64
 * behind is dropped. A datagram of another boot is accepted only if its stamp is newer than
 * every stamp seen from that sender (comparing a sender's clock only with itself), which
 * starts a new window; older boots' datagrams are replays. What the table cannot remember
 * (a sender never seen, or evicted from the CLU_REPLAY_MAX entries) is bounded by the
 * absolute check: a stamp further than max_clock_skew_ms from our clock is dropped. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

/* ---- Addresses ------------------------------------------------------------------------------- */

int clu_addr_parse(const char *s, struct sockaddr_storage *sa) {
  char host[CLU_ADDR_MAX];
  const char *colon = strrchr(s, ':');
  if (!colon || strlen(s) >= sizeof host) return HPVM_EINVAL;
  size_t hl = (size_t)(colon - s);
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (colon[1] == '\0' || *end || port < 0 || port > 65535) return HPVM_EINVAL;
  memcpy(host, s, hl);
  host[hl] = '\0';
  memset(sa, 0, sizeof *sa);
  if (host[0] == '[') {
    if (hl < 2 || host[hl - 1] != ']') return HPVM_EINVAL;
    host[hl - 1] = '\0';
    return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)sa) ? HPVM_EINVAL : 0;
  }
  return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)sa) ? HPVM_EINVAL : 0;
}

int clu_addr_format(const struct sockaddr *sa, char *out, size_t len) {
  char ip[INET6_ADDRSTRLEN];
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    if (uv_ip4_name(in, ip, sizeof ip)) return HPVM_EINVAL;
    snprintf(out, len, "%s:%u", ip, ntohs(in->sin_port));
    return 0;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    if (uv_ip6_name(in6, ip, sizeof ip)) return HPVM_EINVAL;
    snprintf(out, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
    return 0;
  }
  return HPVM_EINVAL;
}

/* ---- Sealing ---------------------------------------------------------------------------------- */

void clu_derive_key(const uint8_t secret[32], uint8_t key[CLU_KEY_LEN]) {
  crypto_kdf_derive_from_key(key, CLU_KEY_LEN, 1, "hpvmgosp", secret);
}

static void header(uint8_t hdr[CLU_HDR_LEN]) {
  memcpy(hdr, CLU_MAGIC, 4);
  hdr[4] = CLU_WIRE_VERSION;
}

size_t clu_seal(const uint8_t key[CLU_KEY_LEN], const uint8_t *plain, size_t len, uint8_t *out) {
  header(out);
  uint8_t *nonce = out + CLU_HDR_LEN;
  randombytes_buf(nonce, CLU_NONCE_LEN);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out + CLU_HDR_LEN + CLU_NONCE_LEN, &clen, plain, len, out,
                                             CLU_HDR_LEN, NULL, nonce, key);
  return CLU_HDR_LEN + CLU_NONCE_LEN + (size_t)clen;
}

long clu_open(const uint8_t key[CLU_KEY_LEN], uint8_t *buf, size_t len, uint8_t **plain) {
  uint8_t hdr[CLU_HDR_LEN];
  header(hdr);
  if (len < CLU_OVERHEAD || memcmp(buf, hdr, CLU_HDR_LEN)) return -1;
  uint8_t *ct = buf + CLU_HDR_LEN + CLU_NONCE_LEN;
  unsigned long long plen = 0;
  /* Decrypting in place: libsodium allows m == c for the _ietf_decrypt functions. */
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(ct, &plen, NULL, ct, len - CLU_HDR_LEN - CLU_NONCE_LEN, buf,
                                                 CLU_HDR_LEN, buf + CLU_HDR_LEN, key))
    return -1;
  *plain = ct;
  return (long)plen;
}

/* ---- Replay window ---------------------------------------------------------------------------- */

static replay_entry *replay_slot(clu *c, const char *sender) {
  for (size_t i = 0; i < c->replay_n; i++)
    if (!strcmp(c->replay[i].sender, sender)) return &c->replay[i];
  return NULL;
}

/* A fresh entry for sender: a free slot (the table grows up to CLU_REPLAY_MAX), or the least
 * recently used one. */
static replay_entry *replay_new(clu *c, const char *sender) {
  replay_entry *e;
  if (c->replay_n == c->replay_cap && c->replay_cap < CLU_REPLAY_MAX) {
    size_t cap = c->replay_cap ? c->replay_cap * 2 : 16;
    replay_entry *r = realloc(c->replay, cap * sizeof *r);
    if (r) c->replay = r, c->replay_cap = cap;
  }
  if (c->replay_n < c->replay_cap) {
    e = &c->replay[c->replay_n++];
  } else if (c->replay_n) {
    e = &c->replay[0];
    for (size_t i = 1; i < c->replay_n; i++)
      if (c->replay[i].used < e->used) e = &c->replay[i];
  } else {
    return NULL;                          /* out of memory before the first entry */
  }
  memset(e, 0, sizeof *e);
  snprintf(e->sender, sizeof e->sender, "%s", sender);
  return e;
}

static void window_restart(replay_entry *e, const Hpvm__GossipPacket *p) {
  e->boot = p->boot;
  e->top = p->seq;
  e->bitmap = 1;
}

int clu_replay_check(clu *c, const Hpvm__GossipPacket *p) {
  if (c->cfg.max_clock_skew_ms) {
    uint64_t now = clu_wall_ms();
    uint64_t skew = p->sent_unix_ms > now ? p->sent_unix_ms - now : now - p->sent_unix_ms;
    if (skew > c->cfg.max_clock_skew_ms) return HPVM_EEXIST;
  }
  if (p->seq == 0) return HPVM_EEXIST;
  replay_entry *e = replay_slot(c, p->sender);
  if (!e) {
    if (!(e = replay_new(c, p->sender))) return HPVM_ENOMEM;
    window_restart(e, p);
  } else if (e->boot != p->boot) {
    if (p->sent_unix_ms <= e->last_sent_ms) return HPVM_EEXIST;   /* an older start's datagram */
    window_restart(e, p);
  } else if (p->seq > e->top) {
    uint64_t shift = p->seq - e->top;
    e->bitmap = shift >= CLU_REPLAY_BITS ? 1 : (e->bitmap << shift) | 1;
    e->top = p->seq;
  } else {
    uint64_t back = e->top - p->seq;
    if (back >= CLU_REPLAY_BITS || (e->bitmap >> back) & 1) return HPVM_EEXIST;
    e->bitmap |= (uint64_t)1 << back;
  }
  if (p->sent_unix_ms > e->last_sent_ms) e->last_sent_ms = p->sent_unix_ms;
  e->used = clu_now(c);
  return 0;
}
