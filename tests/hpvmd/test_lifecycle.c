/* test_lifecycle.c — a guest's life under a real hpvmd: create, start, status, stop (power-off
 * and graceful: a guest that shuts down when asked, one that ignores it), the guest powering
 * itself off, a guest crash, pause and resume, clone and remove, and the one-line errors for
 * what cannot be done. */
#include <signal.h>
#include <stdio.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hpvmd_test.h"

#define ON HPVM__VM_RUN_STATE__VM_RUN_STATE_ON
#define OFF HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF
#define CRASH HPVM__VM_RUN_STATE__VM_RUN_STATE_CRASH
#define PAUSED HPVM__VM_RUN_STATE__VM_RUN_STATE_PAUSED
#define POWER_OFF HPVM__STOP_MODE__STOP_MODE_POWER_OFF
#define GRACEFUL HPVM__STOP_MODE__STOP_MODE_GRACEFUL

static void test_create_start_status_stop(void **state) {
  ht_env *e = *state;
  char msg[1200];
  assert_int_equal(ht_create(e, "web1", 32, "idle", msg, sizeof msg), 0);
  assert_int_equal(ht_state(e, "web1", NULL, NULL, 0), OFF);
  assert_int_equal(ht_start(e, "web1", msg, sizeof msg), 0);
  int pid = 0;
  assert_int_equal(ht_state(e, "web1", &pid, NULL, 0), ON);
  assert_true(pid > 0);
  assert_true(ht_pid_alive(pid));
  assert_int_equal(ht_stop(e, "web1", POWER_OFF, 0, msg, sizeof msg), 0);
  char reason[600];
  assert_int_equal(ht_state(e, "web1", &pid, reason, sizeof reason), OFF);
  assert_string_equal(reason, "powered off (hpvmstop)");
  assert_int_equal(pid, 0);
  /* Every command is in the command log, with its user and result. */
  char path[400];
  snprintf(path, sizeof path, "%s/log/command.log", e->shared);
  char *log = ht_read_file(path);
  assert_non_null(log);
  assert_non_null(strstr(log, "hpvmcreate -P web1"));
  assert_non_null(strstr(log, "hpvmstart -P web1"));
  assert_non_null(strstr(log, "hpvmstop -P web1"));
  assert_non_null(strstr(log, "\troot\t"));
  free(log);
}

static void test_guest_power_off_is_off_with_its_exit_code(void **state) {
  ht_env *e = *state;
  char msg[1200], reason[600];
  assert_int_equal(ht_create(e, "short", 32, "idle time=300ms", msg, sizeof msg), 0);
  assert_int_equal(ht_start(e, "short", msg, sizeof msg), 0);
  assert_true(ht_wait_state(e, "short", OFF, 10000));
  assert_int_equal(ht_state(e, "short", NULL, reason, sizeof reason), OFF);
  assert_string_equal(reason, "the guest powered off (exit 0)");
}

static void test_guest_crash_is_crash_with_the_reason(void **state) {
  ht_env *e = *state;
  char msg[1200], reason[600];
  /* fault=2: a stray break; hpvmk reports it and exits 1 — a failed guest, not a crash ... */
  assert_int_equal(ht_create(e, "failing", 32, "fault=2 idle", msg, sizeof msg), 0);
  assert_int_equal(ht_start(e, "failing", msg, sizeof msg), 0);
  assert_true(ht_wait_state(e, "failing", OFF, 10000));
  assert_int_equal(ht_state(e, "failing", NULL, reason, sizeof reason), OFF);
  assert_string_equal(reason, "the guest powered off (exit 1)");
  /* ... while a kernel that cannot take an interruption at all crashes the VM. */
  assert_int_equal(ht_create(e, "crasher", 32, "", msg, sizeof msg), 0);
  Hpvm__VmConfig c = HPVM__VM_CONFIG__INIT;
  c.kernel = VM_GUEST_DIR "/vmguest_crash";
  char *fields[] = {"kernel"};
  Hpvm__ModifyVmRequest m = HPVM__MODIFY_VM_REQUEST__INIT;
  m.name = "crasher";
  m.config = &c;
  m.n_fields = 1;
  m.fields = fields;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_MODIFY;
  req.modify = &m;
  assert_int_equal(ht_call(e, &req, NULL), 0);
  assert_int_equal(ht_start(e, "crasher", msg, sizeof msg), 0);
  assert_true(ht_wait_state(e, "crasher", CRASH, 10000));
  ht_state(e, "crasher", NULL, reason, sizeof reason);
  assert_non_null(strstr(reason, "guest crashed"));
}

