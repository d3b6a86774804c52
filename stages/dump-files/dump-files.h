/* dump-files: the stage's internals (this folder only). What it reads from
 * /proc for each process of the tree: its place in the file system
 * (fs-PID.img), its descriptors (fdinfo-PID.img) and the open file
 * descriptions behind them (files.img, one for the tree, each description
 * written once however many descriptors in however many processes share it).
 *
 * The modules, each calling only those below it:
 *	main.c		the stage: options, the task records on stdin
 *	task.c		one process: fs-PID.img, fdinfo-PID.img
 *	kinds.c		the kinds of open files (struct df_kind), in the order
 *			they are told apart, each with its operations in:
 *	pipes.c sockets.c unixq.c anon.c memfd.c path.c
 *	files.c		the open file table: ids, files.img records (the kind's
 *			describe fills them), refusals; it knows the kinds only
 *			through the table it is given
 *	external.c nspath.c	--external keys; paths in other mount namespaces
 */
#ifndef AMBER_STAGE_DUMP_FILES_H
#define AMBER_STAGE_DUMP_FILES_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <termios.h>

#include "images/files.pb-c.h"
#include "images/fs.pb-c.h"
#include "ipc/stream.h"
#include "images/image.h"
#include "lib/err.h"
#include "lib/union.h"
#include "lib/external.h"
#include "lib/inetopt.h"
#include "lib/inetdiag.h"
#include "lib/mcast.h"
#include "lib/proc.h"
#include "lib/sockdiag.h"

struct df_kind;

/* What moves on a frozen connection (segments in flight, retransmissions,
 * window probes and acknowledgements are still handled by the kernel):
 * its sequence numbers, queue lengths and window at one moment (inet.c). */
struct df_tcp_snap {
	uint32_t snd_seq, rcv_seq;
	int inq, outq, unsent;
	struct { uint32_t snd_wl1, snd_wnd, max_window, rcv_wnd, rcv_wup; } w;	/* struct tcp_repair_window */
};

/* One open file description already written to files.img. */
struct df_file {
	uint32_t id;
	pid_t pid;		/* one descriptor that holds it, for kcmp */
	int fd;
	uint64_t dev, ino;	/* with flags and pos, the cheap filter before kcmp */
	uint32_t flags;
	uint64_t pos;		/* one description has one position: a frozen tree's differ if they differ */
	int next;		/* next group head in the same hash chain, -1 ends it */
	/* Descriptions with one (dev, ino, flags, pos) form a group, kept in
	 * kcmp's order of the kernel's file pointers, so a lookup is a binary
	 * search: 15,000 opens of one file cost 15,000 x 14 kcmp, not 10^8.
	 * Only a group's head (its first description) is in a hash chain and
	 * holds the group. */
	int *members;		/* head only: indices into df.v, in kcmp order */
	int nr_members;
};

