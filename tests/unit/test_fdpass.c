/* test_fdpass: ipc/fdpass.c, open files sent between stages with SCM_RIGHTS.
 *
 * Uses SOCK_SEQPACKET socketpairs as the driver does, so each batch is one
 * message and a closed peer reads as EOF. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "lib/exitcodes.h"
#include "ipc/fdpass.h"
#include "tests/unit/unit.h"

static int fdpass_test_pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}

/* Open descriptors of this process, to catch leaks on error paths. */
static int fdpass_test_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the DIR's own fd */
}

/* Do a and b name the same open file? */
static int fdpass_test_same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void fdpass_round_trip(void)
{
	int sv[2], fds[3], got[FDPASS_BATCH];
	uint32_t ids[3] = { 7, 8, 4000000000u }, got_ids[FDPASS_BATCH];
	struct err e = { 0 };

	REQUIRE(fdpass_test_pair(sv) == 0);
	fds[0] = open("/dev/null", O_RDONLY);
	fds[1] = open("/proc/self/exe", O_RDONLY);
	fds[2] = open("/tmp", O_RDONLY | O_DIRECTORY);
	REQUIRE(fds[0] >= 0 && fds[1] >= 0 && fds[2] >= 0);
	CHECK_INT(fdpass_send(sv[0], fds, ids, 3, &e), 0);
	CHECK_INT(fdpass_send_end(sv[0], &e), 0);
	CHECK_INT(fdpass_recv(sv[1], got, got_ids, &e), 3);
	for (int i = 0; i < 3; i++) {
		CHECK_U64(got_ids[i], ids[i]);
		CHECK(got[i] != fds[i]);
		CHECK(fdpass_test_same_file(got[i], fds[i]));
		/* Received fds are close-on-exec until the stage places them. */
		CHECK(fcntl(got[i], F_GETFD) & FD_CLOEXEC);
		close(got[i]);
		close(fds[i]);
	}
	CHECK_INT(fdpass_recv(sv[1], got, got_ids, &e), 0);
	close(sv[0]);
	close(sv[1]);
}

/* The shared file position proves it is the same open file description. */
static void fdpass_shares_file_description(void)
{
	char path[] = "/tmp/amber-unit-fdpass-XXXXXX";
	int sv[2], fd = mkstemp(path), got[FDPASS_BATCH];
	uint32_t id = 1, got_ids[FDPASS_BATCH];
	struct err e = { 0 };

	REQUIRE(fd >= 0);
	unlink(path);
	REQUIRE(fdpass_test_pair(sv) == 0);
	CHECK_INT(fdpass_send(sv[0], &fd, &id, 1, &e), 0);
	CHECK_INT(fdpass_recv(sv[1], got, got_ids, &e), 1);
	CHECK_INT(write(fd, "12345", 5), 5);
	CHECK_INT(lseek(got[0], 0, SEEK_CUR), 5);
	close(got[0]);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

static void fdpass_full_batches(void)
{
	int sv[2], fds[FDPASS_BATCH], got[FDPASS_BATCH];
	uint32_t ids[FDPASS_BATCH], got_ids[FDPASS_BATCH];
	struct err e = { 0 };
	int total = 0, n;

	REQUIRE(fdpass_test_pair(sv) == 0);
	for (int i = 0; i < FDPASS_BATCH; i++) {
		fds[i] = open("/dev/null", O_RDONLY);
		REQUIRE(fds[i] >= 0);
		ids[i] = 1000 + i;
	}
	CHECK_INT(fdpass_send(sv[0], fds, ids, FDPASS_BATCH, &e), 0);
	CHECK_INT(fdpass_send(sv[0], fds, ids, 1, &e), 0);
	CHECK_INT(fdpass_send_end(sv[0], &e), 0);
	while ((n = fdpass_recv(sv[1], got, got_ids, &e)) > 0) {
		for (int i = 0; i < n; i++) {
			CHECK_U64(got_ids[i], 1000 + i);
			close(got[i]);
		}
		total += n;
	}
	CHECK_INT(n, 0);
	CHECK_INT(total, FDPASS_BATCH + 1);
	for (int i = 0; i < FDPASS_BATCH; i++)
		close(fds[i]);
	close(sv[0]);
	close(sv[1]);
}

static void fdpass_batch_size_checked(void)
{
	int sv[2], fds[FDPASS_BATCH + 1] = { 0 };
	uint32_t ids[FDPASS_BATCH + 1] = { 0 };
	struct err e = { 0 };

	REQUIRE(fdpass_test_pair(sv) == 0);
	CHECK(fdpass_send(sv[0], fds, ids, FDPASS_BATCH + 1, &e) < 0);
	CHECK(fdpass_send(sv[0], fds, ids, -1, &e) < 0);
	close(sv[0]);
	close(sv[1]);
}

static void fdpass_peer_closed_before_end(void)
{
	int sv[2], got[FDPASS_BATCH];
	uint32_t got_ids[FDPASS_BATCH];
	struct err e = { 0 };

	REQUIRE(fdpass_test_pair(sv) == 0);
	close(sv[0]);
	CHECK_INT(fdpass_recv(sv[1], got, got_ids, &e), -EPROTO);
	CHECK_INT(e.exit_code, EXIT_PROTOCOL);
	CHECK_CONTAINS(e.msg, "before its end marker");
	close(sv[1]);
}

/* The sender is a process that dies after one batch, as a crashed restore-files would. */
static void fdpass_sender_dies_mid_way(void)
{
	int sv[2], got[FDPASS_BATCH];
	uint32_t got_ids[FDPASS_BATCH];
	struct err e = { 0 };
	pid_t pid;

	REQUIRE(fdpass_test_pair(sv) == 0);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY);
		uint32_t id = 3;

		close(sv[1]);
		if (fdpass_send(sv[0], &fd, &id, 1, &e) < 0)
			_exit(1);
		raise(SIGKILL);
	}
	close(sv[0]);
	CHECK_INT(fdpass_recv(sv[1], got, got_ids, &e), 1);
	close(got[0]);
	CHECK_INT(fdpass_recv(sv[1], got, got_ids, &e), -EPROTO);
	CHECK_CONTAINS(e.msg, "before its end marker");
	waitpid(pid, NULL, 0);
	close(sv[1]);
}

