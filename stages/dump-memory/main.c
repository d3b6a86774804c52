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
 *	(vDSO, vvar, vsyscall) are not copied.
 *
 * Inputs	stdin: state stream with a 'task' record per process (from seize).
 *	The tree must be stopped (seize holds it); nothing here uses ptrace.
 * Outputs	mm-PID.img, pagemap-PID.img, pages-PID.img; stdout: hello, end.
 * Exit status	ipc/exitcodes.h; 3 for a mapping amber cannot dump (device
 *	memory, a deleted file), naming the pid, address and path.
 * Capabilities	CAP_SYS_PTRACE (process_vm_readv, /proc/PID/mem and pagemap of
 *	another user's process), CAP_SYS_ADMIN (map_files), CAP_DAC_READ_SEARCH.
 * By hand	amber-seize -t PID -D DIR & ...; or on a running process (not
 *	consistent, for debugging): printf stream | amber-dump-memory -D DIR
 */
#include "ipc/stage.h"
#include "stages/dump-memory/dump-memory.h"

int main(int argc, char **argv)
{
	static const struct stage_desc desc = {
		.name = "dump-memory",
		.summary = "write mm-PID.img, pagemap-PID.img and pages-PID.img for every process on stdin",
		.caps = { CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_DAC_READ_SEARCH },
		.nr_caps = 3,
		.run = dump_memory_run,
	};

	return stage_main(&desc, NULL, argc, argv);
}
