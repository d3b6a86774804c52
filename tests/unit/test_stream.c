/* test_stream: ipc/stream.c, the hello ... end state stream between stages.
 *
 * Streams are written into pipes (or by a child that dies mid-way) and read
 * back, to check that only a complete, counted stream is ever success. */
#include <endian.h>
#include <fcntl.h>

#include "lib/exitcodes.h"
#include "ipc/stream.h"
#include "tests/unit/unit.h"

/* Writes one StreamRecord built by hand, bypassing stream_out's counting. */
static int stream_test_put(int fd, StreamRecord *rec)
{
	struct err e = { 0 };

	return frame_write_msg(fd, &rec->base, "test", &e);
}

static int stream_test_put_hello(int fd, const char *protocol, uint32_t version)
{
	StreamHello h = STREAM_HELLO__INIT;
	StreamRecord rec = STREAM_RECORD__INIT;

	h.protocol = (char *)protocol;
	h.version = version;
	h.writer = "hand";
	rec.body_case = STREAM_RECORD__BODY_HELLO;
	rec.hello = &h;
	return stream_test_put(fd, &rec);
}

static int stream_test_put_end(int fd, uint64_t count)
{
	StreamEnd end = STREAM_END__INIT;
	StreamRecord rec = STREAM_RECORD__INIT;

	end.count = count;
	rec.body_case = STREAM_RECORD__BODY_END;
	rec.end = &end;
	return stream_test_put(fd, &rec);
}

static int stream_test_put_task(int fd, uint32_t pid)
{
	PstreeEntry t = PSTREE_ENTRY__INIT;
	StreamRecord rec = STREAM_RECORD__INIT;

	t.pid = pid;
	rec.body_case = STREAM_RECORD__BODY_TASK;
	rec.task = &t;
	return stream_test_put(fd, &rec);
}

/* A pipe big enough that the tests' small streams never block the writer. */
static int stream_test_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	return 0;
}

/* Reads every record after the hello; returns the last stream_in_next value. */
static int stream_test_drain(struct stream_in *in, int *records, struct err *e)
{
	StreamRecord *rec;
	int ret;

	*records = 0;
	while ((ret = stream_in_next(in, &rec, e)) == 1) {
		(*records)++;
		stream_record__free_unpacked(rec, NULL);
	}
	return ret;
}

static void stream_round_trip(void)
{
	struct stream_out out;
	struct stream_in in;
	struct err e = { 0 };
	StreamRecord *rec;
	int p[2];

	REQUIRE(stream_test_pipe(p) == 0);
	CHECK_INT(stream_out_open(&out, p[1], "test-writer", &e), 0);
	for (uint32_t pid = 10; pid < 13; pid++) {
		PstreeEntry t = PSTREE_ENTRY__INIT;

		t.pid = pid;
		t.ppid = 1;
		CHECK_INT(stream_out_task(&out, &t, &e), 0);
	}
	CHECK_INT(out.count, 3);
	CHECK_INT(stream_out_end(&out, &e), 0);
	close(p[1]);

	CHECK_INT(stream_in_open(&in, p[0], "test stream", &e), 0);
	CHECK_STR(in.writer, "test-writer");
	for (uint32_t pid = 10; pid < 13; pid++) {
		rec = NULL;
		CHECK_INT(stream_in_next(&in, &rec, &e), 1);
		REQUIRE(rec);
		CHECK_INT(rec->body_case, STREAM_RECORD__BODY_TASK);
		CHECK_INT(rec->task->pid, pid);
		CHECK_INT(rec->task->ppid, 1);
		stream_record__free_unpacked(rec, NULL);
	}
	CHECK_INT(stream_in_next(&in, &rec, &e), 0);
	CHECK(in.ended);
	CHECK_INT(in.count, 3);
	/* After the end, more calls keep saying end. */
	CHECK_INT(stream_in_next(&in, &rec, &e), 0);
	stream_in_close(&in);
	close(p[0]);
}

/* hello + end with nothing between is a valid, empty stream. */
static void stream_empty_but_complete(void)
{
	struct stream_out out;
	struct stream_in in;
	struct err e = { 0 };
	int p[2], n;

	REQUIRE(stream_test_pipe(p) == 0);
	CHECK_INT(stream_out_open(&out, p[1], "w", &e), 0);
	CHECK_INT(stream_out_end(&out, &e), 0);
	close(p[1]);
	CHECK_INT(stream_in_open(&in, p[0], "empty", &e), 0);
	CHECK_INT(stream_test_drain(&in, &n, &e), 0);
	CHECK_INT(n, 0);
	stream_in_close(&in);
	close(p[0]);
}

