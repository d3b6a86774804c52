/* restore-tasks/transplant.c: turn a stopped child of amber into the dumped
 * process, by remote syscalls run from its trampoline. */
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/prctl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "images/image.h"
#include "lib/exitcodes.h"
#include "lib/cleanup.h"
#include "ipc/lazy.h"
#include "lib/log.h"
#include "lib/mountinfo.h"
#include "lib/pagecopy.h"
#include "stages/restore-tasks/batch.h"
#include "lib/proc.h"
#include "lib/rsys.h"
#include "lib/tracee.h"
#include "stages/restore-tasks/restore-tasks.h"


/* Opens path inside the task; the path travels through the scratch area. */
static int rt_remote_open(struct rsys *r, const struct rt_task *t, const char *path, int flags, long *fd, struct err *e)
{
	size_t len = strlen(path) + 1;
	char what[PATH_MAX + 32];
	int ret;

	if (len > RT_SCRATCH_SIZE)
		return err_input(e, "path '%.80s...' is too long", path);
	if ((ret = rsys_poke(t->pid, RT_SCRATCH(t), path, len, e)) < 0)
		return ret;
	snprintf(what, sizeof(what), "open '%s'", path);
	return rt_sys(r, fd, what, SYS_open, RT_SCRATCH(t), flags | O_CLOEXEC, 0, 0, 0, 0, e);
}

/* The child inherited glibc's rseq registration for amber's thread. Its area
 * is about to be unmapped, and the kernel would fault writing it, so drop
 * the registration with the exact arguments the kernel holds. */
static int rt_unregister_rseq(struct rsys *r, struct err *e)
{
	struct {
		uint64_t ptr;
		uint32_t size, signature, flags, pad;
	} rc;

	if (ptrace(0x420f /* PTRACE_GET_RSEQ_CONFIGURATION */, r->tid, sizeof(rc), &rc) != sizeof(rc) || !rc.ptr)
		return 0;
	return rt_sys(r, NULL, "unregister amber's rseq area", SYS_rseq, rc.ptr, rc.size, 1 /* RSEQ_FLAG_UNREGISTER */,
		      rc.signature, 0, 0, e);
}

/* Unmaps everything of amber's in the task but the trampoline and the
 * kernel's special mappings, which are moved rather than recreated. */
static int rt_unmap_amber(struct rsys *r, struct rt_task *t, struct err *e)
{
	_cleanup_free_ struct proc_vma *v = NULL;
	struct rt_batch *b;
	uint64_t keep[16][2], cur = 0;
	int nr, nk = 0, ret;

	if ((ret = proc_read_maps(t->pid, &v, &nr, e)) < 0)
		return ret;
	for (int i = 0; i < nr && nk < 15; i++) {
		bool tramp = v[i].start >= t->tramp && v[i].end <= t->tramp + RT_TRAMP_PAGES * RT_PAGE;

		if (tramp || !strcmp(v[i].path, "[vdso]") || !strcmp(v[i].path, "[vvar]") ||
		    !strcmp(v[i].path, "[vvar_vclock]") || !strcmp(v[i].path, "[vsyscall]")) {
			keep[nk][0] = v[i].start;
			keep[nk][1] = v[i].end;
			nk++;
		}
	}
	keep[nk][0] = keep[nk][1] = 0x800000000000ULL;	/* end of user space */
	nk++;
	b = rt_batch_new(r, t, e);
	if (!b)
		return -ENOMEM;
	for (int i = 0; ret == 0 && i < nk; i++) {
		if (keep[i][0] > cur && cur < 0x7ffffffff000ULL) {
			uint64_t end = keep[i][0] < 0x7ffffffff000ULL ? keep[i][0] : 0x7ffffffff000ULL;

			if (end > cur)
				ret = rt_batch_add(b, NULL, 0, "unmap amber's memory", SYS_munmap, cur, end - cur, 0, 0, 0, 0, e);
		}
		if (keep[i][1] > cur)
			cur = keep[i][1];
	}
	if (ret == 0)
		ret = rt_batch_flush(b, e);
	free(b);
	return ret;
}

/* The kernel's special mappings must sit where the image had them: code and
 * stack hold pointers into the vDSO. Same kernel, same layout, so moving
 * each one (through a spare gap, in case old and new places overlap) is
 * enough; mremap tells the kernel the vDSO moved. */
static int rt_move_vdso(struct rsys *r, struct rt_task *t, struct err *e)
{
	static const char *const names[] = { "[vvar]", "[vvar_vclock]", "[vdso]" };
	static const VmaKind kinds[] = { VMA_KIND__VMA_VVAR, VMA_KIND__VMA_VVAR_VCLOCK, VMA_KIND__VMA_VDSO };
	_cleanup_free_ struct proc_vma *v = NULL;
	uint64_t cur[3][2] = { { 0 } }, want[3][2] = { { 0 } }, spare = t->spare;
	struct rt_batch *b;
	int nr, ret;

	if ((ret = proc_read_maps(t->pid, &v, &nr, e)) < 0)
		return ret;
	for (int k = 0; k < 3; k++) {
		for (int i = 0; i < nr; i++)
			if (!strcmp(v[i].path, names[k])) {
				cur[k][0] = v[i].start;
				cur[k][1] = v[i].end;
			}
		for (size_t i = 0; i < t->mm->n_vmas; i++)
			if (t->mm->vmas[i]->kind == kinds[k]) {
				want[k][0] = t->mm->vmas[i]->start;
				want[k][1] = t->mm->vmas[i]->end;
			}
		if (!want[k][0] && !cur[k][0])
			continue;
		if (!want[k][0] || !cur[k][0] || want[k][1] - want[k][0] != cur[k][1] - cur[k][0])
			return err_input(e, "pid %d: %s is %llu bytes in the image and %llu here: the dump comes from another kernel",
					 t->pid, names[k], (unsigned long long)(want[k][1] - want[k][0]),
					 (unsigned long long)(cur[k][1] - cur[k][0]));
	}
	b = rt_batch_new(r, t, e);
	if (!b)
		return -ENOMEM;
	for (int pass = 0; ret == 0 && pass < 2; pass++)
		for (int k = 0; ret == 0 && k < 3; k++) {
			uint64_t len = cur[k][1] - cur[k][0], to = pass ? want[k][0] : spare;

			if (!len || cur[k][0] == want[k][0])
				continue;
			ret = rt_batch_add(b, NULL, to, "move the vDSO", SYS_mremap, cur[k][0], len, len,
					   MREMAP_MAYMOVE | MREMAP_FIXED, to, 0, e);
			cur[k][1] = to + len;
			cur[k][0] = to;
			if (!pass)
				spare += len;
		}
	if (ret == 0)
		ret = rt_batch_flush(b, e);
	free(b);
	return ret;
}

