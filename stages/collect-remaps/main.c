/* amber-collect-remaps: check how the dump's unlinked files are reached,
 * and plan it for the stages after it.
 *
 * What it does
 *	Reads remaps.img, written by dump-files for every file the tree had
 *	open after it was unlinked: a link remap (a hidden hard link made next
 *	to where the file lived) or a ghost file (its contents in
 *	ghost-ID.img). It checks each link remap still exists and is a regular
 *	file, and each ghost image is there, and writes one 'remap' record per
 *	file. A dump without remaps.img has none: that is not an error. A
 *	link remap on a mount of a mount namespace the tree made (files.img
 *	mnt_id, mountpoints-ID.img) exists only once build-mntns made that
 *	namespace: its record names the namespace (mntns) and it is looked
 *	for there, by restore-files and gc-remaps.
 *
 * Inputs	stdin: a state stream (its records are not used). Images:
 *	remaps.img, ghost-ID.img, and mntns.img, mountpoints-ID.img and
 *	files.img when the dump has mount namespaces.
 * Options	--allow-missing: a missing link remap is reported (record with
 *	'missing') instead of being an error; amber gc uses it.
 * Outputs	stdout: one 'remap' record (RemapPlanEntry) per unlinked file,
 *	then end.
 * Exit status	3 when a link remap is missing (removed by hand, or by amber
 *	gc: the dump cannot be restored), naming the file and the link.
 * Capabilities	CAP_DAC_READ_SEARCH (to look into any directory).
 * By hand	amber stage collect-remaps -D DIR < /dev/null ... (see
 *	amber show --stream for its output)
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/files.pb-c.h"
#include "images/image.h"
#include "images/mnt.pb-c.h"
#include "lib/exitcodes.h"
#include "ipc/stage.h"
#include "ipc/stream.h"
#include "lib/grow.h"
#include "lib/log.h"

struct collect_remaps_opts {
	bool allow_missing;
};

/* Which mount namespace of the tree (mntns.img) each open file is in:
 * ns[file id], 0 for ours; file ids are bounded (IMAGE_MAX_FILE_ID). */
struct collect_remaps_ns {
	uint32_t *ns;
	size_t nr;
};

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

/* Fills nsmap from mntns.img, mountpoints-ID.img and files.img' mnt_id. */
static int collect_remaps_load_ns(int dirfd, struct collect_remaps_ns *m, struct err *e)
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
		if (ret >= 0 && grow_to(&owner, nr) < 0)
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
			/* The table is indexed by file id: bounded first. */
			if (re->has_mnt_id && k < nr &&
			    (ret = image_check_id(&img, "file id", re->id, IMAGE_MAX_FILE_ID, e)) == 0) {
				if (grow_zero(&m->ns, &m->nr, (size_t)re->id + 1) < 0)
					ret = err_errno(e, "read files.img");
				else
					m->ns[re->id] = owner[k];
			}
			reg_file_entry__free_unpacked(re, NULL);
			if (ret < 0)
				break;
		}
		image_close(&img);
	}
	free(ids);
	free(owner);
	return ret < 0 ? ret : 0;
}

/* Checks one remap and writes its plan record. */
static int collect_remaps_one(int dirfd, const RemapEntry *rm, bool allow_missing, const struct collect_remaps_ns *m,
			      struct stream_out *out, struct err *e)
{
	RemapPlanEntry pe = REMAP_PLAN_ENTRY__INIT;
	StreamRecord rec = STREAM_RECORD__INIT;
	struct stat st;

