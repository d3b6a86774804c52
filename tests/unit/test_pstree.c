/* test_pstree: images/pstree.c, the checks on a dumped process tree and the
 * parents-first order collect-pstree creates it in.
 *
 * Trees are written as tables of "pid ppid tid,tid,..." rows in the order
 * pstree.img would list them. Valid shapes must come back holding the same
 * processes with every parent ahead of its children; broken ones must be
 * refused as bad input with a message that names the pid at fault. */
#include "lib/exitcodes.h"
#include "images/pstree.h"
#include "tests/unit/unit.h"

#define PSTREE_TEST_MAX 16
#define PSTREE_TEST_MAX_THREADS 4

/* One row: a process, its parent (0 for the root) and its threads, leader
 * first (0 ends the list; no threads at all when threads[0] is 0). */
struct pstree_test_row {
	uint32_t pid, ppid;
	uint32_t threads[PSTREE_TEST_MAX_THREADS];
};

struct pstree_test_case {
	const char *name;
	int nr;
	struct pstree_test_row rows[PSTREE_TEST_MAX];
	const char *want_err[3];	/* NULL for a valid tree, else substrings of the message */
};

/* Entries pointing into caller-provided storage; nothing to free. */
struct pstree_test_tree {
	PstreeEntry ent[PSTREE_TEST_MAX];
	PstreeEntry *procs[PSTREE_TEST_MAX];
	uint32_t tids[PSTREE_TEST_MAX][PSTREE_TEST_MAX_THREADS];
};

static void pstree_test_build(struct pstree_test_tree *t, const struct pstree_test_case *c)
{
	for (int i = 0; i < c->nr; i++) {
		PstreeEntry *p = &t->ent[i];
		size_t n = 0;

		pstree_entry__init(p);
		p->pid = c->rows[i].pid;
		p->ppid = c->rows[i].ppid;
		p->pgid = c->rows[i].pid;
		p->sid = c->rows[i].pid;
		while (n < PSTREE_TEST_MAX_THREADS && c->rows[i].threads[n]) {
			t->tids[i][n] = c->rows[i].threads[n];
			n++;
		}
		p->n_threads = n;
		p->threads = t->tids[i];
		t->procs[i] = p;
	}
}

/* Checks that 'procs' is a parents-first permutation of the case's rows. */
static void pstree_test_check_order(const struct pstree_test_case *c, PstreeEntry **procs)
{
	for (int i = 0; i < c->nr; i++) {
		int found = 0;

		for (int j = 0; j < c->nr; j++)
			found += procs[j]->pid == c->rows[i].pid;
		if (found != 1)
			unit_fail(__FILE__, __LINE__, "%s: pid %u is in the output %d times, want once",
				  c->name, c->rows[i].pid, found);
	}
	CHECK_INT(procs[0]->ppid, 0);
	for (int i = 1; i < c->nr; i++) {
		int parent_at = -1;

		for (int j = 0; j < c->nr; j++)
			if (procs[j]->pid == procs[i]->ppid)
				parent_at = j;
		if (parent_at < 0 || parent_at >= i)
			unit_fail(__FILE__, __LINE__, "%s: pid %u comes at %d, before its parent %u (at %d)",
				  c->name, procs[i]->pid, i, procs[i]->ppid, parent_at);
	}
}

