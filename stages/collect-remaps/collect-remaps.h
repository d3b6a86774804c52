/* collect-remaps: the stage's internals (this folder only). */
#ifndef AMBER_STAGE_COLLECT_REMAPS_H
#define AMBER_STAGE_COLLECT_REMAPS_H

#include <stdint.h>

#include "images/files.pb-c.h"
#include "lib/err.h"

/* What the stage reads: the records of remaps.img, and which mount
 * namespace of the tree (mntns.img) the open files on its mounts are in. */
struct collect_remaps_input {
	RemapEntry **rm;
	int nr;
	struct { uint32_t file_id, ns; } *ns;
	uint32_t nr_ns;
};

/* input.c: reads remaps.img (none is fine: no unlinked files), mntns.img,
 * mountpoints-ID.img and files.img from the images directory and checks
 * each remap (a link's path absolute, a ghost's image there, a known kind),
 * with no side effect outside it: what tests/fuzz/fuzz_stage_collect_remaps.c
 * feeds. Free with collect_remaps_input_free, also after an error. */
int collect_remaps_read(int dirfd, struct collect_remaps_input *in, struct err *e);
void collect_remaps_input_free(struct collect_remaps_input *in);
/* The mount namespace of the tree file_id is in, 0 for ours. */
uint32_t collect_remaps_ns_of(const struct collect_remaps_input *in, uint32_t file_id);

#endif
