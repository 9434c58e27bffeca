/* dev.c — the uncacheable side of guest-physical space: the device window (device i's
 * registers at VM_DEV_BASE + i * 4 KiB), the processor interrupt block (IPIs) and the
 * console device; the registers every device page starts with (type, version, vector,
 * status) are handled here once for all devices.
 *
 * Registers are 64-bit and 8-byte aligned: a narrower load returns the low bytes of the
 * register it falls in, a narrower store to a register's first byte writes it zero-extended,
 * other stores are ignored. Loads from guest-physical addresses that hold neither RAM nor a
 * register return all ones and stores to them are dropped, as on a bus with nothing there.
 *
 * The console reads its input on a thread of its own (poll on the input fd and a wake pipe)
 * into a ring the guest drains through the RX register or SSC GETCHAR; output is buffered and
 * written at each newline, when the guest waits for input or halts, and (the line it stopped
 * in the middle of, a prompt) after 50 ms without output. The line a paused guest is in the
 * middle of is held back: a save takes it along (vm_save), and the restored guest prints it
 * whole, so a migration never splits a line between two hosts' consoles. The console also
 * carries the platform's shutdown request (vm_request_shutdown). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vm_internal.h"

#define DEV_VERSION 1
#define DEV_DEFAULT_VECTOR 0x80     /* device i interrupts with 0x80 + i until the guest changes it */

/* ---- Device registry --------------------------------------------------------------------------- */

vm_device *vm_dev_add(vm *v, unsigned type, const vm_dev_ops *ops, void *impl) {
  if (v->ndev >= VM_MAX_DEVICES) return NULL;
  vm_device *d = &v->dev[v->ndev];
  memset(d, 0, sizeof *d);
  d->vm = v;
  d->index = v->ndev++;
  d->type = type;
  d->version = DEV_VERSION;
  d->vector = DEV_DEFAULT_VECTOR + d->index;
  d->ops = ops;
  d->impl = impl;
  pthread_mutex_init(&d->lock, NULL);
  return d;
}

void vm_dev_raise(vm_device *d, uint64_t bits) {
  d->status |= bits;
  if (d->vector >= 16 && d->vector <= 255) vm_interrupt(d->vm, 0, (unsigned)d->vector);
}

static uint64_t dev_read(vm_device *d, unsigned off) {
  switch (off) {
  case 0x00: return d->type;
  case 0x08: return d->version;
  case 0x10: return d->vector;
  case 0x18: return d->status;
  default: return d->ops && d->ops->read ? d->ops->read(d, off) : 0;
  }
}

static void dev_write(vm_device *d, unsigned off, uint64_t val) {
  switch (off) {
  case 0x00: case 0x08: break;
  case 0x10: d->vector = val & 0xff; break;
  case 0x18: d->status &= ~val; break;
  default:
    if (d->ops && d->ops->write) d->ops->write(d, off, val);
  }
}

static uint64_t size_mask(unsigned size) { return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1; }

static int device_access(vm_device *d, unsigned off, unsigned size, bool write, uint64_t *val) {
  pthread_mutex_lock(&d->lock);
  if (!write) *val = (dev_read(d, off & ~7u) >> (8 * (off & 7))) & size_mask(size);
  else if (!(off & 7)) dev_write(d, off, *val & size_mask(size));
  pthread_mutex_unlock(&d->lock);
  return 0;
}

