/* stor.c — avio_stor, the paravirtual block device (docs/platform.md), and the I/O worker
 * pool that does its transfers asynchronously with pread/pwrite/fdatasync on the backing file.
 *
 * The guest puts 32-byte requests in a ring in its memory and stores the producer index to
 * the doorbell. The doorbell (on the vCPU's thread, device lock held) copies each new entry
 * once out of guest memory, validates the copy (op, length a non-zero multiple of 512 up to
 * 4 MiB, sectors inside the disk, buffer entirely in RAM) and either completes it at once
 * with status 3 (bad request) or queues it for the pool; nothing later reads the entry
 * again, so a guest rewriting it meanwhile changes nothing. A worker does the transfer (reads
 * land directly in guest memory, then vm_mem_written marks them), then writes the status and
 * advances the completion index over the longest prefix of completed requests, and raises
 * the interrupt. A flush is fdatasync(): everything whose write completed before it started
 * is durable when it completes.
 *
 * Ring registers that make no sense (base not 4 KiB aligned or not RAM, size not a power of
 * two up to 1024) or a doorbell further ahead than the ring holds set status bit 1 (error),
 * raise the interrupt and are otherwise ignored. Reprogramming the ring resets the indices;
 * requests still in flight from the old ring then complete their status but no index. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm_internal.h"

#define SECTOR 512
#define RING_MAX 1024
#define XFER_MAX (4u << 20)
#define POOL_THREADS 4

enum { OP_READ = 1, OP_WRITE = 2, OP_FLUSH = 3 };
enum { ST_PENDING = 0, ST_OK = 1, ST_IOERR = 2, ST_BAD = 3 };
enum { R_CAPACITY = 0x20, R_RING_BASE = 0x28, R_RING_SIZE = 0x30, R_DOORBELL = 0x38, R_COMPLETION = 0x40 };

typedef struct stor_job {
  vm_stor *s;
  uint32_t gen, idx, op, len, status;
  uint64_t sector, buf, entry_gpa;
  struct stor_job *next;
} stor_job;

struct vm_stor {
  vm_device *dev;
  int fd;
  char *path;
  uint64_t sectors;
  /* Under dev->lock. */
  uint64_t ring_base;
  uint32_t ring_size;
  bool ring_ok;
  uint32_t prod, cons, comp, gen;
  uint8_t done[RING_MAX];
  unsigned inflight;
  pthread_cond_t idle;
};

struct vm_iopool {
  pthread_t th[POOL_THREADS];
  unsigned n;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  stor_job *head, *tail;
  bool stop;
};

/* ---- Completion ------------------------------------------------------------------------------- */

/* Status into the entry, index forward, interrupt. dev->lock held. */
static void complete_locked(vm_stor *s, uint32_t gen, uint32_t idx, uint64_t entry_gpa, uint32_t status) {
  vm *v = s->dev->vm;
  vm_mem_write(v, entry_gpa + 4, &status, 4);
  if (gen == s->gen) {
    s->done[idx % s->ring_size] = 1;
    while (s->comp != s->cons && s->done[s->comp % s->ring_size]) s->done[s->comp++ % s->ring_size] = 0;
  }
  vm_dev_raise(s->dev, VM_DEV_STATUS_IRQ);
}

static void job_done(stor_job *j) {
  vm_stor *s = j->s;
  pthread_mutex_lock(&s->dev->lock);
  complete_locked(s, j->gen, j->idx, j->entry_gpa, j->status);
  if (--s->inflight == 0) pthread_cond_broadcast(&s->idle);
  pthread_mutex_unlock(&s->dev->lock);
  free(j);
}

/* ---- Transfers (worker threads) ----------------------------------------------------------------- */

