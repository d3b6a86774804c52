/* dump-files/files.c: the open file table of the whole tree, each open
 * file description once in files.img however many descriptors share it;
 * see dump-files.h. Each description is described by its kind, which it
 * knows only through the table df_open was given. */
#include <fcntl.h>
#include <limits.h>
#include <linux/kcmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "images/files.pb-c.h"
#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "stages/dump-files/dump-files.h"

int df_open(struct df *c, int dir_fd, const struct df_kind *kinds, int nr_kinds, uint64_t ghost_limit, bool file_locks,
	    struct err *e)
{
	memset(c, 0, sizeof(*c));
	c->kinds = kinds;
	c->nr_kinds = nr_kinds;
	c->dir_fd = dir_fd;
	c->scratch[0] = c->scratch[1] = -1;
	c->ghost_limit = ghost_limit;
	c->file_locks = file_locks;
	c->pidfd = -1;
	c->files.fd = -1;
	c->nr_buckets = 256;
	c->buckets = malloc(sizeof(*c->buckets) * c->nr_buckets);
	if (!c->buckets)
		return err_errno(e, "allocate the open files table");
	memset(c->buckets, 0xff, sizeof(*c->buckets) * c->nr_buckets);
	return image_open_write(&c->files, dir_fd, "files", "files.img", e);
}

void df_free(struct df *c)
{
	image_close(&c->files);
	if (c->pipedata_open)
		image_close(&c->pipedata);
	c->pipedata_open = false;
	if (c->scratch[0] >= 0) {
		close(c->scratch[0]);
		close(c->scratch[1]);
		c->scratch[0] = c->scratch[1] = -1;
	}
	for (int i = 0; i < c->nr_nsroots; i++)
		close(c->nsroots[i].fd);
	free(c->nsroots);
	c->nsroots = NULL;
	c->nr_nsroots = 0;
	free(c->pipes);
	free(c->fifos);
	free(c->pty_masters);
	free((pid_t *)c->all_pids);
	c->all_pids = NULL;
	c->nr_all_pids = 0;
	free(c->memfds);
	free(c->owners);
	c->owners = NULL;
	free(c->socks);
	for (int i = 0; i < 4; i++) {
		free(c->diag[i].v);
		c->diag[i].v = NULL;
		c->diag[i].nr = 0;
		c->diag[i].loaded = false;
	}
	free(c->sockrefs);
	c->sockrefs = NULL;
	c->nr_sockrefs = 0;
	free(c->mc_groups);
	c->mc_groups = NULL;
	c->nr_mc_groups = 0;
	c->socks = NULL;
	free(c->listeners);
	c->listeners = NULL;
	for (int i = 0; i < c->nr_repaired; i++)
		close(c->repaired[i]);
	free(c->repaired);
	c->repaired = NULL;
	c->nr_repaired = 0;
	free(c->tcps);
	c->tcps = NULL;
	for (int i = 0; i < c->nr_tcp_cache; i++) {
		free(c->tcp_cache[i].rcvq);
		free(c->tcp_cache[i].sndq);
	}
	free(c->tcp_cache);
	c->tcp_cache = NULL;
	c->nr_tcp_cache = 0;
	for (int i = 0; i < c->nr_inflight; i++)
		close(c->inflight[i]);
	free(c->inflight);
	c->inflight = NULL;
	c->nr_inflight = 0;
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pidfd = -1;
	free(c->pipe_sides);
	free(c->pipe_holder);
	free(c->tree);
	free(c->ext);
	c->ext = NULL;
	if (c->remaps_open)
		image_close(&c->remaps);
	c->remaps_open = false;
	for (int i = 0; i < c->nr_links; i++)
		free(c->links[i]);
	free(c->links);
	for (int i = 0; i < c->nr_remapped; i++)
		free(c->remapped[i].path);
	free(c->remapped);
	free(c->mapped);
	c->mapped = NULL;
	c->nr_mapped = 0;
	c->remapped = NULL;
	c->nr_remapped = 0;
	c->links = NULL;
	c->nr_links = 0;
	c->pipes = NULL;
	c->pipe_sides = NULL;
	c->pipe_holder = NULL;
	c->tree = NULL;
	for (int i = 0; c->v && i < c->nr; i++)
		free(c->v[i].members);
	free(c->v);
	free(c->buckets);
	c->v = NULL;
	c->buckets = NULL;
}

