/* unlinked: a self-checking workload for files deleted while open.
 *
 *	unlinked READYFILE RESULTFILE DIR [GHOSTBYTES]
 *
 * Before the dump, in DIR (which should be empty and stays so):
 * (GHOSTBYTES, at most 1 MiB, sets the size of ghost.txt: the benchmark
 * of a 1 MiB unlinked file uses it)
 *  - a "ghost": DIR/ghost.txt with 20000 bytes of a pattern, open O_RDWR at
 *    offset 1234, then unlinked (not linkable again: its contents must go
 *    into the images);
 *  - a linkable file: open(DIR, O_TMPFILE | O_RDWR) with 5000 bytes of
 *    another pattern, at offset 77 (never named: the dump can link it back
 *    as a link remap);
 *  - a second ghost: DIR/keep.txt, 3000 bytes, open O_WRONLY | O_APPEND,
 *    then unlinked.
 * After SIGUSR1 it checks for each one: st_nlink is 0, the size, the whole
 * contents (pread; keep.txt through /proc/self/fd as its fd is write-only),
 * the offset, the access mode and O_APPEND; then it appends to keep.txt and
 * checks that the write landed at the end and the size grew. PASS or FAIL
 * lines go to RESULTFILE.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

#define GHOST_LEN 20000
#define GHOST_MAX (1 << 20)
#define GHOST_OFF 1234
#define TMP_LEN 5000
#define TMP_OFF 77
#define KEEP_LEN 3000
#define KEEP_ADD 100

/* One open unlinked file and what it should look like after the restore. */
struct unlinked_file {
	const char *name;
	int fd;
	off_t size;
	off_t offset;
	int accmode;
	int append;
	unsigned seed;
};

/* Byte i of the pattern for seed. */
static unsigned char unlinked_pattern(unsigned seed, size_t i)
{
	return (unsigned char)(i * seed + (i >> 7) + seed);
}

/* Writes len pattern bytes of seed from position from on; 0 or -1. */
static int unlinked_fill(int fd, unsigned seed, size_t from, size_t len)
{
	static unsigned char buf[GHOST_MAX];

	for (size_t i = 0; i < len; i++)
		buf[i] = unlinked_pattern(seed, from + i);
	return write(fd, buf, len) == (ssize_t)len ? 0 : -1;
}

/* Checks that fd holds exactly size bytes of f's pattern (read through rd). */
static void unlinked_check_data(struct wl_report *r, const struct unlinked_file *f, int rd)
{
	static unsigned char buf[GHOST_MAX + KEEP_ADD + 1];
	ssize_t n = pread(rd, buf, sizeof(buf), 0);

	if (n != f->size) {
		wl_fail(r, "%s: pread gave %zd bytes, want %lld (%s)", f->name, n, (long long)f->size,
			n < 0 ? strerror(errno) : "size");
		return;
	}
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] != unlinked_pattern(f->seed, i)) {
			wl_fail(r, "%s: byte %zd is %#x, want %#x", f->name, i, buf[i],
				unlinked_pattern(f->seed, i));
			return;
		}
}

/* Checks one file: unlinked, its size, contents, offset and flags. */
static void unlinked_check(struct wl_report *r, const struct unlinked_file *f)
{
	char path[64];
	struct stat st;
	off_t off;
	int fl, rd;

	if (fstat(f->fd, &st) < 0) {
		wl_fail(r, "%s: fstat fd %d: %s", f->name, f->fd, strerror(errno));
		return;
	}
	if (st.st_nlink != 0)
		wl_fail(r, "%s: st_nlink is %lu, want 0 (the file got a name)", f->name, (unsigned long)st.st_nlink);
	if (st.st_size != f->size)
		wl_fail(r, "%s: size is %lld, want %lld", f->name, (long long)st.st_size, (long long)f->size);
	if (f->accmode == O_WRONLY) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", f->fd);
		rd = open(path, O_RDONLY | O_CLOEXEC);
		if (rd < 0)
			wl_fail(r, "%s: cannot reopen %s to read it: %s", f->name, path, strerror(errno));
		else {
			unlinked_check_data(r, f, rd);
			close(rd);
		}
	} else
		unlinked_check_data(r, f, f->fd);
	off = lseek(f->fd, 0, SEEK_CUR);
	if (off != f->offset)
		wl_fail(r, "%s: offset is %lld, want %lld", f->name, (long long)off, (long long)f->offset);
	fl = fcntl(f->fd, F_GETFL);
	if ((fl & O_ACCMODE) != f->accmode)
		wl_fail(r, "%s: access mode is %d, want %d", f->name, fl & O_ACCMODE, f->accmode);
	if (!(fl & O_APPEND) != !f->append)
		wl_fail(r, "%s: O_APPEND is %s, want %s", f->name, fl & O_APPEND ? "set" : "clear",
			f->append ? "set" : "clear");
}

/* Creates DIR/name with len bytes of seed's pattern, opens it with flags and
 * unlinks it; the fd or -1. */
static int unlinked_ghost(const char *dir, const char *name, int flags, unsigned seed, size_t len)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_EXCL | O_TRUNC | flags, 0600);
	if (fd < 0 || unlinked_fill(fd, seed, 0, len) < 0 || unlink(path) < 0) {
		fprintf(stderr, "unlinked: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	struct unlinked_file ghost = { "ghost.txt", -1, GHOST_LEN, GHOST_OFF, O_RDWR, 0, 7 };
	struct unlinked_file tmp = { "the O_TMPFILE file", -1, TMP_LEN, TMP_OFF, O_RDWR, 0, 13 };
	struct unlinked_file keep = { "keep.txt", -1, KEEP_LEN, KEEP_LEN, O_WRONLY, 1, 29 };
	const char *dir;

	if (argc < 4)
		return 2;
	dir = argv[3];
	if (argc > 4)
		ghost.size = atoi(argv[4]);
	if (ghost.size <= GHOST_OFF || ghost.size > GHOST_MAX)
		return 2;
	wl_catch_usr1();
	ghost.fd = unlinked_ghost(dir, "ghost.txt", O_RDWR, ghost.seed, ghost.size);
	if (ghost.fd < 0 || lseek(ghost.fd, GHOST_OFF, SEEK_SET) != GHOST_OFF)
		return 1;
	tmp.fd = open(dir, O_TMPFILE | O_RDWR, 0600);
	if (tmp.fd < 0) {
		fprintf(stderr, "unlinked: O_TMPFILE in %s: %s\n", dir, strerror(errno));
		return 3;
	}
	if (unlinked_fill(tmp.fd, tmp.seed, 0, TMP_LEN) < 0 || lseek(tmp.fd, TMP_OFF, SEEK_SET) != TMP_OFF)
		return 1;
	keep.fd = unlinked_ghost(dir, "keep.txt", O_WRONLY | O_APPEND, keep.seed, KEEP_LEN);
	if (keep.fd < 0)
		return 1;
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	unlinked_check(&r, &ghost);
	unlinked_check(&r, &tmp);
	unlinked_check(&r, &keep);
	/* O_APPEND: the write goes to the end whatever the offset was moved to. */
	lseek(keep.fd, 0, SEEK_SET);
	if (unlinked_fill(keep.fd, keep.seed, KEEP_LEN, KEEP_ADD) < 0)
		wl_fail(&r, "keep.txt: appending %d bytes: %s", KEEP_ADD, strerror(errno));
	else {
		/* Size, offset (at the new end) and all 3100 bytes in order. */
		keep.size = keep.offset = KEEP_LEN + KEEP_ADD;
		unlinked_check(&r, &keep);
	}
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
