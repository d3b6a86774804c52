/* restore-tasks/images.c: the images one task needs, loaded and checked. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "images/image.h"
#include "lib/grow.h"
#include "lib/pagecopy.h"
#include "stages/restore-tasks/restore-tasks.h"

/* Which VMA holds addr (the image's list is sorted by address). */
const VmaEntry *rt_vma_at(const MmEntry *mm, uint64_t addr)
{
	size_t lo = 0, hi = mm->n_vmas;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (addr < mm->vmas[mid]->start)
			hi = mid;
		else if (addr >= mm->vmas[mid]->end)
			lo = mid + 1;
		else
			return mm->vmas[mid];
	}
	return NULL;
}

int rt_pages_plan(const struct rt_task *t, const struct image *img, struct pagecopy_run **out, int *nr_runs,
		  uint64_t *total, struct err *e)
{
	struct pagecopy_run *runs;
	const char *name = img->name;
	uint64_t have = img->hdr.body;
	int n = 0;

	if (!t->nr_pm) {
		if (have)
			return err_input(e, "'%s' holds %llu bytes of pages, but pagemap-%u.img lists none: "
					 "the pagemap is cut short", name, (unsigned long long)have, t->pe->pid);
		return 0;
	}
	runs = calloc(t->nr_pm, sizeof(*runs));
	if (!runs)
		return err_errno(e, "plan the pages of pid %u", t->pe->pid);
	for (int i = 0; i < t->nr_pm; i++) {
		const PagemapEntry *p = t->pm[i];
		uint64_t len = (uint64_t)p->nr_pages * RT_PAGE;
		const VmaEntry *v = rt_vma_at(t->mm, p->vaddr);
		bool par = p->has_in_parent && p->in_parent;

		if (!par && (p->offset != *total || p->offset > have || len > have - p->offset)) {
			free(runs);
			return err_input(e, "pagemap-%u.img entry %d (offset %llu, %llu bytes) does not follow the previous one inside '%s' (%llu bytes of pages)",
					 t->pe->pid, i, (unsigned long long)p->offset, (unsigned long long)len, name,
					 (unsigned long long)have);
		}
		if (!v || p->vaddr + len > v->end || p->vaddr + len < p->vaddr) {
			free(runs);
			return err_input(e, "pagemap-%u.img entry %d (%#llx, %u pages) is outside every VMA of mm-%u.img",
					 t->pe->pid, i, (unsigned long long)p->vaddr, p->nr_pages, t->pe->pid);
		}
		/* The pages of a shared file mapping live in the file: writing
		 * them would write the images' bytes into it. Only shared
		 * anonymous memory (the stage's own object) takes pages. */
		if (v->flags & MAP_SHARED && v->kind != VMA_KIND__VMA_ANON_SHARED) {
			free(runs);
			return err_input(e, "pagemap-%u.img entry %d (%#llx, %u pages) covers the shared mapping of '%s' at %#llx, "
					 "whose pages live in the file: the images never hold them",
					 t->pe->pid, i, (unsigned long long)p->vaddr, p->nr_pages, v->path ? v->path : "?",
					 (unsigned long long)v->start);
		}
		/* Pages left in the parent are written by parent.c. */
		if (par)
			continue;
		runs[n++] = (struct pagecopy_run){ p->vaddr, len, p->offset, !(v->prot & PROT_WRITE) };
		*total += len;
	}
	if (*total != have) {
		free(runs);
		return err_input(e, "pagemap-%u.img lists %llu bytes of pages, '%s' holds %llu: the two do not belong together "
				 "or one is cut short; dump again", t->pe->pid, (unsigned long long)*total, name,
				 (unsigned long long)have);
	}
	*out = runs;
	*nr_runs = n;
	return 0;
}

#define RT_USER_TOP	0x7ffffffff000ULL	/* x86-64 4-level TASK_SIZE: where rt_unmap_amber stops */

/* Is this madvise advice one the dump records (doc/image-format.md)? Other
 * advice (MADV_DONTNEED, MADV_REMOVE, ...) would change memory, not keep it. */
static bool rt_madvise_known(uint32_t a)
{
	return a == MADV_DONTDUMP || a == MADV_DONTFORK || a == MADV_HUGEPAGE || a == MADV_NOHUGEPAGE ||
	       a == MADV_WIPEONFORK;
}

