/* cmdlog.c — DIR/log/command.log: one line per command from every host, as HP Integrity VM
 * kept /var/opt/hpvm/common/command.log, so the story of a cluster can be read in one place.
 *
 * A line is five tab-separated fields: time (ISO 8601, UTC, milliseconds), host, user,
 * result ("OK" or "E<NAME>: message"), command line; a tab, newline or backslash inside a
 * field is written \t, \n, \\. Appends use O_APPEND and one write() per line under the
 * log's record lock: O_APPEND alone is atomic on a local file system but not over NFS,
 * where the client computes the offset itself; the lock makes it so there too. Each line is
 * synced (commands are rare, and the log is evidence). Past STO_CMDLOG_ROTATE bytes the log
 * is renamed to command.log.1 (the previous .1 goes) under the same lock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define LOG_REL "log/command.log"

/* Append s escaped to buf at *n (buf has room: callers size it at 2x + slack). */
static void escape(char *buf, size_t *n, const char *s) {
  for (; s && *s; s++) {
    if (*s == '\t') buf[(*n)++] = '\\', buf[(*n)++] = 't';
    else if (*s == '\n') buf[(*n)++] = '\\', buf[(*n)++] = 'n';
    else if (*s == '\\') buf[(*n)++] = '\\', buf[(*n)++] = '\\';
    else if (*s == '\r') buf[(*n)++] = '\\', buf[(*n)++] = 'r';
    else buf[(*n)++] = *s;
  }
}

static void iso_time(int64_t ns, char out[32]) {
  time_t t = (time_t)(ns / 1000000000);
  struct tm tm;
  gmtime_r(&t, &tm);
  size_t k = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + k, 32 - k, ".%03dZ", (int)(ns % 1000000000 / 1000000));
}

int sto_cmdlog_append(sto_store *s, const char *user, const char *cmdline, int result, const char *message) {
  char when[32], res[64], abs[PATH_MAX], old[PATH_MAX + 2];
  iso_time(sto__wall(s), when);
  if (result == 0) snprintf(res, sizeof res, "OK");
  else snprintf(res, sizeof res, "%s: ", hpvm_err_name(result));
  if (!message && result) message = hpvm_strerror(result);
  if (!user || !*user) user = "-";
  if (!cmdline) cmdline = "";
  size_t cap = 2 * (strlen(s->host) + strlen(user) + strlen(res) + (message ? strlen(message) : 0) +
                    strlen(cmdline)) + 64;
  char *line = malloc(cap);
  if (!line) return sto__fail(s, HPVM_ENOMEM, "out of memory");
  size_t n = 0;
  escape(line, &n, when);
  line[n++] = '\t';
  escape(line, &n, s->host);
  line[n++] = '\t';
  escape(line, &n, user);
  line[n++] = '\t';
  escape(line, &n, res);
  if (result) escape(line, &n, message);
  line[n++] = '\t';
  escape(line, &n, cmdline);
  line[n++] = '\n';

  int r = sto__abs(s, LOG_REL, abs);
  if (r || (r = sto__lock(s, LOG_REL))) {
    free(line);
    return r;
  }
  struct stat st;
  if (stat(abs, &st) == 0 && (uint64_t)st.st_size >= STO_CMDLOG_ROTATE) {
    snprintf(old, sizeof old, "%s.1", abs);
    s->io.rename(s->io.ctx, abs, old);  /* if this fails the log just grows */
  }
  int fd = s->io.open(s->io.ctx, abs, O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd < 0) {
    r = sto__fail(s, HPVM_EIO, "%s: cannot open the command log: %s", abs, strerror(-fd));
  } else {
    int e = sto__write_all(s, fd, line, n);
    if (!e) e = s->io.fsync(s->io.ctx, fd);
    int c = s->io.close(s->io.ctx, fd);
    if (!e) e = c;
    if (e < 0) r = sto__fail(s, HPVM_EIO, "%s: cannot append to the command log: %s", abs, strerror(-e));
  }
  sto__unlock(s, LOG_REL);
  free(line);
  return r;
}

/* Undo escape() in place; false on a bad escape. */
static bool unescape(char *f) {
  char *w = f;
  for (char *p = f; *p; p++) {
    if (*p != '\\') {
      *w++ = *p;
      continue;
    }
    switch (*++p) {
    case 't': *w++ = '\t'; break;
    case 'n': *w++ = '\n'; break;
    case 'r': *w++ = '\r'; break;
    case '\\': *w++ = '\\'; break;
    default: return false;
    }
  }
  *w = '\0';
  return true;
}

/* One line (without its newline) into e; false when it is not a whole entry. */
static bool parse_line(char *line, sto_cmdlog_entry *e) {
  char *f[5];
  int k = 0;
  f[k++] = line;
  for (char *p = line; *p; p++)
    if (*p == '\t') {
      if (k == 5) return false;
      *p = '\0';
      f[k++] = p + 1;
    }
  if (k != 5 || strlen(f[0]) < 20 || f[0][4] != '-' || f[0][10] != 'T') return false;
  for (int i = 0; i < 5; i++)
    if (!unescape(f[i])) return false;
  *e = (sto_cmdlog_entry){strdup(f[0]), strdup(f[1]), strdup(f[2]), strdup(f[3]), strdup(f[4])};
  return e->time && e->host && e->user && e->result && e->command;
}

static void entry_free(sto_cmdlog_entry *e) {
  free(e->time), free(e->host), free(e->user), free(e->result), free(e->command);
}

int sto_cmdlog_read(sto_store *s, size_t last, sto_cmdlog_entry **out, size_t *n, size_t *skipped) {
  *out = NULL, *n = 0;
  if (skipped) *skipped = 0;
  char abs[PATH_MAX];
  int r = sto__abs(s, LOG_REL, abs);
  if (r) return r;
  FILE *fp = fopen(abs, "re");
  if (!fp) {
    if (errno == ENOENT) return 0;  /* no command yet */
    return sto__fail(s, HPVM_EIO, "%s: %s", abs, strerror(errno));
  }
  sto_cmdlog_entry *v = NULL;
  size_t cnt = 0, cap = 0;
  char *line = NULL;
  size_t lcap = 0;
  ssize_t len;
  while ((len = getline(&line, &lcap, fp)) >= 0) {
    sto_cmdlog_entry e;
    /* A line without its newline is the torn tail of an append that did not finish. */
    if (len == 0 || line[len - 1] != '\n' || (line[len - 1] = '\0', !parse_line(line, &e))) {
      if (skipped) (*skipped)++;
      continue;
    }
    if (last && cnt == last) {  /* keep only the newest `last`: drop the oldest */
      entry_free(&v[0]);
      memmove(v, v + 1, (cnt - 1) * sizeof *v);
      cnt--;
    }
    if (cnt == cap) {
      cap = cap ? cap * 2 : 64;
      sto_cmdlog_entry *nv = realloc(v, cap * sizeof *v);
      if (!nv) {
        entry_free(&e);
        r = sto__fail(s, HPVM_ENOMEM, "out of memory");
        break;
      }
      v = nv;
    }
    v[cnt++] = e;
  }
  free(line);
  fclose(fp);
  if (r) {
    sto_cmdlog_free(v, cnt);
    return r;
  }
  *out = v, *n = cnt;
  return 0;
}

void sto_cmdlog_free(sto_cmdlog_entry *e, size_t n) {
  for (size_t i = 0; i < n; i++) entry_free(&e[i]);
  free(e);
}
