/* reopen: what restore-files does with the images: it reads files.img and
 * each task's fdinfo-PID.img into a plan (which descriptor of which task gets
 * which file), opens every file the plan uses once, checks it is the file
 * that was dumped, and hands the opened files and the plan on. */
#ifndef AMBER_RESTORE_FILES_REOPEN_H
#define AMBER_RESTORE_FILES_REOPEN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "images/files.pb-c.h"
#include "ipc/stream.h"
#include "lib/err.h"
#include "lib/external.h"

/* An --inherit-fd fd[N]:KEY: the stage's own fd N stands for KEY. */
struct reopen_inherit {
	int fd;
	struct ext_key key;
	const char *arg;	/* as given, for messages */
	bool used;
	bool tty_set;		/* the dumped terminal settings were put on it */
};

/* One open file description of files.img. */
struct reopen_file {
	RegFileEntry *re;
	struct reopen_inherit *inherit;	/* given by the restorer, NULL if opened here */
	int fd;			/* opened by this stage, -1 before */
	pid_t pid;		/* the first descriptor that uses it, for messages; 0 if unused */
	uint32_t tfd;
	bool inflight;		/* sent with a unix socket's queue (SCM_RIGHTS): opened even if unused */
	int aux;		/* a unix stream end's closed peer, until its queue is back; -1 */
};

/* One descriptor of one task. */
struct reopen_fd {
	pid_t pid;
	uint32_t fd;
	uint32_t file_id;
	bool cloexec;
	FdinfoEntry *locked;	/* kept when it has locks (dump --file-locks); owned */
};

/* One pipe of the tree, made again once for all its descriptions. */
struct reopen_pipe {
	uint64_t ino;
	int end[2];		/* this stage's read and write end, -1 if not made */
	bool end_given[2];	/* the end itself went to a description (later ones reopen it) */
	PipeDataEntry *data;	/* from pipedata.img, or NULL */
};

struct reopen {
	int dir_fd;
	bool allow_changed;		/* --allow-changed-files: a size change is a warning */
	bool tcp_close;			/* --tcp-close: established TCP connections made closed */
	RemapPlanEntry **remaps;	/* from collect-remaps: how unlinked files are reached */
	int nr_remaps;
	struct { uint32_t ghost_id; int fd; } *ghosts;	/* inodes made from ghost images, by ghost id */
	int nr_ghosts;
	struct { uint64_t dev, ino; int fd; } *deldirs;	/* removed directories made again, by dumped inode */
	int nr_deldirs;
	struct { uint64_t ino; int fd; } *memfds;	/* memfds made from their images, by dumped inode */
	int nr_memfds;
	struct reopen_pipe *pipes;
	int nr_pipes;
	struct reopen_file *files;	/* sorted by id */
	int nr_files;
	struct reopen_fd *plan;		/* tasks in input order, fds ascending */
	int nr_plan;
	size_t cap_plan;
	pid_t *pids;
	int nr_pids;
	size_t cap_pids;
	int nr_open;
	struct reopen_inherit *inherits;
	int nr_inherits;
	struct reopen_inherit shell;	/* --shell-job: the terminal, for any tty[] not given otherwise */
	int console_master;		/* --console-socket: the new pair's master until it is sent (console.c) */
	unsigned int console_index;	/* and its index */
	uint64_t shell_rdev;		/* the device number at dump of the terminal shell stands for */
	struct { uint32_t id; int dirfd; } *hidden;	/* files under an overmount (hidden.c) */
	int nr_hidden;
	struct { uint32_t pid; bool root; int fd; uint32_t file_id; } *dirs;	/* cwds and roots under one */
	int nr_dirs;
	struct reopen_ns *ns;		/* the tree's mount namespaces (mntns.c), or NULL */
	/* Socket files bound at a path in this stage's own mount namespace,
	 * for the driver to remove if the restore fails (made_file records). */
	struct reopen_made { char *path; uint64_t dev, ino; } *made;
	int nr_made;
	pid_t self;			/* the stage's pid (not a child's) */
};

/* Writes a made_file record for each file r made at a path. */
int reopen_write_made(const struct reopen *r, struct stream_out *out, struct err *e);

/* mntns.c: keeps build-mntns' namespace (opens its pin); runs a pass over
 * the files once per mount namespace they are opened in (ours here, each
 * of the tree's that has a file the pass concerns in a child, whose
 * changes to r come back; 'what' names the pass in messages); tells a pass
 * whether pid's files are opened in the namespace it is working in; frees. */
