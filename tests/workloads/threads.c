/* threads: a self-checking multi-threaded workload for amber's thread restore.
 *
 *	threads READYFILE RESULTFILE [NTHREADS]	(default 64)
 *
 * Starts NTHREADS threads besides the main one. Each thread sets up state of
 * its own: TLS (__thread variables with values of its own), a name
 * (pthread_setname_np "amb-th-N"), a signal mask (SIGUSR1 plus a pattern of
 * real-time signals from its index, so no two threads have the same mask),
 * x87 control word and MXCSR (rounding modes from its index), and then holds
 * values in registers across the wait: a ymm integer accumulator that grows
 * on each wakeup, a ymm pattern, two general registers, an x87 long double.
 * All but the last thread wait in FUTEX_WAIT; the last one is busy: it spins
 * on the CPU with no system call, so the dump catches it running user code.
 *
 * When all threads are set up, the main thread writes "READY <pid>" to
 * READYFILE (by rename) and waits in FUTEX_WAIT too (SIGUSR1 is unblocked
 * only in the main thread; its handler sets the futex word, so a signal
 * cannot be lost between the check and the wait). The test dumps, kills and
 * restores the process in between and sends SIGUSR1. The main thread then
 * wakes every thread, and each checks, against what it recorded before:
 *	tid (gettid), pid, pthread_self, fs base, the address and values of its
 *	TLS, its name (prctl and /proc/self/task/TID/comm), its signal mask,
 *	its robust futex list head, its rseq registration (probed with the same
 *	arguments glibc used, which give EBUSY when still registered), x87
 *	control word, MXCSR, and the registers (accumulator == start + wakeups *
 *	increment, so a busy thread's billions of spins are checked in O(1));
 *	a busy thread must also have spun.
 * The main thread checks its own registers and tid, that /proc/self/task has
 * exactly the tids it had before, and joins every thread with a 20 s limit
 * (a thread that never ends means its clear_child_tid was lost). It writes
 * "PASS" or the "FAIL: ..." lines to RESULTFILE (by rename) and exits 0 on
 * PASS, 1 on FAIL.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <immintrin.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <asm/prctl.h>

#include "workload.h"

#define MAX_THREADS 1024
#define REPORT_SIZE 2048

/* The futex word everything waits on; SIGUSR1's handler sets it. */
static volatile int th_go;
/* Set by the main thread once it has listed the tasks after the wait: no
 * thread may end before that, or the list would race with its exit (the
 * busy thread sees th_go the moment the handler sets it). */
static volatile int th_listed;
static int th_ready;

static __thread uint64_t th_tls_a = 0x1111;
static __thread char th_tls_s[32] = "unset";
static __thread int th_tls_idx = -1;

/* What one thread recorded before the wait and found after it. */
struct th {
	int idx, busy;
	pthread_t self;
	pid_t tid;
	unsigned long fs;
	void *tls_addr;
	char name[16];
	sigset_t mask;
	void *robust_head;
	size_t robust_len;
	long rseq_probe;
	uint16_t fcw;
	uint32_t mxcsr;
	struct wl_report rep;
	char report[REPORT_SIZE];
};

static struct th th_all[MAX_THREADS + 1];	/* [0] is the main thread */
static int th_n;

/* Adds "FAIL: thread N (tid T): ..." to t's report. */
static void __attribute__((format(printf, 2, 3))) th_fail(struct th *t, const char *fmt, ...)
{
	char who[64];
	va_list ap;

	snprintf(who, sizeof(who), "thread %d (tid %d)", t->idx, (int)t->tid);
	va_start(ap, fmt);
	wl_vfail(&t->rep, who, fmt, ap);
	va_end(ap);
}

