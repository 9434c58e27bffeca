/* server.c — hpvmd's control socket: STATE/hpvmd.sock, mode 0660, group o.group.
 *
 * Who may connect is decided twice: by the file's mode and group (the kernel refuses
 * others before we see them) and by the peer's credentials (SO_PEERCRED, SO_PEERGROUPS):
 * root, hpvmd's own user, or a member of the configured group. A refused peer gets one
 * Response saying so and the connection is closed.
 *
 * Per client: the framer collects Request frames; each is dispatched in turn. A request
 * that waits on a VM (start, stop, pause, remove of a running VM) makes the client busy:
 * reading stops until it is answered, so responses always come back in request order.
 * After a successful console attach the client's frames are ConsoleData (console.c). */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

typedef struct hd_write {
  uv_write_t req;
  uint8_t *buf;
  hd_client *client;
  bool shutdown_after;
} hd_write;

static void process_frames(hd_client *c);

/* ---- Writing ---------------------------------------------------------------------------------- */

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)status;
  free(req);
}

static void on_write(uv_write_t *req, int status) {
  hd_write *w = (hd_write *)req;
  free(w->buf);
  if (status < 0) {
    hd_client_close(w->client);
  } else if (w->shutdown_after && !w->client->closing) {
    /* Our side is done; the client reads the answer and closes (on_read sees the end). */
    uv_shutdown_t *sd = malloc(sizeof *sd);
    if (!sd || uv_shutdown(sd, (uv_stream_t *)&w->client->pipe, on_shutdown)) {
      free(sd);
      hd_client_close(w->client);
    }
  }
  free(w);
}

static int send_frame(hd_client *c, const ProtobufCMessage *m, bool shutdown_after) {
  if (c->closing) return HPVM_EIO;
  hd_write *w = calloc(1, sizeof *w);
  if (!w) return HPVM_ENOMEM;
  size_t len;
  int rc = wire_frame_pack(m, WIRE_RPC_MAX_FRAME, &w->buf, &len);
  if (rc) {
    free(w);
    return rc;
  }
  w->client = c;
  w->shutdown_after = shutdown_after;
  uv_buf_t b = uv_buf_init((char *)w->buf, (unsigned)len);
  if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_write) < 0) {
    free(w->buf);
    free(w);
    hd_client_close(c);
    return HPVM_EIO;
  }
  return 0;
}

int hd_client_send(hd_client *c, const ProtobufCMessage *m) {
  return send_frame(c, m, false);
}

size_t hd_client_backlog(hd_client *c) {
  return uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe);
}

static void on_client_closed(uv_handle_t *h) {
  hd_client *c = h->data;
  wire_framer_free(&c->in);
  free(c);
}

