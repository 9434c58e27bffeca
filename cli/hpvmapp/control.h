/* control.h — hpvmapp's supervised mode: the VM runs under hpvmd, which talks to this
 * process over a socket (proto/control.proto, AppCommand/AppEvent) instead of a terminal.
 *
 *   hpvmapp --control-fd N --name VM --run-dir DIR --kernel ... (the usual options)
 *
 * fd N is hpvmd's end of a socketpair. The guest console goes to DIR/console.log (kept
 * across detaches and hpvmd restarts, rotated to console.log.1 past 1 MiB) and, while a
 * supervisor is connected, to it. hpvmapp survives its supervisor: when the connection
 * closes, the VM keeps running and waits for a new hpvmd on DIR/app.sock; DIR/app.pid names
 * the process and, when the VM ends, DIR/exit says how (status and reason) for an hpvmd
 * that was not there to hear it. Internal to hpvmapp; main.c calls these functions. */
#ifndef HPVMAPP_CONTROL_H
#define HPVMAPP_CONTROL_H

#include "control.pb-c.h"
#include "vm.h"

typedef struct app_ctl_opts {
  int fd;                 /* --control-fd, -1 when not supervised */
  const char *name;       /* --name */
  const char *run_dir;    /* --run-dir */
} app_ctl_opts;

typedef struct app_ctl app_ctl;

/* argv[*i] is a control option: 1 (its value consumed, *i advanced), 0 when it is not one,
 * -1 after printing why its value is bad. */
int app_ctl_parse(app_ctl_opts *o, int argc, char **argv, int *i);
/* Supervised mode: check the options, take over the console (cfg->console_in/out become
 * pipes of this module). *out stays NULL when o->fd < 0. 0, or -1 after printing why. */
int app_ctl_prepare(const app_ctl_opts *o, vm_config *cfg, app_ctl **out);
/* The VM runs: say hello to the supervisor and serve its commands (or, when app_ctl_connect
 * did that already, report the VM On). */
int app_ctl_start(app_ctl *c, vm *v);
/* Say hello and serve commands before the guest runs, in state (INCOMING: the target of a
 * live migration); app_ctl_start follows once it runs. */
int app_ctl_connect(app_ctl *c, vm *v, int state);

/* ---- For the live migration glue (migrate.c, app_migrate.h) ---------------------------- */
typedef struct app_mig app_mig;
/* Migration commands (migrate_out, incoming, handoff/adopt results, cancel) go to m. */
void app_ctl_set_mig(app_ctl *c, app_mig *m);
/* An event to the supervisor, from any thread (dropped while none is connected). */
void app_ctl_send(app_ctl *c, const Hpvm__AppEvent *e);
/* +1 per supervisor connection: a request waiting for its answer is sent again. */
unsigned app_ctl_generation(app_ctl *c);
void app_ctl_set_state(app_ctl *c, int state);
/* The run ends because the guest now runs on host (the exit says "migrated to host H"). */
void app_ctl_set_migrated(app_ctl *c, const char *host);
/* The reason the exit gives instead of the usual one (a failed incoming migration). */
void app_ctl_set_exit_note(app_ctl *c, const char *reason);
/* The VM never ran (it could not be created or loaded): undo app_ctl_prepare (app.sock,
 * app.pid) without an exit record; hpvmd reads the reason from hpvmapp's stderr. NULL-safe. */
void app_ctl_discard(app_ctl *c);
/* The VM has stopped (vm_wait returned status), before vm_destroy: drain the console, tell
 * the supervisor (or DIR/exit) how it ended, remove app.sock and app.pid. NULL-safe. */
void app_ctl_finish(app_ctl *c, int status);

#endif
