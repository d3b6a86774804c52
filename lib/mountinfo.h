/* mountinfo: the /proc/PID/mountinfo parser and the mount tree order.
 *
 * One line per mount (proc(5)):
 *	ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAG[:VAL]...] - FSTYPE SOURCE SUPEROPTS
 * ROOT, MOUNTPOINT and SOURCE escape space, tab, newline and backslash as
 * \ooo; the parser undoes that. The optional fields say the propagation:
 * shared:N (a member of peer group N), master:N (a slave of group N),
 * propagate_from:N and unbindable. Mountpoints are as the reading task
 * sees them, relative to its root.
 *
 * mountinfo_order sorts a table so that a mount's parent comes before it
 * and siblings keep mount order (lower id first: the one beneath comes
 * first, so a mount on top of a mount at the same path stays on top).
 */
#ifndef AMBER_MOUNTINFO_H
#define AMBER_MOUNTINFO_H

#include <stdbool.h>
#include <sys/types.h>

#include "lib/err.h"

struct mountinfo {
	int id, parent;
	unsigned int major, minor;
	char *root;		/* within the file system, unescaped */
	char *mountpoint;	/* unescaped */
	char *opts;		/* per-mount: rw,nosuid,relatime... */
	char *fstype;		/* "ext4", "fuse.sshfs" (type.subtype) */
	char *source;		/* "none" when the kernel says so */
	char *super_opts;	/* super block options */
	int shared;		/* peer group, 0 if not shared */
	int master;		/* group this is a slave of, 0 if none */
	int propagate_from;	/* closest dominant group in the reader's root, 0 */
	bool unbindable;
};

struct mountinfo_table {
	struct mountinfo *m;
	int nr;
	char *text;		/* the parsed text; the strings point into it */
};

/* Parses mountinfo text, taking ownership of 'text' (malloc'd, changed in
 * place). A bad line is an error naming its line number. */
int mountinfo_parse(char *text, struct mountinfo_table *t, struct err *e);
/* Reads and parses /proc/PID/mountinfo (pid 0: /proc/self/mountinfo). */
int mountinfo_read(pid_t pid, struct mountinfo_table *t, struct err *e);
/* Reads and parses this thread's mountinfo through proc_fd, a /proc opened
 * before the caller entered another mount namespace (whose own /proc, if
 * any, may belong to another pid namespace and not show the caller). */
int mountinfo_read_at(int proc_fd, struct mountinfo_table *t, struct err *e);
void mountinfo_free(struct mountinfo_table *t);

/* The mount with this id, or NULL. */
const struct mountinfo *mountinfo_find(const struct mountinfo_table *t, int id);
/* Fills order[nr] with indexes into t->m, parents first (see above). The
 * root is the one mount whose parent is not in the table; a second such
 * mount, or a cycle, is an error. */
int mountinfo_order(const struct mountinfo_table *t, int *order, struct err *e);
/* The path of 'child' relative to 'parent' ("" for the same path, "b" for
 * /a/b under /a), or NULL if child is not under parent. */
const char *mountinfo_relpath(const char *parent, const char *child);
/* MOUNT_ATTR_* bits of per-mount options (ro, nosuid, nodev, noexec,
 * noatime, nodiratime, relatime, strictatime, nosymfollow). */
unsigned long long mountinfo_attrs(const char *opts);
/* Whether comma-separated 'opts' holds 'opt' exactly. */
bool mountinfo_has_opt(const char *opts, const char *opt);

#endif
