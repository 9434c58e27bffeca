/* test_offline.c — offline migration between two real hpvmd (hosts "hosta" and "hostb": one
 * shared directory, their own state directories, peer listeners on loopback): the stopped
 * guest's registration moves (hostb runnable, hosta "Off (NR)" with "migrated to hostb" in
 * hpvmstatus, hpvmstart refused on hosta with the reason and the fix), -s checks without
 * moving anything, -b boots it on the target, -D drops the source's registration, -d stops a
 * running guest first, the migration is in the command log of both hosts, and what must be
 * refused is: a running guest without -o or -d, an unknown host, a guest running elsewhere,
 * a host where it is not runnable, a target without the CPU entitlement it needs. */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hpvmd_test.h"
#include "storage.h"

#define ON HPVM__VM_RUN_STATE__VM_RUN_STATE_ON
#define OFF HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF
#define ELSEWHERE HPVM__VM_RUN_STATE__VM_RUN_STATE_ELSEWHERE
#define POWER_OFF HPVM__STOP_MODE__STOP_MODE_POWER_OFF

typedef struct two {
  ht_env a, b;          /* a.dir is the test's directory; b shares a's shared directory */
  char name[2][16];
  char listen[2][32];
} two;

static int free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || getsockname(s, (struct sockaddr *)&a, &l)) return -1;
  close(s);
  return ntohs(a.sin_port);
}

static void host_start(ht_env *e, const char *name, const char *listen) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(e->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) dup2(fd, 2), dup2(fd, 1);
    execl(HPVMD, "hpvmd", "--foreground", "--shared", e->shared, "--state-dir", e->state, "--name", name, "--listen",
          listen, "--hpvmapp", HPVMAPP, (char *)NULL);
    _exit(127);
  }
  e->hpvmd = pid;
  for (uint64_t end = ht_ms() + 10000; ht_ms() < end; usleep(20000)) {
    int fd;
    char msg[600];
    if (hpvmd_connect(e->sock, &fd, msg, sizeof msg) == 0) {
      close(fd);
      return;
    }
  }
  ht_dump_log(e);
  fail_msg("hpvmd %s did not answer on %s", name, e->sock);
}

static void kill_apps(ht_env *e) {
  char dir[400];
  snprintf(dir, sizeof dir, "%s/vms", e->state);
  DIR *d = opendir(dir);
  struct dirent *de;
  while (d && (de = readdir(d))) {
    char path[1000];
    snprintf(path, sizeof path, "%s/%s/app.pid", dir, de->d_name);
    char *s = de->d_name[0] != '.' ? ht_read_file(path) : NULL;
    if (s && atoi(s) > 0) kill(atoi(s), SIGKILL);
    free(s);
  }
  if (d) closedir(d);
}

static int setup(void **state) {
  two *t = calloc(1, sizeof *t);
  snprintf(t->a.dir, sizeof t->a.dir, "/tmp/hpvm-offline-XXXXXX");
  if (!mkdtemp(t->a.dir)) return -1;
  snprintf(t->a.shared, sizeof t->a.shared, "%s/shared", t->a.dir);
  mkdir(t->a.shared, 0755);
  ht_env *h[2] = {&t->a, &t->b};
  for (int i = 0; i < 2; i++) {
    snprintf(t->name[i], sizeof t->name[i], "host%c", 'a' + i);
    snprintf(t->listen[i], sizeof t->listen[i], "127.0.0.1:%d", free_port());
    if (i) snprintf(h[i]->shared, sizeof h[i]->shared, "%s", t->a.shared);
    snprintf(h[i]->state, sizeof h[i]->state, "%s/state-%s", t->a.dir, t->name[i]);
    snprintf(h[i]->sock, sizeof h[i]->sock, "%s/hpvmd.sock", h[i]->state);
    snprintf(h[i]->log, sizeof h[i]->log, "%s/%s.log", t->a.dir, t->name[i]);
    mkdir(h[i]->state, 0755);
    host_start(h[i], t->name[i], t->listen[i]);
  }
  *state = t;
  return 0;
}

static int teardown(void **state) {
  two *t = *state;
  ht_hpvmd_stop(&t->a, SIGTERM);
  ht_hpvmd_stop(&t->b, SIGTERM);
  kill_apps(&t->a);
  kill_apps(&t->b);
  usleep(50000);
  if (!getenv("HPVMD_TEST_KEEP")) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->a.dir);
    if (system(cmd)) { /* a leftover temporary directory is harmless */ }
  }
  free(t);
  return 0;
}

