/* app_migrate.h — hpvmapp's live migration glue (migrate.c): what connects hpvmd's commands
 * (proto/control.proto AppMigrateOut, AppIncoming, the handoff and adopt results, cancel) to
 * the migration library (migrate/migrate.h) over authenticated channels (proto/chan.h).
 *
 * Source: AppMigrateOut starts a migration thread that connects to the target host, makes the
 * offer (proto/peer.proto), opens the other channels, waits until the target's hpvmapp
 * --incoming is ready and runs mig_source_run; its hooks become AppEvents (progress, handoff)
 * and wait for hpvmd's answers. After a handoff the guest never resumes here: the VM is
 * powered off and the exit names the target. Target: app_mig_incoming takes the channels
 * hpvmd accepted (inherited sockets + AppIncoming's keys), runs mig_dest_run and asks hpvmd
 * to adopt the lease before the guest resumes. The file is named so as not to hide the
 * library's migrate.h. Internal to hpvmapp. */
#ifndef HPVMAPP_APP_MIGRATE_H
#define HPVMAPP_APP_MIGRATE_H

#include <stddef.h>

#include "control.h"
#include "control.pb-c.h"
#include "vm.h"

#define APP_MIG_MAX_CHANNELS 16   /* = MIG_MAX_CHANNELS (migrate/migrate.h) */

/* Parse "--incoming 4,5": the channels' sockets, in channel order. 1 (consumed), 0 (not this
 * option), -1 after printing why. */
int app_mig_parse(int argc, char **argv, int *i, int *fds, unsigned *nfds);

/* NULL-safe throughout: without a supervisor (c NULL) there is no migration. */
app_mig *app_mig_new(app_ctl *c, vm *v);
/* A migration command from hpvmd (the control thread). */
void app_mig_command(app_mig *m, const Hpvm__AppCommand *cmd);
/* Target: receive the guest on the channels fds[0..n) (keys from AppIncoming, awaited here).
 * 0: the guest runs (vm_start done, the lease adopted); else the error, msg says why. */
int app_mig_incoming(app_mig *m, const int *fds, unsigned n, char *msg, size_t msglen);
/* The VM stopped: end a migration still running (cancel) and wait for its thread. */
void app_mig_stop(app_mig *m);
void app_mig_free(app_mig *m);

#endif
