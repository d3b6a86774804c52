/* membw: memcpy bandwidth of this machine, the bound the benchmarks compare
 * with. Copies a pre-faulted buffer of argv[1] MiB a few times and prints
 * the best rate in MiB/s. */
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
	double best = 0;

	if (a == MAP_FAILED || b == MAP_FAILED)
		return 1;
	memset(a, 0x5a, len);
	for (int i = 0; i < 5; i++) {
		double t = run_now(), rate;

		memcpy(b, a, len);
		rate = (len >> 20) / (run_now() - t);
		if (rate > best)
			best = rate;
	}
	printf("%.0f\n", best);
	return b[len - 1] != 0x5a;
}
