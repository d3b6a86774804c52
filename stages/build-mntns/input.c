/* build-mntns/input.c: the stage's input, read and checked with no side
 * effect (what tests/fuzz/fuzz_stage_build_mntns.c feeds): mntns.img and
 * the mounts of each namespace. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "images/image.h"
#include "lib/grow.h"
#include "lib/mountinfo.h"
#include "stages/build-mntns/build-mntns.h"

/* Reads mountpoints-ID.img. */
static int bm_load(int dirfd, struct bm_ns *ns, struct err *e)
{
	struct image img;
	MntEntry *me;
	char name[64];
	int ret;

	snprintf(name, sizeof(name), "mountpoints-%u.img", ns->id);
	if ((ret = image_open_read(&img, dirfd, "mountpoints", name, e)) < 0)
		return ret;
	while ((ret = image_read(&img, (ProtobufCMessage **)&me, e)) > 0) {
		if (grow_one(&ns->m, ns->nr) < 0) {
			mnt_entry__free_unpacked(me, NULL);
			ret = err_errno(e, "read '%s'", name);
			break;
		}
		ns->m[ns->nr++] = me;
	}
	image_close(&img);
	return ret;
}

/* An overlay's record: at least one lower layer, all layers absolute,
 * an upper with a work directory and its digest. */
static int bm_check_overlay(const MntEntry *me, struct err *e)
{
	bool ok = me->n_ovl_lower > 0 && !me->ovl_upper == !me->ovl_work &&
		  (!me->ovl_upper || (me->ovl_upper[0] == '/' && me->ovl_work[0] == '/' && me->has_ovl_upper_digest));

	for (size_t k = 0; ok && k < me->n_ovl_lower; k++)
		ok = me->ovl_lower[k][0] == '/';
	for (size_t k = 0; ok && k < me->n_ovl_data; k++)
		ok = me->ovl_data[k][0] == '/';
	for (size_t k = 0; ok && k < me->n_ovl_options; k++)
		ok = me->ovl_options[k][0] && me->ovl_options[k][0] != '=';
	if (!ok)
		return err_input(e, "overlay mount %u at '%s': its layers in the image are incomplete (a lower layer, an "
				 "upper layer with its work directory and digest, absolute paths and named options are "
				 "needed)", me->mnt_id, me->mountpoint);
	return 0;
}

/* The refusals build.c would make once the namespace is half built, made
 * before anything is: an empty namespace, a kind this amber does not know,
 * a bind of a mount that is not there or does not hold its root. */
static int bm_check(const struct bm_ns *ns, struct err *e)
{
	if (!ns->nr)
		return err_input(e, "mountpoints-%u.img has no mounts", ns->id);
	for (int i = 0; i < ns->nr; i++) {
		const MntEntry *me = ns->m[i];
		int src = -1;

		if ((me->kind < MNT_KIND__MNT_HOST_BIND || me->kind > MNT_KIND__MNT_EXTERNAL) && me->kind != MNT_KIND__MNT_OVERLAY)
			return err_input(e, "mount %u at '%s': unknown kind %d in the image", me->mnt_id, me->mountpoint, me->kind);
		if (me->kind == MNT_KIND__MNT_OVERLAY && (bm_check_overlay(me, e)) < 0)
			return -EINVAL;
		if (me->root[0] != '/' || me->mountpoint[0] != '/')
			return err_input(e, "mountpoints-%u.img: mount %u has root '%s' and mountpoint '%s', want absolute paths",
					 ns->id, me->mnt_id, me->root, me->mountpoint);
		if (me->kind != MNT_KIND__MNT_TREE_BIND)
			continue;
		for (int j = 0; j < ns->nr; j++)
			if (j != i && ns->m[j]->mnt_id == me->bind_of)
				src = j;
		if (src < 0 || !mountinfo_relpath(ns->m[src]->root, me->root))
			return err_input(e, "mount %u at '%s' is a bind of mount %u, which does not hold '%s'", me->mnt_id,
					 me->mountpoint, me->bind_of, me->root);
	}
	return 0;
}

int build_mntns_read(int dirfd, struct build_mntns_input *in, struct err *e)
{
	struct image img;
	MntnsEntry *nse;
	int ret;

	memset(in, 0, sizeof(*in));
	ret = image_open_read(&img, dirfd, "mntns", "mntns.img", e);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	in->present = true;
	while ((ret = image_read(&img, (ProtobufCMessage **)&nse, e)) > 0) {
		if (grow_one(&in->nse, in->nr) < 0 || grow_one(&in->ns, in->nr) < 0) {
			mntns_entry__free_unpacked(nse, NULL);
			ret = err_errno(e, "read mntns.img");
			break;
		}
		in->nse[in->nr] = nse;
		in->ns[in->nr++] = (struct bm_ns){ nse->id, NULL, 0, nse->pids, nse->n_pids };
		if (nse->id != (uint32_t)in->nr)
			ret = err_input(e, "mntns.img: namespace %u where %d was due", nse->id, in->nr);
		if (ret >= 0)
			ret = bm_load(dirfd, &in->ns[in->nr - 1], e);
		if (ret >= 0)
			ret = bm_check(&in->ns[in->nr - 1], e);
		if (ret < 0)
			break;
	}
	image_close(&img);
	return ret;
}

void build_mntns_input_free(struct build_mntns_input *in)
{
	for (int i = 0; i < in->nr; i++) {
		for (int k = 0; k < in->ns[i].nr; k++)
			mnt_entry__free_unpacked(in->ns[i].m[k], NULL);
		free(in->ns[i].m);
		mntns_entry__free_unpacked(in->nse[i], NULL);
	}
	free(in->ns);
	free(in->nse);
	memset(in, 0, sizeof(*in));
}
