/* pendtrap: blocked, pending SIGTRAP and SIGUSR2, the signals amber's own
 * remote calls come nearest to (issue 12: a refused dump must not swallow
 * a pending SIGTRAP).
 *
 *	pendtrap READYFILE RESULTFILE
 *
 * Blocks SIGTRAP and SIGUSR2 and raises both, so both are pending. On SIGUSR1 it
 * checks that both are still pending, exactly once each (sigtimedwait
 * takes them one by one and finds no second), sent by itself (SI_USER or
 * SI_TKILL, its pid), and writes PASS or FAIL.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

/* Takes pending signal sig once and checks its siginfo; then none more. */
static void take(int sig, pid_t self, struct wl_report *r)
{
	struct timespec zero = { 0, 0 };
	sigset_t one;
	siginfo_t si;

	sigemptyset(&one);
	sigaddset(&one, sig);
	memset(&si, 0, sizeof(si));
	if (sigtimedwait(&one, &si, &zero) != sig)
		wl_fail(r, "signal %d is not pending any more", sig);
	else if ((si.si_code != SI_USER && si.si_code != SI_TKILL) || si.si_pid != self)
		wl_fail(r, "signal %d: si_code %d pid %d, want one sent by %d itself", sig, si.si_code, si.si_pid, self);
	if (sigtimedwait(&one, &si, &zero) == sig)
		wl_fail(r, "signal %d was pending twice", sig);
}

int main(int argc, char **argv)
{
	char report[2048] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	sigset_t s;
	pid_t self = getpid();

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	sigemptyset(&s);
	sigaddset(&s, SIGTRAP);
	sigaddset(&s, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &s, NULL) < 0 || raise(SIGTRAP) < 0 || raise(SIGUSR2) < 0)
		return 1;
	if (wl_write_ready(argv[1], self) < 0)
		return 1;
	wl_wait_usr1();
	take(SIGTRAP, self, &r);
	take(SIGUSR2, self, &r);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
