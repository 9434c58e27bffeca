/* console.c — hpvmconsole: the vMP menu (vmp.c) wired to a terminal and to hpvmd.
 *
 *   hpvmconsole -P vm            interactive: the menu; CO shows the guest's console (Ctrl-B
 *                                returns), CM powers it on/off, resets it
 *   hpvmconsole -P vm -c "cmd"   one menu command and exit ("pc -on", "cl", "co" follows the
 *                                console until the VM stops or the command is interrupted)
 *
 * The guest's output arrives as ConsoleData on the stream hpvmd_console_attach opens; every
 * byte of it goes into a local log (the replay hpvmd sends at attach first, so "Prior Console
 * Output" and CL show what the guest printed before this viewer came), and to the terminal
 * while the menu is in CO. Several viewers may attach at once; -r makes this one read only.
 * The stream closes when the VM stops; the menu stays, and PC -on attaches again. The
 * terminal is raw while the menu runs (Ctrl-C is a key for the guest in CO) and restored on
 * every way out; SIGINT/SIGTERM/SIGHUP arrive through a signalfd and end the session. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "hpvmd_client.h"

#define CON_REPLAY_BYTES (256u << 10)  /* asked of hpvmd at attach */
#define CON_LOG_MAX (1u << 20)         /* kept here; the oldest half goes past it */
#define CON_PRIOR_BYTES (2u << 10)     /* shown as "Prior Console Output" (CL: all) */

typedef struct con {
  cli_ctx *c;
  char *name;
  bool read_only;
  int fd;                              /* the console stream, -1 when detached */
  bool warned;                         /* "not running" said once per CO */
  char *log;
  size_t loglen;
  char events[32][200];                /* this session's events, a ring */
  unsigned nevents;
  cli_vmp vmp;
} con;

/* ---- Talking to hpvmd ------------------------------------------------------------------------ */

static void free_resp(con *k, Hpvm__Response *r) {
  if (r) k->c->t.free_resp(k->c->t.ctx, r);
}

static void event(con *k, const char *fmt, const char *arg) {
  char when[32];
  time_t t = time(NULL);
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
  char *e = k->events[k->nevents++ % 32];
  int n = snprintf(e, 200, "%s  ", when);
  snprintf(e + n, 200 - (size_t)n, fmt, arg);
}

static void log_append(con *k, const void *data, size_t len) {
  if (!len) return;
  if (len > CON_LOG_MAX) {
    data = (const char *)data + (len - CON_LOG_MAX);
    len = CON_LOG_MAX;
  }
  if (k->loglen + len > CON_LOG_MAX) {
    size_t drop = k->loglen + len - CON_LOG_MAX / 2;
    if (drop > k->loglen) drop = k->loglen;
    memmove(k->log, k->log + drop, k->loglen - drop);
    k->loglen -= drop;
  }
  char *l = realloc(k->log, k->loglen + len + 1);
  if (!l) return;
  k->log = l;
  memcpy(k->log + k->loglen, data, len);
  k->loglen += len;
}

static int request(con *k, Hpvm__Request *req, Hpvm__Response **resp, char *why, size_t whylen) {
  char *argv[] = {(char *)k->c->cmd, "-P", k->name};
  req->n_argv = 3;
  req->argv = argv;
  *resp = NULL;
  int rc = k->c->t.call(k->c->t.ctx, req, resp);
  if (!rc && *resp && (*resp)->error) rc = (*resp)->error;
  if (rc && why) snprintf(why, whylen, "%s", *resp && *(*resp)->message ? (*resp)->message : hpvm_strerror(rc));
  return rc;
}

