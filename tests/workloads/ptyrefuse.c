/* ptyrefuse: a pty pair whose dump is refused, which must find its queues
 * as they were after the refusal (the dump reads a queue to learn it).
 *
 *	ptyrefuse READYFILE RESULTFILE line|big
 *
 * line: the slave is in canonical mode with "unfinished" typed and no
 *	 line end: after SIGUSR1 the slave must still have no line to read
 *	 (the dump must not have ended it), and once "\n" follows, the line
 *	 "unfinished\n" is read whole.
 * big:	 the slave is raw with 6000 bytes (more than the line discipline's
 *	 4095) written to the master: after SIGUSR1 the slave reads all 6000,
 *	 in order.
 * PASS or FAIL goes to RESULTFILE. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "workload.h"

#define BIG 6000

int main(int argc, char **argv)
{
	static char report[4096];
	static unsigned char data[BIG], got[BIG + 16];
	struct wl_report r = { report, sizeof(report), 0 };
	struct termios t;
	size_t have = 0;
	int zero = 0, m, s;
	bool big;

	if (argc != 4 || (strcmp(argv[3], "line") && strcmp(argv[3], "big")))
		return fprintf(stderr, "usage: ptyrefuse READYFILE RESULTFILE line|big\n"), 2;
	big = !strcmp(argv[3], "big");
	wl_catch_usr1();
	m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (wl_must(m >= 0 && ioctl(m, TIOCSPTLCK, &zero) == 0, "make a pty") ||
	    wl_must((s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK)) >= 0, "open its slave") ||
	    wl_must(tcgetattr(s, &t) == 0, "tcgetattr"))
		return 1;
	if (big) {
		cfmakeraw(&t);
		for (int i = 0; i < BIG; i++)
			data[i] = 'a' + (i * 7 + i / 26) % 26;
	} else
		t.c_lflag &= ~ECHO;
	if (wl_must(tcsetattr(s, TCSANOW, &t) == 0, "set the slave's termios"))
		return 1;
	if (big) {
		size_t off = 0;

		while (off < BIG) {
			ssize_t w = write(m, data + off, BIG - off);

			if (w < 0 && errno == EAGAIN) {
				wl_sleep_ms(10);
				continue;
			}
			if (wl_must(w > 0, "write to the master"))
				return 1;
			off += w;
		}
	} else if (wl_must(write(m, "unfinished", 10) == 10, "type an unfinished line"))
		return 1;
	wl_sleep_ms(50);
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	if (big) {
		for (int tries = 0; tries < 200 && have < sizeof(got); tries++) {
			ssize_t n;

			poll(&(struct pollfd){ .fd = s, .events = POLLIN }, 1, have < BIG ? 20 : 0);
			n = read(s, got + have, sizeof(got) - have);
			if (n > 0)
				have += n;
			else if (have >= BIG)
				break;
		}
		if (have != BIG || memcmp(got, data, BIG)) {
			size_t k = 0;

			while (k < have && k < BIG && got[k] == data[k])
				k++;
			wl_fail(&r, "read %zu bytes back of %d, the first difference at %zu", have, BIG, k);
		}
	} else {
		ssize_t n = read(s, got, sizeof(got));

		if (n >= 0)
			wl_fail(&r, "the slave gave a line '%.*s' before its end was typed", (int)n, got);
		if (write(m, "\n", 1) != 1)
			wl_fail(&r, "type the line's end: %s", strerror(errno));
		poll(&(struct pollfd){ .fd = s, .events = POLLIN }, 1, 2000);
		n = read(s, got, sizeof(got));
		if (n != 11 || memcmp(got, "unfinished\n", 11))
			wl_fail(&r, "the line read is '%.*s' (%zd bytes), want 'unfinished\\n'", n > 0 ? (int)n : 0, got, n);
	}
	wl_write_result(argv[2], &r);
	return 0;
}
