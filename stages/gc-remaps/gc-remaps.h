/* gc-remaps: the stage's internals (this folder only). */
#ifndef AMBER_STAGE_GC_REMAPS_H
#define AMBER_STAGE_GC_REMAPS_H

#include <stddef.h>
#include <stdint.h>

#include "images/stream.pb-c.h"
#include "lib/err.h"

/* What the stage reads on stdin: the pins of the namespaces build-mntns
 * made, by id, the devices of the tmpfs mounts it filled in each, and the
 * 'remap' records of link remaps, in input order. */
struct gc_remaps_input {
	char **pin;		/* pin[id], NULL if no such namespace */
	struct gc_remaps_made { uint64_t *dev; size_t nr; } *made;	/* made[id], as pin */
	size_t nr_pins;
	StreamRecord **links;
	int nr_links;
};

/* input.c: reads and checks the whole state stream on fd (nothing is
 * removed yet: the pins come after the remaps); frees. */
int gc_remaps_read(int fd, struct gc_remaps_input *in, struct err *e);
void gc_remaps_input_free(struct gc_remaps_input *in);

#endif
