/* vmstate.c — saving a paused VM to an HPVMSTAT stream and restoring it into a new VM, in
 * this process or another (docs/wire/vmstate.md is the format, vm.h "State" the contract).
 *
 * A stream is, in order: VM (configuration: memory size, vCPU count, the device set),
 * PLATFORM (vCPU run states, boot rendezvous, Ski hypercall files and completions, command
 * line), one DEVICE per device, then per vCPU its CPU, GUEST_TLB and TIMERS sections
 * (proto/cpustate.c), then MEMORY sections of at most 256 non-zero 4 KiB frames (1 MiB) in
 * increasing frame order, then END. The loader takes the sections after VM in any order, but
 * each exactly once, and wants all of them.
 *
 * Consistency of the snapshot. The vCPUs are paused, so only devices can change the guest's
 * state meanwhile: avio_stor workers complete requests (memory, status, interrupts) and the
 * console thread queues input (and an interrupt). The save first drains avio_stor — waiting
 * for each accepted request to complete, which is simplest and correct: the format then has
 * no in-flight request to re-issue, and no new request can start while the vCPUs are paused.
 * Console input can still arrive; devices are saved before the vCPUs so that an interrupt
 * pended meanwhile is at worst one more (spurious: the guest finds no byte) and never one
 * less. Queued requests of the parked vCPUs (ptc.g purges from other vCPUs, shadow-TLB
 * revocations) are done before the guest TLBs are saved.
 *
 * Restoring checks the VM section against the VM (a state file of a VM with other memory,
 * vCPUs or devices is refused with what differs and how to match it) before it changes
 * anything; then it zeroes RAM (only non-zero frames travel) and applies each section after
 * checking it whole. Guest memory is written only at frames inside RAM, so a hostile stream
 * cannot write anywhere else. Time: each vCPU's ar.itc continues from its saved value on
 * this VM's clock (cpustate.c), and vm_start arms the ITM matches (timer.c).
 *
 * Live migration (migrate/) moves RAM page by page on its own and uses vm_save_state /
 * vm_restore_state for the rest: the same stream without MEMORY sections, restored without
 * zeroing RAM first. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm_internal.h"
#include "wire.h"

#define MEM_FRAMES_PER_SECTION 256          /* 1 MiB of data per MEMORY section */
#define DEV_MODEL_VERSION 1
#define MAX_CMDLINE (1u << 20)
#define STATE_MIN_MINOR 1                   /* VM state files begin with format 1.1 */

static int fail(char *msg, size_t n, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *msg, size_t n, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (msg && n) vsnprintf(msg, n, fmt, ap);
  va_end(ap);
  return rc;
}

/* ALAT entries are keyed by host address; the stream holds guest-physical ones. */
static int alat_to_guest(void *ctx, uint64_t host, uint64_t *gpa) {
  vm *v = ctx;
  uint64_t base = (uint64_t)(uintptr_t)v->ram;
  if (host < base || host - base >= v->span || !vm_is_ram(v, host - base, 1)) return -1;
  *gpa = host - base;
  return 0;
}
static int alat_to_host(void *ctx, uint64_t gpa, uint64_t *host) {
  vm *v = ctx;
  if (!vm_is_ram(v, gpa, 1)) return -1;
  *host = (uint64_t)(uintptr_t)v->ram + gpa;
  return 0;
}

static Hpvm__DeviceKind device_kind(unsigned type) {
  return type == VM_DEV_CONSOLE ? HPVM__DEVICE_KIND__DEVICE_KIND_CONSOLE
       : type == VM_DEV_STOR ? HPVM__DEVICE_KIND__DEVICE_KIND_BLOCK : HPVM__DEVICE_KIND__DEVICE_KIND_INVALID;
}
static const char *kind_name(int kind) {
  return kind == HPVM__DEVICE_KIND__DEVICE_KIND_CONSOLE ? "a console"
       : kind == HPVM__DEVICE_KIND__DEVICE_KIND_BLOCK ? "an avio_stor disk" : "an unknown device";
}
/* Disk number of device i (disks are the avio_stor devices in device order). */
static unsigned disk_of(const vm *v, unsigned i) {
  unsigned k = 0;
  for (unsigned j = 0; j < i; j++) k += v->dev[j].type == VM_DEV_STOR;
  return k;
}

/* "512M" when it is a whole number of MiB, else bytes: the way hpvmapp --memory takes it. */
static const char *size_text(char *buf, size_t n, uint64_t bytes) {
  if (bytes % (1ull << 30) == 0) snprintf(buf, n, "%" PRIu64 "G", bytes >> 30);
  else if (bytes % (1ull << 20) == 0) snprintf(buf, n, "%" PRIu64 "M", bytes >> 20);
  else snprintf(buf, n, "%" PRIu64, bytes);
  return buf;
}

/* ==== Saving ===================================================================================== */

