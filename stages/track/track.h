/* track: the holder stage's internals (this folder only). */
#ifndef AMBER_STAGE_TRACK_H
#define AMBER_STAGE_TRACK_H

#include "ipc/stage.h"

int track_run(const struct stage_ctx *ctx, void *opts, struct err *e);

#endif
