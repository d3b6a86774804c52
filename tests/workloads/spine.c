/* spine: a self-checking workload for amber's "spine" feature, one
 * single-threaded process restored with the same pid, memory, registers and
 * files.
 *
 *	spine READYFILE RESULTFILE
 *
 * It sets up state, remembers it in memory, writes "READY <pid>" to READYFILE
 * (atomically, by rename) and waits in pause(2) for SIGUSR1, holding values
 * in AVX, x87 and general registers across the wait. The test dumps, kills
 * and restores it in between, then sends SIGUSR1 (more than once if needed:
 * a signal that lands between the flag check and pause() is only seen on the
 * next one). It then re-checks every item against what it remembered and
 * writes "PASS" or one "FAIL: <what>" line per broken item to RESULTFILE
 * (atomically), and exits 0 on PASS, 1 on FAIL.
 *
 * Checked after the wait:
 *	memory	malloc'd buffers (small, medium, mmap-sized), a stack array,
 *		private anon rw, a 1 GiB sparse anon map (touched pages keep their
 *		data, untouched read zero), a read-only map filled before
 *		mprotect, a PROT_NONE map, a private file map whose written pages
 *		keep their data while the others show the file, brk
 *	layout	/proc/self/maps text identical, [vdso]/[vvar] lines included
 *	cpu	a ymm accumulator and a ymm integer pattern, an x87 long double,
 *		two general registers, x87 control word and MXCSR (non-default)
 *	signals	blocked mask; every sigaction (handlers with SA_RESTART,
 *		SA_SIGINFO, SA_NODEFER|SA_RESETHAND, sa_mask; SIG_IGN for SIGPIPE)
 *	time	vDSO clock_gettime/gettimeofday work and do not go back, time(NULL)
 *	process	pid, tid, comm, umask, cwd, /proc/self/exe, /proc/self/cmdline
 *	files	every open fd: target, F_GETFL, FD_CLOEXEC, offset; an O_RDONLY file
 *		at offset 5 reads on from there, an O_APPEND log appends after the
 *		old content, an O_RDWR file at offset 100 reads on from there
 * The pause(2) is interrupted by the dump, so its restart is exercised too.
 *
 * Its files live in a directory made beside READYFILE and removed at exit.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <immintrin.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

#define PAGE 4096UL
#define SPARSE_SIZE (1UL << 30)
#define MAPS_MAX (256 * 1024)
#define FDS_MAX 64
#define FD_SCAN 1024

/* What went wrong, one "FAIL: ..." line each. */
static char spine_report_text[16384];
static struct wl_report spine_report = { .text = spine_report_text, .size = sizeof(spine_report_text) };

