/* test_cli_cmds.c — the hpvm commands (cli/hpvm/cmds.c) against a stand-in for hpvmd: which
 * requests each command sends, what it prints, its exit status, and above all what it does
 * NOT send when something is wrong (a refused command changes nothing): usage errors, bad
 * specs, missing backing files, more cores or memory than the host has. Also: hpvmmodify
 * retrying when another command changed the record, hpvmclone undoing the clone when its
 * options cannot be applied, -p numbers, --json errors, and hpvmdevmgmt -S. The real daemon
 * is exercised by test_cli_integ.c. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"

/* ---- A stand-in hpvmd ----------------------------------------------------------------------- */

typedef struct fake {
  Hpvm__Request *reqs[64];             /* copies of what was sent */
  int nreqs;
  Hpvm__VmConfig *vms[8];              /* the "shared directory" */
  int states[8];
  int nvms;
  uint32_t cpus;
  uint64_t mem;
  int busy;                            /* answer this many modifies with EBUSY first */
  int fail_case;                       /* a request body to refuse... */
  int fail_code;                       /* ...with this code */
  int fail_after;                      /* ...after letting this many of them through */
} fake;

static Hpvm__Response *finish(Hpvm__Response *r) {
  /* A heap copy, as hpvmd_call would hand over. */
  size_t n = hpvm__response__get_packed_size(r);
  uint8_t *b = malloc(n ? n : 1);
  hpvm__response__pack(r, b);
  Hpvm__Response *out = hpvm__response__unpack(NULL, n, b);
  free(b);
  return out;
}

static int find(fake *k, const char *name) {
  for (int i = 0; i < k->nvms; i++)
    if (k->vms[i] && !strcmp(k->vms[i]->name, name)) return i;
  return -1;
}

static Hpvm__VmStatus *status_of(fake *k, int i, Hpvm__VmStatus *st) {
  hpvm__vm_status__init(st);
  st->config = k->vms[i];
  st->state = k->states[i];
  return st;
}

