/* test_cli_integ.c — the hpvm commands as an operator runs them: the real binaries (the
 * hpvm* links in build/bin) against a real hpvmd with a temporary shared directory
 * (tests/hpvmd's harness), with hpvmk guests. Create and status in every format, every
 * modify option, clone with a disk copy, start/stop/remove through every mode and state, the
 * console through a pseudo-terminal and as one command, concurrent hpvmmodify from several
 * processes, the multi-call forms — and every error as one line, exit status 1 (2 for usage)
 * and nothing left behind. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hpvmd_test.h"

/* ---- Running the commands -------------------------------------------------------------------- */

typedef struct out {
  int status;                          /* exit status, or 128+signal */
  char *o, *e;                         /* stdout, stderr */
} out;

static void out_free(out *r) {
  free(r->o);
  free(r->e);
}

/* Split a command line at blanks; "double quotes" group. argv points into buf. */
static int split(char *buf, char **argv, int max) {
  int argc = 0;
  for (char *p = buf; *p && argc < max - 1;) {
    while (*p == ' ') p++;
    if (!*p) break;
    if (*p == '"') {
      argv[argc++] = ++p;
      p = strchr(p, '"');
      if (!p) break;
      *p++ = 0;
    } else {
      argv[argc++] = p;
      p += strcspn(p, " ");
      if (*p) *p++ = 0;
    }
  }
  argv[argc] = NULL;
  return argc;
}

static char *slurp(int fd) {
  size_t cap = 4096, n = 0;
  char *b = malloc(cap);
  ssize_t r;
  while ((r = read(fd, b + n, cap - n - 1)) > 0 || (r < 0 && errno == EINTR)) {
    if (r > 0) n += (size_t)r;
    if (cap - n < 2) b = realloc(b, cap *= 2);
  }
  b[n] = 0;
  return b;
}

