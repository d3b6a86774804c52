/* test_pty: lib/pty.c, putting bytes back into a pty pair's queues, on a
 * real pair (/dev/ptmx): the bytes must arrive unchanged whatever the
 * slave's termios (input and output processing, echo, signals), and the
 * termios must be as they were afterwards. */
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "lib/pty.h"
#include "tests/unit/unit.h"

/* A new pair, the slave in termios *t (raw, or cooked with ICANON off). */
static int pty_test_pair(int *m, int *s, bool cooked, struct termios *t)
{
	*m = posix_openpt(O_RDWR | O_NOCTTY);
	if (*m < 0 || grantpt(*m) < 0 || unlockpt(*m) < 0)
		return -1;
	*s = open(ptsname(*m), O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (*s < 0 || tcgetattr(*s, t) < 0)
		return -1;
	if (cooked)
		t->c_lflag &= ~ICANON;	/* ECHO, ISIG, ICRNL, OPOST|ONLCR stay */
	else
		cfmakeraw(t);
	return tcsetattr(*s, TCSANOW, t);
}

static ssize_t pty_test_read(int fd, char *buf, size_t n)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	poll(&p, 1, 1000);
	return read(fd, buf, n);
}

static void pty_index(void)
{
	CHECK_INT(pty_index_of(makedev(136, 0)), 0);
	CHECK_INT(pty_index_of(makedev(136, 255)), 255);
	CHECK_INT(pty_index_of(makedev(137, 1)), 257);
}

/* Input with \r, ^C and ^S through a slave that would translate, echo
 * and signal them: read back as written, nothing echoed. */
static void pty_input_unchanged(void)
{
	static const char data[] = "a\rb\003c\023\n";
	struct termios t, after;
	struct err e = { 0 };
	char buf[64];
	int m, s, fl;

	REQUIRE(pty_test_pair(&m, &s, true, &t) == 0);
	fl = fcntl(m, F_GETFL);
	fcntl(m, F_SETFL, fl | O_NONBLOCK);
	CHECK_INT(pty_put_input(m, s, &t, data, sizeof(data) - 1, &e), 0);
	CHECK_INT(pty_test_read(s, buf, sizeof(buf)), (int)sizeof(data) - 1);
	CHECK(!memcmp(buf, data, sizeof(data) - 1));
	CHECK_INT(read(m, buf, sizeof(buf)), -1);	/* no echo */
	REQUIRE(tcgetattr(s, &after) == 0);
	CHECK_INT(after.c_iflag, t.c_iflag);
	CHECK_INT(after.c_lflag, t.c_lflag);
	close(s);
	close(m);
}

/* Output with \n through ONLCR: the master reads it as it was queued. */
static void pty_output_unchanged(void)
{
	static const char data[] = "x\r\ny\n";
	struct termios t, after;
	struct err e = { 0 };
	char buf[64];
	int m, s;

	REQUIRE(pty_test_pair(&m, &s, true, &t) == 0);
	CHECK_INT(pty_put_output(m, s, &t, data, sizeof(data) - 1, &e), 0);
	CHECK_INT(pty_test_read(m, buf, sizeof(buf)), (int)sizeof(data) - 1);
	CHECK(!memcmp(buf, data, sizeof(data) - 1));
	REQUIRE(tcgetattr(s, &after) == 0);
	CHECK_INT(after.c_oflag, t.c_oflag);
	close(s);
	close(m);
}

/* Nothing to put back: no termios change, no wait. */
static void pty_nothing(void)
{
	struct termios t;
	struct err e = { 0 };
	int m, s;

	REQUIRE(pty_test_pair(&m, &s, false, &t) == 0);
	CHECK_INT(pty_put_input(m, s, &t, "", 0, &e), 0);
	CHECK_INT(pty_put_output(m, s, &t, "", 0, &e), 0);
	close(s);
	close(m);
}

/* Two end-of-file marks and an unfinished line holding the byte of
 * VERASE (as ^V would have put it there) and a NUL, put back into a
 * cooked slave: the marks read as two reads of 0 bytes, the line is not
 * readable until its end is typed, then reads as it was; nothing echoed,
 * the termios as before. */
static void pty_line_kept(void)
{
	static const char line[] = "ab\177c\0d";
	struct termios t, after;
	struct err e = { 0 };
	char buf[64];
	int m, s;

	m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
	REQUIRE(m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0);
	s = open(ptsname(m), O_RDWR | O_NOCTTY | O_NONBLOCK);
	REQUIRE(s >= 0 && tcgetattr(s, &t) == 0);
	CHECK(t.c_lflag & ICANON);
	CHECK_INT(pty_put_line(m, s, &t, 2, line, sizeof(line) - 1, &e), 0);
	CHECK_INT(pty_test_read(s, buf, sizeof(buf)), 0);
	CHECK_INT(pty_test_read(s, buf, sizeof(buf)), 0);
	CHECK_INT(read(s, buf, sizeof(buf)), -1);	/* the line is not finished */
	CHECK_INT(read(m, buf, sizeof(buf)), -1);	/* no echo */
	REQUIRE(tcgetattr(s, &after) == 0);
	CHECK(!memcmp(after.c_cc, t.c_cc, sizeof(t.c_cc)));
	CHECK_INT(after.c_iflag, t.c_iflag);
	CHECK_INT(after.c_lflag, t.c_lflag);
	REQUIRE(write(m, "\n", 1) == 1);
	CHECK_INT(pty_test_read(s, buf, sizeof(buf)), (int)sizeof(line));
	CHECK(!memcmp(buf, line, sizeof(line) - 1) && buf[sizeof(line) - 1] == '\n');
	close(s);
	close(m);
}

static const struct unit_case cases[] = {
	UNIT_CASE(pty_line_kept),
	UNIT_CASE(pty_index),
	UNIT_CASE(pty_input_unchanged),
	UNIT_CASE(pty_output_unchanged),
	UNIT_CASE(pty_nothing),
};
UNIT_MAIN(cases)
