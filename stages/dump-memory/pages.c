/* dump-memory/pages.c: copy a process's private pages into pages-PID.img.
 *
 * Two passes: the pagemap walk decides which pages hold data only the
 * process has and records them as runs (pagemap-PID.img); then the runs are
 * copied into pages-PID.img in parallel chunks (lib/pagecopy.h), one
 * process_vm_readv and one pwrite per 4 MiB chunk and thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "images/image.h"
#include "images/pagemap.pb-c.h"
#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/pagecopy.h"
#include "lib/track.h"
#include "stages/dump-memory/dump-memory.h"

#define DM_PAGE		4096ULL
#define DM_PM_CHUNK	4096		/* pagemap entries read at once */

struct dm_runs {
	struct pagecopy_run *runs;
	int nr;
	size_t cap;
	uint64_t total;			/* bytes of page data */
	struct pagecopy_run *par;	/* runs left in the parent (only vaddr, len) */
	int nr_par;
	size_t cap_par;
	uint64_t *written;		/* this VMA's written runs (start, end pairs), from PAGEMAP_SCAN */
	int nr_written, wi;
	bool tracked;			/* this VMA's unwritten pages may be left in the parent */
	uint64_t pme[DM_PM_CHUNK];	/* pagemap entries being examined */
};

/* Which VMAs have pages in the images: private memory, and shared
 * anonymous memory (which lives nowhere else). Never a shared file or
 * memfd mapping: its pages live in the file (restore refuses them). */
static bool dm_kind_has_pages(VmaKind k)
{
	return k == VMA_KIND__VMA_ANON_PRIVATE || k == VMA_KIND__VMA_ANON_SHARED || k == VMA_KIND__VMA_FILE_PRIVATE ||
	       k == VMA_KIND__VMA_MEMFD_PRIVATE;
}

/* Adds one page left in the parent, extending the last such run. */
static int dm_add_parent_page(struct dm_runs *r, uint64_t addr, bool new_vma, struct err *e)
{
	struct pagecopy_run *last = r->nr_par ? &r->par[r->nr_par - 1] : NULL;

	if (last && !new_vma && last->vaddr + last->len == addr) {
		last->len += DM_PAGE;
		return 0;
	}
	if (grow_cap(&r->par, &r->cap_par, (size_t)r->nr_par + 1) < 0)
		return err_errno(e, "remember page runs");
	r->par[r->nr_par++] = (struct pagecopy_run){ addr, DM_PAGE, 0, false };
	return 0;
}

/* Whether the page at addr was written since the parent's copy (the
 * written runs are in address order, and so are the calls). */
static bool dm_written(struct dm_runs *r, uint64_t addr)
{
	while (r->wi < r->nr_written && r->written[2 * r->wi + 1] <= addr)
		r->wi++;
	return r->wi < r->nr_written && r->written[2 * r->wi] <= addr;
}

