/* test_image: images/image.c, the image file header, records and safe opens.
 *
 * Every case works in its own temp directory opened as the images dir, and
 * crafts bad files byte by byte to check each refusal names the file. The
 * header's identity (dump id, owner) and length (complete, count, body) get
 * a case for every way an image can lie: unfinished, truncated, extended,
 * a record missing or added, swapped between owners, from another dump. */
#include <endian.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <stdio.h>

#include "images/core.pb-c.h"
#include "images/fs.pb-c.h"
#include "images/image.h"
#include "images/inventory.pb-c.h"
#include "images/pagemap.pb-c.h"
#include "images/pstree.pb-c.h"
#include "lib/exitcodes.h"
#include "tests/unit/image_test.h"
#include "tests/unit/unit.h"

static void image_round_trip_one(void)
{
	InventoryEntry out = INVENTORY_ENTRY__INIT;
	InventoryEntry *in = NULL;
	struct err e = { 0 };
	struct stat st;
	uint32_t magic_on_disk = 0;
	char *dir;
	int dfd = image_test_dir(&dir), fd;

	REQUIRE(dfd >= 0);
	out.format_version = IMAGE_FORMAT_VERSION;
	out.kernel = "6.18.0-test";
	out.root_pid = 4242;
	out.has_page_size = true;
	out.page_size = 4096;
	CHECK_INT(image_write_one(dfd, "inventory", "inventory.img", &out.base, &e), 0);
	CHECK_INT(fstatat(dfd, "inventory.img", &st, 0), 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	fd = openat(dfd, "inventory.img", O_RDONLY);
	REQUIRE(fd >= 0);
	CHECK_INT(read(fd, &magic_on_disk, 4), 4);
	close(fd);
	CHECK_U64(le32toh(magic_on_disk), IMAGE_MAGIC);
	CHECK_INT(image_read_one(dfd, "inventory", "inventory.img", (ProtobufCMessage **)&in, &e), 0);
	REQUIRE(in);
	CHECK_INT(in->format_version, IMAGE_FORMAT_VERSION);
	CHECK_STR(in->kernel, "6.18.0-test");
	CHECK_INT(in->root_pid, 4242);
	CHECK(in->has_page_size && in->page_size == 4096);
	CHECK(!in->has_xstate_size);
	inventory_entry__free_unpacked(in, NULL);
	/* The same file read with kind NULL accepts any known kind. */
	CHECK_INT(image_read_one(dfd, NULL, "inventory.img", (ProtobufCMessage **)&in, &e), 0);
	if (in)
		inventory_entry__free_unpacked(in, NULL);
	close(dfd);
	unit_rmtree(dir);
}

static void image_many_records(void)
{
	PstreeEntry out = PSTREE_ENTRY__INIT;
	ProtobufCMessage *m;
	struct image img;
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir), n = 0, ret;

	REQUIRE(dfd >= 0);
	REQUIRE(image_open_write(&img, dfd, "pstree", "pstree.img", &e) == 0);
	for (uint32_t i = 1; i <= 5; i++) {
		out.pid = i;
		out.ppid = i - 1;
		CHECK_INT(image_write(&img, &out.base, &e), 0);
	}
	CHECK_INT(img.nr_written, 5);
	CHECK_INT(image_close_write(&img, &e), 0);
	REQUIRE(image_open_read(&img, dfd, NULL, "pstree.img", &e) == 0);
	CHECK_STR(img.kind->name, "pstree");
	while ((ret = image_read(&img, &m, &e)) == 1) {
		PstreeEntry *p = (PstreeEntry *)m;

		n++;
		CHECK_INT(p->pid, n);
		CHECK_INT(p->ppid, n - 1);
		pstree_entry__free_unpacked(p, NULL);
	}
	CHECK_INT(ret, 0);
	CHECK_INT(n, 5);
	image_close(&img);
	close(dfd);
	unit_rmtree(dir);
}

