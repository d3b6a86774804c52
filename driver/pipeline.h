/* pipeline: each driver command's stages as one table, and the one runner
 * that walks it.
 *
 * A pipeline is rows (one per stage, in start order) and channels (the live
 * objects, socketpairs and pipes, that connect two stages or a stage and the
 * driver). The runner starts each row's stage with its fixed arguments,
 * the arguments its options add and the channel ends it takes; waits as the
 * row says; on any failure kills what runs, rolls the started rows back in
 * reverse order and prints the command that reruns the failed stage. The
 * same tables give 'amber stage --help', the pipeline section of
 * doc/stages.md ('amber stage --table') and what 'amber stage --replay'
 * puts in place of a replayed stage's missing peer. Adding a stage to a
 * command is adding a row (and its folder under stages/).
 */
#ifndef AMBER_DRIVER_PIPELINE_H
#define AMBER_DRIVER_PIPELINE_H

#include <stdbool.h>
#include <stdio.h>

#include "driver/opts.h"
#include "driver/run.h"
#include "lib/err.h"

#define PL_MAX_ROWS RUN_MAX_STAGES
#define PL_MAX_CHANS 8

/* How the runner waits for a row's stage before it starts the next row. */
enum pl_wait {
	PL_EXIT,	/* until it has exited */
	PL_STREAM,	/* until its output stream ended; it runs on and is joined at the end */
	PL_BESIDE,	/* not at all: it runs beside the next rows and is joined at the end */
};

/* What 'amber stage NAME --replay RUN' gives a replayed stage for a channel
 * end it had, since the stage at the other end is not running. */
enum pl_replay {
	PL_REPLAY_NONE,		/* nothing: the stage runs without it */
	PL_REPLAY_DRAIN,	/* a child takes the fds sent on it and closes them */
	PL_REPLAY_PRODUCER,	/* the peer stage, rerun on its own recording, feeds it */
};

/* One live object between two ends. end[k] names the stage that gets end k
 * as fd 'target', or is NULL when the driver keeps that end (seize's
 * control pipe). A pipe's end 0 is its read end. When the row of one end
 * is skipped, the stage at the other end is not given the channel. */
struct pl_chan {
	const char *name;		/* ipc/fds.h FD_NAME_* */
	int target;			/* ipc/fds.h FD_DEF_* */
	bool pipe;			/* a pipe, else a SOCK_SEQPACKET socketpair */
	bool stream;			/* a SOCK_STREAM socketpair (state streams both ways) */
	const char *end[2];
	enum pl_replay replay[2];	/* for the stage at end k */
	const char *what;
};

struct pl_ctx;

/* A stage's command line as a row builds it. */
struct pl_args {
	const char *argv[RUN_MAX_ARGS];
	int argc;
	struct run_fd fds[RUN_MAX_FDS];
	int nr_fds;
	char store[16384];	/* formatted arguments live here */
	size_t used;
};

struct pl_row {
	const char *stage;
	const char *does;		/* one line: its job in this pipeline */
	const char *reads, *writes;	/* records and images, for the docs */
	const char *const *args;	/* fixed arguments */
	const char *opt_fds;		/* fds options add, for the docs (or NULL) */
	/* Adds arguments and fds from the command's options. */
	int (*more_args)(struct pl_ctx *c, struct pl_args *a, struct err *e);
	/* Skips the row when it returns true; skip_doc says when, for the docs. */
	bool (*skip)(const struct pl_ctx *c);
	const char *skip_doc;
	enum pl_wait wait;
	/* Driver work just before the stage starts. */
	int (*before)(struct pl_ctx *c, struct err *e);
	/* Undoes what the stage (or its 'before') left, after a later failure
	 * or its own; rollback_doc says what, for the docs. */
	void (*rollback)(struct pl_ctx *c);
	const char *rollback_doc;
	/* A stage the rollback may run (pl_run_extra), named in the docs,
	 * 'amber stage --help' and --list (seize's: unseize), and its job. */
	const char *rollback_stage, *rollback_stage_does;
	/* Programs in the stages' layout that the row's stage or its 'before'
	 * starts when the options ask, and that outlive the command
	 * (pre-dump's seize: amber-track; restore-files': amber-mountd, which
	 * starts amber-stubfs), with their jobs, for the docs, 'amber stage
	 * --help' and --list. */
	const char *side_stages[2], *side_stages_does[2];
	/* A held stage (seize) is never killed by a failure: the runner asks it
	 * to end through release(ok) and waits for it, last of all. */
	int (*release)(struct pl_ctx *c, bool ok, struct err *e);
};

