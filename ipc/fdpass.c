/* fdpass: see fdpass.h. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/exitcodes.h"
#include "ipc/fdpass.h"

int fdpass_send(int sock, const int *fds, const uint32_t *ids, int n, struct err *e)
{
	uint32_t data[1 + FDPASS_BATCH];
	char ctl[CMSG_SPACE(sizeof(int) * FDPASS_BATCH)];
	struct iovec iov = { data, sizeof(uint32_t) * (1 + n) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (n < 0 || n > FDPASS_BATCH)
		return err_set(e, EXIT_FAILURE_, "internal: fdpass batch of %d fds", n);
	data[0] = n;
	if (n)
		memcpy(data + 1, ids, sizeof(uint32_t) * n);
	if (n) {
		memset(ctl, 0, sizeof(ctl));
		mh.msg_control = ctl;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	}
	while (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0) {
		if (errno != EINTR)
			return err_errno(e, "send %d files over the files socket", n);
	}
	return 0;
}

int fdpass_send_end(int sock, struct err *e)
{
	return fdpass_send(sock, NULL, NULL, 0, e);
}

int fdpass_recv(int sock, int *fds, uint32_t *ids, struct err *e)
{
	uint32_t data[1 + FDPASS_BATCH];
	char ctl[CMSG_SPACE(sizeof(int) * FDPASS_BATCH)];
	struct iovec iov = { data, sizeof(data) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;
	ssize_t n;
	int nfds = 0;

	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_errno(e, "receive files from the files socket");
	/* Files first: a message of no bytes may still carry some. */
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int got[FDPASS_BATCH];

			/* A sender should use one block; close anything past the batch. */
			memcpy(got, CMSG_DATA(c), sizeof(int) * (k > FDPASS_BATCH ? FDPASS_BATCH : k));
			for (int i = 0; i < k && i < FDPASS_BATCH; i++) {
				if (nfds < FDPASS_BATCH)
					fds[nfds++] = got[i];
				else
					close(got[i]);
			}
		}
	if (mh.msg_flags & MSG_CTRUNC) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		return err_set(e, EXIT_SYSTEM, "files arrived truncated (MSG_CTRUNC): is RLIMIT_NOFILE too low?");
	}
	if (n == 0 && !nfds)
		return err_proto(e, "the files socket closed before its end marker; restore-files died");
	if (n < (ssize_t)sizeof(uint32_t) || data[0] > FDPASS_BATCH || (ssize_t)(sizeof(uint32_t) * (1 + data[0])) != n ||
	    (int)data[0] != nfds) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		return err_proto(e, "malformed message on the files socket: %zd bytes, %d fds", n, nfds);
	}
	memcpy(ids, data + 1, sizeof(uint32_t) * nfds);
	return nfds;
}
