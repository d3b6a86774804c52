/* test_drv_pipeline: driver/pipeline.c, the one runner of the stage tables.
 *
 * The stages are this program itself: AMBER_LIBEXEC points at a directory
 * of links amber-fake-NAME -> this binary, and run as amber-fake-NAME it
 * behaves as a stage (writes an empty state stream, checks the fds it was
 * named, and fails or lingers when the environment says so). So the runner
 * is tested on real processes, pipes and run directories, not on mocks.
 */
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "driver/pipeline.h"
#include "lib/exitcodes.h"
#include "ipc/fds.h"
#include "ipc/stream.h"
#include "tests/unit/unit.h"

/* ---- the fake stage ---------------------------------------------------- */

/* Appends "NAME " to $FAKE_LOG: the order the stages really ran in. */
static void fake_note(const char *name, const char *what)
{
	const char *log = getenv("FAKE_LOG");
	int fd = log ? open(log, O_WRONLY | O_APPEND | O_CREAT, 0600) : -1;

	if (fd >= 0) {
		dprintf(fd, "%s%s ", what, name);
		close(fd);
	}
}

static bool fake_is(const char *env, const char *name)
{
	const char *v = getenv(env);

	return v && !strcmp(v, name);
}

static int fake_stage(const char *name, int argc, char **argv)
{
	struct stream_out out;
	struct err e = { 0 };
	int control = -1;

	fake_note(name, "");
	for (int i = 1; i + 1 < argc; i++) {
		char chan[32];
		int fd;

		if (strcmp(argv[i], "--fd") || sscanf(argv[i + 1], "%31[^=]=%d", chan, &fd) != 2)
			continue;
		if (fcntl(fd, F_GETFD) < 0) {
			fprintf(stderr, "(  0.000000) fake-%s: E: fd %s=%d is not open\n", name, chan, fd);
			return EXIT_PROTOCOL;
		}
		if (!strcmp(chan, FD_NAME_CONTROL))
			control = fd;
	}
	if (fake_is("FAKE_FAIL", name)) {
		fprintf(stderr, "(  0.000000) fake-%s: E: fake failure of %s\n", name, name);
		return EXIT_INPUT;
	}
	if (fake_is("FAKE_SLOW", name))
		usleep(300 * 1000);
	if (stream_out_open(&out, 1, name, &e) < 0 || stream_out_end(&out, &e) < 0)
		return EXIT_SYSTEM;
	if (control >= 0) {
		/* A held stage: its verdict comes after its stream. */
		char line[64] = "";
		ssize_t n = read(control, line, sizeof(line) - 1);

		line[n > 0 ? n : 0] = 0;
		line[strcspn(line, "\n")] = 0;
		fake_note(line[0] ? line : "eof", "verdict:");
	}
	return 0;
}

/* ---- the pipelines under test ------------------------------------------ */

/* What the hooks saw, in order ("rb:NAME" rollback, "rel:NAME:ok|fail", ...). */
static char events[1024];

static void event(const char *fmt, const char *name)
{
	size_t n = strlen(events);

	snprintf(events + n, sizeof(events) - n, fmt, name);
	strncat(events, " ", sizeof(events) - strlen(events) - 1);
}

static void rb_a(struct pl_ctx *c) { event("rb:%s", "a"); }
static void rb_b(struct pl_ctx *c) { event("rb:%s", "b"); }
static void rb_c(struct pl_ctx *c) { event("rb:%s", "c"); }
static void rb_held(struct pl_ctx *c) { event("rb:%s", "held"); }

static int rel_held(struct pl_ctx *c, bool ok, struct err *e)
{
	int fd = pl_chan_take(c, FD_NAME_CONTROL);

	event(ok ? "rel:%s:ok" : "rel:%s:fail", "held");
	if (fd >= 0 && write(fd, ok ? "release kill\n" : "release resume\n", ok ? 13 : 15) < 0)
		return err_errno(e, "write the verdict");
	if (fd >= 0)
		close(fd);
	return 0;
}

