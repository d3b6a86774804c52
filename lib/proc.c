/* proc: see proc.h. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/proc.h"

int proc_read_file(const char *path, char **text, size_t *len, struct err *e)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_errno(e, "open '%s'", path);
	return proc_read_fd(fd, path, text, len, e);
}

int proc_read_fd(int fd, const char *path, char **text, size_t *len, struct err *e)
{
	size_t cap = 4096, n = 0;
	char *buf;

	buf = malloc(cap);
	if (!buf)
		return err_errno(e, "read '%s'", path);
	for (;;) {
		ssize_t got;

		if (grow_cap(&buf, &cap, n + 2) < 0) {
			free(buf);
			return err_errno(e, "read '%s'", path);
		}
		got = read(fd, buf + n, cap - n - 1);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return err_errno(e, "read '%s'", path);
		}
		if (got == 0)
			break;
		n += got;
	}
	buf[n] = 0;
	*text = buf;
	if (len)
		*len = n;
	return 0;
}

int proc_parse_maps_line(const char *line, struct proc_vma *v, struct err *e)
{
	char perms[8];
	unsigned long long start, end, pgoff, ino;
	unsigned maj, min;
	int pathpos = 0;
	size_t len;

	memset(v, 0, sizeof(*v));
	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &pgoff, &maj, &min, &ino, &pathpos) < 7 ||
	    strlen(perms) != 4 || end <= start)
		return err_input(e, "bad maps line '%.80s'", line);
	v->start = start;
	v->end = end;
	v->pgoff = pgoff;
	v->dev_major = maj;
	v->dev_minor = min;
	v->ino = ino;
	v->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) | (perms[2] == 'x' ? PROT_EXEC : 0);
	v->shared = perms[3] == 's';
	if (pathpos > 0) {
		snprintf(v->path, sizeof(v->path), "%s", line + pathpos);
		len = strlen(v->path);
		while (len && (v->path[len - 1] == '\n' || v->path[len - 1] == ' '))
			v->path[--len] = 0;
		if (len > 10 && !strcmp(v->path + len - 10, " (deleted)")) {
			v->path[len - 10] = 0;
			v->deleted = true;
		}
	}
	return 0;
}

int proc_read_maps(pid_t pid, struct proc_vma **vmas, int *nr, struct err *e)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	struct proc_vma *arr = NULL;
	size_t cap = 0;
	int n = 0, ret;
	char *line, *save = NULL;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	if ((ret = proc_read_file(path, &text, NULL, e)) < 0)
		return ret;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (grow_cap(&arr, &cap, (size_t)n + 1) < 0) {
			free(arr);
			return err_errno(e, "parse '%s'", path);
		}
		if ((ret = proc_parse_maps_line(line, &arr[n], e)) < 0) {
			free(arr);
			return err_wrap(e, "'%s'", path);
		}
		n++;
	}
	*vmas = arr;
	*nr = n;
	return 0;
}

void proc_parse_vmflags(const char *flags, struct proc_vma *v)
{
	const char *p = flags;

	while (*p) {
		while (*p == ' ')
			p++;
		if (!p[0] || !p[1])
			break;
		if (!strncmp(p, "gd", 2)) v->growsdown = true;
		else if (!strncmp(p, "dd", 2)) v->dontdump = true;
		else if (!strncmp(p, "ac", 2)) v->account = true;
		else if (!strncmp(p, "nr", 2)) v->noreserve = true;
		else if (!strncmp(p, "dc", 2)) v->dontfork = true;
		else if (!strncmp(p, "hg", 2)) v->hugepage = true;
		else if (!strncmp(p, "nh", 2)) v->nohugepage = true;
		else if (!strncmp(p, "wf", 2)) v->wipeonfork = true;
		else if (!strncmp(p, "lo", 2)) v->locked = true;
		else if (!strncmp(p, "lf", 2)) v->lockonfault = true;
		else if (!strncmp(p, "dp", 2)) v->droppable = true;
		else if (!strncmp(p, "io", 2) || !strncmp(p, "pf", 2)) v->io_or_pfnmap = true;
		p += 2;
		while (*p && *p != ' ')
			p++;
	}
}

int proc_parse_smaps(char *text, const char *path, struct proc_vma **vmas, int *nr, struct err *e)
{
	struct proc_vma *arr = NULL;
	size_t cap = 0;
	int n = 0, ret;
	char *line, *save = NULL;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *colon = strchr(line, ':');
		const char *sp = strchr(line, ' ');

		/* Header lines start with "start-end "; field lines with "Key:". */
		if (colon && (!sp || colon < sp)) {
			if (n && !strncmp(line, "VmFlags:", 8))
				proc_parse_vmflags(line + 8, &arr[n - 1]);
			else if (n && !strncmp(line, "Rss:", 4))
				arr[n - 1].rss_kb = strtoull(line + 4, NULL, 10);
			else if (n && !strncmp(line, "Swap:", 5))
				arr[n - 1].swap_kb = strtoull(line + 5, NULL, 10);
			continue;
		}
		if (grow_cap(&arr, &cap, (size_t)n + 1) < 0) {
			free(arr);
			return err_errno(e, "parse '%s'", path);
		}
		if ((ret = proc_parse_maps_line(line, &arr[n], e)) < 0) {
			free(arr);
			return err_wrap(e, "'%s'", path);
		}
		arr[n].has_smaps = true;
		n++;
	}
	*vmas = arr;
	*nr = n;
	return 0;
}

