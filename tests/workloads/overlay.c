/* overlay: a self-checking workload whose files live on an overlayfs, for
 * amber's union file system support (tests/e2e/t071-overlay.sh).
 *
 *	overlay READYFILE RESULTFILE host MERGED
 *	overlay READYFILE RESULTFILE union BRANCH UNION
 *	overlay READYFILE RESULTFILE pivot|chroot MERGED OPTIONS
 *
 * host: MERGED is an overlay the test mounted in the host's namespace; the
 * workload works on MERGED/... (the test runs it from MERGED/bin, a copy of
 * it in a lower layer, so its executable is mapped from a lower layer).
 * pivot, chroot: in a mount namespace of its own (private) it mounts the
 * overlay at MERGED with OPTIONS (lowerdir=...,upperdir=...,workdir=...;
 * relative paths are from MERGED's parent directory),
 * binds /usr read-only (with bin, lib, lib64 symlinks there), its own build
 * directory and the directory of READYFILE at their paths inside, and
 * /dev/null, mounts a new proc on /proc, and
 * pivot_roots into it (the old root unmounted) or chroots into it, as
 * container runtimes do; it then works on /...
 * union: no overlay; the workload works on BRANCH/... (a plain directory
 * tree holding what the layers hold, run from BRANCH/bin) and after the
 * restore expects every path under UNION (a bind mount of BRANCH): amber
 * dump --union-root BRANCH=UNION, as for a union file system whose /proc
 * links name its branches.
 *
 * The test made the layers: the lowest holds lib/libovl.so, etc/conf,
 * etc/gone, old/f and opq/x; the next etc/motd and etc/old; the upper
 * data/upfile. The workload maps lib/libovl.so (PROT_EXEC, from the lowest
 * layer), holds etc/motd read-only (at offset 5), holds etc/conf read-only
 * and then writes it through a second descriptor (copy-up), holds
 * data/upfile (upper), opens old/f and renames old to new (redirect_dir),
 * removes etc/gone (a whiteout) and makes opq again (an opaque directory),
 * holds data/tmp (made in the upper) and etc/old (from a lower) unlinked
 * (made again, they are O_TMPFILEs in the same directory, "#INODE"),
 * and stands in data.
 *
 * It writes READY, waits for SIGUSR1 and checks every one of these: the
 * overlay's options (but for how its lower layers are listed), paths
 * of descriptors and of the mapping, inodes, contents, offsets, that the
 * unlinked files are still unlinked with their data, that the whiteout and
 * the opaque directory still hide what they hid, cwd; then it appends
 * "+after" through the etc/conf and data/upfile descriptors (the test looks
 * for it in the upper layer) and writes PASS or FAIL lines.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "workload.h"

enum { F_MOTD, F_CONF_RO, F_CONF_W, F_UP, F_RENAMED, F_GHOST_UP, F_GHOST_LOW, NR_F };

static const char *const names[NR_F] = { "/etc/motd", "/etc/conf", "/etc/conf", "/data/upfile", "/new/f",
					  "/data/tmp", "/etc/old" };

static char R[PATH_MAX];		/* the union's path: MERGED (host) or "" */

/* R + rel. */
static const char *at(const char *rel)
{
	static char buf[4][PATH_MAX * 2];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s%s", R, rel);
	return buf[k];
}

/* Binds host directory 'src' at the same path under root. */
static int bind_in(const char *root, const char *src, int ro)
{
	char dst[PATH_MAX * 2];

	snprintf(dst, sizeof(dst), "%s%s", root, src);
	if (wl_mkdirs(dst) || wl_must(mount(src, dst, NULL, MS_BIND, NULL) == 0, src))
		return -1;
	return ro ? wl_must(mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) == 0, "read-only") : 0;
}