static int fake_call(void *ctx, const Hpvm__Request *req, Hpvm__Response **resp) {
  fake *k = ctx;
  size_t n = hpvm__request__get_packed_size(req);
  uint8_t *b = malloc(n ? n : 1);
  hpvm__request__pack(req, b);
  k->reqs[k->nreqs++] = hpvm__request__unpack(NULL, n, b);
  free(b);

  Hpvm__Response r = HPVM__RESPONSE__INIT;
  Hpvm__HostInfo info = HPVM__HOST_INFO__INIT;
  Hpvm__VmList list = HPVM__VM_LIST__INIT;
  Hpvm__VmStatus sts[8], *stp[8], one;
  char msg[200] = "";
  if ((int)req->body_case == k->fail_case && k->fail_after-- <= 0) {
    r.error = k->fail_code;
    r.message = "refused by the stand-in";
    *resp = finish(&r);
    return r.error;
  }
  switch (req->body_case) {
  case HPVM__REQUEST__BODY_INFO:
    info.host = "hostA";
    info.shared_dir = "/shared";
    info.host_cpus = k->cpus;
    info.host_memory_bytes = k->mem;
    r.body_case = HPVM__RESPONSE__BODY_INFO;
    r.info = &info;
    break;
  case HPVM__REQUEST__BODY_LIST:
    for (int i = 0; i < k->nvms; i++) stp[list.n_vms++] = status_of(k, i, &sts[i]);
    list.vms = stp;
    r.body_case = HPVM__RESPONSE__BODY_LIST;
    r.list = &list;
    break;
  case HPVM__REQUEST__BODY_STATUS:
  case HPVM__REQUEST__BODY_START:
  case HPVM__REQUEST__BODY_STOP:
  case HPVM__REQUEST__BODY_REMOVE: {
    const char *name = req->body_case == HPVM__REQUEST__BODY_STATUS ? req->status->name
                       : req->body_case == HPVM__REQUEST__BODY_START ? req->start->name
                       : req->body_case == HPVM__REQUEST__BODY_STOP  ? req->stop->name
                                                                     : req->remove->name;
    int i = find(k, name);
    if (i < 0) {
      r.error = HPVM_ENOENT;
      snprintf(msg, sizeof msg, "no VM named %s in /shared; hpvmstatus lists them", name);
      break;
    }
    if (req->body_case == HPVM__REQUEST__BODY_START) k->states[i] = HPVM__VM_RUN_STATE__VM_RUN_STATE_ON;
    if (req->body_case == HPVM__REQUEST__BODY_STOP) k->states[i] = HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF;
    if (req->body_case == HPVM__REQUEST__BODY_REMOVE) {
      cli_vm_free(k->vms[i]);
      k->vms[i] = k->vms[--k->nvms];
      k->states[i] = k->states[k->nvms];
      break;
    }
    r.body_case = HPVM__RESPONSE__BODY_VM;
    r.vm = status_of(k, i, &one);
    break;
  }
  case HPVM__REQUEST__BODY_CREATE:
  case HPVM__REQUEST__BODY_CLONE: {
    bool create = req->body_case == HPVM__REQUEST__BODY_CREATE;
    const char *name = create ? req->create->config->name : req->clone->name;
    if (find(k, name) >= 0) {
      r.error = HPVM_EEXIST;
      snprintf(msg, sizeof msg, "a VM named %s already exists", name);
      break;
    }
    Hpvm__VmConfig *c;
    if (create) c = cli_vm_copy(req->create->config);
    else {
      int s = find(k, req->clone->source);
      assert_true(s >= 0);
      c = cli_vm_copy(k->vms[s]);
      cli_str_set(&c->name, name);
      for (size_t d = 0; d < c->n_devices; d++)
        for (size_t x = 0; x < req->clone->n_copies; x++)
          if (!strcmp(c->devices[d]->path, req->clone->copies[x]->source_path))
            cli_str_set(&c->devices[d]->path, req->clone->copies[x]->dest_path);
    }
    c->vm_number = (uint32_t)k->nvms + 1;
    c->config_generation = 1;
    k->states[k->nvms] = HPVM__VM_RUN_STATE__VM_RUN_STATE_OFF;
    k->vms[k->nvms++] = c;
    r.body_case = HPVM__RESPONSE__BODY_VM;
    r.vm = status_of(k, k->nvms - 1, &one);
    break;
  }
  case HPVM__REQUEST__BODY_MODIFY: {
    int i = find(k, req->modify->name);
    if (i < 0) {
      r.error = HPVM_ENOENT;
      snprintf(msg, sizeof msg, "no VM named %s", req->modify->name);
      break;
    }
    if (k->busy > 0) {
      k->busy--;
      k->vms[i]->config_generation++; /* "someone else" wrote it */
      r.error = HPVM_EBUSY;
      snprintf(msg, sizeof msg, "the configuration changed since it was read");
      break;
    }
    uint64_t gen = k->vms[i]->config_generation;
    cli_vm_free(k->vms[i]);
    k->vms[i] = cli_vm_copy(req->modify->config);
    k->vms[i]->config_generation = gen + 1;
    r.body_case = HPVM__RESPONSE__BODY_VM;
    r.vm = status_of(k, i, &one);
    break;
  }
  default:
    r.error = HPVM_ENOTSUP;
  }
  if (*msg) r.message = msg;
  *resp = finish(&r);
  return r.error;
}

static void fake_free(void *ctx, Hpvm__Response *r) {
  (void)ctx;
  hpvm__response__free_unpacked(r, NULL);
}

/* ---- Running a command ------------------------------------------------------------------------- */

typedef struct result {
  int status;
  char *out, *err;
} result;

static fake K;
static char tmpdir[64];