static void stream_no_bytes_at_all(void)
{
	struct stream_in in;
	struct err e = { 0 };
	int p[2];

	REQUIRE(stream_test_pipe(p) == 0);
	close(p[1]);
	CHECK_INT(stream_in_open(&in, p[0], "silent stream", &e), -EPROTO);
	CHECK_INT(e.exit_code, EXIT_PROTOCOL);
	CHECK_CONTAINS(e.msg, "silent stream");
	CHECK_CONTAINS(e.msg, "before its hello");
	stream_in_close(&in);
	close(p[0]);
}

static void stream_eof_without_end(void)
{
	struct stream_out out;
	struct stream_in in;
	struct err e = { 0 };
	PstreeEntry t = PSTREE_ENTRY__INIT;
	int p[2], n;

	REQUIRE(stream_test_pipe(p) == 0);
	CHECK_INT(stream_out_open(&out, p[1], "amber-seize", &e), 0);
	CHECK_INT(stream_out_task(&out, &t, &e), 0);
	CHECK_INT(stream_out_task(&out, &t, &e), 0);
	close(p[1]);
	CHECK_INT(stream_in_open(&in, p[0], "seize output", &e), 0);
	CHECK_INT(stream_test_drain(&in, &n, &e), -EPROTO);
	CHECK_INT(n, 2);
	CHECK_INT(e.exit_code, EXIT_PROTOCOL);
	CHECK_CONTAINS(e.msg, "without its end record");
	CHECK_CONTAINS(e.msg, "seize output");
	CHECK_CONTAINS(e.msg, "'amber-seize'");
	CHECK_CONTAINS(e.msg, "after 2 records");
	CHECK(!in.ended);
	stream_in_close(&in);
	close(p[0]);
}

/* The writer is a real process that dies mid-stream (as a crashed stage would). */
static void stream_writer_killed(void)
{
	struct stream_in in;
	struct err e = { 0 };
	int p[2], n, status;
	pid_t pid;

	REQUIRE(stream_test_pipe(p) == 0);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		struct stream_out out;
		PstreeEntry t = PSTREE_ENTRY__INIT;

		close(p[0]);
		if (stream_out_open(&out, p[1], "doomed", &e) < 0 || stream_out_task(&out, &t, &e) < 0)
			_exit(1);
		raise(SIGKILL);
	}
	close(p[1]);
	CHECK_INT(stream_in_open(&in, p[0], "doomed stream", &e), 0);
	CHECK_INT(stream_test_drain(&in, &n, &e), -EPROTO);
	CHECK_INT(n, 1);
	CHECK_CONTAINS(e.msg, "without its end record");
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	stream_in_close(&in);
	close(p[0]);
}

static void stream_count_mismatch(void)
{
	struct stream_in in;
	struct err e = { 0 };
	int p[2], n;

	REQUIRE(stream_test_pipe(p) == 0);
	REQUIRE(stream_test_put_hello(p[1], STREAM_PROTOCOL, STREAM_VERSION) == 0);
	REQUIRE(stream_test_put_task(p[1], 1) == 0);
	REQUIRE(stream_test_put_task(p[1], 2) == 0);
	REQUIRE(stream_test_put_end(p[1], 5) == 0);
	close(p[1]);
	CHECK_INT(stream_in_open(&in, p[0], "counted", &e), 0);
	CHECK_INT(stream_test_drain(&in, &n, &e), -EPROTO);
	CHECK_CONTAINS(e.msg, "counted");
	CHECK_CONTAINS(e.msg, "counts 5 records, 2 arrived");
	CHECK(!in.ended);
	stream_in_close(&in);
	close(p[0]);
}

static void stream_missing_hello(void)
{
	struct stream_in in;
	struct err e = { 0 };
	int p[2];

	REQUIRE(stream_test_pipe(p) == 0);
	REQUIRE(stream_test_put_task(p[1], 1) == 0);
	REQUIRE(stream_test_put_end(p[1], 1) == 0);
	close(p[1]);
	CHECK_INT(stream_in_open(&in, p[0], "headless", &e), -EPROTO);
	CHECK_CONTAINS(e.msg, "headless");
	CHECK_CONTAINS(e.msg, "does not start with a hello");
	stream_in_close(&in);
	close(p[0]);
}

static void stream_wrong_protocol(void)
{
	static const struct { const char *protocol; uint32_t version; const char *want; } t[] = {
		{ "criu-state", STREAM_VERSION, "'criu-state'" },
		{ STREAM_PROTOCOL, STREAM_VERSION + 1, "version 2" },
		{ STREAM_PROTOCOL, 0, "version 0" },
		{ "", STREAM_VERSION, "''" },
	};

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(t); i++) {
		struct stream_in in;
		struct err e = { 0 };
		int p[2];

		REQUIRE(stream_test_pipe(p) == 0);
		REQUIRE(stream_test_put_hello(p[1], t[i].protocol, t[i].version) == 0);
		REQUIRE(stream_test_put_end(p[1], 0) == 0);
		close(p[1]);
		CHECK_INT(stream_in_open(&in, p[0], "foreign", &e), -EPROTO);
		CHECK_CONTAINS(e.msg, t[i].want);
		CHECK_CONTAINS(e.msg, "this stage speaks 'amber-state' version 1");
		stream_in_close(&in);
		close(p[0]);
	}
}

