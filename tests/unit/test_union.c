/* test_union: lib/union.c, the fixups of union file systems: an overlay's
 * layers and options from its mountinfo line, the --union-root mapping of
 * branch paths, and the upper layer digest.
 *
 * fixtures/mountinfo-overlay.txt was recorded on Linux 6.18 x86-64 (the
 * test directory renamed to /tmp/fx) after mounting: m1 with mount(2),
 * lowerdir=a\:b:e f (a layer with ':' escaped by the user, one with a
 * space), upper, work, index=on, redirect_dir=on, xino=on (not shown: the
 * layers share a file system); m2 with fsconfig, lowerdir+ "c,d" and
 * "g\h", datadir+ dl, upper, work, redirect_dir=on, metacopy=on, volatile
 * (shown as fsync=volatile); m3 read-only, two lowers; m4 a lower and a
 * data-only layer ("::"); rm with relative layer paths, as the mounter
 * gave them.
 *
 * fixtures/maps-union.txt: /proc/PID/maps lines of a python3 process that
 * mapped /tmp/fx/branch/lib/libx.so, /tmp/fx/branch/tmp/gone (then
 * unlinked) and /tmp/fx/branchy/other, with some of its other lines. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/mountinfo.h"
#include "lib/union.h"
#include "tests/unit/fixture.h"
#include "tests/unit/unit.h"

/* The overlay at mountpoint mp of the fixture, parsed; returns union_ovl_parse's value. */
static int ovl_of(const struct mountinfo_table *t, const char *mp, struct union_ovl *o, struct err *e)
{
	for (int i = 0; i < t->nr; i++)
		if (!strcmp(t->m[i].mountpoint, mp) && !strcmp(t->m[i].fstype, "overlay"))
			return union_ovl_parse(t->m[i].super_opts, o, e);
	return -1000;
}

static void union_overlay_fixture(void)
{
	char *text = unit_fixture("mountinfo-overlay.txt");
	struct mountinfo_table t;
	struct union_ovl o;
	struct err e = { 0 };

	REQUIRE(text);
	REQUIRE(mountinfo_parse(text, &t, &e) == 0);
	CHECK_INT(t.nr, 6);

	/* mount(2): the user's "\:" stays escaped, the rest is octal. */
	CHECK_INT(ovl_of(&t, "/tmp/fx/m1", &o, &e), 0);
	REQUIRE(o.nr_lower == 2);
	CHECK_STR(o.lower[0], "/tmp/fx/a:b");
	CHECK_STR(o.lower[1], "/tmp/fx/e f");
	CHECK_INT(o.nr_data, 0);
	CHECK_STR(o.upper, "/tmp/fx/up");
	CHECK_STR(o.work, "/tmp/fx/wk");
	REQUIRE(o.nr_opts == 3);
	CHECK_STR(o.opts[0], "redirect_dir=on");
	CHECK_STR(o.opts[1], "index=on");
	CHECK_STR(o.opts[2], "uuid=on");
	CHECK(!o.ro);
	union_ovl_free(&o);

	/* fsconfig: one lowerdir+= per layer, paths taken as they are. */
	CHECK_INT(ovl_of(&t, "/tmp/fx/m2", &o, &e), 0);
	REQUIRE(o.nr_lower == 2 && o.nr_data == 1);
	CHECK_STR(o.lower[0], "/tmp/fx/c,d");
	CHECK_STR(o.lower[1], "/tmp/fx/g\\h");
	CHECK_STR(o.data[0], "/tmp/fx/dl");
	CHECK_STR(o.upper, "/tmp/fx/up2");
	REQUIRE(o.nr_opts == 4);
	CHECK_STR(o.opts[2], "metacopy=on");
	CHECK_STR(o.opts[3], "fsync=volatile");
	union_ovl_free(&o);

	CHECK_INT(ovl_of(&t, "/tmp/fx/m3", &o, &e), 0);
	CHECK(o.ro);
	CHECK(!o.upper && !o.work);
	REQUIRE(o.nr_lower == 2);
	CHECK_STR(o.lower[1], "/tmp/fx/dl");
	union_ovl_free(&o);

	/* "::" starts the data-only layers. */
	CHECK_INT(ovl_of(&t, "/tmp/fx/m4", &o, &e), 0);
	REQUIRE(o.nr_lower == 1 && o.nr_data == 1);
	CHECK_STR(o.lower[0], "/tmp/fx/l3");
	CHECK_STR(o.data[0], "/tmp/fx/dl");
	union_ovl_free(&o);

	/* Relative paths name no directory amber can find again. */
	CHECK(ovl_of(&t, "/tmp/fx/rm", &o, &e) < 0);
	CHECK_CONTAINS(e.msg, "'rl1' is a relative path");
	union_ovl_free(&o);
	mountinfo_free(&t);
}

