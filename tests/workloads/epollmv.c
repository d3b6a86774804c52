/* epollmv: a self-checking workload for epoll registrations whose fd
 * number no longer holds their file.
 *
 *	epollmv READYFILE RESULTFILE CASE
 *
 * CASE is one of:
 *  moved	an epoll registers a pipe's read end (fd P, data 1) and an
 *		eventfd (fd E, data 2), both ready; P is then dup'ed to 40 and
 *		closed, E dup'ed to 41 and closed, and a new eventfd takes E's
 *		number (not registered). After the restore the registrations in
 *		fdinfo (fd numbers, events, data) are those from before, both
 *		are reported by epoll_wait, and fd E is still the new eventfd
 *		(count 5) with its close-on-exec flag.
 *  orphan	the registered pipe end is closed in the process but still held
 *		by its child: the dump refuses it (nothing is checked after).
 * PASS or FAIL lines go to RESULTFILE after SIGUSR1.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "workload.h"

static int epollmv_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The registration lines of an epoll's fdinfo without pos, ino, sdev,
 * sorted (the kernel lists them in the order of its file pointers). */
static void epollmv_regs(int ep, char *out, size_t size)
{
	char path[64], text[4096], *lines[32];
	ssize_t n;
	int nl = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ep);
	n = wl_read_file(path, text, sizeof(text));
	out[0] = 0;
	for (char *l = strtok(n > 0 ? text : (char *)"", "\n"); l; l = strtok(NULL, "\n")) {
		char *cut = strstr(l, " pos:");

		if (strncmp(l, "tfd:", 4))
			continue;
		if (cut)
			*cut = 0;
		if (nl < 32)
			lines[nl++] = l;
	}
	qsort(lines, nl, sizeof(lines[0]), epollmv_cmp);
	for (int i = 0; i < nl; i++) {
		strncat(out, lines[i], size - strlen(out) - 2);
		strcat(out, "\n");
	}
}

int main(int argc, char **argv)
{
	char report[4096] = "", before[2048], after[2048];
	struct wl_report r = { report, sizeof(report), 0 };
	struct epoll_event ev, got[8];
	int p[2], efd, ep, n, e2;
	uint64_t v = 1;

	if (argc < 4)
		return 2;
	wl_catch_usr1();
	if (pipe(p) < 0 || write(p[1], "x", 1) != 1 || (efd = eventfd(3, 0)) < 0 || (ep = epoll_create1(0)) < 0)
		return 1;
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = 1 };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) < 0)
		return 1;
	if (!strcmp(argv[3], "orphan")) {
		pid_t child = fork();

		if (child == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (;;)
				pause();
		}
		close(p[0]);
		if (wl_write_ready(argv[1], getpid()) < 0)
			return 1;
		for (;;)
			pause();
	}
	ev = (struct epoll_event){ .events = EPOLLIN | EPOLLET, .data.u64 = 2 };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0 || dup2(efd, 41) != 41 || close(efd) < 0 ||
	    (e2 = eventfd(5, EFD_CLOEXEC)) != efd || dup2(p[0], 40) != 40 || close(p[0]) < 0)
		return wl_must(0, "move the fds"), 1;
	epollmv_regs(ep, before, sizeof(before));
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();
	epollmv_regs(ep, after, sizeof(after));
	if (strcmp(before, after))
		wl_fail(&r, "registrations were\n%safter the restore\n%s", before, after);
	n = epoll_wait(ep, got, 8, 1000);
	if (n != 2 || got[0].data.u64 + got[1].data.u64 != 3)
		wl_fail(&r, "epoll_wait reported %d events, want data 1 and 2", n);
	if (read(e2, &v, sizeof(v)) != sizeof(v) || v != 5)
		wl_fail(&r, "fd %d is not the new eventfd with count 5 (read %llu)", e2, (unsigned long long)v);
	if (!(fcntl(e2, F_GETFD) & FD_CLOEXEC))
		wl_fail(&r, "fd %d lost its close-on-exec flag", e2);
	if (read(40, &v, 1) != 1)
		wl_fail(&r, "fd 40 is not the pipe with its byte");
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
