/* verify: the stage's internals (this folder only). */
#ifndef AMBER_STAGE_VERIFY_H
#define AMBER_STAGE_VERIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "images/core.pb-c.h"
#include "images/files.pb-c.h"
#include "images/pstree.pb-c.h"
#include "ipc/stage.h"
#include "lib/err.h"

struct verify_opts {
	bool warn;		/* --warn: report, but let the tree run */
	bool pages;		/* --pages: compare every restored page too */
	bool allow_changed;	/* --allow-changed-files: files by path may be others */
};

/* One process of the made tree: as the images have it, and where it is. */
struct vf_task {
	PstreeEntry *pe;	/* from restore-tasks' 'task' record */
	pid_t host;		/* its pid as this stage sees it */
	/* It lives in this stage's mount namespace: only then do paths read
	 * here name what it sees (else device and inode stand for them). */
	bool same_ns;
};

/* The comparison under way. */
struct vf {
	int dir_fd;
	const struct verify_opts *o;
	struct vf_task *tasks;
	int nr;
	uint32_t checked, differences;
	char first[512];	/* the first difference, for the verdict */
	RegFileEntry **files;	/* files.img, by id (NULL where there is none) */
	size_t nr_files;
	ino_t mntns;		/* this stage's mount namespace */
	/* Each dumped pty pair (N of /dev/pts/N) and the pair its first end
	 * seen is on now, with that end's name (fds.c vf_pty). */
	struct vf_pty { uint32_t devpts, dumped, now; char first[48]; } *ptys;
	size_t nr_ptys;
};

/* Counts one compared field. */
static inline void vf_checked(struct vf *v)
{
	v->checked++;
}
/* Reports a difference: "pid P thread T: OBJECT: FIELD: dumped X, restored Y". */
void vf_diff(struct vf *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Compares two numbers (a difference names what and both values). */
void vf_num(struct vf *v, const char *what, uint64_t dumped, uint64_t restored);
void vf_hex(struct vf *v, const char *what, uint64_t dumped, uint64_t restored);
void vf_str(struct vf *v, const char *what, const char *dumped, const char *restored);
/* The image pid of the process at host pid 'host', or 0 if not the tree's. */
uint32_t vf_image_pid(const struct vf *v, pid_t host);
/* Whether the tree (helpers included) has a process with image pid 'pid'. */
bool vf_in_tree(const struct vf *v, uint32_t pid);

/* task.c: the tree (parents, groups, sessions, threads) and each thread's
 * credentials, signal state, scheduling, comm and each process's limits
 * and /proc knobs. */
int vf_task(struct vf *v, const struct vf_task *t, struct err *e);
/* mm.c: the address space against mm-PID.img. */
int vf_mm(struct vf *v, const struct vf_task *t, struct err *e);
/* fds.c: the descriptors against fdinfo-PID.img and files.img, and the
 * umask, cwd and root against fs-PID.img. */
int vf_fds(struct vf *v, const struct vf_task *t, struct err *e);
/* pages.c: every page of pages-PID.img against the process's memory. */
int vf_pages(struct vf *v, const struct vf_task *t, struct err *e);

int verify_run(const struct stage_ctx *ctx, void *opts, struct err *e);

#endif