int proc_read_smaps(pid_t pid, struct proc_vma **vmas, int *nr, struct err *e)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	if ((ret = proc_read_file(path, &text, NULL, e)) < 0)
		return ret;
	return proc_parse_smaps(text, path, vmas, nr, e);
}

int proc_parse_stat(const char *text, struct proc_stat *st, struct err *e)
{
	/* comm may hold spaces and parentheses: it ends at the last ')'. */
	const char *open = strchr(text, '('), *close = strrchr(text, ')');
	unsigned long long f[64];
	const char *p;
	int n = 0;

	memset(st, 0, sizeof(*st));
	if (!open || !close || close < open)
		return err_input(e, "bad stat line '%.80s'", text);
	st->pid = atoi(text);
	snprintf(st->comm, sizeof(st->comm), "%.*s", (int)(close - open - 1), open + 1);
	p = close + 1;
	while (*p == ' ')
		p++;
	st->state = *p;
	if (*p)
		p++;
	/* Fields from ppid (4) on, numbered as in proc(5). */
	while (*p && n < 64) {
		char *end;

		while (*p == ' ')
			p++;
		if (!*p || *p == '\n')
			break;
		f[n++] = strtoull(p, &end, 10);
		if (end == p) {
			/* Negative fields (priority, nice) parse as signed. */
			long long sv = strtoll(p, &end, 10);
			if (end == p)
				return err_input(e, "bad stat field %d in '%.80s'", n + 3, text);
			f[n - 1] = (unsigned long long)sv;
		}
		p = end;
	}
	if (n < 52 - 3)
		return err_input(e, "stat line has %d fields, want 52", n + 3);
#define F(num) f[(num) - 4]
	st->ppid = F(4);
	st->pgrp = F(5);
	st->session = F(6);
	st->tty_nr = F(7);
	st->tpgid = (pid_t)F(8);
	st->flags = F(9);
	st->num_threads = F(20);
	st->start_time = F(22);
	st->start_code = F(26);
	st->end_code = F(27);
	st->start_stack = F(28);
	st->start_data = F(45);
	st->end_data = F(46);
	st->start_brk = F(47);
	st->arg_start = F(48);
	st->arg_end = F(49);
	st->env_start = F(50);
	st->env_end = F(51);
	st->exit_code = F(52);
#undef F
	return 0;
}

/* One value of a limits line: a number or "unlimited". */
static int proc_limit_value(const char **p, uint64_t *v)
{
	char *end;

	*p += strspn(*p, " ");
	if (!strncmp(*p, "unlimited", 9)) {
		*v = UINT64_MAX;
		*p += 9;
		return 0;
	}
	if (**p < '0' || **p > '9')
		return -1;
	errno = 0;
	*v = strtoull(*p, &end, 10);
	if (errno)
		return -1;
	*p = end;
	return 0;
}