/* Whether path lies on the stub of a delayed mount of t's namespace:
 * restore-files made it there, with a new inode. */
static bool rt_on_stub(const struct rt_task *t, const char *path)
{
	for (size_t i = 0; t->mntns && i < t->mntns->n_stubs; i++) {
		const DelayedMnt *d = t->mntns->stubs[i];

		if (mountinfo_relpath(d->mountpoint, path))
			return true;
		for (size_t b = 0; b < d->n_binds; b++)
			if (mountinfo_relpath(d->binds[b], path))
				return true;
	}
	return false;
}

/* Refuses a mapped file that is not the one the process had. */
static int rt_check_file(const struct rt_task *t, const VmaEntry *v, struct err *e)
{
	char in_ns[PATH_MAX + 64];
	struct statfs sf;
	struct stat st;

	/* A task in a mount namespace of the tree's own maps its files there. */
	snprintf(in_ns, sizeof(in_ns), "/proc/%d/root%s", t->pid, v->path);
	if (stat(t->has_mntns ? in_ns : v->path, &st) < 0)
		return err_input(e, "pid %u maps '%s' at %#llx, which is missing now: %s", t->pe->pid, v->path,
				 (unsigned long long)v->start, strerror(errno));
	/* On a tmpfs build-mntns made again from the images the inode numbers
	 * are new: only the size can be compared there. */
	if (v->has_ino && st.st_ino != v->ino && !(t->has_mntns && statfs(in_ns, &sf) == 0 && sf.f_type == TMPFS_MAGIC) &&
	    !rt_on_stub(t, v->path))
		return err_input(e, "pid %u maps '%s' at %#llx: it was inode %llu at dump and is inode %llu now (the file was replaced)",
				 t->pe->pid, v->path, (unsigned long long)v->start, (unsigned long long)v->ino,
				 (unsigned long long)st.st_ino);
	if (v->has_file_size && (uint64_t)st.st_size != v->file_size)
		return err_input(e, "pid %u maps '%s' at %#llx: it was %llu bytes at dump and is %llu now",
				 t->pe->pid, v->path, (unsigned long long)v->start,
				 (unsigned long long)v->file_size, (unsigned long long)st.st_size);
	return 0;
}

/* Gives a freshly mapped VMA the flags mmap alone does not: accounting of a
 * once-writable private mapping (so it stays apart from neighbours it was
 * apart from) and madvise advice. */
/* The madvise pair that marks a VMA kept apart (rt_keep_apart) while its
 * pages come in: one whose flag the VMA does not have for good. */
static void rt_apart_advice(const VmaEntry *v, int *on, int *off)
{
	bool wipe = false, dontdump = false;

	for (size_t i = 0; i < v->n_madvise; i++) {
		wipe |= v->madvise[i] == MADV_WIPEONFORK;
		dontdump |= v->madvise[i] == MADV_DONTDUMP;
	}
	*on = !wipe ? MADV_WIPEONFORK : !dontdump ? MADV_DONTDUMP : MADV_DONTFORK;
	*off = !wipe ? MADV_KEEPONFORK : !dontdump ? MADV_DODUMP : MADV_DOFORK;
}

static int rt_vma_flags(struct rt_batch *b, const VmaEntry *v, bool apart, struct err *e)
{
	char what[96];
	int ret, on, off;

	/* Kept apart: marked by a flag of its own before the PROT_EXEC it was
	 * mapped with is taken back, so that it stays apart from the VMA
	 * before it, and so that its first page fault does not reuse that
	 * VMA's anon_vma (the kernel's anon_vma_compatible ignores access
	 * flags, not the others). rt_join_apart takes the mark away. */
	if (apart) {
		rt_apart_advice(v, &on, &off);
		snprintf(what, sizeof(what), "keep %#llx apart (madvise %d)", (unsigned long long)v->start, on);
		if ((ret = rt_batch_add(b, NULL, 0, what, SYS_madvise, v->start, v->end - v->start, on, 0, 0, 0, e)) < 0)
			return ret;
		snprintf(what, sizeof(what), "protect %#llx as it was", (unsigned long long)v->start);
		if ((ret = rt_batch_add(b, NULL, 0, what, SYS_mprotect, v->start, v->end - v->start, v->prot, 0, 0, 0, e)) < 0)
			return ret;
	} else if (v->has_account && v->account && !(v->prot & PROT_WRITE)) {
		snprintf(what, sizeof(what), "protect %#llx after mapping it writable", (unsigned long long)v->start);
		if ((ret = rt_batch_add(b, NULL, 0, what, SYS_mprotect, v->start, v->end - v->start, v->prot, 0, 0, 0, e)) < 0)
			return ret;
	}
	for (size_t i = 0; i < v->n_madvise; i++) {
		snprintf(what, sizeof(what), "madvise %u at %#llx", v->madvise[i], (unsigned long long)v->start);
		if ((ret = rt_batch_add(b, NULL, 0, what, SYS_madvise, v->start, v->end - v->start, v->madvise[i], 0, 0, 0, e)) < 0)
			return ret;
	}
	/* Locked as it was (the task still has amber's CAP_IPC_LOCK); 1: MLOCK_ONFAULT. */
	if (v->has_mlock && v->mlock) {
		snprintf(what, sizeof(what), "lock %#llx in memory (mlock2)", (unsigned long long)v->start);
		if ((ret = rt_batch_add(b, NULL, 0, what, SYS_mlock2, v->start, v->end - v->start, v->mlock == 2 ? 1 : 0, 0, 0,
					0, e)) < 0)
			return ret;
	}
	return 0;
}