void hd_client_close(hd_client *c) {
  if (c->closing) return;
  c->closing = true;
  hd_daemon *d = c->d;
  hd_forget_client(d, c);
  for (hd_client **p = &d->clients; *p; p = &(*p)->next)
    if (*p == c) {
      *p = c->next;
      break;
    }
  uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

/* ---- Answers and the command log -------------------------------------------------------------- */

void hd_cmdlog(hd_daemon *d, const char *user, const char *cmdline, int err, const char *msg) {
  if (!cmdline || !d->sto) return;
  if (sto_cmdlog_append(d->sto, user, cmdline, err, msg ? msg : ""))
    hd_log(d, HD_WARN, "cannot append to the command log: %s", sto_error(d->sto));
}

void hd_answer(hd_client *c, Hpvm__Response *r, const char *user, const char *cmdline) {
  if (c) {
    hd_daemon *d = c->d;
    hd_cmdlog(d, user, cmdline, r->error, r->message);
    hd_client_send(c, &r->base);
    if (c->busy) {
      c->busy = false;
      if (!c->closing && !c->dispatching) process_frames(c);   /* a late answer: resume */
    }
  }
}

void hd_answer_error(hd_client *c, uint64_t id, const char *user, const char *cmdline, int err,
                     const char *fmt, ...) {
  char msg[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  Hpvm__Response r = HPVM__RESPONSE__INIT;
  r.id = id;
  r.error = err;
  r.message = msg;
  hd_answer(c, &r, user, cmdline);
}

/* ---- Dispatch --------------------------------------------------------------------------------- */

static const char *verb_of(const Hpvm__Request *r, const char **name) {
  *name = "";
  switch (r->body_case) {
  case HPVM__REQUEST__BODY_CREATE: *name = r->create->config ? r->create->config->name : ""; return "hpvmcreate";
  case HPVM__REQUEST__BODY_MODIFY: *name = r->modify->name; return "hpvmmodify";
  case HPVM__REQUEST__BODY_REMOVE: *name = r->remove->name; return "hpvmremove";
  case HPVM__REQUEST__BODY_CLONE: *name = r->clone->source; return "hpvmclone";
  case HPVM__REQUEST__BODY_START: *name = r->start->name; return "hpvmstart";
  case HPVM__REQUEST__BODY_STOP: *name = r->stop->name; return "hpvmstop";
  case HPVM__REQUEST__BODY_PAUSE: *name = r->pause->name; return r->pause->resume ? "hpvmresume" : "hpvmpause";
  case HPVM__REQUEST__BODY_STATUS: *name = r->status->name; return "hpvmstatus";
  case HPVM__REQUEST__BODY_LIST: return "hpvmstatus";
  case HPVM__REQUEST__BODY_INFO: return "hpvminfo";
  case HPVM__REQUEST__BODY_CONSOLE: *name = r->console->name; return "hpvmconsole";
  case HPVM__REQUEST__BODY_MIGRATE: *name = r->migrate->name; return "hpvmmigrate";
  case HPVM__REQUEST__BODY_SUSPEND: *name = r->suspend->name; return "hpvmsuspend";
  case HPVM__REQUEST__BODY_RESUME: *name = r->resume->name; return "hpvmresume";
  case HPVM__REQUEST__BODY_HOST: return "hpvmhost";
  default: return "?";
  }
}

/* The command line for the log: the client's argv, or one made from the request. */
static void make_cmdline(const Hpvm__Request *r, char *out, size_t len) {
  size_t n = 0;
  out[0] = 0;
  for (size_t i = 0; i < r->n_argv && n + 1 < len; i++) {
    const char *a = r->argv[i];
    bool quote = !*a || strpbrk(a, " \t\"'");
    n += (size_t)snprintf(out + n, len - n, quote ? "%s\"%s\"" : "%s%s", i ? " " : "", a);
  }
  if (n >= len) out[len - 1] = 0;
  if (r->n_argv) return;
  const char *name, *verb = verb_of(r, &name);
  snprintf(out, len, name && *name ? "%s -P %s" : "%s", verb, name);
}

static void dispatch(hd_client *c, const Hpvm__Request *r) {
  hd_daemon *d = c->d;
  char cmdline[2048];
  make_cmdline(r, cmdline, sizeof cmdline);
  /* Queries are not logged, like HPVM's command.log. */
  bool query = r->body_case == HPVM__REQUEST__BODY_STATUS || r->body_case == HPVM__REQUEST__BODY_LIST ||
               r->body_case == HPVM__REQUEST__BODY_INFO ||
               (r->body_case == HPVM__REQUEST__BODY_HOST && r->host->op == HPVM__HOST_OP__HOST_OP_STATUS);
  hd_req q = {c, r, c->user, query ? NULL : cmdline, false, NULL};
  c->busy = true;
  switch (r->body_case) {
  case HPVM__REQUEST__BODY_CREATE: hd_cmd_create(d, &q); break;
  case HPVM__REQUEST__BODY_MODIFY: hd_cmd_modify(d, &q); break;
  case HPVM__REQUEST__BODY_REMOVE: hd_cmd_remove(d, &q); break;
  case HPVM__REQUEST__BODY_CLONE: hd_cmd_clone(d, &q); break;
  case HPVM__REQUEST__BODY_START: hd_cmd_start(d, &q); break;
  case HPVM__REQUEST__BODY_STOP: hd_cmd_stop(d, &q); break;
  case HPVM__REQUEST__BODY_PAUSE: hd_cmd_pause(d, &q); break;
  case HPVM__REQUEST__BODY_STATUS: hd_cmd_status(d, &q); break;
  case HPVM__REQUEST__BODY_LIST: hd_cmd_list(d, &q); break;
  case HPVM__REQUEST__BODY_INFO: hd_cmd_info(d, &q); break;
  case HPVM__REQUEST__BODY_CONSOLE: hd_cmd_console(d, &q); break;
  case HPVM__REQUEST__BODY_MIGRATE: hd_cmd_migrate(d, &q); break;
  case HPVM__REQUEST__BODY_SUSPEND: hd_cmd_suspend(d, &q); break;
  case HPVM__REQUEST__BODY_RESUME: hd_cmd_resume(d, &q); break;
  case HPVM__REQUEST__BODY_HOST: hd_cmd_host(d, &q); break;
  default:
    hd_answer_error(c, r->id, c->user, NULL, HPVM_ENOTSUP,
                    "hpvmd %s does not know this request; run the same hpvm version as the daemon", HD_VERSION);
  }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  buf->base = malloc(65536);
  buf->len = buf->base ? 65536 : 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  hd_client *c = s->data;
  if (n < 0 || (c->refused && (c->discarded += (size_t)n) > 65536)) {
    free(buf->base);
    hd_client_close(c);
    return;
  }
  if (c->refused) {            /* a refused peer is heard until it closes, never listened to */
    free(buf->base);
    return;
  }
  int rc = n ? wire_framer_feed(&c->in, buf->base, (size_t)n) : 0;
  free(buf->base);
  if (rc) {
    hd_client_close(c);
    return;
  }
  process_frames(c);
}

/* Handle the complete frames received, in order, until one makes the client wait. Reading
 * stops while the client waits and resumes when it has its answer. */
static void process_frames(hd_client *c) {
  const uint8_t *p;
  uint32_t n;
  int rc;
  while (!c->closing && !c->busy && (rc = wire_framer_next(&c->in, &p, &n)) == 1) {
    if (c->console) {
      hd_console_input(c, p, n);
      continue;
    }
    Hpvm__Request *r = hpvm__request__unpack(NULL, n, p);
    if (!r) {
      hd_log(c->d, HD_WARN, "client pid %d (%s): a frame that is not a Request; closing", (int)c->pid, c->user);
      hd_client_close(c);
      return;
    }
    c->dispatching = true;
    dispatch(c, r);
    c->dispatching = false;
    hpvm__request__free_unpacked(r, NULL);
  }
  if (!c->closing && c->in.err) {
    hd_log(c->d, HD_WARN, "client pid %d (%s): %s; closing", (int)c->pid, c->user, c->in.msg);
    hd_client_close(c);
    return;
  }
  if (c->closing) return;
  if (c->busy) uv_read_stop((uv_stream_t *)&c->pipe);
  else uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* ---- Accepting -------------------------------------------------------------------------------- */

static bool peer_allowed(hd_daemon *d, int fd, hd_client *c) {
  if (c->uid == 0 || c->uid == geteuid()) return true;
  if (!d->has_group) return false;
  if (c->gid == d->gid) return true;
  gid_t groups[256];
  socklen_t len = sizeof groups;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
    for (size_t i = 0; i < len / sizeof(gid_t); i++)
      if (groups[i] == d->gid) return true;
  return false;
}

static void on_connection(uv_stream_t *server, int status) {
  hd_daemon *d = server->data;
  if (status < 0) {
    hd_log(d, HD_WARN, "accept on the control socket: %s", uv_strerror(status));
    return;
  }
  hd_client *c = calloc(1, sizeof *c);
  if (!c) return;
  c->d = d;
  uv_pipe_init(d->loop, &c->pipe, 0);
  c->pipe.data = c;
  if (uv_accept(server, (uv_stream_t *)&c->pipe)) {
    uv_close((uv_handle_t *)&c->pipe, on_client_closed);
    return;
  }
  wire_framer_init(&c->in, WIRE_MAGIC_CONTROL, WIRE_RPC_VERSION, HD_REQUEST_MAX);
  c->next = d->clients;
  d->clients = c;
  uv_os_fd_t fd = -1;
  uv_fileno((uv_handle_t *)&c->pipe, &fd);
  struct ucred cr = {0};
  socklen_t crl = sizeof cr;
  bool known = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) == 0;
  c->uid = known ? cr.uid : (uid_t)-1;
  c->gid = known ? cr.gid : (gid_t)-1;
  c->pid = known ? cr.pid : 0;
  struct passwd pw, *res = NULL;
  char pwbuf[4096];
  if (known && getpwuid_r(c->uid, &pw, pwbuf, sizeof pwbuf, &res) == 0 && res)
    snprintf(c->user, sizeof c->user, "%s", pw.pw_name);
  else snprintf(c->user, sizeof c->user, "uid %d", (int)c->uid);
  uint8_t pre[WIRE_PREFACE_LEN];
  wire_preface_make(pre, WIRE_MAGIC_CONTROL, WIRE_RPC_VERSION);
  uv_buf_t b = uv_buf_init((char *)pre, sizeof pre);
  uv_try_write((uv_stream_t *)&c->pipe, &b, 1);   /* 8 bytes into an empty socket buffer */
  if (!known || !peer_allowed(d, fd, c)) {
    char msg[300];
    snprintf(msg, sizeof msg, "permission denied: %s (uid %d) may not control hpvmd; run as root%s%s", c->user,
             (int)c->uid, d->has_group ? " or as a member of group " : "", d->has_group ? d->o.group : "");
    hd_log(d, HD_WARN, "refused a control connection from pid %d: %s", (int)c->pid, msg);
    Hpvm__Response r = HPVM__RESPONSE__INIT;
    r.error = HPVM_EPERM;
    r.message = msg;
    c->refused = true;
    send_frame(c, &r.base, true);
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
    return;
  }
  process_frames(c);
}

int hd_server_start(hd_daemon *d, char *msg, size_t msglen) {
  snprintf(d->socket_path, sizeof d->socket_path, "%s/%s", d->o.state_dir, "hpvmd.sock");
  if (strlen(d->socket_path) >= 108) {
    snprintf(msg, msglen, "the control socket path %s is too long for a Unix socket (108 bytes); choose a shorter "
             "--state-dir", d->socket_path);
    return HPVM_ERANGE;
  }
  unlink(d->socket_path);   /* we hold the state dir's lock: a socket there is a dead hpvmd's */
  uv_pipe_init(d->loop, &d->server, 0);
  d->server.data = d;
  d->server_open = true;
  mode_t old = umask(0117);
  int rc = uv_pipe_bind(&d->server, d->socket_path);
  umask(old);
  if (!rc) rc = uv_listen((uv_stream_t *)&d->server, 128, on_connection);
  if (rc) {
    snprintf(msg, msglen, "cannot listen on %s: %s", d->socket_path, uv_strerror(rc));
    return HPVM_EIO;
  }
  if (chmod(d->socket_path, 0660) || (d->has_group && chown(d->socket_path, (uid_t)-1, d->gid))) {
    snprintf(msg, msglen, "cannot set the mode or group of %s: %s", d->socket_path, strerror(errno));
    return HPVM_EIO;
  }
  return 0;
}

void hd_server_stop(hd_daemon *d) {
  if (d->server_open) {
    uv_close((uv_handle_t *)&d->server, NULL);
    d->server_open = false;
    unlink(d->socket_path);
  }
  while (d->clients) hd_client_close(d->clients);
}
