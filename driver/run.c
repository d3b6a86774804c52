/* run: see run.h. */
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "driver/driver.h"
#include "driver/run.h"
#include "images/stream.pb-c.h"
#include "lib/exitcodes.h"
#include "ipc/fds.h"
#include "ipc/stream.h"
#include "lib/cleanup.h"
#include "lib/frame.h"
#include "lib/log.h"

double run_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int run_locate(struct run *r, struct err *e)
{
	char exe[PATH_MAX], dir[PATH_MAX];
	const char *env = getenv("AMBER_LIBEXEC");
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		return err_errno(e, "find the amber binary (/proc/self/exe)");
	exe[n] = 0;
	snprintf(r->self, sizeof(r->self), "%s", exe);
	if (env) {
		snprintf(r->libexec, sizeof(r->libexec), "%s", env);
		return 0;
	}
	/* Installed and build trees share the layout: bin/amber, libexec/amber/amber-STAGE. */
	snprintf(dir, sizeof(dir), "%s", exe);
	snprintf(r->libexec, sizeof(r->libexec), "%s/../libexec/amber", dirname(dir));
	return 0;
}

int run_stage_path(const struct run *r, const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/amber-%s", r->libexec, name);
	return access(path, X_OK);
}

/* Whether 'name' is a file amber writes in a run directory:
 * NN-STAGE.{in,out,log,cmd}, rerun-STAGE.sh or STAGE.journal (seize's). */
bool run_is_own_file(const char *name)
{
	size_t n = strlen(name);
	const char *dot = strrchr(name, '.');

	if (!strncmp(name, "rerun-", 6))
		return n > 9 && !strcmp(name + n - 3, ".sh") && !strchr(name + 6, '/');
	if (n > 8 && !strcmp(name + n - 8, ".journal"))
		return name[0] != '.' && !strchr(name, '/');
	if (n < 5 || name[0] < '0' || name[0] > '9' || name[1] < '0' || name[1] > '9' || name[2] != '-' || !dot)
		return false;
	return !strcmp(dot, ".in") || !strcmp(dot, ".out") || !strcmp(dot, ".log") || !strcmp(dot, ".cmd");
}

void run_clear_own_files(int dfd)
{
	DIR *d = fdopendir(dup(dfd));
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_type == DT_REG && run_is_own_file(de->d_name))
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

/* Makes (or takes) the run directory without following a symlink at its
 * name, and refuses one another user owns: amber deletes and writes
 * files there as root. */
static int run_open_dir(const char *dir, struct err *e)
{
	struct stat st;
	int fd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return err_errno(e, "create the run directory '%s' (choose another with --run-dir)", dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
		return err_set(e, EXIT_USAGE, "the run directory '%s' is a symlink or not a directory; amber does not "
			       "follow it (remove it, or choose another with --run-dir)", dir);
	if (fd < 0)
		return err_errno(e, "open the run directory '%s'", dir);
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid()) {
		close(fd);
		return err_set(e, EXIT_USAGE, "the run directory '%s' belongs to uid %u, not to amber's user; "
			       "choose another with --run-dir", dir, (unsigned)st.st_uid);
	}
	return fd;
}

int run_init(struct run *r, const char *op, const char *images, const char *run_dir,
	     int verbosity, const char *logfile, struct err *e)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->log_fd = -1;
	r->verbosity = verbosity;
	r->progress = isatty(2);
	r->fail_stage = getenv("AMBER_TEST_FAIL_STAGE");
	snprintf(r->op, sizeof(r->op), "%s", op);
	if ((ret = run_locate(r, e)) < 0)
		return ret;
	if (!realpath(images, r->images))
		return err_set(e, errno == ENOENT ? EXIT_INPUT : EXIT_SYSTEM, "images directory '%s': %s", images, strerror(errno));
	if (run_dir)
		snprintf(r->dir, sizeof(r->dir), "%s", run_dir);
	else
		snprintf(r->dir, sizeof(r->dir), "%s/%s.run", r->images, op);
	if ((ret = run_open_dir(r->dir, e)) < 0)
		return ret;
	run_clear_own_files(ret);
	close(ret);
	if (logfile) {
		r->log_fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (r->log_fd < 0)
			return err_set(e, EXIT_USAGE, "-o '%s': cannot open the log file: %s", logfile, strerror(errno));
	}
	return 0;
}

