/* gc: 'amber gc -D DIR [--show]' removes what a dump left on the file
 * system when no restore will follow: the link remaps of files that were
 * unlinked while open (a dump whose tree was killed keeps them for the
 * restore; --keep-link-remaps keeps them after --leave-running).
 *
 *	collect-pstree --no-pid-check -> collect-remaps --allow-missing -> build-mntns -> gc-remaps
 *
 * The table gc_rows is the pipeline; driver/pipeline.c runs it.
 * collect-pstree checks the images are a complete dump; build-mntns makes
 * the tree's mount namespaces (when it had any), where link remaps made
 * inside them live; gc-remaps removes each link in its namespace (or
 * lists it, --show). The namespaces' pins are unmounted at the end. gc is idempotent: what is gone already
 * is said so. Once a remap is removed the images cannot be restored. A
 * file at a remap's path that is not the one the dump made (images/remap.h)
 * is left alone and listed, and gc then exits 3 (bad input).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "driver/driver.h"
#include "driver/dumpdir.h"
#include "driver/mntns.h"
#include "driver/opts.h"
#include "driver/pipeline.h"
#include "driver/run.h"
#include "images/stream.pb-c.h"
#include "lib/exitcodes.h"
#include "lib/log.h"

static void gc_usage(void)
{
	printf("usage: amber gc -D DIR [--show] [-v N] [-o LOG] [--run-dir DIR]\n"
	       "  --show   list the link remaps that would be removed, remove nothing\n");
}

/* Where gc-remaps' own records start (they come after everything before it). */
struct gc_state {
	int first;
};

static int gc_remaps_before(struct pl_ctx *c, struct err *e)
{
	((struct gc_state *)c->cmd)->first = c->r->nr_recs;
	return 0;
}

static int gc_remaps_args(struct pl_ctx *c, struct pl_args *a, struct err *e)
{
	return c->o->show ? pl_arg(a, "--show", e) : 0;
}

static void gc_mntns_rollback(struct pl_ctx *c)
{
	mntns_unpin(c->r->dir);
}

static const char *const gc_pstree_args[] = { "--no-pid-check", NULL };
static const char *const gc_remaps_fixed[] = { "--allow-missing", NULL };
/* gc only removes link remaps, each checked by its own device and inode:
 * an overlay whose upper layer changed since the dump is mounted anyway. */
static const char *const gc_mntns_args[] = { "--allow-changed-files", NULL };

static const struct pl_row gc_rows[] = {
	{ .stage = "collect-pstree", .does = "check the images are a complete dump (pids may be in use)",
	  .reads = "inventory.img, pstree.img, core-*.img", .writes = "TASK records", .args = gc_pstree_args, .wait = PL_EXIT },
	{ .stage = "collect-remaps", .does = "list the link remaps, gone ones too",
	  .reads = "files.img, remaps.img", .writes = "REMAP records", .args = gc_remaps_fixed, .wait = PL_EXIT },
	{ .stage = "build-mntns", .does = "make the tree's mount namespaces, where its remaps live",
	  .reads = "TASK records; mntns.img, mountpoints-*.img", .writes = "MNTNS records; RUN/ns pins", .wait = PL_EXIT,
	  .args = gc_mntns_args,
	  .rollback = gc_mntns_rollback, .rollback_doc = "its pins are unmounted (done after gc too)" },
	{ .stage = "gc-remaps", .does = "remove each link remap in its namespace, or list it (--show)",
	  .reads = "REMAP, MNTNS records", .writes = "REMAP records (removed, missing)",
	  .more_args = gc_remaps_args, .before = gc_remaps_before, .wait = PL_EXIT },
};

const struct pipeline pl_gc = {
	.command = "gc",
	.shape = "collect-pstree --no-pid-check -> collect-remaps --allow-missing -> build-mntns -> gc-remaps",
	.rows = gc_rows, .nr_rows = sizeof(gc_rows) / sizeof(gc_rows[0]),
};

int cmd_gc(int argc, char **argv)
{
	struct drv_opts o;
	struct run r;
	struct err e = { 0 };
	struct gc_state gs = { 0 };
	int ret, lock, removed = 0, listed = 0, gone = 0, refused = 0;

	if ((ret = drv_parse(argc, argv, &o)) != 0) {
		if (ret < 0)
			gc_usage();
		return ret < 0 ? 0 : ret;
	}
	log_init("amber", o.verbosity, 2);
	if (!o.images) {
		drv_error("need -D DIR");
		gc_usage();
		return EXIT_USAGE;
	}
	if ((lock = dumpdir_lock(o.images, "gc", &e)) < 0) {
		drv_error("%s", e.msg);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	if ((ret = run_init(&r, "gc", o.images, o.run_dir, o.verbosity, o.logfile, &e)) < 0) {
		drv_error("%s", e.msg);
		close(lock);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	mntns_unpin(r.dir);
	if (r.log_fd >= 0)
		log_init("amber", o.verbosity, r.log_fd);
	if (pl_run(&pl_gc, &r, &o, &gs, &e) < 0) {
		run_free(&r);
		close(lock);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	mntns_unpin(r.dir);
	for (int i = gs.first; i < r.nr_recs; i++) {
		StreamRecord *rec = stream_record__unpack(NULL, r.recs[i].len, r.recs[i].data);
		const RemapPlanEntry *rp = rec && rec->body_case == STREAM_RECORD__BODY_REMAP ? rec->remap : NULL;
		char ns[48] = "";

		if (rp && rp->has_mntns)
			snprintf(ns, sizeof(ns), " in mount namespace %u", rp->mntns);
		if (rp && rp->refused) {
			printf("left alone: %s (file %u)%s: %s\n", rp->path, rp->file_id, ns, rp->refused);
			refused++;
		} else if (rp && rp->missing) {
			printf("already gone: %s (file %u)%s\n", rp->path, rp->file_id, ns);
			gone++;
		} else if (rp && rp->removed) {
			printf("removed %s (file %u)%s\n", rp->path, rp->file_id, ns);
			removed++;
		} else if (rp) {
			printf("link remap %s (file %u)%s\n", rp->path, rp->file_id, ns);
			listed++;
		}
		if (rec)
			stream_record__free_unpacked(rec, NULL);
	}
	if (removed)
		printf("removed %d link remap%s: the images in %s can no longer be restored\n", removed,
		       removed == 1 ? "" : "s", r.images);
	else if (listed)
		printf("%d link remap%s would be removed (without --show); the images can be restored until then\n",
		       listed, listed == 1 ? "" : "s");
	else if (!refused)
		printf("nothing to remove in %s%s\n", r.images, gone ? " (its link remaps are gone already)" : "");
	run_free(&r);
	close(lock);
	if (refused) {
		drv_error("%d link remap%s of %s left alone: not the file%s the dump made (remaps.img names other files)",
			  refused, refused == 1 ? "" : "s", o.images, refused == 1 ? "" : "s");
		return EXIT_INPUT;
	}
	return EXIT_OK;
}
