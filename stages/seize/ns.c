/* seize/ns.c: the tree's namespaces other than pid and mount: refuse the
 * kinds amber cannot restore, record the UTS and (empty) IPC namespaces.
 *
 * Each process's /proc/PID/ns/KIND is compared with this stage's own (the
 * dumper's): a task in the dumper's namespace is restored in the
 * restorer's, as before. Any other namespace is either recorded
 * (utsns.img, ipcns.img) or refused here, before anything else is dumped,
 * so the tree is resumed untouched (seize_run releases it on any error). */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "images/image.h"
#include "images/netns.h"
#include "images/ns.pb-c.h"
#include "lib/cleanup.h"
#include "lib/exitcodes.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/nschild.h"
#include "lib/nsinfo.h"
#include "stages/seize/seize.h"

#define SEIZE_NS_SHOW 8		/* objects or interfaces named in a refusal */

/* One namespace of the tree that is not the dumper's. */
struct seize_ns {
	uint64_t ino;
	pid_t host_pid;		/* its first process, as this stage sees it */
	uint32_t *pids;		/* as the images name them */
	size_t nr;
};

struct seize_ns_set {
	struct seize_ns *v;
	int nr;
};

static void seize_ns_set_free(struct seize_ns_set *s)
{
	for (int i = 0; i < s->nr; i++)
		free(s->v[i].pids);
	free(s->v);
}

/* Adds process p to the namespace ino of s. */
static int seize_ns_add(struct seize_ns_set *s, uint64_t ino, const struct seize_proc *p, struct err *e)
{
	struct seize_ns *ns = NULL;

	for (int i = 0; i < s->nr && !ns; i++)
		if (s->v[i].ino == ino)
			ns = &s->v[i];
	if (!ns) {
		if (grow_one(&s->v, s->nr) < 0)
			return err_errno(e, "remember a namespace of pid %d", p->pid);
		ns = &s->v[s->nr++];
		*ns = (struct seize_ns){ .ino = ino, .host_pid = p->pid };
	}
	if (grow_one(&ns->pids, ns->nr) < 0)
		return err_errno(e, "remember a namespace of pid %d", p->pid);
	ns->pids[ns->nr++] = p->ns_pid;
	return 0;
}

/* Why a kind is refused, and what to do instead. */
static const struct {
	const char *kind;	/* the /proc/PID/ns link */
	const char *label;	/* the namespace's kind, as the link names it */
	const char *why;
} seize_ns_refused[] = {
	{ "user", "user", "user namespaces are not supported (a restore cannot make its uid/gid maps and the capabilities "
		  "held in it again); start the tree without a user namespace of its own (unshare -U)" },
	{ "cgroup", "cgroup", "cgroup namespaces are not supported (a restore cannot make its cgroup root again); "
		    "start the tree without a cgroup namespace of its own (unshare -C)" },
	{ "time", "time", "time namespaces are not supported (a restore cannot set its clock offsets again); "
		  "start the tree without a time namespace of its own (unshare -T)" },
	{ "time_for_children", "time", "time namespaces are not supported (its children would be made in a time namespace "
			       "a restore cannot make again); start the tree without unshare -T" },
};

/* What the child reading a network namespace is given. */
struct seize_net_arg {
	const struct seize_ns *ns;
	const struct netns_other *others;
	int nr;
	const struct seize_opts *o;	/* its --external veth[] */
};

/* In a child in the namespace: its devices, addresses, routes and
 * sysctls (images/netns.h), packed and sent back. */
static int seize_net_child(void *arg, struct nschild_reply *reply, struct err *e)
{
	const struct seize_net_arg *a = arg;
	NetnsEntry ne = NETNS_ENTRY__INIT;
	uint8_t *buf;
	size_t len;
	int ret;

	ne.id = a->ns->ino;
	/* --empty-ns net: the namespace is the caller's to set up again. */
	if (a->o->empty_net)
		ne.has_empty = ne.empty = true;
	else if ((ret = netns_collect(&ne, a->ns->host_pid, a->others, a->nr, a->o->ext, a->o->nr_ext, e)) < 0)
		return ret;
	len = netns_entry__get_packed_size(&ne);
	if (!(buf = malloc(len ? len : 1)))
		return err_errno(e, "pack network namespace net:[%" PRIu64 "]", ne.id);
	netns_entry__pack(&ne, buf);
	return nschild_send(reply, buf, len, e);
}

