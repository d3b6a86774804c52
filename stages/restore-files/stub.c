/* stub: the tree's files made on the stubs of delayed mounts.
 *
 * A stub (amber-stubfs) starts empty. Before anything is opened, in each
 * namespace with stubs, this pass makes on them what the tree will reach
 * by path: each file it holds open (a regular file with its dumped size
 * and mode, a directory, a FIFO), the working directory of each task, and
 * each file it maps (of its dumped size). The stub keeps these names,
 * modes and sizes; it has no data, and never returns any. A private
 * writable mapping of a file on a stub is refused: its pages of its own
 * would be written into the mapping from the stub's (absent) data, and
 * amber-mountd could not keep them when it swaps the real mount in.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/fs.pb-c.h"
#include "images/image.h"
#include "images/mm.pb-c.h"
#include "lib/exitcodes.h"
#include "lib/log.h"
#include "stages/restore-files/reopen.h"

/* mkdir -p of the directories of path below mountpoint mp (and path
 * itself if self). */
static int stub_dirs(const char *mp, const char *path, bool self, struct err *e)
{
	char buf[PATH_MAX];
	size_t start = strlen(mp);

	snprintf(buf, sizeof(buf), "%s", path);
	for (size_t i = start + 1; buf[i - 1]; i++) {
		if (buf[i] != '/' && (buf[i] || !self))
			continue;
		char c = buf[i];

		buf[i] = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return err_errno(e, "make directory '%s' on the stub of delayed mount '%s'", buf, mp);
		buf[i] = c;
		if (!c)
			break;
	}
	return 0;
}

/* A regular file of size bytes and mode at path, unless it is there. */
static int stub_file(const char *mp, const char *path, mode_t mode, uint64_t size, struct err *e)
{
	int fd, ret;

	if ((ret = stub_dirs(mp, path, false, e)) < 0)
		return ret;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777)) < 0)
		return errno == EEXIST ? 0 : err_errno(e, "make file '%s' on the stub of delayed mount '%s'", path, mp);
	if (ftruncate(fd, size) < 0) {
		close(fd);
		return err_errno(e, "give file '%s' on the stub of '%s' its size %llu", path, mp, (unsigned long long)size);
	}
	close(fd);
	pr_debug("made '%s' (%llu bytes, mode %o) on the stub of '%s'", path, (unsigned long long)size, mode, mp);
	return 0;
}

/* The working directory and mapped files of pid, if on a stub. */
static int stub_task(struct reopen *r, uint32_t pid, struct err *e)
{
	char name[64];
	FsEntry *fs = NULL;
	MmEntry *mm = NULL;
	const char *mp;
	int ret = 0;

	snprintf(name, sizeof(name), "fs-%u.img", pid);
	if (image_read_one(r->dir_fd, "fs", name, (ProtobufCMessage **)&fs, e) >= 0) {
		if ((mp = reopen_ns_stub(r, fs->root)))
			ret = err_input(e, "pid %u: its root '%s' is on delayed mount '%s': a root on a delayed mount is "
					"not supported yet; do not delay it", pid, fs->root, mp);
		else if ((mp = reopen_ns_stub(r, fs->cwd)))
			ret = stub_dirs(mp, fs->cwd, true, e);
		fs_entry__free_unpacked(fs, NULL);
	}
	snprintf(name, sizeof(name), "mm-%u.img", pid);
	if (ret >= 0 && image_read_one(r->dir_fd, "mm", name, (ProtobufCMessage **)&mm, e) >= 0) {
		for (size_t i = 0; ret >= 0 && i < mm->n_vmas; i++) {
			const VmaEntry *v = mm->vmas[i];

			if (!v->path || !(mp = reopen_ns_stub(r, v->path)))
				continue;
			if (!(v->flags & MAP_SHARED) && (v->prot & PROT_WRITE))
				ret = err_input(e, "pid %u: private writable mapping %#llx-%#llx of '%s' is on delayed mount "
						"'%s': its pages of its own cannot be kept on a stub (not supported yet); "
						"do not delay it", pid, (unsigned long long)v->start,
						(unsigned long long)v->end, v->path, mp);
			else
				ret = stub_file(mp, v->path, 0644, v->has_file_size ? v->file_size : 0, e);
		}
		mm_entry__free_unpacked(mm, NULL);
	}
	return ret;
}

int reopen_stubs_make(struct reopen *r, struct err *e)
{
	const uint32_t *pids;
	size_t nr;
	int ret = 0;

	for (int i = 0; i < r->nr_files && ret >= 0; i++) {
		const RegFileEntry *re = r->files[i].re;
		const char *mp;

		if (!r->files[i].pid || !reopen_ns_here(r, r->files[i].pid) || re->remapped || !re->path ||
		    !(mp = reopen_ns_stub(r, re->path)))
			continue;
		if (re->unix_sk || re->inet_sk || re->pty || re->anon || re->memfd || r->files[i].inherit)
			continue;
		if (!re->has_mode || S_ISREG(re->mode))
			ret = stub_file(mp, re->path, re->has_mode ? re->mode : 0644, re->has_size ? re->size : 0, e);
		else if (S_ISDIR(re->mode))
			ret = stub_dirs(mp, re->path, true, e);
		else if (S_ISFIFO(re->mode)) {
			if ((ret = stub_dirs(mp, re->path, false, e)) >= 0 && mknod(re->path, re->mode, 0) < 0 && errno != EEXIST)
				ret = err_errno(e, "make FIFO '%s' on the stub of delayed mount '%s'", re->path, mp);
		} else
			ret = err_input(e, "file '%s' (id %u) of pid %d fd %u is on delayed mount '%s' and of a kind (mode %o) a "
					"stub does not make", re->path, re->id, r->files[i].pid, r->files[i].tfd, mp, re->mode);
	}
	reopen_ns_pids(r, &pids, &nr);
	for (size_t k = 0; k < nr && ret >= 0; k++)
		ret = stub_task(r, pids[k], e);
	return ret;
}
