/* pasteof: a self-checking workload for file mappings that reach past the
 * end of their file (touching those pages raises SIGBUS).
 *
 *	pasteof READYFILE RESULTFILE DIR
 *
 * DIR/short.bin is one page long. It is mapped 4 pages long MAP_PRIVATE
 * (page 0 written: a private copy) and 4 pages long MAP_SHARED (page 0
 * written: in the file); DIR/cut.bin was 3 pages when it was mapped
 * MAP_PRIVATE and its page 2 written, then cut to one page. After the
 * restore: the mappings have their lengths and offsets, page 0 of each
 * holds what was written, and touching a page past the end of the file
 * raises SIGBUS (caught, then the next check). PASS or FAIL lines go to
 * RESULTFILE after SIGUSR1.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "workload.h"

#define PG 4096

static sigjmp_buf pasteof_jmp;

static void pasteof_on_bus(int sig)
{
	siglongjmp(pasteof_jmp, 1);
}

/* Does reading *p raise SIGBUS? */
static int pasteof_bus(volatile unsigned char *p)
{
	if (sigsetjmp(pasteof_jmp, 1))
		return 1;
	(void)*p;
	return 0;
}

int main(int argc, char **argv)
{
	char report[4096] = "", path[4096], page[PG];
	struct wl_report r = { report, sizeof(report), 0 };
	unsigned char *priv, *shared, *cut;
	int fd, fd2;

	if (argc < 4)
		return 2;
	wl_catch_usr1();
	signal(SIGBUS, pasteof_on_bus);
	memset(page, 'a', PG);
	snprintf(path, sizeof(path), "%s/short.bin", argv[3]);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	snprintf(path, sizeof(path), "%s/cut.bin", argv[3]);
	fd2 = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || fd2 < 0 || write(fd, page, PG) != PG || ftruncate(fd2, 3 * PG) < 0)
		return wl_must(0, "make the files"), 1;
	priv = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	shared = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cut = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd2, 0);
	if (priv == MAP_FAILED || shared == MAP_FAILED || cut == MAP_FAILED)
		return wl_must(0, "mmap"), 1;
	priv[0] = 'p';
	shared[1] = 's';
	cut[2 * PG] = 'c';
	cut[0] = 'k';
	if (ftruncate(fd2, PG) < 0)
		return wl_must(0, "cut"), 1;
	close(fd);
	close(fd2);
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();
	if (priv[0] != 'p' || priv[1] != 'a')
		wl_fail(&r, "the private mapping's page 0 lost its copy");
	if (shared[1] != 's' || shared[0] != 'a')
		wl_fail(&r, "the shared mapping's page 0 is not the file's");
	if (cut[0] != 'k')
		wl_fail(&r, "cut.bin's private page 0 lost its copy");
	if (!pasteof_bus(priv + PG) || !pasteof_bus(priv + 3 * PG))
		wl_fail(&r, "the private mapping past the end of the file does not raise SIGBUS");
	if (!pasteof_bus(shared + 2 * PG))
		wl_fail(&r, "the shared mapping past the end of the file does not raise SIGBUS");
	if (!pasteof_bus(cut + 2 * PG))
		wl_fail(&r, "cut.bin's page 2, past its end now, does not raise SIGBUS");
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