static result run_cmd(const char *line) {
  char buf[2048], *argv[64];
  int argc = 0;
  snprintf(buf, sizeof buf, "%s", line);
  /* Words split at blanks; "double quotes" group. */
  for (char *p = buf; *p;) {
    while (*p == ' ') p++;
    if (!*p) break;
    if (*p == '"') {
      argv[argc++] = ++p;
      p = strchr(p, '"');
      *p++ = 0;
    } else {
      argv[argc++] = p;
      p += strcspn(p, " ");
      if (*p) *p++ = 0;
    }
  }
  argv[argc] = NULL;
  result r = {0};
  size_t ol, el;
  FILE *out = open_memstream(&r.out, &ol), *err = open_memstream(&r.err, &el);
  const char *canonical;
  cli_cmd_fn fn = cli_command(argv[0], &canonical);
  assert_non_null(fn);
  cli_ctx c = {canonical, stdin, out, err, false, {&K, fake_call, fake_free, NULL}};
  r.status = fn(&c, argc, argv);
  fclose(out);
  fclose(err);
  return r;
}

static void result_free(result *r) {
  free(r->out);
  free(r->err);
}

/* Exactly one line on stderr, equal to want. */
static void assert_one_error_line(const result *r, const char *want) {
  size_t n = strlen(r->err);
  if (!n || r->err[n - 1] != '\n' || strchr(r->err, '\n') != r->err + n - 1)
    fail_msg("stderr is not one line: \"%s\"", r->err);
  if (strncmp(r->err, want, strlen(want)) || strlen(want) != n - 1) fail_msg("stderr \"%s\" is not \"%s\"", r->err, want);
}

static int count_sent(int body) {
  int n = 0;
  for (int i = 0; i < K.nreqs; i++) n += (int)K.reqs[i]->body_case == body;
  return n;
}

static Hpvm__Request *last_sent(int body) {
  for (int i = K.nreqs - 1; i >= 0; i--)
    if ((int)K.reqs[i]->body_case == body) return K.reqs[i];
  return NULL;
}

static int reset(void **state) {
  (void)state;
  for (int i = 0; i < K.nreqs; i++) hpvm__request__free_unpacked(K.reqs[i], NULL);
  for (int i = 0; i < K.nvms; i++) cli_vm_free(K.vms[i]);
  memset(&K, 0, sizeof K);
  K.cpus = 4;
  K.mem = 16ull << 30;
  return 0;
}

static const char *disk_file(const char *name, long size) {
  static char p[4][256];
  static int k;
  char *path = p[k++ % 4];
  snprintf(path, 256, "%s/%s", tmpdir, name);
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, size), 0);
  close(fd);
  return path;
}

static int setup_all(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/test_cli_cmds.XXXXXX");
  assert_non_null(mkdtemp(tmpdir));
  return reset(state);
}

static int teardown_all(void **state) {
  reset(state);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  assert_int_equal(system(cmd), 0);
  return 0;
}

/* ---- hpvmcreate ------------------------------------------------------------------------------- */

static void test_create_sends_the_config_and_prints_nothing(void **state) {
  reset(state);
  char line[512];
  snprintf(line, sizeof line, "hpvmcreate -P web1 -O linux -c 2 -r 4G -e 20 -a disk:avio_stor::file:%s",
           disk_file("web1.img", 1 << 20));
  result r = run_cmd(line);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "");
  assert_string_equal(r.err, "");
  Hpvm__Request *c = last_sent(HPVM__REQUEST__BODY_CREATE);
  assert_non_null(c);
  assert_string_equal(c->create->config->name, "web1");
  assert_int_equal(c->create->config->vcpus, 2);
  assert_int_equal(c->create->config->memory_bytes, 4ull << 30);
  assert_int_equal(c->create->config->n_devices, 1);
  /* The command line goes along for hpvmd's command log. */
  assert_int_equal(c->n_argv, 13);
  assert_string_equal(c->argv[0], "hpvmcreate");
  assert_string_equal(c->argv[2], "web1");
  result_free(&r);
}

