/* unseize: the unseize stage's internals (this folder only). */
#ifndef AMBER_STAGE_UNSEIZE_H
#define AMBER_STAGE_UNSEIZE_H

#include "ipc/stage.h"

struct unseize_opts {
	const char *journal;	/* --journal, or NULL: RUN/seize.journal */
};

int unseize_run(const struct stage_ctx *ctx, void *opts, struct err *e);

#endif