void df_abort(struct df *c)
{
	df_inet_unrepair(c);
	for (int i = 0; i < c->nr_links; i++)
		if (unlink(c->links[i]) == 0)
			pr_info("removed link remap '%s' (the dump failed)", c->links[i]);
}

/* A file whose SIGIO goes to a process outside the tree would, restored,
 * signal whoever has that pid then: refused. */
static void df_check_owners(struct df *c)
{
	for (int i = 0; i < c->nr_owners; i++) {
		bool ours = false;
		char why[160];

		for (int j = 0; j < c->nr_tree && !ours; j++)
			ours = c->tree[j] == c->owners[i].owner;
		if (ours)
			continue;
		snprintf(why, sizeof(why), "its signal owner (F_SETOWN) is pid %d, outside the dumped tree; "
			 "owners outside the tree are not supported", c->owners[i].owner);
		df_refuse(c, c->owners[i].pid, c->owners[i].fd, "", why);
	}
}

int df_close(struct df *c, struct err *e)
{
	for (int i = 0; i < c->nr_kinds; i++)
		if (c->kinds[i].check)
			c->kinds[i].check(c);
	df_check_owners(c);
	df_check_externals(c);
	df_check_shared(c);
	/* Last: reading a waiting connection's data takes it from its backlog. */
	for (int i = 0; i < c->nr_kinds; i++)
		if (c->kinds[i].finish && c->kinds[i].finish(c, e) < 0)
			return -EIO;
	if (c->remaps_open && image_close_write(&c->remaps, e) < 0)
		return -EIO;
	c->remaps_open = false;
	if (image_close_write(&c->files, e) < 0)
		return -EIO;
	if (c->pipedata_open && image_close_write(&c->pipedata, e) < 0)
		return -EIO;
	c->pipedata_open = false;
	if (c->nr_unsupported > 1)
		return err_set(e, c->unsupported.exit_code, "%s (%d unsupported descriptors in all; the others are listed above)",
			       c->unsupported.msg, c->nr_unsupported);
	if (c->nr_unsupported)
		return err_set(e, c->unsupported.exit_code, "%s", c->unsupported.msg);
	return 0;
}

/* Logs and counts one descriptor that cannot be dumped; the first becomes the error. */
void df_refuse(struct df *c, pid_t pid, int fd, const char *link, const char *why)
{
	char via[320];

	/* A file in flight is this stage's copy: named by the socket that holds it. */
	if (pid == getpid() && c->via_pid) {
		snprintf(via, sizeof(via), "%s (in flight, SCM_RIGHTS, in the queue of pid %d fd %d)", link, c->via_pid, c->via_fd);
		link = via;
		pid = c->via_pid;
		fd = c->via_fd;
	}
	/* fd -1: a mapping of a deleted file (maps.c). */
	if (c->nr_unsupported++ == 0 && fd < 0)
		err_input(&c->unsupported, "pid %d maps the deleted file '%s': %s", pid, link, why);
	else if (c->nr_unsupported == 1)
		err_input(&c->unsupported, "pid %d fd %d is '%s': %s", pid, fd, link, why);
	else if (fd < 0)
		pr_warn("pid %d maps the deleted file '%s': %s", pid, link, why);
	else
		pr_warn("pid %d fd %d is '%s': %s", pid, fd, link, why);
}

/* Orders two descriptors by the open file descriptions behind them, as
 * kcmp does (the kernel's file pointers, obfuscated but consistently
 * ordered): 0 the same description, 1 the first is less, 2 greater, 3
 * different but unordered; <0 error. */
static int df_kcmp_file(pid_t pid1, int fd1, pid_t pid2, int fd2, struct err *e)
{
	long r = syscall(SYS_kcmp, pid1, pid2, KCMP_FILE, fd1, fd2);

	if (r < 0 && errno == ENOSYS)
		return err_errno(e, "kcmp: the kernel lacks CONFIG_KCMP, which amber needs to tell shared files apart");
	if (r < 0)
		return err_errno(e, "kcmp(KCMP_FILE) of pid %d fd %d and pid %d fd %d", pid1, fd1, pid2, fd2);
	return (int)r;
}

/* Finds pid's fd in group head g: 1 and *found set if a member is its
 * description, else 0 and *at where it goes in the group's order. */
