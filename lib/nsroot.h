/* nsroot: a mount namespace as seen from its root, whatever root its
 * tasks chroot(2)ed to.
 *
 * /proc/PID/root and /proc/PID/mountinfo show a task's own root: a task
 * that chroot'ed sees only the mounts under its root, by paths relative to
 * it. The dump wants the namespace whole, by the paths its root sees (the
 * paths /proc/PID/cwd, fd/N and maps give the dumper are those too). A
 * child that enters the namespace with setns stands at its root (the top
 * of its root mount, as any task entering it does); it opens "/" O_PATH and
 * its own mountinfo there (through the caller's /proc, opened before, so
 * the namespace need not have a /proc of its own) and sends both fds back.
 * A mountinfo file keeps the namespace and root it was opened with, so it
 * can be read after the child is gone.
 */
#ifndef AMBER_NSROOT_H
#define AMBER_NSROOT_H

#include <sys/types.h>

#include "lib/err.h"
#include "lib/mountinfo.h"

/* An O_PATH fd of the root of pid's mount namespace (NULL: not wanted)
 * and its full mount table. Needs CAP_SYS_ADMIN and CAP_SYS_CHROOT. */
int nsroot_open(pid_t pid, int *root_fd, struct mountinfo_table *t, struct err *e);

#endif
