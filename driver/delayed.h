/* delayed: the driver's side of delayed mounts (restore --delay-mount).
 *
 * After build-mntns put stubs on the delayed mounts, restore starts
 * amber-mountd (a daemon that outlives it) with build-mntns' socket of
 * /dev/fuse fds, and once the tree runs tells it `run PID`; a failed
 * restore stops it. 'amber mount-delayed' talks to it over
 * RUN/mountd.sock (lib/delayproto.h).
 */
#ifndef AMBER_DRIVER_DELAYED_H
#define AMBER_DRIVER_DELAYED_H

#include <sys/types.h>

#include "driver/pipeline.h"

/* Starts amber-mountd if build-mntns made stubs (its `mntns` records say),
 * and waits until it serves them; *pid gets it (0 if none). */
int delayed_start(struct pl_ctx *c, pid_t *pid, struct err *e);
/* The restore worked: the tree of root runs. */
int delayed_run(const char *run_dir, pid_t root, struct err *e);
/* The restore failed: amber-mountd (and with it amber-stubfs) goes. */
void delayed_stop(const char *run_dir, pid_t pid);

#endif