/* Point an existing (Off) VM at another kernel. */
static void set_kernel(ht_env *e, const char *name, const char *kernel) {
  Hpvm__VmConfig c = HPVM__VM_CONFIG__INIT;
  c.kernel = (char *)kernel;
  char *fields[] = {"kernel"};
  Hpvm__ModifyVmRequest m = HPVM__MODIFY_VM_REQUEST__INIT;
  m.name = (char *)name;
  m.config = &c;
  m.n_fields = 1;
  m.fields = fields;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_MODIFY;
  req.modify = &m;
  assert_int_equal(ht_call(e, &req, NULL), 0);
}

/* A guest that never looks at the shutdown request (vmguest_spin counts with interrupts off)
 * is powered off when the timeout runs out. */
static void test_graceful_stop_powers_off_after_the_timeout(void **state) {
  ht_env *e = *state;
  char msg[1200], reason[600];
  assert_int_equal(ht_create(e, "g1", 32, "", msg, sizeof msg), 0);
  set_kernel(e, "g1", VM_GUEST_DIR "/vmguest_spin");
  assert_int_equal(ht_start(e, "g1", msg, sizeof msg), 0);
  uint64_t t0 = ht_ms();
  assert_int_equal(ht_stop(e, "g1", GRACEFUL, 400, msg, sizeof msg), 0);
  uint64_t took = ht_ms() - t0;
  assert_true(took >= 400 && took < 5000);
  assert_int_equal(ht_state(e, "g1", NULL, reason, sizeof reason), OFF);
  assert_string_equal(reason, "graceful stop timed out; powered off");
}

/* hpvmk takes the shutdown request (the console's power button, docs/platform.md): it ends its
 * workloads, says so on its console and powers off with 0, long before the timeout. */
static void test_graceful_stop_reaches_the_guest_which_shuts_down(void **state) {
  ht_env *e = *state;
  char msg[1200], reason[600], path[400];
  assert_int_equal(ht_create(e, "g2", 32, "heartbeat idle", msg, sizeof msg), 0);
  assert_int_equal(ht_start(e, "g2", msg, sizeof msg), 0);
  usleep(300 * 1000);   /* a few heartbeats: the kernel runs its workloads */
  uint64_t t0 = ht_ms();
  assert_int_equal(ht_stop(e, "g2", GRACEFUL, 30000, msg, sizeof msg), 0);
  uint64_t took = ht_ms() - t0;
  assert_true(took < 5000);
  assert_int_equal(ht_state(e, "g2", NULL, reason, sizeof reason), OFF);
  assert_string_equal(reason, "stopped gracefully (hpvmstop -g)");
  snprintf(path, sizeof path, "%s/vms/g2/console.log", e->state);
  char *log = ht_read_file(path);
  assert_non_null(log);
  assert_non_null(strstr(log, "hpvmk: shutdown requested"));
  assert_non_null(strstr(log, "PASS heartbeat"));
  assert_non_null(strstr(log, "\nPASS shutdown\n"));
  assert_null(strstr(log, "FAIL"));
  free(log);
}

static int pause_req(ht_env *e, const char *name, bool resume) {
  Hpvm__PauseVmRequest p = HPVM__PAUSE_VM_REQUEST__INIT;
  p.name = (char *)name;
  p.resume = resume;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_PAUSE;
  req.pause = &p;
  return ht_call(e, &req, NULL);
}

