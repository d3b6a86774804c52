/* itimerfired: a periodic ITIMER_REAL that fired and was not re-armed yet.
 *
 *	itimerfired READYFILE RESULTFILE
 *
 * Before the dump: ITIMER_REAL every 20 ms, with SIGALRM blocked and 100 ms
 * slept, so the timer has fired, its SIGALRM is pending, and /proc shows
 * it with no time left (the kernel re-arms it only when the signal is
 * taken). This is the state of any periodic ITIMER_REAL whose expiry falls
 * while the tree is frozen. A POSIX timer (CLOCK_MONOTONIC, SIGRTMIN, every
 * 20 ms, its signal blocked too) is left in the same state. After SIGUSR1
 * it checks that both intervals are still 20 ms, that both signals are
 * still pending, and that once unblocked both timers go on: at least 3
 * signals each within 200 ms. PASS or FAIL lines go to RESULTFILE.
 */
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

static volatile sig_atomic_t n_alrm, n_rt;

static void on_alrm(int sig)
{
	if (sig == SIGALRM)
		n_alrm++;
	else
		n_rt++;
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	struct itimerval it = { { 0, 20000 }, { 0, 20000 } }, now;
	struct itimerspec pit = { { 0, 20000000 }, { 0, 20000000 } }, pnow;
	struct sigevent sev;
	timer_t tid;
	struct sigaction sa;
	sigset_t alrm, pending;
	struct timespec t0, t;

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alrm;
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGRTMIN, &sa, NULL);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigaddset(&alrm, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &alrm, NULL);
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN;
	if (setitimer(ITIMER_REAL, &it, NULL) < 0 || timer_create(CLOCK_MONOTONIC, &sev, &tid) < 0 ||
	    timer_settime(tid, 0, &pit, NULL) < 0)
		return 1;
	usleep(100000);
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	if (getitimer(ITIMER_REAL, &now) < 0 || now.it_interval.tv_sec || now.it_interval.tv_usec != 20000)
		wl_fail(&r, "ITIMER_REAL lost its 20 ms interval (now %ld.%06ld)", (long)now.it_interval.tv_sec,
			(long)now.it_interval.tv_usec);
	if (timer_gettime(tid, &pnow) < 0 || pnow.it_interval.tv_sec || pnow.it_interval.tv_nsec != 20000000)
		wl_fail(&r, "the POSIX timer lost its 20 ms interval");
	if (sigpending(&pending) < 0 || !sigismember(&pending, SIGALRM))
		wl_fail(&r, "the pending SIGALRM was lost");
	if (!sigismember(&pending, SIGRTMIN))
		wl_fail(&r, "the POSIX timer's pending SIGRTMIN was lost");
	sigprocmask(SIG_UNBLOCK, &alrm, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		usleep(10000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((n_alrm < 3 || n_rt < 3) && (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 200);
	if (n_alrm < 3)
		wl_fail(&r, "ITIMER_REAL fired %d times in 200 ms after restore, want 3 or more", (int)n_alrm);
	if (n_rt < 3)
		wl_fail(&r, "the POSIX timer fired %d times in 200 ms after restore, want 3 or more", (int)n_rt);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
