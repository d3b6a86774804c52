/* manyfds: the files benchmark's workload.
 *
 *	manyfds READYFILE RESULTFILE NFILES NPIPES [STRIDE]
 *
 * Opens NFILES descriptors of a temporary file (separate descriptions, the
 * i-th at offset i * STRIDE, default 7; the file is removed at exit) and
 * NPIPES pipes, each holding 100 bytes naming it. With STRIDE 0 every
 * description looks the same from /proc (one file, one offset, one mode):
 * only kcmp tells them apart, the hard case for dump-files.
 * After SIGUSR1 it checks every offset (and with STRIDE 0 that moving one
 * description moves no other) and every pipe's bytes and writes
 * PASS or FAIL to RESULTFILE. RLIMIT_NOFILE must allow it. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv)
{
	char report[4096] = "", tmpl[] = "/tmp/manyfds.XXXXXX", msg[101], got[101];
	struct wl_report r = { report, sizeof(report), 0 };
	int nf, np, stride, *files, (*pipes)[2], src;
	struct rlimit rl;

	if (argc < 5)
		return 2;
	nf = atoi(argv[3]);
	np = atoi(argv[4]);
	stride = argc > 5 ? atoi(argv[5]) : 7;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	wl_catch_usr1();
	files = calloc(nf, sizeof(*files));
	pipes = calloc(np, sizeof(*pipes));
	src = mkstemp(tmpl);
	if (!files || !pipes || src < 0 || ftruncate(src, 1 << 20) < 0)
		return 1;
	for (int i = 0; i < nf; i++) {
		files[i] = open(tmpl, O_RDONLY);
		if (files[i] < 0 || lseek(files[i], (off_t)i * stride, SEEK_SET) < 0)
			return 1;
	}
	close(src);
	for (int i = 0; i < np; i++) {
		if (pipe(pipes[i]) < 0)
			return 1;
		snprintf(msg, sizeof(msg), "%-99d", i);
		if (write(pipes[i][1], msg, 100) != 100)
			return 1;
	}
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();
	for (int i = 0; i < nf; i++)
		if (lseek(files[i], 0, SEEK_CUR) != (off_t)i * stride) {
			wl_fail(&r, "file %d is at %ld, want %d", i, (long)lseek(files[i], 0, SEEK_CUR), i * stride);
			break;
		}
	/* Still separate descriptions: one moves alone. */
	if (nf > 1 && (lseek(files[0], 5, SEEK_CUR) < 0 || lseek(files[nf - 1], 0, SEEK_CUR) != (off_t)(nf - 1) * stride))
		wl_fail(&r, "moving file 0 moved file %d: the descriptions were merged", nf - 1);
	for (int i = 0; i < np; i++) {
		snprintf(msg, sizeof(msg), "%-99d", i);
		if (read(pipes[i][0], got, 100) != 100 || memcmp(got, msg, 100)) {
			wl_fail(&r, "pipe %d lost its bytes", i);
			break;
		}
	}
	unlink(tmpl);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