void run_free(struct run *r)
{
	for (int i = 0; i < r->nr_recs; i++)
		free(r->recs[i].data);
	free(r->recs);
	if (r->log_fd >= 0)
		close(r->log_fd);
	r->recs = NULL;
	r->nr_recs = 0;
}

/* Writes RUN/NN-NAME.in: hello, every record so far, end. */
static int run_write_input(struct run *r, const char *path, struct err *e)
{
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	struct stream_out out;
	StreamEnd end = STREAM_END__INIT;
	StreamRecord rec = STREAM_RECORD__INIT;
	int ret;

	if (fd < 0)
		return err_errno(e, "create '%s'", path);
	if ((ret = stream_out_open(&out, fd, "amber", e)) < 0)
		return ret;
	for (int i = 0; i < r->nr_recs; i++)
		if ((ret = frame_write_raw(fd, r->recs[i].data, r->recs[i].len, path, e)) < 0)
			return ret;
	end.count = r->nr_recs;
	rec.body_case = STREAM_RECORD__BODY_END;
	rec.end = &end;
	return frame_write_msg(fd, &rec.base, path, e);
}

/* Quotes one argument for sh. */
static void run_shell_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	fputc('\'', f);
}

const char *run_quote(const char *s, char *buf, size_t size)
{
	FILE *f = fmemopen(buf, size, "w");

	if (!f) {
		snprintf(buf, size, "''");
		return buf;
	}
	run_shell_quote(f, s);
	fclose(f);
	return buf;
}

/* Writes RUN/NN-NAME.cmd (what ran) and RUN/rerun-NAME.sh (how to run it again). */
static void run_write_scripts(struct run *r, const struct run_stage *s, char *const *argv, const struct run_fd *fds, int nr_fds)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%02d-%s.cmd", r->dir, s->index, s->name);
	f = fopen(path, "w");
	if (f) {
		for (int i = 0; argv[i]; i++) {
			run_shell_quote(f, argv[i]);
			fputc(' ', f);
		}
		char in[PATH_MAX + 64];

		snprintf(in, sizeof(in), "%s/%02d-%s.in", r->dir, s->index, s->name);
		fputs("< ", f);
		run_shell_quote(f, in);
		fputc('\n', f);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/rerun-%s.sh", r->dir, s->name);
	f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "#!/bin/sh\n"
		   "# Reruns stage '%s' of this amber %s alone, on the input it was given.\n"
		   "# Debug it with AMBER_WRAP, e.g. AMBER_WRAP='strace -f' or AMBER_WRAP='gdb --args';\n"
		   "# change the log level with AMBER_V (default 4).\n",
		s->name, r->op);
	for (int i = 1; argv[i]; i++)
		if (!strcmp(argv[i], "--inherit-fd") && argv[i + 1]) {
			fprintf(f, "# It was given the restorer's fds: open them again when you run it, e.g.\n"
				   "#\tsh %s/rerun-%s.sh 20<FILE\n# for --inherit-fd fd[20]:KEY.\n", r->dir, s->name);
			break;
		}
	if (r->rerun_note)
		fputs(r->rerun_note, f);
	fprintf(f, "exec ");
	run_shell_quote(f, r->self);
	fprintf(f, " stage %s --replay ", s->name);
	run_shell_quote(f, r->dir);
	/* The stage's own arguments, minus the fds and log level amber stage supplies. */
	for (int i = 1; argv[i]; i++) {
		if (!strcmp(argv[i], "--fd") || !strcmp(argv[i], "-v")) {
			i++;
			continue;
		}
		if (!strcmp(argv[i], "--progress"))
			continue;
		fputc(' ', f);
		run_shell_quote(f, argv[i]);
	}
	fprintf(f, " -v \"${AMBER_V:-4}\"\n");
	fclose(f);
	chmod(path, 0755);
	(void)fds;
	(void)nr_fds;
}

