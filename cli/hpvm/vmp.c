/* vmp.c — hpvmconsole's virtual MP (vMP): the menu operators knew from HP Integrity VM (and
 * from the MP/GSP of the real servers) in front of a guest's console.
 *
 *          CO                      Ctrl-B
 *   MAIN -------------------> CO ----------> MAIN
 *    |  ^ \ CM      MA                           CL, SL, VM, HE: print, stay in MAIN
 *    |  |  `----> CM ---> MAIN
 *    |  |          | PC -on/-off/-graceful, RS, TC
 *    |  |          v
 *    |  |       CONFIRM --y--> (the power action) --> CM
 *    |  |          `--other--> "Command cancelled." --> CM
 *    X  (from MAIN or CM)
 *    v
 *   DONE
 *
 * cli_vmp_feed takes raw keystrokes (the terminal is in raw mode, so the menu echoes and
 * edits its own line); cli_vmp_command runs one command line for hpvmconsole -c. Everything
 * the operator sees goes to v->out, every effect through v->ops: no I/O of its own. */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"

#define CTRL_B 0x02

const char *cli_vmp_state_name(cli_vmp_state s) {
  switch (s) {
  case CLI_VMP_MAIN: return "MAIN";
  case CLI_VMP_CM: return "CM";
  case CLI_VMP_CO: return "CO";
  case CLI_VMP_CONFIRM: return "CONFIRM";
  case CLI_VMP_DONE: return "DONE";
  default: return "INVALID";
  }
}

void cli_vmp_init(cli_vmp *v, const char *vm_name, FILE *out, const cli_vmp_ops *ops, bool quiet) {
  memset(v, 0, sizeof *v);
  v->state = CLI_VMP_MAIN;
  snprintf(v->name, sizeof v->name, "%s", vm_name);
  v->out = out;
  v->ops = *ops;
  v->quiet = quiet;
}

static void prompt(cli_vmp *v) {
  if (v->state == CLI_VMP_CM) fprintf(v->out, "\r\n[%s] vMP:CM> ", v->name);
  else if (v->state == CLI_VMP_MAIN) fprintf(v->out, "\r\n[%s] vMP> ", v->name);
  fflush(v->out);
}

static void main_menu(cli_vmp *v) {
  fprintf(v->out, "\r\n\r\n   vMP MAIN MENU\r\n\r\n"
                  "         CO: Console\r\n"
                  "         CM: Command Menu\r\n"
                  "         CL: Console Log\r\n"
                  "         SL: Show Event Logs\r\n"
                  "         VM: Virtual Machine Menu\r\n"
                  "         HE: Main Help Menu\r\n"
                  "         X: Exit Connection\r\n");
}

void cli_vmp_start(cli_vmp *v) {
  main_menu(v);
  prompt(v);
}

static void main_help(cli_vmp *v) {
  fprintf(v->out, "\r\n==== vMP Help: Main Menu ====\r\n\r\n"
                  "  CO: Console: connect to the guest's console; Ctrl-B returns here\r\n"
                  "  CM: Command Menu: power control (PC), reset (RS), transfer of control (TC),\r\n"
                  "      power status (PS)\r\n"
                  "  CL: Console Log: what the guest printed, kept across detaches\r\n"
                  "  SL: Show Event Logs: the commands and state changes of this VM\r\n"
                  "  VM: Virtual Machine Menu: the VM's configuration and state\r\n"
                  "  HE: this help\r\n"
                  "  X:  Exit Connection (the guest keeps running)\r\n");
}

static void cm_help(cli_vmp *v) {
  fprintf(v->out, "\r\n==== vMP Help: Command Menu ====\r\n\r\n"
                  "  PC: Remote power control: PC -on, PC -off (power off now),\r\n"
                  "      PC -graceful (ask the guest, then power off), PC -cycle (off, then on)\r\n"
                  "  RS: Reset the VM (power off, then on)\r\n"
                  "  TC: Reset via Transfer of Control (hpvm guests have no dump: a reset)\r\n"
                  "  PS: Display the status of the VM\r\n"
                  "  DATE: Display the date\r\n"
                  "  HE: this help\r\n"
                  "  MA: Return to the Main Menu\r\n"
                  "  X:  Exit Connection\r\n");
}

static const char *action_text(int a) {
  switch (a) {
  case CLI_VMP_ACT_POWER_ON: return "power on the VM";
  case CLI_VMP_ACT_POWER_OFF: return "power off the VM (the guest is not asked)";
  case CLI_VMP_ACT_GRACEFUL_OFF: return "shut the guest down (then power off)";
  case CLI_VMP_ACT_RESET: return "reset the VM (power off, then on)";
  case CLI_VMP_ACT_TC: return "reset the VM via transfer of control";
  default: return "do nothing";
  }
}

