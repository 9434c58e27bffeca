/* timer.c — the ITC/ITM timer's clock side: one thread per VM sleeps until the earliest
 * ITM match any vCPU has armed (the CPU tells us through the timer_arm hook, in guest ns)
 * and then calls ia64_timer_kick(), which pends the ITV vector and wakes the vCPU if it is
 * halted. Guest time is host CLOCK_MONOTONIC minus the VM's t0, so the condition variable
 * waits on that clock too. */
#include <stdlib.h>
#include <time.h>

#include "vm_internal.h"

struct vm_timer {
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool running, stop;
  uint64_t deadline[VM_MAX_CPUS];   /* guest ns; UINT64_MAX: none */
};

void vm_timer_arm(vm_vcpu *vc, uint64_t at) {
  struct vm_timer *t = vc->vm->timer;
  if (!t) return;
  pthread_mutex_lock(&t->lock);
  t->deadline[vc->id] = at;
  pthread_cond_signal(&t->cond);
  pthread_mutex_unlock(&t->lock);
}

static void *timer_thread(void *arg) {
  vm *v = arg;
  struct vm_timer *t = v->timer;
  pthread_mutex_lock(&t->lock);
  while (!t->stop) {
    uint64_t now = vm_guest_time_ns(v), next = UINT64_MAX;
    uint64_t due[VM_MAX_CPUS / 64] = {0};
    for (unsigned i = 0; i < v->ncpus; i++) {
      if (t->deadline[i] <= now) {
        t->deadline[i] = UINT64_MAX;
        due[i / 64] |= 1ull << (i % 64);
      } else if (t->deadline[i] < next) {
        next = t->deadline[i];
      }
    }
    if (due[0]) {
      pthread_mutex_unlock(&t->lock);   /* the kick's wake hook takes vm->lock */
      for (unsigned i = 0; i < v->ncpus; i++)
        if ((due[i / 64] >> (i % 64)) & 1) ia64_timer_kick(&v->vcpu[i]->cpu);
      pthread_mutex_lock(&t->lock);
      continue;
    }
    if (next == UINT64_MAX) {
      pthread_cond_wait(&t->cond, &t->lock);
    } else {
      uint64_t abs_ns = v->t0_ns + next;
      struct timespec ts = {(time_t)(abs_ns / 1000000000ull), (long)(abs_ns % 1000000000ull)};
      pthread_cond_timedwait(&t->cond, &t->lock, &ts);
    }
  }
  pthread_mutex_unlock(&t->lock);
  return NULL;
}

int vm_timer_start(vm *v) {
  struct vm_timer *t = calloc(1, sizeof *t);
  if (!t) return HPVM_ENOMEM;
  for (unsigned i = 0; i < VM_MAX_CPUS; i++) t->deadline[i] = UINT64_MAX;
  pthread_mutex_init(&t->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&t->cond, &ca);
  pthread_condattr_destroy(&ca);
  v->timer = t;
  if (pthread_create(&t->thread, NULL, timer_thread, v) != 0) return HPVM_ENOMEM;
  t->running = true;
  /* A restored VM (vmstate.c) has ITM matches armed from before there was a timer to tell:
   * arm every ITM ahead of ar.itc (one the CPU does not count as armed costs a kick that
   * finds nothing due); one already passed is noticed by the vCPU's first look. */
  for (unsigned i = 0; i < v->ncpus; i++) {
    ia64_cpu *c = &v->vcpu[i]->cpu;
    uint64_t itm = c->cr[VM_CR_ITM];
    if ((int64_t)(itm - ia64_itc(c)) >= 0) vm_timer_arm(v->vcpu[i], itm - (uint64_t)c->sys.itc_offset);
  }
  return 0;
}

void vm_timer_stop(vm *v) {
  struct vm_timer *t = v->timer;
  if (!t) return;
  if (t->running) {
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
  }
  pthread_mutex_destroy(&t->lock);
  pthread_cond_destroy(&t->cond);
  free(t);
  v->timer = NULL;
}
