/* entitle.c — hpvmapp's entitlement options and admission (see entitle.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entitle.h"

int app_sched_parse(app_sched_opts *o, int argc, char **argv, int *i) {
  const char *a = argv[*i];
  if (strcmp(a, "--entitlement") && strcmp(a, "--sched-dir")) return 0;
  if (*i + 1 >= argc) {
    fprintf(stderr, "hpvmapp: %s needs a value; see hpvmapp --help\n", a);
    return -1;
  }
  const char *val = argv[++*i];
  if (!strcmp(a, "--sched-dir")) {
    o->dir = val;
    return 1;
  }
  char *end;
  long e = strtol(val, &end, 10), cap = 0;
  if (*end == ':') cap = strtol(end + 1, &end, 10);
  if (end == val || *end || e < 0 || e > 100 || (cap && (cap < e || cap > 100))) {
    fprintf(stderr, "hpvmapp: --entitlement %s: give PERCENT[:CAP], 0 to 100, the cap at least the entitlement\n", val);
    return -1;
  }
  o->entitlement = (unsigned)e;
  o->entitlement_set = true;
  o->cap = (unsigned)cap;
  return 1;
}

int app_sched_admit(const app_sched_opts *o, vm *v, const char *name, vm_sched **out, char *msg, size_t msglen) {
  *out = NULL;
  if (!o->entitlement_set && !o->dir) return 0;
  vm_sched *s;
  int rc = vm_sched_open(o->dir, NULL, &s, msg, msglen);
  if (rc) return rc;
  vm_sched_params p = {.name = name, .entitlement = o->entitlement_set ? o->entitlement : VM_SCHED_DEFAULT_ENTITLEMENT,
                       .cap = o->cap};
  rc = vm_sched_admit(v, s, &p, msg, msglen);
  if (rc) {
    vm_sched_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

void app_sched_close(vm_sched *s) {
  vm_sched_close(s);
}
