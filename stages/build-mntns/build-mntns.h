/* build-mntns: what main.c, build.c and fill.c share. */
#ifndef AMBER_BUILD_MNTNS_H
#define AMBER_BUILD_MNTNS_H

#include <stdbool.h>
#include <stdint.h>

#include "images/mnt.pb-c.h"
#include "lib/err.h"

#define BM_MAX_EXTERNAL 64

struct build_mntns_opts {
	struct { char *name, *path; } ext[BM_MAX_EXTERNAL];	/* --external mnt[NAME]:PATH */
	int nr_ext;
	char *root;		/* --root PATH: every namespace's root mount is bound from it */
	bool allow_changed;	/* --allow-changed-files: an overlay's changed upper layer is mounted */
	char *delay[BM_MAX_EXTERNAL];	/* --delay-mount MOUNTPOINT: a stub goes there */
	int nr_delay;
};

/* What a namespace's delayed mounts became: for each, the /dev/fuse fd
 * of its stub (its binds share it) and its mount id. */
struct bm_stubs {
	int fd[BM_MAX_EXTERNAL];
	uint32_t mnt_id[BM_MAX_EXTERNAL];
	int nr;
};

/* One namespace to build: its mounts in image order (parents first). */
struct bm_ns {
	uint32_t id;
	MntEntry **m;
	int nr;
	const uint32_t *pids;	/* its tasks (mntns.img) */
	size_t nr_pids;
};

/* What the stage reads: each namespace of mntns.img (in id order, 1, 2,
 * ...) with its mounts from mountpoints-ID.img. */
struct build_mntns_input {
	bool present;		/* mntns.img exists: the tree made namespaces */
	MntnsEntry **nse;
	struct bm_ns *ns;	/* ns[i] is nse[i]'s */
	int nr;
};

/* input.c: reads and checks mntns.img and every mountpoints-ID.img (the
 * mounts' kinds, and that the mount a bind is made from holds its root),
 * with no side effect: what tests/fuzz/fuzz_stage_build_mntns.c feeds.
 * Free with build_mntns_input_free, also after an error. */
int build_mntns_read(int dirfd, struct build_mntns_input *in, struct err *e);
void build_mntns_input_free(struct build_mntns_input *in);

/* Directories of open files (files.img) on the namespace's mounts, and
 * the working directories and roots of its tasks (fs-PID.img). */
struct bm_hidden {
	struct {
		uint32_t id;	/* a file id, or FDPASS_ID_CWD / FDPASS_ID_ROOT | pid */
		int dirfd;
		char *path;	/* the file's, or the directory's itself */
		bool self;	/* dirfd is path itself, not its directory */
	} *e;
	int nr;
};

/* In the calling process (a child that exits after): unshares a mount
 * namespace and makes it into ns, root and all; sends the directories of
 * files under overmounts on hidden_sock (-1: none). made[] (room for
 * ns->nr) gets the st_dev of each tmpfs filled from the images, *nr_made
 * how many. */
int build_mntns_build(int dirfd, const struct build_mntns_opts *o, const struct bm_ns *ns, int hidden_sock,
		      uint64_t *made, int *nr_made, struct bm_stubs *stubs, struct err *e);
/* The index in o->delay of the --delay-mount naming me, or -1. */
int build_mntns_delayed(const struct build_mntns_opts *o, const MntEntry *me);
/* The delayed mount whose stub mount i is, or a bind of: its index in
 * ns, or -1 if i is not on a stub. */
int build_mntns_stub_of(const struct build_mntns_opts *o, const struct bm_ns *ns, int i);
/* hidden.c: opens (O_PATH) the directory of each open file, and each
 * task's cwd and root, on the detached mounts mfd[] of ns; then sends
 * those whose path no longer leads to them, closing all; returns how many
 * were sent. */
int build_mntns_hidden_open(int dirfd, const struct bm_ns *ns, const int *mfd, struct bm_hidden *h, struct err *e);
int build_mntns_hidden_send(struct bm_hidden *h, int sock, struct err *e);
/* syscalls.c: the stage's seccomp allow list (lib/confine.h), ending with -1. */
extern const int build_mntns_syscalls[];

/* Fills the new tmpfs mntfd (mount me) from tmpfs-MNT.img. */
int build_mntns_fill(int dirfd, int mntfd, const MntEntry *me, struct err *e);

#endif