struct df {
	const struct df_kind *kinds;	/* the kinds of open files told apart, in order */
	int nr_kinds;
	int dir_fd;
	struct image files;		/* files.img, open for the whole run */
	struct df_file *v;
	int nr;
	size_t cap;
	int *buckets;			/* hash of (dev, ino, flags, pos) -> first group head */
	int nr_buckets;
	int nr_tasks;
	uint64_t nr_fds;
	struct image pipedata;		/* pipedata.img, created at the first pipe */
	bool pipedata_open;
	uint64_t *pipes;		/* inodes of the pipes whose data is saved */
	struct { uint64_t dev, ino; } *fifos;	/* FIFOs whose data is saved */
	int nr_fifos;
	struct df_owner { pid_t owner, pid; int fd; } *owners;	/* F_SETOWN targets, checked at close */
	int nr_owners;
	struct df_sock { uint64_t ino, peer; pid_t pid; int fd; } *socks;	/* unix sockets, to check peers at close */
	int nr_socks;
	int pidfd;			/* of pidfd_pid, for pidfd_getfd */
	pid_t pidfd_pid;
	uint8_t *pipe_sides;		/* per pipe: 1 read end seen, 2 write end seen */
	int (*pipe_holder)[2];		/* per pipe: a pid and fd of the tree that hold it */
	int scratch[2];			/* the pipe pipes are tee'd into, or -1 */
	int nr_pipes;
	pid_t *tree;			/* the processes dumped, to tell outsiders apart */
	int nr_tree;
	uint64_t ghost_limit;		/* --ghost-limit: largest unlinked file saved whole (not memfds) */
	const struct union_root *union_roots;	/* --union-root BRANCH=UNION (union.c) */
	int nr_union_roots;
	bool file_locks;		/* --file-locks: save locks (else a held lock refuses the dump) */
	struct image remaps;		/* remaps.img, created at the first unlinked file */
	bool remaps_open;
	char **links;			/* link remaps made by this run, removed if it fails */
	int nr_links;
	struct df_remapped {	/* inodes remapped so far: one remap per inode */
		uint64_t dev, ino;
		uint32_t file_id;	/* the first description's */
		int kind;		/* RemapKind */
		char *path;		/* a link remap's */
	} *remapped;
	int nr_remapped;
	struct { uint64_t dev, ino; } *mapped;	/* deleted files mapped, each with a 'mapped' record (maps.c) */
	int nr_mapped;
	struct { uint64_t ns; int fd; } *nsroots;	/* roots of mount namespaces of chrooted tasks (nspath.c) */
	int nr_nsroots;
	/* The last task whose mount namespace was asked for, and the answer:
	 * asked once per path otherwise, three stats each. */
	pid_t ns_pid;
	uint64_t ns_ino;
	struct df_ext {		/* --external keys, and whether a descriptor matched each */
		struct ext_key key;
		bool used;
	} *ext;
	int nr_ext;
	bool shell_job;			/* --shell-job: every terminal is external */
	struct df_listener { pid_t pid; int fd; uint64_t ino; } *listeners;	/* with connections waiting */
	int nr_listeners;
	bool accept_backlog;		/* --accept-backlog: waiting connections with data may be accepted */
	int *inflight;			/* this stage's copies of files in flight (SCM_RIGHTS), kept for kcmp */
	int nr_inflight;
	pid_t via_pid;			/* the socket whose queue holds the file in flight being read */
	int via_fd;
	struct { uint64_t dev, ino; } *memfds;	/* memfds saved by this stage */
	int nr_memfds;
	int tcp_mode;			/* --tcp-established: 0 refused, 1 read and left, 2 left in repair mode */
	bool peer_outside;		/* --tcp-peer-outside: a connection's other end may be outside the tree */
	/* sock_diag's view of the TCP and UDP sockets, IPv4 and IPv6, read once
	 * at the first socket of each kind (one dump per socket was quadratic:
	 * 1,000 connections took 86 s); the tree is frozen and the network
	 * locked, so it does not go stale (inet.c). */
	struct df_diag { struct inetdiag_sock *v; int nr; bool loaded; } diag[4];
	/* Which descriptor of the tree holds each socket inode, built at the
	 * first connection whose other end is looked for (inet.c). */
	struct df_sockref { uint64_t ino; pid_t pid; int fd; } *sockrefs;
	int nr_sockrefs;
	bool sockrefs_built;
	struct mcast_group *mc_groups;	/* the groups the devices joined, read at the first UDP socket */
	int nr_mc_groups;
	bool mc_read;
	int *repaired;			/* copies of the TCP sockets put in repair mode (inet.c) */
	int nr_repaired;
	struct df_tcp {		/* established TCP connections, to check both ends are the tree's */
		pid_t pid;
		int fd;
		uint64_t ino;
		int family;
		uint8_t src[16], dst[16];
		unsigned sport, dport;
	} *tcps;
	int nr_tcps;
	/* Connections read together with the other end (inet.c), whose
	 * record is written when that end's descriptor comes. */
	struct df_tcp_cached {
		uint64_t ino;
		struct df_tcp_snap snap;
		uint8_t *rcvq, *sndq;
	} *tcp_cache;
	int nr_tcp_cache;
	const pid_t *all_pids;		/* every process of the tree (the host's pids), to find a connection's other end */
	int nr_all_pids;
	/* The pty masters the tree holds (tty.c): index and the st_dev of
	 * their devpts instance (0: not known). */
	struct df_pty_master { unsigned int idx; uint64_t dev; } *pty_masters;
	int nr_pty_masters;
	uint64_t devpts_dev;		/* st_dev of the host's devpts (/dev/pts) */
	const struct stream_task *in_tasks;	/* the task records: images' and host pids */
	int nr_in_tasks;
	int nr_unsupported;		/* descriptors that cannot be dumped yet */
	struct err unsupported;		/* the first of them */
};

