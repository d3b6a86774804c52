/* verify/task.c: each process's place in the tree and each thread's state,
 * read with the collectors the dump uses (images/collect.h, lib/proc.h)
 * and compared with pstree.img and core-TID.img. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "images/collect.h"
#include "images/image.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "stages/verify/verify.h"

/* Where thread 'tid' (as the images name it) of process t is here: the
 * same number unless the tree is in a pid namespace of its own, where the
 * last NSpid of each thread tells. 0 if it has none. */
static pid_t vf_host_tid(const struct vf_task *t, uint32_t tid, struct err *e)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	char path[64];

	if ((uint32_t)t->host == t->pe->pid)
		return tid;
	snprintf(path, sizeof(path), "/proc/%d/task", t->host);
	if (!(d = opendir(path)))
		return err_errno(e, "list the threads of pid %d ('%s')", t->host, path);
	while ((de = readdir(d))) {
		struct proc_status st;
		struct err ignored;
		pid_t h = atoi(de->d_name);

		if (h > 0 && proc_read_status(t->host, h, &st, &ignored) == 0 && st.nr_nspid &&
		    (uint32_t)st.nspid[st.nr_nspid - 1] == tid)
			return h;
	}
	return 0;
}

/* The signals a queue of siginfos holds, as a status mask (bit signo-1). */
static uint64_t vf_sigset(SiginfoEntry **q, size_t n)
{
	uint64_t m = 0;

	for (size_t i = 0; i < n; i++) {
		int signo;

		if (q[i]->siginfo.len < sizeof(signo))
			continue;
		memcpy(&signo, q[i]->siginfo.data, sizeof(signo));
		if (signo >= 1 && signo <= 64)
			m |= 1ULL << (signo - 1);
	}
	return m;
}

/* Pending signals: every dumped one must be pending again; one pending
 * now and not at dump was sent while the restore ran (by anyone who knew
 * the pid), which is the world's doing, not the restore's: said, not
 * counted. */
static void vf_pending(struct vf *v, const char *what, uint64_t dumped, uint64_t now)
{
	vf_checked(v);
	if (dumped & ~now)
		vf_diff(v, "%s: dumped %#llx, restored %#llx (signals lost)", what, (unsigned long long)dumped,
			(unsigned long long)now);
	else if (now & ~dumped)
		pr_info("%s: %#llx pending now besides the dumped %#llx: sent while the restore ran", what,
			(unsigned long long)(now & ~dumped), (unsigned long long)dumped);
}

/* What the sigactions make of status's SigIgn and SigCgt. */
static void vf_sigactions(const CoreEntry *c, uint64_t *ign, uint64_t *cgt)
{
	*ign = *cgt = 0;
	for (size_t i = 0; i < c->n_sigactions; i++) {
		const SigactionEntry *s = c->sigactions[i];

		if (s->sig < 1 || s->sig > 64)
			continue;
		if (s->handler == (uint64_t)(uintptr_t)SIG_IGN)
			*ign |= 1ULL << (s->sig - 1);
		else if (s->handler != (uint64_t)(uintptr_t)SIG_DFL)
			*cgt |= 1ULL << (s->sig - 1);
	}
}

