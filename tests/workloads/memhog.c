/* memhog: the memory benchmark's workload. Writes argv[1] MiB of anonymous
 * memory with a pattern, says READY in the file argv[2], and on SIGUSR1
 * checks every page and writes PASS or FAIL to argv[3]. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t go;

static void on_usr1(int sig) { go = 1; }

static void say(const char *path, const char *what)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		exit(1);
	fprintf(f, "%s\n", what);
	fclose(f);
	rename(tmp, path);
}

int main(int argc, char **argv)
{
	size_t mib, len, bad = 0;
	uint64_t *mem;

	if (argc < 4)
		return 2;
	mib = strtoul(argv[1], NULL, 10);
	len = mib << 20;
	signal(SIGUSR1, on_usr1);
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < len / 8; i++)
		mem[i] = i * 0x9e3779b97f4a7c15ULL;
	say(argv[2], "READY");
	while (!go)
		pause();
	for (size_t i = 0; i < len / 8; i++)
		bad += mem[i] != i * 0x9e3779b97f4a7c15ULL;
	say(argv[3], bad ? "FAIL" : "PASS");
	return bad != 0;
}
