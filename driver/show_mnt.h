/* show_mnt: the mount namespace part of 'amber show DIR'. */
#ifndef AMBER_DRIVER_SHOW_MNT_H
#define AMBER_DRIVER_SHOW_MNT_H

#include <stdio.h>

/* Prints the tree's mount namespaces (mntns.img, mountpoints-ID.img), if
 * the dump has any: per namespace its tasks and the mounts it made. */
void show_mnt_text(FILE *out, int dirfd);

#endif
