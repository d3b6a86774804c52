/* test_proc: lib/proc.c, the /proc parsers.
 *
 * Parsers are checked field by field on files recorded from a real Linux 6.18
 * x86-64 machine (tests/unit/fixtures/, see capture.sh there), then fed
 * malformed text, then run once on this process's live files. Fixtures are
 * found in $AMBER_FIXTURES, else tests/unit/fixtures from the source root
 * (run-all.sh runs from there). */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "lib/proc.h"
#include "tests/unit/fixture.h"
#include "tests/unit/unit.h"

/* Parses the maps fixture line whose text contains 'needle'. */
static int proc_test_maps_find(const char *text, const char *needle, struct proc_vma *v)
{
	char line[1024];

	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		struct err e = { 0 };

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		if (strstr(line, needle))
			return proc_parse_maps_line(line, v, &e) == 0 ? 0 : -1;
		p = nl ? nl + 1 : NULL;
	}
	return -1;
}

static void proc_maps_fixture_every_line(void)
{
	char *text = unit_fixture("maps.txt"), *save = NULL;
	uint64_t prev_end = 0;
	int n = 0;

	REQUIRE(text);
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
		struct proc_vma v;
		struct err e = { 0 };

		if (proc_parse_maps_line(line, &v, &e) < 0) {
			unit_fail(__FILE__, __LINE__, "line %d: %s", n + 1, e.msg);
			continue;
		}
		/* Lines come sorted and never overlap. */
		CHECK(v.start >= prev_end);
		CHECK(v.start % 4096 == 0 && v.end % 4096 == 0);
		prev_end = v.end;
	}
	CHECK_INT(n, 125);
	free(text);
}

