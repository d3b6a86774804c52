/* churn: a process that keeps creating and ending tasks, for the races of
 * seizing a tree that changes under the dump.
 *
 *	churn forks READYFILE RESULTFILE
 *	churn threads READYFILE RESULTFILE
 *
 * forks: the root forks one steady child that waits in pause(2), then loops:
 * fork a child that sleeps ~1 ms and exits with status (round & 0x7f), reap
 * it and check that status. So at any moment a child is about to exit, or
 * has just exited and is a zombie, or is being forked.
 * threads: the main thread starts one steady thread that waits in
 * FUTEX_WAIT, then loops: create a thread that puts a value from its round
 * into TLS and returns it, join it and check the value.
 *
 * After 50 rounds the root writes "READY <pid>\nsteady <pid-or-tid>\n" to
 * READYFILE (by rename). On SIGUSR1 (sent again if missed) it stops looping,
 * which it records only if it has done at least 20 more rounds since READY
 * (the loop must go on after a restore), wakes the steady task and checks it:
 * the steady child checks its pid and parent and exits 0 (the root reaps it
 * and wants 0); the steady thread checks its tid and TLS. Any status or value
 * that was off in any round is a failure too. The root writes "PASS" or
 * "FAIL: ..." lines to RESULTFILE (by rename) and exits 0 on PASS.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

#define MIN_ROUNDS_AFTER 20

static volatile int churn_go;
static char churn_report_text[8192];
static struct wl_report churn_report = { .text = churn_report_text, .size = sizeof(churn_report_text) };
static __thread long churn_tls = -1;

static void churn_on_usr1(int sig) { churn_go = 1; }

static void churn_ready(const char *path, pid_t steady)
{
	char text[96];

	snprintf(text, sizeof(text), "READY %d\nsteady %d\n", (int)getpid(), (int)steady);
	if (wl_write_file(path, text) < 0) {
		perror("churn: write the ready file");
		exit(2);
	}
}

/* ---- forks ---- */

static void __attribute__((noreturn)) churn_steady_child(pid_t parent)
{
	pid_t pid = getpid();

	while (!churn_go)
		pause();
	if (getpid() != pid || getppid() != parent) {
		fprintf(stderr, "churn: steady child: pid %d ppid %d, were %d %d\n", (int)getpid(), (int)getppid(), (int)pid, (int)parent);
		_exit(1);
	}
	_exit(0);
}

static void churn_forks(const char *ready)
{
	struct sigaction sa;
	pid_t steady, root = getpid();
	long round = 0, at_ready = -1;
	double end;
	int st;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = churn_on_usr1;
	sa.sa_flags = SA_RESTART;	/* the loop's waitpid and nanosleep go on */
	sigaction(SIGUSR1, &sa, NULL);
	steady = fork();
	if (steady < 0) {
		perror("churn: fork");
		exit(2);
	}
	if (steady == 0)
		churn_steady_child(root);
	while (!churn_go) {
		pid_t kid = fork(), got;

		round++;
		if (kid < 0) {
			wl_fail(&churn_report, "round %ld: fork: %s", round, strerror(errno));
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			nanosleep(&ts, NULL);
			continue;
		}
		if (kid == 0) {
			struct timespec ts = { 0, 1000 * 1000 };

			nanosleep(&ts, NULL);
			_exit(round & 0x7f);
		}
		while ((got = waitpid(kid, &st, 0)) < 0 && errno == EINTR)
			;
		if (got != kid)
			wl_fail(&churn_report, "round %ld: waitpid(%d) gave %d: %s", round, (int)kid, (int)got, strerror(errno));
		else if (!WIFEXITED(st) || WEXITSTATUS(st) != (round & 0x7f))
			wl_fail(&churn_report, "round %ld: child %d ended with wait status %#x, want exit %ld", round, (int)kid, st, round & 0x7f);
		if (round == 50) {
			churn_ready(ready, steady);
			at_ready = round;
		}
	}
	if (at_ready < 0 || round - at_ready < MIN_ROUNDS_AFTER)
		wl_fail(&churn_report, "only %ld rounds after READY, want at least %d (the loop stopped?)", round - at_ready, MIN_ROUNDS_AFTER);
	end = wl_now() + 20;
	for (;;) {
		pid_t got = waitpid(steady, &st, WNOHANG);

		if (got == steady) {
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				wl_fail(&churn_report, "steady child %d ended with wait status %#x", (int)steady, st);
			break;
		}
		if (got < 0) {
			wl_fail(&churn_report, "waitpid(steady child %d): %s", (int)steady, strerror(errno));
			break;
		}
		if (wl_now() > end) {
			wl_fail(&churn_report, "steady child %d did not end in 20 s", (int)steady);
			break;
		}
		kill(steady, SIGUSR1);
		usleep(20000);
	}
}

