/* dump-memory/memfd.c: the memfds the tree maps, each saved once.
 *
 * A VMA that maps a memfd (MAP_SHARED or MAP_PRIVATE) records the memfd's
 * inode (mm.c); the memfd itself, whoever maps it, is saved here through
 * the first VMA seen that maps it: /proc/PID/map_files/ reaches it without
 * touching the process, and only the pages that hold data are read
 * (images/memfd.h). A memfd a descriptor holds too is saved by whichever of
 * this stage and dump-files comes first: memfd_save publishes its images
 * once and the second drops its copy. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "images/memfd.h"
#include "stages/dump-memory/dump-memory.h"

/* Has this memfd been saved already? Marks it if not. */
static int dm_memfd_seen(struct dm_totals *tot, uint64_t ino, bool *seen, struct err *e)
{
	for (int i = 0; i < tot->nr_memfd; i++)
		if (tot->memfd[i] == ino) {
			*seen = true;
			return 0;
		}
	if (grow_one(&tot->memfd, tot->nr_memfd) < 0)
		return err_errno(e, "remember memfd %llu", (unsigned long long)ino);
	tot->memfd[tot->nr_memfd++] = ino;
	*seen = false;
	return 0;
}

int dm_memfd(int dirfd, pid_t pid, const struct proc_vma *v, struct dm_totals *tot, struct err *e)
{
	MemfdEntry m = MEMFD_ENTRY__INIT;
	const char *name = memfd_name_of(v->path);
	char path[96];
	_cleanup_close_ int fd = -1;
	struct statfs sfs;
	bool seen;
	int seals, ret;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", pid, (unsigned long long)v->start,
		 (unsigned long long)v->end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, "open memfd '%s' that pid %d maps at %#llx ('%s')", name, pid,
				 (unsigned long long)v->start, path);
	if (fstatfs(fd, &sfs) < 0)
		return err_errno(e, "statfs memfd '%s' of pid %d", name, pid);
	if (sfs.f_type != TMPFS_MAGIC)
		return err_input(e, "pid %d maps memfd '%s' at %#llx, which is not on tmpfs (a hugetlb memfd, "
				 "MFD_HUGETLB?); amber cannot save it yet", pid, name, (unsigned long long)v->start);
	/* Sealed against future writes, the memfd refuses a new writable shared
	 * mapping, so the one the process has could not be made again. */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals > 0 && (seals & F_SEAL_FUTURE_WRITE) && v->shared && (v->prot & PROT_WRITE))
		return err_input(e, "pid %d maps memfd '%s' writable and shared at %#llx, but it is sealed with "
				 "F_SEAL_FUTURE_WRITE: restore could not map it so again; unmap it or make it read-only first",
				 pid, name, (unsigned long long)v->start);
	if ((ret = dm_memfd_seen(tot, v->ino, &seen, e)) < 0 || seen)
		return ret;
	m.ino = v->ino;
	m.name = (char *)name;
	if ((ret = memfd_describe(fd, &m, e)) == 0)
		ret = memfd_save(dirfd, fd, &m, e);
	if (ret >= 0)
		pr_info("pid %d: memfd '%s' (inode %llu, %llu bytes, %zu runs of data) mapped at %#llx %s",
			pid, name, (unsigned long long)m.ino, (unsigned long long)m.size, m.n_data,
			(unsigned long long)v->start, ret ? "saved" : "saved already by dump-files");
	memfd_clear(&m);
	if (ret < 0)
		err_wrap(e, "pid %d maps memfd '%s' at %#llx", pid, name, (unsigned long long)v->start);
	return ret < 0 ? ret : 0;
}