/* Whether the parent's pagemap covers addr (pp: its entries in address order). */
static bool dm_parent_has(const struct dm_parent *pp, uint64_t addr)
{
	size_t lo = 0, hi = pp ? pp->nr : 0;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (addr < pp->start[mid])
			hi = mid;
		else if (addr >= pp->end[mid])
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* Adds one data page, extending the last run when it is contiguous. */
static int dm_add_page(struct dm_runs *r, uint64_t addr, bool via_mem, bool new_vma, struct err *e)
{
	struct pagecopy_run *last = r->nr ? &r->runs[r->nr - 1] : NULL;

	if (last && !new_vma && last->vaddr + last->len == addr) {
		last->len += DM_PAGE;
	} else {
		if (grow_cap(&r->runs, &r->cap, (size_t)r->nr + 1) < 0)
			return err_errno(e, "remember page runs");
		r->runs[r->nr++] = (struct pagecopy_run){ addr, DM_PAGE, r->total, via_mem };
	}
	r->total += DM_PAGE;
	return 0;
}

/* Walks one VMA's pagemap and records its data pages: copied, or left in
 * the parent when tracking says they were not written since its copy and
 * the parent has them. */
static int dm_vma_pages(struct dm_runs *r, pid_t pid, int pm_fd, const struct proc_vma *v, VmaKind kind,
			const struct dm_parent *pp, struct err *e)
{
	bool via_mem = !(v->prot & PROT_READ), first = true, first_par = true;
	int ret;

	r->wi = 0;

	for (uint64_t addr = v->start; addr < v->end;) {
		size_t n = (v->end - addr) / DM_PAGE;
		ssize_t got;

		if (n > DM_PM_CHUNK)
			n = DM_PM_CHUNK;
		got = pread(pm_fd, r->pme, n * sizeof(r->pme[0]), (addr / DM_PAGE) * sizeof(r->pme[0]));
		if (got != (ssize_t)(n * sizeof(r->pme[0])))
			return err_errno(e, "read the pagemap of pid %d at %#llx", pid, (unsigned long long)addr);
		for (size_t i = 0; i < n; i++, addr += DM_PAGE) {
			bool data = kind == VMA_KIND__VMA_ANON_SHARED ? (r->pme[i] & (PME_PRESENT | PME_SWAP)) != 0
								     : proc_pme_private_data(r->pme[i]);
			if (!data)
				continue;
			if (r->tracked && !dm_written(r, addr) && dm_parent_has(pp, addr)) {
				if ((ret = dm_add_parent_page(r, addr, first_par, e)) < 0)
					return ret;
				first_par = false;
				continue;
			}
			/* Runs never cross VMAs: restore picks the copy method per VMA. */
			if ((ret = dm_add_page(r, addr, via_mem, first, e)) < 0)
				return ret;
			first = false;
		}
	}
	return 0;
}

/* Shared anonymous memory holds what every sharer wrote, also pages this
 * process never touched (and so has no pagemap entry for): its data is
 * found in the shmem object itself with SEEK_DATA/SEEK_HOLE, through
 * map_files, and recorded as runs of this process's addresses. */
static int dm_shmem_pages(struct dm_runs *r, pid_t pid, const struct proc_vma *v, struct err *e)
{
	char path[96];
	_cleanup_close_ int fd = -1;
	uint64_t off = v->pgoff, end = v->pgoff + (v->end - v->start), pos = off;
	bool via_mem = !(v->prot & PROT_READ), first = true;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", pid, (unsigned long long)v->start,
		 (unsigned long long)v->end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, "open the shared memory of pid %d at %#llx ('%s')", pid, (unsigned long long)v->start, path);
	while (pos < end) {
		off_t d = lseek(fd, pos, SEEK_DATA), h;

		if (d < 0 && errno == ENXIO)
			break;
		if (d < 0)
			return err_errno(e, "find the data of '%s'", path);
		if ((uint64_t)d >= end)
			break;
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			return err_errno(e, "find the holes of '%s'", path);
		if ((uint64_t)h > end)
			h = end;
		for (uint64_t p = d & ~(DM_PAGE - 1); p < (uint64_t)h; p += DM_PAGE) {
			if ((ret = dm_add_page(r, v->start + (p - off), via_mem, first, e)) < 0)
				return ret;
			first = false;
		}
		pos = h;
	}
	return 0;
}

/* Has an earlier process's dump saved this shared object already? Marks it if not. */
static int dm_shmem_seen(struct dm_totals *tot, uint64_t ino, bool *seen, struct err *e)
{
	for (int i = 0; i < tot->nr_shmem; i++)
		if (tot->shmem[i] == ino) {
			*seen = true;
			return 0;
		}
	if (grow_one(&tot->shmem, tot->nr_shmem) < 0)
		return err_errno(e, "remember shared memory object %llu", (unsigned long long)ino);
	tot->shmem[tot->nr_shmem++] = ino;
	*seen = false;
	return 0;
}

static void dm_progress(uint64_t done, void *arg)
{
	struct dm_totals *tot = arg;

	if (done >= tot->next_report) {
		log_progress("%llu MiB of memory written", (unsigned long long)((tot->pages * DM_PAGE + done) >> 20));
		tot->next_report = done + (64ULL << 20);
	}
}

