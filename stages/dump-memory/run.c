/* dump-memory/run.c: one process at a time, as announced on stdin. */
#include <stdlib.h>

#include "ipc/stream.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "stages/dump-memory/dump-memory.h"

/* Dumps one process: layout first, then pages. */
static int dm_one(int dirfd, pid_t pid, pid_t id, struct dm_totals *tot, struct err *e)
{
	_cleanup_free_ struct proc_vma *vmas = NULL;
	_cleanup_free_ VmaKind *kinds = NULL;
	int nr, ret;

	if ((ret = proc_read_smaps(pid, &vmas, &nr, e)) < 0)
		return ret;
	kinds = calloc(nr, sizeof(*kinds));
	if (!kinds)
		return err_errno(e, "allocate %d VMA kinds", nr);
	for (int i = 0; i < nr; i++)
		if ((ret = dm_vma_kind(pid, &vmas[i], &kinds[i], e)) < 0)
			return ret;
	if ((ret = dm_write_mm(dirfd, pid, id, vmas, nr, kinds, e)) < 0)
		return ret;
	for (int i = 0; i < nr; i++)
		if ((kinds[i] == VMA_KIND__VMA_MEMFD_SHARED || kinds[i] == VMA_KIND__VMA_MEMFD_PRIVATE) &&
		    (ret = dm_memfd(dirfd, pid, &vmas[i], tot, e)) < 0)
			return ret;
	return dm_write_pages(dirfd, pid, id, vmas, nr, kinds, tot, e);
}

int dump_memory_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	struct dm_totals tot = { 0 };
	struct stream_task *tasks;
	struct stream_out out;
	int nr, ret;

	ret = stream_in_tasks(0, "stdin", &tasks, &nr, e);
	for (int i = 0; ret >= 0 && i < nr; i++)
		ret = dm_one(ctx->dir_fd, tasks[i].host, tasks[i].pid, &tot, e);
	free(tasks);
	free(tot.shmem);
	free(tot.memfd);
	if (ret < 0)
		return ret;
	log_progress("%llu MiB of memory written", (unsigned long long)(tot.pages * 4096 >> 20));
	if ((ret = stream_out_open(&out, 1, "dump-memory", e)) < 0)
		return ret;
	return stream_out_end(&out, e);
}