/* What one unix socket's files.img record points to, freed once written. */
#define DF_UNIX_MAX_OPTS 16
struct df_usk {
	UnixSocketEntry u;
	ProtobufCBinaryData *q;		/* queue entries (data points into buf) */
	uint8_t *buf;
	uint8_t name[sizeof(((struct sockdiag_unix *)0)->name)];
	UnixQueueNote *notes;		/* notes[i] for notep[i] */
	UnixQueueNote **notep;
	uint64_t waiting[SOCKDIAG_MAX_ICONS];
	char why[320];			/* a reason built for this socket */
	InetSockOpt opts[DF_UNIX_MAX_OPTS];	/* the options that differ from a new socket's */
	InetSockOpt *optp[DF_UNIX_MAX_OPTS];
	uint8_t optdata[DF_UNIX_MAX_OPTS][INETOPT_MAX_BYTES];
};

/* What one TCP or UDP socket's files.img record points to, freed once
 * written (inet.c). */
#define DF_INET_MAX_OPTS 64
struct df_isk {
	InetSocketEntry s;
	uint8_t src[16], dst[16];
	InetSockOpt opts[DF_INET_MAX_OPTS];
	InetSockOpt *optp[DF_INET_MAX_OPTS];
	uint8_t optdata[DF_INET_MAX_OPTS][INETOPT_MAX_BYTES];
	TcpConnEntry tcp;
	uint8_t *sndq, *rcvq;
	InetDatagram *dgrams;		/* the queue (data points into buf) */
	InetDatagram **dgramp;
	uint8_t (*from)[16];		/* the senders' addresses */
	uint8_t *buf;
	struct df_mcast {		/* its multicast memberships (InetSocketEntry.mcast) */
		InetMcast m;
		struct mcast_membership mm;
		ProtobufCBinaryData src[MCAST_MAX_SOURCES];
	} *mcast;
	InetMcast **mcastp;
	char why[320];			/* a reason built for this socket */
};

/* One new open file description, being described for its files.img
 * record; what the record points to lives here until it is written. */
struct df_desc {
	pid_t pid;			/* a descriptor that holds it (this stage's own for one in flight) */
	int fd;				/* -1: a mapping (src) */
	const char *src;		/* how to reach the file, NULL: /proc/PID/fd/FD */
	const char *link;		/* what /proc/PID/fd/FD points to */
	const struct stat *st;		/* the open file */
	const struct proc_fdinfo *fi;
	RegFileEntry re;		/* id and common fields set, the kind's to fill */
	char path[PATH_MAX];		/* the path without " (deleted)" (memfd.c, path.c) */
	struct df_usk usk;		/* a unix socket's (sockets.c, unixq.c) */
	struct df_isk isk;		/* a TCP or UDP socket's (inet.c) */
	struct df_nlsk {		/* a netlink socket's (netlink.c) */
		NetlinkSocketEntry n;
		uint32_t *groups;
		InetSockOpt opts[DF_INET_MAX_OPTS];
		InetSockOpt *optp[DF_INET_MAX_OPTS];
		uint8_t optdata[DF_INET_MAX_OPTS][INETOPT_MAX_BYTES];
		char why[256];
	} nlsk;
	AnonFileEntry anon;		/* an anonymous inode's (anon.c) */
	EpollTargetEntry *tfds;
	void *watches;
	PtyEntry pty;			/* a pty end's (tty.c) */
	TtyStateEntry pty_state;
	uint8_t pty_cc[NCCS];
	uint8_t *pty_q[2];		/* its queues: to the slave, to the master */
};

/* What dump-files does with one kind of open file. kinds.c lists them in
 * the order they are told apart: the first whose link prefix and match
 * fit. Every operation may be NULL. */
