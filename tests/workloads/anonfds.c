/* anonfds: a self-checking workload for eventfd, signalfd and timerfd.
 *
 *	anonfds READYFILE RESULTFILE
 *
 * Before the dump: an eventfd in semaphore mode with count 5, non-blocking;
 * a plain eventfd with count 1000000; a signalfd for SIGUSR2 with SIGUSR2
 * blocked and one pending; a periodic timerfd (first expiry after 200 ms,
 * then every 100 ms), a periodic one that fired and was not read before the
 * dump (every 20 ms: /proc shows it with no time left), and a disarmed
 * one. After SIGUSR1 it checks that the
 * semaphore eventfd gives 1 five times then EAGAIN, the other gives its
 * count, the signalfd yields the pending SIGUSR2, the periodic timerfd
 * fires again and keeps its interval and clock, the fired one still has
 * its 20 ms interval, its unread expirations and stays armed, the disarmed one stays
 * disarmed, and each descriptor keeps its flags. PASS or FAIL lines go to
 * RESULTFILE.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	struct itimerspec it = { { 0, 100000000 }, { 0, 200000000 } }, now;
	struct signalfd_siginfo si;
	struct itimerspec fast = { { 0, 20000000 }, { 0, 10000000 } };
	int sem, cnt, sfd, tfd, off, fired;
	uint64_t v;
	sigset_t mask;

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	sem = eventfd(5, EFD_SEMAPHORE | EFD_NONBLOCK);
	cnt = eventfd(0, 0);
	v = 1000000;
	if (sem < 0 || cnt < 0 || write(cnt, &v, 8) != 8)
		return 1;
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR2);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK);
	raise(SIGUSR2);
	tfd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK);
	off = timerfd_create(CLOCK_MONOTONIC, 0);
	fired = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	if (sfd < 0 || tfd < 0 || off < 0 || fired < 0 || timerfd_settime(tfd, 0, &it, NULL) < 0 ||
	    timerfd_settime(fired, 0, &fast, NULL) < 0)
		return 1;
	usleep(50000);	/* 'fired' has fired, and nobody reads it */
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	for (int i = 0; i < 5; i++)
		if (read(sem, &v, 8) != 8 || v != 1)
			wl_fail(&r, "semaphore eventfd read %d did not give 1", i);
	if (read(sem, &v, 8) >= 0 || errno != EAGAIN)
		wl_fail(&r, "semaphore eventfd was not empty (or not non-blocking) after 5 reads");
	if (read(cnt, &v, 8) != 8 || v != 1000000)
		wl_fail(&r, "eventfd count is %llu, want 1000000", (unsigned long long)v);
	if (fcntl(cnt, F_GETFL) & O_NONBLOCK)
		wl_fail(&r, "the plain eventfd became non-blocking");
	if (read(sfd, &si, sizeof(si)) != sizeof(si) || si.ssi_signo != SIGUSR2)
		wl_fail(&r, "the signalfd did not give the pending SIGUSR2");
	if (timerfd_gettime(tfd, &now) < 0 || now.it_interval.tv_sec != 0 || now.it_interval.tv_nsec != 100000000)
		wl_fail(&r, "the timerfd lost its 100 ms interval");
	wl_sleep_ms(350);
	if (read(tfd, &v, 8) != 8 || v < 1)
		wl_fail(&r, "the periodic timerfd did not fire after restore");
	if (timerfd_gettime(fired, &now) < 0 || now.it_interval.tv_sec != 0 || now.it_interval.tv_nsec != 20000000)
		wl_fail(&r, "the timerfd that fired unread lost its 20 ms interval");
	if (read(fired, &v, 8) != 8 || v < 1)
		wl_fail(&r, "the timerfd that fired unread has no expirations to read");
	usleep(30000);
	if (read(fired, &v, 8) != 8 || v < 1)
		wl_fail(&r, "the timerfd that fired unread did not go on firing");
	if (timerfd_gettime(off, &now) < 0 || now.it_value.tv_sec || now.it_value.tv_nsec)
		wl_fail(&r, "the disarmed timerfd is armed");
	if (!(fcntl(tfd, F_GETFL) & O_NONBLOCK) || (fcntl(off, F_GETFL) & O_NONBLOCK))
		wl_fail(&r, "a timerfd's O_NONBLOCK changed");
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
