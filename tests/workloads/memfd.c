/* memfd: a self-checking workload for memfd descriptors.
 *
 *	memfd READYFILE RESULTFILE
 *
 * Before the dump: memfd "amber-test" (sealable) with 30000 bytes of a
 * pattern, its offset at 4321, sealed against shrinking and growing; and a
 * plain memfd "plain" (not sealable) with 10 bytes, opened a second time
 * through /proc/self/fd (a second description of the same memfd, at its
 * own offset 3). After SIGUSR1 each must
 * still be a memfd of that name (/proc/self/fd shows "/memfd:NAME
 * (deleted)"), with its contents, offset and seals; growing the sealed one
 * must still be refused; both descriptions of "plain" must be one memfd
 * again (same inode, a write through one read through the other). PASS or
 * FAIL lines go to RESULTFILE.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

#define LEN 30000

static unsigned char pat(int i) { return (unsigned char)(i * 13 + 7); }

static void check_name(struct wl_report *r, int fd, const char *want)
{
	char path[64], link[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	if (strcmp(link, want))
		wl_fail(r, "fd %d is '%s', want '%s'", fd, link, want);
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	unsigned char buf[LEN];
	char path[64];
	struct stat sb, sb2;
	int a, b, b2, seals;

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	a = memfd_create("amber-test", MFD_ALLOW_SEALING);
	b = memfd_create("plain", 0);
	for (int i = 0; i < LEN; i++)
		buf[i] = pat(i);
	if (a < 0 || b < 0 || write(a, buf, LEN) != LEN || write(b, "0123456789", 10) != 10)
		return 1;
	if (lseek(a, 4321, SEEK_SET) != 4321 || fcntl(a, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		return 1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", b);
	b2 = open(path, O_RDWR);
	if (b2 < 0 || lseek(b2, 3, SEEK_SET) != 3)
		return 1;
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	check_name(&r, a, "/memfd:amber-test (deleted)");
	check_name(&r, b, "/memfd:plain (deleted)");
	if (lseek(a, 0, SEEK_CUR) != 4321)
		wl_fail(&r, "offset is %ld, want 4321", (long)lseek(a, 0, SEEK_CUR));
	memset(buf, 0, sizeof(buf));
	if (pread(a, buf, LEN, 0) != LEN)
		wl_fail(&r, "cannot read the %d bytes back", LEN);
	for (int i = 0; i < LEN; i++)
		if (buf[i] != pat(i)) {
			wl_fail(&r, "byte %d is %d, want %d", i, buf[i], pat(i));
			break;
		}
	seals = fcntl(a, F_GET_SEALS);
	if (seals != (F_SEAL_SHRINK | F_SEAL_GROW))
		wl_fail(&r, "seals are %#x, want %#x", seals, F_SEAL_SHRINK | F_SEAL_GROW);
	if (ftruncate(a, LEN + 4096) == 0 || errno != EPERM)
		wl_fail(&r, "growing the sealed memfd was not refused");
	if (fcntl(b, F_GET_SEALS) != F_SEAL_SEAL)
		wl_fail(&r, "the plain memfd became sealable (seals %#x)", fcntl(b, F_GET_SEALS));
	if (pread(b, buf, 10, 0) != 10 || memcmp(buf, "0123456789", 10))
		wl_fail(&r, "the plain memfd lost its contents");
	check_name(&r, b2, "/memfd:plain (deleted)");
	if (fstat(b, &sb) < 0 || fstat(b2, &sb2) < 0 || sb.st_ino != sb2.st_ino || sb.st_dev != sb2.st_dev)
		wl_fail(&r, "the two descriptions of the plain memfd are on different inodes");
	if (lseek(b2, 0, SEEK_CUR) != 3)
		wl_fail(&r, "the second description is at %ld, want 3", (long)lseek(b2, 0, SEEK_CUR));
	if (pwrite(b, "X", 1, 0) != 1 || pread(b2, buf, 1, 0) != 1 || buf[0] != 'X')
		wl_fail(&r, "a write through one description of the plain memfd is not seen through the other");
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
