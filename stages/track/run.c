/* track/run.c: the holder's loop (see main.c and lib/track.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ipc/fds.h"
#include "lib/exitcodes.h"
#include "lib/log.h"
#include "lib/track.h"
#include "stages/track/track.h"

struct holder {
	struct track_set set;
	int pidfd[TRACK_MAX];
	uint64_t gen;
	int listen_fd;
	int dir_fd;		/* the images directory the socket is in, or -1 (not known until ADOPT) */
	bool adopted;
	bool quit;
};

static void holder_drop(struct holder *h)
{
	for (int i = 0; i < h->set.nr; i++)
		if (h->pidfd[i] >= 0)
			close(h->pidfd[i]);
	track_set_close(&h->set);
}

/* Listens at DIR/track.sock of dirfd instead of where it listened, and
 * removes the old socket. The same directory keeps the socket it has. */
static int holder_move(struct holder *h, int dirfd, struct err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat a, b;
	int s;

	if (h->dir_fd >= 0 && fstat(h->dir_fd, &a) == 0 && fstat(dirfd, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino) {
		close(dirfd);
		return 0;
	}
	if (h->dir_fd < 0) {	/* the first set: the socket seize bound is in this directory */
		h->dir_fd = dirfd;
		return 0;
	}
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return err_errno(e, "make a new listening socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd, TRACK_SOCK);
	unlinkat(dirfd, TRACK_SOCK, 0);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 4) < 0) {
		close(s);
		close(dirfd);
		return err_errno(e, "listen at %s in the new images directory", TRACK_SOCK);
	}
	unlinkat(h->dir_fd, TRACK_SOCK, 0);
	close(h->dir_fd);
	close(h->listen_fd);
	h->dir_fd = dirfd;
	h->listen_fd = s;
	return 0;
}

/* ADOPT: the set sent replaces ours; each process gets a pidfd to watch. */
static int holder_adopt(struct holder *h, const struct track_msg *m, int *fds, struct err *e)
{
	int ret;

	holder_drop(h);
	for (uint32_t i = 0; i < m->nr; i++) {
		h->set.ent[i] = m->ent[i];
		h->set.fd[i] = fds[i];
		h->pidfd[i] = syscall(SYS_pidfd_open, m->ent[i].pid, 0);
		if (h->pidfd[i] < 0)
			pr_info("pid %d exited already: its tracking ends", m->ent[i].pid);
	}
	h->set.nr = m->nr;
	h->gen = m->gen;
	h->adopted = true;
	ret = holder_move(h, fds[m->nr], e);
	pr_info("tracking %d processes for dump %016llx", h->set.nr, (unsigned long long)h->gen);
	return ret;
}

/* Replies with the whole set (CLAIM, GET) or only a status. */
static int holder_reply(int c, const struct holder *h, int status, bool matched, bool with_fds, struct err *e)
{
	struct track_msg r;

	memset(&r, 0, sizeof(r));
	r.magic = TRACK_MAGIC;
	r.version = TRACK_VERSION;
	r.op = TRACK_REPLY;
	r.status = status;
	r.matched = matched;
	r.holder_pid = getpid();
	r.gen = h->gen;
	if (with_fds) {
		r.nr = h->set.nr;
		memcpy(r.ent, h->set.ent, sizeof(r.ent[0]) * h->set.nr);
	}
	return track_send(c, &r, with_fds ? h->set.fd : NULL, with_fds ? h->set.nr : 0, e);
}

