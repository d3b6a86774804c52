/* verify/mm.c: the restored address space, read by the collector the dump
 * uses (images/collect.h), against mm-PID.img, VMA by VMA. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "images/collect.h"
#include "images/image.h"
#include "stages/verify/verify.h"

static bool vf_file_kind(VmaKind k)
{
	return k == VMA_KIND__VMA_FILE_PRIVATE || k == VMA_KIND__VMA_FILE_SHARED;
}

/* The madvise advice of a VMA as a bit set (order does not matter). */
static uint64_t vf_advice(const VmaEntry *e)
{
	uint64_t m = 0;

	for (size_t i = 0; i < e->n_madvise; i++)
		if (e->madvise[i] < 64)
			m |= 1ULL << e->madvise[i];
	return m;
}

static void vf_vma(struct vf *v, const char *who, const VmaEntry *d, const VmaEntry *r, bool same_ns)
{
	char what[192];

	snprintf(what, sizeof(what), "%s: VMA %#llx: end", who, (unsigned long long)d->start);
	vf_hex(v, what, d->end, r->end);
	snprintf(what, sizeof(what), "%s: VMA %#llx: protection", who, (unsigned long long)d->start);
	vf_hex(v, what, d->prot, r->prot);
	snprintf(what, sizeof(what), "%s: VMA %#llx: mmap flags", who, (unsigned long long)d->start);
	vf_hex(v, what, d->flags, r->flags);
	snprintf(what, sizeof(what), "%s: VMA %#llx: kind", who, (unsigned long long)d->start);
	vf_num(v, what, d->kind, r->kind);
	snprintf(what, sizeof(what), "%s: VMA %#llx: mlock", who, (unsigned long long)d->start);
	vf_num(v, what, d->mlock, r->mlock);
	snprintf(what, sizeof(what), "%s: VMA %#llx: madvise advice (bit set)", who, (unsigned long long)d->start);
	vf_hex(v, what, vf_advice(d), vf_advice(r));
	snprintf(what, sizeof(what), "%s: VMA %#llx: MAP_NORESERVE", who, (unsigned long long)d->start);
	vf_num(v, what, d->noreserve, r->noreserve);
	snprintf(what, sizeof(what), "%s: VMA %#llx: name", who, (unsigned long long)d->start);
	vf_str(v, what, d->name, r->name);
	if (d->kind != r->kind)
		return;
	if (vf_file_kind(d->kind)) {
		snprintf(what, sizeof(what), "%s: VMA %#llx: file offset", who, (unsigned long long)d->start);
		vf_hex(v, what, d->pgoff, r->pgoff);
		/* As for descriptors (fds.c): a file of a namespace build-mntns
		 * made may be on a tmpfs made again; one the restore was told
		 * may have changed is not the same inode. */
		snprintf(what, sizeof(what), "%s: VMA %#llx: deleted file", who, (unsigned long long)d->start);
		vf_num(v, what, d->deleted, r->deleted);
		/* A deleted file saved as a ghost is made again: another inode. */
		if (same_ns && !v->o->allow_changed && !d->deleted) {
			snprintf(what, sizeof(what), "%s: VMA %#llx: device of '%s'", who, (unsigned long long)d->start,
				 d->path);
			vf_hex(v, what, d->dev, r->dev);
			snprintf(what, sizeof(what), "%s: VMA %#llx: inode of '%s'", who, (unsigned long long)d->start,
				 d->path);
			vf_num(v, what, d->ino, r->ino);
		}
		if (d->has_file_size && !v->o->allow_changed) {
			snprintf(what, sizeof(what), "%s: VMA %#llx: size of '%s'", who, (unsigned long long)d->start,
				 d->path);
			vf_num(v, what, d->file_size, r->file_size);
		}
	}
	/* A memfd is made again (another inode), and keeps its name. */
	if (vf_file_kind(d->kind) ? same_ns : d->kind == VMA_KIND__VMA_MEMFD_PRIVATE || d->kind == VMA_KIND__VMA_MEMFD_SHARED) {
		snprintf(what, sizeof(what), "%s: VMA %#llx: path", who, (unsigned long long)d->start);
		vf_str(v, what, d->path, r->path);
	}
}

int vf_mm(struct vf *v, const struct vf_task *t, struct err *e)
{
	struct collect_mm now;
	MmEntry *d = NULL;
	char name[64], who[32], what[128];
	size_t i = 0, j = 0;
	int ret;

	snprintf(name, sizeof(name), "mm-%u.img", t->pe->pid);
	if ((ret = image_read_one(v->dir_fd, "mm", name, (ProtobufCMessage **)&d, e)) < 0)
		return ret;
	if ((ret = collect_mm(t->host, &now, e)) < 0) {
		mm_entry__free_unpacked(d, NULL);
		collect_mm_free(&now);
		return ret;
	}
	snprintf(who, sizeof(who), "pid %u", t->pe->pid);
	{
		const MmEntry *r = &now.mm;
		const struct { const char *name; uint64_t d, r; } f[] = {
			{ "start_code", d->start_code, r->start_code }, { "end_code", d->end_code, r->end_code },
			{ "start_data", d->start_data, r->start_data }, { "end_data", d->end_data, r->end_data },
			{ "start_stack", d->start_stack, r->start_stack }, { "start_brk", d->start_brk, r->start_brk },
			{ "arg_start", d->arg_start, r->arg_start }, { "arg_end", d->arg_end, r->arg_end },
			{ "env_start", d->env_start, r->env_start }, { "env_end", d->env_end, r->env_end },
		};

		for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
			snprintf(what, sizeof(what), "%s: mm %s", who, f[k].name);
			vf_hex(v, what, f[k].d, f[k].r);
		}
		snprintf(what, sizeof(what), "%s: auxv length", who);
		vf_num(v, what, d->n_auxv, r->n_auxv);
		for (size_t k = 0; k < d->n_auxv && k < r->n_auxv; k++) {
			snprintf(what, sizeof(what), "%s: auxv word %zu", who, k);
			vf_hex(v, what, d->auxv[k], r->auxv[k]);
		}
		if (t->same_ns) {
			snprintf(what, sizeof(what), "%s: executable", who);
			vf_str(v, what, d->exe_path, r->exe_path);
		}
	}
	/* Both lists are in address order: walk them side by side, so that
	 * one VMA missing or extra is named once, not as a shift of all. */
	while (i < d->n_vmas || j < now.mm.n_vmas) {
		const VmaEntry *a = i < d->n_vmas ? d->vmas[i] : NULL;
		const VmaEntry *b = j < now.mm.n_vmas ? now.mm.vmas[j] : NULL;

		vf_checked(v);
		if (a && (!b || a->start < b->start)) {
			vf_diff(v, "%s: VMA %#llx-%#llx (%s): dumped, not restored", who, (unsigned long long)a->start,
				(unsigned long long)a->end, a->path ? a->path : a->name ? a->name : "anonymous");
			i++;
		} else if (b && (!a || b->start < a->start)) {
			vf_diff(v, "%s: VMA %#llx-%#llx (%s): restored, not dumped", who, (unsigned long long)b->start,
				(unsigned long long)b->end, b->path ? b->path : b->name ? b->name : "anonymous");
			j++;
		} else {
			vf_vma(v, who, a, b, t->same_ns);
			i++;
			j++;
		}
	}
	mm_entry__free_unpacked(d, NULL);
	collect_mm_free(&now);
	return 0;
}