static int attach(con *k, char *why, size_t whylen) {
  if (k->fd >= 0) return 0;
  Hpvm__ConsoleAttachRequest a = HPVM__CONSOLE_ATTACH_REQUEST__INIT;
  Hpvm__Response *resp = NULL;
  a.name = k->name;
  a.read_only = k->read_only;
  a.replay_bytes = CON_REPLAY_BYTES;
  int rc = hpvmd_console_attach(k->c->t.socket_path, &a, &k->fd, &resp);
  if (rc) {
    if (why) snprintf(why, whylen, "%s", resp && *resp->message ? resp->message : hpvm_strerror(rc));
  } else {
    /* The replay is the end of the VM's console log: what this session has not seen. */
    if (!k->loglen && resp->body_case == HPVM__RESPONSE__BODY_CONSOLE_REPLAY)
      log_append(k, resp->console_replay.data, resp->console_replay.len);
    event(k, "%s", "console attached");
    k->warned = false;
  }
  hpvmd_response_free(resp);
  return rc;
}

static void detach(con *k, const char *why) {
  if (k->fd < 0) return;
  close(k->fd);
  k->fd = -1;
  event(k, "console detached: %s", why);
}

static int stop_vm(con *k, int mode, char *why, size_t whylen) {
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__StopVmRequest s = HPVM__STOP_VM_REQUEST__INIT;
  Hpvm__Response *resp;
  s.name = k->name;
  s.mode = mode;
  req.body_case = HPVM__REQUEST__BODY_STOP;
  req.stop = &s;
  int rc = request(k, &req, &resp, why, whylen);
  free_resp(k, resp);
  return rc;
}

static int start_vm(con *k, char *why, size_t whylen) {
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__StartVmRequest s = HPVM__START_VM_REQUEST__INIT;
  Hpvm__Response *resp;
  s.name = k->name;
  req.body_case = HPVM__REQUEST__BODY_START;
  req.start = &s;
  int rc = request(k, &req, &resp, why, whylen);
  free_resp(k, resp);
  if (!rc) attach(k, NULL, 0);
  return rc;
}

/* ---- The menu's hooks ------------------------------------------------------------------------ */

static void op_send(void *ctx, const void *data, size_t len) {
  con *k = ctx;
  if (k->fd < 0) {
    if (!k->warned)
      fprintf(k->c->out, "\r\n[%s is not running: Ctrl-B, then CM and PC -on to power it on]\r\n", k->name);
    k->warned = true;
    fflush(k->c->out);
    return;
  }
  if (k->read_only) {
    if (!k->warned) fprintf(k->c->out, "\r\n[read-only viewer: keystrokes are not sent]\r\n");
    k->warned = true;
    fflush(k->c->out);
    return;
  }
  if (hpvmd_console_send(k->fd, data, len)) detach(k, "hpvmd closed the stream");
}

static int op_power(void *ctx, int action, char *why, size_t whylen) {
  con *k = ctx;
  switch (action) {
  case CLI_VMP_ACT_POWER_ON:
    event(k, "%s", "power on requested");
    return start_vm(k, why, whylen);
  case CLI_VMP_ACT_POWER_OFF:
    event(k, "%s", "power off requested");
    return stop_vm(k, HPVM__STOP_MODE__STOP_MODE_POWER_OFF, why, whylen);
  case CLI_VMP_ACT_GRACEFUL_OFF:
    event(k, "%s", "graceful shutdown requested");
    return stop_vm(k, HPVM__STOP_MODE__STOP_MODE_GRACEFUL, why, whylen);
  case CLI_VMP_ACT_RESET:
  case CLI_VMP_ACT_TC: {
    event(k, "%s", action == CLI_VMP_ACT_TC ? "transfer of control requested" : "reset requested");
    int rc = stop_vm(k, HPVM__STOP_MODE__STOP_MODE_POWER_OFF, why, whylen);
    detach(k, "reset");
    return rc ? rc : start_vm(k, why, whylen);
  }
  default:
    snprintf(why, whylen, "unknown action");
    return HPVM_EINVAL;
  }
}

static void op_status(void *ctx, FILE *out) {
  con *k = ctx;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__StatusRequest s = HPVM__STATUS_REQUEST__INIT;
  Hpvm__Response *resp;
  char why[CLI_WHY];
  s.name = k->name;
  req.body_case = HPVM__REQUEST__BODY_STATUS;
  req.status = &s;
  if (request(k, &req, &resp, why, sizeof why) || resp->body_case != HPVM__RESPONSE__BODY_VM)
    fprintf(out, "-> %s\n", why);
  else cli_fmt_detail(out, resp->vm, false, NULL);
  free_resp(k, resp);
  fflush(out);
}

