/* amber-restore-files: open the files of the tree being restored and hand
 * them to restore-tasks.
 *
 * What it does
 *	Every open file description that a task's fdinfo-PID.img uses is opened
 *	once, by its dumped path, with its dumped flags (never O_CREAT or O_TRUNC)
 *	and seeked to its dumped position. A file that is missing, or whose type
 *	or size changed since the dump, is refused: a process restored onto a
 *	different file would go on with a position or contents it never saw.
 *	Everything is opened before anything is sent, so a bad file fails the
 *	stage before restore-tasks received any of them.
 *
 *	Paths are opened in this stage's own mount namespace and root, or, for
 *	a file whose first task was in a mount namespace of the tree's own (a
 *	`mntns` record from build-mntns), in that one, by a child that entered
 *	it through its pin and sends back what it opened (mntns.c).
 *
 *	On the stub of a delayed mount (the `stubs` of a `mntns` record:
 *	restore --delay-mount) nothing exists yet: first, in that namespace,
 *	it makes there each file the tree holds open (a regular file with its
 *	dumped size and mode, a directory, a FIFO), each task's working
 *	directory and each file it maps (stub.c); a private writable mapping
 *	or a root on a stub is refused. Then they are opened as any file.
 *
 *	A pipe is made once (pipe2), given its capacity and refilled with what
 *	pipedata.img says it held; its first read and write descriptions get
 *	its ends, any further one a new description of the same end; an end no
 *	task holds is closed, so a reader still meets end-of-file.
 *
 *	A FIFO is opened by its path through a read-write holder (so no open
 *	blocks) and refilled the same way.
 *
 *	An eventfd, signalfd, timerfd or inotify (its watches added again with
 *	their numbers) is made again from its files.img state; an epoll is made
 *	empty, its registrations travel in `epoll_add` records for the task.
 *
 *	Unix sockets (sockets.c, unixq.c): listening, bound datagram and bound
 *	never connected sockets first, bound to their names again (a dead socket's file removed, a live
 *	one refused); then pairs with socketpair, accepted connections by
 *	connecting to the name and accepting, clients that waited in a backlog
 *	and unbound datagram and never connected sockets as new sockets (a
 *	datagram socket whose peer closed and an accepted end whose client
 *	closed with a peer closed once their queue is back), and every file in flight in
 *	a queue (opened though no task holds it), each given the options the
 *	program had set (UnixSocketEntry.opts, SO_PEEK_OFF last). Once all are
 *	made, each queue
 *	is sent again with its files in flight (SCM_RIGHTS; an empty datagram
 *	by a send of 0 bytes), a pair's from its
 *	peer, a datagram from a socket with its sender's name (the tree's own,
 *	or one bound to that name for the moment); the waiting clients connect
 *	again in backlog order and send what they had sent; bound datagram
 *	sockets connect to their peers; shutdowns come last, and files only in
 *	flight are closed. A socket file is made (or a stale one removed) at a
 *	path name only if it is absolute and its directory is the one the dump
 *	saw it in (UnixSocketEntry.dir_dev, dir_ino; --allow-changed-files:
 *	anywhere, with a warning), and never through a symlink at the name.
 *
 *	Raw sockets (inet.c): a new raw socket of the protocol, its options,
 *	bound to its address and connected to its peer.
 *
 *	Netlink sockets (netlink.c): a new socket of the protocol and type,
 *	its options set, bound to the port id it had, a member of its groups
 *	again, connected to its peer.
 *
 *	TCP and UDP sockets (inet.c), in the stage's own network namespace: a
 *	new socket of the family, type and protocol, the options the dump saved
 *	set again (only names of lib/inetopt.h's table: another is bad input),
 *	bound to its address and port (with SO_REUSEADDR for the moment, so a
 *	connection of the dumped socket lingering in TIME_WAIT does not stop
 *	it), listening with its backlog. Once every file is open, the datagrams
 *	that waited at a UDP socket are sent to it again, each from its
 *	sender's address (the tree's own socket bound there, else one bound
 *	to it for the moment; an address another socket holds fails the stage
 *	naming it), and counted back (SO_PEEK_OFF); then UDP sockets connect to
 *	their peers and sockets are shut down as they were. An established TCP
 *	connection is made after every listener, in TCP repair mode: sequence
 *	numbers, bound (sharing its listener's port) and connected without a
 *	handshake, options, clock, both queues and window; once all exist they
 *	leave repair mode together and the bytes never sent are sent. With
 *	--tcp-close it is disconnected in repair mode instead (ECONNABORTED).
 *
 *	A pty pair (tty.c) is made again when its master is opened (its
 *	dumped path, /dev/ptmx: a new index, usually another one): unlocked,
 *	its termios and window size set and the bytes queued both ways put
 *	back through a slave opened from it (lib/pty.c); every slave
 *	description is a new open of the slave from the master (TIOCGPTPEER)
 *	with exactly its dumped flags (O_LARGEFILE too; O_CLOEXEC, which would
 *	stick to the description, is set on the fd instead), a /dev/tty description one too (the task opens
 *	/dev/tty itself in its place); packet mode, exclusive modes and the
 *	lock come once all are open.
 *
 *	An unlinked file comes from its link remap or is made again from its
 *	ghost image: its size (ftruncate), its data runs written with the
 *	holes between them left out, its owner, then its mode. Either is
 *	then linked under its dumped name if that is free, opened by it and
 *	unlinked, so /proc/PID/fd and maps show "PATH (deleted)" as at dump.
 *	A pidfd or a file under /proc of a process of the tree is passed as a
 *	stand-in (/dev/null) that the task replaces (restore-tasks).
 *	A description with 'mapped' (a deleted file a task maps, held by no
 *	descriptor) is opened the same way and sent on. A directory removed
 *	while open or a task's cwd is made again empty, with mode and owner,
 *	under its name if free (else .amber-dir.INO.PID beside it or in /tmp),
 *	opened and removed, once per dumped inode. A FIFO removed
 *	while open is made again under a hidden name (.amber-fifo.INO.PID)
 *	that is removed at once, and given its owner and mode.
 *
 *	A memfd (memfd.c) is made once per dumped inode from memfd-INO.img and
 *	pages-memfd-INO.img (memfd_create, size, contents, mode, owner, then
 *	seals), and each of its descriptions is a new open of it with the dumped
 *	flags and position; restore-tasks maps these same memfds. A missing or
 *	truncated memfd image fails the stage naming the image, pid, fd and memfd.
 *
 *	The restorer's own fds (inherit.c): every description whose key (its
 *	external key, pipe:[INO], socket:[INO] or the path it was opened by)
 *	is named by --inherit-fd fd[N]:KEY gets fd N instead: a file opened
 *	again through /proc/self/fd/N with its dumped flags and position, a pipe
 *	or socket as it is. With --shell-job an external terminal nothing else
 *	gives gets the `tty` fd; with --console-socket PATH (console.c) it
 *	gets the slave of a new pty pair, whose master is sent to the unix
 *	socket at PATH once every file is open, as runc sends a console
 *	(one message: the name "/dev/ptmx", the fd in SCM_RIGHTS). A key that matches nothing, and an external
 *	description nothing is given for, fail the stage naming the keys.
 *
 * Inputs	stdin: state stream (ipc/stream.h) with one `task` record
 *	(PstreeEntry) per process to restore, and the `remap` records
 *	(RemapPlanEntry) collect-remaps wrote; other records are ignored.
 *	images (-D): files.img, fdinfo-PID.img of each task,
 *	pipedata.img, ghost-ID.img, memfd-INO.img and pages-memfd-INO.img.
 *
 * Outputs	files socket: the opened files, FDPASS_BATCH per message, each
 *	named by its files.img id, then the end marker (ipc/fdpass.h).
 *	stdout: state stream: hello (writer "restore-files"), one
 *	`fd_plan` record (FdPlanEntry pid, fd, file_id, cloexec, and the locks,
 *	owner and O_ASYNC the task sets itself, dev_tty for a /dev/tty it
 *	opens itself) per descriptor
 *	of every task, in input task order and ascending fd order, then the end.
 *	After them one `pty_moved` record (PtyMovedEntry dumped, now, and
 *	devpts for a pair of the tree's own devpts, made on its dumped index)
 *	per pty pair, and with --console-socket one with console set (dumped:
 *	the index of the outside terminal at dump, now: the new pair's),
 *	which the driver reports.
 *	Then one `fs_plan` record (FsPlanEntry pid, cwd_file_id or
 *	root_file_id) per cwd or root under an overmount, sent with the files
 *	under ids after the last of files.img. Then one `made_file` record
 *	(MadeFileEntry path, dev, ino) per socket file it bound at a path in
 *	its own mount namespace, which the driver removes again (if it is
 *	still that file) when the restore fails later.
 *	The plan is written before the files are sent; the end record comes
 *	after the files socket's end marker, so it also vouches for the files.
 *
 * Named fds	`files` (required): a unix SOCK_SEQPACKET socket, one end of a
 *	socketpair whose other end restore-tasks reads. `hidden` (optional):
 *	build-mntns' directory fds of files under an overmount, by file id; such
 *	a file is opened relative to its directory fd; and of tasks' cwds and
 *	roots under one, which are sent on with the files. `tty` (with
 *	--shell-job): the terminal to give the tree. Unnamed: the fds the
 *	--inherit-fd options name. --console-socket PATH is a path, not an
 *	fd: the stage connects to it itself.
 *
 * Exit status	0 ok; 2 usage (no files socket, --shell-job without a
 *	terminal, or with --console-socket); 3 a missing or changed file, an
 *	--inherit-fd that matches nothing or an external file not given, a
 *	--console-socket with no outside terminal in the images, or inconsistent images (the last stderr line names path, file id, pid
 *	and fd); 4 an open, seek or send failed; 5 the input stream was cut.
 *
 * Side effects	dumped files are opened, never created, truncated or
 *	written; a unix socket bound to a path creates its socket file, only
 *	in the directory the dump saw (and removes the one a dead socket left
 *	there; a gone datagram sender's name is bound for a moment and its
 *	file removed); TCP and UDP sockets bind their ports again, and a
 *	datagram's sender address is bound for a moment; ghosts are unnamed
 *	O_TMPFILE files; raises its own RLIMIT_NOFILE soft limit.
 *
 * Capabilities	CAP_DAC_OVERRIDE (open any user's files for reading
 *	and writing, search any directory), CAP_FOWNER (O_NOATIME on files of
 *	other users), CAP_CHOWN (a ghost's and a socket file's owner),
 *	CAP_FSETID (a ghost's set-group-id bit, in a group not amber's),
 *	CAP_SYS_ADMIN and CAP_SYS_CHROOT (setns into the tree's mount namespace),
 *	CAP_NET_ADMIN (SO_MARK, buffer sizes past the sysctl limits, IP_TRANSPARENT),
 *	CAP_NET_BIND_SERVICE (ports below 1024), CAP_NET_RAW (SO_BINDTODEVICE).
 *	Confined: no_new_privs and a seccomp allow list (syscalls.c), set
 *	once the capabilities are dropped (doc/design.md, Confined stages).
 *
 *	By hand, with a socket on fd 3 that something reads (or that holds the
 *	files until this stage exits), replaying the driver's recorded input:
 *	amber-restore-files -D DIR --fd files=3 -v3 < RUN/NN-restore-files.in \
 *		3<>SOCKET > plan.out
 */
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/exitcodes.h"
#include "ipc/fds.h"
#include "ipc/stage.h"
#include "ipc/stream.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/pty.h"
#include "stages/restore-files/reopen.h"

