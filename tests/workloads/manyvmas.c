/* manyvmas: the many-VMAs benchmark's workload.
 *
 *	manyvmas READYFILE RESULTFILE N
 *
 * Maps N one-page anonymous VMAs side by side in one reserved range, with
 * protections that alternate (read-write, read-only) so that the kernel
 * cannot merge neighbours, and writes a pattern into each before it is
 * made read-only. After SIGUSR1 it checks that /proc/self/maps still shows
 * N separate VMAs in the range, each with its protection, and that every
 * page holds its pattern. PASS or FAIL lines go to RESULTFILE.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "workload.h"

#define MANY_MAX 60000

/* The word written at the start of page i (and checked after restore). */
static uint64_t many_pattern(size_t i) { return 0x9e3779b97f4a7c15ULL * (i + 1); }

/* Counts the VMAs of /proc/self/maps inside [lo, hi) and checks each
 * protection: even pages rw-p, odd pages r--p. */
static void many_check_maps(struct wl_report *r, uintptr_t lo, uintptr_t hi, size_t n)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	size_t seen = 0, bad = 0;

	if (!f) {
		wl_fail(r, "open /proc/self/maps: %s", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		char prot[8];

		if (sscanf(line, "%lx-%lx %7s", &s, &e, prot) != 3 || s < lo || s >= hi)
			continue;
		size_t page = (s - lo) / 4096;
		const char *want = page % 2 ? "r--p" : "rw-p";

		seen++;
		if ((e - s != 4096 || strcmp(prot, want)) && bad++ == 0)
			wl_fail(r, "VMA %lx-%lx %s: want one page %s", s, e, prot, want);
	}
	fclose(f);
	if (seen != n)
		wl_fail(r, "%zu VMAs in the range, want %zu", seen, n);
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	size_t n, bad = 0;
	uint8_t *base;

	if (argc < 4)
		return 2;
	n = strtoul(argv[3], NULL, 10);
	if (n < 1 || n > MANY_MAX)
		return 2;
	wl_catch_usr1();
	base = mmap(NULL, n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < n; i++)
		*(uint64_t *)(base + i * 4096) = many_pattern(i);
	/* Every odd page read-only: n VMAs, none mergeable with a neighbour. */
	for (size_t i = 1; i < n; i += 2)
		if (mprotect(base + i * 4096, 4096, PROT_READ) < 0)
			return 1;
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	many_check_maps(&r, (uintptr_t)base, (uintptr_t)base + n * 4096, n);
	for (size_t i = 0; i < n; i++)
		if (*(uint64_t *)(base + i * 4096) != many_pattern(i) && bad++ == 0)
			wl_fail(&r, "page %zu holds %#llx, want %#llx", i,
				(unsigned long long)*(uint64_t *)(base + i * 4096), (unsigned long long)many_pattern(i));
	if (bad > 1)
		wl_fail(&r, "%zu pages in all hold the wrong word", bad);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
