/* timers: a self-checking workload for itimers and POSIX timers across a
 * checkpoint.
 *
 *	timers READYFILE RESULTFILE
 *
 * It sets up:
 *	ITIMER_REAL	every 50 ms (SIGALRM)
 *	ITIMER_VIRTUAL	100 s, then every 7 s (a paused process never uses it up)
 *	ITIMER_PROF	50 s, then every 3 s
 *	POSIX timers, made so their ids have a gap (one is deleted):
 *	  A  CLOCK_MONOTONIC, SIGEV_SIGNAL SIGRTMIN+1 value 0xabc, every 20 ms
 *	  -  (deleted)
 *	  B  CLOCK_REALTIME, SIGEV_THREAD_ID to itself, SIGRTMIN+2 value 0xdef, every 30 ms
 *	  C  CLOCK_BOOTTIME, SIGEV_NONE, 1000 s, then every 5 s
 *	  D  CLOCK_MONOTONIC, SIGEV_SIGNAL SIGRTMIN+3, never armed
 * writes "READY <pid>" to READYFILE and waits for SIGUSR1. The test dumps,
 * kills and restores it in between, then sends SIGUSR1. It checks that
 * /proc/self/timers lists the same ids with the same clocks, signals, values
 * and notification, that the times of the slow timers are as set (interval
 * exact, remaining time not above the original) and D is disarmed, then
 * counts firings over 600 ms: A ~30, B ~20, SIGALRM ~12, each signal with its
 * value and timer id. It writes PASS or "FAIL: ..." lines to RESULTFILE.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

static volatile sig_atomic_t n_alrm, n_a, n_b, bad_info;
static timer_t ta, tb, tc, td;
static char report_text[8192];
static struct wl_report report = { .text = report_text, .size = sizeof(report_text) };

static void on_alrm(int sig)
{
	n_alrm++;
}

/* Counts timer A and B signals; checks value, code and timer id. */
static void on_timer(int sig, siginfo_t *si, void *uc)
{
	timer_t want = sig == SIGRTMIN + 1 ? ta : tb;
	int value = sig == SIGRTMIN + 1 ? 0xabc : 0xdef;

	if (si->si_code != SI_TIMER || si->si_value.sival_int != value || si->si_timerid != (int)(intptr_t)want)
		bad_info++;
	if (sig == SIGRTMIN + 1)
		n_a++;
	else
		n_b++;
}

/* Makes a timer; notify, signal and value as given. */
static timer_t make(clockid_t clock, int notify, int sig, int value)
{
	struct sigevent ev = { 0 };
	timer_t t;

	ev.sigev_notify = notify;
	ev.sigev_signo = sig;
	ev.sigev_value.sival_int = value;
	if (notify == SIGEV_THREAD_ID)
		ev._sigev_un._tid = gettid();
	if (timer_create(clock, &ev, &t) < 0) {
		perror("timer_create");
		exit(2);
	}
	return t;
}

static void arm(timer_t t, long value_ms, long interval_ms)
{
	struct itimerspec its = {
		{ interval_ms / 1000, interval_ms % 1000 * 1000000 },
		{ value_ms / 1000, value_ms % 1000 * 1000000 },
	};

	if (timer_settime(t, 0, &its, NULL) < 0) {
		perror("timer_settime");
		exit(2);
	}
}

static char timers_at_start[4096];

/* /proc/self/timers as text. */
static void read_timers(char *buf, size_t size)
{
	FILE *f = fopen("/proc/self/timers", "r");
	size_t n = f ? fread(buf, 1, size - 1, f) : 0;

	buf[n] = 0;
	if (f)
		fclose(f);
}

/* Checks one itimer: interval exact, remaining time in (0, value]. */
static void check_itimer(int which, const char *name, long value_s, long interval_s)
{
	struct itimerval v;

	if (getitimer(which, &v) < 0) {
		wl_fail(&report, "getitimer %s: %s", name, strerror(errno));
		return;
	}
	if (v.it_interval.tv_sec != interval_s || v.it_interval.tv_usec)
		wl_fail(&report, "%s interval is %ld.%06ld s, want %ld s", name, (long)v.it_interval.tv_sec,
		                 (long)v.it_interval.tv_usec, interval_s);
	if ((!v.it_value.tv_sec && !v.it_value.tv_usec) || v.it_value.tv_sec > value_s)
		wl_fail(&report, "%s has %ld.%06ld s left, want in (0, %ld] (CPU clocks round up)", name, (long)v.it_value.tv_sec, (long)v.it_value.tv_usec, value_s);
}

