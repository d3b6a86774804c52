/* track: see track.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "lib/exitcodes.h"
#include "lib/grow.h"
#include "lib/track.h"

void track_set_init(struct track_set *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < TRACK_MAX; i++)
		s->fd[i] = -1;
}

void track_set_close(struct track_set *s)
{
	for (int i = 0; i < s->nr; i++)
		if (s->fd[i] >= 0)
			close(s->fd[i]);
	track_set_init(s);
}

int track_set_find(const struct track_set *s, pid_t pid, uint64_t start_time)
{
	for (int i = 0; i < s->nr; i++)
		if (s->ent[i].pid == pid && s->ent[i].start_time == start_time)
			return s->fd[i];
	return -1;
}

int track_msg_check(const struct track_msg *m, size_t len, int nfds, int extra, struct err *e)
{
	if (len != sizeof(*m))
		return err_input(e, "track message of %zu bytes, want %zu", len, sizeof(*m));
	if (m->magic != TRACK_MAGIC)
		return err_input(e, "track message with magic %#x, want %#x: not amber-track's", m->magic, TRACK_MAGIC);
	if (m->version != TRACK_VERSION)
		return err_input(e, "track message of protocol version %u, this amber speaks %u", m->version, TRACK_VERSION);
	if (m->op < TRACK_CLAIM || m->op > TRACK_REPLY)
		return err_input(e, "track message with unknown op %u", m->op);
	if (m->nr > TRACK_MAX)
		return err_input(e, "track message with %u processes, at most %d", m->nr, TRACK_MAX);
	if ((int)m->nr + extra != nfds)
		return err_input(e, "track message lists %u processes but %d descriptors came (want %u)", m->nr, nfds,
				 m->nr + extra);
	return 0;
}

int track_send(int sock, const struct track_msg *m, const int *fds, int n, struct err *e)
{
	struct iovec iov = { (void *)m, sizeof(*m) };
	union {
		char buf[CMSG_SPACE(sizeof(int) * (TRACK_MAX + 1))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (n > TRACK_MAX + 1)
		return err_set(e, EXIT_FAILURE_, "internal: %d descriptors in one track message", n);
	if (n) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	}
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) != (ssize_t)sizeof(*m))
		return err_errno(e, "send a track message");
	return 0;
}

int track_recv(int sock, struct track_msg *m, int *fds, int max, int *nfds, struct err *e)
{
	struct iovec iov = { m, sizeof(*m) };
	union {
		char buf[CMSG_SPACE(sizeof(int) * (TRACK_MAX + 1))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	ssize_t got;

	*nfds = 0;
	memset(m, 0, sizeof(*m));
	got = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (got < 0)
		return err_errno(e, "receive a track message");
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		int n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (int i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < max)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		for (int i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		return err_input(e, "track message cut short (more than %zu bytes or %d descriptors)", sizeof(*m), max);
	}
	return got == 0 ? 0 : (int)got;
}

int track_connect(int dirfd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -1;
	/* Through the directory's fd: an images path may be longer than sun_path. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd, TRACK_SOCK);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;

		close(s);
		errno = err;
		return -1;
	}
	return s;
}

static void track_msg_init(struct track_msg *m, enum track_op op, uint64_t gen, uint64_t new_gen)
{
	memset(m, 0, sizeof(*m));
	m->magic = TRACK_MAGIC;
	m->version = TRACK_VERSION;
	m->op = op;
	m->gen = gen;
	m->new_gen = new_gen;
}

/* Sends a request and takes the reply's descriptors into s. */
static int track_ask(int sock, struct track_msg *m, struct track_set *s, bool *matched, struct err *e)
{
	int fds[TRACK_MAX + 1], nfds, ret;

	if ((ret = track_send(sock, m, NULL, 0, e)) < 0)
		return ret;
	ret = track_recv(sock, m, fds, TRACK_MAX + 1, &nfds, e);
	if (ret == 0)
		return err_set(e, EXIT_SYSTEM, "amber-track closed the connection without a reply");
	if (ret > 0 && (ret = track_msg_check(m, ret, nfds, 0, e)) == 0 && m->op != TRACK_REPLY)
		ret = err_input(e, "amber-track replied with op %u", m->op);
	if (ret < 0 || m->status < 0) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		return ret < 0 ? ret : m->status;
	}
	track_set_close(s);
	for (uint32_t i = 0; i < m->nr; i++) {
		s->ent[i] = m->ent[i];
		s->fd[i] = fds[i];
	}
	s->nr = m->nr;
	if (matched)
		*matched = m->matched;
	return 0;
}

int track_claim(int sock, uint64_t parent_id, uint64_t new_id, struct track_set *s, bool *matched, struct err *e)
{
	struct track_msg m;

	track_msg_init(&m, TRACK_CLAIM, parent_id, new_id);
	return track_ask(sock, &m, s, matched, e);
}

