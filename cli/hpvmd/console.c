/* console.c — console viewers (hpvmconsole). Any number of clients may view a VM's
 * console; each gets what the guest prints from the moment it attaches (the attach answer
 * carries the end of console.log, so it also sees what came before), and what a non-read-only
 * viewer types goes to the guest. A viewer may attach to a VM that is off: it sees "VM
 * started" and the boot when someone starts it. hpvmapp itself writes console.log, so the
 * log goes on while nobody views and while hpvmd restarts.
 *
 * A viewer that does not read (its queue past HD_VIEWER_BACKLOG) loses output and is told
 * so (an event) when it catches up; it never slows the guest or the other viewers. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define REPLAY_MAX (1u << 20)

/* The last want bytes of the console log (console.log.1 is not consulted). */
static uint8_t *log_tail(const hd_vm *v, uint32_t want, size_t *len) {
  *len = 0;
  if (!want) return NULL;
  if (want > REPLAY_MAX) want = REPLAY_MAX;
  int fd = open(v->console_log, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  off_t end = lseek(fd, 0, SEEK_END);
  off_t from = end > (off_t)want ? end - (off_t)want : 0;
  uint8_t *b = malloc((size_t)(end - from) + 1);
  ssize_t n = b ? pread(fd, b, (size_t)(end - from), from) : -1;
  close(fd);
  if (n <= 0) {
    free(b);
    return NULL;
  }
  *len = (size_t)n;
  return b;
}

void hd_cmd_console(hd_daemon *d, const hd_req *q) {
  const Hpvm__ConsoleAttachRequest *a = q->r->console;
  if (!a->name || !*a->name)
    return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_EINVAL, "hpvmconsole: no VM name; give one with -P NAME");
  hd_vm *v = hd_vm_find(d, a->name);
  if (!v) {
    Hpvm__VmConfig *cfg = NULL;
    int rc = sto_vm_load(d->sto, a->name, &cfg);
    sto_vm_free(cfg);
    if (rc) return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, rc, "%s", sto_error(d->sto));
    v = hd_vm_get(d, a->name);
    if (!v) return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_ENOMEM, "hpvmd is out of memory");
  }
  hd_viewer *w = calloc(1, sizeof *w);
  if (!w) return hd_answer_error(q->c, q->r->id, q->user, q->cmdline, HPVM_ENOMEM, "hpvmd is out of memory");
  w->client = q->c;
  w->read_only = a->read_only;
  w->next = v->viewers;
  v->viewers = w;
  size_t len;
  uint8_t *replay = log_tail(v, a->replay_bytes, &len);
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = q->r->id;
  r.body_case = HPVM__RESPONSE__BODY_CONSOLE_REPLAY;
  r.console_replay.data = replay;
  r.console_replay.len = len;
  q->c->console = v;
  hd_log(d, HD_INFO, "%s attached to the console of VM %s%s", q->user, v->name, a->read_only ? " (read-only)" : "");
  hd_answer(q->c, &r, q->user, q->cmdline);
  free(replay);
}

static void send_to_viewers(hd_vm *v, const Hpvm__ConsoleData *m) {
  for (hd_viewer *w = v->viewers; w; w = w->next) {
    if (w->client->closing) continue;
    if (m->data.len && hd_client_backlog(w->client) > HD_VIEWER_BACKLOG) {
      w->lagging = true;      /* a viewer that does not read loses output, nobody waits for it */
      continue;
    }
    if (w->lagging) {
      Hpvm__ConsoleData note = HPVM__CONSOLE_DATA__INIT;
      note.event = "console output was lost here: this viewer did not keep up (console.log has all of it)";
      hd_client_send(w->client, &note.base);
      w->lagging = false;
    }
    hd_client_send(w->client, &m->base);
  }
}

void hd_console_output(hd_vm *v, const uint8_t *data, size_t len) {
  Hpvm__ConsoleData m = HPVM__CONSOLE_DATA__INIT;
  m.data.data = (uint8_t *)data;
  m.data.len = len;
  send_to_viewers(v, &m);
}

void hd_console_event(hd_vm *v, const char *event) {
  Hpvm__ConsoleData m = HPVM__CONSOLE_DATA__INIT;
  m.event = (char *)event;
  send_to_viewers(v, &m);
}

void hd_console_input(hd_client *c, const uint8_t *payload, uint32_t len) {
  hd_vm *v = c->console;
  Hpvm__ConsoleData *m = hpvm__console_data__unpack(NULL, len, payload);
  if (!m) {
    hd_client_close(c);
    return;
  }
  hd_viewer *w = v ? v->viewers : NULL;
  while (w && w->client != c) w = w->next;
  if (m->closed) {
    hd_client_close(c);
  } else if (w && !w->read_only && m->data.len && hd_vm_running(v)) {
    Hpvm__AppCommand cmd = HPVM__APP_COMMAND__INIT;
    cmd.body_case = HPVM__APP_COMMAND__BODY_CONSOLE_INPUT;
    cmd.console_input = m->data;
    hd_vm_send(v, &cmd);
  }
  hpvm__console_data__free_unpacked(m, NULL);
}

void hd_console_detach(hd_client *c) {
  hd_vm *v = c->console;
  if (!v) return;
  for (hd_viewer **p = &v->viewers; *p; p = &(*p)->next)
    if ((*p)->client == c) {
      hd_viewer *w = *p;
      *p = w->next;
      free(w);
      break;
    }
  c->console = NULL;
}
