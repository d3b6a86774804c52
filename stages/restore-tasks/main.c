/* amber-restore-tasks: recreate the dumped processes and set them running.
 *
 * What it does
 *	Memfds. First it gets every memfd the tasks map: the one restore-files
 *	sent for a descriptor of the same inode (files.img says which file id
 *	had which inode), so descriptor and mapping stay one inode, or else one
 *	it makes from memfd-INO.img and pages-memfd-INO.img (name, size,
 *	contents, mode, owner, seals). A pidfd (fd_plan pidfd_pid) is opened
 *	by the task itself with pidfd_open once every task exists (after the
 *	root), in place of the stand-in restore-files passed; so is a file
 *	under /proc of a process of the tree (fd_plan proc_path, the pid
 *	as the stage sees it, opened at its position). A mapping of a deleted regular file
 *	(VmaEntry deleted) and a deleted executable come from the description
 *	restore-files made of that file ('mapped', same device and inode).
 *
 *	Namespaces. Before any task exists it makes the tree's own UTS, IPC and
 *	network namespaces again from utsns.img, ipcns.img and netns.img (ns.c:
 *	a short-lived child unshares each, sets the dumped hostname and
 *	domainname, or lo up if it was, and the stage keeps an fd of it; an
 *	IPC namespace is new and empty); then children that enter the new
 *	network namespaces make their veth devices (a pair between two of
 *	them at once; one whose peer was outside the tree with the peer in
 *	the stage's own namespace, named by --external veth[IFNAME]:OUTSIDE), set sysctls, MTU, MAC and flags, add addresses and
 *	routes (images/netns.h), and wait for the carriers to settle.
 *
 *	Processes. It creates every process on stdin (parents first) with its
 *	old pid (clone3 set_tid): the stage forks the root, every task forks
 *	its own children. Each task, still running amber's code, joins its
 *	session and group; a session leader whose terminal was a pty of the
 *	tree (fs-PID.img ctty_fd) takes it with TIOCSCTTY, and each /dev/tty
 *	description (an 'fd_plan' with dev_tty) becomes the task's own open of
 *	/dev/tty, before it forks, so its children inherit both; it enters its mount namespace (setns through the pin
 *	of a 'mntns' record, so cwd, root and paths resolve there) and its
 *	UTS, IPC and network namespaces (setns; a task the images do not list
 *	goes back to the stage's own, so a child of a task with its own
 *	namespace may live in the host's, as it did), before it forks its
 *	children, who inherit them. It sets umask and cwd (by path, or through
 *	the fd of an 'fs_plan' record for a cwd under an overmount, or of the
 *	file fs-PID.img's cwd_file_id names for a removed one), opens its
 *	root and cwd O_PATH if its root is not / (the stage chroots it later,
 *	chroot.c), puts its open files on their old descriptor numbers
 *	(received from restore-files on the files socket), takes its file
 *	locks again, gives the terminal to its dumped foreground group
 *	(a session leader, ctty_fg, once its children exist), gives its files their owner, signal and O_ASYNC, makes its
 *	epolls' registrations again (a file that moved to another fd is put
 *	at the registered number for the call, and that number's file back),
 *	maps a trampoline ('syscall; int3' and
 *	scratch pages) at an address free in the image, and stops; until the
 *	stage has seized it, it talks to the stage through futex slots in
 *	shared memory (fork.c).
 *
 *	Zombies and helpers. Zombies join their session and group and exit
 *	with their dumped status, unreaped; helper tasks (from collect-pstree)
 *	hold a session or group whose leader is gone until its members exist,
 *	then exit.
 *
 *	Transplant. This stage, as tracer, then transplants each image with
 *	remote syscalls: unmaps amber's own mappings, moves the vDSO and vvar
 *	to their old addresses, maps every VMA (accounting and madvise advice;
 *	shared anonymous memory and memfds from the one object the stage
 *	holds, through /proc/<stage>/map_files/ or /proc/<stage>/fd/), writes
 *	the dumped pages in parallel chunks, sets the mm fields and exe
 *	(PR_SET_MM_MAP), chroots it into its dumped root (once every path it
 *	maps is open), flushes signals sent while it was amber's, sets
 *	sigactions and the process state (personality, subreaper, itimers,
 *	POSIX timers with their ids, rlimits), creates the other threads with
 *	their tids (remote clone3, PTRACE_O_TRACECLONE), and in every thread
 *	sets name, rseq, robust list, clear_child_tid, sigaltstack, pending
 *	signals, then credentials, dumpable and parent-death signal, then
 *	seccomp filters; finally it unmaps the trampoline.
 *
 *	Proc mounts. With a new pid namespace, the tree's own proc mounts are
 *	then mounted again from inside it (procmnt.c: a helper's child joins
 *	it with setns(CLONE_NEWPID) and replaces each in its mount namespace),
 *	so /proc shows the restored pids.
 *
 *	Release. When every task is done it loads registers, FPU/xstate and
 *	signal mask of every thread, has the verify stage compare the tree
 *	with the images (verify.c), and detaches them all at once.
 *
 * Inputs	stdin: 'task' records (collect-pstree), 'mntns' records
 *	(build-mntns), 'fd_plan', 'fs_plan' and 'epoll_add' records
 *	(restore-files). fd "files": the socket restore-files sent the opened
 *	files (and cwds and roots under overmounts) on. Images:
 *	core-TID, mm-PID, pagemap-PID, pages-PID, fs-PID; for memfd mappings
 *	files.img, memfd-INO and pages-memfd-INO; utsns.img, ipcns.img and
 *	netns.img if the dump has them.
 *
 * Options	--pidns: restore into a new pid namespace, where every task keeps
 *	its dumped pid; amber's small init (pid 1) reaps orphans and exits with
 *	the root's status. Implied when the dumped root was pid 1 of its own
 *	namespace: then the root itself is the new namespace's init.
 *	--external veth[IFNAME]:OUTSIDE (any number): the peer of the tree's
 *	veth IFNAME, outside the tree at dump, is made in the stage's own
 *	network namespace as OUTSIDE (down); without it such a veth fails
 *	the restore naming it.
 *	--empty-ns net: every new network namespace is left empty (as is one
 *	dumped with --empty-ns net, NetnsEntry.empty), for the caller to set
 *	up.
 *
 * Outputs	stdout: a 'restored' record per live process (pid as the driver
 *	sees it; zombies and helpers have none), one with ns_init for amber's
 *	init of a new pid namespace if there is one, then end. The restored
 *	root (or that init) is this stage's child: when the stage exits it is
 *	re-parented to the driver (a child subreaper) or to init.
 *
 *	--lazy-pages: the private anonymous memory of every process is not
 *	filled but registered with a userfaultfd in missing mode (made in
 *	the task, which never sees it) once the transplant's own calls are
 *	done; amber-lazy-pages, started before any task exists (double fork,
 *	its own session, its log RUN/lazy-pages.log), is handed the
 *	userfaultfds and pidfds and must say it serves before verify runs
 *	and the tree is let go (ipc/lazy.h); pages of a parent chain are
 *	served from it too. --lazy-push-rate MIB: its background push, MiB/s.
 *
 * Named fds	`files` (required, above); `tty` (with restore --shell-job): the
 *	terminal amber runs on. A root that leads its own process group (a
 *	shell's job) gets it as its foreground group before the tree runs, if
 *	amber's group had it. `verify` (unless restore --no-verify): a stream
 *	socket to the verify stage; once every task is made, and before any
 *	runs, the stage sends a 'task' record per process (host_pid: its pid
 *	here) and waits for verify's 'verdict'; a tree that differs from the
 *	images is removed (verify.c).
 *
 * Exit status	lib/exitcodes.h. On failure every task it created is killed
 *	(and, being traced with PTRACE_O_EXITKILL, dies with the stage); a
 *	missing or bad memfd image fails before any task exists.
 *
 * Capabilities	all while it forks the tree: the tasks it forks inherit its
 *	capability sets, so it must not drop what the restored processes had.
 *	Once every task exists it keeps only CAP_SYS_PTRACE, CAP_SYS_ADMIN,
 *	CAP_SYS_CHROOT, CAP_SYS_NICE, CAP_SYS_RESOURCE, CAP_KILL, CAP_CHOWN,
 *	CAP_FOWNER, CAP_FSETID, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
 *	CAP_IPC_LOCK and CAP_CHECKPOINT_RESTORE (in every set, the bounding
 *	set too): the transplant's own calls need no more (the task makes
 *	the calls that change its credentials itself).
 *	Confined: no_new_privs and a seccomp allow list (syscalls.c), set
 *	only once every task it forks exists, so that no restored process
 *	inherits them: the images are parsed before that, the transplant
 *	that acts on them after (doc/design.md, Confined stages).
 *
 * By hand	rerun from a run directory: sh RUN/rerun-restore-tasks.sh
 */