struct df_kind {
	const char *name;		/* for messages: "pipe", "unix socket", ... */
	const char *prefix;		/* what its /proc/PID/fd link starts with */
	/* Also a test on the open file, where the prefix does not tell. */
	bool (*match)(const char *link, const struct stat *st);
	FdType fd_type;			/* in fdinfo-PID.img */
	enum ext_kind ext;		/* the --external key that can name one (0: none) */
	bool in_flight;			/* may be in flight in a unix socket's queue (SCM_RIGHTS) */
	/* Why a descriptor of this kind cannot be dumped yet (buf holds a
	 * reason built for it), or NULL. */
	const char *(*unsupported)(const char *link, const struct stat *st, char *buf, size_t size);
	/* Fills what the kind adds to a new description's record, d->re,
	 * saving what it holds; may refuse it (df_refuse). */
	int (*describe)(struct df *c, struct df_desc *d, struct err *e);
	/* Frees what describe left in d, once the record is written. */
	void (*release)(struct df_desc *d);
	/* One more descriptor holds such a file (for each fdinfo record). */
	void (*seen)(struct df *c, const struct stat *st, const struct proc_fdinfo *fi);
	/* Once every task was read: refuses what is joined to the outside. */
	void (*check)(struct df *c);
	/* Last, once every check passed: what reading changes (a backlog). */
	int (*finish)(struct df *c, struct err *e);
};

/* kinds.c */
extern const struct df_kind df_kinds[];
extern const int df_nr_kinds;

/* files.c: the open file table. */

/* Creates files.img in the images directory; kinds are the kinds of open
 * files it tells apart (df_kinds). */
int df_open(struct df *c, int dir_fd, const struct df_kind *kinds, int nr_kinds, uint64_t ghost_limit, bool file_locks,
	    struct err *e);
/* Removes the link remaps this run made (the dump failed). */
void df_abort(struct df *c);
/* Runs the kinds' checks and finishes files.img; fails naming the first
 * unsupported descriptor, if any. */
int df_close(struct df *c, struct err *e);
void df_free(struct df *c);
/* The kind of the file behind a descriptor, or NULL if none fits. */
const struct df_kind *df_kind_of(const struct df *c, const char *link, const struct stat *st);
/* The id of the open file description behind pid's fd, of kind k: one
 * written already if kcmp finds it shared, else a new record in files.img
 * (*added), described by k unless ext, its external key, stands for it. */
int df_file_id(struct df *c, const struct df_kind *k, pid_t pid, int fd, const char *link, const struct stat *st,
	       const struct proc_fdinfo *fi, const char *ext, uint32_t *id, bool *added, struct err *e);
/* One more id for a record no descriptor holds. */
int df_new_id(struct df *c, uint32_t *id, struct err *e);
/* Logs and counts one descriptor that cannot be dumped; the first becomes the error. */
void df_refuse(struct df *c, pid_t pid, int fd, const char *link, const char *why);
/* union.c: if link (room for size bytes) is under a --union-root branch,
 * rewrites it to the union's path and st's device and inode (and *mnt_id,
 * if given) to the union file's; returns 0, or 1 if the file there is not
 * the same one (refused with df_refuse). */
int df_union_path(struct df *c, pid_t pid, int fd, char *link, size_t size, struct stat *st, int *mnt_id);
/* The same for a task's cwd or root ('what'): a directory of the union,
 * or an input error naming it. */
int df_union_dir(struct df *c, pid_t pid, const char *what, char *path, size_t size, struct err *e);
/* shared.c: refuses processes sharing a descriptor table or fs struct. */
void df_check_shared(struct df *c);
/* The settings of terminal pid fd into t (cc the NCCS bytes it points
 * at), and *out = t; *out NULL for a character device that is no terminal. */
int df_tty_state(struct df *c, pid_t pid, int fd, TtyStateEntry *t, uint8_t *cc, TtyStateEntry **out, struct err *e);
/* A copy of pid's fd in this process (pidfd_getfd). */
int df_getfd(struct df *c, pid_t pid, int fd, struct err *e);
/* Keeps a file this stage holds (in flight, accepted) open until the end:
 * kcmp compares later descriptors with it. Closes it on failure. */
int df_keep_fd(struct df *c, int fd, struct err *e);
/* Does the link end in " (deleted)" (DF_DELETED)? */
bool df_is_deleted(const char *link);

#define DF_DELETED " (deleted)"

/* task.c: writes fs-PID.img and fdinfo-PID.img of one process and adds
 * its new open files to files.img. An unsupported descriptor is logged and
 * counted, not returned, so that one run lists all of them; df_close
 * reports them. pid is where /proc shows the process; id names its images
 * (they differ when the tree has a pid namespace of its own). */
