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
#include "tests/unit/unit.h"

#define TEST_DUMP_ID	0x1122334455667788ull
#define OTHER_DUMP_ID	0x8877665544332211ull

/* A fresh images dir: its path in *path, an O_DIRECTORY fd returned. Images
 * are written (and read) as dump TEST_DUMP_ID. */
static int image_test_dir(char **path)
{
	image_set_dump_id(TEST_DUMP_ID);
	*path = unit_tmpdir();
	if (!*path)
		return -1;
	return open(*path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Writes raw bytes as file 'name' in dirfd. */
static int image_test_put(int dirfd, const char *name, const void *bytes, size_t len)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int ret;

	if (fd < 0)
		return -1;
	ret = write_all(fd, bytes, len);
	close(fd);
	return ret;
}

/* A 56-byte header of dump TEST_DUMP_ID, owner 0, complete, with no
 * records yet (image_test_finish counts what follows). */
static size_t image_test_header(uint8_t *out, uint32_t magic, uint32_t kind, uint32_t version, uint32_t hdr_size)
{
	struct image_header h = {
		htole32(magic), htole32(kind), htole32(version), htole32(hdr_size),
		htole64(TEST_DUMP_ID), 0, htole32(IMAGE_FLAG_COMPLETE), 0, 0, 0,
	};

	memcpy(out, &h, sizeof(h));
	return sizeof(h);
}

/* Sets the owner, the record count and the body length of a crafted image
 * of n bytes, as a writer would have. */
static void image_test_finish(uint8_t *buf, size_t n, uint64_t owner, uint64_t count)
{
	struct image_header *h = (struct image_header *)buf;

	h->owner = htole64(owner);
	h->count = htole64(count);
	h->body = htole64(n - IMAGE_HDR_SIZE);
}

/* Reads an image's whole file into buf (at most size bytes); its length. */
static ssize_t image_test_get(int dirfd, const char *name, uint8_t *buf, size_t size)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size);
	close(fd);
	return n;
}

/* Writes n records of pstree.img (pids 1..n). */
static int image_test_pstree(int dirfd, const char *name, int n)
{
	PstreeEntry pe = PSTREE_ENTRY__INIT;
	struct image img;
	struct err e = { 0 };

	if (image_open_write(&img, dirfd, "pstree", name, &e) < 0)
		return -1;
	for (int i = 1; i <= n; i++) {
		pe.pid = i;
		if (image_write(&img, &pe.base, &e) < 0) {
			image_close(&img);
			return -1;
		}
	}
	return image_close_write(&img, &e);
}

