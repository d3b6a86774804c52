/* restore-tasks/creds.c: credentials and seccomp filters of one thread.
 *
 * The thread starts with amber's credentials (root, every capability) and
 * ends with the dumped ones. Order matters, because each step needs
 * privileges a later one gives up:
 *
 *  1. setgroups, then securebits NO_SETUID_FIXUP so that changing uids does
 *     not clear the capability sets (CAP_SETUID/SETGID/SETPCAP are still
 *     needed below), then setresgid/setfsgid, setresuid/setfsuid;
 *  2. capset with the dumped inheritable set (permitted and effective still
 *     full), so the dumped ambient caps can be raised (they must be in both);
 *  3. drop what is not in the dumped bounding set (needs CAP_SETPCAP);
 *  4. the dumped securebits (needs CAP_SETPCAP; after the ambient raise,
 *     which SECBIT_NO_CAP_AMBIENT_RAISE would forbid);
 *  5. the final capset: the ambient set survives as it is a subset of the
 *     new permitted and inheritable sets;
 *  6. no_new_privs; seccomp filters last of all (seccomp needs no_new_privs
 *     or CAP_SYS_ADMIN; when the thread has neither, it must have installed
 *     them before dropping the capability, so they go just before step 5).
 */
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/prctl.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/syscall.h>

#include "lib/exitcodes.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/rsys.h"
#include "stages/restore-tasks/taskstate.h"

/* capget/capset arguments, version 3 (two 32-bit halves). */
struct rt_caps {
	struct __user_cap_header_struct hdr;
	struct __user_cap_data_struct data[2];
};

/* capset in the task with the given sets. */
static int rt_capset(struct rsys *r, struct rt_task *t, uint64_t eff, uint64_t prm, uint64_t inh, const char *what, struct err *e)
{
	struct rt_caps c = { { _LINUX_CAPABILITY_VERSION_3, 0 }, {
		{ (uint32_t)eff, (uint32_t)prm, (uint32_t)inh },
		{ (uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32) } } };
	int ret;

	if ((ret = rsys_poke(t->pid, RT_SCRATCH(t), &c, sizeof(c), e)) < 0)
		return ret;
	return rt_sys(r, NULL, what, SYS_capset, RT_SCRATCH(t), RT_SCRATCH(t) + sizeof(c.hdr), 0, 0, 0, 0, e);
}

/* The thread's permitted and effective sets now (capget in the task). */
static int rt_capget(struct rsys *r, struct rt_task *t, uint64_t *eff, uint64_t *prm, struct err *e)
{
	struct rt_caps c = { { _LINUX_CAPABILITY_VERSION_3, 0 }, { { 0 } } };
	int ret;

	if ((ret = rsys_poke(t->pid, RT_SCRATCH(t), &c, sizeof(c), e)) < 0 ||
	    (ret = rt_sys(r, NULL, "read capabilities", SYS_capget, RT_SCRATCH(t), RT_SCRATCH(t) + sizeof(c.hdr),
			     0, 0, 0, 0, e)) < 0 ||
	    (ret = rsys_peek(t->pid, RT_SCRATCH(t), &c, sizeof(c), e)) < 0)
		return ret;
	*eff = c.data[0].effective | (uint64_t)c.data[1].effective << 32;
	*prm = c.data[0].permitted | (uint64_t)c.data[1].permitted << 32;
	return 0;
}

