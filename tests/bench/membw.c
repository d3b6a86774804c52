/* membw: the copy bandwidths the benchmarks compare with, in MiB/s:
 *	warm   memcpy between two buffers already faulted in (the memory bus)
 *	fresh  memcpy into memory mapped just before, so every page is faulted
 *	       in on first touch: what any restore must at least pay, since the
 *	       restored process's memory is new memory
 * argv[1] is the size in MiB; the best of a few rounds is printed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "driver/run.h"

int main(int argc, char **argv)
{
	size_t len = (argc > 1 ? strtoul(argv[1], NULL, 10) : 1024) << 20;
	char *a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	char *b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	double warm = 0, fresh = 0;

	if (a == MAP_FAILED || b == MAP_FAILED)
		return 1;
	memset(a, 0x5a, len);
	for (int i = 0; i < 5; i++) {
		double t = run_now(), rate;

		memcpy(b, a, len);
		rate = (len >> 20) / (run_now() - t);
		if (rate > warm)
			warm = rate;
	}
	for (int i = 0; i < 3; i++) {
		char *c = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		double t = run_now(), rate;

		if (c == MAP_FAILED)
			return 1;
		memcpy(c, a, len);
		rate = (len >> 20) / (run_now() - t);
		if (rate > fresh)
			fresh = rate;
		munmap(c, len);
	}
	printf("%.0f %.0f\n", warm, fresh);
	return b[len - 1] != 0x5a;
}
