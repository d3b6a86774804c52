/* closefds: run a command with only stdin, stdout and stderr open.
 * Test harnesses leak descriptors (pipes of the CI runner, of an editor)
 * into children; a workload started with them would hold fds that are
 * nobody's business and that a dump may rightly refuse. */
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: closefds COMMAND [ARGS]\n");
		return 2;
	}
	syscall(SYS_close_range, 3, ~0U, 0);
	execvp(argv[1], argv + 1);
	perror(argv[1]);
	return 127;
}