static void union_overlay_bad_options(void)
{
	static const struct { const char *name, *opts, *msg; } cases[] = {
		{ "no lower", "rw,upperdir=/u,workdir=/w", "no lower layer" },
		{ "upper without work", "rw,lowerdir=/l,upperdir=/u", "without a workdir" },
		{ "relative upper", "rw,lowerdir=/l,upperdir=u,workdir=/w", "upperdir 'u' is a relative path" },
		{ "empty layer", "rw,lowerdir=/l:,upperdir=/u,workdir=/w", "empty layer path" },
		{ "bad escape", "rw,lowerdir=/l\\9", "bad escape" },
		{ "cut escape", "rw,lowerdir=/l\\13", "bad escape" },
	};

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(cases); i++) {
		struct union_ovl o;
		struct err e = { 0 };

		if (union_ovl_parse(cases[i].opts, &o, &e) >= 0 || !strstr(e.msg, cases[i].msg))
			unit_fail(__FILE__, __LINE__, "case '%s': '%s' gave '%s', want an error with '%s'", cases[i].name,
				  cases[i].opts, e.msg, cases[i].msg);
		union_ovl_free(&o);
	}
}

/* --union-root on every path of a recorded maps file: only paths under a
 * branch move; " (deleted)" stays; the longest branch wins; a branch is
 * not a prefix of a sibling's name (branch vs branchy). */
static void union_root_on_maps_fixture(void)
{
	char *text = unit_fixture("maps-union.txt");
	struct union_root roots[3];
	struct err e = { 0 };
	char out[4096], *save = NULL;
	int moved = 0, lines = 0;

	REQUIRE(text);
	REQUIRE(union_root_parse("/tmp/fx/branch=/srv/union", &roots[0], &e) == 0);
	REQUIRE(union_root_parse("/tmp/fx/branch/lib/=/srv/libs/", &roots[1], &e) == 0);
	REQUIRE(union_root_parse("/nowhere=/else", &roots[2], &e) == 0);
	CHECK_STR(roots[1].branch, "/tmp/fx/branch/lib");
	CHECK_STR(roots[1].uni, "/srv/libs");
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *path = strchr(line, '/');
		int r;

		lines++;
		if (!path)
			continue;
		r = union_root_map(roots, 3, path, out, sizeof(out));
		if (strstr(path, "/tmp/fx/branch/lib/libx.so")) {
			CHECK_INT(r, 1);
			CHECK_STR(out, "/srv/libs/libx.so");
		} else if (strstr(path, "/tmp/fx/branch/tmp/gone")) {
			CHECK_INT(r, 1);
			CHECK_STR(out, "/srv/union/tmp/gone (deleted)");
		} else {
			CHECK_INT(r, 0);
		}
		moved += r == 1;
	}
	CHECK_INT(lines, 9);
	CHECK_INT(moved, 2);
	for (int i = 0; i < 3; i++) {
		free(roots[i].branch);
		free(roots[i].uni);
	}
	free(text);
}

