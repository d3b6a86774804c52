/* amber-dump-files: dump the open files, working directory and root of
 * every process of a stopped tree.
 *
 * What it does
 *	The tree must already be stopped (by amber-seize); this stage only reads
 *	/proc and never ptraces. Processes that share one open file description
 *	(dup, fork) get one files.img record: candidates with the same device,
 *	inode and flags are compared with kcmp(KCMP_FILE).
 *
 *	Supported: anything that can be opened again by its path (regular files,
 *	directories, device nodes such as /dev/null; with O_PATH also symlinks,
 *	opened with O_NOFOLLOW, and socket files), and pipes: each pipe end
 *	is a files.img record with pipe_ino, and what the pipe holds is saved in
 *	pipedata.img without taking it out (tee into a scratch pipe); and
 *	files under /proc/PID of the tree's own processes (a file or the
 *	directory: proc_pid, the image pid in path; of another process refused);
 *	pidfds of live processes of the tree (AnonFileEntry pidfd_pid; others,
 *	thread pidfds, io_uring, fanotify and userfaultfd are refused by name);
 *	eventfd, signalfd, timerfd and epoll, whose state (count and semaphore
 *	mode, mask, clock, time left, interval, unread ticks, the epoll's
 *	registrations) comes from fdinfo (a registration whose fd number no
 *	longer holds its file is found at the fd that does with kcmp
 *	KCMP_EPOLL_TFD; one no fd of the holder has is refused); files
 *	unlinked while open (a link remap next to where they lived when the kernel
 *	allows, else their data runs in ghost-ID.img, with mode and owner, up
 *	to --ghost-limit bytes of data, holes left out; see remaps.img);
 *	deleted regular files a process maps or runs as its executable, each
 *	a files.img description no descriptor holds (mapped, mapped_by),
 *	linked back or saved the same way, once per inode (maps.c);
 *	FIFOs removed while open (files.img deleted, with their owner; what
 *	they hold in pipedata.img); directories removed while open or a
 *	task's cwd (files.img deleted, with mode and owner; a cwd is a
 *	description no descriptor holds, fs-PID.img cwd_file_id); memfds (memfd.c: name, size, seals, mode, owner and
 *	contents, whatever their size and --ghost-limit, in memfd-INO.img and
 *	pages-memfd-INO.img like a mapped memfd, once per memfd: when
 *	dump-memory saved it first for a mapping, its images are kept and this
 *	stage's copy dropped; a hugetlb memfd is refused); file locks
 *	(flock, POSIX, OFD, from fdinfo "lock:" lines) with --file-locks, and
 *	without it a held lock is refused so it is never silently lost; named
 *	pipes (FIFOs) by path, their buffered bytes saved like a pipe's in
 *	pipedata.img; inotify instances, each watch's path found from the file
 *	handle fdinfo gives (open_by_handle_at, hence CAP_DAC_READ_SEARCH).
 *	Paths of a task in another mount namespace are looked up in that one
 *	(/proc/PID/root, or the namespace's root for a task that chroot'ed:
 *	nspath.c), where its link remaps are made too; a file on a mount
 *	that something was mounted over is not taken for unlinked (build-mntns
 *	reaches it at restore).
 *	Every description's signal owner and F_SETSIG signal come from a copy
 *	of the descriptor (pidfd_getfd, CAP_SYS_PTRACE); an owner outside the
 *	tree is refused.
 *	Unix sockets (sockets.c, unixq.c): pairs (socketpair, accepted
 *	connections, a stream end whose peer closed, the server end of an
 *	accepted connection whose client closed), listening sockets, bound
 *	datagram sockets (connected or not), datagram sockets neither bound nor
 *	connected or whose connected peer closed (peer_gone), stream and
 *	seqpacket sockets never connected, bound or not (unconnected), and
 *	clients whose connections wait in a listener's backlog; a name that is
 *	a relative path is refused.
 *	Type, peer, state, shutdown, name, backlog and the waiting connections
 *	come from sock_diag (libnl), options from getsockopt, and what waits to
 *	be read is peeked at (MSG_PEEK with SO_PEEK_OFF, put back; an empty
 *	datagram is an entry of its own; the options the program set, such as
 *	SO_RCVLOWAT and its own SO_PEEK_OFF, are saved): with each
 *	datagram its bound sender's name, and the files in flight (SCM_RIGHTS),
 *	which the peek installs here: regular files, pipe ends and sockets are
 *	described like any descriptor (files.img records no fdinfo uses), others
 *	refused. What a waiting client sent can only be read by accepting its
 *	connection: with --accept-backlog (the driver gives it unless the tree
 *	is to keep running) that is done last, once nothing was refused, and
 *	the data is written as an extra "embryo" record; without it such a
 *	listener is refused. A socket whose peer or listener is outside the tree
 *	is refused unless named by --external.
 *	TCP and UDP sockets, IPv4 and IPv6, of amber's own network namespace
 *	(inet.c): TCP listeners (address, port, backlog) and TCP sockets not
 *	yet listening nor connected; UDP sockets, bound or not, connected or
 *	not, with the datagrams waiting in them and each one's sender (peeked
 *	at with SO_PEEK_OFF, put back) and the multicast groups they joined
 *	with their source filters (lib/mcast.h). State, backlog and accept queue come
 *	from inet_diag (lib/inetdiag.h), addresses from getsockname and
 *	getpeername, and every option of lib/inetopt.h's table that differs
 *	from a new socket's from getsockopt. With --tcp-established,
 *	established TCP connections whose two ends the tree holds: read in
 *	TCP repair mode (sequence numbers, both queues peeked at, the options
 *	negotiated, clock and window; see doc/image-format.md, TcpConnEntry),
 *	then taken out of it, or with =keep-repair left in it, so that the
 *	kill closes them silently (a failed run takes them out). Refused by
 *	name: an established TCP connection without --tcp-established (it
 *	names the option) or with its other end outside the tree (unless
 *	--tcp-peer-outside: the driver has locked the network), one in
 *	another TCP state, a listener with connections waiting to be
 *	accepted (how many, and its address), a socket of another network
 *	namespace, a socket filter, ICMP ping, SCTP and other inet sockets,
 *	and sockets of other families (packet, vsock, ...).
 *	Raw sockets (inet.c): protocol, bound address, the peer they are
 *	connected to (from /proc/net/raw: getpeername cannot tell) and their
 *	options (IP_HDRINCL, ICMP_FILTER, IPV6_CHECKSUM, ...); refused by name
 *	with packets waiting.
 *	Netlink sockets (netlink.c): protocol, type, port id, every group
 *	joined (NETLINK_LIST_MEMBERSHIPS), peer, and the options of
 *	lib/inetopt.h's table for netlink; refused by name when messages wait
 *	in one or the kernel is still sending a dump it asked for (sock_diag,
 *	lib/nldiag.h), or when it is of another network namespace.
 *	Pseudo-terminal pairs whose master the tree holds, on the host's
 *	devpts or on a devpts instance mounted in the tree's own mount
 *	namespace (newinstance; the end's record names that mount, which
 *	build-mntns makes again) (tty.c): each end (/dev/ptmx, /dev/pts/ptmx, /dev/pts/N, and
 *	/dev/tty of a process whose controlling terminal is such a slave) is a
 *	record with a PtyEntry; the master's holds the pair's termios, window
 *	size, packet mode, lock, exclusive modes, the bytes queued both
 *	ways and the end-of-file marks waiting in canonical mode, which are
 *	read (a tty queue cannot be peeked at) and written back at once, all
 *	of it, a refusal included (lib/pty.c), whether the tree is killed or
 *	keeps running. A
 *	session leader whose controlling terminal is such a slave gets it
 *	(a descriptor it holds on it) and the foreground group in fs-PID.img.
 *	Refused: input queued in canonical mode (lines, or a line not
 *	finished), more than 4095 bytes queued in a direction, a packet-mode
 *	status not read yet, a pair of a devpts instance mounted nowhere in
 *	the tree's mount namespace or only in the dumper's, a leader with no
 *	descriptor on its terminal.
 *	Descriptors of objects outside the tree (--external file[MNT_ID:INODE],
 *	tty[RDEV:DEV], unix[INODE] (the socket's or its outside peer's inode),
 *	pipe[INODE]; with --shell-job every terminal that is not a pty of the
 *	tree) are recorded by their key,
 *	flags and position only (lib/external.h); a key that matches no
 *	descriptor fails the dump. Other sockets, other anon_inode files
 *	(fanotify, userfaultfd, ...) and terminals not named so are refused;
 *	every such descriptor is listed as a warning and the first one is the
 *	error.
 *
 * Inputs	stdin: state stream (ipc/stream.h) with one `task` record
 *	(PstreeEntry) per process to dump; other records are ignored.
 *
 * Options	--ghost-limit, --file-locks, --external, --shell-job,
 *	--accept-backlog, --tcp-established (see --help), and --union-root
 *	BRANCH=UNION (repeatable): a descriptor's path, cwd or root under
 *	BRANCH (a branch or layer of a union file system, as /proc shows it)
 *	is recorded as the same path under UNION, with the device, inode and
 *	mount id of the file there, which must be of the same type (and size);
 *	otherwise the descriptor is refused naming both paths (union.c).
 *
 * Outputs	images (-D):
 *	fs-PID.img	one FsEntry: cwd, root, umask, and a session leader's
 *			pty terminal and foreground group
 *	fdinfo-PID.img	one FdinfoEntry per descriptor: fd, file id, cloexec,
 *			locks held through it (--file-locks)
 *	files.img	one RegFileEntry per open file description of the tree:
 *			id, path, flags (without O_CLOEXEC), pos, mnt_id,
 *			inode, dev, size, mode, and what its kind needs
 *			(pipe inode, anon state, unix or inet socket, fifo,
 *			owner, pty)
 *	pipedata.img	what each pipe and FIFO held (when there are any)
 *	remaps.img, ghost-ID.img  how unlinked files are reached again
 *	memfd-INO.img, pages-memfd-INO.img  each memfd a descriptor holds,
 *			written under a temporary name (.tmp.NAME.PID) and
 *			published with linkat unless dump-memory did first
 *	stdout: state stream with a hello (writer "dump-files") and an
 *	end, no records.
 *
 * Named fds	none.
 *
 * Exit status	0 ok; 2 usage; 3 an unsupported descriptor (the last stderr
 *	line names pid, fd and what it is) or a bad task record; 4 a /proc
 *	read or image write failed; 5 the input stream was cut or malformed.
 *
 * Side effects	none on the tree, but TCP connections are put in repair
 *	mode for a moment (--tcp-established; with =keep-repair until the
 *	tree is killed), its ptys' queues are read and written back (their
 *	termios changed for that moment; a refused unfinished line in
 *	canonical mode becomes a finished one), and with --accept-backlog the
 *	connections waiting in a listener's backlog whose clients sent data
 *	are accepted (taken from the backlog; a dump that fails afterwards
 *	has lost them); creates the images above.
 *
 * Capabilities	CAP_SYS_PTRACE (/proc/PID/fd of other users, kcmp,
 *	pidfd_getfd),
 *	CAP_DAC_READ_SEARCH (fdinfo files and fd directories of other users;
 *	open_by_handle_at for inotify watches), CAP_DAC_OVERRIDE and
 *	CAP_FOWNER (link remaps in directories of any owner), CAP_SYS_ADMIN
 *	and CAP_SYS_CHROOT (a child enters the mount namespace of a task that
 *	chroot(2)ed, to look its paths up from the namespace's root),
 *	CAP_NET_ADMIN (SIOCGSKNS: the network namespace of a socket),
 *	CAP_NET_RAW (a new raw socket, to compare a raw socket's options with).
 *
 * By hand	replay what the driver recorded (the tree must be stopped again,
 *	e.g. with kill -STOP, or the files may change under the dump):
 *	amber-dump-files -D DIR --dump-id ID -v3 < RUN/NN-dump-files.in > /dev/null
 *	amber show DIR/files.img
 *	or feed any writer of a hello, task records and an end on stdin.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>

#include "lib/exitcodes.h"
#include "ipc/stage.h"
#include "ipc/stream.h"
#include "lib/grow.h"
#include "stages/dump-files/dump-files.h"

/* Dumps every task of the input stream, then closes the output stream. */
struct dump_files_opts {
	uint64_t ghost_limit;
	bool file_locks;
	bool shell_job;
	char **externals;	/* --external KEY, as given */
	int nr_externals;
	bool accept_backlog;
	int tcp_mode;		/* --tcp-established[=keep-repair]: 1, 2 */
	bool peer_outside;	/* --tcp-peer-outside */
	struct union_root *union_roots;	/* --union-root BRANCH=UNION */
	int nr_union_roots;
};