static void test_create_usage_errors_send_nothing(void **state) {
  const char *cases[][2] = {
    {"hpvmcreate", "hpvmcreate: name the new virtual machine with -P name; see --help"},
    {"hpvmcreate -P", "hpvmcreate: option -P needs a value (see --help)"},
    {"hpvmcreate -P x -q", "hpvmcreate: unknown option -q (see --help)"},
    {"hpvmcreate -P x -c 0", "hpvmcreate: -c 0: the number of vCPUs is a whole number from 1"},
    {"hpvmcreate -P x -a disk:foo::file:/x", "hpvmcreate: resource spec 'disk:foo::file:/x': unknown storage adapter 'foo' (use avio_stor or scsi)"},
    {"hpvmcreate -P x extra", "hpvmcreate: unexpected argument; name the VM with -P (see --help)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    reset(state);
    result r = run_cmd(cases[i][0]);
    assert_int_equal(r.status, 2);
    assert_one_error_line(&r, cases[i][1]);
    assert_int_equal(K.nreqs, 0);
    result_free(&r);
  }
}

static void test_create_refuses_a_missing_backing_file_before_hpvmd_creates_anything(void **state) {
  reset(state);
  char line[512];
  snprintf(line, sizeof line, "hpvmcreate -P web1 -a disk:avio_stor::file:%s/none.img", tmpdir);
  result r = run_cmd(line);
  assert_int_equal(r.status, 1);
  char want[600];
  snprintf(want, sizeof want,
           "hpvmcreate: ERROR (web1): backing file %s/none.img does not exist; create it with: hpvmdevmgmt -S SIZE "
           "%s/none.img", tmpdir, tmpdir);
  assert_one_error_line(&r, want);
  assert_int_equal(count_sent(HPVM__REQUEST__BODY_CREATE), 0);
  result_free(&r);
}

static void test_create_refuses_more_than_the_host_has(void **state) {
  reset(state);
  K.cpus = 2;
  K.mem = 8ull << 30;
  result r = run_cmd("hpvmcreate -P big -c 4");
  assert_int_equal(r.status, 1);
  assert_one_error_line(&r, "hpvmcreate: ERROR (big): 4 vCPUs are more than this host's 2 cores; lower -c to at most 2");
  result_free(&r);
  r = run_cmd("hpvmcreate -P big -r 64G");
  assert_int_equal(r.status, 1);
  assert_one_error_line(&r, "hpvmcreate: ERROR (big): 64 GB of memory is more than this host has (8 GB); lower -r");
  assert_int_equal(count_sent(HPVM__REQUEST__BODY_CREATE), 0);
  result_free(&r);
}

static void test_create_reports_hpvmds_refusal_on_one_line(void **state) {
  reset(state);
  result r = run_cmd("hpvmcreate -P web1");
  assert_int_equal(r.status, 0);
  result_free(&r);
  r = run_cmd("hpvmcreate -P web1");
  assert_int_equal(r.status, 1);
  assert_one_error_line(&r, "hpvmcreate: ERROR (web1): a VM named web1 already exists");
  result_free(&r);
}

static void test_json_errors_go_to_stdout_too(void **state) {
  reset(state);
  K.fail_case = HPVM__REQUEST__BODY_INFO;
  K.fail_code = HPVM_EUNAVAIL;
  result r = run_cmd("hpvmcreate -P web1 --json");
  assert_int_equal(r.status, 1);
  assert_one_error_line(&r, "hpvmcreate: ERROR (web1): refused by the stand-in");
  assert_string_equal(r.out, "{\"error\":{\"code\":\"EUNAVAIL\",\"message\":\"refused by the stand-in\"}}\n");
  result_free(&r);
}

static void test_a_disk_another_vm_uses_is_refused(void **state) {
  reset(state);
  const char *img = disk_file("shared.img", 1 << 20);
  char line[512];
  snprintf(line, sizeof line, "hpvmcreate -P a -a disk:avio_stor::file:%s", img);
  result r = run_cmd(line);
  assert_int_equal(r.status, 0);
  result_free(&r);
  snprintf(line, sizeof line, "hpvmcreate -P b -a disk:avio_stor::file:%s", img);
  r = run_cmd(line);
  assert_int_equal(r.status, 1);
  char want[600];
  snprintf(want, sizeof want, "hpvmcreate: ERROR (b): %s is a disk of VM 'a'; a disk belongs to one VM (copy it with "
                              "hpvmclone -b)", img);
  assert_one_error_line(&r, want);
  assert_int_equal(count_sent(HPVM__REQUEST__BODY_CREATE), 1);
  result_free(&r);
}

/* ---- hpvmmodify ------------------------------------------------------------------------------- */

static void test_modify_sends_only_changed_fields(void **state) {
  reset(state);
  result r = run_cmd("hpvmcreate -P web1");
  result_free(&r);
  r = run_cmd("hpvmmodify -P web1 -c 2 -r 1G");
  assert_int_equal(r.status, 0);
  Hpvm__Request *m = last_sent(HPVM__REQUEST__BODY_MODIFY);
  assert_non_null(m);
  assert_int_equal(m->modify->n_fields, 2);
  assert_string_equal(m->modify->fields[0], "vcpus");
  assert_string_equal(m->modify->fields[1], "memory_bytes");
  /* Scalar fields need no generation: hpvmd applies them to whatever is current. */
  assert_int_equal(m->modify->config->config_generation, 0);
  assert_int_equal(K.vms[0]->vcpus, 2);
  result_free(&r);
}

static void test_modify_of_devices_carries_the_generation_and_retries_when_busy(void **state) {
  reset(state);
  result r = run_cmd("hpvmcreate -P web1");
  result_free(&r);
  K.busy = 2;
  char line[512];
  snprintf(line, sizeof line, "hpvmmodify -P web1 -a disk:avio_stor::file:%s", disk_file("m.img", 1 << 20));
  r = run_cmd(line);
  assert_int_equal(r.status, 0);
  assert_int_equal(count_sent(HPVM__REQUEST__BODY_MODIFY), 3);
  Hpvm__Request *m = last_sent(HPVM__REQUEST__BODY_MODIFY);
  assert_int_equal(m->modify->n_fields, 1);
  assert_string_equal(m->modify->fields[0], "devices");
  assert_int_equal(m->modify->config->config_generation, 3); /* re-read after each refusal */
  assert_int_equal(K.vms[0]->n_devices, 1);
  result_free(&r);
}

static void test_modify_needs_something_to_change(void **state) {
  reset(state);
  result r = run_cmd("hpvmmodify -P web1");
  assert_int_equal(r.status, 2);
  assert_one_error_line(&r, "hpvmmodify: nothing to change: give an option such as -c, -r, -a (see --help)");
  assert_int_equal(K.nreqs, 0);
  result_free(&r);
}

static void test_modify_of_an_unknown_vm(void **state) {
  reset(state);
  result r = run_cmd("hpvmmodify -P ghost -c 2");
  assert_int_equal(r.status, 1);
  assert_one_error_line(&r, "hpvmmodify: ERROR (ghost): no VM named ghost in /shared; hpvmstatus lists them");
  assert_int_equal(count_sent(HPVM__REQUEST__BODY_MODIFY), 0);
  result_free(&r);
}

static void test_modify_status_disabled_allows_only_enabling_it(void **state) {
  reset(state);
  result r = run_cmd("hpvmcreate -P web1 -x modify_status=disabled");
  result_free(&r);
  r = run_cmd("hpvmmodify -P web1 -c 2");
  assert_int_equal(r.status, 1);
  assert_one_error_line(&r, "hpvmmodify: ERROR (web1): modify_status is disabled (the VM is probably registered on "
                            "another host); only -x modify_status=enabled is accepted");
  result_free(&r);
  r = run_cmd("hpvmmodify -P web1 -x modify_status=enabled");
  assert_int_equal(r.status, 0);
  result_free(&r);
  r = run_cmd("hpvmmodify -P web1 -c 2");
  assert_int_equal(r.status, 0);
  result_free(&r);
}

/* ---- hpvmclone --------------------------------------------------------------------------------- */

static void test_clone_copies_named_disks_and_gives_new_macs(void **state) {
  reset(state);
  char line[768];
  const char *img = disk_file("src.img", 1 << 20);
  snprintf(line, sizeof line, "hpvmcreate -P src -a disk:avio_stor::file:%s -a network:avio_lan::vswitch:sw0", img);
  result r = run_cmd(line);
  assert_int_equal(r.status, 0);
  result_free(&r);
  snprintf(line, sizeof line, "hpvmclone -P src -N dst -b disk:avio_stor:0,2,0:file:%s/dst.img -l \"the clone\"", tmpdir);
  r = run_cmd(line);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "hpvmclone: Virtual storage cloned successfully.\n");
  Hpvm__Request *c = last_sent(HPVM__REQUEST__BODY_CLONE);
  assert_int_equal(c->clone->n_copies, 1);
  assert_string_equal(c->clone->copies[0]->source_path, img);
  int d = find(&K, "dst"), s = find(&K, "src");
  assert_string_equal(K.vms[d]->label, "the clone");
  assert_string_not_equal(K.vms[d]->networks[0]->mac, K.vms[s]->networks[0]->mac);
  result_free(&r);
}

