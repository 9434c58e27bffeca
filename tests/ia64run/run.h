/* run.h — what the ia64run tests share: run the real ia64run binary in a child process
 * with given arguments and environment, capture its stdout, stderr and exit status (with
 * a timeout), and a few helpers to look at the output. The paths come from the environment
 * ctest sets: IA64RUN (the binary), IA64RUN_PROGS (the test programs), IA64RUN_GUESTS (the
 * sample guests). */
#ifndef HPVM_TEST_IA64RUN_RUN_H
#define HPVM_TEST_IA64RUN_RUN_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define T_TIMEOUT_S 60
#define T_KILLED 1000  /* status = T_KILLED + signal when ia64run itself dies of a signal */

typedef struct t_result {
  int status;          /* exit status, or T_KILLED + host signal */
  char *out, *err;     /* NUL-terminated captures */
  size_t out_len, err_len;
} t_result;

static inline const char *t_env(const char *name) {
  const char *v = getenv(name);
  if (!v) {
    fprintf(stderr, "test: %s is not set; run the tests through ctest\n", name);
    exit(1);
  }
  return v;
}

/* dir/name for an IA64RUN_* directory variable. */
static inline const char *t_path(const char *dirvar, const char *name) {
  static char buf[8][4096];
  static unsigned next;
  char *b = buf[next++ % 8];
  snprintf(b, sizeof buf[0], "%s/%s", t_env(dirvar), name);
  return b;
}

static inline const char *t_prog(const char *name) { return t_path("IA64RUN_PROGS", name); }
static inline const char *t_guest(const char *name) { return t_path("IA64RUN_GUESTS", name); }

static inline void t_append(char **buf, size_t *len, const char *data, size_t n) {
  *buf = realloc(*buf, *len + n + 1);
  memcpy(*buf + *len, data, n);
  *len += n;
  (*buf)[*len] = 0;
}

/* Run ia64run with args (NULL-terminated, without argv[0]) and env (NULL: inherit). */
static inline t_result t_run_env(const char *const *args, const char *const *env) {
  t_result r = {0};
  r.out = calloc(1, 1), r.err = calloc(1, 1);
  int po[2], pe[2];
  if (pipe(po) || pipe(pe)) abort();
  const char *argv[64] = {t_env("IA64RUN")};
  for (int i = 0; args[i] && i < 62; i++) argv[i + 1] = args[i];
  pid_t pid = fork();
  if (pid == 0) {
    dup2(po[1], 1), dup2(pe[1], 2);
    close(po[0]), close(pe[0]), close(po[1]), close(pe[1]);
    extern char **environ;
    execve(argv[0], (char *const *)argv, env ? (char *const *)env : environ);
    _exit(127);
  }
  close(po[1]), close(pe[1]);
  struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
  time_t deadline = time(NULL) + T_TIMEOUT_S;
  int open_fds = 2;
  while (open_fds > 0) {
    if (time(NULL) > deadline) {
      kill(pid, SIGKILL);
      break;
    }
    if (poll(fds, 2, 1000) <= 0) continue;
    for (int i = 0; i < 2; i++) {
      if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
      char tmp[65536];
      ssize_t n = read(fds[i].fd, tmp, sizeof tmp);
      if (n > 0) {
        if (i == 0) t_append(&r.out, &r.out_len, tmp, (size_t)n);
        else t_append(&r.err, &r.err_len, tmp, (size_t)n);
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;
        open_fds--;
      }
    }
  }
  close(po[0]), close(pe[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : T_KILLED + WTERMSIG(st);
  return r;
}

static inline t_result t_run(const char *const *args) { return t_run_env(args, NULL); }

static inline void t_free(t_result *r) {
  free(r->out), free(r->err);
  r->out = r->err = NULL;
}

/* Number of lines (newline-terminated) in s. */
static inline unsigned t_lines(const char *s) {
  unsigned n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

/* The value after "key=" on the line that starts with it ("" if none; static buffer). */
static inline const char *t_field(const char *out, const char *key) {
  static char buf[4][4096];
  static unsigned next;
  char *b = buf[next++ % 4];
  size_t k = strlen(key);
  b[0] = 0;
  for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    if (strncmp(l, key, k) || l[k] != '=') continue;
    const char *v = l + k + 1, *e = strchr(v, '\n');
    size_t n = e ? (size_t)(e - v) : strlen(v);
    if (n >= sizeof buf[0]) n = sizeof buf[0] - 1;
    memcpy(b, v, n);
    b[n] = 0;
    break;
  }
  return b;
}

/* Does out contain the line exactly (without its newline)? */
static inline bool t_has_line(const char *out, const char *line) {
  size_t k = strlen(line);
  for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
    if (!strncmp(l, line, k) && (l[k] == '\n' || l[k] == 0)) return true;
  return false;
}

static inline void t_write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
    fprintf(stderr, "test: cannot write %s\n", path);
    abort();
  }
}

static inline uint8_t *t_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  uint8_t *buf = NULL;
  size_t n = 0;
  char tmp[65536];
  for (size_t k; (k = fread(tmp, 1, sizeof tmp, f)) > 0;) t_append((char **)&buf, &n, tmp, k);
  fclose(f);
  *len = n;
  return buf;
}

/* A fresh scratch directory for one test (under the build tree's working directory). */
static inline const char *t_tmpdir(void) {
  static char dir[256];
  snprintf(dir, sizeof dir, "ia64run_test_XXXXXX");
  if (!mkdtemp(dir)) abort();
  return dir;
}

#endif
