/* itimerfired: a periodic ITIMER_REAL that fired and was not re-armed yet.
 *
 *	itimerfired READYFILE RESULTFILE
 *
 * Before the dump: ITIMER_REAL every 20 ms, with SIGALRM blocked and 100 ms
 * slept, so the timer has fired, its SIGALRM is pending, and /proc shows
 * it with no time left (the kernel re-arms it only when the signal is
 * taken). This is the state of any periodic ITIMER_REAL whose expiry falls
 * while the tree is frozen. After SIGUSR1 it checks that the interval is
 * still 20 ms, that SIGALRM is still pending, and that once unblocked the
 * timer goes on: at least 3 SIGALRMs within 200 ms. PASS or FAIL lines go
 * to RESULTFILE.
 */
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

static volatile sig_atomic_t n_alrm;

static void on_alrm(int sig)
{
	(void)sig;
	n_alrm++;
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	struct itimerval it = { { 0, 20000 }, { 0, 20000 } }, now;
	struct sigaction sa;
	sigset_t alrm, pending;
	struct timespec t0, t;

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alrm;
	sigaction(SIGALRM, &sa, NULL);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_BLOCK, &alrm, NULL);
	if (setitimer(ITIMER_REAL, &it, NULL) < 0)
		return 1;
	usleep(100000);
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	if (getitimer(ITIMER_REAL, &now) < 0 || now.it_interval.tv_sec || now.it_interval.tv_usec != 20000)
		wl_fail(&r, "ITIMER_REAL lost its 20 ms interval (now %ld.%06ld)", (long)now.it_interval.tv_sec,
			(long)now.it_interval.tv_usec);
	if (sigpending(&pending) < 0 || !sigismember(&pending, SIGALRM))
		wl_fail(&r, "the pending SIGALRM was lost");
	sigprocmask(SIG_UNBLOCK, &alrm, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		usleep(10000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (n_alrm < 3 && (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 200);
	if (n_alrm < 3)
		wl_fail(&r, "ITIMER_REAL fired %d times in 200 ms after restore, want 3 or more", (int)n_alrm);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