/* Rewriting an image truncates the old contents. */
static void image_write_truncates(void)
{
	PstreeEntry out = PSTREE_ENTRY__INIT;
	ProtobufCMessage *m;
	struct image img;
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir), n = 0;

	REQUIRE(dfd >= 0);
	REQUIRE(image_open_write(&img, dfd, "pstree", "pstree.img", &e) == 0);
	for (int i = 0; i < 10; i++)
		image_write(&img, &out.base, &e);
	CHECK_INT(image_close_write(&img, &e), 0);
	CHECK_INT(image_write_one(dfd, "pstree", "pstree.img", &out.base, &e), 0);
	REQUIRE(image_open_read(&img, dfd, "pstree", "pstree.img", &e) == 0);
	while (image_read(&img, &m, &e) == 1) {
		n++;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	CHECK_INT(n, 1);
	image_close(&img);
	close(dfd);
	unit_rmtree(dir);
}

static void image_wrong_magic(void)
{
	uint8_t buf[128];
	size_t n = image_test_header(buf, 0x464c457f, image_test_kind_magic("core"), IMAGE_FORMAT_VERSION, IMAGE_HDR_SIZE);
	ProtobufCMessage *m = NULL;
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir);

	REQUIRE(dfd >= 0);
	REQUIRE(image_test_put(dfd, "core-7.img", buf, n) == 0);
	CHECK_INT(image_read_one(dfd, "core", "core-7.img", &m, &e), -EINVAL);
	CHECK_INT(e.exit_code, EXIT_INPUT);
	CHECK_CONTAINS(e.msg, "'core-7.img'");
	CHECK_CONTAINS(e.msg, "not an amber image");
	CHECK_CONTAINS(e.msg, "0x464c457f");
	close(dfd);
	unit_rmtree(dir);
}

static void image_wrong_kind(void)
{
	FsEntry fs = FS_ENTRY__INIT;
	ProtobufCMessage *m = NULL;
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir);

	REQUIRE(dfd >= 0);
	fs.cwd = "/";
	fs.root = "/";
	REQUIRE(image_write_one(dfd, "fs", "fs-9.img", &fs.base, &e) == 0);
	CHECK_INT(image_read_one(dfd, "core", "fs-9.img", &m, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "'fs-9.img'");
	CHECK_CONTAINS(e.msg, "want core");
	close(dfd);
	unit_rmtree(dir);
}

static void image_unknown_kind_magic(void)
{
	uint8_t buf[128];
	size_t n = image_test_header(buf, IMAGE_MAGIC, 0xdeadbeef, 1, IMAGE_HDR_SIZE);
	struct image img;
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir);

	REQUIRE(dfd >= 0);
	REQUIRE(image_test_put(dfd, "core-1.img", buf, n) == 0);
	CHECK_INT(image_open_read(&img, dfd, NULL, "core-1.img", &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "'core-1.img'");
	CHECK_CONTAINS(e.msg, "0xdeadbeef");
	close(dfd);
	unit_rmtree(dir);
}

static void image_wrong_version(void)
{
	uint8_t buf[128];
	size_t n = image_test_header(buf, IMAGE_MAGIC, image_test_kind_magic("mm"), IMAGE_FORMAT_VERSION + 1, IMAGE_HDR_SIZE);
	struct image img;
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir);

	REQUIRE(dfd >= 0);
	REQUIRE(image_test_put(dfd, "mm-3.img", buf, n) == 0);
	CHECK_INT(image_open_read(&img, dfd, "mm", "mm-3.img", &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "'mm-3.img'");
	CHECK_CONTAINS(e.msg, "format version 4");
	/* A version 2 image, 16 bytes of header: its version is what is said. */
	n = image_test_header(buf, IMAGE_MAGIC, image_test_kind_magic("mm"), 2, 16);
	REQUIRE(image_test_put(dfd, "mm-3.img", buf, 16) == 0);
	CHECK_INT(image_open_read(&img, dfd, "mm", "mm-3.img", &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "format version 2; this amber reads version 3");
	close(dfd);
	unit_rmtree(dir);
}

static void image_bad_header_size(void)
{
	uint8_t buf[128];
	struct image img;
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir);
	uint32_t sizes[] = { 0, 15, 16, IMAGE_HDR_SIZE - 1, IMAGE_HDR_SIZE + 1, IMAGE_PAGES_HDR_SIZE, 0xffffffff };

	REQUIRE(dfd >= 0);
	for (size_t i = 0; i < UNIT_ARRAY_SIZE(sizes); i++) {
		size_t n = image_test_header(buf, IMAGE_MAGIC, image_test_kind_magic("mm"), IMAGE_FORMAT_VERSION, sizes[i]);

		REQUIRE(image_test_put(dfd, "mm-3.img", buf, n) == 0);
		CHECK_INT(image_open_read(&img, dfd, "mm", "mm-3.img", &e), -EINVAL);
		CHECK_CONTAINS(e.msg, "bad header size");
	}
	close(dfd);
	unit_rmtree(dir);
}

