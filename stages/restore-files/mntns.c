/* mntns: which mount namespace each file is opened in.
 *
 * A file is opened by its path in the mount namespace of the first task
 * that holds it: the namespace build-mntns made for that task (entered
 * through its pin), or this stage's own for a task that had the dumper's.
 * The stage itself never enters a namespace: each pass over the files
 * (reopen_ns_each) runs once here for the files of our own namespace, then
 * once per namespace of the tree in a child that entered it
 * (lib/nschild.h), for that namespace's files (reopen_ns_here).
 *
 * The child works on its copy of the plan (a fork), so what it changed
 * there comes back: every slot of struct reopen that holds a descriptor
 * (a file's fd and aux, a pipe's ends, the ghosts and memfds, which only
 * grow) and that the pass changed is described in a record, with the
 * descriptors it made sent along (SCM_RIGHTS), and put in the same slot
 * here; one it closed is closed here too. A descriptor the stage had
 * already (a pipe end given to a description) keeps its number, which a
 * fork shares, so two slots that held one descriptor in the child hold one
 * here too.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/exitcodes.h"
#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/mountinfo.h"
#include "lib/nschild.h"
#include "stages/restore-files/reopen.h"

struct reopen_ns {
	int at;			/* the namespace a pass is working in: an index of ns[], -1 for our own */
	struct { uint32_t id; int fd; char *pin; uint32_t *pids; size_t nr; char **stubs; int nr_stubs; } *ns;
	int nr;
};

int reopen_ns_add(struct reopen_ns **nsp, const MntnsPlanEntry *m, struct err *e)
{
	struct reopen_ns *ns = *nsp;

	if (!ns) {
		if (!(ns = calloc(1, sizeof(*ns))))
			return err_errnum(e, ENOMEM, "mount namespaces");
		ns->at = -1;
		*nsp = ns;
	}
	/* The pin is opened later (reopen_ns_open), once the whole input is
	 * read: reading input opens no path it names. */
	if (grow_one(&ns->ns, ns->nr) < 0)
		return err_errnum(e, ENOMEM, "mount namespace %u", m->id);
	ns->ns[ns->nr].id = m->id;
	ns->ns[ns->nr].fd = -1;
	ns->ns[ns->nr].pin = strdup(m->pin);
	ns->ns[ns->nr].pids = malloc(m->n_pids * sizeof(uint32_t) + 1);
	ns->ns[ns->nr].nr = m->n_pids;
	if (!ns->ns[ns->nr++].pids || !ns->ns[ns->nr - 1].pin)
		return err_errnum(e, ENOMEM, "mount namespace %u", m->id);
	if (m->n_pids)	/* a namespace no task is in has no pids array at all */
		memcpy(ns->ns[ns->nr - 1].pids, m->pids, m->n_pids * sizeof(uint32_t));
	ns->ns[ns->nr - 1].stubs = NULL;
	ns->ns[ns->nr - 1].nr_stubs = 0;
	/* The delayed mounts' stubs, and their binds: restore-files makes on
	 * them what the tree holds (stub.c). */
	for (size_t i = 0; i < m->n_stubs; i++)
		for (size_t b = 0; b <= m->stubs[i]->n_binds; b++) {
			const char *mp = b ? m->stubs[i]->binds[b - 1] : m->stubs[i]->mountpoint;

			if (grow_one(&ns->ns[ns->nr - 1].stubs, ns->ns[ns->nr - 1].nr_stubs) < 0 ||
			    !(ns->ns[ns->nr - 1].stubs[ns->ns[ns->nr - 1].nr_stubs++] = strdup(mp)))
				return err_errnum(e, ENOMEM, "mount namespace %u", m->id);
		}
	return 0;
}

const char *reopen_ns_stub(const struct reopen *r, const char *path)
{
	const struct reopen_ns *ns = r->ns;

	if (!ns || ns->at < 0 || !path)
		return NULL;
	for (int i = 0; i < ns->ns[ns->at].nr_stubs; i++)
		if (mountinfo_relpath(ns->ns[ns->at].stubs[i], path))
			return ns->ns[ns->at].stubs[i];
	return NULL;
}

