/* test_memfd: lib/memfd.c, the memfd images (memfd-INO.img and
 * pages-memfd-INO.img): names, the data runs found in a real memfd, the
 * check of runs against the pages image, and a save/restore round trip
 * through a temp images dir, with each refusal naming its image. */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "images/image.h"
#include "lib/memfd.h"
#include "tests/unit/unit.h"

#define PG 4096

static void memfd_name_cases(void)
{
	static const struct {
		const char *path, *want;
	} cases[] = {
		{ "/memfd:amber", "amber" },
		{ "/memfd:", "" },
		{ "/memfd:with space:colon", "with space:colon" },
		{ "memfd:amber", NULL },
		{ "/tmp/memfd:amber", NULL },
		{ "/dev/zero", NULL },
		{ "", NULL },
	};

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(cases); i++) {
		const char *got = memfd_name_of(cases[i].path);

		if (!cases[i].want)
			CHECK(got == NULL);
		else
			CHECK_STR(got, cases[i].want);
	}
}

static void memfd_image_name_format(void)
{
	char entry[64], pages[64];

	memfd_image_names(1234567, entry, sizeof(entry), pages, sizeof(pages));
	CHECK_STR(entry, "memfd-1234567.img");
	CHECK_STR(pages, "pages-memfd-1234567.img");
	CHECK_STR(image_kind_of_file(entry)->name, "memfd");
	CHECK_STR(image_kind_of_file(pages)->name, "pages");
}

/* A memfd of 'size' bytes with a page of 'tag' bytes at each listed page. */
static int memfd_test_make(const char *name, unsigned int flags, uint64_t size, const int *pages, int n)
{
	char buf[PG];
	int fd = memfd_create(name, MFD_CLOEXEC | flags);

	if (fd < 0 || ftruncate(fd, size) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		uint64_t off = (uint64_t)pages[i] * PG, len = off + PG > size ? size - off : PG;

		memset(buf, 'a' + pages[i], sizeof(buf));
		if (pwrite(fd, buf, len, off) != (ssize_t)len)
			return -1;
	}
	return fd;
}

static void memfd_describe_runs(void)
{
	static const int pages[] = { 0, 3, 4, 10 };
	MemfdEntry m = MEMFD_ENTRY__INIT;
	struct err e = { 0 };
	int fd = memfd_test_make("desc", MFD_ALLOW_SEALING, 10 * PG + 100, pages, 4);

	REQUIRE(fd >= 0);
	REQUIRE(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW) == 0);
	m.name = "desc";
	CHECK_INT(memfd_describe(fd, &m, &e), 0);
	CHECK_U64(m.size, 10 * PG + 100);
	CHECK(m.has_seals);
	CHECK_INT(m.seals, F_SEAL_GROW);
	CHECK(m.has_mode);
	REQUIRE(m.n_data == 3);
	CHECK_U64(m.data[0]->offset, 0);
	CHECK_INT(m.data[0]->nr_pages, 1);
	CHECK_U64(m.data[1]->offset, 3 * PG);
	CHECK_INT(m.data[1]->nr_pages, 2);
	/* The last, partial page is a whole page of the image. */
	CHECK_U64(m.data[2]->offset, 10 * PG);
	CHECK_INT(m.data[2]->nr_pages, 1);
	memfd_clear(&m);
	CHECK(m.data == NULL);
	close(fd);
}

static void memfd_describe_holes_only(void)
{
	MemfdEntry m = MEMFD_ENTRY__INIT;
	struct err e = { 0 };
	int fd = memfd_test_make("holes", 0, 64 * PG, NULL, 0);

	REQUIRE(fd >= 0);
	m.name = "holes";
	CHECK_INT(memfd_describe(fd, &m, &e), 0);
	CHECK_U64(m.size, 64 * PG);
	CHECK_INT(m.n_data, 0);
	CHECK_INT(m.seals, F_SEAL_SEAL);	/* made without MFD_ALLOW_SEALING */
	memfd_clear(&m);
	close(fd);
}

/* m with the given runs (offset, pages), all in static storage. */
static void memfd_test_runs(MemfdEntry *m, MemfdRun *runs, MemfdRun **ptrs, const uint64_t (*r)[2], int n)
{
	memfd_entry__init(m);
	m->ino = 42;
	m->name = "chk";
	m->size = 8 * PG;
	for (int i = 0; i < n; i++) {
		memfd_run__init(&runs[i]);
		runs[i].offset = r[i][0];
		runs[i].nr_pages = r[i][1];
		ptrs[i] = &runs[i];
	}
	m->data = ptrs;
	m->n_data = n;
}

static void memfd_check_cases(void)
{
	static const struct {
		const char *name;
		uint64_t runs[3][2];
		int nr;
		uint64_t data;
		const char *want;	/* NULL: accepted */
	} cases[] = {
		{ "no runs", { { 0 } }, 0, 0, NULL },
		{ "two runs", { { 0, 2 }, { 5 * PG, 3 } }, 2, 5 * PG, NULL },
		{ "unaligned", { { 100, 1 } }, 1, PG, "not on a page" },
		{ "empty run", { { 0, 0 } }, 1, 0, "is empty" },
		{ "overlap", { { 0, 3 }, { 2 * PG, 1 } }, 2, 4 * PG, "overlaps" },
		{ "out of order", { { 4 * PG, 1 }, { 0, 1 } }, 2, 2 * PG, "overlaps" },
		{ "past the size", { { 6 * PG, 3 } }, 1, 3 * PG, "ends past" },
		{ "huge offset", { { ~0ULL & ~(uint64_t)(PG - 1), 1 } }, 1, PG, "ends past" },
		{ "truncated", { { 0, 2 } }, 1, PG, "truncated" },
		{ "too much data", { { 0, 1 } }, 1, 2 * PG, "do not belong together" },
	};

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(cases); i++) {
		MemfdRun runs[3], *ptrs[3];
		MemfdEntry m;
		struct err e = { 0 };
		int ret;

		memfd_test_runs(&m, runs, ptrs, cases[i].runs, cases[i].nr);
		ret = memfd_check(&m, "pages-memfd-42.img", cases[i].data, &e);
		if (!cases[i].want) {
			if (ret != 0)
				unit_fail(__FILE__, __LINE__, "case '%s' refused: %s", cases[i].name, e.msg);
			continue;
		}
		if (ret == 0)
			unit_fail(__FILE__, __LINE__, "case '%s' accepted", cases[i].name);
		CHECK_CONTAINS(e.msg, cases[i].want);
		CHECK_CONTAINS(e.msg, "42.img");
	}
}

