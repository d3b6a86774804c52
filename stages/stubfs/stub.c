/* stub: the FUSE file system that stands in for a delayed mount.
 *
 * It keeps only what restore-files makes on it (names, modes, sizes):
 * metadata it has is answered, data it does not have never is. While the
 * tree is restored (STUB_BUILD) a read or write is refused with EIO (only
 * a restore step could ask, and it fails naming the file rather than
 * hanging); once the tree runs (STUB_RUN) every request that is not a
 * lookup or stat of what the stub holds waits unanswered, the task blocked
 * in it. When the real mount is there (STUB_REAL) the held requests are
 * answered from it, by the same path, and so is everything after, until
 * the manager has moved the tree onto the real mount and the stub goes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/exitcodes.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "stages/stubfs/stubfs.h"

enum { OP_LOOKUP = 1, OP_GETATTR, OP_SETATTR, OP_MKDIR, OP_MKNOD, OP_CREATE, OP_OPEN, OP_OPENDIR, OP_READ,
       OP_WRITE, OP_READDIR, OP_UNLINK, OP_RMDIR, OP_RENAME };

/* The node of inode ino, or NULL. */
static struct stub_node *stub_node(struct stub *s, fuse_ino_t ino)
{
	return ino >= 1 && ino <= (fuse_ino_t)s->nr && s->n[ino - 1].name ? &s->n[ino - 1] : NULL;
}

/* The child 'name' of parent, its inode or 0. */
static fuse_ino_t stub_child(struct stub *s, fuse_ino_t parent, const char *name)
{
	for (int i = 1; i < s->nr; i++)
		if (s->n[i].name && s->n[i].parent == parent && !strcmp(s->n[i].name, name))
			return i + 1;
	return 0;
}

/* The path of ino (and name under it, if given) from the stub's root:
 * "." for the root itself. */
static void stub_path(struct stub *s, fuse_ino_t ino, const char *name, char *buf, size_t size)
{
	char tmp[4096];

	buf[0] = 0;
	if (name)
		snprintf(buf, size, "%s", name);
	for (struct stub_node *n = stub_node(s, ino); n && ino != FUSE_ROOT_ID; ino = n->parent, n = stub_node(s, ino)) {
		snprintf(tmp, sizeof(tmp), "%s%s%s", n->name, buf[0] ? "/" : "", buf);
		snprintf(buf, size, "%s", tmp);
	}
	if (!buf[0])
		snprintf(buf, size, ".");
}

/* Adds (or updates) child name of parent with st; its inode, 0 on ENOMEM. */
static fuse_ino_t stub_add(struct stub *s, fuse_ino_t parent, const char *name, const struct stat *st)
{
	fuse_ino_t ino = stub_child(s, parent, name);

	if (!ino) {
		if (grow_one(&s->n, s->nr) < 0 || !(s->n[s->nr].name = strdup(name)))
			return 0;
		s->n[s->nr].parent = parent;
		ino = ++s->nr;
	}
	s->n[ino - 1].st = *st;
	s->n[ino - 1].st.st_ino = ino;
	return ino;
}

static void stub_reply_entry(fuse_req_t req, struct stub *s, fuse_ino_t ino)
{
	struct fuse_entry_param ep = { .ino = ino, .attr = s->n[ino - 1].st, .attr_timeout = 0, .entry_timeout = 0 };

	fuse_reply_entry(req, &ep);
}

/* Holds a request for later (STUB_RUN); the caller filled p. */
static void stub_hold(struct stub *s, struct stub_pend *p)
{
	char path[4096];

	if (grow_one(&s->p, s->nr_p) < 0) {
		fuse_reply_err(p->req, ENOMEM);
		return;
	}
	s->p[s->nr_p++] = *p;
	stub_path(s, p->ino, p->name, path, sizeof(path));
	pr_info("stub of mount %u: request %d on '%s' waits for the real mount", s->mnt_id, p->op, path);
}

/* Whether the request is held (STUB_RUN) or refused (STUB_BUILD, data). */
static bool stub_held(struct stub *s, struct stub_pend *p, bool data)
{
	if (s->mode == STUB_RUN) {
		p->name = p->name ? strdup(p->name) : NULL;
		p->name2 = p->name2 ? strdup(p->name2) : NULL;
		stub_hold(s, p);
		return true;
	}
	if (s->mode == STUB_BUILD && data) {
		char path[4096];

		stub_path(s, p->ino, p->name, path, sizeof(path));
		pr_err("stub of mount %u: '%s' was read or written while the tree was being restored: the stub "
			 "has no data; a private mapping with pages of its own of a file on a delayed mount is not "
			 "supported yet", s->mnt_id, path);
		fuse_reply_err(p->req, EIO);
		return true;
	}
	return false;
}

