/* gc: 'amber gc -D DIR [--show]' removes what a dump left on the file
 * system when no restore will follow: the link remaps of files that were
 * unlinked while open (a dump whose tree was killed keeps them for the
 * restore; --keep-link-remaps keeps them after --leave-running).
 *
 *	collect-pstree --no-pid-check -> collect-remaps --allow-missing -> build-mntns -> gc-remaps
 *
 * collect-pstree checks the images are a complete dump; build-mntns makes
 * the tree's mount namespaces (when it had any), where link remaps made
 * inside them live; gc-remaps removes each link in its namespace (or
 * lists it, --show). The namespaces' pins are unmounted at the end. gc is idempotent: what is gone already
 * is said so. Once a remap is removed the images cannot be restored.
 */
#include <stdio.h>
#include <string.h>

#include "driver/driver.h"
#include "driver/mntns.h"
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
	struct run_stage pstree, remaps, mntns, gc;
	struct run_stage *all[4] = { &pstree, &remaps, &mntns, &gc };
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
	if (ret == 0) {
		cur = &mntns;
		ret = run_start(&r, &mntns, "build-mntns", NULL, NULL, 0, &e);
		if (ret == 0)
			ret = run_wait(&r, all + 2, 1, &mntns, false, &e);
	}
	first = r.nr_recs;
	if (ret == 0) {
		cur = &gc;
		ret = run_start(&r, &gc, "gc-remaps", gc_args, NULL, 0, &e);
		if (ret == 0)
			ret = run_wait(&r, all + 3, 1, &gc, false, &e);
	}
	mntns_unpin(r.dir);
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

		char ns[48] = "";

		if (rp && rp->has_mntns)
			snprintf(ns, sizeof(ns), " in mount namespace %u", rp->mntns);
		if (rp && rp->missing) {
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
	else
		printf("nothing to remove in %s%s\n", r.images, gone ? " (its link remaps are gone already)" : "");
	run_free(&r);
	return EXIT_OK;
}