/* The open a file VMA needs: shared mappings may be made writable later,
 * so they are opened read-write when the file allows, as the process did. */
static int rt_vma_open_flags(const VmaEntry *v)
{
	return v->kind == VMA_KIND__VMA_FILE_SHARED && access(v->path, W_OK) == 0 ? O_RDWR : O_RDONLY;
}

struct rt_vma_file {
	const char *path;
	int flags;
	long fd;
	const struct rt_shmem *shmem;	/* a shared anonymous object of the stage's, or NULL */
	const struct rt_memfd *memfd;	/* a memfd of the stage's, or NULL */
	char buf[96];			/* its map_files or fd path */
};

/* Opens every file the VMAs map, once per (path, flags), in batches whose
 * paths fit the scratch area. */
static int rt_open_vma_files(struct rt_batch *b, struct rt_task *t, struct rt_vma_file *files, int nf, struct err *e)
{
	for (int first = 0; first < nf;) {
		uint64_t off = 0;
		int k = first, ret;

		for (; k < nf; k++) {
			size_t len = strlen(files[k].path) + 1;
			char what[PATH_MAX + 16];

			if (off + len > RT_SCRATCH_SIZE) {
				if (k == first)
					return err_input(e, "path '%.80s...' is too long", files[k].path);
				break;
			}
			if ((ret = rsys_poke(t->pid, RT_SCRATCH(t) + off, files[k].path, len, e)) < 0)
				return ret;
			snprintf(what, sizeof(what), "open '%s'", files[k].path);
			if ((ret = rt_batch_add(b, &files[k].fd, 0, what, SYS_open, RT_SCRATCH(t) + off,
						files[k].flags | O_CLOEXEC, 0, 0, 0, 0, e)) < 0)
				return ret;
			off += len;
		}
		if ((ret = rt_batch_flush(b, e)) < 0)
			return ret;
		first = k;
	}
	return 0;
}

/* Recreates every VMA of the image at its address: the files they map are
 * opened first, then every mmap, protection and advice goes in batches. */
/* Whether VMA i must be kept apart from VMA i-1 while it is mapped: two
 * adjacent private anonymous VMAs of the same protection and flags were
 * separate in the dumped process only because their anon_vmas differ
 * (memory mapped after a fork next to memory from before it, say); mapped
 * one after the other, fresh, the kernel would merge them into one, and
 * the layout would differ. The second is mapped with PROT_EXEC flipped and
 * then marked with an madvise flag of its own (rt_vma_flags) while its
 * pages come in, which gives it its own anon_vma; once the mark is gone
 * (rt_join_apart) the kernel keeps the two apart, as it did before. Every
 * other one of a run is marked, so no two marked VMAs touch. */
static bool rt_keep_apart(const struct rt_task *t, size_t i)
{
	const VmaEntry *v = t->mm->vmas[i], *p = i ? t->mm->vmas[i - 1] : NULL;

	return p && !t->apart[i - 1] && p->end == v->start && v->kind == VMA_KIND__VMA_ANON_PRIVATE && !(v->flags & 0x08) &&
	       p->kind == VMA_KIND__VMA_ANON_PRIVATE && p->prot == v->prot && p->flags == v->flags &&
	       p->has_account == v->has_account && p->account == v->account && p->noreserve == v->noreserve;
}

/* After the pages: every VMA kept apart loses its mark. */
static int rt_join_apart(struct rsys *r, struct rt_task *t, struct err *e)
{
	for (size_t i = 0; t->apart && i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i];
		long res;
		int ret, on, off;

		if (!t->apart[i])
			continue;
		rt_apart_advice(v, &on, &off);
		if ((ret = rsys_call(r, &res, SYS_madvise, v->start, v->end - v->start, off, 0, 0, 0, e)) < 0)
			return ret;
		if (res < 0)
			return err_errnum(e, -res, "pid %d: unmark %#llx-%#llx (madvise %d)", t->pid,
					  (unsigned long long)v->start, (unsigned long long)v->end, off);
	}
	return 0;
}