/* Setup failures end the run at once: nothing later would mean anything. */
static void __attribute__((noreturn)) spine_die(const char *what)
{
	fprintf(stderr, "spine: setup: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* A byte pattern that differs per buffer and per page. */
static uint8_t spine_byte(size_t i, unsigned seed)
{
	return (uint8_t)(i * 131 + seed * 17 + (i >> 12) * 7 + 1);
}

static void spine_fill(void *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		((uint8_t *)p)[i] = spine_byte(i, seed);
}

/* Offset of the first byte off the pattern, or -1. */
static long spine_check(const void *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (((const uint8_t *)p)[i] != spine_byte(i, seed))
			return (long)i;
	return -1;
}

static long spine_check_byte(const void *p, size_t n, uint8_t b)
{
	for (size_t i = 0; i < n; i++)
		if (((const uint8_t *)p)[i] != b)
			return (long)i;
	return -1;
}

/* ---- the state, remembered in memory ---- */

struct spine_fd {
	int fd;
	char target[256];
	int fl, fdfl;
	off_t pos;
};

struct spine_files {
	int ro, app, rw;
	struct spine_fd table[FDS_MAX];
	int nr;
};

struct spine_mem {
	void *heap[3];
	uint8_t *anon, *sparse, *ro, *none, *fmap;
	void *brk;
};

struct spine_proc {
	pid_t pid;
	char exe[PATH_MAX];
	char cmdline[4096];
	ssize_t cmdline_len;
	char cwd[PATH_MAX];
	char comm[17];
	mode_t umask;
	unsigned long vdso;
	struct timespec mono, real, boot;
	struct timeval tv;
	time_t now;
	sigset_t blocked;
	struct sigaction act[65];
	int act_rc[65];
};

/* Registers as they came out of the wait loop. */
struct spine_regs {
	__m256d acc;
	__m256i keep;
	long double ld;
	uint64_t g1, g2;
	uint16_t fcw;
	uint32_t mxcsr;
	long spins;
};

static const size_t spine_heap_sizes[3] = { 100, 64 * 1024, 4 << 20 };
static const size_t spine_sparse_touched[] = { 0, 1000, SPARSE_SIZE / PAGE - 1 };
static const size_t spine_sparse_untouched[] = { 1, 500, SPARSE_SIZE / PAGE - 2 };
static const char spine_ro_text[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/";
#define SPINE_FCW 0x0f7f	/* x87: round toward zero (default 0x037f) */
#define SPINE_MXCSR 0xbfc0	/* SSE: FTZ, DAZ, round down (default 0x1f80) */

static char spine_maps_before[MAPS_MAX], spine_maps_after[MAPS_MAX];

static void spine_on_info(int sig, siginfo_t *si, void *uc) { }
static void spine_on_plain(int sig) { }

/* ---- setup ---- */

static void spine_setup_files(struct spine_files *f)
{
	char buf[200];
	int fd;

	if (wl_write_file("ro.dat", spine_ro_text) < 0)
		spine_die("ro.dat");
	fd = open("ro.dat", O_RDONLY);
	if (fd < 0 || dup3(fd, 20, O_CLOEXEC) < 0 || close(fd) < 0)
		spine_die("open ro.dat at fd 20");
	f->ro = 20;
	if (lseek(f->ro, 5, SEEK_SET) != 5)
		spine_die("seek ro.dat");

	fd = open("app.log", O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || dup2(fd, 21) < 0 || close(fd) < 0)
		spine_die("open app.log at fd 21");
	f->app = 21;
	if (write(f->app, "before\n", 7) != 7)
		spine_die("write app.log");

	fd = open("rw.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || dup2(fd, 22) < 0 || close(fd) < 0)
		spine_die("open rw.dat at fd 22");
	f->rw = 22;
	spine_fill(buf, sizeof(buf), 30);
	if (write(f->rw, buf, sizeof(buf)) != sizeof(buf) || lseek(f->rw, 100, SEEK_SET) != 100)
		spine_die("write rw.dat");
}

/* Every open fd, found with fcntl so no fd or allocation is added meanwhile. */
static int spine_scan_fds(struct spine_fd *t)
{
	int n = 0;

	for (int fd = 0; fd < FD_SCAN && n < FDS_MAX; fd++) {
		char link[64];
		ssize_t len;
		int fdfl = fcntl(fd, F_GETFD);

		if (fdfl < 0)
			continue;
		t[n].fd = fd;
		t[n].fdfl = fdfl;
		t[n].fl = fcntl(fd, F_GETFL);
		t[n].pos = lseek(fd, 0, SEEK_CUR);
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		len = readlink(link, t[n].target, sizeof(t[n].target) - 1);
		t[n].target[len > 0 ? len : 0] = 0;
		n++;
	}
	return n;
}

static void spine_setup_memory(struct spine_mem *m)
{
	int fd;
	uint8_t page[PAGE];

	for (int i = 0; i < 3; i++) {
		m->heap[i] = malloc(spine_heap_sizes[i]);
		if (!m->heap[i])
			spine_die("malloc");
		spine_fill(m->heap[i], spine_heap_sizes[i], 1 + i);
	}

	m->anon = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m->anon == MAP_FAILED)
		spine_die("mmap anon");
	spine_fill(m->anon, 16 * PAGE, 5);

	m->sparse = mmap(NULL, SPARSE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->sparse == MAP_FAILED)
		spine_die("mmap sparse");
	for (size_t i = 0; i < sizeof(spine_sparse_touched) / sizeof(spine_sparse_touched[0]); i++)
		spine_fill(m->sparse + spine_sparse_touched[i] * PAGE, PAGE, 10 + i);

	m->ro = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m->ro == MAP_FAILED)
		spine_die("mmap ro");
	spine_fill(m->ro, 4 * PAGE, 6);
	if (mprotect(m->ro, 4 * PAGE, PROT_READ) < 0)
		spine_die("mprotect ro");

	m->none = mmap(NULL, 8 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m->none == MAP_FAILED)
		spine_die("mmap none");

	/* A 4-page file, page i full of 'A'+i; pages 1 and 3 are then written privately. */
	fd = open("mapped.dat", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		spine_die("create mapped.dat");
	for (int i = 0; i < 4; i++) {
		memset(page, 'A' + i, PAGE);
		if (write(fd, page, PAGE) != PAGE)
			spine_die("write mapped.dat");
	}
	m->fmap = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (m->fmap == MAP_FAILED)
		spine_die("mmap mapped.dat");
	close(fd);
	spine_fill(m->fmap + 1 * PAGE, PAGE, 21);
	spine_fill(m->fmap + 3 * PAGE, PAGE, 23);
	/* Read page 2 so it is present but still the file's. */
	if (m->fmap[2 * PAGE] != 'C')
		spine_die("mapped.dat page 2");
	m->brk = sbrk(0);
}

static void spine_setup_signals(void)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	if (wl_catch_usr1() < 0)
		spine_die("sigaction SIGUSR1");

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = spine_on_info;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGQUIT);
	if (sigaction(SIGHUP, &sa, NULL) < 0)
		spine_die("sigaction SIGHUP");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = spine_on_plain;
	sa.sa_flags = SA_NODEFER | SA_RESETHAND;
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		spine_die("sigaction SIGALRM");

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = spine_on_info;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaddset(&sa.sa_mask, SIGRTMIN + 4);
	sigaddset(&sa.sa_mask, SIGUSR2);
	if (sigaction(SIGRTMIN + 3, &sa, NULL) < 0)
		spine_die("sigaction SIGRTMIN+3");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		spine_die("sigaction SIGPIPE");

	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGWINCH);
	sigaddset(&block, SIGTTIN);
	sigaddset(&block, SIGRTMIN + 5);
	if (sigprocmask(SIG_BLOCK, &block, NULL) < 0)
		spine_die("sigprocmask");
}

