/* procfiles: a self-checking workload for files under /proc of the tree's
 * own processes.
 *
 *	procfiles READYFILE RESULTFILE CASE
 *
 * CASE is one of:
 *  tree	forks a child that waits; holds /proc/CHILD/stat (fd 10, 5 bytes
 *		read), /proc/self/status (fd 11), the directory /proc/CHILD
 *		(fd 12), /proc/self opened O_PATH (fd 13) and /proc/meminfo (fd
 *		14). After the restore each names the restored process: fd 10
 *		goes on at byte 5 and holds the child's pid, fd 11 says the
 *		process's pid, stat under fd 12 is the child's, fd 13 links to
 *		/proc/PID; once the child is killed and reaped, fd 10 reads
 *		ESRCH (it was the child's, not a path).
 *  outside	holds /proc/PARENT/stat of its parent, outside the tree
 *		(refused).
 * PASS or FAIL lines go to RESULTFILE after SIGUSR1.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static int procfiles_tree(const char *ready, struct wl_report *r)
{
	char path[64], buf[4096], want[64];
	pid_t child = fork();
	ssize_t n;
	int fd;

	if (child < 0)
		return -1;
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", child);
	if (dup2(open(path, O_RDONLY), 10) != 10 || read(10, buf, 5) != 5 ||
	    dup3(open("/proc/self/status", O_RDONLY), 11, O_CLOEXEC) != 11)
		return wl_must(0, "open the /proc files");
	snprintf(path, sizeof(path), "/proc/%d", child);
	if (dup2(open(path, O_RDONLY | O_DIRECTORY), 12) != 12 || dup2(open("/proc/self", O_PATH), 13) != 13 ||
	    dup2(open("/proc/meminfo", O_RDONLY), 14) != 14)
		return wl_must(0, "open the /proc directories");
	if (wl_write_ready(ready, getpid()) < 0)
		return -1;
	wl_wait_usr1();
	if (lseek(10, 0, SEEK_CUR) != 5)
		wl_fail(r, "fd 10 is at %lld, want 5", (long long)lseek(10, 0, SEEK_CUR));
	n = pread(10, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = 0;
	if (atoi(buf) != child)
		wl_fail(r, "fd 10 (/proc/%d/stat) reads '%.40s'", child, buf);
	n = pread(11, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = 0;
	snprintf(want, sizeof(want), "\nPid:\t%d\n", getpid());
	if (!strstr(buf, want))
		wl_fail(r, "fd 11 (/proc/self/status) does not say pid %d", getpid());
	if (!(fcntl(11, F_GETFD) & FD_CLOEXEC))
		wl_fail(r, "fd 11 lost close-on-exec");
	fd = openat(12, "stat", O_RDONLY);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	if (atoi(buf) != child)
		wl_fail(r, "stat under fd 12 (/proc/%d) reads '%.40s'", child, buf);
	n = readlink("/proc/self/fd/13", buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	snprintf(want, sizeof(want), "/proc/%d", getpid());
	if (strcmp(buf, want) || !(fcntl(13, F_GETFL) & O_PATH))
		wl_fail(r, "fd 13 is '%s' (flags %#x), want '%s' opened O_PATH", buf, fcntl(13, F_GETFL), want);
	if (pread(14, buf, 9, 0) != 9 || strncmp(buf, "MemTotal:", 9))
		wl_fail(r, "fd 14 is not /proc/meminfo");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	if (pread(10, buf, sizeof(buf), 0) >= 0 || errno != ESRCH)
		wl_fail(r, "fd 10 still reads after its process was reaped (%s), so it was not the child's",
			strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	char report[4096] = "", path[64];
	struct wl_report r = { report, sizeof(report), 0 };
	int ret;

	if (argc < 4)
		return 2;
	wl_catch_usr1();
	if (!strcmp(argv[3], "tree")) {
		ret = procfiles_tree(argv[1], &r);
	} else if (!strcmp(argv[3], "outside")) {
		snprintf(path, sizeof(path), "/proc/%d/stat", getppid());
		if (wl_must(open(path, O_RDONLY) == 3, "open the parent's stat") < 0 || wl_write_ready(argv[1], getpid()) < 0)
			return 1;
		for (;;)
			pause();
	} else {
		return fprintf(stderr, "procfiles: unknown case '%s'\n", argv[3]), 2;
	}
	if (ret < 0)
		return 1;
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
