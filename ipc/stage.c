/* stage: see stage.h. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/image.h"
#include "lib/confine.h"
#include "lib/exitcodes.h"
#include "ipc/stage.h"
#include "lib/log.h"

enum { OPT_LOG_FD = 1000, OPT_RUN_DIR, OPT_FD, OPT_PROGRESS, OPT_DUMP_ID };

static const struct option stage_common_options[] = {
	{ "images-dir", required_argument, NULL, 'D' },
	{ "verbosity", required_argument, NULL, 'v' },
	{ "log-file", required_argument, NULL, 'o' },
	{ "log-fd", required_argument, NULL, OPT_LOG_FD },
	{ "run-dir", required_argument, NULL, OPT_RUN_DIR },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "dump-id", required_argument, NULL, OPT_DUMP_ID },
	{ "help", no_argument, NULL, 'h' },
};

int stage_fd(const struct stage_ctx *ctx, const char *name)
{
	for (int i = 0; i < ctx->nr_fds; i++)
		if (!strcmp(ctx->fds[i].name, name))
			return ctx->fds[i].fd;
	return -1;
}

int stage_parse_int(const char *opt, const char *arg, int min, int max, int *out, struct err *e)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max)
		return err_set(e, EXIT_USAGE, "%s: '%s' is not a number from %d to %d", opt, arg, min, max);
	*out = v;
	return 0;
}

/* A dump id: 1 to 16 hex digits, not 0. */
static int stage_parse_dump_id(const char *arg, uint64_t *out, struct err *e)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 16);
	if (errno || end == arg || *end || !v || strlen(arg) > 16 || arg[0] == '-' || arg[0] == '+')
		return err_set(e, EXIT_USAGE, "--dump-id: '%s' is not a dump id (1 to 16 hex digits, not 0)", arg);
	*out = v;
	return 0;
}

static void stage_help(const struct stage_desc *d)
{
	printf("usage: amber-%s [common options]%s\n\n%s\n\n", d->name, d->usage ? " [options]" : "", d->summary);
	if (d->usage)
		printf("options:\n%s\n", d->usage);
	printf("common options:\n"
	       "  -D, --images-dir DIR   images directory\n"
	       "  -v, --verbosity N      0 errors, 1 warnings, 2 info (default), 3 debug, 4 trace\n"
	       "  -o, --log-file FILE    append the log to FILE\n"
	       "      --log-fd N         log to inherited fd N\n"
	       "      --run-dir DIR      the driver's run directory\n"
	       "      --fd NAME=N        inherited live object NAME is fd N\n"
	       "      --progress         print progress lines\n"
	       "      --dump-id HEX      the dump whose images this stage writes or reads (a dump's\n"
	       "                         stages; at restore it comes from inventory.img)\n");
	for (int i = 0; i < STAGE_MAX_FDS && d->fds[i]; i++)
		printf("required fd: --fd %s=N\n", d->fds[i]);
	for (int i = 0; i < STAGE_MAX_FDS && d->optional_fds[i]; i++)
		printf("optional fd: --fd %s=N\n", d->optional_fds[i]);
	printf("\nexit status: 0 ok, 2 usage, 3 bad input, 4 system failure (a rerun may work), 5 protocol error\n");
}

/* Keeps only capabilities keep[0..n), in every set including the bounding
 * set, so a stage cannot do more than it declares even if compromised. */