/* The files socket must keep message boundaries: one message is one batch. */
static int restore_files_check_sock(int sock, struct err *e)
{
	int type;
	socklen_t len = sizeof(type);

	if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return err_set(e, EXIT_USAGE, "--fd %s=%d: fd %d is not a socket", FD_NAME_FILES, sock, sock);
	if (type != SOCK_SEQPACKET && type != SOCK_DGRAM)
		return err_set(e, EXIT_USAGE, "--fd %s=%d: want a SOCK_SEQPACKET unix socket, one message per batch of files",
			       FD_NAME_FILES, sock);
	return 0;
}

struct restore_files_opts {
	bool allow_changed;
	bool tcp_close;
	bool shell_job;
	const char *console_socket;	/* --console-socket PATH */
	const char **inherits;	/* --inherit-fd fd[N]:KEY, as given */
	int nr_inherits;
};

static int restore_files_parse_option(void *opts, int opt, const char *arg, struct err *e)
{
	struct restore_files_opts *o = opts;

	if (opt == 'C') {
		o->allow_changed = true;
		return 0;
	}
	if (opt == 'S') {
		o->shell_job = true;
		return 0;
	}
	if (opt == 'T') {
		o->console_socket = arg;
		return 0;
	}
	if (opt == 'K') {
		o->tcp_close = true;
		return 0;
	}
	if (opt == 'I') {
		if (grow_one(&o->inherits, o->nr_inherits) < 0)
			return err_errno(e, "remember --inherit-fd '%s'", arg);
		o->inherits[o->nr_inherits++] = arg;
		return 0;
	}
	return err_set(e, EXIT_USAGE, "unknown option");
}