static void test_pause_and_resume(void **state) {
  ht_env *e = *state;
  char msg[1200];
  assert_int_equal(ht_create(e, "p1", 32, "heartbeat", msg, sizeof msg), 0);
  assert_int_equal(ht_start(e, "p1", msg, sizeof msg), 0);
  assert_int_equal(pause_req(e, "p1", false), 0);
  assert_int_equal(ht_state(e, "p1", NULL, NULL, 0), PAUSED);
  assert_int_equal(pause_req(e, "p1", false), HPVM_ESTATE);
  assert_int_equal(pause_req(e, "p1", true), 0);
  assert_int_equal(ht_state(e, "p1", NULL, NULL, 0), ON);
  assert_int_equal(ht_stop(e, "p1", POWER_OFF, 0, msg, sizeof msg), 0);
}

static void test_errors_are_one_clear_line(void **state) {
  ht_env *e = *state;
  char msg[1200];
  assert_int_equal(ht_start(e, "nosuch", msg, sizeof msg), HPVM_ENOENT);
  assert_non_null(strstr(msg, "nosuch"));
  assert_int_equal(ht_state(e, "nosuch", NULL, msg, sizeof msg), HPVM_ENOENT);
  assert_string_equal(msg, "no VM named nosuch; hpvmstatus lists them");
  assert_int_equal(ht_create(e, "dup", 32, "idle", msg, sizeof msg), 0);
  assert_int_equal(ht_create(e, "dup", 32, "idle", msg, sizeof msg), HPVM_EEXIST);
  assert_non_null(strstr(msg, "dup"));
  assert_int_equal(ht_stop(e, "dup", POWER_OFF, 0, msg, sizeof msg), HPVM_ESTATE);
  assert_string_equal(msg, "VM dup is Off; there is nothing to stop");
  assert_int_equal(ht_start(e, "dup", msg, sizeof msg), 0);
  assert_int_equal(ht_start(e, "dup", msg, sizeof msg), HPVM_ESTATE);
  assert_non_null(strstr(msg, "VM dup is already On"));
  assert_int_equal(ht_remove(e, "dup", false, msg, sizeof msg), HPVM_ESTATE);
  assert_non_null(strstr(msg, "stop it first"));
  assert_int_equal(ht_create(e, "bad name!", 32, "idle", msg, sizeof msg), HPVM_EINVAL);
  assert_non_null(strchr(msg, '!'));
  /* A missing kernel file is refused at create, by path. */
  Hpvm__VmConfig c = HPVM__VM_CONFIG__INIT;
  c.name = "nokernel";
  c.kernel = "/nonexistent/vmlinux";
  Hpvm__CreateVmRequest cr = HPVM__CREATE_VM_REQUEST__INIT;
  cr.config = &c;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_CREATE;
  req.create = &cr;
  Hpvm__Response *r;
  assert_int_equal(ht_call(e, &req, &r), HPVM_ENOENT);
  assert_string_equal(r->message, "cannot create VM nokernel: guest kernel /nonexistent/vmlinux: no such file");
  hpvmd_response_free(r);
  /* Nothing half done: the refused VMs do not exist. */
  assert_int_equal(ht_state(e, "nokernel", NULL, NULL, 0), HPVM_ENOENT);
  /* And with hpvmd gone, the client says so. */
  assert_int_equal(ht_stop(e, "dup", POWER_OFF, 0, msg, sizeof msg), 0);
  ht_hpvmd_stop(e, SIGTERM);
  assert_int_equal(ht_start(e, "dup", msg, sizeof msg), HPVM_EUNAVAIL);
  assert_non_null(strstr(msg, "hpvmd is not running"));
}

static void test_remove_force_stops_a_running_guest(void **state) {
  ht_env *e = *state;
  char msg[1200];
  int pid;
  assert_int_equal(ht_create(e, "r1", 32, "idle", msg, sizeof msg), 0);
  assert_int_equal(ht_start(e, "r1", msg, sizeof msg), 0);
  assert_int_equal(ht_state(e, "r1", &pid, NULL, 0), ON);
  assert_int_equal(ht_remove(e, "r1", true, msg, sizeof msg), 0);
  assert_int_equal(ht_state(e, "r1", NULL, NULL, 0), HPVM_ENOENT);
  usleep(100000);
  assert_false(ht_pid_alive(pid));
}