typedef struct mig_opts {
  bool check_only, boot, drop, stop_first, online;
} mig_opts;

static int migrate(ht_env *e, const char *vm, const char *to, mig_opts o, char *msg, size_t len) {
  Hpvm__MigrateRequest m = HPVM__MIGRATE_REQUEST__INIT;
  m.name = (char *)vm;
  m.target = (char *)to;
  m.online = o.online;
  m.check_only = o.check_only;
  m.boot_after = o.boot;
  m.delete_source = o.drop;
  m.stop_first = o.stop_first;
  char *argv[] = {"hpvmmigrate", "-P", (char *)vm, "-h", (char *)to};
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.n_argv = 5;
  req.argv = argv;
  req.body_case = HPVM__REQUEST__BODY_MIGRATE;
  req.migrate = &m;
  Hpvm__Response *r;
  int err = ht_call(e, &req, &r);
  snprintf(msg, len, "%s", r && r->message && *r->message                                   ? r->message
                           : r && r->body_case == HPVM__RESPONSE__BODY_MIGRATE && r->migrate ? r->migrate->note
                                                                                             : "");
  hpvmd_response_free(r);
  return err;
}

/* The status fields about this host's registration. */
static int status_of(ht_env *e, const char *vm, bool *nr, char *why, size_t len) {
  Hpvm__StatusRequest s = HPVM__STATUS_REQUEST__INIT;
  s.name = (char *)vm;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_STATUS;
  req.status = &s;
  Hpvm__Response *r;
  int err = ht_call(e, &req, &r);
  assert_int_equal(err, 0);
  int st = r->vm->state;
  *nr = r->vm->not_runnable_here;
  snprintf(why, len, "%s", r->vm->not_runnable_reason);
  hpvmd_response_free(r);
  return st;
}

/* hpvmstatus -V -P vm, run as a command against host e: its output. */
static char *hpvmstatus(ht_env *e, const char *vm) {
  char bin[600], cmd[1400], out[600];
  snprintf(bin, sizeof bin, "%s", HPVMD);
  snprintf(out, sizeof out, "%s/status.out", e->state);
  snprintf(cmd, sizeof cmd, "HPVMD_SOCKET='%s' '%s/hpvmstatus' -V -P %s > '%s' 2>&1", e->sock, dirname(bin), vm, out);
  assert_int_equal(system(cmd), 0);
  return ht_read_file(out);
}