/* Reads every network namespace of the tree (the tree's others open for
 * each child, to name where a veth's peer is) into out[i]. */
static int seize_ns_read_net(const struct seize_ns_set *net, const struct seize_opts *o, NetnsEntry **out,
			     struct err *e)
{
	_cleanup_free_ struct netns_other *others = calloc(net->nr ? net->nr : 1, sizeof(*others));
	int ret = 0;

	if (!others)
		return err_errno(e, "remember the network namespaces");
	for (int i = 0; i < net->nr; i++)
		others[i].fd = -1;
	for (int i = 0; ret == 0 && i < net->nr; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/ns/net", net->v[i].host_pid);
		others[i].id = net->v[i].ino;
		if ((others[i].fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			ret = err_errno(e, "open '%s'", path);
	}
	for (int i = 0; ret == 0 && i < net->nr; i++) {
		struct seize_net_arg a = { &net->v[i], others, net->nr, o };
		struct nschild_ns ns = { others[i].fd, CLONE_NEWNET, NULL };
		struct nschild_result res;
		char what[96];

		snprintf(what, sizeof(what), "read network namespace net:[%" PRIu64 "] of pid %d", net->v[i].ino,
			 net->v[i].host_pid);
		if ((ret = nschild_run(what, &ns, 1, seize_net_child, &a, &res, e)) < 0)
			break;
		if (!(out[i] = netns_entry__unpack(NULL, res.len, (const uint8_t *)res.data)))
			ret = err_set(e, EXIT_SYSTEM, "%s: a malformed answer", what);
		nschild_result_free(&res);
		if (ret == 0)
			pr_info("network namespace net:[%" PRIu64 "] of pid %d: %zu devices, %zu addresses, %zu routes, "
				"%zu sysctls", net->v[i].ino, net->v[i].host_pid, out[i]->n_links, out[i]->n_addrs,
				out[i]->n_routes, out[i]->n_sysctls);
	}
	for (int i = 0; i < net->nr; i++)
		if (others[i].fd >= 0)
			close(others[i].fd);
	return ret;
}

/* A process in a network namespace of the tree's own may hold no socket:
 * restore-files makes sockets in the restorer's namespace. */
static int seize_ns_no_sockets(const struct seize_proc *p, uint64_t ino, struct err *e)
{
	char path[64], link[64];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	snprintf(path, sizeof(path), "/proc/%d/fd", p->pid);
	if (!(d = opendir(path)))
		return err_errno(e, "list '%s'", path);
	while ((de = readdir(d))) {
		ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);

		if (n < 0)
			continue;
		link[n] = 0;
		if (!strncmp(link, "socket:", 7))
			return err_input(e, "pid %d fd %s is '%s' in network namespace net:[%" PRIu64 "] of the tree's own; "
					 "sockets in a network namespace of the tree's own are not supported (a restore "
					 "would make them in the restorer's namespace); start the tree without unshare -n",
					 p->pid, de->d_name, link, ino);
	}
	return 0;
}

/* Every thread of p is in the namespaces of its leader: setns(2) moves
 * only the thread that calls it, which a restore would not do again. */
static int seize_ns_threads(const struct seize_proc *p, struct err *e)
{
	static const char *const kinds[] = { "uts", "ipc", "net", "mnt", "user", "cgroup", "time" };

	for (int j = 1; j < p->nr_tids; j++)
		for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
			char path[96], lead[64] = "", thr[64] = "";

			snprintf(path, sizeof(path), "/proc/%d/ns/%s", p->pid, kinds[k]);
			if (readlink(path, lead, sizeof(lead) - 1) < 0)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/task/%d/ns/%s", p->pid, p->tids[j], kinds[k]);
			if (readlink(path, thr, sizeof(thr) - 1) < 0)
				continue;	/* exiting */
			if (strcmp(lead, thr))
				return err_input(e, "thread %d of pid %d is in %s namespace %s, its process in %s; threads in "
						 "namespaces other than their process's are not supported", p->tids[j], p->pid,
						 kinds[k], thr, lead);
		}
	return 0;
}