static void spine_record_proc(struct spine_proc *p)
{
	ssize_t n;

	p->pid = getpid();
	n = readlink("/proc/self/exe", p->exe, sizeof(p->exe) - 1);
	p->exe[n > 0 ? n : 0] = 0;
	p->cmdline_len = wl_read_file("/proc/self/cmdline", p->cmdline, sizeof(p->cmdline));
	if (!getcwd(p->cwd, sizeof(p->cwd)))
		snprintf(p->cwd, sizeof(p->cwd), "(getcwd: %s)", strerror(errno));
	prctl(PR_GET_NAME, p->comm);
	p->umask = umask(0);
	umask(p->umask);
	p->vdso = getauxval(AT_SYSINFO_EHDR);
	clock_gettime(CLOCK_MONOTONIC, &p->mono);
	clock_gettime(CLOCK_REALTIME, &p->real);
	clock_gettime(CLOCK_BOOTTIME, &p->boot);
	gettimeofday(&p->tv, NULL);
	p->now = time(NULL);
	sigprocmask(SIG_BLOCK, NULL, &p->blocked);
	for (int sig = 1; sig <= 64; sig++) {
		memset(&p->act[sig], 0, sizeof(p->act[sig]));
		p->act_rc[sig] = sigaction(sig, NULL, &p->act[sig]);
	}
}

/* 1/3 in full x87 precision, computed where the compiler cannot fold it. */
static __attribute__((noinline)) long double spine_third(void)
{
	volatile long double one = 1.0L, three = 3.0L;

	return one / three;
}

static const double spine_acc0[4] = { 1.5, 2.25, 3.125, 4.0625 };
static const double spine_inc[4] = { 0.5, 0.25, 0.125, 0.0625 };
static const int64_t spine_keep[4] = { 0x7f7f00ff80800011LL, 0x5555aaaa3333ccccLL, (int64_t)0xfedcba9876543210ULL, 0x0123456789abcdefLL };
#define SPINE_G1 0x1122334455667788ULL
#define SPINE_G2 0x99aabbccddeeff00ULL