static void image_truncated_header(void)
{
	uint8_t buf[128];
	size_t n = image_test_header(buf, IMAGE_MAGIC, image_test_kind_magic("core"), IMAGE_FORMAT_VERSION, IMAGE_HDR_SIZE);
	ProtobufCMessage *m = NULL;
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir);

	REQUIRE(dfd >= 0 && n == IMAGE_HDR_SIZE);
	REQUIRE(image_test_put(dfd, "core-12.img", buf, 10) == 0);
	CHECK_INT(image_read_one(dfd, "core", "core-12.img", &m, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "'core-12.img'");
	CHECK_CONTAINS(e.msg, "truncated: 10 of 56");
	REQUIRE(image_test_put(dfd, "core-12.img", buf, 0) == 0);
	CHECK_INT(image_read_one(dfd, "core", "core-12.img", &m, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "truncated: 0 of 56");
	REQUIRE(image_test_put(dfd, "core-12.img", buf, 40) == 0);
	CHECK_INT(image_read_one(dfd, "core", "core-12.img", &m, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "truncated: 40 of 56");
	close(dfd);
	unit_rmtree(dir);
}

/* A header and no record: the writer died between the two. */
static void image_header_without_record(void)
{
	uint8_t buf[128];
	size_t n = image_test_header(buf, IMAGE_MAGIC, image_test_kind_magic("core"), IMAGE_FORMAT_VERSION, IMAGE_HDR_SIZE);
	ProtobufCMessage *m = NULL;
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir);

	REQUIRE(dfd >= 0);
	image_test_finish(buf, n, 5, 0);
	REQUIRE(image_test_put(dfd, "core-5.img", buf, n) == 0);
	CHECK(image_read_one(dfd, "core", "core-5.img", &m, &e) < 0);
	CHECK_CONTAINS(e.msg, "'core-5.img'");
	CHECK_CONTAINS(e.msg, "no record");
	close(dfd);
	unit_rmtree(dir);
}

static void image_missing_file(void)
{
	ProtobufCMessage *m = NULL;
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir);

	REQUIRE(dfd >= 0);
	CHECK_INT(image_read_one(dfd, "core", "core-99.img", &m, &e), -ENOENT);
	CHECK_CONTAINS(e.msg, "'core-99.img'");
	CHECK_CONTAINS(e.msg, "missing");
	close(dfd);
	unit_rmtree(dir);
}

/* A symlink planted in the images dir is neither followed for reading nor
 * written through (it could point at /etc/shadow). */