static int dump_files_tasks(const struct stage_ctx *ctx, const struct dump_files_opts *o,
			    const struct stream_task *tasks, int nr, struct err *e)
{
	struct df c;
	int ret;

	if ((ret = df_open(&c, ctx->dir_fd, df_kinds, df_nr_kinds, o->ghost_limit, o->file_locks, e)) < 0 ||
	    (ret = df_set_externals(&c, o->externals, o->nr_externals, o->shell_job, e)) < 0) {
		df_free(&c);
		return ret;
	}
	c.accept_backlog = o->accept_backlog;
	c.tcp_mode = o->tcp_mode;
	c.peer_outside = o->peer_outside;
	c.union_roots = o->union_roots;
	c.nr_union_roots = o->nr_union_roots;
	if (nr && !(c.all_pids = calloc(nr, sizeof(pid_t)))) {
		df_free(&c);
		return err_errno(e, "list the processes of the tree");
	}
	for (int i = 0; i < nr; i++)
		((pid_t *)c.all_pids)[i] = tasks[i].host;
	c.nr_all_pids = nr;
	c.in_tasks = tasks;
	c.nr_in_tasks = nr;
	ret = df_pty_scan(&c, c.all_pids, nr, e);
	for (int i = 0; ret == 0 && i < nr; i++)
		ret = df_task(&c, tasks[i].host, tasks[i].pid, e);
	if (ret == 0)
		ret = df_close(&c, e);
	/* Left running: its connections carry on now (a failed dump: df_abort). */
	if (ret == 0 && c.tcp_mode == 1)
		df_inet_unrepair(&c);
	/* A failed dump leaves nothing behind on the file system. */
	if (ret < 0)
		df_abort(&c);
	df_free(&c);
	return ret;
}

