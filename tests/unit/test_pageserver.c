/* test_pageserver: ipc/pageserver.c, the page-server protocol.
 *
 * The server end (ps_serve) reads from one end of a socketpair into which
 * a case writes crafted frames; a whole session runs the real client in a
 * child over loopback TCP. What is checked: a session's files land
 * complete and valid, and a truncated message, an oversize one, another
 * protocol version, a bad file name and more data than announced end the
 * session with the reason told to the client and none of its files left. */
#include <arpa/inet.h>
#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "images/image.h"
#include "images/pageserver.pb-c.h"
#include "lib/frame.h"
#include "ipc/pageserver.h"
#include "tests/unit/unit.h"

static char ps_dir[64];

/* A fresh top directory for the server. */
static int ps_top(void)
{
	snprintf(ps_dir, sizeof(ps_dir), "/tmp/amber-unit-ps-XXXXXX");
	if (!mkdtemp(ps_dir))
		return -1;
	return open(ps_dir, O_RDONLY | O_DIRECTORY);
}

/* Removes the top directory and what a session left there. */
static void ps_rm(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ps_dir);
	if (system(cmd) != 0)
		fprintf(stdout, "# could not remove %s\n", ps_dir);
}

/* Files in ps_dir/d (-1: no such directory). */
static int ps_count_files(void)
{
	char path[96];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof(path), "%s/d", ps_dir);
	if (!(d = opendir(path)))
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' || (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")))
			n++;
	closedir(d);
	return n;
}

static void ps_put(int fd, PsMessage *m)
{
	struct err e = { 0 };

	CHECK_INT(frame_write_msg(fd, &m->base, "test", &e), 0);
}

static void ps_put_hello(int fd, uint32_t version)
{
	PsMessage m = PS_MESSAGE__INIT;
	PsHello h = PS_HELLO__INIT;

	h.protocol = PS_PROTOCOL;
	h.version = version;
	h.has_dump_id = true;
	h.dump_id = 0x1234;
	h.dir = "d";
	m.body_case = PS_MESSAGE__BODY_HELLO;
	m.hello = &h;
	ps_put(fd, &m);
}

static void ps_put_file(int fd, const char *name, uint64_t pages)
{
	PsMessage m = PS_MESSAGE__INIT;
	PsFile f = PS_FILE__INIT;

	f.name = (char *)name;
	f.pages = pages;
	m.body_case = PS_MESSAGE__BODY_FILE;
	m.file = &f;
	ps_put(fd, &m);
}

static void ps_put_data(int fd, size_t len)
{
	static uint8_t buf[3 * 4096];
	PsMessage m = PS_MESSAGE__INIT;

	memset(buf, 0x5a, sizeof(buf));
	m.body_case = PS_MESSAGE__BODY_DATA;
	m.data.data = buf;
	m.data.len = len;
	ps_put(fd, &m);
}

/* The last reply the server wrote to the client end (NULL if none). */
static PsReply *ps_last_reply(int fd, PsMessage **keep)
{
	struct frame_reader rd;
	struct err e = { 0 };
	ProtobufCMessage *msg;
	PsReply *r = NULL;

	*keep = NULL;
	frame_reader_init(&rd, fd, "test reply", PS_MAX_FRAME);
	while (frame_next_msg(&rd, &ps_message__descriptor, &msg, &e) == 1) {
		if (*keep)
			ps_message__free_unpacked(*keep, NULL);
		*keep = (PsMessage *)msg;
		r = (*keep)->body_case == PS_MESSAGE__BODY_REPLY ? (*keep)->reply : NULL;
	}
	frame_reader_free(&rd);
	return r;
}

/* Runs the server on what the case wrote (then shut down) and checks that
 * it failed naming 'want', told the client, and left no file. */
static void ps_expect_refusal(int sv[2], const char *want)
{
	struct ps_session s;
	struct err e = { 0 };
	PsMessage *keep;
	PsReply *r;
	int top = ps_top();

	CHECK(top >= 0);
	shutdown(sv[1], SHUT_WR);
	CHECK(ps_serve(sv[0], top, &s, &e) < 0);
	CHECK_CONTAINS(e.msg, want);
	close(sv[0]);
	r = ps_last_reply(sv[1], &keep);
	CHECK(r != NULL);
	if (r) {
		CHECK(!r->ok);
		CHECK_CONTAINS(r->error ? r->error : "", want);
	}
	if (keep)
		ps_message__free_unpacked(keep, NULL);
	CHECK(ps_count_files() <= 0);
	close(sv[1]);
	close(top);
	ps_rm();
}

static void ps_pair(int sv[2])
{
	int big = 1 << 20;

	CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
}

static void ps_version_mismatch(void)
{
	int sv[2];

	ps_pair(sv);
	ps_put_hello(sv[1], PS_VERSION + 1);
	ps_expect_refusal(sv, "version 2");
}

static void ps_truncated(void)
{
	int sv[2];
	uint32_t len = htole32(100);

	ps_pair(sv);
	ps_put_hello(sv[1], PS_VERSION);
	ps_put_file(sv[1], "pages-7.img", 1);
	CHECK_INT(write_all(sv[1], &len, 4), 0);
	CHECK_INT(write_all(sv[1], "0123456789", 10), 0);
	ps_expect_refusal(sv, "truncated");
}

