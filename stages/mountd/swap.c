/* swap: the real mount in the place of a stub, and the tree moved onto it.
 *
 * 1. A child in the tree's mount namespace makes the real mount, detached
 *    (fsopen/fsmount), and finds the stub's mount ids and device.
 * 2. Every reference of the tree into the stub is listed from /proc: the
 *    descriptors (fdinfo mnt_id), working directories and roots (device),
 *    and file mappings (device in maps). Each must be on the real mount, of
 *    the same type (and a regular file of the same size): else the swap is
 *    refused naming pid, fd and path, and nothing has changed.
 * 3. amber-stubfs serves the stub from the real mount from now on, first
 *    the requests it held: a task blocked in one goes on with real data.
 * 4. The tree is frozen (PTRACE_SEIZE and an interrupt, every thread).
 * 5. A child in the namespace detaches the stub and its binds and attaches
 *    the real mount (and a bind of it for each) at their mountpoints.
 * 6. In each task, remote system calls open each path again (now on the
 *    real mount) with the same flags and put it on the same descriptor at
 *    the same position, chdir to the same directory, and map each file
 *    mapping again at the same address with the same protection.
 * 7. The tree is let go; the stub, referenced by nothing, ends.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/delayproto.h"
#include "lib/exitcodes.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/mountinfo.h"
#include "lib/nschild.h"
#include "lib/proc.h"
#include "lib/rsys.h"
#include "lib/tracee.h"
#include "stages/mountd/mountd.h"

#define MD_FUSE_MAGIC 0x65735546

enum { MD_REF_FD, MD_REF_CWD, MD_REF_MAP };

/* One reference of the tree into the stub. */
struct md_ref {
	pid_t pid;
	int kind;
	int fd, flags;
	uint64_t pos;
	struct proc_vma v;	/* MD_REF_MAP */
	char path[PATH_MAX];
};

/* What the first child finds: the stub's mounts (mountpoint, binds) and
 * device. */
struct md_found {
	uint64_t dev;
	uint64_t mnt_id[MD_MAX_BINDS + 1];
};

struct md_child_arg {
	const struct md_stub *st;
	const struct md_request *rq;
	int mfd;
};

/* The mountpoints of st: its own, then its binds'. */
static const char *md_mp(const struct md_stub *st, int i)
{
	return i == 0 ? st->mountpoint : st->binds[i - 1];
}

/* In the namespace: the super block options, one fsconfig each (rw/ro are the mount's). */
static int md_fsconfig(int fs, const char *src, const char *opts, struct err *e)
{
	_cleanup_free_ char *o = strdup(opts ? opts : "");
	char *save = NULL;

	if (src && *src && syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", src, 0) < 0)
		return err_errno(e, "source '%s'", src);
	for (char *t = strtok_r(o, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		int r;

		if (!strcmp(t, "rw") || !strcmp(t, "ro"))
			continue;
		if (eq)
			*eq = 0;
		r = eq ? syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, t, eq + 1, 0) :
			 syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, t, NULL, 0);
		if (r < 0)
			return err_errno(e, "option '%s%s%s'", t, eq ? "=" : "", eq ? eq + 1 : "");
	}
	return 0;
}

/* Child 1, in the tree's mount namespace: the stub's mounts, and the real
 * mount made detached (sent back as an fd). */
