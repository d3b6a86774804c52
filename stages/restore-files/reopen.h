/* reopen: what restore-files does with the images: it reads files.img and
 * each task's fdinfo-PID.img into a plan (which descriptor of which task gets
 * which file), opens every file the plan uses once, checks it is the file
 * that was dumped, and hands the opened files and the plan on. */
#ifndef AMBER_RESTORE_FILES_REOPEN_H
#define AMBER_RESTORE_FILES_REOPEN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "images/files.pb-c.h"
#include "ipc/stream.h"
#include "lib/err.h"

/* One open file description of files.img. */
struct reopen_file {
	RegFileEntry *re;
	int fd;			/* opened by this stage, -1 before */
	pid_t pid;		/* the first descriptor that uses it, for messages; 0 if unused */
	uint32_t tfd;
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
	RemapPlanEntry **remaps;	/* from collect-remaps: how unlinked files are reached */
	int nr_remaps;
	struct { uint32_t ghost_id; int fd; } *ghosts;	/* inodes made from ghost images, by ghost id */
	int nr_ghosts;
	struct reopen_pipe *pipes;
	int nr_pipes;
	struct reopen_file *files;	/* sorted by id */
	int nr_files;
	struct reopen_fd *plan;		/* tasks in input order, fds ascending */
	int nr_plan, cap_plan;
	pid_t *pids;
	int nr_pids, cap_pids;
	int nr_open;
	struct { uint32_t id; int dirfd; } *hidden;	/* files under an overmount (hidden.c) */
	int nr_hidden;
	struct reopen_ns *ns;		/* the tree's mount namespaces (mntns.c), or NULL */
};

/* mntns.c: keeps build-mntns' namespace (opens its pin); enters the one
 * pid's files are opened in (pid's, or ours); frees. */
struct reopen_ns;
int reopen_ns_add(struct reopen_ns **ns, const MntnsPlanEntry *m, struct err *e);
int reopen_ns_enter(struct reopen_ns *ns, pid_t pid, struct err *e);
void reopen_ns_free(struct reopen_ns *ns);

/* hidden.c: takes build-mntns' directory fds of files under overmounts
 * (until its end marker); opens a file by path or through them; frees. */
int reopen_hidden_recv(struct reopen *r, int sock, struct err *e);
int reopen_open_path(const struct reopen *r, const RegFileEntry *re, const char *path, int flags);
void reopen_hidden_free(struct reopen *r);

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

/* Within the stage. */

/* Makes an anonymous-inode file (eventfd, signalfd, timerfd, epoll,
 * inotify) again in its dumped state (anon.c). */
int reopen_anon(struct reopen_file *f, struct err *e);
/* Is this a listening or bound datagram unix socket, made in a first pass
 * because connections to it are made again through it (sockets.c)? */
bool reopen_is_bound(const RegFileEntry *re);
int reopen_unix_bound(struct reopen_file *f, struct err *e);
/* Any other unix socket, with its peer when it has one (sockets.c). */
int reopen_unix(struct reopen *r, struct reopen_file *f, struct err *e);

#endif