static void vf_creds(struct vf *v, const char *who, const CredsEntry *d, const CredsEntry *r)
{
	char what[128];
	const struct { const char *name; uint64_t d, r; } f[] = {
		{ "uid", d->uid, r->uid }, { "euid", d->euid, r->euid }, { "suid", d->suid, r->suid },
		{ "fsuid", d->fsuid, r->fsuid }, { "gid", d->gid, r->gid }, { "egid", d->egid, r->egid },
		{ "sgid", d->sgid, r->sgid }, { "fsgid", d->fsgid, r->fsgid }, { "no_new_privs", d->no_new_privs, r->no_new_privs },
	};
	const struct { const char *name; uint64_t d, r; } caps[] = {
		{ "CapInh", d->cap_inh, r->cap_inh }, { "CapPrm", d->cap_prm, r->cap_prm },
		{ "CapEff", d->cap_eff, r->cap_eff }, { "CapBnd", d->cap_bnd, r->cap_bnd },
		{ "CapAmb", d->cap_amb, r->cap_amb },
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		snprintf(what, sizeof(what), "%s: credentials: %s", who, f[i].name);
		vf_num(v, what, f[i].d, f[i].r);
	}
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		snprintf(what, sizeof(what), "%s: credentials: %s", who, caps[i].name);
		vf_hex(v, what, caps[i].d, caps[i].r);
	}
	snprintf(what, sizeof(what), "%s: credentials: number of supplementary groups", who);
	vf_num(v, what, d->n_groups, r->n_groups);
	for (size_t i = 0; i < d->n_groups && i < r->n_groups; i++) {
		snprintf(what, sizeof(what), "%s: credentials: supplementary group %zu", who, i);
		vf_num(v, what, d->groups[i], r->groups[i]);
	}
}

static void vf_sched(struct vf *v, const char *who, const SchedEntry *d, const SchedEntry *r)
{
	char what[128];

	snprintf(what, sizeof(what), "%s: scheduling policy", who);
	vf_num(v, what, d->policy, r->policy);
	snprintf(what, sizeof(what), "%s: scheduling flags", who);
	vf_hex(v, what, d->flags, r->flags);
	snprintf(what, sizeof(what), "%s: nice", who);
	vf_num(v, what, (uint32_t)d->nice, (uint32_t)r->nice);
	snprintf(what, sizeof(what), "%s: real-time priority", who);
	vf_num(v, what, d->priority, r->priority);
	snprintf(what, sizeof(what), "%s: deadline runtime", who);
	vf_num(v, what, d->runtime, r->runtime);
	snprintf(what, sizeof(what), "%s: deadline", who);
	vf_num(v, what, d->deadline, r->deadline);
	snprintf(what, sizeof(what), "%s: deadline period", who);
	vf_num(v, what, d->period, r->period);
}

/* One thread: comm, signal mask and pending signals, credentials,
 * scheduling; for the leader also what is the process's. */
