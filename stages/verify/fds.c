/* verify/fds.c: each restored descriptor, read as dump-files reads one
 * (lib/proc.h: the fd list, fdinfo, the file behind it), against
 * fdinfo-PID.img and the files.img entry it names; and the umask, cwd and
 * root against fs-PID.img. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "images/fs.pb-c.h"
#include "images/image.h"
#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/pty.h"
#include "stages/verify/verify.h"

/* Reads the link at /proc/PID/NAME into buf ("" if it cannot be read). */
static void vf_link(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[96];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	n = readlink(path, buf, size - 1);
	buf[n < 0 ? 0 : n] = 0;
}

/* A description made again (a socket, a memfd, a ghost, an anonymous
 * file, a FIFO whose path was gone and is made again, either end of a pty
 * pair) is another inode; one opened by its path is the same,
 * unless the restore was told files may have changed. Only in this stage's
 * mount namespace: in a namespace build-mntns made, a tmpfs is made again
 * from the images, on a new device that may even reuse the old number. */
static bool vf_same_inode(const struct vf *v, const RegFileEntry *f, bool same_ns)
{
	return same_ns && !v->o->allow_changed && f->has_inode && f->has_dev && !f->remapped && !f->deleted && !f->has_proc_pid && !f->external &&
	       !f->unix_sk && !f->anon && !f->has_pipe_ino && !f->memfd && !f->fifo && !f->pty && f->path &&
	       f->path[0] == '/';
}

/* Flags that open(2) keeps in f_flags but that only the open that made
 * the file could have: O_TMPFILE (with O_DIRECTORY in it) and O_NOFOLLOW.
 * An unlinked file comes back through its remap or ghost, without them. */
#define VF_OPEN_ONLY_FLAGS	(__O_TMPFILE | O_DIRECTORY | O_NOFOLLOW)

/* An end of a pty pair comes back on a new pair, another index, another
 * devpts inode: what must hold is that it is an end of the kind it was
 * (master, slave, /dev/tty), that every end of one dumped pair is on one
 * restored pair, and that no two dumped pairs are on one. The master's
 * index is its fdinfo's "tty-index", a slave's its device number. Which
 * pair a /dev/tty reaches is the task's terminal, not the description's. */
static int vf_pty(struct vf *v, const char *who, const RegFileEntry *f, const struct stat *st,
		  const struct proc_fdinfo *fi, struct err *e)
{
	const PtyEntry *p = f->pty;
	const char *kind = p->dev_tty ? "/dev/tty" : p->master ? "a pty master" : "a pty slave";
	bool chr = S_ISCHR(st->st_mode), ok;
	uint32_t now = 0;

	vf_checked(v);
	if (p->dev_tty) {
		ok = chr && st->st_rdev == makedev(5, 0);
	} else if (p->master) {
		ok = chr && st->st_rdev == makedev(5, 2) && fi->tty_index >= 0;
		now = fi->tty_index;
	} else {
		ok = chr && major(st->st_rdev) >= 136 && major(st->st_rdev) <= 143;
		now = pty_index_of(st->st_rdev);
	}
	if (!ok) {
		vf_diff(v, "%s (file %u, '%s'): kind: dumped %s, restored %s %u:%u", who, f->id, f->path, kind,
			chr ? "the character device" : "not a character device", major(st->st_rdev), minor(st->st_rdev));
		return 0;
	}
	if (p->dev_tty)
		return 0;
	vf_checked(v);
	for (size_t i = 0; i < v->nr_ptys; i++) {
		const struct vf_pty *q = &v->ptys[i];

		bool same = q->dumped == p->index && q->devpts == p->devpts;
		/* A pair of the tree's own devpts is on the new instance of it. */
		bool now_same = q->now == now && q->devpts == p->devpts;

		if (same && !now_same)
			vf_diff(v, "%s (file %u, '%s'): pty pair: dumped /dev/pts/%u, restored /dev/pts/%u, but %s of "
				"that pair is on /dev/pts/%u", who, f->id, f->path, p->index, now, q->first, q->now);
		else if (!same && now_same)
			vf_diff(v, "%s (file %u, '%s'): pty pair: dumped /dev/pts/%u, restored /dev/pts/%u, where %s "
				"of dumped /dev/pts/%u is too", who, f->id, f->path, p->index, now, q->first, q->dumped);
		if (same || now_same)
			return 0;
	}
	if (grow_one(&v->ptys, v->nr_ptys) < 0)
		return err_errno(e, "remember pty pair %u", p->index);
	v->ptys[v->nr_ptys] = (struct vf_pty){ .devpts = p->devpts, .dumped = p->index, .now = now };
	snprintf(v->ptys[v->nr_ptys].first, sizeof(v->ptys[0].first), "%s", who);
	v->nr_ptys++;
	pr_info("pty /dev/pts/%u of the dump is on /dev/pts/%u (%s, %s)", p->index, now, who, kind);
	return 0;
}

