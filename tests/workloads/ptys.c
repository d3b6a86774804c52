/* ptys: a self-checking workload for pseudo-terminal pairs held inside
 * the tree.
 *
 *	ptys READYFILE RESULTFILE
 *
 * Holds:
 *	A, a pair with both ends: raw termios with some special characters
 *	   and output processing (OPOST|ONLCR) on, a 33x101 window with
 *	   pixels, packet mode on the master, the slave exclusive; the slave
 *	   is open twice (the second description non-blocking); "to-slave\003\r"
 *	   waits at the slave, "to-master\n" (sent as "to-master\r\n") at the
 *	   master;
 *	B, a master whose slave wrote "bye\n" and was closed;
 *	C, a master never unlocked;
 *	D, a pair whose slave is the controlling terminal of a child in a
 *	   session of its own, whose own child (the grandchild) is in another
 *	   process group, the terminal's foreground group.
 * After SIGUSR1 it checks every one of these details, that the slave is
 * the master's (ptsname equals ttyname), and that the pair still carries
 * bytes both ways; the child checks its session, terminal (tty_nr of
 * /proc/self/stat) and foreground group, and that the ^C written to D's
 * master reaches the grandchild as SIGINT. PASS or FAIL goes to
 * RESULTFILE. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "workload.h"

/* Reads what fd has (waiting up to 2 s for the first byte) and compares. */
static void expect(struct wl_report *r, const char *what, int fd, const char *want, size_t n)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[256];
	ssize_t got;

	poll(&p, 1, 2000);
	got = read(fd, buf, sizeof(buf));
	if (got < 0 || (size_t)got != n || memcmp(buf, want, n))
		wl_fail(r, "%s: got %zd bytes '%.*s' (errno %d), want %zu", what, got, got > 0 ? (int)got : 0, buf,
			got < 0 ? errno : 0, n);
}

/* tty_nr of /proc/self/stat. */
static unsigned long my_tty_nr(void)
{
	char buf[1024], *p;
	unsigned long nr = 0;
	FILE *f = fopen("/proc/self/stat", "r");

	if (!f || !fgets(buf, sizeof(buf), f) || !(p = strrchr(buf, ')')) ||
	    sscanf(p + 1, " %*c %*d %*d %*d %lu", &nr) != 1)
		nr = ~0UL;
	if (f)
		fclose(f);
	return nr;
}

static void grandchild_main(void)
{
	signal(SIGINT, SIG_DFL);
	for (;;)
		pause();
}

/* The child: a session leader with slave s as its terminal, and a
 * grandchild in the terminal's foreground group; exits 0 if all holds
 * after SIGUSR1 and the grandchild died of SIGINT (the ^C main writes). */
static int child_main(const char *slave, int ready)
{
	struct stat st;
	pid_t gc;
	int s, status = 0, bad = 0;
	char c = 1;

	if (setsid() < 0 || (s = open(slave, O_RDWR)) < 0 || fstat(s, &st) < 0)
		return 10;
	gc = fork();
	if (gc == 0) {
		setpgid(0, 0);
		grandchild_main();
	}
	setpgid(gc, gc);
	if (tcsetpgrp(s, gc) < 0)
		return 11;
	wl_catch_usr1();
	if (write(ready, &c, 1) != 1)
		return 12;
	wl_wait_usr1();
	if (getsid(0) != getpid())
		bad |= 1;
	/* The index may differ from the dump's: the slave's device now. */
	if (fstat(s, &st) < 0 || my_tty_nr() != (unsigned long)st.st_rdev)
		bad |= 2;
	if (tcgetpgrp(s) != gc)
		bad |= 4;
	if (tcgetsid(s) != getpid())
		bad |= 8;
	if (write(ready, &c, 1) != 1)	/* main writes ^C now */
		bad |= 16;
	if (waitpid(gc, &status, 0) != gc || !WIFSIGNALED(status) || WTERMSIG(status) != SIGINT)
		bad |= 32;
	return bad;
}

