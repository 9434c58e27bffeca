/* vm.c — a VM's lifecycle: creation from a vm_config (memory, vCPUs, devices), start and
 * power-off, pause and resume of all vCPUs, statistics.
 *
 * Pause: the pauser raises pause_depth and pokes every vCPU (cpu.stop_request) under
 * vm->lock, then waits until every vCPU thread is parked. Running vCPUs park at the end of
 * their current bundle; halted or not-yet-started vCPUs are parked already, so a pause
 * costs the time the slowest running vCPU needs to notice, plus one wake-up each on
 * resume (bench/vm measures it). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vm_internal.h"

static int fail(char *msg, size_t n, int rc, const char *text) {
  snprintf(msg, n, "%s", text);
  return rc;
}

int vm_create(const vm_config *cfg, vm **out, char *msg, size_t msglen) {
  *out = NULL;
  if (cfg->ncpus < 1 || cfg->ncpus > VM_MAX_CPUS)
    return fail(msg, msglen, HPVM_EINVAL, "the number of vCPUs must be 1 to 64");
  if (cfg->memory < (1ull << 20) || cfg->memory % VM_FRAME_SIZE)
    return fail(msg, msglen, HPVM_EINVAL, "memory must be at least 1 MiB and a multiple of 4 KiB");
  if (cfg->memory > (1ull << 46))
    return fail(msg, msglen, HPVM_ERANGE, "memory must be at most 64 TiB");
  if (cfg->ndisks > VM_MAX_DISKS) return fail(msg, msglen, HPVM_EINVAL, "at most 16 disks");
  vm *v = calloc(1, sizeof *v);
  if (!v) return fail(msg, msglen, HPVM_ENOMEM, "out of memory");
  v->log = cfg->log ? cfg->log : stderr;
  pthread_mutex_init(&v->lock, NULL);
  pthread_mutex_init(&v->dirty_mutex, NULL);
  pthread_mutex_init(&v->ssc_lock, NULL);
  pthread_cond_init(&v->pause_cond, NULL);
  pthread_cond_init(&v->exit_cond, NULL);
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  v->t0_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
  int rc = vm_mem_init(v, cfg->memory, msg, msglen);
  if (rc) {
    vm_destroy(v);
    return rc;
  }
  v->cmdline = strdup(cfg->cmdline ? cfg->cmdline : "");
  if (!v->cmdline) rc = fail(msg, msglen, HPVM_ENOMEM, "out of memory");
  for (unsigned i = 0; !rc && i < cfg->ncpus; i++) {
    rc = vm_vcpu_create(v, i);
    if (rc) fail(msg, msglen, rc, "out of memory for the vCPUs");
    else v->ncpus = i + 1;
  }
  if (!rc) rc = vm_ssc_init(v);
  if (!rc) {
    rc = vm_console_create(v, cfg->console_in, cfg->console_out);
    if (rc) fail(msg, msglen, rc, "cannot set up the console");
  }
  for (unsigned i = 0; !rc && i < cfg->ndisks; i++) rc = vm_stor_create(v, cfg->disks[i], msg, msglen);
  if (!rc && vm_iopool_start(v)) rc = fail(msg, msglen, HPVM_ENOMEM, "cannot start the I/O threads");
  if (rc) {
    vm_destroy(v);
    return rc;
  }
  *out = v;
  return 0;
}

int vm_load_kernel_image(vm *v, const void *image, size_t len, char *msg, size_t msglen) {
  return vm_boot_load(v, image, len, msg, msglen);
}

int vm_start(vm *v) {
  if (v->started) return HPVM_EBUSY;
  if (v->restore_failed) return HPVM_EINVAL;   /* half-restored: destroy it */
  int rc = vm_timer_start(v);
  if (!rc) rc = vm_console_start(v);
  if (rc) return rc;
  pthread_mutex_lock(&v->lock);
  v->started = true;
  for (unsigned i = 0; i < v->ncpus && !rc; i++) {
    rc = vm_vcpu_start_thread(v->vcpu[i]);
    if (!rc) v->nthreads++;
  }
  pthread_mutex_unlock(&v->lock);
  if (rc) vm_power_off(v, VM_EXIT_CRASH);
  return rc;
}

