/* dump-mounts: what main.c and tmpfs.c share. */
#ifndef AMBER_DUMP_MOUNTS_H
#define AMBER_DUMP_MOUNTS_H

#include <sys/types.h>

#include "lib/err.h"
#include "lib/mountinfo.h"

/* Saves the contents of tmpfs mount 'm', given as mntfd (a clone of it
 * alone, lib/mntclone.h), to tmpfs-ID.img in dirfd; *files counts them. */
int dump_mounts_tmpfs(int dirfd, int mntfd, const struct mountinfo *m, int *files, struct err *e);

#endif
