/* stats.c — what the source and the destination share besides the wire: phase names, time,
 * CPU seconds and the one-line error helper. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

const char *mig_phase_name(mig_phase p) {
  static const char *const names[] = {"init", "copy", "quiesce", "frozen", "handoff", "done", "failed", "canceled"};
  return (unsigned)p < sizeof names / sizeof *names ? names[p] : "unknown";
}

uint64_t mig_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double mig_cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         (double)ru.ru_stime.tv_usec / 1e6;
}

uint64_t mig_thread_cpu_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)) return 0;
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* /proc/thread-self/schedstat: "cpu_ns run_delay_ns slices". */
static bool read_schedstat(int fd, uint64_t *cpu, uint64_t *wait) {
  char buf[96];
  ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf - 1, 0) : -1;
  if (n <= 0) return false;
  buf[n] = 0;
  char *end;
  *cpu = strtoull(buf, &end, 10);
  *wait = strtoull(end, NULL, 10);
  return true;
}

static void busy_now(const mig_busy *b, uint64_t *cpu, uint64_t *wait) {
  if (!read_schedstat(b->fd, cpu, wait)) *cpu = mig_thread_cpu_ns(), *wait = 0;
}

void mig_busy_start(mig_busy *b) {
  b->fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
  b->blocked_permille = 0;
  mig_busy_reset(b);
}

void mig_busy_reset(mig_busy *b) {
  b->t_wall = mig_now_ns();
  busy_now(b, &b->t_cpu, &b->t_wait);
}

bool mig_busy_sample(mig_busy *b, uint64_t period_ns) {
  uint64_t now = mig_now_ns();
  if (now - b->t_wall < period_ns) return false;
  uint64_t cpu, wait;
  busy_now(b, &cpu, &wait);
  uint64_t wall = now - b->t_wall, used = (cpu - b->t_cpu) + (wait - b->t_wait);
  b->blocked_ns = used >= wall ? 0 : wall - used;
  b->blocked_permille = wall ? (unsigned)(b->blocked_ns * 1000 / wall) : 0;
  uint64_t starved = wait - b->t_wait;
  b->starved_permille = wall ? (unsigned)((starved < wall ? starved : wall) * 1000 / wall) : 0;
  b->t_wall = now, b->t_cpu = cpu, b->t_wait = wait;
  return true;
}

void mig_busy_stop(mig_busy *b) {
  if (b->fd >= 0) close(b->fd);
  b->fd = -1;
}

int mig_fail(char *msg, size_t msglen, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (msg && msglen) vsnprintf(msg, msglen, fmt, ap);
  va_end(ap);
  return rc;
}
