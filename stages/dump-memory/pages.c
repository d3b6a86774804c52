/* dump-memory/pages.c: copy a process's private pages into pages-PID.img.
 *
 * Pages are gathered into a buffer with one process_vm_readv per batch (its
 * remote iovecs coalesce contiguous pages) and written with one write(2), so
 * the cost per page is two copies and no per-page syscall. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "images/image.h"
#include "images/pagemap.pb-c.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "stages/dump-memory/dump-memory.h"

#define DM_PAGE		4096ULL
#define DM_BUF_PAGES	1024		/* 4 MiB: large batches, still cache friendly */
#define DM_PM_CHUNK	4096		/* pagemap entries read at once */

struct dm_copy {
	pid_t pid;
	int pages_fd, mem_fd;
	uint8_t *buf;
	struct iovec remote[IOV_MAX];
	int nr_iov;
	int nr_pages;			/* pages queued in buf */
	bool via_mem;			/* queued pages are in unreadable VMAs */
	uint64_t data_off;		/* bytes of page data written or queued */
	struct dm_totals *tot;
	const char *img_name;
	uint64_t pme[DM_PM_CHUNK];	/* pagemap entries being examined */
};

/* Reads the queued pages from the process and appends them to the pages image. */
static int dm_flush(struct dm_copy *c, struct err *e)
{
	size_t want = (size_t)c->nr_pages * DM_PAGE;
	int ret;

	if (!c->nr_pages)
		return 0;
	if (!c->via_mem) {
		struct iovec local = { c->buf, want };
		ssize_t got = process_vm_readv(c->pid, &local, 1, c->remote, c->nr_iov, 0);

		if (got != (ssize_t)want)
			return got < 0 ? err_errno(e, "read %zu bytes of memory of pid %d at %p", want, c->pid, c->remote[0].iov_base)
				       : err_set(e, 4, "short read of memory of pid %d: %zd of %zu bytes", c->pid, got, want);
	} else {
		size_t off = 0;

		if (c->mem_fd < 0) {
			char path[64];

			snprintf(path, sizeof(path), "/proc/%d/mem", c->pid);
			c->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
			if (c->mem_fd < 0)
				return err_errno(e, "open '%s'", path);
		}
		for (int i = 0; i < c->nr_iov; i++) {
			ssize_t got = pread(c->mem_fd, c->buf + off, c->remote[i].iov_len, (off_t)(uintptr_t)c->remote[i].iov_base);

			if (got != (ssize_t)c->remote[i].iov_len)
				return err_errno(e, "read protected memory of pid %d at %p", c->pid, c->remote[i].iov_base);
			off += got;
		}
	}
	if ((ret = write_all(c->pages_fd, c->buf, want)) < 0)
		return err_errnum(e, ret, "write %zu bytes to '%s'", want, c->img_name);
	c->tot->pages += c->nr_pages;
	if (c->tot->pages >= c->tot->next_report) {
		log_progress("%llu MiB of memory written", (unsigned long long)(c->tot->pages * DM_PAGE >> 20));
		c->tot->next_report = c->tot->pages + (64ULL << 20) / DM_PAGE;
	}
	c->nr_pages = 0;
	c->nr_iov = 0;
	return 0;
}

/* Queues one page; flushes when the buffer or the iovec array is full. */
static int dm_queue(struct dm_copy *c, uint64_t addr, bool via_mem, struct err *e)
{
	struct iovec *last = c->nr_iov ? &c->remote[c->nr_iov - 1] : NULL;
	int ret;

	if (c->nr_pages && (c->via_mem != via_mem || c->nr_pages == DM_BUF_PAGES ||
			    (c->nr_iov == IOV_MAX && (uint64_t)(uintptr_t)last->iov_base + last->iov_len != addr)))
		if ((ret = dm_flush(c, e)) < 0)
			return ret;
	c->via_mem = via_mem;
	last = c->nr_iov ? &c->remote[c->nr_iov - 1] : NULL;
	if (last && (uint64_t)(uintptr_t)last->iov_base + last->iov_len == addr) {
		last->iov_len += DM_PAGE;
	} else {
		c->remote[c->nr_iov].iov_base = (void *)(uintptr_t)addr;
		c->remote[c->nr_iov].iov_len = DM_PAGE;
		c->nr_iov++;
	}
	c->nr_pages++;
	c->data_off += DM_PAGE;
	return 0;
}

