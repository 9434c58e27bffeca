/* cmds.c — the hpvm commands: options in, requests to hpvmd out, HPVM's output back.
 *
 * Each command checks everything it can before it asks hpvmd to change anything (syntax,
 * backing files, the host's cores and memory, devices other VMs use), so a refused command
 * leaves nothing behind; the two commands that take more than one request to hpvmd undo the
 * first when a later one fails (hpvmclone with options: clone, then modify, else remove the
 * clone and the disk copies). hpvmmodify sends only the fields it changes, and for the
 * device and attribute lists it read-modify-writes the configuration at the generation it
 * read, retrying on a concurrent change, so modifies from several shells never lose each
 * other's updates.
 *
 * Output: one line on stderr per error, "<command>: ERROR (<vm>): <what, what to do>", and
 * exit status 1 (2 for a usage error); with --json stdout also gets {"error": ...}. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#ifndef HPVM_VERSION
#define HPVM_VERSION "0.0.0"
#endif

/* ---- Shared pieces --------------------------------------------------------------------------- */

typedef cli_run run;

/* The message hpvmd (or the transport) gave, or the generic one. */
static int fail_resp(run *r, int rc, const Hpvm__Response *resp) {
  const char *m = resp && resp->message && *resp->message ? resp->message : hpvm_strerror(rc);
  return cli_fail(r, rc, "%s", m);
}

static int get_info(run *r, Hpvm__Response **resp) {
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__InfoRequest info = HPVM__INFO_REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_INFO;
  req.info = &info;
  int rc = cli_call(r, &req, resp);
  if (!rc && (*resp)->body_case != HPVM__RESPONSE__BODY_INFO) rc = HPVM_EIO;
  return rc;
}

static int get_list(run *r, Hpvm__Response **resp) {
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__ListRequest list = HPVM__LIST_REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_LIST;
  req.list = &list;
  int rc = cli_call(r, &req, resp);
  if (!rc && (*resp)->body_case != HPVM__RESPONSE__BODY_LIST) rc = HPVM_EIO;
  return rc;
}

static int get_status_of(run *r, const char *name, bool need_config, Hpvm__Response **resp) {
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__StatusRequest st = HPVM__STATUS_REQUEST__INIT;
  st.name = (char *)name;
  req.body_case = HPVM__REQUEST__BODY_STATUS;
  req.status = &st;
  int rc = cli_call(r, &req, resp);
  if (!rc && ((*resp)->body_case != HPVM__RESPONSE__BODY_VM || !(*resp)->vm ||
              (need_config && (!(*resp)->vm->config ||
                               (*resp)->vm->state == HPVM__VM_RUN_STATE__VM_RUN_STATE_BAD_RECORD)))) {
    /* A VM whose record cannot be read is listed without a configuration: say so. */
    char msg[CLI_WHY];
    const Hpvm__VmStatus *vm = (*resp)->body_case == HPVM__RESPONSE__BODY_VM ? (*resp)->vm : NULL;
    snprintf(msg, sizeof msg, "the configuration of VM %s cannot be read%s%s; restore it, or remove it with "
             "hpvmremove -F -P %s", name, vm && *vm->reason ? ": " : "", vm ? vm->reason : "", name);
    rc = vm ? HPVM_ECORRUPT : HPVM_EIO;
    cli_str_set(&(*resp)->message, msg);
  }
  return rc;
}

static int get_status(run *r, const char *name, Hpvm__Response **resp) {
  return get_status_of(r, name, true, resp);
}

/* -p N: the name of VM number N. */
static int name_of_number(run *r, uint32_t number, char **name) {
  Hpvm__Response *resp;
  int rc = get_list(r, &resp);
  if (rc) {
    fail_resp(r, rc, resp);
    cli_done(r, resp);
    return rc;
  }
  *name = NULL;
  for (size_t i = 0; i < resp->list->n_vms; i++) {
    const Hpvm__VmConfig *c = resp->list->vms[i]->config;
    if (c && c->vm_number == number) *name = strdup(c->name);
  }
  cli_done(r, resp);
  if (!*name) {
    cli_fail(r, HPVM_ENOENT, "no virtual machine has VM # %u (see hpvmstatus)", number);
    return HPVM_ENOENT;
  }
  return 0;
}

/* -P name or -p number; the name is malloc'd. Returns an exit status (0: found). */
static int vm_name_arg(run *r, const char *P, const char *p, char **name) {
  *name = NULL;
  if (P && p) return cli_usage(r, "give -P name or -p number, not both");
  if (P) {
    if (!*P) return cli_usage(r, "-P: the VM name is empty");
    *name = strdup(P);
    r->vm = *name;
    return 0;
  }
  if (!p) return cli_usage(r, "name the virtual machine with -P name (or -p number); see --help");
  uint32_t n;
  if (!cli_parse_u32(p, &n)) return cli_usage(r, "-p: the VM number is a whole number (see hpvmstatus)");
  if (name_of_number(r, n, name)) return 1;
  r->vm = *name;
  return 0;
}

static bool confirm(run *r, const char *question) {
  if (!r->c->interactive) return true;
  fprintf(r->c->out, "%s: %s [n/y]: ", r->c->cmd, question);
  fflush(r->c->out);
  char line[64];
  if (!fgets(line, sizeof line, r->c->in)) return false;
  return line[0] == 'y' || line[0] == 'Y';
}

/* hpvmd's host (hpvmd runs here: the core clock is read locally). */
static void host_of(const Hpvm__HostInfo *h, cli_host *out) {
  out->cpus = h ? h->host_cpus : 0;
  out->memory_bytes = h ? h->host_memory_bytes : 0;
  out->core_mhz = cli_host_core_mhz();
}

static int scan_error(run *r, cli_optscan *s) { return cli_usage(r, s->why); }

/* Help texts: the synopsis line, then the options. */
static int help(run *r, const char *text) {
  fprintf(r->c->out, "%s", text);
  return 0;
}

#define VM_OPTS_HELP                                                                                          \
  "  -O os_type         hpux, linux, windows, openvms or unknown\n"                                           \
  "  -c vcpus           virtual CPUs (default 1; at most the host's cores)\n"                                  \
  "  -r amount          memory: MB, or with a suffix M, G (default 2G)\n"                                      \
  "  -e percent[:max]   CPU entitlement per vCPU in percent of a host core (default 10), optional cap\n"      \
  "  -E cycles[:max]    the same in MHz\n"                                                                     \
  "  -a rsrc            add a device: disk:avio_stor::file:/PATH, disk:avio_stor::disk:/dev/X,\n"             \
  "                     dvd:avio_stor::file:/ISO, network:avio_lan::vswitch:NAME (repeatable)\n"             \
  "  -l label           a descriptive label (A-Z a-z 0-9 space - _ .)\n"                                      \
  "  -B auto|manual     start with hpvmd (auto, default) or by hand\n"                                        \
  "  -x attr=value      runnable_status, modify_status, visible_status, register_status,\n"                  \
  "                     online_migration (enabled|disabled), graceful_stop_timeout (seconds)\n"               \
  "  -K kernel          the guest kernel image (an IA-64 ELF, docs/platform.md)\n"                            \
  "  -A \"cmdline\"       the guest kernel's command line\n"                                                  \
  "  --json             print the result as JSON\n"