/* Malformed messages are refused and any fds they carried are closed. */
static void fdpass_malformed_refused_without_leak(void)
{
	int sv[2], got[FDPASS_BATCH], before, fd;
	uint32_t got_ids[FDPASS_BATCH], data[3] = { 2, 1, 2 };
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { data, sizeof(data) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;
	struct err e = { 0 };

	REQUIRE(fdpass_test_pair(sv) == 0);
	/* Three bytes: not even a count. */
	REQUIRE(send(sv[0], "abc", 3, 0) == 3);
	CHECK_INT(fdpass_recv(sv[1], got, got_ids, &e), -EPROTO);
	CHECK_CONTAINS(e.msg, "malformed");
	/* A count of 2 with only one fd attached. */
	fd = open("/dev/null", O_RDONLY);
	REQUIRE(fd >= 0);
	memset(ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	REQUIRE(sendmsg(sv[0], &mh, 0) == sizeof(data));
	close(fd);
	before = fdpass_test_count_fds();
	CHECK_INT(fdpass_recv(sv[1], got, got_ids, &e), -EPROTO);
	CHECK_CONTAINS(e.msg, "malformed");
	CHECK_INT(fdpass_test_count_fds(), before);
	/* A count over the batch size. */
	data[0] = FDPASS_BATCH + 1;
	REQUIRE(send(sv[0], data, sizeof(data), 0) == sizeof(data));
	CHECK_INT(fdpass_recv(sv[1], got, got_ids, &e), -EPROTO);
	close(sv[0]);
	close(sv[1]);
}

/* With RLIMIT_NOFILE too low the kernel drops fds (MSG_CTRUNC): an error
 * that says so, and the fds that did arrive are closed. */
static void fdpass_truncated_by_rlimit(void)
{
	int sv[2], fds[8], got[FDPASS_BATCH], before;
	uint32_t ids[8] = { 0 }, got_ids[FDPASS_BATCH];
	struct rlimit rl;
	struct err e = { 0 };

	REQUIRE(fdpass_test_pair(sv) == 0);
	for (int i = 0; i < 8; i++)
		REQUIRE((fds[i] = open("/dev/null", O_RDONLY)) >= 0);
	CHECK_INT(fdpass_send(sv[0], fds, ids, 8, &e), 0);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	before = fdpass_test_count_fds();
	/* Room for three more descriptors, counting opendir's in the check. */
	rl.rlim_cur = rl.rlim_max = sv[1] + 4;
	REQUIRE(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHECK(fdpass_recv(sv[1], got, got_ids, &e) < 0);
	CHECK_CONTAINS(e.msg, "RLIMIT_NOFILE");
	CHECK_INT(fdpass_test_count_fds(), before);
	close(sv[0]);
	close(sv[1]);
}

static void fdpass_send_to_closed_peer(void)
{
	int sv[2], fd = 0;
	uint32_t id = 1;
	struct err e = { 0 };

	/* MSG_NOSIGNAL: no SIGPIPE kills the stage, an error names the socket. */
	REQUIRE(fdpass_test_pair(sv) == 0);
	close(sv[1]);
	CHECK_INT(fdpass_send(sv[0], &fd, &id, 1, &e), -EPIPE);
	CHECK_CONTAINS(e.msg, "files socket");
	close(sv[0]);
}

static const struct unit_case cases[] = {
	UNIT_CASE(fdpass_round_trip),
	UNIT_CASE(fdpass_shares_file_description),
	UNIT_CASE(fdpass_full_batches),
	UNIT_CASE(fdpass_batch_size_checked),
	UNIT_CASE(fdpass_peer_closed_before_end),
	UNIT_CASE(fdpass_sender_dies_mid_way),
	UNIT_CASE(fdpass_malformed_refused_without_leak),
	UNIT_CASE(fdpass_truncated_by_rlimit),
	UNIT_CASE(fdpass_send_to_closed_peer),
};

UNIT_MAIN(cases)