static void ps_oversize(void)
{
	int sv[2];
	uint32_t len = htole32(PS_MAX_FRAME + 1);

	ps_pair(sv);
	ps_put_hello(sv[1], PS_VERSION);
	CHECK_INT(write_all(sv[1], &len, 4), 0);
	ps_expect_refusal(sv, "limit");
}

static void ps_eof_before_end(void)
{
	int sv[2];

	ps_pair(sv);
	ps_put_hello(sv[1], PS_VERSION);
	ps_put_file(sv[1], "pages-7.img", 1);
	ps_put_data(sv[1], 4096);
	ps_expect_refusal(sv, "before the end");
}

static void ps_bad_name(void)
{
	const char *names[] = { "../pages-1.img", "mm-1.img", "pages-memfd-3.img", "pages-01.img", "pages-1.img/x" };

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(names); i++) {
		int sv[2];

		ps_pair(sv);
		ps_put_hello(sv[1], PS_VERSION);
		ps_put_file(sv[1], names[i], 1);
		ps_expect_refusal(sv, "not a pages file name");
	}
}

static void ps_too_much_data(void)
{
	int sv[2];

	ps_pair(sv);
	ps_put_hello(sv[1], PS_VERSION);
	ps_put_file(sv[1], "pages-7.img", 1);
	ps_put_data(sv[1], 2 * 4096);
	ps_expect_refusal(sv, "fewer were announced");
}

/* A failed session removes the files it had completed already. */
static void ps_failure_removes_files(void)
{
	int sv[2];

	ps_pair(sv);
	ps_put_hello(sv[1], PS_VERSION);
	ps_put_file(sv[1], "pages-7.img", 1);
	ps_put_data(sv[1], 4096);
	ps_put_file(sv[1], "pages-8.img", 2);
	ps_put_data(sv[1], 4096);
	ps_expect_refusal(sv, "before the end");
}

/* The real client in a child, the server here, over loopback TCP. */
static void ps_session_round_trip(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	struct ps_session s;
	struct err e = { 0 };
	struct image img;
	char addr[64], sub[96];
	int l = socket(AF_INET, SOCK_STREAM, 0), top = ps_top(), c, st, sdir;
	pid_t child;

	CHECK(l >= 0 && top >= 0);
	CHECK_INT(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	CHECK_INT(listen(l, 1), 0);
	getsockname(l, (struct sockaddr *)&sin, &sl);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sin.sin_port));
	child = fork();
	if (child == 0) {
		struct ps_client cl;
		static uint8_t buf[3 * 4096];
		struct err ce = { 0 };

		memset(buf, 0xa5, sizeof(buf));
		if (ps_client_open(&cl, addr, 0x1234, "d", &ce) < 0 || ps_client_file(&cl, "pages-7.img", 3, &ce) < 0 ||
		    ps_client_data(&cl, buf, sizeof(buf), &ce) < 0 || ps_client_file(&cl, "pages-8.img", 0, &ce) < 0 ||
		    ps_client_finish(&cl, &ce) < 0) {
			fprintf(stdout, "# client: %s\n", ce.msg);
			_exit(1);
		}
		ps_client_close(&cl);
		_exit(0);
	}
	c = accept(l, NULL, NULL);
	CHECK(c >= 0);
	CHECK_INT(ps_serve(c, top, &s, &e), 0);
	close(c);
	CHECK_INT(waitpid(child, &st, 0), child);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_INT(s.files, 2);
	CHECK_U64(s.pages, 3);
	CHECK_INT(ps_count_files(), 2);
	snprintf(sub, sizeof(sub), "%s/d", ps_dir);
	sdir = open(sub, O_RDONLY | O_DIRECTORY);
	image_set_dump_id(0x1234);
	CHECK_INT(image_open_read(&img, sdir, "pages", "pages-7.img", &e), 0);
	CHECK_U64(img.hdr.count, 3);
	CHECK_U64(img.hdr.owner, 7);
	image_close(&img);
	image_set_dump_id(0);
	close(sdir);
	close(l);
	close(top);
	ps_rm();
}

static void ps_addr_parse(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct err e = { 0 };

	CHECK_INT(ps_parse_addr("127.0.0.1:80", &ss, &len, &e), 0);
	CHECK_INT(ss.ss_family, AF_INET);
	CHECK_INT(ps_parse_addr("[::1]:8080", &ss, &len, &e), 0);
	CHECK_INT(ss.ss_family, AF_INET6);
	CHECK(ps_parse_addr("127.0.0.1", &ss, &len, &e) < 0);
	CHECK(ps_parse_addr("127.0.0.1:0", &ss, &len, &e) < 0);
	CHECK(ps_parse_addr("host:99999", &ss, &len, &e) < 0);
	CHECK(ps_parse_addr("localhost:80", &ss, &len, &e) < 0);
}

static const struct unit_case cases[] = {
	UNIT_CASE(ps_version_mismatch),
	UNIT_CASE(ps_truncated),
	UNIT_CASE(ps_oversize),
	UNIT_CASE(ps_eof_before_end),
	UNIT_CASE(ps_bad_name),
	UNIT_CASE(ps_too_much_data),
	UNIT_CASE(ps_failure_removes_files),
	UNIT_CASE(ps_session_round_trip),
	UNIT_CASE(ps_addr_parse),
};
UNIT_MAIN(cases)