int track_get(int sock, uint64_t gen, struct track_set *s, struct err *e)
{
	struct track_msg m;

	track_msg_init(&m, TRACK_GET, gen, 0);
	return track_ask(sock, &m, s, NULL, e);
}

int track_adopt(int sock, uint64_t gen, const struct track_set *s, int dirfd, pid_t *holder, struct err *e)
{
	struct track_msg m;
	int fds[TRACK_MAX + 1], nfds, ret;

	track_msg_init(&m, TRACK_ADOPT, gen, 0);
	m.nr = s->nr;
	memcpy(m.ent, s->ent, sizeof(s->ent[0]) * s->nr);
	memcpy(fds, s->fd, sizeof(int) * s->nr);
	fds[s->nr] = dirfd;
	if ((ret = track_send(sock, &m, fds, s->nr + 1, e)) < 0)
		return ret;
	ret = track_recv(sock, &m, fds, TRACK_MAX + 1, &nfds, e);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (ret == 0)
		return err_set(e, EXIT_SYSTEM, "amber-track closed the connection without a reply");
	if (ret > 0 && (ret = track_msg_check(&m, ret, nfds, 0, e)) == 0 && m.status < 0)
		ret = err_errnum(e, -m.status, "amber-track refused to adopt the tracking");
	if (ret >= 0 && holder)
		*holder = m.holder_pid;
	return ret < 0 ? ret : 0;
}

int track_quit(int sock, struct err *e)
{
	struct track_msg m;

	track_msg_init(&m, TRACK_QUIT, 0, 0);
	return track_send(sock, &m, NULL, 0, e);
}

int track_uffd_api(int uffd, struct err *e)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = TRACK_UFFD_FEATURE_WP_ASYNC | TRACK_UFFD_FEATURE_WP_UNPOPULATED };

	if (ioctl(uffd, UFFDIO_API, &api) < 0)
		return err_errno(e, "enable asynchronous write-protect on a userfaultfd (UFFDIO_API, needs Linux 6.7)");
	return 0;
}

int track_uffd_register(int uffd, uint64_t start, uint64_t end)
{
	struct uffdio_register r = { .range = { start, end - start }, .mode = UFFDIO_REGISTER_MODE_WP };

	return ioctl(uffd, UFFDIO_REGISTER, &r) < 0 ? -errno : 0;
}

int track_uffd_protect(int uffd, uint64_t start, uint64_t end)
{
	struct uffdio_writeprotect w = { .range = { start, end - start }, .mode = UFFDIO_WRITEPROTECT_MODE_WP };

	return ioctl(uffd, UFFDIO_WRITEPROTECT, &w) < 0 ? -errno : 0;
}

#define TRACK_VEC 512

int track_scan(int pm_fd, uint64_t start, uint64_t end, bool reprotect, uint64_t **runs, int *nr, struct err *e)
{
	struct track_page_region vec[TRACK_VEC];
	size_t cap = 0;

	*runs = NULL;
	*nr = 0;
	while (start < end) {
		struct track_pm_scan_arg a = {
			.size = sizeof(a), .start = start, .end = end, .vec = (uintptr_t)vec, .vec_len = TRACK_VEC,
			.flags = TRACK_PM_SCAN_CHECK_WPASYNC | (reprotect ? TRACK_PM_SCAN_WP_MATCHING : 0),
			.category_mask = TRACK_PAGE_IS_WRITTEN, .return_mask = TRACK_PAGE_IS_WRITTEN,
		};
		int n = ioctl(pm_fd, TRACK_PAGEMAP_SCAN, &a);

		if (n < 0) {
			int err = errno;

			free(*runs);
			*runs = NULL;
			*nr = 0;
			if (err == EPERM)
				return -EPERM;
			return err_errnum(e, err, "scan the pagemap for written pages at %#llx (PAGEMAP_SCAN, needs Linux 6.7)",
					  (unsigned long long)start);
		}
		for (int i = 0; i < n; i++) {
			if (*nr && (*runs)[2 * *nr - 1] == vec[i].start) {
				(*runs)[2 * *nr - 1] = vec[i].end;
				continue;
			}
			if (grow_cap(runs, &cap, 2 * (size_t)*nr + 2) < 0)
				return err_errno(e, "remember written pages");
			(*runs)[2 * *nr] = vec[i].start;
			(*runs)[2 * *nr + 1] = vec[i].end;
			(*nr)++;
		}
		if (a.walk_end <= start)
			return err_set(e, EXIT_SYSTEM, "PAGEMAP_SCAN made no progress at %#llx", (unsigned long long)start);
		start = a.walk_end;
	}
	return 0;
}
