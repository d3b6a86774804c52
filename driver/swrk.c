/* swrk: 'amber swrk FD', the RPC service container runtimes call.
 *
 * runc (and podman, containerd, CRI-O through it) starts the checkpoint
 * tool as 'TOOL swrk FD' with FD one end of a SOCK_SEQPACKET socketpair,
 * and speaks CRIU's RPC over it: one criu_req or criu_resp per packet
 * (images/rpc.proto). This is a front end, not a pipeline: VERSION and
 * FEATURE_CHECK are answered here, CHECK runs 'amber check', and DUMP and
 * RESTORE run the same cmd_dump and cmd_restore the command line does,
 * with an argv made from the request (driver/swrkopts.c) and the caller's
 * notifications as hooks between their rows (drv_set_notify).
 *
 * The caller's images_dir_fd and work_dir_fd are its own descriptors, not
 * passed: they are opened through /proc/PEER/fd/N, PEER from SO_PEERCRED.
 * swrk's own stdin, stdout and stderr are the container's (runc gives the
 * restored process's stdio to swrk so that inherit_fd can name them): they
 * are moved aside before anything runs, and amber's log goes to log_file
 * in the work directory, never to them.
 *
 * Exit status: 0 when every request was answered (a failed dump is an
 * answer), 2 bad command line, 5 the caller broke the protocol.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver/driver.h"
#include "driver/json.h"
#include "driver/swrkopts.h"
#include "images/rpc.pb-c.h"
#include "lib/cleanup.h"
#include "lib/exitcodes.h"
#include "lib/log.h"
#include "lib/proc.h"

/* The version runc reads: it needs 3.x and compares major*10000 +
 * minor*100 (+1 minor when gitid is set, so none is). */
#define SWRK_VERSION_MAJOR 3
#define SWRK_VERSION_MINOR 19

#define SWRK_MAX_PACKET (1 << 20)
/* amber's dump inside the caller's images directory. */
#define SWRK_SUBDIR "amber"

struct swrk {
	int sk;
	pid_t peer;
	int stdio[3];		/* the caller's stdin, stdout and stderr, moved aside */
	bool notify;		/* the request's notify_scripts */
};

/* With AMBER_SWRK_RECORD=DIR, each packet received is kept there as
 * DIR/req-PID-N.bin (the unit tests' recorded packets were made so). */
static void swrk_record(const uint8_t *buf, size_t n)
{
	static int seq;
	const char *dir = getenv("AMBER_SWRK_RECORD");
	char path[PATH_MAX];
	int fd;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/req-%d-%d.bin", dir, getpid(), seq++);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return;
	if (write(fd, buf, n) != (ssize_t)n)
		pr_warn("could not record a request in '%s'", path);
	close(fd);
}

/* Receives one request; 0 at an orderly end, 1 with *req set, <0. */
static int swrk_recv(int sk, CriuReq **req, struct err *e)
{
	_cleanup_free_ uint8_t *buf = NULL;
	ssize_t n;

	n = recv(sk, NULL, 0, MSG_PEEK | MSG_TRUNC);
	if (n < 0)
		return err_errno(e, "read a request from the caller's socket");
	if (n == 0)
		return 0;
	if (n > SWRK_MAX_PACKET)
		return err_proto(e, "a request of %zd bytes, more than %d", n, SWRK_MAX_PACKET);
	if (!(buf = malloc(n)))
		return err_errno(e, "a request of %zd bytes", n);
	if (recv(sk, buf, n, 0) != n)
		return err_errno(e, "read a request from the caller's socket");
	swrk_record(buf, n);
	if (!(*req = criu_req__unpack(NULL, n, buf)))
		return err_proto(e, "a request of %zd bytes that is not a criu_req (images/rpc.proto)", n);
	return 1;
}

static int swrk_send(int sk, const CriuResp *resp, struct err *e)
{
	size_t n = criu_resp__get_packed_size(resp);
	_cleanup_free_ uint8_t *buf = malloc(n ? n : 1);

	if (!buf)
		return err_errno(e, "an answer of %zu bytes", n);
	criu_resp__pack(resp, buf);
	if (send(sk, buf, n, MSG_NOSIGNAL) != (ssize_t)n)
		return err_errno(e, "send the answer to the caller");
	return 0;
}

