/* union: overlay layers from mountinfo, upper layer digests, --union-root
 * path mapping (see union.h). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "lib/cleanup.h"
#include "lib/exitcodes.h"
#include "lib/grow.h"
#include "lib/union.h"

int union_unescape(const char *s, size_t len, char *out, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '\\') {
			if (i + 3 >= len)
				return -1;
			if (s[i + 1] < '0' || s[i + 1] > '3' || s[i + 2] < '0' || s[i + 2] > '7' || s[i + 3] < '0' ||
			    s[i + 3] > '7')
				return -1;
			c = (char)((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 | (s[i + 3] - '0'));
			i += 3;
		}
		if (n + 1 >= size)
			return -1;
		out[n++] = c;
	}
	out[n] = 0;
	return 0;
}

/* Appends a copy of s to *v (*nr entries). */
static int union_push(char ***v, int *nr, const char *s)
{
	char *copy = strdup(s);

	if (!copy || grow_one(v, *nr) < 0) {
		free(copy);
		return -1;
	}
	(*v)[(*nr)++] = copy;
	return 0;
}

/* Adds one layer path (unescaped) to o: lower or data. */
static int union_layer(struct union_ovl *o, bool data, const char *path, struct err *e)
{
	if (!path[0])
		return err_input(e, "overlay: an empty layer path");
	if (path[0] != '/')
		return err_input(e, "overlay: layer '%s' is a relative path (relative to the cwd of whoever mounted it, "
				 "which amber cannot know)", path);
	if ((data ? union_push(&o->data, &o->nr_data, path) : union_push(&o->lower, &o->nr_lower, path)) < 0)
		return err_errno(e, "overlay: remember layer '%s'", path);
	return 0;
}

/* The legacy lowerdir value (unescaped once): layers split at ':' not
 * escaped by '\', "::" before the data-only ones; "\X" is X. */
static int union_lowerdir(struct union_ovl *o, const char *v, struct err *e)
{
	char path[PATH_MAX];
	size_t n = 0;
	bool data = false;

	for (const char *p = v;; p++) {
		if (*p == '\\' && p[1]) {
			p++;
		} else if (*p == ':' || !*p) {
			int ret;

			path[n] = 0;
			if ((ret = union_layer(o, data, path, e)) < 0)
				return ret;
			n = 0;
			if (!*p)
				return 0;
			if (p[1] == ':') {
				data = true;
				p++;
			}
			continue;
		}
		if (n + 1 >= sizeof(path))
			return err_input(e, "overlay: a layer path in lowerdir is longer than %zu bytes", sizeof(path) - 1);
		path[n++] = *p;
	}
}

int union_ovl_parse(const char *super_opts, struct union_ovl *o, struct err *e)
{
	const char *p = super_opts ? super_opts : "";

	memset(o, 0, sizeof(*o));
	while (*p) {
		size_t len = strcspn(p, ",");
		_cleanup_free_ char *val = malloc(len + 1);
		char *eq;
		int ret = 0;

		if (!val)
			return err_errno(e, "overlay options");
		if (union_unescape(p, len, val, len + 1) < 0)
			return err_input(e, "overlay: option '%.*s' holds a bad escape", (int)len, p);
		p += len + (p[len] == ',');
		if (!val[0] || !strcmp(val, "rw"))
			continue;
		if (!strcmp(val, "ro")) {
			o->ro = true;
			continue;
		}
		eq = strchr(val, '=');
		if (eq && !strncmp(val, "lowerdir=", 9))
			ret = union_lowerdir(o, eq + 1, e);
		else if (eq && !strncmp(val, "lowerdir+=", 10))
			ret = union_layer(o, false, eq + 1, e);
		else if (eq && !strncmp(val, "datadir+=", 9))
			ret = union_layer(o, true, eq + 1, e);
		else if (eq && (!strncmp(val, "upperdir=", 9) || !strncmp(val, "workdir=", 8))) {
			char **dst = val[0] == 'u' ? &o->upper : &o->work;

			if (eq[1] != '/')
				return err_input(e, "overlay: %.*s '%s' is %s", (int)(eq - val), val, eq + 1,
						 eq[1] ? "a relative path (relative to the cwd of whoever mounted it, which "
							 "amber cannot know)" : "empty");
			free(*dst);
			if (!(*dst = strdup(eq + 1)))
				return err_errno(e, "overlay options");
		} else if (union_push(&o->opts, &o->nr_opts, val) < 0)
			return err_errno(e, "overlay options");
		if (ret < 0)
			return ret;
	}
	if (!o->nr_lower)
		return err_input(e, "overlay: no lower layer in its options '%s'", super_opts ? super_opts : "");
	if (!o->upper != !o->work)
		return err_input(e, "overlay: an upperdir without a workdir, or the reverse, in '%s'", super_opts);
	return 0;
}

void union_ovl_free(struct union_ovl *o)
{
	for (int i = 0; i < o->nr_lower; i++)
		free(o->lower[i]);
	for (int i = 0; i < o->nr_data; i++)
		free(o->data[i]);
	for (int i = 0; i < o->nr_opts; i++)
		free(o->opts[i]);
	free(o->lower);
	free(o->data);
	free(o->opts);
	free(o->upper);
	free(o->work);
	memset(o, 0, sizeof(*o));
}

/* FNV-1a, 64 bits. */
static void union_hash(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		*h ^= b[i];
		*h *= 0x100000001b3ULL;
	}
}

