/* restore-tasks/ns.c: the tree's own UTS, IPC and network namespaces,
 * made again before any task exists.
 *
 * For every record of utsns.img (ipcns.img, netns.img) a short-lived child
 * of the stage unshares a new namespace of that kind, sets the dumped
 * hostname and domainname (an IPC namespace starts empty, as it was
 * dumped; a network namespace has only lo, which it sets up if it was), and
 * sends it back as an fd (lib/nschild.h); then it exits and the stage's fd
 * keeps the namespace. Once every network namespace exists, more children
 * enter each to make its devices, then to set them up (rt_net_setup). Each task enters its namespace with
 * setns before it forks its children (fork.c), so they inherit it unless
 * they have their own; a task the images do not list goes back to the
 * stage's own namespace (which it started in anyway). The stage itself
 * never changes namespace. */
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "images/image.h"
#include "images/netns.h"
#include "images/ns.pb-c.h"
#include "lib/exitcodes.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/nschild.h"
#include "stages/restore-tasks/restore-tasks.h"

/* Sets lo up in the calling task's (new) network namespace; 0 or -1. */
static int rt_ns_lo_up(void)
{
	struct ifreq ifr;
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (sk < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	ret = ioctl(sk, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (ret == 0)
		ret = ioctl(sk, SIOCSIFFLAGS, &ifr);
	close(sk);
	return ret;
}

/* A namespace to make: its type and what goes in it. */
struct rt_ns_arg {
	int type;		/* CLONE_NEWUTS with u, CLONE_NEWIPC, CLONE_NEWNET with net */
	const char *kind;
	const UtsnsEntry *u;
	const NetnsEntry *net;
	uint64_t id;
};

/* In a child: a new namespace of the type, with hostname and domainname
 * for UTS, lo up or not for a network namespace; sent back as an fd, which
 * keeps it once the child is gone. */
static int rt_ns_child(void *arg, struct nschild_reply *reply, struct err *e)
{
	const struct rt_ns_arg *a = arg;
	char path[64];
	int fd, ret;

	if (unshare(a->type) < 0 ||
	    (a->u && (sethostname(a->u->hostname, strlen(a->u->hostname)) < 0 ||
		      setdomainname(a->u->domainname, strlen(a->u->domainname)) < 0)) ||
	    (a->net && a->net->lo_up && rt_ns_lo_up() < 0))
		return err_errno(e, "make the %s namespace %s:[%llu] again (unshare%s)", a->kind, a->kind,
				 (unsigned long long)a->id,
				 a->u ? ", sethostname, setdomainname" : a->net && a->net->lo_up ? ", set lo up" : "");
	snprintf(path, sizeof(path), "/proc/self/ns/%s", a->kind);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_errno(e, "open the new %s namespace %s:[%llu] ('%s')", a->kind, a->kind, (unsigned long long)a->id,
				 path);
	ret = nschild_send_fds(reply, &fd, 1, e);
	close(fd);
	return ret;
}

/* A new namespace of type (CLONE_NEWUTS with u, CLONE_NEWIPC, CLONE_NEWNET
 * with n), as an fd. */
static int rt_ns_make(int type, const char *kind, const UtsnsEntry *u, const NetnsEntry *net, uint64_t id, int *fd, struct err *e)
{
	struct rt_ns_arg a = { type, kind, u, net, id };
	struct nschild_result res;
	char what[96];
	int ret;

	*fd = -1;
	snprintf(what, sizeof(what), "make the %s namespace %s:[%llu] again", kind, kind, (unsigned long long)id);
	if ((ret = nschild_run(what, NULL, 0, rt_ns_child, &a, &res, e)) < 0)
		return ret;
	if (res.nr_fds != 1) {
		nschild_result_free(&res);
		return err_set(e, EXIT_SYSTEM, "%s: the child sent %d fds, not the namespace's", what, res.nr_fds);
	}
	*fd = TAKE_FD(res.fds[0]);
	nschild_result_free(&res);
	return 0;
}

/* What a child setting up one new network namespace is given. */
struct rt_net_arg {
	const NetnsEntry *const *all;
	const int *fds;
	int nr, self;
	const struct rt_opts *o;
	int outside_fd;		/* the stage's own network namespace */
	int pass;		/* 0: make its devices; 1: set them up; 2: wait for them to settle */
};

/* In a child in the new namespace all[self]: its devices, or their set-up. */
static int rt_net_child(void *arg, struct nschild_reply *reply, struct err *e)
{
	const struct rt_net_arg *a = arg;

	if (a->pass == 2)
		return netns_settle(a->all[a->self], e);
	return a->pass ? netns_configure(a->all[a->self], e)
		       : netns_make_links(a->all, a->fds, a->nr, a->self, a->o->ext, a->o->nr_ext, a->outside_fd, e);
}

/* Fills the new network namespaces fds[i] of all[i]: every device first
 * (a veth pair may join two of them), then their set-up, then a wait for
 * the kernel to catch up with their carriers. */
static int rt_net_setup(const NetnsEntry *const *all, const int *fds, int nr, const struct rt_opts *o, struct err *e)
{
	_cleanup_close_ int own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int ret;

	if (own < 0)
		return err_errno(e, "open '/proc/self/ns/net'");
	for (int pass = 0; pass < 3; pass++)
		for (int i = 0; i < nr; i++) {
			struct rt_net_arg a = { all, fds, nr, i, o, own, pass };

			/* Left empty (--empty-ns net, at dump or now): its caller
			 * sets it up, a container runtime in its setup-namespaces. */
			if (o->empty_net || all[i]->empty) {
				if (pass == 0)
					pr_info("network namespace net:[%llu] is left empty for the caller to set up (--empty-ns net)",
						(unsigned long long)all[i]->id);
				continue;
			}
			struct nschild_ns ns = { fds[i], CLONE_NEWNET, NULL };
			char what[96];

			snprintf(what, sizeof(what), "%s of network namespace net:[%llu]",
				 pass == 2 ? "wait for the devices" : pass ? "set up the devices" : "make the devices", (unsigned long long)all[i]->id);
			if ((ret = nschild_run(what, &ns, 1, rt_net_child, &a, NULL, e)) < 0)
				return ret;
		}
	return 0;
}

/* Where task t keeps the fd of its namespace of type. */
static int *rt_ns_fd_of(struct rt_task *t, int type)
{
	return type == CLONE_NEWUTS ? &t->uts_fd : type == CLONE_NEWIPC ? &t->ipc_fd : &t->net_fd;
}

/* Reads one image of namespaces (none if it is missing) and gives every
 * task listed the fd of its new namespace, the others the stage's own. */
static int rt_ns_load(int dirfd, struct rt_plan *p, const char *kind, int type, const struct rt_opts *o, struct err *e)
{
	char name[32], self[32];
	struct image img;
	ProtobufCMessage *msg;
	int ret, own, nr_net = 0;
	bool any = false;
	_cleanup_free_ const NetnsEntry **nets = calloc(RT_MAX_NS, sizeof(*nets));
	_cleanup_free_ int *net_fds = calloc(RT_MAX_NS, sizeof(*net_fds));

	if (!nets || !net_fds)
		return err_errno(e, "read '%sns.img'", kind);

	snprintf(name, sizeof(name), "%sns.img", kind);
	snprintf(self, sizeof(self), "%sns", kind);
	/* The header's kind is checked, so every record is of this kind's type. */
	if ((ret = image_open_read(&img, dirfd, self, name, e)) == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	while ((ret = image_read(&img, &msg, e)) > 0) {
		const UtsnsEntry *u = type == CLONE_NEWUTS ? (UtsnsEntry *)msg : NULL;
		const IpcnsEntry *ip = type == CLONE_NEWIPC ? (IpcnsEntry *)msg : NULL;
		const NetnsEntry *nn = type == CLONE_NEWNET ? (NetnsEntry *)msg : NULL;
		uint64_t id = u ? u->id : ip ? ip->id : nn->id;
		size_t np = u ? u->n_pids : ip ? ip->n_pids : nn->n_pids;
		const uint32_t *pids = u ? u->pids : ip ? ip->pids : nn->pids;
		int fd = -1;

		if (p->nr_ns_fds >= RT_MAX_NS)
			ret = err_input(e, "'%s': the tree has more than %d namespaces of its own", name, RT_MAX_NS);
		else
			ret = rt_ns_make(type, kind, u, nn, id, &fd, e);
		for (size_t k = 0; ret == 0 && k < np; k++) {
			struct rt_task *t = NULL;

			for (int i = 0; i < p->nr && !t; i++)
				if (p->tasks[i].pe->pid == pids[k] && !p->tasks[i].pe->helper)
					t = &p->tasks[i];
			if (!t)
				ret = err_input(e, "'%s': %s namespace %llu names pid %u, which pstree.img does not have",
						name, kind, (unsigned long long)id, pids[k]);
			else
				*rt_ns_fd_of(t, type) = fd;
		}
		if (ret == 0) {
			pr_info("%s namespace %s:[%llu] made again for %zu processes%s%s%s%s%s", kind, kind, (unsigned long long)id, np,
				u ? ": hostname '" : "", u ? u->hostname : "", u ? "'" : "", nn ? (nn->lo_up ? ", lo up" : ", lo down") : "",
				nn && nn->n_links > 1 ? ", with its devices" : "");
			p->ns_fds[p->nr_ns_fds++] = fd;
			any = true;
		} else if (fd >= 0) {
			close(fd);
		}
		if (ret == 0 && nn) {
			/* kept until every namespace of the image exists */
			nets[nr_net] = nn;
			net_fds[nr_net++] = fd;
		} else {
			protobuf_c_message_free_unpacked(msg, NULL);
		}
		if (ret < 0)
			break;
	}
	image_close(&img);
	if (ret == 0 && nr_net)
		ret = rt_net_setup(nets, net_fds, nr_net, o, e);
	for (int i = 0; i < nr_net; i++)
		protobuf_c_message_free_unpacked((ProtobufCMessage *)nets[i], NULL);
	if (ret < 0 || !any)
		return ret;
	snprintf(self, sizeof(self), "/proc/self/ns/%s", kind);
	if ((own = open(self, O_RDONLY | O_CLOEXEC)) < 0)
		return err_errno(e, "open '%s'", self);
	p->ns_fds[p->nr_ns_fds++] = own;
	for (int i = 0; i < p->nr; i++) {
		int *fd = rt_ns_fd_of(&p->tasks[i], type);

		if (*fd < 0)
			*fd = own;
	}
	return 0;
}

int rt_ns_plan(int dirfd, struct rt_plan *p, const struct rt_opts *o, struct err *e)
{
	int ret;

	for (int i = 0; i < p->nr; i++)
		p->tasks[i].uts_fd = p->tasks[i].ipc_fd = p->tasks[i].net_fd = -1;
	if ((ret = rt_ns_load(dirfd, p, "uts", CLONE_NEWUTS, o, e)) < 0 ||
	    (ret = rt_ns_load(dirfd, p, "ipc", CLONE_NEWIPC, o, e)) < 0)
		return ret;
	return rt_ns_load(dirfd, p, "net", CLONE_NEWNET, o, e);
}

void rt_ns_free(struct rt_plan *p)
{
	for (int i = 0; i < p->nr_ns_fds; i++)
		close(p->ns_fds[i]);
	p->nr_ns_fds = 0;
}