/* Takes the restorer's fds (--inherit-fd, --shell-job) into the plan once
 * the tasks, and so the descriptions they use, are known. */
static int restore_files_inherits(const struct stage_ctx *ctx, const struct restore_files_opts *o, struct reopen *r,
				  struct err *e)
{
	int tty = o->shell_job ? stage_fd(ctx, FD_NAME_TTY) : -1;
	int ret;

	if (o->shell_job && (tty < 0 || !isatty(tty)))
		return err_set(e, EXIT_USAGE, "--shell-job needs the terminal to give the tree as --fd %s=N, a terminal",
			       FD_NAME_TTY);
	if (o->shell_job && o->console_socket)
		return err_set(e, EXIT_USAGE, "--shell-job and --console-socket both give the tree's terminal; give one");
	for (int i = 0; i < o->nr_inherits; i++)
		if ((ret = reopen_add_inherit(r, o->inherits[i], e)) < 0)
			return ret;
	if (o->console_socket && (tty = reopen_console_make(r, e)) < 0)
		return tty;
	if ((ret = reopen_match_inherits(r, tty, o->console_socket ? "--console-socket" : "--shell-job", e)) < 0)
		return ret;
	if (o->console_socket && r->shell.fd != tty)
		return err_input(e, "--console-socket '%s': the images have no terminal outside the tree (a dump names "
				 "one with --external tty[RDEV:DEV])", o->console_socket);
	return 0;
}

