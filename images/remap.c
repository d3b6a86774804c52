/* remap: see remap.h. */
#include <stdio.h>
#include <unistd.h>

#include "images/files.pb-c.h"
#include "images/image.h"
#include "lib/log.h"
#include "images/remap.h"

int remap_each_link(int dirfd, int (*fn)(uint32_t file_id, const char *path, void *arg, struct err *e),
		    void *arg, struct err *e)
{
	struct image img;
	RemapEntry *re;
	int ret = image_open_read(&img, dirfd, "remaps", "remaps.img", e);

	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	while ((ret = image_read(&img, (ProtobufCMessage **)&re, e)) > 0) {
		if (re->kind == REMAP_KIND__REMAP_LINK && re->path)
			ret = fn(re->file_id, re->path, arg, e);
		remap_entry__free_unpacked(re, NULL);
		if (ret < 0)
			break;
	}
	image_close(&img);
	return ret;
}

static int remap_unlink_one(uint32_t file_id, const char *path, void *arg, struct err *e)
{
	int *removed = arg;

	if (unlink(path) == 0) {
		pr_debug("removed link remap '%s' of file %u", path, file_id);
		if (removed)
			(*removed)++;
	} else if (errno != ENOENT) {
		pr_warn("could not remove link remap '%s' of file %u: %m", path, file_id);
	}
	return 0;
}

int remap_remove_links(int dirfd, int *removed, struct err *e)
{
	if (removed)
		*removed = 0;
	return remap_each_link(dirfd, remap_unlink_one, removed, e);
}
