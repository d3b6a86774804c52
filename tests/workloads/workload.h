/* workload.h: what the self-checking workloads share: the "FAIL: ..." report,
 * READY and RESULT files written atomically, and the wait for SIGUSR1.
 *
 * Every tests/workloads/X.c is built alone into its own program (the Makefile
 * globs them, with no library), so the helpers are static inline here rather
 * than a .c of their own.
 */
#ifndef AMBER_TESTS_WORKLOAD_H
#define AMBER_TESTS_WORKLOAD_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* "FAIL: ..." lines for the result file, and how many checks failed. */
struct wl_report {
	char *text;
	size_t size;
	int nfails;
};

/* Adds "FAIL: [WHO: ]..." to r; a full report still counts the failure. */
static inline void wl_vfail(struct wl_report *r, const char *who, const char *fmt, va_list ap)
{
	size_t n = strlen(r->text);

	r->nfails++;
	if (n + 64 >= r->size)
		return;
	if (who)
		n += snprintf(r->text + n, r->size - n, "FAIL: %s: ", who);
	else
		n += snprintf(r->text + n, r->size - n, "FAIL: ");
	if (n < r->size)
		n += vsnprintf(r->text + n, r->size - n, fmt, ap);
	if (n < r->size - 1)
		strcat(r->text, "\n");
}

/* Adds one "FAIL: ..." line to r. */
static inline void __attribute__((format(printf, 2, 3))) wl_fail(struct wl_report *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wl_vfail(r, NULL, fmt, ap);
	va_end(ap);
}

/* Writes text to path atomically (PATH.tmp, then rename); 0 or -1. */
static inline int wl_write_file(const char *path, const char *text)
{
	char tmp[PATH_MAX + 8];
	size_t len = strlen(text);
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	close(fd);
	return rename(tmp, path);
}

/* Whole small file into buf with read(2) only (no stdio, no malloc). */
static inline ssize_t wl_read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t got;

	if (fd < 0)
		return -1;
	while (n < cap - 1 && (got = read(fd, buf + n, cap - 1 - n)) > 0)
		n += got;
	close(fd);
	buf[n] = 0;
	return (ssize_t)n;
}

/* Writes "READY <pid>" to path atomically; 0 or -1. */
static inline int wl_write_ready(const char *path, pid_t pid)
{
	char line[64];

	snprintf(line, sizeof(line), "READY %d\n", (int)pid);
	return wl_write_file(path, line);
}

/* Writes "PASS", or r's failure lines, to path atomically; 0 or -1. */
static inline int wl_write_result(const char *path, const struct wl_report *r)
{
	return wl_write_file(path, r->nfails ? r->text : "PASS\n");
}

/* Set by wl_on_usr1: the test's go-ahead has come. */
static volatile sig_atomic_t wl_got_usr1 __attribute__((unused));

/* SIGUSR1's handler: sets wl_got_usr1. */
static inline void wl_on_usr1(int sig)
{
	wl_got_usr1 = 1;
}

/* Catches SIGUSR1 with wl_on_usr1, without SA_RESTART so pause() returns. */
static inline int wl_catch_usr1(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = wl_on_usr1;
	return sigaction(SIGUSR1, &sa, NULL);
}

/* Waits in pause(2) for SIGUSR1 (one that lands just before pause() is seen
 * only on the next: the test sends it again). */
static inline void wl_wait_usr1(void)
{
	while (!wl_got_usr1)
		pause();
}

/* A set-up step: when ok is false, says what failed (with errno) on
 * stderr, prefixed by the workload's name; 0 if ok, else -1. */
static inline int wl_must(int ok, const char *what)
{
	if (!ok)
		fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, strerror(errno));
	return ok ? 0 : -1;
}

/* mkdir -p path (mode 0755); 0 or -1. */
static inline int wl_mkdirs(const char *path)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				return -1;
			*s = '/';
		}
	return mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* CLOCK_MONOTONIC in seconds. */
static inline double wl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleeps ms milliseconds, going on after signals. */
static inline void wl_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

#endif
