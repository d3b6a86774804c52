/* dump-memory/mm.c: the layout of an address space, into mm-PID.img. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "images/image.h"
#include "lib/cleanup.h"
#include "images/memfd.h"
#include "stages/dump-memory/dump-memory.h"

/* MAP_DROPPABLE (Linux 6.11); the headers of this Debian predate it. */
#define AMBER_MAP_DROPPABLE 0x08

int dm_vma_kind(pid_t pid, const struct proc_vma *v, VmaKind *kind, struct err *e)
{
	if (!strcmp(v->path, "[vdso]")) *kind = VMA_KIND__VMA_VDSO;
	else if (!strcmp(v->path, "[vvar]")) *kind = VMA_KIND__VMA_VVAR;
	else if (!strcmp(v->path, "[vvar_vclock]")) *kind = VMA_KIND__VMA_VVAR_VCLOCK;
	else if (!strcmp(v->path, "[vsyscall]")) *kind = VMA_KIND__VMA_VSYSCALL;
	else if (v->io_or_pfnmap)
		return err_input(e, "pid %d maps device memory at %#llx ('%s'); amber cannot copy it",
				 pid, (unsigned long long)v->start, v->path);
	else if (v->path[0] == '/' && v->shared && v->deleted && !strcmp(v->path, "/dev/zero"))
		*kind = VMA_KIND__VMA_ANON_SHARED;	/* how MAP_SHARED|MAP_ANONYMOUS shows */
	else if (v->path[0] == '/' && v->deleted && memfd_name_of(v->path))
		*kind = v->shared ? VMA_KIND__VMA_MEMFD_SHARED : VMA_KIND__VMA_MEMFD_PRIVATE;
	else if (v->path[0] == '/' && v->deleted)
		return err_input(e, "pid %d maps the deleted file '%s' at %#llx; unlinked files are not supported yet",
				 pid, v->path, (unsigned long long)v->start);
	else if (v->path[0] == '/')
		*kind = v->shared ? VMA_KIND__VMA_FILE_SHARED : VMA_KIND__VMA_FILE_PRIVATE;
	else if (v->path[0] == '[' && strcmp(v->path, "[heap]") && strcmp(v->path, "[stack]") &&
		 strncmp(v->path, "[anon:", 6))
		return err_input(e, "pid %d has a mapping '%s' at %#llx that amber does not know how to dump",
				 pid, v->path, (unsigned long long)v->start);
	else if (v->ino)
		return err_input(e, "pid %d maps '%s' (inode %llu) at %#llx, which has no path amber can reopen",
				 pid, v->path, (unsigned long long)v->ino, (unsigned long long)v->start);
	else
		*kind = v->shared ? VMA_KIND__VMA_ANON_SHARED : VMA_KIND__VMA_ANON_PRIVATE;
	return 0;
}

/* Reads /proc/PID/auxv (pairs of u64, ending with AT_NULL). */
static int dm_read_auxv(pid_t pid, uint64_t **auxv, size_t *n, struct err *e)
{
	char path[64];
	char *text = NULL;
	size_t len;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	if ((ret = proc_read_file(path, &text, &len, e)) < 0)
		return ret;
	*auxv = (uint64_t *)text;
	*n = len / sizeof(uint64_t);
	return 0;
}

