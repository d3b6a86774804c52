/* restore-tasks/verify.c: the hand-over to the verify stage. Once the tree
 * is made, and before any task of it runs, the tasks are named on the
 * verify socket (their pids here); verify compares them with the images
 * and answers with a verdict. The tasks stay stopped and traced meanwhile,
 * so what verify reads is what they will start from. */
#include <stdlib.h>

#include "ipc/stream.h"
#include "lib/exitcodes.h"
#include "lib/log.h"
#include "stages/restore-tasks/restore-tasks.h"

/* Names every task of p on fd: its image pid, parent, group, session and
 * threads as pstree.img has them, and host_pid where this stage sees it (a
 * zombie's is found among its parent's children; a helper, which may be
 * gone already, has none: it is named for the sessions and groups it made). */
static int rt_verify_send(const struct rt_plan *p, int fd, struct err *e)
{
	struct stream_out out;
	int ret = stream_out_open(&out, fd, "restore-tasks", e);

	for (int i = 0; ret == 0 && i < p->nr; i++) {
		const struct rt_task *t = &p->tasks[i];
		PstreeEntry pe = *t->pe;

		pe.has_host_pid = !t->pe->helper;
		pe.host_pid = t->pid;
		if (t->pe->zombie)
			pe.host_pid = !p->pidns ? t->pe->pid
				      : t->parent >= 0 ? (uint32_t)rt_host_pid_of_child(p->tasks[t->parent].pid, t->pe->pid) : 0;
		ret = stream_out_task(&out, &pe, e);
	}
	return ret ? ret : stream_out_end(&out, e);
}

int rt_verify(const struct rt_plan *p, int fd, struct err *e)
{
	struct stream_in in;
	StreamRecord *rec;
	VerdictEntry *v = NULL;
	int ret;

	if ((ret = rt_verify_send(p, fd, e)) < 0)
		return ret;
	if ((ret = stream_in_open(&in, fd, "the verify socket", e)) < 0)
		return ret;
	while ((ret = stream_in_next(&in, &rec, e)) > 0) {
		if (rec->body_case == STREAM_RECORD__BODY_VERDICT && !v) {
			v = rec->verdict;
			rec->verdict = NULL;
			rec->body_case = STREAM_RECORD__BODY__NOT_SET;
		}
		stream_record__free_unpacked(rec, NULL);
	}
	stream_in_close(&in);
	if (ret == 0 && !v)
		ret = err_proto(e, "the verify stage ended its answer without a verdict");
	if (ret == 0 && !v->ok)
		ret = err_set(e, EXIT_INPUT, "the restored tree differs from the images in %u field%s (the first: %s); "
			      "it was removed before it ran (restore --verify=warn lets it run); see the verify stage's messages", v->differences,
			      v->differences == 1 ? "" : "s", v->first ? v->first : "?");
	if (ret == 0)
		pr_info("verify: %u fields compared, %u differ%s", v->checked, v->differences,
			v->differences ? " (--verify=warn: the tree runs)" : "");
	if (v)
		verdict_entry__free_unpacked(v, NULL);
	return ret;
}
