/* dump-mounts: what main.c and tmpfs.c share. */
#ifndef AMBER_DUMP_MOUNTS_H
#define AMBER_DUMP_MOUNTS_H

#include <sys/types.h>

#include "images/mnt.pb-c.h"
#include "lib/err.h"
#include "lib/mountinfo.h"

/* Saves the contents of tmpfs mount 'm', given as mntfd (a clone of it
 * alone, lib/mntclone.h), to tmpfs-ID.img in dirfd; *files counts them. */
int dump_mounts_tmpfs(int dirfd, int mntfd, const struct mountinfo *m, int *files, struct err *e);

/* overlay.c: fills me for overlay mount m as MNT_OVERLAY (layers, options,
 * upper layer digest), or refuses it naming --external; the strings it
 * sets are freed by dump_mounts_overlay_free (a no-op on other kinds). */
int dump_mounts_overlay(const struct mountinfo *m, MntEntry *me, struct err *e);
void dump_mounts_overlay_free(MntEntry *me);

#endif