/* ---- hpvmcreate -------------------------------------------------------------------------------- */

static const char create_help[] =
  "usage: hpvmcreate -P vm_name [-O os_type] [-c vcpus] [-r amount] [-e percent[:max] | -E cycles[:max]]\n"
  "                  [-a rsrc]... [-l label] [-B auto|manual] [-x attr=value]... [-K kernel] [-A \"cmdline\"]\n"
  "Creates a virtual machine in the shared directory of this host's hpvmd. It does not start it.\n"
  "  -P vm_name         the name (A-Z a-z 0-9 _ - ., up to 255)\n" VM_OPTS_HELP
  "See docs/man/hpvmcreate.md.\n";

/* The other VMs (for devices already in use); resp owns them. */
static int others_of(run *r, const cli_vmopts *o, Hpvm__Response **resp, Hpvm__VmStatus ***vms, size_t *n) {
  *resp = NULL;
  *vms = NULL;
  *n = 0;
  if (!o->ndevops) return 0;
  int rc = get_list(r, resp);
  if (rc) return fail_resp(r, rc, *resp), rc;
  *vms = (*resp)->list->vms;
  *n = (*resp)->list->n_vms;
  return 0;
}

int cli_cmd_create(cli_ctx *c, int argc, char **argv) {
  run r = {c, argc, argv, false, NULL};
  cli_optscan s;
  cli_vmopts o;
  const char *name = NULL;
  char why[CLI_WHY];
  int st = 0, opt;
  bool helped = false;
  cli_vmopts_init(&o);
  cli_optscan_init(&s, argc, argv, "P:O:c:r:e:E:a:l:B:x:K:A:");
  while (!st && !helped && (opt = cli_optscan_next(&s)) != CLI_OPT_END) {
    if (opt == CLI_OPT_ERR) st = scan_error(&r, &s);
    else if (opt == CLI_OPT_HELP) helped = !help(&r, create_help);
    else if (opt == CLI_OPT_JSON) r.json = true;
    else if (opt == CLI_OPT_ARG) st = cli_usage(&r, "unexpected argument; name the VM with -P (see --help)");
    else if (opt == 'P') name = s.arg;
    else if (cli_vmopts_take(&o, opt, s.arg, why, sizeof why)) st = cli_usage(&r, why);
  }
  if (!st && !helped && !name) st = cli_usage(&r, "name the new virtual machine with -P name; see --help");
  else if (!st && !helped && !*name) st = cli_usage(&r, "-P: the VM name is empty");
  if (st || helped) {
    cli_vmopts_free(&o);
    return st;
  }
  r.vm = name;
  Hpvm__Response *info = NULL, *list = NULL, *resp = NULL;
  Hpvm__VmStatus **others;
  size_t nothers;
  Hpvm__VmConfig *cfg = NULL;
  cli_host host;
  int rc = get_info(&r, &info);
  if (rc) st = fail_resp(&r, rc, info);
  if (!st) {
    host_of(info->info, &host);
    if (others_of(&r, &o, &list, &others, &nothers)) st = 1;
  }
  if (!st && (rc = cli_vmopts_create(&o, name, &host, others, nothers, &cfg, why, sizeof why)))
    st = cli_fail(&r, rc, "%s", why);
  if (!st) {
    Hpvm__Request req = HPVM__REQUEST__INIT;
    Hpvm__CreateVmRequest cr = HPVM__CREATE_VM_REQUEST__INIT;
    cr.config = cfg;
    req.body_case = HPVM__REQUEST__BODY_CREATE;
    req.create = &cr;
    if ((rc = cli_call(&r, &req, &resp))) st = fail_resp(&r, rc, resp);
    else if (r.json && resp->body_case == HPVM__RESPONSE__BODY_VM) {
      cli_fmt_json_vm(c->out, resp->vm, info->info->host);
      fputc('\n', c->out);
    }
  }
  cli_vm_free(cfg);
  cli_done(&r, resp);
  cli_done(&r, list);
  cli_done(&r, info);
  cli_vmopts_free(&o);
  return st;
}

/* ---- hpvmmodify -------------------------------------------------------------------------------- */

static const char modify_help[] =
  "usage: hpvmmodify {-P vm_name | -p vm_number} [-N new_name] [-O os_type] [-c vcpus] [-r amount]\n"
  "                  [-e percent[:max] | -E cycles[:max]] [-a rsrc]... [-d rsrc]... [-m rsrc]...\n"
  "                  [-l label] [-B auto|manual] [-x attr=value]... [-K kernel] [-A \"cmdline\"]\n"
  "Changes a virtual machine, off or running (a running guest sees the change at its next start).\n"
  "  -P vm_name | -p vm_number   the VM\n"
  "  -N new_name        rename the VM (it must be off)\n"
  "  -d rsrc            delete a device (by bus,slot,target or by its backing store)\n"
  "  -m rsrc            change what backs the device at bus,slot,target (a NIC: its vswitch)\n" VM_OPTS_HELP
  "See docs/man/hpvmmodify.md.\n";

/* Fields whose new value depends on the old (lists): sent at the generation read. */
static bool needs_generation(char **names, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(names[i], "devices") || !strcmp(names[i], "networks") || !strcmp(names[i], "attributes")) return true;
  return false;
}

/* Only "-x modify_status=enabled" may touch a VM whose modify_status is disabled. */
static bool only_enables_modify(const cli_vmopts *o) {
  if (o->set != CLI_SET_ATTRS || o->ndevops || o->nattrs != 1) return false;
  return !strcmp(o->attrs[0].key, "modify_status") && !strcmp(o->attrs[0].value, "enabled");
}

#define MODIFY_RETRIES 20

