/* amber-collect-pstree: read and check the dumped process tree; plan creation.
 *
 * What it does
 *	Reads inventory.img (refusing an incomplete dump, another image format,
 *	or a dump whose CPU state cannot be loaded on this CPU) and pstree.img,
 *	checks that the tree is well formed (one root, unique pids and tids,
 *	every parent present, each process's own pid its first thread), adds
 *	a helper entry (PstreeEntry.helper) for each session or process group
 *	whose leader is not in the tree, so that restore can make it again
 *	(images/pstree.h), checks that every pid and tid it must recreate is free
 *	on this machine, then writes the processes in creation order (parents
 *	before children, a helper before the members it serves) for the later
 *	restore stages.
 *
 * Inputs	images: inventory.img, pstree.img. stdin: not read.
 *
 * Outputs	stdout: one 'task' record per process (zombies and helpers
 *	included), parents first, then end.
 *
 * Exit status	3 when the images are bad or a pid is taken (the message names
 *	the pid and who holds it); see lib/exitcodes.h. No side effects.
 *
 * Capabilities	none.
 *
 * By hand	amber stage collect-pstree -D DIR | amber show --stream /dev/stdin
 */
#include "lib/exitcodes.h"
#include "ipc/stage.h"
#include "stages/collect-pstree/collect-pstree.h"

static int collect_parse_option(void *opts, int opt, const char *arg, struct err *e)
{
	struct collect_opts *o = opts;

	if (opt == 'P') {
		o->pidns = true;
		return 0;
	}
	if (opt == 'N') {
		o->no_pid_check = true;
		return 0;
	}
	return err_set(e, EXIT_USAGE, "unknown option");
}

static const struct option collect_options[] = {
	{ "pidns", no_argument, NULL, 'P' },
	{ "no-pid-check", no_argument, NULL, 'N' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	static const struct stage_desc desc = {
		.name = "collect-pstree",
		.reads_images = true,
		.summary = "check inventory.img and pstree.img and write the processes to create, parents first",
		.nr_caps = 0,
		.usage = "      --pidns            the restore goes into a new pid namespace: do not ask whether the pids are free here\n"
			 "      --no-pid-check     only check the images (amber gc: the dumped tree may still run)",
		.options = collect_options,
		.parse_option = collect_parse_option,
		.run = collect_pstree_run,
	};
	struct collect_opts opts = { false, false };

	return stage_main(&desc, &opts, argc, argv);
}
