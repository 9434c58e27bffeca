/* place.h — placement of guests on the hosts of the cluster (library hpvm_cluster).
 *
 * Given the guests to move off a host (memory, vCPUs and entitlement per vCPU) and the
 * members of the cluster (clu_member: membership state and gossiped metadata), choose a target
 * host per guest. A candidate is alive in membership, says it is up (never draining, in
 * maintenance or left) and is not the source. Guests are placed largest memory first (fewer
 * guests left over when memory is tight); each goes to the candidate with the most free memory
 * that still has room for its memory and its entitlement (ties: more free entitlement, then
 * the name), and that host's free memory and entitlement are reduced before the next guest,
 * so load spreads instead of piling onto the roomiest host. A guest no candidate has room for
 * is left unplaced (target -1). docs/design/cluster.md (Maintenance). */
#ifndef HPVM_CLUSTER_PLACE_H
#define HPVM_CLUSTER_PLACE_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.h"

typedef struct place_guest {
  const char *name;
  uint64_t mem;             /* bytes */
  uint32_t vcpus;
  uint32_t entitlement;     /* % of a host core per vCPU (0: best effort, needs no entitlement) */
} place_guest;

/* The entitlement a guest needs on its target: vcpus x entitlement, in % of a host core. */
uint64_t place_guest_entitlement(const place_guest *g);

/* Whether a member may receive guests moved off host `source` (NULL: no source). */
bool place_is_candidate(const clu_member *m, const char *source);

/* Choose targets: target[i] is the index in hosts[] of guest i's target, or -1 when no
 * candidate has room for it. Returns the number of guests left unplaced (>= 0), or HPVM_EINVAL
 * (with msg) for bad arguments. hosts[] is not changed. */
int place_guests(const place_guest *guests, size_t nguests, const clu_member *hosts, size_t nhosts,
                 const char *source, int *target, char *msg, size_t msglen);

#endif
