/* test_track: lib/track.c, the holder protocol of write tracking.
 *
 * Messages go over a SOCK_SEQPACKET pair as amber-track's do: a message
 * with its descriptors arrives whole; a truncated one, one of another
 * magic or protocol version, an unknown op, more processes than
 * TRACK_MAX, or a count that disagrees with the descriptors that came are
 * refused naming what is wrong. And the tracking itself: a userfaultfd
 * registered for asynchronous write-protect reports exactly the pages
 * written since (PAGEMAP_SCAN), and an untracked range says so (-EPERM). */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "lib/track.h"
#include "tests/unit/unit.h"

static void msg_init(struct track_msg *m, uint32_t op)
{
	memset(m, 0, sizeof(*m));
	m->magic = TRACK_MAGIC;
	m->version = TRACK_VERSION;
	m->op = op;
}

/* A message with two descriptors arrives whole and checks out. */
static void track_send_recv_fds(void)
{
	int sp[2], fds[TRACK_MAX + 1], nfds, got;
	struct track_msg m, r;
	struct err e = { 0 };
	int two[2] = { 0, 1 };

	REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) == 0);
	msg_init(&m, TRACK_ADOPT);
	m.nr = 1;
	m.ent[0].pid = 42;
	m.ent[0].start_time = 7;
	REQUIRE(track_send(sp[0], &m, two, 2, &e) == 0);
	got = track_recv(sp[1], &r, fds, TRACK_MAX + 1, &nfds, &e);
	CHECK_INT(got, (int)sizeof(r));
	CHECK_INT(nfds, 2);
	CHECK_INT(track_msg_check(&r, got, nfds, 1, &e), 0);
	CHECK_INT(r.ent[0].pid, 42);
	CHECK_U64(r.ent[0].start_time, 7);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	close(sp[0]);
	close(sp[1]);
}

/* Every way a message can be wrong, each named. */
static void track_msg_refusals(void)
{
	struct {
		const char *name;
		uint32_t magic, version, op, nr;
		size_t len;
		int nfds;
		const char *want;
	} t[] = {
		{ "truncated", TRACK_MAGIC, TRACK_VERSION, TRACK_GET, 0, 100, 0, "of 100 bytes" },
		{ "oversize", TRACK_MAGIC, TRACK_VERSION, TRACK_GET, 0, sizeof(struct track_msg) + 1, 0, "bytes" },
		{ "magic", 0x12345678, TRACK_VERSION, TRACK_GET, 0, sizeof(struct track_msg), 0, "magic" },
		{ "version", TRACK_MAGIC, TRACK_VERSION + 1, TRACK_GET, 0, sizeof(struct track_msg), 0, "version 2" },
		{ "op", TRACK_MAGIC, TRACK_VERSION, 99, 0, sizeof(struct track_msg), 0, "unknown op 99" },
		{ "too many", TRACK_MAGIC, TRACK_VERSION, TRACK_ADOPT, TRACK_MAX + 1, sizeof(struct track_msg), 0, "at most" },
		{ "fds", TRACK_MAGIC, TRACK_VERSION, TRACK_REPLY, 3, sizeof(struct track_msg), 1, "descriptors came" },
	};

	for (size_t i = 0; i < UNIT_ARRAY_SIZE(t); i++) {
		struct track_msg m;
		struct err e = { 0 };

		msg_init(&m, t[i].op);
		m.magic = t[i].magic;
		m.version = t[i].version;
		m.nr = t[i].nr;
		if (track_msg_check(&m, t[i].len, t[i].nfds, 0, &e) == 0) {
			unit_fail(__FILE__, __LINE__, "%s: accepted", t[i].name);
			continue;
		}
		CHECK_CONTAINS(e.msg, t[i].want);
	}
}

/* Tracking on this very process: register, protect, write two pages, scan. */
static void track_scan_finds_written(void)
{
	size_t len = 16 * 4096;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | TRACK_UFFD_USER_MODE_ONLY);
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t *runs = NULL, s = (uintptr_t)m;
	struct err e = { 0 };
	int nr = -1;

	REQUIRE(m != MAP_FAILED && pm >= 0);
	if (uffd < 0 || track_uffd_api(uffd, &e) < 0)
		UNIT_SKIP("no userfaultfd with asynchronous write-protect here");
	memset(m, 1, len);
	/* Not tracked yet: the scan says so. */
	CHECK_INT(track_scan(pm, s, s + len, false, &runs, &nr, &e), -EPERM);
	REQUIRE(track_uffd_register(uffd, s, s + len) == 0);
	REQUIRE(track_uffd_protect(uffd, s, s + len) == 0);
	m[3 * 4096] = 2;
	m[4 * 4096 + 9] = 2;
	m[10 * 4096] = 2;
	REQUIRE(track_scan(pm, s, s + len, true, &runs, &nr, &e) == 0);
	REQUIRE(nr == 2);
	CHECK_U64(runs[0], s + 3 * 4096);
	CHECK_U64(runs[1], s + 5 * 4096);
	CHECK_U64(runs[2], s + 10 * 4096);
	free(runs);
	/* Protected again by the scan: nothing written since. */
	REQUIRE(track_scan(pm, s, s + len, true, &runs, &nr, &e) == 0);
	CHECK_INT(nr, 0);
	free(runs);
	close(uffd);
	close(pm);
}

static const struct unit_case cases[] = {
	UNIT_CASE(track_send_recv_fds),
	UNIT_CASE(track_msg_refusals),
	UNIT_CASE(track_scan_finds_written),
};
UNIT_MAIN(cases)
