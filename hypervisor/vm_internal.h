/* vm_internal.h — what the files of the VM platform (the hypervisor/ C files) share; never included
 * from outside hypervisor/.
 *
 * The map: vm.c creates and destroys a vm, pauses and resumes it; mem.c is guest-physical
 * memory, the shadow TLB (the CPU's translate/io callbacks), the dirty log and the coherence
 * of pre-decoded code between vCPUs and devices; vcpu.c runs each vCPU on its thread
 * (interruptions, halt, requests from other threads, crash dumps); boot.c loads the kernel
 * and writes the boot information; ssc.c is the Ski-compatible hypercalls; dev.c dispatches
 * device-window and PIB accesses and holds the console; stor.c is the avio_stor block device
 * and the I/O worker pool.
 *
 * Locking: vm->lock guards the run state of every vCPU (state, parked, requests, pending
 * interrupts) and the pause depth; it is never held while guest code runs. A vCPU's
 * ia64_cpu is touched only by its own thread, except while the vCPU is parked (halted,
 * waiting to boot, paused) and the toucher holds vm->lock. Each device has its own lock. */
#ifndef HPVM_VM_INTERNAL_H
#define HPVM_VM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "hpvm_error.h"
#include "vm.h"

#define VM_MAX_DEVICES 32
#define VM_BOOTINFO_VERSION 1
#define VM_RUN_BUDGET (1u << 20)      /* instructions between two looks at timers and requests */
#define VCPU_REQ_MAX 256              /* queued code/TLB requests before falling back to "all" */

/* cr numbers the platform uses. */
enum {
  VM_CR_DCR = 0, VM_CR_ITM = 1, VM_CR_IVA = 2, VM_CR_PTA = 8, VM_CR_IPSR = 16, VM_CR_ISR = 17,
  VM_CR_IIP = 19, VM_CR_IFA = 20, VM_CR_ITIR = 21, VM_CR_IIPA = 22, VM_CR_IFS = 23, VM_CR_IIM = 24,
  VM_CR_IHA = 25, VM_CR_LID = 64, VM_CR_IVR = 65, VM_CR_TPR = 66, VM_CR_EOI = 67, VM_CR_IRR0 = 68,
  VM_CR_ITV = 72, VM_CR_PMV = 73, VM_CR_CMCV = 74, VM_CR_LRR0 = 80, VM_CR_LRR1 = 81,
};
#define VM_PSR_IC (1ull << 13)  /* (ia64.h keeps its PSR bits in the CPU's internal.h) */
#define VM_PSR_I (1ull << 14)
#define VM_PSR_DT (1ull << 17)
#define VM_PSR_IT (1ull << 36)
#define VM_PSR_CPL_SHIFT 32

/* ---- vCPUs -------------------------------------------------------------------------------- */

typedef enum vcpu_state {
  VCPU_INVALID = 0,
  VCPU_WAIT_BOOT,   /* secondary vCPU before its start IPI */
  VCPU_RUNNING,
  VCPU_HALTED,      /* in HALT_LIGHT until an interrupt */
  VCPU_STOPPED,     /* the VM powered off */
} vcpu_state;

/* A request another thread leaves for a vCPU, done at its next safe point. */
enum { VCPU_REQ_REVOKE_W = 1, VCPU_REQ_DROP_CODE, VCPU_REQ_PTC };
typedef struct vcpu_req {
  uint8_t kind;                 /* VCPU_REQ_* */
  uint8_t ps;                   /* PTC: log2 of the purged size */
  uint32_t rid;                 /* PTC: region id */
  uint64_t arg;                 /* REVOKE_W, DROP_CODE: frame; PTC: virtual address */
} vcpu_req;

typedef struct vm_vcpu {
  ia64_cpu cpu;                 /* first: the CPU's callbacks get the vm_vcpu as context */
  vm *vm;
  unsigned id;
  pthread_t thread;
  bool thread_started;
  pthread_cond_t cond;          /* wakes the vCPU when parked */

  /* Under vm->lock. */
  vcpu_state state;
  bool parked;                  /* blocked in vcpu_park(): not touching cpu */
  bool kicked;                  /* the CPU's wake hook ran: an interrupt may end the halt */
  unsigned nreq;
  vcpu_req req[VCPU_REQ_MAX];
  bool req_all;                 /* too many: drop every decoded page, TLB grant and TC entry */

  /* The vCPU's own thread only. */
  uint64_t *xframes;            /* frames this vCPU was granted execute on (may hold decoded code) */
  uint64_t io_page, io_pa;      /* the last page translate() sent to io(), and its guest-physical page */

  /* sched.c: entitlement, cap and throttle (NULL: never scheduled); set once, under vm->lock. */
  _Atomic(struct vm_sched_vcpu *) sched;
} vm_vcpu;

/* ---- Devices ------------------------------------------------------------------------------- */

typedef struct vm_device vm_device;
typedef struct vm_dev_ops {
  /* Device-specific registers at offset >= 0x20 (8-byte aligned), called with d->lock held. */
  uint64_t (*read)(vm_device *d, unsigned off);
  void (*write)(vm_device *d, unsigned off, uint64_t val);
} vm_dev_ops;