static int md_child_make(void *arg, struct nschild_reply *reply, struct err *e)
{
	const struct md_child_arg *a = arg;
	const struct md_stub *st = a->st;
	const char *type = a->rq->fstype && *a->rq->fstype ? a->rq->fstype : st->fstype;
	const char *src = a->rq->source && *a->rq->source ? a->rq->source : st->source;
	const char *opts = a->rq->options && *a->rq->options ? a->rq->options : st->options;
	struct md_found f = { 0 };
	_cleanup_close_ int fs = -1, mfd = -1;
	int ret;

	for (int i = 0; i <= st->nr_binds; i++) {
		struct statx sx;
		struct statfs sf;

		if (statfs(md_mp(st, i), &sf) < 0 || statx(AT_FDCWD, md_mp(st, i), 0, STATX_MNT_ID | STATX_INO, &sx) < 0)
			return err_errno(e, "'%s' in the tree's mount namespace", md_mp(st, i));
		if (sf.f_type != MD_FUSE_MAGIC)
			return err_input(e, "'%s' is not the stub any more (file system type %#lx): was it mounted by "
					 "hand?", md_mp(st, i), (unsigned long)sf.f_type);
		f.mnt_id[i] = sx.stx_mnt_id;
		f.dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	}
	if (!type || !*type)
		return err_input(e, "the images say no file system type for '%s': give --type", st->mountpoint);
	if ((fs = syscall(SYS_fsopen, type, FSOPEN_CLOEXEC)) < 0)
		return err_errno(e, "make the real mount of '%s': file system type '%s' (fsopen)", st->mountpoint, type);
	if ((ret = md_fsconfig(fs, src, opts, e)) < 0) {
		char m[sizeof(e->msg)];

		snprintf(m, sizeof(m), "%s", e->msg);
		return err_set(e, e->exit_code, "make the real mount of '%s' (%s from '%s'): %s; give --source, --type or "
			       "--options", st->mountpoint, type, src ? src : "", m);
	}
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return err_errno(e, "make the real mount of '%s' (%s from '%s'); the tree stays on the stub",
				 st->mountpoint, type, src ? src : "");
	if ((mfd = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0)) < 0)
		return err_errno(e, "mount the real '%s' (fsmount)", st->mountpoint);
	if ((ret = nschild_send(reply, &f, sizeof(f), e)) < 0)
		return ret;
	return nschild_send_fds(reply, &mfd, 1, e);
}

/* Child 2, in the namespace, the tree frozen: the stub and its binds go,
 * the real mount (a bind of it for each bind) takes their places. */