static void op_console_log(void *ctx, FILE *out) {
  con *k = ctx;
  if (k->loglen) fwrite(k->log, 1, k->loglen, out);
  else fprintf(out, "(the console log is empty)");
  fflush(out);
}

static void op_event_log(void *ctx, FILE *out) {
  con *k = ctx;
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__StatusRequest s = HPVM__STATUS_REQUEST__INIT;
  Hpvm__Response *resp;
  char why[CLI_WHY];
  s.name = k->name;
  req.body_case = HPVM__REQUEST__BODY_STATUS;
  req.status = &s;
  if (!request(k, &req, &resp, why, sizeof why) && resp->body_case == HPVM__RESPONSE__BODY_VM) {
    const Hpvm__VmStatus *vm = resp->vm;
    fprintf(out, "State: %s", cli_state_name(vm));
    if (*vm->host) fprintf(out, " on %s (pid %d)", vm->host, vm->pid);
    fprintf(out, "\r\nLast exit status: %d%s%s\r\n", vm->exit_status, *vm->reason ? ", " : "", vm->reason);
  }
  free_resp(k, resp);
  unsigned first = k->nevents > 32 ? k->nevents - 32 : 0;
  for (unsigned i = first; i < k->nevents; i++) fprintf(out, "%s\r\n", k->events[i % 32]);
  fflush(out);
}

static void op_replay(void *ctx, FILE *out) {
  con *k = ctx;
  size_t n = k->loglen > CON_PRIOR_BYTES ? CON_PRIOR_BYTES : k->loglen;
  if (n) fwrite(k->log + k->loglen - n, 1, n, out);
  if (k->fd < 0) fprintf(out, "\r\n[%s is not running]", k->name);
}

/* ---- The loop -------------------------------------------------------------------------------- */

/* One message from the stream: guest output to the log (and the screen in CO), events.
 * Returns whether it carried an event (the VM's state may have changed). */
static bool pump(con *k, bool show) {
  Hpvm__ConsoleData *d = NULL;
  int rc = hpvmd_console_recv(k->fd, &d);
  if (rc) {
    detach(k, rc == 1 ? "hpvmd closed the stream" : hpvm_strerror(rc));
    if (show) fprintf(k->c->out, "\r\n[the console stream closed]\r\n");
    fflush(k->c->out);
    return true;
  }
  if (d->data.len) {
    log_append(k, d->data.data, d->data.len);
    if (show) fwrite(d->data.data, 1, d->data.len, k->c->out);
  }
  if (*d->event) {
    event(k, "%s", d->event);
    if (show) fprintf(k->c->out, "\r\n[%s]\r\n", d->event);
  }
  bool closed = d->closed, ev = *d->event != 0;
  protobuf_c_message_free_unpacked(&d->base, NULL);
  if (closed) detach(k, "the VM's console closed");
  fflush(k->c->out);
  return ev || closed;
}

/* Whether the VM runs (hpvmd keeps a viewer attached across a stop, so following the
 * console ends on the state, not on the stream). */
static bool vm_running(con *k) {
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__StatusRequest s = HPVM__STATUS_REQUEST__INIT;
  Hpvm__Response *resp;
  s.name = k->name;
  req.body_case = HPVM__REQUEST__BODY_STATUS;
  req.status = &s;
  bool on = false;
  if (!request(k, &req, &resp, NULL, 0) && resp->body_case == HPVM__RESPONSE__BODY_VM) {
    int st = resp->vm->state;
    on = st == HPVM__VM_RUN_STATE__VM_RUN_STATE_BOOTING || st == HPVM__VM_RUN_STATE__VM_RUN_STATE_ON ||
         st == HPVM__VM_RUN_STATE__VM_RUN_STATE_STOPPING || st == HPVM__VM_RUN_STATE__VM_RUN_STATE_PAUSED;
  }
  free_resp(k, resp);
  return on;
}