int vm_io_access(vm *v, vm_vcpu *from, uint64_t gpa, unsigned size, bool write, uint64_t *val) {
  (void)from;
  if (size == 0 || size > 8 || (gpa & (size - 1))) return HPVM_EINVAL;
  if (gpa >= VM_DEV_BASE && gpa < VM_DEV_BASE + VM_DEV_WINDOW) {
    unsigned i = (unsigned)((gpa - VM_DEV_BASE) >> 12);
    if (i < v->ndev) return device_access(&v->dev[i], (unsigned)(gpa & 0xfff), size, write, val);
  } else if (gpa >= VM_PIB_BASE && gpa < VM_PIB_BASE + VM_PIB_SIZE) {
    uint64_t off = gpa - VM_PIB_BASE;
    if (!write) *val = 0;
    else if (size == 8 && off < 0x100000 && !(off & 0xf))
      vm_ipi(v, (unsigned)(off >> 12) & 0xff, (unsigned)(off >> 4) & 0xff, (unsigned)(*val & 0xff));
    return 0;
  } else if (vm_is_ram(v, gpa, size)) {
    /* Uncacheable RAM (the shadow TLB maps RAM directly, so only tests come here). */
    if (write) {
      memcpy(v->ram + gpa, val, size);
      vm_mem_written(v, gpa, size);
    } else {
      *val = 0;
      memcpy(val, v->ram + gpa, size);
    }
    return 0;
  }
  if (!write) *val = size_mask(size);
  return 0;
}

/* ---- Console ------------------------------------------------------------------------------------- */

#define CON_IN_SIZE 4096
_Static_assert(CON_IN_SIZE == VM_CONSOLE_IN_MAX, "vm_console_state holds the whole input ring");
#define CON_OUT_SIZE 4096
_Static_assert(CON_OUT_SIZE == VM_CONSOLE_OUT_MAX, "vm_console_state holds the whole output buffer");
#define CON_TX 0x20
#define CON_RX 0x28
#define CON_CONTROL 0x30
#define CON_CONTROL_RX_IRQ 1ull        /* interrupt when input arrives */
#define CON_CONTROL_SHUTDOWN_IRQ 2ull  /* interrupt on a shutdown request (the power button) */

struct vm_console {
  vm_device *dev;
  int in_fd, out_fd;
  int wake[2];
  pthread_t thread;
  bool running;
  /* Under dev->lock. */
  uint8_t in[CON_IN_SIZE];
  unsigned in_head, in_n;
  uint64_t control;
  /* Under out_lock. */
  pthread_mutex_t out_lock;
  char out[CON_OUT_SIZE];
  size_t out_n;
  uint64_t out_puts;             /* bytes the guest ever wrote (the thread sees it go quiet) */
};