/* Refuses an IPC namespace that holds objects, naming them. */
static int seize_ns_check_ipc(const struct seize_ns *ns, struct err *e)
{
	struct nsinfo_ipc_obj objs[SEIZE_NS_SHOW];
	char what[SEIZE_NS_SHOW * 300] = "";
	int n = nsinfo_read_ipc(ns->host_pid, objs, SEIZE_NS_SHOW, e);

	if (n < 0)
		return n;
	if (n == 0)
		return 0;
	for (int i = 0; i < n && i < SEIZE_NS_SHOW; i++) {
		size_t l = strlen(what);

		if (!strcmp(objs[i].kind, "mqueue"))
			snprintf(what + l, sizeof(what) - l, "%sPOSIX message queue /%s", i ? ", " : "", objs[i].name);
		else
			snprintf(what + l, sizeof(what) - l, "%sSysV %s key %#llx id %lld", i ? ", " : "", objs[i].kind,
				 (unsigned long long)(uint32_t)objs[i].key, objs[i].id);
	}
	return err_input(e, "pid %d is in IPC namespace ipc:[%" PRIu64 "], which holds %d object%s (%s%s); "
			 "only an empty IPC namespace of its own is supported: restoring System V objects and "
			 "message queues is not; remove them (ipcrm, mq_unlink) or start the tree without unshare -i",
			 ns->host_pid, ns->ino, n, n == 1 ? "" : "s", what, n > SEIZE_NS_SHOW ? ", ..." : "");
}

/* The network namespaces read, to free. */
struct seize_ns_nets {
	NetnsEntry **v;
	int nr;
};

static void seize_ns_nets_free(struct seize_ns_nets *n)
{
	for (int i = 0; i < n->nr; i++)
		if (n->v[i])
			netns_entry__free_unpacked(n->v[i], NULL);
	free(n->v);
}

/* Writes utsns.img, or removes an earlier dump's if the tree has none. */
static int seize_ns_write_uts(int dirfd, const struct seize_ns_set *s, struct err *e)
{
	struct image img;
	int ret = 0;

	if (!s->nr)
		return unlinkat(dirfd, "utsns.img", 0) < 0 && errno != ENOENT ? err_errno(e, "remove an old utsns.img") : 0;
	if ((ret = image_open_write(&img, dirfd, "utsns", "utsns.img", e)) < 0)
		return ret;
	for (int i = 0; ret == 0 && i < s->nr; i++) {
		UtsnsEntry ue = UTSNS_ENTRY__INIT;
		struct nsinfo_uts u;

		if ((ret = nsinfo_read_uts(s->v[i].host_pid, &u, e)) < 0)
			break;
		ue.id = s->v[i].ino;
		ue.n_pids = s->v[i].nr;
		ue.pids = s->v[i].pids;
		ue.hostname = u.hostname;
		ue.domainname = u.domainname;
		pr_info("UTS namespace uts:[%" PRIu64 "] of pid %d: hostname '%s', domainname '%s', %zu processes",
			ue.id, s->v[i].host_pid, u.hostname, u.domainname, ue.n_pids);
		ret = image_write(&img, &ue.base, e);
	}
	if (ret < 0) {
		image_close(&img);
		return ret;
	}
	return image_close_write(&img, e);
}

/* Writes ipcns.img or netns.img (every namespace in s checked: empty, or
 * read into nets[i]), or removes an earlier dump's. */
static int seize_ns_write_plain(int dirfd, const char *kind, const struct seize_ns_set *s, NetnsEntry **nets, struct err *e)
{
	bool is_net = !strcmp(kind, "net");
	char name[32], image_kind[16];
	struct image img;
	int ret = 0;

	snprintf(name, sizeof(name), "%sns.img", kind);
	snprintf(image_kind, sizeof(image_kind), "%sns", kind);
	if (!s->nr)
		return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? err_errno(e, "remove an old %s", name) : 0;
	if ((ret = image_open_write(&img, dirfd, image_kind, name, e)) < 0)
		return ret;
	for (int i = 0; ret == 0 && i < s->nr; i++) {
		IpcnsEntry ie = IPCNS_ENTRY__INIT;
		NetnsEntry ne = NETNS_ENTRY__INIT;

		ie.id = s->v[i].ino;
		ie.n_pids = s->v[i].nr;
		ie.pids = s->v[i].pids;
		if (is_net) {
			ne = *nets[i];
			ne.id = s->v[i].ino;
			ne.n_pids = s->v[i].nr;
			ne.pids = s->v[i].pids;
		}
		ret = image_write(&img, is_net ? &ne.base : &ie.base, e);
	}
	if (ret < 0) {
		image_close(&img);
		return ret;
	}
	return image_close_write(&img, e);
}

