/* amber-restore-tasks: recreate the dumped processes and set them running.
 *
 * What it does
 *	For each process on stdin (parents first) it forks a task with the old
 *	pid (clone3 set_tid), which sets its session and group, umask and cwd,
 *	puts its open files on their old descriptor numbers (received from
 *	restore-files on the files socket), maps a one-page trampoline
 *	('syscall; int3') at an address free in the image, and stops. This
 *	stage, as its tracer, then transplants the image into it with remote
 *	syscalls: unmaps amber's own mappings, moves the vDSO and vvar to their
 *	old addresses, maps every VMA, writes the dumped pages, sets the mm
 *	fields and exe (PR_SET_MM_MAP), sigactions, name, rseq and
 *	clear_child_tid; finally it unmaps the trampoline and loads registers,
 *	FPU/xstate and the signal mask, and detaches.
 *
 * Inputs	stdin: 'task' records (collect-pstree) and 'fd_plan' records
 *	(restore-files). fd "files": the socket restore-files sent the opened
 *	files on. Images: core-TID, mm-PID, pagemap-PID, pages-PID, fs-PID.
 * Outputs	stdout: a 'restored' record per process, then end. The restored
 *	root is this stage's child: when the stage exits it is re-parented to
 *	the driver (a child subreaper) or to init.
 * Options	--pidns: restore into a new pid namespace, where every task keeps
 *	its dumped pid; amber's small init (pid 1) reaps orphans and exits with
 *	the root's status. Implied when the dumped root was pid 1 of its own
 *	namespace: then the root itself is the new namespace's init.
 * Exit status	ipc/exitcodes.h. On failure every task it created is killed
 *	(and, being traced with PTRACE_O_EXITKILL, dies with the stage).
 * Capabilities	all: the tasks it forks inherit its capability sets, so it
 *	must not drop what the restored processes had.
 * By hand	rerun from a run directory: sh RUN/rerun-restore-tasks.sh
 */
#include "ipc/fds.h"
#include "ipc/stage.h"
#include "stages/restore-tasks/restore-tasks.h"

static int rt_parse_option(void *opts, int opt, const char *arg, struct err *e)
{
	struct rt_opts *o = opts;

	if (opt == 'P') {
		o->pidns = true;
		return 0;
	}
	return err_set(e, 2, "unknown option");
}

static const struct option rt_options[] = {
	{ "pidns", no_argument, NULL, 'P' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	static const struct stage_desc desc = {
		.name = "restore-tasks",
		.summary = "fork every process with its old pid and transplant its memory and CPU state into it",
		.fds = { FD_NAME_FILES },
		.keep_all_caps = true,
		.usage = "      --pidns            restore into a new pid namespace (implied when the root was pid 1)",
		.options = rt_options,
		.parse_option = rt_parse_option,
		.run = restore_tasks_run,
	};
	struct rt_opts opts = { false };

	return stage_main(&desc, &opts, argc, argv);
}