static int vf_thread(struct vf *v, const struct vf_task *t, uint32_t tid, bool leader, struct err *e)
{
	_cleanup_free_ char *comm = NULL;
	CoreEntry *c = NULL;
	struct proc_status st;
	CredsEntry cr;
	SchedEntry se;
	char name[64], who[64], what[160], path[96];
	pid_t h;
	int ret, seccomp = 0;

	snprintf(who, sizeof(who), "pid %u thread %u", t->pe->pid, tid);
	if ((h = vf_host_tid(t, tid, e)) < 0)
		return h;
	vf_checked(v);
	if (!h) {
		vf_diff(v, "%s: thread: dumped, not restored", who);
		return 0;
	}
	snprintf(name, sizeof(name), "core-%u.img", tid);
	if ((ret = image_read_one(v->dir_fd, "core", name, (ProtobufCMessage **)&c, e)) < 0)
		return ret;
	ret = proc_read_status(t->host, h, &st, e);
	if (ret == 0) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", t->host, h);
		ret = proc_read_file(path, &comm, NULL, e);
	}
	if (ret < 0)
		goto out;
	comm[strcspn(comm, "\n")] = 0;
	if (c->comm) {
		snprintf(what, sizeof(what), "%s: comm", who);
		vf_str(v, what, c->comm, comm);
	}
	snprintf(what, sizeof(what), "%s: blocked signals (SigBlk)", who);
	vf_hex(v, what, c->sigmask, st.sigblk);
	snprintf(what, sizeof(what), "%s: pending signals (SigPnd)", who);
	vf_pending(v, what, vf_sigset(c->pending, c->n_pending), st.sigpnd);
	if (c->creds) {
		if ((ret = collect_creds(t->host, h, &cr, &seccomp, e)) < 0)
			goto out;
		vf_creds(v, who, c->creds, &cr);
		collect_creds_free(&cr);
		snprintf(what, sizeof(what), "%s: seccomp mode", who);
		vf_num(v, what, c->n_seccomp ? 2 : 0, seccomp);
	}
	if (c->sched) {
		if ((ret = collect_sched(h, &se, e)) < 0)
			goto out;
		vf_sched(v, who, c->sched, &se);
	}
	if (leader) {
		CoreEntry now = CORE_ENTRY__INIT;
		uint64_t ign, cgt;

		snprintf(who, sizeof(who), "pid %u", t->pe->pid);
		snprintf(what, sizeof(what), "%s: process-wide pending signals (ShdPnd)", who);
		vf_pending(v, what, vf_sigset(c->shared_pending, c->n_shared_pending), st.shdpnd);
		vf_sigactions(c, &ign, &cgt);
		if (c->n_sigactions) {
			snprintf(what, sizeof(what), "%s: ignored signals (SigIgn)", who);
			vf_hex(v, what, ign, st.sigign);
			snprintf(what, sizeof(what), "%s: caught signals (SigCgt)", who);
			vf_hex(v, what, cgt, st.sigcgt);
		}
		if ((ret = collect_rlimits(t->host, &now, e)) < 0 || (ret = collect_proc_knobs(t->host, &now, e)) < 0) {
			collect_rlimits_free(&now);
			goto out;
		}
		for (size_t i = 0; i < c->n_rlimits; i++) {
			const RlimitEntry *d = c->rlimits[i];

			if (d->resource >= now.n_rlimits)
				continue;
			snprintf(what, sizeof(what), "%s: rlimit %u soft", who, d->resource);
			vf_num(v, what, d->cur, now.rlimits[d->resource]->cur);
			snprintf(what, sizeof(what), "%s: rlimit %u hard", who, d->resource);
			vf_num(v, what, d->max, now.rlimits[d->resource]->max);
		}
		collect_rlimits_free(&now);
		if (c->has_oom_score_adj) {
			snprintf(what, sizeof(what), "%s: oom_score_adj", who);
			vf_num(v, what, (uint32_t)c->oom_score_adj, (uint32_t)now.oom_score_adj);
		}
		if (c->has_loginuid && now.has_loginuid) {
			snprintf(what, sizeof(what), "%s: loginuid", who);
			vf_num(v, what, c->loginuid, now.loginuid);
		}
	}
out:
	core_entry__free_unpacked(c, NULL);
	return ret;
}

int vf_task(struct vf *v, const struct vf_task *t, struct err *e)
{
	struct proc_status st;
	char what[128];
	int ret;

	if ((ret = proc_read_status(t->host, 0, &st, e)) < 0)
		return ret;
	if (t->pe->zombie) {
		snprintf(what, sizeof(what), "pid %u: state", t->pe->pid);
		vf_str(v, what, "Z", (char[]){ st.state, 0 });
		return 0;
	}
	/* A group or session whose leader is outside the tree (a shell's job:
	 * restore --shell-job) is the restorer's now, by design. */
	if (t->pe->ppid) {
		snprintf(what, sizeof(what), "pid %u: parent", t->pe->pid);
		vf_num(v, what, t->pe->ppid, vf_image_pid(v, st.ppid));
	}
	if (vf_in_tree(v, t->pe->pgid)) {
		snprintf(what, sizeof(what), "pid %u: process group", t->pe->pid);
		vf_num(v, what, t->pe->pgid, st.ns_pgid);
	}
	if (vf_in_tree(v, t->pe->sid)) {
		snprintf(what, sizeof(what), "pid %u: session", t->pe->pid);
		vf_num(v, what, t->pe->sid, st.ns_sid);
	}
	snprintf(what, sizeof(what), "pid %u: number of threads", t->pe->pid);
	vf_num(v, what, t->pe->n_threads, st.threads);
	for (size_t k = 0; k < t->pe->n_threads; k++)
		if ((ret = vf_thread(v, t, t->pe->threads[k], k == 0, e)) < 0)
			return ret;
	return 0;
}