static int open_pair(int *m, int *s, int sflags)
{
	*m = posix_openpt(O_RDWR | O_NOCTTY);
	if (*m < 0 || grantpt(*m) < 0 || unlockpt(*m) < 0)
		return -1;
	*s = open(ptsname(*m), O_RDWR | O_NOCTTY | sflags);
	return *s < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	struct termios t, want_t;
	struct winsize ws = { .ws_row = 33, .ws_col = 101, .ws_xpixel = 808, .ws_ypixel = 660 }, got_ws;
	int ma, sa, sa2, mb, sb, mc, md, sd, one = 1, v, sync[2], status = -1;
	char name[64];
	pid_t kid;

	if (argc < 3)
		return 2;
	wl_catch_usr1();
	if (open_pair(&ma, &sa, 0) < 0 || (sa2 = open(ptsname(ma), O_RDWR | O_NOCTTY | O_NONBLOCK)) < 0 ||
	    open_pair(&mb, &sb, 0) < 0 || (mc = posix_openpt(O_RDWR | O_NOCTTY)) < 0)
		return 1;
	tcgetattr(sa, &t);
	cfmakeraw(&t);
	t.c_oflag |= OPOST | ONLCR;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	t.c_cc[VINTR] = 7;
	t.c_cc[VSTART] = 0x11;
	cfsetospeed(&t, B9600);
	cfsetispeed(&t, B9600);
	if (tcsetattr(sa, TCSANOW, &t) < 0 || ioctl(ma, TIOCSWINSZ, &ws) < 0 || ioctl(ma, TIOCPKT, &one) < 0 ||
	    ioctl(sa, TIOCEXCL) < 0)
		return 1;
	tcgetattr(sa, &want_t);
	if (write(ma, "to-slave\003\r", 10) != 10 || write(sa, "to-master\n", 10) != 10 || write(sb, "bye\n", 4) != 4)
		return 1;
	close(sb);
	/* D: the child's terminal */
	if (open_pair(&md, &sd, 0) < 0 || pipe(sync) < 0)
		return 1;
	snprintf(name, sizeof(name), "%s", ptsname(md));
	close(sd);
	kid = fork();
	if (kid == 0) {
		close(sync[0]);
		_exit(child_main(name, sync[1]));
	}
	close(sync[1]);
	if (read(sync[0], &v, 1) != 1)
		return 1;
	wl_sleep_ms(50);
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	/* A: state */
	if (tcgetattr(sa, &t) < 0 || t.c_iflag != want_t.c_iflag || t.c_oflag != want_t.c_oflag ||
	    t.c_cflag != want_t.c_cflag || t.c_lflag != want_t.c_lflag || memcmp(t.c_cc, want_t.c_cc, NCCS) ||
	    cfgetospeed(&t) != B9600)
		wl_fail(&r, "A: termios differ: iflag %#x/%#x oflag %#x/%#x cflag %#x/%#x lflag %#x/%#x", t.c_iflag,
			want_t.c_iflag, t.c_oflag, want_t.c_oflag, t.c_cflag, want_t.c_cflag, t.c_lflag, want_t.c_lflag);
	if (ioctl(sa2, TIOCGWINSZ, &got_ws) < 0 || memcmp(&got_ws, &ws, sizeof(ws)))
		wl_fail(&r, "A: window %ux%u, want 33x101", got_ws.ws_row, got_ws.ws_col);
	if (ioctl(ma, TIOCGPKT, &v) < 0 || v != 1)
		wl_fail(&r, "A: packet mode lost");
	if (ioctl(sa, TIOCGEXCL, &v) < 0 || v != 1)
		wl_fail(&r, "A: slave not exclusive");
	if (ioctl(ma, TIOCGEXCL, &v) < 0 || v != 0)
		wl_fail(&r, "A: master exclusive");
	if (ioctl(ma, TIOCGPTLCK, &v) < 0 || v != 0)
		wl_fail(&r, "A: locked");
	if (fcntl(sa, F_GETFL) & O_NONBLOCK || !(fcntl(sa2, F_GETFL) & O_NONBLOCK))
		wl_fail(&r, "A: slave descriptions' O_NONBLOCK differ from the dump's");
	if (ttyname_r(sa2, name, sizeof(name)) || strcmp(name, ptsname(ma)))
		wl_fail(&r, "A: the slave '%s' is not the master's '%s'", name, ptsname(ma));
	/* A: queues, then traffic */
	expect(&r, "A: input waiting at the slave", sa, "to-slave\003\r", 10);
	expect(&r, "A: output waiting at the master (packet mode)", ma, "\0to-master\r\n", 12);
	if (write(ma, "ping", 4) != 4)
		wl_fail(&r, "A: write to the master: %s", strerror(errno));
	expect(&r, "A: new input at the second slave description", sa2, "ping", 4);
	if (write(sa, "pong\n", 5) != 5)
		wl_fail(&r, "A: write to the slave: %s", strerror(errno));
	expect(&r, "A: new output at the master", ma, "\0pong\r\n", 7);
	/* B */
	expect(&r, "B: what the closed slave wrote", mb, "bye\r\n", 5);
	if (read(mb, name, 1) != -1 || errno != EIO)
		wl_fail(&r, "B: the master does not see its slave closed");
	/* D: the child checks, then the ^C */
	kill(kid, SIGUSR1);
	if (read(sync[0], &v, 1) != 1)
		wl_fail(&r, "D: the child did not get to its ^C");
	if (write(md, "\003", 1) != 1)
		wl_fail(&r, "D: write ^C: %s", strerror(errno));
	if (waitpid(kid, &status, 0) != kid || !WIFEXITED(status) || WEXITSTATUS(status))
		wl_fail(&r, "D: the child failed (status %#x: bits 1 session, 2 tty_nr, 4 foreground group, 8 the "
			"terminal's session, 32 no SIGINT for the foreground group)", status);
	/* C */
	if (ioctl(mc, TIOCGPTLCK, &v) < 0 || v != 1)
		wl_fail(&r, "C: the pty is not locked any more");
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
