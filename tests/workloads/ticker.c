/* ticker: the demo's sample process. Appends "tick N (pid P)" to the file
 * argv[1] every 200 ms, keeping N only in memory, so a restored ticker that
 * goes on from where it was shows its memory, registers and open file came
 * back. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	FILE *out;

	if (argc < 2) {
		fprintf(stderr, "usage: ticker FILE\n");
		return 2;
	}
	out = fopen(argv[1], "a");
	if (!out)
		return 1;
	setvbuf(out, NULL, _IOLBF, 0);
	for (unsigned long n = 1;; n++) {
		fprintf(out, "tick %lu (pid %d)\n", n, getpid());
		while (nanosleep(&ts, &ts))
			;
		ts.tv_nsec = 200 * 1000 * 1000;
	}
}