/* Step 1: groups, gids, uids (capabilities kept by NO_SETUID_FIXUP). */
static int rt_ids(struct rsys *r, struct rt_task *t, const CredsEntry *c, struct err *e)
{
	size_t glen = c->n_groups * sizeof(uint32_t);
	char what[96];
	long res;
	int ret;

	if (glen > RT_SCRATCH_SIZE)
		return err_input(e, "core-%u.img: %zu supplementary groups do not fit the scratch area", t->pe->pid, c->n_groups);
	if ((glen && (ret = rsys_poke(t->pid, RT_SCRATCH(t), c->groups, glen, e)) < 0) ||
	    (ret = rt_sys(r, NULL, "set the supplementary groups", SYS_setgroups, c->n_groups, RT_SCRATCH(t), 0, 0, 0, 0, e)) < 0 ||
	    (ret = rt_sys(r, NULL, "set securebits NO_SETUID_FIXUP while changing ids", SYS_prctl, PR_SET_SECUREBITS,
			     SECBIT_NO_SETUID_FIXUP, 0, 0, 0, 0, e)) < 0)
		return ret;
	snprintf(what, sizeof(what), "setresgid(%u, %u, %u)", c->gid, c->egid, c->sgid);
	if ((ret = rt_sys(r, NULL, what, SYS_setresgid, c->gid, c->egid, c->sgid, 0, 0, 0, e)) < 0)
		return ret;
	snprintf(what, sizeof(what), "setresuid(%u, %u, %u)", c->uid, c->euid, c->suid);
	if ((ret = rt_sys(r, NULL, what, SYS_setresuid, c->uid, c->euid, c->suid, 0, 0, 0, e)) < 0)
		return ret;
	/* setfs[ug]id return the old value, never an error: check by reading back. */
	if ((ret = rt_sys(r, NULL, "setfsgid", SYS_setfsgid, c->fsgid, 0, 0, 0, 0, 0, e)) < 0 ||
	    (ret = rt_sys(r, &res, "setfsgid", SYS_setfsgid, -1, 0, 0, 0, 0, 0, e)) < 0)
		return ret;
	if ((uint32_t)res != c->fsgid)
		return err_input(e, "pid %d: setfsgid(%u) left fsgid %ld: core-%u.img asks for an fsgid its other gids do not allow",
				 r->tid, c->fsgid, res, t->pe->pid);
	if ((ret = rt_sys(r, NULL, "setfsuid", SYS_setfsuid, c->fsuid, 0, 0, 0, 0, 0, e)) < 0 ||
	    (ret = rt_sys(r, &res, "setfsuid", SYS_setfsuid, -1, 0, 0, 0, 0, 0, e)) < 0)
		return ret;
	if ((uint32_t)res != c->fsuid)
		return err_input(e, "pid %d: setfsuid(%u) left fsuid %ld: core-%u.img asks for an fsuid its other uids do not allow",
				 r->tid, c->fsuid, res, t->pe->pid);
	return 0;
}

/* Checks the thread's credentials from outside against the image. Every
 * step succeeded, so a difference is credentials the kernel does not keep
 * as the image has them (capabilities it does not know, an effective set
 * outside the permitted one, ...): bad input, not a system failure. */
static int rt_creds_check(struct rsys *r, struct rt_task *t, const CoreEntry *core, struct err *e)
{
	const CredsEntry *c = core->creds;
	struct proc_status st;
	int ret;

	if ((ret = proc_read_status(t->pid, r->tid, &st, e)) < 0)
		return ret;
	if (st.uid[0] != c->uid || st.uid[1] != c->euid || st.uid[2] != c->suid || st.uid[3] != c->fsuid ||
	    st.gid[0] != c->gid || st.gid[1] != c->egid || st.gid[2] != c->sgid || st.gid[3] != c->fsgid)
		return err_input(e, "thread %u: uids %u %u %u %u gids %u %u %u %u after restore, want %u %u %u %u and %u %u %u %u",
				 core->tid, st.uid[0], st.uid[1], st.uid[2], st.uid[3], st.gid[0], st.gid[1], st.gid[2], st.gid[3],
				 c->uid, c->euid, c->suid, c->fsuid, c->gid, c->egid, c->sgid, c->fsgid);
	if (st.capinh != c->cap_inh || st.capprm != c->cap_prm || st.capeff != c->cap_eff ||
	    st.capbnd != c->cap_bnd || st.capamb != c->cap_amb)
		return err_input(e, "thread %u: capabilities inh %#llx prm %#llx eff %#llx bnd %#llx amb %#llx after restore, want %#llx %#llx %#llx %#llx %#llx "
				 "(core-%u.img holds sets this kernel does not keep so)",
				 core->tid, (unsigned long long)st.capinh, (unsigned long long)st.capprm,
				 (unsigned long long)st.capeff, (unsigned long long)st.capbnd, (unsigned long long)st.capamb,
				 (unsigned long long)c->cap_inh, (unsigned long long)c->cap_prm, (unsigned long long)c->cap_eff,
				 (unsigned long long)c->cap_bnd, (unsigned long long)c->cap_amb, core->tid);
	return 0;
}

