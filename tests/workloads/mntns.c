/* mntns: a self-checking workload in a mount namespace of its own, for
 * amber's mount namespaces (dump-mounts, build-mntns).
 *
 *	mntns READYFILE RESULTFILE DIR [overmount|remap]
 *
 * It unshares a mount namespace (private, like unshare -m), and under DIR
 * (made on the host, empty) mounts a tmpfs holding:
 *	files/	a file with data, mode 0640, owner 1000:1000 and a user xattr,
 *		a hard link to it, a symlink, a FIFO, a device node (1:3), a
 *		3 MiB file (several image records), a subdirectory sub/
 *	bind	a bind mount of files/sub
 *	shared, slave	a tmpfs made shared, bound on slave, made its slave,
 *		then a tmpfs on shared/pre (its copy propagates to slave/pre);
 *		sslave, a shared slave of shared, and speer, a peer of it
 *	private, unbind	a private tmpfs and an unbindable one
 *	stack	a tmpfs with "lower", and another on top with "upper"
 * holds files/data open at offset 3 and stands in files/. With
 * "overmount" it also opens over/dir/held and then mounts a tmpfs on
 * over/dir (the file stays reachable only through its descriptor). With
 * "remap" it holds an O_TMPFILE file made in files/ (a dump links it back
 * as a link remap on the tmpfs, which the restore must remove again).
 * With "cwdover" its cwd is over/cwd/sub and it holds over/dird open as a
 * directory, and then tmpfs are mounted on over/cwd (a parent of the cwd)
 * and on over/dird itself: after the restore the cwd must be the covered
 * directory (its file 'here' read through '.', getcwd the same path, on
 * the top tmpfs, not reachable by path) and the directory fd the covered
 * directory (its file 'inside' read through it).
 *
 * It writes READY, waits for SIGUSR1 and checks: the mounts under DIR as
 * mountinfo shows them (mountpoint, type, source, root, options,
 * propagation: shared / slave of that group / unbindable) are as before,
 * the files are (contents, modes, owners, xattr, link, symlink, FIFO,
 * device), a tmpfs mounted on shared after the restore appears on slave
 * (and one on slave does not appear on shared), upper is seen and lower
 * hidden, binding the unbindable mount fails, the open file reads on from
 * offset 3, the cwd is files/ (over/cwd/sub with "cwdover"); then writes
 * PASS or FAIL lines.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "workload.h"

#define BIG (3u << 20)

static char dir[PATH_MAX - 64];

static const char *at(const char *rel)
{
	static char paths[8][PATH_MAX + 64];
	static int k;

	k = (k + 1) % 8;
	snprintf(paths[k], sizeof(paths[k]), "%s/%s", dir, rel);
	return paths[k];
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The mounts under dir, one line each, sorted (a restore makes them in
 * its own order), with peer groups made relative: "shared" and "slave of
 * the group of <mountpoint>". */
static void mount_shape(char *out, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096], mp[64][512] = { { 0 } };
	int groups[64] = { 0 }, n = 0, nl = 0;
	size_t len = 0, dl = strlen(dir);
	char *lines[64];

	out[0] = 0;
	if (!f)
		return;
	/* First the groups of the shared mounts, by mountpoint. */
	while (fgets(line, sizeof(line), f) && n < 64) {
		char m[512];
		char *sh = strstr(line, " shared:");

		if (sscanf(line, "%*d %*d %*s %*s %511s", m) == 1 && sh && !strncmp(m, dir, dl)) {
			snprintf(mp[n], sizeof(mp[n]), "%s", m + dl);
			groups[n++] = atoi(sh + 8);
		}
	}
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		char root[512], m[512], opts[512], type[64], src[256], *p, *ma, prop[600] = "";

		if (sscanf(line, "%*d %*d %*s %511s %511s %511s", root, m, opts) != 3 || strncmp(m, dir, dl))
			continue;
		p = strstr(line, " - ");
		if (!p || sscanf(p, " - %63s %255s", type, src) != 2)
			continue;
		if (strstr(line, " shared:"))
			strcat(prop, " shared");
		if ((ma = strstr(line, " master:"))) {
			int g = atoi(ma + 8), k;

			for (k = 0; k < n && groups[k] != g; k++)
				;
			snprintf(prop + strlen(prop), sizeof(prop) - strlen(prop), " slave-of:%s", k < n ? mp[k] : "?");
		}
		if (strstr(line, " unbindable"))
			strcat(prop, " unbindable");
		if (nl < 64)
			asprintf(&lines[nl++], "%s %s %s %s %s%s\n", m + dl, type, src, root, opts, prop);
	}
	fclose(f);
	qsort(lines, nl, sizeof(lines[0]), line_cmp);
	for (int i = 0; i < nl; i++) {
		len += snprintf(out + len, len < size ? size - len : 0, "%s", lines[i]);
		free(lines[i]);
	}
}