/* Where the tree's terminal is now (--console-socket), for the driver's
 * report: a pty_moved record with console set. */
static int restore_files_say_console(const struct reopen *r, struct stream_out *out, struct err *e)
{
	PtyMovedEntry m = PTY_MOVED_ENTRY__INIT;
	StreamRecord rec = STREAM_RECORD__INIT;

	m.dumped = pty_index_of(r->shell_rdev);
	m.now = r->console_index;
	m.has_console = m.console = true;
	rec.body_case = STREAM_RECORD__BODY_PTY_MOVED;
	rec.pty_moved = &m;
	return stream_out_write(out, &rec, e);
}

static const struct option restore_files_options[] = {
	{ "allow-changed-files", no_argument, NULL, 'C' },
	{ "inherit-fd", required_argument, NULL, 'I' },
	{ "shell-job", no_argument, NULL, 'S' },
	{ "tcp-close", no_argument, NULL, 'K' },
	{ "console-socket", required_argument, NULL, 'T' },
	{ NULL, 0, NULL, 0 },
};

static int restore_files_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	int sock = stage_fd(ctx, FD_NAME_FILES);
	struct stream_out out;
	struct reopen r;
	int ret;

	if ((ret = restore_files_check_sock(sock, e)) < 0)
		return ret;
	ret = restore_files_read(0, ctx->dir_fd, &r, e);
	r.self = getpid();
	r.console_master = -1;
	r.allow_changed = ((const struct restore_files_opts *)opts)->allow_changed;
	r.tcp_close = ((const struct restore_files_opts *)opts)->tcp_close;
	if (ret >= 0)
		ret = reopen_ns_open(r.ns, e);
	if (ret >= 0 && stage_fd(ctx, FD_NAME_HIDDEN) >= 0)
		ret = reopen_hidden_recv(&r, stage_fd(ctx, FD_NAME_HIDDEN), e);
	if (ret >= 0)
		ret = restore_files_inherits(ctx, opts, &r, e);
	if (ret >= 0)
		ret = reopen_open_all(&r, e);
	if (ret >= 0 && r.console_master >= 0)
		ret = reopen_console_send(&r, ((const struct restore_files_opts *)opts)->console_socket, e);
	if (ret >= 0)
		ret = stream_out_open(&out, 1, "restore-files", e);
	if (ret >= 0)
		ret = reopen_write_plan(&r, &out, e);
	if (ret >= 0)
		ret = reopen_dirs_write_plan(&r, &out, e);
	if (ret >= 0)
		ret = reopen_write_made(&r, &out, e);
	if (ret >= 0 && ((const struct restore_files_opts *)opts)->console_socket)
		ret = restore_files_say_console(&r, &out, e);
	/* The plan is complete before any file is sent: the driver starts
	 * restore-tasks on it, which then takes the files as they come (the
	 * socket could not hold thousands of them waiting). The files socket
	 * has an end marker of its own. */
	if (ret >= 0)
		ret = stream_out_end(&out, e);
	if (ret >= 0)
		ret = reopen_send(&r, sock, e);
	if (ret >= 0)
		pr_info("%d tasks, %d fds, %d open files sent", r.nr_pids, r.nr_plan, r.nr_open);
	reopen_hidden_free(&r);
	reopen_ns_free(r.ns);
	reopen_free(&r);
	return ret;
}

