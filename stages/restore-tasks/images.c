/* restore-tasks/images.c: the images one task needs, loaded and checked. */
#include <stdio.h>
#include <stdlib.h>

#include "images/image.h"
#include "lib/grow.h"
#include "stages/restore-tasks/restore-tasks.h"

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
