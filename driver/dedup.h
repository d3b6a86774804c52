/* dedup: --auto-dedup, the pages a new incremental dump copied punched out
 * of its parent pre-dump. */
#ifndef AMBER_DRIVER_DEDUP_H
#define AMBER_DRIVER_DEDUP_H

#include <stdint.h>

#include "lib/err.h"

/* For every process of the complete dump in 'images', punches (fallocate
 * PUNCH_HOLE, the file keeps its size) the pages of the parent's pages
 * image that the dump copied again: the chain never reads them from the
 * parent any more. Only a pre-dump parent is touched (a restorable dump
 * must stay whole); *bytes gets what was freed. */
int dedup_parent(const char *images, uint64_t *bytes, struct err *e);

#endif
