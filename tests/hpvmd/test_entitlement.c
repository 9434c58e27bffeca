/* test_entitlement.c — CPU entitlement through hpvmd: every guest of the host is admitted to
 * one scheduler (STATE/sched.shm); a start whose entitlement the cores cannot guarantee is
 * refused with the figures and leaves the VM Off; hpvmmodify of a running guest's entitlement
 * applies to it at once, and a raise the host cannot guarantee is refused and not stored. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hpvmd_test.h"
#include "vm.h"

#define ON HPVM__VM_RUN_STATE__VM_RUN_STATE_ON
#define OFF HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF
#define POWER_OFF HPVM__STOP_MODE__STOP_MODE_POWER_OFF

static unsigned host_cores(void) {
  cpu_set_t set;
  return sched_getaffinity(0, sizeof set, &set) == 0 ? (unsigned)CPU_COUNT(&set) : 1;
}

/* A VM with one vCPU per host core at pct % each: it takes pct % of the whole host. */
static int create_wide(ht_env *e, const char *name, unsigned pct, char *msg, size_t len) {
  Hpvm__VmEntitlement ent = HPVM__VM_ENTITLEMENT__INIT;
  ent.unit = HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT;
  ent.value = pct;
  Hpvm__VmConfig c = HPVM__VM_CONFIG__INIT;
  c.name = (char *)name;
  c.kernel = HPVMK;
  c.cmdline = "idle";
  c.memory_bytes = 32 << 20;
  c.vcpus = host_cores();
  c.entitlement = &ent;
  Hpvm__CreateVmRequest cr = HPVM__CREATE_VM_REQUEST__INIT;
  cr.config = &c;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_CREATE;
  req.create = &cr;
  Hpvm__Response *r;
  int rc = ht_call(e, &req, &r);
  snprintf(msg, len, "%s", r->message);
  hpvmd_response_free(r);
  return rc;
}

static int set_entitlement(ht_env *e, const char *name, unsigned pct, char *msg, size_t len) {
  Hpvm__VmEntitlement ent = HPVM__VM_ENTITLEMENT__INIT;
  ent.unit = HPVM__VM_ENTITLEMENT__UNIT__UNIT_PERCENT;
  ent.value = pct;
  Hpvm__VmConfig c = HPVM__VM_CONFIG__INIT;
  c.entitlement = &ent;
  char *fields[] = {"entitlement"};
  Hpvm__ModifyVmRequest m = HPVM__MODIFY_VM_REQUEST__INIT;
  m.name = (char *)name;
  m.config = &c;
  m.n_fields = 1;
  m.fields = fields;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_MODIFY;
  req.modify = &m;
  Hpvm__Response *r;
  int rc = ht_call(e, &req, &r);
  snprintf(msg, len, "%s", r->message);
  hpvmd_response_free(r);
  return rc;
}

/* The entitlement the host scheduler holds for vCPU 0 of the named VM (0: not admitted). */
static unsigned admitted(ht_env *e, const char *name) {
  vm_sched *s;
  char msg[300];
  if (vm_sched_open(e->state, NULL, &s, msg, sizeof msg)) return 0;
  vm_sched_entry list[VM_SCHED_MAX_VCPUS];
  unsigned n = vm_sched_list(s, list, VM_SCHED_MAX_VCPUS), got = 0;
  for (unsigned i = 0; i < n; i++)
    if (!strcmp(list[i].name, name) && list[i].vcpu == 0) got = list[i].usage.entitlement;
  vm_sched_close(s);
  return got;
}

static unsigned stored(ht_env *e, const char *name) {
  Hpvm__StatusRequest s = HPVM__STATUS_REQUEST__INIT;
  s.name = (char *)name;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_STATUS;
  req.status = &s;
  Hpvm__Response *r;
  assert_int_equal(ht_call(e, &req, &r), 0);
  unsigned v = r->vm->config->entitlement->value;
  hpvmd_response_free(r);
  return v;
}

static void test_start_beyond_the_hosts_entitlement_is_refused_with_the_figures(void **state) {
  ht_env *e = *state;
  if (host_cores() > 64) skip();
  char msg[1200];
  assert_int_equal(create_wide(e, "big", 60, msg, sizeof msg), 0);
  assert_int_equal(create_wide(e, "second", 60, msg, sizeof msg), 0);
  assert_int_equal(ht_start(e, "big", msg, sizeof msg), 0);
  assert_int_equal(admitted(e, "big"), 60);
  assert_int_equal(ht_start(e, "second", msg, sizeof msg), HPVM_EIO);
  print_message("%s\n", msg);
  assert_non_null(strstr(msg, "VM second did not start: hpvmapp: cannot guarantee"));
  assert_non_null(strstr(msg, "x 60% ="));
  char free_text[64];
  snprintf(free_text, sizeof free_text, "%u%% is free", 40 * host_cores());
  assert_non_null(strstr(msg, free_text));
  assert_int_equal(ht_state(e, "second", NULL, NULL, 0), OFF);
  /* Once the first is off, its share is free again. */
  assert_int_equal(ht_stop(e, "big", POWER_OFF, 0, msg, sizeof msg), 0);
  assert_int_equal(ht_start(e, "second", msg, sizeof msg), 0);
  assert_int_equal(admitted(e, "second"), 60);
}

static void test_entitlement_of_a_running_guest_changes_live(void **state) {
  ht_env *e = *state;
  if (host_cores() > 64) skip();
  char msg[1200];
  assert_int_equal(create_wide(e, "a", 40, msg, sizeof msg), 0);
  assert_int_equal(create_wide(e, "b", 30, msg, sizeof msg), 0);
  assert_int_equal(ht_start(e, "a", msg, sizeof msg), 0);
  assert_int_equal(ht_start(e, "b", msg, sizeof msg), 0);
  assert_int_equal(set_entitlement(e, "a", 70, msg, sizeof msg), 0);   /* 70 + 30 = 100 % */
  assert_int_equal(admitted(e, "a"), 70);
  assert_int_equal(stored(e, "a"), 70);
  assert_int_equal(set_entitlement(e, "a", 80, msg, sizeof msg), HPVM_EBUSY);
  print_message("%s\n", msg);
  assert_non_null(strstr(msg, "cannot change the CPU entitlement of running VM a: "));
  assert_int_equal(admitted(e, "a"), 70);
  assert_int_equal(stored(e, "a"), 70);   /* refused: not stored either */
  assert_int_equal(set_entitlement(e, "a", 20, msg, sizeof msg), 0);
  assert_int_equal(admitted(e, "a"), 20);
  assert_int_equal(stored(e, "a"), 20);
  /* An Off VM's entitlement is only stored; it counts at its start. */
  assert_int_equal(ht_stop(e, "b", POWER_OFF, 0, msg, sizeof msg), 0);
  assert_int_equal(set_entitlement(e, "b", 90, msg, sizeof msg), 0);
  assert_int_equal(ht_start(e, "b", msg, sizeof msg), HPVM_EIO);       /* 20 + 90 > 100 */
  assert_int_equal(set_entitlement(e, "b", 80, msg, sizeof msg), 0);
  assert_int_equal(ht_start(e, "b", msg, sizeof msg), 0);
  assert_int_equal(admitted(e, "b"), 80);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_start_beyond_the_hosts_entitlement_is_refused_with_the_figures, ht_setup,
                                    ht_teardown),
    cmocka_unit_test_setup_teardown(test_entitlement_of_a_running_guest_changes_live, ht_setup, ht_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