static void proc_maps_fixture_fields(void)
{
	char *text = unit_fixture("maps.txt");
	struct proc_vma v;

	REQUIRE(text);
	/* The executable's first mapping. */
	REQUIRE(proc_test_maps_find(text, "55c62c28d000-", &v) == 0);
	CHECK_U64(v.start, 0x55c62c28d000ULL);
	CHECK_U64(v.end, 0x55c62c28e000ULL);
	CHECK_INT(v.prot, PROT_READ);
	CHECK(!v.shared);
	CHECK_U64(v.pgoff, 0);
	CHECK_INT(v.dev_major, 0xfe);
	CHECK_INT(v.dev_minor, 0);
	CHECK_U64(v.ino, 18624);
	CHECK_STR(v.path, "/root/.pyenv/versions/3.11.7/bin/python3.11");
	CHECK(!v.deleted);
	/* libc text: an offset and r-x. */
	REQUIRE(proc_test_maps_find(text, "7f3617644000-", &v) == 0);
	CHECK_INT(v.prot, PROT_READ | PROT_EXEC);
	CHECK_U64(v.pgoff, 0x26000);
	CHECK_STR(v.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	/* A deleted file whose name has a space. */
	REQUIRE(proc_test_maps_find(text, "gone file.dat", &v) == 0);
	CHECK_STR(v.path, "/tmp/amber-capture-mMu4FU/gone file.dat");
	CHECK(v.deleted);
	CHECK_INT(v.prot, PROT_READ | PROT_WRITE);
	CHECK(!v.shared);
	CHECK_U64(v.ino, 10952842);
	/* A shared file mapping. */
	REQUIRE(proc_test_maps_find(text, "kept.dat", &v) == 0);
	CHECK(v.shared);
	CHECK(!v.deleted);
	CHECK_INT(v.prot, PROT_READ | PROT_WRITE);
	/* Shared anonymous memory shows as a deleted /dev/zero on dev 0:1. */
	REQUIRE(proc_test_maps_find(text, "/dev/zero", &v) == 0);
	CHECK_STR(v.path, "/dev/zero");
	CHECK(v.deleted);
	CHECK(v.shared);
	CHECK_INT(v.dev_major, 0);
	CHECK_INT(v.dev_minor, 1);
	CHECK_U64(v.ino, 1024);
	CHECK_U64(v.end - v.start, 3 * 4096);
	/* A read-only shared file. */
	REQUIRE(proc_test_maps_find(text, "gconv-modules.cache", &v) == 0);
	CHECK(v.shared);
	CHECK_INT(v.prot, PROT_READ);
	/* Private anonymous memory: no path at all, trailing space in the text. */
	REQUIRE(proc_test_maps_find(text, "7f36170e7000-", &v) == 0);
	CHECK_STR(v.path, "");
	CHECK(!v.deleted);
	CHECK_U64(v.ino, 0);
	CHECK_U64(v.end, 0x7f361721a000ULL);
	free(text);
}

static void proc_maps_fixture_special(void)
{
	static const struct { const char *name; uint64_t start, end; uint32_t prot; } t[] = {
		{ "[heap]", 0x55c65ffd9000ULL, 0x55c66018b000ULL, PROT_READ | PROT_WRITE },
		{ "[vvar]", 0x7f3617f39000ULL, 0x7f3617f3d000ULL, PROT_READ },
		{ "[vvar_vclock]", 0x7f3617f3d000ULL, 0x7f3617f3f000ULL, PROT_READ },
		{ "[vdso]", 0x7f3617f3f000ULL, 0x7f3617f41000ULL, PROT_READ | PROT_EXEC },
		{ "[stack]", 0x7ffdb4c6f000ULL, 0x7ffdb4c90000ULL, PROT_READ | PROT_WRITE },
		{ "[vsyscall]", 0xffffffffff600000ULL, 0xffffffffff601000ULL, PROT_EXEC },
	};
	char *text = unit_fixture("maps.txt");

	REQUIRE(text);
	for (size_t i = 0; i < UNIT_ARRAY_SIZE(t); i++) {
		char needle[32];
		struct proc_vma v;

		/* "[vvar]" must not match the "[vvar_vclock]" line: match the line end. */
		snprintf(needle, sizeof(needle), " %s", t[i].name);
		if (proc_test_maps_find(text, needle, &v) < 0) {
			unit_fail(__FILE__, __LINE__, "no %s line", t[i].name);
			continue;
		}
		CHECK_STR(v.path, t[i].name);
		CHECK_U64(v.start, t[i].start);
		CHECK_U64(v.end, t[i].end);
		CHECK_INT(v.prot, t[i].prot);
		CHECK(!v.shared && !v.deleted);
		CHECK_U64(v.ino, 0);
	}
	free(text);
}

/* Hand-written lines for the cases the recording did not hold. */
static void proc_maps_line_edge_cases(void)
{
	struct proc_vma v;
	struct err e = { 0 };
	static char longline[PATH_MAX + 200];

	CHECK_INT(proc_parse_maps_line("7f00-8000 rw-p 00000000 00:00 0   [anon:amber test]\n", &v, &e), 0);
	CHECK_STR(v.path, "[anon:amber test]");
	/* Exactly " (deleted)" as a name is not a deleted empty name. */
	CHECK_INT(proc_parse_maps_line("1000-2000 r--p 00000000 08:01 5 /x (deleted)", &v, &e), 0);
	CHECK_STR(v.path, "/x");
	CHECK(v.deleted);
	/* No trailing space and no path at all. */
	CHECK_INT(proc_parse_maps_line("1000-2000 ---p 00000000 00:00 0", &v, &e), 0);
	CHECK_INT(v.prot, 0);
	CHECK_STR(v.path, "");
	/* Wide device numbers and a big inode. */
	CHECK_INT(proc_parse_maps_line("1000-2000 r--s 0000f000 103:0a 18446744073709551615 /big", &v, &e), 0);
	CHECK_INT(v.dev_major, 0x103);
	CHECK_INT(v.dev_minor, 0xa);
	CHECK_U64(v.ino, 18446744073709551615ULL);
	CHECK_U64(v.pgoff, 0xf000);
	CHECK(v.shared);
	/* A path longer than PATH_MAX is cut, not overflowed. */
	snprintf(longline, sizeof(longline), "1000-2000 r--p 00000000 00:00 0 /");
	memset(longline + strlen(longline), 'a', PATH_MAX + 100);
	CHECK_INT(proc_parse_maps_line(longline, &v, &e), 0);
	CHECK_INT(strlen(v.path), PATH_MAX - 1);
}

static void proc_maps_line_malformed(void)
{
	static const char *bad[] = {
		"",
		"\n",
		"garbage",
		"1000-2000",
		"1000-2000 rw-p 00000000 fe:00",
		"1000-2000 rw 00000000 00:00 0",
		"1000-2000 rw-pp 00000000 00:00 0",
		"1000-2000 rw-p zz 00:00 0",
		"2000-1000 rw-p 00000000 00:00 0",
		"1000-1000 rw-p 00000000 00:00 0",
		"x-2000 rw-p 00000000 00:00 0",
	};

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(bad); i++) {
		struct proc_vma v;
		struct err e = { 0 };

		if (proc_parse_maps_line(bad[i], &v, &e) != -EINVAL)
			unit_fail(__FILE__, __LINE__, "maps line '%s' was accepted", bad[i]);
		else
			CHECK_CONTAINS(e.msg, "bad maps line");
	}
}