/* Read, apply, send; again while another command changed the record in between. */
static int modify_loop(run *r, const char *name, const cli_vmopts *o, const char *new_name, Hpvm__Response **out) {
  char why[CLI_WHY];
  *out = NULL;
  for (int attempt = 0;; attempt++) {
    Hpvm__Response *cur = NULL, *info = NULL, *list = NULL, *resp = NULL;
    Hpvm__VmStatus **others;
    size_t nothers;
    char **names = NULL;
    size_t nnames = 0;
    Hpvm__VmConfig *cfg = NULL;
    cli_host host;
    int rc = get_status(r, name, &cur), st = 0;
    if (rc) st = fail_resp(r, rc, cur);
    if (!st && (rc = get_info(r, &info))) st = fail_resp(r, rc, info);
    if (!st) host_of(info->info, &host);
    if (!st && others_of(r, o, &list, &others, &nothers)) st = 1;
    if (!st) {
      const char *ms = cli_vm_attr(cur->vm->config, "modify_status");
      if (ms && !strcmp(ms, "disabled") && !only_enables_modify(o))
        st = cli_fail(r, HPVM_EPERM, "modify_status is disabled (the VM is probably registered on another host); "
                                 "only -x modify_status=enabled is accepted");
    }
    if (!st && !(cfg = cli_vm_copy(cur->vm->config))) st = cli_fail(r, HPVM_ENOMEM, "out of memory");
    if (!st && (rc = cli_vmopts_apply(o, cfg, &host, others, nothers, &names, &nnames, why, sizeof why)))
      st = cli_fail(r, rc, "%s", why);
    if (!st) {
      Hpvm__Request req = HPVM__REQUEST__INIT;
      Hpvm__ModifyVmRequest m = HPVM__MODIFY_VM_REQUEST__INIT;
      m.name = (char *)name;
      m.config = cfg;
      m.fields = names;
      m.n_fields = nnames;
      m.new_name = (char *)(new_name ? new_name : "");
      cfg->config_generation = needs_generation(names, nnames) ? cur->vm->config->config_generation : 0;
      req.body_case = HPVM__REQUEST__BODY_MODIFY;
      req.modify = &m;
      rc = cli_call(r, &req, &resp);
      if (rc == HPVM_EBUSY && attempt < MODIFY_RETRIES) {
        /* Someone changed it since we read it: read it again and re-apply. */
        cli_done(r, resp);
        resp = NULL;
        st = -1;
        struct timespec ts = {0, (long)(1 + attempt) * 2000000L};
        nanosleep(&ts, NULL);
      } else if (rc) st = fail_resp(r, rc, resp);
    }
    cli_names_free(names, nnames);
    cli_vm_free(cfg);
    cli_done(r, cur);
    cli_done(r, info);
    cli_done(r, list);
    if (st == -1) continue;
    if (st) {
      cli_done(r, resp);
      return st;
    }
    *out = resp;
    return 0;
  }
}

int cli_cmd_modify(cli_ctx *c, int argc, char **argv) {
  run r = {c, argc, argv, false, NULL};
  cli_optscan s;
  cli_vmopts o;
  const char *P = NULL, *p = NULL, *N = NULL;
  char why[CLI_WHY];
  int st = 0, opt;
  bool helped = false;
  cli_vmopts_init(&o);
  cli_optscan_init(&s, argc, argv, "P:p:N:O:c:r:e:E:a:d:m:l:B:x:K:A:");
  while (!st && !helped && (opt = cli_optscan_next(&s)) != CLI_OPT_END) {
    if (opt == CLI_OPT_ERR) st = scan_error(&r, &s);
    else if (opt == CLI_OPT_HELP) helped = !help(&r, modify_help);
    else if (opt == CLI_OPT_JSON) r.json = true;
    else if (opt == CLI_OPT_ARG) st = cli_usage(&r, "unexpected argument (see --help)");
    else if (opt == 'P') P = s.arg;
    else if (opt == 'p') p = s.arg;
    else if (opt == 'N') N = s.arg;
    else if (cli_vmopts_take(&o, opt, s.arg, why, sizeof why)) st = cli_usage(&r, why);
  }
  char *name = NULL;
  if (!st && !helped) st = vm_name_arg(&r, P, p, &name);
  if (!st && !helped && N && !*N) st = cli_usage(&r, "-N: the new name is empty");
  if (!st && !helped && !o.set && !o.ndevops && !N)
    st = cli_usage(&r, "nothing to change: give an option such as -c, -r, -a (see --help)");
  if (!st && !helped) {
    Hpvm__Response *resp = NULL;
    st = modify_loop(&r, name, &o, N, &resp);
    if (!st && r.json && resp->body_case == HPVM__RESPONSE__BODY_VM) {
      cli_fmt_json_vm(c->out, resp->vm, NULL);
      fputc('\n', c->out);
    }
    cli_done(&r, resp);
  }
  free(name);
  cli_vmopts_free(&o);
  return st;
}

/* ---- hpvmclone --------------------------------------------------------------------------------- */

static const char clone_help[] =
  "usage: hpvmclone {-P vm_name | -p vm_number} -N clone_name [-b rsrc]... [create options]...\n"
  "Creates a new virtual machine with the configuration of another (new name, UUID, VM # and MACs).\n"
  "Devices are shared with the source unless copied with -b; the source may be running.\n"
  "  -P vm_name | -p vm_number   the source VM\n"
  "  -N clone_name      the new VM's name\n"
  "  -b rsrc            copy a disk: the spec names the source disk's bus,slot,target and the new\n"
  "                     file the copy goes to, e.g. -b disk:avio_stor:0,2,0:file:/vm/clone.img\n"
  "                     (the address may be left out when the source has one disk)\n"
  "  -d rsrc, -m rsrc   delete or change a device of the clone\n" VM_OPTS_HELP
  "See docs/man/hpvmclone.md.\n";

/* The source disk a -b spec names and the file to copy it to. */
static int copy_of(run *r, const char *spec, const Hpvm__VmConfig *src, Hpvm__DiskCopy *dc) {
  char why[CLI_WHY];
  cli_spec s;
  int rc = cli_spec_parse(spec, &s, why, sizeof why);
  if (rc) return cli_usage(r, why);
  int st = 0;
  if (s.is_net || s.dev->type != HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_DISK ||
      s.dev->backing != HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_FILE)
    st = cli_usage(r, "-b copies a disk into a file: disk:avio_stor:bus,slot,target:file:/NEW/PATH");
  const Hpvm__VmStorageDevice *from = NULL;
  int disks = 0;
  for (size_t i = 0; !st && i < src->n_devices; i++) {
    const Hpvm__VmStorageDevice *d = src->devices[i];
    if (d->type != HPVM__VM_DEVICE_TYPE__VM_DEVICE_TYPE_DISK) continue;
    disks++;
    if (!s.has_bus) from = disks == 1 ? d : NULL;
    else if (d->bus == s.dev->bus && d->device == s.dev->device && (!s.has_target || d->target == s.dev->target))
      from = d;
  }
  if (!st && !from)
    st = cli_fail(r, HPVM_ENOENT,
              s.has_bus ? "-b %s: the source VM has no disk at that address (see hpvmstatus -d)"
                        : "-b %s: the source VM has several disks (or none); give the bus,slot,target to copy",
              spec);
  struct stat sb;
  if (!st && stat(s.dev->path, &sb) == 0)
    st = cli_fail(r, HPVM_EEXIST, "-b %s: %s already exists; a copy goes to a new file", spec, s.dev->path);
  if (!st && (from->backing == HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_NULL))
    st = cli_fail(r, HPVM_EINVAL, "-b %s: the source device has no media", spec);
  if (!st) {
    dc->source_path = strdup(from->path);
    dc->dest_path = strdup(s.dev->path);
    if (!dc->source_path || !dc->dest_path) st = cli_fail(r, HPVM_ENOMEM, "out of memory");
  }
  cli_spec_free(&s);
  return st;
}

