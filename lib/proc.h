/* proc: parsers for /proc/PID files.
 *
 * Each parser has a pure form that takes the text (tested on recorded
 * fixtures in tests/unit/fixtures/) and a reading form that opens the file.
 */
#ifndef AMBER_PROC_H
#define AMBER_PROC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"

/* One line of /proc/PID/maps. */
struct proc_vma {
	uint64_t start, end, pgoff;
	uint32_t prot;		/* PROT_READ | PROT_WRITE | PROT_EXEC */
	bool shared;		/* 's' rather than 'p' */
	uint32_t dev_major, dev_minor;
	uint64_t ino;
	char path[PATH_MAX];	/* file path, "[heap]", "[anon:x]" or "" */
	bool deleted;		/* path ended in " (deleted)", which is stripped */
	/* From smaps VmFlags (proc_read_smaps only). */
	bool growsdown;		/* gd */
	bool dontdump;		/* dd: MADV_DONTDUMP */
	bool account;		/* ac: charged to overcommit; keeps it from merging with uncharged neighbours */
	bool noreserve;		/* nr: MAP_NORESERVE, never charged */
	bool dontfork;		/* dc: MADV_DONTFORK */
	bool hugepage;		/* hg: MADV_HUGEPAGE */
	bool nohugepage;	/* nh: MADV_NOHUGEPAGE */
	bool wipeonfork;	/* wf: MADV_WIPEONFORK */
	bool locked;		/* lo: mlock, mlockall */
	bool lockonfault;	/* lf: MLOCK_ONFAULT, MCL_ONFAULT (with lo) */
	bool droppable;		/* dp: MAP_DROPPABLE */
	bool io_or_pfnmap;	/* io, pf: device memory amber cannot copy */
	uint64_t rss_kb, swap_kb;	/* Rss: and Swap: lines */
	bool has_smaps;		/* the fields above were read */
};

int proc_parse_maps_line(const char *line, struct proc_vma *v, struct err *e);
/* All VMAs of pid; *vmas is malloc'd. */
int proc_read_maps(pid_t pid, struct proc_vma **vmas, int *nr, struct err *e);

/* Like proc_read_maps, from /proc/PID/smaps, also filling the VmFlags fields. */
int proc_read_smaps(pid_t pid, struct proc_vma **vmas, int *nr, struct err *e);
/* Its pure form: parses smaps text (changed in place; 'path' names it in
 * messages). */
int proc_parse_smaps(char *text, const char *path, struct proc_vma **vmas, int *nr, struct err *e);
/* Parses the value of one smaps "VmFlags:" line into v. */
void proc_parse_vmflags(const char *flags, struct proc_vma *v);

/* The fields of /proc/PID/stat amber uses. */
struct proc_stat {
	pid_t pid;
	char comm[64];
	char state;
	pid_t ppid, pgrp, session;
	unsigned int tty_nr;	/* the controlling terminal's device number, 0 if none */
	pid_t tpgid;		/* its foreground process group, -1 if none */
	unsigned long flags;
	long num_threads;
	uint64_t start_time;	/* clock ticks after boot: with the pid, names one process for good */
	uint64_t start_code, end_code, start_stack;
	uint64_t start_data, end_data, start_brk;
	uint64_t arg_start, arg_end, env_start, env_end;
	int exit_code;
};

int proc_parse_stat(const char *text, struct proc_stat *st, struct err *e);

/* /proc/PID/limits: the soft and hard value of every resource, in
 * resource order (RLIMIT_CPU first), RLIM_INFINITY for "unlimited". */
#define PROC_NR_RLIMITS 16
struct proc_rlimit {
	uint64_t cur, max;
};
int proc_parse_limits(const char *text, struct proc_rlimit lim[PROC_NR_RLIMITS], struct err *e);
int proc_read_limits(pid_t pid, struct proc_rlimit lim[PROC_NR_RLIMITS], struct err *e);

/* The descriptor numbers open in pid, ascending; *fds is malloc'd. */
int proc_list_fds(pid_t pid, int **fds, int *nr, struct err *e);

/* A decimal number from /proc/PID/NAME (oom_score_adj, loginuid, ...);
 * false if the file is not there or holds no number. */
bool proc_read_number(pid_t pid, const char *name, long long *v);
int proc_read_stat(pid_t pid, pid_t tid, struct proc_stat *st, struct err *e);

/* The fields of /proc/PID/status amber uses. */
struct proc_status {
	char name[64];
	uint32_t umask;
	char state;
	pid_t tgid, pid, ppid, tracer;
	uid_t uid[4];		/* real, effective, saved, fs */
	gid_t gid[4];
	int threads;
	uint64_t sigpnd, shdpnd, sigblk, sigign, sigcgt;
	uint64_t capinh, capprm, capeff, capbnd, capamb;
	int nspid[8];		/* NSpid: outermost first */
	int nr_nspid;
	int ns_pgid, ns_sid;	/* last NSpgid and NSsid: as the innermost pid namespace sees them */
	int seccomp;
	int no_new_privs;
};

