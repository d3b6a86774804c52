/* test_mntclone: lib/mntclone.c's matching of a mount namespace with its
 * unshare(CLONE_NEWNS) copy, on the recorded fixture (test_mountinfo.c)
 * and a copy of it made here: new ids, lines in another order, as a copy
 * lists them. The cloning itself needs a private mount namespace and is
 * exercised end to end (t050-t053). */
#include <stdlib.h>

#include "lib/mntclone.h"
#include "lib/proc.h"
#include "tests/unit/unit.h"

static char *mntclone_test_fixture(void)
{
	const char *dir = getenv("AMBER_FIXTURES");
	char path[512];
	struct err e = { 0 };
	char *text = NULL;

	snprintf(path, sizeof(path), "%s/mountinfo-ns.txt", dir && *dir ? dir : "tests/unit/fixtures");
	if (proc_read_file(path, &text, NULL, &e) < 0) {
		unit_fail(__FILE__, __LINE__, "fixture: %s (run from the source root or set AMBER_FIXTURES)", e.msg);
		return NULL;
	}
	return text;
}

/* The fixture with every id and parent id + 1000 (the root's parent too),
 * its lines reversed. */
static char *mntclone_test_copy(const char *text)
{
	char *lines[128], *dup = strdup(text), *save = NULL, *out = calloc(1, strlen(text) * 2 + 1);
	int n = 0;

	for (char *l = strtok_r(dup, "\n", &save); l && n < 128; l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	for (int i = n - 1; i >= 0; i--) {
		int id, parent, off;

		if (sscanf(lines[i], "%d %d %n", &id, &parent, &off) != 2)
			continue;
		sprintf(out + strlen(out), "%d %d %s\n", id + 1000, parent + 1000, lines[i] + off);
	}
	free(dup);
	return out;
}

static void mntclone_match_copy(void)
{
	char *text = mntclone_test_fixture(), *copy_text;
	struct mountinfo_table orig, copy;
	struct err e = { 0 };
	int map[64];

	REQUIRE(text);
	copy_text = mntclone_test_copy(text);
	REQUIRE(mountinfo_parse(text, &orig, &e) == 0);
	REQUIRE(mountinfo_parse(copy_text, &copy, &e) == 0);
	REQUIRE(orig.nr == copy.nr && orig.nr <= 64);
	mntclone_match(&orig, &copy, map);
	for (int i = 0; i < orig.nr; i++) {
		CHECK(map[i] >= 0);
		if (map[i] >= 0)
			CHECK_INT(copy.m[map[i]].id, orig.m[i].id + 1000);
	}
	mountinfo_free(&orig);
	mountinfo_free(&copy);
}

/* A mount the copy lacks maps to -1, and so do its children. */
static void mntclone_match_missing(void)
{
	char *o = strdup("1 0 8:1 / / rw - ext4 s rw\n2 1 0:5 / /a rw - tmpfs t rw\n3 2 0:6 / /a/b rw - tmpfs u rw\n");
	char *c = strdup("11 10 8:1 / / rw - ext4 s rw\n13 11 0:6 / /a/b rw - tmpfs u rw\n");
	struct mountinfo_table orig, copy;
	struct err e = { 0 };
	int map[3];

	REQUIRE(mountinfo_parse(o, &orig, &e) == 0 && mountinfo_parse(c, &copy, &e) == 0);
	mntclone_match(&orig, &copy, map);
	CHECK_INT(map[0], 0);
	CHECK_INT(map[1], -1);
	CHECK_INT(map[2], -1);
	mountinfo_free(&orig);
	mountinfo_free(&copy);
}

static const struct unit_case cases[] = {
	UNIT_CASE(mntclone_match_copy),
	UNIT_CASE(mntclone_match_missing),
};
UNIT_MAIN(cases)