static void proc_maps_live(void)
{
	struct proc_vma *vmas = NULL;
	struct err e = { 0 };
	int nr = 0, stack = 0, vdso = 0, local;
	void *heap = malloc(100);

	REQUIRE(proc_read_maps(getpid(), &vmas, &nr, &e) == 0);
	CHECK(nr > 5);
	for (int i = 0; i < nr; i++) {
		if (vmas[i].start <= (uintptr_t)&local && (uintptr_t)&local < vmas[i].end) {
			CHECK_STR(vmas[i].path, "[stack]");
			stack++;
		}
		vdso += !strcmp(vmas[i].path, "[vdso]");
	}
	CHECK_INT(stack, 1);
	CHECK_INT(vdso, 1);
	free(vmas);
	free(heap);
	CHECK(proc_read_maps(999999999, &vmas, &nr, &e) < 0);
	CHECK_CONTAINS(e.msg, "/proc/999999999/maps");
}

/* comm "a (b) c": the parser must find comm's end at the last ')'. */
static void proc_stat_comm_with_spaces(void)
{
	char *text = unit_fixture("stat-comm-spaces.txt");
	struct proc_stat st;
	struct err e = { 0 };

	REQUIRE(text);
	REQUIRE(proc_parse_stat(text, &st, &e) == 0);
	CHECK_INT(st.pid, 6312);
	CHECK_STR(st.comm, "a (b) c");
	CHECK_INT(st.state, 'S');
	CHECK_INT(st.ppid, 6308);
	CHECK_INT(st.pgrp, 6265);
	CHECK_INT(st.session, 2616);
	CHECK_INT(st.tty_nr, 0);
	CHECK_INT(st.tpgid, -1);
	CHECK_U64(st.flags, 4194304);
	CHECK_INT(st.num_threads, 1);
	CHECK_U64(st.start_code, 94718515793920ULL);
	CHECK_U64(st.end_code, 94718515811849ULL);
	CHECK_U64(st.start_stack, 140734804967184ULL);
	CHECK_U64(st.start_data, 94718515825936ULL);
	CHECK_U64(st.end_data, 94718515827200ULL);
	CHECK_U64(st.start_brk, 94718541144064ULL);
	CHECK_U64(st.arg_start, 140734804970075ULL);
	CHECK_U64(st.arg_end, 140734804970113ULL);
	CHECK_U64(st.env_start, 140734804970113ULL);
	CHECK_U64(st.env_end, 140734804971478ULL);
	CHECK_INT(st.exit_code, 0);
	free(text);
}

/* comm "x) 1 (y" under SCHED_FIFO: a ") " inside comm and a negative priority. */
static void proc_stat_comm_with_parens_rt(void)
{
	char *text = unit_fixture("stat-comm-parens-rt.txt");
	struct proc_stat st;
	struct err e = { 0 };

	REQUIRE(text);
	REQUIRE(proc_parse_stat(text, &st, &e) == 0);
	CHECK_INT(st.pid, 6317);
	CHECK_STR(st.comm, "x) 1 (y");
	CHECK_INT(st.state, 'S');
	CHECK_INT(st.ppid, 6308);
	CHECK_INT(st.pgrp, 6265);
	CHECK_INT(st.session, 2616);
	CHECK_U64(st.flags, 4194560);
	CHECK_INT(st.num_threads, 1);
	CHECK_U64(st.start_code, 94324463570944ULL);
	CHECK_U64(st.start_brk, 94324992634880ULL);
	CHECK_U64(st.env_end, 140726988214230ULL);
	free(text);
}

