/* memfdmap: a self-checking workload for memfd mappings.
 *
 *	memfdmap READYFILE RESULTFILE [future-write]
 *
 * Before the dump, three memfds:
 *  - "amber-map" (sealable), 16 pages: pages 0-7 written with pwrite, page 9
 *    through its MAP_SHARED mapping of all 16 pages, page 12 with pwrite,
 *    the rest holes; sealed against shrinking and growing; the descriptor
 *    stays open at offset 777.
 *  - "amber-closed" (sealable), 8 pages written, mapped MAP_SHARED from page
 *    2 on (6 pages), sealed against shrinking, its descriptor closed.
 *  - "amber-priv" (not sealable), 8 pages written, mapped both MAP_PRIVATE
 *    (pages 1 and 2 then written: private copies) and MAP_SHARED (page 5
 *    written through it, never touched through the private mapping); its
 *    descriptor closed.
 *  - "amber-empty", 256 pages never written (all holes), mapped MAP_SHARED,
 *    its descriptor closed.
 * Then it forks; the child writes page 4 of the "amber-closed" mapping.
 *
 * After SIGUSR1 (passed on to the child) every detail is checked: names in
 * /proc/self/maps, contents and holes, the descriptor and the mapping being
 * one inode (fstat against the maps inode; a pwrite seen in the mapping and
 * a write through the mapping seen by pread), offset, sizes and seals (of
 * the closed one through /proc/self/map_files), private copies kept apart
 * from the memfd while clean private pages still show it, and the MAP_SHARED
 * mappings shared with the child (a token through "amber-closed", the answer
 * through "amber-map"). The child reports by its exit status; PASS or FAIL
 * lines go to RESULTFILE.
 *
 * With "future-write", a fourth memfd "amber-sealed" is mapped MAP_SHARED
 * writable, then sealed with F_SEAL_FUTURE_WRITE: a mapping a restore could
 * not make again, which the dump must refuse, leaving the tree as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#define PG 4096

static unsigned char val(int tag, int page, int i)
{
	return (unsigned char)(tag * 41 + page * 7 + i * 3 + 1);
}

static void fill(volatile unsigned char *p, int tag, int page)
{
	for (int i = 0; i < PG; i++)
		p[i] = val(tag, page, i);
}

/* Does the page at p hold tag's pattern for page? */
static int is(const volatile unsigned char *p, int tag, int page)
{
	for (int i = 0; i < PG; i++)
		if (p[i] != val(tag, page, i))
			return 0;
	return 1;
}

static int is_zero(const volatile unsigned char *p)
{
	for (int i = 0; i < PG; i++)
		if (p[i])
			return 0;
	return 1;
}

/* The inode and name /proc/self/maps shows for the mapping at m; 0 if none. */
static unsigned long map_ino(const volatile void *m, char *name, size_t len)
{
	char line[512], want[32];
	unsigned long ino = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (name)
		name[0] = 0;
	snprintf(want, sizeof(want), "%lx-", (unsigned long)m);
	while (f && fgets(line, sizeof(line), f)) {
		int off = 0;

		if (strncmp(line, want, strlen(want)))
			continue;
		if (sscanf(line, "%*x-%*x %*s %*x %*x:%*x %lu %n", &ino, &off) >= 1 && name) {
			snprintf(name, len, "%s", line + off);
			name[strcspn(name, "\n")] = 0;
		}
	}
	if (f)
		fclose(f);
	return ino;
}

/* Opens the file the mapping [m, m+len) maps, through /proc/self/map_files. */
static int map_open(const volatile void *m, size_t len)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)m, (unsigned long)m + len);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static int wait_byte(const volatile unsigned char *p, unsigned char want)
{
	for (int n = 0; n < 500; n++) {
		if (*p == want)
			return 0;
		wl_sleep_ms(10);
	}
	return -1;
}

/* Waits for the child's answer, passing SIGUSR1 on again now and then (one
 * that lands just before the child's pause() is seen only on the next). */
static int wait_answer(const volatile unsigned char *p, pid_t kid)
{
	for (int n = 0; n < 500; n++) {
		if (*p == 0xa5)
			return 0;
		if (n % 20 == 0)
			kill(kid, SIGUSR1);
		wl_sleep_ms(10);
	}
	return -1;
}

struct maps {
	int a;				/* the "amber-map" descriptor */
	volatile unsigned char *s;	/* "amber-map", 16 pages, shared */
	volatile unsigned char *c;	/* "amber-closed" from page 2, 6 pages, shared */
	volatile unsigned char *p;	/* "amber-priv", 8 pages, private */
	volatile unsigned char *q;	/* "amber-priv", 8 pages, shared */
	volatile unsigned char *z;	/* "amber-empty", 256 pages of holes, shared */
};

