/* amber-seize: stop a process tree and hold it for the other dump stages.
 *
 * What it does
 *	Finds every process of the tree rooted at -t PID (threads from
 *	/proc/PID/task, children from .../children, re-scanned until stable so
 *	nothing forked during seizing is missed; a thread that exits while
 *	being seized is dropped, a process that does is recorded as the zombie
 *	it became, or left out if already reaped), PTRACE_SEIZEs and
 *	interrupts every thread with PTRACE_O_SUSPEND_SECCOMP (the task's own
 *	filters must not judge amber's remote syscalls), and records each
 *	thread's core: registers (adjusted so an interrupted syscall
 *	restarts), FPU/xstate, signal mask, name, rseq registration, robust
 *	futex list, clear_child_tid, pending signals with their siginfo,
 *	sigaltstack, credentials (uids, gids, groups, the five capability
 *	sets, securebits, no_new_privs), seccomp filters, parent-death signal;
 *	and per process the sigactions, brk, process-wide pending signals,
 *	itimers, POSIX timers, rlimits, personality, dumpable and
 *	child-subreaper flag. What only the task can tell is read with remote
 *	syscalls, one at a time, run from a parking gadget ('syscall', then a
 *	pause(2) loop, lib/rsys.h) that seize writes into the zero padding at
 *	the end of the task's vDSO and takes away again; besides it, only a
 *	scratch area it unmaps again is written into the task. Every change
 *	to a task (signal mask, borrowed registers, scratch area, gadget) is
 *	written down in a journal before it is made (RUN/seize.journal,
 *	images/rjournal.h): a thread whose seize dies in the middle of a
 *	remote syscall finishes it and waits in the gadget, and
 *	amber-unseize puts back what the journal says (the driver runs it).
 *	A zombie is recorded in pstree.img with its exit status and has no
 *	other image. A thread in strict seccomp mode, or a zombie root, is
 *	refused. Every process's uts, ipc, net, user, cgroup and time
 *	namespaces (/proc/PID/ns) are compared with seize's own (ns.c): a UTS
 *	namespace of the tree's own is recorded in utsns.img (its hostname
 *	and domainname read by a child that enters it), an IPC namespace in
 *	ipcns.img if it is empty (no System V object, no POSIX message
 *	queue; one that holds any is refused naming them by kind, key and
 *	id or name), a network namespace in netns.img with its loopback and
 *	veth devices, addresses, routes and sysctls (read with rtnetlink by a
 *	child that enters it; another kind of device, a veth to outside the
 *	tree that no --external veth[IFNAME] names, a multipath route, or a socket of the tree in it is refused,
 *	naming the namespace and the device, or the pid and fd); a user, cgroup or time namespace of its own is refused,
 *	naming pid, namespace (e.g. user:[4026532...]) and what to do, as is
 *	a thread in other namespaces than its process. A refusal comes before
 *	anything else is dumped, and the tree is resumed. seize then stays
 *	alive as the tracer, holding the tree stopped, until the driver says
 *	on the control fd what to do with it.
 *
 * Inputs	-t PID; --external veth[IFNAME] (any number): a veth of a network
 *	namespace of the tree whose peer is outside it, recorded as such
 *	rather than refused; stdin is not read. A test hook: with
 *	AMBER_TEST_SEIZE_DIE_AFTER=N in its environment seize SIGKILLs itself
 *	just after its Nth step that changes or stops a thread of the tree
 *	(tests/e2e/t015-seize-killed.sh).
 *
 * Options	--track (pre-dump): on "release resume", before the tree is let
 *	go, start write tracking of every process (stages/seize/track.c,
 *	lib/track.h): a userfaultfd made in the task by a remote syscall,
 *	taken out with pidfd_getfd and closed there, or the one the holder of
 *	--prev-images-dir PREV had; its private VMAs registered for
 *	asynchronous write-protect and all protected; the set handed to
 *	amber-track, started if none holds it yet, listening at
 *	DIR/track.sock. A process that cannot be tracked is warned about
 *	and copied in full by the next iteration; it never fails the dump.
 *	--empty-ns net: the tree's network namespaces are not read (their
 *	devices are the caller's): netns.img records each with empty set.
 *
 * Outputs	pstree.img, core-TID.img for every thread of every process but
 *	zombies; utsns.img, ipcns.img, netns.img when the tree has such namespaces of
 *	its own (an earlier dump's are removed otherwise); on stdout a state stream with one 'task' record per process,
 *	then the end record, which tells the driver the tree is frozen and the
 *	images are written. With --run-dir, the journal RUN/seize.journal.
 *
 * Named fds	`control` (optional): lines "release kill" or "release resume".
 *	EOF on it (the driver died) resumes the tree. Without the fd the tree
 *	is resumed as soon as the images are written (a hand run).
 *
 * Exit status	0 after release; see lib/exitcodes.h. If seize fails, every
 *	thread has its own registers and mask back before it exits, as far as
 *	it could; if it dies, ptrace lets the tree go, a thread it was using
 *	waits in the gadget, and amber-unseize (from the journal) puts it back.
 *
 * Capabilities	CAP_SYS_PTRACE, CAP_KILL; CAP_SYS_ADMIN for
 *	PTRACE_O_SUSPEND_SECCOMP, to read seccomp filters
 *	(PTRACE_SECCOMP_GET_FILTER) and for its children to enter the tree's
 *	UTS, IPC and network namespaces (setns) and mount their mqueue file system
 *	(fsmount, detached) and to open /proc/PID/map_files; CAP_SYS_NICE to
 *	run at real-time priority (SCHED_FIFO, unless AMBER_NO_RT is set), so
 *	busy threads of the tree do not delay it between the stops it waits
 *	for; CAP_DAC_READ_SEARCH to look into /proc/PID/map_files of a task of
 *	another user (its shared scratch area, for batches).
 *
 * By hand	amber-seize -t 1234 -D /tmp/img --dump-id 1 -v3   (stops and resumes 1234)
 */