static int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	int ok = fd >= 0 && write(fd, data, len) == (ssize_t)len;

	if (fd >= 0)
		close(fd);
	return wl_must(ok, path);
}

static int tmpfs(const char *rel, const char *src, const char *opts)
{
	return wl_must(mount(src, at(rel), "tmpfs", 0, opts) == 0, rel);
}

static int setup(char *big, int over)
{
	if (wl_must(unshare(CLONE_NEWNS) == 0, "unshare") || wl_must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "private /"))
		return -1;
	if (tmpfs("", "amber-top", "size=16m,mode=755") || mkdir(at("files"), 0755) || mkdir(at("files/sub"), 0700) ||
	    write_file(at("files/data"), "hello tmpfs", 11, 0640) || write_file(at("files/sub/inner"), "in", 2, 0600) ||
	    write_file(at("files/big"), big, BIG, 0644))
		return -1;
	if (wl_must(chown(at("files/data"), 1000, 1000) == 0 && chmod(at("files/data"), 0640) == 0, "chown data") ||
	    wl_must(setxattr(at("files/data"), "user.amber", "42", 2, 0) == 0, "setxattr") ||
	    wl_must(link(at("files/data"), at("files/data2")) == 0, "link") ||
	    wl_must(symlink("data", at("files/link")) == 0, "symlink") ||
	    wl_must(mkfifo(at("files/fifo"), 0620) == 0 && chmod(at("files/fifo"), 0620) == 0, "mkfifo") ||
	    wl_must(mknod(at("files/null"), S_IFCHR | 0666, makedev(1, 3)) == 0, "mknod"))
		return -1;
	if (mkdir(at("bind"), 0755) || wl_must(mount(at("files/sub"), at("bind"), NULL, MS_BIND, NULL) == 0, "bind"))
		return -1;
	if (mkdir(at("shared"), 0755) || mkdir(at("slave"), 0755) || tmpfs("shared", "amber-shared", "size=1m") ||
	    mkdir(at("shared/new"), 0755) || mkdir(at("shared/fromslave"), 0755) ||
	    wl_must(mount(NULL, at("shared"), NULL, MS_SHARED, NULL) == 0, "make shared") ||
	    wl_must(mount(at("shared"), at("slave"), NULL, MS_BIND, NULL) == 0, "bind slave") ||
	    wl_must(mount(NULL, at("slave"), NULL, MS_SLAVE, NULL) == 0, "make slave"))
		return -1;
	/* A shared slave (shared:N master:M) and a peer of it. */
	if (mkdir(at("sslave"), 0755) || mkdir(at("speer"), 0755) ||
	    wl_must(mount(at("shared"), at("sslave"), NULL, MS_BIND, NULL) == 0, "bind sslave") ||
	    wl_must(mount(NULL, at("sslave"), NULL, MS_SLAVE, NULL) == 0, "make sslave a slave") ||
	    wl_must(mount(NULL, at("sslave"), NULL, MS_SHARED, NULL) == 0, "make sslave shared") ||
	    wl_must(mount(at("sslave"), at("speer"), NULL, MS_BIND, NULL) == 0, "bind speer"))
		return -1;
	/* A mount whose parent is shared: its copy propagated to the slave
	 * is a mount of its own, restored as one, not propagated twice. */
	if (mkdir(at("shared/pre"), 0755) || tmpfs("shared/pre", "amber-pre", "size=1m") ||
	    write_file(at("shared/pre/p"), "p", 1, 0644) || access(at("slave/pre/p"), F_OK))
		return -1;
	if (mkdir(at("private"), 0755) || mkdir(at("unbind"), 0755) || tmpfs("private", "amber-private", "size=1m,mode=700") ||
	    tmpfs("unbind", "amber-unbind", "size=1m") ||
	    wl_must(mount(NULL, at("unbind"), NULL, MS_UNBINDABLE, NULL) == 0, "make unbindable"))
		return -1;
	if (mkdir(at("stack"), 0755) || tmpfs("stack", "amber-lower", "size=1m") ||
	    write_file(at("stack/lower"), "l", 1, 0644) || tmpfs("stack", "amber-upper", "size=1m,nr_inodes=100") ||
	    write_file(at("stack/upper"), "u", 1, 0644))
		return -1;
	if (over && (mkdir(at("over"), 0755) || mkdir(at("over/dir"), 0755) ||
		     write_file(at("over/dir/held"), "held data", 9, 0644)))
		return -1;
	if (over == 2 && (mkdir(at("over/cwd"), 0755) || mkdir(at("over/cwd/sub"), 0700) ||
			  write_file(at("over/cwd/sub/here"), "here data", 9, 0644) || mkdir(at("over/dird"), 0755) ||
			  write_file(at("over/dird/inside"), "inside data", 11, 0644)))
		return -1;
	return 0;
}

