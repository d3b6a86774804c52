/* mntns: see mntns.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver/mntns.h"
#include "driver/run.h"
#include "images/stream.pb-c.h"
#include "lib/log.h"
#include "lib/remap.h"

void mntns_unpin(const char *run_dir)
{
	char dir[4096], pin[4096 + 256];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/ns", run_dir);
	if (!(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "mnt.", 4))
			continue;
		snprintf(pin, sizeof(pin), "%s/%s", dir, de->d_name);
		if (umount2(pin, MNT_DETACH) < 0 && errno != EINVAL)
			pr_warn("could not unmount the mount namespace pin '%s': %m", pin);
		unlink(pin);
	}
	closedir(d);
	rmdir(dir);
}

struct mntns_remaps {
	const struct run *r;
	int removed;
};

/* The pin of namespace id, from build-mntns' records. */
struct mntns_pin_find {
	uint32_t id;
	char pin[4096];
};

/* run_find callback: the pin of the namespace f->id asks for. */
static void mntns_take_pin(const uint8_t *data, uint32_t len, void *arg)
{
	StreamRecord *rec = stream_record__unpack(NULL, len, data);
	struct mntns_pin_find *f = arg;

	if (rec && rec->mntns && rec->mntns->id == f->id)
		snprintf(f->pin, sizeof(f->pin), "%s", rec->mntns->pin);
	if (rec)
		stream_record__free_unpacked(rec, NULL);
}

/* run_find callback: removes one remap record's link inside its namespace. */
static void mntns_remove_one(const uint8_t *data, uint32_t len, void *arg)
{
	StreamRecord *rec = stream_record__unpack(NULL, len, data);
	struct mntns_remaps *m = arg;
	const RemapPlanEntry *rp = rec ? rec->remap : NULL;
	struct mntns_pin_find f = { 0, "" };
	int status;
	pid_t child;

	if (rp && rp->has_mntns && rp->path && rp->kind == REMAP_KIND__REMAP_LINK) {
		f.id = rp->mntns;
		run_find(m->r, STREAM_RECORD__BODY_MNTNS, mntns_take_pin, &f);
		/* Entering a namespace is for good: a child does it. */
		if (f.pin[0] && (child = fork()) == 0) {
			int fd = open(f.pin, O_RDONLY | O_CLOEXEC);

			_exit(fd >= 0 && setns(fd, CLONE_NEWNS) == 0 && unlink(rp->path) == 0 ? 0 : 1);
		} else if (f.pin[0] && child > 0) {
			while (waitpid(child, &status, 0) < 0 && errno == EINTR)
				;
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				m->removed++;
			else
				pr_warn("could not remove the link remap '%s' in mount namespace %u", rp->path, rp->mntns);
		}
	}
	if (rec)
		stream_record__free_unpacked(rec, NULL);
}

int mntns_remove_remaps(const struct run *r)
{
	struct mntns_remaps m = { r, 0 };

	run_find(r, STREAM_RECORD__BODY_REMAP, mntns_remove_one, &m);
	return m.removed;
}

/* remap_each_link callback: unlinks one link, in the tree's namespace. */
static int mntns_unlink_live(uint32_t file_id, const char *path, void *arg, struct err *e)
{
	int *n = arg;

	if (unlink(path) == 0)
		n[0]++;
	else if (errno != ENOENT)
		pr_warn("could not remove link remap '%s' of file %u in the tree's mount namespace: %m", path, file_id);
	return 0;
}

int mntns_remove_live_remaps(const char *images, int root)
{
	struct err e = { 0 };
	int n[1] = { 0 }, dfd = open(images, O_RDONLY | O_DIRECTORY | O_CLOEXEC), pfd[2], status;
	struct stat self, other;
	pid_t child;
	char p[64];

	snprintf(p, sizeof(p), "/proc/%d/ns/mnt", root);
	if (dfd < 0 || faccessat(dfd, "mntns.img", F_OK, 0) < 0 || stat("/proc/self/ns/mnt", &self) < 0 ||
	    stat(p, &other) < 0 || self.st_ino == other.st_ino || pipe2(pfd, O_CLOEXEC) < 0) {
		if (dfd >= 0)
			close(dfd);
		return 0;
	}
	/* The remaps' paths are from the namespace's root, which a child that
	 * enters it has (/proc/ROOT/root is the root task's, maybe a chroot).
	 * Entering a namespace is for good: a child does it. */
	if ((child = fork()) == 0) {
		int ns = open(p, O_RDONLY | O_CLOEXEC);

		close(pfd[0]);
		if (ns < 0 || setns(ns, CLONE_NEWNS) < 0) {
			pr_warn("could not enter the tree's mount namespace ('%s') to remove its link remaps: %m", p);
			_exit(1);
		}
		if (remap_each_link(dfd, mntns_unlink_live, n, &e) < 0)
			pr_warn("could not remove the link remaps in the tree's mount namespace: %s", e.msg);
		_exit(write(pfd[1], n, sizeof(n)) == sizeof(n) ? 0 : 1);
	}
	close(pfd[1]);
	if (child < 0 || read(pfd[0], n, sizeof(n)) != sizeof(n))
		n[0] = 0;
	close(pfd[0]);
	close(dfd);
	while (child > 0 && waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	return n[0];
}
