/* log.c — hpvmd's log: one line per event, to stderr (foreground, systemd's journal) with a
 * UTC timestamp and a level word, or to syslog (daemon facility) when detached. */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

#include "internal.h"

void hd_log(hd_daemon *d, int level, const char *fmt, ...) {
  char line[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (d && d->use_syslog) {
    syslog(level, "%s", line);
    return;
  }
  struct timespec t;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &t);
  gmtime_r(&t.tv_sec, &tm);
  static const char *const words[8] = {"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"};
  fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ hpvmd %s: %s\n", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
          tm.tm_hour, tm.tm_min, tm.tm_sec, t.tv_nsec / 1000000, words[level & 7], line);
}
