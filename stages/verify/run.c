/* verify/run.c: read the made tree from the verify socket, compare each
 * process with its images, answer with the verdict. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "images/image.h"
#include "ipc/fds.h"
#include "ipc/stream.h"
#include "lib/exitcodes.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "stages/verify/verify.h"

void vf_diff(struct vf *v, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!v->differences++)
		snprintf(v->first, sizeof(v->first), "%s", msg);
	if (v->o->warn)
		pr_warn("%s", msg);
	else
		pr_err("%s", msg);
}

void vf_num(struct vf *v, const char *what, uint64_t dumped, uint64_t restored)
{
	vf_checked(v);
	if (dumped != restored)
		vf_diff(v, "%s: dumped %llu, restored %llu", what, (unsigned long long)dumped,
			(unsigned long long)restored);
}

void vf_hex(struct vf *v, const char *what, uint64_t dumped, uint64_t restored)
{
	vf_checked(v);
	if (dumped != restored)
		vf_diff(v, "%s: dumped %#llx, restored %#llx", what, (unsigned long long)dumped,
			(unsigned long long)restored);
}

void vf_str(struct vf *v, const char *what, const char *dumped, const char *restored)
{
	vf_checked(v);
	if (strcmp(dumped ? dumped : "", restored ? restored : ""))
		vf_diff(v, "%s: dumped '%s', restored '%s'", what, dumped ? dumped : "", restored ? restored : "");
}

uint32_t vf_image_pid(const struct vf *v, pid_t host)
{
	for (int i = 0; i < v->nr; i++)
		if (v->tasks[i].host == host && host && !v->tasks[i].pe->helper)
			return v->tasks[i].pe->pid;
	return 0;
}

bool vf_in_tree(const struct vf *v, uint32_t pid)
{
	for (int i = 0; i < v->nr; i++)
		if (v->tasks[i].pe->pid == pid)
			return true;
	return false;
}

/* Whether the process at host pid lives in this stage's mount namespace. */
static bool vf_same_mntns(const struct vf *v, pid_t host)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", host);
	return host > 0 && stat(path, &st) == 0 && st.st_ino == v->mntns;
}

/* The made tree, as restore-tasks names it: every record kept. */
static int vf_read_tasks(struct vf *v, int fd, StreamRecord ***recs, struct err *e)
{
	struct stream_in in;
	StreamRecord *rec;
	int ret, nr = 0;

	if ((ret = stream_in_open(&in, fd, "the verify socket", e)) < 0)
		return ret;
	while ((ret = stream_in_next(&in, &rec, e)) > 0) {
		PstreeEntry *pe = rec->body_case == STREAM_RECORD__BODY_TASK ? rec->task : NULL;

		if (!pe || (!pe->helper && !pe->zombie && (!pe->has_host_pid || !pe->host_pid))) {
			stream_record__free_unpacked(rec, NULL);
			ret = err_proto(e, "the verify socket: a record that is not a task with its host pid");
			break;
		}
		if (grow_one(recs, nr) < 0 || grow_one(&v->tasks, v->nr) < 0) {
			stream_record__free_unpacked(rec, NULL);
			ret = err_errno(e, "keep the tasks to verify");
			break;
		}
		(*recs)[nr++] = rec;
		v->tasks[v->nr++] = (struct vf_task){ pe, (pid_t)pe->host_pid, vf_same_mntns(v, (pid_t)pe->host_pid) };
	}
	stream_in_close(&in);
	return ret;
}

/* files.img, by id: what each descriptor of fdinfo-PID.img names. */
static int vf_load_files(struct vf *v, struct err *e)
{
	struct image img;
	ProtobufCMessage *m;
	int ret = image_open_read(&img, v->dir_fd, "files", "files.img", e);

	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	while ((ret = image_read(&img, &m, e)) > 0) {
		RegFileEntry *f = (RegFileEntry *)m;

		if ((ret = image_check_id(&img, "file id", f->id, IMAGE_MAX_FILE_ID, e)) == 0 &&
		    grow_zero(&v->files, &v->nr_files, (size_t)f->id + 1) < 0)
			ret = err_errno(e, "keep files.img");
		if (ret < 0) {
			protobuf_c_message_free_unpacked(m, NULL);
			break;
		}
		if (v->files[f->id])
			protobuf_c_message_free_unpacked(&v->files[f->id]->base, NULL);
		v->files[f->id] = f;
	}
	image_close(&img);
	return ret;
}