static void test_clone_copies_the_configuration_under_a_new_name(void **state) {
  ht_env *e = *state;
  char msg[1200];
  assert_int_equal(ht_create(e, "src", 48, "heartbeat", msg, sizeof msg), 0);
  Hpvm__CloneVmRequest c = HPVM__CLONE_VM_REQUEST__INIT;
  c.source = "src";
  c.name = "copy";
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_CLONE;
  req.clone = &c;
  Hpvm__Response *r;
  assert_int_equal(ht_call(e, &req, &r), 0);
  assert_string_equal(r->vm->config->name, "copy");
  assert_int_equal(r->vm->config->memory_bytes, 48u << 20);
  assert_string_equal(r->vm->config->cmdline, "heartbeat");
  assert_int_not_equal(r->vm->config->vm_number, 0);
  hpvmd_response_free(r);
  assert_int_equal(ht_call(e, &req, &r), HPVM_EEXIST);
  hpvmd_response_free(r);
  assert_int_equal(ht_start(e, "copy", msg, sizeof msg), 0);
  assert_int_equal(ht_stop(e, "copy", POWER_OFF, 0, msg, sizeof msg), 0);
}

static void test_start_that_hpvmapp_refuses_says_why_and_stays_off(void **state) {
  ht_env *e = *state;
  char msg[1200], reason[600];
  assert_int_equal(ht_create(e, "notelf", 32, "idle", msg, sizeof msg), 0);
  Hpvm__VmConfig c = HPVM__VM_CONFIG__INIT;
  c.kernel = HPVMD;   /* an x86-64 program, not an IA-64 kernel */
  char *fields[] = {"kernel"};
  Hpvm__ModifyVmRequest m = HPVM__MODIFY_VM_REQUEST__INIT;
  m.name = "notelf";
  m.config = &c;
  m.n_fields = 1;
  m.fields = fields;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_MODIFY;
  req.modify = &m;
  assert_int_equal(ht_call(e, &req, NULL), 0);
  assert_int_equal(ht_start(e, "notelf", msg, sizeof msg), HPVM_EIO);
  print_message("%s\n", msg);
  assert_non_null(strstr(msg, "VM notelf did not start: hpvmapp: "));
  assert_non_null(strstr(msg, "IA-64"));
  assert_int_equal(ht_state(e, "notelf", NULL, reason, sizeof reason), OFF);
  assert_non_null(strstr(reason, "IA-64"));
}

