/* opts: the options every driver subcommand shares (-D, -v, -o, --run-dir). */
#ifndef AMBER_DRIVER_OPTS_H
#define AMBER_DRIVER_OPTS_H

#include <getopt.h>
#include <stdbool.h>

#include "driver/extmnt.h"
#include "images/netns.h"

/* As many as the stages are given; the inherited fds are passed at
 * FD_FIRST_INHERIT and up (ipc/fds.h). */
#define DRV_MAX_EXTERNALS 64
#define DRV_MAX_INHERITS 16
#define DRV_MAX_UNION_ROOTS 16

struct drv_opts {
	const char *images;	/* -D */
	const char *logfile;	/* -o */
	const char *run_dir;	/* --run-dir */
	const char *pidfile;	/* --pidfile */
	int verbosity;		/* -v[N], -v N, -vvv */
	int pid;		/* -t */
	bool leave_running;	/* --leave-running */
	bool force;		/* --force (dump): replace the dump in -D */
	bool allow_untrusted;	/* --allow-untrusted-dir (restore) */
	bool timings;		/* --timings (dump, restore, gc) */
	bool detach;		/* -d */
	bool pidns;		/* --pidns */
	bool keep_link_remaps;	/* --keep-link-remaps */
	bool show;		/* --show (gc) */
	bool allow_changed;	/* --allow-changed-files (restore) */
	bool file_locks;	/* --file-locks (dump) */
	bool tcp_established;	/* --tcp-established (dump): established TCP connections through repair mode */
	bool tcp_close;		/* --tcp-close (restore): those connections restored closed */
	int network_lock;	/* --network-lock (dump): enum netlock_mode, nftables by default */
	bool empty_net;		/* --empty-ns net (dump, restore): the network namespace is the caller's */
	const char *ghost_limit;	/* --ghost-limit BYTES */
	bool shell_job;		/* --shell-job (dump, restore) */
	const char *console_socket;	/* --console-socket PATH (restore): the terminal's new master goes there */
	const char *externals[DRV_MAX_EXTERNALS];	/* --external KEY (dump) but mnt[], as given */
	int nr_externals;
	struct drv_inherit {	/* --inherit-fd fd[N]:KEY (restore) */
		int fd;		/* the driver's own fd N */
		const char *arg;	/* fd[N]:KEY as given */
	} inherits[DRV_MAX_INHERITS];
	int nr_inherits;
	struct extmnt extmnt;	/* --external mnt[...] (driver/extmnt.c) */
	const char *extveth[NETNS_EXT_MAX];	/* --external veth[IF] (dump), veth[IF]:OUTSIDE (restore), as given */
	int nr_extveth;
	const char *root;	/* --root PATH (restore): the root of the tree's mount namespace */
	const char *union_roots[DRV_MAX_UNION_ROOTS];	/* --union-root BRANCH=UNION (dump), as given */
	int nr_union_roots;
	enum drv_verify { DRV_VERIFY_FAIL, DRV_VERIFY_WARN, DRV_VERIFY_OFF } verify;	/* --verify=MODE, --no-verify */
	bool verify_pages;	/* --verify=pages */
	const char *prev_images;	/* --prev-images-dir PREV (dump, pre-dump): an incremental dump */
	bool pre_dump;		/* the command is pre-dump */
	bool auto_dedup;	/* --auto-dedup (dump, pre-dump): punch what the dump copied out of its parent */
	const char *delay_mounts[DRV_MAX_EXTERNALS];	/* --delay-mount mnt[MOUNTPOINT] (restore): the MOUNTPOINTs */
	int nr_delay_mounts;
	const char *page_server;	/* --page-server A:N (dump, pre-dump): pages files go there */
	bool lazy_pages;	/* --lazy-pages (restore) */
	const char *lazy_push_rate;	/* --lazy-push-rate MIB (restore) */
};

enum { DRV_OPT_RUN_DIR = 1000, DRV_OPT_LEAVE_RUNNING, DRV_OPT_PIDFILE, DRV_OPT_HELP, DRV_OPT_PIDNS,
       DRV_OPT_KEEP_REMAPS, DRV_OPT_SHOW, DRV_OPT_GHOST_LIMIT, DRV_OPT_ALLOW_CHANGED, DRV_OPT_FILE_LOCKS,
       DRV_OPT_SHELL_JOB, DRV_OPT_EXTERNAL, DRV_OPT_INHERIT_FD, DRV_OPT_ROOT, DRV_OPT_FORCE,
       DRV_OPT_ALLOW_UNTRUSTED, DRV_OPT_TIMINGS, DRV_OPT_VERIFY, DRV_OPT_NO_VERIFY, DRV_OPT_TCP_ESTABLISHED,
       DRV_OPT_TCP_CLOSE, DRV_OPT_NETWORK_LOCK, DRV_OPT_PREV_IMAGES, DRV_OPT_AUTO_DEDUP, DRV_OPT_UNION_ROOT,
       DRV_OPT_DELAY_MOUNT, DRV_OPT_EMPTY_NS, DRV_OPT_CONSOLE_SOCKET, DRV_OPT_PAGE_SERVER, DRV_OPT_LAZY_PAGES,
       DRV_OPT_LAZY_PUSH_RATE };

/* Parses the options of subcommand argv[0] (dump, restore, gc); an option
 * of another subcommand is refused naming it and the subcommands that take
 * it. Returns 0, -1 for --help, or an exit code. */
int drv_parse(int argc, char **argv, struct drv_opts *o);
/* Whether subcommand 'cmd' takes the option whose getopt value is 'val',
 * and which subcommands do ("*" for all, NULL: no such option). */
bool drv_takes_option(const char *cmd, int val);
const char *drv_option_commands(int val);

#endif
