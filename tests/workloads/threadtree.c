/* threadtree: a tree of multi-threaded processes, for amber's restore of
 * threads in more than one process and its rollback when that fails midway.
 *
 *	threadtree READYFILE RESULTFILE [NTHREADS] [NCHILDREN]	(default 4, 2)
 *
 * The root forks NCHILDREN children; every process (root and children)
 * then starts NTHREADS threads, which record their tid and wait in
 * FUTEX_WAIT. A child tells the root it is set up by writing a byte to a
 * pipe. When all are, the root writes "READY <pid>" to READYFILE (by rename)
 * and waits for SIGUSR1 (sent again if missed; start it under
 * tests/workloads/reaper). It then sends SIGUSR1 to every child and wakes
 * its own threads; in every process each thread checks its tid and exits,
 * the main thread joins them and checks that /proc/self/task held exactly
 * its threads, and a child exits 0 if all was well, 1 if not. The root reaps
 * its children (20 s at most) and writes "PASS" or "FAIL: ..." lines to
 * RESULTFILE, and exits 0 on PASS.
 */
#include <dirent.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "workload.h"

#define TT_MAX_THREADS 64
#define TT_MAX_CHILDREN 16

static volatile int tt_go;
static int tt_nthreads;
static pid_t tt_tids[TT_MAX_THREADS];
static int tt_bad[TT_MAX_THREADS];

/* A thread: records its tid, waits for tt_go, checks its tid again. */
static void *tt_thread(void *arg)
{
	int i = (int)(long)arg;

	tt_tids[i] = syscall(SYS_gettid);
	while (!tt_go)
		syscall(SYS_futex, &tt_go, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	tt_bad[i] = syscall(SYS_gettid) != tt_tids[i];
	return NULL;
}

/* Starts this process's threads and waits until each knows its tid. They
 * block SIGUSR1, so it always reaches the main thread's pause(). */
static int tt_start_threads(pthread_t *th)
{
	sigset_t usr1, old;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, &old);
	for (int i = 0; i < tt_nthreads; i++)
		if (wl_must(pthread_create(&th[i], NULL, tt_thread, (void *)(long)i) == 0, "pthread_create") < 0)
			return -1;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	for (int i = 0; i < tt_nthreads; i++)
		while (!__atomic_load_n(&tt_tids[i], __ATOMIC_ACQUIRE))
			usleep(1000);
	return 0;
}

/* How many tasks /proc/self/task lists. */
static int tt_count_tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Wakes this process's threads, joins them and checks them; adds failures to r. */
static void tt_finish(pthread_t *th, struct wl_report *r)
{
	int tasks = tt_count_tasks();

	if (tasks != tt_nthreads + 1)
		wl_fail(r, "pid %d has %d tasks, want %d", (int)getpid(), tasks, tt_nthreads + 1);
	tt_go = 1;
	syscall(SYS_futex, &tt_go, FUTEX_WAKE_PRIVATE, TT_MAX_THREADS, NULL, NULL, 0);
	for (int i = 0; i < tt_nthreads; i++) {
		pthread_join(th[i], NULL);
		if (tt_bad[i])
			wl_fail(r, "pid %d: thread %d has another tid than %d", (int)getpid(), i, (int)tt_tids[i]);
	}
}

int main(int argc, char **argv)
{
	static char text[8192];
	struct wl_report r = { text, sizeof(text), 0 };
	pthread_t th[TT_MAX_THREADS];
	pid_t kids[TT_MAX_CHILDREN];
	int nkids, ready[2];
	char b;

	if (argc < 3) {
		fprintf(stderr, "usage: threadtree READYFILE RESULTFILE [NTHREADS] [NCHILDREN]\n");
		return 2;
	}
	tt_nthreads = argc > 3 ? atoi(argv[3]) : 4;
	nkids = argc > 4 ? atoi(argv[4]) : 2;
	if (tt_nthreads < 1 || tt_nthreads > TT_MAX_THREADS || nkids < 0 || nkids > TT_MAX_CHILDREN) {
		fprintf(stderr, "threadtree: 1..%d threads and 0..%d children\n", TT_MAX_THREADS, TT_MAX_CHILDREN);
		return 2;
	}
	if (wl_must(pipe(ready) == 0, "pipe") < 0 || wl_must(wl_catch_usr1() == 0, "sigaction") < 0)
		return 2;
	for (int k = 0; k < nkids; k++) {
		kids[k] = fork();
		if (wl_must(kids[k] >= 0, "fork") < 0)
			return 2;
		if (kids[k] == 0) {
			close(ready[0]);
			if (tt_start_threads(th) < 0 || write(ready[1], "x", 1) != 1)
				_exit(2);
			close(ready[1]);
			wl_wait_usr1();
			tt_finish(th, &r);
			_exit(r.nfails ? 1 : 0);
		}
	}
	close(ready[1]);
	if (tt_start_threads(th) < 0)
		return 2;
	for (int k = 0; k < nkids; k++)
		if (wl_must(read(ready[0], &b, 1) == 1, "wait for a child") < 0)
			return 2;
	close(ready[0]);
	if (wl_must(wl_write_ready(argv[1], getpid()) == 0, "write READYFILE") < 0)
		return 2;
	wl_wait_usr1();
	for (int k = 0; k < nkids; k++) {
		time_t until = time(NULL) + 20;
		int status;
		pid_t got;

		do {
			kill(kids[k], SIGUSR1);
			usleep(20000);
			got = waitpid(kids[k], &status, WNOHANG);
		} while (got == 0 && time(NULL) < until);
		if (got != kids[k])
			wl_fail(&r, "child %d did not end within 20 s", (int)kids[k]);
		else if (!WIFEXITED(status) || WEXITSTATUS(status))
			wl_fail(&r, "child %d ended with status %#x (its own check failed)", (int)kids[k], status);
	}
	tt_finish(th, &r);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
