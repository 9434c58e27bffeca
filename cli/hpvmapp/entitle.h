/* entitle.h — hpvmapp's CPU entitlement: the options that put the VM under the host's
 * scheduler (hypervisor/vm.h "Scheduling", docs/design/scheduling.md) and its admission.
 *
 *   --entitlement PCT[:CAP]   % of a host core guaranteed to each vCPU (0: best-effort), and the
 *                             most it may use
 *   --sched-dir DIR           the host's scheduler segment (DIR/sched.shm), shared with every
 *                             other hpvmapp of the host; hpvmd passes its state directory
 *
 * Without either option the VM is not scheduled (it takes what the kernel gives it); with
 * --entitlement alone the scheduler is private to this process. A VM whose entitlement the
 * host's cores cannot guarantee next to the VMs already admitted is refused before it starts,
 * with the figures. Internal to hpvmapp; main.c calls these three functions. */
#ifndef HPVMAPP_ENTITLE_H
#define HPVMAPP_ENTITLE_H

#include <stdbool.h>
#include <stddef.h>

#include "vm.h"

typedef struct app_sched_opts {
  unsigned entitlement;   /* 0..100; 0 is best-effort (nothing guaranteed) */
  bool entitlement_set;   /* --entitlement given */
  unsigned cap;           /* 0: none */
  const char *dir;        /* --sched-dir, or NULL */
} app_sched_opts;

/* argv[*i] is one of the options above: 1 (value consumed), 0 when it is not, -1 after
 * printing why its value is bad. */
int app_sched_parse(app_sched_opts *o, int argc, char **argv, int *i);
/* Admit v (before vm_start). *out is the scheduler to close after vm_destroy (NULL when
 * the options ask for none). 0, or an error with msg filled. */
int app_sched_admit(const app_sched_opts *o, vm *v, const char *name, vm_sched **out, char *msg, size_t msglen);
void app_sched_close(vm_sched *s);

#endif