static void test_clone_copies_disks_sparsely_and_leaves_nothing_when_it_fails(void **state) {
  ht_env *e = *state;
  char disk[400], copy[400];
  snprintf(disk, sizeof disk, "%s/disk.img", e->dir);
  snprintf(copy, sizeof copy, "%s/copy.img", e->dir);
  int fd = open(disk, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, 8 << 20), 0);
  assert_int_equal(pwrite(fd, "DATA", 4, 5 << 20), 4);
  close(fd);
  Hpvm__VmStorageDevice dev = HPVM__VM_STORAGE_DEVICE__INIT, *devs[] = {&dev};
  dev.type = HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_DISK;
  dev.adapter = "avio_stor";
  dev.backing = HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_FILE;
  dev.path = disk;
  dev.spec = "disk:avio_stor::file:disk.img";
  Hpvm__VmConfig c = HPVM__VM_CONFIG__INIT;
  c.name = "withdisk";
  c.kernel = HPVMK;
  c.cmdline = "idle";
  c.memory_bytes = 32 << 20;
  c.n_devices = 1;
  c.devices = devs;
  Hpvm__CreateVmRequest cr = HPVM__CREATE_VM_REQUEST__INIT;
  cr.config = &c;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_CREATE;
  req.create = &cr;
  Hpvm__Response *r;
  assert_int_equal(ht_call(e, &req, &r), 0);
  hpvmd_response_free(r);
  Hpvm__DiskCopy dc = HPVM__DISK_COPY__INIT, *dcs[] = {&dc};
  dc.source_path = disk;
  dc.dest_path = copy;
  Hpvm__CloneVmRequest cl = HPVM__CLONE_VM_REQUEST__INIT;
  cl.source = "withdisk";
  cl.name = "twin";
  cl.n_copies = 1;
  cl.copies = dcs;
  req.body_case = HPVM__REQUEST__BODY_CLONE;
  req.clone = &cl;
  assert_int_equal(ht_call(e, &req, &r), 0);
  assert_string_equal(r->vm->config->devices[0]->path, copy);
  hpvmd_response_free(r);
  struct stat st;
  assert_int_equal(stat(copy, &st), 0);
  assert_int_equal(st.st_size, 8 << 20);
  assert_true(st.st_blocks * 512 < (1 << 20));   /* the holes stayed holes */
  char buf[4] = "";
  fd = open(copy, O_RDONLY);
  assert_int_equal(pread(fd, buf, 4, 5 << 20), 4);
  close(fd);
  assert_memory_equal(buf, "DATA", 4);
  /* A clone that cannot be made leaves no copy behind: here the name is taken. */
  char copy2[400];
  snprintf(copy2, sizeof copy2, "%s/copy2.img", e->dir);
  dc.dest_path = copy2;
  assert_int_equal(ht_call(e, &req, &r), HPVM_EEXIST);
  print_message("%s\n", r->message);
  hpvmd_response_free(r);
  assert_int_not_equal(stat(copy2, &st), 0);
  /* And a copy onto an existing file is refused before anything is written. */
  cl.name = "triplet";
  dc.dest_path = copy;
  assert_int_equal(ht_call(e, &req, &r), HPVM_EEXIST);
  hpvmd_response_free(r);
  assert_int_equal(ht_state(e, "triplet", NULL, NULL, 0), HPVM_ENOENT);
}

static void send_raw(ht_env *e, const void *bytes, size_t len) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%.100s", e->sock);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(write(fd, bytes, len), (ssize_t)len);
  char buf[256];
  struct timeval tv = {.tv_sec = 2};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (read(fd, buf, sizeof buf) > 0) {
  }
  close(fd);
}

static void test_hostile_clients_are_dropped_and_hpvmd_serves_on(void **state) {
  ht_env *e = *state;
  char msg[1200];
  assert_int_equal(ht_create(e, "steady", 32, "idle", msg, sizeof msg), 0);
  send_raw(e, "GET / HTTP/1.0\r\n\r\n", 18);                         /* another protocol */
  send_raw(e, "HPVMCTL\x01\xff\xff\xff\xff", 12);                   /* 4 GiB announced */
  send_raw(e, "HPVMCTL\x01\x04\x00\x00\x00\xff\xff\xff\xff", 16);  /* not a Request */
  send_raw(e, "HPVMCTL\x01\x10\x00\x00", 11);                       /* cut short */
  assert_int_equal(ht_state(e, "steady", NULL, NULL, 0), OFF);
  char *log = ht_read_file(e->log);
  assert_non_null(strstr(log, "is over the limit"));
  assert_non_null(strstr(log, "not a Request"));
  free(log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_create_start_status_stop, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_guest_power_off_is_off_with_its_exit_code, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_guest_crash_is_crash_with_the_reason, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_graceful_stop_powers_off_after_the_timeout, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_graceful_stop_reaches_the_guest_which_shuts_down, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_pause_and_resume, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_errors_are_one_clear_line, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_remove_force_stops_a_running_guest, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_clone_copies_the_configuration_under_a_new_name, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_hostile_clients_are_dropped_and_hpvmd_serves_on, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_start_that_hpvmapp_refuses_says_why_and_stays_off, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_clone_copies_disks_sparsely_and_leaves_nothing_when_it_fails, ht_setup,
                                    ht_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