static int rt_map_vmas(struct rsys *r, struct rt_task *t, struct err *e)
{
	_cleanup_free_ struct rt_vma_file *files = calloc(t->mm->n_vmas + 1, sizeof(*files));
	_cleanup_free_ int *file_of = calloc(t->mm->n_vmas + 1, sizeof(*file_of));
	struct rt_batch *b = rt_batch_new(r, t, e);
	int nf = 0, ret = 0;

	if (!b)
		return -ENOMEM;
	free(t->apart);
	t->apart = calloc(t->mm->n_vmas + 1, sizeof(*t->apart));
	if (!files || !file_of || !t->apart) {
		free(b);
		return err_errno(e, "plan the VMAs of pid %d", t->pid);
	}
	for (size_t i = 0; i < t->mm->n_vmas; i++)
		t->apart[i] = rt_keep_apart(t, i);
	for (size_t i = 0; ret == 0 && i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i];
		const struct rt_shmem *o = rt_shmem_of(t->shmems, v);
		const struct rt_memfd *mf;
		int k;

		file_of[i] = -1;
		if (o) {
			/* The stage's object, opened through its map_files. */
			for (k = 0; k < nf; k++)
				if (files[k].shmem == o)
					break;
			if (k == nf) {
				files[nf] = (struct rt_vma_file){ NULL, O_RDWR, -1, o, NULL, { 0 } };
				snprintf(files[nf].buf, sizeof(files[nf].buf), "/proc/%d/map_files/%lx-%lx", getpid(),
					 (unsigned long)o->addr, (unsigned long)o->addr + (unsigned long)o->size);
				files[nf].path = files[nf].buf;
				nf++;
			}
			file_of[i] = k;
			continue;
		}
		if ((mf = rt_memfd_of(t->memfds, v))) {
			/* The stage's memfd, opened through its fd: the same inode. A
			 * deleted file (mf->deleted) is opened for writing only for
			 * a shared mapping: it may be an executable that is running. */
			int fl = mf->deleted && v->kind != VMA_KIND__VMA_FILE_SHARED ? O_RDONLY : O_RDWR;

			for (k = 0; k < nf; k++)
				if (files[k].memfd == mf && files[k].flags == fl)
					break;
			if (k == nf) {
				files[nf] = (struct rt_vma_file){ NULL, fl, -1, NULL, mf, { 0 } };
				snprintf(files[nf].buf, sizeof(files[nf].buf), "/proc/%d/fd/%d", getpid(), mf->fd);
				files[nf].path = files[nf].buf;
				nf++;
			}
			file_of[i] = k;
			continue;
		}
		if (v->kind == VMA_KIND__VMA_MEMFD_SHARED || v->kind == VMA_KIND__VMA_MEMFD_PRIVATE) {
			ret = err_input(e, "mm-%u.img: the memfd VMA at %#llx has no memfd to map", t->pe->pid,
					(unsigned long long)v->start);
			break;
		}
		if (v->kind != VMA_KIND__VMA_FILE_PRIVATE && v->kind != VMA_KIND__VMA_FILE_SHARED)
			continue;
		if (!v->path) {
			ret = err_input(e, "mm-%u.img: file VMA at %#llx has no path", t->pe->pid, (unsigned long long)v->start);
			break;
		}
		for (k = 0; k < nf; k++)
			if (!strcmp(files[k].path, v->path) && files[k].flags == rt_vma_open_flags(v))
				break;
		if (k == nf) {
			ret = rt_check_file(t, v, e);
			files[nf++] = (struct rt_vma_file){ v->path, rt_vma_open_flags(v), -1, NULL, NULL, { 0 } };
		}
		file_of[i] = k;
	}
	if (ret == 0)
		ret = rt_open_vma_files(b, t, files, nf, e);
	for (size_t i = 0; ret == 0 && i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i];
		uint64_t len = v->end - v->start;
		/* 0x08: MAP_DROPPABLE, in place of MAP_PRIVATE (dump-memory/mm.c). */
		int flags = (v->flags & (MAP_SHARED | MAP_PRIVATE | 0x08 | MAP_GROWSDOWN)) | MAP_FIXED |
			    (v->has_noreserve && v->noreserve ? MAP_NORESERVE : 0);
		/* Mapped writable first when it was accountable, made read-only by
		 * rt_vma_flags (or rt_join_apart for one kept apart). */
		uint32_t prot = (v->prot | (v->has_account && v->account ? PROT_WRITE : 0)) ^ (t->apart[i] ? PROT_EXEC : 0);
		char what[PATH_MAX + 64];

		switch (v->kind) {
		case VMA_KIND__VMA_VDSO:
		case VMA_KIND__VMA_VVAR:
		case VMA_KIND__VMA_VVAR_VCLOCK:
		case VMA_KIND__VMA_VSYSCALL:
			continue;
		case VMA_KIND__VMA_ANON_SHARED:
			if (file_of[i] >= 0) {
				snprintf(what, sizeof(what), "map shared memory at %#llx", (unsigned long long)v->start);
				ret = rt_batch_add(b, NULL, v->start, what, SYS_mmap, v->start, len, prot, flags,
						   files[file_of[i]].fd, v->pgoff, e);
				break;
			}
			/* an image without the object's inode: */
			__attribute__((fallthrough));
		case VMA_KIND__VMA_ANON_PRIVATE:
			snprintf(what, sizeof(what), "map anonymous memory at %#llx", (unsigned long long)v->start);
			ret = rt_batch_add(b, NULL, v->start, what, SYS_mmap, v->start, len, prot, flags | MAP_ANONYMOUS, -1, 0, e);
			break;
		case VMA_KIND__VMA_FILE_PRIVATE:
		case VMA_KIND__VMA_FILE_SHARED:
		case VMA_KIND__VMA_MEMFD_PRIVATE:
		case VMA_KIND__VMA_MEMFD_SHARED:
			snprintf(what, sizeof(what), "map '%s' at %#llx", v->path ? v->path : "?", (unsigned long long)v->start);
			ret = rt_batch_add(b, NULL, v->start, what, SYS_mmap, v->start, len, prot, flags,
					   files[file_of[i]].fd, v->pgoff, e);
			break;
		default:
			ret = err_input(e, "mm-%u.img: VMA at %#llx has unknown kind %d", t->pe->pid, (unsigned long long)v->start, v->kind);
		}
		if (ret == 0)
			ret = rt_vma_flags(b, v, t->apart[i], e);
	}
	for (int k = 0; ret == 0 && k < nf; k++)
		ret = rt_batch_add(b, NULL, 0, "close a mapped file", SYS_close, files[k].fd, 0, 0, 0, 0, 0, e);
	if (ret == 0)
		ret = rt_batch_flush(b, e);
	free(b);
	return ret;
}

