/* pstree: see pstree.h. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/grow.h"
#include "images/pstree.h"

static int pstree_index(PstreeEntry **procs, int nr, uint32_t pid)
{
	for (int i = 0; i < nr; i++)
		if (procs[i]->pid == pid)
			return i;
	return -1;
}

int pstree_check_and_order(PstreeEntry **procs, int nr, struct err *e)
{
	PstreeEntry **out;
	int roots = 0, done = 0;
	char *placed;

	if (nr == 0)
		return err_input(e, "pstree.img holds no process");
	for (int i = 0; i < nr; i++) {
		PstreeEntry *p = procs[i];

		if (!p->pid)
			return err_input(e, "pstree.img record %d has pid 0", i);
		if (!p->n_threads || p->threads[0] != p->pid)
			return err_input(e, "pstree.img: pid %u does not list itself as its first thread", p->pid);
		if (!p->ppid)
			roots++;
		else if (pstree_index(procs, nr, p->ppid) < 0)
			return err_input(e, "pstree.img: the parent %u of pid %u is not in the tree", p->ppid, p->pid);
		for (int j = 0; j < nr; j++)
			for (size_t t = 0; t < procs[j]->n_threads; t++)
				for (size_t u = 0; u < p->n_threads; u++)
					if ((j != i || t != u) && procs[j]->threads[t] == p->threads[u])
						return err_input(e, "pstree.img: tid %u appears twice (pids %u and %u)",
								 p->threads[u], p->pid, procs[j]->pid);
	}
	if (roots == 0)
		return err_input(e, "pstree.img has no root: every process has a parent (pid %u's parent is %u); a parent cycle",
				 procs[0]->pid, procs[0]->ppid);
	if (roots > 1) {
		uint32_t r[2];
		int k = 0;

		for (int i = 0; i < nr && k < 2; i++)
			if (!procs[i]->ppid)
				r[k++] = procs[i]->pid;
		return err_input(e, "pstree.img has %d roots (processes without a parent: pids %u and %u), want 1",
				 roots, r[0], r[1]);
	}

	out = calloc(nr, sizeof(*out));
	placed = calloc(nr, 1);
	if (!out || !placed) {
		free(out);
		free(placed);
		return err_errno(e, "order %d processes", nr);
	}
	/* Breadth-first from the root keeps every parent ahead of its children;
	 * a cycle leaves processes unplaced. */
	for (int i = 0; i < nr; i++)
		if (!procs[i]->ppid) {
			out[done++] = procs[i];
			placed[i] = 1;
		}
	for (int head = 0; head < done; head++)
		for (int i = 0; i < nr; i++)
			if (!placed[i] && procs[i]->ppid == out[head]->pid) {
				out[done++] = procs[i];
				placed[i] = 1;
			}
	if (done != nr) {
		int i = 0;

		while (placed[i])
			i++;
		free(placed);
		free(out);
		return err_input(e, "pstree.img: %d process%s not reachable from the root: pid %u (parent %u) is in a parent cycle",
				 nr - done, nr - done == 1 ? " is" : "es are", procs[i]->pid, procs[i]->ppid);
	}
	free(placed);
	memcpy(procs, out, sizeof(*out) * nr);
	free(out);
	return 0;
}

static PstreeEntry *pstree_new_helper(uint32_t pid, uint32_t ppid, uint32_t pgid, uint32_t sid)
{
	PstreeEntry *h = malloc(sizeof(*h));
	uint32_t *threads = malloc(sizeof(*threads));

	if (!h || !threads) {
		free(h);
		free(threads);
		return NULL;
	}
	pstree_entry__init(h);
	h->pid = pid;
	h->ppid = ppid;
	h->pgid = pgid;
	h->sid = sid;
	threads[0] = pid;
	h->n_threads = 1;
	h->threads = threads;
	h->has_helper = true;
	h->helper = true;
	return h;
}

/* Appends a helper (once per pid); checks that one creator can serve all
 * the members it stands for. */
static int pstree_want_helper(PstreeEntry ***hs, int *nh, uint32_t pid, uint32_t ppid, uint32_t pgid, uint32_t sid,
			      const PstreeEntry *member, struct err *e)
{
	for (int i = 0; i < *nh; i++)
		if ((*hs)[i]->pid == pid) {
			if ((*hs)[i]->ppid != ppid)
				return err_input(e, "pstree.img: the members of session or group %u have different parents (%u and %u, "
						 "e.g. pid %u); recreating it is not supported", pid, (*hs)[i]->ppid, ppid, member->pid);
			return 0;
		}
	if (grow_one(hs, *nh) < 0 || !((*hs)[*nh] = pstree_new_helper(pid, ppid, pgid, sid)))
		return err_errno(e, "plan a helper for pid %u", pid);
	(*nh)++;
	return 0;
}

int pstree_add_helpers(PstreeEntry ***procs, int *nr, struct err *e)
{
	PstreeEntry **p = *procs, **hs = NULL, **all;
	const PstreeEntry *root = NULL;
	int nh = 0, ret = 0;

	for (int i = 0; i < *nr; i++)
		if (!p[i]->ppid)
			root = p[i];
	if (!root)
		return 0;	/* pstree_check_and_order reports it */
	for (int i = 0; ret == 0 && i < *nr; i++) {
		const PstreeEntry *t = p[i];

		if (t == root)
			continue;
		if (t->sid != root->sid && pstree_index(p, *nr, t->sid) < 0)
			ret = pstree_want_helper(&hs, &nh, t->sid, t->ppid, t->sid, t->sid, t, e);
		if (ret == 0 && t->pgid != root->pgid && t->pgid != t->sid && pstree_index(p, *nr, t->pgid) < 0)
			ret = pstree_want_helper(&hs, &nh, t->pgid, t->ppid, t->pgid, t->sid, t, e);
	}
	if (ret < 0 || !nh) {
		for (int i = 0; i < nh; i++)
			pstree_entry__free_unpacked(hs[i], NULL);
		free(hs);
		return ret;
	}
	all = malloc(sizeof(*all) * (*nr + nh));
	if (!all) {
		for (int i = 0; i < nh; i++)
			pstree_entry__free_unpacked(hs[i], NULL);
		free(hs);
		return err_errno(e, "plan %d helpers", nh);
	}
	/* Helpers first: ordering keeps input order among siblings, and a
	 * helper must exist before the members it serves. */
	memcpy(all, hs, sizeof(*all) * nh);
	memcpy(all + nh, p, sizeof(*all) * *nr);
	free(hs);
	free(p);
	*procs = all;
	*nr += nh;
	return 0;
}
