/* test_cluster.c — three real hpvmd on loopback sharing one directory form a cluster
 * (cli/hpvmd/member.c, cluster/): each sees the others Up in hpvmhost status; a guest started
 * on h2 shows as running on h2 in the list of h1 and h3; kill -9 of h3's hpvmd makes it Dead
 * for the others and its guest Unknown; hpvmhost leave of h2 is refused while h2 runs a guest,
 * then makes h2 Left (never Dead) and stays so across a restart until hpvmhost join; a host
 * with another cluster secret that knows the same gossip addresses is never admitted.
 * Gossip runs with a 100 ms probe interval; the waits below are generous upper bounds, not
 * timings under test. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hpvmd_test.h"

#define HOSTS 3
#define WAIT_MS 15000

typedef struct cl_fixture {
  char dir[256];
  ht_env h[HOSTS + 1];      /* h[3]: the stranger with another secret */
} cl_fixture;

static void env_init(cl_fixture *f, int i, const char *shared_dir, int port) {
  ht_env *e = &f->h[i];
  char dir[256], shared[300];
  snprintf(dir, sizeof dir, "%s", f->dir);
  snprintf(shared, sizeof shared, "%s", shared_dir);
  memset(e, 0, sizeof *e);
  snprintf(e->dir, sizeof e->dir, "%s", dir);
  snprintf(e->shared, sizeof e->shared, "%s", shared);
  snprintf(e->state, sizeof e->state, "%s/state%d", dir, i + 1);
  snprintf(e->sock, sizeof e->sock, "%s/state%d/hpvmd.sock", dir, i + 1);
  snprintf(e->log, sizeof e->log, "%s/hpvmd%d.log", dir, i + 1);
  snprintf(e->name, sizeof e->name, "h%d", i + 1);
  snprintf(e->listen, sizeof e->listen, "127.0.0.1:%d", port);
  snprintf(e->lease_timeout, sizeof e->lease_timeout, "3");
  snprintf(e->gossip_probe_ms, sizeof e->gossip_probe_ms, "100");
}

static int setup(void **state) {
  cl_fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/hpvmd-cluster-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  char shared[300];
  snprintf(shared, sizeof shared, "%s/shared", f->dir);
  mkdir(shared, 0755);
  int base = 21000 + (int)(getpid() % 2000) * 10;   /* --listen P, gossip P + 1 */
  for (int i = 0; i < HOSTS; i++) env_init(f, i, shared, base + i * 2);
  *state = f;
  for (int i = 0; i < HOSTS; i++) ht_hpvmd_start(&f->h[i]);
  return 0;
}

static int teardown(void **state) {
  cl_fixture *f = *state;
  for (int i = 0; i <= HOSTS; i++) {
    ht_hpvmd_stop(&f->h[i], SIGTERM);
    char cmd[600];
    /* hpvmapps outlive hpvmd on purpose: kill the ones the pidfiles name. */
    snprintf(cmd, sizeof cmd, "cat %s/vms/*/app.pid 2>/dev/null | xargs -r kill -9 2>/dev/null", f->h[i].state);
    if (f->h[i].state[0] && system(cmd)) { /* none left */ }
  }
  if (!getenv("HPVMD_TEST_KEEP")) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd)) { /* leftovers in /tmp */ }
  }
  free(f);
  return 0;
}

static void dump_all(cl_fixture *f) {
  for (int i = 0; i <= HOSTS; i++)
    if (f->h[i].log[0]) ht_dump_log(&f->h[i]);
}

/* hpvmhost status from e; the response (free it) or NULL. */
static Hpvm__Response *host_status(ht_env *e) {
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__HostRequest h = HPVM__HOST_REQUEST__INIT;
  h.op = HPVM__HOST_OP__HOST_OP_STATUS;
  req.body_case = HPVM__REQUEST__BODY_HOST;
  req.host = &h;
  Hpvm__Response *r = NULL;
  if (ht_call(e, &req, &r) || r->body_case != HPVM__RESPONSE__BODY_HOSTS) {
    hpvmd_response_free(r);
    return NULL;
  }
  return r;
}

static int host_op(ht_env *e, Hpvm__HostOp op, bool force, char *msg, size_t len) {
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__HostRequest h = HPVM__HOST_REQUEST__INIT;
  h.op = op;
  h.force = force;
  req.body_case = HPVM__REQUEST__BODY_HOST;
  req.host = &h;
  Hpvm__Response *r = NULL;
  int rc = ht_call(e, &req, &r);
  snprintf(msg, len, "%s", r && r->message ? r->message : "");
  hpvmd_response_free(r);
  return rc;
}

