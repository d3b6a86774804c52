/* test_grow: lib/grow.c, the checked growth of heap arrays.
 *
 * Growth keeps the elements already there, a size whose multiplication or
 * sum overflows is refused before anything is allocated, and a failure
 * leaves the old array (pointer, contents and count) untouched. */
#include <stdint.h>

#include "lib/grow.h"
#include "tests/unit/unit.h"

struct grow_test_item {
	uint64_t a, b;
};

/* grow_one a hundred times: the elements written so far survive each move. */
static void grow_one_keeps_elements(void)
{
	struct grow_test_item *v = NULL;
	int nr = 0;

	for (int i = 0; i < 100; i++) {
		REQUIRE(grow_one(&v, nr) == 0);
		v[nr++] = (struct grow_test_item){ i, 1000 + i };
	}
	for (int i = 0; i < nr; i++) {
		CHECK_INT(v[i].a, i);
		CHECK_INT(v[i].b, 1000 + i);
	}
	free(v);
}

/* grow_by and grow_to: room for exactly what is asked. */
static void grow_by_and_to(void)
{
	uint32_t *v = NULL;

	REQUIRE(grow_to(&v, 4) == 0);
	for (int i = 0; i < 4; i++)
		v[i] = i;
	REQUIRE(grow_by(&v, 4, 60) == 0);
	for (int i = 4; i < 64; i++)
		v[i] = i;
	for (int i = 0; i < 64; i++)
		CHECK_INT(v[i], i);
	/* Zero elements still leave a block to free, never a freed pointer. */
	REQUIRE(grow_to(&v, 0) == 0);
	CHECK(v != NULL);
	free(v);
}

/* grow_cap doubles: few moves for many elements, capacity always enough. */
static void grow_cap_doubles(void)
{
	char *buf = NULL;
	size_t cap = 0, moves = 0;
	char *last = NULL;

	for (size_t n = 1; n <= 100000; n++) {
		size_t before = cap;

		REQUIRE(grow_cap(&buf, &cap, n) == 0);
		CHECK(cap >= n);
		if (cap != before)
			moves++;
		if (cap != before && before)
			CHECK_INT(cap, before * 2);
		buf[n - 1] = (char)n;
		last = buf;
	}
	CHECK(moves < 20);
	CHECK_INT(cap >= GROW_MIN, 1);
	for (size_t n = 1; n <= 100000; n += 997)
		CHECK_INT((unsigned char)last[n - 1], (unsigned char)n);
	/* Asking for less than there is changes nothing. */
	REQUIRE(grow_cap(&buf, &cap, 5) == 0);
	CHECK(buf == last);
	free(buf);
}

/* grow_zero: a table indexed by id, the new slots zeroed, the count set. */
static void grow_zero_zeroes(void)
{
	uint32_t *ns = NULL;
	size_t nr = 0;

	REQUIRE(grow_zero(&ns, &nr, 3) == 0);
	CHECK_INT(nr, 3);
	ns[2] = 7;
	REQUIRE(grow_zero(&ns, &nr, 10) == 0);
	CHECK_INT(nr, 10);
	CHECK_INT(ns[2], 7);
	for (int i = 3; i < 10; i++)
		CHECK_INT(ns[i], 0);
	/* Not smaller: the count stays. */
	REQUIRE(grow_zero(&ns, &nr, 4) == 0);
	CHECK_INT(nr, 10);
	free(ns);
}

/* A count times the element size past SIZE_MAX, or a sum that wraps, is
 * -EOVERFLOW, and the array and its count stay as they were. */
static void grow_overflow_keeps_old(void)
{
	struct grow_test_item *v = NULL;
	size_t nr = 2, cap = 2;
	struct grow_test_item *old;

	REQUIRE(grow_to(&v, 2) == 0);
	v[0] = (struct grow_test_item){ 1, 2 };
	v[1] = (struct grow_test_item){ 3, 4 };
	old = v;
	errno = 0;
	CHECK_INT(grow_to(&v, SIZE_MAX / 8), -EOVERFLOW);
	CHECK_INT(errno, EOVERFLOW);
	CHECK_INT(grow_one(&v, SIZE_MAX), -EOVERFLOW);
	CHECK_INT(grow_by(&v, 2, SIZE_MAX - 1), -EOVERFLOW);
	CHECK_INT(grow_one(&v, (size_t)UINT32_MAX * UINT32_MAX), -EOVERFLOW);
	CHECK_INT(grow_cap(&v, &cap, SIZE_MAX / 4), -EOVERFLOW);
	CHECK_INT(cap, 2);
	CHECK_INT(grow_zero(&v, &nr, SIZE_MAX / 2), -EOVERFLOW);
	CHECK_INT(nr, 2);
	/* A negative int count, as a caller's bug would pass it. */
	CHECK_INT(grow_one(&v, -2), -EOVERFLOW);
	CHECK(v == old);
	CHECK_INT(v[0].a, 1);
	CHECK_INT(v[1].b, 4);
	free(v);
}

/* A size that fits but cannot be had is -ENOMEM, the old array kept. */
static void grow_enomem_keeps_old(void)
{
	char *v = NULL;
	char *old;

#ifdef __SANITIZE_ADDRESS__
	UNIT_SKIP("ASan aborts on an allocation this large instead of returning NULL");
#endif
	REQUIRE(grow_to(&v, 16) == 0);
	memcpy(v, "still here", 11);
	old = v;
	errno = 0;
	CHECK_INT(grow_to(&v, PTRDIFF_MAX - 4096), -ENOMEM);
	CHECK_INT(errno, ENOMEM);
	CHECK(v == old);
	CHECK_STR(v, "still here");
	free(v);
}

static const struct unit_case cases[] = {
	UNIT_CASE(grow_one_keeps_elements),
	UNIT_CASE(grow_by_and_to),
	UNIT_CASE(grow_cap_doubles),
	UNIT_CASE(grow_zero_zeroes),
	UNIT_CASE(grow_overflow_keeps_old),
	UNIT_CASE(grow_enomem_keeps_old),
};

UNIT_MAIN(cases)
