/* amber-mountd: the manager of a restore's delayed mounts.
 *
 * What it does
 *	The driver starts it, after build-mntns, when `restore --delay-mount`
 *	put stubs on mounts; it outlives the restore. It starts amber-stubfs
 *	(which serves the stubs) and listens on RUN/mountd.sock, a
 *	SOCK_SEQPACKET socket (lib/delayproto.h), for `run PID` (the driver,
 *	once the tree of PID runs: the stubs start holding requests), `list`
 *	and `mount MOUNTPOINT SOURCE TYPE OPTIONS` (`amber mount-delayed`) and
 *	`stop`. A mount makes the real file system in the tree's mount
 *	namespace, from the images or what is given, and swaps it in for the
 *	stub and its binds (swap.c): the tree is frozen with ptrace, every
 *	descriptor, working directory and file mapping it holds on the stub is
 *	opened again on the real mount by the same path with the same flags,
 *	position, address and protection, by remote system calls, and the
 *	stub goes. A file missing or changed on the real mount refuses the
 *	swap (naming pid, fd and path) before anything changes; a real mount
 *	that fails leaves the stub. It ends once every delayed mount is
 *	swapped, when the tree's root is gone, at `stop`, or when amber-stubfs
 *	dies; then the stubs' connections close and their mounts go with the
 *	tree.
 *
 * Inputs	stdin is not read. --stub, once per delayed mount: its fields
 *	(lib/delayproto.h line, tab-separated): dump mount id, a pid in its
 *	namespace, mountpoint, type, source, super block options, binds'
 *	mountpoints.
 *
 * Options	--stub LINE (repeatable), as above. --run-dir is required: the
 *	socket is made there.
 *
 * Outputs	stdout: nothing. `ready` on the named fd `ready` once the socket
 *	listens and amber-stubfs serves; replies on the socket.
 *
 * Named fds	`stubs` (required): build-mntns' socket of /dev/fuse fds,
 *	handed to amber-stubfs. `ready` (optional): a pipe the driver waits
 *	on.
 *
 * Exit status	0 when done; 2 usage; 4 if the socket or amber-stubfs cannot
 *	be made. A refused or failed swap is an `error` reply, not an exit.
 *
 * Side effects	RUN/mountd.sock (removed at the end); amber-stubfs, its
 *	child; the swap freezes the tree for its duration and mounts in
 *	the tree's mount namespace.
 *
 * Capabilities	all it has: it mounts in the tree's namespace
 *	(CAP_SYS_ADMIN), ptraces the tree (CAP_SYS_PTRACE), reads its
 *	map_files, and opens the tree's files on the real mount.
 *
 * By hand
 *	amber mount-delayed -D DIR --list; amber mount-delayed -D DIR --mount MOUNTPOINT
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/fds.h"
#include "ipc/stage.h"
#include "lib/cleanup.h"
#include "lib/delayproto.h"
#include "lib/exitcodes.h"
#include "lib/log.h"
#include "stages/mountd/mountd.h"

/* Starts amber-stubfs beside this program with the stubs socket and its
 * end of a socketpair; *sock gets ours. */
static pid_t md_start_stubfs(const struct stage_ctx *ctx, int *sock, struct err *e)
{
	char self[PATH_MAX], exe[PATH_MAX + 16], log[PATH_MAX], v[16];
	int sp[2];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	pid_t pid;

	if (n < 0)
		return err_errno(e, "find amber-mountd's own path");
	self[n] = 0;
	*strrchr(self, '/') = 0;
	snprintf(exe, sizeof(exe), "%s/amber-stubfs", self);
	snprintf(log, sizeof(log), "%s/stubfs.log", ctx->run_dir);
	snprintf(v, sizeof(v), "%d", ctx->verbosity);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return err_errno(e, "make the socket to amber-stubfs");
	if ((pid = fork()) < 0)
		return err_errno(e, "start amber-stubfs");
	if (pid == 0) {
		char a1[32], a2[32];

		if (dup2(stage_fd(ctx, FD_NAME_STUBS), FD_DEF_STUBS) < 0 || dup2(sp[1], FD_DEF_MOUNTD) < 0)
			_exit(EXIT_SYSTEM);
		snprintf(a1, sizeof(a1), "stubs=%d", FD_DEF_STUBS);
		snprintf(a2, sizeof(a2), "mountd=%d", FD_DEF_MOUNTD);
		execl(exe, exe, "--fd", a1, "--fd", a2, "-v", v, "-o", log, (char *)NULL);
		_exit(EXIT_SYSTEM);
	}
	close(sp[1]);
	*sock = sp[0];
	return pid;
}

