/* restore-files/input.c: the stage's input, read and checked with no side
 * effect (what tests/fuzz/fuzz_stage_restore_files.c feeds): the task,
 * remap and mntns records of the state stream, files.img and each task's
 * fdinfo-PID.img. */
#include <string.h>

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
	return ret;
}