/* Give every NIC of cfg that still has the source's MAC a new one (a clone must not answer
 * for its source on the wire). Returns whether anything changed. */
static bool new_macs(Hpvm__VmConfig *cfg, const Hpvm__VmConfig *src) {
  bool changed = false;
  for (size_t i = 0; i < cfg->n_networks; i++)
    for (size_t k = 0; k < src->n_networks; k++)
      if (!strcasecmp(cfg->networks[i]->mac, src->networks[k]->mac)) {
        char m[15];
        cli_mac_generate(m);
        if (!cli_str_set(&cfg->networks[i]->mac, m)) changed = true;
      }
  return changed;
}

int cli_cmd_clone(cli_ctx *c, int argc, char **argv) {
  run r = {c, argc, argv, false, NULL};
  cli_optscan s;
  cli_vmopts o;
  const char *P = NULL, *p = NULL, *N = NULL;
  char why[CLI_WHY];
  char **bspecs = NULL;
  size_t nb = 0;
  int st = 0, opt;
  bool helped = false;
  cli_vmopts_init(&o);
  cli_optscan_init(&s, argc, argv, "P:p:N:b:O:c:r:e:E:a:d:m:l:B:x:K:A:");
  while (!st && !helped && (opt = cli_optscan_next(&s)) != CLI_OPT_END) {
    if (opt == CLI_OPT_ERR) st = scan_error(&r, &s);
    else if (opt == CLI_OPT_HELP) helped = !help(&r, clone_help);
    else if (opt == CLI_OPT_JSON) r.json = true;
    else if (opt == CLI_OPT_ARG) st = cli_usage(&r, "unexpected argument (see --help)");
    else if (opt == 'P') P = s.arg;
    else if (opt == 'p') p = s.arg;
    else if (opt == 'N') N = s.arg;
    else if (opt == 'b') {
      char **b = realloc(bspecs, (nb + 1) * sizeof *b);
      if (!b) st = cli_fail(&r, HPVM_ENOMEM, "out of memory");
      else (bspecs = b)[nb++] = (char *)s.arg;
    } else if (cli_vmopts_take(&o, opt, s.arg, why, sizeof why)) st = cli_usage(&r, why);
  }
  char *src_name = NULL;
  if (!st && !helped) st = vm_name_arg(&r, P, p, &src_name);
  if (!st && !helped && (!N || !*N)) st = cli_usage(&r, "name the clone with -N clone_name; see --help");
  if (st || helped) {
    free(bspecs);
    free(src_name);
    cli_vmopts_free(&o);
    return st;
  }

  Hpvm__Response *src = NULL, *info = NULL, *list = NULL, *resp = NULL, *mresp = NULL;
  Hpvm__DiskCopy *copies = calloc(nb ? nb : 1, sizeof *copies);
  Hpvm__DiskCopy **cp = calloc(nb ? nb : 1, sizeof *cp);
  Hpvm__VmConfig *plan = NULL;
  Hpvm__VmStatus **others = NULL;
  size_t nothers = 0, ncopies = 0;
  char **names = NULL;
  size_t nnames = 0;
  bool cloned = false;
  int rc = 0;
  if (!copies || !cp) st = cli_fail(&r, HPVM_ENOMEM, "out of memory");
  if (!st && (rc = get_status(&r, src_name, &src))) st = fail_resp(&r, rc, src);
  for (size_t i = 0; !st && i < nb; i++, ncopies++) {
    hpvm__disk_copy__init(&copies[i]);
    cp[i] = &copies[i];
    st = copy_of(&r, bspecs[i], src->vm->config, &copies[i]);
  }
  if (!st && (rc = get_info(&r, &info))) st = fail_resp(&r, rc, info);
  if (!st && others_of(&r, &o, &list, &others, &nothers)) st = 1;
  /* Check the options on the plan (source + copies + options) before anything is made. */
  if (!st) {
    cli_host host;
    host_of(info->info, &host);
    plan = cli_vm_copy(src->vm->config);
    if (!plan || cli_str_set(&plan->name, N)) st = cli_fail(&r, HPVM_ENOMEM, "out of memory");
    for (size_t i = 0; !st && i < plan->n_devices; i++)
      for (size_t k = 0; k < ncopies; k++)
        if (!strcmp(plan->devices[i]->path, copies[k].source_path)) cli_str_set(&plan->devices[i]->path, copies[k].dest_path);
    if (!st && (rc = cli_vmopts_apply(&o, plan, &host, others, nothers, &names, &nnames, why, sizeof why)))
      st = cli_fail(&r, rc, "%s", why);
  }
  if (!st) {
    Hpvm__Request req = HPVM__REQUEST__INIT;
    Hpvm__CloneVmRequest cr = HPVM__CLONE_VM_REQUEST__INIT;
    cr.source = src_name;
    cr.name = (char *)N;
    cr.copies = cp;
    cr.n_copies = ncopies;
    req.body_case = HPVM__REQUEST__BODY_CLONE;
    req.clone = &cr;
    r.vm = N;
    if ((rc = cli_call(&r, &req, &resp))) st = fail_resp(&r, rc, resp);
    else if (resp->body_case != HPVM__RESPONSE__BODY_VM || !resp->vm->config)
      st = cli_fail(&r, HPVM_EIO, "hpvmd answered the clone without the new VM");
    else cloned = true;
  }
  /* Then the options (and new MACs) on the clone as hpvmd made it. */
  if (!st) {
    Hpvm__VmConfig *cfg = cli_vm_copy(resp->vm->config);
    char **n2 = NULL;
    size_t nn2 = 0;
    cli_host host;
    host_of(info->info, &host);
    if (!cfg) st = cli_fail(&r, HPVM_ENOMEM, "out of memory");
    else if ((rc = cli_vmopts_apply(&o, cfg, &host, others, nothers, &n2, &nn2, why, sizeof why)))
      st = cli_fail(&r, rc, "%s", why);
    if (!st && new_macs(cfg, src->vm->config)) {
      bool have = false;
      for (size_t i = 0; i < nn2; i++) have |= !strcmp(n2[i], "networks");
      char **a = have ? n2 : realloc(n2, (nn2 + 1) * sizeof *a);
      if (!a) st = cli_fail(&r, HPVM_ENOMEM, "out of memory");
      else if (!have) {
        n2 = a;
        if ((n2[nn2] = strdup("networks"))) nn2++;
      }
    }
    if (!st && nn2) {
      Hpvm__Request req = HPVM__REQUEST__INIT;
      Hpvm__ModifyVmRequest m = HPVM__MODIFY_VM_REQUEST__INIT;
      m.name = (char *)N;
      m.config = cfg;
      m.fields = n2;
      m.n_fields = nn2;
      req.body_case = HPVM__REQUEST__BODY_MODIFY;
      req.modify = &m;
      if ((rc = cli_call(&r, &req, &mresp))) st = fail_resp(&r, rc, mresp);
    }
    cli_names_free(n2, nn2);
    cli_vm_free(cfg);
  }
  if (st && cloned) {
    /* Nothing half-done: the clone and the copies made for it go again. */
    Hpvm__Request req = HPVM__REQUEST__INIT;
    Hpvm__RemoveVmRequest rm = HPVM__REMOVE_VM_REQUEST__INIT;
    Hpvm__Response *rresp = NULL;
    rm.name = (char *)N;
    rm.force = true;
    req.body_case = HPVM__REQUEST__BODY_REMOVE;
    req.remove = &rm;
    if (cli_call(&r, &req, &rresp))
      fprintf(c->err, "%s: the clone '%s' could not be removed again: %s\n", c->cmd, N,
              rresp && rresp->message ? rresp->message : "no answer");
    cli_done(&r, rresp);
    for (size_t i = 0; i < ncopies; i++)
      if (copies[i].dest_path) unlink(copies[i].dest_path);
  }
  if (!st) {
    const Hpvm__Response *last = mresp ? mresp : resp;
    if (r.json && last->body_case == HPVM__RESPONSE__BODY_VM) {
      cli_fmt_json_vm(c->out, last->vm, info->info->host);
      fputc('\n', c->out);
    } else if (!r.json)
      for (size_t i = 0; i < ncopies; i++) fprintf(c->out, "%s: Virtual storage cloned successfully.\n", c->cmd);
  }
  for (size_t i = 0; i < ncopies; i++) {
    free(copies[i].source_path == protobuf_c_empty_string ? NULL : copies[i].source_path);
    free(copies[i].dest_path == protobuf_c_empty_string ? NULL : copies[i].dest_path);
  }
  free(copies);
  free(cp);
  cli_names_free(names, nnames);
  cli_vm_free(plan);
  cli_done(&r, mresp);
  cli_done(&r, resp);
  cli_done(&r, list);
  cli_done(&r, info);
  cli_done(&r, src);
  free(bspecs);
  free(src_name);
  cli_vmopts_free(&o);
  return st;
}

