/* vm.h — the VM platform (library hpvm_vm): one IA-64 virtual machine of docs/platform.md.
 *
 * A vm owns guest-physical memory (one lazily-populated host mapping), the vCPUs (an
 * ia64_cpu each, run on its own host thread), the shadow TLB that maps guest addresses to
 * host memory through the CPU's software TLB (with the dirty log and the coherence of
 * pre-decoded code), the devices of the platform (console, avio_stor block devices, the
 * processor interrupt block, the ITC timer) and the Ski-compatible hypercalls. hpvmapp runs
 * one vm in the foreground; migration uses the dirty log and pause/resume; tests create
 * several in one process (there is no global state).
 *
 * Lifecycle: vm_create (memory, vCPU structs, devices) -> vm_load_kernel (ELF + boot
 * information + initial state) or vm_restore (a saved state) -> vm_start (vCPU threads) ->
 * vm_wait (until the guest powers off or crashes) -> vm_destroy. Functions return 0 or a
 * negative HPVM_E* code (include/hpvm_error.h); those taking msg fill it with one line saying
 * what is wrong. */
#ifndef HPVM_VM_H
#define HPVM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hpvm_error.h"
#include "ia64.h"

typedef struct vm vm;

#define VM_MAX_CPUS 64
#define VM_MAX_DISKS 16
#define VM_FRAME_SHIFT 12                     /* the dirty log counts 4 KiB frames */
#define VM_FRAME_SIZE (1ull << VM_FRAME_SHIFT)

/* Guest-physical map (docs/platform.md). */
#define VM_DEV_BASE 0xF0000000ull             /* device i's registers at VM_DEV_BASE + i*4K */
#define VM_DEV_WINDOW 0x01000000ull
#define VM_PIB_BASE 0xFEE00000ull             /* processor interrupt block (IPIs) */
#define VM_PIB_SIZE 0x00100000ull
#define VM_LOW_RAM_MAX 0xF0000000ull          /* RAM below the device window ... */
#define VM_HIGH_RAM_BASE 0x100000000ull       /* ... continues here */
#define VM_ITC_HZ 1000000000ull               /* ar.itc: one tick per guest nanosecond */

/* Exit status of a guest that crashed (an interruption it cannot take: IVA unset, or a
 * fault with interruption collection off that is not a nested data TLB miss). */
#define VM_EXIT_CRASH 134

typedef struct vm_config {
  uint64_t memory;            /* bytes of RAM, a multiple of 4 KiB, >= 1 MiB */
  unsigned ncpus;             /* 1..VM_MAX_CPUS */
  const char *cmdline;        /* guest command line (boot information, SSC GET_ARGS); may be NULL */
  const char *const *disks;   /* backing files of the avio_stor disks, in order */
  unsigned ndisks;
  int console_in;             /* fd the console reads (-1: no input) */
  int console_out;            /* fd the console writes (-1: output dropped) */
  FILE *log;                  /* crash dumps and platform messages (NULL: stderr) */
} vm_config;

/* ---- Lifecycle -------------------------------------------------------------------------- */

int vm_create(const vm_config *cfg, vm **out, char *msg, size_t msglen);
void vm_destroy(vm *v);   /* stops the vCPUs and devices first if they run */
/* Load a static IA-64 ELF at its physical addresses, write the boot information block and
 * set the boot vCPU's initial state (docs/platform.md "Boot"). */
int vm_load_kernel(vm *v, const char *path, char *msg, size_t msglen);
int vm_load_kernel_image(vm *v, const void *image, size_t len, char *msg, size_t msglen);
int vm_start(vm *v);                  /* start the vCPU threads and the devices */
int vm_wait(vm *v);                   /* block until power-off; returns the exit status */
bool vm_stopped(const vm *v);
void vm_power_off(vm *v, int status); /* as if the guest had called SSC EXIT(status) */
/* Press the power button: ask the guest to shut down (docs/platform.md, console status bit 2
 * and its interrupt). The guest decides: it may power off, later or never; the caller keeps
 * its own timeout. HPVM_ESTATE once the VM is off, HPVM_ENOENT without a console. */
int vm_request_shutdown(vm *v);

/* ---- Pause and resume ---------------------------------------------------------------------
 * vm_pause returns when no vCPU executes guest code (running ones reach the end of their
 * current bundle; halted ones already are parked). Pauses nest; devices keep running. */
void vm_pause(vm *v);
void vm_resume(vm *v);

/* ---- Guest memory -------------------------------------------------------------------------- */