int dm_write_mm(int dirfd, pid_t pid, pid_t id, struct proc_vma *vmas, int nr, VmaKind *kinds, struct err *e)
{
	MmEntry mm = MM_ENTRY__INIT;
	_cleanup_free_ VmaEntry *ve = calloc(nr, sizeof(*ve));
	_cleanup_free_ VmaEntry **vp = calloc(nr, sizeof(*vp));
	_cleanup_free_ uint32_t (*madv)[5] = calloc(nr, sizeof(*madv));
	_cleanup_free_ uint64_t *auxv = NULL;
	char path[64], exe[PATH_MAX], name[64];
	struct proc_stat st;
	size_t nauxv = 0;
	ssize_t n;
	int ret;

	if (!ve || !vp || !madv)
		return err_errno(e, "allocate %d VMAs of pid %d", nr, pid);
	if ((ret = proc_read_stat(pid, 0, &st, e)) < 0 || (ret = dm_read_auxv(pid, &auxv, &nauxv, e)) < 0)
		return ret;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n < 0)
		return err_errno(e, "read the executable of pid %d ('%s')", pid, path);
	exe[n] = 0;
	if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
		return err_input(e, "the executable of pid %d, '%s', was deleted; unlinked files are not supported yet", pid, exe);

	mm.start_code = st.start_code;
	mm.end_code = st.end_code;
	mm.start_data = st.start_data;
	mm.end_data = st.end_data;
	mm.start_stack = st.start_stack;
	mm.start_brk = st.start_brk;
	mm.arg_start = st.arg_start;
	mm.arg_end = st.arg_end;
	mm.env_start = st.env_start;
	mm.env_end = st.env_end;
	mm.n_auxv = nauxv;
	mm.auxv = auxv;
	mm.exe_path = exe;

	for (int i = 0; i < nr; i++) {
		VmaEntry *v = &ve[i];

		vma_entry__init(v);
		v->start = vmas[i].start;
		v->end = vmas[i].end;
		v->pgoff = vmas[i].pgoff;
		v->prot = vmas[i].prot;
		v->flags = (vmas[i].shared ? MAP_SHARED : vmas[i].droppable ? AMBER_MAP_DROPPABLE : MAP_PRIVATE) |
			   (vmas[i].growsdown ? MAP_GROWSDOWN : 0);
		if (vmas[i].locked) {
			v->has_mlock = true;
			v->mlock = vmas[i].lockonfault ? 2 : 1;
		}
		v->kind = kinds[i];
		/* Restore needs both to rebuild VMAs the kernel will not merge
		 * differently than it did in the dumped process. */
		if (vmas[i].account && !(vmas[i].prot & PROT_WRITE) && !vmas[i].shared) {
			v->has_account = true;
			v->account = true;
		}
		if (vmas[i].noreserve) {
			v->has_noreserve = true;
			v->noreserve = true;
		}
		v->madvise = madv[i];
		v->n_madvise = 0;
		if (vmas[i].dontdump) madv[i][v->n_madvise++] = MADV_DONTDUMP;
		if (vmas[i].dontfork) madv[i][v->n_madvise++] = MADV_DONTFORK;
		if (vmas[i].hugepage) madv[i][v->n_madvise++] = MADV_HUGEPAGE;
		if (vmas[i].nohugepage) madv[i][v->n_madvise++] = MADV_NOHUGEPAGE;
		if (vmas[i].wipeonfork) madv[i][v->n_madvise++] = MADV_WIPEONFORK;
		if (kinds[i] == VMA_KIND__VMA_FILE_PRIVATE || kinds[i] == VMA_KIND__VMA_FILE_SHARED ||
		    kinds[i] == VMA_KIND__VMA_MEMFD_PRIVATE || kinds[i] == VMA_KIND__VMA_MEMFD_SHARED) {
			struct stat sb;
			char mf[96];

			v->path = vmas[i].path;
			v->has_dev = v->has_ino = true;
			v->dev = makedev(vmas[i].dev_major, vmas[i].dev_minor);
			v->ino = vmas[i].ino;
			/* map_files/ reaches the mapped file itself, whatever its path
			 * now; one look per file, as a file is often mapped several times. */
			if (i > 0 && ve[i - 1].has_file_size && ve[i - 1].has_ino && ve[i - 1].ino == vmas[i].ino &&
			    ve[i - 1].dev == v->dev) {
				v->has_file_size = true;
				v->file_size = ve[i - 1].file_size;
			} else {
				snprintf(mf, sizeof(mf), "/proc/%d/map_files/%llx-%llx", pid,
					 (unsigned long long)vmas[i].start, (unsigned long long)vmas[i].end);
				if (stat(mf, &sb) == 0) {
					v->has_file_size = true;
					v->file_size = sb.st_size;
				}
			}
		} else if (vmas[i].path[0]) {
			v->name = vmas[i].path;
		}
		if (kinds[i] == VMA_KIND__VMA_ANON_SHARED && vmas[i].ino) {
			v->has_shmem_ino = true;
			v->shmem_ino = vmas[i].ino;
		}
		vp[i] = v;
	}
	mm.n_vmas = nr;
	mm.vmas = vp;
	snprintf(name, sizeof(name), "mm-%d.img", id);
	return image_write_one(dirfd, "mm", name, &mm.base, e);
}
