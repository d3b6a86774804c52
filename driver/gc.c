/* gc: 'amber gc -D DIR [--show]' removes what a dump left on the file
 * system when no restore will follow: the link remaps of files that were
 * unlinked while open (a dump whose tree was killed keeps them for the
 * restore; --keep-link-remaps keeps them after --leave-running).
 *
 *	collect-pstree --no-pid-check -> collect-remaps --allow-missing -> gc-remaps
 *
 * collect-pstree checks the images are a complete dump; gc-remaps removes
 * each link (or lists it, --show). gc is idempotent: what is gone already
 * is said so. Once a remap is removed the images cannot be restored.
 */
#include <stdio.h>
#include <string.h>

#include "driver/driver.h"
#include "driver/opts.h"
#include "driver/run.h"
#include "images/stream.pb-c.h"
#include "ipc/exitcodes.h"
#include "lib/log.h"

static void gc_usage(void)
{
	printf("usage: amber gc -D DIR [--show] [-v N] [-o LOG] [--run-dir DIR]\n"
	       "  --show   list the link remaps that would be removed, remove nothing\n");
}

int cmd_gc(int argc, char **argv)
{
	struct drv_opts o;
	struct run r;
	struct run_stage pstree, remaps, gc;
	struct run_stage *all[3] = { &pstree, &remaps, &gc };
	struct run_stage *cur = &pstree;
	struct err e = { 0 };
	const char *pstree_args[] = { "--no-pid-check", NULL };
	const char *remaps_args[] = { "--allow-missing", NULL };
	const char *gc_args[] = { NULL, NULL };
	int ret, first, removed = 0, listed = 0, gone = 0;

	if ((ret = drv_parse(argc, argv, "Dov", &o)) != 0) {
		if (ret < 0)
			gc_usage();
		return ret < 0 ? 0 : ret;
	}
	log_init("amber", o.verbosity, 2);
	if (!o.images) {
		fprintf(stderr, "amber gc: need -D DIR\n");
		gc_usage();
		return EXIT_USAGE;
	}
	if (o.show)
		gc_args[0] = "--show";
	if ((ret = run_init(&r, "gc", o.images, o.run_dir, o.verbosity, o.logfile, &e)) < 0) {
		pr_err("%s", e.msg);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	ret = run_start(&r, &pstree, "collect-pstree", pstree_args, NULL, 0, &e);
	if (ret == 0)
		ret = run_wait(&r, all, 1, &pstree, false, &e);
	if (ret == 0) {
		cur = &remaps;
		ret = run_start(&r, &remaps, "collect-remaps", remaps_args, NULL, 0, &e);
		if (ret == 0)
			ret = run_wait(&r, all + 1, 1, &remaps, false, &e);
	}
	first = r.nr_recs;
	if (ret == 0) {
		cur = &gc;
		ret = run_start(&r, &gc, "gc-remaps", gc_args, NULL, 0, &e);
		if (ret == 0)
			ret = run_wait(&r, all + 2, 1, &gc, false, &e);
	}
	if (ret < 0) {
		run_kill(cur);
		run_report_failure(&r, cur, &e);
		run_free(&r);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	/* gc-remaps' own records come after everything before it. */
	for (int i = first; i < r.nr_recs; i++) {
		StreamRecord *rec = stream_record__unpack(NULL, r.recs[i].len, r.recs[i].data);
		const RemapPlanEntry *rp = rec && rec->body_case == STREAM_RECORD__BODY_REMAP ? rec->remap : NULL;

		if (rp && rp->missing) {
			printf("already gone: %s (file %u)\n", rp->path, rp->file_id);
			gone++;
		} else if (rp && rp->removed) {
			printf("removed %s (file %u)\n", rp->path, rp->file_id);
			removed++;
		} else if (rp) {
			printf("link remap %s (file %u)\n", rp->path, rp->file_id);
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
	else
		printf("nothing to remove in %s%s\n", r.images, gone ? " (its link remaps are gone already)" : "");
	run_free(&r);
	return EXIT_OK;
}
