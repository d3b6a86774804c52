/* filemap: a self-checking workload for file-backed MAP_SHARED mappings.
 *
 *	filemap READYFILE RESULTFILE DIR
 *
 * Maps 3 pages of DIR/data MAP_SHARED read-write and writes "before" into
 * the second page through the mapping; forks a child that maps the same
 * file. After SIGUSR1 it checks that the mapping still shows the file: the
 * bytes written before the dump, a write through the mapping seen by
 * pread(2) and by the child (which reports through a pipe), and a pwrite(2)
 * seen through the mapping. PASS or FAIL lines go to RESULTFILE. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#define PAGE 4096
#define LEN (3 * PAGE)

int main(int argc, char **argv)
{
	char report[4096] = "", path[4096], buf[16] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	int fd, p[2], status;
	char *m;
	pid_t kid;

	if (argc < 4)
		return 2;
	wl_catch_usr1();
	snprintf(path, sizeof(path), "%s/data", argv[3]);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, LEN) < 0 || pipe(p) < 0)
		return 1;
	m = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return 1;
	close(fd);	/* only the mapping keeps the file */
	memcpy(m + PAGE, "before", 6);
	kid = fork();
	if (kid == 0) {
		char *cm = mmap(NULL, LEN, PROT_READ, MAP_SHARED, open(path, O_RDONLY), 0);

		wl_catch_usr1();
		wl_wait_usr1();
		/* The parent wrote "after" at page 2 before signalling. */
		_exit(cm != MAP_FAILED && write(p[1], cm + 2 * PAGE, 5) == 5 ? 0 : 1);
	}
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	fd = open(path, O_RDWR);
	if (memcmp(m + PAGE, "before", 6))
		wl_fail(&r, "the mapping lost the bytes written before the dump");
	memcpy(m + 2 * PAGE, "after", 5);
	msync(m, LEN, MS_SYNC);
	if (fd < 0 || pread(fd, buf, 5, 2 * PAGE) != 5 || memcmp(buf, "after", 5))
		wl_fail(&r, "a write through the mapping is not in the file ('%.5s')", buf);
	if (pwrite(fd, "file", 4, 0) != 4 || memcmp(m, "file", 4))
		wl_fail(&r, "a write to the file is not seen through the mapping");
	kill(kid, SIGUSR1);
	memset(buf, 0, sizeof(buf));
	if (read(p[0], buf, 5) != 5 || memcmp(buf, "after", 5))
		wl_fail(&r, "the child's mapping does not show the parent's write ('%.5s')", buf);
	waitpid(kid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		wl_fail(&r, "the child failed (status %#x)", status);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