static int save_vm_info(wire_writer *w, vm *v) {
  Hpvm__VmInfo m;
  Hpvm__VmDevice devs[VM_MAX_DEVICES], *dp[VM_MAX_DEVICES];
  hpvm__vm_info__init(&m);
  m.vcpus = v->ncpus;
  m.memory_bytes = v->ram_size;
  m.hpvm_version = (char *)"hpvm " HPVM_VERSION_STRING;
  for (unsigned i = 0; i < v->ndev; i++) {
    hpvm__vm_device__init(&devs[i]);
    devs[i].kind = device_kind(v->dev[i].type);
    devs[i].capacity = v->dev[i].capacity;
    dp[i] = &devs[i];
  }
  m.n_devices = v->ndev;
  m.devices = dp;
  return wire_write_msg(w, WIRE_SEC_VM, &m.base);
}

static int save_platform(wire_writer *w, vm *v) {
  Hpvm__Platform m;
  hpvm__platform__init(&m);
  Hpvm__VcpuRunState st[VM_MAX_CPUS];
  Hpvm__SscFile files[VM_SSC_MAX_FILES], *fp[VM_SSC_MAX_FILES];
  Hpvm__SscCompletion *comp = NULL, **cp = NULL;
  vm_ssc_saved *ssc = malloc(sizeof *ssc);
  if (ssc) {
    comp = calloc(VM_SSC_MAX_COMPLETIONS, sizeof *comp);
    cp = calloc(VM_SSC_MAX_COMPLETIONS, sizeof *cp);
  }
  if (!ssc || !comp || !cp) {
    free(ssc), free(comp), free(cp);
    return w->err ? w->err : (w->err = HPVM_ENOMEM);
  }
  pthread_mutex_lock(&v->lock);
  for (unsigned i = 0; i < v->ncpus; i++)
    st[i] = v->vcpu[i]->state == VCPU_WAIT_BOOT ? HPVM__VCPU_RUN_STATE__VCPU_RUN_STATE_WAIT_BOOT
                                                : HPVM__VCPU_RUN_STATE__VCPU_RUN_STATE_RUNNING;
  m.rendezvous_set = v->sal_set;
  m.rendezvous_entry = v->sal_entry;
  m.rendezvous_gp = v->sal_gp;
  pthread_mutex_unlock(&v->lock);
  m.n_vcpu_state = v->ncpus;
  m.vcpu_state = st;
  m.cmdline = v->cmdline;
  m.bootinfo_addr = v->bootinfo_gpa;
  vm_ssc_get_state(v, ssc);
  for (unsigned f = 0; f < VM_SSC_MAX_FILES; f++) {
    if (!ssc->file[f].used) continue;
    Hpvm__SscFile *e = &files[m.n_ssc_files];
    hpvm__ssc_file__init(e);
    e->fd = f, e->disk = (uint32_t)ssc->file[f].disk, e->mode = ssc->file[f].mode;
    fp[m.n_ssc_files++] = e;
  }
  m.ssc_files = fp;
  for (unsigned i = 0; i < ssc->ncomp; i++) {
    hpvm__ssc_completion__init(&comp[i]);
    comp[i].fd = ssc->comp[i].fd, comp[i].count = ssc->comp[i].count;
    cp[i] = &comp[i];
  }
  m.n_ssc_completions = ssc->ncomp;
  m.ssc_completions = cp;
  int rc = wire_write_msg(w, WIRE_SEC_PLATFORM, &m.base);
  free(ssc), free(comp), free(cp);
  return rc;
}

static int save_device(wire_writer *w, vm *v, unsigned i, char *msg, size_t msglen) {
  vm_device *d = &v->dev[i];
  Hpvm__DeviceState m;
  Hpvm__ConsoleState con;
  Hpvm__BlockState blk;
  hpvm__device_state__init(&m);
  m.kind = device_kind(d->type);
  m.index = i;
  m.model_version = DEV_MODEL_VERSION;
  char id[16];
  vm_console_state *cs = NULL;
  int rc = 0;
  /* The model's state before the common registers: input that arrives in between then has
   * its interrupt bit saved without its byte (spurious), never the other way round. */
  if (d->type == VM_DEV_CONSOLE) {
    cs = malloc(sizeof *cs);
    if (!cs) return w->err ? w->err : (w->err = HPVM_ENOMEM);
    vm_console_get_state(v, cs);
    hpvm__console_state__init(&con);
    con.control = (uint32_t)cs->control;
    con.input = (ProtobufCBinaryData){.len = cs->nin, .data = cs->in};
    con.output = (ProtobufCBinaryData){.len = cs->nout, .data = cs->out};
    m.console = &con;
    snprintf(id, sizeof id, "console");
  } else {
    unsigned k = disk_of(v, i);
    vm_stor_state ss;
    vm_stor_get_state(v, k, &ss);
    if (ss.inflight || ss.comp != ss.prod)
      return fail(msg, msglen, HPVM_EBUSY, "disk %u still has requests in flight after the drain", k);
    hpvm__block_state__init(&blk);
    blk.ring_base = ss.ring_base, blk.ring_size = ss.ring_size, blk.producer = ss.prod, blk.completion = ss.comp;
    m.block = &blk;
    snprintf(id, sizeof id, "disk%u", k);
  }
  m.id = id;
  pthread_mutex_lock(&d->lock);
  m.vector = (uint32_t)d->vector;
  m.status = d->status;
  pthread_mutex_unlock(&d->lock);
  rc = wire_write_msg(w, WIRE_SEC_DEVICE, &m.base);
  free(cs);
  return rc;
}