static int signals_fd(sigset_t *old) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigprocmask(SIG_BLOCK, &set, old);
  return signalfd(-1, &set, SFD_CLOEXEC);
}

/* Interactive: the menu on the terminal. */
static int interactive(con *k) {
  struct termios saved, raw;
  bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
  if (tty) {
    raw = saved;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ISIG | IEXTEN);
    raw.c_iflag &= ~(tcflag_t)(ICRNL | IXON | INLCR);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
  }
  sigset_t old;
  int sfd = signals_fd(&old);
  cli_vmp_start(&k->vmp);
  int in = fileno(k->c->in);
  while (k->vmp.state != CLI_VMP_DONE) {
    struct pollfd p[3] = {{in, POLLIN, 0}, {sfd, POLLIN, 0}, {k->fd, POLLIN, 0}};
    if (poll(p, k->fd >= 0 ? 3 : 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents) break;
    if (k->fd >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) pump(k, k->vmp.state == CLI_VMP_CO);
    if (p[0].revents & (POLLIN | POLLHUP)) {
      char buf[512];
      ssize_t n = read(in, buf, sizeof buf);
      if (n <= 0) break;
      cli_vmp_feed(&k->vmp, buf, (size_t)n);
    }
  }
  if (tty) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  fprintf(k->c->out, "\n");
  if (sfd >= 0) close(sfd);
  sigprocmask(SIG_SETMASK, &old, NULL);
  return 0;
}

/* -c co: the console on stdout, stdin to the guest, until the VM stops or a signal. */
static int follow(con *k) {
  char why[CLI_WHY];
  if (attach(k, why, sizeof why)) {
    fprintf(k->c->err, "%s: ERROR (%s): %s\n", k->c->cmd, k->name, why);
    return 1;
  }
  if (k->loglen) fwrite(k->log, 1, k->loglen, k->c->out);
  fflush(k->c->out);
  sigset_t old;
  int sfd = signals_fd(&old);
  int in = fileno(k->c->in);
  bool in_open = !k->read_only;
  bool on = vm_running(k);
  while (k->fd >= 0 && on) {
    struct pollfd p[3] = {{k->fd, POLLIN, 0}, {sfd, POLLIN, 0}, {in_open ? in : -1, POLLIN, 0}};
    if (poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents) break;
    if (p[0].revents && pump(k, true)) on = vm_running(k);
    if (in_open && (p[2].revents & (POLLIN | POLLHUP))) {
      char buf[512];
      ssize_t n = read(in, buf, sizeof buf);
      if (n <= 0) in_open = false;
      else if (k->fd >= 0 && hpvmd_console_send(k->fd, buf, (size_t)n)) detach(k, "hpvmd closed the stream");
    }
  }
  if (sfd >= 0) close(sfd);
  sigprocmask(SIG_SETMASK, &old, NULL);
  return 0;
}

static const char console_help[] =
  "usage: hpvmconsole {-P vm_name | -p vm_number} [-r] [-q] [-c \"command\"]\n"
  "Connects to a virtual machine's console through its virtual MP (vMP):\n"
  "  CO console (Ctrl-B returns to the menu), CM command menu (PC -on / -off / -graceful / -cycle,\n"
  "  RS reset, TC transfer of control, PS status), CL console log, SL event log, VM the VM's\n"
  "  configuration, HE help, X exit. Several viewers may be attached at once.\n"
  "  -c \"command\"   run one menu command and exit, e.g. -c \"pc -on\", -c cl; -c co follows the\n"
  "                 console on stdout (stdin goes to the guest) until the VM stops\n"
  "  -q             no confirmation questions\n"
  "  -r             read only: watch, do not type\n"
  "See docs/man/hpvmconsole.md.\n";

