/* test_nschild: lib/nschild.c, the child that enters namespaces and
 * reports back: the callback's error and return value arrive whole; a
 * child killed by a signal, or one that exits without reporting, is an
 * error naming what it was doing; a setns that fails names the namespace;
 * data (more than one message of it) and fds come back; and the child
 * really is in the namespaces it was given: a mount namespace with a tmpfs
 * only it has, and a pid namespace (the callback runs in a member).
 * Entering real namespaces needs root: those cases skip without. */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "lib/nschild.h"
#include "tests/unit/unit.h"

/* Fails with an input error naming its argument. */
static int fail_input(void *arg, struct nschild_reply *reply, struct err *e)
{
	return err_input(e, "image '%s': bad magic", (const char *)arg);
}

/* Succeeds with a count. */
static int count_seven(void *arg, struct nschild_reply *reply, struct err *e)
{
	return 7;
}

static void nschild_error_arrives(void)
{
	struct err e = { 0 };

	CHECK_INT(nschild_run("read the images", NULL, 0, fail_input, "x.img", NULL, &e), -EINVAL);
	CHECK_INT(e.exit_code, 3);
	CHECK_INT(e.errnum, 0);
	CHECK_STR(e.msg, "image 'x.img': bad magic");
	memset(&e, 0, sizeof(e));
	CHECK_INT(nschild_run("count", NULL, 0, count_seven, NULL, NULL, &e), 7);
	CHECK_STR(e.msg, "");
}

/* Dies of the signal it is given. */
static int die_of(void *arg, struct nschild_reply *reply, struct err *e)
{
	signal(*(int *)arg, SIG_DFL);
	raise(*(int *)arg);
	return 0;
}

/* Exits with status 3, saying nothing. */
static int exit_silently(void *arg, struct nschild_reply *reply, struct err *e)
{
	_exit(3);
}

static void nschild_child_dies(void)
{
	struct nschild_result res;
	struct err e = { 0 };
	int sig = SIGKILL;

	CHECK_INT(nschild_run("read pid 5's namespace", NULL, 0, die_of, &sig, &res, &e), -ECHILD);
	CHECK_CONTAINS(e.msg, "read pid 5's namespace: ");
	CHECK_CONTAINS(e.msg, "killed by signal 9");
	CHECK_INT(e.exit_code, 4);
	CHECK(res.data == NULL && res.nr_fds == 0);
	sig = SIGSEGV;
	CHECK_INT(nschild_run("crash", NULL, 0, die_of, &sig, NULL, &e), -ECHILD);
	CHECK_CONTAINS(e.msg, "killed by signal 11");
	CHECK_INT(nschild_run("say nothing", NULL, 0, exit_silently, NULL, NULL, &e), -ECHILD);
	CHECK_CONTAINS(e.msg, "say nothing: ");
	CHECK_CONTAINS(e.msg, "exited with status 3 before it reported");
}

static void nschild_setns_fails(void)
{
	struct nschild_ns ns = { open("/dev/null", O_RDONLY | O_CLOEXEC), CLONE_NEWNS, "/dev/null" };
	struct err e = { 0 };

	REQUIRE(ns.fd >= 0);
	CHECK(nschild_run("open files of pid 9", &ns, 1, count_seven, NULL, NULL, &e) < 0);
	CHECK_CONTAINS(e.msg, "open files of pid 9: enter the mount namespace '/dev/null' (setns on fd");
	CHECK_INT(e.exit_code, 4);
	close(ns.fd);
	/* A closed fd, no name. */
	ns = (struct nschild_ns){ 1000, CLONE_NEWUTS, NULL };
	CHECK_INT(nschild_run("x", &ns, 1, count_seven, NULL, NULL, &e), -EBADF);
	CHECK_CONTAINS(e.msg, "x: enter the UTS namespace (setns on fd 1000)");
	CHECK_INT(nschild_run_at("read it", "/nonexistent/ns", CLONE_NEWNET, count_seven, NULL, NULL, &e), -ENOENT);
	CHECK_CONTAINS(e.msg, "read it: open the network namespace '/nonexistent/ns'");
}

#define BIG (3 * NSCHILD_CHUNK + 123)
#define NFDS (NSCHILD_FDS_MAX + 6)

/* Sends BIG bytes of a pattern and NFDS fds: a pipe's read end (with
 * "hello" in it), then /dev/null; then fails if *arg says so. */
