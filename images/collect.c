/* collect.c: see collect.h. */
#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "images/collect.h"
#include "images/memfd.h"
#include "lib/grow.h"
#include "lib/schedattr.h"

/* MAP_DROPPABLE (Linux 6.11); the headers of this Debian predate it. */
#define AMBER_MAP_DROPPABLE 0x08

int collect_vma_kind(pid_t pid, const struct proc_vma *v, VmaKind *kind, struct err *e)
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
	else if (!strcmp(v->path, "anon_inode:[io_uring]"))
		return err_input(e, "pid %d maps the rings of an io_uring instance at %#llx; amber cannot restore io_uring "
				 "instances", pid, (unsigned long long)v->start);
	else if (v->path[0] == '/' && v->deleted && !strcmp(v->path, "/[aio]"))
		return err_input(e, "pid %d has an AIO context (io_setup) whose ring is mapped at %#llx; amber cannot "
				 "restore AIO contexts and their requests yet (io_destroy it before the dump)",
				 pid, (unsigned long long)v->start);
	else if (v->path[0] == '/' && v->deleted && !strncmp(v->path, "/SYSV", 5))
		return err_input(e, "pid %d maps System V shared memory '%s' at %#llx; amber cannot dump it yet",
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
static int collect_auxv(pid_t pid, uint64_t **auxv, size_t *n, struct err *e)
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

int collect_mm(pid_t pid, struct collect_mm *c, struct err *e)
{
	MmEntry *m = &c->mm;
	char path[64], *exe = c->exe;
	struct proc_vma *vmas;
	VmaEntry *ve;
	struct proc_stat st;
	size_t nauxv = 0;
	ssize_t n;
	int ret, nr;

	memset(c, 0, sizeof(*c));
	mm_entry__init(m);
	if ((ret = proc_read_smaps(pid, &c->vmas, &c->nr, e)) < 0)
		return ret;
	vmas = c->vmas;
	nr = c->nr;
	c->kinds = calloc(nr + 1, sizeof(*c->kinds));
	ve = c->ve = calloc(nr + 1, sizeof(*c->ve));
	c->vp = calloc(nr + 1, sizeof(*c->vp));
	c->madv = calloc(nr + 1, sizeof(*c->madv));
	if (!c->kinds || !ve || !c->vp || !c->madv)
		return err_errno(e, "allocate %d VMAs of pid %d", nr, pid);
	for (int i = 0; i < nr; i++)
		if ((ret = collect_vma_kind(pid, &vmas[i], &c->kinds[i], e)) < 0)
			return ret;
	if ((ret = proc_read_stat(pid, 0, &st, e)) < 0 || (ret = collect_auxv(pid, &c->auxv, &nauxv, e)) < 0)
		return ret;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(c->exe) - 1);
	if (n < 0)
		return err_errno(e, "read the executable of pid %d ('%s')", pid, path);
	exe[n] = 0;
	if (n > 10 && !strcmp(exe + n - 10, " (deleted)")) {
		struct stat sb;

		/* Made again from its files.img description ('mapped'). */
		if (stat(path, &sb) < 0)
			return err_errno(e, "stat the deleted executable of pid %d ('%s')", pid, exe);
		m->has_exe_dev = m->has_exe_ino = true;
		m->exe_dev = sb.st_dev;
		m->exe_ino = sb.st_ino;
	}

	m->start_code = st.start_code;
	m->end_code = st.end_code;
	m->start_data = st.start_data;
	m->end_data = st.end_data;
	m->start_stack = st.start_stack;
	m->start_brk = st.start_brk;
	m->arg_start = st.arg_start;
	m->arg_end = st.arg_end;
	m->env_start = st.env_start;
	m->env_end = st.env_end;
	m->n_auxv = nauxv;
	m->auxv = c->auxv;
	m->exe_path = exe;

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
		v->kind = c->kinds[i];
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
		v->madvise = c->madv[i];
		v->n_madvise = 0;
		if (vmas[i].dontdump) c->madv[i][v->n_madvise++] = MADV_DONTDUMP;
		if (vmas[i].dontfork) c->madv[i][v->n_madvise++] = MADV_DONTFORK;
		if (vmas[i].hugepage) c->madv[i][v->n_madvise++] = MADV_HUGEPAGE;
		if (vmas[i].nohugepage) c->madv[i][v->n_madvise++] = MADV_NOHUGEPAGE;
		if (vmas[i].wipeonfork) c->madv[i][v->n_madvise++] = MADV_WIPEONFORK;
		if (c->kinds[i] == VMA_KIND__VMA_FILE_PRIVATE || c->kinds[i] == VMA_KIND__VMA_FILE_SHARED ||
		    c->kinds[i] == VMA_KIND__VMA_MEMFD_PRIVATE || c->kinds[i] == VMA_KIND__VMA_MEMFD_SHARED) {
			struct stat sb;
			char mf[96];

			v->path = vmas[i].path;
			if (vmas[i].deleted && (c->kinds[i] == VMA_KIND__VMA_FILE_PRIVATE ||
						c->kinds[i] == VMA_KIND__VMA_FILE_SHARED))
				v->has_deleted = v->deleted = true;
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
		if (c->kinds[i] == VMA_KIND__VMA_ANON_SHARED && vmas[i].ino) {
			v->has_shmem_ino = true;
			v->shmem_ino = vmas[i].ino;
		}
		c->vp[i] = v;
	}
	m->n_vmas = nr;
	m->vmas = c->vp;
	return 0;
}