static int df_group_find(struct df *c, int g, pid_t pid, int fd, int *found, int *at, struct err *e)
{
	const struct df_file *head = &c->v[g];
	int lo = 0, hi = head->nr_members, r;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		const struct df_file *m = &c->v[head->members[mid]];

		if ((r = df_kcmp_file(pid, fd, m->pid, m->fd, e)) < 0)
			return r;
		if (r == 0) {
			*found = head->members[mid];
			return 1;
		}
		if (r == 3)
			break;	/* no order given: look at each one */
		if (r == 1)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo < hi) {
		for (int i = 0; i < head->nr_members; i++) {
			const struct df_file *m = &c->v[head->members[i]];

			if ((r = df_kcmp_file(pid, fd, m->pid, m->fd, e)) < 0)
				return r;
			if (r == 0) {
				*found = head->members[i];
				return 1;
			}
		}
		lo = head->nr_members;
	}
	*at = lo;
	return 0;
}

/* Puts new description idx into group head g at position at, or makes it
 * a group of its own in hash chain h when g < 0. */
static int df_group_add(struct df *c, int g, int at, int idx, unsigned int h, struct err *e)
{
	struct df_file *head;

	if (g < 0) {
		g = idx;
		c->v[idx].next = c->buckets[h];
		c->buckets[h] = idx;
	}
	head = &c->v[g];
	if (grow_one(&head->members, head->nr_members) < 0)
		return err_errno(e, "allocate the open files table");
	memmove(head->members + at + 1, head->members + at, (head->nr_members - at) * sizeof(int));
	head->members[at] = idx;
	head->nr_members++;
	return 0;
}

static unsigned int df_hash(uint64_t dev, uint64_t ino, uint32_t flags, uint64_t pos, int nr_buckets)
{
	uint64_t h = (dev * 0x9e3779b97f4a7c15ull) ^ (ino * 0xc2b2ae3d27d4eb4full) ^ flags ^ (pos * 0x165667b19e3779f9ull);

	return (h ^ (h >> 29)) & (nr_buckets - 1);
}

/* Doubles the hash table once it holds as many files as buckets. */
static int df_rehash(struct df *c, struct err *e)
{
	int n = c->nr_buckets * 2;
	int *b = malloc(sizeof(*b) * n);

	if (!b)
		return err_errno(e, "allocate the open files table");
	memset(b, 0xff, sizeof(*b) * n);
	for (int i = 0; i < c->nr; i++) {
		unsigned int h = df_hash(c->v[i].dev, c->v[i].ino, c->v[i].flags, c->v[i].pos, n);

		if (!c->v[i].nr_members)
			continue;	/* only group heads are chained */
		c->v[i].next = b[h];
		b[h] = i;
	}
	free(c->buckets);
	c->buckets = b;
	c->nr_buckets = n;
	return 0;
}

/* A copy of pid's fd in this process (pidfd_getfd), for what only the
 * open file itself can tell; the pidfd is kept while one task is read. */
int df_getfd(struct df *c, pid_t pid, int fd, struct err *e)
{
	int dup;

	if (c->pidfd_pid != pid) {
		if (c->pidfd >= 0)
			close(c->pidfd);
		c->pidfd_pid = pid;
		if ((c->pidfd = syscall(SYS_pidfd_open, pid, 0)) < 0)
			return err_errno(e, "pidfd_open pid %d to read its files", pid);
	}
	if ((dup = syscall(SYS_pidfd_getfd, c->pidfd, fd, 0)) < 0)
		return err_errno(e, "pidfd_getfd pid %d fd %d", pid, fd);
	return dup;
}

/* The owner and signal of pid's fd (F_GETOWN_EX, F_GETSIG), which /proc
 * does not show: asked of a copy of the descriptor (pidfd_getfd), since
 * both belong to the open file description. *set says whether either was
 * set. The owner is translated to the pid the tree knows it by (the last
 * NSpid), and remembered to be checked against the tree at the end. */
