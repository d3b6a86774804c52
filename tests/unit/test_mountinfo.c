/* test_mountinfo: lib/mountinfo.c, the /proc/PID/mountinfo parser and the
 * parent-first order of a mount tree.
 *
 * fixtures/mountinfo-ns.txt was recorded on Linux 6.18 x86-64 inside
 * 'unshare -m --propagation private' after (the test directory renamed to
 * /tmp/fx): a tmpfs "tmpa" (size=1m,mode=750) on /tmp/fx, a bind of its
 * "sub dir" on /tmp/fx/b, a shared tmpfs on s1 bound on s2 and made its
 * slave, an unbindable tmpfs on u, and two tmpfs on o, the second (ro,
 * nosuid) on top of the first. The host's own /dev/shm and /dev/pts are
 * each mounted twice at the same path, so it has two more overmounts. */
#include <fcntl.h>
#include <linux/mount.h>
#include <unistd.h>
#include <stdlib.h>

#include "lib/mountinfo.h"
#include "lib/proc.h"
#include "tests/unit/fixture.h"
#include "tests/unit/unit.h"

static void mountinfo_fixture_fields(void)
{
	char *text = unit_fixture("mountinfo-ns.txt");
	struct mountinfo_table t;
	const struct mountinfo *m;
	struct err e = { 0 };

	REQUIRE(text);
	CHECK_INT(mountinfo_parse(text, &t, &e), 0);
	CHECK_INT(t.nr, 27);
	m = mountinfo_find(&t, 43);
	REQUIRE(m);
	CHECK_INT(m->parent, 42);
	CHECK_INT(m->major, 254);
	CHECK_STR(m->mountpoint, "/");
	CHECK_STR(m->fstype, "ext4");
	CHECK_STR(m->source, "/dev/vda");
	CHECK_STR(m->super_opts, "rw,discard,resv_strict,resuid=65534,resgid=65534");
	m = mountinfo_find(&t, 64);
	REQUIRE(m);
	CHECK_STR(m->root, "/sub dir");
	CHECK_STR(m->mountpoint, "/tmp/fx/b");
	CHECK_INT(m->minor, 39);
	CHECK_INT(mountinfo_find(&t, 65)->shared, 1);
	CHECK_INT(mountinfo_find(&t, 65)->master, 0);
	CHECK_INT(mountinfo_find(&t, 66)->master, 1);
	CHECK_INT(mountinfo_find(&t, 66)->shared, 0);
	CHECK(mountinfo_find(&t, 67)->unbindable);
	CHECK(!mountinfo_find(&t, 68)->unbindable);
	m = mountinfo_find(&t, 69);
	CHECK_INT(m->parent, 68);
	CHECK_STR(m->source, "o2");
	CHECK_U64(mountinfo_attrs(m->opts), MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_RELATIME);
	CHECK(mountinfo_has_opt(mountinfo_find(&t, 63)->super_opts, "mode=750"));
	CHECK(!mountinfo_has_opt(mountinfo_find(&t, 63)->super_opts, "mode=75"));
	mountinfo_free(&t);
}

/* Parents first; a mount on top of another at the same path after it. */
static void mountinfo_fixture_order(void)
{
	char *text = unit_fixture("mountinfo-ns.txt");
	struct mountinfo_table t;
	struct err e = { 0 };
	int order[64], pos[128];

	REQUIRE(text);
	REQUIRE(mountinfo_parse(text, &t, &e) == 0);
	CHECK_INT(mountinfo_order(&t, order, &e), 0);
	CHECK_INT(t.m[order[0]].id, 43);
	for (int i = 0; i < t.nr; i++)
		pos[t.m[order[i]].id] = i;
	for (int i = 1; i < t.nr; i++)
		CHECK(pos[t.m[i].parent] < pos[t.m[i].id]);
	CHECK(pos[68] < pos[69]);
	CHECK(pos[63] < pos[64] && pos[64] < pos[65]);
	mountinfo_free(&t);
}

static void mountinfo_escapes_and_tags(void)
{
	char *text = strdup("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
			    "2 1 0:5 /a\\134b /x\\040y\\011z rw shared:3 master:7 propagate_from:7 future:1 - tmpfs my\\040src rw\n");
	struct mountinfo_table t;
	struct err e = { 0 };

	REQUIRE(mountinfo_parse(text, &t, &e) == 0);
	CHECK_INT(t.nr, 2);
	CHECK_STR(t.m[1].root, "/a\\b");
	CHECK_STR(t.m[1].mountpoint, "/x y\tz");
	CHECK_STR(t.m[1].source, "my src");
	CHECK_INT(t.m[1].shared, 3);
	CHECK_INT(t.m[1].master, 7);
	CHECK_INT(t.m[1].propagate_from, 7);
	mountinfo_free(&t);
}