uint64_t vm_memory_size(const vm *v);        /* RAM bytes */
uint64_t vm_phys_span(const vm *v);          /* highest RAM guest-physical address + 1 */
bool vm_is_ram(const vm *v, uint64_t gpa, uint64_t len);
/* Host address of [gpa, gpa+len) when it is all RAM, else NULL. Reading through it is fine;
 * writes must be announced with vm_mem_written() (or use vm_mem_write). */
uint8_t *vm_mem_ptr(vm *v, uint64_t gpa, uint64_t len);
int vm_mem_read(vm *v, uint64_t gpa, void *buf, uint64_t len);
/* A device (or the VMM) writes guest memory: copy, then vm_mem_written. HPVM_ERANGE when the
 * range is not all RAM (nothing is written then). */
int vm_mem_write(vm *v, uint64_t gpa, const void *buf, uint64_t len);
/* The one place that accounts for a write not made by a vCPU store: marks the frames in the
 * dirty log and drops pre-decoded code of them in every vCPU. Call after the data is there. */
void vm_mem_written(vm *v, uint64_t gpa, uint64_t len);
/* Fill RAM from an image file before the VM starts (benchmarks: a guest whose memory holds
 * given content). The file's bytes are RAM in order: offset o is guest-physical o below the
 * device window, and the rest continues from 4 GiB (docs/platform.md). A 4 KiB page that is all
 * zero in the file (or a hole in a sparse file) is not written, so it stays unpopulated and
 * costs no host memory; a file shorter than RAM leaves the rest as it is (zero in a new VM).
 * Load the image first and the kernel after it: vm_load_kernel then writes its segments and
 * boot information over the image. HPVM_EINVAL when the file is larger than RAM, HPVM_EBUSY
 * once the VM is started, HPVM_EIO when it cannot be read. */
int vm_mem_load_image(vm *v, const char *path, char *msg, size_t msglen);

/* ---- Dirty log (migration) ------------------------------------------------------------------
 * A bitmap of 4 KiB guest-physical frames (bit i = frame i = gpa >> 12, vm_dirty_log_words()
 * 64-bit words) written by a vCPU or a device since the log was started or last harvested.
 * Start and harvest pause the vCPUs for the moment they revoke write permission in every
 * vCPU's software TLB: every store after that point takes the slow path once per frame. */
size_t vm_dirty_log_words(const vm *v);
int vm_dirty_log_start(vm *v);
/* Copy the bitmap to `bitmap` and clear it, atomically with respect to vCPU stores (all vCPUs
 * are paused across it) and device writes (each word is exchanged atomically). */
int vm_dirty_log_harvest(vm *v, uint64_t *bitmap);
void vm_dirty_log_stop(vm *v);
bool vm_dirty_logging(const vm *v);

/* ---- Migration's helpers (migrate/) -----------------------------------------------------------
 * vm_mem_populated: the frames that may hold data, as a bitmap like the dirty log's: a RAM
 * frame whose host page was never populated reads zeros and has its bit clear (round 0 sends
 * it as zero without reading it); holes between RAM ranges are clear. Where the host cannot
 * tell, every RAM frame is set. vm_mem_clear: every RAM frame reads zero again (a VM not
 * started; HPVM_EBUSY otherwise). vm_devices_quiesce: wait at most timeout_ms (0: no limit)
 * for the avio_stor requests in flight (HPVM_ETIMEDOUT), then vm_disks_flush: every disk's
 * backing file on stable storage (fdatasync; HPVM_EIO). */
int vm_mem_populated(vm *v, uint64_t *bitmap);
int vm_mem_clear(vm *v);
int vm_devices_quiesce(vm *v, unsigned timeout_ms, char *msg, size_t msglen);
int vm_disks_flush(vm *v, char *msg, size_t msglen);

/* ---- Interrupts -------------------------------------------------------------------------- */

/* Pend external interrupt `vector` (16..255) on vCPU `cpu` and wake it if it halts. */
int vm_interrupt(vm *v, unsigned cpu, unsigned vector);

/* ---- vCPUs ------------------------------------------------------------------------------- */

unsigned vm_ncpus(const vm *v);
/* The vCPU's CPU state: only while the VM is paused (or not started). */
ia64_cpu *vm_cpu(vm *v, unsigned cpu);
/* Print the vCPU's registers (crash dumps, debugging) to f. */
void vm_dump_cpu(vm *v, unsigned cpu, FILE *f);
/* Run vCPU cpu of a VM that is not started on the calling thread until it has retired
 * exactly `insns` more instructions, handling interruptions and hypercalls as its thread
 * would (for instruction-exact runs: save/restore equivalence, debugging). 0 when the budget
 * is used up; 1 when the vCPU stopped first (it halted with nothing to wake it, waits for
 * its start IPI, or the VM powered off); HPVM_EBUSY once the VM is started. */