/* Writes pagemap-PID.img: the head, then one entry per run. */
static int dm_write_pagemap(int dirfd, pid_t id, const struct dm_runs *r, struct err *e)
{
	PagemapHead head = PAGEMAP_HEAD__INIT;
	struct image pm;
	char name[64];
	int ret;

	snprintf(name, sizeof(name), "pagemap-%d.img", id);
	if ((ret = image_open_write(&pm, dirfd, "pagemap", name, e)) < 0)
		return ret;
	head.pages_id = id;
	ret = image_write(&pm, &head.base, e);
	/* The copied runs and those left in the parent, in address order. */
	for (int i = 0, k = 0; ret == 0 && (i < r->nr || k < r->nr_par);) {
		PagemapEntry pe = PAGEMAP_ENTRY__INIT;
		bool par = k < r->nr_par && (i == r->nr || r->par[k].vaddr < r->runs[i].vaddr);
		const struct pagecopy_run *run = par ? &r->par[k++] : &r->runs[i++];

		pe.vaddr = run->vaddr;
		pe.nr_pages = run->len / DM_PAGE;
		pe.offset = par ? 0 : run->off;
		if (par)
			pe.has_in_parent = pe.in_parent = true;
		ret = image_write(&pm, &pe.base, e);
	}
	if (ret < 0)
		image_close(&pm);
	else
		ret = image_close_write(&pm, e);
	return ret;
}

/* Decides whether v's unwritten pages may stay in the parent: the
 * tracking generation was the parent's; the VMA is under asynchronous
 * write-protect already (a VMA that is not, new or moved since, is never
 * trusted, whatever bits its pages carry: copied in full); it is the
 * process's userfaultfd from the holder that has it (registering again is
 * a no-op then; one another userfaultfd has is refused with EBUSY); and
 * PAGEMAP_SCAN lists what was written since, protecting it again. */
static int dm_vma_track(struct dm_runs *r, pid_t pid, int pm_fd, const struct proc_vma *v, const struct dm_parent *pp,
			struct err *e)
{
	int ret;

	free(r->written);
	r->written = NULL;
	r->nr_written = 0;
	r->tracked = false;
	if (!pp || pp->uffd < 0 || !pp->matched)
		return 0;
	ret = track_scan(pm_fd, v->start, v->end, false, &r->written, &r->nr_written, e);
	free(r->written);
	r->written = NULL;
	r->nr_written = 0;
	if (ret == -EPERM)
		return 0;
	if (ret < 0)
		return ret;
	if ((ret = track_uffd_register(pp->uffd, v->start, v->end)) < 0) {
		pr_debug("pid %d: VMA %#llx-%#llx is tracked by another userfaultfd (%s): copied in full", pid,
			 (unsigned long long)v->start, (unsigned long long)v->end, strerror(-ret));
		return 0;
	}
	ret = track_scan(pm_fd, v->start, v->end, true, &r->written, &r->nr_written, e);
	if (ret == -EPERM)
		return 0;
	if (ret < 0)
		return ret;
	r->tracked = true;
	return 0;
}

static int dm_sink(const void *buf, uint64_t len, void *arg, struct err *e)
{
	return ps_client_data(arg, buf, len, e);
}

/* --page-server: the pages file goes to the page server, in order. */
static int dm_send_pages(pid_t pid, const char *name, const struct dm_runs *r, struct dm_totals *tot, struct err *e)
{
	struct pagecopy pc = {
		.dir = PAGECOPY_DUMP, .pid = pid, .runs = r->runs, .nr_runs = r->nr, .total = r->total,
		.file_fd = -1, .progress = dm_progress, .progress_arg = tot, .sink = dm_sink, .sink_arg = tot->ps,
	};
	int ret = ps_client_file(tot->ps, name, r->total / DM_PAGE, e);

	if (ret == 0)
		ret = pagecopy_run(&pc, e);
	if (ret < 0)
		return err_wrap(e, "'%s' to the %s", name, tot->ps->addr);
	if (grow_one(&tot->remote, tot->nr_remote) < 0 || !(tot->remote[tot->nr_remote] = strdup(name)))
		return err_errno(e, "remember '%s'", name);
	tot->nr_remote++;
	return 0;
}