/* The container modes: a namespace of its own with the overlay as root. */
static int enter(const char *mode, const char *merged, const char *opts, const char *readyfile)
{
	char self[PATH_MAX], rdir[PATH_MAX], tmp[PATH_MAX * 2];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *rf = strdup(readyfile);
	static const char *const links[][2] = { { "bin", "usr/bin" }, { "lib", "usr/lib" }, { "lib64", "usr/lib64" } };

	if (n <= 0 || !rf || wl_must(realpath(dirname(rf), rdir) != NULL, "realpath"))
		return -1;
	self[n] = 0;
	/* Layers may be given relative to MERGED's parent. */
	snprintf(tmp, sizeof(tmp), "%s", merged);
	if (wl_must(chdir(dirname(tmp)) == 0, "chdir to MERGED's parent"))
		return -1;
	if (wl_must(unshare(CLONE_NEWNS) == 0, "unshare") ||
	    wl_must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "private /") ||
	    wl_must(mount("overlay", merged, "overlay", 0, opts) == 0, "mount the overlay"))
		return -1;
	if (bind_in(merged, "/usr", 1) || bind_in(merged, dirname(self), 1) || bind_in(merged, rdir, 0))
		return -1;
	for (int i = 0; i < 3; i++) {
		snprintf(tmp, sizeof(tmp), "%s/%s", merged, links[i][0]);
		if (wl_must(symlink(links[i][1], tmp) == 0 || errno == EEXIST, links[i][0]))
			return -1;
	}
	/* Its stdin is /dev/null: a file bind mount, as runtimes give. */
	snprintf(tmp, sizeof(tmp), "%s/dev", merged);
	if (wl_mkdirs(tmp))
		return -1;
	snprintf(tmp, sizeof(tmp), "%s/dev/null", merged);
	if (wl_must(close(open(tmp, O_WRONLY | O_CREAT, 0644)) == 0, "dev/null") ||
	    wl_must(mount("/dev/null", tmp, NULL, MS_BIND, NULL) == 0, "bind /dev/null"))
		return -1;
	snprintf(tmp, sizeof(tmp), "%s/proc", merged);
	if (wl_mkdirs(tmp) || wl_must(mount("proc", tmp, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0, "proc"))
		return -1;
	if (!strcmp(mode, "chroot"))
		return wl_must(chdir(merged) == 0 && chroot(".") == 0 && chdir("/") == 0, "chroot");
	snprintf(tmp, sizeof(tmp), "%s/.oldroot", merged);
	if (wl_mkdirs(tmp) || wl_must(chdir(merged) == 0, "chdir") ||
	    wl_must(syscall(SYS_pivot_root, ".", ".oldroot") == 0, "pivot_root") ||
	    wl_must(umount2("/.oldroot", MNT_DETACH) == 0, "umount old root") ||
	    wl_must(rmdir("/.oldroot") == 0, "rmdir old root"))
		return -1;
	return wl_must(chdir("/") == 0, "chdir /");
}

/* Whether fd's whole contents from offset 0 equal want. */
static int holds(int fd, const char *want)
{
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n < 0)
		return 0;
	buf[n] = 0;
	return !strcmp(buf, want);
}

/* The one entry of directory path, or "" if it has none or several. */
static const char *only_entry(const char *path)
{
	static char name[256];
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	name[0] = 0;
	if (!d)
		return "(none: no directory)";
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && n++ == 0)
			snprintf(name, sizeof(name), "%s", de->d_name);
	closedir(d);
	return n == 1 ? name : "";
}

/* The super block options of the overlay at mountpoint mp other than its
 * lower layers (shown as one lowerdir=, or as lowerdir+= each, by how it
 * was mounted), e.g. "rw,upperdir=...,workdir=...,index=on,...". */
static void ovl_opts(const char *mp, char *out, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[8192], mpt[PATH_MAX], *o, *save = NULL;
	size_t n = 0;

	out[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, " - overlay ");

		if (!p || sscanf(line, "%*d %*d %*s %*s %4095s", mpt) != 1 || strcmp(mpt, mp))
			continue;
		p = strchr(p + 11, ' ');
		if (!p)
			continue;
		p[strcspn(p, "\n")] = 0;
		out[0] = 0;
		n = 0;
		for (o = strtok_r(p + 1, ",", &save); o; o = strtok_r(NULL, ",", &save))
			if (strncmp(o, "lowerdir", 8))
				n += snprintf(out + n, n < size ? size - n : 0, "%s,", o);
	}
	if (f)
		fclose(f);
}

