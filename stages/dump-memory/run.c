/* dump-memory/run.c: one process at a time, as announced on stdin. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ipc/stream.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "stages/dump-memory/dump-memory.h"

/* --union-root: a mapped file (or the executable) whose path is under a
 * branch is recorded by the union's path, device and inode, once the file
 * there (seen from pid's root) is found to be a regular file of the size
 * the mapping's file has. */
static int dm_union(pid_t pid, struct collect_mm *c, const struct dump_memory_opts *o, struct err *e)
{
	char mapped[PATH_MAX], here[PATH_MAX + 64];
	struct stat st;

	for (int i = -1; i < c->nr; i++) {
		VmaEntry *v = i < 0 ? NULL : c->vp[i];
		char *path = i < 0 ? c->exe : v->path ? c->vmas[i].path : NULL;
		int r;

		if (!path || path[0] != '/' || !strncmp(path, "/memfd:", 7))
			continue;
		if ((r = union_root_map(o->union_roots, o->nr_union_roots, path, mapped, sizeof(mapped))) == 0)
			continue;
		snprintf(here, sizeof(here), "/proc/%d/root%s", pid, mapped);
		if (r < 0 || stat(here, &st) < 0 || !S_ISREG(st.st_mode) || (v && v->has_file_size && (uint64_t)st.st_size != v->file_size))
			return err_input(e, "pid %d: %s '%s' is under a --union-root branch, and '%s' in the union is %s; "
					 "check the BRANCH=UNION pair", pid, v ? "a mapping of" : "its executable", path,
					 r < 0 ? "(too long)" : mapped, r < 0 ? "no path" : "not the same file (missing, or another size)");
		pr_debug("pid %d: '%s' is '%s' in the union (--union-root)", pid, path, mapped);
		memcpy(path, mapped, strlen(mapped) + 1);
		if (v) {
			v->dev = st.st_dev;
			v->ino = st.st_ino;
		}
	}
	return 0;
}

/* Dumps one process: layout first, then pages. */
static int dm_one(int dirfd, pid_t pid, pid_t id, const struct dump_memory_opts *o, struct dm_totals *tot, struct err *e)
{
	struct collect_mm c;
	int ret;

	ret = collect_mm(pid, &c, e);
	if (ret == 0 && o && o->nr_union_roots)
		ret = dm_union(pid, &c, o, e);
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
		ret = dm_one(ctx->dir_fd, tasks[i].host, tasks[i].pid, opts, &tot, e);
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
