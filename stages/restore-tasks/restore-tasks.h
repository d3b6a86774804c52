/* restore-tasks: the stage's internals (this folder only). */
#ifndef AMBER_STAGE_RESTORE_TASKS_H
#define AMBER_STAGE_RESTORE_TASKS_H

#include "images/netns.h"
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "images/core.pb-c.h"
#include "images/fs.pb-c.h"
#include "images/mm.pb-c.h"
#include "images/pagemap.pb-c.h"
#include "images/stream.pb-c.h"
#include "ipc/stage.h"

#define RT_PAGE		4096ULL
#define RT_MAX_ADDR	(1ULL << 57)	/* the user address space, 5-level paging included */
#define RT_MAX_NS	64	/* UTS, IPC and network namespaces a tree may have */
#define RT_TRAMP_PAGES	16	/* one code page, then scratch for paths and structs */
#define RT_MAX_FILE_ID	(1u << 22)	/* file ids count open files (and cwds, roots), each an fd here */

/* A descriptor the task must have: the stage's copy of the file, and where it goes. */
struct rt_fd {
	int src;
	int target;
	bool cloexec;
	const FdPlanEntry *plan;	/* its locks, taken again once the fds are in place */
	char *proc_path;	/* plan->proc_path with the pid as the stage sees it (rt_proc_paths) */
};

/* One thread's final state, loaded once the transplant is done and set at
 * the very end, just before all tasks are let go together. */
struct rt_thread {
	pid_t tid;		/* as the images and the task see it */
	pid_t host_tid;		/* as this stage sees it (differs in a new pid namespace) */
	CoreEntry *core;	/* the leader's is rt_task.core */
	struct user_regs_struct regs;
};

/* A shared anonymous memory object of the tree, made by this stage so that
 * every task that shared it maps the same one (through map_files). */
struct rt_shmem {
	uint64_t ino;		/* as dumped */
	uint64_t size;		/* the largest pgoff + length any task maps */
	void *addr;		/* this stage's mapping of it */
};

struct rt_shmems {
	struct rt_shmem *v;
	int nr;
};

/* A memfd the tree maps: the one restore-files made for a descriptor of the
 * same inode, or one this stage made from memfd-INO.img; every task that
 * maps it opens it through /proc/<stage>/fd/. */
struct rt_memfd {
	uint64_t ino;		/* as dumped */
	bool has_dev;
	uint64_t dev;		/* as dumped, if the image has it */
	int fd;			/* this stage's */
	bool from_files;	/* fd is restore-files' (closed with the files) */
	/* Not a memfd: a deleted regular file (VmaEntry.deleted, a deleted
	 * executable), only ever restore-files' description with 'mapped'. */
	bool deleted;
};

struct rt_memfds {
	struct rt_memfd *v;
	int nr;
};

/* An epoll registration the task makes again once its fds are in place. */
struct rt_epoll_add {
	int epfd, tfd;
	int file_fd;		/* where the file is, when not at tfd; -1 */
	uint32_t events;
	uint64_t data;
};

struct rt_task {
	int index;		/* in the plan, parents first */
	struct rt_epoll_add *epoll;
	int nr_epoll;
	const struct rt_shmems *shmems;	/* the plan's shared objects */
	const struct rt_memfds *memfds;	/* the plan's memfds */
	int parent;		/* index of the parent, -1 for the root */
	int creator;		/* who forks it: the parent, or the helper of its session
				 * (with CLONE_PARENT, so the parent is still right) */
	PstreeEntry *pe;
	CoreEntry *core;	/* the leader's */
	MmEntry *mm;
	FsEntry *fs;
	PagemapEntry **pm;
	int nr_pm;
	struct rt_fd *fds;
	int nr_fds;
	struct rt_thread *threads;	/* [0] is the leader */
	int nr_threads;
	uint64_t tramp;		/* trampoline address in the task */
	uint64_t spare;		/* a free gap for moving the vDSO through */
	/* apart[i]: VMA i is mapped with PROT_EXEC flipped until its pages are
	 * in, so that the kernel does not merge it into the VMA before it
	 * (transplant.c, rt_keep_apart). */
	bool *apart;
	pid_t pid;		/* as this stage sees it, set once the task is seized */
	bool seized, stopped, ready;
	bool has_mntns;		/* in a mount namespace build-mntns made: */
	int mntns_fd;		/* its pin, opened by the stage, entered by the task */
	uint32_t mntns_id;
	const MntnsPlanEntry *mntns;	/* its plan (the stubs of delayed mounts), or NULL */
	int cwd_src, root_src;	/* the stage's O_PATH fds of a cwd / root under an
				 * overmount (restore-files' fs_plan), or -1 */
	int uts_fd, ipc_fd, net_fd;	/* the stage's fds of the UTS / IPC / network namespace the task
				 * enters (ns.c), or -1: it stays in the stage's */
	bool lazy;		/* restore --lazy-pages: its lazy VMAs are served by amber-lazy-pages */
	int uffd;		/* with lazy: the userfaultfd made in it (lazy.c), or -1 */
	int chroot_fd[2];	/* in the task, until the transplant chroots it: an
				 * O_PATH fd of its root and of its cwd; -1 if its
				 * root is / */
};