static int stage_keep_caps(const cap_value_t *keep_caps, int n, struct err *e)
{
	cap_t caps;
	int ret = 0;

	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
		bool keep = false;

		for (int i = 0; i < n; i++)
			keep |= keep_caps[i] == c;
		if (!keep && CAP_IS_SUPPORTED(c) && prctl(PR_CAPBSET_READ, c) == 1 &&
		    prctl(PR_CAPBSET_DROP, c) < 0 && errno != EINVAL)
			return err_errno(e, "drop capability %d from the bounding set", c);
	}
	/* Only what it has: a declared capability this process was never
	 * given (CAP_SYS_RESOURCE in a container, say) cannot be kept. */
	cap_value_t have[CAP_LAST_CAP + 1];
	int nr = 0;
	cap_t now = cap_get_proc();

	if (!now)
		return err_errno(e, "cap_get_proc");
	for (int i = 0; i < n; i++) {
		cap_flag_value_t v = CAP_CLEAR;

		if (cap_get_flag(now, keep_caps[i], CAP_PERMITTED, &v) == 0 && v == CAP_SET && nr <= CAP_LAST_CAP)
			have[nr++] = keep_caps[i];
	}
	cap_free(now);
	caps = cap_init();
	if (!caps)
		return err_errno(e, "cap_init");
	if (nr && (cap_set_flag(caps, CAP_EFFECTIVE, nr, have, CAP_SET) ||
		   cap_set_flag(caps, CAP_PERMITTED, nr, have, CAP_SET)))
		ret = err_errno(e, "cap_set_flag");
	if (!ret && cap_set_proc(caps))
		ret = err_errno(e, "drop capabilities to the stage's declared set");
	cap_free(caps);
	return ret;
}

/* The declared capabilities, at the start (not for a stage that keeps all
 * of them for its children, or one not run as root). */
static int stage_drop_caps(const struct stage_desc *d, struct err *e)
{
	if (d->keep_all_caps || geteuid() != 0)
		return 0;
	return stage_keep_caps(d->caps, d->nr_caps, e);
}