/* Checks the VMAs of mm-PID.img before anything is mapped from them, so
 * that what the kernel would refuse halfway through the transplant is bad
 * input named here: page-aligned, ascending, apart and inside the user
 * address space; a known kind, protection and advice; MAP_SHARED or
 * MAP_PRIVATE as the kind says. */
static int rt_check_mm(const struct rt_task *t, struct err *e)
{
	const MmEntry *mm = t->mm;
	uint64_t prev_end = 0;
	unsigned int pid = t->pe->pid;

	if (!mm->n_vmas)
		return err_input(e, "mm-%u.img has no VMA; the dump was cut short", pid);
	for (size_t i = 0; i < mm->n_vmas; i++) {
		const VmaEntry *v = mm->vmas[i];
		/* 0x08: MAP_DROPPABLE, a private anonymous mapping's type in place
		 * of MAP_PRIVATE (dump-memory/mm.c). */
		bool droppable = (v->flags & 0x08) && v->kind == VMA_KIND__VMA_ANON_PRIVATE;
		uint32_t share = droppable ? MAP_PRIVATE : v->flags & (MAP_SHARED | MAP_PRIVATE);
		bool shared_kind = v->kind == VMA_KIND__VMA_ANON_SHARED || v->kind == VMA_KIND__VMA_FILE_SHARED ||
				   v->kind == VMA_KIND__VMA_MEMFD_SHARED;
		bool special = v->kind == VMA_KIND__VMA_VDSO || v->kind == VMA_KIND__VMA_VVAR ||
			       v->kind == VMA_KIND__VMA_VVAR_VCLOCK;

		if (v->kind < VMA_KIND__VMA_ANON_PRIVATE || v->kind > VMA_KIND__VMA_MEMFD_PRIVATE)
			return err_input(e, "mm-%u.img: VMA %zu at %#llx has unknown kind %d", pid, i,
					 (unsigned long long)v->start, v->kind);
		/* The vsyscall page is the kernel's, above user space. */
		if (v->kind == VMA_KIND__VMA_VSYSCALL)
			continue;
		if (v->start % RT_PAGE || v->end % RT_PAGE || v->start >= v->end || v->end > RT_USER_TOP)
			return err_input(e, "mm-%u.img: VMA %zu %#llx-%#llx is not a page-aligned range of the user address space (below %#llx)",
					 pid, i, (unsigned long long)v->start, (unsigned long long)v->end, RT_USER_TOP);
		if (v->start < prev_end)
			return err_input(e, "mm-%u.img: VMA %zu at %#llx overlaps or comes before the one before it (which ends at %#llx)",
					 pid, i, (unsigned long long)v->start, (unsigned long long)prev_end);
		prev_end = v->end;
		if (v->prot & ~(uint32_t)(PROT_READ | PROT_WRITE | PROT_EXEC))
			return err_input(e, "mm-%u.img: VMA %zu at %#llx has protection %#x", pid, i,
					 (unsigned long long)v->start, v->prot);
		if (v->flags & ~(uint32_t)(MAP_SHARED | MAP_PRIVATE | MAP_GROWSDOWN | (droppable ? 0x08 : 0)) ||
		    (droppable && (v->flags & (MAP_SHARED | MAP_PRIVATE))) ||
		    (share != MAP_SHARED && share != MAP_PRIVATE) || (!special && (share == MAP_SHARED) != shared_kind))
			return err_input(e, "mm-%u.img: VMA %zu at %#llx has mmap flags %#x, which its kind %d does not have",
					 pid, i, (unsigned long long)v->start, v->flags, v->kind);
		if (v->pgoff % RT_PAGE)
			return err_input(e, "mm-%u.img: VMA %zu at %#llx maps from offset %#llx, not on a page", pid, i,
					 (unsigned long long)v->start, (unsigned long long)v->pgoff);
		for (size_t k = 0; k < v->n_madvise; k++)
			if (!rt_madvise_known(v->madvise[k]))
				return err_input(e, "mm-%u.img: VMA %zu at %#llx has madvise advice %u, which a dump does not record",
						 pid, i, (unsigned long long)v->start, v->madvise[k]);
	}
	return 0;
}

/* Checks pages-PID.img against t's pagemap and mm: its header, and the
 * runs inside it, before any task exists (transplant.c opens it again to
 * copy the pages). */
