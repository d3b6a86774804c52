/* amber-lazy-pages: serve the memory of a lazily restored tree.
 *
 * What it does
 *	'amber restore --lazy-pages' leaves the private anonymous memory of
 *	the restored processes empty, registered with a userfaultfd in
 *	missing mode (ipc/lazy.h); restore-tasks starts this program before
 *	any task exists and hands it each process's userfaultfd and pidfd.
 *	It loads the processes' mm, pagemap and pages images, answers one
 *	byte (ready), and forks: the child serves, the parent keeps.
 *	The server answers every fault: a page the images hold is copied in
 *	(UFFDIO_COPY, with up to 15 more that follow it), any other page, or
 *	one it put in before (the program dropped it since: MADV_DONTNEED), is
 *	a zero page (UFFDIO_ZEROPAGE). Between faults it pushes the rest in
 *	the background, 64 pages at a time, at most --push-rate MiB/s, and
 *	closes each process's userfaultfd once all its pages are in: from then
 *	on the process does not depend on it. A process that forks has its
 *	child served the same way (UFFD_FEATURE_EVENT_FORK). A process that
 *	moves lazy memory with mremap before all of it is in cannot be
 *	followed yet: the server stops with that message.
 *	The keeper holds copies of the userfaultfds (so that the kernel does
 *	not unregister the memory when the server dies: a fault then waits,
 *	it never reads zeros) and waits for the server: if it ends other than
 *	with every page in (killed, a page it could not copy, images gone),
 *	the keeper kills every restored process and its descendants and logs
 *	why. The tree never runs with pages missing.
 * Inputs	the lazy socket (--fd lazy=N): SCM_RIGHTS batches of
 *	userfaultfds and pidfds, ids the pids of the images (ipc/fdpass.h,
 *	ipc/lazy.h). -D: the images directory restored from.
 * Options	--push-rate MIB: the background push, MiB/s (default 0: as fast
 *	as it goes).
 * Outputs	no images; one byte on the lazy socket once it serves; its log
 *	(restore-tasks gives -o RUN/lazy-pages.log) says what it served and
 *	pushed, and why it killed a tree.
 * Named fds	`lazy`: the socket from restore-tasks.
 * Exit status	0 once every page is in (or every process exited); 4 when
 *	the server failed and the keeper killed the tree; lib/exitcodes.h.
 * Side effects	writes pages into the restored processes; kills them if
 *	their pages cannot all be served.
 * Capabilities	CAP_KILL (the restored processes may be another user's).
 * By hand	restore-tasks starts it for 'amber restore --lazy-pages';
 *	'kill PID' of the server (the child) shows the keeper's refusal.
 */
#include "ipc/stage.h"
#include "lib/exitcodes.h"
#include "stages/lazy-pages/lazy-pages.h"

static int lp_parse_option(void *opts, int opt, const char *arg, struct err *e)
{
	struct lp_opts *o = opts;

	if (opt == 'r')
		return stage_parse_int("--push-rate", arg, 0, 1 << 20, &o->push_rate, e);
	return err_set(e, EXIT_USAGE, "unknown option");
}

static const struct option lp_options[] = {
	{ "push-rate", required_argument, NULL, 'r' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	static const struct stage_desc desc = {
		.name = "lazy-pages",
		.summary = "serve the memory of a tree restored with --lazy-pages, on fault and in the background",
		.usage = "      --push-rate MIB  background push in MiB/s (0: no limit)",
		.fds = { "lazy" },
		.caps = { CAP_KILL },
		.nr_caps = 1,
		.options = lp_options,
		.parse_option = lp_parse_option,
		.run = lazy_pages_run,
	};
	struct lp_opts opts = { 0 };

	return stage_main(&desc, &opts, argc, argv);
}
