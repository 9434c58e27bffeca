/* client.c — hpvmd_client: connect to hpvmd's control socket and exchange requests and
 * responses (see hpvmd_client.h). Transport failures become Responses carrying one line for
 * the operator, so every hpvm command reports errors one way. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hpvmd_client.h"
#include "rpc.h"

const char *hpvmd_socket_path(char *buf, size_t len) {
  const char *s = getenv("HPVMD_SOCKET");
  if (s && *s) snprintf(buf, len, "%s", s);
  else {
    const char *d = getenv("HPVM_STATE_DIR");
    snprintf(buf, len, "%s/%s", d && *d ? d : HPVMD_DEFAULT_STATE_DIR, HPVMD_SOCKET_NAME);
  }
  return buf;
}

/* A Response made here (not by hpvmd) for a failure the caller prints like any other. */
static Hpvm__Response *local_response(int err, const char *msg) {
  Hpvm__Response *r = malloc(sizeof *r);
  if (!r) return NULL;
  hpvm__response__init(r);
  r->error = err;
  r->message = strdup(msg);
  if (!r->message) r->message = (char *)protobuf_c_empty_string;
  return r;
}

void hpvmd_response_free(Hpvm__Response *resp) {
  if (resp) protobuf_c_message_free_unpacked(&resp->base, NULL);
}

int hpvmd_connect(const char *socket_path, int *fd, char *msg, size_t msglen) {
  char def[512];
  if (!socket_path) socket_path = hpvmd_socket_path(def, sizeof def);
  *fd = -1;
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(socket_path) >= sizeof a.sun_path) {
    snprintf(msg, msglen, "control socket path %s is too long for a Unix socket", socket_path);
    return HPVM_ERANGE;
  }
  strcpy(a.sun_path, socket_path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    snprintf(msg, msglen, "cannot create a socket: %s", strerror(errno));
    return HPVM_EIO;
  }
  if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
    int e = errno;
    close(s);
    if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR) {
      snprintf(msg, msglen, "hpvmd is not running (%s at %s); start it with 'systemctl start hpvmd' "
               "or 'hpvmd --shared DIR', or set HPVMD_SOCKET", e == ENOENT ? "no control socket" : "nothing listens",
               socket_path);
      return HPVM_EUNAVAIL;
    }
    if (e == EACCES || e == EPERM) {
      snprintf(msg, msglen, "no permission to use hpvmd's socket %s: run as root or as a member of hpvmd's group",
               socket_path);
      return HPVM_EPERM;
    }
    snprintf(msg, msglen, "cannot connect to hpvmd at %s: %s", socket_path, strerror(e));
    return HPVM_EIO;
  }
  /* A failed send is not the end: hpvmd's own preface (and a refusal) may be waiting. */
  wire_send_preface(s, WIRE_MAGIC_CONTROL, WIRE_RPC_VERSION);
  int rc = wire_recv_preface(s, WIRE_MAGIC_CONTROL, WIRE_RPC_VERSION, msg, msglen);
  if (rc) {
    close(s);
    return rc;
  }
  *fd = s;
  return 0;
}

int hpvmd_exchange(int fd, const Hpvm__Request *req, Hpvm__Response **resp) {
  char msg[256];
  *resp = NULL;
  int rc = wire_send_msg(fd, &req->base, WIRE_RPC_MAX_FRAME);
  if (rc == HPVM_ERANGE || rc == HPVM_ENOMEM) {
    *resp = local_response(rc, rc == HPVM_ERANGE ? "the request is too large for hpvmd" : "out of memory");
    return rc;
  }
  /* Even when the send failed, hpvmd may have said why before closing (a refusal). */
  ProtobufCMessage *m = NULL;
  int sent = rc;
  rc = wire_recv_msg(fd, &hpvm__response__descriptor, WIRE_RPC_MAX_FRAME, &m, msg, sizeof msg);
  if (rc && sent) {
    *resp = local_response(sent, "hpvmd closed the connection before the request was sent");
    return sent;
  }
  if (rc == 1) {
    rc = HPVM_EIO;
    snprintf(msg, sizeof msg, "hpvmd closed the connection without an answer (did it stop or crash? see its log)");
  }
  if (rc) {
    *resp = local_response(rc, msg);
    return rc;
  }
  *resp = (Hpvm__Response *)m;
  return (*resp)->error < 0 ? (*resp)->error : 0;
}

int hpvmd_call(const char *socket_path, const Hpvm__Request *req, Hpvm__Response **resp) {
  char msg[600];
  int fd;
  int rc = hpvmd_connect(socket_path, &fd, msg, sizeof msg);
  if (rc) {
    *resp = local_response(rc, msg);
    return rc;
  }
  rc = hpvmd_exchange(fd, req, resp);
  close(fd);
  return rc;
}

int hpvmd_console_attach(const char *socket_path, const Hpvm__ConsoleAttachRequest *a, int *fd,
                         Hpvm__Response **resp) {
  char msg[600];
  int rc = hpvmd_connect(socket_path, fd, msg, sizeof msg);
  if (rc) {
    *resp = local_response(rc, msg);
    return rc;
  }
  Hpvm__Request req = HPVM__REQUEST__INIT;
  req.body_case = HPVM__REQUEST__BODY_CONSOLE;
  req.console = (Hpvm__ConsoleAttachRequest *)a;
  rc = hpvmd_exchange(*fd, &req, resp);
  if (rc) {
    close(*fd);
    *fd = -1;
  }
  return rc;
}

int hpvmd_console_send(int fd, const void *data, size_t len) {
  Hpvm__ConsoleData d = HPVM__CONSOLE_DATA__INIT;
  d.data.data = (uint8_t *)data;
  d.data.len = len;
  return wire_send_msg(fd, &d.base, WIRE_RPC_MAX_FRAME);
}

int hpvmd_console_recv(int fd, Hpvm__ConsoleData **out) {
  ProtobufCMessage *m = NULL;
  int rc = wire_recv_msg(fd, &hpvm__console_data__descriptor, WIRE_RPC_MAX_FRAME, &m, NULL, 0);
  if (rc == 0) *out = (Hpvm__ConsoleData *)m;
  return rc;
}
