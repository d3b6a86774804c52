/* mountd: what main.c and swap.c share. */
#ifndef AMBER_MOUNTD_H
#define AMBER_MOUNTD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"

#define MD_MAX_STUBS 64
#define MD_MAX_BINDS 16

/* One delayed mount and the stubs that stand in for it. */
struct md_stub {
	uint32_t mnt_id;		/* at dump: the stub's name with amber-stubfs */
	pid_t ns_pid;			/* a task of its mount namespace */
	char *mountpoint, *fstype, *source, *options;
	char *binds[MD_MAX_BINDS];	/* mountpoints of its binds */
	int nr_binds;
	bool swapped;
};

struct md_state {
	struct md_stub stubs[MD_MAX_STUBS];
	int nr;
	pid_t root;			/* the tree's root, once the driver said run */
	int stubfs;			/* the socket to amber-stubfs */
};

/* What 'amber mount-delayed --mount' asks: empty fields come from the images. */
struct md_request {
	const char *source, *fstype, *options;
};

/* swap.c: mounts the real file system of st (from rq, or the images) in
 * the tree's mount namespace, moves every descriptor, cwd and mapping of
 * the tree from the stub onto it, puts it in the stub's place and that of
 * each bind, and lets the stub go. On a refusal (a file missing or
 * changed on the real mount) or a failed mount, the tree stays on the stub
 * and nothing is changed; *summary says what was moved. */
int md_swap(struct md_state *s, struct md_stub *st, const struct md_request *rq, char *summary, size_t size,
	    struct err *e);

#endif
