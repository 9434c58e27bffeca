/* test_console_save.c — the line a guest is in the middle of when it is saved goes with its
 * state. The guest (guests/con_count.S) prints "C <n>\n" a byte at a time, so it is nearly
 * always mid-line. It is paused, saved, told its guest went on elsewhere
 * (vm_console_forget_unsent) and powered off; a fresh VM restored from the state runs on; this
 * ten times, each VM with a console file of its own:
 *
 *   - every saved VM's console ends with a whole line (nothing of the unfinished one);
 *   - all the files together hold every line 0..N exactly once, each whole, in order;
 *   - a saved VM that resumes instead (a migration that failed) finishes its line itself:
 *     nothing is lost when the state is thrown away.
 *
 * Before, the save wrote the unfinished line's first part to the saved VM's console and the
 * restored VM printed the rest on its own: the line was whole on neither. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vm_test.h"
#include "wire.h"

#define MEM (16u << 20)
#define HOPS 10
#define LINE_LEN 19   /* "C " + 16 hex digits + "\n" */

static char *read_all(const char *path) {
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  size_t cap = 1 << 16, n = 0;
  char *b = malloc(cap);
  ssize_t r;
  while ((r = read(fd, b + n, cap - n - 1)) > 0) {
    n += (size_t)r;
    if (cap - n < 2) b = realloc(b, cap *= 2);
  }
  close(fd);
  b[n] = 0;
  return b;
}

static int console_file(char *path, size_t len, unsigned k) {
  snprintf(path, len, "/tmp/hpvm-console-save-%d-%u", (int)getpid(), k);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  assert_true(fd >= 0);
  return fd;
}

/* Lines of one console, each whole and the next number; a trailing unfinished line is allowed
 * only when last (the VM powered off mid-line at the end). Returns the next number expected. */
static long check_lines(const char *text, long next, bool last, unsigned k) {
  const char *p = text;
  for (const char *nl; (nl = strchr(p, '\n')); p = nl + 1) {
    char *end = NULL;
    long n = nl - p == LINE_LEN - 1 && p[0] == 'C' && p[1] == ' ' ? strtol(p + 2, &end, 16) : -1;
    if (end != nl || n != next)
      fail_msg("console %u: \"%.*s\" where line %lx was due", k, (int)(nl - p), p, next);
    next++;
  }
  if (*p && !last) fail_msg("console %u ends inside a line: \"%s\"", k, p);
  return next;
}

/* Wait until the file has more than `lines` newlines. */
static void wait_lines(const char *path, unsigned lines) {
  double end = now_s() + 20;
  for (;;) {
    char *s = read_all(path);
    unsigned n = count_lines(s);
    free(s);
    if (n > lines) return;
    if (now_s() > end) fail_msg("%s: no more than %u lines in 20 s", path, lines);
    usleep(5000);
  }
}

static void test_a_saved_guests_unfinished_line_is_printed_whole_by_the_restored_one(void **s) {
  (void)s;
  char path[HOPS + 1][128], msg[512];
  int fd = console_file(path[0], sizeof path[0], 0);
  vm *v = vm_with_guest(MEM, 1, "con_count", "", fd);
  assert_int_equal(vm_start(v), 0);
  for (unsigned k = 0; k < HOPS; k++) {
    wait_lines(path[k], 5);
    vm_pause(v);
    wire_writer w;
    assert_int_equal(wire_writer_init_mem(&w), 0);
    if (vm_save(v, &w, msg, sizeof msg)) fail_msg("vm_save: %s", msg);
    size_t len;
    uint8_t *state = wire_writer_take(&w, &len);
    vm_console_forget_unsent(v);      /* the guest goes on in the next VM */
    vm_power_off(v, 0);
    vm_wait(v);
    vm_destroy(v);
    close(fd);
    fd = console_file(path[k + 1], sizeof path[k + 1], k + 1);
    vm_config cfg = {.memory = MEM, .ncpus = 1, .console_in = -1, .console_out = fd};
    assert_int_equal(vm_create(&cfg, &v, msg, sizeof msg), 0);
    if (vm_restore_mem(v, state, len, msg, sizeof msg)) fail_msg("vm_restore: %s", msg);
    free(state);
    assert_int_equal(vm_start(v), 0);
  }
  wait_lines(path[HOPS], 5);
  vm_power_off(v, 0);
  vm_wait(v);
  vm_destroy(v);
  close(fd);
  long next = 0;
  for (unsigned k = 0; k <= HOPS; k++) {
    char *text = read_all(path[k]);
    next = check_lines(text, next, k == HOPS, k);
    free(text);
    unlink(path[k]);
  }
  printf("lines 0..%lx over %u saves and restores\n", next - 1, HOPS);
}

/* A save whose state is thrown away (the migration failed): the guest resumes here and
 * finishes the line it was in the middle of. */
static void test_a_guest_that_resumes_after_a_save_finishes_its_line(void **s) {
  (void)s;
  char path[128], msg[512];
  int fd = console_file(path, sizeof path, 99);
  vm *v = vm_with_guest(MEM, 1, "con_count", "", fd);
  assert_int_equal(vm_start(v), 0);
  for (unsigned k = 0; k < HOPS; k++) {
    wait_lines(path, 5 * (k + 1));
    vm_pause(v);
    wire_writer w;
    assert_int_equal(wire_writer_init_mem(&w), 0);
    if (vm_save(v, &w, msg, sizeof msg)) fail_msg("vm_save: %s", msg);
    size_t len;
    free(wire_writer_take(&w, &len));
    vm_resume(v);
  }
  wait_lines(path, 5 * (HOPS + 1));
  vm_power_off(v, 0);
  vm_wait(v);
  vm_destroy(v);
  close(fd);
  char *text = read_all(path);
  long next = check_lines(text, 0, true, 0);
  free(text);
  unlink(path);
  printf("lines 0..%lx across %u saves it resumed from\n", next - 1, HOPS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_a_saved_guests_unfinished_line_is_printed_whole_by_the_restored_one),
    cmocka_unit_test(test_a_guest_that_resumes_after_a_save_finishes_its_line),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
