/* union: union file systems (overlayfs, and AUFS-like ones through
 * --union-root), where /proc may describe a file by a layer (branch)
 * rather than by the union the process sees. doc/design.md, "Union file
 * systems", says which fields lie on Linux 6.18 and how each is corrected.
 *
 * An overlay mount's layers are read from its super block options in
 * mountinfo, as the kernel shows them:
 *	lowerdir=A:B::D,upperdir=U,workdir=W,...	(mount(2), legacy)
 *	lowerdir+=A,lowerdir+=B,datadir+=D,upperdir=U,...	(fsconfig)
 * Every value is octal-escaped by seq_file (\054 for ',', \040 for ' ',
 * \134 for '\'); in the legacy lowerdir the user's own escape stays, so a
 * ':' inside a path is "\:" (shown "\134:") and "::" starts the data-only
 * layers. Paths are those the mounter gave, resolved in its namespace and
 * cwd at mount time: a relative one cannot be found again.
 *
 * --union-root BRANCH=UNION (dump) maps any path under BRANCH to the same
 * path under UNION: for union file systems whose /proc links name a
 * branch (AUFS), or any directory known to be reachable elsewhere.
 */
#ifndef AMBER_UNION_H
#define AMBER_UNION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* The layers and options of one overlay mount. */
struct union_ovl {
	char **lower;		/* merged lower layers, top first, unescaped */
	int nr_lower;
	char **data;		/* data-only lower layers (datadir+, "::") */
	int nr_data;
	char *upper, *work;	/* NULL for a read-only overlay (no upper) */
	char **opts;		/* every other option, "name" or "name=value", unescaped */
	int nr_opts;
	bool ro;		/* "ro" among the super block options */
};

/* Parses an overlay's super block options (mountinfo's last field). A
 * relative layer path, an empty one or a bad escape is an input error
 * naming it. Free with union_ovl_free, also after an error. */
int union_ovl_parse(const char *super_opts, struct union_ovl *o, struct err *e);
void union_ovl_free(struct union_ovl *o);

/* Undoes seq_file's octal escapes (\ooo) of s into out (size bytes);
 * returns -1 if s does not fit or holds a bad escape. */
int union_unescape(const char *s, size_t len, char *out, size_t size);

/* A digest of the directory tree at path (an upper layer): the relative
 * path, type, mode, owner, size, mtime, inode, device number and the
 * overlay.* xattrs (opaque, redirect, origin, metacopy, ...) of every
 * entry, in name order. *entries gets how many entries it saw. A tree of
 * more than max_entries entries is an input error. */
int union_tree_digest(const char *path, uint64_t max_entries, uint64_t *digest, uint64_t *entries, struct err *e);

/* One --union-root BRANCH=UNION. */
struct union_root {
	char *branch, *uni;	/* absolute, without a trailing '/' (except "/") */
};

/* Parses "BRANCH=UNION" (both absolute); fills r with copies. */
int union_root_parse(const char *arg, struct union_root *r, struct err *e);
/* If path is BRANCH or under it for one of roots[nr] (the longest
 * branch wins), writes the path under UNION to out and returns 1; an
 * " (deleted)" suffix stays. Returns 0 (out untouched) if no branch
 * holds it, -1 if the result does not fit in size bytes. */
int union_root_map(const struct union_root *roots, int nr, const char *path, char *out, size_t size);

#endif
