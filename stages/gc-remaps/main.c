/* amber-gc-remaps: remove the link remaps a dump left on the file system.
 *
 * What it does
 *	For every 'remap' record on stdin (from collect-remaps) that is a link
 *	remap still there, removes the link, or with --show only says it would.
 *	Only the file the dump made is removed (images/remap.h): reached
 *	without a symlink, a regular file named .amber-remap.*, with the device
 *	and inode the record has; any other file at the path is left alone and
 *	its record says why ('refused'), so images that name another file
 *	cannot make gc delete it. The records come back on stdout with
 *	'removed', 'missing' or 'refused' set, for the driver to report.
 *	Ghost files live in the images and are left
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
#include "images/remap.h"
#include "stages/gc-remaps/gc-remaps.h"

struct gc_remaps_opts {
	bool show;
};

/* One remap to remove, and what it must be. */
struct gc_remaps_one {
	const RemapPlanEntry *r;
	struct remap_expect x;
};

/* Unlinks the remap's path if it is the file the dump made: an enum
 * remap_unlinked; for REMAP_NOT_OURS, why says why it was left alone. */
static int gc_remaps_unlink(const struct gc_remaps_one *g, struct err *why, struct err *e)
{
	int ret = remap_unlink(g->r->path, &g->x, why);

	if (ret < 0)
		*e = *why;
	return ret;
}

/* gc_remaps_unlink in a child in the remap's mount namespace; why comes
 * back as the bytes it sends (a child's err comes back only on failure). */
static int gc_remaps_unlink_child(void *arg, struct nschild_reply *reply, struct err *e)
{
	struct err why = { 0 };
	int ret = gc_remaps_unlink(arg, &why, e);

	if (ret == REMAP_NOT_OURS && nschild_send(reply, why.msg, strlen(why.msg), e) < 0)
		return -1;
	return ret;
}

/* Removes one link remap, in its namespace if it has one. One that is not
 * the file the dump made is left alone: its record says why. */
static int gc_remaps_remove(const struct gc_remaps_input *in, RemapPlanEntry *r, struct err *e)
{
	const char *pin = r->has_mntns && r->mntns < in->nr_pins ? in->pin[r->mntns] : NULL;
	struct gc_remaps_one g = { r, { r->has_dev && r->has_ino, r->dev, r->ino, NULL, 0 } };
	struct nschild_result res = { 0 };
	struct err why = { 0 };
	int ret;

	if (pin) {
		g.x.made = in->made[r->mntns].dev;
		g.x.nr_made = in->made[r->mntns].nr;
	}

	if (r->has_mntns && !pin)
		return err_input(e, "link remap '%s' of file %u is in mount namespace %u, which build-mntns did not make",
				 r->path, r->file_id, r->mntns);
	if (pin) {
		char what[4096 + 64];

		/* Entering a namespace is for good: a child does it. */
		snprintf(what, sizeof(what), "remove link remap '%s' of file %u in mount namespace %u", r->path, r->file_id,
			 r->mntns);
		ret = nschild_run_at(what, pin, CLONE_NEWNS, gc_remaps_unlink_child, &g, &res, e);
		if (ret == REMAP_NOT_OURS)
			snprintf(why.msg, sizeof(why.msg), "%s", res.data ? res.data : "not the dump's file");
		nschild_result_free(&res);
	} else {
		ret = gc_remaps_unlink(&g, &why, e);
	}
	if (ret < 0)
		return err_wrap(e, "file %u%s", r->file_id, pin ? " in its mount namespace" : "");
	if (ret == REMAP_REMOVED) {
		r->has_removed = r->removed = true;
		pr_info("removed link remap '%s' of file %u%s", r->path, r->file_id, pin ? " in its mount namespace" : "");
	} else if (ret == REMAP_MISSING) {
		r->has_missing = r->missing = true;
	} else {
		pr_warn("file %u%s: %s", r->file_id, pin ? " in its mount namespace" : "", why.msg);
		if (!(r->refused = strdup(why.msg)))
			return err_errnum(e, ENOMEM, "remember why '%s' was left alone", r->path);
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