	pe.file_id = rm->file_id;
	pe.kind = rm->kind;
	/* What gc-remaps checks before it removes the link (images/remap.h). */
	pe.has_dev = rm->has_dev;
	pe.dev = rm->dev;
	pe.has_ino = rm->has_ino;
	pe.ino = rm->ino;
	if (rm->kind == REMAP_KIND__REMAP_LINK && rm->file_id < m->nr && m->ns[rm->file_id]) {
		/* In a mount namespace of the tree: it exists only once
		 * build-mntns made it, and is looked for there. */
		if (!rm->path || rm->path[0] != '/')
			return err_input(e, "remaps.img: the link remap of file %u has no absolute path", rm->file_id);
		pe.path = rm->path;
		pe.has_mntns = true;
		pe.mntns = m->ns[rm->file_id];
	} else if (rm->kind == REMAP_KIND__REMAP_LINK) {
		if (!rm->path || rm->path[0] != '/')
			return err_input(e, "remaps.img: the link remap of file %u has no absolute path", rm->file_id);
		pe.path = rm->path;
		if (lstat(rm->path, &st) < 0 || !S_ISREG(st.st_mode)) {
			if (!allow_missing)
				return err_input(e, "the link remap '%s' of file %u (a file the tree had open after it was unlinked) "
						 "is gone: it was removed by hand or by amber gc, and these images cannot be restored",
						 rm->path, rm->file_id);
			pe.has_missing = pe.missing = true;
		}
	} else if (rm->kind == REMAP_KIND__REMAP_GHOST) {
		char name[64];
		int fd;

		pe.has_ghost_id = true;
		pe.ghost_id = rm->has_ghost_id ? rm->ghost_id : rm->file_id;
		snprintf(name, sizeof(name), "ghost-%u.img", pe.ghost_id);
		fd = image_openat(dirfd, name, O_RDONLY, 0);
		if (fd < 0)
			return err_input(e, "image '%s' with the contents of unlinked file %u is missing", name, rm->file_id);
		close(fd);
	} else {
		return err_input(e, "remaps.img: file %u has an unknown remap kind %d", rm->file_id, rm->kind);
	}
	rec.body_case = STREAM_RECORD__BODY_REMAP;
	rec.remap = &pe;
	return stream_out_write(out, &rec, e);
}

static int collect_remaps_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	const struct collect_remaps_opts *o = opts;
	struct collect_remaps_ns m = { NULL, 0 };
	struct stream_out out;
	struct image img;
	RemapEntry *rm;
	int ret, n = 0;

	if ((ret = stream_out_open(&out, 1, "collect-remaps", e)) < 0)
		return ret;
	ret = image_open_read(&img, ctx->dir_fd, "remaps", "remaps.img", e);
	if (ret == -ENOENT)
		return stream_out_end(&out, e);
	if (ret < 0)
		return ret;
	if ((ret = collect_remaps_load_ns(ctx->dir_fd, &m, e)) < 0) {
		image_close(&img);
		return ret;
	}
	while ((ret = image_read(&img, (ProtobufCMessage **)&rm, e)) > 0) {
		ret = collect_remaps_one(ctx->dir_fd, rm, o->allow_missing, &m, &out, e);
		remap_entry__free_unpacked(rm, NULL);
		if (ret < 0)
			break;
		n++;
	}
	image_close(&img);
	free(m.ns);
	if (ret < 0)
		return ret;
	pr_info("%d unlinked files to reach", n);
	return stream_out_end(&out, e);
}

static int collect_remaps_parse_option(void *opts, int opt, const char *arg, struct err *e)
{
	struct collect_remaps_opts *o = opts;

	if (opt != 'M')
		return err_set(e, EXIT_USAGE, "unknown option");
	o->allow_missing = true;
	return 0;
}

static const struct option collect_remaps_options[] = {
	{ "allow-missing", no_argument, NULL, 'M' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	static const struct stage_desc desc = {
		.name = "collect-remaps",
		.summary = "check the link remaps and ghost files of the dump's unlinked files and plan how to reach them",
		.usage = "      --allow-missing    report a missing link remap instead of failing (for amber gc)",
		.caps = { CAP_DAC_READ_SEARCH },
		.nr_caps = 1,
		.options = collect_remaps_options,
		.parse_option = collect_remaps_parse_option,
		.run = collect_remaps_run,
	};
	struct collect_remaps_opts opts = { false };

	return stage_main(&desc, &opts, argc, argv);
}