bool reopen_ns_has_stubs(const struct reopen *r)
{
	for (int i = 0; r->ns && i < r->ns->nr; i++)
		if (r->ns->ns[i].nr_stubs)
			return true;
	return false;
}

void reopen_ns_pids(const struct reopen *r, const uint32_t **pids, size_t *nr)
{
	*pids = NULL;
	*nr = 0;
	if (r->ns && r->ns->at >= 0) {
		*pids = r->ns->ns[r->ns->at].pids;
		*nr = r->ns->ns[r->ns->at].nr;
	}
}

int reopen_ns_open(struct reopen_ns *ns, struct err *e)
{
	for (int i = 0; ns && i < ns->nr; i++)
		if ((ns->ns[i].fd = open(ns->ns[i].pin, O_RDONLY | O_CLOEXEC)) < 0)
			return err_errno(e, "open the pin '%s' of mount namespace %u", ns->ns[i].pin, ns->ns[i].id);
	return 0;
}

/* The index of the namespace pid's files are opened in, -1 for ours. */
static int reopen_ns_of(const struct reopen_ns *ns, pid_t pid)
{
	for (int i = 0; i < ns->nr; i++)
		for (size_t k = 0; k < ns->ns[i].nr; k++)
			if (ns->ns[i].pids[k] == (uint32_t)pid)
				return i;
	return -1;
}

bool reopen_ns_here(const struct reopen *r, pid_t pid)
{
	return !r->ns || reopen_ns_of(r->ns, pid) == r->ns->at;
}

/* One slot the child changed. */
enum { RNS_FILE_FD, RNS_FILE_AUX, RNS_PIPE_END, RNS_PIPE_GIVEN, RNS_GHOST, RNS_MEMFD, RNS_NR_OPEN };
enum { RNS_CLOSED, RNS_KEPT, RNS_SENT };
struct reopen_ns_change {
	uint32_t kind;		/* RNS_* */
	uint32_t index;		/* the file, or pipe * 2 + side */
	uint64_t key;		/* a new ghost's id or memfd's inode */
	int32_t how;		/* for a descriptor: RNS_CLOSED, RNS_KEPT (value: its number), RNS_SENT (value: its
				 * index among the fds sent) */
	int32_t pad;
	int64_t value;		/* or a pipe end's given flag, or nr_open */
};

/* The descriptor slots of r at the fork, as the child found them. */
struct reopen_ns_snap {
	int *file;		/* fd and aux of each file */
	int *pipe;		/* both ends of each pipe */
	bool *given;
	int nr_ghosts, nr_memfds;
	int *held;		/* every descriptor in a slot, sorted */
	int nr_held;
	int *gone;		/* those a slot gave up in the pass (closed, or moved), sorted */
	int nr_gone;
};

static int reopen_ns_int_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static bool reopen_ns_in(const int *v, int n, int fd)
{
	return n && bsearch(&fd, v, n, sizeof(*v), reopen_ns_int_cmp);
}

/* Takes the snapshot, in the child before the pass. */
static int reopen_ns_snap(const struct reopen *r, struct reopen_ns_snap *s, struct err *e)
{
	int n = 0;

	memset(s, 0, sizeof(*s));
	s->file = malloc((2 * r->nr_files + 1) * sizeof(int));
	s->pipe = malloc((2 * r->nr_pipes + 1) * sizeof(int));
	s->given = malloc(2 * r->nr_pipes + 1);
	s->held = malloc((2 * r->nr_files + 2 * r->nr_pipes + r->nr_ghosts + r->nr_memfds + 1) * sizeof(int));
	s->gone = malloc((2 * r->nr_files + 2 * r->nr_pipes + 1) * sizeof(int));
	if (!s->file || !s->pipe || !s->given || !s->held || !s->gone)
		return err_errnum(e, ENOMEM, "a copy of the descriptor slots");
	for (int i = 0; i < r->nr_files; i++) {
		s->file[2 * i] = r->files[i].fd;
		s->file[2 * i + 1] = r->files[i].aux;
	}
	for (int i = 0; i < r->nr_pipes; i++)
		for (int k = 0; k < 2; k++) {
			s->pipe[2 * i + k] = r->pipes[i].end[k];
			s->given[2 * i + k] = r->pipes[i].end_given[k];
		}
	s->nr_ghosts = r->nr_ghosts;
	s->nr_memfds = r->nr_memfds;
	for (int i = 0; i < 2 * r->nr_files; i++)
		if (s->file[i] >= 0)
			s->held[n++] = s->file[i];
	for (int i = 0; i < 2 * r->nr_pipes; i++)
		if (s->pipe[i] >= 0)
			s->held[n++] = s->pipe[i];
	for (int i = 0; i < r->nr_ghosts; i++)
		s->held[n++] = r->ghosts[i].fd;
	for (int i = 0; i < r->nr_memfds; i++)
		s->held[n++] = r->memfds[i].fd;
	if (n > 1)
		qsort(s->held, n, sizeof(int), reopen_ns_int_cmp);
	s->nr_held = n;
	return 0;
}