void collect_mm_free(struct collect_mm *c)
{
	free(c->vmas);
	free(c->kinds);
	free(c->ve);
	free(c->vp);
	free(c->madv);
	free(c->auxv);
	memset(c, 0, sizeof(*c));
}

/* The supplementary groups: the value of status's "Groups:" line, gids
 * separated by blanks (0 included, so not proc_parse_pid_list). */
static int collect_groups(const char *status, CredsEntry *c, struct err *e)
{
	const char *g = strstr(status, "\nGroups:");
	size_t n = 0, cap = 0;

	if (!g)
		return err_input(e, "no 'Groups:' line");
	g += strlen("\nGroups:");
	for (;;) {
		char *end;
		unsigned long v;

		g += strspn(g, " \t");
		if (!*g || *g == '\n')
			break;
		errno = 0;
		v = strtoul(g, &end, 10);
		if (end == g || errno || v > UINT32_MAX)
			return err_input(e, "bad 'Groups:' value '%.40s'", g);
		if (grow_cap(&c->groups, &cap, n + 1) < 0)
			return err_errno(e, "read groups");
		c->groups[n++] = v;
		c->n_groups = n;
		g = end;
	}
	return 0;
}

int collect_creds(pid_t pid, pid_t tid, CredsEntry *c, int *seccomp, struct err *e)
{
	struct proc_status st;
	char *text = NULL;
	char path[64];
	int ret;

	creds_entry__init(c);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	if ((ret = proc_read_file(path, &text, NULL, e)) < 0)
		return ret;
	if ((ret = proc_parse_status(text, &st, e)) < 0 || (ret = collect_groups(text, c, e)) < 0) {
		free(text);
		return err_wrap(e, "'%s'", path);
	}
	free(text);
	c->uid = st.uid[0]; c->euid = st.uid[1]; c->suid = st.uid[2]; c->fsuid = st.uid[3];
	c->gid = st.gid[0]; c->egid = st.gid[1]; c->sgid = st.gid[2]; c->fsgid = st.gid[3];
	c->cap_inh = st.capinh;
	c->cap_prm = st.capprm;
	c->cap_eff = st.capeff;
	c->cap_bnd = st.capbnd;
	c->cap_amb = st.capamb;
	c->no_new_privs = st.no_new_privs;
	*seccomp = st.seccomp;
	return 0;
}

void collect_creds_free(CredsEntry *c)
{
	free(c->groups);
	c->groups = NULL;
	c->n_groups = 0;
}

int collect_sched(pid_t tid, SchedEntry *se, struct err *e)
{
	struct amber_sched_attr a = { 0 };

	if (syscall(SYS_sched_getattr, tid, &a, sizeof(a), 0) < 0)
		return err_errno(e, "thread %d: read its scheduling policy (sched_getattr)", tid);
	sched_entry__init(se);
	se->policy = a.policy;
	se->has_flags = se->has_nice = se->has_priority = true;
	se->flags = a.flags;
	se->nice = a.nice;
	se->priority = a.priority;
	if (a.runtime || a.deadline || a.period) {
		se->has_runtime = se->has_deadline = se->has_period = true;
		se->runtime = a.runtime;
		se->deadline = a.deadline;
		se->period = a.period;
	}
	return 0;
}

int collect_proc_knobs(pid_t pid, CoreEntry *core, struct err *e)
{
	long long v;

	if (!proc_read_number(pid, "oom_score_adj", &v))
		return err_errno(e, "pid %d: read /proc/%d/oom_score_adj", pid, pid);
	core->has_oom_score_adj = true;
	core->oom_score_adj = v;
	/* A kernel without audit has no loginuid. */
	if (proc_read_number(pid, "loginuid", &v)) {
		core->has_loginuid = true;
		core->loginuid = v;
	}
	return 0;
}

/* /proc/PID/limits lists every resource the kernel has. */
_Static_assert(PROC_NR_RLIMITS == RLIM_NLIMITS, "the kernel's resources are not /proc limits' lines");

int collect_rlimits(pid_t pid, CoreEntry *core, struct err *e)
{
	struct proc_rlimit lim[PROC_NR_RLIMITS];
	RlimitEntry *v, **vp;
	int ret;

	if ((ret = proc_read_limits(pid, lim, e)) < 0)
		return ret;
	v = calloc(PROC_NR_RLIMITS, sizeof(*v));
	vp = calloc(PROC_NR_RLIMITS, sizeof(*vp));
	if (!v || !vp) {
		free(v);
		free(vp);
		return err_errno(e, "allocate rlimits of pid %d", pid);
	}
	for (int i = 0; i < PROC_NR_RLIMITS; i++) {
		rlimit_entry__init(&v[i]);
		v[i].resource = i;
		v[i].cur = lim[i].cur;
		v[i].max = lim[i].max;
		vp[i] = &v[i];
	}
	core->rlimits = vp;
	core->n_rlimits = PROC_NR_RLIMITS;
	return 0;
}

void collect_rlimits_free(CoreEntry *core)
{
	if (core->rlimits)
		free(core->rlimits[0]);
	free(core->rlimits);
	core->rlimits = NULL;
	core->n_rlimits = 0;
}