static int finish(struct pl_ctx *c, struct err *e) { event("%s", "finish"); return 0; }
static int finish_fails(struct pl_ctx *c, struct err *e) { event("%s", "finish"); return err_input(e, "the finish failed"); }
static int before_fails(struct pl_ctx *c, struct err *e) { return err_input(e, "the before hook of c failed"); }
static void failed(struct pl_ctx *c)
{
	char buf[32];

	/* A '!' would say the held stage's own end went wrong too. */
	snprintf(buf, sizeof(buf), "failed:%d%s", c->failed, c->held_failed >= 0 ? "!" : "");
	event("%s", buf);
}
static bool skip_always(const struct pl_ctx *c) { return true; }

static const struct pl_chan chans[] = {
	{ FD_NAME_CONTROL, FD_DEF_CONTROL, true, .end = { "fake-held", NULL }, .replay = { PL_REPLAY_NONE, PL_REPLAY_NONE }, .what = "verdict" },
	{ FD_NAME_FILES, FD_DEF_FILES, false, .end = { "fake-a", "fake-c" }, .replay = { PL_REPLAY_DRAIN, PL_REPLAY_PRODUCER }, .what = "files" },
};

/* held (stream, held) -> a (exit) -> b (beside) -> c (exit) -> finish -> release held */
static struct pl_row rows[] = {
	{ .stage = "fake-held", .does = "held", .wait = PL_STREAM, .release = rel_held, .rollback = rb_held },
	{ .stage = "fake-a", .does = "a", .wait = PL_EXIT, .rollback = rb_a },
	{ .stage = "fake-b", .does = "b", .wait = PL_BESIDE, .rollback = rb_b },
	{ .stage = "fake-c", .does = "c", .wait = PL_EXIT, .rollback = rb_c },
};

static struct pipeline test_pl = {
	.command = "test", .shape = "held -> a -> { b, c } -> release",
	.rows = rows, .nr_rows = 4, .chans = chans, .nr_chans = 2,
	.finish = finish, .failed = failed,
};

/* A scratch images dir, libexec of links to this binary, and the log. */
struct setup {
	char dir[64], images[128], libexec[128], log[128], run[128];
};

static void setup(struct setup *s)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *names[] = { "fake-held", "fake-a", "fake-b", "fake-c" };

	REQUIRE(n > 0);
	self[n] = 0;
	snprintf(s->dir, sizeof(s->dir), "%s", unit_tmpdir());
	snprintf(s->images, sizeof(s->images), "%s/img", s->dir);
	snprintf(s->libexec, sizeof(s->libexec), "%s/libexec", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/log", s->dir);
	snprintf(s->run, sizeof(s->run), "%s/run", s->dir);
	REQUIRE(mkdir(s->images, 0700) == 0 && mkdir(s->libexec, 0700) == 0);
	for (size_t i = 0; i < UNIT_ARRAY_SIZE(names); i++) {
		char link[256];

		snprintf(link, sizeof(link), "%s/amber-%s", s->libexec, names[i]);
		REQUIRE(symlink(self, link) == 0);
	}
	setenv("AMBER_LIBEXEC", s->libexec, 1);
	setenv("FAKE_LOG", s->log, 1);
	unsetenv("FAKE_FAIL");
	unsetenv("FAKE_SLOW");
	unsetenv("AMBER_TEST_FAIL_STAGE");
	events[0] = 0;
}

static int run_pipeline(struct setup *s, struct err *e)
{
	struct run r;
	struct drv_opts o;
	int ret;

	memset(&o, 0, sizeof(o));
	if (run_init(&r, "test", s->images, s->run, 0, NULL, e) < 0)
		return -1;
	ret = pl_run(&test_pl, &r, &o, NULL, e);
	run_free(&r);
	return ret;
}

static void slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, size - 1) : 0;

	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

/* No stage of the run may outlive it. */
static void check_no_children(void)
{
	CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
}

/* ---- cases ------------------------------------------------------------- */

/* All succeed: stages run in table order, the held one gets its verdict
 * after finish, nothing is rolled back, and the channels reach both ends. */
static void pipeline_success(void)
{
	struct setup s;
	struct err e = { 0 };
	char log[512];

	setup(&s);
	CHECK_INT(run_pipeline(&s, &e), 0);
	slurp(s.log, log, sizeof(log));
	/* b runs beside c: the two may note themselves in either order. */
	CHECK(!strncmp(log, "fake-held fake-a ", 17));
	CHECK_CONTAINS(log, "fake-b");
	CHECK_CONTAINS(log, "fake-c");
	CHECK_CONTAINS(log, "verdict:release kill");
	CHECK_STR(events, "finish rel:held:ok ");
	check_no_children();
	unit_rmtree(s.dir);
}

