/* build-mntns: what main.c, build.c and fill.c share. */
#ifndef AMBER_BUILD_MNTNS_H
#define AMBER_BUILD_MNTNS_H

#include "images/mnt.pb-c.h"
#include "lib/err.h"

#define BM_MAX_EXTERNAL 64

struct build_mntns_opts {
	struct { char *name, *path; } ext[BM_MAX_EXTERNAL];	/* --external mnt[NAME]:PATH */
	int nr_ext;
};

/* One namespace to build: its mounts in image order (parents first). */
struct bm_ns {
	uint32_t id;
	MntEntry **m;
	int nr;
};

/* In the calling process (a child that exits after): unshares a mount
 * namespace and makes it into ns, root and all. */
int build_mntns_build(int dirfd, const struct build_mntns_opts *o, const struct bm_ns *ns, struct err *e);
/* Fills the new tmpfs mntfd (mount me) from tmpfs-MNT.img. */
int build_mntns_fill(int dirfd, int mntfd, const MntEntry *me, struct err *e);

#endif
