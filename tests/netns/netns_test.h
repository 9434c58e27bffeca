/* netns_test.h — the multi-host test harness: each host of a test is a Linux network namespace
 * (hpvmt-<pid>-a, -b, ...) with its own address on a veth link and its own hpvmd, all of them
 * on one shared directory (namespaces share the file system). Links can be shaped with tc,
 * cut (ip link set down inside the namespace) and restored; a host's hpvmd or one of its
 * hpvmapps can be killed; hpvm commands run inside a host's namespace against its control
 * socket. docs/testing.md is the user guide.
 *
 * Topology: two hosts are joined by one veth pair (pairwise); three or more each have a veth
 * pair to a bridge in a namespace of its own (hpvmt-<pid>-br). Host i is named "host<letter>"
 * (hosta, hostb, ...), has address 10.77.0.<i+1>/24 on its interface "eth0", and its hpvmd
 * listens for peers on 10.77.0.<i+1>:7410.
 *
 * Cleanup is unconditional: every namespace the harness made is emptied (each process inside
 * it is killed by its pid) and deleted, and the temporary directory removed, at teardown, at
 * exit and on SIGINT/SIGTERM/SIGHUP/SIGABRT; a test killed with SIGKILL leaves namespaces
 * whose owner pid is gone, and nt_require_netns() deletes those at the start of the next run.
 * NETNS_TEST_KEEP=1 keeps the temporary directory (hpvmd logs, console logs) for a post-mortem. */
#ifndef NETNS_TEST_H
#define NETNS_TEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <sys/types.h>
#include <cmocka.h>

#define NT_MAX_HOSTS 16               /* hosta..hostp, 10.77.0.1-16 */
#define NT_PORT 7410
#define NT_SKIP 77                    /* exit status ctest counts as skipped (SKIP_RETURN_CODE) */

typedef struct nt_host {
  unsigned index;
  char name[16];                      /* hosta, hostb, ... (hpvmd --name) */
  char ns[64];                        /* hpvmt-<pid>-a */
  char dev[16];                       /* its end of the link, inside ns: eth0 */
  char peer_ns[64];                   /* the namespace holding the other end */
  char peer_dev[16];
  char addr[20];                      /* 10.77.0.N */
  char listen[32];                    /* 10.77.0.N:7410 */
  char state[300];                    /* DIR/state-a */
  char sock[320];                     /* DIR/state-a/hpvmd.sock */
  char log[300];                      /* hpvmd's stdout and stderr: DIR/hpvmd-a.log */
  pid_t hpvmd;                        /* 0 when not running */
} nt_host;

typedef struct nt_env {
  char prefix[40];                    /* hpvmt-<pid> */
  char dir[256];                      /* /tmp/hpvmt-<pid>-XXXXXX */
  char shared[300];                   /* DIR/shared */
  unsigned n;
  bool bridged;
  char br_ns[64];                     /* the bridge's namespace when bridged */
  char lease_timeout[8];              /* hpvmd --lease-timeout S for hosts started after it is set ("": default) */
  char gossip_probe_ms[8];            /* hpvmd --gossip-probe-ms MS likewise */
  nt_host h[NT_MAX_HOSTS];
} nt_env;

/* ---- The environment -------------------------------------------------------------------------- */

/* Call first in main(): exits NT_SKIP with a printed reason when this process cannot make
 * namespaces (not root, no ip, no permission, no veth), then deletes stale hpvmt-* namespaces
 * (their owner pid is gone) and their temporary directories. NETNS_TEST_FILTER=PATTERN runs
 * only the tests whose name matches (cmocka_set_test_filter: * and ? wildcards). */
void nt_require_netns(void);
/* n hosts (2: pairwise; more: a bridge), links up, no hpvmd yet. Fails the test on error. */
nt_env *nt_env_new(unsigned n);
/* Kill every process in the env's namespaces, delete them, remove the directory. */
void nt_env_free(nt_env *e);
/* cmocka setup/teardown: two hosts with hpvmd running on each (*state is the nt_env). */
int nt_setup2(void **state);
int nt_teardown(void **state);

/* ---- hpvmd --------------------------------------------------------------------------------- */

/* Start host i's hpvmd in its namespace (waits until its socket answers; fails after 10 s). */
void nt_hpvmd_start(nt_env *e, unsigned i);
/* Signal it and wait for it to exit (SIGTERM: clean; SIGKILL: a crash). */
void nt_hpvmd_stop(nt_env *e, unsigned i, int sig);
void nt_dump_logs(const nt_env *e);

/* ---- Processes in a host ------------------------------------------------------------------- */

typedef struct nt_out {
  int status;                         /* exit status, or 128+signal */
  char *o, *e;                        /* stdout, stderr */
} nt_out;
void nt_out_free(nt_out *r);

/* Run an hpvm command ("hpvmstatus -P g") from build/bin inside host i's namespace with
 * HPVMD_SOCKET naming its hpvmd. Words split at blanks; "double quotes" group. */
