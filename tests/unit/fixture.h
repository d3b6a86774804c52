/* fixture.h: recorded /proc files for the parser tests, read from
 * tests/unit/fixtures (or $AMBER_FIXTURES). */
#ifndef AMBER_TESTS_FIXTURE_H
#define AMBER_TESTS_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "lib/proc.h"
#include "tests/unit/unit.h"

/* The text of fixture 'name' (malloc'd), or NULL after a failed check. */
static inline char *unit_fixture(const char *name)
{
	const char *dir = getenv("AMBER_FIXTURES");
	char path[512];
	struct err e = { 0 };
	char *text = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "tests/unit/fixtures", name);
	if (proc_read_file(path, &text, NULL, &e) < 0) {
		unit_fail(__FILE__, __LINE__, "fixture: %s (run from the source root or set AMBER_FIXTURES)", e.msg);
		return NULL;
	}
	return text;
}

#endif
