/* sharedfdt: two processes that share a descriptor table or an fs struct.
 *
 *	sharedfdt READYFILE RESULTFILE files|fs
 *
 * The process clones a child with CLONE_FILES (files) or CLONE_FS (fs) but
 * not CLONE_THREAD: a separate process that shares the table or the cwd,
 * root and umask. amber refuses such a tree at dump (dump-files/shared.c);
 * the test checks the refusal and that both go on unharmed. After SIGUSR1
 * it checks that the child is alive and the sharing still holds (a
 * descriptor or a cwd made by one is seen by the other), writes PASS or
 * FAIL to RESULTFILE and kills the child.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static char stack[64 * 1024] __attribute__((aligned(16)));

static int child_main(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

int main(int argc, char **argv)
{
	char report[1024] = "", dir[] = "/tmp/sharedfdt.XXXXXX";
	struct wl_report r = { report, sizeof(report), 0 };
	int files, flags, fd;
	pid_t child;

	if (argc < 4)
		return 2;
	files = !strcmp(argv[3], "files");
	flags = (files ? CLONE_FILES : CLONE_FS) | SIGCHLD;
	wl_catch_usr1();
	child = clone(child_main, stack + sizeof(stack), flags, NULL);
	if (child < 0 || wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();
	if (kill(child, 0) < 0)
		wl_fail(&r, "the child %d is gone", child);
	if (files) {
		char path[64];

		/* A descriptor opened here is in the child's table too. */
		fd = open("/dev/null", O_RDONLY);
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", child, fd);
		if (fd < 0 || access(path, F_OK) < 0)
			wl_fail(&r, "the descriptor table is no longer shared");
	} else {
		char link[64], cwd[256];
		ssize_t n;

		/* A chdir here moves the child too. */
		if (!mkdtemp(dir) || chdir(dir) < 0)
			return 1;
		snprintf(link, sizeof(link), "/proc/%d/cwd", child);
		n = readlink(link, cwd, sizeof(cwd) - 1);
		if (n < 0 || (cwd[n] = 0, strcmp(cwd, dir)))
			wl_fail(&r, "the cwd is no longer shared");
		rmdir(dir);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, __WALL);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
