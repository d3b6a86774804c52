/* seize/taskstate.c: the parts of a thread's state beyond registers and
 * memory: credentials, pending signals, timers, sigaltstack, seccomp. */
#include "images/core.pb-c.h"
#include "lib/rsys.h"
#include "stages/seize/seize.h"

int seize_task_state(const struct seize_proc *p, int idx, struct rsys *r, uint64_t scratch, CoreEntry *core, struct err *e)
{
	return 0;
}

void seize_task_state_free(CoreEntry *core)
{
}
