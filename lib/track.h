/* track: write tracking of a process's memory between dump iterations.
 *
 * The kernel has no soft-dirty bits here; it has userfaultfd write-protect
 * in asynchronous mode (UFFD_FEATURE_WP_ASYNC: a write to a protected page
 * is not blocked, the kernel only clears the page's protection) and the
 * PAGEMAP_SCAN ioctl on /proc/PID/pagemap, which reports the pages whose
 * protection is gone (PAGE_IS_WRITTEN) and, with PM_SCAN_WP_MATCHING,
 * protects them again in the same walk. A userfaultfd belongs to the mm
 * of the task that created it, so it is made there (a remote syscall of
 * seize), taken out with pidfd_getfd and closed in the task; its ioctls
 * then work from any process that holds it. The kernel undoes the
 * tracking (unregisters every VMA) when its last descriptor closes, so a
 * holder process (amber-track) keeps the descriptors between iterations
 * and hands them over on a unix socket, DIR/track.sock, in the images
 * directory of the iteration that last set the tracking up.
 *
 * The holder protocol: SOCK_SEQPACKET, one struct track_msg per message,
 * descriptors with SCM_RIGHTS in the order of its entries. Its
 * 'generation' is the dump id of the iteration whose copy the tracking is
 * relative to: CLAIM(parent id, new id) moves it to the new id and says
 * whether it was the parent's (only then are the written bits relative
 * to the parent's copy); GET(id) gives the descriptors if the generation
 * is id; ADOPT(id) replaces the holder's set with the one sent, the last
 * descriptor being the new images directory, where it listens from then
 * on (the old socket is removed); QUIT ends it. The holder ends by itself
 * once every tracked process has exited.
 */
#ifndef AMBER_TRACK_H
#define AMBER_TRACK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>

#include "lib/err.h"

/* The kernel's PAGEMAP_SCAN interface (Linux 6.7), for older headers. */
#define TRACK_PAGE_IS_WPALLOWED	(1 << 0)
#define TRACK_PAGE_IS_WRITTEN	(1 << 1)
#define TRACK_PM_SCAN_WP_MATCHING	(1 << 0)
#define TRACK_PM_SCAN_CHECK_WPASYNC	(1 << 1)
struct track_page_region {
	uint64_t start, end, categories;
};
struct track_pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define TRACK_PAGEMAP_SCAN _IOWR('f', 16, struct track_pm_scan_arg)
#define TRACK_UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#define TRACK_UFFD_FEATURE_WP_ASYNC	   (1 << 15)
#define TRACK_UFFD_USER_MODE_ONLY	   1

#define TRACK_SOCK	"track.sock"
#define TRACK_MAGIC	0x54524b31u	/* "TRK1" */
#define TRACK_VERSION	1
#define TRACK_MAX	128		/* processes one holder tracks; SCM_RIGHTS takes up to 253 fds */

enum track_op { TRACK_CLAIM = 1, TRACK_GET, TRACK_ADOPT, TRACK_QUIT, TRACK_REPLY };

struct track_ent {
	int32_t pid;		/* as /proc shows it to amber */
	uint32_t pad;
	uint64_t start_time;	/* /proc/PID/stat: with the pid, one process for good */
};

struct track_msg {
	uint32_t magic, version, op, nr;
	uint64_t gen, new_gen;
	int32_t status;		/* a reply: 0, or -ESTALE (generation differs), -EINVAL */
	uint32_t matched;	/* CLAIM's reply: the generation was the parent's */
	int32_t holder_pid;	/* a reply: the holder's pid, for the log */
	uint32_t pad;
	struct track_ent ent[TRACK_MAX];
};

/* One process's userfaultfd. */
struct track_set {
	struct track_ent ent[TRACK_MAX];
	int fd[TRACK_MAX];
	int nr;
};

void track_set_init(struct track_set *s);
void track_set_close(struct track_set *s);
/* The descriptor for (pid, start_time), or -1. */
int track_set_find(const struct track_set *s, pid_t pid, uint64_t start_time);

/* Checks a received message: magic, version, op in range, nr <= TRACK_MAX
 * and equal to the descriptors that came (nfds, less 'extra' ones). */
int track_msg_check(const struct track_msg *m, size_t len, int nfds, int extra, struct err *e);
/* Sends m with fds (n of them). */
int track_send(int sock, const struct track_msg *m, const int *fds, int n, struct err *e);
/* Receives one message and up to max fds (*nfds of them); 0 on EOF. */
int track_recv(int sock, struct track_msg *m, int *fds, int max, int *nfds, struct err *e);

/* Connects to DIR/track.sock of directory dirfd: the socket, or -1 with
 * errno (ENOENT, ECONNREFUSED: no holder). */
int track_connect(int dirfd);
/* CLAIM on a holder: set s gets its descriptors, *matched whether its
 * generation was parent_id. */
int track_claim(int sock, uint64_t parent_id, uint64_t new_id, struct track_set *s, bool *matched, struct err *e);
/* GET: -ESTALE (no message) if the holder's generation is not gen. */
int track_get(int sock, uint64_t gen, struct track_set *s, struct err *e);
/* ADOPT: the holder takes s (copies of its fds) and moves to dirfd;
 * *holder (may be NULL) gets its pid. */
int track_adopt(int sock, uint64_t gen, const struct track_set *s, int dirfd, pid_t *holder, struct err *e);
int track_quit(int sock, struct err *e);

/* userfaultfd: enables asynchronous write-protect on a new one. */
int track_uffd_api(int uffd, struct err *e);
/* Registers [start, end) for write-protect: 0, or -errno (EBUSY: another
 * userfaultfd has it; re-registering with the same one is a no-op). */
int track_uffd_register(int uffd, uint64_t start, uint64_t end);
/* Write-protects [start, end): 0 or -errno. */
int track_uffd_protect(int uffd, uint64_t start, uint64_t end);

/* One PAGEMAP_SCAN walk of [start, end) of the process whose pagemap is
 * pm_fd: the runs of pages written since they were protected, merged into
 * *runs (pairs start, end; *nr of them, malloc'd), protected again when
 * reprotect. -EPERM when some page of the range is not under asynchronous
 * write-protect (the range is not tracked: copy it all), other -errno on
 * failure; e is set only for those. */
int track_scan(int pm_fd, uint64_t start, uint64_t end, bool reprotect, uint64_t **runs, int *nr, struct err *e);

#endif
