/* delayed: amber-mountd started, told and stopped; 'amber mount-delayed'. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver/delayed.h"
#include "driver/driver.h"
#include "images/stream.pb-c.h"
#include "ipc/fds.h"
#include "lib/delayproto.h"
#include "lib/exitcodes.h"
#include "lib/log.h"

#define DELAYED_MAX_STUBS 64

/* The --stub lines of amber-mountd, from build-mntns' mntns records. */
struct delayed_stubs {
	char line[DELAYED_MAX_STUBS][8192];
	int nr;
	bool overflow;
};

static void delayed_take(const uint8_t *data, uint32_t len, void *arg)
{
	StreamRecord *rec = stream_record__unpack(NULL, len, data);
	struct delayed_stubs *ds = arg;
	struct err e = { 0 };

	for (size_t i = 0; rec && rec->mntns && i < rec->mntns->n_stubs; i++) {
		const DelayedMnt *d = rec->mntns->stubs[i];
		const char *f[5 + 16];
		char id[16], pid[16];
		size_t l = 0;
		int nf = 0;

		if (ds->nr == DELAYED_MAX_STUBS || d->n_binds > 16) {
			ds->overflow = true;
			break;
		}
		snprintf(id, sizeof(id), "%u", d->mnt_id);
		snprintf(pid, sizeof(pid), "%u", rec->mntns->n_pids ? rec->mntns->pids[0] : 0);
		f[nf++] = pid;
		f[nf++] = d->mountpoint;
		f[nf++] = d->fstype;
		f[nf++] = d->source;
		f[nf++] = d->options;
		for (size_t b = 0; b < d->n_binds; b++)
			f[nf++] = d->binds[b];
		if (dp_add(ds->line[ds->nr], sizeof(ds->line[0]), &l, id, f, nf, &e) < 0) {
			ds->overflow = true;
			break;
		}
		ds->line[ds->nr][l - 1] = 0;	/* the newline: one argument */
		ds->nr++;
	}
	if (rec)
		stream_record__free_unpacked(rec, NULL);
}

int delayed_start(struct pl_ctx *c, pid_t *pid, struct err *e)
{
	static struct delayed_stubs ds;
	int stubs = pl_chan_take(c, FD_NAME_STUBS), ready[2];
	char exe[PATH_MAX], log[PATH_MAX], v[16], buf[16];
	pid_t p;
	ssize_t n;

	*pid = 0;
	ds.nr = 0;
	run_find(c->r, STREAM_RECORD__BODY_MNTNS, delayed_take, &ds);
	if (!ds.nr || stubs < 0) {
		if (stubs >= 0)
			close(stubs);
		return 0;
	}
	if (ds.overflow) {
		close(stubs);
		return err_input(e, "more than %d delayed mounts, or one with more than 16 binds", DELAYED_MAX_STUBS);
	}
	if (run_stage_path(c->r, "mountd", exe, sizeof(exe)) < 0) {
		close(stubs);
		return err_errno(e, "find '%s'", exe);
	}
	snprintf(log, sizeof(log), "%s/mountd.log", c->r->dir);
	snprintf(v, sizeof(v), "%d", c->o->verbosity > 2 ? c->o->verbosity : 3);
	if (pipe2(ready, O_CLOEXEC) < 0 || (p = fork()) < 0) {
		close(stubs);
		return err_errno(e, "start amber-mountd");
	}
	if (p == 0) {
		const char *argv[8 + 2 * DELAYED_MAX_STUBS];
		char fd1[32], fd2[32];
		int a = 0, nul = open("/dev/null", O_RDWR), lf = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		/* A daemon of its own: the terminal's signals are not for it,
		 * nor is amber's stdout or stderr (a caller that reads them
		 * would wait for it): everything goes to its log. */
		setsid();
		if (nul < 0 || lf < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(lf, 2) < 0 || dup2(stubs, FD_DEF_STUBS) < 0 ||
		    dup2(ready[1], FD_DEF_READY) < 0)
			_exit(EXIT_SYSTEM);
		snprintf(fd1, sizeof(fd1), "stubs=%d", FD_DEF_STUBS);
		snprintf(fd2, sizeof(fd2), "ready=%d", FD_DEF_READY);
		argv[a++] = exe;
		argv[a++] = "--run-dir";
		argv[a++] = c->r->dir;
		argv[a++] = "-v";
		argv[a++] = v;
		argv[a++] = "-o";
		argv[a++] = log;
		for (int i = 0; i < ds.nr; i++) {
			argv[a++] = "--stub";
			argv[a++] = ds.line[i];
		}
		argv[a] = NULL;
		{
			/* --fd after the others, as every stage takes them. */
			const char *full[sizeof(argv) / sizeof(argv[0]) + 4];
			int k = 0;

			full[k++] = argv[0];
			full[k++] = "--fd";
			full[k++] = fd1;
			full[k++] = "--fd";
			full[k++] = fd2;
			for (int i = 1; i <= a; i++)
				full[k++] = argv[i];
			execv(exe, (char *const *)full);
		}
		_exit(EXIT_SYSTEM);
	}
	close(stubs);
	close(ready[1]);
	n = read(ready[0], buf, sizeof(buf));
	close(ready[0]);
	if (n != 6 || memcmp(buf, "ready\n", 6)) {
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
		return err_set(e, EXIT_SYSTEM, "amber-mountd did not start (its log: '%s')", log);
	}
	*pid = p;
	pr_info("%d mounts are delayed: amber-mountd (pid %d) serves their stubs; 'amber mount-delayed -D %s "
		"--list' lists them", ds.nr, p, c->r->images);
	return 0;
}

