/* mntns: see mntns.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver/mntns.h"
#include "driver/run.h"
#include "images/stream.pb-c.h"
#include "lib/log.h"

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

static void mntns_take_pin(const uint8_t *data, uint32_t len, void *arg)
{
	StreamRecord *rec = stream_record__unpack(NULL, len, data);
	struct mntns_pin_find *f = arg;

	if (rec && rec->mntns && rec->mntns->id == f->id)
		snprintf(f->pin, sizeof(f->pin), "%s", rec->mntns->pin);
	if (rec)
		stream_record__free_unpacked(rec, NULL);
}

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
