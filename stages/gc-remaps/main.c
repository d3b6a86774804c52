/* amber-gc-remaps: remove the link remaps a dump left on the file system.
 *
 * What it does
 *	For every 'remap' record on stdin (from collect-remaps) that is a link
 *	remap still there, removes the link, or with --show only says it would.
 *	The records come back on stdout with 'removed' (or 'missing') set, for
 *	the driver to report. Ghost files live in the images and are left
 *	alone. Once a remap is gone, the dump can no longer be restored. A
 *	remap in a mount namespace of the tree (its record names it) is
 *	removed there: a child enters the namespace through the pin that
 *	build-mntns made (its `mntns` record).
 *
 * Inputs	stdin: 'remap' records (collect-remaps --allow-missing), 'mntns'
 *	records (build-mntns).
 *
 * Options	--show: remove nothing.
 *
 * Outputs	stdout: the link remap records, with what was done, then end.
 *
 * Exit status	4 if a link cannot be removed (it names the path).
 *
 * Capabilities	CAP_DAC_OVERRIDE, CAP_FOWNER (links in others' directories,
 *	sticky ones included), CAP_SYS_ADMIN and CAP_SYS_CHROOT (setns).
 *
 * By hand	amber gc -D DIR [--show] runs it after collect-pstree and
 *	collect-remaps.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "images/image.h"
#include "lib/exitcodes.h"
#include "ipc/stage.h"
#include "ipc/stream.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/nschild.h"
#include "stages/gc-remaps/gc-remaps.h"

struct gc_remaps_opts {
	bool show;
};

/* Unlinks the remap's path: 0 removed, 1 missing already. */
static int gc_remaps_unlink(const RemapPlanEntry *r, const char *where, struct err *e)
{
	if (unlink(r->path) == 0)
		return 0;
	if (errno == ENOENT)
		return 1;
	return err_errno(e, "remove link remap '%s' of file %u%s", r->path, r->file_id, where);
}

/* gc_remaps_unlink in a child in the remap's mount namespace. */
static int gc_remaps_unlink_child(void *arg, struct nschild_reply *reply, struct err *e)
{
	return gc_remaps_unlink(arg, " in its mount namespace", e);
}

/* Removes one link remap, in its namespace if it has one. */
static int gc_remaps_remove(const struct gc_remaps_input *in, RemapPlanEntry *r, struct err *e)
{
	const char *pin = r->has_mntns && r->mntns < in->nr_pins ? in->pin[r->mntns] : NULL;
	int ret;

	if (r->has_mntns && !pin)
		return err_input(e, "link remap '%s' of file %u is in mount namespace %u, which build-mntns did not make",
				 r->path, r->file_id, r->mntns);
	if (pin) {
		char what[4096 + 64];

		/* Entering a namespace is for good: a child does it. */
		snprintf(what, sizeof(what), "remove link remap '%s' of file %u in mount namespace %u", r->path, r->file_id,
			 r->mntns);
		ret = nschild_run_at(what, pin, CLONE_NEWNS, gc_remaps_unlink_child, r, NULL, e);
	} else {
		ret = gc_remaps_unlink(r, "", e);
	}
	if (ret < 0)
		return ret;
	if (ret == 0) {
		r->has_removed = r->removed = true;
		pr_info("removed link remap '%s' of file %u%s", r->path, r->file_id, pin ? " in its mount namespace" : "");
	} else {
		r->has_missing = r->missing = true;
	}
	return 0;
}

static int gc_remaps_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	const struct gc_remaps_opts *o = opts;
	struct gc_remaps_input in;
	struct stream_out out;
	int ret;

	/* The pins (build-mntns) come after the remaps (collect-remaps):
	 * everything is read first. */
	ret = gc_remaps_read(0, &in, e);
	if (ret >= 0)
		ret = stream_out_open(&out, 1, "gc-remaps", e);
	for (int i = 0; ret >= 0 && i < in.nr_links; i++) {
		if (!o->show && !in.links[i]->remap->missing)
			ret = gc_remaps_remove(&in, in.links[i]->remap, e);
		if (ret >= 0)
			ret = stream_out_write(&out, in.links[i], e);
	}
	gc_remaps_input_free(&in);
	return ret < 0 ? ret : stream_out_end(&out, e);
}

static int gc_remaps_parse_option(void *opts, int opt, const char *arg, struct err *e)
{
	struct gc_remaps_opts *o = opts;

	if (opt != 'S')
		return err_set(e, EXIT_USAGE, "unknown option");
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
		.reads_images = true,
		.summary = "remove the link remaps of a dump (or, with --show, list them)",
		.usage = "      --show             remove nothing, only list",
		.caps = { CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_SYS_ADMIN, CAP_SYS_CHROOT },
		.nr_caps = 4,
		.options = gc_remaps_options,
		.parse_option = gc_remaps_parse_option,
		.run = gc_remaps_run,
	};
	struct gc_remaps_opts opts = { false };

	return stage_main(&desc, &opts, argc, argv);
}