enum { VM_DEV_CONSOLE = 1, VM_DEV_STOR = 2 };
#define VM_DEV_STATUS_IRQ 1ull      /* status bit 0: interrupt pending (RW1C) */
#define VM_DEV_STATUS_ERROR 2ull    /* status bit 1: the device refused its setup (RW1C) */
#define VM_DEV_STATUS_SHUTDOWN 4ull /* status bit 2, console: shutdown requested (RW1C) */

struct vm_device {
  vm *vm;
  unsigned index, type, version;
  uint64_t capacity;            /* boot information "size or capacity" */
  uint64_t flags;
  pthread_mutex_t lock;
  uint64_t vector;              /* interrupt vector (0: none) */
  uint64_t status;
  const vm_dev_ops *ops;
  void *impl;
};
/* Set status bits and raise the device's interrupt on vCPU 0; d->lock held. */
void vm_dev_raise(vm_device *d, uint64_t status_bits);

typedef struct vm_console vm_console;
typedef struct vm_stor vm_stor;

/* ---- The VM ------------------------------------------------------------------------------- */

struct vm {
  uint64_t ram_size, low_ram, high_ram;  /* high_ram: bytes at VM_HIGH_RAM_BASE */
  uint64_t span;                         /* mapped guest-physical span */
  uint8_t *ram;                          /* host address of guest-physical 0 */
  size_t nframes, nwords;
  _Atomic uint64_t *dirty;               /* dirty log, a bit per frame */
  _Atomic uint64_t *code;                /* frames some vCPU may hold decoded code of */
  atomic_bool logging;
  pthread_mutex_t dirty_mutex;           /* serializes start/harvest/stop */

  pthread_mutex_t lock;
  pthread_cond_t pause_cond;             /* pausers wait for nparked == nthreads */
  pthread_cond_t exit_cond;
  unsigned pause_depth, nparked, nthreads;
  bool started, stopping, joined;
  int exit_status;

  vm_vcpu *vcpu[VM_MAX_CPUS];
  unsigned ncpus;
  char *cmdline;
  FILE *log;

  vm_device dev[VM_MAX_DEVICES];
  unsigned ndev;
  vm_console *console;
  vm_stor *stor[VM_MAX_DISKS];
  unsigned ndisks;
  struct vm_iopool *pool;

  /* Boot. */
  uint64_t bootinfo_gpa;
  uint64_t sal_entry, sal_gp;            /* SAL_SET_VECTORS(OS boot rendezvous), under lock */
  bool sal_set;
  uint64_t t0_ns;                        /* host monotonic time of guest ITC 0 */

  struct vm_timer *timer;                /* timer.c */

  /* Ski disk SSCs (ssc.c), under ssc_lock. */
  pthread_mutex_t ssc_lock;
  struct vm_ssc_state *ssc;

  bool restore_failed;                   /* vmstate.c: a restore stopped half way; never start */

  /* Statistics. */
  atomic_uint_fast64_t st_dirty_faults, st_code_flushes, st_halts, st_pauses, st_retired;
};

/* ---- mem.c ----------------------------------------------------------------------------------- */

extern const ia64_mem_ops vm_mem_ops;  /* ctx: the vm_vcpu */
int vm_mem_init(vm *v, uint64_t ram_size, char *msg, size_t msglen);
void vm_mem_free(vm *v);
/* Ask every vCPU but self (NULL: all) to do r at its next safe point. */
void vm_broadcast(vm *v, vm_vcpu *self, vcpu_req r);
/* Do queued requests of this vCPU (its own thread, or parked with vm->lock held). */
void vm_vcpu_do_requests(vm_vcpu *vc);
/* Revoke every write grant in a parked vCPU's software TLB (vm->lock held). */
void vm_vcpu_revoke_writes(vm_vcpu *vc);

/* ---- vcpu.c ---------------------------------------------------------------------------------- */

int vm_vcpu_create(vm *v, unsigned id);
void vm_vcpu_free(vm_vcpu *vc);
int vm_vcpu_start_thread(vm_vcpu *vc);
/* Set the register state a vCPU starts in (platform.md "Boot") at entry with r1 = gp. */
void vm_vcpu_boot_state(vm_vcpu *vc, uint64_t entry, uint64_t gp);
/* Make the vCPU leave ia64_run at its next bundle and look at its requests (vm->lock held). */
void vm_vcpu_poke(vm_vcpu *vc);
/* Leave a request for vc (vm->lock held). */
void vm_vcpu_request(vm_vcpu *vc, vcpu_req r);
/* HALT_LIGHT: the vCPU sleeps at its next safe point until an interrupt. */
void vm_vcpu_halt(vm_vcpu *vc);
/* An IPI to the vCPU with this id/eid (dev.c's PIB). */
void vm_ipi(vm *v, unsigned id, unsigned eid, unsigned vector);
uint64_t vm_guest_time_ns(const vm *v);

/* ---- timer.c: one thread per VM kicks each vCPU's ITM match on time ------------------------- */