#include <string.h>

#include "lib/exitcodes.h"
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
	if (opt == 'N')
		return netns_empty_parse(arg, &o->empty_net, e);
	if (opt == 'E') {
		int ret;

		if (o->nr_ext >= NETNS_EXT_MAX)
			return err_set(e, EXIT_USAGE, "more than %d --external veth[]", NETNS_EXT_MAX);
		if ((ret = netns_ext_parse(arg, true, &o->ext[o->nr_ext], e)) < 0) {
			e->exit_code = EXIT_USAGE;
			return ret;
		}
		if (ret == 0)
			return err_set(e, EXIT_USAGE, "--external '%s': restore-tasks takes only veth[IFNAME]:OUTSIDE", arg);
		o->nr_ext++;
		return 0;
	}
	if (opt == 'L') {
		o->lazy = true;
		return 0;
	}
	if (opt == 'R')
		return stage_parse_int("--lazy-push-rate", arg, 0, 1 << 20, &o->push_rate, e);
	return err_set(e, EXIT_USAGE, "unknown option");
}

static const struct option rt_options[] = {
	{ "pidns", no_argument, NULL, 'P' },
	{ "external", required_argument, NULL, 'E' },
	{ "empty-ns", required_argument, NULL, 'N' },
	{ "lazy-pages", no_argument, NULL, 'L' },
	{ "lazy-push-rate", required_argument, NULL, 'R' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	static const struct stage_desc desc = {
		.name = "restore-tasks",
		.reads_images = true,
		.summary = "fork every process with its old pid and transplant its memory and CPU state into it",
		.fds = { FD_NAME_FILES },
		.optional_fds = { FD_NAME_TTY, FD_NAME_VERIFY },
		.keep_all_caps = true,
		/* Once the tree is forked (stage_confine): tracing and writing
		 * the tasks whatever their credentials, their limits and
		 * scheduling, killing them on failure, the shared memory and
		 * memfds it makes and gives to their owners, a proc mounted
		 * (setns, mount) for a new pid namespace, /proc of the tasks. */
		.late_caps = { CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_SYS_NICE, CAP_SYS_RESOURCE, CAP_KILL,
			       CAP_CHOWN, CAP_FOWNER, CAP_FSETID, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_IPC_LOCK,
			       CAP_CHECKPOINT_RESTORE },
		.nr_late_caps = 13,
		.syscalls = restore_tasks_syscalls,
		.ioctls = restore_tasks_ioctls,
		.confine_late = true,
		.usage = "      --pidns            restore into a new pid namespace (implied when the root was pid 1)\n"
			 "      --external veth[IFNAME]:OUTSIDE  make the peer of veth IFNAME, outside the tree, as OUTSIDE here\n"
			 "      --lazy-pages       private anonymous memory served on fault by amber-lazy-pages\n"
			 "      --lazy-push-rate MIB  amber-lazy-pages' background push, MiB/s (0: no limit)",
		.options = rt_options,
		.parse_option = rt_parse_option,
		.run = restore_tasks_run,
	};
	static struct rt_opts opts;

	return stage_main(&desc, &opts, argc, argv);
}
