/* spinners: a process whose threads all spin on the CPU, for amber's
 * freezing benchmark (busy threads are the hard case: they never enter the
 * kernel by themselves, so each must be interrupted).
 *
 *	spinners READYFILE RESULTFILE [NTHREADS]	(default 64)
 *
 * Each thread spins in one asm loop with no system call, adding to a ymm
 * accumulator and a counter register, holding a ymm pattern and a general
 * register of its own, until a shared word is set. When all spin, the main
 * thread writes "READY <pid>" to READYFILE (by rename) and waits in
 * FUTEX_WAIT on that word; SIGUSR1 (unblocked only in the main thread) sets
 * it. Each thread then checks its tid, name ("spin-N") and registers
 * (accumulator == start + rounds * increment) and that it spun at all; the
 * main thread joins them (20 s limit) and writes "PASS" or "FAIL:" lines to
 * RESULTFILE (by rename), and exits 0 on PASS.
 */
#include <errno.h>
#include <fcntl.h>
#include <immintrin.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

#define MAX_THREADS 1024

static volatile int spin_go;
static int spin_ready;

struct spin {
	int idx;
	pthread_t self;
	pid_t tid;
	char name[16];
	char report[512];
};

static struct spin spin_all[MAX_THREADS + 1];

static void spin_on_usr1(int sig) { spin_go = 1; }

static const int64_t spin_inc[4] = { 1, 2, 3, 4 };

static uint64_t spin_keep(int idx, int k)
{
	return 0x0f1e2d3c4b5a6978ULL * (k + 1) ^ ((uint64_t)idx << 32);
}

static void *spin_main(void *arg)
{
	struct spin *s = arg;
	__m256i acc = _mm256_setzero_si256();
	__m256i inc = _mm256_loadu_si256((const __m256i *)spin_inc);
	__m256i keep = _mm256_set_epi64x(spin_keep(s->idx, 3), spin_keep(s->idx, 2), spin_keep(s->idx, 1), spin_keep(s->idx, 0));
	uint64_t g = 0xabcdef0000000000ULL + s->idx, rounds = 0;
	int64_t a[4], k[4];
	char comm[17] = "";
	size_t n;

	s->tid = syscall(SYS_gettid);
	snprintf(s->name, sizeof(s->name), "spin-%d", s->idx);
	pthread_setname_np(pthread_self(), s->name);
	__atomic_add_fetch(&spin_ready, 1, __ATOMIC_SEQ_CST);
	asm volatile(
		"1:\n\t"
		"cmpl $0, %[go]\n\t"
		"jne 2f\n\t"
		"vpaddq %[inc], %[acc], %[acc]\n\t"
		"incq %[rounds]\n\t"
		"jmp 1b\n"
		"2:\n\t"
		: [acc] "+x"(acc), [keep] "+x"(keep), [g] "+r"(g), [rounds] "+r"(rounds)
		: [go] "m"(spin_go), [inc] "x"(inc)
		: "memory", "cc");
	_mm256_storeu_si256((__m256i *)a, acc);
	_mm256_storeu_si256((__m256i *)k, keep);
	for (int i = 0; i < 4; i++) {
		n = strlen(s->report);
		if ((uint64_t)a[i] != rounds * (uint64_t)spin_inc[i])
			snprintf(s->report + n, sizeof(s->report) - n, "FAIL: thread %d (tid %d): ymm accumulator lane %d is %#llx after %llu rounds\n",
				 s->idx, (int)s->tid, i, (unsigned long long)a[i], (unsigned long long)rounds);
		n = strlen(s->report);
		if ((uint64_t)k[i] != spin_keep(s->idx, i))
			snprintf(s->report + n, sizeof(s->report) - n, "FAIL: thread %d (tid %d): ymm pattern lane %d is %#llx\n",
				 s->idx, (int)s->tid, i, (unsigned long long)k[i]);
	}
	n = strlen(s->report);
	if (g != 0xabcdef0000000000ULL + s->idx)
		snprintf(s->report + n, sizeof(s->report) - n, "FAIL: thread %d: general register is %#llx\n", s->idx, (unsigned long long)g);
	n = strlen(s->report);
	if (rounds == 0)
		snprintf(s->report + n, sizeof(s->report) - n, "FAIL: thread %d never spun\n", s->idx);
	n = strlen(s->report);
	if (syscall(SYS_gettid) != s->tid)
		snprintf(s->report + n, sizeof(s->report) - n, "FAIL: thread %d: gettid() is %ld, was %d\n", s->idx, syscall(SYS_gettid), (int)s->tid);
	prctl(PR_GET_NAME, comm);
	n = strlen(s->report);
	if (strcmp(comm, s->name))
		snprintf(s->report + n, sizeof(s->report) - n, "FAIL: thread %d: name is '%s', was '%s'\n", s->idx, comm, s->name);
	return NULL;
}

int main(int argc, char **argv)
{
	static char all[MAX_THREADS * 600];
	int n = argc > 3 ? atoi(argv[3]) : 64, waited = 0;
	struct sigaction sa;
	sigset_t block;

	if (argc < 3 || argc > 4 || n < 1 || n > MAX_THREADS) {
		fprintf(stderr, "usage: spinners READYFILE RESULTFILE [NTHREADS 1..%d]\n", MAX_THREADS);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = spin_on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	for (int i = 1; i <= n; i++) {
		spin_all[i].idx = i;
		errno = pthread_create(&spin_all[i].self, NULL, spin_main, &spin_all[i]);
		if (errno) {
			perror("spinners: pthread_create");
			return 2;
		}
	}
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);
	while (__atomic_load_n(&spin_ready, __ATOMIC_SEQ_CST) < n) {
		if (++waited > 20000) {
			fprintf(stderr, "spinners: threads did not start in 20 s\n");
			return 2;
		}
		usleep(1000);
	}
	if (wl_write_ready(argv[1], getpid()) < 0) {
		perror("spinners: write the ready file");
		return 2;
	}
	/* The futex compares the word first: a SIGUSR1 just before it is not lost. */
	while (!spin_go)
		syscall(SYS_futex, &spin_go, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	for (int i = 1; i <= n; i++) {
		struct timespec dl;
		size_t len = strlen(all);

		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 20;
		errno = pthread_timedjoin_np(spin_all[i].self, NULL, &dl);
		if (errno)
			snprintf(all + len, sizeof(all) - len, "FAIL: thread %d (tid %d) did not end in 20 s: %s\n", i,
				 (int)spin_all[i].tid, strerror(errno));
		else
			snprintf(all + len, sizeof(all) - len, "%s", spin_all[i].report);
	}
	if (wl_write_file(argv[2], all[0] ? all : "PASS\n") < 0) {
		perror("spinners: write the result file");
		return 2;
	}
	if (all[0])
		fputs(all, stderr);
	return all[0] ? 1 : 0;
}