static int df_fown(struct df *c, pid_t pid, int fd, FownEntry *fo, bool *set, struct err *e)
{
	struct f_owner_ex own = { 0 };
	_cleanup_close_ int dup = -1;
	struct proc_status st;
	int sig;

	*set = false;
	if ((dup = df_getfd(c, pid, fd, e)) < 0)
		return dup;
	if (fcntl(dup, F_GETOWN_EX, &own) < 0 || (sig = fcntl(dup, F_GETSIG)) < 0)
		return err_errno(e, "read the owner of pid %d fd %d (F_GETOWN_EX, F_GETSIG)", pid, fd);
	if (!own.pid && !sig)
		return 0;
	fo->type = own.type;
	fo->pid = own.pid;
	fo->signum = sig;
	*set = true;
	if (!own.pid)
		return 0;
	if (own.type == F_OWNER_PGRP) {
		/* A group is rebuilt with its leader's pid: that leader must be ours. */
	} else if (proc_read_status(own.pid, 0, &st, e) < 0) {
		return err_wrap(e, "pid %d fd %d: its owner", pid, fd);
	} else {
		fo->pid = st.nr_nspid ? st.nspid[st.nr_nspid - 1] : own.pid;
	}
	if (grow_one(&c->owners, c->nr_owners) < 0)
		return err_errno(e, "remember the owner of pid %d fd %d", pid, fd);
	c->owners[c->nr_owners++] = (struct df_owner){ own.type == F_OWNER_PGRP || st.tgid <= 0 ? own.pid : st.tgid, pid, fd };
	return 0;
}

/* Writes a new description's record, then frees what it points to. */
static int df_file_write(struct df *c, const struct df_kind *k, struct df_desc *d, uint32_t *id, bool *added,
			 struct err *e)
{
	int ret = image_write(&c->files, &d->re.base, e);

	if (k && k->release)
		k->release(d);
	if (ret < 0)
		return ret;
	pr_trace("file %u: '%s'%s flags %#o pos %llu (pid %d fd %d)", d->re.id, d->link,
		 d->re.external ? " (external)" : "", d->re.flags, (unsigned long long)d->re.pos, d->pid, d->fd);
	*id = d->re.id;
	*added = true;
	if (c->nr >= c->nr_buckets)
		return df_rehash(c, e);
	return 0;
}

/* A new slot at the end of c->v with the next id, in no hash chain yet. */
int df_new_id(struct df *c, uint32_t *id, struct err *e)
{
	if ((unsigned int)c->nr >= IMAGE_MAX_FILE_ID)
		return err_input(e, "the tree has more than %u open files, the most that images hold", IMAGE_MAX_FILE_ID);
	if (grow_cap(&c->v, &c->cap, (size_t)c->nr + 1) < 0)
		return err_errno(e, "allocate the open files table");
	/* In no hash chain: nothing is compared with it. */
	c->v[c->nr] = (struct df_file){ .id = c->nr + 1, .next = -1, .members = NULL, .nr_members = 0 };
	*id = c->v[c->nr++].id;
	return 0;
}

const struct df_kind *df_kind_of(const struct df *c, const char *link, const struct stat *st)
{
	for (int i = 0; i < c->nr_kinds; i++) {
		const struct df_kind *k = &c->kinds[i];

		if (!strncmp(link, k->prefix, strlen(k->prefix)) && (!k->match || k->match(link, st)))
			return k;
	}
	return NULL;
}

/* The id of the open file description behind pid's fd: an existing one if
 * kcmp says a descriptor seen before shares it, else a new RegFileEntry
 * written to files.img, filled by its kind. *added says which. */
