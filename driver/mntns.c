/* mntns: see mntns.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver/mntns.h"
#include "driver/run.h"
#include "images/stream.pb-c.h"
#include "lib/log.h"
#include "lib/nschild.h"
#include "images/remap.h"

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

/* In a child in a remap's mount namespace: unlinks its path. */
static int mntns_unlink_child(void *arg, struct nschild_reply *reply, struct err *e)
{
	const RemapPlanEntry *rp = arg;

	if (unlink(rp->path) < 0)
		return err_errno(e, "unlink '%s'", rp->path);
	return 0;
}

/* run_find callback: removes one remap record's link inside its namespace. */
static void mntns_remove_one(const uint8_t *data, uint32_t len, void *arg)
{
	StreamRecord *rec = stream_record__unpack(NULL, len, data);
	struct mntns_remaps *m = arg;
	const RemapPlanEntry *rp = rec ? rec->remap : NULL;
	struct mntns_pin_find f = { 0, "" };
	struct err e = { 0 };

	if (rp && rp->has_mntns && rp->path && rp->kind == REMAP_KIND__REMAP_LINK) {
		f.id = rp->mntns;
		run_find(m->r, STREAM_RECORD__BODY_MNTNS, mntns_take_pin, &f);
		/* Entering a namespace is for good: a child does it. */
		if (f.pin[0] && nschild_run_at("remove a link remap", f.pin, CLONE_NEWNS, mntns_unlink_child, (void *)rp, NULL, &e) == 0)
			m->removed++;
		else if (f.pin[0])
			pr_warn("could not remove the link remap '%s' in mount namespace %u: %s", rp->path, rp->mntns, e.msg);
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

/* In a child in the tree's mount namespace: removes the link remaps of
 * the images (*arg: their directory); returns how many, also when the
 * images could not be read to the end (a warning). */
static int mntns_unlink_live_child(void *arg, struct nschild_reply *reply, struct err *e)
{
	int n[1] = { 0 };

	if (remap_each_link(*(int *)arg, mntns_unlink_live, n, e) < 0)
		pr_warn("could not remove the link remaps in the tree's mount namespace: %s", e->msg);
	return n[0];
}

int mntns_remove_live_remaps(const char *images, int root)
{
	struct err e = { 0 };
	int dfd = open(images, O_RDONLY | O_DIRECTORY | O_CLOEXEC), n;
	struct stat self, other;
	char p[64];

	snprintf(p, sizeof(p), "/proc/%d/ns/mnt", root);
	if (dfd < 0 || faccessat(dfd, "mntns.img", F_OK, 0) < 0 || stat("/proc/self/ns/mnt", &self) < 0 ||
	    stat(p, &other) < 0 || self.st_ino == other.st_ino) {
		if (dfd >= 0)
			close(dfd);
		return 0;
	}
	/* The remaps' paths are from the namespace's root, which a child that
	 * enters it has (/proc/ROOT/root is the root task's, maybe a chroot).
	 * Entering a namespace is for good: a child does it. */
	n = nschild_run_at("remove the link remaps in the tree's mount namespace", p, CLONE_NEWNS, mntns_unlink_live_child,
			   &dfd, NULL, &e);
	close(dfd);
	if (n < 0) {
		pr_warn("could not remove the link remaps in the tree's mount namespace: %s", e.msg);
		return 0;
	}
	return n;
}