/* The state e shows for host name ("" when e does not list it), and its membership word. */
static void state_of(ht_env *e, const char *name, char *state, size_t slen, char *memb, size_t mlen) {
  state[0] = 0;
  if (memb) memb[0] = 0;
  Hpvm__Response *r = host_status(e);
  for (size_t i = 0; r && i < r->hosts->n_hosts; i++)
    if (!strcmp(r->hosts->hosts[i]->name, name)) {
      snprintf(state, slen, "%s", r->hosts->hosts[i]->state);
      if (memb) snprintf(memb, mlen, "%s", r->hosts->hosts[i]->membership);
    }
  hpvmd_response_free(r);
}

static bool wait_host_state(ht_env *e, const char *name, const char *want) {
  char st[64];
  for (uint64_t end = ht_ms() + WAIT_MS; ht_ms() < end; usleep(50000)) {
    state_of(e, name, st, sizeof st, NULL, 0);
    if (!strcmp(st, want)) return true;
  }
  fprintf(stderr, "%s sees host %s as '%s', not '%s'\n", e->name, name, st, want);
  return false;
}

/* The VM as e lists it: state and host. */
static int vm_in_list(ht_env *e, const char *vm, char *host, size_t hlen) {
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__ListRequest l = HPVM__LIST_REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_LIST;
  req.list = &l;
  Hpvm__Response *r = NULL;
  int state = -1;
  host[0] = 0;
  if (ht_call(e, &req, &r) == 0 && r->body_case == HPVM__RESPONSE__BODY_LIST)
    for (size_t i = 0; i < r->list->n_vms; i++)
      if (r->list->vms[i]->config && !strcmp(r->list->vms[i]->config->name, vm)) {
        state = r->list->vms[i]->state;
        snprintf(host, hlen, "%s", r->list->vms[i]->host);
      }
  hpvmd_response_free(r);
  return state;
}

static bool wait_vm(ht_env *e, const char *vm, int want, const char *want_host) {
  char host[64];
  int st = -1;
  for (uint64_t end = ht_ms() + WAIT_MS; ht_ms() < end; usleep(50000)) {
    st = vm_in_list(e, vm, host, sizeof host);
    if (st == want && !strcmp(host, want_host)) return true;
  }
  fprintf(stderr, "%s lists %s in state %d on '%s', not %d on '%s'\n", e->name, vm, st, host, want, want_host);
  return false;
}

static void all_see_all_up(cl_fixture *f) {
  for (int i = 0; i < HOSTS; i++)
    for (int j = 0; j < HOSTS; j++) {
      bool ok = wait_host_state(&f->h[i], f->h[j].name, "Up");
      if (!ok) dump_all(f);
      assert_true(ok);
    }
}

static void start_guest(cl_fixture *f, ht_env *e, const char *name) {
  char msg[600];
  int rc = ht_create(e, name, 32, "idle", msg, sizeof msg);
  if (rc) fprintf(stderr, "create %s: %s\n", name, msg);
  assert_int_equal(rc, 0);
  rc = ht_start(e, name, msg, sizeof msg);
  if (rc) fprintf(stderr, "start %s: %s\n", name, msg), dump_all(f);
  assert_int_equal(rc, 0);
}