/* Where a task being created stands; lives in memory shared by the stage and
 * every task it forks (MAP_SHARED), so tasks and stage can wait on each
 * other with futexes before any task is traced. */
enum rt_slot_state {
	RT_SLOT_NONE = 0,
	RT_SLOT_BORN,		/* clone3 returned in the parent; waits to be seized */
	RT_SLOT_GO,		/* seized: may set itself up */
	RT_SLOT_READY,		/* its subtree exists and it is about to stop */
	RT_SLOT_ZOMBIE,		/* a zombie task is about to exit */
	RT_SLOT_HELPER,		/* a helper holds its session or group, waiting to be released */
	RT_SLOT_RELEASE,	/* a helper may exit */
	RT_SLOT_FAILED,		/* setup failed; err says why */
};

struct rt_slot {
	_Atomic uint32_t state;
	_Atomic uint32_t created;	/* set by the task itself: its pid is ours to kill on rollback */
	int32_t chroot_fd[2];		/* set by the task before READY: rt_task.chroot_fd */
	char err[240];
};

struct rt_shared {
	_Atomic uint32_t changes;	/* bumped on every state change; the stage waits on it */
	uint32_t nr;
	struct rt_slot slot[];
};

/* A proc mount of the tree's namespace ns_id, made again from inside the
 * new pid namespace (procmnt.c). */
struct rt_procmnt {
	uint32_t ns_id;
	int mntns_fd;		/* the namespace's pin (a task's mntns_fd) */
	char *mountpoint;
	unsigned long flags;	/* mount(2) flags of its options */
	char *data;		/* its super block options but rw/ro */
	char **subs;		/* mountpoints of the mounts on it (a container's masked */
	int nr_subs;		/* and read-only paths), moved onto the new proc */
};

struct rt_plan {
	struct rt_task *tasks;
	int nr;
	FdPlanEntry **fds;
	int nr_fds;
	int *file_fd;		/* file id -> this stage's fd, -1 if none */
	uint32_t nr_ids;
	struct rt_shared *shared;
	size_t shared_size;
	struct rt_shmems shmems;
	struct rt_memfds memfds;
	FsPlanEntry **dirs;	/* cwds and roots under overmounts (restore-files) */
	int nr_dirs;
	MntnsPlanEntry **mntns;	/* build-mntns' namespaces: their pins and tasks */
	int nr_mntns;
	struct rt_procmnt *procs;	/* proc mounts to make again in the new pid namespace */
	int nr_procs;
	int ns_fds[RT_MAX_NS + 3];	/* UTS, IPC and network namespaces made again, and the stage's own (ns.c) */
	int nr_ns_fds;
	bool pidns;		/* restore into a new pid namespace */
	bool lazy;		/* --lazy-pages */
	int lazy_sock;		/* to amber-lazy-pages (lazy.c), or -1 */
	pid_t root_host;	/* the root, as this stage sees it */
	pid_t init_host;	/* amber's init of the new pid namespace, or 0 */
};