static int rt_check_pages(int dirfd, const struct rt_task *t, struct err *e)
{
	char name[64];
	struct image img;
	struct pagecopy_run *runs = NULL;
	uint64_t total = 0;
	int ret, nr = 0;

	snprintf(name, sizeof(name), "pages-%u.img", t->pe->pid);
	if ((ret = image_open_read(&img, dirfd, "pages", name, e)) < 0)
		return ret;
	ret = rt_pages_plan(t, &img, &runs, &nr, &total, e);
	free(runs);
	image_close(&img);
	return ret;
}

int rt_load(int dirfd, struct rt_task *t, struct err *e)
{
	char name[64];
	struct image img;
	int ret;

	snprintf(name, sizeof(name), "core-%u.img", t->pe->pid);
	if ((ret = image_read_one(dirfd, "core", name, (ProtobufCMessage **)&t->core, e)) < 0)
		return ret;
	if (t->core->regs == NULL)
		return err_input(e, "'%s' has no registers", name);
	/* The leader's core is threads[0]'s; the others come from their own images. */
	t->threads = calloc(t->pe->n_threads, sizeof(*t->threads));
	if (!t->threads)
		return err_errno(e, "allocate %zu threads of pid %u", (size_t)t->pe->n_threads, t->pe->pid);
	t->nr_threads = t->pe->n_threads;
	t->threads[0].tid = t->pe->pid;
	t->threads[0].core = t->core;
	for (int i = 1; i < t->nr_threads; i++) {
		t->threads[i].tid = t->pe->threads[i];
		snprintf(name, sizeof(name), "core-%u.img", t->pe->threads[i]);
		if ((ret = image_read_one(dirfd, "core", name, (ProtobufCMessage **)&t->threads[i].core, e)) < 0)
			return ret;
		if (!t->threads[i].core->regs)
			return err_input(e, "'%s' has no registers", name);
	}
	snprintf(name, sizeof(name), "mm-%u.img", t->pe->pid);
	if ((ret = image_read_one(dirfd, "mm", name, (ProtobufCMessage **)&t->mm, e)) < 0 ||
	    (ret = rt_check_mm(t, e)) < 0)
		return ret;
	snprintf(name, sizeof(name), "fs-%u.img", t->pe->pid);
	if ((ret = image_read_one(dirfd, "fs", name, (ProtobufCMessage **)&t->fs, e)) < 0)
		return ret;

	snprintf(name, sizeof(name), "pagemap-%u.img", t->pe->pid);
	if ((ret = image_open_read(&img, dirfd, "pagemap", name, e)) < 0)
		return ret;
	for (;;) {
		ProtobufCMessage *m;

		ret = image_read(&img, &m, e);
		if (ret <= 0)
			break;
		if (img.rd.nr == 1) {	/* the head */
			uint32_t id = ((PagemapHead *)m)->pages_id;

			protobuf_c_message_free_unpacked(m, NULL);
			/* One pages image per process (doc/image-format.md). */
			if (id != t->pe->pid) {
				ret = err_input(e, "'%s' names pages-%u.img, not pages-%u.img", name, id, t->pe->pid);
				break;
			}
			continue;
		}
		if (grow_one(&t->pm, t->nr_pm) < 0) {
			protobuf_c_message_free_unpacked(m, NULL);
			ret = err_errno(e, "read '%s'", name);
			break;
		}
		t->pm[t->nr_pm++] = (PagemapEntry *)m;
	}
	if (ret == 0 && img.rd.nr == 0)
		ret = err_input(e, "'%s' has no PagemapHead record; the dump was cut short", name);
	image_close(&img);
	if (ret == 0)
		ret = rt_check_pages(dirfd, t, e);
	return ret;
}

void rt_unload(struct rt_task *t)
{
	free(t->apart);
	t->apart = NULL;
	for (int i = 1; i < t->nr_threads; i++)
		if (t->threads[i].core)
			core_entry__free_unpacked(t->threads[i].core, NULL);
	free(t->threads);
	t->threads = NULL;
	t->nr_threads = 0;
	if (t->core)
		core_entry__free_unpacked(t->core, NULL);
	if (t->mm)
		mm_entry__free_unpacked(t->mm, NULL);
	if (t->fs)
		fs_entry__free_unpacked(t->fs, NULL);
	for (int i = 0; i < t->nr_pm; i++)
		pagemap_entry__free_unpacked(t->pm[i], NULL);
	free(t->pm);
	for (int k = 0; t->fds && k < t->nr_fds; k++)
		free(t->fds[k].proc_path);
	free(t->fds);
	t->core = NULL;
	t->mm = NULL;
	t->fs = NULL;
	t->pm = NULL;
	t->fds = NULL;
}