static bool frame_is_zero(const uint8_t *p) {
  const uint64_t *q = (const uint64_t *)(const void *)p;
  for (unsigned i = 0; i < VM_FRAME_SIZE / 8; i += 8)
    if (q[i] | q[i + 1] | q[i + 2] | q[i + 3] | q[i + 4] | q[i + 5] | q[i + 6] | q[i + 7]) return false;
  return true;
}

static int save_memory_chunk(wire_writer *w, uint64_t *frames, size_t n, uint8_t *data) {
  Hpvm__GuestMemory m;
  hpvm__guest_memory__init(&m);
  m.n_frames = n;
  m.frames = frames;
  m.data = (ProtobufCBinaryData){.len = n * VM_FRAME_SIZE, .data = data};
  return wire_write_msg(w, WIRE_SEC_MEMORY, &m.base);
}

/* Every non-zero frame of RAM, 256 to a section. */
static int save_memory(wire_writer *w, vm *v) {
  uint64_t frames[MEM_FRAMES_PER_SECTION];
  uint8_t *data = malloc(MEM_FRAMES_PER_SECTION * VM_FRAME_SIZE);
  if (!data) return w->err ? w->err : (w->err = HPVM_ENOMEM);
  const struct { uint64_t base, len; } ranges[2] = {{0, v->low_ram}, {VM_HIGH_RAM_BASE, v->high_ram}};
  size_t n = 0;
  int rc = 0;
  for (unsigned r = 0; r < 2 && !rc; r++) {
    for (uint64_t gpa = ranges[r].base; gpa < ranges[r].base + ranges[r].len && !rc; gpa += VM_FRAME_SIZE) {
      const uint8_t *p = v->ram + gpa;
      if (frame_is_zero(p)) continue;
      memcpy(data + n * VM_FRAME_SIZE, p, VM_FRAME_SIZE);
      frames[n++] = gpa >> VM_FRAME_SHIFT;
      if (n == MEM_FRAMES_PER_SECTION) rc = save_memory_chunk(w, frames, n, data), n = 0;
    }
  }
  if (!rc && n) rc = save_memory_chunk(w, frames, n, data);
  free(data);
  return rc;
}

static int save(vm *v, wire_writer *w, bool with_ram, char *msg, size_t msglen) {
  pthread_mutex_lock(&v->lock);
  bool off = v->stopping, running = v->started && v->pause_depth == 0;
  pthread_mutex_unlock(&v->lock);
  if (off) return fail(msg, msglen, HPVM_EINVAL, "the VM has powered off: there is no guest to save");
  if (running) return fail(msg, msglen, HPVM_EBUSY, "the VM is running: pause it before saving it");
  vm_devices_drain(v);
  vm_console_flush_lines(v);   /* the unfinished line goes in the console's state */
  /* Purges and revocations other threads queued for the parked vCPUs. */
  pthread_mutex_lock(&v->lock);
  for (unsigned i = 0; i < v->ncpus; i++)
    if (v->vcpu[i]->nreq || v->vcpu[i]->req_all) vm_vcpu_do_requests(v->vcpu[i]);
  pthread_mutex_unlock(&v->lock);

  wire_addr_map map = {alat_to_guest, alat_to_host, v};
  int rc = save_vm_info(w, v);
  if (!rc) rc = save_platform(w, v);
  for (unsigned i = 0; !rc && i < v->ndev; i++) {
    rc = save_device(w, v, i, msg, msglen);
    if (rc == HPVM_EBUSY) return rc;
  }
  for (unsigned i = 0; !rc && i < v->ncpus; i++) {
    ia64_cpu *c = &v->vcpu[i]->cpu;
    rc = wire_cpu_save(w, c, i, &map);
    if (!rc) rc = wire_tlb_save(w, c, i);
    if (!rc) rc = wire_timers_save(w, c, i);
  }
  if (!rc && with_ram) rc = save_memory(w, v);
  if (!rc) rc = wire_writer_end(w);
  if (rc) return fail(msg, msglen, rc, "cannot write the state: %s", hpvm_strerror(rc));
  return 0;
}

int vm_save(vm *v, wire_writer *w, char *msg, size_t msglen) { return save(v, w, true, msg, msglen); }
int vm_save_state(vm *v, wire_writer *w, char *msg, size_t msglen) { return save(v, w, false, msg, msglen); }

