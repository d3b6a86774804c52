/* remap: link remaps, the hard links a dump makes to files that were
 * unlinked while open, so a later restore can open them again. The dump
 * makes them (dump-files), restore-files opens through them, and the
 * driver (after a failed dump, a --leave-running dump or a successful
 * restore) or gc-remaps removes them, only with remap_unlink(): the
 * images may have been written by someone else, and a path in them must
 * never make amber delete a file it did not make. */
#ifndef AMBER_REMAP_H
#define AMBER_REMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "images/files.pb-c.h"
#include "lib/err.h"

#define REMAP_PREFIX ".amber-remap."

/* What remap_unlink did. */
enum remap_unlinked {
	REMAP_REMOVED = 0,
	REMAP_MISSING = 1,	/* nothing at the path (removed already) */
	REMAP_NOT_OURS = 2,	/* left alone: not the file the dump made; e says why */
};

/* What a link remap must be to be removed. */
struct remap_expect {
	bool has_id;		/* dev and ino were recorded at dump */
	uint64_t dev, ino;
	/* Devices of the tmpfs mounts build-mntns made and filled from the
	 * images (MntnsPlanEntry.made_devs): a link remap on one was made
	 * again, with a new inode, on a file system only the tree's namespace
	 * has, so dev and ino are not asked there. */
	const uint64_t *made;
	size_t nr_made;
};

/* Removes the link remap at path only if it is the one the dump made: an
 * absolute path reached without following any symlink, a regular file
 * whose name starts with REMAP_PREFIX, with the device and inode x has
 * (without them it is never removed) or on a device of x->made. Returns
 * an enum remap_unlinked, or a negative errno with e set when the file
 * could not be removed. */
int remap_unlink(const char *path, const struct remap_expect *x, struct err *e);

/* Calls fn for each link remap listed in the images dir's remaps.img (none
 * if there is no remaps.img). */
int remap_each_link(int dirfd, int (*fn)(const RemapEntry *re, void *arg, struct err *e), void *arg, struct err *e);

/* Removes every link remap of a dump that remap_unlink finds to be the
 * dump's (a warning names any other file, which is left alone); a missing
 * one is not an error. *removed (if given) counts what was removed. */
int remap_remove_links(int dirfd, int *removed, struct err *e);

#endif
