/* container: a self-checking workload that pivots into a small root made
 * from a directory tree, like a container, for amber's mount namespaces.
 *
 *	container READYFILE RESULTFILE DIR
 *
 * In a mount namespace of its own (private) it makes DIR/root (on the
 * host's file system) the root: /usr bound read-only from the host (with
 * bin, lib, lib64 symlinks into it, so its own libraries are where they
 * were), its own build directory bound at the same path, /dev/null bound
 * from the host's (a file bind mount), a new proc on
 * /proc, a tmpfs on /run holding a file, and the directory of READYFILE
 * bound at its path (so the test and the workload still meet there).
 * pivot_root, then the old root is unmounted and the process stands in
 * /run, with /run/mapped (only the container has it) mapped.
 *
 * It writes READY, waits for SIGUSR1 and checks: the mounts (every one of
 * the namespace, sorted: mountpoint, type, root within it, options) are as
 * before, / is the same directory, /run/hello holds what it did, /proc is
 * a proc that shows this process, the old root is not there, cwd is /run;
 * then writes PASS or FAIL lines.
 */
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

/* Binds host directory 'src' at the same path under root. */
static int bind_in(const char *root, const char *src, unsigned long ro)
{
	char dst[PATH_MAX * 2];

	snprintf(dst, sizeof(dst), "%s%s", root, src);
	if (wl_mkdirs(dst) || wl_must(mount(src, dst, NULL, MS_BIND, NULL) == 0, src))
		return -1;
	return ro ? wl_must(mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) == 0, "read-only") : 0;
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every mount of the namespace: mountpoint, type, root, options; sorted. */
static void mount_shape(char *out, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096], *lines[128];
	size_t len = 0;
	int n = 0;

	out[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && n < 128) {
		char root[1024], mp[1024], opts[256], type[64], *p = strstr(line, " - ");

		if (!p || sscanf(line, "%*d %*d %*s %1023s %1023s %255s", root, mp, opts) != 3 || sscanf(p, " - %63s", type) != 1)
			continue;
		if (asprintf(&lines[n], "%s %s %s %s\n", mp, type, root, opts) > 0)
			n++;
	}
	fclose(f);
	qsort(lines, n, sizeof(lines[0]), line_cmp);
	for (int i = 0; i < n; i++) {
		len += snprintf(out + len, len < size ? size - len : 0, "%s", lines[i]);
		free(lines[i]);
	}
}

static int setup(const char *dir, const char *readyfile)
{
	char root[PATH_MAX], self[PATH_MAX], rdir[PATH_MAX], tmp[PATH_MAX * 2], old[PATH_MAX * 2];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *rf = strdup(readyfile);

	if (n <= 0 || !rf || wl_must(realpath(dirname(rf), rdir) != NULL, "realpath"))
		return -1;
	free(rf);
	self[n] = 0;
	snprintf(root, sizeof(root), "%s/root", dir);
	if (wl_must(unshare(CLONE_NEWNS) == 0, "unshare") || wl_must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "private /"))
		return -1;
	/* pivot_root wants the new root to be a mount. */
	if (wl_mkdirs(root) || wl_must(mount(root, root, NULL, MS_BIND, NULL) == 0, "bind root"))
		return -1;
	if (bind_in(root, "/usr", 1) || bind_in(root, dirname(self), 1) || bind_in(root, rdir, 0))
		return -1;
	snprintf(tmp, sizeof(tmp), "%s/bin", root);
	if (wl_must(symlink("usr/bin", tmp) == 0 || errno == EEXIST, "bin"))
		return -1;
	snprintf(tmp, sizeof(tmp), "%s/lib", root);
	if (wl_must(symlink("usr/lib", tmp) == 0 || errno == EEXIST, "lib"))
		return -1;
	snprintf(tmp, sizeof(tmp), "%s/lib64", root);
	if (wl_must(symlink("usr/lib64", tmp) == 0 || errno == EEXIST, "lib64"))
		return -1;
	/* Its stdin and stdout are /dev/null: a file bind mount, as
	 * container runtimes give. */
	snprintf(tmp, sizeof(tmp), "%s/dev", root);
	if (wl_mkdirs(tmp))
		return -1;
	snprintf(tmp, sizeof(tmp), "%s/dev/null", root);
	if (wl_must(close(open(tmp, O_WRONLY | O_CREAT, 0644)) == 0, "dev/null") ||
	    wl_must(mount("/dev/null", tmp, NULL, MS_BIND, NULL) == 0, "bind /dev/null"))
		return -1;
	snprintf(tmp, sizeof(tmp), "%s/proc", root);
	if (wl_mkdirs(tmp) || wl_must(mount("proc", tmp, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0, "proc"))
		return -1;
	snprintf(tmp, sizeof(tmp), "%s/run", root);
	if (wl_mkdirs(tmp) || wl_must(mount("ctr-tmp", tmp, "tmpfs", MS_NOSUID, "size=1m,mode=1777") == 0, "tmpfs"))
		return -1;
	snprintf(old, sizeof(old), "%s/.oldroot", root);
	if (wl_mkdirs(old) || wl_must(chdir(root) == 0, "chdir root") ||
	    wl_must(syscall(SYS_pivot_root, ".", ".oldroot") == 0, "pivot_root") ||
	    wl_must(umount2("/.oldroot", MNT_DETACH) == 0, "umount old root") || wl_must(rmdir("/.oldroot") == 0, "rmdir old root"))
		return -1;
	if (wl_must(chdir("/run") == 0, "chdir /run"))
		return -1;
	return wl_write_file("/run/hello", "inside") == 0 && wl_write_file("/run/mapped", "mapped inside") == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	char report[8192] = "", before[8192], after[8192], buf[64], cwd[PATH_MAX];
	struct wl_report r = { report, sizeof(report), 0 };
	struct stat root_before, st;
	ssize_t n;
	int pid_in_proc = 0, fd;
	char *map;
	FILE *f;

	if (argc < 4)
		return 2;
	wl_catch_usr1();
	if (setup(argv[3], argv[1]) < 0 || stat("/", &root_before) < 0)
		return 1;
	/* A file only the container has, mapped: the restore maps it there. */
	if ((fd = open("/run/mapped", O_RDONLY)) < 0 ||
	    (map = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED)
		return 1;
	close(fd);
	mount_shape(before, sizeof(before));
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	mount_shape(after, sizeof(after));
	if (strcmp(before, after))
		wl_fail(&r, "the mounts changed:\n--- before\n%s--- after\n%s", before, after);
	if (stat("/", &st) < 0 || st.st_ino != root_before.st_ino || st.st_dev != root_before.st_dev)
		wl_fail(&r, "/ is not the container's root any more");
	n = wl_read_file("/run/hello", buf, sizeof(buf));
	if (n != 6 || memcmp(buf, "inside", 6))
		wl_fail(&r, "/run/hello does not hold 'inside'");
	if ((f = fopen("/proc/self/stat", "r")) && fscanf(f, "%d", &pid_in_proc) != 1)
		pid_in_proc = 0;
	if (f)
		fclose(f);
	if (pid_in_proc != getpid())
		wl_fail(&r, "/proc/self/stat says pid %d, want %d", pid_in_proc, getpid());
	if (access("/.oldroot", F_OK) == 0 || access("/etc/hostname", F_OK) == 0)
		wl_fail(&r, "the host's root shows through");
	if (memcmp(map, "mapped inside", 13))
		wl_fail(&r, "the mapping of /run/mapped does not show its contents");
	if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, "/run"))
		wl_fail(&r, "cwd is '%s', want /run", cwd);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
