/* nschild: run a function in a child that entered some namespaces, and
 * bring back its error, and what it sends, in the caller.
 *
 * amber never enters a namespace in a process that goes on afterwards:
 * going back is not always possible (a pivoted or chroot'ed root, a pid
 * namespace that only the children join) and a setns-and-switch-back
 * ladder leaves the caller wherever the first failure stopped it. So a
 * child forks, enters (setns, in the order given), runs fn and exits: the
 * process boundary is the cleanup. With no namespace at all, it is a child
 * to unshare in, which reports the same way.
 *
 *	struct nschild_ns ns = { fd, CLONE_NEWNS, pin };
 *	ret = nschild_run("remove link remap 'x'", &ns, 1, unlink_fn, path, NULL, e);
 *
 * The child reports on a SOCK_SEQPACKET socket pair: any number of data and
 * fd messages (nschild_send, nschild_send_fds), then a last one with fn's
 * return value and struct err. Seqpacket keeps each message whole, so a
 * child that dies half way leaves no half message, and carries fds
 * (SCM_RIGHTS) as well as bytes. The parent reads up to that last message;
 * a child that exits or is killed before sending it is an error naming
 * 'what' and how the child ended, never a success (the trailer vouches for
 * the result, as in the stages' streams).
 *
 * setns(CLONE_NEWPID) makes only the caller's later children members of
 * the pid namespace, so when a type has CLONE_NEWPID the child forks once
 * more and fn runs in the grandchild, a member; the middle child waits for
 * it and reports a grandchild that ended without reporting.
 *
 * The child is a fork: fn sees the caller's memory and fds as they were,
 * and what it changes there stays in the child unless it is sent back.
 */
#ifndef AMBER_NSCHILD_H
#define AMBER_NSCHILD_H

#include <stddef.h>

#include "lib/err.h"

#define NSCHILD_DATA_MAX (64u << 20)	/* what a child may send in all */
#define NSCHILD_CHUNK	 (32u << 10)	/* bytes per data message */
#define NSCHILD_FDS_MAX	 64		/* fds per fd message */

/* One namespace to enter. */
struct nschild_ns {
	int fd;			/* an nsfs file (/proc/PID/ns/KIND, a pin) or a pidfd */
	int type;		/* its CLONE_NEW* (0: whatever fd is; a pidfd takes several) */
	const char *name;	/* its path, for messages; NULL if none */
};

/* The child's end of the report, for fn to send with. */
struct nschild_reply;

/* Runs in the child, in the namespaces; returns >= 0 (handed back as
 * nschild_run's result) or a negative value with e filled. */
typedef int (*nschild_fn)(void *arg, struct nschild_reply *reply, struct err *e);

/* What fn sent. The caller owns it: nschild_result_free. */
struct nschild_result {
	char *data;		/* all the bytes of nschild_send, then a NUL; NULL if none */
	size_t len;
	int *fds;		/* the fds of nschild_send_fds, in order; set one to -1 to keep it */
	int nr_fds;
};

/* Runs fn(arg) in a child that entered ns[0..nr_ns) in that order (a
 * user namespace goes first), and waits for it. Returns fn's return value
 * with fn's e; or a negative errno with e naming 'what' (the action, for
 * messages: "read the UTS namespace of pid 12") when the child could not
 * be made, could not enter a namespace, or ended without reporting. res
 * (NULL: not wanted, anything sent is dropped) holds what fn sent, also
 * when fn failed. */
int nschild_run(const char *what, const struct nschild_ns *ns, int nr_ns, nschild_fn fn, void *arg,
		struct nschild_result *res, struct err *e);
/* The same for one namespace given by path (opened here, read-only). */
int nschild_run_at(const char *what, const char *path, int type, nschild_fn fn, void *arg,
		   struct nschild_result *res, struct err *e);

/* In fn: sends len bytes (any number of calls; the parent gets them
 * joined). */
int nschild_send(struct nschild_reply *reply, const void *buf, size_t len, struct err *e);
/* In fn: sends n fds (duplicates: fn's own stay open). */
int nschild_send_fds(struct nschild_reply *reply, const int *fds, int n, struct err *e);

/* Frees the data and closes the fds still in res->fds. */
void nschild_result_free(struct nschild_result *res);

#endif