static int do_action(cli_vmp *v, int action, char *why, size_t whylen) {
  char local[CLI_WHY];
  if (!why) {
    why = local;
    whylen = sizeof local;
  }
  why[0] = 0;
  int rc = v->ops.power ? v->ops.power(v->ops.ctx, action, why, whylen) : HPVM_ENOTSUP;
  if (rc) fprintf(v->out, "\r\n-> %s\r\n", *why ? why : hpvm_strerror(rc));
  else fprintf(v->out, "\r\n-> Command successful: %s.\r\n", action_text(action));
  return rc;
}

/* Ask, or act at once with -q. */
static int confirm_or_act(cli_vmp *v, int action, bool interactive, char *why, size_t whylen) {
  if (v->quiet || !interactive) return do_action(v, action, why, whylen);
  fprintf(v->out, "\r\n   This will %s.\r\n   Confirm? (Y/[N]): ", action_text(action));
  fflush(v->out);
  v->back = v->state;
  v->pending = action;
  v->state = CLI_VMP_CONFIRM;
  return 0;
}

static void enter_co(cli_vmp *v) {
  v->state = CLI_VMP_CO;
  fprintf(v->out, "\r\n\r\n       (Use Ctrl-B to return to vMP main menu.)\r\n\r\n"
                  "- - - - - - - - - - Prior Console Output - - - - - - - - - -\r\n");
  if (v->ops.replay) v->ops.replay(v->ops.ctx, v->out);
  fprintf(v->out, "\r\n- - - - - - - - - - - - Live Console - - - - - - - - - - - -\r\n");
  fflush(v->out);
}

/* One command line, in MAIN or CM. interactive: typed at the prompt (confirmations asked
 * unless -q). */
static int run_line(cli_vmp *v, const char *line, bool interactive, char *why, size_t whylen) {
  char buf[256];
  size_t n = 0;
  while (isspace((unsigned char)*line)) line++;
  for (; *line && n + 1 < sizeof buf; line++) buf[n++] = *line;
  while (n && isspace((unsigned char)buf[n - 1])) n--;
  buf[n] = 0;
  char *arg = buf + strcspn(buf, " \t");
  if (*arg) *arg++ = 0;
  while (isspace((unsigned char)*arg)) arg++;
  const char *cmd = buf;
  if (!*cmd) return 0;

  /* Main menu commands (also reachable from CM, as hpvmconsole -c takes any). */
  if (!strcasecmp(cmd, "co")) {
    enter_co(v);
    return 0;
  }
  if (!strcasecmp(cmd, "cm")) {
    v->state = CLI_VMP_CM;
    fprintf(v->out, "\r\n\r\n                Enter HE to get a list of available commands\r\n");
    return 0;
  }
  if (!strcasecmp(cmd, "ma")) {
    v->state = CLI_VMP_MAIN;
    main_menu(v);
    return 0;
  }
  if (!strcasecmp(cmd, "cl")) {
    fprintf(v->out, "\r\n- - - - - - - - - - - - Console Log - - - - - - - - - - - -\r\n");
    if (v->ops.console_log) v->ops.console_log(v->ops.ctx, v->out);
    fprintf(v->out, "\r\n- - - - - - - - - - - End of Console Log - - - - - - - - - -\r\n");
    return 0;
  }
  if (!strcasecmp(cmd, "sl")) {
    fprintf(v->out, "\r\n- - - - - - - - - - - - - Event Log - - - - - - - - - - - - -\r\n");
    if (v->ops.event_log) v->ops.event_log(v->ops.ctx, v->out);
    return 0;
  }
  if (!strcasecmp(cmd, "vm") || !strcasecmp(cmd, "ps")) {
    fprintf(v->out, "\r\n");
    if (v->ops.status) v->ops.status(v->ops.ctx, v->out);
    return 0;
  }
  if (!strcasecmp(cmd, "he") || !strcasecmp(cmd, "help") || !strcmp(cmd, "?")) {
    if (v->state == CLI_VMP_CM) cm_help(v);
    else main_help(v);
    return 0;
  }
  if (!strcasecmp(cmd, "x") || !strcasecmp(cmd, "exit")) {
    v->state = CLI_VMP_DONE;
    fprintf(v->out, "\r\n");
    return 0;
  }
  /* Command menu commands. */
  if (!strcasecmp(cmd, "pc")) {
    int a = 0;
    if (!strcasecmp(arg, "-on") || !strcasecmp(arg, "on")) a = CLI_VMP_ACT_POWER_ON;
    else if (!strcasecmp(arg, "-off") || !strcasecmp(arg, "off")) a = CLI_VMP_ACT_POWER_OFF;
    else if (!strcasecmp(arg, "-graceful") || !strcasecmp(arg, "graceful")) a = CLI_VMP_ACT_GRACEFUL_OFF;
    else if (!strcasecmp(arg, "-cycle") || !strcasecmp(arg, "cycle")) a = CLI_VMP_ACT_RESET;
    if (!a) {
      fprintf(v->out, "\r\n   PC: power control. Usage: PC -on | -off | -graceful | -cycle\r\n");
      if (v->ops.status) v->ops.status(v->ops.ctx, v->out);
      if (!*arg) return 0;
      if (why) snprintf(why, whylen, "PC %s: use PC -on, -off, -graceful or -cycle", arg);
      return HPVM_EINVAL;
    }
    return confirm_or_act(v, a, interactive, why, whylen);
  }
  if (!strcasecmp(cmd, "rs")) return confirm_or_act(v, CLI_VMP_ACT_RESET, interactive, why, whylen);
  if (!strcasecmp(cmd, "tc")) return confirm_or_act(v, CLI_VMP_ACT_TC, interactive, why, whylen);
  if (!strcasecmp(cmd, "date")) {
    char d[64];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(d, sizeof d, "%a %b %e %H:%M:%S %Z %Y", &tm);
    fprintf(v->out, "\r\n%s\r\n", d);
    return 0;
  }
  fprintf(v->out, "\r\nInvalid command: %s\r\n Type HE for help.\r\n", cmd);
  if (why) snprintf(why, whylen, "unknown vMP command '%s' (see hpvmconsole --help)", cmd);
  return HPVM_EINVAL;
}