static void image_symlink_refused(void)
{
	FsEntry fs = FS_ENTRY__INIT;
	ProtobufCMessage *m = NULL;
	struct err e = { 0 };
	struct stat st;
	char *dir;
	int dfd = image_test_dir(&dir);

	REQUIRE(dfd >= 0);
	fs.cwd = "/";
	fs.root = "/";
	REQUIRE(image_write_one(dfd, "fs", "real.img", &fs.base, &e) == 0);
	REQUIRE(symlinkat("real.img", dfd, "fs-1.img") == 0);
	CHECK(image_read_one(dfd, "fs", "fs-1.img", &m, &e) < 0);
	CHECK_CONTAINS(e.msg, "'fs-1.img'");
	CHECK(m == NULL);
	/* Writing through it must fail too, leaving the target untouched. */
	REQUIRE(fstatat(dfd, "real.img", &st, 0) == 0);
	CHECK(image_write_one(dfd, "fs", "fs-1.img", &fs.base, &e) < 0);
	CHECK_CONTAINS(e.msg, "'fs-1.img'");
	/* A symlinked directory component is refused as well. */
	REQUIRE(symlinkat(".", dfd, "sub") == 0);
	CHECK(image_read_one(dfd, "fs", "sub/real.img", &m, &e) < 0);
	/* And nothing outside the images dir is reachable. */
	CHECK(image_openat(dfd, "../etc/passwd", O_RDONLY, 0) < 0);
	CHECK(image_openat(dfd, "/etc/passwd", O_RDONLY, 0) < 0);
	close(dfd);
	unit_rmtree(dir);
}

static void image_garbage_body(void)
{
	uint8_t buf[128];
	size_t n = image_test_header(buf, IMAGE_MAGIC, image_test_kind_magic("inventory"), IMAGE_FORMAT_VERSION, IMAGE_HDR_SIZE);
	ProtobufCMessage *m = NULL;
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir);

	REQUIRE(dfd >= 0);
	n += image_test_record(buf + n, 8, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	image_test_finish(buf, n, 0, 1);
	REQUIRE(image_test_put(dfd, "inventory.img", buf, n) == 0);
	CHECK_INT(image_read_one(dfd, "inventory", "inventory.img", &m, &e), -EINVAL);
	CHECK(m == NULL);
	CHECK_CONTAINS(e.msg, "'inventory.img'");
	CHECK_CONTAINS(e.msg, "record 0");
	CHECK_CONTAINS(e.msg, "InventoryEntry");
	close(dfd);
	unit_rmtree(dir);
}

static void image_truncated_record(void)
{
	uint8_t buf[128];
	size_t n = image_test_header(buf, IMAGE_MAGIC, image_test_kind_magic("inventory"), IMAGE_FORMAT_VERSION, IMAGE_HDR_SIZE);
	ProtobufCMessage *m = NULL;
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir);

	REQUIRE(dfd >= 0);
	n += image_test_record(buf + n, 100, "\x08\x01", 2);
	/* Its header agrees, as if the writer had announced a record it never wrote. */
	image_test_finish(buf, n, 0, 1);
	REQUIRE(image_test_put(dfd, "inventory.img", buf, n) == 0);
	CHECK_INT(image_read_one(dfd, "inventory", "inventory.img", &m, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "inventory.img");
	CHECK_CONTAINS(e.msg, "truncated");
	CHECK_CONTAINS(e.msg, "byte 56");
	close(dfd);
	unit_rmtree(dir);
}

static void image_oversize_record(void)
{
	uint8_t buf[128];
	size_t n = image_test_header(buf, IMAGE_MAGIC, image_test_kind_magic("core"), IMAGE_FORMAT_VERSION, IMAGE_HDR_SIZE);
	ProtobufCMessage *m = NULL;
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir);

	REQUIRE(dfd >= 0);
	n += image_test_record(buf + n, 0x7fffffff, "\x08\x01", 2);
	image_test_finish(buf, n, 1, 1);
	REQUIRE(image_test_put(dfd, "core-1.img", buf, n) == 0);
	CHECK_INT(image_read_one(dfd, "core", "core-1.img", &m, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "core-1.img");
	CHECK_CONTAINS(e.msg, "over the");
	close(dfd);
	unit_rmtree(dir);
}

