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

#endif
