/* epoll: a self-checking workload for epoll instances.
 *
 *	epoll READYFILE RESULTFILE
 *
 * An epoll watches a pipe holding data (EPOLLIN, data 7), an eventfd with a
 * count (EPOLLIN|EPOLLET|EPOLLONESHOT, data 0x1122334455667788) and a
 * periodic timerfd (EPOLLIN, data 99); a second epoll watches nothing.
 * After SIGUSR1: the registrations in /proc/self/fdinfo (fd, events, data)
 * are those from before; epoll_wait reports all three with their data; the
 * one-shot one is not reported a second time; the empty epoll reports
 * nothing. PASS or FAIL lines go to RESULTFILE. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "workload.h"

static int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The registration lines of an epoll's fdinfo, sorted (the kernel lists
 * them in the order of its file pointers), without what a restore may
 * change (pos, inode, device). */
static void registrations(int ep, char *out, size_t size)
{
	char path[64], text[4096], *lines[32];
	ssize_t n;
	int nl = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ep);
	n = wl_read_file(path, text, sizeof(text));
	out[0] = 0;
	for (char *l = strtok(n > 0 ? text : (char *)"", "\n"); l && nl < 32; l = strtok(NULL, "\n")) {
		char *cut = strstr(l, " pos:");

		if (strncmp(l, "tfd:", 4))
			continue;
		if (cut)
			*cut = 0;
		lines[nl++] = l;
	}
	qsort(lines, nl, sizeof(lines[0]), line_cmp);
	for (int i = 0; i < nl; i++) {
		strncat(out, lines[i], size - strlen(out) - 2);
		strcat(out, "\n");
	}
}

static int seen(const struct epoll_event *ev, int n, uint64_t data)
{
	for (int i = 0; i < n; i++)
		if (ev[i].data.u64 == data)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	char report[4096] = "", before[2048], after[2048];
	struct wl_report r = { report, sizeof(report), 0 };
	struct itimerspec it = { { 0, 50000000 }, { 0, 50000000 } };
	struct epoll_event ev, got[8];
	int p[2], efd, tfd, ep, empty, n;
	uint64_t one = 1;

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	if (pipe(p) < 0 || write(p[1], "x", 1) != 1)
		return 1;
	efd = eventfd(0, 0);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	ep = epoll_create1(0);
	empty = epoll_create1(0);
	if (efd < 0 || tfd < 0 || ep < 0 || empty < 0 || write(efd, &one, 8) != 8 || timerfd_settime(tfd, 0, &it, NULL) < 0)
		return 1;
	ev = (struct epoll_event){ EPOLLIN, { .u64 = 7 } };
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	ev = (struct epoll_event){ EPOLLIN | EPOLLET | EPOLLONESHOT, { .u64 = 0x1122334455667788ULL } };
	epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
	ev = (struct epoll_event){ EPOLLIN, { .u64 = 99 } };
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	registrations(ep, before, sizeof(before));
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	registrations(ep, after, sizeof(after));
	if (strcmp(before, after))
		wl_fail(&r, "epoll registrations were\n%s and are\n%s", before, after);
	wl_sleep_ms(120);
	n = epoll_wait(ep, got, 8, 500);
	if (!seen(got, n, 7))
		wl_fail(&r, "the pipe with data was not reported");
	if (!seen(got, n, 0x1122334455667788ULL))
		wl_fail(&r, "the eventfd was not reported");
	if (!seen(got, n, 99))
		wl_fail(&r, "the timerfd was not reported");
	n = epoll_wait(ep, got, 8, 0);
	if (seen(got, n, 0x1122334455667788ULL))
		wl_fail(&r, "the one-shot registration was reported twice");
	if (epoll_wait(empty, got, 8, 0) != 0)
		wl_fail(&r, "the empty epoll reported something");
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