struct reopen_ns;
int reopen_ns_add(struct reopen_ns **ns, const MntnsPlanEntry *m, struct err *e);
/* Opens the pins of the namespaces kept, once the whole input is read. */
int reopen_ns_open(struct reopen_ns *ns, struct err *e);
int reopen_ns_each(struct reopen *r, int (*pass)(struct reopen *r, struct err *e), bool (*concerns)(const struct reopen_file *f),
		   const char *what, struct err *e);
bool reopen_ns_here(const struct reopen *r, pid_t pid);
/* The stub (a delayed mount's mountpoint, or a bind's) of the namespace a
 * pass works in that path lies on, or NULL; whether any namespace has
 * one; the pids of the namespace a pass works in. */
const char *reopen_ns_stub(const struct reopen *r, const char *path);
bool reopen_ns_has_stubs(const struct reopen *r);
void reopen_ns_pids(const struct reopen *r, const uint32_t **pids, size_t *nr);
/* stub.c: makes on the stubs of delayed mounts what the tree holds open
 * there (files with their size and mode, directories, FIFOs), its
 * working directories and the files it maps, before anything is opened. */
int reopen_stubs_make(struct reopen *r, struct err *e);
void reopen_ns_free(struct reopen_ns *ns);

/* hidden.c: takes build-mntns' directory fds of files under overmounts
 * and of tasks' cwds and roots there (until its end marker); opens a file
 * by path or through them; sends the cwds and roots with the files under
 * ids after the last of files.img, and says whose they are in `fs_plan`
 * records; frees. */
int reopen_hidden_recv(struct reopen *r, int sock, struct err *e);
int reopen_open_path(const struct reopen *r, const RegFileEntry *re, const char *path, int flags);
int reopen_dirs_write_plan(struct reopen *r, struct stream_out *out, struct err *e);
int reopen_dirs_send(const struct reopen *r, int sock, struct err *e);
void reopen_hidden_free(struct reopen *r);

/* input.c: reads the state stream on fd and the images it names (files.img,
 * each task's fdinfo-PID.img) into r, and checks them, with no side effect:
 * what tests/fuzz/fuzz_stage_restore_files.c feeds; free with reopen_free
 * and reopen_ns_free(r->ns), also after an error. */
int restore_files_read(int fd, int dir_fd, struct reopen *r, struct err *e);

/* Keeps a 'remap' record of collect-remaps (takes ownership). */
int reopen_add_remap(struct reopen *r, RemapPlanEntry *rp, struct err *e);
/* Reads all of files.img. */
int reopen_load(struct reopen *r, int dir_fd, struct err *e);
/* Reads fdinfo-PID.img into the plan, checking every id against files.img. */
int reopen_add_task(struct reopen *r, pid_t pid, struct err *e);
/* Opens each file the plan uses, at its dumped position; refuses a missing
 * file or one whose type or size changed since the dump. */
int reopen_open_all(struct reopen *r, struct err *e);
/* Writes one fd_plan record per descriptor of the plan. */
int reopen_write_plan(const struct reopen *r, struct stream_out *out, struct err *e);
/* Sends the opened files over sock (ipc/fdpass.h), then the end marker. */
int reopen_send(struct reopen *r, int sock, struct err *e);
/* Closes what was opened and frees everything. */
void reopen_free(struct reopen *r);

/* Takes one --inherit-fd fd[N]:KEY; fd N must be open. */
int reopen_add_inherit(struct reopen *r, const char *arg, struct err *e);
/* Gives each description the --inherit-fd of its key (shell_tty, if not
 * -1, to every terminal left outside); refuses a key that matches nothing
 * and an external description nothing is given for. After the tasks are
 * added, before reopen_open_all. */
int reopen_match_inherits(struct reopen *r, int shell_tty, const char *shell_arg, struct err *e);

/* console.c: --console-socket. Makes the new pair and returns its slave
 * (for reopen_match_inherits' shell_tty), keeping the master. */
int reopen_console_make(struct reopen *r, struct err *e);
/* Sends the master to the unix socket at path (runc's console socket
 * protocol: the name "/dev/ptmx" with the fd in SCM_RIGHTS). */
int reopen_console_send(struct reopen *r, const char *path, struct err *e);

/* Within the stage. */

/* open(2) flags that reopen a description as it was dumped. */
int reopen_flags(const RegFileEntry *re);
/* A description the restorer gave (inherit.c). */
int reopen_inherited(struct reopen_file *f, struct err *e);

/* A description of a memfd: the memfd made once per dumped inode from
 * memfd-INO.img and pages-memfd-INO.img, opened again with the dumped
 * flags and position (memfd.c). */
int reopen_memfd(struct reopen *r, struct reopen_file *f, struct err *e);
/* A pty end (tty.c): a master makes its pair again (with termios, window
 * size and queues), a slave is opened from its master, made first if it
 * is not yet; once all are open, packet mode, exclusive mode and the lock
 * are set (reopen_pty_finish). */
