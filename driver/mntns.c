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
#include "lib/cleanup.h"
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

/* The pin of namespace id, and the devices of the tmpfs mounts
 * build-mntns filled there, from build-mntns' records. */
struct mntns_pin_find {
	uint32_t id;
	char pin[4096];
	uint64_t made[64];
	size_t nr_made;
};

/* run_find callback: the pin of the namespace f->id asks for. */
static void mntns_take_pin(const uint8_t *data, uint32_t len, void *arg)
{
	StreamRecord *rec = stream_record__unpack(NULL, len, data);
	struct mntns_pin_find *f = arg;

	if (rec && rec->mntns && rec->mntns->id == f->id) {
		snprintf(f->pin, sizeof(f->pin), "%s", rec->mntns->pin);
		/* More than fit: those remaps are left alone, with a warning. */
		for (f->nr_made = 0; f->nr_made < rec->mntns->n_made_devs && f->nr_made < ARRAY_SIZE(f->made); f->nr_made++)
			f->made[f->nr_made] = rec->mntns->made_devs[f->nr_made];
	}
	if (rec)
		stream_record__free_unpacked(rec, NULL);
}

/* One remap to remove in its namespace, and what it must be. */
struct mntns_one {
	const RemapPlanEntry *rp;
	struct remap_expect x;
};

/* In a child in a remap's mount namespace: unlinks its path if it is the
 * file the dump made (an enum remap_unlinked; why it was not, in e). */
static int mntns_unlink_child(void *arg, struct nschild_reply *reply, struct err *e)
{
	const struct mntns_one *o = arg;
	int ret = remap_unlink(o->rp->path, &o->x, e);

	/* A child's e comes back only with a failure: say it here. */
	if (ret == REMAP_NOT_OURS)
		pr_warn("could not remove the link remap of file %u in mount namespace %u: %s", o->rp->file_id,
			o->rp->mntns, e->msg);
	return ret;
}

/* run_find callback: removes one remap record's link inside its namespace. */
static void mntns_remove_one(const uint8_t *data, uint32_t len, void *arg)
{
	StreamRecord *rec = stream_record__unpack(NULL, len, data);
	struct mntns_remaps *m = arg;
	const RemapPlanEntry *rp = rec ? rec->remap : NULL;
	struct mntns_pin_find f = { .id = 0 };
	struct err e = { 0 };

	if (rp && rp->has_mntns && rp->path && rp->kind == REMAP_KIND__REMAP_LINK) {
		struct mntns_one o = { rp, { rp->has_dev && rp->has_ino, rp->dev, rp->ino, f.made, 0 } };

		f.id = rp->mntns;
		run_find(m->r, STREAM_RECORD__BODY_MNTNS, mntns_take_pin, &f);
		o.x.nr_made = f.nr_made;
		/* Entering a namespace is for good: a child does it. */
		if (f.pin[0] && nschild_run_at("remove a link remap", f.pin, CLONE_NEWNS, mntns_unlink_child, &o, NULL, &e) ==
				REMAP_REMOVED)
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

/* remap_each_link callback: unlinks one link, in the tree's namespace, if
 * it is the file the dump made. */
static int mntns_unlink_live(const RemapEntry *re, void *arg, struct err *e)
{
	struct remap_expect x = { re->has_dev && re->has_ino, re->dev, re->ino, NULL, 0 };
	struct err why = { 0 };
	int *n = arg, ret = remap_unlink(re->path, &x, &why);

	if (ret == REMAP_REMOVED)
		n[0]++;
	else if (ret != REMAP_MISSING)
		pr_warn("could not remove the link remap of file %u in the tree's mount namespace: %s", re->file_id, why.msg);
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