/* Waits in pause(2) for SIGUSR1 with values live in registers only: the loop
 * is one asm block, so nothing is spilled to memory across the syscall. */
static __attribute__((noinline)) void spine_wait(struct spine_regs *r)
{
	__m256d acc = _mm256_loadu_pd(spine_acc0);
	__m256d inc = _mm256_loadu_pd(spine_inc);
	__m256i keep = _mm256_loadu_si256((const __m256i *)spine_keep);
	long double ld = spine_third();
	uint64_t g1 = SPINE_G1, g2 = SPINE_G2;
	long spins = 0;
	uint16_t fcw = SPINE_FCW, fcw_def = 0x037f;
	uint32_t mx = SPINE_MXCSR, mx_def = 0x1f80;

	asm volatile("fldcw %0\n\tldmxcsr %1" : : "m"(fcw), "m"(mx));
	asm volatile(
		"1:\n\t"
		"cmpl $0, %[flag]\n\t"
		"jne 2f\n\t"
		"movl %[nr], %%eax\n\t"
		"syscall\n\t"
		"vaddpd %[inc], %[acc], %[acc]\n\t"
		"incq %[spins]\n\t"
		"jmp 1b\n"
		"2:\n\t"
		: [acc] "+x"(acc), [keep] "+x"(keep), [g1] "+r"(g1), [g2] "+r"(g2), [spins] "+r"(spins), "+t"(ld)
		: [flag] "m"(wl_got_usr1), [inc] "x"(inc), [nr] "i"(SYS_pause)
		: "rax", "rcx", "r11", "memory", "cc");
	asm volatile("fnstcw %0\n\tstmxcsr %1" : "=m"(r->fcw), "=m"(r->mxcsr));
	asm volatile("fldcw %0\n\tldmxcsr %1" : : "m"(fcw_def), "m"(mx_def));
	r->acc = acc;
	r->keep = keep;
	r->ld = ld;
	r->g1 = g1;
	r->g2 = g2;
	r->spins = spins;
}

/* ---- verification ---- */

static void spine_verify_regs(const struct spine_regs *r)
{
	double want[4], got[4];
	int64_t keep[4];
	long double third = spine_third();

	memcpy(want, spine_acc0, sizeof(want));
	for (long i = 0; i < r->spins; i++)
		for (int k = 0; k < 4; k++)
			want[k] += spine_inc[k];
	_mm256_storeu_pd(got, r->acc);
	for (int k = 0; k < 4; k++)
		if (got[k] != want[k])
			wl_fail(&spine_report, "ymm accumulator lane %d is %.17g, want %.17g after %ld wakeups", k, got[k], want[k], r->spins);
	_mm256_storeu_si256((__m256i *)keep, r->keep);
	for (int k = 0; k < 4; k++)
		if (keep[k] != spine_keep[k])
			wl_fail(&spine_report, "ymm pattern lane %d is %#llx, want %#llx", k, (unsigned long long)keep[k],
				   (unsigned long long)spine_keep[k]);
	if (memcmp(&r->ld, &third, 10))
		wl_fail(&spine_report, "x87 long double 1/3 changed: %.21Lg, want %.21Lg", r->ld, third);
	if (r->g1 != SPINE_G1 || r->g2 != SPINE_G2)
		wl_fail(&spine_report, "general registers are %#llx %#llx, want %#llx %#llx", (unsigned long long)r->g1,
			   (unsigned long long)r->g2, SPINE_G1, SPINE_G2);
	if (r->fcw != SPINE_FCW)
		wl_fail(&spine_report, "x87 control word is %#x, want %#x", r->fcw, SPINE_FCW);
	if (r->mxcsr != SPINE_MXCSR)
		wl_fail(&spine_report, "MXCSR is %#x, want %#x", r->mxcsr, SPINE_MXCSR);
}