/* Reads every record of an image; the last image_read return and the count. */
static int image_test_read_all(int dirfd, const char *name, int *n, struct err *e)
{
	struct image img;
	ProtobufCMessage *m;
	int ret = image_open_read(&img, dirfd, NULL, name, e);

	*n = 0;
	if (ret < 0)
		return ret;
	while ((ret = image_read(&img, &m, e)) == 1) {
		(*n)++;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	image_close(&img);
	return ret;
}

static size_t image_test_record(uint8_t *out, uint32_t announced, const void *body, size_t len)
{
	uint32_t le = htole32(announced);

	memcpy(out, &le, 4);
	memcpy(out + 4, body, len);
	return 4 + len;
}

static uint32_t image_test_kind_magic(const char *name)
{
	const struct image_kind *k = image_kind_by_name(name);

	return k ? k->magic : 0;
}

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

/* The v3 header on disk, field by field, as doc/image-format.md lays it out. */
static void image_header_layout(void)
{
	uint8_t buf[256];
	uint32_t u32;
	uint64_t u64;
	char *dir;
	int dfd = image_test_dir(&dir);
	ssize_t n;

	REQUIRE(dfd >= 0);
	REQUIRE(image_test_pstree(dfd, "pstree.img", 3) == 0);
	n = image_test_get(dfd, "pstree.img", buf, sizeof(buf));
	REQUIRE(n > IMAGE_HDR_SIZE);
#define AT32(off) (memcpy(&u32, buf + (off), 4), le32toh(u32))
#define AT64(off) (memcpy(&u64, buf + (off), 8), le64toh(u64))
	CHECK_U64(AT32(0), IMAGE_MAGIC);
	CHECK_U64(AT32(4), image_test_kind_magic("pstree"));
	CHECK_INT(AT32(8), IMAGE_FORMAT_VERSION);
	CHECK_INT(AT32(12), IMAGE_HDR_SIZE);
	CHECK_U64(AT64(16), TEST_DUMP_ID);
	CHECK_INT(AT64(24), 0);			/* pstree.img has no owner */
	CHECK_INT(AT32(32), IMAGE_FLAG_COMPLETE);
	CHECK_INT(AT32(36), 0);
	CHECK_INT(AT64(40), 3);
	CHECK_INT(AT64(48), n - IMAGE_HDR_SIZE);
	/* A named owner is the number in the name. */
	REQUIRE(image_test_pstree(dfd, "pstree-4242.img", 1) == 0);
	n = image_test_get(dfd, "pstree-4242.img", buf, sizeof(buf));
	REQUIRE(n > IMAGE_HDR_SIZE);
	CHECK_INT(AT64(24), 4242);
#undef AT32
#undef AT64
	close(dfd);
	unit_rmtree(dir);
}

static void image_owner_of_file_names(void)
{
	static const struct { const char *file; uint64_t owner; } t[] = {
		{ "core-12.img", 12 },		{ "pages-memfd-77.img", 77 },
		{ "memfd-9.img", 9 },		{ "mountpoints-1.img", 1 },
		{ "pstree.img", 0 },		{ "inventory.img", 0 },
		{ "core-.img", 0 },		{ "core-1x.img", 0 },
		{ "core-12.im", 0 },		{ "-5.img", 0 },
		{ "core-18446744073709551615.img", UINT64_MAX },
		{ "core-18446744073709551616.img", 0 },
		{ ".tmp.pages-memfd-5.img.123", 0 },
	};

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(t); i++)
		if (image_owner_of_file(t[i].file) != t[i].owner)
			unit_fail(__FILE__, __LINE__, "image_owner_of_file('%s') is %llu, want %llu", t[i].file,
				  (unsigned long long)image_owner_of_file(t[i].file), (unsigned long long)t[i].owner);
}

/* A writer that died (closed without image_close_write) left it unfinished. */
static void image_unfinished_refused(void)
{
	struct image img;
	PstreeEntry pe = PSTREE_ENTRY__INIT;
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir), n;

	REQUIRE(dfd >= 0);
	REQUIRE(image_open_write(&img, dfd, "pstree", "pstree.img", &e) == 0);
	CHECK_INT(image_write(&img, &pe.base, &e), 0);
	image_close(&img);
	CHECK_INT(image_test_read_all(dfd, "pstree.img", &n, &e), -EINVAL);
	CHECK_INT(e.exit_code, EXIT_INPUT);
	CHECK_CONTAINS(e.msg, "'pstree.img' was not finished");
	close(dfd);
	unit_rmtree(dir);
}