static void proc_stat_malformed(void)
{
	static char many[4096], long_comm[256];
	static const char *bad[] = {
		"",
		"123",
		"123 (abc",
		"123 abc) S 1",
		"123 (a) S 1 2 3",
		"123 (a) S 1 2 3 x 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49",
	};
	struct proc_stat st;
	struct err e = { 0 };

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(bad); i++)
		if (proc_parse_stat(bad[i], &st, &e) >= 0)
			unit_fail(__FILE__, __LINE__, "stat text '%.40s' was accepted", bad[i]);
	/* More fields than the parser knows (a newer kernel) are fine. */
	snprintf(many, sizeof(many), "7 (a) R");
	for (int i = 4; i <= 80; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), " %d", i);
	CHECK_INT(proc_parse_stat(many, &st, &e), 0);
	CHECK_INT(st.ppid, 4);
	CHECK_INT(st.exit_code, 52);
	/* A comm longer than the field is cut, not overflowed. */
	memset(long_comm, 'c', 200);
	snprintf(many, sizeof(many), "7 (%.200s) R", long_comm);
	for (int i = 4; i <= 52; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), " %d", i);
	CHECK_INT(proc_parse_stat(many, &st, &e), 0);
	CHECK_INT(strlen(st.comm), sizeof(st.comm) - 1);
}

static void proc_stat_live(void)
{
	struct proc_stat st;
	struct err e = { 0 };

	REQUIRE(proc_read_stat(getpid(), 0, &st, &e) == 0);
	CHECK_INT(st.pid, getpid());
	CHECK_INT(st.ppid, getppid());
	CHECK_INT(st.state, 'R');
	CHECK_INT(st.num_threads, 1);
	CHECK_INT(st.pgrp, getpgrp());
	CHECK(st.start_brk > 0 && st.arg_start < st.arg_end);
	CHECK(proc_read_stat(getpid(), 999999999, &st, &e) < 0);
	CHECK_CONTAINS(e.msg, "999999999");
}

static void proc_status_comm_with_spaces(void)
{
	char *text = unit_fixture("status-comm-spaces.txt");
	struct proc_status st;
	struct err e = { 0 };

	REQUIRE(text);
	REQUIRE(proc_parse_status(text, &st, &e) == 0);
	CHECK_STR(st.name, "a (b) c");
	CHECK_INT(st.umask, 022);
	CHECK_INT(st.state, 'S');
	CHECK_INT(st.tgid, 6312);
	CHECK_INT(st.pid, 6312);
	CHECK_INT(st.ppid, 6308);
	CHECK_INT(st.tracer, 0);
	for (int i = 0; i < 4; i++) {
		CHECK_INT(st.uid[i], 0);
		CHECK_INT(st.gid[i], 0);
	}
	CHECK_INT(st.threads, 1);
	CHECK_U64(st.sigpnd, 0);
	CHECK_U64(st.shdpnd, 0);
	CHECK_U64(st.sigblk, 0);
	CHECK_U64(st.sigign, 6);
	CHECK_U64(st.sigcgt, 0);
	CHECK_U64(st.capinh, 0);
	CHECK_U64(st.capprm, 0x1fffeffffffULL);
	CHECK_U64(st.capeff, 0x1fffeffffffULL);
	CHECK_U64(st.capbnd, 0x1fffeffffffULL);
	CHECK_U64(st.capamb, 0);
	CHECK_INT(st.nr_nspid, 1);
	CHECK_INT(st.nspid[0], 6312);
	CHECK_INT(st.seccomp, 0);
	CHECK_INT(st.no_new_privs, 0);
	free(text);
}

