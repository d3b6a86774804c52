/* devpts: a self-checking workload for a devpts instance of the tree's own,
 * as a container has it.
 *
 *	devpts READYFILE RESULTFILE DIR [umount|console]
 *
 * It unshares a mount namespace (private, like unshare -m) and mounts a
 * new devpts on DIR/pts (made here if missing) with "newinstance,
 * ptmxmode=0620,mode=0600,gid=5". On it it makes pairs 0, 1 and 2 and
 * closes pair 1, so that index 1 is a hole; it holds:
 *	pair 0, both ends, the slave raw, "to-slave" waiting at the slave and
 *	   "to-master" at the master;
 *	pair 2, both ends, the slave opened by its path DIR/pts/2, no echo.
 * With "umount" it then detaches the devpts mount (the pairs live on,
 * mounted nowhere: a dump must refuse them). With "console" it binds
 * DIR/pts/0 on DIR/console (as runc makes a container's /dev/console)
 * and holds DIR/console open too: it must be slave 0 again.
 *
 * After SIGUSR1 it checks that the mount is a devpts with the same
 * options, that DIR/pts/ptmx has mode 0620, that the masters have indexes
 * 0 and 2 on that instance (the slaves' st_dev is the mount's), the queued
 * bytes, that both pairs carry bytes both ways, and that a new pair gets
 * index 1, the hole; PASS or FAIL goes to RESULTFILE. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "workload.h"

static char dir[PATH_MAX - 64];

static const char *at(const char *rel)
{
	static char paths[4][PATH_MAX];
	static int k;

	k = (k + 1) % 4;
	snprintf(paths[k], sizeof(paths[k]), "%s/%s", dir, rel);
	return paths[k];
}

/* Reads what fd has (waiting up to 2 s for the first byte) and compares. */
static void expect(struct wl_report *r, const char *what, int fd, const char *want)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[256];
	ssize_t got;
	size_t n = strlen(want);

	poll(&p, 1, 2000);
	got = read(fd, buf, sizeof(buf));
	if (got < 0 || (size_t)got != n || memcmp(buf, want, n))
		wl_fail(r, "%s: got %zd bytes '%.*s' (errno %d), want '%s'", what, got, got > 0 ? (int)got : 0, buf,
			got < 0 ? errno : 0, want);
}

/* A new pair on DIR/pts/ptmx, unlocked; its index in *idx. */
static int new_master(unsigned int *idx)
{
	int zero = 0, fd = open(at("pts/ptmx"), O_RDWR | O_NOCTTY);

	if (fd < 0 || ioctl(fd, TIOCSPTLCK, &zero) < 0 || ioctl(fd, TIOCGPTN, idx) < 0)
		return -1;
	return fd;
}