/* Sends one request to amber-mountd of run_dir; its reply in reply. */
static ssize_t delayed_ask(const char *run_dir, const char *req, size_t len, char *reply, size_t size, struct err *e)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ssize_t n;

	dp_sock_path(a.sun_path, sizeof(a.sun_path), run_dir);
	if (s < 0)
		return err_errno(e, "make a socket");
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		n = errno == ENOENT || errno == ECONNREFUSED
			    ? err_set(e, EXIT_USAGE, "no amber-mountd listens on '%s': nothing of that restore is delayed "
				      "(any more)", a.sun_path)
			    : err_errno(e, "connect to '%s'", a.sun_path);
		close(s);
		return n;
	}
	if ((n = dp_send(s, req, len, -1, e)) == 0)
		n = dp_recv(s, reply, size, NULL, e);
	close(s);
	if (n == 0)
		n = err_proto(e, "amber-mountd ended without a reply");
	return n;
}

int delayed_run(const char *run_dir, pid_t root, struct err *e)
{
	char req[64], reply[256], pid[16];
	const char *f[] = { pid };
	size_t len = 0;
	ssize_t n;

	snprintf(pid, sizeof(pid), "%d", root);
	if (dp_add(req, sizeof(req), &len, "run", f, 1, e) < 0 ||
	    (n = delayed_ask(run_dir, req, len, reply, sizeof(reply), e)) < 0)
		return -1;
	if (strncmp(reply, "ok", 2))
		return err_set(e, EXIT_SYSTEM, "amber-mountd: %s", reply);
	return 0;
}

void delayed_stop(const char *run_dir, pid_t pid)
{
	char path[PATH_MAX];

	if (pid <= 0)
		return;
	/* amber-stubfs ends when its socket to amber-mountd closes. */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	dp_sock_path(path, sizeof(path), run_dir);
	unlink(path);
}

static void delayed_usage(FILE *f)
{
	fprintf(f, "usage: amber mount-delayed -D DIR [--run-dir RUN] --list\n"
		   "       amber mount-delayed -D DIR [--run-dir RUN] --mount MOUNTPOINT [--source S] [--type T] [--options O]\n"
		   "       amber mount-delayed -D DIR [--run-dir RUN] --stop\n"
		   "  --list       the delayed mounts of the restore of DIR, and whether each is real yet\n"
		   "  --mount MP   mount the real file system at MP in the tree's mount namespace (from the\n"
		   "               images, or --source, --type, --options) and move the tree onto it\n"
		   "  --stop       drop the stubs: calls waiting on them fail, nothing is left mounted\n");
}

int cmd_mount_delayed(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "images-dir", required_argument, NULL, 'D' }, { "run-dir", required_argument, NULL, 'R' },
		{ "list", no_argument, NULL, 'l' }, { "mount", required_argument, NULL, 'm' },
		{ "source", required_argument, NULL, 's' }, { "type", required_argument, NULL, 't' },
		{ "options", required_argument, NULL, 'O' }, { "stop", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *run = NULL, *mp = NULL, *src = "", *type = "", *opts = "";
	bool list = false, stop = false;
	char req[DP_MAX_MSG], reply[DP_MAX_MSG], rundir[PATH_MAX];
	struct err e = { 0 };
	size_t len = 0, pos = 0;
	struct dp_line l;
	ssize_t n;
	int c, ret = 0;

	while ((c = getopt_long(argc, argv, "D:h", longs, NULL)) != -1) {
		switch (c) {
		case 'D': dir = optarg; break;
		case 'R': run = optarg; break;
		case 'l': list = true; break;
		case 'm': mp = optarg; break;
		case 's': src = optarg; break;
		case 't': type = optarg; break;
		case 'O': opts = optarg; break;
		case 'S': stop = true; break;
		case 'h': delayed_usage(stdout); return 0;
		default: delayed_usage(stderr); return EXIT_USAGE;
		}
	}
	if ((!dir && !run) || list + stop + !!mp != 1) {
		drv_error("need -D DIR (or --run-dir) and one of --list, --mount MOUNTPOINT, --stop");
		delayed_usage(stderr);
		return EXIT_USAGE;
	}
	if (!run) {
		snprintf(rundir, sizeof(rundir), "%s/restore.run", dir);
		run = rundir;
	}
	if (list)
		ret = dp_add(req, sizeof(req), &len, "list", NULL, 0, &e);
	else if (stop)
		ret = dp_add(req, sizeof(req), &len, "stop", NULL, 0, &e);
	else
		ret = dp_add(req, sizeof(req), &len, "mount", (const char *[]){ mp, src, type, opts }, 4, &e);
	if (ret < 0 || (n = delayed_ask(run, req, len, reply, sizeof(reply), &e)) < 0) {
		drv_error("%s", e.msg);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	while ((ret = dp_next(reply, n, &pos, &l, &e)) > 0) {
		if (!strcmp(l.verb, "mnt") && l.nr >= 5) {
			printf("%-8s %s %s from '%s' (%s)", l.f[0], l.f[1], l.f[2], l.f[3], l.f[4]);
			for (int i = 5; i < l.nr; i++)
				printf("%s%s", i == 5 ? ", binds: " : " ", l.f[i]);
			printf("\n");
		} else if (!strcmp(l.verb, "ok")) {
			if (l.nr && !list)
				printf("%s\n", l.f[0]);
			return 0;
		} else if (!strcmp(l.verb, "error") && l.nr == 2) {
			drv_error("%s", l.f[1]);
			return atoi(l.f[0]) ? atoi(l.f[0]) : EXIT_SYSTEM;
		}
	}
	drv_error("amber-mountd's reply is not one: %s", ret < 0 ? e.msg : reply);
	return EXIT_PROTOCOL;
}
