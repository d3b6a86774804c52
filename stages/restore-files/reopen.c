/* reopen: see reopen.h. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/image.h"
#include "lib/exitcodes.h"
#include "ipc/fdpass.h"
#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "stages/restore-files/reopen.h"

/* Flags that would create or change a file, or that only make sense at the
 * first open: never replayed from an image. */
#define REOPEN_DROP_FLAGS (O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | (O_TMPFILE & ~O_DIRECTORY) | O_CLOEXEC)

static int reopen_file_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct reopen_file *)a)->re->id, y = ((const struct reopen_file *)b)->re->id;

	return x < y ? -1 : x > y;
}

static int reopen_fd_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct reopen_fd *)a)->fd, y = ((const struct reopen_fd *)b)->fd;

	return x < y ? -1 : x > y;
}

/* The file of files.img with this id, or NULL. */
static struct reopen_file *reopen_find(const struct reopen *r, uint32_t id)
{
	RegFileEntry key = { .id = id };
	struct reopen_file k = { .re = &key };

	return r->nr_files ? bsearch(&k, r->files, r->nr_files, sizeof(k), reopen_file_cmp) : NULL;
}

/* A word for a file type, for messages. */
static const char *reopen_type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "regular file";
	case S_IFDIR: return "directory";
	case S_IFCHR: return "character device";
	case S_IFBLK: return "block device";
	case S_IFIFO: return "FIFO";
	case S_IFSOCK: return "socket";
	case S_IFLNK: return "symlink";
	default: return "file of unknown type";
	}
}

/* The refusal for a file whose type is not the dumped one. */
int reopen_changed_type(const RegFileEntry *re, uint32_t mode, struct err *e)
{
	return err_input(e, "file '%s' (id %u) was a %s at dump and is a %s now; restoring onto a changed file is refused",
			 re->path, re->id, reopen_type_name(re->mode), reopen_type_name(mode));
}

int reopen_load(struct reopen *r, int dir_fd, struct err *e)
{
	struct image img;
	RegFileEntry *re;
	size_t cap = 0;
	int ret;

	memset(r, 0, sizeof(*r));
	r->dir_fd = dir_fd;
	if ((ret = image_open_read(&img, dir_fd, "files", "files.img", e)) < 0)
		return ret;
	while ((ret = image_read(&img, (ProtobufCMessage **)&re, e)) > 0) {
		/* restore-tasks indexes what it receives by file id. */
		if ((ret = image_check_id(&img, "file id", re->id, IMAGE_MAX_FILE_ID, e)) < 0) {
			reg_file_entry__free_unpacked(re, NULL);
			break;
		}
		if (re->path[0] != '/' && !re->has_pipe_ino && !re->anon && !re->unix_sk && !re->inet_sk && !re->netlink_sk &&
		    !re->external) {
			ret = err_input(e, "files.img: file %u has path '%s', which is not absolute", re->id, re->path);
			reg_file_entry__free_unpacked(re, NULL);
			break;
		}
		if ((re->inet_sk && (ret = reopen_inet_check(re, e)) < 0) ||
		    (re->netlink_sk && (ret = reopen_netlink_check(re, e)) < 0)) {
			reg_file_entry__free_unpacked(re, NULL);
			break;
		}
		if (grow_cap(&r->files, &cap, (size_t)r->nr_files + 1) < 0) {
			ret = err_errno(e, "read files.img");
			reg_file_entry__free_unpacked(re, NULL);
			break;
		}
		r->files[r->nr_files++] = (struct reopen_file){ .re = re, .fd = -1, .aux = -1 };
	}
	image_close(&img);
	if (ret < 0)
		return ret;
	if (r->nr_files)	/* an empty files.img leaves r->files NULL, which qsort may not take */
		qsort(r->files, r->nr_files, sizeof(*r->files), reopen_file_cmp);
	for (int i = 1; i < r->nr_files; i++)
		if (r->files[i].re->id == r->files[i - 1].re->id)
			return err_input(e, "files.img: two records with id %u ('%s' and '%s')", r->files[i].re->id,
					 r->files[i - 1].re->path, r->files[i].re->path);
	pr_debug("files.img: %d open files", r->nr_files);
	return 0;
}

/* Appends one descriptor to the plan. */
static int reopen_plan_add(struct reopen *r, const struct reopen_fd *fd, struct err *e)
{
	if (grow_cap(&r->plan, &r->cap_plan, (size_t)r->nr_plan + 1) < 0)
		return err_errno(e, "allocate the descriptor plan");
	r->plan[r->nr_plan++] = *fd;
	return 0;
}

