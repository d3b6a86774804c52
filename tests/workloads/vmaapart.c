/* vmaapart: two adjacent anonymous VMAs that the kernel keeps apart only
 * because their anon_vmas differ (issue 12: the layout is state too).
 *
 *	vmaapart READYFILE RESULTFILE
 *
 * The root maps region A (4 pages) and writes it, then forks a child; the
 * child maps region B (4 pages) right below A and writes it. A's anon_vma
 * came from the root and B's is the child's own, so in the child they are
 * two VMAs although their protection and flags are the same (a fresh
 * mapping of both, as a restore makes them, would be one). The root says
 * READY once the child checked that; on SIGUSR1 the root passes it on and
 * the child checks again that A and B are two VMAs in its maps, with their
 * bytes; the root writes PASS or FAIL.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#define PG 4096

/* The start of the VMA that holds addr, from the process's maps (0 if none). */
static unsigned long vma_start(void *addr)
{
	unsigned long from, to, at = (unsigned long)addr, found = 0;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &from, &to) == 2 && from <= at && at < to)
			found = from;
	fclose(f);
	return found;
}

/* The child's check: 0 when A and B are apart and hold their bytes. */
static int check(unsigned char *a, unsigned char *b, struct wl_report *r)
{
	if (!vma_start(a) || vma_start(a) != (unsigned long)a || vma_start(b) == vma_start(a))
		wl_fail(r, "regions A %p and B %p are one VMA (from %#lx)", (void *)a, (void *)b, vma_start(b));
	for (int i = 0; i < 4 * PG; i++)
		if (a[i] != (unsigned char)(i * 7 + 3) || b[i] != (unsigned char)(i * 11 + 5)) {
			wl_fail(r, "byte %d of A or B changed", i);
			break;
		}
	return r->nfails;
}

int main(int argc, char **argv)
{
	char report[2048] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	unsigned char *a, *b;
	int ready[2], status;
	pid_t kid;

	if (argc < 3 || pipe(ready) < 0)
		return 2;
	wl_catch_usr1();
	/* Room for B below A, then A alone at the top of it. */
	b = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED || munmap(b, 4 * PG) < 0)
		return 1;
	a = b + 4 * PG;
	for (int i = 0; i < 4 * PG; i++)
		a[i] = (unsigned char)(i * 7 + 3);
	kid = fork();
	if (kid < 0)
		return 1;
	if (kid == 0) {
		char c = 0;

		if (mmap(b, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != b)
			_exit(3);
		for (int i = 0; i < 4 * PG; i++)
			b[i] = (unsigned char)(i * 11 + 5);
		/* The premise: the kernel keeps them apart here. */
		c = check(a, b, &r) ? 'n' : 'y';
		if (write(ready[1], &c, 1) != 1)
			_exit(3);
		wl_wait_usr1();
		_exit(check(a, b, &r) ? 1 : 0);
	}
	{
		char c = 0;

		if (read(ready[0], &c, 1) != 1 || c != 'y') {
			wl_fail(&r, "the kernel merged A and B in the child before any dump");
			kill(kid, SIGKILL);
			wl_write_result(argv[2], &r);
			return 1;
		}
	}
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();
	kill(kid, SIGUSR1);
	if (waitpid(kid, &status, 0) != kid || !WIFEXITED(status) || WEXITSTATUS(status))
		wl_fail(&r, "the child found A and B merged or changed (status %#x)", status);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