/* STUB_REAL: stat of path on the real mount into ino's node (added under
 * parent/name if new); the inode or 0 with errno. */
static fuse_ino_t stub_real_stat(struct stub *s, fuse_ino_t parent, const char *name, fuse_ino_t ino)
{
	char path[4096];
	struct stat st;

	stub_path(s, name ? parent : ino, name, path, sizeof(path));
	if (fstatat(s->real, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (!name) {
		s->n[ino - 1].st = st;
		s->n[ino - 1].st.st_ino = ino;
		return ino;
	}
	if (!(ino = stub_add(s, parent, name, &st)))
		errno = ENOMEM;
	return ino;
}

/* Opens path of ino on the real mount with flags. */
static int stub_real_open(struct stub *s, fuse_ino_t ino, int flags)
{
	char path[4096];

	stub_path(s, ino, NULL, path, sizeof(path));
	return openat(s->real, path, flags | O_CLOEXEC | O_NOFOLLOW);
}

static void stub_do(struct stub *s, struct stub_pend *p);

/* STUB_REAL: truncates path on the real mount to the asked size. */
static int truncate_at(struct stub *s, const struct stub_pend *p, const char *path)
{
	int fd = openat(s->real, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW), r;

	if (fd < 0)
		return -1;
	r = ftruncate(fd, p->attr.st_size);
	close(fd);
	return r;
}

#define STUB_OF(req) ((struct stub *)fuse_req_userdata(req))

static void stub_init(void *data, struct fuse_conn_info *conn)
{
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
}

static void stub_ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	stub_do(STUB_OF(req), &(struct stub_pend){ .op = OP_LOOKUP, .req = req, .ino = parent, .name = (char *)name });
}

static void stub_ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	stub_do(STUB_OF(req), &(struct stub_pend){ .op = OP_GETATTR, .req = req, .ino = ino });
}

static void stub_ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
	stub_do(STUB_OF(req), &(struct stub_pend){ .op = OP_SETATTR, .req = req, .ino = ino, .attr = *attr, .to_set = to_set });
}

static void stub_ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	stub_do(STUB_OF(req), &(struct stub_pend){ .op = OP_MKDIR, .req = req, .ino = parent, .name = (char *)name, .mode = mode });
}

static void stub_ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	stub_do(STUB_OF(req), &(struct stub_pend){ .op = OP_MKNOD, .req = req, .ino = parent, .name = (char *)name,
						    .mode = mode, .rdev = rdev });
}

static void stub_ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
	stub_do(STUB_OF(req), &(struct stub_pend){ .op = OP_CREATE, .req = req, .ino = parent, .name = (char *)name,
						    .mode = mode, .fi = *fi, .has_fi = true });
}

static void stub_ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	stub_do(STUB_OF(req), &(struct stub_pend){ .op = OP_OPEN, .req = req, .ino = ino, .fi = *fi, .has_fi = true });
}

static void stub_ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	stub_do(STUB_OF(req), &(struct stub_pend){ .op = OP_OPENDIR, .req = req, .ino = ino, .fi = *fi, .has_fi = true });
}

static void stub_ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	stub_do(STUB_OF(req), &(struct stub_pend){ .op = OP_READ, .req = req, .ino = ino, .size = size, .off = off,
						    .fi = *fi, .has_fi = true });
}

static void stub_ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	char *copy = malloc(size ? size : 1);

	if (!copy) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	memcpy(copy, buf, size);
	stub_do(STUB_OF(req), &(struct stub_pend){ .op = OP_WRITE, .req = req, .ino = ino, .buf = copy, .size = size,
						    .off = off, .fi = *fi, .has_fi = true });
}

static void stub_ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	stub_do(STUB_OF(req), &(struct stub_pend){ .op = OP_READDIR, .req = req, .ino = ino, .size = size, .off = off });
}

static void stub_ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	stub_do(STUB_OF(req), &(struct stub_pend){ .op = OP_UNLINK, .req = req, .ino = parent, .name = (char *)name });
}

static void stub_ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	stub_do(STUB_OF(req), &(struct stub_pend){ .op = OP_RMDIR, .req = req, .ino = parent, .name = (char *)name });
}