/* Run "hpvmXXX args..." from build/bin with the test's hpvmd; input (may be NULL) on stdin. */
static out run_in(ht_env *e, const char *input, const char *line) {
  char buf[4096], *argv[128], path[600];
  snprintf(buf, sizeof buf, "%s", line);
  split(buf, argv, 128);
  snprintf(path, sizeof path, "%s/%s", HPVM_BIN_DIR, argv[0]);
  int po[2], pe[2], pi[2];
  assert_int_equal(pipe(po), 0);
  assert_int_equal(pipe(pe), 0);
  assert_int_equal(pipe(pi), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(pi[0], 0);
    dup2(po[1], 1);
    dup2(pe[1], 2);
    close(po[0]), close(pe[0]), close(pi[1]);
    setenv("HPVMD_SOCKET", e->sock, 1);
    execv(path, argv);
    _exit(127);
  }
  close(po[1]), close(pe[1]), close(pi[0]);
  if (input) {
    ssize_t w = write(pi[1], input, strlen(input));
    (void)w;
  }
  close(pi[1]);
  out r;
  /* stderr is small; read stdout first, then stderr (both pipes drain before exit). */
  r.o = slurp(po[0]);
  r.e = slurp(pe[0]);
  close(po[0]), close(pe[0]);
  int st;
  waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

static out runf(ht_env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static out runf(ht_env *e, const char *fmt, ...) {
  char line[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  return run_in(e, NULL, line);
}

/* Run and require success; returns stdout (caller frees). */
static char *ok(ht_env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *ok(ht_env *e, const char *fmt, ...) {
  char line[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  out r = run_in(e, NULL, line);
  if (r.status != 0) {
    ht_dump_log(e);
    fail_msg("'%s' exited %d: %s%s", line, r.status, r.o, r.e);
  }
  free(r.e);
  return r.o;
}

/* The command failed with exit status st and exactly one line on stderr containing want. */
static void fails(ht_env *e, int st, const char *want, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fails(ht_env *e, int st, const char *want, const char *fmt, ...) {
  char line[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  out r = run_in(e, NULL, line);
  size_t n = strlen(r.e);
  if (r.status != st) fail_msg("'%s' exited %d, not %d: %s%s", line, r.status, st, r.o, r.e);
  if (!n || strchr(r.e, '\n') != r.e + n - 1) fail_msg("'%s': stderr is not one line: \"%s\"", line, r.e);
  if (!strstr(r.e, want)) fail_msg("'%s': \"%s\" not in \"%s\"", line, want, r.e);
  out_free(&r);
}

static void assert_contains(const char *hay, const char *needle) {
  if (!strstr(hay, needle)) fail_msg("\"%s\" not in:\n%s", needle, hay);
}

static void assert_lacks(const char *hay, const char *needle) {
  if (strstr(hay, needle)) fail_msg("\"%s\" unexpectedly in:\n%s", needle, hay);
}

/* A disk image under the test directory, made with hpvmdevmgmt -S. */
static const char *disk(ht_env *e, const char *name, const char *size) {
  static char p[8][400];
  static int k;
  char *path = p[k++ % 8];
  snprintf(path, 400, "%s/%s", e->dir, name);
  free(ok(e, "hpvmdevmgmt -S %s %s", size, path));
  return path;
}

/* The number of VMs hpvmstatus -M lists. */
static int vm_count(ht_env *e) {
  char *s = ok(e, "hpvmstatus -M");
  int n = 0;
  for (char *p = s; *p; p++) n += *p == '\n';
  free(s);
  return n;
}

/* Field i (0-based) of the hpvmstatus -M line of VM name, in buf. */
static const char *mfield(ht_env *e, const char *name, int i, char *buf, size_t len) {
  char *s = ok(e, "hpvmstatus -M -P %s", name);
  char *p = s;
  for (int k = 0; k < i && p; k++) p = strchr(p, ':'), p = p ? p + 1 : NULL;
  assert_non_null(p);
  size_t n = strcspn(p, ":\n");
  snprintf(buf, len, "%.*s", (int)n, p);
  free(s);
  return buf;
}

#define RS(x) HPVM__VM_RUN_STATE__VM_RUN_STATE_##x

/* ---- Create and status ------------------------------------------------------------------------- */

static void test_create_then_status_in_every_format(void **state) {
  ht_env *e = *state;
  const char *d1 = disk(e, "web1-root.img", "64M");
  free(ok(e, "hpvmcreate -P web1 -O linux -c 1 -r 64M -e 20:50 -l \"Web server\" -B manual -K %s -A heartbeat "
             "-a disk:avio_stor::file:%s -a network:avio_lan::vswitch:sw0",
          HPVMK, d1));
  char *s = ok(e, "hpvmstatus");
  assert_contains(s, "[Virtual Machines]");
  assert_contains(s, "Virtual Machine Name VM #  OS Type State     #VCPUs #Devs #Nets Memory  Runsysid Host");
  assert_contains(s, "web1                     1 LINUX   Off            1     1     1   64 MB        0 -");
  free(s);

  s = ok(e, "hpvmstatus -P web1");
  assert_contains(s, "[Virtual Machine Details]");
  assert_contains(s, "web1                     1 LINUX   Off");
  assert_contains(s, "     1       20.0%   50.0%");
  assert_contains(s, "  64 MB      0 MB");
  assert_contains(s, "disk    avio_stor    0   2   0   0   0 file      ");
  assert_contains(s, "vswitch   avio_lan   sw0        0         0   0   0 ");
  assert_contains(s, "serial  com1                           tty       console");
  free(s);

  s = ok(e, "hpvmstatus -P web1 -V");
  assert_contains(s, "Virtual Machine Label    : Web server");
  assert_contains(s, "Start type               : Manual");
  assert_contains(s, "Kernel command line      : heartbeat");
  free(s);

  char f[128];
  assert_string_equal(mfield(e, "web1", 0, f, sizeof f), "web1");
  assert_string_equal(mfield(e, "web1", 3, f, sizeof f), "Off");
  assert_string_equal(mfield(e, "web1", 7, f, sizeof f), "64");
  assert_string_equal(mfield(e, "web1", 10, f, sizeof f), "20");
  assert_string_equal(mfield(e, "web1", 14, f, sizeof f), "Web server");

  s = ok(e, "hpvmstatus -X");
  assert_contains(s, "<virtual_machine name=\"web1\"");
  assert_contains(s, "<vm_state>Off</vm_state>");
  assert_contains(s, "<total unit=\"MB\">64</total>");
  free(s);

  s = ok(e, "hpvmstatus -P web1 -d");
  char want[600];
  snprintf(want, sizeof want, "disk:avio_stor:0,2,0:file:%s\n", d1);
  assert_contains(s, want);
  assert_contains(s, "network:avio_lan:0,0,0x");
  free(s);

  s = ok(e, "hpvmstatus --json");
  assert_contains(s, "{\"vms\":[{\"name\":\"web1\",\"state\":\"Off\"");
  assert_contains(s, "\"label\":\"Web server\"");
  free(s);
  s = ok(e, "hpvmstatus -P web1 --json");
  assert_contains(s, "\"vm_number\":1");
  free(s);
}

static void test_errors_are_one_line_and_change_nothing(void **state) {
  ht_env *e = *state;
  free(ok(e, "hpvmcreate -P web1 -r 64M"));
  char mem[64];
  char *info = ok(e, "hpvminfo -M");
  /* host:version:cpus:memory_mb:... */
  char *p = strchr(strchr(strchr(info, ':') + 1, ':') + 1, ':') + 1;
  snprintf(mem, sizeof mem, "%lluM", strtoull(p, NULL, 10) + 1024);
  free(info);

  fails(e, 1, "hpvmcreate: ERROR (web1): a VM named web1 already exists", "hpvmcreate -P web1");
  fails(e, 2, "unknown storage adapter 'avio'", "hpvmcreate -P web2 -a disk:avio::file:/x");
  fails(e, 1, "does not exist; create it with: hpvmdevmgmt -S SIZE", "hpvmcreate -P web2 -a disk:avio_stor::file:%s/no.img",
        e->dir);
  fails(e, 1, "of memory is more than this host has", "hpvmcreate -P web2 -r %s", mem);
  fails(e, 1, "cores; lower -c", "hpvmcreate -P web2 -c 64");
  fails(e, 1, "hpvmcreate: ERROR (web2): -K /nonexistent: the kernel image does not exist", "hpvmcreate -P web2 -K /nonexistent");
  assert_int_equal(vm_count(e), 1);

  fails(e, 1, "hpvmstatus: ERROR (ghost): no VM named ghost", "hpvmstatus -P ghost");
  fails(e, 1, "hpvmmodify: ERROR (ghost): no VM named ghost", "hpvmmodify -P ghost -c 1");
  fails(e, 1, "hpvmstart: ERROR (ghost): no VM named ghost", "hpvmstart -P ghost");
  fails(e, 1, "hpvmstop: ERROR (ghost): no VM named ghost", "hpvmstop -P ghost -F");
  fails(e, 1, "hpvmremove: ERROR (ghost): no VM named ghost", "hpvmremove -P ghost -q");
  fails(e, 1, "hpvmclone: ERROR (ghost): no VM named ghost", "hpvmclone -P ghost -N x");
  fails(e, 1, "hpvmconsole: ERROR (ghost): no VM named ghost", "hpvmconsole -P ghost -c cl");

  /* Wrong state. */
  fails(e, 1, "hpvmstop: ERROR (web1):", "hpvmstop -P web1 -F");
  fails(e, 2, "hpvmstatus: unknown option -z (see --help)", "hpvmstatus -z");
  fails(e, 2, "hpvm: unknown command 'frob'", "hpvm frob");
  assert_int_equal(vm_count(e), 1);

  /* hpvmd not running. */
  ht_hpvmd_stop(e, SIGTERM);
  fails(e, 1, "hpvmd is not running", "hpvmstatus");
  fails(e, 1, "hpvmcreate: ERROR (web3): hpvmd is not running", "hpvmcreate -P web3");
  /* The local command works without it. */
  free(ok(e, "hpvmdevmgmt -S 1M %s/local.img", e->dir));
  free(ok(e, "hpvminfo"));
  ht_hpvmd_start(e);
  assert_int_equal(vm_count(e), 1);
}

static void test_modify_every_option(void **state) {
  ht_env *e = *state;
  const char *d1 = disk(e, "m1.img", "16M"), *d2 = disk(e, "m2.img", "16M");
  char iso[400];
  snprintf(iso, sizeof iso, "%s/cd.iso", e->dir);
  FILE *f = fopen(iso, "w");
  fputs("not really an iso", f);
  fclose(f);
  free(ok(e, "hpvmcreate -P vm1 -r 64M"));
  free(ok(e, "hpvmmodify -P vm1 -O hpux -c 2 -r 128M -E 300:600 -l relabelled -B manual -x graceful_stop_timeout=9 "
             "-K %s -A \"memverify 4\"", HPVMK));
  free(ok(e, "hpvmmodify -P vm1 -a disk:avio_stor::file:%s -a dvd:avio_stor::null: -a network:avio_lan::vswitch:a", d1));
  free(ok(e, "hpvmmodify -P vm1 -a disk:avio_stor:1,0,5:file:%s -m dvd:avio_stor:0,2,1:file:%s "
             "-m network:avio_lan:0,0:vswitch:b", d2, iso));
  char *s = ok(e, "hpvmstatus -P vm1 -V");
  assert_contains(s, "Operating System         : HPUX");
  assert_contains(s, "Virtual Machine Label    : relabelled");
  assert_contains(s, "Start type               : Manual");
  assert_contains(s, "Graceful stop timeout    : 9");
  assert_contains(s, "Kernel command line      : memverify 4");
  assert_contains(s, "     2      300MHz  600MHz");
  assert_contains(s, " 128 MB");
  assert_contains(s, "disk    avio_stor    1   0   0   5   0 file      ");
  assert_contains(s, "dvd     avio_stor    0   2   0   1   0 file      ");
  assert_contains(s, "vswitch   avio_lan   b   ");
  free(s);
  free(ok(e, "hpvmmodify -P vm1 -d disk:avio_stor:1,0,5:file:%s -d network:avio_lan::vswitch:b", d2));
  char fld[64];
  assert_string_equal(mfield(e, "vm1", 5, fld, sizeof fld), "2");
  assert_string_equal(mfield(e, "vm1", 6, fld, sizeof fld), "0");
  /* A rename to a taken or invalid name is one line and changes nothing (renames: below). */
  fails(e, 1, "hpvmmodify: ERROR (vm1): VM vm1 is already called vm1", "hpvmmodify -P vm1 -N vm1");
  fails(e, 1, "hpvmmodify: ERROR (vm1): cannot rename VM vm1: the VM name \"-x\" starts with '-'",
        "hpvmmodify -P vm1 -N -x");
  free(ok(e, "hpvmstatus -P vm1"));
  free(ok(e, "hpvmmodify -P vm1 -x runnable_status=disabled"));
  assert_string_equal(mfield(e, "vm1", 3, fld, sizeof fld), "Off (NR)");
  fails(e, 1, "hpvmstart: ERROR (vm1):", "hpvmstart -P vm1");
  free(ok(e, "hpvmmodify -P vm1 -x runnable_status=enabled"));
  fails(e, 2, "nothing to change", "hpvmmodify -P vm1");
}

static void test_clone_copies_a_disk_and_shares_the_rest(void **state) {
  ht_env *e = *state;
  const char *root = disk(e, "src-root.img", "8M"), *data = disk(e, "src-data.img", "8M");
  /* Something in the source disk to find in the copy. */
  int fd = open(root, O_WRONLY);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, "BOOTSECTOR", 10, 4096), 10);
  close(fd);
  free(ok(e, "hpvmcreate -P src -r 64M -a disk:avio_stor::file:%s -a disk:avio_stor::file:%s "
             "-a network:avio_lan::vswitch:sw0", root, data));
  char *s = ok(e, "hpvmclone -P src -N dst -b disk:avio_stor:0,2,0:file:%s/dst-root.img -l copy -c 1", e->dir);
  assert_contains(s, "hpvmclone: Virtual storage cloned successfully.");
  free(s);
  char copy[400], buf[16] = {0};
  snprintf(copy, sizeof copy, "%s/dst-root.img", e->dir);
  fd = open(copy, O_RDONLY);
  assert_true(fd >= 0);
  assert_int_equal(pread(fd, buf, 10, 4096), 10);
  close(fd);
  assert_string_equal(buf, "BOOTSECTOR");
  s = ok(e, "hpvmstatus -P dst -d");
  char want[600];
  snprintf(want, sizeof want, "disk:avio_stor:0,2,0:file:%s\n", copy);
  assert_contains(s, want);
  snprintf(want, sizeof want, "disk:avio_stor:0,2,1:file:%s\n", data);
  assert_contains(s, want);
  char *src = ok(e, "hpvmstatus -P src -d");
  char *mac = strstr(src, "network:avio_lan:0,0,");
  assert_non_null(mac);
  mac[strcspn(mac, "\n")] = 0;
  assert_lacks(s, mac); /* a new MAC */
  free(src);
  free(s);
  char f[64];
  assert_string_equal(mfield(e, "dst", 14, f, sizeof f), "copy");
  fails(e, 1, "already exists", "hpvmclone -P src -N dst2 -b disk:avio_stor:0,2,0:file:%s", copy);
  fails(e, 1, "hpvmclone: ERROR (dst):", "hpvmclone -P src -N dst");
  assert_int_equal(vm_count(e), 2);
}

/* ---- Start, stop, remove ---------------------------------------------------------------------- */

static void test_modify_renames_an_off_vm_and_refuses_a_running_one(void **state) {
  ht_env *e = *state;
  free(ok(e, "hpvmcreate -P a -r 64M -c 2 -K %s -A heartbeat", HPVMK));
  char *s = ok(e, "hpvmmodify -P a -N b");
  assert_string_equal(s, "");
  free(s);
  s = ok(e, "hpvmstatus");
  assert_contains(s, "b                        1 ");
  assert_true(strstr(s, "\na ") == NULL);
  free(s);
  fails(e, 1, "hpvmmodify: ERROR (a): no VM named a", "hpvmmodify -P a -N c");
  /* -N with other options: renamed, then changed. */
  free(ok(e, "hpvmmodify -P b -N a2 -l relabelled"));
  free(ok(e, "hpvmstatus -P a2"));
  free(ok(e, "hpvmstart -P a2 -q"));
  assert_true(ht_wait_state(e, "a2", RS(ON), 10000));
  fails(e, 1, "hpvmmodify: ERROR (a2): VM a2 is On; stop it first (hpvmstop -P a2)", "hpvmmodify -P a2 -N z");
  free(ok(e, "hpvmstop -P a2 -F"));
  free(ok(e, "hpvmmodify -P a2 -N z"));
  s = ok(e, "hpvmstatus");
  assert_contains(s, "z                        1 ");
  free(s);
  free(ok(e, "hpvmstart -P z -q"));
  assert_true(ht_wait_state(e, "z", RS(ON), 10000));
  free(ok(e, "hpvmremove -P z -F"));
  assert_int_equal(vm_count(e), 0);
}

static void test_start_stop_remove_through_every_mode(void **state) {
  ht_env *e = *state;
  free(ok(e, "hpvmcreate -P g -r 64M -K %s -A heartbeat", HPVMK));
  char *s = ok(e, "hpvmstart -P g");
  assert_string_equal(s, "hpvmstart: Successful start initiation of guest 'g'\n");
  free(s);
  assert_true(ht_wait_state(e, "g", RS(ON), 10000));
  s = ok(e, "hpvmstatus");
  assert_contains(s, "g                        1 UNKNOWN On (OS)");
  free(s);
  fails(e, 1, "hpvmstart: ERROR (g):", "hpvmstart -P g");
  fails(e, 1, "hpvmremove: ERROR (g):", "hpvmremove -P g -q");
  free(ok(e, "hpvmstop -P g -g -t 10"));
  assert_int_equal(ht_state(e, "g", NULL, NULL, 0), RS(OFF));
  fails(e, 1, "hpvmstop: ERROR (g):", "hpvmstop -P g -q");
  free(ok(e, "hpvmstart -P g -q"));
  assert_true(ht_wait_state(e, "g", RS(ON), 10000));
  free(ok(e, "hpvmstop -P g -F"));
  assert_int_equal(ht_state(e, "g", NULL, NULL, 0), RS(OFF));
  free(ok(e, "hpvmstart -p 1"));
  assert_true(ht_wait_state(e, "g", RS(ON), 10000));
  /* Not a terminal: no question asked; -F removes a running guest. */
  free(ok(e, "hpvmremove -P g -F"));
  assert_int_equal(vm_count(e), 0);
  s = ok(e, "hpvmstatus");
  assert_contains(s, "No virtual machines are configured");
  free(s);
}

/* hpvmstop -g presses the guest's power button: hpvmk ends its workloads, says so on its
 * console and powers off by itself, long before the 30 s timeout. */
static void test_graceful_stop_is_the_guest_shutting_down(void **state) {
  ht_env *e = *state;
  free(ok(e, "hpvmcreate -P gs -r 64M -K %s -A \"heartbeat idle\"", HPVMK));
  free(ok(e, "hpvmstart -P gs"));
  assert_true(ht_wait_state(e, "gs", RS(ON), 10000));
  uint64_t t0 = ht_ms();
  free(ok(e, "hpvmstop -P gs -g -t 30"));
  assert_true(ht_ms() - t0 < 10000);
  char reason[600], path[400];
  assert_int_equal(ht_state(e, "gs", NULL, reason, sizeof reason), RS(OFF));
  assert_string_equal(reason, "stopped gracefully (hpvmstop -g)");
  snprintf(path, sizeof path, "%s/vms/gs/console.log", e->state);
  char *log = ht_read_file(path);
  assert_non_null(log);
  assert_contains(log, "hpvmk: shutdown requested");
  assert_contains(log, "\nPASS shutdown\n");
  free(log);
}

/* ---- The console ------------------------------------------------------------------------------ */

/* Read from the pty until want appears (true) or timeout_ms passes (false); all in *acc. */
static bool pty_wait(int fd, const char *want, int timeout_ms, char **acc, size_t *len) {
  uint64_t end = ht_ms() + (uint64_t)timeout_ms;
  while (ht_ms() < end) {
    if (*acc && strstr(*acc, want)) return true;
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char b[4096];
    ssize_t n = read(fd, b, sizeof b);
    if (n <= 0) break;
    *acc = realloc(*acc, *len + (size_t)n + 1);
    memcpy(*acc + *len, b, (size_t)n);
    *len += (size_t)n;
    (*acc)[*len] = 0;
  }
  return *acc && strstr(*acc, want);
}

static void pty_send(int fd, const char *s) { assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s)); }

static void test_console_menu_through_a_pseudo_terminal(void **state) {
  ht_env *e = *state;
  free(ok(e, "hpvmcreate -P con -r 64M -K %s -A heartbeat", HPVMK));
  int m;
  pid_t pid = forkpty(&m, NULL, NULL, NULL);
  assert_true(pid >= 0);
  if (pid == 0) {
    char path[600];
    snprintf(path, sizeof path, "%s/hpvmconsole", HPVM_BIN_DIR);
    setenv("HPVMD_SOCKET", e->sock, 1);
    execl(path, "hpvmconsole", "-P", "con", (char *)NULL);
    _exit(127);
  }
  char *acc = NULL;
  size_t len = 0;
  assert_true(pty_wait(m, "[con] vMP> ", 5000, &acc, &len));
  assert_contains(acc, "vMP MAIN MENU");
  /* Power it on from the command menu, with the confirmation. */
  pty_send(m, "cm\r");
  assert_true(pty_wait(m, "[con] vMP:CM> ", 5000, &acc, &len));
  pty_send(m, "pc -on\r");
  assert_true(pty_wait(m, "Confirm? (Y/[N]): ", 5000, &acc, &len));
  pty_send(m, "y\r");
  assert_true(pty_wait(m, "Command successful", 10000, &acc, &len));
  assert_true(ht_wait_state(e, "con", RS(ON), 10000));
  /* The console: the guest's heartbeat lines arrive live. */
  pty_send(m, "ma\r");
  pty_send(m, "co\r");
  assert_true(pty_wait(m, "Live Console", 5000, &acc, &len));
  size_t mark = len;
  assert_true(pty_wait(m, "HB 3 ", 15000, &acc, &len));
  assert_true(len > mark);
  /* Ctrl-B returns to the menu; SL shows the events, then power it off. */
  pty_send(m, "\x02");
  free(acc), acc = NULL, len = 0;
  assert_true(pty_wait(m, "[con] vMP> ", 5000, &acc, &len));
  pty_send(m, "sl\r");
  assert_true(pty_wait(m, "power on requested", 5000, &acc, &len));
  pty_send(m, "cm\rpc -off\r");
  assert_true(pty_wait(m, "Confirm?", 5000, &acc, &len));
  pty_send(m, "Y\r");
  assert_true(pty_wait(m, "Command successful: power off", 10000, &acc, &len));
  assert_int_equal(ht_state(e, "con", NULL, NULL, 0), RS(OFF));
  pty_send(m, "x\r");
  int st;
  uint64_t end = ht_ms() + 5000;
  while (waitpid(pid, &st, WNOHANG) == 0 && ht_ms() < end) pty_wait(m, "\x01never", 50, &acc, &len);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
  free(acc);
  close(m);
}

static void test_console_one_command_and_log(void **state) {
  ht_env *e = *state;
  free(ok(e, "hpvmcreate -P con -r 64M -K %s -A heartbeat", HPVMK));
  char *s = ok(e, "hpvmconsole -P con -q -c \"pc -on\"");
  assert_contains(s, "Command successful: power on the VM.");
  free(s);
  assert_true(ht_wait_state(e, "con", RS(ON), 10000));
  /* The console log keeps what the guest printed, with no viewer attached. */
  uint64_t end = ht_ms() + 15000;
  bool seen = false;
  while (!seen && ht_ms() < end) {
    s = ok(e, "hpvmconsole -P con -c cl");
    seen = strstr(s, "HB 2 ") != NULL;
    free(s);
    if (!seen) usleep(200000);
  }
  assert_true(seen);
  fails(e, 1, "hpvmconsole: ERROR (con): unknown vMP command 'zz'", "hpvmconsole -P con -c zz");
  /* -c co follows the console (a read-only viewer here) until the VM stops. */
  pid_t stopper = fork();
  assert_true(stopper >= 0);
  if (stopper == 0) {
    usleep(2000000);
    out r = runf(e, "hpvmconsole -P con -q -c \"pc -off\"");
    bool good = r.status == 0 && strstr(r.o, "Command successful: power off");
    _exit(good ? 0 : 1);
  }
  uint64_t t0 = ht_ms();
  s = ok(e, "hpvmconsole -P con -r -c co");
  assert_true(ht_ms() - t0 >= 1500);
  assert_contains(s, "HB ");
  assert_contains(s, "powered off");
  free(s);
  int st;
  waitpid(stopper, &st, 0);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  assert_int_equal(ht_state(e, "con", NULL, NULL, 0), RS(OFF));
  fails(e, 1, "hpvmconsole: ERROR (con):", "hpvmconsole -P con -q -c \"pc -off\"");
}

/* ---- Concurrency ------------------------------------------------------------------------------ */

#define WRITERS 4
#define EACH 6

static void test_concurrent_modifies_from_several_processes_all_land(void **state) {
  ht_env *e = *state;
  free(ok(e, "hpvmcreate -P busy -r 64M"));
  char paths[WRITERS][EACH][400];
  for (int w = 0; w < WRITERS; w++)
    for (int i = 0; i < EACH; i++) {
      char name[64];
      snprintf(name, sizeof name, "w%d-%d.img", w, i);
      snprintf(paths[w][i], 400, "%s", disk(e, name, "1M"));
    }
  pid_t kids[WRITERS + 1];
  for (int w = 0; w < WRITERS; w++) {
    kids[w] = fork();
    assert_true(kids[w] >= 0);
    if (kids[w] == 0) {
      int bad = 0;
      for (int i = 0; i < EACH; i++) {
        out r = runf(e, "hpvmmodify -P busy -a disk:avio_stor::file:%s", paths[w][i]);
        if (r.status) {
          fprintf(stderr, "writer %d: %s", w, r.e);
          bad++;
        }
        out_free(&r);
      }
      _exit(bad ? 1 : 0);
    }
  }
  /* Meanwhile another process changes scalar fields. */
  kids[WRITERS] = fork();
  if (kids[WRITERS] == 0) {
    int bad = 0;
    for (int i = 0; i < EACH; i++) {
      out r = runf(e, "hpvmmodify -P busy -l label%d -e %d", i, 10 + i);
      bad += r.status != 0;
      out_free(&r);
    }
    _exit(bad ? 1 : 0);
  }
  for (int w = 0; w <= WRITERS; w++) {
    int st;
    waitpid(kids[w], &st, 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
  }
  char f[64];
  snprintf(f, sizeof f, "%d", WRITERS * EACH);
  char got[64];
  assert_string_equal(mfield(e, "busy", 5, got, sizeof got), f);
  assert_string_equal(mfield(e, "busy", 14, got, sizeof got), "label5");
  assert_string_equal(mfield(e, "busy", 10, got, sizeof got), "15");
  /* Every device once, each at its own address. */
  char *s = ok(e, "hpvmstatus -P busy -d");
  for (int w = 0; w < WRITERS; w++)
    for (int i = 0; i < EACH; i++) {
      char want[500];
      snprintf(want, sizeof want, ":file:%s\n", paths[w][i]);
      assert_contains(s, want);
    }
  free(s);
}

/* ---- A damaged record ------------------------------------------------------------------------- */

static void test_a_damaged_record_is_shown_invalid_and_removed_only_by_force(void **state) {
  ht_env *e = *state;
  free(ok(e, "hpvmcreate -P bad -r 64M"));
  free(ok(e, "hpvmcreate -P good -r 64M"));
  char path[600];
  snprintf(path, sizeof path, "%s/vms/bad/config", e->shared);
  int fd = open(path, O_WRONLY);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, "X", 1, 40), 1);
  close(fd);
  char *s = ok(e, "hpvmstatus");
  assert_contains(s, "bad                      0 UNKNOWN Invalid");
  assert_contains(s, "good                     2 UNKNOWN Off");
  free(s);
  s = ok(e, "hpvmstatus -P bad");
  assert_contains(s, "Invalid");
  free(s);
  fails(e, 1, "hpvmmodify: ERROR (bad): the configuration of VM bad cannot be read", "hpvmmodify -P bad -c 1");
  fails(e, 1, "hpvmstart: ERROR (bad):", "hpvmstart -P bad");
  fails(e, 1, "hpvmremove: ERROR (bad):", "hpvmremove -P bad -q");
  free(ok(e, "hpvmremove -P bad -F -q"));
  assert_int_equal(vm_count(e), 1);
}

/* ---- Forms and tools -------------------------------------------------------------------------- */

static void test_multi_call_forms_and_gdev_listing(void **state) {
  ht_env *e = *state;
  const char *d = disk(e, "forms.img", "2M");
  free(ok(e, "hpvm create -P forms -r 64M -a disk:avio_stor::file:%s", d));
  char *s = ok(e, "hpvm status -M");
  assert_contains(s, "forms:1:");
  free(s);
  s = ok(e, "hpvm hpvmstatus -P forms");
  assert_contains(s, "[Virtual Machine Details]");
  free(s);
  s = ok(e, "hpvm --version");
  assert_contains(s, "hpvm ");
  free(s);
  s = ok(e, "hpvmdevmgmt -l gdev");
  char want[600];
  snprintf(want, sizeof want, "%s:CONFIG=gdev,EXIST=YES,DEVTYPE=FILE,SHARE=NO,SIZE=2097152:forms:", d);
  assert_contains(s, want);
  free(s);
  s = ok(e, "hpvminfo -V");
  assert_contains(s, "Host name                : testhost");
  free(s);
  s = ok(e, "hpvminfo --json");
  assert_contains(s, "\"host\":\"testhost\"");
  free(s);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_create_then_status_in_every_format, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_errors_are_one_line_and_change_nothing, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_modify_every_option, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_modify_renames_an_off_vm_and_refuses_a_running_one, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_clone_copies_a_disk_and_shares_the_rest, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_start_stop_remove_through_every_mode, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_graceful_stop_is_the_guest_shutting_down, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_console_menu_through_a_pseudo_terminal, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_console_one_command_and_log, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_concurrent_modifies_from_several_processes_all_land, ht_setup, ht_teardown),
    cmocka_unit_test_setup_teardown(test_a_damaged_record_is_shown_invalid_and_removed_only_by_force, ht_setup,
                                    ht_teardown),
    cmocka_unit_test_setup_teardown(test_multi_call_forms_and_gdev_listing, ht_setup, ht_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
