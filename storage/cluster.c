/* cluster.c — the cluster's identity and secret (DIR/cluster/id and DIR/cluster/secret) and
 * the hosts' public keys (DIR/hosts/<host>/key). The secret keys the gossip; it is readable
 * by root only: the directory is 0700, the file 0600, and both are checked on every read,
 * as ssh checks its keys, because a secret others can read is no secret. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

#define KEY_KIND HPVM__RECORD_KIND__RECORD_KIND_HOST_KEY
#define INFO_KIND HPVM__RECORD_KIND__RECORD_KIND_CLUSTER_INFO
#define SECRET_KIND HPVM__RECORD_KIND__RECORD_KIND_CLUSTER_SECRET

/* ---- Host keys ----------------------------------------------------------------------------------- */

int sto_host_key_write(sto_store *s, const char *host, const uint8_t sign_pub[32], const uint8_t kx_pub[32]) {
  char why[512], dir[PATH_MAX], rel[PATH_MAX];
  if (sto_host_name_check(host, why, sizeof why)) return sto__fail(s, HPVM_EINVAL, "%s", why);
  snprintf(dir, sizeof dir, "hosts/%s", host);
  snprintf(rel, sizeof rel, "hosts/%s/key", host);
  int r = sto__mkdir_durable(s, dir, 0755);
  if (r || (r = sto__lock(s, rel))) return r;
  Hpvm__HostKey m = HPVM__HOST_KEY__INIT;
  m.host = (char *)host;
  m.sign_public = (ProtobufCBinaryData){32, (uint8_t *)sign_pub};
  m.kx_public = (ProtobufCBinaryData){32, (uint8_t *)kx_pub};
  m.added_ns = sto__wall(s);
  sto_record cur;
  r = sto_record_read(s, rel, KEY_KIND, &cur);
  sto_record_free(&cur);
  if (r == HPVM_ENOENT) r = sto_msg_create(s, rel, KEY_KIND, &m.base);
  else if (!r) r = sto_msg_update(s, rel, KEY_KIND, cur.generation, &m.base, NULL);
  sto__unlock(s, rel);
  return r;
}

int sto_host_key_read(sto_store *s, const char *host, uint8_t sign_pub[32], uint8_t kx_pub[32]) {
  char why[512], rel[PATH_MAX];
  if (sto_host_name_check(host, why, sizeof why)) return sto__fail(s, HPVM_EINVAL, "%s", why);
  snprintf(rel, sizeof rel, "hosts/%s/key", host);
  ProtobufCMessage *m;
  int r = sto_msg_read(s, rel, KEY_KIND, &hpvm__host_key__descriptor, &m, NULL);
  if (r == HPVM_ENOENT) return sto__fail(s, HPVM_ENOENT, "host %s has no key in %s; register it (hpvmhost join)", host, s->root);
  if (r) return r;
  const Hpvm__HostKey *k = (const Hpvm__HostKey *)m;
  if (k->sign_public.len != 32 || k->kx_public.len != 32 || !k->host || strcmp(k->host, host)) {
    r = sto__fail(s, HPVM_ECORRUPT, "%s/%s: not a key of host %s (32-byte Ed25519 and X25519 keys); register the host "
                  "again", s->root, rel, host);
  } else {
    memcpy(sign_pub, k->sign_public.data, 32);
    memcpy(kx_pub, k->kx_public.data, 32);
  }
  protobuf_c_message_free_unpacked(m, NULL);
  return r;
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int sto_host_list(sto_store *s, char ***names, size_t *n) {
  *names = NULL, *n = 0;
  char abs[PATH_MAX];
  int r = sto__abs(s, "hosts", abs);
  if (r) return r;
  DIR *d = opendir(abs);
  if (!d) return sto__fail(s, errno == ENOENT ? HPVM_ENOENT : HPVM_EIO, "%s: %s", abs, strerror(errno));
  char **v = NULL;
  size_t cnt = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (sto_host_name_check(e->d_name, NULL, 0)) continue;
    if (cnt == cap) {
      cap = cap ? cap * 2 : 16;
      char **nv = realloc(v, cap * sizeof *v);
      if (!nv) break;
      v = nv;
    }
    if (!(v[cnt] = strdup(e->d_name))) break;
    cnt++;
  }
  closedir(d);
  if (cnt) qsort(v, cnt, sizeof *v, name_cmp);
  *names = v, *n = cnt;
  return 0;
}

/* ---- Cluster ------------------------------------------------------------------------------------- */

