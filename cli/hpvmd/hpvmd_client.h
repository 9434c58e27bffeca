/* hpvmd_client.h — the client side of hpvmd's control socket (library hpvmd_client): what
 * the hpvm command set (hpvmcreate, hpvmstatus, hpvmconsole, ...) and the tests link to talk
 * to the daemon of their host.
 *
 * A call connects to the Unix socket, exchanges prefaces, sends one hpvm.Request
 * (proto/control.proto) and reads its hpvm.Response. Every failure, the daemon's or the
 * transport's, ends as a Response whose error (a negative HPVM_E* code) and message (one
 * line: what failed, what to do) the caller prints as they are: "hpvmd is not running" is a
 * Response like "no VM named x". hpvmconsole attaches with hpvmd_console_attach and then
 * exchanges ConsoleData messages on the fd it gets. Nothing here is global. */
#ifndef HPVMD_CLIENT_H
#define HPVMD_CLIENT_H

#include <stddef.h>

#include "control.pb-c.h"
#include "hpvm_error.h"

#define HPVMD_DEFAULT_STATE_DIR "/var/lib/hpvm"
#define HPVMD_SOCKET_NAME "hpvmd.sock"

/* The control socket's path: $HPVMD_SOCKET, else $HPVM_STATE_DIR/hpvmd.sock, else
 * /var/lib/hpvm/hpvmd.sock. Written to buf (which is returned). */
const char *hpvmd_socket_path(char *buf, size_t len);

/* One request, one response. Returns 0 when hpvmd answered and resp->error is 0, else the
 * negative code that is also in (*resp)->error; *resp is always set (free it with
 * hpvmd_response_free). socket_path NULL means hpvmd_socket_path(). */
int hpvmd_call(const char *socket_path, const Hpvm__Request *req, Hpvm__Response **resp);
void hpvmd_response_free(Hpvm__Response *resp);

/* Lower level: a connected, prefaced socket (close it when done), and one exchange on it
 * (several may follow each other on one connection). */
int hpvmd_connect(const char *socket_path, int *fd, char *msg, size_t msglen);
int hpvmd_exchange(int fd, const Hpvm__Request *req, Hpvm__Response **resp);

/* ---- Console ------------------------------------------------------------------------------- */

/* Attach to a VM's console. On success *fd is the stream (ConsoleData both ways) and
 * (*resp)->console_replay the end of the console log; on failure *fd is -1. */
int hpvmd_console_attach(const char *socket_path, const Hpvm__ConsoleAttachRequest *a, int *fd,
                         Hpvm__Response **resp);
/* Keyboard bytes to the guest. */
int hpvmd_console_send(int fd, const void *data, size_t len);
/* The next ConsoleData from hpvmd: 0 with *out set (free with
 * protobuf_c_message_free_unpacked(&(*out)->base, NULL)), 1 when hpvmd closed the stream,
 * or a negative code. */
int hpvmd_console_recv(int fd, Hpvm__ConsoleData **out);

#endif
