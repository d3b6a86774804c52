/* gc-remaps: the stage's internals (this folder only). */
#ifndef AMBER_STAGE_GC_REMAPS_H
#define AMBER_STAGE_GC_REMAPS_H

#include <stddef.h>
#include <stdint.h>

#include "images/stream.pb-c.h"
#include "lib/err.h"

/* What the stage reads on stdin: the pins of the namespaces build-mntns
 * made, by id, and the 'remap' records of link remaps, in input order. */
struct gc_remaps_input {
	char **pin;		/* pin[id], NULL if no such namespace */
	size_t nr_pins;
	StreamRecord **links;
	int nr_links;
};

/* input.c: reads and checks the whole state stream on fd (nothing is
 * removed yet: the pins come after the remaps); frees. */
int gc_remaps_read(int fd, struct gc_remaps_input *in, struct err *e);
void gc_remaps_input_free(struct gc_remaps_input *in);

#endif
