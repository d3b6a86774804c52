/* deleted: a self-checking workload for files deleted while open, the
 * states the plain ghost of tests/workloads/unlinked.c does not have.
 *
 *	deleted READYFILE RESULTFILE DIR CASE
 *
 * CASE is one of:
 *  mode	DIR/mode.txt made 0600, given mode 02754 and owner 1234:2345,
 *		500 bytes written, then unlinked (a ghost); and an O_TMPFILE
 *		file in DIR given mode 0640 and owner 3456:4567 (a link remap).
 *		After the restore both keep their mode and owner.
 *  sparse	DIR/sparse.bin of 2 GiB with three data runs (64 KiB at 0,
 *		1 MiB at 1 GiB, 512 KiB ending 1 MiB before the end) and holes
 *		elsewhere, then unlinked (a ghost of 1.5625 MiB of data).
 *		After the restore: its size, the same data runs by SEEK_DATA and
 *		SEEK_HOLE, their contents, and no more than 4 MiB allocated.
 *  fifo	DIR/fifo made with mode 0640 and owner 1111:2222, opened for
 *		reading and for writing, 10 bytes written, then removed. After
 *		the restore both fds are one FIFO, unlinked, with that mode and
 *		owner, the 10 bytes come out and new ones go through.
 *  dir	DIR/gone (0751, 1234:2345) is its cwd and an O_PATH fd, DIR/gone2
 *		(0710, 3456:4567) an open fd, both removed. After the restore
 *		each is an empty removed directory named "PATH (deleted)" with
 *		its mode and owner, nothing can be made in it, and the cwd and
 *		the O_PATH fd are one directory.
 *  dirfd	the same without the cwd: only DIR/gone2.
 * After SIGUSR1 it checks and writes PASS or FAIL lines to RESULTFILE.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

#define SPARSE_SIZE (2ll << 30)

/* A data run of the sparse file. */
static const struct { off_t off, len; } deleted_runs[] = {
	{ 0, 64 << 10 },
	{ 1ll << 30, 1 << 20 },
	{ SPARSE_SIZE - (1 << 20) - (512 << 10), 512 << 10 },
};
#define NR_RUNS (int)(sizeof(deleted_runs) / sizeof(deleted_runs[0]))

/* Byte i of the file's pattern. */
static unsigned char deleted_pattern(off_t i)
{
	return (unsigned char)(i * 31 + (i >> 9) + 5);
}

/* Writes len pattern bytes at off; 0 or -1. */
static int deleted_fill(int fd, off_t off, size_t len)
{
	unsigned char *buf = malloc(len);
	int ok;

	if (!buf)
		return -1;
	for (size_t i = 0; i < len; i++)
		buf[i] = deleted_pattern(off + i);
	ok = pwrite(fd, buf, len, off) == (ssize_t)len;
	free(buf);
	return ok ? 0 : -1;
}

/* Checks len bytes at off are the pattern. */
static void deleted_check_data(struct wl_report *r, const char *name, int fd, off_t off, size_t len)
{
	unsigned char *buf = malloc(len);
	ssize_t n = buf ? pread(fd, buf, len, off) : -1;

	if (n != (ssize_t)len)
		wl_fail(r, "%s: pread of %zu bytes at %lld gave %zd", name, len, (long long)off, n);
	else
		for (size_t i = 0; i < len; i++)
			if (buf[i] != deleted_pattern(off + i)) {
				wl_fail(r, "%s: byte %lld is %#x, want %#x", name, (long long)(off + i), buf[i],
					deleted_pattern(off + i));
				break;
			}
	free(buf);
}

/* Checks an fd's file is unlinked with this mode and owner. */
static void deleted_check_owner(struct wl_report *r, const char *name, int fd, mode_t mode, uid_t uid, gid_t gid)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		wl_fail(r, "%s: fstat: %s", name, strerror(errno));
		return;
	}
	if (st.st_nlink != 0)
		wl_fail(r, "%s: st_nlink is %lu, want 0", name, (unsigned long)st.st_nlink);
	if ((st.st_mode & 07777) != mode)
		wl_fail(r, "%s: mode is %#o, want %#o", name, st.st_mode & 07777, mode);
	if (st.st_uid != uid || st.st_gid != gid)
		wl_fail(r, "%s: owner is %u:%u, want %u:%u", name, st.st_uid, st.st_gid, uid, gid);
}