nt_out nt_cmd(nt_env *e, unsigned i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same, failing the test unless it exits 0; returns stdout (free it). */
char *nt_ok(nt_env *e, unsigned i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same in the background, stdout and stderr to the file out; returns its pid. */
pid_t nt_spawn(nt_env *e, unsigned i, const char *out, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Wait for a child; its exit status (128+signal) or -1 after timeout_ms (it is then killed). */
int nt_wait_child(pid_t pid, int timeout_ms);

/* Every hpvmapp in the hosts' namespaces, for one pass over /proc: fn is called for each (it
 * returns true to stop the pass in that host). A sanitizer build's LeakSanitizer tracer, a task
 * an exiting hpvmapp clones with the same command line, is not counted. */
typedef struct nt_app {
  unsigned host;
  pid_t pid;
  char vm[256];
  bool incoming;                      /* started with --incoming (a migration's target) */
} nt_app;
typedef bool (*nt_app_fn)(const nt_app *a, void *ctx);
void nt_apps(const nt_env *e, nt_app_fn fn, void *ctx);
/* The pid of host i's hpvmapp for VM vm (found by namespace and command line), 0 if none. */
pid_t nt_app_pid(const nt_env *e, unsigned i, const char *vm);
/* How many hosts run an hpvmapp for vm; *where = the last such host. */
unsigned nt_runners(const nt_env *e, const char *vm, unsigned *where);
/* SIGKILL host i's hpvmapp of vm (fails the test if there is none) and wait until it is gone. */
void nt_app_kill(nt_env *e, unsigned i, const char *vm);

/* A power loss of host i: its link cut and every process in its namespace (hpvmd and its
 * hpvmapps) killed with SIGKILL at once; nt_link_up and nt_hpvmd_start bring it back. */
void nt_host_crash(nt_env *e, unsigned i);

/* ---- Links ---------------------------------------------------------------------------------- */

/* Cut host i's link (its end set down inside its namespace) and restore it. */
void nt_link_down(nt_env *e, unsigned i);
void nt_link_up(nt_env *e, unsigned i);
/* Shape host i's link in both directions with a token bucket at rate_kbit (tbf), replacing
 * any shaping; 0 removes it. */
void nt_link_shape(nt_env *e, unsigned i, unsigned rate_kbit);
/* Send bytes from host `from` to host `to` over TCP; the milliseconds it took, or -1 when no
 * connection was made or the transfer did not end within timeout_ms. */
long nt_transfer(nt_env *e, unsigned from, unsigned to, size_t bytes, int timeout_ms);

/* ---- Guests and shared state ---------------------------------------------------------------- */

/* The State column (Up, Suspect, Dead, Left, Draining, Maintenance) of host `name` in host i's
 * `hpvmhost status`; "" when it is not listed or the command failed. */
void nt_host_state(nt_env *e, unsigned i, const char *name, char *state, size_t len);
/* The cluster's command log, DIR/shared/log/command.log (malloc'd; "" when there is none). */
char *nt_command_log(const nt_env *e);

/* Host i's console log of vm (malloc'd; "" when there is none). */
char *nt_console(const nt_env *e, unsigned i, const char *vm);
/* The VM's ownership lease: 0 and the owner ("" when free) and generation, or an error. */
int nt_lease(const nt_env *e, const char *vm, char *owner, size_t ownerlen, uint64_t *generation);
/* The host index named owner, or -1. */
int nt_host_index(const nt_env *e, const char *name);

/* ---- Guests for migration tests -------------------------------------------------------------- */

/* Create VM vm on host i: hpvmk with mem_mib of memory, cpus vCPUs, the guest command line
 * args and, when disk_mib > 0, a disk of that size in the shared directory (so every host
 * sees it at the same path). Fails the test on error. */
void nt_guest_create(nt_env *e, unsigned i, const char *vm, unsigned mem_mib, unsigned cpus, const char *args,
                     unsigned disk_mib);
/* The VM's run state as host i's hpvmd sees it (HPVM__VM_RUN_STATE__*) or a negative error. */
int nt_state(nt_env *e, unsigned i, const char *vm);
/* Poll until host i sees vm in state (true) or timeout_ms passed (false). */
bool nt_wait_state(nt_env *e, unsigned i, const char *vm, int state, int timeout_ms);
/* Start it on host i and wait until its console (on host i) shows needle (NULL: no wait). */
void nt_guest_start(nt_env *e, unsigned i, const char *vm, const char *needle);
/* Poll host i's console log of vm until it contains needle (true) or timeout_ms passed. */
bool nt_console_wait(const nt_env *e, unsigned i, const char *vm, const char *needle, int timeout_ms);
/* How many times the guest kernel booted, over every host's console logs: a guest that
 * survives migrations and faults boots once. */
unsigned nt_guest_boots(const nt_env *e, const char *vm);
/* The guest runs on exactly one host, and the lease names it: that host's index (fails the
 * test otherwise, after waiting up to timeout_ms for things to settle). */
unsigned nt_guest_settled(nt_env *e, const char *vm, int timeout_ms);
/* Stop the guest on host i with a graceful shutdown (its workloads end and report), wait
 * until it is off, and check its console: "PASS w" for each workload named in the
 * space-separated list workloads, "PASS shutdown", and no "FAIL" on any host. Returns host
 * i's console log (free it). */
char *nt_guest_verify(nt_env *e, unsigned i, const char *vm, const char *workloads);

/* ---- Small helpers -------------------------------------------------------------------------- */

uint64_t nt_ms(void);
char *nt_read_file(const char *path);
/* Poll until path contains needle (true) or timeout_ms passed (false). */
bool nt_wait_file(const char *path, const char *needle, int timeout_ms);
/* Run a program (argv[0] looked up in PATH) inside namespace ns (NULL: here); output to the
 * file out (NULL: discarded). Its exit status. */
int nt_run_in(const char *ns, const char *out, char *const argv[]);
/* "ip ARGS..." with a printf-style line split at blanks; fails the test unless it exits 0. */
void nt_ip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
