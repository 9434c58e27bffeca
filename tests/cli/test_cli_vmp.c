/* test_cli_vmp.c — hpvmconsole's virtual MP menu (cli/hpvm/vmp.c) fed keystrokes: the main
 * menu and its prompt, CO passing everything but Ctrl-B to the guest, the command menu's
 * power control with confirmation (and without, -q / -c), CL/SL/VM/HE, line editing, and the
 * refusal of unknown commands. The hooks record what the menu asked for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

typedef struct fake {
  char sent[256];                      /* keystrokes sent to the guest */
  size_t nsent;
  int actions[8];
  int nactions;
  int power_rc;                        /* what power() answers */
  int status, clog, elog, replays;
  char *out;                           /* what the operator saw */
  size_t outlen;
  FILE *f;
  cli_vmp *v;                          /* the menu writing to f */
} fake;

static void f_send(void *ctx, const void *d, size_t n) {
  fake *k = ctx;
  memcpy(k->sent + k->nsent, d, n);
  k->nsent += n;
}
static int f_power(void *ctx, int a, char *why, size_t whylen) {
  fake *k = ctx;
  k->actions[k->nactions++] = a;
  if (k->power_rc) snprintf(why, whylen, "VM g is Off; there is nothing to stop");
  return k->power_rc;
}
static void f_status(void *ctx, FILE *out) {
  ((fake *)ctx)->status++;
  fputs("[status]", out);
}
static void f_clog(void *ctx, FILE *out) {
  ((fake *)ctx)->clog++;
  fputs("HB 1\nHB 2\n", out);
}
static void f_elog(void *ctx, FILE *out) {
  ((fake *)ctx)->elog++;
  fputs("[events]", out);
}
static void f_replay(void *ctx, FILE *out) {
  ((fake *)ctx)->replays++;
  fputs("prior output", out);
}

static void start(fake *k, cli_vmp *v, bool quiet) {
  memset(k, 0, sizeof *k);
  k->f = open_memstream(&k->out, &k->outlen);
  k->v = v;
  cli_vmp_ops ops = {k, f_send, f_power, f_status, f_clog, f_elog, f_replay};
  cli_vmp_init(v, "ivm1", k->f, &ops, quiet);
  cli_vmp_start(v);
}

/* What the operator has seen so far (and clear it). */
static char *seen(fake *k) {
  fflush(k->f);
  char *s = strdup(k->out ? k->out : "");
  fclose(k->f);
  free(k->out);
  k->out = NULL;
  k->f = open_memstream(&k->out, &k->outlen);
  k->v->out = k->f;
  return s;
}

static void stop(fake *k) {
  fclose(k->f);
  free(k->out);
}

static cli_vmp_state type(cli_vmp *v, const char *s) { return cli_vmp_feed(v, s, strlen(s)); }

static void assert_contains(const char *hay, const char *needle) {
  if (!strstr(hay, needle)) fail_msg("\"%s\" not in:\n%s", needle, hay);
}

static void test_main_menu_lists_the_hpvm_entries_and_prompts(void **state) {
  (void)state;
  fake k;
  cli_vmp v;
  start(&k, &v, false);
  char *s = seen(&k);
  assert_contains(s, "vMP MAIN MENU");
  assert_contains(s, "CO: Console");
  assert_contains(s, "CM: Command Menu");
  assert_contains(s, "CL: Console Log");
  assert_contains(s, "SL: Show Event Logs");
  assert_contains(s, "VM: Virtual Machine Menu");
  assert_contains(s, "HE: Main Help Menu");
  assert_contains(s, "X: Exit Connection");
  assert_contains(s, "[ivm1] vMP> ");
  assert_int_equal(v.state, CLI_VMP_MAIN);
  free(s);
  stop(&k);
}

