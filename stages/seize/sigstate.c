/* seize/sigstate.c: pending signals with their siginfo, and sigaltstack. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "lib/grow.h"
#include "lib/log.h"
#include "lib/rsys.h"
#include "stages/seize/seize.h"
#include "stages/seize/taskstate.h"

#define SEIZE_SIGINFO_SIZE 128
#define SEIZE_PEEK_BATCH 32

/* One pending signal with its siginfo bytes, freed in one piece. */
struct seize_siginfo {
	SiginfoEntry entry;
	uint8_t data[SEIZE_SIGINFO_SIZE];
};

/* Copies one signal queue of tid (the thread's, or the process-wide one
 * with PTRACE_PEEKSIGINFO_SHARED) in queue order, without dequeuing. */
static int seize_peek_queue(pid_t tid, bool shared, SiginfoEntry ***out, size_t *n_out, struct err *e)
{
	uint8_t buf[SEIZE_PEEK_BATCH][SEIZE_SIGINFO_SIZE];
	SiginfoEntry **v = NULL;
	size_t n = 0;

	for (;;) {
		struct __ptrace_peeksiginfo_args a = {
			.off = n, .flags = shared ? PTRACE_PEEKSIGINFO_SHARED : 0, .nr = SEIZE_PEEK_BATCH,
		};
		long got = ptrace(PTRACE_PEEKSIGINFO, tid, &a, buf);

		if (got < 0) {
			err_errno(e, "read the %s pending signals of thread %d (PTRACE_PEEKSIGINFO)",
				  shared ? "process-wide" : "thread's", tid);
			goto fail;
		}
		if (got == 0)
			break;
		if (grow_by(&v, n, got) < 0) {
			err_errno(e, "allocate pending signals of thread %d", tid);
			goto fail;
		}
		for (long i = 0; i < got; i++) {
			struct seize_siginfo *si = malloc(sizeof(*si));

			if (!si) {
				err_errno(e, "allocate pending signals of thread %d", tid);
				goto fail;
			}
			siginfo_entry__init(&si->entry);
			memcpy(si->data, buf[i], sizeof(si->data));
			si->entry.siginfo.data = si->data;
			si->entry.siginfo.len = sizeof(si->data);
			v[n++] = &si->entry;
			pr_debug("thread %d: pending %s signal %d", tid, shared ? "process-wide" : "thread",
				 ((siginfo_t *)si->data)->si_signo);
		}
	}
	*out = v;
	*n_out = n;
	return 0;
fail:
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return -1;
}

/* The kernel's stack_t on x86-64. */
struct seize_stack {
	uint64_t sp;
	int32_t flags;
	int32_t pad;
	uint64_t size;
};

int seize_sigstate(pid_t pid, pid_t tid, bool shared, struct rsys *r, uint64_t s, CoreEntry *core, struct err *e)
{
	struct seize_stack st;
	long res;
	int ret;

	if ((ret = seize_peek_queue(tid, false, &core->pending, &core->n_pending, e)) < 0)
		return ret;
	/* A restore makes its calls in a thread through a trampoline that
	 * ends in int3; a SIGTRAP already pending for that thread absorbs the
	 * int3's, and its stop then takes the pending one off the queue. Not
	 * to lose it without a word, such a thread is refused. */
	for (size_t i = 0; i < core->n_pending; i++) {
		int signo = 0;

		if (core->pending[i]->siginfo.len >= sizeof(signo))
			memcpy(&signo, core->pending[i]->siginfo.data, sizeof(signo));
		if (signo == SIGTRAP)
			return err_input(e, "pid %d thread %d has a SIGTRAP pending (blocked, sent to the thread): amber "
					 "cannot restore that yet; let it take the signal, or send it to the process "
					 "(kill, not tgkill or raise), before the dump", pid, tid);
	}
	if (shared && (ret = seize_peek_queue(tid, true, &core->shared_pending, &core->n_shared_pending, e)) < 0)
		return ret;

	if ((ret = rsys_call(r, &res, SYS_sigaltstack, 0, s, 0, 0, 0, 0, e)) < 0)
		return ret;
	if (res < 0)
		return err_errnum(e, -res, "read the sigaltstack of thread %d", tid);
	if ((ret = rsys_peek(pid, s, &st, sizeof(st), e)) < 0)
		return ret;
	if (!(st.flags & SS_DISABLE)) {
		core->sigaltstack = malloc(sizeof(*core->sigaltstack));
		if (!core->sigaltstack)
			return err_errno(e, "allocate the sigaltstack of thread %d", tid);
		sigaltstack_entry__init(core->sigaltstack);
		core->sigaltstack->sp = st.sp;
		core->sigaltstack->flags = st.flags & ~SS_ONSTACK;
		core->sigaltstack->size = st.size;
	}
	return 0;
}

void seize_sigstate_free(CoreEntry *core)
{
	for (size_t i = 0; i < core->n_pending; i++)
		free(core->pending[i]);
	free(core->pending);
	for (size_t i = 0; i < core->n_shared_pending; i++)
		free(core->shared_pending[i]);
	free(core->shared_pending);
	free(core->sigaltstack);
	core->pending = core->shared_pending = NULL;
	core->n_pending = core->n_shared_pending = 0;
	core->sigaltstack = NULL;
}
