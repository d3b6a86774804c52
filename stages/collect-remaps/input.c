/* collect-remaps/input.c: the stage's input, read and checked with no side
 * effect outside the images directory (what
 * tests/fuzz/fuzz_stage_collect_remaps.c feeds). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "images/image.h"
#include "images/mnt.pb-c.h"
#include "lib/grow.h"
#include "stages/collect-remaps/collect-remaps.h"

/* The mount ids of namespace id, from mountpoints-ID.img. */
static int collect_remaps_ns_mounts(int dirfd, uint32_t id, uint32_t **ids, size_t *nr, struct err *e)
{
	struct image img;
	MntEntry *me;
	char name[64];
	int ret;

	snprintf(name, sizeof(name), "mountpoints-%u.img", id);
	if ((ret = image_open_read(&img, dirfd, "mountpoints", name, e)) < 0)
		return ret;
	while ((ret = image_read(&img, (ProtobufCMessage **)&me, e)) > 0) {
		if (grow_one(ids, *nr) < 0)
			ret = err_errno(e, "read '%s'", name);
		else
			(*ids)[(*nr)++] = me->mnt_id;
		mnt_entry__free_unpacked(me, NULL);
		if (ret < 0)
			break;
	}
	image_close(&img);
	return ret;
}

/* Fills in->ns from mntns.img, mountpoints-ID.img and files.img' mnt_id. */
static int collect_remaps_load_ns(int dirfd, struct collect_remaps_input *in, struct err *e)
{
	struct image img;
	MntnsEntry *nse;
	RegFileEntry *re;
	uint32_t *ids = NULL, *owner = NULL;
	size_t nr = 0, k;
	int ret = image_open_read(&img, dirfd, "mntns", "mntns.img", e);

	if (ret == -ENOENT)
		return 0;
	while (ret >= 0 && (ret = image_read(&img, (ProtobufCMessage **)&nse, e)) > 0) {
		size_t before = nr;

		if ((ret = image_check_id(&img, "mount namespace id", nse->id, IMAGE_MAX_MNTNS_ID, e)) == 0)
			ret = collect_remaps_ns_mounts(dirfd, nse->id, &ids, &nr, e);
		if (ret >= 0 && grow_to(&owner, nr + 1) < 0)
			ret = err_errno(e, "read mntns.img");
		for (k = before; ret >= 0 && k < nr; k++)
			owner[k] = nse->id;
		mntns_entry__free_unpacked(nse, NULL);
	}
	image_close(&img);
	if (ret >= 0 && (ret = image_open_read(&img, dirfd, "files", "files.img", e)) >= 0) {
		while ((ret = image_read(&img, (ProtobufCMessage **)&re, e)) > 0) {
			for (k = 0; re->has_mnt_id && k < nr; k++)
				if (ids[k] == (uint32_t)re->mnt_id)
					break;
			/* A list, not an array by file id; ids are bounded all the same. */
			if (re->has_mnt_id && k < nr &&
			    (ret = image_check_id(&img, "file id", re->id, IMAGE_MAX_FILE_ID, e)) == 0) {
				if (grow_one(&in->ns, in->nr_ns) < 0) {
					reg_file_entry__free_unpacked(re, NULL);
					ret = err_errno(e, "read files.img");
					break;
				}
				in->ns[in->nr_ns].file_id = re->id;
				in->ns[in->nr_ns++].ns = owner[k];
			}
			reg_file_entry__free_unpacked(re, NULL);
			if (ret < 0)
				break;
		}
		/* Closed whether it read whole or not. */
		image_close(&img);
	}
	free(ids);
	free(owner);
	return ret < 0 ? ret : 0;
}

/* Checks one record of remaps.img: what collect_remaps_one may rely on. */
static int collect_remaps_check(int dirfd, const RemapEntry *rm, struct err *e)
{
	if (rm->kind == REMAP_KIND__REMAP_LINK) {
		if (!rm->path || rm->path[0] != '/')
			return err_input(e, "remaps.img: the link remap of file %u has no absolute path", rm->file_id);
	} else if (rm->kind == REMAP_KIND__REMAP_GHOST) {
		char name[64];
		struct image ghost;
		int ret;

		snprintf(name, sizeof(name), "ghost-%u.img", rm->has_ghost_id ? rm->ghost_id : rm->file_id);
		/* Its header is checked now (dump, owner, length); restore-files reads it. */
		ret = image_open_read(&ghost, dirfd, "ghost", name, e);
		if (ret == -ENOENT)
			return err_input(e, "image '%s' with the contents of unlinked file %u is missing", name, rm->file_id);
		if (ret < 0)
			return ret;
		image_close(&ghost);
	} else {
		return err_input(e, "remaps.img: file %u has an unknown remap kind %d", rm->file_id, rm->kind);
	}
	return 0;
}

int collect_remaps_read(int dirfd, struct collect_remaps_input *in, struct err *e)
{
	struct image img;
	RemapEntry *rm;
	int ret;

	memset(in, 0, sizeof(*in));
	ret = image_open_read(&img, dirfd, "remaps", "remaps.img", e);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	if ((ret = collect_remaps_load_ns(dirfd, in, e)) < 0) {
		image_close(&img);
		return ret;
	}
	while ((ret = image_read(&img, (ProtobufCMessage **)&rm, e)) > 0) {
		if (grow_one(&in->rm, in->nr) < 0) {
			remap_entry__free_unpacked(rm, NULL);
			ret = err_errno(e, "read remaps.img");
			break;
		}
		in->rm[in->nr++] = rm;
		if ((ret = collect_remaps_check(dirfd, rm, e)) < 0)
			break;
	}
	image_close(&img);
	return ret;
}

uint32_t collect_remaps_ns_of(const struct collect_remaps_input *in, uint32_t file_id)
{
	for (uint32_t i = 0; i < in->nr_ns; i++)
		if (in->ns[i].file_id == file_id)
			return in->ns[i].ns;
	return 0;
}

void collect_remaps_input_free(struct collect_remaps_input *in)
{
	for (int i = 0; i < in->nr; i++)
		remap_entry__free_unpacked(in->rm[i], NULL);
	free(in->rm);
	free(in->ns);
	memset(in, 0, sizeof(*in));
}