static void test_a_stopped_guest_moves_and_its_source_is_not_runnable(void **state) {
  two *t = *state;
  char msg[1600], why[600];
  bool nr;
  assert_int_equal(ht_create(&t->a, "o1", 32, "idle", msg, sizeof msg), 0);
  /* -s: the target's checks, nothing moves. */
  assert_int_equal(migrate(&t->a, "o1", "hostb", (mig_opts){.check_only = true}, msg, sizeof msg), 0);
  assert_non_null(strstr(msg, "checks passed"));
  assert_int_equal(status_of(&t->a, "o1", &nr, why, sizeof why), OFF);
  assert_false(nr);
  /* The move. */
  assert_int_equal(migrate(&t->a, "o1", "hostb", (mig_opts){0}, msg, sizeof msg), 0);
  assert_non_null(strstr(msg, "migrated offline to host hostb"));
  assert_int_equal(status_of(&t->a, "o1", &nr, why, sizeof why), OFF);
  assert_true(nr);
  assert_string_equal(why, "migrated to hostb");
  assert_int_equal(status_of(&t->b, "o1", &nr, why, sizeof why), OFF);
  assert_false(nr);
  char *text = hpvmstatus(&t->a, "o1");
  if (!strstr(text, "Off (NR)") || !strstr(text, "Not runnable because     : migrated to hostb"))
    fail_msg("hpvmstatus on hosta:\n%s", text);
  free(text);
  text = hpvmstatus(&t->b, "o1");
  assert_null(strstr(text, "Off (NR)"));
  free(text);
  /* hpvmstart on the source: refused with the reason and the fix, in one line. */
  assert_int_equal(ht_start(&t->a, "o1", msg, sizeof msg), HPVM_ESTATE);
  if (!strstr(msg, "not runnable on host hosta") || !strstr(msg, "migrated to hostb") ||
      !strstr(msg, "start it on hostb") || !strstr(msg, "hpvmmodify -P o1 -x runnable_status=enabled") ||
      strchr(msg, '\n'))
    fail_msg("hpvmstart on hosta said: %s", msg);
  /* ... and allowed where it lives now. */
  assert_int_equal(ht_start(&t->b, "o1", msg, sizeof msg), 0);
  assert_int_equal(ht_state(&t->a, "o1", NULL, NULL, 0), ELSEWHERE);
  assert_int_equal(ht_stop(&t->b, "o1", POWER_OFF, 0, msg, sizeof msg), 0);
  /* Migrating from a host where it is not runnable is refused. */
  assert_int_equal(migrate(&t->a, "o1", "hostb", (mig_opts){0}, msg, sizeof msg), HPVM_ESTATE);
  assert_non_null(strstr(msg, "not runnable on host hosta"));
  /* Both hosts logged the migration. */
  char path[400];
  snprintf(path, sizeof path, "%s/log/command.log", t->a.shared);
  char *log = ht_read_file(path);
  if (!strstr(log, "\thosta\troot\tOK\thpvmmigrate -P o1 -h hostb") ||
      !strstr(log, "\thostb\troot@hosta\tOK\thpvmmigrate -P o1 -h hostb (offline migration from host hosta)"))
    fail_msg("command log:\n%s", log);
  free(log);
  /* hpvmmodify -x runnable_status=enabled on hosta makes it runnable there again. */
  Hpvm__VmConfig c = HPVM__VM_CONFIG__INIT;
  c.not_runnable = false;
  char *fields[] = {"not_runnable", "not_runnable_reason"};
  Hpvm__ModifyVmRequest m = HPVM__MODIFY_VM_REQUEST__INIT;
  m.name = "o1";
  m.config = &c;
  m.n_fields = 2;
  m.fields = fields;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_MODIFY;
  req.modify = &m;
  assert_int_equal(ht_call(&t->a, &req, NULL), 0);
  assert_int_equal(status_of(&t->a, "o1", &nr, why, sizeof why), OFF);
  assert_false(nr);
  assert_int_equal(ht_start(&t->a, "o1", msg, sizeof msg), 0);
  assert_int_equal(ht_stop(&t->a, "o1", POWER_OFF, 0, msg, sizeof msg), 0);
}

static void test_boot_on_the_target_and_delete_the_source_registration(void **state) {
  two *t = *state;
  char msg[1600], why[600];
  bool nr;
  assert_int_equal(ht_create(&t->a, "o2", 32, "idle", msg, sizeof msg), 0);
  /* -b: it runs on hostb when the command returns. */
  assert_int_equal(migrate(&t->a, "o2", "hostb", (mig_opts){.boot = true}, msg, sizeof msg), 0);
  assert_non_null(strstr(msg, "it runs there now"));
  assert_int_equal(ht_state(&t->b, "o2", NULL, NULL, 0), ON);
  assert_int_equal(ht_state(&t->a, "o2", NULL, NULL, 0), ELSEWHERE);
  sto_options so = {.root = t->a.shared, .host = "test"};
  sto_store *s;
  assert_int_equal(sto_open(&so, &s), 0);
  sto_lease l;
  assert_int_equal(sto_lease_read(s, "o2", &l), 0);
  assert_int_equal(l.state, HPVM__LEASE_STATE__LEASE_STATE_HELD);
  assert_string_equal(l.owner, "hostb");
  /* Running there: an offline migration back needs -d (it stops it gracefully first). */
  assert_int_equal(migrate(&t->b, "o2", "hosta", (mig_opts){0}, msg, sizeof msg), HPVM_ESTATE);
  if (!strstr(msg, "with -o") || !strstr(msg, "-d")) fail_msg("refusal without -d: %s", msg);
  /* -d -D: stopped, moved back, hostb's registration gone. */
  assert_int_equal(migrate(&t->b, "o2", "hosta", (mig_opts){.stop_first = true, .drop = true}, msg, sizeof msg), 0);
  assert_int_equal(ht_state(&t->b, "o2", NULL, NULL, 0), OFF);
  assert_int_equal(sto_lease_read(s, "o2", &l), 0);
  assert_int_equal(l.state, HPVM__LEASE_STATE__LEASE_STATE_FREE);
  Hpvm__VmConfig *c;
  assert_int_equal(sto_vm_load(s, "o2", &c), 0);
  assert_int_equal(c->n_registrations, 1);
  assert_string_equal(c->registrations[0]->host, "hosta");
  assert_true(c->registrations[0]->runnable);
  sto_vm_free(c);
  sto_close(s);
  assert_int_equal(status_of(&t->b, "o2", &nr, why, sizeof why), OFF);
  assert_true(nr);
  assert_string_equal(why, "not registered on this host");
  assert_int_equal(ht_start(&t->b, "o2", msg, sizeof msg), HPVM_ESTATE);
  assert_non_null(strstr(msg, "not registered on host hostb"));
  assert_int_equal(ht_start(&t->a, "o2", msg, sizeof msg), 0);
  assert_int_equal(ht_stop(&t->a, "o2", POWER_OFF, 0, msg, sizeof msg), 0);
}