static void proc_status_threads_and_signals(void)
{
	char *text = unit_fixture("status-threads.txt");
	struct proc_status st;
	struct err e = { 0 };

	REQUIRE(text);
	REQUIRE(proc_parse_status(text, &st, &e) == 0);
	CHECK_STR(st.name, "python3");
	CHECK_INT(st.state, 'R');
	CHECK_INT(st.pid, 6326);
	CHECK_INT(st.threads, 2);
	CHECK_U64(st.sigblk, 1ULL << (SIGUSR1 - 1));
	CHECK_U64(st.sigign, 0x1001000ULL);
	CHECK(st.sigign & (1ULL << (SIGPIPE - 1)));
	CHECK_U64(st.sigcgt, 0x100000002ULL);
	free(text);
}

/* Hand-written status text: nested pid namespaces, odd umask, a tracer,
 * distinct ids, seccomp filter mode. */
static void proc_status_synthetic(void)
{
	const char *text =
		"Name:\tworker\n"
		"Umask:\t0077\n"
		"State:\tt (tracing stop)\n"
		"Tgid:\t100\n"
		"Pid:\t101\n"
		"PPid:\t99\n"
		"TracerPid:\t42\n"
		"Uid:\t1000\t1001\t1002\t1003\n"
		"Gid:\t2000\t2001\t2002\t2003\n"
		"NSpid:\t101\t7\t1\n"
		"NoNewPrivs:\t1\n"
		"Seccomp:\t2";	/* no final newline */
	struct proc_status st;
	struct err e = { 0 };

	REQUIRE(proc_parse_status(text, &st, &e) == 0);
	CHECK_STR(st.name, "worker");
	CHECK_INT(st.umask, 077);
	CHECK_INT(st.state, 't');
	CHECK_INT(st.tgid, 100);
	CHECK_INT(st.pid, 101);
	CHECK_INT(st.tracer, 42);
	CHECK_INT(st.uid[0], 1000);
	CHECK_INT(st.uid[3], 1003);
	CHECK_INT(st.gid[1], 2001);
	CHECK_INT(st.gid[2], 2002);
	CHECK_INT(st.nr_nspid, 3);
	CHECK_INT(st.nspid[0], 101);
	CHECK_INT(st.nspid[2], 1);
	CHECK_INT(st.no_new_privs, 1);
	CHECK_INT(st.seccomp, 2);
	/* More nesting than the array holds is capped, not overflowed. */
	REQUIRE(proc_parse_status("Name:\tx\nPid:\t1\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n"
				  "NSpid:\t1\t2\t3\t4\t5\t6\t7\t8\t9\t10\n", &st, &e) == 0);
	CHECK_INT(st.nr_nspid, 8);
	CHECK_INT(st.nspid[7], 8);
	/* Without a Seccomp line the mode is unknown (-1), not 0. */
	CHECK_INT(st.seccomp, -1);
}

static void proc_status_malformed(void)
{
	static const char *bad[] = {
		"",
		"\n\n\n",
		"Name:\tx\n",
		"Name:\tx\nPid:\t1\nUid:\t0 0 0 0\n",
		"no colons at all\nanywhere\n",
		"\x01\x02\x03:\x04\n\xff\xfe",
	};
	static char long_lines[8192];
	struct proc_status st;
	struct err e = { 0 };

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(bad); i++) {
		if (proc_parse_status(bad[i], &st, &e) >= 0)
			unit_fail(__FILE__, __LINE__, "status text %zu was accepted", i);
		else
			CHECK_CONTAINS(e.msg, "status");
	}
	/* Over-long keys and values are skipped or cut, never overflowed. */
	memset(long_lines, 'k', 100);
	memcpy(long_lines + 100, ":\tv\nName:\t", 10);
	memset(long_lines + 110, 'n', 3000);
	snprintf(long_lines + 3110, sizeof(long_lines) - 3110, "\nPid:\t5\nUid:\t1\t1\t1\t1\nGid:\t1\t1\t1\t1\n");
	CHECK_INT(proc_parse_status(long_lines, &st, &e), 0);
	CHECK_INT(strlen(st.name), 63);
	CHECK_INT(st.pid, 5);
}

