/* suspend.c — hpvmsuspend and hpvmresume: save a running guest's whole state to a file and
 * stop it, then continue it from that file (cli/hpvmd/suspend.c does the work; the file
 * format is docs/wire/vmstate.md).
 *
 *   hpvmsuspend {-P vm_name | -p vm_number} -f FILE [-F] [-q] [--json]
 *   hpvmresume  {-P vm_name | -p vm_number} -f FILE [-q] [--json]
 *
 * FILE is made absolute here (hpvmd does not share our working directory). Errors are one
 * line on stderr, "<command>: ERROR (<vm>): <what, what to do>", and exit status 1 (2 for a
 * usage error), as every hpvm command. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

typedef cli_run srun;

/* -P name, or -p number looked up in hpvmd's list. *name is malloc'd. */
static int vm_name(srun *r, const char *P, const char *p, char **name) {
  *name = NULL;
  if (P && p) return cli_usage(r, "give -P name or -p number, not both");
  if (P) {
    if (!*P) return cli_usage(r, "-P: the VM name is empty");
    r->vm = *name = strdup(P);
    return *name ? 0 : cli_fail(r, HPVM_ENOMEM, "out of memory");
  }
  uint32_t n;
  if (!p) return cli_usage(r, "name the virtual machine with -P name (or -p number); see --help");
  if (!cli_parse_u32(p, &n)) return cli_usage(r, "-p: the VM number is a whole number (see hpvmstatus)");
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__ListRequest list = HPVM__LIST_REQUEST__INIT;
  Hpvm__Response *resp;
  req.body_case = HPVM__REQUEST__BODY_LIST;
  req.list = &list;
  if (cli_call_status(r, &req, &resp)) return 1;
  for (size_t i = 0; resp->body_case == HPVM__RESPONSE__BODY_LIST && i < resp->list->n_vms; i++) {
    const Hpvm__VmConfig *c = resp->list->vms[i]->config;
    if (c && c->vm_number == n && !*name) *name = strdup(c->name);
  }
  cli_done(r, resp);
  if (!*name) return cli_fail(r, HPVM_ENOENT, "no virtual machine has VM # %u (see hpvmstatus)", n);
  r->vm = *name;
  return 0;
}

/* FILE as an absolute path. For a file that must exist (resume) it is resolved; for a new one
 * (suspend) its directory is. */
static int absolute(srun *r, const char *file, bool must_exist, char out[PATH_MAX]) {
  if (!*file) return cli_usage(r, "-f: the file name is empty");
  if (must_exist) {
    if (!realpath(file, out)) return cli_fail(r, errno == ENOENT ? HPVM_ENOENT : HPVM_EIO, "%s: %s", file, strerror(errno));
    return 0;
  }
  char dir[PATH_MAX], real[PATH_MAX];
  const char *slash = strrchr(file, '/');
  const char *base = slash ? slash + 1 : file;
  if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) return cli_usage(r, "-f: give a file name, not a directory");
  if (!slash) snprintf(dir, sizeof dir, ".");
  else if (slash == file) snprintf(dir, sizeof dir, "/");
  else snprintf(dir, sizeof dir, "%.*s", (int)(slash - file), file);
  if (!realpath(dir, real)) return cli_fail(r, HPVM_ENOENT, "cannot write %s: directory %s: %s", file, dir, strerror(errno));
  if ((size_t)snprintf(out, PATH_MAX, "%s/%s", strcmp(real, "/") ? real : "", base) >= PATH_MAX)
    return cli_usage(r, "-f: the path is too long");
  return 0;
}

static void print_vm(srun *r, const Hpvm__Response *resp) {
  if (r->json && resp->body_case == HPVM__RESPONSE__BODY_VM) {
    cli_fmt_json_vm(r->c->out, resp->vm, NULL);
    fputc('\n', r->c->out);
  }
}

/* ---- hpvmsuspend -------------------------------------------------------------------------------- */

static const char suspend_help[] =
  "usage: hpvmsuspend {-P vm_name | -p vm_number} -f file [-F] [-q]\n"
  "Suspends a running virtual machine: it is paused, its whole state (memory, vCPUs, devices)\n"
  "is saved to the file, and it stops (Off, \"suspended to file\"). hpvmresume continues it.\n"
  "  -f file   the state file (it must not exist)\n"
  "  -F        overwrite an existing file\n"
  "  -q        no message on success\n"
  "  --json\n"
  "See docs/man/hpvmsuspend.md.\n";