/* Runs every case of a table. */
static void pstree_test_table(const struct pstree_test_case *cases, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		const struct pstree_test_case *c = &cases[k];
		struct pstree_test_tree t;
		struct err e = { 0 };
		int ret;

		pstree_test_build(&t, c);
		ret = pstree_check_and_order(t.procs, c->nr, &e);
		if (!c->want_err[0]) {
			if (ret != 0) {
				unit_fail(__FILE__, __LINE__, "%s: refused a valid tree: %s", c->name, e.msg);
				continue;
			}
			pstree_test_check_order(c, t.procs);
			continue;
		}
		if (ret >= 0) {
			unit_fail(__FILE__, __LINE__, "%s: accepted a broken tree (returned %d)", c->name, ret);
			continue;
		}
		if (ret != -EINVAL || e.exit_code != EXIT_INPUT)
			unit_fail(__FILE__, __LINE__, "%s: returned %d, exit class %d; want -EINVAL, bad input",
				  c->name, ret, e.exit_code);
		for (int w = 0; w < 3 && c->want_err[w]; w++)
			if (!strstr(e.msg, c->want_err[w]))
				unit_fail(__FILE__, __LINE__, "%s: message '%s' lacks '%s'", c->name, e.msg, c->want_err[w]);
	}
}

static const struct pstree_test_case pstree_valid_cases[] = {
	{ "single process", 1, { { 100, 0, { 100 } } }, { NULL } },
	{ "single process with threads", 1, { { 100, 0, { 100, 101, 102 } } }, { NULL } },
	{ "root and one child", 2, { { 100, 0, { 100 } }, { 200, 100, { 200 } } }, { NULL } },
	{ "child listed before its parent", 2, { { 200, 100, { 200 } }, { 100, 0, { 100 } } }, { NULL } },
	{ "chain listed backwards", 5, {
		{ 5, 4, { 5 } }, { 4, 3, { 4 } }, { 3, 2, { 3 } }, { 2, 1, { 2 } }, { 1, 0, { 1 } } }, { NULL } },
	{ "wide fan", 6, {
		{ 10, 0, { 10 } }, { 11, 10, { 11 } }, { 12, 10, { 12 } }, { 13, 10, { 13 } },
		{ 14, 10, { 14, 15 } }, { 16, 10, { 16 } } }, { NULL } },
	{ "deep and wide, shuffled", 9, {
		{ 33, 31, { 33 } }, { 21, 2, { 21, 22 } }, { 31, 3, { 31 } }, { 2, 1, { 2 } }, { 1, 0, { 1, 9 } },
		{ 3, 1, { 3 } }, { 211, 21, { 211 } }, { 34, 3, { 34 } }, { 212, 21, { 212 } } }, { NULL } },
	{ "root not first, pids descending", 4, {
		{ 30000, 40000, { 30000 } }, { 20000, 30000, { 20000, 20001, 20002 } },
		{ 40000, 0, { 40000 } }, { 10000, 40000, { 10000 } } }, { NULL } },
	{ "large pids", 2, { { 4194303, 0, { 4194303 } }, { 4194000, 4194303, { 4194000, 4194001 } } }, { NULL } },
};

static const struct pstree_test_case pstree_error_cases[] = {
	{ "zero processes", 0, { { 0 } }, { "pstree.img", "no process" } },
	{ "pid 0", 2, { { 100, 0, { 100 } }, { 0, 100, { 0 } } }, { "pstree.img", "pid 0" } },
	{ "no threads at all", 1, { { 100, 0, { 0 } } }, { "pstree.img", "pid 100", "first thread" } },
	{ "leader not first", 2, { { 100, 0, { 100 } }, { 200, 100, { 201, 200 } } },
		{ "pstree.img", "pid 200", "first thread" } },
	{ "two roots", 3, { { 100, 0, { 100 } }, { 200, 0, { 200 } }, { 300, 100, { 300 } } },
		{ "roots", "100", "200" } },
	{ "no root (everyone has a parent)", 2, { { 100, 200, { 100 } }, { 200, 100, { 200 } } },
		{ "pstree.img", "100", "200" } },
	{ "missing parent", 2, { { 100, 0, { 100 } }, { 200, 150, { 200 } } },
		{ "pstree.img", "pid 200", "150" } },
	{ "duplicate tid across processes", 2, { { 100, 0, { 100, 105 } }, { 200, 100, { 200, 105 } } },
		{ "tid 105", "100", "200" } },
	{ "tid equal to another pid", 2, { { 100, 0, { 100, 200 } }, { 200, 100, { 200 } } },
		{ "tid 200", "100", "200" } },
	{ "duplicate pid", 3, { { 100, 0, { 100 } }, { 200, 100, { 200 } }, { 200, 100, { 200 } } },
		{ "200", "twice" } },
	{ "duplicate tid within a process", 1, { { 100, 0, { 100, 101, 101 } } }, { "tid 101", "100" } },
	{ "parent cycle beside the root", 4, {
		{ 100, 0, { 100 } }, { 200, 300, { 200 } }, { 300, 400, { 300 } }, { 400, 200, { 400 } } },
		{ "cycle", "200", "300" } },
	{ "process its own parent", 2, { { 100, 0, { 100 } }, { 200, 200, { 200 } } }, { "cycle", "pid 200" } },
};

