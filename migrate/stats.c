/* stats.c — what the source and the destination share besides the wire: phase names, time,
 * CPU seconds and the one-line error helper. */
#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

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

int mig_fail(char *msg, size_t msglen, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (msg && msglen) vsnprintf(msg, msglen, fmt, ap);
  va_end(ap);
  return rc;
}
