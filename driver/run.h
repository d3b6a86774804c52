/* run: how the driver runs stages and keeps the run directory.
 *
 * Every stage gets its stdin from RUN/NN-STAGE.in (a state stream the
 * driver writes from what earlier stages produced), writes its stdout into
 * a pipe the driver tees to RUN/NN-STAGE.out, and its log lines into a
 * pipe the driver files into RUN/NN-STAGE.log, -o LOGFILE and the terminal.
 * Its command line goes to RUN/NN-STAGE.cmd and a runnable
 * RUN/rerun-STAGE.sh, so a failed stage can be rerun alone on the exact
 * input it had.
 */
#ifndef AMBER_DRIVER_RUN_H
#define AMBER_DRIVER_RUN_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "lib/err.h"

#define RUN_MAX_STAGES 16
#define RUN_MAX_FDS 24		/* fds given to one stage */
#define RUN_MAX_ARGS 256	/* its argv */

struct run_fd {
	const char *name;	/* ipc/fds.h name */
	int fd;			/* the driver's fd, given to the stage as number 'target' */
	int target;
};

struct run_stage {
	char name[32];
	int index;
	pid_t pid;
	int out_fd, err_fd;	/* pipes from the stage, -1 once at EOF */
	int pid_fd;		/* pidfd of the stage: readable once it exits; -1 if none */
	int out_rec, log_rec;	/* RUN/NN-NAME.out and .log */
	uint8_t *out_buf;	/* stdout bytes not yet split into frames */
	size_t out_len;
	char err_line[4096];	/* a log line being assembled */
	size_t err_len;
	char last_error[1024];	/* the last E: line, for the failure message */
	bool stream_ended, exited;
	int status;
	double started, ended;	/* CLOCK_MONOTONIC seconds */
	struct rusage ru;	/* its CPU time, once reaped (wait4) */
};

struct run_record {
	uint8_t *data;
	uint32_t len;
};

struct run {
	char op[16];			/* "dump", "restore" */
	char dir[PATH_MAX];		/* run directory */
	char images[PATH_MAX];		/* images directory, absolute */
	char libexec[PATH_MAX];		/* where amber-STAGE binaries are */
	char self[PATH_MAX];		/* this amber, for rerun scripts */
	int verbosity;
	int log_fd;			/* -o LOGFILE, or -1 */
	bool progress;			/* stderr is a terminal */
	bool progress_shown;		/* a progress line is on screen */
	int seq;
	struct run_record *recs;	/* records every stage so far produced */
	int nr_recs;
	const char *fail_stage;		/* AMBER_TEST_FAIL_STAGE: kill this stage at start */
	struct run_stage *failed;	/* the stage run_wait last blamed for a failure */
	const char *rerun_note;		/* run_start puts it in the stage's rerun script */
	uint64_t dump_id;		/* a dump's id, given to each stage as --dump-id; 0: none */
};

/* Creates the run directory ('run_dir', or IMAGES/OP.run) and opens -o LOGFILE. */
int run_init(struct run *r, const char *op, const char *images, const char *run_dir,
	     int verbosity, const char *logfile, struct err *e);
void run_free(struct run *r);
/* Starts a stage with the records so far as its stdin; fails before the
 * stage runs if two of its fds would get the same number, or one would
 * land on stdio or outside FD_FIRST_PASSED..FD_LAST_PASSED and
 * FD_FIRST_INHERIT and up (ipc/fds.h). */
int run_start(struct run *r, struct run_stage *s, const char *name, const char *const *args,
	      const struct run_fd *fds, int nr_fds, struct err *e);
/* Pumps all running stages until 'until' has ended its stream (stream=true)
 * or exited; fails if any of them exits badly or breaks the protocol, and
 * then points r->failed at that stage. */
int run_wait(struct run *r, struct run_stage **stages, int nr, struct run_stage *until, bool stream, struct err *e);
/* Kills a stage (fault injection, rollback). */
void run_kill(struct run_stage *s);
/* Reaps a stage that has not been reaped, killing it first if asked, and
 * closes its pipes: nothing of it is left behind. */
void run_reap(struct run_stage *s, bool kill);
/* Finds the records of one body case, in order; returns how many. */
int run_find(const struct run *r, int body_case, void (*fn)(const uint8_t *data, uint32_t len, void *arg), void *arg);
/* Prints the failure of stage s and how to rerun it. */
void run_report_failure(struct run *r, const struct run_stage *s, const struct err *e);
/* s quoted for sh in buf ('...', a quote inside as '\''). */
const char *run_quote(const char *s, char *buf, size_t size);
/* Whether a file name is one amber writes in run directories (and may remove). */
bool run_is_own_file(const char *name);
/* Removes the files of an earlier run from the run directory open as dfd,
 * and only those: a run directory given with --run-dir may hold anything. */
void run_clear_own_files(int dfd);
/* Seconds on CLOCK_MONOTONIC. */
double run_now(void);
/* Where amber-NAME lives. */
int run_stage_path(const struct run *r, const char *name, char *path, size_t size);
/* Resolves the libexec directory and this binary's path. */
int run_locate(struct run *r, struct err *e);

#endif