/* What the child sends back, being built. */
struct reopen_ns_out {
	struct reopen_ns_change *c;
	int nr;
	int *fds;		/* descriptors to send, each once */
	int nr_fds;
};

/* Adds one change: a slot's new descriptor (value), or for a pipe end's
 * given flag and nr_open the new value. */
static void reopen_ns_put(struct reopen_ns_out *o, const struct reopen_ns_snap *s, uint32_t kind, uint32_t index,
			  uint64_t key, int64_t value)
{
	struct reopen_ns_change *c = &o->c[o->nr++];

	*c = (struct reopen_ns_change){ kind, index, key, RNS_KEPT, 0, value };
	if (kind == RNS_PIPE_GIVEN || kind == RNS_NR_OPEN)
		return;
	if (value < 0) {
		c->how = RNS_CLOSED;
		return;
	}
	/* One the stage had, with its number (a fork shares numbers), unless
	 * the pass closed that and the number came back for another file. */
	if (reopen_ns_in(s->held, s->nr_held, value) && !reopen_ns_in(s->gone, s->nr_gone, value))
		return;
	c->how = RNS_SENT;
	for (int k = 0; k < o->nr_fds; k++)
		if (o->fds[k] == value) {
			c->value = k;
			return;
		}
	o->fds[o->nr_fds] = value;
	c->value = o->nr_fds++;
}

/* In the child after the pass: sends what changed in r since s. */
static int reopen_ns_send(const struct reopen *r, struct reopen_ns_snap *s, struct nschild_reply *reply, struct err *e)
{
	int most = 2 * r->nr_files + 4 * r->nr_pipes + (r->nr_ghosts - s->nr_ghosts) + (r->nr_memfds - s->nr_memfds) + 1;
	_cleanup_free_ struct reopen_ns_change *c = malloc(most * sizeof(*c));
	_cleanup_free_ int *fds = malloc(most * sizeof(int));
	struct reopen_ns_out o = { c, 0, fds, 0 };
	int ret;

	if (!c || !fds)
		return err_errnum(e, ENOMEM, "the changed descriptor slots");
	/* A slot that changed gave up what it held. */
	for (int i = 0; i < r->nr_files; i++) {
		if (r->files[i].fd != s->file[2 * i] && s->file[2 * i] >= 0)
			s->gone[s->nr_gone++] = s->file[2 * i];
		if (r->files[i].aux != s->file[2 * i + 1] && s->file[2 * i + 1] >= 0)
			s->gone[s->nr_gone++] = s->file[2 * i + 1];
	}
	for (int i = 0; i < 2 * r->nr_pipes; i++)
		if (r->pipes[i / 2].end[i % 2] != s->pipe[i] && s->pipe[i] >= 0)
			s->gone[s->nr_gone++] = s->pipe[i];
	if (s->nr_gone > 1)
		qsort(s->gone, s->nr_gone, sizeof(int), reopen_ns_int_cmp);
	for (int i = 0; i < r->nr_files; i++) {
		if (r->files[i].fd != s->file[2 * i])
			reopen_ns_put(&o, s, RNS_FILE_FD, i, 0, r->files[i].fd);
		if (r->files[i].aux != s->file[2 * i + 1])
			reopen_ns_put(&o, s, RNS_FILE_AUX, i, 0, r->files[i].aux);
	}
	for (int i = 0; i < 2 * r->nr_pipes; i++) {
		if (r->pipes[i / 2].end[i % 2] != s->pipe[i])
			reopen_ns_put(&o, s, RNS_PIPE_END, i, 0, r->pipes[i / 2].end[i % 2]);
		if (r->pipes[i / 2].end_given[i % 2] != s->given[i])
			reopen_ns_put(&o, s, RNS_PIPE_GIVEN, i, 0, r->pipes[i / 2].end_given[i % 2]);
	}
	for (int i = s->nr_ghosts; i < r->nr_ghosts; i++)
		reopen_ns_put(&o, s, RNS_GHOST, 0, r->ghosts[i].ghost_id, r->ghosts[i].fd);
	for (int i = s->nr_memfds; i < r->nr_memfds; i++)
		reopen_ns_put(&o, s, RNS_MEMFD, 0, r->memfds[i].ino, r->memfds[i].fd);
	reopen_ns_put(&o, s, RNS_NR_OPEN, 0, 0, r->nr_open);
	if ((ret = nschild_send_fds(reply, o.fds, o.nr_fds, e)) < 0)
		return ret;
	return nschild_send(reply, o.c, o.nr * sizeof(*o.c), e);
}