static int stage_setup(const struct stage_desc *d, void *opts, struct stage_ctx *ctx,
		       int argc, char **argv, struct err *e)
{
	struct option longopts[64];
	char shortopts[64];
	int n = 0, logfd = 2, opt, ret;
	const char *logfile = NULL;

	for (size_t i = 0; i < sizeof(stage_common_options) / sizeof(stage_common_options[0]); i++)
		longopts[n++] = stage_common_options[i];
	for (const struct option *o = d->options; o && o->name && n < 62; o++)
		longopts[n++] = *o;
	memset(&longopts[n], 0, sizeof(longopts[n]));
	snprintf(shortopts, sizeof(shortopts), "D:v:o:h%s", d->shortopts ? d->shortopts : "");

	ctx->desc = d;
	ctx->dir_fd = -1;
	ctx->verbosity = LOG_INFO;
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (opt) {
		case 'D': ctx->images_dir = optarg; break;
		case 'v':
			if ((ret = stage_parse_int("-v", optarg, 0, 4, &ctx->verbosity, e)) < 0)
				return ret;
			break;
		case 'o': logfile = optarg; break;
		case OPT_LOG_FD:
			if ((ret = stage_parse_int("--log-fd", optarg, 0, 1 << 20, &logfd, e)) < 0)
				return ret;
			break;
		case OPT_RUN_DIR: ctx->run_dir = optarg; break;
		case OPT_PROGRESS: ctx->progress = true; break;
		case OPT_DUMP_ID:
			if ((ret = stage_parse_dump_id(optarg, &ctx->dump_id, e)) < 0)
				return ret;
			break;
		case OPT_FD: {
			const char *eq = strchr(optarg, '=');
			int fd;

			if (!eq || eq == optarg || (size_t)(eq - optarg) >= sizeof(ctx->fds[0].name) || ctx->nr_fds >= STAGE_MAX_FDS)
				return err_set(e, EXIT_USAGE, "--fd '%s': want NAME=N", optarg);
			if ((ret = stage_parse_int("--fd", eq + 1, 0, 1 << 20, &fd, e)) < 0)
				return ret;
			memcpy(ctx->fds[ctx->nr_fds].name, optarg, eq - optarg);
			ctx->fds[ctx->nr_fds].name[eq - optarg] = 0;
			ctx->fds[ctx->nr_fds++].fd = fd;
			break;
		}
		case 'h':
			stage_help(d);
			exit(EXIT_OK);
		case '?':
			return err_set(e, EXIT_USAGE, "bad option; see amber-%s --help", d->name);
		default:
			if (!d->parse_option)
				return err_set(e, EXIT_USAGE, "bad option; see amber-%s --help", d->name);
			if ((ret = d->parse_option(opts, opt, optarg, e)) < 0)
				return ret;
		}
	}
	ctx->argc = argc - optind;
	ctx->argv = argv + optind;
	/* The images layer writes it into every header and checks it on read. */
	if (ctx->dump_id)
		image_set_dump_id(ctx->dump_id);

	if (logfile) {
		logfd = open(logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (logfd < 0)
			return err_set(e, EXIT_USAGE, "-o '%s': cannot open the log file: %s", logfile, strerror(errno));
	}
	log_init(d->name, ctx->verbosity, logfd);
	log_set_progress(ctx->progress);

	for (int i = 0; i < STAGE_MAX_FDS && d->fds[i]; i++) {
		int fd = stage_fd(ctx, d->fds[i]);

		if (fd < 0)
			return err_set(e, EXIT_USAGE, "stage '%s' needs an inherited fd '%s': pass --fd %s=N (the driver does this)",
				       d->name, d->fds[i], d->fds[i]);
	}
	for (int i = 0; i < ctx->nr_fds; i++)
		if (fcntl(ctx->fds[i].fd, F_GETFD) < 0)
			return err_set(e, EXIT_USAGE, "--fd %s=%d: fd %d is not open in this process",
				       ctx->fds[i].name, ctx->fds[i].fd, ctx->fds[i].fd);

	if (!d->no_images_dir) {
		if (!ctx->images_dir)
			return err_set(e, EXIT_USAGE, "no images directory: pass -D DIR");
		ctx->dir_fd = open(ctx->images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (ctx->dir_fd < 0)
			return err_set(e, errno == ENOENT ? EXIT_INPUT : EXIT_SYSTEM,
				       "images directory '%s': %s", ctx->images_dir, strerror(errno));
	}
	if ((ret = stage_drop_caps(d, e)) < 0)
		return ret;
	return d->syscalls && !d->confine_late ? stage_confine(ctx, e) : 0;
}

int stage_confine(const struct stage_ctx *ctx, struct err *e)
{
	const struct stage_desc *d = ctx->desc;
	size_t nr = 0, nr_ioctls = 0;

	int ret;

	/* The children that needed every capability exist: keep the few the
	 * stage's own work still needs. */
	if (d->keep_all_caps && d->nr_late_caps && geteuid() == 0) {
		uint64_t bnd = 0;

		if ((ret = stage_keep_caps(d->late_caps, d->nr_late_caps, e)) < 0)
			return ret;
		for (cap_value_t c = 0; c <= CAP_LAST_CAP && c < 64; c++)
			if (prctl(PR_CAPBSET_READ, c) == 1)
				bnd |= 1ULL << c;
		pr_info("its children exist: capabilities dropped to bounding set %#llx", (unsigned long long)bnd);
	}
	if (!d->syscalls)
		return 0;
	while (d->syscalls[nr] >= 0)
		nr++;
	while (d->ioctls && d->ioctls[nr_ioctls])
		nr_ioctls++;
	return confine_install(d->name, d->syscalls, nr, d->ioctls, nr_ioctls, e);
}

int stage_main(const struct stage_desc *d, void *opts, int argc, char **argv)
{
	struct stage_ctx ctx;
	struct err e;
	int ret;

	memset(&ctx, 0, sizeof(ctx));
	memset(&e, 0, sizeof(e));
	log_init(d->name, LOG_INFO, 2);
	/* The images and anything a stage writes beside them are private. */
	umask(077);
	ret = stage_setup(d, opts, &ctx, argc, argv, &e);
	if (ret >= 0)
		ret = d->run(&ctx, opts, &e);
	if (ret >= 0)
		return EXIT_OK;
	if (!e.msg[0])
		snprintf(e.msg, sizeof(e.msg), "failed without a message (bug)");
	if (!e.exit_code)
		e.exit_code = EXIT_FAILURE_;
	if (d->reads_images && e.exit_code == EXIT_SYSTEM &&
	    (e.errnum == EINVAL || e.errnum == ERANGE || e.errnum == EOVERFLOW || e.errnum == E2BIG)) {
		e.exit_code = EXIT_INPUT;
		snprintf(e.msg + strlen(e.msg), sizeof(e.msg) - strlen(e.msg),
			 " (a value from the images the kernel refuses)");
	}
	pr_err("%s", e.msg);
	return e.exit_code;
}