int df_file_id(struct df *c, const struct df_kind *k, pid_t pid, int fd, const char *link, const struct stat *st,
	       const struct proc_fdinfo *fi, const char *ext, uint32_t *id, bool *added, struct err *e)
{
	uint32_t flags = fi->flags & ~O_CLOEXEC;
	struct df_desc d = { .pid = pid, .fd = fd, .link = link, .st = st, .fi = fi, .re = REG_FILE_ENTRY__INIT,
			     .usk = { .u = UNIX_SOCKET_ENTRY__INIT }, .anon = ANON_FILE_ENTRY__INIT };
	RegFileEntry *re = &d.re;
	FownEntry fown = FOWN_ENTRY__INIT;
	TtyStateEntry tty = TTY_STATE_ENTRY__INIT;
	uint8_t tty_cc[NCCS];
	bool owned;
	uint32_t my_id;
	struct df_file *f;
	unsigned int h;
	int ret, group = -1, at = 0, found;

	*added = false;
	h = df_hash(st->st_dev, st->st_ino, flags, fi->pos, c->nr_buckets);
	for (int i = c->buckets[h]; i >= 0; i = c->v[i].next) {
		f = &c->v[i];
		if (f->dev != st->st_dev || f->ino != st->st_ino || f->flags != flags || f->pos != fi->pos)
			continue;
		if ((ret = df_group_find(c, i, pid, fd, &found, &at, e)) < 0)
			return ret;
		if (ret) {
			*id = c->v[found].id;
			return 0;
		}
		group = i;
		break;
	}

	if ((ret = df_new_id(c, &my_id, e)) < 0)	/* f moves if a file in flight in a socket grows c->v */
		return ret;
	f = &c->v[c->nr - 1];
	f->pid = pid;
	f->fd = fd;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->flags = flags;
	f->pos = fi->pos;
	if ((ret = df_group_add(c, group, at, c->nr - 1, h, e)) < 0)
		return ret;

	re->id = my_id;
	re->path = (char *)link;
	re->flags = flags;
	re->pos = fi->pos;
	re->has_mnt_id = fi->mnt_id >= 0;
	re->mnt_id = fi->mnt_id;
	re->has_inode = re->has_dev = re->has_mode = true;
	re->inode = st->st_ino;
	re->dev = st->st_dev;
	re->mode = st->st_mode;
	re->has_size = S_ISREG(st->st_mode);
	re->size = st->st_size;
	/* An O_PATH descriptor has no owner (fcntl refuses F_GETOWN_EX). */
	owned = false;
	if (!(flags & O_PATH) && (ret = df_fown(c, pid, fd, &fown, &owned, e)) < 0)
		return ret;
	if (owned)
		re->fown = &fown;
	if (ext) {
		/* Outside the tree: its key stands for it; of a terminal, its
		 * settings too, which restore puts back on the one it is given. */
		re->path = re->external = (char *)ext;
		re->has_size = false;
		if (S_ISCHR(st->st_mode) && (ret = df_tty_state(c, pid, fd, &tty, tty_cc, &re->tty, e)) < 0)
			return ret;
	} else if (k->describe && (ret = k->describe(c, &d, e)) < 0) {
		if (k->release)
			k->release(&d);
		return ret;
	}
	return df_file_write(c, k, &d, id, added, e);
}

int df_tty_state(struct df *c, pid_t pid, int fd, TtyStateEntry *t, uint8_t *cc, TtyStateEntry **out, struct err *e)
{
	struct termios tio;
	struct winsize ws;
	int copy = df_getfd(c, pid, fd, e);

	*out = NULL;
	if (copy < 0)
		return copy;
	/* Not every character device is a terminal. */
	if (tcgetattr(copy, &tio) < 0) {
		close(copy);
		return 0;
	}
	t->iflag = tio.c_iflag;
	t->oflag = tio.c_oflag;
	t->cflag = tio.c_cflag;
	t->lflag = tio.c_lflag;
	t->has_line = t->has_ispeed = t->has_ospeed = t->has_cc = true;
	t->line = tio.c_line;
	t->ispeed = cfgetispeed(&tio);
	t->ospeed = cfgetospeed(&tio);
	memcpy(cc, tio.c_cc, NCCS);
	t->cc.data = cc;
	t->cc.len = NCCS;
	if (ioctl(copy, TIOCGWINSZ, &ws) == 0) {
		t->has_rows = t->has_cols = t->has_xpixel = t->has_ypixel = true;
		t->rows = ws.ws_row;
		t->cols = ws.ws_col;
		t->xpixel = ws.ws_xpixel;
		t->ypixel = ws.ws_ypixel;
	}
	close(copy);
	*out = t;
	return 0;
}

/* Keeps this stage's copy fd of a file in flight open to the end (kcmp
 * compares later descriptors with it); closes it if it cannot be kept. */
int df_keep_fd(struct df *c, int fd, struct err *e)
{
	if (grow_one(&c->inflight, c->nr_inflight) < 0) {
		close(fd);
		return err_errno(e, "keep a file in flight");
	}
	c->inflight[c->nr_inflight++] = fd;
	return 0;
}

bool df_is_deleted(const char *link)
{
	size_t n = strlen(link), m = strlen(DF_DELETED);

	return n >= m && !strcmp(link + n - m, DF_DELETED);
}