/* Makes DIR/name, opens it O_RDWR and unlinks it; the fd or -1. */
static int deleted_make(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (fd < 0 || unlink(path) < 0) {
		fprintf(stderr, "deleted: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return fd;
}

/* The case "mode": set up, and the check after SIGUSR1. */
static int deleted_mode(const char *dir, const char *ready, struct wl_report *r)
{
	int ghost = -1, tmp = -1;

	ghost = deleted_make(dir, "mode.txt");
	if (ghost < 0 || deleted_fill(ghost, 0, 500) < 0 || fchown(ghost, 1234, 2345) < 0 || fchmod(ghost, 02754) < 0)
		return fprintf(stderr, "deleted: mode.txt: %s\n", strerror(errno)), -1;
	tmp = open(dir, O_TMPFILE | O_RDWR, 0600);
	if (tmp < 0 || deleted_fill(tmp, 0, 300) < 0 || fchown(tmp, 3456, 4567) < 0 || fchmod(tmp, 0640) < 0)
		return fprintf(stderr, "deleted: O_TMPFILE in %s: %s\n", dir, strerror(errno)), -1;
	if (wl_write_ready(ready, getpid()) < 0)
		return -1;
	wl_wait_usr1();
	deleted_check_owner(r, "mode.txt (ghost)", ghost, 02754, 1234, 2345);
	deleted_check_data(r, "mode.txt (ghost)", ghost, 0, 500);
	deleted_check_owner(r, "the O_TMPFILE file (link remap)", tmp, 0640, 3456, 4567);
	deleted_check_data(r, "the O_TMPFILE file (link remap)", tmp, 0, 300);
	return 0;
}

/* The case "sparse": set up, and the check after SIGUSR1. */
static int deleted_sparse(const char *dir, const char *ready, struct wl_report *r)
{
	int fd = deleted_make(dir, "sparse.bin");
	struct stat st;
	off_t at = 0;

	if (fd < 0 || ftruncate(fd, SPARSE_SIZE) < 0)
		return fprintf(stderr, "deleted: sparse.bin: %s\n", strerror(errno)), -1;
	for (int i = 0; i < NR_RUNS; i++)
		if (deleted_fill(fd, deleted_runs[i].off, deleted_runs[i].len) < 0)
			return fprintf(stderr, "deleted: sparse.bin run %d: %s\n", i, strerror(errno)), -1;
	if (lseek(fd, 12345, SEEK_SET) != 12345 || wl_write_ready(ready, getpid()) < 0)
		return -1;
	wl_wait_usr1();
	if (fstat(fd, &st) < 0)
		return wl_fail(r, "sparse.bin: fstat: %s", strerror(errno)), 0;
	if (st.st_nlink != 0)
		wl_fail(r, "sparse.bin: st_nlink is %lu, want 0", (unsigned long)st.st_nlink);
	if (st.st_size != SPARSE_SIZE)
		wl_fail(r, "sparse.bin: size is %lld, want %lld", (long long)st.st_size, SPARSE_SIZE);
	if ((long long)st.st_blocks * 512 > 4ll << 20)
		wl_fail(r, "sparse.bin: %lld bytes allocated, want at most 4 MiB (the holes were filled)",
			(long long)st.st_blocks * 512);
	if (lseek(fd, 0, SEEK_CUR) != 12345)
		wl_fail(r, "sparse.bin: offset is %lld, want 12345", (long long)lseek(fd, 0, SEEK_CUR));
	for (int i = 0; i < NR_RUNS; i++) {
		off_t d = lseek(fd, at, SEEK_DATA), h = d < 0 ? -1 : lseek(fd, d, SEEK_HOLE);

		if (d != deleted_runs[i].off || h != deleted_runs[i].off + deleted_runs[i].len)
			wl_fail(r, "sparse.bin: data run %d is [%lld, %lld), want [%lld, %lld)", i, (long long)d,
				(long long)h, (long long)deleted_runs[i].off,
				(long long)(deleted_runs[i].off + deleted_runs[i].len));
		deleted_check_data(r, "sparse.bin", fd, deleted_runs[i].off, deleted_runs[i].len);
		at = deleted_runs[i].off + deleted_runs[i].len;
	}
	if (lseek(fd, at, SEEK_DATA) != -1 || errno != ENXIO)
		wl_fail(r, "sparse.bin: data after the last run, at %lld", (long long)lseek(fd, at, SEEK_DATA));
	return 0;
}

/* The case "fifo": set up, and the check after SIGUSR1. */
static int deleted_fifo(const char *dir, const char *ready, struct wl_report *r)
{
	char path[PATH_MAX], buf[64];
	struct stat a, b;
	int rd, wr;

	snprintf(path, sizeof(path), "%s/fifo", dir);
	if (mkfifo(path, 0600) < 0 || chown(path, 1111, 2222) < 0 || chmod(path, 0640) < 0)
		return fprintf(stderr, "deleted: %s: %s\n", path, strerror(errno)), -1;
	rd = open(path, O_RDONLY | O_NONBLOCK);
	wr = open(path, O_WRONLY);
	if (rd < 0 || wr < 0 || write(wr, "hello fifo", 10) != 10 || unlink(path) < 0)
		return fprintf(stderr, "deleted: %s: %s\n", path, strerror(errno)), -1;
	if (wl_write_ready(ready, getpid()) < 0)
		return -1;
	wl_wait_usr1();
	deleted_check_owner(r, "the FIFO's read end", rd, 0640, 1111, 2222);
	deleted_check_owner(r, "the FIFO's write end", wr, 0640, 1111, 2222);
	if (fstat(rd, &a) < 0 || fstat(wr, &b) < 0 || !S_ISFIFO(a.st_mode) || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
		wl_fail(r, "the FIFO: its two fds are not one FIFO (inodes %lu and %lu)", (unsigned long)a.st_ino,
			(unsigned long)b.st_ino);
	if (read(rd, buf, sizeof(buf)) != 10 || memcmp(buf, "hello fifo", 10))
		wl_fail(r, "the FIFO: the 10 bytes queued at dump did not come out");
	if (write(wr, "more", 4) != 4 || read(rd, buf, sizeof(buf)) != 4 || memcmp(buf, "more", 4))
		wl_fail(r, "the FIFO: 4 bytes written after the restore did not come out: %s", strerror(errno));
	if ((fcntl(rd, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) != (O_RDONLY | O_NONBLOCK) ||
	    (fcntl(wr, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) != O_WRONLY)
		wl_fail(r, "the FIFO: flags %#x and %#x", fcntl(rd, F_GETFL), fcntl(wr, F_GETFL));
	return 0;
}

/* The case "dir": a removed cwd and a removed directory fd. */
/* Checks fd (or the cwd, fd AT_FDCWD) is the empty removed directory that
 * lived at path, with this mode and owner. */
static void deleted_check_dir(struct wl_report *r, int fd, const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	char link[PATH_MAX + 32], want[PATH_MAX + 16], proc[64];
	struct stat st;
	ssize_t n;

	if (fd == AT_FDCWD)
		snprintf(proc, sizeof(proc), "/proc/self/cwd");
	else
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, link, sizeof(link) - 1);
	link[n < 0 ? 0 : n] = 0;
	snprintf(want, sizeof(want), "%s (deleted)", path);
	if (strcmp(link, want))
		wl_fail(r, "%s is '%s', want '%s'", proc, link, want);
	if (fstatat(fd, ".", &st, 0) < 0)
		return wl_fail(r, "%s: stat: %s", proc, strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_nlink != 0)
		wl_fail(r, "%s: mode %#o nlink %lu, want a removed directory", proc, st.st_mode, (unsigned long)st.st_nlink);
	if ((st.st_mode & 07777) != mode || st.st_uid != uid || st.st_gid != gid)
		wl_fail(r, "%s: mode %#o owner %u:%u, want %#o %u:%u", proc, st.st_mode & 07777, st.st_uid, st.st_gid,
			mode, uid, gid);
	if (openat(fd, "new", O_CREAT | O_RDWR, 0600) >= 0 || errno != ENOENT)
		wl_fail(r, "%s: a file could be made in the removed directory (or not with ENOENT: %s)", proc,
			strerror(errno));
}

static int deleted_dir(const char *dir, const char *ready, bool cwd, struct wl_report *r)
{
	char path[PATH_MAX], path2[PATH_MAX];
	struct stat a, b;
	int fd, fd1 = -1;

	snprintf(path, sizeof(path), "%s/gone", dir);
	snprintf(path2, sizeof(path2), "%s/gone2", dir);
	if (mkdir(path, 0755) < 0 || mkdir(path2, 0755) < 0 || chmod(path, 0751) < 0 || chmod(path2, 0710) < 0 ||
	    chown(path, 1234, 2345) < 0 || chown(path2, 3456, 4567) < 0 ||
	    (fd = open(path2, O_RDONLY | O_DIRECTORY)) < 0 ||
	    (cwd && ((fd1 = open(path, O_PATH | O_DIRECTORY)) < 0 || chdir(path) < 0)) || rmdir(path) < 0 ||
	    rmdir(path2) < 0)
		return fprintf(stderr, "deleted: %s: %s\n", path, strerror(errno)), -1;
	if (wl_write_ready(ready, getpid()) < 0)
		return -1;
	wl_wait_usr1();
	deleted_check_dir(r, fd, path2, 0710, 3456, 4567);
	if (cwd) {
		deleted_check_dir(r, AT_FDCWD, path, 0751, 1234, 2345);
		if (fstat(fd1, &a) < 0 || stat(".", &b) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
			wl_fail(r, "the O_PATH fd of the removed cwd and the cwd are not one directory");
	}
	return 0;
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	int ret;

	if (argc < 5)
		return 2;
	wl_catch_usr1();
	if (!strcmp(argv[4], "mode"))
		ret = deleted_mode(argv[3], argv[1], &r);
	else if (!strcmp(argv[4], "sparse"))
		ret = deleted_sparse(argv[3], argv[1], &r);
	else if (!strcmp(argv[4], "fifo"))
		ret = deleted_fifo(argv[3], argv[1], &r);
	else if (!strcmp(argv[4], "dir"))
		ret = deleted_dir(argv[3], argv[1], true, &r);
	else if (!strcmp(argv[4], "dirfd"))
		ret = deleted_dir(argv[3], argv[1], false, &r);
	else
		return fprintf(stderr, "deleted: unknown case '%s'\n", argv[4]), 2;
	if (ret < 0)
		return 1;
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
