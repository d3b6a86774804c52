/* mntns: see mntns.h. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "driver/mntns.h"
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