/* The path /proc/self/maps gives for the mapping at addr. */
static void map_path(void *addr, char *out, size_t size)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[PATH_MAX + 128];
	unsigned long start;

	out[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');

		if (sscanf(line, "%lx-", &start) == 1 && start == (unsigned long)addr && p) {
			p[strcspn(p, "\n")] = 0;
			snprintf(out, size, "%s", p);
		}
	}
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	char report[8192] = "", link[PATH_MAX], buf[PATH_MAX], want[PATH_MAX * 2], lib[64], opts[2][1024];
	struct wl_report r = { report, sizeof(report), 0 };
	int fd[NR_F], lfd;
	ino_t ino[NR_F], lib_ino;
	struct stat st;
	char *map;

	if (argc < 5)
		return 2;
	wl_catch_usr1();
	if (!strcmp(argv[3], "host") || !strcmp(argv[3], "union"))
		snprintf(R, sizeof(R), "%s", argv[4]);
	else if (argc < 6 || enter(argv[3], argv[4], argv[5], argv[1]) < 0)
		return 1;

	if ((lfd = open(at("/lib/libovl.so"), O_RDONLY)) < 0 || fstat(lfd, &st) < 0 ||
	    (map = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, lfd, 0)) == MAP_FAILED ||
	    pread(lfd, lib, sizeof(lib), 0) != sizeof(lib))
		return wl_must(0, "map lib/libovl.so"), 1;
	lib_ino = st.st_ino;
	close(lfd);
	fd[F_MOTD] = open(at("/etc/motd"), O_RDONLY);
	fd[F_CONF_RO] = open(at("/etc/conf"), O_RDONLY);
	fd[F_CONF_W] = open(at("/etc/conf"), O_WRONLY | O_APPEND);
	fd[F_UP] = open(at("/data/upfile"), O_RDWR);
	fd[F_RENAMED] = open(at("/old/f"), O_RDONLY);
	fd[F_GHOST_UP] = open(at("/data/tmp"), O_RDWR | O_CREAT | O_EXCL, 0640);
	fd[F_GHOST_LOW] = open(at("/etc/old"), O_RDONLY);
	for (int i = 0; i < NR_F; i++)
		if (fd[i] < 0 || fstat(fd[i], &st) < 0)
			return wl_must(0, names[i]), 1;
		else
			ino[i] = st.st_ino;
	if (wl_must(read(fd[F_MOTD], buf, 5) == 5, "read motd") ||
	    wl_must(write(fd[F_CONF_W], "+written", 8) == 8, "copy up etc/conf") ||
	    wl_must(write(fd[F_GHOST_UP], "ghost-upper", 11) == 11, "write data/tmp") ||
	    wl_must(rename(at("/old"), at("/new")) == 0, "rename old to new (redirect_dir)") ||
	    wl_must(unlink(at("/etc/gone")) == 0, "whiteout etc/gone") ||
	    wl_must(unlink(at("/opq/x")) == 0 && rmdir(at("/opq")) == 0 && mkdir(at("/opq"), 0755) == 0, "opaque opq") ||
	    wl_must(wl_write_file(at("/opq/y"), "y") == 0, "opq/y") ||
	    wl_must(unlink(at("/data/tmp")) == 0 && unlink(at("/etc/old")) == 0, "unlink") ||
	    wl_must(chdir(at("/data")) == 0, "chdir data"))
		return 1;
	ovl_opts(*R ? R : "/", opts[0], sizeof(opts[0]));
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	if (!strcmp(argv[3], "union") && argc > 5)
		snprintf(R, sizeof(R), "%s", argv[5]);
	else if (ovl_opts(*R ? R : "/", opts[1], sizeof(opts[1])), strcmp(opts[0], opts[1]) || !opts[0][0])
		wl_fail(&r, "the overlay's options were '%s' and are '%s'", opts[0], opts[1]);
	if (!strcmp(argv[3], "host") || !strcmp(argv[3], "union")) {
		ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

		buf[n > 0 ? n : 0] = 0;
		if (strcmp(buf, at("/bin/overlay")))
			wl_fail(&r, "the executable is '%s', want '%s'", buf, at("/bin/overlay"));
	}
	map_path(map, buf, sizeof(buf));
	if (strcmp(buf, at("/lib/libovl.so")))
		wl_fail(&r, "the mapping of lib/libovl.so is of '%s'", buf);
	if (memcmp(map, lib, sizeof(lib)))
		wl_fail(&r, "the mapping of lib/libovl.so does not show its contents");
	if (stat(at("/lib/libovl.so"), &st) < 0 || st.st_ino != lib_ino)
		wl_fail(&r, "lib/libovl.so is another inode");
	for (int i = 0; i < NR_F; i++) {
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd[i]);
		n = readlink(link, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = 0;
		snprintf(want, sizeof(want), "%s", at(names[i]));
		/* An unlinked file made again is an O_TMPFILE in the same
		 * directory: its name is "#INODE". */
		if (i >= F_GHOST_UP) {
			size_t n = strrchr(want, '/') + 1 - want, b = strlen(buf);

			if (strncmp(buf, want, n) || b < n + 10 || strcmp(buf + b - 10, " (deleted)"))
				wl_fail(&r, "fd %d is '%s', want '%s... (deleted)'", fd[i], buf, want);
		} else if (strcmp(buf, want))
			wl_fail(&r, "fd %d is '%s', want '%s'", fd[i], buf, want);
		if (fstat(fd[i], &st) < 0)
			wl_fail(&r, "fstat fd %d: %s", fd[i], strerror(errno));
		else if (i < F_GHOST_UP && st.st_ino != ino[i])
			wl_fail(&r, "%s: inode %llu, was %llu", names[i], (unsigned long long)st.st_ino,
				(unsigned long long)ino[i]);
		/* The lower file unlinked through the union still has its
		 * link in the lower layer, which fstat shows (nlink 1); made
		 * again, it is a file of its own (nlink 0). */
		else if (i == F_GHOST_UP && st.st_nlink)
			wl_fail(&r, "%s is linked again (%lu links)", names[i], (unsigned long)st.st_nlink);
	}
	if (!holds(fd[F_MOTD], "motd-lower2") || lseek(fd[F_MOTD], 0, SEEK_CUR) != 5)
		wl_fail(&r, "etc/motd: contents or offset changed");
	if (!holds(fd[F_CONF_RO], "conf-lower1+written"))
		wl_fail(&r, "etc/conf read-only: does not show the copied-up contents");
	if (!holds(fd[F_UP], "upper"))
		wl_fail(&r, "data/upfile: contents changed");
	if (!holds(fd[F_RENAMED], "in-old") || access(at("/old"), F_OK) == 0)
		wl_fail(&r, "new/f: contents changed, or old is back");
	if (!holds(fd[F_GHOST_UP], "ghost-upper") || !holds(fd[F_GHOST_LOW], "old-lower2"))
		wl_fail(&r, "the unlinked files lost their contents");
	if (access(at("/etc/gone"), F_OK) == 0 || access(at("/etc/old"), F_OK) == 0 || access(at("/data/tmp"), F_OK) == 0)
		wl_fail(&r, "a removed file shows through");
	if (strcmp(only_entry(at("/opq")), "y"))
		wl_fail(&r, "opq is not opaque: it holds more than 'y'");
	if (!getcwd(buf, sizeof(buf)) || strcmp(buf, *R ? at("/data") : "/data"))
		wl_fail(&r, "cwd is '%s'", buf);
	if (write(fd[F_CONF_W], "+after", 6) != 6 || lseek(fd[F_UP], 0, SEEK_END) < 0 || write(fd[F_UP], "+after", 6) != 6)
		wl_fail(&r, "write after restore: %s", strerror(errno));
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
