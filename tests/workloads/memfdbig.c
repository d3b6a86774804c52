/* memfdbig: a self-checking workload for large memfd descriptors.
 *
 *	memfdbig READYFILE RESULTFILE
 *
 * Before the dump: memfd "amber-big" (sealable), 20 MiB and 123 bytes, over
 * the 16 MiB an image record may hold: the first 512 KiB of each MiB and
 * the 123 bytes past 20 MiB hold a pattern, the rest are holes. It is held
 * by fd 'big' at offset 777, sealed against shrinking, and mapped
 * MAP_SHARED whole at the same time (one inode, saved once). And memfd
 * "amber-wo", 17 MiB with one page of data at 16 MiB, that the process
 * holds only through an O_WRONLY description (its first descriptor closed).
 * After SIGUSR1 both must be memfds of those names with their sizes,
 * contents, holes, offset, flags and seals; a write through the mapping
 * must be seen through the descriptor and the reverse. PASS or FAIL lines
 * go to RESULTFILE.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

#define MIB		(1024L * 1024)
#define BIG_SIZE	(20 * MIB + 123)
#define BIG_RUN		(512 * 1024L)	/* data at the start of each MiB */
#define WO_SIZE		(17 * MIB)
#define WO_DATA		(16 * MIB)	/* offset of its one page of data */

/* The byte the pattern has at offset o (cheap, and differs page to page). */
static unsigned char pat(long o) { return (unsigned char)((o >> 12) * 31 + o % 251); }

/* Does offset o of amber-big hold data? */
static int big_has_data(long o) { return o >= 20 * MIB || o % MIB < BIG_RUN; }

static int fill(int fd, long off, long len)
{
	static unsigned char buf[BIG_RUN];

	for (long i = 0; i < len; i++)
		buf[i] = pat(off + i);
	return pwrite(fd, buf, len, off) == len ? 0 : -1;
}

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

/* Checks amber-big's bytes through fd, 1 MiB at a time. */
static void check_big(struct wl_report *r, int fd)
{
	static unsigned char buf[MIB];

	for (long off = 0; off < BIG_SIZE; off += MIB) {
		long n = BIG_SIZE - off < MIB ? BIG_SIZE - off : MIB;

		if (pread(fd, buf, n, off) != n) {
			wl_fail(r, "cannot read amber-big at %ld", off);
			return;
		}
		for (long i = 0; i < n; i++) {
			unsigned char want = big_has_data(off + i) ? pat(off + i) : 0;

			if (buf[i] != want) {
				wl_fail(r, "amber-big byte %ld is %d, want %d", off + i, buf[i], want);
				return;
			}
		}
	}
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	unsigned char page[4096];
	char path[64];
	struct stat sb;
	unsigned char *map;
	int big, wo0, wo;
	off_t d, d0;

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	big = memfd_create("amber-big", MFD_ALLOW_SEALING);
	wo0 = memfd_create("amber-wo", 0);
	if (big < 0 || wo0 < 0 || ftruncate(big, BIG_SIZE) < 0 || ftruncate(wo0, WO_SIZE) < 0)
		return 1;
	for (long m = 0; m < 20; m++)
		if (fill(big, m * MIB, BIG_RUN) < 0)
			return 1;
	if (fill(big, 20 * MIB, 123) < 0 || fill(wo0, WO_DATA, 4096) < 0)
		return 1;
	/* Where the data after the first run starts: the next MiB, unless
	 * shmem huge pages filled the holes. (SEEK_DATA moves the offset.) */
	d0 = lseek(big, BIG_RUN, SEEK_DATA);
	if (lseek(big, 777, SEEK_SET) != 777 || fcntl(big, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
		return 1;
	map = mmap(NULL, BIG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, big, 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", wo0);
	wo = open(path, O_WRONLY);
	if (map == MAP_FAILED || wo < 0 || close(wo0) < 0)
		return 1;
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	check_name(&r, big, "/memfd:amber-big (deleted)");
	check_name(&r, wo, "/memfd:amber-wo (deleted)");
	if (fstat(big, &sb) < 0 || sb.st_size != BIG_SIZE)
		wl_fail(&r, "amber-big is %lld bytes, want %ld", (long long)sb.st_size, BIG_SIZE);
	if (lseek(big, 0, SEEK_CUR) != 777)
		wl_fail(&r, "amber-big's offset is %ld, want 777", (long)lseek(big, 0, SEEK_CUR));
	if (fcntl(big, F_GET_SEALS) != F_SEAL_SHRINK)
		wl_fail(&r, "amber-big's seals are %#x, want %#x", fcntl(big, F_GET_SEALS), F_SEAL_SHRINK);
	check_big(&r, big);
	/* Holes stay holes. */
	d = lseek(big, BIG_RUN, SEEK_DATA);
	if (d != d0)
		wl_fail(&r, "amber-big: SEEK_DATA from %ld gives %ld, want %ld (holes filled?)", BIG_RUN, (long)d, (long)d0);
	/* Descriptor and mapping are one memfd. */
	if (map[5 * MIB + 1] != pat(5 * MIB + 1))
		wl_fail(&r, "the mapping of amber-big has %d at 5 MiB + 1, want %d", map[5 * MIB + 1], pat(5 * MIB + 1));
	map[3 * MIB + 5] = 0xa5;
	if (pread(big, page, 1, 3 * MIB + 5) != 1 || page[0] != 0xa5)
		wl_fail(&r, "a write through the mapping of amber-big is not seen through its descriptor");
	if (pwrite(big, "Z", 1, 7 * MIB + 9) != 1 || map[7 * MIB + 9] != 'Z')
		wl_fail(&r, "a write through the descriptor of amber-big is not seen through its mapping");

	if ((fcntl(wo, F_GETFL) & O_ACCMODE) != O_WRONLY)
		wl_fail(&r, "amber-wo's description is not O_WRONLY (flags %#x)", fcntl(wo, F_GETFL));
	if (fstat(wo, &sb) < 0 || sb.st_size != WO_SIZE)
		wl_fail(&r, "amber-wo is %lld bytes, want %ld", (long long)sb.st_size, WO_SIZE);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", wo);
	wo0 = open(path, O_RDONLY);
	if (wo0 < 0 || pread(wo0, page, sizeof(page), WO_DATA) != sizeof(page))
		wl_fail(&r, "cannot read amber-wo back: %s", strerror(errno));
	else
		for (int i = 0; i < 4096; i++)
			if (page[i] != pat(WO_DATA + i)) {
				wl_fail(&r, "amber-wo byte %ld is %d, want %d", WO_DATA + i, page[i], pat(WO_DATA + i));
				break;
			}
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