/* The verdict, back to restore-tasks. */
static int vf_answer(int fd, const struct vf *v, bool ok, const char *first, struct err *e)
{
	VerdictEntry ve = VERDICT_ENTRY__INIT;
	StreamRecord rec = STREAM_RECORD__INIT;
	struct stream_out out;
	int ret;

	ve.ok = ok;
	ve.differences = v->differences;
	ve.first = (char *)(first[0] ? first : NULL);
	ve.has_checked = true;
	ve.checked = v->checked;
	rec.body_case = STREAM_RECORD__BODY_VERDICT;
	rec.verdict = &ve;
	if ((ret = stream_out_open(&out, fd, "verify", e)) < 0 || (ret = stream_out_write(&out, &rec, e)) < 0)
		return ret;
	return stream_out_end(&out, e);
}

int verify_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	struct vf v = { .dir_fd = ctx->dir_fd, .o = opts };
	int fd = stage_fd(ctx, FD_NAME_VERIFY);
	StreamRecord **recs = NULL;
	struct stat st;
	struct err answer = { 0 };
	struct stream_out out;
	char byte;
	int ret;

	/* Its stdout carries nothing but says it ended (the driver reads it). */
	if ((ret = stream_out_open(&out, 1, "verify", e)) < 0)
		return ret;
	if (stat("/proc/self/ns/mnt", &st) == 0)
		v.mntns = st.st_ino;
	/* restore-tasks failed before it made the tree: it says why, and
	 * there is nothing here to check or to answer. */
	if (recv(fd, &byte, 1, MSG_PEEK) == 0) {
		pr_info("restore-tasks made no tree: nothing to verify");
		return stream_out_end(&out, e);
	}
	ret = vf_read_tasks(&v, fd, &recs, e);
	if (ret == 0)
		ret = vf_load_files(&v, e);
	for (int i = 0; ret == 0 && i < v.nr; i++) {
		const struct vf_task *t = &v.tasks[i];

		/* A helper is gone; a zombie of a new pid namespace may not be
		 * found among its parent's children yet. */
		if (t->pe->helper || (t->pe->zombie && !t->host))
			continue;
		ret = vf_task(&v, t, e);
		if (ret == 0 && !t->pe->zombie)
			ret = vf_mm(&v, t, e);
		if (ret == 0 && !t->pe->zombie)
			ret = vf_fds(&v, t, e);
		if (ret == 0 && !t->pe->zombie && v.o->pages)
			ret = vf_pages(&v, t, e);
	}
	if (ret == 0)
		pr_info("%u fields of %d processes compared, %u differ", v.checked, v.nr, v.differences);
	/* Always an answer, even for a failure of our own: restore-tasks must
	 * not let an unchecked tree run. */
	if (ret < 0)
		vf_answer(fd, &v, false, e->msg, &answer);
	else if ((ret = vf_answer(fd, &v, !v.differences || v.o->warn, v.first, e)) == 0 && v.differences &&
		 !v.o->warn)
		ret = err_set(e, EXIT_INPUT, "the restored tree differs from the images in %u of %u fields "
			      "(the first: %s); it is removed before it runs (restore --verify=warn lets it run)",
			      v.differences, v.checked, v.first);
	for (int i = 0; i < v.nr; i++)
		stream_record__free_unpacked(recs[i], NULL);
	free(recs);
	free(v.tasks);
	for (size_t i = 0; i < v.nr_files; i++)
		if (v.files[i])
			protobuf_c_message_free_unpacked(&v.files[i]->base, NULL);
	free(v.files);
	free(v.ptys);
	return ret < 0 ? ret : stream_out_end(&out, e);
}
