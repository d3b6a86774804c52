/* scmrights: a self-checking workload for files in flight: descriptors
 * sent over unix sockets (SCM_RIGHTS) and not received yet.
 *
 *	scmrights READYFILE RESULTFILE DIR
 *
 * A stream pair st holds, at st[1]: "hdr:" (no files), then "FDS" sent
 * with three files, then "tail". (Where in the stream the files come
 * back: with the read that reaches the last byte of the message they were
 * sent with, see dump-files; the checks read "hdr:" alone, then "FDS".) The three are: DIR/data opened read-write
 * at offset 5; the write end of a pipe whose read end the process keeps;
 * one end of a socket pair whose other end it keeps (with "q" waiting in
 * the in-flight end). The process closed its own descriptors of all three:
 * they live only in flight. A datagram pair dg holds, at dg[1], "one" sent
 * with a descriptor of DIR/data that the process also keeps (one open file
 * description, shared), and "two" without files; a seqpacket pair sp holds
 * "sp" with a socket end (of pair in2) that itself holds, in flight, the
 * read end of a pipe whose write end the process keeps.
 * After SIGUSR1 it checks that "hdr:" comes alone and without files, that
 * "FDS" brings three descriptors: the file (same inode, offset 5, its
 * bytes, read-write), the pipe's write end (what is written comes out of
 * the kept read end), the socket end ("q" waiting, then joined to the kept
 * end both ways), then "tail"; that "one" brings a descriptor of the same
 * open file description as the kept one (moving one's offset moves the
 * other's), then "two" without any; and the nested pipe end from the
 * socket that came with "sp". PASS or FAIL lines go to RESULTFILE. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

/* Sends buf with n descriptors (n may be 0). */
static int send_fds(int sk, const char *buf, const int *fds, int n)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)buf, strlen(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (n) {
		struct cmsghdr *cm;

		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
	}
	return sendmsg(sk, &mh, 0) == (ssize_t)strlen(buf) ? 0 : -1;
}

/* Receives up to want bytes and the descriptors with them; checks the bytes
 * and the number of descriptors, fills fds. */
static void expect(struct wl_report *r, const char *what, int sk, const char *want, int nfds, int *fds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} ctl;
	char buf[64];
	struct iovec iov = { buf, strlen(want) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
	ssize_t n = recvmsg(sk, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	int got = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++, got++)
				if (got < nfds)
					fds[got] = ((int *)CMSG_DATA(cm))[i];
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		wl_fail(r, "%s: got %zd bytes '%.*s', want '%s'", what, n, n > 0 ? (int)n : 0, buf, want);
	if (got != nfds)
		wl_fail(r, "%s: came with %d descriptors, want %d", what, got, nfds);
	if (mh.msg_flags & MSG_CTRUNC)
		wl_fail(r, "%s: control data truncated", what);
}

/* Writes a byte into w and expects it out of rd. */
static void check_pipe(struct wl_report *r, const char *what, int w, int rd)
{
	char c = 0;

	if (write(w, "P", 1) != 1 || read(rd, &c, 1) != 1 || c != 'P')
		wl_fail(r, "%s: the pipe's ends are not joined (%s)", what, strerror(errno));
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	char path[4096], buf[16];
	int st[2], dg[2], sp[2], in[2], in2[2], p1[2], p2[2], data, kept, fds[3] = { -1, -1, -1 }, one = -1, nested = -1, ns = -1;
	struct stat a, b;

	if (argc < 4)
		return 2;
	wl_catch_usr1();
	snprintf(path, sizeof(path), "%s/data", argv[3]);
	data = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	kept = open(path, O_RDWR);
	if (data < 0 || kept < 0 || write(data, "0123456789", 10) != 10 || lseek(data, 5, SEEK_SET) != 5 ||
	    lseek(kept, 2, SEEK_SET) != 2)
		return 1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, st) < 0 || socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, in) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, in2) < 0 || pipe(p1) < 0 || pipe(p2) < 0)
		return 1;
	fds[0] = data;
	fds[1] = p1[1];
	fds[2] = in[0];
	if (write(in[1], "q", 1) != 1 || send_fds(st[0], "hdr:", NULL, 0) < 0 || send_fds(st[0], "FDS", fds, 3) < 0 ||
	    send_fds(st[0], "tail", NULL, 0) < 0 || send_fds(dg[0], "one", &kept, 1) < 0 || send_fds(dg[0], "two", NULL, 0) < 0 ||
	    send_fds(in2[1], "n", &p2[0], 1) < 0 || send_fds(sp[0], "sp", &in2[0], 1) < 0)
		return 1;
	close(data);
	close(p1[1]);
	close(in[0]);
	close(p2[0]);
	close(in2[0]);
	close(in2[1]);
	fds[0] = fds[1] = fds[2] = -1;
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	expect(&r, "the header", st[1], "hdr:", 0, fds);
	expect(&r, "the message with files", st[1], "FDS", 3, fds);
	if (fds[0] >= 0) {
		if (fstat(fds[0], &a) < 0 || stat(path, &b) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
			wl_fail(&r, "the file in flight is not %s", path);
		if (lseek(fds[0], 0, SEEK_CUR) != 5)
			wl_fail(&r, "the file in flight is at offset %lld, want 5", (long long)lseek(fds[0], 0, SEEK_CUR));
		if ((fcntl(fds[0], F_GETFL) & O_ACCMODE) != O_RDWR)
			wl_fail(&r, "the file in flight is not open read-write");
		if (read(fds[0], buf, 5) != 5 || memcmp(buf, "56789", 5))
			wl_fail(&r, "the file in flight does not read '56789'");
	}
	if (fds[1] >= 0)
		check_pipe(&r, "the pipe end in flight", fds[1], p1[0]);
	if (fds[2] >= 0) {
		char c = 0;

		if (recv(fds[2], &c, 1, MSG_DONTWAIT) != 1 || c != 'q')
			wl_fail(&r, "the socket in flight lost the 'q' waiting in it");
		if (send(fds[2], "s", 1, 0) != 1 || recv(in[1], &c, 1, MSG_DONTWAIT) != 1 || c != 's' ||
		    send(in[1], "t", 1, 0) != 1 || recv(fds[2], &c, 1, MSG_DONTWAIT) != 1 || c != 't')
			wl_fail(&r, "the socket in flight is not joined to its kept peer");
	}
	expect(&r, "the tail", st[1], "tail", 0, fds);
	expect(&r, "the datagram with a shared file", dg[1], "one", 1, &one);
	if (one >= 0) {
		if (lseek(one, 0, SEEK_CUR) != 2 || lseek(one, 7, SEEK_SET) != 7 || lseek(kept, 0, SEEK_CUR) != 7)
			wl_fail(&r, "the file in flight does not share its offset with the kept descriptor");
	}
	expect(&r, "the datagram without files", dg[1], "two", 0, &one);
	expect(&r, "the seqpacket with a socket", sp[1], "sp", 1, &ns);
	if (ns >= 0) {
		expect(&r, "the socket in flight in a socket in flight", ns, "n", 1, &nested);
		if (nested >= 0)
			check_pipe(&r, "the pipe end nested in flight", p2[1], nested);
	}
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