static void union_root_edges(void)
{
	struct union_root r[2];
	struct err e = { 0 };
	char out[32];

	CHECK(union_root_parse("relative=/u", &r[0], &e) < 0);
	CHECK(union_root_parse("/b", &r[0], &e) < 0);
	CHECK(union_root_parse("/b=u", &r[0], &e) < 0);
	REQUIRE(union_root_parse("/b=/", &r[0], &e) == 0);
	REQUIRE(union_root_parse("/=/mnt/u", &r[1], &e) == 0);
	/* The union is "/": the branch itself is "/", under it "/x". */
	CHECK_INT(union_root_map(r, 1, "/b", out, sizeof(out)), 1);
	CHECK_STR(out, "/");
	CHECK_INT(union_root_map(r, 1, "/b/x", out, sizeof(out)), 1);
	CHECK_STR(out, "/x");
	CHECK_INT(union_root_map(r, 1, "/bx", out, sizeof(out)), 0);
	/* The branch is "/": everything, but the longer /b wins. */
	CHECK_INT(union_root_map(r, 2, "/etc/motd", out, sizeof(out)), 1);
	CHECK_STR(out, "/mnt/u/etc/motd");
	CHECK_INT(union_root_map(r, 2, "/b/y", out, sizeof(out)), 1);
	CHECK_STR(out, "/y");
	CHECK_INT(union_root_map(r + 1, 1, "/a/very/long/path/indeed/longer", out, sizeof(out)), -1);
	for (int i = 0; i < 2; i++) {
		free(r[i].branch);
		free(r[i].uni);
	}
}

/* The digest sees a file's size, mtime and a new entry; it does not see
 * an atime, and it is the same for the same tree. */
static void union_digest_changes(void)
{
	char dir[] = "/tmp/amber-unit-union-XXXXXX", path[256];
	uint64_t d0, d1, n0, n1;
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 1000000, 0 } };
	struct err e = { 0 };
	FILE *f;

	REQUIRE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub", dir);
	REQUIRE(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/sub/f", dir);
	REQUIRE((f = fopen(path, "w")) && fputs("one", f) >= 0 && fclose(f) == 0);
	REQUIRE(utimensat(AT_FDCWD, path, ts, 0) == 0);
	REQUIRE(union_tree_digest(dir, 100, &d0, &n0, &e) == 0);
	CHECK_U64(n0, 2);
	REQUIRE(union_tree_digest(dir, 100, &d1, &n1, &e) == 0);
	CHECK_U64(d1, d0);
	/* atime only: the same. */
	ts[0] = (struct timespec){ 5, 0 };
	ts[1] = (struct timespec){ 0, UTIME_OMIT };
	REQUIRE(utimensat(AT_FDCWD, path, ts, 0) == 0);
	REQUIRE(union_tree_digest(dir, 100, &d1, &n1, &e) == 0);
	CHECK_U64(d1, d0);
	/* Same size, other mtime: another digest. */
	ts[0] = (struct timespec){ 0, UTIME_OMIT };
	ts[1] = (struct timespec){ 2000000, 0 };
	REQUIRE(utimensat(AT_FDCWD, path, ts, 0) == 0);
	REQUIRE(union_tree_digest(dir, 100, &d1, &n1, &e) == 0);
	CHECK(d1 != d0);
	CHECK_U64(n1, 2);
	/* Too many entries is refused. */
	CHECK(union_tree_digest(dir, 1, &d1, &n1, &e) < 0);
	CHECK_CONTAINS(e.msg, "more than 1 entries");
	CHECK(unlink(path) == 0);
	snprintf(path, sizeof(path), "%s/sub", dir);
	CHECK(rmdir(path) == 0);
	CHECK(rmdir(dir) == 0);
}

static const struct unit_case cases[] = {
	UNIT_CASE(union_overlay_fixture),
	UNIT_CASE(union_overlay_bad_options),
	UNIT_CASE(union_root_on_maps_fixture),
	UNIT_CASE(union_root_edges),
	UNIT_CASE(union_digest_changes),
};
UNIT_MAIN(cases)
