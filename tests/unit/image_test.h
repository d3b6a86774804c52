/* tests/unit/image_test.h: crafting and reading images by hand, shared by
 * test_image.c (records and safe opens) and test_image_header.c (headers
 * that cannot lie). */
#ifndef AMBER_TESTS_UNIT_IMAGE_TEST_H
#define AMBER_TESTS_UNIT_IMAGE_TEST_H

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
static inline int image_test_dir(char **path)
{
	image_set_dump_id(TEST_DUMP_ID);
	*path = unit_tmpdir();
	if (!*path)
		return -1;
	return open(*path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Writes raw bytes as file 'name' in dirfd. */
static inline int image_test_put(int dirfd, const char *name, const void *bytes, size_t len)
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
static inline size_t image_test_header(uint8_t *out, uint32_t magic, uint32_t kind, uint32_t version, uint32_t hdr_size)
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
static inline void image_test_finish(uint8_t *buf, size_t n, uint64_t owner, uint64_t count)
{
	struct image_header *h = (struct image_header *)buf;

	h->owner = htole64(owner);
	h->count = htole64(count);
	h->body = htole64(n - IMAGE_HDR_SIZE);
}

/* Reads an image's whole file into buf (at most size bytes); its length. */
static inline ssize_t image_test_get(int dirfd, const char *name, uint8_t *buf, size_t size)
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
static inline int image_test_pstree(int dirfd, const char *name, int n)
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
static inline int image_test_read_all(int dirfd, const char *name, int *n, struct err *e)
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

static inline size_t image_test_record(uint8_t *out, uint32_t announced, const void *body, size_t len)
{
	uint32_t le = htole32(announced);

	memcpy(out, &le, 4);
	memcpy(out + 4, body, len);
	return 4 + len;
}

static inline uint32_t image_test_kind_magic(const char *name)
{
	const struct image_kind *k = image_kind_by_name(name);

	return k ? k->magic : 0;
}

#endif
