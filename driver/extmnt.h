/* extmnt: the mount kind of --external, as CRIU users write it.
 *
 *	dump:    --external mnt[MOUNTPOINT]:NAME   the mount at MOUNTPOINT in
 *	         the tree's namespace is not saved; the images call it NAME
 *	restore: --external mnt[NAME]:PATH         NAME is bound from PATH
 *
 * The driver only checks the shape and hands each one to the stage that
 * uses it (dump-mounts, build-mntns) as --external ARG.
 */
#ifndef AMBER_DRIVER_EXTMNT_H
#define AMBER_DRIVER_EXTMNT_H

#define EXTMNT_MAX 64

struct extmnt {
	const char *arg[EXTMNT_MAX];
	int nr;
};

/* Takes one --external value: 1 if it is a mnt[...] one (kept), 0 if it
 * is of another kind (not ours), <0 after printing why it is malformed. */
int extmnt_add(struct extmnt *x, const char *arg);

#endif