/* Remembers pid; a pid twice in the input is a protocol error. */
static int reopen_add_pid(struct reopen *r, pid_t pid, struct err *e)
{
	for (int i = 0; i < r->nr_pids; i++)
		if (r->pids[i] == pid)
			return err_proto(e, "task %d appears twice in the input stream", pid);
	if (grow_cap(&r->pids, &r->cap_pids, (size_t)r->nr_pids + 1) < 0)
		return err_errno(e, "allocate the task list");
	r->pids[r->nr_pids++] = pid;
	return 0;
}

/* Adds one FdinfoEntry of pid to the plan after checking it. */
static int reopen_add_fd(struct reopen *r, pid_t pid, const char *name, const FdinfoEntry *fe, struct err *e)
{
	struct reopen_fd fd = { .pid = pid, .fd = fe->fd, .file_id = fe->id, .cloexec = fe->cloexec };
	struct reopen_file *f;

	if (fe->type != FD_TYPE__FD_REG && fe->type != FD_TYPE__FD_PIPE && fe->type != FD_TYPE__FD_ANON)
		return err_input(e, "%s: fd %u has type %d, which this amber cannot restore", name, fe->fd, fe->type);
	if (fe->fd > INT_MAX)
		return err_input(e, "%s: fd %u is out of range", name, fe->fd);
	f = reopen_find(r, fe->id);
	if (!f)
		return err_input(e, "%s: fd %u refers to file id %u, which files.img lacks; the images do not belong together",
				 name, fe->fd, fe->id);
	if (!f->pid) {
		f->pid = pid;
		f->tfd = fe->fd;
	}
	return reopen_plan_add(r, &fd, e);
}

int reopen_add_task(struct reopen *r, pid_t pid, struct err *e)
{
	struct image img;
	FdinfoEntry *fe;
	char name[64];
	int first = r->nr_plan, ret;

	if (pid <= 0)
		return err_proto(e, "task record with pid %d", pid);
	if ((ret = reopen_add_pid(r, pid, e)) < 0)
		return ret;
	snprintf(name, sizeof(name), "fdinfo-%d.img", pid);
	if ((ret = image_open_read(&img, r->dir_fd, "fdinfo", name, e)) < 0)
		return ret;
	while ((ret = image_read(&img, (ProtobufCMessage **)&fe, e)) > 0) {
		ret = reopen_add_fd(r, pid, name, fe, e);
		/* One with locks is kept for the plan, which carries them on. */
		if (ret >= 0 && fe->n_locks)
			r->plan[r->nr_plan - 1].locked = fe;
		else
			fdinfo_entry__free_unpacked(fe, NULL);
		if (ret < 0)
			break;
	}
	image_close(&img);
	if (ret < 0)
		return ret;
	if (r->nr_plan > first)	/* an empty fdinfo-PID.img may leave r->plan NULL */
		qsort(r->plan + first, r->nr_plan - first, sizeof(*r->plan), reopen_fd_cmp);
	for (int i = first + 1; i < r->nr_plan; i++)
		if (r->plan[i].fd == r->plan[i - 1].fd)
			return err_input(e, "%s: fd %u appears twice", name, r->plan[i].fd);
	pr_debug("pid %d: %d fds", pid, r->nr_plan - first);
	return 0;
}

/* Makes room for n more open files: RLIMIT_NOFILE's soft limit up to the hard one. */
static int reopen_rlimit(int n, struct err *e)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)n + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return err_errno(e, "getrlimit(RLIMIT_NOFILE)");
	if (rl.rlim_cur >= want)
		return 0;
	if (rl.rlim_max < want)
		return err_set(e, EXIT_SYSTEM, "restoring %d open files needs RLIMIT_NOFILE of at least %llu, and its hard limit is %llu; "
			       "raise it (ulimit -Hn) and rerun", n, (unsigned long long)want, (unsigned long long)rl.rlim_max);
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return err_errno(e, "raise RLIMIT_NOFILE to %llu", (unsigned long long)want);
	return 0;
}

int reopen_add_remap(struct reopen *r, RemapPlanEntry *rp, struct err *e)
{
	if (grow_one(&r->remaps, r->nr_remaps) < 0)
		return err_errno(e, "plan remaps");
	r->remaps[r->nr_remaps++] = rp;
	return 0;
}

