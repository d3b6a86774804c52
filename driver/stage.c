/* stage: 'amber stage NAME [--replay RUN] [ARGS]' runs one stage by hand.
 *
 * Without --replay it is the stage binary with the user's stdin and stdout.
 * With --replay RUN it feeds the stage the exact input the driver recorded
 * in RUN/NN-NAME.in, and supplies the live objects the stage had (the
 * --fd NAME=N of its recorded command) as the pipeline tables say
 * (driver/pipeline.h, pl_replay): restore-tasks gets a files socket fed by
 * rerunning restore-files on its own recorded input (with the --inherit-fd
 * options it was run with, whose fds the caller opens again), and
 * restore-files gets a files socket whose files a child of this command
 * takes and closes. AMBER_WRAP (e.g. "strace -f" or "gdb --args") is put in
 * front of the stage binary. --help, --list and --table print the
 * pipelines from the same tables.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver/driver.h"
#include "driver/pipeline.h"
#include "driver/run.h"
#include "lib/exitcodes.h"
#include "ipc/fds.h"
#include "lib/cleanup.h"

/* Takes the files restore-files sends on sock and closes them, until the
 * stage closes its end: a replayed restore-files has no restore-tasks. */
static void __attribute__((noreturn)) stage_drain_files(int sock)
{
	char data[4096], cbuf[CMSG_SPACE(sizeof(int) * 253)];

	for (;;) {
		struct iovec iov = { data, sizeof(data) };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);

		if (n <= 0)
			_exit(0);
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
				for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
					close(((int *)CMSG_DATA(c))[i]);
	}
}

/* The words of a command line the driver recorded (RUN/NN-NAME.cmd, each
 * word in single quotes, a quote inside as '\''): the next one from *p,
 * malloc'd, or NULL at the end. */
static char *stage_next_word(const char **p)
{
	const char *s = *p;
	char *w, *o;

	while (*s && *s != '\'')
		s++;
	if (!*s || !(w = o = malloc(strlen(s) + 1)))
		return NULL;
	for (s++; *s; s++) {
		if (*s != '\'') {
			*o++ = *s;
		} else if (!strncmp(s, "'\\''", 4)) {
			*o++ = '\'';
			s += 3;
		} else {
			s++;
			break;
		}
	}
	*o = 0;
	*p = s;
	return w;
}

/* The words of the command the driver recorded beside input fin
 * (RUN/NN-NAME.in -> RUN/NN-NAME.cmd), without the binary: up to max,
 * malloc'd; returns how many (0 when there is no recording). */
static int stage_recorded_words(const char *fin, char **words, int max)
{
	char cmd[PATH_MAX + 64], text[65536];
	size_t len = strlen(fin);
	ssize_t got;
	const char *p = text;
	char *w;
	int fd, n = 0;

	if (len < 3 || len + 2 > sizeof(cmd))
		return 0;
	snprintf(cmd, sizeof(cmd), "%.*s.cmd", (int)(len - 3), fin);
	if ((fd = open(cmd, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	got = read(fd, text, sizeof(text) - 1);
	close(fd);
	text[got > 0 ? got : 0] = 0;
	free(stage_next_word(&p));	/* the binary */
	while (n < max && (w = stage_next_word(&p)))
		words[n++] = w;
	return n;
}

/* Finds RUN/NN-NAME.in; returns 0 and fills path, or -1. */
static int stage_find_input(const char *run, const char *name, char *path, size_t size)
{
	_cleanup_closedir_ DIR *d = opendir(run);
	struct dirent *de;
	size_t nl = strlen(name);

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (l == nl + 6 && de->d_name[2] == '-' && !strncmp(de->d_name + 3, name, nl) && !strcmp(de->d_name + 3 + nl, ".in")) {
			snprintf(path, size, "%s/%s", run, de->d_name);
			return 0;
		}
	}
	return -1;
}

/* Runs the producer 'peer' on its own recording, with the channel's other
 * end at 'target', and waits for it: it sends everything it has before it
 * exits. Its recorded options come along, --inherit-fd ones included, so
 * the caller opens those fds again (rerun-PEER.sh says which). */
static int stage_run_producer(struct run *r, const char *replay, const char *peer, const char *chan, int end, int target)
{
	char fin[PATH_MAX + 64], fbin[PATH_MAX], fdarg[64];
	char *words[RUN_MAX_ARGS], *fa[RUN_MAX_ARGS + 4];
	int nw, n = 0, status;
	pid_t pid;

	if (stage_find_input(replay, peer, fin, sizeof(fin)) < 0 || run_stage_path(r, peer, fbin, sizeof(fbin)) < 0) {
		drv_error("a replay of this stage needs %s's recording in '%s' (for its %s fd)", peer, replay, chan);
		return EXIT_USAGE;
	}
	nw = stage_recorded_words(fin, words, RUN_MAX_ARGS);
	pid = fork();
	if (pid < 0)
		return EXIT_SYSTEM;
	if (pid == 0) {
		int fi = open(fin, O_RDONLY), null = open("/dev/null", O_WRONLY);

		dup2(fi, 0);
		dup2(null, 1);
		dup2(end, target);
		snprintf(fdarg, sizeof(fdarg), "%s=%d", chan, target);
		fa[n++] = fbin;
		/* Its recorded words, minus the fds: only the one channel is here. */
		for (int i = 0; i < nw; i++) {
			if (!strcmp(words[i], "--fd") && i + 1 < nw) {
				i++;
				continue;
			}
			if (strcmp(words[i], "--progress"))
				fa[n++] = words[i];
		}
		fa[n++] = "--fd";
		fa[n++] = fdarg;
		fa[n] = NULL;
		execv(fbin, fa);
		_exit(EXIT_SYSTEM);
	}
	close(end);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		drv_error("%s, rerun to feed the %s fd, failed (see its rerun-%s.sh)", peer, chan, peer);
	return 0;
}

/* Stands in for the peers of a replayed stage: for each --fd NAME=N its
 * recorded command had, the pipeline table says what to give it. */
static int stage_replay_fds(struct run *r, const char *replay, const char *name, const char *in, char **rest, int *nrest)
{
	char *words[RUN_MAX_ARGS];
	int nw = stage_recorded_words(in, words, RUN_MAX_ARGS), ret = 0;

	for (int i = 0; ret == 0 && i + 1 < nw; i++) {
		char chan[32], fdarg[64];
		const char *peer = NULL;
		int target = 0, sock[2];
		enum pl_replay how;

		if (strcmp(words[i], "--fd") || sscanf(words[i + 1], "%31[^=]=%d", chan, &target) != 2)
			continue;
		how = pl_replay_of(name, chan, &peer, &target);
		if (how == PL_REPLAY_NONE)
			continue;
		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sock) < 0)
			return EXIT_SYSTEM;
		if (how == PL_REPLAY_DRAIN && fork() == 0) {
			close(sock[0]);
			stage_drain_files(sock[1]);
		}
		if (how == PL_REPLAY_DRAIN)
			close(sock[1]);
		else
			ret = stage_run_producer(r, replay, peer, chan, sock[1], target);
		dup2(sock[0], target);
		close(sock[0]);
		snprintf(fdarg, sizeof(fdarg), "%s=%d", chan, target);
		rest[(*nrest)++] = "--fd";
		rest[(*nrest)++] = strdup(fdarg);
	}
	return ret;
}