int reopen_pty(struct reopen *r, struct reopen_file *f, struct err *e);
int reopen_pty_finish(struct reopen *r, struct err *e);
/* Makes an anonymous-inode file (eventfd, signalfd, timerfd, epoll,
 * inotify) again in its dumped state (anon.c). */
int reopen_anon(struct reopen_file *f, struct err *e);
/* Is this a listening or bound datagram unix socket, made in a first pass
 * because connections to it are made again through it (sockets.c)? */
bool reopen_is_bound(const RegFileEntry *re);
int reopen_unix_bound(const struct reopen *r, struct reopen_file *f, struct err *e);
/* Any other unix socket, with its peer when it has one (sockets.c). */
int reopen_unix(struct reopen *r, struct reopen_file *f, struct err *e);
/* Where the socket file of a path name may be made (and removed). */
struct reopen_unix_place {
	int dir;		/* the name's directory, O_PATH; -1 for an abstract name (no file) */
	char base[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];	/* its last component */
};
/* Helpers of sockets.c for unixq.c: a socket's options; the address of
 * its name (0 if it has none that fits, or a relative path); the place of
 * a name about to be bound: a relative path is refused, and a path's
 * directory must be the one the dump saw (dev, ino; has_dir false: it
 * recorded none), else bad input or with --allow-changed-files a warning
 * ('whose' names the socket in messages; close p even on failure);
 * removing the file a dead socket left there (1: a live socket holds it,
 * -1: cannot remove), or the one this stage bound for a moment; never
 * through a symlink at the name. */
int reopen_unix_opts(int sk, const RegFileEntry *re, struct err *e);
socklen_t reopen_unix_addr(const UnixSocketEntry *u, struct sockaddr_un *sa);
int reopen_unix_place(const struct reopen *r, const struct sockaddr_un *sa, bool has_dir, uint64_t dev, uint64_t ino,
		      const char *whose, struct reopen_unix_place *p, struct err *e);
void reopen_unix_place_close(struct reopen_unix_place *p);
int reopen_unix_clear_stale(const struct reopen_unix_place *p, const struct sockaddr_un *sa);
void reopen_unix_unlink(const struct reopen_unix_place *p);
/* A TCP or UDP socket made again: options, address, listening (inet.c);
 * its record checked first, when files.img is read (an option that is
 * not in lib/inetopt.h's table is bad input); once every file is open,
 * the datagrams that waited in UDP sockets sent again from their
 * senders' addresses, and the sockets connected and shut down. */
int reopen_inet_check(const RegFileEntry *re, struct err *e);
/* The options of lib/inetopt.c's table saved for a socket: checked against
 * its family and protocol, and set (inet.c). */
int reopen_sock_opts_check(InetSockOpt *const *opts, size_t n, int family, int protocol, const RegFileEntry *re,
			   struct err *e);
int reopen_sock_opts(int sk, InetSockOpt *const *opts, size_t n, const RegFileEntry *re, struct err *e);
/* The refusal for a file whose type is not the dumped one (reopen.c). */
int reopen_changed_type(const RegFileEntry *re, uint32_t mode, struct err *e);
/* Pipes and FIFOs (pipes.c): pipedata.img read, a pipe end or a FIFO
 * opened for f. */
int reopen_load_pipes(struct reopen *r, struct err *e);
int reopen_pipe_end(struct reopen *r, struct reopen_file *f, struct err *e);
int reopen_fifo(struct reopen *r, struct reopen_file *f, const char *path, int flags, struct err *e);
/* Netlink sockets (netlink.c). */
int reopen_netlink_check(const RegFileEntry *re, struct err *e);
int reopen_netlink(struct reopen_file *f, struct err *e);
int reopen_inet(struct reopen *r, struct reopen_file *f, struct err *e);
int reopen_inet_finish(struct reopen *r, struct err *e);

/* syscalls.c: the stage's seccomp allow list (lib/confine.h), ending with
 * -1, and the ioctl requests it makes, ending with 0. */
extern const int restore_files_syscalls[];
extern const unsigned long restore_files_ioctls[];

/* Marks the files in flight in unix sockets' queues, to be opened too;
 * refuses an id files.img lacks (unixq.c). */
int reopen_unix_mark_inflight(struct reopen *r, struct err *e);
/* Once every file is open: puts back what waited in each unix socket
 * (with the files in flight, from each datagram's sender), connects the
 * clients that waited in a listener's backlog and the bound datagram
 * sockets that were connected, and shuts sockets down as they were
 * (unixq.c). */
int reopen_unix_finish(struct reopen *r, struct err *e);

#endif
