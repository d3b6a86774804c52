/* restore-tasks/shmem.c: shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS)
 * that processes of the tree shared, for example across fork.
 *
 * This stage makes each object once, as a shared anonymous mapping of its
 * own, big enough for every VMA that maps it; each task then opens it
 * through /proc/<stage>/map_files/ and maps it at its old address and
 * offset. So the tasks share one object again, and it still shows as
 * "/dev/zero (deleted)" in their maps. The dumped contents are written into
 * it through the task that carried them, like any other page. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "lib/grow.h"
#include "lib/log.h"
#include "stages/restore-tasks/restore-tasks.h"

const struct rt_shmem *rt_shmem_of(const struct rt_shmems *s, const VmaEntry *v)
{
	if (!s || v->kind != VMA_KIND__VMA_ANON_SHARED || !v->has_shmem_ino)
		return NULL;
	for (int i = 0; i < s->nr; i++)
		if (s->v[i].ino == v->shmem_ino)
			return &s->v[i];
	return NULL;
}

int rt_shmem_make(struct rt_plan *p, struct err *e)
{
	struct rt_shmems *s = &p->shmems;

	for (int i = 0; i < p->nr; i++) {
		const MmEntry *mm = p->tasks[i].mm;

		p->tasks[i].shmems = s;
		for (size_t k = 0; mm && k < mm->n_vmas; k++) {
			const VmaEntry *v = mm->vmas[k];
			uint64_t need;
			struct rt_shmem *o = NULL;

			if (v->kind != VMA_KIND__VMA_ANON_SHARED || !v->has_shmem_ino)
				continue;
			/* The object is sized by these: bounded first. */
			if (v->end <= v->start || v->end - v->start > RT_MAX_ADDR || v->pgoff > RT_MAX_ADDR)
				return err_input(e, "mm-%u.img: VMA %zu (%#llx-%#llx, offset %llu) of shared memory %llu does not fit "
						 "the %llu byte address space; the image is corrupt", p->tasks[i].pe->pid, k,
						 (unsigned long long)v->start, (unsigned long long)v->end,
						 (unsigned long long)v->pgoff, (unsigned long long)v->shmem_ino, RT_MAX_ADDR);
			need = v->pgoff + (v->end - v->start);
			for (int j = 0; j < s->nr; j++)
				if (s->v[j].ino == v->shmem_ino)
					o = &s->v[j];
			if (!o) {
				if (grow_one(&s->v, s->nr) < 0)
					return err_errno(e, "plan shared memory");
				o = &s->v[s->nr++];
				*o = (struct rt_shmem){ v->shmem_ino, 0, NULL };
			}
			if (need > o->size)
				o->size = need;
		}
	}
	for (int j = 0; j < s->nr; j++) {
		struct rt_shmem *o = &s->v[j];

		o->addr = mmap(NULL, o->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (o->addr == MAP_FAILED) {
			o->addr = NULL;
			return err_errno(e, "make shared memory object %llu (%llu bytes)", (unsigned long long)o->ino,
					 (unsigned long long)o->size);
		}
		pr_debug("shared memory %llu: %llu bytes at %p", (unsigned long long)o->ino, (unsigned long long)o->size, o->addr);
	}
	return 0;
}

void rt_shmem_free(struct rt_plan *p)
{
	for (int j = 0; j < p->shmems.nr; j++)
		if (p->shmems.v[j].addr)
			munmap(p->shmems.v[j].addr, p->shmems.v[j].size);
	free(p->shmems.v);
	p->shmems.v = NULL;
	p->shmems.nr = 0;
}
