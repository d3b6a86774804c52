/* amber-page-server: receive the pages of dumps over TCP.
 *
 * What it does
 *	Listens on TCP ADDRESS:PORT and serves the clients that
 *	'amber dump/pre-dump --page-server ADDRESS:PORT' runs (dump-memory),
 *	one after another: each session sends the pages files (pages-PID.img)
 *	of one dump, which are written into DIR/NAME/, NAME being the name of
 *	the client's dump directory, so the iterations of a pre-dump chain
 *	land in directories of their own. A file is written under .tmp.NAME,
 *	and renamed into place complete (header finished, fsynced); a session
 *	that fails (the client died, another protocol version, a message out
 *	of order or over the size limit) removes every file it had brought and
 *	tells the client why. Protocol: ipc/pageserver.h, doc/protocol.md.
 * Inputs	no stdin. Connections on the listening socket.
 * Options	--port N: the TCP port (0: the kernel picks one; the port is
 *	printed on stdout, "port N", once listening).
 *	--address A: the address to listen on (IPv4 or IPv6; default
 *	0.0.0.0).
 *	--sessions N: exit after N sessions (default 1; 0 serves until
 *	SIGTERM or SIGINT).
 * Outputs	DIR/NAME/pages-PID.img per session; stdout: "port N"; the log
 *	says what each session brought.
 * Exit status	0 when every session succeeded; lib/exitcodes.h otherwise (5
 *	when a client broke the protocol, 4 for a system failure).
 * Side effects	creates DIR/NAME/ (0700) and files in it; listens on a TCP
 *	port until it exits. The images hold the dumped memory: listen on an
 *	address only trusted peers reach.
 * Capabilities	none (CAP_NET_BIND_SERVICE for a port below 1024).
 * By hand	amber page-server --port 0 --address 127.0.0.1 -D /srv/images &
 *	amber dump -t PID -D /tmp/d1 --page-server 127.0.0.1:PORT
 *	then copy /srv/images/d1/pages-*.img into /tmp/d1 and restore it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ipc/stage.h"
#include "lib/exitcodes.h"
#include "lib/log.h"
#include "ipc/pageserver.h"

struct psrv_opts {
	int port;
	const char *address;
	int sessions;
};

static int psrv_parse_option(void *opts, int opt, const char *arg, struct err *e)
{
	struct psrv_opts *o = opts;

	if (opt == 'p')
		return stage_parse_int("--port", arg, 0, 65535, &o->port, e);
	if (opt == 'a') {
		o->address = arg;
		return 0;
	}
	if (opt == 'n')
		return stage_parse_int("--sessions", arg, 0, 1 << 20, &o->sessions, e);
	return err_set(e, EXIT_USAGE, "unknown option");
}

static const struct option psrv_options[] = {
	{ "port", required_argument, NULL, 'p' },
	{ "address", required_argument, NULL, 'a' },
	{ "sessions", required_argument, NULL, 'n' },
	{ NULL, 0, NULL, 0 },
};

/* Binds and listens; prints the port. */
static int psrv_listen(const struct psrv_opts *o, int *out, struct err *e)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char arg[160];
	int fd, one = 1, ret;

	snprintf(arg, sizeof(arg), strchr(o->address, ':') ? "[%s]:1" : "%s:1", o->address);
	if ((ret = ps_parse_addr(arg, &ss, &len, e)) < 0)
		return ret;
	((struct sockaddr_in *)&ss)->sin_port = htons(o->port);	/* same offset in sockaddr_in6 */
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_errno(e, "make the listening socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4) < 0) {
		ret = err_errno(e, "listen on %s port %d", o->address, o->port);
		close(fd);
		return ret;
	}
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	printf("port %u\n", ntohs(((struct sockaddr_in *)&ss)->sin_port));
	fflush(stdout);
	pr_info("listening on %s port %u", o->address, ntohs(((struct sockaddr_in *)&ss)->sin_port));
	*out = fd;
	return 0;
}

static int psrv_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	struct psrv_opts *o = opts;
	int lfd = -1, ret, failed = 0;

	if (o->port < 0)
		return err_set(e, EXIT_USAGE, "--port N is required (0: any free port)");
	signal(SIGPIPE, SIG_IGN);
	if ((ret = psrv_listen(o, &lfd, e)) < 0)
		return ret;
	for (int n = 0; !o->sessions || n < o->sessions; n++) {
		struct ps_session s;
		struct err se = { 0 };
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0 && errno == EINTR) {
			n--;
			continue;
		}
		if (c < 0) {
			ret = err_errno(e, "accept a client");
			break;
		}
		if (ps_serve(c, ctx->dir_fd, &s, &se) < 0) {
			pr_err("session %d%s%s failed: %s", n + 1, s.dir[0] ? " of '" : "", s.dir[0] ? s.dir : "", se.msg);
			if (!failed++)
				*e = se;
		} else {
			pr_info("session %d: %u files, %llu pages of dump %016llx into '%s/%s'", n + 1, s.files,
				(unsigned long long)s.pages, (unsigned long long)s.dump_id, ctx->images_dir, s.dir);
		}
		close(c);
	}
	close(lfd);
	if (ret < 0)
		return ret;
	return failed ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const struct stage_desc desc = {
		.name = "page-server",
		.summary = "receive the pages files of dumps over TCP into DIR/NAME/",
		.usage = "      --port N        TCP port (0: any; printed as 'port N')\n"
			 "      --address A     address to listen on (default 0.0.0.0)\n"
			 "      --sessions N    exit after N sessions (default 1; 0: until SIGTERM)",
		.caps = { CAP_NET_BIND_SERVICE },
		.nr_caps = 1,
		.options = psrv_options,
		.parse_option = psrv_parse_option,
		.run = psrv_run,
	};
	struct psrv_opts opts = { .port = -1, .address = "0.0.0.0", .sessions = 1 };

	return stage_main(&desc, &opts, argc, argv);
}