/* The dumper's inode of kind; 0 if the kernel has no such kind. */
static int seize_ns_self(const char *kind, uint64_t *ino, struct err *e)
{
	int ret = nsinfo_ns_ino(0, kind, ino, e);

	if (ret == -ENOENT) {
		*ino = 0;
		return 0;
	}
	return ret;
}

int seize_dump_ns(int dirfd, const struct seize_tree *t, const struct seize_opts *o, struct err *e)
{
	__attribute__((cleanup(seize_ns_set_free))) struct seize_ns_set uts = { 0 }, ipc = { 0 }, net = { 0 };
	__attribute__((cleanup(seize_ns_nets_free))) struct seize_ns_nets nets = { NULL, 0 };
	uint64_t self_uts, self_ipc, self_net, self_ref[ARRAY_SIZE(seize_ns_refused)];
	int ret;

	if ((ret = seize_ns_self("uts", &self_uts, e)) < 0 || (ret = seize_ns_self("ipc", &self_ipc, e)) < 0 ||
	    (ret = seize_ns_self("net", &self_net, e)) < 0)
		return ret;
	for (size_t k = 0; k < ARRAY_SIZE(seize_ns_refused); k++)
		if ((ret = seize_ns_self(seize_ns_refused[k].kind, &self_ref[k], e)) < 0)
			return ret;
	for (int i = 0; i < t->nr; i++) {
		const struct seize_proc *p = &t->procs[i];
		uint64_t ino;

		/* A zombie has no namespaces left to read, nor to restore. */
		if (p->gone || p->zombie)
			continue;
		if ((ret = seize_ns_threads(p, e)) < 0)
			return ret;
		for (size_t k = 0; k < ARRAY_SIZE(seize_ns_refused); k++) {
			if (!self_ref[k])
				continue;
			if ((ret = nsinfo_ns_ino(p->pid, seize_ns_refused[k].kind, &ino, e)) < 0)
				return ret;
			if (ino != self_ref[k])
				return err_input(e, "pid %d is in %s namespace %s:[%" PRIu64 "] (/proc/%d/ns/%s), not amber's "
						 "%s:[%" PRIu64 "]; %s", p->pid, seize_ns_refused[k].label, seize_ns_refused[k].label,
						 ino, p->pid, seize_ns_refused[k].kind, seize_ns_refused[k].label, self_ref[k],
						 seize_ns_refused[k].why);
		}
		if ((ret = nsinfo_ns_ino(p->pid, "net", &ino, e)) < 0)
			return ret;
		if (ino != self_net && ((ret = seize_ns_no_sockets(p, ino, e)) < 0 || (ret = seize_ns_add(&net, ino, p, e)) < 0))
			return ret;
		if ((ret = nsinfo_ns_ino(p->pid, "uts", &ino, e)) < 0)
			return ret;
		if (ino != self_uts && (ret = seize_ns_add(&uts, ino, p, e)) < 0)
			return ret;
		if ((ret = nsinfo_ns_ino(p->pid, "ipc", &ino, e)) < 0)
			return ret;
		if (ino != self_ipc && (ret = seize_ns_add(&ipc, ino, p, e)) < 0)
			return ret;
	}
	if (net.nr && !(nets.v = calloc(net.nr, sizeof(*nets.v))))
		return err_errno(e, "remember the network namespaces");
	nets.nr = net.nr;
	if ((ret = seize_ns_read_net(&net, o, nets.v, e)) < 0)
		return ret;
	for (int i = 0; i < ipc.nr; i++)
		if ((ret = seize_ns_check_ipc(&ipc.v[i], e)) < 0)
			return ret;
	if ((ret = seize_ns_write_uts(dirfd, &uts, e)) < 0 || (ret = seize_ns_write_plain(dirfd, "ipc", &ipc, NULL, e)) < 0)
		return ret;
	return seize_ns_write_plain(dirfd, "net", &net, nets.v, e);
}
