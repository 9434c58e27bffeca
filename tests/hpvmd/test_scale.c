/* test_scale.c — many at once: concurrent hpvmmodify from several processes loses no update,
 * a stale whole-configuration modify is refused, and one host starts, lists and stops 100
 * idle guests (printing the time each phase took and the host memory per idle guest). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hpvmd_test.h"

#define ON HPVM__VM_RUN_STATE__VM_RUN_STATE_ON
#define OFF HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF
#define POWER_OFF HPVM__STOP_MODE__STOP_MODE_POWER_OFF
#define ROUNDS 25

static int modify_field(ht_env *e, const char *name, const char *field, Hpvm__VmConfig *c) {
  char *fields[] = {(char *)field};
  Hpvm__ModifyVmRequest m = HPVM__MODIFY_VM_REQUEST__INIT;
  m.name = (char *)name;
  m.config = c;
  m.n_fields = 1;
  m.fields = fields;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_MODIFY;
  req.modify = &m;
  return ht_call(e, &req, NULL);
}

static Hpvm__VmStatus *status_of(ht_env *e, const char *name, Hpvm__Response **keep) {
  Hpvm__StatusRequest s = HPVM__STATUS_REQUEST__INIT;
  s.name = (char *)name;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_STATUS;
  req.status = &s;
  assert_int_equal(ht_call(e, &req, keep), 0);
  return (*keep)->vm;
}

static void test_concurrent_modifies_of_different_fields_all_land(void **state) {
  ht_env *e = *state;
  char msg[1200];
  assert_int_equal(ht_create(e, "shared", 32, "idle", msg, sizeof msg), 0);
  pid_t kids[4];
  for (int k = 0; k < 4; k++) {
    kids[k] = fork();
    if (kids[k] == 0) {
      for (int i = 1; i <= ROUNDS; i++) {
        Hpvm__VmConfig c = HPVM__VM_CONFIG__INIT;
        char text[64];
        const char *field = "label";
        snprintf(text, sizeof text, "v%d", i);
        if (k == 0) c.label = text;
        else if (k == 1) c.cmdline = text, field = "cmdline";
        else if (k == 2) c.vcpus = (uint32_t)i, field = "vcpus";
        else c.memory_bytes = (uint64_t)(32 + i) << 20, field = "memory_bytes";
        if (modify_field(e, "shared", field, &c)) _exit(1);
      }
      _exit(0);
    }
  }
  for (int k = 0; k < 4; k++) {
    int st;
    waitpid(kids[k], &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  Hpvm__Response *r;
  Hpvm__VmStatus *s = status_of(e, "shared", &r);
  assert_string_equal(s->config->label, "v25");
  assert_string_equal(s->config->cmdline, "v25");
  assert_int_equal(s->config->vcpus, ROUNDS);
  assert_int_equal(s->config->memory_bytes, (uint64_t)(32 + ROUNDS) << 20);
  assert_int_equal(s->config->config_generation, 1 + 4 * ROUNDS);
  /* A whole-configuration modify at an old generation is refused, not merged. */
  s->config->config_generation = 5;
  char *label = s->config->label;
  s->config->label = "stale";
  Hpvm__ModifyVmRequest m = HPVM__MODIFY_VM_REQUEST__INIT;
  m.name = "shared";
  m.config = s->config;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_MODIFY;
  req.modify = &m;
  Hpvm__Response *r2;
  assert_int_equal(ht_call(e, &req, &r2), HPVM_EBUSY);
  assert_non_null(strstr(r2->message, "changed by someone else"));
  hpvmd_response_free(r2);
  s->config->label = label;   /* r frees what it unpacked */
  hpvmd_response_free(r);
}

static long rss_kib_of(int pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  char *s = ht_read_file(path);
  const char *p = s ? strstr(s, "VmRSS:") : NULL;
  long kib = p ? atol(p + 6) : 0;
  free(s);
  return kib;
}

static void test_hundred_guests_start_and_stop_on_one_host(void **state) {
  ht_env *e = *state;
  enum { N = 100 };
  char msg[1200], name[32];
  for (int i = 0; i < N; i++) {
    snprintf(name, sizeof name, "idle%03d", i);
    assert_int_equal(ht_create(e, name, 64, "idle", msg, sizeof msg), 0);
  }
  uint64_t t0 = ht_ms();
  for (int i = 0; i < N; i++) {
    snprintf(name, sizeof name, "idle%03d", i);
    int rc = ht_start(e, name, msg, sizeof msg);
    if (rc) fail_msg("start %s: %s", name, msg);
  }
  uint64_t t1 = ht_ms();
  sleep(1);   /* let them boot into their idle loops */
  Hpvm__ListRequest l = HPVM__LIST_REQUEST__INIT;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_LIST;
  req.list = &l;
  Hpvm__Response *r;
  uint64_t t2 = ht_ms();
  assert_int_equal(ht_call(e, &req, &r), 0);
  uint64_t list_ms = ht_ms() - t2;
  assert_int_equal(r->list->n_vms, N);
  long rss = 0;
  for (size_t i = 0; i < r->list->n_vms; i++) {
    assert_int_equal(r->list->vms[i]->state, ON);
    rss += rss_kib_of(r->list->vms[i]->pid);
  }
  hpvmd_response_free(r);
  uint64_t t3 = ht_ms();
  for (int i = 0; i < N; i++) {
    snprintf(name, sizeof name, "idle%03d", i);
    int rc = ht_stop(e, name, POWER_OFF, 0, msg, sizeof msg);
    if (rc) fail_msg("stop %s: %s", name, msg);
  }
  uint64_t t4 = ht_ms();
  for (int i = 0; i < N; i++) {
    snprintf(name, sizeof name, "idle%03d", i);
    assert_int_equal(ht_state(e, name, NULL, NULL, 0), OFF);
  }
  print_message("%d guests (64 MiB each): started in %llu ms, listed in %llu ms, stopped in %llu ms; "
                "hpvmapp resident memory %ld KiB per idle guest\n",
                N, (unsigned long long)(t1 - t0), (unsigned long long)list_ms, (unsigned long long)(t4 - t3), rss / N);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_concurrent_modifies_of_different_fields_all_land, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_hundred_guests_start_and_stop_on_one_host, ht_setup, ht_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
