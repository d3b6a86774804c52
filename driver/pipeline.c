/* pipeline: see pipeline.h. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "driver/driver.h"
#include "driver/pipeline.h"
#include "lib/exitcodes.h"
#include "lib/log.h"

const struct pipeline *const *pl_all(void)
{
	static const struct pipeline *const all[] = { &pl_dump, &pl_predump, &pl_restore, &pl_gc, &pl_page_server, NULL };

	return all;
}

int pl_arg(struct pl_args *a, const char *s, struct err *e)
{
	/* One slot stays free for the NULL that ends argv. */
	if (a->argc >= RUN_MAX_ARGS - 1)
		return err_set(e, EXIT_USAGE, "a stage would get more than %d arguments", RUN_MAX_ARGS - 1);
	a->argv[a->argc++] = s;
	a->argv[a->argc] = NULL;
	return 0;
}

int pl_argf(struct pl_args *a, struct err *e, const char *fmt, ...)
{
	size_t room = sizeof(a->store) - a->used;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(a->store + a->used, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return err_set(e, EXIT_USAGE, "a stage's arguments are longer than %zu bytes in all", sizeof(a->store));
	a->used += n + 1;
	return pl_arg(a, a->store + a->used - n - 1, e);
}

int pl_arg_each(struct pl_args *a, const char *opt, const char *const *vals, int n, struct err *e)
{
	int ret = 0;

	for (int i = 0; ret == 0 && i < n; i++)
		if ((ret = pl_arg(a, opt, e)) == 0)
			ret = pl_arg(a, vals[i], e);
	return ret;
}

int pl_fd(struct pl_args *a, const char *name, int fd, int target, struct err *e)
{
	if (a->nr_fds == RUN_MAX_FDS)
		return err_set(e, EXIT_USAGE, "a stage would get more than %d fds", RUN_MAX_FDS);
	a->fds[a->nr_fds++] = (struct run_fd){ name, fd, target };
	return 0;
}

static int pl_chan_index(const struct pipeline *pl, const char *name)
{
	for (int k = 0; k < pl->nr_chans; k++)
		if (!strcmp(pl->chans[k].name, name))
			return k;
	return -1;
}

int pl_chan_take(struct pl_ctx *c, const char *name)
{
	int k = pl_chan_index(c->pl, name), end, fd;

	/* The driver keeps at most one end of a channel: the one no stage takes. */
	if (k < 0)
		return -1;
	end = c->pl->chans[k].end[0] ? 1 : 0;
	fd = c->chan[k][end];
	c->chan[k][end] = -1;
	return fd;
}

struct run_stage *pl_stage(struct pl_ctx *c, const char *stage)
{
	for (int i = 0; i < c->pl->nr_rows; i++)
		if (!strcmp(c->pl->rows[i].stage, stage))
			return c->started[i] ? &c->st[i] : NULL;
	return NULL;
}

static void pl_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int pl_open_chans(struct pl_ctx *c, struct err *e)
{
	for (int k = 0; k < c->pl->nr_chans; k++) {
		const struct pl_chan *ch = &c->pl->chans[k];
		int ret = ch->pipe ? pipe2(c->chan[k], O_CLOEXEC)
				   : socketpair(AF_UNIX, (ch->stream ? SOCK_STREAM : SOCK_SEQPACKET) | SOCK_CLOEXEC, 0,
						c->chan[k]);

		if (ret < 0)
			return err_errno(e, "make the %s %s", ch->name, ch->pipe ? "pipe" : "socket");
	}
	return 0;
}

/* Closes the driver's copies of the ends row i takes: it has them now (or
 * was skipped), and a copy kept here would hide the end of the stream
 * from the stage at the other end. */
static void pl_close_ends_of(struct pl_ctx *c, int i)
{
	for (int k = 0; k < c->pl->nr_chans; k++)
		for (int end = 0; end < 2; end++)
			if (c->pl->chans[k].end[end] && !strcmp(c->pl->chans[k].end[end], c->pl->rows[i].stage))
				pl_close(&c->chan[k][end]);
}

/* Whether the row of stage 'stage' is skipped in this run. */
static bool pl_stage_skipped(struct pl_ctx *c, const char *stage)
{
	for (int i = 0; i < c->pl->nr_rows; i++)
		if (!strcmp(c->pl->rows[i].stage, stage))
			return c->pl->rows[i].skip && c->pl->rows[i].skip(c);
	return false;
}

/* Builds row i's command line: fixed arguments, channel ends, options. */
static int pl_build_args(struct pl_ctx *c, int i, struct pl_args *a, struct err *e)
{
	const struct pl_row *row = &c->pl->rows[i];
	int ret;

	a->argc = a->nr_fds = 0;
	a->used = 0;
	a->argv[0] = NULL;
	for (int j = 0; row->args && row->args[j]; j++)
		if ((ret = pl_arg(a, row->args[j], e)) < 0)
			return ret;
	for (int k = 0; k < c->pl->nr_chans; k++)
		for (int end = 0; end < 2; end++) {
			const struct pl_chan *ch = &c->pl->chans[k];

			/* No peer: the stage runs as if the channel did not exist. */
			if (ch->end[!end] && pl_stage_skipped(c, ch->end[!end]))
				continue;
			if (ch->end[end] && !strcmp(ch->end[end], row->stage) &&
			    (ret = pl_fd(a, ch->name, c->chan[k][end], ch->target, e)) < 0)
				return ret;
		}
	return row->more_args ? row->more_args(c, a, e) : 0;
}

/* The rerun script's note for a stage whose replay reruns a producer. */
static void pl_rerun_note(const struct pipeline *pl, const char *stage, char *buf, size_t size)
{
	buf[0] = 0;
	for (int k = 0; k < pl->nr_chans; k++)
		for (int end = 0; end < 2; end++) {
			const struct pl_chan *ch = &pl->chans[k];

			if (ch->end[end] && !strcmp(ch->end[end], stage) && ch->replay[end] == PL_REPLAY_PRODUCER)
				snprintf(buf, size, "# It reruns %s first, for its %s: if that was given the\n"
					 "# restorer's fds (see rerun-%s.sh), give them here too.\n",
					 ch->end[!end], ch->name, ch->end[!end]);
		}
}

/* The stages that run now (started, not yet reaped), for run_wait. */
static int pl_running(struct pl_ctx *c, struct run_stage **v)
{
	int n = 0;

	for (int i = 0; i < c->pl->nr_rows; i++)
		if (c->started[i] && c->st[i].pid > 0)
			v[n++] = &c->st[i];
	return n;
}

static int pl_wait_for(struct pl_ctx *c, int i, bool stream, struct err *e)
{
	struct run_stage *v[PL_MAX_ROWS];
	int n = pl_running(c, v);

	return run_wait(c->r, v, n, &c->st[i], stream, e);
}

static int pl_start_row(struct pl_ctx *c, int i, struct err *e)
{
	const struct pl_row *row = &c->pl->rows[i];
	struct pl_args *a = malloc(sizeof(*a));
	char note[512];
	int ret;

	if (!a)
		return err_errno(e, "build the command line of stage '%s'", row->stage);
	c->started[i] = true;
	ret = row->before ? row->before(c, e) : 0;
	if (ret == 0)
		ret = pl_build_args(c, i, a, e);
	pl_rerun_note(c->pl, row->stage, note, sizeof(note));
	c->r->rerun_note = note;
	if (ret == 0)
		ret = run_start(c->r, &c->st[i], row->stage, a->argv, a->fds, a->nr_fds, e);
	c->r->rerun_note = NULL;
	pl_close_ends_of(c, i);
	free(a);
	if (ret < 0)
		return ret;
	if (row->wait == PL_BESIDE)
		return 0;
	return pl_wait_for(c, i, row->wait == PL_STREAM, e);
}

int pl_run_extra(struct pl_ctx *c, const char *stage, const char *const *args, struct err *e)
{
	struct run_stage st, *self = &st, *blamed = c->r->failed;
	int ret;

	memset(&st, 0, sizeof(st));
	st.out_fd = st.err_fd = st.out_rec = st.log_rec = st.pid_fd = -1;
	if ((ret = run_start(c->r, &st, stage, args, NULL, 0, e)) == 0)
		ret = run_wait(c->r, &self, 1, self, false, e);
	run_reap(&st, ret < 0);
	/* run_wait blames st, which goes out of scope here. */
	c->r->failed = blamed;
	return ret;
}

/* Waits for every started stage to end: first the ones that are not held,
 * in order, then the pipeline's finish, then the held ones, last started
 * first, each told that all went well. */
static int pl_join(struct pl_ctx *c, struct err *e)
{
	int ret;

	for (int i = 0; i < c->pl->nr_rows; i++)
		if (c->started[i] && !c->pl->rows[i].release && (ret = pl_wait_for(c, i, false, e)) < 0)
			return ret;
	if (c->pl->finish && (ret = c->pl->finish(c, e)) < 0)
		return ret;
	for (int i = c->pl->nr_rows - 1; i >= 0; i--) {
		if (!c->started[i] || !c->pl->rows[i].release)
			continue;
		if (!c->t_released)
			c->t_released = run_now();
		if ((ret = c->pl->rows[i].release(c, true, e)) < 0 || (ret = pl_wait_for(c, i, false, e)) < 0) {
			/* The work is done; only the held stage's end went wrong. */
			c->held_failed = i;
			return ret;
		}
	}
	return 0;
}

/* After a failure: stop every stage that is not held, then undo, last
 * started first; a held stage is asked to end unless it failed itself. */
static void pl_roll_back(struct pl_ctx *c)
{
	for (int i = 0; i < c->pl->nr_rows; i++)
		if (c->started[i] && (!c->pl->rows[i].release || c->failed == i))
			run_reap(&c->st[i], true);
	for (int i = c->pl->nr_rows - 1; i >= 0; i--) {
		const struct pl_row *row = &c->pl->rows[i];

		if (!c->started[i])
			continue;
		if (row->release && c->failed != i) {
			struct err e2 = { 0 };

			struct run_stage *self = &c->st[i];

			/* Only it: the others are stopped, and their ends were reported. */
			if (row->release(c, false, &e2) < 0 || run_wait(c->r, &self, 1, self, false, &e2) < 0) {
				drv_error("%s", e2.msg);
				c->held_failed = i;
			}
		}
		if (row->rollback)
			row->rollback(c);
	}
}

/* The row of the stage run_wait blamed, or -1 for the driver's own steps. */
static int pl_row_of(struct pl_ctx *c, const struct run_stage *s)
{
	for (int i = 0; s && i < c->pl->nr_rows; i++)
		if (s == &c->st[i])
			return i;
	return -1;
}

static double pl_cpu(const struct rusage *ru)
{
	return ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6 + ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
}

/* --timings: one line per stage that ran, then the frozen and total times,
 * on stderr (what the command prints on stdout stays as it was). */
static void pl_print_timings(struct pl_ctx *c, double ended)
{
	double cpu = 0, frozen = -1;

	fprintf(stderr, "timings of amber %s (seconds):\n  %-16s %8s %8s %8s\n", c->pl->command, "stage", "start",
		"wall", "cpu");
	for (int i = 0; i < c->pl->nr_rows; i++) {
		const struct run_stage *s = &c->st[i];

		if (!c->started[i] || s->pid <= 0)
			continue;
		fprintf(stderr, "  %-16s %8.3f %8.3f %8.3f\n", s->name, s->started - c->t_start, (s->ended ? s->ended : ended) - s->started,
			pl_cpu(&s->ru));
		cpu += pl_cpu(&s->ru);
		if (c->pl->rows[i].release && c->t_released)
			frozen = c->t_released - s->started;
	}
	if (frozen >= 0)
		fprintf(stderr, "  %-16s %8s %8.3f\n", "frozen", "", frozen);
	fprintf(stderr, "  %-16s %8s %8.3f %8.3f\n", "total", "", ended - c->t_start, cpu);
}

int pl_run(const struct pipeline *pl, struct run *r, const struct drv_opts *o, void *cmd, struct err *e)
{
	struct pl_ctx *c = calloc(1, sizeof(*c));
	int ret = 0;

	if (!c)
		return err_errno(e, "start the %s pipeline", pl->command);
	c->pl = pl;
	c->r = r;
	c->o = o;
	c->cmd = cmd;
	c->failed = c->held_failed = -1;
	c->t_start = run_now();
	for (int k = 0; k < PL_MAX_CHANS; k++)
		c->chan[k][0] = c->chan[k][1] = -1;
	for (int i = 0; i < PL_MAX_ROWS; i++)
		c->st[i].out_fd = c->st[i].err_fd = c->st[i].out_rec = c->st[i].log_rec = c->st[i].pid_fd = -1;
	r->failed = NULL;
	ret = pl_open_chans(c, e);
	for (int i = 0; ret == 0 && i < pl->nr_rows; i++) {
		if (pl->rows[i].skip && pl->rows[i].skip(c)) {
			pl_close_ends_of(c, i);
			continue;
		}
		ret = pl_start_row(c, i, e);
	}
	if (ret == 0)
		ret = pl_join(c, e);
	if (ret < 0 && c->held_failed < 0) {
		c->failed = pl_row_of(c, r->failed);
		run_report_failure(r, c->failed >= 0 ? &c->st[c->failed] : NULL, e);
		pl_roll_back(c);
		if (pl->failed)
			pl->failed(c);
	} else if (ret < 0) {
		run_report_failure(r, NULL, e);
	}
	for (int k = 0; k < PL_MAX_CHANS; k++) {
		pl_close(&c->chan[k][0]);
		pl_close(&c->chan[k][1]);
	}
	for (int i = 0; i < pl->nr_rows; i++)
		if (c->started[i])
			run_reap(&c->st[i], false);
	if (o && o->timings)
		pl_print_timings(c, run_now());
	free(c);
	return ret;
}

enum pl_replay pl_replay_of(const char *stage, const char *chan, const char **peer, int *target)
{
	for (const struct pipeline *const *p = pl_all(); *p; p++)
		for (int k = 0; k < (*p)->nr_chans; k++)
			for (int end = 0; end < 2; end++) {
				const struct pl_chan *ch = &(*p)->chans[k];

				if (strcmp(ch->name, chan) || !ch->end[end] || strcmp(ch->end[end], stage))
					continue;
				*peer = ch->end[!end];
				*target = ch->target;
				return ch->replay[end];
			}
	return PL_REPLAY_NONE;
}

/* Whether row names stage: as its own, its rollback's or a side stage. */
static bool pl_row_names(const struct pl_row *row, const char *stage)
{
	if (!strcmp(row->stage, stage) || (row->rollback_stage && !strcmp(row->rollback_stage, stage)))
		return true;
	for (int k = 0; k < 2; k++)
		if (row->side_stages[k] && !strcmp(row->side_stages[k], stage))
			return true;
	return false;
}

bool pl_knows(const char *stage)
{
	for (const struct pipeline *const *p = pl_all(); *p; p++)
		for (int i = 0; i < (*p)->nr_rows; i++)
			if (pl_row_names(&(*p)->rows[i], stage))
				return true;
	return false;
}

static const char *pl_wait_name(const struct pl_row *row)
{
	if (row->release)
		return "its stream, then held until release";
	return row->wait == PL_EXIT ? "its exit" : row->wait == PL_STREAM ? "its stream; joined at the end"
									 : "runs beside the next; joined at the end";
}

/* The fds a row takes, as "name, name (option)". */
static void pl_fds_of(const struct pipeline *pl, const struct pl_row *row, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = 0;
	for (int k = 0; k < pl->nr_chans; k++)
		for (int end = 0; end < 2; end++)
			if (pl->chans[k].end[end] && !strcmp(pl->chans[k].end[end], row->stage) && n < size)
				n += snprintf(buf + n, size - n, "%s%s", n ? ", " : "", pl->chans[k].name);
	if (row->opt_fds && n < size)
		snprintf(buf + n, size - n, "%s%s", n ? ", " : "", row->opt_fds);
}

/* Whether stage 'name' (of row i of pipeline p) was named by an earlier row. */
static bool pl_listed_before(const struct pipeline *const *all, int p, int i, const char *name)
{
	for (int q = 0; q <= p; q++)
		for (int j = 0; j < (q < p ? all[q]->nr_rows : i); j++)
			if (pl_row_names(&all[q]->rows[j], name))
				return true;
	return false;
}

void pl_print_list(FILE *f)
{
	const struct pipeline *const *all = pl_all();

	/* Each stage once, where it first appears. */
	for (int p = 0; all[p]; p++)
		for (int i = 0; i < all[p]->nr_rows; i++) {
			bool seen = false;

			for (int q = 0; q <= p && !seen; q++)
				for (int j = 0; j < (q < p ? all[q]->nr_rows : i) && !seen; j++)
					seen = !strcmp(all[q]->rows[j].stage, all[p]->rows[i].stage);
			if (!seen)
				fprintf(f, "%s\n", all[p]->rows[i].stage);
			if (all[p]->rows[i].rollback_stage && !pl_listed_before(all, p, i, all[p]->rows[i].rollback_stage))
				fprintf(f, "%s\n", all[p]->rows[i].rollback_stage);
			for (int k = 0; k < 2; k++)
				if (all[p]->rows[i].side_stages[k] && !pl_listed_before(all, p, i, all[p]->rows[i].side_stages[k]))
					fprintf(f, "%s\n", all[p]->rows[i].side_stages[k]);
		}
}

void pl_print_help(FILE *f)
{
	fprintf(f, "usage: amber stage NAME [--replay RUNDIR] [stage options]\n"
		   "       amber stage --help | --list | --table\n"
		   "Runs one stage by hand (libexec/amber/amber-NAME; each has --help). With --replay it\n"
		   "gets the input the driver recorded in RUNDIR and stand-ins for its peers' fds.\n"
		   "AMBER_WRAP='strace -f' or AMBER_WRAP='gdb --args' runs it under a tool.\n");
	for (const struct pipeline *const *p = pl_all(); *p; p++) {
		fprintf(f, "\n%s: %s\n", (*p)->command, (*p)->shape);
		for (int i = 0; i < (*p)->nr_rows; i++) {
			fprintf(f, "  %-15s %s\n", (*p)->rows[i].stage, (*p)->rows[i].does);
			if ((*p)->rows[i].rollback_stage)
				fprintf(f, "  %-15s (%s's rollback) %s\n", (*p)->rows[i].rollback_stage, (*p)->rows[i].stage,
					(*p)->rows[i].rollback_stage_does);
			for (int k = 0; k < 2; k++)
				if ((*p)->rows[i].side_stages[k])
					fprintf(f, "  %-15s (started with %s) %s\n", (*p)->rows[i].side_stages[k],
						(*p)->rows[i].stage, (*p)->rows[i].side_stages_does[k]);
		}
	}
}

static void pl_cell(FILE *f, const char *s)
{
	fputs("| ", f);
	for (; s && *s; s++) {
		if (*s == '|')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc(' ', f);
}

void pl_print_table(FILE *f)
{
	for (const struct pipeline *const *p = pl_all(); *p; p++) {
		fprintf(f, "### %s\n\n    %s\n\n", (*p)->command, (*p)->shape);
		fprintf(f, "| stage | does | reads | writes | fds | waits for | skipped | rollback |\n"
			   "|---|---|---|---|---|---|---|---|\n");
		for (int i = 0; i < (*p)->nr_rows; i++) {
			const struct pl_row *row = &(*p)->rows[i];
			char fds[256];

			pl_fds_of(*p, row, fds, sizeof(fds));
			fprintf(f, "| `%s` ", row->stage);
			pl_cell(f, row->does);
			pl_cell(f, row->reads);
			pl_cell(f, row->writes);
			pl_cell(f, fds[0] ? fds : "-");
			pl_cell(f, pl_wait_name(row));
			pl_cell(f, row->skip_doc ? row->skip_doc : "never");
			pl_cell(f, row->rollback_doc ? row->rollback_doc : "-");
			fputs("|\n", f);
		}
		if ((*p)->nr_chans) {
			fprintf(f, "\n| channel | ends | what | a replayed stage gets |\n|---|---|---|---|\n");
			for (int k = 0; k < (*p)->nr_chans; k++) {
				const struct pl_chan *ch = &(*p)->chans[k];
				static const char *const how[] = { "nothing", "a drain", "its producer rerun" };

				const char *a = ch->end[0] ? ch->end[0] : "driver", *b = ch->end[1] ? ch->end[1] : "driver";

				fprintf(f, "| `%s` | %s, %s ", ch->name, a, b);
				pl_cell(f, ch->what);
				fprintf(f, "| %s: %s; %s: %s |\n", a, ch->end[0] ? how[ch->replay[0]] : "-", b,
					ch->end[1] ? how[ch->replay[1]] : "-");
			}
		}
		fputc('\n', f);
	}
}