int proc_parse_limits(const char *text, struct proc_rlimit lim[PROC_NR_RLIMITS], struct err *e)
{
	/* The kernel prints "%-25s %-20s %-20s %-10s" per resource, after a
	 * header line; names hold blanks, so the values are found by column. */
	const char *line = strchr(text, '\n');
	int n = 0;

	while (line && line[1] && n < PROC_NR_RLIMITS) {
		const char *p = line + 1;
		const char *eol = strchr(p, '\n');

		if (!eol || eol - p < 26)
			return err_input(e, "/proc limits: line %d is cut short", n + 2);
		p += 26;
		if (proc_limit_value(&p, &lim[n].cur) < 0 || proc_limit_value(&p, &lim[n].max) < 0 || p > eol)
			return err_input(e, "/proc limits: line %d has no soft and hard value", n + 2);
		n++;
		line = eol;
	}
	if (n != PROC_NR_RLIMITS)
		return err_input(e, "/proc limits: %d resources, not %d", n, PROC_NR_RLIMITS);
	return 0;
}

int proc_read_limits(pid_t pid, struct proc_rlimit lim[PROC_NR_RLIMITS], struct err *e)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/limits", pid);
	if ((ret = proc_read_file(path, &text, NULL, e)) < 0)
		return ret;
	if ((ret = proc_parse_limits(text, lim, e)) < 0)
		return err_wrap(e, "'%s'", path);
	return 0;
}

static int proc_int_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int proc_list_fds(pid_t pid, int **fds, int *nr, struct err *e)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_free_ int *v = NULL;
	struct dirent *de;
	char path[64];
	size_t cap = 0;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return err_errno(e, "list the descriptors of pid %d ('%s')", pid, path);
	while ((errno = 0, de = readdir(d))) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);

		if (de->d_name[0] == '.' || *end || fd < 0 || fd > INT_MAX)
			continue;
		if (grow_cap(&v, &cap, (size_t)n + 1) < 0)
			return err_errno(e, "list the descriptors of pid %d", pid);
		v[n++] = fd;
	}
	if (errno)
		return err_errno(e, "list the descriptors of pid %d ('%s')", pid, path);
	if (n)
		qsort(v, n, sizeof(*v), proc_int_cmp);
	*fds = TAKE_PTR(v);
	*nr = n;
	return 0;
}

bool proc_read_number(pid_t pid, const char *name, long long *v)
{
	char path[64], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return sscanf(buf, "%lld", v) == 1;
}

int proc_read_stat(pid_t pid, pid_t tid, struct proc_stat *st, struct err *e)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid ? tid : pid);
	if ((ret = proc_read_file(path, &text, NULL, e)) < 0)
		return ret;
	if ((ret = proc_parse_stat(text, st, e)) < 0)
		return err_wrap(e, "'%s'", path);
	return 0;
}

static uint64_t proc_hex(const char *s) { return strtoull(s, NULL, 16); }