/* A failed stage: it is named, everything started is rolled back last
 * first, the held stage is released (not killed), and its rerun script
 * replays it. */
static void pipeline_failure_rolls_back_in_reverse(void)
{
	struct setup s;
	struct err e = { 0 };
	char log[512], script[4096], path[256];

	setup(&s);
	setenv("FAKE_FAIL", "fake-c", 1);
	CHECK(run_pipeline(&s, &e) < 0);
	CHECK_INT(e.exit_code, EXIT_INPUT);
	CHECK_CONTAINS(e.msg, "stage 'fake-c' failed");
	CHECK_CONTAINS(e.msg, "fake failure of fake-c");
	CHECK_STR(events, "rb:c rb:b rb:a rel:held:fail rb:held failed:3 ");
	slurp(s.log, log, sizeof(log));
	CHECK_CONTAINS(log, "verdict:release resume");
	snprintf(path, sizeof(path), "%s/rerun-fake-c.sh", s.run);
	slurp(path, script, sizeof(script));
	CHECK_CONTAINS(script, "stage fake-c --replay");
	/* fake-c takes a channel whose producer a replay reruns: the script says so. */
	CHECK_CONTAINS(script, "It reruns fake-a first");
	check_no_children();
	unit_rmtree(s.dir);
}

/* The first stage fails while the others have not started: only it is
 * rolled back, and the held stage is killed, not asked. */
static void pipeline_held_stage_fails_itself(void)
{
	struct setup s;
	struct err e = { 0 };
	char log[512];

	setup(&s);
	setenv("FAKE_FAIL", "fake-held", 1);
	CHECK(run_pipeline(&s, &e) < 0);
	CHECK_CONTAINS(e.msg, "stage 'fake-held' failed");
	CHECK_STR(events, "rb:held failed:0 ");
	slurp(s.log, log, sizeof(log));
	CHECK_STR(log, "fake-held ");
	check_no_children();
	unit_rmtree(s.dir);
}

/* A stage beside the others fails after they are done: it is blamed, not
 * the one being waited for. */
static void pipeline_beside_stage_is_blamed(void)
{
	struct setup s;
	struct err e = { 0 };

	setup(&s);
	setenv("FAKE_FAIL", "fake-b", 1);
	setenv("FAKE_SLOW", "fake-c", 1);
	CHECK(run_pipeline(&s, &e) < 0);
	CHECK_CONTAINS(e.msg, "stage 'fake-b' failed");
	CHECK_CONTAINS(events, "failed:2");
	check_no_children();
	unit_rmtree(s.dir);
}

/* A driver step fails (a before hook, the finish): no stage is blamed, so
 * no rerun is offered, and what started is rolled back. */
static void pipeline_driver_step_fails(void)
{
	struct setup s;
	struct err e = { 0 };

	setup(&s);
	rows[3].before = before_fails;
	CHECK(run_pipeline(&s, &e) < 0);
	rows[3].before = NULL;
	CHECK_CONTAINS(e.msg, "the before hook of c failed");
	CHECK_STR(events, "rb:c rb:b rb:a rel:held:fail rb:held failed:-1 ");
	events[0] = 0;
	test_pl.finish = finish_fails;
	CHECK(run_pipeline(&s, &e) < 0);
	test_pl.finish = finish;
	CHECK_STR(events, "finish rb:c rb:b rb:a rel:held:fail rb:held failed:-1 ");
	check_no_children();
	unit_rmtree(s.dir);
}

/* A stage killed by a signal (AMBER_TEST_FAIL_STAGE) is named with it. */
static void pipeline_killed_stage(void)
{
	struct setup s;
	struct err e = { 0 };

	setup(&s);
	setenv("AMBER_TEST_FAIL_STAGE", "fake-a", 1);
	CHECK(run_pipeline(&s, &e) < 0);
	CHECK_CONTAINS(e.msg, "stage 'fake-a' was killed by signal 9");
	CHECK_STR(events, "rb:a rel:held:fail rb:held failed:1 ");
	check_no_children();
	unit_rmtree(s.dir);
}

