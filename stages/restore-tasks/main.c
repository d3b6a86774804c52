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
 * Exit status	ipc/exitcodes.h. On failure every task it created is killed
 *	(and, being traced with PTRACE_O_EXITKILL, dies with the stage).
 * Capabilities	all: the tasks it forks inherit its capability sets, so it
 *	must not drop what the restored processes had.
 * By hand	rerun from a run directory: sh RUN/rerun-restore-tasks.sh
 */
#include "ipc/fds.h"
#include "ipc/stage.h"
#include "stages/restore-tasks/restore-tasks.h"

int main(int argc, char **argv)
{
	static const struct stage_desc desc = {
		.name = "restore-tasks",
		.summary = "fork every process with its old pid and transplant its memory and CPU state into it",
		.fds = { FD_NAME_FILES },
		.keep_all_caps = true,
		.run = restore_tasks_run,
	};

	return stage_main(&desc, NULL, argc, argv);
}