/* The first differing line of two maps texts, reported whole. */
static void spine_verify_maps(void)
{
	const char *a = spine_maps_before, *b = spine_maps_after;
	int line = 1;

	if (!strcmp(a, b))
		return;
	while (*a && *b) {
		const char *ea = strchrnul(a, '\n'), *eb = strchrnul(b, '\n');

		if (ea - a != eb - b || memcmp(a, b, ea - a)) {
			wl_fail(&spine_report, "/proc/self/maps line %d was '%.*s', now '%.*s'", line,
				   (int)(ea - a), a, (int)(eb - b), b);
			return;
		}
		a = *ea ? ea + 1 : ea;
		b = *eb ? eb + 1 : eb;
		line++;
	}
	wl_fail(&spine_report, "/proc/self/maps %s after line %d: '%.120s'", *a ? "lost lines" : "gained lines", line - 1, *a ? a : b);
}

static void spine_verify_memory(const struct spine_mem *m, const volatile uint64_t *stack, size_t nstack)
{
	long off;
	uint8_t page[PAGE];
	int fd;

	for (int i = 0; i < 3; i++)
		if ((off = spine_check(m->heap[i], spine_heap_sizes[i], 1 + i)) >= 0)
			wl_fail(&spine_report, "heap buffer %d (%zu bytes at %p) differs at byte %ld", i, spine_heap_sizes[i], m->heap[i], off);
	for (size_t i = 0; i < nstack; i++)
		if (stack[i] != (i * 0x9E3779B97F4A7C15ULL ^ 0x5a5a)) {
			wl_fail(&spine_report, "stack array differs at element %zu", i);
			break;
		}
	if ((off = spine_check(m->anon, 16 * PAGE, 5)) >= 0)
		wl_fail(&spine_report, "private anon map at %p differs at byte %ld", (void *)m->anon, off);
	for (size_t i = 0; i < sizeof(spine_sparse_touched) / sizeof(spine_sparse_touched[0]); i++)
		if ((off = spine_check(m->sparse + spine_sparse_touched[i] * PAGE, PAGE, 10 + i)) >= 0)
			wl_fail(&spine_report, "sparse map page %zu differs at byte %ld", spine_sparse_touched[i], off);
	for (size_t i = 0; i < sizeof(spine_sparse_untouched) / sizeof(spine_sparse_untouched[0]); i++)
		if ((off = spine_check_byte(m->sparse + spine_sparse_untouched[i] * PAGE, PAGE, 0)) >= 0)
			wl_fail(&spine_report, "untouched sparse map page %zu is not zero at byte %ld", spine_sparse_untouched[i], off);
	if ((off = spine_check(m->ro, 4 * PAGE, 6)) >= 0)
		wl_fail(&spine_report, "read-only map at %p differs at byte %ld", (void *)m->ro, off);
	if ((off = spine_check_byte(m->fmap, PAGE, 'A')) >= 0)
		wl_fail(&spine_report, "file map page 0 (never written) differs from the file at byte %ld", off);
	if ((off = spine_check(m->fmap + PAGE, PAGE, 21)) >= 0)
		wl_fail(&spine_report, "file map page 1 (written privately) lost its data at byte %ld", off);
	if ((off = spine_check_byte(m->fmap + 2 * PAGE, PAGE, 'C')) >= 0)
		wl_fail(&spine_report, "file map page 2 (read only) differs from the file at byte %ld", off);
	if ((off = spine_check(m->fmap + 3 * PAGE, PAGE, 23)) >= 0)
		wl_fail(&spine_report, "file map page 3 (written privately) lost its data at byte %ld", off);
	/* Private writes never reach the file. */
	fd = open("mapped.dat", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, page, PAGE, PAGE) != PAGE || spine_check_byte(page, PAGE, 'B') >= 0)
		wl_fail(&spine_report, "mapped.dat page 1 on disk is no longer all 'B'");
	if (fd >= 0)
		close(fd);
	if (sbrk(0) != m->brk)
		wl_fail(&spine_report, "brk is %p, was %p", sbrk(0), m->brk);
}

