/* restore-files/memfd.c: the memfds the tree held as descriptors.
 *
 * A memfd description in files.img ('memfd', path "/memfd:NAME") names its
 * memfd by the inode it had at dump; the memfd is made once per inode from
 * memfd-INO.img and pages-memfd-INO.img (images/memfd.h), so that two
 * descriptions of one memfd (a dup'ed fd is one description, a reopen
 * through /proc/self/fd another) come back as one memfd. restore-tasks maps
 * these same memfds for the VMAs of that inode. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "images/memfd.h"
#include "stages/restore-files/reopen.h"

/* The memfd made for dumped inode ino, made now if it was not yet; the
 * stage keeps it (-1 and e set on error). */
static int reopen_memfd_get(struct reopen *r, uint64_t ino, struct err *e)
{
	MemfdEntry *m = NULL;
	int fd;

	for (int i = 0; i < r->nr_memfds; i++)
		if (r->memfds[i].ino == ino)
			return r->memfds[i].fd;
	fd = memfd_restore(r->dir_fd, ino, &m, e);
	if (m)
		memfd_entry__free_unpacked(m, NULL);
	if (fd < 0)
		return -1;
	if (grow_one(&r->memfds, r->nr_memfds) < 0) {
		close(fd);
		err_errno(e, "remember memfd %llu", (unsigned long long)ino);
		return -1;
	}
	r->memfds[r->nr_memfds].ino = ino;
	r->memfds[r->nr_memfds++].fd = fd;
	return fd;
}

/* Is f the description that gets the memfd's own (memfd_create's) one?
 * The first read-write description of each memfd, by file id. A reopen
 * through /proc counts as a writer of the inode for as long as it is
 * open, so a memfd held only that way could not be executed (ETXTBSY),
 * where the one memfd_create made is no such writer. */
static bool reopen_memfd_is_first(const struct reopen *r, const struct reopen_file *f)
{
	const RegFileEntry *re = f->re;

	if ((re->flags & O_ACCMODE) != O_RDWR)
		return false;
	for (int i = 0; i < r->nr_files; i++) {
		const RegFileEntry *o = r->files[i].re;

		if (o && o->memfd && o->has_inode && o->inode == re->inode && (o->flags & O_ACCMODE) == O_RDWR &&
		    o->id < re->id)
			return false;
	}
	return true;
}

int reopen_memfd(struct reopen *r, struct reopen_file *f, struct err *e)
{
	const RegFileEntry *re = f->re;
	const char *name = memfd_name_of(re->path);
	char path[64];
	_cleanup_close_ int fd = -1;
	bool first;
	int mfd;

	if (!name || !re->has_inode)
		return err_input(e, "files.img: file %u ('%s') is a memfd without %s", re->id, re->path,
				 name ? "an inode" : "a \"/memfd:NAME\" path");
	if ((mfd = reopen_memfd_get(r, re->inode, e)) < 0)
		return err_wrap(e, "pid %d fd %u: memfd '%s' (file %u)", f->pid, f->tfd, name, re->id);
	/* A description of its own with the dumped flags, on the same inode;
	 * O_NOFOLLOW would refuse the /proc link, so it is left out. The first
	 * read-write one is memfd_create's own, with the flags fcntl sets. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	if ((first = reopen_memfd_is_first(r, f))) {
		fd = fcntl(mfd, F_DUPFD_CLOEXEC, 0);
		if (fd >= 0 && fcntl(fd, F_SETFL, re->flags & (O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME)) < 0)
			return err_errno(e, "pid %d fd %u: set the flags %#o of memfd '%s' (file %u)", f->pid, f->tfd,
					 re->flags, name, re->id);
	} else {
		fd = open(path, reopen_flags(re) & ~O_NOFOLLOW);
	}
	if (fd < 0)
		return err_errno(e, "pid %d fd %u: open memfd '%s' (file %u) again with flags %#o", f->pid, f->tfd, name,
				 re->id, re->flags);
	/* memfd_create's description is where writing the contents left it. */
	if ((re->pos || first) && lseek(fd, re->pos, SEEK_SET) < 0)
		return err_errno(e, "pid %d fd %u: seek memfd '%s' to %llu", f->pid, f->tfd, name,
				 (unsigned long long)re->pos);
	pr_debug("file %u: memfd '%s' (inode %llu at dump) flags %#o pos %llu", re->id, name,
		 (unsigned long long)re->inode, re->flags, (unsigned long long)re->pos);
	f->fd = TAKE_FD(fd);
	return 0;
}