/* The listening socket RUN/mountd.sock, only root's. */
static int md_listen(const char *run, struct err *e)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s;

	dp_sock_path(a.sun_path, sizeof(a.sun_path), run);
	unlink(a.sun_path);
	if ((s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0)
		return err_errno(e, "make the socket '%s'", a.sun_path);
	umask(077);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 8) < 0) {
		close(s);
		return err_errno(e, "listen on '%s'", a.sun_path);
	}
	return s;
}

/* Tells amber-stubfs verb and waits for its ok. */
static int md_tell_stubfs(struct md_state *s, const char *verb, struct err *e)
{
	char buf[256];
	size_t len = 0;
	ssize_t n;

	if (dp_add(buf, sizeof(buf), &len, verb, NULL, 0, e) < 0 || dp_send(s->stubfs, buf, len, -1, e) < 0)
		return -1;
	if (!strcmp(verb, "quit"))
		return 0;
	if ((n = dp_recv(s->stubfs, buf, sizeof(buf), NULL, e)) <= 0)
		return n < 0 ? n : err_proto(e, "amber-stubfs ended");
	return 0;
}

/* One request on a connection; its reply in out. 1 to go on, 0 to end. */
static int md_request(struct md_state *s, char *in, size_t n, char *out, size_t size, size_t *len, int *pidfd)
{
	struct err e = { 0 };
	struct dp_line l;
	size_t pos = 0;
	char code[8], msg[sizeof(e.msg) + PATH_MAX];
	const char *f[2] = { code, msg };
	int ret = dp_next(in, n, &pos, &l, &e);

	if (ret > 0 && !strcmp(l.verb, "list")) {
		for (int i = 0; i < s->nr; i++) {
			const struct md_stub *st = &s->stubs[i];
			const char *g[6 + MD_MAX_BINDS] = { st->swapped ? "swapped" : "delayed", st->mountpoint, st->fstype,
							    st->source, st->options };
			int k = 5;

			for (int b = 0; b < st->nr_binds; b++)
				g[k++] = st->binds[b];
			if (dp_add(out, size, len, "mnt", g, k, &e) < 0)
				break;
		}
		snprintf(msg, sizeof(msg), "%d", s->nr);
		f[0] = msg;
		dp_add(out, size, len, "ok", f, 1, &e);
		return 1;
	}
	if (ret > 0 && !strcmp(l.verb, "run") && l.nr == 1) {
		/* run 0: restore-tasks starts, the stubs hold from now on;
		 * run PID: the tree of PID runs, watched. */
		if (md_tell_stubfs(s, "run", &e) < 0)
			ret = -1;
		else if (atoi(l.f[0]) > 0 && *pidfd < 0) {
			s->root = atoi(l.f[0]);
			if ((*pidfd = syscall(SYS_pidfd_open, s->root, 0)) < 0)
				ret = err_errno(&e, "watch the tree of pid %d", s->root);
			else
				pr_info("the tree of pid %d runs on %d delayed mounts", s->root, s->nr);
		}
	} else if (ret > 0 && !strcmp(l.verb, "stop")) {
		dp_add(out, size, len, "ok", NULL, 0, &e);
		return 0;
	} else if (ret > 0 && !strcmp(l.verb, "mount") && l.nr == 4) {
		struct md_stub *st = NULL;
		struct md_request rq = { l.f[1], l.f[2], l.f[3] };

		for (int i = 0; i < s->nr; i++)
			if (!strcmp(s->stubs[i].mountpoint, l.f[0]))
				st = &s->stubs[i];
		if (!st)
			ret = err_set(&e, EXIT_USAGE, "'%s' is not a delayed mount of this restore (--list names them)", l.f[0]);
		else if (st->swapped)
			ret = err_set(&e, EXIT_USAGE, "'%s' is the real mount already", l.f[0]);
		else if ((ret = md_swap(s, st, &rq, msg, sizeof(msg), &e)) == 0) {
			f[0] = msg;
			pr_info("%s", msg);
			dp_add(out, size, len, "ok", f, 1, &e);
			return 1;
		}
	} else if (ret > 0) {
		ret = err_set(&e, EXIT_USAGE, "unknown request '%s'", l.verb);
	}
	if (ret < 0) {
		pr_err("%s", e.msg);
		snprintf(code, sizeof(code), "%d", e.exit_code ? e.exit_code : EXIT_SYSTEM);
		snprintf(msg, sizeof(msg), "%s", e.msg);
		for (char *p = msg; *p; p++)
			if (*p == '\t' || *p == '\n')
				*p = ' ';
		dp_add(out, size, len, "error", f, 2, &e);
	} else {
		dp_add(out, size, len, "ok", NULL, 0, &e);
	}
	return 1;
}

