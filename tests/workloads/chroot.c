/* chroot: a self-checking workload that chroot(2)s inside a mount
 * namespace of its own, for amber's restore of a task's root.
 *
 *	chroot READYFILE RESULTFILE DIR [overmount|tmpfile]
 *
 * In a mount namespace of its own (private) it makes DIR/jail (on the
 * host's file system, so inodes stay the same across a restore) with
 * work/, a file data and a tmpfs on mnt/ holding inner; outside the jail
 * a tmpfs on DIR/outside holding marker (the namespace has a mount the
 * chrooted view does not show); the directory of READYFILE bound at its
 * own path inside the jail, so the test and the workload still meet. It
 * opens DIR/jail/data at offset 2, chdirs into the jail, chroots into ".",
 * and stands in /work. With "overmount" a tmpfs is mounted on DIR itself
 * just before the chroot: the root, cwd and open file are all under it.
 * With "tmpfile" it also holds an O_TMPFILE file made on the jail's tmpfs
 * mnt/ (a dump links it back as a link remap there, reached from the
 * namespace's root; a --leave-running dump removes it again, which the
 * check sees: nothing named .amber* in /mnt).
 *
 * It writes READY, waits for SIGUSR1 and checks: "/" and "." are the
 * same directories as before (st_dev, st_ino), "/.." is "/" (the chroot
 * holds), getcwd is /work, /mnt/inner holds what it did, the descriptor
 * of data reads on from offset 2 and is /data; then writes PASS or FAIL
 * lines. The test checks DIR/outside/marker from the namespace's root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

/* Builds the namespace and the jail; returns the fd of jail/data. */
static int setup(const char *dir, const char *readyfile, int over, int *tmpf)
{
	char jail[PATH_MAX], p[PATH_MAX * 2], rdir[PATH_MAX], *rf = strdup(readyfile);
	int fd;

	if (!rf || wl_must(realpath(dirname(rf), rdir) != NULL, "realpath"))
		return -1;
	free(rf);
	snprintf(jail, sizeof(jail), "%s/jail", dir);
	if (wl_must(unshare(CLONE_NEWNS) == 0, "unshare") ||
	    wl_must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "private /"))
		return -1;
	snprintf(p, sizeof(p), "%s/work", jail);
	if (wl_must(wl_mkdirs(p) == 0, "mkdir jail/work"))
		return -1;
	snprintf(p, sizeof(p), "%s/data", jail);
	if (wl_must(wl_write_file(p, "jail data") == 0, "jail/data"))
		return -1;
	snprintf(p, sizeof(p), "%s/mnt", jail);
	if (wl_must(wl_mkdirs(p) == 0, "mkdir jail/mnt") || wl_must(mount("chr-in", p, "tmpfs", 0, "size=1m") == 0, "tmpfs in"))
		return -1;
	snprintf(p, sizeof(p), "%s/mnt/inner", jail);
	if (wl_must(wl_write_file(p, "inner") == 0, "mnt/inner"))
		return -1;
	snprintf(p, sizeof(p), "%s/outside", dir);
	if (wl_must(wl_mkdirs(p) == 0, "mkdir outside") || wl_must(mount("chr-out", p, "tmpfs", 0, "size=1m") == 0, "tmpfs out"))
		return -1;
	snprintf(p, sizeof(p), "%s/outside/marker", dir);
	if (wl_must(wl_write_file(p, "outside") == 0, "outside/marker"))
		return -1;
	snprintf(p, sizeof(p), "%s%s", jail, rdir);
	if (wl_must(wl_mkdirs(p) == 0, "mkdir the result directory in the jail") ||
	    wl_must(mount(rdir, p, NULL, MS_BIND, NULL) == 0, "bind the result directory"))
		return -1;
	snprintf(p, sizeof(p), "%s/data", jail);
	if ((fd = open(p, O_RDONLY)) < 0 || lseek(fd, 2, SEEK_SET) != 2)
		return -1;
	snprintf(p, sizeof(p), "%s/mnt", jail);
	if (tmpf && ((*tmpf = open(p, O_TMPFILE | O_RDWR, 0600)) < 0 || write(*tmpf, "tmp", 3) != 3))
		return -1;
	if (wl_must(chdir(jail) == 0, "chdir jail") ||
	    (over && wl_must(mount("chr-over", dir, "tmpfs", 0, "size=1m") == 0, "tmpfs over DIR")) ||
	    wl_must(chroot(".") == 0, "chroot") || wl_must(chdir("/work") == 0, "chdir /work"))
		return -1;
	return fd;
}

static void check_same(struct wl_report *r, const char *path, const struct stat *before)
{
	struct stat st;

	if (stat(path, &st) < 0)
		wl_fail(r, "stat '%s': %s", path, strerror(errno));
	else if (st.st_dev != before->st_dev || st.st_ino != before->st_ino)
		wl_fail(r, "'%s' is %lu:%lu, was %lu:%lu", path, (unsigned long)st.st_dev, (unsigned long)st.st_ino,
			(unsigned long)before->st_dev, (unsigned long)before->st_ino);
}

int main(int argc, char **argv)
{
	char report[4096] = "", buf[64], cwd[PATH_MAX];
	struct wl_report r = { report, sizeof(report), 0 };
	struct stat root, dot, st;
	ssize_t n;
	int fd, tmpf = -1;
	DIR *d;

	if (argc < 4)
		return 2;
	wl_catch_usr1();
	if ((fd = setup(argv[3], argv[1], argc > 4 && !strcmp(argv[4], "overmount"),
			argc > 4 && !strcmp(argv[4], "tmpfile") ? &tmpf : NULL)) < 0)
		return 1;
	if (stat("/", &root) < 0 || stat(".", &dot) < 0)
		return 1;
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	check_same(&r, "/", &root);
	check_same(&r, ".", &dot);
	check_same(&r, "/..", &root);
	check_same(&r, "/work/../..", &root);
	if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, "/work"))
		wl_fail(&r, "cwd is '%s', want '/work'", getcwd(cwd, sizeof(cwd)) ? cwd : strerror(errno));
	n = wl_read_file("/mnt/inner", buf, sizeof(buf));
	if (n != 5 || memcmp(buf, "inner", 5))
		wl_fail(&r, "/mnt/inner (a tmpfs in the jail) does not hold 'inner'");
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	if (strcmp(buf, "il data"))
		wl_fail(&r, "the descriptor of /data reads '%s' at offset 2, want 'il data'", buf);
	if (fstat(fd, &st) < 0 || stat("/data", &dot) < 0 || st.st_ino != dot.st_ino || st.st_dev != dot.st_dev)
		wl_fail(&r, "the descriptor of /data is not the file /data");
	if (tmpf >= 0 && (pread(tmpf, buf, 3, 0) != 3 || memcmp(buf, "tmp", 3)))
		wl_fail(&r, "the O_TMPFILE file does not hold 'tmp'");
	if (tmpf >= 0 && (d = opendir("/mnt"))) {
		struct dirent *de;

		while ((de = readdir(d)))
			if (!strncmp(de->d_name, ".amber", 6))
				wl_fail(&r, "/mnt/%s (a link remap) is left on the jail's tmpfs", de->d_name);
		closedir(d);
	}
	if (access("/outside", F_OK) == 0)
		wl_fail(&r, "/outside shows inside the jail");
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
