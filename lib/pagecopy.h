/* pagecopy: copying page runs between a process and a pages image in
 * parallel chunks.
 *
 * A pages image is the concatenation of runs of pages (pagemap entries).
 * Its data is cut into fixed-size chunks; each chunk maps to a list of
 * (address, length) segments in the process, and chunks are copied by one
 * thread per CPU: process_vm_readv/writev for ordinary memory, /proc/PID/mem
 * for memory the process cannot read or write itself. Dump and restore both
 * use it, so they cut the same chunks.
 */
#ifndef AMBER_PAGECOPY_H
#define AMBER_PAGECOPY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"

#define PAGECOPY_CHUNK (4u << 20)

struct pagecopy_run {
	uint64_t vaddr;		/* in the process */
	uint64_t len;		/* bytes */
	uint64_t off;		/* in the pages data (after the image header) */
	bool via_mem;		/* use /proc/PID/mem: not accessible to process_vm_* */
};

enum pagecopy_dir { PAGECOPY_DUMP, PAGECOPY_RESTORE };

struct pagecopy {
	enum pagecopy_dir dir;
	pid_t pid;
	const struct pagecopy_run *runs;	/* sorted by off, contiguous in off */
	int nr_runs;
	uint64_t total;			/* bytes of page data */
	int file_fd;			/* the pages image (dump: written with pwrite) */
	uint64_t file_base;		/* offset of the data in the file */
	const uint8_t *map;		/* restore: the image mapped read-only, at file offset 0 */
	int threads;			/* 0: one per CPU, at most 8 */
	/* Called after each chunk with the bytes done so far (may be from any thread). */
	void (*progress)(uint64_t done, void *arg);
	void *progress_arg;
	/* Dump: instead of pwrite to file_fd, hand each chunk to sink, in
	 * order (one thread then); for the page server (ipc/pageserver.h). */
	int (*sink)(const void *buf, uint64_t len, void *arg, struct err *e);
	void *sink_arg;
};

/* Copies all chunks; returns 0 or <0 with e naming the pid, address and image. */
int pagecopy_run(const struct pagecopy *pc, struct err *e);

#endif