/* The numbers ipc/fds.h promises: each target once, none on stdio, and
 * each in the passed range or the inherited one, so that staging them
 * (run_start's child) can never clobber one with another. */
static int run_check_fds(const char *name, const struct run_fd *fds, int nr_fds, struct err *e)
{
	if (nr_fds > RUN_MAX_FDS)
		return err_set(e, EXIT_USAGE, "stage '%s' would get %d fds, more than %d", name, nr_fds, RUN_MAX_FDS);
	for (int i = 0; i < nr_fds; i++) {
		int t = fds[i].target;
		const char *what = fds[i].name ? fds[i].name : "an inherited fd";

		if (fds[i].fd < 0)
			return err_set(e, EXIT_SYSTEM, "stage '%s': its %s fd is not open in the driver", name, what);
		if (!((t >= FD_FIRST_PASSED && t <= FD_LAST_PASSED) || (t >= FD_FIRST_INHERIT && t < 100)))
			return err_set(e, EXIT_USAGE, "stage '%s': %s would be fd %d, outside %d-%d and %d-99 (ipc/fds.h)",
				       name, what, t, FD_FIRST_PASSED, FD_LAST_PASSED, FD_FIRST_INHERIT);
		for (int j = 0; j < i; j++)
			if (fds[j].target == t)
				return err_set(e, EXIT_USAGE, "stage '%s': %s and %s would both be fd %d", name,
					       fds[j].name ? fds[j].name : "an inherited fd", what, t);
	}
	return 0;
}