static int union_name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int union_not_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") && strcmp(d->d_name, "..");
}

/* The overlay.* xattrs of path (trusted. and user.), into the digest. */
static int union_xattrs(const char *path, uint64_t *h, struct err *e)
{
	char names[4096], val[4096];
	ssize_t n = llistxattr(path, names, sizeof(names));

	if (n < 0 && (errno == ENOTSUP || errno == ENODATA))
		return 0;
	if (n < 0)
		return err_errno(e, "list the xattrs of '%s'", path);
	for (char *x = names; x < names + n; x += strlen(x) + 1) {
		ssize_t v;

		if (strncmp(x, "trusted.overlay.", 16) && strncmp(x, "user.overlay.", 13))
			continue;
		if ((v = lgetxattr(path, x, val, sizeof(val))) < 0)
			return err_errno(e, "read xattr '%s' of '%s'", x, path);
		union_hash(h, x, strlen(x) + 1);
		union_hash(h, val, v);
	}
	return 0;
}

/* One directory of the walk: every entry in name order, then into each
 * subdirectory. */
static int union_walk(char *path, size_t len, int depth, uint64_t max, uint64_t *h, uint64_t *n, struct err *e)
{
	struct dirent **list = NULL;
	int nr = scandir(path, &list, union_not_dots, union_name_cmp), ret = 0;

	if (nr < 0)
		return err_errno(e, "read directory '%s'", path);
	if (depth > 512)
		ret = err_input(e, "'%s' is more than 512 directories deep", path);
	for (int i = 0; i < nr; i++) {
		size_t k = strlen(list[i]->d_name);
		struct stat st;
		uint64_t rec[9];

		if (ret < 0 || len + 1 + k >= PATH_MAX) {
			if (ret >= 0)
				ret = err_input(e, "a path under '%s' is longer than %d bytes", path, PATH_MAX - 1);
			free(list[i]);
			continue;
		}
		path[len] = '/';
		memcpy(path + len + 1, list[i]->d_name, k + 1);
		if (++*n > max)
			ret = err_input(e, "more than %llu entries", (unsigned long long)max);
		else if (lstat(path, &st) < 0)
			ret = err_errno(e, "stat '%s'", path);
		else {
			rec[0] = st.st_mode;
			rec[1] = st.st_uid;
			rec[2] = st.st_gid;
			rec[3] = S_ISDIR(st.st_mode) ? 0 : (uint64_t)st.st_size;
			rec[4] = st.st_mtim.tv_sec;
			rec[5] = st.st_mtim.tv_nsec;
			rec[6] = st.st_ino;
			rec[7] = st.st_rdev;
			rec[8] = S_ISDIR(st.st_mode) ? 0 : st.st_nlink;
			union_hash(h, path + len, k + 1);
			union_hash(h, rec, sizeof(rec));
			ret = union_xattrs(path, h, e);
			if (ret >= 0 && S_ISDIR(st.st_mode))
				ret = union_walk(path, len + 1 + k, depth + 1, max, h, n, e);
		}
		path[len] = 0;
		free(list[i]);
	}
	free(list);
	return ret;
}

int union_tree_digest(const char *path, uint64_t max_entries, uint64_t *digest, uint64_t *entries, struct err *e)
{
	char buf[PATH_MAX];
	uint64_t h = 0xcbf29ce484222325ULL, n = 0;
	size_t len = strlen(path);
	int ret;

	if (len >= sizeof(buf))
		return err_input(e, "'%s' is too long a path", path);
	memcpy(buf, path, len + 1);
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = 0;
	if ((ret = union_xattrs(buf, &h, e)) < 0 || (ret = union_walk(buf, len, 0, max_entries, &h, &n, e)) < 0)
		return ret;
	*digest = h;
	*entries = n;
	return 0;
}

/* A copy of s without trailing slashes (but "/" stays). */
static char *union_trim(const char *s, size_t len)
{
	while (len > 1 && s[len - 1] == '/')
		len--;
	return strndup(s, len);
}

int union_root_parse(const char *arg, struct union_root *r, struct err *e)
{
	const char *eq = strchr(arg, '=');

	if (!eq || arg[0] != '/' || eq[1] != '/')
		return err_set(e, EXIT_USAGE, "--union-root '%s': want BRANCH=UNION, both absolute paths, e.g. "
			       "--union-root /var/aufs/branch0=/srv/union", arg);
	r->branch = union_trim(arg, eq - arg);
	r->uni = union_trim(eq + 1, strlen(eq + 1));
	if (!r->branch || !r->uni)
		return err_errno(e, "--union-root '%s'", arg);
	return 0;
}

int union_root_map(const struct union_root *roots, int nr, const char *path, char *out, size_t size)
{
	const struct union_root *best = NULL;
	size_t blen = 0;

	for (int i = 0; i < nr; i++) {
		size_t n = strlen(roots[i].branch);

		if (!strcmp(roots[i].branch, "/"))
			n = 0;
		if (strncmp(path, roots[i].branch, n) || (path[n] && path[n] != '/' && !(n == 0 && path[0] == '/')))
			continue;
		if (!best || n > blen) {
			best = &roots[i];
			blen = n;
		}
	}
	if (!best)
		return 0;
	if (snprintf(out, size, "%s%s", strcmp(best->uni, "/") || !path[blen] ? best->uni : "", path + blen) >= (int)size)
		return -1;
	return 1;
}
