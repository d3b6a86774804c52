/* test_pagechain: images/pagechain.c, resolving the in_parent entries of an
 * incremental dump's pagemap through its parents.
 *
 * Each case is a chain of levels (0 the child) with their entries, and the
 * runs the resolver must give: which level holds each range and at which
 * offset of that level's pages file; a page no level holds is refused
 * naming the addresses; a chain cut short asks for one more level. */
#include <stdlib.h>

#include "images/pagechain.h"
#include "tests/unit/unit.h"

#define P 4096ULL
#define E(v, n, o, par) { (v) * P, (n) * P, (o) * P, par }

static int resolve(const struct pagechain_level *lv, int nr, struct pagechain_run **runs, int *n, bool *more,
		   struct err *e)
{
	*runs = NULL;
	*n = 0;
	*more = false;
	return pagechain_resolve(lv, nr, runs, n, more, e);
}

/* Nothing in the parent: no runs, whatever the levels. */
static void pagechain_no_parent_pages(void)
{
	const struct pagechain_ent c[] = { E(10, 4, 0, false), E(20, 1, 4, false) };
	struct pagechain_level lv[] = { { c, 2 } };
	struct pagechain_run *r;
	struct err e = { 0 };
	int n;
	bool more;

	CHECK_INT(resolve(lv, 1, &r, &n, &more, &e), 0);
	CHECK_INT(n, 0);
	CHECK(!more);
	free(r);
}

/* A run in the parent that spans two of the parent's entries, one of
 * them only in part: offsets are counted from each entry's start. */
static void pagechain_split_across_entries(void)
{
	const struct pagechain_ent c[] = { E(10, 2, 0, false), E(12, 6, 0, true) };
	const struct pagechain_ent p[] = { E(8, 6, 0, false), E(14, 10, 6, false) };
	struct pagechain_level lv[] = { { c, 2 }, { p, 2 } };
	struct pagechain_run *r;
	struct err e = { 0 };
	int n;
	bool more;

	REQUIRE(resolve(lv, 2, &r, &n, &more, &e) == 0);
	REQUIRE(n == 2);
	CHECK_U64(r[0].vaddr, 12 * P);
	CHECK_U64(r[0].len, 2 * P);
	CHECK_U64(r[0].off, 4 * P);
	CHECK_INT(r[0].level, 1);
	CHECK_U64(r[1].vaddr, 14 * P);
	CHECK_U64(r[1].len, 4 * P);
	CHECK_U64(r[1].off, 6 * P);
	CHECK(!more);
	free(r);
}

/* Three levels: the parent refers part of the range to the grandparent. */
static void pagechain_grandparent(void)
{
	const struct pagechain_ent c[] = { E(0, 8, 0, true) };
	const struct pagechain_ent p[] = { E(0, 3, 0, false), E(3, 5, 0, true) };
	const struct pagechain_ent g[] = { E(0, 16, 0, false) };
	struct pagechain_level lv[] = { { c, 1 }, { p, 2 }, { g, 1 } };
	struct pagechain_run *r;
	struct err e = { 0 };
	int n;
	bool more;

	REQUIRE(resolve(lv, 2, &r, &n, &more, &e) == 0);
	CHECK(more);	/* level 1 still refers on: load level 2 */
	free(r);
	REQUIRE(resolve(lv, 3, &r, &n, &more, &e) == 0);
	CHECK(!more);
	REQUIRE(n == 2);
	CHECK_INT(r[0].level, 1);
	CHECK_U64(r[0].len, 3 * P);
	CHECK_INT(r[1].level, 2);
	CHECK_U64(r[1].vaddr, 3 * P);
	CHECK_U64(r[1].off, 3 * P);
	CHECK_U64(r[1].len, 5 * P);
	free(r);
}

/* The child says a page is in the parent that the parent lacks: refused,
 * naming the address (never a page of zeroes). */
static void pagechain_parent_lacks_page(void)
{
	const struct pagechain_ent c[] = { E(10, 4, 0, true) };
	const struct pagechain_ent p[] = { E(10, 2, 0, false), E(13, 1, 2, false) };
	struct pagechain_level lv[] = { { c, 1 }, { p, 2 } };
	struct pagechain_run *r;
	struct err e = { 0 };
	int n;
	bool more;

	CHECK(resolve(lv, 2, &r, &n, &more, &e) < 0);
	CHECK_CONTAINS(e.msg, "no page at 0xc000");
	CHECK_INT(e.exit_code, 3);
}

/* The parent has nothing at all there (a process it did not have). */
static void pagechain_parent_empty(void)
{
	const struct pagechain_ent c[] = { E(1, 1, 0, true) };
	struct pagechain_level lv[] = { { c, 1 }, { NULL, 0 } };
	struct pagechain_run *r;
	struct err e = { 0 };
	int n;
	bool more;

	CHECK(resolve(lv, 2, &r, &n, &more, &e) < 0);
	CHECK_CONTAINS(e.msg, "in its parent");
}

static const struct unit_case cases[] = {
	UNIT_CASE(pagechain_no_parent_pages),
	UNIT_CASE(pagechain_split_across_entries),
	UNIT_CASE(pagechain_grandparent),
	UNIT_CASE(pagechain_parent_lacks_page),
	UNIT_CASE(pagechain_parent_empty),
};
UNIT_MAIN(cases)
