/* restore-files/input.c: the stage's input, read and checked with no side
 * effect (what tests/fuzz/fuzz_stage_restore_files.c feeds): the task,
 * remap and mntns records of the state stream, files.img and each task's
 * fdinfo-PID.img. */
#include <string.h>
#include <sys/stat.h>

#include "ipc/stream.h"
#include "stages/restore-files/reopen.h"

/* Reads the records into the plan. */
static int restore_files_records(struct stream_in *in, struct reopen *r, struct err *e)
{
	StreamRecord *rec;
	int ret;

	while ((ret = stream_in_next(in, &rec, e)) > 0) {
		if (rec->body_case == STREAM_RECORD__BODY_MNTNS)
			ret = reopen_ns_add(&r->ns, rec->mntns, e);
		if (rec->body_case == STREAM_RECORD__BODY_TASK && !rec->task->zombie && !rec->task->helper)
			ret = reopen_add_task(r, rec->task->pid, e);
		if (rec->body_case == STREAM_RECORD__BODY_REMAP) {
			ret = reopen_add_remap(r, rec->remap, e);
			rec->remap = NULL;	/* kept by the plan */
			rec->body_case = STREAM_RECORD__BODY__NOT_SET;
		}
		stream_record__free_unpacked(rec, NULL);
		if (ret < 0)
			return ret;
	}
	return ret;
}

/* A description made for the mappings of a deleted file ('mapped') is
 * opened in the namespace of the task that maps it, and sent on. */
static int restore_files_mapped(struct reopen *r, struct err *e)
{
	for (int i = 0; i < r->nr_files; i++) {
		struct reopen_file *f = &r->files[i];
		int k;

		if (!f->re->mapped && !f->re->has_mapped_by)
			continue;
		if (f->re->mapped ? !f->re->remapped || !f->re->has_mapped_by :
		    !f->re->deleted || !f->re->has_mode || !S_ISDIR(f->re->mode))
			return err_input(e, "files.img: file %u ('%s') is held by no descriptor, and is neither a mapped "
					 "deleted file with its remap and task nor a removed working directory", f->re->id, f->re->path);
		for (k = 0; k < r->nr_pids && r->pids[k] != (pid_t)f->re->mapped_by; k++)
			;
		if (k == r->nr_pids)
			return err_input(e, "files.img: file %u ('%s') is mapped by pid %u, which is no live task of the tree",
					 f->re->id, f->re->path, f->re->mapped_by);
		if (!f->pid)
			f->pid = f->re->mapped_by;
	}
	return 0;
}

int restore_files_read(int fd, int dir_fd, struct reopen *r, struct err *e)
{
	struct stream_in in;
	int ret;

	memset(r, 0, sizeof(*r));
	if ((ret = stream_in_open(&in, fd, "state stream (stdin)", e)) < 0)
		return ret;
	ret = reopen_load(r, dir_fd, e);
	if (ret >= 0)
		ret = restore_files_records(&in, r, e);
	stream_in_close(&in);
	if (ret >= 0)
		ret = restore_files_mapped(r, e);
	return ret;
}