/* Saves a memfd into a temp images dir; returns the dir fd, *dir its path. */
static int memfd_test_saved(char **dir, int fd, MemfdEntry *m, uint64_t ino)
{
	struct err e = { 0 };
	int dfd;

	*dir = unit_tmpdir();
	if (!*dir || (dfd = open(*dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	m->ino = ino;
	if (memfd_describe(fd, m, &e) < 0 || memfd_save(dfd, fd, m, &e) < 0) {
		printf("# %s\n", e.msg);
		close(dfd);
		return -1;
	}
	return dfd;
}

static void memfd_round_trip(void)
{
	static const int pages[] = { 1, 2, 7 };
	MemfdEntry m = MEMFD_ENTRY__INIT, *got = NULL;
	struct err e = { 0 };
	char *dir = NULL, link[256] = "", path[64], a[PG], b[PG];
	struct stat st;
	int fd = memfd_test_make("trip", MFD_ALLOW_SEALING, 7 * PG + 10, pages, 3), dfd, nfd;
	ssize_t n;

	REQUIRE(fd >= 0);
	REQUIRE(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0);
	m.name = "trip";
	REQUIRE((dfd = memfd_test_saved(&dir, fd, &m, 99)) >= 0);
	nfd = memfd_restore(dfd, 99, &got, &e);
	if (nfd < 0)
		printf("# %s\n", e.msg);
	REQUIRE(nfd >= 0 && got);
	CHECK_STR(got->name, "trip");
	REQUIRE(fstat(nfd, &st) == 0);
	CHECK_INT(st.st_size, 7 * PG + 10);
	CHECK_INT(fcntl(nfd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", nfd);
	n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	CHECK_STR(link, "/memfd:trip (deleted)");
	for (int p = 0; p < 8; p++) {
		size_t len = p == 7 ? 10 : PG;

		CHECK_INT(pread(fd, a, len, (off_t)p * PG), len);
		CHECK_INT(pread(nfd, b, len, (off_t)p * PG), len);
		if (memcmp(a, b, len))
			unit_fail(__FILE__, __LINE__, "page %d differs after the round trip", p);
	}
	/* Holes stay holes. */
	CHECK_INT(lseek(nfd, 0, SEEK_DATA), PG);
	memfd_entry__free_unpacked(got, NULL);
	memfd_clear(&m);
	close(nfd);
	close(fd);
	close(dfd);
	unit_rmtree(dir);
}

static void memfd_restore_refusals(void)
{
	static const int pages[] = { 0, 1 };
	MemfdEntry m = MEMFD_ENTRY__INIT, *got = NULL;
	struct err e = { 0 };
	char *dir = NULL, path[128];
	int fd = memfd_test_make("bad", 0, 2 * PG, pages, 2), dfd;

	REQUIRE(fd >= 0);
	m.name = "bad";
	REQUIRE((dfd = memfd_test_saved(&dir, fd, &m, 7)) >= 0);

	/* No image for that inode. */
	CHECK(memfd_restore(dfd, 8, &got, &e) < 0);
	CHECK_CONTAINS(e.msg, "memfd-8.img");
	CHECK_CONTAINS(e.msg, "missing");
	CHECK(got == NULL);

	/* An image under another inode's name. */
	REQUIRE(renameat(dfd, "memfd-7.img", dfd, "memfd-9.img") == 0);
	CHECK(memfd_restore(dfd, 9, &got, &e) < 0);
	CHECK_CONTAINS(e.msg, "memfd-9.img");
	CHECK_CONTAINS(e.msg, "inode 7");
	if (got)
		memfd_entry__free_unpacked(got, NULL);
	got = NULL;
	REQUIRE(renameat(dfd, "memfd-9.img", dfd, "memfd-7.img") == 0);

	/* Pages cut short. */
	snprintf(path, sizeof(path), "%s/pages-memfd-7.img", dir);
	REQUIRE(truncate(path, 4096 + PG) == 0);
	CHECK(memfd_restore(dfd, 7, &got, &e) < 0);
	CHECK_CONTAINS(e.msg, "pages-memfd-7.img");
	CHECK_CONTAINS(e.msg, "truncated");
	CHECK_CONTAINS(e.msg, "'bad'");
	if (got)
		memfd_entry__free_unpacked(got, NULL);
	memfd_clear(&m);
	close(fd);
	close(dfd);
	unit_rmtree(dir);
}

static const struct unit_case cases[] = {
	UNIT_CASE(memfd_name_cases),
	UNIT_CASE(memfd_image_name_format),
	UNIT_CASE(memfd_describe_runs),
	UNIT_CASE(memfd_describe_holes_only),
	UNIT_CASE(memfd_check_cases),
	UNIT_CASE(memfd_round_trip),
	UNIT_CASE(memfd_restore_refusals),
};

UNIT_MAIN(cases)