/* One descriptor that both the images and the process have. */
static int vf_fd(struct vf *v, const struct vf_task *t, const FdinfoEntry *d, struct err *e)
{
	const RegFileEntry *f = d->id < v->nr_files ? v->files[d->id] : NULL;
	struct proc_fdinfo fi;
	struct stat st;
	char who[64], what[160], path[96];
	int ret;

	snprintf(who, sizeof(who), "pid %u fd %u", t->pe->pid, d->fd);
	if ((ret = proc_read_fdinfo(t->host, d->fd, &fi, e)) < 0)
		return ret;
	snprintf(path, sizeof(path), "/proc/%d/fd/%u", t->host, d->fd);
	if (stat(path, &st) < 0)
		return err_errno(e, "stat %s ('%s')", who, path);
	snprintf(what, sizeof(what), "%s: close-on-exec", who);
	vf_num(v, what, d->cloexec, !!(fi.flags & O_CLOEXEC));
	if (!f) {
		vf_checked(v);
		vf_diff(v, "%s: its file %u is not in files.img", who, d->id);
		return 0;
	}
	/* What amber was given for an external file (--inherit-fd,
	 * --shell-job) is the caller's: only its presence is the tree's. */
	if (f->external)
		return 0;
	snprintf(what, sizeof(what), "%s (file %u, '%s'): open flags", who, d->id, f->path);
	if (f->remapped)
		vf_hex(v, what, f->flags & ~VF_OPEN_ONLY_FLAGS, fi.flags & ~(O_CLOEXEC | VF_OPEN_ONLY_FLAGS));
	else
		vf_hex(v, what, f->flags, fi.flags & ~O_CLOEXEC);
	if (f->has_mode) {
		snprintf(what, sizeof(what), "%s (file %u, '%s'): file type", who, d->id, f->path);
		vf_hex(v, what, f->mode & S_IFMT, st.st_mode & S_IFMT);
	}
	/* A position means something only where a file has one. */
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode)) {
		snprintf(what, sizeof(what), "%s (file %u, '%s'): position", who, d->id, f->path);
		vf_num(v, what, f->pos, fi.pos);
	}
	if (vf_same_inode(v, f, t->same_ns)) {
		snprintf(what, sizeof(what), "%s (file %u, '%s'): device", who, d->id, f->path);
		vf_hex(v, what, f->dev, st.st_dev);
		snprintf(what, sizeof(what), "%s (file %u, '%s'): inode", who, d->id, f->path);
		vf_num(v, what, f->inode, st.st_ino);
	}
	return f->pty ? vf_pty(v, who, f, &st, &fi, e) : 0;
}

/* umask, and cwd and root where paths read here are the process's. */
static int vf_fs(struct vf *v, const struct vf_task *t, struct err *e)
{
	FsEntry *fs = NULL;
	struct proc_status st;
	char name[64], what[96], now[4096];
	int ret;

	snprintf(name, sizeof(name), "fs-%u.img", t->pe->pid);
	if ((ret = image_read_one(v->dir_fd, "fs", name, (ProtobufCMessage **)&fs, e)) < 0)
		return ret;
	if ((ret = proc_read_status(t->host, 0, &st, e)) < 0) {
		fs_entry__free_unpacked(fs, NULL);
		return ret;
	}
	if (fs->has_umask) {
		snprintf(what, sizeof(what), "pid %u: umask", t->pe->pid);
		vf_hex(v, what, fs->umask, st.umask);
	}
	if (t->same_ns) {
		vf_link(t->host, "cwd", now, sizeof(now));
		snprintf(what, sizeof(what), "pid %u: working directory", t->pe->pid);
		vf_str(v, what, fs->cwd, now);
		vf_link(t->host, "root", now, sizeof(now));
		snprintf(what, sizeof(what), "pid %u: root", t->pe->pid);
		vf_str(v, what, fs->root, now);
	}
	fs_entry__free_unpacked(fs, NULL);
	return 0;
}

int vf_fds(struct vf *v, const struct vf_task *t, struct err *e)
{
	_cleanup_free_ int *fds = NULL;
	struct image img;
	ProtobufCMessage *m;
	char name[64];
	int nr, ret, seen = 0;

	if ((ret = proc_list_fds(t->host, &fds, &nr, e)) < 0)
		return ret;
	snprintf(name, sizeof(name), "fdinfo-%u.img", t->pe->pid);
	if ((ret = image_open_read(&img, v->dir_fd, "fdinfo", name, e)) < 0)
		return ret;
	/* fdinfo-PID.img is in ascending fd order, as the list is. */
	while ((ret = image_read(&img, &m, e)) > 0) {
		FdinfoEntry *d = (FdinfoEntry *)m;

		for (; seen < nr && (uint32_t)fds[seen] < d->fd; seen++) {
			vf_checked(v);
			vf_diff(v, "pid %u fd %d: restored, not dumped", t->pe->pid, fds[seen]);
		}
		vf_checked(v);
		if (seen < nr && (uint32_t)fds[seen] == d->fd) {
			seen++;
			ret = vf_fd(v, t, d, e);
		} else {
			vf_diff(v, "pid %u fd %u: dumped, not restored", t->pe->pid, d->fd);
		}
		fdinfo_entry__free_unpacked(d, NULL);
		if (ret < 0)
			break;
	}
	image_close(&img);
	for (; ret == 0 && seen < nr; seen++) {
		vf_checked(v);
		vf_diff(v, "pid %u fd %d: restored, not dumped", t->pe->pid, fds[seen]);
	}
	return ret < 0 ? ret : vf_fs(v, t, e);
}
