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
 *
 * Options	--allow-missing: a missing link remap is reported (record with
 *	'missing') instead of being an error; amber gc uses it.
 *
 * Outputs	stdout: one 'remap' record (RemapPlanEntry) per unlinked file,
 *	then end.
 *
 * Exit status	3 when a link remap is missing (removed by hand, or by amber
 *	gc: the dump cannot be restored), naming the file and the link.
 *
 * Capabilities	CAP_DAC_READ_SEARCH (to look into any directory).
 *
 * By hand	amber stage collect-remaps -D DIR < /dev/null ... (see
 *	amber show --stream for its output)
 */
#include <sys/stat.h>

#include "ipc/stage.h"
#include "ipc/stream.h"
#include "lib/exitcodes.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "stages/collect-remaps/collect-remaps.h"

struct collect_remaps_opts {
	bool allow_missing;
};

/* Checks that a link remap is still there and writes one plan record. */
static int collect_remaps_one(const RemapEntry *rm, bool allow_missing, const struct collect_remaps_input *in,
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
	if (rm->kind == REMAP_KIND__REMAP_LINK && collect_remaps_ns_of(in, rm->file_id)) {
		/* In a mount namespace of the tree: it exists only once
		 * build-mntns made it, and is looked for there. */
		pe.path = rm->path;
		pe.has_mntns = true;
		pe.mntns = collect_remaps_ns_of(in, rm->file_id);
	} else if (rm->kind == REMAP_KIND__REMAP_LINK) {
		pe.path = rm->path;
		if (lstat(rm->path, &st) < 0 || !S_ISREG(st.st_mode)) {
			if (!allow_missing)
				return err_input(e, "the link remap '%s' of file %u (a file the tree had open after it was unlinked) "
						 "is gone: it was removed by hand or by amber gc, and these images cannot be restored",
						 rm->path, rm->file_id);
			pe.has_missing = pe.missing = true;
		}
	} else {
		pe.has_ghost_id = true;
		pe.ghost_id = rm->has_ghost_id ? rm->ghost_id : rm->file_id;
	}
	rec.body_case = STREAM_RECORD__BODY_REMAP;
	rec.remap = &pe;
	return stream_out_write(out, &rec, e);
}

static int collect_remaps_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	const struct collect_remaps_opts *o = opts;
	struct collect_remaps_input in;
	struct stream_out out;
	int ret;

	if ((ret = stream_out_open(&out, 1, "collect-remaps", e)) < 0)
		return ret;
	ret = collect_remaps_read(ctx->dir_fd, &in, e);
	for (int i = 0; ret >= 0 && i < in.nr; i++)
		ret = collect_remaps_one(in.rm[i], o->allow_missing, &in, &out, e);
	if (ret >= 0)
		pr_info("%d unlinked files to reach", in.nr);
	collect_remaps_input_free(&in);
	return ret < 0 ? ret : stream_out_end(&out, e);
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
		.reads_images = true,
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