static int send_things(void *arg, struct nschild_reply *reply, struct err *e)
{
	static char big[BIG];
	int p[2], fds[NFDS], ret;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = 'a' + i % 23;
	if (pipe(p) < 0 || write(p[1], "hello", 5) != 5)
		return err_errno(e, "pipe");
	fds[0] = p[0];
	for (int i = 1; i < NFDS; i++)
		if ((fds[i] = open("/dev/null", O_RDONLY)) < 0)
			return err_errno(e, "open /dev/null");
	if ((ret = nschild_send(reply, big, 10, e)) < 0 || (ret = nschild_send_fds(reply, fds, NFDS, e)) < 0 ||
	    (ret = nschild_send(reply, big + 10, sizeof(big) - 10, e)) < 0)
		return ret;
	return *(int *)arg ? err_input(e, "failed after sending") : 1;
}

static void nschild_payload(void)
{
	struct nschild_result res;
	struct err e = { 0 };
	char buf[8] = "";
	int fail = 0;

	CHECK_INT(nschild_run("send", NULL, 0, send_things, &fail, &res, &e), 1);
	REQUIRE(res.data != NULL);
	CHECK_INT(res.len, BIG);
	CHECK_INT(res.data[res.len], 0);
	for (size_t i = 0; i < res.len; i++)
		if (res.data[i] != (char)('a' + i % 23)) {
			unit_fail(__FILE__, __LINE__, "byte %zu is %#x", i, res.data[i]);
			break;
		}
	REQUIRE(res.nr_fds == NFDS);
	CHECK_INT(read(res.fds[0], buf, sizeof(buf)), 5);
	CHECK(!memcmp(buf, "hello", 5));
	CHECK(fcntl(res.fds[NFDS - 1], F_GETFD) == FD_CLOEXEC);
	/* A kept fd stays open. */
	{
		int kept = res.fds[1];

		res.fds[1] = -1;
		nschild_result_free(&res);
		CHECK(fcntl(kept, F_GETFD) >= 0);
		close(kept);
	}
	CHECK(res.data == NULL && res.fds == NULL && res.nr_fds == 0);
	/* What was sent before a failure arrives with it. */
	fail = 1;
	CHECK_INT(nschild_run("send", NULL, 0, send_things, &fail, &res, &e), -EINVAL);
	CHECK_STR(e.msg, "failed after sending");
	CHECK_INT(res.len, BIG);
	CHECK_INT(res.nr_fds, NFDS);
	nschild_result_free(&res);
	/* Not wanted: dropped, and the fds closed. */
	fail = 0;
	CHECK_INT(nschild_run("send", NULL, 0, send_things, &fail, NULL, &e), 1);
}

/* A process in namespaces of its own, made by a child that unshares them;
 * it holds them until killed. In a new mount namespace it mounts a tmpfs
 * on dir with a file "marker"; with CLONE_NEWPID its child, pid 1 there,
 * holds the pid namespace (returned in *init). */
