/* amber-gc-remaps: remove the link remaps a dump left on the file system.
 *
 * What it does
 *	For every 'remap' record on stdin (from collect-remaps) that is a link
 *	remap still there, removes the link, or with --show only says it would.
 *	The records come back on stdout with 'removed' (or 'missing') set, for
 *	the driver to report. Ghost files live in the images and are left
 *	alone. Once a remap is gone, the dump can no longer be restored.
 *
 * Inputs	stdin: 'remap' records (collect-remaps --allow-missing).
 * Options	--show: remove nothing.
 * Outputs	stdout: the link remap records, with what was done, then end.
 * Exit status	4 if a link cannot be removed (it names the path).
 * Capabilities	CAP_DAC_OVERRIDE, CAP_FOWNER (links in others' directories,
 *	sticky ones included).
 * By hand	amber gc -D DIR [--show] runs it after collect-pstree and
 *	collect-remaps.
 */
#include <stdio.h>
#include <unistd.h>

#include "ipc/stage.h"
#include "ipc/stream.h"
#include "lib/log.h"

struct gc_remaps_opts {
	bool show;
};

static int gc_remaps_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	const struct gc_remaps_opts *o = opts;
	struct stream_in in;
	struct stream_out out;
	StreamRecord *rec;
	int ret;

	if ((ret = stream_in_open(&in, 0, "stdin", e)) < 0)
		return ret;
	if ((ret = stream_out_open(&out, 1, "gc-remaps", e)) < 0) {
		stream_in_close(&in);
		return ret;
	}
	while ((ret = stream_in_next(&in, &rec, e)) > 0) {
		RemapPlanEntry *r = rec->body_case == STREAM_RECORD__BODY_REMAP ? rec->remap : NULL;

		if (r && r->kind == REMAP_KIND__REMAP_LINK && r->path) {
			if (!o->show && !r->missing) {
				if (unlink(r->path) == 0) {
					r->has_removed = r->removed = true;
					pr_info("removed link remap '%s' of file %u", r->path, r->file_id);
				} else if (errno == ENOENT) {
					r->has_missing = r->missing = true;
				} else {
					ret = err_errno(e, "remove link remap '%s' of file %u", r->path, r->file_id);
				}
			}
			if (ret >= 0)
				ret = stream_out_write(&out, rec, e);
		}
		stream_record__free_unpacked(rec, NULL);
		if (ret < 0)
			break;
	}
	stream_in_close(&in);
	return ret < 0 ? ret : stream_out_end(&out, e);
}

static int gc_remaps_parse_option(void *opts, int opt, const char *arg, struct err *e)
{
	struct gc_remaps_opts *o = opts;

	if (opt != 'S')
		return err_set(e, 2, "unknown option");
	o->show = true;
	return 0;
}

static const struct option gc_remaps_options[] = {
	{ "show", no_argument, NULL, 'S' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	static const struct stage_desc desc = {
		.name = "gc-remaps",
		.summary = "remove the link remaps of a dump (or, with --show, list them)",
		.usage = "      --show             remove nothing, only list",
		.caps = { CAP_DAC_OVERRIDE, CAP_FOWNER },
		.nr_caps = 2,
		.options = gc_remaps_options,
		.parse_option = gc_remaps_parse_option,
		.run = gc_remaps_run,
	};
	struct gc_remaps_opts opts = { false };

	return stage_main(&desc, &opts, argc, argv);
}