/* The flags to open a file with: its dumped flags without those that only
 * mean something when a file is created, and without O_DIRECTORY for a
 * regular file (what is left of O_TMPFILE on a file made that way). */
int reopen_flags(const RegFileEntry *re)
{
	int flags = (re->flags & ~REOPEN_DROP_FLAGS) | O_CLOEXEC | O_NOCTTY;

	if (re->has_mode && S_ISREG(re->mode))
		flags &= ~O_DIRECTORY;
	return flags;
}

static const RemapPlanEntry *reopen_remap_of(const struct reopen *r, uint32_t id)
{
	for (int i = 0; i < r->nr_remaps; i++)
		if (r->remaps[i]->file_id == id)
			return r->remaps[i];
	return NULL;
}

/* Writes one record of a ghost image into tmp: its data (a dump before
 * runs: the file from 0) or its runs, leaving the holes between them. */
static int reopen_ghost_fill(int tmp, const GhostFileEntry *g, const char *name, const RegFileEntry *re, struct err *e)
{
	if (g->has_data && g->data.len && pwrite(tmp, g->data.data, g->data.len, 0) != (ssize_t)g->data.len)
		return err_errno(e, "write the %zu bytes of unlinked file '%s'", g->data.len, re->path);
	for (size_t i = 0; i < g->n_runs; i++) {
		const GhostRun *run = g->runs[i];

		if (run->offset > g->size || run->data.len > g->size - run->offset)
			return err_input(e, "%s: a run of %zu bytes at %llu lies past the file's size %llu", name,
					 run->data.len, (unsigned long long)run->offset, (unsigned long long)g->size);
		if (pwrite(tmp, run->data.data, run->data.len, run->offset) != (ssize_t)run->data.len)
			return err_errno(e, "write %zu bytes at %llu of unlinked file '%s'", run->data.len,
					 (unsigned long long)run->offset, re->path);
	}
	return 0;
}

/* A new description of fd's file (flags) opened by path, where the file
 * lived at dump: the file is linked there, opened and unlinked again, so
 * that the restored process sees the dumped name in /proc/PID/fd and maps
 * ("PATH (deleted)"), not the name it was remade or linked back under.
 * -1 when path is taken (another file lives there now) or the link fails:
 * the caller keeps the description it has. */
