/* dump-files/memfd.c: the memfds the tree holds as descriptors.
 *
 * A memfd lives only in memory: whatever its size, it is saved whole, like
 * a mapped one (dump-memory/memfd.c), as memfd-INO.img (name, size, seals,
 * mode, owner, where its data is) and pages-memfd-INO.img (only the pages
 * that hold data), through images/memfd.h. Every description of it in
 * files.img says 'memfd' and carries its inode, so restore makes one memfd
 * for all of them. A memfd both held and mapped is saved by whichever of
 * this stage and dump-memory comes first (memfd_save publishes once). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "images/memfd.h"
#include "stages/dump-files/dump-files.h"

/* Has this stage saved the memfd already (another description of it)?
 * Marks it if not. */
static int df_memfd_seen(struct df *c, const struct stat *st, bool *seen, struct err *e)
{
	for (int i = 0; i < c->nr_memfds; i++)
		if (c->memfds[i].dev == st->st_dev && c->memfds[i].ino == st->st_ino) {
			*seen = true;
			return 0;
		}
	if (grow_one(&c->memfds, c->nr_memfds) < 0)
		return err_errno(e, "remember memfd %llu", (unsigned long long)st->st_ino);
	c->memfds[c->nr_memfds].dev = st->st_dev;
	c->memfds[c->nr_memfds++].ino = st->st_ino;
	*seen = false;
	return 0;
}

/* Saves the memfd behind pid's fd (link "/memfd:NAME", " (deleted)"
 * stripped) once, whatever its size, in memfd-INO.img and
 * pages-memfd-INO.img. */
static int df_memfd(struct df *c, pid_t pid, int fd, const char *link, const struct stat *st, struct err *e)
{
	MemfdEntry m = MEMFD_ENTRY__INIT;
	const char *name = memfd_name_of(link);
	char path[64];
	_cleanup_close_ int rfd = -1;
	struct statfs sfs;
	bool seen;
	int ret;

	if ((ret = df_memfd_seen(c, st, &seen, e)) < 0 || seen)
		return ret;
	/* A description of its own, to read at any offset whatever the
	 * process's flags (O_WRONLY, O_APPEND). */
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	rfd = open(path, O_RDONLY | O_CLOEXEC);
	if (rfd < 0)
		return err_errno(e, "open memfd '%s' of pid %d fd %d ('%s')", name, pid, fd, path);
	if (fstatfs(rfd, &sfs) < 0)
		return err_errno(e, "statfs memfd '%s' of pid %d fd %d", name, pid, fd);
	if (sfs.f_type != TMPFS_MAGIC) {
		df_refuse(c, pid, fd, link, "a hugetlb memfd (MFD_HUGETLB) is not supported yet");
		return 0;
	}
	m.ino = st->st_ino;
	m.name = (char *)name;
	if ((ret = memfd_describe(rfd, &m, e)) == 0)
		ret = memfd_save(c->dir_fd, rfd, &m, e);
	if (ret >= 0)
		pr_info("pid %d fd %d: memfd '%s' (inode %" PRIu64 ", %" PRIu64 " bytes, %zu runs of data) %s", pid, fd,
			name, m.ino, m.size, m.n_data, ret ? "saved" : "saved already by dump-memory");
	memfd_clear(&m);
	if (ret < 0)
		err_wrap(e, "pid %d fd %d holds memfd '%s'", pid, fd, name);
	return ret < 0 ? ret : 0;
}

/* A memfd's link is "/memfd:NAME (deleted)"; a hugetlb one is refused when
 * it is described. */
bool df_memfd_match(const char *link, const struct stat *st)
{
	return S_ISREG(st->st_mode) && df_is_deleted(link);
}

int df_memfd_describe(struct df *c, struct df_desc *d, struct err *e)
{
	size_t n = strlen(d->link) - strlen(DF_DELETED);

	if (n >= sizeof(d->path))
		return err_input(e, "memfd name of pid %d fd %d is too long", d->pid, d->fd);
	memcpy(d->path, d->link, n);
	d->path[n] = 0;
	d->re.path = d->path;
	d->re.has_memfd = d->re.memfd = true;
	d->re.has_mnt_id = false;
	return df_memfd(c, d->pid, d->fd, d->path, d->st, e);
}