#include <stdlib.h>

#include "lib/exitcodes.h"
#include "ipc/fds.h"
#include <string.h>

#include "ipc/stage.h"
#include "stages/seize/seize.h"

static int seize_parse_option(void *opts, int opt, const char *arg, struct err *e)
{
	struct seize_opts *o = opts;

	if (opt == 't')
		return stage_parse_int("-t", arg, 1, 1 << 30, &o->pid, e);
	if (opt == 'E') {
		int ret;

		if (o->nr_ext >= NETNS_EXT_MAX)
			return err_set(e, EXIT_USAGE, "more than %d --external veth[]", NETNS_EXT_MAX);
		if ((ret = netns_ext_parse(arg, false, &o->ext[o->nr_ext], e)) < 0) {
			e->exit_code = EXIT_USAGE;
			return ret;
		}
		if (ret == 0)
			return err_set(e, EXIT_USAGE, "--external '%s': seize takes only veth[IFNAME]", arg);
		o->nr_ext++;
		return 0;
	}
	if (opt == 'T') {
		o->track = true;
		return 0;
	}
	if (opt == 'N')
		return netns_empty_parse(arg, &o->empty_net, e);
	if (opt == 'P') {
		o->prev = arg;
		return 0;
	}
	return err_set(e, EXIT_USAGE, "unknown option");
}

static const struct option seize_options[] = {
	{ "tree", required_argument, NULL, 't' },
	{ "external", required_argument, NULL, 'E' },
	{ "track", no_argument, NULL, 'T' },
	{ "empty-ns", required_argument, NULL, 'N' },
	{ "prev-images-dir", required_argument, NULL, 'P' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	static const struct stage_desc desc = {
		.name = "seize",
		.summary = "stop the process tree of -t PID with ptrace, write pstree.img and core-TID.img, hold it until released",
		.usage = "  -t, --tree PID         root of the tree to dump\n"
			 "      --external veth[IFNAME]  the veth IFNAME of a network namespace of the tree has its peer outside\n"
			 "      --track            at 'release resume', start write tracking and leave it to amber-track\n"
			 "      --prev-images-dir PREV  with --track: take the tracking over from PREV's amber-track",
		.optional_fds = { FD_NAME_CONTROL },
		.caps = { CAP_SYS_PTRACE, CAP_KILL, CAP_SYS_ADMIN, CAP_SYS_NICE, CAP_DAC_READ_SEARCH },
		.nr_caps = 5,
		.options = seize_options,
		.shortopts = "t:",
		.parse_option = seize_parse_option,
		.run = seize_run,
	};
	struct seize_opts opts = { 0 };

	return stage_main(&desc, &opts, argc, argv);
}