static int reopen_at_name(int fd, const char *path, int flags)
{
	char src[64];
	struct stat a, b;
	int nfd;

	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, src, AT_FDCWD, path, AT_SYMLINK_FOLLOW) < 0)
		return -1;
	nfd = open(path, flags & ~(O_CREAT | O_TRUNC | O_EXCL));
	/* Only the link made here is removed: it is still fd's inode. */
	if (fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		unlinkat(AT_FDCWD, path, 0);
	if (nfd >= 0 && (fstat(nfd, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)) {
		close(nfd);
		return -1;
	}
	return nfd;
}

/* Makes the inode of a ghost again from its image: an unlinked file
 * (O_TMPFILE) in dir (or /tmp), of the dumped size with the data runs
 * written and nothing in the holes, then the owner and the mode (after the
 * owner: fchown clears the set-id bits; and the umask does not apply). */
static int reopen_ghost_make(int dir_fd, const char *name, const char *dir, const RegFileEntry *re, int *out,
			     struct err *e)
{
	struct image img;
	GhostFileEntry *g = NULL;
	_cleanup_close_ int tmp = -1;
	uint32_t mode = 0, uid = 0, gid = 0;
	bool owner = false;
	int ret, nr = 0;

	if ((ret = image_open_read(&img, dir_fd, "ghost", name, e)) < 0)
		return ret;
	while ((ret = image_read(&img, (ProtobufCMessage **)&g, e)) > 0) {
		if (nr++ == 0) {
			mode = g->mode;
			owner = g->has_uid && g->has_gid;
			uid = g->uid;
			gid = g->gid;
			tmp = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
			if (tmp < 0) {
				pr_warn("file %u: cannot make it again in '%s' (%m): using /tmp", re->id, dir);
				tmp = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
			}
			if (tmp < 0)
				ret = err_errno(e, "make the unlinked file '%s' (id %u) again", re->path, re->id);
			else if (ftruncate(tmp, g->size) < 0)
				ret = err_errno(e, "give the remade unlinked file '%s' its size %llu", re->path,
						(unsigned long long)g->size);
		}
		if (ret >= 0)
			ret = reopen_ghost_fill(tmp, g, name, re, e);
		ghost_file_entry__free_unpacked(g, NULL);
		g = NULL;
		if (ret < 0)
			break;
	}
	image_close(&img);
	if (ret < 0)
		return ret;
	if (nr == 0)
		return err_input(e, "image '%s' holds no record; the dump was cut short", name);
	if (owner && fchown(tmp, uid, gid) < 0)
		return err_errno(e, "give the remade unlinked file '%s' (id %u) its owner %u:%u", re->path, re->id, uid, gid);
	if (fchmod(tmp, mode & 07777) < 0)
		return err_errno(e, "give the remade unlinked file '%s' (id %u) its mode %#o", re->path, re->id, mode & 07777);
	{
		/* Under its dumped name, unlinked, if that name is free. */
		int named = reopen_at_name(tmp, re->path, O_RDWR | O_CLOEXEC);

		if (named >= 0) {
			close(tmp);
			tmp = named;
		}
	}
	*out = TAKE_FD(tmp);
	return 0;
}

/* An unlinked file saved whole: made again as an unlinked file (O_TMPFILE)
 * in the directory it lived in (or /tmp, if that is gone or cannot), filled
 * with its contents, then opened with the dumped flags and position. */
static int reopen_ghost(struct reopen *r, struct reopen_file *f, const RemapPlanEntry *rp, struct err *e)
{
	const RegFileEntry *re = f->re;
	uint32_t gid = rp->has_ghost_id ? rp->ghost_id : re->id;
	char name[64], dir[PATH_MAX], path[64];
	const char *slash = strrchr(re->path, '/');
	_cleanup_close_ int tmp = -1, fd = -1;
	int ret;

	for (int i = 0; i < r->nr_ghosts; i++)
		if (r->ghosts[i].ghost_id == gid) {
			/* Another description of an inode made already: it shares it. */
			snprintf(path, sizeof(path), "/proc/self/fd/%d", r->ghosts[i].fd);
			fd = open(path, reopen_flags(re));
			if (fd < 0)
				return err_errno(e, "open the remade unlinked file '%s' (id %u) again", re->path, re->id);
			if (re->pos && lseek(fd, re->pos, SEEK_SET) < 0)
				return err_errno(e, "seek the remade unlinked file '%s' to %llu", re->path, (unsigned long long)re->pos);
			f->fd = TAKE_FD(fd);
			return 0;
		}
	snprintf(name, sizeof(name), "ghost-%u.img", gid);
	snprintf(dir, sizeof(dir), "%.*s", slash && slash != re->path ? (int)(slash - re->path) : 1, re->path);
	if ((ret = reopen_ghost_make(r->dir_fd, name, dir, re, &tmp, e)) < 0)
		return ret;
	/* A new description with the dumped flags, on the same unlinked inode,
	 * through its /proc link: O_NOFOLLOW (which Python's TemporaryFile
	 * uses) would refuse that link, so it is left out. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", tmp);
	fd = open(path, reopen_flags(re) & ~O_NOFOLLOW);
	if (fd < 0)
		return err_errno(e, "open the remade unlinked file '%s' (id %u) with flags %#o", re->path, re->id, re->flags);
	if (re->pos && lseek(fd, re->pos, SEEK_SET) < 0)
		return err_errno(e, "seek the remade unlinked file '%s' to %llu", re->path, (unsigned long long)re->pos);
	pr_debug("file %u: '%s' (unlinked) made again from %s", re->id, re->path, name);
	if (grow_one(&r->ghosts, r->nr_ghosts) < 0)
		return err_errno(e, "remember a remade file");
	r->ghosts[r->nr_ghosts].ghost_id = gid;
	r->ghosts[r->nr_ghosts++].fd = TAKE_FD(tmp);
	f->fd = TAKE_FD(fd);
	return 0;
}

/* Makes a directory removed while open (or a task's cwd) again: empty,
 * with its owner and mode, under its dumped name if that is free, else a
 * hidden name beside it (or in /tmp); opened, then removed, so it is the
 * empty, unlinked directory it was. One per dumped inode: a descriptor
 * and a cwd of the same directory share it. */
static int reopen_deleted_dir(struct reopen *r, struct reopen_file *f, struct err *e)
{
	const RegFileEntry *re = f->re;
	const char *slash = strrchr(re->path, '/');
	char path[PATH_MAX + 96], dir[PATH_MAX], src[64];
	const char *names[3];
	_cleanup_close_ int keep = -1;
	int fd;

	for (int i = 0; i < r->nr_deldirs; i++)
		if (r->deldirs[i].dev == re->dev && r->deldirs[i].ino == re->inode) {
			keep = dup(r->deldirs[i].fd);
			break;
		}
	if (keep < 0) {
		snprintf(dir, sizeof(dir), "%.*s", slash && slash != re->path ? (int)(slash - re->path) : 1, re->path);
		names[0] = re->path;
		names[1] = dir;
		names[2] = "/tmp";
		for (int k = 0; k < 3 && keep < 0; k++) {
			if (k == 0)
				snprintf(path, sizeof(path), "%s", re->path);
			else
				snprintf(path, sizeof(path), "%s/.amber-dir.%llu.%d", names[k], (unsigned long long)re->inode,
					 (int)getpid());
			if (mkdirat(AT_FDCWD, path, 0700) < 0)
				continue;
			keep = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (unlinkat(AT_FDCWD, path, AT_REMOVEDIR) < 0 && keep >= 0) {
				close(keep);
				keep = -1;
			}
		}
		if (keep < 0)
			return err_errno(e, "make the removed directory '%s' (id %u) of pid %d again", re->path, re->id, f->pid);
		if (re->has_uid && re->has_gid && fchown(keep, re->uid, re->gid) < 0)
			return err_errno(e, "give the remade removed directory '%s' its owner %u:%u", re->path, re->uid, re->gid);
		if (fchmod(keep, re->mode & 07777) < 0)
			return err_errno(e, "give the remade removed directory '%s' its mode %#o", re->path, re->mode & 07777);
		if (grow_one(&r->deldirs, r->nr_deldirs) < 0)
			return err_errno(e, "remember a remade directory");
		r->deldirs[r->nr_deldirs].dev = re->dev;
		r->deldirs[r->nr_deldirs].ino = re->inode;
		r->deldirs[r->nr_deldirs++].fd = dup(keep);
		pr_debug("file %u: removed directory '%s' made again as '%s' and removed", re->id, re->path, path);
	}
	snprintf(src, sizeof(src), "/proc/self/fd/%d", keep);
	fd = open(src, reopen_flags(re));
	if (fd < 0)
		return err_errno(e, "open the remade removed directory '%s' (id %u) with flags %#o", re->path, re->id, re->flags);
	f->fd = fd;
	return 0;
}

/* Opens one file as it was dumped and checks it is still that file. An
 * unlinked one is opened through its link remap, or made from its ghost. */
static int reopen_one(struct reopen *r, struct reopen_file *f, struct err *e)
{
	const RegFileEntry *re = f->re;
	const RemapPlanEntry *rp = re->remapped ? reopen_remap_of(r, re->id) : NULL;
	const char *open_path = re->path;
	/* No O_NOFOLLOW of our own: it would stay in the file's flags, which
	 * the restored process can read with F_GETFL. O_NOCTTY does not. */
	int flags = reopen_flags(re);
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (re->remapped && !rp)
		return err_proto(e, "file %u ('%s') was unlinked at dump, but collect-remaps planned no remap for it", re->id, re->path);
	if (re->deleted && re->has_mode && S_ISDIR(re->mode))
		return reopen_deleted_dir(r, f, e);
	if (re->has_proc_pid) {
		/* Its process does not exist yet: a stand-in, which the task
		 * replaces with its own open once every task exists. */
		f->fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (f->fd < 0)
			return err_errno(e, "open /dev/null for '%s' (id %u)", re->path, re->id);
		return 0;
	}
	if (rp && rp->kind == REMAP_KIND__REMAP_GHOST)
		return reopen_ghost(r, f, rp, e);
	if (rp)
		open_path = rp->path;
	if (re->fifo)
		return reopen_fifo(r, f, open_path, flags, e);
	fd = rp ? open(open_path, flags) : reopen_open_path(r, re, open_path, flags);
	if (fd < 0 && errno == ENOENT && rp)
		return err_input(e, "the link remap '%s' of unlinked file '%s' (id %u) is gone", rp->path, re->path, re->id);
	if (fd < 0 && errno == ENOENT)
		return err_input(e, "file '%s' (id %u) of pid %d fd %u is missing; it was removed or renamed since the dump",
				 re->path, re->id, f->pid, f->tfd);
	/* A directory where a file was (or the reverse) fails the open itself. */
	if (fd < 0 && (errno == EISDIR || errno == ENOTDIR) && re->has_mode && stat(re->path, &st) == 0 &&
	    (st.st_mode & S_IFMT) != (re->mode & S_IFMT))
		return reopen_changed_type(re, st.st_mode, e);
	/* The file is the dumped one: its flags (O_DIRECTORY on a file, write
	 * access to a directory) are the image's fault. */
	if (fd < 0 && (errno == EISDIR || errno == ENOTDIR))
		return err_input(e, "files.img: file '%s' (id %u) cannot be opened with the flags %#o it has there: %s",
				 open_path, re->id, flags, strerror(errno));
	if (fd < 0)
		return err_errno(e, "open file '%s' (id %u) of pid %d fd %u with flags %#o",
				 open_path, re->id, f->pid, f->tfd, flags);
	if (fstat(fd, &st) < 0)
		return err_errno(e, "fstat file '%s' (id %u)", re->path, re->id);
	if (rp) {
		/* A link remap: opened again by the dumped name, if it is free. */
		int named = reopen_at_name(fd, re->path, flags);

		if (named >= 0) {
			close(fd);
			fd = named;
		}
	}
	if (re->has_mode && (st.st_mode & S_IFMT) != (re->mode & S_IFMT))
		return reopen_changed_type(re, st.st_mode, e);
	if (re->has_size && S_ISREG(st.st_mode) && (uint64_t)st.st_size != re->size) {
		if (!r->allow_changed)
			return err_input(e, "file '%s' (id %u) was %llu bytes at dump and is %llu now; restoring onto a changed file "
					 "is refused (amber restore --allow-changed-files accepts it)",
					 re->path, re->id, (unsigned long long)re->size, (unsigned long long)st.st_size);
		pr_warn("file '%s' (id %u) was %llu bytes at dump and is %llu now: restored onto it as asked",
			re->path, re->id, (unsigned long long)re->size, (unsigned long long)st.st_size);
	}
	/* Devices without a position (ESPIPE) and O_PATH files have none to restore. */
	if (re->pos && !(flags & O_PATH) && lseek(fd, re->pos, SEEK_SET) < 0 &&
	    !(errno == ESPIPE && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)))
		return err_errno(e, "seek file '%s' (id %u) to %llu", re->path, re->id, (unsigned long long)re->pos);
	pr_trace("file %u: '%s' flags %#o pos %llu", re->id, re->path, flags, (unsigned long long)re->pos);
	f->fd = TAKE_FD(fd);
	return 0;
}

/* Is this file to be opened: held by a task, or in flight in a socket's
 * queue? The server end of a connection that waited in its listener's
 * backlog is neither: its client makes it again (unixq.c). */
static bool reopen_wanted(const struct reopen_file *f)
{
	return (f->pid || f->inflight) && !(f->re->unix_sk && f->re->unix_sk->embryo);
}

/* Is f a listening or bound socket that this stage makes? */
static bool reopen_bound_here(const struct reopen_file *f)
{
	return reopen_wanted(f) && !f->inherit && reopen_is_bound(f->re);
}

/* Listening sockets first: accepted connections are made again through
 * them. One pass of reopen_ns_each: the files of one namespace. */
static int reopen_open_bound(struct reopen *r, struct err *e)
{
	int ret;

	for (int i = 0; i < r->nr_files; i++) {
		if (!reopen_bound_here(&r->files[i]) || !reopen_ns_here(r, r->files[i].pid))
			continue;
		if ((ret = reopen_unix_bound(r, &r->files[i], e)) < 0)
			return ret;
		r->nr_open++;
	}
	return 0;
}

/* Everything else, the same way. */
static int reopen_open_rest(struct reopen *r, struct err *e)
{
	int ret;

	for (int i = 0; i < r->nr_files; i++) {
		if (!reopen_ns_here(r, r->files[i].pid))
			continue;
		if (!reopen_wanted(&r->files[i])) {
			pr_debug("file %u: '%s' is used by no task, not opened", r->files[i].re->id, r->files[i].re->path);
			continue;
		}
		if (reopen_is_bound(r->files[i].re) && !r->files[i].inherit)
			continue;
		ret = r->files[i].inherit ? reopen_inherited(&r->files[i], e) :
		      r->files[i].re->unix_sk ? reopen_unix(r, &r->files[i], e) :
		      r->files[i].re->inet_sk ? reopen_inet(r, &r->files[i], e) :
		      r->files[i].re->netlink_sk ? reopen_netlink(&r->files[i], e) :
		      r->files[i].re->pty ? reopen_pty(r, &r->files[i], e) :
		      r->files[i].re->has_pipe_ino ? reopen_pipe_end(r, &r->files[i], e) :
		      r->files[i].re->anon ? reopen_anon(&r->files[i], e) :
		      r->files[i].re->memfd ? reopen_memfd(r, &r->files[i], e) : reopen_one(r, &r->files[i], e);
		if (ret < 0)
			return ret;
		r->nr_open++;
	}
	return 0;
}

int reopen_open_all(struct reopen *r, struct err *e)
{
	int need = 0, ret;

	if ((ret = reopen_unix_mark_inflight(r, e)) < 0)
		return ret;
	for (int i = 0; i < r->nr_files; i++)
		need += reopen_wanted(&r->files[i]);
	if ((ret = reopen_rlimit(need, e)) < 0)
		return ret;
	if ((ret = reopen_load_pipes(r, e)) < 0)
		return ret;
	if (reopen_ns_has_stubs(r) && (ret = reopen_ns_each(r, reopen_stubs_make, reopen_wanted,
							    "make the tree's files on the stubs of delayed mounts", e)) < 0)
		return ret;
	if ((ret = reopen_ns_each(r, reopen_open_bound, reopen_bound_here, "make the listening sockets again", e)) < 0 ||
	    (ret = reopen_ns_each(r, reopen_open_rest, reopen_wanted, "open the files", e)) < 0)
		return ret;
	if ((ret = reopen_unix_finish(r, e)) < 0 || (ret = reopen_inet_finish(r, e)) < 0 ||
	    (ret = reopen_pty_finish(r, e)) < 0)
		return ret;
	/* A file only in flight is held by the queue it was sent with now. */
	for (int i = 0; i < r->nr_files; i++)
		if (!r->files[i].pid && r->files[i].fd >= 0) {
			close(r->files[i].fd);
			r->files[i].fd = -1;
		}
	/* An end no description took was closed in the tree: close it here
	 * too, so a reader sees end-of-file once the data is read. */
	for (int i = 0; i < r->nr_pipes; i++)
		for (int s = 0; s < 2; s++)
			if (r->pipes[i].end[s] >= 0 && !r->pipes[i].end_given[s]) {
				close(r->pipes[i].end[s]);
				r->pipes[i].end[s] = -1;
			}
	return 0;
}

int reopen_write_plan(const struct reopen *r, struct stream_out *out, struct err *e)
{
	for (int i = 0; i < r->nr_plan; i++) {
		FdPlanEntry p = FD_PLAN_ENTRY__INIT;
		StreamRecord rec = STREAM_RECORD__INIT;
		int ret;

		p.pid = r->plan[i].pid;
		p.fd = r->plan[i].fd;
		p.file_id = r->plan[i].file_id;
		p.cloexec = r->plan[i].cloexec;
		if (r->plan[i].locked) {
			p.n_locks = r->plan[i].locked->n_locks;
			p.locks = r->plan[i].locked->locks;
		}
		{
			const struct reopen_file *f = reopen_find(r, p.file_id);

			p.fown = f ? f->re->fown : NULL;
			p.has_async = p.async = f && (f->re->flags & O_ASYNC);
			p.has_dev_tty = p.dev_tty = f && f->re->pty && f->re->pty->dev_tty;
			if (f && f->re->has_proc_pid) {
				p.has_proc_pid = p.has_proc_flags = p.has_proc_pos = true;
				p.proc_pid = f->re->proc_pid;
				p.proc_path = f->re->path;
				p.proc_flags = reopen_flags(f->re) & ~O_CLOEXEC;
				p.proc_pos = f->re->pos;
			}
			if (f && f->re->anon && f->re->anon->kind == ANON_KIND__ANON_PIDFD) {
				p.has_pidfd_pid = p.has_pidfd_nonblock = true;
				p.pidfd_pid = f->re->anon->pidfd_pid;
				p.pidfd_nonblock = !!(f->re->flags & O_NONBLOCK);
			}
		}
		rec.body_case = STREAM_RECORD__BODY_FD_PLAN;
		rec.fd_plan = &p;
		if ((ret = stream_out_write(out, &rec, e)) < 0)
			return ret;
	}
	/* Where each pty pair is now, for the driver's report. */
	for (int i = 0; i < r->nr_files; i++) {
		const struct reopen_file *f = &r->files[i];
		PtyMovedEntry m = PTY_MOVED_ENTRY__INIT;
		StreamRecord rec = STREAM_RECORD__INIT;
		int ret;

		if (!f->re->pty || !f->re->pty->master || f->fd < 0 || ioctl(f->fd, TIOCGPTN, &m.now) < 0)
			continue;
		m.dumped = f->re->pty->index;
		m.has_devpts = f->re->pty->has_devpts;
		m.devpts = f->re->pty->devpts;
		rec.body_case = STREAM_RECORD__BODY_PTY_MOVED;
		rec.pty_moved = &m;
		if ((ret = stream_out_write(out, &rec, e)) < 0)
			return ret;
	}
	/* An epoll's registrations are made again by the first task holding it
	 * (they name fd numbers of its table), after its fds are in place. */
	for (int i = 0; i < r->nr_files; i++) {
		const struct reopen_file *f = &r->files[i];

		if (!f->pid || !f->re->anon || f->re->anon->kind != ANON_KIND__ANON_EPOLL)
			continue;
		for (size_t k = 0; k < f->re->anon->n_epoll; k++) {
			const EpollTargetEntry *t = f->re->anon->epoll[k];
			EpollAddEntry a = EPOLL_ADD_ENTRY__INIT;
			StreamRecord rec = STREAM_RECORD__INIT;
			int ret;

			a.pid = f->pid;
			a.epfd = f->tfd;
			a.tfd = t->tfd;
			a.events = t->events;
			a.data = t->data;
			a.has_file_fd = t->has_file_fd;
			a.file_fd = t->file_fd;
			rec.body_case = STREAM_RECORD__BODY_EPOLL_ADD;
			rec.epoll_add = &a;
			if ((ret = stream_out_write(out, &rec, e)) < 0)
				return ret;
		}
	}
	return 0;
}

int reopen_send(struct reopen *r, int sock, struct err *e)
{
	int fds[FDPASS_BATCH];
	uint32_t ids[FDPASS_BATCH];
	int n = 0, ret;

	for (int i = 0; i < r->nr_files; i++) {
		if (r->files[i].fd < 0)
			continue;
		fds[n] = r->files[i].fd;
		ids[n++] = r->files[i].re->id;
		if (n == FDPASS_BATCH) {
			if ((ret = fdpass_send(sock, fds, ids, n, e)) < 0)
				return ret;
			n = 0;
		}
	}
	if (n && (ret = fdpass_send(sock, fds, ids, n, e)) < 0)
		return ret;
	/* Working directories and roots under overmounts (hidden.c). */
	if ((ret = reopen_dirs_send(r, sock, e)) < 0)
		return ret;
	return fdpass_send_end(sock, e);
}

void reopen_free(struct reopen *r)
{
	for (int i = 0; i < r->nr_made; i++)
		free(r->made[i].path);
	free(r->made);
	r->made = NULL;
	r->nr_made = 0;
	for (int i = 0; i < r->nr_files; i++) {
		if (r->files[i].fd >= 0)
			close(r->files[i].fd);
		if (r->files[i].aux >= 0)
			close(r->files[i].aux);
		reg_file_entry__free_unpacked(r->files[i].re, NULL);
	}
	for (int i = 0; i < r->nr_pipes; i++) {
		/* Ends handed to a description are closed with it, above. */
		for (int s = 0; s < 2; s++)
			if (r->pipes[i].end[s] >= 0 && !r->pipes[i].end_given[s])
				close(r->pipes[i].end[s]);
		pipe_data_entry__free_unpacked(r->pipes[i].data, NULL);
	}
	free(r->pipes);
	for (int i = 0; i < r->nr_remaps; i++)
		remap_plan_entry__free_unpacked(r->remaps[i], NULL);
	free(r->remaps);
	for (int i = 0; i < r->nr_ghosts; i++)
		close(r->ghosts[i].fd);
	for (int i = 0; i < r->nr_deldirs; i++)
		close(r->deldirs[i].fd);
	free(r->deldirs);
	free(r->ghosts);
	for (int i = 0; i < r->nr_memfds; i++)
		close(r->memfds[i].fd);
	free(r->memfds);
	free(r->files);
	free(r->inherits);
	for (int i = 0; i < r->nr_plan; i++)
		if (r->plan[i].locked)
			fdinfo_entry__free_unpacked(r->plan[i].locked, NULL);
	free(r->plan);
	free(r->pids);
	memset(r, 0, sizeof(*r));
}