/* ---- hpvmremove -------------------------------------------------------------------------------- */

static const char remove_help[] =
  "usage: hpvmremove {-P vm_name | -p vm_number} [-F] [-q]\n"
  "Removes a virtual machine's configuration from the shared directory. Its disk images stay.\n"
  "  -F   remove it even when it runs (it is powered off first) or its record is damaged\n"
  "  -q   do not ask for confirmation (asked only when stdin is a terminal)\n"
  "  --json\n"
  "See docs/man/hpvmremove.md.\n";

int cli_cmd_remove(cli_ctx *c, int argc, char **argv) {
  run r = {c, argc, argv, false, NULL};
  cli_optscan s;
  const char *P = NULL, *p = NULL;
  bool force = false, quiet = false;
  int st = 0, opt;
  cli_optscan_init(&s, argc, argv, "P:p:FqQ");
  while (!st && (opt = cli_optscan_next(&s)) != CLI_OPT_END) {
    if (opt == CLI_OPT_ERR) st = scan_error(&r, &s);
    else if (opt == CLI_OPT_HELP) return help(&r, remove_help);
    else if (opt == CLI_OPT_JSON) r.json = true;
    else if (opt == CLI_OPT_ARG) st = cli_usage(&r, "unexpected argument (see --help)");
    else if (opt == 'P') P = s.arg;
    else if (opt == 'p') p = s.arg;
    else if (opt == 'F') force = true;
    else quiet = true;
  }
  char *name = NULL;
  if (!st) st = vm_name_arg(&r, P, p, &name);
  if (!st && !quiet) {
    char q[400];
    snprintf(q, sizeof q, "Remove the virtual machine '%s'?", name);
    if (!confirm(&r, q)) {
      free(name);
      return cli_fail(&r, HPVM_EINVAL, "not removed");
    }
  }
  if (!st) {
    Hpvm__Request req = HPVM__REQUEST__INIT;
    Hpvm__RemoveVmRequest rm = HPVM__REMOVE_VM_REQUEST__INIT;
    Hpvm__Response *resp = NULL;
    rm.name = name;
    rm.force = force;
    req.body_case = HPVM__REQUEST__BODY_REMOVE;
    req.remove = &rm;
    int rc = cli_call(&r, &req, &resp);
    if (rc) st = fail_resp(&r, rc, resp);
    else if (r.json) fprintf(c->out, "{\"removed\":true}\n");
    cli_done(&r, resp);
  }
  free(name);
  return st;
}

/* ---- hpvmstart / hpvmstop ---------------------------------------------------------------------- */

static const char start_help[] =
  "usage: hpvmstart {-P vm_name | -p vm_number} [-q]\n"
  "Starts a virtual machine on this host (hpvmd runs it in its own hpvmapp process).\n"
  "  -q   no message on success\n"
  "  --json\n"
  "See docs/man/hpvmstart.md.\n";