static pid_t holder_start(int flags, const char *dir, pid_t *init)
{
	int p[2];
	pid_t pid;
	char c = 0;

	if (pipe(p) < 0 || (pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		char marker[512];
		pid_t one;

		close(p[0]);
		if (unshare(flags) < 0)
			_exit(1);
		if (flags & CLONE_NEWNS) {
			snprintf(marker, sizeof(marker), "%s/marker", dir);
			if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 || mount("tmpfs", dir, "tmpfs", 0, "size=64k") < 0 ||
			    close(open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0)
				_exit(1);
		}
		/* The pid namespace lives as long as its pid 1, our child. */
		if ((flags & CLONE_NEWPID) && (one = fork()) == 0)
			for (;;)
				pause();
		if (write(p[1], "1", 1) != 1 || ((flags & CLONE_NEWPID) && (one < 0 || write(p[1], &one, sizeof(one)) != sizeof(one))))
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1 || c != '1' || ((flags & CLONE_NEWPID) && read(p[0], init, sizeof(*init)) != sizeof(*init))) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(p[0]);
	return pid;
}

/* Sends "ino-of-its-mntns marker-seen" back. */
static int look_around(void *arg, struct nschild_reply *reply, struct err *e)
{
	char buf[512], path[512];
	struct stat st;

	if (stat("/proc/self/ns/mnt", &st) < 0)
		return err_errno(e, "stat /proc/self/ns/mnt");
	snprintf(path, sizeof(path), "%s/marker", (const char *)arg);
	snprintf(buf, sizeof(buf), "%llu %d", (unsigned long long)st.st_ino, access(path, F_OK) == 0);
	return nschild_send(reply, buf, strlen(buf), e);
}

static void nschild_mount_namespace(void)
{
	char *dir, path[64], want[64], mine[512];
	struct nschild_result res;
	struct err e = { 0 };
	struct stat st, self;
	pid_t holder;

	if (geteuid() != 0)
		UNIT_SKIP("needs root (unshare, setns)");
	REQUIRE((dir = unit_tmpdir()));
	holder = holder_start(CLONE_NEWNS, dir, NULL);
	if (holder < 0) {
		unit_rmtree(dir);
		UNIT_SKIP("cannot make a mount namespace with a tmpfs here");
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", holder);
	REQUIRE(stat(path, &st) == 0 && stat("/proc/self/ns/mnt", &self) == 0);
	CHECK(st.st_ino != self.st_ino);
	snprintf(want, sizeof(want), "%llu 1", (unsigned long long)st.st_ino);
	CHECK_INT(nschild_run_at("look in the holder's mount namespace", path, CLONE_NEWNS, look_around, dir, &res, &e), 0);
	CHECK_STR(res.data, want);
	nschild_result_free(&res);
	/* Type 0: whatever the file is. */
	CHECK_INT(nschild_run_at("look again", path, 0, look_around, dir, &res, &e), 0);
	CHECK_STR(res.data, want);
	nschild_result_free(&res);
	/* The caller stayed where it was, and does not see the tmpfs. */
	snprintf(mine, sizeof(mine), "%s/marker", dir);
	CHECK(stat("/proc/self/ns/mnt", &st) == 0 && st.st_ino == self.st_ino);
	CHECK(access(mine, F_OK) < 0);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	unit_rmtree(dir);
}

/* Sends its pid and its pid namespace's inode. */
static int pid_here(void *arg, struct nschild_reply *reply, struct err *e)
{
	char buf[64];
	struct stat st;

	if (stat("/proc/self/ns/pid", &st) < 0)
		return err_errno(e, "stat /proc/self/ns/pid");
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)st.st_ino);
	if (nschild_send(reply, buf, strlen(buf), e) < 0)
		return -1;
	return getpid();
}

static void nschild_pid_namespace(void)
{
	struct nschild_ns ns = { -1, CLONE_NEWPID, NULL };
	struct nschild_result res;
	struct err e = { 0 };
	char path[64], want[64];
	struct stat st;
	pid_t holder, init = 0;
	int ret, sig = SIGKILL;

	if (geteuid() != 0)
		UNIT_SKIP("needs root (unshare, setns)");
	holder = holder_start(CLONE_NEWPID, NULL, &init);
	if (holder < 0)
		UNIT_SKIP("cannot make a pid namespace here");
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", init);
	REQUIRE(stat(path, &st) == 0);
	snprintf(want, sizeof(want), "%llu", (unsigned long long)st.st_ino);
	REQUIRE((ns.fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0);
	ret = nschild_run("count in the pid namespace", &ns, 1, pid_here, NULL, &res, &e);
	CHECK_STR(e.msg, "");
	/* A member: a small pid of the new namespace (1 is the holder's child). */
	CHECK(ret > 1 && ret < 100);
	CHECK_STR(res.data, want);
	nschild_result_free(&res);
	/* The member dies: said by the middle child. */
	CHECK_INT(nschild_run("die in the pid namespace", &ns, 1, die_of, &sig, NULL, &e), -ECHILD);
	CHECK_CONTAINS(e.msg, "die in the pid namespace: the child doing it in the pid namespace was killed by signal 9");
	close(ns.fd);
	kill(holder, SIGKILL);
	kill(init, SIGKILL);
	waitpid(holder, NULL, 0);
}

static const struct unit_case cases[] = {
	UNIT_CASE(nschild_error_arrives),
	UNIT_CASE(nschild_child_dies),
	UNIT_CASE(nschild_setns_fails),
	UNIT_CASE(nschild_payload),
	UNIT_CASE(nschild_mount_namespace),
	UNIT_CASE(nschild_pid_namespace),
};
UNIT_MAIN(cases)