int cli_cmd_console(cli_ctx *c, int argc, char **argv) {
  cli_optscan s;
  const char *P = NULL, *p = NULL, *cmd = NULL;
  bool quiet = false, ro = false;
  int opt;
  cli_optscan_init(&s, argc, argv, "P:p:c:qQr");
  while ((opt = cli_optscan_next(&s)) != CLI_OPT_END) {
    if (opt == CLI_OPT_ERR) {
      fprintf(c->err, "%s: %s\n", c->cmd, s.why);
      return 2;
    }
    if (opt == CLI_OPT_HELP) {
      fputs(console_help, c->out);
      return 0;
    }
    if (opt == CLI_OPT_JSON || opt == CLI_OPT_ARG) {
      fprintf(c->err, "%s: %s (see --help)\n", c->cmd,
              opt == CLI_OPT_JSON ? "the console is a terminal session: --json does not apply" : "unexpected argument");
      return 2;
    }
    if (opt == 'P') P = s.arg;
    else if (opt == 'p') p = s.arg;
    else if (opt == 'c') cmd = s.arg;
    else if (opt == 'r') ro = true;
    else quiet = true;
  }
  if ((P && p) || (!P && !p) || (P && !*P)) {
    fprintf(c->err, "%s: name the virtual machine with -P name (or -p number); see --help\n", c->cmd);
    return 2;
  }
  con k = {.c = c, .fd = -1, .read_only = ro};
  /* The VM must exist (and -p needs its name): one status or list request. */
  Hpvm__Request req = HPVM__REQUEST__INIT;
  Hpvm__Response *resp = NULL;
  char why[CLI_WHY];
  int rc;
  if (P) {
    Hpvm__StatusRequest st = HPVM__STATUS_REQUEST__INIT;
    st.name = (char *)P;
    req.body_case = HPVM__REQUEST__BODY_STATUS;
    req.status = &st;
    k.name = (char *)P;
    rc = request(&k, &req, &resp, why, sizeof why);
    k.name = rc ? NULL : strdup(P);
  } else {
    uint32_t n;
    Hpvm__ListRequest l = HPVM__LIST_REQUEST__INIT;
    req.body_case = HPVM__REQUEST__BODY_LIST;
    req.list = &l;
    k.name = (char *)"";
    if (!cli_parse_u32(p, &n)) {
      fprintf(c->err, "%s: -p: the VM number is a whole number (see hpvmstatus)\n", c->cmd);
      return 2;
    }
    rc = request(&k, &req, &resp, why, sizeof why);
    k.name = NULL;
    for (size_t i = 0; !rc && i < resp->list->n_vms; i++)
      if (resp->list->vms[i]->config && resp->list->vms[i]->config->vm_number == n)
        k.name = strdup(resp->list->vms[i]->config->name);
    if (!rc && !k.name) {
      rc = HPVM_ENOENT;
      snprintf(why, sizeof why, "no virtual machine has VM # %u (see hpvmstatus)", n);
    }
  }
  free_resp(&k, resp);
  if (rc) {
    if (P) fprintf(c->err, "%s: ERROR (%s): %s\n", c->cmd, P, why);
    else fprintf(c->err, "%s: ERROR: %s\n", c->cmd, why);
    free(k.name);
    return 1;
  }
  cli_vmp_ops ops = {&k, op_send, op_power, op_status, op_console_log, op_event_log, op_replay};
  cli_vmp_init(&k.vmp, k.name, c->out, &ops, quiet);
  int st = 0;
  if (cmd && (!strcasecmp(cmd, "co") || !strcasecmp(cmd, "co "))) st = follow(&k);
  else if (cmd) {
    /* A running VM's log comes with an attach; a stopped one has none here. */
    if (!strncasecmp(cmd, "cl", 2)) attach(&k, NULL, 0);
    rc = cli_vmp_command(&k.vmp, cmd, why, sizeof why);
    fprintf(c->out, "\n");
    if (rc) {
      fprintf(c->err, "%s: ERROR (%s): %s\n", c->cmd, k.name, *why ? why : hpvm_strerror(rc));
      st = 1;
    }
  } else {
    attach(&k, NULL, 0);
    st = interactive(&k);
  }
  fflush(c->out);
  if (k.fd >= 0) close(k.fd);
  free(k.log);
  free(k.name);
  return st;
}
