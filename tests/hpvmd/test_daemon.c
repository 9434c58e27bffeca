/* test_daemon.c — hpvmd as a program: a config file instead of flags, detaching (the command
 * returns once the daemon serves), one hpvmd per state directory, bad options and settings
 * refused with one line, and boot mode auto starting guests when hpvmd starts. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hpvmd_test.h"

#define ON HPVM__VM_RUN_STATE__VM_RUN_STATE_ON
#define OFF HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF

/* Run a shell command; its exit status, and its output (stdout and stderr) in out. */
static int run(const char *cmd, char *out, size_t len) {
  char full[2048];
  snprintf(full, sizeof full, "%s 2>&1", cmd);
  FILE *p = popen(full, "r");
  size_t n = p ? fread(out, 1, len - 1, p) : 0;
  out[n] = 0;
  int st = p ? pclose(p) : -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_bad_options_and_settings_are_refused_with_one_line(void **state) {
  ht_env *e = *state;
  char cmd[1200], out[2000];
  assert_int_equal(run(HPVMD " --foreground", out, sizeof out), 2);
  assert_string_equal(out, "hpvmd: no shared storage directory; give --shared DIR\n");
  snprintf(cmd, sizeof cmd, HPVMD " --shared %s --listen nowhere", e->shared);
  assert_int_equal(run(cmd, out, sizeof out), 2);
  assert_string_equal(out, "hpvmd: --listen nowhere: give ADDR:PORT, e.g. 10.0.0.5:7410 or [fd00::5]:7410\n");
  snprintf(cmd, sizeof cmd, HPVMD " --shared %s --bogus 1", e->shared);
  assert_int_equal(run(cmd, out, sizeof out), 2);
  assert_string_equal(out, "hpvmd: unknown option --bogus; see hpvmd --help\n");
  char conf[400];
  snprintf(conf, sizeof conf, "%s/bad.conf", e->dir);
  FILE *f = fopen(conf, "w");
  fprintf(f, "# a comment\nshared = %s\ncolour = blue\n", e->shared);
  fclose(f);
  snprintf(cmd, sizeof cmd, HPVMD " --config %s", conf);
  assert_int_equal(run(cmd, out, sizeof out), 2);
  char want[600];
  snprintf(want, sizeof want, "hpvmd: %s line 3: unknown setting 'colour'; see hpvmd --help\n", conf);
  assert_string_equal(out, want);
  /* One hpvmd per state directory (the harness's own runs). */
  snprintf(cmd, sizeof cmd, HPVMD " --foreground --shared %s --state-dir %s", e->shared, e->state);
  assert_int_equal(run(cmd, out, sizeof out), 1);
  snprintf(want, sizeof want, "hpvmd: another hpvmd (pid %d) already runs with state directory %s\n", (int)e->hpvmd,
           e->state);
  assert_string_equal(out, want);
}

static void test_config_file_and_detached_daemon(void **state) {
  ht_env *e = *state;
  ht_hpvmd_stop(e, SIGTERM);
  char conf[400], cmd[1200], out[2000];
  snprintf(conf, sizeof conf, "%s/hpvmd.conf", e->dir);
  FILE *f = fopen(conf, "w");
  fprintf(f, "shared = %s\nstate-dir = %s\nname = confhost\nlisten = 127.0.0.1:7410\nhpvmapp = %s\n"
             "stop-timeout = 7\n", e->shared, e->state, HPVMAPP);
  fclose(f);
  snprintf(cmd, sizeof cmd, HPVMD " --config %s", conf);
  uint64_t t0 = ht_ms();
  assert_int_equal(run(cmd, out, sizeof out), 0);      /* returns once it serves */
  assert_true(ht_ms() - t0 < 10000);
  Hpvm__InfoRequest i = HPVM__INFO_REQUEST__INIT;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_INFO;
  req.info = &i;
  Hpvm__Response *r;
  assert_int_equal(ht_call(e, &req, &r), 0);           /* no retry: it already listens */
  assert_string_equal(r->info->host, "confhost");
  assert_string_equal(r->info->listen, "127.0.0.1:7410");
  assert_string_equal(r->info->state_dir, e->state);
  int pid = r->info->pid;
  hpvmd_response_free(r);
  assert_int_not_equal(pid, 0);
  assert_int_equal(getsid(pid), pid);                   /* detached: a session of its own */
  assert_int_equal(kill(pid, SIGTERM), 0);
  uint64_t end = ht_ms() + 5000;
  while (ht_pid_alive(pid) && ht_ms() < end) usleep(20000);
  assert_false(ht_pid_alive(pid));
  /* Flags win over the file. */
  snprintf(cmd, sizeof cmd, HPVMD " --config %s --name flaghost", conf);
  assert_int_equal(run(cmd, out, sizeof out), 0);
  assert_int_equal(ht_call(e, &req, &r), 0);
  assert_string_equal(r->info->host, "flaghost");
  pid = r->info->pid;
  hpvmd_response_free(r);
  kill(pid, SIGTERM);
  end = ht_ms() + 5000;
  while (ht_pid_alive(pid) && ht_ms() < end) usleep(20000);
}

static void test_boot_mode_auto_starts_the_guest_with_hpvmd(void **state) {
  ht_env *e = *state;
  char msg[1200];
  assert_int_equal(ht_create(e, "auto1", 32, "idle", msg, sizeof msg), 0);
  assert_int_equal(ht_create(e, "manual1", 32, "idle", msg, sizeof msg), 0);
  Hpvm__VmConfig c = HPVM__VM_CONFIG__INIT;
  c.boot = HPVM__VM_BOOT_MODE__VM_BOOT_MODE_AUTO;
  char *fields[] = {"boot"};
  Hpvm__ModifyVmRequest m = HPVM__MODIFY_VM_REQUEST__INIT;
  m.name = "auto1";
  m.config = &c;
  m.n_fields = 1;
  m.fields = fields;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_MODIFY;
  req.modify = &m;
  assert_int_equal(ht_call(e, &req, NULL), 0);
  ht_hpvmd_stop(e, SIGTERM);
  ht_hpvmd_start(e);
  assert_true(ht_wait_state(e, "auto1", ON, 5000));
  assert_int_equal(ht_state(e, "manual1", NULL, NULL, 0), OFF);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_bad_options_and_settings_are_refused_with_one_line, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_config_file_and_detached_daemon, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_boot_mode_auto_starts_the_guest_with_hpvmd, ht_setup, ht_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
