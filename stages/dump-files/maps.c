/* dump-files/maps.c: deleted regular files a process maps or runs.
 *
 * A mapping of a file that was deleted can only come back from the file
 * itself, so each such inode gets a files.img description that no
 * descriptor holds ('mapped', with the image pid of a task that maps it),
 * linked back or saved as a ghost exactly as an unlinked open file (path.c,
 * one remap per inode: a descriptor of the same file shares it). dump-memory
 * marks the VMAs 'deleted' with the file's device and inode, by which
 * restore-tasks finds the description. memfds, shared anonymous memory
 * ("/dev/zero (deleted)"), System V segments and AIO rings ("/[aio]") are
 * dump-memory's. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/memfd.h"
#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "stages/dump-files/dump-files.h"

/* Has the tree's deleted inode a 'mapped' record already? Marks it if not. */
static int df_mapped_seen(struct df *c, const struct stat *st, bool *seen, struct err *e)
{
	for (int i = 0; i < c->nr_mapped; i++)
		if (c->mapped[i].dev == st->st_dev && c->mapped[i].ino == st->st_ino) {
			*seen = true;
			return 0;
		}
	if (grow_one(&c->mapped, c->nr_mapped) < 0)
		return err_errno(e, "remember a mapped file");
	c->mapped[c->nr_mapped].dev = st->st_dev;
	c->mapped[c->nr_mapped++].ino = st->st_ino;
	*seen = false;
	return 0;
}

/* Writes the 'mapped' record of the deleted file that src (a /proc link of
 * pid) reaches; path is where it lived, what names it in messages. */
static int df_mapped_file(struct df *c, pid_t pid, pid_t id, const char *src, const char *path, const char *what,
			  struct err *e)
{
	struct df_desc d = { .pid = pid, .fd = -1, .src = src, .re = REG_FILE_ENTRY__INIT };
	char link[PATH_MAX + 16];
	struct stat st;
	bool seen;
	int ret;

	if (stat(src, &st) < 0)
		return err_errno(e, "stat the deleted file '%s' that pid %d %s ('%s')", path, pid, what, src);
	if (!S_ISREG(st.st_mode)) {
		df_refuse(c, pid, -1, path, "it is no regular file, which amber cannot make again");
		return 0;
	}
	if ((ret = df_mapped_seen(c, &st, &seen, e)) < 0 || seen)
		return ret;
	snprintf(link, sizeof(link), "%s" DF_DELETED, path);
	d.link = link;
	d.st = &st;
	if ((ret = df_new_id(c, &d.re.id, e)) < 0)
		return ret;
	d.re.path = link;
	d.re.flags = O_RDONLY;
	d.re.has_inode = d.re.has_dev = d.re.has_mode = d.re.has_size = true;
	d.re.inode = st.st_ino;
	d.re.dev = st.st_dev;
	d.re.mode = st.st_mode;
	d.re.size = st.st_size;
	d.re.has_mapped = d.re.mapped = true;
	d.re.has_mapped_by = true;
	d.re.mapped_by = id;
	if ((ret = df_regular_describe(c, &d, e)) < 0)
		return ret;
	pr_info("pid %d %s the deleted file '%s' (inode %llu): file %u", pid, what, path, (unsigned long long)st.st_ino,
		d.re.id);
	return image_write(&c->files, &d.re.base, e);
}

int df_maps(struct df *c, pid_t pid, pid_t id, struct err *e)
{
	_cleanup_free_ struct proc_vma *vmas = NULL;
	char src[96], exe[PATH_MAX];
	int nr = 0, ret;
	ssize_t n;

	if ((ret = proc_read_maps(pid, &vmas, &nr, e)) < 0)
		return ret;
	for (int i = 0; i < nr; i++) {
		const struct proc_vma *v = &vmas[i];

		if (!v->deleted || v->path[0] != '/' || memfd_name_of(v->path) || !strcmp(v->path, "/dev/zero") ||
		    !strncmp(v->path, "/SYSV", 5) || !strcmp(v->path, "/[aio]"))
			continue;
		snprintf(src, sizeof(src), "/proc/%d/map_files/%llx-%llx", pid, (unsigned long long)v->start,
			 (unsigned long long)v->end);
		if ((ret = df_mapped_file(c, pid, id, src, v->path, "maps", e)) < 0)
			return ret;
	}
	snprintf(src, sizeof(src), "/proc/%d/exe", pid);
	n = readlink(src, exe, sizeof(exe) - 1);
	if (n < 0)
		return 0;	/* a zombie or a kernel thread: no executable */
	exe[n] = 0;
	if (!df_is_deleted(exe))
		return 0;
	exe[n - strlen(DF_DELETED)] = 0;
	return df_mapped_file(c, pid, id, src, exe, "runs as its executable", e);
}