int cli_vmp_command(cli_vmp *v, const char *cmd, char *why, size_t whylen) {
  why[0] = 0;
  return run_line(v, cmd, false, why, whylen);
}

/* A line typed at the MAIN/CM/CONFIRM prompt: echoed, edited, run on Enter. */
static void feed_line_char(cli_vmp *v, char ch) {
  if (ch == '\r' || ch == '\n') {
    v->line[v->len] = 0;
    v->len = 0;
    if (v->state == CLI_VMP_CONFIRM) {
      const char *p = v->line;
      while (isspace((unsigned char)*p)) p++;
      v->state = v->back;
      if (*p == 'y' || *p == 'Y') do_action(v, v->pending, NULL, 0);
      else fprintf(v->out, "\r\n-> Command cancelled.\r\n");
    } else {
      run_line(v, v->line, true, NULL, 0);
    }
    if (v->state == CLI_VMP_MAIN || v->state == CLI_VMP_CM) prompt(v);
    else fflush(v->out);
    return;
  }
  if (ch == 0x7f || ch == 0x08) {
    if (v->len) {
      v->len--;
      fputs("\b \b", v->out);
    }
  } else if (ch == 0x15) { /* Ctrl-U: kill the line */
    while (v->len) {
      v->len--;
      fputs("\b \b", v->out);
    }
  } else if (ch == 0x03) { /* Ctrl-C: drop the line */
    v->len = 0;
    if (v->state == CLI_VMP_CONFIRM) {
      v->state = v->back;
      fprintf(v->out, "\r\n-> Command cancelled.\r\n");
    }
    prompt(v);
    return;
  } else if (isprint((unsigned char)ch) && v->len + 1 < sizeof v->line) {
    v->line[v->len++] = ch;
    fputc(ch, v->out);
  }
  fflush(v->out);
}

cli_vmp_state cli_vmp_feed(cli_vmp *v, const char *data, size_t len) {
  size_t i = 0;
  while (i < len && v->state != CLI_VMP_DONE) {
    if (v->state == CLI_VMP_CO) {
      /* Everything up to a Ctrl-B goes to the guest in one piece. */
      const char *b = memchr(data + i, CTRL_B, len - i);
      size_t n = b ? (size_t)(b - (data + i)) : len - i;
      if (n && v->ops.send) v->ops.send(v->ops.ctx, data + i, n);
      i += n;
      if (b) {
        i++;
        v->state = CLI_VMP_MAIN;
        v->len = 0;
        fprintf(v->out, "\r\n");
        main_menu(v);
        prompt(v);
      }
      continue;
    }
    feed_line_char(v, data[i++]);
  }
  return v->state;
}
