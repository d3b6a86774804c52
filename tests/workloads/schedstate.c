/* schedstate: scheduling and the small per-process knobs a restore must
 * keep (issue 12: "state that is lost today").
 *
 *	schedstate READYFILE RESULTFILE
 *
 * Before the dump: the main thread runs SCHED_BATCH at nice 5; thread 1
 * SCHED_IDLE; thread 2 SCHED_FIFO priority 3; thread 3 SCHED_OTHER at nice
 * -5 with SCHED_FLAG_RESET_ON_FORK. The process has oom_score_adj 345,
 * transparent huge pages disabled (PR_SET_THP_DISABLE) and, where the
 * kernel has audit and it can be set, the login uid 4242. After SIGUSR1
 * it reads every one back (sched_getattr on each thread) and writes PASS,
 * or a FAIL line per difference, to RESULTFILE.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "workload.h"

#ifndef SCHED_BATCH
#define SCHED_BATCH 3
#endif
#ifndef SCHED_IDLE
#define SCHED_IDLE 5
#endif
#define WL_SCHED_FIFO 1
#define WL_RESET_ON_FORK 0x01

struct wl_sched_attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
};

struct want {
	uint32_t policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	pid_t tid;
	int ready;
};

static struct want wants[4] = {
	{ SCHED_BATCH, 0, 5, 0, 0, 0 },
	{ SCHED_IDLE, 0, 0, 0, 0, 0 },
	{ WL_SCHED_FIFO, 0, 0, 3, 0, 0 },
	{ 0 /* SCHED_OTHER */, WL_RESET_ON_FORK, -5, 0, 0, 0 },
};

static int set_sched(struct want *w)
{
	struct wl_sched_attr a = { sizeof(a), w->policy, w->flags, w->nice, w->priority, 0, 0, 0 };

	w->tid = syscall(SYS_gettid);
	return syscall(SYS_sched_setattr, 0, &a, 0);
}

static void *thread_main(void *arg)
{
	struct want *w = arg;

	if (set_sched(w) < 0)
		return NULL;
	__atomic_store_n(&w->ready, 1, __ATOMIC_RELEASE);
	for (;;)
		pause();
	return NULL;
}

static void check(struct wl_report *r, const char *who, const struct want *w)
{
	struct wl_sched_attr a = { 0 };

	if (syscall(SYS_sched_getattr, w->tid, &a, sizeof(a), 0) < 0) {
		wl_fail(r, "%s: sched_getattr: %s", who, strerror(errno));
		return;
	}
	if (a.policy != w->policy || (a.flags & WL_RESET_ON_FORK) != w->flags)
		wl_fail(r, "%s: policy %u flags %#llx, want %u flags %#llx", who, a.policy, (unsigned long long)a.flags,
			w->policy, (unsigned long long)w->flags);
	if ((w->policy == 0 || w->policy == SCHED_BATCH) && a.nice != w->nice)
		wl_fail(r, "%s: nice %d, want %d", who, a.nice, w->nice);
	if (w->policy == WL_SCHED_FIFO && a.priority != w->priority)
		wl_fail(r, "%s: priority %u, want %u", who, a.priority, w->priority);
}

/* A number from /proc/self/NAME, or -1. */
static long long proc_self(const char *name)
{
	char path[64], buf[32];
	long long v = -1;

	snprintf(path, sizeof(path), "/proc/self/%s", name);
	if (wl_read_file(path, buf, sizeof(buf)) > 0)
		sscanf(buf, "%lld", &v);
	return v;
}

static int write_proc_self(const char *name, const char *value)
{
	char path[64];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/self/%s", name);
	if (!(f = fopen(path, "w")))
		return -1;
	ok = fputs(value, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	pthread_t th[3];
	int loginuid_set;

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	for (int i = 1; i < 4; i++)
		if (pthread_create(&th[i - 1], NULL, thread_main, &wants[i]) != 0)
			return 1;
	for (int i = 1; i < 4; i++)
		while (!__atomic_load_n(&wants[i].ready, __ATOMIC_ACQUIRE))
			usleep(1000);
	if (set_sched(&wants[0]) < 0 || write_proc_self("oom_score_adj", "345") < 0 ||
	    prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) < 0)
		return 1;
	/* The login uid can be set once where the kernel has audit. */
	loginuid_set = write_proc_self("loginuid", "4242") == 0;
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	check(&r, "the main thread (SCHED_BATCH, nice 5)", &wants[0]);
	check(&r, "thread 1 (SCHED_IDLE)", &wants[1]);
	check(&r, "thread 2 (SCHED_FIFO 3)", &wants[2]);
	check(&r, "thread 3 (nice -5, reset on fork)", &wants[3]);
	if (proc_self("oom_score_adj") != 345)
		wl_fail(&r, "oom_score_adj is %lld, want 345", proc_self("oom_score_adj"));
	if (prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) != 1)
		wl_fail(&r, "transparent huge pages are not disabled");
	if (loginuid_set && proc_self("loginuid") != 4242)
		wl_fail(&r, "the login uid is %lld, want 4242", proc_self("loginuid"));
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
