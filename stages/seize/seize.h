/* seize: the seize stage's internals (this folder only). */
#ifndef AMBER_STAGE_SEIZE_H
#define AMBER_STAGE_SEIZE_H

#include "images/netns.h"
#include <sys/types.h>

#include "images/core.pb-c.h"
#include "ipc/stage.h"

struct seize_opts {
	int pid;
	struct netns_ext ext[NETNS_EXT_MAX];	/* --external veth[IF] */
	int nr_ext;
	bool track;		/* --track: start write tracking at 'release resume' (pre-dump) */
	bool empty_net;		/* --empty-ns net: the network namespaces are not read */
	const char *prev;	/* --prev-images-dir: the parent iteration, whose holder it takes over */
};

struct seize_proc {
	pid_t pid, ppid, pgid, sid;	/* as this stage sees them */
	pid_t *tids;		/* leader first */
	pid_t *ns_tids;		/* the same in the tree's own pid namespace: the images' ids */
	pid_t ns_pid, ns_ppid, ns_pgid, ns_sid;
	int nr_tids;
	bool zombie;		/* exited, not reaped: no threads to seize, no memory */
	bool gone;		/* exited and reaped while the tree was being seized */
	bool stopped;		/* in a group stop (job control) when seized */
	int exit_status;	/* a zombie's wait status */
};

struct seize_tree {
	struct seize_proc *procs;	/* parents before children */
	int nr;
	bool own_pidns;			/* the root lives in a pid namespace other than seize's */
};

/* Fills the ns_* ids: the same as the host ids, or (own_pidns) as the
 * tree's pid namespace sees them. */
int seize_tree_ns_ids(struct seize_tree *t, struct err *e);

int seize_run(const struct stage_ctx *ctx, void *opts, struct err *e);
/* Reads the driver's verdict, one line on the control fd: 1 for "release
 * kill", 0 to resume (anything else, or EOF: the driver died). */
int seize_wait_verdict(int fd);
/* tree.c: find and stop every thread of the tree. */
int seize_tree_freeze(pid_t root, struct seize_tree *t, struct err *e);
/* Releases the tree: kill it, or detach so it carries on. */
void seize_tree_release(struct seize_tree *t, int kill_it);
void seize_tree_free(struct seize_tree *t);
/* ns.c: compares every process's uts, ipc, net, user, cgroup and time
 * namespaces with this stage's; refuses the kinds amber cannot restore
 * (naming pid, namespace and fix), writes utsns.img and ipcns.img. */
int seize_dump_ns(int dirfd, const struct seize_tree *t, const struct seize_opts *o, struct err *e);
/* core.c: write core-TID.img for every thread of p; j is told of every
 * change made to its threads. */
struct rjournal;
int seize_dump_core(int dirfd, const struct seize_proc *p, struct rjournal *j, struct err *e);

/* core.c: where p's remote syscalls run from: the parking gadget written
 * into its vDSO padding (journaled; *gadget set, orig what it covered), or
 * a 'syscall' of the vDSO. */
struct rjournal;
int seize_site(const struct seize_proc *p, struct rjournal *j, uint64_t *site, bool *gadget, uint8_t orig[112],
	       struct err *e);
/* track.c: starts write tracking of every process of t and hands it to
 * amber-track (lib/track.h); never fails the dump: a process it cannot
 * track is warned about and copied in full next time. */
int seize_track(const struct stage_ctx *ctx, const struct seize_tree *t, const struct seize_opts *o, struct rjournal *j);

struct rsys;
struct rsys_req;
/* The scratch area seize maps in the task (MAP_SHARED) for what remote
 * syscalls write, and maps too: core.c uses the first SEIZE_SCRATCH_FREE
 * bytes, taskstate.c the page after, batches (rsys_batch_shared) the last. */
#define SEIZE_SCRATCH_PAGES 4
#define SEIZE_SCRATCH_FREE  8192
#define SEIZE_BATCH_AREA    (3 * 4096)
struct seize_scratch {
	uint64_t addr;		/* in the task */
	uint8_t *local;		/* seize's own mapping of it, or NULL */
	bool batches;		/* the gadget (with its batch loop) is in place */
};
/* core.c: runs n requests in r's thread, in one round trip where batches
 * can run, else one remote call each. */
int seize_batch(struct rsys *r, const struct seize_scratch *sc, struct rsys_req *reqs, int n, struct err *e);
/* taskstate.c: the rest of a thread's state (credentials, pending signals,
 * timers, sigaltstack, seccomp, ...) into core. Runs in thread idx of p with
 * r active on that thread; sc is the task's scratch area. */
int seize_task_state(const struct seize_proc *p, int idx, struct rsys *r, const struct seize_scratch *sc, CoreEntry *core,
		     struct err *e);
/* Frees what seize_task_state allocated in core. */
void seize_task_state_free(CoreEntry *core);

#endif
