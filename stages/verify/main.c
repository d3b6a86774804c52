/* amber-verify: check a restored tree against its images before it runs.
 *
 * What it does
 *	The last step of a restore. restore-tasks, once every task is made
 *	(memory, files, registers, signal masks loaded) and before any of them
 *	runs, names the tasks on the verify socket. This stage reads each one
 *	back with the collectors the dump uses (images/collect.h: the address
 *	space as dump-memory reads it, credentials, scheduling, limits and
 *	/proc knobs as seize reads them; lib/proc.h: descriptors and fdinfo as
 *	dump-files reads them) and compares every field with the images: the
 *	tree (parent, process group, session, threads), per thread comm,
 *	blocked and pending signals, credentials, seccomp mode, scheduling;
 *	per process sigactions (ignored and caught sets), rlimits,
 *	oom_score_adj, loginuid, every VMA (range, protection, flags, kind,
 *	file, offset, mlock, advice, name), the mm fields and auxv, every
 *	descriptor (the set, close-on-exec, open flags, file type, position,
 *	device and inode of a file opened by path; for an end of a pty pair
 *	its kind, master, slave or /dev/tty, and that the ends of one dumped
 *	pair are on one new pair, which it logs as "pty /dev/pts/N of the dump
 *	is on /dev/pts/M"), umask, cwd and root. Each difference is one
 *	message naming the pid (and thread, fd or VMA
 *	address), the field, the dumped and the restored value. With --pages
 *	it also compares every page of pages-PID.img with the process's memory.
 *	It answers with a verdict: restore-tasks lets the tree run only on a
 *	good one, and otherwise removes it.
 *
 * Inputs	the verify socket: a state stream of `task` records (PstreeEntry,
 *	host_pid: where the process is, as this stage sees it), then end.
 *	images (-D): core-TID.img, mm-PID.img, fdinfo-PID.img, fs-PID.img,
 *	files.img; with --pages pagemap-PID.img and pages-PID.img. stdin: the
 *	driver's records so far (not used).
 *
 * Options	--warn: report the differences as warnings and give a good
 *	verdict (restore --verify=warn). --pages: compare the pages too
 *	(restore --verify=pages). --allow-changed-files (restore's): a file
 *	opened by path may be another file now, so its device, inode and size
 *	are not compared.
 *
 * Outputs	the verify socket: a state stream holding one `verdict` record
 *	(VerdictEntry: ok, the number of differences, the first of them, the
 *	number of fields compared), then end. stdout: an empty state stream
 *	(hello, end). stderr: one line per difference.
 *
 * Named fds	`verify` (required): a unix stream socket, whose other end
 *	restore-tasks has.
 *
 * Exit status	0 the tree is what the images say (or --warn); 3 it differs
 *	(the last stderr line counts the differences and names the first);
 *	0 also when restore-tasks closes the socket before it sends anything
 *	(it failed before the tree was made, and says why itself);
 *	4 reading a process or an image failed (the verdict is then bad too:
 *	an unchecked tree never runs); 5 the socket's stream was cut.
 *
 * Side effects	none: it only reads /proc of the stopped tasks and the
 *	images.
 *
 * Capabilities	CAP_SYS_PTRACE (the /proc files of processes of other users,
 *	traced by restore-tasks: fd, mem), CAP_CHECKPOINT_RESTORE (map_files,
 *	for the size of a mapped file), CAP_DAC_READ_SEARCH.
 *
 * By hand	it needs a made tree that restore-tasks holds stopped, so it runs
 *	only beside restore-tasks: amber restore -D DIR --verify=warn -v3
 *	shows what it compared; amber restore --no-verify leaves it out.
 */
#include <stdlib.h>
#include <string.h>

#include "ipc/fds.h"
#include "ipc/stage.h"
#include "lib/exitcodes.h"
#include "stages/verify/verify.h"

static int verify_parse_option(void *opts, int opt, const char *arg, struct err *e)
{
	struct verify_opts *o = opts;

	if (opt == 'W')
		o->warn = true;
	else if (opt == 'P')
		o->pages = true;
	else if (opt == 'C')
		o->allow_changed = true;
	else
		return err_set(e, EXIT_USAGE, "unknown option");
	return 0;
}

static const struct option verify_options[] = {
	{ "warn", no_argument, NULL, 'W' },
	{ "pages", no_argument, NULL, 'P' },
	{ "allow-changed-files", no_argument, NULL, 'C' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	static const struct stage_desc desc = {
		.name = "verify",
		.reads_images = true,
		.summary = "compare a made tree with its images before it runs",
		.usage = "      --warn             report differences, but let the tree run\n"
			 "      --pages            compare every restored page too\n"
			 "      --allow-changed-files  files opened by path may be other files now",
		.fds = { FD_NAME_VERIFY },
		.caps = { CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_CHECKPOINT_RESTORE },
		.nr_caps = 3,
		.options = verify_options,
		.parse_option = verify_parse_option,
		.run = verify_run,
	};
	struct verify_opts opts = { false, false, false };

	return stage_main(&desc, &opts, argc, argv);
}