static bool md_all_swapped(const struct md_state *s)
{
	for (int i = 0; i < s->nr; i++)
		if (!s->stubs[i].swapped)
			return false;
	return true;
}

static int md_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	struct md_state *s = opts;
	_cleanup_close_ int lsock = -1, pidfd = -1;
	char path[PATH_MAX];
	int ready = stage_fd(ctx, FD_NAME_READY), go = 1;
	pid_t stubfs;

	if (!ctx->run_dir)
		return err_set(e, EXIT_USAGE, "give --run-dir, where the socket goes");
	if (!s->nr)
		return err_set(e, EXIT_USAGE, "no --stub: nothing is delayed");
	signal(SIGPIPE, SIG_IGN);
	if ((lsock = md_listen(ctx->run_dir, e)) < 0)
		return lsock;
	if ((stubfs = md_start_stubfs(ctx, &s->stubfs, e)) < 0)
		return stubfs;
	close(stage_fd(ctx, FD_NAME_STUBS));
	if (ready >= 0) {
		if (write(ready, "ready\n", 6) != 6)
			pr_warn("could not tell the driver it is ready: %m");
		close(ready);
	}
	dp_sock_path(path, sizeof(path), ctx->run_dir);
	while (go) {
		struct pollfd p[3] = { { lsock, POLLIN, 0 }, { s->stubfs, POLLIN, 0 }, { pidfd, POLLIN, 0 } };
		char in[DP_MAX_MSG], out[DP_MAX_MSG];
		size_t len = 0;
		ssize_t n;
		int c;

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents) {
			pr_warn("amber-stubfs ended: the stubs are gone");
			break;
		}
		if (p[2].revents) {
			pr_info("the tree of pid %d is gone: the stubs go too", s->root);
			break;
		}
		if (!p[0].revents || (c = accept4(lsock, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		if ((n = dp_recv(c, in, sizeof(in), NULL, e)) > 0) {
			go = md_request(s, in, n, out, sizeof(out), &len, &pidfd);
			if (len)
				send(c, out, len, MSG_NOSIGNAL);
		}
		close(c);
		if (md_all_swapped(s)) {
			pr_info("every delayed mount is the real one now");
			break;
		}
	}
	unlink(path);
	md_tell_stubfs(s, "quit", &(struct err){ 0 });
	close(s->stubfs);
	waitpid(stubfs, NULL, 0);
	return 0;
}

/* --stub LINE: the fields of one delayed mount. */
static int md_parse_option(void *opts, int opt, const char *arg, struct err *e)
{
	struct md_state *s = opts;
	struct md_stub *st = &s->stubs[s->nr];
	struct dp_line l;
	size_t pos = 0, n = strlen(arg);
	char *buf = malloc(n + 2);

	if (opt != 'S' || !buf)
		return err_set(e, EXIT_USAGE, "unknown option");
	if (s->nr == MD_MAX_STUBS)
		return err_set(e, EXIT_USAGE, "more than %d --stub", MD_MAX_STUBS);
	memcpy(buf, arg, n);
	buf[n] = '\n';
	buf[n + 1] = 0;
	if (dp_next(buf, n + 1, &pos, &l, e) <= 0 || l.nr < 5 || l.nr - 5 > MD_MAX_BINDS)
		return err_set(e, EXIT_USAGE, "--stub '%s': want ID, PID, MOUNTPOINT, TYPE, SOURCE, OPTIONS and BINDS "
			       "separated by tabs", arg);
	st->mnt_id = strtoul(l.verb, NULL, 10);
	st->ns_pid = atoi(l.f[0]);
	st->mountpoint = (char *)l.f[1];
	st->fstype = (char *)l.f[2];
	st->source = (char *)l.f[3];
	st->options = (char *)l.f[4];
	for (int i = 5; i < l.nr; i++)
		st->binds[st->nr_binds++] = (char *)l.f[i];
	s->nr++;
	return 0;
}

static const struct option md_options[] = {
	{ "stub", required_argument, NULL, 'S' },
	{ NULL, 0, NULL, 0 },
};

static const struct stage_desc md_desc = {
	.name = "mountd",
	.summary = "Manage a restore's delayed mounts: serve their stubs, swap the real mounts in.",
	.usage = "      --stub LINE      one delayed mount (repeatable)",
	.keep_all_caps = true,
	.fds = { FD_NAME_STUBS },
	.optional_fds = { FD_NAME_READY },
	.no_images_dir = true,
	.options = md_options,
	.parse_option = md_parse_option,
	.run = md_run,
};

int main(int argc, char **argv)
{
	static struct md_state s;

	return stage_main(&md_desc, &s, argc, argv);
}