struct rt_opts {
	bool pidns;
	bool lazy;		/* --lazy-pages */
	int push_rate;		/* --lazy-push-rate MIB: amber-lazy-pages' background push, MiB/s (0: no limit) */
	struct netns_ext ext[NETNS_EXT_MAX];	/* --external veth[IF]:OUTSIDE */
	int nr_ext;
	bool empty_net;		/* --empty-ns net: new network namespaces are left empty */
};

/* run.c: with --shell-job, gives the terminal tty to the restored root's
 * process group if it leads one (a shell's job) and amber's group has it. */
void rt_foreground(const struct rt_plan *p, int tty);

struct rsys;
int restore_tasks_run(const struct stage_ctx *ctx, void *opts, struct err *e);
/* lazy.c (restore --lazy-pages, ipc/lazy.h): starts amber-lazy-pages
 * before any task exists (it must not be forked confined, nor inherit the
 * tree's fds); makes the userfaultfd in a task during its transplant;
 * registers its lazy VMAs once the transplant's own calls are done,
 * filling the pages something touched before; hands every userfaultfd
 * over and waits until the server serves. */
int rt_lazy_start(const struct stage_ctx *ctx, const struct rt_opts *o, struct rt_plan *p, struct err *e);
int rt_lazy_uffd(struct rsys *r, struct rt_task *t, struct err *e);
int rt_lazy_register(int dirfd, struct rt_task *t, struct err *e);
int rt_lazy_handover(struct rt_plan *p, struct err *e);
/* verify.c: names the made tree's tasks on the verify socket fd and waits
 * for the verify stage's verdict; fails (EXIT_INPUT) if it found the tree
 * differs from the images, so that the tree is removed before it runs. */
int rt_verify(const struct rt_plan *p, int fd, struct err *e);
/* Reads and checks the state stream on fd into p (tasks, fd and fs plans,
 * epoll registrations, namespaces), with no side effect: what
 * tests/fuzz/fuzz_stage_restore_tasks.c feeds; rt_plan_free frees it. */
int rt_plan_read(int fd, struct rt_plan *p, struct err *e);
void rt_plan_free(struct rt_plan *p);
/* Takes every file restore-files sent on sock (ipc/fdpass.h), indexed by
 * file id, until the end marker (tests/fuzz/fuzz_stage_restore_tasks_files.c). */
int rt_receive_files(struct rt_plan *p, int sock, struct err *e);
/* Checks the plan against itself and the files received: a task at least,
 * every fd and fs plan for a task being restored and a file that came;
 * gives each task its creator, fds, cwd and root. No side effect. */
int rt_plan_check(struct rt_plan *p, struct err *e);

/* syscalls.c: the stage's seccomp allow list (lib/confine.h), ending with
 * -1, and the ioctl requests it makes, ending with 0; installed by run.c
 * once every task exists. */
extern const int restore_tasks_syscalls[];
extern const unsigned long restore_tasks_ioctls[];
/* images.c: load a task's images and check them (its pages image too, so
 * that a bad one fails the restore before any task exists); free them. */
int rt_load(int dirfd, struct rt_task *t, struct err *e);
/* Plans the copy of t's pagemap entries out of pages image img: each run
 * inside a VMA, the runs one after the other, and all of them exactly the
 * pages the image holds (a pagemap cut short would leave memory zeroed).
 * *runs is malloc'd (none when t has no entries); *total the bytes. */
struct pagecopy_run;
struct image;
int rt_pages_plan(const struct rt_task *t, const struct image *img, struct pagecopy_run **runs, int *nr_runs,
		  uint64_t *total, struct err *e);
/* Which VMA of mm holds addr, or NULL. */
const VmaEntry *rt_vma_at(const MmEntry *mm, uint64_t addr);
/* parent.c: writes the pages t's pagemap says are in the parent images
 * (in_parent entries), following and checking the chain of parents. */
int rt_fill_parent_pages(int dirfd, struct rt_task *t, struct err *e);
void rt_unload(struct rt_task *t);
/* fork.c: create every task of the plan with its pid, session, group and
 * parent; each ends stopped and seized, trampoline mapped (zombies exit). */
