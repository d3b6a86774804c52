/* test_frame: lib/frame.c, the u32-length framing under images and streams.
 *
 * Frames go through real pipes and temp files, because short reads and EOF
 * handling are what the reader is about. */
#include <endian.h>
#include <fcntl.h>
#include <signal.h>

#include "images/pstree.pb-c.h"
#include "lib/exitcodes.h"
#include "lib/frame.h"
#include "tests/unit/unit.h"

/* A temp file holding exactly 'len' bytes, opened for reading at offset 0. */
static int frame_test_file(const void *bytes, size_t len)
{
	char path[] = "/tmp/amber-unit-frame-XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	unlink(path);
	if (len && write_all(fd, bytes, len) < 0) {
		close(fd);
		return -1;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Little-endian u32 length followed by 'body'. */
static size_t frame_test_encode(uint8_t *out, uint32_t announced, const void *body, size_t body_len)
{
	uint32_t le = htole32(announced);

	memcpy(out, &le, 4);
	if (body_len)
		memcpy(out + 4, body, body_len);
	return 4 + body_len;
}

static void frame_msg_round_trip_pipe(void)
{
	uint32_t threads[] = { 100, 101, 102 };
	PstreeEntry out = PSTREE_ENTRY__INIT;
	struct frame_reader r;
	struct err e = { 0 };
	int p[2];

	REQUIRE(pipe(p) == 0);
	for (uint32_t i = 0; i < 3; i++) {
		out.pid = 100 + i;
		out.ppid = i;
		out.pgid = 7;
		out.sid = 8;
		out.n_threads = i + 1;
		out.threads = threads;
		CHECK_INT(frame_write_msg(p[1], &out.base, "test pipe", &e), 0);
	}
	close(p[1]);
	frame_reader_init(&r, p[0], "test pipe", 0);
	for (uint32_t i = 0; i < 3; i++) {
		PstreeEntry *in = NULL;

		CHECK_INT(frame_next_msg(&r, &pstree_entry__descriptor, (ProtobufCMessage **)&in, &e), 1);
		if (!in)
			break;
		CHECK_INT(in->pid, 100 + i);
		CHECK_INT(in->ppid, i);
		CHECK_INT(in->pgid, 7);
		CHECK_INT(in->sid, 8);
		CHECK_INT(in->n_threads, i + 1);
		CHECK_INT(in->threads[in->n_threads - 1], 100 + i);
		pstree_entry__free_unpacked(in, NULL);
	}
	CHECK_INT(r.nr, 3);
	/* Clean EOF between frames is 0, and stays 0. */
	CHECK_INT(frame_next(&r, &(const uint8_t *){ NULL }, &(uint32_t){ 0 }, &e), 0);
	CHECK_INT(frame_next(&r, &(const uint8_t *){ NULL }, &(uint32_t){ 0 }, &e), 0);
	frame_reader_free(&r);
	close(p[0]);
}

static void frame_empty_input_is_clean_eof(void)
{
	struct frame_reader r;
	struct err e = { 0 };
	const uint8_t *data;
	uint32_t len;
	int fd = frame_test_file(NULL, 0);

	REQUIRE(fd >= 0);
	frame_reader_init(&r, fd, "empty", 0);
	CHECK_INT(frame_next(&r, &data, &len, &e), 0);
	frame_reader_free(&r);
	close(fd);
}

static void frame_raw_round_trip(void)
{
	static uint8_t big[200000];
	struct frame_reader r;
	struct err e = { 0 };
	const uint8_t *data;
	uint32_t len;
	char path[] = "/tmp/amber-unit-frame-XXXXXX";
	int fd = mkstemp(path);

	REQUIRE(fd >= 0);
	unlink(path);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	/* An empty frame, a small one, and one far bigger than the initial buffer. */
	CHECK_INT(frame_write_raw(fd, "", 0, "raw", &e), 0);
	CHECK_INT(frame_write_raw(fd, "hello", 5, "raw", &e), 0);
	CHECK_INT(frame_write_raw(fd, big, sizeof(big), "raw", &e), 0);
	lseek(fd, 0, SEEK_SET);
	frame_reader_init(&r, fd, "raw", 0);
	CHECK_INT(frame_next(&r, &data, &len, &e), 1);
	CHECK_INT(len, 0);
	CHECK_INT(frame_next(&r, &data, &len, &e), 1);
	CHECK_INT(len, 5);
	CHECK(len == 5 && !memcmp(data, "hello", 5));
	CHECK_INT(frame_next(&r, &data, &len, &e), 1);
	CHECK_INT(len, sizeof(big));
	CHECK(len == sizeof(big) && !memcmp(data, big, sizeof(big)));
	CHECK_INT(r.offset, 4 + 9 + 4 + sizeof(big));
	CHECK_INT(frame_next(&r, &data, &len, &e), 0);
	frame_reader_free(&r);
	close(fd);
}

/* Many small frames across the reader's 64 KiB refills, fed by a writer
 * child through a pipe so reads come back short. */
static void frame_many_small_through_pipe(void)
{
	struct frame_reader r;
	struct err e = { 0 };
	const uint8_t *data;
	uint32_t len, i;
	int p[2], ret;
	pid_t pid;

	REQUIRE(pipe(p) == 0);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		for (i = 0; i < 20000; i++) {
			uint8_t body[13];

			memset(body, (int)(i & 0xff), sizeof(body));
			if (frame_write_raw(p[1], body, 1 + i % 13, "pipe", &e) < 0)
				_exit(1);
		}
		_exit(0);
	}
	close(p[1]);
	frame_reader_init(&r, p[0], "pipe", 64);
	for (i = 0; (ret = frame_next(&r, &data, &len, &e)) == 1; i++) {
		if (len != 1 + i % 13 || data[0] != (uint8_t)(i & 0xff) || data[len - 1] != (uint8_t)(i & 0xff)) {
			CHECK(!"frame content intact");
			break;
		}
	}
	CHECK_INT(ret, 0);
	CHECK_INT(i, 20000);
	frame_reader_free(&r);
	close(p[0]);
	waitpid(pid, NULL, 0);
}

static void frame_truncated_header(void)
{
	uint8_t buf[64];
	size_t n = frame_test_encode(buf, 3, "abc", 3);
	struct frame_reader r;
	struct err e = { 0 };
	const uint8_t *data;
	uint32_t len;
	int fd;

	/* One good frame, then two bytes of the next header. */
	buf[n++] = 9;
	buf[n++] = 0;
	fd = frame_test_file(buf, n);
	REQUIRE(fd >= 0);
	frame_reader_init(&r, fd, "hdr-file", 0);
	CHECK_INT(frame_next(&r, &data, &len, &e), 1);
	CHECK_INT(frame_next(&r, &data, &len, &e), -EINVAL);
	CHECK_INT(e.exit_code, EXIT_INPUT);
	CHECK_CONTAINS(e.msg, "hdr-file");
	CHECK_CONTAINS(e.msg, "truncated record header");
	CHECK_CONTAINS(e.msg, "byte 7");
	frame_reader_free(&r);
	close(fd);
}

static void frame_truncated_body(void)
{
	uint8_t buf[64];
	size_t n = frame_test_encode(buf, 100, "0123456789", 10);
	struct frame_reader r;
	struct err e = { 0 };
	const uint8_t *data;
	uint32_t len;
	int fd = frame_test_file(buf, n);

	REQUIRE(fd >= 0);
	frame_reader_init(&r, fd, "body-file", 0);
	CHECK_INT(frame_next(&r, &data, &len, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "body-file");
	CHECK_CONTAINS(e.msg, "truncated");
	CHECK_CONTAINS(e.msg, "100 bytes announced, 10 present");
	frame_reader_free(&r);
	close(fd);
}

/* A corrupt length must be refused before the reader grows its buffer. */
static void frame_oversize_refused_before_alloc(void)
{
	uint8_t buf[64];
	size_t n = frame_test_encode(buf, 0xfffffff0u, "xx", 2);
	struct frame_reader r;
	struct err e = { 0 };
	const uint8_t *data;
	uint32_t len;
	int fd = frame_test_file(buf, n);

	REQUIRE(fd >= 0);
	frame_reader_init(&r, fd, "big-file", 0);
	CHECK_INT(r.max, FRAME_MAX_DEFAULT);
	CHECK_INT(frame_next(&r, &data, &len, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "big-file");
	CHECK_CONTAINS(e.msg, "over the");
	CHECK(r.cap <= 65536);
	frame_reader_free(&r);
	close(fd);
}

static void frame_max_is_inclusive(void)
{
	uint8_t buf[128], body[17];
	size_t n;
	struct frame_reader r;
	struct err e = { 0 };
	const uint8_t *data;
	uint32_t len;
	int fd;

	memset(body, 'z', sizeof(body));
	n = frame_test_encode(buf, 16, body, 16);
	n += frame_test_encode(buf + n, 17, body, 17);
	fd = frame_test_file(buf, n);
	REQUIRE(fd >= 0);
	frame_reader_init(&r, fd, "max-file", 16);
	CHECK_INT(frame_next(&r, &data, &len, &e), 1);
	CHECK_INT(len, 16);
	CHECK_INT(frame_next(&r, &data, &len, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "17 bytes, over the 16 byte limit");
	CHECK_CONTAINS(e.msg, "record 1");
	frame_reader_free(&r);
	close(fd);
}

static void frame_garbage_message(void)
{
	uint8_t buf[64];
	size_t n = frame_test_encode(buf, 6, "\xff\xff\xff\xff\xff\xff", 6);
	struct frame_reader r;
	struct err e = { 0 };
	ProtobufCMessage *m = NULL;
	int fd = frame_test_file(buf, n);

	REQUIRE(fd >= 0);
	frame_reader_init(&r, fd, "garbage-file", 0);
	CHECK_INT(frame_next_msg(&r, &pstree_entry__descriptor, &m, &e), -EINVAL);
	CHECK(m == NULL);
	CHECK_CONTAINS(e.msg, "garbage-file");
	CHECK_CONTAINS(e.msg, "not a valid PstreeEntry");
	frame_reader_free(&r);
	close(fd);
}

/* A message missing a required field is refused, not half-decoded. */
static void frame_message_missing_required(void)
{
	/* field 1 (pid) = 5 only; ppid, pgid, sid are required. */
	uint8_t buf[64];
	size_t n = frame_test_encode(buf, 2, "\x08\x05", 2);
	struct frame_reader r;
	struct err e = { 0 };
	ProtobufCMessage *m = NULL;
	int fd = frame_test_file(buf, n);

	REQUIRE(fd >= 0);
	frame_reader_init(&r, fd, "partial-file", 0);
	CHECK_INT(frame_next_msg(&r, &pstree_entry__descriptor, &m, &e), -EINVAL);
	frame_reader_free(&r);
	close(fd);
}

static void frame_read_raw_header(void)
{
	uint8_t buf[64] = "HEADER..";
	size_t n = 8 + frame_test_encode(buf + 8, 2, "ok", 2);
	struct frame_reader r;
	struct err e = { 0 };
	const uint8_t *data;
	uint32_t len;
	char hdr[9] = { 0 };
	int fd = frame_test_file(buf, n);

	REQUIRE(fd >= 0);
	frame_reader_init(&r, fd, "raw-hdr", 0);
	CHECK_INT(frame_read_raw(&r, hdr, 8, &e), 0);
	CHECK_STR(hdr, "HEADER..");
	CHECK_INT(frame_next(&r, &data, &len, &e), 1);
	CHECK(len == 2 && !memcmp(data, "ok", 2));
	/* Asking for more raw bytes than remain is an input error. */
	CHECK_INT(frame_read_raw(&r, hdr, 4, &e), -EINVAL);
	CHECK_CONTAINS(e.msg, "raw-hdr");
	CHECK_CONTAINS(e.msg, "truncated at byte 14");
	frame_reader_free(&r);
	close(fd);
}

static void frame_write_errors_name_target(void)
{
	PstreeEntry out = PSTREE_ENTRY__INIT;
	struct err e = { 0 };
	int p[2];

	signal(SIGPIPE, SIG_IGN);
	CHECK_INT(frame_write_msg(-1, &out.base, "nowhere", &e), -EBADF);
	CHECK_CONTAINS(e.msg, "nowhere");
	CHECK_INT(e.exit_code, EXIT_SYSTEM);
	REQUIRE(pipe(p) == 0);
	close(p[0]);
	CHECK_INT(frame_write_raw(p[1], "x", 1, "closed pipe", &e), -EPIPE);
	CHECK_CONTAINS(e.msg, "closed pipe");
	close(p[1]);
}

static const struct unit_case cases[] = {
	UNIT_CASE(frame_msg_round_trip_pipe),
	UNIT_CASE(frame_empty_input_is_clean_eof),
	UNIT_CASE(frame_raw_round_trip),
	UNIT_CASE(frame_many_small_through_pipe),
	UNIT_CASE(frame_truncated_header),
	UNIT_CASE(frame_truncated_body),
	UNIT_CASE(frame_oversize_refused_before_alloc),
	UNIT_CASE(frame_max_is_inclusive),
	UNIT_CASE(frame_garbage_message),
	UNIT_CASE(frame_message_missing_required),
	UNIT_CASE(frame_read_raw_header),
	UNIT_CASE(frame_write_errors_name_target),
};

UNIT_MAIN(cases)