/* pages-N.img: the header is padded to a page so contents stay aligned. */
static void image_pages_header_is_a_page(void)
{
	struct image img;
	struct err e = { 0 };
	struct stat st;
	char *dir;
	int dfd = image_test_dir(&dir);

	REQUIRE(dfd >= 0);
	REQUIRE(image_open_write(&img, dfd, "pages", "pages-1.img", &e) == 0);
	CHECK_INT(lseek(img.fd, 0, SEEK_CUR), IMAGE_PAGES_HDR_SIZE);
	CHECK_INT(image_close_write(&img, &e), 0);
	CHECK_INT(fstatat(dfd, "pages-1.img", &st, 0), 0);
	CHECK_INT(st.st_size, IMAGE_PAGES_HDR_SIZE);
	REQUIRE(image_open_read(&img, dfd, "pages", "pages-1.img", &e) == 0);
	CHECK_STR(img.kind->name, "pages");
	CHECK_INT(lseek(img.fd, 0, SEEK_CUR), IMAGE_PAGES_HDR_SIZE);
	CHECK_INT(img.rd.offset, IMAGE_PAGES_HDR_SIZE);
	image_close(&img);
	close(dfd);
	unit_rmtree(dir);
}

static void image_kind_of_file_names(void)
{
	static const struct { const char *file, *kind; } t[] = {
		{ "core-12.img", "core" },	{ "core.img", "core" },
		{ "mm-1.img", "mm" },		{ "pagemap-3.img", "pagemap" },
		{ "pages-1.img", "pages" },	{ "inventory.img", "inventory" },
		{ "pstree.img", "pstree" },	{ "fs-4.img", "fs" },
		{ "fdinfo-7.img", "fdinfo" },	{ "files.img", "files" },
		{ "core-12.im", NULL },		{ "core-12", NULL },
		{ "corex-1.img", NULL },	{ "junk.img", NULL },
		{ ".img", NULL },		{ "", NULL },
		{ "fsx.img", NULL },		{ "Core-1.img", NULL },
		{ "core-1.img.bak", NULL },
	};

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(t); i++) {
		const struct image_kind *k = image_kind_of_file(t[i].file);

		if (!t[i].kind && k)
			unit_fail(__FILE__, __LINE__, "image_kind_of_file('%s') is %s, want none", t[i].file, k->name);
		else if (t[i].kind && (!k || strcmp(k->name, t[i].kind)))
			unit_fail(__FILE__, __LINE__, "image_kind_of_file('%s') is %s, want %s", t[i].file,
				  k ? k->name : "none", t[i].kind);
	}
}

/* Names and magics are unique and look each other up. */
static void image_kind_table_consistent(void)
{
	const struct image_kind *kinds = image_kinds();
	int n = 0;

	for (const struct image_kind *k = kinds; k->name; k++, n++) {
		CHECK(image_kind_by_name(k->name) == k);
		CHECK(image_kind_by_magic(k->magic) == k);
		CHECK(k->magic != IMAGE_MAGIC && k->magic != 0);
		CHECK(k->what && *k->what);
	}
	CHECK(n >= 9);
	CHECK(image_kind_by_name("nope") == NULL);
	CHECK(image_kind_by_magic(0) == NULL);
}

static const struct unit_case cases[] = {
	UNIT_CASE(image_round_trip_one),
	UNIT_CASE(image_many_records),
	UNIT_CASE(image_write_truncates),
	UNIT_CASE(image_wrong_magic),
	UNIT_CASE(image_wrong_kind),
	UNIT_CASE(image_unknown_kind_magic),
	UNIT_CASE(image_wrong_version),
	UNIT_CASE(image_bad_header_size),
	UNIT_CASE(image_truncated_header),
	UNIT_CASE(image_header_without_record),
	UNIT_CASE(image_missing_file),
	UNIT_CASE(image_symlink_refused),
	UNIT_CASE(image_garbage_body),
	UNIT_CASE(image_truncated_record),
	UNIT_CASE(image_oversize_record),
	UNIT_CASE(image_pages_header_is_a_page),
	UNIT_CASE(image_kind_of_file_names),
	UNIT_CASE(image_kind_table_consistent),
};

UNIT_MAIN(cases)