/* Logs a request as JSON (amber show's printer), for whoever wants to
 * know what a runtime asked. */
static void swrk_log_request(const CriuReq *req)
{
	FILE *f = fdopen(dup(log_fd()), "w");

	if (!f)
		return;
	pr_info("request:");
	json_print_message(f, &req->base, 0);
	fputc('\n', f);
	fclose(f);
}

/* A notification to the caller, and its answer checked. */
static int swrk_notify(void *arg, const char *script, int pid, struct err *e)
{
	struct swrk *s = arg;
	CriuResp resp = CRIU_RESP__INIT;
	CriuNotify n = CRIU_NOTIFY__INIT;
	CriuReq *ans = NULL;
	int ret;

	if (!s->notify)
		return 0;
	resp.type = CRIU_REQ_TYPE__NOTIFY;
	resp.success = true;
	resp.notify = &n;
	n.script = (char *)script;
	if (pid) {
		n.has_pid = true;
		n.pid = pid;
	}
	pr_info("notify '%s'%s", script, pid ? " with the pid" : "");
	if ((ret = swrk_send(s->sk, &resp, e)) < 0)
		return err_wrap(e, "notification '%s'", script);
	if ((ret = swrk_recv(s->sk, &ans, e)) <= 0)
		return ret < 0 ? err_wrap(e, "the answer to notification '%s'", script) :
		       err_proto(e, "the caller closed the socket instead of answering notification '%s'", script);
	ret = 0;
	if (ans->type != CRIU_REQ_TYPE__NOTIFY)
		ret = err_proto(e, "the caller answered notification '%s' with a request of type %d", script, ans->type);
	else if (!ans->has_notify_success || !ans->notify_success)
		ret = err_set(e, EXIT_SYSTEM, "the caller's '%s' notification handler failed (see the caller's log)", script);
	criu_req__free_unpacked(ans, NULL);
	return ret;
}

/* Opens the caller's directory fd N through /proc/PEER/fd/N; its path in
 * 'path'. */