int rt_create_tree(struct rt_plan *p, struct err *e);
/* transplant.c: load the image into a stopped task, create its threads,
 * and leave every thread ready to be let go. The root directory is set
 * there (chroot.c), once every file the task maps is opened by path. */
int rt_transplant(int dirfd, struct rt_task *t, struct err *e);
/* The pid this stage sees for a task that is 'nspid' in its own pid
 * namespace, found among the children of 'parent' (this stage's view);
 * 0 if not (yet) there. */
pid_t rt_host_pid_of_child(pid_t parent, pid_t nspid);
/* The same for a thread of process 'pid'. */
pid_t rt_host_tid(pid_t pid, pid_t nstid);
/* shmem.c: makes every shared anonymous object the tasks map; frees them. */
int rt_shmem_make(struct rt_plan *p, struct err *e);
void rt_shmem_free(struct rt_plan *p);
/* The object a VMA maps, or NULL (not shared, or an image without inodes). */
const struct rt_shmem *rt_shmem_of(const struct rt_shmems *s, const VmaEntry *v);
/* memfd.c: has every memfd the tasks map at hand (restore-files' or made
 * from its image), before any task exists; frees them. */
int rt_memfd_make(int dirfd, struct rt_plan *p, struct err *e);
void rt_memfd_free(struct rt_plan *p);
/* The memfd a VMA maps, or NULL (not a memfd VMA). */
const struct rt_memfd *rt_memfd_of(const struct rt_memfds *s, const VmaEntry *v);
/* The deleted executable of mm (exe_dev, exe_ino), or NULL. */
const struct rt_memfd *rt_memfd_exe(const struct rt_memfds *s, const MmEntry *mm);
/* Sets the final registers, FPU state and mask of every thread of t, which
 * stay stopped (what verify sees is what they start from). */
int rt_load_threads(struct rt_task *t, struct err *e);
/* Detaches every thread of t: it runs. */
int rt_release(struct rt_task *t, struct err *e);

/* ns.c: makes the tree's own UTS, IPC and network namespaces again
 * (utsns.img, ipcns.img, netns.img) and sets each task's uts_fd, ipc_fd
 * and net_fd, before any task exists; closes them. */
int rt_ns_plan(int dirfd, struct rt_plan *p, const struct rt_opts *o, struct err *e);
void rt_ns_free(struct rt_plan *p);

/* procmnt.c: with a new pid namespace, finds the tree's proc mounts that
 * can be made again inside it (warning about the others); after every
 * transplant, before any task runs, mounts them there; frees. */
int rt_procmnt_plan(int dirfd, struct rt_plan *p, struct err *e);
int rt_procmnt_mount(struct rt_plan *p, struct err *e);
void rt_procmnt_free(struct rt_plan *p);

struct rsys;
/* chroot.c: chroots a stopped task into the root whose O_PATH fd it holds
 * (t->chroot_fd, opened by the task in fork.c), keeping its cwd, with
 * remote syscalls, and closes both fds; nothing for a task whose root is /.
 * Runs once every file the task maps and its exe are opened by path. */
int rt_chroot(struct rsys *r, struct rt_task *t, struct err *e);
/* The trampoline: page 0 holds 'syscall; int3' and, at RT_BATCH_CODE, the
 * batch loop; then scratch for syscall arguments; then the batch requests. */
#define RT_BATCH_OFFSET	64
#define RT_BATCH_CODE(t)	((t)->tramp + RT_BATCH_OFFSET)
#define RT_SCRATCH(t)	((t)->tramp + RT_PAGE)
#define RT_SCRATCH_SIZE	(11 * RT_PAGE)
#define RT_BATCH_AREA(t)	((t)->tramp + 12 * RT_PAGE)
/* taskstate.c: process-wide state (timers, rlimits, personality, ...), run in
 * the leader after memory, mm and sigactions, before threads exist. */
int rt_task_state_process(struct rsys *r, struct rt_task *t, struct err *e);
/* Per-thread state, the last remote syscalls each thread runs: sigaltstack,
 * pending signals, then credentials, then seccomp. 'core' is that thread's. */
int rt_task_state_thread(struct rsys *r, struct rt_task *t, const CoreEntry *core, struct err *e);

#endif