static void test_co_passes_keys_to_the_guest_until_ctrl_b(void **state) {
  (void)state;
  fake k;
  cli_vmp v;
  start(&k, &v, false);
  assert_int_equal(type(&v, "co\r"), CLI_VMP_CO);
  char *s = seen(&k);
  assert_contains(s, "(Use Ctrl-B to return to vMP main menu.)");
  assert_contains(s, "Prior Console Output");
  assert_contains(s, "prior output");
  free(s);
  assert_int_equal(k.replays, 1);
  /* Ctrl-C and everything else is the guest's; Ctrl-B comes back. */
  assert_int_equal(cli_vmp_feed(&v, "ls -l\r\x03q\x02", 9), CLI_VMP_MAIN);
  assert_int_equal(k.nsent, 8);
  assert_memory_equal(k.sent, "ls -l\r\x03q", 8);
  s = seen(&k);
  assert_contains(s, "vMP MAIN MENU");
  assert_contains(s, "[ivm1] vMP> ");
  free(s);
  stop(&k);
}

static void test_keys_after_ctrl_b_in_one_read_go_to_the_menu(void **state) {
  (void)state;
  fake k;
  cli_vmp v;
  start(&k, &v, false);
  type(&v, "CO\r");
  assert_int_equal(cli_vmp_feed(&v, "a\x02x\r", 4), CLI_VMP_DONE);
  assert_int_equal(k.nsent, 1);
  stop(&k);
}

static void test_power_on_asks_first_and_acts_on_yes(void **state) {
  (void)state;
  fake k;
  cli_vmp v;
  start(&k, &v, false);
  assert_int_equal(type(&v, "cm\r"), CLI_VMP_CM);
  char *s = seen(&k);
  assert_contains(s, "[ivm1] vMP:CM> ");
  free(s);
  assert_int_equal(type(&v, "pc -on\r"), CLI_VMP_CONFIRM);
  assert_int_equal(k.nactions, 0);
  s = seen(&k);
  assert_contains(s, "Confirm? (Y/[N]): ");
  free(s);
  assert_int_equal(type(&v, "y\r"), CLI_VMP_CM);
  assert_int_equal(k.nactions, 1);
  assert_int_equal(k.actions[0], CLI_VMP_ACT_POWER_ON);
  s = seen(&k);
  assert_contains(s, "Command successful");
  assert_contains(s, "[ivm1] vMP:CM> ");
  free(s);
  stop(&k);
}

static void test_anything_but_yes_cancels(void **state) {
  (void)state;
  fake k;
  cli_vmp v;
  start(&k, &v, false);
  type(&v, "cm\rrs\r");
  assert_int_equal(v.state, CLI_VMP_CONFIRM);
  type(&v, "n\r");
  assert_int_equal(v.state, CLI_VMP_CM);
  assert_int_equal(k.nactions, 0);
  char *s = seen(&k);
  assert_contains(s, "Command cancelled.");
  free(s);
  type(&v, "tc\r\r");
  assert_int_equal(k.nactions, 0);
  stop(&k);
}

static void test_quiet_acts_without_asking(void **state) {
  (void)state;
  fake k;
  cli_vmp v;
  start(&k, &v, true);
  type(&v, "cm\rpc -off\rpc -graceful\rpc -cycle\rrs\rtc\r");
  assert_int_equal(k.nactions, 5);
  assert_int_equal(k.actions[0], CLI_VMP_ACT_POWER_OFF);
  assert_int_equal(k.actions[1], CLI_VMP_ACT_GRACEFUL_OFF);
  assert_int_equal(k.actions[2], CLI_VMP_ACT_RESET);
  assert_int_equal(k.actions[3], CLI_VMP_ACT_RESET);
  assert_int_equal(k.actions[4], CLI_VMP_ACT_TC);
  assert_int_equal(v.state, CLI_VMP_CM);
  stop(&k);
}

static void test_a_failed_action_shows_hpvmds_reason(void **state) {
  (void)state;
  fake k;
  cli_vmp v;
  start(&k, &v, true);
  k.power_rc = HPVM_ESTATE;
  type(&v, "cm\rpc -off\r");
  char *s = seen(&k);
  assert_contains(s, "-> VM g is Off; there is nothing to stop");
  free(s);
  stop(&k);
}