static int swrk_peer_dir(struct swrk *s, const char *what, int n, char *path, size_t size, struct err *e)
{
	char link[64];
	int fd;
	ssize_t len;

	snprintf(link, sizeof(link), "/proc/%d/fd/%d", s->peer, n);
	if ((fd = open(link, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return err_errno(e, "option '%s' %d: open the caller's directory '%s'", what, n, link);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((len = readlink(link, path, size - 1)) < 0) {
		close(fd);
		return err_errno(e, "option '%s' %d: read the path of '%s'", what, n, link);
	}
	path[len] = 0;
	if (path[0] != '/') {
		close(fd);
		return err_input(e, "option '%s' %d: the caller's directory '%s' has no path here", what, n, path);
	}
	return fd;
}

/* manage_cgroups: amber saves no cgroups of its own; what it honours is
 * that the tree lives in one set of cgroups, the root's, so that a
 * restore into cg_root (where the caller puts swrk, runc does) puts every
 * task where it was. A task elsewhere is refused by pid and cgroup. */
static int swrk_check_cgroups(pid_t pid, pid_t root, const char *root_cg, struct err *e)
{
	char path[64], *cg = NULL;
	size_t len = 0;
	pid_t *kids = NULL;
	int nr = 0, ret;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	if (!(f = fopen(path, "re")))
		return err_errno(e, "read '%s'", path);
	ret = getdelim(&cg, &len, 0, f) < 0 ? -1 : 0;
	fclose(f);
	if (ret < 0) {
		free(cg);
		return err_errno(e, "read '%s'", path);
	}
	if (root_cg && strcmp(cg, root_cg)) {
		ret = err_set(e, EXIT_INPUT, "pid %d is not in the cgroups of the tree's root %d (manage_cgroups): "
			      "amber restores every task into the root's cgroups; move it, or send manage_cgroups_mode "
			      "ignore", pid, root);
		free(cg);
		return ret;
	}
	if ((ret = proc_read_children(pid, pid, &kids, &nr, e)) == 0)
		for (int i = 0; ret == 0 && i < nr; i++)
			ret = swrk_check_cgroups(kids[i], root, root_cg ? root_cg : cg, e);
	free(kids);
	free(cg);
	return ret;
}

/* freeze_cgroup: amber freezes the tree with ptrace, not the freezer;
 * it honours the option by checking that the cgroup holds no task outside
 * the tree, which would go on running beside the frozen ones. */
static int swrk_check_freeze_cgroup(const char *cgroup, pid_t root, struct err *e)
{
	char path[PATH_MAX];
	pid_t pid;
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup);
	if (!(f = fopen(path, "re")))
		return err_errno(e, "option 'freeze_cgroup': read '%s'", path);
	while (ret == 0 && fscanf(f, "%d", &pid) == 1) {
		pid_t p = pid;

		/* Up the parents until the root (in the tree) or init (not). */
		while (p > 1 && p != root) {
			struct proc_stat st;

			if (proc_read_stat(p, p, &st, e) < 0) {
				p = 0;
				break;
			}
			p = st.ppid;
		}
		if (p != root)
			ret = err_set(e, EXIT_INPUT, "option 'freeze_cgroup' '%s': pid %d is in it but not in the tree "
				      "of pid %d, and would run on while the tree is frozen", cgroup, pid, root);
	}
	fclose(f);
	return ret;
}

/* The root's stdin, stdout and stderr that are pipes are the runtime's
 * (runc records them in descriptors.json and gives them back with
 * inherit_fd at restore): they are dumped as external, so a restore
 * without them is refused rather than given new empty pipes. */
static int swrk_stdio_pipes(pid_t pid, struct swrk_args *a, struct err *e)
{
	for (int k = 0; k < 3; k++) {
		char path[64], target[64];
		unsigned long ino;
		ssize_t n;
		int ret;

		snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, k);
		if ((n = readlink(path, target, sizeof(target) - 1)) < 0)
			continue;
		target[n] = 0;
		if (sscanf(target, "pipe:[%lu]", &ino) != 1)
			continue;
		pr_info("pid %d fd %d is %s: external, the caller gives it back with inherit_fd", pid, k, target);
		if ((ret = swrk_arg(a, e, "--external")) < 0 || (ret = swrk_arg(a, e, "pipe[%lu]", ino)) < 0)
			return ret;
	}
	return 0;
}

/* Runs 'amber check' with its output in the log. */
static int swrk_check(struct err *e)
{
	pid_t child = fork();
	int status;

	if (child < 0)
		return err_errno(e, "fork 'amber check'");
	if (child == 0) {
		char *argv[] = { "check", NULL };

		dup2(2, 1);
		drv_set_command("check");
		_exit(cmd_check(1, argv));
	}
	if (waitpid(child, &status, 0) != child)
		return err_errno(e, "wait for 'amber check'");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return err_set(e, EXIT_SYSTEM, "amber check: an essential kernel feature is missing; run 'amber check' "
			       "to see which");
	return 0;
}

/* DUMP and RESTORE: the request as a command line of amber's own. */
static int swrk_run(struct swrk *s, const CriuReq *req, CriuResp *resp, struct err *e)
{
	const CriuOpts *o = req->opts;
	bool restore = req->type == CRIU_REQ_TYPE__RESTORE;
	char images[PATH_MAX], work[PATH_MAX];
	_cleanup_close_ int idir = -1, wdir = -1, logfd = -1;
	struct swrk_args a;
	int ret;

	if (!o)
		return err_input(e, "the %s request has no options", restore ? "restore" : "dump");
	if (o->images_dir_fd >= 0) {
		if ((idir = swrk_peer_dir(s, "images_dir_fd", o->images_dir_fd, images, sizeof(images), e)) < 0)
			return idir;
	} else if (o->images_dir) {
		snprintf(images, sizeof(images), "%s", o->images_dir);
		if ((idir = open(images, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			return err_errno(e, "option 'images_dir' '%s'", images);
	} else {
		return err_input(e, "the request names no images directory (images_dir_fd or images_dir)");
	}
	if (o->has_work_dir_fd) {
		if ((wdir = swrk_peer_dir(s, "work_dir_fd", o->work_dir_fd, work, sizeof(work), e)) < 0)
			return wdir;
	} else {
		snprintf(work, sizeof(work), "%s", images);
		wdir = dup(idir);
	}
	if (wdir < 0)
		return err_errno(e, "the work directory '%s'", work);
	/* A name with '/' is refused with the other options (swrkopts.c). */
	if (o->log_file && !strchr(o->log_file, '/')) {
		if ((logfd = openat(wdir, o->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
			return err_errno(e, "option 'log_file': open '%s' in the work directory '%s'", o->log_file, work);
		dup2(logfd, 2);
		log_init("amber", o->log_level >= 4 ? LOG_DEBUG : LOG_INFO, 2);
	}
	swrk_log_request(req);
	if ((ret = swrk_check_opts(o, req->type, e)) < 0)
		return ret;
	/* runc names /etc/criu/runc.conf whether it exists or not: a file
	 * that is not there asks for nothing. */
	if (o->config_file && access(o->config_file, F_OK) == 0)
		return err_input(e, "option 'config_file' '%s': amber reads no CRIU configuration file; remove it, or "
				 "give the container the annotation org.criu.config=\"\"", o->config_file);
	if (!restore && o->root) {
		char proot[64];
		struct stat a1, a2;

		snprintf(proot, sizeof(proot), "/proc/%d/root", o->pid);
		if (stat(proot, &a1) < 0 || stat(o->root, &a2) < 0)
			return err_errno(e, "option 'root' '%s': compare it with the root of pid %d", o->root, o->pid);
		if (a1.st_dev != a2.st_dev || a1.st_ino != a2.st_ino)
			return err_input(e, "option 'root' '%s' is not the root of pid %d", o->root, o->pid);
	}
	if (!restore && o->manage_cgroups &&
	    !(o->has_manage_cgroups_mode && (o->manage_cgroups_mode == CRIU_CG_MODE__IGNORE ||
					     o->manage_cgroups_mode == CRIU_CG_MODE__CG_NONE)) &&
	    (ret = swrk_check_cgroups(o->pid, o->pid, NULL, e)) < 0)
		return ret;
	if (!restore && o->freeze_cgroup && (ret = swrk_check_freeze_cgroup(o->freeze_cgroup, o->pid, e)) < 0)
		return ret;
	/* The caller's directory holds its own files (runc's descriptors.json):
	 * amber's dump is a directory of its own in it. */
	if (strlen(images) + sizeof("/" SWRK_SUBDIR) > sizeof(images))
		return err_input(e, "images directory '%s': path too long", images);
	strcat(images, "/" SWRK_SUBDIR);
	if ((ret = swrk_build_args(o, req->type, images, work, s->stdio, &a, e)) < 0)
		return ret;
	if (!restore && (ret = swrk_stdio_pipes(o->pid, &a, e)) < 0)
		return ret;
	{
		_cleanup_free_ char *line = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&line, &len);

		for (int i = 0; f && i < a.argc; i++)
			fprintf(f, " %s", a.argv[i]);
		if (f && fclose(f) == 0)
			pr_info("runs: amber%s", line);
	}
	s->notify = o->notify_scripts;
	drv_set_notify(swrk_notify, s);
	drv_set_command(a.argv[0]);
	ret = restore ? cmd_restore(a.argc, a.argv) : cmd_dump(a.argc, a.argv);
	drv_set_notify(NULL, NULL);
	drv_set_command("swrk");
	if (ret != EXIT_OK)
		return err_set(e, ret, "%s", drv_last_error()[0] ? drv_last_error() : "amber failed and said nothing");
	if (restore) {
		resp->restore = malloc(sizeof(*resp->restore));
		if (!resp->restore)
			return err_errno(e, "an answer");
		criu_restore_resp__init(resp->restore);
		resp->restore->pid = drv_restored_pid();
	} else {
		resp->dump = malloc(sizeof(*resp->dump));
		if (!resp->dump)
			return err_errno(e, "an answer");
		criu_dump_resp__init(resp->dump);
		resp->dump->has_restored = true;
		resp->dump->restored = false;
	}
	return 0;
}

/* Answers one request; whether the service should go on reading. */
static int swrk_serve(struct swrk *s, const CriuReq *req, bool *more, struct err *fatal)
{
	CriuResp resp = CRIU_RESP__INIT;
	CriuVersion ver = CRIU_VERSION__INIT;
	CriuFeatures feat = CRIU_FEATURES__INIT;
	struct err e = { 0 };
	int ret = 0;

	resp.type = req->type;
	*more = true;
	switch (req->type) {
	case CRIU_REQ_TYPE__VERSION:
		ver.major_number = SWRK_VERSION_MAJOR;
		ver.minor_number = SWRK_VERSION_MINOR;
		ver.name = "amber " AMBER_VERSION;
		resp.version = &ver;
		break;
	case CRIU_REQ_TYPE__FEATURE_CHECK:
		/* Truthful: amber has no pre-dump (memory tracking), no lazy
		 * pages and no pidfd store, whatever the kernel has. */
		feat.has_mem_track = feat.has_lazy_pages = feat.has_pidfd_store = true;
		resp.features = &feat;
		break;
	case CRIU_REQ_TYPE__CHECK:
		ret = swrk_check(&e);
		break;
	case CRIU_REQ_TYPE__DUMP:
	case CRIU_REQ_TYPE__RESTORE:
		ret = swrk_run(s, req, &resp, &e);
		*more = req->keep_open;
		break;
	default: {
		const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&criu_req_type__descriptor, req->type);

		ret = err_input(&e, "request %s: amber swrk answers VERSION, FEATURE_CHECK, CHECK, DUMP and RESTORE%s",
				v ? v->name : "of an unknown type",
				req->type == CRIU_REQ_TYPE__PRE_DUMP || req->type == CRIU_REQ_TYPE__SINGLE_PRE_DUMP ?
				" (amber has no pre-dump)" : "");
	}
	}
	resp.success = ret == 0;
	if (ret < 0) {
		resp.cr_errmsg = e.msg;
		resp.has_cr_errno = e.errnum != 0;
		resp.cr_errno = e.errnum;
		pr_err("%s", e.msg);
	}
	ret = swrk_send(s->sk, &resp, fatal);
	free(resp.dump);
	free(resp.restore);
	return ret;
}

/* Moves fds 0-2 (the caller's, perhaps the container's stdio) above the
 * stage fds and puts /dev/null in their place. */
static int swrk_move_stdio(struct swrk *s, struct err *e)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null < 0)
		return err_errno(e, "open /dev/null");
	for (int k = 0; k < 3; k++) {
		s->stdio[k] = fcntl(k, F_GETFD) < 0 ? -1 : fcntl(k, F_DUPFD_CLOEXEC, 100);
		if (dup2(null, k) < 0)
			return err_errno(e, "put /dev/null on fd %d", k);
	}
	close(null);
	return 0;
}

int cmd_swrk(int argc, char **argv)
{
	struct swrk s = { .sk = -1, .stdio = { -1, -1, -1 } };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct err e = { 0 };
	char *end;
	int type = 0, ret;
	socklen_t tlen = sizeof(type);

	if (argc != 2 || !strcmp(argv[1], "--help")) {
		fprintf(argc == 2 ? stdout : stderr,
			"usage: amber swrk FD\n"
			"  serve CRIU's RPC (rpc.proto) to a container runtime on the SOCK_SEQPACKET socket FD;\n"
			"  runc --criu amber ... runs it: see doc/runtimes.md\n");
		return argc == 2 ? EXIT_OK : EXIT_USAGE;
	}
	s.sk = strtol(argv[1], &end, 10);
	if (*end || s.sk < 0 || getsockopt(s.sk, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_SEQPACKET) {
		drv_error("fd '%s' is not a SOCK_SEQPACKET socket; amber swrk is started by a container runtime "
			  "(runc --criu amber), see doc/runtimes.md", argv[1]);
		return EXIT_USAGE;
	}
	if (getsockopt(s.sk, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid <= 0) {
		drv_error("cannot tell who is at the other end of fd %d (SO_PEERCRED): %s", s.sk, strerror(errno));
		return EXIT_USAGE;
	}
	s.peer = cred.pid;
	fcntl(s.sk, F_SETFD, FD_CLOEXEC);
	if (swrk_move_stdio(&s, &e) < 0) {
		drv_error("%s", e.msg);
		return EXIT_SYSTEM;
	}
	drv_set_quiet(1);
	drv_set_command("swrk");
	for (;;) {
		CriuReq *req = NULL;
		bool more;

		if ((ret = swrk_recv(s.sk, &req, &e)) <= 0)
			break;
		ret = swrk_serve(&s, req, &more, &e);
		criu_req__free_unpacked(req, NULL);
		if (ret < 0 || !more)
			break;
	}
	if (ret < 0)
		pr_err("%s", e.msg);
	return ret < 0 ? EXIT_PROTOCOL : EXIT_OK;
}
