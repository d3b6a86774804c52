/* dump-files: the stage's internals (this folder only): what it reads from /proc for each process of the tree:
 * its place in the file system (fs-PID.img), its descriptors
 * (fdinfo-PID.img) and the open file descriptions behind them (files.img,
 * one for the tree, each description written once however many descriptors
 * in however many processes share it). */
#ifndef AMBER_STAGE_DUMP_FILES_H
#define AMBER_STAGE_DUMP_FILES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "images/files.pb-c.h"
#include "images/image.h"
#include "lib/err.h"
#include "lib/external.h"
#include "lib/proc.h"
#include "lib/sockdiag.h"

/* One open file description already written to files.img. */
struct df_file {
	uint32_t id;
	pid_t pid;		/* one descriptor that holds it, for kcmp */
	int fd;
	uint64_t dev, ino;	/* with flags and pos, the cheap filter before kcmp */
	uint32_t flags;
	uint64_t pos;		/* one description has one position: a frozen tree's differ if they differ */
	int next;		/* next index in the same hash chain, -1 ends it */
};

struct df {
	int dir_fd;
	struct image files;		/* files.img, open for the whole run */
	struct df_file *v;
	int nr;
	size_t cap;
	int *buckets;			/* hash of (dev, ino, flags) -> first index */
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
	struct { uint64_t ns; int fd; } *nsroots;	/* roots of mount namespaces of chrooted tasks (nspath.c) */
	int nr_nsroots;
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
	int nr_unsupported;		/* descriptors that cannot be dumped yet */
	struct err unsupported;		/* the first of them */
};

/* What one unix socket's files.img record points to, freed once written. */
struct df_usk {
	UnixSocketEntry u;
	ProtobufCBinaryData *q;		/* queue entries (data points into buf) */
	uint8_t *buf;
	uint8_t name[sizeof(((struct sockdiag_unix *)0)->name)];
	UnixQueueNote *notes;		/* notes[i] for notep[i] */
	UnixQueueNote **notep;
	uint64_t waiting[SOCKDIAG_MAX_ICONS];
	char why[320];			/* a reason built for this socket */
};

/* Creates files.img in the images directory. */
int df_open(struct df *c, int dir_fd, uint64_t ghost_limit, bool file_locks, struct err *e);
/* Removes the link remaps this run made (the dump failed). */
void df_abort(struct df *c);
/* Writes fs-PID.img and fdinfo-PID.img of one process and adds its new open
 * files to files.img. An unsupported descriptor is logged and counted, not
 * returned, so that one run lists all of them; df_close reports them. */
/* pid is where /proc shows the process; id names its images (they differ
 * when the tree has a pid namespace of its own). */
int df_task(struct df *c, pid_t pid, pid_t id, struct err *e);
/* Finishes files.img; fails naming the first unsupported descriptor, if any. */
int df_close(struct df *c, struct err *e);
void df_free(struct df *c);

/* Takes the --external keys (file, tty, unix, pipe) and --shell-job. */
int df_set_externals(struct df *c, char **keys, int nr, bool shell_job, struct err *e);

/* Within the stage (collect.c, anon.c, sockets.c, external.c). */

/* The canonical key of pid's fd when --external or --shell-job makes it
 * external, written into buf; NULL when the fd is the tree's own. */
const char *df_external_key(struct df *c, const char *link, const struct stat *st, int mnt_id,
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

/* Logs and counts one descriptor that cannot be dumped; the first becomes the error. */
void df_refuse(struct df *c, pid_t pid, int fd, const char *link, const char *why);
/* A copy of pid's fd in this process (pidfd_getfd). */
int df_getfd(struct df *c, pid_t pid, int fd, struct err *e);
/* Saves the memfd behind pid's fd (link "/memfd:NAME", " (deleted)"
 * stripped) once, whatever its size, in memfd-INO.img and
 * pages-memfd-INO.img (memfd.c). */
int df_memfd(struct df *c, pid_t pid, int fd, const char *link, const struct stat *st, struct err *e);
/* The state of an anonymous-inode file (anon.c). */
int df_anon(pid_t pid, int fd, const char *link, AnonFileEntry *a, EpollTargetEntry **tfds, void **block,
	    struct err *e);
/* One unix socket (sockets.c); *why, when set, is why it cannot be dumped. */
int df_unix(struct df *c, pid_t pid, int fd, uint64_t ino, struct df_usk *k, const char **why, struct err *e);
void df_usk_free(struct df_usk *k);
/* Peeks at what waits in unix socket sk (held by pid's fd) into k: the
 * bytes, the senders' names and the files in flight (unixq.c). */
int df_unix_queue(struct df *c, pid_t pid, int fd, int sk, int type, struct df_usk *k, const char **why,
		  struct err *e);
/* Keeps a file this stage holds (in flight, accepted) open until the end:
 * kcmp compares later descriptors with it (unixq.c). Closes it on failure. */
int df_keep_fd(struct df *c, int fd, struct err *e);
/* Reads the connections waiting in listeners' backlogs that carry data,
 * accepting them (--accept-backlog), and writes their embryo records; a
 * refusal if that is not allowed (sockets.c). Once everything else passed. */
int df_unix_backlogs(struct df *c, struct err *e);
/* The id of the open file description behind pid's fd, writing it to
 * files.img if it is new (collect.c); ext, if set, is its external key. */
int df_file_id(struct df *c, pid_t pid, int fd, const char *link, const struct stat *st,
	       const struct proc_fdinfo *fi, const char *ext, uint32_t *id, bool *added, struct err *e);
/* One more id for a record no descriptor holds (collect.c). */
int df_new_id(struct df *c, uint32_t *id, struct err *e);
/* Saves what a pipe (pipes.c) or a FIFO holds, once per pipe or inode. */
int df_pipe_data(struct df *c, pid_t pid, int fd, uint64_t ino, struct err *e);
int df_fifo_data(struct df *c, pid_t pid, int fd, const struct stat *st, struct err *e);
/* Refuses every pipe whose other end a process outside the tree holds (pipes.c). */
void df_check_pipe_peers(struct df *c);
/* Refuses every socket whose peer no process of the tree holds (sockets.c). */
void df_check_socket_peers(struct df *c);

#endif
