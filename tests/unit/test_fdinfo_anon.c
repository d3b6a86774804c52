/* test_fdinfo_anon: proc_parse_fdinfo_anon (lib/proc.c), the fdinfo lines of
 * eventfd, signalfd and timerfd. The texts were recorded on Linux 6.18
 * x86-64 from eventfd(5, EFD_SEMAPHORE|EFD_NONBLOCK), a signalfd for
 * SIGUSR2 and a CLOCK_MONOTONIC timerfd set to {3 s, interval 1.5 s}. */
#include "lib/proc.h"
#include "tests/unit/unit.h"

static const char fdinfo_eventfd[] =
	"pos:\t0\nflags:\t04002\nmnt_id:\t17\nino:\t1038\n"
	"eventfd-count:                5\neventfd-id: 1\neventfd-semaphore: 1\n";
static const char fdinfo_signalfd[] =
	"pos:\t0\nflags:\t04002\nmnt_id:\t17\nino:\t1038\nsigmask:\t0000000000000800\n";
static const char fdinfo_timerfd[] =
	"pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t1038\nclockid: 1\nticks: 0\nsettime flags: 00\n"
	"it_value: (2, 990150449)\nit_interval: (1, 500000000)\n";

static void anon_eventfd(void)
{
	struct proc_fdinfo_anon a;
	struct err e = { 0 };

	CHECK_INT(proc_parse_fdinfo_anon(fdinfo_eventfd, &a, &e), 0);
	CHECK(a.eventfd && !a.signalfd && !a.timerfd);
	CHECK_INT(a.eventfd_count, 5);
	CHECK(a.eventfd_semaphore);
}

static void anon_eventfd_hex_count(void)
{
	struct proc_fdinfo_anon a;
	struct err e = { 0 };

	/* The count is printed in hexadecimal: 0xf4240 is 1000000. */
	CHECK_INT(proc_parse_fdinfo_anon("eventfd-count:            f4240\n", &a, &e), 0);
	CHECK_INT(a.eventfd_count, 1000000);
	CHECK(!a.eventfd_semaphore);
}

static void anon_signalfd(void)
{
	struct proc_fdinfo_anon a;
	struct err e = { 0 };

	CHECK_INT(proc_parse_fdinfo_anon(fdinfo_signalfd, &a, &e), 0);
	CHECK(a.signalfd);
	CHECK_INT(a.sigmask, 0x800);	/* SIGUSR2 is signal 12: bit 11 */
}

static void anon_timerfd(void)
{
	struct proc_fdinfo_anon a;
	struct err e = { 0 };

	CHECK_INT(proc_parse_fdinfo_anon(fdinfo_timerfd, &a, &e), 0);
	CHECK(a.timerfd);
	CHECK_INT(a.clockid, 1);
	CHECK_INT(a.ticks, 0);
	CHECK_INT(a.value_sec, 2);
	CHECK_INT(a.value_nsec, 990150449);
	CHECK_INT(a.interval_sec, 1);
	CHECK_INT(a.interval_nsec, 500000000);
}

static void anon_epoll(void)
{
	struct proc_fdinfo_anon a;
	struct err e = { 0 };

	/* Recorded from an epoll watching a pipe (EPOLLIN, data 7) and an eventfd
	 * (EPOLLIN|EPOLLET|EPOLLONESHOT, data 0x1122334455667788). */
	CHECK_INT(proc_parse_fdinfo_anon("pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t1038\n"
					 "tfd:        3 events:       19 data:                7  pos:0 ino:debb2 sdev:f\n"
					 "tfd:        5 events: c0000019 data: 1122334455667788  pos:0 ino:40e sdev:10\n", &a, &e), 0);
	CHECK(a.epoll && !a.eventfd);
	CHECK_INT(a.nr_tfd, 2);
	CHECK_INT(a.tfd[0].tfd, 3);
	CHECK_INT(a.tfd[0].events, 0x19);
	CHECK_INT(a.tfd[0].data, 7);
	CHECK_INT(a.tfd[1].tfd, 5);
	CHECK_INT(a.tfd[1].events, 0xc0000019u);
	CHECK(a.tfd[1].data == 0x1122334455667788ULL);
	proc_fdinfo_anon_free(&a);
	CHECK(proc_parse_fdinfo_anon("tfd: x events: 1 data: 2\n", &a, &e) < 0);
}