/* restore --lazy-pages: copies only the runs outside lazy VMAs (ipc/lazy.h),
 * each group of runs that follow each other in the file at once (pagecopy
 * wants its runs contiguous in the file). */
static int rt_fill_eager(const struct pagecopy *all, const struct rt_task *t, struct pagecopy_run *runs, int nr,
			 struct err *e)
{
	int ret = 0;

	for (int i = 0; ret == 0 && i < nr;) {
		struct pagecopy pc = *all;
		uint64_t base = runs[i].off, len = 0;
		int k = i;

		if (lazy_vma(rt_vma_at(t->mm, runs[i].vaddr))) {
			i++;
			continue;
		}
		while (k < nr && !lazy_vma(rt_vma_at(t->mm, runs[k].vaddr)) && runs[k].off == base + len) {
			len += runs[k].len;
			runs[k].off -= base;
			k++;
		}
		pc.runs = &runs[i];
		pc.nr_runs = k - i;
		pc.total = len;
		pc.file_base = all->file_base + base;
		ret = pagecopy_run(&pc, e);
		i = k;
	}
	return ret;
}

/* Writes the dumped pages straight from the page cache of pages-PID.img, in
 * parallel chunks (lib/pagecopy.h): process_vm_writev where the process may
 * write, /proc/PID/mem (FOLL_FORCE, as a debugger's pokes) where it may not. */
static int rt_fill_pages(int dirfd, struct rt_task *t, struct err *e)
{
	char name[64];
	struct image img;
	_cleanup_free_ struct pagecopy_run *runs = NULL;
	struct pagecopy pc = { .dir = PAGECOPY_RESTORE, .pid = t->pid, .file_base = IMAGE_PAGES_HDR_SIZE };
	uint8_t *map;
	int ret = 0, nr = 0;
	bool par = false;

	for (int i = 0; i < t->nr_pm; i++)
		par |= t->pm[i]->has_in_parent && t->pm[i]->in_parent;
	snprintf(name, sizeof(name), "pages-%u.img", t->pe->pid);
	/* Checked like every image: this dump's, this process's, finished,
	 * and as long as its header says. */
	if ((ret = image_open_read(&img, dirfd, "pages", name, e)) < 0)
		return ret;
	ret = rt_pages_plan(t, &img, &runs, &nr, &pc.total, e);
	if (ret < 0 || !nr) {
		image_close(&img);
		return ret < 0 || !par ? ret : rt_fill_parent_pages(dirfd, t, e);
	}
	map = mmap(NULL, img.size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, img.fd, 0);
	if (map == MAP_FAILED) {
		ret = err_errno(e, "map '%s'", name);
		image_close(&img);
		return ret;
	}
	pc.runs = runs;
	pc.nr_runs = nr;
	pc.map = map;
	if (t->lazy)
		ret = rt_fill_eager(&pc, t, runs, nr, e);
	else
		ret = pagecopy_run(&pc, e);
	munmap(map, img.size);
	image_close(&img);
	if (ret < 0)
		err_wrap(e, "restore the pages of '%s'", name);
	if (ret == 0 && par)
		ret = rt_fill_parent_pages(dirfd, t, e);
	return ret;
}

/* The kernel's struct prctl_mm_map (PR_SET_MM_MAP). */
struct rt_mm_map {
	uint64_t start_code, end_code, start_data, end_data, start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint64_t auxv;
	uint32_t auxv_size;
	uint32_t exe_fd;
};

/* mm fields, auxv and /proc/PID/exe in one prctl. */
static int rt_set_mm(struct rsys *r, struct rt_task *t, struct err *e)
{
	const MmEntry *mm = t->mm;
	struct rt_mm_map m = {
		mm->start_code, mm->end_code, mm->start_data, mm->end_data, mm->start_brk,
		t->core->has_brk ? t->core->brk : mm->start_brk, mm->start_stack,
		mm->arg_start, mm->arg_end, mm->env_start, mm->env_end, 0, 0, 0,
	};
	size_t auxv_bytes = mm->n_auxv * sizeof(uint64_t);
	const struct rt_memfd *exe;
	char exe_path[64];
	long exe_fd;
	int ret;

	if (!mm->exe_path)
		return err_input(e, "mm-%u.img has no exe path", t->pe->pid);
	if (auxv_bytes > 2 * 64 * sizeof(uint64_t))	/* the kernel's saved_auxv size */
		return err_input(e, "mm-%u.img has %zu auxv words, more than the kernel keeps", t->pe->pid, (size_t)mm->n_auxv);
	exe = rt_memfd_exe(t->memfds, mm);
	if (exe)	/* deleted: the file restore-files made again, through the stage's fd */
		snprintf(exe_path, sizeof(exe_path), "/proc/%d/fd/%d", getpid(), exe->fd);
	if ((ret = rt_remote_open(r, t, exe ? exe_path : mm->exe_path, O_RDONLY, &exe_fd, e)) < 0)
		return err_wrap(e, "the executable of pid %u", t->pe->pid);
	m.exe_fd = exe_fd;
	m.auxv = RT_SCRATCH(t) + sizeof(m);
	m.auxv_size = auxv_bytes;
	if ((ret = rsys_poke(t->pid, RT_SCRATCH(t), &m, sizeof(m), e)) < 0 ||
	    (auxv_bytes && (ret = rsys_poke(t->pid, m.auxv, mm->auxv, auxv_bytes, e)) < 0))
		return ret;
	if ((ret = rt_sys(r, NULL, "set the mm fields (PR_SET_MM_MAP)", SYS_prctl, PR_SET_MM, PR_SET_MM_MAP,
			  RT_SCRATCH(t), sizeof(m), 0, 0, e)) < 0)
		return ret;
	return rt_sys(r, NULL, "close", SYS_close, exe_fd, 0, 0, 0, 0, 0, e);
}