static void __attribute__((noreturn)) th_die(const char *what)
{
	fprintf(stderr, "threads: setup: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void th_on_usr1(int sig)
{
	th_go = 1;
}

/* Probes the rseq registration with glibc's own arguments: EBUSY while the
 * thread is registered there, another answer (or a fresh registration) if
 * not. Returns 0 or the errno. */
static long th_rseq_probe(void)
{
	void *area;

	if (__rseq_size == 0)
		return -1;	/* glibc did not register rseq */
	area = (char *)__builtin_thread_pointer() + __rseq_offset;
	if (syscall(SYS_rseq, area, __rseq_size < 32 ? 32 : __rseq_size, 0, 0x53053053) == 0)
		return 0;
	return errno;
}

/* Values per thread, so one thread's registers restored into another show. */
static const int64_t th_acc0[4] = { 0x100, 0x2000, 0x30000, 0x400000 };
static const int64_t th_inc[4] = { 1, 3, 5, 7 };
static const int64_t th_keep0[4] = { 0x7f7f00ff80800011LL, 0x5555aaaa3333ccccLL, (int64_t)0xfedcba9876543210ULL, 0x0123456789abcdefLL };
#define TH_G1 0x1122334455667788ULL
#define TH_G2 0x99aabbccddeeff00ULL

static __attribute__((noinline)) long double th_frac(int idx)
{
	volatile long double a = idx + 1, b = 3.0L;

	return a / b;
}

static uint64_t th_keep(int idx, int k)
{
	return (uint64_t)th_keep0[k] ^ ((uint64_t)(idx + 1) * 0x0101010101010101ULL);
}

/* Registers as they came out of the wait. */
struct th_regs {
	__m256i acc, keep;
	long double ld;
	uint64_t g1, g2;
	uint16_t fcw;
	uint32_t mxcsr;
	long spins;
};

/* Waits for th_go with values in registers only (one asm block, nothing
 * spilled across the syscall or the spin): in FUTEX_WAIT, or spinning with no
 * system call when busy. */
static __attribute__((noinline)) void th_wait(int idx, int busy, uint16_t fcw, uint32_t mx, struct th_regs *r)
{
	__m256i acc = _mm256_loadu_si256((const __m256i *)th_acc0);
	__m256i inc = _mm256_loadu_si256((const __m256i *)th_inc);
	__m256i keep = _mm256_set_epi64x(th_keep(idx, 3), th_keep(idx, 2), th_keep(idx, 1), th_keep(idx, 0));
	long double ld = th_frac(idx);
	uint64_t g1 = TH_G1 ^ idx, g2 = TH_G2 + idx;
	long spins = 0;
	uint16_t fcw_def = 0x037f;
	uint32_t mx_def = 0x1f80;

	asm volatile("fldcw %0\n\tldmxcsr %1" : : "m"(fcw), "m"(mx));
	if (busy) {
		asm volatile(
			"1:\n\t"
			"cmpl $0, %[go]\n\t"
			"jne 2f\n\t"
			"vpaddq %[inc], %[acc], %[acc]\n\t"
			"incq %[spins]\n\t"
			"jmp 1b\n"
			"2:\n\t"
			: [acc] "+x"(acc), [keep] "+x"(keep), [g1] "+r"(g1), [g2] "+r"(g2), [spins] "+r"(spins), "+t"(ld)
			: [go] "m"(th_go), [inc] "x"(inc)
			: "memory", "cc");
	} else {
		register long r10 asm("r10") = 0;	/* no timeout */

		asm volatile(
			"1:\n\t"
			"cmpl $0, %[go]\n\t"
			"jne 2f\n\t"
			"movl %[nr], %%eax\n\t"
			"syscall\n\t"
			"vpaddq %[inc], %[acc], %[acc]\n\t"
			"incq %[spins]\n\t"
			"jmp 1b\n"
			"2:\n\t"
			: [acc] "+x"(acc), [keep] "+x"(keep), [g1] "+r"(g1), [g2] "+r"(g2), [spins] "+r"(spins), "+t"(ld)
			: [go] "m"(th_go), [inc] "x"(inc), [nr] "i"(SYS_futex), "D"(&th_go), "S"(FUTEX_WAIT_PRIVATE), "d"(0), "r"(r10)
			: "rax", "rcx", "r11", "memory", "cc");
	}
	asm volatile("fnstcw %0\n\tstmxcsr %1" : "=m"(r->fcw), "=m"(r->mxcsr));
	asm volatile("fldcw %0\n\tldmxcsr %1" : : "m"(fcw_def), "m"(mx_def));
	r->acc = acc;
	r->keep = keep;
	r->ld = ld;
	r->g1 = g1;
	r->g2 = g2;
	r->spins = spins;
}

static void th_verify_regs(struct th *t, const struct th_regs *r)
{
	int64_t acc[4], keep[4];
	long double want_ld = th_frac(t->idx);

	_mm256_storeu_si256((__m256i *)acc, r->acc);
	_mm256_storeu_si256((__m256i *)keep, r->keep);
	for (int k = 0; k < 4; k++) {
		uint64_t want = (uint64_t)th_acc0[k] + (uint64_t)r->spins * (uint64_t)th_inc[k];

		if ((uint64_t)acc[k] != want)
			th_fail(t, "ymm accumulator lane %d is %#llx, want %#llx after %ld rounds", k,
				(unsigned long long)acc[k], (unsigned long long)want, r->spins);
		if ((uint64_t)keep[k] != th_keep(t->idx, k))
			th_fail(t, "ymm pattern lane %d is %#llx, want %#llx", k, (unsigned long long)keep[k],
				(unsigned long long)th_keep(t->idx, k));
	}
	if (memcmp(&r->ld, &want_ld, 10))
		th_fail(t, "x87 long double is %.21Lg, want %.21Lg", r->ld, want_ld);
	if (r->g1 != (TH_G1 ^ t->idx) || r->g2 != TH_G2 + t->idx)
		th_fail(t, "general registers are %#llx %#llx, want %#llx %#llx", (unsigned long long)r->g1,
			(unsigned long long)r->g2, (unsigned long long)(TH_G1 ^ t->idx), (unsigned long long)(TH_G2 + t->idx));
	if (r->fcw != t->fcw)
		th_fail(t, "x87 control word is %#x, want %#x", r->fcw, t->fcw);
	if (r->mxcsr != t->mxcsr)
		th_fail(t, "MXCSR is %#x, want %#x", r->mxcsr, t->mxcsr);
	if (t->busy && r->spins <= 0)
		th_fail(t, "the busy thread never spun (%ld rounds)", r->spins);
}

/* Records everything a thread must find again. */
static void th_record(struct th *t)
{
	char path[64];
	int fd;

	t->self = pthread_self();
	t->tid = syscall(SYS_gettid);
	th_tls_a = 0xa5a5a5a500000000ULL + (uint64_t)t->idx * 0x10001;
	snprintf(th_tls_s, sizeof(th_tls_s), "tls of thread %d", t->idx);
	th_tls_idx = t->idx;
	t->tls_addr = &th_tls_a;
	syscall(SYS_arch_prctl, ARCH_GET_FS, &t->fs);
	if (t->idx) {
		snprintf(t->name, sizeof(t->name), "amb-th-%d", t->idx);
		pthread_setname_np(pthread_self(), t->name);
	} else {
		prctl(PR_GET_NAME, t->name);
	}
	/* Check that the name reached the kernel at all. */
	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", (int)t->tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		th_die("open comm");
	close(fd);
	syscall(SYS_get_robust_list, 0, &t->robust_head, &t->robust_len);
	t->rseq_probe = th_rseq_probe();
	t->fcw = 0x037f | ((t->idx & 3) << 10);
	t->mxcsr = 0x1f80 | ((t->idx & 3) << 13) | (t->idx & 4 ? 0x8000 : 0) | (t->idx & 8 ? 0x40 : 0);
}

static void th_verify(struct th *t)
{
	char comm[17] = "", path[64], buf[64] = "";
	unsigned long fs = 0;
	void *head = NULL;
	size_t len = 0;
	sigset_t now;
	char want_s[32];
	long probe;
	int fd;

	if (syscall(SYS_gettid) != t->tid)
		th_fail(t, "gettid() is %ld, was %d", syscall(SYS_gettid), (int)t->tid);
	if (getpid() != th_all[0].tid)
		th_fail(t, "getpid() is %d, was %d", (int)getpid(), (int)th_all[0].tid);
	if (!pthread_equal(pthread_self(), t->self))
		th_fail(t, "pthread_self() changed");
	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
	if (fs != t->fs)
		th_fail(t, "fs base is %#lx, was %#lx", fs, t->fs);
	if ((void *)&th_tls_a != t->tls_addr)
		th_fail(t, "TLS variable is at %p, was at %p", (void *)&th_tls_a, t->tls_addr);
	if (th_tls_a != 0xa5a5a5a500000000ULL + (uint64_t)t->idx * 0x10001)
		th_fail(t, "TLS value is %#llx (another thread's?)", (unsigned long long)th_tls_a);
	snprintf(want_s, sizeof(want_s), "tls of thread %d", t->idx);
	if (strcmp(th_tls_s, want_s) || th_tls_idx != t->idx)
		th_fail(t, "TLS string is '%s' and index %d", th_tls_s, th_tls_idx);
	prctl(PR_GET_NAME, comm);
	if (strcmp(comm, t->name))
		th_fail(t, "name is '%s', was '%s'", comm, t->name);
	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", (int)t->tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		buf[n > 0 ? n : 0] = 0;
		close(fd);
		buf[strcspn(buf, "\n")] = 0;
	}
	if (strcmp(buf, t->name))
		th_fail(t, "%s is '%s', want '%s'", path, buf, t->name);
	pthread_sigmask(SIG_BLOCK, NULL, &now);
	for (int sig = 1; sig <= 64; sig++)
		if (sigismember(&now, sig) != sigismember(&t->mask, sig))
			th_fail(t, "signal %d is %s the mask, was %s", sig, sigismember(&now, sig) ? "in" : "out of",
				sigismember(&t->mask, sig) ? "in" : "out of");
	syscall(SYS_get_robust_list, 0, &head, &len);
	if (head != t->robust_head || len != t->robust_len)
		th_fail(t, "robust futex list is %p/%zu, was %p/%zu", head, len, t->robust_head, t->robust_len);
	probe = th_rseq_probe();
	if (probe != t->rseq_probe)
		th_fail(t, "rseq probe gives %s, gave %s (registration lost?)", probe ? strerror(probe) : "0 (a new registration)",
			t->rseq_probe ? strerror(t->rseq_probe) : "0");
	if (sched_getcpu() < 0)
		th_fail(t, "sched_getcpu: %s", strerror(errno));
}

static void *th_main(void *arg)
{
	struct th *t = arg;
	struct th_regs regs;
	sigset_t mask;

	th_record(t);
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	for (int k = 0; k < 10; k++)
		if (((t->idx + 1) >> k) & 1)
			sigaddset(&mask, SIGRTMIN + 2 + k);
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	pthread_sigmask(SIG_BLOCK, NULL, &t->mask);
	/* The rseq probe of a thread that was not registered registers it: probe
	 * again for the reference answer. */
	if (t->rseq_probe == 0)
		t->rseq_probe = th_rseq_probe();
	__atomic_add_fetch(&th_ready, 1, __ATOMIC_SEQ_CST);

	th_wait(t->idx, t->busy, t->fcw, t->mxcsr, &regs);
	while (!th_listed)
		syscall(SYS_futex, &th_listed, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);

	th_verify_regs(t, &regs);
	th_verify(t);
	return NULL;
}

static int th_cmp_pid(const void *a, const void *b)
{
	return *(const pid_t *)a - *(const pid_t *)b;
}

/* The sorted tids of /proc/self/task; returns how many. */
static int th_list_tasks(pid_t *tids, int cap)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && n < cap)
			tids[n++] = atoi(de->d_name);
	closedir(d);
	qsort(tids, n, sizeof(*tids), th_cmp_pid);
	return n;
}

