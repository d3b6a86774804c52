/* restore-tasks/memfd.c: the memfds the tree maps (MAP_SHARED or
 * MAP_PRIVATE), one object per dumped inode.
 *
 * When the tree still held the memfd as a descriptor, restore-files made it
 * again (from the same memfd images) and sent it with the other files: that
 * one is mapped, so the descriptor and the mappings are one inode again.
 * files.img says which file id had which inode. Otherwise this stage makes it from
 * memfd-INO.img and pages-memfd-INO.img (images/memfd.h). Each task then opens
 * it through /proc/<stage>/fd/ and maps it at its old address and offset
 * (transplant.c); pages a MAP_PRIVATE mapping had written are private pages
 * of the task, filled like any other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "images/files.pb-c.h"
#include "images/image.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "images/memfd.h"
#include "stages/restore-tasks/restore-tasks.h"

/* A VMA of a deleted regular file (not a memfd): mapped from the
 * description restore-files made of it ('mapped', files.img). */
static bool rt_is_deleted_vma(const VmaEntry *v)
{
	return (v->kind == VMA_KIND__VMA_FILE_SHARED || v->kind == VMA_KIND__VMA_FILE_PRIVATE) && v->has_deleted &&
	       v->deleted;
}

static bool rt_is_memfd_vma(const VmaEntry *v)
{
	return v->kind == VMA_KIND__VMA_MEMFD_SHARED || v->kind == VMA_KIND__VMA_MEMFD_PRIVATE || rt_is_deleted_vma(v);
}

/* The object of inode ino (device dev, for a deleted file) in s. */
static struct rt_memfd *rt_memfd_find(const struct rt_memfds *s, bool deleted, uint64_t dev, uint64_t ino)
{
	for (int i = 0; s && i < s->nr; i++)
		if (s->v[i].ino == ino && s->v[i].deleted == deleted && (!deleted || s->v[i].dev == dev))
			return &s->v[i];
	return NULL;
}

const struct rt_memfd *rt_memfd_of(const struct rt_memfds *s, const VmaEntry *v)
{
	if (!s || !rt_is_memfd_vma(v) || !v->has_ino)
		return NULL;
	return rt_memfd_find(s, rt_is_deleted_vma(v), v->dev, v->ino);
}

const struct rt_memfd *rt_memfd_exe(const struct rt_memfds *s, const MmEntry *mm)
{
	if (!mm->has_exe_ino || !mm->has_exe_dev)
		return NULL;
	return rt_memfd_find(s, true, mm->exe_dev, mm->exe_ino);
}

/* The first task and VMA of the plan that map memfd ino, for messages. */
static const VmaEntry *rt_memfd_user(const struct rt_plan *p, uint64_t ino, uint32_t *pid)
{
	for (int i = 0; i < p->nr; i++)
		for (size_t k = 0; p->tasks[i].mm && k < p->tasks[i].mm->n_vmas; k++) {
			const VmaEntry *v = p->tasks[i].mm->vmas[k];

			if (rt_is_memfd_vma(v) && v->has_ino && v->ino == ino) {
				*pid = p->tasks[i].pe->pid;
				return v;
			}
		}
	return NULL;
}

/* Takes restore-files' descriptor for each memfd a descriptor of the tree
 * held: a memfd description in files.img ('memfd', path "/memfd:NAME")
 * with the same inode and device. */
static int rt_memfd_from_files(int dirfd, struct rt_plan *p, struct err *e)
{
	struct rt_memfds *s = &p->memfds;
	ProtobufCMessage *msg;
	struct image img;
	int ret = image_open_read(&img, dirfd, "files", "files.img", e);

	if (ret == -ENOENT)
		return 0;	/* no files were dumped: every memfd is made here */
	if (ret < 0)
		return ret;
	while ((ret = image_read(&img, &msg, e)) > 0) {
		const RegFileEntry *re = (RegFileEntry *)msg;

		for (int i = 0; re->has_inode && (re->memfd || re->mapped) && i < s->nr; i++) {
			struct rt_memfd *o = &s->v[i];

			if (o->fd >= 0 || o->ino != re->inode || (o->has_dev && re->has_dev && o->dev != re->dev) ||
			    o->deleted != re->mapped)
				continue;
			if (re->id < p->nr_ids && p->file_fd[re->id] >= 0) {
				o->fd = p->file_fd[re->id];
				o->from_files = true;
				pr_debug("memfd %llu: mapped from file %u ('%s'), restore-files' descriptor",
					 (unsigned long long)o->ino, re->id, re->path);
			}
		}
		protobuf_c_message_free_unpacked(msg, NULL);
	}
	image_close(&img);
	return ret;
}