int dm_write_pages(int dirfd, pid_t pid, pid_t id, const struct proc_vma *vmas, int nr, const VmaKind *kinds,
		   const struct dm_parent *pp, struct dm_totals *tot, struct err *e)
{
	_cleanup_free_ struct dm_runs *r = calloc(1, sizeof(*r));
	struct image pages;
	char name[64], path[64];
	_cleanup_close_ int pm_fd = -1;
	int ret = 0;

	if (!r)
		return err_errno(e, "allocate the page walker");
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	pm_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (pm_fd < 0)
		return err_errno(e, "open '%s'", path);
	for (int i = 0; ret == 0 && i < nr; i++) {
		if (!dm_kind_has_pages(kinds[i]) || (vmas[i].shared && kinds[i] != VMA_KIND__VMA_ANON_SHARED))
			continue;
		if (kinds[i] == VMA_KIND__VMA_ANON_SHARED && vmas[i].ino) {
			bool seen = false;

			/* One copy of a shared object for the whole tree. */
			if ((ret = dm_shmem_seen(tot, vmas[i].ino, &seen, e)) == 0 && !seen)
				ret = dm_shmem_pages(r, pid, &vmas[i], e);
			continue;
		}
		/* smaps says a VMA with no resident or swapped page has nothing to copy,
		 * which spares reading the pagemap of huge reserved regions. */
		if (vmas[i].has_smaps && !vmas[i].rss_kb && !vmas[i].swap_kb)
			continue;
		if ((ret = dm_vma_track(r, pid, pm_fd, &vmas[i], pp, e)) == 0)
			ret = dm_vma_pages(r, pid, pm_fd, &vmas[i], kinds[i], pp, e);
	}
	if (ret == 0)
		ret = dm_write_pagemap(dirfd, id, r, e);
	snprintf(name, sizeof(name), "pages-%d.img", id);
	if (ret == 0 && tot->ps)
		ret = dm_send_pages(pid, name, r, tot, e);
	else if (ret == 0 && (ret = image_open_write(&pages, dirfd, "pages", name, e)) == 0) {
		struct pagecopy pc = {
			.dir = PAGECOPY_DUMP, .pid = pid, .runs = r->runs, .nr_runs = r->nr, .total = r->total,
			.file_fd = pages.fd, .file_base = IMAGE_PAGES_HDR_SIZE,
			.progress = dm_progress, .progress_arg = tot,
		};

		/* Sizing the file first lets the threads write their chunks anywhere in it. */
		if (ftruncate(pages.fd, IMAGE_PAGES_HDR_SIZE + r->total) < 0)
			ret = err_errno(e, "size '%s' to %llu bytes", name, (unsigned long long)r->total);
		else
			ret = pagecopy_run(&pc, e);
		if (ret < 0)
			err_wrap(e, "'%s'", name);
		/* Finished (count and length in its header) only when all is in. */
		if (ret < 0)
			image_close(&pages);
		else
			ret = image_close_write(&pages, e);
	}
	if (ret == 0) {
		uint64_t par = 0;

		for (int i = 0; i < r->nr_par; i++)
			par += r->par[i].len / DM_PAGE;
		tot->pages += r->total / DM_PAGE;
		tot->parent_pages += par;
		pr_info("pid %d: %llu pages in %d runs", pid, (unsigned long long)(r->total / DM_PAGE), r->nr);
		if (pp)
			pr_info("pid %d: %llu pages left in the parent (%s)", pid, (unsigned long long)par,
				pp->uffd < 0 ? "not tracked: copied in full" : pp->matched ? "tracked" :
				"tracking of another generation: copied in full");
	}
	free(r->runs);
	free(r->par);
	free(r->written);
	return ret;
}
