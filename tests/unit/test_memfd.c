/* test_memfd: images/memfd.c, the memfd images (memfd-INO.img and
 * pages-memfd-INO.img): names, the data runs found in a real memfd, the
 * check of runs against the pages image, a save/restore round trip
 * through a temp images dir, with each refusal naming its image, and the
 * save-once publishing that lets dump-files and dump-memory both save one
 * memfd. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "images/image.h"
#include "images/memfd.h"
#include "tests/unit/unit.h"

/* Every case writes and reads its images as one dump (the cases fork from
 * the harness after this ran). */
static void __attribute__((constructor)) memfd_test_dump_id(void)
{
	image_set_dump_id(0x3e3f);
}

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
	if (got)
		memfd_entry__free_unpacked(got, NULL);
	memfd_clear(&m);
	close(fd);
	close(dfd);
	unit_rmtree(dir);
}

/* The names in dir, sorted, joined by spaces (for comparing listings). */
static void memfd_test_ls(const char *dir, char *out, size_t len)
{
	struct dirent **v;
	int n = scandir(dir, &v, NULL, alphasort);

	out[0] = 0;
	for (int i = 0; i < n; i++) {
		if (strcmp(v[i]->d_name, ".") && strcmp(v[i]->d_name, ".."))
			snprintf(out + strlen(out), len - strlen(out), "%s%s", out[0] ? " " : "", v[i]->d_name);
		free(v[i]);
	}
	if (n >= 0)
		free(v);
}

/* The first byte of page p of the memfd restored from dfd's images of ino. */
static int memfd_test_first_byte(int dfd, uint64_t ino, int p)
{
	MemfdEntry *got = NULL;
	struct err e = { 0 };
	char c = 0;
	int nfd = memfd_restore(dfd, ino, &got, &e);

	if (got)
		memfd_entry__free_unpacked(got, NULL);
	if (nfd < 0) {
		printf("# %s\n", e.msg);
		return -1;
	}
	if (pread(nfd, &c, 1, (off_t)p * PG) != 1)
		c = -1;
	close(nfd);
	return (unsigned char)c;
}

/* A second save of the same inode (the other dump stage) finds the first
 * one's images, keeps them and leaves no temporary file. */
static void memfd_save_once(void)
{
	static const int first[] = { 0 }, second[] = { 1 };
	MemfdEntry m = MEMFD_ENTRY__INIT, m2 = MEMFD_ENTRY__INIT;
	struct err e = { 0 };
	char *dir = NULL, ls[512];
	int a = memfd_test_make("once", 0, 2 * PG, first, 1), b = memfd_test_make("once", 0, 2 * PG, second, 1), dfd;

	REQUIRE(a >= 0 && b >= 0);
	m.name = m2.name = "once";
	REQUIRE((dfd = memfd_test_saved(&dir, a, &m, 5)) >= 0);
	m2.ino = 5;
	REQUIRE(memfd_describe(b, &m2, &e) == 0);
	CHECK_INT(memfd_save(dfd, b, &m2, &e), 0);
	memfd_test_ls(dir, ls, sizeof(ls));
	CHECK_STR(ls, "memfd-5.img pages-memfd-5.img");
	/* The first writer's contents: page 0 of 'a', not page 1 of 'b'. */
	CHECK_INT(memfd_test_first_byte(dfd, 5, 0), 'a');
	CHECK_INT(memfd_test_first_byte(dfd, 5, 1), 0);
	memfd_clear(&m);
	memfd_clear(&m2);
	close(a);
	close(b);
	close(dfd);
	unit_rmtree(dir);
}

/* Two writers that both wrote their temporary images before either
 * published: the first publishes, the second gets 0 and the finals stay
 * the first's. */