static void test_clone_undoes_itself_when_the_options_fail(void **state) {
  reset(state);
  result r = run_cmd("hpvmcreate -P src");
  result_free(&r);
  K.fail_case = HPVM__REQUEST__BODY_MODIFY;
  K.fail_code = HPVM_EIO;
  r = run_cmd("hpvmclone -P src -N dst -c 2");
  assert_int_equal(r.status, 1);
  assert_one_error_line(&r, "hpvmclone: ERROR (dst): refused by the stand-in");
  assert_int_equal(count_sent(HPVM__REQUEST__BODY_REMOVE), 1);
  assert_true(last_sent(HPVM__REQUEST__BODY_REMOVE)->remove->force);
  assert_int_equal(find(&K, "dst"), -1);
  result_free(&r);
}

static void test_clone_checks_its_options_before_cloning(void **state) {
  reset(state);
  K.cpus = 2;
  result r = run_cmd("hpvmcreate -P src");
  result_free(&r);
  r = run_cmd("hpvmclone -P src -N dst -c 8");
  assert_int_equal(r.status, 1);
  assert_int_equal(count_sent(HPVM__REQUEST__BODY_CLONE), 0);
  result_free(&r);
  r = run_cmd("hpvmclone -P src");
  assert_int_equal(r.status, 2);
  assert_one_error_line(&r, "hpvmclone: name the clone with -N clone_name; see --help");
  result_free(&r);
  char line[512];
  snprintf(line, sizeof line, "hpvmclone -P src -N dst -b disk:avio_stor:0,2,0:file:%s/x.img", tmpdir);
  r = run_cmd(line);
  assert_int_equal(r.status, 1);
  char want[600];
  snprintf(want, sizeof want, "hpvmclone: ERROR (src): -b disk:avio_stor:0,2,0:file:%s/x.img: the source VM has no "
                              "disk at that address (see hpvmstatus -d)", tmpdir);
  assert_one_error_line(&r, want);
  result_free(&r);
}