int vm_timer_start(vm *v);
void vm_timer_stop(vm *v);
void vm_timer_arm(vm_vcpu *vc, uint64_t at);   /* guest ns; UINT64_MAX: none */

/* ---- boot.c ---------------------------------------------------------------------------------- */

int vm_boot_load(vm *v, const uint8_t *img, size_t len, char *msg, size_t msglen);

/* ---- ssc.c ----------------------------------------------------------------------------------- */

#define VM_SSC_BREAK 0x80001
/* Perform the SSC hypercall the vCPU stopped on (break 0x80001); advances ip past it. */
void vm_ssc(vm_vcpu *vc);
int vm_ssc_init(vm *v);
void vm_ssc_free(vm *v);

/* ---- dev.c: device window, PIB, console ------------------------------------------------------ */

int vm_io_access(vm *v, vm_vcpu *from, uint64_t gpa, unsigned size, bool write, uint64_t *val);
vm_device *vm_dev_add(vm *v, unsigned type, const vm_dev_ops *ops, void *impl);
int vm_console_create(vm *v, int in_fd, int out_fd);
int vm_console_start(vm *v);
void vm_console_stop(vm *v);
void vm_console_free(vm *v);
void vm_console_putc(vm *v, int ch);
int vm_console_getc(vm *v);            /* next input byte, or -1 */
void vm_console_flush(vm *v);

/* ---- stor.c ---------------------------------------------------------------------------------- */

int vm_stor_create(vm *v, const char *path, char *msg, size_t msglen);
int vm_iopool_start(vm *v);
void vm_iopool_stop(vm *v);
void vm_stor_free(vm *v);
/* The backing file of disk i (SSC OPEN), or -1. */
int vm_stor_fd(vm *v, unsigned i);
const char *vm_stor_path(vm *v, unsigned i);

/* ---- Saved state of the devices and hypercalls (vmstate.c) -------------------------------------
 * Each model converts its own private state to and from these plain structs; vmstate.c puts
 * them on the wire. Getters take the model's lock; setters are for a VM not yet started. */

#define VM_CONSOLE_IN_MAX 4096
#define VM_CONSOLE_OUT_MAX 4096
typedef struct vm_console_state {
  uint64_t control;
  unsigned nin;                          /* input received, not yet read by the guest */
  uint8_t in[VM_CONSOLE_IN_MAX];         /* oldest first */
  unsigned nout;                         /* output written by the guest, not yet transmitted: */
  uint8_t out[VM_CONSOLE_OUT_MAX];       /* the line it is in the middle of */
} vm_console_state;
void vm_console_get_state(vm *v, vm_console_state *out);
void vm_console_set_state(vm *v, const vm_console_state *st);   /* nin, nout <= VM_CONSOLE_*_MAX */
void vm_console_flush_lines(vm *v);   /* whole lines only: the unfinished one stays (saved state) */

typedef struct vm_stor_state {
  uint64_t ring_base;
  uint32_t ring_size, prod, comp;
  unsigned inflight;                     /* accepted, not completed (0 after vm_devices_drain) */
} vm_stor_state;
void vm_stor_get_state(vm *v, unsigned disk, vm_stor_state *out);
/* Programs the ring as the guest's register writes would, then sets the indices. HPVM_EINVAL
 * (the VM is then unusable) when comp is not prod (requests in flight), or the indices are
 * not 0 on a ring the device refuses (not RAM, not a power of two up to 1024 entries). */
int vm_stor_set_state(vm *v, unsigned disk, const vm_stor_state *st);

#define VM_SSC_MAX_FILES 16
#define VM_SSC_MAX_COMPLETIONS 256
typedef struct vm_ssc_saved {
  struct { int disk; unsigned mode; bool used; } file[VM_SSC_MAX_FILES];
  struct { uint32_t fd, count; } comp[VM_SSC_MAX_COMPLETIONS];   /* oldest first */
  unsigned ncomp;
} vm_ssc_saved;
void vm_ssc_get_state(vm *v, vm_ssc_saved *out);
void vm_ssc_set_state(vm *v, const vm_ssc_saved *st);            /* disks, modes, ncomp checked by the caller */

/* ---- sched.c: the gate between two slices of guest code (entitlement, caps, throttle) ---------- */

/* Instructions for the vCPU's next ia64_run (VM_RUN_BUDGET when it is not scheduled). Own thread. */
uint64_t vm_sched_budget(vm_vcpu *vc);
/* The vCPU is about to run guest code: charge what it ran since the last look; 0 to run now, or
 * the ns to sleep (parked) first because it is over its allowance. Own thread, vm->lock held. */
uint64_t vm_sched_gate(vm_vcpu *vc);
/* The vCPU stops wanting the CPU (halted, paused, waiting to boot). Own thread, vm->lock held. */
void vm_sched_idle(vm_vcpu *vc);
/* The vCPU's thread ends (power-off): its entitlement is released. vm->lock held. */
void vm_sched_vcpu_exit(vm_vcpu *vc);
/* vm_vcpu_free: release and free the vCPU's scheduling state. */
void vm_sched_vcpu_free(vm_vcpu *vc);

#endif