/* ---- threads ---- */

static pid_t churn_steady_tid;

static void *churn_steady_thread(void *arg)
{
	pid_t tid = syscall(SYS_gettid);
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	churn_tls = 4242;
	__atomic_store_n(&churn_steady_tid, tid, __ATOMIC_SEQ_CST);
	while (!churn_go)
		syscall(SYS_futex, &churn_go, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	if (syscall(SYS_gettid) != tid)
		return (void *)1L;
	if (churn_tls != 4242)
		return (void *)2L;
	return NULL;
}

static void *churn_worker(void *arg)
{
	churn_tls = (long)arg * 3 + 1;
	return (void *)churn_tls;
}

static void churn_threads(const char *ready)
{
	struct sigaction sa;
	pthread_t steady;
	sigset_t block;
	long round = 0, at_ready = -1;
	void *ret;
	struct timespec dl;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = churn_on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	/* Workers start with SIGUSR1 blocked: it lands in the main thread. */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	errno = pthread_create(&steady, NULL, churn_steady_thread, NULL);
	if (errno) {
		perror("churn: pthread_create");
		exit(2);
	}
	while (!__atomic_load_n(&churn_steady_tid, __ATOMIC_SEQ_CST))
		usleep(1000);
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);
	while (!churn_go) {
		pthread_t t;
		int err;

		round++;
		pthread_sigmask(SIG_BLOCK, &block, NULL);
		err = pthread_create(&t, NULL, churn_worker, (void *)round);
		pthread_sigmask(SIG_UNBLOCK, &block, NULL);
		if (err) {
			wl_fail(&churn_report, "round %ld: pthread_create: %s", round, strerror(err));
			usleep(10000);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 20;
		err = pthread_timedjoin_np(t, &ret, &dl);
		if (err)
			wl_fail(&churn_report, "round %ld: join: %s", round, strerror(err));
		else if ((long)ret != round * 3 + 1)
			wl_fail(&churn_report, "round %ld: the thread returned %ld, want %ld", round, (long)ret, round * 3 + 1);
		if (round == 50) {
			churn_ready(ready, churn_steady_tid);
			at_ready = round;
		}
		if (churn_report.nfails > 20)
			break;
	}
	if (at_ready < 0 || round - at_ready < MIN_ROUNDS_AFTER)
		wl_fail(&churn_report, "only %ld rounds after READY, want at least %d (the loop stopped?)", round - at_ready, MIN_ROUNDS_AFTER);
	syscall(SYS_futex, &churn_go, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 20;
	errno = pthread_timedjoin_np(steady, &ret, &dl);
	if (errno)
		wl_fail(&churn_report, "join the steady thread %d: %s", (int)churn_steady_tid, strerror(errno));
	else if (ret)
		wl_fail(&churn_report, "the steady thread %d found its %s changed", (int)churn_steady_tid, (long)ret == 1 ? "tid" : "TLS");
}

int main(int argc, char **argv)
{
	if (argc != 4 || (strcmp(argv[1], "forks") && strcmp(argv[1], "threads"))) {
		fprintf(stderr, "usage: churn forks|threads READYFILE RESULTFILE\n");
		return 2;
	}
	if (!strcmp(argv[1], "forks"))
		churn_forks(argv[2]);
	else
		churn_threads(argv[2]);
	if (wl_write_result(argv[3], &churn_report) < 0) {
		perror("churn: write the result file");
		return 2;
	}
	if (churn_report.nfails)
		fputs(churn_report.text, stderr);
	return churn_report.nfails ? 1 : 0;
}
