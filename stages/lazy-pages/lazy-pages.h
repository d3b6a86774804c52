/* lazy-pages: the stage's internals (this folder only). */
#ifndef AMBER_STAGE_LAZY_PAGES_H
#define AMBER_STAGE_LAZY_PAGES_H

#include "ipc/stage.h"

struct lp_opts {
	int push_rate;		/* MiB/s, 0: no limit */
};

int lazy_pages_run(const struct stage_ctx *ctx, void *opts, struct err *e);

#endif
