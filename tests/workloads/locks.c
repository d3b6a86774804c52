/* locks: a self-checking workload for file locks (dump --file-locks).
 *
 *	locks READYFILE RESULTFILE DIR
 *
 * Holds an exclusive flock on DIR/a, a POSIX write lock on bytes 10..29 of
 * DIR/b and an OFD read lock on all of DIR/c. After SIGUSR1 it checks, from
 * a child process, that each lock still keeps others out: flock(LOCK_EX) on
 * a new open of a, a write lock on bytes 15..16 of b, and an OFD write lock
 * on c must all fail; and that a write lock on bytes 40..49 of b, outside
 * the held range, is free. PASS or FAIL lines go to RESULTFILE. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

/* Run in a child: 0 if every held lock still refuses it, else a code. */
static int probe(const char *dir)
{
	char path[4096];
	struct flock w = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 15, .l_len = 2 };
	struct flock free_range = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 40, .l_len = 10 };
	struct flock all = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd;

	snprintf(path, sizeof(path), "%s/a", dir);
	fd = open(path, O_RDWR);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK)
		return 1;
	snprintf(path, sizeof(path), "%s/b", dir);
	fd = open(path, O_RDWR);
	if (fd < 0 || fcntl(fd, F_SETLK, &w) == 0 || (errno != EAGAIN && errno != EACCES))
		return 2;
	if (fcntl(fd, F_SETLK, &free_range) < 0)
		return 3;
	snprintf(path, sizeof(path), "%s/c", dir);
	fd = open(path, O_RDWR);
	if (fd < 0 || fcntl(fd, F_OFD_SETLK, &all) == 0 || (errno != EAGAIN && errno != EACCES))
		return 4;
	return 0;
}

int main(int argc, char **argv)
{
	char report[4096] = "", path[4096];
	struct wl_report r = { report, sizeof(report), 0 };
	struct flock pw = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 20 };
	struct flock ofd = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	int a, b, c, status;
	pid_t kid;

	if (argc < 4)
		return 2;
	wl_catch_usr1();
	snprintf(path, sizeof(path), "%s/a", argv[3]);
	a = open(path, O_RDWR | O_CREAT, 0600);
	snprintf(path, sizeof(path), "%s/b", argv[3]);
	b = open(path, O_RDWR | O_CREAT, 0600);
	snprintf(path, sizeof(path), "%s/c", argv[3]);
	c = open(path, O_RDWR | O_CREAT, 0600);
	if (a < 0 || b < 0 || c < 0 || flock(a, LOCK_EX) < 0 || fcntl(b, F_SETLK, &pw) < 0 || fcntl(c, F_OFD_SETLK, &ofd) < 0)
		return 1;
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();
	kid = fork();
	if (kid == 0)
		_exit(probe(argv[3]));
	waitpid(kid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		wl_fail(&r, "a lock does not hold any more (probe %d: 1 flock, 2 POSIX, 3 free range taken, 4 OFD)",
			WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
