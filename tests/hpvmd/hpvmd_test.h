/* hpvmd_test.h — the harness of hpvmd's integration tests: a temporary shared directory and
 * state directory, a real hpvmd process (HPVMD, built next to hpvmapp) started and stopped
 * on demand, and short helpers over hpvmd_call for the requests the tests make. Guests are
 * hpvmk (HPVMK) with small memory and a workload chosen by each test. Each test cleans up
 * after itself: hpvmd is stopped and every hpvmapp named by a pidfile is killed. */
#ifndef HPVMD_TEST_H
#define HPVMD_TEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <sys/types.h>
#include <cmocka.h>

#include "hpvmd_client.h"

typedef struct ht_env {
  char dir[256];        /* the test's temporary directory */
  char shared[300];     /* DIR/shared */
  char state[300];      /* DIR/state */
  char sock[320];       /* DIR/state/hpvmd.sock */
  char log[300];        /* hpvmd's stderr */
  pid_t hpvmd;          /* 0 when not running */
  /* For tests with several hosts (tests/migrate): all optional, set before ht_hpvmd_start. */
  char name[64];        /* --name (default "testhost") */
  char listen[64];      /* --listen ADDR:PORT (default none) */
  char hide[300];       /* hpvmd runs in a private mount namespace with an empty tmpfs over
                           this directory: what a host that does not share it sees */
  char lease_timeout[16]; /* --lease-timeout SECONDS (default none: hpvmd's 30) */
  char gossip_probe_ms[16]; /* --gossip-probe-ms MS (default none: hpvmd's 1000) */
} ht_env;

/* cmocka setup/teardown: a fresh env with hpvmd running (*state is the ht_env). */
int ht_setup(void **state);
int ht_teardown(void **state);

/* Start hpvmd (waits until its socket answers; fails the test after 10 s) and stop it
 * with a signal (SIGTERM: a clean exit; SIGKILL: a crash), waiting for it to exit. */
void ht_hpvmd_start(ht_env *e);
void ht_hpvmd_stop(ht_env *e, int sig);
/* Print hpvmd's log (for a failing test). */
void ht_dump_log(const ht_env *e);

/* One request; returns the response's error code (0 OK) and the response in *resp when
 * resp is not NULL (free with hpvmd_response_free). */
int ht_call(ht_env *e, Hpvm__Request *req, Hpvm__Response **resp);
/* create NAME with hpvmk, memory in MiB, the guest command line. */
int ht_create(ht_env *e, const char *name, unsigned mem_mib, const char *args, char *msg, size_t msglen);
int ht_start(ht_env *e, const char *name, char *msg, size_t msglen);
/* mode: HPVM__STOP_MODE__*; timeout_ms for graceful. */
int ht_stop(ht_env *e, const char *name, int mode, uint32_t timeout_ms, char *msg, size_t msglen);
int ht_remove(ht_env *e, const char *name, bool force, char *msg, size_t msglen);
/* The VM's run state (HPVM__VM_RUN_STATE__*) or a negative error; pid and reason optional. */
int ht_state(ht_env *e, const char *name, int *pid, char *reason, size_t reasonlen);
/* Poll until the VM is in state (true) or timeout_ms passed (false). */
bool ht_wait_state(ht_env *e, const char *name, int state, int timeout_ms);
/* The process exists and is not a zombie (an orphaned hpvmapp stays a zombie until init
 * reaps it, which here can take seconds). */
bool ht_pid_alive(int pid);
/* Milliseconds since an arbitrary start. */
uint64_t ht_ms(void);
/* Whole contents of a file (malloc'd, NUL-terminated) or NULL. */
char *ht_read_file(const char *path);

#endif