static void spine_verify_sigset(const char *what, const sigset_t *got, const sigset_t *want)
{
	for (int sig = 1; sig <= 64; sig++)
		if (sigismember(got, sig) != sigismember(want, sig))
			wl_fail(&spine_report, "%s: signal %d is %s, was %s", what, sig, sigismember(got, sig) ? "in" : "out",
				   sigismember(want, sig) ? "in" : "out");
}

static void spine_verify_signals(const struct spine_proc *p)
{
	sigset_t now;

	sigprocmask(SIG_BLOCK, NULL, &now);
	spine_verify_sigset("blocked mask", &now, &p->blocked);
	for (int sig = 1; sig <= 64; sig++) {
		struct sigaction sa;
		char what[48];
		int rc;

		memset(&sa, 0, sizeof(sa));
		rc = sigaction(sig, NULL, &sa);
		if (rc != p->act_rc[sig]) {
			wl_fail(&spine_report, "sigaction(%d) returned %d, was %d", sig, rc, p->act_rc[sig]);
			continue;
		}
		if (rc < 0)
			continue;
		if ((void *)sa.sa_handler != (void *)p->act[sig].sa_handler)
			wl_fail(&spine_report, "signal %d handler is %p, was %p", sig, (void *)sa.sa_handler, (void *)p->act[sig].sa_handler);
		if (sa.sa_flags != p->act[sig].sa_flags)
			wl_fail(&spine_report, "signal %d sa_flags are %#x, were %#x", sig, sa.sa_flags, p->act[sig].sa_flags);
		if (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN &&
		    (void *)sa.sa_restorer != (void *)p->act[sig].sa_restorer)
			wl_fail(&spine_report, "signal %d sa_restorer is %p, was %p", sig, (void *)sa.sa_restorer, (void *)p->act[sig].sa_restorer);
		snprintf(what, sizeof(what), "signal %d sa_mask", sig);
		spine_verify_sigset(what, &sa.sa_mask, &p->act[sig].sa_mask);
	}
	/* Spot checks of what was set, in case both snapshots were wrong alike. */
	if (p->act[SIGPIPE].sa_handler != SIG_IGN)
		wl_fail(&spine_report, "SIGPIPE is not ignored");
	if (!(p->act[SIGHUP].sa_flags & SA_SIGINFO) || !(p->act[SIGHUP].sa_flags & SA_RESTART))
		wl_fail(&spine_report, "SIGHUP lost SA_SIGINFO|SA_RESTART");
	if (!sigismember(&p->act[SIGRTMIN + 3].sa_mask, SIGRTMIN + 4))
		wl_fail(&spine_report, "SIGRTMIN+3 sa_mask lost SIGRTMIN+4");
}

/* Is a later than or equal to b? */
static int spine_ts_ge(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec >= b->tv_nsec);
}