static int dump_files_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	struct stream_task *tasks;
	struct stream_out out;
	int nr, ret;

	if ((ret = stream_in_tasks(0, "state stream (stdin)", &tasks, &nr, e)) >= 0 &&
	    (ret = stream_out_open(&out, 1, "dump-files", e)) >= 0 &&
	    (ret = dump_files_tasks(ctx, opts, tasks, nr, e)) >= 0)
		ret = stream_out_end(&out, e);
	free(tasks);
	return ret;
}

static int dump_files_parse_option(void *opts, int opt, const char *arg, struct err *e)
{
	struct dump_files_opts *o = opts;
	char *end;

	if (opt == 'L') {
		o->file_locks = true;
		return 0;
	}
	if (opt == 'S') {
		o->shell_job = true;
		return 0;
	}
	if (opt == 'X') {
		if (grow_one(&o->externals, o->nr_externals) < 0)
			return err_errno(e, "remember --external '%s'", arg);
		o->externals[o->nr_externals++] = (char *)arg;
		return 0;
	}
	if (opt == 'A') {
		o->accept_backlog = true;
		return 0;
	}
	if (opt == 'P') {
		o->peer_outside = true;
		return 0;
	}
	if (opt == 'U') {
		if (grow_one(&o->union_roots, o->nr_union_roots) < 0)
			return err_errno(e, "remember --union-root '%s'", arg);
		return union_root_parse(arg, &o->union_roots[o->nr_union_roots++], e);
	}
	if (opt == 'T') {
		if (arg && strcmp(arg, "keep-repair"))
			return err_set(e, EXIT_USAGE, "--tcp-established=%s: the only value is keep-repair", arg);
		o->tcp_mode = arg ? 2 : 1;
		return 0;
	}
	if (opt != 'G')
		return err_set(e, EXIT_USAGE, "unknown option");
	errno = 0;
	o->ghost_limit = strtoull(arg, &end, 0);
	if (errno || end == arg || *end)
		return err_set(e, EXIT_USAGE, "--ghost-limit '%s' is not a number of bytes", arg);
	return 0;
}