static void pstree_valid_trees_parents_first(void)
{
	pstree_test_table(pstree_valid_cases, UNIT_ARRAY_SIZE(pstree_valid_cases));
}

static void pstree_errors_name_the_pid(void)
{
	pstree_test_table(pstree_error_cases, UNIT_ARRAY_SIZE(pstree_error_cases));
}

/* The order is breadth-first and stable: siblings keep their listed order. */
static void pstree_order_is_stable(void)
{
	static const struct pstree_test_case c = { "stable", 5, {
		{ 50, 10, { 50 } }, { 40, 10, { 40 } }, { 10, 0, { 10 } }, { 60, 40, { 60 } }, { 30, 10, { 30 } } },
		{ NULL } };
	static const uint32_t want[] = { 10, 50, 40, 30, 60 };
	struct pstree_test_tree t;
	struct err e = { 0 };

	pstree_test_build(&t, &c);
	REQUIRE(pstree_check_and_order(t.procs, c.nr, &e) == 0);
	for (int i = 0; i < c.nr; i++)
		CHECK_INT(t.procs[i]->pid, want[i]);
}

/* A refused tree is left as it was given (the caller frees it in that order). */
static void pstree_error_leaves_input(void)
{
	const struct pstree_test_case *c = &pstree_error_cases[11];	/* the cycle */
	struct pstree_test_tree t;
	struct err e = { 0 };

	REQUIRE(!strcmp(c->name, "parent cycle beside the root"));
	pstree_test_build(&t, c);
	CHECK(pstree_check_and_order(t.procs, c->nr, &e) < 0);
	for (int i = 0; i < c->nr; i++)
		CHECK(t.procs[i] == &t.ent[i]);
}

/* The biggest table the restore will meet in practice runs in linear-ish time;
 * a 2000-process chain listed child first must still order correctly. */
static void pstree_long_chain(void)
{
	enum { N = 2000 };
	PstreeEntry *ent = calloc(N, sizeof(*ent));
	PstreeEntry **procs = calloc(N, sizeof(*procs));
	uint32_t *tids = calloc(N, sizeof(*tids));
	struct err e = { 0 };

	REQUIRE(ent && procs && tids);
	for (int i = 0; i < N; i++) {
		pstree_entry__init(&ent[i]);
		ent[i].pid = N - i + 1;
		ent[i].ppid = i == N - 1 ? 0 : N - i;
		tids[i] = ent[i].pid;
		ent[i].threads = &tids[i];
		ent[i].n_threads = 1;
		procs[i] = &ent[i];
	}
	CHECK_INT(pstree_check_and_order(procs, N, &e), 0);
	for (int i = 0; i < N; i++)
		CHECK_INT(procs[i]->pid, i + 2);
	free(ent);
	free(procs);
	free(tids);
}

static const struct unit_case cases[] = {
	UNIT_CASE(pstree_valid_trees_parents_first),
	UNIT_CASE(pstree_errors_name_the_pid),
	UNIT_CASE(pstree_order_is_stable),
	UNIT_CASE(pstree_error_leaves_input),
	UNIT_CASE(pstree_long_chain),
};
UNIT_MAIN(cases)