/* ---- start, stop, remove, status --------------------------------------------------------------- */

static void test_start_says_so_like_hpvm(void **state) {
  reset(state);
  result r = run_cmd("hpvmcreate -P web1");
  result_free(&r);
  r = run_cmd("hpvmstart -P web1");
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "hpvmstart: Successful start initiation of guest 'web1'\n");
  result_free(&r);
  r = run_cmd("hpvmstart -P nope");
  assert_int_equal(r.status, 1);
  assert_one_error_line(&r, "hpvmstart: ERROR (nope): no VM named nope in /shared; hpvmstatus lists them");
  result_free(&r);
}

static void test_stop_modes(void **state) {
  reset(state);
  result r = run_cmd("hpvmcreate -P web1");
  result_free(&r);
  r = run_cmd("hpvmstop -P web1 -g -t 5");
  assert_int_equal(r.status, 0);
  Hpvm__Request *s = last_sent(HPVM__REQUEST__BODY_STOP);
  assert_int_equal(s->stop->mode, HPVM__STOP_MODE__STOP_MODE_GRACEFUL);
  assert_int_equal(s->stop->timeout_ms, 5000);
  result_free(&r);
  r = run_cmd("hpvmmodify -P web1 -x graceful_stop_timeout=7");
  result_free(&r);
  r = run_cmd("hpvmstop -P web1 -g");
  assert_int_equal(r.status, 0);
  assert_int_equal(last_sent(HPVM__REQUEST__BODY_STOP)->stop->timeout_ms, 7000); /* the VM's own timeout */
  result_free(&r);
  r = run_cmd("hpvmstop -P web1 -F -n");
  s = last_sent(HPVM__REQUEST__BODY_STOP);
  assert_int_equal(s->stop->mode, HPVM__STOP_MODE__STOP_MODE_POWER_OFF);
  assert_true(s->stop->no_wait);
  result_free(&r);
  r = run_cmd("hpvmstop -P web1 -g -F");
  assert_int_equal(r.status, 2);
  assert_one_error_line(&r, "hpvmstop: -g (graceful) and -F (power off now) exclude each other");
  result_free(&r);
  r = run_cmd("hpvmstop -P web1 -t 5");
  assert_int_equal(r.status, 2);
  result_free(&r);
}

