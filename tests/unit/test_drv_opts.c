/* test_drv_opts: driver/opts.c, each subcommand's own options.
 *
 * Every subcommand parses through one table of which command takes which
 * option; these cases pin what each accepts and that the rest are refused
 * with a usage error naming the option, the subcommand and its owners. */
#include <fcntl.h>

#include "driver/driver.h"
#include "driver/opts.h"
#include "lib/exitcodes.h"
#include "tests/unit/unit.h"

/* Parses a NULL-terminated command line; its stderr goes to 'out'. */
static int parse(struct drv_opts *o, char *out, size_t size, const char *const *args)
{
	char *argv[32];
	int argc = 0, saved = dup(2), pipefd[2], ret;
	ssize_t n;

	while (args[argc] && argc < 31) {
		argv[argc] = (char *)args[argc];
		argc++;
	}
	argv[argc] = NULL;
	if (pipe(pipefd) < 0)
		return -100;
	dup2(pipefd[1], 2);
	close(pipefd[1]);
	drv_set_command(argv[0]);
	ret = drv_parse(argc, argv, o);
	dup2(saved, 2);
	close(saved);
	n = read(pipefd[0], out, size - 1);
	out[n > 0 ? n : 0] = 0;
	close(pipefd[0]);
	return ret;
}

#define PARSE(o, out, ...) parse(o, out, sizeof(out), (const char *const[]){ __VA_ARGS__, NULL })

/* The example: dump takes neither --pidns nor --show. */
static void opts_dump_refuses_other_commands_options(void)
{
	struct drv_opts o;
	char err[1024];

	CHECK_INT(PARSE(&o, err, "dump", "-t", "1", "-D", "/tmp", "--pidns", "--show"), EXIT_USAGE);
	CHECK_CONTAINS(err, "amber dump: --pidns is not an option of 'amber dump', only of amber restore");
	CHECK_INT(PARSE(&o, err, "dump", "-t", "1", "-D", "/tmp", "--show"), EXIT_USAGE);
	CHECK_CONTAINS(err, "--show is not an option of 'amber dump', only of amber gc");
	CHECK_INT(PARSE(&o, err, "dump", "-D", "/tmp", "-d"), EXIT_USAGE);
	CHECK_CONTAINS(err, "--restore-detached (-d) is not an option of 'amber dump'");
}

static void opts_restore_and_gc_refuse_dump_options(void)
{
	struct drv_opts o;
	char err[1024];

	CHECK_INT(PARSE(&o, err, "restore", "-D", "/tmp", "-t", "5"), EXIT_USAGE);
	CHECK_CONTAINS(err, "amber restore: --tree (-t) is not an option of 'amber restore', only of amber dump");
	CHECK_INT(PARSE(&o, err, "restore", "-D", "/tmp", "--leave-running"), EXIT_USAGE);
	CHECK_INT(PARSE(&o, err, "restore", "-D", "/tmp", "--ghost-limit", "5"), EXIT_USAGE);
	CHECK_INT(PARSE(&o, err, "gc", "-D", "/tmp", "--shell-job"), EXIT_USAGE);
	CHECK_CONTAINS(err, "only of amber dump, amber restore");
	CHECK_INT(PARSE(&o, err, "gc", "-D", "/tmp", "--pidfile", "x"), EXIT_USAGE);
}

/* What each command does take, and the values it keeps. */
static void opts_each_command_takes_its_own(void)
{
	struct drv_opts o;
	char err[1024];

	CHECK_INT(PARSE(&o, err, "dump", "-t", "42", "-D", "/tmp", "--leave-running", "--keep-link-remaps",
			"--ghost-limit", "1M", "--file-locks", "--shell-job", "-v4", "-o", "/tmp/log", "--run-dir", "/tmp/r"), 0);
	CHECK_INT(o.pid, 42);
	CHECK(o.leave_running && o.keep_link_remaps && o.file_locks && o.shell_job);
	CHECK_STR(o.ghost_limit, "1M");
	CHECK_INT(o.verbosity, 4);
	CHECK_STR(o.run_dir, "/tmp/r");
	CHECK_INT(PARSE(&o, err, "restore", "-D", "/tmp", "-d", "--pidns", "--pidfile", "/tmp/p", "--allow-changed-files",
			"--root", "/", "--external", "mnt[n]:/tmp"), 0);
	CHECK(o.detach && o.pidns && o.allow_changed);
	CHECK_STR(o.pidfile, "/tmp/p");
	CHECK_STR(o.root, "/");
	CHECK_INT(o.extmnt.nr, 1);
	CHECK_INT(PARSE(&o, err, "gc", "-D", "/tmp", "--show"), 0);
	CHECK(o.show);
	CHECK_STR(err, "");
}