int cli_cmd_start(cli_ctx *c, int argc, char **argv) {
  run r = {c, argc, argv, false, NULL};
  cli_optscan s;
  const char *P = NULL, *p = NULL;
  bool quiet = false;
  int st = 0, opt;
  cli_optscan_init(&s, argc, argv, "P:p:qQ");
  while (!st && (opt = cli_optscan_next(&s)) != CLI_OPT_END) {
    if (opt == CLI_OPT_ERR) st = scan_error(&r, &s);
    else if (opt == CLI_OPT_HELP) return help(&r, start_help);
    else if (opt == CLI_OPT_JSON) r.json = true;
    else if (opt == CLI_OPT_ARG) st = cli_usage(&r, "unexpected argument (see --help)");
    else if (opt == 'P') P = s.arg;
    else if (opt == 'p') p = s.arg;
    else quiet = true;
  }
  char *name = NULL;
  if (!st) st = vm_name_arg(&r, P, p, &name);
  if (!st) {
    Hpvm__Request req = HPVM__REQUEST__INIT;
    Hpvm__StartVmRequest sr = HPVM__START_VM_REQUEST__INIT;
    Hpvm__Response *resp = NULL;
    sr.name = name;
    req.body_case = HPVM__REQUEST__BODY_START;
    req.start = &sr;
    int rc = cli_call(&r, &req, &resp);
    if (rc) st = fail_resp(&r, rc, resp);
    else if (r.json && resp->body_case == HPVM__RESPONSE__BODY_VM) {
      cli_fmt_json_vm(c->out, resp->vm, NULL);
      fputc('\n', c->out);
    } else if (!r.json && !quiet)
      fprintf(c->out, "%s: Successful start initiation of guest '%s'\n", c->cmd, name);
    cli_done(&r, resp);
  }
  free(name);
  return st;
}

static const char stop_help[] =
  "usage: hpvmstop {-P vm_name | -p vm_number} [-g [-t seconds]] [-F] [-n] [-q]\n"
  "Stops a virtual machine. Without -g it is powered off, as pulling the plug would.\n"
  "  -g           graceful: ask the guest to shut down; power off after the timeout\n"
  "  -t seconds   the graceful timeout (default: the VM's graceful_stop_timeout, else 30)\n"
  "  -F           force: power off at once, without confirmation, whatever the state\n"
  "  -n           do not wait for the VM to be off\n"
  "  -q           do not ask for confirmation (asked only when stdin is a terminal)\n"
  "  --json\n"
  "See docs/man/hpvmstop.md.\n";

int cli_cmd_stop(cli_ctx *c, int argc, char **argv) {
  run r = {c, argc, argv, false, NULL};
  cli_optscan s;
  const char *P = NULL, *p = NULL, *t = NULL;
  bool graceful = false, force = false, quiet = false, nowait = false;
  int st = 0, opt;
  cli_optscan_init(&s, argc, argv, "P:p:gFhnqQt:");
  while (!st && (opt = cli_optscan_next(&s)) != CLI_OPT_END) {
    if (opt == CLI_OPT_ERR) st = scan_error(&r, &s);
    else if (opt == CLI_OPT_HELP) return help(&r, stop_help);
    else if (opt == CLI_OPT_JSON) r.json = true;
    else if (opt == CLI_OPT_ARG) st = cli_usage(&r, "unexpected argument (see --help)");
    else if (opt == 'P') P = s.arg;
    else if (opt == 'p') p = s.arg;
    else if (opt == 'g') graceful = true;
    else if (opt == 'F') force = true;
    else if (opt == 'h') force = false;
    else if (opt == 'n') nowait = true;
    else if (opt == 't') t = s.arg;
    else quiet = true;
  }
  uint32_t timeout = 0;
  if (!st && graceful && force) st = cli_usage(&r, "-g (graceful) and -F (power off now) exclude each other");
  if (!st && t && !graceful) st = cli_usage(&r, "-t is the graceful timeout: give it with -g");
  if (!st && t && (!cli_parse_u32(t, &timeout) || !timeout || timeout > 3600))
    st = cli_usage(&r, "-t: the graceful timeout is 1 to 3600 seconds");
  char *name = NULL;
  if (!st) st = vm_name_arg(&r, P, p, &name);
  if (!st && !graceful && !force && !quiet) {
    char q[400];
    snprintf(q, sizeof q, "Power off the virtual machine '%s'?", name);
    if (!confirm(&r, q)) {
      free(name);
      return cli_fail(&r, HPVM_EINVAL, "not stopped");
    }
  }
  if (!st && graceful && !t) {
    /* The VM's own graceful_stop_timeout, else hpvmd's default. */
    Hpvm__Response *cur = NULL;
    int rc = get_status(&r, name, &cur);
    if (rc) st = fail_resp(&r, rc, cur);
    else {
      const char *a = cli_vm_attr(cur->vm->config, "graceful_stop_timeout");
      if (a && !cli_parse_u32(a, &timeout)) timeout = 0;
    }
    cli_done(&r, cur);
  }
  if (!st) {
    Hpvm__Request req = HPVM__REQUEST__INIT;
    Hpvm__StopVmRequest sr = HPVM__STOP_VM_REQUEST__INIT;
    Hpvm__Response *resp = NULL;
    sr.name = name;
    sr.mode = graceful ? HPVM__STOP_MODE__STOP_MODE_GRACEFUL : HPVM__STOP_MODE__STOP_MODE_POWER_OFF;
    sr.timeout_ms = timeout * 1000u;
    sr.no_wait = nowait;
    req.body_case = HPVM__REQUEST__BODY_STOP;
    req.stop = &sr;
    int rc = cli_call(&r, &req, &resp);
    if (rc) st = fail_resp(&r, rc, resp);
    else if (r.json && resp->body_case == HPVM__RESPONSE__BODY_VM) {
      cli_fmt_json_vm(c->out, resp->vm, NULL);
      fputc('\n', c->out);
    }
    cli_done(&r, resp);
  }
  free(name);
  return st;
}

/* ---- hpvmstatus -------------------------------------------------------------------------------- */

static const char status_help[] =
  "usage: hpvmstatus [{-P vm_name | -p vm_number}] [-V | -M | -X | -d] [--json]\n"
  "Shows the virtual machines of the shared directory: every host's, with the host running each.\n"
  "  (none)   the [Virtual Machines] table\n"
  "  -P, -p   one VM's details\n"
  "  -V       verbose: every field\n"
  "  -M       machine-readable: one colon-separated line per VM\n"
  "  -X       XML\n"
  "  -d       the VM's devices as resource specs (with -P)\n"
  "  --json   JSON\n"
  "See docs/man/hpvmstatus.md.\n";