static void test_logs_status_and_help(void **state) {
  (void)state;
  fake k;
  cli_vmp v;
  start(&k, &v, false);
  type(&v, "cl\rsl\rvm\rhe\r");
  assert_int_equal(k.clog, 1);
  assert_int_equal(k.elog, 1);
  assert_int_equal(k.status, 1);
  char *s = seen(&k);
  assert_contains(s, "HB 1\nHB 2");
  assert_contains(s, "[events]");
  assert_contains(s, "[status]");
  assert_contains(s, "vMP Help: Main Menu");
  free(s);
  type(&v, "cm\rhe\rps\r");
  s = seen(&k);
  assert_contains(s, "vMP Help: Command Menu");
  assert_contains(s, "PC: Remote power control");
  free(s);
  assert_int_equal(k.status, 2);
  stop(&k);
}

static void test_line_editing_backspace_and_kill(void **state) {
  (void)state;
  fake k;
  cli_vmp v;
  start(&k, &v, false);
  type(&v, "cx\x7fm\r");
  assert_int_equal(v.state, CLI_VMP_CM);
  type(&v, "garbage\x15ma\r");
  assert_int_equal(v.state, CLI_VMP_MAIN);
  /* Typed characters are echoed (the terminal is raw). */
  char *s = seen(&k);
  assert_contains(s, "garbage");
  free(s);
  stop(&k);
}

static void test_unknown_commands_are_refused(void **state) {
  (void)state;
  fake k;
  cli_vmp v;
  start(&k, &v, false);
  type(&v, "format c:\r");
  char *s = seen(&k);
  assert_contains(s, "Invalid command: format");
  assert_contains(s, "Type HE for help.");
  free(s);
  assert_int_equal(v.state, CLI_VMP_MAIN);
  char why[CLI_WHY];
  assert_int_equal(cli_vmp_command(&v, "pc -sideways", why, sizeof why), HPVM_EINVAL);
  assert_contains(why, "PC -sideways: use PC -on, -off, -graceful or -cycle");
  assert_int_equal(cli_vmp_command(&v, "zz", why, sizeof why), HPVM_EINVAL);
  assert_contains(why, "unknown vMP command 'zz'");
  stop(&k);
}

static void test_one_command_runs_without_confirmation(void **state) {
  (void)state;
  fake k;
  cli_vmp v;
  start(&k, &v, false);
  char why[CLI_WHY];
  assert_int_equal(cli_vmp_command(&v, "  PC -on  ", why, sizeof why), 0);
  assert_int_equal(k.nactions, 1);
  assert_int_equal(k.actions[0], CLI_VMP_ACT_POWER_ON);
  k.power_rc = HPVM_ESTATE;
  assert_int_equal(cli_vmp_command(&v, "pc -off", why, sizeof why), HPVM_ESTATE);
  assert_string_equal(why, "VM g is Off; there is nothing to stop");
  assert_int_equal(cli_vmp_command(&v, "cl", why, sizeof why), 0);
  assert_int_equal(k.clog, 1);
  stop(&k);
}

static void test_exit_from_either_menu(void **state) {
  (void)state;
  fake k;
  cli_vmp v;
  start(&k, &v, false);
  assert_int_equal(type(&v, "x\r"), CLI_VMP_DONE);
  /* Nothing more is taken after X. */
  assert_int_equal(type(&v, "co\r"), CLI_VMP_DONE);
  stop(&k);
  start(&k, &v, false);
  assert_int_equal(type(&v, "cm\rX\r"), CLI_VMP_DONE);
  assert_string_equal(cli_vmp_state_name(CLI_VMP_DONE), "DONE");
  stop(&k);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_main_menu_lists_the_hpvm_entries_and_prompts),
    cmocka_unit_test(test_co_passes_keys_to_the_guest_until_ctrl_b),
    cmocka_unit_test(test_keys_after_ctrl_b_in_one_read_go_to_the_menu),
    cmocka_unit_test(test_power_on_asks_first_and_acts_on_yes),
    cmocka_unit_test(test_anything_but_yes_cancels),
    cmocka_unit_test(test_quiet_acts_without_asking),
    cmocka_unit_test(test_a_failed_action_shows_hpvmds_reason),
    cmocka_unit_test(test_logs_status_and_help),
    cmocka_unit_test(test_line_editing_backspace_and_kill),
    cmocka_unit_test(test_unknown_commands_are_refused),
    cmocka_unit_test(test_one_command_runs_without_confirmation),
    cmocka_unit_test(test_exit_from_either_menu),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
