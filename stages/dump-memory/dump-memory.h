/* dump-memory: the stage's internals (this folder only). */
#ifndef AMBER_STAGE_DUMP_MEMORY_H
#define AMBER_STAGE_DUMP_MEMORY_H

#include <stdint.h>
#include <sys/types.h>

#include "images/collect.h"
#include "images/mm.pb-c.h"
#include "ipc/stage.h"
#include "lib/proc.h"
#include "lib/union.h"

struct dm_totals {
	uint64_t pages;		/* pages written by earlier processes */
	uint64_t next_report;	/* bytes of this process after which to say how far we are */
	uint64_t *shmem;	/* shared anonymous objects whose contents are saved already */
	int nr_shmem;
	uint64_t *memfd;	/* memfds (by inode) saved already */
	int nr_memfd;
};

/* Options: --union-root BRANCH=UNION (repeatable). */
struct dump_memory_opts {
	struct union_root *union_roots;
	int nr_union_roots;
};

int dump_memory_run(const struct stage_ctx *ctx, void *opts, struct err *e);
/* mm.c: write mm-PID.img, as images/collect.h read it; id names the
 * images (the pid /proc shows differs when the tree has a pid namespace of
 * its own). */
int dm_write_mm(int dirfd, pid_t id, const struct collect_mm *c, struct err *e);
/* memfd.c: saves the memfd a VMA maps (memfd-INO.img, pages-memfd-INO.img),
 * once for the whole tree; refuses one that cannot be made again. */
int dm_memfd(int dirfd, pid_t pid, const struct proc_vma *v, struct dm_totals *tot, struct err *e);
/* pages.c: write pagemap-PID.img and pages-PID.img. */
int dm_write_pages(int dirfd, pid_t pid, pid_t id, const struct proc_vma *vmas, int nr, const VmaKind *kinds,
		   struct dm_totals *tot, struct err *e);

#endif