static const struct stage_desc restore_files_desc = {
	.name = "restore-files",
	.reads_images = true,
	.summary = "Open the files of the tasks on stdin once each, send them over the files socket, and write their fd plan on stdout.",
	.fds = { FD_NAME_FILES },
	.optional_fds = { FD_NAME_HIDDEN, FD_NAME_TTY },
	/* CHOWN, FSETID: a remade unlinked file gets its owner and its
	 * set-group-id bit back (in a group amber is not in). SYS_ADMIN and
	 * SYS_CHROOT: setns into the tree's mount namespace. */
	.caps = { CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_CHOWN, CAP_FSETID, CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_NET_ADMIN,
		  CAP_NET_BIND_SERVICE, CAP_NET_RAW },
	.nr_caps = 9,
	.syscalls = restore_files_syscalls,
	.ioctls = restore_files_ioctls,
	.usage = "      --allow-changed-files  restore onto a regular file whose size changed since the dump, and bind a unix\n"
		 "                             socket's path in a directory other than the dump's (a warning, not an error)\n"
		 "      --inherit-fd fd[N]:KEY  this stage's fd N stands for KEY: file[MNT_ID:INODE], tty[RDEV:DEV],\n"
		 "                             socket:[INODE], pipe:[INODE] or a path (repeatable)\n"
		 "      --shell-job            give the terminal of --fd tty=N to every terminal the dump left outside\n"
		 "      --console-socket PATH  make a new pty pair for every terminal the dump left outside and send its\n"
		 "                             master to the unix socket PATH (runc's console socket: SCM_RIGHTS)\n"
		 "      --tcp-close            make the established TCP connections of the images closed (ECONNABORTED)",
	.options = restore_files_options,
	.parse_option = restore_files_parse_option,
	.run = restore_files_run,
};

int main(int argc, char **argv)
{
	struct restore_files_opts opts = { 0 };
	int ret = stage_main(&restore_files_desc, &opts, argc, argv);

	free(opts.inherits);
	return ret;
}