static void test_p_number_finds_the_name(void **state) {
  reset(state);
  result r = run_cmd("hpvmcreate -P first");
  result_free(&r);
  r = run_cmd("hpvmcreate -P second");
  result_free(&r);
  r = run_cmd("hpvmstart -p 2");
  assert_int_equal(r.status, 0);
  assert_string_equal(last_sent(HPVM__REQUEST__BODY_START)->start->name, "second");
  result_free(&r);
  r = run_cmd("hpvmstart -p 9");
  assert_int_equal(r.status, 1);
  assert_one_error_line(&r, "hpvmstart: ERROR: no virtual machine has VM # 9 (see hpvmstatus)");
  result_free(&r);
  r = run_cmd("hpvmstart -p 1 -P first");
  assert_int_equal(r.status, 2);
  result_free(&r);
}

static void test_remove_and_status_formats(void **state) {
  reset(state);
  result r = run_cmd("hpvmcreate -P web1");
  result_free(&r);
  r = run_cmd("hpvmstatus");
  assert_int_equal(r.status, 0);
  assert_non_null(strstr(r.out, "web1                     1 UNKNOWN Off"));
  result_free(&r);
  r = run_cmd("hpvmstatus -M");
  assert_int_equal(strncmp(r.out, "web1:1:UNKNOWN:Off:1:0:0:2048:0:", 32), 0);
  result_free(&r);
  r = run_cmd("hpvmstatus -M -X");
  assert_int_equal(r.status, 2);
  result_free(&r);
  r = run_cmd("hpvmstatus -d");
  assert_int_equal(r.status, 2);
  assert_one_error_line(&r, "hpvmstatus: -d shows one VM's devices: give -P vm_name");
  result_free(&r);
  r = run_cmd("hpvmremove -P web1 -F");
  assert_int_equal(r.status, 0);
  assert_true(last_sent(HPVM__REQUEST__BODY_REMOVE)->remove->force);
  result_free(&r);
  r = run_cmd("hpvmstatus");
  assert_string_equal(r.out, "hpvmstatus: No virtual machines are configured in /shared.\n");
  result_free(&r);
}

static void test_commands_answer_to_both_names(void **state) {
  (void)state;
  const char *canonical;
  assert_ptr_equal(cli_command("create", &canonical), cli_cmd_create);
  assert_string_equal(canonical, "hpvmcreate");
  assert_ptr_equal(cli_command("hpvmstatus", &canonical), cli_cmd_status);
  assert_ptr_equal(cli_command("devmgmt", &canonical), cli_cmd_devmgmt);
  assert_null(cli_command("hpvmfrobnicate", NULL));
  for (int i = 0; cli_command_names[i]; i++) assert_non_null(cli_command(cli_command_names[i], NULL));
}

static void test_every_command_has_help(void **state) {
  reset(state);
  for (int i = 0; cli_command_names[i]; i++) {
    char line[64];
    snprintf(line, sizeof line, "%s --help", cli_command_names[i]);
    result r = run_cmd(line);
    assert_int_equal(r.status, 0);
    assert_int_equal(strncmp(r.out, "usage: ", 7), 0);
    assert_string_equal(r.err, "");
    result_free(&r);
  }
  assert_int_equal(K.nreqs, 0);
}

/* ---- hpvmdevmgmt ------------------------------------------------------------------------------- */

