/* restore-tasks/taskstate.c: the parts of a task's state beyond registers
 * and memory, set by remote syscalls in the right order: process-wide state
 * first; per thread sigaltstack and pending signals, then credentials (after
 * everything that needs privilege), then seccomp (after everything else). */
#include "images/core.pb-c.h"
#include "lib/rsys.h"
#include "stages/restore-tasks/restore-tasks.h"

int rt_task_state_process(struct rsys *r, struct rt_task *t, struct err *e)
{
	return 0;
}

int rt_task_state_thread(struct rsys *r, struct rt_task *t, const CoreEntry *core, struct err *e)
{
	return 0;
}
