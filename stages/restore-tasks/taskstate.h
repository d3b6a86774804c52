/* restore-tasks/taskstate.h: the pieces of rt_task_state_process and
 * rt_task_state_thread (restore-tasks.h), one file each. Each runs remote
 * syscalls with r active on the task or thread it restores, passing
 * arguments through the trampoline's scratch area (RT_SCRATCH). */
#ifndef AMBER_STAGE_RESTORE_TASKS_TASKSTATE_H
#define AMBER_STAGE_RESTORE_TASKS_TASKSTATE_H

#include <stdbool.h>
#include <stdint.h>

#include "images/core.pb-c.h"
#include "lib/err.h"
#include "stages/restore-tasks/batch.h"
#include "stages/restore-tasks/restore-tasks.h"

struct rsys;


/* sigstate.c: sigaltstack of the thread r runs in. */
int rt_sigaltstack(struct rsys *r, struct rt_task *t, const CoreEntry *core, struct err *e);
/* sigstate.c: queues the thread's pending signals, and the process-wide ones
 * when core is the leader's, from inside the thread itself. */
int rt_pending_signals(struct rsys *r, struct rt_task *t, const CoreEntry *core, struct err *e);

/* timers.c: itimers and the POSIX timers that target the process or its
 * leader (run in the leader). */
int rt_timers_process(struct rsys *r, struct rt_task *t, struct err *e);
/* timers.c: POSIX timers with SIGEV_THREAD_ID aimed at this non-leader thread. */
int rt_timers_thread(struct rsys *r, struct rt_task *t, const CoreEntry *core, struct err *e);

/* creds.c: groups, uids, gids, capabilities (all five sets), securebits and
 * no_new_privs of the thread. When the thread could not install its seccomp
 * filters with its final credentials (no no_new_privs and no CAP_SYS_ADMIN:
 * it installed them while it still had the capability), it installs them
 * just before its final capset, and says so in *seccomp_done. */
int rt_creds(struct rsys *r, struct rt_task *t, const CoreEntry *core, bool *seccomp_done, struct err *e);
/* creds.c: the seccomp filters of the thread, oldest first. */
int rt_seccomp(struct rsys *r, struct rt_task *t, const CoreEntry *core, struct err *e);

#endif