int proc_parse_status(const char *text, struct proc_status *st, struct err *e);
int proc_read_status(pid_t pid, pid_t tid, struct proc_status *st, struct err *e);

/* /proc/PID/fdinfo/FD. */
#define PROC_MAX_LOCKS 8

/* One "lock:" line of an fdinfo: a lock this descriptor (or, for POSIX
 * locks, its process) holds on the file. */
struct proc_lock {
	int kind;		/* PROC_LOCK_FLOCK, _POSIX, _OFD */
	bool write;
	uint64_t start;
	uint64_t len;		/* 0: to the end of the file */
};

enum { PROC_LOCK_FLOCK = 1, PROC_LOCK_POSIX = 2, PROC_LOCK_OFD = 3, PROC_LOCK_OTHER = 4 };

struct proc_fdinfo {
	uint64_t pos;
	uint32_t flags;		/* octal in the file */
	int mnt_id;
	uint64_t ino;
	int tty_index;		/* a pty master's "tty-index:" (N of /dev/pts/N), else -1 */
	int nr_locks;
	struct proc_lock locks[PROC_MAX_LOCKS];
};

int proc_parse_fdinfo(const char *text, struct proc_fdinfo *fi, struct err *e);

/* The extra fdinfo lines of an eventfd, signalfd or timerfd. */
struct proc_fdinfo_anon {
	bool eventfd, signalfd, timerfd, epoll;	/* which lines were there */
	int nr_tfd;				/* epoll: its registrations */
	struct { int tfd; uint32_t events; uint64_t data; } *tfd;	/* malloc'd: proc_fdinfo_anon_free */
	uint64_t eventfd_count;
	bool eventfd_semaphore;
	uint64_t sigmask;
	int clockid;
	uint64_t ticks;
	uint32_t settime_flags;
	uint64_t value_sec, value_nsec, interval_sec, interval_nsec;
};

int proc_parse_fdinfo_anon(const char *text, struct proc_fdinfo_anon *a, struct err *e);
void proc_fdinfo_anon_free(struct proc_fdinfo_anon *a);
/* One watch of an inotify instance, from its fdinfo "inotify wd:" line:
 * the watched inode and a file handle for it (fs/notify/fdinfo.c). */
#define PROC_HANDLE_MAX 128	/* MAX_HANDLE_SZ */
struct proc_inotify_watch {
	int wd;
	uint64_t ino;
	uint32_t sdev;		/* the kernel's dev_t: major << 20 | minor */
	uint32_t mask, ignored_mask;
	int handle_type;
	unsigned int handle_bytes;
	unsigned char handle[PROC_HANDLE_MAX];
};

/* Parses every "inotify wd:" line of an inotify's fdinfo into a malloc'd
 * array (*w, *nr; none is fine: an instance watching nothing). */
int proc_parse_fdinfo_inotify(const char *text, struct proc_inotify_watch **w, int *nr, struct err *e);
int proc_read_fdinfo(pid_t pid, int fd, struct proc_fdinfo *fi, struct err *e);

/* /proc/PID/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst). */
#define PME_PRESENT	(1ULL << 63)
#define PME_SWAP	(1ULL << 62)
#define PME_FILE	(1ULL << 61)	/* file page or shared anon */
#define PME_EXCLUSIVE	(1ULL << 56)
#define PME_SOFT_DIRTY	(1ULL << 55)
#define PME_PFN_MASK	((1ULL << 55) - 1)

/* Is this page's content private to the process (so it must be dumped)? */
static inline bool proc_pme_private_data(uint64_t pme)
{
	return (pme & PME_SWAP) || ((pme & PME_PRESENT) && !(pme & PME_FILE));
}

/* Reads a whole small /proc file into a malloc'd NUL-terminated buffer. */
int proc_read_file(const char *path, char **text, size_t *len, struct err *e);
/* The same from an open fd (path names it in messages). */
int proc_read_fd(int fd, const char *path, char **text, size_t *len, struct err *e);
/* Thread ids of pid (from /proc/PID/task), sorted; *tids is malloc'd. */
int proc_list_threads(pid_t pid, pid_t **tids, int *nr, struct err *e);
/* Children of one thread (/proc/PID/task/TID/children). */
int proc_read_children(pid_t pid, pid_t tid, pid_t **kids, int *nr, struct err *e);
/* Parses a space-separated list of decimal pids. */
int proc_parse_pid_list(const char *text, pid_t **pids, int *nr, struct err *e);

#endif