void vm_power_off(vm *v, int status) {
  pthread_mutex_lock(&v->lock);
  if (!v->stopping) {
    v->stopping = true;
    v->exit_status = status;
  }
  for (unsigned i = 0; i < v->ncpus; i++) {
    __atomic_store_n(&v->vcpu[i]->cpu.stop_request, 1, __ATOMIC_SEQ_CST);
    pthread_cond_signal(&v->vcpu[i]->cond);
  }
  pthread_cond_broadcast(&v->exit_cond);
  pthread_cond_broadcast(&v->pause_cond);
  pthread_mutex_unlock(&v->lock);
}

bool vm_stopped(const vm *v) {
  vm *m = (vm *)v;
  pthread_mutex_lock(&m->lock);
  bool s = m->stopping;
  pthread_mutex_unlock(&m->lock);
  return s;
}

/* Join the vCPU threads and stop the devices, once. */
static void join_all(vm *v) {
  if (v->joined) return;
  v->joined = true;
  for (unsigned i = 0; i < v->ncpus; i++)
    if (v->vcpu[i]->thread_started) pthread_join(v->vcpu[i]->thread, NULL);
  vm_timer_stop(v);
  vm_console_stop(v);
  vm_devices_drain(v);
  vm_console_flush(v);
}

int vm_wait(vm *v) {
  pthread_mutex_lock(&v->lock);
  while (!v->stopping) pthread_cond_wait(&v->exit_cond, &v->lock);
  pthread_mutex_unlock(&v->lock);
  join_all(v);
  return v->exit_status;
}

void vm_destroy(vm *v) {
  if (!v) return;
  if (v->started) {
    vm_power_off(v, v->exit_status);
    join_all(v);
  }
  vm_stor_free(v);
  vm_console_free(v);
  vm_ssc_free(v);
  for (unsigned i = 0; i < v->ncpus; i++) vm_vcpu_free(v->vcpu[i]);
  vm_mem_free(v);
  free(v->cmdline);
  pthread_mutex_destroy(&v->lock);
  pthread_mutex_destroy(&v->dirty_mutex);
  pthread_mutex_destroy(&v->ssc_lock);
  pthread_cond_destroy(&v->pause_cond);
  pthread_cond_destroy(&v->exit_cond);
  free(v);
}

/* ---- Pause and resume --------------------------------------------------------------------------- */

void vm_pause(vm *v) {
  pthread_mutex_lock(&v->lock);
  if (v->pause_depth++ == 0) {
    atomic_fetch_add_explicit(&v->st_pauses, 1, memory_order_relaxed);
    for (unsigned i = 0; i < v->ncpus; i++) __atomic_store_n(&v->vcpu[i]->cpu.stop_request, 1, __ATOMIC_SEQ_CST);
  }
  while (v->nparked < v->nthreads) pthread_cond_wait(&v->pause_cond, &v->lock);
  pthread_mutex_unlock(&v->lock);
}

void vm_resume(vm *v) {
  pthread_mutex_lock(&v->lock);
  if (v->pause_depth && --v->pause_depth == 0)
    for (unsigned i = 0; i < v->ncpus; i++)
      if (v->vcpu[i]->parked) pthread_cond_signal(&v->vcpu[i]->cond);
  pthread_mutex_unlock(&v->lock);
}

/* ---- Accessors ---------------------------------------------------------------------------------- */

unsigned vm_ncpus(const vm *v) { return v->ncpus; }
ia64_cpu *vm_cpu(vm *v, unsigned cpu) { return cpu < v->ncpus ? &v->vcpu[cpu]->cpu : NULL; }

void vm_get_stats(vm *v, vm_stats *out) {
  memset(out, 0, sizeof *out);
  for (unsigned i = 0; i < v->ncpus; i++) out->retired += __atomic_load_n(&v->vcpu[i]->cpu.retired, __ATOMIC_RELAXED);
  out->dirty_faults = atomic_load(&v->st_dirty_faults);
  out->code_flushes = atomic_load(&v->st_code_flushes);
  out->halts = atomic_load(&v->st_halts);
  out->pauses = atomic_load(&v->st_pauses);
}

int vm_mmio_read(vm *v, uint64_t gpa, unsigned size, uint64_t *val) {
  return vm_io_access(v, NULL, gpa, size, false, val);
}

int vm_mmio_write(vm *v, uint64_t gpa, unsigned size, uint64_t val) {
  return vm_io_access(v, NULL, gpa, size, true, &val);
}