int proc_parse_status(const char *text, struct proc_status *st, struct err *e)
{
	const char *line = text;
	int seen = 0;

	memset(st, 0, sizeof(*st));
	st->seccomp = -1;
	st->umask = 022;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		const char *colon = strchr(line, ':');
		char key[32], val[512];
		size_t kl;

		if (!colon || (nl && colon > nl))
			goto next;
		kl = colon - line;
		if (kl >= sizeof(key))
			goto next;
		memcpy(key, line, kl);
		key[kl] = 0;
		colon++;
		while (*colon == ' ' || *colon == '\t')
			colon++;
		snprintf(val, sizeof(val), "%.*s", (int)(nl ? nl - colon : (long)strlen(colon)), colon);

		if (!strcmp(key, "Name")) snprintf(st->name, sizeof(st->name), "%.63s", val), seen++;
		else if (!strcmp(key, "Umask")) st->umask = strtoul(val, NULL, 8);
		else if (!strcmp(key, "State")) st->state = val[0];
		else if (!strcmp(key, "Tgid")) st->tgid = atoi(val);
		else if (!strcmp(key, "Pid")) st->pid = atoi(val), seen++;
		else if (!strcmp(key, "PPid")) st->ppid = atoi(val);
		else if (!strcmp(key, "TracerPid")) st->tracer = atoi(val);
		else if (!strcmp(key, "Uid")) sscanf(val, "%u %u %u %u", &st->uid[0], &st->uid[1], &st->uid[2], &st->uid[3]), seen++;
		else if (!strcmp(key, "Gid")) sscanf(val, "%u %u %u %u", &st->gid[0], &st->gid[1], &st->gid[2], &st->gid[3]), seen++;
		else if (!strcmp(key, "Threads")) st->threads = atoi(val);
		else if (!strcmp(key, "SigPnd")) st->sigpnd = proc_hex(val);
		else if (!strcmp(key, "ShdPnd")) st->shdpnd = proc_hex(val);
		else if (!strcmp(key, "SigBlk")) st->sigblk = proc_hex(val);
		else if (!strcmp(key, "SigIgn")) st->sigign = proc_hex(val);
		else if (!strcmp(key, "SigCgt")) st->sigcgt = proc_hex(val);
		else if (!strcmp(key, "CapInh")) st->capinh = proc_hex(val);
		else if (!strcmp(key, "CapPrm")) st->capprm = proc_hex(val);
		else if (!strcmp(key, "CapEff")) st->capeff = proc_hex(val);
		else if (!strcmp(key, "CapBnd")) st->capbnd = proc_hex(val);
		else if (!strcmp(key, "CapAmb")) st->capamb = proc_hex(val);
		else if (!strcmp(key, "Seccomp")) st->seccomp = atoi(val);
		else if (!strcmp(key, "NoNewPrivs")) st->no_new_privs = atoi(val);
		else if (!strcmp(key, "NSpgid") || !strcmp(key, "NSsid")) {
			const char *last = strrchr(val, '\t') ? strrchr(val, '\t') + 1 : strrchr(val, ' ') ? strrchr(val, ' ') + 1 : val;

			*(key[2] == 'p' ? &st->ns_pgid : &st->ns_sid) = atoi(last);
		}
		else if (!strcmp(key, "NSpid")) {
			char *p = val, *end;

			st->nr_nspid = 0;
			while (st->nr_nspid < 8) {
				long v = strtol(p, &end, 10);
				if (end == p)
					break;
				st->nspid[st->nr_nspid++] = v;
				p = end;
			}
		}
next:
		line = nl ? nl + 1 : NULL;
	}
	if (seen < 4)
		return err_input(e, "status text lacks Name, Pid, Uid or Gid");
	return 0;
}

int proc_read_status(pid_t pid, pid_t tid, struct proc_status *st, struct err *e)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid ? tid : pid);
	if ((ret = proc_read_file(path, &text, NULL, e)) < 0)
		return ret;
	if ((ret = proc_parse_status(text, st, e)) < 0)
		return err_wrap(e, "'%s'", path);
	return 0;
}