int df_task(struct df *c, pid_t pid, pid_t id, struct err *e);

/* maps.c: gives each deleted regular file that pid (image pid id) maps,
 * or runs as its executable, a files.img description no descriptor holds
 * ('mapped'), linked back or saved like an unlinked open file, once per
 * inode for the tree. */
int df_maps(struct df *c, pid_t pid, pid_t id, struct err *e);

/* external.c */

/* Takes the --external keys (file, tty, unix, pipe) and --shell-job. */
int df_set_externals(struct df *c, char **keys, int nr, bool shell_job, struct err *e);
/* The canonical key of pid's fd (of kind k, NULL if none) when --external
 * or --shell-job makes it external, written into buf; NULL when the fd is
 * the tree's own. */
const char *df_external_key(struct df *c, const struct df_kind *k, const char *link, const struct stat *st, int mnt_id,
			    char *buf, size_t size);
/* Refuses every --external key that matched no descriptor. */
void df_check_externals(struct df *c);
/* Is this descriptor a terminal? */
bool df_is_tty(const char *link, const struct stat *st);

/* nspath.c: where the dumper finds pid's path (as /proc shows it: from
 * the root of pid's mount namespace) into buf: itself in our namespace,
 * under /proc/PID/root for a task whose root is its namespace's, else
 * under the namespace's root (lib/nsroot.h) through /proc/self/fd. */
void df_ns_path(struct df *c, pid_t pid, const char *path, char *buf, size_t size);
/* Does path no longer lead to the open file st (on mount mnt_id)? A
 * file under an overmount of a namespace of the tree is not replaced. */
bool df_path_replaced(struct df *c, pid_t pid, const char *path, const struct stat *st, int mnt_id);

/* The kinds' operations (see struct df_kind), by module. */

/* pipes.c: a pipe's or a FIFO's buffered bytes, saved once per pipe or
 * inode without taking them out; the ends of each pipe the tree holds. */
int df_pipe_describe(struct df *c, struct df_desc *d, struct err *e);
void df_pipe_seen(struct df *c, const struct stat *st, const struct proc_fdinfo *fi);
/* Refuses every pipe whose other end a process outside the tree holds. */
void df_pipe_check(struct df *c);
bool df_fifo_match(const char *link, const struct stat *st);
int df_fifo_describe(struct df *c, struct df_desc *d, struct err *e);

/* sockets.c: every socket (unix ones here, TCP and UDP in inet.c). */
int df_socket_describe(struct df *c, struct df_desc *d, struct err *e);
void df_unix_release(struct df_desc *d);
/* The device and inode of the directory that holds a path name (len
 * bytes, not terminated) of a unix socket, as restore checks them; false
 * for an abstract name or a directory that cannot be looked at. */
bool df_unix_dir(const uint8_t *name, size_t len, uint64_t *dev, uint64_t *ino);
/* Refuses every socket whose peer no process of the tree holds. */
void df_unix_check(struct df *c);
/* Reads the connections waiting in listeners' backlogs that carry data,
 * accepting them (--accept-backlog), and writes their embryo records; a
 * refusal if that is not allowed. */
int df_unix_backlogs(struct df *c, struct err *e);

/* inet.c: a TCP or UDP socket (family AF_INET or AF_INET6), whose copy
 * here is sk: fills d->re.inet_sk, or sets *why to the reason it cannot be
 * restored (the caller refuses it). */
int df_inet_describe(struct df *c, struct df_desc *d, int sk, int family, const char **why, struct err *e);
void df_inet_release(struct df_desc *d);
/* Refuses every established connection whose other end the tree does not
 * hold (nothing keeps its peer from resetting it: no network lock). */
void df_inet_check(struct df *c);
/* inet.c: sock_diag's list of the sockets of family and protocol (read
 * once per run); an address of sa split into addr, port and scope. */
int df_diag(struct df *c, int family, int protocol, struct df_diag **out, struct err *e);
bool df_inet_split(const struct sockaddr_storage *sa, uint8_t *addr, uint32_t *port, uint32_t *scope, size_t *len);
/* tcp.c: an established connection (--tcp-established) of d: its peer,
 * remembered for df_inet_check, and its repair state into k. */
