/* test_image_header: the image header that cannot lie (format 3): its
 * layout, the owner a file name gives, and every way a header or a body
 * may disagree with what the dump wrote (unfinished, truncated, extended,
 * miscounted, swapped between owners, from another dump), for every kind.
 * The crafting helpers are tests/unit/image_test.h's. */
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
