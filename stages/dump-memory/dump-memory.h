/* dump-memory: the stage's internals (this folder only). */
#ifndef AMBER_STAGE_DUMP_MEMORY_H
#define AMBER_STAGE_DUMP_MEMORY_H

#include <stdint.h>
#include <sys/types.h>

#include "images/collect.h"
#include "images/mm.pb-c.h"
#include "ipc/stage.h"
#include "ipc/pageserver.h"
#include "lib/proc.h"
#include "lib/union.h"

struct dm_totals {
	uint64_t pages;		/* pages written by earlier processes */
	uint64_t next_report;	/* bytes of this process after which to say how far we are */
	uint64_t *shmem;	/* shared anonymous objects whose contents are saved already */
	int nr_shmem;
	uint64_t *memfd;	/* memfds (by inode) saved already */
	int nr_memfd;
	uint64_t parent_pages;	/* pages left in the parent */
	struct ps_client *ps;	/* --page-server: pages files go there, or NULL */
	char **remote;		/* the pages files sent there */
	int nr_remote;
};

struct dm_opts {
	const char *prev;	/* --prev-images-dir */
	struct union_root *union_roots;	/* --union-root BRANCH=UNION (repeatable) */
	int nr_union_roots;
	const char *page_server;	/* --page-server A:N */
	const char *ps_dir;		/* --page-server-dir NAME: the dump directory's name there */
};

/* What the parent iteration has of one process (--prev-images-dir). */
struct dm_parent {
	uint64_t *start, *end;	/* the runs its pagemap covers, in address order */
	size_t nr;
	int uffd;		/* the process's userfaultfd from the holder, or -1 */
	bool matched;		/* the holder's generation was the parent's */
};

int dump_memory_run(const struct stage_ctx *ctx, void *opts, struct err *e);
/* mm.c: write mm-PID.img, as images/collect.h read it; id names the
 * images (the pid /proc shows differs when the tree has a pid namespace of
 * its own). */
int dm_write_mm(int dirfd, pid_t id, const struct collect_mm *c, struct err *e);
/* memfd.c: saves the memfd a VMA maps (memfd-INO.img, pages-memfd-INO.img),
 * once for the whole tree; refuses one that cannot be made again. */
int dm_memfd(int dirfd, pid_t pid, const struct proc_vma *v, struct dm_totals *tot, struct err *e);
/* pages.c: write pagemap-PID.img and pages-PID.img; with pp (an
 * incremental dump), pages not written since the parent's copy that the
 * parent has are recorded in_parent instead of copied. */
int dm_write_pages(int dirfd, pid_t pid, pid_t id, const struct proc_vma *vmas, int nr, const VmaKind *kinds,
		   const struct dm_parent *pp, struct dm_totals *tot, struct err *e);
/* parent.c: the parent's pagemap of process id (none if it has no
 * pagemap-ID.img), checked against the parent's dump id. */
int dm_parent_load(int pdir, uint64_t parent_id, pid_t id, struct dm_parent *pp, struct err *e);
void dm_parent_free(struct dm_parent *pp);

#endif
