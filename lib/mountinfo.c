/* mountinfo: see mountinfo.h. */
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/grow.h"
#include "lib/mountinfo.h"
#include "lib/proc.h"

/* Undoes the kernel's \ooo escapes in place. */
static void mountinfo_unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = 0;
}

/* The next space-separated field of *p (NUL-terminated in place), or NULL. */
static char *mountinfo_field(char **p)
{
	char *s = *p, *end;

	if (!s || !*s)
		return NULL;
	end = strchr(s, ' ');
	if (end) {
		*end = 0;
		*p = end + 1;
	} else {
		*p = s + strlen(s);
	}
	return s;
}

/* A non-negative decimal int, the whole string; -1 if it is not one. */
static int mountinfo_int(const char *s)
{
	long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 0x7fffffff / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v > 0x7fffffff ? -1 : (int)v;
}

/* Parses one line (NUL-terminated) into m. */
static int mountinfo_line(char *line, int lineno, struct mountinfo *m, struct err *e)
{
	char *p = line, *f[6], *tag, *colon;
	unsigned int maj, min;
	char c;

	memset(m, 0, sizeof(*m));
	for (int i = 0; i < 6; i++)
		if (!(f[i] = mountinfo_field(&p)))
			return err_input(e, "mountinfo line %d: %d fields, want at least 10", lineno, i);
	m->id = mountinfo_int(f[0]);
	m->parent = mountinfo_int(f[1]);
	if (m->id < 0 || m->parent < 0)
		return err_input(e, "mountinfo line %d: bad mount id '%s' or parent '%s'", lineno, f[0], f[1]);
	if (sscanf(f[2], "%u:%u%c", &maj, &min, &c) != 2)
		return err_input(e, "mountinfo line %d (mount %d): bad device '%s'", lineno, m->id, f[2]);
	m->major = maj;
	m->minor = min;
	m->root = f[3];
	m->mountpoint = f[4];
	m->opts = f[5];
	for (;;) {
		if (!(tag = mountinfo_field(&p)))
			return err_input(e, "mountinfo line %d (mount %d): no '-' before the file system type", lineno, m->id);
		if (!strcmp(tag, "-"))
			break;
		colon = strchr(tag, ':');
		if (colon)
			*colon++ = 0;
		if (!strcmp(tag, "unbindable"))
			m->unbindable = true;
		else if (colon && !strcmp(tag, "shared"))
			m->shared = mountinfo_int(colon);
		else if (colon && !strcmp(tag, "master"))
			m->master = mountinfo_int(colon);
		else if (colon && !strcmp(tag, "propagate_from"))
			m->propagate_from = mountinfo_int(colon);
		/* Tags a later kernel adds are skipped, as proc(5) says to. */
		if (m->shared < 0 || m->master < 0 || m->propagate_from < 0)
			return err_input(e, "mountinfo line %d (mount %d): bad peer group in '%s'", lineno, m->id, tag);
	}
	if (!(m->fstype = mountinfo_field(&p)) || !(m->source = mountinfo_field(&p)))
		return err_input(e, "mountinfo line %d (mount %d): no file system type and source after '-'", lineno, m->id);
	m->super_opts = *p ? p : (char *)"";
	if (!m->root[0] || !m->mountpoint[0] || m->mountpoint[0] != '/')
		return err_input(e, "mountinfo line %d (mount %d): bad root '%s' or mountpoint '%s'", lineno, m->id,
				 m->root, m->mountpoint);
	mountinfo_unescape(m->root);
	mountinfo_unescape(m->mountpoint);
	mountinfo_unescape(m->source);
	return 0;
}

