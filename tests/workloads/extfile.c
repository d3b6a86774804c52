/* extfile: a self-checking workload for files that belong to the outside
 * (dump --external file[MNT_ID:INODE], restore --inherit-fd).
 *
 *	extfile READYFILE RESULTFILE LOG DATA [RW]
 *
 * Holds LOG as fd 10, opened O_WRONLY|O_APPEND, with "before\n" written
 * through it, DATA as fd 11, opened O_RDONLY and read 4 bytes into, and,
 * if given, RW as fd 12, opened O_RDWR at position 2. The test dumps them
 * as external files, takes the paths away, and restores with other files
 * given by --inherit-fd, opened otherwise than the process had them. After
 * SIGUSR1 it checks that fd 10 is again write-only and appending, fd 11
 * read-only at position 4 and fd 12 read-write at position 2 (whatever
 * the giver opened them with), reads the rest of DATA through fd 11 (the
 * test wrote the same contents to the new file), appends "after\n"
 * through fd 10 and writes "Z" at fd 12's position for the test to find.
 * PASS or FAIL lines go to RESULTFILE. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

#define WL_DATA "0123456789"

/* fd's access mode and O_APPEND must be these. */
static void check_flags(struct wl_report *r, int fd, int acc, int append)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || (fl & O_ACCMODE) != acc || !!(fl & O_APPEND) != append)
		wl_fail(r, "fd %d has flags %#o, want access %d%s", fd, fl, acc, append ? " with O_APPEND" : " without O_APPEND");
}

int main(int argc, char **argv)
{
	char report[4096] = "", buf[32];
	struct wl_report r = { report, sizeof(report), 0 };
	struct stat st;
	ssize_t n;
	int log, data;

	if (argc < 5)
		return 2;
	wl_catch_usr1();
	log = open(argv[3], O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0600);
	data = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (log < 0 || data < 0 || write(data, WL_DATA, 10) != 10 || close(data) < 0)
		return 1;
	data = open(argv[4], O_RDONLY);
	if (data < 0 || dup2(log, 10) < 0 || dup2(data, 11) < 0 || close(log) < 0 || close(data) < 0)
		return 1;
	if (write(10, "before\n", 7) != 7 || read(11, buf, 4) != 4)
		return 1;
	if (argc > 5) {
		int rw = open(argv[5], O_RDWR | O_CREAT | O_TRUNC, 0600);

		if (rw < 0 || write(rw, "abcd", 4) != 4 || lseek(rw, 2, SEEK_SET) != 2 || dup2(rw, 12) < 0 || close(rw) < 0)
			return 1;
	}
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	check_flags(&r, 10, O_WRONLY, 1);
	check_flags(&r, 11, O_RDONLY, 0);
	if (fstat(10, &st) < 0 || !S_ISREG(st.st_mode))
		wl_fail(&r, "fd 10 is not a regular file");
	if (lseek(11, 0, SEEK_CUR) != 4)
		wl_fail(&r, "fd 11 is at %lld, want 4", (long long)lseek(11, 0, SEEK_CUR));
	n = read(11, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	if (strcmp(buf, WL_DATA + 4))
		wl_fail(&r, "fd 11 reads '%s' after its position, want '%s'", buf, WL_DATA + 4);
	if (write(10, "after\n", 6) != 6)
		wl_fail(&r, "append 'after' through fd 10: %s", strerror(errno));
	if (argc > 5) {
		check_flags(&r, 12, O_RDWR, 0);
		if (lseek(12, 0, SEEK_CUR) != 2)
			wl_fail(&r, "fd 12 is at %lld, want 2", (long long)lseek(12, 0, SEEK_CUR));
		if (write(12, "Z", 1) != 1)
			wl_fail(&r, "write through fd 12: %s", strerror(errno));
	}
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