static void proc_status_live(void)
{
	struct proc_status st;
	struct err e = { 0 };

	REQUIRE(proc_read_status(getpid(), getpid(), &st, &e) == 0);
	CHECK_INT(st.pid, getpid());
	CHECK_INT(st.tgid, getpid());
	CHECK_INT(st.ppid, getppid());
	CHECK_INT(st.uid[0], getuid());
	CHECK_INT(st.uid[1], geteuid());
	CHECK_INT(st.threads, 1);
	CHECK(st.nr_nspid >= 1);
	CHECK_INT(st.nspid[st.nr_nspid - 1], getpid());
}

static void proc_fdinfo_append(void)
{
	char *text = unit_fixture("fdinfo-append.txt");
	struct proc_fdinfo fi;
	struct err e = { 0 };

	REQUIRE(text);
	REQUIRE(proc_parse_fdinfo(text, &fi, &e) == 0);
	CHECK_U64(fi.pos, 123);
	CHECK_U64(fi.flags, 02102001);
	CHECK_INT(fi.flags & O_ACCMODE, O_WRONLY);
	CHECK(fi.flags & O_APPEND);
	CHECK(fi.flags & O_CLOEXEC);
	CHECK_INT(fi.mnt_id, 27);
	CHECK_U64(fi.ino, 10953169);
	free(text);
}

static void proc_fdinfo_rdwr(void)
{
	char *text = unit_fixture("fdinfo-rdwr.txt");
	struct proc_fdinfo fi;
	struct err e = { 0 };

	REQUIRE(text);
	REQUIRE(proc_parse_fdinfo(text, &fi, &e) == 0);
	CHECK_U64(fi.pos, 100);
	CHECK_U64(fi.flags, 02100002);
	CHECK_INT(fi.flags & O_ACCMODE, O_RDWR);
	CHECK(!(fi.flags & O_APPEND));
	CHECK_INT(fi.mnt_id, 27);
	CHECK_U64(fi.ino, 10953447);
	CHECK_INT(fi.tty_index, -1);
	free(text);
}

/* A pty master's fdinfo ends with the index of its pair. */
static void proc_fdinfo_pty_master(void)
{
	struct proc_fdinfo fi;
	struct err e = { 0 };

	REQUIRE(proc_parse_fdinfo("pos:\t0\nflags:\t02100002\nmnt_id:\t23\nino:\t89\ntty-index:\t17\n", &fi, &e) == 0);
	CHECK_INT(fi.tty_index, 17);
	CHECK_U64(fi.ino, 89);
}

static void proc_fdinfo_malformed(void)
{
	static const char *bad[] = { "", "pos:\t5\n", "flags:\t02\n", "mnt_id:\t1\nino:\t2\n", "garbage" };
	struct proc_fdinfo fi;
	struct err e = { 0 };

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(bad); i++)
		if (proc_parse_fdinfo(bad[i], &fi, &e) >= 0)
			unit_fail(__FILE__, __LINE__, "fdinfo text '%s' was accepted", bad[i]);
	/* Without mnt_id the mount is unknown (-1). */
	CHECK_INT(proc_parse_fdinfo("pos:\t0\nflags:\t0\n", &fi, &e), 0);
	CHECK_INT(fi.mnt_id, -1);
}

static void proc_fdinfo_live(void)
{
	char path[] = "/tmp/amber-unit-proc-XXXXXX";
	int fd = mkstemp(path);
	struct proc_fdinfo fi;
	struct err e = { 0 };

	REQUIRE(fd >= 0);
	unlink(path);
	REQUIRE(write(fd, "0123456789", 10) == 10);
	REQUIRE(lseek(fd, 5, SEEK_SET) == 5);
	REQUIRE(proc_read_fdinfo(getpid(), fd, &fi, &e) == 0);
	CHECK_U64(fi.pos, 5);
	CHECK_INT(fi.flags & O_ACCMODE, O_RDWR);
	CHECK(fi.mnt_id >= 0);
	close(fd);
	CHECK(proc_read_fdinfo(getpid(), fd, &fi, &e) < 0);
	CHECK_CONTAINS(e.msg, "fdinfo");
}