/* Replaces this process with the stage (or the wrapper around it). */
static int stage_exec(const char *bin, int argc, char **argv)
{
	const char *wrap = getenv("AMBER_WRAP");
	char *args[128];
	int n = 0;

	if (wrap && *wrap) {
		char *w = strdup(wrap);

		for (char *tok = strtok(w, " "); tok && n < 32; tok = strtok(NULL, " "))
			args[n++] = tok;
	}
	args[n++] = (char *)bin;
	for (int i = 0; i < argc && n < 127; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	execvp(args[0], args);
	drv_error("exec '%s': %s", args[0], strerror(errno));
	return EXIT_SYSTEM;
}

/* 'amber page-server' is one stage on its own: no stream, no run directory;
 * its table is for the docs, 'amber stage --help' and --list. */
static const struct pl_row page_server_rows[] = {
	{ .stage = "page-server", .does = "receive the pages files of dumps made with --page-server A:N into DIR/NAME/",
	  .reads = "TCP connections (ipc/pageserver.h)", .writes = "DIR/NAME/pages-*.img", .wait = PL_EXIT },
};

const struct pipeline pl_page_server = {
	.command = "page-server",
	.shape = "page-server (alone; the driver execs it with the command's options)",
	.rows = page_server_rows, .nr_rows = 1,
};

int cmd_page_server(int argc, char **argv)
{
	struct run r;
	struct err e = { 0 };
	char bin[PATH_MAX];

	memset(&r, 0, sizeof(r));
	if (run_locate(&r, &e) < 0 || run_stage_path(&r, "page-server", bin, sizeof(bin)) < 0) {
		drv_error("no amber-page-server in %s", r.libexec);
		return EXIT_SYSTEM;
	}
	/* It is a stage with no pipeline around it: its options are the command's. */
	return stage_exec(bin, argc - 1, argv + 1);
}

int cmd_stage(int argc, char **argv)
{
	struct run r;
	struct err e = { 0 };
	char bin[PATH_MAX], in[PATH_MAX + 64];
	const char *name, *replay = NULL;
	char *rest[128];
	int nrest = 0, ret;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		pl_print_help(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "--table")) {
		pl_print_table(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--list")) {
		pl_print_list(stdout);
		return 0;
	}
	name = argv[1];
	memset(&r, 0, sizeof(r));
	if (run_locate(&r, &e) < 0 || run_stage_path(&r, name, bin, sizeof(bin)) < 0) {
		drv_error("no stage '%s' in %s (amber stage --help lists them)", name, r.libexec);
		return EXIT_USAGE;
	}
	for (int i = 2; i < argc && nrest < 120; i++) {
		if (!strcmp(argv[i], "--replay") && i + 1 < argc)
			replay = argv[++i];
		else
			rest[nrest++] = argv[i];
	}
	if (!replay)
		return stage_exec(bin, nrest, rest);

	if (stage_find_input(replay, name, in, sizeof(in)) < 0) {
		drv_error("no recorded input for '%s' in '%s'", name, replay);
		return EXIT_USAGE;
	}
	int in_fd = open(in, O_RDONLY);
	if (in_fd < 0 || dup2(in_fd, 0) < 0) {
		drv_error("open '%s': %s", in, strerror(errno));
		return EXIT_SYSTEM;
	}
	if ((ret = stage_replay_fds(&r, replay, name, in, rest, &nrest)) != 0)
		return ret;
	return stage_exec(bin, nrest, rest);
}