/* Empties the signal queues: while it ran amber's code the task may have
 * been sent signals (a SIGCHLD from a zombie child) that the dumped
 * process never had pending. Signals are blocked, so each
 * rt_sigtimedwait with a zero timeout takes one until none is left. */
static int rt_flush_signals(struct rsys *r, struct rt_task *t, struct err *e)
{
	uint64_t all[3] = { ~0ULL, 0, 0 };	/* sigset, then a zero timespec */
	int ret;

	if ((ret = rsys_poke(t->pid, RT_SCRATCH(t), all, sizeof(all), e)) < 0)
		return ret;
	for (int n = 0; n < 4096; n++) {
		long res;

		if ((ret = rsys_call(r, &res, SYS_rt_sigtimedwait, RT_SCRATCH(t), 0, RT_SCRATCH(t) + 8, 8, 0, 0, e)) < 0)
			return ret;
		if (res <= 0)
			return 0;
		pr_debug("pid %d: dropped signal %ld sent while it was being restored", t->pid, res);
	}
	return 0;
}

/* Process-wide signal state: every sigaction. */
static int rt_set_sigactions(struct rsys *r, struct rt_task *t, struct err *e)
{
	const CoreEntry *c = t->core;
	uint64_t ks[64][4];
	struct rt_batch *b;
	int ret = 0;

	for (size_t i = 0; i < c->n_sigactions; i++) {
		const SigactionEntry *s = c->sigactions[i];

		if (s->sig < 1 || s->sig > 64 || i >= 64)
			return err_input(e, "core-%u.img: sigaction for signal %u", c->tid, s->sig);
		ks[i][0] = s->handler;
		ks[i][1] = s->flags;
		ks[i][2] = s->restorer;
		ks[i][3] = s->mask;
	}
	if (c->n_sigactions && (ret = rsys_poke(t->pid, RT_SCRATCH(t), ks, c->n_sigactions * sizeof(ks[0]), e)) < 0)
		return ret;
	b = rt_batch_new(r, t, e);
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; ret == 0 && i < c->n_sigactions; i++) {
		char what[64];

		snprintf(what, sizeof(what), "set the action of signal %u", c->sigactions[i]->sig);
		ret = rt_batch_add(b, NULL, 0, what, SYS_rt_sigaction, c->sigactions[i]->sig,
				   RT_SCRATCH(t) + i * sizeof(ks[0]), 0, 8, 0, 0, e);
	}
	if (ret == 0)
		ret = rt_batch_flush(b, e);
	free(b);
	return ret;
}

/* What each thread sets for itself: name, rseq, clear_child_tid, then the
 * rest of its state (taskstate.c), which ends with credentials and seccomp. */
static int rt_thread_setup(struct rsys *r, struct rt_task *t, const CoreEntry *c, struct err *e)
{
	struct rt_batch *b = rt_batch_new(r, t, e);
	char comm[16] = { 0 };
	int ret = 0;

	if (!b)
		return -ENOMEM;
	/* Each thread's name goes in its own slot of the scratch: threads of one
	 * process share it, but run one batch at a time. */
	if (c->comm) {
		snprintf(comm, sizeof(comm), "%s", c->comm);
		if ((ret = rsys_poke(t->pid, RT_SCRATCH(t), comm, sizeof(comm), e)) == 0)
			ret = rt_batch_add(b, NULL, 0, "set the thread name", SYS_prctl, PR_SET_NAME, RT_SCRATCH(t), 0, 0, 0, 0, e);
	}
	/* While amber's code ran, a parent-death signal guarded against a dead stage. */
	if (ret == 0)
		ret = rt_batch_add(b, NULL, 0, "clear the parent-death signal", SYS_prctl, PR_SET_PDEATHSIG, 0, 0, 0, 0, 0, e);
	if (ret == 0 && c->rseq)
		ret = rt_batch_add(b, NULL, 0, "register rseq", SYS_rseq, c->rseq->ptr, c->rseq->len, 0, c->rseq->signature, 0, 0, e);
	if (ret == 0 && c->has_robust_list && c->robust_list)
		ret = rt_batch_add(b, NULL, 0, "set the robust futex list", SYS_set_robust_list, c->robust_list,
				   c->robust_list_len, 0, 0, 0, 0, e);
	if (ret == 0 && c->has_clear_child_tid)
		ret = rt_batch_add(b, NULL, 0, "set clear_child_tid", SYS_set_tid_address, c->clear_child_tid, 0, 0, 0, 0, 0, e);
	if (ret == 0)
		ret = rt_batch_flush(b, e);
	free(b);
	return ret < 0 ? ret : rt_task_state_thread(r, t, c, e);
}

/* Creates the other threads with their tids: a remote clone3 in the leader,
 * caught by PTRACE_O_TRACECLONE, so each new thread starts stopped, and is
 * then set up through the same trampoline. */