/* Adds the deleted executable of mm to s, once per inode. */
static int rt_memfd_plan_exe(struct rt_memfds *s, const MmEntry *mm, struct err *e)
{
	if (!mm || !mm->has_exe_ino || !mm->has_exe_dev || rt_memfd_exe(s, mm))
		return 0;
	if (grow_one(&s->v, s->nr) < 0)
		return err_errno(e, "plan memfds");
	s->v[s->nr++] = (struct rt_memfd){ mm->exe_ino, true, mm->exe_dev, -1, false, true };
	return 0;
}

/* Lists the memfds and deleted files the tasks map, one per inode. */
static int rt_memfd_plan(struct rt_plan *p, struct err *e)
{
	struct rt_memfds *s = &p->memfds;
	int ret;

	for (int i = 0; i < p->nr; i++) {
		const MmEntry *mm = p->tasks[i].mm;

		p->tasks[i].memfds = s;
		if ((ret = rt_memfd_plan_exe(s, mm, e)) < 0)
			return ret;
		for (size_t k = 0; mm && k < mm->n_vmas; k++) {
			const VmaEntry *v = mm->vmas[k];

			if (!rt_is_memfd_vma(v))
				continue;
			if (!v->has_ino)
				return err_input(e, "mm-%u.img: the memfd VMA at %#llx ('%s') has no inode", p->tasks[i].pe->pid,
						 (unsigned long long)v->start, v->path ? v->path : "");
			if (rt_is_deleted_vma(v) && !v->has_dev)
				return err_input(e, "mm-%u.img: the VMA at %#llx of deleted file '%s' has no device",
						 p->tasks[i].pe->pid, (unsigned long long)v->start, v->path ? v->path : "");
			if (rt_memfd_of(s, v))
				continue;
			if (grow_one(&s->v, s->nr) < 0)
				return err_errno(e, "plan memfds");
			s->v[s->nr++] = (struct rt_memfd){ v->ino, v->has_dev, v->dev, -1, false, rt_is_deleted_vma(v) };
		}
	}
	return 0;
}

int rt_memfd_make(int dirfd, struct rt_plan *p, struct err *e)
{
	struct rt_memfds *s = &p->memfds;
	int ret;

	if ((ret = rt_memfd_plan(p, e)) < 0 || !s->nr)
		return ret;
	if ((ret = rt_memfd_from_files(dirfd, p, e)) < 0)
		return ret;
	for (int i = 0; i < s->nr; i++) {
		struct rt_memfd *o = &s->v[i];
		MemfdEntry *m = NULL;
		const VmaEntry *v;
		uint32_t pid = 0;

		if (o->fd >= 0)
			continue;
		if (o->deleted) {
			v = rt_memfd_user(p, o->ino, &pid);
			return err_input(e, "pid %u maps (or runs) the deleted file '%s' (inode %llu), but files.img has no "
					 "description of it to map; the images do not belong together", pid,
					 v && v->path ? v->path : "?", (unsigned long long)o->ino);
		}
		ret = memfd_restore(dirfd, o->ino, &m, e);
		if (ret >= 0) {
			o->fd = ret;
			pr_debug("memfd %llu ('%s', %llu bytes): made again from memfd-%llu.img", (unsigned long long)o->ino,
				 m->name, (unsigned long long)m->size, (unsigned long long)o->ino);
		} else if ((v = rt_memfd_user(p, o->ino, &pid))) {
			err_wrap(e, "pid %u maps memfd '%s' at %#llx", pid,
				 v->path && memfd_name_of(v->path) ? memfd_name_of(v->path) : "?", (unsigned long long)v->start);
		}
		if (m)
			memfd_entry__free_unpacked(m, NULL);
		if (ret < 0)
			return ret;
	}
	return 0;
}

void rt_memfd_free(struct rt_plan *p)
{
	for (int i = 0; i < p->memfds.nr; i++)
		if (!p->memfds.v[i].from_files && p->memfds.v[i].fd >= 0)
			close(p->memfds.v[i].fd);
	free(p->memfds.v);
	p->memfds.v = NULL;
	p->memfds.nr = 0;
}
