/* rjournal: see rjournal.h. */
#include <endian.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/journal.pb-c.h"
#include "images/rjournal.h"
#include "lib/cleanup.h"
#include "lib/exitcodes.h"
#include "lib/frame.h"

static int rjournal_watch_begin(struct rsys_watch *w, pid_t tid, const struct user_regs_struct *regs, uint64_t mask,
				struct err *e)
{
	return rjournal_thread((struct rjournal *)w, tid, regs, mask, e);
}

static int rjournal_watch_done(struct rsys_watch *w, pid_t tid, struct err *e)
{
	return rjournal_thread_done((struct rjournal *)w, tid, e);
}

static void rjournal_watch_changed(struct rsys_watch *w)
{
	rjournal_changed((struct rjournal *)w);
}

void rjournal_init(struct rjournal *j, long die_after)
{
	memset(j, 0, sizeof(*j));
	j->watch.begin = rjournal_watch_begin;
	j->watch.done = rjournal_watch_done;
	j->watch.changed = rjournal_watch_changed;
	j->fd = -1;
	j->die_after = die_after > 0 ? die_after : 0;
}

int rjournal_create(struct rjournal *j, int dirfd, const char *name, struct err *e)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return err_errno(e, "create the journal '%s'", name);
	if (j->fd >= 0)
		close(j->fd);
	j->fd = fd;
	return 0;
}

void rjournal_close(struct rjournal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
}

/* Writes one record with one write(2): before the change it announces. */
static int rjournal_write(struct rjournal *j, JournalEntry *je, struct err *e)
{
	if (!j || j->fd < 0)
		return 0;
	return frame_write_msg(j->fd, &je->base, RJOURNAL_NAME, e);
}

int rjournal_process(struct rjournal *j, pid_t pid, uint64_t start_time, struct err *e)
{
	JournalEntry je = JOURNAL_ENTRY__INIT;

	je.kind = JOURNAL_KIND__JOURNAL_PROCESS;
	je.has_pid = je.has_start_time = true;
	je.pid = pid;
	je.start_time = start_time;
	return rjournal_write(j, &je, e);
}

int rjournal_gadget(struct rjournal *j, uint64_t addr, const void *orig, size_t len, struct err *e)
{
	JournalEntry je = JOURNAL_ENTRY__INIT;

	if (len > RJOURNAL_MAX_ORIG)
		return err_set(e, EXIT_FAILURE_, "internal: a gadget of %zu bytes, over %d", len, RJOURNAL_MAX_ORIG);
	je.kind = JOURNAL_KIND__JOURNAL_GADGET;
	je.has_addr = je.has_orig = true;
	je.addr = addr;
	je.orig.data = (uint8_t *)orig;
	je.orig.len = len;
	return rjournal_write(j, &je, e);
}

int rjournal_gadget_gone(struct rjournal *j, struct err *e)
{
	JournalEntry je = JOURNAL_ENTRY__INIT;

	je.kind = JOURNAL_KIND__JOURNAL_GADGET_GONE;
	return rjournal_write(j, &je, e);
}

int rjournal_thread(struct rjournal *j, pid_t tid, const struct user_regs_struct *regs, uint64_t mask, struct err *e)
{
	JournalEntry je = JOURNAL_ENTRY__INIT;

	je.kind = JOURNAL_KIND__JOURNAL_THREAD;
	je.has_tid = je.has_regs = je.has_sigmask = true;
	je.tid = tid;
	je.regs.data = (uint8_t *)regs;
	je.regs.len = sizeof(*regs);
	je.sigmask = mask;
	return rjournal_write(j, &je, e);
}

int rjournal_thread_done(struct rjournal *j, pid_t tid, struct err *e)
{
	JournalEntry je = JOURNAL_ENTRY__INIT;

	je.kind = JOURNAL_KIND__JOURNAL_THREAD_DONE;
	je.has_tid = true;
	je.tid = tid;
	return rjournal_write(j, &je, e);
}

int rjournal_mapping(struct rjournal *j, pid_t tid, uint64_t len, struct err *e)
{
	JournalEntry je = JOURNAL_ENTRY__INIT;

	je.kind = JOURNAL_KIND__JOURNAL_MAPPING;
	je.has_tid = je.has_len = true;
	je.tid = tid;
	je.len = len;
	return rjournal_write(j, &je, e);
}

int rjournal_mapping_at(struct rjournal *j, uint64_t addr, struct err *e)
{
	JournalEntry je = JOURNAL_ENTRY__INIT;

	je.kind = JOURNAL_KIND__JOURNAL_MAPPING_AT;
	je.has_addr = true;
	je.addr = addr;
	return rjournal_write(j, &je, e);
}

int rjournal_mapping_gone(struct rjournal *j, struct err *e)
{
	JournalEntry je = JOURNAL_ENTRY__INIT;

	je.kind = JOURNAL_KIND__JOURNAL_MAPPING_GONE;
	return rjournal_write(j, &je, e);
}

void rjournal_changed(struct rjournal *j)
{
	if (!j)
		return;
	j->changes++;
	if (j->die_after && j->changes == j->die_after)
		kill(getpid(), SIGKILL);
}

/* The thread tid of p, added if new (a thread begun again starts afresh). */
static struct rjournal_thread *rjournal_thread_of(struct rjournal_proc *p, pid_t tid, bool add)
{
	struct rjournal_thread *nt;

