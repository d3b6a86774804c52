/* forest: a wide process tree for amber's tree benchmark.
 *
 *	forest READYFILE RESULTFILE [NPROCS]	(default 100: the root and 99 children)
 *
 * The root forks NPROCS-1 children. Each fills 64 KiB of its own memory with
 * a pattern of its own and sleeps in pause(2); it tells the root it is set
 * up by creating an empty file named after its pid in a directory made beside
 * READYFILE. When all are, the root writes "READY <pid>" to READYFILE (by
 * rename) and pauses too. Start it under tests/workloads/reaper, so the
 * children of a killed forest are reaped and their pids freed.
 *
 * On SIGUSR1 (sent again if missed) the root sends SIGUSR1 to every child
 * until it has reaped it (20 s at most). A child checks its pid, its parent
 * (the root) and its pattern and exits 0 if all is well, 1 if not. The root
 * checks its own pid and pattern and writes "PASS" to RESULTFILE, or "FAIL:"
 * lines naming the children that failed or never answered, and exits 0 on
 * PASS.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

#define MEM_SIZE (64 * 1024)
#define MAX_PROCS 4096

static uint8_t forest_byte(size_t i, unsigned seed)
{
	return (uint8_t)(i * 167 + seed * 13 + (i >> 12) + 5);
}

static void forest_fill(uint8_t *p, unsigned seed)
{
	for (size_t i = 0; i < MEM_SIZE; i++)
		p[i] = forest_byte(i, seed);
}

static int forest_check(const uint8_t *p, unsigned seed)
{
	for (size_t i = 0; i < MEM_SIZE; i++)
		if (p[i] != forest_byte(i, seed))
			return -1;
	return 0;
}

static void __attribute__((noreturn)) forest_die(const char *what)
{
	fprintf(stderr, "forest (pid %d): %s: %s\n", (int)getpid(), what, strerror(errno));
	exit(2);
}

/* Removes the readiness directory (flat). */
static void forest_cleanup(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(dir);
}

static void __attribute__((noreturn)) forest_child(const char *dir, int idx, pid_t root)
{
	uint8_t *mem = malloc(MEM_SIZE);
	pid_t pid = getpid();
	char path[PATH_MAX + 32];
	int fd, bad = 0;

	if (!mem)
		forest_die("malloc");
	forest_fill(mem, idx);
	snprintf(path, sizeof(path), "%s/%d", dir, (int)pid);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		forest_die("create the ready mark");
	close(fd);
	wl_wait_usr1();
	if (getpid() != pid) {
		fprintf(stderr, "forest child %d: getpid() is %d\n", (int)pid, (int)getpid());
		bad = 1;
	}
	if (getppid() != root) {
		fprintf(stderr, "forest child %d: parent is %d, was %d\n", (int)pid, (int)getppid(), (int)root);
		bad = 1;
	}
	if (forest_check(mem, idx) < 0) {
		fprintf(stderr, "forest child %d: memory pattern changed\n", (int)pid);
		bad = 1;
	}
	exit(bad);
}

int main(int argc, char **argv)
{
	static pid_t kids[MAX_PROCS];
	static int done[MAX_PROCS];
	static char report[65536], dir[PATH_MAX];
	char *slash;
	int n = argc > 3 ? atoi(argv[3]) : 100;
	int nfails = 0, left;
	uint8_t *mem;
	pid_t root = getpid();
	double end;

	if (argc < 3 || argc > 4 || n < 1 || n > MAX_PROCS) {
		fprintf(stderr, "usage: forest READYFILE RESULTFILE [NPROCS 1..%d]\n", MAX_PROCS);
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	slash = strrchr(dir, '/');
	snprintf(slash ? slash + 1 : dir, sizeof(dir) - (slash ? slash + 1 - dir : 0), "forest.XXXXXX");
	if (!mkdtemp(dir))
		forest_die("mkdtemp");
	if (wl_catch_usr1() < 0)
		forest_die("sigaction");
	mem = malloc(MEM_SIZE);
	if (!mem)
		forest_die("malloc");
	for (int i = 1; i < n; i++) {
		kids[i] = fork();
		if (kids[i] < 0)
			forest_die("fork");
		if (kids[i] == 0)
			forest_child(dir, i, root);
	}
	forest_fill(mem, 0);
	end = wl_now() + 30;
	for (int i = 1; i < n; i++) {
		char path[PATH_MAX + 32];

		snprintf(path, sizeof(path), "%s/%d", dir, (int)kids[i]);
		while (access(path, F_OK) < 0) {
			if (wl_now() > end) {
				errno = ETIMEDOUT;
				forest_die("wait for the children to get ready");
			}
			wl_sleep_ms(2);
		}
	}
	forest_cleanup(dir);
	if (wl_write_ready(argv[1], root) < 0)
		forest_die("write the ready file");

	wl_wait_usr1();

	if (getpid() != root) {
		snprintf(report + strlen(report), sizeof(report) - strlen(report), "FAIL: root getpid() is %d, was %d\n", (int)getpid(), (int)root);
		nfails++;
	}
	if (forest_check(mem, 0) < 0) {
		snprintf(report + strlen(report), sizeof(report) - strlen(report), "FAIL: root memory pattern changed\n");
		nfails++;
	}
	end = wl_now() + 20;
	do {
		left = 0;
		for (int i = 1; i < n; i++) {
			int st;
			pid_t got;

			if (done[i])
				continue;
			got = waitpid(kids[i], &st, WNOHANG);
			if (got == kids[i] || (got < 0 && errno == ECHILD)) {
				done[i] = 1;
				if (got < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
					nfails++;
					if (strlen(report) < sizeof(report) - 128)
						snprintf(report + strlen(report), sizeof(report) - strlen(report),
							 "FAIL: child %d (pid %d) %s %d\n", i, (int)kids[i],
							 got < 0 ? "is not our child: errno" : WIFEXITED(st) ? "exited" : "was killed by signal",
							 got < 0 ? errno : WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
				}
				continue;
			}
			left++;
			kill(kids[i], SIGUSR1);
		}
		if (left)
			wl_sleep_ms(20);
	} while (left && wl_now() < end);
	for (int i = 1; i < n; i++)
		if (!done[i]) {
			nfails++;
			if (strlen(report) < sizeof(report) - 128)
				snprintf(report + strlen(report), sizeof(report) - strlen(report),
					 "FAIL: child %d (pid %d) gave no answer in 20 s\n", i, (int)kids[i]);
		}
	if (wl_write_file(argv[2], nfails ? report : "PASS\n") < 0)
		forest_die("write the result file");
	if (nfails)
		fputs(report, stderr);
	return nfails ? 1 : 0;
}