static void spine_verify_process(const struct spine_proc *p)
{
	struct spine_proc now;
	struct timespec ts;
	struct timeval tv;

	memset(&now, 0, sizeof(now));
	if (getpid() != p->pid)
		wl_fail(&spine_report, "getpid() is %d, was %d", getpid(), p->pid);
	if (syscall(SYS_gettid) != p->pid)
		wl_fail(&spine_report, "gettid() is %ld, was %d", syscall(SYS_gettid), p->pid);
	spine_record_proc(&now);
	if (strcmp(now.exe, p->exe))
		wl_fail(&spine_report, "/proc/self/exe is '%s', was '%s'", now.exe, p->exe);
	if (now.cmdline_len != p->cmdline_len || memcmp(now.cmdline, p->cmdline, p->cmdline_len > 0 ? p->cmdline_len : 0))
		wl_fail(&spine_report, "/proc/self/cmdline changed (%zd bytes, was %zd)", now.cmdline_len, p->cmdline_len);
	if (strcmp(now.cwd, p->cwd))
		wl_fail(&spine_report, "cwd is '%s', was '%s'", now.cwd, p->cwd);
	if (strcmp(now.comm, p->comm))
		wl_fail(&spine_report, "comm is '%s', was '%s'", now.comm, p->comm);
	if (now.umask != p->umask)
		wl_fail(&spine_report, "umask is %03o, was %03o", now.umask, p->umask);
	if (now.vdso != p->vdso)
		wl_fail(&spine_report, "AT_SYSINFO_EHDR is %#lx, was %#lx", now.vdso, p->vdso);
	if (!p->vdso || !strstr(spine_maps_after, "[vdso]"))
		wl_fail(&spine_report, "no vDSO mapped");
	/* The vDSO must answer, and clocks must not run backwards. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0 || !spine_ts_ge(&ts, &p->mono))
		wl_fail(&spine_report, "CLOCK_MONOTONIC went back: %ld.%09ld < %ld.%09ld", ts.tv_sec, ts.tv_nsec, p->mono.tv_sec, p->mono.tv_nsec);
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0 || !spine_ts_ge(&ts, &p->real))
		wl_fail(&spine_report, "CLOCK_REALTIME went back");
	if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0 || !spine_ts_ge(&ts, &p->boot))
		wl_fail(&spine_report, "CLOCK_BOOTTIME went back");
	if (gettimeofday(&tv, NULL) < 0 || tv.tv_sec < p->tv.tv_sec ||
	    (tv.tv_sec == p->tv.tv_sec && tv.tv_usec < p->tv.tv_usec))
		wl_fail(&spine_report, "gettimeofday went back");
	if (time(NULL) < p->now || time(NULL) > p->now + 86400)
		wl_fail(&spine_report, "time(NULL) is %ld, was %ld", (long)time(NULL), (long)p->now);
	/* Two readings in a row move forward: the clock is live, not frozen. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	for (long i = 0;; i++) {
		struct timespec ts2;

		clock_gettime(CLOCK_MONOTONIC, &ts2);
		if (ts2.tv_sec != ts.tv_sec || ts2.tv_nsec != ts.tv_nsec)
			break;
		if (i == 100000000) {
			wl_fail(&spine_report, "CLOCK_MONOTONIC is frozen at %ld.%09ld", ts.tv_sec, ts.tv_nsec);
			break;
		}
	}
}

static void spine_verify_files(const struct spine_files *f)
{
	struct spine_fd now[FDS_MAX];
	int n = spine_scan_fds(now);
	char buf[256];
	uint8_t want[200];
	ssize_t got;

	if (n != f->nr)
		wl_fail(&spine_report, "%d fds open, were %d", n, f->nr);
	for (int i = 0; i < f->nr; i++) {
		const struct spine_fd *was = &f->table[i];
		const struct spine_fd *is = NULL;

		for (int j = 0; j < n; j++)
			if (now[j].fd == was->fd)
				is = &now[j];
		if (!is) {
			wl_fail(&spine_report, "fd %d ('%s') is gone", was->fd, was->target);
			continue;
		}
		if (strcmp(is->target, was->target))
			wl_fail(&spine_report, "fd %d is '%s', was '%s'", was->fd, is->target, was->target);
		if (is->fl != was->fl)
			wl_fail(&spine_report, "fd %d F_GETFL is %#o, was %#o", was->fd, is->fl, was->fl);
		if (is->fdfl != was->fdfl)
			wl_fail(&spine_report, "fd %d F_GETFD is %#x, was %#x", was->fd, is->fdfl, was->fdfl);
		if (is->pos != was->pos)
			wl_fail(&spine_report, "fd %d offset is %lld, was %lld", was->fd, (long long)is->pos, (long long)was->pos);
	}
	/* The files still work from where they were. */
	got = read(f->ro, buf, 4);
	if (got != 4 || memcmp(buf, spine_ro_text + 5, 4))
		wl_fail(&spine_report, "read at ro.dat offset 5 gave %zd bytes '%.4s', want '%.4s'", got, got > 0 ? buf : "", spine_ro_text + 5);
	if (!(fcntl(f->ro, F_GETFD) & FD_CLOEXEC))
		wl_fail(&spine_report, "fd %d lost FD_CLOEXEC", f->ro);
	if (fcntl(f->rw, F_GETFD) & FD_CLOEXEC)
		wl_fail(&spine_report, "fd %d gained FD_CLOEXEC", f->rw);
	if (!(fcntl(f->app, F_GETFL) & O_APPEND))
		wl_fail(&spine_report, "app.log fd %d lost O_APPEND", f->app);
	if (write(f->app, "after\n", 6) != 6)
		wl_fail(&spine_report, "append to app.log: %s", strerror(errno));
	if (wl_read_file("app.log", buf, sizeof(buf)) < 0 || strcmp(buf, "before\nafter\n"))
		wl_fail(&spine_report, "app.log holds '%s', want 'before\\nafter\\n'", buf);
	got = read(f->rw, buf, 10);
	spine_fill(want, sizeof(want), 30);
	if (got != 10 || memcmp(buf, want + 100, 10))
		wl_fail(&spine_report, "read at rw.dat offset 100 gave the wrong bytes (%zd)", got);
	if ((fcntl(f->rw, F_GETFL) & O_ACCMODE) != O_RDWR)
		wl_fail(&spine_report, "rw.dat fd %d is not O_RDWR", f->rw);
}