static void test_what_cannot_move_is_refused_and_nothing_moves(void **state) {
  two *t = *state;
  char msg[1600], why[600];
  bool nr;
  assert_int_equal(ht_create(&t->a, "o3", 32, "idle", msg, sizeof msg), 0);
  assert_int_equal(migrate(&t->a, "o3", "nosuchhost", (mig_opts){0}, msg, sizeof msg), HPVM_ENOENT);
  assert_non_null(strstr(msg, "no host named nosuchhost"));
  assert_int_equal(migrate(&t->a, "o3", "hosta", (mig_opts){0}, msg, sizeof msg), HPVM_EINVAL);
  /* Running on hostb: not hosta's to move. */
  assert_int_equal(ht_start(&t->b, "o3", msg, sizeof msg), 0);
  assert_int_equal(migrate(&t->a, "o3", "hostb", (mig_opts){0}, msg, sizeof msg), HPVM_ESTATE);
  assert_non_null(strstr(msg, "runs on host hostb"));
  assert_int_equal(ht_stop(&t->b, "o3", POWER_OFF, 0, msg, sizeof msg), 0);
  /* A target whose cores are promised to its own guests: a 2-vCPU guest at 100 % fills a
   * 2-core host (more cores: more of them). */
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  char big[32];
  for (long i = 0; i * 2 < cores; i++) {
    snprintf(big, sizeof big, "big%ld", i);
    Hpvm__VmConfig c = HPVM__VM_CONFIG__INIT;
    Hpvm__VmEntitlement ent = HPVM__VM_ENTITLEMENT__INIT;
    ent.unit = HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT;
    ent.value = 100;
    c.name = big;
    c.memory_bytes = 32ull << 20;
    c.vcpus = cores - 2 * i >= 2 ? 2 : 1;
    c.kernel = HPVMK;
    c.cmdline = "idle";
    c.entitlement = &ent;
    Hpvm__CreateVmRequest cr = HPVM__CREATE_VM_REQUEST__INIT;
    cr.config = &c;
    Hpvm__Request req = HPVM__REQUEST__INIT;
    req.body_case = HPVM__REQUEST__BODY_CREATE;
    req.create = &cr;
    assert_int_equal(ht_call(&t->b, &req, NULL), 0);
    assert_int_equal(ht_start(&t->b, big, msg, sizeof msg), 0);
  }
  assert_int_equal(migrate(&t->a, "o3", "hostb", (mig_opts){0}, msg, sizeof msg), HPVM_EBUSY);
  assert_non_null(strstr(msg, "not enough CPU entitlement on host hostb"));
  assert_non_null(strstr(msg, "nothing moved"));
  assert_int_equal(status_of(&t->a, "o3", &nr, why, sizeof why), OFF);
  assert_false(nr);
  assert_int_equal(ht_start(&t->a, "o3", msg, sizeof msg), 0);   /* still runnable here */
  /* Running here, without -d: refused with the hint. */
  assert_int_equal(migrate(&t->a, "o3", "hostb", (mig_opts){0}, msg, sizeof msg), HPVM_ESTATE);
  assert_non_null(strstr(msg, "migrate it live with -o"));
  assert_int_equal(ht_state(&t->a, "o3", NULL, NULL, 0), ON);
  assert_int_equal(ht_stop(&t->a, "o3", POWER_OFF, 0, msg, sizeof msg), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_a_stopped_guest_moves_and_its_source_is_not_runnable, setup, teardown),
    cmocka_unit_test_setup_teardown(test_boot_on_the_target_and_delete_the_source_registration, setup, teardown),
    cmocka_unit_test_setup_teardown(test_what_cannot_move_is_refused_and_nothing_moves, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