static void fdinfo_locks(void)
{
	struct proc_fdinfo fi;
	struct err e = { 0 };

	/* Recorded: flock(LOCK_EX); F_SETLK write 10..29; F_OFD_SETLK read, whole file. */
	CHECK_INT(proc_parse_fdinfo("pos:\t0\nflags:\t02\nmnt_id:\t25\nino:\t1\n"
				    "lock:\t1: FLOCK  ADVISORY  WRITE 16195 fe:00:10952893 0 EOF\n"
				    "lock:\t2: POSIX  ADVISORY  WRITE 16195 fe:00:10952907 10 29\n"
				    "lock:\t3: OFDLCK ADVISORY  READ -1 fe:00:10952844 0 EOF\n", &fi, &e), 0);
	CHECK_INT(fi.nr_locks, 3);
	CHECK_INT(fi.locks[0].kind, PROC_LOCK_FLOCK);
	CHECK(fi.locks[0].write);
	CHECK_INT(fi.locks[0].len, 0);
	CHECK_INT(fi.locks[1].kind, PROC_LOCK_POSIX);
	CHECK_INT(fi.locks[1].start, 10);
	CHECK_INT(fi.locks[1].len, 20);
	CHECK_INT(fi.locks[2].kind, PROC_LOCK_OFD);
	CHECK(!fi.locks[2].write);
	CHECK(proc_parse_fdinfo("pos:\t0\nflags:\t02\nlock:\tgarbage\n", &fi, &e) < 0);
}

static void anon_malformed(void)
{
	struct proc_fdinfo_anon a;
	struct err e = { 0 };

	CHECK(proc_parse_fdinfo_anon("pos:\t0\nflags:\t02\n", &a, &e) < 0);
	CHECK(proc_parse_fdinfo_anon("clockid: 1\nit_value: 2, 3\n", &a, &e) < 0);
	CHECK(proc_parse_fdinfo_anon("eventfd-count: 1\nsigmask: 1\n", &a, &e) < 0);
	CHECK(proc_parse_fdinfo_anon("", &a, &e) < 0);
}

/* Recorded on Linux 6.18: an inotify watching /etc/hostname (IN_MODIFY |
 * IN_ONESHOT, wd 2) and /tmp (IN_CREATE | IN_DELETE, wd 1). */
static const char fdinfo_inotify[] =
	"pos:\t0\nflags:\t04000\nmnt_id:\t17\nino:\t1038\n"
	"inotify wd:2 ino:2dd sdev:fe00000 mask:80000002 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:dd02000000000000\n"
	"inotify wd:1 ino:3c51a sdev:fe00000 mask:300 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:1ac5030000000000\n";

static void inotify_watches(void)
{
	struct proc_inotify_watch *w;
	struct err e = { 0 };
	int nr;

	CHECK_INT(proc_parse_fdinfo_inotify(fdinfo_inotify, &w, &nr, &e), 0);
	CHECK_INT(nr, 2);
	CHECK_INT(w[0].wd, 2);
	CHECK_INT(w[0].ino, 0x2dd);
	CHECK_INT(w[0].sdev, 0xfe00000);
	CHECK_INT(w[0].mask, 0x80000002);
	CHECK_INT(w[0].handle_bytes, 8);
	CHECK_INT(w[0].handle_type, 1);
	CHECK_INT(w[0].handle[0], 0xdd);
	CHECK_INT(w[0].handle[1], 0x02);
	CHECK_INT(w[0].handle[7], 0);
	CHECK_INT(w[1].wd, 1);
	CHECK_INT(w[1].ino, 0x3c51a);
	CHECK_INT(w[1].mask, 0x300);
	CHECK_INT(w[1].handle[2], 0x03);
	free(w);
	/* An instance watching nothing has no lines, which is fine. */
	CHECK_INT(proc_parse_fdinfo_inotify("pos:\t0\nflags:\t04000\n", &w, &nr, &e), 0);
	CHECK_INT(nr, 0);
	CHECK(proc_parse_fdinfo_inotify("inotify wd:1 ino:2 sdev:3\n", &w, &nr, &e) < 0);
	CHECK(proc_parse_fdinfo_inotify("inotify wd:1 ino:2 sdev:3 mask:1 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:dd02\n",
					&w, &nr, &e) < 0);
	CHECK(proc_parse_fdinfo_inotify("inotify wd:1 ino:2 sdev:3 mask:1 ignored_mask:0 fhandle-bytes:99 fhandle-type:1 f_handle:00\n",
					&w, &nr, &e) < 0);
}

static const struct unit_case cases[] = {
	UNIT_CASE(inotify_watches),
	UNIT_CASE(anon_eventfd),
	UNIT_CASE(anon_eventfd_hex_count),
	UNIT_CASE(anon_signalfd),
	UNIT_CASE(anon_timerfd),
	UNIT_CASE(anon_epoll),
	UNIT_CASE(fdinfo_locks),
	UNIT_CASE(anon_malformed),
};
UNIT_MAIN(cases)
