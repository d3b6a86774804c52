/* dirtymem: memory that keeps being written, for pre-dump and incremental
 * dumps. Maps DIRTYMEM_MIB MiB (default 256) of anonymous memory, fills
 * every page with a pattern of its number and generation 0, says READY in
 * argv[1], then rewrites pages of the first DIRTYMEM_HOT_MIB MiB (default
 * 16) round-robin at about DIRTYMEM_RATE_MIB MiB/s (default 10), each with
 * its next generation (kept in a table that is itself memory). On SIGUSR1
 * it finishes the page it was writing and checks every word of every page
 * against the generation it knows, writing PASS or the first differences
 * to argv[2]. An incremental dump that missed a written page, or restored
 * a stale one from a parent, fails here. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "workload.h"

#define PAGE 4096

static uint64_t pattern(size_t page, uint32_t gen, size_t word)
{
	return ((uint64_t)page << 32 | gen) * 0x9e3779b97f4a7c15ULL + word;
}

static void fill(uint64_t *p, size_t page, uint32_t gen)
{
	for (size_t w = 0; w < PAGE / 8; w++)
		p[w] = pattern(page, gen, w);
}

static size_t env_size(const char *name, size_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 10) : def;
}

int main(int argc, char **argv)
{
	size_t mib = env_size("DIRTYMEM_MIB", 256), hot_mib = env_size("DIRTYMEM_HOT_MIB", 16);
	size_t rate = env_size("DIRTYMEM_RATE_MIB", 10);
	size_t npages = (mib << 20) / PAGE, hot = (hot_mib << 20) / PAGE, next = 0;
	size_t per_tick = ((rate << 20) / PAGE) / 100;	/* pages per 10 ms */
	char text[4096] = "";
	struct wl_report r = { text, sizeof(text), 0 };
	uint64_t *mem;
	uint32_t *gen;
	unsigned long writes = 0;

	if (argc < 3 || !npages || hot > npages)
		return 2;
	if (!per_tick)
		per_tick = 1;
	if (wl_must(wl_catch_usr1() == 0, "catch SIGUSR1"))
		return 1;
	mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gen = calloc(npages, sizeof(*gen));
	if (wl_must(mem != MAP_FAILED && gen, "map the memory"))
		return 1;
	for (size_t p = 0; p < npages; p++)
		fill(mem + p * (PAGE / 8), p, 0);
	if (wl_must(wl_write_ready(argv[1], getpid()) == 0, "write READY"))
		return 1;
	while (!wl_got_usr1) {
		/* A page is written whole before the signal is looked at again. */
		for (size_t i = 0; hot && i < per_tick && !wl_got_usr1; i++) {
			size_t p = next;

			gen[p]++;
			fill(mem + p * (PAGE / 8), p, gen[p]);
			next = (next + 1) % hot;
			writes++;
		}
		wl_sleep_ms(10);
	}
	for (size_t p = 0; p < npages && r.nfails < 10; p++) {
		const uint64_t *q = mem + p * (PAGE / 8);

		for (size_t w = 0; w < PAGE / 8; w++)
			if (q[w] != pattern(p, gen[p], w)) {
				wl_fail(&r, "page %zu word %zu: %#llx, want generation %u (%#llx)", p, w,
					(unsigned long long)q[w], gen[p], (unsigned long long)pattern(p, gen[p], w));
				break;
			}
	}
	fprintf(stderr, "dirtymem: %lu page writes, %zu pages checked\n", writes, npages);
	return wl_write_result(argv[2], &r) == 0 && !r.nfails ? 0 : 1;
}
