/* stage: 'amber stage NAME [--replay RUN] [ARGS]' runs one stage by hand.
 *
 * Without --replay it is the stage binary with the user's stdin and stdout.
 * With --replay RUN it feeds the stage the exact input the driver recorded
 * in RUN/NN-NAME.in, and supplies the live objects the stage needs the way
 * the driver did: restore-tasks gets a files socket fed by rerunning
 * restore-files on its own recorded input (with the --inherit-fd options
 * it was run with, whose fds the caller opens again), and restore-files gets a files
 * socket whose files a child of this command takes and closes. AMBER_WRAP (e.g. "strace -f" or
 * "gdb --args") is put in front of the stage binary.
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
#include "driver/run.h"
#include "ipc/exitcodes.h"
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

/* Appends to argv (up to max) the --inherit-fd options restore-files was
 * run with, from the command recorded beside its input fin (NN-NAME.in). */
static int stage_recorded_inherits(const char *fin, char **argv, int n, int max)
{
	char cmd[PATH_MAX + 64], text[65536];
	size_t len = strlen(fin);
	ssize_t got;
	const char *p = text;
	char *w, *prev = NULL;
	int fd;

	if (len < 3 || len + 2 > sizeof(cmd))
		return n;
	snprintf(cmd, sizeof(cmd), "%.*s.cmd", (int)(len - 3), fin);
	if ((fd = open(cmd, O_RDONLY | O_CLOEXEC)) < 0)
		return n;
	got = read(fd, text, sizeof(text) - 1);
	close(fd);
	text[got > 0 ? got : 0] = 0;
	while ((w = stage_next_word(&p))) {
		if (prev && !strcmp(prev, "--inherit-fd") && n + 2 <= max) {
			argv[n++] = "--inherit-fd";
			argv[n++] = w;
			w = NULL;
		}
		free(prev);
		prev = w;
	}
	free(prev);
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
	fprintf(stderr, "amber stage: exec '%s': %s\n", args[0], strerror(errno));
	return EXIT_SYSTEM;
}

int cmd_stage(int argc, char **argv)
{
	struct run r;
	struct err e = { 0 };
	char bin[PATH_MAX], in[PATH_MAX + 64];
	const char *name, *replay = NULL;
	char *rest[128];
	int nrest = 0;

	if (argc < 2 || !strcmp(argv[1], "--help")) {
		printf("usage: amber stage NAME [--replay RUNDIR] [stage options]\n"
		       "stages: seize dump-memory dump-files collect-pstree restore-files restore-tasks\n"
		       "each stage has --help; AMBER_WRAP='strace -f' runs it under a tool\n");
		return argc < 2 ? EXIT_USAGE : 0;
	}
	name = argv[1];
	memset(&r, 0, sizeof(r));
	if (run_locate(&r, &e) < 0 || run_stage_path(&r, name, bin, sizeof(bin)) < 0) {
		fprintf(stderr, "amber stage: no stage '%s' in %s\n", name, r.libexec);
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
		fprintf(stderr, "amber stage: no recorded input for '%s' in '%s'\n", name, replay);
		return EXIT_USAGE;
	}
	int in_fd = open(in, O_RDONLY);
	if (in_fd < 0 || dup2(in_fd, 0) < 0) {
		fprintf(stderr, "amber stage: open '%s': %s\n", in, strerror(errno));
		return EXIT_SYSTEM;
	}
	if (!strcmp(name, "restore-tasks")) {
		/* Its files come from restore-files: rerun that on its own recording. */
		char fin[PATH_MAX + 64], fbin[PATH_MAX], fdarg[32];
		int sock[2];
		pid_t pid;

		if (stage_find_input(replay, "restore-files", fin, sizeof(fin)) < 0 ||
		    run_stage_path(&r, "restore-files", fbin, sizeof(fbin)) < 0) {
			fprintf(stderr, "amber stage: restore-tasks needs restore-files' recording in '%s'\n", replay);
			return EXIT_USAGE;
		}
		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sock) < 0)
			return EXIT_SYSTEM;
		pid = fork();
		if (pid == 0) {
			int fi = open(fin, O_RDONLY), null = open("/dev/null", O_WRONLY);
			char *fa[64];
			int n = 0;

			dup2(fi, 0);
			dup2(null, 1);
			dup2(sock[0], FD_DEF_FILES);
			snprintf(fdarg, sizeof(fdarg), "%s=%d", FD_NAME_FILES, FD_DEF_FILES);
			fa[n++] = fbin;
			for (int i = 0; i < nrest; i++)
				if (!strcmp(rest[i], "-D") && i + 1 < nrest) {
					fa[n++] = "-D";
					fa[n++] = rest[i + 1];
				}
			fa[n++] = "--fd";
			fa[n++] = fdarg;
			/* The restorer's fds, as it was given them: the caller
			 * opens them again for this command. */
			n = stage_recorded_inherits(fin, fa, n, 62);
			fa[n] = NULL;
			execv(fbin, fa);
			_exit(EXIT_SYSTEM);
		}
		close(sock[0]);
		waitpid(pid, NULL, 0);
		dup2(sock[1], FD_DEF_FILES);
		snprintf(fdarg, sizeof(fdarg), "%s=%d", FD_NAME_FILES, FD_DEF_FILES);
		rest[nrest++] = "--fd";
		rest[nrest++] = strdup(fdarg);
	}
	if (!strcmp(name, "restore-files")) {
		char fdarg[32];
		int sock[2];

		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sock) < 0)
			return EXIT_SYSTEM;
		if (fork() == 0) {
			close(sock[0]);
			stage_drain_files(sock[1]);
		}
		close(sock[1]);
		dup2(sock[0], FD_DEF_FILES);
		snprintf(fdarg, sizeof(fdarg), "%s=%d", FD_NAME_FILES, FD_DEF_FILES);
		rest[nrest++] = "--fd";
		rest[nrest++] = strdup(fdarg);
	}
	return stage_exec(bin, nrest, rest);
}