static int rt_create_threads(struct rsys *r, struct rt_task *t, struct err *e)
{
	for (int k = 1; k < t->nr_threads; k++) {
		struct rt_thread *th = &t->threads[k];
		struct clone_args a;
		uint64_t tid = th->tid;
		struct rsys tr;
		long res = 0;
		int status, ret;

		memset(&a, 0, sizeof(a));
		/* What glibc's pthread_create shares; TLS and the tid address
		 * come from the dumped registers and clear_child_tid. */
		a.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
		a.set_tid = RT_SCRATCH(t) + sizeof(a);
		a.set_tid_size = 1;
		if ((ret = rsys_poke(t->pid, RT_SCRATCH(t), &a, sizeof(a), e)) < 0 ||
		    (ret = rsys_poke(t->pid, RT_SCRATCH(t) + sizeof(a), &tid, sizeof(tid), e)) < 0)
			return ret;
		ret = rt_sys(r, &res, "create a thread", SYS_clone3, RT_SCRATCH(t), sizeof(a), 0, 0, 0, 0, e);
		if (ret < 0)
			return e->errnum == EEXIST ? err_input(e, "tid %d of pid %d is in use; it must be free", th->tid, t->pid) : ret;
		if (res != th->tid)
			return err_set(e, EXIT_SYSTEM, "pid %d: the new thread got tid %ld, want %d", t->pid, res, th->tid);
		th->host_tid = th->tid;
		if (t->pid != (pid_t)t->pe->pid && !(th->host_tid = rt_host_tid(t->pid, th->tid)))
			return err_set(e, EXIT_SYSTEM, "pid %d: cannot find new thread %d in /proc", t->pid, th->tid);
		if ((ret = tracee_wait(th->host_tid, &status, e)) < 0)
			return ret;
		if (!WIFSTOPPED(status))
			return err_set(e, EXIT_SYSTEM, "new thread %d did not stop (status %#x)", th->tid, status);
		if ((ret = rsys_begin(&tr, th->host_tid, t->tramp, RSYS_SITE_TRAP, NULL, e)) < 0 ||
		    (ret = rt_thread_setup(&tr, t, th->core, e)) < 0)
			return err_wrap(e, "thread %d", th->tid);
	}
	return 0;
}

static void rt_entry_to_regs(const UserRegsEntry *u, struct user_regs_struct *r)
{
	memset(r, 0, sizeof(*r));
	r->r15 = u->r15; r->r14 = u->r14; r->r13 = u->r13; r->r12 = u->r12;
	r->rbp = u->bp; r->rbx = u->bx; r->r11 = u->r11; r->r10 = u->r10;
	r->r9 = u->r9; r->r8 = u->r8; r->rax = u->ax; r->rcx = u->cx;
	r->rdx = u->dx; r->rsi = u->si; r->rdi = u->di; r->orig_rax = u->orig_ax;
	r->rip = u->ip; r->cs = u->cs; r->eflags = u->flags; r->rsp = u->sp;
	r->ss = u->ss; r->fs_base = u->fs_base; r->gs_base = u->gs_base;
	r->ds = u->ds; r->es = u->es; r->fs = u->fs; r->gs = u->gs;
}

/* The last remote syscall unmaps the trampoline it runs from, so it is
 * stepped with PTRACE_SYSCALL and the leader is caught in its syscall-exit
 * stop, still in the kernel. The other threads wait in their int3 stops. */
static int rt_unmap_trampoline(struct rsys *r, struct rt_task *t, struct err *e)
{
	struct user_regs_struct regs = r->saved;
	int status, ret;

	regs.rax = SYS_munmap;
	regs.orig_rax = -1;
	regs.rdi = t->tramp;
	regs.rsi = RT_TRAMP_PAGES * RT_PAGE;
	regs.rip = t->tramp;
	if ((ret = tracee_set_regs(t->pid, &regs, e)) < 0)
		return ret;
	for (int stop = 0; stop < 2; stop++) {
		if (ptrace(PTRACE_SYSCALL, t->pid, 0, 0) < 0)
			return err_errno(e, "step task %d through the trampoline unmap", t->pid);
		if ((ret = tracee_wait(t->pid, &status, e)) < 0)
			return ret;
		if (!WIFSTOPPED(status) || WSTOPSIG(status) != (SIGTRAP | 0x80))
			return err_set(e, EXIT_SYSTEM, "task %d: unexpected stop %#x while unmapping the trampoline", t->pid, status);
	}
	if ((ret = tracee_get_regs(t->pid, &regs, e)) < 0)
		return ret;
	if ((long)regs.rax != 0)
		return err_errnum(e, -(long)regs.rax, "pid %d: unmap the trampoline", t->pid);
	return 0;
}

int rt_load_threads(struct rt_task *t, struct err *e)
{
	for (int k = 0; k < t->nr_threads; k++) {
		struct rt_thread *th = &t->threads[k];
		struct user_regs_struct regs;
		int ret;

		rt_entry_to_regs(th->core->regs, &regs);
		regs.orig_rax = -1;	/* restart, if any, was folded into ip/ax at dump */
		if ((th->core->has_xstate &&
		     (ret = tracee_set_xstate(th->host_tid, th->core->xstate.data, th->core->xstate.len, e)) < 0) ||
		    (ret = tracee_set_regs(th->host_tid, &regs, e)) < 0) {
			/* The thread is stopped and ours: only the image's values
			 * (a segment selector, an xstate header) can be refused. */
			if (ret != -ESRCH) {
				e->exit_code = EXIT_INPUT;
				snprintf(e->msg + strlen(e->msg), sizeof(e->msg) - strlen(e->msg),
					 " (the registers of core-%u.img are refused)", th->tid);
			}
			return ret;
		}
		if ((ret = tracee_set_sigmask(th->host_tid, th->core->sigmask, e)) < 0)
			return ret;
	}
	return 0;
}