/* The mountinfo line of DIR/pts, or "" */
static void mount_line(char *out, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096], mp[PATH_MAX];

	*out = 0;
	snprintf(mp, sizeof(mp), " %s ", at("pts"));
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, mp))
			snprintf(out, size, "%s", line);
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	static char report[8192];
	struct wl_report r = { report, sizeof(report), 0 };
	struct termios t;
	struct stat pts, st;
	char line[4096];
	unsigned int i0, i1, i2, i3;
	int m0 = -1, m1 = -1, m2 = -1, s0, s2, m3;
	bool umount_it, console;
	int con = -1;

	if (argc < 4 || argc > 5)
		return fprintf(stderr, "usage: devpts READYFILE RESULTFILE DIR [umount]\n"), 2;
	umount_it = argc == 5 && !strcmp(argv[4], "umount");
	console = argc == 5 && !strcmp(argv[4], "console");
	snprintf(dir, sizeof(dir), "%s", argv[3]);
	wl_catch_usr1();
	mkdir(at("pts"), 0755);
	if (wl_must(unshare(CLONE_NEWNS) == 0, "unshare a mount namespace") ||
	    wl_must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "make / private") ||
	    wl_must(mount("devpts", at("pts"), "devpts", MS_NOSUID | MS_NOEXEC,
			  "newinstance,ptmxmode=0620,mode=0600,gid=5") == 0, "mount a new devpts"))
		return 1;
	if (wl_must((m0 = new_master(&i0)) >= 0 && (m1 = new_master(&i1)) >= 0 && (m2 = new_master(&i2)) >= 0,
		    "make three pairs") ||
	    wl_must(i0 == 0 && i1 == 1 && i2 == 2, "indexes 0, 1, 2 on a new devpts"))
		return 1;
	close(m1);
	s0 = ioctl(m0, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK);
	s2 = open(at("pts/2"), O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (wl_must(s0 >= 0 && s2 >= 0, "open the slaves") || wl_must(tcgetattr(s0, &t) == 0, "tcgetattr"))
		return 1;
	t.c_lflag &= ~ECHO;
	if (wl_must(tcsetattr(s2, TCSANOW, &t) == 0, "turn slave 2's echo off"))
		return 1;
	cfmakeraw(&t);
	if (wl_must(tcsetattr(s0, TCSANOW, &t) == 0, "make slave 0 raw") ||
	    wl_must(write(m0, "to-slave", 8) == 8 && write(s0, "to-master", 9) == 9, "queue bytes on pair 0"))
		return 1;
	wl_sleep_ms(50);
	if (console) {
		close(open(at("console"), O_CREAT | O_WRONLY, 0600));
		if (wl_must(mount(at("pts/0"), at("console"), NULL, MS_BIND, NULL) == 0, "bind pts/0 on console") ||
		    wl_must((con = open(at("console"), O_RDWR | O_NOCTTY)) >= 0, "open the console"))
			return 1;
	}
	if (umount_it && wl_must(umount2(at("pts"), MNT_DETACH) == 0, "detach the devpts"))
		return 1;
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	mount_line(line, sizeof(line));
	if (!strstr(line, " - devpts ") || !strstr(line, "mode=600") || !strstr(line, "ptmxmode=620") ||
	    !strstr(line, "gid=5"))
		wl_fail(&r, "the devpts mount of %s: '%s'", at("pts"), line);
	if (stat(at("pts"), &pts) < 0 || stat(at("pts/ptmx"), &st) < 0 || (st.st_mode & 07777) != 0620)
		wl_fail(&r, "%s: mode %#o, want 0620", at("pts/ptmx"), st.st_mode & 07777);
	if (ioctl(m0, TIOCGPTN, &i0) < 0 || i0 != 0 || ioctl(m2, TIOCGPTN, &i2) < 0 || i2 != 2)
		wl_fail(&r, "masters on indexes %u and %u, want 0 and 2", i0, i2);
	if (fstat(s0, &st) < 0 || st.st_dev != pts.st_dev || minor(st.st_rdev) != 0)
		wl_fail(&r, "slave 0 is %u:%u on %u:%u, want 136:0 on the devpts %u:%u", major(st.st_rdev),
			minor(st.st_rdev), major(st.st_dev), minor(st.st_dev), major(pts.st_dev), minor(pts.st_dev));
	if (fstat(s2, &st) < 0 || st.st_dev != pts.st_dev || minor(st.st_rdev) != 2)
		wl_fail(&r, "slave 2 is %u:%u, want 136:2 on the devpts", major(st.st_rdev), minor(st.st_rdev));
	if (console && (fstat(con, &st) < 0 || st.st_dev != pts.st_dev || st.st_rdev != makedev(136, 0)))
		wl_fail(&r, "the console fd is %u:%u, want slave 0 of the devpts", major(st.st_rdev), minor(st.st_rdev));
	if (console && (stat(at("console"), &st) < 0 || st.st_dev != pts.st_dev || st.st_rdev != makedev(136, 0)))
		wl_fail(&r, "%s is %u:%u, want a bind of slave 0", at("console"), major(st.st_rdev), minor(st.st_rdev));
	if (tcgetattr(s0, &t) < 0 || (t.c_lflag & ICANON))
		wl_fail(&r, "slave 0 is not raw any more");
	expect(&r, "pair 0: queued to the slave", s0, "to-slave");
	expect(&r, "pair 0: queued to the master", m0, "to-master");
	if (write(m2, "ping\n", 5) != 5 || write(s2, "pong\n", 5) != 5)
		wl_fail(&r, "pair 2: write: %s", strerror(errno));
	else {
		expect(&r, "pair 2: to the slave", s2, "ping\n");
		expect(&r, "pair 2: to the master", m2, "pong\r\n");
	}
	if ((m3 = new_master(&i3)) < 0 || i3 != 1)
		wl_fail(&r, "a new pair got index %u (errno %d), want the hole 1", i3, m3 < 0 ? errno : 0);
	wl_write_result(argv[2], &r);
	return 0;
}
