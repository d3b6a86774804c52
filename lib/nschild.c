/* nschild: see nschild.h. */
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/exitcodes.h"
#include "lib/grow.h"
#include "lib/nschild.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

struct nschild_reply {
	int sk;
};

enum { NSCHILD_MSG_DATA = 1, NSCHILD_MSG_FDS, NSCHILD_MSG_DONE };

/* Every message starts with this; len bytes of payload follow in the same
 * message (for fds: their count, as a uint32_t). */
struct nschild_hdr {
	uint32_t kind;
	uint32_t len;
};

/* The last message: fn's result. */
struct nschild_done {
	int32_t ret;
	struct err e;
};

/* The word for a namespace type in messages. */
static const char *nschild_kind(int type)
{
	switch (type) {
	case CLONE_NEWNS: return "mount";
	case CLONE_NEWUTS: return "UTS";
	case CLONE_NEWIPC: return "IPC";
	case CLONE_NEWNET: return "network";
	case CLONE_NEWPID: return "pid";
	case CLONE_NEWUSER: return "user";
	case CLONE_NEWCGROUP: return "cgroup";
	case CLONE_NEWTIME: return "time";
	default: return "given";
	}
}

/* Sends one message: header, payload, and fds if any; 0 or -errno. */
static int nschild_sendmsg(int sk, uint32_t kind, const void *buf, size_t len, const int *fds, int nfds)
{
	struct nschild_hdr h = { kind, (uint32_t)len };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)buf, len } };
	union {
		char b[CMSG_SPACE(sizeof(int) * NSCHILD_FDS_MAX)];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	ssize_t n;

	if (nfds) {
		struct cmsghdr *cm;

		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	while ((n = sendmsg(sk, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(h) + len ? 0 : -EIO;
}

int nschild_send(struct nschild_reply *reply, const void *buf, size_t len, struct err *e)
{
	const char *p = buf;

	while (len) {
		size_t n = len < NSCHILD_CHUNK ? len : NSCHILD_CHUNK;
		int ret = nschild_sendmsg(reply->sk, NSCHILD_MSG_DATA, p, n, NULL, 0);

		if (ret < 0)
			return err_errnum(e, ret, "send %zu bytes to the parent", n);
		p += n;
		len -= n;
	}
	return 0;
}

int nschild_send_fds(struct nschild_reply *reply, const int *fds, int n, struct err *e)
{
	while (n > 0) {
		uint32_t k = n < NSCHILD_FDS_MAX ? n : NSCHILD_FDS_MAX;
		int ret = nschild_sendmsg(reply->sk, NSCHILD_MSG_FDS, &k, sizeof(k), fds, k);

		if (ret < 0)
			return err_errnum(e, ret, "send %u fds to the parent", k);
		fds += k;
		n -= k;
	}
	return 0;
}

/* Fills e with how a child that never reported ended; returns -ECHILD. */
static int nschild_died(const char *what, const char *who, int status, struct err *e)
{
	if (WIFSIGNALED(status))
		err_set(e, EXIT_SYSTEM, "%s: %s was killed by signal %d (%s) before it reported", what, who,
			WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		err_set(e, EXIT_SYSTEM, "%s: %s exited with status %d before it reported", what, who, WEXITSTATUS(status));
	return -ECHILD;
}

/* Runs fn, reports its result and exits: 0 only once the report is sent,
 * which is what the middle child of a pid namespace goes by. */
static void __attribute__((noreturn)) nschild_call(nschild_fn fn, void *arg, int sk)
{
	struct nschild_reply reply = { sk };
	struct nschild_done done;

	memset(&done, 0, sizeof(done));
	done.ret = fn(arg, &reply, &done.e);
	_exit(nschild_sendmsg(sk, NSCHILD_MSG_DONE, &done, sizeof(done), NULL, 0) < 0 ? 1 : 0);
}

/* The child: enters the namespaces, then runs fn here or, for a pid
 * namespace, in a child of its own that is a member. */
static void __attribute__((noreturn)) nschild_child(const char *what, const struct nschild_ns *ns, int nr_ns,
						    nschild_fn fn, void *arg, int sk)
{
	struct nschild_done done;
	bool newpid = false;
	pid_t member;
	int status;

	memset(&done, 0, sizeof(done));
	for (int i = 0; i < nr_ns; i++) {
		/* Type 0 enters whatever the file is: ask it, for a pid one. */
		int type = ns[i].type ? ns[i].type : ioctl(ns[i].fd, NS_GET_NSTYPE);

		if (setns(ns[i].fd, ns[i].type) < 0) {
			done.ret = err_errno(&done.e, "%s: enter the %s namespace%s%s%s (setns on fd %d)", what,
					     nschild_kind(type), ns[i].name ? " '" : "", ns[i].name ? ns[i].name : "",
					     ns[i].name ? "'" : "", ns[i].fd);
			_exit(nschild_sendmsg(sk, NSCHILD_MSG_DONE, &done, sizeof(done), NULL, 0) < 0 ? 1 : 0);
		}
		newpid |= type > 0 && (type & CLONE_NEWPID);
	}
	if (!newpid)
		nschild_call(fn, arg, sk);
	if ((member = fork()) == 0)
		nschild_call(fn, arg, sk);
	if (member < 0) {
		done.ret = err_errno(&done.e, "%s: fork a member of the pid namespace", what);
	} else {
		while (waitpid(member, &status, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			_exit(0);
		done.ret = nschild_died(what, "the child doing it in the pid namespace", status, &done.e);
	}
	_exit(nschild_sendmsg(sk, NSCHILD_MSG_DONE, &done, sizeof(done), NULL, 0) < 0 ? 1 : 0);
}

/* Keeps the fds of one message in res (or closes them). */
static int nschild_take_fds(const char *what, const int *fds, int n, struct nschild_result *res, struct err *e)
{
	if (!res) {
		for (int i = 0; i < n; i++)
			close(fds[i]);
		return 0;
	}
	if (grow_by(&res->fds, res->nr_fds, n) < 0) {
		for (int i = 0; i < n; i++)
			close(fds[i]);
		return err_errnum(e, ENOMEM, "%s: keep the %d fds the child sent", what, res->nr_fds + n);
	}
	memcpy(res->fds + res->nr_fds, fds, n * sizeof(*fds));
	res->nr_fds += n;
	return 0;
}

/* Keeps the bytes of one data message in res, NUL-terminated. */
static int nschild_take_data(const char *what, const char *buf, size_t n, struct nschild_result *res, struct err *e)
{
	if (!res)
		return 0;
	if (res->len + n > NSCHILD_DATA_MAX)
		return err_set(e, EXIT_SYSTEM, "%s: the child sent more than %u bytes", what, NSCHILD_DATA_MAX);
	if (grow_to(&res->data, res->len + n + 1) < 0)
		return err_errnum(e, ENOMEM, "%s: keep the %zu bytes the child sent", what, res->len + n);
	memcpy(res->data + res->len, buf, n);
	res->len += n;
	res->data[res->len] = 0;
	return 0;
}

/* Reads the child's messages up to its last one, into done; 1 once it
 * came, 0 at end of file before it, negative with e filled on failure. */
static int nschild_collect(const char *what, int sk, struct nschild_result *res, struct nschild_done *done, struct err *e)
{
	_cleanup_free_ char *buf = malloc(sizeof(struct nschild_hdr) + NSCHILD_CHUNK + sizeof(*done));

	if (!buf)
		return err_errnum(e, ENOMEM, "%s: a buffer for the child's messages", what);
	for (;;) {
		union {
			char b[CMSG_SPACE(sizeof(int) * NSCHILD_FDS_MAX)];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { buf, sizeof(struct nschild_hdr) + NSCHILD_CHUNK + sizeof(*done) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
		int fds[NSCHILD_FDS_MAX], nfds = 0, ret = 0;
		struct nschild_hdr h = { 0, 0 };
		ssize_t n;

		while ((n = recvmsg(sk, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
			;
		if (n < 0)
			return err_errno(e, "%s: read what the child reports", what);
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
				int k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

				if (k > NSCHILD_FDS_MAX - nfds)
					k = NSCHILD_FDS_MAX - nfds;
				memcpy(fds + nfds, CMSG_DATA(cm), k * sizeof(int));
				nfds += k;
			}
		if (n == 0)
			return 0;
		if (n >= (ssize_t)sizeof(h))
			memcpy(&h, buf, sizeof(h));
		if (mh.msg_flags & MSG_CTRUNC)
			ret = err_set(e, EXIT_SYSTEM, "%s: fds the child sent were lost (out of fds? raise RLIMIT_NOFILE)", what);
		else if ((mh.msg_flags & MSG_TRUNC) || n < (ssize_t)sizeof(h) ||
			 h.len != n - sizeof(h) || (h.kind == NSCHILD_MSG_FDS) != (nfds > 0) ||
			 (h.kind == NSCHILD_MSG_FDS && (h.len != sizeof(uint32_t) || *(uint32_t *)(buf + sizeof(h)) != (uint32_t)nfds)) ||
			 (h.kind == NSCHILD_MSG_DONE && h.len != sizeof(*done)) || h.kind < NSCHILD_MSG_DATA || h.kind > NSCHILD_MSG_DONE)
			ret = err_set(e, EXIT_SYSTEM, "%s: the child sent a malformed message (%zd bytes, kind %u, %d fds)", what, n,
				      h.kind, nfds);
		if (ret < 0) {
			for (int i = 0; i < nfds; i++)
				close(fds[i]);
			return -EPROTO;
		}
		if (h.kind == NSCHILD_MSG_DONE) {
			memcpy(done, buf + sizeof(h), sizeof(*done));
			return 1;
		}
		if (h.kind == NSCHILD_MSG_FDS)
			ret = nschild_take_fds(what, fds, nfds, res, e);
		else
			ret = nschild_take_data(what, buf + sizeof(h), h.len, res, e);
		if (ret < 0)
			return ret;
	}
}

int nschild_run(const char *what, const struct nschild_ns *ns, int nr_ns, nschild_fn fn, void *arg,
		struct nschild_result *res, struct err *e)
{
	struct nschild_done done = { 0 };
	int sk[2], status = 0, got;
	pid_t child;

	if (res)
		memset(res, 0, sizeof(*res));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk) < 0)
		return err_errno(e, "%s: make a socket pair to hear from the child", what);
	/* Nothing buffered may be written twice, by the child too. */
	fflush(NULL);
	if ((child = fork()) < 0) {
		close(sk[0]);
		close(sk[1]);
		return err_errno(e, "%s: fork", what);
	}
	if (child == 0) {
		close(sk[0]);
		nschild_child(what, ns, nr_ns, fn, arg, sk[1]);
	}
	close(sk[1]);
	got = nschild_collect(what, sk[0], res, &done, e);
	/* A child the parent gave up on must not block on a full socket. */
	if (got < 0)
		kill(child, SIGKILL);
	close(sk[0]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (got == 0)
		got = nschild_died(what, "the child doing it", status, e);
	if (got < 0) {
		nschild_result_free(res);
		return got;
	}
	if (done.ret < 0) {
		*e = done.e;
		/* A nameless failure still says what failed. */
		if (!e->msg[0])
			err_set(e, EXIT_SYSTEM, "%s: failed (%d) without a message", what, done.ret);
	}
	return done.ret;
}

int nschild_run_at(const char *what, const char *path, int type, nschild_fn fn, void *arg,
		   struct nschild_result *res, struct err *e)
{
	struct nschild_ns ns = { open(path, O_RDONLY | O_CLOEXEC), type, path };
	int ret;

	if (res)
		memset(res, 0, sizeof(*res));
	if (ns.fd < 0)
		return err_errno(e, "%s: open the %s namespace '%s'", what, nschild_kind(type), path);
	ret = nschild_run(what, &ns, 1, fn, arg, res, e);
	close(ns.fd);
	return ret;
}

void nschild_result_free(struct nschild_result *res)
{
	if (!res)
		return;
	for (int i = 0; i < res->nr_fds; i++)
		if (res->fds[i] >= 0)
			close(res->fds[i]);
	free(res->fds);
	free(res->data);
	memset(res, 0, sizeof(*res));
}
