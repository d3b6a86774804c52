/* stubfs: what main.c and stub.c share. */
#ifndef AMBER_STUBFS_H
#define AMBER_STUBFS_H

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "lib/err.h"

/* What a stub does with a request that needs data it does not have. */
enum stub_mode {
	STUB_BUILD,	/* restore-files makes the tree's files: metadata is kept, data refused (EIO) */
	STUB_RUN,	/* the tree runs: such a request waits, unanswered */
	STUB_REAL,	/* the real mount is there: requests go to it, by path */
};

/* One file or directory of a stub; its inode number is its index + 1. */
struct stub_node {
	uint64_t parent;
	char *name;
	struct stat st;
};

/* A request held while in STUB_RUN, replayed in STUB_REAL. */
struct stub_pend {
	int op;
	fuse_req_t req;
	fuse_ino_t ino, ino2;
	char *name, *name2;
	struct stat attr;
	int to_set;
	size_t size;
	off_t off;
	char *buf;
	mode_t mode;
	dev_t rdev;
	struct fuse_file_info fi;
	bool has_fi;
};

struct stub {
	uint32_t mnt_id;
	int fuse_fd;
	struct fuse_session *se;
	struct fuse_buf fbuf;
	enum stub_mode mode;
	int real;		/* STUB_REAL: the real mount's root, O_PATH */
	struct stub_node *n;
	int nr;
	struct stub_pend *p;
	int nr_p;
	bool gone;		/* the kernel ended the connection */
};

/* Makes the FUSE session of s on its /dev/fuse fd. */
int stub_start(struct stub *s, struct err *e);
/* Serves one request that is ready on s's fd; 0, or <0 when the
 * connection ended (s->gone). */
int stub_serve(struct stub *s);
/* Goes to STUB_REAL on the real root fd and answers what was held;
 * returns how many requests were answered. */
int stub_go_real(struct stub *s, int real);
void stub_free(struct stub *s);

#endif
