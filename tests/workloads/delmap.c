/* delmap: a self-checking workload for deleted files that are mapped.
 *
 *	delmap READYFILE RESULTFILE DIR CASE
 *
 * CASE is one of:
 *  maps	DIR/shared.bin (3 pages) held by an fd and mapped MAP_SHARED,
 *		written through the mapping; DIR/priv.bin mapped MAP_PRIVATE,
 *		its first page written (copied), no fd; DIR/alone.bin mapped
 *		MAP_SHARED with no fd, written through the mapping; all three
 *		unlinked. After the restore: the contents, /proc/self/maps names
 *		each "PATH (deleted)", shared.bin's mapping and fd are one file
 *		(a write through either shows in the other), alone.bin's
 *		mapping writes through to its file (map_files), priv.bin's
 *		copied page is private and its others the file's.
 *  exe	copies itself to DIR/delexe, runs that copy (exec, same pid) and
 *		deletes it. After the restore /proc/self/exe is
 *		"DIR/delexe (deleted)" and the text is mapped from it.
 *  big	DIR/big.bin of 2 MiB of data mapped MAP_SHARED with no fd, then
 *		unlinked: over the default ghost-limit (the dump refuses it).
 * After SIGUSR1 it checks and writes PASS or FAIL lines to RESULTFILE.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

#define PG 4096

/* Makes DIR/name of len bytes of byte seed+i, opened read-write. */
static int delmap_make(const char *dir, const char *name, size_t len, unsigned char seed, char *path, size_t size)
{
	unsigned char *buf = malloc(len);
	int fd;

	snprintf(path, size, "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 || !buf) {
		free(buf);
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(seed + i);
	if (write(fd, buf, len) != (ssize_t)len) {
		free(buf);
		close(fd);
		return -1;
	}
	free(buf);
	return fd;
}

/* The line of /proc/self/maps for address a, or "" */
static void delmap_maps_line(const void *a, char *out, size_t size)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	unsigned long s, e;

	out[0] = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && (unsigned long)a >= s && (unsigned long)a < e) {
			line[strcspn(line, "\n")] = 0;
			snprintf(out, size, "%s", line);
			break;
		}
	if (f)
		fclose(f);
}

/* Checks that the mapping at a names "path (deleted)". */
static void delmap_check_name(struct wl_report *r, const void *a, const char *path)
{
	char line[4200], want[4200];
	size_t n, m;

	delmap_maps_line(a, line, sizeof(line));
	snprintf(want, sizeof(want), " %s (deleted)", path);
	n = strlen(line);
	m = strlen(want);
	if (n < m || strcmp(line + n - m, want))
		wl_fail(r, "the mapping at %p is '%s', want it to end in '%s'", a, line, want);
}

/* Checks len bytes at p are seed+i, starting at index from. */
static void delmap_check_bytes(struct wl_report *r, const char *what, const unsigned char *p, size_t len,
			       unsigned char seed, size_t from)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (unsigned char)(seed + from + i)) {
			wl_fail(r, "%s: byte %zu is %#x, want %#x", what, from + i, p[i],
				(unsigned char)(seed + from + i));
			return;
		}
}