struct reopen_ns_arg {
	struct reopen *r;
	int (*pass)(struct reopen *r, struct err *e);
};

/* The child: runs the pass in the namespace it entered and sends back what
 * the pass changed. */
static int reopen_ns_child(void *arg, struct nschild_reply *reply, struct err *e)
{
	const struct reopen_ns_arg *a = arg;
	struct reopen_ns_snap s;
	int ret;

	/* The child exits right after: what it allocated goes with it. */
	if ((ret = reopen_ns_snap(a->r, &s, e)) < 0 || (ret = a->pass(a->r, e)) < 0)
		return ret;
	return reopen_ns_send(a->r, &s, reply, e);
}

/* Puts what the child changed (res) in r's slots. */
static int reopen_ns_apply(struct reopen *r, struct nschild_result *res, const char *what, struct err *e)
{
	const struct reopen_ns_change *c = (const void *)res->data;
	size_t nr = res->data ? res->len / sizeof(*c) : 0;
	_cleanup_free_ int *old = malloc((nr + 1) * sizeof(int));
	int nr_old = 0;

	if (!old)
		return err_errnum(e, ENOMEM, "%s", what);
	if (res->len % sizeof(*c))
		return err_set(e, EXIT_SYSTEM, "%s: the child sent %zu bytes of changes, not whole records", what, res->len);
	for (size_t i = 0; i < nr; i++) {
		int fd = -1, *slot = NULL;

		if (c[i].how == RNS_KEPT)
			fd = c[i].value;
		else if (c[i].how == RNS_SENT && c[i].value >= 0 && c[i].value < res->nr_fds)
			fd = res->fds[c[i].value];
		else if (c[i].how == RNS_SENT)
			return err_set(e, EXIT_SYSTEM, "%s: the child named fd %lld of the %d it sent", what, (long long)c[i].value,
				       res->nr_fds);
		switch (c[i].kind) {
		case RNS_FILE_FD:
		case RNS_FILE_AUX:
			if (c[i].index >= (uint32_t)r->nr_files)
				return err_set(e, EXIT_SYSTEM, "%s: the child named file %u of %d", what, c[i].index, r->nr_files);
			slot = c[i].kind == RNS_FILE_FD ? &r->files[c[i].index].fd : &r->files[c[i].index].aux;
			break;
		case RNS_PIPE_END:
		case RNS_PIPE_GIVEN:
			if (c[i].index >= 2 * (uint32_t)r->nr_pipes)
				return err_set(e, EXIT_SYSTEM, "%s: the child named pipe end %u of %d", what, c[i].index, 2 * r->nr_pipes);
			if (c[i].kind == RNS_PIPE_GIVEN)
				r->pipes[c[i].index / 2].end_given[c[i].index % 2] = c[i].value;
			else
				slot = &r->pipes[c[i].index / 2].end[c[i].index % 2];
			break;
		case RNS_GHOST: {
			if (grow_one(&r->ghosts, r->nr_ghosts) < 0)
				return err_errnum(e, ENOMEM, "%s: remember a remade unlinked file", what);
			r->ghosts[r->nr_ghosts].ghost_id = c[i].key;
			r->ghosts[r->nr_ghosts++].fd = fd;
			break;
		}
		case RNS_MEMFD: {
			if (grow_one(&r->memfds, r->nr_memfds) < 0)
				return err_errnum(e, ENOMEM, "%s: remember a memfd", what);
			r->memfds[r->nr_memfds].ino = c[i].key;
			r->memfds[r->nr_memfds++].fd = fd;
			break;
		}
		case RNS_NR_OPEN:
			r->nr_open = c[i].value;
			break;
		default:
			return err_set(e, EXIT_SYSTEM, "%s: the child sent a change of unknown kind %u", what, c[i].kind);
		}
		if (slot) {
			if (*slot >= 0)
				old[nr_old++] = *slot;
			*slot = fd;
		}
	}
	/* Taken from res (closed below if no slot took them). */
	for (size_t i = 0; i < nr; i++)
		if (c[i].how == RNS_SENT && c[i].kind != RNS_PIPE_GIVEN && c[i].kind != RNS_NR_OPEN)
			res->fds[c[i].value] = -1;
	/* What a slot gave up and no slot holds now was closed by the child. */
	if (nr_old > 1)
		qsort(old, nr_old, sizeof(int), reopen_ns_int_cmp);
	for (int i = 0; i < nr_old; i++) {
		bool held = i && old[i] == old[i - 1];

		for (int k = 0; k < r->nr_files && !held; k++)
			held = r->files[k].fd == old[i] || r->files[k].aux == old[i];
		for (int k = 0; k < r->nr_pipes && !held; k++)
			held = r->pipes[k].end[0] == old[i] || r->pipes[k].end[1] == old[i];
		for (int k = 0; k < r->nr_ghosts && !held; k++)
			held = r->ghosts[k].fd == old[i];
		for (int k = 0; k < r->nr_memfds && !held; k++)
			held = r->memfds[k].fd == old[i];
		if (!held)
			close(old[i]);
	}
	return 0;
}