int df_tcp_established(struct df *c, struct df_desc *d, int sk, struct df_isk *k, const struct inetdiag_sock *di,
		       struct err *e);
/* Whether socket sk is of amber's network namespace (ns: its inode). */
int df_sock_own_netns(int sk, bool *own, uint64_t *ns, struct err *e);
/* Describes netlink socket sk of d into d->re.netlink_sk, or sets *why to
 * the reason it cannot be restored (netlink.c). */
int df_netlink_describe(struct df *c, struct df_desc *d, int sk, const char **why, struct err *e);
void df_netlink_release(struct df_desc *d);
/* Takes the sockets this run put in repair mode out of it: at the end
 * with tcp_mode 1, or when the dump failed. */
void df_inet_unrepair(struct df *c);
/* "ADDR:PORT" ("[ADDR]:PORT" for AF_INET6) of addr, for messages. */
void df_inet_name(int family, const uint8_t *addr, unsigned port, char *buf, size_t size);

/* unixq.c: peeks at what waits in unix socket sk (held by pid's fd) into
 * k: the bytes, the senders' names and the files in flight, each described
 * by its kind (df_file_id). */
int df_unix_queue(struct df *c, pid_t pid, int fd, int sk, int type, struct df_usk *k, const char **why,
		  struct err *e);
void df_usk_free(struct df_usk *k);

/* anon.c: eventfd, signalfd, timerfd, epoll and inotify, from fdinfo. */
const char *df_anon_unsupported(const char *link, const struct stat *st, char *buf, size_t size);
int df_anon_describe(struct df *c, struct df_desc *d, struct err *e);
void df_anon_release(struct df_desc *d);

/* memfd.c: a memfd, saved whole once, whatever its size, in memfd-INO.img
 * and pages-memfd-INO.img. */
bool df_memfd_match(const char *link, const struct stat *st);
int df_memfd_describe(struct df *c, struct df_desc *d, struct err *e);

/* tty.c: pty pairs whose master the tree holds. */
extern const struct df_kind df_pty_kind;
/* Finds the pty masters the processes hold (before any is dumped: a
 * slave is the tree's own only if its master is). */
int df_pty_scan(struct df *c, const pid_t *pids, int nr, struct err *e);
/* Is this descriptor's file a pty master, or a slave whose master the
 * tree holds (same devpts instance, same index)? */
bool df_pty_inside(const struct df *c, const struct stat *st);
/* Is it /dev/tty in a process whose controlling terminal is such a slave? */
bool df_pty_dev_tty(const struct df *c, pid_t pid, const struct stat *st);
int df_pty_describe(struct df *c, struct df_desc *d, struct err *e);
/* A session leader's controlling terminal, when it is a pty slave of the
 * tree: the fd it holds on it and the foreground group, into fs. */
int df_pty_ctty(struct df *c, pid_t pid, FsEntry *fs, struct err *e);
void df_pty_release(struct df_desc *d);

/* path.c: what is opened by a path: regular files (linked back or saved
 * when unlinked or replaced), directories, device nodes. */
bool df_regular_match(const char *link, const struct stat *st);
int df_regular_describe(struct df *c, struct df_desc *d, struct err *e);
const char *df_path_unsupported(const char *link, const struct stat *st, char *buf, size_t size);
/* A directory removed while open (deleted, with its owner); others need nothing. */
int df_dir_describe(struct df *c, struct df_desc *d, struct err *e);
/* pid's working directory cwd (as /proc shows it) was removed: a
 * description no descriptor holds (mapped_by id), its id into *file_id. */
int df_deleted_cwd(struct df *c, pid_t pid, pid_t id, const char *cwd, uint32_t *file_id, struct err *e);

/* inet.c: saves into opts (pointed at by optp, bytes in optdata) each
 * option of lib/inetopt.c's table that applies to the family and protocol
 * and differs on sk from fresh, a new socket of its kind (-1: every one
 * that reads counts), at most max; returns how many. Shared by TCP, UDP
 * and unix sockets. */
size_t df_sock_opts(int sk, int fresh, int family, int protocol, InetSockOpt *opts, InetSockOpt **optp,
		    uint8_t (*optdata)[INETOPT_MAX_BYTES], size_t max);

#endif