int proc_parse_fdinfo(const char *text, struct proc_fdinfo *fi, struct err *e)
{
	const char *p;
	int seen = 0;

	memset(fi, 0, sizeof(*fi));
	fi->mnt_id = -1;
	fi->tty_index = -1;
	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, "pos:", 4))
			fi->pos = strtoull(p + 4, NULL, 10), seen++;
		else if (!strncmp(p, "flags:", 6))
			fi->flags = strtoul(p + 6, NULL, 8), seen++;
		else if (!strncmp(p, "mnt_id:", 7))
			fi->mnt_id = atoi(p + 7);
		else if (!strncmp(p, "ino:", 4))
			fi->ino = strtoull(p + 4, NULL, 10);
		else if (!strncmp(p, "tty-index:", 10))
			fi->tty_index = atoi(p + 10);
		else if (!strncmp(p, "lock:", 5) && fi->nr_locks < PROC_MAX_LOCKS) {
			/* "lock:\t1: POSIX  ADVISORY  WRITE 16195 fe:00:10952907 10 29" */
			char kind[16], mode[16], type[16], end[32];
			unsigned long long start;
			struct proc_lock *l = &fi->locks[fi->nr_locks];

			if (sscanf(p + 5, " %*d: %15s %15s %15s %*d %*s %llu %31s", kind, mode, type, &start, end) != 5)
				return err_input(e, "bad fdinfo lock line '%.80s'", p);
			l->kind = !strcmp(kind, "FLOCK") ? PROC_LOCK_FLOCK : !strcmp(kind, "POSIX") ? PROC_LOCK_POSIX :
				  !strcmp(kind, "OFDLCK") ? PROC_LOCK_OFD : PROC_LOCK_OTHER;
			l->write = !strcmp(type, "WRITE");
			l->start = start;
			l->len = !strcmp(end, "EOF") ? 0 : strtoull(end, NULL, 10) - start + 1;
			fi->nr_locks++;
		}
	}
	if (seen < 2)
		return err_input(e, "fdinfo text lacks pos or flags");
	return 0;
}

int proc_parse_fdinfo_anon(const char *text, struct proc_fdinfo_anon *a, struct err *e)
{
	const char *p;

	memset(a, 0, sizeof(*a));
	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		/* eventfd-count and sigmask are hexadecimal, the timerfd lines decimal. */
		if (!strncmp(p, "eventfd-count:", 14))
			a->eventfd = true, a->eventfd_count = strtoull(p + 14, NULL, 16);
		else if (!strncmp(p, "eventfd-semaphore:", 18))
			a->eventfd_semaphore = atoi(p + 18) != 0;
		else if (!strncmp(p, "sigmask:", 8))
			a->signalfd = true, a->sigmask = strtoull(p + 8, NULL, 16);
		else if (!strncmp(p, "clockid:", 8))
			a->timerfd = true, a->clockid = atoi(p + 8);
		else if (!strncmp(p, "ticks:", 6))
			a->ticks = strtoull(p + 6, NULL, 10);
		else if (!strncmp(p, "settime flags:", 14))
			a->settime_flags = strtoul(p + 14, NULL, 8);
		else if (!strncmp(p, "it_value:", 9) &&
			 sscanf(p + 9, " (%" SCNu64 ", %" SCNu64 ")", &a->value_sec, &a->value_nsec) != 2)
			return err_input(e, "bad timerfd it_value line '%.60s'", p);
		else if (!strncmp(p, "tfd:", 4)) {
			int tfd;
			unsigned int events;
			unsigned long long data;

			/* "tfd: %8d events: %8x data: %16llx ..." */
			if (sscanf(p + 4, " %d events: %x data: %llx", &tfd, &events, &data) != 3) {
				proc_fdinfo_anon_free(a);
				return err_input(e, "bad epoll line '%.60s'", p);
			}
			if (grow_one(&a->tfd, a->nr_tfd) < 0) {
				proc_fdinfo_anon_free(a);
				return err_errno(e, "parse epoll registrations");
			}
			a->tfd[a->nr_tfd].tfd = tfd;
			a->tfd[a->nr_tfd].events = events;
			a->tfd[a->nr_tfd].data = data;
			a->nr_tfd++;
			a->epoll = true;
		}
		else if (!strncmp(p, "it_interval:", 12) &&
			 sscanf(p + 12, " (%" SCNu64 ", %" SCNu64 ")", &a->interval_sec, &a->interval_nsec) != 2)
			return err_input(e, "bad timerfd it_interval line '%.60s'", p);
	}
	if (a->eventfd + a->signalfd + a->timerfd + a->epoll > 1 || (!a->eventfd && !a->signalfd && !a->timerfd && !a->epoll)) {
		proc_fdinfo_anon_free(a);
		return err_input(e, "fdinfo text is not that of one eventfd, signalfd, timerfd or epoll");
	}
	return 0;
}