static void stub_ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
			   unsigned int flags)
{
	if (flags) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	stub_do(STUB_OF(req), &(struct stub_pend){ .op = OP_RENAME, .req = req, .ino = parent, .name = (char *)name,
						    .ino2 = newparent, .name2 = (char *)newname });
}

static void stub_ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

/* BUILD: a new node under p->ino. */
static void stub_make(struct stub *s, struct stub_pend *p, mode_t mode)
{
	const struct fuse_ctx *c = fuse_req_ctx(p->req);
	struct stat st = { .st_mode = mode, .st_nlink = S_ISDIR(mode) ? 2 : 1, .st_uid = c->uid, .st_gid = c->gid,
			   .st_rdev = p->rdev, .st_blksize = 4096 };
	fuse_ino_t ino;

	clock_gettime(CLOCK_REALTIME, &st.st_mtim);
	st.st_atim = st.st_ctim = st.st_mtim;
	if (!stub_node(s, p->ino)) {
		fuse_reply_err(p->req, ENOENT);
		return;
	}
	if (stub_child(s, p->ino, p->name)) {
		fuse_reply_err(p->req, EEXIST);
		return;
	}
	if (!(ino = stub_add(s, p->ino, p->name, &st))) {
		fuse_reply_err(p->req, ENOMEM);
		return;
	}
	if (p->op == OP_CREATE) {
		struct fuse_entry_param ep = { .ino = ino, .attr = s->n[ino - 1].st };

		p->fi.fh = 0;
		fuse_reply_create(p->req, &ep, &p->fi);
	} else {
		stub_reply_entry(p->req, s, ino);
	}
}

/* BUILD: setattr on the node itself (sizes, modes, owners, times). */
static void stub_set(struct stub *s, struct stub_pend *p, struct stub_node *n)
{
	if (p->to_set & FUSE_SET_ATTR_SIZE)
		n->st.st_size = p->attr.st_size;
	if (p->to_set & FUSE_SET_ATTR_MODE)
		n->st.st_mode = (n->st.st_mode & S_IFMT) | (p->attr.st_mode & 07777);
	if (p->to_set & FUSE_SET_ATTR_UID)
		n->st.st_uid = p->attr.st_uid;
	if (p->to_set & FUSE_SET_ATTR_GID)
		n->st.st_gid = p->attr.st_gid;
	if (p->to_set & FUSE_SET_ATTR_MTIME)
		n->st.st_mtim = p->attr.st_mtim;
	fuse_reply_attr(p->req, &n->st, 0);
}

/* BUILD: the names under a directory of the stub. */
static void stub_list(struct stub *s, struct stub_pend *p, int dirfd)
{
	_cleanup_free_ char *buf = calloc(1, p->size);
	size_t used = 0;
	off_t i = 0;
	DIR *d = dirfd >= 0 ? fdopendir(dirfd) : NULL;
	struct dirent *de;

	if (!buf || (dirfd >= 0 && !d)) {
		fuse_reply_err(p->req, buf ? errno : ENOMEM);
		if (dirfd >= 0 && !d)
			close(dirfd);
		return;
	}
	if (d) {
		while ((de = readdir(d))) {
			struct stat st = { .st_ino = de->d_ino, .st_mode = (mode_t)de->d_type << 12 };
			size_t len;

			if (i++ < p->off)
				continue;
			len = fuse_add_direntry(p->req, buf + used, p->size - used, de->d_name, &st, i);
			if (len > p->size - used)
				break;
			used += len;
		}
		closedir(d);
	} else {
		for (int k = 0; k < s->nr; k++) {
			size_t len;

			if (!s->n[k].name || (k && s->n[k].parent != p->ino) || (!k && p->ino != FUSE_ROOT_ID))
				continue;
			if (i++ < p->off)
				continue;
			len = fuse_add_direntry(p->req, buf + used, p->size - used, k ? s->n[k].name : ".", &s->n[k].st, i);
			if (len > p->size - used)
				break;
			used += len;
		}
	}
	fuse_reply_buf(p->req, buf, used);
}

