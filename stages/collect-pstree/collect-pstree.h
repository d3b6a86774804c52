/* collect-pstree: the stage's internals (this folder only). */
#ifndef AMBER_STAGE_COLLECT_PSTREE_H
#define AMBER_STAGE_COLLECT_PSTREE_H

#include "images/pstree.pb-c.h"
#include "ipc/stage.h"

struct collect_opts {
	bool pidns;	/* --pidns: the restore goes into a new pid namespace */
	bool no_pid_check;	/* --no-pid-check: amber gc, whose tree may still run */
};

int collect_pstree_run(const struct stage_ctx *ctx, void *opts, struct err *e);
/* Reads and checks inventory.img and pstree.img (with no side effect: what
 * tests/fuzz/fuzz_stage_collect_pstree.c feeds) into *procs, helpers added
 * and parents first; *own_pidns if the tree had a pid namespace of its
 * own. Free *procs with collect_pstree_free, also after an error. */
int collect_pstree_read(int dirfd, bool *own_pidns, PstreeEntry ***procs, int *nr, struct err *e);
void collect_pstree_free(PstreeEntry **procs, int nr);

#endif