/* Cut short at a record boundary, or with bytes appended. */
static void image_length_checked(void)
{
	uint8_t buf[256];
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir), n;
	ssize_t len;

	REQUIRE(dfd >= 0);
	REQUIRE(image_test_pstree(dfd, "pstree.img", 3) == 0);
	len = image_test_get(dfd, "pstree.img", buf, sizeof(buf));
	REQUIRE(len > IMAGE_HDR_SIZE);
	CHECK_INT(image_test_read_all(dfd, "pstree.img", &n, &e), 0);
	CHECK_INT(n, 3);
	/* Drop the last record (pids 1..3: records of one size). */
	REQUIRE(image_test_put(dfd, "pstree.img", buf, len - (len - IMAGE_HDR_SIZE) / 3) == 0);
	CHECK_INT(image_test_read_all(dfd, "pstree.img", &n, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "'pstree.img' is truncated");
	CHECK_CONTAINS(e.msg, "the file has");
	/* Junk after the last record. */
	memcpy(buf + len, "junk", 4);
	REQUIRE(image_test_put(dfd, "pstree.img", buf, len + 4) == 0);
	CHECK_INT(image_test_read_all(dfd, "pstree.img", &n, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "'pstree.img' is longer than written");
	close(dfd);
	unit_rmtree(dir);
}

/* A record taken out or put in, with the length fixed to match: the count
 * says so at the end of the file. */
static void image_count_checked(void)
{
	uint8_t buf[256];
	struct err e = { 0 };
	ProtobufCMessage *m = NULL;
	char *dir;
	int dfd = image_test_dir(&dir), n;
	ssize_t len, rec;

	REQUIRE(dfd >= 0);
	REQUIRE(image_test_pstree(dfd, "pstree.img", 3) == 0);
	len = image_test_get(dfd, "pstree.img", buf, sizeof(buf));
	REQUIRE(len > IMAGE_HDR_SIZE && (len - IMAGE_HDR_SIZE) % 3 == 0);
	rec = (len - IMAGE_HDR_SIZE) / 3;	/* pids 1..3: records of one size */
	image_test_finish(buf, len - rec, 0, 3);
	REQUIRE(image_test_put(dfd, "pstree.img", buf, len - rec) == 0);
	CHECK_INT(image_test_read_all(dfd, "pstree.img", &n, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "'pstree.img' holds 2 records, its header counts 3: records are missing");
	/* The third record twice. */
	memcpy(buf + len, buf + len - rec, rec);
	image_test_finish(buf, len + rec, 0, 3);
	REQUIRE(image_test_put(dfd, "pstree.img", buf, len + rec) == 0);
	CHECK_INT(image_test_read_all(dfd, "pstree.img", &n, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "holds 4 records, its header counts 3: records were added");
	/* A single-record image with two, counted right, is still refused. */
	image_test_finish(buf, IMAGE_HDR_SIZE + 2 * rec, 0, 2);
	REQUIRE(image_test_put(dfd, "pstree.img", buf, IMAGE_HDR_SIZE + 2 * rec) == 0);
	CHECK_INT(image_read_one(dfd, "pstree", "pstree.img", &m, &e), -EINVAL);
	CHECK(m == NULL);
	CHECK_CONTAINS(e.msg, "'pstree.img' holds more than the one record");
	/* A count that cannot fit the body. */
	image_test_finish(buf, len, 0, 1000);
	REQUIRE(image_test_put(dfd, "pstree.img", buf, len) == 0);
	CHECK_INT(image_test_read_all(dfd, "pstree.img", &n, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "more than fit");
	close(dfd);
	unit_rmtree(dir);
}

/* core-1.img and core-2.img renamed into each other. */
static void image_swapped_refused(void)
{
	CoreEntry c = CORE_ENTRY__INIT;
	ProtobufCMessage *m = NULL;
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir);

	REQUIRE(dfd >= 0);
	c.tid = 1;
	REQUIRE(image_write_one(dfd, "core", "core-1.img", &c.base, &e) == 0);
	c.tid = 2;
	REQUIRE(image_write_one(dfd, "core", "core-2.img", &c.base, &e) == 0);
	REQUIRE(renameat2(dfd, "core-1.img", dfd, "core-2.img", RENAME_EXCHANGE) == 0);
	CHECK_INT(image_read_one(dfd, "core", "core-1.img", &m, &e), -EINVAL);
	CHECK_INT(e.exit_code, EXIT_INPUT);
	CHECK_CONTAINS(e.msg, "'core-1.img' belongs to thread 2, but its name says 1");
	/* Another kind's image under this kind's name. */
	REQUIRE(renameat(dfd, "core-2.img", dfd, "fs-1.img") == 0);
	CHECK_INT(image_read_one(dfd, NULL, "fs-1.img", &m, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "'fs-1.img' holds a core image, not a fs one");
	close(dfd);
	unit_rmtree(dir);
}

/* The dump id: given to writers, checked by readers against the one set
 * or, without one, against the inventory.img beside the image. */
static void image_other_dump_refused(void)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	PstreeEntry pe = PSTREE_ENTRY__INIT;
	ProtobufCMessage *m = NULL;
	struct err e = { 0 };
	uint64_t id = 0;
	char *dir;
	int dfd = image_test_dir(&dir), n;

	REQUIRE(dfd >= 0);
	inv.kernel = "k";
	REQUIRE(image_write_one(dfd, "inventory", "inventory.img", &inv.base, &e) == 0);
	REQUIRE(image_test_pstree(dfd, "pstree.img", 1) == 0);
	/* A restore is given no id: inventory.img's is the one. */
	image_set_dump_id(0);
	CHECK_INT(image_dump_id(), 0);
	CHECK_INT(image_dir_dump_id(dfd, &id, &e), 0);
	CHECK_U64(id, TEST_DUMP_ID);
	CHECK_INT(image_test_read_all(dfd, "pstree.img", &n, &e), 0);
	CHECK_INT(image_read_one(dfd, "inventory", "inventory.img", &m, &e), 0);
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
	/* An image of another dump put in. */
	image_set_dump_id(OTHER_DUMP_ID);
	REQUIRE(image_write_one(dfd, "pstree", "pstree.img", &pe.base, &e) == 0);
	image_set_dump_id(0);
	CHECK_INT(image_test_read_all(dfd, "pstree.img", &n, &e), -EINVAL);
	CHECK_INT(e.exit_code, EXIT_INPUT);
	CHECK_CONTAINS(e.msg, "'pstree.img' is from dump 8877665544332211, but inventory.img is of dump 1122334455667788");
	/* And with the id set (a dump's later stage): compared with that. */
	image_set_dump_id(TEST_DUMP_ID);
	CHECK_INT(image_test_read_all(dfd, "pstree.img", &n, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "is from dump 8877665544332211");
	/* inventory.img itself from another dump, with the id set. */
	image_set_dump_id(OTHER_DUMP_ID);
	CHECK_INT(image_read_one(dfd, "inventory", "inventory.img", &m, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "'inventory.img' is from dump 1122334455667788");
	close(dfd);
	unit_rmtree(dir);
}

/* Without an id and without inventory.img, no image can be trusted. */
static void image_no_inventory_refused(void)
{
	struct err e = { 0 };
	struct image img;
	char *dir;
	int dfd = image_test_dir(&dir), n;

	REQUIRE(dfd >= 0);
	REQUIRE(image_test_pstree(dfd, "pstree.img", 1) == 0);
	image_set_dump_id(0);
	CHECK_INT(image_test_read_all(dfd, "pstree.img", &n, &e), -EINVAL);
	CHECK_INT(e.exit_code, EXIT_INPUT);
	CHECK_CONTAINS(e.msg, "image 'pstree.img': inventory.img is missing");
	/* A missing image is still -ENOENT, not the inventory's absence. */
	CHECK_INT(image_open_read(&img, dfd, "core", "core-1.img", &e), -ENOENT);
	/* And a writer needs an id. */
	CHECK_INT(image_test_pstree(dfd, "pstree.img", 1), -1);
	CHECK_INT(image_open_write(&img, dfd, "pstree", "pstree.img", &e), -1);
	CHECK_INT(e.exit_code, EXIT_USAGE);
	CHECK_CONTAINS(e.msg, "--dump-id");
	close(dfd);
	unit_rmtree(dir);
}

/* Header fields only a corrupt or crafted image has. */
static void image_header_fields_checked(void)
{
	uint8_t buf[128];
	struct image_header *h = (struct image_header *)buf;
	ProtobufCMessage *m = NULL;
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir);
	ssize_t n;

	REQUIRE(dfd >= 0);
	REQUIRE(image_test_pstree(dfd, "pstree.img", 1) == 0);
	n = image_test_get(dfd, "pstree.img", buf, sizeof(buf));
	REQUIRE(n > IMAGE_HDR_SIZE);
	CHECK_INT(image_read_one(dfd, "pstree", "pstree.img", &m, &e), 0);
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
	h->flags = htole32(3);
	REQUIRE(image_test_put(dfd, "pstree.img", buf, n) == 0);
	CHECK_INT(image_read_one(dfd, "pstree", "pstree.img", &m, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "unknown header flags 0x2");
	h->flags = htole32(IMAGE_FLAG_COMPLETE);
	h->reserved = htole32(1);
	REQUIRE(image_test_put(dfd, "pstree.img", buf, n) == 0);
	CHECK_INT(image_read_one(dfd, "pstree", "pstree.img", &m, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "reserved header field");
	h->reserved = 0;
	h->owner = htole64(7);
	REQUIRE(image_test_put(dfd, "pstree.img", buf, n) == 0);
	CHECK_INT(image_read_one(dfd, "pstree", "pstree.img", &m, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "belongs to process 7, but its name says 0");
	close(dfd);
	unit_rmtree(dir);
}

/* pages images: as strict as the others, and their header page is zero
 * past the header; count is pages, body whole pages. */
static void image_pages_header_checked(void)
{
	static uint8_t buf[IMAGE_PAGES_HDR_SIZE + 2 * IMAGE_PAGE_SIZE];
	struct image_header *h = (struct image_header *)buf;
	struct image img;
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir);
	ssize_t len;

	REQUIRE(dfd >= 0);
	REQUIRE(image_open_write(&img, dfd, "pages", "pages-5.img", &e) == 0);
	memset(buf, 0xab, 2 * IMAGE_PAGE_SIZE);
	REQUIRE(write_all(img.fd, buf, 2 * IMAGE_PAGE_SIZE) == 0);
	REQUIRE(image_close_write(&img, &e) == 0);
	len = image_test_get(dfd, "pages-5.img", buf, sizeof(buf));
	REQUIRE(len == (ssize_t)sizeof(buf));
	CHECK_INT(le64toh(h->owner), 5);
	CHECK_INT(le64toh(h->count), 2);
	CHECK_INT(le64toh(h->body), 2 * IMAGE_PAGE_SIZE);
	REQUIRE(image_open_read(&img, dfd, "pages", "pages-5.img", &e) == 0);
	CHECK_INT(img.hdr.body, 2 * IMAGE_PAGE_SIZE);
	image_close(&img);
	/* A stray byte in the header page. */
	buf[IMAGE_PAGES_HDR_SIZE - 1] = 1;
	REQUIRE(image_test_put(dfd, "pages-5.img", buf, len) == 0);
	CHECK_INT(image_open_read(&img, dfd, "pages", "pages-5.img", &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "non-zero byte at offset 4095");
	buf[IMAGE_PAGES_HDR_SIZE - 1] = 0;
	/* A count that is not the pages the body holds. */
	h->count = htole64(3);
	REQUIRE(image_test_put(dfd, "pages-5.img", buf, len) == 0);
	CHECK_INT(image_open_read(&img, dfd, "pages", "pages-5.img", &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "3 pages in 8192 bytes");
	h->count = htole64(2);
	/* A page cut off; half a page appended. */
	REQUIRE(image_test_put(dfd, "pages-5.img", buf, len - IMAGE_PAGE_SIZE) == 0);
	CHECK_INT(image_open_read(&img, dfd, "pages", "pages-5.img", &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "'pages-5.img' is truncated");
	/* Swapped with another process's. */
	REQUIRE(image_test_put(dfd, "pages-6.img", buf, len) == 0);
	CHECK_INT(image_open_read(&img, dfd, "pages", "pages-6.img", &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "belongs to process 5, but its name says 6");
	/* The header size of a pages image is a page, no other. */
	h->hdr_size = htole32(IMAGE_HDR_SIZE);
	REQUIRE(image_test_put(dfd, "pages-5.img", buf, len) == 0);
	CHECK_INT(image_open_read(&img, dfd, "pages", "pages-5.img", &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "bad header size 56; a pages image's is 4096");
	close(dfd);
	unit_rmtree(dir);
}

/* An image opened for inspection ('amber show') reads even when it lies;
 * image_check then says how. */
static void image_inspect_then_check(void)
{
	struct image img;
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir);

	REQUIRE(dfd >= 0);
	REQUIRE(image_test_pstree(dfd, "pstree.img", 2) == 0);
	REQUIRE(renameat(dfd, "pstree.img", dfd, "pstree-3.img") == 0);
	REQUIRE(image_open_inspect(&img, dfd, NULL, "pstree-3.img", &e) == 0);
	CHECK_U64(img.hdr.dump_id, TEST_DUMP_ID);
	CHECK_INT(img.hdr.count, 2);
	CHECK_INT(image_check(&img, TEST_DUMP_ID, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "belongs to process 0, but its name says 3");
	image_close(&img);
	close(dfd);
	unit_rmtree(dir);
}

/* Writes image NAME of kind k: one record of its type, left empty (every
 * field optional or zero; protobuf-c packs required zeros too), or for
 * pages one page. */
static int image_test_kind_write(int dfd, const struct image_kind *k, const char *name)
{
	static uint8_t page[IMAGE_PAGE_SIZE];
	const ProtobufCMessageDescriptor *desc = k->desc ? k->desc : &pagemap_head__descriptor;
	struct image img;
	struct err e = { 0 };
	int ret;

	if (image_open_write(&img, dfd, k->name, name, &e) < 0)
		return -1;
	if (!strcmp(k->name, "pages")) {
		ret = write_all(img.fd, page, sizeof(page));
	} else {
		ProtobufCMessage *m = calloc(1, desc->sizeof_message);

		if (!m) {
			image_close(&img);
			return -1;
		}
		protobuf_c_message_init(desc, m);
		ret = image_write(&img, m, &e);
		free(m);
	}
	if (ret < 0) {
		image_close(&img);
		return -1;
	}
	return image_close_write(&img, &e);
}

/* For every kind of image_kind_table: an image truncated, extended,
 * swapped with another of its kind (another owner) and one of another dump
 * are each refused, naming it; the untouched one reads. */
static void image_every_kind_lies(void)
{
	uint8_t buf[3 * IMAGE_PAGES_HDR_SIZE];	/* a pages image and some junk */
	struct image img;
	struct err e = { 0 };
	char *dir;
	int dfd = image_test_dir(&dir);

	REQUIRE(dfd >= 0);
	for (const struct image_kind *k = image_kinds(); k->name; k++) {
		char one[64], two[64], want[80];
		ssize_t len;

		snprintf(one, sizeof(one), "%s-1.img", k->name);
		snprintf(two, sizeof(two), "%s-2.img", k->name);
		image_set_dump_id(TEST_DUMP_ID);
		if (image_test_kind_write(dfd, k, one) < 0 || image_test_kind_write(dfd, k, two) < 0) {
			unit_fail(__FILE__, __LINE__, "write two %s images", k->name);
			continue;
		}
		if (image_open_read(&img, dfd, k->name, one, &e) < 0)
			unit_fail(__FILE__, __LINE__, "%s: %s", one, e.msg);
		else
			image_close(&img);
		len = image_test_get(dfd, one, buf, sizeof(buf));
		REQUIRE(len > (ssize_t)IMAGE_HDR_SIZE && (size_t)len + 8 <= sizeof(buf));
		snprintf(want, sizeof(want), "'%s'", one);

		/* Truncated: its one record (page) off. */
		REQUIRE(image_test_put(dfd, one, buf, strcmp(k->name, "pages") ? IMAGE_HDR_SIZE : IMAGE_PAGES_HDR_SIZE) == 0);
		CHECK_INT(image_open_read(&img, dfd, k->name, one, &e), -EINVAL);
		CHECK_CONTAINS(e.msg, want);
		CHECK_CONTAINS(e.msg, "truncated");
		/* Extended. */
		memcpy(buf + len, "\4\0\0\0junk", 8);
		REQUIRE(image_test_put(dfd, one, buf, len + 8) == 0);
		CHECK_INT(image_open_read(&img, dfd, k->name, one, &e), -EINVAL);
		CHECK_CONTAINS(e.msg, want);
		CHECK_CONTAINS(e.msg, "longer than written");
		/* Swapped: the other owner's under this name. */
		REQUIRE(renameat(dfd, two, dfd, one) == 0);
		CHECK_INT(image_open_read(&img, dfd, k->name, one, &e), -EINVAL);
		CHECK_CONTAINS(e.msg, want);
		CHECK_CONTAINS(e.msg, "but its name says 1");
		/* Of another dump. */
		image_set_dump_id(OTHER_DUMP_ID);
		REQUIRE(image_test_kind_write(dfd, k, one) == 0);
		image_set_dump_id(TEST_DUMP_ID);
		CHECK_INT(image_open_read(&img, dfd, k->name, one, &e), -EINVAL);
		CHECK_CONTAINS(e.msg, want);
		CHECK_CONTAINS(e.msg, "is from dump 8877665544332211");
	}
	close(dfd);
	unit_rmtree(dir);
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
	UNIT_CASE(image_header_layout),
	UNIT_CASE(image_owner_of_file_names),
	UNIT_CASE(image_unfinished_refused),
	UNIT_CASE(image_length_checked),
	UNIT_CASE(image_count_checked),
	UNIT_CASE(image_swapped_refused),
	UNIT_CASE(image_other_dump_refused),
	UNIT_CASE(image_no_inventory_refused),
	UNIT_CASE(image_header_fields_checked),
	UNIT_CASE(image_pages_header_checked),
	UNIT_CASE(image_inspect_then_check),
	UNIT_CASE(image_every_kind_lies),
};

UNIT_MAIN(cases)