int vm_save_file(vm *v, const char *path, char *msg, size_t msglen) {
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 5);
  if (!tmp) return fail(msg, msglen, HPVM_ENOMEM, "out of memory");
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp", 5);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    int e = errno;
    free(tmp);
    return fail(msg, msglen, e == ENOENT ? HPVM_ENOENT : HPVM_EIO, "state file %s: cannot create it (%s)", path,
                strerror(e));
  }
  wire_writer w;
  int rc = wire_writer_init_fd(&w, fd);
  if (rc) fail(msg, msglen, rc, "state file %s: cannot write it (%s)", path, strerror(errno));
  else rc = vm_save(v, &w, msg, msglen);
  wire_writer_free(&w);
  if (!rc && fsync(fd) != 0) rc = fail(msg, msglen, HPVM_EIO, "state file %s: cannot sync it (%s)", path, strerror(errno));
  if (close(fd) != 0 && !rc) rc = fail(msg, msglen, HPVM_EIO, "state file %s: cannot write it (%s)", path, strerror(errno));
  if (!rc && rename(tmp, path) != 0)
    rc = fail(msg, msglen, HPVM_EIO, "state file %s: cannot rename %s over it (%s)", path, tmp, strerror(errno));
  if (rc) unlink(tmp);
  free(tmp);
  return rc;
}

/* ==== Restoring ================================================================================== */

typedef struct restore_ctx {
  vm *v;
  wire_reader *r;
  bool have_vm, have_platform;
  uint64_t cpu_seen, tlb_seen, timers_seen;   /* bit per vCPU */
  uint64_t dev_seen;                          /* bit per device */
  uint64_t next_frame;                        /* frames must come in increasing order */
  uint64_t frames;                            /* restored, for messages */
  bool keep_ram;                              /* vm_restore_state: RAM arrived on its own */
} restore_ctx;