static void stream_second_hello(void)
{
	struct stream_in in;
	struct err e = { 0 };
	int p[2], n;

	REQUIRE(stream_test_pipe(p) == 0);
	REQUIRE(stream_test_put_hello(p[1], STREAM_PROTOCOL, STREAM_VERSION) == 0);
	REQUIRE(stream_test_put_task(p[1], 1) == 0);
	REQUIRE(stream_test_put_hello(p[1], STREAM_PROTOCOL, STREAM_VERSION) == 0);
	REQUIRE(stream_test_put_end(p[1], 1) == 0);
	close(p[1]);
	CHECK_INT(stream_in_open(&in, p[0], "twice", &e), 0);
	CHECK_INT(stream_test_drain(&in, &n, &e), -EPROTO);
	CHECK_CONTAINS(e.msg, "second hello");
	stream_in_close(&in);
	close(p[0]);
}

/* A record over STREAM_MAX_RECORD is refused by its length alone. */
static void stream_oversize_record(void)
{
	struct stream_in in;
	struct err e = { 0 };
	uint32_t le = htole32(STREAM_MAX_RECORD + 1);
	StreamRecord *rec;
	int p[2];

	REQUIRE(stream_test_pipe(p) == 0);
	REQUIRE(stream_test_put_hello(p[1], STREAM_PROTOCOL, STREAM_VERSION) == 0);
	REQUIRE(write(p[1], &le, 4) == 4);
	close(p[1]);
	CHECK_INT(stream_in_open(&in, p[0], "huge", &e), 0);
	CHECK(stream_in_next(&in, &rec, &e) < 0);
	CHECK_CONTAINS(e.msg, "huge");
	CHECK_CONTAINS(e.msg, "over the");
	CHECK(in.rd.cap <= 65536);
	stream_in_close(&in);
	close(p[0]);
}

static void stream_garbage_record(void)
{
	struct stream_in in;
	struct err e = { 0 };
	StreamRecord *rec;
	int p[2];

	REQUIRE(stream_test_pipe(p) == 0);
	REQUIRE(stream_test_put_hello(p[1], STREAM_PROTOCOL, STREAM_VERSION) == 0);
	REQUIRE(frame_write_raw(p[1], "\xff\xff\xff\xff", 4, "x", &e) == 0);
	close(p[1]);
	CHECK_INT(stream_in_open(&in, p[0], "noisy", &e), 0);
	CHECK(stream_in_next(&in, &rec, &e) < 0);
	CHECK_CONTAINS(e.msg, "noisy");
	CHECK_CONTAINS(e.msg, "StreamRecord");
	stream_in_close(&in);
	close(p[0]);
}

static void stream_frame_kinds(void)
{
	StreamHello h = STREAM_HELLO__INIT;
	StreamEnd end = STREAM_END__INIT;
	StreamRecord rec = STREAM_RECORD__INIT;
	uint8_t buf[256];
	size_t n;

	h.protocol = STREAM_PROTOCOL;
	h.version = STREAM_VERSION;
	rec.body_case = STREAM_RECORD__BODY_HELLO;
	rec.hello = &h;
	n = stream_record__pack(&rec, buf);
	CHECK_INT(stream_frame_kind(buf, n), STREAM_RECORD__BODY_HELLO);
	rec.body_case = STREAM_RECORD__BODY_END;
	rec.end = &end;
	n = stream_record__pack(&rec, buf);
	CHECK_INT(stream_frame_kind(buf, n), STREAM_RECORD__BODY_END);
	CHECK_INT(stream_frame_kind((const uint8_t *)"\xff\xff\xff", 3), -1);
	/* An empty record is valid protobuf with no body. */
	CHECK_INT(stream_frame_kind(buf, 0), STREAM_RECORD__BODY__NOT_SET);
}

static const struct unit_case cases[] = {
	UNIT_CASE(stream_round_trip),
	UNIT_CASE(stream_empty_but_complete),
	UNIT_CASE(stream_no_bytes_at_all),
	UNIT_CASE(stream_eof_without_end),
	UNIT_CASE(stream_writer_killed),
	UNIT_CASE(stream_count_mismatch),
	UNIT_CASE(stream_missing_hello),
	UNIT_CASE(stream_wrong_protocol),
	UNIT_CASE(stream_second_hello),
	UNIT_CASE(stream_oversize_record),
	UNIT_CASE(stream_garbage_record),
	UNIT_CASE(stream_frame_kinds),
};

UNIT_MAIN(cases)
