/* seize/ns.c: the tree's namespaces other than pid and mount: refuse the
 * kinds amber cannot restore, record the UTS and (empty) IPC namespaces.
 *
 * Each process's /proc/PID/ns/KIND is compared with this stage's own (the
 * dumper's): a task in the dumper's namespace is restored in the
 * restorer's, as before. Any other namespace is either recorded
 * (utsns.img, ipcns.img) or refused here, before anything else is dumped,
 * so the tree is resumed untouched (seize_run releases it on any error). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "images/image.h"
#include "images/ns.pb-c.h"
#include "lib/cleanup.h"
#include "lib/log.h"
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
	uint32_t *np;

	for (int i = 0; i < s->nr && !ns; i++)
		if (s->v[i].ino == ino)
			ns = &s->v[i];
	if (!ns) {
		struct seize_ns *nv = realloc(s->v, sizeof(*nv) * (s->nr + 1));

		if (!nv)
			return err_errno(e, "remember a namespace of pid %d", p->pid);
		s->v = nv;
		ns = &s->v[s->nr++];
		*ns = (struct seize_ns){ .ino = ino, .host_pid = p->pid };
	}
	if (!(np = realloc(ns->pids, sizeof(*np) * (ns->nr + 1))))
		return err_errno(e, "remember a namespace of pid %d", p->pid);
	ns->pids = np;
	np[ns->nr++] = p->ns_pid;
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

/* The refusal of a network namespace names its interfaces. */
static int seize_ns_refuse_net(const struct seize_proc *p, uint64_t ino, uint64_t self, struct err *e)
{
	struct nsinfo_link links[SEIZE_NS_SHOW];
	char names[SEIZE_NS_SHOW * 34] = "";
	struct err ignored;
	int n = nsinfo_read_links(p->pid, links, SEIZE_NS_SHOW, &ignored);

	for (int i = 0; i < n && i < SEIZE_NS_SHOW; i++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ", " : "", links[i].name);
	return err_input(e, "pid %d is in network namespace net:[%" PRIu64 "], not amber's net:[%" PRIu64 "]%s%s%s; "
			 "network namespaces are not supported (its interfaces, addresses and routes would be lost); "
			 "start the tree without a network namespace of its own (unshare -n)",
			 p->pid, ino, self, n > 0 ? " (interfaces: " : "", n > 0 ? names : "",
			 n > SEIZE_NS_SHOW ? ", ...)" : n > 0 ? ")" : "");
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

/* Writes ipcns.img (every namespace in s checked empty), or removes an old one. */
static int seize_ns_write_ipc(int dirfd, const struct seize_ns_set *s, struct err *e)
{
	struct image img;
	int ret = 0;

	if (!s->nr)
		return unlinkat(dirfd, "ipcns.img", 0) < 0 && errno != ENOENT ? err_errno(e, "remove an old ipcns.img") : 0;
	if ((ret = image_open_write(&img, dirfd, "ipcns", "ipcns.img", e)) < 0)
		return ret;
	for (int i = 0; ret == 0 && i < s->nr; i++) {
		IpcnsEntry ie = IPCNS_ENTRY__INIT;

		ie.id = s->v[i].ino;
		ie.n_pids = s->v[i].nr;
		ie.pids = s->v[i].pids;
		ret = image_write(&img, &ie.base, e);
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

int seize_dump_ns(int dirfd, const struct seize_tree *t, struct err *e)
{
	__attribute__((cleanup(seize_ns_set_free))) struct seize_ns_set uts = { 0 }, ipc = { 0 };
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
		if (ino != self_net)
			return seize_ns_refuse_net(p, ino, self_net, e);
		if ((ret = nsinfo_ns_ino(p->pid, "uts", &ino, e)) < 0)
			return ret;
		if (ino != self_uts && (ret = seize_ns_add(&uts, ino, p, e)) < 0)
			return ret;
		if ((ret = nsinfo_ns_ino(p->pid, "ipc", &ino, e)) < 0)
			return ret;
		if (ino != self_ipc && (ret = seize_ns_add(&ipc, ino, p, e)) < 0)
			return ret;
	}
	for (int i = 0; i < ipc.nr; i++)
		if ((ret = seize_ns_check_ipc(&ipc.v[i], e)) < 0)
			return ret;
	if ((ret = seize_ns_write_uts(dirfd, &uts, e)) < 0)
		return ret;
	return seize_ns_write_ipc(dirfd, &ipc, e);
}
