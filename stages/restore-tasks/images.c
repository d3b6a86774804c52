/* restore-tasks/images.c: the images one task needs, loaded and checked. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "images/image.h"
#include "lib/grow.h"
#include "stages/restore-tasks/restore-tasks.h"

/* Is a VMA of this kind a MAP_SHARED one? */
static bool rt_kind_shared(VmaKind k)
{
	return k == VMA_KIND__VMA_ANON_SHARED || k == VMA_KIND__VMA_FILE_SHARED || k == VMA_KIND__VMA_MEMFD_SHARED;
}

/* Every VMA's flags share exactly when its kind does: the mmap takes the
 * flags and the open of its file the kind, and a private kind mapped
 * MAP_SHARED would let the pages image write into the file. */
static int rt_check_vmas(const MmEntry *mm, const char *name, struct err *e)
{
	for (size_t i = 0; i < mm->n_vmas; i++) {
		const VmaEntry *v = mm->vmas[i];

		if (!!(v->flags & MAP_SHARED) != rt_kind_shared(v->kind))
			return err_input(e, "'%s': the VMA at %#llx is of kind %d but its flags %#x say %s", name,
					 (unsigned long long)v->start, v->kind, v->flags,
					 v->flags & MAP_SHARED ? "MAP_SHARED" : "MAP_PRIVATE");
	}
	return 0;
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
	if ((ret = image_read_one(dirfd, "mm", name, (ProtobufCMessage **)&t->mm, e)) < 0)
		return ret;
	if ((ret = rt_check_vmas(t->mm, name, e)) < 0)
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
			protobuf_c_message_free_unpacked(m, NULL);
			continue;
		}
		if (grow_one(&t->pm, t->nr_pm) < 0) {
			protobuf_c_message_free_unpacked(m, NULL);
			ret = err_errno(e, "read '%s'", name);
			break;
		}
		t->pm[t->nr_pm++] = (PagemapEntry *)m;
	}
	image_close(&img);
	return ret;
}

void rt_unload(struct rt_task *t)
{
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
	free(t->fds);
	t->core = NULL;
	t->mm = NULL;
	t->fs = NULL;
	t->pm = NULL;
	t->fds = NULL;
}