static int delmap_maps(const char *dir, const char *ready, struct wl_report *r)
{
	char sp[4096], pp[4096], ap[4096], buf[PG];
	int sfd = delmap_make(dir, "shared.bin", 3 * PG, 1, sp, sizeof(sp));
	int pfd = delmap_make(dir, "priv.bin", 2 * PG, 2, pp, sizeof(pp));
	int afd = delmap_make(dir, "alone.bin", 2 * PG, 3, ap, sizeof(ap));
	unsigned char *s, *p, *a;

	if (sfd < 0 || pfd < 0 || afd < 0)
		return wl_must(0, "make the files");
	s = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
	p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, pfd, 0);
	a = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, afd, 0);
	if (s == MAP_FAILED || p == MAP_FAILED || a == MAP_FAILED)
		return wl_must(0, "mmap");
	memset(s + PG, 0x5a, 100);		/* through the mapping: in the file */
	memset(p, 0x77, PG);			/* a private copy of page 0 */
	memset(a + PG, 0x66, 200);
	close(pfd);
	close(afd);
	if (wl_must(unlink(sp) == 0 && unlink(pp) == 0 && unlink(ap) == 0, "unlink") < 0 ||
	    wl_write_ready(ready, getpid()) < 0)
		return -1;
	wl_wait_usr1();

	delmap_check_name(r, s, sp);
	delmap_check_name(r, p, pp);
	delmap_check_name(r, a, ap);
	/* shared.bin: what the mapping wrote is in the file, and both ways on. */
	if (pread(sfd, buf, 100, PG) != 100 || memcmp(buf, s + PG, 100) || (unsigned char)buf[0] != 0x5a)
		wl_fail(r, "shared.bin: the fd does not see what the mapping wrote before the dump");
	delmap_check_bytes(r, "shared.bin page 0", s, PG, 1, 0);
	s[2 * PG] = 0x42;
	if (pread(sfd, buf, 1, 2 * PG) != 1 || (unsigned char)buf[0] != 0x42)
		wl_fail(r, "shared.bin: a write through the mapping after restore is not seen through the fd");
	buf[0] = 0x24;
	if (pwrite(sfd, buf, 1, 10) != 1 || s[10] != 0x24)
		wl_fail(r, "shared.bin: a write through the fd after restore is not seen in the mapping");
	/* priv.bin: page 0 private, page 1 the file's. */
	for (int i = 0; i < PG; i++)
		if (p[i] != 0x77) {
			wl_fail(r, "priv.bin: the copied page 0 has %#x at %d", p[i], i);
			break;
		}
	delmap_check_bytes(r, "priv.bin page 1", p + PG, PG, 2, PG);
	/* alone.bin: the mapping's writes, and the file behind it. */
	delmap_check_bytes(r, "alone.bin page 0", a, PG, 3, 0);
	for (int i = 0; i < 200; i++)
		if (a[PG + i] != 0x66) {
			wl_fail(r, "alone.bin: byte %d of page 1 is %#x, want 0x66", PG + i, a[PG + i]);
			break;
		}
	{
		char mf[128];
		int fd;

		snprintf(mf, sizeof(mf), "/proc/self/map_files/%lx-%lx", (unsigned long)a, (unsigned long)a + 2 * PG);
		fd = open(mf, O_RDONLY);
		if (fd < 0 || pread(fd, buf, 1, PG + 5) != 1 || (unsigned char)buf[0] != 0x66)
			wl_fail(r, "alone.bin: its file (%s) does not hold what the mapping wrote", mf);
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

/* The copy, running: deletes itself and waits. */
static int delmap_exe_run(const char *dir, const char *ready, struct wl_report *r)
{
	char path[4096], exe[4200], want[4200];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/delexe", dir);
	if (wl_must(unlink(path) == 0, "unlink the copy") < 0 || wl_write_ready(ready, getpid()) < 0)
		return -1;
	wl_wait_usr1();
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n < 0 ? 0 : n] = 0;
	snprintf(want, sizeof(want), "%s (deleted)", path);
	if (strcmp(exe, want))
		wl_fail(r, "/proc/self/exe is '%s', want '%s'", exe, want);
	delmap_check_name(r, (void *)delmap_exe_run, path);
	return 0;
}

/* Copies this program to DIR/delexe and runs the copy (exe2). */
static int delmap_exe(char **argv, const char *dir)
{
	char path[4096];
	struct stat st;
	int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), out;

	snprintf(path, sizeof(path), "%s/delexe", dir);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (in < 0 || out < 0 || fstat(in, &st) < 0 || sendfile(out, in, NULL, st.st_size) != st.st_size)
		return wl_must(0, "copy the program");
	close(in);
	close(out);
	execl(path, path, argv[1], argv[2], dir, "exe2", (char *)NULL);
	return wl_must(0, "exec the copy");
}

static int delmap_big(const char *dir, const char *ready)
{
	char path[4096];
	int fd = delmap_make(dir, "big.bin", 2 << 20, 9, path, sizeof(path));
	unsigned char *m;

	if (fd < 0)
		return wl_must(0, "make big.bin");
	m = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return wl_must(0, "mmap big.bin");
	close(fd);
	if (wl_must(unlink(path) == 0, "unlink big.bin") < 0 || wl_write_ready(ready, getpid()) < 0)
		return -1;
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	int ret;

	if (argc != 5) {
		fprintf(stderr, "usage: delmap READYFILE RESULTFILE DIR maps|exe|big\n");
		return 2;
	}
	wl_catch_usr1();
	if (!strcmp(argv[4], "maps"))
		ret = delmap_maps(argv[3], argv[1], &r);
	else if (!strcmp(argv[4], "exe"))
		ret = delmap_exe(argv, argv[3]);
	else if (!strcmp(argv[4], "exe2"))
		ret = delmap_exe_run(argv[3], argv[1], &r);
	else if (!strcmp(argv[4], "big"))
		ret = delmap_big(argv[3], argv[1]);
	else {
		fprintf(stderr, "delmap: unknown case '%s'\n", argv[4]);
		return 2;
	}
	if (ret < 0)
		return 1;
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
