/* sleeper: the least a process can be, for the benchmark of amber's fixed
 * cost (an "empty" dump).
 *
 *	sleeper READYFILE RESULTFILE
 *
 * Writes "READY <pid>" to READYFILE and waits for SIGUSR1; then checks that
 * its pid is still the one it had and writes PASS or FAIL to RESULTFILE.
 */
#include "workload.h"

int main(int argc, char **argv)
{
	char report[256] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	pid_t pid = getpid();

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	if (wl_write_ready(argv[1], pid) < 0)
		return 1;
	wl_wait_usr1();
	if (getpid() != pid)
		wl_fail(&r, "pid %d, was %d", getpid(), pid);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
