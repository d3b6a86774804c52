/* shmem: a self-checking workload for memory shared between processes.
 *
 *	shmem READYFILE RESULTFILE
 *
 * The parent maps 1 MiB MAP_SHARED|MAP_ANONYMOUS, writes pages 0-9 and forks;
 * the child writes pages 100-109, which the parent never touches before the
 * dump (so only the shared object, not the parent's page tables, has them).
 * After SIGUSR1 (to the parent, which passes it on) both check the pages,
 * then prove the memory is still shared: the parent writes a token into page
 * 200, the child waits for it and answers in page 201, the parent waits for
 * the answer. Each mapping must still show as "/dev/zero (deleted)". The
 * child reports by its exit status; the parent writes PASS or FAIL lines.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#define PG 4096
#define LEN (256 * PG)

static unsigned char val(int page, int i, int who)
{
	return (unsigned char)(page * 7 + i + who * 101);
}

static int check_pages(volatile unsigned char *m, int from, int to, int who)
{
	for (int p = from; p < to; p++)
		for (int i = 0; i < PG; i += 97)
			if (m[p * PG + i] != val(p, i, who))
				return p;
	return -1;
}

/* Is the mapping at m still the shared anonymous kind in /proc/self/maps? */
static int still_dev_zero(void *m)
{
	char line[512], want[32];
	FILE *f = fopen("/proc/self/maps", "r");
	int ok = 0;

	snprintf(want, sizeof(want), "%lx-", (unsigned long)m);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, want, strlen(want)))
			ok = strstr(line, "/dev/zero (deleted)") != NULL;
	if (f)
		fclose(f);
	return ok;
}

static int wait_token(volatile unsigned char *m, int page, unsigned char token)
{
	for (int n = 0; n < 500; n++) {
		if (m[page * PG] == token)
			return 0;
		wl_sleep_ms(10);
	}
	return -1;
}

static int child_main(volatile unsigned char *m)
{
	for (int p = 100; p < 110; p++)
		for (int i = 0; i < PG; i += 97)
			m[p * PG + i] = val(p, i, 1);
	wl_wait_usr1();
	if (check_pages(m, 0, 10, 0) >= 0 || check_pages(m, 100, 110, 1) >= 0)
		return 11;
	if (!still_dev_zero((void *)m))
		return 12;
	if (wait_token(m, 200, 0x5a) < 0)
		return 13;	/* the parent's write never showed: not shared */
	m[201 * PG] = 0xa5;
	return 0;
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	volatile unsigned char *m;
	int status, bad;
	pid_t kid;

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	m = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 1;
	for (int p = 0; p < 10; p++)
		for (int i = 0; i < PG; i += 97)
			m[p * PG + i] = val(p, i, 0);
	kid = fork();
	if (kid == 0)
		_exit(child_main(m));
	wl_sleep_ms(100);	/* the child writes its pages */
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();
	kill(kid, SIGUSR1);
	if ((bad = check_pages(m, 0, 10, 0)) >= 0)
		wl_fail(&r, "page %d of the parent's writes changed", bad);
	if ((bad = check_pages(m, 100, 110, 1)) >= 0)
		wl_fail(&r, "page %d the child wrote (never mapped in the parent) is wrong", bad);
	if (!still_dev_zero((void *)m))
		wl_fail(&r, "the shared mapping no longer shows as /dev/zero (deleted)");
	m[200 * PG] = 0x5a;
	if (wait_token(m, 201, 0xa5) < 0)
		wl_fail(&r, "the child's answer never showed: the memory is not shared any more");
	while (waitpid(kid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		wl_fail(&r, "the child's check failed (wait status %#x)", status);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