int vm_run_cpu(vm *v, unsigned cpu, uint64_t insns);

/* Counters for tests and benchmarks. */
typedef struct vm_stats {
  uint64_t retired;           /* instructions retired, all vCPUs */
  uint64_t dirty_faults;      /* first stores to clean frames while logging */
  uint64_t code_flushes;      /* frames whose decoded code a write dropped in another vCPU */
  uint64_t halts;             /* times a vCPU went to sleep in HALT_LIGHT */
  uint64_t pauses;
} vm_stats;
void vm_get_stats(vm *v, vm_stats *out);

/* ---- Scheduling (sched.c; docs/design/scheduling.md) -------------------------------------------
 * CPU entitlement, caps and throttling, one mechanism for all three. Each vCPU has an
 * entitlement (the percentage of one host core it is guaranteed, 0..100; 0 is best-effort:
 * nothing guaranteed, admitted whatever is reserved, the spare only), an optional cap (the
 * most it may use, entitlement..100) and a throttle (0..99: it gets that much less of the CPU
 * it would otherwise get; migration's auto-converge). From them the host's scheduler computes
 * each vCPU's allocation (entitlements first, spare capacity to the vCPUs that want it in
 * proportion to their entitlements, no more than the cap); every vCPU thread runs guest code in
 * slices of ~2 ms and, between two slices, sleeps while it is over its allowance.
 *
 * The host's scheduler (vm_sched) is shared by every VM of the host, in this process and in the
 * other hpvmapp processes, through a small shared-memory file in the host's state directory
 * with one slot per admitted vCPU (parameters and CPU accounting). Admission refuses a VM whose
 * entitlement the cores cannot guarantee next to the vCPUs already admitted. A VM's slots are
 * released when it powers off or is destroyed, and those of a process that died are reclaimed. */
typedef struct vm_sched vm_sched;

#define VM_SCHED_MAX_VCPUS 1024      /* vCPUs a host admits at once */
#define VM_SCHED_MAX_CORES 256       /* host CPUs numbered 0..255 */
#define VM_SCHED_DEFAULT_ENTITLEMENT 10

typedef struct vm_sched_opts {
  unsigned ncores;          /* 0: every CPU this process may run on; n: the first n of them */
} vm_sched_opts;
/* Open the host's scheduler in state_dir (the file sched.shm, created on first use), or one
 * private to this process when state_dir is NULL. opts may be NULL; it only matters to the
 * first opener. */
int vm_sched_open(const char *state_dir, const vm_sched_opts *opts, vm_sched **out, char *msg, size_t msglen);
/* After every VM admitted through it has been destroyed. */
void vm_sched_close(vm_sched *s);
unsigned vm_sched_ncores(const vm_sched *s);

typedef struct vm_sched_params {
  const char *name;         /* the guest's name, for listings (may be NULL) */
  unsigned entitlement;     /* % of one core guaranteed to each vCPU, 0..100 (0: best-effort) */
  unsigned cap;             /* most % of one core each vCPU may use, entitlement..100; 0: 100 */
  const char *cpus;         /* host CPUs the vCPUs run on, as "0-3,6"; NULL or "": all */
} vm_sched_params;
/* Admit the VM's vCPUs (before vm_start). HPVM_EBUSY, with the figures in msg, when the
 * entitlement cannot be guaranteed: on any set of cores the entitlements of the vCPUs confined
 * to it would exceed 100 % per core. HPVM_EINVAL for bad parameters, HPVM_EBUSY when the VM is
 * admitted already. */
int vm_sched_admit(vm *v, vm_sched *s, const vm_sched_params *p, char *msg, size_t msglen);
/* Change the entitlement and cap (0: none) of every vCPU, running or not: the vCPUs follow at
 * their next slice. A raise the host cannot guarantee is refused as at admission. */
int vm_sched_set(vm *v, unsigned entitlement, unsigned cap, char *msg, size_t msglen);
/* Slow every vCPU by `percent` (0..99) of the CPU it would otherwise get; 0 ends it. Works
 * whether or not the VM was admitted to a host scheduler. */
int vm_set_throttle(vm *v, unsigned percent);
unsigned vm_throttle(const vm *v);

