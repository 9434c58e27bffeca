/* multihost.h — three hpvmd on loopback sharing one directory (h1, h2, h3, --listen P and gossip
 * P + 1, a 3 s lease timeout, a 100 ms gossip probe), and the helpers the tests that drive them
 * through hpvmhost share (test_drain, test_rolling): run hpvmhost as a user does, look at the
 * membership, start guests, find where they run, read consoles and the command log. Waits are
 * generous upper bounds, not timings under test. Compiled into each such test (HPVM_BIN: the
 * directory of the hpvm links). */
#ifndef HPVMD_MULTIHOST_H
#define HPVMD_MULTIHOST_H

#include "hpvmd_test.h"

#define MH_HOSTS 3
#define MH_WAIT_MS 20000

typedef struct mh_cluster {
  char dir[256];
  ht_env h[MH_HOSTS];
  pid_t restarted;      /* an hpvmd a test's command started (not our child): stopped at teardown */
} mh_cluster;

/* cmocka setup/teardown bodies: a fresh /tmp/hpvmd-TAG-XXXXXX with the three hpvmd running, ports
 * from port_base (spread by pid); *state is the mh_cluster. */
int mh_setup(void **state, const char *tag, int port_base);
/* The same with another gossip probe interval (ms). */
int mh_setup_probe(void **state, const char *tag, int port_base, unsigned probe_ms);
int mh_teardown(void **state);
void mh_dump_all(mh_cluster *f);

/* hpvmhost with argv, asking e's hpvmd; its stdout and stderr together. */
typedef struct mh_out {
  int status;
  char *text;           /* malloc'd */
} mh_out;
pid_t mh_hpvmhost_spawn(ht_env *e, const char *file, char *const argv[]);
mh_out mh_hpvmhost_wait(pid_t pid, const char *file);
mh_out mh_hpvmhost(mh_cluster *f, ht_env *e, char *const argv[]);

/* The state (Up, Maintenance, ...) e's hpvmd shows for host name; "" when none. */
void mh_state_of(ht_env *e, const char *name, char *state, size_t slen);
bool mh_wait_host_state(ht_env *e, const char *name, const char *want);
void mh_all_see_all_up(mh_cluster *f);

char *mh_console_of(ht_env *e, const char *vm);
bool mh_console_wait(ht_env *e, const char *vm, size_t from, const char *needle, int timeout_ms);
void mh_start_guest(mh_cluster *f, ht_env *e, const char *vm, unsigned mib, const char *args);
/* The host (index) where vm is ON; -1 when none. */
int mh_where(mh_cluster *f, const char *vm);
/* Poll until vm is ON on host (index) and on no host before it (false after MH_WAIT_MS): a
 * migration's source still shows it ON until its hpvmapp has ended. */
bool mh_wait_where(mh_cluster *f, const char *vm, int host);
char *mh_command_log(mh_cluster *f);
/* A graceful stop of vm, running on t: it says PASS memverify and PASS heartbeat, and its console
 * on no host says FAIL. */
void mh_stop_and_check(mh_cluster *f, ht_env *t, const char *vm);

#endif
