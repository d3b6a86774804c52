/* amber-unseize: put back what a seize that ended too early had changed.
 *
 * What it does
 *	Reads the journal seize keeps in the run directory (RUN/seize.journal,
 *	images/rjournal.h): seize writes down each change before it makes it
 *	(a thread's signal mask and registers before a remote syscall, the
 *	scratch area it maps, the parking gadget it writes into a process's
 *	vDSO padding) and when each is undone. A thread whose tracer died in
 *	the middle of a remote syscall finishes that syscall and waits in the
 *	gadget's pause(2) loop with every signal blocked (lib/rsys.h). For
 *	every thread the journal leaves unfinished, this stage seizes it with
 *	ptrace and stops it (PTRACE_SEIZE, PTRACE_INTERRUPT): one stopped in
 *	the gadget gets its saved registers and signal mask back, one that
 *	already runs its own code but with every signal still blocked gets its
 *	saved mask back, any other is left as it is. Then it unmaps a scratch
 *	area seize left (a remote munmap run from the gadget, after checking
 *	that /proc/PID/maps shows it), writes back the bytes the gadget
 *	covered, and detaches, so the tree carries on as it was. A process
 *	that exited, or whose pid now names another process (its start time
 *	differs), is left alone. The driver runs it when seize failed or died
 *	and the journal is not empty (dump's rollback); it changes nothing
 *	when the journal says every change was undone.
 * Inputs	stdin is not read. The journal RUN/seize.journal (--run-dir),
 *	or the file --journal names.
 * Options	--journal FILE: read this journal instead of RUN/seize.journal.
 * Outputs	stdout: an empty state stream (hello, end). The log names every
 *	thread it put back.
 * Exit status	0 when every thread the journal names runs its own code with
 *	its own registers and mask again (or has exited); 4 naming the pid or
 *	thread it could not put back, which then may still wait in the gadget;
 *	3 for a journal that is not one.
 * Side effects	each thread it seizes stops for a moment, as under seize.
 * Capabilities	CAP_SYS_PTRACE; CAP_SYS_ADMIN for PTRACE_O_SUSPEND_SECCOMP
 *	(the remote munmap must not be judged by the task's seccomp filters).
 * By hand	after a dump whose seize was killed and whose driver died too:
 *	amber stage unseize --run-dir DIR/dump.run
 */
#include <limits.h>
#include <stdio.h>

#include "ipc/stage.h"
#include "lib/exitcodes.h"
#include "stages/unseize/unseize.h"

static int unseize_parse_option(void *opts, int opt, const char *arg, struct err *e)
{
	struct unseize_opts *o = opts;

	if (opt == 'j') {
		o->journal = arg;
		return 0;
	}
	return err_set(e, EXIT_USAGE, "unknown option");
}

static const struct option unseize_options[] = {
	{ "journal", required_argument, NULL, 'j' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	static const struct stage_desc desc = {
		.name = "unseize",
		.summary = "put back the threads, scratch areas and gadgets a killed seize left changed (RUN/seize.journal)",
		.usage = "      --journal FILE     the journal to read (default RUN/seize.journal)",
		.caps = { CAP_SYS_PTRACE, CAP_SYS_ADMIN },
		.nr_caps = 2,
		.no_images_dir = true,
		.options = unseize_options,
		.parse_option = unseize_parse_option,
		.run = unseize_run,
	};
	struct unseize_opts opts = { NULL };

	return stage_main(&desc, &opts, argc, argv);
}