/* STUB_REAL: the request done on the real mount, by path. */
static void stub_real(struct stub *s, struct stub_pend *p)
{
	char path[4096], path2[4096];
	fuse_ino_t ino;
	int fd, r = 0;
	ssize_t n;

	stub_path(s, p->ino, p->name, path, sizeof(path));
	switch (p->op) {
	case OP_LOOKUP:
		if (!(ino = stub_real_stat(s, p->ino, p->name, 0)))
			break;
		stub_reply_entry(p->req, s, ino);
		return;
	case OP_GETATTR:
	case OP_SETATTR:
		if (p->op == OP_SETATTR && (p->to_set & FUSE_SET_ATTR_SIZE) && truncate_at(s, p, path) < 0)
			break;
		if (p->op == OP_SETATTR && (p->to_set & FUSE_SET_ATTR_MODE) &&
		    fchmodat(s->real, path, p->attr.st_mode & 07777, 0) < 0)
			break;
		if (!stub_real_stat(s, 0, NULL, p->ino))
			break;
		fuse_reply_attr(p->req, &s->n[p->ino - 1].st, 0);
		return;
	case OP_MKDIR:
		r = mkdirat(s->real, path, p->mode);
		goto made;
	case OP_MKNOD:
		r = mknodat(s->real, path, p->mode, p->rdev);
		goto made;
	case OP_CREATE:
		if ((fd = openat(s->real, path, (p->fi.flags & ~O_TRUNC) | O_CREAT | O_CLOEXEC, p->mode)) < 0)
			break;
		close(fd);
		if (!(ino = stub_real_stat(s, p->ino, p->name, 0)))
			break;
		p->fi.fh = 0;
		fuse_reply_create(p->req, &(struct fuse_entry_param){ .ino = ino, .attr = s->n[ino - 1].st }, &p->fi);
		return;
	case OP_OPEN:
	case OP_OPENDIR:
		if (!stub_real_stat(s, 0, NULL, p->ino))
			break;
		p->fi.fh = 0;
		fuse_reply_open(p->req, &p->fi);
		return;
	case OP_READ: {
		_cleanup_free_ char *buf = malloc(p->size ? p->size : 1);

		if (!buf) {
			errno = ENOMEM;
			break;
		}
		if ((fd = stub_real_open(s, p->ino, O_RDONLY)) < 0)
			break;
		n = pread(fd, buf, p->size, p->off);
		close(fd);
		if (n < 0)
			break;
		fuse_reply_buf(p->req, buf, n);
		return;
	}
	case OP_WRITE:
		if ((fd = stub_real_open(s, p->ino, O_WRONLY | (p->fi.flags & O_APPEND))) < 0)
			break;
		n = (p->fi.flags & O_APPEND) ? write(fd, p->buf, p->size) : pwrite(fd, p->buf, p->size, p->off);
		close(fd);
		if (n < 0)
			break;
		fuse_reply_write(p->req, n);
		return;
	case OP_READDIR:
		stub_list(s, p, stub_real_open(s, p->ino, O_RDONLY | O_DIRECTORY));
		return;
	case OP_UNLINK:
	case OP_RMDIR:
		if (unlinkat(s->real, path, p->op == OP_RMDIR ? AT_REMOVEDIR : 0) < 0)
			break;
		if ((ino = stub_child(s, p->ino, p->name)))
			free(s->n[ino - 1].name), s->n[ino - 1].name = NULL;
		fuse_reply_err(p->req, 0);
		return;
	case OP_RENAME:
		stub_path(s, p->ino2, p->name2, path2, sizeof(path2));
		if (renameat(s->real, path, s->real, path2) < 0)
			break;
		if ((ino = stub_child(s, p->ino, p->name))) {
			free(s->n[ino - 1].name);
			s->n[ino - 1].name = strdup(p->name2);
			s->n[ino - 1].parent = p->ino2;
		}
		fuse_reply_err(p->req, 0);
		return;
	}
	fuse_reply_err(p->req, errno ? errno : EIO);
	return;
made:
	if (r < 0 || !(ino = stub_real_stat(s, p->ino, p->name, 0)))
		fuse_reply_err(p->req, errno ? errno : EIO);
	else
		stub_reply_entry(p->req, s, ino);
}