static bool dm_kind_has_pages(VmaKind k)
{
	return k == VMA_KIND__VMA_ANON_PRIVATE || k == VMA_KIND__VMA_ANON_SHARED || k == VMA_KIND__VMA_FILE_PRIVATE;
}

/* Walks one VMA's pagemap, queues its data pages and records the runs. */
static int dm_vma_pages(struct dm_copy *c, int pm_fd, struct image *pm, const struct proc_vma *v, VmaKind kind, struct err *e)
{
	uint64_t *pme = c->pme;
	PagemapEntry run = PAGEMAP_ENTRY__INIT;
	bool via_mem = !(v->prot & PROT_READ);
	int ret;

	run.nr_pages = 0;
	for (uint64_t addr = v->start; addr < v->end;) {
		size_t n = (v->end - addr) / DM_PAGE;
		ssize_t got;

		if (n > DM_PM_CHUNK)
			n = DM_PM_CHUNK;
		got = pread(pm_fd, pme, n * sizeof(pme[0]), (addr / DM_PAGE) * sizeof(pme[0]));
		if (got != (ssize_t)(n * sizeof(pme[0])))
			return err_errno(e, "read the pagemap of pid %d at %#llx", c->pid, (unsigned long long)addr);
		for (size_t i = 0; i < n; i++, addr += DM_PAGE) {
			bool data = kind == VMA_KIND__VMA_ANON_SHARED ? (pme[i] & (PME_PRESENT | PME_SWAP)) != 0
								     : proc_pme_private_data(pme[i]);
			if (!data)
				continue;
			if (run.nr_pages && run.vaddr + run.nr_pages * DM_PAGE != addr) {
				if ((ret = image_write(pm, &run.base, e)) < 0)
					return ret;
				run.nr_pages = 0;
			}
			if (!run.nr_pages) {
				run.vaddr = addr;
				run.offset = c->data_off;
			}
			run.nr_pages++;
			if ((ret = dm_queue(c, addr, via_mem, e)) < 0)
				return ret;
		}
	}
	if (run.nr_pages)
		return image_write(pm, &run.base, e);
	return 0;
}

int dm_write_pages(int dirfd, pid_t pid, const struct proc_vma *vmas, int nr, const VmaKind *kinds,
		   struct dm_totals *tot, struct err *e)
{
	_cleanup_free_ struct dm_copy *c = calloc(1, sizeof(*c));
	PagemapHead head = PAGEMAP_HEAD__INIT;
	struct image pm, pages;
	char pm_name[64], pages_name[64], path[64];
	_cleanup_close_ int pm_fd = -1;
	int ret;

	if (!c)
		return err_errno(e, "allocate the page copier");
	c->pid = pid;
	c->mem_fd = -1;
	c->tot = tot;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	pm_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (pm_fd < 0)
		return err_errno(e, "open '%s'", path);
	snprintf(pm_name, sizeof(pm_name), "pagemap-%d.img", pid);
	snprintf(pages_name, sizeof(pages_name), "pages-%d.img", pid);
	c->img_name = pages_name;
	c->buf = mmap(NULL, DM_BUF_PAGES * DM_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->buf == MAP_FAILED)
		return err_errno(e, "allocate the copy buffer");
	if ((ret = image_open_write(&pm, dirfd, "pagemap", pm_name, e)) < 0)
		goto out_buf;
	if ((ret = image_open_write(&pages, dirfd, "pages", pages_name, e)) < 0)
		goto out_pm;
	c->pages_fd = pages.fd;
	head.pages_id = pid;
	ret = image_write(&pm, &head.base, e);
	for (int i = 0; ret == 0 && i < nr; i++) {
		if (!dm_kind_has_pages(kinds[i]))
			continue;
		/* smaps says a VMA with no resident or swapped page has nothing to copy,
		 * which spares reading the pagemap of huge reserved regions. */
		if (vmas[i].has_smaps && !vmas[i].rss_kb && !vmas[i].swap_kb)
			continue;
		ret = dm_vma_pages(c, pm_fd, &pm, &vmas[i], kinds[i], e);
	}
	if (ret == 0)
		ret = dm_flush(c, e);
	image_close(&pages);
out_pm:
	image_close(&pm);
out_buf:
	if (c->mem_fd >= 0)
		close(c->mem_fd);
	munmap(c->buf, DM_BUF_PAGES * DM_PAGE);
	if (ret == 0)
		pr_info("pid %d: %llu pages", pid, (unsigned long long)(c->data_off / DM_PAGE));
	return ret;
}