int proc_parse_fdinfo_inotify(const char *text, struct proc_inotify_watch **w, int *nr, struct err *e)
{
	const char *p;

	*w = NULL;
	*nr = 0;
	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		struct proc_inotify_watch x = { 0 };
		unsigned long long ino;
		int used = 0;

		if (strncmp(p, "inotify wd:", 11))
			continue;
		/* Every number on the line is hexadecimal. */
		if (sscanf(p, "inotify wd:%x ino:%llx sdev:%x mask:%x ignored_mask:%x fhandle-bytes:%x fhandle-type:%x f_handle:%n",
			   (unsigned int *)&x.wd, &ino, &x.sdev, &x.mask, &x.ignored_mask, &x.handle_bytes,
			   (unsigned int *)&x.handle_type, &used) != 7 || !used || x.handle_bytes > PROC_HANDLE_MAX) {
			free(*w);
			*w = NULL;
			*nr = 0;
			return err_input(e, "bad inotify line '%.80s'", p);
		}
		x.ino = ino;
		for (unsigned int i = 0; i < x.handle_bytes; i++) {
			unsigned int byte;

			if (sscanf(p + used + 2 * i, "%2x", &byte) != 1) {
				free(*w);
				*w = NULL;
				*nr = 0;
				return err_input(e, "inotify line '%.80s' has a file handle shorter than %u bytes", p, x.handle_bytes);
			}
			x.handle[i] = byte;
		}
		if (grow_one(w, *nr) < 0) {
			free(*w);
			*w = NULL;
			*nr = 0;
			return err_errno(e, "parse inotify watches");
		}
		(*w)[(*nr)++] = x;
	}
	return 0;
}

void proc_fdinfo_anon_free(struct proc_fdinfo_anon *a)
{
	free(a->tfd);
	a->tfd = NULL;
	a->nr_tfd = 0;
}

int proc_read_fdinfo(pid_t pid, int fd, struct proc_fdinfo *fi, struct err *e)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	if ((ret = proc_read_file(path, &text, NULL, e)) < 0)
		return ret;
	if ((ret = proc_parse_fdinfo(text, fi, e)) < 0)
		return err_wrap(e, "'%s'", path);
	return 0;
}

static int proc_pid_cmp(const void *a, const void *b)
{
	return *(const pid_t *)a - *(const pid_t *)b;
}

int proc_parse_pid_list(const char *text, pid_t **pids, int *nr, struct err *e)
{
	pid_t *arr = NULL;
	size_t cap = 0;
	int n = 0;
	const char *p = text;

	for (;;) {
		char *end;
		long v;

		while (*p == ' ' || *p == '\n')
			p++;
		if (!*p)
			break;
		errno = 0;
		v = strtol(p, &end, 10);
		if (end == p || v <= 0 || v > INT_MAX || errno == ERANGE) {
			free(arr);
			return err_input(e, "bad pid list '%.80s'", text);
		}
		if (grow_cap(&arr, &cap, (size_t)n + 1) < 0) {
			free(arr);
			return err_errno(e, "parse pid list");
		}
		arr[n++] = v;
		p = end;
	}
	*pids = arr;
	*nr = n;
	return 0;
}

int proc_list_threads(pid_t pid, pid_t **tids, int *nr, struct err *e)
{
	char path[64];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	pid_t *arr = NULL;
	size_t cap = 0;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return err_errno(e, "list the threads of pid %d ('%s')", pid, path);
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (grow_cap(&arr, &cap, (size_t)n + 1) < 0) {
			free(arr);
			return err_errno(e, "list threads of %d", pid);
		}
		arr[n++] = atoi(de->d_name);
	}
	qsort(arr, n, sizeof(*arr), proc_pid_cmp);
	*tids = arr;
	*nr = n;
	return 0;
}

int proc_read_children(pid_t pid, pid_t tid, pid_t **kids, int *nr, struct err *e)
{
	char path[80];
	_cleanup_free_ char *text = NULL;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, tid);
	if ((ret = proc_read_file(path, &text, NULL, e)) < 0)
		return ret;
	return proc_parse_pid_list(text, kids, nr, e);
}