int cli_cmd_status(cli_ctx *c, int argc, char **argv) {
  run r = {c, argc, argv, false, NULL};
  cli_optscan s;
  const char *P = NULL, *p = NULL;
  bool V = false, M = false, X = false, d = false;
  int st = 0, opt;
  cli_optscan_init(&s, argc, argv, "P:p:VMXd");
  while (!st && (opt = cli_optscan_next(&s)) != CLI_OPT_END) {
    if (opt == CLI_OPT_ERR) st = scan_error(&r, &s);
    else if (opt == CLI_OPT_HELP) return help(&r, status_help);
    else if (opt == CLI_OPT_JSON) r.json = true;
    else if (opt == CLI_OPT_ARG) st = cli_usage(&r, "unexpected argument (see --help)");
    else if (opt == 'P') P = s.arg;
    else if (opt == 'p') p = s.arg;
    else if (opt == 'V') V = true;
    else if (opt == 'M') M = true;
    else if (opt == 'X') X = true;
    else d = true;
  }
  if (!st && (M + X + d + r.json) > 1) st = cli_usage(&r, "-M, -X, -d and --json are different formats: choose one");
  if (!st && d && !P && !p) st = cli_usage(&r, "-d shows one VM's devices: give -P vm_name");
  if (st) return st;
  Hpvm__Response *info = NULL, *resp = NULL;
  int rc = get_info(&r, &info);
  if (rc) {
    st = fail_resp(&r, rc, info);
    cli_done(&r, info);
    return st;
  }
  const char *me = info->info->host;
  if (P || p) {
    char *name = NULL;
    st = vm_name_arg(&r, P, p, &name);
    /* A damaged record is shown (as Invalid, with the reason), not refused. */
    if (!st && (rc = get_status_of(&r, name, false, &resp))) st = fail_resp(&r, rc, resp);
    if (!st) {
      const Hpvm__VmStatus *vm = resp->vm;
      if (r.json) {
        cli_fmt_json_vm(c->out, vm, me);
        fputc('\n', c->out);
      } else if (M) cli_fmt_machine(c->out, vm, me);
      else if (X) cli_fmt_xml(c->out, &resp->vm, 1, me);
      else if (d) cli_fmt_devspecs(c->out, vm);
      else cli_fmt_detail(c->out, vm, V, me);
    }
    free(name);
  } else {
    if ((rc = get_list(&r, &resp))) st = fail_resp(&r, rc, resp);
    else {
      Hpvm__VmStatus **vms = resp->list->vms;
      size_t n = resp->list->n_vms;
      if (r.json) cli_fmt_json_list(c->out, vms, n, me);
      else if (M)
        for (size_t i = 0; i < n; i++) cli_fmt_machine(c->out, vms[i], me);
      else if (X) cli_fmt_xml(c->out, vms, n, me);
      else if (V)
        for (size_t i = 0; i < n; i++) {
          if (i) fputc('\n', c->out);
          cli_fmt_detail(c->out, vms[i], true, me);
        }
      else if (!n) fprintf(c->out, "%s: No virtual machines are configured in %s.\n", c->cmd, info->info->shared_dir);
      else cli_fmt_table(c->out, vms, n, me);
    }
  }
  cli_done(&r, resp);
  cli_done(&r, info);
  return st;
}

/* ---- hpvminfo ---------------------------------------------------------------------------------- */

static const char info_help[] =
  "usage: hpvminfo [-v | -V | -M] [--json]\n"
  "Says whether this is an hpvm host; -V shows its hpvmd, shared directory, cores and memory.\n"
  "  -v   the hpvm version\n"
  "  -V   details from hpvmd\n"
  "  -M   the details as one colon-separated line\n"
  "See docs/man/hpvminfo.md.\n";

int cli_cmd_info(cli_ctx *c, int argc, char **argv) {
  run r = {c, argc, argv, false, NULL};
  cli_optscan s;
  bool v = false, V = false, M = false;
  int st = 0, opt;
  cli_optscan_init(&s, argc, argv, "vVM");
  while (!st && (opt = cli_optscan_next(&s)) != CLI_OPT_END) {
    if (opt == CLI_OPT_ERR) st = scan_error(&r, &s);
    else if (opt == CLI_OPT_HELP) return help(&r, info_help);
    else if (opt == CLI_OPT_JSON) r.json = true;
    else if (opt == CLI_OPT_ARG) st = cli_usage(&r, "unexpected argument (see --help)");
    else if (opt == 'v') v = true;
    else if (opt == 'V') V = true;
    else M = true;
  }
  if (st) return st;
  if (v && !V && !M && !r.json) {
    fprintf(c->out, "%s: hpvm version %s\n", c->cmd, HPVM_VERSION);
    return 0;
  }
  if (!V && !M && !r.json) {
    /* Like HPVM's: where are we. The guest side does not exist here: we are always a host. */
    fprintf(c->out, "%s: Running on an HPVM host.\n", c->cmd);
    return 0;
  }
  Hpvm__Response *resp = NULL;
  int rc = get_info(&r, &resp);
  if (rc) st = fail_resp(&r, rc, resp);
  else {
    const Hpvm__HostInfo *h = resp->info;
    char mem[32], started[64];
    cli_format_memory(h->host_memory_bytes & ~((1ull << 20) - 1), mem, sizeof mem);
    if (r.json) cli_fmt_json_host(c->out, h);
    else if (M)
      fprintf(c->out, "%s:%s:%u:%" PRIu64 ":%u:%u:%s:%s:%d\n", h->host, h->version, h->host_cpus,
              h->host_memory_bytes >> 20, h->vms_total, h->vms_running, h->shared_dir, h->state_dir, h->pid);
    else {
      time_t t = (time_t)(h->started_ns / 1000000000);
      struct tm tm;
      gmtime_r(&t, &tm);
      strftime(started, sizeof started, "%Y-%m-%d %H:%M:%S UTC", &tm);
      fprintf(c->out, "%s: Running on an HPVM host.\n\n[HPVM Host Details]\n", c->cmd);
      fprintf(c->out, "Host name                : %s\n", h->host);
      fprintf(c->out, "hpvm version             : %s (commands %s)\n", h->version, HPVM_VERSION);
      fprintf(c->out, "hpvmd pid                : %d\n", h->pid);
      fprintf(c->out, "hpvmd started            : %s\n", started);
      fprintf(c->out, "Shared directory         : %s\n", h->shared_dir);
      fprintf(c->out, "State directory          : %s\n", h->state_dir);
      fprintf(c->out, "Peer address             : %s\n", *h->listen ? h->listen : "-");
      fprintf(c->out, "Host cores               : %u\n", h->host_cpus);
      fprintf(c->out, "Host memory              : %s\n", mem);
      fprintf(c->out, "Virtual machines         : %u (%u running here)\n", h->vms_total, h->vms_running);
    }
  }
  cli_done(&r, resp);
  return st;
}

/* ---- hpvmdevmgmt ------------------------------------------------------------------------------- */

static const char devmgmt_help[] =
  "usage: hpvmdevmgmt -S size file\n"
  "       hpvmdevmgmt -l {gdev | all} [--json]\n"
  "  -S size file   create file as a sparse disk image of size bytes (suffix M, G, T; a number alone\n"
  "                 is megabytes); works without hpvmd\n"
  "  -l gdev        the guest devices: every backing store a VM uses, and which VMs use it\n"
  "See docs/man/hpvmdevmgmt.md.\n";