int reopen_ns_each(struct reopen *r, int (*pass)(struct reopen *r, struct err *e), bool (*concerns)(const struct reopen_file *f),
		   const char *what, struct err *e)
{
	struct reopen_ns_arg a = { r, pass };
	struct reopen_ns *ns = r->ns;
	int ret;

	if (!ns)
		return pass(r, e);
	ns->at = -1;
	if ((ret = pass(r, e)) < 0)
		return ret;
	for (int i = 0; i < ns->nr && ret >= 0; i++) {
		struct nschild_ns enter = { ns->ns[i].fd, CLONE_NEWNS, ns->ns[i].pin };
		struct nschild_result res;
		char action[256];
		bool any = false;

		/* No child for a namespace that has none of the pass's files. */
		for (int k = 0; k < r->nr_files && !any; k++)
			any = r->files[k].pid && concerns(&r->files[k]) && reopen_ns_of(ns, r->files[k].pid) == i;
		if (!any)
			continue;
		snprintf(action, sizeof(action), "%s in mount namespace %u", what, ns->ns[i].id);
		pr_debug("%s: in a child that entered it through '%s'", action, ns->ns[i].pin);
		ns->at = i;
		ret = nschild_run(action, &enter, 1, reopen_ns_child, &a, &res, e);
		ns->at = -1;
		if (ret >= 0)
			ret = reopen_ns_apply(r, &res, action, e);
		nschild_result_free(&res);
	}
	return ret;
}

void reopen_ns_free(struct reopen_ns *ns)
{
	if (!ns)
		return;
	for (int i = 0; i < ns->nr; i++) {
		for (int k = 0; k < ns->ns[i].nr_stubs; k++)
			free(ns->ns[i].stubs[k]);
		free(ns->ns[i].stubs);
		if (ns->ns[i].fd >= 0)
			close(ns->ns[i].fd);
		free(ns->ns[i].pids);
		free(ns->ns[i].pin);
	}
	free(ns->ns);
	free(ns);
}