int mountinfo_parse(char *text, struct mountinfo_table *t, struct err *e)
{
	size_t cap = 0;
	int lineno = 0, ret;
	char *line = text, *nl;

	memset(t, 0, sizeof(*t));
	t->text = text;
	while (line && *line) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		lineno++;
		if ((ret = grow_cap(&t->m, &cap, (size_t)t->nr + 1)) < 0) {
			mountinfo_free(t);
			return err_errnum(e, -ret, "mountinfo: %d mounts", t->nr);
		}
		if ((ret = mountinfo_line(line, lineno, &t->m[t->nr], e)) < 0) {
			mountinfo_free(t);
			return ret;
		}
		for (int i = 0; i < t->nr; i++)
			if (t->m[i].id == t->m[t->nr].id) {
				int id = t->m[i].id;

				mountinfo_free(t);
				return err_input(e, "mountinfo line %d: mount id %d is listed twice", lineno, id);
			}
		t->nr++;
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

int mountinfo_read(pid_t pid, struct mountinfo_table *t, struct err *e)
{
	char path[64], *text = NULL;
	int ret;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/mountinfo");
	if ((ret = proc_read_file(path, &text, NULL, e)) < 0)
		return ret;
	if ((ret = mountinfo_parse(text, t, e)) < 0)
		return err_wrap(e, "'%s'", path);
	return 0;
}

int mountinfo_read_at(int proc_fd, struct mountinfo_table *t, struct err *e)
{
	int fd = openat(proc_fd, "thread-self/mountinfo", O_RDONLY | O_CLOEXEC), ret;
	char *text = NULL;

	if (fd < 0)
		return err_errno(e, "open '/proc/thread-self/mountinfo'");
	ret = proc_read_fd(fd, "/proc/thread-self/mountinfo", &text, NULL, e);
	close(fd);
	if (ret < 0)
		return ret;
	if ((ret = mountinfo_parse(text, t, e)) < 0)
		return err_wrap(e, "'/proc/thread-self/mountinfo'");
	return 0;
}

void mountinfo_free(struct mountinfo_table *t)
{
	free(t->m);
	free(t->text);
	memset(t, 0, sizeof(*t));
}

const struct mountinfo *mountinfo_find(const struct mountinfo_table *t, int id)
{
	for (int i = 0; i < t->nr; i++)
		if (t->m[i].id == id)
			return &t->m[i];
	return NULL;
}

/* The index of mount id in t, or -1. */
static int mountinfo_index(const struct mountinfo_table *t, int id)
{
	for (int i = 0; i < t->nr; i++)
		if (t->m[i].id == id)
			return i;
	return -1;
}

int mountinfo_order(const struct mountinfo_table *t, int *order, struct err *e)
{
	int n = 0, root = -1, head = 0;

	for (int i = 0; i < t->nr; i++)
		if (t->m[i].parent == t->m[i].id || mountinfo_index(t, t->m[i].parent) < 0) {
			if (root >= 0)
				return err_input(e, "mount %d (%s) and mount %d (%s) both have no parent in the table: "
						 "a mount tree has one root", t->m[root].id, t->m[root].mountpoint,
						 t->m[i].id, t->m[i].mountpoint);
			root = i;
		}
	if (root < 0)
		return t->nr ? err_input(e, "the mount tree has no root: every mount's parent is listed (a cycle)") : 0;
	/* Breadth first from the root; each mount's children by ascending id. */
	order[n++] = root;
	while (head < n) {
		int p = t->m[order[head++]].id, last = -1;

		for (;;) {
			int best = -1;

			for (int i = 0; i < t->nr; i++)
				if (i != root && t->m[i].parent == p && t->m[i].id > last &&
				    (best < 0 || t->m[i].id < t->m[best].id))
					best = i;
			if (best < 0)
				break;
			order[n++] = best;
			last = t->m[best].id;
		}
	}
	if (n != t->nr)
		return err_input(e, "%d of %d mounts are not reachable from the root mount %d (a cycle in the parents)",
				 t->nr - n, t->nr, t->m[root].id);
	return 0;
}

const char *mountinfo_relpath(const char *parent, const char *child)
{
	size_t n = strlen(parent);

	if (!strcmp(parent, "/"))
		return child + 1;
	if (strncmp(parent, child, n) || (child[n] && child[n] != '/'))
		return NULL;
	return child[n] ? child + n + 1 : child + n;
}

bool mountinfo_has_opt(const char *opts, const char *opt)
{
	size_t n = strlen(opt);

	for (const char *p = opts; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == n && !strncmp(p, opt, n))
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
}

unsigned long long mountinfo_attrs(const char *opts)
{
	static const struct { const char *name; unsigned long long attr; } tab[] = {
		{ "ro", MOUNT_ATTR_RDONLY }, { "nosuid", MOUNT_ATTR_NOSUID }, { "nodev", MOUNT_ATTR_NODEV },
		{ "noexec", MOUNT_ATTR_NOEXEC }, { "noatime", MOUNT_ATTR_NOATIME },
		{ "nodiratime", MOUNT_ATTR_NODIRATIME }, { "strictatime", MOUNT_ATTR_STRICTATIME },
		{ "relatime", MOUNT_ATTR_RELATIME }, { "nosymfollow", MOUNT_ATTR_NOSYMFOLLOW },
	};
	unsigned long long a = 0;

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (mountinfo_has_opt(opts, tab[i].name))
			a |= tab[i].attr;
	return a;
}
