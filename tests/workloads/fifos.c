/* fifos: a self-checking workload for named pipes (FIFOs).
 *
 *	fifos READYFILE RESULTFILE DIR
 *
 * Makes three FIFOs in DIR and holds them like this:
 *	f1: a non-blocking read end and a blocking write end, "hello fifo"
 *	    buffered, capacity grown to 128 KiB;
 *	f2: one read-write description holding "second";
 *	f3: a read end only (the writer wrote "tail" and closed), so once the
 *	    data is read the reader must see end-of-file.
 * After SIGUSR1 it checks each descriptor's type, inode (the FIFO at the
 * same path), access mode and flags, f1's capacity, that each FIFO gives
 * back exactly its bytes, that f1's ends are still joined (a byte written
 * comes out of the reader) and that f3 reads end-of-file. PASS or FAIL lines
 * go to RESULTFILE. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

#define F1_SIZE (128 * 1024)

/* A FIFO at DIR/NAME, made afresh. */
static int make_fifo(char *path, size_t cap, const char *dir, const char *name)
{
	snprintf(path, cap, "%s/%s", dir, name);
	unlink(path);
	return mkfifo(path, 0600);
}

/* Checks that fd is on the FIFO at path, with these open flags. */
static void check_fd(struct wl_report *r, int fd, const char *path, int acc, int nonblock)
{
	struct stat a, b;
	int fl = fcntl(fd, F_GETFL);

	if (fstat(fd, &a) < 0 || stat(path, &b) < 0 || !S_ISFIFO(a.st_mode) || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
		wl_fail(r, "fd %d is not the FIFO %s", fd, path);
		return;
	}
	if (fl < 0 || (fl & O_ACCMODE) != acc || !!(fl & O_NONBLOCK) != nonblock)
		wl_fail(r, "fd %d on %s has flags %#o, want access %d%s", fd, path, fl, acc, nonblock ? " and O_NONBLOCK" : "");
}

/* Reads what fd holds now (made non-blocking for the read) and compares. */
static void check_bytes(struct wl_report *r, int fd, const char *what, const char *want)
{
	char buf[256];
	int fl = fcntl(fd, F_GETFL);
	ssize_t n;

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	n = read(fd, buf, sizeof(buf) - 1);
	fcntl(fd, F_SETFL, fl);
	if (n < 0)
		n = 0;
	buf[n] = 0;
	if (strcmp(buf, want))
		wl_fail(r, "%s holds '%s', want '%s'", what, buf, want);
}

int main(int argc, char **argv)
{
	char report[4096] = "", p1[4096], p2[4096], p3[4096];
	struct wl_report r = { report, sizeof(report), 0 };
	int r1, w1, rw2, r3, w3;
	ssize_t n;
	char c;

	if (argc < 4)
		return 2;
	wl_catch_usr1();
	if (make_fifo(p1, sizeof(p1), argv[3], "f1") < 0 || make_fifo(p2, sizeof(p2), argv[3], "f2") < 0 ||
	    make_fifo(p3, sizeof(p3), argv[3], "f3") < 0)
		return 1;
	r1 = open(p1, O_RDONLY | O_NONBLOCK);
	w1 = open(p1, O_WRONLY);
	rw2 = open(p2, O_RDWR);
	r3 = open(p3, O_RDONLY | O_NONBLOCK);
	w3 = open(p3, O_WRONLY);
	if (r1 < 0 || w1 < 0 || rw2 < 0 || r3 < 0 || w3 < 0 || fcntl(w1, F_SETPIPE_SZ, F1_SIZE) < 0 ||
	    write(w1, "hello fifo", 10) != 10 || write(rw2, "second", 6) != 6 || write(w3, "tail", 4) != 4)
		return 1;
	close(w3);
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	check_fd(&r, r1, p1, O_RDONLY, 1);
	check_fd(&r, w1, p1, O_WRONLY, 0);
	check_fd(&r, rw2, p2, O_RDWR, 0);
	check_fd(&r, r3, p3, O_RDONLY, 1);
	if (fcntl(w1, F_GETPIPE_SZ) != F1_SIZE)
		wl_fail(&r, "f1's capacity is %d, want %d", fcntl(w1, F_GETPIPE_SZ), F1_SIZE);
	check_bytes(&r, r1, "f1", "hello fifo");
	check_bytes(&r, rw2, "f2", "second");
	check_bytes(&r, r3, "f3", "tail");
	n = read(r1, &c, 1);
	if (n != -1 || errno != EAGAIN)
		wl_fail(&r, "empty f1 with its writer open reads %zd (errno %d), want EAGAIN", n, errno);
	if (write(w1, "x", 1) != 1 || read(r1, &c, 1) != 1 || c != 'x')
		wl_fail(&r, "a byte written to f1 does not come out of its reader");
	n = read(r3, &c, 1);
	if (n != 0)
		wl_fail(&r, "f3, whose writer closed, reads %zd (errno %d), want end-of-file", n, errno);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