static void mountinfo_bad_lines(void)
{
	static const char *bad[] = {
		"1 0 8:1 / / rw ext4 /dev/sda1 rw\n",		/* no "-" */
		"x 0 8:1 / / rw - ext4 /dev/sda1 rw\n",		/* id */
		"1 0 8-1 / / rw - ext4 /dev/sda1 rw\n",		/* device */
		"1 0 8:1 / rel rw - ext4 /dev/sda1 rw\n",	/* mountpoint */
		"1 0 8:1 / / rw shared:x - ext4 s rw\n",	/* group */
		"1 0 8:1 / / rw -\n",				/* no type */
		"1 0 8:1 / / rw - ext4 s rw\n1 0 8:1 / / rw - ext4 s rw\n",	/* id twice */
		"1 0\n",
	};

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(bad); i++) {
		struct mountinfo_table t;
		struct err e = { 0 };

		CHECK(mountinfo_parse(strdup(bad[i]), &t, &e) < 0);
		CHECK_CONTAINS(e.msg, "mountinfo line");
	}
}

static void mountinfo_order_errors(void)
{
	struct mountinfo_table t;
	struct err e = { 0 };
	int order[4];

	REQUIRE(mountinfo_parse(strdup("1 0 8:1 / / rw - ext4 s rw\n2 9 8:1 / /x rw - ext4 s rw\n"), &t, &e) == 0);
	CHECK(mountinfo_order(&t, order, &e) < 0);
	CHECK_CONTAINS(e.msg, "both have no parent");
	mountinfo_free(&t);
	REQUIRE(mountinfo_parse(strdup("1 2 8:1 / / rw - ext4 s rw\n2 1 8:1 / /x rw - ext4 s rw\n"), &t, &e) == 0);
	CHECK(mountinfo_order(&t, order, &e) < 0);
	CHECK_CONTAINS(e.msg, "cycle");
	mountinfo_free(&t);
}

static void mountinfo_relpaths(void)
{
	CHECK_STR(mountinfo_relpath("/", "/a/b"), "a/b");
	CHECK_STR(mountinfo_relpath("/", "/"), "");
	CHECK_STR(mountinfo_relpath("/a", "/a/b"), "b");
	CHECK_STR(mountinfo_relpath("/a", "/a"), "");
	CHECK(mountinfo_relpath("/a", "/ab") == NULL);
	CHECK(mountinfo_relpath("/a/b", "/a") == NULL);
}

/* Mutated fixture lines parse or fail cleanly (the fuzz-style check). */
static void mountinfo_mutants(void)
{
	char *text = unit_fixture("mountinfo-ns.txt");
	size_t len;
	unsigned int seed = 1;

	REQUIRE(text);
	len = strlen(text);
	for (int it = 0; it < 3000; it++) {
		char *m = malloc(len + 1);
		struct mountinfo_table t;
		struct err e = { 0 };
		int order[64];

		memcpy(m, text, len + 1);
		for (int k = 0; k < 1 + it % 4; k++) {
			size_t at = rand_r(&seed) % len;
			static const char sub[] = " \n:-\\0123456789/x";

			m[at] = sub[rand_r(&seed) % (sizeof(sub) - 1)];
		}
		if (mountinfo_parse(m, &t, &e) == 0) {
			if (t.nr <= 64)
				(void)mountinfo_order(&t, order, &e);
			mountinfo_free(&t);
		}
	}
	free(text);
}

/* Through a /proc fd, the same table as /proc/self/mountinfo. */
static void mountinfo_read_through_proc_fd(void)
{
	struct mountinfo_table a, b;
	struct err e = { 0 };
	int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);

	REQUIRE(proc >= 0);
	REQUIRE(mountinfo_read_at(proc, &a, &e) == 0);
	REQUIRE(mountinfo_read(0, &b, &e) == 0);
	CHECK_INT(a.nr, b.nr);
	for (int i = 0; i < a.nr && i < b.nr; i++)
		CHECK_INT(a.m[i].id, b.m[i].id);
	mountinfo_free(&a);
	mountinfo_free(&b);
	close(proc);
}

static const struct unit_case cases[] = {
	UNIT_CASE(mountinfo_read_through_proc_fd),
	UNIT_CASE(mountinfo_fixture_fields),
	UNIT_CASE(mountinfo_fixture_order),
	UNIT_CASE(mountinfo_escapes_and_tags),
	UNIT_CASE(mountinfo_bad_lines),
	UNIT_CASE(mountinfo_order_errors),
	UNIT_CASE(mountinfo_relpaths),
	UNIT_CASE(mountinfo_mutants),
};
UNIT_MAIN(cases)