/* dst (PATH_MAX bytes) = path made absolute against the current directory. */
static void spine_abspath(char *dst, const char *path)
{
	char cwd[PATH_MAX];

	if (path[0] == '/') {
		cwd[0] = 0;
	} else if (!getcwd(cwd, sizeof(cwd))) {
		spine_die("getcwd");
	}
	if (strlen(cwd) + strlen(path) + 2 > PATH_MAX) {
		errno = ENAMETOOLONG;
		spine_die(path);
	}
	strcpy(dst, cwd);
	if (cwd[0])
		strcat(dst, "/");
	strcat(dst, path);
}

/* Removes the work directory (flat: only the files made above). */
static void spine_cleanup(const char *dir)
{
	static const char *files[] = { "ro.dat", "app.log", "rw.dat", "mapped.dat", "ro.dat.tmp" };

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlinkat(AT_FDCWD, files[i], 0);
	if (chdir("/") == 0)
		rmdir(dir);
}

int main(int argc, char **argv)
{
	static struct spine_files files;
	static struct spine_mem mem;
	static struct spine_proc proc;
	static struct spine_regs regs;
	static char workdir[PATH_MAX], ready[PATH_MAX], result[PATH_MAX];
	volatile uint64_t stack[512];
	char *slash;

	if (argc != 3) {
		fprintf(stderr, "usage: spine READYFILE RESULTFILE\n");
		return 2;
	}
	/* Absolute paths: the process changes directory below. */
	spine_abspath(ready, argv[1]);
	spine_abspath(result, argv[2]);
	strcpy(workdir, ready);
	slash = strrchr(workdir, '/');
	snprintf(slash + 1, sizeof(workdir) - (slash + 1 - workdir), "spine.XXXXXX");
	if (!mkdtemp(workdir) || chdir(workdir) < 0)
		spine_die("make the work directory");

	umask(027);
	prctl(PR_SET_NAME, "spine-wl");
	spine_setup_files(&files);
	spine_setup_memory(&mem);
	spine_setup_signals();
	for (size_t i = 0; i < 512; i++)
		stack[i] = i * 0x9E3779B97F4A7C15ULL ^ 0x5a5a;
	spine_record_proc(&proc);
	files.nr = spine_scan_fds(files.table);

	/* Last, so nothing changes the layout between this and the wait. */
	if (wl_read_file("/proc/self/maps", spine_maps_before, sizeof(spine_maps_before)) <= 0)
		spine_die("read /proc/self/maps");
	if (wl_write_ready(ready, proc.pid) < 0)
		spine_die("write the ready file");

	spine_wait(&regs);

	/* First thing after the wait, before anything can allocate. */
	wl_read_file("/proc/self/maps", spine_maps_after, sizeof(spine_maps_after));
	spine_verify_regs(&regs);
	spine_verify_maps();
	spine_verify_memory(&mem, stack, 512);
	spine_verify_signals(&proc);
	spine_verify_process(&proc);
	spine_verify_files(&files);

	spine_cleanup(workdir);
	if (wl_write_result(result, &spine_report) < 0)
		spine_die("write the result file");
	if (spine_report.nfails)
		fputs(spine_report.text, stderr);
	return spine_report.nfails ? 1 : 0;
}