/* Sleeps ms milliseconds of CLOCK_MONOTONIC through signals. */
static void sleep_ms(long ms)
{
	struct timespec end;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += ms % 1000 * 1000000;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL) == EINTR)
		;
}

static void check_count(const char *name, int got, int want)
{
	if (got < want * 6 / 10 || got > want * 14 / 10)
		wl_fail(&report, "%s fired %d times in 600 ms, want about %d", name, got, want);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { 0 };
	struct itimerval it;
	struct itimerspec its;
	timer_t gap;
	char now[4096];

	if (argc != 3) {
		fprintf(stderr, "usage: timers READYFILE RESULTFILE\n");
		return 2;
	}
	wl_catch_usr1();
	sa.sa_handler = on_alrm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_sigaction = on_timer;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGRTMIN + 1, &sa, NULL);
	sigaction(SIGRTMIN + 2, &sa, NULL);

	ta = make(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGRTMIN + 1, 0xabc);
	gap = make(CLOCK_MONOTONIC, SIGEV_NONE, 0, 0);
	tb = make(CLOCK_REALTIME, SIGEV_THREAD_ID, SIGRTMIN + 2, 0xdef);
	tc = make(CLOCK_BOOTTIME, SIGEV_NONE, 0, 0);
	td = make(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGRTMIN + 3, 0);
	timer_delete(gap);
	arm(ta, 20, 20);
	arm(tb, 30, 30);
	arm(tc, 1000000, 5000);
	it = (struct itimerval){ { 0, 50000 }, { 0, 50000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	it = (struct itimerval){ { 7, 0 }, { 100, 0 } };
	setitimer(ITIMER_VIRTUAL, &it, NULL);
	it = (struct itimerval){ { 3, 0 }, { 50, 0 } };
	setitimer(ITIMER_PROF, &it, NULL);
	read_timers(timers_at_start, sizeof(timers_at_start));

	if (wl_write_ready(argv[1], getpid()) < 0)
		return 2;
	wl_wait_usr1();

	read_timers(now, sizeof(now));
	if (strcmp(now, timers_at_start))
		wl_fail(&report, "/proc/self/timers is\n%s\nwant\n%s", now, timers_at_start);
	check_itimer(ITIMER_VIRTUAL, "ITIMER_VIRTUAL", 100, 7);
	check_itimer(ITIMER_PROF, "ITIMER_PROF", 50, 3);
	if (timer_gettime(tc, &its) < 0)
		wl_fail(&report, "timer_gettime C: %s", strerror(errno));
	else if (its.it_interval.tv_sec != 5 || its.it_interval.tv_nsec ||
		 (!its.it_value.tv_sec && !its.it_value.tv_nsec) || its.it_value.tv_sec >= 1000)
		wl_fail(&report, "timer C: interval %ld.%09ld, left %ld.%09ld; want 5 s and (0, 1000 s)", (long)its.it_interval.tv_sec,
		                 its.it_interval.tv_nsec, (long)its.it_value.tv_sec, its.it_value.tv_nsec);
	if (timer_gettime(td, &its) < 0)
		wl_fail(&report, "timer_gettime D: %s", strerror(errno));
	else if (its.it_value.tv_sec || its.it_value.tv_nsec || its.it_interval.tv_sec || its.it_interval.tv_nsec)
		wl_fail(&report, "timer D is armed, want it disarmed");

	/* Let signals queued while it was dumped come in, then count. */
	sleep_ms(100);
	n_alrm = n_a = n_b = bad_info = 0;
	sleep_ms(600);
	check_count("timer A (20 ms)", n_a, 30);
	check_count("timer B (30 ms)", n_b, 20);
	check_count("ITIMER_REAL (50 ms)", n_alrm, 12);
	if (bad_info)
		wl_fail(&report, "%d timer signals had the wrong si_code, value or timer id", (int)bad_info);
	if (wl_write_result(argv[2], &report) < 0)
		return 2;
	return report.nfails ? 1 : 0;
}
