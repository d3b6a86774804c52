/* opath: a self-checking workload for O_PATH descriptors.
 *
 *	opath READYFILE RESULTFILE DIR
 *
 * Before the dump it makes DIR/file (a regular file), DIR/sub (a directory
 * holding DIR/sub/inner) and DIR/link (a symlink to "file"), and opens
 * with O_PATH: the file, the directory, the symlink itself
 * (O_PATH|O_NOFOLLOW), the file through the symlink, and DIR/sock, the
 * socket file a datagram socket bound and closed again left. After SIGUSR1 it
 * checks each fd: O_PATH in its flags, the same file type and inode, the
 * symlink's target through readlinkat(fd, ""), the directory usable as a
 * dirfd, the file reopened for reading through /proc/self/fd. PASS or FAIL
 * lines go to RESULTFILE.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "workload.h"

/* One O_PATH fd and what it was. */
struct opath_fd {
	const char *name;
	int fd;
	int flags;
	mode_t type;
	ino_t ino;
};

/* Opens DIR/rel with flags into f and remembers its type and inode. */
static int opath_open(struct opath_fd *f, const char *dir, const char *rel, const char *name, int flags)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f->name = name;
	f->flags = flags;
	f->fd = open(path, flags);
	if (f->fd < 0 || fstatat(f->fd, "", &st, AT_EMPTY_PATH) < 0) {
		fprintf(stderr, "opath: %s: %s\n", path, strerror(errno));
		return -1;
	}
	f->type = st.st_mode & S_IFMT;
	f->ino = st.st_ino;
	return 0;
}

/* Checks an fd's flags, type and inode. */
static void opath_check(struct wl_report *r, const struct opath_fd *f)
{
	struct stat st;
	int fl = fcntl(f->fd, F_GETFL), fdfl = fcntl(f->fd, F_GETFD);

	if (fl < 0 || !(fl & O_PATH))
		wl_fail(r, "%s: fd %d flags %#x, want O_PATH", f->name, f->fd, fl);
	if ((fdfl & FD_CLOEXEC) != ((f->flags & O_CLOEXEC) ? FD_CLOEXEC : 0))
		wl_fail(r, "%s: fd %d close-on-exec is %d", f->name, f->fd, fdfl);
	if (fstatat(f->fd, "", &st, AT_EMPTY_PATH) < 0) {
		wl_fail(r, "%s: fstatat: %s", f->name, strerror(errno));
		return;
	}
	if ((st.st_mode & S_IFMT) != f->type || st.st_ino != f->ino)
		wl_fail(r, "%s: type %#o inode %lu, want %#o inode %lu", f->name, st.st_mode & S_IFMT,
			(unsigned long)st.st_ino, f->type, (unsigned long)f->ino);
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	struct opath_fd file, dir, link, through, sock;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char path[PATH_MAX], buf[64];
	const char *d;
	ssize_t n;
	int fd;

	if (argc < 4)
		return 2;
	d = argv[3];
	wl_catch_usr1();
	snprintf(path, sizeof(path), "%s/file", d);
	if (wl_write_file(path, "opath data\n") < 0)
		return 1;
	snprintf(path, sizeof(path), "%s/sub", d);
	if (mkdir(path, 0755) < 0)
		return 1;
	snprintf(path, sizeof(path), "%s/sub/inner", d);
	if (wl_write_file(path, "inner\n") < 0)
		return 1;
	snprintf(path, sizeof(path), "%s/link", d);
	if (symlink("file", path) < 0)
		return 1;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/sock", d);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || close(fd) < 0)
		return 1;
	if (opath_open(&sock, d, "sock", "the socket file", O_PATH) < 0 ||
	    opath_open(&file, d, "file", "the file", O_PATH) < 0 ||
	    opath_open(&dir, d, "sub", "the directory", O_PATH | O_DIRECTORY | O_CLOEXEC) < 0 ||
	    opath_open(&link, d, "link", "the symlink", O_PATH | O_NOFOLLOW) < 0 ||
	    opath_open(&through, d, "link", "the file through the symlink", O_PATH) < 0)
		return 1;
	if (link.type != S_IFLNK || through.ino != file.ino) {
		fprintf(stderr, "opath: the symlink fd is not a symlink, or the other not the file\n");
		return 1;
	}
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	opath_check(&r, &file);
	opath_check(&r, &dir);
	opath_check(&r, &link);
	opath_check(&r, &through);
	opath_check(&r, &sock);
	n = readlinkat(link.fd, "", buf, sizeof(buf) - 1);
	if (n != 4 || memcmp(buf, "file", 4))
		wl_fail(&r, "the symlink: readlinkat(fd, \"\") gave %zd '%.*s', want 'file'", n,
			n > 0 ? (int)n : 0, buf);
	fd = openat(dir.fd, "inner", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, sizeof(buf)) != 6 || memcmp(buf, "inner\n", 6))
		wl_fail(&r, "the directory: cannot read 'inner' through it: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", file.fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, sizeof(buf)) != 11 || memcmp(buf, "opath data\n", 11))
		wl_fail(&r, "the file: cannot read it through %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