/* Write out[0..n) and keep what follows it. */
static void out_write_locked(vm_console *k, size_t n) {
  size_t done = 0;
  while (done < n && k->out_fd >= 0) {
    ssize_t r = write(k->out_fd, k->out + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;   /* output gone (closed pipe): drop it, the guest goes on */
    done += (size_t)r;
  }
  memmove(k->out, k->out + n, k->out_n - n);
  k->out_n -= n;
}

static void out_flush_locked(vm_console *k) {
  out_write_locked(k, k->out_n);
}

void vm_console_flush(vm *v) {
  vm_console *k = v->console;
  if (!k) return;
  pthread_mutex_lock(&k->out_lock);
  out_flush_locked(k);
  pthread_mutex_unlock(&k->out_lock);
}

/* Up to the last newline: the unfinished line stays for the saved state (vm_save). */
void vm_console_flush_lines(vm *v) {
  vm_console *k = v->console;
  if (!k) return;
  pthread_mutex_lock(&k->out_lock);
  size_t n = k->out_n;
  while (n && k->out[n - 1] != '\n') n--;
  out_write_locked(k, n);
  pthread_mutex_unlock(&k->out_lock);
}

void vm_console_forget_unsent(vm *v) {
  vm_console *k = v->console;
  if (!k) return;
  pthread_mutex_lock(&k->out_lock);
  k->out_n = 0;
  pthread_mutex_unlock(&k->out_lock);
}

static bool vm_paused(vm *v) {
  pthread_mutex_lock(&v->lock);
  bool paused = v->pause_depth > 0;
  pthread_mutex_unlock(&v->lock);
  return paused;
}

void vm_console_putc(vm *v, int ch) {
  vm_console *k = v->console;
  pthread_mutex_lock(&k->out_lock);
  k->out[k->out_n++] = (char)ch;
  k->out_puts++;
  if (ch == '\n' || k->out_n == CON_OUT_SIZE) out_flush_locked(k);
  pthread_mutex_unlock(&k->out_lock);
}

static int getc_locked(vm_console *k) {
  if (!k->in_n) return -1;
  int ch = k->in[k->in_head];
  k->in_head = (k->in_head + 1) % CON_IN_SIZE;
  k->in_n--;
  return ch;
}

int vm_console_getc(vm *v) {
  vm_console *k = v->console;
  vm_console_flush(v);            /* a guest that waits for input has shown its prompt */
  pthread_mutex_lock(&k->dev->lock);
  int ch = getc_locked(k);
  pthread_mutex_unlock(&k->dev->lock);
  return ch;
}

static uint64_t con_read(vm_device *d, unsigned off) {
  vm_console *k = d->impl;
  if (off == CON_RX) {
    int ch = getc_locked(k);
    return ch < 0 ? 0 : (uint64_t)ch | 0x100;
  }
  if (off == CON_CONTROL) return k->control;
  return 0;
}

static void con_write(vm_device *d, unsigned off, uint64_t val) {
  vm_console *k = d->impl;
  if (off == CON_TX) vm_console_putc(d->vm, (int)(val & 0xff));
  else if (off == CON_CONTROL) {
    k->control = val & (CON_CONTROL_RX_IRQ | CON_CONTROL_SHUTDOWN_IRQ);
    if ((k->control & CON_CONTROL_RX_IRQ) && k->in_n) vm_dev_raise(d, VM_DEV_STATUS_IRQ);
    /* A request made before the guest enabled its interrupt is still waiting for it. */
    if ((k->control & CON_CONTROL_SHUTDOWN_IRQ) && (d->status & VM_DEV_STATUS_SHUTDOWN))
      vm_dev_raise(d, VM_DEV_STATUS_IRQ);
  }
}

static const vm_dev_ops con_ops = {con_read, con_write};

/* The thread's periodic flush. A line the guest has stopped in the middle of (a prompt) shows
 * once the guest has written nothing for a tick; never a line it is still writing, nor the
 * one a paused guest is in the middle of: it may be saved and go on elsewhere (a migration),
 * and it is printed whole there. */
static void tick_flush(vm_console *k, uint64_t *seen_puts) {
  pthread_mutex_lock(&k->out_lock);
  uint64_t puts = k->out_puts;
  bool quiet = puts == *seen_puts;
  *seen_puts = puts;
  pthread_mutex_unlock(&k->out_lock);
  if (quiet && !vm_paused(k->dev->vm)) vm_console_flush(k->dev->vm);
  else vm_console_flush_lines(k->dev->vm);
}

static void *con_thread(void *arg) {
  vm_console *k = arg;
  uint64_t seen_puts = 0;
  bool in_open = k->in_fd >= 0;
  for (;;) {
    pthread_mutex_lock(&k->dev->lock);
    bool room = k->in_n < CON_IN_SIZE;
    pthread_mutex_unlock(&k->dev->lock);
    struct pollfd p[2] = {{k->wake[0], POLLIN, 0}, {in_open && room ? k->in_fd : -1, POLLIN, 0}};
    int n = poll(p, 2, 50);
    if (n < 0 && errno != EINTR) break;
    if (p[0].revents) break;                       /* stop */
    tick_flush(k, &seen_puts);
    if (n <= 0 || !p[1].revents) continue;
    uint8_t buf[512];
    ssize_t r = read(k->in_fd, buf, sizeof buf);
    if (r <= 0) {
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      in_open = false;                              /* end of input: the guest sees no more bytes */
      continue;
    }
    pthread_mutex_lock(&k->dev->lock);
    for (ssize_t i = 0; i < r; i++) {
      if (k->in_n == CON_IN_SIZE) break;          /* more than the ring holds is dropped */
      k->in[(k->in_head + k->in_n++) % CON_IN_SIZE] = buf[i];
    }
    if (k->control & CON_CONTROL_RX_IRQ) vm_dev_raise(k->dev, VM_DEV_STATUS_IRQ);
    pthread_mutex_unlock(&k->dev->lock);
  }
  return NULL;
}

/* The power button: the request stays in the console's status (bit 2, RW1C) until the guest
 * acknowledges it, and interrupts the guest only if it asked for that (control bit 1), so a
 * guest that knows nothing of it sees nothing. Pressing again interrupts again (if enabled). */
int vm_request_shutdown(vm *v) {
  vm_console *k = v->console;
  if (!k) return HPVM_ENOENT;
  if (vm_stopped(v)) return HPVM_ESTATE;
  pthread_mutex_lock(&k->dev->lock);
  k->dev->status |= VM_DEV_STATUS_SHUTDOWN;
  if (k->control & CON_CONTROL_SHUTDOWN_IRQ) vm_dev_raise(k->dev, VM_DEV_STATUS_IRQ);
  pthread_mutex_unlock(&k->dev->lock);
  return 0;
}

void vm_console_get_state(vm *v, vm_console_state *out) {
  vm_console *k = v->console;
  pthread_mutex_lock(&k->dev->lock);
  out->control = k->control;
  out->nin = k->in_n;
  for (unsigned i = 0; i < k->in_n; i++) out->in[i] = k->in[(k->in_head + i) % CON_IN_SIZE];
  pthread_mutex_unlock(&k->dev->lock);
  pthread_mutex_lock(&k->out_lock);
  out->nout = (unsigned)k->out_n;
  memcpy(out->out, k->out, k->out_n);
  pthread_mutex_unlock(&k->out_lock);
}

void vm_console_set_state(vm *v, const vm_console_state *st) {
  vm_console *k = v->console;
  pthread_mutex_lock(&k->dev->lock);
  k->control = st->control & (CON_CONTROL_RX_IRQ | CON_CONTROL_SHUTDOWN_IRQ);
  k->in_head = 0;
  k->in_n = st->nin <= CON_IN_SIZE ? st->nin : CON_IN_SIZE;
  memcpy(k->in, st->in, k->in_n);
  pthread_mutex_unlock(&k->dev->lock);
  pthread_mutex_lock(&k->out_lock);
  k->out_n = st->nout < CON_OUT_SIZE ? st->nout : 0;   /* room for the byte that completes it */
  memcpy(k->out, st->out, k->out_n);
  pthread_mutex_unlock(&k->out_lock);
}

int vm_console_create(vm *v, int in_fd, int out_fd) {
  vm_console *k = calloc(1, sizeof *k);
  if (!k) return HPVM_ENOMEM;
  k->in_fd = in_fd;
  k->out_fd = out_fd;
  k->wake[0] = k->wake[1] = -1;
  pthread_mutex_init(&k->out_lock, NULL);
  k->dev = vm_dev_add(v, VM_DEV_CONSOLE, &con_ops, k);
  v->console = k;
  if (!k->dev) return HPVM_ENOMEM;
  return pipe(k->wake) == 0 ? 0 : HPVM_EIO;
}

int vm_console_start(vm *v) {
  vm_console *k = v->console;
  if (pthread_create(&k->thread, NULL, con_thread, k) != 0) return HPVM_ENOMEM;
  k->running = true;
  return 0;
}

void vm_console_stop(vm *v) {
  vm_console *k = v->console;
  if (!k || !k->running) return;
  ssize_t r = write(k->wake[1], "x", 1);
  (void)r;
  pthread_join(k->thread, NULL);
  k->running = false;
}

void vm_console_free(vm *v) {
  vm_console *k = v->console;
  if (!k) return;
  vm_console_stop(v);
  vm_console_flush(v);
  if (k->wake[0] >= 0) close(k->wake[0]), close(k->wake[1]);
  pthread_mutex_destroy(&k->out_lock);
  free(k);
  v->console = NULL;
}
