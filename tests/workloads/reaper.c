/* reaper: start a process tree under a child subreaper that reaps it.
 *
 *	reaper PIDFILE COMMAND [ARGS]
 *
 * Closes every fd above 2 (like closefds), becomes a child subreaper, forks
 * COMMAND as a session leader (setsid) and writes its pid to PIDFILE (by
 * rename, so a reader never sees half a number). It then reaps every child it
 * has, COMMAND and every orphan of COMMAND's tree re-parented to it, and exits
 * once it has none left, with COMMAND's exit status (128+signal if killed).
 *
 * Why: this machine's pid 1 may never reap orphans. When a dump kills a tree,
 * its processes die in no set order; one whose parent died first would stay a
 * zombie of pid 1 for ever and keep its pid taken, so the restore could never
 * get it back. Under the reaper every pid of the tree is freed, and the reaper
 * exiting tells the test that the whole tree is gone.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char tmp[4096], line[32];
	pid_t child, got;
	int st, code = 0;
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: reaper PIDFILE COMMAND [ARGS]\n");
		return 2;
	}
	syscall(SYS_close_range, 3, ~0U, 0);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("reaper: PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	child = fork();
	if (child < 0) {
		perror("reaper: fork");
		return 2;
	}
	if (child == 0) {
		setsid();
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		_exit(127);
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	snprintf(line, sizeof(line), "%d\n", (int)child);
	f = fopen(tmp, "w");
	if (!f || fputs(line, f) < 0 || fclose(f) != 0 || rename(tmp, argv[1]) < 0) {
		perror("reaper: write the pid file");
		kill(child, 9);
	}
	for (;;) {
		got = waitpid(-1, &st, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			break;	/* ECHILD: the whole tree is gone */
		}
		if (got == child)
			code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	return code;
}