static void memfd_publish_race(void)
{
	static const int pages[] = { 2 };
	MemfdEntry m = MEMFD_ENTRY__INIT;
	struct err e = { 0 };
	char *dir = NULL, ls[512], te1[96], tp1[96], te2[96], tp2[96];
	int fd = memfd_test_make("race", 0, 3 * PG, pages, 1), dfd;

	REQUIRE(fd >= 0);
	m.name = "race";
	REQUIRE((dfd = memfd_test_saved(&dir, fd, &m, 6)) >= 0);
	memfd_tmp_name("memfd-6.img", 111, te1, sizeof(te1));
	memfd_tmp_name("pages-memfd-6.img", 111, tp1, sizeof(tp1));
	memfd_tmp_name("memfd-6.img", 222, te2, sizeof(te2));
	memfd_tmp_name("pages-memfd-6.img", 222, tp2, sizeof(tp2));
	CHECK_STR(te1, ".tmp.memfd-6.img.111");
	CHECK(!image_kind_of_file(te1) && !image_kind_of_file(tp1));
	/* Both writers' temporary files, then no final name yet. */
	REQUIRE(linkat(dfd, "memfd-6.img", dfd, te1, 0) == 0 && linkat(dfd, "pages-memfd-6.img", dfd, tp1, 0) == 0);
	REQUIRE(linkat(dfd, "memfd-6.img", dfd, te2, 0) == 0 && linkat(dfd, "pages-memfd-6.img", dfd, tp2, 0) == 0);
	REQUIRE(unlinkat(dfd, "memfd-6.img", 0) == 0 && unlinkat(dfd, "pages-memfd-6.img", 0) == 0);
	CHECK_INT(memfd_publish(dfd, te1, tp1, "memfd-6.img", "pages-memfd-6.img", &e), 1);
	CHECK_INT(memfd_publish(dfd, te2, tp2, "memfd-6.img", "pages-memfd-6.img", &e), 0);
	memfd_test_ls(dir, ls, sizeof(ls));
	CHECK_STR(ls, ".tmp.memfd-6.img.111 .tmp.memfd-6.img.222 .tmp.pages-memfd-6.img.111 .tmp.pages-memfd-6.img.222 "
		      "memfd-6.img pages-memfd-6.img");
	CHECK_INT(memfd_test_first_byte(dfd, 6, 2), 'c');

	/* A writer whose entry cannot be published takes its pages back:
	 * nothing is left under the final names. */
	REQUIRE(unlinkat(dfd, "memfd-6.img", 0) == 0 && unlinkat(dfd, "pages-memfd-6.img", 0) == 0);
	REQUIRE(unlinkat(dfd, te1, 0) == 0);
	CHECK(memfd_publish(dfd, te1, tp1, "memfd-6.img", "pages-memfd-6.img", &e) < 0);
	CHECK_CONTAINS(e.msg, "memfd-6.img");
	CHECK(faccessat(dfd, "pages-memfd-6.img", F_OK, 0) < 0 && errno == ENOENT);
	CHECK(faccessat(dfd, "memfd-6.img", F_OK, 0) < 0 && errno == ENOENT);
	memfd_clear(&m);
	close(fd);
	close(dfd);
	unit_rmtree(dir);
}

/* Writers in several processes save one memfd at the same time: exactly
 * one publishes, the images are whole and no temporary file is left. */
static void memfd_save_concurrent(void)
{
	enum { WRITERS = 4 };
	static const int pages[] = { 0, 5, 9 };
	char *dir = unit_tmpdir(), ls[512];
	int fd = memfd_test_make("many", 0, 10 * PG, pages, 3), dfd, published = 0, failed = 0;
	pid_t kids[WRITERS];

	REQUIRE(dir && fd >= 0 && (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0);
	for (int i = 0; i < WRITERS; i++) {
		kids[i] = fork();
		REQUIRE(kids[i] >= 0);
		if (kids[i] == 0) {
			MemfdEntry m = MEMFD_ENTRY__INIT;
			struct err e = { 0 };
			int ret;

			m.ino = 12;
			m.name = "many";
			ret = memfd_describe(fd, &m, &e);
			if (ret == 0)
				ret = memfd_save(dfd, fd, &m, &e);
			if (ret < 0)
				printf("# %s\n", e.msg);
			_exit(ret < 0 ? 2 : ret);
		}
	}
	for (int i = 0; i < WRITERS; i++) {
		int st;

		REQUIRE(waitpid(kids[i], &st, 0) == kids[i]);
		published += WIFEXITED(st) && WEXITSTATUS(st) == 1;
		failed += !WIFEXITED(st) || WEXITSTATUS(st) > 1;
	}
	CHECK_INT(failed, 0);
	CHECK_INT(published, 1);
	memfd_test_ls(dir, ls, sizeof(ls));
	CHECK_STR(ls, "memfd-12.img pages-memfd-12.img");
	CHECK_INT(memfd_test_first_byte(dfd, 12, 9), 'a' + 9);
	close(fd);
	close(dfd);
	unit_rmtree(dir);
}

/* The driver's clean-up: an earlier dump's memfd images and any writer's
 * temporary files go, nothing else does. */
static void memfd_remove_cases(void)
{
	static const char *const names[] = { "memfd-1.img", "pages-memfd-1.img", ".tmp.memfd-1.img.5",
					     ".tmp.pages-memfd-1.img.5", "files.img", "pages-3.img", ".tmp.other" };
	struct err e = { 0 };
	char *dir = unit_tmpdir(), ls[512];
	int dfd;

	REQUIRE(dir && (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0);
	for (size_t i = 0; i < UNIT_ARRAY_SIZE(names); i++) {
		int fd = openat(dfd, names[i], O_CREAT | O_WRONLY | O_CLOEXEC, 0600);

		REQUIRE(fd >= 0);
		close(fd);
	}
	CHECK_INT(memfd_remove_images(dfd, true, &e), 0);
	memfd_test_ls(dir, ls, sizeof(ls));
	CHECK_STR(ls, ".tmp.other files.img memfd-1.img pages-3.img pages-memfd-1.img");
	CHECK_INT(memfd_remove_images(dfd, false, &e), 0);
	memfd_test_ls(dir, ls, sizeof(ls));
	CHECK_STR(ls, ".tmp.other files.img pages-3.img");
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
	UNIT_CASE(memfd_save_once),
	UNIT_CASE(memfd_publish_race),
	UNIT_CASE(memfd_save_concurrent),
	UNIT_CASE(memfd_remove_cases),
};

UNIT_MAIN(cases)