/* DIR/cluster (and the secret file) must not be readable by anyone but its owner. */
static int check_private(sto_store *s, const char *rel) {
  char abs[PATH_MAX];
  int r = sto__abs(s, rel, abs);
  if (r) return r;
  struct stat st;
  if (stat(abs, &st) < 0) {
    if (errno == ENOENT && !strcmp(rel, "cluster"))
      return sto__fail(s, HPVM_ENOENT, "%s is not set up for hpvm (no cluster/ directory); run hpvmhost init", s->root);
    return sto__fail(s, errno == ENOENT ? HPVM_ENOENT : HPVM_EIO, "%s: %s", abs, strerror(errno));
  }
  if (st.st_mode & 077)
    return sto__fail(s, HPVM_EIO, "%s is accessible to other users (mode %04o), and it guards the cluster secret; "
                     "chmod %s it", abs, (unsigned)(st.st_mode & 07777), S_ISDIR(st.st_mode) ? "700" : "600");
  return 0;
}

int sto_cluster_create(sto_store *s, const char *name, const uint8_t secret[32], char id_out[37]) {
  int r = check_private(s, "cluster");
  if (r || (r = sto__lock(s, "cluster/id"))) return r;
  char abs[PATH_MAX];
  sto__abs(s, "cluster/id", abs);
  Hpvm__ClusterInfo *old;
  r = sto_msg_read(s, "cluster/id", INFO_KIND, &hpvm__cluster_info__descriptor, (ProtobufCMessage **)&old, NULL);
  if (r != HPVM_ENOENT) {
    if (!r) {
      r = sto__fail(s, HPVM_EEXIST, "%s already has a cluster (%s, id %s); join it instead", s->root, old->name, old->cluster_id);
      protobuf_c_message_free_unpacked(&old->base, NULL);
    } else {
      char cause[sizeof s->msg];
      memcpy(cause, s->msg, sizeof cause);
      r = sto__fail(s, HPVM_EEXIST, "%s already has a cluster, but its identity cannot be read: %s", s->root, cause);
    }
    goto out;
  }
  /* A secret without an id is the leftover of an init that did not finish: nobody uses it. */
  sto_record_remove(s, "cluster/secret", 0, STO_FORCE);
  Hpvm__ClusterSecret sec = HPVM__CLUSTER_SECRET__INIT;
  sec.secret = (ProtobufCBinaryData){32, (uint8_t *)secret};
  if ((r = sto_msg_create(s, "cluster/secret", SECRET_KIND, &sec.base))) goto out;
  char id[37];
  sto__uuid(id);
  Hpvm__ClusterInfo info = HPVM__CLUSTER_INFO__INIT;
  info.cluster_id = id;
  info.name = (char *)(name ? name : "");
  info.created_ns = sto__wall(s);
  info.created_host = s->host;
  if ((r = sto_msg_create(s, "cluster/id", INFO_KIND, &info.base))) goto out;
  if (id_out) memcpy(id_out, id, 37);
out:
  sto__unlock(s, "cluster/id");
  return r;
}

int sto_cluster_read(sto_store *s, char id[37], char *name, size_t namelen, uint8_t secret[32]) {
  int r = check_private(s, "cluster");
  if (r) return r;
  Hpvm__ClusterInfo *info;
  r = sto_msg_read(s, "cluster/id", INFO_KIND, &hpvm__cluster_info__descriptor, (ProtobufCMessage **)&info, NULL);
  if (r == HPVM_ENOENT) return sto__fail(s, HPVM_ENOENT, "%s has no cluster yet; create one with hpvmhost init", s->root);
  if (r) return r;
  if (id) snprintf(id, 37, "%s", info->cluster_id);
  if (name && namelen) snprintf(name, namelen, "%s", info->name);
  protobuf_c_message_free_unpacked(&info->base, NULL);
  if (!secret) return 0;
  if ((r = check_private(s, "cluster/secret"))) return r;
  Hpvm__ClusterSecret *sec;
  r = sto_msg_read(s, "cluster/secret", SECRET_KIND, &hpvm__cluster_secret__descriptor, (ProtobufCMessage **)&sec, NULL);
  if (r) return r;
  if (sec->secret.len != 32) {
    r = sto__fail(s, HPVM_ECORRUPT, "%s/cluster/secret: a %zu-byte secret where 32 belong; restore it from a backup",
                  s->root, sec->secret.len);
  } else {
    memcpy(secret, sec->secret.data, 32);
  }
  protobuf_c_message_free_unpacked(&sec->base, NULL);
  return r;
}