static void proc_children_fixture(void)
{
	char *text = unit_fixture("children.txt");
	struct err e = { 0 };
	pid_t *pids = NULL;
	int nr = 0;

	REQUIRE(text);
	REQUIRE(proc_parse_pid_list(text, &pids, &nr, &e) == 0);
	CHECK_INT(nr, 4);
	if (nr == 4) {
		CHECK_INT(pids[0], 6321);
		CHECK_INT(pids[1], 6322);
		CHECK_INT(pids[2], 6323);
		CHECK_INT(pids[3], 6325);
	}
	free(pids);
	free(text);
}

static void proc_pid_list_edge_cases(void)
{
	static const char *bad[] = { "12 x", "-5", "0", "1 2 three", "1,2" };
	struct err e = { 0 };
	pid_t *pids = NULL;
	int nr = -1;

	CHECK_INT(proc_parse_pid_list("", &pids, &nr, &e), 0);
	CHECK_INT(nr, 0);
	free(pids);
	pids = NULL;
	CHECK_INT(proc_parse_pid_list("1\n2 \n 3", &pids, &nr, &e), 0);
	CHECK_INT(nr, 3);
	free(pids);
	for (size_t i = 0; i < UNIT_ARRAY_SIZE(bad); i++) {
		pids = NULL;
		if (proc_parse_pid_list(bad[i], &pids, &nr, &e) >= 0) {
			unit_fail(__FILE__, __LINE__, "pid list '%s' was accepted", bad[i]);
			free(pids);
		}
	}
}