/* Membership, the cluster-wide list, a failure, a graceful leave, a restart after it. */
static void test_membership(void **state) {
  cl_fixture *f = *state;
  all_see_all_up(f);
  /* A guest on h2 is listed on h2 by h1 and h3; one on h3 too. */
  start_guest(f, &f->h[1], "g2");
  start_guest(f, &f->h[2], "g3");
  assert_true(wait_vm(&f->h[0], "g2", HPVM__VM_RUN_STATE__VM_RUN_STATE_ELSEWHERE, "h2"));
  assert_true(wait_vm(&f->h[2], "g2", HPVM__VM_RUN_STATE__VM_RUN_STATE_ELSEWHERE, "h2"));
  assert_true(wait_vm(&f->h[0], "g3", HPVM__VM_RUN_STATE__VM_RUN_STATE_ELSEWHERE, "h3"));
  /* h3's hpvmd dies: Dead for h1 and h2 (a failure, not a leave), its guest Unknown. */
  ht_hpvmd_stop(&f->h[2], SIGKILL);
  assert_true(wait_host_state(&f->h[0], "h3", "Dead"));
  assert_true(wait_host_state(&f->h[1], "h3", "Dead"));
  assert_true(wait_vm(&f->h[0], "g3", HPVM__VM_RUN_STATE__VM_RUN_STATE_UNKNOWN, "h3"));
  char *log = ht_read_file(f->h[0].log);
  assert_non_null(strstr(log, "cluster: host h3 dead"));
  free(log);
  /* h2 runs g2: leave is refused without -F; after g2 stops, h2 leaves and is Left. */
  char msg[600];
  assert_int_equal(host_op(&f->h[1], HPVM__HOST_OP__HOST_OP_LEAVE, false, msg, sizeof msg), HPVM_EBUSY);
  assert_non_null(strstr(msg, "-F"));
  assert_int_equal(ht_stop(&f->h[1], "g2", HPVM__STOP_MODE__STOP_MODE_POWER_OFF, 0, msg, sizeof msg), 0);
  assert_true(ht_wait_state(&f->h[1], "g2", HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF, WAIT_MS));
  assert_int_equal(host_op(&f->h[1], HPVM__HOST_OP__HOST_OP_LEAVE, false, msg, sizeof msg), 0);
  assert_true(wait_host_state(&f->h[0], "h2", "Left"));
  /* Long past the detection time it is still Left, never Dead. */
  usleep(1500000);
  char st[64], memb[32];
  state_of(&f->h[0], "h2", st, sizeof st, memb, sizeof memb);
  assert_string_equal(st, "Left");
  assert_string_equal(memb, "left");
  /* A restart of h2's hpvmd keeps it out until hpvmhost join. */
  ht_hpvmd_stop(&f->h[1], SIGTERM);
  ht_hpvmd_start(&f->h[1]);
  usleep(1000000);
  state_of(&f->h[0], "h2", st, sizeof st, NULL, 0);
  assert_string_equal(st, "Left");
  state_of(&f->h[1], "h2", st, sizeof st, NULL, 0);
  assert_string_equal(st, "Left");
  assert_int_equal(host_op(&f->h[1], HPVM__HOST_OP__HOST_OP_JOIN, false, msg, sizeof msg), 0);
  assert_true(wait_host_state(&f->h[0], "h2", "Up"));
  assert_true(wait_host_state(&f->h[1], "h1", "Up"));
  /* The command log tells it. */
  char path[400];
  snprintf(path, sizeof path, "%s/log/command.log", f->h[0].shared);
  log = ht_read_file(path);
  assert_non_null(log);
  assert_non_null(strstr(log, "cluster: host h3 is dead"));
  assert_non_null(strstr(log, "cluster: host h2 left"));
  assert_non_null(strstr(log, "cluster: host h2 is back"));
  free(log);
}

/* A host with another cluster secret that finds the same gossip addresses (a copy of the
 * shared directory's host records) is never admitted, and admits nobody. */
static void test_wrong_secret(void **state) {
  cl_fixture *f = *state;
  all_see_all_up(f);
  char other[300], cmd[1000];
  snprintf(other, sizeof other, "%s/other", f->dir);
  snprintf(cmd, sizeof cmd, "mkdir -p %s && cp -a %s/hosts %s/", other, f->h[0].shared, other);
  assert_int_equal(system(cmd), 0);
  int port = atoi(strrchr(f->h[2].listen, ':') + 1) + 2;
  env_init(f, HOSTS, other, port);
  ht_hpvmd_start(&f->h[HOSTS]);   /* creates its own cluster (another secret) in other/ */
  /* Time for several join attempts (it retries while alone) and push/pulls. */
  usleep(2000000);
  char st[64], memb[32];
  for (int i = 0; i < HOSTS; i++) {
    state_of(&f->h[HOSTS], f->h[i].name, st, sizeof st, memb, sizeof memb);
    assert_string_equal(memb, "");   /* never a member for it */
    char *log = ht_read_file(f->h[i].log);
    assert_null(strstr(log, "host h4"));
    free(log);
    state_of(&f->h[i], f->h[(i + 1) % HOSTS].name, st, sizeof st, NULL, 0);
    assert_string_equal(st, "Up");
  }
  char *log = ht_read_file(f->h[HOSTS].log);
  assert_non_null(strstr(log, "joining the other hosts failed"));
  free(log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_membership, setup, teardown),
    cmocka_unit_test_setup_teardown(test_wrong_secret, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