static void test_devmgmt_creates_a_sparse_file_of_the_size(void **state) {
  reset(state);
  char line[512], path[300];
  snprintf(path, sizeof path, "%s/new.img", tmpdir);
  snprintf(line, sizeof line, "hpvmdevmgmt -S 10G %s", path);
  result r = run_cmd(line);
  assert_int_equal(r.status, 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_size, 10ll << 30);
  assert_true(st.st_blocks < 64); /* sparse: nothing allocated */
  assert_int_equal(K.nreqs, 0);  /* no hpvmd needed */
  result_free(&r);
  r = run_cmd(line);
  assert_int_equal(r.status, 1);
  char want[600];
  snprintf(want, sizeof want, "hpvmdevmgmt: ERROR: %s already exists; hpvmdevmgmt -S creates new files only", path);
  assert_one_error_line(&r, want);
  result_free(&r);
}

static void test_devmgmt_refuses_bad_sizes_and_leaves_nothing(void **state) {
  reset(state);
  char line[512], path[300];
  snprintf(path, sizeof path, "%s/bad.img", tmpdir);
  snprintf(line, sizeof line, "hpvmdevmgmt -S 1000K %s", path);
  result r = run_cmd(line);
  assert_int_equal(r.status, 0); /* 1000 KiB = 2000 sectors */
  result_free(&r);
  unlink(path);
  snprintf(line, sizeof line, "hpvmdevmgmt -S big %s", path);
  r = run_cmd(line);
  assert_int_equal(r.status, 2);
  result_free(&r);
  snprintf(line, sizeof line, "hpvmdevmgmt -S 0 %s", path);
  r = run_cmd(line);
  assert_int_equal(r.status, 1);
  struct stat st;
  assert_int_equal(stat(path, &st), -1);
  result_free(&r);
  snprintf(line, sizeof line, "hpvmdevmgmt -S 1G %s/no/such/dir/x.img", tmpdir);
  r = run_cmd(line);
  assert_int_equal(r.status, 1);
  assert_non_null(strstr(r.err, "does not exist"));
  result_free(&r);
  char err[CLI_WHY];
  assert_int_equal(cli_sparse_create(path, 1000, err, sizeof err), HPVM_EINVAL);
  assert_string_equal(err, "the size is not a whole number of 512-byte sectors");
  assert_int_equal(stat(path, &st), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_create_sends_the_config_and_prints_nothing),
    cmocka_unit_test(test_create_usage_errors_send_nothing),
    cmocka_unit_test(test_create_refuses_a_missing_backing_file_before_hpvmd_creates_anything),
    cmocka_unit_test(test_create_refuses_more_than_the_host_has),
    cmocka_unit_test(test_create_reports_hpvmds_refusal_on_one_line),
    cmocka_unit_test(test_json_errors_go_to_stdout_too),
    cmocka_unit_test(test_a_disk_another_vm_uses_is_refused),
    cmocka_unit_test(test_modify_sends_only_changed_fields),
    cmocka_unit_test(test_modify_of_devices_carries_the_generation_and_retries_when_busy),
    cmocka_unit_test(test_modify_needs_something_to_change),
    cmocka_unit_test(test_modify_of_an_unknown_vm),
    cmocka_unit_test(test_modify_status_disabled_allows_only_enabling_it),
    cmocka_unit_test(test_clone_copies_named_disks_and_gives_new_macs),
    cmocka_unit_test(test_clone_undoes_itself_when_the_options_fail),
    cmocka_unit_test(test_clone_checks_its_options_before_cloning),
    cmocka_unit_test(test_start_says_so_like_hpvm),
    cmocka_unit_test(test_stop_modes),
    cmocka_unit_test(test_p_number_finds_the_name),
    cmocka_unit_test(test_remove_and_status_formats),
    cmocka_unit_test(test_commands_answer_to_both_names),
    cmocka_unit_test(test_every_command_has_help),
    cmocka_unit_test(test_devmgmt_creates_a_sparse_file_of_the_size),
    cmocka_unit_test(test_devmgmt_refuses_bad_sizes_and_leaves_nothing),
  };
  return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
