/* unit: the tiny table-driven harness every tests/unit/test_MODULE.c uses.
 *
 * A test program is a table of named cases and one UNIT_MAIN line:
 *
 *	static void frame_round_trip(void) { CHECK_INT(frame_next(...), 1); }
 *	static const struct unit_case cases[] = {
 *		UNIT_CASE(frame_round_trip),
 *	};
 *	UNIT_MAIN(cases)
 *
 * Output is TAP-like, read by tests/run-all.sh:
 *	1..N			the plan: a crash that cuts the run short is counted
 *	ok NAME			case passed
 *	not ok NAME		case failed; "# file:line: ..." diagnostics come before it
 *	skip NAME		case skipped (UNIT_SKIP)
 * The exit status is 1 when any case failed, 0 otherwise.
 *
 * Each case runs in a forked child with an alarm, so a crash or a hang fails
 * that case only and says which signal killed it. UNIT_NOFORK=1 runs cases in
 * the parent (for gdb); arguments restrict the run to the named cases.
 */
#ifndef AMBER_UNIT_H
#define AMBER_UNIT_H

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct unit_case {
	const char *name;
	void (*fn)(void);
};

#define UNIT_CASE(fn) { #fn, fn }
#define UNIT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define UNIT_EXIT_SKIP 77
#define UNIT_TIMEOUT_S 20

/* Checks failed in the current case; private to the harness and the macros. */
static int unit_failures;

/* Records one failed check with its location. */
static void __attribute__((format(printf, 3, 4))) unit_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	unit_failures++;
	fprintf(stdout, "# %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* Continue after a failed check, so one run shows every broken field. */
#define CHECK(cond) do { \
	if (!(cond)) unit_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond); \
} while (0)

#define CHECK_INT(got, want) do { \
	long long _g = (long long)(got), _w = (long long)(want); \
	if (_g != _w) unit_fail(__FILE__, __LINE__, "%s is %lld, want %lld", #got, _g, _w); \
} while (0)

#define CHECK_U64(got, want) do { \
	unsigned long long _g = (unsigned long long)(got), _w = (unsigned long long)(want); \
	if (_g != _w) unit_fail(__FILE__, __LINE__, "%s is %#llx, want %#llx", #got, _g, _w); \
} while (0)

#define CHECK_STR(got, want) do { \
	const char *_g = (got), *_w = (want); \
	if (!_g || strcmp(_g, _w)) unit_fail(__FILE__, __LINE__, "%s is '%s', want '%s'", #got, _g ? _g : "(null)", _w); \
} while (0)

/* The string holds the substring (error messages must name their object). */
#define CHECK_CONTAINS(hay, needle) do { \
	const char *_h = (hay), *_n = (needle); \
	if (!_h || !strstr(_h, _n)) unit_fail(__FILE__, __LINE__, "%s is '%s', which lacks '%s'", #hay, _h ? _h : "(null)", _n); \
} while (0)

/* A setup step that must work for the rest of the case to mean anything. */
#define REQUIRE(cond) do { \
	if (!(cond)) { unit_fail(__FILE__, __LINE__, "REQUIRE(%s) failed (errno %d)", #cond, errno); return; } \
} while (0)

#define UNIT_SKIP(...) do { \
	printf("# skip: "); printf(__VA_ARGS__); printf("\n"); fflush(stdout); exit(UNIT_EXIT_SKIP); \
} while (0)

/* Runs one case in-process; returns 0 pass, 1 fail. */
static int unit_run_inline(const struct unit_case *c)
{
	unit_failures = 0;
	c->fn();
	return unit_failures ? 1 : 0;
}

/* Runs one case in a child; prints its result line; returns 1 if it failed. */
static int unit_run_case(const struct unit_case *c, int nofork)
{
	int status;
	pid_t pid;

	if (nofork) {
		int failed = unit_run_inline(c);

		printf("%s %s\n", failed ? "not ok" : "ok", c->name);
		fflush(stdout);
		return failed;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		printf("# fork: %s\nnot ok %s\n", strerror(errno), c->name);
		return 1;
	}
	if (pid == 0) {
		alarm(UNIT_TIMEOUT_S);
		/* exit, not _exit: a sanitizer's leak check runs at exit and fails the case. */
		exit(unit_run_inline(c));
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			printf("# waitpid: %s\nnot ok %s\n", strerror(errno), c->name);
			return 1;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == UNIT_EXIT_SKIP) {
		printf("skip %s\n", c->name);
		return 0;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("ok %s\n", c->name);
		return 0;
	}
	if (WIFSIGNALED(status))
		printf("# killed by signal %d (%s)%s\n", WTERMSIG(status), strsignal(WTERMSIG(status)),
		       WTERMSIG(status) == SIGALRM ? ": timed out" : "");
	else if (WEXITSTATUS(status) != 1)
		printf("# exited with status %d%s\n", WEXITSTATUS(status),
		       WEXITSTATUS(status) == 23 ? " (a sanitizer found a leak)" : "");
	printf("not ok %s\n", c->name);
	return 1;
}

/* Is case 'name' selected by the command line (all when none given)? */
static int unit_selected(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], name))
			return 1;
	return 0;
}

static int unit_run(const struct unit_case *cases, size_t n, int argc, char **argv)
{
	const char *nf = getenv("UNIT_NOFORK");
	int nofork = nf && *nf && strcmp(nf, "0");
	size_t planned = 0;
	int failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < n; i++)
		planned += unit_selected(cases[i].name, argc, argv);
	printf("1..%zu\n", planned);
	for (size_t i = 0; i < n; i++)
		if (unit_selected(cases[i].name, argc, argv))
			failed |= unit_run_case(&cases[i], nofork);
	return failed ? 1 : 0;
}

#define UNIT_MAIN(table) \
	int main(int argc, char **argv) { return unit_run(table, UNIT_ARRAY_SIZE(table), argc, argv); }

/* A fresh private directory for one case; the caller removes it with unit_rmtree. */
static inline char *unit_tmpdir(void)
{
	static char path[64];

	snprintf(path, sizeof(path), "/tmp/amber-unit-XXXXXX");
	return mkdtemp(path);
}

/* rm -rf of a test directory (flat: the tests make no subdirectories). */
static inline void unit_rmtree(const char *dir)
{
	char cmd[256];

	if (!dir || strncmp(dir, "/tmp/amber-unit-", 16))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", dir);
}

#endif