struct pipeline {
	const char *command;		/* "dump", "restore", "gc" */
	const char *shape;		/* one line, e.g. "seize -> { ... } -> release" */
	const struct pl_row *rows;
	int nr_rows;
	const struct pl_chan *chans;
	int nr_chans;
	/* After every stage but the held ones succeeded (dump: inventory.img). */
	int (*finish)(struct pl_ctx *c, struct err *e);
	/* After a failure was reported and rolled back: the last word. */
	void (*failed)(struct pl_ctx *c);
};

/* The state of one walk of a pipeline. */
struct pl_ctx {
	const struct pipeline *pl;
	struct run *r;
	const struct drv_opts *o;
	void *cmd;				/* the command's own state */
	int chan[PL_MAX_CHANS][2];		/* the driver's copies of channel ends, or -1 */
	struct run_stage st[PL_MAX_ROWS];
	bool started[PL_MAX_ROWS];
	int failed;				/* row of the stage that failed, or -1 */
	int held_failed;			/* a held row that failed itself, or -1 */
	double t_start, t_released;		/* the walk's start; the first release(ok), or 0 */
};

/* Runs a pipeline; 0 when every stage and finish succeeded, else <0 with e
 * set, the failure reported and everything rolled back. With the
 * command's --timings it prints each stage's start, wall and CPU time,
 * the frozen time (a held stage's start to its release) and the total. */
int pl_run(const struct pipeline *pl, struct run *r, const struct drv_opts *o, void *cmd, struct err *e);

/* Appends an argument, a formatted one, or an fd to a row's command line. */
int pl_arg(struct pl_args *a, const char *s, struct err *e);
int pl_argf(struct pl_args *a, struct err *e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int pl_fd(struct pl_args *a, const char *name, int fd, int target, struct err *e);
/* Appends "opt", vals[i] for each of the n values (--external ...). */
int pl_arg_each(struct pl_args *a, const char *opt, const char *const *vals, int n, struct err *e);

/* Runs a row's rollback_stage (or any stage) to its exit, with no fds
 * and the records so far on its stdin; for a rollback hook. */
int pl_run_extra(struct pl_ctx *c, const char *stage, const char *const *args, struct err *e);

/* Hands over the driver's end of a channel (seize's control pipe), or -1;
 * the caller closes it. */
int pl_chan_take(struct pl_ctx *c, const char *name);
/* Whether row 'stage' started, failed, and its run state. */
struct run_stage *pl_stage(struct pl_ctx *c, const char *stage);

/* Every command's pipeline (dump.c, restore.c, gc.c), NULL-terminated. */
extern const struct pipeline pl_dump, pl_predump, pl_restore, pl_gc, pl_page_server;
const struct pipeline *const *pl_all(void);

/* What a replayed 'stage' gets for channel 'name', and the peer's name. */
enum pl_replay pl_replay_of(const char *stage, const char *chan, const char **peer, int *target);
/* Whether any pipeline has a row for 'stage'. */
bool pl_knows(const char *stage);

/* 'amber stage --help' and 'amber stage --table' (Markdown for doc/stages.md). */
void pl_print_help(FILE *f);
/* 'amber stage --list': every stage once, in pipeline order. */
void pl_print_list(FILE *f);
void pl_print_table(FILE *f);

#endif
