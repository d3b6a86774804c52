/* remap: link remaps, the hard links a dump makes to files that were
 * unlinked while open, so a later restore can open them again. The dump
 * makes them (dump-files), restore-files opens through them, and the
 * driver (after a failed dump, a --leave-running dump or a successful
 * restore) or gc-remaps removes them. */
#ifndef AMBER_REMAP_H
#define AMBER_REMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

#define REMAP_PREFIX ".amber-remap."

/* Calls fn for each link remap listed in the images dir's remaps.img (none
 * if there is no remaps.img). */
int remap_each_link(int dirfd, int (*fn)(uint32_t file_id, const char *path, void *arg, struct err *e),
		    void *arg, struct err *e);
/* Removes every link remap of a dump; a missing one is not an error.
 * *removed (if given) counts what was removed. */
int remap_remove_links(int dirfd, int *removed, struct err *e);

#endif
