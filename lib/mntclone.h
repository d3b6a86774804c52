/* mntclone: detached clones of mounts of the caller's mount namespace,
 * hidden ones included.
 *
 * A clone (open_tree OPEN_TREE_CLONE, not recursive) is one mount with no
 * submounts: walking it sees what lies under its mountpoints too, and it
 * can be bound or moved anywhere. A mount under another mount (the same
 * path mounted twice, or a parent path mounted over) cannot be reached
 * by path; it is revealed by unmounting, in the caller's namespace, what
 * covers it. So call this only in a private copy (unshare(CLONE_NEWNS)
 * and MS_REC|MS_PRIVATE on /): dump-mounts and build-mntns do, in a child.
 */
#ifndef AMBER_MNTCLONE_H
#define AMBER_MNTCLONE_H

#include "lib/err.h"
#include "lib/mountinfo.h"

/* fds[i] = a clone of mount t->m[want[i]] (t is the caller's own
 * mountinfo), for each i < nr; fds[i] already >= 0 are left alone. Visible
 * mounts are cloned first, then covering mounts unmounted and so on. */
int mntclone_get(const struct mountinfo_table *t, const int *want, int nr, int *fds, struct err *e);
/* Whether mount t->m[i] is what its mountpoint path reaches now. */
bool mntclone_visible(const struct mountinfo *m);
/* Makes copy's mount ids stand for orig's: map[i] = index in copy of orig
 * mount i, -1 if none. copy is an unshare(CLONE_NEWNS) copy of orig, so
 * the trees match by parent, mountpoint, device and root. */
void mntclone_match(const struct mountinfo_table *orig, const struct mountinfo_table *copy, int *map);
/* Makes a private copy of the mount namespace the caller is in (pid's,
 * for messages): call it in a child that entered it (lib/nschild.h). */
int mntclone_private_copy(pid_t pid, struct err *e);

#endif