/* Serves one connection: requests until EOF, each answered. */
static void holder_serve(struct holder *h, int c)
{
	struct timeval tv = { 5, 0 };
	struct ucred cr;
	socklen_t len = sizeof(cr);

	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || cr.uid != geteuid()) {
		pr_warn("refused a client of uid %d", (int)cr.uid);
		return;
	}
	for (;;) {
		struct track_msg m;
		int fds[TRACK_MAX + 1], nfds, ret;
		struct err e = { 0 };

		ret = track_recv(c, &m, fds, TRACK_MAX + 1, &nfds, &e);
		if (ret > 0 && track_msg_check(&m, ret, nfds, m.op == TRACK_ADOPT ? 1 : 0, &e) < 0)
			ret = -1;
		if (ret <= 0) {
			if (ret < 0)
				pr_warn("client: %s", e.msg);
			for (int i = 0; i < nfds; i++)
				close(fds[i]);
			return;
		}
		switch (m.op) {
		case TRACK_CLAIM: {
			bool matched = h->gen == m.gen;

			/* From now on the written bits are relative to the claimant's copy. */
			h->gen = m.new_gen;
			pr_info("claimed by dump %016llx (%s)", (unsigned long long)m.new_gen,
				matched ? "the parent's generation" : "another generation: it copies everything");
			ret = holder_reply(c, h, 0, matched, true, &e);
			break;
		}
		case TRACK_GET:
			ret = holder_reply(c, h, h->gen == m.gen ? 0 : -ESTALE, false, h->gen == m.gen, &e);
			break;
		case TRACK_ADOPT:
			ret = holder_adopt(h, &m, fds, &e);
			ret = holder_reply(c, h, ret < 0 ? -EINVAL : 0, false, false, ret < 0 ? &(struct err){ 0 } : &e);
			break;
		case TRACK_QUIT:
			h->quit = true;
			for (int i = 0; i < nfds; i++)
				close(fds[i]);
			return;
		default:
			ret = holder_reply(c, h, -EINVAL, false, false, &e);
		}
		if (ret < 0) {
			pr_warn("client: %s", e.msg);
			return;
		}
	}
}

static volatile sig_atomic_t holder_stop;

static void holder_on_term(int sig)
{
	holder_stop = 1;
}

int track_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	struct holder h = { .listen_fd = stage_fd(ctx, FD_NAME_TRACK), .dir_fd = -1 };
	time_t start = time(NULL);

	cap_t none = cap_init();

	(void)opts;
	/* It only holds descriptors: no capability at all. */
	if (!none || cap_set_proc(none) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		if (none)
			cap_free(none);
		return err_errno(e, "drop every capability");
	}
	cap_free(none);
	{
		int type = 0;
		socklen_t len = sizeof(type);

		if (getsockopt(h.listen_fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET)
			return err_set(e, EXIT_USAGE, "fd %d (--fd track=N) is not a listening SOCK_SEQPACKET socket",
				       h.listen_fd);
	}
	track_set_init(&h.set);
	/* SIGTERM ends the tracking as QUIT does, socket removed. */
	{
		struct sigaction sa = { .sa_handler = holder_on_term };

		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
	}
	while (!h.quit && !holder_stop) {
		struct pollfd p[TRACK_MAX + 1];
		int n = 0, live = 0;

		p[n++] = (struct pollfd){ .fd = h.listen_fd, .events = POLLIN };
		for (int i = 0; i < h.set.nr; i++) {
			p[n++] = (struct pollfd){ .fd = h.pidfd[i], .events = POLLIN };
			live += h.pidfd[i] >= 0;
		}
		if (h.adopted && !live)
			break;
		if (!h.adopted && time(NULL) - start > 30) {
			pr_warn("no tracking to hold came within 30 s");
			break;
		}
		if (poll(p, n, 1000) < 0) {
			if (errno == EINTR)
				continue;
			return err_errno(e, "poll");
		}
		for (int i = 0; i < h.set.nr; i++)
			if (h.pidfd[i] >= 0 && (p[1 + i].revents & (POLLIN | POLLHUP))) {
				pr_info("pid %d exited: its tracking ends", h.set.ent[i].pid);
				close(h.pidfd[i]);
				h.pidfd[i] = -1;
				close(h.set.fd[i]);
				h.set.fd[i] = -1;
			}
		if (p[0].revents & POLLIN) {
			int c = accept4(h.listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (c >= 0) {
				holder_serve(&h, c);
				close(c);
			} else if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
				return err_errno(e, "accept on %s", TRACK_SOCK);
			}
		}
	}
	if (h.dir_fd >= 0)
		unlinkat(h.dir_fd, TRACK_SOCK, 0);
	pr_info("tracking ends");
	holder_drop(&h);
	return 0;
}
