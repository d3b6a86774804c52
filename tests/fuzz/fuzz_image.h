/* tests/fuzz/fuzz_image.h: the body of every fuzz_image_KIND target.
 *
 * The input is one image file. It is read the ways amber reads images:
 * as the kind a stage asks for (image_open_read with the kind, every
 * record, then image_read_one as single-record images are read), and as
 * any kind, the way 'amber show FILE' does, each record printed as JSON by
 * driver/json.c. A kind whose records lib/ checks further (memfd, pstree)
 * has its check run too: FUZZ_IMAGE_CHECK(msgs, n) in the target. */
#ifndef AMBER_TESTS_FUZZ_IMAGE_H
#define AMBER_TESTS_FUZZ_IMAGE_H

#include "driver/json.h"
#include "images/image.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/mutate.h"

#define FUZZ_IMAGE_MAX_RECORDS 4096

/* Reads image 'name' as 'kind' (NULL: any); keeps the records in msgs if
 * given. Returns the number of records, or <0 after a checked error. */
static inline int fuzz_image_read(const char *kind, const char *name, ProtobufCMessage **msgs, FILE *out)
{
	ProtobufCMessage *m = NULL;
	struct image img;
	struct err e = { 0 };
	int n = 0, ret;

	ret = image_open_read(&img, fuzz_dir_fd, kind, name, &e);
	fuzz_check_err(ret, &e, "image_open_read");
	if (ret < 0)
		return ret;
	while ((ret = image_read(&img, &m, &e)) == 1) {
		if (!m)
			abort();
		json_print_message(out, m, 0);
		if (msgs && n < FUZZ_IMAGE_MAX_RECORDS)
			msgs[n++] = m;
		else
			protobuf_c_message_free_unpacked(m, NULL);
		m = NULL;
	}
	fuzz_check_err(ret, &e, "image_read");
	image_close(&img);
	if (ret < 0) {
		for (int i = 0; i < n; i++)
			protobuf_c_message_free_unpacked(msgs[i], NULL);
		return ret;
	}
	return n;
}

/* One input of a fuzz_image_KIND target; check (or NULL) sees the records
 * of an image that read whole. */
static inline void fuzz_image_one(const char *kind, const uint8_t *data, size_t size,
				  void (*check)(ProtobufCMessage **msgs, int n))
{
	static FILE *out;
	static ProtobufCMessage *msgs[FUZZ_IMAGE_MAX_RECORDS];
	char name[64];
	ProtobufCMessage *m = NULL;
	struct err e = { 0 };
	int n, ret;

	fuzz_init(kind);
	if (!out && !(out = fopen("/dev/null", "w")))
		abort();
	snprintf(name, sizeof(name), "%s-1.img", kind);
	fuzz_put(name, data, size);
	fuzz_dir_sync();
	n = fuzz_image_read(kind, name, msgs, out);
	if (n >= 0) {
		if (check)
			check(msgs, n);
		for (int i = 0; i < n; i++)
			protobuf_c_message_free_unpacked(msgs[i], NULL);
	}
	ret = image_read_one(fuzz_dir_fd, kind, name, &m, &e);
	fuzz_check_err(ret, &e, "image_read_one");
	if (ret == 0)
		protobuf_c_message_free_unpacked(m, NULL);
	fuzz_image_read(NULL, name, NULL, out);
}

#endif
