/* restore-tasks/parent.c: the pages an incremental dump left in its
 * parents (images/pagechain.h).
 *
 * A pagemap entry with in_parent has no pages in this directory's pages
 * image: they are where the parent's pagemap of the same process says,
 * or further up. The chain is followed one directory at a time, each
 * link checked by dump id, until every such page is found in a
 * directory that holds it; then each directory's pages image is mapped
 * and its runs written into the task. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "images/image.h"
#include "images/pagechain.h"
#include "lib/cleanup.h"
#include "lib/grow.h"
#include "ipc/lazy.h"
#include "lib/log.h"
#include "lib/pagecopy.h"
#include "stages/restore-tasks/restore-tasks.h"

/* Writes the runs of one level from its pages image into the task. */
static int rt_parent_copy(int dirfd, struct rt_task *t, int level, const struct pagechain_run *runs, int nr, struct err *e)
{
	char name[64];
	struct image img;
	struct iovec l[64], r[64];
	uint8_t *map;
	uint64_t pages = 0;
	int n = 0, ret = 0;

	snprintf(name, sizeof(name), "pages-%u.img", t->pe->pid);
	if ((ret = image_open_read(&img, dirfd, "pages", name, e)) < 0)
		return err_wrap(e, "parent %d of the images directory", level);
	map = img.size ? mmap(NULL, img.size, PROT_READ, MAP_PRIVATE, img.fd, 0) : NULL;
	if (map == MAP_FAILED) {
		ret = err_errno(e, "map '%s' of parent %d", name, level);
		image_close(&img);
		return ret;
	}
	for (int i = 0; ret == 0 && i < nr; i++) {
		const struct pagechain_run *p = &runs[i];
		const VmaEntry *v;
		bool last;

		if (p->level != level)
			continue;
		if (p->off > img.hdr.body || p->len > img.hdr.body - p->off || p->off % RT_PAGE) {
			ret = err_input(e, "parent %d: pages %#llx-%#llx lie at %llu in '%s', which holds %llu bytes of pages",
					level, (unsigned long long)p->vaddr, (unsigned long long)(p->vaddr + p->len),
					(unsigned long long)p->off, name, (unsigned long long)img.hdr.body);
			break;
		}
		v = rt_vma_at(t->mm, p->vaddr);
		if (!v || p->vaddr + p->len > v->end) {
			ret = err_input(e, "parent %d: pages %#llx-%#llx of '%s' are outside every VMA of mm-%u.img", level,
					(unsigned long long)p->vaddr, (unsigned long long)(p->vaddr + p->len), name, t->pe->pid);
			break;
		}
		/* restore --lazy-pages: amber-lazy-pages serves these (ipc/lazy.h). */
		if (t->lazy && lazy_vma(v))
			continue;
		pages += p->len / RT_PAGE;
		if (!(v->prot & PROT_WRITE)) {
			/* The process may not write there itself: /proc/PID/mem, as pagecopy does. */
			struct pagecopy_run one = { p->vaddr, p->len, p->off, true };
			struct pagecopy pc = { .dir = PAGECOPY_RESTORE, .pid = t->pid, .runs = &one, .nr_runs = 1,
					       .total = p->len, .map = map + p->off, .file_base = IMAGE_PAGES_HDR_SIZE,
					       .threads = 1 };

			one.off = 0;
			ret = pagecopy_run(&pc, e);
			continue;
		}
		l[n] = (struct iovec){ map + IMAGE_PAGES_HDR_SIZE + p->off, p->len };
		r[n] = (struct iovec){ (void *)(uintptr_t)p->vaddr, p->len };
		n++;
		last = i + 1 == nr;
		if (n == 64 || (last && n)) {
			uint64_t want = 0;
			ssize_t got;

			for (int k = 0; k < n; k++)
				want += l[k].iov_len;
			got = process_vm_writev(t->pid, l, n, r, n, 0);
			if (got != (ssize_t)want)
				ret = err_errno(e, "write %llu bytes of parent %d's pages into pid %u at %p",
						(unsigned long long)want, level, t->pe->pid, r[0].iov_base);
			n = 0;
		}
	}
	if (ret == 0 && n) {
		uint64_t want = 0;

		for (int k = 0; k < n; k++)
			want += l[k].iov_len;
		if (process_vm_writev(t->pid, l, n, r, n, 0) != (ssize_t)want)
			ret = err_errno(e, "write %llu bytes of parent %d's pages into pid %u at %p", (unsigned long long)want,
					level, t->pe->pid, r[0].iov_base);
	}
	if (map)
		munmap(map, img.size);
	image_close(&img);
	if (ret == 0)
		pr_debug("pid %u: %llu pages from parent %d", t->pe->pid, (unsigned long long)pages, level);
	return ret;
}

int rt_fill_parent_pages(int dirfd, struct rt_task *t, struct err *e)
{
	struct pagechain_level lv[PAGECHAIN_MAX + 1];
	struct pagechain_ent *ents[PAGECHAIN_MAX + 1] = { NULL };
	int dirs[PAGECHAIN_MAX + 1];
	struct pagechain_run *runs = NULL;
	int nlv = 1, nr = 0, ret = 0;
	bool more = true;

	ents[0] = calloc(t->nr_pm ? t->nr_pm : 1, sizeof(*ents[0]));
	if (!ents[0])
		return err_errno(e, "plan the pages of pid %u", t->pe->pid);
	for (int i = 0; i < t->nr_pm; i++) {
		const PagemapEntry *p = t->pm[i];

		ents[0][i] = (struct pagechain_ent){ p->vaddr, (uint64_t)p->nr_pages * RT_PAGE, p->offset,
						     p->has_in_parent && p->in_parent };
	}
	lv[0] = (struct pagechain_level){ ents[0], t->nr_pm };
	dirs[0] = dirfd;
	while (ret == 0) {
		InventoryEntry *inv = NULL;
		uint64_t id;
		char what[64];
		int pfd;

		free(runs);
		runs = NULL;
		if ((ret = pagechain_resolve(lv, nlv, &runs, &nr, &more, e)) < 0 || !more)
			break;
		if (nlv > PAGECHAIN_MAX) {
			ret = err_input(e, "pid %u: the chain of parent images directories is longer than %d", t->pe->pid,
					PAGECHAIN_MAX);
			break;
		}
		snprintf(what, sizeof(what), nlv == 1 ? "the images directory" : "parent %d of the images directory", nlv - 1);
		if ((ret = pagechain_inventory(dirs[nlv - 1], &inv, &id, e)) < 0) {
			err_wrap(e, "%s", what);
			break;
		}
		ret = pagechain_open_parent(dirs[nlv - 1], what, inv, &pfd, e);
		inventory_entry__free_unpacked(inv, NULL);
		if (ret == 0 && pfd < 0)
			ret = err_input(e, "pagemap-%u.img of %s has pages in its parent, but its inventory.img names no parent",
					t->pe->pid, what);
		if (ret < 0)
			break;
		dirs[nlv] = pfd;
		ret = pagechain_read_pagemap(pfd, t->pe->pid, nlv, &ents[nlv], &lv[nlv].nr, e);
		lv[nlv].ent = ents[nlv];
		nlv++;
	}
	for (int k = 1; ret == 0 && k < nlv; k++)
		ret = rt_parent_copy(dirs[k], t, k, runs, nr, e);
	free(runs);
	for (int k = 0; k < nlv; k++) {
		free(ents[k]);
		if (k)
			close(dirs[k]);
	}
	if (ret < 0)
		err_wrap(e, "the pages pid %u left in its parent images", t->pe->pid);
	return ret;
}
