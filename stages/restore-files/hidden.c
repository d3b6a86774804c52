/* hidden: files under an overmount, opened through the directory fd
 * build-mntns took before the overmount was mounted (ipc/fds.h); and
 * tasks' working directories and roots under one, which build-mntns sent
 * as O_PATH fds and which go on to restore-tasks with the files. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc/fdpass.h"
#include "lib/grow.h"
#include "stages/restore-files/reopen.h"

int reopen_hidden_recv(struct reopen *r, int sock, struct err *e)
{
	int fds[FDPASS_BATCH], n;
	uint32_t ids[FDPASS_BATCH];

	while ((n = fdpass_recv(sock, fds, ids, e)) > 0)
		for (int i = 0; i < n; i++) {
			if (ids[i] & (FDPASS_ID_CWD | FDPASS_ID_ROOT)) {
				if (grow_one(&r->dirs, r->nr_dirs) < 0)
					return err_errnum(e, ENOMEM, "hidden working directories");
				r->dirs[r->nr_dirs].pid = ids[i] & FDPASS_ID_PID;
				r->dirs[r->nr_dirs].root = ids[i] & FDPASS_ID_ROOT;
				r->dirs[r->nr_dirs++].fd = fds[i];
				continue;
			}
			if (grow_one(&r->hidden, r->nr_hidden) < 0)
				return err_errnum(e, ENOMEM, "directories of hidden files");
			r->hidden[r->nr_hidden].id = ids[i];
			r->hidden[r->nr_hidden++].dirfd = fds[i];
		}
	return n < 0 ? n : 0;
}

int reopen_open_path(const struct reopen *r, const RegFileEntry *re, const char *path, int flags)
{
	for (int i = 0; i < r->nr_hidden; i++)
		if (r->hidden[i].id == re->id) {
			const char *base = strrchr(re->path, '/');

			/* A directory's fd is the directory itself. */
			if (re->has_mode && S_ISDIR(re->mode))
				return openat(r->hidden[i].dirfd, ".", flags);

			return openat(r->hidden[i].dirfd, base ? base + 1 : re->path, flags);
		}
	return open(path, flags);
}

int reopen_dirs_write_plan(struct reopen *r, struct stream_out *out, struct err *e)
{
	uint32_t next = r->nr_files ? r->files[r->nr_files - 1].re->id + 1 : 1;
	int ret = 0;

	for (int i = 0; i < r->nr_dirs; i++)
		r->dirs[i].file_id = next++;
	for (int i = 0; i < r->nr_dirs && ret >= 0; i++) {
		FsPlanEntry fp = FS_PLAN_ENTRY__INIT;
		StreamRecord rec = STREAM_RECORD__INIT;

		fp.pid = r->dirs[i].pid;
		if (r->dirs[i].root)
			fp.has_root_file_id = true, fp.root_file_id = r->dirs[i].file_id;
		else
			fp.has_cwd_file_id = true, fp.cwd_file_id = r->dirs[i].file_id;
		rec.body_case = STREAM_RECORD__BODY_FS_PLAN;
		rec.fs_plan = &fp;
		ret = stream_out_write(out, &rec, e);
	}
	return ret;
}

int reopen_dirs_send(const struct reopen *r, int sock, struct err *e)
{
	int fds[FDPASS_BATCH], n = 0, ret = 0;
	uint32_t ids[FDPASS_BATCH];

	for (int i = 0; i < r->nr_dirs && ret >= 0; i++) {
		fds[n] = r->dirs[i].fd;
		ids[n++] = r->dirs[i].file_id;
		if (n == FDPASS_BATCH || i == r->nr_dirs - 1) {
			ret = fdpass_send(sock, fds, ids, n, e);
			n = 0;
		}
	}
	return ret;
}

void reopen_hidden_free(struct reopen *r)
{
	for (int i = 0; i < r->nr_dirs; i++)
		close(r->dirs[i].fd);
	free(r->dirs);
	r->dirs = NULL;
	r->nr_dirs = 0;
	for (int i = 0; i < r->nr_hidden; i++)
		close(r->hidden[i].dirfd);
	free(r->hidden);
	r->hidden = NULL;
	r->nr_hidden = 0;
}