static const struct option dump_files_options[] = {
	{ "ghost-limit", required_argument, NULL, 'G' },
	{ "file-locks", no_argument, NULL, 'L' },
	{ "external", required_argument, NULL, 'X' },
	{ "shell-job", no_argument, NULL, 'S' },
	{ "accept-backlog", no_argument, NULL, 'A' },
	{ "union-root", required_argument, NULL, 'U' },
	{ "tcp-established", optional_argument, NULL, 'T' },
	{ "tcp-peer-outside", no_argument, NULL, 'P' },
	{ NULL, 0, NULL, 0 },
};

static const struct stage_desc dump_files_desc = {
	.name = "dump-files",
	.summary = "Write fs-PID.img, fdinfo-PID.img and files.img for the stopped processes named by the task records on stdin.",
	.usage = "      --ghost-limit BYTES   most bytes of data (holes not counted) of an unlinked file saved in the images\n"
		 "                            (default 1 MiB; memfds are saved whatever their size)\n"
		 "      --file-locks          save the file locks the tree holds (without it a held lock fails the dump)\n"
		 "      --external KEY        the descriptors of KEY belong to the outside: file[MNT_ID:INODE],\n"
		 "                            tty[RDEV:DEV], unix[INODE], pipe[INODE] (repeatable)\n"
		 "      --shell-job           every terminal outside the tree is external (the shell's, given back at\n"
		 "                            restore); a pty whose master the tree holds is the tree's own\n"
		 "      --accept-backlog      the tree is killed after the dump: accept the connections waiting in a\n"
		 "                            listener's backlog to read the data their clients sent (without it,\n"
		 "                            such a connection fails the dump)\n"
		 "      --tcp-established[=keep-repair]  dump established TCP connections through TCP repair mode;\n"
		 "                            keep-repair: the tree is killed after the dump, so they stay in repair\n"
		 "                            mode and close silently (without it they leave it once read)\n"
		 "      --tcp-peer-outside    with --tcp-established: a connection whose other end is outside the tree\n"
		 "                            is dumped too (the driver's network lock keeps that end from seeing a\n"
		 "                            reset; without it such a connection fails the dump)\n"
		 "      --union-root BRANCH=UNION  a path under BRANCH is the same path under UNION (repeatable)",
	/* DAC_OVERRIDE and FOWNER: link remaps go into directories of any owner.
	 * SYS_ADMIN and SYS_CHROOT: setns, for a chrooted task's namespace root. */
	.caps = { CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_SYS_ADMIN, CAP_SYS_CHROOT,
		  CAP_NET_ADMIN, CAP_NET_RAW },
	.nr_caps = 8,
	.options = dump_files_options,
	.parse_option = dump_files_parse_option,
	.run = dump_files_run,
};

int main(int argc, char **argv)
{
	struct dump_files_opts opts = { .ghost_limit = 1 << 20 };
	int ret = stage_main(&dump_files_desc, &opts, argc, argv);

	free(opts.externals);
	for (int i = 0; i < opts.nr_union_roots; i++) {
		free(opts.union_roots[i].branch);
		free(opts.union_roots[i].uni);
	}
	free(opts.union_roots);
	return ret;
}
