/* amber-dump-memory: write the address space of every process of a stopped tree.
 *
 * What it does
 *	For each process announced on stdin (zombies are skipped) it writes
 *	mm-PID.img (every VMA with protection, flags, backing file, accounting
 *	and madvise advice from smaps, and the mm fields: code, data, brk,
 *	stack, arguments, environment, auxv, exe) and the process's private
 *	memory: /proc/PID/pagemap says which pages hold data only the process
 *	has (anonymous pages, copy-on-write pages of private file mappings,
 *	swapped pages); those are copied with process_vm_readv (/proc/PID/mem
 *	for unreadable VMAs), in 4 MiB chunks by one thread per CPU (at most 8,
 *	lib/pagecopy.h), into pages-PID.img, and pagemap-PID.img says where
 *	each run of pages lives. Pages the file system already holds (shared
 *	file mappings, clean private file pages) and the kernel's own mappings
 *	(vDSO, vvar, vsyscall) are not copied. A memfd that a VMA maps
 *	("/memfd:NAME (deleted)" in maps; MAP_SHARED or MAP_PRIVATE) is saved
 *	once for the whole tree, whoever maps it, read through map_files:
 *	memfd-INO.img (name, size, seals, mode, owner, where its data is) and
 *	pages-memfd-INO.img (only the pages that hold data); the pages a
 *	MAP_PRIVATE mapping of it wrote are private pages like any other. A
 *	memfd a descriptor holds too is saved by whichever of this stage and
 *	dump-files (which runs beside it) comes first: each writes under a
 *	temporary name (.tmp.NAME.PID) and publishes with linkat, and the
 *	second finds the images there and drops its copy (images/memfd.h).
 *	A mapping of a deleted regular file (and a deleted executable) is
 *	marked deleted, with the file's device and inode (exe_dev, exe_ino):
 *	dump-files saves the file itself, as a description no descriptor holds.
 *
 * Inputs	stdin: state stream with a 'task' record per process (from seize).
 *	The tree must be stopped (seize holds it); nothing here uses ptrace.
 *
 * Options	--prev-images-dir PREV: an incremental dump. The parent's
 *	inventory.img must be complete; its dump id checks every parent image
 *	read. The write tracking kept by amber-track at PREV/track.sock is
 *	claimed (lib/track.h): from then on it is relative to this dump. A
 *	private VMA whose userfaultfd the holder handed over is scanned with
 *	PAGEMAP_SCAN (PM_SCAN_WP_MATCHING: the written pages are protected
 *	again in the same walk); a data page not written since the parent's
 *	copy, which the parent's pagemap-PID.img covers, is recorded as a
 *	pagemap entry in_parent and not copied. Everything else (no holder,
 *	a holder of another generation, a process or VMA not tracked, shared
 *	anonymous memory) is copied in full, never guessed.
 *	--union-root BRANCH=UNION (repeatable): the path of a mapped
 *	file or of the executable that lies under BRANCH (a branch or layer
 *	of a union file system, as /proc shows it) is recorded as the same
 *	path under UNION, with the device and inode of the file there, which
 *	must be a regular file of the same size (lib/union.h).
 *	--page-server A:N: the pages-PID.img files are not written into DIR
 *	but sent to 'amber page-server' at A:N (ipc/pageserver.h), which
 *	stores them in its DIR/NAME/; NAME is --page-server-dir, by default
 *	the last component of -D. The stage succeeds only once the server
 *	says every file is on its disk. pagemap-PID.img and the memfd images
 *	stay in DIR.
 *
 * Outputs	mm-PID.img, pagemap-PID.img, pages-PID.img, and memfd-INO.img
 *	with pages-memfd-INO.img per memfd mapped (unless dump-files wrote
 *	them); stdout: hello, a 'remote_pages' record per pages file sent to
 *	a page server, end.
 *
 * Exit status	lib/exitcodes.h; 3 for a mapping amber cannot dump (device
 *	memory, System V shared memory, an AIO context's ring, an io_uring's
 *	rings, a hugetlb memfd, a writable
 *	shared mapping of a memfd sealed with F_SEAL_FUTURE_WRITE), naming the
 *	pid, address and path.
 *
 * Capabilities	CAP_SYS_PTRACE (process_vm_readv, /proc/PID/mem and pagemap of
 *	another user's process), CAP_SYS_ADMIN (map_files), CAP_DAC_READ_SEARCH.
 *
 * By hand	amber-seize -t PID -D DIR --dump-id ID & ...; or on a running process (not
 *	consistent, for debugging): printf stream | amber-dump-memory -D DIR --dump-id ID
 */
#include "ipc/stage.h"
#include "lib/exitcodes.h"
#include "lib/grow.h"
#include "stages/dump-memory/dump-memory.h"

static int dm_parse_option(void *opts, int opt, const char *arg, struct err *e)
{
	struct dm_opts *o = opts;

	if (opt == 'P') {
		o->prev = arg;
		return 0;
	}
	if (opt == 'U') {
		if (grow_one(&o->union_roots, o->nr_union_roots) < 0)
			return err_errno(e, "remember --union-root '%s'", arg);
		return union_root_parse(arg, &o->union_roots[o->nr_union_roots++], e);
	}
	if (opt == 'S') {
		o->page_server = arg;
		return 0;
	}
	if (opt == 'N') {
		if (!ps_dir_name_ok(arg))
			return err_set(e, EXIT_USAGE, "--page-server-dir '%s': one path component, not . or ..", arg);
		o->ps_dir = arg;
		return 0;
	}
	return err_set(e, EXIT_USAGE, "unknown option");
}

static const struct option dm_options[] = {
	{ "prev-images-dir", required_argument, NULL, 'P' },
	{ "union-root", required_argument, NULL, 'U' },
	{ "page-server", required_argument, NULL, 'S' },
	{ "page-server-dir", required_argument, NULL, 'N' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	static const struct stage_desc desc = {
		.name = "dump-memory",
		.summary = "write mm-PID.img, pagemap-PID.img and pages-PID.img for every process on stdin",
		.caps = { CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_DAC_READ_SEARCH },
		.nr_caps = 3,
		.usage = "      --prev-images-dir PREV  incremental: leave the pages not written since PREV's copy in PREV\n"
			 "      --union-root BRANCH=UNION  a mapped file's path under BRANCH is the same path under UNION\n"
			 "                                 (repeatable)\n"
			 "      --page-server A:N       send pages-PID.img to 'amber page-server' at A:N, not to DIR\n"
			 "      --page-server-dir NAME  the dump directory's name there (default: DIR's last component)",
		.options = dm_options,
		.parse_option = dm_parse_option,
		.run = dump_memory_run,
	};
	/* Static: what the options allocated stays reachable to the end. */
	static struct dm_opts opts;

	return stage_main(&desc, &opts, argc, argv);
}
