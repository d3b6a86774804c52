/* pstree: see pstree.h. */
#include <stdlib.h>
#include <string.h>

#include "lib/pstree.h"

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
