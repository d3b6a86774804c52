/* pagechain: the parent chain of incremental dumps.
 *
 * An images directory made with --prev-images-dir has a 'parent' symlink
 * to the directory of the iteration before it, and its inventory.img
 * says that directory's dump id (parent_dump_id); a pagemap entry with
 * in_parent has no pages of its own: the pages are the parent's, found by
 * looking the same addresses up in the parent's pagemap of the same
 * process, and so on up the chain (doc/image-format.md, "Incremental
 * dumps"). Every link is checked: a parent whose inventory is not the
 * dump the child names, a chain longer than PAGECHAIN_MAX, and a page a
 * child says is in the parent that the parent lacks are bad input naming
 * the directories and the addresses.
 */
#ifndef AMBER_PAGECHAIN_H
#define AMBER_PAGECHAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "images/inventory.pb-c.h"
#include "lib/err.h"

#define PAGECHAIN_MAX	64	/* parents followed at most */
#define PAGECHAIN_LINK	"parent"
#define PAGECHAIN_PAGE	4096ULL	/* the page size of every pages image */

/* Reads dirfd's inventory.img (checked against its own header) and the
 * dump id in its header. */
int pagechain_inventory(int dirfd, InventoryEntry **inv, uint64_t *id, struct err *e);
/* The parent of images directory dirfd ('what' names it in messages):
 * *pfd -1 when inv names none; else the directory its 'parent' link
 * names, whose inventory's dump id must be inv's parent_dump_id. */
int pagechain_open_parent(int dirfd, const char *what, const InventoryEntry *inv, int *pfd, struct err *e);

/* One pagemap entry, as the resolver sees it (bytes, not pages). */
struct pagechain_ent {
	uint64_t vaddr, len, off;
	bool in_parent;
};
/* One directory's entries for one process, in address order. */
struct pagechain_level {
	const struct pagechain_ent *ent;
	int nr;
};
/* Where the contents of one run are: level (0 the child) and its offset
 * in that level's pages file. */
struct pagechain_run {
	uint64_t vaddr, len, off;
	int level;
};

/* Resolves every in_parent entry of level 0 through levels 1..nr-1 into
 * runs of the level that holds the pages (*runs malloc'd, *nr_runs). A
 * page no level holds is bad input naming the level and the addresses;
 * *need_more is set instead when level nr-1 still refers to its parent
 * (the caller loads one more level and calls again). */
/* Reads pagemap-PID.img of images directory dirfd (level 0: the dump
 * itself, 1 and up: its parents, for messages) into resolver entries, in
 * address order (an entry before the end of the one before it is bad
 * input); *out is malloc'd. */
int pagechain_read_pagemap(int dirfd, uint32_t pid, int level, struct pagechain_ent **out, int *nr, struct err *e);
int pagechain_resolve(const struct pagechain_level *lv, int nr, struct pagechain_run **runs, int *nr_runs,
		      bool *need_more, struct err *e);

#endif