	for (int i = 0; i < p->nr_threads; i++)
		if (p->threads[i].tid == tid)
			return &p->threads[i];
	if (!add || !(nt = realloc(p->threads, sizeof(*nt) * (p->nr_threads + 1))))
		return NULL;
	p->threads = nt;
	memset(&nt[p->nr_threads], 0, sizeof(nt[0]));
	nt[p->nr_threads].tid = tid;
	return &nt[p->nr_threads++];
}

/* Applies one record to the state; <0 on a record that makes no sense. */
static int rjournal_apply(struct rjournal_state *s, const JournalEntry *je, const char *what, int nr, struct err *e)
{
	struct rjournal_proc *p = s->nr ? &s->procs[s->nr - 1] : NULL;
	struct rjournal_thread *t;

	if (je->kind == JOURNAL_KIND__JOURNAL_PROCESS) {
		struct rjournal_proc *np = realloc(s->procs, sizeof(*np) * (s->nr + 1));

		if (!np)
			return err_errno(e, "'%s': remember record %d", what, nr);
		s->procs = np;
		memset(&np[s->nr], 0, sizeof(np[0]));
		np[s->nr].pid = je->pid;
		np[s->nr].start_time = je->start_time;
		s->nr++;
		return 0;
	}
	if (!p)
		return err_input(e, "'%s': record %d comes before any process record", what, nr);
	switch (je->kind) {
	case JOURNAL_KIND__JOURNAL_GADGET:
		if (je->orig.len > RJOURNAL_MAX_ORIG)
			return err_input(e, "'%s': record %d: a gadget over %zu bytes", what, nr, je->orig.len);
		p->gadget = je->addr;
		memcpy(p->orig, je->orig.data, je->orig.len);
		p->orig_len = je->orig.len;
		p->gadget_gone = false;
		return 0;
	case JOURNAL_KIND__JOURNAL_GADGET_GONE:
		p->gadget_gone = true;
		return 0;
	case JOURNAL_KIND__JOURNAL_MAPPING:
		p->mapping = true;
		p->mapping_tid = je->tid;
		p->mapping_len = je->len;
		p->mapping_addr = 0;
		p->mapping_gone = false;
		return 0;
	case JOURNAL_KIND__JOURNAL_MAPPING_AT:
		p->mapping_addr = je->addr;
		return 0;
	case JOURNAL_KIND__JOURNAL_MAPPING_GONE:
		p->mapping_gone = true;
		return 0;
	case JOURNAL_KIND__JOURNAL_THREAD:
		if (je->regs.len != sizeof(t->regs))
			return err_input(e, "'%s': record %d: registers of %zu bytes, want %zu", what, nr, je->regs.len,
					 sizeof(t->regs));
		if (!(t = rjournal_thread_of(p, je->tid, true)))
			return err_errno(e, "'%s': remember record %d", what, nr);
		memcpy(&t->regs, je->regs.data, sizeof(t->regs));
		t->mask = je->sigmask;
		t->done = false;
		return 0;
	case JOURNAL_KIND__JOURNAL_THREAD_DONE:
		if ((t = rjournal_thread_of(p, je->tid, false)))
			t->done = true;
		return 0;
	default:
		return err_input(e, "'%s': record %d has unknown kind %d", what, nr, je->kind);
	}
}

int rjournal_load(int fd, const char *what, struct rjournal_state *s, struct err *e)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t size = 0, cap = 0, pos = 0;
	int nr = 0, ret = 0;

	memset(s, 0, sizeof(*s));
	for (;;) {
		ssize_t got;

		if (size == cap) {
			uint8_t *nb = realloc(buf, cap = cap ? cap * 2 : 65536);

			if (!nb)
				return err_errno(e, "read '%s'", what);
			buf = nb;
		}
		got = read(fd, buf + size, cap - size);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return err_errno(e, "read '%s'", what);
		if (got == 0)
			break;
		size += got;
	}
	while (ret == 0 && size - pos >= 4) {
		uint32_t len;
		JournalEntry *je;

		memcpy(&len, buf + pos, 4);
		len = le32toh(len);
		/* The writer died while writing it: its change was never made. */
		if (size - pos - 4 < len)
			break;
		je = journal_entry__unpack(NULL, len, buf + pos + 4);
		if (!je)
			return err_input(e, "'%s': record %d at byte %zu is not a journal record", what, nr, pos);
		ret = rjournal_apply(s, je, what, nr, e);
		journal_entry__free_unpacked(je, NULL);
		pos += 4 + len;
		nr++;
	}
	s->cut_short = ret == 0 && pos < size;
	return ret;
}

void rjournal_state_free(struct rjournal_state *s)
{
	for (int i = 0; i < s->nr; i++)
		free(s->procs[i].threads);
	free(s->procs);
	memset(s, 0, sizeof(*s));
}

bool rjournal_pending(const struct rjournal_state *s)
{
	for (int i = 0; i < s->nr; i++) {
		const struct rjournal_proc *p = &s->procs[i];

		if ((p->gadget && !p->gadget_gone) || (p->mapping && !p->mapping_gone))
			return true;
		for (int k = 0; k < p->nr_threads; k++)
			if (!p->threads[k].done)
				return true;
	}
	return false;
}

bool rjournal_touched(const struct rjournal_state *s)
{
	for (int i = 0; i < s->nr; i++)
		if (s->procs[i].gadget || s->procs[i].mapping || s->procs[i].nr_threads)
			return true;
	return false;
}
