/* seize/taskstate.h: the pieces of seize_task_state (seize.h), one file
 * each. All run in a stopped thread with r active on it; 's' is the part of
 * the task's scratch area they may use (SEIZE_TS_SCRATCH bytes). */
#ifndef AMBER_STAGE_SEIZE_TASKSTATE_H
#define AMBER_STAGE_SEIZE_TASKSTATE_H

#include <stdint.h>
#include <sys/types.h>

#include "images/core.pb-c.h"
#include "lib/err.h"
#include "stages/seize/seize.h"

struct rsys;
#define SEIZE_TS_SCRATCH (SEIZE_BATCH_AREA - SEIZE_SCRATCH_FREE)

/* sigstate.c: pending signals of thread tid (and of the process when
 * shared), sigaltstack. */
int seize_sigstate(pid_t pid, pid_t tid, bool shared, struct rsys *r, uint64_t s, CoreEntry *core, struct err *e);
void seize_sigstate_free(CoreEntry *core);
/* timers.c: itimers and POSIX timers of the process. */
int seize_timers(pid_t pid, struct rsys *r, uint64_t s, CoreEntry *core, struct err *e);
void seize_timers_free(CoreEntry *core);
/* creds.c: credentials and seccomp filters of thread tid. */
int seize_creds(pid_t pid, pid_t tid, struct rsys *r, CoreEntry *core, struct err *e);
void seize_creds_free(CoreEntry *core);

#endif