/* Real children and threads of this process. */
static void proc_children_and_threads_live(void)
{
	pid_t kids[3], *got = NULL, *tids = NULL;
	struct err e = { 0 };
	int nr = 0, found = 0;

	for (int i = 0; i < 3; i++) {
		kids[i] = fork();
		REQUIRE(kids[i] >= 0);
		if (kids[i] == 0) {
			pause();
			_exit(0);
		}
	}
	CHECK_INT(proc_read_children(getpid(), getpid(), &got, &nr, &e), 0);
	CHECK_INT(nr, 3);
	for (int i = 0; i < nr; i++)
		for (int j = 0; j < 3; j++)
			found += got[i] == kids[j];
	CHECK_INT(found, 3);
	free(got);
	for (int i = 0; i < 3; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	CHECK_INT(proc_list_threads(getpid(), &tids, &nr, &e), 0);
	CHECK_INT(nr, 1);
	if (nr == 1)
		CHECK_INT(tids[0], getpid());
	free(tids);
	CHECK(proc_list_threads(999999999, &tids, &nr, &e) < 0);
	CHECK_CONTAINS(e.msg, "999999999");
}

static void proc_read_file_errors(void)
{
	struct err e = { 0 };
	char *text = NULL;
	size_t len = 0;

	CHECK_INT(proc_read_file("/proc/self/no-such-file", &text, &len, &e), -ENOENT);
	CHECK_CONTAINS(e.msg, "'/proc/self/no-such-file'");
	/* A file bigger than the first buffer is read whole. */
	CHECK_INT(proc_read_file("/proc/self/maps", &text, &len, &e), 0);
	CHECK(text && strlen(text) == len && len > 0);
	free(text);
}

/* /proc/PID/limits as Linux 6.18 prints it: values by column, names with
 * blanks, "unlimited" for RLIM_INFINITY, the last column sometimes empty. */
static const char proc_limits_text[] =
	"Limit                     Soft Limit           Hard Limit           Units     \n"
	"Max cpu time              unlimited            unlimited            seconds   \n"
	"Max file size             unlimited            unlimited            bytes     \n"
	"Max data size             unlimited            unlimited            bytes     \n"
	"Max stack size            8388608              unlimited            bytes     \n"
	"Max core file size        0                    unlimited            bytes     \n"
	"Max resident set          unlimited            unlimited            bytes     \n"
	"Max processes             96367                96367                processes \n"
	"Max open files            1024                 20000                files     \n"
	"Max locked memory         8388608              8388608              bytes     \n"
	"Max address space         unlimited            unlimited            bytes     \n"
	"Max file locks            unlimited            unlimited            locks     \n"
	"Max pending signals       96367                96367                signals   \n"
	"Max msgqueue size         819200               819200               bytes     \n"
	"Max nice priority         0                    0                    \n"
	"Max realtime priority     0                    0                    \n"
	"Max realtime timeout      unlimited            unlimited            us        \n";

static void proc_limits_fields(void)
{
	struct proc_rlimit lim[PROC_NR_RLIMITS];
	struct err e = { 0 };

	CHECK_INT(proc_parse_limits(proc_limits_text, lim, &e), 0);
	CHECK_U64(lim[RLIMIT_CPU].cur, UINT64_MAX);
	CHECK_U64(lim[RLIMIT_STACK].cur, 8388608);
	CHECK_U64(lim[RLIMIT_STACK].max, UINT64_MAX);
	CHECK_U64(lim[RLIMIT_CORE].cur, 0);
	CHECK_U64(lim[RLIMIT_NOFILE].cur, 1024);
	CHECK_U64(lim[RLIMIT_NOFILE].max, 20000);
	CHECK_U64(lim[RLIMIT_RTPRIO].max, 0);
	CHECK_U64(lim[RLIMIT_RTTIME].max, UINT64_MAX);
}

static void proc_limits_malformed(void)
{
	struct proc_rlimit lim[PROC_NR_RLIMITS];
	struct err e = { 0 };
	char *cut = strdup(proc_limits_text);

	/* A resource missing, a value that is no number, a line cut short. */
	cut[strlen(cut) - 80] = 0;
	CHECK_INT(proc_parse_limits(cut, lim, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "limits");
	free(cut);
	cut = strdup(proc_limits_text);
	memcpy(strstr(cut, "1024 "), "abcd", 4);
	CHECK_INT(proc_parse_limits(cut, lim, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "line 9");
	free(cut);
	CHECK_INT(proc_parse_limits("Limit\nMax cpu\n", lim, &e), -EINVAL);
	CHECK_INT(proc_parse_limits("", lim, &e), -EINVAL);
}

/* This process's own limits, read both ways. */
static void proc_limits_live(void)
{
	struct proc_rlimit lim[PROC_NR_RLIMITS];
	struct err e = { 0 };

	CHECK_INT(proc_read_limits(getpid(), lim, &e), 0);
	for (int r = 0; r < PROC_NR_RLIMITS; r++) {
		struct rlimit rl;

		REQUIRE(getrlimit(r, &rl) == 0);
		CHECK_U64(lim[r].cur, rl.rlim_cur);
		CHECK_U64(lim[r].max, rl.rlim_max);
	}
}

static const struct unit_case cases[] = {
	UNIT_CASE(proc_maps_fixture_every_line),
	UNIT_CASE(proc_maps_fixture_fields),
	UNIT_CASE(proc_maps_fixture_special),
	UNIT_CASE(proc_maps_line_edge_cases),
	UNIT_CASE(proc_maps_line_malformed),
	UNIT_CASE(proc_maps_live),
	UNIT_CASE(proc_stat_comm_with_spaces),
	UNIT_CASE(proc_stat_comm_with_parens_rt),
	UNIT_CASE(proc_stat_malformed),
	UNIT_CASE(proc_stat_live),
	UNIT_CASE(proc_status_comm_with_spaces),
	UNIT_CASE(proc_status_threads_and_signals),
	UNIT_CASE(proc_status_synthetic),
	UNIT_CASE(proc_status_malformed),
	UNIT_CASE(proc_status_live),
	UNIT_CASE(proc_fdinfo_append),
	UNIT_CASE(proc_fdinfo_rdwr),
	UNIT_CASE(proc_fdinfo_malformed),
	UNIT_CASE(proc_fdinfo_pty_master),
	UNIT_CASE(proc_fdinfo_live),
	UNIT_CASE(proc_children_fixture),
	UNIT_CASE(proc_pid_list_edge_cases),
	UNIT_CASE(proc_children_and_threads_live),
	UNIT_CASE(proc_read_file_errors),
	UNIT_CASE(proc_limits_fields),
	UNIT_CASE(proc_limits_malformed),
	UNIT_CASE(proc_limits_live),
};

UNIT_MAIN(cases)
