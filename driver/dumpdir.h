/* dumpdir: an images directory appears whole or not at all.
 *
 * A dump writes its images into a fresh sibling directory
 * (.NAME.amber-XXXXXX, so the final rename stays on one file system) and
 * moves it under the name -D gave only once inventory.img is in it: by a
 * rename over an empty directory, or with --force by an atomic exchange
 * with the dump that was there, which is then removed. The final
 * directory is created if missing and locked (flock) for the whole dump,
 * so a second dump, restore or gc of it at the same time is refused, not
 * mixed in. An existing dump is never overwritten without --force, and a
 * directory holding anything that is not amber's is never replaced.
 */
#ifndef AMBER_DRIVER_DUMPDIR_H
#define AMBER_DRIVER_DUMPDIR_H

#include <limits.h>
#include <stdbool.h>

#include "lib/err.h"

struct dumpdir {
	char final[PATH_MAX];	/* -D, absolute */
	char tmp[PATH_MAX];	/* where the stages write; "" once committed or aborted */
	int lock_fd;		/* the final directory, flocked; -1 when not held */
};

/* Locks the images directory 'dir' for a restore or gc (no dump or other
 * restore may run on it meanwhile); returns the fd to keep, or <0. */
int dumpdir_lock(const char *dir, const char *what, struct err *e);

/* Refuses an images directory (open as fd) that another user owns or
 * that group or others may write (--allow-untrusted-dir skips this). */
int dumpdir_check_trusted(int fd, const char *dir, struct err *e);

/* Checks and locks the final directory, makes the temporary one. */
int dumpdir_begin(struct dumpdir *d, const char *images, bool force, struct err *e);
/* Moves the complete dump into place; the run directory 'run_dir', if it
 * is inside the final directory, moves along with it. */
int dumpdir_commit(struct dumpdir *d, const char *run_dir, struct err *e);
/* After a failure: removes the temporary directory and what is in it. */
void dumpdir_abort(struct dumpdir *d);
void dumpdir_release(struct dumpdir *d);

/* Whether every entry of directory fd is amber's (images, memfd
 * temporaries, run directories); else names the first other in 'other'. */
bool dumpdir_all_ours(int fd, char *other, size_t size, bool *has_images, bool *complete);

#endif
