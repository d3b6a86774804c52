/* lazy: what restore-tasks and amber-lazy-pages agree on for a lazy
 * restore (restore --lazy-pages).
 *
 * restore-tasks makes a userfaultfd in every restored process (a remote
 * syscall; taken out with pidfd_getfd and closed in the task, which never
 * sees it), registers the process's lazy VMAs with it in missing mode,
 * fills every other page as usual, and hands the userfaultfds and pidfds
 * of the processes to amber-lazy-pages over a socket (ipc/fdpass.h: ids
 * are the pids of the images; a pidfd's id has LAZY_ID_PIDFD set; then
 * the end marker). amber-lazy-pages answers one byte, LAZY_READY, once it
 * has loaded the images and serves; anything else (or EOF) fails the
 * restore, which then kills the tree. */
#ifndef AMBER_LAZY_H
#define AMBER_LAZY_H

#include <stdbool.h>

#include "images/mm.pb-c.h"

#define LAZY_ID_PIDFD	0x40000000u
#define LAZY_READY	'R'
#define LAZY_FD_NAME	"lazy"

/* Whether the pages of VMA v are served lazily: private anonymous memory
 * (missing-mode userfaultfd takes no file-backed private mapping). */
static inline bool lazy_vma(const VmaEntry *v)
{
	return v->kind == VMA_KIND__VMA_ANON_PRIVATE && !(v->flags & 0x01 /* MAP_SHARED */);
}

#endif