int main(int argc, char **argv)
{
	static pid_t before[MAX_THREADS + 8], after[MAX_THREADS + 8];
	static char all[MAX_THREADS * 256];
	struct th *m = &th_all[0];
	struct th_regs regs;
	struct sigaction sa;
	sigset_t block;
	int nbefore, nafter, nfails = 0;
	double end;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: threads READYFILE RESULTFILE [NTHREADS]\n");
		return 2;
	}
	th_n = argc == 4 ? atoi(argv[3]) : 64;
	if (th_n < 1 || th_n > MAX_THREADS) {
		fprintf(stderr, "threads: NTHREADS must be 1..%d\n", MAX_THREADS);
		return 2;
	}
	prctl(PR_SET_NAME, "threads-wl");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = th_on_usr1;
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		th_die("sigaction");
	/* Threads start with SIGUSR1 blocked, so it always lands in main. */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	for (int i = 1; i <= th_n; i++) {
		struct th *t = &th_all[i];
		pthread_attr_t attr;

		t->idx = i;
		t->rep = (struct wl_report){ .text = t->report, .size = sizeof(t->report) };
		t->busy = i == th_n;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 256 * 1024);
		errno = pthread_create(&t->self, &attr, th_main, t);
		if (errno)
			th_die("pthread_create");
		pthread_attr_destroy(&attr);
	}
	m->idx = 0;
	m->rep = (struct wl_report){ .text = m->report, .size = sizeof(m->report) };
	th_record(m);
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);
	pthread_sigmask(SIG_BLOCK, NULL, &m->mask);
	if (m->rseq_probe == 0)
		m->rseq_probe = th_rseq_probe();
	end = wl_now() + 20;
	while (__atomic_load_n(&th_ready, __ATOMIC_SEQ_CST) < th_n) {
		if (wl_now() > end) {
			errno = ETIMEDOUT;
			th_die("wait for the threads to get ready");
		}
		usleep(1000);
	}
	nbefore = th_list_tasks(before, MAX_THREADS + 8);
	if (nbefore != th_n + 1) {
		fprintf(stderr, "threads: %d tasks in /proc/self/task, want %d\n", nbefore, th_n + 1);
		return 2;
	}
	if (wl_write_ready(argv[1], m->tid) < 0)
		th_die("write the ready file");

	th_wait(0, 0, m->fcw, m->mxcsr, &regs);

	/* Before any thread can end. */
	nafter = th_list_tasks(after, MAX_THREADS + 8);
	th_listed = 1;
	syscall(SYS_futex, &th_listed, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
	syscall(SYS_futex, &th_go, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
	th_verify_regs(m, &regs);
	th_verify(m);
	if (nafter != nbefore || memcmp(before, after, nbefore * sizeof(pid_t))) {
		th_fail(m, "/proc/self/task has %d tasks, had %d", nafter, nbefore);
		for (int i = 0, j = 0; i < nbefore || j < nafter;) {
			if (j >= nafter || (i < nbefore && before[i] < after[j]))
				th_fail(m, "tid %d is gone", (int)before[i++]);
			else if (i >= nbefore || after[j] < before[i])
				th_fail(m, "tid %d is new", (int)after[j++]);
			else
				i++, j++;
		}
	}
	strcat(all, m->report);
	nfails += m->rep.nfails;
	for (int i = 1; i <= th_n; i++) {
		struct th *t = &th_all[i];
		struct timespec dl;

		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 20;
		errno = pthread_timedjoin_np(t->self, NULL, &dl);
		if (errno) {
			size_t n = strlen(all);

			snprintf(all + n, sizeof(all) - n, "FAIL: thread %d (tid %d) did not end in 20 s: %s (a lost wakeup or clear_child_tid?)\n",
				 i, (int)t->tid, strerror(errno));
			nfails++;
			continue;
		}
		nfails += t->rep.nfails;
		if (strlen(all) + strlen(t->report) < sizeof(all) - 1)
			strcat(all, t->report);
	}
	if (nfails && !all[0])
		strcat(all, "FAIL: (lost reports)\n");
	if (wl_write_file(argv[2], nfails ? all : "PASS\n") < 0)
		th_die("write the result file");
	if (nfails)
		fputs(all, stderr);
	return nfails ? 1 : 0;
}