static void list_gdev(run *r, Hpvm__VmStatus *const *vms, size_t n) {
  FILE *o = r->c->out;
  /* Each path once, in the order first met, with every VM that names it. */
  bool first = true;
  if (r->json) fprintf(o, "{\"gdev\":[");
  for (size_t i = 0; i < n; i++) {
    const Hpvm__VmConfig *c = vms[i]->config;
    for (size_t k = 0; c && k < c->n_devices; k++) {
      const Hpvm__VmStorageDevice *d = c->devices[k];
      if (d->backing == HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_NULL) continue;
      bool seen = false;
      for (size_t i2 = 0; i2 <= i && !seen; i2++) {
        const Hpvm__VmConfig *c2 = vms[i2]->config;
        for (size_t k2 = 0; c2 && k2 < (i2 == i ? k : c2->n_devices) && !seen; k2++)
          seen = !strcmp(c2->devices[k2]->path, d->path);
      }
      if (seen) continue;
      struct stat sb;
      bool exists = stat(d->path, &sb) == 0;
      if (r->json) {
        fprintf(o, "%s{\"path\":", first ? "" : ",");
        cli_json_str(o, d->path);
        fprintf(o, ",\"exists\":%s,\"devtype\":\"%s\",\"size\":%lld,\"dependents\":[", exists ? "true" : "false",
                cli_backing_name(d->backing), exists ? (long long)sb.st_size : 0LL);
      } else {
        fprintf(o, "%s:CONFIG=gdev,EXIST=%s,DEVTYPE=%s,SHARE=NO", d->path, exists ? "YES" : "NO",
                d->backing == HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_FILE ? "FILE"
                : d->backing == HPVM__VM_BACKING_TYPE__VM_BACKING_TYPE_LV ? "LV" : "DISK");
        if (exists) fprintf(o, ",SIZE=%lld", (long long)sb.st_size);
        fputc(':', o);
      }
      first = false;
      bool firstdep = true;
      for (size_t i2 = i; i2 < n; i2++) {
        const Hpvm__VmConfig *c2 = vms[i2]->config;
        for (size_t k2 = 0; c2 && k2 < c2->n_devices; k2++)
          if (!strcmp(c2->devices[k2]->path, d->path)) {
            if (r->json) {
              fputs(firstdep ? "" : ",", o);
              cli_json_str(o, c2->name);
            } else fprintf(o, "%s%s", firstdep ? "" : ",", c2->name);
            firstdep = false;
            break;
          }
      }
      fputs(r->json ? "]}" : ":\n", o);
    }
  }
  if (r->json) fprintf(o, "]}\n");
}

int cli_cmd_devmgmt(cli_ctx *c, int argc, char **argv) {
  run r = {c, argc, argv, false, NULL};
  cli_optscan s;
  const char *S = NULL, *l = NULL, *file = NULL;
  int st = 0, opt;
  cli_optscan_init(&s, argc, argv, "S:l:V");
  while (!st && (opt = cli_optscan_next(&s)) != CLI_OPT_END) {
    if (opt == CLI_OPT_ERR) st = scan_error(&r, &s);
    else if (opt == CLI_OPT_HELP) return help(&r, devmgmt_help);
    else if (opt == CLI_OPT_JSON) r.json = true;
    else if (opt == CLI_OPT_ARG) {
      if (file) st = cli_usage(&r, "-S takes one file (see --help)");
      file = s.arg;
    } else if (opt == 'S') S = s.arg;
    else if (opt == 'l') l = s.arg;
  }
  if (!st && S && l) st = cli_usage(&r, "-S and -l are different commands: give one");
  if (!st && !S && !l) st = cli_usage(&r, "give -S size file, or -l gdev (see --help)");
  if (st) return st;
  if (l) {
    if (file) return cli_usage(&r, "unexpected argument (see --help)");
    if (strcmp(l, "gdev") && strcmp(l, "all"))
      return cli_usage(&r, "-l: hpvm keeps guest devices (gdev) only; restricted and server devices do not exist here");
    Hpvm__Response *resp = NULL;
    int rc = get_list(&r, &resp);
    if (rc) st = fail_resp(&r, rc, resp);
    else list_gdev(&r, resp->list->vms, resp->list->n_vms);
    cli_done(&r, resp);
    return st;
  }
  if (!file) return cli_usage(&r, "-S size file: name the file to create");
  uint64_t size;
  if (cli_parse_size(S, 1ull << 20, &size)) return cli_usage(&r, "-S: the size is a number of MB or has a suffix: 512M, 10G, 1T");
  char why[CLI_WHY];
  int rc = cli_sparse_create(file, size, why, sizeof why);
  if (rc) return cli_fail(&r, rc, "%s", why);
  if (r.json) {
    fprintf(c->out, "{\"path\":");
    cli_json_str(c->out, file);
    fprintf(c->out, ",\"size\":%" PRIu64 "}\n", size);
  }
  return 0;
}

/* ---- The table of commands --------------------------------------------------------------------- */

const char *const cli_command_names[] = {"hpvmcreate", "hpvmmodify", "hpvmclone", "hpvmremove", "hpvmstart",
                                         "hpvmstop",   "hpvmstatus", "hpvminfo",  "hpvmconsole", "hpvmdevmgmt",
                                         "hpvmsuspend", "hpvmresume", "hpvmmigrate", "hpvmhost", NULL};

static const struct {
  const char *name;
  cli_cmd_fn fn;
} commands[] = {
  {"hpvmcreate", cli_cmd_create}, {"hpvmmodify", cli_cmd_modify},   {"hpvmclone", cli_cmd_clone},
  {"hpvmremove", cli_cmd_remove}, {"hpvmstart", cli_cmd_start},     {"hpvmstop", cli_cmd_stop},
  {"hpvmstatus", cli_cmd_status}, {"hpvminfo", cli_cmd_info},       {"hpvmconsole", cli_cmd_console},
  {"hpvmdevmgmt", cli_cmd_devmgmt},
  {"hpvmsuspend", cli_cmd_suspend}, {"hpvmresume", cli_cmd_resume},
  {"hpvmmigrate", cli_cmd_migrate}, {"hpvmhost", cli_cmd_host},
};

cli_cmd_fn cli_command(const char *name, const char **canonical) {
  const char *short_name = !strncmp(name, "hpvm", 4) ? name + 4 : name;
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (!strcmp(commands[i].name + 4, short_name)) {
      if (canonical) *canonical = commands[i].name;
      return commands[i].fn;
    }
  return NULL;
}