static int md_child_attach(void *arg, struct nschild_reply *reply, struct err *e)
{
	const struct md_child_arg *a = arg;
	const struct md_stub *st = a->st;

	for (int i = 0; i <= st->nr_binds; i++) {
		_cleanup_close_ int m = i ? syscall(SYS_open_tree, a->mfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH)
					  : dup(a->mfd);

		if (m < 0)
			return err_errno(e, "bind the real mount for '%s'", md_mp(st, i));
		if (umount2(md_mp(st, i), MNT_DETACH) < 0)
			return err_errno(e, "unmount the stub at '%s'", md_mp(st, i));
		if (syscall(SYS_move_mount, m, "", AT_FDCWD, md_mp(st, i), MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return err_errno(e, "put the real mount at '%s'", md_mp(st, i));
	}
	return 0;
}

/* Every process of the tree of root (itself and its descendants, through
 * each thread's children). */
static int md_tree(pid_t root, pid_t **pids, int *nr, struct err *e)
{
	int ret;

	*pids = NULL;
	*nr = 0;
	if (grow_one(pids, *nr) < 0)
		return err_errno(e, "list the tree");
	(*pids)[(*nr)++] = root;
	for (int i = 0; i < *nr; i++) {
		_cleanup_free_ pid_t *tids = NULL;
		int nt = 0;

		if (proc_list_threads((*pids)[i], &tids, &nt, e) < 0)
			continue;	/* gone meanwhile */
		for (int t = 0; t < nt; t++) {
			_cleanup_free_ pid_t *kids = NULL;
			int nk = 0;

			if (proc_read_children((*pids)[i], tids[t], &kids, &nk, e) < 0)
				continue;
			for (int k = 0; k < nk; k++) {
				if ((ret = grow_one(pids, *nr)) < 0)
					return err_errno(e, "list the tree");
				(*pids)[(*nr)++] = kids[k];
			}
		}
	}
	return 0;
}

static int md_add_ref(struct md_ref **refs, int *nr, const struct md_ref *r, struct err *e)
{
	if (grow_one(refs, *nr) < 0)
		return err_errno(e, "list the references into the stub");
	(*refs)[(*nr)++] = *r;
	return 0;
}

/* The references of pid into the stub (mount ids f->mnt_id, device f->dev). */
static int md_refs_of(pid_t pid, const struct md_stub *st, const struct md_found *f, struct md_ref **refs, int *nr,
		      struct err *e)
{
	_cleanup_free_ int *fds = NULL;
	_cleanup_free_ struct proc_vma *v = NULL;
	char link[64];
	struct stat sb;
	int nfd = 0, nv = 0, ret;

	if (proc_list_fds(pid, &fds, &nfd, e) < 0)
		return 0;	/* gone */
	for (int i = 0; i < nfd; i++) {
		struct proc_fdinfo fi;
		struct md_ref r = { .pid = pid, .kind = MD_REF_FD, .fd = fds[i] };
		bool on = false;
		ssize_t n;

		if (proc_read_fdinfo(pid, fds[i], &fi, e) < 0)
			continue;
		for (int k = 0; k <= st->nr_binds; k++)
			on |= (uint64_t)fi.mnt_id == f->mnt_id[k];
		if (!on)
			continue;
		snprintf(link, sizeof(link), "/proc/%d/fd/%d", pid, fds[i]);
		if ((n = readlink(link, r.path, sizeof(r.path) - 1)) < 0)
			return err_errno(e, "pid %d fd %d: read its path", pid, fds[i]);
		r.path[n] = 0;
		r.flags = fi.flags;
		r.pos = fi.pos;
		if ((ret = md_add_ref(refs, nr, &r, e)) < 0)
			return ret;
	}
	snprintf(link, sizeof(link), "/proc/%d/root", pid);
	if (stat(link, &sb) == 0 && sb.st_dev == f->dev)
		return err_input(e, "pid %d: its root directory is on the stub of '%s': a root on a delayed mount is not "
				 "moved yet; the swap is refused, the tree stays on the stub", pid, st->mountpoint);
	snprintf(link, sizeof(link), "/proc/%d/cwd", pid);
	if (stat(link, &sb) == 0 && sb.st_dev == f->dev) {
		struct md_ref r = { .pid = pid, .kind = MD_REF_CWD, .fd = -1 };
		ssize_t n = readlink(link, r.path, sizeof(r.path) - 1);

		if (n < 0)
			return err_errno(e, "pid %d: read its working directory", pid);
		r.path[n] = 0;
		if ((ret = md_add_ref(refs, nr, &r, e)) < 0)
			return ret;
	}
	if (proc_read_maps(pid, &v, &nv, e) < 0)
		return 0;
	for (int i = 0; i < nv; i++) {
		struct md_ref r = { .pid = pid, .kind = MD_REF_MAP, .fd = -1, .v = v[i] };

		if (makedev(v[i].dev_major, v[i].dev_minor) != f->dev || !v[i].ino)
			continue;
		if (!v[i].shared && (v[i].prot & PROT_WRITE))
			return err_input(e, "pid %d: private writable mapping %#llx-%#llx of '%s' on the stub of '%s': its "
					 "pages of its own would not be kept (not supported yet); the swap is refused, the "
					 "tree stays on the stub", pid, (unsigned long long)v[i].start,
					 (unsigned long long)v[i].end, v[i].path, st->mountpoint);
		snprintf(r.path, sizeof(r.path), "%s", v[i].path);
		if ((ret = md_add_ref(refs, nr, &r, e)) < 0)
			return ret;
	}
	return 0;
}

/* The path of r inside the mount (relative to its root), or NULL if r's
 * path is under none of st's mountpoints. */
static const char *md_rel(const struct md_stub *st, const struct md_ref *r)
{
	const char *best = NULL;

	for (int i = 0; i <= st->nr_binds; i++) {
		const char *rel = mountinfo_relpath(md_mp(st, i), r->path);

		if (rel && (!best || strlen(rel) < strlen(best)))
			best = rel;
	}
	return best;
}

/* What r names, as the tree sees it now (on the stub), and on the real
 * mount: missing or changed refuses the swap. */
static int md_check(const struct md_stub *st, int mfd, const struct md_ref *r, struct err *e)
{
	const char *rel = md_rel(st, r);
	char what[96], link[64];
	struct stat real, stub;

	if (r->kind == MD_REF_FD)
		snprintf(what, sizeof(what), "pid %d fd %d", r->pid, r->fd);
	else if (r->kind == MD_REF_CWD)
		snprintf(what, sizeof(what), "pid %d cwd", r->pid);
	else
		snprintf(what, sizeof(what), "pid %d mapping %#llx", r->pid, (unsigned long long)r->v.start);
	if (!rel)
		return err_input(e, "%s: '%s' is on the stub of '%s' but not under its mountpoint (a chroot, or "
				 "unlinked): the swap is refused, the tree stays on the stub", what, r->path, st->mountpoint);
	if (fstatat(mfd, *rel ? rel : ".", &real, AT_SYMLINK_NOFOLLOW | (*rel ? 0 : AT_EMPTY_PATH)) < 0)
		return errno == ENOENT ? err_input(e, "%s: '%s' is missing on the real mount of '%s': the swap is "
						   "refused, the tree stays on the stub", what, r->path, st->mountpoint)
				       : err_errno(e, "%s: stat '%s' on the real mount", what, r->path);
	if (r->kind == MD_REF_FD)
		snprintf(link, sizeof(link), "/proc/%d/fd/%d", r->pid, r->fd);
	else if (r->kind == MD_REF_CWD)
		snprintf(link, sizeof(link), "/proc/%d/cwd", r->pid);
	else
		snprintf(link, sizeof(link), "/proc/%d/map_files/%llx-%llx", r->pid, (unsigned long long)r->v.start,
			 (unsigned long long)r->v.end);
	if (stat(link, &stub) < 0)
		return err_errno(e, "%s: stat '%s' on the stub", what, r->path);
	if ((real.st_mode & S_IFMT) != (stub.st_mode & S_IFMT))
		return err_input(e, "%s: '%s' is of another type on the real mount of '%s' (mode %o, %o on the stub): "
				 "the swap is refused, the tree stays on the stub", what, r->path, st->mountpoint,
				 real.st_mode, stub.st_mode);
	if (S_ISREG(real.st_mode) && real.st_size != stub.st_size)
		return err_input(e, "%s: '%s' is %lld bytes on the real mount of '%s' and was %lld at dump: the swap is "
				 "refused, the tree stays on the stub", what, r->path, (long long)real.st_size,
				 st->mountpoint, (long long)stub.st_size);
	return 0;
}

/* Waits (10 s at most) for tid's interrupt stop, letting a signal that
 * comes first through. A task that never stops waits in a request on
 * another stub, which only that stub's swap answers. */
static int md_wait_stop(pid_t tid, struct err *e)
{
	for (int i = 0; i < 10000; i++) {
		int status;
		pid_t got = waitpid(tid, &status, __WALL | WNOHANG);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return err_errno(e, "wait for task %d to stop", tid);
		if (got == 0) {
			usleep(1000);
			continue;
		}
		if (!WIFSTOPPED(status))
			return err_set(e, EXIT_SYSTEM, "task %d ended while the tree was being frozen", tid);
		if ((status >> 16) == PTRACE_EVENT_STOP)
			return 0;
		if (ptrace(PTRACE_CONT, tid, 0, WSTOPSIG(status)) < 0)
			return err_errno(e, "resume task %d to deliver signal %d", tid, WSTOPSIG(status));
	}
	return err_set(e, EXIT_SYSTEM, "task %d did not stop within 10 s (it waits on the stub of another delayed mount? "
		       "swap that one first); nothing was changed", tid);
}

/* Freezes every thread of every process; the tids seized go to *tids. */
static int md_freeze(const pid_t *pids, int nr, pid_t **tids, int *nt, struct err *e)
{
	int ret;

	*tids = NULL;
	*nt = 0;
	for (int i = 0; i < nr; i++) {
		_cleanup_free_ pid_t *t = NULL;
		int n = 0;

		if (proc_list_threads(pids[i], &t, &n, e) < 0)
			continue;
		for (int k = 0; k < n; k++) {
			if (grow_one(tids, *nt) < 0)
				return err_errno(e, "freeze the tree");
			if ((ret = tracee_seize(t[k], PTRACE_O_TRACESYSGOOD | PTRACE_O_SUSPEND_SECCOMP, e)) < 0)
				return ret;
			(*tids)[(*nt)++] = t[k];
		}
	}
	for (int i = 0; i < *nt; i++)
		if ((ret = md_wait_stop((*tids)[i], e)) < 0)
			return ret;
	return 0;
}

static void md_thaw(const pid_t *tids, int nt)
{
	for (int i = 0; i < nt; i++)
		ptrace(PTRACE_DETACH, tids[i], 0, 0);
}

/* One remote call; <0 with e set if the call itself failed. */
static int md_call(struct rsys *r, long *res, const char *what, const char *path, long nr, uint64_t a1, uint64_t a2,
		   uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6, struct err *e)
{
	int ret = rsys_call(r, res, nr, a1, a2, a3, a4, a5, a6, e);

	if (ret < 0)
		return ret;
	if (*res < 0 && *res > -4096)
		return err_errnum(e, -*res, "pid %d: %s '%s' on the real mount", r->tid, what, path);
	return 0;
}

/* In process pid: every reference of refs[] that is its own, moved. */
static int md_move_refs(pid_t pid, struct md_ref *refs, int nr, struct err *e)
{
	struct rsys r;
	uint64_t site, scratch = 0;
	long res, nfd;
	int ret;

	if (!(site = rsys_find_vdso_site(pid, e)))
		return err_set(e, EXIT_SYSTEM, "pid %d: no syscall instruction in its vDSO", pid);
	if ((ret = rsys_begin(&r, pid, site, RSYS_SITE_SYSCALL_STOPS, NULL, e)) < 0)
		return ret;
	ret = md_call(&r, &res, "map a scratch page for", "", SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0, e);
	if (ret == 0)
		scratch = res;
	for (int i = 0; ret == 0 && i < nr; i++) {
		struct md_ref *m = &refs[i];
		int oflags;

		if (m->pid != pid)
			continue;
		if ((ret = rsys_poke(pid, scratch, m->path, strlen(m->path) + 1, e)) < 0)
			break;
		if (m->kind == MD_REF_CWD) {
			ret = md_call(&r, &res, "chdir to", m->path, SYS_chdir, scratch, 0, 0, 0, 0, 0, e);
			continue;
		}
		oflags = m->kind == MD_REF_FD ? (int)(m->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC))
					      : ((m->v.shared && (m->v.prot & PROT_WRITE)) ? O_RDWR : O_RDONLY);
		if ((ret = md_call(&r, &nfd, "open", m->path, SYS_openat, AT_FDCWD, scratch, oflags, 0, 0, 0, e)) < 0)
			break;
		if (m->kind == MD_REF_FD) {
			ret = md_call(&r, &res, "put on its fd", m->path, SYS_dup3, nfd, m->fd, m->flags & O_CLOEXEC, 0, 0, 0, e);
			if (ret == 0 && !(m->flags & O_PATH))
				ret = md_call(&r, &res, "seek", m->path, SYS_lseek, m->fd, m->pos, SEEK_SET, 0, 0, 0, e);
		} else {
			ret = md_call(&r, &res, "map", m->path, SYS_mmap, m->v.start, m->v.end - m->v.start, m->v.prot,
				      (m->v.shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, nfd, m->v.pgoff, e);
			if (ret == 0 && (uint64_t)res != m->v.start)
				ret = err_set(e, EXIT_SYSTEM, "pid %d: '%s' was mapped at %#lx, not %#llx", pid, m->path, res,
					      (unsigned long long)m->v.start);
		}
		if (ret == 0)
			ret = md_call(&r, &res, "close the new fd of", m->path, SYS_close, nfd, 0, 0, 0, 0, 0, e);
		pr_info("pid %d: %s '%s' moved onto the real mount", pid,
			m->kind == MD_REF_FD ? "fd of" : "mapping of", m->path);
	}
	if (scratch) {
		struct err e2;

		rsys_call(&r, &res, SYS_munmap, scratch, 4096, 0, 0, 0, 0, &e2);
	}
	if (rsys_finish(&r, ret < 0 ? &(struct err){ 0 } : e) < 0 && ret == 0)
		ret = -1;
	return ret;
}

int md_swap(struct md_state *s, struct md_stub *st, const struct md_request *rq, char *summary, size_t size,
	    struct err *e)
{
	struct md_child_arg a = { st, rq, -1 };
	struct nschild_result res = { 0 };
	struct md_found f;
	char nspath[64], what[PATH_MAX + 64], buf[256];
	_cleanup_free_ pid_t *pids = NULL, *tids = NULL;
	_cleanup_free_ struct md_ref *refs = NULL;
	_cleanup_close_ int mfd = -1, root = -1;
	int npids = 0, nt = 0, nr = 0, ret, nfds = 0, nmaps = 0, ncwd = 0;
	size_t len = 0;

	if (!s->root)
		return err_set(e, EXIT_USAGE, "the tree is not running yet (the restore has not finished)");
	snprintf(nspath, sizeof(nspath), "/proc/%d/ns/mnt", st->ns_pid);
	snprintf(what, sizeof(what), "make the real mount of '%s'", st->mountpoint);
	if ((ret = nschild_run_at(what, nspath, CLONE_NEWNS, md_child_make, &a, &res, e)) < 0)
		return ret;
	if (res.len != sizeof(f) || res.nr_fds != 1) {
		nschild_result_free(&res);
		return err_proto(e, "%s: the child sent no mount", what);
	}
	memcpy(&f, res.data, sizeof(f));
	mfd = res.fds[0];
	res.fds[0] = -1;
	nschild_result_free(&res);
	/* 2: what the tree holds on the stub, checked against the real mount. */
	if ((ret = md_tree(s->root, &pids, &npids, e)) < 0)
		return ret;
	for (int i = 0; i < npids; i++)
		if ((ret = md_refs_of(pids[i], st, &f, &refs, &nr, e)) < 0)
			return ret;
	for (int i = 0; i < nr; i++)
		if ((ret = md_check(st, mfd, &refs[i], e)) < 0)
			return ret;
	/* 3: held requests answered from the real mount. */
	if ((root = openat(mfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return err_errno(e, "open the root of the real mount of '%s'", st->mountpoint);
	{
		char id[16];
		const char *fl[] = { id };
		struct dp_line l;
		size_t pos = 0;
		ssize_t n;

		snprintf(id, sizeof(id), "%u", st->mnt_id);
		if ((ret = dp_add(buf, sizeof(buf), &len, "real", fl, 1, e)) < 0 ||
		    (ret = dp_send(s->stubfs, buf, len, root, e)) < 0)
			return ret;
		if ((n = dp_recv(s->stubfs, buf, sizeof(buf), NULL, e)) <= 0)
			return n < 0 ? n : err_proto(e, "amber-stubfs ended before it served '%s' from the real mount",
						       st->mountpoint);
		if (dp_next(buf, n, &pos, &l, e) <= 0 || strcmp(l.verb, "ok"))
			return err_proto(e, "amber-stubfs did not serve '%s' from the real mount: '%s'", st->mountpoint, buf);
	}
	/* 4-6 */
	if ((ret = md_freeze(pids, npids, &tids, &nt, e)) < 0) {
		md_thaw(tids, nt);
		return ret;
	}
	a.mfd = mfd;
	snprintf(what, sizeof(what), "put the real mount in the place of the stub at '%s'", st->mountpoint);
	ret = nschild_run_at(what, nspath, CLONE_NEWNS, md_child_attach, &a, &res, e);
	nschild_result_free(&res);
	for (int i = 0; ret >= 0 && i < npids; i++) {
		bool any = false;

		for (int k = 0; k < nr; k++)
			any |= refs[k].pid == pids[i];
		if (any)
			ret = md_move_refs(pids[i], refs, nr, e);
	}
	md_thaw(tids, nt);
	if (ret < 0)
		return ret;
	for (int k = 0; k < nr; k++) {
		nfds += refs[k].kind == MD_REF_FD;
		nmaps += refs[k].kind == MD_REF_MAP;
		ncwd += refs[k].kind == MD_REF_CWD;
	}
	st->swapped = true;
	snprintf(summary, size, "'%s' is the real mount now: %d fds, %d mappings, %d working directories moved from "
		 "its stub in %d processes", st->mountpoint, nfds, nmaps, ncwd, npids);
	return 0;
}
