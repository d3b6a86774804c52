/* test_nsroot: lib/nsroot.c on this process's own mount namespace: the
 * root fd is our "/", and the mount table read from the namespace's root
 * is ours (we are not chrooted); and a pid that does not exist is an error
 * naming it. Entering a namespace needs CAP_SYS_ADMIN: skipped without. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/nsroot.h"
#include "tests/unit/unit.h"

static void nsroot_own_namespace(void)
{
	struct mountinfo_table t, self;
	struct stat a, b;
	struct err e = { 0 };
	int fd = -1;

	if (geteuid() != 0)
		UNIT_SKIP("needs root (setns)");
	REQUIRE(nsroot_open(getpid(), &fd, &t, &e) == 0);
	REQUIRE(fd >= 0);
	CHECK(fstat(fd, &a) == 0 && stat("/", &b) == 0);
	CHECK(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	REQUIRE(mountinfo_read(0, &self, &e) == 0);
	CHECK_INT(t.nr, self.nr);
	for (int i = 0; i < t.nr && i < self.nr; i++) {
		CHECK_INT(t.m[i].id, self.m[i].id);
		CHECK_STR(t.m[i].mountpoint, self.m[i].mountpoint);
	}
	close(fd);
	mountinfo_free(&t);
	mountinfo_free(&self);
}

static void nsroot_no_such_pid(void)
{
	struct mountinfo_table t;
	struct err e = { 0 };

	if (geteuid() != 0)
		UNIT_SKIP("needs root (setns)");
	CHECK(nsroot_open(0x3ffffff, NULL, &t, &e) < 0);
	CHECK_CONTAINS(e.msg, "pid 67108863");
}

static const struct unit_case cases[] = {
	UNIT_CASE(nsroot_own_namespace),
	UNIT_CASE(nsroot_no_such_pid),
};
UNIT_MAIN(cases)
