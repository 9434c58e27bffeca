/* test_cluster_status.c — cluster-wide hpvmstatus (cli/hpvmd/cluster.c): three real hpvmd on
 * loopback sharing one directory; guests on h2 and h3; on h1, hpvmstatus (the list and -P)
 * shows each with its host and what only its host knows live: the pid of the hpvmapp that
 * runs it there, instructions retired, memory, the console log path, the start time. After
 * kill -9 of h3's hpvmd the list still comes back, h3's guest Unknown on h3 and h2's guest
 * still live. How long the lists take is printed, not asserted (bench/cluster measures it).
 * Gossip probe 400 ms: the per-host query deadline is nine tenths of its timeout, 180 ms. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "multihost.h"

#define HOSTS MH_HOSTS
#define WAIT_MS 15000

typedef mh_cluster cs_fixture;

static int setup(void **state) { return mh_setup_probe(state, "cstatus", 23000, 400); }
static int teardown(void **state) { return mh_teardown(state); }

/* An hpvm command (the binaries next to hpvmd) against e's hpvmd: its stdout (free it). */
static char *cli(ht_env *e, const char *cmd, const char *a1, const char *a2, const char *a3) {
  char path[600];
  snprintf(path, sizeof path, "%s", HPVMD);
  char *slash = strrchr(path, '/');
  snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "%s", cmd);
  int p[2];
  if (pipe(p)) return NULL;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 1);
    close(p[0]), close(p[1]);
    setenv("HPVMD_SOCKET", e->sock, 1);
    execl(path, cmd, a1, a2, a3, (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  size_t cap = 65536, len = 0;
  char *out = malloc(cap);
  ssize_t n;
  while ((n = read(p[0], out + len, cap - 1 - len)) > 0) len += (size_t)n;
  out[len] = 0;
  close(p[0]);
  int st;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st)) fprintf(stderr, "%s %s: exit %d\n%s", cmd, a1 ? a1 : "", st, out);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  return out;
}

/* The line of the table that starts with vm (its copy in line). */
static bool table_line(const char *out, const char *vm, char *line, size_t len) {
  size_t vl = strlen(vm);
  for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
    if (!strncmp(p, vm, vl) && p[vl] == ' ') {
      const char *e = strchr(p, '\n');
      snprintf(line, len, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
      return true;
    }
  }
  return false;
}

static Hpvm__Response *list_of(ht_env *e, uint64_t *took_ms) {
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__ListRequest l = HPVM__LIST_REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_LIST;
  req.list = &l;
  Hpvm__Response *r = NULL;
  uint64_t t0 = ht_ms();
  int rc = ht_call(e, &req, &r);
  if (took_ms) *took_ms = ht_ms() - t0;
  assert_int_equal(rc, 0);
  assert_int_equal(r->body_case, HPVM__RESPONSE__BODY_LIST);
  return r;
}

static const Hpvm__VmStatus *row(const Hpvm__Response *r, const char *vm) {
  for (size_t i = 0; i < r->list->n_vms; i++)
    if (r->list->vms[i]->config && !strcmp(r->list->vms[i]->config->name, vm)) return r->list->vms[i];
  return NULL;
}

static Hpvm__Response *status_of(ht_env *e, const char *vm) {
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__StatusRequest s = HPVM__STATUS_REQUEST__INIT;
  s.name = (char *)vm;
  req.body_case = HPVM__REQUEST__BODY_STATUS;
  req.status = &s;
  Hpvm__Response *r = NULL;
  assert_int_equal(ht_call(e, &req, &r), 0);
  assert_int_equal(r->body_case, HPVM__RESPONSE__BODY_VM);
  return r;
}

static void start_guest(cs_fixture *f, ht_env *e, const char *name, int *pid) {
  char msg[600];
  int rc = ht_create(e, name, 32, "idle", msg, sizeof msg);
  if (rc) fprintf(stderr, "create %s: %s\n", name, msg);
  assert_int_equal(rc, 0);
  rc = ht_start(e, name, msg, sizeof msg);
  if (rc) fprintf(stderr, "start %s: %s\n", name, msg), mh_dump_all(f);
  assert_int_equal(rc, 0);
  assert_int_equal(ht_state(e, name, pid, NULL, 0), HPVM__VM_RUN_STATE__VM_RUN_STATE_ON);
  assert_true(*pid > 0);
}

/* h1 sees what host sees of vm: its pid, start time, console log on that host, and the
 * instructions retired and memory as host's hpvmd last heard them from its hpvmapp. */