int cli_cmd_suspend(cli_ctx *c, int argc, char **argv) {
  srun r = {c, argc, argv, false, NULL};
  cli_optscan s;
  const char *P = NULL, *p = NULL, *f = NULL;
  bool force = false, quiet = false;
  int st = 0, opt;
  cli_optscan_init(&s, argc, argv, "P:p:f:FqQ");
  while (!st && (opt = cli_optscan_next(&s)) != CLI_OPT_END) {
    if (opt == CLI_OPT_ERR) st = cli_usage(&r, s.why);
    else if (opt == CLI_OPT_HELP) return fprintf(c->out, "%s", suspend_help), 0;
    else if (opt == CLI_OPT_JSON) r.json = true;
    else if (opt == CLI_OPT_ARG) st = cli_usage(&r, "unexpected argument (see --help)");
    else if (opt == 'P') P = s.arg;
    else if (opt == 'p') p = s.arg;
    else if (opt == 'f') f = s.arg;
    else if (opt == 'F') force = true;
    else quiet = true;
  }
  if (!st && !f) st = cli_usage(&r, "give the state file with -f file (see --help)");
  char path[PATH_MAX], *name = NULL;
  if (!st) st = vm_name(&r, P, p, &name);
  if (!st) st = absolute(&r, f, false, path);
  if (!st) {
    Hpvm__Request req = HPVM__REQUEST__INIT;
    Hpvm__SuspendVmRequest sr = HPVM__SUSPEND_VM_REQUEST__INIT;
    Hpvm__Response *resp;
    sr.name = name;
    sr.path = path;
    sr.force = force;
    req.body_case = HPVM__REQUEST__BODY_SUSPEND;
    req.suspend = &sr;
    if (!(st = cli_call_status(&r, &req, &resp))) {
      print_vm(&r, resp);
      if (!r.json && !quiet) fprintf(c->out, "%s: Successful suspend of guest '%s' to %s\n", c->cmd, name, path);
      cli_done(&r, resp);
    }
  }
  free(name);
  return st;
}

/* ---- hpvmresume --------------------------------------------------------------------------------- */

static const char resume_help[] =
  "usage: hpvmresume {-P vm_name | -p vm_number} -f file [-q]\n"
  "Resumes a virtual machine suspended with hpvmsuspend: it continues from the file where it\n"
  "stopped, on this host (its CPU entitlement, disks and lease as hpvmstart gives them). A file\n"
  "resumes once, and only the one the VM was suspended to.\n"
  "  -f file   the state file hpvmsuspend wrote\n"
  "  -q        no message on success\n"
  "  --json\n"
  "See docs/man/hpvmresume.md.\n";

int cli_cmd_resume(cli_ctx *c, int argc, char **argv) {
  srun r = {c, argc, argv, false, NULL};
  cli_optscan s;
  const char *P = NULL, *p = NULL, *f = NULL;
  bool quiet = false;
  int st = 0, opt;
  cli_optscan_init(&s, argc, argv, "P:p:f:qQ");
  while (!st && (opt = cli_optscan_next(&s)) != CLI_OPT_END) {
    if (opt == CLI_OPT_ERR) st = cli_usage(&r, s.why);
    else if (opt == CLI_OPT_HELP) return fprintf(c->out, "%s", resume_help), 0;
    else if (opt == CLI_OPT_JSON) r.json = true;
    else if (opt == CLI_OPT_ARG) st = cli_usage(&r, "unexpected argument (see --help)");
    else if (opt == 'P') P = s.arg;
    else if (opt == 'p') p = s.arg;
    else if (opt == 'f') f = s.arg;
    else quiet = true;
  }
  if (!st && !f) st = cli_usage(&r, "give the state file with -f file (see --help)");
  char path[PATH_MAX], *name = NULL;
  if (!st) st = vm_name(&r, P, p, &name);
  if (!st) st = absolute(&r, f, true, path);
  if (!st) {
    Hpvm__Request req = HPVM__REQUEST__INIT;
    Hpvm__ResumeVmRequest rr = HPVM__RESUME_VM_REQUEST__INIT;
    Hpvm__Response *resp;
    rr.name = name;
    rr.path = path;
    req.body_case = HPVM__REQUEST__BODY_RESUME;
    req.resume = &rr;
    if (!(st = cli_call_status(&r, &req, &resp))) {
      print_vm(&r, resp);
      if (!r.json && !quiet) fprintf(c->out, "%s: Successful resume of guest '%s' from %s\n", c->cmd, name, path);
      cli_done(&r, resp);
    }
  }
  free(name);
  return st;
}
