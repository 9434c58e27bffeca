/* place.c — placement of guests on the cluster's hosts (place.h). */
#include "place.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t place_guest_entitlement(const place_guest *g) {
  return (uint64_t)g->vcpus * g->entitlement;
}

bool place_is_candidate(const clu_member *m, const char *source) {
  if (m->state != CLU_ALIVE || m->meta.state != CLU_HOST_UP)
    return false;
  return source == NULL || strcmp(m->name, source) != 0;
}

/* What is left on a candidate as guests are placed on it. */
typedef struct room {
  uint64_t mem;
  uint64_t ent;
} room;

static bool fits(const room *r, const place_guest *g) {
  return r->mem >= g->mem && r->ent >= place_guest_entitlement(g);
}

/* Whether candidate a is a better target than b: more free memory, then more free
 * entitlement, then the smaller name (a stable, predictable choice). */
static bool better(const room *ra, const clu_member *a, const room *rb, const clu_member *b) {
  if (ra->mem != rb->mem)
    return ra->mem > rb->mem;
  if (ra->ent != rb->ent)
    return ra->ent > rb->ent;
  return strcmp(a->name, b->name) < 0;
}

/* A guest in placement order: largest memory first, then the index (a stable order). */
typedef struct slot {
  size_t index;
  uint64_t mem;
} slot;

static int by_memory_desc(const void *pa, const void *pb) {
  const slot *a = pa, *b = pb;
  if (a->mem != b->mem)
    return a->mem > b->mem ? -1 : 1;
  return a->index < b->index ? -1 : a->index > b->index;
}

static int pick(const place_guest *g, const clu_member *hosts, size_t nhosts, const char *source,
                const room *rooms) {
  int best = -1;
  for (size_t h = 0; h < nhosts; h++) {
    if (!place_is_candidate(&hosts[h], source) || !fits(&rooms[h], g))
      continue;
    if (best < 0 || better(&rooms[h], &hosts[h], &rooms[best], &hosts[best]))
      best = (int)h;
  }
  return best;
}

int place_guests(const place_guest *guests, size_t nguests, const clu_member *hosts, size_t nhosts,
                 const char *source, int *target, char *msg, size_t msglen) {
  if ((nguests && (!guests || !target)) || (nhosts && !hosts)) {
    snprintf(msg, msglen, "place_guests: guests, target and hosts must be given with their counts");
    return HPVM_EINVAL;
  }
  room *rooms = calloc(nhosts ? nhosts : 1, sizeof *rooms);
  slot *order = calloc(nguests ? nguests : 1, sizeof *order);
  if (!rooms || !order) {
    free(rooms), free(order);
    snprintf(msg, msglen, "place_guests: out of memory");
    return HPVM_ENOMEM;
  }
  for (size_t h = 0; h < nhosts; h++)
    rooms[h] = (room){hosts[h].meta.mem_free, hosts[h].meta.cpu_ent_free};
  for (size_t i = 0; i < nguests; i++)
    order[i] = (slot){i, guests[i].mem};
  qsort(order, nguests, sizeof *order, by_memory_desc);

  int unplaced = 0;
  for (size_t k = 0; k < nguests; k++) {
    const place_guest *g = &guests[order[k].index];
    int h = pick(g, hosts, nhosts, source, rooms);
    target[order[k].index] = h;
    if (h < 0) {
      unplaced++;
      continue;
    }
    rooms[h].mem -= g->mem;
    rooms[h].ent -= place_guest_entitlement(g);
  }
  free(rooms);
  free(order);
  return unplaced;
}
