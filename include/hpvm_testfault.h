/* hpvm_testfault.h — TEST ONLY: faults injected at named points of hpvmd and hpvmapp, so
 * integration tests can hit moments no signal from outside hits reliably (the instant after
 * the target acknowledged the state, between the lease write and COMMIT, ...).
 *
 *   HPVM_TEST_FAULT="point:action[,point:action]..."
 *     action  exit      the process ends at once with _exit(137), as kill -9 leaves it
 *             sleepMS   it waits MS milliseconds at the point, then goes on
 *             fail      the operation at the point fails (as if the shared storage refused)
 *
 * hpvmd passes its environment to the hpvmapps it spawns, so a fault set for a host's hpvmd
 * reaches that host's guests too. Nothing reads it unless set; never set it in production.
 * The points are listed in docs/testing.md ("Fault points"). Header-only: the programs that
 * use it share no library but this include directory. */
#ifndef HPVM_TESTFAULT_H
#define HPVM_TESTFAULT_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* At point: exit or sleep as HPVM_TEST_FAULT says; true when it says "fail". */
static inline bool hpvm_test_fault(const char *point) {
  const char *spec = getenv("HPVM_TEST_FAULT");
  size_t plen = strlen(point);
  for (const char *p = spec; p && *p;) {
    size_t n = strcspn(p, ",");
    if (n > plen && !strncmp(p, point, plen) && p[plen] == ':') {
      const char *action = p + plen + 1;
      size_t alen = n - plen - 1;
      if (alen == 4 && !strncmp(action, "exit", 4)) {
        fprintf(stderr, "hpvm test fault: %s: exit 137\n", point);
        _exit(137);
      }
      if (alen == 4 && !strncmp(action, "fail", 4)) {
        fprintf(stderr, "hpvm test fault: %s: fail\n", point);
        return true;
      }
      if (alen > 5 && !strncmp(action, "sleep", 5)) {
        long ms = strtol(action + 5, NULL, 10);
        fprintf(stderr, "hpvm test fault: %s: sleep %ld ms\n", point, ms);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
        while (ms > 0 && nanosleep(&ts, &ts)) {}
        return false;
      }
    }
    p += n + (p[n] == ',');
  }
  return false;
}

#endif