/* A skipped row is not run, and the channel end it would take is closed
 * so its peer is not left waiting. */
static void pipeline_skip(void)
{
	struct setup s;
	struct err e = { 0 };
	char log[512];

	setup(&s);
	rows[1].skip = skip_always;
	CHECK_INT(run_pipeline(&s, &e), 0);
	rows[1].skip = NULL;
	slurp(s.log, log, sizeof(log));
	CHECK(!strncmp(log, "fake-held fake-", 15));
	CHECK_CONTAINS(log, "fake-b");
	CHECK_CONTAINS(log, "fake-c");
	CHECK(!strstr(log, "fake-a"));
	unit_rmtree(s.dir);
}

/* run_start refuses fds that would collide or land outside ipc/fds.h's ranges. */
static void pipeline_fd_collision(void)
{
	struct setup s;
	struct run r;
	struct run_stage st;
	struct err e = { 0 };
	struct run_fd two[2] = { { "files", 0, FD_DEF_FILES }, { "hidden", 1, FD_DEF_FILES } };
	struct run_fd low[1] = { { "files", 0, 2 } };

	setup(&s);
	REQUIRE(run_init(&r, "test", s.images, s.run, 0, NULL, &e) == 0);
	CHECK(run_start(&r, &st, "fake-a", NULL, two, 2, &e) < 0);
	CHECK_CONTAINS(e.msg, "files and hidden would both be fd 11");
	CHECK(run_start(&r, &st, "fake-a", NULL, low, 1, &e) < 0);
	CHECK_CONTAINS(e.msg, "would be fd 2");
	run_free(&r);
	check_no_children();
	unit_rmtree(s.dir);
}

/* The real tables: every stage they name exists as a folder, every
 * channel's ends are rows of its pipeline, and the replay policies are
 * found by stage and channel. */
static void pipeline_tables_are_consistent(void)
{
	const char *peer = NULL;
	int target = 0;

	for (const struct pipeline *const *p = pl_all(); *p; p++) {
		for (int i = 0; i < (*p)->nr_rows; i++) {
			char path[256];
			struct stat st;

			snprintf(path, sizeof(path), "stages/%s/main.c", (*p)->rows[i].stage);
			CHECK(stat(path, &st) == 0);
		}
		for (int k = 0; k < (*p)->nr_chans; k++)
			for (int end = 0; end < 2; end++) {
				const char *s = (*p)->chans[k].end[end];
				bool found = !s;

				for (int i = 0; s && i < (*p)->nr_rows; i++)
					found |= !strcmp((*p)->rows[i].stage, s);
				CHECK(found);
			}
	}
	CHECK_INT(pl_replay_of("restore-tasks", FD_NAME_FILES, &peer, &target), PL_REPLAY_PRODUCER);
	CHECK_STR(peer, "restore-files");
	CHECK_INT(target, FD_DEF_FILES);
	CHECK_INT(pl_replay_of("restore-files", FD_NAME_FILES, &peer, &target), PL_REPLAY_DRAIN);
	CHECK_INT(pl_replay_of("collect-pstree", FD_NAME_FILES, &peer, &target), PL_REPLAY_NONE);
	CHECK(pl_knows("gc-remaps") && !pl_knows("no-such-stage"));
}

static const struct unit_case cases[] = {
	UNIT_CASE(pipeline_success),
	UNIT_CASE(pipeline_failure_rolls_back_in_reverse),
	UNIT_CASE(pipeline_held_stage_fails_itself),
	UNIT_CASE(pipeline_beside_stage_is_blamed),
	UNIT_CASE(pipeline_driver_step_fails),
	UNIT_CASE(pipeline_killed_stage),
	UNIT_CASE(pipeline_skip),
	UNIT_CASE(pipeline_fd_collision),
	UNIT_CASE(pipeline_tables_are_consistent),
};

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');

	base = base ? base + 1 : argv[0];
	if (!strncmp(base, "amber-", 6))
		return fake_stage(base + 6, argc, argv);
	return unit_run(cases, UNIT_ARRAY_SIZE(cases), argc, argv);
}
