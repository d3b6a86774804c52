/* dump-memory/run.c: one process at a time, as announced on stdin. */
#include <stdlib.h>

#include "ipc/stream.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "stages/dump-memory/dump-memory.h"

/* Dumps one process: layout first, then pages. */
static int dm_one(int dirfd, pid_t pid, pid_t id, struct dm_totals *tot, struct err *e)
{
	struct collect_mm c;
	int ret;

	ret = collect_mm(pid, &c, e);
	if (ret == 0)
		ret = dm_write_mm(dirfd, id, &c, e);
	for (int i = 0; ret == 0 && i < c.nr; i++)
		if (c.kinds[i] == VMA_KIND__VMA_MEMFD_SHARED || c.kinds[i] == VMA_KIND__VMA_MEMFD_PRIVATE)
			ret = dm_memfd(dirfd, pid, &c.vmas[i], tot, e);
	if (ret == 0)
		ret = dm_write_pages(dirfd, pid, id, c.vmas, c.nr, c.kinds, tot, e);
	collect_mm_free(&c);
	return ret;
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