static uint32_t do_io(stor_job *j) {
  vm *v = j->s->dev->vm;
  if (j->op == OP_FLUSH) return fdatasync(j->s->fd) == 0 ? ST_OK : ST_IOERR;
  uint8_t *p = vm_mem_ptr(v, j->buf, j->len);     /* validated when the request was taken */
  off_t off = (off_t)(j->sector * SECTOR);
  size_t done = 0;
  while (done < j->len) {
    ssize_t r = j->op == OP_READ ? pread(j->s->fd, p + done, j->len - done, off + (off_t)done)
                                 : pwrite(j->s->fd, p + done, j->len - done, off + (off_t)done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    done += (size_t)r;
  }
  if (j->op == OP_READ) vm_mem_written(v, j->buf, done);
  return done == j->len ? ST_OK : ST_IOERR;
}

static void *worker(void *arg) {
  struct vm_iopool *p = arg;
  pthread_mutex_lock(&p->lock);
  for (;;) {
    while (!p->head && !p->stop) pthread_cond_wait(&p->cond, &p->lock);
    if (!p->head) break;                        /* stopping, and the queue is drained */
    stor_job *j = p->head;
    p->head = j->next;
    if (!p->head) p->tail = NULL;
    pthread_mutex_unlock(&p->lock);
    j->status = do_io(j);
    job_done(j);
    pthread_mutex_lock(&p->lock);
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

static void pool_submit(vm *v, stor_job *j) {
  struct vm_iopool *p = v->pool;
  pthread_mutex_lock(&p->lock);
  j->next = NULL;
  if (p->tail) p->tail->next = j;
  else p->head = j;
  p->tail = j;
  pthread_cond_signal(&p->cond);
  pthread_mutex_unlock(&p->lock);
}

int vm_iopool_start(vm *v) {
  if (v->pool) return 0;
  struct vm_iopool *p = calloc(1, sizeof *p);
  if (!p) return HPVM_ENOMEM;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->cond, NULL);
  v->pool = p;
  for (; p->n < POOL_THREADS; p->n++)
    if (pthread_create(&p->th[p->n], NULL, worker, p) != 0) break;
  return p->n ? 0 : HPVM_ENOMEM;
}

void vm_iopool_stop(vm *v) {
  struct vm_iopool *p = v->pool;
  if (!p) return;
  pthread_mutex_lock(&p->lock);
  p->stop = true;
  pthread_cond_broadcast(&p->cond);
  pthread_mutex_unlock(&p->lock);
  for (unsigned i = 0; i < p->n; i++) pthread_join(p->th[i], NULL);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->cond);
  free(p);
  v->pool = NULL;
}

void vm_devices_drain(vm *v) {
  for (unsigned i = 0; i < v->ndisks; i++) {
    vm_stor *s = v->stor[i];
    pthread_mutex_lock(&s->dev->lock);
    while (s->inflight) pthread_cond_wait(&s->idle, &s->dev->lock);
    pthread_mutex_unlock(&s->dev->lock);
  }
}

/* Migration's I/O quiesce: the drain with a deadline (the idle condition uses the realtime
 * clock, so the deadline is taken on it), then every backing file's data on stable storage,
 * so that the target host, opening the same shared files, reads what the guest wrote. */
int vm_devices_quiesce(vm *v, unsigned timeout_ms, char *msg, size_t msglen) {
  struct timespec end;
  clock_gettime(CLOCK_REALTIME, &end);
  end.tv_sec += timeout_ms / 1000;
  end.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
  if (end.tv_nsec >= 1000000000) end.tv_sec++, end.tv_nsec -= 1000000000;
  for (unsigned i = 0; i < v->ndisks; i++) {
    vm_stor *s = v->stor[i];
    int rc = 0;
    pthread_mutex_lock(&s->dev->lock);
    while (s->inflight && rc == 0)
      rc = timeout_ms ? pthread_cond_timedwait(&s->idle, &s->dev->lock, &end) : pthread_cond_wait(&s->idle, &s->dev->lock);
    unsigned left = s->inflight;
    pthread_mutex_unlock(&s->dev->lock);
    if (left) {
      snprintf(msg, msglen, "disk %u (%s): %u requests still in flight after %u ms; the backing storage is "
               "stalled, check it or raise the quiesce timeout", i, s->path, left, timeout_ms);
      return HPVM_ETIMEDOUT;
    }
  }
  return vm_disks_flush(v, msg, msglen);
}

int vm_disks_flush(vm *v, char *msg, size_t msglen) {
  for (unsigned i = 0; i < v->ndisks; i++)
    if (fdatasync(v->stor[i]->fd) != 0) {
      snprintf(msg, msglen, "disk %u (%s): cannot flush it to storage (%s)", i, v->stor[i]->path, strerror(errno));
      return HPVM_EIO;
    }
  return 0;
}

/* ---- Requests (doorbell, dev->lock held) -------------------------------------------------------- */

/* Copy entry idx out of the ring, validate it, and queue it or complete it as bad. */
static void take_request(vm_stor *s, uint32_t idx) {
  vm *v = s->dev->vm;
  uint64_t gpa = s->ring_base + (uint64_t)(idx % s->ring_size) * 32;
  uint8_t e[32];
  vm_mem_read(v, gpa, e, sizeof e);
  stor_job j = {.s = s, .gen = s->gen, .idx = idx, .entry_gpa = gpa};
  memcpy(&j.op, e, 4);
  memcpy(&j.sector, e + 8, 8);
  memcpy(&j.buf, e + 16, 8);
  memcpy(&j.len, e + 24, 4);
  bool ok = j.op == OP_FLUSH;
  if (j.op == OP_READ || j.op == OP_WRITE)
    ok = j.len && j.len % SECTOR == 0 && j.len <= XFER_MAX && j.sector <= s->sectors &&
         j.len / SECTOR <= s->sectors - j.sector && vm_is_ram(v, j.buf, j.len);
  stor_job *q = ok && v->pool ? malloc(sizeof *q) : NULL;
  if (!q) {
    complete_locked(s, j.gen, idx, gpa, ok ? ST_IOERR : ST_BAD);
    return;
  }
  *q = j;
  s->inflight++;
  pool_submit(v, q);
}

static void doorbell(vm_stor *s, uint32_t prod) {
  if (!s->ring_ok || (uint32_t)(prod - s->comp) > s->ring_size || (uint32_t)(prod - s->cons) > s->ring_size) {
    vm_dev_raise(s->dev, VM_DEV_STATUS_ERROR | VM_DEV_STATUS_IRQ);
    return;
  }
  s->prod = prod;
  while (s->cons != s->prod) take_request(s, s->cons++);
}

static void ring_setup(vm_stor *s) {
  vm *v = s->dev->vm;
  uint32_t n = s->ring_size;
  s->ring_ok = n && n <= RING_MAX && !(n & (n - 1)) && !(s->ring_base & 0xfff) && vm_is_ram(v, s->ring_base, (uint64_t)n * 32);
  s->prod = s->cons = s->comp = 0;
  s->gen++;
  memset(s->done, 0, sizeof s->done);
}

static uint64_t stor_read(vm_device *d, unsigned off) {
  vm_stor *s = d->impl;
  switch (off) {
  case R_CAPACITY: return s->sectors;
  case R_RING_BASE: return s->ring_base;
  case R_RING_SIZE: return s->ring_size;
  case R_DOORBELL: return s->prod;
  case R_COMPLETION: return s->comp;
  default: return 0;
  }
}

static void stor_write(vm_device *d, unsigned off, uint64_t val) {
  vm_stor *s = d->impl;
  switch (off) {
  case R_RING_BASE: s->ring_base = val, ring_setup(s); break;
  case R_RING_SIZE: s->ring_size = val > RING_MAX ? 0 : (uint32_t)val, ring_setup(s); break;
  case R_DOORBELL: doorbell(s, (uint32_t)val); break;
  default: break;
  }
}

static const vm_dev_ops stor_ops = {stor_read, stor_write};

/* ---- Creation ------------------------------------------------------------------------------------ */

int vm_stor_create(vm *v, const char *path, char *msg, size_t msglen) {
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      snprintf(msg, msglen, "disk %s: no such file; create it first (e.g. truncate -s 1G %s)", path, path);
    else if (errno == EISDIR)
      snprintf(msg, msglen, "disk %s: is a directory; give a disk image file", path);
    else
      snprintf(msg, msglen, "disk %s: cannot open it for reading and writing (%s)", path, strerror(errno));
    return errno == ENOENT ? HPVM_ENOENT : HPVM_EIO;
  }
  struct stat st;
  off_t size = fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) ? lseek(fd, 0, SEEK_END) : -1;
  const char *bad = size < 0 ? "not a regular file or block device" : size == 0 ? "empty (0 bytes)" :
                    size % SECTOR ? "its size is not a multiple of 512 bytes" : NULL;
  vm_stor *s = bad ? NULL : calloc(1, sizeof *s);
  if (s) s->path = strdup(path);
  if (!s || !s->path) {
    close(fd);
    if (s) free(s);
    if (!bad) bad = "out of memory";
    snprintf(msg, msglen, "disk %s: %s; give a disk image whose size is a non-zero multiple of 512 bytes", path, bad);
    return HPVM_EINVAL;
  }
  s->fd = fd;
  s->sectors = (uint64_t)size / SECTOR;
  pthread_cond_init(&s->idle, NULL);
  s->dev = vm_dev_add(v, VM_DEV_STOR, &stor_ops, s);
  v->stor[v->ndisks++] = s;
  if (!s->dev) {
    snprintf(msg, msglen, "disk %s: too many devices", path);
    return HPVM_ERANGE;
  }
  s->dev->capacity = (uint64_t)size;
  return 0;
}