static void check_bytes(struct wl_report *r, int fd, const char *what, const char *want);

/* The directory fd (or AT_FDCWD) is the covered one: on the top tmpfs, its
 * file 'name' reads 'want', and 'path' leads elsewhere now. */
static void check_covered_dir(struct wl_report *r, int dfd, const char *what, const char *name, const char *want,
			      const char *path)
{
	struct statx a, top, by_path;
	int fd = openat(dfd, name, O_RDONLY);

	if (fd < 0)
		wl_fail(r, "%s: open its file '%s': %s", what, name, strerror(errno));
	else {
		check_bytes(r, fd, what, want);
		close(fd);
	}
	if (statx(dfd, ".", 0, STATX_INO | STATX_MNT_ID, &a) < 0 || statx(AT_FDCWD, dir, 0, STATX_MNT_ID, &top) < 0)
		wl_fail(r, "statx %s: %s", what, strerror(errno));
	else if (a.stx_mnt_id != top.stx_mnt_id)
		wl_fail(r, "%s is on mount %llu, not on the tmpfs at %s (%llu)", what, (unsigned long long)a.stx_mnt_id,
			dir, (unsigned long long)top.stx_mnt_id);
	else if (statx(AT_FDCWD, path, 0, STATX_INO | STATX_MNT_ID, &by_path) == 0 && by_path.stx_ino == a.stx_ino &&
		 by_path.stx_mnt_id == a.stx_mnt_id)
		wl_fail(r, "%s is what its path '%s' leads to: the overmount is gone", what, path);
}

static void check_bytes(struct wl_report *r, int fd, const char *what, const char *want)
{
	char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = 0;
	if (strcmp(buf, want))
		wl_fail(r, "%s reads '%s', want '%s'", what, buf, want);
}

/* fd is the file at path (when it can be seen), still linked, on the mount
 * of dir's top tmpfs: the real file, not a copy made at restore. */
static void same_file(struct wl_report *r, int fd, const char *what, const char *path)
{
	struct statx a, b, top;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_NLINK | STATX_MNT_ID, &a) < 0 ||
	    statx(AT_FDCWD, dir, 0, STATX_MNT_ID, &top) < 0) {
		wl_fail(r, "statx %s: %s", what, strerror(errno));
		return;
	}
	if (a.stx_nlink < 1)
		wl_fail(r, "the descriptor of %s is an unlinked copy (nlink 0)", what);
	if (a.stx_mnt_id != top.stx_mnt_id)
		wl_fail(r, "the descriptor of %s is on mount %llu, not on the tmpfs at %s (%llu)", what,
			(unsigned long long)a.stx_mnt_id, dir, (unsigned long long)top.stx_mnt_id);
	if (path && (statx(AT_FDCWD, path, 0, STATX_INO, &b) < 0 || b.stx_ino != a.stx_ino))
		wl_fail(r, "the descriptor of %s is not the file at that path", what);
}

