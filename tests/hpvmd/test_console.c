/* test_console.c — hpvmconsole's side of hpvmd: several viewers at once, each seeing the
 * guest's output; the end of the console log replayed on attach; the log kept while nobody
 * views; keyboard input reaching the guest, except from read-only viewers; events when the
 * VM starts and stops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hpvmd_test.h"

#define OFF HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF
#define ON HPVM__VM_RUN_STATE__VM_RUN_STATE_ON
#define POWER_OFF HPVM__STOP_MODE__STOP_MODE_POWER_OFF

typedef struct viewer {
  int fd;
  char seen[65536];     /* output and events (each event on a line of its own, prefixed "@") */
  size_t n;
  char replay[8192];
} viewer;

static void attach(ht_env *e, viewer *v, const char *name, bool read_only, uint32_t replay) {
  memset(v, 0, sizeof *v);
  Hpvm__ConsoleAttachRequest a = HPVM__CONSOLE_ATTACH_REQUEST__INIT;
  a.name = (char *)name;
  a.read_only = read_only;
  a.replay_bytes = replay;
  Hpvm__Response *r;
  assert_int_equal(hpvmd_console_attach(e->sock, &a, &v->fd, &r), 0);
  size_t n = r->console_replay.len < sizeof v->replay - 1 ? r->console_replay.len : sizeof v->replay - 1;
  if (n) memcpy(v->replay, r->console_replay.data, n);
  hpvmd_response_free(r);
  struct timeval tv = {.tv_usec = 100000};
  setsockopt(v->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static void add(viewer *v, const char *s, size_t len) {
  if (len > sizeof v->seen - 1 - v->n) len = sizeof v->seen - 1 - v->n;
  if (len) memcpy(v->seen + v->n, s, len);
  v->n += len;
  v->seen[v->n] = 0;
}

/* Read until what the viewer has seen contains want, or timeout_ms. */
static bool wait_for(viewer *v, const char *want, int timeout_ms) {
  uint64_t end = ht_ms() + (uint64_t)timeout_ms;
  while (!strstr(v->seen, want) && ht_ms() < end) {
    Hpvm__ConsoleData *d;
    int rc = hpvmd_console_recv(v->fd, &d);
    if (rc == 1) break;
    if (rc) continue;          /* the receive timeout: look again */
    add(v, (const char *)d->data.data, d->data.len);
    if (d->event && *d->event) {
      add(v, "@", 1);
      add(v, d->event, strlen(d->event));
      add(v, "\n", 1);
    }
    protobuf_c_message_free_unpacked(&d->base, NULL);
  }
  return strstr(v->seen, want) != NULL;
}

static long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_viewers_see_output_and_the_log_survives_detach(void **state) {
  ht_env *e = *state;
  char msg[1200], log[400];
  snprintf(log, sizeof log, "%s/vms/hb/console.log", e->state);
  assert_int_equal(ht_create(e, "hb", 32, "heartbeat", msg, sizeof msg), 0);
  viewer *v1 = calloc(1, sizeof *v1), *v2 = calloc(1, sizeof *v2);
  attach(e, v1, "hb", false, 4096);          /* before the start: sees the boot */
  assert_int_equal(ht_start(e, "hb", msg, sizeof msg), 0);
  assert_true(wait_for(v1, "@VM started", 5000));
  assert_true(wait_for(v1, "hpvmk: IA-64 guest kernel", 5000));
  assert_true(wait_for(v1, "HB 3 ", 5000));
  attach(e, v2, "hb", true, 4096);           /* later: the replay shows the boot */
  assert_non_null(strstr(v2->replay, "hpvmk: IA-64 guest kernel"));
  assert_true(wait_for(v2, "HB 6 ", 5000));
  assert_true(wait_for(v1, "HB 6 ", 5000));
  close(v1->fd);                              /* one viewer leaves, the other goes on */
  assert_true(wait_for(v2, "HB 9 ", 5000));
  close(v2->fd);
  long size = file_size(log);
  usleep(500000);                             /* nobody views: the log still grows */
  assert_true(file_size(log) > size);
  viewer *v3 = calloc(1, sizeof *v3);
  attach(e, v3, "hb", true, 0);
  assert_int_equal(ht_stop(e, "hb", POWER_OFF, 0, msg, sizeof msg), 0);
  assert_true(wait_for(v3, "@VM Off: powered off (hpvmstop)", 5000));
  close(v3->fd);
  char *all = ht_read_file(log);
  assert_non_null(strstr(all, "HB 9 "));
  free(all);
  free(v1), free(v2), free(v3);
}

static void test_input_reaches_the_guest_but_not_from_read_only_viewers(void **state) {
  ht_env *e = *state;
  char msg[1200];
  assert_int_equal(ht_create(e, "echo", 32, "", msg, sizeof msg), 0);
  Hpvm__VmConfig c = HPVM__VM_CONFIG__INIT;
  c.kernel = VM_GUEST_DIR "/vmguest_ssc_echo";
  char *fields[] = {"kernel"};
  Hpvm__ModifyVmRequest m = HPVM__MODIFY_VM_REQUEST__INIT;
  m.name = "echo";
  m.config = &c;
  m.n_fields = 1;
  m.fields = fields;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_MODIFY;
  req.modify = &m;
  assert_int_equal(ht_call(e, &req, NULL), 0);
  assert_int_equal(ht_start(e, "echo", msg, sizeof msg), 0);
  viewer *ro = calloc(1, sizeof *ro), *rw = calloc(1, sizeof *rw);
  attach(e, ro, "echo", true, 0);
  attach(e, rw, "echo", false, 0);
  assert_int_equal(hpvmd_console_send(ro->fd, "nope\n", 5), 0);
  usleep(300000);
  assert_int_equal(ht_state(e, "echo", NULL, NULL, 0), ON);   /* the newline never came */
  assert_int_equal(hpvmd_console_send(rw->fd, "hello\n", 6), 0);
  assert_true(wait_for(rw, "hello\n", 5000));
  assert_true(wait_for(ro, "hello\n", 5000));
  assert_null(strstr(ro->seen, "nope"));
  assert_true(wait_for(rw, "@VM Off: the guest powered off (exit 0)", 5000));
  close(ro->fd), close(rw->fd);
  free(ro), free(rw);
}

static void test_attach_to_an_unknown_vm_is_refused(void **state) {
  ht_env *e = *state;
  Hpvm__ConsoleAttachRequest a = HPVM__CONSOLE_ATTACH_REQUEST__INIT;
  a.name = "ghost";
  Hpvm__Response *r;
  int fd;
  assert_int_equal(hpvmd_console_attach(e->sock, &a, &fd, &r), HPVM_ENOENT);
  assert_int_equal(fd, -1);
  assert_non_null(strstr(r->message, "ghost"));
  hpvmd_response_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_viewers_see_output_and_the_log_survives_detach, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_input_reaches_the_guest_but_not_from_read_only_viewers, ht_setup,
                                    ht_teardown),
    cmocka_unit_test_setup_teardown(test_attach_to_an_unknown_vm_is_refused, ht_setup, ht_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