static int child_main(const struct maps *m)
{
	struct stat st;

	wl_catch_usr1();
	wl_wait_usr1();
	if (!is(m->c + 4 * PG, 5, 4) || !is(m->c, 1, 2))
		return 11;
	if (!is(m->p + PG, 3, 1) || !is(m->p, 2, 0))
		return 12;
	if (fstat(m->a, &st) < 0 || st.st_ino != map_ino(m->s, NULL, 0))
		return 13;
	if (wait_byte(m->c + 5 * PG + 8, 0x5a) < 0)
		return 14;	/* the parent's write never showed: not shared */
	m->s[13 * PG] = 0xa5;
	return 0;
}

static void check_amber_map(struct wl_report *r, const struct maps *m)
{
	char name[256], buf[8] = "";
	struct stat st;

	if (!map_ino(m->s, name, sizeof(name)) || strcmp(name, "/memfd:amber-map (deleted)"))
		wl_fail(r, "the shared mapping shows as '%s', want '/memfd:amber-map (deleted)'", name);
	for (int p = 0; p < 16; p++) {
		int ok = p < 8 || p == 9 || p == 12 ? is(m->s + p * PG, 0, p) : is_zero(m->s + p * PG);

		if (!ok)
			wl_fail(r, "amber-map: page %d is not what was written before the dump%s", p,
				p < 8 || p == 9 || p == 12 ? "" : " (a hole, want zeros)");
	}
	if (fstat(m->a, &st) < 0 || st.st_ino != map_ino(m->s, NULL, 0))
		wl_fail(r, "amber-map: the descriptor is inode %lu, the mapping inode %lu: not the same memfd",
			(unsigned long)st.st_ino, map_ino(m->s, NULL, 0));
	if (st.st_size != 16 * PG)
		wl_fail(r, "amber-map: size %lld, want %d", (long long)st.st_size, 16 * PG);
	if (lseek(m->a, 0, SEEK_CUR) != 777)
		wl_fail(r, "amber-map: offset %lld, want 777", (long long)lseek(m->a, 0, SEEK_CUR));
	if (fcntl(m->a, F_GET_SEALS) != (F_SEAL_SHRINK | F_SEAL_GROW))
		wl_fail(r, "amber-map: seals %#x, want %#x", fcntl(m->a, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW);
	if (pwrite(m->a, "via-fd", 6, 14 * PG) != 6 || memcmp((void *)(m->s + 14 * PG), "via-fd", 6))
		wl_fail(r, "amber-map: a pwrite through the descriptor did not show in the mapping");
	memcpy((void *)(m->s + 15 * PG), "via-map", 7);
	if (pread(m->a, buf, 7, 15 * PG) != 7 || memcmp(buf, "via-map", 7))
		wl_fail(r, "amber-map: a write through the mapping did not show through the descriptor");
}

static void check_amber_closed(struct wl_report *r, const struct maps *m)
{
	char name[256];
	struct stat st;
	int fd;

	if (!map_ino(m->c, name, sizeof(name)) || strcmp(name, "/memfd:amber-closed (deleted)"))
		wl_fail(r, "the closed memfd's mapping shows as '%s', want '/memfd:amber-closed (deleted)'", name);
	for (int p = 0; p < 6; p++)
		if (p == 4 ? !is(m->c + p * PG, 5, 4) : !is(m->c + p * PG, 1, p + 2))
			wl_fail(r, "amber-closed: page %d of the mapping (page %d of the memfd) is wrong%s", p, p + 2,
				p == 4 ? " (the child wrote it)" : "");
	fd = map_open(m->c, 6 * PG);
	if (fd < 0) {
		wl_fail(r, "amber-closed: cannot open it through map_files: %s", strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0 || st.st_size != 8 * PG)
		wl_fail(r, "amber-closed: size %lld, want %d", (long long)st.st_size, 8 * PG);
	if (fcntl(fd, F_GET_SEALS) != F_SEAL_SHRINK)
		wl_fail(r, "amber-closed: seals %#x, want %#x", fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK);
	close(fd);
}

static void check_amber_priv(struct wl_report *r, const struct maps *m)
{
	char name[256];
	int fd;

	if (!map_ino(m->p, name, sizeof(name)) || strcmp(name, "/memfd:amber-priv (deleted)"))
		wl_fail(r, "the private mapping shows as '%s', want '/memfd:amber-priv (deleted)'", name);
	if (map_ino(m->p, NULL, 0) != map_ino(m->q, NULL, 0))
		wl_fail(r, "amber-priv: the private and the shared mapping are inodes %lu and %lu, want one",
			map_ino(m->p, NULL, 0), map_ino(m->q, NULL, 0));
	for (int p = 0; p < 8; p++) {
		if (p == 5 || p == 6)
			continue;
		if (p == 1 || p == 2 ? !is(m->p + p * PG, 3, p) : !is(m->p + p * PG, 2, p))
			wl_fail(r, "amber-priv: page %d of the private mapping is wrong%s", p,
				p == 1 || p == 2 ? " (its private copy)" : "");
	}
	if (!is(m->q + PG, 2, 1))
		wl_fail(r, "amber-priv: the private copy of page 1 reached the memfd");
	if (!is(m->p + 5 * PG, 4, 5))
		wl_fail(r, "amber-priv: page 5, written through the shared mapping, does not show in the private one");
	/* A page the private mapping never touched still follows the memfd. */
	fill(m->q + 6 * PG, 6, 6);
	if (!is(m->p + 6 * PG, 6, 6))
		wl_fail(r, "amber-priv: a write to page 6 through the shared mapping after the restore does not show in the private one");
	fill(m->p + 7 * PG, 7, 7);
	if (!is(m->q + 7 * PG, 2, 7))
		wl_fail(r, "amber-priv: a write to the private mapping after the restore reached the memfd");
	fd = map_open(m->p, 8 * PG);
	if (fd >= 0 && fcntl(fd, F_GET_SEALS) != F_SEAL_SEAL)
		wl_fail(r, "amber-priv: it became sealable (seals %#x)", fcntl(fd, F_GET_SEALS));
	if (fd >= 0)
		close(fd);
}

static void check_amber_empty(struct wl_report *r, const struct maps *m)
{
	char name[256];
	struct stat st;
	int fd = map_open(m->z, 256 * PG);

	if (!map_ino(m->z, name, sizeof(name)) || strcmp(name, "/memfd:amber-empty (deleted)"))
		wl_fail(r, "the empty memfd's mapping shows as '%s', want '/memfd:amber-empty (deleted)'", name);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size != 256 * PG)
		wl_fail(r, "amber-empty: it is not 256 pages any more");
	else if (lseek(fd, 0, SEEK_DATA) >= 0)
		wl_fail(r, "amber-empty: it holds data at %lld, want holes only", (long long)lseek(fd, 0, SEEK_DATA));
	for (int p = 0; p < 256; p += 17)
		if (!is_zero(m->z + p * PG))
			wl_fail(r, "amber-empty: page %d is not zero", p);
	if (fd >= 0)
		close(fd);
}

/* Makes a memfd of npages with tag's pattern; -1 on failure. */
static int make_memfd(const char *name, unsigned int flags, int npages, int tag)
{
	unsigned char page[PG];
	int fd = memfd_create(name, flags);

	if (fd < 0 || ftruncate(fd, (off_t)npages * PG) < 0)
		return -1;
	for (int p = 0; p < npages; p++) {
		fill(page, tag, p);
		if (pwrite(fd, page, PG, (off_t)p * PG) != PG)
			return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	char report[8192] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	unsigned char page[PG];
	struct maps m;
	volatile unsigned char *sealed = NULL;
	int b, pv, z, status;
	pid_t kid;

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	m.a = make_memfd("amber-map", MFD_ALLOW_SEALING, 8, 0);
	b = make_memfd("amber-closed", MFD_ALLOW_SEALING, 8, 1);
	pv = make_memfd("amber-priv", 0, 8, 2);
	z = make_memfd("amber-empty", 0, 0, 0);
	if (m.a < 0 || b < 0 || pv < 0 || z < 0 || ftruncate(m.a, 16 * PG) < 0 || ftruncate(z, 256 * PG) < 0)
		return 1;
	m.z = mmap(NULL, 256 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, z, 0);
	close(z);
	m.s = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, m.a, 0);
	m.c = mmap(NULL, 6 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, b, 2 * PG);
	m.p = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, pv, 0);
	m.q = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, pv, 0);
	if (m.s == MAP_FAILED || m.c == MAP_FAILED || m.p == MAP_FAILED || m.q == MAP_FAILED || m.z == MAP_FAILED)
		return 1;
	fill(m.s + 9 * PG, 0, 9);
	fill(page, 0, 12);
	if (pwrite(m.a, page, PG, 12 * PG) != PG || lseek(m.a, 777, SEEK_SET) != 777)
		return 1;
	if (fcntl(m.a, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0 || fcntl(b, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
		return 1;
	close(b);
	close(pv);
	if (argc > 3 && !strcmp(argv[3], "future-write")) {
		int f = make_memfd("amber-sealed", MFD_ALLOW_SEALING, 1, 8);

		sealed = f < 0 ? MAP_FAILED : mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
		if (sealed == MAP_FAILED || fcntl(f, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) < 0)
			return 1;
		close(f);
	}
	fill(m.p + PG, 3, 1);
	fill(m.p + 2 * PG, 3, 2);
	fill(m.q + 5 * PG, 4, 5);
	kid = fork();
	if (kid == 0) {
		fill(m.c + 4 * PG, 5, 4);
		_exit(child_main(&m));
	}
	wl_sleep_ms(100);	/* the child writes its page */
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();
	kill(kid, SIGUSR1);

	check_amber_map(&r, &m);
	check_amber_closed(&r, &m);
	check_amber_priv(&r, &m);
	check_amber_empty(&r, &m);
	if (sealed && !is(sealed, 8, 0))
		wl_fail(&r, "amber-sealed: its page is not what was written");
	m.c[5 * PG + 8] = 0x5a;
	if (wait_answer(m.s + 13 * PG, kid) < 0)
		wl_fail(&r, "the child's answer through amber-map never showed: the memfds are not shared with it any more");
	while (waitpid(kid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		wl_fail(&r, "the child's check failed (wait status %#x)", status);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