void vm_stor_free(vm *v) {
  vm_iopool_stop(v);
  for (unsigned i = 0; i < v->ndisks; i++) {
    vm_stor *s = v->stor[i];
    close(s->fd);
    free(s->path);
    pthread_cond_destroy(&s->idle);
    free(s);
  }
  v->ndisks = 0;
}

void vm_stor_get_state(vm *v, unsigned disk, vm_stor_state *out) {
  vm_stor *s = v->stor[disk];
  pthread_mutex_lock(&s->dev->lock);
  *out = (vm_stor_state){.ring_base = s->ring_base, .ring_size = s->ring_size, .prod = s->prod, .comp = s->comp,
                         .inflight = s->inflight};
  pthread_mutex_unlock(&s->dev->lock);
}

int vm_stor_set_state(vm *v, unsigned disk, const vm_stor_state *st) {
  vm_stor *s = v->stor[disk];
  if (st->comp != st->prod || st->inflight || st->ring_size > RING_MAX) return HPVM_EINVAL;
  pthread_mutex_lock(&s->dev->lock);
  s->ring_base = st->ring_base;
  s->ring_size = st->ring_size;
  ring_setup(s);
  if (s->ring_ok) s->prod = s->cons = s->comp = st->prod;
  pthread_mutex_unlock(&s->dev->lock);
  return s->ring_ok || st->prod == 0 ? 0 : HPVM_EINVAL;
}

int vm_stor_fd(vm *v, unsigned i) { return i < v->ndisks ? v->stor[i]->fd : -1; }
const char *vm_stor_path(vm *v, unsigned i) { return i < v->ndisks ? v->stor[i]->path : ""; }
