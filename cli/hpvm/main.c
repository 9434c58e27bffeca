/* main.c — hpvm, the multi-call binary of the HPVM command set.
 *
 *   hpvmcreate -P web1 ...        (hpvmcreate is a link to hpvm: the name picks the command)
 *   hpvm create -P web1 ...       (the same, as a subcommand; "hpvm hpvmcreate" works too)
 *   hpvm --help | --version
 *
 * It wires the commands (cmds.c, console.c) to the real world: stdin/stdout/stderr and
 * hpvmd's control socket through hpvmd_client ($HPVMD_SOCKET or $HPVM_STATE_DIR/hpvmd.sock,
 * else /var/lib/hpvm/hpvmd.sock). Only this file exits. */
#include <libgen.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hpvmd_client.h"

#ifndef HPVM_VERSION
#define HPVM_VERSION "0.0.0"
#endif

static int transport_call(void *ctx, const Hpvm__Request *req, Hpvm__Response **resp) {
  return hpvmd_call(ctx, req, resp);
}

static void transport_free(void *ctx, Hpvm__Response *resp) {
  (void)ctx;
  hpvmd_response_free(resp);
}

static int top_help(FILE *f, int status) {
  fprintf(f, "usage: hpvm COMMAND [OPTIONS]     (or the command's own name: hpvmcreate ...)\n"
             "HP Integrity VM's commands for hpvm's IA-64 guests:\n"
             "  create    hpvmcreate   create a virtual machine\n"
             "  modify    hpvmmodify   change one\n"
             "  clone     hpvmclone    copy one under a new name\n"
             "  remove    hpvmremove   remove one\n"
             "  start     hpvmstart    start one\n"
             "  stop      hpvmstop     stop one\n"
             "  status    hpvmstatus   show them\n"
             "  info      hpvminfo     show this host\n"
             "  console   hpvmconsole  the virtual MP and console of one\n"
             "  devmgmt   hpvmdevmgmt  create disk image files; list the devices VMs use\n"
             "  suspend   hpvmsuspend  save a running one to a file and stop it\n"
             "  resume    hpvmresume   continue one from that file\n"
             "  migrate   hpvmmigrate  move one to another host, live (-o)\n"
             "  host      hpvmhost     the hosts of the cluster: status, init, join, leave\n"
             "Each command has --help and a man page (docs/man/). hpvmd must run on this host\n"
             "(hpvmd --shared DIR); the commands find it at $HPVMD_SOCKET, or\n"
             "$HPVM_STATE_DIR/hpvmd.sock, or /var/lib/hpvm/hpvmd.sock.\n");
  return status;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  char self[256];
  snprintf(self, sizeof self, "%s", argc > 0 ? argv[0] : "hpvm");
  const char *base = basename(self);
  const char *canonical = NULL;
  cli_cmd_fn fn = strcmp(base, "hpvm") ? cli_command(base, &canonical) : NULL;
  if (!fn) {
    if (argc < 2) return top_help(stderr, 2);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return top_help(stdout, 0);
    if (!strcmp(argv[1], "--version")) {
      printf("hpvm %s\n", HPVM_VERSION);
      return 0;
    }
    if (!(fn = cli_command(argv[1], &canonical))) {
      fprintf(stderr, "hpvm: unknown command '%s' (see hpvm --help)\n", argv[1]);
      return 2;
    }
    argv++;
    argc--;
  }
  argv[0] = (char *)canonical;
  char sock[512];
  cli_ctx c = {
    .cmd = canonical,
    .in = stdin,
    .out = stdout,
    .err = stderr,
    .interactive = isatty(STDIN_FILENO),
    .t = {.call = transport_call, .free_resp = transport_free, .socket_path = hpvmd_socket_path(sock, sizeof sock)},
  };
  c.t.ctx = (void *)c.t.socket_path;
  int st = fn(&c, argc, argv);
  if (fflush(stdout) != 0 && !st) st = 1;
  return st;
}