/* One request, as the stub's mode says. */
static void stub_do(struct stub *s, struct stub_pend *p)
{
	struct stub_node *n = stub_node(s, p->ino);
	fuse_ino_t ino;

	errno = 0;
	if (s->mode == STUB_REAL) {
		if (!n)
			fuse_reply_err(p->req, ESTALE);
		else
			stub_real(s, p);
		free(p->buf);
		return;
	}
	if (!n) {
		fuse_reply_err(p->req, ENOENT);
		free(p->buf);
		return;
	}
	/* What the stub holds is answered in every mode: its names and
	 * attributes, and opening what it has (restore-tasks maps files
	 * after the stubs started holding; opening returns no data). */
	if (p->op == OP_OPEN || p->op == OP_OPENDIR) {
		p->fi.fh = 0;
		fuse_reply_open(p->req, &p->fi);
		return;
	}
	if (p->op == OP_GETATTR) {
		fuse_reply_attr(p->req, &n->st, 0);
		return;
	}
	if (p->op == OP_LOOKUP && (ino = stub_child(s, p->ino, p->name))) {
		stub_reply_entry(p->req, s, ino);
		return;
	}
	if (stub_held(s, p, p->op == OP_READ || p->op == OP_WRITE)) {
		if (s->mode != STUB_RUN)
			free(p->buf);
		return;
	}
	switch (p->op) {
	case OP_LOOKUP:
		fuse_reply_err(p->req, ENOENT);
		break;
	case OP_SETATTR:
		stub_set(s, p, n);
		break;
	case OP_MKDIR:
		stub_make(s, p, S_IFDIR | (p->mode & 07777));
		break;
	case OP_MKNOD:
		stub_make(s, p, p->mode);
		break;
	case OP_CREATE:
		stub_make(s, p, S_IFREG | (p->mode & 07777));
		break;
	case OP_READDIR:
		stub_list(s, p, -1);
		break;
	default:
		fuse_reply_err(p->req, EROFS);
	}
}

static const struct fuse_lowlevel_ops stub_ops = {
	.init = stub_init,
	.lookup = stub_ll_lookup,
	.getattr = stub_ll_getattr,
	.setattr = stub_ll_setattr,
	.mkdir = stub_ll_mkdir,
	.mknod = stub_ll_mknod,
	.create = stub_ll_create,
	.open = stub_ll_open,
	.opendir = stub_ll_opendir,
	.read = stub_ll_read,
	.write = stub_ll_write,
	.readdir = stub_ll_readdir,
	.unlink = stub_ll_unlink,
	.rmdir = stub_ll_rmdir,
	.rename = stub_ll_rename,
	.release = stub_ll_release,
	.releasedir = stub_ll_release,
};

int stub_start(struct stub *s, struct err *e)
{
	char *argv[] = { "amber-stubfs", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct stat root = { .st_mode = S_IFDIR | 0755, .st_nlink = 2, .st_blksize = 4096 };
	char dev[64];

	s->real = -1;
	if (!stub_add(s, 0, "/", &root))
		return err_errnum(e, ENOMEM, "stub of mount %u", s->mnt_id);
	if (!(s->se = fuse_session_new(&args, &stub_ops, sizeof(stub_ops), s)))
		return err_set(e, EXIT_SYSTEM, "stub of mount %u: fuse_session_new failed", s->mnt_id);
	/* libfuse takes a /dev/fd/N "mountpoint" as the connection itself. */
	snprintf(dev, sizeof(dev), "/dev/fd/%d", s->fuse_fd);
	if (fuse_session_mount(s->se, dev) != 0)
		return err_set(e, EXIT_SYSTEM, "stub of mount %u: serve /dev/fuse fd %d", s->mnt_id, s->fuse_fd);
	return 0;
}

int stub_serve(struct stub *s)
{
	int n = fuse_session_receive_buf(s->se, &s->fbuf);

	if (n == -EINTR || n == -EAGAIN)
		return 0;
	if (n <= 0) {
		s->gone = true;
		return -1;
	}
	fuse_session_process_buf(s->se, &s->fbuf);
	return 0;
}

int stub_go_real(struct stub *s, int real)
{
	int n = s->nr_p;

	s->mode = STUB_REAL;
	s->real = real;
	for (int i = 0; i < s->nr_p; i++) {
		stub_do(s, &s->p[i]);
		free(s->p[i].name);
		free(s->p[i].name2);
	}
	free(s->p);
	s->p = NULL;
	s->nr_p = 0;
	return n;
}

void stub_free(struct stub *s)
{
	/* Held requests die with the connection (ECONNABORTED for the task). */
	if (s->se)
		fuse_session_destroy(s->se);	/* closes the /dev/fuse fd */
	for (int i = 0; i < s->nr; i++)
		free(s->n[i].name);
	free(s->n);
	free(s->fbuf.mem);
	if (s->real >= 0)
		close(s->real);
}