int run_start(struct run *r, struct run_stage *s, const char *name, const char *const *args,
	      const struct run_fd *fds, int nr_fds, struct err *e)
{
	char path[PATH_MAX], in_path[PATH_MAX + 64], rec_path[PATH_MAX + 64], vbuf[8], fdargs[RUN_MAX_FDS][48];
	char idbuf[24];
	char *argv[RUN_MAX_ARGS];
	int argc = 0, out[2], errp[2], in_fd, ret;

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->index = ++r->seq;
	s->out_fd = s->err_fd = s->out_rec = s->log_rec = s->pid_fd = -1;
	if (run_stage_path(r, name, path, sizeof(path)) < 0)
		return err_set(e, EXIT_SYSTEM, "stage binary '%s' is missing or not executable; is amber installed completely?", path);
	snprintf(in_path, sizeof(in_path), "%s/%02d-%s.in", r->dir, s->index, name);
	if ((ret = run_write_input(r, in_path, e)) < 0)
		return err_wrap(e, "record the input of stage '%s' in '%s'", name, in_path);

	argv[argc++] = path;
	argv[argc++] = "-D";
	argv[argc++] = r->images;
	argv[argc++] = "-v";
	/* The run directory's logs get debug detail whatever the terminal shows. */
	snprintf(vbuf, sizeof(vbuf), "%d", r->verbosity > LOG_DEBUG ? r->verbosity : LOG_DEBUG);
	argv[argc++] = vbuf;
	argv[argc++] = "--run-dir";
	argv[argc++] = r->dir;
	if (r->dump_id) {
		snprintf(idbuf, sizeof(idbuf), "%016llx", (unsigned long long)r->dump_id);
		argv[argc++] = "--dump-id";
		argv[argc++] = idbuf;
	}
	if ((ret = run_check_fds(name, fds, nr_fds, e)) < 0)
		return ret;
	for (int i = 0; i < nr_fds; i++) {
		/* An unnamed fd (an --inherit-fd) is named by the stage's own options. */
		if (!fds[i].name)
			continue;
		snprintf(fdargs[i], sizeof(fdargs[i]), "%s=%d", fds[i].name, fds[i].target);
		argv[argc++] = "--fd";
		argv[argc++] = fdargs[i];
	}
	if (r->progress)
		argv[argc++] = "--progress";
	for (int i = 0; args && args[i]; i++) {
		if (argc == RUN_MAX_ARGS - 1)
			return err_set(e, EXIT_USAGE, "stage '%s' would get more than %d arguments", name, RUN_MAX_ARGS);
		argv[argc++] = (char *)args[i];
	}
	argv[argc] = NULL;
	run_write_scripts(r, s, argv, fds, nr_fds);
	if (r->verbosity >= LOG_INFO + 1 || getenv("AMBER_TRACE")) {
		char line[4096];
		int n = 0;

		for (int i = 0; argv[i] && n < (int)sizeof(line) - 2; i++)
			n += snprintf(line + n, sizeof(line) - n, "%s ", argv[i]);
		pr_info("running %s< %s", line, in_path);
	}

	in_fd = open(in_path, O_RDONLY | O_CLOEXEC);
	if (in_fd < 0)
		return err_errno(e, "open '%s'", in_path);
	snprintf(rec_path, sizeof(rec_path), "%s/%02d-%s.out", r->dir, s->index, name);
	s->out_rec = open(rec_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	snprintf(rec_path, sizeof(rec_path), "%s/%02d-%s.log", r->dir, s->index, name);
	s->log_rec = open(rec_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (s->out_rec < 0 || s->log_rec < 0 || pipe2(out, O_CLOEXEC) < 0) {
		close(in_fd);
		return err_errno(e, "set up stage '%s' in '%s'", name, r->dir);
	}
	if (pipe2(errp, O_CLOEXEC) < 0) {
		close(in_fd);
		close(out[0]);
		close(out[1]);
		return err_errno(e, "set up stage '%s'", name);
	}
	s->started = run_now();
	s->pid = fork();
	if (s->pid < 0)
		return err_errno(e, "fork stage '%s'", name);
	if (s->pid == 0) {
		int staged[RUN_MAX_FDS];

		/* Staging copies above every target first, so dup2 never clobbers a source. */
		for (int i = 0; i < nr_fds; i++)
			staged[i] = fcntl(fds[i].fd, F_DUPFD, 100);
		dup2(in_fd, 0);
		dup2(out[1], 1);
		dup2(errp[1], 2);
		for (int i = 0; i < nr_fds; i++)
			dup2(staged[i], fds[i].target);
		for (int fd = 3; fd < 100; fd++) {
			bool keep = false;

			for (int i = 0; i < nr_fds; i++)
				keep |= fds[i].target == fd;
			if (!keep)
				close(fd);
		}
		syscall(SYS_close_range, 100, ~0U, 0);
		signal(SIGPIPE, SIG_DFL);
		/* The test hook kills the stage here, before it can run: killed
		 * from the parent, a fast stage may have exited with 0 first. */
		if (r->fail_stage && !strcmp(r->fail_stage, name))
			raise(SIGKILL);
		execv(path, argv);
		fprintf(stderr, "(  0.000000) %s: E: exec '%s': %s\n", name, path, strerror(errno));
		_exit(EXIT_SYSTEM);
	}
	close(in_fd);
	close(out[1]);
	close(errp[1]);
	s->out_fd = out[0];
	s->err_fd = errp[0];
	/* Its exit wakes run_wait at once: the pipes reach EOF a moment before
	 * the stage can be reaped, and without this the wait for the next poll
	 * timeout cost up to 100 ms per stage. An old kernel without pidfds
	 * falls back to polling. */
	s->pid_fd = (int)syscall(SYS_pidfd_open, s->pid, 0);
	if (r->fail_stage && !strcmp(r->fail_stage, name))
		pr_warn("AMBER_TEST_FAIL_STAGE: stage '%s' killed as asked", name);
	return 0;
}

void run_kill(struct run_stage *s)
{
	if (s->pid > 0 && !s->exited)
		kill(s->pid, SIGKILL);
}

static void run_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void run_reap(struct run_stage *s, bool kill)
{
	if (kill)
		run_kill(s);
	if (s->pid > 0 && !s->exited && wait4(s->pid, &s->status, 0, &s->ru) == s->pid) {
		s->exited = true;
		s->ended = run_now();
	}
	run_close(&s->out_fd);
	run_close(&s->err_fd);
	run_close(&s->pid_fd);
	run_close(&s->out_rec);
	run_close(&s->log_rec);
	free(s->out_buf);
	s->out_buf = NULL;
	s->out_len = 0;
}

/* Shows a progress line in place on the terminal. */
static void run_show_progress(struct run *r, const char *stage, const char *msg)
{
	char line[512];
	int n;

	if (!r->progress)
		return;
	n = snprintf(line, sizeof(line), "\r%s: %s\033[K", stage, msg);
	if (n > 0 && write(2, line, n < (int)sizeof(line) ? n : (int)sizeof(line) - 1) < 0)
		return;
	r->progress_shown = true;
}

static void run_clear_progress(struct run *r)
{
	if (r->progress_shown && write(2, "\r\033[K", 4) < 0)
		return;
	r->progress_shown = false;
}

/* Files one complete log line from a stage. Lines look like
 * "(   0.001) stage: L: text"; L is the level letter. */
static void run_log_line(struct run *r, struct run_stage *s, const char *line)
{
	const char *tag = strstr(line, ": ");
	char level = tag && tag[2] && tag[3] == ':' ? tag[2] : 'I';
	int lvl = level == 'E' ? LOG_ERROR : level == 'W' ? LOG_WARN : level == 'I' ? LOG_INFO : level == 'D' ? LOG_DEBUG : LOG_TRACE;
	size_t len = strlen(line);

	if (level == 'P') {
		run_show_progress(r, s->name, tag + 5);
		return;
	}
	if (write(s->log_rec, line, len) < 0 || write(s->log_rec, "\n", 1) < 0)
		pr_debug("could not record a log line of '%s'", s->name);
	if (level == 'E')
		snprintf(s->last_error, sizeof(s->last_error), "%s", tag + 5);
	if (r->log_fd >= 0 && lvl <= (r->verbosity > LOG_INFO ? r->verbosity : LOG_INFO)) {
		if (write(r->log_fd, line, len) < 0 || write(r->log_fd, "\n", 1) < 0)
			return;
	}
	/* The terminal shows warnings from stages, everything at -v3 and up;
	 * errors are summed up by the driver itself. */
	if (r->log_fd < 0 && (lvl == LOG_WARN || (lvl >= LOG_INFO && lvl <= r->verbosity && r->verbosity > LOG_INFO))) {
		run_clear_progress(r);
		if (write(2, line, len) < 0 || write(2, "\n", 1) < 0)
			return;
	}
}

/* Reads what a stage wrote to stderr; splits it into lines. */
static void run_read_log(struct run *r, struct run_stage *s)
{
	char buf[4096];
	ssize_t n = read(s->err_fd, buf, sizeof(buf));

	if (n <= 0) {
		if (n == 0 || errno != EINTR) {
			if (s->err_len) {
				s->err_line[s->err_len] = 0;
				run_log_line(r, s, s->err_line);
				s->err_len = 0;
			}
			close(s->err_fd);
			s->err_fd = -1;
		}
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n' || s->err_len == sizeof(s->err_line) - 1) {
			s->err_line[s->err_len] = 0;
			run_log_line(r, s, s->err_line);
			s->err_len = 0;
			if (buf[i] == '\n')
				continue;
		}
		s->err_line[s->err_len++] = buf[i];
	}
}

/* Keeps a stage's output record for the stages after it. */
static int run_keep_record(struct run *r, const uint8_t *data, uint32_t len, struct err *e)
{
	struct run_record *nr = realloc(r->recs, sizeof(*nr) * (r->nr_recs + 1));

	if (!nr)
		return err_errno(e, "keep a state record");
	r->recs = nr;
	nr[r->nr_recs].data = malloc(len ? len : 1);
	if (!nr[r->nr_recs].data)
		return err_errno(e, "keep a state record");
	memcpy(nr[r->nr_recs].data, data, len);
	nr[r->nr_recs].len = len;
	r->nr_recs++;
	return 0;
}

/* Reads a stage's stdout, records it, and takes its records once its end arrives. */
static int run_read_out(struct run *r, struct run_stage *s, struct err *e)
{
	uint8_t buf[65536];
	ssize_t n = read(s->out_fd, buf, sizeof(buf));
	size_t pos = 0;
	uint64_t count = 0;
	uint8_t *nb;

	if (n < 0)
		return errno == EINTR ? 0 : err_errno(e, "read the output of stage '%s'", s->name);
	if (n == 0) {
		close(s->out_fd);
		s->out_fd = -1;
		free(s->out_buf);	/* its records were kept at the end record */
		s->out_buf = NULL;
		s->out_len = 0;
		return 0;
	}
	if (write(s->out_rec, buf, n) != n)
		pr_warn("could not record the output of '%s'", s->name);
	nb = realloc(s->out_buf, s->out_len + n);
	if (!nb)
		return err_errno(e, "buffer the output of stage '%s'", s->name);
	s->out_buf = nb;
	memcpy(s->out_buf + s->out_len, buf, n);
	s->out_len += n;
	if (s->stream_ended)
		return err_proto(e, "stage '%s' wrote after its end record", s->name);
	/* Only act once the end record is in: then validate the whole stream. */
	for (;;) {
		uint32_t len;
		int kind;

		if (s->out_len - pos < 4)
			return 0;
		memcpy(&len, s->out_buf + pos, 4);
		len = le32toh(len);
		if (len > STREAM_MAX_RECORD)
			return err_proto(e, "stage '%s' wrote a %u-byte record, over the limit", s->name, len);
		if (s->out_len - pos - 4 < len)
			return 0;
		kind = stream_frame_kind(s->out_buf + pos + 4, len);
		if (kind < 0)
			return err_proto(e, "stage '%s' wrote a record that is not a StreamRecord", s->name);
		if (pos == 0 && kind != STREAM_RECORD__BODY_HELLO)
			return err_proto(e, "stage '%s' did not start its output with a hello", s->name);
		if (kind == STREAM_RECORD__BODY_END)
			break;
		if (pos)
			count++;
		pos += 4 + len;
	}
	/* A complete stream: keep its records (between hello and end). */
	pos = 0;
	for (uint64_t i = 0; i <= count; i++) {
		uint32_t len;
		int ret;

		memcpy(&len, s->out_buf + pos, 4);
		len = le32toh(len);
		if (i > 0 && (ret = run_keep_record(r, s->out_buf + pos + 4, len, e)) < 0)
			return ret;
		pos += 4 + len;
	}
	s->stream_ended = true;
	return 0;
}

/* A stage failed: name it, its exit class and its last error line. */
static int run_stage_error(struct run_stage *s, struct err *e)
{
	int code = WIFEXITED(s->status) ? WEXITSTATUS(s->status) : EXIT_SYSTEM;

	if (WIFSIGNALED(s->status))
		return err_set(e, EXIT_SYSTEM, "stage '%s' was killed by signal %d (%s%s)%s%s", s->name, WTERMSIG(s->status),
			       strsignal(WTERMSIG(s->status)),
			       WTERMSIG(s->status) == SIGSYS ? ": a system call outside its seccomp allow list" : "",
			       s->last_error[0] ? "; its last error: " : "", s->last_error);
	return err_set(e, code, "stage '%s' failed (%s): %s", s->name, exitcode_name(code),
		       s->last_error[0] ? s->last_error : "no error message (see its log)");
}

int run_wait(struct run *r, struct run_stage **stages, int nr, struct run_stage *until, bool stream, struct err *e)
{
	for (;;) {
		struct pollfd pfd[3 * RUN_MAX_STAGES];
		struct run_stage *owner[3 * RUN_MAX_STAGES];
		int np = 0, ret;

		if (stream && until->stream_ended)
			return 0;
		/* Reap whatever finished; a stage is done once it exited and both pipes are drained. */
		for (int i = 0; i < nr; i++) {
			struct run_stage *s = stages[i];

			if (!s->exited && s->pid > 0 && wait4(s->pid, &s->status, WNOHANG, &s->ru) == s->pid) {
				s->exited = true;
				s->ended = run_now();
				run_close(&s->pid_fd);
			}
			if (s->pid_fd >= 0) {
				pfd[np] = (struct pollfd){ s->pid_fd, POLLIN, 0 };
				owner[np++] = s;
			}
			if (s->out_fd >= 0) {
				pfd[np] = (struct pollfd){ s->out_fd, POLLIN, 0 };
				owner[np++] = s;
			}
			if (s->err_fd >= 0) {
				pfd[np] = (struct pollfd){ s->err_fd, POLLIN, 0 };
				owner[np++] = s;
			}
		}
		for (int i = 0; i < nr; i++) {
			struct run_stage *s = stages[i];

			if (!s->exited || s->out_fd >= 0 || s->err_fd >= 0)
				continue;
			if (!WIFEXITED(s->status) || WEXITSTATUS(s->status) != 0) {
				run_clear_progress(r);
				r->failed = s;
				return run_stage_error(s, e);
			}
			if (!s->stream_ended) {
				run_clear_progress(r);
				r->failed = s;
				return err_proto(e, "stage '%s' exited without the end record of its output", s->name);
			}
		}
		if (until->exited && until->out_fd < 0 && until->err_fd < 0) {
			run_clear_progress(r);
			return 0;
		}
		ret = poll(pfd, np, np ? 100 : 20);
		if (ret < 0 && errno != EINTR)
			return err_errno(e, "wait for stages");
		for (int i = 0; ret > 0 && i < np; i++) {
			if (!pfd[i].revents || pfd[i].fd == owner[i]->pid_fd)
				continue;	/* an exit: reaped at the top of the loop */
			if (pfd[i].fd == owner[i]->err_fd)
				run_read_log(r, owner[i]);
			else if ((ret = run_read_out(r, owner[i], e)) < 0) {
				run_kill(owner[i]);
				r->failed = owner[i];
				return ret;
			}
		}
	}
}

int run_find(const struct run *r, int body_case, void (*fn)(const uint8_t *data, uint32_t len, void *arg), void *arg)
{
	int n = 0;

	for (int i = 0; i < r->nr_recs; i++)
		if (stream_frame_kind(r->recs[i].data, r->recs[i].len) == body_case) {
			fn(r->recs[i].data, r->recs[i].len, arg);
			n++;
		}
	return n;
}

void run_report_failure(struct run *r, const struct run_stage *s, const struct err *e)
{
	run_clear_progress(r);
	drv_error("%s", e->msg);
	if (!s)
		return;
	if (e->exit_code == EXIT_SYSTEM || e->exit_code == EXIT_PROTOCOL || e->exit_code == EXIT_FAILURE_ || e->exit_code == EXIT_INPUT) {
		char script[PATH_MAX + 64], log[PATH_MAX + 64], q1[2 * PATH_MAX], q2[2 * PATH_MAX];

		/* Quoted as the scripts quote: the hint is meant to be pasted. */
		snprintf(script, sizeof(script), "%s/rerun-%s.sh", r->dir, s->name);
		snprintf(log, sizeof(log), "%s/%02d-%s.log", r->dir, s->index, s->name);
		drv_error("rerun that stage alone on the same input with: sh %s  (its log: %s)",
			  run_quote(script, q1, sizeof(q1)), run_quote(log, q2, sizeof(q2)));
	}
}
