/* dump-memory/run.c: one process at a time, as announced on stdin. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/image.h"
#include "ipc/stream.h"
#include "lib/cleanup.h"
#include "lib/exitcodes.h"
#include <limits.h>
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/track.h"
#include "stages/dump-memory/dump-memory.h"

/* The parent iteration of an incremental dump. */
struct dm_prev {
	int dir;		/* its images directory, or -1 */
	uint64_t id;		/* its dump id */
	struct track_set set;	/* the tracking its holder handed over */
	bool matched;
};

/* --union-root: a mapped file (or the executable) whose path is under a
 * branch is recorded by the union's path, device and inode, once the file
 * there (seen from pid's root) is found to be a regular file of the size
 * the mapping's file has. */
static int dm_union(pid_t pid, struct collect_mm *c, const struct dm_opts *o, struct err *e)
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
static int dm_one(int dirfd, pid_t pid, pid_t id, const struct dm_opts *o, struct dm_prev *prev, struct dm_totals *tot,
		  struct err *e)
{
	struct collect_mm c;
	struct dm_parent pp = { .uffd = -1 };
	int ret;

	ret = collect_mm(pid, &c, e);
	if (ret == 0 && o->nr_union_roots)
		ret = dm_union(pid, &c, o, e);
	if (ret == 0)
		ret = dm_write_mm(dirfd, id, &c, e);
	for (int i = 0; ret == 0 && i < c.nr; i++)
		if (c.kinds[i] == VMA_KIND__VMA_MEMFD_SHARED || c.kinds[i] == VMA_KIND__VMA_MEMFD_PRIVATE)
			ret = dm_memfd(dirfd, pid, &c.vmas[i], tot, e);
	if (ret == 0 && prev->dir >= 0) {
		struct proc_stat ps;

		ret = dm_parent_load(prev->dir, prev->id, id, &pp, e);
		if (ret == 0 && proc_read_stat(pid, 0, &ps, e) == 0)
			pp.uffd = track_set_find(&prev->set, pid, ps.start_time);
		pp.matched = prev->matched;
	}
	if (ret == 0)
		ret = dm_write_pages(dirfd, pid, id, c.vmas, c.nr, c.kinds, prev->dir >= 0 ? &pp : NULL, tot, e);
	dm_parent_free(&pp);
	collect_mm_free(&c);
	return ret;
}

/* Opens the parent iteration, checks it is a complete dump, and claims the
 * write tracking its holder keeps: from here on the tracking is relative
 * to this dump's copy, whatever happens to this dump. */
static int dm_prev_open(const struct stage_ctx *ctx, const char *path, struct dm_prev *prev, struct err *e)
{
	struct image img;
	int ret, conn;

	prev->dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (prev->dir < 0)
		return err_errno(e, "open the parent images directory '%s' (--prev-images-dir)", path);
	if ((ret = image_open_inspect(&img, prev->dir, "inventory", "inventory.img", e)) < 0)
		return err_wrap(e, "parent images directory '%s' holds no complete dump", path);
	prev->id = img.hdr.dump_id;
	ret = image_check(&img, 0, e);
	image_close(&img);
	if (ret < 0)
		return err_wrap(e, "parent images directory '%s'", path);
	conn = track_connect(prev->dir);
	if (conn < 0) {
		pr_info("no write tracking held for '%s' (%m): every page is copied", path);
		return 0;
	}
	ret = track_claim(conn, prev->id, ctx->dump_id, &prev->set, &prev->matched, e);
	close(conn);
	if (ret < 0) {
		pr_warn("the write tracking held for '%s' did not answer (%s): every page is copied", path, e->msg);
		track_set_close(&prev->set);
		return 0;
	}
	pr_info("write tracking of %d processes claimed from '%s'%s", prev->set.nr, path,
		prev->matched ? "" : " (of another generation: every page is copied)");
	return 0;
}

/* --page-server: connect and say which dump this is. */
static int dm_ps_open(const struct stage_ctx *ctx, const struct dm_opts *o, struct ps_client *ps, struct err *e)
{
	char buf[PATH_MAX];
	const char *name = o->ps_dir, *slash;

	if (!name) {
		snprintf(buf, sizeof(buf), "%s", ctx->images_dir);
		while (strlen(buf) > 1 && buf[strlen(buf) - 1] == '/')
			buf[strlen(buf) - 1] = 0;
		name = (slash = strrchr(buf, '/')) ? slash + 1 : buf;
	}
	if (!ps_dir_name_ok(name))
		return err_set(e, EXIT_USAGE, "the images directory '%s' has no name to give the page server; "
			       "pass --page-server-dir NAME", ctx->images_dir);
	if (!ctx->dump_id)
		return err_set(e, EXIT_USAGE, "--page-server needs --dump-id (the driver gives it)");
	return ps_client_open(ps, o->page_server, ctx->dump_id, name, e);
}

static void dm_remote_free(struct dm_totals *tot)
{
	for (int i = 0; i < tot->nr_remote; i++)
		free(tot->remote[i]);
	free(tot->remote);
}

int dump_memory_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	struct dm_opts *o = opts;
	struct dm_totals tot = { 0 };
	struct dm_prev prev = { .dir = -1 };
	struct stream_task *tasks;
	struct stream_out out;
	struct ps_client ps = { .fd = -1 };
	int nr, ret;

	track_set_init(&prev.set);
	ret = stream_in_tasks(0, "stdin", &tasks, &nr, e);
	if (ret >= 0 && o->prev)
		ret = dm_prev_open(ctx, o->prev, &prev, e);
	if (ret >= 0 && o->page_server)
		ret = dm_ps_open(ctx, o, &ps, e);
	if (ret >= 0 && o->page_server)
		tot.ps = &ps;
	for (int i = 0; ret >= 0 && i < nr; i++)
		ret = dm_one(ctx->dir_fd, tasks[i].host, tasks[i].pid, o, &prev, &tot, e);
	/* The dump is good only once the server has every file on disk. */
	if (ret >= 0 && tot.ps)
		ret = ps_client_finish(&ps, e);
	if (tot.ps)
		ps_client_close(&ps);
	free(tasks);
	free(tot.shmem);
	free(tot.memfd);
	track_set_close(&prev.set);
	if (prev.dir >= 0)
		close(prev.dir);
	if (ret < 0) {
		dm_remote_free(&tot);
		return ret;
	}
	log_progress("%llu MiB of memory written", (unsigned long long)(tot.pages * 4096 >> 20));
	if (o->prev)
		pr_info("%llu pages copied, %llu left in the parent", (unsigned long long)tot.pages,
			(unsigned long long)tot.parent_pages);
	ret = stream_out_open(&out, 1, "dump-memory", e);
	for (int i = 0; ret == 0 && i < tot.nr_remote; i++) {
		StreamRecord rec = STREAM_RECORD__INIT;
		RemotePagesEntry rp = REMOTE_PAGES_ENTRY__INIT;

		rp.name = tot.remote[i];
		rp.server = (char *)o->page_server;
		rec.body_case = STREAM_RECORD__BODY_REMOTE_PAGES;
		rec.remote_pages = &rp;
		ret = stream_out_write(&out, &rec, e);
	}
	if (tot.ps)
		log_progress("%d pages files sent to the page server at %s", tot.nr_remote, o->page_server);
	dm_remote_free(&tot);
	return ret < 0 ? ret : stream_out_end(&out, e);
}