/* A refusal found by interpreting a section: recorded in the reader (sticky) and in msg. */
static int refuse(restore_ctx *x, const wire_section *s, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int refuse(restore_ctx *x, const wire_section *s, int rc, const char *fmt, ...) {
  char text[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  wire_reader_fail(x->r, s, rc, "%s", text);
  return rc;
}

/* A VM that does not match is not corruption: say what differs and how to match it, without
 * the section's name and offset (the reader's error, sticky like its own). */
static int mismatch(restore_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int mismatch(restore_ctx *x, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(x->r->msg, sizeof x->r->msg, fmt, ap);
  va_end(ap);
  return x->r->err = HPVM_EINVAL;
}

static int check_vm_info(restore_ctx *x, const Hpvm__VmInfo *m) {
  vm *v = x->v;
  char a[32], b[32];
  if (m->memory_bytes != v->ram_size)
    return mismatch(x, "the state is of a VM with %s of memory, this VM has %s (give --memory %s)",
                    size_text(a, sizeof a, m->memory_bytes), size_text(b, sizeof b, v->ram_size),
                    size_text(a, sizeof a, m->memory_bytes));
  if (m->vcpus != v->ncpus)
    return mismatch(x, "the state is of a VM with %u vCPUs, this VM has %u (give --cpus %u)", m->vcpus, v->ncpus, m->vcpus);
  unsigned sdisks = 0;
  for (size_t i = 0; i < m->n_devices; i++) sdisks += m->devices[i]->kind == HPVM__DEVICE_KIND__DEVICE_KIND_BLOCK;
  if (sdisks != v->ndisks)
    return mismatch(x, "the state is of a VM with %u disk%s, this VM has %u: attach the disks the VM was saved with, "
                    "in the same order (--disk)", sdisks, sdisks == 1 ? "" : "s", v->ndisks);
  if (m->n_devices != v->ndev)
    return mismatch(x, "the state is of a VM with %zu devices, this VM has %u", m->n_devices, v->ndev);
  for (unsigned i = 0; i < v->ndev; i++) {
    const Hpvm__VmDevice *d = m->devices[i];
    if ((int)d->kind != (int)device_kind(v->dev[i].type))
      return mismatch(x, "device %u of the state is %s, this VM's is %s", i, kind_name(d->kind),
                      kind_name(device_kind(v->dev[i].type)));
    if (d->capacity != v->dev[i].capacity) {
      unsigned k = disk_of(v, i);
      return mismatch(x, "disk %u of the state has %" PRIu64 " bytes, this VM's (%s) has %" PRIu64
                      ": attach the disk image the VM was saved with", k, d->capacity, vm_stor_path(v, k),
                      v->dev[i].capacity);
    }
  }
  return 0;
}

static int load_vm_info(restore_ctx *x, const wire_section *s) {
  if (x->have_vm) return refuse(x, s, HPVM_ECORRUPT, "a second VM section");
  ProtobufCMessage *pm;
  if (wire_section_unpack(x->r, s, &hpvm__vm_info__descriptor, &pm) < 0) return x->r->err;
  int rc = check_vm_info(x, (Hpvm__VmInfo *)pm);
  protobuf_c_message_free_unpacked(pm, NULL);
  if (rc) return rc;
  x->have_vm = true;
  /* From here on the VM changes; until the restore completes it must not run. RAM starts
   * zeroed: only non-zero frames travel (a private anonymous mapping reads zeros after this). */
  x->v->restore_failed = true;
  if (!x->keep_ram && madvise(x->v->ram, x->v->span, MADV_DONTNEED) != 0) memset(x->v->ram, 0, x->v->span);
  return 0;
}

static int load_platform(restore_ctx *x, const wire_section *s) {
  vm *v = x->v;
  if (x->have_platform) return refuse(x, s, HPVM_ECORRUPT, "a second PLATFORM section");
  ProtobufCMessage *pm;
  if (wire_section_unpack(x->r, s, &hpvm__platform__descriptor, &pm) < 0) return x->r->err;
  Hpvm__Platform *m = (Hpvm__Platform *)pm;
  vm_ssc_saved *ssc = calloc(1, sizeof *ssc);
  char *cmdline = NULL;
  int rc = 0;
  if (!ssc) rc = refuse(x, s, HPVM_ENOMEM, "out of memory");
  else if (m->n_vcpu_state != v->ncpus) rc = refuse(x, s, HPVM_ECORRUPT, "%zu vCPU run states for %u vCPUs", m->n_vcpu_state, v->ncpus);
  for (size_t i = 0; !rc && i < m->n_vcpu_state; i++)
    if (m->vcpu_state[i] != HPVM__VCPU_RUN_STATE__VCPU_RUN_STATE_WAIT_BOOT &&
        m->vcpu_state[i] != HPVM__VCPU_RUN_STATE__VCPU_RUN_STATE_RUNNING)
      rc = refuse(x, s, HPVM_ECORRUPT, "vCPU %zu: unknown run state %d", i, (int)m->vcpu_state[i]);
  if (!rc && strlen(m->cmdline) > MAX_CMDLINE) rc = refuse(x, s, HPVM_ECORRUPT, "a command line longer than 1 MiB");
  for (size_t i = 0; !rc && i < m->n_ssc_files; i++) {
    const Hpvm__SscFile *f = m->ssc_files[i];
    if (f->fd >= VM_SSC_MAX_FILES || ssc->file[f->fd].used) rc = refuse(x, s, HPVM_ECORRUPT, "SSC file %u: out of range or given twice", f->fd);
    else if (f->disk >= v->ndisks) rc = refuse(x, s, HPVM_ECORRUPT, "SSC file %u: disk %u, the VM has %u", f->fd, f->disk, v->ndisks);
    else if (f->mode < 1 || f->mode > 3) rc = refuse(x, s, HPVM_ECORRUPT, "SSC file %u: mode %u", f->fd, f->mode);
    else ssc->file[f->fd].used = true, ssc->file[f->fd].disk = (int)f->disk, ssc->file[f->fd].mode = f->mode;
  }
  if (!rc && m->n_ssc_completions > VM_SSC_MAX_COMPLETIONS)
    rc = refuse(x, s, HPVM_ECORRUPT, "%zu SSC completions, at most %d", m->n_ssc_completions, VM_SSC_MAX_COMPLETIONS);
  if (!rc && !(cmdline = strdup(m->cmdline))) rc = refuse(x, s, HPVM_ENOMEM, "out of memory");
  if (!rc) {
    ssc->ncomp = (unsigned)m->n_ssc_completions;
    for (unsigned i = 0; i < ssc->ncomp; i++)
      ssc->comp[i].fd = m->ssc_completions[i]->fd, ssc->comp[i].count = m->ssc_completions[i]->count;
    vm_ssc_set_state(v, ssc);
    pthread_mutex_lock(&v->lock);
    for (unsigned i = 0; i < v->ncpus; i++)
      v->vcpu[i]->state = m->vcpu_state[i] == HPVM__VCPU_RUN_STATE__VCPU_RUN_STATE_WAIT_BOOT ? VCPU_WAIT_BOOT : VCPU_RUNNING;
    v->sal_set = m->rendezvous_set;
    v->sal_entry = m->rendezvous_entry;
    v->sal_gp = m->rendezvous_gp;
    pthread_mutex_unlock(&v->lock);
    free(v->cmdline);
    v->cmdline = cmdline;
    v->bootinfo_gpa = m->bootinfo_addr;
    x->have_platform = true;
  }
  free(ssc);
  protobuf_c_message_free_unpacked(pm, NULL);
  return rc;
}

static int load_device(restore_ctx *x, const wire_section *s) {
  vm *v = x->v;
  ProtobufCMessage *pm;
  if (wire_section_unpack(x->r, s, &hpvm__device_state__descriptor, &pm) < 0) return x->r->err;
  Hpvm__DeviceState *m = (Hpvm__DeviceState *)pm;
  vm_device *d = m->index < v->ndev ? &v->dev[m->index] : NULL;
  int rc = 0;
  if (!d) rc = refuse(x, s, HPVM_ECORRUPT, "device %u, but the VM has %u", m->index, v->ndev);
  else if (x->dev_seen >> m->index & 1) rc = refuse(x, s, HPVM_ECORRUPT, "device %u given twice", m->index);
  else if ((int)m->kind != (int)device_kind(d->type))
    rc = refuse(x, s, HPVM_ECORRUPT, "device %u is %s, the VM's is %s", m->index, kind_name(m->kind), kind_name(device_kind(d->type)));
  else if (m->model_version != DEV_MODEL_VERSION)
    rc = refuse(x, s, HPVM_ENOTSUP, "device %u: model version %u, this hpvm has %d", m->index, m->model_version, DEV_MODEL_VERSION);
  else if (m->n_inflight)
    rc = refuse(x, s, HPVM_ENOTSUP, "device %u: %zu requests in flight; this hpvm completes requests before it saves "
                "and cannot re-issue them", m->index, m->n_inflight);
  else if (m->vector > 255 || (m->status & ~(VM_DEV_STATUS_IRQ | VM_DEV_STATUS_ERROR | VM_DEV_STATUS_SHUTDOWN)))
    rc = refuse(x, s, HPVM_ECORRUPT, "device %u: vector %u / status 0x%" PRIx64 " out of range", m->index, m->vector, m->status);
  else if (d->type == VM_DEV_CONSOLE) {
    if (!m->console) rc = refuse(x, s, HPVM_ECORRUPT, "console %u without its state", m->index);
    else if (m->console->input.len > VM_CONSOLE_IN_MAX)
      rc = refuse(x, s, HPVM_ECORRUPT, "console input of %zu bytes, the device holds %d", m->console->input.len, VM_CONSOLE_IN_MAX);
    else if (m->console->output.len >= VM_CONSOLE_OUT_MAX)
      rc = refuse(x, s, HPVM_ECORRUPT, "console output of %zu bytes, the device holds %d", m->console->output.len,
                  VM_CONSOLE_OUT_MAX - 1);
    else if (m->console->control > 3) rc = refuse(x, s, HPVM_ECORRUPT, "console control 0x%x", m->console->control);
    else {
      vm_console_state *cs = malloc(sizeof *cs);
      if (!cs) rc = refuse(x, s, HPVM_ENOMEM, "out of memory");
      else {
        cs->control = m->console->control;
        cs->nin = (unsigned)m->console->input.len;
        if (cs->nin) memcpy(cs->in, m->console->input.data, cs->nin);
        cs->nout = (unsigned)m->console->output.len;
        if (cs->nout) memcpy(cs->out, m->console->output.data, cs->nout);
        vm_console_set_state(v, cs);
        free(cs);
      }
    }
  } else {
    const Hpvm__BlockState *b = m->block;
    unsigned k = disk_of(v, m->index);
    vm_stor_state ss = {0};
    if (b) ss = (vm_stor_state){.ring_base = b->ring_base, .ring_size = b->ring_size, .prod = b->producer, .comp = b->completion};
    if (!b) rc = refuse(x, s, HPVM_ECORRUPT, "disk %u without its state", k);
    else if (vm_stor_set_state(v, k, &ss) != 0)
      rc = refuse(x, s, HPVM_ECORRUPT, "disk %u: ring at 0x%" PRIx64 " of %u entries with producer %u and completion %u "
                  "is not a ring this device could have been left with", k, ss.ring_base, ss.ring_size, ss.prod, ss.comp);
  }
  if (!rc) {
    pthread_mutex_lock(&d->lock);
    d->vector = m->vector;
    d->status = m->status;
    pthread_mutex_unlock(&d->lock);
    x->dev_seen |= 1ull << m->index;
  }
  protobuf_c_message_free_unpacked(pm, NULL);
  return rc;
}

/* The vCPU number a CPU, GUEST_TLB or TIMERS section is for (each has it as field 1). */
static int section_vcpu(restore_ctx *x, const wire_section *s, uint32_t *vcpu) {
  const ProtobufCMessageDescriptor *d = s->type == WIRE_SEC_CPU ? &hpvm__ia64_cpu__descriptor
                                      : s->type == WIRE_SEC_GUEST_TLB ? &hpvm__guest_tlb__descriptor
                                                                      : &hpvm__timers__descriptor;
  ProtobufCMessage *pm;
  if (wire_section_unpack(x->r, s, d, &pm) < 0) return x->r->err;
  *vcpu = s->type == WIRE_SEC_CPU ? ((Hpvm__Ia64Cpu *)pm)->vcpu
        : s->type == WIRE_SEC_GUEST_TLB ? ((Hpvm__GuestTlb *)pm)->vcpu : ((Hpvm__Timers *)pm)->vcpu;
  protobuf_c_message_free_unpacked(pm, NULL);
  if (*vcpu >= x->v->ncpus) return refuse(x, s, HPVM_ECORRUPT, "vCPU %u, but the VM has %u", *vcpu, x->v->ncpus);
  return 0;
}

static int load_vcpu_section(restore_ctx *x, const wire_section *s) {
  vm *v = x->v;
  uint32_t n = 0;
  int rc = section_vcpu(x, s, &n);
  if (rc) return rc;
  uint64_t *seen = s->type == WIRE_SEC_CPU ? &x->cpu_seen : s->type == WIRE_SEC_GUEST_TLB ? &x->tlb_seen : &x->timers_seen;
  if (*seen >> n & 1) return refuse(x, s, HPVM_ECORRUPT, "vCPU %u given twice", n);
  ia64_cpu *cpus[VM_MAX_CPUS];
  for (unsigned i = 0; i < v->ncpus; i++) cpus[i] = &v->vcpu[i]->cpu;
  wire_addr_map map = {alat_to_guest, alat_to_host, v};
  if (s->type == WIRE_SEC_CPU) rc = wire_cpu_load(x->r, s, cpus, v->ncpus, &map);
  else if (s->type == WIRE_SEC_GUEST_TLB) rc = wire_tlb_load(x->r, s, cpus, v->ncpus);
  else rc = wire_timers_load(x->r, s, cpus, v->ncpus);
  if (!rc) *seen |= 1ull << n;
  return rc;
}

static int load_memory(restore_ctx *x, const wire_section *s) {
  vm *v = x->v;
  ProtobufCMessage *pm;
  if (wire_section_unpack(x->r, s, &hpvm__guest_memory__descriptor, &pm) < 0) return x->r->err;
  Hpvm__GuestMemory *m = (Hpvm__GuestMemory *)pm;
  int rc = 0;
  if (m->n_frames == 0 || m->n_frames > MEM_FRAMES_PER_SECTION)
    rc = refuse(x, s, HPVM_ECORRUPT, "%zu frames in one section (1 to %d)", m->n_frames, MEM_FRAMES_PER_SECTION);
  else if (m->data.len != m->n_frames * VM_FRAME_SIZE)
    rc = refuse(x, s, HPVM_ECORRUPT, "%zu bytes of data for %zu frames", m->data.len, m->n_frames);
  /* Every frame checked before any is written: in RAM, after the previous one. */
  for (size_t i = 0; !rc && i < m->n_frames; i++) {
    uint64_t f = m->frames[i];
    if (f < x->next_frame)
      rc = refuse(x, s, HPVM_ECORRUPT, "frame 0x%" PRIx64 " after frame 0x%" PRIx64 ": frames must increase", f, x->next_frame - 1);
    else if (f > (UINT64_MAX >> VM_FRAME_SHIFT) || !vm_is_ram(v, f << VM_FRAME_SHIFT, VM_FRAME_SIZE))
      rc = refuse(x, s, HPVM_ECORRUPT, "frame 0x%" PRIx64 " (address 0x%" PRIx64 ") is not in the VM's RAM", f,
                  f << VM_FRAME_SHIFT);
    else x->next_frame = f + 1;
  }
  for (size_t i = 0; !rc && i < m->n_frames; i++) {
    uint64_t gpa = m->frames[i] << VM_FRAME_SHIFT;
    memcpy(v->ram + gpa, m->data.data + i * VM_FRAME_SIZE, VM_FRAME_SIZE);
    vm_mem_written(v, gpa, VM_FRAME_SIZE);
  }
  if (!rc) x->frames += m->n_frames;
  protobuf_c_message_free_unpacked(pm, NULL);
  return rc;
}

/* After END: every section the VM needs was there. */
static int check_complete(restore_ctx *x, char *msg, size_t msglen) {
  vm *v = x->v;
  uint64_t all = v->ncpus == 64 ? ~0ull : (1ull << v->ncpus) - 1, devs = (1ull << v->ndev) - 1;
  const struct { uint64_t seen; const char *what; } per_cpu[] = {
    {x->cpu_seen, "CPU"}, {x->tlb_seen, "GUEST_TLB"}, {x->timers_seen, "TIMERS"}};
  if (!x->have_vm) return fail(msg, msglen, HPVM_ECORRUPT, "the state has no VM section");
  if (!x->have_platform) return fail(msg, msglen, HPVM_ECORRUPT, "the state has no PLATFORM section");
  for (unsigned k = 0; k < 3; k++)
    if (per_cpu[k].seen != all)
      return fail(msg, msglen, HPVM_ECORRUPT, "the state has no %s section for vCPU %d", per_cpu[k].what,
                  __builtin_ctzll(~per_cpu[k].seen));
  if (x->dev_seen != devs)
    return fail(msg, msglen, HPVM_ECORRUPT, "the state has no DEVICE section for device %d", __builtin_ctzll(~x->dev_seen));
  return 0;
}

static int restore(vm *v, wire_reader *r, bool keep_ram, char *msg, size_t msglen) {
  char scratch[8];
  if (!msg) msg = scratch, msglen = sizeof scratch;
  if (v->started) return fail(msg, msglen, HPVM_EBUSY, "restore into a VM that has not been started");
  if (r->err) return fail(msg, msglen, r->err, "%s", wire_reader_error(r));
  if ((r->version & 0xffff) < STATE_MIN_MINOR)
    return fail(msg, msglen, HPVM_ENOTSUP, "a version %u.%u state holds no complete VM: VM state files are version %u.%u or later",
                r->version >> 16, r->version & 0xffff, WIRE_VERSION_MAJOR, STATE_MIN_MINOR);
  restore_ctx x = {.v = v, .r = r, .keep_ram = keep_ram};
  wire_section s;
  int rc;
  while ((rc = wire_reader_next(r, &s)) == 1) {
    if (!x.have_vm && s.type != WIRE_SEC_VM) {
      rc = refuse(&x, &s, HPVM_ECORRUPT, "the first section must be VM");
      break;
    }
    switch (s.type) {
    case WIRE_SEC_VM: rc = load_vm_info(&x, &s); break;
    case WIRE_SEC_PLATFORM: rc = load_platform(&x, &s); break;
    case WIRE_SEC_DEVICE: rc = load_device(&x, &s); break;
    case WIRE_SEC_CPU: case WIRE_SEC_GUEST_TLB: case WIRE_SEC_TIMERS: rc = load_vcpu_section(&x, &s); break;
    case WIRE_SEC_MEMORY: rc = load_memory(&x, &s); break;
    default: rc = refuse(&x, &s, HPVM_ECORRUPT, "a section this platform does not use"); break;
    }
    if (rc) break;
  }
  if (rc < 0) return fail(msg, msglen, rc, "%s", wire_reader_error(r));
  rc = check_complete(&x, msg, msglen);
  if (rc) return rc;
  for (unsigned i = 0; i < v->ncpus; i++) {
    v->vcpu[i]->kicked = false;
    ia64_sys_resync(&v->vcpu[i]->cpu);
  }
  v->restore_failed = false;
  return 0;
}

int vm_restore(vm *v, wire_reader *r, char *msg, size_t msglen) { return restore(v, r, false, msg, msglen); }
int vm_restore_state(vm *v, wire_reader *r, char *msg, size_t msglen) { return restore(v, r, true, msg, msglen); }

int vm_restore_mem(vm *v, const void *buf, size_t len, char *msg, size_t msglen) {
  wire_reader r;
  int rc = wire_reader_init_mem(&r, buf, len);
  rc = rc ? fail(msg, msglen, rc, "%s", wire_reader_error(&r)) : vm_restore(v, &r, msg, msglen);
  wire_reader_free(&r);
  return rc;
}

static int open_state(const char *path, char *msg, size_t msglen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? fail(msg, msglen, HPVM_ENOENT, "state file %s: no such file", path)
                           : fail(msg, msglen, HPVM_EIO, "state file %s: cannot open it (%s)", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return fail(msg, msglen, HPVM_EINVAL, "state file %s: not a regular file", path);
  }
  return fd;
}

/* Prefix msg with the file's name. */
static int in_file(const char *path, int rc, char *msg, size_t msglen) {
  if (rc && msg && msglen) {
    char *text = strdup(msg);
    if (text) fail(msg, msglen, rc, "state file %s: %s", path, text);
    free(text);
  }
  return rc;
}

int vm_restore_file(vm *v, const char *path, char *msg, size_t msglen) {
  int fd = open_state(path, msg, msglen);
  if (fd < 0) return fd;
  wire_reader r;
  int rc = wire_reader_init_fd(&r, fd);
  if (rc) fail(msg, msglen, rc, "%s", wire_reader_error(&r));
  else rc = vm_restore(v, &r, msg, msglen);
  if (!rc) {
    /* The fd reader stops at END; a file holds one stream and nothing after it. */
    off_t end = lseek(fd, 0, SEEK_END);
    if (end != (off_t)r.pos) {
      v->restore_failed = true;
      rc = fail(msg, msglen, HPVM_ECORRUPT, "%lld bytes follow the END section at offset %llu",
                (long long)end - (long long)r.pos, (unsigned long long)r.pos);
    }
  }
  wire_reader_free(&r);
  close(fd);
  return in_file(path, rc, msg, msglen);
}

int vm_state_peek(const char *path, vm_state_info *out, char *msg, size_t msglen) {
  memset(out, 0, sizeof *out);
  int fd = open_state(path, msg, msglen);
  if (fd < 0) return fd;
  wire_reader r;
  wire_section s;
  ProtobufCMessage *pm = NULL;
  int rc = wire_reader_init_fd(&r, fd);
  if (!rc && (r.version & 0xffff) < STATE_MIN_MINOR) {
    rc = fail(msg, msglen, HPVM_ENOTSUP, "a version %u.%u state holds no complete VM", r.version >> 16, r.version & 0xffff);
  } else if (!rc) {
    int n = wire_reader_next(&r, &s);
    if (n == 0) rc = fail(msg, msglen, HPVM_ECORRUPT, "the state has no VM section");
    else if (n == 1 && s.type != WIRE_SEC_VM) rc = wire_reader_fail(&r, &s, HPVM_ECORRUPT, "the first section must be VM");
    else rc = n < 0 ? n : wire_section_unpack(&r, &s, &hpvm__vm_info__descriptor, &pm);
    if (rc && r.err) fail(msg, msglen, rc, "%s", wire_reader_error(&r));
  } else {
    fail(msg, msglen, rc, "%s", wire_reader_error(&r));
  }
  if (!rc) {
    const Hpvm__VmInfo *m = (const Hpvm__VmInfo *)pm;
    out->memory = m->memory_bytes;
    out->ncpus = m->vcpus;
    for (size_t i = 0; i < m->n_devices && out->ndisks < VM_MAX_DISKS; i++)
      if (m->devices[i]->kind == HPVM__DEVICE_KIND__DEVICE_KIND_BLOCK) out->disk_bytes[out->ndisks++] = m->devices[i]->capacity;
    protobuf_c_message_free_unpacked(pm, NULL);
  }
  wire_reader_free(&r);
  close(fd);
  return in_file(path, rc, msg, msglen);
}
