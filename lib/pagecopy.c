/* pagecopy: see pagecopy.h. */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/frame.h"
#include "lib/pagecopy.h"

struct pagecopy_shared {
	const struct pagecopy *pc;
	atomic_uint_fast64_t next;	/* next chunk index to take */
	atomic_uint_fast64_t done;	/* bytes copied */
	atomic_int failed;
	pthread_mutex_t lock;		/* guards err */
	struct err err;
	int mem_fd;			/* /proc/PID/mem, opened up front if any run needs it */
};

/* The first run whose data ends after 'off' (runs are sorted by off). */
static int pagecopy_find(const struct pagecopy *pc, uint64_t off)
{
	int lo = 0, hi = pc->nr_runs;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (pc->runs[mid].off + pc->runs[mid].len <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Copies one run segment through /proc/PID/mem. */
static int pagecopy_mem(struct pagecopy_shared *sh, uint8_t *local, uint64_t addr, uint64_t len, struct err *e)
{
	const struct pagecopy *pc = sh->pc;
	ssize_t n = pc->dir == PAGECOPY_DUMP ? pread(sh->mem_fd, local, len, addr) : pwrite(sh->mem_fd, local, len, addr);

	if (n != (ssize_t)len)
		return err_errno(e, "%s %llu bytes at %#llx in pid %d through /proc/%d/mem",
				 pc->dir == PAGECOPY_DUMP ? "read" : "write", (unsigned long long)len,
				 (unsigned long long)addr, pc->pid, pc->pid);
	return 0;
}

/* Copies the chunk [off, off+len) of the page data. 'buf' is the thread's
 * bounce buffer for a dump; a restore copies from the image mapping. */
static int pagecopy_chunk(struct pagecopy_shared *sh, uint8_t *buf, uint64_t off, uint64_t len, struct err *e)
{
	const struct pagecopy *pc = sh->pc;
	struct iovec remote[IOV_MAX];
	uint8_t *local = pc->dir == PAGECOPY_DUMP ? buf : (uint8_t *)pc->map + pc->file_base + off;
	uint64_t pos = off, end = off + len, batch_start = off;
	int nr = 0, ret;

	for (int i = pagecopy_find(pc, off); i < pc->nr_runs && pos < end; i++) {
		const struct pagecopy_run *r = &pc->runs[i];
		uint64_t s = pos > r->off ? pos : r->off;
		uint64_t t = end < r->off + r->len ? end : r->off + r->len;
		uint64_t addr = r->vaddr + (s - r->off);

		if (r->via_mem) {
			if ((ret = pagecopy_mem(sh, local + (s - off), addr, t - s, e)) < 0)
				return ret;
		} else {
			remote[nr].iov_base = (void *)(uintptr_t)addr;
			remote[nr].iov_len = t - s;
			nr++;
		}
		pos = t;
		/* Flush when the iovec array is full, at a via_mem run, or at the end. */
		if (nr && (nr == IOV_MAX || pos == end || i + 1 == pc->nr_runs || pc->runs[i + 1].via_mem)) {
			struct iovec l = { local + (batch_start - off), 0 };
			ssize_t n;

			for (int k = 0; k < nr; k++)
				l.iov_len += remote[k].iov_len;
			n = pc->dir == PAGECOPY_DUMP ? process_vm_readv(pc->pid, &l, 1, remote, nr, 0)
						     : process_vm_writev(pc->pid, &l, 1, remote, nr, 0);
			if (n != (ssize_t)l.iov_len)
				return err_errno(e, "%s %zu bytes of pid %d at %p", pc->dir == PAGECOPY_DUMP ? "read" : "write",
						 l.iov_len, pc->pid, remote[0].iov_base);
			nr = 0;
		}
		if (!nr)
			batch_start = pos;
	}
	if (pc->dir == PAGECOPY_DUMP && pc->sink)
		return pc->sink(buf, len, pc->sink_arg, e);
	for (uint64_t done = 0; pc->dir == PAGECOPY_DUMP && done < len;) {
		ssize_t n = pwrite(pc->file_fd, buf + done, len - done, pc->file_base + off + done);

		/* A short write is followed by the one that says why (a full disk
		 * says ENOSPC there, not in the errno a short write leaves). */
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = ENOSPC;
		if (n <= 0)
			return err_errno(e, "write %llu bytes of pages of pid %d to the image at %llu", (unsigned long long)len,
					 pc->pid, (unsigned long long)(pc->file_base + off));
		done += n;
	}
	return 0;
}

static void *pagecopy_worker(void *arg)
{
	struct pagecopy_shared *sh = arg;
	const struct pagecopy *pc = sh->pc;
	uint8_t *buf = NULL;
	struct err e = { 0 };

	if (pc->dir == PAGECOPY_DUMP) {
		buf = mmap(NULL, PAGECOPY_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (buf == MAP_FAILED) {
			err_errno(&e, "allocate a copy buffer");
			buf = NULL;
			goto fail;
		}
	}
	while (!atomic_load(&sh->failed)) {
		uint64_t k = atomic_fetch_add(&sh->next, 1), off = k * PAGECOPY_CHUNK, len;

		if (off >= pc->total)
			break;
		len = pc->total - off < PAGECOPY_CHUNK ? pc->total - off : PAGECOPY_CHUNK;
		if (pagecopy_chunk(sh, buf, off, len, &e) < 0)
			goto fail;
		if (pc->progress)
			pc->progress(atomic_fetch_add(&sh->done, len) + len, pc->progress_arg);
	}
	if (buf)
		munmap(buf, PAGECOPY_CHUNK);
	return NULL;
fail:
	pthread_mutex_lock(&sh->lock);
	if (!atomic_exchange(&sh->failed, 1))
		sh->err = e;
	pthread_mutex_unlock(&sh->lock);
	if (buf)
		munmap(buf, PAGECOPY_CHUNK);
	return NULL;
}

int pagecopy_run(const struct pagecopy *pc, struct err *e)
{
	struct pagecopy_shared sh = { .pc = pc, .mem_fd = -1 };
	pthread_t tids[8];
	int n = pc->threads, started = 0;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (!pc->total)
		return 0;
	if (n <= 0)
		n = cpus > 0 ? (int)cpus : 1;
	if (n > 8)
		n = 8;
	if (pc->sink)
		n = 1;	/* the sink takes the chunks in order */
	if ((uint64_t)n > (pc->total + PAGECOPY_CHUNK - 1) / PAGECOPY_CHUNK)
		n = (pc->total + PAGECOPY_CHUNK - 1) / PAGECOPY_CHUNK;
	for (int i = 0; i < pc->nr_runs; i++)
		if (pc->runs[i].via_mem) {
			char path[64];

			snprintf(path, sizeof(path), "/proc/%d/mem", pc->pid);
			sh.mem_fd = open(path, (pc->dir == PAGECOPY_DUMP ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
			if (sh.mem_fd < 0)
				return err_errno(e, "open '%s'", path);
			break;
		}
	pthread_mutex_init(&sh.lock, NULL);
	/* This thread is one of the workers; the others are extra threads. */
	for (int i = 1; i < n; i++)
		if (pthread_create(&tids[started], NULL, pagecopy_worker, &sh) == 0)
			started++;
	pagecopy_worker(&sh);
	for (int i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	pthread_mutex_destroy(&sh.lock);
	if (sh.mem_fd >= 0)
		close(sh.mem_fd);
	if (atomic_load(&sh.failed)) {
		*e = sh.err;
		return -1;
	}
	return 0;
}
