/* manyconns: the established-connections benchmark's workload.
 *
 *	manyconns READYFILE RESULTFILE N
 *
 * A listener on 127.0.0.1 (a port the kernel picks) and N established TCP
 * connections to it, both ends in this process. Each client end sends
 * "c<i>" and each server end "s<i>" (padded to 64 bytes), and nobody reads
 * before the dump: every connection has data queued both ways. After
 * SIGUSR1 it reads and checks both messages of every connection, then
 * sends one more each way on every connection and checks it arrives.
 * PASS or FAIL lines go to RESULTFILE.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "workload.h"

#define MSG 64

static int send_msg(int fd, char kind, int i, int round)
{
	char buf[MSG];

	memset(buf, 0, sizeof(buf));
	snprintf(buf, sizeof(buf), "%c%d.%d", kind, i, round);
	return send(fd, buf, sizeof(buf), 0) == MSG ? 0 : -1;
}

/* Reads one message and checks it; 0 or -1. */
static int check_msg(struct wl_report *r, int fd, char kind, int i, int round)
{
	char buf[MSG], want[MSG];
	size_t got = 0;

	memset(want, 0, sizeof(want));
	snprintf(want, sizeof(want), "%c%d.%d", kind, i, round);
	while (got < MSG) {
		ssize_t n = recv(fd, buf + got, MSG - got, 0);

		if (n <= 0) {
			wl_fail(r, "connection %d: reading '%s': %s", i, want, n ? strerror(errno) : "end of stream");
			return -1;
		}
		got += n;
	}
	if (memcmp(buf, want, MSG)) {
		wl_fail(r, "connection %d: got '%.20s', want '%s'", i, buf, want);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr = { htonl(INADDR_LOOPBACK) } };
	socklen_t alen = sizeof(a);
	int n, l, *cl, *sv, bad = 0;
	struct timeval tv = { 10, 0 };

	if (argc < 4 || (n = atoi(argv[3])) < 1 || n > 8000)
		return 2;
	cl = calloc(n, sizeof(int));
	sv = calloc(n, sizeof(int));
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (!cl || !sv || l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4096) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0)
		return 1;
	wl_catch_usr1();
	for (int i = 0; i < n; i++) {
		if ((cl[i] = socket(AF_INET, SOCK_STREAM, 0)) < 0 || connect(cl[i], (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    (sv[i] = accept(l, NULL, NULL)) < 0) {
			fprintf(stderr, "manyconns: connection %d: %s\n", i, strerror(errno));
			return 1;
		}
		setsockopt(cl[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(sv[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (send_msg(cl[i], 'c', i, 0) < 0 || send_msg(sv[i], 's', i, 0) < 0)
			return 1;
	}
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	for (int i = 0; i < n && bad < 5; i++) {
		bad += check_msg(&r, sv[i], 'c', i, 0) < 0;
		bad += check_msg(&r, cl[i], 's', i, 0) < 0;
		if (send_msg(cl[i], 'c', i, 1) < 0 || send_msg(sv[i], 's', i, 1) < 0) {
			wl_fail(&r, "connection %d: sending after the restore: %s", i, strerror(errno));
			bad++;
			continue;
		}
		bad += check_msg(&r, sv[i], 'c', i, 1) < 0;
		bad += check_msg(&r, cl[i], 's', i, 1) < 0;
	}
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
