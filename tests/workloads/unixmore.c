/* unixmore: a self-checking workload for unix sockets in the states that
 * are neither a connected pair nor a listener.
 *
 *	unixmore READYFILE RESULTFILE DIR CASE
 *
 * CASE is one of:
 *  states	fd 10: a stream socket never bound nor connected; fd 11: the
 *		same of type seqpacket; fd 12: a stream socket bound to
 *		DIR/bound.sock, not listening; fd 13: a stream end whose peer
 *		wrote "hello" and closed; fd 14: a datagram end whose peer sent
 *		"dg" and closed; fd 15: the server end of a connection accepted
 *		from DIR/l.sock whose client wrote "cli" and closed (the
 *		listener closed too). After the restore: 10 and 11 have their
 *		types and no name nor peer; 12 keeps its name and can listen and
 *		be connected to; 13 reads "hello" then end-of-file; 14 receives
 *		"dg", then a send fails with ECONNREFUSED; 15 keeps the name
 *		DIR/l.sock and reads "cli" then end-of-file.
 *  relative	a listener bound to the relative path "rel.sock" in DIR (its
 *		cwd): refused by the dump.
 * PASS or FAIL lines go to RESULTFILE after SIGUSR1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "workload.h"

static socklen_t unixmore_addr(struct sockaddr_un *sa, const char *dir, const char *name)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "%s%s%s", dir, *dir ? "/" : "", name);
	return offsetof(struct sockaddr_un, sun_path) + strlen(sa->sun_path) + 1;
}

/* Checks fd has type, and no peer; and its name is want (NULL: none). */
static void unixmore_check(struct wl_report *r, int fd, int type, const char *want)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	int t = 0;
	socklen_t tl = sizeof(t);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &tl) < 0 || t != type)
		wl_fail(r, "fd %d: type %d, want %d", fd, t, type);
	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		wl_fail(r, "fd %d: getsockname: %s", fd, strerror(errno));
	else if (want ? strcmp(sa.sun_path, want) : len != sizeof(sa_family_t))
		wl_fail(r, "fd %d: its name is '%s' (%u bytes), want '%s'", fd, sa.sun_path, len, want ? want : "(none)");
}

/* Checks fd reads want then end-of-file. */
static void unixmore_reads(struct wl_report *r, int fd, const char *want)
{
	char buf[64] = "";
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		wl_fail(r, "fd %d: read %zd bytes '%s', want '%s'", fd, n, n > 0 ? buf : "", want);
	if ((n = read(fd, buf, sizeof(buf))) != 0)
		wl_fail(r, "fd %d: read %zd after the data, want end-of-file", fd, n);
}

static int unixmore_states(const char *dir, const char *ready, struct wl_report *r)
{
	struct sockaddr_un sa, la;
	socklen_t len, llen;
	int sv[2], dv[2], l, c, s, x;
	char buf[16], bound[sizeof(sa.sun_path)], lname[sizeof(sa.sun_path)];

	len = unixmore_addr(&sa, dir, "bound.sock");
	snprintf(bound, sizeof(bound), "%s", sa.sun_path);
	llen = unixmore_addr(&la, dir, "l.sock");
	snprintf(lname, sizeof(lname), "%s", la.sun_path);
	if (dup2(socket(AF_UNIX, SOCK_STREAM, 0), 10) != 10 || dup2(socket(AF_UNIX, SOCK_SEQPACKET, 0), 11) != 11 ||
	    dup2(socket(AF_UNIX, SOCK_STREAM, 0), 12) != 12 || bind(12, (struct sockaddr *)&sa, len) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || write(sv[1], "hello", 5) != 5 || dup2(sv[0], 13) != 13 ||
	    socketpair(AF_UNIX, SOCK_DGRAM, 0, dv) < 0 || send(dv[1], "dg", 2, 0) != 2 || dup2(dv[0], 14) != 14)
		return wl_must(0, "make the sockets");
	close(sv[0]);
	close(sv[1]);
	close(dv[0]);
	close(dv[1]);
	if ((l = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 || bind(l, (struct sockaddr *)&la, llen) < 0 || listen(l, 4) < 0 ||
	    (c = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 || connect(c, (struct sockaddr *)&la, llen) < 0 ||
	    (s = accept(l, NULL, NULL)) < 0 || write(c, "cli", 3) != 3 || dup2(s, 15) != 15)
		return wl_must(0, "make the accepted connection");
	close(s);
	close(c);
	close(l);
	if (wl_write_ready(ready, getpid()) < 0)
		return -1;
	wl_wait_usr1();
	unixmore_check(r, 10, SOCK_STREAM, NULL);
	unixmore_check(r, 11, SOCK_SEQPACKET, NULL);
	if (getpeername(10, (struct sockaddr *)&sa, &(socklen_t){ sizeof(sa) }) == 0 || errno != ENOTCONN)
		wl_fail(r, "fd 10 has a peer");
	unixmore_check(r, 12, SOCK_STREAM, bound);
	len = unixmore_addr(&sa, dir, "bound.sock");
	if (listen(12, 1) < 0 || (x = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 || connect(x, (struct sockaddr *)&sa, len) < 0)
		wl_fail(r, "fd 12 cannot listen and be connected to at '%s': %s", bound, strerror(errno));
	unixmore_reads(r, 13, "hello");
	if (recv(14, buf, sizeof(buf), MSG_DONTWAIT) != 2 || memcmp(buf, "dg", 2))
		wl_fail(r, "fd 14 did not receive 'dg'");
	if (send(14, "x", 1, MSG_DONTWAIT) >= 0 || errno != ECONNREFUSED)
		wl_fail(r, "fd 14: a send to its closed peer gave '%s', want ECONNREFUSED", strerror(errno));
	unixmore_check(r, 15, SOCK_STREAM, lname);
	unixmore_reads(r, 15, "cli");
	return 0;
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	struct sockaddr_un sa;
	int ret = 0, l;

	if (argc < 5)
		return 2;
	wl_catch_usr1();
	if (!strcmp(argv[4], "states")) {
		ret = unixmore_states(argv[3], argv[1], &r);
	} else if (!strcmp(argv[4], "relative")) {
		socklen_t len = unixmore_addr(&sa, "", "rel.sock");

		if (chdir(argv[3]) < 0 || (l = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
		    bind(l, (struct sockaddr *)&sa, len) < 0 || listen(l, 1) < 0 || wl_write_ready(argv[1], getpid()) < 0)
			return 1;
		for (;;)
			pause();
	} else {
		return fprintf(stderr, "unixmore: unknown case '%s'\n", argv[4]), 2;
	}
	if (ret < 0)
		return 1;
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