/* The table itself: the common ones are everyone's, the rest one owner's. */
static void opts_table(void)
{
	CHECK(drv_takes_option("gc", 'D') && drv_takes_option("dump", 'v') && drv_takes_option("restore", 'o'));
	CHECK(drv_takes_option("dump", 't') && !drv_takes_option("restore", 't') && !drv_takes_option("gc", 't'));
	CHECK(drv_takes_option("restore", DRV_OPT_INHERIT_FD) && !drv_takes_option("dump", DRV_OPT_INHERIT_FD));
	CHECK(drv_takes_option("dump", DRV_OPT_EXTERNAL) && drv_takes_option("restore", DRV_OPT_EXTERNAL));
	/* A command whose name is part of another's ("du") is not taken for it. */
	CHECK(!drv_takes_option("du", 't') && !drv_takes_option("gcx", DRV_OPT_SHOW));
	CHECK(drv_option_commands(12345) == NULL);
}

/* Unknown options, stray arguments, bad values and combinations that mean
 * nothing are usage errors that say what is wrong. */
static void opts_usage_errors(void)
{
	struct drv_opts o;
	char err[1024];

	CHECK_INT(PARSE(&o, err, "dump", "-t", "1", "-D", "/tmp", "--no-such"), EXIT_USAGE);
	CHECK_CONTAINS(err, "unknown option '--no-such'");
	CHECK_INT(PARSE(&o, err, "dump", "-t", "1", "-D", "/tmp", "extra"), EXIT_USAGE);
	CHECK_CONTAINS(err, "unexpected argument 'extra'");
	CHECK_INT(PARSE(&o, err, "dump", "-t", "x1", "-D", "/tmp"), EXIT_USAGE);
	CHECK_CONTAINS(err, "-t 'x1' is not a pid");
	CHECK_INT(PARSE(&o, err, "dump", "-t", "1", "-D", "/tmp", "--keep-link-remaps"), EXIT_USAGE);
	CHECK_CONTAINS(err, "--keep-link-remaps only applies with --leave-running");
	CHECK_INT(PARSE(&o, err, "restore", "-D", "/tmp", "--inherit-fd", "fd[99]:pipe:[1]"), EXIT_USAGE);
	CHECK_CONTAINS(err, "fd 99 is not open");
	CHECK_INT(PARSE(&o, err, "dump", "--help"), -1);
}

/* --external veth[IF] at dump and veth[IF]:OUTSIDE at restore go to
 * extveth (for seize and restore-tasks); the wrong shape is a usage error. */
static void opts_external_veth(void)
{
	struct drv_opts o;
	char err[1024];

	CHECK_INT(PARSE(&o, err, "dump", "-t", "1", "-D", "/tmp", "--external", "veth[eth0]", "--external", "mnt[/a]:b"), 0);
	CHECK_INT(o.nr_extveth, 1);
	CHECK_STR(o.extveth[0], "veth[eth0]");
	CHECK_INT(o.extmnt.nr, 1);
	CHECK_INT(PARSE(&o, err, "restore", "-D", "/tmp", "--external", "veth[eth0]:vout0"), 0);
	CHECK_INT(o.nr_extveth, 1);
	CHECK_INT(PARSE(&o, err, "restore", "-D", "/tmp", "--external", "veth[eth0]"), EXIT_USAGE);
	CHECK_CONTAINS(err, "want veth[IFNAME]:OUTSIDE_IFNAME");
	CHECK_INT(PARSE(&o, err, "dump", "-t", "1", "-D", "/tmp", "--external", "veth[eth0]:x"), EXIT_USAGE);
	CHECK_CONTAINS(err, "at dump, want veth[IFNAME] alone");
}

/* --union-root BRANCH=UNION: dump's, repeatable, both paths absolute. */
static void opts_union_root(void)
{
	struct drv_opts o;
	char err[1024];

	CHECK_INT(PARSE(&o, err, "dump", "-t", "1", "-D", "/tmp", "--union-root", "/b0=/u", "--union-root", "/b1=/u"), 0);
	CHECK_INT(o.nr_union_roots, 2);
	CHECK_STR(o.union_roots[1], "/b1=/u");
	CHECK_INT(PARSE(&o, err, "dump", "-t", "1", "-D", "/tmp", "--union-root", "b0=/u"), EXIT_USAGE);
	CHECK_CONTAINS(err, "--union-root 'b0=/u': want BRANCH=UNION, both absolute paths");
	CHECK_INT(PARSE(&o, err, "dump", "-t", "1", "-D", "/tmp", "--union-root", "/b0"), EXIT_USAGE);
	CHECK_INT(PARSE(&o, err, "restore", "-D", "/tmp", "--union-root", "/b0=/u"), EXIT_USAGE);
	CHECK_CONTAINS(err, "only of amber dump");
}

static const struct unit_case cases[] = {
	UNIT_CASE(opts_union_root),
	UNIT_CASE(opts_dump_refuses_other_commands_options),
	UNIT_CASE(opts_restore_and_gc_refuse_dump_options),
	UNIT_CASE(opts_each_command_takes_its_own),
	UNIT_CASE(opts_table),
	UNIT_CASE(opts_usage_errors),
	UNIT_CASE(opts_external_veth),
};

UNIT_MAIN(cases)