typedef struct vm_sched_usage {
  uint64_t cpu_ns;          /* host CPU time the vCPU's thread has used */
  uint64_t held_ns;         /* time it slept over its allowance */
  unsigned entitlement, cap, throttle;
  unsigned share;           /* its allocation now, in 1/1000 of a core (0: idle) */
} vm_sched_usage;
/* HPVM_ENOENT (zeros) when the vCPU was never scheduled (not admitted, no throttle or cap). */
int vm_sched_get_usage(vm *v, unsigned cpu, vm_sched_usage *out);

/* Every vCPU admitted on the host, from any process (status, accounting, tests). */
typedef struct vm_sched_entry {
  int pid;
  unsigned vcpu;
  char name[32];
  vm_sched_usage usage;
  bool runnable;            /* wants to run (not halted, paused or stopped) */
} vm_sched_entry;
/* Fills up to max entries; returns how many vCPUs are admitted. */
unsigned vm_sched_list(vm_sched *s, vm_sched_entry *out, unsigned max);

/* ---- Devices (for tests: an access as a vCPU would make it, uncacheable) ---------------------- */

int vm_mmio_read(vm *v, uint64_t gpa, unsigned size, uint64_t *val);
int vm_mmio_write(vm *v, uint64_t gpa, unsigned size, uint64_t val);
/* Wait until every avio_stor request submitted so far has completed (migration drains). */
void vm_devices_drain(vm *v);

/* ---- State (vmstate.c; the format is docs/wire/vmstate.md) --------------------------------
 * A saved VM is one HPVMSTAT stream: its configuration (memory size, vCPU count, devices),
 * the platform's state (vCPU run states, boot rendezvous, hypercall files and completions,
 * command line), each device, each vCPU (registers and interrupt state, guest TLB, timer)
 * and the non-zero 4 KiB frames of RAM. Disk contents are not part of it: the restoring VM
 * attaches the same images.
 *
 * vm_save takes a paused VM (vm_pause) or one not started. It first waits for every avio_stor
 * request in flight to complete (quiesce: the format carries no in-flight request, and with
 * the vCPUs paused no new one can start) and flushes console output up to the last whole
 * line; the line the guest is in the middle of travels in the state (the restored guest
 * prints it whole), so a guest that moves never has a line split between two consoles. The
 * VM stays paused.
 * vm_restore takes a VM just created (vm_create, no kernel needed) with the same memory size,
 * vCPU count and devices, not started; vm_start then continues the guest where it was saved,
 * and each vCPU's ar.itc continues from its saved value (guest time never steps back).
 * Malformed, foreign or mismatching input is refused with one line in msg (HPVM_ECORRUPT,
 * HPVM_ETRUNC, HPVM_ENOTSUP, HPVM_ERANGE for the stream; HPVM_EINVAL for a VM that does not
 * match). A restore refused after it began changing the VM leaves it unusable: vm_start
 * refuses it; destroy it. */
struct wire_writer;
struct wire_reader;
int vm_save(vm *v, struct wire_writer *w, char *msg, size_t msglen);
/* Save to a file: written as PATH.tmp, synced, then renamed over path. */
int vm_save_file(vm *v, const char *path, char *msg, size_t msglen);
int vm_restore(vm *v, struct wire_reader *r, char *msg, size_t msglen);
/* The same without RAM (live migration's frozen phase: memory travels on its own).
 * vm_save_state writes no MEMORY section; vm_restore_state leaves RAM as it is (the pages
 * already received) and applies everything else as vm_restore does, ar.itc included. */
int vm_save_state(vm *v, struct wire_writer *w, char *msg, size_t msglen);
int vm_restore_state(vm *v, struct wire_reader *r, char *msg, size_t msglen);
/* The saved state took the console's unfinished line with it, and the guest goes on from
 * that state elsewhere (a migration handed over, a suspension): drop the line here, so this
 * VM's end does not print it as well. Call it on the paused VM, before vm_power_off. */
void vm_console_forget_unsent(vm *v);
/* Restore from a file (which must end with the stream) or a buffer. */
int vm_restore_file(vm *v, const char *path, char *msg, size_t msglen);
int vm_restore_mem(vm *v, const void *buf, size_t len, char *msg, size_t msglen);

/* The configuration a state file was saved with (its VM section), to create a VM it can be
 * restored into. */
typedef struct vm_state_info {
  uint64_t memory;
  unsigned ncpus;
  unsigned ndisks;
  uint64_t disk_bytes[VM_MAX_DISKS];
} vm_state_info;
int vm_state_peek(const char *path, vm_state_info *out, char *msg, size_t msglen);

#endif