static void check_files(struct wl_report *r, const char *big)
{
	struct stat st, st2;
	char buf[64], *b2 = malloc(BIG);
	ssize_t n;
	int fd;

	if (stat(at("files/data"), &st) < 0 || (st.st_mode & 07777) != 0640 || st.st_uid != 1000 || st.st_gid != 1000)
		wl_fail(r, "files/data: mode %o owner %u:%u, want 640 1000:1000", st.st_mode & 07777, st.st_uid, st.st_gid);
	if (stat(at("files/data2"), &st2) < 0 || st2.st_ino != st.st_ino)
		wl_fail(r, "files/data2 is not a hard link of files/data");
	if ((fd = open(at("files/data"), O_RDONLY)) < 0)
		wl_fail(r, "open files/data: %s", strerror(errno));
	else {
		check_bytes(r, fd, "files/data", "hello tmpfs");
		close(fd);
	}
	n = getxattr(at("files/data"), "user.amber", buf, sizeof(buf));
	if (n != 2 || memcmp(buf, "42", 2))
		wl_fail(r, "files/data's xattr user.amber is lost (%zd: %s)", n, strerror(errno));
	n = readlink(at("files/link"), buf, sizeof(buf));
	if (n != 4 || memcmp(buf, "data", 4))
		wl_fail(r, "files/link does not point to data");
	if (lstat(at("files/fifo"), &st) < 0 || !S_ISFIFO(st.st_mode) || (st.st_mode & 0777) != 0620)
		wl_fail(r, "files/fifo is not a FIFO with mode 620");
	if (lstat(at("files/null"), &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
		wl_fail(r, "files/null is not the device 1:3");
	if ((fd = open(at("files/big"), O_RDONLY)) < 0 || !b2 || read(fd, b2, BIG) != BIG || memcmp(big, b2, BIG))
		wl_fail(r, "files/big does not hold its 3 MiB");
	if (fd >= 0)
		close(fd);
	free(b2);
	if (access(at("bind/inner"), F_OK) < 0)
		wl_fail(r, "bind/inner (a bind of files/sub) is missing");
	if (access(at("stack/upper"), F_OK) < 0 || access(at("stack/lower"), F_OK) == 0)
		wl_fail(r, "stack shows %s", access(at("stack/lower"), F_OK) == 0 ? "the lower tmpfs" : "no upper tmpfs");
}

/* A mount on shared must appear on slave, and not the other way round. */
static void check_propagation(struct wl_report *r)
{
	struct stat a, b;

	if (mount("amber-new", at("shared/new"), "tmpfs", 0, "size=1m") < 0)
		wl_fail(r, "mount on shared/new: %s", strerror(errno));
	if (write_file(at("shared/new/x"), "x", 1, 0644) < 0 || stat(at("slave/new/x"), &b) < 0)
		wl_fail(r, "a tmpfs mounted on shared/new does not appear on slave/new");
	if (stat(at("sslave/new/x"), &b) < 0 || stat(at("speer/new/x"), &b) < 0)
		wl_fail(r, "a tmpfs mounted on shared/new does not reach the shared slave and its peer");
	if (mount("amber-speer", at("sslave/fromslave"), "tmpfs", 0, "size=1m") < 0 || write_file(at("sslave/fromslave/y"), "y", 1, 0644) < 0 ||
	    stat(at("speer/fromslave/y"), &b) < 0)
		wl_fail(r, "a tmpfs mounted on the shared slave does not appear on its peer");
	if (mount("amber-fromslave", at("slave/fromslave"), "tmpfs", 0, "size=1m") < 0)
		wl_fail(r, "mount on slave/fromslave: %s", strerror(errno));
	if (stat(at("shared/fromslave"), &a) < 0 || stat(at("shared"), &b) < 0 || a.st_dev != b.st_dev)
		wl_fail(r, "a mount on the slave went back to the shared mount");
	if (mount(at("unbind"), at("files/sub"), NULL, MS_BIND, NULL) == 0 || errno != EINVAL)
		wl_fail(r, "binding the unbindable mount did not fail with EINVAL (%s)", strerror(errno));
}

int main(int argc, char **argv)
{
	char report[8192] = "", before[8192], after[8192], cwd[PATH_MAX], want_cwd[PATH_MAX + 64];
	struct wl_report r = { report, sizeof(report), 0 };
	int cwdover = argc > 4 && !strcmp(argv[4], "cwdover");
	int over = cwdover ? 2 : argc > 4 && !strcmp(argv[4], "overmount");
	int remap = argc > 4 && !strcmp(argv[4], "remap"), tmpf = -1;
	char *big = malloc(BIG);
	int fd, held = -1, dirfd = -1;

	if (argc < 4 || !big || !realpath(argv[3], want_cwd) || strlen(want_cwd) >= sizeof(dir))
		return 2;
	memcpy(dir, want_cwd, strlen(want_cwd) + 1);
	for (unsigned i = 0; i < BIG; i++)
		big[i] = (char)(i * 7 + i / 4096);
	wl_catch_usr1();
	if (setup(big, over) < 0)
		return 1;
	if ((fd = open(at("files/data"), O_RDONLY)) < 0 || lseek(fd, 3, SEEK_SET) != 3 || chdir(at("files")) < 0)
		return 1;
	if (cwdover && ((dirfd = open(at("over/dird"), O_RDONLY | O_DIRECTORY)) < 0 || chdir(at("over/cwd/sub")) < 0 ||
			tmpfs("over/cwd", "amber-overcwd", "size=1m") || tmpfs("over/dird", "amber-overdir", "size=1m")))
		return 1;
	if (over) {
		held = open(at("over/dir/held"), O_RDWR);
		if (held < 0 || lseek(held, 5, SEEK_SET) != 5 || tmpfs("over/dir", "amber-over", "size=1m"))
			return 1;
	}
	if (remap && ((tmpf = open(at("files"), O_TMPFILE | O_RDWR, 0600)) < 0 || write(tmpf, "tmpfile data", 12) != 12 ||
		      lseek(tmpf, 0, SEEK_SET) != 0))
		return 1;
	mount_shape(before, sizeof(before));
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	mount_shape(after, sizeof(after));
	if (strcmp(before, after))
		wl_fail(&r, "the mounts changed:\n--- before\n%s--- after\n%s", before, after);
	check_files(&r, big);
	check_bytes(&r, fd, "the descriptor of files/data at offset 3", "lo tmpfs");
	same_file(&r, fd, "files/data", at("files/data"));
	snprintf(want_cwd, sizeof(want_cwd), "%s", at(cwdover ? "over/cwd/sub" : "files"));
	if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, want_cwd))
		wl_fail(&r, "cwd is '%s', want '%s'", cwd, want_cwd);
	if (over) {
		check_bytes(&r, held, "the descriptor of over/dir/held (under a tmpfs) at offset 5", "data");
		same_file(&r, held, "over/dir/held", NULL);
		if (access(at("over/dir/held"), F_OK) == 0)
			wl_fail(&r, "over/dir/held shows through the tmpfs mounted over it");
	}
	if (cwdover) {
		check_covered_dir(&r, AT_FDCWD, "the cwd over/cwd/sub (under a tmpfs on over/cwd)", "here", "here data",
				  at("over/cwd/sub"));
		check_covered_dir(&r, dirfd, "the directory fd of over/dird (under a tmpfs on it)", "inside", "inside data",
				  at("over/dird"));
	}
	if (remap) {
		DIR *d = opendir(at("files"));
		struct dirent *de;

		check_bytes(&r, tmpf, "the O_TMPFILE file", "tmpfile data");
		while (d && (de = readdir(d)))
			if (!strncmp(de->d_name, ".amber", 6))
				wl_fail(&r, "files/%s (a link remap) is left in the tmpfs", de->d_name);
		if (d)
			closedir(d);
	}
	check_propagation(&r);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