static void live_on_h1(cs_fixture *f, ht_env *owner, const char *vm, int pid) {
  Hpvm__Response *o = status_of(owner, vm);
  Hpvm__Response *r = status_of(&f->h[0], vm);
  const Hpvm__VmStatus *s = r->vm;
  printf("%s on %s as h1 sees it: pid %d, retired %llu, rss %llu, console log %s\n", vm, s->host, s->pid,
         (unsigned long long)s->retired, (unsigned long long)s->rss_bytes, s->console_log);
  assert_int_equal(s->state, HPVM__VM_RUN_STATE__VM_RUN_STATE_ELSEWHERE);
  assert_string_equal(s->host, owner->name);
  assert_int_equal(s->pid, pid);
  assert_int_equal(s->started_ns, o->vm->started_ns);
  assert_true(s->started_ns > 0);
  assert_true(s->retired == o->vm->retired && s->rss_bytes == o->vm->rss_bytes);
  assert_string_equal(s->console_log, o->vm->console_log);
  assert_non_null(strstr(s->console_log, owner->state));
  hpvmd_response_free(r);
  hpvmd_response_free(o);
}

static void test_cluster_wide_status(void **state) {
  cs_fixture *f = *state;
  int pid2, pid3;
  start_guest(f, &f->h[1], "g2", &pid2);
  start_guest(f, &f->h[2], "g3", &pid3);
  live_on_h1(f, &f->h[1], "g2", pid2);
  live_on_h1(f, &f->h[2], "g3", pid3);

  /* The list: both rows live, with their hosts. */
  uint64_t took;
  Hpvm__Response *r = list_of(&f->h[0], &took);
  printf("hpvmstatus list on h1, all hosts up: %llu ms\n", (unsigned long long)took);
  assert_int_equal(row(r, "g2")->pid, pid2);
  assert_string_equal(row(r, "g2")->host, "h2");
  assert_int_equal(row(r, "g3")->pid, pid3);
  assert_string_equal(row(r, "g3")->host, "h3");
  hpvmd_response_free(r);

  /* As the commands print it: Runsysid and Host name the host; -P gives its pid there. */
  char *out = cli(&f->h[0], "hpvmstatus", NULL, NULL, NULL);
  char line[400], want[64];
  assert_non_null(strstr(out, "Memory  Runsysid Host\n"));
  assert_true(table_line(out, "g2", line, sizeof line));
  assert_non_null(strstr(line, "On (OS)"));
  assert_non_null(strstr(line, " h2 h2"));
  assert_true(table_line(out, "g3", line, sizeof line));
  assert_non_null(strstr(line, " h3 h3"));
  free(out);
  out = cli(&f->h[0], "hpvmstatus", "-P", "g3", NULL);
  assert_true(table_line(out, "g3", line, sizeof line));
  assert_non_null(strstr(line, "On (OS)   h3"));
  free(out);
  out = cli(&f->h[0], "hpvmstatus", "-V", "-P", "g3");
  assert_non_null(strstr(out, "Running on host          : h3\n"));
  snprintf(want, sizeof want, "Running on pid           : %d\n", pid3);
  assert_non_null(strstr(out, want));
  free(out);
  out = cli(&f->h[0], "hpvmstatus", "-M", "-P", "g2");
  snprintf(want, sizeof want, ":h2:%d\n", pid2);
  assert_non_null(strstr(out, want));
  free(out);
  out = cli(&f->h[0], "hpvmstatus", "--json", "-P", "g2");
  assert_non_null(strstr(out, "\"host\":\"h2\""));
  free(out);

  /* h3's hpvmd dies (its hpvmapp goes on): the list still comes back at once, g3 Unknown on h3
   * (h3 did not answer), g2 still live. */
  ht_hpvmd_stop(&f->h[2], SIGKILL);
  r = list_of(&f->h[0], &took);
  printf("hpvmstatus list on h1, h3's hpvmd just killed: %llu ms\n", (unsigned long long)took);
  assert_int_equal(row(r, "g3")->state, HPVM__VM_RUN_STATE__VM_RUN_STATE_UNKNOWN);
  assert_string_equal(row(r, "g3")->host, "h3");
  assert_non_null(strstr(row(r, "g3")->reason, "last known state On"));
  assert_int_equal(row(r, "g2")->pid, pid2);
  hpvmd_response_free(r);
  out = cli(&f->h[0], "hpvmstatus", NULL, NULL, NULL);
  assert_true(table_line(out, "g3", line, sizeof line));
  assert_non_null(strstr(line, "Unknown"));
  assert_non_null(strstr(line, " h3 h3"));
  free(out);
  out = cli(&f->h[0], "hpvmstatus", "-P", "g3", NULL);
  assert_true(table_line(out, "g3", line, sizeof line));
  assert_non_null(strstr(line, "Unknown   h3"));
  free(out);
  out = cli(&f->h[0], "hpvmstatus", "-V", "-P", "g3");
  assert_non_null(strstr(out, "Running on host          : h3\n"));
  assert_non_null(strstr(out, "Reason                   : last known state On"));
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_cluster_wide_status, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