int rt_creds(struct rsys *r, struct rt_task *t, const CoreEntry *core, bool *seccomp_done, struct err *e)
{
	const CredsEntry *c = core->creds;
	uint64_t eff, prm, bnd_now = 0;
	int last = cap_max_bits() - 1, ret;
	char what[96];

	*seccomp_done = false;
	if (!c)
		return 0;
	if ((ret = rt_ids(r, t, c, e)) < 0 ||
	    (ret = rt_capget(r, t, &eff, &prm, e)) < 0)
		return ret;
	/* Step 2: the inheritable set and the ambient set. */
	if ((ret = rt_capset(r, t, eff, prm, c->cap_inh, "set the inheritable capabilities", e)) < 0)
		return ret;
	for (int cap = 0; cap <= last && cap < 64; cap++) {
		if (!(c->cap_amb & (1ULL << cap)))
			continue;
		snprintf(what, sizeof(what), "raise ambient capability %d", cap);
		if ((ret = rt_sys(r, NULL, what, SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0, 0, e)) < 0)
			return ret;
	}
	/* Step 3: the bounding set can only shrink. It is read from outside
	 * (/proc status) rather than with a remote call per capability. */
	{
		struct proc_status st;

		if ((ret = proc_read_status(t->pid, r->tid, &st, e)) < 0)
			return ret;
		bnd_now = st.capbnd;
	}
	for (int cap = 0; cap <= last && cap < 64; cap++) {
		if (!(bnd_now & (1ULL << cap)) || (c->cap_bnd & (1ULL << cap)))
			continue;
		snprintf(what, sizeof(what), "drop capability %d from the bounding set", cap);
		if ((ret = rt_sys(r, NULL, what, SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0, 0, e)) < 0)
			return ret;
	}
	if (c->cap_bnd & ~bnd_now)
		pr_warn("thread %u: bounding set %#llx of the image has capabilities %#llx amber's own bounding set lacks; they stay dropped",
			core->tid, (unsigned long long)c->cap_bnd, (unsigned long long)(c->cap_bnd & ~bnd_now));
	/* Step 4. */
	snprintf(what, sizeof(what), "set securebits %#x", c->securebits);
	if ((ret = rt_sys(r, NULL, what, SYS_prctl, PR_SET_SECUREBITS, c->securebits, 0, 0, 0, 0, e)) < 0)
		return ret;
	if (c->no_new_privs &&
	    (ret = rt_sys(r, NULL, "set no_new_privs", SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0, e)) < 0)
		return ret;
	if (core->n_seccomp && !c->no_new_privs && !(c->cap_eff & (1ULL << CAP_SYS_ADMIN))) {
		if ((ret = rt_seccomp(r, t, core, e)) < 0)
			return ret;
		*seccomp_done = true;
	}
	/* Step 5. */
	if ((ret = rt_capset(r, t, c->cap_eff, c->cap_prm, c->cap_inh, "set the capabilities", e)) < 0)
		return ret;
	return rt_creds_check(r, t, core, e);
}

/* struct sock_fprog followed by the filter, as placed in the scratch area. */
struct rt_fprog {
	uint16_t len;
	uint16_t pad[3];
	uint64_t filter;
};

int rt_seccomp(struct rsys *r, struct rt_task *t, const CoreEntry *core, struct err *e)
{
	for (size_t i = 0; i < core->n_seccomp; i++) {
		const SeccompFilterEntry *f = core->seccomp[i];
		size_t len = f->filter.len;
		struct rt_fprog prog = { len / sizeof(struct sock_filter), { 0 }, RT_SCRATCH(t) + sizeof(prog) };
		char what[96];
		int ret;

		if (!len || len % sizeof(struct sock_filter) || len / sizeof(struct sock_filter) > BPF_MAXINSNS ||
		    len + sizeof(prog) > RT_SCRATCH_SIZE)
			return err_input(e, "core-%u.img: seccomp filter %zu is %zu bytes, not a whole number of up to %d instructions",
					 core->tid, i, len, BPF_MAXINSNS);
		if ((ret = rsys_poke(t->pid, RT_SCRATCH(t), &prog, sizeof(prog), e)) < 0 ||
		    (ret = rsys_poke(t->pid, prog.filter, f->filter.data, len, e)) < 0)
			return ret;
		snprintf(what, sizeof(what), "install seccomp filter %zu of %zu (%zu instructions)", i + 1,
			 core->n_seccomp, len / sizeof(struct sock_filter));
		if ((ret = rt_sys(r, NULL, what, SYS_seccomp, SECCOMP_SET_MODE_FILTER, f->has_flags ? f->flags : 0,
				     RT_SCRATCH(t), 0, 0, 0, e)) < 0)
			return err_wrap(e, "thread %u", core->tid);
	}
	return 0;
}
