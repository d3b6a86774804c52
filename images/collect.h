/* collect: the state a dump records that /proc shows without entering the
 * task, read into the image records themselves. The dump stages write what
 * these return; the verify stage calls the same functions on the restored
 * tree and compares the records field by field, so the two cannot drift
 * apart (doc/design.md, "Verify").
 */
#ifndef AMBER_IMAGES_COLLECT_H
#define AMBER_IMAGES_COLLECT_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "images/core.pb-c.h"
#include "images/mm.pb-c.h"
#include "lib/err.h"
#include "lib/proc.h"

/* An address space as mm-PID.img holds it: mm points into the rest. */
struct collect_mm {
	MmEntry mm;
	struct proc_vma *vmas;		/* from smaps, in address order */
	VmaKind *kinds;			/* kinds[i] of vmas[i] */
	int nr;
	VmaEntry *ve;
	VmaEntry **vp;
	uint32_t (*madv)[5];
	uint64_t *auxv;
	char exe[PATH_MAX];
};

/* Reads pid's address space (smaps, stat, auxv, exe) into c; fails as bad
 * input for a mapping amber cannot dump (device memory, an unknown special
 * mapping, a deleted file that is not a memfd). collect_mm_free frees. */
int collect_mm(pid_t pid, struct collect_mm *c, struct err *e);
void collect_mm_free(struct collect_mm *c);
/* Classifies one VMA; fails for what cannot be dumped. */
int collect_vma_kind(pid_t pid, const struct proc_vma *v, VmaKind *kind, struct err *e);

/* Thread tid's credentials from its status (all but securebits, which
 * only the thread can tell); *seccomp gets its seccomp mode. c is
 * initialized here; collect_creds_free frees what it holds. */
int collect_creds(pid_t pid, pid_t tid, CredsEntry *c, int *seccomp, struct err *e);
void collect_creds_free(CredsEntry *c);
/* Thread tid's scheduling policy (sched_getattr works from outside). */
int collect_sched(pid_t tid, SchedEntry *se, struct err *e);
/* Every rlimit of pid, into core->rlimits (by resource; freed with
 * collect_rlimits_free). */
int collect_rlimits(pid_t pid, CoreEntry *core, struct err *e);
void collect_rlimits_free(CoreEntry *core);
/* oom_score_adj and the audit login uid of pid, into core. */
int collect_proc_knobs(pid_t pid, CoreEntry *core, struct err *e);

#endif
