/* delayed: a self-checking workload for delayed mounts (restore
 * --delay-mount, amber mount-delayed).
 *
 *	delayed READYFILE RESULTFILE DISK COUNTER [bind BINDMP]
 *
 * DISK is a mounted file system (the test's loop-mounted ext4) holding
 * read.txt ("real data for the reader\n"), log.txt ("line0\n"), map.bin
 * (8192 bytes, byte i is i % 251) and a directory sub/. The workload
 * unshares a mount namespace (private). With "bind" it binds DISK on
 * BINDMP and reaches read.txt and sub/ through BINDMP. The root forks a
 * reader, which opens read.txt, opens log.txt O_APPEND, maps map.bin
 * MAP_SHARED read-only (and closes that fd), chdirs to sub/ and waits on a
 * pipe. The root counts, writing its count to COUNTER every 50 ms, for
 * ever.
 *
 * On SIGUSR1 the root says "go" on the pipe. The reader then reads
 * read.txt (on a stub this blocks until the real mount is swapped in) and
 * appends "line1\n" to log.txt. On the next SIGUSR1 (the test sends it
 * once 'amber mount-delayed' returned) it checks: the data read was the
 * real data, map.bin's mapping reads the real bytes, its cwd is sub/ on
 * the same mount as DISK (BINDMP with "bind"), and the descriptors, the
 * mapping and the cwd are on an ext4 file system. It sends its verdict on
 * a pipe; the root writes PASS or FAIL lines to RESULTFILE and counts on.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#define EXT4_MAGIC 0xEF53
#define READ_DATA "real data for the reader\n"

static char txt[8192];
static struct wl_report rep = { txt, sizeof(txt), 0 };

/* The reader: set up, wait for go, then check everything. */
static int reader(const char *disk, const char *via, int go, int verdict)
{
	char p[PATH_MAX], buf[256], cwd[PATH_MAX];
	int rfd, lfd, mfd;
	unsigned char *map;
	struct statfs sf;
	struct stat a, b;
	ssize_t n;

	snprintf(p, sizeof(p), "%s/read.txt", via);
	rfd = open(p, O_RDONLY);
	snprintf(p, sizeof(p), "%s/log.txt", disk);
	lfd = open(p, O_WRONLY | O_APPEND);
	snprintf(p, sizeof(p), "%s/map.bin", disk);
	mfd = open(p, O_RDONLY);
	if (wl_must(rfd >= 0 && lfd >= 0 && mfd >= 0, "open the files on DISK") < 0)
		return 1;
	map = mmap(NULL, 8192, PROT_READ, MAP_SHARED, mfd, 0);
	if (wl_must(map != MAP_FAILED, "map map.bin") < 0)
		return 1;
	close(mfd);
	snprintf(p, sizeof(p), "%s/sub", via);
	if (wl_must(chdir(p) == 0, "chdir to sub") < 0)
		return 1;
	if (read(go, buf, 1) != 1)
		return 1;
	/* Blocks on a stub until the real mount is there. */
	n = read(rfd, buf, sizeof(buf) - 1);
	if (n < 0)
		wl_fail(&rep, "read read.txt: %s", strerror(errno));
	else if (buf[n] = 0, strcmp(buf, READ_DATA))
		wl_fail(&rep, "read.txt reads '%s', want '%s'", buf, READ_DATA);
	if (write(lfd, "line1\n", 6) != 6)
		wl_fail(&rep, "append to log.txt: %s", n < 0 ? strerror(errno) : "short write");
	/* The read may complete while the swap is still going on (the stub
	 * serves it from the real mount): the rest is checked once the test
	 * says the swap is done. */
	if (write(verdict, "R", 1) != 1 || read(go, buf, 1) != 1)
		return 1;
	for (int i = 0; i < 8192; i++)
		if (map[i] != i % 251) {
			wl_fail(&rep, "map.bin's mapping reads %u at %d, want %d", map[i], i, i % 251);
			break;
		}
	if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, p))
		wl_fail(&rep, "cwd is '%s', want '%s'", cwd, p);
	if (stat(".", &a) < 0 || stat(via, &b) < 0 || a.st_dev != b.st_dev)
		wl_fail(&rep, "cwd is not on the mount at '%s'", via);
	if (statfs(".", &sf) < 0 || sf.f_type != EXT4_MAGIC)
		wl_fail(&rep, "cwd is on file system type %#lx, not ext4", (unsigned long)sf.f_type);
	if (fstatfs(rfd, &sf) < 0 || sf.f_type != EXT4_MAGIC)
		wl_fail(&rep, "read.txt's fd is on file system type %#lx, not ext4", (unsigned long)sf.f_type);
	if (fstatfs(lfd, &sf) < 0 || sf.f_type != EXT4_MAGIC)
		wl_fail(&rep, "log.txt's fd is on file system type %#lx, not ext4", (unsigned long)sf.f_type);
	{
		FILE *m = fopen("/proc/self/maps", "r");
		char line[512];
		bool seen = false;

		while (m && fgets(line, sizeof(line), m))
			if (strstr(line, "/map.bin")) {
				unsigned maj, min;

				seen = true;
				if (sscanf(line, "%*s %*s %*s %x:%x", &maj, &min) != 2 ||
				    makedev(maj, min) != b.st_dev)
					wl_fail(&rep, "map.bin's mapping is on device %x:%x, not that of '%s'", maj, min, via);
			}
		if (m)
			fclose(m);
		if (!seen)
			wl_fail(&rep, "map.bin is not mapped any more");
	}
	if (write(verdict, rep.nfails ? txt : "PASS\n", strlen(rep.nfails ? txt : "PASS\n")) < 0)
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *via;
	int go[2], verdict[2];
	long count = 0;
	pid_t kid;

	if (argc < 5 || (argc > 5 && (argc != 7 || strcmp(argv[5], "bind")))) {
		fprintf(stderr, "usage: delayed READYFILE RESULTFILE DISK COUNTER [bind BINDMP]\n");
		return 2;
	}
	via = argc == 7 ? argv[6] : argv[3];
	if (wl_must(unshare(CLONE_NEWNS) == 0, "unshare a mount namespace") < 0 ||
	    wl_must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "make it private") < 0)
		return 1;
	if (argc == 7 && wl_must(mount(argv[3], argv[6], NULL, MS_BIND, NULL) == 0, "bind DISK on BINDMP") < 0)
		return 1;
	if (wl_must(pipe(go) == 0 && pipe(verdict) == 0, "pipes") < 0 || wl_catch_usr1() < 0)
		return 1;
	if ((kid = fork()) == 0) {
		close(go[1]);
		close(verdict[0]);
		_exit(reader(argv[3], via, go[0], verdict[1]));
	}
	close(go[0]);
	close(verdict[1]);
	fcntl(verdict[0], F_SETFL, O_NONBLOCK);
	wl_sleep_ms(200);
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	/* 0: wait for SIGUSR1; 1: the reader reads (blocks on a stub); 2: it
	 * has read, wait for SIGUSR1 again; 3: it checks; 4: done. */
	for (int state = 0;; count++) {
		char c[32], v[8192];
		ssize_t n;

		snprintf(c, sizeof(c), "%ld\n", count);
		wl_write_file(argv[4], c);
		if (state == 0 && wl_got_usr1 && write(go[1], "g", 1) == 1) {
			wl_got_usr1 = 0;
			state = 1;
		}
		if (state == 1 && read(verdict[0], v, 1) == 1) {
			wl_got_usr1 = 0;
			state = 2;
		}
		if (state == 2 && wl_got_usr1 && write(go[1], "g", 1) == 1)
			state = 3;
		if (state == 3 && (n = read(verdict[0], v, sizeof(v) - 1)) > 0) {
			v[n] = 0;
			wl_write_file(argv[2], v);
			state = 4;
		}
		wl_sleep_ms(50);
	}
	return 0;
}