int rt_release(struct rt_task *t, struct err *e)
{
	/* Only when every thread is loaded does any of them run again. */
	for (int k = 0; k < t->nr_threads; k++)
		if (ptrace(PTRACE_DETACH, t->threads[k].host_tid, 0, 0) < 0)
			return err_errno(e, "detach restored thread %d", t->threads[k].tid);
	return 0;
}

/* The pidfds the task holds: restore-files passed stand-ins, since their
 * processes did not exist yet; now every task does, and the task opens a
 * pidfd of each (its own pid namespace's number, as dumped) at its fd. */
static int rt_pidfds(struct rsys *r, struct rt_task *t, struct err *e)
{
	for (int k = 0; k < t->nr_fds; k++) {
		const FdPlanEntry *pl = t->fds[k].plan;
		char what[96];
		long fd;
		int ret;

		if (!pl || !pl->has_pidfd_pid)
			continue;
		snprintf(what, sizeof(what), "open a pidfd of pid %u for fd %d", pl->pidfd_pid, t->fds[k].target);
		if ((ret = rt_sys(r, &fd, what, SYS_pidfd_open, pl->pidfd_pid, pl->pidfd_nonblock ? O_NONBLOCK : 0, 0, 0, 0,
				  0, e)) < 0 ||
		    (ret = rt_sys(r, NULL, what, SYS_dup3, fd, t->fds[k].target, t->fds[k].cloexec ? O_CLOEXEC : 0, 0, 0, 0,
				  e)) < 0 ||
		    (ret = rt_sys(r, NULL, "close", SYS_close, fd, 0, 0, 0, 0, 0, e)) < 0)
			return ret;
	}
	return 0;
}

/* The files under /proc of the tree's processes the task holds: stand-ins
 * from restore-files, since their processes did not exist; the task opens
 * each itself now, at the dumped position (rt_proc_paths set the path). */
static int rt_proc_files(struct rsys *r, struct rt_task *t, struct err *e)
{
	for (int k = 0; k < t->nr_fds; k++) {
		const FdPlanEntry *pl = t->fds[k].plan;
		char what[128];
		long fd, at;
		int ret;

		if (!pl || !pl->has_proc_pid || !t->fds[k].proc_path)
			continue;
		if ((ret = rt_remote_open(r, t, t->fds[k].proc_path, pl->proc_flags, &fd, e)) < 0)
			return err_wrap(e, "pid %u fd %d", t->pe->pid, t->fds[k].target);
		snprintf(what, sizeof(what), "seek '%s' to %llu", pl->proc_path, (unsigned long long)pl->proc_pos);
		if (pl->proc_pos && !(pl->proc_flags & O_PATH) &&
		    (ret = rt_sys(r, &at, what, SYS_lseek, fd, pl->proc_pos, SEEK_SET, 0, 0, 0, e)) < 0)
			return ret;
		snprintf(what, sizeof(what), "put '%s' at fd %d", pl->proc_path, t->fds[k].target);
		if ((ret = rt_sys(r, NULL, what, SYS_dup3, fd, t->fds[k].target, t->fds[k].cloexec ? O_CLOEXEC : 0, 0, 0, 0,
				  e)) < 0 ||
		    (ret = rt_sys(r, NULL, "close", SYS_close, fd, 0, 0, 0, 0, 0, e)) < 0)
			return ret;
	}
	return 0;
}

int rt_transplant(int dirfd, struct rt_task *t, struct err *e)
{
	struct rsys r;
	int ret;

	t->threads[0].host_tid = t->pid;
	if ((ret = rsys_begin(&r, t->pid, t->tramp, RSYS_SITE_TRAP, NULL, e)) < 0)
		return ret;
	if ((ret = rt_unregister_rseq(&r, e)) < 0 ||
	    (ret = rt_unmap_amber(&r, t, e)) < 0 ||
	    (ret = rt_move_vdso(&r, t, e)) < 0 ||
	    (ret = rt_map_vmas(&r, t, e)) < 0 ||
	    (t->lazy && (ret = rt_lazy_uffd(&r, t, e)) < 0) ||
	    (ret = rt_fill_pages(dirfd, t, e)) < 0 ||
	    (ret = rt_join_apart(&r, t, e)) < 0 ||
	    (ret = rt_set_mm(&r, t, e)) < 0 ||
	    (ret = rt_chroot(&r, t, e)) < 0 ||
	    (ret = rt_pidfds(&r, t, e)) < 0 ||
	    (ret = rt_proc_files(&r, t, e)) < 0 ||
	    (ret = rt_flush_signals(&r, t, e)) < 0 ||
	    (ret = rt_set_sigactions(&r, t, e)) < 0 ||
	    (ret = rt_task_state_process(&r, t, e)) < 0 ||
	    /* Threads before the leader's own credentials: clone3 with set_tid needs privilege. */
	    (ret = rt_create_threads(&r, t, e)) < 0 ||
	    (ret = rt_thread_setup(&r, t, t->core, e)) < 0)
		return ret;
	pr_debug("pid %d: %lu remote syscalls in the leader", t->pid, r.nr_calls);
	/* Last: from here a touch of a lazy page waits for amber-lazy-pages. */
	if (t->lazy && (ret = rt_lazy_register(dirfd, t, e)) < 0)
		return ret;
	return rt_unmap_trampoline(&r, t, e);
}
